/* conv_depthwise_blocked.c — the depthwise passes on blocks of 16 channels (AVX-512) or 8 (AVX2), for the shapes the
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
 * splits the work over channel blocks (every sample in order), so it too is independent of the threads.
 *
 * AVX2+FMA runs the same three passes on blocks of 8 channels, one 8-lane vector per position (8 x 8 transposes
 * by unpack, shuffle and 128-bit permutes); the band layout, the order of the sums and the split over threads
 * are those of the 16-lane code with 8 for 16, so the workspace is sized for the kernel set in use. Partial
 * chunks (the last columns of a row, a tail block of fewer than 8 channels) are read by masked loads and
 * written lane by lane: a masked store (vmaskmovps) costs ~15 cycles on Zen 3.
 * Against what AVX2 ran before (conv_depthwise.c's per-plane paths), MobileNet's stride-2 3x3 layers, batch 32,
 * Zen 3, best of 5 interleaved runs, forward / forward+backward ms, 2 threads (1 thread, medians):
 *   64@112x112   18.5 -> 5.9 / 82.8 -> 28.7   (38.5 -> 10.9 / 158.9 -> 58.0)
 *   128@56x56    12.0 -> 2.8 / 41.7 -> 17.1   (17.7 -> 5.8 / 101.5 -> 30.0)
 *   256@28x28     6.1 -> 1.6 / 33.3 -> 10.3   ( 9.0 -> 3.8 /  42.0 -> 16.8)
 *   512@14x14     3.5 -> 1.3 / 17.5 -> 5.5    ( 4.9 -> 2.9 /  26.2 -> 13.9)
 * The forward pass of the large layers is close to the memory bandwidth (64@112: 128 MB read and written).
 * Stride 1 stays with the plane kernel where it applies (512@14x14 "same": blocked 3.4 against 2.0 ms forward);
 * elsewhere AVX2 takes the blocked kernel for outputs up to 9x9 only: unpadded 3x3 on 1024 channels, one thread,
 * forward 7x7 -> 5x5 3.2 -> 1.8 ms, 10x10 -> 8x8 6.9 -> 4.7, 512@11x11 -> 9x9 2.5 -> 2.3, but 12x12 -> 10x10
 * 5.5 -> 6.1 and 14x14 -> 12x12 3.4 -> 3.8 (slower). 24 KB bands (within Zen 3's 32 KB L1) were no faster. */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include <omp.h>

#define LANES 16           /* channels per block, AVX-512 */
#define LANES8 8           /* channels per block, AVX2 */
#define BAND_BYTES (48 * 1024)   /* input rows of one band, at most (at least one output row) */
#define PREFETCH_MAX (16 * 1024) /* prefetch the next block's input when it is this small */

static inline int64_t prod3(const int64_t v[3]) { return v[0] * v[1] * v[2]; }

/* channels per block of the kernel set in use (16: AVX-512, 8: AVX2) */
static int block_lanes(void) { return strcmp(cn_kernels_isa(), "avx512") == 0 ? LANES : LANES8; }

bool cn_conv_depthwise_blocked_applies(const cn_conv_geom *p) {
#ifdef CN_REAL_IS_DOUBLE
    (void)p;
    return false;
#else
    const char *isa = cn_kernels_isa();
    bool v512 = strcmp(isa, "avx512") == 0;
    if (!v512 && strcmp(isa, "avx2") != 0) return false;
    if (!cn_conv_single_plane(p) || p->out_channels != p->groups || p->in_channels != p->groups) return false;
    if (p->pad_mode != CN_PAD_ZEROS || prod3(p->kernel) > CN_DEPTHWISE_MAX_TAPS) return false;
    /* the flat per-plane path is faster on larger stride-1 planes (AVX2: from 10x10 outputs, see above) */
    return p->stride[1] > 1 || p->stride[2] > 1 || prod3(p->out) <= (v512 ? 32 * 32 : 9 * 9);
#endif
}

