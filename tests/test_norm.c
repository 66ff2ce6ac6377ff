/* Normalisation layers against PyTorch (goldens), their shape and attribute errors, and the behaviour that
 * matters for batch norm: train vs eval, running statistics, momentum, a batch of one. */
#include "cn_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- goldens */
static int build_from_golden(const golden_case *c, cn_graph *g, int x) {
    const char *op = golden_meta(c, "op");
    float eps = (float)golden_attr_num(c, "eps", 1e-5);
    int affine = golden_attr_int(c, "affine", 1);
    if (!op) return -1;
    if (strcmp(op, "BatchNormalization") == 0)
        return cn_batchnorm(g, "bn", x, eps, (float)golden_attr_num(c, "momentum", 0.1));
    if (strcmp(op, "LayerNormalization") == 0)
        return cn_layernorm(g, "ln", x, golden_attr_int(c, "normalized_ndim", 1), eps, affine);
    if (strcmp(op, "InstanceNormalization") == 0) return cn_instancenorm(g, "in", x, eps, affine);
    if (strcmp(op, "GroupNormalization") == 0)
        return cn_groupnorm(g, "gn", x, golden_attr_int(c, "num_groups", 1), eps, affine);
    if (strcmp(op, "LRN") == 0)
        return cn_lrn(g, "lrn", x, golden_attr_int(c, "size", 5), (float)golden_attr_num(c, "alpha", 1e-4),
                      (float)golden_attr_num(c, "beta", 0.75), (float)golden_attr_num(c, "k", 1));
    return -1;
}

static void golden_cases(void) {
    char names[64][128];
    int count = golden_list("norm", names, 64);
    CHECK(count >= 30, "expected at least 30 norm golden cases, found %d", count);
    int per_op[5] = {0};
    const char *ops[5] = {"BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization", "LRN"};
    for (int i = 0; i < count; i++) {
        golden_case c;
        if (golden_open(&c, "norm", names[i])) continue;
        for (int k = 0; k < 5; k++)
            if (golden_meta(&c, "op") && strcmp(golden_meta(&c, "op"), ops[k]) == 0) per_op[k]++;
        cn_graph *g = cn_graph_create();
        int x = golden_input(&c, g, 0);
        int y = build_from_golden(&c, g, x);
        CHECK(y >= 0, "%s: %s", names[i], cn_last_error());
        if (y >= 0) golden_check_node(&c, g, y, &x, 1);
        const char *op = golden_meta(&c, "op"), *mode = golden_meta(&c, "mode");
        if (op && strcmp(op, "BatchNormalization") == 0 && (!mode || strcmp(mode, "train") == 0))
            CHECK(golden_has(&c, "after.running_mean") && golden_has(&c, "after.running_var") &&
                      golden_has(&c, "eval.out"),
                  "%s: a batch-norm training case compares the running statistics and the eval output", names[i]);
        cn_graph_free(g);
        golden_close(&c);
    }
    for (int k = 0; k < 5; k++) CHECK(per_op[k] >= 3, "%s has %d golden cases, want >= 3", ops[k], per_op[k]);
}

/* ---------------------------------------------------------------- errors */
static cn_shape shape_of(int ndim, const int64_t *dims) { return cn_shape_make(ndim, dims); }

