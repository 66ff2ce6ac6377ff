/* tensor.h — strided copies, broadcast elementwise arithmetic, padding: the kernels of the tensor ops
 * (Reshape/Transpose/ReduceMean/Add.../Pad/Clip) that imported ONNX models need. Shapes have up to
 * CN_MAX_DIMS axes; a stride of 0 repeats (broadcasts) an axis. No allocation, no graph knowledge. */
#ifndef CN_KERNELS_TENSOR_H
#define CN_KERNELS_TENSOR_H

#include "internal.h"

/* dst[0..n) = src[0..n), or 0 where src is NULL: gradient buffers zeroed and seeded before a backward pass,
 * split over the threads when large (one core alone does not reach the memory bandwidth). */
void cn_fill_par(cn_real *dst, const cn_real *src, int64_t n);

/* Over the index space dims[0..ndim): dst[i] (contiguous) = (accumulate ? dst[i] : 0) + alpha * src[i . sstr]. */
void cn_strided_gather_ref(int ndim, const int64_t *dims, const cn_real *src, const int64_t *sstr, cn_real *dst,
                           cn_real alpha, bool accumulate);
/* Over the index space dims: dst[i . dstr] += alpha * src[i] (src contiguous). */
void cn_strided_scatter_add_ref(int ndim, const int64_t *dims, const cn_real *src, cn_real *dst, const int64_t *dstr,
                                cn_real alpha);

typedef enum { CN_BINARY_ADD, CN_BINARY_SUB, CN_BINARY_MUL, CN_BINARY_DIV } cn_binary_kind;
/* y[i] = a[i . sa] (op) b[i . sb], y contiguous over dims. */
typedef void (*cn_binary_forward_fn)(cn_binary_kind op, int ndim, const int64_t *dims, const cn_real *a,
                                     const int64_t *sa, const cn_real *b, const int64_t *sb, cn_real *y);
void cn_binary_forward_ref(cn_binary_kind op, int ndim, const int64_t *dims, const cn_real *a, const int64_t *sa,
                           const cn_real *b, const int64_t *sb, cn_real *y);
extern cn_binary_forward_fn cn_binary_forward;
/* da[i . sa] += dy[i] * d(op)/da, db[i . sb] += dy[i] * d(op)/db (either may be NULL):
 *   add: 1, 1   sub: 1, -1   mul: b, a   div: 1/b, -a/b^2 */
void cn_binary_backward_ref(cn_binary_kind op, int ndim, const int64_t *dims, const cn_real *a, const int64_t *sa,
                            const cn_real *b, const int64_t *sb, const cn_real *dy, cn_real *da, cn_real *db);

/* Padding of x (xdims) into y (ydims = xdims + begin + end per axis; begin/end may be negative: cropping).
 * mode: zeros (the constant `value`), reflect (mirror without the edge), replicate (edge), circular. */
void cn_pad_forward_ref(int ndim, const int64_t *xdims, const int64_t *ydims, const int64_t *begin,
                        cn_pad_mode mode, cn_real value, const cn_real *x, cn_real *y);
/* dx += the sum of dy over every output position that copies that input element. */
void cn_pad_backward_ref(int ndim, const int64_t *xdims, const int64_t *ydims, const int64_t *begin,
                         cn_pad_mode mode, const cn_real *dy, cn_real *dx);

#endif
