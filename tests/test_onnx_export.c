/* ONNX export (cn_onnx_save): zoo models and small graphs with every exportable op, randomised weights and
 * batch-norm statistics, written as ONNX and read back by our importer give the same outputs (within 1e-6
 * relative to the largest logit) and the same parameter names; loss nodes and label inputs are left out;
 * a loss asked for as an output is a clear error. ONNX Runtime's side is tests/cli/onnx_export.sh, which runs this
 * test with CN_ONNX_EXPORT_KEEP=DIR to keep each model with its input and our output (.npy). */
#include "cn_test.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[80]; /* fits cn_train_state.model (CN_NAME_MAX) */

/* Batch-norm statistics and affine parameters away from their defaults, so the export of each is tested. */
static void randomise_stats(cn_graph *g, uint64_t seed) {
    cn_rng r;
    cn_rng_seed(&r, seed, 7);
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param p = cn_param_get(g, i);
        const char *dot = strrchr(p.name, '.');
        if (!dot) continue;
        bool var = !strcmp(dot, ".running_var"), mean = !strcmp(dot, ".running_mean");
        if (!var && !mean && strstr(p.name, "bn") == NULL && strstr(p.name, "downsample.1") == NULL) continue;
        if (strstr(p.name, "num_batches")) continue;
        for (int64_t k = 0; k < cn_tensor_numel(p.value); k++) {
            double u = cn_rng_u32(&r) / 4294967296.0;
            p.value->data[k] = (cn_real)(var ? 0.5 + u : mean ? 0.4 * (u - 0.5) : !strcmp(dot, ".weight") ? 0.5 + u : 0.2 * (u - 0.5));
        }
    }
}

