/* Eval-mode fusion (graph/fuse.c: conv -> BN -> ReLU computed in the conv's write-back) and the inference
 * weight cache (packed / Winograd-transformed conv weights kept in the node across passes):
 * - zoo graphs evaluate the same with fusion on and off (CN_FUSE=0), on every kernel set;
 * - what must stop fusion (a marked intermediate output, a second reader) does, and cn_node_output of an
 *   absorbed conv is not offered;
 * - a cached weight is never stale: writes through cn_param_get, a kept pointer + cn_graph_params_changed,
 *   an optimizer step and a checkpoint load all change the next evaluation as a fresh graph would compute it;
 * - steady-state inference allocates nothing;
 * - training fusion (a max pool doing the preceding ReLU's backward) gives the unfused gradients. */
#include "cn_test.h"
#include "kernels/gemm.h"
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static uint64_t lcg(uint64_t *s) { return *s = *s * 6364136223846793005ULL + 1442695040888963407ULL; }
static double unit(uint64_t *s) { return (double)(lcg(s) >> 11) / 9007199254740992.0; }

/* Batch norms get non-trivial running statistics and affine parameters (fresh ones are the identity). */
static void randomise_batchnorms(cn_graph *g) {
    uint64_t s = 12345;
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param p = cn_param_get(g, i);
        size_t len = strlen(p.name);
        if (len < 13 || strcmp(p.name + len - 13, ".running_mean") != 0 || i < 2) continue;
        cn_param w = cn_param_get(g, i - 2), b = cn_param_get(g, i - 1), v = cn_param_get(g, i + 1);
        for (int64_t c = 0; c < cn_tensor_numel(p.value); c++) {
            w.value->data[c] = (cn_real)(0.5 + unit(&s));
            b.value->data[c] = (cn_real)(unit(&s) - 0.5);
            p.value->data[c] = (cn_real)(0.4 * (unit(&s) - 0.5));
            v.value->data[c] = (cn_real)(0.5 + 1.5 * unit(&s));
        }
    }
}

typedef struct {
    cn_graph *g;
    int x, out;
} model;

static model build(const char *name, int64_t batch, int64_t c, int64_t hw) {
    model m = {cn_graph_create(), -1, -1};
    cn_graph_set_seed(m.g, 7);
    int64_t d[4] = {batch, c, hw, hw};
    m.x = cn_input(m.g, "x", cn_shape_make(4, d));
    m.out = cn_model_build(m.g, name, m.x, 10);
    CHECK(m.out >= 0, "build %s: %s", name, cn_last_error());
    randomise_batchnorms(m.g);
    cn_test_fill_input(m.g, m.x, 3, -1, 1);
    return m;
}

/* A copy of out's eval output, with fusion on or off (CN_FUSE is read when the plan is made). */
static cn_real *eval_copy(model *m, bool fuse) {
    if (!fuse) setenv("CN_FUSE", "0", 1);
    CHECK_OK(cn_forward(m->g, CN_EVAL));
    unsetenv("CN_FUSE");
    cn_shape shape = cn_node_shape(m->g, m->out);
    int64_t n = cn_shape_numel(&shape);
    cn_real *y = malloc((size_t)n * sizeof(cn_real));
    const cn_real *o = cn_node_output(m->g, m->out);
    CHECK(o != NULL, "output kept");
    if (o) memcpy(y, o, (size_t)n * sizeof(cn_real));
    return y;
}

static void fused_equals_unfused(const char *isa, const char *name, int64_t batch, int64_t hw) {
    model a = build(name, batch, 3, hw), b = build(name, batch, 3, hw);
    cn_real *ya = eval_copy(&a, true), *yb = eval_copy(&b, false);
    /* a second pass of each (the cached weights reused) gives the same */
    cn_real *ya2 = eval_copy(&a, true);
    int64_t n = batch * 10;
    double err = cn_rel_error(ya, yb, n);
    CHECK(err <= 1e-5, "%s %s batch %lld: fused vs unfused eval %.3g", isa, name, (long long)batch, err);
    CHECK(memcmp(ya, ya2, (size_t)n * sizeof(cn_real)) == 0, "%s %s: second pass identical", isa, name);
    free(ya), free(yb), free(ya2);
    cn_graph_free(a.g), cn_graph_free(b.g);
}

