/* onnx_import.c — ONNX model -> cn_graph.
 *
 * Every tensor name of the model maps to a value: a graph node (with its static shape) or a constant known
 * at load time (initializers, Constant nodes, and whatever is computed from constants only). Nodes are
 * visited in topological order (sorted here: the file's order is not trusted; a cycle or an input nobody
 * produces is an error). A node whose inputs are all constants is folded on the host when its op is one of
 * the shape-arithmetic ops exporters emit (Shape, Gather, Unsqueeze, Concat, Reshape, Cast, Slice, ...);
 * Shape of a graph node folds too, since shapes are static. Layers map onto the library's builders, with
 * the initializers copied into the new node's parameters (so an imported model can be trained). Model-local
 * functions are inlined first. */
#include "onnx/onnx_internal.h"
#include <stdio.h>
#include <stdlib.h>

cn_status onnx_read_file(const char *path, uint8_t **data, size_t *size);

typedef struct {
    const char *name;
    int node;           /* graph node id, or -1 for a constant */
    onnx_const c;       /* when node < 0 */
    bool is_init;       /* an initializer (becomes trainable when materialised) */
    int materialised;   /* graph node of a constant turned into a Constant node, or -1 */
} value;

/* A node, possibly a copy made by inlining a function (then names are owned). */
typedef struct {
    const Onnx__NodeProto *proto;
    char **input, **output;     /* resolved names (may point into proto) */
    size_t n_input, n_output;
    const Onnx__AttributeProto **attr;  /* resolved attributes */
    size_t n_attr;
    bool done;
} node_ref;

typedef struct {
    cn_graph *g;
    const char *src;        /* file name for messages */
    const char *dir;        /* the model's directory (external data), NULL for a model in memory */
    int64_t opset;
    value *values;
    int n_values, cap_values;
    node_ref *nodes;
    int n_nodes, cap_nodes;
    char **owned;           /* strings made while inlining */
    int n_owned, cap_owned;
    int n_inlined;          /* function calls inlined so far (unique prefixes) */
} ctx;

/* ---------------------------------------------------------------- small helpers */
static cn_status grow_array(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return CN_OK;
    int ncap = *cap ? *cap * 2 : 64;
    while (ncap < need) ncap *= 2;
    void *p = realloc(*arr, (size_t)ncap * elem);
    if (!p) return cn_error(CN_ERR_NOMEM, "out of memory");
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(ncap - *cap) * elem);
    *arr = p;
    *cap = ncap;
    return CN_OK;
}

static char *own_string(ctx *c, const char *a, const char *b) {
    if (grow_array((void **)&c->owned, &c->cap_owned, c->n_owned + 1, sizeof(char *))) return NULL;
    size_t n = strlen(a) + strlen(b) + 1;
    char *s = malloc(n);
    if (!s) return NULL;
    snprintf(s, n, "%s%s", a, b);
    c->owned[c->n_owned++] = s;
    return s;
}

/* Keep p (malloc'd) until the import ends; NULL (p freed) on failure. */
static void *own_ptr(ctx *c, void *p) {
    if (!p) return NULL;
    if (grow_array((void **)&c->owned, &c->cap_owned, c->n_owned + 1, sizeof(char *))) {
        free(p);
        return NULL;
    }
    c->owned[c->n_owned++] = p;
    return p;
}

static value *find_value(ctx *c, const char *name) {
    for (int i = c->n_values - 1; i >= 0; i--)
        if (strcmp(c->values[i].name, name) == 0) return &c->values[i];
    return NULL;
}

static value *add_value(ctx *c, const char *name) {
    if (grow_array((void **)&c->values, &c->cap_values, c->n_values + 1, sizeof(value))) return NULL;
    value *v = &c->values[c->n_values++];
    memset(v, 0, sizeof *v);
    v->name = name;
    v->node = -1;
    v->materialised = -1;
    return v;
}

static const char *node_label(const node_ref *n) {
    const char *s = n->proto->name && n->proto->name[0] ? n->proto->name : (n->n_output ? n->output[0] : "");
    return s;
}

