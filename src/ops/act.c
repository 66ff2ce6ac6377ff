/* act.c — elementwise activations (ReLU, LeakyReLU, ELU, Sigmoid, Tanh, GELU), PReLU, Softmax and
 * LogSoftmax. The formulas, forward and backward, are in kernels/act.h and act_ref.c; this file does the
 * bookkeeping: attributes, shapes, parameters, and which kernel runs on which layout. */
#include "kernels/act.h"

/* ---------------------------------------------------------------- elementwise activations */
typedef struct {
    cn_act act;
    cn_real alpha;  /* LeakyReLU's negative slope, ELU's alpha */
} act_attr;

static cn_status act_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const act_attr *a = n->attr;
    if ((a->act == CN_ACT_LEAKY_RELU || a->act == CN_ACT_ELU) && !isfinite(a->alpha))
        return cn_error(CN_ERR_INVALID, "%s: alpha %g must be a finite number", n->name, (double)a->alpha);
    *out = in[0];
    return CN_OK;
}

static cn_status act_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    const act_attr *a = n->attr;
    if (mode != CN_TRAIN && n->fused_away) return CN_OK; /* the conv before it applied it (graph/fuse.c) */
    cn_act_forward(a->act, a->alpha, graph_in(g, n, 0), n->out, cn_shape_numel(&n->shape));
    return CN_OK;
}

/* Elementwise and pure: the forward again. */
static void act_recompute(cn_graph *g, cn_node *n) { act_forward(g, n, CN_TRAIN); }

/* dx += f'(x) dy (dx = when the graph left it fresh); Sigmoid and Tanh take f' from the saved output y, and so
 * does ReLU (y > 0 exactly when x > 0), so the training plan can run it in place and drop x. */
static void act_backward(cn_graph *g, cn_node *n) {
    const act_attr *a = n->attr;
    cn_real *dx = graph_in_grad(g, n, 0);
    if (!dx) return;
    const cn_real *x = a->act == CN_ACT_RELU ? n->out : graph_in(g, n, 0);
    cn_act_backward(a->act, a->alpha, x, n->out, graph_out_grad(g, n), dx, cn_shape_numel(&n->shape),
                    graph_in_grad_fresh(g, n, 0));
}

/* LeakyReLU and ELU: alpha; GELU: which formula ("exact" erf or the "tanh" approximation). */
static int act_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    const act_attr *a = n->attr;
    int k = 0;
    if (a->act == CN_ACT_LEAKY_RELU || a->act == CN_ACT_ELU) attr_float(out, &k, "alpha", (double)a->alpha);
    if (a->act == CN_ACT_GELU || a->act == CN_ACT_GELU_TANH)
        attr_string(out, &k, "gelu", a->act == CN_ACT_GELU ? "exact" : "tanh");
    return k;
}

#define ACT_OP(op_name, op_prefix, reads, in_place)                                                          \
    {.name = op_name, .prefix = op_prefix, .shape = act_shape, .forward = act_forward, .backward = act_backward, \
     .attrs = act_attrs, .backward_reads = reads, .inplace = in_place, .recompute = act_recompute,               \
     .sets_fresh_grads = true}

/* Indexed by cn_act. Both GELU flavours are ONNX's "Gelu" (the tanh one has approximate = "tanh"). */
static const cn_op_def act_ops[] = {
    [CN_ACT_RELU] = ACT_OP("Relu", "relu", CN_READS_OUTPUT, true),
    [CN_ACT_LEAKY_RELU] = ACT_OP("LeakyRelu", "leakyrelu", CN_READS_ALL, false),
    [CN_ACT_ELU] = ACT_OP("Elu", "elu", CN_READS_ALL, false),
    [CN_ACT_SIGMOID] = ACT_OP("Sigmoid", "sigmoid", CN_READS_OUTPUT, true),
    [CN_ACT_TANH] = ACT_OP("Tanh", "tanh", CN_READS_OUTPUT, true),
    [CN_ACT_GELU] = ACT_OP("Gelu", "gelu", CN_READS_ALL, false),
    [CN_ACT_GELU_TANH] = ACT_OP("Gelu", "gelu", CN_READS_ALL, false),
};

int cn_activation(cn_graph *g, const char *name, int x, cn_act act, float alpha) {
    if ((int)act < 0 || (size_t)act >= sizeof act_ops / sizeof act_ops[0]) {
        cn_error(CN_ERR_INVALID, "%s: unknown activation kind %d", name ? name : "activation", (int)act);
        return -1;
    }
    act_attr a = {act, (cn_real)alpha};
    return graph_add_node(g, &act_ops[act], name, &x, 1, &a, sizeof a);
}

int cn_relu(cn_graph *g, const char *name, int x) { return cn_activation(g, name, x, CN_ACT_RELU, 0); }

/* ---------------------------------------------------------------- PReLU
 * y = x > 0 ? x : w_c x, with one learnable slope for all channels or one per channel (axis 1). */
typedef struct {
    int num_parameters;
    float init;
} prelu_attr;

/* Channels are axis 1; a rank-1 input (N) has one channel. */
static int64_t prelu_channels(const cn_shape *s) { return s->ndim >= 2 ? s->dims[1] : 1; }

static cn_status prelu_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const prelu_attr *a = n->attr;
    if (a->num_parameters < 1)
        return cn_error(CN_ERR_INVALID, "%s: num_parameters %d must be >= 1", n->name, a->num_parameters);
    if (!isfinite(a->init)) return cn_error(CN_ERR_INVALID, "%s: init %g must be a finite number", n->name, a->init);
    int64_t channels = prelu_channels(&in[0]);
    if (a->num_parameters != 1 && a->num_parameters != channels) {
        char b[64];
        return cn_error(CN_ERR_SHAPE, "%s: num_parameters %d does not fit input %s with %lld channels (must be 1 or %lld)",
                        n->name, a->num_parameters, cn_shape_str(&in[0], b, sizeof b), (long long)channels,
                        (long long)channels);
    }
    *out = in[0];
    return CN_OK;
}

