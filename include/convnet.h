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
/* Set this thread's message (printf-style) and return status: for code that builds on the library. */
cn_status cn_error(cn_status status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

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
/* Number of elements; -1 when a dimension is negative, INT64_MAX when the product overflows. */
int64_t cn_shape_numel(const cn_shape *s);
/* CN_OK when every dimension is >= 0 and the tensor has at most CN_MAX_NUMEL elements; otherwise an
 * error that starts with `what`. Every node's output shape is checked this way when it is added. */
#define CN_MAX_NUMEL ((int64_t)1 << 40)
cn_status cn_shape_check(const cn_shape *s, const char *what);
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
    int dilation[CN_MAX_SPATIAL];   /* 0 or 1 means none; average pooling divides by the taps (ONNX opset 19) */
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

/* ---- tensor ops (what imported ONNX models use around the layers). Shapes need not start with a batch
 * axis here; broadcasting follows numpy (ONNX) rules. */
/* A constant tensor (a copy of data, numel(shape) values) as a parameter "<name>.value": trainable 1 makes
 * it learnable (an imported initializer), 0 a buffer. */
int cn_constant(cn_graph *g, const char *name, cn_shape shape, const cn_real *data, int trainable);
/* ONNX Reshape: ndim target dims, 0 copies the input's dim at that position, one -1 is inferred. */
int cn_reshape(cn_graph *g, const char *name, int x, int ndim, const int64_t *dims);
/* y = x with its axes permuted: y.dims[i] = x.dims[perm[i]] (NULL: reversed, as ONNX). */
int cn_transpose(cn_graph *g, const char *name, int x, const int *perm);
typedef enum { CN_OP_ADD, CN_OP_SUB, CN_OP_MUL, CN_OP_DIV } cn_binary_op;
/* y = a (op) b with broadcasting. */
int cn_binary(cn_graph *g, const char *name, cn_binary_op op, int a, int b);
/* y = min(max(x, lo), hi); pass -INFINITY / INFINITY for no bound. */
int cn_clip(cn_graph *g, const char *name, int x, float lo, float hi);
/* Pad every axis of x: pads = {begin_0, ..., begin_{r-1}, end_0, ..., end_{r-1}} as ONNX (negative crops);
 * mode zeros pads with value, reflect/replicate (ONNX "edge")/circular as conv padding. */
int cn_pad(cn_graph *g, const char *name, int x, const int64_t *pads, cn_pad_mode mode, float value);
/* Mean over the given axes (negative from the end; n_axes 0: all), keeping them as 1 when keepdims. */
int cn_reduce_mean(cn_graph *g, const char *name, int x, const int *axes, int n_axes, int keepdims);
/* numpy matmul of a (..., M, K) and b (..., K, N), both of rank >= 2, batch axes broadcast. */
int cn_matmul(cn_graph *g, const char *name, int a, int b);
/* y = erf(x) elementwise (PyTorch exports GELU as x * 0.5 * (1 + erf(x / sqrt 2)) before opset 20). */
int cn_erf(cn_graph *g, const char *name, int x);
/* ONNX Slice over every axis: starts, ends and steps (NULL: 1) per axis, negative indices from the end,
 * clamped as ONNX does; any nonzero step (negative walks backwards). An empty result is an error. */
int cn_slice(cn_graph *g, const char *name, int x, const int64_t *starts, const int64_t *ends, const int64_t *steps);
/* Concatenation along any axis (negative from the end); cn_concat is axis 1. */
int cn_concat_axis(cn_graph *g, const char *name, const int *xs, int count, int axis);
/* LRN with the window [c - before, c - before + size - 1]: before = size/2 is PyTorch's (cn_lrn), (size-1)/2
 * ONNX's; they differ for even sizes. */
int cn_lrn_window(cn_graph *g, const char *name, int x, int size, int before, float alpha, float beta, float k);
/* y = x^exponent elementwise (ONNX Pow with a constant exponent). */
int cn_pow(cn_graph *g, const char *name, int x, double exponent);

/* ---- losses: each a node with output shape {1}, mean over the batch. */
/* logits (N, C), labels (N) class indices: mean of -sum_c q_c log softmax(logits)_c with
 * q = (1 - smoothing) onehot + smoothing / C. */
int cn_cross_entropy(cn_graph *g, const char *name, int logits, int labels, float label_smoothing);
/* Multiclass SVM: mean over i of sum_{j != y_i} max(0, s_j - s_{y_i} + margin) (PyTorch's
 * MultiMarginLoss divides by C as well; this follows the lecture, which does not). */
int cn_hinge_loss(cn_graph *g, const char *name, int scores, int labels, float margin);
/* mean((pred - target)^2) over all elements. */
int cn_mse_loss(cn_graph *g, const char *name, int pred, int target);

/* ---- ONNX import. A model becomes an ordinary graph: one input node per graph input (named as in the
 * model), initializers become the parameters of the nodes that use them (trainable), shape-only subgraphs
 * (Shape, Gather, Unsqueeze, Concat, Reshape... of constants) are folded at load time. Opsets 7 to 21. */
#define CN_ONNX_MAX_IO 16
typedef struct {
    int n_inputs, n_outputs;
    int input[CN_ONNX_MAX_IO];          /* node ids of the graph inputs, in the model's order */
    int output[CN_ONNX_MAX_IO];         /* node ids of the graph outputs (marked as outputs) */
    char input_name[CN_ONNX_MAX_IO][CN_NAME_MAX];   /* the model's names */
    char output_name[CN_ONNX_MAX_IO][CN_NAME_MAX];
    int64_t opset;                      /* of the default (ai.onnx) domain */
} cn_onnx_info;
/* input_shapes: NULL, or n_shapes shapes for the model's inputs in order (ndim 0: the model's own); a
 * given shape fills the model's symbolic dims and must equal its fixed ones. info may be NULL. NULL on
 * error, with a message naming the file, the op / node / tensor at fault. */
cn_graph *cn_onnx_load(const char *path, const cn_shape *input_shapes, int n_shapes, cn_onnx_info *info);
cn_graph *cn_onnx_load_buffer(const void *data, size_t size, const cn_shape *input_shapes, int n_shapes,
                              cn_onnx_info *info);
/* The shapes of the model's inputs as declared (symbolic dims as 0) without building anything. */
cn_status cn_onnx_input_shapes(const char *path, cn_shape *shapes, int max, int *count);
/* Export: the inference part of g as an ONNX model (opset 13, IR version 7; opset 17, IR 8 when it has
 * LayerNormalization), written to a temporary file
 * and renamed to path. outputs: n_outputs node ids, or NULL / 0 for the default: every node that is marked
 * as an output or read by nothing but loss nodes. Loss nodes and the inputs only they read (labels) are
 * left out. Parameters become initializers under their names (conv1.weight); values are named as the nodes;
 * the batch axis of the inputs and outputs is the symbolic "N". Ops ONNX lacks at opset 13 are written as
 * their ONNX equivalents (docs/ARCHITECTURE.md); one that has none (circular padding, GroupNormalization)
 * is an error naming the node. */
cn_status cn_onnx_save(const cn_graph *g, const char *path, const int *outputs, int n_outputs);

/* A float tensor in a file: an ONNX TensorProto (.pb, as ONNX's test_data_set_*) or numpy .npy (v1.0,
 * '<f4', C order; '<f8' is read too), chosen by the extension (.npy, else TensorProto). Load allocates
 * t (cn_tensor_free); name (may be NULL) gets the TensorProto's name. */
cn_status cn_tensor_load_file(const char *path, cn_tensor *t, char *name, size_t name_len);
cn_status cn_tensor_save_file(const char *path, const cn_tensor *t, const char *name);

/* ---- the model zoo: build a named model on input node x (N, C, H, W); returns the logits node
 * (N, classes) or -1 (unknown name, or an input the architecture cannot take). A name ending in ".onnx" is
 * an ONNX model file imported onto x (one input, at x's shape; one output, the N x classes logits; classes
 * < 1 takes the model's, another count than the model's is an error); cn_model_input_size gives its
 * declared input. */
int cn_model_build(cn_graph *g, const char *name, int x, int classes);
int cn_model_count(void);
const char *cn_model_name(int index);          /* NULL past the end */
const char *cn_model_description(int index);
/* Build the model a model file describes (docs/MODEL_FORMAT.md: one layer per line, `conv 20 k5 p2`).
 * cn_model_build calls this for a name that is not in the zoo and ends in ".txt" or names an existing
 * file. Errors name the place: "models/x.txt:3:9: unknown option 'q5' for conv (...)". */
int cn_model_build_file(cn_graph *g, const char *path, int x, int classes);
/* The input a model was designed for (lenet5 1x28x28, alexnet 3x224x224; a model file's `input` line).
 * CN_ERR_INVALID for an unknown name or a file without an `input` line. */
cn_status cn_model_input_size(const char *name, int *channels, int *height, int *width);

/* ---- analysis: what each layer holds and costs, as the lectures tabulate it. Receptive fields follow
 * the usual recurrence along one spatial axis, H (W for 1-D inputs): with k_eff = dilation*(k-1) + 1,
 * rf_out = rf_in + (k_eff - 1) * jump_in and jump_out = jump_in * stride for convolution and pooling; the
 * largest over the inputs where paths join; a layer that sees the whole map (global pooling, a fully
 * connected layer, adaptive pooling to 1) covers at least the whole input. Other layers (activations,
 * normalisations, dropout, ...) are position-wise: they keep the field. */
typedef struct {
    const char *name;           /* the node's name (valid while the graph lives) */
    const char *op;             /* "Conv", "MaxPool", ... */
    char desc[128];             /* compact, lecture style: "conv 20 k5 s1 p2", "maxpool k2 s2", "fc 500" */
    cn_shape output;            /* with the batch dimension */
    cn_shape weight;            /* the node's "weight" parameter; ndim 0 when it has none */
    int64_t params;             /* trainable elements of the node (buffers such as running_mean excluded) */
    int64_t macs;               /* multiply-adds of one forward pass at the graph's batch size */
    int64_t activation_bytes;   /* bytes of the output at the graph's batch size */
    int64_t receptive_field;    /* input pixels along the axis above that one output value sees; 0: not spatial */
    int64_t jump;               /* input pixels between neighbouring outputs along that axis; 0: not spatial */
} cn_layer_stats;
typedef struct {
    int64_t params, macs, activation_bytes;     /* sums over the layers */
} cn_graph_stats;
/* One entry per node, in graph order: fills up to max of them (layers may be NULL when max is 0) and the
 * totals (may be NULL); returns the node count, or -1 for a NULL graph. */
int cn_graph_analyze(const cn_graph *g, cn_layer_stats *layers, int max, cn_graph_stats *totals);

/* ---- batch norm folding for inference: a copy of g in which every BatchNorm that directly follows a
 * convolution or fully connected node (whose output nothing else reads) is merged into that node:
 * W' = s W and b' = s (b - running_mean) + beta per output channel, s = gamma / sqrt(running_var + eps);
 * a bias is added where the layer had none. Everything else (nodes, names, attributes, parameters and
 * buffers, marked outputs, the batch size) is copied; the folded BN nodes are gone, so their readers read
 * the merged layer. Eval-mode outputs equal g's up to rounding. node_map (may be NULL) gets, for each of
 * g's cn_graph_node_count(g) nodes, its id in the copy (a folded BN: the merged layer's id); *folded (may
 * be NULL) the number of BN nodes merged. NULL with a message on error. */
cn_graph *cn_graph_fold_batchnorm(const cn_graph *g, int *node_map, int *folded);

/* ---- running */
int cn_graph_node_count(const cn_graph *g);
int cn_graph_find(const cn_graph *g, const char *name);           /* node id or -1 */
const char *cn_node_name(const cn_graph *g, int node);
const char *cn_node_op(const cn_graph *g, int node);               /* "Conv", "Relu", ... */
cn_shape cn_node_shape(const cn_graph *g, int node);
/* The input node ids of a node: fills up to max of them into ids (may be NULL when max is 0) and returns how
 * many the node has, or -1 for a node that does not exist. */
int cn_node_inputs(const cn_graph *g, int node, int *ids, int max);

/* ---- attributes: what a node was built with, under ONNX's attribute names where ONNX has them
 * (kernel_shape, strides, dilations, pads as [begins..., ends...], group, ceil_mode, count_include_pad,
 * alpha, beta, bias (LRN's k), size, axis, epsilon, momentum (PyTorch's meaning: the weight of the new
 * batch statistic), num_groups, ratio (dropout's p)) and ours otherwise (out_channels, out_features,
 * has_bias, pad_mode "zeros|reflect|replicate|circular", gelu "exact|tanh", num_parameters, init,
 * label_smoothing, margin, normalized_ndim, affine, output_size). Per-axis lists have one value per
 * spatial axis of the node's input. */
typedef enum { CN_ATTR_INT, CN_ATTR_INTS, CN_ATTR_FLOAT, CN_ATTR_STRING } cn_attr_type;
#define CN_ATTR_MAX_INTS 8      /* pads of a 3-D op: 3 begins + 3 ends */
#define CN_MAX_ATTRS 16         /* no node has more */
typedef struct {
    const char *name;           /* static string: "kernel_shape" */
    cn_attr_type type;
    int count;                  /* INTS: number of values; 1 otherwise */
    int64_t ints[CN_ATTR_MAX_INTS]; /* INT: ints[0]; INTS: ints[0..count) */
    double f;                   /* FLOAT */
    const char *s;              /* STRING: a static string */
} cn_attr;
/* Fills up to max attributes of a node into out (may be NULL when max is 0) and returns how many the node
 * has (at most CN_MAX_ATTRS), or -1 for a node that does not exist. */
int cn_node_attrs(const cn_graph *g, int node, cn_attr *out, int max);
/* The attribute of that name, or NULL. */
const cn_attr *cn_attr_find(const cn_attr *attrs, int count, const char *name);

/* Change the batch size of every input and re-infer shapes; the memory plan is remade on next run. */
cn_status cn_graph_set_batch(cn_graph *g, int64_t batch);
/* Make the memory plan now (it is also made by the first forward of a mode). */
cn_status cn_graph_plan(cn_graph *g, cn_mode mode);
/* Copy data into an input node (count must equal the node's size). */
cn_status cn_set_input(cn_graph *g, int node, const cn_real *data, int64_t count);
/* Run every node up to and including the last one, in the given mode. */
cn_status cn_forward(cn_graph *g, cn_mode mode);
/* The output of a node after forward (valid until the next forward); NULL if not kept. Both modes reuse a
 * buffer once nothing reads it any more: eval as soon as the last reader ran; training once no later forward
 * and no backward needs it (a BatchNorm output read only by a ReLU, which runs in place). Inputs, nodes
 * marked as outputs and nodes nothing reads are always kept; after a backward, only those are. */
const cn_real *cn_node_output(const cn_graph *g, int node);
/* dL/d(output) after backward (train mode), for inputs (unless cn_input_set_grad turned it off), nodes
 * marked as outputs and nodes nothing reads; NULL for the others, whose gradient memory is reused as soon
 * as their own backward has run. */
cn_real *cn_node_grad(const cn_graph *g, int node);
/* Keep a node's output (and, in training, its gradient) readable. Every node that nothing reads is an
 * output. */
cn_status cn_graph_mark_output(cn_graph *g, int node);
/* Whether backward computes dL/d(input) for an input node (default 1). 0 for data and labels saves that
 * gradient's memory and, for a first convolution, its whole data-gradient pass. */
cn_status cn_input_set_grad(cn_graph *g, int input, int wanted);
/* Bytes of the memory plan of a mode (made now if needed; 0 with the error set if it cannot be made):
 * node outputs, gradients, scratch and the shared workspace, excluding parameters and inputs. */
size_t cn_graph_memory_bytes(cn_graph *g, cn_mode mode);
/* Backward from a node: its gradient is seeded with seed (NULL: all ones, right for a scalar loss), then
 * every node before it gets dL/d(output) and every parameter's gradient is ACCUMULATED (call
 * cn_zero_grad between steps). Needs a train-mode forward first. A second backward after the same forward
 * (from another node) is refused with CN_ERR_INVALID when the first one reused the memory of values backward
 * reads (graphs where a value dies during backward, such as any conv net): run forward again. */
cn_status cn_backward(cn_graph *g, int from_node, const cn_real *seed);
/* Per-node timing. on (nonzero): start (or restart from zero) adding up each node's forward and backward wall time over
 * the runs that follow, for the nodes the graph has now (a recomputed output counts as its node's backward);
 * off: stop and forget. It costs two clock reads per node and run. */
cn_status cn_graph_profile(cn_graph *g, int on);
/* Seconds node spent in forward and in backward since cn_graph_profile(g, true) (either pointer may be NULL);
 * an error when profiling is off. */
cn_status cn_node_profile(const cn_graph *g, int node, double *forward_s, double *backward_s);
void cn_zero_grad(cn_graph *g);

/* ---- parameters (trainable weights and buffers such as running statistics) */
typedef struct {
    const char *name;       /* "conv1.weight" */
    cn_tensor *value;
    cn_tensor *grad;        /* NULL for buffers */
    int trainable;
} cn_param;
int cn_param_count(const cn_graph *g);
/* cn_param_get hands out mutable pointers, so the call counts as a write: inference caches derived from the
 * weights (packed or Winograd-transformed convolution weights) are rebuilt on the next forward pass. A pointer
 * kept and written LATER (after a forward pass ran) needs cn_graph_params_changed(g) after the write, or the
 * next evaluation may use the old weights. Optimizer steps and checkpoint loads call it themselves. */
cn_param cn_param_get(const cn_graph *g, int index);
void cn_graph_params_changed(cn_graph *g);
int cn_param_find(const cn_graph *g, const char *name);       /* index or -1 */
int64_t cn_graph_num_trainable(const cn_graph *g);            /* total trainable elements */

/* ---- learning */
/* Optimizers, learning-rate schedules, weight initialisation and checkpoints, on a graph's parameters. */

/* ---- optimizers, exactly as PyTorch's torch.optim defines them. With g the gradient, w the weight:
 *   SGD:   g += wd*w;  buf = momentum*buf + g (dampening 0; buf starts at 0, so the first buf is g);
 *          g = nesterov ? g + momentum*buf : buf (when momentum > 0);  w -= lr*g
 *   Adam:  t += 1;  g += wd*w (L2);  m = b1*m + (1-b1)*g;  v = b2*v + (1-b2)*g^2;
 *          w -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)        (eps after the sqrt)
 *   AdamW: w -= lr*wd*w (decoupled), then Adam without the L2 term.
 * The optimizer covers the graph's trainable parameters that exist when it is created. Its state
 * (momentum_buffer, or exp_avg and exp_avg_sq, plus the step count t) is allocated once, at creation: a
 * step allocates nothing. */
typedef enum { CN_OPT_SGD, CN_OPT_ADAM, CN_OPT_ADAMW } cn_optimizer_kind;
typedef struct {
    cn_optimizer_kind kind;
    double lr;
    double weight_decay;    /* L2 for SGD and Adam, decoupled for AdamW; 0: none */
    double momentum;        /* SGD; 0: plain SGD */
    int nesterov;           /* SGD; needs momentum > 0 */
    double beta1, beta2;    /* Adam/AdamW: 0.9, 0.999 */
    double eps;             /* Adam/AdamW: 1e-8 */
} cn_optimizer_config;
/* PyTorch's defaults: SGD(lr, momentum, weight_decay, nesterov); Adam(lr, weight_decay) with betas
 * (0.9, 0.999), eps 1e-8; AdamW likewise (PyTorch's default weight_decay for AdamW is 0.01). */
cn_optimizer_config cn_sgd_config(double lr, double momentum, double weight_decay, int nesterov);
cn_optimizer_config cn_adam_config(double lr, double weight_decay);
cn_optimizer_config cn_adamw_config(double lr, double weight_decay);

typedef struct cn_optimizer cn_optimizer;
/* NULL (message in cn_last_error()) for a bad configuration or no memory. */
cn_optimizer *cn_optimizer_create(cn_graph *g, const cn_optimizer_config *config);
void cn_optimizer_free(cn_optimizer *opt);
/* One update of every covered parameter from its current gradient (does not zero the gradients). */
cn_status cn_optimizer_step(cn_optimizer *opt);
void cn_optimizer_set_lr(cn_optimizer *opt, double lr);
double cn_optimizer_lr(const cn_optimizer *opt);
cn_optimizer_config cn_optimizer_get_config(const cn_optimizer *opt);
int64_t cn_optimizer_steps(const cn_optimizer *opt);              /* t: steps taken */
void cn_optimizer_set_steps(cn_optimizer *opt, int64_t steps);
/* The state tensors, named "<param>.momentum_buffer", "<param>.exp_avg", "<param>.exp_avg_sq" (plain SGD
 * has none). Index 0 .. count-1; value NULL for a bad index. */
typedef struct {
    const char *name;
    cn_tensor *value;
} cn_optimizer_state;
int cn_optimizer_state_count(const cn_optimizer *opt);
cn_optimizer_state cn_optimizer_state_get(const cn_optimizer *opt, int index);

/* CN_ERR_NUMERIC naming the first trainable parameter whose gradient holds a NaN or infinity
 * ("gradient of fc1.weight is NaN at element 12"); CN_OK when all are finite. */
cn_status cn_check_gradients(const cn_graph *g);
/* CN_ERR_NUMERIC when the loss is NaN or infinite ("loss is inf"). */
cn_status cn_check_loss(double loss);

/* ---- learning-rate schedules, per epoch (epochs count from 0). Call cn_schedule_lr for the rate of the
 * current epoch and cn_schedule_step(metric) at its end. As PyTorch's lr_scheduler:
 *   STEP:      lr = base * gamma^floor(e / step_size)                                   (StepLR)
 *   MULTISTEP: lr = base * gamma^(number of milestones <= e)                            (MultiStepLR)
 *   PLATEAU:   ReduceLROnPlateau(mode='max', factor=gamma, patience, threshold (relative), cooldown,
 *              min_lr): the metric (validation accuracy) improves when it exceeds best*(1+threshold);
 *              after more than `patience` epochs without improvement lr = max(lr*gamma, min_lr)
 *   COSINE:    lr = eta_min + (base - eta_min) * (1 + cos(pi * e / t_max)) / 2        (CosineAnnealingLR)
 * Warm-up (warmup_epochs E > 0) composes with any of them like PyTorch's SequentialLR of LinearLR and the
 * schedule with milestone E: for e < E, lr = base * (f + (1 - f) * e / E) with f = warmup_start_factor;
 * from epoch E on, the schedule runs as above with e - E in place of e (so milestones and t_max count
 * from the end of the warm-up). A plateau schedule ignores the metrics of warm-up epochs. */
typedef enum { CN_SCHED_CONSTANT, CN_SCHED_STEP, CN_SCHED_MULTISTEP, CN_SCHED_PLATEAU, CN_SCHED_COSINE } cn_schedule_kind;
#define CN_SCHED_MAX_MILESTONES 16
typedef struct {
    cn_schedule_kind kind;
    double base_lr;
    double gamma;                   /* STEP, MULTISTEP, PLATEAU: 0.1 */
    int step_size;                  /* STEP */
    int milestones[CN_SCHED_MAX_MILESTONES];   /* MULTISTEP, increasing */
    int n_milestones;
    int patience;                   /* PLATEAU: 10 */
    double threshold;               /* PLATEAU: 1e-4 (relative) */
    int cooldown;                   /* PLATEAU: 0 */
    double min_lr;                  /* PLATEAU: 0 */
    int t_max;                      /* COSINE */
    double eta_min;                 /* COSINE: 0 */
    int warmup_epochs;              /* 0: no warm-up */
    double warmup_start_factor;     /* in (0, 1]: 1/3 (LinearLR's default) */
} cn_schedule_config;
/* A config with the defaults above; step_size 30, t_max 100. */
cn_schedule_config cn_schedule_config_make(cn_schedule_kind kind, double base_lr);

/* The schedule and its state (plain data: copy it freely). */
typedef struct {
    cn_schedule_config config;
    int epoch;              /* the current epoch: how many times cn_schedule_step was called */
    double lr;              /* the rate for the current epoch */
    double best;            /* PLATEAU: best metric so far (-inf at first) */
    int num_bad_epochs;     /* PLATEAU */
    int cooldown_counter;   /* PLATEAU */
} cn_schedule;
cn_status cn_schedule_init(cn_schedule *s, const cn_schedule_config *config);  /* epoch 0 */
double cn_schedule_lr(const cn_schedule *s);
/* End of the current epoch: move to the next. metric (validation accuracy) is used by PLATEAU only,
 * where a NaN is CN_ERR_NUMERIC; pass 0 otherwise. */
cn_status cn_schedule_step(cn_schedule *s, double metric);
/* The dynamic state as one line of text (exact: doubles in hex), and back. Parsing checks the kind
 * against s->config and changes nothing on error. */
cn_status cn_schedule_state_format(const cn_schedule *s, char *buf, size_t buflen);
cn_status cn_schedule_state_parse(cn_schedule *s, const char *text);

/* ---- initialisation, as torch.nn.init with fans from the weight's shape (_calculate_fan_in_and_fan_out):
 * fan_in = dims[1] * prod(dims[2:]), fan_out = dims[0] * prod(dims[2:]) (conv: in/groups * prod(k)).
 *   XAVIER_UNIFORM U(-a, a), a = sqrt(6 / (fan_in + fan_out))     XAVIER_NORMAL  N(0, 2 / (fan_in + fan_out))
 *   KAIMING_UNIFORM U(-a, a), a = sqrt(6 / fan_in)                KAIMING_NORMAL N(0, 2 / fan_in)
 * (Kaiming: mode fan_in, ReLU gain sqrt(2), the "Xavier/2" of He et al.) */
typedef enum { CN_INIT_XAVIER_UNIFORM, CN_INIT_XAVIER_NORMAL, CN_INIT_KAIMING_UNIFORM, CN_INIT_KAIMING_NORMAL } cn_init_kind;
/* Fans of a weight of at least 2 dimensions; CN_ERR_SHAPE for fewer. */
cn_status cn_init_fans(const cn_shape *shape, int64_t *fan_in, int64_t *fan_out);
cn_status cn_init_tensor(cn_tensor *t, cn_init_kind kind, cn_rng *rng);
/* Every trainable parameter of 2+ dimensions gets `kind`, every trainable "*.bias" zeros; others (batch
 * norm weights, buffers) are left alone. Seeded: the same seed gives the same weights. */
cn_status cn_init_graph(cn_graph *g, cn_init_kind kind, uint64_t seed);

/* ---- checkpoints: one safetensors file. Tensors: every parameter and buffer under its graph name
 * ("conv1.weight", "bn1.running_mean"), and the optimizer state as "optimizer.<state name>"
 * ("optimizer.conv1.weight.exp_avg"). __metadata__ (strings): format, model, epoch, step, rng, graph_rng,
 * schedule, class_names (a JSON array), optimizer, optimizer_lr, optimizer_step. Written to a temporary
 * file in the same directory, fsync'd, then renamed over the target: a crash or a failed write leaves the
 * old file intact. */
typedef struct {
    char model[CN_NAME_MAX];    /* model name, e.g. "lenet5" */
    int64_t epoch;              /* epochs completed */
    int64_t step;               /* training steps taken */
    cn_rng rng;                 /* the training loop's own RNG (shuffling, augmentation) */
    cn_schedule *schedule;      /* caller's schedule: saved, and restored in place on load; NULL: none */
    char **class_names;         /* n_classes names; on load, allocated by the library: cn_train_state_free */
    int n_classes;
    int64_t input_shape[3];     /* C, H, W of one input image (0s: unknown; saved when set) */
    int n_norm;                 /* channels with input normalisation (0: none): x = (x - mean) / std */
    float norm_mean[4], norm_std[4];
    int batchnorm_folded;       /* 1: the weights are those of cn_graph_fold_batchnorm's copy of the model */
} cn_train_state;
void cn_train_state_free(cn_train_state *s);   /* frees class_names from a load */

/* opt and state may be NULL. The graph's own RNG (dropout masks) is saved as well. */
cn_status cn_checkpoint_save(const char *path, cn_graph *g, const cn_optimizer *opt, const cn_train_state *state);
/* Check first that the file is whole and that every tensor the graph (and opt, when given) needs is there
 * with the right shape and nothing else is ("checkpoint x.safetensors: conv1.weight has shape 20x1x5x5,
 * the model expects 6x1x5x5"); only then copy. On error nothing is modified. state (may be NULL):
 * state->schedule, when set, must be initialised with the config of the saved schedule. */
cn_status cn_checkpoint_load(const char *path, cn_graph *g, cn_optimizer *opt, cn_train_state *state);
/* Rebuild the model a checkpoint was trained with (its zoo name or model file, input shape and class count
 * from the metadata; folded by cn_graph_fold_batchnorm when the metadata says batchnorm_folded) for `batch`
 * images, and load its weights. *input and *logits get the node ids; state
 * (may be NULL) gets the training state (free with cn_train_state_free). NULL with a message on error. */
cn_graph *cn_model_load(const char *path, int64_t batch, int *input, int *logits, cn_train_state *state);
/* ---- end of learning */

/* ---------------------------------------------------------------- data */
/* Datasets are held in memory as uint8 images (N, C, H, W) with int labels and class names. A loader turns
 * one into shuffled, augmented, normalised float batches, prepared by a background thread; everything it
 * does depends only on its seed (never on thread timing), so a run is the same on every machine. */

typedef struct {
    int64_t count;          /* N */
    int channels, height, width;
    uint8_t *images;        /* N x C x H x W, planar per image (CIFAR's own layout) */
    int32_t *labels;        /* N class indices in [0, num_classes) */
    int num_classes;
    char **class_names;     /* num_classes strings */
} cn_dataset;

/* An IDX image file (magic 0x803, unsigned bytes, N x H x W -> C = 1) and its IDX label file (0x801),
 * gzipped or raw (told apart by content). Class names are "0".."K-1" with K = max label + 1. */
cn_status cn_dataset_load_idx(cn_dataset *ds, const char *images_path, const char *labels_path);
/* MNIST / Fashion-MNIST from a directory holding {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
 * (train: 1 loads the training set, 0 the test set). Fashion-MNIST gets its ten class names. */
cn_status cn_dataset_load_mnist(cn_dataset *ds, const char *dir, int train);
cn_status cn_dataset_load_fashion_mnist(cn_dataset *ds, const char *dir, int train);
/* CIFAR-10 binary batches: records of 1 label byte + 3072 bytes (3 x 32 x 32 planar). */
cn_status cn_dataset_load_cifar10_files(cn_dataset *ds, const char *const *paths, int count);
/* From a directory: data_batch_1..5.bin (train) or test_batch.bin; names from batches.meta.txt when it is
 * there, else CIFAR-10's own. */
cn_status cn_dataset_load_cifar10(cn_dataset *ds, const char *dir, int train);
/* An image folder: root/<class>/<image>, one sub-folder per class, class index = position of the folder
 * name in sorted order; files sorted by name; names starting with '.' are skipped. PNG, JPEG, BMP (and
 * whatever else stb_image decodes). Images are resized (bilinear) to height x width, or to the first
 * image's size when these are 0; channels 1 (grey) or 3 (RGB), or 0 for the first image's (grey/RGB). */
cn_status cn_dataset_load_folder(cn_dataset *ds, const char *root, int height, int width, int channels);
/* One image file (PNG/JPEG/BMP) as planar channels x height x width bytes (1 channel: grey, 3: RGB), resized
 * bilinearly when its size differs; dst holds channels*height*width bytes. */
cn_status cn_image_load_u8(const char *path, int channels, int height, int width, uint8_t *dst);
void cn_dataset_free(cn_dataset *ds);
/* Replace the class names (count must equal ds->num_classes). */
cn_status cn_dataset_set_class_names(cn_dataset *ds, const char *const *names, int count);
/* Move a validation set out of ds: ds is shuffled once in place (seeded), then its last
 * round(fraction * N) samples go to *val and ds keeps the rest. fraction in [0, 1). */
cn_status cn_dataset_split(cn_dataset *ds, double fraction, uint64_t seed, cn_dataset *val);
/* Per-channel mean and standard deviation of the images scaled to [0, 1] (for cn_loader_config). */
cn_status cn_dataset_channel_stats(const cn_dataset *ds, float *mean, float *std);

/* ---- augmentation: pure functions on one planar image of floats (C x H x W, values in [0, 1]). dst and
 * src never overlap unless said. Random ones draw from the cn_rng they are given and nothing else. */
typedef struct {
    int channels, height, width;
    float *data;
} cn_image;

/* Sample i of a dataset as floats in [0, 1]: dst->data must hold C*H*W; its dims are set. */
cn_status cn_dataset_image(const cn_dataset *ds, int64_t i, cn_image *dst);
/* Mirror left-right; dst may be src. */
void cn_image_hflip(const cn_image *src, cn_image *dst);
/* dst (its own height x width) = the window of src whose top-left corner is (top, left); pixels outside
 * src are 0, so negative offsets give zero padding. */
cn_status cn_image_crop(const cn_image *src, cn_image *dst, int top, int left);
/* Bilinear resize to dst's height x width, half-pixel centres (PyTorch's align_corners=False, no
 * antialiasing). */
cn_status cn_image_resize(const cn_image *src, cn_image *dst);
/* The size that resizing the short side to `side` gives (long = floor(long * side / short), as torchvision). */
void cn_image_short_side_size(int height, int width, int side, int *out_height, int *out_width);
/* Rotate counter-clockwise by degrees about the centre, bilinear, same size, zeros where nothing maps. */
cn_status cn_image_rotate(const cn_image *src, cn_image *dst, float degrees);
/* In place, clamped to [0, 1] (torchvision's rules): brightness x*f; contrast f*x + (1-f)*mean(grey);
 * saturation f*x + (1-f)*grey per pixel, grey = 0.299 R + 0.587 G + 0.114 B (3 channels only). */
void cn_image_adjust_brightness(cn_image *img, float factor);
void cn_image_adjust_contrast(cn_image *img, float factor);
void cn_image_adjust_saturation(cn_image *img, float factor);
/* In place: x = (x - mean[c]) / std[c]. */
void cn_image_normalize(cn_image *img, const float *mean, const float *std);

/* Random versions. Crop: pad src by `pad` zeros on every side, take a random dst-sized window. */
cn_status cn_aug_random_crop(const cn_image *src, cn_image *dst, int pad, cn_rng *rng);
void cn_aug_random_hflip(const cn_image *src, cn_image *dst, cn_rng *rng);  /* probability 1/2 */
/* Scale jitter: resize the short side to L uniform in [min_side, max_side] into scratch (which must hold
 * cn_aug_scale_scratch(...) floats), then a random crop of dst's size (e.g. 256, 480, 224 x 224). */
cn_status cn_aug_scale_jitter(const cn_image *src, cn_image *dst, cn_image *scratch, int min_side,
                              int max_side, cn_rng *rng);
/* The test-time counterpart: short side to `side` (256), centre crop of dst's size (224 x 224). */
cn_status cn_aug_resize_center_crop(const cn_image *src, cn_image *dst, cn_image *scratch, int side);
int64_t cn_aug_scale_scratch(int channels, int height, int width, int max_side);
/* Factors uniform in [max(0, 1-b), 1+b] etc., applied brightness, contrast, saturation; 0 leaves one out. */
void cn_aug_color_jitter(cn_image *img, float brightness, float contrast, float saturation, cn_rng *rng);
/* Rotation by an angle uniform in [-degrees, degrees]. */
cn_status cn_aug_random_rotate(const cn_image *src, cn_image *dst, float degrees, cn_rng *rng);

/* What a loader does to each training sample, in this order: geometry (scale jitter, or the test-time
 * resize + centre crop, or a padded random crop), rotation, flip, colour jitter; then the loader's
 * normalisation. All zero: nothing. */
typedef struct {
    int crop_height, crop_width;    /* > 0: output size of the random / centre crop (after padding) */
    int crop_pad;                   /* random crop: zero padding on every side (CIFAR: 4 with 32 x 32) */
    int scale_min, scale_max;       /* > 0: scale jitter of the short side in [min, max] (256, 480) */
    int center_side;                /* > 0: test time: short side to this (256), centre crop */
    int hflip;                      /* 1: horizontal flip with probability 1/2 */
    float rotate_degrees;           /* > 0: random rotation in [-d, d] */
    float brightness, contrast, saturation; /* colour jitter strengths, 0 = off */
} cn_augment;

/* ---- the loader */
typedef struct {
    int batch_size;
    int shuffle;                    /* 1: a new seeded order every epoch; 0: dataset order */
    int drop_last;                  /* 1: skip the last batch when it is smaller than batch_size */
    int prefetch;                   /* 1: prepare the next batch in a background thread */
    uint64_t seed;
    const float *mean, *std;        /* channels values each, or NULL (no normalisation); copied */
    cn_augment augment;
} cn_loader_config;

typedef struct {
    int64_t count;                  /* samples in this batch */
    cn_shape shape;                 /* count x C x H x W */
    const cn_real *images;          /* count*C*H*W, normalised */
    const cn_real *labels;          /* count class indices as numbers (a graph input for the loss) */
    const int32_t *label_ids;       /* the same as integers */
    const int64_t *indices;         /* which dataset samples */
    int64_t epoch, batch;           /* where it comes from */
} cn_batch;

typedef struct cn_loader cn_loader;
/* The dataset must outlive the loader. Batches are an endless sequence of epochs; sample i of epoch e gets
 * its augmentation from an RNG seeded by (seed, e, i) alone. NULL on a bad config, with the error set. */
cn_loader *cn_loader_create(const cn_dataset *ds, const cn_loader_config *cfg);
/* The next batch: 1 and *out filled (valid until the next call), 0 at the end of an epoch (the next call
 * starts the next one), -1 on error. No allocation. */
int cn_loader_next(cn_loader *l, cn_batch *out);
/* Restart at the beginning of the given epoch (0 for a fresh pass). The last batch becomes invalid. */
cn_status cn_loader_reset(cn_loader *l, int64_t epoch);
int64_t cn_loader_batches_per_epoch(const cn_loader *l);
/* The batch shape for a full batch: batch_size x C x H x W after augmentation. */
cn_shape cn_loader_batch_shape(const cn_loader *l);
void cn_loader_free(cn_loader *l);


/* ---------------------------------------------------------------- images, filtering, pictures */
/* Image files: PNG, JPEG, BMP, ... in (stb_image), PNG out (stb_image_write). A cn_image holds planar
 * floats in [0, 1]; the functions below that create one allocate img->data (cn_image_free). */
cn_status cn_image_alloc(cn_image *img, int channels, int height, int width);   /* zero-filled */
void cn_image_free(cn_image *img);
/* channels 1 (grey) or 3 (RGB) converts; 0 keeps the file's own: grey for grey and grey+alpha, RGB for RGB
 * and RGBA (alpha is dropped, not composited). */
cn_status cn_image_load(cn_image *img, const char *path, int channels);
/* 1 channel: grey PNG, 3: RGB PNG; values clamped to [0, 1], times 255, rounded. */
cn_status cn_image_save_png(const cn_image *img, const char *path);

/* ---- filtering: the lectures' hand-made kernels. A kernel is rows x cols weights (row-major); k[u][v]
 * with u down and v right. On a single-channel image x (height x width):
 *   CORRELATE:  y[i][j] = sum_{u,v} k[u][v] * x[i + u - top][j + v - left]
 *   CONVOLVE:   the same with the kernel flipped in both axes (true convolution, y = x * k)
 * where the output extent fixes (top, left) and the size: SAME (the default) keeps height x width with
 * top = (rows-1)/2, left = (cols-1)/2 (the centre for odd sizes; one above/left of it for even ones);
 * VALID is (height-rows+1) x (width-cols+1) with top = left = 0; FULL is (height+rows-1) x (width+cols-1)
 * with top = rows-1, left = cols-1. Pixels outside x come from the padding mode: zeros, reflect (mirror
 * without repeating the edge), replicate (the nearest edge pixel) or circular (wrap around); reflect and
 * circular repeat as often as needed, so a kernel may be larger than the image. Sums in double. */
typedef struct {
    int rows, cols;
    float *data;            /* allocated by the constructors below: cn_filter_kernel_free */
} cn_filter_kernel;
typedef enum { CN_FILTER_CORRELATE, CN_FILTER_CONVOLVE } cn_filter_mode;
typedef enum { CN_FILTER_SAME, CN_FILTER_VALID, CN_FILTER_FULL } cn_filter_extent;

cn_status cn_filter_kernel_alloc(cn_filter_kernel *k, int rows, int cols);     /* zeros; 1..4096 each */
void cn_filter_kernel_free(cn_filter_kernel *k);
/* n x n weights 1/n^2 (box / mean blur). */
cn_status cn_filter_kernel_box(cn_filter_kernel *k, int n);
/* exp(-(u^2 + v^2) / (2 sigma^2)) over (2r+1) x (2r+1) with r = ceil(3 sigma), normalised to sum 1;
 * sigma in (0, 100]. */
cn_status cn_filter_kernel_gaussian(cn_filter_kernel *k, double sigma);
/* A kernel by name: "box:N", "gaussian:SIGMA", "identity", "sharpen" [[0,-1,0],[-1,5,-1],[0,-1,0]],
 * "sobel-x" [[-1,0,1],[-2,0,2],[-1,0,1]] (positive where brightness grows to the right), "sobel-y" (its
 * transpose: grows downwards), "laplacian" [[0,1,0],[1,-4,1],[0,1,0]], "shift-left|right|up|down" (3x3
 * with one 1: as correlation, shift-left moves the picture one pixel left, y[i][j] = x[i][j+1]; convolution
 * flips it the other way). Anything else is read as a matrix file (cn_filter_kernel_load) when such a file
 * exists; otherwise "unknown kernel". */
cn_status cn_filter_kernel_from_spec(cn_filter_kernel *k, const char *spec);
/* A text file of rows of numbers separated by spaces, tabs or commas; '#' starts a comment; blank lines
 * are skipped; every row has the same count. Errors name the file and line: "k.txt:3: 'x' is not a number". */
cn_status cn_filter_kernel_load(cn_filter_kernel *k, const char *path);
/* out = a * b, the full 2D convolution: (ra+rb-1) x (ca+cb-1). Filtering with a and then with b equals
 * filtering once with out, in either mode, away from the borders (exactly so for odd sizes in SAME). */
cn_status cn_filter_kernel_combine(const cn_filter_kernel *a, const cn_filter_kernel *b, cn_filter_kernel *out);
double cn_filter_kernel_sum(const cn_filter_kernel *k);
/* Divide by the sum of the weights; when that is (nearly) 0, as for Sobel, by the sum of the positive
 * weights instead (so that a unit step gives at most 1). */
cn_status cn_filter_kernel_normalize(cn_filter_kernel *k);
/* The output size for an extent; CN_ERR_SHAPE when VALID leaves nothing. */
cn_status cn_filter_output_size(int height, int width, const cn_filter_kernel *k, cn_filter_extent extent,
                                int *out_height, int *out_width);
/* Filter one channel: src is height x width, dst holds the output size (dst and src must not overlap). */
cn_status cn_filter2d(const float *src, int height, int width, const cn_filter_kernel *k, cn_filter_mode mode,
                      cn_pad_mode pad, cn_filter_extent extent, float *dst);
/* Every channel of src, SAME extent; dst is allocated like src (cn_image_free). */
cn_status cn_filter_image(const cn_image *src, const cn_filter_kernel *k, cn_filter_mode mode, cn_pad_mode pad,
                          cn_image *dst);

/* ---- pictures of a network: tiles in a grid (columns = ceil(sqrt(tiles))), each tile scaled to its own
 * min..max (a constant tile is black), enlarged `scale` times by nearest neighbour (0: automatically, to
 * about 48 pixels a side), with a 1-pixel white border around every tile. out is allocated (cn_image_free). */
/* The weights of a 1D or 2D Conv node (-1: the graph's first Conv): with 3 input channels per group one
 * colour tile per filter; with 1 one grey tile per filter; otherwise a row of grey tiles per filter, one
 * per input channel. */
cn_status cn_viz_filters(const cn_graph *g, int conv_node, int scale, cn_image *out);
/* The output of `node` for batch sample `sample` after a forward (mark the node as an output first): one
 * grey tile per channel of an (N, C, H, W) or (N, C, W) output; an (N, F) output is one 1 x F tile. */
cn_status cn_viz_activations(const cn_graph *g, int node, int64_t sample, int scale, cn_image *out);

#ifdef __cplusplus
}
#endif
#endif
