/* pool.h — pooling kernels on raw pointers, over `planes` = N*C independent planes of 3 spatial axes
 * (D, H, W). 1D and 2D pooling use leading axes of size 1 with kernel 1, stride 1, pad 0, so one kernel
 * serves every rank. Axis i of an output position o covers input positions start + k*dilation, k < kernel,
 * start = o*stride - pad; positions outside [0, in) are padding.
 *   max:      y = max over the window's real positions (padding is -inf); argmax = index in the plane
 *   average:  y = sum over the window's real positions / divisor, divisor = the window's positions inside
 *             the padded input [-pad, in+pad) when count_include_pad, else the number of real positions
 *   adaptive: bin i of an axis is [floor(i*in/out), ceil((i+1)*in/out)); y = mean over the bin
 * Backward kernels ADD into dx. Ops call the cn_* pointers; a faster version may replace them, the _ref
 * functions stay as the twins tests compare against. */
#ifndef CN_KERNELS_POOL_H
#define CN_KERNELS_POOL_H

#include "internal.h"

typedef struct {
    int64_t in[3], out[3];
    int64_t kernel[3], stride[3], pad[3], dilation[3];
    bool count_include_pad;  /* average only */
} cn_pool_geom;

/* x is (planes, in...), y is (planes, out...), argmax (planes, out...) or NULL when backward is not needed.
 * Ties keep the first maximum in row-major order; NaN wins (as in PyTorch). A window with no real position
 * (possible only with dilation) gives -inf and argmax -1. */
typedef void (*cn_maxpool_forward_fn)(const cn_pool_geom *geo, int64_t planes, const cn_real *x, cn_real *y,
                                      int64_t *argmax);
/* dx[p][argmax[p][o]] += dy[p][o] for every plane p and output o (argmax -1 is skipped); set: each plane of dx
 * is zeroed first (a fresh gradient, while the plane is in cache, instead of a pass over all of dx before). */
typedef void (*cn_maxpool_backward_fn)(int64_t planes, int64_t in_plane, int64_t out_plane, const cn_real *dy,
                                       const int64_t *argmax, cn_real *dx, bool set);
typedef void (*cn_avgpool_forward_fn)(const cn_pool_geom *geo, int64_t planes, const cn_real *x, cn_real *y);
/* dx[window] += dy / divisor, over each window's real positions. */
typedef void (*cn_avgpool_backward_fn)(const cn_pool_geom *geo, int64_t planes, const cn_real *dy, cn_real *dx);
/* Adaptive average pooling from in[3] to out[3] per plane (global average pooling is out = {1, 1, 1}). */
typedef void (*cn_adaptive_avgpool_forward_fn)(const int64_t in[3], const int64_t out[3], int64_t planes,
                                               const cn_real *x, cn_real *y);
typedef void (*cn_adaptive_avgpool_backward_fn)(const int64_t in[3], const int64_t out[3], int64_t planes,
                                                const cn_real *dy, cn_real *dx);

void cn_maxpool_forward_ref(const cn_pool_geom *geo, int64_t planes, const cn_real *x, cn_real *y, int64_t *argmax);
void cn_maxpool_backward_ref(int64_t planes, int64_t in_plane, int64_t out_plane, const cn_real *dy,
                             const int64_t *argmax, cn_real *dx, bool set);
void cn_avgpool_forward_ref(const cn_pool_geom *geo, int64_t planes, const cn_real *x, cn_real *y);
void cn_avgpool_backward_ref(const cn_pool_geom *geo, int64_t planes, const cn_real *dy, cn_real *dx);
void cn_adaptive_avgpool_forward_ref(const int64_t in[3], const int64_t out[3], int64_t planes, const cn_real *x,
                                     cn_real *y);
void cn_adaptive_avgpool_backward_ref(const int64_t in[3], const int64_t out[3], int64_t planes, const cn_real *dy,
                                      cn_real *dx);

/* Threaded versions (threaded.c, bit-identical to the _ref functions): the default dispatch. */
void cn_maxpool_forward_par(const cn_pool_geom *geo, int64_t planes, const cn_real *x, cn_real *y, int64_t *argmax);
void cn_maxpool_backward_par(int64_t planes, int64_t in_plane, int64_t out_plane, const cn_real *dy,
                             const int64_t *argmax, cn_real *dx, bool set);
void cn_avgpool_forward_par(const cn_pool_geom *geo, int64_t planes, const cn_real *x, cn_real *y);
void cn_avgpool_backward_par(const cn_pool_geom *geo, int64_t planes, const cn_real *dy, cn_real *dx);
void cn_adaptive_avgpool_forward_par(const int64_t in[3], const int64_t out[3], int64_t planes, const cn_real *x,
                                     cn_real *y);
void cn_adaptive_avgpool_backward_par(const int64_t in[3], const int64_t out[3], int64_t planes, const cn_real *dy,
                                      cn_real *dx);

extern cn_maxpool_forward_fn cn_maxpool_forward;
extern cn_maxpool_backward_fn cn_maxpool_backward;
extern cn_avgpool_forward_fn cn_avgpool_forward;
extern cn_avgpool_backward_fn cn_avgpool_backward;
extern cn_adaptive_avgpool_forward_fn cn_adaptive_avgpool_forward;
extern cn_adaptive_avgpool_backward_fn cn_adaptive_avgpool_backward;

#endif
