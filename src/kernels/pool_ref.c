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
                             const int64_t *argmax, cn_real *dx, bool set) {
    for (int64_t pl = 0; pl < planes; pl++) {
        cn_real *dxp = dx + pl * in_plane;
        if (set)
            for (int64_t i = 0; i < in_plane; i++) dxp[i] = 0;
        for (int64_t o = pl * out_plane; o < (pl + 1) * out_plane; o++)
            if (argmax[o] >= 0) dxp[argmax[o]] += dy[o];
    }
}

/* Without dilation (the common case, kept apart so it compiles as tightly as it did): the real positions [lo, hi) of window o on one axis, and its size clipped to the padded input,
 * PyTorch's rule: end = min(start + kernel, in + pad), padded = end - start. */
typedef struct {
    int64_t lo, hi, padded;
} dense_window;

static dense_window dense_window_of(const cn_pool_geom *geo, int axis, int64_t o) {
    const int64_t start = o * geo->stride[axis] - geo->pad[axis];
    const int64_t end = min64(start + geo->kernel[axis], geo->in[axis] + geo->pad[axis]);
    dense_window w = {max64(start, 0), min64(end, geo->in[axis]), end - start};
    if (w.hi < w.lo) w.hi = w.lo;
    return w;
}

static double dense_divisor(const cn_pool_geom *geo, const dense_window w[3]) {
    if (geo->count_include_pad) return (double)(w[0].padded * w[1].padded * w[2].padded);
    return (double)((w[0].hi - w[0].lo) * (w[1].hi - w[1].lo) * (w[2].hi - w[2].lo));
}

/* noinline: inlined into the dispatcher next to the dilated path, gcc compiles it ~15% slower (callgrind) */
__attribute__((noinline)) static void avgpool_forward_dense(const cn_pool_geom *geo, int64_t planes, const cn_real *x, cn_real *y) {
    const int64_t *in = geo->in, *out = geo->out;
    const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    for (int64_t pl = 0; pl < planes; pl++) {
        const cn_real *xp = x + pl * in_plane;
        int64_t o = pl * out_plane;
        for (int64_t o0 = 0; o0 < out[0]; o0++)
            for (int64_t o1 = 0; o1 < out[1]; o1++)
                for (int64_t o2 = 0; o2 < out[2]; o2++, o++) {
                    const dense_window w[3] = {dense_window_of(geo, 0, o0), dense_window_of(geo, 1, o1),
                                             dense_window_of(geo, 2, o2)};
                    double sum = 0;
                    for (int64_t i0 = w[0].lo; i0 < w[0].hi; i0++)
                        for (int64_t i1 = w[1].lo; i1 < w[1].hi; i1++)
                            for (int64_t i2 = w[2].lo; i2 < w[2].hi; i2++) sum += xp[(i0 * in[1] + i1) * in[2] + i2];
                    const double divisor = dense_divisor(geo, w);
                    y[o] = divisor > 0 ? (cn_real)(sum / divisor) : 0;
                }
    }
}

__attribute__((noinline)) static void avgpool_backward_dense(const cn_pool_geom *geo, int64_t planes, const cn_real *dy, cn_real *dx) {
    const int64_t *in = geo->in, *out = geo->out;
    const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    for (int64_t pl = 0; pl < planes; pl++) {
        cn_real *dxp = dx + pl * in_plane;
        int64_t o = pl * out_plane;
        for (int64_t o0 = 0; o0 < out[0]; o0++)
            for (int64_t o1 = 0; o1 < out[1]; o1++)
                for (int64_t o2 = 0; o2 < out[2]; o2++, o++) {
                    const dense_window w[3] = {dense_window_of(geo, 0, o0), dense_window_of(geo, 1, o1),
                                             dense_window_of(geo, 2, o2)};
                    const double divisor = dense_divisor(geo, w);
                    if (!(divisor > 0)) continue;
                    const cn_real share = (cn_real)(dy[o] / divisor);
                    for (int64_t i0 = w[0].lo; i0 < w[0].hi; i0++)
                        for (int64_t i1 = w[1].lo; i1 < w[1].hi; i1++)
                            for (int64_t i2 = w[2].lo; i2 < w[2].hi; i2++) dxp[(i0 * in[1] + i1) * in[2] + i2] += share;
                }
    }
}

/* With dilation (ONNX's AveragePool from opset 19): window o on one axis has taps k in [lo, hi) at the real
 * positions start + k*dilation (in [0, in)), and `padded` taps before in + pad (the dense rule above counted
 * over the taps, as ONNX Runtime does). */
typedef struct {
    int64_t start, step, lo, hi, padded;
} avg_window;

static int64_t ceil_div_pos(int64_t a, int64_t b) { return a <= 0 ? -((-a) / b) : (a + b - 1) / b; } /* b > 0 */

static inline avg_window avg_window_of(const cn_pool_geom *geo, int axis, int64_t o) {
    const int64_t start = o * geo->stride[axis] - geo->pad[axis], d = geo->dilation[axis] > 1 ? geo->dilation[axis] : 1;
    const int64_t k = geo->kernel[axis];
    avg_window w = {start, d, max64(-start, 0), min64(geo->in[axis] - start, k), min64(geo->in[axis] + geo->pad[axis] - start, k)};
    if (d > 1) { /* the taps start + t*d inside [0, in) and before in + pad */
        w.lo = max64(ceil_div_pos(-start, d), 0);
        w.hi = min64(ceil_div_pos(geo->in[axis] - start, d), k);
        w.padded = min64(ceil_div_pos(geo->in[axis] + geo->pad[axis] - start, d), k);
    }
    if (w.hi < w.lo) w.hi = w.lo;
    if (w.padded < 0) w.padded = 0;
    return w;
}

