/* conv_depthwise.c — direct convolution for one input channel per group (depthwise convs, groups = C_in, any
 * channel multiplier C_out/groups; also a first layer with a single input channel), zero padding. No columns:
 * each output plane is a sum of shifted, scaled input rows (see conv.h for the formulas):
 *   y[n,o] row (od,oh)   += w[o,t] * x[n,g(o)] row (id,ih)  over the valid output columns of tap t
 *   dx[n,g] row (id,ih)  += w[o,t] * dy[n,o] row (od,oh)     for the outputs o of group g
 *   dw[o,t]              += sum over n and positions of dy[n,o] * x[n,g(o)] (sums in double)
 * Work is split over (sample, output channel) planes for the forward pass, (sample, group) planes for the
 * data gradient and output channels for the weight gradient: no two threads write the same element, so the
 * results do not depend on the thread count. The row loops are compiled for AVX-512, AVX2 and the baseline
 * and chosen by cn_kernels_isa(), so every path can be tested. */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include <omp.h>

static int64_t prod3(const int64_t v[3]) { return v[0] * v[1] * v[2]; }

bool cn_conv_depthwise_applies(const cn_conv_geom *p) {
    return p->in_channels == p->groups && p->pad_mode == CN_PAD_ZEROS && prod3(p->kernel) <= CN_DEPTHWISE_MAX_TAPS;
}

/* The output columns ow in [*lo, *hi) whose input column ow*stride + off lies in [0, size). */
static inline void valid_columns(int64_t off, int64_t stride, int64_t size, int64_t out, int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int64_t h = size - off <= 0 ? 0 : (size - off + stride - 1) / stride;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = l, *hi = h;
}

/* One output plane: yo = bias + sum over taps (xin: the input plane, wo: the taps of this output channel). */
static inline __attribute__((always_inline)) void forward_plane_body(const cn_conv_geom *p, const cn_real *xin,
                                                                      const cn_real *wo, cn_real bias, cn_real *yo) {
    int64_t positions = prod3(p->out), OH = p->out[1], OW = p->out[2], IH = p->in[1], IW = p->in[2];
    int64_t KH = p->kernel[1], KW = p->kernel[2], sw = p->stride[2];
    for (int64_t i = 0; i < positions; i++) yo[i] = bias;
    for (int64_t od = 0; od < p->out[0]; od++)
        for (int64_t kd = 0; kd < p->kernel[0]; kd++) {
            int64_t id = od * p->stride[0] + kd * p->dilation[0] - p->pad_begin[0];
            if (id < 0 || id >= p->in[0]) continue;
            for (int64_t oh = 0; oh < OH; oh++) {
                cn_real *restrict yrow = yo + (od * OH + oh) * OW;
                for (int64_t kh = 0; kh < KH; kh++) {
                    int64_t ih = oh * p->stride[1] + kh * p->dilation[1] - p->pad_begin[1];
                    if (ih < 0 || ih >= IH) continue;
                    const cn_real *restrict xrow = xin + (id * IH + ih) * IW;
                    for (int64_t kw = 0; kw < KW; kw++) {
                        cn_real wv = wo[(kd * KH + kh) * KW + kw];
                        int64_t off = kw * p->dilation[2] - p->pad_begin[2], lo, hi;
                        valid_columns(off, sw, IW, OW, &lo, &hi);
                        if (sw == 1)
                            for (int64_t ow = lo; ow < hi; ow++) yrow[ow] += wv * xrow[ow + off];
                        else
                            for (int64_t ow = lo; ow < hi; ow++) yrow[ow] += wv * xrow[ow * sw + off];
                    }
                }
            }
        }
}

