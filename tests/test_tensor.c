/* Tensor ops (Reshape, Transpose, Add/Sub/Mul/Div, Clip, Pad, ReduceMean, MatMul, Constant) against
 * PyTorch, their shape errors, and the Constant op's behaviour. */
#include "cn_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int input_for(golden_case *c, cn_graph *g, int i) {
    char name[16], node[16];
    snprintf(name, sizeof name, "in.%d", i);
    snprintf(node, sizeof node, "x%d", i);
    cn_shape s = golden_shape(c, name);
    if (s.ndim == 0) s = cn_shape_make(1, (int64_t[]){1});  /* a scalar broadcasts like {1} */
    return cn_input(g, node, s);
}

static void golden_cases(void) {
    char names[64][128];
    int count = golden_list("tensor", names, 64);
    CHECK(count >= 30, "expected at least 30 tensor golden cases, found %d", count);
    for (int i = 0; i < count; i++) {
        golden_case c;
        if (golden_open(&c, "tensor", names[i])) continue;
        cn_graph *g = cn_graph_create();
        const char *op = golden_meta(&c, "op");
        int xs[2] = {input_for(&c, g, 0), golden_has(&c, "in.1") ? input_for(&c, g, 1) : -1};
        int n_in = xs[1] >= 0 ? 2 : 1, y = -1, ints[16];
        int64_t l64[16];
        if (strcmp(op, "Reshape") == 0) {
            int k = golden_attr_ints(&c, "dims", ints, 16);
            for (int j = 0; j < k; j++) l64[j] = ints[j];
            y = cn_reshape(g, "op", xs[0], k, l64);
        } else if (strcmp(op, "Transpose") == 0) {
            int k = golden_attr_ints(&c, "perm", ints, 16);
            y = cn_transpose(g, "op", xs[0], k ? ints : NULL);
        } else if (strcmp(op, "Add") == 0 || strcmp(op, "Sub") == 0 || strcmp(op, "Mul") == 0 || strcmp(op, "Div") == 0) {
            cn_binary_op bo = op[0] == 'A' ? CN_OP_ADD : op[0] == 'S' ? CN_OP_SUB : op[0] == 'M' ? CN_OP_MUL : CN_OP_DIV;
            y = cn_binary(g, "op", bo, xs[0], xs[1]);
        } else if (strcmp(op, "Clip") == 0) {
            y = cn_clip(g, "op", xs[0], (float)golden_attr_num(&c, "lo", 0), (float)golden_attr_num(&c, "hi", INFINITY));
        } else if (strcmp(op, "Pad") == 0) {
            int k = golden_attr_ints(&c, "pads", ints, 16);
            for (int j = 0; j < k; j++) l64[j] = ints[j];
            y = cn_pad(g, "op", xs[0], l64, (cn_pad_mode)golden_attr_int(&c, "mode", 0), (float)golden_attr_num(&c, "value", 0));
        } else if (strcmp(op, "ReduceMean") == 0) {
            int k = golden_attr_ints(&c, "axes", ints, 16);
            y = cn_reduce_mean(g, "op", xs[0], ints, k, golden_attr_int(&c, "keepdims", 1));
        } else if (strcmp(op, "Erf") == 0) {
            y = cn_erf(g, "op", xs[0]);
        } else if (strcmp(op, "MatMul") == 0) {
            y = cn_matmul(g, "op", xs[0], xs[1]);
        }
        CHECK(y >= 0, "%s: %s", names[i], cn_last_error());
        if (y >= 0) golden_check_node(&c, g, y, xs, n_in);
        cn_graph_free(g);
        golden_close(&c);
    }
}