static void batchnorm_errors(void) {
    cn_graph *g = cn_graph_create();
    int v = cn_input(g, "v", shape_of(1, (int64_t[]){6}));
    int x = cn_input(g, "x", cn_shape4(2, 3, 4, 4));
    CHECK_ERROR(cn_batchnorm(g, "bn", v, 1e-5f, 0.1f) < 0, "bn: batch norm needs (N, C) or (N, C, spatial...) input, got 6");
    CHECK_ERROR(cn_batchnorm(g, "bn", x, -1e-5f, 0.1f) < 0, "bn: eps -1e-05 must be a finite number >= 0");
    CHECK_ERROR(cn_batchnorm(g, "bn", x, NAN, 0.1f) < 0, "bn: eps nan must be");
    CHECK_ERROR(cn_batchnorm(g, "bn", x, INFINITY, 0.1f) < 0, "bn: eps inf must be");
    CHECK_ERROR(cn_batchnorm(g, "bn", x, 1e-5f, 1.5f) < 0, "bn: momentum 1.5 must be in [0, 1]");
    CHECK_ERROR(cn_batchnorm(g, "bn", x, 1e-5f, -0.1f) < 0, "bn: momentum -0.1 must be in [0, 1]");
    CHECK_ERROR(cn_batchnorm(g, "bn", x, 1e-5f, NAN) < 0, "bn: momentum nan must be in [0, 1]");
    CHECK(cn_graph_node_count(g) == 2 && cn_param_count(g) == 0, "failed layers leave nothing behind");
    CHECK(cn_batchnorm(g, "bn", x, 0, 0) >= 0, "eps 0 and momentum 0 are allowed: %s", cn_last_error());
    cn_graph_free(g);

    /* A single value per channel: an error in training (as PyTorch), fine in eval. */
    const cn_shape single[3] = {shape_of(2, (int64_t[]){1, 4}), cn_shape4(1, 4, 1, 1),
                                shape_of(5, (int64_t[]){1, 4, 1, 1, 1})};
    for (int i = 0; i < 3; i++) {
        g = cn_graph_create();
        x = cn_input(g, "x", single[i]);
        int bn = cn_batchnorm(g, "bn1", x, 1e-5f, 0.1f);
        CHECK(bn >= 0, "bn on a batch of one builds: %s", cn_last_error());
        cn_test_fill_input(g, x, 1, -1, 1);
        cn_status st = cn_forward(g, CN_TRAIN);
        CHECK(st == CN_ERR_SHAPE, "train forward with one value per channel returns CN_ERR_SHAPE, got %s",
              cn_status_name(st));
        CHECK(strstr(cn_last_error(), "bn1: training needs more than 1 value per channel, input 1x4") != NULL,
              "message names the node and the input: %s", cn_last_error());
        cn_param nbt = cn_param_get(g, cn_param_find(g, "bn1.num_batches_tracked"));
        CHECK(nbt.value->data[0] == 0, "the failed step counts no batch");
        CHECK_OK(cn_forward(g, CN_EVAL));
        const cn_real *y = cn_node_output(g, bn), *in = cn_node_output(g, x);
        double err = 0;
        for (int c = 0; c < 4; c++) err = fmax(err, fabs(y[c] - in[c] / sqrt(1 + 1e-5)));
        CHECK(err < 1e-6, "eval with default running stats is x / sqrt(1 + eps), error %g", err);
        cn_graph_free(g);
    }
    /* Batch 1 with spatial > 1 trains fine. */
    g = cn_graph_create();
    x = cn_input(g, "x", shape_of(3, (int64_t[]){1, 2, 3}));
    int bn = cn_batchnorm(g, "bn", x, 1e-5f, 0.1f);
    cn_test_fill_input(g, x, 2, -1, 1);
    CHECK(bn >= 0 && cn_forward(g, CN_TRAIN) == CN_OK, "batch 1 with 3 values per channel trains: %s", cn_last_error());
    cn_graph_free(g);
}

static void layernorm_errors(void) {
    cn_graph *g = cn_graph_create();
    int v = cn_input(g, "v", shape_of(1, (int64_t[]){6}));
    int x = cn_input(g, "x", cn_shape4(2, 3, 4, 5));
    CHECK_ERROR(cn_layernorm(g, "ln", v, 1, 1e-5f, 1) < 0, "ln: layer norm needs a batch dimension and at least one more, got 6");
    CHECK_ERROR(cn_layernorm(g, "ln", x, 0, 1e-5f, 1) < 0, "ln: normalized_ndim 0 must be in [1, 3] for input 2x3x4x5");
    CHECK_ERROR(cn_layernorm(g, "ln", x, 4, 1e-5f, 1) < 0, "ln: normalized_ndim 4 must be in [1, 3] for input 2x3x4x5");
    CHECK_ERROR(cn_layernorm(g, "ln", x, -1, 1e-5f, 1) < 0, "ln: normalized_ndim -1 must be in [1, 3]");
    CHECK_ERROR(cn_layernorm(g, "ln", x, 1, -1.0f, 1) < 0, "ln: eps -1 must be a finite number >= 0");
    CHECK(cn_param_count(g) == 0, "failed layers leave no parameters");
    cn_graph_free(g);
}

