/* Numerical gradient checks (double precision) for every pooling op and mode. Inputs are seeded uniform
 * values: distinct, so max pooling is away from ties. */
#include "cn_test.h"

typedef struct {
    const char *label;
    int ndim;
    int64_t dims[5];
    cn_pool_kind kind;
    int k[3], s[3], p[3], d[3];
    int ceil_mode, count_include_pad;
} pool_case;

static void check_graph(cn_graph *g, int x, int y, const char *label, uint64_t seed) {
    CHECK(y >= 0, "%s: %s", label, cn_last_error());
    if (y < 0) return;
    cn_test_fill_input(g, x, seed, -1, 1);
    int failures = cn_gradcheck(g, y, &x, 1, 1e-6, 1e-6, 300);
    CHECK(failures == 0, "%s: %d gradient mismatches", label, failures);
}

static void pool_cases(void) {
    static const pool_case cases[] = {
        {"max 1d k3 s2 p1", 3, {2, 3, 13}, CN_POOL_MAX, {3}, {2}, {1}, {1}, 0, 1},
        {"max 1d k3 s1 p1 overlapping", 3, {1, 2, 11}, CN_POOL_MAX, {3}, {1}, {1}, {1}, 0, 1},
        {"max 1d k3 s3 p1 dil2 ceil", 3, {2, 2, 17}, CN_POOL_MAX, {3}, {3}, {1}, {2}, 1, 1},
        {"max 2d k3 s2 p1 dil2", 4, {1, 2, 13, 11}, CN_POOL_MAX, {3, 3}, {2, 2}, {1, 1}, {2, 2}, 0, 1},
        {"max 2d k3x2 s2x3 p1 ceil", 4, {2, 3, 11, 7}, CN_POOL_MAX, {3, 2}, {2, 3}, {1, 1}, {1, 1}, 1, 1},
        {"max 2d k2 s3 p1 (stride > kernel) ceil", 4, {1, 2, 10, 10}, CN_POOL_MAX, {2, 2}, {3, 3}, {1, 1}, {1, 1}, 1, 1},
        {"max 3d k2x3x3 s2x2x1 p1x1x0 ceil", 5, {1, 2, 5, 7, 6}, CN_POOL_MAX, {2, 3, 3}, {2, 2, 1}, {1, 1, 0}, {1, 1, 1}, 1, 1},
        {"max 3d k3 s2 p1 dil2x1x2", 5, {2, 1, 7, 5, 5}, CN_POOL_MAX, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {2, 1, 2}, 0, 1},
        {"avg 1d k3 s2 p1", 3, {1, 3, 13}, CN_POOL_AVG, {3}, {2}, {1}, {1}, 0, 1},
        {"avg 1d k3 s2 p1 ceil", 3, {2, 2, 8}, CN_POOL_AVG, {3}, {2}, {1}, {1}, 1, 1},
        {"avg 1d k3 s2 p1 ceil exclude pad", 3, {2, 2, 8}, CN_POOL_AVG, {3}, {2}, {1}, {1}, 1, 0},
        {"avg 2d k2 s2 ceil", 4, {1, 2, 7, 7}, CN_POOL_AVG, {2, 2}, {2, 2}, {0, 0}, {1, 1}, 1, 1},
        {"avg 2d k3 s2 p1 ceil exclude pad", 4, {2, 3, 11, 7}, CN_POOL_AVG, {3, 3}, {2, 2}, {1, 1}, {1, 1}, 1, 0},
        {"avg 2d k2x3 s3x4 p1 (stride > kernel)", 4, {1, 2, 13, 13}, CN_POOL_AVG, {2, 3}, {3, 4}, {1, 1}, {1, 1}, 0, 1},
        {"avg 2d k2x3 s3x4 p1 exclude pad", 4, {1, 2, 13, 13}, CN_POOL_AVG, {2, 3}, {3, 4}, {1, 1}, {1, 1}, 0, 0},
        {"avg 3d k3 s2 p1 ceil", 5, {1, 2, 5, 7, 6}, CN_POOL_AVG, {3, 3, 3}, {2, 2, 2}, {1, 1, 1}, {1, 1, 1}, 1, 1},
        {"avg 3d k3x2x3 s2x2x3 p1 ceil exclude pad", 5, {2, 2, 5, 7, 6}, CN_POOL_AVG, {3, 2, 3}, {2, 2, 3}, {1, 1, 1}, {1, 1, 1}, 1, 0},
        {"avg 1d k3 s2 p1 dil2 ceil", 3, {2, 2, 9}, CN_POOL_AVG, {3}, {2}, {1}, {2}, 1, 1},
        {"avg 2d k3x2 s2 p1 dil2x3 ceil exclude pad", 4, {1, 2, 9, 10}, CN_POOL_AVG, {3, 2}, {2, 2}, {1, 1}, {2, 3}, 1, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const pool_case *c = &cases[i];
        cn_graph *g = cn_graph_create();
        int x = cn_input(g, "x", cn_shape_make(c->ndim, c->dims));
        cn_pool_attr a = cn_pool_attr_make(c->kind, 1, 0, 0);
        for (int ax = 0; ax < c->ndim - 2; ax++) {
            a.kernel[ax] = c->k[ax];
            a.stride[ax] = c->s[ax];
            a.pad[ax] = c->p[ax];
            a.dilation[ax] = c->d[ax];
        }
        a.ceil_mode = c->ceil_mode;
        a.count_include_pad = c->count_include_pad;
        check_graph(g, x, cn_pool(g, "pool", x, &a), c->label, 100 + i);
        cn_graph_free(g);
    }
}

static void adaptive_and_global_cases(void) {
    static const struct {
        int ndim;
        int64_t dims[5];
        int out[3];
    } adaptive[] = {
        {3, {2, 3, 10}, {4}},
        {4, {1, 3, 7, 7}, {3, 3}},
        {4, {2, 2, 13, 11}, {5, 4}},
        {4, {1, 2, 5, 3}, {7, 4}},   /* more bins than inputs: overlapping bins */
        {5, {1, 2, 5, 7, 6}, {2, 3, 4}},
    };
    for (size_t i = 0; i < sizeof adaptive / sizeof adaptive[0]; i++) {
        cn_graph *g = cn_graph_create();
        int x = cn_input(g, "x", cn_shape_make(adaptive[i].ndim, adaptive[i].dims));
        char label[64];
        snprintf(label, sizeof label, "adaptive avg case %zu", i);
        check_graph(g, x, cn_adaptive_avgpool(g, "ad", x, adaptive[i].out), label, 200 + i);
        cn_graph_free(g);
    }
    static const struct {
        int ndim;
        int64_t dims[5];
    } global[] = {{3, {2, 3, 13}}, {4, {1, 4, 7, 5}}, {5, {2, 2, 3, 5, 7}}};
    for (size_t i = 0; i < sizeof global / sizeof global[0]; i++)
        for (int kind = 0; kind < 2; kind++) {
            cn_graph *g = cn_graph_create();
            int x = cn_input(g, "x", cn_shape_make(global[i].ndim, global[i].dims));
            char label[64];
            snprintf(label, sizeof label, "global %s rank %d", kind ? "avg" : "max", global[i].ndim);
            check_graph(g, x, cn_global_pool(g, "gp", x, kind ? CN_POOL_AVG : CN_POOL_MAX), label, 300 + i);
            cn_graph_free(g);
        }
}

/* A chain of every op: gradients flow through max -> avg -> adaptive -> global. */
static void chain_case(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 2, 11, 9));
    cn_pool_attr m = cn_pool_attr_make(CN_POOL_MAX, 3, 1, 1);
    m.ceil_mode = 1;
    int a = cn_pool(g, "mp", x, &m);
    cn_pool_attr v = cn_pool_attr_make(CN_POOL_AVG, 2, 1, 1);
    v.count_include_pad = 0;
    int b = cn_pool(g, "ap", a, &v);
    int c = cn_adaptive_avgpool(g, "ad", b, (int[]){5, 3});
    int d = cn_global_pool(g, "gm", c, CN_POOL_MAX);
    check_graph(g, x, d, "max -> avg -> adaptive -> global max chain", 400);
    cn_graph_free(g);
}

