/* pool_ref.c — the plain reference pooling kernels (see pool.h). Sums are accumulated in double. */
#include "kernels/pool.h"

cn_maxpool_forward_fn cn_maxpool_forward = cn_maxpool_forward_par;
cn_maxpool_backward_fn cn_maxpool_backward = cn_maxpool_backward_par;
cn_avgpool_forward_fn cn_avgpool_forward = cn_avgpool_forward_par;
cn_avgpool_backward_fn cn_avgpool_backward = cn_avgpool_backward_par;
cn_adaptive_avgpool_forward_fn cn_adaptive_avgpool_forward = cn_adaptive_avgpool_forward_par;
cn_adaptive_avgpool_backward_fn cn_adaptive_avgpool_backward = cn_adaptive_avgpool_backward_par;

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

void cn_maxpool_forward_ref(const cn_pool_geom *geo, int64_t planes, const cn_real *x, cn_real *y, int64_t *argmax) {
    const int64_t *in = geo->in, *out = geo->out, *k = geo->kernel, *s = geo->stride, *p = geo->pad, *d = geo->dilation;
    const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    for (int64_t pl = 0; pl < planes; pl++) {
        const cn_real *xp = x + pl * in_plane;
        int64_t o = pl * out_plane;
        for (int64_t o0 = 0; o0 < out[0]; o0++)
            for (int64_t o1 = 0; o1 < out[1]; o1++)
                for (int64_t o2 = 0; o2 < out[2]; o2++, o++) {
                    const int64_t s0 = o0 * s[0] - p[0], s1 = o1 * s[1] - p[1], s2 = o2 * s[2] - p[2];
                    cn_real best = -INFINITY;
                    int64_t best_at = -1;
                    for (int64_t k0 = 0; k0 < k[0]; k0++) {
                        const int64_t i0 = s0 + k0 * d[0];
                        if (i0 < 0 || i0 >= in[0]) continue;
                        for (int64_t k1 = 0; k1 < k[1]; k1++) {
                            const int64_t i1 = s1 + k1 * d[1];
                            if (i1 < 0 || i1 >= in[1]) continue;
                            for (int64_t k2 = 0; k2 < k[2]; k2++) {
                                const int64_t i2 = s2 + k2 * d[2];
                                if (i2 < 0 || i2 >= in[2]) continue;
                                const int64_t at = (i0 * in[1] + i1) * in[2] + i2;
                                const cn_real v = xp[at];
                                /* strict > keeps the first of equal maxima; NaN propagates */
                                if (best_at < 0 || v > best || isnan(v)) {
                                    best = v;
                                    best_at = at;
                                }
                            }
                        }
                    }
                    y[o] = best;
                    if (argmax) argmax[o] = best_at;
                }
    }
}

void cn_maxpool_backward_ref(int64_t planes, int64_t in_plane, int64_t out_plane, const cn_real *dy,
                             const int64_t *argmax, cn_real *dx) {
    for (int64_t pl = 0; pl < planes; pl++) {
        cn_real *dxp = dx + pl * in_plane;
        for (int64_t o = pl * out_plane; o < (pl + 1) * out_plane; o++)
            if (argmax[o] >= 0) dxp[argmax[o]] += dy[o];
    }
}

/* Window o on one axis: taps k in [lo, hi) are the real positions start + k*dilation (in [0, in)), and
 * `padded` taps lie before in + pad (PyTorch's rule without dilation: end = min(start + kernel, in + pad),
 * padded = end - start; with dilation ONNX Runtime's, the same count over the taps). */
typedef struct {
    int64_t start, step, lo, hi, padded;
} avg_window;

static int64_t ceil_div_pos(int64_t a, int64_t b) { return a <= 0 ? -((-a) / b) : (a + b - 1) / b; } /* b > 0 */

static avg_window avg_window_of(const cn_pool_geom *geo, int axis, int64_t o) {
    const int64_t start = o * geo->stride[axis] - geo->pad[axis], d = geo->dilation[axis] > 1 ? geo->dilation[axis] : 1;
    const int64_t k = geo->kernel[axis];
    avg_window w = {start, d, max64(ceil_div_pos(-start, d), 0), min64(ceil_div_pos(geo->in[axis] - start, d), k),
                    min64(ceil_div_pos(geo->in[axis] + geo->pad[axis] - start, d), k)};
    if (w.hi < w.lo) w.hi = w.lo;
    if (w.padded < 0) w.padded = 0;
    return w;
}

static double avg_divisor(const cn_pool_geom *geo, const avg_window w[3]) {
    if (geo->count_include_pad) return (double)(w[0].padded * w[1].padded * w[2].padded);
    return (double)((w[0].hi - w[0].lo) * (w[1].hi - w[1].lo) * (w[2].hi - w[2].lo));
}

#define AT(w, k) ((w).start + (k) * (w).step)