static void instancenorm_errors(void) {
    cn_graph *g = cn_graph_create();
    int v = cn_input(g, "v", shape_of(2, (int64_t[]){2, 6}));
    int x1 = cn_input(g, "x1", cn_shape4(2, 3, 1, 1));
    int x = cn_input(g, "x", cn_shape4(2, 3, 4, 5));
    CHECK_ERROR(cn_instancenorm(g, "in", v, 1e-5f, 1) < 0, "in: instance norm needs (N, C, spatial...) input, got 2x6");
    CHECK_ERROR(cn_instancenorm(g, "in", x1, 1e-5f, 1) < 0,
                "in: instance norm needs more than 1 spatial value per channel, input 2x3x1x1 has 1");
    CHECK_ERROR(cn_instancenorm(g, "in", x, NAN, 0) < 0, "in: eps nan must be a finite number >= 0");
    cn_graph_free(g);
}

static void groupnorm_errors(void) {
    cn_graph *g = cn_graph_create();
    int v = cn_input(g, "v", shape_of(1, (int64_t[]){6}));
    int x = cn_input(g, "x", cn_shape4(2, 6, 4, 5));
    int one = cn_input(g, "one", shape_of(3, (int64_t[]){1, 4, 1}));
    CHECK_ERROR(cn_groupnorm(g, "gn", v, 1, 1e-5f, 1) < 0, "gn: group norm needs (N, C) or (N, C, spatial...) input, got 6");
    CHECK_ERROR(cn_groupnorm(g, "gn", x, 0, 1e-5f, 1) < 0, "gn: num_groups 0 must be >= 1");
    CHECK_ERROR(cn_groupnorm(g, "gn", x, -2, 1e-5f, 1) < 0, "gn: num_groups -2 must be >= 1");
    CHECK_ERROR(cn_groupnorm(g, "gn", x, 4, 1e-5f, 1) < 0, "gn: num_groups 4 does not divide the 6 channels of input 2x6x4x5");
    CHECK_ERROR(cn_groupnorm(g, "gn", x, 12, 1e-5f, 1) < 0, "gn: num_groups 12 does not divide the 6 channels");
    CHECK_ERROR(cn_groupnorm(g, "gn", one, 4, 1e-5f, 1) < 0, "gn: input 1x4x1 has a single value per group");
    CHECK_ERROR(cn_groupnorm(g, "gn", x, 3, -1e-3f, 1) < 0, "gn: eps -0.001 must be a finite number >= 0");
    cn_graph_free(g);

    /* The single-value rule depends on the batch: a batch change to 1 is refused and undone. */
    g = cn_graph_create();
    int x2 = cn_input(g, "x", shape_of(2, (int64_t[]){2, 4}));
    int gn = cn_groupnorm(g, "gn", x2, 4, 1e-5f, 1);
    CHECK(gn >= 0, "group norm with one channel per group and batch 2 builds: %s", cn_last_error());
    CHECK_ERROR(cn_graph_set_batch(g, 1), "batch size 1: gn: input 1x4 has a single value per group");
    CHECK(cn_node_shape(g, gn).dims[0] == 2, "the batch stays 2 after the refused change");
    CHECK_OK(cn_graph_set_batch(g, 3));
    CHECK(cn_node_shape(g, gn).dims[0] == 3, "the batch changes to 3");
    cn_graph_free(g);
}

