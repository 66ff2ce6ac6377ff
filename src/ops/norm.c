/* norm.c — normalisation layers: BatchNorm (1d/2d/3d), LayerNorm, InstanceNorm, GroupNorm and local response
 * norm, matching PyTorch's modules (parameter names, initial values, error cases). The arithmetic is in
 * kernels/norm_ref.c; this file checks shapes and attributes, owns the parameters and does the bookkeeping
 * (running statistics, scratch layout). */
#include "kernels/norm.h"
#include <stdio.h>

/* "2x3x5" of an input shape, for messages. */
#define SHAPE_STR(s, buf) cn_shape_str((s), (buf), sizeof(buf))

static void fill(cn_tensor *t, cn_real v) {
    int64_t count = cn_tensor_numel(t);
    for (int64_t i = 0; i < count; i++) t->data[i] = v;
}

/* eps >= 0 (PyTorch allows 0) and finite. */
static cn_status check_eps(const cn_node *n, double eps) {
    if (!(eps >= 0) || isinf(eps))
        return cn_error(CN_ERR_INVALID, "%s: eps %g must be a finite number >= 0", n->name, eps);
    return CN_OK;
}

/* Per-channel "weight" (1) and "bias" (0), as PyTorch's affine norm layers initialise them. */
static cn_status add_channel_affine(cn_graph *g, cn_node *n, int64_t channels) {
    int64_t d[1] = {channels};
    cn_status st = graph_add_param(g, n, "weight", cn_shape_make(1, d), 1);
    if (!st) st = graph_add_param(g, n, "bias", cn_shape_make(1, d), 1);
    if (!st) fill(graph_param(g, n, 0), 1);
    return st;
}

/* ================================================================ BatchNorm
 * x is (N, C, S...) viewed as (N, C, S) with S the product of the spatial dims (1 for (N, C)).
 * Train: mean, var = batch statistics per channel (biased var), y = (x - mean) / sqrt(var + eps) * w + b,
 *        running_mean <- (1 - m) running_mean + m mean, running_var <- (1 - m) running_var + m var * M/(M-1)
 *        with M = N*S, num_batches_tracked += 1.
 * Eval:  the same y with running_mean and running_var. Parameters: 0 weight, 1 bias, 2 running_mean,
 *        3 running_var, 4 num_batches_tracked.
 * Scratch (both modes): mean[C], invstd[C] in double, kept from a train forward for backward. */
typedef struct {
    double eps, momentum;
} batchnorm_attr;

static cn_status batchnorm_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    const batchnorm_attr *a = n->attr;
    char b[64];
    if (in[0].ndim < 2)
        return cn_error(CN_ERR_SHAPE, "%s: batch norm needs (N, C) or (N, C, spatial...) input, got %s", n->name,
                        SHAPE_STR(&in[0], b));
    cn_status st = check_eps(n, a->eps);
    if (st) return st;
    if (!(a->momentum >= 0 && a->momentum <= 1))
        return cn_error(CN_ERR_INVALID, "%s: momentum %g must be in [0, 1]", n->name, a->momentum);
    if (n->n_params > 0 && graph_param(g, n, 0)->shape.dims[0] != in[0].dims[1])
        return cn_error(CN_ERR_SHAPE, "%s: input %s has %lld channels, the layer expects %lld", n->name,
                        SHAPE_STR(&in[0], b), (long long)in[0].dims[1], (long long)graph_param(g, n, 0)->shape.dims[0]);
    *out = in[0];
    return CN_OK;
}

static cn_status batchnorm_init(cn_graph *g, cn_node *n) {
    int64_t c = graph_in_shape(g, n, 0)->dims[1], one[1] = {1}, d[1] = {c};
    cn_status st = add_channel_affine(g, n, c);
    if (!st) st = graph_add_param(g, n, "running_mean", cn_shape_make(1, d), 0);
    if (!st) st = graph_add_param(g, n, "running_var", cn_shape_make(1, d), 0);
    if (!st) st = graph_add_param(g, n, "num_batches_tracked", cn_shape_make(1, one), 0);
    if (!st) fill(graph_param(g, n, 3), 1);
    return st;
}