static const Onnx__AttributeProto *attr_find(const node_ref *n, const char *name) {
    for (size_t i = 0; i < n->n_attr; i++)
        if (n->attr[i]->name && strcmp(n->attr[i]->name, name) == 0) return n->attr[i];
    return NULL;
}
static int64_t onnx_attr_int(const node_ref *n, const char *name, int64_t def) {
    const Onnx__AttributeProto *a = attr_find(n, name);
    return a && a->has_i ? a->i : def;
}
static double onnx_attr_float(const node_ref *n, const char *name, double def) {
    const Onnx__AttributeProto *a = attr_find(n, name);
    return a && a->has_f ? a->f : def;
}
static const char *onnx_attr_string(const node_ref *n, const char *name, const char *def, char *buf, size_t len) {
    const Onnx__AttributeProto *a = attr_find(n, name);
    if (!a || !a->has_s) return def;
    size_t k = a->s.len < len - 1 ? a->s.len : len - 1;
    if (k) memcpy(buf, a->s.data, k); /* an empty string may have no data */
    buf[k] = 0;
    return buf;
}
/* An ints attribute: count (or -1 when absent). */
static int onnx_attr_ints(const node_ref *n, const char *name, int64_t *out, int max) {
    const Onnx__AttributeProto *a = attr_find(n, name);
    if (!a) return -1;
    int k = (int)(a->n_ints < (size_t)max ? a->n_ints : (size_t)max);
    for (int i = 0; i < k; i++) out[i] = a->ints[i];
    return a->n_ints > (size_t)max ? max + 1 : k;
}

