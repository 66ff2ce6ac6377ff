/* gemm.h — C = alpha * op(A) op(B) + beta * C, row-major, op(X) = X or X^T.
 * A is M x K after op, B is K x N after op, C is M x N; lda/ldb/ldc are row strides of the stored
 * matrices. beta == 0 ignores what C held (NaN included), as BLAS does.
 *
 * cn_gemm is what ops call: the blocked kernel of the ISA chosen at start-up (AVX-512, AVX2+FMA or portable
 * C; CN_ISA=avx512|avx2|portable|ref overrides), or the plain reference in the double build. It needs
 * cn_gemm_workspace(m, n, k) bytes of workspace (64-byte aligned) for its packed panels; ops get it from
 * the memory plan (workspace_bytes), so a call never allocates. cn_gemm_ref is the test twin. Called from
 * inside an OpenMP parallel region, it runs on the calling thread alone. */
#ifndef CN_KERNELS_GEMM_H
#define CN_KERNELS_GEMM_H

#include "internal.h"

void cn_gemm_ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, cn_real alpha, const cn_real *a,
                 int64_t lda, const cn_real *b, int64_t ldb, cn_real beta, cn_real *c, int64_t ldc);

void cn_gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, cn_real alpha, const cn_real *a,
             int64_t lda, const cn_real *b, int64_t ldb, cn_real beta, cn_real *c, int64_t ldc, void *workspace);
size_t cn_gemm_workspace(int64_t m, int64_t n, int64_t k);

/* The kernel set in use ("avx512", "avx2", "portable", "ref") and, for tests, forcing one. Returns
 * CN_ERR_UNSUPPORTED when this CPU cannot run it. */
const char *cn_kernels_isa(void);
cn_status cn_kernels_select(const char *isa);

#endif
