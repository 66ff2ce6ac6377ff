/* gemm_blocked.c — the blocked SGEMM (Goto/BLIS scheme): for each KC-deep slice, B is packed into
 * NR-wide column panels and A into MR-tall row panels (zero-padded to whole tiles), then every MR x NR tile
 * of C is one micro-kernel call that keeps its accumulators in registers. The B micro-panel (KC x NR)
 * stays in L1 while a thread walks the A panels in L2. Threads split the tiles, B-panel-major.
 * The double build (gradient checks) uses the reference. */
#include "kernels/gemm.h"
#include <omp.h>
#include <stdlib.h>

#ifdef CN_REAL_IS_DOUBLE

size_t cn_gemm_workspace(int64_t m, int64_t n, int64_t k) {
    CN_UNUSED(m), CN_UNUSED(n), CN_UNUSED(k);
    return 0;
}
void cn_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, cn_real alpha, const cn_real *a, int64_t lda,
             const cn_real *b, int64_t ldb, cn_real beta, cn_real *c, int64_t ldc, void *workspace) {
    CN_UNUSED(workspace);
    cn_gemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
const char *cn_kernels_isa(void) { return "ref"; }
cn_gemm_blocks cn_gemm_blocking(void) { return (cn_gemm_blocks){1, 1, 1 << 30}; }
size_t cn_gemm_packed_a_size(int64_t m, int64_t k) { return (size_t)(m * k); }
size_t cn_gemm_packed_b_size(int64_t k, int64_t n) { return (size_t)(k * n); }
/* MR = NR = 1, KC = K: packed A is A row-major (A[i][q] at i*K + q), packed B is B^T row-major (B[q][j] at
 * j*K + q) */
void cn_gemm_pack_a(bool ta, int64_t m, int64_t k, const cn_real *a, int64_t lda, cn_real *packed) {
    for (int64_t i = 0; i < m; i++)
        for (int64_t q = 0; q < k; q++) packed[i * k + q] = ta ? a[q * lda + i] : a[i * lda + q];
}
void cn_gemm_pack_b(bool tb, int64_t k, int64_t n, const cn_real *b, int64_t ldb, cn_real *packed) {
    for (int64_t j = 0; j < n; j++)
        for (int64_t q = 0; q < k; q++) packed[j * k + q] = tb ? b[j * ldb + q] : b[q * ldb + j];
}
void cn_gemm_packed(int64_t m, int64_t n, int64_t k, cn_real alpha, const cn_real *ap, const cn_real *bp, cn_real beta,
                    cn_real *c, int64_t ldc) {
    cn_gemm_ref(false, true, m, n, k, alpha, ap, k, bp, k, beta, c, ldc);
}
void cn_gemm_packed_epilogue(int64_t m, int64_t n, int64_t k, const cn_real *ap, const cn_real *bp, cn_real *c,
                             int64_t ldc, const cn_real *scale, const cn_real *shift, bool relu) {
    cn_gemm_packed(m, n, k, 1, ap, bp, 0, c, ldc);
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            cn_real v = (scale ? scale[i] : 1) * c[i * ldc + j] + (shift ? shift[i] : 0);
            c[i * ldc + j] = relu && !(v > 0) ? 0 : v;
        }
}
void cn_gemm_packed_rows(int64_t m, int64_t n, int64_t k, int64_t r0, int64_t r1, const cn_real *ap,
                         const cn_real *bp, cn_real *c, int64_t ldc, const cn_real *scale, const cn_real *shift,
                         bool relu) {
    CN_UNUSED(m);
    if (r1 <= r0) return;
    if (scale || shift)
        cn_gemm_packed_epilogue(r1 - r0, n, k, ap + r0 * k, bp, c + r0 * ldc, ldc, scale ? scale + r0 : NULL,
                                shift ? shift + r0 : NULL, relu);
    else cn_gemm_packed(r1 - r0, n, k, 1, ap + r0 * k, bp, 0, c + r0 * ldc, ldc);
}
bool cn_gemm_strided_b_ok(int64_t k, int64_t n) {
    CN_UNUSED(k), CN_UNUSED(n);
    return false;
}
void cn_gemm_packed_rows_strided_b(int64_t m, int64_t n, int64_t k, int64_t r0, int64_t r1, const cn_real *ap,
                                   const cn_real *b, int64_t ldb, cn_real beta, cn_real *c, int64_t ldc,
                                   const cn_real *scale, const cn_real *shift, unsigned flags) {
    CN_UNUSED(m);
    bool relu = flags & CN_GEMM_RELU;
    for (int64_t i = r0; i < r1; i++)
        for (int64_t j = 0; j < n; j++) {
            cn_real v = beta != 0 ? beta * c[i * ldc + j] : 0;
            for (int64_t q = 0; q < k; q++) v += ap[i * k + q] * b[q * ldb + j];
            if (scale || shift) v = (scale ? scale[i] : 1) * v + (shift ? shift[i] : 0);
            c[i * ldc + j] = (scale || shift) && relu && !(v > 0) ? 0 : v;
        }
}
cn_status cn_kernels_select(const char *isa) {
    return strcmp(isa, "ref") == 0 ? CN_OK : cn_error(CN_ERR_UNSUPPORTED, "the double build has only the reference kernels");
}

#else

#include <immintrin.h>
#include "kernels/simd256.h"
#include "kernels/simd512.h"

/* The write-back epilogue of a tile (cn_gemm_packed_epilogue): row i of the tile becomes
 * scale[i] * (acc + beta * C) + shift[i] (then max(., 0) when relu; no scale: 1, no shift: 0); beta is 0 (a
 * single depth block) or 1 (C holds the earlier depth blocks' sums); alpha is 1. */
typedef struct {
    const float *scale, *shift;
    bool relu;
    bool stream; /* whole 16-column rows of an aligned C go out with non-temporal stores (CN_GEMM_STREAM) */
} gemm_epi;

/* C[0..m) x [0..n) = alpha * (packed A panel) x (packed B panel) + beta * C, kc deep (beta 0: C is not
 * read), or the epilogue e of the tile when e is not NULL. m <= mr and n <= nr: the edges of C are handled by
 * storing only the valid corner. */
typedef void (*ukernel_fn)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha, float beta,
                           int m, int n, const gemm_epi *e);

/* A kernel set: register tile mr x nr and the cache blocking it was tuned with (the KC x nr B micro-panel
 * stays in L1 with room to spare, the MC x KC A block in L2, the KC x NC B block in L3). */
typedef struct {
    const char *name;
    int mr, nr, kc, mc, nc;
    ukernel_fn kernel;
} isa_def;

/* C = alpha * tile + beta * C on the valid m x n corner of a full tile (row stride nr). */
static void store_tile(const float *tile, int nr, float *c, int64_t ldc, float alpha, float beta, int m, int n,
                       const gemm_epi *e) {
    if (e) {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                float v = (e->scale ? e->scale[i] : 1.0f) * (tile[i * nr + j] + (beta == 0.0f ? 0.0f : c[i * ldc + j])) +
                          (e->shift ? e->shift[i] : 0.0f);
                c[i * ldc + j] = e->relu && !(v > 0.0f) ? 0.0f : v;
            }
        return;
    }
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
            c[i * ldc + j] = alpha * tile[i * nr + j] + (beta == 0.0f ? 0.0f : beta * c[i * ldc + j]);
}

