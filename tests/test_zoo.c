/* The zoo's small models and the model-file format (fast; the big ImageNet models are in test_zoo_big.c):
 * LeNet-5's 1,256,080 parameters; lenet5 / resnet20 / resnet56 / resnet18-small build on 1x28x28 and
 * 3x32x32 and run an eval forward; models that cannot take 28x28 say so; the shipped model files
 * (models/lenet5.txt, resnet18.txt, googlenet.txt) build the zoo's graphs: same node names, parameter names,
 * seeded values and bit-identical eval outputs; every feature of the format (def with defaults, block,
 * repeat, from=, add/concat, classes, comments); and every parse error with its file:line:col message. */
#include "cn_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The source tree: CN_GOLDEN_DIR is <src>/tests/golden/data. */
static void source_path(char *out, size_t size, const char *rel) {
    const char *golden = CN_GOLDEN_DIR;
    size_t len = strlen(golden) - strlen("/tests/golden/data");
    snprintf(out, size, "%.*s/%s", (int)len, golden, rel);
}

static char tmp_dir[256];

/* Write text to <tmp>/<name> and return the path (static buffer, one at a time). */
static const char *write_model(const char *name, const char *text) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot write %s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

/* Build `model` on an N x C x H x W input: the logits node or -1; *gp gets the graph. */
static int build(cn_graph **gp, const char *model, int n, int c, int h, int w, int classes, uint64_t seed) {
    cn_graph *g = cn_graph_create();
    cn_graph_set_seed(g, seed);
    int x = cn_input(g, "x", cn_shape4(n, c, h, w));
    *gp = g;
    return cn_model_build(g, model, x, classes);
}

static void lenet5_count(void) {
    cn_graph *g;
    int y = build(&g, "lenet5", 1, 1, 28, 28, 10, 0);
    CHECK(y >= 0, "lenet5: %s", cn_last_error());
    CHECK(cn_graph_num_trainable(g) == 1256080, "lenet5 has %lld parameters, expected 1,256,080",
          (long long)cn_graph_num_trainable(g));
    cn_shape s = cn_node_shape(g, cn_graph_find(g, "pool2"));
    CHECK(s.dims[1] == 50 && s.dims[2] == 7 && s.dims[3] == 7, "pool2 is 50x7x7");
    cn_graph_free(g);
}

/* Build on 1x28x28 and 3x32x32 (batch 1), run an eval forward: logits (1, classes), finite. */
static void small_models_run(void) {
    const char *models[] = {"lenet5", "resnet20", "resnet56", "resnet18-small"};
    const int sizes[2][2] = {{1, 28}, {3, 32}};
    for (size_t m = 0; m < sizeof models / sizeof models[0]; m++)
        for (int s = 0; s < 2; s++) {
            int c = sizes[s][0], hw = sizes[s][1];
            cn_graph *g;
            int y = build(&g, models[m], 1, c, hw, hw, 10, 3);
            CHECK(y >= 0, "%s on %dx%dx%d: %s", models[m], c, hw, hw, cn_last_error());
            if (y < 0) {
                cn_graph_free(g);
                continue;
            }
            cn_shape out = cn_node_shape(g, y);
            CHECK(out.ndim == 2 && out.dims[0] == 1 && out.dims[1] == 10, "%s: logits shape", models[m]);
            int64_t n = (int64_t)c * hw * hw;
            cn_real *data = malloc(sizeof(cn_real) * (size_t)n);
            cn_rng r;
            cn_rng_seed(&r, 5, 0);
            cn_rng_fill_normal(&r, data, n, 0, 1);
            CHECK_OK(cn_set_input(g, 0, data, n));
            CHECK_OK(cn_forward(g, CN_EVAL));
            const cn_real *o = cn_node_output(g, y);
            int finite = o != NULL;
            for (int i = 0; finite && i < 10; i++) finite = isfinite(o[i]);
            CHECK(finite, "%s on %dx%dx%d: eval output is finite", models[m], c, hw, hw);
            free(data);
            cn_graph_free(g);
        }
}

