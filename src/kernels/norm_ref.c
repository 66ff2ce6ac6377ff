/* norm_ref.c — the plain reference normalisation kernels (see norm.h). Two passes (mean, then the squared
 * deviations) in double, so the variance does not suffer from E[x^2] - E[x]^2 cancellation. */
#include "kernels/norm.h"

cn_batchnorm_stats_fn cn_batchnorm_stats = cn_batchnorm_stats_par;
cn_batchnorm_apply_fn cn_batchnorm_apply = cn_batchnorm_apply_par;
cn_batchnorm_backward_fn cn_batchnorm_backward = cn_batchnorm_backward_par;
cn_rownorm_forward_fn cn_rownorm_forward = cn_rownorm_forward_ref;
cn_rownorm_backward_fn cn_rownorm_backward = cn_rownorm_backward_ref;
cn_lrn_forward_fn cn_lrn_forward = cn_lrn_forward_ref;
cn_lrn_backward_fn cn_lrn_backward = cn_lrn_backward_ref;

/* ---------------------------------------------------------------- batch norm */
/* The channel sums run in 8 partial sums (lane k % 8 of each plane's run), added up in a fixed order at the
 * end: one chain of dependent double additions ran at an element per 4 cycles (the latency), which the
 * compiler may not reorder; 8 chains it vectorises (batch norm's statistics and backward: 10 % of a ResNet-50
 * training step before). The result depends on the layout only, never on the thread count. */
enum { BN_LANES = 8 };
static inline double lanes_total(const double a[BN_LANES]) {
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* Mean and biased variance of one channel over the batch and the spatial positions (two passes, double). */
void cn_batchnorm_channel_stats(const cn_real *x, int64_t n, int64_t c, int64_t s, int64_t ch, double *mean,
                                double *var) {
    double m = (double)(n * s), acc[BN_LANES] = {0};
    for (int64_t i = 0; i < n; i++) {
        const cn_real *p = x + (i * c + ch) * s;
        int64_t k = 0;
        for (; k + BN_LANES <= s; k += BN_LANES)
            for (int l = 0; l < BN_LANES; l++) acc[l] += (double)p[k + l];
        for (; k < s; k++) acc[k % BN_LANES] += (double)p[k];
    }
    double mu = lanes_total(acc) / m, sq[BN_LANES] = {0};
    for (int64_t i = 0; i < n; i++) {
        const cn_real *p = x + (i * c + ch) * s;
        int64_t k = 0;
        for (; k + BN_LANES <= s; k += BN_LANES)
            for (int l = 0; l < BN_LANES; l++) {
                double d = (double)p[k + l] - mu;
                sq[l] += d * d;
            }
        for (; k < s; k++) {
            double d = (double)p[k] - mu;
            sq[k % BN_LANES] += d * d;
        }
    }
    *mean = mu;
    *var = lanes_total(sq) / m;
}

void cn_batchnorm_stats_ref(const cn_real *x, int64_t n, int64_t c, int64_t s, double *mean, double *var) {
    for (int64_t ch = 0; ch < c; ch++) cn_batchnorm_channel_stats(x, n, c, s, ch, &mean[ch], &var[ch]);
}

void cn_batchnorm_apply_ref(const cn_real *x, cn_real *y, int64_t n, int64_t c, int64_t s, const double *mean,
                            const double *invstd, const cn_real *weight, const cn_real *bias) {
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++) {
            double scale = invstd[ch] * (weight ? (double)weight[ch] : 1.0), shift = bias ? (double)bias[ch] : 0.0;
            double mu = mean[ch];
            const cn_real *p = x + (i * c + ch) * s;
            cn_real *q = y + (i * c + ch) * s;
            for (int64_t k = 0; k < s; k++) q[k] = (cn_real)(((double)p[k] - mu) * scale + shift);
        }
}

/* One channel's backward (sums in double):
 *   dbias += sum dy    dweight += sum dy*xhat    dx += w*invstd*(dy - mean(dy) - xhat*mean(dy*xhat)) */