/* ---- portable: plain C the compiler can vectorise at the baseline ISA */
enum { MR_PORTABLE = 6, NR_PORTABLE = 16 };
static void ukernel_portable(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha,
                             float beta, int m, int n, const gemm_epi *e) {
    float acc[MR_PORTABLE * NR_PORTABLE] = {0};
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < MR_PORTABLE; i++) {
            float av = a[p * MR_PORTABLE + i];
            for (int j = 0; j < NR_PORTABLE; j++) acc[i * NR_PORTABLE + j] += av * b[p * NR_PORTABLE + j];
        }
    }
    store_tile(acc, NR_PORTABLE, c, ldc, alpha, beta, m, n, e);
}

/* ---- AVX2 + FMA: 6 x 16, twelve ymm accumulators (+ 2 for B and 1 broadcast: 15 of 16 registers) */
enum { MR_AVX2 = 6 };
/* A panel's last 1-2 columns (a 7x7 plane's 49th): the half tile below would spend 6 FMAs per depth step on
 * them, as much as on 8 columns. Here 4 depth steps of the packed A panel (4 x 6 floats) are 3 whole vectors,
 * each multiplied by the column's B values of the depth steps its lanes belong to (broadcasts blended: lanes 0-5
 * of the first vector are step 0, lanes 6-7 step 1, ...): 3 FMAs per 4 steps and column. The sums come out in
 * the panel's own layout (step slot x row), so a row's total is 4 lanes of it. */
__attribute__((target("avx2,fma"))) static void narrow_tail_avx2(int64_t kc, const float *a, const float *b,
                                                                 float *c, int64_t ldc, float alpha, float beta,
                                                                 int m, int n, const gemm_epi *e) {
    float tile[MR_AVX2 * 8] __attribute__((aligned(32))) = {0};
    for (int j = 0; j < n; j++) {
        __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps();
        const float *ap = a, *bp = b + j;
        int64_t p = 0;
        for (; p + 4 <= kc; p += 4, ap += 4 * MR_AVX2, bp += 64) {
            __m256 k0 = _mm256_broadcast_ss(bp), k1 = _mm256_broadcast_ss(bp + 16);
            __m256 k2 = _mm256_broadcast_ss(bp + 32), k3 = _mm256_broadcast_ss(bp + 48);
            s0 = _mm256_fmadd_ps(_mm256_loadu_ps(ap), _mm256_blend_ps(k0, k1, 0xC0), s0);
            s1 = _mm256_fmadd_ps(_mm256_loadu_ps(ap + 8), _mm256_blend_ps(k1, k2, 0xF0), s1);
            s2 = _mm256_fmadd_ps(_mm256_loadu_ps(ap + 16), _mm256_blend_ps(k2, k3, 0xFC), s2);
        }
        float part[24] __attribute__((aligned(32)));
        _mm256_store_ps(part, s0);
        _mm256_store_ps(part + 8, s1);
        _mm256_store_ps(part + 16, s2);
        for (int i = 0; i < MR_AVX2; i++) {
            float v = part[i] + part[6 + i] + part[12 + i] + part[18 + i];
            for (int64_t q = p; q < kc; q++) v += a[q * MR_AVX2 + i] * b[q * 16 + j];
            tile[i * 8 + j] = v;
        }
    }
    store_tile(tile, 8, c, ldc, alpha, beta, m, n, e);
}

/* bstep: floats from one depth row of B to the next (16 in a packed panel; a row stride when B is read in
 * place, cn_gemm_packed_rows_strided_b) */
__attribute__((target("avx2,fma"), always_inline)) static inline void ukernel_avx2_body(
    int64_t kc, const float *a, const float *b, int64_t bstep, float *c, int64_t ldc, float alpha, float beta, int m,
    int n, const gemm_epi *e) {
    if (n <= 2 && bstep == 16) {
        narrow_tail_avx2(kc, a, b, c, ldc, alpha, beta, m, n, e);
        return;
    }
    if (n <= 8 && bstep == 16) {
        /* a panel's last 3-8 columns (196 = 12 x 16 + 4): only the first B
         * vector is used, its products summed in two chains (even and odd depth) so that 12 FMAs are in flight
         * as in the full tile; half the time of a full tile */
        __m256 h[2][MR_AVX2];
#pragma GCC unroll 8
        for (int i = 0; i < MR_AVX2; i++) h[0][i] = h[1][i] = _mm256_setzero_ps();
        int64_t p = 0;
#pragma GCC unroll 2
        for (; p + 2 <= kc; p += 2, a += 2 * MR_AVX2, b += 32) {
            __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 16);
#pragma GCC unroll 8
            for (int i = 0; i < MR_AVX2; i++) {
                h[0][i] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i), b0, h[0][i]);
                h[1][i] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + MR_AVX2 + i), b1, h[1][i]);
            }
        }
        if (p < kc) {
            __m256 b0 = _mm256_load_ps(b);
#pragma GCC unroll 8
            for (int i = 0; i < MR_AVX2; i++) h[0][i] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i), b0, h[0][i]);
        }
        float tile[MR_AVX2 * 8] __attribute__((aligned(32)));
#pragma GCC unroll 8
        for (int i = 0; i < MR_AVX2; i++) _mm256_store_ps(tile + i * 8, _mm256_add_ps(h[0][i], h[1][i]));
        store_tile(tile, 8, c, ldc, alpha, beta, m, n, e);
        return;
    }
    __m256 acc[MR_AVX2][2];
    /* streamed rows bypass the caches: nothing to fetch (beta 1 reads C at the end, as any load) */
    bool nt = n == 16 && e && e->stream && ((uintptr_t)c & 31) == 0 && ldc % 8 == 0;
#pragma GCC unroll 8
    for (int i = 0; i < MR_AVX2; i++) {
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
        if (nt) continue;
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 15), _MM_HINT_T0);
    }
    /* unrolled 4 deep: 1.25 instead of 5 loop instructions per 12 FMAs. Measured (one thread, 1024^3, six
     * alternated runs): 25.5 vs 28.5 ms; the kernel alone on L1/L2 data, median of 40: 89-95 vs 74-91 GFLOP/s of
     * 101 (the loss shows when the machine is busy: the core's front end is shared with another tenant) */
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; p++, a += MR_AVX2, b += bstep) {
        /* a packed panel is 32-byte aligned; B read in place need not be */
        __m256 b0 = bstep == 16 ? _mm256_load_ps(b) : _mm256_loadu_ps(b);
        __m256 b1 = bstep == 16 ? _mm256_load_ps(b + 8) : _mm256_loadu_ps(b + 8);
#pragma GCC unroll 8
        for (int i = 0; i < MR_AVX2; i++) {
            __m256 av = _mm256_broadcast_ss(a + i);
            acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
        }
    }
    /* whole rows of 16 columns (the valid rows of a last panel as well: C_out = 64 leaves 4) */
    if (n == 16 && e) {
        __m256 zero = _mm256_setzero_ps();
#pragma GCC unroll 8
        for (int i = 0; i < MR_AVX2; i++) {
            if (i >= m) break;
            float *row = c + i * ldc;
            __m256 s = _mm256_set1_ps(e->scale ? e->scale[i] : 1.0f), t = _mm256_set1_ps(e->shift ? e->shift[i] : 0.0f);
            __m256 a0 = acc[i][0], a1 = acc[i][1];
            if (beta != 0.0f) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(row)), a1 = _mm256_add_ps(a1, _mm256_loadu_ps(row + 8));
            __m256 r0 = _mm256_fmadd_ps(s, a0, t), r1 = _mm256_fmadd_ps(s, a1, t);
            if (e->relu) r0 = _mm256_max_ps(r0, zero), r1 = _mm256_max_ps(r1, zero);
            if (nt) {
                _mm256_stream_ps(row, r0);
                _mm256_stream_ps(row + 8, r1);
                continue;
            }
            _mm256_storeu_ps(row, r0);
            _mm256_storeu_ps(row + 8, r1);
        }
        return;
    }
    if (n == 16) {
        __m256 al = _mm256_set1_ps(alpha), be = _mm256_set1_ps(beta);
#pragma GCC unroll 8
        for (int i = 0; i < MR_AVX2; i++) {
            if (i >= m) break;
            float *row = c + i * ldc;
            __m256 r0 = _mm256_mul_ps(al, acc[i][0]), r1 = _mm256_mul_ps(al, acc[i][1]);
            if (beta != 0.0f) {
                r0 = _mm256_fmadd_ps(be, _mm256_loadu_ps(row), r0);
                r1 = _mm256_fmadd_ps(be, _mm256_loadu_ps(row + 8), r1);
            }
            _mm256_storeu_ps(row, r0);
            _mm256_storeu_ps(row + 8, r1);
        }
        return;
    }
    float tile[MR_AVX2 * 16] __attribute__((aligned(64)));
