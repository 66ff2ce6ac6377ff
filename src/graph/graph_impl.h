/* graph_impl.h — the graph struct, shared by the files of src/graph/ only. */
#ifndef CN_GRAPH_IMPL_H
#define CN_GRAPH_IMPL_H

#include "internal.h"

typedef struct {
    char name[2 * CN_NAME_MAX];
    cn_tensor value;
    cn_tensor grad;     /* empty for buffers */
    int trainable;
    int node;
} param_entry;

struct cn_graph {
    cn_node *nodes;
    int n_nodes, cap_nodes;
    param_entry **params;   /* pointers, so cn_param values stay valid while the graph grows */
    int n_params, cap_params;
    uint64_t seed;
    cn_rng rng;

    /* memory plan: one per mode, made once, so switching between training and evaluation only re-points
     * the node buffers; both share one arena of the larger size. */
    struct {
        size_t *offsets;    /* 3 per node: output, gradient, scratch; SIZE_MAX for none */
        bool *kept;         /* per node: output readable after forward */
        /* training only (NULL in eval): per node, output and gradient still readable after backward; the
         * node whose backward step creates the gradient (it is zeroed then); nodes by that step, last first */
        bool *kept_after_backward, *grad_kept;
        int *grad_birth, *zero_order;
        bool backward_repeatable; /* no value a backward reads shares memory with a later block */
        /* recomputed outputs: per node, the node whose backward step recomputes it (-1: none) and where;
         * those nodes by that step, last first, then in forward order (-1 ends the list) */
        int *recompute_at, *recompute_order;
        size_t *recompute_offset;
        size_t bytes;
        size_t workspace_offset, workspace_bytes;
        bool valid;
    } plans[2];
    void *arena;
    size_t arena_bytes;
    bool plan_valid;        /* the node pointers follow plans[plan_mode] */
    cn_mode plan_mode;
    bool forward_ran;       /* a forward in plan_mode ran since the pointers were set */
    bool backward_ran;      /* a backward ran since that forward (it reused the values it consumed) */
    uint64_t param_gen;     /* graph_param_generation */
    double *profile;        /* cn_graph_profile: 2 per node (forward, backward seconds) for the first profile_nodes
                             * nodes; NULL when off */
    int profile_nodes;
};

/* Forget both plans (shapes or the graph changed). */
void graph_invalidate_plans(cn_graph *g);

extern const cn_op_def cn_op_input;
/* Whether backward computes dL/d(input) for an Input node (cn_input_set_grad; default yes). */
bool graph_input_wants_grad(const cn_graph *g, int node);
void graph_free_plan(cn_graph *g);
/* fuse.c: at plan time, the eval-mode fusion (owner[i]: the node whose output buffer node i shares, i when
 * none) and the nodes' persistent caches. */
cn_status graph_fuse_and_cache(cn_graph *g, cn_mode mode, int *owner);
void graph_fuse_train(cn_graph *g); /* sets train_relu / train_fused (fuse.c) */

#endif