void cn_batchnorm_channel_backward(const cn_real *x, const cn_real *dy, cn_real *dx, int64_t n, int64_t c, int64_t s,
                                   int64_t ch, double mu, double is, const cn_real *weight, cn_real *dweight,
                                   cn_real *dbias, bool set_dx) {
    double m = (double)(n * s), a_dy[BN_LANES] = {0}, a_dy_xhat[BN_LANES] = {0};
    for (int64_t i = 0; i < n; i++) {
        const cn_real *p = x + (i * c + ch) * s, *g = dy + (i * c + ch) * s;
        int64_t k = 0;
        for (; k + BN_LANES <= s; k += BN_LANES)
            for (int l = 0; l < BN_LANES; l++) {
                a_dy[l] += (double)g[k + l];
                a_dy_xhat[l] += (double)g[k + l] * ((double)p[k + l] - mu) * is;
            }
        for (; k < s; k++) {
            a_dy[k % BN_LANES] += (double)g[k];
            a_dy_xhat[k % BN_LANES] += (double)g[k] * ((double)p[k] - mu) * is;
        }
    }
    double sum_dy = lanes_total(a_dy), sum_dy_xhat = lanes_total(a_dy_xhat);
    if (dbias) dbias[ch] += (cn_real)sum_dy;
    if (dweight) dweight[ch] += (cn_real)sum_dy_xhat;
    if (!dx) return;
    double w = weight ? (double)weight[ch] : 1.0;
    double mean_dy = sum_dy / m, mean_dy_xhat = sum_dy_xhat / m;
    for (int64_t i = 0; i < n; i++) {
        const cn_real *p = x + (i * c + ch) * s, *g = dy + (i * c + ch) * s;
        cn_real *q = dx + (i * c + ch) * s;
        if (set_dx)
            for (int64_t k = 0; k < s; k++) {
                double xhat = ((double)p[k] - mu) * is;
                q[k] = (cn_real)(w * is * ((double)g[k] - mean_dy - xhat * mean_dy_xhat));
            }
        else
            for (int64_t k = 0; k < s; k++) {
                double xhat = ((double)p[k] - mu) * is;
                q[k] += (cn_real)(w * is * ((double)g[k] - mean_dy - xhat * mean_dy_xhat));
            }
    }
}

void cn_batchnorm_backward_ref(const cn_real *x, const cn_real *dy, cn_real *dx, int64_t n, int64_t c, int64_t s,
                               const double *mean, const double *invstd, const cn_real *weight, cn_real *dweight,
                               cn_real *dbias, bool set_dx) {
    for (int64_t ch = 0; ch < c; ch++)
        cn_batchnorm_channel_backward(x, dy, dx, n, c, s, ch, mean[ch], invstd[ch], weight, dweight, dbias, set_dx);
}

/* ---------------------------------------------------------------- row norm (LayerNorm, GroupNorm, InstanceNorm) */
void cn_rownorm_forward_ref(const cn_real *x, cn_real *y, int64_t rows, int64_t len, int64_t groups, int64_t div,
                            const cn_real *weight, const cn_real *bias, double eps, double *mean, double *invstd) {
    int64_t blocks = len / div; /* affine entries per row */
    for (int64_t r = 0; r < rows; r++) {
        const cn_real *p = x + r * len;
        cn_real *q = y + r * len;
        double sum = 0, sq = 0;
        for (int64_t j = 0; j < len; j++) sum += (double)p[j];
        double mu = sum / (double)len;
        for (int64_t j = 0; j < len; j++) {
            double d = (double)p[j] - mu;
            sq += d * d;
        }
        double is = 1.0 / sqrt(sq / (double)len + eps);
        mean[r] = mu;
        invstd[r] = is;
        int64_t a0 = (r % groups) * blocks;
        for (int64_t b = 0; b < blocks; b++) {
            double w = weight ? (double)weight[a0 + b] : 1.0, sh = bias ? (double)bias[a0 + b] : 0.0;
            for (int64_t k = b * div; k < (b + 1) * div; k++) q[k] = (cn_real)(((double)p[k] - mu) * is * w + sh);
        }
    }
}