/* The data gradient of one input plane from one output plane: dxin += taps of wo applied to dyo. */
static inline __attribute__((always_inline)) void data_plane_body(const cn_conv_geom *p, const cn_real *dyo,
                                                                   const cn_real *wo, cn_real *dxin) {
    int64_t OH = p->out[1], OW = p->out[2], IH = p->in[1], IW = p->in[2];
    int64_t KH = p->kernel[1], KW = p->kernel[2], sw = p->stride[2];
    for (int64_t od = 0; od < p->out[0]; od++)
        for (int64_t kd = 0; kd < p->kernel[0]; kd++) {
            int64_t id = od * p->stride[0] + kd * p->dilation[0] - p->pad_begin[0];
            if (id < 0 || id >= p->in[0]) continue;
            for (int64_t oh = 0; oh < OH; oh++) {
                const cn_real *restrict dyrow = dyo + (od * OH + oh) * OW;
                for (int64_t kh = 0; kh < KH; kh++) {
                    int64_t ih = oh * p->stride[1] + kh * p->dilation[1] - p->pad_begin[1];
                    if (ih < 0 || ih >= IH) continue;
                    cn_real *restrict dxrow = dxin + (id * IH + ih) * IW;
                    for (int64_t kw = 0; kw < KW; kw++) {
                        cn_real wv = wo[(kd * KH + kh) * KW + kw];
                        int64_t off = kw * p->dilation[2] - p->pad_begin[2], lo, hi;
                        valid_columns(off, sw, IW, OW, &lo, &hi);
                        if (sw == 1)
                            for (int64_t ow = lo; ow < hi; ow++) dxrow[ow + off] += wv * dyrow[ow];
                        else
                            for (int64_t ow = lo; ow < hi; ow++) dxrow[ow * sw + off] += wv * dyrow[ow];
                    }
                }
            }
        }
}

/* dwo[t] += sum over the plane of dyo * shifted xin, for every tap t (acc: taps doubles). */
static inline __attribute__((always_inline)) void weight_plane_body(const cn_conv_geom *p, const cn_real *xin,
                                                                     const cn_real *dyo, double *acc) {
    int64_t OH = p->out[1], OW = p->out[2], IH = p->in[1], IW = p->in[2];
    int64_t KH = p->kernel[1], KW = p->kernel[2], sw = p->stride[2];
    for (int64_t od = 0; od < p->out[0]; od++)
        for (int64_t kd = 0; kd < p->kernel[0]; kd++) {
            int64_t id = od * p->stride[0] + kd * p->dilation[0] - p->pad_begin[0];
            if (id < 0 || id >= p->in[0]) continue;
            for (int64_t oh = 0; oh < OH; oh++) {
                const cn_real *restrict dyrow = dyo + (od * OH + oh) * OW;
                for (int64_t kh = 0; kh < KH; kh++) {
                    int64_t ih = oh * p->stride[1] + kh * p->dilation[1] - p->pad_begin[1];
                    if (ih < 0 || ih >= IH) continue;
                    const cn_real *restrict xrow = xin + (id * IH + ih) * IW;
                    for (int64_t kw = 0; kw < KW; kw++) {
                        int64_t off = kw * p->dilation[2] - p->pad_begin[2], lo, hi;
                        valid_columns(off, sw, IW, OW, &lo, &hi);
                        cn_real s = 0; /* one row in working precision, rows summed in double */
                        if (sw == 1)
                            for (int64_t ow = lo; ow < hi; ow++) s += dyrow[ow] * xrow[ow + off];
                        else
                            for (int64_t ow = lo; ow < hi; ow++) s += dyrow[ow] * xrow[ow * sw + off];
                        acc[(kd * KH + kh) * KW + kw] += (double)s;
                    }
                }
            }
        }
}

typedef void (*forward_plane_fn)(const cn_conv_geom *, const cn_real *, const cn_real *, cn_real, cn_real *);
typedef void (*data_plane_fn)(const cn_conv_geom *, const cn_real *, const cn_real *, cn_real *);
typedef void (*weight_plane_fn)(const cn_conv_geom *, const cn_real *, const cn_real *, double *);

