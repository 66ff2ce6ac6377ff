/* loss_ref.c — the plain reference loss kernels (formulas in loss.h). Sums in double. */
#include "kernels/loss.h"

cn_cross_entropy_forward_fn cn_cross_entropy_forward = cn_cross_entropy_forward_ref;
cn_cross_entropy_backward_fn cn_cross_entropy_backward = cn_cross_entropy_backward_ref;
cn_hinge_forward_fn cn_hinge_forward = cn_hinge_forward_ref;
cn_hinge_backward_fn cn_hinge_backward = cn_hinge_backward_ref;
cn_mse_forward_fn cn_mse_forward = cn_mse_forward_ref;
cn_mse_backward_fn cn_mse_backward = cn_mse_backward_ref;

/* Row maximum and log-sum-exp of one row: lse = max + log sum_j exp(x_j - max), never overflows. */
static double row_logsumexp(const cn_real *x, int64_t c, double *row_max) {
    double m = x[0];
    for (int64_t j = 1; j < c; j++)
        if (x[j] > m) m = x[j];
    double sum = 0;
    for (int64_t j = 0; j < c; j++) sum += exp((double)x[j] - m);
    *row_max = m;
    return m + log(sum);
}

/* L = 1/n sum_i [ lse_i - (1-s) x_{i,y_i} - s/c sum_j x_ij ]   (sum_j q_j = 1) */
double cn_cross_entropy_forward_ref(const cn_real *logits, const cn_real *labels, int64_t n, int64_t c,
                                    double smoothing) {
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        const cn_real *x = logits + i * c;
        double m, lse = row_logsumexp(x, c, &m), row_sum = 0;
        for (int64_t j = 0; j < c; j++) row_sum += x[j];
        int64_t y = (int64_t)labels[i];
        total += lse - (1 - smoothing) * x[y] - smoothing / (double)c * row_sum;
    }
    return n > 0 ? total / (double)n : 0;
}

/* dx_ij += scale/n * (softmax_ij - q_ij),  q_ij = (1-s)[j == y_i] + s/c */
void cn_cross_entropy_backward_ref(const cn_real *logits, const cn_real *labels, int64_t n, int64_t c,
                                   double smoothing, double scale, cn_real *dlogits) {
    double k = scale / (double)n, uniform = smoothing / (double)c;
    for (int64_t i = 0; i < n; i++) {
        const cn_real *x = logits + i * c;
        cn_real *dx = dlogits + i * c;
        double m, lse = row_logsumexp(x, c, &m);
        int64_t y = (int64_t)labels[i];
        for (int64_t j = 0; j < c; j++) {
            double q = uniform + (j == y ? 1 - smoothing : 0);
            dx[j] += (cn_real)(k * (exp((double)x[j] - lse) - q));
        }
    }
}

/* L = 1/n sum_i sum_{j != y_i} max(0, x_ij - x_{i,y_i} + margin) */
double cn_hinge_forward_ref(const cn_real *scores, const cn_real *labels, int64_t n, int64_t c, double margin) {
    double total = 0;
    for (int64_t i = 0; i < n; i++) {
        const cn_real *x = scores + i * c;
        int64_t y = (int64_t)labels[i];
        for (int64_t j = 0; j < c; j++) {
            if (j == y) continue;
            double z = (double)x[j] - (double)x[y] + margin;
            if (z > 0) total += z;
        }
    }
    return n > 0 ? total / (double)n : 0;
}

/* Subgradient as PyTorch's MultiMarginLoss: a term counts when z > 0 (not at z == 0). */
void cn_hinge_backward_ref(const cn_real *scores, const cn_real *labels, int64_t n, int64_t c, double margin,
                           double scale, cn_real *dscores) {
    double k = scale / (double)n;
    for (int64_t i = 0; i < n; i++) {
        const cn_real *x = scores + i * c;
        cn_real *dx = dscores + i * c;
        int64_t y = (int64_t)labels[i], active = 0;
        for (int64_t j = 0; j < c; j++) {
            if (j == y) continue;
            if ((double)x[j] - (double)x[y] + margin > 0) {
                dx[j] += (cn_real)k;
                active++;
            }
        }
        dx[y] -= (cn_real)(k * (double)active);
    }
}

double cn_mse_forward_ref(const cn_real *pred, const cn_real *target, int64_t count) {
    double total = 0;
    for (int64_t k = 0; k < count; k++) {
        double d = (double)pred[k] - (double)target[k];
        total += d * d;
    }
    return count > 0 ? total / (double)count : 0;
}

void cn_mse_backward_ref(const cn_real *pred, const cn_real *target, int64_t count, double scale, cn_real *dpred,
                         cn_real *dtarget) {
    double k = 2 * scale / (double)count;
    for (int64_t i = 0; i < count; i++) {
        cn_real d = (cn_real)(k * ((double)pred[i] - (double)target[i]));
        if (dpred) dpred[i] += d;
        if (dtarget) dtarget[i] -= d;
    }
}
