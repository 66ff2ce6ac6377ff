/* Conv 1D/2D/3D against PyTorch, every shape rule, the lecture's shape examples, and the im2col kernels
 * against the direct reference on odd shapes. */
#include "cn_test.h"
#include "internal.h"
#include "conv_case.h"
#include <stdlib.h>
#include <string.h>

static cn_pad_mode pad_mode_from(const char *s) {
    if (strcmp(s, "reflect") == 0) return CN_PAD_REFLECT;
    if (strcmp(s, "replicate") == 0) return CN_PAD_REPLICATE;
    if (strcmp(s, "circular") == 0) return CN_PAD_CIRCULAR;
    return CN_PAD_ZEROS;
}

/* A per-axis list attribute; a single value is used on every axis. */
static void axis_attr(const golden_case *c, const char *key, int *out, int fallback) {
    int v[CN_MAX_SPATIAL] = {fallback, fallback, fallback};
    int count = golden_attr_ints(c, key, v, CN_MAX_SPATIAL);
    for (int i = 0; i < CN_MAX_SPATIAL; i++) out[i] = count == 1 ? v[0] : v[i];
}

static void golden_cases(void) {
    char names[64][128];
    int count = golden_list("conv", names, 64);
    CHECK(count >= 9, "expected at least 9 conv golden cases, found %d", count);
    for (int i = 0; i < count; i++) {
        golden_case c;
        if (golden_open(&c, "conv", names[i])) continue;
        cn_conv_attr a = cn_conv_attr_make(golden_attr_int(&c, "out_channels", 1), 1, 1, 0);
        axis_attr(&c, "kernel", a.kernel, 1);
        axis_attr(&c, "stride", a.stride, 1);
        axis_attr(&c, "dilation", a.dilation, 1);
        axis_attr(&c, "pad_begin", a.pad_begin, 0);
        axis_attr(&c, "pad_end", a.pad_end, 0);
        a.groups = golden_attr_int(&c, "groups", 1);
        a.bias = golden_attr_int(&c, "bias", 1);
        a.pad_mode = pad_mode_from(golden_attr_str(&c, "pad_mode", "zeros"));
        cn_graph *g = cn_graph_create();
        int x = golden_input(&c, g, 0);
        int y = cn_conv(g, "conv", x, &a);
        CHECK(y >= 0, "%s: %s", names[i], cn_last_error());
        if (y >= 0) {
            cn_shape want = golden_shape(&c, "out"), got = cn_node_shape(g, y);
            char b1[64], b2[64];
            CHECK(cn_shape_equal(&want, &got), "%s: output shape %s, PyTorch %s", names[i],
                  cn_shape_str(&got, b1, sizeof b1), cn_shape_str(&want, b2, sizeof b2));
            golden_check_node(&c, g, y, &x, 1);
        }
        cn_graph_free(g);
        golden_close(&c);
    }
}

static int64_t node_macs(const cn_graph *g, int id) {
    const cn_node *n = graph_node(g, id);
    return n->op->macs(g, n);
}

static int64_t param_numel(const cn_graph *g, const char *name) {
    int i = cn_param_find(g, name);
    return i < 0 ? -1 : cn_tensor_numel(cn_param_get(g, i).value);
}

static void check_shape(const cn_graph *g, int id, int ndim, const int64_t *dims, const char *what) {
    cn_shape s = cn_node_shape(g, id), want = cn_shape_make(ndim, dims);
    char b1[64], b2[64];
    CHECK(cn_shape_equal(&s, &want), "%s: shape %s, expected %s", what, cn_shape_str(&s, b1, sizeof b1),
          cn_shape_str(&want, b2, sizeof b2));
}

