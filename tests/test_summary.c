/* test_summary.c — cn_graph_analyze: the lectures' numbers (output sizes, parameters, multiply-adds,
 * activation bytes), receptive fields and jumps, the compact descriptions, totals and batch scaling. */
#include "cn_test.h"
#include <stdlib.h>
#include <string.h>

static cn_layer_stats layers[64];
static cn_graph_stats totals;

static int analyze(const cn_graph *g) {
    int count = cn_graph_analyze(g, layers, 64, &totals);
    CHECK(count == cn_graph_node_count(g), "analyze returned %d for %d nodes: %s", count, cn_graph_node_count(g),
          cn_last_error());
    return count;
}

static const cn_layer_stats *layer(const cn_graph *g, const char *name) {
    int id = cn_graph_find(g, name);
    CHECK(id >= 0 && id < 64, "no node %s", name);
    return id >= 0 && id < 64 ? &layers[id] : &layers[0];
}

/* "10x32x32": the shape without its batch dimension. */
static const char *chw(const cn_shape *s) {
    static char buf[4][64];
    static int k;
    char *b = buf[k++ % 4];
    cn_shape t = {0};
    t.ndim = s->ndim > 0 ? s->ndim - 1 : 0;
    for (int i = 0; i < t.ndim; i++) t.dims[i] = s->dims[i + 1];
    return cn_shape_str(&t, b, 64);
}

static const char *str(const cn_shape *s) {
    static char buf[4][64];
    static int k;
    return cn_shape_str(s, buf[k++ % 4], 64);
}

/* The lecture's example: 3x32x32, 10 filters 5x5, stride 1, pad 2 -> 10x32x32, 760 params, 768,000 MACs. */
static void test_lecture_conv(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(1, 3, 32, 32));
    cn_conv2d(g, "conv", x, 10, 5, 1, 2);
    analyze(g);
    const cn_layer_stats *c = layer(g, "conv");
    CHECK(!strcmp(chw(&c->output), "10x32x32"), "output %s", chw(&c->output));
    CHECK(!strcmp(str(&c->weight), "10x3x5x5"), "weight %s", str(&c->weight));
    CHECK(c->params == 760, "params %lld", (long long)c->params);
    CHECK(c->macs == 768000, "macs %lld", (long long)c->macs);
    CHECK(c->activation_bytes == 10 * 32 * 32 * (int64_t)sizeof(cn_real), "activation bytes %lld",
          (long long)c->activation_bytes);
    CHECK(!strcmp(c->desc, "conv 10 k5 s1 p2"), "desc '%s'", c->desc);
    CHECK(!strcmp(c->op, "Conv") && !strcmp(c->name, "conv"), "op %s name %s", c->op, c->name);
    CHECK(c->receptive_field == 5 && c->jump == 1, "rf %lld jump %lld", (long long)c->receptive_field,
          (long long)c->jump);
    const cn_layer_stats *in = layer(g, "x");
    CHECK(!strcmp(in->desc, "input") && in->params == 0 && in->weight.ndim == 0 && in->receptive_field == 1,
          "input row: %s %lld", in->desc, (long long)in->params);
    CHECK(totals.params == 760 && totals.macs == 768000, "totals %lld %lld", (long long)totals.params,
          (long long)totals.macs);
    CHECK(totals.activation_bytes == (3 + 10) * 32 * 32 * (int64_t)sizeof(cn_real), "total activations %lld",
          (long long)totals.activation_bytes);

    /* the batch multiplies multiply-adds and activations, not parameters */
    CHECK_OK(cn_graph_set_batch(g, 4));
    analyze(g);
    c = layer(g, "conv");
    CHECK(c->params == 760 && c->macs == 4 * 768000 && c->activation_bytes == 4 * 10 * 32 * 32 * (int64_t)sizeof(cn_real),
          "batch 4: %lld %lld %lld", (long long)c->params, (long long)c->macs, (long long)c->activation_bytes);
    cn_graph_free(g);
}