/* Export g (outputs: out), import it at the same input shape, compare the outputs on one random input. */
static void round_trip_opset(cn_graph *g, int x, int out, const char *what, int64_t opset) {
    cn_shape xs = cn_node_shape(g, x), ys = cn_node_shape(g, out);
    int64_t nx = cn_shape_numel(&xs), ny = cn_shape_numel(&ys);
    cn_real *in = malloc(sizeof(cn_real) * (size_t)nx), *ref = malloc(sizeof(cn_real) * (size_t)ny);
    cn_rng r;
    cn_rng_seed(&r, 42, 1);
    for (int64_t i = 0; i < nx; i++) in[i] = (cn_real)(cn_rng_u32(&r) / 2147483648.0 - 1.0);
    CHECK_OK(cn_graph_mark_output(g, out));
    CHECK_OK(cn_set_input(g, x, in, nx));
    CHECK_OK(cn_forward(g, CN_EVAL));
    memcpy(ref, cn_node_output(g, out), sizeof(cn_real) * (size_t)ny);
    cn_status st = cn_onnx_save(g, path, &out, 1);
    CHECK(st == CN_OK, "%s: export failed: %s", what, cn_last_error());
    cn_onnx_info info;
    cn_graph *h = st ? NULL : cn_onnx_load(path, &xs, 1, &info);
    CHECK(st || h, "%s: import of the export failed: %s", what, cn_last_error());
    if (h) {
        CHECK(info.n_inputs == 1 && info.n_outputs == 1 && info.opset == opset, "%s: %d inputs, %d outputs, opset %lld",
              what, info.n_inputs, info.n_outputs, (long long)info.opset);
        CHECK(strcmp(info.input_name[0], cn_node_name(g, x)) == 0 && strcmp(info.output_name[0], cn_node_name(g, out)) == 0,
              "%s: names %s -> %s", what, info.input_name[0], info.output_name[0]);
        cn_shape hs = cn_node_shape(h, info.output[0]);
        CHECK(cn_shape_equal(&hs, &ys), "%s: output shape changed", what);
        /* every trainable parameter is there under its name (buffers: BN statistics, as ONNX inputs), but those
         * of group norm, exported as InstanceNormalization and a per-channel Mul / Add of them */
        for (int i = 0; i < cn_param_count(g); i++) {
            cn_param p = cn_param_get(g, i);
            char owner[CN_NAME_MAX];
            snprintf(owner, sizeof owner, "%s", p.name);
            if (strrchr(owner, '.')) *strrchr(owner, '.') = 0;
            int on = cn_graph_find(g, owner);
            if (!p.trainable || (on >= 0 && !strcmp(cn_node_op(g, on), "GroupNormalization"))) continue;
            int k = cn_param_find(h, p.name);
            CHECK(k >= 0, "%s: parameter %s is missing after the round trip", what, p.name);
            if (k >= 0) CHECK(cn_tensor_numel(cn_param_get(h, k).value) == cn_tensor_numel(p.value), "%s: %s size", what, p.name);
        }
        CHECK_OK(cn_set_input(h, info.input[0], in, nx));
        CHECK_OK(cn_forward(h, CN_EVAL));
        double e = cn_rel_error_to_max(cn_node_output(h, info.output[0]), ref, ny);
        CHECK(e <= 1e-6, "%s: exported and re-imported outputs differ by %g", what, e);
        printf("  %s: round trip max error %.3g (relative to the largest output)\n", what, e);
        cn_graph_free(h);
    }
    /* For tests/cli/onnx_export.sh: keep the model, its input and our output for ONNX Runtime. */
    const char *keep = getenv("CN_ONNX_EXPORT_KEEP");
    if (keep && !st) {
        char base[200], file[300];
        snprintf(base, sizeof base, "%s/%s", keep, what);
        for (char *q = base + strlen(keep) + 1; *q; q++)
            if (*q == ' ' || *q == '/') *q = '_';
        snprintf(file, sizeof file, "%s.onnx", base);
        rename(path, file);
        cn_tensor t = {.shape = xs, .data = in};
        snprintf(file, sizeof file, "%s.input.npy", base);
        CHECK_OK(cn_tensor_save_file(file, &t, NULL));
        t.shape = ys, t.data = ref;
        snprintf(file, sizeof file, "%s.output.npy", base);
        CHECK_OK(cn_tensor_save_file(file, &t, NULL));
    }
    remove(path);
    free(in);
    free(ref);
}

static void round_trip(cn_graph *g, int x, int out, const char *what) { round_trip_opset(g, x, out, what, 13); }

static void zoo(const char *name, int64_t c, int64_t hw, int classes) {
    cn_graph *g = cn_graph_create();
    cn_graph_set_seed(g, 3);
    int x = cn_input(g, "input", cn_shape4(2, c, hw, hw));
    int out = cn_model_build(g, name, x, classes);
    CHECK(out >= 0, "%s: %s", name, cn_last_error());
    if (out >= 0) {
        randomise_stats(g, 11);
        round_trip(g, x, out, name);
    }
    cn_graph_free(g);
}

