/* Residual add and channel concat against PyTorch (2-D, 4-D, 5-D; concat of 2 and 3 inputs), their shape
 * errors, and fan-out: a node read by two consumers (or twice by one) gets the sum of both gradients. */
#include "cn_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void golden_cases(void) {
    char names[64][128];
    int count = golden_list("struct", names, 64);
    CHECK(count >= 10, "expected at least 10 struct golden cases, found %d", count);
    for (int i = 0; i < count; i++) {
        golden_case c;
        if (golden_open(&c, "struct", names[i])) continue;
        const char *op = golden_meta(&c, "op");
        cn_graph *g = cn_graph_create();
        int in[8], n_in = 0, y = -1;
        if (strcmp(op, "Add") == 0 && golden_attr_int(&c, "same_input", 0)) {
            in[n_in++] = golden_input(&c, g, 0);
            y = cn_add(g, "add", in[0], in[0]); /* fan-out into one node: d = 2 gout */
        } else if (strcmp(op, "Add") == 0) {
            for (; n_in < 2; n_in++) in[n_in] = golden_input(&c, g, n_in);
            y = cn_add(g, "add", in[0], in[1]);
        } else if (strcmp(op, "Concat") == 0) {
            int k = golden_attr_int(&c, "count", 0);
            CHECK(k >= 2 && k <= 8, "%s: count %d", names[i], k);
            for (; n_in < k && n_in < 8; n_in++) in[n_in] = golden_input(&c, g, n_in);
            y = cn_concat(g, "cat", in, n_in);
        }
        CHECK(y >= 0, "%s (%s): %s", names[i], op, cn_last_error());
        if (y >= 0) golden_check_node(&c, g, y, in, n_in);
        cn_graph_free(g);
        golden_close(&c);
    }
}

static void shape_errors(void) {
    cn_graph *g = cn_graph_create();
    int a = cn_input(g, "a", cn_shape4(2, 3, 4, 5));
    int b = cn_input(g, "b", cn_shape4(2, 3, 4, 6));
    int c = cn_input(g, "c", cn_shape_make(3, (int64_t[]){2, 3, 20}));
    int d = cn_input(g, "d", cn_shape4(3, 3, 4, 5));
    int e = cn_input(g, "e", cn_shape4(2, 7, 4, 5));
    int v = cn_input(g, "v", cn_shape_make(1, (int64_t[]){2}));
    CHECK_ERROR(cn_add(g, "res", a, b) < 0, "res: cannot add 2x3x4x5 and 2x3x4x6, the shapes must be equal");
    CHECK_ERROR(cn_add(g, "res", a, c) < 0, "res: cannot add 2x3x4x5 and 2x3x20, the shapes must be equal");
    CHECK_ERROR(cn_add(g, "res", a, 42) < 0, "res: input 1 is node 42, which does not exist");
    CHECK_ERROR(cn_concat(g, "cat", (int[]){a, b}, 2) < 0,
                "cat: input 1 2x3x4x6 does not fit input 0 2x3x4x5: all axes but 1 must be equal");
    CHECK_ERROR(cn_concat(g, "cat", (int[]){a, e, d}, 3) < 0,
                "cat: input 2 3x3x4x5 does not fit input 0 2x3x4x5: all axes but 1 must be equal");
    CHECK_ERROR(cn_concat(g, "cat", (int[]){a, e, c}, 3) < 0, "cat: input 2 2x3x20 does not fit input 0 2x3x4x5");
    CHECK_ERROR(cn_concat(g, "cat", (int[]){v, v}, 2) < 0, "cat: input 0 2 has no channel axis to concatenate along");
    CHECK_ERROR(cn_concat(g, "cat", (int[]){a}, 1) < 0, "cat: concat needs at least 2 inputs, got 1");
    CHECK_ERROR(cn_concat(g, NULL, NULL, 3) < 0, "concat: concat needs at least 2 inputs, got 0");
    CHECK_ERROR(cn_concat(g, "cat", (int[]){a, -1}, 2) < 0, "cat: input 1 is node -1, which does not exist");
    CHECK(cn_graph_node_count(g) == 6, "failed nodes leave nothing behind");
    int cat = cn_concat(g, NULL, (int[]){a, e, a}, 3);
    CHECK(cat >= 0, "concat of 3 builds: %s", cn_last_error());
    cn_shape s = cn_node_shape(g, cat);
    CHECK(s.ndim == 4 && s.dims[0] == 2 && s.dims[1] == 13 && s.dims[2] == 4 && s.dims[3] == 5, "concat is 2x13x4x5");
    CHECK(strcmp(cn_node_name(g, cat), "concat1") == 0 && strcmp(cn_node_op(g, cat), "Concat") == 0, "concat1 / Concat");
    int add = cn_add(g, NULL, a, a);
    CHECK(add >= 0 && strcmp(cn_node_name(g, add), "add1") == 0, "add1 builds");
    CHECK_OK(cn_graph_set_batch(g, 5));
    s = cn_node_shape(g, cat);
    CHECK(s.dims[0] == 5 && s.dims[1] == 13, "concat follows the batch size");
    cn_graph_free(g);
}

