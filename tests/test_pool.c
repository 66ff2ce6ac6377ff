/* Pooling (max, average, global, adaptive) against PyTorch, every shape rule broken once, and behaviour:
 * LeNet/AlexNet shapes, PyTorch's ceil-mode rule, ties to the first maximum, NaN, eval vs train, batch change,
 * no allocation in a steady-state step. */
#include "cn_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Build the node a golden case describes on input x; -1 (with a FAIL) when the op is unknown. */
static int node_from_golden(const golden_case *c, cn_graph *g, int x, int rank) {
    const char *op = golden_meta(c, "op");
    if (!op) return -1;
    if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool")) {
        cn_pool_attr a = cn_pool_attr_make(!strcmp(op, "MaxPool") ? CN_POOL_MAX : CN_POOL_AVG, 1, 0, 0);
        CHECK(golden_attr_ints(c, "kernel", a.kernel, 3) == rank, "%s: kernel per axis", c->name);
        CHECK(golden_attr_ints(c, "stride", a.stride, 3) == rank, "%s: stride per axis", c->name);
        CHECK(golden_attr_ints(c, "pad", a.pad, 3) == rank, "%s: pad per axis", c->name);
        golden_attr_ints(c, "dilation", a.dilation, 3);
        a.ceil_mode = golden_attr_int(c, "ceil_mode", 0);
        a.count_include_pad = golden_attr_int(c, "count_include_pad", 1);
        return cn_pool(g, "pool", x, &a);
    }
    if (!strcmp(op, "GlobalMaxPool")) return cn_global_pool(g, "pool", x, CN_POOL_MAX);
    if (!strcmp(op, "GlobalAveragePool")) return cn_global_pool(g, "pool", x, CN_POOL_AVG);
    if (!strcmp(op, "AdaptiveAvgPool")) {
        int out[3] = {0, 0, 0};
        CHECK(golden_attr_ints(c, "out_size", out, 3) == rank, "%s: out_size per axis", c->name);
        return cn_adaptive_avgpool(g, "pool", x, out);
    }
    CHECK(0, "%s: unknown op %s", c->name, op);
    return -1;
}

static void golden_cases(void) {
    char names[64][128];
    int count = golden_list("pool", names, 64);
    int per_op[5] = {0}, per_rank[4] = {0};
    const char *ops[5] = {"MaxPool", "AveragePool", "GlobalMaxPool", "GlobalAveragePool", "AdaptiveAvgPool"};
    for (int i = 0; i < count; i++) {
        golden_case c;
        if (golden_open(&c, "pool", names[i])) continue;
        cn_graph *g = cn_graph_create();
        int x = golden_input(&c, g, 0);
        int rank = cn_node_shape(g, x).ndim - 2;
        int y = node_from_golden(&c, g, x, rank);
        CHECK(y >= 0, "%s: %s", names[i], cn_last_error());
        if (y >= 0) {
            const char *op = golden_meta(&c, "op");
            CHECK(!strcmp(cn_node_op(g, y), op), "%s: node op %s, golden %s", names[i], cn_node_op(g, y), op);
            for (int k = 0; k < 5; k++) per_op[k] += !strcmp(op, ops[k]);
            if (rank >= 1 && rank <= 3) per_rank[rank]++;
            cn_shape want = golden_shape(&c, "out"), got = cn_node_shape(g, y);
            char a[64], b[64];
            CHECK(cn_shape_equal(&want, &got), "%s: output shape %s, PyTorch %s", names[i], cn_shape_str(&got, a, sizeof a),
                  cn_shape_str(&want, b, sizeof b));
            if (cn_shape_equal(&want, &got)) golden_check_node(&c, g, y, &x, 1);
        }
        cn_graph_free(g);
        golden_close(&c);
    }
    for (int k = 0; k < 5; k++) CHECK(per_op[k] >= 3, "expected >= 3 golden cases of %s, found %d", ops[k], per_op[k]);
    for (int r = 1; r <= 3; r++) CHECK(per_rank[r] >= 3, "expected >= 3 golden cases of rank %d, found %d", r, per_rank[r]);
}