/* A small VGG-bn (the zoo's VGGs carry a 25088x4096 layer: too big for a unit test) with the other ops. */
static void small_graphs(void) {
    cn_graph *g = cn_graph_create();
    cn_graph_set_seed(g, 5);
    int x = cn_input(g, "input", cn_shape4(2, 3, 13, 11));
    int labels = cn_input(g, "labels", cn_shape_make(1, (int64_t[]){2}));
    int h = cn_conv2d(g, "features.0", x, 8, 3, 1, 1);
    h = cn_batchnorm(g, "features.1", h, 1e-5f, 0.1f);
    h = cn_relu(g, "features.2", h);
    cn_conv_attr ca = cn_conv_attr_make(8, 3, 2, 1);
    ca.pad_mode = CN_PAD_REFLECT, ca.dilation[0] = 2, ca.groups = 2;
    h = cn_conv(g, "features.3", h, &ca);
    ca = cn_conv_attr_make(8, 3, 1, 1);
    ca.pad_mode = CN_PAD_REPLICATE, ca.bias = 0;
    h = cn_conv(g, "features.4", h, &ca);
    h = cn_batchnorm(g, "features.5", h, 1e-3f, 0.3f);
    h = cn_activation(g, "leaky", h, CN_ACT_LEAKY_RELU, 0.2f);
    cn_pool_attr pa = cn_pool_attr_make(CN_POOL_MAX, 3, 2, 1);
    pa.ceil_mode = 1;
    int p1 = cn_pool(g, "pool1", h, &pa);
    pa = cn_pool_attr_make(CN_POOL_AVG, 3, 2, 1);
    pa.ceil_mode = 1, pa.count_include_pad = 0;
    int p2 = cn_pool(g, "pool2", h, &pa);
    h = cn_concat(g, "cat", (int[]){p1, p2}, 2);
    h = cn_lrn(g, "lrn", h, 5, 1e-3f, 0.75f, 2.0f);
    int e1 = cn_activation(g, "elu", h, CN_ACT_ELU, 0.7f);
    int e2 = cn_activation(g, "gelu", h, CN_ACT_GELU, 0);
    int e3 = cn_activation(g, "gelu_tanh", h, CN_ACT_GELU_TANH, 0);
    h = cn_add(g, "add", e1, e2);
    h = cn_binary(g, "mul", CN_OP_MUL, h, e3);
    h = cn_prelu(g, "prelu", h, 16, 0.25f);
    h = cn_instancenorm(g, "inorm", h, 1e-5f, 1);
    h = cn_activation(g, "sigmoid", h, CN_ACT_SIGMOID, 0);
    h = cn_adaptive_avgpool(g, "avgpool", h, (int[]){1, 1});
    h = cn_adaptive_avgpool(g, "grow", h, (int[]){3, 3});
    h = cn_dropout(g, "drop", h, 0.5f);
    h = cn_linear(g, "classifier", h, 7, 1); /* a 4-D input: Flatten then Gemm */
    h = cn_activation(g, "tanh", h, CN_ACT_TANH, 0);
    h = cn_clip(g, "clip", h, -0.5f, 0.5f);
    h = cn_log_softmax(g, "logsm", h, 1);
    int loss = cn_cross_entropy(g, "loss", h, labels, 0);
    CHECK(loss >= 0, "small graph: %s", cn_last_error());
    if (loss >= 0) {
        randomise_stats(g, 9);
        round_trip(g, x, h, "small VGG-bn and other ops");
        /* default outputs: the node the loss reads; the labels are left out */
        CHECK_OK(cn_onnx_save(g, path, NULL, 0));
        cn_onnx_info info;
        cn_shape xs = cn_node_shape(g, x);
        cn_graph *r = cn_onnx_load(path, &xs, 1, &info);
        CHECK(r && info.n_inputs == 1 && info.n_outputs == 1 && !strcmp(info.output_name[0], "logsm"),
              "default outputs: the logits only, no label input (%s)", r ? "" : cn_last_error());
        cn_graph_free(r);
        remove(path);
        CHECK_ERROR(cn_onnx_save(g, path, &loss, 1) != CN_OK, "is a loss");
    }
    cn_graph_free(g);

    /* tensor ops */
    g = cn_graph_create();
    x = cn_input(g, "input", cn_shape4(2, 3, 4, 5));
    h = cn_transpose(g, "t", x, (int[]){0, 2, 3, 1});
    h = cn_reshape(g, "r", h, 3, (int64_t[]){0, -1, 3});
    int k = cn_constant(g, "k", cn_shape_make(2, (int64_t[]){3, 6}), NULL, 1);
    cn_tensor *kv = cn_param_get(g, cn_param_find(g, "k.value")).value;
    for (int i = 0; i < 18; i++) kv->data[i] = (cn_real)(0.1 * i - 0.8);
    h = cn_matmul(g, "mm", h, k);
    h = cn_erf(g, "erf", h);
    int b = cn_constant(g, "b", cn_shape_make(1, (int64_t[]){6}), (const cn_real[]){1, 2, 3, -1, -2, 0.5}, 0);
    h = cn_binary(g, "sub", CN_OP_SUB, h, b);
    h = cn_reduce_mean(g, "mean", h, (int[]){1}, 1, 1);
    h = cn_binary(g, "div", CN_OP_DIV, h, b);
    h = cn_pad(g, "pad", h, (int64_t[]){0, 1, 2, 0, 0, 1}, CN_PAD_ZEROS, 0.5f);
    h = cn_softmax(g, "sm", h, -1);
    CHECK(h >= 0, "tensor graph: %s", cn_last_error());
    if (h >= 0) round_trip(g, x, h, "tensor ops");
    cn_graph_free(g);

    /* layer norm: opset 17 */
    g = cn_graph_create();
    cn_graph_set_seed(g, 6);
    x = cn_input(g, "input", cn_shape4(2, 3, 5, 4));
    h = cn_layernorm(g, "ln1", x, 2, 1e-5f, 1);
    h = cn_layernorm(g, "ln2", h, 3, 1e-3f, 0);
    h = cn_linear(g, "head", h, 4, 1);
    CHECK(h >= 0, "layer norm graph: %s", cn_last_error());
    if (h >= 0) {
        cn_param p = cn_param_get(g, cn_param_find(g, "ln1.weight"));
        for (int64_t i = 0; i < cn_tensor_numel(p.value); i++) p.value->data[i] = (cn_real)(0.5 + 0.05 * (double)i);
        round_trip_opset(g, x, h, "layer norm", 17);
    }
    cn_graph_free(g);

    /* errors */
    g = cn_graph_create();
    x = cn_input(g, "input", cn_shape4(1, 2, 6, 6));
    CHECK_ERROR(cn_onnx_save(g, path, (int[]){99}, 1) != CN_OK, "output node 99 does not exist");
    CHECK_ERROR(cn_onnx_save(g, "/nonexistent-dir/x.onnx", &x, 1) != CN_OK, "cannot create a file next to");
    CHECK(access(path, F_OK) != 0, "a failed export leaves no file");
    cn_graph_free(g);
}