static size_t batchnorm_scratch(const cn_graph *g, const cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    return 2 * (size_t)graph_in_shape(g, n, 0)->dims[1] * sizeof(double);
}

static cn_status batchnorm_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    const batchnorm_attr *a = n->attr;
    const cn_shape *xs = graph_in_shape(g, n, 0);
    int64_t batch = xs->dims[0], c = xs->dims[1], s = shape_spatial(xs), m = batch * s;
    double *mean = n->scratch, *invstd = mean + c;
    cn_tensor *running_mean = graph_param(g, n, 2), *running_var = graph_param(g, n, 3);
    if (mode != CN_TRAIN && n->fused_away) return CN_OK; /* the conv before it applied it (graph/fuse.c) */
    if (mode == CN_TRAIN) {
        /* As PyTorch: one value per channel has no variance to normalise by. */
        if (m < 2) {
            char b[64];
            return cn_error(CN_ERR_SHAPE,
                            "%s: training needs more than 1 value per channel, input %s has 1 (use a batch > 1 or eval mode)",
                            n->name, SHAPE_STR(xs, b));
        }
        cn_batchnorm_stats(graph_in(g, n, 0), batch, c, s, mean, invstd); /* invstd holds var for now */
        double mom = a->momentum, unbias = (double)m / (double)(m - 1);
        for (int64_t ch = 0; ch < c; ch++) {
            double var = invstd[ch];
            running_mean->data[ch] = (cn_real)((1 - mom) * (double)running_mean->data[ch] + mom * mean[ch]);
            running_var->data[ch] = (cn_real)((1 - mom) * (double)running_var->data[ch] + mom * var * unbias);
            invstd[ch] = 1.0 / sqrt(var + a->eps);
        }
        graph_param(g, n, 4)->data[0] += 1;
    } else {
        for (int64_t ch = 0; ch < c; ch++) {
            mean[ch] = (double)running_mean->data[ch];
            invstd[ch] = 1.0 / sqrt((double)running_var->data[ch] + a->eps);
        }
    }
    cn_batchnorm_apply(graph_in(g, n, 0), n->out, batch, c, s, mean, invstd, graph_param(g, n, 0)->data,
                       graph_param(g, n, 1)->data);
    return CN_OK;
}

/* The train forward's output again, from the batch statistics it kept in scratch (running stats untouched). */
static void batchnorm_recompute(cn_graph *g, cn_node *n) {
    const cn_shape *xs = graph_in_shape(g, n, 0);
    int64_t c = xs->dims[1];
    const double *mean = n->scratch, *invstd = mean + c;
    cn_batchnorm_apply(graph_in(g, n, 0), n->out, xs->dims[0], c, shape_spatial(xs), mean, invstd,
                       graph_param(g, n, 0)->data, graph_param(g, n, 1)->data);
}

static void batchnorm_backward(cn_graph *g, cn_node *n) {
    const cn_shape *xs = graph_in_shape(g, n, 0);
    int64_t c = xs->dims[1];
    const double *mean = n->scratch, *invstd = mean + c;
    cn_batchnorm_backward(graph_in(g, n, 0), graph_out_grad(g, n), graph_in_grad(g, n, 0), xs->dims[0], c,
                          shape_spatial(xs), mean, invstd, graph_param(g, n, 0)->data,
                          graph_param_grad(g, n, 0)->data, graph_param_grad(g, n, 1)->data,
                          graph_in_grad_fresh(g, n, 0));
}

/* One multiply-add per element once folded into y = x * scale + shift. */
static int64_t elementwise_macs(const cn_graph *g, const cn_node *n) {
    CN_UNUSED(g);
    return cn_shape_numel(&n->shape);
}

