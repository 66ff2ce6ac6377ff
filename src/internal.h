/* internal.h — what the library's own files share: the node and op-table structs, error helpers, the
 * graph accessors that ops use. Not installed. Math goes through <tgmath.h> so that exp(x) on a cn_real is
 * expf in the float build and exp in the double (gradient-check) build; write literals as (cn_real)0.5. */
#ifndef CN_INTERNAL_H
#define CN_INTERNAL_H

#include "convnet.h"
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>
#include <tgmath.h>

#define CN_ALIGN 64
#define CN_UNUSED(x) (void)(x)

/* ---- errors: set the thread's message and return the status, e.g.
 *   return cn_error(CN_ERR_SHAPE, "%s: input has %d channels, weights expect %d", n->name, c, w); */
void cn_clear_error(void);   /* cn_error itself is public (convnet.h) */

typedef struct cn_graph cn_graph;
typedef struct cn_node cn_node;

/* What an op's backward reads besides gradients, scratch and parameters (cn_op_def.backward_reads), so the
 * training plan can reuse the memory of values no backward needs. The default, 0, is "everything". */
typedef enum {
    CN_READS_ALL = 0,     /* the inputs' values and the node's output */
    CN_READS_INPUTS,      /* only the inputs' values (Conv, BatchNorm, Linear) */
    CN_READS_OUTPUT,      /* only the node's own output (ReLU, Sigmoid, Tanh) */
    CN_READS_NOTHING,     /* neither (Add, Concat, pooling with saved indices, Flatten) */
} cn_backward_reads;

/* ---- an op is a table entry */
typedef struct cn_op_def {
    const char *name;  /* "Conv", "MaxPool", ... (ONNX-style op names) */
    const char *prefix; /* for made-up node names: "conv" -> conv1, conv2 */
    /* Check attributes and input shapes, set *out. Errors name the node and both shapes. Pure: called
     * again with new shapes when the batch size changes. */
    cn_status (*shape)(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out);
    /* Create and initialise the node's parameters (graph_add_param), once, after shape succeeded. NULL if
     * the op has none. */
    cn_status (*init_params)(cn_graph *g, cn_node *n);
    /* Bytes of per-node memory kept from forward to backward or used as scratch (argmax indices, batch
     * statistics, dropout masks). Allocated by the memory plan, 64-byte aligned. NULL means 0. */
    size_t (*scratch_bytes)(const cn_graph *g, const cn_node *n, cn_mode mode);
    /* Bytes of temporary memory the node needs only while its forward or backward runs (GEMM packing,
     * im2col columns). One region, the largest of all nodes, is shared by every node: n->workspace. */
    size_t (*workspace_bytes)(const cn_graph *g, const cn_node *n, cn_mode mode);
    /* Bytes of persistent memory (n->cache) the node wants in `mode` (packed weights for inference), or NULL.
     * Made when a plan is made, kept until the graph is freed. */
    size_t (*cache_bytes)(const cn_graph *g, const cn_node *n, cn_mode mode);
    /* Its eval forward applies a following ReLU itself when n->fuse_relu is set (graph/fuse.c). */
    bool fuses_relu;
    /* Compute the output from the inputs. Never allocates. Returns CN_OK, or an error for what only the
     * data can show (a label out of range: "loss: label 12 of sample 3 is not in [0, 10)"). */
    cn_status (*forward)(cn_graph *g, cn_node *n, cn_mode mode);
    /* ADD dL/d(input) into each input's gradient (graph_in_grad, NULL when that input needs none) and
     * dL/d(param) into each parameter's gradient, from dL/d(output) (graph_out_grad). NULL: no backward. */
    void (*backward)(cn_graph *g, cn_node *n);
    /* true: backward SETS an input's gradient where graph_in_grad_fresh says it holds nothing yet (the graph
     * then skips zeroing it for this, its first writer), writing every element. Memory-bound backward passes
     * save a pass over the buffer and the read of it. */
    bool sets_fresh_grads;
    /* Multiply-adds for one forward pass at the node's current shapes (analysis). NULL means 0. */
    int64_t (*macs)(const cn_graph *g, const cn_node *n);
    /* List the node's attributes (cn_node_attrs) into out, which has room for CN_MAX_ATTRS, with the
     * attr_* helpers below; returns the count. NULL: the op has none. */
    int (*attrs)(const cn_graph *g, const cn_node *n, cn_attr *out);
    /* What backward reads (above); the training plan frees a value once its last reader is done. */
    cn_backward_reads backward_reads;
    /* true: forward is elementwise (y[i] depends only on element i of each input), so it stays correct when
     * the output buffer is one of its inputs' buffers; the training plan then runs it in place when that
     * input is read by nothing after this node (ReLU after BatchNorm, Add). */
    bool inplace;
    /* Write into n->out the output the last train forward computed, from the inputs, parameters and scratch,
     * with no side effect (no running statistics, no random draw). Lets the training plan drop an output that
     * is cheap to make (BatchNorm, ReLU, Add) after forward and bring it back for the backward steps that read
     * it. NULL: never recomputed. */
    void (*recompute)(cn_graph *g, cn_node *n);
} cn_op_def;

