/* linear.c — fully connected layer and flatten.
 *   x is (N, in) (any trailing shape, flattened), W is (out, in), b is (out):  y = x W^T + b
 *   dx += dy W      dW += dy^T x      db += sum_n dy */
#include "kernels/gemm.h"

typedef struct {
    int out_features;
    int bias;
} linear_attr;

static cn_status linear_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    const linear_attr *a = n->attr;
    if (in[0].ndim < 2) {
        char b[64];
        return cn_error(CN_ERR_SHAPE, "%s: input %s needs a batch dimension and features", n->name,
                        cn_shape_str(&in[0], b, sizeof b));
    }
    if (a->out_features < 1) return cn_error(CN_ERR_INVALID, "%s: out_features %d must be >= 1", n->name, a->out_features);
    int64_t in_features = cn_shape_numel(&in[0]) / in[0].dims[0];
    if (n->n_params > 0) { /* re-inference after a batch change: the weight fixes in_features */
        const cn_tensor *w = graph_param(g, n, 0);
        if (w->shape.dims[1] != in_features) {
            char b[64], c[64];
            return cn_error(CN_ERR_SHAPE, "%s: input %s has %lld features per row, weight %s expects %lld", n->name,
                            cn_shape_str(&in[0], b, sizeof b), (long long)in_features,
                            cn_shape_str(&w->shape, c, sizeof c), (long long)w->shape.dims[1]);
        }
    }
    int64_t d[2] = {in[0].dims[0], a->out_features};
    *out = cn_shape_make(2, d);
    return CN_OK;
}

static cn_status linear_init(cn_graph *g, cn_node *n) {
    const linear_attr *a = n->attr;
    const cn_shape *x = graph_in_shape(g, n, 0);
    int64_t in_features = cn_shape_numel(x) / x->dims[0];
    int64_t wd[2] = {a->out_features, in_features}, bd[1] = {a->out_features};
    cn_status st = graph_add_param(g, n, "weight", cn_shape_make(2, wd), 1);
    if (!st && a->bias) st = graph_add_param(g, n, "bias", cn_shape_make(1, bd), 1);
    if (st) return st;
    graph_init_uniform_fan_in(g, graph_param(g, n, 0), in_features);
    if (a->bias) graph_init_uniform_fan_in(g, graph_param(g, n, 1), in_features);
    return CN_OK;
}

static cn_status linear_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const linear_attr *a = n->attr;
    const cn_tensor *w = graph_param(g, n, 0);
    int64_t batch = n->shape.dims[0], out = a->out_features, in = w->shape.dims[1];
    cn_real *y = n->out;
    for (int64_t i = 0; i < batch; i++)
        for (int64_t j = 0; j < out; j++) y[i * out + j] = a->bias ? graph_param(g, n, 1)->data[j] : 0;
    cn_gemm(false, true, batch, out, in, 1, graph_in(g, n, 0), in, w->data, in, 1, y, out, n->workspace);
    return CN_OK;
}

static void linear_backward(cn_graph *g, cn_node *n) {
    const linear_attr *a = n->attr;
    const cn_tensor *w = graph_param(g, n, 0);
    int64_t batch = n->shape.dims[0], out = a->out_features, in = w->shape.dims[1];
    const cn_real *dy = graph_out_grad(g, n), *x = graph_in(g, n, 0);
    cn_real *dx = graph_in_grad(g, n, 0);
    /* dx = dy W, set when the input's gradient is fresh (sets_fresh_grads), else added */
    if (dx) cn_gemm(false, false, batch, in, out, 1, dy, out, w->data, in, graph_in_grad_fresh(g, n, 0) ? 0 : 1, dx, in,
                    n->workspace);
    cn_gemm(true, false, out, in, batch, 1, dy, out, x, in, 1, graph_param_grad(g, n, 0)->data, in, n->workspace);
    if (a->bias) {
        cn_real *db = graph_param_grad(g, n, 1)->data;
        for (int64_t i = 0; i < batch; i++)
            for (int64_t j = 0; j < out; j++) db[j] += dy[i * out + j];
    }
}