static void small_model_counts(void) {
    /* CIFAR ResNets with option-B shortcuts: the paper's 0.27M / 0.85M plus 2,752 for two projections;
     * resnet18-small is the well-known 11,173,962 of the CIFAR ResNet-18. */
    const struct {
        const char *name;
        int64_t params;
    } cases[] = {{"resnet20", 272474}, {"resnet56", 855770}, {"resnet18-small", 11173962}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cn_graph *g;
        int y = build(&g, cases[i].name, 1, 3, 32, 32, 10, 0);
        CHECK(y >= 0 && cn_graph_num_trainable(g) == cases[i].params, "%s: %lld parameters, expected %lld",
              cases[i].name, (long long)cn_graph_num_trainable(g), (long long)cases[i].params);
        cn_graph_free(g);
    }
    /* option B: projections only where the shape changes */
    cn_graph *g;
    build(&g, "resnet20", 1, 3, 32, 32, 10, 0);
    CHECK(cn_param_find(g, "layer2.0.downsample.0.weight") >= 0 &&
              cn_param_find(g, "layer3.0.downsample.1.running_var") >= 0 &&
              cn_param_find(g, "layer1.0.downsample.0.weight") < 0 &&
              cn_param_find(g, "layer2.1.downsample.0.weight") < 0,
          "resnet20: 1x1 projections in layer2.0 and layer3.0 only");
    cn_shape s = cn_node_shape(g, cn_graph_find(g, "layer3.2.relu2"));
    CHECK(s.dims[1] == 64 && s.dims[2] == 8 && s.dims[3] == 8, "resnet20: last stage 64x8x8 on 32x32");
    cn_graph_free(g);
}

/* Models whose pooling cannot shrink a 28x28 input that far fail with one clear line (AlexNet's and VGG's
 * families share their builders, so one of each family is enough); bad inputs, class counts and names. */
static void too_small_inputs(void) {
    const char *models[] = {"alexnet", "alexnet-lrn", "vgg11"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        cn_graph *g;
        char needle[128];
        snprintf(needle, sizeof needle, "model %s cannot take input 1x28x28", models[i]);
        CHECK_ERROR(build(&g, models[i], 1, 1, 28, 28, 10, 0), needle);
        CHECK(strstr(cn_last_error(), "larger than the padded input") != NULL, "%s: says why: %s", models[i],
              cn_last_error());
        cn_graph_free(g);
    }
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){4, 784}));
    CHECK_ERROR(cn_model_build(g, "lenet5", x, 10), "model lenet5: the input must be N x C x H x W, x is 4x784");
    x = cn_input(g, "y", cn_shape4(1, 1, 28, 28));
    CHECK_ERROR(cn_model_build(g, "lenet5", x, 0), "0 classes");
    CHECK_ERROR(cn_model_build(g, "lenet6", x, 10), "unknown model 'lenet6' (not a file; the zoo has: lenet5, alexnet");
    CHECK_ERROR(cn_model_build(g, "no/such/model.txt", x, 10), "model file no/such/model.txt: cannot open");
    cn_graph_free(g);
}

static void zoo_listing(void) {
    const char *expected[] = {"lenet5",       "alexnet",   "alexnet-lrn", "vgg11",     "vgg11-bn",   "vgg11-lrn",
                              "vgg11-lrn-bn", "vgg13",     "vgg13-bn",    "vgg16-c",   "vgg16-c-bn", "vgg16",
                              "vgg16-bn",     "vgg19",     "vgg19-bn",    "googlenet", "resnet18",   "resnet34",
                              "resnet50",     "resnet101", "resnet152",   "resnet20",  "resnet56",   "resnet18-small"};
    int n = (int)(sizeof expected / sizeof expected[0]);
    CHECK(cn_model_count() == n, "the zoo has %d models, expected %d", cn_model_count(), n);
    for (int i = 0; i < n && i < cn_model_count(); i++)
        CHECK(strcmp(cn_model_name(i), expected[i]) == 0 && cn_model_description(i)[0], "zoo entry %d is %s", i,
              cn_model_name(i));
    CHECK(cn_model_name(n) == NULL && cn_model_name(-1) == NULL, "past the end");
    int c, h, w;
    CHECK(cn_model_input_size("lenet5", &c, &h, &w) == CN_OK && c == 1 && h == 28 && w == 28, "lenet5 1x28x28");
    CHECK(cn_model_input_size("alexnet-lrn", &c, &h, &w) == CN_OK && c == 3 && h == 227, "alexnet-lrn 3x227x227");
    char path[512];
    source_path(path, sizeof path, "models/googlenet.txt");
    CHECK(cn_model_input_size(path, &c, &h, &w) == CN_OK && c == 3 && h == 224 && w == 224,
          "googlenet.txt 3x224x224: %s", cn_last_error());
    CHECK_ERROR(cn_model_input_size("nope", &c, &h, &w), "unknown model 'nope'");
    CHECK_ERROR(cn_model_input_size(write_model("noinput.txt", "relu\n"), &c, &h, &w), "no 'input CxHxW' line");
}

