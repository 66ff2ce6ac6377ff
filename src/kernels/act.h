/* act.h — elementwise activations, PReLU, softmax / log-softmax and dropout on raw arrays.
 *
 * Layouts: elementwise kernels see a flat array of n values. PReLU sees x as (outer, channels, inner) with
 * one slope per channel (or one for all when n_weights == 1). Softmax sees x as (outer, axis_len, inner)
 * and normalises along the middle axis. Every backward ADDS into dx (and dw).
 *
 * The ops call the function pointers (cn_act_forward, ...), initialised to the _ref functions; a fast
 * version may replace a pointer at start-up, the reference stays as the twin that tests compare against. */
#ifndef CN_KERNELS_ACT_H
#define CN_KERNELS_ACT_H

#include "internal.h"

/* y = f(x) elementwise; alpha is LeakyReLU's negative slope or ELU's alpha (ignored by the others). */
typedef void (*cn_act_forward_fn)(cn_act act, cn_real alpha, const cn_real *x, cn_real *y, int64_t n);
/* dx += f'(x) * dy, or dx = f'(x) * dy when set (a gradient the graph left unzeroed for its first writer). x is
 * the input, y the saved output (Sigmoid and Tanh use y, the others x). */
typedef void (*cn_act_backward_fn)(cn_act act, cn_real alpha, const cn_real *x, const cn_real *y,
                                   const cn_real *dy, cn_real *dx, int64_t n, bool set);

/* x, y, dy, dx are (outer, channels, inner); w and dw have n_weights (1 or channels) elements.
 * y = x > 0 ? x : w_c x      dx += x > 0 ? dy : w_c dy      dw_c += sum over x <= 0 of x dy.
 * dx may be NULL (no input gradient wanted). */
typedef void (*cn_prelu_forward_fn)(const cn_real *x, const cn_real *w, cn_real *y, int64_t outer,
                                    int64_t channels, int64_t inner, int64_t n_weights);
typedef void (*cn_prelu_backward_fn)(const cn_real *x, const cn_real *w, const cn_real *dy, cn_real *dx,
                                     cn_real *dw, int64_t outer, int64_t channels, int64_t inner,
                                     int64_t n_weights);

/* x, y, dy, dx are (outer, axis_len, inner). With m = max_k x_k along the axis:
 *   softmax      y_k = exp(x_k - m) / sum_j exp(x_j - m)       dx_k += y_k (dy_k - sum_j dy_j y_j)
 *   log_softmax  y_k = x_k - m - log(sum_j exp(x_j - m))        dx_k += dy_k - exp(y_k) sum_j dy_j
 * Backward needs only the saved output y. */
typedef void (*cn_softmax_forward_fn)(bool log_softmax, const cn_real *x, cn_real *y, int64_t outer,
                                      int64_t axis_len, int64_t inner);
typedef void (*cn_softmax_backward_fn)(bool log_softmax, const cn_real *y, const cn_real *dy, cn_real *dx,
                                       int64_t outer, int64_t axis_len, int64_t inner);

/* Inverted dropout with a given mask (1 keep, 0 drop) and keep probability q = 1 - p > 0:
 *   y = mask ? x / q : 0        dx += mask ? dy / q : 0 */
typedef void (*cn_dropout_forward_fn)(const cn_real *x, const uint8_t *mask, cn_real keep_prob, cn_real *y,
                                      int64_t n);
typedef void (*cn_dropout_backward_fn)(const uint8_t *mask, cn_real keep_prob, const cn_real *dy, cn_real *dx,
                                       int64_t n);

void cn_act_forward_ref(cn_act act, cn_real alpha, const cn_real *x, cn_real *y, int64_t n);
void cn_act_backward_ref(cn_act act, cn_real alpha, const cn_real *x, const cn_real *y, const cn_real *dy,
                         cn_real *dx, int64_t n, bool set);
void cn_prelu_forward_ref(const cn_real *x, const cn_real *w, cn_real *y, int64_t outer, int64_t channels,
                          int64_t inner, int64_t n_weights);
void cn_prelu_backward_ref(const cn_real *x, const cn_real *w, const cn_real *dy, cn_real *dx, cn_real *dw,
                           int64_t outer, int64_t channels, int64_t inner, int64_t n_weights);
void cn_softmax_forward_ref(bool log_softmax, const cn_real *x, cn_real *y, int64_t outer, int64_t axis_len,
                            int64_t inner);
void cn_softmax_backward_ref(bool log_softmax, const cn_real *y, const cn_real *dy, cn_real *dx, int64_t outer,
                             int64_t axis_len, int64_t inner);
void cn_dropout_forward_ref(const cn_real *x, const uint8_t *mask, cn_real keep_prob, cn_real *y, int64_t n);
void cn_dropout_backward_ref(const uint8_t *mask, cn_real keep_prob, const cn_real *dy, cn_real *dx, int64_t n);

/* Threaded versions (threaded.c, bit-identical to the _ref functions): the default dispatch. */
void cn_act_forward_par(cn_act act, cn_real alpha, const cn_real *x, cn_real *y, int64_t n);
void cn_act_backward_par(cn_act act, cn_real alpha, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx,
                         int64_t n, bool set);

extern cn_act_forward_fn cn_act_forward;
extern cn_act_backward_fn cn_act_backward;
extern cn_prelu_forward_fn cn_prelu_forward;
extern cn_prelu_backward_fn cn_prelu_backward;
extern cn_softmax_forward_fn cn_softmax_forward;
extern cn_softmax_backward_fn cn_softmax_backward;
extern cn_dropout_forward_fn cn_dropout_forward;
extern cn_dropout_backward_fn cn_dropout_backward;

#endif
