/* Numerical gradient checks (double precision) for the activations, PReLU, Softmax / LogSoftmax and Dropout.
 * ReLU, LeakyReLU, PReLU (and ELU's second-derivative jump) have a kink at 0: their inputs are kept at
 * least 0.1 away from it, so that x +- eps never crosses it. */
#include "cn_test.h"
#include <stdlib.h>

#define EPS 1e-6
#define TOL 1e-6
#define MAX_PER_TENSOR 200

/* Fill input x with values of magnitude in [0.1, 2) and random sign: away from the kink at 0. */
static void fill_away_from_zero(cn_graph *g, int x, uint64_t seed) {
    cn_shape s = cn_node_shape(g, x);
    int64_t n = cn_shape_numel(&s);
    cn_real *v = malloc((size_t)n * sizeof(cn_real));
    cn_rng r;
    cn_rng_seed(&r, seed, 11);
    for (int64_t i = 0; i < n; i++) {
        cn_real mag = (cn_real)(0.1 + 1.9 * cn_rng_uniform(&r));
        v[i] = cn_rng_u32(&r) & 1 ? mag : -mag;
    }
    CHECK_OK(cn_set_input(g, x, v, n));
    free(v);
}

static cn_shape shape_of(int ndim, const int64_t *dims) { return cn_shape_make(ndim, dims); }

static const int64_t S2[] = {3, 7}, S3[] = {2, 3, 5}, S4[] = {2, 3, 5, 7}, S4B1[] = {1, 4, 3, 5},
                     S5[] = {2, 2, 3, 3, 3};
static const struct {
    int ndim;
    const int64_t *dims;
} shapes[] = {{2, S2}, {3, S3}, {4, S4}, {4, S4B1}, {5, S5}};
#define N_SHAPES ((int)(sizeof shapes / sizeof shapes[0]))

static void elementwise(void) {
    const struct {
        cn_act act;
        float alpha;
    } cases[] = {
        {CN_ACT_RELU, 0},    {CN_ACT_LEAKY_RELU, 0.01f}, {CN_ACT_LEAKY_RELU, 0.2f}, {CN_ACT_ELU, 1.0f},
        {CN_ACT_ELU, 0.5f},  {CN_ACT_SIGMOID, 0},        {CN_ACT_TANH, 0},          {CN_ACT_GELU, 0},
        {CN_ACT_GELU_TANH, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int s = 0; s < N_SHAPES; s += 2) { /* 2-D, 4-D, 5-D */
            cn_graph *g = cn_graph_create();
            int x = cn_input(g, "x", shape_of(shapes[s].ndim, shapes[s].dims));
            int y = cn_activation(g, NULL, x, cases[k].act, cases[k].alpha);
            fill_away_from_zero(g, x, 10 * k + s);
            if (cn_gradcheck(g, y, &x, 1, EPS, TOL, MAX_PER_TENSOR))
                fprintf(stderr, "  (activation %d alpha %g, shape %d)\n", (int)cases[k].act, cases[k].alpha, s);
            cn_graph_free(g);
        }
}

/* PReLU: input and slope gradients, 1 or C slopes, on 2-D, 3-D, 4-D (batch 1) and 5-D inputs; the slopes
 * are made distinct (one negative) so that a wrong channel shows. */
static void prelu(void) {
    for (int s = 0; s < N_SHAPES; s++)
        for (int per_channel = 0; per_channel < 2; per_channel++) {
            cn_graph *g = cn_graph_create();
            int x = cn_input(g, "x", shape_of(shapes[s].ndim, shapes[s].dims));
            int channels = (int)shapes[s].dims[1];
            int y = cn_prelu(g, NULL, x, per_channel ? channels : 1, 0.25f);
            CHECK(y >= 0, "prelu builds: %s", cn_last_error());
            cn_param w = cn_param_get(g, cn_param_find(g, "prelu1.weight"));
            for (int c = 0; c < (per_channel ? channels : 1); c++) w.value->data[c] = (cn_real)(0.3 * c - 0.2);
            fill_away_from_zero(g, x, 100 + s);
            if (cn_gradcheck(g, y, &x, 1, EPS, TOL, MAX_PER_TENSOR))
                fprintf(stderr, "  (prelu shape %d per_channel %d)\n", s, per_channel);
            cn_graph_free(g);
        }
}

static void softmax(void) {
    const struct {
        int shape, axis;
    } cases[] = {{0, 1}, {0, -1}, {0, 0}, {1, -1}, {2, 1}, {3, -2}, {4, 2}, {4, -1}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        for (int log = 0; log < 2; log++) {
            cn_graph *g = cn_graph_create();
            int s = cases[k].shape;
            int x = cn_input(g, "x", shape_of(shapes[s].ndim, shapes[s].dims));
            int y = log ? cn_log_softmax(g, NULL, x, cases[k].axis) : cn_softmax(g, NULL, x, cases[k].axis);
            cn_test_fill_input(g, x, 200 + k, -3, 3);
            if (cn_gradcheck(g, y, &x, 1, EPS, TOL, MAX_PER_TENSOR))
                fprintf(stderr, "  (%s shape %d axis %d)\n", log ? "log_softmax" : "softmax", s, cases[k].axis);
            cn_graph_free(g);
        }
}

/* The harness reseeds the graph before every forward, so each finite difference sees the same mask. */
static void dropout(void) {
    const float ps[] = {0.0f, 0.3f, 0.5f, 0.9f, 1.0f};
    for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
        int s = (int)k % N_SHAPES;
        cn_graph *g = cn_graph_create();
        int x = cn_input(g, "x", shape_of(shapes[s].ndim, shapes[s].dims));
        int y = cn_dropout(g, NULL, x, ps[k]);
        cn_test_fill_input(g, x, 300 + k, -1, 1);
        if (cn_gradcheck(g, y, &x, 1, EPS, TOL, MAX_PER_TENSOR)) fprintf(stderr, "  (dropout p %g)\n", ps[k]);
        cn_graph_free(g);
    }
}

/* A small chain through several ops of the family, so that gradients flow from op to op. */
static void chain(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 3, 3, 5));
    int h = cn_prelu(g, NULL, x, 3, 0.25f);
    h = cn_dropout(g, NULL, h, 0.25f);
    h = cn_activation(g, NULL, h, CN_ACT_TANH, 0);
    h = cn_activation(g, NULL, h, CN_ACT_GELU, 0);
    h = cn_log_softmax(g, NULL, h, 1);
    fill_away_from_zero(g, x, 400);
    cn_gradcheck(g, h, &x, 1, EPS, TOL, MAX_PER_TENSOR);
    cn_graph_free(g);
}

int main(void) {
    elementwise();
    prelu();
    softmax();
    dropout();
    chain();
    return cn_test_finish();
}