#define PLANE_VARIANTS(suffix, attr)                                                                            \
    attr static void forward_plane_##suffix(const cn_conv_geom *p, const cn_real *xin, const cn_real *wo,       \
                                            cn_real bias, cn_real *yo) {                                        \
        forward_plane_body(p, xin, wo, bias, yo);                                                               \
    }                                                                                                           \
    attr static void data_plane_##suffix(const cn_conv_geom *p, const cn_real *dyo, const cn_real *wo,          \
                                         cn_real *dxin) {                                                       \
        data_plane_body(p, dyo, wo, dxin);                                                                      \
    }                                                                                                           \
    attr static void weight_plane_##suffix(const cn_conv_geom *p, const cn_real *xin, const cn_real *dyo,       \
                                           double *acc) {                                                       \
        weight_plane_body(p, xin, dyo, acc);                                                                    \
    }

PLANE_VARIANTS(portable, )
#ifndef CN_REAL_IS_DOUBLE
PLANE_VARIANTS(avx2, __attribute__((target("avx2,fma"))))
PLANE_VARIANTS(avx512, __attribute__((target("avx512f,avx512vl,avx2,fma"))))
#endif

typedef struct {
    forward_plane_fn forward;
    data_plane_fn data;
    weight_plane_fn weights;
} plane_fns;

static plane_fns plane_functions(void) {
#ifndef CN_REAL_IS_DOUBLE
    const char *isa = cn_kernels_isa();
    if (strcmp(isa, "avx512") == 0) return (plane_fns){forward_plane_avx512, data_plane_avx512, weight_plane_avx512};
    if (strcmp(isa, "avx2") == 0) return (plane_fns){forward_plane_avx2, data_plane_avx2, weight_plane_avx2};
#endif
    return (plane_fns){forward_plane_portable, data_plane_portable, weight_plane_portable};
}

static int team(const cn_conv_geom *p) { return p->threads > 1 ? p->threads : 1; }

void cn_conv_forward_depthwise(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b, cn_real *y) {
    int64_t cout_g = p->out_channels / p->groups, taps = prod3(p->kernel), in_plane = prod3(p->in);
    int64_t positions = prod3(p->out), planes = p->batch * p->out_channels;
    plane_fns f = plane_functions();
#pragma omp parallel for schedule(static) num_threads(team(p)) if (team(p) > 1)
    for (int64_t i = 0; i < planes; i++) {
        int64_t n = i / p->out_channels, o = i % p->out_channels;
        f.forward(p, x + (n * p->in_channels + o / cout_g) * in_plane, w + o * taps, b ? b[o] : 0, y + i * positions);
    }
}

void cn_conv_backward_data_depthwise(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx) {
    int64_t cout_g = p->out_channels / p->groups, taps = prod3(p->kernel), in_plane = prod3(p->in);
    int64_t positions = prod3(p->out), planes = p->batch * p->in_channels;
    plane_fns f = plane_functions();
#pragma omp parallel for schedule(static) num_threads(team(p)) if (team(p) > 1)
    for (int64_t i = 0; i < planes; i++) {
        int64_t n = i / p->in_channels, g = i % p->in_channels;
        for (int64_t o = g * cout_g; o < (g + 1) * cout_g; o++)
            f.data(p, dy + (n * p->out_channels + o) * positions, w + o * taps, dx + i * in_plane);
    }
}

void cn_conv_backward_weights_depthwise(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                        cn_real *db) {
    int64_t cout_g = p->out_channels / p->groups, taps = prod3(p->kernel), in_plane = prod3(p->in);
    int64_t positions = prod3(p->out);
    plane_fns f = plane_functions();
#pragma omp parallel for schedule(static) num_threads(team(p)) if (team(p) > 1)
    for (int64_t o = 0; o < p->out_channels; o++) {
        double acc[CN_DEPTHWISE_MAX_TAPS] = {0}, bias = 0;
        for (int64_t n = 0; n < p->batch; n++) {
            const cn_real *dyo = dy + (n * p->out_channels + o) * positions;
            f.weights(p, x + (n * p->in_channels + o / cout_g) * in_plane, dyo, acc);
            if (db)
                for (int64_t i = 0; i < positions; i++) bias += dyo[i];
        }
        for (int64_t t = 0; t < taps; t++) dw[o * taps + t] += (cn_real)acc[t];
        if (db) db[o] += (cn_real)bias;
    }
}
