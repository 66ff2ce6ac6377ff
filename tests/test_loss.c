/* The losses against PyTorch (cross-entropy with label smoothing, hinge, MSE), their shape, attribute and
 * label errors, and behaviour: numerical stability, the lecture's SVM example, labels get no gradient. */
#include "cn_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void golden_cases(void) {
    char names[64][128];
    int count = golden_list("loss", names, 64);
    CHECK(count >= 12, "expected at least 12 loss golden cases, found %d", count);
    for (int i = 0; i < count; i++) {
        golden_case c;
        if (golden_open(&c, "loss", names[i])) continue;
        const char *op = golden_meta(&c, "op");
        cn_graph *g = cn_graph_create();
        int in[2] = {golden_input(&c, g, 0), golden_input(&c, g, 1)};
        int y = -1;
        if (strcmp(op, "SoftmaxCrossEntropyLoss") == 0)
            y = cn_cross_entropy(g, "loss", in[0], in[1], (float)golden_attr_num(&c, "label_smoothing", 0));
        else if (strcmp(op, "HingeLoss") == 0)
            y = cn_hinge_loss(g, "loss", in[0], in[1], (float)golden_attr_num(&c, "margin", 1));
        else if (strcmp(op, "MSELoss") == 0)
            y = cn_mse_loss(g, "loss", in[0], in[1]);
        CHECK(y >= 0, "%s (%s): %s", names[i], op, cn_last_error());
        if (y >= 0) {
            CHECK(strcmp(cn_node_op(g, y), op) == 0, "%s: op %s", names[i], cn_node_op(g, y));
            golden_check_node(&c, g, y, in, 2);
        }
        cn_graph_free(g);
        golden_close(&c);
    }
}

/* A graph scores (n, c) -> loss(scores, labels), filled with the given values. kind: 0 CE, 1 hinge. */
typedef struct {
    cn_graph *g;
    int x, labels, loss;
} loss_graph;

static loss_graph make_class_loss(int kind, int64_t n, int64_t c, float attr, const cn_real *scores,
                                  const cn_real *labels) {
    loss_graph t;
    t.g = cn_graph_create();
    t.x = cn_input(t.g, "scores", cn_shape_make(2, (int64_t[]){n, c}));
    t.labels = cn_input(t.g, "labels", cn_shape_make(1, (int64_t[]){n}));
    t.loss = kind == 0 ? cn_cross_entropy(t.g, "loss", t.x, t.labels, attr) : cn_hinge_loss(t.g, "loss", t.x, t.labels, attr);
    CHECK(t.loss >= 0, "loss builds: %s", cn_last_error());
    CHECK_OK(cn_set_input(t.g, t.x, scores, n * c));
    CHECK_OK(cn_set_input(t.g, t.labels, labels, n));
    return t;
}

/* The lecture's example: scores of cat/car/frog for three images, margin 1: losses 2.9, 0, 12.9. */
static void svm_lecture_example(void) {
    const cn_real scores[9] = {3.2, 5.1, -1.7, 1.3, 4.9, 2.0, 2.2, 2.5, -3.1};
    const cn_real labels[3] = {0, 1, 2};
    loss_graph t = make_class_loss(1, 3, 3, 1.0f, scores, labels);
    CHECK_OK(cn_forward(t.g, CN_TRAIN));
    double l = cn_node_output(t.g, t.loss)[0];
    CHECK(fabs(l - (2.9 + 0 + 12.9) / 3) < 1e-5, "SVM loss of the lecture example is 5.27, got %.6f", l);
    CHECK_OK(cn_backward(t.g, t.loss, NULL));
    /* image 0: car (5.1-3.2+1 = 2.9 > 0) active, frog (-1.7-3.2+1 < 0) not: d = (-1, 1, 0)/3 */
    const cn_real *d = cn_node_grad(t.g, t.x);
    CHECK(fabs(d[0] + 1.0 / 3) < 1e-6 && fabs(d[1] - 1.0 / 3) < 1e-6 && d[2] == 0, "hinge subgradient of image 0");
    /* image 1: nothing active, zero gradient */
    CHECK(d[3] == 0 && d[4] == 0 && d[5] == 0, "hinge gradient of a correctly classified image is 0");
    cn_graph_free(t.g);
}

