/* The training memory plan: values share memory once nothing reads them (outputs after their last reader in
 * forward or backward, gradients after their own backward), ReLU and Add run in place, BatchNorm/ReLU/Add
 * outputs are dropped after forward and recomputed for backward, inputs that want no gradient get none. A ResNet-style graph (stem, a bottleneck with an identity shortcut, one with a strided
 * projection shortcut, global pooling, linear, cross-entropy) is trained three ways:
 *   A: the default plan, no gradient for the data input;
 *   B: every node marked as an output, so every value is kept (the plan before liveness: nothing shared);
 *   C: the default plan with the data gradient.
 * They must give bit-identical losses and gradients, and A's plan must be much smaller than B's. */
#include "cn_test.h"
#include <stdlib.h>
#include <string.h>

enum { BATCH = 4, CLASSES = 5 };

typedef struct {
    cn_graph *g;
    int x, labels, stem_bn, stem_relu, loss, n_nodes;
} net;

static int conv_bn(cn_graph *g, int h, int out, int k, int s, int p, int relu, int *bn) {
    cn_conv_attr a = cn_conv_attr_make(out, k, s, p);
    a.bias = 0;
    h = cn_conv(g, NULL, h, &a);
    h = cn_batchnorm(g, NULL, h, 1e-5f, 0.1f);
    if (bn) *bn = h;
    return relu ? cn_relu(g, NULL, h) : h;
}

static int bottleneck(cn_graph *g, int x, int mid, int out, int stride, int project) {
    int h = conv_bn(g, x, mid, 1, 1, 0, 1, NULL);
    h = conv_bn(g, h, mid, 3, stride, 1, 1, NULL);
    h = conv_bn(g, h, out, 1, 1, 0, 0, NULL);
    int shortcut = project ? conv_bn(g, x, out, 1, stride, 0, 0, NULL) : x;
    return cn_relu(g, NULL, cn_add(g, NULL, h, shortcut));
}

static net build(int mark_all, int data_grad) {
    net m = {0};
    m.g = cn_graph_create();
    cn_graph_set_seed(m.g, 7);
    m.x = cn_input(m.g, "x", cn_shape4(BATCH, 3, 12, 12));
    m.labels = cn_input(m.g, "labels", cn_shape_make(1, (int64_t[]){BATCH}));
    CHECK_OK(cn_input_set_grad(m.g, m.labels, 0));
    if (!data_grad) CHECK_OK(cn_input_set_grad(m.g, m.x, 0));
    int h = m.stem_relu = conv_bn(m.g, m.x, 16, 3, 1, 1, 1, &m.stem_bn);
    h = bottleneck(m.g, h, 8, 16, 1, 0);
    h = bottleneck(m.g, h, 8, 32, 2, 1);
    h = cn_flatten(m.g, NULL, cn_global_pool(m.g, NULL, h, CN_POOL_AVG));
    m.loss = cn_cross_entropy(m.g, "loss", cn_linear(m.g, "fc", h, CLASSES, 1), m.labels, 0.0f);
    CHECK(m.loss >= 0, "the ResNet-style graph builds: %s", cn_last_error());
    m.n_nodes = cn_graph_node_count(m.g);
    if (mark_all)
        for (int i = 0; i < m.n_nodes; i++) CHECK_OK(cn_graph_mark_output(m.g, i));
    return m;
}

/* One step on batch number `batch`: forward, backward; returns the loss. */
static cn_real step(net *m, int batch) {
    cn_test_fill_input(m->g, m->x, 100 + (uint64_t)batch, -1, 1);
    cn_real labels[BATCH];
    for (int i = 0; i < BATCH; i++) labels[i] = (cn_real)((i + batch) % CLASSES);
    CHECK_OK(cn_set_input(m->g, m->labels, labels, BATCH));
    cn_zero_grad(m->g);
    CHECK_OK(cn_forward(m->g, CN_TRAIN));
    cn_real loss = cn_node_output(m->g, m->loss)[0];
    CHECK_OK(cn_backward(m->g, m->loss, NULL));
    return loss;
}

static int same_param_grads(const net *a, const net *b) {
    int same = cn_param_count(a->g) == cn_param_count(b->g);
    for (int i = 0; same && i < cn_param_count(a->g); i++) {
        cn_param p = cn_param_get(a->g, i), q = cn_param_get(b->g, i);
        if (!p.trainable) continue;
        same &= memcmp(p.grad->data, q.grad->data, (size_t)cn_tensor_numel(p.grad) * sizeof(cn_real)) == 0;
        same &= memcmp(p.value->data, q.value->data, (size_t)cn_tensor_numel(p.value) * sizeof(cn_real)) == 0;
    }
    return same;
}

