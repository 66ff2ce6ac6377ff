/* tensor.c — tensor ops for imported ONNX models: Constant, Reshape, Transpose, broadcast Add/Sub/Mul/Div,
 * Clip, Pad, ReduceMean, MatMul. Shapes here are plain tensors (no batch axis is assumed). */
#include "kernels/gemm.h"
#include "kernels/tensor.h"
#include <stdio.h>

static void contiguous_strides(const cn_shape *s, int64_t *str) {
    int64_t acc = 1;
    for (int d = s->ndim - 1; d >= 0; d--) {
        str[d] = acc;
        acc *= s->dims[d];
    }
}

/* Strides that read x (right-aligned against out, numpy style) while walking out's index space: 0 on
 * axes x lacks or has as 1. */
static void broadcast_strides(const cn_shape *x, const cn_shape *out, int64_t *str) {
    int64_t own[CN_MAX_DIMS];
    contiguous_strides(x, own);
    int shift = out->ndim - x->ndim;
    for (int d = 0; d < out->ndim; d++) {
        int xd = d - shift;
        str[d] = (xd < 0 || x->dims[xd] == 1) ? 0 : own[xd];
    }
}

/* ---------------------------------------------------------------- Constant: y = value (a parameter) */
typedef struct {
    cn_shape shape;
    int trainable;
} constant_attr;

static cn_status constant_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    CN_UNUSED(in);
    const constant_attr *a = n->attr;
    if (a->shape.ndim < 0 || a->shape.ndim > CN_MAX_DIMS)
        return cn_error(CN_ERR_SHAPE, "%s: rank %d is not in [0, %d]", n->name, a->shape.ndim, CN_MAX_DIMS);
    for (int d = 0; d < a->shape.ndim; d++)
        if (a->shape.dims[d] < 1) {
            char b[64];
            return cn_error(CN_ERR_SHAPE, "%s: constant shape %s has a dimension < 1", n->name,
                            cn_shape_str(&a->shape, b, sizeof b));
        }
    *out = a->shape;
    return CN_OK;
}

static cn_status constant_init(cn_graph *g, cn_node *n) {
    const constant_attr *a = n->attr;
    return graph_add_param(g, n, "value", a->shape, a->trainable);
}

static cn_status constant_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const cn_tensor *v = graph_param(g, n, 0);
    memcpy(n->out, v->data, (size_t)cn_tensor_numel(v) * sizeof(cn_real));
    return CN_OK;
}

static void constant_backward(cn_graph *g, cn_node *n) {
    cn_tensor *dv = graph_param_grad(g, n, 0);
    const cn_real *dy = graph_out_grad(g, n);
    if (!dv) return;
    for (int64_t i = 0; i < cn_tensor_numel(dv); i++) dv->data[i] += dy[i];
}

static int constant_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    int k = 0;
    attr_int(out, &k, "trainable", ((const constant_attr *)n->attr)->trainable);
    return k;
}

static const cn_op_def op_constant = {.name = "Constant", .prefix = "const", .shape = constant_shape,
                                      .init_params = constant_init, .forward = constant_forward,
                                      .backward = constant_backward, .attrs = constant_attrs};

int cn_constant(cn_graph *g, const char *name, cn_shape shape, const cn_real *data, int trainable) {
    constant_attr a = {shape, trainable ? 1 : 0};
    int id = graph_add_node(g, &op_constant, name, NULL, 0, &a, sizeof a);
    if (id >= 0 && data) {
        cn_tensor *v = graph_param(g, graph_node(g, id), 0);
        memcpy(v->data, data, (size_t)cn_tensor_numel(v) * sizeof(cn_real));
    }
    return id;
}

/* ---------------------------------------------------------------- Reshape (ONNX rules: 0 copies, -1 infers) */
typedef struct {
    int ndim;
    int64_t dims[CN_MAX_DIMS];
} reshape_attr;

static cn_status reshape_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const reshape_attr *a = n->attr;
    char b[64];
    if (a->ndim < 0 || a->ndim > CN_MAX_DIMS)
        return cn_error(CN_ERR_SHAPE, "%s: target rank %d is not in [0, %d]", n->name, a->ndim, CN_MAX_DIMS);
    cn_shape s = {.ndim = a->ndim};
    int infer = -1;
    int64_t known = 1;
    for (int d = 0; d < a->ndim; d++) {
        int64_t v = a->dims[d];
        if (v == 0) {
            if (d >= in[0].ndim)
                return cn_error(CN_ERR_SHAPE, "%s: target dim %d is 0 (copy) but the input %s has no axis %d",
                                n->name, d, cn_shape_str(&in[0], b, sizeof b), d);
            v = in[0].dims[d];
        } else if (v == -1) {
            if (infer >= 0) return cn_error(CN_ERR_SHAPE, "%s: more than one -1 in the target shape", n->name);
            infer = d;
            continue;
        } else if (v < 0) {
            return cn_error(CN_ERR_SHAPE, "%s: target dim %d is %lld", n->name, d, (long long)v);
        }
        s.dims[d] = v;
        known *= v;
    }
    int64_t total = cn_shape_numel(&in[0]);
    if (infer >= 0) {
        if (known == 0 || total % known)
            return cn_error(CN_ERR_SHAPE, "%s: input %s of %lld elements cannot be split by %lld", n->name,
                            cn_shape_str(&in[0], b, sizeof b), (long long)total, (long long)known);
        s.dims[infer] = total / known;
        known = total;
    }
    if (known != total) {
        char c[64];
        return cn_error(CN_ERR_SHAPE, "%s: cannot reshape %s (%lld elements) to %s (%lld)", n->name,
                        cn_shape_str(&in[0], b, sizeof b), (long long)total, cn_shape_str(&s, c, sizeof c),
                        (long long)known);
    }
    *out = s;
    return CN_OK;
}

