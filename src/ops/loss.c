/* loss.c — the losses: softmax cross-entropy (with label smoothing), multiclass SVM hinge, MSE. Each is a
 * node with output shape {1}: the mean over the batch (MSE: over all elements). The arithmetic is in
 * kernels/loss_ref.c; here are the shape rules, the label checks and the bookkeeping. Labels are an input
 * of shape (N) holding class indices as floats; they get no gradient. */
#include "kernels/loss.h"
#include <stdio.h>

typedef struct {
    double value;   /* label smoothing for cross-entropy, margin for hinge */
} class_loss_attr;

/* Shared rule of the classification losses: scores (N, C) with C >= 1 and labels (N). */
static cn_status class_loss_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    char a[64], b[64];
    if (in[0].ndim != 2)
        return cn_error(CN_ERR_SHAPE, "%s: scores %s must be 2-D (batch, classes)", n->name,
                        cn_shape_str(&in[0], a, sizeof a));
    if (in[1].ndim != 1 || in[1].dims[0] != in[0].dims[0])
        return cn_error(CN_ERR_SHAPE, "%s: labels %s must be (%lld), one class index per row of scores %s", n->name,
                        cn_shape_str(&in[1], a, sizeof a), (long long)in[0].dims[0], cn_shape_str(&in[0], b, sizeof b));
    int64_t d[1] = {1};
    *out = cn_shape_make(1, d);
    return CN_OK;
}

/* Labels are data, so they are checked when the forward sees them: each must be an integer in [0, c). */
static cn_status check_labels(const cn_node *n, const cn_real *labels, int64_t batch, int64_t classes) {
    for (int64_t i = 0; i < batch; i++) {
        cn_real y = labels[i];
        if (!(y >= 0 && y < (cn_real)classes && y == floor(y)))
            return cn_error(CN_ERR_INVALID, "%s: label %g of sample %lld is not a class index in [0, %lld)", n->name,
                            (double)y, (long long)i, (long long)classes);
    }
    return CN_OK;
}

/* ---- softmax cross-entropy: L = mean_i -sum_c q_ic log softmax(x_i)_c, q = (1-s) onehot + s/C */
static cn_status cross_entropy_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    const class_loss_attr *a = n->attr;
    if (!(a->value >= 0 && a->value <= 1))
        return cn_error(CN_ERR_INVALID, "%s: label smoothing %g must be in [0, 1]", n->name, a->value);
    return class_loss_shape(g, n, in, out);
}

/* Both classification losses run the same way: check the labels, then the kernel on the (N, C) scores with
 * the loss's one attribute (smoothing or margin). The two kernel types have the same signature. */
static cn_status class_loss_forward(cn_graph *g, cn_node *n, cn_cross_entropy_forward_fn kernel) {
    const class_loss_attr *a = n->attr;
    const cn_shape *s = graph_in_shape(g, n, 0);
    const cn_real *labels = graph_in(g, n, 1);
    cn_status st = check_labels(n, labels, s->dims[0], s->dims[1]);
    if (st) return st;
    n->out[0] = (cn_real)kernel(graph_in(g, n, 0), labels, s->dims[0], s->dims[1], a->value);
    return CN_OK;
}

static void class_loss_backward(cn_graph *g, cn_node *n, cn_cross_entropy_backward_fn kernel) {
    const class_loss_attr *a = n->attr;
    const cn_shape *s = graph_in_shape(g, n, 0);
    cn_real *dx = graph_in_grad(g, n, 0);
    if (dx) kernel(graph_in(g, n, 0), graph_in(g, n, 1), s->dims[0], s->dims[1], a->value, graph_out_grad(g, n)[0], dx);
}

static cn_status cross_entropy_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    return class_loss_forward(g, n, cn_cross_entropy_forward);
}

static void cross_entropy_backward(cn_graph *g, cn_node *n) { class_loss_backward(g, n, cn_cross_entropy_backward); }

static int cross_entropy_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    int k = 0;
    attr_float(out, &k, "label_smoothing", ((const class_loss_attr *)n->attr)->value);
    return k;
}

static const cn_op_def op_cross_entropy = {.name = "SoftmaxCrossEntropyLoss", .prefix = "xent",
                                           .shape = cross_entropy_shape, .forward = cross_entropy_forward,
                                           .backward = cross_entropy_backward, .attrs = cross_entropy_attrs,
                                           .backward_reads = CN_READS_INPUTS};

int cn_cross_entropy(cn_graph *g, const char *name, int logits, int labels, float label_smoothing) {
    class_loss_attr a = {label_smoothing};
    int in[2] = {logits, labels};
    return graph_add_node(g, &op_cross_entropy, name, in, 2, &a, sizeof a);
}

/* ---- multiclass SVM: L = mean_i sum_{j != y_i} max(0, s_ij - s_{i,y_i} + margin) */
static cn_status hinge_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    const class_loss_attr *a = n->attr;
    if (!isfinite(a->value)) return cn_error(CN_ERR_INVALID, "%s: margin %g must be a finite number", n->name, a->value);
    return class_loss_shape(g, n, in, out);
}

static cn_status hinge_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    return class_loss_forward(g, n, cn_hinge_forward);
}

static void hinge_backward(cn_graph *g, cn_node *n) { class_loss_backward(g, n, cn_hinge_backward); }

static int hinge_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    int k = 0;
    attr_float(out, &k, "margin", ((const class_loss_attr *)n->attr)->value);
    return k;
}

static const cn_op_def op_hinge = {.name = "HingeLoss", .prefix = "hinge", .shape = hinge_shape,
                                   .forward = hinge_forward, .backward = hinge_backward, .attrs = hinge_attrs};

int cn_hinge_loss(cn_graph *g, const char *name, int scores, int labels, float margin) {
    class_loss_attr a = {margin};
    int in[2] = {scores, labels};
    return graph_add_node(g, &op_hinge, name, in, 2, &a, sizeof a);
}

/* ---- MSE: L = mean_k (p_k - t_k)^2 over all elements; dp = 2 (p - t)/m, dt = -dp */
static cn_status mse_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    if (!cn_shape_equal(&in[0], &in[1])) {
        char a[64], b[64];
        return cn_error(CN_ERR_SHAPE, "%s: prediction %s and target %s must have the same shape", n->name,
                        cn_shape_str(&in[0], a, sizeof a), cn_shape_str(&in[1], b, sizeof b));
    }
    int64_t d[1] = {1};
    *out = cn_shape_make(1, d);
    return CN_OK;
}

static cn_status mse_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    int64_t count = cn_shape_numel(graph_in_shape(g, n, 0));
    n->out[0] = (cn_real)cn_mse_forward(graph_in(g, n, 0), graph_in(g, n, 1), count);
    return CN_OK;
}

static void mse_backward(cn_graph *g, cn_node *n) {
    int64_t count = cn_shape_numel(graph_in_shape(g, n, 0));
    cn_mse_backward(graph_in(g, n, 0), graph_in(g, n, 1), count, graph_out_grad(g, n)[0], graph_in_grad(g, n, 0),
                    graph_in_grad(g, n, 1));
}

static const cn_op_def op_mse = {.name = "MSELoss", .prefix = "mse", .shape = mse_shape, .forward = mse_forward,
                                 .backward = mse_backward};

int cn_mse_loss(cn_graph *g, const char *name, int pred, int target) {
    int in[2] = {pred, target};
    return graph_add_node(g, &op_mse, name, in, 2, NULL, 0);
}