#define NODE_ERR(st, n, fmt, ...) \
    cn_error(st, "%s: node '%s' (%s): " fmt, c->src, node_label(n), n->proto->op_type, ##__VA_ARGS__)

static cn_status unsupported(ctx *c, const node_ref *n, const char *why) {
    if (why) return NODE_ERR(CN_ERR_UNSUPPORTED, n, "%s", why);
    return cn_error(CN_ERR_UNSUPPORTED, "%s: unsupported ONNX op '%s' (node '%s', opset %lld)", c->src,
                    n->proto->op_type, node_label(n), (long long)c->opset);
}

/* Input k of node n, or NULL when absent / empty. */
static value *in_value(ctx *c, const node_ref *n, size_t k) {
    if (k >= n->n_input || !n->input[k][0]) return NULL;
    return find_value(c, n->input[k]);
}

static cn_shape value_shape(ctx *c, const value *v) {
    return v->node >= 0 ? cn_node_shape(c->g, v->node) : v->c.shape;
}

/* A unique node name from base (ONNX names may repeat, be empty or too long). */
static void unique_name(ctx *c, const char *base, const char *suffix, char *out) {
    char b[CN_NAME_MAX - 12];
    size_t ls = strlen(suffix) < sizeof b - 1 ? strlen(suffix) : sizeof b - 1;
    snprintf(b, sizeof b, "%.*s%s", (int)(sizeof b - 1 - ls), base, suffix);
    snprintf(out, CN_NAME_MAX, "%s", b);
    for (int k = 2; cn_graph_find(c->g, out) >= 0 && k < 1000000; k++) snprintf(out, CN_NAME_MAX, "%s_%d", b, k);
}

/* The node's name: the weight initializer's module name when it is "X.weight" (so parameters are named as
 * in the PyTorch state dict: conv1.weight), else the ONNX node name, else its first output. */
static void layer_name(ctx *c, const node_ref *n, const char *suffix, char *out) {
    const value *w = n->n_input > 1 ? in_value(c, n, 1) : NULL;
    if (w && w->is_init) {
        size_t l = strlen(w->name);
        if (l > 7 && strcmp(w->name + l - 7, ".weight") == 0 && l - 7 < CN_NAME_MAX - 16) {
            char base[CN_NAME_MAX];
            snprintf(base, sizeof base, "%.*s", (int)(l - 7), w->name);
            if (cn_graph_find(c->g, base) < 0 || suffix[0]) {
                unique_name(c, base, suffix, out);
                return;
            }
        }
    }
    unique_name(c, node_label(n), suffix, out);
}

/* The graph node of a value, making a Constant node for a constant (once). */
static int as_node(ctx *c, value *v) {
    if (v->node >= 0) return v->node;
    if (v->materialised >= 0) return v->materialised;
    char name[CN_NAME_MAX];
    unique_name(c, v->name, "", name);
    cn_real *buf = cn_malloc((size_t)(v->c.numel > 0 ? v->c.numel : 1) * sizeof(cn_real));
    if (!buf) return -1;
    for (int64_t k = 0; k < v->c.numel; k++) buf[k] = (cn_real)onnx_const_f(&v->c, k);
    v->materialised = cn_constant(c->g, name, v->c.shape, buf, v->is_init && !v->c.is_int);
    cn_free(buf);
    return v->materialised;
}

/* Bind output k of n to a graph node / a constant (taking ownership of k). */
static cn_status set_output_node(ctx *c, const node_ref *n, size_t k, int node) {
    if (node < 0) return CN_ERR_INVALID;
    value *v = add_value(c, n->output[k]);
    if (!v) return CN_ERR_NOMEM;
    v->node = node;
    return CN_OK;
}
static cn_status set_output_const(ctx *c, const node_ref *n, size_t k, onnx_const *k_const) {
    value *v = add_value(c, n->output[k]);
    if (!v) {
        onnx_const_free(k_const);
        return CN_ERR_NOMEM;
    }
    v->c = *k_const;
    return CN_OK;
}

/* Copy a constant into parameter k of node id (sizes must agree). alpha scales it. */
static cn_status copy_param(ctx *c, const node_ref *n, int id, int k, const onnx_const *src, double alpha) {
    const cn_node *nd = graph_node(c->g, id);
    cn_tensor *t = graph_param(c->g, nd, k);
    if (cn_tensor_numel(t) != src->numel) {
        char a[64], b[64];
        return NODE_ERR(CN_ERR_SHAPE, n, "initializer of shape %s does not fit the parameter %s of shape %s",
                        cn_shape_str(&src->shape, a, sizeof a), cn_param_get(c->g, nd->params[k]).name,
                        cn_shape_str(&t->shape, b, sizeof b));
    }
    for (int64_t i = 0; i < src->numel; i++) t->data[i] = (cn_real)(alpha * onnx_const_f(src, i));
    return CN_OK;
}

/* The value of input k as a required graph node / a required constant. */
static cn_status need_input(ctx *c, const node_ref *n, size_t k, value **out) {
    *out = NULL;
    value *v = in_value(c, n, k);
    if (!v) return NODE_ERR(CN_ERR_FORMAT, n, "input %zu is missing", k);
    *out = v;
    return CN_OK;
}
static cn_status need_const(ctx *c, const node_ref *n, size_t k, value **out) {
    *out = NULL;
    cn_status st = need_input(c, n, k, out);
    if (st) return st;
    if ((*out)->node >= 0)
        return NODE_ERR(CN_ERR_UNSUPPORTED, n, "input %zu ('%s') must be a constant (an initializer) here", k,
                        (*out)->name);
    return CN_OK;
}

/* A (possibly negative) axis as 0..rank; -1 when it is out of [-rank, rank] (not truncated to an int). */
static int norm_axis(int64_t axis, int rank) {
    if (axis < -(int64_t)rank || axis > rank) return -1;
    return (int)(axis < 0 ? axis + rank : axis);
}

#include "onnx/onnx_fold.inc"
#include "onnx/onnx_layers.inc"

/* ---------------------------------------------------------------- functions, sorting, the model */
/* Inline a call of a model-local function: its nodes with inner names prefixed, formal inputs/outputs
 * renamed to the actual ones, attribute references resolved. */
static cn_status inline_function(ctx *c, const node_ref *call, const Onnx__FunctionProto *f, int depth,
                                 const Onnx__ModelProto *m);

static const Onnx__FunctionProto *find_function(const Onnx__ModelProto *m, const Onnx__NodeProto *p) {
    for (size_t i = 0; i < m->n_functions; i++) {
        const Onnx__FunctionProto *f = m->functions[i];
        if (f->name && p->op_type && strcmp(f->name, p->op_type) == 0 &&
            strcmp(f->domain ? f->domain : "", p->domain ? p->domain : "") == 0)
            return f;
    }
    return NULL;
}

static cn_status push_node(ctx *c, const Onnx__NodeProto *p, char **in, size_t n_in, char **out, size_t n_out,
                           const Onnx__AttributeProto **attr, size_t n_attr, int depth, const Onnx__ModelProto *m) {
    if (!p->op_type || !p->op_type[0]) return cn_error(CN_ERR_FORMAT, "%s: a node ('%s') has no op type", c->src, p->name ? p->name : "");
    node_ref r = {.proto = p, .input = in, .n_input = n_in, .output = out, .n_output = n_out, .attr = attr,
                  .n_attr = n_attr};
    const Onnx__FunctionProto *f = find_function(m, p);
    if (f) return inline_function(c, &r, f, depth, m);
    if (grow_array((void **)&c->nodes, &c->cap_nodes, c->n_nodes + 1, sizeof(node_ref))) return CN_ERR_NOMEM;
    c->nodes[c->n_nodes++] = r;
    return CN_OK;
}

static cn_status inline_function(ctx *c, const node_ref *call, const Onnx__FunctionProto *f, int depth,
                                 const Onnx__ModelProto *m) {
    if (depth > 16) return cn_error(CN_ERR_FORMAT, "%s: function '%s' calls itself (recursion)", c->src, f->name);
    char prefix[256];
    snprintf(prefix, sizeof prefix, "%s/%s#%d/", node_label(call), f->name, ++c->n_inlined);
    for (size_t i = 0; i < f->n_node; i++) {
        const Onnx__NodeProto *p = f->node[i];
        char **in = own_ptr(c, calloc(p->n_input + 1, sizeof(char *)));
        char **out = own_ptr(c, calloc(p->n_output + 1, sizeof(char *)));
        const Onnx__AttributeProto **attr = own_ptr(c, calloc(p->n_attribute + 1, sizeof(*attr)));
        if (!in || !out || !attr) return cn_error(CN_ERR_NOMEM, "out of memory");
        for (int io = 0; io < 2; io++) {
            size_t cnt = io ? p->n_output : p->n_input;
            char **src = io ? p->output : p->input, **dst = io ? out : in;
            for (size_t k = 0; k < cnt; k++) {
                const char *name = src[k], *mapped = NULL;
                if (!name[0]) mapped = "";
                for (size_t j = 0; !mapped && j < f->n_input; j++)
                    if (strcmp(f->input[j], name) == 0) mapped = j < call->n_input ? call->input[j] : "";
                for (size_t j = 0; !mapped && j < f->n_output; j++)
                    if (strcmp(f->output[j], name) == 0) mapped = j < call->n_output ? call->output[j] : "";
                dst[k] = mapped ? (char *)mapped : own_string(c, prefix, name);
                if (!dst[k]) return CN_ERR_NOMEM;
            }
        }
        size_t na = 0;
        for (size_t k = 0; k < p->n_attribute; k++) {
            const Onnx__AttributeProto *a = p->attribute[k];
            if (a->ref_attr_name && a->ref_attr_name[0]) {
                const Onnx__AttributeProto *v = NULL;
                for (size_t j = 0; j < call->n_attr; j++)
                    if (call->attr[j]->name && strcmp(call->attr[j]->name, a->ref_attr_name) == 0) v = call->attr[j];
                if (!v) continue;  /* not given: the op's default applies */
                /* the caller's attribute under the inner name: make a shallow copy with the right name */
                Onnx__AttributeProto *copy = own_ptr(c, malloc(sizeof *copy));
                if (!copy) return cn_error(CN_ERR_NOMEM, "out of memory");
                *copy = *v;
                copy->name = a->name;
                attr[na++] = copy;
            } else {
                attr[na++] = a;
            }
        }
        cn_status st = push_node(c, p, in, p->n_input, out, p->n_output, attr, na, depth + 1, m);
        if (st) return st;
    }
    return CN_OK;
}

static cn_status convert_node(ctx *c, node_ref *n) {
    const char *op = n->proto->op_type ? n->proto->op_type : "";
    const char *domain = n->proto->domain ? n->proto->domain : "";
    if (domain[0] && strcmp(domain, "ai.onnx") != 0)
        return cn_error(CN_ERR_UNSUPPORTED, "%s: unsupported ONNX op '%s' of domain '%s' (node '%s', opset %lld)",
                        c->src, op, domain, node_label(n), (long long)c->opset);
    if (n->n_output < 1 || !n->output[0][0]) return NODE_ERR(CN_ERR_FORMAT, n, "the node has no output");
    for (size_t k = 0; k < n->n_output; k++)
        if (n->output[k][0] && find_value(c, n->output[k]))
            return NODE_ERR(CN_ERR_FORMAT, n, "output '%s' is already produced by another node or input", n->output[k]);
    bool all_const = true;
    for (size_t k = 0; k < n->n_input; k++) {
        value *v = in_value(c, n, k);
        if (v && v->node >= 0) all_const = false;
    }
    int r = try_fold(c, n, all_const);
    if (r < 0) return CN_ERR_INVALID;  /* error set */
    if (r > 0) return CN_OK;
    cn_status st = convert_layer(c, n);
    if (st && !strstr(cn_last_error(), c->src)) {  /* a builder's message: say which node of which file */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cn_last_error());
        return NODE_ERR(st, n, "%s", msg);
    }
    return st;
}