/* shape: the target as given (0 copies, -1 infers); the output shape is the node's shape. */
static int reshape_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    const reshape_attr *a = n->attr;
    int k = 0;
    cn_attr *s = attr_push(out, &k, "shape", CN_ATTR_INTS);
    s->count = a->ndim;
    for (int d = 0; d < a->ndim; d++) s->ints[d] = a->dims[d];
    return k;
}

static const cn_op_def op_reshape = {.name = "Reshape", .prefix = "reshape", .shape = reshape_shape, .attrs = reshape_attrs,
                                     .forward = op_copy_forward, .backward = op_accumulate_backward,
                                     .backward_reads = CN_READS_NOTHING, .inplace = true, .sets_fresh_grads = true};

int cn_reshape(cn_graph *g, const char *name, int x, int ndim, const int64_t *dims) {
    reshape_attr a = {.ndim = ndim};
    if (ndim < 0 || ndim > CN_MAX_DIMS) {
        cn_error(CN_ERR_SHAPE, "%s: target rank %d is not in [0, %d]", name ? name : "reshape", ndim, CN_MAX_DIMS);
        return -1;
    }
    for (int d = 0; d < ndim; d++) a.dims[d] = dims[d];
    return graph_add_node(g, &op_reshape, name, &x, 1, &a, sizeof a);
}

/* ---------------------------------------------------------------- Transpose: y[i] = x[perm applied to i] */
typedef struct {
    int perm[CN_MAX_DIMS];
    int given;
} transpose_attr;

static void transpose_perm(const transpose_attr *a, int ndim, int *perm) {
    for (int d = 0; d < ndim; d++) perm[d] = a->given ? a->perm[d] : ndim - 1 - d;
}

static cn_status transpose_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const transpose_attr *a = n->attr;
    int perm[CN_MAX_DIMS], seen[CN_MAX_DIMS] = {0};
    transpose_perm(a, in[0].ndim, perm);
    cn_shape s = {.ndim = in[0].ndim};
    for (int d = 0; d < in[0].ndim; d++) {
        if (perm[d] < 0 || perm[d] >= in[0].ndim || seen[perm[d]]++) {
            char b[64];
            return cn_error(CN_ERR_INVALID, "%s: perm[%d] = %d is not a permutation of the axes of %s", n->name,
                            d, perm[d], cn_shape_str(&in[0], b, sizeof b));
        }
        s.dims[d] = in[0].dims[perm[d]];
    }
    *out = s;
    return CN_OK;
}

/* Strides that read x in y's index order. */
static void transpose_strides(const cn_graph *g, const cn_node *n, int64_t *str) {
    const cn_shape *x = graph_in_shape(g, n, 0);
    int64_t own[CN_MAX_DIMS];
    int perm[CN_MAX_DIMS];
    contiguous_strides(x, own);
    transpose_perm(n->attr, x->ndim, perm);
    for (int d = 0; d < x->ndim; d++) str[d] = own[perm[d]];
}

static cn_status transpose_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    int64_t str[CN_MAX_DIMS];
    transpose_strides(g, n, str);
    cn_strided_gather_ref(n->shape.ndim, n->shape.dims, graph_in(g, n, 0), str, n->out, 1, false);
    return CN_OK;
}

static void transpose_backward(cn_graph *g, cn_node *n) {
    cn_real *dx = graph_in_grad(g, n, 0);
    if (!dx) return;
    int64_t str[CN_MAX_DIMS];
    transpose_strides(g, n, str);
    cn_strided_scatter_add_ref(n->shape.ndim, n->shape.dims, graph_out_grad(g, n), dx, str, 1);
}

/* perm: the effective permutation (reversed axes when none was given). */
static int transpose_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    const transpose_attr *a = n->attr;
    int r = graph_in_shape(g, n, 0)->ndim, perm[CN_MAX_DIMS], k = 0;
    for (int d = 0; d < r; d++) perm[d] = a->given ? a->perm[d] : r - 1 - d;
    attr_ints(out, &k, "perm", perm, r, NULL, 0);
    return k;
}

static const cn_op_def op_transpose = {.name = "Transpose", .prefix = "transpose", .shape = transpose_shape,
                                       .attrs = transpose_attrs,
                                       .forward = transpose_forward, .backward = transpose_backward};