/* A max pool whose input has a second reader: the gradient born at whichever reader comes last in the forward
 * order (a max pool sets it fresh, plane by plane; an average pool's is zeroed first), the other adds into it;
 * and a ReLU -> max pool (fused in training: the pool writes the ReLU's input gradient) whose input is read
 * again. Windows of stride 3 > kernel 2 leave inputs no window covers: a fresh plane must hold zeros there. */
static void shared_input_cases(void) {
    for (int order = 0; order < 3; order++) {
        cn_graph *g = cn_graph_create();
        int x = cn_input(g, "x", cn_shape4(2, 3, 10, 10));
        cn_pool_attr m = cn_pool_attr_make(CN_POOL_MAX, 2, 3, 0), v = cn_pool_attr_make(CN_POOL_AVG, 2, 3, 0);
        int y;
        if (order == 0) {
            int a = cn_pool(g, "mp", x, &m);
            y = cn_add(g, "sum", a, cn_pool(g, "ap", x, &v));
        } else if (order == 1) {
            int b = cn_pool(g, "ap", x, &v);
            y = cn_add(g, "sum", cn_pool(g, "mp", x, &m), b);
        } else {
            int r = cn_relu(g, "relu", x);
            int a = cn_pool(g, "mp", r, &m);
            y = cn_add(g, "sum", a, cn_pool(g, "ap", x, &v));
        }
        const char *label[] = {"max pool then avg pool on one input", "avg pool then max pool on one input",
                               "relu -> max pool (fused) and avg pool on one input"};
        check_graph(g, x, y, label[order], 500 + order);
        cn_graph_free(g);
    }
}

int main(void) {
    pool_cases();
    shared_input_cases();
    adaptive_and_global_cases();
    chain_case();
    return cn_test_finish();
}