/* x -> conv -> bn -> relu -> conv2 -> relu2 -> pool: small enough for every check below. */
static model small_net(uint64_t seed, bool mark_conv) {
    model m = {cn_graph_create(), -1, -1};
    cn_graph_set_seed(m.g, seed);
    int64_t d[4] = {2, 5, 9, 11};
    m.x = cn_input(m.g, "x", cn_shape_make(4, d));
    int c = cn_conv2d(m.g, "conv", m.x, 7, 3, 1, 1);
    int h = cn_batchnorm(m.g, "bn", c, 1e-5f, 0.1f);
    h = cn_relu(m.g, "relu", h);
    h = cn_conv2d(m.g, "conv2", h, 10, 3, 2, 0);
    h = cn_relu(m.g, "relu2", h);
    m.out = cn_global_pool(m.g, "pool", h, CN_POOL_AVG);
    if (mark_conv) cn_graph_mark_output(m.g, c);
    randomise_batchnorms(m.g);
    cn_test_fill_input(m.g, m.x, 5, -1, 1);
    return m;
}

/* m's next evaluation (computed BEFORE its parameters are read: cn_param_get would refresh the cache) equals
 * that of a fresh graph given m's parameters. */
static void check_same(model *m, const char *what) {
    cn_real mine[20];
    CHECK_OK(cn_forward(m->g, CN_EVAL));
    memcpy(mine, cn_node_output(m->g, m->out), sizeof mine);
    model fresh = small_net(99, false); /* different seed: its weights are copied from m below */
    for (int i = 0; i < cn_param_count(m->g); i++) {
        cn_param src = cn_param_get(m->g, i), dst = cn_param_get(fresh.g, i);
        memcpy(dst.value->data, src.value->data, (size_t)cn_tensor_numel(src.value) * sizeof(cn_real));
    }
    CHECK_OK(cn_forward(fresh.g, CN_EVAL));
    const cn_real *b = cn_node_output(fresh.g, fresh.out);
    CHECK(b && memcmp(mine, b, sizeof mine) == 0, "%s: the next evaluation uses the new weights", what);
    cn_graph_free(fresh.g);
}

static bool output_changed(model *m, const cn_real *before) {
    CHECK_OK(cn_forward(m->g, CN_EVAL));
    return memcmp(cn_node_output(m->g, m->out), before, 2 * 10 * sizeof(cn_real)) != 0;
}

static void no_stale_weights(void) {
    model m = small_net(1, false);
    cn_real before[20];
    CHECK_OK(cn_forward(m.g, CN_EVAL));
    memcpy(before, cn_node_output(m.g, m.out), sizeof before);
    /* a write through cn_param_get */
    cn_param_get(m.g, cn_param_find(m.g, "conv.weight")).value->data[3] += 0.5f;
    CHECK(output_changed(&m, before), "cn_param_get write changes the output");
    check_same(&m, "cn_param_get");
    /* a kept pointer, written after a forward pass, then cn_graph_params_changed */
    cn_tensor *w2 = cn_param_get(m.g, cn_param_find(m.g, "conv2.weight")).value;
    CHECK_OK(cn_forward(m.g, CN_EVAL));
    memcpy(before, cn_node_output(m.g, m.out), sizeof before);
    for (int64_t i = 0; i < cn_tensor_numel(w2); i++) w2->data[i] *= -1;
    cn_graph_params_changed(m.g);
    CHECK(output_changed(&m, before), "kept pointer + cn_graph_params_changed changes the output");
    check_same(&m, "cn_graph_params_changed");
    /* optimizer steps (the second one after an evaluation filled the caches; nothing else touches the
     * parameters in between) */
    cn_optimizer_config cfg = cn_sgd_config(0.005, 0.9, 0, 0);
    cn_optimizer *opt = cn_optimizer_create(m.g, &cfg);
    for (int step = 0; step < 2; step++) {
        CHECK_OK(cn_forward(m.g, CN_EVAL));
        memcpy(before, cn_node_output(m.g, m.out), sizeof before);
        CHECK_OK(cn_forward(m.g, CN_TRAIN));
        cn_zero_grad(m.g);
        CHECK_OK(cn_backward(m.g, m.out, NULL));
        CHECK_OK(cn_optimizer_step(opt));
        CHECK_OK(cn_forward(m.g, CN_TRAIN)); /* the running statistics move as well: keep them equal */
        CHECK(output_changed(&m, before), "an optimizer step changes the output");
        check_same(&m, "optimizer step");
    }
    cn_optimizer_free(opt);
    /* a checkpoint load */
    char path[64];
    snprintf(path, sizeof path, "/tmp/cn_test_fuse_%d.safetensors", (int)getpid());
    model other = small_net(2, false);
    CHECK_OK(cn_checkpoint_save(path, other.g, NULL, NULL));
    CHECK_OK(cn_forward(m.g, CN_EVAL));
    memcpy(before, cn_node_output(m.g, m.out), sizeof before);
    CHECK_OK(cn_checkpoint_load(path, m.g, NULL, NULL));
    CHECK(output_changed(&m, before), "a checkpoint load changes the output");
    check_same(&m, "checkpoint load");
    remove(path);
    cn_graph_free(other.g);
    /* batch norm statistics changed by training forward passes are used by the next evaluation */
    memcpy(before, cn_node_output(m.g, m.out), sizeof before);
    CHECK_OK(cn_forward(m.g, CN_TRAIN));
    CHECK(output_changed(&m, before), "running statistics updated by training reach the fused epilogue");
    check_same(&m, "running statistics");
    cn_graph_free(m.g);
}