/* The lecture's examples: LeNet-5's first conv, the 3x32x32 / 10 5x5 filters example, AlexNet conv1. */
static void lecture_shapes(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(1, 1, 28, 28));
    int c1 = cn_conv2d(g, "conv1", x, 20, 5, 1, 2);
    check_shape(g, c1, 4, (int64_t[]){1, 20, 28, 28}, "LeNet conv1");
    cn_param w = cn_param_get(g, cn_param_find(g, "conv1.weight"));
    CHECK(w.value && w.value->shape.ndim == 4 && w.value->shape.dims[0] == 20 && w.value->shape.dims[1] == 1 &&
              w.value->shape.dims[2] == 5 && w.value->shape.dims[3] == 5, "LeNet conv1 weight is 20x1x5x5");
    CHECK(param_numel(g, "conv1.bias") == 20, "LeNet conv1 bias has 20 elements");
    CHECK(strcmp(cn_node_op(g, c1), "Conv") == 0, "op name Conv");
    /* default init: U(-1/sqrt(25), 1/sqrt(25)) */
    double lo = 1, hi = -1;
    for (int64_t i = 0; i < 500; i++) {
        lo = w.value->data[i] < lo ? w.value->data[i] : lo;
        hi = w.value->data[i] > hi ? w.value->data[i] : hi;
    }
    CHECK(lo >= -0.2 && hi <= 0.2 && lo < -0.15 && hi > 0.15, "weights fill U(-0.2, 0.2): [%g, %g]", lo, hi);
    cn_graph_free(g);

    g = cn_graph_create();
    x = cn_input(g, "x", cn_shape4(1, 3, 32, 32));
    int c = cn_conv2d(g, NULL, x, 10, 5, 1, 2);
    CHECK(c >= 0 && strcmp(cn_node_name(g, c), "conv1") == 0, "made-up name conv1");
    check_shape(g, c, 4, (int64_t[]){1, 10, 32, 32}, "3x32x32, 10 5x5 filters");
    CHECK(cn_graph_num_trainable(g) == 760, "760 parameters, got %lld", (long long)cn_graph_num_trainable(g));
    CHECK(node_macs(g, c) == 768000, "768,000 multiply-adds, got %lld", (long long)node_macs(g, c));
    cn_graph_free(g);

    g = cn_graph_create();
    x = cn_input(g, "x", cn_shape4(2, 3, 227, 227));
    c = cn_conv2d(g, "conv1", x, 96, 11, 4, 0);
    check_shape(g, c, 4, (int64_t[]){2, 96, 55, 55}, "AlexNet conv1");
    CHECK(cn_graph_num_trainable(g) == 96 * 3 * 121 + 96, "AlexNet conv1 has 34944 parameters");
    CHECK(node_macs(g, c) == 2LL * 96 * 55 * 55 * 363, "AlexNet conv1 macs %lld", (long long)node_macs(g, c));
    cn_graph_free(g);

    /* groups, 1D and 3D shapes and macs */
    g = cn_graph_create();
    x = cn_input(g, "x", cn_shape_make(3, (int64_t[]){4, 6, 17}));
    cn_conv_attr a = cn_conv_attr_make(12, 3, 2, 1);
    a.groups = 6;
    a.bias = 0;
    c = cn_conv(g, "dw", x, &a);
    check_shape(g, c, 3, (int64_t[]){4, 12, 9}, "depthwise 1D x2");
    CHECK(param_numel(g, "dw.weight") == 12 * 1 * 3 && cn_param_find(g, "dw.bias") < 0, "dw weight 12x1x3, no bias");
    CHECK(node_macs(g, c) == 4LL * 12 * 9 * 3, "depthwise macs");
    int x3 = cn_input(g, "x3", cn_shape_make(5, (int64_t[]){1, 2, 5, 6, 7}));
    a = cn_conv_attr_make(4, 3, 1, 0);
    a.kernel[2] = 1;
    a.dilation[0] = 2;
    a.pad_begin[1] = 2;
    a.pad_end[2] = 3;
    int c3 = cn_conv(g, "c3", x3, &a);
    check_shape(g, c3, 5, (int64_t[]){1, 4, 1, 6, 10}, "3D with dilation and asymmetric padding");
    CHECK(param_numel(g, "c3.weight") == 4 * 2 * 3 * 3 * 1, "3D weight 4x2x3x3x1");
    CHECK_OK(cn_graph_set_batch(g, 3));
    check_shape(g, c, 3, (int64_t[]){3, 12, 9}, "after set_batch(3)");
    check_shape(g, c3, 5, (int64_t[]){3, 4, 1, 6, 10}, "3D after set_batch(3)");
    cn_graph_free(g);
}

