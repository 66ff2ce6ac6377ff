/* norm.h — normalisation kernels: batch norm, "row" norm (LayerNorm, InstanceNorm, GroupNorm) and local
 * response norm. Pure functions on raw pointers, no allocation; statistics are accumulated in double.
 * Ops call the function pointers (cn_batchnorm_stats, ...); a fast version may replace them at start-up, the
 * _ref functions stay as the twins that tests compare against.
 *
 * Backward kernels ADD into dx, dweight and dbias; any of them may be NULL (not wanted). weight and bias may
 * be NULL (no affine transform: weight 1, bias 0). */
#ifndef CN_KERNELS_NORM_H
#define CN_KERNELS_NORM_H

#include "internal.h"

/* ---- batch norm. x is (n, c, s): s is the product of the spatial dims (1 for (N, C) input). Statistics
 * are per channel over n and s. */

/* mean[c] = E[x], var[c] = E[(x - mean)^2] (biased) over the n*s values of channel c. */
typedef void (*cn_batchnorm_stats_fn)(const cn_real *x, int64_t n, int64_t c, int64_t s, double *mean, double *var);
/* y = (x - mean[c]) * invstd[c] * weight[c] + bias[c] */
typedef void (*cn_batchnorm_apply_fn)(const cn_real *x, cn_real *y, int64_t n, int64_t c, int64_t s,
                                      const double *mean, const double *invstd, const cn_real *weight,
                                      const cn_real *bias);
/* Through the batch statistics (train mode), per channel over its m = n*s values, xhat = (x - mean)*invstd:
 *   dbias += sum(dy)   dweight += sum(dy * xhat)
 *   dx += weight * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))   (dx = ... when set_dx: a fresh gradient) */
typedef void (*cn_batchnorm_backward_fn)(const cn_real *x, const cn_real *dy, cn_real *dx, int64_t n, int64_t c,
                                         int64_t s, const double *mean, const double *invstd, const cn_real *weight,
                                         cn_real *dweight, cn_real *dbias, bool set_dx);

void cn_batchnorm_stats_ref(const cn_real *x, int64_t n, int64_t c, int64_t s, double *mean, double *var);
/* One channel's mean and biased variance: the body both versions share, so they agree bit for bit. */
void cn_batchnorm_channel_stats(const cn_real *x, int64_t n, int64_t c, int64_t s, int64_t ch, double *mean,
                                double *var);
/* One channel's backward (mean mu, inverse std is): likewise shared by both versions. */
void cn_batchnorm_channel_backward(const cn_real *x, const cn_real *dy, cn_real *dx, int64_t n, int64_t c, int64_t s,
                                   int64_t ch, double mu, double is, const cn_real *weight, cn_real *dweight,
                                   cn_real *dbias, bool set_dx);
void cn_batchnorm_apply_ref(const cn_real *x, cn_real *y, int64_t n, int64_t c, int64_t s, const double *mean,
                            const double *invstd, const cn_real *weight, const cn_real *bias);
void cn_batchnorm_backward_ref(const cn_real *x, const cn_real *dy, cn_real *dx, int64_t n, int64_t c, int64_t s,
                               const double *mean, const double *invstd, const cn_real *weight, cn_real *dweight,
                               cn_real *dbias, bool set_dx);

/* Threaded versions (threaded.c, bit-identical to the _ref functions): the default dispatch. */
void cn_batchnorm_stats_par(const cn_real *x, int64_t n, int64_t c, int64_t s, double *mean, double *var);
void cn_batchnorm_apply_par(const cn_real *x, cn_real *y, int64_t n, int64_t c, int64_t s, const double *mean,
                            const double *invstd, const cn_real *weight, const cn_real *bias);
void cn_batchnorm_backward_par(const cn_real *x, const cn_real *dy, cn_real *dx, int64_t n, int64_t c, int64_t s,
                               const double *mean, const double *invstd, const cn_real *weight, cn_real *dweight,
                               cn_real *dbias, bool set_dx);

