/* run.c — the memory plan, forward and backward.
 *
 * The plan puts every node's output, gradient and scratch memory into one arena, made once per (batch size,
 * mode) and reused, so a steady-state step allocates nothing. Inference reuses a buffer as soon as the last
 * node that reads it has run: offsets are given by first fit over the buffers still alive (ggml-alloc's idea,
 * in its simplest form). Training does the same over the forward and backward steps together (make_train_plan
 * below): an output lives until its last reader in forward or backward, a gradient from its first writer to
 * its own backward. */
#include "graph_impl.h"
#include "kernels/tensor.h"
#include <limits.h>
#include <omp.h>
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
        cn_free(g->plans[m].kept_after_backward);
        cn_free(g->plans[m].grad_kept);
        cn_free(g->plans[m].grad_birth);
        cn_free(g->plans[m].zero_order);
        cn_free(g->plans[m].recompute_at);
        cn_free(g->plans[m].recompute_order);
        cn_free(g->plans[m].recompute_offset);
        memset(&g->plans[m], 0, sizeof g->plans[m]);
    }
    g->plan_valid = false;
    g->forward_ran = false;
    g->backward_ran = false;
}

void graph_free_plan(cn_graph *g) {
    graph_invalidate_plans(g);
    cn_free(g->arena);
    g->arena = NULL;
    g->arena_bytes = 0;
}

/* ---------------------------------------------------------------- the training plan
 * Node i's forward is step i, its backward step 2n-1-i. Each value lives from the step that writes it to the
 * last step that reads it, and blocks whose lifetimes do not overlap share memory:
 *   output of i:   from i to its last forward reader, to the backward of readers whose op reads its inputs,
 *                  to its own backward if its op reads its output (cn_op_def.backward_reads); forever for
 *                  nodes marked as outputs and nodes nothing reads;
 *   gradient of i: from the backward of its last reader (the first to add into it; zeroed then) to its own
 *                  backward; forever for inputs and kept nodes, which the caller reads after backward;
 *   scratch of i:  from i to its own backward.
 * An op marked inplace writes its output over an input of the same size whose value dies at that step (the
 * ReLU after a BatchNorm, an Add). Nodes that depend on no trainable parameter and no input that wants a
 * gradient (cn_input_set_grad) get no gradient and run no backward: the first convolution computes no data
 * gradient. Outputs of ops with a recompute hook may instead die after forward and come back at the first
 * backward step that reads them (see below). Offsets: lowest fit, blocks taken largest first and,
 * separately, by birth; the smaller wins. */

/* Lowest-fit placement of blocks in the given order; returns the bytes used. */
static size_t place_in_order(block *blocks, const int *order, int count) {
    size_t total = 0;
    for (int k = 0; k < count; k++) {
        block *b = &blocks[order[k]];
        size_t offset = 0;
        for (bool moved = true; moved;) {
            moved = false;
            for (int q = 0; q < k; q++) {
                const block *o = &blocks[order[q]];
                if (o->last < b->first || o->first > b->last) continue;
                if (offset < o->offset + o->size && o->offset < offset + b->size) {
                    offset = o->offset + o->size;
                    moved = true;
                }
            }
        }
        b->offset = offset;
        if (offset + b->size > total) total = offset + b->size;
    }
    return total;
}

/* Block indices, largest first (then earliest, then by index). Insertion sort: a few hundred blocks, once. */
static void order_by_size(const block *blocks, int *order, int count) {
    for (int k = 0; k < count; k++) {
        int v = order[k], q = k;
        for (; q > 0; q--) {
            const block *a = &blocks[order[q - 1]], *b = &blocks[v];
            if (a->size > b->size || (a->size == b->size && a->first <= b->first)) break;
            order[q] = order[q - 1];
        }
        order[q] = v;
    }
}

static bool reads_inputs(const cn_op_def *op) {
    return op->backward_reads == CN_READS_ALL || op->backward_reads == CN_READS_INPUTS;
}
static bool reads_output(const cn_op_def *op) {
    return op->backward_reads == CN_READS_ALL || op->backward_reads == CN_READS_OUTPUT;
}