/* Fan-out by reasoning on a tiny graph: x (1x2) feeds add(x, x) and concat(x, add): y = [x, 2x], so with a
 * seed (g0, g1, g2, g3) dL/dx = (g0 + 2 g2, g1 + 2 g3), and dL/d(add) = (g2, g3). */
static void fan_out_sums_gradients(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){1, 2}));
    int add = cn_add(g, "twice", x, x);
    int cat = cn_concat(g, "cat", (int[]){x, add}, 2);
    CHECK_OK(cn_graph_mark_output(g, add)); /* an intermediate gradient is readable after backward when marked */
    const cn_real xv[2] = {0.25, -1.5}, seed[4] = {1, 10, 100, 1000};
    CHECK_OK(cn_set_input(g, x, xv, 2));
    CHECK_OK(cn_forward(g, CN_TRAIN));
    const cn_real *y = cn_node_output(g, cat);
    CHECK(y[0] == 0.25f && y[1] == -1.5f && y[2] == 0.5f && y[3] == -3.0f, "concat(x, x + x) = [x, 2x]");
    CHECK_OK(cn_backward(g, cat, seed));
    const cn_real *dx = cn_node_grad(g, x), *dadd = cn_node_grad(g, add);
    CHECK(dadd[0] == 100 && dadd[1] == 1000, "d/d(twice) = (100, 1000), got (%g, %g)", (double)dadd[0], (double)dadd[1]);
    CHECK(dx[0] == 201 && dx[1] == 2010, "d/dx = (1 + 2*100, 10 + 2*1000), got (%g, %g)", (double)dx[0], (double)dx[1]);
    /* backward again gives the same (node gradients are reset per backward, not accumulated across calls) */
    CHECK_OK(cn_backward(g, cat, seed));
    CHECK(dx[0] == 201 && dx[1] == 2010, "a second backward gives the same dx");
    cn_graph_free(g);
}

/* Concat in eval mode with buffer reuse: the output must still be right when inputs die right after it. */
static void concat_eval_mode(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(3, (int64_t[]){2, 2, 3}));
    int a = cn_add(g, "a", x, x);
    int b = cn_add(g, "b", a, x);
    int cat = cn_concat(g, "cat", (int[]){b, a, x}, 3);
    int out = cn_add(g, "out", cat, cat);
    cn_test_fill_input(g, x, 3, -1, 1);
    CHECK_OK(cn_forward(g, CN_EVAL));
    const cn_real *xv = cn_node_output(g, x), *y = cn_node_output(g, out);
    int ok = 1;
    for (int n = 0; n < 2; n++)
        for (int j = 0; j < 6; j++) {
            cn_real v = xv[n * 6 + j];
            ok &= y[n * 18 + j] == 2 * (v + v + v) && y[n * 18 + 6 + j] == 2 * (v + v) && y[n * 18 + 12 + j] == 2 * v;
        }
    CHECK(ok, "eval concat of [3x, 2x, x] doubled");
    cn_graph_free(g);
}

int main(void) {
    golden_cases();
    shape_errors();
    fan_out_sums_gradients();
    concat_eval_mode();
    return cn_test_finish();
}