typedef struct {
    int lanes;         /* channels per block */
    int64_t pwb;       /* padded columns of a band row: (OW-1)*sw + (KW-1)*dw + 1 */
    int64_t band;      /* output rows per band */
    int64_t in_rows;   /* input rows of a full band */
    int64_t out_cap;   /* positions of a band's output, rounded up to the lanes */
    int64_t slack;     /* columns after the last band row: a whole gather chunk and the reach of 3 extra outputs */
} band_geom;

static band_geom band_of(const cn_conv_geom *p) {
    band_geom g;
    g.lanes = block_lanes();
    int64_t sh = p->stride[1], reach = (p->kernel[1] - 1) * p->dilation[1] + 1;
    g.pwb = (p->out[2] - 1) * p->stride[2] + (p->kernel[2] - 1) * p->dilation[2] + 1;
    int64_t row_bytes = g.pwb * g.lanes * (int64_t)sizeof(float);
    int64_t rows_fit = BAND_BYTES / row_bytes; /* (band-1)*sh + reach <= rows_fit */
    g.band = rows_fit >= reach ? (rows_fit - reach) / sh + 1 : 1;
    if (g.band > p->out[1]) g.band = p->out[1];
    g.in_rows = (g.band - 1) * sh + reach;
    g.out_cap = (g.band * p->out[2] + 3 + g.lanes - 1) / g.lanes * g.lanes; /* + 3: the last group of 4 outputs */
    g.slack = g.lanes + 3 * p->stride[2];
    return g;
}

/* floats of a band's input rows and slack (xb) */
static int64_t xb_floats(const band_geom *g) { return (g->in_rows * g->pwb + g->slack) * g->lanes; }

size_t cn_conv_depthwise_blocked_thread_bytes(const cn_conv_geom *p) {
    if (!cn_conv_depthwise_blocked_applies(p)) return 0;
    band_geom g = band_of(p);
    /* xb (+ slack), the band's outputs, then either the block's weights [tap][lanes] (forward, data gradient) or
     * the weight gradient's double sums [tap + bias][lanes] */
    return (size_t)(xb_floats(&g) + g.out_cap * g.lanes + (CN_DEPTHWISE_MAX_TAPS + 1) * g.lanes * 2) * sizeof(float);
}

#ifndef CN_REAL_IS_DOUBLE
#include <immintrin.h>
#include "kernels/simd256.h"
#include "kernels/simd512.h"

#define AVX512 __attribute__((target("avx512f")))

/* the block's taps as [tap][lanes channels] (lanes past nc zero) */
static void block_taps(const float *w, int64_t taps, int64_t c0, int nc, int lanes, float *wb) {
    for (int64_t t = 0; t < taps; t++)
        for (int l = 0; l < lanes; l++) wb[t * lanes + l] = l < nc ? w[(c0 + l) * taps + t] : 0.0f;
}

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