static cn_status make_train_plan(cn_graph *g) {
    const int n = g->n_nodes, forever = INT_MAX;
    int *ints = cn_calloc((size_t)12 * n, sizeof(int));
    bool *flags = cn_calloc((size_t)5 * n, sizeof(bool));
    block *blocks = cn_calloc((size_t)4 * n, sizeof(block));
    int *order = cn_calloc((size_t)4 * n, sizeof(int)), *slot = cn_calloc((size_t)4 * n, sizeof(int));
    size_t *offsets = cn_calloc((size_t)3 * n, sizeof(size_t)), *re_offset = cn_calloc((size_t)n, sizeof(size_t));
    bool *kept = cn_calloc((size_t)n, sizeof(bool)), *kept_bwd = cn_calloc((size_t)n, sizeof(bool));
    bool *grad_kept = cn_calloc((size_t)n, sizeof(bool));
    int *grad_birth = cn_calloc((size_t)n, sizeof(int)), *zero_order = cn_calloc((size_t)n, sizeof(int));
    int *re_at = cn_calloc((size_t)n, sizeof(int)), *re_order = cn_calloc((size_t)n, sizeof(int));
    if (!ints || !flags || !blocks || !order || !slot || !offsets || !re_offset || !kept || !kept_bwd ||
        !grad_kept || !grad_birth || !zero_order || !re_at || !re_order) {
        cn_free(ints), cn_free(flags), cn_free(blocks), cn_free(order), cn_free(slot), cn_free(offsets);
        cn_free(re_offset), cn_free(kept), cn_free(kept_bwd), cn_free(grad_kept), cn_free(grad_birth);
        cn_free(zero_order), cn_free(re_at), cn_free(re_order);
        return CN_ERR_NOMEM;
    }
    int *out_last = ints, *group = ints + n, *group_last = ints + 2 * n, *group_cur = ints + 3 * n;
    int *readers = ints + 4 * n, *grad_first = ints + 5 * n, *grad_last = ints + 6 * n;
    int *fwd_last = ints + 7 * n, *first_bwd_read = ints + 8 * n, *state = ints + 9 * n, *fwd_end = ints + 10 * n;
    int *candidates = ints + 11 * n;
    bool *has_grad = flags, *runs_backward = flags + n, *kept_node = flags + 2 * n, *superseded = flags + 3 * n;
    bool *is_input = flags + 4 * n;
#define BWD_STEP(i) (2 * n - 1 - (i))

    graph_fuse_train(g);
    /* who needs a gradient, who runs a backward */
    for (int i = 0; i < n; i++) {
        const cn_node *nd = &g->nodes[i];
        is_input[i] = nd->op == &cn_op_input;
        if (is_input[i]) {
            has_grad[i] = graph_input_wants_grad(g, i);
            continue;
        }
        bool need = nd->n_inputs == 0;
        for (int k = 0; k < nd->n_params && !need; k++) need = g->params[nd->params[k]]->trainable;
        for (int k = 0; k < nd->n_inputs && !need; k++) need = has_grad[nd->inputs[k]];
        has_grad[i] = need;
        runs_backward[i] = need && nd->op->backward;
    }
    /* output lifetimes */
    for (int i = 0; i < n; i++) out_last[i] = fwd_last[i] = i, first_bwd_read[i] = forever;
    for (int j = 0; j < n; j++) {
        const cn_node *nd = &g->nodes[j];
        for (int k = 0; k < nd->n_inputs; k++) {
            int p = nd->inputs[k];
            readers[p]++;
            if (out_last[p] < j) out_last[p] = j;
            if (fwd_last[p] < j) fwd_last[p] = j;
            if (runs_backward[j] && reads_inputs(nd->op)) {
                if (out_last[p] < BWD_STEP(j)) out_last[p] = BWD_STEP(j);
                if (first_bwd_read[p] > BWD_STEP(j)) first_bwd_read[p] = BWD_STEP(j);
            }
        }
        if (runs_backward[j] && reads_output(nd->op)) {
            if (out_last[j] < BWD_STEP(j)) out_last[j] = BWD_STEP(j);
            if (first_bwd_read[j] > BWD_STEP(j)) first_bwd_read[j] = BWD_STEP(j);
        }
    }
    for (int i = 0; i < n; i++) {
        kept_node[i] = g->nodes[i].is_output || readers[i] == 0;
        if (kept_node[i]) out_last[i] = forever;
    }
    /* in place: join the group of an input whose every value dies at this step */
    for (int i = 0; i < n; i++) {
        group[i] = group_cur[i] = i;
        group_last[i] = out_last[i];
        const cn_node *nd = &g->nodes[i];
        if (is_input[i] || !nd->op->inplace) continue;
        for (int k = 0; k < nd->n_inputs; k++) {
            int p = nd->inputs[k], r = group[p];
            if (is_input[p] || group_last[r] != i || group_cur[r] != p ||
                cn_shape_numel(&g->nodes[p].shape) != cn_shape_numel(&nd->shape))
                continue;
            group[i] = r;
            group_last[r] = out_last[i];
            superseded[p] = true;
            group_cur[r] = i;
            break;
        }
    }
    /* gradient lifetimes */
    for (int i = 0; i < n; i++) grad_first[i] = has_grad[i] ? BWD_STEP(i) : -1;
    for (int j = 0; j < n; j++) {
        const cn_node *nd = &g->nodes[j];
        if (!runs_backward[j]) continue;
        for (int k = 0; k < nd->n_inputs; k++) {
            int p = nd->inputs[k];
            if (has_grad[p] && grad_first[p] > BWD_STEP(j)) grad_first[p] = BWD_STEP(j);
        }
        /* a pool doing the ReLU's backward (fuse.c) writes the ReLU's input gradient at its own step */
        int x = graph_fused_relu_input(g, &g->nodes[j]);
        if (x >= 0 && has_grad[x] && grad_first[x] > BWD_STEP(j)) grad_first[x] = BWD_STEP(j);
    }
    /* Recompute: a group (a node and those that ran in place over it) whose ops can all recompute, and whose
     * value backward reads, can drop its memory after its last forward reader and be recomputed at the first
     * backward step that reads it, if every other value its members read is alive then (stored, or recomputed
     * no later). Decided in backward order; the values a recomputed group reads are pinned as stored. */
    int n_candidates = 0;
    for (int r = 0; r < n; r++) {
        state[r] = 0;
        int v = group_cur[r];
        if (group[r] != r || is_input[r] || group_last[r] == forever || first_bwd_read[v] == forever) continue;
        bool ok = true;
        for (int m = r; m < n && ok; m++)
            if (group[m] == r) ok = g->nodes[m].op->recompute && runs_backward[m];
        if (!ok) continue;
        fwd_end[r] = fwd_last[v] > v ? fwd_last[v] : v;
        int q = n_candidates++;
        for (; q > 0 && first_bwd_read[group_cur[candidates[q - 1]]] > first_bwd_read[v]; q--)
            candidates[q] = candidates[q - 1];
        candidates[q] = r;
    }
    for (int c = 0; c < n_candidates; c++) {
        int r = candidates[c], at = first_bwd_read[group_cur[r]];
        if (state[r] == 2) continue;
        bool ok = true;
        for (int pass = 0; pass < 2 && ok; pass++)
            for (int m = r; m < n && ok; m++) {
                if (group[m] != r) continue;
                const cn_node *nd = &g->nodes[m];
                for (int k = 0; k < nd->n_inputs && ok; k++) {
                    int p = nd->inputs[k], q = group[p];
                    if (q == r || is_input[p]) continue;
                    if (pass == 1) {
                        if (state[q] == 0) state[q] = 2;
                        continue;
                    }
                    ok = !superseded[p] && group_last[q] >= at &&
                         (state[q] != 1 || first_bwd_read[group_cur[q]] <= at);
                }
            }
        if (ok) state[r] = 1;
    }
    /* blocks: 4 slots per node (output, gradient, scratch, recomputed output) */
    int count = 0;
    size_t workspace = 0;
    for (int i = 0; i < n; i++) {
        const cn_node *nd = &g->nodes[i];
        size_t bytes = align_up((size_t)cn_shape_numel(&nd->shape) * sizeof(cn_real));
        size_t sb = nd->op->scratch_bytes ? align_up(nd->op->scratch_bytes(g, nd, CN_TRAIN)) : 0;
        size_t wb = nd->op->workspace_bytes ? align_up(nd->op->workspace_bytes(g, nd, CN_TRAIN)) : 0;
        if (wb > workspace) workspace = wb;
        for (int k = 0; k < 3; k++) offsets[3 * i + k] = SIZE_MAX;
        re_offset[i] = SIZE_MAX;
        re_at[i] = -1;
        if (!is_input[i] && group[i] == i && bytes) {
            bool re = state[i] == 1;
            slot[count] = 4 * i, blocks[count++] = (block){0, bytes, i, re ? fwd_end[i] : group_last[i]};
            if (re)
                slot[count] = 4 * i + 3,
                blocks[count++] = (block){0, bytes, first_bwd_read[group_cur[i]], group_last[i]};
        }
        grad_kept[i] = has_grad[i] && (is_input[i] || kept_node[i]);
        grad_last[i] = grad_kept[i] ? forever : BWD_STEP(i);
        if (has_grad[i] && bytes) slot[count] = 4 * i + 1, blocks[count++] = (block){0, bytes, grad_first[i], grad_last[i]};
        if (sb) slot[count] = 4 * i + 2, blocks[count++] = (block){0, sb, i, runs_backward[i] ? BWD_STEP(i) : i};
    }
    for (int k = 0; k < count; k++) order[k] = k;
    size_t by_birth = place_in_order(blocks, order, count);
    order_by_size(blocks, order, count);
    size_t total = place_in_order(blocks, order, count);
    if (by_birth < total) {
        for (int k = 0; k < count; k++) order[k] = k;
        total = place_in_order(blocks, order, count);
    }
    for (int k = 0; k < count; k++) {
        int i = slot[k] / 4, kind = slot[k] % 4;
        if (kind < 3) offsets[3 * i + kind] = blocks[k].offset;
        else re_offset[i] = blocks[k].offset;
    }
    /* A second backward after one forward reads the same values again: fine unless one of them (an output or
     * scratch that dies during backward) gave its memory to a block born after it. */
    bool repeatable = true;
    for (int a = 0; a < count && repeatable; a++) {
        const block *x = &blocks[a];
        if (slot[a] % 4 == 1 || x->last < n || x->last == forever) continue;
        for (int b = 0; b < count && repeatable; b++) {
            const block *y = &blocks[b];
            if (y->first > x->last && y->offset < x->offset + x->size && x->offset < y->offset + y->size)
                repeatable = false;
        }
    }
    for (int i = 0; i < n; i++) {
        int r = group[i];
        if (r != i) offsets[3 * i] = offsets[3 * r];
        if (!is_input[i] && state[r] == 1)
            re_offset[i] = re_offset[r], re_at[i] = BWD_STEP(first_bwd_read[group_cur[r]]);
        int life = is_input[i] ? forever : state[r] == 1 ? fwd_end[r] : group_last[r];
        kept[i] = !superseded[i] && life >= n - 1;
        kept_bwd[i] = !superseded[i] && life == forever;
        grad_birth[i] = has_grad[i] ? BWD_STEP(grad_first[i]) : -1; /* the node whose backward step it is */
    }
    /* nodes with a gradient by the step that creates it, in backward order (birth node descending) */
    int z = 0;
    for (int j = n - 1; j >= 0; j--)
        for (int i = 0; i < n; i++)
            if (grad_birth[i] == j) zero_order[z++] = i;
    for (int i = z; i < n; i++) zero_order[i] = -1;
    z = 0;
    for (int j = n - 1; j >= 0; j--)
        for (int i = 0; i < n; i++)
            if (re_at[i] == j) re_order[z++] = i;
    for (int i = z; i < n; i++) re_order[i] = -1;
#undef BWD_STEP
    cn_free(ints), cn_free(flags), cn_free(blocks), cn_free(order), cn_free(slot);
    g->plans[CN_TRAIN].offsets = offsets;
    g->plans[CN_TRAIN].kept = kept;
    g->plans[CN_TRAIN].kept_after_backward = kept_bwd;
    g->plans[CN_TRAIN].grad_kept = grad_kept;
    g->plans[CN_TRAIN].grad_birth = grad_birth;
    g->plans[CN_TRAIN].zero_order = zero_order;
    g->plans[CN_TRAIN].backward_repeatable = repeatable;
    g->plans[CN_TRAIN].recompute_at = re_at;
    g->plans[CN_TRAIN].recompute_order = re_order;
    g->plans[CN_TRAIN].recompute_offset = re_offset;
    g->plans[CN_TRAIN].workspace_offset = total;
    g->plans[CN_TRAIN].workspace_bytes = workspace;
    g->plans[CN_TRAIN].bytes = total + workspace;
    g->plans[CN_TRAIN].valid = true;
    return CN_OK;
}

