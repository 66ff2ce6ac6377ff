/* ONNX import: the committed PyTorch-exported models (tests/onnx/models) against PyTorch's outputs, the
 * tensor files, folding of shape subgraphs with a new batch size, function inlining, fine-tuning an
 * imported model, and every kind of broken model giving a clear error without a crash. */
#include "cn_test.h"
#include "onnx.pb-c.h"
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifndef CN_ONNX_MODELS
#define CN_ONNX_MODELS CN_GOLDEN_DIR "/../../onnx/models"
#endif

static int load_file(const char *path, uint8_t **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *data = malloc((size_t)n + 1);
    *size = fread(*data, 1, (size_t)n, f);
    fclose(f);
    return 0;
}

/* Every committed model: load with its input's shape, forward, compare with PyTorch. */
static void committed_models(void) {
    DIR *d = opendir(CN_ONNX_MODELS);
    CHECK(d != NULL, "no directory %s", CN_ONNX_MODELS);
    if (!d) return;
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".onnx") != 0) continue;
        char model[1024], in[1100], out[1100], stem[512];
        snprintf(stem, sizeof stem, "%.*s", (int)(l - 5), e->d_name);
        snprintf(model, sizeof model, "%s/%s", CN_ONNX_MODELS, e->d_name);
        const char *ext = ".pb";
        snprintf(in, sizeof in, "%s/%s/input_0.npy", CN_ONNX_MODELS, stem);
        FILE *probe = fopen(in, "rb");
        if (probe) fclose(probe), ext = ".npy";
        snprintf(in, sizeof in, "%s/%s/input_0%s", CN_ONNX_MODELS, stem, ext);
        snprintf(out, sizeof out, "%s/%s/output_0%s", CN_ONNX_MODELS, stem, ext);
        cn_tensor x, ref;
        CHECK_OK(cn_tensor_load_file(in, &x, NULL, 0));
        CHECK_OK(cn_tensor_load_file(out, &ref, NULL, 0));
        cn_onnx_info info;
        cn_graph *g = cn_onnx_load(model, &x.shape, 1, &info);
        CHECK(g != NULL, "%s: %s", stem, cn_last_error());
        if (g) {
            CHECK(info.n_inputs == 1 && info.n_outputs == 1, "%s: one input and one output", stem);
            CHECK(info.opset >= 9 && info.opset <= 21, "%s: opset %lld", stem, (long long)info.opset);
            CHECK_OK(cn_set_input(g, info.input[0], x.data, cn_tensor_numel(&x)));
            CHECK_OK(cn_forward(g, CN_EVAL));
            cn_shape s = cn_node_shape(g, info.output[0]);
            CHECK(cn_shape_numel(&s) == cn_tensor_numel(&ref), "%s: output size", stem);
            if (cn_shape_numel(&s) == cn_tensor_numel(&ref)) {
                double err = cn_rel_error_to_max(cn_node_output(g, info.output[0]), ref.data, cn_tensor_numel(&ref));
                CHECK(err <= 1e-4, "%s: error %.3g relative to the largest logit", stem, err);
            }
            cn_graph_free(g);
        }
        cn_tensor_free(&x);
        cn_tensor_free(&ref);
        count++;
    }
    closedir(d);
    CHECK(count >= 10, "expected at least 10 committed models, found %d", count);
}

/* LeNet-5 exported with a symbolic batch: its Shape/Gather/Unsqueeze/Concat/Reshape chain folds for any
 * batch; the weights are named as in PyTorch and trainable. */
