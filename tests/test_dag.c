/* A small DAG against PyTorch, end to end: fan-out (x feeds fc1 and fc_skip, fc1 feeds fc2a and fc2b),
 * concat, residual add and cross-entropy with label smoothing. Compares the loss, every parameter's
 * gradient and dL/dx (golden family "dag", tests/golden/gen_dag.py).
 *   x -> fc1 [-> relu] -> {fc2a, fc2b} -> concat -> fc3 -> add(fc3, fc_skip(x)) -> cross_entropy(labels) */
#include "cn_test.h"
#include <stdlib.h>
#include <string.h>

static void run_case(const char *name) {
    golden_case c;
    if (golden_open(&c, "dag", name)) return;
    cn_graph *g = cn_graph_create();
    int x = golden_input(&c, g, 0), labels = golden_input(&c, g, 1);
    int h = cn_linear(g, "fc1", x, golden_attr_int(&c, "hidden", 0), 1);
    if (golden_attr_int(&c, "relu", 0)) h = cn_relu(g, "relu", h);
    int a = cn_linear(g, "fc2a", h, golden_attr_int(&c, "a", 0), 1);
    int b = cn_linear(g, "fc2b", h, golden_attr_int(&c, "b", 0), 1);
    int cat = cn_concat(g, "cat", (int[]){a, b}, 2);
    int classes = golden_attr_int(&c, "classes", 0);
    int z = cn_add(g, "res", cn_linear(g, "fc3", cat, classes, 1), cn_linear(g, "fc_skip", x, classes, 1));
    int loss = cn_cross_entropy(g, "loss", z, labels, (float)golden_attr_num(&c, "label_smoothing", 0));
    CHECK(loss >= 0, "dag/%s builds: %s", name, cn_last_error());
    if (loss >= 0) {
        int64_t n = 0;
        for (int i = 0; i < 2; i++) {
            cn_real *v = golden_tensor(&c, i ? "in.1" : "in.0", &n);
            if (v) CHECK_OK(cn_set_input(g, i ? labels : x, v, n));
            free(v);
        }
        CHECK(golden_load_graph_params(&c, g) == 10, "dag/%s: 10 parameters loaded", name);
        CHECK_OK(cn_forward(g, CN_TRAIN));
        golden_compare(&c, "out", cn_node_output(g, loss), 1, GOLDEN_TOL);
        cn_zero_grad(g);
        CHECK_OK(cn_backward(g, loss, NULL));
        CHECK(golden_compare_graph_grads(&c, g, GOLDEN_TOL) == 10, "dag/%s: 10 parameter gradients compared", name);
        cn_shape xs = cn_node_shape(g, x);
        golden_compare(&c, "grad.in.0", cn_node_grad(g, x), cn_shape_numel(&xs), GOLDEN_TOL);
        /* a second step accumulates parameter gradients: exactly twice the first */
        int fc1w = cn_param_find(g, "fc1.weight");
        cn_param p = cn_param_get(g, fc1w);
        int64_t count = cn_tensor_numel(p.grad);
        cn_real *first = malloc((size_t)count * sizeof(cn_real));
        memcpy(first, p.grad->data, (size_t)count * sizeof(cn_real));
        CHECK_OK(cn_forward(g, CN_TRAIN));
        CHECK_OK(cn_backward(g, loss, NULL));
        int same = 1;
        for (int64_t i = 0; i < count; i++) same &= p.grad->data[i] == 2 * first[i];
        CHECK(same, "dag/%s: parameter gradients accumulate across backward calls", name);
        free(first);
    }
    cn_graph_free(g);
    golden_close(&c);
}

int main(void) {
    run_case("mlp_norelu");
    run_case("mlp_relu");
    return cn_test_finish();
}
