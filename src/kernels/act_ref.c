/* act_ref.c — the plain reference kernels of act.h: activations, PReLU, softmax, dropout. */
#include "kernels/act.h"

cn_act_forward_fn cn_act_forward = cn_act_forward_par;
cn_act_backward_fn cn_act_backward = cn_act_backward_par;
cn_prelu_forward_fn cn_prelu_forward = cn_prelu_forward_ref;
cn_prelu_backward_fn cn_prelu_backward = cn_prelu_backward_ref;
cn_softmax_forward_fn cn_softmax_forward = cn_softmax_forward_ref;
cn_softmax_backward_fn cn_softmax_backward = cn_softmax_backward_ref;
cn_dropout_forward_fn cn_dropout_forward = cn_dropout_forward_ref;
cn_dropout_backward_fn cn_dropout_backward = cn_dropout_backward_ref;

#define INV_SQRT2 ((cn_real)0.70710678118654752440)       /* 1/sqrt(2) */
#define INV_SQRT_2PI ((cn_real)0.39894228040143267794)    /* 1/sqrt(2 pi) */
#define SQRT_2_OVER_PI ((cn_real)0.79788456080286535588)  /* sqrt(2/pi) */
#define GELU_CUBIC ((cn_real)0.044715)

/* ReLU        y = max(x, 0)
 * LeakyReLU   y = x > 0 ? x : alpha x
 * ELU         y = x > 0 ? x : alpha (exp(x) - 1)
 * Sigmoid     y = 1 / (1 + exp(-x))
 * Tanh        y = tanh(x)
 * GELU        y = x Phi(x) = x/2 (1 + erf(x / sqrt 2))
 * GELU tanh   y = x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
void cn_act_forward_ref(cn_act act, cn_real alpha, const cn_real *x, cn_real *y, int64_t n) {
    const cn_real zero = 0, one = 1, half = (cn_real)0.5;
    switch (act) {
    case CN_ACT_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > zero ? x[i] : zero;
        break;
    case CN_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > zero ? x[i] : alpha * x[i];
        break;
    case CN_ACT_ELU:
        for (int64_t i = 0; i < n; i++) y[i] = x[i] > zero ? x[i] : alpha * (exp(x[i]) - one);
        break;
    case CN_ACT_SIGMOID:
        for (int64_t i = 0; i < n; i++) y[i] = one / (one + exp(-x[i]));
        break;
    case CN_ACT_TANH:
        for (int64_t i = 0; i < n; i++) y[i] = tanh(x[i]);
        break;
    case CN_ACT_GELU:
        for (int64_t i = 0; i < n; i++) y[i] = half * x[i] * (one + erf(x[i] * INV_SQRT2));
        break;
    case CN_ACT_GELU_TANH:
        for (int64_t i = 0; i < n; i++) {
            cn_real v = x[i];
            y[i] = half * v * (one + tanh(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v)));
        }
        break;
    }
}

/* ReLU        dx += x > 0 ? dy : 0
 * LeakyReLU   dx += x > 0 ? dy : alpha dy
 * ELU         dx += x > 0 ? dy : alpha exp(x) dy
 * Sigmoid     dx += y (1 - y) dy                      (from the saved output)
 * Tanh        dx += (1 - y^2) dy                      (from the saved output)
 * GELU        dx += (Phi(x) + x phi(x)) dy,  phi(x) = exp(-x^2/2) / sqrt(2 pi)
 * GELU tanh   with u = sqrt(2/pi) (x + 0.044715 x^3), t = tanh(u):
 *             dx += (1/2 (1 + t) + x/2 (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2)) dy */
/* f'(x) * g per activation. g is an argument, so every loop reads dy[i] whatever the branch: a load under the
 * condition kept the compiler from vectorising ReLU's (a branch per element, mispredicted on half of them: 11 %
 * of a ResNet-50 training step). */
static inline cn_real relu_d(cn_real x, cn_real g) { return x > 0 ? g : 0; }
static inline cn_real leaky_d(cn_real x, cn_real g, cn_real alpha) { return x > 0 ? g : alpha * g; }
static inline cn_real elu_d(cn_real x, cn_real g, cn_real alpha) { return x > 0 ? g : alpha * exp(x) * g; }
static inline cn_real gelu_d(cn_real v, cn_real g) {
    const cn_real half = (cn_real)0.5, one = 1;
    cn_real cdf = half * (one + erf(v * INV_SQRT2));
    cn_real pdf = INV_SQRT_2PI * exp(-half * v * v);
    return (cdf + v * pdf) * g;
}
static inline cn_real gelu_tanh_d(cn_real v, cn_real g) {
    const cn_real half = (cn_real)0.5, one = 1;
    cn_real t = tanh(SQRT_2_OVER_PI * (v + GELU_CUBIC * v * v * v));
    cn_real du = SQRT_2_OVER_PI * (one + 3 * GELU_CUBIC * v * v);
    return (half * (one + t) + half * v * (one - t * t) * du) * g;
}