static void lenet_batch_and_training(void) {
    const char *path = CN_ONNX_MODELS "/lenet5_op13.onnx";
    cn_shape decl[4];
    int n = 0;
    CHECK_OK(cn_onnx_input_shapes(path, decl, 4, &n));
    CHECK(n == 1 && decl[0].ndim == 4 && decl[0].dims[0] == 0 && decl[0].dims[1] == 1, "declared shape ?x1x28x28");
    CHECK(cn_onnx_load(path, NULL, 0, NULL) == NULL && strstr(cn_last_error(), "input 'x' has the symbolic shape ?x1x28x28: give its size"),
          "a symbolic batch needs a shape: %s", cn_last_error());
    cn_shape bad = cn_shape4(3, 1, 28, 27);
    CHECK(cn_onnx_load(path, &bad, 1, NULL) == NULL && strstr(cn_last_error(), "input 'x' expects shape ?x1x28x28, given 3x1x28x27"),
          "wrong input shape named: %s", cn_last_error());
    cn_shape s = cn_shape4(3, 1, 28, 28);
    cn_onnx_info info;
    cn_graph *g = cn_onnx_load(path, &s, 1, &info);
    CHECK(g != NULL, "batch 3: %s", cn_last_error());
    if (!g) return;
    cn_shape os = cn_node_shape(g, info.output[0]);
    CHECK(os.ndim == 2 && os.dims[0] == 3 && os.dims[1] == 10, "output 3x10");
    CHECK(cn_param_find(g, "conv1.weight") >= 0 && cn_param_find(g, "fc3.bias") >= 0, "PyTorch parameter names");
    CHECK(cn_graph_num_trainable(g) == 61706, "LeNet-5's 61706 trainable parameters, got %lld", (long long)cn_graph_num_trainable(g));
    /* one training step moves the loss */
    int labels = cn_input(g, "labels", cn_shape_make(1, (int64_t[]){3}));
    int loss = cn_cross_entropy(g, "loss", info.output[0], labels, 0);
    CHECK(loss >= 0, "loss on the imported model: %s", cn_last_error());
    cn_test_fill_input(g, info.input[0], 5, -1, 1);
    CHECK_OK(cn_set_input(g, labels, (cn_real[]){1, 4, 7}, 3));
    cn_optimizer_config oc = cn_sgd_config(0.05, 0, 0, 0);
    cn_optimizer *opt = cn_optimizer_create(g, &oc);
    double first = 0, last = 0;
    for (int step = 0; step < 5; step++) {
        cn_zero_grad(g);
        CHECK_OK(cn_forward(g, CN_TRAIN));
        last = cn_node_output(g, loss)[0];
        if (step == 0) first = last;
        CHECK_OK(cn_backward(g, loss, NULL));
        CHECK_OK(cn_optimizer_step(opt));
    }
    CHECK(last < first, "fine-tuning lowers the loss: %g -> %g", first, last);
    cn_optimizer_free(opt);
    cn_graph_free(g);
}

/* ---- hand-made models */
typedef struct {
    Onnx__ModelProto m;
    Onnx__GraphProto g;
    Onnx__OperatorSetIdProto opset, *opsets[1];
    Onnx__NodeProto nodes[4], *node_ptrs[4];
    Onnx__ValueInfoProto in, out, *ins[1], *outs[1];
    Onnx__TypeProto tin, tout;
    Onnx__TypeProto__Tensor ttin, ttout;
    Onnx__TensorShapeProto sin, sout;
    Onnx__TensorShapeProto__Dimension din[2], *dins[2];
    Onnx__TensorProto init, *inits[1];
    float init_data[16];
    int64_t init_dims[2];
    char *node_in[4][3], *node_out[4][1];
    Onnx__AttributeProto attr, *attrs[1];
    Onnx__FunctionProto fn, *fns[1];
    Onnx__NodeProto fn_node, *fn_nodes[1];
    char *fn_in[1], *fn_out[1], *fn_node_in[1], *fn_node_out[1];
    Onnx__OperatorSetIdProto fn_opset, *fn_opsets[1];
} tiny;

/* x (1x4) -> node ops[0] ... with the given inputs; output named by the last node. */
static void tiny_init(tiny *t, int64_t opset) {
    memset(t, 0, sizeof *t);
    onnx__model_proto__init(&t->m);
    onnx__graph_proto__init(&t->g);
    onnx__operator_set_id_proto__init(&t->opset);
    t->opset.domain = "";
    t->opset.has_version = 1;
    t->opset.version = opset;
    t->opsets[0] = &t->opset;
    t->m.has_ir_version = 1;
    t->m.ir_version = 8;
    t->m.n_opset_import = 1;
    t->m.opset_import = t->opsets;
    t->m.graph = &t->g;
    t->g.name = "tiny";
    onnx__value_info_proto__init(&t->in);
    onnx__type_proto__init(&t->tin);
    onnx__type_proto__tensor__init(&t->ttin);
    onnx__tensor_shape_proto__init(&t->sin);
    for (int k = 0; k < 2; k++) {
        onnx__tensor_shape_proto__dimension__init(&t->din[k]);
        t->din[k].value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
        t->din[k].dim_value = k ? 4 : 1;
        t->dins[k] = &t->din[k];
    }
    t->sin.n_dim = 2;
    t->sin.dim = t->dins;
    t->ttin.has_elem_type = 1;
    t->ttin.elem_type = 1;
    t->ttin.shape = &t->sin;
    t->tin.value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    t->tin.tensor_type = &t->ttin;
    t->in.name = "x";
    t->in.type = &t->tin;
    t->ins[0] = &t->in;
    t->g.n_input = 1;
    t->g.input = t->ins;
    onnx__value_info_proto__init(&t->out);
    t->out.name = "y";
    t->outs[0] = &t->out;
    t->g.n_output = 1;
    t->g.output = t->outs;
}