/* The zoo model and its model file, same seed: same nodes (names, ops, shapes), same parameters (names,
 * values bit for bit), and an eval forward gives bit-identical logits. */
static void file_equals_zoo(const char *model, int c, int hw, int classes) {
    char path[512], rel[128];
    snprintf(rel, sizeof rel, "models/%s.txt", model);
    source_path(path, sizeof path, rel);
    cn_graph *a, *b;
    int ya = build(&a, model, 2, c, hw, hw, classes, 42);
    CHECK(ya >= 0, "zoo %s: %s", model, cn_last_error());
    int yb = build(&b, path, 2, c, hw, hw, classes, 42);
    CHECK(yb >= 0, "%s: %s", path, cn_last_error());
    if (ya < 0 || yb < 0) goto out;
    CHECK(cn_graph_node_count(a) == cn_graph_node_count(b), "%s: %d nodes in the zoo, %d from the file", model,
          cn_graph_node_count(a), cn_graph_node_count(b));
    int same_nodes = 1;
    for (int i = 0; same_nodes && i < cn_graph_node_count(a) && i < cn_graph_node_count(b); i++) {
        cn_shape sa = cn_node_shape(a, i), sb = cn_node_shape(b, i);
        same_nodes = strcmp(cn_node_name(a, i), cn_node_name(b, i)) == 0 &&
                     strcmp(cn_node_op(a, i), cn_node_op(b, i)) == 0 && cn_shape_equal(&sa, &sb);
        CHECK(same_nodes, "%s: node %d is %s (%s) in the zoo, %s (%s) from the file", model, i, cn_node_name(a, i),
              cn_node_op(a, i), cn_node_name(b, i), cn_node_op(b, i));
    }
    CHECK(cn_param_count(a) == cn_param_count(b), "%s: parameter counts", model);
    int same_params = 1;
    for (int i = 0; same_params && i < cn_param_count(a) && i < cn_param_count(b); i++) {
        cn_param p = cn_param_get(a, i), q = cn_param_get(b, i);
        same_params = strcmp(p.name, q.name) == 0 && cn_shape_equal(&p.value->shape, &q.value->shape) &&
                      memcmp(p.value->data, q.value->data, sizeof(cn_real) * (size_t)cn_tensor_numel(p.value)) == 0;
        CHECK(same_params, "%s: parameter %d is %s in the zoo, %s from the file (or its values differ)", model, i,
              p.name, q.name);
    }
    int64_t n = 2 * c * hw * hw;
    cn_real *data = malloc(sizeof(cn_real) * (size_t)n);
    cn_rng r;
    cn_rng_seed(&r, 9, 0);
    cn_rng_fill_normal(&r, data, n, 0, 1);
    CHECK_OK(cn_set_input(a, 0, data, n));
    CHECK_OK(cn_set_input(b, 0, data, n));
    CHECK_OK(cn_forward(a, CN_EVAL));
    CHECK_OK(cn_forward(b, CN_EVAL));
    const cn_real *oa = cn_node_output(a, ya), *ob = cn_node_output(b, yb);
    CHECK(oa && ob && memcmp(oa, ob, sizeof(cn_real) * 2 * (size_t)classes) == 0, "%s: eval outputs bit-identical",
          model);
    free(data);
out:
    cn_graph_free(a);
    cn_graph_free(b);
}

