/* run.c — the memory plan, forward and backward.
 *
 * The plan puts every node's output, gradient and scratch memory into one arena, made once per (batch size,
 * mode) and reused, so a steady-state step allocates nothing. Training keeps every output (backward reads
 * them). Inference reuses a buffer as soon as the last node that reads it has run: offsets are given by
 * first fit over the buffers still alive (ggml-alloc's idea, in its simplest form). */
#include "graph_impl.h"
#include <limits.h>
#include <stdlib.h>

static size_t align_up(size_t x) { return (x + CN_ALIGN - 1) / CN_ALIGN * CN_ALIGN; }

typedef struct {
    size_t offset, size;
    int first, last;  /* node steps during which the block is alive */
} block;

/* First-fit placement of b among the placed blocks that overlap its lifetime. */
static void place(block *blocks, int placed, block *b) {
    size_t offset = 0;
    for (;;) {
        bool moved = false;
        for (int i = 0; i < placed; i++) {
            const block *o = &blocks[i];
            if (o->size == 0 || o->last < b->first || o->first > b->last) continue;
            if (offset < o->offset + o->size && o->offset < offset + b->size) {
                offset = o->offset + o->size;
                moved = true;
            }
        }
        if (!moved) break;
    }
    b->offset = offset;
}

void graph_invalidate_plans(cn_graph *g) {
    for (int m = 0; m < 2; m++) {
        cn_free(g->plans[m].offsets);
        cn_free(g->plans[m].kept);
        memset(&g->plans[m], 0, sizeof g->plans[m]);
    }
    g->plan_valid = false;
    g->forward_ran = false;
}

void graph_free_plan(cn_graph *g) {
    graph_invalidate_plans(g);
    cn_free(g->arena);
    g->arena = NULL;
    g->arena_bytes = 0;
}

/* Lay out every buffer of one mode; allocates only the plan's own tables. */
static cn_status make_plan(cn_graph *g, cn_mode mode) {
    int n = g->n_nodes;
    if (n == 0) return cn_error(CN_ERR_INVALID, "the graph is empty");
    block *blocks = cn_calloc((size_t)3 * n, sizeof(block));
    int *last_use = cn_calloc((size_t)n, sizeof(int));
    bool *kept = cn_calloc((size_t)n, sizeof(bool));
    size_t *offsets = cn_calloc((size_t)3 * n, sizeof(size_t));
    int *owner = cn_calloc((size_t)n, sizeof(int)); /* eval fusion: whose output buffer node i shares */
    cn_status fst = blocks && last_use && kept && offsets && owner ? graph_fuse_and_cache(g, mode, owner) : CN_ERR_NOMEM;
    if (fst) {
        cn_free(blocks);
        cn_free(last_use);
        cn_free(kept);
        cn_free(offsets);
        cn_free(owner);
        return fst;
    }
    bool train = mode == CN_TRAIN;
    for (int i = 0; i < n; i++) last_use[i] = -1;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) last_use[g->nodes[i].inputs[k]] = i;
    for (int i = 0; i < n; i++) {
        const cn_node *nd = &g->nodes[i];
        kept[i] = train || nd->is_output || last_use[i] < 0 || nd->op == &cn_op_input;
        if (kept[i]) last_use[i] = INT_MAX;
    }
    for (int i = 0; i < n; i++) /* a shared buffer lives as long as any node that shares it (owner[i] <= i) */
        if (owner[i] != i)
            if (last_use[i] > last_use[owner[i]]) last_use[owner[i]] = last_use[i];
    size_t total = 0, workspace = 0;
    for (int i = 0, placed = 0; i < n; i++) {
        const cn_node *nd = &g->nodes[i];
        size_t bytes = align_up((size_t)cn_shape_numel(&nd->shape) * sizeof(cn_real));
        size_t sb = nd->op->scratch_bytes ? align_up(nd->op->scratch_bytes(g, nd, mode)) : 0;
        size_t wb = nd->op->workspace_bytes ? align_up(nd->op->workspace_bytes(g, nd, mode)) : 0;
        if (wb > workspace) workspace = wb;
        blocks[3 * i] = (block){0, nd->op == &cn_op_input || owner[i] != i ? 0 : bytes, train ? 0 : i, last_use[i]};
        blocks[3 * i + 1] = (block){0, train ? bytes : 0, 0, INT_MAX};
        blocks[3 * i + 2] = (block){0, sb, train ? 0 : i, train ? INT_MAX : i};
        for (int k = 0; k < 3; k++, placed++) {
            block *b = &blocks[placed];
            offsets[placed] = SIZE_MAX;
            if (b->size == 0) continue;
            place(blocks, placed, b);
            offsets[placed] = b->offset;
            if (b->offset + b->size > total) total = b->offset + b->size;
        }
        if (owner[i] != i) offsets[3 * i] = offsets[3 * owner[i]];
    }
    cn_free(blocks);
    cn_free(last_use);
    cn_free(owner);
    g->plans[mode].offsets = offsets;
    g->plans[mode].kept = kept;
    g->plans[mode].workspace_offset = total;
    g->plans[mode].workspace_bytes = workspace;
    g->plans[mode].bytes = total + workspace;
    g->plans[mode].valid = true;
    return CN_OK;
}