static bool name_defined_at_start(ctx *c, const char *name) { return find_value(c, name) != NULL; }

/* Kahn's order by repeated passes; a node runs once all of its inputs exist. */
static cn_status convert_all(ctx *c) {
    /* every input must be produced by something */
    for (int i = 0; i < c->n_nodes; i++) {
        node_ref *n = &c->nodes[i];
        for (size_t k = 0; k < n->n_input; k++) {
            const char *name = n->input[k];
            if (!name[0] || name_defined_at_start(c, name)) continue;
            bool found = false;
            for (int j = 0; j < c->n_nodes && !found; j++)
                for (size_t o = 0; o < c->nodes[j].n_output; o++)
                    if (strcmp(c->nodes[j].output[o], name) == 0) found = true;
            if (!found)
                return NODE_ERR(CN_ERR_FORMAT, n, "input '%s' is not a graph input, an initializer or the output of any node (dangling input)", name);
        }
    }
    int remaining = c->n_nodes;
    while (remaining > 0) {
        int progress = 0;
        for (int i = 0; i < c->n_nodes; i++) {
            node_ref *n = &c->nodes[i];
            if (n->done) continue;
            bool ready = true;
            for (size_t k = 0; k < n->n_input && ready; k++)
                if (n->input[k][0] && !find_value(c, n->input[k])) ready = false;
            if (!ready) continue;
            cn_status st = convert_node(c, n);
            cn_graph_params_changed(c->g); /* initializers were copied into parameters */
            if (st) return st;
            n->done = true;
            progress++;
            remaining--;
        }
        if (!progress) {
            for (int i = 0; i < c->n_nodes; i++)
                if (!c->nodes[i].done)
                    return NODE_ERR(CN_ERR_FORMAT, (&c->nodes[i]), "the graph has a cycle through this node (%d nodes can never run)", remaining);
        }
    }
    return CN_OK;
}

