/* graph.c — building the static graph: nodes with shapes inferred as they are added, and parameters. */
#include "graph_impl.h"
#include <stdio.h>

/* ---------------------------------------------------------------- the Input op */
typedef struct {
    cn_shape shape;
    cn_real *buffer;  /* inputs own their buffer, outside the plan, so data set before a forward stays */
    bool no_grad;     /* cn_input_set_grad(g, node, 0): backward computes no dL/d(input) */
} input_attr;

static cn_status input_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    CN_UNUSED(in);
    const input_attr *a = n->attr;
    if (a->shape.ndim < 1)
        return cn_error(CN_ERR_SHAPE, "%s: an input needs at least a batch dimension", n->name);
    for (int i = 0; i < a->shape.ndim; i++)
        if (a->shape.dims[i] <= 0) {
            char b[64];
            return cn_error(CN_ERR_SHAPE, "%s: input shape %s has a dimension < 1", n->name,
                            cn_shape_str(&a->shape, b, sizeof b));
        }
    *out = a->shape;
    return CN_OK;
}

const cn_op_def cn_op_input = {.name = "Input", .prefix = "input", .shape = input_shape};

/* ---------------------------------------------------------------- graph */
cn_graph *cn_graph_create(void) {
    cn_graph *g = cn_calloc(1, sizeof *g);
    if (!g) return NULL;
    cn_graph_set_seed(g, 0);
    return g;
}

void cn_graph_set_seed(cn_graph *g, uint64_t seed) {
    g->seed = seed;
    cn_rng_seed(&g->rng, seed, 0x636e6e6574ULL);
}

cn_rng *graph_rng(cn_graph *g) { return &g->rng; }

static void free_node(cn_node *n) {
    if (n->op == &cn_op_input && n->attr) cn_free(((input_attr *)n->attr)->buffer);
    cn_free(n->attr);
    cn_free(n->inputs);
    cn_free(n->cache);
}

void cn_graph_free(cn_graph *g) {
    if (!g) return;
    for (int i = 0; i < g->n_nodes; i++) free_node(&g->nodes[i]);
    for (int i = 0; i < g->n_params; i++) {
        cn_tensor_free(&g->params[i]->value);
        cn_tensor_free(&g->params[i]->grad);
        cn_free(g->params[i]);
    }
    graph_free_plan(g);
    cn_free(g->profile);
    cn_free(g->nodes);
    cn_free(g->params);
    cn_free(g);
}

/* Grow an array of elem-sized items to hold at least need (no realloc in the allocator hook). */
static cn_status grow(void **arr, int *cap, int need, size_t elem) {
    if (need <= *cap) return CN_OK;
    int ncap = *cap ? *cap * 2 : 16;
    while (ncap < need) ncap *= 2;
    void *p = cn_calloc((size_t)ncap, elem);
    if (!p) return CN_ERR_NOMEM;
    if (*arr) memcpy(p, *arr, (size_t)*cap * elem);
    cn_free(*arr);
    *arr = p;
    *cap = ncap;
    return CN_OK;
}

int cn_graph_find(const cn_graph *g, const char *name) {
    if (!name) return -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0) return i;
    return -1;
}

/* "conv" + the smallest number that makes a new name. */
static void make_name(const cn_graph *g, const char *prefix, char *out) {
    int count = 1;
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].op->prefix, prefix) == 0) count++;
    do snprintf(out, CN_NAME_MAX, "%s%d", prefix, count++);
    while (cn_graph_find(g, out) >= 0);
}

static cn_status infer_shape(const cn_graph *g, const cn_node *n, cn_shape *out) {
    cn_shape in[n->n_inputs > 0 ? n->n_inputs : 1];
    for (int i = 0; i < n->n_inputs; i++) in[i] = g->nodes[n->inputs[i]].shape;
    return n->op->shape(g, n, in, out);
}

static void drop_params_from(cn_graph *g, int first) {
    while (g->n_params > first) {
        param_entry *p = g->params[--g->n_params];
        cn_tensor_free(&p->value);
        cn_tensor_free(&p->grad);
        cn_free(p);
    }
}