AVX512 static void block_data(const cn_conv_geom *p, const band_geom *g, const float *dy, const float *w, float *dx,
                              int64_t n, int64_t c0, float *buf) {
    int64_t C = p->in_channels, KH = p->kernel[1], KW = p->kernel[2], taps = KH * KW;
    int64_t OH = p->out[1], OW = p->out[2], sh = p->stride[1], sw = p->stride[2], dh = p->dilation[1], dw = p->dilation[2];
    int64_t in_plane = prod3(p->in), out_plane = prod3(p->out);
    int nc = C - c0 < LANES ? (int)(C - c0) : LANES;
    float *xb = buf, *ob = xb + xb_floats(g), *wb = ob + g->out_cap * LANES;
    block_taps(w, taps, c0, nc, LANES, wb);
    const float *dy0 = dy + (n * C + c0) * out_plane;
    float *dx0 = dx + (n * C + c0) * in_plane;
    for (int64_t oh0 = 0; oh0 < OH; oh0 += g->band) {
        int64_t rows = OH - oh0 < g->band ? OH - oh0 : g->band;
        int64_t ih0 = oh0 * sh - p->pad_begin[1], in_rows = (rows - 1) * sh + (KH - 1) * dh + 1;
        gather_band(dy0, out_plane, oh0 * OW, rows * OW, nc, ob);
        memset(xb, 0, (size_t)((in_rows * g->pwb + g->slack) * LANES) * sizeof(float));
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
    float *xb = buf, *ob = xb + xb_floats(g);
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
    float *xb = buf, *ob = xb + xb_floats(g), *wb = ob + g->out_cap * LANES;
    block_taps(w, taps, c0, nc, LANES, wb);
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

/* ---- AVX2: the same three passes on blocks of 8 channels, one 8-lane vector per position. Zen 3 pays ~15 cycles
 * for a masked store (vmaskmovps) against ~1 for a plain one, so partial chunks are stored lane by lane; masked
 * loads cost as much as plain ones and read the partial chunks. */
#define AVX2 __attribute__((target("avx2,fma")))

/* 8 rows of cols (<= 8) floats at src + l*stride -> r[l] (rows l >= nc zero, columns past cols zero) */
static inline __attribute__((always_inline, target("avx2,fma"))) void load_rows8(const float *src, int64_t stride,
                                                                                 int nc, int64_t cols, __m256 r[8]) {
    if (cols == LANES8 && nc == LANES8) {
#pragma GCC unroll 8
        for (int l = 0; l < LANES8; l++) r[l] = _mm256_loadu_ps(src + l * stride);
        return;
    }
    __m256i m = first_lanes(cols);
#pragma GCC unroll 8
    for (int l = 0; l < LANES8; l++) r[l] = l < nc ? _mm256_maskload_ps(src + l * stride, m) : _mm256_setzero_ps();
}

/* r[l] -> the first cols floats at dst + l*stride, rows l < nc (accumulate: added to what is there) */
static inline __attribute__((always_inline, target("avx2,fma"))) void store_rows8(float *dst, int64_t stride, int nc,
                                                                                  int64_t cols, bool accumulate,
                                                                                  __m256 r[8]) {
    if (cols == LANES8) {
        for (int l = 0; l < nc; l++) {
            float *d = dst + l * stride;
            _mm256_storeu_ps(d, accumulate ? _mm256_add_ps(_mm256_loadu_ps(d), r[l]) : r[l]);
        }
        return;
    }
    for (int l = 0; l < nc; l++) {
        float v[LANES8], *d = dst + l * stride;
        _mm256_storeu_ps(v, r[l]);
        for (int64_t k = 0; k < cols; k++) d[k] = accumulate ? d[k] + v[k] : v[k];
    }
}

/* as gather_row, 8 channels and chunks of 8 columns */
AVX2 static void gather_row_avx2(const cn_conv_geom *p, const float *x0, int64_t plane, int nc, int64_t ih,
                                 int64_t pwb, float *xrow) {
    int64_t IW = p->in[2], pl = p->pad_begin[2];
    __m256 zero = _mm256_setzero_ps();
    if (ih < 0 || ih >= p->in[1]) {
        for (int64_t pc = 0; pc < pwb; pc++) _mm256_storeu_ps(xrow + pc * LANES8, zero);
        return;
    }
    int64_t lo = pl < pwb ? pl : pwb, hi = pl + IW < pwb ? pl + IW : pwb; /* padded columns holding input */
    for (int64_t pc = 0; pc < lo; pc++) _mm256_storeu_ps(xrow + pc * LANES8, zero);
    const float *src = x0 + ih * IW - pl;
    for (int64_t pc = lo; pc < hi; pc += LANES8) {
        __m256 r[8];
        load_rows8(src + pc, plane, nc, hi - pc < LANES8 ? hi - pc : LANES8, r);
        transpose8(r);
#pragma GCC unroll 8
        for (int k = 0; k < LANES8; k++) _mm256_storeu_ps(xrow + (pc + k) * LANES8, r[k]);
    }
    for (int64_t pc = hi > lo ? hi : lo; pc < pwb; pc++) _mm256_storeu_ps(xrow + pc * LANES8, zero);
}

/* as scatter_band: ob[position][8] -> planes y0 + l*plane + first, positions [0, count) */
AVX2 static void scatter_band_avx2(const float *ob, int64_t count, int nc, float *y0, int64_t plane, int64_t first,
                                   bool stream) {
    for (int64_t q = 0; q < count; q += LANES8) {
        __m256 r[8];
#pragma GCC unroll 8
        for (int k = 0; k < LANES8; k++) r[k] = _mm256_loadu_ps(ob + (q + k) * LANES8); /* ob has out_cap rows */
        transpose8(r);
        /* a whole line of every plane at once (two chunks), each written completely before the next */
        if (stream && count - q >= 2 * LANES8 && nc == LANES8 && ((uintptr_t)(y0 + first + q) & 63) == 0) {
            __m256 r2[8];
#pragma GCC unroll 8
            for (int k = 0; k < LANES8; k++) r2[k] = _mm256_loadu_ps(ob + (q + 8 + k) * LANES8);
            transpose8(r2);
#pragma GCC unroll 8
            for (int l = 0; l < LANES8; l++) {
                _mm256_stream_ps(y0 + first + q + l * plane, r[l]);
                _mm256_stream_ps(y0 + first + q + 8 + l * plane, r2[l]);
            }
            q += LANES8;
            continue;
        }
        store_rows8(y0 + first + q, plane, nc, count - q < LANES8 ? count - q : LANES8, false, r);
    }
}

/* as gather_band: planes y0 + l*plane + first, positions [0, count) -> ob[position][8] (lanes past nc zero) */
AVX2 static void gather_band_avx2(const float *y0, int64_t plane, int64_t first, int64_t count, int nc, float *ob) {
    for (int64_t q = 0; q < count; q += LANES8) {
        __m256 r[8];
        load_rows8(y0 + first + q, plane, nc, count - q < LANES8 ? count - q : LANES8, r);
        transpose8(r);
#pragma GCC unroll 8
        for (int k = 0; k < LANES8; k++) _mm256_storeu_ps(ob + (q + k) * LANES8, r[k]); /* ob has out_cap rows */
    }
}

/* as add_row_back: dx row ih of channels c0.. += xrow's padded columns [pl, min(pl + IW, pwb)); `set`: the row
 * is written (its first terms: a fresh dx), the columns no tap reaches zeroed */
AVX2 static void add_row_back_avx2(const cn_conv_geom *p, const float *xrow, int64_t pwb, int nc, int64_t ih,
                                   float *dx0, int64_t plane, bool set) {
    int64_t IW = p->in[2], pl = p->pad_begin[2];
    int64_t hi = pl + IW < pwb ? IW : pwb - pl; /* input columns [0, hi) have a gradient */
    for (int64_t iw = 0; iw < hi; iw += LANES8) {
        __m256 r[8];
#pragma GCC unroll 8
        for (int k = 0; k < LANES8; k++) r[k] = _mm256_loadu_ps(xrow + (pl + iw + k) * LANES8); /* slack covers k >= cols */
        transpose8(r);
        store_rows8(dx0 + ih * IW + iw, plane, nc, hi - iw < LANES8 ? hi - iw : LANES8, !set, r);
    }
    if (set && hi < IW)
        for (int l = 0; l < nc; l++) memset(dx0 + l * plane + ih * IW + hi, 0, (size_t)(IW - hi) * sizeof(float));
}

AVX2 static void block_forward_avx2(const cn_conv_geom *p, const band_geom *g, const float *x, const float *w,
                                    const float *b, float *y, int64_t n, int64_t c0, float *buf) {
    int64_t C = p->in_channels, KH = p->kernel[1], KW = p->kernel[2], taps = KH * KW;
    int64_t OH = p->out[1], OW = p->out[2], sh = p->stride[1], sw = p->stride[2], dh = p->dilation[1], dw = p->dilation[2];
    int64_t in_plane = prod3(p->in), out_plane = prod3(p->out);
    int nc = C - c0 < LANES8 ? (int)(C - c0) : LANES8;
    float *xb = buf, *ob = xb + xb_floats(g), *wb = ob + g->out_cap * LANES8;
    block_taps(w, taps, c0, nc, LANES8, wb);
    __m256 bias = b ? _mm256_maskload_ps(b + c0, first_lanes(nc)) : _mm256_setzero_ps();
    const float *x0 = x + (n * C + c0) * in_plane;
    float *y0 = y + (n * C + c0) * out_plane;
    /* an output of CN_STREAM_MIN_BYTES or more is streamed past the caches, a whole 64-byte line of each of the
     * 8 planes at a time (one line at a time per plane: 32-byte pieces of 8 planes in turn left partial lines
     * in the write-combining buffers, 1.5x slower). 64@112x112 stride 2, batch 32, two threads, alternated
     * runs: forward 9.0-10.3 -> 7.9-8.8 ms, forward and backward 10 % less time. */
    bool stream = (double)p->batch * C * out_plane * sizeof(float) >= CN_STREAM_MIN_BYTES &&
                  ((uintptr_t)y0 & 31) == 0 && out_plane % 16 == 0;
    int64_t block_bytes = LANES8 * in_plane * (int64_t)sizeof(float); /* prefetch as block_forward */
    if (block_bytes <= PREFETCH_MAX) {
        const char *next = (const char *)(x0 + LANES8 * in_plane), *end = (const char *)(x + p->batch * C * in_plane);
        for (int64_t off = 0; off < block_bytes && next + off < end; off += 64)
            _mm_prefetch(next + off, _MM_HINT_T0);
    }
    for (int64_t oh0 = 0; oh0 < OH; oh0 += g->band) {
        int64_t rows = OH - oh0 < g->band ? OH - oh0 : g->band;
        int64_t ih0 = oh0 * sh - p->pad_begin[1], in_rows = (rows - 1) * sh + (KH - 1) * dh + 1;
        for (int64_t r = 0; r < in_rows; r++)
            gather_row_avx2(p, x0, in_plane, nc, ih0 + r, g->pwb, xb + r * g->pwb * LANES8);
        for (int64_t oh = 0; oh < rows; oh++) {
            const float *xr = xb + oh * sh * g->pwb * LANES8;
            float *orow = ob + oh * OW * LANES8;
            /* 4 outputs at a time, as block_forward */
            for (int64_t ow = 0; ow < OW; ow += 4) {
                __m256 a0 = bias, a1 = bias, a2 = bias, a3 = bias;
                for (int64_t kh = 0; kh < KH; kh++)
                    for (int64_t kw = 0; kw < KW; kw++) {
                        const float *s = xr + (kh * dh * g->pwb + ow * sw + kw * dw) * LANES8;
                        __m256 wt = _mm256_loadu_ps(wb + (kh * KW + kw) * LANES8);
                        a0 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s), a0);
                        a1 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + sw * LANES8), a1);
                        a2 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + 2 * sw * LANES8), a2);
                        a3 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(s + 3 * sw * LANES8), a3);
                    }
                _mm256_storeu_ps(orow + ow * LANES8, a0);
                _mm256_storeu_ps(orow + (ow + 1) * LANES8, a1);
                _mm256_storeu_ps(orow + (ow + 2) * LANES8, a2);
                _mm256_storeu_ps(orow + (ow + 3) * LANES8, a3);
            }
        }
        scatter_band_avx2(ob, rows * OW, nc, y0, out_plane, oh0 * OW, stream);
    }
    if (stream) _mm_sfence(); /* the streamed stores visible before the barrier that ends the pass */
}