static cn_status declared_shape(ctx *c, const Onnx__ValueInfoProto *vi, cn_shape *s, int32_t *elem) {
    const Onnx__TypeProto *t = vi->type;
    memset(s, 0, sizeof *s);
    *elem = 0;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
        return cn_error(CN_ERR_UNSUPPORTED, "%s: input '%s' is not a tensor", c->src, vi->name);
    *elem = t->tensor_type->has_elem_type ? t->tensor_type->elem_type : 0;
    const Onnx__TensorShapeProto *sh = t->tensor_type->shape;
    if (!sh) return cn_error(CN_ERR_UNSUPPORTED, "%s: input '%s' has no shape", c->src, vi->name);
    if (sh->n_dim > CN_MAX_DIMS)
        return cn_error(CN_ERR_UNSUPPORTED, "%s: input '%s' has rank %zu, more than %d", c->src, vi->name, sh->n_dim, CN_MAX_DIMS);
    s->ndim = (int)sh->n_dim;
    for (size_t d = 0; d < sh->n_dim; d++) {
        const Onnx__TensorShapeProto__Dimension *dim = sh->dim[d];
        s->dims[d] = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE ? dim->dim_value : 0;
        if (s->dims[d] < 0) s->dims[d] = 0;
    }
    return CN_OK;
}

static void shape_with_symbols(const cn_shape *s, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = 0;
    for (int d = 0; d < s->ndim && used < len; d++)
        used += (size_t)(s->dims[d] ? snprintf(buf + used, len - used, "%s%lld", d ? "x" : "", (long long)s->dims[d])
                                    : snprintf(buf + used, len - used, "%s?", d ? "x" : ""));
    if (s->ndim == 0) snprintf(buf, len, "scalar");
}

static bool is_initializer(const Onnx__GraphProto *gp, const char *name) {
    for (size_t i = 0; i < gp->n_initializer; i++)
        if (gp->initializer[i]->name && strcmp(gp->initializer[i]->name, name) == 0) return true;
    return false;
}

