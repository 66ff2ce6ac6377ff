/* Numerical gradient checks (double precision) for the normalisation layers: BatchNorm in train mode for
 * every rank (through the batch statistics), LayerNorm / InstanceNorm / GroupNorm with and without affine,
 * LRN for odd, even (both windows) and larger-than-C windows, and a chain of all of them (gradients accumulate). */
#include "cn_test.h"

#define EPS 1e-6
#define TOL 1e-6
#define MAX_PER_TENSOR 200

/* Weights in [0.5, 1.5] and biases in [-1, 1], so the affine parameters are not the identity. */
static void randomize_params(cn_graph *g, uint64_t seed) {
    cn_rng r;
    cn_rng_seed(&r, seed, 11);
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param p = cn_param_get(g, i);
        if (!p.trainable) continue;
        int is_weight = strstr(p.name, ".weight") != NULL;
        cn_rng_fill_uniform(&r, p.value->data, cn_tensor_numel(p.value), is_weight ? 0.5 : -1, is_weight ? 1.5 : 1);
    }
}

typedef enum { BN, LN, IN, GN, LRN } op_kind;

typedef struct {
    op_kind kind;
    int ndim;
    int64_t dims[CN_MAX_DIMS];
    int a;          /* LN normalized_ndim, GN groups, LRN size */
    int affine;     /* BN: 0 keeps the initial weight 1, bias 0 */
    double eps;
} grad_case;

static void run_case(const grad_case *gc, uint64_t seed) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(gc->ndim, gc->dims));
    int y = -1;
    switch (gc->kind) {
    case BN: y = cn_batchnorm(g, "bn", x, (float)gc->eps, 0.1f); break;
    case LN: y = cn_layernorm(g, "ln", x, gc->a, (float)gc->eps, gc->affine); break;
    case IN: y = cn_instancenorm(g, "in", x, (float)gc->eps, gc->affine); break;
    case GN: y = cn_groupnorm(g, "gn", x, gc->a, (float)gc->eps, gc->affine); break;
    case LRN: /* affine 1: ONNX's window, (size-1)/2 channels before */
        y = gc->affine ? cn_lrn_window(g, "lrn", x, gc->a, (gc->a - 1) / 2, 0.7f, 0.75f, 1.5f)
                       : cn_lrn(g, "lrn", x, gc->a, 0.7f, 0.75f, 1.5f);
        break;
    }
    CHECK(y >= 0, "case %d builds: %s", (int)seed, cn_last_error());
    if (y >= 0) {
        if (gc->kind != BN || gc->affine) randomize_params(g, seed);
        cn_test_fill_input(g, x, seed, -2, 3);
        int fails = cn_gradcheck(g, y, &x, 1, EPS, TOL, MAX_PER_TENSOR);
        if (fails) fprintf(stderr, "  (case %d, %s)\n", (int)seed, cn_node_name(g, y));
    }
    cn_graph_free(g);
}

int main(void) {
    const grad_case cases[] = {
        /* BatchNorm, train mode: 1d on (N, C) and (N, C, L), 2d (also batch 1), 3d */
        {BN, 2, {5, 4}, 0, 1, 1e-5},
        {BN, 2, {2, 3}, 0, 1, 1e-3},
        {BN, 3, {3, 2, 7}, 0, 1, 1e-5},
        {BN, 4, {2, 3, 4, 5}, 0, 1, 1e-5},
        {BN, 4, {1, 2, 3, 5}, 0, 1, 1e-4},
        {BN, 5, {2, 2, 2, 3, 3}, 0, 1, 1e-5},
        /* cn_batchnorm is always affine (as ONNX); affine 0 here keeps weight 1, bias 0: the identity affine */
        {BN, 3, {2, 3, 4}, 0, 0, 1e-5},
        {BN, 4, {3, 2, 2, 3}, 0, 0, 1e-5},
        /* LayerNorm over 1, 2, 3 trailing axes, with and without affine */
        {LN, 2, {3, 7}, 1, 1, 1e-5},
        {LN, 3, {2, 3, 5}, 1, 0, 1e-5},
        {LN, 4, {2, 3, 2, 5}, 2, 1, 1e-3},
        {LN, 4, {2, 2, 3, 3}, 3, 1, 1e-5},
        {LN, 5, {1, 2, 2, 3, 2}, 3, 0, 1e-5},
        /* InstanceNorm 1d/2d/3d, with and without affine */
        {IN, 3, {2, 3, 7}, 0, 1, 1e-5},
        {IN, 3, {3, 2, 5}, 0, 0, 1e-5},
        {IN, 4, {2, 3, 3, 4}, 0, 1, 1e-5},
        {IN, 4, {1, 2, 5, 3}, 0, 0, 1e-3},
        {IN, 5, {2, 2, 2, 3, 2}, 0, 1, 1e-5},
        {IN, 5, {1, 3, 2, 2, 3}, 0, 0, 1e-5},
        /* GroupNorm: one group, one channel per group, in between; (N, C), 1d, 2d, 3d */
        {GN, 4, {2, 6, 3, 4}, 1, 1, 1e-5},
        {GN, 4, {2, 6, 3, 4}, 6, 1, 1e-5},
        {GN, 4, {2, 6, 3, 4}, 3, 0, 1e-5},
        {GN, 2, {3, 4}, 2, 1, 1e-5},
        {GN, 3, {2, 8, 5}, 4, 1, 1e-3},
        {GN, 5, {1, 4, 2, 3, 2}, 2, 0, 1e-5},
        /* LRN: AlexNet's size 5, even sizes, size larger than C, 1d and 3d inputs */
        {LRN, 4, {2, 7, 3, 3}, 5, 0, 0},
        {LRN, 4, {2, 6, 3, 2}, 4, 0, 0},
        {LRN, 4, {2, 6, 3, 2}, 4, 1, 0},
        {LRN, 3, {2, 5, 4}, 2, 1, 0},
        {LRN, 4, {1, 3, 2, 4}, 7, 0, 0},
        {LRN, 3, {2, 5, 4}, 2, 0, 0},
        {LRN, 5, {1, 4, 2, 2, 3}, 3, 0, 0},
        {LRN, 4, {2, 3, 2, 2}, 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], 100 + i);

    /* A chain of all five: each backward adds into the gradient of its input. */
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 6, 3, 3));
    int h = cn_batchnorm(g, "bn", x, 1e-5f, 0.1f);
    h = cn_lrn(g, "lrn", h, 3, 0.5f, 0.75f, 1);
    h = cn_groupnorm(g, "gn", h, 2, 1e-5f, 1);
    h = cn_instancenorm(g, "in", h, 1e-5f, 1);
    h = cn_layernorm(g, "ln", h, 2, 1e-5f, 1);
    randomize_params(g, 7);
    cn_test_fill_input(g, x, 7, -2, 3);
    cn_gradcheck(g, h, &x, 1, EPS, TOL, MAX_PER_TENSOR);
    cn_graph_free(g);
    return cn_test_finish();
}