/* AlexNet's conv1: 3x227x227 with 96 11x11 filters, stride 4 -> 96x55x55. */
static void test_alexnet_conv1(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(1, 3, 227, 227));
    int c = cn_conv2d(g, "conv1", x, 96, 11, 4, 0);
    cn_maxpool2d(g, "pool1", c, 3, 2);
    analyze(g);
    const cn_layer_stats *s = layer(g, "conv1");
    CHECK(!strcmp(chw(&s->output), "96x55x55"), "conv1 %s", chw(&s->output));
    CHECK(s->params == 96 * 3 * 11 * 11 + 96, "params %lld", (long long)s->params);
    CHECK(s->macs == (int64_t)96 * 55 * 55 * 3 * 11 * 11, "macs %lld", (long long)s->macs);
    CHECK(s->receptive_field == 11 && s->jump == 4, "rf %lld jump %lld", (long long)s->receptive_field, (long long)s->jump);
    CHECK(!strcmp(s->desc, "conv 96 k11 s4 p0"), "desc %s", s->desc);
    s = layer(g, "pool1");
    CHECK(!strcmp(chw(&s->output), "96x27x27") && !strcmp(s->desc, "maxpool k3 s2"), "pool1 %s %s", chw(&s->output),
          s->desc);
    CHECK(s->receptive_field == 11 + 2 * 4 && s->jump == 8, "pool1 rf %lld jump %lld", (long long)s->receptive_field,
          (long long)s->jump);
    CHECK(s->macs == 0 && s->params == 0, "pooling costs nothing");
    cn_graph_free(g);
}

/* L stacked 3x3 stride-1 convolutions see 1 + 2L input pixels. */
static void test_stacked_rf(void) {
    for (int depth = 1; depth <= 6; depth++) {
        cn_graph *g = cn_graph_create();
        int h = cn_input(g, "x", cn_shape4(1, 2, 16, 16));
        for (int l = 0; l < depth; l++) {
            h = cn_conv2d(g, NULL, h, 2, 3, 1, 1);
            h = cn_relu(g, NULL, h);
        }
        analyze(g);
        const cn_layer_stats *last = &layers[h];
        CHECK(last->receptive_field == 1 + 2 * depth && last->jump == 1, "L=%d: rf %lld jump %lld", depth,
              (long long)last->receptive_field, (long long)last->jump);
        cn_graph_free(g);
    }
    /* 1 + L*(K-1) for 5x5 too, and a dilated 3x3 counts as 5x5 */
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(1, 1, 40, 40));
    int a = cn_conv2d(g, "a", x, 1, 5, 1, 2);
    int b = cn_conv2d(g, "b", a, 1, 5, 1, 2);
    cn_conv_attr d = cn_conv_attr_make(1, 3, 1, 2);
    d.dilation[0] = d.dilation[1] = 2;
    int c = cn_conv(g, "c", b, &d);
    analyze(g);
    CHECK(layers[b].receptive_field == 9 && layers[c].receptive_field == 13, "5x5 stack %lld, dilated %lld",
          (long long)layers[b].receptive_field, (long long)layers[c].receptive_field);
    CHECK(!strcmp(layers[c].desc, "conv 1 k3 s1 p2 d2"), "desc %s", layers[c].desc);
    cn_graph_free(g);
}