static cn_status check_model(const char *src, const Onnx__ModelProto *m, int64_t *opset) {
    if (!m->graph) return cn_error(CN_ERR_FORMAT, "%s: not an ONNX model (no graph)", src);
    *opset = -1;
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const char *d = m->opset_import[i]->domain ? m->opset_import[i]->domain : "";
        if (!d[0] || strcmp(d, "ai.onnx") == 0) *opset = m->opset_import[i]->version;
    }
    if (*opset < 0) {
        if (!m->has_ir_version) return cn_error(CN_ERR_FORMAT, "%s: not an ONNX model (no IR version, no opset)", src);
        return cn_error(CN_ERR_FORMAT, "%s: the model imports no opset of the default domain", src);
    }
    if (*opset < 7 || *opset > 21)
        return cn_error(CN_ERR_UNSUPPORTED, "%s: opset %lld is not supported (7 to 21)", src, (long long)*opset);
    const Onnx__GraphProto *gp = m->graph;
    for (size_t i = 0; i < gp->n_node; i++)
        if (!gp->node[i]->op_type) return cn_error(CN_ERR_FORMAT, "%s: node %zu has no op type", src, i);
    return CN_OK;
}

static void free_ctx(ctx *c) {
    for (int i = 0; i < c->n_values; i++) onnx_const_free(&c->values[i].c);
    free(c->values);
    free(c->nodes);
    for (int i = 0; i < c->n_owned; i++) free(c->owned[i]);
    free(c->owned);
}

/* into: NULL for a new graph; else the model is built into that graph with its first input bound to the
 * existing node `bind` (whose shape is the input's), and the graph is not freed on error. */
