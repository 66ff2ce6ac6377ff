/* The threaded activation, pooling and batch-norm kernels (threaded.c) against their reference twins: the same
 * bits for 1, 2 and 3 threads, on odd shapes large enough to be split (and small ones that are not). */
#include "cn_test.h"
#include "kernels/act.h"
#include "kernels/norm.h"
#include "kernels/pool.h"
#include "kernels/tensor.h"
#include <omp.h>
#include <stdlib.h>

static cn_real *rnd(int64_t n, uint64_t seed) {
    cn_real *b = malloc((size_t)(n > 0 ? n : 1) * sizeof(cn_real));
    cn_rng r;
    cn_rng_seed(&r, seed, 3);
    cn_rng_fill_uniform(&r, b, n, -2, 2);
    return b;
}

static bool same(const cn_real *a, const cn_real *b, int64_t n) { return memcmp(a, b, (size_t)n * sizeof(cn_real)) == 0; }

static void activations(int threads) {
    const int64_t sizes[] = {1, 17, 40009, 131101};
    const cn_act acts[] = {CN_ACT_RELU, CN_ACT_LEAKY_RELU, CN_ACT_ELU, CN_ACT_SIGMOID, CN_ACT_TANH, CN_ACT_GELU,
                           CN_ACT_GELU_TANH};
    for (int si = 0; si < 4; si++)
        for (int a = 0; a < 7; a++) {
            int64_t n = sizes[si];
            cn_real *x = rnd(n, 1), *dy = rnd(n, 2), *y1 = malloc(n * sizeof(cn_real)), *y2 = malloc(n * sizeof(cn_real));
            cn_real *d1 = rnd(n, 3), *d2 = malloc(n * sizeof(cn_real));
            memcpy(d2, d1, n * sizeof(cn_real));
            cn_act_forward_ref(acts[a], 0.1f, x, y1, n);
            cn_act_forward_par(acts[a], 0.1f, x, y2, n);
            cn_act_backward_ref(acts[a], 0.1f, x, y1, dy, d1, n, false);
            cn_act_backward_par(acts[a], 0.1f, x, y2, dy, d2, n, false);
            CHECK(same(y1, y2, n) && same(d1, d2, n), "activation %d, n %lld, %d threads: bits differ", (int)acts[a],
                  (long long)n, threads);
            /* set (a fresh gradient): what adding into zeros gives, whatever dx held */
            cn_real *zeros = calloc((size_t)n, sizeof(cn_real));
            for (int64_t i = 0; i < n; i++) d2[i] = NAN;
            cn_act_backward_ref(acts[a], 0.1f, x, y1, dy, zeros, n, false);
            cn_act_backward_par(acts[a], 0.1f, x, y2, dy, d2, n, true);
            CHECK(same(zeros, d2, n), "activation %d, n %lld, %d threads: set differs from added to zero", (int)acts[a],
                  (long long)n, threads);
            free(zeros);
            free(x), free(dy), free(y1), free(y2), free(d1), free(d2);
        }
}