/* Lay out every buffer of one mode; allocates only the plan's own tables. */
static cn_status make_plan(cn_graph *g, cn_mode mode) {
    int n = g->n_nodes;
    if (n == 0) return cn_error(CN_ERR_INVALID, "the graph is empty");
    if (mode == CN_TRAIN) return make_train_plan(g);
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
    g->backward_ran = false;
    return CN_OK;
}

cn_status cn_graph_profile(cn_graph *g, int on) {
    if (!g) return cn_error(CN_ERR_INVALID, "graph is NULL");
    cn_free(g->profile);
    g->profile = NULL, g->profile_nodes = 0;
    if (!on || g->n_nodes == 0) return CN_OK;
    g->profile = cn_calloc(2 * (size_t)g->n_nodes, sizeof(double));
    if (!g->profile) return cn_error(CN_ERR_NOMEM, "profile: out of memory");
    g->profile_nodes = g->n_nodes;
    return CN_OK;
}

cn_status cn_node_profile(const cn_graph *g, int node, double *forward_s, double *backward_s) {
    if (!g || node < 0 || node >= g->n_nodes) return cn_error(CN_ERR_INVALID, "profile: node %d does not exist", node);
    bool have = g->profile && node < g->profile_nodes;
    if (forward_s) *forward_s = have ? g->profile[2 * node] : 0;
    if (backward_s) *backward_s = have ? g->profile[2 * node + 1] : 0;
    return have ? CN_OK : cn_error(CN_ERR_INVALID, "profile: not on for node %d (cn_graph_profile)", node);
}