/* Logits of +-1000 overflow exp() in float and double: log-sum-exp keeps the loss finite and right. */
static void cross_entropy_stable(void) {
    const cn_real scores[6] = {1000, -1000, 0, -1000, 1000, 999};
    const cn_real labels[2] = {0, 2};
    loss_graph t = make_class_loss(0, 2, 3, 0.0f, scores, labels);
    CHECK_OK(cn_forward(t.g, CN_TRAIN));
    double l = cn_node_output(t.g, t.loss)[0];
    double want = (0 + (1 + log(1 + exp(-1.0)))) / 2; /* sample 1: lse = 1000 + log(1 + e^-1), minus 999 */
    CHECK(isfinite(l) && fabs(l - want) < 1e-4, "cross-entropy of huge logits is %.6f, got %.6f", want, l);
    CHECK_OK(cn_backward(t.g, t.loss, NULL));
    const cn_real *d = cn_node_grad(t.g, t.x);
    for (int i = 0; i < 6; i++) CHECK(isfinite(d[i]), "gradient %d is finite", i);
    /* uniform logits: loss log C whatever the smoothing */
    cn_graph_free(t.g);
    const cn_real same[5] = {0.5, 0.5, 0.5, 0.5, 0.5}, one[1] = {3};
    t = make_class_loss(0, 1, 5, 0.3f, same, one);
    CHECK_OK(cn_forward(t.g, CN_TRAIN));
    CHECK(fabs(cn_node_output(t.g, t.loss)[0] - log(5.0)) < 1e-6, "uniform logits give log 5");
    cn_graph_free(t.g);
}

/* Labels are not differentiable: backward must leave the label node's gradient at zero. */
static void labels_get_no_gradient(void) {
    const cn_real scores[6] = {0.1, -0.3, 0.7, 0.2, 0.9, -0.5};
    const cn_real labels[2] = {1, 2};
    for (int kind = 0; kind < 2; kind++) {
        loss_graph t = make_class_loss(kind, 2, 3, kind == 0 ? 0.2f : 1.0f, scores, labels);
        CHECK_OK(cn_forward(t.g, CN_TRAIN));
        CHECK_OK(cn_backward(t.g, t.loss, NULL));
        const cn_real *dl = cn_node_grad(t.g, t.labels);
        CHECK(dl[0] == 0 && dl[1] == 0, "%s: labels got a gradient %g %g", kind ? "hinge" : "cross-entropy", (double)dl[0],
              (double)dl[1]);
        cn_graph_free(t.g);
    }
}

/* A label that is not a class index makes forward fail with a message naming node, sample and label. */
static void label_errors(void) {
    const cn_real scores[8] = {0};
    struct {
        cn_real label;
        const char *needle;
    } bad[] = {{4, "loss: label 4 of sample 1 is not a class index in [0, 4)"},
               {-1, "loss: label -1 of sample 1 is not a class index in [0, 4)"},
               {1.5, "loss: label 1.5 of sample 1"},
               {NAN, "loss: label nan of sample 1"},
               {1e9, "of sample 1 is not a class index in [0, 4)"}};
    for (int kind = 0; kind < 2; kind++)
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            cn_real labels[2] = {3, bad[k].label};
            loss_graph t = make_class_loss(kind, 2, 4, kind == 0 ? 0.1f : 1.0f, scores, labels);
            cn_status st = cn_forward(t.g, CN_TRAIN);
            CHECK(st == CN_ERR_INVALID, "bad label %g: status %s", (double)bad[k].label, cn_status_name(st));
            CHECK_ERROR(st, bad[k].needle);
            CHECK_ERROR(cn_forward(t.g, CN_EVAL), bad[k].needle);
            /* fixed labels: runs again */
            labels[1] = 0;
            CHECK_OK(cn_set_input(t.g, t.labels, labels, 2));
            CHECK_OK(cn_forward(t.g, CN_TRAIN));
            cn_graph_free(t.g);
        }
}