int cn_transpose(cn_graph *g, const char *name, int x, const int *perm) {
    transpose_attr a = {.given = perm != NULL};
    if (perm && g && x >= 0 && x < cn_graph_node_count(g))
        for (int d = 0; d < cn_node_shape(g, x).ndim; d++) a.perm[d] = perm[d];
    return graph_add_node(g, &op_transpose, name, &x, 1, &a, sizeof a);
}

/* ---------------------------------------------------------------- Add/Sub/Mul/Div with broadcasting
 * forward y = a op b; backward sums dy * dy/da over the broadcast axes of a (likewise b). */
typedef struct {
    cn_binary_op op;
} binary_attr;

static cn_status broadcast_shape(const char *name, const cn_shape *a, const cn_shape *b, cn_shape *out) {
    cn_shape s = {.ndim = a->ndim > b->ndim ? a->ndim : b->ndim};
    for (int d = 0; d < s.ndim; d++) {
        int da = d - (s.ndim - a->ndim), db = d - (s.ndim - b->ndim);
        int64_t va = da < 0 ? 1 : a->dims[da], vb = db < 0 ? 1 : b->dims[db];
        if (va != vb && va != 1 && vb != 1) {
            char x[64], y[64];
            return cn_error(CN_ERR_SHAPE, "%s: shapes %s and %s do not broadcast (axis %d: %lld vs %lld)", name,
                            cn_shape_str(a, x, sizeof x), cn_shape_str(b, y, sizeof y), d, (long long)va,
                            (long long)vb);
        }
        s.dims[d] = va == 1 ? vb : va;
    }
    *out = s;
    return CN_OK;
}

static cn_status binary_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const binary_attr *a = n->attr;
    if (a->op < CN_OP_ADD || a->op > CN_OP_DIV) return cn_error(CN_ERR_INVALID, "%s: unknown operation %d", n->name, a->op);
    return broadcast_shape(n->name, &in[0], &in[1], out);
}

static cn_status binary_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const binary_attr *a = n->attr;
    int64_t sa[CN_MAX_DIMS], sb[CN_MAX_DIMS];
    broadcast_strides(graph_in_shape(g, n, 0), &n->shape, sa);
    broadcast_strides(graph_in_shape(g, n, 1), &n->shape, sb);
    cn_binary_forward((cn_binary_kind)a->op, n->shape.ndim, n->shape.dims, graph_in(g, n, 0), sa, graph_in(g, n, 1),
                      sb, n->out);
    return CN_OK;
}

static void binary_backward(cn_graph *g, cn_node *n) {
    const binary_attr *a = n->attr;
    int64_t sa[CN_MAX_DIMS], sb[CN_MAX_DIMS];
    broadcast_strides(graph_in_shape(g, n, 0), &n->shape, sa);
    broadcast_strides(graph_in_shape(g, n, 1), &n->shape, sb);
    cn_binary_backward_ref((cn_binary_kind)a->op, n->shape.ndim, n->shape.dims, graph_in(g, n, 0), sa,
                           graph_in(g, n, 1), sb, graph_out_grad(g, n), graph_in_grad(g, n, 0),
                           graph_in_grad(g, n, 1));
}

#define BINARY_DEF(var, opname, pre)                                                                      \
    static const cn_op_def var = {.name = opname, .prefix = pre, .shape = binary_shape, .forward = binary_forward, \
                                  .backward = binary_backward}
BINARY_DEF(op_badd, "Add", "add");
BINARY_DEF(op_bsub, "Sub", "sub");
BINARY_DEF(op_bmul, "Mul", "mul");
BINARY_DEF(op_bdiv, "Div", "div");

int cn_binary(cn_graph *g, const char *name, cn_binary_op op, int a, int b) {
    static const cn_op_def *defs[] = {&op_badd, &op_bsub, &op_bmul, &op_bdiv};
    if (op < CN_OP_ADD || op > CN_OP_DIV) {
        cn_error(CN_ERR_INVALID, "%s: unknown binary operation %d", name ? name : "binary", (int)op);
        return -1;
    }
    binary_attr at = {op};
    int in[2] = {a, b};
    return graph_add_node(g, defs[op], name, in, 2, &at, sizeof at);
}

/* ---------------------------------------------------------------- Clip: y = min(max(x, lo), hi)
 * dx = dy where lo <= x <= hi (PyTorch's clamp), else 0. */
typedef struct {
    float lo, hi;
} clip_attr;

static cn_status clip_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const clip_attr *a = n->attr;
    if (a->lo != a->lo || a->hi != a->hi || a->lo > a->hi)
        return cn_error(CN_ERR_INVALID, "%s: bounds [%g, %g] are not an interval", n->name, a->lo, a->hi);
    *out = in[0];
    return CN_OK;
}

static cn_status clip_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const clip_attr *a = n->attr;
    const cn_real *x = graph_in(g, n, 0);
    cn_real lo = (cn_real)a->lo, hi = (cn_real)a->hi;
    for (int64_t i = 0, c = cn_shape_numel(&n->shape); i < c; i++) n->out[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
    return CN_OK;
}

