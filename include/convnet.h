/*
 * convnet.h — the one public header of libconvnet.
 *
 * A model is a static graph: build it once with the cn_* layer functions (each returns the new node's id,
 * or -1 with a message in cn_last_error()), then run cn_forward / cn_backward as often as you like.
 * Tensors are contiguous fp32, N C [D] H W. Every function that can fail returns a cn_status (or -1 for
 * node ids) and never aborts on user input.
 */
#ifndef CONVNET_H
#define CONVNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CN_VERSION "0.1.0"
#define CN_MAX_DIMS 5   /* N C D H W */
#define CN_MAX_SPATIAL 3
#define CN_NAME_MAX 96

/* The scalar type: float. The library is also built once with CN_REAL_IS_DOUBLE (libconvnet_f64, used by
 * the gradient-check tests only) so that numerical gradients can be checked in double precision. */
#ifdef CN_REAL_IS_DOUBLE
typedef double cn_real;
#else
typedef float cn_real;
#endif

/* ---------------------------------------------------------------- status and errors */
typedef enum {
    CN_OK = 0,
    CN_ERR_INVALID = 1,     /* a bad argument or attribute */
    CN_ERR_SHAPE = 2,       /* shapes that do not fit together */
    CN_ERR_NOMEM = 3,       /* allocation failed */
    CN_ERR_IO = 4,          /* a file could not be read or written */
    CN_ERR_FORMAT = 5,      /* a file is corrupt, truncated or of the wrong kind */
    CN_ERR_UNSUPPORTED = 6, /* valid, but not implemented */
    CN_ERR_NUMERIC = 7      /* NaN or infinity where a number was needed */
} cn_status;

/* The message of the last error on this thread, e.g. "conv2: input has 3 channels, weights expect 1". */
const char *cn_last_error(void);
const char *cn_status_name(cn_status s);

/* ---------------------------------------------------------------- memory */
/* All of the library's heap memory goes through these; tests install a counting allocator to prove that a
 * steady-state step allocates nothing. Pass NULL to restore malloc/free. */
typedef struct {
    void *(*alloc)(size_t bytes, void *user); /* must return 64-byte aligned memory */
    void (*free)(void *ptr, void *user);
    void *user;
} cn_allocator;
void cn_set_allocator(const cn_allocator *a);
void *cn_malloc(size_t bytes);            /* 64-byte aligned; NULL (with an error set) on failure */
void *cn_calloc(size_t count, size_t size);
void cn_free(void *ptr);

/* ---------------------------------------------------------------- tensors */
typedef struct {
    int ndim;                   /* 0..5 */
    int64_t dims[CN_MAX_DIMS];  /* N C [D] H W */
} cn_shape;

typedef struct {
    cn_shape shape;
    cn_real *data;              /* contiguous, row-major */
    int owns;                   /* 1 when cn_tensor_free must release data */
} cn_tensor;

cn_shape cn_shape_make(int ndim, const int64_t *dims);
cn_shape cn_shape4(int64_t n, int64_t c, int64_t h, int64_t w);
int64_t cn_shape_numel(const cn_shape *s);
int cn_shape_equal(const cn_shape *a, const cn_shape *b);
/* "2x3x28x28" into buf; returns buf. */
char *cn_shape_str(const cn_shape *s, char *buf, size_t buflen);

cn_status cn_tensor_alloc(cn_tensor *t, cn_shape shape);  /* zero-filled */
void cn_tensor_free(cn_tensor *t);
int64_t cn_tensor_numel(const cn_tensor *t);

/* ---------------------------------------------------------------- RNG */
/* PCG32: the same seed gives the same numbers on every machine. */
typedef struct { uint64_t state, inc; } cn_rng;
void cn_rng_seed(cn_rng *r, uint64_t seed, uint64_t stream);
uint32_t cn_rng_u32(cn_rng *r);
uint32_t cn_rng_below(cn_rng *r, uint32_t bound);   /* uniform in [0, bound), unbiased */
float cn_rng_uniform(cn_rng *r);                    /* [0, 1) with 24 random bits */
float cn_rng_normal(cn_rng *r);                     /* N(0, 1), Box-Muller in double */
void cn_rng_fill_uniform(cn_rng *r, cn_real *x, int64_t n, double lo, double hi);
void cn_rng_fill_normal(cn_rng *r, cn_real *x, int64_t n, double mean, double std);

/* ---------------------------------------------------------------- graph */
typedef struct cn_graph cn_graph;

typedef enum { CN_EVAL = 0, CN_TRAIN = 1 } cn_mode;

cn_graph *cn_graph_create(void);
void cn_graph_free(cn_graph *g);
/* Seed for parameter initialisation and dropout masks. */
void cn_graph_set_seed(cn_graph *g, uint64_t seed);