/* Time slot (0 forward, 1 backward) of node i while profiling: the clock now, or 0 when off. */
static inline double profile_start(const cn_graph *g, int i) { return g->profile && i < g->profile_nodes ? omp_get_wtime() : 0; }
static inline void profile_add(cn_graph *g, int i, int slot, double t0) {
    if (g->profile && i < g->profile_nodes) g->profile[2 * i + slot] += omp_get_wtime() - t0;
}

cn_status cn_forward(cn_graph *g, cn_mode mode) {
    cn_status st = cn_graph_plan(g, mode);
    if (st) return st;
    g->backward_ran = false;
    for (int i = 0; i < g->n_nodes; i++) {
        cn_node *n = &g->nodes[i];
        double t0 = profile_start(g, i);
        if (n->op->forward && (st = n->op->forward(g, n, mode)) != CN_OK) return st;
        profile_add(g, i, 0, t0);
    }
    g->forward_ran = true;
    return CN_OK;
}

size_t cn_graph_memory_bytes(cn_graph *g, cn_mode mode) {
    if (!g) return cn_error(CN_ERR_INVALID, "graph is NULL"), 0;
    if (mode != CN_TRAIN && mode != CN_EVAL) return cn_error(CN_ERR_INVALID, "mode %d is not a mode", (int)mode), 0;
    if (!g->plans[mode].valid && make_plan(g, mode) != CN_OK) return 0;
    return g->plans[mode].bytes;
}

