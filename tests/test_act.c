/* Activations, PReLU, Softmax / LogSoftmax and Dropout: against PyTorch (golden files), their attribute and
 * shape errors, and dropout's training behaviour by its properties (PyTorch's masks cannot be reproduced). */
#include "cn_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- goldens */
static const struct {
    const char *name;
    cn_act act;
} act_kinds[] = {
    {"relu", CN_ACT_RELU}, {"leaky_relu", CN_ACT_LEAKY_RELU}, {"elu", CN_ACT_ELU},     {"sigmoid", CN_ACT_SIGMOID},
    {"tanh", CN_ACT_TANH}, {"gelu", CN_ACT_GELU},             {"gelu_tanh", CN_ACT_GELU_TANH},
};

/* Build the node a golden case describes on input x; -1 when the op is unknown. */
static int build_case(const golden_case *c, cn_graph *g, int x) {
    const char *op = golden_meta(c, "op");
    if (!op) return -1;
    if (strcmp(op, "PRelu") == 0)
        return cn_prelu(g, "act", x, golden_attr_int(c, "num_parameters", 1), (float)golden_attr_num(c, "init", 0.25));
    if (strcmp(op, "Softmax") == 0) return cn_softmax(g, "act", x, golden_attr_int(c, "axis", 1));
    if (strcmp(op, "LogSoftmax") == 0) return cn_log_softmax(g, "act", x, golden_attr_int(c, "axis", 1));
    if (strcmp(op, "Dropout") == 0) return cn_dropout(g, "act", x, (float)golden_attr_num(c, "p", 0.5));
    const char *kind = golden_attr_str(c, "act", "");
    for (size_t i = 0; i < sizeof act_kinds / sizeof act_kinds[0]; i++)
        if (strcmp(kind, act_kinds[i].name) == 0)
            return cn_activation(g, "act", x, act_kinds[i].act, (float)golden_attr_num(c, "alpha", 0));
    CHECK(0, "%s: unknown op %s / activation '%s'", c->name, op, kind);
    return -1;
}

static void golden_cases(void) {
    char names[96][128];
    int count = golden_list("act", names, 96);
    CHECK(count >= 45, "expected at least 45 act golden cases, found %d", count);
    int per_op[16] = {0};
    const char *ops[] = {"Relu", "LeakyRelu", "Elu", "Sigmoid", "Tanh", "Gelu", "PRelu", "Softmax", "LogSoftmax",
                         "Dropout"};
    for (int i = 0; i < count; i++) {
        golden_case c;
        if (golden_open(&c, "act", names[i])) continue;
        cn_graph *g = cn_graph_create();
        int x = golden_input(&c, g, 0);
        int y = build_case(&c, g, x);
        CHECK(y >= 0, "%s: %s", names[i], cn_last_error());
        if (y >= 0) {
            const char *op = golden_meta(&c, "op");
            CHECK(strcmp(cn_node_op(g, y), op) == 0, "%s: op %s, expected %s", names[i], cn_node_op(g, y), op);
            for (int k = 0; k < 10; k++)
                if (strcmp(op, ops[k]) == 0) per_op[k]++;
            golden_check_node(&c, g, y, &x, 1);
        }
        cn_graph_free(g);
        golden_close(&c);
    }
    for (int k = 0; k < 10; k++) CHECK(per_op[k] >= 3, "op %s has %d golden cases, expected >= 3", ops[k], per_op[k]);
}

