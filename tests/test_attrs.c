/* test_attrs.c — every op's attributes read back (cn_node_attrs) as they were built, under their ONNX or
 * our names; cn_node_inputs; errors for nodes that do not exist. */
#include "cn_test.h"
#include <math.h>
#include <string.h>

static cn_attr attrs[CN_MAX_ATTRS];
static int n_attrs;

/* Read node's attributes into the globals and check the count. */
static void read_node(const cn_graph *g, int node, int expected_count) {
    CHECK(node >= 0, "building the node failed: %s", cn_last_error());
    n_attrs = node >= 0 ? cn_node_attrs(g, node, attrs, CN_MAX_ATTRS) : 0;
    CHECK(n_attrs == expected_count, "%s (%s): %d attributes, expected %d", node >= 0 ? cn_node_name(g, node) : "?",
          node >= 0 ? cn_node_op(g, node) : "?", n_attrs, expected_count);
}

static void check_int(const char *name, int64_t v) {
    const cn_attr *a = cn_attr_find(attrs, n_attrs, name);
    CHECK(a && a->type == CN_ATTR_INT && a->count == 1 && a->ints[0] == v, "attribute %s: expected int %lld, got %s %lld",
          name, (long long)v, a ? "value" : "nothing", a ? (long long)a->ints[0] : 0LL);
}

static void check_float(const char *name, float v) {
    const cn_attr *a = cn_attr_find(attrs, n_attrs, name);
    CHECK(a && a->type == CN_ATTR_FLOAT && a->f == (double)v, "attribute %s: expected float %g, got %s %g", name,
          (double)v, a ? "value" : "nothing", a ? a->f : 0.0);
}

static void check_string(const char *name, const char *v) {
    const cn_attr *a = cn_attr_find(attrs, n_attrs, name);
    CHECK(a && a->type == CN_ATTR_STRING && a->s && strcmp(a->s, v) == 0, "attribute %s: expected \"%s\", got \"%s\"",
          name, v, a && a->type == CN_ATTR_STRING ? a->s : "(nothing)");
}

static void check_ints(const char *name, const int64_t *v, int count) {
    const cn_attr *a = cn_attr_find(attrs, n_attrs, name);
    bool ok = a && a->type == CN_ATTR_INTS && a->count == count;
    for (int i = 0; ok && i < count; i++) ok = a->ints[i] == v[i];
    char got[128] = "(nothing)";
    if (a) {
        got[0] = 0;
        for (int i = 0; i < a->count && i < CN_ATTR_MAX_INTS; i++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? "," : "", (long long)a->ints[i]);
    }
    CHECK(ok, "attribute %s: expected %d values starting %lld, got [%s]", name, count, (long long)v[0], got);
}

static void test_conv(void) {
    cn_graph *g = cn_graph_create();
    int x2 = cn_input(g, "x2", cn_shape4(1, 6, 17, 19));
    cn_conv_attr a = cn_conv_attr_make(9, 3, 1, 0);
    a.kernel[0] = 3, a.kernel[1] = 5;
    a.stride[0] = 2, a.stride[1] = 1;
    a.dilation[0] = 1, a.dilation[1] = 2;
    a.pad_begin[0] = 1, a.pad_begin[1] = 2, a.pad_end[0] = 0, a.pad_end[1] = 3;
    a.groups = 3, a.bias = 0, a.pad_mode = CN_PAD_REFLECT;
    read_node(g, cn_conv(g, "c2", x2, &a), 8);
    check_int("out_channels", 9);
    check_ints("kernel_shape", (int64_t[]){3, 5}, 2);
    check_ints("strides", (int64_t[]){2, 1}, 2);
    check_ints("dilations", (int64_t[]){1, 2}, 2);
    check_ints("pads", (int64_t[]){1, 2, 0, 3}, 4);
    check_int("group", 3);
    check_int("has_bias", 0);
    check_string("pad_mode", "reflect");

    int x1 = cn_input(g, "x1", cn_shape_make(3, (int64_t[]){2, 4, 13}));
    a = cn_conv_attr_make(4, 3, 2, 1);
    a.pad_mode = CN_PAD_CIRCULAR;
    read_node(g, cn_conv(g, "c1", x1, &a), 8);
    check_ints("kernel_shape", (int64_t[]){3}, 1);
    check_ints("strides", (int64_t[]){2}, 1);
    check_ints("pads", (int64_t[]){1, 1}, 2);
    check_int("group", 1);
    check_int("has_bias", 1);
    check_string("pad_mode", "circular");

    int x3 = cn_input(g, "x3", cn_shape_make(5, (int64_t[]){1, 2, 5, 6, 7}));
    a = cn_conv_attr_make(2, 2, 1, 1);
    a.kernel[2] = 3, a.pad_end[0] = 0, a.pad_mode = CN_PAD_REPLICATE;
    read_node(g, cn_conv(g, "c3", x3, &a), 8);
    check_ints("kernel_shape", (int64_t[]){2, 2, 3}, 3);
    check_ints("pads", (int64_t[]){1, 1, 1, 0, 1, 1}, 6);
    check_string("pad_mode", "replicate");
    read_node(g, cn_conv2d(g, "c4", x2, 20, 5, 1, 2), 8);
    check_ints("kernel_shape", (int64_t[]){5, 5}, 2);
    check_ints("pads", (int64_t[]){2, 2, 2, 2}, 4);
    check_string("pad_mode", "zeros");
    cn_graph_free(g);
}

