/* summary.c — the analysis pass behind `convnet summary`: per node its output and weight shapes, parameters,
 * multiply-adds (the op's macs), activation bytes, receptive field and jump, and a compact lecture-style
 * description made from the node's attributes ("conv 20 k5 s1 p2"). Everything is read from the graph. */
#include "internal.h"
#include <stdio.h>

/* ---------------------------------------------------------------- descriptions */
typedef struct {
    char *buf;
    size_t size, len;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
    if (t->len >= t->size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(t->buf + t->len, t->size - t->len, fmt, ap);
    va_end(ap);
    if (n > 0) t->len = t->len + (size_t)n < t->size ? t->len + (size_t)n : t->size - 1;
}

typedef struct {
    const cn_attr *list;
    int count;
} attr_set;

static const cn_attr *find(const attr_set *a, const char *name) { return cn_attr_find(a->list, a->count, name); }
static int64_t int_of(const attr_set *a, const char *name, int64_t fallback) {
    const cn_attr *x = find(a, name);
    return x && (x->type == CN_ATTR_INT || x->type == CN_ATTR_INTS) && x->count > 0 ? x->ints[0] : fallback;
}
static double float_of(const attr_set *a, const char *name, double fallback) {
    const cn_attr *x = find(a, name);
    return x && x->type == CN_ATTR_FLOAT ? x->f : fallback;
}

/* " k5" for equal values, " k3x5" otherwise; from values [first, first+count). Nothing when every value is
 * `skip` (e.g. dilation 1). */
static void put_list(text *t, const char *key, const int64_t *v, int count, int64_t skip) {
    bool all_equal = true, all_skip = true;
    for (int i = 0; i < count; i++) {
        all_equal = all_equal && v[i] == v[0];
        all_skip = all_skip && v[i] == skip;
    }
    if (count == 0 || all_skip) return;
    put(t, " %s", key);
    for (int i = 0; i < (all_equal ? 1 : count); i++) put(t, "%s%lld", i ? "x" : "", (long long)v[i]);
}

static void put_ints_attr(text *t, const attr_set *a, const char *name, const char *key, int64_t skip) {
    const cn_attr *x = find(a, name);
    if (x && x->type == CN_ATTR_INTS) put_list(t, key, x->ints, x->count, skip);
}

/* Kernel, stride, padding and dilation of a sliding window: " k5 s1 p2", asymmetric pads as " p1x2/0x3"
 * (begins/ends). A padding of 0 is shown when zero_pad (convolutions, as in the lectures' tables). */
static void put_window(text *t, const attr_set *a, bool zero_pad) {
    put_ints_attr(t, a, "kernel_shape", "k", INT64_MIN);
    put_ints_attr(t, a, "strides", "s", INT64_MIN);
    const cn_attr *p = find(a, "pads");
    if (p && p->type == CN_ATTR_INTS && p->count % 2 == 0) {
        int nd = p->count / 2;
        bool symmetric = true;
        for (int i = 0; i < nd; i++) symmetric = symmetric && p->ints[i] == p->ints[nd + i];
        bool all_zero = true;
        for (int i = 0; i < 2 * nd; i++) all_zero = all_zero && p->ints[i] == 0;
        if (!all_zero || zero_pad) put_list(t, "p", p->ints, nd, INT64_MIN);
        if (!symmetric) {
            bool ends_equal = true;
            for (int i = 0; i < nd; i++) ends_equal = ends_equal && p->ints[nd + i] == p->ints[nd];
            for (int i = 0; i < (ends_equal ? 1 : nd); i++) put(t, "%s%lld", i ? "x" : "/", (long long)p->ints[nd + i]);
        }
    }
    put_ints_attr(t, a, "dilations", "d", 1);
}

/* Every attribute as key=value: the description of an op this file does not know. */
static void put_generic(text *t, const attr_set *a) {
    for (int i = 0; i < a->count; i++) {
        const cn_attr *x = &a->list[i];
        put(t, " %s=", x->name);
        if (x->type == CN_ATTR_INT) put(t, "%lld", (long long)x->ints[0]);
        else if (x->type == CN_ATTR_FLOAT) put(t, "%g", x->f);
        else if (x->type == CN_ATTR_STRING) put(t, "%s", x->s);
        else
            for (int j = 0; j < x->count; j++) put(t, "%s%lld", j ? "," : "", (long long)x->ints[j]);
    }
}

/* "conv 20 k5 s1 p2", "maxpool k2 s2", "fc 500", "relu", ... from the op name and attributes. */
static void describe(const char *op, const attr_set *a, text *t) {
    if (!strcmp(op, "Input")) put(t, "input");
    else if (!strcmp(op, "Conv")) {
        put(t, "conv %lld", (long long)int_of(a, "out_channels", 0));
        put_window(t, a, true);
        if (int_of(a, "group", 1) != 1) put(t, " g%lld", (long long)int_of(a, "group", 1));
        if (!int_of(a, "has_bias", 1)) put(t, " nobias");
        const cn_attr *m = find(a, "pad_mode");
        if (m && m->type == CN_ATTR_STRING && strcmp(m->s, "zeros") != 0) put(t, " %s", m->s);
    } else if (!strcmp(op, "MaxPool") || !strcmp(op, "AveragePool")) {
        put(t, "%s", op[0] == 'M' ? "maxpool" : "avgpool");
        put_window(t, a, false);
        if (int_of(a, "ceil_mode", 0)) put(t, " ceil");
        if (!int_of(a, "count_include_pad", 1)) put(t, " excludepad");
    } else if (!strcmp(op, "GlobalAveragePool")) put(t, "globalavgpool");
    else if (!strcmp(op, "GlobalMaxPool")) put(t, "globalmaxpool");
    else if (!strcmp(op, "AdaptiveAvgPool")) {
        put(t, "adaptiveavgpool");
        put_ints_attr(t, a, "output_size", "", INT64_MIN);
    } else if (!strcmp(op, "Gemm")) {
        put(t, "fc %lld", (long long)int_of(a, "out_features", 0));
        if (!int_of(a, "has_bias", 1)) put(t, " nobias");
    } else if (!strcmp(op, "LeakyRelu") || !strcmp(op, "Elu")) {
        put(t, "%s %g", op[0] == 'L' ? "leakyrelu" : "elu", float_of(a, "alpha", 0));
    } else if (!strcmp(op, "Gelu")) {
        const cn_attr *m = find(a, "gelu");
        put(t, "gelu%s", m && m->type == CN_ATTR_STRING && !strcmp(m->s, "tanh") ? " tanh" : "");
    } else if (!strcmp(op, "PRelu")) put(t, "prelu %lld", (long long)int_of(a, "num_parameters", 1));
    else if (!strcmp(op, "Softmax") || !strcmp(op, "LogSoftmax")) {
        put(t, "%s", op[0] == 'S' ? "softmax" : "logsoftmax");
        if (int_of(a, "axis", 1) != 1) put(t, " axis %lld", (long long)int_of(a, "axis", 1));
    } else if (!strcmp(op, "BatchNormalization")) put(t, "batchnorm");
    else if (!strcmp(op, "LayerNormalization")) put(t, "layernorm %lld", (long long)int_of(a, "normalized_ndim", 1));
    else if (!strcmp(op, "InstanceNormalization")) put(t, "instancenorm");
    else if (!strcmp(op, "GroupNormalization")) put(t, "groupnorm %lld", (long long)int_of(a, "num_groups", 1));
    else if (!strcmp(op, "LRN"))
        put(t, "lrn %lld a%g b%g k%g", (long long)int_of(a, "size", 0), float_of(a, "alpha", 0), float_of(a, "beta", 0),
            float_of(a, "bias", 0));
    else if (!strcmp(op, "Dropout")) put(t, "dropout %g", float_of(a, "ratio", 0));
    else if (!strcmp(op, "SoftmaxCrossEntropyLoss")) {
        put(t, "crossentropy");
        if (float_of(a, "label_smoothing", 0) != 0) put(t, " smoothing %g", float_of(a, "label_smoothing", 0));
    } else if (!strcmp(op, "HingeLoss")) put(t, "hinge %g", float_of(a, "margin", 1));
    else if (!strcmp(op, "MSELoss")) put(t, "mse");
    else {
        /* Relu, Sigmoid, Tanh, Flatten, Add, Concat, and ops added later: the lower-case name. */
        for (const char *c = op; *c; c++) put(t, "%c", *c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        if (strcmp(op, "Flatten") != 0 && strcmp(op, "Concat") != 0) put_generic(t, a);
    }
}

/* ---------------------------------------------------------------- receptive field */
typedef struct {
    int64_t rf, jump;   /* 0: not spatial */
    int64_t map;        /* the feature map's size along the tracked axis (kept through flatten) */
    int64_t extent;     /* the input's size along it */
    int axis;           /* the tracked axis, counted from the end of the shape: 2 for H, 1 for W */
} field;

/* An input: H of (N,C,H,W) and (N,C,D,H,W), W of (N,C,W); nothing for other ranks. */
static field input_field(const cn_shape *s) {
    field f = {0};
    if (s->ndim < 3) return f;
    f.axis = s->ndim >= 4 ? 2 : 1;
    f.rf = f.jump = 1;
    f.map = f.extent = s->dims[s->ndim - f.axis];
    return f;
}

/* The largest field over the node's inputs (the largest jump too); the map and axis of the input with the
 * largest field. */
static field merge_inputs(const cn_node *n, const field *fields) {
    field f = {0};
    for (int i = 0; i < n->n_inputs; i++) {
        const field *x = &fields[n->inputs[i]];
        if (x->rf == 0) continue;
        if (x->rf > f.rf) {
            f.rf = x->rf;
            f.map = x->map;
            f.axis = x->axis;
        }
        if (x->jump > f.jump) f.jump = x->jump;
        if (x->extent > f.extent) f.extent = x->extent;
    }
    return f;
}

/* A window of k_eff pixels moving by stride over the map. */
static void slide(field *f, int64_t k_eff, int64_t stride) {
    f->rf += (k_eff - 1) * f->jump;
    f->jump *= stride;
}

/* A layer whose every output sees the whole map: the window is the map. At least the whole input. */
static void cover_all(field *f) {
    f->rf += (f->map - 1) * f->jump;
    if (f->rf < f->extent) f->rf = f->extent;
    f->jump *= f->map;
    f->map = 1;
}

static field node_field(const cn_graph *g, const cn_node *n, const attr_set *a, const field *fields) {
    if (n->n_inputs == 0) return input_field(&n->shape);
    field f = merge_inputs(n, fields);
    if (f.rf == 0) return f;
    const cn_shape *in = graph_in_shape(g, n, 0);
    const char *op = n->op->name;
    /* the tracked axis as a spatial index of the first input, when it has that axis */
    int spatial = in->ndim >= 3 && in->ndim - 2 - f.axis >= 0 ? in->ndim - 2 - f.axis : -1;
    const cn_attr *kernel = find(a, "kernel_shape");
    bool keeps_axis = n->shape.ndim == in->ndim && spatial >= 0;
    if (kernel && kernel->type == CN_ATTR_INTS && spatial >= 0 && spatial < kernel->count) {
        const cn_attr *s = find(a, "strides"), *d = find(a, "dilations");
        int64_t k = kernel->ints[spatial], stride = s && spatial < s->count ? s->ints[spatial] : 1;
        int64_t dil = d && spatial < d->count ? d->ints[spatial] : 1;
        slide(&f, dil * (k - 1) + 1, stride);
    } else if (!strcmp(op, "GlobalAveragePool") || !strcmp(op, "GlobalMaxPool") || !strcmp(op, "Gemm")) {
        cover_all(&f);
    } else if (!strcmp(op, "AdaptiveAvgPool") && spatial >= 0) {
        /* bin i is [floor(i*in/out), ceil((i+1)*in/out)): the widest bin as the window, in/out as the stride */
        int64_t size = in->dims[2 + spatial], out = n->shape.dims[2 + spatial], widest = 1;
        if (out == 1) cover_all(&f);
        else {
            for (int64_t i = 0; i < out; i++) {
                int64_t lo = i * size / out, hi = ((i + 1) * size + out - 1) / out;
                if (hi - lo > widest) widest = hi - lo;
            }
            slide(&f, widest, size / out > 1 ? size / out : 1);
        }
    }
    if (keeps_axis) f.map = n->shape.dims[n->shape.ndim - f.axis];
    return f;
}

/* ---------------------------------------------------------------- the pass */
static void node_params(const cn_graph *g, const cn_node *n, cn_layer_stats *s) {
    for (int k = 0; k < n->n_params; k++) {
        cn_param p = cn_param_get(g, n->params[k]);
        if (p.trainable) s->params += cn_tensor_numel(p.value);
        size_t len = strlen(p.name);
        if (s->weight.ndim == 0 && len >= 7 && strcmp(p.name + len - 7, ".weight") == 0) s->weight = p.value->shape;
    }
}

int cn_graph_analyze(const cn_graph *g, cn_layer_stats *layers, int max, cn_graph_stats *totals) {
    if (!g) {
        cn_error(CN_ERR_INVALID, "graph is NULL");
        return -1;
    }
    int count = cn_graph_node_count(g);
    field *fields = cn_calloc((size_t)(count > 0 ? count : 1), sizeof(field));
    if (!fields) return -1;
    cn_graph_stats sum = {0};
    for (int id = 0; id < count; id++) {
        const cn_node *n = graph_node(g, id);
        cn_attr list[CN_MAX_ATTRS];
        attr_set a = {list, n->op->attrs ? n->op->attrs(g, n, list) : 0};
        cn_layer_stats s;
        memset(&s, 0, sizeof s);
        s.name = n->name;
        s.op = n->op->name;
        text t = {s.desc, sizeof s.desc, 0};
        describe(n->op->name, &a, &t);
        s.output = n->shape;
        node_params(g, n, &s);
        s.macs = n->op->macs ? n->op->macs(g, n) : 0;
        s.activation_bytes = cn_shape_numel(&n->shape) * (int64_t)sizeof(cn_real);
        fields[id] = node_field(g, n, &a, fields);
        s.receptive_field = fields[id].rf;
        s.jump = fields[id].jump;
        sum.params += s.params;
        sum.macs += s.macs;
        sum.activation_bytes += s.activation_bytes;
        if (layers && id < max) layers[id] = s;
    }
    cn_free(fields);
    if (totals) *totals = sum;
    return count;
}