void cn_avgpool_forward_ref(const cn_pool_geom *geo, int64_t planes, const cn_real *x, cn_real *y) {
    const int64_t *in = geo->in, *out = geo->out;
    const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    for (int64_t pl = 0; pl < planes; pl++) {
        const cn_real *xp = x + pl * in_plane;
        int64_t o = pl * out_plane;
        for (int64_t o0 = 0; o0 < out[0]; o0++)
            for (int64_t o1 = 0; o1 < out[1]; o1++)
                for (int64_t o2 = 0; o2 < out[2]; o2++, o++) {
                    const avg_window w[3] = {avg_window_of(geo, 0, o0), avg_window_of(geo, 1, o1),
                                             avg_window_of(geo, 2, o2)};
                    double sum = 0;
                    for (int64_t k0 = w[0].lo; k0 < w[0].hi; k0++)
                        for (int64_t k1 = w[1].lo; k1 < w[1].hi; k1++)
                            for (int64_t k2 = w[2].lo; k2 < w[2].hi; k2++)
                                sum += xp[(AT(w[0], k0) * in[1] + AT(w[1], k1)) * in[2] + AT(w[2], k2)];
                    const double divisor = avg_divisor(geo, w);
                    y[o] = divisor > 0 ? (cn_real)(sum / divisor) : 0;
                }
    }
}

void cn_avgpool_backward_ref(const cn_pool_geom *geo, int64_t planes, const cn_real *dy, cn_real *dx) {
    const int64_t *in = geo->in, *out = geo->out;
    const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    for (int64_t pl = 0; pl < planes; pl++) {
        cn_real *dxp = dx + pl * in_plane;
        int64_t o = pl * out_plane;
        for (int64_t o0 = 0; o0 < out[0]; o0++)
            for (int64_t o1 = 0; o1 < out[1]; o1++)
                for (int64_t o2 = 0; o2 < out[2]; o2++, o++) {
                    const avg_window w[3] = {avg_window_of(geo, 0, o0), avg_window_of(geo, 1, o1),
                                             avg_window_of(geo, 2, o2)};
                    const double divisor = avg_divisor(geo, w);
                    if (!(divisor > 0)) continue;
                    const cn_real share = (cn_real)(dy[o] / divisor);
                    for (int64_t k0 = w[0].lo; k0 < w[0].hi; k0++)
                        for (int64_t k1 = w[1].lo; k1 < w[1].hi; k1++)
                            for (int64_t k2 = w[2].lo; k2 < w[2].hi; k2++)
                                dxp[(AT(w[0], k0) * in[1] + AT(w[1], k1)) * in[2] + AT(w[2], k2)] += share;
                }
    }
}

/* Bin i of out over in elements: [floor(i*in/out), ceil((i+1)*in/out)). */
static void adaptive_bin(int64_t in, int64_t out, int64_t i, int64_t *lo, int64_t *hi) {
    *lo = i * in / out;
    *hi = ((i + 1) * in + out - 1) / out;
}

void cn_adaptive_avgpool_forward_ref(const int64_t in[3], const int64_t out[3], int64_t planes, const cn_real *x,
                                     cn_real *y) {
    const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    for (int64_t pl = 0; pl < planes; pl++) {
        const cn_real *xp = x + pl * in_plane;
        int64_t o = pl * out_plane;
        for (int64_t o0 = 0; o0 < out[0]; o0++)
            for (int64_t o1 = 0; o1 < out[1]; o1++)
                for (int64_t o2 = 0; o2 < out[2]; o2++, o++) {
                    int64_t lo0, hi0, lo1, hi1, lo2, hi2;
                    adaptive_bin(in[0], out[0], o0, &lo0, &hi0);
                    adaptive_bin(in[1], out[1], o1, &lo1, &hi1);
                    adaptive_bin(in[2], out[2], o2, &lo2, &hi2);
                    double sum = 0;
                    for (int64_t i0 = lo0; i0 < hi0; i0++)
                        for (int64_t i1 = lo1; i1 < hi1; i1++)
                            for (int64_t i2 = lo2; i2 < hi2; i2++) sum += xp[(i0 * in[1] + i1) * in[2] + i2];
                    y[o] = (cn_real)(sum / (double)((hi0 - lo0) * (hi1 - lo1) * (hi2 - lo2)));
                }
    }
}

void cn_adaptive_avgpool_backward_ref(const int64_t in[3], const int64_t out[3], int64_t planes, const cn_real *dy,
                                      cn_real *dx) {
    const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    for (int64_t pl = 0; pl < planes; pl++) {
        cn_real *dxp = dx + pl * in_plane;
        int64_t o = pl * out_plane;
        for (int64_t o0 = 0; o0 < out[0]; o0++)
            for (int64_t o1 = 0; o1 < out[1]; o1++)
                for (int64_t o2 = 0; o2 < out[2]; o2++, o++) {
                    int64_t lo0, hi0, lo1, hi1, lo2, hi2;
                    adaptive_bin(in[0], out[0], o0, &lo0, &hi0);
                    adaptive_bin(in[1], out[1], o1, &lo1, &hi1);
                    adaptive_bin(in[2], out[2], o2, &lo2, &hi2);
                    const cn_real share = (cn_real)(dy[o] / (double)((hi0 - lo0) * (hi1 - lo1) * (hi2 - lo2)));
                    for (int64_t i0 = lo0; i0 < hi0; i0++)
                        for (int64_t i1 = lo1; i1 < hi1; i1++)
                            for (int64_t i2 = lo2; i2 < hi2; i2++) dxp[(i0 * in[1] + i1) * in[2] + i2] += share;
                }
    }
}