static void lrn_errors(void) {
    cn_graph *g = cn_graph_create();
    int v = cn_input(g, "v", shape_of(2, (int64_t[]){2, 6}));
    int x = cn_input(g, "x", cn_shape4(2, 6, 4, 5));
    CHECK_ERROR(cn_lrn(g, "lrn", v, 5, 1e-4f, 0.75f, 2) < 0, "lrn: local response norm needs (N, C, spatial...) input, got 2x6");
    CHECK_ERROR(cn_lrn(g, "lrn", x, 0, 1e-4f, 0.75f, 2) < 0, "lrn: size 0 must be >= 1");
    CHECK_ERROR(cn_lrn(g, "lrn", x, -3, 1e-4f, 0.75f, 2) < 0, "lrn: size -3 must be >= 1");
    CHECK_ERROR(cn_lrn(g, "lrn", x, 5, -1.0f, 0.75f, 2) < 0, "lrn: alpha -1 must be a finite number >= 0");
    CHECK_ERROR(cn_lrn(g, "lrn", x, 5, INFINITY, 0.75f, 2) < 0, "lrn: alpha inf must be a finite number >= 0");
    CHECK_ERROR(cn_lrn(g, "lrn", x, 5, 1e-4f, NAN, 2) < 0, "lrn: beta nan must be a finite number");
    CHECK_ERROR(cn_lrn(g, "lrn", x, 5, 1e-4f, 0.75f, 0) < 0, "lrn: k 0 must be a finite number > 0");
    CHECK_ERROR(cn_lrn(g, "lrn", x, 5, 1e-4f, 0.75f, -1) < 0, "lrn: k -1 must be a finite number > 0");
    CHECK(cn_lrn(g, "lrn", x, 9, 1e-4f, 0.75f, 2) >= 0, "a size larger than C is allowed: %s", cn_last_error());
    cn_graph_free(g);
}

/* ---------------------------------------------------------------- parameters */
static void check_param(cn_graph *g, const char *name, int ndim, const int64_t *dims, double value, int trainable) {
    int i = cn_param_find(g, name);
    CHECK(i >= 0, "parameter %s exists", name);
    if (i < 0) return;
    cn_param p = cn_param_get(g, i);
    CHECK(p.trainable == trainable, "%s trainable is %d", name, trainable);
    CHECK(p.value->shape.ndim == ndim, "%s has %d dims", name, ndim);
    for (int d = 0; d < ndim && d < p.value->shape.ndim; d++)
        CHECK(p.value->shape.dims[d] == dims[d], "%s dim %d is %lld", name, d, (long long)dims[d]);
    int64_t n = cn_tensor_numel(p.value);
    int same = 1;
    for (int64_t k = 0; k < n; k++) same &= p.value->data[k] == (cn_real)value;
    CHECK(same, "%s starts at %g", name, value);
}