static cn_shape shape3(int64_t n, int64_t c, int64_t w) { return cn_shape_make(3, (int64_t[]){n, c, w}); }
static cn_shape shape5(int64_t n, int64_t c, int64_t d, int64_t h, int64_t w) {
    return cn_shape_make(5, (int64_t[]){n, c, d, h, w});
}

static int shape_is(cn_graph *g, int node, cn_shape want) {
    cn_shape s = cn_node_shape(g, node);
    return node >= 0 && cn_shape_equal(&s, &want);
}

static void classic_shapes(void) {
    cn_graph *g = cn_graph_create();
    int x1 = cn_input(g, "conv1_out", cn_shape4(1, 20, 28, 28));
    int p1 = cn_maxpool2d(g, NULL, x1, 2, 2);
    CHECK(shape_is(g, p1, cn_shape4(1, 20, 14, 14)), "LeNet pool1: 20x28x28 -> 20x14x14");
    CHECK(p1 >= 0 && !strcmp(cn_node_name(g, p1), "maxpool1"), "made-up name maxpool1");
    CHECK(p1 >= 0 && !strcmp(cn_node_op(g, p1), "MaxPool"), "op MaxPool");
    int x2 = cn_input(g, "conv2_out", cn_shape4(1, 50, 14, 14));
    int p2 = cn_maxpool2d(g, NULL, x2, 2, 2);
    CHECK(shape_is(g, p2, cn_shape4(1, 50, 7, 7)), "LeNet pool2: 50x14x14 -> 50x7x7");
    int x3 = cn_input(g, "alex_conv1", cn_shape4(2, 96, 55, 55));
    int p3 = cn_maxpool2d(g, NULL, x3, 3, 2);
    CHECK(shape_is(g, p3, cn_shape4(2, 96, 27, 27)), "AlexNet pool1: 96x55x55 -> 96x27x27");
    int x4 = cn_input(g, "resnet_c5", cn_shape4(2, 512, 7, 7));
    int gap = cn_global_pool(g, NULL, x4, CN_POOL_AVG);
    CHECK(shape_is(g, gap, cn_shape4(2, 512, 1, 1)), "global average pool 512x7x7 -> 512x1x1");
    CHECK(gap >= 0 && !strcmp(cn_node_op(g, gap), "GlobalAveragePool"), "op GlobalAveragePool");
    int x5 = cn_input(g, "vol", shape5(1, 3, 4, 5, 6));
    int gmp = cn_global_pool(g, NULL, x5, CN_POOL_MAX);
    CHECK(shape_is(g, gmp, shape5(1, 3, 1, 1, 1)), "global max pool keeps the rank: 1x3x1x1x1");
    CHECK(gmp >= 0 && !strcmp(cn_node_op(g, gmp), "GlobalMaxPool"), "op GlobalMaxPool");
    int ad = cn_adaptive_avgpool(g, NULL, x3, (int[]){6, 6});
    CHECK(shape_is(g, ad, cn_shape4(2, 96, 6, 6)), "adaptive 55x55 -> 6x6");
    CHECK(ad >= 0 && !strcmp(cn_node_op(g, ad), "AdaptiveAvgPool"), "op AdaptiveAvgPool");
    cn_pool_attr a = cn_pool_attr_make(CN_POOL_AVG, 3, 0, 1);
    int avg = cn_pool(g, NULL, x5, &a);
    CHECK(shape_is(g, avg, shape5(1, 3, 2, 2, 2)), "avg 3D k3 stride 0 (= kernel) pad 1: 4x5x6 -> 2x2x2");
    CHECK(avg >= 0 && !strcmp(cn_node_op(g, avg), "AveragePool"), "op AveragePool");
    /* a batch change re-infers every pooling shape */
    CHECK_OK(cn_graph_set_batch(g, 3));
    CHECK(shape_is(g, p3, cn_shape4(3, 96, 27, 27)) && shape_is(g, gmp, shape5(3, 3, 1, 1, 1)) &&
              shape_is(g, ad, cn_shape4(3, 96, 6, 6)),
          "batch 3 re-inferred");
    cn_graph_free(g);
}

