/* dropout.c — inverted dropout.
 *   train: mask_i ~ Bernoulli(1 - p) from the graph's RNG (same seed, same masks), kept in scratch;
 *          y = mask * x / (1 - p)       dx += mask * dy / (1 - p)
 *   eval:  y = x
 * p = 0 is the identity in both modes; p = 1 drops everything in training (output and gradient zero),
 * as PyTorch allows. */
#include "kernels/act.h"

typedef struct {
    float p;
} dropout_attr;

static cn_status dropout_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const dropout_attr *a = n->attr;
    if (!(a->p >= 0 && a->p <= 1))
        return cn_error(CN_ERR_INVALID, "%s: dropout probability p %g must be in [0, 1]", n->name, (double)a->p);
    *out = in[0];
    return CN_OK;
}

/* One mask byte per element, in training only. */
static size_t dropout_scratch(const cn_graph *g, const cn_node *n, cn_mode mode) {
    CN_UNUSED(g);
    return mode == CN_TRAIN ? (size_t)cn_shape_numel(&n->shape) : 0;
}

static cn_status dropout_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    const dropout_attr *a = n->attr;
    const cn_real *x = graph_in(g, n, 0);
    int64_t count = cn_shape_numel(&n->shape);
    if (mode != CN_TRAIN || a->p == 0) {
        memcpy(n->out, x, (size_t)count * sizeof(cn_real));
        return CN_OK;
    }
    if (a->p == 1) {
        memset(n->out, 0, (size_t)count * sizeof(cn_real));
        return CN_OK;
    }
    uint8_t *mask = n->scratch;
    cn_rng *rng = graph_rng(g);
    for (int64_t i = 0; i < count; i++) mask[i] = cn_rng_uniform(rng) >= a->p; /* P(keep) = 1 - p */
    cn_dropout_forward(x, mask, (cn_real)1 - (cn_real)a->p, n->out, count);
    return CN_OK;
}

static void dropout_backward(cn_graph *g, cn_node *n) {
    const dropout_attr *a = n->attr;
    cn_real *dx = graph_in_grad(g, n, 0);
    const cn_real *dy = graph_out_grad(g, n);
    int64_t count = cn_shape_numel(&n->shape);
    if (!dx || a->p == 1) return;
    if (a->p == 0) {
        for (int64_t i = 0; i < count; i++) dx[i] += dy[i];
        return;
    }
    cn_dropout_backward(n->scratch, (cn_real)1 - (cn_real)a->p, dy, dx, count);
}

/* ONNX calls p the ratio. */
static int dropout_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    int k = 0;
    attr_float(out, &k, "ratio", ((const dropout_attr *)n->attr)->p);
    return k;
}

static const cn_op_def op_dropout = {.name = "Dropout", .prefix = "dropout", .shape = dropout_shape,
                                     .scratch_bytes = dropout_scratch, .forward = dropout_forward,
                                     .backward = dropout_backward, .attrs = dropout_attrs,
                                     .backward_reads = CN_READS_NOTHING};

int cn_dropout(cn_graph *g, const char *name, int x, float p) {
    dropout_attr a = {p};
    return graph_add_node(g, &op_dropout, name, &x, 1, &a, sizeof a);
}