#define CN_MAX_NODE_PARAMS 8

struct cn_node {
    char name[CN_NAME_MAX];
    const cn_op_def *op;
    int *inputs;            /* node ids, all smaller than this node's id */
    int n_inputs;
    void *attr;             /* the op's attribute struct, owned by the graph */
    size_t attr_size;       /* its size in bytes (a graph rewrite copies it) */
    cn_shape shape;         /* output shape, batch first */
    int params[CN_MAX_NODE_PARAMS]; /* indices into the graph's parameter list */
    int n_params;
    bool is_output;
    /* set by the memory plan */
    cn_real *out;
    cn_real *grad;          /* dL/d(out); train mode only */
    bool grad_fresh;        /* grad holds nothing yet: its first writer (an op that sets_fresh_grads) sets it */
    void *scratch;
    void *workspace;        /* shared; valid only during this node's forward/backward */
    size_t workspace_size;  /* bytes at workspace (the largest any node asked for) */
    /* eval-mode fusion (graph/fuse.c, set when the eval plan is made): a conv computes the eval batch norm
     * fuse_bn (a node id, 0: none) and/or a ReLU in its write-back; the nodes it absorbed are `fused_away`:
     * in eval mode their forward does nothing and their output is the conv's buffer */
    int fuse_bn;
    bool fuse_relu, fused_away;
    /* training fusion (graph/fuse.c, set when the training plan is made): a MaxPool reading a ReLU that nothing
     * else reads does the ReLU's backward: its train forward marks the windows whose maximum is 0 (argmax -1)
     * and its backward adds dy into the ReLU's input gradient. train_relu: on the pool, the ReLU's id;
     * train_fused: on the ReLU, the pool's id (0: none); its backward is skipped when the pool's has run. */
    int train_relu, train_fused;
    /* persistent per-node memory (packed weights for inference), kept across passes and plans, made at plan
     * time (op cache_bytes) and owned by the graph; cache_gen/cache_key say what it holds (key 0: nothing) */
    void *cache;
    size_t cache_size;
    uint64_t cache_gen;
    int cache_key;
};

/* ---- what ops use */
const cn_node *graph_node(const cn_graph *g, int id);
const cn_shape *graph_in_shape(const cn_graph *g, const cn_node *n, int i);
const cn_real *graph_in(const cn_graph *g, const cn_node *n, int i);
cn_real *graph_in_grad(const cn_graph *g, const cn_node *n, int i);  /* NULL when no gradient is wanted */
int graph_fused_relu_input(const cn_graph *g, const cn_node *n); /* n->train_relu's input node, -1 when none */
cn_real *graph_fused_relu_in_grad(const cn_graph *g, const cn_node *n); /* n->train_relu's input gradient */
bool graph_fused_relu_in_grad_fresh(const cn_graph *g, const cn_node *n); /* ... to be set, not added into */
bool graph_in_grad_fresh(const cn_graph *g, const cn_node *n, int i); /* set it, do not add (sets_fresh_grads) */
cn_real *graph_out_grad(const cn_graph *g, const cn_node *n);
cn_tensor *graph_param(const cn_graph *g, const cn_node *n, int k);       /* k-th parameter's value */
cn_tensor *graph_param_grad(const cn_graph *g, const cn_node *n, int k);  /* NULL for buffers */
cn_rng *graph_rng(cn_graph *g);
/* The parameter generation: changes whenever parameter values may have changed (optimizer steps, checkpoint
 * loads, cn_param_get, cn_graph_params_changed); caches derived from weights compare it. */