/* rows [from, to) of the nc planes at dx0 (rows of IW floats) zeroed */
static void zero_rows(float *dx0, int64_t plane, int nc, int64_t from, int64_t to, int64_t IW) {
    for (int l = 0; l < nc; l++) memset(dx0 + l * plane + from * IW, 0, (size_t)((to - from) * IW) * sizeof(float));
}

AVX2 static void block_data_avx2(const cn_conv_geom *p, const band_geom *g, const float *dy, const float *w, float *dx,
                                 int64_t n, int64_t c0, float *buf) {
    int64_t C = p->in_channels, KH = p->kernel[1], KW = p->kernel[2], taps = KH * KW;
    int64_t OH = p->out[1], OW = p->out[2], sh = p->stride[1], sw = p->stride[2], dh = p->dilation[1], dw = p->dilation[2];
    int64_t in_plane = prod3(p->in), out_plane = prod3(p->out);
    int nc = C - c0 < LANES8 ? (int)(C - c0) : LANES8;
    float *xb = buf, *ob = xb + xb_floats(g), *wb = ob + g->out_cap * LANES8;
    block_taps(w, taps, c0, nc, LANES8, wb);
    const float *dy0 = dy + (n * C + c0) * out_plane;
    float *dx0 = dx + (n * C + c0) * in_plane;
    int64_t IW = p->in[2];
    /* a fresh dx (p->dx_fresh): rows at or past `reached` have no terms yet and are set, not added to; the rows
     * no band reaches are zeroed at the end */
    int64_t reached = 0;
    for (int64_t oh0 = 0; oh0 < OH; oh0 += g->band) {
        int64_t rows = OH - oh0 < g->band ? OH - oh0 : g->band;
        int64_t ih0 = oh0 * sh - p->pad_begin[1], in_rows = (rows - 1) * sh + (KH - 1) * dh + 1;
        gather_band_avx2(dy0, out_plane, oh0 * OW, rows * OW, nc, ob);
        memset(xb, 0, (size_t)((in_rows * g->pwb + g->slack) * LANES8) * sizeof(float));
        for (int64_t oh = 0; oh < rows; oh++) {
            float *xr = xb + oh * sh * g->pwb * LANES8;
            for (int64_t kh = 0; kh < KH; kh++)
                for (int64_t kw = 0; kw < KW; kw++) {
                    __m256 wt = _mm256_loadu_ps(wb + (kh * KW + kw) * LANES8);
                    float *d = xr + (kh * dh * g->pwb + kw * dw) * LANES8;
                    const float *g0 = ob + oh * OW * LANES8;
                    for (int64_t ow = 0; ow < OW; ow++) {
                        float *dp = d + ow * sw * LANES8;
                        _mm256_storeu_ps(dp, _mm256_fmadd_ps(wt, _mm256_loadu_ps(g0 + ow * LANES8), _mm256_loadu_ps(dp)));
                    }
                }
        }
        for (int64_t r = 0; r < in_rows; r++) {
            int64_t ih = ih0 + r;
            if (ih < 0 || ih >= p->in[1]) continue;
            if (p->dx_fresh && ih > reached) /* rows between bands no tap reaches (kernel shorter than the stride) */
                zero_rows(dx0, in_plane, nc, reached, ih, IW);
            add_row_back_avx2(p, xb + r * g->pwb * LANES8, g->pwb, nc, ih, dx0, in_plane, p->dx_fresh && ih >= reached);
            if (ih + 1 > reached) reached = ih + 1;
        }
    }
    if (p->dx_fresh) zero_rows(dx0, in_plane, nc, reached, p->in[1], IW);
}

