/* conv_depthwise_blocked.c — the depthwise forward pass on blocks of 16 channels (AVX-512), for the shapes the
 * per-plane paths of conv_depthwise.c handle badly: strides > 1 (the flat path would read every other column
 * and compute outputs it throws away) and small planes (per-plane set-up costs more than the 9 taps).
 *
 * For one sample and 16 consecutive channels, a band of output rows at a time:
 *   1. gather: the input rows the band reads are transposed into xb[row][padded column][16 channels], with zero
 *      padding around them (16 x 16 register transposes; lanes past the last channel are zero);
 *   2. compute: each output position is one 16-lane vector, the bias plus one FMA per tap with that tap's 16
 *      channel weights; any stride and dilation is just an index, no lane is wasted;
 *   3. scatter: the band's [position][16] results are transposed back into the 16 output planes (the band's
 *      rows are contiguous in each plane).
 * Each output element is bias + sum over taps in the reference's order (kh, kw), evaluated with fused
 * multiply-adds, so results match the reference to rounding. Work is split over (sample, channel block):
 * results do not depend on the thread count.
 * The backward passes use the same layout: the data gradient scatters w * dy into a zeroed band buffer
 * shaped like xb and adds it back into dx (bands overlap by the kernel's reach: each adds its own terms); the
 * weight gradient sums dy * xb per tap over a band in 4 float partial sums, then into double per tap, and
 * splits the work over channel blocks (every sample in order), so it too is independent of the threads. */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include <omp.h>

#define LANES 16
#define BAND_BYTES (48 * 1024)   /* input rows of one band, at most (at least one output row) */
#define PREFETCH_MAX (16 * 1024) /* prefetch the next block's input when it is this small */

static inline int64_t prod3(const int64_t v[3]) { return v[0] * v[1] * v[2]; }

bool cn_conv_depthwise_blocked_applies(const cn_conv_geom *p) {
#ifdef CN_REAL_IS_DOUBLE
    (void)p;
    return false;
#else
    if (strcmp(cn_kernels_isa(), "avx512") != 0) return false;
    if (p->in[0] != 1 || p->kernel[0] != 1 || p->out_channels != p->groups || p->in_channels != p->groups) return false;
    if (p->pad_mode != CN_PAD_ZEROS || prod3(p->kernel) > CN_DEPTHWISE_MAX_TAPS) return false;
    /* the flat per-plane path is faster on large stride-1 planes */
    return p->stride[1] > 1 || p->stride[2] > 1 || prod3(p->out) <= 32 * 32;
#endif
}

typedef struct {
    int64_t pwb;       /* padded columns of a band row: (OW-1)*sw + (KW-1)*dw + 1 */
    int64_t band;      /* output rows per band */
    int64_t in_rows;   /* input rows of a full band */
    int64_t out_cap;   /* positions of a band's output, rounded up to 16 */
} band_geom;

static band_geom band_of(const cn_conv_geom *p) {
    band_geom g;
    int64_t sh = p->stride[1], reach = (p->kernel[1] - 1) * p->dilation[1] + 1;
    g.pwb = (p->out[2] - 1) * p->stride[2] + (p->kernel[2] - 1) * p->dilation[2] + 1;
    int64_t row_bytes = g.pwb * LANES * (int64_t)sizeof(float);
    int64_t rows_fit = BAND_BYTES / row_bytes; /* (band-1)*sh + reach <= rows_fit */
    g.band = rows_fit >= reach ? (rows_fit - reach) / sh + 1 : 1;
    if (g.band > p->out[1]) g.band = p->out[1];
    g.in_rows = (g.band - 1) * sh + reach;
    g.out_cap = (g.band * p->out[2] + 3 + LANES - 1) / LANES * LANES; /* + 3: the last group of 4 outputs */
    return g;
}

/* columns after the last band row: a whole 16-column gather chunk, and the reach of the 3 extra outputs */
static int64_t xb_slack(const cn_conv_geom *p) { return LANES + 3 * p->stride[2]; }

size_t cn_conv_depthwise_blocked_thread_bytes(const cn_conv_geom *p) {
    if (!cn_conv_depthwise_blocked_applies(p)) return 0;
    band_geom g = band_of(p);
    /* xb (+ slack), the band's outputs, then either the block's weights [tap][16] (forward, data gradient) or
     * the weight gradient's double sums [tap + bias][16] */
    return (size_t)((g.in_rows * g.pwb + xb_slack(p)) * LANES + g.out_cap * LANES +
                    (CN_DEPTHWISE_MAX_TAPS + 1) * LANES * 2) * sizeof(float);
}

