/* gemm.h — C = alpha * op(A) op(B) + beta * C, row-major, op(X) = X or X^T.
 * A is M x K after op, B is K x N after op, C is M x N; lda/ldb/ldc are row strides of the stored
 * matrices. beta == 0 ignores what C held (NaN included), as BLAS does.
 *
 * cn_gemm is what ops call: the blocked kernel of the ISA chosen at start-up (AVX-512, AVX2+FMA or portable
 * C; CN_ISA=avx512|avx2|portable|ref overrides), or the plain reference in the double build. It needs
 * cn_gemm_workspace(m, n, k) bytes of workspace (64-byte aligned) for its packed panels, one slot per
 * thread for 2-4 threads (each computes its own columns, or rows, with its own panels); ops get it from the
 * memory plan (workspace_bytes), so a call never allocates. cn_gemm_ref is the test twin. Called from
 * inside an OpenMP parallel region, it runs on the calling thread alone. */
#ifndef CN_KERNELS_GEMM_H
#define CN_KERNELS_GEMM_H

#include "internal.h"

void cn_gemm_ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, cn_real alpha, const cn_real *a,
                 int64_t lda, const cn_real *b, int64_t ldb, cn_real beta, cn_real *c, int64_t ldc);

void cn_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, cn_real alpha, const cn_real *a,
             int64_t lda, const cn_real *b, int64_t ldb, cn_real beta, cn_real *c, int64_t ldc, void *workspace);
size_t cn_gemm_workspace(int64_t m, int64_t n, int64_t k);

/* Pre-packed operands, for callers that reuse one operand across many products (convolution weights: packed
 * once per pass) or can write the other straight in panel order (im2col columns: no second copy).
 * Layouts, with MR x NR the register tile and KC the depth block of the kernel set in use
 * (cn_gemm_blocking), K split into blocks [p0, p0 + kcb), kcb = min(KC, K - p0):
 *   packed A (M x K): block at p0 * round_up(M, MR); in it, row panel ip at ip * MR * kcb holds
 *                     A[ip*MR + r][p0 + q] at [q * MR + r] (rows past M zero)
 *   packed B (K x N): block at p0 * round_up(N, NR); in it, column panel jp at jp * NR * kcb holds
 *                     B[p0 + q][jp*NR + c] at [q * NR + c] (columns past N: any finite value)
 * Packed buffers must be 64-byte aligned. cn_gemm_packed computes C = alpha * A B + beta * C on the
 * calling thread (beta 0: C is not read). The
 * double build has MR = NR = 1 and KC = K (plain layouts) and the reference loops. */
typedef struct {
    int mr, nr, kc;
} cn_gemm_blocks;
cn_gemm_blocks cn_gemm_blocking(void);
size_t cn_gemm_packed_a_size(int64_t m, int64_t k); /* floats */
size_t cn_gemm_packed_b_size(int64_t k, int64_t n); /* floats */
void cn_gemm_pack_a(bool trans_a, int64_t m, int64_t k, const cn_real *a, int64_t lda, cn_real *packed);
void cn_gemm_pack_b(bool trans_b, int64_t k, int64_t n, const cn_real *b, int64_t ldb, cn_real *packed);
void cn_gemm_packed(int64_t m, int64_t n, int64_t k, cn_real alpha, const cn_real *a_packed, const cn_real *b_packed,
                    cn_real beta, cn_real *c, int64_t ldc);
/* cn_gemm_packed with alpha 1, beta 0 and a per-row epilogue applied as the last depth block writes C back
 * (no second pass): C[i][j] = scale[i] * (A B)[i][j] + shift[i], then max(., 0) when relu; scale NULL reads as
 * 1 and shift NULL as 0 (a bias alone: scale NULL, shift the bias). */
void cn_gemm_packed_epilogue(int64_t m, int64_t n, int64_t k, const cn_real *a_packed, const cn_real *b_packed,
                             cn_real *c, int64_t ldc, const cn_real *scale, const cn_real *shift, bool relu);
/* Rows [r0, r1) only of cn_gemm_packed (alpha 1, beta 0; scale and shift NULL) or cn_gemm_packed_epilogue's product, so
 * threads can split M when N is small. r0 must be a multiple of cn_gemm_blocking().mr; c, scale and shift
 * point at row 0 as in the full call. */
void cn_gemm_packed_rows(int64_t m, int64_t n, int64_t k, int64_t r0, int64_t r1, const cn_real *a_packed,
                         const cn_real *b_packed, cn_real *c, int64_t ldc, const cn_real *scale, const cn_real *shift,
                         bool relu);

/* cn_gemm_packed_rows with B read in place, B[q][j] = b[q * ldb + j] (no packed B), and C = product + beta C
 * (beta 0 or 1; with scale or shift, the epilogue applies to that sum): only where cn_gemm_strided_b_ok(k, n) (the
 * AVX2 set, N a multiple of 16; any K, depth block by depth block). A 1x1 convolution reads its input planes (and
 * its data gradient the output gradient's planes) this way instead of packing them. flags: CN_GEMM_RELU (the
 * epilogue's max(., 0)), CN_GEMM_STREAM (C written with non-temporal stores where c and ldc keep its rows 32-byte
 * aligned and K is a single depth block, 256 on AVX2: for a C far larger than the caches, which would only evict
 * what is in them and read every line of C from memory before writing it; the stores are fenced before the call
 * returns). */
enum { CN_GEMM_RELU = 1, CN_GEMM_STREAM = 2 };
bool cn_gemm_strided_b_ok(int64_t k, int64_t n);
void cn_gemm_packed_rows_strided_b(int64_t m, int64_t n, int64_t k, int64_t r0, int64_t r1, const cn_real *a_packed,
                                   const cn_real *b, int64_t ldb, cn_real beta, cn_real *c, int64_t ldc,
                                   const cn_real *scale, const cn_real *shift, unsigned flags);

/* The kernel set in use ("avx512", "avx2", "portable", "ref") and, for tests, forcing one. Returns
 * CN_ERR_UNSUPPORTED when this CPU cannot run it. */
const char *cn_kernels_isa(void);
cn_status cn_kernels_select(const char *isa);

#endif
