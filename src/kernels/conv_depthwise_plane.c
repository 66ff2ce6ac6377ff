/* conv_depthwise_plane.c — depthwise convolution on stride-1 planes (AVX-512), vectorised over the positions of one
 * plane, reading NCHW as it lies: MobileNet's stride-1 layers from 112x112 to 7x7, where the 16-channel blocks of
 * conv_depthwise_blocked.c spend most of their time transposing planes in and out of [position][16] and the flat
 * path of conv_depthwise.c copies every plane into a padded one (3x faster forward on 56x56 and 112x112 planes,
 * 1.7x forward+backward, batch 32, Xeon).
 *
 * A "same" layer with stride 1 (output plane = input plane, H x W) reads, for output q = oh*W + ow and tap t,
 * the input at q + off[t] (off = di*W + dj, the tap's row and column shift). One masked load per 16 outputs and
 * tap does it: the mask drops lanes whose shifted row or column leaves the plane (the flat index would wrap
 * into the next row), so neither padding nor a copy is needed; masked-off lanes never fault. Any kernel up to
 * 5x5, any dilation and padding that keep the plane's size, at most 16384 positions (128x128: the plan, built on
 * the caller's stack, is then 51 KB).
 *
 *   forward          y[q]   = bias + sum_t w[t] * x[q + off[t]]       (or the fused BN/ReLU epilogue)
 *   data gradient    dx[q] += sum_t w[t] * dy[q - off[t]]
 *   weight gradient  dw[t] += sum_q dy[q] * x[q + off[t]]
 * A plan holds the offsets and the 16-bit masks of every (vector, tap). Work: planes (sample, channel) over the
 * threads for the forward and data passes, channels (every sample in order) for the weight gradient, so no
 * result depends on the thread count.
 * Stride 2 by the same shifts on the four parity planes of the input was tried (2026-12, Xeon with AVX-512): the
 * split and the interleaving of dx cost more than the 16-channel blocked kernel's transposes, 1.5x slower
 * forward+backward on MobileNet's 14x14 -> 7x7 layer, so stride 2 stays with the blocked kernel. */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include <omp.h>

enum { PL_MAX_VEC = 1024, PL_MAX_TAPS = 25 };

static inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool cn_conv_depthwise_plane_applies(const cn_conv_geom *p) {
#ifdef CN_REAL_IS_DOUBLE
    (void)p;
    return false;
#else
    if (strcmp(cn_kernels_isa(), "avx512") != 0 || p->pad_mode != CN_PAD_ZEROS) return false;
    if (p->in[0] != 1 || p->kernel[0] != 1 || p->out_channels != p->groups || p->in_channels != p->groups) return false;
    if (p->stride[1] != 1 || p->stride[2] != 1 || p->kernel[1] * p->kernel[2] > PL_MAX_TAPS) return false;
    return p->out[1] == p->in[1] && p->out[2] == p->in[2] && cdiv(p->out[1] * p->out[2], 16) <= PL_MAX_VEC;
#endif
}

typedef struct {
    int T, V;
    int64_t H, W, P;                         /* the plane: rows, columns, positions */
    int32_t off[PL_MAX_TAPS];                /* flat shift of each tap */
    uint16_t mask[PL_MAX_VEC * PL_MAX_TAPS]; /* [vector][tap]: lanes whose shifted position is in the plane */
} plan;

#ifndef CN_REAL_IS_DOUBLE
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))

/* data: the transposed plan, dx position q reads dy at q - shift */
static void make_plan(const cn_conv_geom *p, bool data, plan *pl) {
    int64_t KW = p->kernel[2], di[PL_MAX_TAPS], dj[PL_MAX_TAPS];
    pl->T = (int)(p->kernel[1] * KW);
    pl->H = p->out[1], pl->W = p->out[2], pl->P = pl->H * pl->W, pl->V = (int)cdiv(pl->P, 16);
    for (int t = 0; t < pl->T; t++) {
        di[t] = t / KW * p->dilation[1] - p->pad_begin[1], dj[t] = t % KW * p->dilation[2] - p->pad_begin[2];
        if (data) di[t] = -di[t], dj[t] = -dj[t];
        pl->off[t] = (int32_t)(di[t] * pl->W + dj[t]);
    }
    memset(pl->mask, 0, (size_t)(pl->V * pl->T) * sizeof(uint16_t));
    for (int64_t q = 0, r = 0, c = 0; q < pl->P; q++) { /* (r, c): q's row and column */
        uint16_t *m = pl->mask + q / 16 * pl->T;
        for (int t = 0; t < pl->T; t++)
            if (r + di[t] >= 0 && r + di[t] < pl->H && c + dj[t] >= 0 && c + dj[t] < pl->W)
                m[t] |= (uint16_t)(1u << q % 16);
        if (++c == pl->W) c = 0, r++;
    }
}

