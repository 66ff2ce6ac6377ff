/* onnx_export.c — write a graph's inference part as an ONNX model (opset 13, IR version 7) with protobuf-c.
 *
 * What is written: the nodes the outputs depend on (loss nodes and label inputs are left out), each as the
 * ONNX op of the same name, read back through cn_node_attrs; parameters become initializers under their
 * graph names (PyTorch's: conv1.weight); the batch axis of the inputs and outputs is the symbolic "N".
 * Value names are node names. Ops ONNX spells differently at opset 13:
 *   Conv with pad_mode reflect/replicate  -> Pad (reflect/edge) then Conv with no pads
 *   Gemm (cn_linear) on a non-2-D input   -> Flatten(axis 1) then Gemm(transB 1)
 *   BatchNormalization                    -> momentum 1 - m (ONNX weights the running value)
 *   Dropout                               -> Dropout with the ratio as an input (no training_mode: identity)
 *   Gelu (exact / tanh)                   -> x * 0.5 * (1 + erf(x / sqrt 2)) / the tanh formula, elementwise
 *   AdaptiveAvgPool                       -> GlobalAveragePool (output 1), AveragePool (input a multiple),
 *                                            Mul by ones (a 1x1 input grown: VGG on small inputs)
 *                                            else Slice + ReduceMean per bin + Concat, per axis
 *   Constant                              -> Identity of its initializer
 *   Clip / Pad / Reshape / Slice / Pow    -> their values as initializer inputs
 *   GroupNormalization                    -> Reshape, InstanceNormalization, Reshape, Mul, Add (ONNX's op has
 *                                            per-group affine parameters before opset 21)
 *   circular padding (Conv, Pad wrap)     -> Slice + Concat per axis (Pad's wrap mode is opset 19)
 *   LRN of even size                      -> Mul, Pad, AveragePool over channels, Pow (ORT: odd sizes only)
 *   dilated AveragePool                   -> depthwise Conv of ones, Mul by the reciprocal counts (opset 19)
 * A graph with LayerNormalization is written at opset 17 (IR 8), where ONNX has it (nothing else used here
 * changes between 13 and 17). Losses are not exported (left out, or an error when asked for). */
#include "onnx_internal.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define EXPORT_OPSET 13
#define EXPORT_IR_VERSION 7
#define EXPORT_OPSET_LAYERNORM 17 /* a graph with layer norm: the first opset with LayerNormalization */
#define EXPORT_IR_VERSION_LAYERNORM 8
#define CN_MAX_INPUTS_EXPORT 64

typedef struct {
    const cn_graph *g;
    void **owned;           /* everything allocated for the message tree, freed at the end */
    int n_owned, cap_owned;
    Onnx__NodeProto **nodes;
    int n_nodes, cap_nodes;
    Onnx__TensorProto **inits;
    int n_inits, cap_inits;
    int tmp_counter;
    bool failed;
} ex_ctx;

static void *ex_alloc(ex_ctx *c, size_t size) {
    if (c->failed) return NULL;
    if (c->n_owned == c->cap_owned) {
        int cap = c->cap_owned ? 2 * c->cap_owned : 256;
        void **p = realloc(c->owned, sizeof(void *) * (size_t)cap);
        if (!p) {
            c->failed = true;
            return NULL;
        }
        c->owned = p, c->cap_owned = cap;
    }
    void *p = calloc(1, size ? size : 1);
    if (!p) {
        c->failed = true;
        return NULL;
    }
    c->owned[c->n_owned++] = p;
    return p;
}

static char *ex_str(ex_ctx *c, const char *fmt, ...) {
    char buf[CN_NAME_MAX * 2];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *s = ex_alloc(c, strlen(buf) + 1);
    if (s) strcpy(s, buf);
    return s;
}

static bool push_ptr(ex_ctx *c, void ***arr, int *n, int *cap, void *p) {
    if (!p) {
        c->failed = true;
        return false;
    }
    if (*n == *cap) {
        int nc = *cap ? 2 * *cap : 64;
        void **q = realloc(*arr, sizeof(void *) * (size_t)nc);
        if (!q) {
            c->failed = true;
            return false;
        }
        *arr = q, *cap = nc;
    }
    (*arr)[(*n)++] = p;
    return true;
}

/* ---- attributes */
static Onnx__AttributeProto *new_attr(ex_ctx *c, const char *name, Onnx__AttributeProto__AttributeType type) {
    Onnx__AttributeProto *a = ex_alloc(c, sizeof *a);
    if (!a) return NULL;
    onnx__attribute_proto__init(a);
    a->name = ex_str(c, "%s", name);
    a->has_type = 1, a->type = type;
    return a;
}

