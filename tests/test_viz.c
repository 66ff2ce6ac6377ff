/* test_viz.c — pictures of a network: the filter grid (layout, borders, nearest-neighbour enlargement,
 * per-filter scaling, colour for 3 input channels, rows for other counts), activation tiles, and the
 * errors. Run as `test_viz --write-checkpoint PATH` it writes a seeded LeNet-5 checkpoint for the CLI test
 * (tests/cli/viz.sh). */
#include "cn_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static float px(const cn_image *im, int c, int y, int x) {
    return im->data[((size_t)c * im->height + y) * im->width + x];
}

static cn_real *weight(cn_graph *g, const char *name) {
    return cn_param_get(g, cn_param_find(g, name)).value->data;
}

static void test_filters_colour(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(1, 3, 6, 6));
    int c = cn_conv2d(g, "conv1", x, 4, 3, 1, 1);
    int r = cn_relu(g, "relu1", c);
    cn_real *w = weight(g, "conv1.weight");
    for (int i = 0; i < 27; i++) w[i] = (cn_real)(i - 5);                  /* filter 0: a ramp */
    for (int i = 0; i < 27; i++) w[27 + i] = (cn_real)(i % 2 ? 2 : -1);    /* filter 1: two values */
    for (int i = 0; i < 27; i++) w[81 + i] = (cn_real)0.3;                 /* filter 3: constant */
    cn_image im;
    CHECK_OK(cn_viz_filters(g, -1, 2, &im));   /* -1: the first Conv */
    /* 4 tiles: 2 x 2 grid of (3*2) pixels each, 1-pixel borders: 2*7+1 */
    CHECK(im.channels == 3 && im.height == 15 && im.width == 15, "size %dx%dx%d", im.channels, im.height, im.width);
    int border_ok = 1;
    for (int ch = 0; ch < 3; ch++)
        for (int i = 0; i < 15; i++)
            border_ok &= px(&im, ch, 0, i) == 1 && px(&im, ch, 7, i) == 1 && px(&im, ch, 14, i) == 1 &&
                         px(&im, ch, i, 0) == 1 && px(&im, ch, i, 7) == 1 && px(&im, ch, i, 14) == 1;
    CHECK(border_ok, "white borders around every tile");
    int ramp_ok = 1;
    for (int ch = 0; ch < 3; ch++)
        for (int u = 0; u < 3; u++)
            for (int v = 0; v < 3; v++)
                for (int d = 0; d < 4; d++) /* each weight is a 2x2 block */
                    ramp_ok &= fabsf(px(&im, ch, 1 + 2 * u + d / 2, 1 + 2 * v + d % 2) - (ch * 9 + u * 3 + v) / 26.0f) <
                               1e-6;
    CHECK(ramp_ok, "filter 0: weight (c,u,v) -> channel c, block (u,v), scaled to its own range");
    CHECK(px(&im, 0, 1, 8) == 0 && px(&im, 0, 1, 10) == 1, "filter 1 (top right) stretched to 0 and 1");
    CHECK(px(&im, 2, 9, 9) == 0, "a constant filter is black");
    const char *path = "/tmp/cn_test_viz_colour.png";
    CHECK_OK(cn_image_save_png(&im, path));
    unlink(path);
    cn_image_free(&im);
    CHECK_OK(cn_viz_filters(g, c, 0, &im));    /* automatic scale: 3x3 -> 16 each, tiles of 48 */
    CHECK(im.height == 2 * 49 + 1 && im.width == 99, "auto scale %dx%d", im.height, im.width);
    cn_image_free(&im);

    CHECK_ERROR(cn_viz_filters(g, r, 1, &im), "relu1 is a Relu layer, not a convolution");
    CHECK_ERROR(cn_viz_filters(g, 99, 1, &im), "no node 99");
    CHECK_ERROR(cn_viz_filters(g, c, 5000, &im), "scale 5000");
    CHECK(im.data == NULL, "no picture after an error");
    cn_graph_free(g);
}