/* PyTorch's nn.PReLU(num_parameters, init): "weight" of shape (num_parameters), every slope = init. */
static cn_status prelu_init(cn_graph *g, cn_node *n) {
    const prelu_attr *a = n->attr;
    int64_t d[1] = {a->num_parameters};
    cn_status st = graph_add_param(g, n, "weight", cn_shape_make(1, d), 1);
    if (st) return st;
    cn_tensor *w = graph_param(g, n, 0);
    for (int64_t i = 0; i < d[0]; i++) w->data[i] = (cn_real)a->init;
    return CN_OK;
}

static cn_status prelu_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const cn_tensor *w = graph_param(g, n, 0);
    cn_prelu_forward(graph_in(g, n, 0), w->data, n->out, n->shape.dims[0], prelu_channels(&n->shape),
                     shape_spatial(&n->shape), cn_tensor_numel(w));
    return CN_OK;
}

/* dx += x > 0 ? dy : w_c dy      dw_c += sum over x <= 0 of x dy */
static void prelu_backward(cn_graph *g, cn_node *n) {
    const cn_tensor *w = graph_param(g, n, 0);
    cn_prelu_backward(graph_in(g, n, 0), w->data, graph_out_grad(g, n), graph_in_grad(g, n, 0),
                      graph_param_grad(g, n, 0)->data, n->shape.dims[0], prelu_channels(&n->shape),
                      shape_spatial(&n->shape), cn_tensor_numel(w));
}

static int prelu_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    const prelu_attr *a = n->attr;
    int k = 0;
    attr_int(out, &k, "num_parameters", a->num_parameters);
    attr_float(out, &k, "init", a->init);
    return k;
}

static const cn_op_def op_prelu = {.name = "PRelu", .prefix = "prelu", .shape = prelu_shape, .init_params = prelu_init,
                                   .forward = prelu_forward, .backward = prelu_backward, .attrs = prelu_attrs};

int cn_prelu(cn_graph *g, const char *name, int x, int num_parameters, float init) {
    prelu_attr a = {num_parameters, init};
    return graph_add_node(g, &op_prelu, name, &x, 1, &a, sizeof a);
}

/* ---------------------------------------------------------------- Softmax, LogSoftmax
 * Along one axis (negative counts from the end), seen as (outer, axis_len, inner). */
typedef struct {
    int axis;  /* as given; resolved against the input's rank */
} softmax_attr;

static cn_status softmax_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const softmax_attr *a = n->attr;
    int rank = in[0].ndim;
    if (a->axis < -rank || a->axis >= rank) {
        char b[64];
        return cn_error(CN_ERR_SHAPE, "%s: axis %d is out of range for input %s (%d dims, axis in [%d, %d])", n->name,
                        a->axis, cn_shape_str(&in[0], b, sizeof b), rank, -rank, rank - 1);
    }
    *out = in[0];
    return CN_OK;
}

/* The (outer, axis_len, inner) view of the node's shape. */
static void softmax_view(const cn_node *n, int64_t *outer, int64_t *axis_len, int64_t *inner) {
    const softmax_attr *a = n->attr;
    int axis = a->axis < 0 ? a->axis + n->shape.ndim : a->axis;
    *outer = *inner = 1;
    for (int i = 0; i < axis; i++) *outer *= n->shape.dims[i];
    *axis_len = n->shape.dims[axis];
    for (int i = axis + 1; i < n->shape.ndim; i++) *inner *= n->shape.dims[i];
}

static bool is_log_softmax(const cn_node *n);

static cn_status softmax_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    int64_t outer, len, inner;
    softmax_view(n, &outer, &len, &inner);
    cn_softmax_forward(is_log_softmax(n), graph_in(g, n, 0), n->out, outer, len, inner);
    return CN_OK;
}

/* softmax: dx += y (dy - sum(dy y))      log_softmax: dx += dy - exp(y) sum(dy)   (from the saved y) */
static void softmax_backward(cn_graph *g, cn_node *n) {
    cn_real *dx = graph_in_grad(g, n, 0);
    if (!dx) return;
    int64_t outer, len, inner;
    softmax_view(n, &outer, &len, &inner);
    cn_softmax_backward(is_log_softmax(n), n->out, graph_out_grad(g, n), dx, outer, len, inner);
}

/* The axis as given (negative counts from the end). */
static int softmax_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    int k = 0;
    attr_int(out, &k, "axis", ((const softmax_attr *)n->attr)->axis);
    return k;
}

static const cn_op_def op_softmax = {.name = "Softmax", .prefix = "softmax", .shape = softmax_shape,
                                     .forward = softmax_forward, .backward = softmax_backward,
                                     .attrs = softmax_attrs};
static const cn_op_def op_log_softmax = {.name = "LogSoftmax", .prefix = "logsoftmax", .shape = softmax_shape,
                                         .forward = softmax_forward, .backward = softmax_backward,
                                         .attrs = softmax_attrs};

static bool is_log_softmax(const cn_node *n) { return n->op == &op_log_softmax; }

int cn_softmax(cn_graph *g, const char *name, int x, int axis) {
    softmax_attr a = {axis};
    return graph_add_node(g, &op_softmax, name, &x, 1, &a, sizeof a);
}

int cn_log_softmax(cn_graph *g, const char *name, int x, int axis) {
    softmax_attr a = {axis};
    return graph_add_node(g, &op_log_softmax, name, &x, 1, &a, sizeof a);
}