#pragma GCC unroll 8
    for (int i = 0; i < MR_AVX2; i++) {
        _mm256_store_ps(tile + i * 16, acc[i][0]);
        _mm256_store_ps(tile + i * 16 + 8, acc[i][1]);
    }
    store_tile(tile, 16, c, ldc, alpha, beta, m, n, e);
}
__attribute__((target("avx2,fma"))) static void ukernel_avx2(int64_t kc, const float *a, const float *b, float *c,
                                                             int64_t ldc, float alpha, float beta, int m, int n,
                                                             const gemm_epi *e) {
    ukernel_avx2_body(kc, a, b, 16, c, ldc, alpha, beta, m, n, e);
}
__attribute__((target("avx2,fma"))) static void ukernel_avx2_ldb(int64_t kc, const float *a, const float *b,
                                                                 int64_t ldb, float *c, int64_t ldc, float beta, int m,
                                                                 const gemm_epi *e) {
    ukernel_avx2_body(kc, a, b, ldb, c, ldc, 1.0f, beta, m, 16, e);
}

/* ---- AVX-512: MR_AVX512 x 32, 2*MR_AVX512 zmm accumulators (+ 2 for B, 1 broadcast, of 32 registers).
 * Partial tiles use masked loads and stores on the valid columns. */
enum { MR_AVX512 = 8 };
__attribute__((target("avx512f"))) static void ukernel_avx512(int64_t kc, const float *a, const float *b, float *c,
                                                              int64_t ldc, float alpha, float beta, int m, int n,
                                                              const gemm_epi *e) {
    __m512 acc[MR_AVX512][2];
#pragma GCC unroll 16
    for (int i = 0; i < MR_AVX512; i++) {
        acc[i][0] = acc[i][1] = _mm512_setzero_ps();
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 31), _MM_HINT_T0);
    }
    for (int64_t p = 0; p < kc; p++, a += MR_AVX512, b += 32) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 16
        for (int i = 0; i < MR_AVX512; i++) {
            __m512 av = _mm512_set1_ps(a[i]);
            acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
        }
    }
    __m512 al = _mm512_set1_ps(alpha), be = _mm512_set1_ps(beta);
    __mmask16 k0 = (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1);
    __mmask16 k1 = (__mmask16)(n >= 32 ? 0xFFFF : n <= 16 ? 0 : (1u << (n - 16)) - 1);
    if (e) {
        __m512 zero = _mm512_setzero_ps();
#pragma GCC unroll 16
        for (int i = 0; i < MR_AVX512; i++) {
            if (i >= m) break;
            float *row = c + i * ldc;
            __m512 s = _mm512_set1_ps(e->scale ? e->scale[i] : 1.0f), t = _mm512_set1_ps(e->shift ? e->shift[i] : 0.0f);
            __m512 a0 = acc[i][0], a1 = acc[i][1];
            if (beta != 0.0f)
                a0 = _mm512_add_ps(a0, _mm512_maskz_loadu_ps(k0, row)), a1 = _mm512_add_ps(a1, _mm512_maskz_loadu_ps(k1, row + 16));
            __m512 r0 = _mm512_fmadd_ps(s, a0, t), r1 = _mm512_fmadd_ps(s, a1, t);
            if (e->relu) r0 = _mm512_max_ps(r0, zero), r1 = _mm512_max_ps(r1, zero);
            _mm512_mask_storeu_ps(row, k0, r0);
            _mm512_mask_storeu_ps(row + 16, k1, r1);
        }
        return;
    }
    if (m == MR_AVX512 && n == 32) {
#pragma GCC unroll 16
        for (int i = 0; i < MR_AVX512; i++) {
            float *row = c + i * ldc;
            __m512 r0 = _mm512_mul_ps(al, acc[i][0]), r1 = _mm512_mul_ps(al, acc[i][1]);
            if (beta != 0.0f) {
                r0 = _mm512_fmadd_ps(be, _mm512_loadu_ps(row), r0);
                r1 = _mm512_fmadd_ps(be, _mm512_loadu_ps(row + 16), r1);
            }
            _mm512_storeu_ps(row, r0);
            _mm512_storeu_ps(row + 16, r1);
        }
        return;
    }
#pragma GCC unroll 16
    for (int i = 0; i < MR_AVX512; i++) {
        if (i >= m) break;
        float *row = c + i * ldc;
        __m512 r0 = _mm512_mul_ps(al, acc[i][0]), r1 = _mm512_mul_ps(al, acc[i][1]);
        if (beta != 0.0f) {
            r0 = _mm512_fmadd_ps(be, _mm512_maskz_loadu_ps(k0, row), r0);
            r1 = _mm512_fmadd_ps(be, _mm512_maskz_loadu_ps(k1, row + 16), r1);
        }
        _mm512_mask_storeu_ps(row, k0, r0);
        _mm512_mask_storeu_ps(row + 16, k1, r1);
    }
}

/* Blocking measured on Zen 4 (32 KB L1d, 1 MB L2 per core; docs/BENCHMARKS.md): avx512 8 x 32 tiles with
 * KC 384 and MC 384 ran 2-5% faster than 12 x 32 and 14 x 32 tiles or KC 128-256: fewer passes over C, and
 * conv GEMMs have M = C_out, a multiple of 8. On a Xeon with 2 FMA ports (48 KB L1d, 2 MB L2; 2026-12-06)
 * KC 256 (the 32 KB B micro-panel fits L1 with the A panel) was 3-5 % faster than 384 at 1024-2048, KC 192-320
 * and MC 192-768 within noise, 8 x 32, 14 x 32 and 6 x 64 tiles alike (each about 180 GFLOP/s of 215 on data
 * in L1). avx2 6 x 16 with KC 256: the classic Haswell blocking. */
static const isa_def isa_avx512 = {"avx512", MR_AVX512, 32, 256, 384, 2048, ukernel_avx512};
static const isa_def isa_avx2 = {"avx2", MR_AVX2, 16, 256, 6 * 64, 2048, ukernel_avx2};
static const isa_def isa_portable = {"portable", MR_PORTABLE, NR_PORTABLE, 256, 6 * 64, 2048, ukernel_portable};
static const isa_def *const all_isas[] = {&isa_avx512, &isa_avx2, &isa_portable};

/* The kernel dispatch table: one of the library's two pieces of global state, set once at start-up. */
static const isa_def *active_isa;

static const isa_def *best_isa(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return &isa_avx512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return &isa_avx2;
    return &isa_portable;
}