static void tiny_node(tiny *t, int k, const char *op, const char *name, const char *in0, const char *in1, const char *out) {
    Onnx__NodeProto *n = &t->nodes[k];
    onnx__node_proto__init(n);
    n->op_type = (char *)op;
    n->name = (char *)name;
    t->node_in[k][0] = (char *)in0;
    t->node_in[k][1] = (char *)in1;
    n->n_input = in1 ? 2 : 1;
    n->input = t->node_in[k];
    t->node_out[k][0] = (char *)out;
    n->n_output = 1;
    n->output = t->node_out[k];
    t->node_ptrs[k] = n;
    if ((int)t->g.n_node < k + 1) t->g.n_node = (size_t)k + 1;
    t->g.node = t->node_ptrs;
}

static cn_graph *tiny_load(tiny *t, cn_onnx_info *info) {
    size_t len = onnx__model_proto__get_packed_size(&t->m);
    uint8_t *buf = malloc(len);
    onnx__model_proto__pack(&t->m, buf);
    cn_graph *g = cn_onnx_load_buffer(buf, len, NULL, 0, info);
    free(buf);
    return g;
}

static void broken_models(void) {
    tiny t;
    cn_onnx_info info;
    /* a good one first: Gemm with an initializer W (3x4), y = x W^T */
    tiny_init(&t, 13);
    onnx__tensor_proto__init(&t.init);
    t.init.name = "W";
    t.init_dims[0] = 3;
    t.init_dims[1] = 4;
    t.init.n_dims = 2;
    t.init.dims = t.init_dims;
    t.init.has_data_type = 1;
    t.init.data_type = 1;
    for (int i = 0; i < 12; i++) t.init_data[i] = (float)(i + 1) / 4;
    t.init.n_float_data = 12;
    t.init.float_data = t.init_data;
    t.inits[0] = &t.init;
    t.g.n_initializer = 1;
    t.g.initializer = t.inits;
    tiny_node(&t, 0, "Gemm", "fc", "x", "W", "y");
    onnx__attribute_proto__init(&t.attr);
    t.attr.name = "transB";
    t.attr.has_type = 1;
    t.attr.type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    t.attr.has_i = 1;
    t.attr.i = 1;
    t.attrs[0] = &t.attr;
    t.nodes[0].n_attribute = 1;
    t.nodes[0].attribute = t.attrs;
    cn_graph *g = tiny_load(&t, &info);
    CHECK(g != NULL, "tiny Gemm model loads: %s", cn_last_error());
    if (g) {
        CHECK_OK(cn_set_input(g, info.input[0], (cn_real[]){1, 0, 0, 2}, 4));
        CHECK_OK(cn_forward(g, CN_EVAL));
        const cn_real *y = cn_node_output(g, info.output[0]);
        CHECK(fabs(y[0] - (0.25 + 2 * 1.0)) < 1e-6 && fabs(y[2] - (2.25 + 2 * 3.0)) < 1e-6, "Gemm transB: %g %g", (double)y[0], (double)y[2]);
        cn_graph_free(g);
    }
    /* data shorter than the shape */
    t.init.n_float_data = 11;
    CHECK_ERROR(tiny_load(&t, NULL) == NULL, "initializer 'W': shape 3x4 (float) needs 12 values, the data holds 11");
    t.init.n_float_data = 12;
    /* raw data one byte short */
    t.init.n_float_data = 0;
    t.init.has_raw_data = 1;
    t.init.raw_data.data = (uint8_t *)t.init_data;
    t.init.raw_data.len = 47;
    CHECK_ERROR(tiny_load(&t, NULL) == NULL, "initializer 'W': shape 3x4 (float) needs 12 values, the data holds 11 (raw bytes)");
    t.init.has_raw_data = 0;
    t.init.n_float_data = 12;
    /* an unsupported op */
    tiny_node(&t, 0, "Frobnicate", "frob1", "x", NULL, "y");
    t.nodes[0].n_attribute = 0;
    CHECK_ERROR(tiny_load(&t, NULL) == NULL, "unsupported ONNX op 'Frobnicate' (node 'frob1', opset 13)");
    /* a dangling input */
    tiny_node(&t, 0, "Relu", "r1", "nowhere", NULL, "y");
    CHECK_ERROR(tiny_load(&t, NULL) == NULL, "node 'r1' (Relu): input 'nowhere' is not a graph input, an initializer or the output of any node");
    /* a cycle: a = relu(b), b = relu(a), y = relu(b) */
    tiny_node(&t, 0, "Relu", "ra", "b", NULL, "a");
    tiny_node(&t, 1, "Relu", "rb", "a", NULL, "b");
    tiny_node(&t, 2, "Relu", "ry", "b", NULL, "y");
    CHECK_ERROR(tiny_load(&t, NULL) == NULL, "the graph has a cycle through this node");
    /* nodes out of order are fine: y = relu(a), a = sigmoid(x) */
    t.g.n_node = 2;
    tiny_node(&t, 0, "Relu", "ry", "a", NULL, "y");
    tiny_node(&t, 1, "Sigmoid", "sa", "x", NULL, "a");
    g = tiny_load(&t, &info);
    CHECK(g != NULL, "nodes out of order load: %s", cn_last_error());
    cn_graph_free(g);
    /* an output nobody makes */
    t.out.name = "zz";
    CHECK_ERROR(tiny_load(&t, NULL) == NULL, "graph output 'zz' is not produced by any node");
    t.out.name = "y";
    /* an unsupported opset */
    t.opset.version = 6;
    CHECK_ERROR(tiny_load(&t, NULL) == NULL, "opset 6 is not supported (7 to 21)");
    t.opset.version = 22;
    CHECK_ERROR(tiny_load(&t, NULL) == NULL, "opset 22 is not supported (7 to 21)");
    t.opset.version = 20;
    /* Gelu (an op since opset 20), through a model-local function "Act" that wraps it */
    t.g.n_node = 1;
    tiny_node(&t, 0, "Act", "act1", "x", NULL, "y");
    t.nodes[0].domain = "local";
    onnx__function_proto__init(&t.fn);
    t.fn.name = "Act";
    t.fn.domain = "local";
    t.fn_in[0] = "X";
    t.fn_out[0] = "Y";
    t.fn.n_input = 1;
    t.fn.input = t.fn_in;
    t.fn.n_output = 1;
    t.fn.output = t.fn_out;
    onnx__node_proto__init(&t.fn_node);
    t.fn_node.op_type = "Gelu";
    t.fn_node_in[0] = "X";
    t.fn_node_out[0] = "Y";
    t.fn_node.n_input = 1;
    t.fn_node.input = t.fn_node_in;
    t.fn_node.n_output = 1;
    t.fn_node.output = t.fn_node_out;
    t.fn_nodes[0] = &t.fn_node;
    t.fn.n_node = 1;
    t.fn.node = t.fn_nodes;
    t.fns[0] = &t.fn;
    t.m.n_functions = 1;
    t.m.functions = t.fns;
    g = tiny_load(&t, &info);
    CHECK(g != NULL, "a local function is inlined: %s", cn_last_error());
    if (g) {
        CHECK_OK(cn_set_input(g, info.input[0], (cn_real[]){-1, 0, 0.5, 2}, 4));
        CHECK_OK(cn_forward(g, CN_EVAL));
        const cn_real *y = cn_node_output(g, info.output[0]);
        double want = 2 * 0.5 * (1 + erf(2 / sqrt(2.0)));
        CHECK(fabs(y[3] - want) < 1e-5 && fabs(y[0] - (-1 * 0.5 * (1 + erf(-1 / sqrt(2.0))))) < 1e-5, "Gelu via the function: %g", (double)y[3]);
        CHECK(strcmp(cn_node_op(g, info.output[0]), "Gelu") == 0, "the function's node is a Gelu");
        cn_graph_free(g);
    }
    /* a function without a definition */
    t.m.n_functions = 0;
    CHECK_ERROR(tiny_load(&t, NULL) == NULL, "unsupported ONNX op 'Act' of domain 'local' (node 'act1', opset 20)");
    /* a non-float input */
    t.ttin.elem_type = 7;
    CHECK_ERROR(tiny_load(&t, NULL) == NULL, "input 'x' has element type int64; only float inputs are supported");
}