static void same_results_in_less_memory(void) {
    net a = build(0, 0), b = build(1, 1), c = build(0, 1);
    size_t ba = cn_graph_memory_bytes(a.g, CN_TRAIN), bb = cn_graph_memory_bytes(b.g, CN_TRAIN),
           bc = cn_graph_memory_bytes(c.g, CN_TRAIN);
    /* B keeps every output and gradient: at least their sum */
    size_t all = 0;
    for (int i = 0; i < b.n_nodes; i++) {
        cn_shape s = cn_node_shape(b.g, i);
        if (strcmp(cn_node_op(b.g, i), "Input") != 0) all += 2 * (size_t)cn_shape_numel(&s) * sizeof(cn_real);
    }
    CHECK(bb >= all, "keeping everything takes at least every output and gradient: %zu < %zu", bb, all);
    CHECK(ba <= bc && bc < bb, "plan bytes: no data gradient %zu <= default %zu < everything kept %zu", ba, bc, bb);
    CHECK(100 * bc < 55 * bb, "the default training plan is under 55%% of keeping everything: %zu of %zu", bc, bb);
    for (int batch = 0; batch < 3; batch++) {
        cn_real la = step(&a, batch), lb = step(&b, batch), lc = step(&c, batch);
        CHECK(la == lb && lb == lc, "batch %d: same loss (%g, %g, %g)", batch, (double)la, (double)lb, (double)lc);
        CHECK(same_param_grads(&a, &b) && same_param_grads(&c, &b), "batch %d: bit-identical parameter gradients",
              batch);
        cn_shape xs = cn_node_shape(b.g, b.x);
        const cn_real *dxb = cn_node_grad(b.g, b.x), *dxc = cn_node_grad(c.g, c.x);
        CHECK(dxb && dxc && memcmp(dxb, dxc, (size_t)cn_shape_numel(&xs) * sizeof(cn_real)) == 0,
              "batch %d: the same data gradient", batch);
        CHECK(cn_node_grad(a.g, a.x) == NULL, "no data gradient when the input wants none");
    }
    cn_graph_free(a.g), cn_graph_free(b.g), cn_graph_free(c.g);
}

/* What stays readable: after a train forward the ReLU's output (kept for backward) but not the BatchNorm's it
 * overwrote in place; after backward only outputs, unread nodes and inputs. */
static void what_stays_readable(void) {
    net a = build(0, 1);
    cn_test_fill_input(a.g, a.x, 1, -1, 1);
    CHECK_OK(cn_forward(a.g, CN_TRAIN));
    CHECK(cn_node_output(a.g, a.stem_relu) != NULL, "the stem ReLU's output is kept for backward");
    CHECK(cn_node_output(a.g, a.stem_bn) == NULL, "the stem BatchNorm's output was overwritten by its ReLU");
    CHECK(cn_node_grad(a.g, a.stem_relu) == NULL, "an intermediate gradient is not readable");
    int dropped = 0;
    for (int i = 0; i < a.n_nodes; i++)
        dropped += strcmp(cn_node_op(a.g, i), "Relu") == 0 && cn_node_output(a.g, i) == NULL;
    CHECK(dropped >= 2, "the bottleneck ReLU outputs are dropped after forward (recomputed in backward): %d", dropped);
    CHECK_OK(cn_backward(a.g, a.loss, NULL));
    CHECK(cn_node_output(a.g, a.loss) != NULL && cn_node_output(a.g, a.x) != NULL, "loss and input stay readable");
    CHECK(cn_node_output(a.g, a.stem_relu) == NULL, "after backward the stem ReLU's output is gone");
    CHECK(cn_node_grad(a.g, a.x) != NULL && cn_node_grad(a.g, a.loss) != NULL, "input and loss gradients stay");
    /* a second backward would read values the first one reused */
    cn_status st = cn_backward(a.g, a.loss, NULL);
    CHECK(st == CN_ERR_INVALID && strstr(cn_last_error(), "backward needs a new train forward") != NULL,
          "a second backward after one forward is refused: %s", cn_last_error());
    CHECK_OK(cn_forward(a.g, CN_TRAIN));
    CHECK_OK(cn_backward(a.g, a.loss, NULL));
    /* marking an intermediate node keeps its output and gradient */
    CHECK_OK(cn_graph_mark_output(a.g, a.stem_bn));
    CHECK_OK(cn_forward(a.g, CN_TRAIN));
    CHECK_OK(cn_backward(a.g, a.loss, NULL));
    CHECK(cn_node_output(a.g, a.stem_bn) != NULL && cn_node_grad(a.g, a.stem_bn) != NULL,
          "a marked BatchNorm keeps its output and gradient");
    CHECK(cn_graph_memory_bytes(NULL, CN_TRAIN) == 0 && strstr(cn_last_error(), "NULL") != NULL,
          "memory bytes of no graph: 0 and an error");
    cn_graph_free(a.g);
}