cn_status cn_kernels_select(const char *name) {
    const isa_def *best = best_isa();
    if (strcmp(name, "ref") == 0) {
        active_isa = NULL;
        return CN_OK;
    }
    const isa_def *want = strcmp(name, "avx512") == 0 ? &isa_avx512 : strcmp(name, "avx2") == 0 ? &isa_avx2
                        : strcmp(name, "portable") == 0 ? &isa_portable : NULL;
    if (!want) return cn_error(CN_ERR_INVALID, "unknown kernel set '%s' (avx512, avx2, portable, ref)", name);
    if ((want == &isa_avx512 && best != &isa_avx512) || (want == &isa_avx2 && best == &isa_portable))
        return cn_error(CN_ERR_UNSUPPORTED, "this CPU cannot run the %s kernels", name);
    active_isa = want;
    return CN_OK;
}

__attribute__((constructor)) static void select_at_startup(void) {
    active_isa = best_isa();
    const char *env = getenv("CN_ISA");
    if (env && *env) cn_kernels_select(env);  /* an unusable override keeps the best set */
}

const char *cn_kernels_isa(void) { return active_isa ? active_isa->name : "ref"; }

static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }
static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

/* Packed A block (mc rounded to mr) and B block (nc rounded to nr) for one kernel set. */
static size_t isa_workspace(const isa_def *s, int64_t m, int64_t n, int64_t k) {
    int64_t mc = min64(round_up(m, s->mr), s->mc), nc = min64(round_up(n, s->nr), s->nc), kc = min64(k, s->kc);
    return (size_t)(round_up(mc * kc, 16) + nc * kc) * sizeof(float) + 64; /* + 64: aligning the start */
}

/* gemm_xwt's packed x^T block (KC deep) and C^T block (XWT_NB rows of W at a time); INPLACE_B_M: see cn_gemm */
enum { XWT_NB = 512, INPLACE_B_M = 128 };
static size_t xwt_floats(int64_t m, int64_t n) {
    int64_t mp = round_up(m, 16);
    return (size_t)(mp * isa_avx2.kc + round_up(min64(n, XWT_NB), MR_AVX2) * mp);
}

/* The largest need over every kernel set, so a plan made before a cn_kernels_select stays big enough; one slot
 * per thread of a split GEMM (below). */
enum { SPLIT_MAX = 4 };
static size_t slot_bytes(int64_t m, int64_t n, int64_t k) {
    size_t most = 0;
    for (size_t i = 0; i < sizeof all_isas / sizeof all_isas[0]; i++) {
        size_t b = isa_workspace(all_isas[i], m, n, k);
        if (b > most) most = b;
    }
    if (m <= INPLACE_B_M && xwt_floats(m, n) * sizeof(float) + 64 > most) most = xwt_floats(m, n) * sizeof(float) + 64;
    return (most + 63) / 64 * 64;
}
size_t cn_gemm_workspace(int64_t m, int64_t n, int64_t k) { return SPLIT_MAX * slot_bytes(m, n, k); }

/* Packing copies a (rows x kc) slice of a row-major matrix, or of its transpose, into a micro-panel
 * dst[p*width + r] (r < width, rows past `rows` zero): the layout both A (width mr) and B (width nr) panels
 * use. `contiguous_rows`: element (r, p) is src[r*ld + p] (a row of the slice is contiguous in memory);
 * otherwise it is src[p*ld + r]. The depth index p runs outermost so that every source row is read as a
 * stream in parallel with the others (short row segments one after the other would each pay the latency of
 * a cache miss). */
static void pack_panel(bool contiguous_rows, const float *src, int64_t ld, int rows, int width, int64_t kc,
                       float *dst) {
    if (!contiguous_rows) {
        if (rows == width && width == 32) {
            for (int64_t p = 0; p < kc; p++) memcpy(dst + p * 32, src + p * ld, 32 * sizeof(float));
            return;
        }
        if (rows == width && width == 16) {
            for (int64_t p = 0; p < kc; p++) memcpy(dst + p * 16, src + p * ld, 16 * sizeof(float));
            return;
        }
        for (int64_t p = 0; p < kc; p++) {
            const float *s = src + p * ld;
            int r = 0;
            for (; r < rows; r++) dst[p * width + r] = s[r];
            for (; r < width; r++) dst[p * width + r] = 0.0f;
        }
        return;
    }
    const float *row[32];
    for (int r = 0; r < rows; r++) row[r] = src + r * ld;
    for (int64_t p = 0; p < kc; p++) {
        int r = 0;
        for (; r < rows; r++) dst[p * width + r] = row[r][p];
        for (; r < width; r++) dst[p * width + r] = 0.0f;
    }
}

/* The same for AVX-512: slices with contiguous rows are transposed 16 x 16 in registers (16 depth values of
 * up to 16 rows in, 16 panel lines out, stored with a mask of the panel width); other slices are copied a
 * zmm at a time. */

__attribute__((target("avx512f"))) static void pack_panel_avx512(bool contiguous_rows, const float *src, int64_t ld,
                                                                 int rows, int width, int64_t kc, float *dst) {
    if (!contiguous_rows) {
        for (int c0 = 0; c0 < width; c0 += 16) {
            int valid = rows - c0 < 0 ? 0 : rows - c0 > 16 ? 16 : rows - c0, w = width - c0 > 16 ? 16 : width - c0;
            __mmask16 load = (__mmask16)((1u << valid) - 1), store = (__mmask16)((1u << w) - 1);
            for (int64_t p = 0; p < kc; p++)
                _mm512_mask_storeu_ps(dst + p * width + c0, store, _mm512_maskz_loadu_ps(load, src + p * ld + c0));
        }
        return;
    }
    for (int r0 = 0; r0 < width; r0 += 16) {
        int valid = rows - r0 < 0 ? 0 : rows - r0 > 16 ? 16 : rows - r0, w = width - r0 > 16 ? 16 : width - r0;
        __mmask16 store = (__mmask16)((1u << w) - 1);
        int64_t p = 0;
        for (; p + 16 <= kc; p += 16) {
            __m512 v[16];
            for (int r = 0; r < 16; r++) v[r] = r < valid ? _mm512_loadu_ps(src + (r0 + r) * ld + p) : _mm512_setzero_ps();
            transpose16(v);
            for (int q = 0; q < 16; q++) _mm512_mask_storeu_ps(dst + (p + q) * width + r0, store, v[q]);
        }
        for (; p < kc; p++) {
            int r = 0;
            for (; r < valid; r++) dst[p * width + r0 + r] = src[(r0 + r) * ld + p];
            for (; r < w; r++) dst[p * width + r0 + r] = 0.0f;
        }
    }
}

/* ... and for AVX2: contiguous-row slices transposed 8 x 8 in registers (8 depth values of up to 8 rows in, 8
 * panel lines out), other slices copied 8 lanes at a time. A panel line narrower than 8 (the 6-row A panels) is
 * stored 8 wide all the same, its last 2 lanes landing on the next line, which is stored after it; only the
 * panel's last line is stored lane by lane (masked stores are slow on AMD cores). The scalar gather this
 * replaces cost 8 % of a 512^3 GEMM. */
__attribute__((target("avx2,fma"))) static inline void store_line(float *dst, __m256 v, int w, bool last) {
    if (w == 8 || !last) _mm256_storeu_ps(dst, v);
    else store_lanes(dst, v, w);
}

/* Rows [0, valid) of a contiguous-row slice transposed 8 x 8 into lanes [0, w) of the panel lines (lanes
 * [valid, w) zero). */