/* ---------------------------------------------------------------- errors */
static void attribute_and_shape_errors(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 4, 5, 5));
    int x2 = cn_input(g, "x2", cn_shape_make(2, (int64_t[]){3, 7}));

    CHECK_ERROR(cn_softmax(g, "sm", x2, 2) < 0, "sm: axis 2 is out of range for input 3x7");
    CHECK_ERROR(cn_softmax(g, "sm", x2, -3) < 0, "sm: axis -3 is out of range for input 3x7");
    CHECK_ERROR(cn_log_softmax(g, "lsm", x, 4) < 0, "lsm: axis 4 is out of range for input 2x4x5x5");
    CHECK_ERROR(cn_log_softmax(g, "lsm", x, -5) < 0, "lsm: axis -5 is out of range for input 2x4x5x5");
    CHECK(cn_softmax(g, "sm_last", x, -1) >= 0 && cn_log_softmax(g, "lsm_first", x2, -2) >= 0,
          "axes -1 and -rank are valid: %s", cn_last_error());

    CHECK_ERROR(cn_prelu(g, "pr", x, 3, 0.25f) < 0,
                "pr: num_parameters 3 does not fit input 2x4x5x5 with 4 channels (must be 1 or 4)");
    CHECK_ERROR(cn_prelu(g, "pr", x2, 4, 0.25f) < 0,
                "pr: num_parameters 4 does not fit input 3x7 with 7 channels (must be 1 or 7)");
    CHECK_ERROR(cn_prelu(g, "pr", x, 0, 0.25f) < 0, "pr: num_parameters 0 must be >= 1");
    CHECK_ERROR(cn_prelu(g, "pr", x, 1, NAN) < 0, "pr: init nan must be a finite number");
    CHECK(cn_param_find(g, "pr.weight") < 0, "a failed PReLU leaves no parameter behind");

    CHECK_ERROR(cn_dropout(g, "drop", x, -0.1f) < 0, "drop: dropout probability p -0.1 must be in [0, 1]");
    CHECK_ERROR(cn_dropout(g, "drop", x, 1.5f) < 0, "drop: dropout probability p 1.5 must be in [0, 1]");
    CHECK_ERROR(cn_dropout(g, "drop", x, NAN) < 0, "drop: dropout probability p nan must be in [0, 1]");

    CHECK_ERROR(cn_activation(g, "act", x, (cn_act)99, 0) < 0, "act: unknown activation kind 99");
    CHECK_ERROR(cn_activation(g, "act", x, (cn_act)-1, 0) < 0, "act: unknown activation kind -1");
    CHECK_ERROR(cn_activation(g, "lrelu", x, CN_ACT_LEAKY_RELU, NAN) < 0, "lrelu: alpha nan must be a finite");
    CHECK_ERROR(cn_activation(g, "elu", x, CN_ACT_ELU, INFINITY) < 0, "elu: alpha inf must be a finite");
    CHECK(cn_activation(g, "sig", x, CN_ACT_SIGMOID, NAN) >= 0, "alpha is ignored by Sigmoid: %s", cn_last_error());
    CHECK_ERROR(cn_relu(g, "r", 42) < 0, "r: input 0 is node 42, which does not exist");
    CHECK_ERROR(cn_dropout(g, "d", -1, 0.5f) < 0, "d: input 0 is node -1, which does not exist");
    cn_graph_free(g);
}