#define ACT_LOOP(expr)                                                                                        \
    do {                                                                                                      \
        if (set)                                                                                              \
            for (int64_t i = 0; i < n; i++) dx[i] = (expr);                                                   \
        else                                                                                                  \
            for (int64_t i = 0; i < n; i++) dx[i] += (expr);                                                  \
    } while (0)

void cn_act_backward_ref(cn_act act, cn_real alpha, const cn_real *x, const cn_real *y, const cn_real *dy,
                         cn_real *dx, int64_t n, bool set) {
    const cn_real one = 1;
    switch (act) {
    case CN_ACT_RELU: ACT_LOOP(relu_d(x[i], dy[i])); break;
    case CN_ACT_LEAKY_RELU: ACT_LOOP(leaky_d(x[i], dy[i], alpha)); break;
    case CN_ACT_ELU: ACT_LOOP(elu_d(x[i], dy[i], alpha)); break;
    case CN_ACT_SIGMOID: ACT_LOOP(y[i] * (one - y[i]) * dy[i]); break;
    case CN_ACT_TANH: ACT_LOOP((one - y[i] * y[i]) * dy[i]); break;
    case CN_ACT_GELU: ACT_LOOP(gelu_d(x[i], dy[i])); break;
    case CN_ACT_GELU_TANH: ACT_LOOP(gelu_tanh_d(x[i], dy[i])); break;
    }
}
#undef ACT_LOOP

void cn_prelu_forward_ref(const cn_real *x, const cn_real *w, cn_real *y, int64_t outer, int64_t channels,
                          int64_t inner, int64_t n_weights) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < channels; c++) {
            cn_real slope = w[n_weights == 1 ? 0 : c];
            int64_t base = (o * channels + c) * inner;
            for (int64_t i = 0; i < inner; i++) {
                cn_real v = x[base + i];
                y[base + i] = v > 0 ? v : slope * v;
            }
        }
}

void cn_prelu_backward_ref(const cn_real *x, const cn_real *w, const cn_real *dy, cn_real *dx, cn_real *dw,
                           int64_t outer, int64_t channels, int64_t inner, int64_t n_weights) {
    double total = 0; /* the single slope's gradient when n_weights == 1 */
    for (int64_t c = 0; c < channels; c++) {
        cn_real slope = w[n_weights == 1 ? 0 : c];
        double acc = 0;
        for (int64_t o = 0; o < outer; o++) {
            int64_t base = (o * channels + c) * inner;
            for (int64_t i = 0; i < inner; i++) {
                cn_real v = x[base + i], g = dy[base + i];
                if (v > 0) {
                    if (dx) dx[base + i] += g;
                } else {
                    if (dx) dx[base + i] += slope * g;
                    acc += (double)v * (double)g;
                }
            }
        }
        if (n_weights == 1) total += acc;
        else dw[c] += (cn_real)acc;
    }
    if (n_weights == 1) dw[0] += (cn_real)total;
}

void cn_softmax_forward_ref(bool log_softmax, const cn_real *x, cn_real *y, int64_t outer, int64_t axis_len,
                            int64_t inner) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            const cn_real *xs = x + o * axis_len * inner + i;
            cn_real *ys = y + o * axis_len * inner + i;
            cn_real m = xs[0];
            for (int64_t k = 1; k < axis_len; k++)
                if (xs[k * inner] > m) m = xs[k * inner];
            double sum = 0;
            for (int64_t k = 0; k < axis_len; k++) {
                cn_real e = exp(xs[k * inner] - m);
                sum += (double)e;
                if (!log_softmax) ys[k * inner] = e;
            }
            if (log_softmax) {
                cn_real log_sum = (cn_real)log(sum);
                for (int64_t k = 0; k < axis_len; k++) ys[k * inner] = xs[k * inner] - m - log_sum;
            } else {
                cn_real inv = (cn_real)(1.0 / sum);
                for (int64_t k = 0; k < axis_len; k++) ys[k * inner] *= inv;
            }
        }
}

void cn_softmax_backward_ref(bool log_softmax, const cn_real *y, const cn_real *dy, cn_real *dx, int64_t outer,
                             int64_t axis_len, int64_t inner) {
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * axis_len * inner + i;
            const cn_real *ys = y + base, *gs = dy + base;
            cn_real *dxs = dx + base;
            double s = 0;
            for (int64_t k = 0; k < axis_len; k++)
                s += log_softmax ? (double)gs[k * inner] : (double)gs[k * inner] * (double)ys[k * inner];
            cn_real sr = (cn_real)s;
            if (log_softmax)
                for (int64_t k = 0; k < axis_len; k++) dxs[k * inner] += gs[k * inner] - exp(ys[k * inner]) * sr;
            else
                for (int64_t k = 0; k < axis_len; k++) dxs[k * inner] += ys[k * inner] * (gs[k * inner] - sr);
        }
}

void cn_dropout_forward_ref(const cn_real *x, const uint8_t *mask, cn_real keep_prob, cn_real *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = mask[i] ? x[i] / keep_prob : (cn_real)0;
}

void cn_dropout_backward_ref(const uint8_t *mask, cn_real keep_prob, const cn_real *dy, cn_real *dx, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (mask[i]) dx[i] += dy[i] / keep_prob;
}