#ifndef CN_REAL_IS_DOUBLE
#include <immintrin.h>
#include "kernels/simd512.h"

#define AVX512 __attribute__((target("avx512f")))

/* xb row = input row ih of channels c0.. (nc of them) at padded columns [0, pwb), column pc <-> iw = pc - pl.
 * Interior chunks are stored whole (16 columns; the columns past the input are zero, as padding must be),
 * so a row may write zeros up to 15 columns into the next row, which is gathered after it, or into the slack. */
AVX512 static void gather_row(const cn_conv_geom *p, const float *x0, int64_t plane, int nc, int64_t ih, int64_t pwb,
                              float *xrow) {
    int64_t IW = p->in[2], pl = p->pad_begin[2];
    __m512 zero = _mm512_setzero_ps();
    if (ih < 0 || ih >= p->in[1]) {
        for (int64_t pc = 0; pc < pwb; pc++) _mm512_storeu_ps(xrow + pc * LANES, zero);
        return;
    }
    int64_t lo = pl < pwb ? pl : pwb, hi = pl + IW < pwb ? pl + IW : pwb; /* padded columns holding input */
    for (int64_t pc = 0; pc < lo; pc++) _mm512_storeu_ps(xrow + pc * LANES, zero);
    const float *src = x0 + ih * IW - pl;
    for (int64_t pc = lo; pc < hi; pc += LANES) {
        int64_t cols = hi - pc < LANES ? hi - pc : LANES;
        __mmask16 m = (__mmask16)((1u << cols) - 1);
        __m512 r[16];
#pragma GCC unroll 16
        for (int l = 0; l < 16; l++) r[l] = _mm512_maskz_loadu_ps(l < nc ? m : 0, src + l * plane + pc);
        transpose16(r);
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) _mm512_storeu_ps(xrow + (pc + k) * LANES, r[k]);
    }
    for (int64_t pc = hi > lo ? hi : lo; pc < pwb; pc++) _mm512_storeu_ps(xrow + pc * LANES, zero);
}

/* the band's outputs ob[position][16] -> planes y0 + l*plane + first, positions [0, count) */
AVX512 static void scatter_band(const float *ob, int64_t count, int nc, float *y0, int64_t plane, int64_t first) {
    for (int64_t q = 0; q < count; q += LANES) {
        int64_t cols = count - q < LANES ? count - q : LANES;
        __m512 r[16];
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) r[k] = _mm512_loadu_ps(ob + (q + k) * LANES); /* ob has out_cap rows */
        transpose16(r);
        __mmask16 m = (__mmask16)((1u << cols) - 1);
#pragma GCC unroll 16
        for (int l = 0; l < 16; l++) _mm512_mask_storeu_ps(y0 + l * plane + first + q, l < nc ? m : 0, r[l]);
    }
}

/* planes y0 + l*plane + first, positions [0, count) -> ob[position][16] (lanes past nc zero) */
AVX512 static void gather_band(const float *y0, int64_t plane, int64_t first, int64_t count, int nc, float *ob) {
    for (int64_t q = 0; q < count; q += LANES) {
        int64_t cols = count - q < LANES ? count - q : LANES;
        __mmask16 m = (__mmask16)((1u << cols) - 1);
        __m512 r[16];
#pragma GCC unroll 16
        for (int l = 0; l < 16; l++) r[l] = _mm512_maskz_loadu_ps(l < nc ? m : 0, y0 + l * plane + first + q);
        transpose16(r);
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) _mm512_storeu_ps(ob + (q + k) * LANES, r[k]); /* ob has out_cap rows */
    }
}

/* dx row ih of channels c0.. += xrow's padded columns [pl, min(pl + IW, pwb)) (the others are padding) */
AVX512 static void add_row_back(const cn_conv_geom *p, const float *xrow, int64_t pwb, int nc, int64_t ih, float *dx0,
                                int64_t plane) {
    int64_t IW = p->in[2], pl = p->pad_begin[2];
    int64_t hi = pl + IW < pwb ? IW : pwb - pl; /* input columns [0, hi) have a gradient */
    float *dst = dx0 + ih * IW;
    for (int64_t iw = 0; iw < hi; iw += LANES) {
        int64_t cols = hi - iw < LANES ? hi - iw : LANES;
        __mmask16 m = (__mmask16)((1u << cols) - 1);
        __m512 r[16];
#pragma GCC unroll 16
        for (int k = 0; k < 16; k++) r[k] = _mm512_loadu_ps(xrow + (pl + iw + k) * LANES); /* slack covers k >= cols */
        transpose16(r);
#pragma GCC unroll 16
        for (int l = 0; l < 16; l++) {
            __mmask16 ml = l < nc ? m : 0;
            float *d = dst + l * plane + iw;
            _mm512_mask_storeu_ps(d, ml, _mm512_add_ps(_mm512_maskz_loadu_ps(ml, d), r[l]));
        }
    }
}

