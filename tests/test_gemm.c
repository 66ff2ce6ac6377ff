/* The blocked GEMM on every kernel set this CPU can run, against the reference, on odd shapes and every
 * transpose, alpha and beta. */
#include "cn_test.h"
#include "kernels/gemm.h"
#include <math.h>
#include <omp.h>
#include <stdlib.h>

static void fill(cn_real *x, int64_t n, uint64_t seed) {
    cn_rng r;
    cn_rng_seed(&r, seed, 1);
    cn_rng_fill_uniform(&r, x, n, -1, 1);
}

static void check_shape(const char *isa, int64_t m, int64_t n, int64_t k, bool ta, bool tb, float alpha, float beta) {
    int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2; /* padded strides */
    cn_real *a = malloc(sizeof(cn_real) * (size_t)((ta ? k : m) * lda + 1));
    cn_real *b = malloc(sizeof(cn_real) * (size_t)((tb ? n : k) * ldb + 1));
    cn_real *c = malloc(sizeof(cn_real) * (size_t)(m * ldc + 1)), *cref = malloc(sizeof(cn_real) * (size_t)(m * ldc + 1));
    fill(a, (ta ? k : m) * lda, 1);
    fill(b, (tb ? n : k) * ldb, 2);
    fill(c, m * ldc, 3);
    if (beta == 0)
        for (int64_t i = 0; i < m * ldc; i++) c[i] = NAN; /* beta 0 must ignore C */
    memcpy(cref, c, sizeof(cn_real) * (size_t)(m * ldc));
    if (beta == 0)
        for (int64_t i = 0; i < m * ldc; i++) cref[i] = 0;
    void *ws = aligned_alloc(64, (cn_gemm_workspace(m, n, k) + 63) / 64 * 64);
    cn_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ws);
    cn_gemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, cref, ldc);
    double maxerr = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double e = fabs((double)c[i * ldc + j] - (double)cref[i * ldc + j]);
            if (!(e <= maxerr)) maxerr = e;
        }
    /* fp32 accumulation over k terms of magnitude <= 1 */
    double tol = 1e-6 * (double)(k + 4) * 4;
    CHECK(maxerr <= tol, "%s gemm m=%lld n=%lld k=%lld ta=%d tb=%d alpha=%g beta=%g: error %g > %g", isa, (long long)m,
          (long long)n, (long long)k, ta, tb, alpha, beta, maxerr, tol);
    free(ws);
    free(a), free(b), free(c), free(cref);
}

/* Pre-packed operands: pack A and B (every transpose), multiply, compare with the reference. */
static void check_packed(const char *isa, int64_t m, int64_t n, int64_t k, bool ta, bool tb, float beta) {
    int64_t lda = (ta ? m : k) + 1, ldb = (tb ? k : n) + 2, ldc = n + 1;
    cn_real *a = malloc(sizeof(cn_real) * (size_t)((ta ? k : m) * lda));
    cn_real *b = malloc(sizeof(cn_real) * (size_t)((tb ? n : k) * ldb));
    cn_real *c = malloc(sizeof(cn_real) * (size_t)(m * ldc)), *cref = malloc(sizeof(cn_real) * (size_t)(m * ldc));
    cn_real *ap = aligned_alloc(64, (sizeof(cn_real) * cn_gemm_packed_a_size(m, k) + 63) / 64 * 64);
    cn_real *bp = aligned_alloc(64, (sizeof(cn_real) * cn_gemm_packed_b_size(k, n) + 63) / 64 * 64);
    fill(a, (ta ? k : m) * lda, 4);
    fill(b, (tb ? n : k) * ldb, 5);
    fill(c, m * ldc, 6);
    memcpy(cref, c, sizeof(cn_real) * (size_t)(m * ldc));
    if (beta == 0)
        for (int64_t i = 0; i < m * ldc; i++) c[i] = NAN;
    cn_gemm_pack_a(ta, m, k, a, lda, ap);
    cn_gemm_pack_b(tb, k, n, b, ldb, bp);
    cn_gemm_packed(m, n, k, 0.5f, ap, bp, beta, c, ldc);
    cn_gemm_ref(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, beta, cref, ldc);
    double maxerr = 0;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double e = fabs((double)c[i * ldc + j] - (double)cref[i * ldc + j]);
            if (!(e <= maxerr)) maxerr = e;
        }
    double tol = 1e-6 * (double)(k + 4) * 4;
    CHECK(maxerr <= tol, "%s packed gemm m=%lld n=%lld k=%lld ta=%d tb=%d beta=%g: error %g > %g", isa, (long long)m,
          (long long)n, (long long)k, ta, tb, beta, maxerr, tol);
    free(a), free(b), free(c), free(cref), free(ap), free(bp);
}

int main(void) {
    const char *sets[] = {"avx512", "avx2", "portable"};
    const int64_t sizes[][3] = {{1, 1, 1}, {6, 32, 1}, {7, 33, 5}, {13, 17, 29}, {1, 500, 2450}, {64, 10, 500},
                                {97, 131, 257}, {5, 3000, 7}, {800, 40, 300}, {37, 2100, 11},
                                {401, 67, 389}, {9, 2081, 397}, {17, 48, 16}, {8, 32, 385}, /* past KC, MC, NC */
                                {777, 129, 70}, {390, 300, 100},   /* row blocks of different panel counts */
                                {2, 1000, 2048}, {4, 37, 513}, {3, 65, 17}, /* few rows: no packing */
                                {64, 2450, 500}, /* a fully connected data gradient (B read in place: 2448 + 2) */
                                /* x W^T with W read in place (tb, <= 128 rows, depth >= 512): rows and columns off
                                 * the 8 x 8 transposition blocks, W in blocks of 512 rows and a rest */
                                {37, 530, 700}, {128, 21, 1030}};
    for (int s = 0; s < 3; s++) {
        if (cn_kernels_select(sets[s]) != CN_OK) {
            printf("SKIP %s kernels: %s\n", sets[s], cn_last_error());
            continue;
        }
        CHECK(strcmp(cn_kernels_isa(), sets[s]) == 0, "selected %s", sets[s]);
        int saved = omp_get_max_threads();
        /* 1, 2 and 3 threads: rows of A shared out (or, with few row panels, tiles), blocks past MC */
        for (int threads = 1; threads <= 3; threads++) {
            omp_set_num_threads(threads);
            for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
                for (int t = 0; t < 4; t++)
                    check_shape(sets[s], sizes[i][0], sizes[i][1], sizes[i][2], t & 1, t & 2, t == 3 ? 0.5f : 1.0f,
                                t == 0 ? 0.0f : t == 1 ? 1.0f : -0.75f);
        }
        omp_set_num_threads(saved);
        const int64_t psizes[][3] = {{1, 1, 1}, {8, 32, 384}, {9, 33, 385}, {13, 17, 800}, {64, 100, 5}, {3, 70, 29}};
        for (size_t i = 0; i < sizeof psizes / sizeof psizes[0]; i++)
            for (int t = 0; t < 4; t++)
                check_packed(sets[s], psizes[i][0], psizes[i][1], psizes[i][2], t & 1, t & 2, t == 1 ? 0.0f : 1.0f);
    }
    CHECK(cn_kernels_select("sse9") == CN_ERR_INVALID, "unknown set rejected");
    return cn_test_finish();
}
