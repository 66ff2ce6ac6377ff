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
cn_status cn_kernels_select(const char *isa) {
    return strcmp(isa, "ref") == 0 ? CN_OK : cn_error(CN_ERR_UNSUPPORTED, "the double build has only the reference kernels");
}

#else

#include <immintrin.h>

enum { KC = 256, MC_MAX = 768, NC_MAX = 2048, MR = 6 };

/* C[0..m) x [0..n) += alpha * (packed A panel) x (packed B panel), kc deep. */
typedef void (*ukernel_fn)(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha, int m, int n);

typedef struct {
    const char *name;
    int nr;
    ukernel_fn kernel;
} isa_def;

/* Add the valid m x n corner of a full tile (row stride nr) into C. */
static void add_tile(const float *tile, int nr, float *c, int64_t ldc, float alpha, int m, int n) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) c[i * ldc + j] += alpha * tile[i * nr + j];
}

/* ---- portable: plain C the compiler can vectorise at the baseline ISA */
enum { NR_PORTABLE = 16 };
static void ukernel_portable(int64_t kc, const float *a, const float *b, float *c, int64_t ldc, float alpha, int m, int n) {
    float acc[MR * NR_PORTABLE] = {0};
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < MR; i++) {
            float av = a[p * MR + i];
            for (int j = 0; j < NR_PORTABLE; j++) acc[i * NR_PORTABLE + j] += av * b[p * NR_PORTABLE + j];
        }
    }
    add_tile(acc, NR_PORTABLE, c, ldc, alpha, m, n);
}

/* ---- AVX2 + FMA: 6 x 16, twelve ymm accumulators */
__attribute__((target("avx2,fma"))) static void ukernel_avx2(int64_t kc, const float *a, const float *b, float *c,
                                                             int64_t ldc, float alpha, int m, int n) {
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t p = 0; p < kc; p++, a += MR, b += 16) {
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8), av;
        av = _mm256_broadcast_ss(a + 0); c00 = _mm256_fmadd_ps(av, b0, c00); c01 = _mm256_fmadd_ps(av, b1, c01);
        av = _mm256_broadcast_ss(a + 1); c10 = _mm256_fmadd_ps(av, b0, c10); c11 = _mm256_fmadd_ps(av, b1, c11);
        av = _mm256_broadcast_ss(a + 2); c20 = _mm256_fmadd_ps(av, b0, c20); c21 = _mm256_fmadd_ps(av, b1, c21);
        av = _mm256_broadcast_ss(a + 3); c30 = _mm256_fmadd_ps(av, b0, c30); c31 = _mm256_fmadd_ps(av, b1, c31);
        av = _mm256_broadcast_ss(a + 4); c40 = _mm256_fmadd_ps(av, b0, c40); c41 = _mm256_fmadd_ps(av, b1, c41);
        av = _mm256_broadcast_ss(a + 5); c50 = _mm256_fmadd_ps(av, b0, c50); c51 = _mm256_fmadd_ps(av, b1, c51);
    }
    __m256 rows[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    if (m == MR && n == 16) {
        __m256 al = _mm256_set1_ps(alpha);
        for (int i = 0; i < MR; i++) {
            _mm256_storeu_ps(c + i * ldc, _mm256_fmadd_ps(al, rows[i][0], _mm256_loadu_ps(c + i * ldc)));
            _mm256_storeu_ps(c + i * ldc + 8, _mm256_fmadd_ps(al, rows[i][1], _mm256_loadu_ps(c + i * ldc + 8)));
        }
        return;
    }
    float tile[MR * 16] __attribute__((aligned(64)));
    for (int i = 0; i < MR; i++) {
        _mm256_store_ps(tile + i * 16, rows[i][0]);
        _mm256_store_ps(tile + i * 16 + 8, rows[i][1]);
    }
    add_tile(tile, 16, c, ldc, alpha, m, n);
}