static int batchnorm_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    const batchnorm_attr *a = n->attr;
    int k = 0;
    attr_float(out, &k, "epsilon", a->eps);
    attr_float(out, &k, "momentum", a->momentum);
    return k;
}

static const cn_op_def op_batchnorm = {.name = "BatchNormalization", .prefix = "bn", .shape = batchnorm_shape,
                                       .init_params = batchnorm_init, .scratch_bytes = batchnorm_scratch,
                                       .forward = batchnorm_forward, .backward = batchnorm_backward,
                                       .sets_fresh_grads = true,
                                       .macs = elementwise_macs, .attrs = batchnorm_attrs,
                                       .backward_reads = CN_READS_INPUTS, .recompute = batchnorm_recompute};

int cn_batchnorm(cn_graph *g, const char *name, int x, float eps, float momentum) {
    batchnorm_attr a = {eps, momentum};
    return graph_add_node(g, &op_batchnorm, name, &x, 1, &a, sizeof a);
}

void batchnorm_eval_channel(const cn_graph *g, const cn_node *n, int64_t ch, double *scale, double *mean,
                            double *beta) {
    const batchnorm_attr *a = n->attr;
    *mean = (double)graph_param(g, n, 2)->data[ch];
    *scale = 1.0 / sqrt((double)graph_param(g, n, 3)->data[ch] + a->eps) * (double)graph_param(g, n, 0)->data[ch];
    *beta = (double)graph_param(g, n, 1)->data[ch];
}

/* ================================================================ LayerNorm, InstanceNorm, GroupNorm
 * All three normalise contiguous rows of x with the row-norm kernel (see kernels/norm.h for the layout):
 *   LayerNorm     rows of the last k dims, elementwise weight/bias of shape dims[ndim-k..]
 *   GroupNorm     rows (n, group) of (C/G)*S values, per-channel weight/bias
 *   InstanceNorm  GroupNorm with one channel per group
 * y = (x - mean_row) / sqrt(var_row + eps) * w + b (biased var), in both modes: no running statistics.
 * Scratch: mean[rows], invstd[rows] in double. */
typedef enum { ROWNORM_LAYER, ROWNORM_INSTANCE, ROWNORM_GROUP } rownorm_kind;

typedef struct {
    rownorm_kind kind;
    int normalized_ndim; /* LayerNorm */
    int num_groups;      /* GroupNorm; InstanceNorm uses C */
    double eps;
    int affine;
} rownorm_attr;

typedef struct {
    int64_t rows, len, groups, div;
} rownorm_layout;

static rownorm_layout rownorm_layout_of(const rownorm_attr *a, const cn_shape *x) {
    rownorm_layout l;
    int64_t numel = cn_shape_numel(x);
    if (a->kind == ROWNORM_LAYER) {
        l.len = 1;
        for (int i = x->ndim - a->normalized_ndim; i < x->ndim; i++) l.len *= x->dims[i];
        l.groups = 1;
        l.div = 1;
    } else {
        l.groups = a->kind == ROWNORM_INSTANCE ? x->dims[1] : a->num_groups;
        l.div = shape_spatial(x);
        l.len = x->dims[1] / l.groups * l.div;
    }
    l.rows = numel / l.len;
    return l;
}

static cn_status layernorm_check(const cn_node *n, const rownorm_attr *a, const cn_shape *x) {
    char b[64];
    if (x->ndim < 2)
        return cn_error(CN_ERR_SHAPE, "%s: layer norm needs a batch dimension and at least one more, got %s", n->name,
                        SHAPE_STR(x, b));
    if (a->normalized_ndim < 1 || a->normalized_ndim > x->ndim - 1)
        return cn_error(CN_ERR_INVALID,
                        "%s: normalized_ndim %d must be in [1, %d] for input %s (the batch axis is not normalised)",
                        n->name, a->normalized_ndim, x->ndim - 1, SHAPE_STR(x, b));
    return CN_OK;
}