int graph_add_node(cn_graph *g, const cn_op_def *op, const char *name, const int *inputs, int n_inputs,
                   const void *attr, size_t attr_size) {
    if (!g) {
        cn_error(CN_ERR_INVALID, "graph is NULL");
        return -1;
    }
    char made[CN_NAME_MAX];
    if (name && name[0]) {
        if (strlen(name) >= CN_NAME_MAX) {
            cn_error(CN_ERR_INVALID, "node name '%.40s...' is longer than %d characters", name, CN_NAME_MAX - 1);
            return -1;
        }
        if (cn_graph_find(g, name) >= 0) {
            cn_error(CN_ERR_INVALID, "%s: a node of this name already exists", name);
            return -1;
        }
    } else {
        make_name(g, op->prefix, made);
        name = made;
    }
    for (int i = 0; i < n_inputs; i++)
        if (inputs[i] < 0 || inputs[i] >= g->n_nodes) {
            cn_error(CN_ERR_INVALID, "%s: input %d is node %d, which does not exist", name, i, inputs[i]);
            return -1;
        }
    if (grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(cn_node))) return -1;

    cn_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    snprintf(n->name, sizeof n->name, "%s", name);
    n->op = op;
    n->n_inputs = n_inputs;
    n->inputs = cn_calloc((size_t)(n_inputs > 0 ? n_inputs : 1), sizeof(int));
    n->attr = cn_calloc(1, attr_size > 0 ? attr_size : 1);
    if (!n->inputs || !n->attr) {
        free_node(n);
        return -1;
    }
    if (n_inputs) memcpy(n->inputs, inputs, (size_t)n_inputs * sizeof(int));
    if (attr_size) memcpy(n->attr, attr, attr_size);
    n->attr_size = attr_size;

    if (infer_shape(g, n, &n->shape) != CN_OK || cn_shape_check(&n->shape, n->name) != CN_OK) {
        free_node(n);
        return -1;
    }
    int id = g->n_nodes++;
    int first_param = g->n_params;
    if (op->init_params && op->init_params(g, n) != CN_OK) {
        drop_params_from(g, first_param);
        g->n_nodes--;
        free_node(n);
        return -1;
    }
    graph_invalidate_plans(g);
    return id;
}

int cn_input(cn_graph *g, const char *name, cn_shape shape) {
    input_attr a = {.shape = shape};
    int id = graph_add_node(g, &cn_op_input, name, NULL, 0, &a, sizeof a);
    if (id < 0) return -1;
    input_attr *own = g->nodes[id].attr;
    own->buffer = cn_calloc((size_t)cn_shape_numel(&shape), sizeof(cn_real));
    if (!own->buffer) {
        g->n_nodes--;
        free_node(&g->nodes[id]);
        return -1;
    }
    g->nodes[id].out = own->buffer;
    return id;
}

cn_status graph_add_param(cn_graph *g, cn_node *n, const char *suffix, cn_shape shape, int trainable) {
    if (n->n_params >= CN_MAX_NODE_PARAMS)
        return cn_error(CN_ERR_INVALID, "%s: too many parameters", n->name);
    cn_status st = grow((void **)&g->params, &g->cap_params, g->n_params + 1, sizeof(param_entry *));
    if (st) return st;
    param_entry *p = cn_calloc(1, sizeof *p);
    if (!p) return CN_ERR_NOMEM;
    snprintf(p->name, sizeof p->name, "%s.%s", n->name, suffix);
    p->trainable = trainable;
    p->node = (int)(n - g->nodes);
    if ((st = cn_tensor_alloc(&p->value, shape)) != CN_OK ||
        (trainable && (st = cn_tensor_alloc(&p->grad, shape)) != CN_OK)) {
        cn_tensor_free(&p->value);
        cn_free(p);
        return st;
    }
    n->params[n->n_params++] = g->n_params;
    g->params[g->n_params++] = p;
    return CN_OK;
}

void graph_init_uniform_fan_in(cn_graph *g, cn_tensor *t, int64_t fan_in) {
    double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
    cn_rng_fill_uniform(&g->rng, t->data, cn_tensor_numel(t), -bound, bound);
}

/* ---------------------------------------------------------------- accessors */
int cn_graph_node_count(const cn_graph *g) { return g->n_nodes; }
const cn_node *graph_node(const cn_graph *g, int id) { return &g->nodes[id]; }

static const cn_node *checked_node(const cn_graph *g, int id) {
    if (!g || id < 0 || id >= g->n_nodes) {
        cn_error(CN_ERR_INVALID, "node %d does not exist", id);
        return NULL;
    }
    return &g->nodes[id];
}

const char *cn_node_name(const cn_graph *g, int id) {
    const cn_node *n = checked_node(g, id);
    return n ? n->name : NULL;
}
const char *cn_node_op(const cn_graph *g, int id) {
    const cn_node *n = checked_node(g, id);
    return n ? n->op->name : NULL;
}
cn_shape cn_node_shape(const cn_graph *g, int id) {
    const cn_node *n = checked_node(g, id);
    return n ? n->shape : (cn_shape){0};
}

const cn_shape *graph_in_shape(const cn_graph *g, const cn_node *n, int i) {
    return &g->nodes[n->inputs[i]].shape;
}
const cn_real *graph_in(const cn_graph *g, const cn_node *n, int i) { return g->nodes[n->inputs[i]].out; }
cn_real *graph_in_grad(const cn_graph *g, const cn_node *n, int i) { return g->nodes[n->inputs[i]].grad; }
int graph_fused_relu_input(const cn_graph *g, const cn_node *n) {
    return n->train_relu ? g->nodes[n->train_relu].inputs[0] : -1;
}
cn_real *graph_fused_relu_in_grad(const cn_graph *g, const cn_node *n) {
    return g->nodes[graph_fused_relu_input(g, n)].grad;
}
bool graph_fused_relu_in_grad_fresh(const cn_graph *g, const cn_node *n) {
    return g->nodes[graph_fused_relu_input(g, n)].grad_fresh;
}
bool graph_in_grad_fresh(const cn_graph *g, const cn_node *n, int i) { return g->nodes[n->inputs[i]].grad_fresh; }
cn_real *graph_out_grad(const cn_graph *g, const cn_node *n) { CN_UNUSED(g); return n->grad; }
cn_tensor *graph_param(const cn_graph *g, const cn_node *n, int k) { return &g->params[n->params[k]]->value; }
cn_tensor *graph_param_grad(const cn_graph *g, const cn_node *n, int k) {
    param_entry *p = g->params[n->params[k]];
    return p->trainable ? &p->grad : NULL;
}

