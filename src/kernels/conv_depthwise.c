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

/* ---- the flat path (2D, equal strides): a zero-padded copy of the input plane with row stride PW makes every
 * tap a shift of one long vector. With j = oh*PW + ow over [0, OH*PW) ("flat" positions; ow >= OW are
 * discarded or zero) and tap offset off(t) = kh*dh*PW + kw*dw:
 *   z[j] = sum_t w_t * xpad[s*j + off(t)],   dxpad[s*j + off(t)] += w_t * dyflat[j],
 *   dw_t += sum_j dyflat[j] * xpad[s*j + off(t)]
 * so the inner loops run over whole planes instead of short rows. */
typedef struct {
    int64_t pw, ph, flat, pad_floats; /* padded width and height, OH*PW, padded-plane floats with slack */
} flat_geom;

static bool flat_applies(const cn_conv_geom *p) {
    return cn_conv_single_plane(p) && p->stride[1] == p->stride[2];
}

static flat_geom flat_of(const cn_conv_geom *p) {
    flat_geom f;
    int64_t s = p->stride[2];
    int64_t need_w = (p->out[2] - 1) * s + (p->kernel[2] - 1) * p->dilation[2] + 1;
    int64_t need_h = (p->out[1] - 1) * s + (p->kernel[1] - 1) * p->dilation[1] + 1;
    f.pw = p->in[2] + p->pad_begin[2] > need_w ? p->in[2] + p->pad_begin[2] : need_w;
    f.ph = p->in[1] + p->pad_begin[1] > need_h ? p->in[1] + p->pad_begin[1] : need_h;
    f.flat = p->out[1] * f.pw;
    /* the last flat position reads up to (s-1)*PW + (KW-1)*dw past PH*PW */
    f.pad_floats = (f.ph * f.pw + (s - 1) * f.pw + (p->kernel[2] - 1) * p->dilation[2] + 16 + 15) / 16 * 16;
    return f;
}

size_t cn_conv_depthwise_thread_bytes(const cn_conv_geom *p) {
    size_t blocked = cn_conv_depthwise_blocked_thread_bytes(p);
    if (!flat_applies(p)) return blocked;
    flat_geom f = flat_of(p);
    size_t flat = (size_t)(2 * f.pad_floats + (f.flat + 15) / 16 * 16) * sizeof(cn_real);
    return flat > blocked ? flat : blocked;
}

/* xpad = the plane xin placed at (pad_begin) in a zero PH x PW grid (+ zero slack) */
static void pad_plane(const cn_conv_geom *p, const flat_geom *f, const cn_real *xin, cn_real *xpad) {
    memset(xpad, 0, (size_t)f->pad_floats * sizeof(cn_real));
    for (int64_t ih = 0; ih < p->in[1]; ih++)
        memcpy(xpad + (ih + p->pad_begin[1]) * f->pw + p->pad_begin[2], xin + ih * p->in[2],
               (size_t)p->in[2] * sizeof(cn_real));
}

/* dyflat[oh*PW + ow] = dy[oh][ow], zero for ow >= OW */
static void flatten_plane(const cn_conv_geom *p, const flat_geom *f, const cn_real *dyo, cn_real *dyflat) {
    for (int64_t oh = 0; oh < p->out[1]; oh++) {
        memcpy(dyflat + oh * f->pw, dyo + oh * p->out[2], (size_t)p->out[2] * sizeof(cn_real));
        for (int64_t ow = p->out[2]; ow < f->pw; ow++) dyflat[oh * f->pw + ow] = 0;
    }
}

static inline int64_t tap_offset(const cn_conv_geom *p, const flat_geom *f, int64_t kh, int64_t kw) {
    return kh * p->dilation[1] * f->pw + kw * p->dilation[2];
}