/* Op names, made-up node names, parameters, and re-inference after a batch change. */
static void names_and_params(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 4, 3, 3));
    int r = cn_relu(g, NULL, x);
    int l = cn_activation(g, NULL, r, CN_ACT_LEAKY_RELU, 0.01f);
    int e = cn_activation(g, NULL, l, CN_ACT_ELU, 1);
    int s = cn_activation(g, NULL, e, CN_ACT_SIGMOID, 0);
    int t = cn_activation(g, NULL, s, CN_ACT_TANH, 0);
    int ge = cn_activation(g, NULL, t, CN_ACT_GELU, 0);
    int gt = cn_activation(g, NULL, ge, CN_ACT_GELU_TANH, 0);
    int p = cn_prelu(g, NULL, gt, 4, 0.25f);
    int d = cn_dropout(g, NULL, p, 0.5f);
    int sm = cn_softmax(g, NULL, d, 1);
    int lsm = cn_log_softmax(g, NULL, sm, 0);
    const struct { int id; const char *op, *name; } want[] = {
        {r, "Relu", "relu1"},      {l, "LeakyRelu", "leakyrelu1"}, {e, "Elu", "elu1"},
        {s, "Sigmoid", "sigmoid1"}, {t, "Tanh", "tanh1"},          {ge, "Gelu", "gelu1"},
        {gt, "Gelu", "gelu2"},     {p, "PRelu", "prelu1"},         {d, "Dropout", "dropout1"},
        {sm, "Softmax", "softmax1"}, {lsm, "LogSoftmax", "logsoftmax1"},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        CHECK(want[i].id >= 0, "node %s builds: %s", want[i].name, cn_last_error());
        if (want[i].id < 0) continue;
        CHECK(strcmp(cn_node_op(g, want[i].id), want[i].op) == 0, "op %s, expected %s", cn_node_op(g, want[i].id), want[i].op);
        CHECK(strcmp(cn_node_name(g, want[i].id), want[i].name) == 0, "name %s, expected %s", cn_node_name(g, want[i].id),
              want[i].name);
        cn_shape sh = cn_node_shape(g, want[i].id);
        CHECK(cn_shape_equal(&sh, &(cn_shape){4, {2, 4, 3, 3}}), "%s keeps the shape", want[i].name);
    }
    int pw = cn_param_find(g, "prelu1.weight");
    CHECK(pw >= 0, "PReLU parameter named prelu1.weight");
    if (pw >= 0) {
        cn_param prm = cn_param_get(g, pw);
        CHECK(prm.trainable && prm.value->shape.ndim == 1 && prm.value->shape.dims[0] == 4, "weight is (4), trainable");
        for (int i = 0; i < 4; i++) CHECK(prm.value->data[i] == (cn_real)0.25f, "slope %d initialised to 0.25", i);
    }
    CHECK(cn_graph_num_trainable(g) == 4, "only PReLU has trainable parameters");
    CHECK_OK(cn_graph_set_batch(g, 5));
    cn_shape sh = cn_node_shape(g, lsm);
    CHECK(sh.dims[0] == 5 && sh.dims[1] == 4, "batch 5 re-inferred");
    cn_test_fill_input(g, x, 1, -2, 2);
    CHECK_OK(cn_forward(g, CN_TRAIN));
    CHECK_OK(cn_backward(g, lsm, NULL));
    cn_graph_free(g);
}

/* Softmax is stable for huge logits; rows sum to 1; LogSoftmax is log(Softmax). */
static void softmax_behaviour(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){2, 3}));
    int sm = cn_softmax(g, "sm", x, -1);
    int lsm = cn_log_softmax(g, "lsm", x, 1);
    cn_real v[6] = {1000, 0, -1000, (cn_real)3e30, (cn_real)3e30, (cn_real)-3e30};
    CHECK_OK(cn_set_input(g, x, v, 6));
    CHECK_OK(cn_forward(g, CN_EVAL));
    const cn_real *y = cn_node_output(g, sm), *ly = cn_node_output(g, lsm);
    CHECK(y[0] == 1 && y[1] == 0 && y[2] == 0, "softmax(1000, 0, -1000) = (1, 0, 0), got %g %g %g", y[0], y[1], y[2]);
    CHECK(fabs(y[3] - 0.5) < 1e-6 && fabs(y[4] - 0.5) < 1e-6 && y[5] == 0, "softmax of huge ties, got %g %g %g", y[3],
          y[4], y[5]);
    CHECK(ly[0] == 0 && ly[1] == -1000 && ly[2] == -2000, "log_softmax(1000, 0, -1000) = (0, -1000, -2000), got %g %g %g",
          ly[0], ly[1], ly[2]);
    for (int i = 0; i < 6; i++) CHECK(isfinite(y[i]) && (i == 5 || isfinite(ly[i])), "finite at %d", i);
    cn_graph_free(g);

    g = cn_graph_create();
    x = cn_input(g, "x", cn_shape_make(5, (int64_t[]){2, 3, 4, 5, 6}));
    sm = cn_softmax(g, "sm", x, 2);
    lsm = cn_log_softmax(g, "lsm", x, 2);
    cn_test_fill_input(g, x, 9, -6, 6);
    CHECK_OK(cn_forward(g, CN_EVAL));
    y = cn_node_output(g, sm);
    ly = cn_node_output(g, lsm);
    double worst_sum = 0, worst_log = 0;
    for (int o = 0; o < 6; o++)
        for (int i = 0; i < 30; i++) {
            double sum = 0;
            for (int k = 0; k < 4; k++) {
                int64_t at = (int64_t)(o * 4 + k) * 30 + i;
                sum += y[at];
                worst_log = fmax(worst_log, fabs(log((double)y[at]) - ly[at]));
            }
            worst_sum = fmax(worst_sum, fabs(sum - 1));
        }
    CHECK(worst_sum < 1e-6, "softmax along axis 2 of a 5-D tensor sums to 1 (off by %g)", worst_sum);
    CHECK(worst_log < 1e-5, "log_softmax = log(softmax) (off by %g)", worst_log);
    cn_graph_free(g);
}