static void fusion_limits(void) {
    /* the conv marked as an output: not fused, its own (pre-BN) value readable and equal to unfused */
    model a = small_net(3, true), b = small_net(3, true);
    CHECK_OK(cn_forward(a.g, CN_EVAL));
    setenv("CN_FUSE", "0", 1);
    CHECK_OK(cn_forward(b.g, CN_EVAL));
    unsetenv("CN_FUSE");
    int conv = cn_graph_find(a.g, "conv");
    const cn_real *ca = cn_node_output(a.g, conv), *cb = cn_node_output(b.g, conv);
    CHECK(ca && cb && cn_rel_error(ca, cb, 2 * 7 * 9 * 11) == 0, "a marked conv output is its own value");
    CHECK(cn_rel_error(cn_node_output(a.g, a.out), cn_node_output(b.g, b.out), 20) <= 1e-6, "same logits");
    cn_graph_free(a.g), cn_graph_free(b.g);
    /* an absorbed conv's output is not offered (it holds the fused value) */
    model c = small_net(3, false);
    CHECK_OK(cn_forward(c.g, CN_EVAL));
    CHECK(cn_node_output(c.g, cn_graph_find(c.g, "conv")) == NULL, "absorbed conv output not kept");
    /* training is unchanged: the fused nodes run in train mode */
    CHECK_OK(cn_forward(c.g, CN_TRAIN));
    CHECK(cn_node_output(c.g, cn_graph_find(c.g, "bn")) != cn_node_output(c.g, cn_graph_find(c.g, "conv")),
          "train mode: separate buffers");
    cn_graph_free(c.g);
    /* a conv read twice (a residual-style fork) is not fused, and gives the same result */
    for (int fuse = 0; fuse < 2; fuse++) {
        cn_graph *g = cn_graph_create();
        int64_t d[4] = {1, 4, 6, 6};
        int x = cn_input(g, "x", cn_shape_make(4, d));
        int c1 = cn_conv2d(g, "c1", x, 4, 3, 1, 1);
        int r = cn_relu(g, "r", c1);
        int s = cn_add(g, "s", r, c1);
        cn_test_fill_input(g, x, 4, -1, 1);
        if (!fuse) setenv("CN_FUSE", "0", 1);
        CHECK_OK(cn_forward(g, CN_EVAL));
        unsetenv("CN_FUSE");
        static cn_real first[144];
        if (!fuse) memcpy(first, cn_node_output(g, s), sizeof first);
        else CHECK(memcmp(first, cn_node_output(g, s), sizeof first) == 0, "fork: same result");
        cn_graph_free(g);
    }
}

static void inference_allocates_nothing(void) {
    model m = build("resnet20", 2, 3, 32);
    CHECK_OK(cn_forward(m.g, CN_EVAL));
    cn_test_count_allocations(1);
    long before = cn_test_allocation_count();
    for (int i = 0; i < 2; i++) CHECK_OK(cn_forward(m.g, CN_EVAL));
    long made = cn_test_allocation_count() - before;
    cn_test_count_allocations(0);
    CHECK(made == 0, "steady-state inference made %ld allocations", made);
    cn_graph_free(m.g);
}

/* Training fusion (a MaxPool doing the backward of the ReLU before it): the same gradients as with CN_FUSE=0,
 * for the parameters and the input, backward from the output and from the fused ReLU itself (its pool does not
 * run then, so the ReLU's own backward must). The net: conv -> ReLU -> 3x3 stride-2 max pool with padding
 * (overlapping windows: one position can be the argmax of several), conv -> ReLU -> 2x2 pool (LeNet's), and a
 * ReLU with two readers (a pool and an add), which must not fuse. */
typedef struct {
    cn_graph *g;
    int x, relu, out;
} train_net;