static void parameters(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", shape_of(5, (int64_t[]){2, 6, 3, 4, 5}));
    int bn = cn_batchnorm(g, NULL, x, 1e-5f, 0.1f);
    CHECK(bn >= 0 && strcmp(cn_node_name(g, bn), "bn1") == 0, "made-up name bn1");
    CHECK(strcmp(cn_node_op(g, bn), "BatchNormalization") == 0, "op name BatchNormalization");
    int64_t c[1] = {6}, one[1] = {1};
    check_param(g, "bn1.weight", 1, c, 1, 1);
    check_param(g, "bn1.bias", 1, c, 0, 1);
    check_param(g, "bn1.running_mean", 1, c, 0, 0);
    check_param(g, "bn1.running_var", 1, c, 1, 0);
    check_param(g, "bn1.num_batches_tracked", 1, one, 0, 0);
    int ln = cn_layernorm(g, NULL, x, 3, 1e-5f, 1);
    CHECK(ln >= 0 && strcmp(cn_node_name(g, ln), "ln1") == 0, "made-up name ln1");
    int64_t lns[3] = {3, 4, 5};
    check_param(g, "ln1.weight", 3, lns, 1, 1);
    check_param(g, "ln1.bias", 3, lns, 0, 1);
    int ln2 = cn_layernorm(g, "ln2", x, 2, 1e-5f, 0);
    int in = cn_instancenorm(g, NULL, x, 1e-5f, 1);
    CHECK(in >= 0 && strcmp(cn_node_name(g, in), "inorm1") == 0, "made-up name inorm1");
    check_param(g, "inorm1.weight", 1, c, 1, 1);
    check_param(g, "inorm1.bias", 1, c, 0, 1);
    int in2 = cn_instancenorm(g, "in2", x, 1e-5f, 0);
    int gn = cn_groupnorm(g, NULL, x, 3, 1e-5f, 1);
    CHECK(gn >= 0 && strcmp(cn_node_name(g, gn), "gn1") == 0, "made-up name gn1");
    check_param(g, "gn1.weight", 1, c, 1, 1);
    check_param(g, "gn1.bias", 1, c, 0, 1);
    int gn2 = cn_groupnorm(g, "gn2", x, 2, 1e-5f, 0);
    int lrn = cn_lrn(g, NULL, x, 5, 1e-4f, 0.75f, 2);
    CHECK(lrn >= 0 && strcmp(cn_node_name(g, lrn), "lrn1") == 0, "made-up name lrn1");
    CHECK(ln2 >= 0 && in2 >= 0 && gn2 >= 0, "layers without affine build");
    CHECK(cn_param_count(g) == 5 + 2 + 2 + 2, "no parameters without affine, none for LRN: %d", cn_param_count(g));
    CHECK(cn_graph_num_trainable(g) == 12 + 120 + 12 + 12, "trainable count %lld", (long long)cn_graph_num_trainable(g));
    cn_graph_free(g);
}

/* ---------------------------------------------------------------- batch norm train vs eval */
static void set_param(cn_graph *g, const char *name, const double *values, int n) {
    cn_param p = cn_param_get(g, cn_param_find(g, name));
    for (int i = 0; i < n; i++) p.value->data[i] = (cn_real)values[i];
}

static const cn_real *param_data(cn_graph *g, const char *name) {
    return cn_param_get(g, cn_param_find(g, name)).value->data;
}

