/* Linear and Flatten against PyTorch, and their shape errors. */
#include "cn_test.h"
#include <string.h>

static void golden_cases(void) {
    char names[32][128];
    int count = golden_list("linear", names, 32);
    CHECK(count >= 3, "expected at least 3 linear golden cases, found %d", count);
    for (int i = 0; i < count; i++) {
        golden_case c;
        if (golden_open(&c, "linear", names[i])) continue;
        cn_graph *g = cn_graph_create();
        int x = golden_input(&c, g, 0);
        int y = cn_linear(g, "fc", x, golden_attr_int(&c, "out_features", 1), golden_attr_int(&c, "bias", 1));
        CHECK(y >= 0, "%s: %s", names[i], cn_last_error());
        if (y >= 0) golden_check_node(&c, g, y, &x, 1);
        cn_graph_free(g);
        golden_close(&c);
    }
}

static void flatten_shapes(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(3, 50, 7, 7));
    int f = cn_flatten(g, NULL, x);
    cn_shape s = cn_node_shape(g, f);
    CHECK(s.ndim == 2 && s.dims[0] == 3 && s.dims[1] == 2450, "flatten of 3x50x7x7 is 3x2450");
    CHECK(strcmp(cn_node_name(g, f), "flatten1") == 0, "made-up name is flatten1, got %s", cn_node_name(g, f));
    cn_test_fill_input(g, x, 1, -1, 1);
    CHECK_OK(cn_forward(g, CN_EVAL));
    CHECK(memcmp(cn_node_output(g, f), cn_node_output(g, x), sizeof(cn_real) * 3 * 2450) == 0, "flatten copies");
    cn_graph_free(g);
}

static void shape_errors(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 3, 4, 4));
    CHECK_ERROR(cn_linear(g, "fc", x, 0, 1) < 0, "fc: out_features 0");
    CHECK_ERROR(cn_linear(g, "fc", 99, 10, 1) < 0, "fc: input 0 is node 99, which does not exist");
    int fc = cn_linear(g, "fc", x, 10, 1);
    CHECK(fc >= 0, "fc builds: %s", cn_last_error());
    CHECK_ERROR(cn_linear(g, "fc", x, 10, 1) < 0, "fc: a node of this name already exists");
    CHECK(cn_param_find(g, "fc.weight") >= 0 && cn_param_find(g, "fc.bias") >= 0, "parameters named fc.weight, fc.bias");
    cn_param w = cn_param_get(g, cn_param_find(g, "fc.weight"));
    CHECK(w.value->shape.dims[0] == 10 && w.value->shape.dims[1] == 48, "weight is 10x48");
    CHECK(cn_graph_num_trainable(g) == 10 * 48 + 10, "490 trainable parameters");
    cn_graph_free(g);
}

int main(void) {
    golden_cases();
    flatten_shapes();
    shape_errors();
    return cn_test_finish();
}