/* Every statement of the format in one small network. */
static void format_features(void) {
    const char *text = "# a tour of the format\n"
                       "input 3x16x16   # informational\n"
                       "\n"
                       "def unit out k=3 s=1 p=1  # conv-bn-relu\n"
                       "  conv $out k$k s$s p$p nobias name=conv\n"
                       "  bn eps=0.001 momentum=0.2 name=bn\n"
                       "  relu name=relu\n"
                       "end\n"
                       "conv 8 k3 p1 name=stem\n"
                       "repeat 2 start=1\n"
                       "  unit 8 name=stage.$i\n"
                       "end\n"
                       "block branches from=stem\n"
                       "  unit 4 k=1 p=0 name=a\n"
                       "  unit 2 name=b from=$in\n"
                       "  avgpool k3 s1 p1 exclude_pad from=$in\n"
                       "  conv 2 k1 name=proj\n"
                       "  concat a b proj name=cat\n"
                       "end\n"
                       "add stage.2 stem branches name=sum3   # a sum of three\n"
                       "leakyrelu 0.2\n"
                       "maxpool k2 ceil\n"
                       "conv 6 k1x3 p0 g2 name=grouped\n"
                       "unit 6 s=2\n"
                       "unit 6\n"
                       "global_avgpool\n"
                       "flatten\n"
                       "dropout\n"
                       "fc classes name=head\n";
    cn_graph *g;
    int y = build(&g, write_model("tour.txt", text), 2, 3, 16, 16, 7, 1);
    CHECK(y >= 0, "tour: %s", cn_last_error());
    if (y < 0) {
        cn_graph_free(g);
        return;
    }
    const struct {
        const char *node;
        int c, h, w;
    } expect[] = {{"stem", 8, 16, 16},
                  {"stage.1.conv", 8, 16, 16},
                  {"stage.2.relu", 8, 16, 16},
                  {"branches.a.conv", 4, 16, 16},
                  {"branches.b.relu", 2, 16, 16},
                  {"branches.avgpool1", 8, 16, 16},
                  {"branches.proj", 2, 16, 16},
                  {"branches.cat", 8, 16, 16},
                  {"sum3.1", 8, 16, 16},
                  {"sum3", 8, 16, 16},
                  {"grouped", 6, 8, 6},
                  {"unit1.conv", 6, 4, 3},
                  {"unit2.relu", 6, 4, 3}};
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        int id = cn_graph_find(g, expect[i].node);
        cn_shape s = cn_node_shape(g, id);
        CHECK(id >= 0 && s.ndim == 4 && s.dims[1] == expect[i].c && s.dims[2] == expect[i].h &&
                  s.dims[3] == expect[i].w,
              "tour: node %s is %dx%dx%d", expect[i].node, expect[i].c, expect[i].h, expect[i].w);
    }
    /* the inputs: from= and $in pick the branch inputs, add reads three nodes */
    CHECK(strcmp(cn_node_op(g, cn_graph_find(g, "branches.avgpool1")), "AveragePool") == 0, "avgpool op");
    cn_shape out = cn_node_shape(g, y);
    CHECK(strcmp(cn_node_name(g, y), "head") == 0 && out.dims[0] == 2 && out.dims[1] == 7, "fc classes: 7 logits");
    int w = cn_param_find(g, "grouped.weight");
    CHECK(w >= 0 && cn_param_get(g, w).value->shape.dims[1] == 4 && cn_param_get(g, w).value->shape.dims[3] == 3,
          "grouped conv weight 6x4x1x3");
    CHECK(cn_param_find(g, "unit1.conv.bias") < 0 && cn_param_find(g, "stem.bias") >= 0, "nobias");
    CHECK(cn_param_find(g, "stage.2.bn.running_var") >= 0, "bn in a def inside a repeat");
    int64_t n = 2 * 3 * 16 * 16;
    cn_real *data = calloc((size_t)n, sizeof(cn_real));
    CHECK_OK(cn_set_input(g, 0, data, n));
    CHECK_OK(cn_forward(g, CN_TRAIN));
    free(data);
    cn_graph_free(g);
}

/* One bad file: the build fails with exactly "<path>:<line>:<col>: <message>" (message: a prefix). */
static void expect_error(const char *text, int line, int col, const char *message) {
    const char *path = write_model("bad.txt", text);
    char expected[1024];
    snprintf(expected, sizeof expected, "%s:%d:%d: %s", path, line, col, message);
    cn_graph *g;
    int y = build(&g, path, 1, 3, 8, 8, 10, 0);
    CHECK(y < 0 && strncmp(cn_last_error(), expected, strlen(expected)) == 0, "expected \"%s\"\n     got \"%s\"",
          expected, y < 0 ? cn_last_error() : "(no error)");
    cn_graph_free(g);
}

