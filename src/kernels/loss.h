/* loss.h — the arithmetic of the losses, on raw pointers. Each forward returns the mean loss (accumulated
 * in double); each backward ADDS scale * dL/d(input) into the given gradient (scale is the upstream
 * gradient of the scalar loss). Labels are class indices stored as cn_real and already checked by the op
 * to be integers in [0, c). Ops call the cn_* pointers; the _ref functions stay as the test twins.
 *   cross entropy, q = (1-s) onehot(y) + s/c:  L_i = lse(x_i) - sum_j q_j x_ij     dx_ij = (softmax_ij - q_j)/n
 *   hinge:  L_i = sum_{j != y} max(0, x_ij - x_iy + margin)      dx_ij = [z_ij > 0]/n, dx_iy = -sum_j [z_ij > 0]/n
 *   mse:    L = sum_k (p_k - t_k)^2 / m                           dp_k = 2 (p_k - t_k)/m = -dt_k */
#ifndef CN_KERNELS_LOSS_H
#define CN_KERNELS_LOSS_H

#include "internal.h"

/* logits and dlogits are (n, c), labels (n) */
typedef double (*cn_cross_entropy_forward_fn)(const cn_real *logits, const cn_real *labels, int64_t n, int64_t c,
                                             double smoothing);
typedef void (*cn_cross_entropy_backward_fn)(const cn_real *logits, const cn_real *labels, int64_t n, int64_t c,
                                             double smoothing, double scale, cn_real *dlogits);
/* scores and dscores are (n, c), labels (n) */
typedef double (*cn_hinge_forward_fn)(const cn_real *scores, const cn_real *labels, int64_t n, int64_t c,
                                      double margin);
typedef void (*cn_hinge_backward_fn)(const cn_real *scores, const cn_real *labels, int64_t n, int64_t c,
                                     double margin, double scale, cn_real *dscores);
/* pred, target and their gradients hold count elements; dpred or dtarget may be NULL */
typedef double (*cn_mse_forward_fn)(const cn_real *pred, const cn_real *target, int64_t count);
typedef void (*cn_mse_backward_fn)(const cn_real *pred, const cn_real *target, int64_t count, double scale,
                                   cn_real *dpred, cn_real *dtarget);

double cn_cross_entropy_forward_ref(const cn_real *logits, const cn_real *labels, int64_t n, int64_t c,
                                    double smoothing);
void cn_cross_entropy_backward_ref(const cn_real *logits, const cn_real *labels, int64_t n, int64_t c,
                                   double smoothing, double scale, cn_real *dlogits);
double cn_hinge_forward_ref(const cn_real *scores, const cn_real *labels, int64_t n, int64_t c, double margin);
void cn_hinge_backward_ref(const cn_real *scores, const cn_real *labels, int64_t n, int64_t c, double margin,
                           double scale, cn_real *dscores);
double cn_mse_forward_ref(const cn_real *pred, const cn_real *target, int64_t count);
void cn_mse_backward_ref(const cn_real *pred, const cn_real *target, int64_t count, double scale, cn_real *dpred,
                         cn_real *dtarget);

extern cn_cross_entropy_forward_fn cn_cross_entropy_forward;
extern cn_cross_entropy_backward_fn cn_cross_entropy_backward;
extern cn_hinge_forward_fn cn_hinge_forward;
extern cn_hinge_backward_fn cn_hinge_backward;
extern cn_mse_forward_fn cn_mse_forward;
extern cn_mse_backward_fn cn_mse_backward;

#endif