/* Truncated files, wrong magic, random byte flips: an error, never a crash. */
static void corrupt_files(void) {
    uint8_t *data = NULL;
    size_t size = 0;
    CHECK(load_file(CN_ONNX_MODELS "/blocks_op13.onnx", &data, &size) == 0, "read blocks_op13.onnx");
    if (!data) return;
    int rejected = 0, tries = 0;
    for (int k = 1; k < 32; k++) {
        size_t cut = size * (size_t)k / 32;
        cn_graph *g = cn_onnx_load_buffer(data, cut, NULL, 0, NULL);
        tries++;
        if (!g) rejected++;
        else cn_graph_free(g);
    }
    CHECK(rejected == tries, "every truncated copy is rejected (%d of %d)", rejected, tries);
    CHECK_ERROR(cn_onnx_load_buffer(data, size / 2, NULL, 0, NULL) == NULL, "model: not an ONNX model (truncated or corrupt protobuf)");
    const char *png = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    CHECK_ERROR(cn_onnx_load_buffer(png, 16, NULL, 0, NULL) == NULL, "not an ONNX model");
    const char *text = "hello, this is not a model at all\n";
    CHECK_ERROR(cn_onnx_load_buffer(text, strlen(text), NULL, 0, NULL) == NULL, "not an ONNX model");
    CHECK_ERROR(cn_onnx_load_buffer(text, 0, NULL, 0, NULL) == NULL, "empty file, not an ONNX model");
    CHECK_ERROR(cn_onnx_load("/nonexistent/model.onnx", NULL, 0, NULL) == NULL, "/nonexistent/model.onnx: No such file");
    /* flip bytes at seeded random places (a tiny fuzz run): whatever happens, no crash */
    cn_rng r;
    cn_rng_seed(&r, 7, 1);
    uint8_t *copy = malloc(size);
    int loaded = 0;
    for (int k = 0; k < 300; k++) {
        memcpy(copy, data, size);
        for (int f = 0; f < 4; f++) copy[cn_rng_below(&r, (uint32_t)size)] ^= (uint8_t)(1 + cn_rng_below(&r, 255));
        cn_shape s = cn_shape4(2, 3, 15, 15);
        cn_graph *g = cn_onnx_load_buffer(copy, size, &s, 1, NULL);
        if (g) {
            loaded++;
            cn_forward(g, CN_EVAL);
            cn_graph_free(g);
        }
    }
    CHECK(1, "fuzzed %d loads", loaded);
    free(copy);
    free(data);
}