static void batchnorm_train_eval(void) {
    enum { N = 3, C = 2, S = 5 };
    const double mom = 0.25, eps = 1e-3;
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", shape_of(3, (int64_t[]){N, C, S}));
    int bn = cn_batchnorm(g, "bn", x, (float)eps, (float)mom);
    CHECK(bn >= 0, "bn builds: %s", cn_last_error());
    const double w[C] = {1.5, 0.5}, b[C] = {0.25, -1}, rm0[C] = {0.3, -0.2}, rv0[C] = {2.0, 0.7};
    set_param(g, "bn.weight", w, C);
    set_param(g, "bn.bias", b, C);
    set_param(g, "bn.running_mean", rm0, C);
    set_param(g, "bn.running_var", rv0, C);
    cn_real in[N * C * S];
    cn_rng r;
    cn_rng_seed(&r, 11, 1);
    cn_rng_fill_uniform(&r, in, N * C * S, -2, 3);
    CHECK_OK(cn_set_input(g, x, in, N * C * S));

    /* batch statistics in double */
    double mean[C] = {0}, var[C] = {0};
    for (int c = 0; c < C; c++) {
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) mean[c] += in[(n * C + c) * S + s];
        mean[c] /= N * S;
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) var[c] += pow(in[(n * C + c) * S + s] - mean[c], 2);
        var[c] /= N * S;
    }

    /* one train step: batch statistics normalise, running stats move by momentum (unbiased variance) */
    CHECK_OK(cn_forward(g, CN_TRAIN));
    const cn_real *y = cn_node_output(g, bn);
    double err = 0;
    for (int c = 0; c < C; c++)
        for (int n = 0; n < N; n++)
            for (int s = 0; s < S; s++) {
                int i = (n * C + c) * S + s;
                err = fmax(err, fabs(y[i] - ((in[i] - mean[c]) / sqrt(var[c] + eps) * w[c] + b[c])));
            }
    CHECK(err < 1e-5, "train output uses batch statistics (biased var, eps inside the sqrt), error %g", err);
    double rm1[C], rv1[C];
    for (int c = 0; c < C; c++) {
        rm1[c] = (1 - mom) * rm0[c] + mom * mean[c];
        rv1[c] = (1 - mom) * rv0[c] + mom * var[c] * (N * S) / (N * S - 1.0);
        CHECK(fabs(param_data(g, "bn.running_mean")[c] - rm1[c]) < 1e-6, "running_mean[%d] %g, want %g", c,
              (double)param_data(g, "bn.running_mean")[c], rm1[c]);
        CHECK(fabs(param_data(g, "bn.running_var")[c] - rv1[c]) < 1e-6, "running_var[%d] %g, want %g (unbiased)", c,
              (double)param_data(g, "bn.running_var")[c], rv1[c]);
    }
    CHECK(param_data(g, "bn.num_batches_tracked")[0] == 1, "num_batches_tracked is 1 after one step");
    cn_real saved_mean[C], saved_var[C];
    memcpy(saved_mean, param_data(g, "bn.running_mean"), sizeof saved_mean);
    memcpy(saved_var, param_data(g, "bn.running_var"), sizeof saved_var);
    cn_real train_out[N * C * S];
    memcpy(train_out, y, sizeof train_out);

    /* eval: running statistics, which an eval forward leaves alone */
    for (int rep = 0; rep < 2; rep++) {
        CHECK_OK(cn_forward(g, CN_EVAL));
        y = cn_node_output(g, bn);
        err = 0;
        double diff = 0;
        for (int c = 0; c < C; c++)
            for (int n = 0; n < N; n++)
                for (int s = 0; s < S; s++) {
                    int i = (n * C + c) * S + s;
                    err = fmax(err, fabs(y[i] - ((in[i] - rm1[c]) / sqrt(rv1[c] + eps) * w[c] + b[c])));
                    diff = fmax(diff, fabs(y[i] - train_out[i]));
                }
        CHECK(err < 1e-5, "eval output uses the running statistics, error %g", err);
        CHECK(diff > 0.1, "eval output differs from train output (max diff %g)", diff);
        CHECK(memcmp(param_data(g, "bn.running_mean"), saved_mean, sizeof saved_mean) == 0 &&
                  memcmp(param_data(g, "bn.running_var"), saved_var, sizeof saved_var) == 0,
              "an eval forward leaves the running statistics exactly as they were");
        CHECK(param_data(g, "bn.num_batches_tracked")[0] == 1, "eval forward does not count a batch");
    }
    CHECK(cn_backward(g, bn, NULL) != CN_OK, "backward after an eval forward is refused");

    /* a second train step moves the statistics again */
    CHECK_OK(cn_forward(g, CN_TRAIN));
    for (int c = 0; c < C; c++) {
        double rm2 = (1 - mom) * rm1[c] + mom * mean[c];
        CHECK(fabs(param_data(g, "bn.running_mean")[c] - rm2) < 1e-6, "second step running_mean[%d]", c);
    }
    CHECK(param_data(g, "bn.num_batches_tracked")[0] == 2, "num_batches_tracked is 2 after two steps");
    CHECK_OK(cn_backward(g, bn, NULL));
    /* with dy = 1 everywhere: dx = 0, dweight = sum(xhat) = 0, dbias = N*S */
    const cn_real *dx = cn_node_grad(g, x);
    err = 0;
    for (int i = 0; i < N * C * S; i++) err = fmax(err, fabs(dx[i]));
    CHECK(err < 1e-5, "a constant upstream gradient gives dx = 0 through the batch mean, max %g", err);
    cn_param pb = cn_param_get(g, cn_param_find(g, "bn.bias"));
    CHECK(fabs(pb.grad->data[0] - N * S) < 1e-5 && fabs(pb.grad->data[1] - N * S) < 1e-5, "dbias = N*S");
    cn_graph_free(g);
}