/* Strides multiply the jump; global pooling and FC layers see the whole input. */
static void test_rf_rules(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(1, 1, 10, 10));
    int c = cn_conv2d(g, "c", x, 2, 3, 2, 0);     /* 4x4, rf 3, jump 2: rows 0..8 seen, row 9 never */
    int gap = cn_global_pool(g, "gap", c, CN_POOL_AVG);
    int f = cn_flatten(g, "flat", c);
    int fc = cn_linear(g, "fc", f, 3, 1);
    analyze(g);
    CHECK(layers[c].receptive_field == 3 && layers[c].jump == 2, "c: %lld %lld", (long long)layers[c].receptive_field,
          (long long)layers[c].jump);
    CHECK(layers[gap].receptive_field == 10, "global pooling covers the whole input: %lld",
          (long long)layers[gap].receptive_field);
    CHECK(layers[f].receptive_field == 3, "flatten keeps the field: %lld", (long long)layers[f].receptive_field);
    CHECK(layers[fc].receptive_field == 10, "fc covers the whole input: %lld", (long long)layers[fc].receptive_field);
    CHECK(!strcmp(layers[fc].desc, "fc 3") && !strcmp(layers[gap].desc, "globalavgpool"), "%s / %s", layers[fc].desc,
          layers[gap].desc);
    cn_graph_free(g);

    /* padded: the field of a global pool may exceed the input (it counts padding), never fall short */
    g = cn_graph_create();
    x = cn_input(g, "x", cn_shape4(1, 1, 9, 9));
    c = cn_conv2d(g, "c", x, 1, 3, 1, 1);
    gap = cn_global_pool(g, "gap", c, CN_POOL_MAX);
    int aap = cn_adaptive_avgpool(g, "aap", c, (int[]){3, 3});
    analyze(g);
    CHECK(layers[gap].receptive_field == 3 + 8, "padded global %lld", (long long)layers[gap].receptive_field);
    CHECK(layers[aap].receptive_field == 3 + 2 && layers[aap].jump == 3, "adaptive 9->3: rf %lld jump %lld",
          (long long)layers[aap].receptive_field, (long long)layers[aap].jump);
    CHECK(!strcmp(layers[aap].desc, "adaptiveavgpool 3"), "desc %s", layers[aap].desc);
    cn_graph_free(g);
}

/* Where paths join, the larger field; 1-D inputs track W, 3-D inputs H. */
static void test_rf_dag_and_ranks(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(1, 4, 12, 12));
    int a = cn_conv2d(g, "a", x, 4, 3, 1, 1);
    int b = cn_conv2d(g, "b", a, 4, 3, 1, 1);
    int sum = cn_add(g, "sum", x, b);
    int one = cn_conv2d(g, "one", x, 4, 1, 1, 0);
    int cat = cn_concat(g, "cat", (int[]){one, sum}, 2);
    analyze(g);
    CHECK(layers[sum].receptive_field == 5 && layers[cat].receptive_field == 5, "add %lld concat %lld",
          (long long)layers[sum].receptive_field, (long long)layers[cat].receptive_field);
    CHECK(!strcmp(layers[cat].desc, "concat") && !strcmp(layers[sum].desc, "add"), "%s %s", layers[cat].desc,
          layers[sum].desc);
    cn_graph_free(g);

    g = cn_graph_create();
    int x1 = cn_input(g, "x1", cn_shape_make(3, (int64_t[]){1, 2, 30}));
    cn_conv_attr a1 = cn_conv_attr_make(2, 7, 3, 0);
    int c1 = cn_conv(g, "c1", x1, &a1);
    int x3 = cn_input(g, "x3", cn_shape_make(5, (int64_t[]){1, 1, 6, 8, 9}));
    cn_conv_attr a3 = cn_conv_attr_make(2, 1, 1, 0);
    a3.kernel[0] = 1, a3.kernel[1] = 3, a3.kernel[2] = 5;
    a3.stride[1] = 2;
    int c3 = cn_conv(g, "c3", x3, &a3);
    int p3 = cn_pool(g, "p3", c3, &(cn_pool_attr){.kind = CN_POOL_MAX, .kernel = {1, 2, 1}, .stride = {1, 2, 1},
                                                  .count_include_pad = 1});
    analyze(g);
    CHECK(layers[c1].receptive_field == 7 && layers[c1].jump == 3, "1-D: %lld %lld", (long long)layers[c1].receptive_field,
          (long long)layers[c1].jump);
    CHECK(layers[c3].receptive_field == 3 && layers[c3].jump == 2, "3-D tracks H: %lld %lld",
          (long long)layers[c3].receptive_field, (long long)layers[c3].jump);
    CHECK(layers[p3].receptive_field == 5 && layers[p3].jump == 4, "3-D pool: %lld %lld",
          (long long)layers[p3].receptive_field, (long long)layers[p3].jump);
    CHECK(!strcmp(layers[c3].desc, "conv 2 k1x3x5 s1x2x1 p0") && !strcmp(layers[p3].desc, "maxpool k1x2x1 s1x2x1"),
          "descs %s / %s", layers[c3].desc, layers[p3].desc);
    cn_graph_free(g);

    /* a plain MLP has no spatial field */
    g = cn_graph_create();
    x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){2, 8}));
    int fc = cn_linear(g, "fc", x, 4, 0);
    analyze(g);
    CHECK(layers[x].receptive_field == 0 && layers[fc].receptive_field == 0 && layers[fc].jump == 0, "MLP rf");
    CHECK(!strcmp(layers[fc].desc, "fc 4 nobias") && layers[fc].macs == 2 * 8 * 4, "%s %lld", layers[fc].desc,
          (long long)layers[fc].macs);
    cn_graph_free(g);
}