/* .npy and .pb round trips, and their errors. */
static void tensor_files(void) {
    cn_tensor t, back;
    CHECK_OK(cn_tensor_alloc(&t, cn_shape_make(3, (int64_t[]){2, 3, 5})));
    for (int i = 0; i < 30; i++) t.data[i] = (cn_real)(i * 0.37 - 4);
    const char *paths[2] = {"test_onnx_tmp.npy", "test_onnx_tmp.pb"};
    for (int k = 0; k < 2; k++) {
        char name[64];
        CHECK_OK(cn_tensor_save_file(paths[k], &t, "logits"));
        CHECK_OK(cn_tensor_load_file(paths[k], &back, name, sizeof name));
        CHECK(cn_shape_equal(&back.shape, &t.shape) && memcmp(back.data, t.data, 30 * sizeof(cn_real)) == 0, "%s round trip", paths[k]);
        if (k == 1) CHECK(strcmp(name, "logits") == 0, "TensorProto name kept: %s", name);
        cn_tensor_free(&back);
        /* truncated */
        uint8_t *data = NULL;
        size_t size = 0;
        load_file(paths[k], &data, &size);
        FILE *f = fopen(paths[k], "wb");
        fwrite(data, 1, size - 5, f);
        fclose(f);
        free(data);
        CHECK(cn_tensor_load_file(paths[k], &back, NULL, 0) != CN_OK, "%s truncated is rejected", paths[k]);
        CHECK(strstr(cn_last_error(), paths[k]) != NULL, "the error names the file: %s", cn_last_error());
        remove(paths[k]);
    }
    FILE *f = fopen("test_onnx_tmp.npy", "wb");
    fputs("not numpy", f);
    fclose(f);
    CHECK_ERROR(cn_tensor_load_file("test_onnx_tmp.npy", &back, NULL, 0), "test_onnx_tmp.npy: not a .npy file (bad magic)");
    remove("test_onnx_tmp.npy");
    cn_tensor_free(&t);
}


/* tests/onnx/errors: each NAME.onnx must fail to load with an error containing NAME.txt's line (and not
 * crash): runtime conv weights, external data leaving the model's directory / too short / missing / with a
 * bad offset, and untrusted integers (steps, indices, axes, sizes, pads, perms, groups) that would overflow. */