void cn_rownorm_backward_ref(const cn_real *x, const cn_real *dy, cn_real *dx, int64_t rows, int64_t len,
                             int64_t groups, int64_t div, const double *mean, const double *invstd,
                             const cn_real *weight, cn_real *dweight, cn_real *dbias) {
    int64_t blocks = len / div;
    for (int64_t r = 0; r < rows; r++) {
        const cn_real *p = x + r * len, *gy = dy + r * len;
        double mu = mean[r], is = invstd[r], sum_g = 0, sum_g_xhat = 0;
        int64_t a0 = (r % groups) * blocks;
        for (int64_t b = 0; b < blocks; b++) {
            double w = weight ? (double)weight[a0 + b] : 1.0, sum_dy = 0, sum_dy_xhat = 0;
            for (int64_t k = b * div; k < (b + 1) * div; k++) {
                double xhat = ((double)p[k] - mu) * is;
                sum_dy += (double)gy[k];
                sum_dy_xhat += (double)gy[k] * xhat;
            }
            sum_g += w * sum_dy;
            sum_g_xhat += w * sum_dy_xhat;
            if (dweight) dweight[a0 + b] += (cn_real)sum_dy_xhat;
            if (dbias) dbias[a0 + b] += (cn_real)sum_dy;
        }
        if (!dx) continue;
        double mean_g = sum_g / (double)len, mean_g_xhat = sum_g_xhat / (double)len;
        cn_real *q = dx + r * len;
        for (int64_t b = 0; b < blocks; b++) {
            double w = weight ? (double)weight[a0 + b] : 1.0;
            for (int64_t k = b * div; k < (b + 1) * div; k++) {
                double xhat = ((double)p[k] - mu) * is;
                q[k] += (cn_real)(is * (w * (double)gy[k] - mean_g - xhat * mean_g_xhat));
            }
        }
    }
}

/* ---------------------------------------------------------------- local response norm */
/* Channels c' of the window of channel ch, clipped to [0, c): [ch - size/2, ch + (size-1)/2]. */
static void lrn_window(int64_t ch, int64_t c, int size, int before, int64_t *lo, int64_t *hi) {
    *lo = ch - before;
    *hi = ch - before + size - 1;
    if (*lo < 0) *lo = 0;
    if (*hi > c - 1) *hi = c - 1;
}

void cn_lrn_forward_ref(const cn_real *x, cn_real *y, cn_real *scale, int64_t n, int64_t c, int64_t s, int size,
                        int before, double alpha, double beta, double k) {
    double a = alpha / size;
    for (int64_t i = 0; i < n; i++) {
        const cn_real *xs = x + i * c * s;
        for (int64_t ch = 0; ch < c; ch++) {
            int64_t lo, hi;
            lrn_window(ch, c, size, before, &lo, &hi);
            for (int64_t p = 0; p < s; p++) {
                double sum = 0;
                for (int64_t w = lo; w <= hi; w++) {
                    double v = (double)xs[w * s + p];
                    sum += v * v;
                }
                double sc = k + a * sum;
                int64_t at = (i * c + ch) * s + p;
                if (scale) scale[at] = (cn_real)sc;
                y[at] = (cn_real)((double)x[at] * pow(sc, -beta));
            }
        }
    }
}

void cn_lrn_backward_ref(const cn_real *x, const cn_real *y, const cn_real *scale, const cn_real *dy, cn_real *dx,
                         int64_t n, int64_t c, int64_t s, int size, int before, double alpha, double beta) {
    double coef = 2.0 * beta * alpha / size;
    for (int64_t i = 0; i < n; i++) {
        int64_t base = i * c * s;
        for (int64_t j = 0; j < c; j++) {
            /* channels whose window contains j */
            int64_t lo = j - (size - 1 - before), hi = j + before;
            if (lo < 0) lo = 0;
            if (hi > c - 1) hi = c - 1;
            for (int64_t p = 0; p < s; p++) {
                double sum = 0;
                for (int64_t ch = lo; ch <= hi; ch++) {
                    int64_t at = base + ch * s + p;
                    sum += (double)dy[at] * (double)y[at] / (double)scale[at];
                }
                int64_t at = base + j * s + p;
                dx[at] += (cn_real)((double)dy[at] * pow((double)scale[at], -beta) - coef * (double)x[at] * sum);
            }
        }
    }
}