static cn_status instancenorm_check(const cn_node *n, const cn_shape *x) {
    char b[64];
    if (x->ndim < 3)
        return cn_error(CN_ERR_SHAPE, "%s: instance norm needs (N, C, spatial...) input, got %s", n->name,
                        SHAPE_STR(x, b));
    /* As PyTorch: one spatial value per channel normalises to 0 whatever the input. */
    if (shape_spatial(x) < 2)
        return cn_error(CN_ERR_SHAPE, "%s: instance norm needs more than 1 spatial value per channel, input %s has 1",
                        n->name, SHAPE_STR(x, b));
    return CN_OK;
}

static cn_status groupnorm_check(const cn_node *n, const rownorm_attr *a, const cn_shape *x) {
    char b[64];
    if (x->ndim < 2)
        return cn_error(CN_ERR_SHAPE, "%s: group norm needs (N, C) or (N, C, spatial...) input, got %s", n->name,
                        SHAPE_STR(x, b));
    if (a->num_groups < 1) return cn_error(CN_ERR_INVALID, "%s: num_groups %d must be >= 1", n->name, a->num_groups);
    if (x->dims[1] % a->num_groups != 0)
        return cn_error(CN_ERR_SHAPE, "%s: num_groups %d does not divide the %lld channels of input %s", n->name,
                        a->num_groups, (long long)x->dims[1], SHAPE_STR(x, b));
    /* As PyTorch: a batch holding a single value per group. */
    if (x->dims[0] * (x->dims[1] / a->num_groups) * shape_spatial(x) == 1)
        return cn_error(CN_ERR_SHAPE, "%s: input %s has a single value per group: nothing to normalise", n->name,
                        SHAPE_STR(x, b));
    return CN_OK;
}

static cn_status rownorm_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const rownorm_attr *a = n->attr;
    cn_status st = a->kind == ROWNORM_LAYER      ? layernorm_check(n, a, &in[0])
                   : a->kind == ROWNORM_INSTANCE ? instancenorm_check(n, &in[0])
                                                 : groupnorm_check(n, a, &in[0]);
    if (!st) st = check_eps(n, a->eps);
    if (st) return st;
    *out = in[0];
    return CN_OK;
}

static cn_status rownorm_init(cn_graph *g, cn_node *n) {
    const rownorm_attr *a = n->attr;
    const cn_shape *x = graph_in_shape(g, n, 0);
    if (!a->affine) return CN_OK;
    if (a->kind != ROWNORM_LAYER) return add_channel_affine(g, n, x->dims[1]);
    int k = a->normalized_ndim;
    cn_shape ws = cn_shape_make(k, x->dims + x->ndim - k);
    cn_status st = graph_add_param(g, n, "weight", ws, 1);
    if (!st) st = graph_add_param(g, n, "bias", ws, 1);
    if (!st) fill(graph_param(g, n, 0), 1);
    return st;
}

static size_t rownorm_scratch(const cn_graph *g, const cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    return 2 * (size_t)rownorm_layout_of(n->attr, graph_in_shape(g, n, 0)).rows * sizeof(double);
}

static cn_status rownorm_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const rownorm_attr *a = n->attr;
    rownorm_layout l = rownorm_layout_of(a, graph_in_shape(g, n, 0));
    double *mean = n->scratch, *invstd = mean + l.rows;
    cn_rownorm_forward(graph_in(g, n, 0), n->out, l.rows, l.len, l.groups, l.div,
                       a->affine ? graph_param(g, n, 0)->data : NULL, a->affine ? graph_param(g, n, 1)->data : NULL,
                       a->eps, mean, invstd);
    return CN_OK;
}