static void pooling(int threads) {
    typedef struct {
        int64_t planes, in[3], k[3], s[3], p[3], d[3];
        bool include_pad;
    } pool_case;
    const pool_case cases[] = {
        {64 * 20, {1, 28, 28}, {1, 2, 2}, {1, 2, 2}, {0, 0, 0}, {1, 1, 1}, true},
        {37, {1, 57, 31}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, false},
        {11, {7, 13, 29}, {2, 3, 2}, {2, 1, 3}, {1, 1, 0}, {1, 2, 1}, true},
        {3, {1, 5, 3}, {1, 2, 2}, {1, 1, 1}, {0, 0, 0}, {1, 1, 1}, true}, /* too small to split */
        {5, {1, 1, 23}, {1, 1, 4}, {1, 1, 3}, {0, 0, 2}, {1, 1, 1}, true},  /* 1D, stride 3 */
        {6, {1, 19, 17}, {1, 3, 2}, {1, 1, 1}, {0, 1, 1}, {1, 2, 3}, true}, /* stride 1, dilation */
        {64, {1, 112, 112}, {1, 3, 3}, {1, 2, 2}, {0, 1, 1}, {1, 1, 1}, true}, /* ResNet's stem pool */
        {7, {1, 13, 37}, {1, 2, 2}, {1, 2, 2}, {0, 0, 0}, {1, 1, 1}, true}, /* 2x2/2: 8-wide steps and a tail */
        {64 * 50, {1, 14, 14}, {1, 2, 2}, {1, 2, 2}, {0, 0, 0}, {1, 1, 1}, true}, /* LeNet's pool2: only a tail */
        {9, {1, 5, 3}, {1, 2, 2}, {1, 2, 2}, {0, 0, 0}, {1, 1, 1}, true},  /* one output column */
    };
    for (int ci = 0; ci < (int)(sizeof cases / sizeof cases[0]); ci++) {
        const pool_case *c = &cases[ci];
        cn_pool_geom g = {.count_include_pad = c->include_pad};
        for (int a = 0; a < 3; a++) {
            g.in[a] = c->in[a], g.kernel[a] = c->k[a], g.stride[a] = c->s[a], g.pad[a] = c->p[a], g.dilation[a] = c->d[a];
            g.out[a] = (c->in[a] + 2 * c->p[a] - c->d[a] * (c->k[a] - 1) - 1) / c->s[a] + 1;
        }
        int64_t ni = c->planes * g.in[0] * g.in[1] * g.in[2], no = c->planes * g.out[0] * g.out[1] * g.out[2];
        cn_real *x = rnd(ni, 4), *dy = rnd(no, 5), *y1 = malloc(no * sizeof(cn_real)), *y2 = malloc(no * sizeof(cn_real));
        int64_t *a1 = malloc(no * sizeof(int64_t)), *a2 = malloc(no * sizeof(int64_t));
        cn_real *d1 = rnd(ni, 6), *d2 = malloc(ni * sizeof(cn_real));
        memcpy(d2, d1, ni * sizeof(cn_real));
        cn_maxpool_forward_ref(&g, c->planes, x, y1, a1);
        cn_maxpool_forward_par(&g, c->planes, x, y2, a2);
        cn_maxpool_backward_ref(c->planes, ni / c->planes, no / c->planes, dy, a1, d1, false);
        cn_maxpool_backward_par(c->planes, ni / c->planes, no / c->planes, dy, a2, d2, false);
        CHECK(same(y1, y2, no) && memcmp(a1, a2, no * sizeof(int64_t)) == 0 && same(d1, d2, ni),
              "maxpool case %d, %d threads: bits differ", ci, threads);
        /* evaluation (no argmax) and training (argmax), both on the 2D row paths, with NaN, -inf, signed zeros,
         * equal neighbours and a window of -inf among the inputs */
        x[0] = NAN, x[ni / 2] = -INFINITY, x[ni / 3] = 0.0f, x[ni / 3 + 1] = -0.0f, x[ni - 1] = NAN;
        x[ni / 5 + 1] = x[ni / 5];
        for (int64_t i = ni / 7; i < ni / 7 + 2 * g.in[2] && i < ni; i++) x[i] = -INFINITY;
        cn_maxpool_forward_ref(&g, c->planes, x, y1, NULL);
        cn_maxpool_forward_par(&g, c->planes, x, y2, NULL);
        CHECK(same(y1, y2, no), "maxpool case %d (eval), %d threads: bits differ", ci, threads);
        cn_maxpool_forward_ref(&g, c->planes, x, y1, a1);
        cn_maxpool_forward_par(&g, c->planes, x, y2, a2);
        CHECK(same(y1, y2, no) && memcmp(a1, a2, no * sizeof(int64_t)) == 0,
              "maxpool case %d (special values), %d threads: bits or argmax differ", ci, threads);
        cn_real *xs = rnd(ni, 4); /* the other kernels below get the plain data */
        memcpy(x, xs, ni * sizeof(cn_real));
        free(xs);
        cn_avgpool_forward_ref(&g, c->planes, x, y1);
        cn_avgpool_forward_par(&g, c->planes, x, y2);
        cn_avgpool_backward_ref(&g, c->planes, dy, d1);
        cn_avgpool_backward_par(&g, c->planes, dy, d2);
        CHECK(same(y1, y2, no) && same(d1, d2, ni), "avgpool case %d, %d threads: bits differ", ci, threads);
        const int64_t out[3] = {1, 3, 5};
        int64_t na = c->planes * 15;
        cn_real *ya = malloc(na * sizeof(cn_real)), *yb = malloc(na * sizeof(cn_real)), *dya = rnd(na, 14);
        cn_adaptive_avgpool_forward_ref(g.in, out, c->planes, x, ya);
        cn_adaptive_avgpool_forward_par(g.in, out, c->planes, x, yb);
        cn_adaptive_avgpool_backward_ref(g.in, out, c->planes, dya, d1);
        cn_adaptive_avgpool_backward_par(g.in, out, c->planes, dya, d2);
        CHECK(same(ya, yb, na) && same(d1, d2, ni), "adaptive pool case %d, %d threads: bits differ", ci, threads);
        free(x), free(dy), free(y1), free(y2), free(a1), free(a2), free(d1), free(d2), free(ya), free(yb), free(dya);
    }
}