static cn_graph *load_model(const char *src, const Onnx__ModelProto *m, const cn_shape *shapes, int n_shapes,
                            cn_onnx_info *info, cn_graph *into, int bind, const char *dir) {
    ctx cx = {.src = src, .dir = dir}, *c = &cx;
    if (check_model(src, m, &c->opset)) return NULL;
    const Onnx__GraphProto *gp = m->graph;
    c->g = into ? into : cn_graph_create();
    if (!c->g) return NULL;
    cn_onnx_info local;
    if (!info) info = &local;
    memset(info, 0, sizeof *info);
    info->opset = c->opset;
    cn_status st = CN_OK;
    /* initializers */
    for (size_t i = 0; i < gp->n_initializer && !st; i++) {
        const Onnx__TensorProto *t = gp->initializer[i];
        if (!t->name || !t->name[0]) {
            st = cn_error(CN_ERR_FORMAT, "%s: initializer %zu has no name", src, i);
            break;
        }
        char what[CN_NAME_MAX + 600];
        snprintf(what, sizeof what, "%s: initializer '%s'", src, t->name);
        value *v = add_value(c, t->name);
        if (!v) st = CN_ERR_NOMEM;
        else if ((st = onnx_const_decode_at(t, what, c->dir, &v->c)) == CN_OK) v->is_init = true;
    }
    /* inputs */
    int k_in = 0;
    for (size_t i = 0; i < gp->n_input && !st; i++) {
        const Onnx__ValueInfoProto *vi = gp->input[i];
        if (!vi->name || is_initializer(gp, vi->name)) continue;  /* old exporters list initializers as inputs */
        if (k_in >= CN_ONNX_MAX_IO) {
            st = cn_error(CN_ERR_UNSUPPORTED, "%s: more than %d inputs", src, CN_ONNX_MAX_IO);
            break;
        }
        cn_shape decl, use;
        int32_t elem;
        if ((st = declared_shape(c, vi, &decl, &elem))) break;
        if (elem != 1) {
            st = cn_error(CN_ERR_UNSUPPORTED, "%s: input '%s' has element type %s; only float inputs are supported",
                          src, vi->name, onnx_type_name(elem));
            break;
        }
        use = decl;
        const cn_shape *given = shapes && k_in < n_shapes && shapes[k_in].ndim > 0 ? &shapes[k_in] : NULL;
        char a[96], b[96];
        if (given) {
            bool ok = given->ndim == decl.ndim;
            for (int d = 0; ok && d < decl.ndim; d++) ok = decl.dims[d] == 0 || decl.dims[d] == given->dims[d];
            if (!ok) {
                shape_with_symbols(&decl, a, sizeof a);
                cn_shape_str(given, b, sizeof b);
                st = cn_error(CN_ERR_SHAPE, "%s: input '%s' expects shape %s, given %s", src, vi->name, a, b);
                break;
            }
            use = *given;
        }
        for (int d = 0; d < use.ndim; d++)
            if (use.dims[d] <= 0) {
                shape_with_symbols(&decl, a, sizeof a);
                st = cn_error(CN_ERR_SHAPE, "%s: input '%s' has the symbolic shape %s: give its size", src, vi->name, a);
                break;
            }
        if (st) break;
        char name[CN_NAME_MAX];
        int id;
        if (into && k_in == 0) id = bind;
        else if (into) {
            st = cn_error(CN_ERR_UNSUPPORTED, "%s: a model with more than one input cannot be built on one input node", src);
            break;
        } else {
            unique_name(c, vi->name, "", name);
            id = cn_input(c->g, name, use);
        }
        value *v = id >= 0 ? add_value(c, vi->name) : NULL;
        if (!v) {
            st = CN_ERR_INVALID;
            break;
        }
        v->node = id;
        info->input[k_in] = id;
        snprintf(info->input_name[k_in], CN_NAME_MAX, "%s", vi->name);
        k_in++;
    }
    info->n_inputs = k_in;
    if (!st && k_in == 0) st = cn_error(CN_ERR_FORMAT, "%s: the graph has no (non-initializer) input", src);
    for (size_t i = 0; i < gp->n_node && !st; i++) {
        const Onnx__NodeProto *p = gp->node[i];
        st = push_node(c, p, p->input, p->n_input, p->output, p->n_output,
                       (const Onnx__AttributeProto **)p->attribute, p->n_attribute, 0, m);
    }
    if (!st) st = convert_all(c);
    /* outputs */
    for (size_t i = 0; i < gp->n_output && !st; i++) {
        const char *name = gp->output[i]->name ? gp->output[i]->name : "";
        value *v = find_value(c, name);
        if (!v) {
            st = cn_error(CN_ERR_FORMAT, "%s: graph output '%s' is not produced by any node", src, name);
            break;
        }
        if (i >= CN_ONNX_MAX_IO) {
            st = cn_error(CN_ERR_UNSUPPORTED, "%s: more than %d outputs", src, CN_ONNX_MAX_IO);
            break;
        }
        int id = as_node(c, v);
        if (id < 0 || (st = cn_graph_mark_output(c->g, id))) {
            st = CN_ERR_INVALID;
            break;
        }
        info->output[i] = id;
        snprintf(info->output_name[i], CN_NAME_MAX, "%s", name);
        info->n_outputs = (int)i + 1;
    }
    if (!st && info->n_outputs == 0) st = cn_error(CN_ERR_FORMAT, "%s: the graph has no output", src);
    free_ctx(c);
    if (st) {
        if (!into) cn_graph_free(c->g);
        return NULL;
    }
    return c->g;
}

/* The directory of path ("." for a bare name), malloc'd. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    char *d = malloc(n + 2);
    if (!d) return NULL;
    if (!slash) strcpy(d, ".");
    else if (n == 0) strcpy(d, "/");
    else memcpy(d, path, n), d[n] = 0;
    return d;
}

static cn_graph *load_named(const char *src, const void *data, size_t size, const cn_shape *shapes, int n_shapes,
                            cn_onnx_info *info, const char *dir) {
    if (!data || size == 0) {
        cn_error(CN_ERR_FORMAT, "%s: empty file, not an ONNX model", src);
        return NULL;
    }
    Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
    if (!m) {
        cn_error(CN_ERR_FORMAT, "%s: not an ONNX model (truncated or corrupt protobuf)", src);
        return NULL;
    }
    cn_graph *g = load_model(src, m, shapes, n_shapes, info, NULL, -1, dir);
    onnx__model_proto__free_unpacked(m, NULL);
    return g;
}

cn_graph *cn_onnx_load_buffer(const void *data, size_t size, const cn_shape *input_shapes, int n_shapes,
                              cn_onnx_info *info) {
    return load_named("model", data, size, input_shapes, n_shapes, info, NULL);
}

cn_graph *cn_onnx_load(const char *path, const cn_shape *input_shapes, int n_shapes, cn_onnx_info *info) {
    uint8_t *data;
    size_t size;
    if (onnx_read_file(path, &data, &size)) return NULL;
    char *dir = dir_of(path);
    cn_graph *g = dir ? load_named(path, data, size, input_shapes, n_shapes, info, dir) : NULL;
    if (!dir) cn_error(CN_ERR_NOMEM, "out of memory");
    free(dir);
    free(data);
    return g;
}

cn_status cn_onnx_input_shapes(const char *path, cn_shape *shapes, int max, int *count) {
    uint8_t *data;
    size_t size;
    *count = 0;
    cn_status st = onnx_read_file(path, &data, &size);
    if (st) return st;
    Onnx__ModelProto *m = size ? onnx__model_proto__unpack(NULL, size, data) : NULL;
    free(data);
    if (!m) return cn_error(CN_ERR_FORMAT, "%s: not an ONNX model (truncated or corrupt protobuf)", path);
    int64_t opset;
    ctx cx = {.src = path};
    st = check_model(path, m, &opset);
    for (size_t i = 0; !st && i < m->graph->n_input; i++) {
        const Onnx__ValueInfoProto *vi = m->graph->input[i];
        if (!vi->name || is_initializer(m->graph, vi->name)) continue;
        int32_t elem;
        cn_shape s;
        if ((st = declared_shape(&cx, vi, &s, &elem))) break;
        if (*count < max) shapes[*count] = s;
        (*count)++;
    }
    onnx__model_proto__free_unpacked(m, NULL);
    return st;
}

/* cn_model_build for an .onnx file: the model built on input node x (the model's one input, at x's shape);
 * its one output must be the (N, classes) logits (classes < 1: whatever the model has). */