static void shape_and_attribute_errors(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){4, 10}));
    int x4 = cn_input(g, "x4", cn_shape4(4, 10, 1, 1));
    int y = cn_input(g, "y", cn_shape_make(1, (int64_t[]){4}));
    int y5 = cn_input(g, "y5", cn_shape_make(1, (int64_t[]){5}));
    int y2d = cn_input(g, "y2d", cn_shape_make(2, (int64_t[]){4, 1}));
    int t = cn_input(g, "t", cn_shape_make(2, (int64_t[]){4, 9}));
    CHECK_ERROR(cn_cross_entropy(g, "ce", x, y, -0.1f) < 0, "ce: label smoothing -0.1 must be in [0, 1]");
    CHECK_ERROR(cn_cross_entropy(g, "ce", x, y, 1.5f) < 0, "ce: label smoothing 1.5 must be in [0, 1]");
    CHECK_ERROR(cn_cross_entropy(g, "ce", x, y, NAN) < 0, "ce: label smoothing nan must be in [0, 1]");
    CHECK_ERROR(cn_cross_entropy(g, "ce", x4, y, 0) < 0, "ce: scores 4x10x1x1 must be 2-D (batch, classes)");
    CHECK_ERROR(cn_cross_entropy(g, "ce", x, y5, 0) < 0, "ce: labels 5 must be (4), one class index per row of scores 4x10");
    CHECK_ERROR(cn_cross_entropy(g, "ce", x, y2d, 0) < 0, "ce: labels 4x1 must be (4)");
    CHECK_ERROR(cn_hinge_loss(g, "svm", x, y, INFINITY) < 0, "svm: margin inf must be a finite number");
    CHECK_ERROR(cn_hinge_loss(g, "svm", x, y5, 1) < 0, "svm: labels 5 must be (4), one class index per row of scores 4x10");
    CHECK_ERROR(cn_hinge_loss(g, "svm", y, y, 1) < 0, "svm: scores 4 must be 2-D");
    CHECK_ERROR(cn_mse_loss(g, "mse", x, t) < 0, "mse: prediction 4x10 and target 4x9 must have the same shape");
    CHECK_ERROR(cn_mse_loss(g, "mse", x, x4) < 0, "mse: prediction 4x10 and target 4x10x1x1 must have the same shape");
    CHECK(cn_graph_node_count(g) == 6, "failed losses leave no node behind");
    int ce = cn_cross_entropy(g, NULL, x, y, 0.5f), svm = cn_hinge_loss(g, NULL, x, y, -0.5f), mse = cn_mse_loss(g, NULL, x, x);
    CHECK(ce >= 0 && svm >= 0 && mse >= 0, "valid losses build: %s", cn_last_error());
    CHECK(strcmp(cn_node_name(g, ce), "xent1") == 0 && strcmp(cn_node_name(g, svm), "hinge1") == 0 &&
              strcmp(cn_node_name(g, mse), "mse1") == 0, "made-up loss names");
    cn_shape s = cn_node_shape(g, ce);
    CHECK(s.ndim == 1 && s.dims[0] == 1, "a loss has shape {1}");
    /* a batch change re-checks the labels' length against the scores' batch */
    CHECK_OK(cn_graph_set_batch(g, 7));
    CHECK(cn_node_shape(g, ce).dims[0] == 1, "loss stays {1} at batch 7");
    cn_graph_free(g);
}

/* mse(x, x) is 0 with zero gradient: both contributions land in x's gradient and cancel. */
static void mse_same_input(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){2, 3}));
    int l = cn_mse_loss(g, "mse", x, x);
    cn_test_fill_input(g, x, 9, -1, 1);
    CHECK_OK(cn_forward(g, CN_TRAIN));
    CHECK(cn_node_output(g, l)[0] == 0, "mse(x, x) = 0");
    CHECK_OK(cn_backward(g, l, NULL));
    const cn_real *d = cn_node_grad(g, x);
    for (int i = 0; i < 6; i++) CHECK(d[i] == 0, "d mse(x,x)/dx = 0");
    cn_graph_free(g);
}

int main(void) {
    golden_cases();
    svm_lecture_example();
    cross_entropy_stable();
    labels_get_no_gradient();
    label_errors();
    shape_and_attribute_errors();
    mse_same_input();
    return cn_test_finish();
}
