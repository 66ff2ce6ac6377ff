/* test_fold_bn.c — cn_graph_fold_batchnorm: eval outputs of the folded graph equal the original's within
 * 1e-5 relative (conv + BN + ReLU stacks in 1D/2D/3D, grouped, strided, dilated, reflect-padded, without
 * bias; linear + BN1d; random running statistics and affine parameters), the BN nodes are gone from the
 * summary, what must not fold does not, and the node map points the right way. */
#include "cn_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Random gamma, beta, running mean and variance for every BN (so folding has something to do), and random
 * conv / linear biases. */
static void randomize_bn(cn_graph *g, uint64_t seed) {
    cn_rng r;
    cn_rng_seed(&r, seed, 3);
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param p = cn_param_get(g, i);
        const char *dot = strrchr(p.name, '.');
        int64_t n = cn_tensor_numel(p.value);
        if (!dot || strncmp(p.name, "bn", 2) != 0) continue;
        if (!strcmp(dot, ".weight")) cn_rng_fill_uniform(&r, p.value->data, n, 0.5, 2.0);
        else if (!strcmp(dot, ".bias")) cn_rng_fill_uniform(&r, p.value->data, n, -1, 1);
        else if (!strcmp(dot, ".running_mean")) cn_rng_fill_uniform(&r, p.value->data, n, -0.5, 0.5);
        else if (!strcmp(dot, ".running_var")) cn_rng_fill_uniform(&r, p.value->data, n, 0.2, 3.0);
    }
}

static int count_op(const cn_graph *g, const char *op) {
    int count = cn_graph_analyze(g, NULL, 0, NULL), found = 0;
    cn_layer_stats *layers = calloc((size_t)count, sizeof *layers);
    cn_graph_analyze(g, layers, count, NULL);
    for (int i = 0; i < count; i++) found += strcmp(layers[i].op, op) == 0;
    free(layers);
    return found;
}

/* Fold g, run both in eval mode on the same random input, compare output `out`. */
static void check_fold(cn_graph *g, int x, int out, int expect_folded, const char *what) {
    randomize_bn(g, 7);
    int count = cn_graph_node_count(g), folded = -1;
    int *map = malloc(sizeof(int) * (size_t)count);
    cn_graph *f = cn_graph_fold_batchnorm(g, map, &folded);
    CHECK(f != NULL, "%s: fold failed: %s", what, cn_last_error());
    if (!f) {
        free(map);
        return;
    }
    CHECK(folded == expect_folded, "%s: folded %d BN, expected %d", what, folded, expect_folded);
    CHECK(cn_graph_node_count(f) == count - folded, "%s: %d nodes after folding %d of %d", what, cn_graph_node_count(f),
          folded, count);
    CHECK(count_op(f, "BatchNormalization") == count_op(g, "BatchNormalization") - folded, "%s: BN left in the summary",
          what);
    cn_shape xs = cn_node_shape(g, x);
    int64_t n = cn_shape_numel(&xs);
    cn_real *data = malloc(sizeof(cn_real) * (size_t)n);
    cn_rng r;
    cn_rng_seed(&r, 11, 1);
    cn_rng_fill_normal(&r, data, n, 0, 1);
    CHECK_OK(cn_set_input(g, x, data, n));
    CHECK_OK(cn_set_input(f, map[x], data, n));
    CHECK_OK(cn_graph_mark_output(g, out));
    CHECK_OK(cn_graph_mark_output(f, map[out]));
    CHECK_OK(cn_forward(g, CN_EVAL));
    CHECK_OK(cn_forward(f, CN_EVAL));
    cn_shape os = cn_node_shape(g, out), fs = cn_node_shape(f, map[out]);
    CHECK(cn_shape_equal(&os, &fs), "%s: output shapes differ", what);
    const cn_real *a = cn_node_output(g, out), *b = cn_node_output(f, map[out]);
    double max_ref = 0, max_diff = 0;
    for (int64_t i = 0; a && b && i < cn_shape_numel(&os); i++) {
        max_ref = fmax(max_ref, fabs((double)a[i]));
        max_diff = fmax(max_diff, fabs((double)a[i] - (double)b[i]));
    }
    CHECK(a && b && max_ref > 0 && max_diff <= 1e-5 * max_ref, "%s: folded output differs by %g (largest %g)", what,
          max_diff, max_ref);
    free(data);
    free(map);
    cn_graph_free(f);
}