/* ---- AVX-512: 6 x 32, twelve zmm accumulators */
__attribute__((target("avx512f"))) static void ukernel_avx512(int64_t kc, const float *a, const float *b, float *c,
                                                              int64_t ldc, float alpha, int m, int n) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    for (int64_t p = 0; p < kc; p++, a += MR, b += 32) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16), av;
        av = _mm512_set1_ps(a[0]); c00 = _mm512_fmadd_ps(av, b0, c00); c01 = _mm512_fmadd_ps(av, b1, c01);
        av = _mm512_set1_ps(a[1]); c10 = _mm512_fmadd_ps(av, b0, c10); c11 = _mm512_fmadd_ps(av, b1, c11);
        av = _mm512_set1_ps(a[2]); c20 = _mm512_fmadd_ps(av, b0, c20); c21 = _mm512_fmadd_ps(av, b1, c21);
        av = _mm512_set1_ps(a[3]); c30 = _mm512_fmadd_ps(av, b0, c30); c31 = _mm512_fmadd_ps(av, b1, c31);
        av = _mm512_set1_ps(a[4]); c40 = _mm512_fmadd_ps(av, b0, c40); c41 = _mm512_fmadd_ps(av, b1, c41);
        av = _mm512_set1_ps(a[5]); c50 = _mm512_fmadd_ps(av, b0, c50); c51 = _mm512_fmadd_ps(av, b1, c51);
    }
    __m512 rows[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
    __m512 al = _mm512_set1_ps(alpha);
    if (m == MR && n == 32) {
        for (int i = 0; i < MR; i++) {
            _mm512_storeu_ps(c + i * ldc, _mm512_fmadd_ps(al, rows[i][0], _mm512_loadu_ps(c + i * ldc)));
            _mm512_storeu_ps(c + i * ldc + 16, _mm512_fmadd_ps(al, rows[i][1], _mm512_loadu_ps(c + i * ldc + 16)));
        }
        return;
    }
    /* partial tile: masked loads and stores on the valid columns */
    __mmask16 k0 = (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1);
    __mmask16 k1 = (__mmask16)(n >= 32 ? 0xFFFF : n <= 16 ? 0 : (1u << (n - 16)) - 1);
    for (int i = 0; i < m; i++) {
        float *row = c + i * ldc;
        _mm512_mask_storeu_ps(row, k0, _mm512_fmadd_ps(al, rows[i][0], _mm512_maskz_loadu_ps(k0, row)));
        _mm512_mask_storeu_ps(row + 16, k1, _mm512_fmadd_ps(al, rows[i][1], _mm512_maskz_loadu_ps(k1, row + 16)));
    }
}

static const isa_def isa_avx512 = {"avx512", 32, ukernel_avx512};
static const isa_def isa_avx2 = {"avx2", 16, ukernel_avx2};
static const isa_def isa_portable = {"portable", NR_PORTABLE, ukernel_portable};

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

size_t cn_gemm_workspace(int64_t m, int64_t n, int64_t k) {
    int nr = active_isa ? active_isa->nr : 16;
    int64_t mc = m < MC_MAX ? round_up(m, MR) : MC_MAX, nc = n < NC_MAX ? round_up(n, nr) : NC_MAX;
    int64_t kc = k < KC ? k : KC;
    return (size_t)(round_up(mc * kc, 16) + nc * kc) * sizeof(float) + 64; /* + 64: aligning the start */
}

/* Pack rows [i0, i0+mc) x depth [p0, p0+kc) of op(A) into MR-row panels: panel[p*MR + r]. */
static void pack_a(bool ta, const float *a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc, float *dst) {
    for (int64_t ir = 0; ir < mc; ir += MR, dst += MR * kc) {
        int rows = mc - ir < MR ? (int)(mc - ir) : MR;
        for (int64_t p = 0; p < kc; p++)
            for (int r = 0; r < MR; r++) {
                int64_t i = i0 + ir + r, q = p0 + p;
                dst[p * MR + r] = r < rows ? (ta ? a[q * lda + i] : a[i * lda + q]) : 0.0f;
            }
    }
}