static Onnx__AttributeProto *attr_i(ex_ctx *c, const char *name, int64_t v) {
    Onnx__AttributeProto *a = new_attr(c, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    if (a) a->has_i = 1, a->i = v;
    return a;
}

static Onnx__AttributeProto *attr_f(ex_ctx *c, const char *name, double v) {
    Onnx__AttributeProto *a = new_attr(c, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    if (a) a->has_f = 1, a->f = (float)v;
    return a;
}

static Onnx__AttributeProto *attr_s(ex_ctx *c, const char *name, const char *v) {
    Onnx__AttributeProto *a = new_attr(c, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    char *s = ex_str(c, "%s", v);
    if (a && s) a->has_s = 1, a->s.data = (uint8_t *)s, a->s.len = strlen(s);
    return a;
}

static Onnx__AttributeProto *attr_is(ex_ctx *c, const char *name, const int64_t *v, int n) {
    Onnx__AttributeProto *a = new_attr(c, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    int64_t *vals = ex_alloc(c, sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!a || !vals) return NULL;
    if (n > 0) memcpy(vals, v, sizeof(int64_t) * (size_t)n);
    a->n_ints = (size_t)n, a->ints = vals;
    return a;
}

/* The node's attribute `name` copied as an ONNX attribute (INTS / INT / FLOAT), or NULL when it has none. */
static Onnx__AttributeProto *attr_copy(ex_ctx *c, const cn_attr *at, int n_at, const char *name, const char *as) {
    const cn_attr *a = cn_attr_find(at, n_at, name);
    if (!a) return NULL;
    if (a->type == CN_ATTR_INTS) return attr_is(c, as ? as : name, a->ints, a->count);
    if (a->type == CN_ATTR_INT) return attr_i(c, as ? as : name, a->ints[0]);
    if (a->type == CN_ATTR_FLOAT) return attr_f(c, as ? as : name, a->f);
    return NULL;
}

/* ---- nodes: inputs and outputs are NULL-terminated name lists; attributes a NULL-terminated list too. */
static Onnx__NodeProto *add_node(ex_ctx *c, const char *op, const char *name, const char *const *in, const char *out,
                                 Onnx__AttributeProto *const *attrs, int n_attrs) {
    Onnx__NodeProto *p = ex_alloc(c, sizeof *p);
    if (!p) return NULL;
    onnx__node_proto__init(p);
    p->op_type = ex_str(c, "%s", op);
    p->name = ex_str(c, "%s", name);
    size_t n_in = 0;
    while (in && in[n_in]) n_in++;
    p->input = ex_alloc(c, sizeof(char *) * (n_in ? n_in : 1));
    p->output = ex_alloc(c, sizeof(char *));
    if (!p->input || !p->output) return NULL;
    for (size_t i = 0; i < n_in; i++) p->input[i] = ex_str(c, "%s", in[i]);
    p->n_input = n_in;
    p->output[0] = ex_str(c, "%s", out);
    p->n_output = 1;
    int k = 0;
    p->attribute = ex_alloc(c, sizeof(Onnx__AttributeProto *) * (size_t)(n_attrs ? n_attrs : 1));
    if (!p->attribute) return NULL;
    for (int i = 0; i < n_attrs; i++)
        if (attrs[i]) p->attribute[k++] = attrs[i];
    p->n_attribute = (size_t)k;
    push_ptr(c, (void ***)&c->nodes, &c->n_nodes, &c->cap_nodes, p);
    return p;
}

/* A fresh value name derived from a node's. */
static char *tmp_name(ex_ctx *c, const char *base, const char *what) {
    return ex_str(c, "%s/%s_%d", base, what, c->tmp_counter++);
}

/* ---- initializers */
static Onnx__TensorProto *new_tensor(ex_ctx *c, const char *name, int ndim, const int64_t *dims) {
    Onnx__TensorProto *t = ex_alloc(c, sizeof *t);
    if (!t) return NULL;
    onnx__tensor_proto__init(t);
    t->name = ex_str(c, "%s", name);
    t->dims = ex_alloc(c, sizeof(int64_t) * (size_t)(ndim ? ndim : 1));
    if (!t->dims) return NULL;
    if (ndim > 0) memcpy(t->dims, dims, sizeof(int64_t) * (size_t)ndim);
    t->n_dims = (size_t)ndim;
    push_ptr(c, (void ***)&c->inits, &c->n_inits, &c->cap_inits, t);
    return t;
}

static void put_raw(Onnx__TensorProto *t, void *bytes, size_t len) {
    t->has_raw_data = 1;
    t->raw_data.data = bytes;
    t->raw_data.len = len;
}

/* A float initializer from cn_real values (little-endian raw data, as every exporter writes). */
static const char *init_float(ex_ctx *c, const char *name, int ndim, const int64_t *dims, const cn_real *v) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= dims[d];
    Onnx__TensorProto *t = new_tensor(c, name, ndim, dims);
    float *f = ex_alloc(c, sizeof(float) * (size_t)(n ? n : 1));
    if (!t || !f) return NULL;
    for (int64_t i = 0; i < n; i++) f[i] = (float)v[i];
    t->has_data_type = 1, t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    put_raw(t, f, sizeof(float) * (size_t)n);
    return t->name;
}

static const char *init_scalar(ex_ctx *c, const char *name, double v) {
    cn_real r = (cn_real)v;
    return init_float(c, name, 0, NULL, &r);
}

static const char *init_int64s(ex_ctx *c, const char *name, const int64_t *v, int n) {
    int64_t dims[1] = {n};
    Onnx__TensorProto *t = new_tensor(c, name, 1, dims);
    int64_t *d = ex_alloc(c, sizeof(int64_t) * (size_t)(n ? n : 1));
    if (!t || !d) return NULL;
    if (n > 0) memcpy(d, v, sizeof(int64_t) * (size_t)n);
    t->has_data_type = 1, t->data_type = ONNX__TENSOR_PROTO__DATA_TYPE__INT64;
    put_raw(t, d, sizeof(int64_t) * (size_t)n);
    return t->name;
}

/* The node's k-th parameter as an initializer named as in the graph (conv1.weight); shape as stored. */
static const char *init_param(ex_ctx *c, const cn_node *n, int k) {
    cn_param p = cn_param_get(c->g, n->params[k]);
    return init_float(c, p.name, p.value->shape.ndim, p.value->shape.dims, p.value->data);
}

/* The node's parameter whose name ends in "." suffix, or -1. */
static int param_index(const ex_ctx *c, const cn_node *n, const char *suffix) {
    size_t ls = strlen(suffix);
    for (int k = 0; k < n->n_params; k++) {
        const char *name = cn_param_get(c->g, n->params[k]).name;
        size_t l = strlen(name);
        if (l > ls && name[l - ls - 1] == '.' && strcmp(name + l - ls, suffix) == 0) return k;
    }
    return -1;
}

/* ---- value infos: float tensors, the batch axis symbolic */
static Onnx__ValueInfoProto *value_info(ex_ctx *c, const char *name, const cn_shape *s) {
    Onnx__ValueInfoProto *v = ex_alloc(c, sizeof *v);
    Onnx__TypeProto *tp = ex_alloc(c, sizeof *tp);
    Onnx__TypeProto__Tensor *tt = ex_alloc(c, sizeof *tt);
    Onnx__TensorShapeProto *sh = ex_alloc(c, sizeof *sh);
    Onnx__TensorShapeProto__Dimension **dims = ex_alloc(c, sizeof *dims * (size_t)(s->ndim ? s->ndim : 1));
    if (!v || !tp || !tt || !sh || !dims) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(sh);
    for (int d = 0; d < s->ndim; d++) {
        Onnx__TensorShapeProto__Dimension *dim = ex_alloc(c, sizeof *dim);
        if (!dim) return NULL;
        onnx__tensor_shape_proto__dimension__init(dim);
        if (d == 0) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim->dim_param = ex_str(c, "N");
        } else {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim->dim_value = s->dims[d];
        }
        dims[d] = dim;
    }
    sh->n_dim = (size_t)s->ndim, sh->dim = dims;
    tt->has_elem_type = 1, tt->elem_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    tt->shape = sh;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    v->name = ex_str(c, "%s", name);
    v->type = tp;
    return v;
}

/* ---- one graph node */
static bool is_loss(const cn_node *n) {
    const char *op = n->op->name;
    return !strcmp(op, "SoftmaxCrossEntropyLoss") || !strcmp(op, "HingeLoss") || !strcmp(op, "MSELoss");
}

#define A(...) ((Onnx__AttributeProto *const[]){__VA_ARGS__}), \
               (int)(sizeof((Onnx__AttributeProto *const[]){__VA_ARGS__}) / sizeof(Onnx__AttributeProto *))
#define IN(...) ((const char *const[]){__VA_ARGS__, NULL})

static cn_status unsupported(const cn_node *n, const char *why) {
    return cn_error(CN_ERR_UNSUPPORTED, "onnx export: node '%s' (%s): %s", n->name, n->op->name, why);
}

/* Gelu at opset 13: exact x * 0.5 * (1 + erf(x / sqrt(2))); tanh 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
static void export_gelu(ex_ctx *c, const cn_node *n, const char *x, bool exact) {
    const char *half = init_scalar(c, tmp_name(c, n->name, "half"), 0.5);
    const char *one = init_scalar(c, tmp_name(c, n->name, "one"), 1.0);
    const char *inner;
    if (exact) {
        const char *r2 = init_scalar(c, tmp_name(c, n->name, "sqrt2"), 1.4142135623730951);
        const char *d = tmp_name(c, n->name, "div");
        add_node(c, "Div", d, IN(x, r2), d, NULL, 0);
        inner = tmp_name(c, n->name, "erf");
        add_node(c, "Erf", inner, IN(d), inner, NULL, 0);
    } else {
        const char *k3 = init_scalar(c, tmp_name(c, n->name, "c"), 0.044715);
        const char *kk = init_scalar(c, tmp_name(c, n->name, "k"), 0.7978845608028654);
        const char *x2 = tmp_name(c, n->name, "x2"), *x3 = tmp_name(c, n->name, "x3");
        const char *cx3 = tmp_name(c, n->name, "cx3"), *s = tmp_name(c, n->name, "sum");
        const char *ks = tmp_name(c, n->name, "ks");
        add_node(c, "Mul", x2, IN(x, x), x2, NULL, 0);
        add_node(c, "Mul", x3, IN(x2, x), x3, NULL, 0);
        add_node(c, "Mul", cx3, IN(x3, k3), cx3, NULL, 0);
        add_node(c, "Add", s, IN(x, cx3), s, NULL, 0);
        add_node(c, "Mul", ks, IN(s, kk), ks, NULL, 0);
        inner = tmp_name(c, n->name, "tanh");
        add_node(c, "Tanh", inner, IN(ks), inner, NULL, 0);
    }
    const char *p1 = tmp_name(c, n->name, "plus1"), *hx = tmp_name(c, n->name, "halfx");
    add_node(c, "Add", p1, IN(inner, one), p1, NULL, 0);
    add_node(c, "Mul", hx, IN(x, half), hx, NULL, 0);
    add_node(c, "Mul", n->name, IN(hx, p1), n->name, NULL, 0);
}

/* x[b:e] on one axis (a Slice with its starts/ends/axes as initializers); out NULL: a fresh name. */
static const char *ex_slice(ex_ctx *c, const cn_node *n, const char *x, int axis, int64_t b, int64_t e, const char *out) {
    int64_t ax = axis;
    const char *sv = init_int64s(c, tmp_name(c, n->name, "starts"), &b, 1);
    const char *ev = init_int64s(c, tmp_name(c, n->name, "ends"), &e, 1);
    const char *av = init_int64s(c, tmp_name(c, n->name, "axes"), &ax, 1);
    const char *o = out ? out : tmp_name(c, n->name, "slice");
    add_node(c, "Slice", o, IN(x, sv, ev, av), o, NULL, 0);
    return o;
}

/* Circular (wrap) padding of one axis of size dim by b before and e after: Concat(x[dim-b:], x, x[:e]).
 * Axis by axis, the corners come out as a circular pad of the whole tensor (the wrap Pad mode is opset 19). */
static const char *ex_wrap_axis(ex_ctx *c, const cn_node *n, const char *x, int axis, int64_t dim, int64_t b, int64_t e,
                                const char *out) {
    if (b == 0 && e == 0) return x;
    const char *parts[4] = {0};
    int k = 0;
    if (b > 0) parts[k++] = ex_slice(c, n, x, axis, dim - b, dim, NULL);
    parts[k++] = x;
    if (e > 0) parts[k++] = ex_slice(c, n, x, axis, 0, e, NULL);
    const char *o = out ? out : tmp_name(c, n->name, "wrap");
    add_node(c, "Concat", o, parts, o, A(attr_i(c, "axis", axis)));
    return o;
}

/* Circular padding of every axis of x (shape xs) by begin[d] / end[d]; the last step writes out. */
static void ex_wrap(ex_ctx *c, const cn_node *n, const char *x, const cn_shape *xs, const int64_t *begin,
                    const int64_t *end, const char *out) {
    int last = -1;
    for (int d = 0; d < xs->ndim; d++)
        if (begin[d] || end[d]) last = d;
    if (last < 0) {
        add_node(c, "Identity", out, IN(x), out, NULL, 0);
        return;
    }
    for (int d = 0; d <= last; d++) x = ex_wrap_axis(c, n, x, d, xs->dims[d], begin[d], end[d], d == last ? out : NULL);
}

/* A float initializer of `count` copies of v, shaped dims. */
static const char *init_fill(ex_ctx *c, const char *name, int ndim, const int64_t *dims, double v) {
    int64_t count = 1;
    for (int d = 0; d < ndim; d++) count *= dims[d];
    cn_real *buf = ex_alloc(c, sizeof(cn_real) * (size_t)(count > 0 ? count : 1));
    if (!buf) return NULL;
    for (int64_t i = 0; i < count; i++) buf[i] = (cn_real)v;
    return init_float(c, name, ndim, dims, buf);
}

/* Reshape x to shape s with the batch axis (0) copied from the input: the batch stays symbolic. */
static const char *ex_reshape(ex_ctx *c, const cn_node *n, const char *x, const cn_shape *s, const char *out) {
    int64_t dims[CN_MAX_DIMS];
    for (int d = 0; d < s->ndim; d++) dims[d] = d == 0 ? 0 : s->dims[d];
    const char *sv = init_int64s(c, tmp_name(c, n->name, "shape"), dims, s->ndim);
    const char *o = out ? out : tmp_name(c, n->name, "reshape");
    add_node(c, "Reshape", o, IN(x, sv), o, NULL, 0);
    return o;
}

/* A per-channel parameter (C values) as a (C, 1, ...) initializer broadcasting over (N, C, spatial...). */
static const char *init_channel_param(ex_ctx *c, const cn_node *n, int k, int rank) {
    cn_param p = cn_param_get(c->g, n->params[k]);
    int64_t dims[CN_MAX_DIMS] = {cn_tensor_numel(p.value), 1, 1, 1, 1};
    return init_float(c, p.name, rank > 1 ? rank - 1 : 1, dims, p.value->data);
}

/* GroupNormalization at opset 13: Reshape (N, G, -1) -> InstanceNormalization (unit scale, zero bias) ->
 * Reshape back -> Mul weight -> Add bias (per channel). */
static cn_status export_groupnorm(ex_ctx *c, const cn_node *n, const char *x, const cn_shape *xs, const cn_attr *at, int n_at) {
    const cn_attr *g = cn_attr_find(at, n_at, "num_groups"), *eps = cn_attr_find(at, n_at, "epsilon");
    int64_t groups = g ? g->ints[0] : 1;
    cn_shape grouped = {.ndim = 3, .dims = {xs->dims[0], groups, -1}};
    const char *r = ex_reshape(c, n, x, &grouped, NULL);
    int64_t gd[1] = {groups};
    const char *s = init_fill(c, tmp_name(c, n->name, "ones"), 1, gd, 1.0), *b = init_fill(c, tmp_name(c, n->name, "zeros"), 1, gd, 0.0);
    const char *in = tmp_name(c, n->name, "inorm");
    add_node(c, "InstanceNormalization", in, IN(r, s, b), in, A(attr_f(c, "epsilon", eps ? eps->f : 1e-5)));
    bool affine = n->n_params >= 2;
    const char *back = ex_reshape(c, n, in, xs, affine ? NULL : n->name);
    if (affine) {
        const char *w = init_channel_param(c, n, 0, xs->ndim), *bb = init_channel_param(c, n, 1, xs->ndim);
        const char *m = tmp_name(c, n->name, "scaled");
        add_node(c, "Mul", m, IN(back, w), m, NULL, 0);
        add_node(c, "Add", n->name, IN(m, bb), n->name, NULL, 0);
    }
    return CN_OK;
}

/* LRN of an even size (ONNX's LRN centres an even window a channel later than PyTorch, and ONNX Runtime
 * takes odd sizes only): x / (k + alpha * mean of x^2 over the window)^beta, the mean an AveragePool over the
 * channels of x^2 viewed as (N, 1, C, rest), zero-padded by `before` channels before and the rest after. */
static void export_lrn_even(ex_ctx *c, const cn_node *n, const char *x, const cn_shape *xs, int64_t size, int64_t before,
                            double alpha, double beta, double k) {
    const char *sq = tmp_name(c, n->name, "sq");
    add_node(c, "Mul", sq, IN(x, x), sq, NULL, 0);
    int64_t rest = 1;
    for (int d = 2; d < xs->ndim; d++) rest *= xs->dims[d];
    cn_shape v = {.ndim = 4, .dims = {xs->dims[0], 1, xs->dims[1], rest}};
    const char *r = ex_reshape(c, n, sq, &v, NULL);
    int64_t pads[8] = {0, 0, before, 0, 0, 0, size - 1 - before, 0};
    const char *pv = init_int64s(c, tmp_name(c, n->name, "pads"), pads, 8);
    const char *padded = tmp_name(c, n->name, "padded");
    add_node(c, "Pad", padded, IN(r, pv), padded, NULL, 0);
    const char *mean = tmp_name(c, n->name, "mean");
    int64_t ks[2] = {size, 1};
    add_node(c, "AveragePool", mean, IN(padded), mean, A(attr_is(c, "kernel_shape", ks, 2)));
    const char *back = ex_reshape(c, n, mean, xs, NULL);
    const char *av = init_scalar(c, tmp_name(c, n->name, "alpha"), alpha), *kv = init_scalar(c, tmp_name(c, n->name, "k"), k);
    const char *bv = init_scalar(c, tmp_name(c, n->name, "negbeta"), -beta);
    const char *sc = tmp_name(c, n->name, "scaled"), *base = tmp_name(c, n->name, "base"), *pw = tmp_name(c, n->name, "pow");
    add_node(c, "Mul", sc, IN(back, av), sc, NULL, 0);
    add_node(c, "Add", base, IN(sc, kv), base, NULL, 0);
    add_node(c, "Pow", pw, IN(base, bv), pw, NULL, 0);
    add_node(c, "Mul", n->name, IN(x, pw), n->name, NULL, 0);
}

/* Adaptive average pooling to any size: per spatial axis, bin i = [floor(i in / out), ceil((i+1) in / out))
 * as Slice -> ReduceMean (keepdims) -> Concat of the bins (axis by axis: the bins are boxes). */
static void export_adaptive_bins(ex_ctx *c, const cn_node *n, const char *x, const cn_shape *xs) {
    int sp = xs->ndim - 2, last = -1;
    for (int d = 0; d < sp; d++)
        if (n->shape.dims[2 + d] != xs->dims[2 + d]) last = d;
    if (last < 0) {
        add_node(c, "Identity", n->name, IN(x), n->name, NULL, 0);
        return;
    }
    for (int d = 0; d <= last; d++) {
        int64_t in = xs->dims[2 + d], out = n->shape.dims[2 + d], axis = 2 + d;
        if (in == out) continue;
        const char **parts = ex_alloc(c, sizeof(char *) * (size_t)(out + 1));
        if (!parts) return;
        for (int64_t i = 0; i < out; i++) {
            int64_t lo = i * in / out, hi = ((i + 1) * in + out - 1) / out;
            const char *sl = hi - lo == in ? x : ex_slice(c, n, x, (int)axis, lo, hi, NULL);
            const char *m = tmp_name(c, n->name, "bin");
            add_node(c, "ReduceMean", m, IN(sl), m, A(attr_is(c, "axes", &axis, 1), attr_i(c, "keepdims", 1)));
            parts[i] = m;
        }
        const char *o = d == last ? n->name : tmp_name(c, n->name, "axis");
        if (out == 1) add_node(c, "Identity", o, IN(parts[0]), o, NULL, 0);
        else add_node(c, "Concat", o, parts, o, A(attr_i(c, "axis", axis)));
        x = o;
    }
}

/* Dilated average pooling (ONNX's AveragePool has dilations from opset 19 only): a depthwise Conv with unit
 * weights sums the window's real positions (zero padding, the end padding grown to reach the ceil-mode
 * output), then a Mul by 1 / divisor, a constant map of the output positions (the pooling's rule). */
static void export_avgpool_dilated(ex_ctx *c, const cn_node *n, const char *x, const cn_shape *xs, const cn_attr *at, int n_at) {
    const cn_attr *ka = cn_attr_find(at, n_at, "kernel_shape"), *sa = cn_attr_find(at, n_at, "strides");
    const cn_attr *pa = cn_attr_find(at, n_at, "pads"), *da = cn_attr_find(at, n_at, "dilations");
    const cn_attr *cip = cn_attr_find(at, n_at, "count_include_pad");
    int sp = xs->ndim - 2;
    int64_t ch = xs->dims[1], pads[2 * CN_MAX_SPATIAL], wd[CN_MAX_DIMS] = {ch, 1};
    int64_t *div[CN_MAX_SPATIAL], *pad_cnt[CN_MAX_SPATIAL];
    for (int d = 0; d < sp; d++) {
        int64_t k = ka->ints[d], st = sa->ints[d], p = pa->ints[d], dl = da->ints[d], in = xs->dims[2 + d];
        int64_t out = n->shape.dims[2 + d], eff = (k - 1) * dl + 1, pe = (out - 1) * st + eff - in - p;
        pads[d] = p, pads[sp + d] = pe > 0 ? pe : 0;
        wd[2 + d] = k;
        div[d] = ex_alloc(c, sizeof(int64_t) * (size_t)out);
        pad_cnt[d] = ex_alloc(c, sizeof(int64_t) * (size_t)out);
        if (!div[d] || !pad_cnt[d]) return;
        for (int64_t o = 0; o < out; o++) { /* taps inside [0, in) and inside [-p, in + p) */
            int64_t real = 0, padded = 0;
            for (int64_t t = 0; t < k; t++) {
                int64_t i = o * st - p + t * dl;
                real += i >= 0 && i < in;
                padded += i < in + p;
            }
            div[d][o] = real, pad_cnt[d][o] = padded;
        }
    }
    const char *w = init_fill(c, tmp_name(c, n->name, "ones"), xs->ndim, wd, 1.0);
    const char *sum = tmp_name(c, n->name, "sum");
    add_node(c, "Conv", sum, IN(x, w), sum,
             A(attr_copy(c, at, n_at, "kernel_shape", NULL), attr_copy(c, at, n_at, "strides", NULL),
               attr_copy(c, at, n_at, "dilations", NULL), attr_is(c, "pads", pads, 2 * sp), attr_i(c, "group", ch)));
    int64_t total = shape_spatial(&n->shape);
    cn_real *inv = ex_alloc(c, sizeof(cn_real) * (size_t)total);
    if (!inv) return;
    for (int64_t f = 0; f < total; f++) {
        int64_t rem = f, dv = 1;
        for (int d = sp - 1; d >= 0; d--) {
            int64_t o = rem % n->shape.dims[2 + d];
            rem /= n->shape.dims[2 + d];
            dv *= cip && cip->ints[0] ? pad_cnt[d][o] : div[d][o];
        }
        inv[f] = dv > 0 ? (cn_real)(1.0 / (double)dv) : 0;
    }
    const char *iv = init_float(c, tmp_name(c, n->name, "inv_count"), sp, n->shape.dims + 2, inv);
    add_node(c, "Mul", n->name, IN(sum, iv), n->name, NULL, 0);
}

static cn_status export_node(ex_ctx *c, const cn_node *n) {
    const cn_graph *g = c->g;
    cn_attr at[CN_MAX_ATTRS];
    int id = cn_graph_find(g, n->name);
    int n_at = cn_node_attrs(g, id, at, CN_MAX_ATTRS);
    const char *op = n->op->name, *out = n->name;
    const char *x = n->n_inputs > 0 ? graph_node(g, n->inputs[0])->name : NULL;
    const cn_shape *xs = n->n_inputs > 0 ? graph_in_shape(g, n, 0) : NULL;
    if (n_at < 0) n_at = 0;

    if (!strcmp(op, "Conv")) {
        const cn_attr *mode = cn_attr_find(at, n_at, "pad_mode");
        const cn_attr *pads = cn_attr_find(at, n_at, "pads");
        Onnx__AttributeProto *pad_attr = attr_copy(c, at, n_at, "pads", NULL);
        if (mode && !strcmp(mode->s, "circular")) { /* Slice + Concat per axis, then a Conv without pads */
            int r = xs->ndim, sp = r - 2;
            int64_t b[CN_MAX_DIMS] = {0}, e[CN_MAX_DIMS] = {0}, zero[2 * CN_MAX_DIMS] = {0};
            for (int d = 0; d < sp; d++) b[2 + d] = pads->ints[d], e[2 + d] = pads->ints[sp + d];
            const char *padded = tmp_name(c, n->name, "padded");
            ex_wrap(c, n, x, xs, b, e, padded);
            x = padded;
            pad_attr = attr_is(c, "pads", zero, 2 * sp);
        } else if (mode && strcmp(mode->s, "zeros") != 0) {
            int r = xs->ndim, sp = r - 2;
            int64_t all[2 * CN_MAX_DIMS] = {0}, zero[2 * CN_MAX_DIMS] = {0};
            for (int d = 0; d < sp; d++) all[2 + d] = pads->ints[d], all[r + 2 + d] = pads->ints[sp + d];
            const char *pv = init_int64s(c, tmp_name(c, n->name, "pads"), all, 2 * r);
            const char *padded = tmp_name(c, n->name, "padded");
            add_node(c, "Pad", padded, IN(x, pv), padded,
                     A(attr_s(c, "mode", !strcmp(mode->s, "reflect") ? "reflect" : "edge")));
            x = padded;
            pad_attr = attr_is(c, "pads", zero, 2 * sp);
        }
        const char *w = init_param(c, n, 0), *b = n->n_params > 1 ? init_param(c, n, 1) : NULL;
        add_node(c, "Conv", n->name, b ? IN(x, w, b) : IN(x, w), out,
                 A(attr_copy(c, at, n_at, "kernel_shape", NULL), attr_copy(c, at, n_at, "strides", NULL),
                   attr_copy(c, at, n_at, "dilations", NULL), pad_attr, attr_copy(c, at, n_at, "group", NULL)));
    } else if (!strcmp(op, "AveragePool") && cn_attr_find(at, n_at, "dilations")) {
        export_avgpool_dilated(c, n, x, xs, at, n_at);
    } else if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool")) {
        add_node(c, op, n->name, IN(x), out,
                 A(attr_copy(c, at, n_at, "kernel_shape", NULL), attr_copy(c, at, n_at, "strides", NULL),
                   attr_copy(c, at, n_at, "pads", NULL), attr_copy(c, at, n_at, "dilations", NULL),
                   attr_copy(c, at, n_at, "ceil_mode", NULL), attr_copy(c, at, n_at, "count_include_pad", NULL)));
    } else if (!strcmp(op, "GlobalAveragePool") || !strcmp(op, "GlobalMaxPool") || !strcmp(op, "Relu") ||
               !strcmp(op, "Sigmoid") || !strcmp(op, "Tanh") || !strcmp(op, "MatMul") || !strcmp(op, "Erf") ||
               !strcmp(op, "Sub") || !strcmp(op, "Mul") || !strcmp(op, "Div")) {
        if (n->n_inputs == 2) add_node(c, op, n->name, IN(x, graph_node(g, n->inputs[1])->name), out, NULL, 0);
        else add_node(c, op, n->name, IN(x), out, NULL, 0);
    } else if (!strcmp(op, "Add")) { /* two or more inputs: a chain */
        const char *acc = x;
        for (int i = 1; i < n->n_inputs; i++) {
            const char *o = i == n->n_inputs - 1 ? out : tmp_name(c, n->name, "sum");
            add_node(c, "Add", i == n->n_inputs - 1 ? n->name : o, IN(acc, graph_node(g, n->inputs[i])->name), o, NULL, 0);
            acc = o;
        }
        if (n->n_inputs == 1) add_node(c, "Identity", n->name, IN(x), out, NULL, 0);
    } else if (!strcmp(op, "AdaptiveAvgPool")) {
        int sp = xs->ndim - 2;
        bool global = true, divides = true;
        int64_t k[CN_MAX_DIMS];
        for (int d = 0; d < sp; d++) {
            int64_t o = n->shape.dims[2 + d], i = xs->dims[2 + d];
            global = global && o == 1;
            divides = divides && i % o == 0;
            k[d] = o ? i / o : 1;
        }
        if (global) add_node(c, "GlobalAveragePool", n->name, IN(x), out, NULL, 0);
        else if (divides) add_node(c, "AveragePool", n->name, IN(x), out, A(attr_is(c, "kernel_shape", k, sp), attr_is(c, "strides", k, sp)));
        else if (shape_spatial(xs) == 1) { /* 1x1 to a larger size: every output is the one input value */
            int64_t dims[CN_MAX_DIMS] = {1, 1, 1, 1, 1};
            for (int d = 0; d < sp; d++) dims[2 + d] = n->shape.dims[2 + d];
            int64_t total = shape_spatial(&n->shape);
            cn_real *ones = ex_alloc(c, sizeof(cn_real) * (size_t)total);
            if (!ones) return cn_error(CN_ERR_NOMEM, "onnx export: out of memory");
            for (int64_t i = 0; i < total; i++) ones[i] = 1;
            const char *o = init_float(c, tmp_name(c, n->name, "ones"), xs->ndim, dims, ones);
            add_node(c, "Mul", n->name, IN(x, o), out, NULL, 0);
        } else export_adaptive_bins(c, n, x, xs);
    } else if (!strcmp(op, "Gemm")) {
        if (xs->ndim != 2) {
            const char *f = tmp_name(c, n->name, "flat");
            add_node(c, "Flatten", f, IN(x), f, A(attr_i(c, "axis", 1)));
            x = f;
        }
        const char *w = init_param(c, n, 0), *b = n->n_params > 1 ? init_param(c, n, 1) : NULL;
        add_node(c, "Gemm", n->name, b ? IN(x, w, b) : IN(x, w), out, A(attr_i(c, "transB", 1)));
    } else if (!strcmp(op, "Flatten") || !strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax") || !strcmp(op, "Concat")) {
        if (!strcmp(op, "Concat")) {
            const char *ins[CN_MAX_INPUTS_EXPORT + 1] = {0};
            if (n->n_inputs > CN_MAX_INPUTS_EXPORT) return unsupported(n, "too many inputs");
            for (int i = 0; i < n->n_inputs; i++) ins[i] = graph_node(g, n->inputs[i])->name;
            add_node(c, op, n->name, ins, out, A(attr_copy(c, at, n_at, "axis", NULL)));
        } else add_node(c, op, n->name, IN(x), out, A(attr_copy(c, at, n_at, "axis", NULL)));
    } else if (!strcmp(op, "LeakyRelu") || !strcmp(op, "Elu")) {
        add_node(c, op, n->name, IN(x), out, A(attr_copy(c, at, n_at, "alpha", NULL)));
    } else if (!strcmp(op, "Gelu")) {
        const cn_attr *kind = cn_attr_find(at, n_at, "gelu");
        export_gelu(c, n, x, !kind || strcmp(kind->s, "tanh") != 0);
    } else if (!strcmp(op, "PRelu")) { /* slope (C) broadcast as (C, 1, ...) over the channel axis */
        cn_param p = cn_param_get(g, n->params[0]);
        int64_t dims[CN_MAX_DIMS] = {p.value->shape.dims[0], 1, 1, 1, 1};
        int r = p.value->shape.dims[0] > 1 && xs->ndim > 2 ? xs->ndim - 1 : 1;
        const char *w = init_float(c, p.name, r, dims, p.value->data);
        add_node(c, "PRelu", n->name, IN(x, w), out, NULL, 0);
    } else if (!strcmp(op, "BatchNormalization")) {
        const cn_attr *m = cn_attr_find(at, n_at, "momentum");
        int kw = param_index(c, n, "weight"), kb = param_index(c, n, "bias");
        int km = param_index(c, n, "running_mean"), kv = param_index(c, n, "running_var");
        if (kw < 0 || kb < 0 || km < 0 || kv < 0) return unsupported(n, "batch norm without weight, bias and running statistics");
        add_node(c, op, n->name, IN(x, init_param(c, n, kw), init_param(c, n, kb), init_param(c, n, km), init_param(c, n, kv)),
                 out, A(attr_copy(c, at, n_at, "epsilon", NULL), attr_f(c, "momentum", 1.0 - (m ? m->f : 0.1))));
    } else if (!strcmp(op, "InstanceNormalization")) {
        int ch = (int)xs->dims[1];
        const char *s, *b;
        if (n->n_params >= 2) s = init_param(c, n, 0), b = init_param(c, n, 1);
        else {
            cn_real *ones = ex_alloc(c, sizeof(cn_real) * (size_t)ch), *zeros = ex_alloc(c, sizeof(cn_real) * (size_t)ch);
            if (!ones || !zeros) return cn_error(CN_ERR_NOMEM, "onnx export: out of memory");
            for (int i = 0; i < ch; i++) ones[i] = 1;
            int64_t d[1] = {ch};
            s = init_float(c, tmp_name(c, n->name, "scale"), 1, d, ones);
            b = init_float(c, tmp_name(c, n->name, "bias"), 1, d, zeros);
        }
        add_node(c, op, n->name, IN(x, s, b), out, A(attr_copy(c, at, n_at, "epsilon", NULL)));
    } else if (!strcmp(op, "LRN")) {
        const cn_attr *size = cn_attr_find(at, n_at, "size"), *wb = cn_attr_find(at, n_at, "window_before");
        if (size && size->ints[0] % 2 == 0) {
            const cn_attr *al = cn_attr_find(at, n_at, "alpha"), *be = cn_attr_find(at, n_at, "beta"), *k = cn_attr_find(at, n_at, "bias");
            export_lrn_even(c, n, x, xs, size->ints[0], wb ? wb->ints[0] : size->ints[0] / 2, al ? al->f : 1e-4,
                            be ? be->f : 0.75, k ? k->f : 1.0);
            return c->failed ? cn_error(CN_ERR_NOMEM, "onnx export: out of memory") : CN_OK;
        }
        add_node(c, op, n->name, IN(x), out,
                 A(attr_copy(c, at, n_at, "size", NULL), attr_copy(c, at, n_at, "alpha", NULL),
                   attr_copy(c, at, n_at, "beta", NULL), attr_copy(c, at, n_at, "bias", NULL)));
    } else if (!strcmp(op, "Dropout")) {
        const cn_attr *r = cn_attr_find(at, n_at, "ratio");
        const char *ratio = init_scalar(c, tmp_name(c, n->name, "ratio"), r ? r->f : 0.5);
        add_node(c, op, n->name, IN(x, ratio), out, NULL, 0);
    } else if (!strcmp(op, "Constant")) {
        add_node(c, "Identity", n->name, IN(init_param(c, n, 0)), out, NULL, 0);
    } else if (!strcmp(op, "Reshape")) {
        const cn_attr *s = cn_attr_find(at, n_at, "shape");
        const char *sv = init_int64s(c, tmp_name(c, n->name, "shape"), s->ints, s->count);
        add_node(c, op, n->name, IN(x, sv), out, NULL, 0);
    } else if (!strcmp(op, "Transpose")) {
        add_node(c, op, n->name, IN(x), out, A(attr_copy(c, at, n_at, "perm", NULL)));
    } else if (!strcmp(op, "Clip")) {
        const cn_attr *lo = cn_attr_find(at, n_at, "min"), *hi = cn_attr_find(at, n_at, "max");
        const char *l = init_scalar(c, tmp_name(c, n->name, "min"), lo->f);
        const char *h = init_scalar(c, tmp_name(c, n->name, "max"), hi->f);
        add_node(c, op, n->name, IN(x, l, h), out, NULL, 0);
    } else if (!strcmp(op, "Pad")) {
        const cn_attr *p = cn_attr_find(at, n_at, "pads"), *mode = cn_attr_find(at, n_at, "mode");
        const cn_attr *v = cn_attr_find(at, n_at, "value");
        const cn_attr *pb = cn_attr_find(at, n_at, "pad_begins"), *pe = cn_attr_find(at, n_at, "pad_ends");
        int64_t all[2 * CN_MAX_DIMS];
        int r = xs->ndim;
        if (pb && pe && pb->count == r && pe->count == r) {
            for (int d = 0; d < r; d++) all[d] = pb->ints[d], all[r + d] = pe->ints[d];
        } else if (p->count == 2 * r) {
            for (int d = 0; d < 2 * r; d++) all[d] = p->ints[d];
        } else return unsupported(n, "the pads are not listed by its attributes");
        if (!strcmp(mode->s, "wrap")) { /* Pad mode wrap is opset 19: Slice + Concat per axis */
            ex_wrap(c, n, x, xs, all, all + r, out);
            return c->failed ? cn_error(CN_ERR_NOMEM, "onnx export: out of memory") : CN_OK;
        }
        const char *pv = init_int64s(c, tmp_name(c, n->name, "pads"), all, 2 * r);
        const char *cv = init_scalar(c, tmp_name(c, n->name, "value"), v->f);
        add_node(c, op, n->name, IN(x, pv, cv), out, A(attr_s(c, "mode", mode->s)));
    } else if (!strcmp(op, "ReduceMean")) {
        add_node(c, op, n->name, IN(x), out, A(attr_copy(c, at, n_at, "axes", NULL), attr_copy(c, at, n_at, "keepdims", NULL)));
    } else if (!strcmp(op, "LayerNormalization")) { /* opset 17: normalises axes [axis, rank) */
        const cn_attr *k = cn_attr_find(at, n_at, "normalized_ndim");
        int nd = k ? (int)k->ints[0] : 1, axis = xs->ndim - nd;
        const char *s, *b;
        if (n->n_params >= 2) s = init_param(c, n, 0), b = init_param(c, n, 1);
        else {
            int64_t count = 1;
            for (int d = axis; d < xs->ndim; d++) count *= xs->dims[d];
            cn_real *ones = ex_alloc(c, sizeof(cn_real) * (size_t)count), *zeros = ex_alloc(c, sizeof(cn_real) * (size_t)count);
            if (!ones || !zeros) return cn_error(CN_ERR_NOMEM, "onnx export: out of memory");
            for (int64_t i = 0; i < count; i++) ones[i] = 1;
            s = init_float(c, tmp_name(c, n->name, "scale"), nd, xs->dims + axis, ones);
            b = init_float(c, tmp_name(c, n->name, "bias"), nd, xs->dims + axis, zeros);
        }
        add_node(c, op, n->name, IN(x, s, b), out, A(attr_i(c, "axis", axis), attr_copy(c, at, n_at, "epsilon", NULL)));
    } else if (!strcmp(op, "GroupNormalization")) {
        cn_status st = export_groupnorm(c, n, x, xs, at, n_at);
        if (st) return st;
    } else if (!strcmp(op, "Pow")) {
        const cn_attr *e = cn_attr_find(at, n_at, "exponent");
        add_node(c, op, n->name, IN(x, init_scalar(c, tmp_name(c, n->name, "exponent"), e ? e->f : 1.0)), out, NULL, 0);
    } else if (!strcmp(op, "Slice")) {
        const cn_attr *sa = cn_attr_find(at, n_at, "starts"), *ea = cn_attr_find(at, n_at, "ends"), *ta = cn_attr_find(at, n_at, "steps");
        int64_t axes[CN_MAX_DIMS];
        for (int d = 0; d < sa->count; d++) axes[d] = d;
        const char *sv = init_int64s(c, tmp_name(c, n->name, "starts"), sa->ints, sa->count);
        const char *ev = init_int64s(c, tmp_name(c, n->name, "ends"), ea->ints, ea->count);
        const char *av = init_int64s(c, tmp_name(c, n->name, "axes"), axes, sa->count);
        const char *tv = init_int64s(c, tmp_name(c, n->name, "steps"), ta->ints, ta->count);
        add_node(c, op, n->name, IN(x, sv, ev, av, tv), out, NULL, 0);
    } else {
        return unsupported(n, "no ONNX export for this op");
    }
    return c->failed ? cn_error(CN_ERR_NOMEM, "onnx export: out of memory") : CN_OK;
}

/* ---- the whole graph */
cn_status cn_onnx_save(const cn_graph *g, const char *path, const int *outputs, int n_outputs) {
    if (!g || !path) return cn_error(CN_ERR_INVALID, "onnx export: need a graph and a path");
    int count = cn_graph_node_count(g);
    bool *needed = calloc((size_t)count + 1, sizeof *needed), *read = calloc((size_t)count + 1, sizeof *read);
    bool *is_out = calloc((size_t)count + 1, sizeof *is_out);
    ex_ctx c = {.g = g};
    cn_status st = CN_OK;
    uint8_t *buf = NULL;
    char *tmp = NULL;
    if (!needed || !read || !is_out) {
        st = cn_error(CN_ERR_NOMEM, "onnx export: out of memory");
        goto done;
    }
    /* The outputs: those given, else every node that is marked or read by nothing but losses. */
    for (int i = 0; i < count; i++) {
        const cn_node *n = graph_node(g, i);
        if (is_loss(n)) continue;
        for (int k = 0; k < n->n_inputs; k++) read[n->inputs[k]] = true;
    }
    if (outputs && n_outputs > 0) {
        for (int i = 0; i < n_outputs; i++) {
            if (outputs[i] < 0 || outputs[i] >= count) {
                st = cn_error(CN_ERR_INVALID, "onnx export: output node %d does not exist", outputs[i]);
                goto done;
            }
            is_out[outputs[i]] = true;
        }
    } else {
        for (int i = 0; i < count; i++) {
            const cn_node *n = graph_node(g, i);
            if (!is_loss(n) && (n->is_output || !read[i]) && strcmp(n->op->name, "Input") != 0) is_out[i] = true;
        }
    }
    int n_out = 0;
    int opset = EXPORT_OPSET;
    for (int i = count - 1; i >= 0; i--) {
        if (is_out[i]) needed[i] = true, n_out++;
        if (!needed[i]) continue;
        const cn_node *n = graph_node(g, i);
        if (!strcmp(n->op->name, "LayerNormalization")) opset = EXPORT_OPSET_LAYERNORM;
        if (is_loss(n)) {
            st = cn_error(CN_ERR_INVALID, "onnx export: output '%s' is a loss; export the layers before it", n->name);
            goto done;
        }
        for (int k = 0; k < n->n_inputs; k++) needed[n->inputs[k]] = true;
    }
    if (n_out == 0) {
        st = cn_error(CN_ERR_INVALID, "onnx export: the graph has no output to export");
        goto done;
    }
    Onnx__ValueInfoProto **ins = ex_alloc(&c, sizeof(void *) * (size_t)count);
    Onnx__ValueInfoProto **outs = ex_alloc(&c, sizeof(void *) * (size_t)count);
    int n_ins = 0, n_outs = 0;
    for (int i = 0; i < count && !st && !c.failed; i++) {
        if (!needed[i]) continue;
        const cn_node *n = graph_node(g, i);
        if (!strcmp(n->op->name, "Input")) ins[n_ins++] = value_info(&c, n->name, &n->shape);
        else st = export_node(&c, n);
        if (is_out[i] && !c.failed) outs[n_outs++] = value_info(&c, n->name, &n->shape);
    }
    if (st) goto done;
    if (c.failed) {
        st = cn_error(CN_ERR_NOMEM, "onnx export: out of memory");
        goto done;
    }
    Onnx__GraphProto gp = ONNX__GRAPH_PROTO__INIT;
    gp.name = "convnet";
    gp.n_node = (size_t)c.n_nodes, gp.node = c.nodes;
    gp.n_initializer = (size_t)c.n_inits, gp.initializer = c.inits;
    gp.n_input = (size_t)n_ins, gp.input = ins;
    gp.n_output = (size_t)n_outs, gp.output = outs;
    Onnx__OperatorSetIdProto opset_id = ONNX__OPERATOR_SET_ID_PROTO__INIT, *opsets[1] = {&opset_id};
    opset_id.domain = "";
    opset_id.has_version = 1, opset_id.version = opset;
    Onnx__ModelProto m = ONNX__MODEL_PROTO__INIT;
    m.has_ir_version = 1, m.ir_version = opset == EXPORT_OPSET ? EXPORT_IR_VERSION : EXPORT_IR_VERSION_LAYERNORM;
    m.n_opset_import = 1, m.opset_import = opsets;
    m.producer_name = "convnet";
    m.producer_version = "0.1";
    m.graph = &gp;
    size_t size = onnx__model_proto__get_packed_size(&m);
    buf = malloc(size ? size : 1);
    tmp = malloc(strlen(path) + 16);
    if (!buf || !tmp) {
        st = cn_error(CN_ERR_NOMEM, "onnx export: out of memory for %zu bytes", size);
        goto done;
    }
    onnx__model_proto__pack(&m, buf);
    /* Write next to the target and rename: a reader never sees half a file. */
    sprintf(tmp, "%s.tmpXXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = cn_error(CN_ERR_IO, "onnx export: cannot create a file next to %s: %s", path, strerror(errno));
        goto done;
    }
    FILE *f = fdopen(fd, "wb");
    bool ok = f && fwrite(buf, 1, size, f) == size;
    ok = (f ? fclose(f) == 0 : (close(fd), false)) && ok;
    if (!ok || rename(tmp, path) != 0) {
        st = cn_error(CN_ERR_IO, "onnx export: cannot write %s: %s", path, strerror(errno));
        remove(tmp);
    }
done:
    for (int i = 0; i < c.n_owned; i++) free(c.owned[i]);
    free(c.owned);
    free(c.nodes);
    free(c.inits);
    free(needed);
    free(read);
    free(is_out);
    free(buf);
    free(tmp);
    return st;
}