/* Packing space for the largest of the three GEMMs (forward, dx, dW). */
static size_t linear_workspace(const cn_graph *g, const cn_node *n, cn_mode mode) {
    const cn_tensor *w = graph_param(g, n, 0);
    int64_t batch = n->shape.dims[0], out = w->shape.dims[0], in = w->shape.dims[1];
    size_t fwd = cn_gemm_workspace(batch, out, in);
    if (mode == CN_EVAL) return fwd;
    size_t dx = cn_gemm_workspace(batch, in, out), dw = cn_gemm_workspace(out, in, batch);
    return fwd > dx ? (fwd > dw ? fwd : dw) : (dx > dw ? dx : dw);
}

static int64_t linear_macs(const cn_graph *g, const cn_node *n) {
    const cn_tensor *w = graph_param(g, n, 0);
    return n->shape.dims[0] * cn_tensor_numel(w);
}

static int linear_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    const linear_attr *a = n->attr;
    int k = 0;
    attr_int(out, &k, "out_features", a->out_features);
    attr_int(out, &k, "has_bias", a->bias);
    return k;
}

static const cn_op_def op_linear = {.name = "Gemm", .prefix = "fc", .shape = linear_shape, .init_params = linear_init,
                                    .workspace_bytes = linear_workspace, .forward = linear_forward,
                                    .backward = linear_backward, .macs = linear_macs, .attrs = linear_attrs,
                                    .backward_reads = CN_READS_INPUTS, .sets_fresh_grads = true};

int cn_linear(cn_graph *g, const char *name, int x, int out_features, int bias) {
    linear_attr a = {out_features, bias ? 1 : 0};
    return graph_add_node(g, &op_linear, name, &x, 1, &a, sizeof a);
}

/* ---- flatten: (N, ...) -> (N, prod(...)); the data is already laid out that way. */
static cn_status flatten_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    if (in[0].ndim < 1) return cn_error(CN_ERR_SHAPE, "%s: cannot flatten a scalar", n->name);
    int64_t d[2] = {in[0].dims[0], cn_shape_numel(&in[0]) / (in[0].dims[0] ? in[0].dims[0] : 1)};
    *out = cn_shape_make(2, d);
    return CN_OK;
}

/* Flatten and Reshape: a copy, or nothing when the training plan ran the node in place (its input read by
 * nothing after it: the output is the input's buffer) */
cn_status op_copy_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const cn_real *x = graph_in(g, n, 0);
    if (n->out != x) memcpy(n->out, x, (size_t)cn_shape_numel(&n->shape) * sizeof(cn_real));
    return CN_OK;
}

/* dx = dy when the input's gradient is fresh (sets_fresh_grads), else dx += dy */
void op_accumulate_backward(cn_graph *g, cn_node *n) {
    cn_real *dx = graph_in_grad(g, n, 0);
    const cn_real *dy = graph_out_grad(g, n);
    int64_t count = cn_shape_numel(&n->shape);
    if (dx && graph_in_grad_fresh(g, n, 0)) memcpy(dx, dy, (size_t)count * sizeof(cn_real));
    else if (dx)
        for (int64_t i = 0; i < count; i++) dx[i] += dy[i];
}

/* ONNX's Flatten with axis 1: everything after the batch axis becomes one. */
static int flatten_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    CN_UNUSED(n);
    int k = 0;
    attr_int(out, &k, "axis", 1);
    return k;
}

static const cn_op_def op_flatten = {.name = "Flatten", .prefix = "flatten", .shape = flatten_shape,
                                     .forward = op_copy_forward, .backward = op_accumulate_backward,
                                     .attrs = flatten_attrs,
                                     .backward_reads = CN_READS_NOTHING, .inplace = true, .sets_fresh_grads = true};

int cn_flatten(cn_graph *g, const char *name, int x) { return graph_add_node(g, &op_flatten, name, &x, 1, NULL, 0); }