int onnx_model_build(cn_graph *g, const char *path, int x, int classes) {
    if (!g || x < 0 || x >= cn_graph_node_count(g)) {
        cn_error(CN_ERR_INVALID, "model %s: input node %d does not exist", path, x);
        return -1;
    }
    uint8_t *data;
    size_t size;
    if (onnx_read_file(path, &data, &size)) return -1;
    Onnx__ModelProto *m = size ? onnx__model_proto__unpack(NULL, size, data) : NULL;
    free(data);
    if (!m) {
        cn_error(CN_ERR_FORMAT, "%s: not an ONNX model (truncated or corrupt protobuf)", path);
        return -1;
    }
    cn_shape xs = cn_node_shape(g, x);
    cn_onnx_info info;
    char *dir = dir_of(path);
    cn_graph *r = dir ? load_model(path, m, &xs, 1, &info, g, x, dir) : NULL;
    free(dir);
    onnx__model_proto__free_unpacked(m, NULL);
    if (!r) return -1;
    if (info.n_inputs != 1 || info.n_outputs != 1) {
        cn_error(CN_ERR_UNSUPPORTED, "%s: a model to train needs one input and one output; it has %d and %d", path,
                 info.n_inputs, info.n_outputs);
        return -1;
    }
    cn_shape ys = cn_node_shape(g, info.output[0]);
    char b[64];
    if (ys.ndim != 2 || ys.dims[0] != xs.dims[0]) {
        cn_error(CN_ERR_SHAPE, "%s: output '%s' is %s; the logits must be batch x classes", path, info.output_name[0],
                 cn_shape_str(&ys, b, sizeof b));
        return -1;
    }
    if (classes >= 1 && ys.dims[1] != classes) {
        cn_error(CN_ERR_SHAPE, "%s: output '%s' has %lld classes, not the %d asked for", path, info.output_name[0],
                 (long long)ys.dims[1], classes);
        return -1;
    }
    return info.output[0];
}

/* The model's first input as C x H x W when it is a fixed-size N x C x H x W. */
cn_status onnx_model_input_size(const char *path, int *channels, int *height, int *width) {
    cn_shape s[CN_ONNX_MAX_IO];
    int count = 0;
    cn_status st = cn_onnx_input_shapes(path, s, CN_ONNX_MAX_IO, &count);
    if (st) return st;
    if (count < 1 || s[0].ndim != 4 || s[0].dims[1] < 1 || s[0].dims[2] < 1 || s[0].dims[3] < 1 ||
        s[0].dims[1] > INT32_MAX || s[0].dims[2] > INT32_MAX || s[0].dims[3] > INT32_MAX)
        return cn_error(CN_ERR_INVALID, "%s: the first input is not N x C x H x W with fixed C, H, W", path);
    *channels = (int)s[0].dims[1], *height = (int)s[0].dims[2], *width = (int)s[0].dims[3];
    return CN_OK;
}