/* LeNet-5 from the zoo, as the lecture's table has it. Multiply-adds: output elements times the weights
 * each one uses. */
static void test_lenet5(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(1, 1, 28, 28));
    CHECK(cn_model_build(g, "lenet5", x, 10) >= 0, "lenet5: %s", cn_last_error());
    analyze(g);
    const cn_layer_stats *c1 = layer(g, "conv1"), *p2 = layer(g, "pool2"), *fl = layer(g, "flatten");
    CHECK(!strcmp(chw(&c1->output), "20x28x28") && !strcmp(str(&c1->weight), "20x1x5x5"), "conv1 %s %s",
          chw(&c1->output), str(&c1->weight));
    CHECK(!strcmp(chw(&p2->output), "50x7x7"), "pool2 %s", chw(&p2->output));
    CHECK(!strcmp(chw(&fl->output), "2450"), "flatten %s", chw(&fl->output));
    CHECK(totals.params == 1256080 && totals.params == cn_graph_num_trainable(g), "LeNet-5 params %lld",
          (long long)totals.params);
    int64_t expected_macs = 0, summed = 0;
    const char *with_weights[] = {"conv1", "conv2", "fc1", "fc2"};
    for (int i = 0; i < 4; i++) {
        const cn_layer_stats *s = layer(g, with_weights[i]);
        expected_macs += cn_shape_numel(&s->output) * (cn_shape_numel(&s->weight) / s->weight.dims[0]);
    }
    for (int i = 0; i < cn_graph_node_count(g); i++) summed += layers[i].macs;
    CHECK(totals.macs == expected_macs && summed == expected_macs, "LeNet-5 MACs %lld, expected %lld",
          (long long)totals.macs, (long long)expected_macs);
    CHECK(!strcmp(layer(g, "pool1")->desc, "maxpool k2 s2") && !strcmp(layer(g, "fc1")->desc, "fc 500") &&
              !strcmp(layer(g, "relu1")->desc, "relu") && !strcmp(layer(g, "conv2")->desc, "conv 50 k5 s1 p2"),
          "descriptions %s %s %s %s", layer(g, "pool1")->desc, layer(g, "fc1")->desc, layer(g, "relu1")->desc,
          layer(g, "conv2")->desc);
    /* conv1 5, pool1 6 (jump 2), conv2 6 + 4*2 = 14, pool2 16 (jump 4); fc1 the whole input */
    CHECK(layer(g, "conv2")->receptive_field == 14 && layer(g, "pool2")->receptive_field == 16 &&
              layer(g, "pool2")->jump == 4 && layer(g, "fc1")->receptive_field >= 28,
          "LeNet-5 fields %lld %lld %lld", (long long)layer(g, "conv2")->receptive_field,
          (long long)layer(g, "pool2")->receptive_field, (long long)layer(g, "fc1")->receptive_field);
    CHECK(cn_graph_analyze(g, NULL, 0, NULL) == cn_graph_node_count(g), "count only");
    CHECK_ERROR(cn_graph_analyze(NULL, layers, 64, &totals) == -1, "graph is NULL");
    cn_graph_free(g);
}