static void rownorm_backward(cn_graph *g, cn_node *n) {
    const rownorm_attr *a = n->attr;
    rownorm_layout l = rownorm_layout_of(a, graph_in_shape(g, n, 0));
    const double *mean = n->scratch, *invstd = mean + l.rows;
    cn_rownorm_backward(graph_in(g, n, 0), graph_out_grad(g, n), graph_in_grad(g, n, 0), l.rows, l.len, l.groups,
                        l.div, mean, invstd, a->affine ? graph_param(g, n, 0)->data : NULL,
                        a->affine ? graph_param_grad(g, n, 0)->data : NULL,
                        a->affine ? graph_param_grad(g, n, 1)->data : NULL);
}

/* LayerNorm: normalized_ndim; GroupNorm: num_groups; all three: epsilon and affine. */
static int rownorm_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    const rownorm_attr *a = n->attr;
    int k = 0;
    if (a->kind == ROWNORM_LAYER) attr_int(out, &k, "normalized_ndim", a->normalized_ndim);
    if (a->kind == ROWNORM_GROUP) attr_int(out, &k, "num_groups", a->num_groups);
    attr_float(out, &k, "epsilon", a->eps);
    attr_int(out, &k, "affine", a->affine);
    return k;
}

static const cn_op_def op_layernorm = {.name = "LayerNormalization", .prefix = "ln", .shape = rownorm_shape,
                                       .init_params = rownorm_init, .scratch_bytes = rownorm_scratch,
                                       .forward = rownorm_forward, .backward = rownorm_backward,
                                       .macs = elementwise_macs, .attrs = rownorm_attrs};
static const cn_op_def op_instancenorm = {.name = "InstanceNormalization", .prefix = "inorm",
                                          .shape = rownorm_shape, .init_params = rownorm_init,
                                          .scratch_bytes = rownorm_scratch, .forward = rownorm_forward,
                                          .backward = rownorm_backward, .macs = elementwise_macs,
                                          .attrs = rownorm_attrs};
static const cn_op_def op_groupnorm = {.name = "GroupNormalization", .prefix = "gn", .shape = rownorm_shape,
                                       .init_params = rownorm_init, .scratch_bytes = rownorm_scratch,
                                       .forward = rownorm_forward, .backward = rownorm_backward,
                                       .macs = elementwise_macs, .attrs = rownorm_attrs};

int cn_layernorm(cn_graph *g, const char *name, int x, int normalized_ndim, float eps, int affine) {
    rownorm_attr a = {.kind = ROWNORM_LAYER, .normalized_ndim = normalized_ndim, .eps = eps, .affine = affine ? 1 : 0};
    return graph_add_node(g, &op_layernorm, name, &x, 1, &a, sizeof a);
}

int cn_instancenorm(cn_graph *g, const char *name, int x, float eps, int affine) {
    rownorm_attr a = {.kind = ROWNORM_INSTANCE, .eps = eps, .affine = affine ? 1 : 0};
    return graph_add_node(g, &op_instancenorm, name, &x, 1, &a, sizeof a);
}

int cn_groupnorm(cn_graph *g, const char *name, int x, int num_groups, float eps, int affine) {
    rownorm_attr a = {.kind = ROWNORM_GROUP, .num_groups = num_groups, .eps = eps, .affine = affine ? 1 : 0};
    return graph_add_node(g, &op_groupnorm, name, &x, 1, &a, sizeof a);
}

/* ================================================================ local response norm
 * b_c = a_c / (k + alpha/size * sum_{c' in window(c)} a_c'^2)^beta, window(c) = [c - size/2, c + (size-1)/2]
 * (PyTorch; cn_lrn_window moves the start: ONNX centres even windows one channel later)
 * (zero padded), as PyTorch's nn.LocalResponseNorm. Scratch (train only): the scale per element, for backward
 * (which also reads the output). */
typedef struct {
    int size;
    double alpha, beta, k;
    int before; /* channels of the window before c: size/2 (PyTorch) or (size-1)/2 (ONNX) */
} lrn_attr;