/* Every op and attribute the exporter has a rewrite for, in 1D, 2D and 3D graphs: circular / reflect /
 * replicate conv padding, dilations, groups, asymmetric pads, ceil_mode, count_include_pad, group norm (the
 * opset-13 decomposition), LRN of odd and even size with either window, PReLU, both GELUs, layer / instance
 * norm, adaptive pooling to sizes that do not divide, (log-)softmax, dropout, concat on axis 1 and others,
 * strided and reversed slices, wrap / rank-5 pads. tests/cli/onnx_export.sh runs the kept models in ONNX
 * Runtime. */
static void every_op(void) {
    /* 1D */
    cn_graph *g = cn_graph_create();
    cn_graph_set_seed(g, 21);
    int x = cn_input(g, "input", cn_shape_make(3, (int64_t[]){2, 4, 19}));
    cn_conv_attr ca = cn_conv_attr_make(6, 3, 1, 2);
    ca.pad_mode = CN_PAD_CIRCULAR, ca.dilation[0] = 2, ca.groups = 2, ca.pad_begin[0] = 2, ca.pad_end[0] = 3;
    int h = cn_conv(g, "conv_circ", x, &ca);
    ca = cn_conv_attr_make(6, 3, 2, 1);
    ca.pad_end[0] = 2, ca.groups = 3;
    h = cn_conv(g, "conv_asym", h, &ca);
    h = cn_groupnorm(g, "gn", h, 3, 1e-4f, 1);
    h = cn_lrn(g, "lrn_even", h, 4, 2e-2f, 0.6f, 1.5f);
    h = cn_lrn_window(g, "lrn_onnx", h, 2, 0, 3e-2f, 0.7f, 1.2f);
    cn_pool_attr pa = cn_pool_attr_make(CN_POOL_MAX, 3, 2, 1);
    pa.ceil_mode = 1, pa.dilation[0] = 2;
    int p1 = cn_pool(g, "maxpool_dil", h, &pa);
    pa = cn_pool_attr_make(CN_POOL_AVG, 3, 2, 1);
    pa.ceil_mode = 1, pa.count_include_pad = 1;
    int p2 = cn_pool(g, "avgpool_cip", h, &pa);
    h = cn_concat_axis(g, "cat_len", (int[]){p1, p2}, 2, -1);
    h = cn_slice(g, "rev", h, (int64_t[]){0, 5, -1}, (int64_t[]){2, -100, INT64_MIN}, (int64_t[]){1, -1, -2});
    h = cn_pad(g, "wrap", h, (int64_t[]){0, 1, 2, 0, 0, 1}, CN_PAD_CIRCULAR, 0);
    h = cn_adaptive_avgpool(g, "adapt4", h, (int[]){4});
    h = cn_prelu(g, "prelu1", h, 1, 0.1f);
    h = cn_linear(g, "head", h, 5, 1);
    h = cn_log_softmax(g, "logsm", h, 1);
    CHECK(h >= 0, "1D graph: %s", cn_last_error());
    if (h >= 0) {
        randomise_stats(g, 4);
        cn_param p = cn_param_get(g, cn_param_find(g, "gn.weight"));
        for (int64_t i = 0; i < cn_tensor_numel(p.value); i++) p.value->data[i] = (cn_real)(0.6 + 0.1 * (double)i);
        p = cn_param_get(g, cn_param_find(g, "gn.bias"));
        for (int64_t i = 0; i < cn_tensor_numel(p.value); i++) p.value->data[i] = (cn_real)(0.05 * (double)i - 0.1);
        round_trip(g, x, h, "every op 1D");
    }
    cn_graph_free(g);

    /* 2D */
    g = cn_graph_create();
    cn_graph_set_seed(g, 22);
    x = cn_input(g, "input", cn_shape4(2, 3, 11, 10));
    ca = cn_conv_attr_make(6, 3, 1, 1);
    ca.pad_mode = CN_PAD_CIRCULAR, ca.pad_begin[1] = 1, ca.pad_end[1] = 0, ca.kernel[1] = 2;
    int c1 = cn_conv(g, "conv_circ", x, &ca);
    ca = cn_conv_attr_make(6, 3, 1, 1);
    ca.pad_mode = CN_PAD_REFLECT;
    int c2 = cn_conv(g, "conv_reflect", x, &ca);
    ca = cn_conv_attr_make(6, 3, 1, 2);
    ca.pad_mode = CN_PAD_REPLICATE, ca.dilation[0] = 2, ca.dilation[1] = 2;
    int c3 = cn_conv(g, "conv_replicate", x, &ca);
    h = cn_add(g, "add", c1, c2);
    h = cn_concat(g, "cat", (int[]){h, c3}, 2);
    h = cn_groupnorm(g, "gn_plain", h, 4, 1e-5f, 0);
    int e1 = cn_activation(g, "gelu", h, CN_ACT_GELU, 0);
    int e2 = cn_activation(g, "gelu_tanh", h, CN_ACT_GELU_TANH, 0);
    h = cn_concat_axis(g, "cat_h", (int[]){e1, e2}, 2, 2);
    h = cn_lrn(g, "lrn", h, 3, 1e-2f, 0.75f, 1.0f);
    h = cn_prelu(g, "prelu", h, 12, 0.2f);
    pa = cn_pool_attr_make(CN_POOL_AVG, 3, 2, 1);
    pa.count_include_pad = 0;
    h = cn_pool(g, "avgpool", h, &pa);
    pa = cn_pool_attr_make(CN_POOL_AVG, 2, 1, 1);
    pa.dilation[0] = 2, pa.dilation[1] = 3, pa.ceil_mode = 1, pa.count_include_pad = 0;
    h = cn_pool(g, "avgpool_dil", h, &pa);
    h = cn_instancenorm(g, "inorm", h, 1e-5f, 0);
    h = cn_pad(g, "edge", h, (int64_t[]){0, 0, 1, 2, 0, 0, 2, 1}, CN_PAD_REPLICATE, 0);
    h = cn_pad(g, "reflect", h, (int64_t[]){0, 0, 2, 1, 0, 0, 0, 1}, CN_PAD_REFLECT, 0);
    h = cn_slice(g, "stride", h, (int64_t[]){0, 0, 1, -1}, (int64_t[]){2, 12, 100, -100}, (int64_t[]){1, 1, 3, -2});
    h = cn_adaptive_avgpool(g, "adapt", h, (int[]){2, 3});
    h = cn_dropout(g, "drop", h, 0.3f);
    h = cn_softmax(g, "sm", h, 1);
    CHECK(h >= 0, "2D graph: %s", cn_last_error());
    if (h >= 0) round_trip(g, x, h, "every op 2D");
    cn_graph_free(g);

    /* 3D, with layer norm (opset 17) */
    g = cn_graph_create();
    cn_graph_set_seed(g, 23);
    x = cn_input(g, "input", cn_shape_make(5, (int64_t[]){1, 2, 5, 6, 7}));
    ca = cn_conv_attr_make(4, 3, 1, 1);
    ca.pad_mode = CN_PAD_CIRCULAR, ca.stride[2] = 2;
    h = cn_conv(g, "conv_circ", x, &ca);
    h = cn_pad(g, "pad5", h, (int64_t[]){0, 0, 1, 0, 2, 0, 0, 0, 1, 0}, CN_PAD_ZEROS, -0.5f);
    pa = cn_pool_attr_make(CN_POOL_MAX, 2, 1, 1);
    pa.ceil_mode = 1;
    h = cn_pool(g, "maxpool3d", h, &pa);
    h = cn_groupnorm(g, "gn", h, 2, 1e-5f, 1);
    h = cn_lrn(g, "lrn_even", h, 2, 1e-1f, 0.5f, 2.0f);
    h = cn_layernorm(g, "ln", h, 2, 1e-5f, 1);
    pa = cn_pool_attr_make(CN_POOL_AVG, 2, 2, 1);
    pa.count_include_pad = 1;
    h = cn_pool(g, "avgpool3d", h, &pa);
    pa = cn_pool_attr_make(CN_POOL_AVG, 2, 2, 1);
    pa.dilation[2] = 2, pa.count_include_pad = 1, pa.ceil_mode = 1;
    h = cn_pool(g, "avgpool3d_dil", h, &pa);
    h = cn_adaptive_avgpool(g, "adapt", h, (int[]){2, 1, 3});
    h = cn_linear(g, "head", h, 3, 0);
    CHECK(h >= 0, "3D graph: %s", cn_last_error());
    if (h >= 0) {
        randomise_stats(g, 5);
        round_trip_opset(g, x, h, "every op 3D", 17);
    }
    cn_graph_free(g);
}