static train_net train_fusion_net(void) {
    train_net t = {cn_graph_create(), -1, -1, -1};
    cn_graph_set_seed(t.g, 3);
    int64_t d[4] = {2, 3, 13, 15};
    t.x = cn_input(t.g, "x", cn_shape_make(4, d));
    CHECK_OK(cn_input_set_grad(t.g, t.x, 1));
    int h = cn_conv2d(t.g, "conv1", t.x, 6, 3, 1, 1);
    t.relu = cn_relu(t.g, "relu1", h);
    cn_pool_attr pa = cn_pool_attr_make(CN_POOL_MAX, 3, 2, 1);
    h = cn_pool(t.g, "pool1", t.relu, &pa);
    h = cn_conv2d(t.g, "conv2", h, 8, 3, 1, 1);
    h = cn_relu(t.g, "relu2", h);
    h = cn_maxpool2d(t.g, "pool2", h, 2, 2);
    int c3 = cn_conv2d(t.g, "conv3", h, 8, 3, 1, 1);
    int r3 = cn_relu(t.g, "relu3", c3);
    int p3 = cn_maxpool2d(t.g, "pool3", r3, 1, 1);
    h = cn_add(t.g, "add", p3, r3); /* relu3 has two readers */
    h = cn_flatten(t.g, "flat", h);
    t.out = cn_linear(t.g, "fc", h, 5, 1);
    cn_test_fill_input(t.g, t.x, 11, -1, 1);
    return t;
}

/* every parameter gradient and the input gradient after one backward from `from` (seeded 1..) */
static cn_real *train_grads(bool fuse, bool from_relu, int64_t *count) {
    if (!fuse) setenv("CN_FUSE", "0", 1);
    train_net t = train_fusion_net();
    CHECK_OK(cn_forward(t.g, CN_TRAIN));
    unsetenv("CN_FUSE");
    int from = from_relu ? t.relu : t.out;
    cn_shape s = cn_node_shape(t.g, from);
    int64_t ns = cn_shape_numel(&s), total = 2 * 3 * 13 * 15;
    cn_real *seed = malloc((size_t)ns * sizeof(cn_real));
    for (int64_t i = 0; i < ns; i++) seed[i] = (cn_real)((i % 7) - 3) / 4;
    cn_zero_grad(t.g);
    CHECK_OK(cn_backward(t.g, from, seed));
    for (int i = 0; i < cn_param_count(t.g); i++) {
        cn_param p = cn_param_get(t.g, i);
        if (p.grad) total += cn_tensor_numel(p.grad);
    }
    cn_real *all = malloc((size_t)total * sizeof(cn_real)), *at = all;
    const cn_real *dx = cn_node_grad(t.g, t.x);
    CHECK(dx != NULL, "input gradient kept");
    if (dx) memcpy(at, dx, 2 * 3 * 13 * 15 * sizeof(cn_real));
    at += 2 * 3 * 13 * 15;
    for (int i = 0; i < cn_param_count(t.g); i++) {
        cn_param p = cn_param_get(t.g, i);
        if (!p.grad) continue;
        memcpy(at, p.grad->data, (size_t)cn_tensor_numel(p.grad) * sizeof(cn_real));
        at += cn_tensor_numel(p.grad);
    }
    *count = total;
    free(seed);
    cn_graph_free(t.g);
    return all;
}

static void train_fusion_same_gradients(const char *isa) {
    for (int from_relu = 0; from_relu < 2; from_relu++) {
        int64_t na = 0, nb = 0;
        cn_real *a = train_grads(true, from_relu, &na), *b = train_grads(false, from_relu, &nb);
        bool same = na == nb, nonzero = false;
        for (int64_t i = 0; same && i < na; i++) same = a[i] == b[i], nonzero |= a[i] != 0;
        CHECK(same && nonzero, "%s: training fusion gives the unfused gradients (backward from %s)", isa,
              from_relu ? "the fused ReLU" : "the output");
        free(a), free(b);
    }
}

int main(void) {
    const char *sets[] = {"avx512", "avx2", "portable", "ref"};
    for (int s = 0; s < 4; s++) {
        if (cn_kernels_select(sets[s]) != CN_OK) {
            printf("SKIP %s kernels: %s\n", sets[s], cn_last_error());
            continue;
        }
        fused_equals_unfused(sets[s], "resnet20", 3, 32);
        if (s == 0) fused_equals_unfused(sets[s], "vgg11-bn", 1, 32); /* 100M-weight classifier: once */
        if (s == 0) fused_equals_unfused(sets[s], "resnet18-small", 1, 32);
        no_stale_weights();
        fusion_limits();
        train_fusion_same_gradients(sets[s]);
    }
    if (cn_kernels_select("avx512") != CN_OK && cn_kernels_select("avx2") != CN_OK) cn_kernels_select("portable");
    inference_allocates_nothing();
    return cn_test_finish();
}