static inline __attribute__((always_inline)) void flat_forward_body(const cn_conv_geom *p, const flat_geom *f,
                                                                     const cn_real *xpad, const cn_real *wo,
                                                                     cn_real bias, cn_real *restrict z, cn_real *yo) {
    int64_t s = p->stride[2], J = f->flat;
    for (int64_t j = 0; j < J; j++) z[j] = bias;
    for (int64_t kh = 0; kh < p->kernel[1]; kh++)
        for (int64_t kw = 0; kw < p->kernel[2]; kw++) {
            cn_real wv = wo[kh * p->kernel[2] + kw];
            const cn_real *restrict src = xpad + tap_offset(p, f, kh, kw);
            if (s == 1)
                for (int64_t j = 0; j < J; j++) z[j] += wv * src[j];
            else
                for (int64_t j = 0; j < J; j++) z[j] += wv * src[s * j];
        }
    for (int64_t oh = 0; oh < p->out[1]; oh++)
        memcpy(yo + oh * p->out[2], z + oh * f->pw, (size_t)p->out[2] * sizeof(cn_real));
}

static inline __attribute__((always_inline)) void flat_data_body(const cn_conv_geom *p, const flat_geom *f,
                                                                  const cn_real *restrict dyflat, const cn_real *wo,
                                                                  cn_real *dxpad) {
    int64_t s = p->stride[2], J = f->flat;
    for (int64_t kh = 0; kh < p->kernel[1]; kh++)
        for (int64_t kw = 0; kw < p->kernel[2]; kw++) {
            cn_real wv = wo[kh * p->kernel[2] + kw];
            cn_real *restrict dst = dxpad + tap_offset(p, f, kh, kw);
            if (s == 1)
                for (int64_t j = 0; j < J; j++) dst[j] += wv * dyflat[j];
            else
                for (int64_t j = 0; j < J; j++) dst[s * j] += wv * dyflat[j];
        }
}

static inline __attribute__((always_inline)) void flat_weight_body(const cn_conv_geom *p, const flat_geom *f,
                                                                    const cn_real *restrict xpad,
                                                                    const cn_real *restrict dyflat, double *acc) {
    int64_t s = p->stride[2], J = f->flat;
    for (int64_t kh = 0; kh < p->kernel[1]; kh++)
        for (int64_t kw = 0; kw < p->kernel[2]; kw++) {
            const cn_real *restrict src = xpad + tap_offset(p, f, kh, kw);
            /* 16 partial sums (vector lanes) over one plane in working precision, planes summed in double */
            cn_real part[16] = {0};
            int64_t j = 0;
            if (s == 1)
                for (; j + 16 <= J; j += 16)
                    for (int l = 0; l < 16; l++) part[l] += dyflat[j + l] * src[j + l];
            else
                for (; j + 16 <= J; j += 16)
                    for (int l = 0; l < 16; l++) part[l] += dyflat[j + l] * src[s * (j + l)];
            double sum = 0;
            for (; j < J; j++) sum += (double)(dyflat[j] * src[s * j]);
            for (int l = 0; l < 16; l++) sum += (double)part[l];
            acc[kh * p->kernel[2] + kw] += sum;
        }
}

typedef void (*flat_forward_fn)(const cn_conv_geom *, const flat_geom *, const cn_real *, const cn_real *, cn_real,
                                cn_real *, cn_real *);
typedef void (*flat_data_fn)(const cn_conv_geom *, const flat_geom *, const cn_real *, const cn_real *, cn_real *);
typedef void (*flat_weight_fn)(const cn_conv_geom *, const flat_geom *, const cn_real *, const cn_real *, double *);

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
    }                                                                                                           \
    attr static void flat_forward_##suffix(const cn_conv_geom *p, const flat_geom *f, const cn_real *xpad,      \
                                           const cn_real *wo, cn_real bias, cn_real *z, cn_real *yo) {          \
        flat_forward_body(p, f, xpad, wo, bias, z, yo);                                                         \
    }                                                                                                           \
    attr static void flat_data_##suffix(const cn_conv_geom *p, const flat_geom *f, const cn_real *dyflat,       \
                                        const cn_real *wo, cn_real *dxpad) {                                    \
        flat_data_body(p, f, dyflat, wo, dxpad);                                                                \
    }                                                                                                           \
    attr static void flat_weight_##suffix(const cn_conv_geom *p, const flat_geom *f, const cn_real *xpad,       \
                                          const cn_real *dyflat, double *acc) {                                 \
        flat_weight_body(p, f, xpad, dyflat, acc);                                                              \
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
    flat_forward_fn flat_forward;
    flat_data_fn flat_data;
    flat_weight_fn flat_weights;
} plane_fns;