bool cn_conv_depthwise_blocked_sets_dx(const cn_conv_geom *p) {
    (void)p; /* the AVX2 kernels set a fresh dx; the AVX-512 ones add */
    return strcmp(cn_kernels_isa(), "avx2") == 0;
}

AVX2 static void block_weights_avx2(const cn_conv_geom *p, const band_geom *g, const float *x, const float *dy,
                                    float *dw, float *db, int64_t c0, float *buf) {
    int64_t C = p->in_channels, KH = p->kernel[1], KW = p->kernel[2], taps = KH * KW;
    int64_t OH = p->out[1], OW = p->out[2], sh = p->stride[1], sw = p->stride[2], dh = p->dilation[1], dil = p->dilation[2];
    int64_t in_plane = prod3(p->in), out_plane = prod3(p->out);
    int nc = C - c0 < LANES8 ? (int)(C - c0) : LANES8;
    float *xb = buf, *ob = xb + xb_floats(g);
    double *sum = (double *)(ob + g->out_cap * LANES8); /* [tap + bias][8] */
    memset(sum, 0, (size_t)((taps + 1) * LANES8) * sizeof(double));
    for (int64_t n = 0; n < p->batch; n++) {
        const float *x0 = x + (n * C + c0) * in_plane, *dy0 = dy + (n * C + c0) * out_plane;
        for (int64_t oh0 = 0; oh0 < OH; oh0 += g->band) {
            int64_t rows = OH - oh0 < g->band ? OH - oh0 : g->band;
            int64_t ih0 = oh0 * sh - p->pad_begin[1], in_rows = (rows - 1) * sh + (KH - 1) * dh + 1;
            for (int64_t r = 0; r < in_rows; r++)
                gather_row_avx2(p, x0, in_plane, nc, ih0 + r, g->pwb, xb + r * g->pwb * LANES8);
            int64_t count = rows * OW;
            gather_band_avx2(dy0, out_plane, oh0 * OW, count, nc, ob);
            for (int64_t t = 0; t <= taps; t++) {
                __m256 a[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
                if (t == taps) { /* bias: the sum of dy */
                    for (int64_t q = 0; q < count; q++) a[q & 3] = _mm256_add_ps(a[q & 3], _mm256_loadu_ps(ob + q * LANES8));
                } else {
                    int64_t kh = t / KW, kw = t % KW;
                    for (int64_t oh = 0; oh < rows; oh++) {
                        const float *xr = xb + ((oh * sh + kh * dh) * g->pwb + kw * dil) * LANES8;
                        const float *gr = ob + oh * OW * LANES8;
                        for (int64_t ow = 0; ow < OW; ow++)
                            a[ow & 3] = _mm256_fmadd_ps(_mm256_loadu_ps(gr + ow * LANES8),
                                                        _mm256_loadu_ps(xr + ow * sw * LANES8), a[ow & 3]);
                    }
                }
                __m256 band_sum = _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3]));
                double *st = sum + t * LANES8;
                _mm256_storeu_pd(st, _mm256_add_pd(_mm256_loadu_pd(st), _mm256_cvtps_pd(_mm256_castps256_ps128(band_sum))));
                _mm256_storeu_pd(st + 4, _mm256_add_pd(_mm256_loadu_pd(st + 4),
                                                       _mm256_cvtps_pd(_mm256_extractf128_ps(band_sum, 1))));
            }
        }
    }
    for (int l = 0; l < nc; l++) {
        for (int64_t t = 0; t < taps; t++) dw[(c0 + l) * taps + t] += (float)sum[t * LANES8 + l];
        if (db) db[c0 + l] += (float)sum[taps * LANES8 + l];
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
    bool v512 = g.lanes == LANES;
    int64_t blocks = (p->in_channels + g.lanes - 1) / g.lanes, items = pass == PASS_WEIGHTS ? blocks : p->batch * blocks;
    size_t slot = cn_conv_depthwise_thread_bytes(p);
    int team = p->threads > 1 ? p->threads : 1;
#pragma omp parallel num_threads(team) if (team > 1)
    {
        float *buf = (float *)((char *)work + (size_t)omp_get_thread_num() * slot);
#pragma omp for schedule(static)
        for (int64_t i = 0; i < items; i++) {
            int64_t n = i / blocks, c0 = i % blocks * g.lanes;
            switch (pass) {
            case PASS_FORWARD:
                (v512 ? block_forward : block_forward_avx2)(p, &g, a->x, a->w, a->b, a->y, n, c0, buf);
                break;
            case PASS_DATA: (v512 ? block_data : block_data_avx2)(p, &g, a->dy, a->w, a->dx, n, c0, buf); break;
            case PASS_WEIGHTS:
                (v512 ? block_weights : block_weights_avx2)(p, &g, a->x, a->dy, a->dw, a->db, i * g.lanes, buf);
                break;
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
bool cn_conv_depthwise_blocked_sets_dx(const cn_conv_geom *p) {
    (void)p;
    return false;
}
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