static double avg_divisor(const cn_pool_geom *geo, const avg_window w[3]) {
    if (geo->count_include_pad) return (double)(w[0].padded * w[1].padded * w[2].padded);
    return (double)((w[0].hi - w[0].lo) * (w[1].hi - w[1].lo) * (w[2].hi - w[2].lo));
}

#define AT(w, k) ((w).start + (k) * (w).step)

static void avgpool_forward_dilated(const cn_pool_geom *geo, int64_t planes, const cn_real *x, cn_real *y) {
    const int64_t *in = geo->in, *out = geo->out;
    const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    for (int64_t pl = 0; pl < planes; pl++) {
        const cn_real *xp = x + pl * in_plane;
        int64_t o = pl * out_plane;
        avg_window w[3]; /* each axis's window, made once per index of that axis */
        for (int64_t o0 = 0; o0 < out[0]; o0++) {
            w[0] = avg_window_of(geo, 0, o0);
            for (int64_t o1 = 0; o1 < out[1]; o1++) {
                w[1] = avg_window_of(geo, 1, o1);
                for (int64_t o2 = 0; o2 < out[2]; o2++, o++) {
                    w[2] = avg_window_of(geo, 2, o2);
                    double sum = 0;
                    const int64_t a0 = AT(w[0], w[0].lo), b0 = AT(w[0], w[0].hi), d0 = w[0].step;
                    const int64_t a1 = AT(w[1], w[1].lo), b1 = AT(w[1], w[1].hi), d1 = w[1].step;
                    const int64_t a2 = AT(w[2], w[2].lo), b2 = AT(w[2], w[2].hi), d2 = w[2].step;
                    for (int64_t i0 = a0; i0 < b0; i0 += d0)
                        for (int64_t i1 = a1; i1 < b1; i1 += d1) {
                            const cn_real *row = xp + (i0 * in[1] + i1) * in[2];
                            if (d2 == 1)
                                for (int64_t i2 = a2; i2 < b2; i2++) sum += row[i2];
                            else
                                for (int64_t i2 = a2; i2 < b2; i2 += d2) sum += row[i2];
                        }
                    const double divisor = avg_divisor(geo, w);
                    y[o] = divisor > 0 ? (cn_real)(sum / divisor) : 0;
                }
            }
        }
    }
}

static void avgpool_backward_dilated(const cn_pool_geom *geo, int64_t planes, const cn_real *dy, cn_real *dx) {
    const int64_t *in = geo->in, *out = geo->out;
    const int64_t in_plane = in[0] * in[1] * in[2], out_plane = out[0] * out[1] * out[2];
    for (int64_t pl = 0; pl < planes; pl++) {
        cn_real *dxp = dx + pl * in_plane;
        int64_t o = pl * out_plane;
        avg_window w[3]; /* each axis's window, made once per index of that axis */
        for (int64_t o0 = 0; o0 < out[0]; o0++) {
            w[0] = avg_window_of(geo, 0, o0);
            for (int64_t o1 = 0; o1 < out[1]; o1++) {
                w[1] = avg_window_of(geo, 1, o1);
                for (int64_t o2 = 0; o2 < out[2]; o2++, o++) {
                    w[2] = avg_window_of(geo, 2, o2);
                    const double divisor = avg_divisor(geo, w);
                    if (!(divisor > 0)) continue;
                    const cn_real share = (cn_real)(dy[o] / divisor);
                    const int64_t a0 = AT(w[0], w[0].lo), b0 = AT(w[0], w[0].hi), d0 = w[0].step;
                    const int64_t a1 = AT(w[1], w[1].lo), b1 = AT(w[1], w[1].hi), d1 = w[1].step;
                    const int64_t a2 = AT(w[2], w[2].lo), b2 = AT(w[2], w[2].hi), d2 = w[2].step;
                    for (int64_t i0 = a0; i0 < b0; i0 += d0)
                        for (int64_t i1 = a1; i1 < b1; i1 += d1) {
                            cn_real *row = dxp + (i0 * in[1] + i1) * in[2];
                            if (d2 == 1)
                                for (int64_t i2 = a2; i2 < b2; i2++) row[i2] += share;
                            else
                                for (int64_t i2 = a2; i2 < b2; i2 += d2) row[i2] += share;
                        }
                }
            }
        }
    }
}

static bool dilated(const cn_pool_geom *geo) { return geo->dilation[0] > 1 || geo->dilation[1] > 1 || geo->dilation[2] > 1; }

void cn_avgpool_forward_ref(const cn_pool_geom *geo, int64_t planes, const cn_real *x, cn_real *y) {
    if (dilated(geo)) avgpool_forward_dilated(geo, planes, x, y);
    else avgpool_forward_dense(geo, planes, x, y);
}

void cn_avgpool_backward_ref(const cn_pool_geom *geo, int64_t planes, const cn_real *dy, cn_real *dx) {
    if (dilated(geo)) avgpool_backward_dilated(geo, planes, dy, dx);
    else avgpool_backward_dense(geo, planes, dy, dx);
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