static plane_fns plane_functions(void) {
#ifndef CN_REAL_IS_DOUBLE
    const char *isa = cn_kernels_isa();
    if (strcmp(isa, "avx512") == 0)
        return (plane_fns){forward_plane_avx512, data_plane_avx512, weight_plane_avx512,
                           flat_forward_avx512,  flat_data_avx512,  flat_weight_avx512};
    if (strcmp(isa, "avx2") == 0)
        return (plane_fns){forward_plane_avx2, data_plane_avx2, weight_plane_avx2,
                           flat_forward_avx2,  flat_data_avx2,  flat_weight_avx2};
#endif
    return (plane_fns){forward_plane_portable, data_plane_portable, weight_plane_portable,
                       flat_forward_portable,  flat_data_portable,  flat_weight_portable};
}

static int team(const cn_conv_geom *p) { return p->threads > 1 ? p->threads : 1; }

/* Each thread's flat buffers: padded plane, flat plane, second padded plane (see cn_conv_depthwise_thread_bytes). */
typedef struct {
    cn_real *pad, *flat, *pad2;
} flat_bufs;

static flat_bufs thread_bufs(const cn_conv_geom *p, const flat_geom *f, void *work) {
    cn_real *base = (cn_real *)((char *)work + (size_t)omp_get_thread_num() * cn_conv_depthwise_thread_bytes(p));
    return (flat_bufs){base, base + f->pad_floats, base + f->pad_floats + (f->flat + 15) / 16 * 16};
}

void cn_conv_forward_depthwise(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b, cn_real *y,
                               void *work) {
    int64_t cout_g = p->out_channels / p->groups, taps = prod3(p->kernel), in_plane = prod3(p->in);
    int64_t positions = prod3(p->out);
    plane_fns f = plane_functions();
    if (work && cn_conv_depthwise_blocked_applies(p)) {
        cn_conv_forward_depthwise_blocked(p, x, w, b, y, work);
        return;
    }
    if (flat_applies(p) && work) {
        flat_geom fg = flat_of(p);
        int64_t planes = p->batch * p->in_channels;
#pragma omp parallel num_threads(team(p)) if (team(p) > 1)
        {
            flat_bufs bufs = thread_bufs(p, &fg, work);
#pragma omp for schedule(static)
            for (int64_t i = 0; i < planes; i++) { /* (sample, group): pad the input once for its outputs */
                int64_t n = i / p->in_channels, g = i % p->in_channels;
                pad_plane(p, &fg, x + i * in_plane, bufs.pad);
                for (int64_t o = g * cout_g; o < (g + 1) * cout_g; o++)
                    f.flat_forward(p, &fg, bufs.pad, w + o * taps, b ? b[o] : 0, bufs.flat,
                                   y + (n * p->out_channels + o) * positions);
            }
        }
        return;
    }
    int64_t planes = p->batch * p->out_channels;
#pragma omp parallel for schedule(static) num_threads(team(p)) if (team(p) > 1)
    for (int64_t i = 0; i < planes; i++) {
        int64_t n = i / p->out_channels, o = i % p->out_channels;
        f.forward(p, x + (n * p->in_channels + o / cout_g) * in_plane, w + o * taps, b ? b[o] : 0, y + i * positions);
    }
}

bool cn_conv_depthwise_data_sets_dx(const cn_conv_geom *p) { /* mirrors the dispatch below */
    if (cn_conv_depthwise_rows_pays(p)) return cn_conv_depthwise_rows_sets_dx(p);
    if (cn_conv_depthwise_plane_applies(p)) return false;
    return cn_conv_depthwise_blocked_applies(p) && cn_conv_depthwise_blocked_sets_dx(p);
}