/* An input node. shape includes the batch dimension, e.g. {N, 1, 28, 28}; labels for classification
 * losses are an input of shape {N} holding class indices as floats. */
int cn_input(cn_graph *g, const char *name, cn_shape shape);

/* ---- layers. Each returns the node id, or -1 (message in cn_last_error()). name may be NULL: then a name
 * like "conv3" is made up. Parameters are named "<node>.<param>", as in PyTorch state dicts. */

/* Fully connected: x is (N, in) or any (N, ...) of in elements per row, y = x W^T + b, W is (out, in). */
int cn_linear(cn_graph *g, const char *name, int x, int out_features, int bias);
int cn_flatten(cn_graph *g, const char *name, int x);   /* (N, ...) -> (N, prod) */

typedef enum {
    CN_ACT_RELU, CN_ACT_LEAKY_RELU, CN_ACT_ELU, CN_ACT_SIGMOID, CN_ACT_TANH,
    CN_ACT_GELU,      /* exact, x * Phi(x) with erf */
    CN_ACT_GELU_TANH  /* the tanh approximation */
} cn_act;
/* alpha: negative slope for LeakyReLU (PyTorch default 0.01), alpha for ELU (default 1.0); else ignored. */
int cn_activation(cn_graph *g, const char *name, int x, cn_act act, float alpha);
int cn_relu(cn_graph *g, const char *name, int x);
/* PReLU: one learnable slope (num_parameters = 1) or one per channel (= C), initialised to init (0.25). */
int cn_prelu(cn_graph *g, const char *name, int x, int num_parameters, float init);
/* Softmax / LogSoftmax along axis (negative counts from the end; PyTorch's dim). */
int cn_softmax(cn_graph *g, const char *name, int x, int axis);
int cn_log_softmax(cn_graph *g, const char *name, int x, int axis);

typedef enum { CN_PAD_ZEROS, CN_PAD_REFLECT, CN_PAD_REPLICATE, CN_PAD_CIRCULAR } cn_pad_mode;

/* Convolution (cross-correlation) over the spatial axes of x: 1D for (N,C,W), 2D for (N,C,H,W), 3D for
 * (N,C,D,H,W). Per spatial axis i: out = (in + pad_begin + pad_end - dilation*(kernel-1) - 1)/stride + 1.
 * Weight (out_channels, in_channels/groups, k...), bias (out_channels). */
typedef struct {
    int out_channels;
    int kernel[CN_MAX_SPATIAL];
    int stride[CN_MAX_SPATIAL];
    int dilation[CN_MAX_SPATIAL];
    int pad_begin[CN_MAX_SPATIAL];
    int pad_end[CN_MAX_SPATIAL];
    int groups;
    int bias;               /* 1: with bias */
    cn_pad_mode pad_mode;
} cn_conv_attr;
/* kernel k, stride s, symmetric padding p and dilation 1 on every spatial axis; groups 1, bias on, zeros. */
cn_conv_attr cn_conv_attr_make(int out_channels, int k, int s, int p);
int cn_conv(cn_graph *g, const char *name, int x, const cn_conv_attr *attr);
int cn_conv2d(cn_graph *g, const char *name, int x, int out_channels, int k, int stride, int pad);

typedef enum { CN_POOL_MAX, CN_POOL_AVG } cn_pool_kind;
/* Max or average pooling, 1D/2D/3D from x's rank. stride 0 means stride = kernel. Padding is implicit
 * -inf for max and zeros for average (counted in the divisor when count_include_pad). */
typedef struct {
    cn_pool_kind kind;
    int kernel[CN_MAX_SPATIAL];
    int stride[CN_MAX_SPATIAL];
    int pad[CN_MAX_SPATIAL];
    int dilation[CN_MAX_SPATIAL];   /* max pooling only; 0 or 1 means none */
    int ceil_mode;
    int count_include_pad;          /* average only; PyTorch's default is 1 */
} cn_pool_attr;
cn_pool_attr cn_pool_attr_make(cn_pool_kind kind, int k, int s, int p);
int cn_pool(cn_graph *g, const char *name, int x, const cn_pool_attr *attr);
int cn_maxpool2d(cn_graph *g, const char *name, int x, int k, int stride);
/* (N, C, spatial...) -> (N, C, 1, ...) */
int cn_global_pool(cn_graph *g, const char *name, int x, cn_pool_kind kind);
/* Adaptive average pooling to the given output size per spatial axis (PyTorch's bin rule). */
int cn_adaptive_avgpool(cn_graph *g, const char *name, int x, const int *out_size);

/* Batch norm over (N, C) or (N, C, spatial...): gamma "weight", beta "bias", "running_mean",
 * "running_var", "num_batches_tracked" (PyTorch's names). Train: batch statistics, biased variance to
 * normalise, running <- (1-momentum) running + momentum * batch (unbiased variance). Eval: running. */