/* A graph where no value backward reads dies during backward can run backward again after one forward, from
 * another head too, with the same result. */
static void repeated_backward_when_nothing_is_reused(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){3, 6}));
    int h = cn_linear(g, "fc1", x, 6, 1);
    int r = cn_relu(g, "relu", h);
    int s = cn_add(g, "sum", r, x);
    int t = cn_activation(g, "tanh", h, CN_ACT_TANH, 0);
    cn_test_fill_input(g, x, 3, -1, 1);
    CHECK_OK(cn_forward(g, CN_TRAIN));
    CHECK_OK(cn_backward(g, s, NULL));
    cn_real first[18];
    memcpy(first, cn_node_grad(g, x), sizeof first);
    CHECK_OK(cn_backward(g, t, NULL));
    CHECK_OK(cn_backward(g, s, NULL));
    CHECK(memcmp(first, cn_node_grad(g, x), sizeof first) == 0, "the same dL/dx from the same head again");
    cn_graph_free(g);
}

/* Random DAGs of same-shape nodes (conv, batch norm, ReLU, sigmoid, tanh, dropout, add, concat + 1x1 conv,
 * max pool + upsampling-free 1x1 conv skipped): fan-out, skips, in-place chains, recomputed groups, some
 * nodes marked as outputs. The default plan must match keeping everything bit for bit: loss, parameter
 * gradients, the data gradient when wanted, and marked outputs after backward. */
static int random_graph(cn_graph *g, cn_rng *r, int marks, int *x_out, int *labels_out, int *marked, int *n_marked) {
    int x = *x_out = cn_input(g, "x", cn_shape4(3, 4, 5, 5));
    int labels = *labels_out = cn_input(g, "labels", cn_shape_make(1, (int64_t[]){3}));
    CHECK_OK(cn_input_set_grad(g, labels, 0));
    int nodes[40], count = 0;
    nodes[count++] = x;
    int n_ops = 6 + (int)cn_rng_below(r, 14);
    *n_marked = 0;
    for (int k = 0; k < n_ops; k++) {
        int a = nodes[count - 1 - (int)cn_rng_below(r, (uint32_t)(count < 4 ? count : 4))];
        int b = nodes[(int)cn_rng_below(r, (uint32_t)count)];
        int h = -1;
        cn_conv_attr c3 = cn_conv_attr_make(4, 3, 1, 1), c1 = cn_conv_attr_make(4, 1, 1, 0);
        switch (cn_rng_below(r, 9)) {
        case 0: h = cn_conv(g, NULL, a, &c3); break;
        case 1: h = cn_batchnorm(g, NULL, a, 1e-5f, 0.1f); break;
        case 2: case 3: h = cn_relu(g, NULL, a); break;
        case 4: h = cn_activation(g, NULL, a, cn_rng_below(r, 2) ? CN_ACT_SIGMOID : CN_ACT_TANH, 0); break;
        case 5: case 6: h = cn_add(g, NULL, a, b); break;
        case 7: h = cn_conv(g, NULL, cn_concat(g, NULL, (int[]){a, b}, 2), &c1); break;
        case 8: h = cn_dropout(g, NULL, a, 0.25f); break;
        }
        CHECK(h >= 0, "random graph node builds: %s", cn_last_error());
        if (h < 0) return -1;
        nodes[count++] = h;
        if (marks && cn_rng_below(r, 5) == 0) marked[(*n_marked)++] = h;
    }
    /* a batch norm right before the head keeps the loss sensitive to everything */
    int h = cn_batchnorm(g, NULL, nodes[count - 1], 1e-5f, 0.1f);
    h = cn_flatten(g, NULL, cn_global_pool(g, NULL, h, CN_POOL_AVG));
    return cn_cross_entropy(g, "loss", cn_linear(g, NULL, h, 3, 1), labels, 0.0f);
}