static void test_pool(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 3, 11, 13));
    cn_pool_attr p = cn_pool_attr_make(CN_POOL_MAX, 3, 2, 1);
    p.kernel[1] = 4, p.stride[1] = 0, p.pad[1] = 2, p.dilation[0] = 2, p.ceil_mode = 1;
    read_node(g, cn_pool(g, "mp", x, &p), 5);
    check_ints("kernel_shape", (int64_t[]){3, 4}, 2);
    check_ints("strides", (int64_t[]){2, 4}, 2);  /* stride 0 reads back as the kernel */
    check_ints("pads", (int64_t[]){1, 2, 1, 2}, 4);
    check_ints("dilations", (int64_t[]){2, 1}, 2);
    check_int("ceil_mode", 1);
    CHECK(!cn_attr_find(attrs, n_attrs, "count_include_pad"), "max pooling has no count_include_pad");

    p = cn_pool_attr_make(CN_POOL_AVG, 3, 1, 1);
    p.count_include_pad = 0;
    read_node(g, cn_pool(g, "ap", x, &p), 5);
    check_ints("kernel_shape", (int64_t[]){3, 3}, 2);
    check_ints("strides", (int64_t[]){1, 1}, 2);
    check_int("ceil_mode", 0);
    check_int("count_include_pad", 0);
    CHECK(!cn_attr_find(attrs, n_attrs, "dilations"), "average pooling has no dilations");

    read_node(g, cn_maxpool2d(g, "mp2", x, 2, 2), 5);
    check_ints("kernel_shape", (int64_t[]){2, 2}, 2);
    check_ints("pads", (int64_t[]){0, 0, 0, 0}, 4);
    read_node(g, cn_global_pool(g, "gap", x, CN_POOL_AVG), 0);
    read_node(g, cn_global_pool(g, "gmp", x, CN_POOL_MAX), 0);
    read_node(g, cn_adaptive_avgpool(g, "aap", x, (int[]){6, 5}), 1);
    check_ints("output_size", (int64_t[]){6, 5}, 2);
    int x1 = cn_input(g, "x1", cn_shape_make(3, (int64_t[]){1, 2, 9}));
    read_node(g, cn_adaptive_avgpool(g, "aap1", x1, (int[]){4}), 1);
    check_ints("output_size", (int64_t[]){4}, 1);
    cn_graph_free(g);
}

static void test_activations(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 3, 4, 5));
    read_node(g, cn_relu(g, "relu", x), 0);
    read_node(g, cn_activation(g, "leaky", x, CN_ACT_LEAKY_RELU, 0.2f), 1);
    check_float("alpha", 0.2f);
    read_node(g, cn_activation(g, "elu", x, CN_ACT_ELU, 1.5f), 1);
    check_float("alpha", 1.5f);
    read_node(g, cn_activation(g, "sig", x, CN_ACT_SIGMOID, 0), 0);
    read_node(g, cn_activation(g, "tanh", x, CN_ACT_TANH, 0), 0);
    read_node(g, cn_activation(g, "gelu", x, CN_ACT_GELU, 0), 1);
    check_string("gelu", "exact");
    read_node(g, cn_activation(g, "gelu_t", x, CN_ACT_GELU_TANH, 0), 1);
    check_string("gelu", "tanh");
    read_node(g, cn_prelu(g, "prelu", x, 3, 0.3f), 2);
    check_int("num_parameters", 3);
    check_float("init", 0.3f);
    read_node(g, cn_softmax(g, "sm", x, 1), 1);
    check_int("axis", 1);
    read_node(g, cn_log_softmax(g, "lsm", x, -1), 1);
    check_int("axis", -1);
    read_node(g, cn_dropout(g, "drop", x, 0.3f), 1);
    check_float("ratio", 0.3f);
    cn_graph_free(g);
}