/* Pack depth [p0, p0+kc) x columns [j0, j0+nc) of op(B) into nr-column panels: panel[p*nr + c]. */
static void pack_b_panel(bool tb, const float *b, int64_t ldb, int64_t j0, int cols, int nr, int64_t p0, int64_t kc,
                         float *dst) {
    for (int64_t p = 0; p < kc; p++) {
        int64_t q = p0 + p;
        if (!tb && cols == nr) {
            memcpy(dst + p * nr, b + q * ldb + j0, (size_t)nr * sizeof(float));
            continue;
        }
        for (int c = 0; c < nr; c++) dst[p * nr + c] = c < cols ? (tb ? b[(j0 + c) * ldb + q] : b[q * ldb + j0 + c]) : 0.0f;
    }
}

static void scale_c(float *c, int64_t ldc, int64_t m, int64_t n, float beta) {
    if (beta == 1.0f) return;
#pragma omp parallel for schedule(static) if (m * n > 65536)
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
}

void cn_gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, cn_real alpha, const cn_real *a, int64_t lda,
             const cn_real *b, int64_t ldb, cn_real beta, cn_real *c, int64_t ldc, void *workspace) {
    if (m <= 0 || n <= 0) return;
    const isa_def *isa = active_isa;
    if (!isa || !workspace) { /* the reference set, or a caller without workspace: correct, just slow */
        cn_gemm_ref(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    scale_c(c, ldc, m, n, beta);
    if (k <= 0 || alpha == 0.0f) return;
    const int nr = isa->nr;
    int64_t mc_max = m < MC_MAX ? round_up(m, MR) : MC_MAX, kc_max = k < KC ? k : KC;
    float *apack = (float *)(((uintptr_t)workspace + 63) & ~(uintptr_t)63);
    float *bpack = apack + round_up(mc_max * kc_max, 16); /* panels 64-byte aligned for aligned loads */
    for (int64_t j0 = 0; j0 < n; j0 += NC_MAX) {
        int64_t nc = n - j0 < NC_MAX ? n - j0 : NC_MAX, npanels = (nc + nr - 1) / nr;
        for (int64_t p0 = 0; p0 < k; p0 += KC) {
            int64_t kc = k - p0 < KC ? k - p0 : KC;
            for (int64_t i0 = 0; i0 < m; i0 += MC_MAX) {
                int64_t mc = m - i0 < MC_MAX ? m - i0 : MC_MAX, mpanels = (mc + MR - 1) / MR;
                /* serial when the caller already runs one GEMM per thread (conv over samples) */
#pragma omp parallel if (!omp_in_parallel())
                {
                    if (i0 == 0) {
#pragma omp for schedule(static)
                        for (int64_t jp = 0; jp < npanels; jp++) {
                            int cols = (int)(nc - jp * nr < nr ? nc - jp * nr : nr);
                            pack_b_panel(tb, b, ldb, j0 + jp * nr, cols, nr, p0, kc, bpack + jp * nr * kc);
                        }
                    }
#pragma omp for schedule(static)
                    for (int64_t ip = 0; ip < mpanels; ip++) {
                        int64_t rows = mc - ip * MR < MR ? mc - ip * MR : MR;
                        pack_a(ta, a, lda, i0 + ip * MR, rows, p0, kc, apack + ip * MR * kc);
                    }
#pragma omp for collapse(2) schedule(static)
                    for (int64_t jp = 0; jp < npanels; jp++)
                        for (int64_t ip = 0; ip < mpanels; ip++) {
                            int64_t i = ip * MR, j = jp * nr;
                            int rows = (int)(mc - i < MR ? mc - i : MR), cols = (int)(nc - j < nr ? nc - j : nr);
                            isa->kernel(kc, apack + ip * MR * kc, bpack + jp * nr * kc, c + (i0 + i) * ldc + j0 + j, ldc,
                                        alpha, rows, cols);
                        }
                }
            }
        }
    }
}

#endif
