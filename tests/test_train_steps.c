/* End to end against PyTorch: the same small conv net (conv, batch norm, ReLU, max pool, linear,
 * cross-entropy with label smoothing), the same weights and batches, 3 steps of each optimizer: the loss of
 * every step within 1e-5, and every weight
 * and running statistic within 1e-5 relative (golden family "train", tests/golden/gen_train.py). */
#include "cn_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void run_case(const char *name) {
    golden_case c;
    if (golden_open(&c, "train", name)) return;
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(6, 2, 8, 8));
    int y = cn_input(g, "y", cn_shape_make(1, (int64_t[]){6}));
    cn_conv_attr conv = cn_conv_attr_make(4, 3, 1, 1);
    conv.bias = 0; /* a bias before batch norm has a zero gradient: Adam would amplify rounding noise */
    int h = cn_conv(g, "conv1", x, &conv);
    h = cn_batchnorm(g, "bn1", h, 1e-5f, 0.1f);
    h = cn_relu(g, NULL, h);
    h = cn_maxpool2d(g, NULL, h, 2, 2);
    h = cn_flatten(g, NULL, h);
    int logits = cn_linear(g, "fc1", h, 5, 1);
    int loss = cn_cross_entropy(g, "loss", logits, y, (float)golden_attr_num(&c, "label_smoothing", 0));
    CHECK(loss >= 0, "train/%s builds: %s", name, cn_last_error());
    CHECK(golden_load_graph_params(&c, g) == 7, "train/%s: 7 parameters loaded", name);
    const char *kind = golden_attr_str(&c, "optimizer", "sgd");
    double lr = golden_attr_num(&c, "lr", 0), wd = golden_attr_num(&c, "weight_decay", 0);
    cn_optimizer_config oc = strcmp(kind, "adam") == 0    ? cn_adam_config(lr, wd)
                           : strcmp(kind, "adamw") == 0   ? cn_adamw_config(lr, wd)
                                                          : cn_sgd_config(lr, golden_attr_num(&c, "momentum", 0), wd,
                                                                          golden_attr_int(&c, "nesterov", 0));
    cn_optimizer *opt = cn_optimizer_create(g, &oc);
    CHECK(opt != NULL, "train/%s: optimizer: %s", name, cn_last_error());
    int64_t nl = 0;
    cn_real *ref_loss = golden_tensor(&c, "loss", &nl);
    for (int step = 0; step < 3 && opt && ref_loss; step++) {
        char tx[32], ty[32];
        snprintf(tx, sizeof tx, "batch.%d.x", step);
        snprintf(ty, sizeof ty, "batch.%d.y", step);
        int64_t n1 = 0, n2 = 0;
        cn_real *bx = golden_tensor(&c, tx, &n1), *by = golden_tensor(&c, ty, &n2);
        CHECK_OK(cn_set_input(g, x, bx, n1));
        CHECK_OK(cn_set_input(g, y, by, n2));
        CHECK_OK(cn_forward(g, CN_TRAIN));
        double l = cn_node_output(g, loss)[0];
        CHECK(fabs(l - ref_loss[step]) <= 1e-5 * fmax(1, fabs(ref_loss[step])), "train/%s step %d: loss %.8f, PyTorch %.8f",
              name, step, l, (double)ref_loss[step]);
        cn_zero_grad(g);
        CHECK_OK(cn_backward(g, loss, NULL));
        CHECK_OK(cn_optimizer_step(opt));
        free(bx);
        free(by);
    }
    /* every weight and running statistic after 3 steps */
    int compared = 0;
    for (int i = 0; i < c.file.count; i++) {
        const char *t = c.file.tensors[i].name;
        if (strncmp(t, "after.", 6) != 0) continue;
        int pi = cn_param_find(g, t + 6);
        CHECK(pi >= 0, "train/%s: no parameter %s", name, t + 6);
        if (pi < 0) continue;
        cn_param p = cn_param_get(g, pi);
        golden_compare(&c, t, p.value->data, cn_tensor_numel(p.value), 1e-5);
        compared++;
    }
    CHECK(compared == 7, "train/%s: 7 tensors compared after 3 steps, got %d", name, compared);
    free(ref_loss);
    cn_optimizer_free(opt);
    cn_graph_free(g);
    golden_close(&c);
}

int main(void) {
    const char *cases[] = {"sgd", "sgd_momentum_wd", "sgd_nesterov", "adam", "adamw"};
    for (int i = 0; i < 5; i++) run_case(cases[i]);
    return cn_test_finish();
}