/* Saturating inputs give finite outputs and gradients. */
static void extreme_inputs(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){1, 6}));
    int ids[7];
    for (int k = 0; k <= CN_ACT_GELU_TANH; k++) ids[k] = cn_activation(g, NULL, x, (cn_act)k, 0.5f);
    cn_real v[6] = {-100, -30, -1e-3f, 1e-3f, 30, 100};
    CHECK_OK(cn_set_input(g, x, v, 6));
    CHECK_OK(cn_forward(g, CN_TRAIN));
    for (int k = 0; k <= CN_ACT_GELU_TANH; k++) {
        const cn_real *y = cn_node_output(g, ids[k]);
        for (int i = 0; i < 6; i++) CHECK(isfinite(y[i]), "%s(%g) = %g is finite", cn_node_name(g, ids[k]), v[i], y[i]);
        cn_zero_grad(g);
        CHECK_OK(cn_backward(g, ids[k], NULL));
        const cn_real *dx = cn_node_grad(g, x);
        for (int i = 0; i < 6; i++) CHECK(isfinite(dx[i]), "%s'(%g) = %g is finite", cn_node_name(g, ids[k]), v[i], dx[i]);
    }
    const cn_real *sig = cn_node_output(g, ids[CN_ACT_SIGMOID]);
    CHECK(sig[0] >= 0 && sig[0] < 1e-30 && sig[5] == 1, "sigmoid saturates to 0 and 1");
    cn_graph_free(g);
}

/* ---------------------------------------------------------------- dropout */
enum { DROP_N = 4, DROP_C = 16, DROP_H = 32, DROP_W = 32, DROP_COUNT = DROP_N * DROP_C * DROP_H * DROP_W };

/* Forward in train mode with the given seed; copy the output into out (DROP_COUNT values). */
static void dropout_run(cn_graph *g, int d, uint64_t seed, cn_real *out) {
    cn_graph_set_seed(g, seed);
    CHECK_OK(cn_forward(g, CN_TRAIN));
    memcpy(out, cn_node_output(g, d), sizeof(cn_real) * DROP_COUNT);
}

static void dropout_train_properties(float p) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(DROP_N, DROP_C, DROP_H, DROP_W));
    int d = cn_dropout(g, "drop", x, p);
    cn_test_fill_input(g, x, 3, 0.5, 1.5); /* no zeros in x: a zero in y is a dropped element */
    cn_real *y1 = malloc(sizeof(cn_real) * DROP_COUNT), *y2 = malloc(sizeof(cn_real) * DROP_COUNT);
    cn_real *dy = malloc(sizeof(cn_real) * DROP_COUNT);

    dropout_run(g, d, 42, y1);
    const cn_real *xv = cn_node_output(g, x);
    const cn_real keep = (cn_real)1 - (cn_real)p;
    int64_t zeros = 0, wrong_kept = 0;
    for (int64_t i = 0; i < DROP_COUNT; i++) {
        if (y1[i] == 0) zeros++;
        else if (y1[i] != xv[i] / keep) wrong_kept++;
    }
    double frac = (double)zeros / DROP_COUNT;
    CHECK(fabs(frac - p) < 0.01, "p=%g: fraction of zeros %.4f is near p", p, frac);
    CHECK(wrong_kept == 0, "p=%g: %lld kept values differ from x/(1-p)", p, (long long)wrong_kept);

    /* backward: dx = mask * dy / (1-p), with the mask of the forward just run */
    cn_rng r;
    cn_rng_seed(&r, 8, 1);
    cn_rng_fill_uniform(&r, dy, DROP_COUNT, -1, 1);
    cn_zero_grad(g);
    CHECK_OK(cn_backward(g, d, dy));
    const cn_real *dx = cn_node_grad(g, x);
    int64_t wrong_grad = 0;
    for (int64_t i = 0; i < DROP_COUNT; i++) {
        cn_real want = y1[i] != 0 ? dy[i] / keep : 0;
        if (dx[i] != want) wrong_grad++;
    }
    CHECK(wrong_grad == 0, "p=%g: %lld gradients differ from mask*dy/(1-p)", p, (long long)wrong_grad);

    /* same seed, same mask; another seed or the next step, another mask */
    dropout_run(g, d, 42, y2);
    CHECK(memcmp(y1, y2, sizeof(cn_real) * DROP_COUNT) == 0, "p=%g: the same seed gives the same mask", p);
    CHECK_OK(cn_forward(g, CN_TRAIN));
    CHECK(memcmp(y1, cn_node_output(g, d), sizeof(cn_real) * DROP_COUNT) != 0, "p=%g: the next step draws a new mask", p);
    dropout_run(g, d, 43, y2);
    int64_t differ = 0;
    for (int64_t i = 0; i < DROP_COUNT; i++) differ += (y1[i] == 0) != (y2[i] == 0);
    CHECK(differ > DROP_COUNT / 10, "p=%g: another seed gives another mask (%lld differ)", p, (long long)differ);

    /* eval: identity, the same graph after training */
    CHECK_OK(cn_forward(g, CN_EVAL));
    CHECK(memcmp(cn_node_output(g, d), cn_node_output(g, x), sizeof(cn_real) * DROP_COUNT) == 0,
          "p=%g: eval mode is the identity", p);
    free(y1);
    free(y2);
    free(dy);
    cn_graph_free(g);
}