static void shape_errors(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 4, 6, 5));
    int flat = cn_input(g, "flat", cn_shape_make(2, (int64_t[]){2, 10}));
    int x1 = cn_input(g, "x1", cn_shape_make(3, (int64_t[]){2, 4, 4}));
    cn_conv_attr ok = cn_conv_attr_make(8, 3, 1, 1), a;
    CHECK_ERROR(cn_conv(g, "c", flat, &ok) < 0, "c: input 2x10 must be (N,C,W), (N,C,H,W) or (N,C,D,H,W)");
    CHECK_ERROR(cn_conv2d(g, "c", x1, 4, 3, 1, 0) < 0, "c: conv2d needs an (N,C,H,W) input, got 2x4x4");
    CHECK_ERROR(cn_conv(g, "c", x, NULL) < 0, "c: conv attributes are NULL");
    CHECK_ERROR(cn_conv2d(g, "c", x, 0, 3, 1, 0) < 0, "c: out_channels 0 must be >= 1");
    a = ok, a.groups = 0;
    CHECK_ERROR(cn_conv(g, "c", x, &a) < 0, "c: groups 0 must be >= 1");
    a = ok, a.pad_mode = (cn_pad_mode)7;
    CHECK_ERROR(cn_conv(g, "c", x, &a) < 0, "c: pad_mode 7 is not zeros, reflect, replicate or circular");
    a = ok, a.kernel[1] = 0;
    CHECK_ERROR(cn_conv(g, "c", x, &a) < 0, "c: kernel 0 on axis 1 must be >= 1");
    a = ok, a.stride[0] = 0;
    CHECK_ERROR(cn_conv(g, "c", x, &a) < 0, "c: stride 0 on axis 0 must be >= 1");
    a = ok, a.dilation[1] = -1;
    CHECK_ERROR(cn_conv(g, "c", x, &a) < 0, "c: dilation -1 on axis 1 must be >= 1");
    a = ok, a.pad_end[0] = -2;
    CHECK_ERROR(cn_conv(g, "c", x, &a) < 0, "c: padding 1+-2 on axis 0 must not be negative");
    a = ok, a.groups = 3, a.out_channels = 6;
    CHECK_ERROR(cn_conv(g, "c", x, &a) < 0, "c: input 2x4x6x5 has 4 channels, not divisible by groups 3");
    a = ok, a.groups = 2, a.out_channels = 5;
    CHECK_ERROR(cn_conv(g, "c", x, &a) < 0, "c: out_channels 5 is not divisible by groups 2");
    a = ok, a.pad_mode = CN_PAD_REFLECT, a.pad_begin[1] = 5;
    CHECK_ERROR(cn_conv(g, "c", x, &a) < 0,
                "c: reflect padding 5+1 on axis 1 must be smaller than the input size 5 (input 2x4x6x5)");
    a = ok, a.pad_mode = CN_PAD_CIRCULAR, a.pad_end[0] = 7;
    CHECK_ERROR(cn_conv(g, "c", x, &a) < 0,
                "c: circular padding 1+7 on axis 0 must not exceed the input size 6 (input 2x4x6x5)");
    CHECK_ERROR(cn_conv2d(g, "c", x, 8, 7, 1, 0) < 0,
                "c: input 2x4x6x5 is too small on axis 0: padded size 6 (6+0+0) < dilated kernel 7 (kernel 7, "
                "dilation 1, stride 1)");
    a = cn_conv_attr_make(8, 3, 1, 0), a.dilation[1] = 3;
    CHECK_ERROR(cn_conv(g, "c", x, &a) < 0, "c: input 2x4x6x5 is too small on axis 1: padded size 5 (5+0+0) < "
                                            "dilated kernel 7 (kernel 3, dilation 3, stride 1)");
    CHECK(cn_graph_node_count(g) == 3, "failed convs leave no node behind");
    CHECK(cn_param_count(g) == 0, "failed convs leave no parameter behind");
    /* what PyTorch allows is accepted: reflect pad = size-1, circular pad = size, replicate beyond the size,
     * zeros padding bigger than the kernel */
    a = ok, a.pad_mode = CN_PAD_REFLECT, a.pad_begin[0] = a.pad_end[0] = 5, a.pad_begin[1] = a.pad_end[1] = 4;
    CHECK(cn_conv(g, "reflect_max", x, &a) >= 0, "reflect padding size-1: %s", cn_last_error());
    a.pad_mode = CN_PAD_CIRCULAR, a.pad_begin[0] = a.pad_end[0] = 6, a.pad_begin[1] = a.pad_end[1] = 5;
    CHECK(cn_conv(g, "circular_max", x, &a) >= 0, "circular padding size: %s", cn_last_error());
    a.pad_mode = CN_PAD_REPLICATE, a.pad_begin[0] = 9, a.pad_end[1] = 11;
    CHECK(cn_conv(g, "replicate_big", x, &a) >= 0, "replicate padding beyond the size: %s", cn_last_error());
    a.pad_mode = CN_PAD_ZEROS, a.pad_begin[0] = 4, a.pad_end[1] = 4;
    CHECK(cn_conv(g, "zeros_big", x, &a) >= 0, "zeros padding bigger than the kernel: %s", cn_last_error());
    cn_graph_free(g);
}