static void test_norms(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 6, 4, 5));
    read_node(g, cn_batchnorm(g, "bn", x, 1e-3f, 0.2f), 2);
    check_float("epsilon", 1e-3f);
    check_float("momentum", 0.2f);
    read_node(g, cn_layernorm(g, "ln", x, 2, 1e-6f, 0), 3);
    check_int("normalized_ndim", 2);
    check_float("epsilon", 1e-6f);
    check_int("affine", 0);
    read_node(g, cn_instancenorm(g, "in", x, 2e-5f, 1), 2);
    check_float("epsilon", 2e-5f);
    check_int("affine", 1);
    read_node(g, cn_groupnorm(g, "gn", x, 3, 1e-5f, 1), 3);
    check_int("num_groups", 3);
    check_float("epsilon", 1e-5f);
    check_int("affine", 1);
    read_node(g, cn_lrn(g, "lrn", x, 5, 1e-4f, 0.75f, 2.0f), 4);
    check_int("size", 5);
    check_float("alpha", 1e-4f);
    check_float("beta", 0.75f);
    check_float("bias", 2.0f);
    cn_graph_free(g);
}

static void test_linear_struct_losses(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(4, 2, 3, 3));
    int y = cn_input(g, "labels", cn_shape_make(1, (int64_t[]){4}));
    read_node(g, y, 0); /* an input has no attributes: its shape is cn_node_shape */
    int f = cn_flatten(g, "flat", x);
    read_node(g, f, 1);
    check_int("axis", 1);
    int fc = cn_linear(g, "fc", f, 7, 1);
    read_node(g, fc, 2);
    check_int("out_features", 7);
    check_int("has_bias", 1);
    read_node(g, cn_linear(g, "fc_nb", x, 7, 0), 2);
    check_int("has_bias", 0);
    read_node(g, cn_add(g, "add", x, x), 0);
    read_node(g, cn_concat(g, "cat", (int[]){x, x, x}, 3), 1);
    check_int("axis", 1);
    read_node(g, cn_cross_entropy(g, "xent", fc, y, 0.1f), 1);
    check_float("label_smoothing", 0.1f);
    read_node(g, cn_hinge_loss(g, "hinge", fc, y, 2.0f), 1);
    check_float("margin", 2.0f);
    read_node(g, cn_mse_loss(g, "mse", fc, fc), 0);

    int ids[4] = {-7, -7, -7, -7};
    int cat = cn_graph_find(g, "cat"), xent = cn_graph_find(g, "xent");
    CHECK(cn_node_inputs(g, cat, ids, 4) == 3 && ids[0] == x && ids[1] == x && ids[2] == x, "concat inputs");
    CHECK(cn_node_inputs(g, xent, ids, 1) == 2 && ids[0] == fc && ids[1] == x, "inputs truncated to max");
    CHECK(cn_node_inputs(g, x, NULL, 0) == 0, "an input has no inputs");
    CHECK(cn_node_attrs(g, fc, NULL, 0) == 2, "count without room");
    CHECK_ERROR(cn_node_attrs(g, 999, attrs, CN_MAX_ATTRS) == -1, "node 999 does not exist");
    CHECK_ERROR(cn_node_inputs(g, -1, ids, 4) == -1, "node -1 does not exist");
    CHECK(cn_attr_find(attrs, 0, "axis") == NULL, "find in nothing");
    cn_graph_free(g);
}

static void test_tensor_ops(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 3, 4, 5));
    read_node(g, cn_constant(g, "k", cn_shape_make(2, (int64_t[]){3, 4}), NULL, 1), 1);
    check_int("trainable", 1);
    read_node(g, cn_reshape(g, "r", x, 3, (int64_t[]){0, -1, 5}), 1);
    check_ints("shape", (int64_t[]){0, -1, 5}, 3);
    read_node(g, cn_transpose(g, "t", x, (int[]){0, 2, 3, 1}), 1);
    check_ints("perm", (int64_t[]){0, 2, 3, 1}, 4);
    read_node(g, cn_transpose(g, "t_rev", x, NULL), 1);
    check_ints("perm", (int64_t[]){3, 2, 1, 0}, 4);
    read_node(g, cn_binary(g, "sub", CN_OP_SUB, x, x), 0);
    read_node(g, cn_clip(g, "clip", x, -1.5f, 6.0f), 2);
    check_float("min", -1.5f);
    check_float("max", 6.0f);
    read_node(g, cn_pad(g, "pad", x, (int64_t[]){0, 0, 1, 2, 0, 0, 3, 4}, CN_PAD_REPLICATE, 0.5f), 3);
    check_ints("pads", (int64_t[]){0, 0, 1, 2, 0, 0, 3, 4}, 8);
    check_string("mode", "edge");
    check_float("value", 0.5f);
    read_node(g, cn_reduce_mean(g, "mean", x, (int[]){-1, 2}, 2, 0), 2);
    check_ints("axes", (int64_t[]){2, 3}, 2);
    check_int("keepdims", 0);
    cn_graph_free(g);
}

int main(void) {
    test_tensor_ops();
    test_conv();
    test_pool();
    test_activations();
    test_norms();
    test_linear_struct_losses();
    return cn_test_finish();
}