static void clip_backward(cn_graph *g, cn_node *n) {
    const clip_attr *a = n->attr;
    cn_real *dx = graph_in_grad(g, n, 0);
    const cn_real *x = graph_in(g, n, 0), *dy = graph_out_grad(g, n);
    if (!dx) return;
    for (int64_t i = 0, c = cn_shape_numel(&n->shape); i < c; i++)
        if (x[i] >= (cn_real)a->lo && x[i] <= (cn_real)a->hi) dx[i] += dy[i];
}

static int clip_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    const clip_attr *a = n->attr;
    int k = 0;
    attr_float(out, &k, "min", a->lo);
    attr_float(out, &k, "max", a->hi);
    return k;
}

static const cn_op_def op_clip = {.name = "Clip", .prefix = "clip", .shape = clip_shape, .forward = clip_forward,
                                  .attrs = clip_attrs,
                                  .backward = clip_backward};

int cn_clip(cn_graph *g, const char *name, int x, float lo, float hi) {
    clip_attr a = {lo, hi};
    return graph_add_node(g, &op_clip, name, &x, 1, &a, sizeof a);
}

/* ---------------------------------------------------------------- Pad */
typedef struct {
    int64_t begin[CN_MAX_DIMS], end[CN_MAX_DIMS];
    int ndim;
    cn_pad_mode mode;
    float value;
} pad_attr;

static cn_status pad_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const pad_attr *a = n->attr;
    char b[64];
    if (a->ndim != in[0].ndim || in[0].ndim < 1)
        return cn_error(CN_ERR_SHAPE, "%s: %d pads per side for the input %s of rank %d", n->name, a->ndim,
                        cn_shape_str(&in[0], b, sizeof b), in[0].ndim);
    if (a->mode < CN_PAD_ZEROS || a->mode > CN_PAD_CIRCULAR) return cn_error(CN_ERR_INVALID, "%s: unknown pad mode", n->name);
    cn_shape s = in[0];
    for (int d = 0; d < s.ndim; d++) {
        int64_t x = in[0].dims[d], lo = a->begin[d], hi = a->end[d];
        s.dims[d] = x + lo + hi;
        if (s.dims[d] < 1)
            return cn_error(CN_ERR_SHAPE, "%s: pads %lld and %lld leave nothing of axis %d of %s", n->name,
                            (long long)lo, (long long)hi, d, cn_shape_str(&in[0], b, sizeof b));
        if (a->mode != CN_PAD_ZEROS && (lo < 0 || hi < 0))
            return cn_error(CN_ERR_INVALID, "%s: negative pads (%lld, %lld) on axis %d need constant mode", n->name,
                            (long long)lo, (long long)hi, d);
        if ((a->mode == CN_PAD_REFLECT && (lo >= x || hi >= x)) || (a->mode == CN_PAD_CIRCULAR && (lo > x || hi > x)))
            return cn_error(CN_ERR_SHAPE, "%s: %s pads (%lld, %lld) on axis %d must be %s the size %lld of %s",
                            n->name, a->mode == CN_PAD_REFLECT ? "reflect" : "circular", (long long)lo, (long long)hi,
                            d, a->mode == CN_PAD_REFLECT ? "smaller than" : "at most", (long long)x,
                            cn_shape_str(&in[0], b, sizeof b));
    }
    *out = s;
    return CN_OK;
}

static cn_status pad_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const pad_attr *a = n->attr;
    const cn_shape *x = graph_in_shape(g, n, 0);
    cn_pad_forward_ref(x->ndim, x->dims, n->shape.dims, a->begin, a->mode, (cn_real)a->value, graph_in(g, n, 0), n->out);
    return CN_OK;
}

static void pad_backward(cn_graph *g, cn_node *n) {
    const pad_attr *a = n->attr;
    const cn_shape *x = graph_in_shape(g, n, 0);
    cn_real *dx = graph_in_grad(g, n, 0);
    if (dx) cn_pad_backward_ref(x->ndim, x->dims, n->shape.dims, a->begin, a->mode, graph_out_grad(g, n), dx);
}

/* pads [begins..., ends...] over every axis (ONNX's layout; CN_ATTR_MAX_INTS holds a 4-D input's 8), mode as
 * ONNX names it (constant, reflect, edge, wrap), value. */
static int pad_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    static const char *modes[] = {"constant", "reflect", "edge", "wrap"};
    const pad_attr *a = n->attr;
    int k = 0;
    cn_attr *p = attr_push(out, &k, "pads", CN_ATTR_INTS);
    p->count = 0;
    for (int d = 0; d < a->ndim && p->count < CN_ATTR_MAX_INTS; d++) p->ints[p->count++] = a->begin[d];
    for (int d = 0; d < a->ndim && p->count < CN_ATTR_MAX_INTS; d++) p->ints[p->count++] = a->end[d];
    attr_string(out, &k, "mode", a->mode >= CN_PAD_ZEROS && a->mode <= CN_PAD_CIRCULAR ? modes[a->mode] : "?");
    attr_float(out, &k, "value", a->value);
    if (2 * a->ndim > CN_ATTR_MAX_INTS) { /* rank 5: "pads" holds 8 of the 10; begins and ends separately */
        cn_attr *b = attr_push(out, &k, "pad_begins", CN_ATTR_INTS), *e = attr_push(out, &k, "pad_ends", CN_ATTR_INTS);
        b->count = e->count = a->ndim;
        for (int d = 0; d < a->ndim; d++) b->ints[d] = a->begin[d], e->ints[d] = a->end[d];
    }
    return k;
}