__attribute__((target("avx2,fma"), always_inline)) static inline void transpose_rows_avx2(const float *src, int64_t ld,
                                                                                        int valid, int w, int width,
                                                                                        int64_t kc, float *dst) {
    int64_t p = 0;
    for (; p + 8 <= kc; p += 8) {
        __m256 v[8];
        for (int r = 0; r < 8; r++) v[r] = r < valid ? _mm256_loadu_ps(src + r * ld + p) : _mm256_setzero_ps();
        transpose8(v);
        for (int q = 0; q < 8; q++) store_line(dst + (p + q) * width, v[q], w, p + q + 1 == kc);
    }
    for (; p < kc; p++) {
        int r = 0;
        for (; r < valid; r++) dst[p * width + r] = src[r * ld + p];
        for (; r < w; r++) dst[p * width + r] = 0.0f;
    }
}

__attribute__((target("avx2,fma"))) static void pack_panel_avx2(bool contiguous_rows, const float *src, int64_t ld,
                                                               int rows, int width, int64_t kc, float *dst) {
    if (!contiguous_rows) {
        /* a whole panel line (a cache line for 16-wide B panels) per source row, the row 24 ahead prefetched:
         * the source rows are a row stride apart (often a power of two, so they share few L1 sets), and a pass
         * per 8 columns read each line twice, the second time mostly evicted (these loads were 44 % of the
         * packing, which was 6.8 % of a 512^3 GEMM on one thread, now 5.5 %) */
        for (int64_t p = 0; p < kc; p++) {
            const float *s = src + p * ld;
            if (p + 24 < kc) _mm_prefetch((const char *)(s + 24 * ld), _MM_HINT_T0);
            for (int c0 = 0; c0 < width; c0 += 8) {
                int valid = rows - c0 < 0 ? 0 : rows - c0 > 8 ? 8 : rows - c0, w = width - c0 > 8 ? 8 : width - c0;
                store_line(dst + p * width + c0,
                           valid == 8 ? _mm256_loadu_ps(s + c0) : _mm256_maskload_ps(s + c0, first_lanes(valid)), w,
                           p + 1 == kc && c0 + 8 >= width);
            }
        }
        return;
    }
    for (int c0 = 0; c0 < width; c0 += 8) {
        int valid = rows - c0 < 0 ? 0 : rows - c0 > 8 ? 8 : rows - c0, w = width - c0 > 8 ? 8 : width - c0;
        /* the full 6-row A panel and full 8-row slices with the row count a constant (the generic loop tests
         * each row against `valid`) */
        if (valid == 6 && w == 6) transpose_rows_avx2(src + c0 * ld, ld, 6, 6, width, kc, dst + c0);
        else if (valid == 8 && w == 8) transpose_rows_avx2(src + c0 * ld, ld, 8, 8, width, kc, dst + c0);
        else transpose_rows_avx2(src + c0 * ld, ld, valid, w, width, kc, dst + c0);
    }
}

typedef void (*pack_fn)(bool contiguous_rows, const float *src, int64_t ld, int rows, int width, int64_t kc,
                        float *dst);

static pack_fn pack_of(const isa_def *s) {
    return s == &isa_avx512 ? pack_panel_avx512 : s == &isa_avx2 ? pack_panel_avx2 : pack_panel;
}

/* Rows [i0, i0+rows) x depth [p0, p0+kc) of op(A) into an mr-row panel. */
static void pack_a_panel(pack_fn pack, bool ta, const float *a, int64_t lda, int64_t i0, int rows, int mr, int64_t p0,
                         int64_t kc, float *dst) {
    if (ta) pack(false, a + p0 * lda + i0, lda, rows, mr, kc, dst); /* op(A)[i][q] = a[q*lda + i] */
    else pack(true, a + i0 * lda + p0, lda, rows, mr, kc, dst);
}

/* Depth [p0, p0+kc) x columns [j0, j0+cols) of op(B) into an nr-column panel. */
static void pack_b_panel(pack_fn pack, bool tb, const float *b, int64_t ldb, int64_t j0, int cols, int nr, int64_t p0,
                         int64_t kc, float *dst) {
    if (tb) pack(true, b + j0 * ldb + p0, ldb, cols, nr, kc, dst); /* op(B)[q][j] = b[j*ldb + q] */
    else pack(false, b + p0 * ldb + j0, ldb, cols, nr, kc, dst);
}

static void scale_c(float *c, int64_t ldc, int64_t m, int64_t n, float beta) {
    if (beta == 1.0f) return;
#pragma omp parallel for schedule(static) if (m * n > 65536 && !omp_in_parallel())
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

/* ---- at most SMALL_M rows of A, not transposed (a fully connected layer at batch 1 to 4): no packing, every
 * element of B is read once. Threads split the columns in blocks of SMALL_COLS; C[i][j] is B's row j dotted with
 * A's row i (tb: rows of B contiguous, 16 partial sums) or the sum of A[i][p] * B's row p over p (!tb), each in a
 * fixed order whatever the thread count. Compiled for the baseline and for AVX-512. */
enum { SMALL_M = 4, SMALL_COLS = 64 };
#define SMALL_M_VARIANT(suffix, attr)                                                                          \
    attr static void small_m_##suffix(bool tb, int64_t m, int64_t j0, int64_t j1, int64_t k, float alpha,      \
                                      const float *a, int64_t lda, const float *b, int64_t ldb, float beta,   \
                                      float *c, int64_t ldc) {                                                \
        if (tb) {                                                                                              \
            for (int64_t j = j0; j < j1; j++)                                                                  \
                for (int64_t i = 0; i < m; i++) {                                                              \
                    const float *x = a + i * lda, *y = b + j * ldb;                                            \
                    float acc[16] = {0};                                                                       \
                    int64_t p = 0;                                                                             \
                    for (; p + 16 <= k; p += 16)                                                               \
                        for (int l = 0; l < 16; l++) acc[l] += x[p + l] * y[p + l];                            \
                    for (; p < k; p++) acc[p % 16] += x[p] * y[p];                                             \
                    for (int h = 8; h > 0; h /= 2)                                                             \
                        for (int l = 0; l < h; l++) acc[l] += acc[l + h];                                      \
                    float *out = c + i * ldc + j;                                                              \
                    *out = alpha * acc[0] + (beta == 0.0f ? 0.0f : beta * *out);                               \
                }                                                                                              \
            return;                                                                                            \
        }                                                                                                      \
        for (int64_t i = 0; i < m; i++) {                                                                      \
            float *row = c + i * ldc;                                                                          \
            for (int64_t j = j0; j < j1; j++) row[j] = beta == 0.0f ? 0.0f : beta * row[j];                    \
            for (int64_t p = 0; p < k; p++) {                                                                  \
                float s = alpha * a[i * lda + p];                                                              \
                const float *y = b + p * ldb;                                                                  \
                for (int64_t j = j0; j < j1; j++) row[j] += s * y[j];                                          \
            }                                                                                                  \
        }                                                                                                      \
    }
SMALL_M_VARIANT(generic, )
SMALL_M_VARIANT(avx512, __attribute__((target("avx512f"))))
#undef SMALL_M_VARIANT