static void batchnorm(int threads) {
    const int64_t shapes[][3] = {{32, 64, 56 * 56 / 4}, {7, 13, 401}, {3, 5, 1}, {1, 3, 40009}};
    for (int si = 0; si < 4; si++) {
        int64_t n = shapes[si][0], c = shapes[si][1], s = shapes[si][2], total = n * c * s;
        cn_real *x = rnd(total, 7), *dy = rnd(total, 8), *w = rnd(c, 9), *b = rnd(c, 10);
        double *m1 = malloc(c * sizeof(double)), *m2 = malloc(c * sizeof(double));
        double *v1 = malloc(c * sizeof(double)), *v2 = malloc(c * sizeof(double));
        cn_batchnorm_stats_ref(x, n, c, s, m1, v1);
        cn_batchnorm_stats_par(x, n, c, s, m2, v2);
        CHECK(memcmp(m1, m2, c * sizeof(double)) == 0 && memcmp(v1, v2, c * sizeof(double)) == 0,
              "batchnorm stats %lldx%lldx%lld, %d threads: bits differ", (long long)n, (long long)c, (long long)s, threads);
        for (int64_t i = 0; i < c; i++) v1[i] = 1.0 / sqrt(v1[i] + 1e-5);
        cn_real *y1 = malloc(total * sizeof(cn_real)), *y2 = malloc(total * sizeof(cn_real));
        cn_batchnorm_apply_ref(x, y1, n, c, s, m1, v1, w, b);
        cn_batchnorm_apply_par(x, y2, n, c, s, m1, v1, w, b);
        cn_real *d1 = rnd(total, 11), *d2 = malloc(total * sizeof(cn_real)), *dw1 = rnd(c, 12), *dw2 = malloc(c * sizeof(cn_real));
        cn_real *db1 = rnd(c, 13), *db2 = malloc(c * sizeof(cn_real));
        memcpy(d2, d1, total * sizeof(cn_real)), memcpy(dw2, dw1, c * sizeof(cn_real)), memcpy(db2, db1, c * sizeof(cn_real));
        cn_batchnorm_backward_ref(x, dy, d1, n, c, s, m1, v1, w, dw1, db1, false);
        cn_batchnorm_backward_par(x, dy, d2, n, c, s, m1, v1, w, dw2, db2, false);
        CHECK(same(y1, y2, total) && same(d1, d2, total) && same(dw1, dw2, c) && same(db1, db2, c),
              "batchnorm apply/backward %lldx%lldx%lld, %d threads: bits differ", (long long)n, (long long)c,
              (long long)s, threads);
        /* set (a fresh dx): what adding into zeros gives, whatever dx held */
        for (int64_t i = 0; i < total; i++) d1[i] = 0, d2[i] = NAN;
        cn_batchnorm_backward_ref(x, dy, d1, n, c, s, m1, v1, w, dw1, db1, false);
        cn_batchnorm_backward_par(x, dy, d2, n, c, s, m1, v1, w, dw2, db2, true);
        CHECK(same(d1, d2, total), "batchnorm backward %lldx%lldx%lld, %d threads: set differs from added to zero",
              (long long)n, (long long)c, (long long)s, threads);
        free(x), free(dy), free(w), free(b), free(m1), free(m2), free(v1), free(v2), free(y1), free(y2);
        free(d1), free(d2), free(dw1), free(dw2), free(db1), free(db2);
    }
}

/* cn_fill_par: a copy, or zeros, of every element (sizes below and above the split, not a multiple of it) */
static void fill(int threads) {
    const int64_t sizes[] = {1, 4099, 1 << 18, (1 << 21) + 77};
    for (int si = 0; si < 4; si++) {
        int64_t n = sizes[si];
        cn_real *src = rnd(n, 7), *dst = rnd(n, 8), *zero = calloc((size_t)n, sizeof(cn_real));
        cn_fill_par(dst, src, n);
        CHECK(same(dst, src, n), "fill copy, n %lld, %d threads", (long long)n, threads);
        cn_fill_par(dst, NULL, n);
        CHECK(same(dst, zero, n), "fill zero, n %lld, %d threads", (long long)n, threads);
        free(src), free(dst), free(zero);
    }
}

int main(void) {
    CHECK(cn_act_forward == cn_act_forward_par && cn_maxpool_forward == cn_maxpool_forward_par &&
              cn_batchnorm_backward == cn_batchnorm_backward_par,
          "the threaded kernels are the default dispatch");
    for (int threads = 1; threads <= 3; threads++) {
        omp_set_num_threads(threads);
        activations(threads);
        pooling(threads);
        batchnorm(threads);
        fill(threads);
    }
    return cn_test_finish();
}
