/* Numerical gradient checks (double precision) for add and concat, including fan-out: a node that feeds
 * both inputs of add, or several inputs of concat, a residual block y = fc2(fc1(x)) + x, and two convolutions
 * reading the same input. */
#include "cn_test.h"

static void check_add(cn_shape shape, uint64_t seed) {
    cn_graph *g = cn_graph_create();
    int a = cn_input(g, "a", shape), b = cn_input(g, "b", shape);
    int y = cn_add(g, "add", a, b);
    cn_test_fill_input(g, a, seed, -1, 1);
    cn_test_fill_input(g, b, seed + 1, -1, 1);
    cn_gradcheck(g, y, (int[]){a, b}, 2, 1e-6, 1e-6, 200);
    cn_graph_free(g);
}

/* concat of inputs with the given channel counts; rest are the dims after the channels */
static void check_concat(int count, const int64_t *channels, int rest_ndim, const int64_t *rest, uint64_t seed) {
    cn_graph *g = cn_graph_create();
    int xs[4];
    for (int k = 0; k < count; k++) {
        int64_t d[CN_MAX_DIMS] = {2, channels[k]};
        for (int i = 0; i < rest_ndim; i++) d[2 + i] = rest[i];
        xs[k] = cn_input(g, NULL, cn_shape_make(2 + rest_ndim, d));
        cn_test_fill_input(g, xs[k], seed + (uint64_t)k, -1, 1);
    }
    int y = cn_concat(g, "cat", xs, count);
    CHECK(y >= 0, "concat builds: %s", cn_last_error());
    cn_gradcheck(g, y, xs, count, 1e-6, 1e-6, 200);
    cn_graph_free(g);
}

/* Fan-out: x -> add(x, x) and concat(x, add, x): dL/dx collects four contributions. */
static void check_fan_out(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 3, 2, 3));
    int twice = cn_add(g, "twice", x, x);
    int y = cn_concat(g, "cat", (int[]){x, twice, x}, 3);
    cn_test_fill_input(g, x, 21, -1, 1);
    cn_gradcheck(g, y, &x, 1, 1e-6, 1e-6, 200);
    cn_graph_free(g);
}

/* A residual block with parameters: y = fc2(fc1(x)) + fc_skip(x), concat with fc1's output. */
static void check_residual(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){3, 5}));
    int h = cn_linear(g, "fc1", x, 4, 1);
    int r = cn_add(g, "res", cn_linear(g, "fc2", h, 5, 1), x);
    int y = cn_concat(g, "cat", (int[]){r, h}, 2);
    cn_test_fill_input(g, x, 22, -1, 1);
    cn_gradcheck(g, y, &x, 1, 1e-6, 1e-6, 200);
    cn_graph_free(g);
}

/* Convolutions sharing their input: the last reader's backward (the depthwise conv) sets dL/dx, which the
 * graph leaves unzeroed for it (sets_fresh_grads), then the other conv adds into it. */
static void check_conv_fan_out(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 3, 7, 7));
    cn_conv_attr dw = cn_conv_attr_make(3, 3, 1, 1);
    dw.groups = 3;
    int full = cn_conv2d(g, "full", x, 3, 3, 1, 1), depthwise = cn_conv(g, "depthwise", x, &dw);
    int y = cn_concat(g, "cat", (int[]){cn_add(g, "sum", full, depthwise), full}, 2);
    CHECK(y >= 0, "builds: %s", cn_last_error());
    cn_test_fill_input(g, x, 23, -1, 1);
    cn_gradcheck(g, y, &x, 1, 1e-6, 1e-6, 200);
    cn_graph_free(g);
}

int main(void) {
    check_add(cn_shape_make(2, (int64_t[]){3, 7}), 1);
    check_add(cn_shape4(2, 3, 5, 7), 2);
    check_add(cn_shape_make(5, (int64_t[]){1, 2, 3, 5, 3}), 3);
    check_concat(2, (int64_t[]){4, 7}, 0, NULL, 4);
    check_concat(3, (int64_t[]){1, 5, 2}, 2, (int64_t[]){3, 5}, 5);
    check_concat(2, (int64_t[]){2, 3}, 3, (int64_t[]){3, 2, 5}, 6);
    check_concat(4, (int64_t[]){1, 2, 3, 1}, 1, (int64_t[]){7}, 7);
    check_fan_out();
    check_residual();
    check_conv_fan_out();
    return cn_test_finish();
}