static void test_conv2d_stack(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(3, 3, 11, 13));
    int h = cn_conv2d(g, "conv1", x, 6, 3, 1, 1);
    h = cn_batchnorm(g, "bn1", h, 1e-5f, 0.1f);
    h = cn_relu(g, "relu1", h);
    cn_conv_attr a = cn_conv_attr_make(9, 3, 2, 1);  /* grouped, strided, no bias */
    a.groups = 3, a.bias = 0;
    h = cn_conv(g, "conv2", h, &a);
    h = cn_batchnorm(g, "bn2", h, 1e-3f, 0.1f);
    h = cn_relu(g, "relu2", h);
    a = cn_conv_attr_make(9, 3, 1, 2);  /* depthwise, dilated, asymmetric reflect padding */
    a.groups = 9, a.dilation[0] = a.dilation[1] = 2, a.pad_end[1] = 1, a.pad_mode = CN_PAD_REFLECT;
    h = cn_conv(g, "conv3", h, &a);
    h = cn_batchnorm(g, "bn3", h, 1e-5f, 0.1f);
    h = cn_activation(g, "act3", h, CN_ACT_LEAKY_RELU, 0.1f);
    check_fold(g, x, h, 3, "2-D stack");

    /* the merged layers keep their names and get a bias; BN parameters are gone */
    cn_graph *f = cn_graph_fold_batchnorm(g, NULL, NULL);
    CHECK(f && cn_param_find(f, "conv2.bias") >= 0 && cn_param_find(f, "conv2.weight") >= 0 &&
              cn_param_find(f, "bn2.running_mean") < 0 && cn_graph_find(f, "bn1") < 0 && cn_graph_find(f, "relu3") < 0 &&
              cn_graph_find(f, "act3") >= 0,
          "names after folding");
    CHECK(f && cn_graph_num_trainable(f) == cn_graph_num_trainable(g) - 2 * (6 + 9 + 9) + 9, /* conv2 gains a bias */
          "trainable count: %lld", f ? (long long)cn_graph_num_trainable(f) : -1LL);
    cn_graph_free(f);
    cn_graph_free(g);
}

static void test_conv1d_3d(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(3, (int64_t[]){2, 4, 17}));
    cn_conv_attr a = cn_conv_attr_make(5, 3, 1, 1);
    int h = cn_conv(g, "conv1", x, &a);
    h = cn_batchnorm(g, "bn1", h, 1e-5f, 0.1f);
    h = cn_relu(g, "relu1", h);
    a = cn_conv_attr_make(7, 5, 2, 0);
    a.bias = 0, a.pad_mode = CN_PAD_CIRCULAR, a.pad_begin[0] = 2, a.pad_end[0] = 1;
    h = cn_conv(g, "conv2", h, &a);
    h = cn_batchnorm(g, "bn2", h, 1e-5f, 0.1f);
    check_fold(g, x, h, 2, "1-D stack");
    cn_graph_free(g);

    g = cn_graph_create();
    x = cn_input(g, "x", cn_shape_make(5, (int64_t[]){2, 2, 5, 6, 7}));
    a = cn_conv_attr_make(4, 3, 1, 1);
    a.kernel[0] = 1, a.pad_begin[0] = a.pad_end[0] = 0, a.pad_mode = CN_PAD_REPLICATE;
    h = cn_conv(g, "conv1", x, &a);
    h = cn_batchnorm(g, "bn1", h, 1e-5f, 0.1f);
    h = cn_relu(g, "relu1", h);
    a = cn_conv_attr_make(4, 2, 2, 0);
    a.groups = 2, a.bias = 0;
    h = cn_conv(g, "conv2", h, &a);
    h = cn_batchnorm(g, "bn2", h, 1e-5f, 0.1f);
    check_fold(g, x, h, 2, "3-D stack");
    cn_graph_free(g);
}

static void test_linear_bn1d(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(4, 2, 3, 3));
    int h = cn_flatten(g, "flat", x);
    h = cn_linear(g, "fc1", h, 8, 1);
    h = cn_batchnorm(g, "bn1", h, 1e-5f, 0.1f);
    h = cn_relu(g, "relu1", h);
    h = cn_linear(g, "fc2", h, 5, 0);
    h = cn_batchnorm(g, "bn2", h, 1e-5f, 0.1f);
    check_fold(g, x, h, 2, "linear + BN1d");
    cn_graph_free(g);
}

/* A BN after a ReLU, a BN on a conv output that something else reads too, and a BN on a marked output
 * stay; a residual block folds around the add. */
static void test_not_folded(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 4, 7, 7));
    int c1 = cn_conv2d(g, "conv1", x, 4, 3, 1, 1);
    int b1 = cn_batchnorm(g, "bn1", c1, 1e-5f, 0.1f);
    int r1 = cn_relu(g, "relu1", b1);
    int b_after_relu = cn_batchnorm(g, "bn_relu", r1, 1e-5f, 0.1f);
    int c2 = cn_conv2d(g, "conv2", b_after_relu, 4, 3, 1, 1);
    int b2 = cn_batchnorm(g, "bn2", c2, 1e-5f, 0.1f);
    int shared = cn_add(g, "shared", c2, b2);   /* conv2's output is read twice: bn2 stays */
    int c3 = cn_conv2d(g, "conv3", shared, 4, 1, 1, 0);
    CHECK_OK(cn_graph_mark_output(g, c3));     /* conv3 is a marked output: bn3 stays */
    int b3 = cn_batchnorm(g, "bn3", c3, 1e-5f, 0.1f);
    int c4 = cn_conv2d(g, "conv4", b3, 4, 3, 1, 1);
    int b4 = cn_batchnorm(g, "bn4", c4, 1e-5f, 0.1f);
    int out = cn_add(g, "residual", b4, r1);
    check_fold(g, x, out, 2, "mixed");
    int map[32];
    cn_graph *f = cn_graph_fold_batchnorm(g, map, NULL);
    CHECK(f && map[b1] == map[c1] && map[b4] == map[c4] && cn_graph_find(f, "bn2") >= 0 && cn_graph_find(f, "bn3") >= 0 &&
              cn_graph_find(f, "bn_relu") >= 0 && cn_graph_find(f, "bn1") < 0,
          "which BN stayed");
    CHECK(f && !strcmp(cn_node_name(f, map[out]), "residual") && !strcmp(cn_node_name(f, map[b1]), "conv1"),
          "node map");
    cn_graph_free(f);
    CHECK(cn_graph_fold_batchnorm(NULL, NULL, NULL) == NULL && strstr(cn_last_error(), "NULL"), "NULL graph");
    cn_graph_free(g);
}