static const cn_op_def op_pad = {.name = "Pad", .prefix = "pad", .shape = pad_shape, .forward = pad_forward,
                                 .backward = pad_backward, .attrs = pad_attrs};

int cn_pad(cn_graph *g, const char *name, int x, const int64_t *pads, cn_pad_mode mode, float value) {
    if (!g || x < 0 || x >= cn_graph_node_count(g)) {
        cn_error(CN_ERR_INVALID, "%s: input node %d does not exist", name ? name : "pad", x);
        return -1;
    }
    pad_attr a = {.ndim = cn_node_shape(g, x).ndim, .mode = mode, .value = value};
    for (int d = 0; d < a.ndim; d++) {
        a.begin[d] = pads[d];
        a.end[d] = pads[a.ndim + d];
    }
    return graph_add_node(g, &op_pad, name, &x, 1, &a, sizeof a);
}

/* ---------------------------------------------------------------- ReduceMean
 * y = sum over the reduced axes / count;  dx = dy (broadcast back) / count */
typedef struct {
    unsigned axes;  /* bit d: axis d is reduced (resolved when the node is made) */
    int keepdims;
} reduce_attr;

static cn_status reduce_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const reduce_attr *a = n->attr;
    cn_shape s = {0};
    for (int d = 0; d < in[0].ndim; d++) {
        if (!(a->axes & (1u << d))) s.dims[s.ndim++] = in[0].dims[d];
        else if (a->keepdims) s.dims[s.ndim++] = 1;
    }
    *out = s;
    return CN_OK;
}

/* Strides of y (the kept-dims view) over x's index space: 0 on reduced axes. */
static int64_t reduce_strides(const cn_graph *g, const cn_node *n, int64_t *str) {
    const reduce_attr *a = n->attr;
    const cn_shape *x = graph_in_shape(g, n, 0);
    cn_shape kept = *x;
    int64_t count = 1;
    for (int d = 0; d < x->ndim; d++)
        if (a->axes & (1u << d)) {
            kept.dims[d] = 1;
            count *= x->dims[d];
        }
    broadcast_strides(&kept, x, str);
    return count;
}

static cn_status reduce_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const cn_shape *x = graph_in_shape(g, n, 0);
    int64_t str[CN_MAX_DIMS], count = reduce_strides(g, n, str);
    memset(n->out, 0, (size_t)cn_shape_numel(&n->shape) * sizeof(cn_real));
    cn_strided_scatter_add_ref(x->ndim, x->dims, graph_in(g, n, 0), n->out, str, (cn_real)(1.0 / (double)count));
    return CN_OK;
}

static void reduce_backward(cn_graph *g, cn_node *n) {
    cn_real *dx = graph_in_grad(g, n, 0);
    if (!dx) return;
    const cn_shape *x = graph_in_shape(g, n, 0);
    int64_t str[CN_MAX_DIMS], count = reduce_strides(g, n, str);
    cn_strided_gather_ref(x->ndim, x->dims, graph_out_grad(g, n), str, dx, (cn_real)(1.0 / (double)count), true);
}

/* axes: the reduced axes, non-negative and ascending; keepdims. */
static int reduce_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    const reduce_attr *a = n->attr;
    int r = graph_in_shape(g, n, 0)->ndim, axes[CN_MAX_DIMS], count = 0, k = 0;
    for (int d = 0; d < r; d++)
        if (a->axes & (1u << d)) axes[count++] = d;
    attr_ints(out, &k, "axes", axes, count, NULL, 0);
    attr_int(out, &k, "keepdims", a->keepdims);
    return k;
}

static const cn_op_def op_reduce_mean = {.name = "ReduceMean", .prefix = "reducemean", .shape = reduce_shape,
                                         .forward = reduce_forward, .backward = reduce_backward, .attrs = reduce_attrs};

int cn_reduce_mean(cn_graph *g, const char *name, int x, const int *axes, int n_axes, int keepdims) {
    if (!g || x < 0 || x >= cn_graph_node_count(g)) {
        cn_error(CN_ERR_INVALID, "%s: input node %d does not exist", name ? name : "reducemean", x);
        return -1;
    }
    int r = cn_node_shape(g, x).ndim;
    reduce_attr a = {.axes = n_axes == 0 ? (1u << r) - 1 : 0, .keepdims = keepdims ? 1 : 0};
    for (int i = 0; i < n_axes; i++) {
        int ax = axes[i] < 0 ? axes[i] + r : axes[i];
        if (ax < 0 || ax >= r) {
            cn_error(CN_ERR_INVALID, "%s: axis %d is out of range for rank %d", name ? name : "reducemean", axes[i], r);
            return -1;
        }
        a.axes |= 1u << ax;
    }
    return graph_add_node(g, &op_reduce_mean, name, &x, 1, &a, sizeof a);
}