static cn_status lrn_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const lrn_attr *a = n->attr;
    char b[64];
    if (in[0].ndim < 3)
        return cn_error(CN_ERR_SHAPE, "%s: local response norm needs (N, C, spatial...) input, got %s", n->name,
                        SHAPE_STR(&in[0], b));
    if (a->size < 1) return cn_error(CN_ERR_INVALID, "%s: size %d must be >= 1", n->name, a->size);
    if (a->before < 0 || a->before >= a->size)
        return cn_error(CN_ERR_INVALID, "%s: the window of %d channels cannot start %d before", n->name, a->size, a->before);
    if (!(a->alpha >= 0) || isinf(a->alpha))
        return cn_error(CN_ERR_INVALID, "%s: alpha %g must be a finite number >= 0", n->name, a->alpha);
    if (!isfinite(a->beta)) return cn_error(CN_ERR_INVALID, "%s: beta %g must be a finite number", n->name, a->beta);
    /* k > 0 keeps the base of the power positive, whatever the input. */
    if (!(a->k > 0) || isinf(a->k))
        return cn_error(CN_ERR_INVALID, "%s: k %g must be a finite number > 0", n->name, a->k);
    *out = in[0];
    return CN_OK;
}

static size_t lrn_scratch(const cn_graph *g, const cn_node *n, cn_mode mode) {
    CN_UNUSED(g);
    return mode == CN_TRAIN ? (size_t)cn_shape_numel(&n->shape) * sizeof(cn_real) : 0;
}

static cn_status lrn_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    const lrn_attr *a = n->attr;
    const cn_shape *xs = &n->shape;
    cn_lrn_forward(graph_in(g, n, 0), n->out, mode == CN_TRAIN ? n->scratch : NULL, xs->dims[0], xs->dims[1],
                   shape_spatial(xs), a->size, a->before, a->alpha, a->beta, a->k);
    return CN_OK;
}

static void lrn_backward(cn_graph *g, cn_node *n) {
    const lrn_attr *a = n->attr;
    const cn_shape *xs = &n->shape;
    cn_real *dx = graph_in_grad(g, n, 0);
    if (!dx) return;
    cn_lrn_backward(graph_in(g, n, 0), n->out, n->scratch, graph_out_grad(g, n), dx, xs->dims[0], xs->dims[1],
                    shape_spatial(xs), a->size, a->before, a->alpha, a->beta);
}

/* size multiply-adds per element for the window sum of squares. */
static int64_t lrn_macs(const cn_graph *g, const cn_node *n) {
    CN_UNUSED(g);
    return cn_shape_numel(&n->shape) * ((const lrn_attr *)n->attr)->size;
}

/* ONNX's names: size, alpha, beta and bias for k. */
static int lrn_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    const lrn_attr *a = n->attr;
    int k = 0;
    attr_int(out, &k, "size", a->size);
    attr_float(out, &k, "alpha", a->alpha);
    attr_float(out, &k, "beta", a->beta);
    attr_float(out, &k, "bias", a->k);
    if (a->before != a->size / 2) attr_int(out, &k, "window_before", a->before); /* even size, ONNX's window */
    return k;
}

static const cn_op_def op_lrn = {.name = "LRN", .prefix = "lrn", .shape = lrn_shape, .scratch_bytes = lrn_scratch,
                                 .forward = lrn_forward, .backward = lrn_backward, .macs = lrn_macs,
                                 .attrs = lrn_attrs};

int cn_lrn_window(cn_graph *g, const char *name, int x, int size, int before, float alpha, float beta, float k) {
    lrn_attr a = {size, alpha, beta, k, before};
    return graph_add_node(g, &op_lrn, name, &x, 1, &a, sizeof a);
}

int cn_lrn(cn_graph *g, const char *name, int x, int size, float alpha, float beta, float k) {
    return cn_lrn_window(g, name, x, size, size > 0 ? size / 2 : 0, alpha, beta, k);
}
