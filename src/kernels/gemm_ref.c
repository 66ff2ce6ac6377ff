/* gemm_ref.c — the plain reference GEMM (see gemm.h). Accumulates in double so the reference is the
 * better-rounded side of any comparison. */
#include "kernels/gemm.h"

void cn_gemm_ref(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, cn_real alpha, const cn_real *a,
                 int64_t lda, const cn_real *b, int64_t ldb, cn_real beta, cn_real *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < k; p++) {
                double av = trans_a ? a[p * lda + i] : a[i * lda + p];
                double bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
                acc += av * bv;
            }
            cn_real prev = beta == 0 ? 0 : beta * c[i * ldc + j];
            c[i * ldc + j] = (cn_real)(alpha * acc) + prev;
        }
    }
}