const cn_real *cn_node_output(const cn_graph *g, int node) {
    if (!g || node < 0 || node >= g->n_nodes || !g->plan_valid || !g->forward_ran ||
        !g->plans[g->plan_mode].kept[node])
        return NULL;
    const bool *after = g->plans[g->plan_mode].kept_after_backward;
    if (g->backward_ran && after && !after[node]) return NULL;
    return g->nodes[node].out;
}

cn_real *cn_node_grad(const cn_graph *g, int node) {
    if (!g || node < 0 || node >= g->n_nodes || !g->plan_valid) return NULL;
    const bool *kept = g->plans[g->plan_mode].grad_kept;
    if (kept && !kept[node]) return NULL;
    return g->nodes[node].grad;
}

/* Whether node n is a ReLU whose backward its max pool did (graph/fuse.c): the pool ran, at or below from */
static bool done_by_pool(const cn_node *n, int from) { return n->train_fused && n->train_fused <= from; }

/* Whether step j's backward will set node id's gradient (born at j) rather than add into it: its op says so,
 * it runs, and id is one of its inputs once (a second use would add into what the first set). */
static bool sets_fresh(const cn_graph *g, int j, int from, int id) {
    const cn_node *n = &g->nodes[j];
    if (j > from || !n->grad || !n->op->backward || !n->op->sets_fresh_grads) return false;
    if (n->train_relu) return graph_fused_relu_input(g, n) == id; /* a fused pool writes its ReLU's input's */
    int uses = 0;
    for (int i = 0; i < n->n_inputs; i++) uses += n->inputs[i] == id;
    return uses == 1;
}