/* ---------------------------------------------------------------- MatMul (numpy): per batch matrix
 * Y = A B;  dA += dY B^T;  dB += A^T dY  (summed over the batch axes an operand is broadcast along) */
static cn_status matmul_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    char x[64], y[64];
    const cn_shape *a = &in[0], *b = &in[1];
    if (a->ndim < 2 || b->ndim < 2)
        return cn_error(CN_ERR_SHAPE, "%s: operands %s and %s need rank >= 2", n->name, cn_shape_str(a, x, sizeof x),
                        cn_shape_str(b, y, sizeof y));
    if (a->dims[a->ndim - 1] != b->dims[b->ndim - 2])
        return cn_error(CN_ERR_SHAPE, "%s: %s times %s: inner sizes %lld and %lld differ", n->name,
                        cn_shape_str(a, x, sizeof x), cn_shape_str(b, y, sizeof y), (long long)a->dims[a->ndim - 1],
                        (long long)b->dims[b->ndim - 2]);
    cn_shape ba = {.ndim = a->ndim - 2}, bb = {.ndim = b->ndim - 2}, bo;
    memcpy(ba.dims, a->dims, sizeof(int64_t) * (size_t)ba.ndim);
    memcpy(bb.dims, b->dims, sizeof(int64_t) * (size_t)bb.ndim);
    if (broadcast_shape(n->name, &ba, &bb, &bo) != CN_OK) return CN_ERR_SHAPE;
    bo.dims[bo.ndim++] = a->dims[a->ndim - 2];
    bo.dims[bo.ndim++] = b->dims[b->ndim - 1];
    *out = bo;
    return CN_OK;
}

typedef struct {
    int64_t m, k, n, batch;
    int bndim;
    int64_t bdims[CN_MAX_DIMS], sa[CN_MAX_DIMS], sb[CN_MAX_DIMS]; /* batch strides in matrices */
} matmul_geom;

static matmul_geom matmul_geometry(const cn_graph *g, const cn_node *n) {
    const cn_shape *a = graph_in_shape(g, n, 0), *b = graph_in_shape(g, n, 1);
    matmul_geom m = {.m = a->dims[a->ndim - 2], .k = a->dims[a->ndim - 1], .n = b->dims[b->ndim - 1], .batch = 1,
                     .bndim = n->shape.ndim - 2};
    cn_shape ba = {.ndim = a->ndim - 2}, bb = {.ndim = b->ndim - 2}, bo = {.ndim = m.bndim};
    memcpy(ba.dims, a->dims, sizeof(int64_t) * (size_t)ba.ndim);
    memcpy(bb.dims, b->dims, sizeof(int64_t) * (size_t)bb.ndim);
    memcpy(bo.dims, n->shape.dims, sizeof(int64_t) * (size_t)bo.ndim);
    broadcast_strides(&ba, &bo, m.sa);
    broadcast_strides(&bb, &bo, m.sb);
    for (int d = 0; d < m.bndim; d++) {
        m.bdims[d] = bo.dims[d];
        m.batch *= bo.dims[d];
    }
    return m;
}

/* Matrix offsets (in elements) of a and b for batch index t. */
static void matmul_offsets(const matmul_geom *m, int64_t t, int64_t *oa, int64_t *ob) {
    int64_t ia = 0, ib = 0;
    for (int d = m->bndim - 1; d >= 0; d--) {
        int64_t i = t % m->bdims[d];
        t /= m->bdims[d];
        ia += i * m->sa[d];
        ib += i * m->sb[d];
    }
    *oa = ia * m->m * m->k;
    *ob = ib * m->k * m->n;
}

static cn_status matmul_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    matmul_geom m = matmul_geometry(g, n);
    const cn_real *a = graph_in(g, n, 0), *b = graph_in(g, n, 1);
    for (int64_t t = 0; t < m.batch; t++) {
        int64_t oa, ob;
        matmul_offsets(&m, t, &oa, &ob);
        cn_gemm(false, false, m.m, m.n, m.k, 1, a + oa, m.k, b + ob, m.n, 0, n->out + t * m.m * m.n, m.n,
                n->workspace);
    }
    return CN_OK;
}

static void matmul_backward(cn_graph *g, cn_node *n) {
    matmul_geom m = matmul_geometry(g, n);
    const cn_real *a = graph_in(g, n, 0), *b = graph_in(g, n, 1), *dy = graph_out_grad(g, n);
    cn_real *da = graph_in_grad(g, n, 0), *db = graph_in_grad(g, n, 1);
    for (int64_t t = 0; t < m.batch; t++) {
        int64_t oa, ob;
        const cn_real *dyt = dy + t * m.m * m.n;
        matmul_offsets(&m, t, &oa, &ob);
        if (da) cn_gemm(false, true, m.m, m.k, m.n, 1, dyt, m.n, b + ob, m.n, 1, da + oa, m.k, n->workspace);
        if (db) cn_gemm(true, false, m.k, m.n, m.m, 1, a + oa, m.k, dyt, m.n, 1, db + ob, m.n, n->workspace);
    }
}