/* the block's taps as [tap][16 channels] (lanes past nc zero) */
static void block_taps(const float *w, int64_t taps, int64_t c0, int nc, float *wb) {
    for (int64_t t = 0; t < taps; t++)
        for (int l = 0; l < LANES; l++) wb[t * LANES + l] = l < nc ? w[(c0 + l) * taps + t] : 0.0f;
}

AVX512 static void block_data(const cn_conv_geom *p, const band_geom *g, const float *dy, const float *w, float *dx,
                              int64_t n, int64_t c0, float *buf) {
    int64_t C = p->in_channels, KH = p->kernel[1], KW = p->kernel[2], taps = KH * KW;
    int64_t OH = p->out[1], OW = p->out[2], sh = p->stride[1], sw = p->stride[2], dh = p->dilation[1], dw = p->dilation[2];
    int64_t in_plane = prod3(p->in), out_plane = prod3(p->out);
    int nc = C - c0 < LANES ? (int)(C - c0) : LANES;
    float *xb = buf, *ob = xb + (g->in_rows * g->pwb + xb_slack(p)) * LANES, *wb = ob + g->out_cap * LANES;
    block_taps(w, taps, c0, nc, wb);
    const float *dy0 = dy + (n * C + c0) * out_plane;
    float *dx0 = dx + (n * C + c0) * in_plane;
    for (int64_t oh0 = 0; oh0 < OH; oh0 += g->band) {
        int64_t rows = OH - oh0 < g->band ? OH - oh0 : g->band;
        int64_t ih0 = oh0 * sh - p->pad_begin[1], in_rows = (rows - 1) * sh + (KH - 1) * dh + 1;
        gather_band(dy0, out_plane, oh0 * OW, rows * OW, nc, ob);
        memset(xb, 0, (size_t)((in_rows * g->pwb + xb_slack(p)) * LANES) * sizeof(float));
        for (int64_t oh = 0; oh < rows; oh++) {
            float *xr = xb + oh * sh * g->pwb * LANES;
            for (int64_t kh = 0; kh < KH; kh++)
                for (int64_t kw = 0; kw < KW; kw++) {
                    __m512 wt = _mm512_loadu_ps(wb + (kh * KW + kw) * LANES);
                    float *d = xr + (kh * dh * g->pwb + kw * dw) * LANES;
                    const float *g0 = ob + oh * OW * LANES;
                    for (int64_t ow = 0; ow < OW; ow++) {
                        float *dp = d + ow * sw * LANES;
                        _mm512_storeu_ps(dp, _mm512_fmadd_ps(wt, _mm512_loadu_ps(g0 + ow * LANES), _mm512_loadu_ps(dp)));
                    }
                }
        }
        for (int64_t r = 0; r < in_rows; r++) {
            int64_t ih = ih0 + r;
            if (ih >= 0 && ih < p->in[1]) add_row_back(p, xb + r * g->pwb * LANES, g->pwb, nc, ih, dx0, in_plane);
        }
    }
}