int cn_batchnorm(cn_graph *g, const char *name, int x, float eps, float momentum);
/* LayerNorm over the last normalized_ndim axes, with elementwise affine weight and bias of that shape. */
int cn_layernorm(cn_graph *g, const char *name, int x, int normalized_ndim, float eps, int affine);
/* InstanceNorm (PyTorch's default: no affine, no running stats); affine adds per-channel weight/bias. */
int cn_instancenorm(cn_graph *g, const char *name, int x, float eps, int affine);
int cn_groupnorm(cn_graph *g, const char *name, int x, int num_groups, float eps, int affine);
/* Local response normalisation across channels (PyTorch's nn.LocalResponseNorm):
 * b_c = a_c / (k + alpha/size * sum_{c' in window} a_c'^2)^beta. */
int cn_lrn(cn_graph *g, const char *name, int x, int size, float alpha, float beta, float k);

/* Inverted dropout: train y = x * mask / (1 - p); eval y = x. */
int cn_dropout(cn_graph *g, const char *name, int x, float p);

/* y = a + b (same shapes), and channel (axis 1) concatenation. */
int cn_add(cn_graph *g, const char *name, int a, int b);
int cn_concat(cn_graph *g, const char *name, const int *xs, int count);

/* ---- losses: each a node with output shape {1}, mean over the batch. */
/* logits (N, C), labels (N) class indices: mean of -sum_c q_c log softmax(logits)_c with
 * q = (1 - smoothing) onehot + smoothing / C. */
int cn_cross_entropy(cn_graph *g, const char *name, int logits, int labels, float label_smoothing);
/* Multiclass SVM: mean over i of sum_{j != y_i} max(0, s_j - s_{y_i} + margin) (PyTorch's
 * MultiMarginLoss divides by C as well; this follows the lecture, which does not). */
int cn_hinge_loss(cn_graph *g, const char *name, int scores, int labels, float margin);
/* mean((pred - target)^2) over all elements. */
int cn_mse_loss(cn_graph *g, const char *name, int pred, int target);

/* ---- the model zoo: build a named model on input node x (N, C, H, W); returns the logits node
 * (N, classes) or -1 (unknown name, or an input the architecture cannot take). */
int cn_model_build(cn_graph *g, const char *name, int x, int classes);
int cn_model_count(void);
const char *cn_model_name(int index);          /* NULL past the end */
const char *cn_model_description(int index);

/* ---- running */
int cn_graph_node_count(const cn_graph *g);
int cn_graph_find(const cn_graph *g, const char *name);           /* node id or -1 */
const char *cn_node_name(const cn_graph *g, int node);
const char *cn_node_op(const cn_graph *g, int node);               /* "Conv", "Relu", ... */
cn_shape cn_node_shape(const cn_graph *g, int node);

/* Change the batch size of every input and re-infer shapes; the memory plan is remade on next run. */
cn_status cn_graph_set_batch(cn_graph *g, int64_t batch);
/* Make the memory plan now (it is also made by the first forward of a mode). */
cn_status cn_graph_plan(cn_graph *g, cn_mode mode);
/* Copy data into an input node (count must equal the node's size). */
cn_status cn_set_input(cn_graph *g, int node, const cn_real *data, int64_t count);
/* Run every node up to and including the last one, in the given mode. */
cn_status cn_forward(cn_graph *g, cn_mode mode);
/* The output of a node after forward (valid until the next forward); NULL if not kept (eval mode frees
 * buffers as soon as nothing reads them, except for nodes marked as outputs). */
const cn_real *cn_node_output(const cn_graph *g, int node);
cn_real *cn_node_grad(const cn_graph *g, int node);       /* dL/d(output) after backward (train mode) */
/* Keep a node's output readable after an eval forward. Every node that nothing reads is an output. */
cn_status cn_graph_mark_output(cn_graph *g, int node);
/* Backward from a node: its gradient is seeded with seed (NULL: all ones, right for a scalar loss), then
 * every node before it gets dL/d(output) and every parameter's gradient is ACCUMULATED (call
 * cn_zero_grad between steps). Needs a train-mode forward first. */
cn_status cn_backward(cn_graph *g, int from_node, const cn_real *seed);
void cn_zero_grad(cn_graph *g);

/* ---- parameters (trainable weights and buffers such as running statistics) */
typedef struct {
    const char *name;       /* "conv1.weight" */
    cn_tensor *value;
    cn_tensor *grad;        /* NULL for buffers */
    int trainable;
} cn_param;
int cn_param_count(const cn_graph *g);
cn_param cn_param_get(const cn_graph *g, int index);
int cn_param_find(const cn_graph *g, const char *name);       /* index or -1 */
int64_t cn_graph_num_trainable(const cn_graph *g);            /* total trainable elements */

#ifdef __cplusplus
}
#endif
#endif
