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

    /* memory plan */
    void *arena;
    size_t arena_bytes;
    bool plan_valid;
    cn_mode plan_mode;
    bool *kept;             /* per node: output readable after forward */
    bool forward_ran;       /* a forward in plan_mode ran since the plan was made */
};

extern const cn_op_def cn_op_input;
cn_status graph_make_plan(cn_graph *g, cn_mode mode);
void graph_free_plan(cn_graph *g);

#endif