static size_t matmul_workspace(const cn_graph *g, const cn_node *n, cn_mode mode) {
    matmul_geom m = matmul_geometry(g, n);
    size_t w = cn_gemm_workspace(m.m, m.n, m.k);
    if (mode == CN_TRAIN) {
        size_t da = cn_gemm_workspace(m.m, m.k, m.n), db = cn_gemm_workspace(m.k, m.n, m.m);
        if (da > w) w = da;
        if (db > w) w = db;
    }
    return w;
}

static int64_t matmul_macs(const cn_graph *g, const cn_node *n) {
    matmul_geom m = matmul_geometry(g, n);
    return m.batch * m.m * m.n * m.k;
}

static const cn_op_def op_matmul = {.name = "MatMul", .prefix = "matmul", .shape = matmul_shape,
                                    .workspace_bytes = matmul_workspace, .forward = matmul_forward,
                                    .backward = matmul_backward, .macs = matmul_macs};

int cn_matmul(cn_graph *g, const char *name, int a, int b) {
    int in[2] = {a, b};
    return graph_add_node(g, &op_matmul, name, in, 2, NULL, 0);
}

/* ---------------------------------------------------------------- Erf (PyTorch exports GELU with it)
 * y = erf(x);  dx = dy * 2/sqrt(pi) * exp(-x^2) */
static cn_status same_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    CN_UNUSED(n);
    *out = in[0];
    return CN_OK;
}

static cn_status erf_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const cn_real *x = graph_in(g, n, 0);
    for (int64_t i = 0, c = cn_shape_numel(&n->shape); i < c; i++) n->out[i] = erf(x[i]);
    return CN_OK;
}

static void erf_backward(cn_graph *g, cn_node *n) {
    cn_real *dx = graph_in_grad(g, n, 0);
    const cn_real *x = graph_in(g, n, 0), *dy = graph_out_grad(g, n);
    if (!dx) return;
    const cn_real k = (cn_real)1.1283791670955126; /* 2/sqrt(pi) */
    for (int64_t i = 0, c = cn_shape_numel(&n->shape); i < c; i++) dx[i] += dy[i] * k * exp(-x[i] * x[i]);
}

static const cn_op_def op_erf = {.name = "Erf", .prefix = "erf", .shape = same_shape, .forward = erf_forward,
                                 .backward = erf_backward};

int cn_erf(cn_graph *g, const char *name, int x) { return graph_add_node(g, &op_erf, name, &x, 1, NULL, 0); }

/* ---------------------------------------------------------------- Slice (strided, any nonzero step)
 * y[i_0, ..., i_{r-1}] = x[start_0 + i_0 step_0, ...];  dx[those positions] += dy. The starts, steps and
 * sizes are resolved (ONNX clamping) when the node is made, so the shape check only re-validates them. */
typedef struct {
    int ndim;
    int64_t start[CN_MAX_DIMS], step[CN_MAX_DIMS], count[CN_MAX_DIMS];
} slice_attr;

static cn_status slice_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const slice_attr *a = n->attr;
    char b[64];
    if (a->ndim != in[0].ndim)
        return cn_error(CN_ERR_SHAPE, "%s: slice of rank %d for the input %s", n->name, a->ndim, cn_shape_str(&in[0], b, sizeof b));
    cn_shape s = in[0];
    for (int d = 0; d < s.ndim; d++) {
        int64_t last = a->start[d] + (a->count[d] - 1) * a->step[d];
        if (a->step[d] == 0 || a->count[d] < 1 || a->start[d] < 0 || a->start[d] >= in[0].dims[d] || last < 0 ||
            last >= in[0].dims[d])
            return cn_error(CN_ERR_SHAPE, "%s: axis %d of %s: %lld elements from %lld in steps of %lld do not fit", n->name, d,
                            cn_shape_str(&in[0], b, sizeof b), (long long)a->count[d], (long long)a->start[d],
                            (long long)a->step[d]);
        s.dims[d] = a->count[d];
    }
    *out = s;
    return CN_OK;
}

/* Element k of y (row-major over count) -> its offset in x. */
static void slice_walk(const slice_attr *a, const cn_shape *xs, cn_real *y, cn_real *x, int64_t total, bool back) {
    int64_t xstr[CN_MAX_DIMS], idx[CN_MAX_DIMS] = {0}, off = 0;
    contiguous_strides(xs, xstr);
    for (int d = 0; d < a->ndim; d++) off += a->start[d] * xstr[d];
    for (int64_t k = 0; k < total; k++) {
        if (back) x[off] += y[k];
        else y[k] = x[off];
        for (int d = a->ndim - 1; d >= 0; d--) {
            off += a->step[d] * xstr[d];
            if (++idx[d] < a->count[d]) break;
            off -= a->count[d] * a->step[d] * xstr[d];
            idx[d] = 0;
        }
    }
}