/* Forward and backward allocate nothing once the plan is made; a conv stack trains end to end. */
static void no_allocation_in_steps(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 3, 13, 11));
    int c1 = cn_conv2d(g, "c1", x, 8, 3, 2, 1);
    cn_conv_attr a = cn_conv_attr_make(6, 3, 1, 1);
    a.pad_mode = CN_PAD_REFLECT;
    a.groups = 2;
    int c2 = cn_conv(g, "c2", c1, &a);
    cn_test_fill_input(g, x, 9, -1, 1);
    CHECK_OK(cn_forward(g, CN_TRAIN));
    CHECK_OK(cn_backward(g, c2, NULL));
    cn_test_count_allocations(1);
    for (int step = 0; step < 3; step++) {
        cn_zero_grad(g);
        CHECK_OK(cn_forward(g, CN_TRAIN));
        CHECK_OK(cn_backward(g, c2, NULL));
    }
    long count = cn_test_allocation_count();
    cn_test_count_allocations(0);
    CHECK(count == 0, "training steps allocated %ld times", count);
    cn_graph_free(g);
}

/* ---- im2col + GEMM against the direct reference */
/* threads > 1 takes the per-sample parallel path (when the batch is at least 2) */
static void compare_kernels(const conv_case *kc, int index, int threads) {
    cn_conv_geom p = conv_case_geom(kc);
    p.threads = threads;
    int64_t nx = p.batch * p.in_channels * p.in[0] * p.in[1] * p.in[2];
    int64_t ny = p.batch * p.out_channels * p.out[0] * p.out[1] * p.out[2];
    int64_t nw = p.out_channels * (p.in_channels / p.groups) * p.kernel[0] * p.kernel[1] * p.kernel[2];
    cn_real *x = conv_case_random(nx, 1 + index, 11), *w = conv_case_random(nw, 100 + index, 11);
    cn_real *b = kc->bias ? conv_case_random(p.out_channels, 200 + index, 11) : NULL;
    cn_real *dy = conv_case_random(ny, 300 + index, 11);
    size_t nwork = (cn_conv_work_bytes(&p) + 63) / 64 * 64;
    void *work = aligned_alloc(64, nwork ? nwork : 64);
    cn_real *y_ref = malloc((size_t)ny * sizeof(cn_real)), *y_fast = malloc((size_t)ny * sizeof(cn_real));
    cn_real *dx_ref = conv_case_random(nx, 400 + index, 11), *dx_fast = malloc((size_t)nx * sizeof(cn_real));
    cn_real *dw_ref = conv_case_random(nw, 500 + index, 11), *dw_fast = malloc((size_t)nw * sizeof(cn_real));
    cn_real *db_ref = conv_case_random(p.out_channels, 600 + index, 11);
    cn_real *db_fast = malloc((size_t)p.out_channels * sizeof(cn_real));
    memcpy(dx_fast, dx_ref, (size_t)nx * sizeof(cn_real)); /* start non-zero: both must ADD */
    memcpy(dw_fast, dw_ref, (size_t)nw * sizeof(cn_real));
    memcpy(db_fast, db_ref, (size_t)p.out_channels * sizeof(cn_real));
    cn_conv_forward_ref(&p, x, w, b, y_ref, NULL);
    cn_conv_forward_im2col(&p, x, w, b, y_fast, work);
    cn_conv_backward_data_ref(&p, dy, w, dx_ref, NULL);
    cn_conv_backward_data_im2col(&p, dy, w, dx_fast, work);
    cn_conv_backward_weights_ref(&p, x, dy, dw_ref, db_ref, NULL);
    cn_conv_backward_weights_im2col(&p, x, dy, dw_fast, db_fast, work);
    double ey = cn_rel_error(y_fast, y_ref, ny), ex = cn_rel_error(dx_fast, dx_ref, nx);
    double ew = cn_rel_error(dw_fast, dw_ref, nw), eb = cn_rel_error(db_fast, db_ref, p.out_channels);
    CHECK(ey <= 1e-5 && ex <= 1e-5 && ew <= 1e-5 && eb <= 1e-5,
          "im2col vs reference, case %d (%dD, mode %d, %d threads): y %.3g dx %.3g dw %.3g db %.3g", index, kc->nd,
          (int)kc->mode, threads, ey, ex, ew, eb);
    free(x), free(w), free(b), free(dy), free(work), free(y_ref), free(y_fast);
    free(dx_ref), free(dx_fast), free(dw_ref), free(dw_fast), free(db_ref), free(db_fast);
}

