/* fuse.c — what the memory plan asks of a graph before it lays out a mode's buffers:
 *
 * Eval-mode fusion. A convolution whose only reader is an eval-mode BatchNormalization and/or a ReLU
 * (conv -> BN -> ReLU, conv -> BN, conv -> ReLU) computes relu(scale * conv + shift) itself, in its GEMM
 * write-back or Winograd output transform (scale, shift: the BN's running statistics and affine parameters,
 * the conv bias folded into shift). The absorbed nodes become pass-through: `fused_away`, their forward does
 * nothing in eval mode, and the plan gives them the conv's output buffer (owner[i] = the conv), which then
 * lives as long as the last reader of any of them. A node on the chain other than the last must have exactly
 * one reader and not be a marked output (its own value is never computed); the last may be read by anything
 * and marked. Likewise an Add read only by a ReLU computes relu(a + b) (the residual join of ResNets).
 * The eval fields are only read in eval mode. CN_FUSE=0 turns fusion off (read whenever a plan is made: tests
 * and benchmarks compare both).
 *
 * Training fusion. A MaxPool whose input is a ReLU that nothing else reads (conv -> ReLU -> pool: LeNet, AlexNet,
 * VGG, ResNet's stem) does the ReLU's backward: the pool's window maximum over ReLU outputs is 0 exactly when the
 * ReLU's derivative at the argmax is 0, so the train forward sets those argmax entries to -1 and the pool's
 * backward adds dy straight into the ReLU's input gradient, which the plan then creates at the pool's step. The
 * ReLU's own backward (a pass over its whole input, output and gradient) is skipped whenever the pool's ran.
 * Gradients are the same values either way.
 *
 * Persistent caches. Ops with a cache_bytes entry (convolution: packed / Winograd-transformed weights for
 * inference) get n->cache, grown here when a plan needs more, kept until the graph is freed; so a steady-state
 * pass allocates nothing. What a cache holds is the op's business (cache_gen, cache_key). */
#include "graph_impl.h"
#include <stdlib.h>

static bool op_is(const cn_node *n, const char *name) { return strcmp(n->op->name, name) == 0; }

static bool fusion_enabled(void) {
    const char *e = getenv("CN_FUSE");
    return !(e && strcmp(e, "0") == 0);
}

static void fuse_eval(cn_graph *g, int *owner, int *readers, int *reader) {
    int n = g->n_nodes;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            readers[g->nodes[i].inputs[k]]++;
            reader[g->nodes[i].inputs[k]] = i;
        }
    for (int i = 0; i < n; i++) {
        cn_node *c = &g->nodes[i];
        if (!c->op->fuses_relu) continue; /* ops that implement the fused forward (conv, residual add) */
        if (op_is(c, "Add") && readers[i] == 1 && !c->is_output && op_is(&g->nodes[reader[i]], "Relu")) {
            c->fuse_relu = true; /* the residual add + ReLU of ResNets: one pass */
            g->nodes[reader[i]].fused_away = true;
            owner[reader[i]] = i;
            continue;
        }
        if (!op_is(c, "Conv")) continue;
        for (int cur = i; readers[cur] == 1 && !g->nodes[cur].is_output;) {
            int id = reader[cur];
            cn_node *r = &g->nodes[id];
            if (r->n_inputs != 1) break;
            if (op_is(r, "BatchNormalization") && cur == i) c->fuse_bn = id;
            else if (op_is(r, "Relu") && !c->fuse_relu) c->fuse_relu = true;
            else break;
            r->fused_away = true;
            owner[id] = i;
            cur = id;
        }
    }
}

void graph_fuse_train(cn_graph *g) {
    int n = g->n_nodes;
    for (int i = 0; i < n; i++) g->nodes[i].train_relu = g->nodes[i].train_fused = 0;
    if (!fusion_enabled()) return;
    for (int i = 0; i < n; i++) {
        cn_node *p = &g->nodes[i];
        if (!op_is(p, "MaxPool") || p->n_inputs != 1) continue;
        int r = p->inputs[0];
        cn_node *relu = &g->nodes[r];
        if (!op_is(relu, "Relu") || relu->n_inputs != 1 || relu->is_output) continue;
        int readers = 0;
        for (int j = 0; j < n; j++)
            for (int k = 0; k < g->nodes[j].n_inputs; k++) readers += g->nodes[j].inputs[k] == r;
        if (readers != 1) continue;
        p->train_relu = r;
        relu->train_fused = i;
    }
}

cn_status graph_fuse_and_cache(cn_graph *g, cn_mode mode, int *owner) {
    int n = g->n_nodes;
    for (int i = 0; i < n; i++) owner[i] = i;
    if (mode == CN_EVAL) {
        for (int i = 0; i < n; i++) {
            g->nodes[i].fuse_bn = 0;
            g->nodes[i].fuse_relu = g->nodes[i].fused_away = false;
        }
        if (fusion_enabled()) {
            int *counts = cn_calloc((size_t)2 * n, sizeof(int));
            if (!counts) return CN_ERR_NOMEM;
            fuse_eval(g, owner, counts, counts + n);
            cn_free(counts);
        }
    }
    for (int i = 0; i < n; i++) {
        cn_node *nd = &g->nodes[i];
        size_t bytes = nd->op->cache_bytes ? nd->op->cache_bytes(g, nd, mode) : 0;
        if (bytes <= nd->cache_size) continue;
        cn_free(nd->cache);
        nd->cache_size = 0;
        nd->cache_key = 0;
        if (!(nd->cache = cn_malloc(bytes))) return CN_ERR_NOMEM;
        nd->cache_size = bytes;
    }
    return CN_OK;
}