/* LeNet-5 has no BN: folding is an exact copy. */
static void test_nothing_to_fold(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 1, 28, 28));
    int out = cn_model_build(g, "lenet5", x, 10);
    check_fold(g, x, out, 0, "lenet5");
    cn_graph *f = cn_graph_fold_batchnorm(g, NULL, NULL);
    CHECK(f && cn_graph_num_trainable(f) == 1256080 && cn_param_count(f) == cn_param_count(g), "lenet5 copy");
    for (int i = 0; f && i < cn_param_count(g); i++) {
        cn_param a = cn_param_get(g, i), b = cn_param_get(f, i);
        CHECK(!strcmp(a.name, b.name) &&
                  !memcmp(a.value->data, b.value->data, sizeof(cn_real) * (size_t)cn_tensor_numel(a.value)),
              "parameter %s copied exactly", a.name);
    }
    cn_graph_free(f);
    cn_graph_free(g);
}

static cn_graph *small_bn_net(uint64_t seed, int *x, int *out) {
    cn_graph *g = cn_graph_create();
    cn_graph_set_seed(g, seed);
    *x = cn_input(g, "x", cn_shape4(2, 3, 8, 8));
    int h = cn_conv2d(g, "conv1", *x, 4, 3, 1, 1);
    h = cn_batchnorm(g, "bn1", h, 1e-5f, 0.1f);
    h = cn_relu(g, "relu1", h);
    h = cn_flatten(g, "flat", h);
    *out = cn_linear(g, "fc", h, 3, 1);
    return g;
}

/* A folded model saved as a checkpoint says so in its metadata, and loads into the fold of the same
 * architecture (how cn_model_load rebuilds it) with the same outputs. */
static void test_checkpoint_round_trip(void) {
    int x, out, x2, out2;
    cn_graph *g = small_bn_net(1, &x, &out);
    randomize_bn(g, 5);
    int map[16], map2[16];
    cn_graph *f = cn_graph_fold_batchnorm(g, map, NULL);
    char *names[3] = {"a", "b", "c"};
    cn_train_state state = {.model = "custom", .class_names = names, .n_classes = 3, .batchnorm_folded = 1};
    cn_rng_seed(&state.rng, 1, 0);
    const char *path = "test_fold_bn_round_trip.safetensors";
    CHECK_OK(cn_checkpoint_save(path, f, NULL, &state));
    cn_graph *other = small_bn_net(99, &x2, &out2);
    cn_graph *f2 = cn_graph_fold_batchnorm(other, map2, NULL);
    cn_train_state loaded = {0};
    CHECK_OK(cn_checkpoint_load(path, f2, NULL, &loaded));
    CHECK(loaded.batchnorm_folded == 1, "batchnorm_folded read back");
    cn_real data[2 * 3 * 8 * 8];
    cn_rng r;
    cn_rng_seed(&r, 2, 2);
    cn_rng_fill_normal(&r, data, 2 * 3 * 8 * 8, 0, 1);
    CHECK_OK(cn_set_input(f, map[x], data, 2 * 3 * 8 * 8));
    CHECK_OK(cn_set_input(f2, map2[x2], data, 2 * 3 * 8 * 8));
    CHECK_OK(cn_forward(f, CN_EVAL));
    CHECK_OK(cn_forward(f2, CN_EVAL));
    CHECK(!memcmp(cn_node_output(f, map[out]), cn_node_output(f2, map2[out2]), sizeof(cn_real) * 6), "same outputs");
    /* the unfolded model cannot take the folded weights: the checkpoint says what is missing */
    CHECK_ERROR(cn_checkpoint_load(path, other, NULL, NULL), "bn1");
    cn_train_state_free(&loaded);
    remove(path);
    cn_graph_free(f2);
    cn_graph_free(other);
    cn_graph_free(f);
    cn_graph_free(g);
}

int main(void) {
    test_checkpoint_round_trip();
    test_conv2d_stack();
    test_conv1d_3d();
    test_linear_bn1d();
    test_not_folded();
    test_nothing_to_fold();
    return cn_test_finish();
}
