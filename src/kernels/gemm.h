/* gemm.h — C = alpha * op(A) op(B) + beta * C, row-major, op(X) = X or X^T.
 * A is M x K after op, B is K x N after op, C is M x N; lda/ldb/ldc are row strides of the stored
 * matrices. The reference kernel is plain loops; cn_gemm is what ops call: a fast kernel (issue 5)
 * replaces the pointer at start-up, the reference stays as the twin that tests compare against. */
#ifndef CN_KERNELS_GEMM_H
#define CN_KERNELS_GEMM_H

#include "internal.h"

typedef void (*cn_gemm_fn)(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, cn_real alpha,
                           const cn_real *a, int64_t lda, const cn_real *b, int64_t ldb, cn_real beta,
                           cn_real *c, int64_t ldc);

void cn_gemm_ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, cn_real alpha, const cn_real *a,
                 int64_t lda, const cn_real *b, int64_t ldb, cn_real beta, cn_real *c, int64_t ldc);

extern cn_gemm_fn cn_gemm;

#endif