static void gemm_small_m(bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                         const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    bool v512 = active_isa == &isa_avx512;
    int64_t blocks = (n + SMALL_COLS - 1) / SMALL_COLS;
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && (double)m * n * k > 3e5)
    for (int64_t jb = 0; jb < blocks; jb++) {
        int64_t j0 = jb * SMALL_COLS, j1 = min64(n, j0 + SMALL_COLS);
        if (v512) small_m_avx512(tb, m, j0, j1, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else small_m_generic(tb, m, j0, j1, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }
}

/* Few rows of C (at most INPLACE_B_M) and B not transposed, on the AVX2 set: B is read where it lies (row stride
 * ldb) instead of packed, as the 1x1 convolution reads its input planes (cn_gemm_packed_rows_strided_b): a packed
 * B float would serve only M multiply-adds, and packing it read and wrote all of B (a fully connected layer's
 * data gradient, dx = dy W at batch 64: all of W). Depth block by depth block; A packed per block; each B micro-
 * panel (16 columns of kc rows) stays in L1 while every A panel passes it. n: a multiple of 16. */

/* One depth block (kc deep) with B read in place (b: the block's first row, n a multiple of 16): every 16-column
 * piece of B meets the packed A panels of rows [r0, r1) (ablock), C = or += (beta); the epilogue (scale, shift and
 * relu, indexed from row 0) with the tiles when `epi`. Shared by the two callers that read B in place. */
__attribute__((target("avx2,fma"))) static void inplace_b_block(int64_t kc, int64_t n, int64_t r0, int64_t r1,
                                                                const float *ablock, const float *b, int64_t ldb,
                                                                float *c, int64_t ldc, float beta, const float *scale,
                                                                const float *shift, bool relu, bool stream,
                                                                bool epi) {
    const int mr = MR_AVX2;
    /* Rows a multiple of 1024 bytes apart fall into at most 4 of L1's 64 sets (112x112 planes: 50176 bytes), so
     * a piece's rows evict one another between the A panels (8 ways); then each piece is first copied into a
     * contiguous buffer (16 floats a row). Batch 32, two threads, alternated runs: 1x1 32 -> 64 on 112x112 25.7
     * -> 23.3 ms, 64 -> 64 (batch 8) 11.3 -> 9.9; on 56x56 planes (16 sets) the copy was even or 3-4 % slower. */
    float piece[256 * 16] __attribute__((aligned(64)));
    bool copy = kc <= 256 && (ldb * (int64_t)sizeof(float)) % 1024 == 0;
    for (int64_t jp = 0; jp < n / 16; jp++) {
        /* B's rows are kc streams ldb apart (a 1x1 layer: one per input plane): in a shallow block (<= 64 rows)
         * the 16 columns two pieces ahead are asked for here, one line a row (1x1 64 -> 64 on 56x56, batch 32:
         * 2-5 % faster in alternated runs; no change with 32 or 128-1024 input channels, 2 % slower on LeNet fc1's
         * 250-row blocks) */
        if (kc <= 64 && jp + 2 < n / 16)
            for (int64_t p = 0; p < kc; p++) __builtin_prefetch(b + p * ldb + (jp + 2) * 16);
        const float *bj = b + jp * 16;
        int64_t lj = ldb;
        if (copy) {
            for (int64_t p = 0; p < kc; p++) {
                _mm256_store_ps(piece + p * 16, _mm256_loadu_ps(bj + p * ldb));
                _mm256_store_ps(piece + p * 16 + 8, _mm256_loadu_ps(bj + p * ldb + 8));
            }
            bj = piece, lj = 16;
        }
        for (int64_t ip = r0 / mr; ip < (r1 + mr - 1) / mr; ip++) {
            gemm_epi e = {scale ? scale + ip * mr : NULL, shift ? shift + ip * mr : NULL, relu, stream};
            ukernel_avx2_ldb(kc, ablock + ip * mr * kc, bj, lj, c + ip * mr * ldc + jp * 16, ldc, beta,
                             (int)min64(r1 - ip * mr, mr), epi ? &e : NULL);
        }
    }
}

/* C = x W^T + beta C for few rows of C (x: m x k, W: n x k, both row-major; a fully connected layer's forward
 * at batch <= INPLACE_B_M) as its transpose, C^T = W x^T: W is the A operand read in place (6 of its rows
 * broadcast per depth step, rows lda apart) and only x^T is packed (m columns), where the general path packed
 * all of W^T for each call, as long as the products took at batch 64 (LeNet's fc1, 64 x 500 x 2450). The
 * product goes to a C^T scratch block (n x m, in the workspace) and is added into C transposed at the end. */
__attribute__((target("avx2,fma"))) static void ukernel_avx2_a_rows(int64_t kc, const float *const ar[MR_AVX2],
                                                                    const float *b, float *c, int64_t ldc, bool add,
                                                                    int m) {
    __m256 acc[MR_AVX2][2];
#pragma GCC unroll 8
    for (int i = 0; i < MR_AVX2; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int64_t p = 0; p < kc; p++, b += 16) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 8
        for (int i = 0; i < MR_AVX2; i++) {
            __m256 av = _mm256_broadcast_ss(ar[i] + p);
            acc[i][0] = _mm256_fmadd_ps(av, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(av, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < MR_AVX2; i++) {
        if (i >= m) break;
        float *row = c + i * ldc;
        __m256 r0 = acc[i][0], r1 = acc[i][1];
        if (add) r0 = _mm256_add_ps(r0, _mm256_load_ps(row)), r1 = _mm256_add_ps(r1, _mm256_load_ps(row + 8));
        _mm256_store_ps(row, r0);
        _mm256_store_ps(row + 8, r1);
    }
}

/* C[i][j] = beta C[i][j] + t[j][i] (i < m, j < n; t: rows of ldt): 8 x 8 blocks transposed in registers, the
 * edges element by element */
__attribute__((target("avx2,fma"))) static void add_transposed(const float *t, int64_t ldt, int64_t m, int64_t n,
                                                               float beta, float *c, int64_t ldc) {
    int64_t m8 = m / 8 * 8, n8 = n / 8 * 8;
    __m256 be = _mm256_set1_ps(beta);
    for (int64_t j0 = 0; j0 < n8; j0 += 8)
        for (int64_t i0 = 0; i0 < m8; i0 += 8) {
            __m256 v[8];
            for (int r = 0; r < 8; r++) v[r] = _mm256_loadu_ps(t + (j0 + r) * ldt + i0);
            transpose8(v);
            for (int q = 0; q < 8; q++) {
                float *dst = c + (i0 + q) * ldc + j0;
                _mm256_storeu_ps(dst, beta == 0.0f ? v[q] : _mm256_fmadd_ps(be, _mm256_loadu_ps(dst), v[q]));
            }
        }
    for (int64_t j = 0; j < n; j++)
        for (int64_t i = j < n8 ? m8 : 0; i < m; i++) {
            float *dst = c + i * ldc + j;
            *dst = (beta == 0.0f ? 0.0f : beta * *dst) + t[j * ldt + i];
        }
}

static void gemm_xwt(int64_t m, int64_t n, int64_t k, const float *x, int64_t ldx, const float *w, int64_t ldw,
                     float beta, float *c, int64_t ldc, float *ws) {
    const int mr = MR_AVX2;
    const pack_fn pack = pack_of(&isa_avx2);
    const int64_t mp = round_up(m, 16), npanels = mp / 16, KC = isa_avx2.kc;
    float *bp = ws, *ct = ws + mp * KC; /* C^T of up to XWT_NB rows of W (rounded to 6) x mp */
    for (int64_t n0 = 0; n0 < n; n0 += XWT_NB) {
        int64_t nb = min64(n - n0, XWT_NB);
        for (int64_t p0 = 0; p0 < k; p0 += KC) {
            int64_t kc = min64(k - p0, KC);
            for (int64_t jp = 0; jp < npanels; jp++)
                pack_b_panel(pack, true, x, ldx, jp * 16, (int)min64(m - jp * 16, 16), 16, p0, kc, bp + jp * 16 * kc);
            for (int64_t r0 = 0; r0 < nb; r0 += mr) {
                const float *ar[MR_AVX2];
                for (int i = 0; i < mr; i++) /* rows past nb: the last one again (computed, not stored) */
                    ar[i] = w + (n0 + min64(r0 + i, nb - 1)) * ldw + p0;
                for (int64_t jp = 0; jp < npanels; jp++)
                    ukernel_avx2_a_rows(kc, ar, bp + jp * 16 * kc, ct + r0 * mp + jp * 16, mp, p0 > 0,
                                        (int)min64(nb - r0, mr));
            }
        }
        add_transposed(ct, mp, m, nb, beta, c + n0, ldc);
    }
}

static void gemm_inplace_b(bool ta, int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                           int64_t ldb, float beta, float *c, int64_t ldc, float *apack) {
    const isa_def *isa = &isa_avx2;
    const pack_fn pack = pack_of(isa);
    const int mr = MR_AVX2;
    const int64_t KC = (k + (k + isa->kc - 1) / isa->kc - 1) / ((k + isa->kc - 1) / isa->kc);
    const int64_t mpanels = (m + mr - 1) / mr;
    for (int64_t p0 = 0; p0 < k; p0 += KC) {
        int64_t kc = min64(k - p0, KC);
        float beta_k = p0 == 0 ? beta : 1.0f;
        for (int64_t ip = 0; ip < mpanels; ip++)
            pack_a_panel(pack, ta, a, lda, ip * mr, (int)min64(m - ip * mr, mr), mr, p0, kc, apack + ip * mr * kc);
        inplace_b_block(kc, n, 0, m, apack, b + p0 * ldb, ldb, c, ldc, beta_k, NULL, NULL, false, false, false);
    }
}

/* Goto/BLIS loops: jc (NC columns) > pc (KC depth: pack B) > ic (MC rows: pack A) > jr x ir tiles. One
 * parallel region for the whole call: the threads pack each B and A block together (shared panels, a
 * barrier after each), then split the tiles of the block. beta is applied by the first depth block. */
void cn_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, cn_real alpha, const cn_real *a, int64_t lda,
             const cn_real *b, int64_t ldb, cn_real beta, cn_real *c, int64_t ldc, void *workspace) {
    if (m <= 0 || n <= 0) return;
    const isa_def *isa = active_isa;
    if (!isa || !workspace) { /* the reference set, or a caller without workspace: correct, just slow */
        cn_gemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    if (k <= 0 || alpha == 0.0f) {
        scale_c(c, ldc, m, n, beta);
        return;
    }
    if (m <= SMALL_M && !ta) {
        gemm_small_m(tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    /* 2-4 threads: each computes its own columns (or rows, when M is the larger side) as a serial GEMM with its
     * own packed A and B, in its own workspace slot: no barrier and no panel packed by one core and read by the
     * other (the shared scheme below lost 10 % on two threads); A (or B) is packed by every thread, a small cost
     * next to the products. */
    int team = omp_in_parallel() ? 1 : omp_get_max_threads();
    if (team >= 2 && team <= SPLIT_MAX && (double)m * n * k > 3e5) {
        bool split_n = n >= m;
        int64_t len = split_n ? n : m, unit = split_n ? isa->nr : isa->mr;
        int64_t chunk = round_up((len + team - 1) / team, unit);
        size_t slot = slot_bytes(m, n, k);
#pragma omp parallel num_threads(team)
        {
            int t = omp_get_thread_num();
            int64_t lo = min64(len, t * chunk), hi = min64(len, lo + chunk);
            void *ws = (char *)workspace + (size_t)t * slot;
            if (hi > lo && split_n)
                cn_gemm(ta, tb, m, hi - lo, k, alpha, a, lda, tb ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc, ws);
            else if (hi > lo)
                cn_gemm(ta, tb, hi - lo, n, k, alpha, ta ? a + lo : a + lo * lda, lda, b, ldb, beta, c + lo * ldc, ldc,
                        ws);
        }
        return;
    }
    /* x W^T with a deep product (k >= 512: the C^T block's transposition is m x n work against m x n x k;
     * Winograd's weight-gradient GEMMs, 96-144 deep, ran 10-20 % slower this way) */
    if (tb && !ta && alpha == 1.0f && m <= INPLACE_B_M && k >= 512 && isa == &isa_avx2 &&
        (omp_in_parallel() || team <= SPLIT_MAX)) { /* W read in place (a serial call, as below) */
        gemm_xwt(m, n, k, a, lda, b, ldb, beta, c, ldc, (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63));
        return;
    }
    if (!tb && alpha == 1.0f && m <= INPLACE_B_M && n >= 16 && isa == &isa_avx2 &&
        (omp_in_parallel() || team <= SPLIT_MAX)) { /* (a serial call: in a team, or split above) */
        int64_t n16 = n / 16 * 16;
        gemm_inplace_b(ta, m, n16, k, a, lda, b, ldb, beta, c, ldc,
                       (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63));
        if (n > n16) cn_gemm(ta, tb, m, n - n16, k, alpha, a, lda, b + n16, ldb, beta, c + n16, ldc, workspace);
        return;
    }
    const int mr = isa->mr, nr = isa->nr;
    const pack_fn pack = pack_of(isa);
    /* K and M are cut into equal blocks of at most KC and MC (512 = 2 x 256, not 384 + 128: a thin last depth
     * block would load and store C for little work, a thin last row block would idle a thread) */
    const int64_t KC = (k + (k + isa->kc - 1) / isa->kc - 1) / ((k + isa->kc - 1) / isa->kc);
    const int64_t m_blocks = (m + isa->mc - 1) / isa->mc;
    const int64_t MC = min64(round_up((m + m_blocks - 1) / m_blocks, mr), isa->mc), NC = isa->nc;
    int64_t mc_max = min64(round_up(m, mr), MC), kc_max = min64(k, KC);
    float *apack = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    float *bpack = apack + round_up(mc_max * kc_max, 16); /* panels 64-byte aligned for aligned loads */
    /* serial when the caller already runs one GEMM per thread (conv over samples), or when the work is small */
    bool parallel = !omp_in_parallel() && (double)m * n * k > 3e5;
#pragma omp parallel if (parallel)
    for (int64_t j0 = 0; j0 < n; j0 += NC) {
        int64_t nc = min64(n - j0, NC), npanels = (nc + nr - 1) / nr;
        for (int64_t p0 = 0; p0 < k; p0 += KC) {
            int64_t kc = min64(k - p0, KC);
            float beta_k = p0 == 0 ? beta : 1.0f;
#pragma omp for schedule(static)
            for (int64_t jp = 0; jp < npanels; jp++) {
                int cols = (int)min64(nc - jp * nr, nr);
                pack_b_panel(pack, tb, b, ldb, j0 + jp * nr, cols, nr, p0, kc, bpack + jp * nr * kc);
            }
            for (int64_t i0 = 0; i0 < m; i0 += MC) {
                int64_t mc = min64(m - i0, MC), mpanels = (mc + mr - 1) / mr;
#pragma omp for schedule(static)
                for (int64_t ip = 0; ip < mpanels; ip++) {
                    int rows = (int)min64(mc - ip * mr, mr);
                    pack_a_panel(pack, ta, a, lda, i0 + ip * mr, rows, mr, p0, kc, apack + ip * mr * kc);
                }
                /* B-panel-major: each thread keeps its B micro-panel in L1 and walks the A block */
#pragma omp for collapse(2) schedule(static)
                for (int64_t jp = 0; jp < npanels; jp++)
                    for (int64_t ip = 0; ip < mpanels; ip++) {
                        int64_t i = ip * mr, j = jp * nr;
                        int rows = (int)min64(mc - i, mr), cols = (int)min64(nc - j, nr);
                        isa->kernel(kc, apack + ip * mr * kc, bpack + jp * nr * kc, c + (i0 + i) * ldc + j0 + j, ldc,
                                    alpha, beta_k, rows, cols, NULL);
                    }
            }
        }
    }
}

/* ---- pre-packed operands (gemm.h) */
static const isa_def *packed_isa(void) { return active_isa ? active_isa : &isa_portable; }

cn_gemm_blocks cn_gemm_blocking(void) {
    const isa_def *s = packed_isa();
    return (cn_gemm_blocks){s->mr, s->nr, s->kc};
}

size_t cn_gemm_packed_a_size(int64_t m, int64_t k) { return (size_t)(round_up(m, packed_isa()->mr) * k); }
size_t cn_gemm_packed_b_size(int64_t k, int64_t n) { return (size_t)(round_up(n, packed_isa()->nr) * k); }

void cn_gemm_pack_a(bool ta, int64_t m, int64_t k, const cn_real *a, int64_t lda, cn_real *packed) {
    const isa_def *s = packed_isa();
    const pack_fn pack = pack_of(s);
    int64_t mpanels = (m + s->mr - 1) / s->mr;
    for (int64_t p0 = 0; p0 < k; p0 += s->kc) {
        int64_t kcb = min64(k - p0, s->kc);
        float *block = packed + p0 * mpanels * s->mr;
        for (int64_t ip = 0; ip < mpanels; ip++)
            pack_a_panel(pack, ta, a, lda, ip * s->mr, (int)min64(m - ip * s->mr, s->mr), s->mr, p0, kcb,
                         block + ip * s->mr * kcb);
    }
}

void cn_gemm_pack_b(bool tb, int64_t k, int64_t n, const cn_real *b, int64_t ldb, cn_real *packed) {
    const isa_def *s = packed_isa();
    const pack_fn pack = pack_of(s);
    int64_t npanels = (n + s->nr - 1) / s->nr;
    for (int64_t p0 = 0; p0 < k; p0 += s->kc) {
        int64_t kcb = min64(k - p0, s->kc);
        float *block = packed + p0 * npanels * s->nr;
        for (int64_t jp = 0; jp < npanels; jp++)
            pack_b_panel(pack, tb, b, ldb, jp * s->nr, (int)min64(n - jp * s->nr, s->nr), s->nr, p0, kcb,
                         block + jp * s->nr * kcb);
    }
}

/* Depth block by depth block; in each, every B micro-panel meets every A micro-panel (B-panel-major). The
 * epilogue (if any) goes with the last depth block. */
static void gemm_packed(int64_t m, int64_t n, int64_t k, cn_real alpha, const cn_real *ap, const cn_real *bp,
                        cn_real beta, cn_real *c, int64_t ldc, const cn_real *scale, const cn_real *shift, bool relu,
                        int64_t r0, int64_t r1) {
    const isa_def *s = packed_isa();
    const int mr = s->mr, nr = s->nr;
    int64_t mpanels = (m + mr - 1) / mr, npanels = (n + nr - 1) / nr, ip0 = r0 / mr, ip1 = (r1 + mr - 1) / mr;
    for (int64_t p0 = 0; p0 < k; p0 += s->kc) {
        int64_t kcb = min64(k - p0, s->kc);
        const float *ablock = ap + p0 * mpanels * mr, *bblock = bp + p0 * npanels * nr;
        float beta_k = p0 == 0 ? beta : 1.0f;
        bool last = p0 + kcb >= k;
        for (int64_t jp = 0; jp < npanels; jp++)
            for (int64_t ip = ip0; ip < ip1; ip++) {
                gemm_epi e = {scale ? scale + ip * mr : NULL, shift ? shift + ip * mr : NULL, relu, false};
                s->kernel(kcb, ablock + ip * mr * kcb, bblock + jp * nr * kcb, c + ip * mr * ldc + jp * nr, ldc, alpha,
                          beta_k, (int)min64(r1 - ip * mr, mr), (int)min64(n - jp * nr, nr),
                          (scale || shift) && last ? &e : NULL);
            }
    }
}

void cn_gemm_packed(int64_t m, int64_t n, int64_t k, cn_real alpha, const cn_real *ap, const cn_real *bp, cn_real beta,
                    cn_real *c, int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        scale_c(c, ldc, m, n, beta);
        return;
    }
    gemm_packed(m, n, k, alpha, ap, bp, beta, c, ldc, NULL, NULL, false, 0, m);
}

void cn_gemm_packed_epilogue(int64_t m, int64_t n, int64_t k, const cn_real *ap, const cn_real *bp, cn_real *c,
                             int64_t ldc, const cn_real *scale, const cn_real *shift, bool relu) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                cn_real v = shift ? shift[i] : 0;
                c[i * ldc + j] = relu && !(v > 0) ? 0 : v;
            }
        return;
    }
    gemm_packed(m, n, k, 1, ap, bp, 0, c, ldc, scale, shift, relu, 0, m);
}

bool cn_gemm_strided_b_ok(int64_t k, int64_t n) { return active_isa == &isa_avx2 && k > 0 && n % 16 == 0; }

/* Depth block by depth block (the packed A's blocks), B micro-panel by micro-panel (each stays in L1 while every
 * A panel of the rows passes it), read in place; the epilogue with the last depth block */
void cn_gemm_packed_rows_strided_b(int64_t m, int64_t n, int64_t k, int64_t r0, int64_t r1, const cn_real *ap,
                                   const cn_real *b, int64_t ldb, cn_real beta, cn_real *c, int64_t ldc,
                                   const cn_real *scale, const cn_real *shift, unsigned flags) {
    if (r1 > m) r1 = m;
    if (r1 <= r0 || n <= 0) return;
    const int mr = MR_AVX2;
    const int64_t mpanels = (m + mr - 1) / mr;
    /* streamed in a single depth block only: deeper products read C back between the blocks, and streaming a C
     * that is read first was slower (the 1x1 data gradient into a dx that is not fresh) */
    bool relu = flags & CN_GEMM_RELU, stream = (flags & CN_GEMM_STREAM) && k <= isa_avx2.kc;
    for (int64_t p0 = 0; p0 < k; p0 += isa_avx2.kc) {
        int64_t kcb = min64(k - p0, isa_avx2.kc);
        bool last = p0 + kcb >= k; /* the epilogue and the streamed write with the last depth block */
        inplace_b_block(kcb, n, r0, r1, ap + p0 * mpanels * mr, b + p0 * ldb, ldb, c, ldc, p0 ? 1.0f : beta, scale,
                        shift, relu, stream, (scale || shift || stream) && last);
    }
    if (stream) _mm_sfence(); /* the streamed stores are weakly ordered: visible before the caller's barrier */
}

void cn_gemm_packed_rows(int64_t m, int64_t n, int64_t k, int64_t r0, int64_t r1, const cn_real *ap,
                         const cn_real *bp, cn_real *c, int64_t ldc, const cn_real *scale, const cn_real *shift,
                         bool relu) {
    if (r1 > m) r1 = m;
    if (r1 <= r0 || n <= 0) return;
    if (k <= 0) {
        for (int64_t i = r0; i < r1; i++)
            for (int64_t j = 0; j < n; j++) {
                cn_real v = shift ? shift[i] : 0;
                c[i * ldc + j] = relu && !(v > 0) ? 0 : v;
            }
        return;
    }
    gemm_packed(m, n, k, 1, ap, bp, 0, c, ldc, scale, shift, relu, r0, r1);
}

#endif