cn_status cn_backward(cn_graph *g, int from, const cn_real *seed) {
    if (!g || from < 0 || from >= g->n_nodes) return cn_error(CN_ERR_INVALID, "backward: node %d does not exist", from);
    if (!g->plan_valid || g->plan_mode != CN_TRAIN || !g->forward_ran)
        return cn_error(CN_ERR_INVALID, "backward needs a forward pass in train mode first");
    if (g->backward_ran && !g->plans[CN_TRAIN].backward_repeatable)
        return cn_error(CN_ERR_INVALID, "backward needs a new train forward: the last backward reused the memory "
                        "of the values it consumed");
    cn_node *top = &g->nodes[from];
    if (!top->grad)
        return cn_error(CN_ERR_INVALID, "backward: %s depends on no trainable parameter and no input that wants a "
                        "gradient", top->name);
    /* Walk the backward steps of every node, last first: at each, zero the gradients that step creates (the
     * first backward to add into them), then run it if it lies at or below from. A step whose op sets fresh
     * gradients (sets_fresh_grads) and will run is left them unzeroed (grad_fresh) when they are its input once. */
    const int *birth = g->plans[CN_TRAIN].grad_birth, *zero = g->plans[CN_TRAIN].zero_order;
    const int *re_at = g->plans[CN_TRAIN].recompute_at, *re = g->plans[CN_TRAIN].recompute_order;
    const size_t *re_offset = g->plans[CN_TRAIN].recompute_offset;
    int z = 0, r = 0;
    for (int j = g->n_nodes - 1; j >= 0; j--) {
        for (; z < g->n_nodes && zero[z] >= 0 && birth[zero[z]] == j; z++) {
            cn_node *nd = &g->nodes[zero[z]];
            if (zero[z] > from) continue;
            if (done_by_pool(nd, from)) continue; /* a fused ReLU's gradient: never read */
            if (sets_fresh(g, j, from, zero[z])) nd->grad_fresh = true;
            else cn_fill_par(nd->grad, NULL, cn_shape_numel(&nd->shape));
        }
        for (; r < g->n_nodes && re[r] >= 0 && re_at[re[r]] == j; r++) { /* outputs dropped after forward */
            cn_node *nd = &g->nodes[re[r]];
            double t0 = profile_start(g, re[r]);
            nd->out = (cn_real *)((char *)g->arena + re_offset[re[r]]);
            nd->op->recompute(g, nd);
            profile_add(g, re[r], 1, t0); /* a recomputed output counts as its node's backward */
        }
        if (j > from) continue;
        cn_node *n = &g->nodes[j];
        if (j == from) {
            int64_t count = cn_shape_numel(&n->shape);
            if (seed) cn_fill_par(n->grad, seed, count);
            else
                for (int64_t k = 0; k < count; k++) n->grad[k] = 1;
        }
        double t0 = profile_start(g, j);
        if (n->grad && n->op->backward && !done_by_pool(n, from)) n->op->backward(g, n);
        for (int i = 0; i < n->n_inputs; i++) g->nodes[n->inputs[i]].grad_fresh = false;
        if (n->train_relu) g->nodes[graph_fused_relu_input(g, n)].grad_fresh = false;
        profile_add(g, j, 1, t0);
    }
    for (r = 0; r < g->n_nodes && re[r] >= 0; r++) /* back to where forward writes them */
        g->nodes[re[r]].out = (cn_real *)((char *)g->arena + g->plans[CN_TRAIN].offsets[3 * re[r]]);
    g->backward_ran = true;
    return CN_OK;
}

void cn_zero_grad(cn_graph *g) {
    for (int i = 0; i < g->n_params; i++) {
        param_entry *p = g->params[i];
        if (p->trainable) cn_fill_par(p->grad.data, NULL, cn_tensor_numel(&p->grad)); /* both threads from 256K */
    }
}