/* PyTorch's ceil mode: round the count up, but drop a last window that would start in the right padding. */
static void ceil_mode_rule(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", shape3(1, 1, 5));
    cn_pool_attr a = cn_pool_attr_make(CN_POOL_MAX, 2, 2, 1);
    a.ceil_mode = 1;
    int y = cn_pool(g, "drop", x, &a); /* ceil((5+2-2)/2)+1 = 4, but window 3 starts at 5 = in: dropped */
    CHECK(shape_is(g, y, shape3(1, 1, 3)), "ceil mode drops a window starting in the right padding");
    a = cn_pool_attr_make(CN_POOL_MAX, 2, 2, 0);
    a.ceil_mode = 1;
    y = cn_pool(g, "keep", x, &a); /* ceil((5-2)/2)+1 = 3, last window [4, 6) starts inside */
    CHECK(shape_is(g, y, shape3(1, 1, 3)), "ceil mode keeps a partial window that starts inside");
    a.ceil_mode = 0;
    y = cn_pool(g, "floor", x, &a);
    CHECK(shape_is(g, y, shape3(1, 1, 2)), "floor mode: 2 windows");
    /* ceil mode accepts a kernel larger than the input when the one window starts inside (PyTorch does) */
    int x4 = cn_input(g, "x4", shape3(1, 1, 4));
    a = cn_pool_attr_make(CN_POOL_AVG, 5, 3, 0);
    a.ceil_mode = 1;
    int big = cn_pool(g, "big", x4, &a);
    CHECK(shape_is(g, big, shape3(1, 1, 1)), "ceil mode, kernel 5 on 4 inputs: one window");
    CHECK_OK(cn_set_input(g, x4, (cn_real[]){1, 2, 3, 6}, 4));
    CHECK_OK(cn_forward(g, CN_EVAL));
    const cn_real *o = cn_node_output(g, big);
    /* count_include_pad: the window is clipped to the padded input [0, 4): divisor 4, not 5 */
    CHECK(o && fabs(o[0] - 3.0) < 1e-6, "ceil-mode average over a clipped window divides by 4: got %g", o ? o[0] : -1.0);
    cn_graph_free(g);
}

/* Ties go to the first maximum (PyTorch's strict >), also across overlapping windows; backward follows. */
static void ties_and_nan(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", shape3(1, 1, 4));
    cn_pool_attr a = cn_pool_attr_make(CN_POOL_MAX, 2, 1, 0);
    int y = cn_pool(g, "mp", x, &a);
    CHECK_OK(cn_set_input(g, x, (cn_real[]){1, 3, 3, 1}, 4));
    CHECK_OK(cn_forward(g, CN_TRAIN));
    cn_zero_grad(g);
    CHECK_OK(cn_backward(g, y, (cn_real[]){1, 1, 1}));
    const cn_real *dx = cn_node_grad(g, x);
    CHECK(dx[0] == 0 && dx[1] == 2 && dx[2] == 1 && dx[3] == 0, "tie to the first maximum: dx = %g %g %g %g", dx[0], dx[1],
          dx[2], dx[3]);
    /* padding is -inf: an all-negative window with padding still returns the real maximum */
    int xn = cn_input(g, "xn", shape3(1, 1, 3));
    cn_pool_attr p = cn_pool_attr_make(CN_POOL_MAX, 3, 1, 1);
    int yn = cn_pool(g, "mpn", xn, &p);
    CHECK_OK(cn_set_input(g, xn, (cn_real[]){-5, -7, -6}, 3));
    CHECK_OK(cn_forward(g, CN_EVAL));
    const cn_real *o = cn_node_output(g, yn);
    CHECK(o && o[0] == -5 && o[1] == -5 && o[2] == -6, "padding acts as -inf");
    CHECK_OK(cn_set_input(g, xn, (cn_real[]){1, NAN, 2}, 3));
    CHECK_OK(cn_forward(g, CN_EVAL));
    o = cn_node_output(g, yn);
    CHECK(o && isnan(o[0]) && isnan(o[1]) && isnan(o[2]), "NaN propagates through max pooling");
    /* global max on a constant plane: the gradient goes to the first element only */
    int xc = cn_input(g, "xc", cn_shape4(1, 2, 2, 2));
    int gm = cn_global_pool(g, "gm", xc, CN_POOL_MAX);
    CHECK_OK(cn_set_input(g, xc, (cn_real[]){4, 4, 4, 4, 1, 2, 9, 9}, 8));
    CHECK_OK(cn_forward(g, CN_TRAIN));
    cn_zero_grad(g);
    CHECK_OK(cn_backward(g, gm, (cn_real[]){1, 1}));
    dx = cn_node_grad(g, xc);
    const cn_real want[8] = {1, 0, 0, 0, 0, 0, 1, 0};
    CHECK(!memcmp(dx, want, sizeof want), "global max ties go to the first maximum");
    cn_graph_free(g);
}