/* p = 0 is the identity in training, forward and backward; p = 1 zeroes everything. */
static void dropout_edge_probabilities(void) {
    for (int k = 0; k < 2; k++) {
        float p = k == 0 ? 0.0f : 1.0f;
        cn_graph *g = cn_graph_create();
        int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){7, 13}));
        int d = cn_dropout(g, "drop", x, p);
        CHECK(d >= 0, "p=%g is accepted: %s", p, cn_last_error());
        cn_test_fill_input(g, x, 5, -1, 1);
        CHECK_OK(cn_forward(g, CN_TRAIN));
        cn_real dy[91];
        for (int i = 0; i < 91; i++) dy[i] = (cn_real)(i % 7) - 3;
        cn_zero_grad(g);
        CHECK_OK(cn_backward(g, d, dy));
        const cn_real *xv = cn_node_output(g, x), *y = cn_node_output(g, d), *dx = cn_node_grad(g, x);
        int bad = 0;
        for (int i = 0; i < 91; i++) bad += p == 0 ? (y[i] != xv[i] || dx[i] != dy[i]) : (y[i] != 0 || dx[i] != 0);
        CHECK(bad == 0, "p=%g: %d elements wrong (identity for p=0, zeros for p=1)", p, bad);
        cn_graph_free(g);
    }
}

/* A training step through every op of the family allocates nothing once the plan exists. */
static void steady_state_allocates_nothing(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 3, 5, 5));
    int h = cn_prelu(g, NULL, x, 3, 0.25f);
    h = cn_dropout(g, NULL, h, 0.3f);
    h = cn_activation(g, NULL, h, CN_ACT_GELU, 0);
    h = cn_log_softmax(g, NULL, h, 1);
    cn_test_fill_input(g, x, 2, -1, 1);
    CHECK_OK(cn_forward(g, CN_TRAIN));
    CHECK_OK(cn_backward(g, h, NULL));
    cn_test_count_allocations(1);
    long before = cn_test_allocation_count();
    CHECK_OK(cn_forward(g, CN_TRAIN));
    CHECK_OK(cn_backward(g, h, NULL));
    long made = cn_test_allocation_count() - before;
    cn_test_count_allocations(0);
    CHECK(made == 0, "a steady-state step made %ld allocations", made);
    cn_graph_free(g);
}

int main(void) {
    golden_cases();
    attribute_and_shape_errors();
    names_and_params();
    softmax_behaviour();
    extreme_inputs();
    dropout_train_properties(0.3f);
    dropout_train_properties(0.5f);
    dropout_train_properties(0.85f);
    dropout_edge_probabilities();
    steady_state_allocates_nothing();
    return cn_test_finish();
}