/* Every op gets a readable description. */
static void test_descriptions(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 6, 8, 8));
    int y = cn_input(g, "y", cn_shape_make(1, (int64_t[]){2}));
    cn_conv_attr a = cn_conv_attr_make(6, 3, 1, 1);
    a.groups = 3, a.bias = 0, a.pad_mode = CN_PAD_REFLECT, a.pad_end[0] = 0;
    struct {
        int node;
        const char *desc;
    } cases[] = {
        {cn_conv(g, "c", x, &a), "conv 6 k3 s1 p1/0x1 g3 nobias reflect"},
        {cn_pool(g, "ap", x, &(cn_pool_attr){.kind = CN_POOL_AVG, .kernel = {3, 3}, .stride = {2, 2}, .pad = {1, 1},
                                              .ceil_mode = 1}), "avgpool k3 s2 p1 ceil excludepad"},
        {cn_activation(g, "lr", x, CN_ACT_LEAKY_RELU, 0.1f), "leakyrelu 0.1"},
        {cn_activation(g, "gl", x, CN_ACT_GELU_TANH, 0), "gelu tanh"},
        {cn_activation(g, "sg", x, CN_ACT_SIGMOID, 0), "sigmoid"},
        {cn_prelu(g, "pr", x, 6, 0.25f), "prelu 6"},
        {cn_batchnorm(g, "bn", x, 1e-5f, 0.1f), "batchnorm"},
        {cn_groupnorm(g, "gn", x, 3, 1e-5f, 1), "groupnorm 3"},
        {cn_layernorm(g, "ln", x, 3, 1e-5f, 1), "layernorm 3"},
        {cn_instancenorm(g, "in", x, 1e-5f, 0), "instancenorm"},
        {cn_lrn(g, "lrn", x, 5, 1e-4f, 0.75f, 2.0f), "lrn 5 a0.0001 b0.75 k2"},
        {cn_dropout(g, "dr", x, 0.5f), "dropout 0.5"},
        {cn_softmax(g, "sm", x, 1), "softmax"},
        {cn_log_softmax(g, "lsm", x, -1), "logsoftmax axis -1"},
        {cn_flatten(g, "fl", x), "flatten"},
        {cn_adaptive_avgpool(g, "aa", x, (int[]){6, 4}), "adaptiveavgpool 6x4"},
        {cn_global_pool(g, "gm", x, CN_POOL_MAX), "globalmaxpool"},
    };
    int fc = cn_linear(g, "fc", x, 5, 1);
    int xent = cn_cross_entropy(g, "xent", fc, y, 0.1f), hinge = cn_hinge_loss(g, "hinge", fc, y, 1.0f);
    analyze(g);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(cases[i].node >= 0 && !strcmp(layers[cases[i].node].desc, cases[i].desc), "description '%s', expected '%s'",
              cases[i].node >= 0 ? layers[cases[i].node].desc : cn_last_error(), cases[i].desc);
    CHECK(!strcmp(layers[xent].desc, "crossentropy smoothing 0.1") && !strcmp(layers[hinge].desc, "hinge 1"), "%s / %s",
          layers[xent].desc, layers[hinge].desc);
    CHECK(layers[cn_graph_find(g, "bn")].params == 12, "batch norm counts weight and bias, not running stats: %lld",
          (long long)layers[cn_graph_find(g, "bn")].params);
    cn_graph_free(g);
}

int main(void) {
    test_lecture_conv();
    test_alexnet_conv1();
    test_stacked_rf();
    test_rf_rules();
    test_rf_dag_and_ranks();
    test_lenet5();
    test_descriptions();
    return cn_test_finish();
}