static void random_graphs_match_keeping_everything(void) {
    for (int trial = 0; trial < 100; trial++) {
        cn_graph *g[2];
        int x[2], labels[2], loss[2], marked[2][40], n_marked[2];
        bool data_grad = trial % 3 != 0;
        for (int k = 0; k < 2; k++) {
            cn_rng r;
            cn_rng_seed(&r, 1000 + (uint64_t)trial, 1);
            g[k] = cn_graph_create();
            cn_graph_set_seed(g[k], (uint64_t)trial);
            loss[k] = random_graph(g[k], &r, 1, &x[k], &labels[k], marked[k], &n_marked[k]);
            if (loss[k] < 0) return;
            if (!data_grad) CHECK_OK(cn_input_set_grad(g[k], x[k], 0));
            for (int i = 0; i < n_marked[k]; i++) CHECK_OK(cn_graph_mark_output(g[k], marked[k][i]));
            if (k == 1)
                for (int i = 0; i < cn_graph_node_count(g[k]); i++) CHECK_OK(cn_graph_mark_output(g[k], i));
            cn_test_fill_input(g[k], x[k], 50 + (uint64_t)trial, -2, 2);
            cn_real lv[3] = {0, 2, 1};
            CHECK_OK(cn_set_input(g[k], labels[k], lv, 3));
            cn_zero_grad(g[k]);
            CHECK_OK(cn_forward(g[k], CN_TRAIN));
            CHECK_OK(cn_backward(g[k], loss[k], NULL));
        }
        int same = cn_node_output(g[0], loss[0])[0] == cn_node_output(g[1], loss[1])[0];
        for (int i = 0; i < cn_param_count(g[0]); i++) {
            cn_param p = cn_param_get(g[0], i), q = cn_param_get(g[1], i);
            if (p.trainable)
                same &= memcmp(p.grad->data, q.grad->data, (size_t)cn_tensor_numel(p.grad) * sizeof(cn_real)) == 0;
        }
        cn_shape xs = cn_node_shape(g[0], x[0]);
        if (data_grad)
            same &= memcmp(cn_node_grad(g[0], x[0]), cn_node_grad(g[1], x[1]),
                           (size_t)cn_shape_numel(&xs) * sizeof(cn_real)) == 0;
        else
            same &= cn_node_grad(g[0], x[0]) == NULL;
        for (int i = 0; i < n_marked[0]; i++) {
            int m = marked[0][i];
            cn_shape s = cn_node_shape(g[0], m);
            const cn_real *a = cn_node_output(g[0], m), *b = cn_node_output(g[1], m);
            same &= a && b && memcmp(a, b, (size_t)cn_shape_numel(&s) * sizeof(cn_real)) == 0;
            const cn_real *da = cn_node_grad(g[0], m), *db = cn_node_grad(g[1], m);
            same &= (da == NULL) == (db == NULL); /* NULL: depends on no parameter and no gradient input */
            same &= !da || memcmp(da, db, (size_t)cn_shape_numel(&s) * sizeof(cn_real)) == 0;
        }
        CHECK(same, "random graph %d (%d nodes): the default plan gives what keeping everything gives", trial,
              cn_graph_node_count(g[0]));
        CHECK(cn_graph_memory_bytes(g[0], CN_TRAIN) <= cn_graph_memory_bytes(g[1], CN_TRAIN),
              "random graph %d: the default plan is no larger", trial);
        cn_graph_free(g[0]), cn_graph_free(g[1]);
    }
}

/* After the first step, training steps and inference calls allocate nothing with the new plan either. */
static void steady_state_allocates_nothing(void) {
    net a = build(0, 0);
    cn_optimizer_config oc = cn_sgd_config(0.01, 0.9, 0, 0);
    cn_optimizer *opt = cn_optimizer_create(a.g, &oc);
    CHECK(opt != NULL, "optimizer: %s", cn_last_error());
    cn_test_count_allocations(1);
    step(&a, 0);
    CHECK_OK(cn_optimizer_step(opt));
    CHECK_OK(cn_forward(a.g, CN_EVAL));
    long before = cn_test_allocation_count();
    for (int batch = 1; batch < 4; batch++) {
        step(&a, batch);
        CHECK_OK(cn_optimizer_step(opt));
        CHECK_OK(cn_forward(a.g, CN_EVAL));
    }
    CHECK(cn_test_allocation_count() == before, "steady state allocated %ld times", cn_test_allocation_count() - before);
    cn_test_count_allocations(0);
    cn_optimizer_free(opt);
    cn_graph_free(a.g);
}

int main(void) {
    same_results_in_less_memory();
    what_stays_readable();
    repeated_backward_when_nothing_is_reused();
    random_graphs_match_keeping_everything();
    steady_state_allocates_nothing();
    return cn_test_finish();
}