/* Eval and train forwards agree (eval keeps no argmax), and a steady-state train step allocates nothing. */
static void eval_train_and_allocation(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 3, 9, 9));
    cn_pool_attr a = cn_pool_attr_make(CN_POOL_MAX, 3, 2, 1);
    a.ceil_mode = 1;
    int m = cn_pool(g, "mp", x, &a);
    a = cn_pool_attr_make(CN_POOL_AVG, 2, 1, 1);
    a.count_include_pad = 0;
    int v = cn_pool(g, "ap", m, &a);
    int ad = cn_adaptive_avgpool(g, "ad", v, (int[]){3, 2});
    int gm = cn_global_pool(g, "gm", ad, CN_POOL_MAX);
    int ga = cn_global_pool(g, "ga", gm, CN_POOL_AVG);
    cn_graph_mark_output(g, ad);
    cn_test_fill_input(g, x, 11, -1, 1);
    CHECK_OK(cn_forward(g, CN_EVAL));
    int64_t n = 2 * 3 * 3 * 2;
    cn_real *eval_out = malloc(sizeof(cn_real) * (size_t)n);
    memcpy(eval_out, cn_node_output(g, ad), sizeof(cn_real) * (size_t)n);
    CHECK_OK(cn_forward(g, CN_TRAIN));
    CHECK(!memcmp(eval_out, cn_node_output(g, ad), sizeof(cn_real) * (size_t)n), "eval and train forwards agree");
    free(eval_out);
    CHECK_OK(cn_backward(g, ga, NULL));
    cn_test_count_allocations(1);
    long before = cn_test_allocation_count();
    cn_zero_grad(g);
    CHECK_OK(cn_forward(g, CN_TRAIN));
    CHECK_OK(cn_backward(g, ga, NULL));
    CHECK(cn_test_allocation_count() == before, "a steady-state step allocates nothing (%ld allocations)",
          cn_test_allocation_count() - before);
    cn_test_count_allocations(0);
    cn_graph_free(g);
}