static void shape_errors(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 3, 4, 5));
    int v = cn_input(g, "v", cn_shape_make(2, (int64_t[]){7, 3}));
    CHECK_ERROR(cn_reshape(g, "r1", x, 2, (int64_t[]){-1, -1}) < 0, "r1: more than one -1 in the target shape");
    CHECK_ERROR(cn_reshape(g, "r2", x, 2, (int64_t[]){7, -1}) < 0, "r2: input 2x3x4x5 of 120 elements cannot be split by 7");
    CHECK_ERROR(cn_reshape(g, "r3", x, 2, (int64_t[]){2, 59}) < 0, "r3: cannot reshape 2x3x4x5 (120 elements) to 2x59 (118)");
    CHECK_ERROR(cn_reshape(g, "r4", v, 3, (int64_t[]){0, 0, 0}) < 0, "r4: target dim 2 is 0 (copy) but the input 7x3 has no axis 2");
    CHECK_ERROR(cn_reshape(g, "r5", x, 6, (int64_t[]){1, 1, 1, 1, 1, 120}) < 0, "target rank 6 is not in [0, 5]");
    CHECK_ERROR(cn_reshape(g, "r6", x, 2, (int64_t[]){-3, 40}) < 0, "r6: target dim 0 is -3");
    CHECK_ERROR(cn_transpose(g, "t1", x, (int[]){0, 1, 1, 3}) < 0, "t1: perm[2] = 1 is not a permutation of the axes of 2x3x4x5");
    CHECK_ERROR(cn_transpose(g, "t2", x, (int[]){0, 1, 2, 4}) < 0, "t2: perm[3] = 4 is not a permutation");
    CHECK_ERROR(cn_binary(g, "b1", CN_OP_ADD, x, v) < 0, "b1: shapes 2x3x4x5 and 7x3 do not broadcast (axis 2: 4 vs 7)");
    CHECK_ERROR(cn_binary(g, "b2", (cn_binary_op)9, x, x) < 0, "b2: unknown binary operation 9");
    CHECK_ERROR(cn_clip(g, "c1", x, 1.0f, -1.0f) < 0, "c1: bounds [1, -1] are not an interval");
    CHECK_ERROR(cn_clip(g, "c2", x, NAN, 1.0f) < 0, "c2: bounds [nan, 1] are not an interval");
    CHECK_ERROR(cn_pad(g, "p1", x, (int64_t[]){0, 0, 4, 0, 0, 0, 0, 0}, CN_PAD_REFLECT, 0) < 0,
                "p1: reflect pads (4, 0) on axis 2 must be smaller than the size 4 of 2x3x4x5");
    CHECK_ERROR(cn_pad(g, "p2", x, (int64_t[]){0, 0, 0, 6, 0, 0, 0, 0}, CN_PAD_CIRCULAR, 0) < 0,
                "p2: circular pads (6, 0) on axis 3 must be at most the size 5");
    CHECK_ERROR(cn_pad(g, "p3", x, (int64_t[]){0, 0, -2, 0, 0, 0, -2, 0}, CN_PAD_ZEROS, 0) < 0,
                "p3: pads -2 and -2 leave nothing of axis 2 of 2x3x4x5");
    CHECK_ERROR(cn_pad(g, "p4", x, (int64_t[]){0, 0, -1, 0, 0, 0, 0, 0}, CN_PAD_REPLICATE, 0) < 0,
                "p4: negative pads (-1, 0) on axis 2 need constant mode");
    CHECK_ERROR(cn_pad(g, "p5", x, (int64_t[]){0, 0, 0, 0, 0, 0, 0, 0}, (cn_pad_mode)7, 0) < 0, "p5: unknown pad mode");
    CHECK_ERROR(cn_pad(g, "p6", 99, (int64_t[]){0, 0}, CN_PAD_ZEROS, 0) < 0, "p6: input node 99 does not exist");
    CHECK_ERROR(cn_reduce_mean(g, "m1", x, (int[]){4}, 1, 1) < 0, "m1: axis 4 is out of range for rank 4");
    CHECK_ERROR(cn_reduce_mean(g, "m2", x, (int[]){-5}, 1, 1) < 0, "m2: axis -5 is out of range for rank 4");
    CHECK_ERROR(cn_matmul(g, "mm1", x, v) < 0, "mm1: 2x3x4x5 times 7x3: inner sizes 5 and 7 differ");
    int y = cn_reshape(g, "vec", v, 1, (int64_t[]){21});
    CHECK_ERROR(cn_matmul(g, "mm2", y, v) < 0, "mm2: operands 21 and 7x3 need rank >= 2");
    int w = cn_input(g, "w", cn_shape_make(4, (int64_t[]){3, 3, 5, 2}));
    CHECK_ERROR(cn_matmul(g, "mm3", x, w) < 0, "mm3: shapes 2x3 and 3x3 do not broadcast (axis 0: 2 vs 3)");
    CHECK_ERROR(cn_constant(g, "k1", cn_shape_make(2, (int64_t[]){3, 0}), NULL, 0) < 0, "k1: constant shape 3x0 has a dimension < 1");
    cn_graph_free(g);
}

/* A Constant's value is a parameter: forward copies it, backward accumulates into its gradient when it is
 * trainable; it does not follow batch-size changes. */
static void constant_behaviour(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){2, 3}));
    cn_real vals[3] = {1.5, -2, 0.25};
    int k = cn_constant(g, "bias", cn_shape_make(1, (int64_t[]){3}), vals, 1);
    int b = cn_constant(g, "frozen", cn_shape_make(1, (int64_t[]){3}), vals, 0);
    int y = cn_binary(g, "y", CN_OP_ADD, x, k);
    int z = cn_binary(g, "z", CN_OP_MUL, y, b);
    CHECK(k >= 0 && b >= 0 && y >= 0 && z >= 0, "builds: %s", cn_last_error());
    CHECK(cn_param_find(g, "bias.value") >= 0 && cn_param_get(g, cn_param_find(g, "bias.value")).trainable, "bias.value trainable");
    CHECK(!cn_param_get(g, cn_param_find(g, "frozen.value")).trainable, "frozen.value is a buffer");
    cn_real xin[6] = {1, 2, 3, 4, 5, 6};
    CHECK_OK(cn_set_input(g, x, xin, 6));
    CHECK_OK(cn_forward(g, CN_TRAIN));
    const cn_real *out = cn_node_output(g, z);
    CHECK(fabs(out[4] - (5 - 2) * -2.0) < 1e-6, "z = (x + bias) * frozen: %g", (double)out[4]);
    cn_zero_grad(g);
    CHECK_OK(cn_backward(g, z, (cn_real[]){1, 1, 1, 1, 1, 1}));
    cn_param p = cn_param_get(g, cn_param_find(g, "bias.value"));
    CHECK(fabs(p.grad->data[0] - 3.0) < 1e-6 && fabs(p.grad->data[1] + 4.0) < 1e-6, "bias grad sums over the batch: %g %g",
          (double)p.grad->data[0], (double)p.grad->data[1]);
    CHECK_OK(cn_graph_set_batch(g, 5));
    cn_shape s = cn_node_shape(g, k), zs = cn_node_shape(g, z);
    CHECK(s.ndim == 1 && s.dims[0] == 3 && zs.dims[0] == 5, "constant keeps its shape on a batch change");
    cn_graph_free(g);
}

int main(void) {
    golden_cases();
    shape_errors();
    constant_behaviour();
    return cn_test_finish();
}