static inline __mmask16 first_lanes(int64_t n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* One output plane: out[q] = init + sum_t w[t] * src[q + off[t]]; then scale/shift, ReLU, or (add) out[q] += that.
 * T: taps (constant when the caller's case is). */
static inline __attribute__((always_inline, target("avx512f"))) void plane_sum(
    const int T, const plan *pl, const float *w, const float *src, float init, const float *scale,
    const float *shift, bool relu, bool add, float *out) {
    __m512 wv[PL_MAX_TAPS];
    const float *base[PL_MAX_TAPS];
    for (int t = 0; t < T; t++) wv[t] = _mm512_set1_ps(w[t]), base[t] = src + pl->off[t];
    const uint16_t *m = pl->mask;
    for (int v = 0; v < pl->V; v++, m += T) {
        __m512 acc = _mm512_set1_ps(init);
        for (int t = 0; t < T; t++) acc = _mm512_fmadd_ps(wv[t], _mm512_maskz_loadu_ps(m[t], base[t] + v * 16), acc);
        if (scale) acc = _mm512_fmadd_ps(acc, _mm512_set1_ps(*scale), _mm512_set1_ps(*shift));
        if (relu) acc = _mm512_max_ps(acc, _mm512_setzero_ps());
        __mmask16 mo = first_lanes(pl->P - v * 16);
        if (add) acc = _mm512_add_ps(_mm512_maskz_loadu_ps(mo, out + v * 16), acc);
        _mm512_mask_storeu_ps(out + v * 16, mo, acc);
    }
}

AVX512 static void plane_sum_any(const plan *pl, const float *w, const float *src, float init, const float *scale,
                                 const float *shift, bool relu, bool add, float *out) {
    switch (pl->T) {
    case 9: plane_sum(9, pl, w, src, init, scale, shift, relu, add, out); return;
    case 25: plane_sum(25, pl, w, src, init, scale, shift, relu, add, out); return;
    default: plane_sum(pl->T, pl, w, src, init, scale, shift, relu, add, out); return;
    }
}

static int team(const cn_conv_geom *p) { return p->threads > 1 ? p->threads : 1; }

void cn_conv_forward_depthwise_plane(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                                     cn_real *y) {
    plan pl;
    make_plan(p, false, &pl);
    const cn_conv_epilogue *e = p->epilogue;
    int64_t C = p->out_channels, planes = p->batch * C;
#pragma omp parallel for num_threads(team(p)) if (team(p) > 1) schedule(static)
    for (int64_t i = 0; i < planes; i++) {
        int64_t c = i % C;
        plane_sum_any(&pl, w + c * pl.T, x + i * pl.P, e || !b ? 0.0f : b[c], e ? e->scale + c : NULL,
                      e ? e->shift + c : NULL, e && e->relu, false, y + i * pl.P);
    }
}

void cn_conv_backward_data_depthwise_plane(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx) {
    plan pl;
    make_plan(p, true, &pl);
    int64_t C = p->in_channels, planes = p->batch * C;
#pragma omp parallel for num_threads(team(p)) if (team(p) > 1) schedule(static)
    for (int64_t i = 0; i < planes; i++)
        plane_sum_any(&pl, w + i % C * pl.T, dy + i * pl.P, 0.0f, NULL, NULL, false, true, dx + i * pl.P);
}

/* dw[t] += sum over samples and positions of dy * x[. + off[t]]: per channel, one 16-lane float sum per tap over
 * up to 8 samples, then into double. */
static inline __attribute__((always_inline, target("avx512f"))) void weight_sums(
    const int T, const plan *pl, const cn_conv_geom *p, const float *x, const float *dy, int64_t c, double *acc,
    double *bias) {
    int64_t C = p->in_channels;
    __m512 s[PL_MAX_TAPS], sb = _mm512_setzero_ps();
    for (int t = 0; t < T; t++) s[t] = _mm512_setzero_ps();
    for (int64_t n = 0; n < p->batch; n++) {
        const float *xi = x + (n * C + c) * pl->P, *dyi = dy + (n * C + c) * pl->P;
        const float *base[PL_MAX_TAPS];
        for (int t = 0; t < T; t++) base[t] = xi + pl->off[t];
        const uint16_t *m = pl->mask;
        for (int v = 0; v < pl->V; v++, m += T) {
            __m512 d = _mm512_maskz_loadu_ps(first_lanes(pl->P - v * 16), dyi + v * 16);
            for (int t = 0; t < T; t++) s[t] = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(m[t], base[t] + v * 16), s[t]);
            sb = _mm512_add_ps(sb, d);
        }
        if (n % 8 == 7 || n + 1 == p->batch) {
            for (int t = 0; t < T; t++) acc[t] += (double)_mm512_reduce_add_ps(s[t]), s[t] = _mm512_setzero_ps();
            *bias += (double)_mm512_reduce_add_ps(sb), sb = _mm512_setzero_ps();
        }
    }
}

AVX512 void cn_conv_backward_weights_depthwise_plane(const cn_conv_geom *p, const cn_real *x, const cn_real *dy,
                                                     cn_real *dw, cn_real *db) {
    plan pl;
    make_plan(p, false, &pl);
#pragma omp parallel for num_threads(team(p)) if (team(p) > 1) schedule(static)
    for (int64_t c = 0; c < p->in_channels; c++) {
        double acc[PL_MAX_TAPS] = {0}, bias = 0;
        if (pl.T == 9) weight_sums(9, &pl, p, x, dy, c, acc, &bias);
        else weight_sums(pl.T, &pl, p, x, dy, c, acc, &bias);
        for (int t = 0; t < pl.T; t++) dw[c * pl.T + t] += (cn_real)acc[t];
        if (db) db[c] += (cn_real)bias;
    }
}
#else
void cn_conv_forward_depthwise_plane(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                                     cn_real *y) {
    (void)p, (void)x, (void)w, (void)b, (void)y;
}
void cn_conv_backward_data_depthwise_plane(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx) {
    (void)p, (void)dy, (void)w, (void)dx;
}
void cn_conv_backward_weights_depthwise_plane(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                              cn_real *db) {
    (void)p, (void)x, (void)dy, (void)dw, (void)db;
}
#endif