static void shape_errors(void) {
    cn_graph *g = cn_graph_create();
    int x2 = cn_input(g, "flat", cn_shape_make(2, (int64_t[]){2, 3}));
    int x = cn_input(g, "x", cn_shape4(1, 1, 4, 4));
    int x1 = cn_input(g, "x1", shape3(1, 1, 5));
    int count = cn_graph_node_count(g);
    cn_pool_attr a = cn_pool_attr_make(CN_POOL_MAX, 2, 2, 0);
    CHECK_ERROR(cn_pool(g, "p", x2, &a) < 0, "p: input 2x3 has 2 dimensions, pooling needs (N, C, spatial...)");
    CHECK_ERROR(cn_maxpool2d(g, "p", x1, 2, 2) < 0, "p: input 1x1x5 has 3 dimensions, 2-D pooling needs 4");
    CHECK_ERROR(cn_pool(g, "p", 42, &a) < 0, "p: input 0 is node 42, which does not exist");
    CHECK_ERROR(cn_pool(g, "p", x, NULL) < 0, "p: pooling attributes are NULL");
    a.kind = (cn_pool_kind)9;
    CHECK_ERROR(cn_pool(g, "p", x, &a) < 0, "p: pooling kind 9 is neither CN_POOL_MAX nor CN_POOL_AVG");
    a = cn_pool_attr_make(CN_POOL_MAX, 0, 1, 0);
    CHECK_ERROR(cn_pool(g, "p", x, &a) < 0, "p: kernel 0 on axis 0 must be >= 1");
    a = cn_pool_attr_make(CN_POOL_AVG, 2, 1, 0);
    a.stride[1] = -1;
    CHECK_ERROR(cn_pool(g, "p", x, &a) < 0, "p: stride -1 on axis 1 must be >= 1");
    a = cn_pool_attr_make(CN_POOL_AVG, 2, 1, -1);
    CHECK_ERROR(cn_pool(g, "p", x, &a) < 0, "p: padding -1 on axis 0 must be >= 0");
    a = cn_pool_attr_make(CN_POOL_MAX, 3, 1, 2);
    CHECK_ERROR(cn_pool(g, "p", x, &a) < 0, "p: padding 2 on axis 0 is more than half the kernel 3 (at most 1)");
    a = cn_pool_attr_make(CN_POOL_AVG, 2, 2, 0);
    a.pad[1] = 2;
    CHECK_ERROR(cn_pool(g, "p", x, &a) < 0, "p: padding 2 on axis 1 is more than half the kernel 2 (at most 1)");
    a = cn_pool_attr_make(CN_POOL_MAX, 2, 2, 0);
    a.dilation[0] = -2;
    CHECK_ERROR(cn_pool(g, "p", x, &a) < 0, "p: dilation -2 on axis 0 must be >= 1");
    a = cn_pool_attr_make(CN_POOL_AVG, 2, 2, 0);
    a.dilation[1] = 4; /* average pooling dilates too (ONNX opset 19) */
    CHECK_ERROR(cn_pool(g, "p", x, &a) < 0, "p: input 1x1x4x4: kernel 5 (kernel 2, dilation 4) is larger than the padded input 4 (4+2*0) on axis 1");
    a = cn_pool_attr_make(CN_POOL_MAX, 5, 1, 0);
    CHECK_ERROR(cn_pool(g, "p", x, &a) < 0, "p: input 1x1x4x4: kernel 5 is larger than the padded input 4 (4+2*0) on axis 0");
    a = cn_pool_attr_make(CN_POOL_MAX, 3, 1, 1);
    a.dilation[0] = 4;
    CHECK_ERROR(cn_pool(g, "p", x1, &a) < 0,
                "p: input 1x1x5: kernel 9 (kernel 3, dilation 4) is larger than the padded input 7 (5+2*1) on axis 0");
    CHECK_ERROR(cn_global_pool(g, "gp", x2, CN_POOL_AVG) < 0, "gp: input 2x3 has 2 dimensions, pooling needs");
    CHECK_ERROR(cn_global_pool(g, "gp", x, (cn_pool_kind)5) < 0, "gp: pooling kind 5 is neither");
    CHECK_ERROR(cn_adaptive_avgpool(g, "ad", x, (int[]){2, 0}) < 0, "ad: output size 0 on axis 1 must be >= 1 (input 1x1x4x4)");
    CHECK_ERROR(cn_adaptive_avgpool(g, "ad", x1, (int[]){-3}) < 0, "ad: output size -3 on axis 0 must be >= 1");
    CHECK_ERROR(cn_adaptive_avgpool(g, "ad", x2, (int[]){1}) < 0, "ad: input 2x3 has 2 dimensions, pooling needs");
    CHECK_ERROR(cn_adaptive_avgpool(g, "ad", x, NULL) < 0, "ad: out_size is NULL");
    CHECK(cn_graph_node_count(g) == count, "failed adds leave no node behind");
    /* a later batch change re-runs the same checks and still succeeds on good nodes */
    CHECK(cn_maxpool2d(g, "ok", x, 2, 0) >= 0, "stride 0 means stride = kernel: %s", cn_last_error());
    CHECK(shape_is(g, cn_graph_find(g, "ok"), cn_shape4(1, 1, 2, 2)), "4x4 with k2 s0 -> 2x2");
    cn_graph_free(g);
}

int main(void) {
    golden_cases();
    classic_shapes();
    ceil_mode_rule();
    ties_and_nan();
    eval_train_and_allocation();
    shape_errors();
    return cn_test_finish();
}