static cn_status slice_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    slice_walk(n->attr, graph_in_shape(g, n, 0), n->out, (cn_real *)graph_in(g, n, 0), cn_shape_numel(&n->shape), false);
    return CN_OK;
}

static void slice_backward(cn_graph *g, cn_node *n) {
    cn_real *dx = graph_in_grad(g, n, 0);
    if (dx) slice_walk(n->attr, graph_in_shape(g, n, 0), (cn_real *)graph_out_grad(g, n), dx, cn_shape_numel(&n->shape), true);
}

/* ONNX's inputs as attributes: starts, ends, steps over every axis (axes 0..r-1); an end before the
 * first element of a negative step is written as INT64_MIN (ONNX clamps it). */
static int slice_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    const slice_attr *a = n->attr;
    int k = 0;
    cn_attr *s = attr_push(out, &k, "starts", CN_ATTR_INTS), *e = attr_push(out, &k, "ends", CN_ATTR_INTS);
    cn_attr *st = attr_push(out, &k, "steps", CN_ATTR_INTS);
    s->count = e->count = st->count = a->ndim;
    for (int d = 0; d < a->ndim; d++) {
        int64_t end = a->start[d] + a->count[d] * a->step[d];
        s->ints[d] = a->start[d];
        e->ints[d] = end < 0 ? INT64_MIN : end;
        st->ints[d] = a->step[d];
    }
    return k;
}

static const cn_op_def op_slice = {.name = "Slice", .prefix = "slice", .shape = slice_shape, .forward = slice_forward,
                                   .backward = slice_backward, .attrs = slice_attrs};

int cn_slice(cn_graph *g, const char *name, int x, const int64_t *starts, const int64_t *ends, const int64_t *steps) {
    if (!g || x < 0 || x >= cn_graph_node_count(g) || !starts || !ends) {
        cn_error(CN_ERR_INVALID, "%s: input node %d does not exist", name ? name : "slice", x);
        return -1;
    }
    cn_shape xs = cn_node_shape(g, x);
    slice_attr a = {.ndim = xs.ndim};
    for (int d = 0; d < xs.ndim; d++) {
        int64_t dim = xs.dims[d], st = steps ? steps[d] : 1, b = starts[d], e = ends[d];
        if (st == 0 || st == INT64_MIN) {
            cn_error(CN_ERR_INVALID, "%s: step %lld on axis %d", name ? name : "slice", (long long)st, d);
            return -1;
        }
        /* ONNX: negative indices count from the end, then clamp to [0, dim] (step > 0) or [-1, dim-1] */
        if (b < 0) b = b < -dim ? -1 : b + dim;
        if (e < 0) e = e < -dim ? -1 : e + dim;
        int64_t cnt;
        if (st > 0) {
            b = b < 0 ? 0 : b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            cnt = e > b ? (e - b - 1) / st + 1 : 0;
        } else {
            b = b > dim - 1 ? dim - 1 : b;
            e = e > dim - 1 ? dim - 1 : e;
            cnt = b > e ? (b - e - 1) / -st + 1 : 0;
        }
        a.start[d] = b, a.step[d] = cnt == 1 ? 1 : st, a.count[d] = cnt; /* one element: any step (2^62 too) is 1 */
    }
    return graph_add_node(g, &op_slice, name, &x, 1, &a, sizeof a);
}

/* ---------------------------------------------------------------- Pow by a constant exponent
 * y = x^p;  dx = dy * p * x^(p-1). ONNX exporters write LRN, RMS-style norms and Sqrt this way. */
typedef struct {
    double p;
} pow_attr;

static cn_status pow_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    if (!isfinite(((const pow_attr *)n->attr)->p)) return cn_error(CN_ERR_INVALID, "%s: the exponent must be finite", n->name);
    *out = in[0];
    return CN_OK;
}

static cn_status pow_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const cn_real *x = graph_in(g, n, 0);
    const cn_real p = (cn_real)((const pow_attr *)n->attr)->p;
    for (int64_t i = 0, c = cn_shape_numel(&n->shape); i < c; i++) n->out[i] = pow(x[i], p);
    return CN_OK;
}

static void pow_backward(cn_graph *g, cn_node *n) {
    cn_real *dx = graph_in_grad(g, n, 0);
    const cn_real *x = graph_in(g, n, 0), *dy = graph_out_grad(g, n);
    const cn_real p = (cn_real)((const pow_attr *)n->attr)->p;
    if (!dx) return;
    for (int64_t i = 0, c = cn_shape_numel(&n->shape); i < c; i++) dx[i] += dy[i] * p * pow(x[i], p - 1);
}

static int pow_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    int k = 0;
    attr_float(out, &k, "exponent", ((const pow_attr *)n->attr)->p);
    return k;
}

static const cn_op_def op_pow = {.name = "Pow", .prefix = "pow", .shape = pow_shape, .forward = pow_forward,
                                 .backward = pow_backward, .attrs = pow_attrs};

int cn_pow(cn_graph *g, const char *name, int x, double exponent) {
    pow_attr a = {exponent};
    return graph_add_node(g, &op_pow, name, &x, 1, &a, sizeof a);
}