/* cn_model_build on an .onnx path, cn_model_input_size, and a checkpoint naming the .onnx file rebuilt by
 * cn_model_load with the checkpoint's (changed) weights. */
static void onnx_as_model(void) {
    cn_graph *g = cn_graph_create();
    cn_graph_set_seed(g, 8);
    int x = cn_input(g, "input", cn_shape4(3, 1, 28, 28));
    int out = cn_model_build(g, "lenet5", x, 10);
    CHECK_OK(cn_onnx_save(g, path, &out, 1));
    int c = 0, h = 0, w = 0;
    CHECK_OK(cn_model_input_size(path, &c, &h, &w));
    CHECK(c == 1 && h == 28 && w == 28, "input size %dx%dx%d", c, h, w);

    cn_graph *b = cn_graph_create();
    int bx = cn_input(b, "input", cn_shape4(3, 1, 28, 28));
    int bout = cn_model_build(b, path, bx, 10);
    CHECK(bout >= 0 && cn_node_shape(b, bout).dims[1] == 10, "build from .onnx: %s", cn_last_error());
    CHECK(cn_graph_num_trainable(b) == cn_graph_num_trainable(g), "the imported weights are trainable");
    cn_real in[3 * 28 * 28];
    for (int i = 0; i < 3 * 28 * 28; i++) in[i] = (cn_real)((i * 37 % 101) / 101.0);
    CHECK_OK(cn_set_input(g, x, in, 3 * 28 * 28));
    CHECK_OK(cn_forward(g, CN_EVAL));
    if (bout >= 0) {
        CHECK_OK(cn_set_input(b, bx, in, 3 * 28 * 28));
        CHECK_OK(cn_forward(b, CN_EVAL));
        CHECK(cn_rel_error_to_max(cn_node_output(b, bout), cn_node_output(g, out), 30) == 0, "built from .onnx: same logits");
    }
    cn_graph *e = cn_graph_create();
    int ex = cn_input(e, "input", cn_shape4(3, 1, 28, 28));
    CHECK_ERROR(cn_model_build(e, path, ex, 7) < 0, "output 'fc2' has 10 classes, not the 7 asked for");
    cn_graph_free(e);
    e = cn_graph_create();
    ex = cn_input(e, "input", cn_shape4(3, 3, 28, 28));
    CHECK_ERROR(cn_model_build(e, path, ex, 10) < 0, "expects shape ?x1x28x28, given 3x3x28x28");
    cn_graph_free(e);

    /* a checkpoint of the .onnx model with other weights: cn_model_load rebuilds it from the path */
    char ckpt[120];
    snprintf(ckpt, sizeof ckpt, "%s.safetensors", path);
    if (bout >= 0) {
        cn_param p = cn_param_get(b, cn_param_find(b, "fc2.bias"));
        p.value->data[3] += 1;
        char *names[10] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
        cn_train_state st = {.class_names = names, .n_classes = 10, .input_shape = {1, 28, 28}};
        snprintf(st.model, sizeof st.model, "%s", path);
        cn_rng_seed(&st.rng, 1, 0);
        CHECK_OK(cn_checkpoint_save(ckpt, b, NULL, &st));
        CHECK_OK(cn_forward(b, CN_EVAL));
        int lx, ll;
        cn_train_state got = {0};
        cn_graph *l = cn_model_load(ckpt, 3, &lx, &ll, &got);
        CHECK(l != NULL, "cn_model_load of a checkpoint naming an .onnx file: %s", cn_last_error());
        if (l) {
            CHECK(!strcmp(got.model, path), "the checkpoint names %s", got.model);
            CHECK_OK(cn_set_input(l, lx, in, 3 * 28 * 28));
            CHECK_OK(cn_forward(l, CN_EVAL));
            CHECK(cn_rel_error_to_max(cn_node_output(l, ll), cn_node_output(b, bout), 30) == 0, "the checkpoint's weights, not the file's");
            cn_graph_free(l);
        }
        cn_train_state_free(&got);
        remove(ckpt);
    }
    cn_graph_free(b);
    cn_graph_free(g);
    remove(path);
}

int main(void) {
    snprintf(path, sizeof path, "/tmp/cn_test_onnx_export_%d.onnx", (int)getpid());
    onnx_as_model();
    small_graphs();
    every_op();
    zoo("lenet5", 1, 28, 10);
    zoo("resnet20", 3, 32, 10);
    zoo("resnet18-small", 3, 32, 10);
    zoo("googlenet", 3, 32, 10);
    return cn_test_finish();
}