uint64_t graph_param_generation(const cn_graph *g);
/* Whether the node buffers follow the evaluation plan (the last run, or the next, is in eval mode). */
bool graph_eval_planned(const cn_graph *g);
/* Add a parameter "<node>.<suffix>" to node n, zero-filled. trainable 0 makes a buffer (running_mean). */
cn_status graph_add_param(cn_graph *g, cn_node *n, const char *suffix, cn_shape shape, int trainable);
/* PyTorch's default init for conv and linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias
 * (kaiming_uniform with a = sqrt(5) gives the same bound for the weight). */
void graph_init_uniform_fan_in(cn_graph *g, cn_tensor *t, int64_t fan_in);

/* Add a node: copies attr (attr_size bytes), checks the inputs, infers the shape, makes parameters.
 * Returns the node id or -1 (with the error set and nothing left behind). */
int graph_add_node(cn_graph *g, const cn_op_def *op, const char *name, const int *inputs, int n_inputs,
                   const void *attr, size_t attr_size);

/* ---- attribute listing for the op's attrs callback: out[*count] is filled and *count advanced. */
static inline cn_attr *attr_push(cn_attr *out, int *count, const char *name, cn_attr_type type) {
    cn_attr *a = &out[(*count)++];
    memset(a, 0, sizeof *a);
    a->name = name;
    a->type = type;
    a->count = 1;
    return a;
}
static inline void attr_int(cn_attr *out, int *count, const char *name, int64_t v) {
    attr_push(out, count, name, CN_ATTR_INT)->ints[0] = v;
}
static inline void attr_float(cn_attr *out, int *count, const char *name, double v) {
    attr_push(out, count, name, CN_ATTR_FLOAT)->f = v;
}
static inline void attr_string(cn_attr *out, int *count, const char *name, const char *v) {
    attr_push(out, count, name, CN_ATTR_STRING)->s = v;
}
/* values[0..n) followed by more[0..n_more) (pads: begins then ends); more may be NULL. */
static inline void attr_ints(cn_attr *out, int *count, const char *name, const int *values, int n, const int *more,
                             int n_more) {
    cn_attr *a = attr_push(out, count, name, CN_ATTR_INTS);
    a->count = 0;
    for (int i = 0; i < n && a->count < CN_ATTR_MAX_INTS; i++) a->ints[a->count++] = values[i];
    for (int i = 0; more && i < n_more && a->count < CN_ATTR_MAX_INTS; i++) a->ints[a->count++] = more[i];
}

/* ---- eval-mode batch norm n as y = scale * (x - mean) + beta for channel ch (the conv fusion, graph/fuse.c) */
void batchnorm_eval_channel(const cn_graph *g, const cn_node *n, int64_t ch, double *scale, double *mean,
                            double *beta);

/* ---- for ops whose output is their input's data unchanged (Flatten, Reshape): y = x, dx += dy */
cn_status op_copy_forward(cn_graph *g, cn_node *n, cn_mode mode);
void op_accumulate_backward(cn_graph *g, cn_node *n);

/* ---- shapes */
static inline int64_t shape_spatial(const cn_shape *s) {  /* product of dims after N and C */
    int64_t p = 1;
    for (int i = 2; i < s->ndim; i++) p *= s->dims[i];
    return p;
}

#endif