cn_status cn_graph_plan(cn_graph *g, cn_mode mode) {
    if (!g) return cn_error(CN_ERR_INVALID, "graph is NULL");
    if (g->plan_valid && g->plan_mode == mode) return CN_OK;
    cn_status st;
    if (!g->plans[mode].valid && (st = make_plan(g, mode)) != CN_OK) return st;
    size_t need = g->plans[mode].bytes;
    if (need > g->arena_bytes) {
        cn_free(g->arena);
        g->arena = cn_malloc(need);
        g->arena_bytes = g->arena ? need : 0;
        if (!g->arena) return CN_ERR_NOMEM;
    }
    char *base = g->arena;
    const size_t *off = g->plans[mode].offsets;
    for (int i = 0; i < g->n_nodes; i++) {
        cn_node *nd = &g->nodes[i];
        if (nd->op != &cn_op_input) nd->out = (cn_real *)(base + off[3 * i]);
        nd->grad = off[3 * i + 1] == SIZE_MAX ? NULL : (cn_real *)(base + off[3 * i + 1]);
        nd->scratch = off[3 * i + 2] == SIZE_MAX ? NULL : base + off[3 * i + 2];
        nd->workspace = g->plans[mode].workspace_bytes ? base + g->plans[mode].workspace_offset : NULL;
        nd->workspace_size = g->plans[mode].workspace_bytes;
    }
    g->plan_valid = true;
    g->plan_mode = mode;
    g->forward_ran = false;
    return CN_OK;
}

cn_status cn_forward(cn_graph *g, cn_mode mode) {
    cn_status st = cn_graph_plan(g, mode);
    if (st) return st;
    for (int i = 0; i < g->n_nodes; i++) {
        cn_node *n = &g->nodes[i];
        if (n->op->forward && (st = n->op->forward(g, n, mode)) != CN_OK) return st;
    }
    g->forward_ran = true;
    return CN_OK;
}

const cn_real *cn_node_output(const cn_graph *g, int node) {
    if (!g || node < 0 || node >= g->n_nodes || !g->plan_valid || !g->forward_ran ||
        !g->plans[g->plan_mode].kept[node])
        return NULL;
    return g->nodes[node].out;
}

cn_real *cn_node_grad(const cn_graph *g, int node) {
    if (!g || node < 0 || node >= g->n_nodes || !g->plan_valid) return NULL;
    return g->nodes[node].grad;
}

cn_status cn_backward(cn_graph *g, int from, const cn_real *seed) {
    if (!g || from < 0 || from >= g->n_nodes) return cn_error(CN_ERR_INVALID, "backward: node %d does not exist", from);
    if (!g->plan_valid || g->plan_mode != CN_TRAIN || !g->forward_ran)
        return cn_error(CN_ERR_INVALID, "backward needs a forward pass in train mode first");
    for (int i = 0; i <= from; i++) {
        cn_node *n = &g->nodes[i];
        memset(n->grad, 0, (size_t)cn_shape_numel(&n->shape) * sizeof(cn_real));
    }
    cn_node *top = &g->nodes[from];
    int64_t count = cn_shape_numel(&top->shape);
    for (int64_t k = 0; k < count; k++) top->grad[k] = seed ? seed[k] : (cn_real)1;
    for (int i = from; i >= 0; i--) {
        cn_node *n = &g->nodes[i];
        if (n->op->backward) n->op->backward(g, n);
    }
    return CN_OK;
}

void cn_zero_grad(cn_graph *g) {
    for (int i = 0; i < g->n_params; i++) {
        param_entry *p = g->params[i];
        if (p->trainable) memset(p->grad.data, 0, (size_t)cn_tensor_numel(&p->grad) * sizeof(cn_real));
    }
}