/* dw and db of one channel block, summed over every sample */
AVX512 static void block_weights(const cn_conv_geom *p, const band_geom *g, const float *x, const float *dy, float *dw,
                                 float *db, int64_t c0, float *buf) {
    int64_t C = p->in_channels, KH = p->kernel[1], KW = p->kernel[2], taps = KH * KW;
    int64_t OH = p->out[1], OW = p->out[2], sh = p->stride[1], sw = p->stride[2], dh = p->dilation[1], dil = p->dilation[2];
    int64_t in_plane = prod3(p->in), out_plane = prod3(p->out);
    int nc = C - c0 < LANES ? (int)(C - c0) : LANES;
    float *xb = buf, *ob = xb + (g->in_rows * g->pwb + xb_slack(p)) * LANES;
    double *sum = (double *)(ob + g->out_cap * LANES); /* [tap + bias][16]: 64-byte aligned offsets */
    memset(sum, 0, (size_t)((taps + 1) * LANES) * sizeof(double));
    for (int64_t n = 0; n < p->batch; n++) {
        const float *x0 = x + (n * C + c0) * in_plane, *dy0 = dy + (n * C + c0) * out_plane;
        for (int64_t oh0 = 0; oh0 < OH; oh0 += g->band) {
            int64_t rows = OH - oh0 < g->band ? OH - oh0 : g->band;
            int64_t ih0 = oh0 * sh - p->pad_begin[1], in_rows = (rows - 1) * sh + (KH - 1) * dh + 1;
            for (int64_t r = 0; r < in_rows; r++)
                gather_row(p, x0, in_plane, nc, ih0 + r, g->pwb, xb + r * g->pwb * LANES);
            int64_t count = rows * OW;
            gather_band(dy0, out_plane, oh0 * OW, count, nc, ob);
            for (int64_t t = 0; t <= taps; t++) {
                __m512 a[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
                if (t == taps) { /* bias: the sum of dy */
                    for (int64_t q = 0; q < count; q++) a[q & 3] = _mm512_add_ps(a[q & 3], _mm512_loadu_ps(ob + q * LANES));
                } else {
                    int64_t kh = t / KW, kw = t % KW;
                    for (int64_t oh = 0; oh < rows; oh++) {
                        const float *xr = xb + ((oh * sh + kh * dh) * g->pwb + kw * dil) * LANES;
                        const float *gr = ob + oh * OW * LANES;
                        for (int64_t ow = 0; ow < OW; ow++)
                            a[ow & 3] = _mm512_fmadd_ps(_mm512_loadu_ps(gr + ow * LANES),
                                                        _mm512_loadu_ps(xr + ow * sw * LANES), a[ow & 3]);
                    }
                }
                __m512 band_sum = _mm512_add_ps(_mm512_add_ps(a[0], a[1]), _mm512_add_ps(a[2], a[3]));
                double *st = sum + t * LANES;
                _mm512_storeu_pd(st, _mm512_add_pd(_mm512_loadu_pd(st), _mm512_cvtps_pd(_mm512_castps512_ps256(band_sum))));
                _mm512_storeu_pd(st + 8, _mm512_add_pd(_mm512_loadu_pd(st + 8),
                                                       _mm512_cvtps_pd(_mm256_castpd_ps(
                                                           _mm512_extractf64x4_pd(_mm512_castps_pd(band_sum), 1)))));
            }
        }
    }
    for (int l = 0; l < nc; l++) {
        for (int64_t t = 0; t < taps; t++) dw[(c0 + l) * taps + t] += (float)sum[t * LANES + l];
        if (db) db[c0 + l] += (float)sum[taps * LANES + l];
    }
}

AVX512 static void block_forward(const cn_conv_geom *p, const band_geom *g, const float *x, const float *w,
                                 const float *b, float *y, int64_t n, int64_t c0, float *buf) {
    int64_t C = p->in_channels, KH = p->kernel[1], KW = p->kernel[2], taps = KH * KW;
    int64_t OH = p->out[1], OW = p->out[2], sh = p->stride[1], sw = p->stride[2], dh = p->dilation[1], dw = p->dilation[2];
    int64_t in_plane = prod3(p->in), out_plane = prod3(p->out);
    int nc = C - c0 < LANES ? (int)(C - c0) : LANES;
    float *xb = buf, *ob = xb + (g->in_rows * g->pwb + xb_slack(p)) * LANES, *wb = ob + g->out_cap * LANES;
    block_taps(w, taps, c0, nc, wb);
    __m512 wv[CN_DEPTHWISE_MAX_TAPS];
    for (int64_t t = 0; t < taps; t++) wv[t] = _mm512_loadu_ps(wb + t * LANES);
    __m512 bias = b ? _mm512_maskz_loadu_ps((__mmask16)((1u << nc) - 1), b + c0) : _mm512_setzero_ps();
    const float *x0 = x + (n * C + c0) * in_plane;
    float *y0 = y + (n * C + c0) * out_plane;
    /* The 16 planes are read as 16 short streams, too short for the hardware prefetcher to learn: ask for the
     * next block's planes (contiguous after these) now, while this block computes. */
    int64_t block_bytes = LANES * in_plane * (int64_t)sizeof(float);
    if (block_bytes <= PREFETCH_MAX) {
        const char *next = (const char *)(x0 + LANES * in_plane), *end = (const char *)(x + p->batch * C * in_plane);
        for (int64_t off = 0; off < block_bytes && next + off < end; off += 64)
            _mm_prefetch(next + off, _MM_HINT_T0);
    }
    for (int64_t oh0 = 0; oh0 < OH; oh0 += g->band) {
        int64_t rows = OH - oh0 < g->band ? OH - oh0 : g->band;
        int64_t ih0 = oh0 * sh - p->pad_begin[1], in_rows = (rows - 1) * sh + (KH - 1) * dh + 1;
        for (int64_t r = 0; r < in_rows; r++) gather_row(p, x0, in_plane, nc, ih0 + r, g->pwb, xb + r * g->pwb * LANES);
        for (int64_t oh = 0; oh < rows; oh++) {
            const float *xr = xb + oh * sh * g->pwb * LANES;
            float *orow = ob + oh * OW * LANES;
            /* 4 outputs at a time; past OW the extra lanes compute from slack or the next row and are
             * overwritten by the next row or never scattered */
            for (int64_t ow = 0; ow < OW; ow += 4) {
                __m512 a0 = bias, a1 = bias, a2 = bias, a3 = bias;
                for (int64_t kh = 0; kh < KH; kh++)
                    for (int64_t kw = 0; kw < KW; kw++) {
                        const float *s = xr + (kh * dh * g->pwb + ow * sw + kw * dw) * LANES;
                        __m512 wt = wv[kh * KW + kw];
                        a0 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s), a0);
                        a1 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s + sw * LANES), a1);
                        a2 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s + 2 * sw * LANES), a2);
                        a3 = _mm512_fmadd_ps(wt, _mm512_loadu_ps(s + 3 * sw * LANES), a3);
                    }
                _mm512_storeu_ps(orow + ow * LANES, a0);
                _mm512_storeu_ps(orow + (ow + 1) * LANES, a1);
                _mm512_storeu_ps(orow + (ow + 2) * LANES, a2);
                _mm512_storeu_ps(orow + (ow + 3) * LANES, a3);
            }
        }
        scatter_band(ob, rows * OW, nc, y0, out_plane, oh0 * OW);
    }
}

