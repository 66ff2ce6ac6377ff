/* Numerical gradient checks (double precision) for the tensor ops. */
#include "cn_test.h"

static void check2(int (*build)(cn_graph *, int, int), cn_shape sa, cn_shape sb, double lo, double hi, uint64_t seed) {
    cn_graph *g = cn_graph_create();
    int in[2] = {cn_input(g, "a", sa), cn_input(g, "b", sb)};
    int y = build(g, in[0], in[1]);
    CHECK(y >= 0, "builds: %s", cn_last_error());
    cn_test_fill_input(g, in[0], seed, -1, 1);
    cn_test_fill_input(g, in[1], seed + 1, lo, hi);
    if (y >= 0) CHECK(cn_gradcheck(g, y, in, 2, 1e-6, 1e-6, 100) == 0, "gradcheck (seed %llu)", (unsigned long long)seed);
    cn_graph_free(g);
}

static void check1(int (*build)(cn_graph *, int), cn_shape s, double lo, double hi, uint64_t seed) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", s);
    int y = build(g, x);
    CHECK(y >= 0, "builds: %s", cn_last_error());
    cn_test_fill_input(g, x, seed, lo, hi);
    if (y >= 0) CHECK(cn_gradcheck(g, y, &x, 1, 1e-6, 1e-6, 200) == 0, "gradcheck (seed %llu)", (unsigned long long)seed);
    cn_graph_free(g);
}

static int b_add(cn_graph *g, int a, int b) { return cn_binary(g, "y", CN_OP_ADD, a, b); }
static int b_sub(cn_graph *g, int a, int b) { return cn_binary(g, "y", CN_OP_SUB, a, b); }
static int b_mul(cn_graph *g, int a, int b) { return cn_binary(g, "y", CN_OP_MUL, a, b); }
static int b_div(cn_graph *g, int a, int b) { return cn_binary(g, "y", CN_OP_DIV, a, b); }
static int b_matmul(cn_graph *g, int a, int b) { return cn_matmul(g, "y", a, b); }
static int u_reshape(cn_graph *g, int x) { return cn_reshape(g, "y", x, 3, (int64_t[]){0, -1, 2}); }
static int u_transpose(cn_graph *g, int x) { return cn_transpose(g, "y", x, (int[]){2, 0, 3, 1}); }
static int u_clip(cn_graph *g, int x) { return cn_clip(g, "y", x, -0.5f, 0.7f); }
static int u_pad_const(cn_graph *g, int x) { return cn_pad(g, "y", x, (int64_t[]){0, 1, -1, 2, 0, 0, 2, -1}, CN_PAD_ZEROS, 0.3f); }
static int u_pad_reflect(cn_graph *g, int x) { return cn_pad(g, "y", x, (int64_t[]){0, 0, 3, 1, 0, 0, 2, 4}, CN_PAD_REFLECT, 0); }
static int u_pad_edge(cn_graph *g, int x) { return cn_pad(g, "y", x, (int64_t[]){0, 0, 3, 1, 0, 0, 2, 4}, CN_PAD_REPLICATE, 0); }
static int u_pad_wrap(cn_graph *g, int x) { return cn_pad(g, "y", x, (int64_t[]){0, 0, 3, 1, 0, 0, 2, 5}, CN_PAD_CIRCULAR, 0); }
static int u_erf(cn_graph *g, int x) { return cn_erf(g, "y", x); }
static int u_mean(cn_graph *g, int x) { return cn_reduce_mean(g, "y", x, (int[]){1, -1}, 2, 0); }
static int u_mean_keep(cn_graph *g, int x) { return cn_reduce_mean(g, "y", x, (int[]){2}, 1, 1); }
static int u_slice(cn_graph *g, int x) {
    return cn_slice(g, "y", x, (int64_t[]){0, -1, 1, 4}, (int64_t[]){2, INT64_MIN, 4, -100}, (int64_t[]){1, -2, 2, -3});
}
static int u_pow(cn_graph *g, int x) { return cn_pow(g, "y", x, -0.75); }
static int b_concat_last(cn_graph *g, int a, int b) { return cn_concat_axis(g, "y", (int[]){a, b, a}, 3, -1); }
static int b_concat_first(cn_graph *g, int a, int b) { return cn_concat_axis(g, "y", (int[]){b, a}, 2, 0); }

/* A trainable Constant feeding a product: its gradient is checked as a parameter. */
static void constant_param(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(3, (int64_t[]){2, 3, 4}));
    int k = cn_constant(g, "k", cn_shape_make(2, (int64_t[]){3, 1}), (cn_real[]){0.5, -1.5, 2}, 1);
    int y = cn_binary(g, "y", CN_OP_MUL, x, k);
    cn_test_fill_input(g, x, 9, -1, 1);
    CHECK(cn_gradcheck(g, y, &x, 1, 1e-6, 1e-6, 100) == 0, "constant parameter gradcheck");
    cn_graph_free(g);
}

int main(void) {
    cn_shape s4 = cn_shape4(2, 3, 4, 5);
    check2(b_add, s4, cn_shape_make(3, (int64_t[]){3, 1, 5}), -1, 1, 1);
    check2(b_sub, cn_shape_make(3, (int64_t[]){2, 1, 5}), cn_shape_make(2, (int64_t[]){3, 1}), -1, 1, 2);
    check2(b_mul, s4, s4, -1, 1, 3);
    check2(b_mul, cn_shape_make(1, (int64_t[]){1}), s4, -1, 1, 4);
    check2(b_div, s4, cn_shape_make(1, (int64_t[]){5}), 0.5, 1.5, 5);
    check2(b_div, cn_shape_make(2, (int64_t[]){3, 1}), cn_shape_make(2, (int64_t[]){1, 4}), 0.5, 1.5, 6);
    check2(b_matmul, cn_shape_make(2, (int64_t[]){3, 4}), cn_shape_make(2, (int64_t[]){4, 5}), -1, 1, 7);
    check2(b_matmul, cn_shape_make(4, (int64_t[]){2, 1, 3, 4}), cn_shape_make(3, (int64_t[]){3, 4, 2}), -1, 1, 8);
    check1(u_reshape, s4, -1, 1, 10);
    check1(u_transpose, s4, -1, 1, 11);
    check1(u_clip, s4, -1, 1, 12);  /* random values are away from the bounds almost surely */
    check1(u_pad_const, s4, -1, 1, 13);
    check1(u_pad_reflect, s4, -1, 1, 14);
    check1(u_pad_edge, s4, -1, 1, 15);
    check1(u_pad_wrap, s4, -1, 1, 16);
    check1(u_mean, s4, -1, 1, 17);
    check1(u_erf, s4, -2, 2, 19);
    check1(u_mean_keep, s4, -1, 1, 18);
    check1(u_slice, s4, -1, 1, 20);
    check1(u_pow, s4, 0.5, 2, 21);
    check2(b_concat_last, s4, cn_shape4(2, 3, 4, 2), -1, 1, 22);
    check2(b_concat_first, s4, cn_shape4(1, 3, 4, 5), -1, 1, 23);
    constant_param();
    return cn_test_finish();
}