void cn_conv_backward_data_depthwise(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                     void *work) {
    if (cn_conv_depthwise_rows_pays(p)) {
        cn_conv_backward_data_depthwise_rows(p, dy, w, dx);
        return;
    }
    if (cn_conv_depthwise_plane_applies(p)) {
        cn_conv_backward_data_depthwise_plane(p, dy, w, dx);
        return;
    }
    int64_t cout_g = p->out_channels / p->groups, taps = prod3(p->kernel), in_plane = prod3(p->in);
    int64_t positions = prod3(p->out), planes = p->batch * p->in_channels;
    plane_fns f = plane_functions();
    if (work && cn_conv_depthwise_blocked_applies(p)) {
        cn_conv_backward_data_depthwise_blocked(p, dy, w, dx, work);
        return;
    }
    if (flat_applies(p) && work) {
        flat_geom fg = flat_of(p);
#pragma omp parallel num_threads(team(p)) if (team(p) > 1)
        {
            flat_bufs bufs = thread_bufs(p, &fg, work);
#pragma omp for schedule(static)
            for (int64_t i = 0; i < planes; i++) {
                int64_t n = i / p->in_channels, g = i % p->in_channels;
                memset(bufs.pad2, 0, (size_t)fg.pad_floats * sizeof(cn_real));
                for (int64_t o = g * cout_g; o < (g + 1) * cout_g; o++) {
                    flatten_plane(p, &fg, dy + (n * p->out_channels + o) * positions, bufs.flat);
                    f.flat_data(p, &fg, bufs.flat, w + o * taps, bufs.pad2);
                }
                cn_real *dxi = dx + i * in_plane; /* the interior of the padded gradient */
                for (int64_t ih = 0; ih < p->in[1]; ih++) {
                    const cn_real *src = bufs.pad2 + (ih + p->pad_begin[1]) * fg.pw + p->pad_begin[2];
                    for (int64_t iw = 0; iw < p->in[2]; iw++) dxi[ih * p->in[2] + iw] += src[iw];
                }
            }
        }
        return;
    }
#pragma omp parallel for schedule(static) num_threads(team(p)) if (team(p) > 1)
    for (int64_t i = 0; i < planes; i++) {
        int64_t n = i / p->in_channels, g = i % p->in_channels;
        for (int64_t o = g * cout_g; o < (g + 1) * cout_g; o++)
            f.data(p, dy + (n * p->out_channels + o) * positions, w + o * taps, dx + i * in_plane);
    }
}

void cn_conv_backward_weights_depthwise(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                        cn_real *db, void *work) {
    if (cn_conv_depthwise_rows_pays(p)) {
        cn_conv_backward_weights_depthwise_rows(p, x, dy, dw, db);
        return;
    }
    if (cn_conv_depthwise_plane_applies(p)) {
        cn_conv_backward_weights_depthwise_plane(p, x, dy, dw, db);
        return;
    }
    int64_t cout_g = p->out_channels / p->groups, taps = prod3(p->kernel), in_plane = prod3(p->in);
    int64_t positions = prod3(p->out);
    plane_fns f = plane_functions();
    if (work && cn_conv_depthwise_blocked_applies(p)) {
        cn_conv_backward_weights_depthwise_blocked(p, x, dy, dw, db, work);
        return;
    }
    bool flat = flat_applies(p) && work;
    flat_geom fg = flat ? flat_of(p) : (flat_geom){0};
#pragma omp parallel num_threads(team(p)) if (team(p) > 1)
    {
        flat_bufs bufs = flat ? thread_bufs(p, &fg, work) : (flat_bufs){0};
#pragma omp for schedule(static)
        for (int64_t o = 0; o < p->out_channels; o++) {
            double acc[CN_DEPTHWISE_MAX_TAPS] = {0}, bias = 0;
            for (int64_t n = 0; n < p->batch; n++) {
                const cn_real *dyo = dy + (n * p->out_channels + o) * positions;
                const cn_real *xin = x + (n * p->in_channels + o / cout_g) * in_plane;
                if (flat) {
                    pad_plane(p, &fg, xin, bufs.pad);
                    flatten_plane(p, &fg, dyo, bufs.flat);
                    f.flat_weights(p, &fg, bufs.pad, bufs.flat, acc);
                } else {
                    f.weights(p, xin, dyo, acc);
                }
                if (db) bias += cn_conv_sum(dyo, positions);
            }
            for (int64_t t = 0; t < taps; t++) dw[o * taps + t] += (cn_real)acc[t];
            if (db) db[o] += (cn_real)bias;
        }
    }
}