/* Momentum 0 keeps the running statistics, momentum 1 replaces them with the batch's. */
static void batchnorm_momentum_extremes(void) {
    for (int k = 0; k < 2; k++) {
        cn_graph *g = cn_graph_create();
        int x = cn_input(g, "x", shape_of(2, (int64_t[]){4, 1}));
        int bn = cn_batchnorm(g, "bn", x, 1e-5f, (float)k);
        CHECK(bn >= 0, "builds");
        const cn_real in[4] = {1, 2, 3, 6};
        CHECK_OK(cn_set_input(g, x, in, 4));
        CHECK_OK(cn_forward(g, CN_TRAIN));
        double rm = param_data(g, "bn.running_mean")[0], rv = param_data(g, "bn.running_var")[0];
        if (k == 0) CHECK(rm == 0 && rv == 1, "momentum 0 keeps running stats (%g, %g)", rm, rv);
        else
            CHECK(fabs(rm - 3) < 1e-6 && fabs(rv - 14.0 / 3) < 1e-5,
                  "momentum 1: running stats = batch mean 3, unbiased var 14/3 (%g, %g)", rm, rv);
        cn_graph_free(g);
    }
}

/* Train and eval give the same output for the ops without running statistics. */
static void train_equals_eval(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 6, 3, 5));
    int ops[4] = {cn_layernorm(g, "ln", x, 2, 1e-5f, 1), cn_instancenorm(g, "in", x, 1e-5f, 1),
                  cn_groupnorm(g, "gn", x, 3, 1e-5f, 1), cn_lrn(g, "lrn", x, 3, 0.5f, 0.75f, 1)};
    for (int i = 0; i < 4; i++) cn_graph_mark_output(g, ops[i]);
    cn_test_fill_input(g, x, 5, -1, 2);
    int64_t n = 2 * 6 * 3 * 5;
    cn_real *train = malloc(4 * (size_t)n * sizeof(cn_real));
    CHECK_OK(cn_forward(g, CN_TRAIN));
    for (int i = 0; i < 4; i++) memcpy(train + i * n, cn_node_output(g, ops[i]), (size_t)n * sizeof(cn_real));
    CHECK_OK(cn_forward(g, CN_EVAL));
    for (int i = 0; i < 4; i++) {
        const cn_real *y = cn_node_output(g, ops[i]);
        CHECK(y && memcmp(y, train + i * n, (size_t)n * sizeof(cn_real)) == 0, "%s: eval output equals train output",
              cn_node_name(g, ops[i]));
    }
    free(train);
    cn_graph_free(g);
}

/* A steady-state training step (forward + backward) allocates nothing. */
static void no_allocation(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 6, 3, 5));
    int h = cn_batchnorm(g, "bn", x, 1e-5f, 0.1f);
    h = cn_lrn(g, "lrn", h, 5, 1e-4f, 0.75f, 2);
    h = cn_groupnorm(g, "gn", h, 2, 1e-5f, 1);
    h = cn_instancenorm(g, "in", h, 1e-5f, 1);
    h = cn_layernorm(g, "ln", h, 3, 1e-5f, 1);
    cn_test_fill_input(g, x, 9, -1, 1);
    CHECK_OK(cn_forward(g, CN_TRAIN));
    CHECK_OK(cn_backward(g, h, NULL));
    cn_test_count_allocations(1);
    long before = cn_test_allocation_count();
    for (int i = 0; i < 3; i++) {
        CHECK_OK(cn_forward(g, CN_TRAIN));
        cn_zero_grad(g);
        CHECK_OK(cn_backward(g, h, NULL));
    }
    CHECK(cn_test_allocation_count() == before, "%ld allocations in steady-state steps", cn_test_allocation_count() - before);
    cn_test_count_allocations(0);
    cn_graph_free(g);
}

int main(void) {
    golden_cases();
    batchnorm_errors();
    layernorm_errors();
    instancenorm_errors();
    groupnorm_errors();
    lrn_errors();
    parameters();
    batchnorm_train_eval();
    batchnorm_momentum_extremes();
    train_equals_eval();
    no_allocation();
    return cn_test_finish();
}