static void im2col_matches_reference(void) {
    static const conv_case cases[] = {
        /* nd  N  Ci Co g   in          k          s          d          pb         pe        mode  bias */
        {2, 1, 1, 1, 1, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
        {2, 1, 3, 5, 1, {7, 11, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
        {2, 3, 4, 6, 2, {13, 5, 0}, {1, 1, 0}, {2, 2, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 0},
        {2, 2, 6, 4, 2, {5, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
        {2, 1, 5, 10, 5, {11, 7, 0}, {3, 3, 0}, {1, 2, 0}, {2, 1, 0}, {2, 1, 0}, {3, 0, 0}, CN_PAD_ZEROS, 1},
        {2, 2, 3, 7, 1, {17, 13, 0}, {5, 2, 0}, {3, 5, 0}, {1, 1, 0}, {2, 0, 0}, {0, 1, 0}, CN_PAD_ZEROS, 1},
        {2, 1, 4, 4, 4, {3, 3, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {3, 3, 0}, {3, 3, 0}, CN_PAD_ZEROS, 1},
        {1, 2, 3, 2, 1, {23, 0, 0}, {4, 0, 0}, {2, 0, 0}, {3, 0, 0}, {0, 0, 0}, {5, 0, 0}, CN_PAD_ZEROS, 0},
        {3, 1, 2, 4, 2, {5, 3, 7}, {2, 3, 1}, {2, 1, 3}, {2, 1, 1}, {1, 1, 0}, {0, 2, 1}, CN_PAD_ZEROS, 1},
        {2, 2, 2, 3, 1, {5, 7, 0}, {3, 3, 0}, {1, 2, 0}, {1, 2, 0}, {4, 2, 0}, {3, 6, 0}, CN_PAD_REFLECT, 1},
        {2, 1, 3, 3, 3, {3, 2, 0}, {2, 3, 0}, {1, 1, 0}, {1, 1, 0}, {5, 0, 0}, {7, 4, 0}, CN_PAD_REPLICATE, 1},
        {3, 2, 2, 2, 1, {3, 4, 3}, {2, 2, 3}, {1, 2, 2}, {2, 1, 1}, {3, 0, 1}, {1, 4, 3}, CN_PAD_CIRCULAR, 1},
        {1, 3, 4, 8, 4, {7, 0, 0}, {3, 0, 0}, {1, 0, 0}, {2, 0, 0}, {6, 0, 0}, {5, 0, 0}, CN_PAD_REFLECT, 0},
        /* more columns than one tile holds: the tiled path */
        {2, 1, 64, 3, 1, {67, 71, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
        {2, 1, 30, 2, 1, {61, 59, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_REFLECT, 1},
    };
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++)
        for (int threads = 1; threads <= 3; threads += 2) compare_kernels(&cases[i], i, threads);
}

static void use_kernels(int reference) {
    cn_conv_forward = reference ? cn_conv_forward_ref : cn_conv_forward_im2col;
    cn_conv_backward_data = reference ? cn_conv_backward_data_ref : cn_conv_backward_data_im2col;
    cn_conv_backward_weights = reference ? cn_conv_backward_weights_ref : cn_conv_backward_weights_im2col;
}

int main(void) {
    CHECK(cn_conv_forward == cn_conv_forward_im2col, "im2col is the default dispatch");
    use_kernels(1); /* PyTorch against the direct reference, then against the default im2col path */
    golden_cases();
    use_kernels(0);
    golden_cases();
    lecture_shapes();
    shape_errors();
    no_allocation_in_steps();
    im2col_matches_reference();
    return cn_test_finish();
}