/* The three passes over channel blocks: forward and data gradient per (sample, block), the weight gradient per
 * block (its samples in order). */
typedef enum { PASS_FORWARD, PASS_DATA, PASS_WEIGHTS } pass_kind;
typedef struct {
    const float *x, *w, *b, *dy;
    float *y, *dx, *dw, *db;
} pass_args;

static void run_blocks(const cn_conv_geom *p, pass_kind pass, const pass_args *a, void *work) {
    band_geom g = band_of(p);
    int64_t blocks = (p->in_channels + LANES - 1) / LANES, items = pass == PASS_WEIGHTS ? blocks : p->batch * blocks;
    size_t slot = cn_conv_depthwise_thread_bytes(p);
    int team = p->threads > 1 ? p->threads : 1;
#pragma omp parallel num_threads(team) if (team > 1)
    {
        float *buf = (float *)((char *)work + (size_t)omp_get_thread_num() * slot);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < items; i++) {
            int64_t n = i / blocks, c0 = i % blocks * LANES;
            switch (pass) {
            case PASS_FORWARD: block_forward(p, &g, a->x, a->w, a->b, a->y, n, c0, buf); break;
            case PASS_DATA: block_data(p, &g, a->dy, a->w, a->dx, n, c0, buf); break;
            case PASS_WEIGHTS: block_weights(p, &g, a->x, a->dy, a->dw, a->db, i * LANES, buf); break;
            }
        }
    }
}

void cn_conv_forward_depthwise_blocked(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                                       cn_real *y, void *work) {
    run_blocks(p, PASS_FORWARD, &(pass_args){.x = x, .w = w, .b = b, .y = y}, work);
}

void cn_conv_backward_data_depthwise_blocked(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                             void *work) {
    run_blocks(p, PASS_DATA, &(pass_args){.dy = dy, .w = w, .dx = dx}, work);
}

void cn_conv_backward_weights_depthwise_blocked(const cn_conv_geom *p, const cn_real *x, const cn_real *dy,
                                                cn_real *dw, cn_real *db, void *work) {
    run_blocks(p, PASS_WEIGHTS, &(pass_args){.x = x, .dy = dy, .dw = dw, .db = db}, work);
}
#else
void cn_conv_backward_data_depthwise_blocked(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                             void *work) {
    (void)p, (void)dy, (void)w, (void)dx, (void)work;
}
void cn_conv_backward_weights_depthwise_blocked(const cn_conv_geom *p, const cn_real *x, const cn_real *dy,
                                                cn_real *dw, cn_real *db, void *work) {
    (void)p, (void)x, (void)dy, (void)dw, (void)db, (void)work;
}
void cn_conv_forward_depthwise_blocked(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                                       cn_real *y, void *work) {
    (void)p, (void)x, (void)w, (void)b, (void)y, (void)work;
}
#endif