static void test_filters_grey_and_rows(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(1, 1, 12, 12));
    int c1 = cn_conv2d(g, "c1", x, 6, 5, 1, 0);
    int c2 = cn_conv2d(g, "c2", c1, 3, 3, 1, 0);
    cn_image im;
    CHECK_OK(cn_viz_filters(g, -1, 0, &im));   /* 6 grey 5x5 filters: 3 columns, 2 rows, 10x -> 50 px */
    CHECK(im.channels == 1 && im.width == 3 * 51 + 1 && im.height == 2 * 51 + 1, "grey grid %dx%dx%d", im.channels,
          im.height, im.width);
    cn_image_free(&im);
    CHECK_OK(cn_viz_filters(g, c2, 1, &im));   /* 3 filters of 6 channels: a row of 6 tiles each */
    CHECK(im.channels == 1 && im.width == 6 * 4 + 1 && im.height == 3 * 4 + 1, "rows %dx%d", im.height, im.width);
    /* each filter (row) scaled as a whole: its min is 0 and its max is 1 somewhere in the row */
    for (int o = 0; o < 3; o++) {
        float lo = 1, hi = 0;
        for (int t = 0; t < 6; t++)
            for (int u = 0; u < 3; u++)
                for (int v = 0; v < 3; v++) {
                    float p = px(&im, 0, 1 + o * 4 + u, 1 + t * 4 + v);
                    lo = fminf(lo, p), hi = fmaxf(hi, p);
                }
        CHECK(lo == 0 && hi == 1, "filter %d spans 0..1 (%g..%g)", o, lo, hi);
    }
    cn_image_free(&im);
    cn_graph_free(g);

    g = cn_graph_create();
    x = cn_input(g, "x", cn_shape_make(5, (int64_t[]){1, 1, 4, 4, 4}));
    cn_conv_attr a = cn_conv_attr_make(2, 3, 1, 0);
    cn_conv(g, "c3d", x, &a);
    CHECK_ERROR(cn_viz_filters(g, -1, 1, &im), "c3d is a 3D convolution");
    cn_graph_free(g);
    g = cn_graph_create();
    x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){1, 8}));
    cn_linear(g, "fc", x, 3, 1);
    CHECK_ERROR(cn_viz_filters(g, -1, 1, &im), "no convolution layer");
    cn_graph_free(g);
}

static void test_activations(void) {
    cn_graph *g = cn_graph_create();
    cn_graph_set_seed(g, 5);
    int x = cn_input(g, "x", cn_shape4(2, 1, 5, 7));
    int c = cn_conv2d(g, "conv1", x, 3, 3, 1, 1);
    int r = cn_relu(g, "relu1", c);
    int f = cn_flatten(g, "flat", r);
    int l = cn_linear(g, "fc", f, 4, 1);
    CHECK_OK(cn_graph_mark_output(g, r));
    CHECK_OK(cn_graph_mark_output(g, f));
    cn_test_fill_input(g, x, 9, -1, 1);
    CHECK_OK(cn_forward(g, CN_EVAL));
    cn_image im;
    CHECK_OK(cn_viz_activations(g, r, 1, 1, &im));
    CHECK(im.channels == 1 && im.height == 2 * 6 + 1 && im.width == 2 * 8 + 1, "size %dx%d", im.height, im.width);
    const cn_real *y = cn_node_output(g, r) + 3 * 35;   /* sample 1 */
    int ok = 1;
    for (int ch = 0; ch < 3; ch++) {
        double lo = 1e30, hi = -1e30;
        for (int i = 0; i < 35; i++) lo = fmin(lo, y[ch * 35 + i]), hi = fmax(hi, y[ch * 35 + i]);
        for (int i = 0; i < 35; i++) {
            float want = hi > lo ? (float)((y[ch * 35 + i] - lo) / (hi - lo)) : 0.0f;
            ok &= fabsf(px(&im, 0, 1 + (ch / 2) * 6 + i / 7, 1 + (ch % 2) * 8 + i % 7) - want) < 1e-6;
        }
    }
    CHECK(ok, "each channel tile is that channel of sample 1, scaled to its own range");
    CHECK(px(&im, 0, 7, 9) == 1, "the empty fourth grid cell stays white");
    cn_image_free(&im);
    CHECK_OK(cn_viz_activations(g, f, 0, 2, &im));   /* (N, 105): one 1 x 105 strip */
    CHECK(im.height == 2 + 1 + 1 && im.width == 210 + 2, "flat strip %dx%d", im.height, im.width);
    cn_image_free(&im);
    CHECK_ERROR(cn_viz_activations(g, r, 2, 1, &im), "sample 2 is not in the batch of 2");
    CHECK_ERROR(cn_viz_activations(g, c, 0, 1, &im), "the output of conv1 was not kept");
    CHECK_ERROR(cn_viz_activations(g, -1, 0, 1, &im), "no node -1");
    (void)l;
    cn_graph_free(g);
}

/* A seeded LeNet-5 checkpoint (1x28x28, ten classes) for the CLI test. */
static int write_checkpoint(const char *path) {
    cn_graph *g = cn_graph_create();
    cn_graph_set_seed(g, 42);
    int x = cn_input(g, "input", cn_shape4(1, 1, 28, 28));
    if (cn_model_build(g, "lenet5", x, 10) < 0) return fprintf(stderr, "%s\n", cn_last_error()), 1;
    char *names[10], buf[10][8];
    for (int i = 0; i < 10; i++) snprintf(buf[i], sizeof buf[i], "class%d", i), names[i] = buf[i];
    cn_train_state st = {.class_names = names, .n_classes = 10, .input_shape = {1, 28, 28}, .n_norm = 1,
                         .norm_mean = {0.5f}, .norm_std = {0.25f}};
    snprintf(st.model, sizeof st.model, "lenet5");
    cn_rng_seed(&st.rng, 1, 1);
    cn_status s = cn_checkpoint_save(path, g, NULL, &st);
    cn_graph_free(g);
    if (s) fprintf(stderr, "%s\n", cn_last_error());
    return s != CN_OK;
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--write-checkpoint") == 0) return write_checkpoint(argv[2]);
    test_filters_colour();
    test_filters_grey_and_rows();
    test_activations();
    return cn_test_finish();
}