int cn_param_count(const cn_graph *g) { return g->n_params; }
cn_param cn_param_get(const cn_graph *g, int i) {
    if (!g || i < 0 || i >= g->n_params) return (cn_param){0};
    param_entry *p = g->params[i];
    ((cn_graph *)g)->param_gen++; /* a mutable pointer leaves: count it as a write (every graph is made
                                   * non-const by cn_graph_create, so the cast is defined) */
    return (cn_param){p->name, &p->value, p->trainable ? &p->grad : NULL, p->trainable};
}
void cn_graph_params_changed(cn_graph *g) {
    if (g) g->param_gen++;
}
uint64_t graph_param_generation(const cn_graph *g) { return g->param_gen; }
bool graph_eval_planned(const cn_graph *g) { return g->plan_valid && g->plan_mode == CN_EVAL; }
int cn_param_find(const cn_graph *g, const char *name) {
    for (int i = 0; i < g->n_params; i++)
        if (strcmp(g->params[i]->name, name) == 0) return i;
    return -1;
}
int64_t cn_graph_num_trainable(const cn_graph *g) {
    int64_t total = 0;
    for (int i = 0; i < g->n_params; i++)
        if (g->params[i]->trainable) total += cn_tensor_numel(&g->params[i]->value);
    return total;
}

/* ---------------------------------------------------------------- batch size */
cn_status cn_graph_set_batch(cn_graph *g, int64_t batch) {
    if (batch < 1) return cn_error(CN_ERR_INVALID, "batch size %lld must be at least 1", (long long)batch);
    int64_t old = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == &cn_op_input) {
            input_attr *a = g->nodes[i].attr;
            old = a->shape.dims[0];
            a->shape.dims[0] = batch;
        }
    if (old < 0) return cn_error(CN_ERR_INVALID, "the graph has no input");
    for (int i = 0; i < g->n_nodes; i++) {
        cn_shape s;
        if (infer_shape(g, &g->nodes[i], &s) != CN_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", cn_last_error());
            if (batch != old) cn_graph_set_batch(g, old);
            return cn_error(CN_ERR_SHAPE, "batch size %lld: %s", (long long)batch, msg);
        }
        g->nodes[i].shape = s;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        cn_node *n = &g->nodes[i];
        if (n->op != &cn_op_input) continue;
        input_attr *a = n->attr;
        cn_real *buf = cn_calloc((size_t)cn_shape_numel(&n->shape), sizeof(cn_real));
        if (!buf) return CN_ERR_NOMEM;
        cn_free(a->buffer);
        a->buffer = n->out = buf;
    }
    graph_invalidate_plans(g);
    return CN_OK;
}

cn_status cn_set_input(cn_graph *g, int node, const cn_real *data, int64_t count) {
    const cn_node *n = checked_node(g, node);
    if (!n) return CN_ERR_INVALID;
    if (n->op != &cn_op_input) return cn_error(CN_ERR_INVALID, "%s is a %s node, not an input", n->name, n->op->name);
    int64_t want = cn_shape_numel(&n->shape);
    if (count != want) {
        char b[64];
        return cn_error(CN_ERR_SHAPE, "%s: got %lld values, the input of shape %s holds %lld", n->name,
                        (long long)count, cn_shape_str(&n->shape, b, sizeof b), (long long)want);
    }
    memcpy(n->out, data, (size_t)count * sizeof(cn_real));
    return CN_OK;
}

cn_status cn_graph_mark_output(cn_graph *g, int node) {
    if (!checked_node(g, node)) return CN_ERR_INVALID;
    if (g->nodes[node].is_output) return CN_OK;
    g->nodes[node].is_output = true;
    graph_invalidate_plans(g);
    return CN_OK;
}

cn_status cn_input_set_grad(cn_graph *g, int node, int wanted) {
    const cn_node *n = checked_node(g, node);
    if (!n) return CN_ERR_INVALID;
    if (n->op != &cn_op_input) return cn_error(CN_ERR_INVALID, "%s is a %s node, not an input", n->name, n->op->name);
    input_attr *a = n->attr;
    if (a->no_grad != !wanted) {
        a->no_grad = !wanted;
        graph_invalidate_plans(g);
    }
    return CN_OK;
}

bool graph_input_wants_grad(const cn_graph *g, int node) {
    const cn_node *n = &g->nodes[node];
    return n->op == &cn_op_input && !((const input_attr *)n->attr)->no_grad;
}