extern cn_batchnorm_stats_fn cn_batchnorm_stats;
extern cn_batchnorm_apply_fn cn_batchnorm_apply;
extern cn_batchnorm_backward_fn cn_batchnorm_backward;

/* ---- row norm. x is (rows, len), each row normalised on its own with biased variance:
 *   y[r][j] = (x[r][j] - mean[r]) * invstd[r] * weight[a] + bias[a],  invstd = 1 / sqrt(var + eps)
 * The affine index a of element j of row r is (r % groups) * (len / div) + j / div, which covers:
 *   LayerNorm      rows = numel / len, len = product of the normalised dims, groups 1, div 1 (elementwise)
 *   GroupNorm      rows = N * G, len = (C / G) * S, groups G, div S (per channel)
 *   InstanceNorm   GroupNorm with G = C
 * len must be a multiple of div. mean and invstd (rows each) receive the statistics for backward. */
typedef void (*cn_rownorm_forward_fn)(const cn_real *x, cn_real *y, int64_t rows, int64_t len, int64_t groups,
                                      int64_t div, const cn_real *weight, const cn_real *bias, double eps,
                                      double *mean, double *invstd);
/* Per row, with g = dy * weight[a] and xhat = (x - mean) * invstd:
 *   dx += invstd * (g - mean(g) - xhat * mean(g * xhat))   dweight[a] += dy * xhat   dbias[a] += dy */
typedef void (*cn_rownorm_backward_fn)(const cn_real *x, const cn_real *dy, cn_real *dx, int64_t rows, int64_t len,
                                       int64_t groups, int64_t div, const double *mean, const double *invstd,
                                       const cn_real *weight, cn_real *dweight, cn_real *dbias);

void cn_rownorm_forward_ref(const cn_real *x, cn_real *y, int64_t rows, int64_t len, int64_t groups, int64_t div,
                            const cn_real *weight, const cn_real *bias, double eps, double *mean, double *invstd);
void cn_rownorm_backward_ref(const cn_real *x, const cn_real *dy, cn_real *dx, int64_t rows, int64_t len,
                             int64_t groups, int64_t div, const double *mean, const double *invstd,
                             const cn_real *weight, cn_real *dweight, cn_real *dbias);

extern cn_rownorm_forward_fn cn_rownorm_forward;
extern cn_rownorm_backward_fn cn_rownorm_backward;

/* ---- local response norm across channels. x is (n, c, s); the window of channel c starts `before` channels
 * earlier: before = size/2 is PyTorch's nn.LocalResponseNorm, (size-1)/2 ONNX's LRN (equal for odd sizes).
 *   scale[c] = k + alpha / size * sum_{c' = c - before}^{c - before + size - 1} x[c']^2   (zero outside [0, C))
 *   y[c] = x[c] * scale[c]^-beta
 * scale (n*c*s values) receives the scales for backward; NULL when not needed. */
typedef void (*cn_lrn_forward_fn)(const cn_real *x, cn_real *y, cn_real *scale, int64_t n, int64_t c, int64_t s,
                                  int size, int before, double alpha, double beta, double k);
/* dx[j] += dy[j] * scale[j]^-beta
 *          - 2 beta alpha / size * x[j] * sum_{c : j in window(c)} dy[c] * y[c] / scale[c]
 * where j is in window(c) for c in [j - (size - 1 - before), j + before]. */
typedef void (*cn_lrn_backward_fn)(const cn_real *x, const cn_real *y, const cn_real *scale, const cn_real *dy,
                                   cn_real *dx, int64_t n, int64_t c, int64_t s, int size, int before, double alpha,
                                   double beta);

void cn_lrn_forward_ref(const cn_real *x, cn_real *y, cn_real *scale, int64_t n, int64_t c, int64_t s, int size,
                        int before, double alpha, double beta, double k);
void cn_lrn_backward_ref(const cn_real *x, const cn_real *y, const cn_real *scale, const cn_real *dy, cn_real *dx,
                         int64_t n, int64_t c, int64_t s, int size, int before, double alpha, double beta);

extern cn_lrn_forward_fn cn_lrn_forward;
extern cn_lrn_backward_fn cn_lrn_backward;

#endif