static void parse_errors(void) {
    expect_error("input 3x8x8\n\nconv 20 q5 p2 s1\n", 3, 9,
                 "unknown option 'q5' for conv (expected kN, sN, pN, dN, gN, nobias)");
    expect_error("conv 8 k3\nrelu inplace\n", 2, 6,
                 "unknown option 'inplace' for relu (expected only name= and from=)");
    expect_error("maxpool k2 stride=2\n", 1, 12,
                 "unknown option 'stride=2' for maxpool (expected kN, sN, pN, dN, ceil)");
    expect_error("bn eps=0.001 mom=0.1\n", 1, 14, "unknown option 'mom=0.1' for bn (expected eps=X, momentum=X)");
    expect_error("conv 8 k3\nconvolution 8 k3\n", 2, 1, "unknown layer 'convolution' (expected conv, fc, linear,");
    expect_error("  conv 8 p1\n", 1, 3, "conv needs a kernel size (e.g. conv 8 k3)");
    expect_error("conv 8 9 k3\n", 1, 8, "conv takes at most 1 argument, '9' is one too many");
    expect_error("conv k3\n", 1, 1, "conv needs 1 argument");
    expect_error("conv 0 k3\n", 1, 6, "conv: '0' is not a positive count (or 'classes')");
    expect_error("conv 8 k3 k5\n", 1, 11, "option kN given twice for conv");
    expect_error("conv 8 kx\n", 1, 8, "unknown option 'kx' for conv");
    expect_error("conv 8 k3x3x3\n", 1, 8, "'k3x3x3' gives 3 sizes for an input with 2 spatial axes");
    expect_error("conv 8 k3 s0\n", 1, 11, "'s0': s must be at least 1");
    expect_error("conv 8 k3 name=a\nconv 8 k3 name=a\n", 2, 1, "conv: a: a node of this name already exists");
    expect_error("conv 8 k3\nmaxpool k9\n", 2, 1, "maxpool: ");
    expect_error("dropout 1.5\n", 1, 9, "dropout: '1.5' is not a number in [0, 1]");
    expect_error("bn eps=x\n", 1, 4, "bn: 'eps=x' is not a number");
    expect_error("conv 8 k3\nadd foo\n", 2, 5, "no node or block named 'foo'");
    expect_error("conv 8 k3 from=nowhere\n", 1, 11, "no node or block named 'nowhere'");
    expect_error("conv $c k3\n", 1, 6, "unknown variable '$c'");
    expect_error("repeat 2\nrelu\n", 1, 1, "'repeat' has no matching 'end'");
    expect_error("relu\nend\n", 2, 1, "'end' without a def, block or repeat to close");
    expect_error("block a\n def f\n end\nend\n", 2, 1, "def inside another block");
    expect_error("def f x\nrelu\nend\ndef f y\nrelu\nend\n", 4, 5, "def 'f' is defined twice (first at line 1)");
    expect_error("def conv x\nend\n", 1, 5, "'conv' cannot name a def");
    expect_error("def f x=1 y\nend\n", 1, 11, "parameter 'y' without a default after one with a default");
    expect_error("def f x\n conv $x k3\nend\nf\n", 4, 1, "f needs a value for 'x' (def at line 1)");
    expect_error("def f x\n conv $x k3\nend\nf 1 2\n", 4, 5, "f takes 1 argument, '2' is one too many");
    expect_error("def f x\n conv $x k3\nend\nf 4 z=3\n", 4, 5, "f has no parameter 'z'");
    expect_error("def f x\n  conv $x k3 q1\nend\nf 4\n", 2, 14,
                 "unknown option 'q1' for conv (expected kN, sN, pN, dN, gN, nobias) (in def 'f' called at line 4)");
    expect_error("def f\n  f\nend\nf\n", 2, 1, "blocks and def calls nested deeper than 16");
    expect_error("repeat x\nend\n", 1, 8, "repeat: 'x' is not a count");
    expect_error("repeat 2 step=1\nend\n", 1, 10, "unknown option 'step=1' for repeat (expected start=N)");
    expect_error("input 3xx8\n", 1, 7, "input size '3xx8' is not CxHxW");
    expect_error("relu\ninput 3x8x8\ninput 3x8x8\n", 3, 1, "a second input line");
    expect_error("# only a comment\n\n", 1, 1, "the model has no layers");
    expect_error("block a\n conv 8 k3\nend\nblock a\n relu\nend\n", 4, 7, "'a' is already the name of a node or block");
    expect_error("adaptive_avgpool 7x\n", 1, 18, "adaptive_avgpool: '7x' is not an output size");
    expect_error("fc 10\nconcat fc1 $in\n", 2, 1, "concat: ");
    char long_name[200];
    snprintf(long_name, sizeof long_name, "block b\n relu name=%0100d\nend\n", 7);
    expect_error(long_name, 2, 7, "name 'b.0000");
    CHECK(strstr(cn_last_error(), "is longer than 95 characters") != NULL, "long name: %s", cn_last_error());
}

int main(void) {
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/cn_test_zoo_XXXXXX");
    if (!mkdtemp(tmp_dir)) {
        fprintf(stderr, "cannot make a temporary directory\n");
        return 1;
    }
    lenet5_count();
    small_model_counts();
    small_models_run();
    too_small_inputs();
    zoo_listing();
    file_equals_zoo("lenet5", 1, 28, 10);
    file_equals_zoo("resnet18", 3, 32, 10);
    file_equals_zoo("googlenet", 3, 32, 10);
    format_features();
    parse_errors();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
    return cn_test_finish();
}