static void error_models(void) {
    DIR *d = opendir(CN_ONNX_MODELS "/../errors");
    CHECK(d != NULL, "no directory %s", CN_ONNX_MODELS "/../errors");
    if (!d) return;
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".onnx") != 0) continue;
        char model[1024], txt[1024], expect[256] = "";
        snprintf(model, sizeof model, "%s/../errors/%s", CN_ONNX_MODELS, e->d_name);
        snprintf(txt, sizeof txt, "%s/../errors/%.*s.txt", CN_ONNX_MODELS, (int)(l - 5), e->d_name);
        FILE *f = fopen(txt, "r");
        CHECK(f != NULL, "%s: no expected message", txt);
        if (!f) continue;
        if (fgets(expect, sizeof expect, f) && strchr(expect, '\n')) *strchr(expect, '\n') = 0;
        fclose(f);
        cn_onnx_info info;
        cn_graph *g = cn_onnx_load(model, NULL, 0, &info);
        CHECK(g == NULL, "%s loaded", e->d_name);
        CHECK(g || strstr(cn_last_error(), expect), "%s: '%s' does not say '%s'", e->d_name, cn_last_error(), expect);
        cn_graph_free(g);
        count++;
    }
    closedir(d);
    CHECK(count >= 15, "expected at least 15 error models, found %d", count);
    /* external data of a model in memory */
    uint8_t *data;
    size_t size;
    CHECK(load_file(CN_ONNX_MODELS "/conv_external_op13.onnx", &data, &size) == 0, "conv_external_op13.onnx");
    CHECK_ERROR(cn_onnx_load_buffer(data, size, NULL, 0, NULL) == NULL, "external data needs the model's file");
    free(data);
}

/* cn_slice (what a strided ONNX Slice becomes): a step of 2^62 on an axis it takes one element of (the
 * fuzzer's overflow in the walk), a reversed axis, ONNX's clamping; step 0 and empty results are errors. */
static void slice_op(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){3, 4}));
    int y = cn_slice(g, "s", x, (int64_t[]){1, -1}, (int64_t[]){2, INT64_MIN}, (int64_t[]){(int64_t)1 << 62, -2});
    CHECK(y >= 0, "slice: %s", cn_last_error());
    if (y >= 0) {
        cn_shape s = cn_node_shape(g, y);
        CHECK(s.ndim == 2 && s.dims[0] == 1 && s.dims[1] == 2, "1x2");
        cn_real in[12];
        for (int i = 0; i < 12; i++) in[i] = (cn_real)i;
        CHECK_OK(cn_set_input(g, x, in, 12));
        CHECK_OK(cn_forward(g, CN_EVAL));
        const cn_real *o = cn_node_output(g, y);
        CHECK(o[0] == 7 && o[1] == 5, "row 1, columns 3 and 1: %g %g", (double)o[0], (double)o[1]);
    }
    CHECK_ERROR(cn_slice(g, "z", x, (int64_t[]){0, 0}, (int64_t[]){3, 4}, (int64_t[]){1, 0}) < 0, "z: step 0 on axis 1");
    CHECK_ERROR(cn_slice(g, "e", x, (int64_t[]){2, 0}, (int64_t[]){1, 4}, NULL) < 0, "e: axis 0 of 3x4: 0 elements");
    /* the other ops the importer added: their argument errors */
    int x3 = cn_input(g, "x3", cn_shape_make(3, (int64_t[]){2, 3, 4}));
    CHECK_ERROR(cn_concat_axis(g, "c", (int[]){x, x}, 2, 2) < 0, "c: input 0 3x4 has no axis 2 to concatenate along");
    CHECK_ERROR(cn_concat_axis(g, "c", (int[]){x, x3}, 2, 0) < 0, "c: input 1 2x3x4 does not fit input 0 3x4: all axes but 0");
    CHECK_ERROR(cn_pow(g, "p", x, INFINITY) < 0, "p: the exponent must be finite");
    CHECK_ERROR(cn_lrn_window(g, "l", x3, 4, 4, 1e-4f, 0.75f, 1) < 0, "l: the window of 4 channels cannot start 4 before");
    cn_graph_free(g);
}

int main(void) {
    committed_models();
    error_models();
    slice_op();
    lenet_batch_and_training();
    broken_models();
    corrupt_files();
    tensor_files();
    return cn_test_finish();
}
