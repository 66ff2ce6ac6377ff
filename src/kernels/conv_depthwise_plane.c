/* conv_depthwise_plane.c — depthwise convolution on stride-1 planes (AVX-512; AVX2+FMA), vectorised over the
 * positions of one plane, reading NCHW as it lies: MobileNet's stride-1 layers from 112x112 to 7x7, where the
 * 16-channel blocks of conv_depthwise_blocked.c spend most of their time transposing planes in and out of
 * [position][16] and the flat path of conv_depthwise.c copies every plane into a padded one (3x faster forward on
 * 56x56 and 112x112 planes, 1.7x forward+backward, batch 32, Xeon).
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
 * AVX2 runs the same plan, 16 positions per step as two 8-lane halves: a 16-bit mask becomes two lane masks for
 * _mm256_maskload_ps by one broadcast and two variable shifts (lane_masks), and steps whose taps all stay inside
 * the plane (inner: 70 % of a 112x112 plane, 55 % of 56x56, 29 % of 28x28, none of 14x14 or 7x7) use plain
 * loads: forward 1.6-2.3x faster on 112x112 and 56x56 and 1.5x on 28x28 than masking every load (Zen 3).
 * Against what AVX2 ran before (conv_depthwise.c's flat path: a padded copy of every plane), batch 32, 2 threads,
 * Zen 3, best of 7 interleaved runs, forward / forward+backward: 32@112x112 16.7 -> 4.6 / 48.9 -> 22.5 ms,
 * 128@56x56 16.6 -> 4.1 / 46.5 -> 21.4 ms, 256@28x28 8.5 -> 2.3 / 18.3 -> 10.5 ms, 512@14x14 4.7 -> 1.5 /
 * 10.7 -> 8.4 ms, 1024@7x7 2.1 -> 0.85 / 11.2 -> 6.4 ms (1.3-3.7x).
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
    const char *isa = cn_kernels_isa();
    if ((strcmp(isa, "avx512") != 0 && strcmp(isa, "avx2") != 0) || p->pad_mode != CN_PAD_ZEROS) return false;
    if (!cn_conv_single_plane(p) || p->out_channels != p->groups || p->in_channels != p->groups) return false;
    if (p->stride[1] != 1 || p->stride[2] != 1 || p->kernel[1] * p->kernel[2] > PL_MAX_TAPS) return false;
    return p->out[1] == p->in[1] && p->out[2] == p->in[2] && cdiv(p->out[1] * p->out[2], 16) <= PL_MAX_VEC;
#endif
}

typedef struct {
    int T, V;
    int64_t H, W, P;                         /* the plane: rows, columns, positions */
    int32_t off[PL_MAX_TAPS];                /* flat shift of each tap */
    uint16_t mask[PL_MAX_VEC * PL_MAX_TAPS]; /* [vector][tap]: lanes whose shifted position is in the plane */
    bool inner[PL_MAX_VEC];                  /* every lane of every tap in the plane (AVX2: plain loads) */
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
    for (int v = 0; v < pl->V; v++) {
        pl->inner[v] = true;
        for (int t = 0; t < pl->T; t++) pl->inner[v] = pl->inner[v] && pl->mask[v * pl->T + t] == 0xffff;
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

#define AVX2 __attribute__((target("avx2,fma")))

/* AVX2 has no mask registers: a 16-bit plan mask becomes two vectors for _mm256_maskload_ps, which reads only each
 * lane's sign bit. Broadcast as 16 bits (m in both halves of every 32-bit lane), lane l of the low vector shifted
 * left by 31 - l and of the high one by 23 - l moves mask bit l (8 + l) into the sign bit. */
static inline __attribute__((always_inline, target("avx2,fma"))) void lane_masks(uint16_t m, __m256i *lo,
                                                                                  __m256i *hi) {
    __m256i b = _mm256_set1_epi16((short)m);
    *lo = _mm256_sllv_epi32(b, _mm256_setr_epi32(31, 30, 29, 28, 27, 26, 25, 24));
    *hi = _mm256_sllv_epi32(b, _mm256_setr_epi32(23, 22, 21, 20, 19, 18, 17, 16));
}

/* plane_sum with AVX2: the same 16 positions per step, as two 8-lane halves. Masked stores are slow on AMD, so
 * only a plane's last, partial step stores through a mask. */
static inline __attribute__((always_inline, target("avx2,fma"))) void plane_sum8(
    const int T, const plan *pl, const float *w, const float *src, float init, const float *scale,
    const float *shift, bool relu, bool add, float *out) {
    __m256 wv[PL_MAX_TAPS];
    const float *base[PL_MAX_TAPS];
    for (int t = 0; t < T; t++) wv[t] = _mm256_set1_ps(w[t]), base[t] = src + pl->off[t];
    const uint16_t *m = pl->mask;
    for (int v = 0; v < pl->V; v++, m += T) {
        __m256 a0 = _mm256_set1_ps(init), a1 = a0;
        if (pl->inner[v])
            for (int t = 0; t < T; t++) {
                a0 = _mm256_fmadd_ps(wv[t], _mm256_loadu_ps(base[t] + v * 16), a0);
                a1 = _mm256_fmadd_ps(wv[t], _mm256_loadu_ps(base[t] + v * 16 + 8), a1);
            }
        else
            for (int t = 0; t < T; t++) {
                __m256i k0, k1;
                lane_masks(m[t], &k0, &k1);
                a0 = _mm256_fmadd_ps(wv[t], _mm256_maskload_ps(base[t] + v * 16, k0), a0);
                a1 = _mm256_fmadd_ps(wv[t], _mm256_maskload_ps(base[t] + v * 16 + 8, k1), a1);
            }
        if (scale) {
            __m256 sc = _mm256_set1_ps(*scale), sh = _mm256_set1_ps(*shift);
            a0 = _mm256_fmadd_ps(a0, sc, sh), a1 = _mm256_fmadd_ps(a1, sc, sh);
        }
        if (relu) a0 = _mm256_max_ps(a0, _mm256_setzero_ps()), a1 = _mm256_max_ps(a1, _mm256_setzero_ps());
        float *o = out + v * 16;
        if (pl->P - v * 16 >= 16) {
            if (add) a0 = _mm256_add_ps(_mm256_loadu_ps(o), a0), a1 = _mm256_add_ps(_mm256_loadu_ps(o + 8), a1);
            _mm256_storeu_ps(o, a0), _mm256_storeu_ps(o + 8, a1);
        } else {
            __m256i k0, k1;
            lane_masks(first_lanes(pl->P - v * 16), &k0, &k1);
            if (add) {
                a0 = _mm256_add_ps(_mm256_maskload_ps(o, k0), a0);
                a1 = _mm256_add_ps(_mm256_maskload_ps(o + 8, k1), a1);
            }
            _mm256_maskstore_ps(o, k0, a0), _mm256_maskstore_ps(o + 8, k1, a1);
        }
    }
}

AVX2 static void plane_sum_any_avx2(const plan *pl, const float *w, const float *src, float init, const float *scale,
                                    const float *shift, bool relu, bool add, float *out) {
    switch (pl->T) {
    case 9: plane_sum8(9, pl, w, src, init, scale, shift, relu, add, out); return;
    case 25: plane_sum8(25, pl, w, src, init, scale, shift, relu, add, out); return;
    default: plane_sum8(pl->T, pl, w, src, init, scale, shift, relu, add, out); return;
    }
}

typedef void (*plane_sum_fn)(const plan *, const float *, const float *, float, const float *, const float *, bool,
                             bool, float *);
static plane_sum_fn plane_sum_for_isa(void) {
    return strcmp(cn_kernels_isa(), "avx512") == 0 ? plane_sum_any : plane_sum_any_avx2;
}

static int team(const cn_conv_geom *p) { return p->threads > 1 ? p->threads : 1; }

void cn_conv_forward_depthwise_plane(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                                     cn_real *y) {
    plan pl;
    make_plan(p, false, &pl);
    const cn_conv_epilogue *e = p->epilogue;
    int64_t C = p->out_channels, planes = p->batch * C;
    plane_sum_fn sum = plane_sum_for_isa();
#pragma omp parallel for num_threads(team(p)) if (team(p) > 1) schedule(static)
    for (int64_t i = 0; i < planes; i++) {
        int64_t c = i % C;
        sum(&pl, w + c * pl.T, x + i * pl.P, e || !b ? 0.0f : b[c], e ? e->scale + c : NULL, e ? e->shift + c : NULL,
            e && e->relu, false, y + i * pl.P);
    }
}

void cn_conv_backward_data_depthwise_plane(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx) {
    plan pl;
    make_plan(p, true, &pl);
    int64_t C = p->in_channels, planes = p->batch * C;
    plane_sum_fn sum = plane_sum_for_isa();
#pragma omp parallel for num_threads(team(p)) if (team(p) > 1) schedule(static)
    for (int64_t i = 0; i < planes; i++)
        sum(&pl, w + i % C * pl.T, dy + i * pl.P, 0.0f, NULL, NULL, false, true, dx + i * pl.P);
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

AVX512 static void weight_sums_avx512(const plan *pl, const cn_conv_geom *p, const float *x, const float *dy, int64_t c,
                                      double *acc, double *bias) {
    if (pl->T == 9) weight_sums(9, pl, p, x, dy, c, acc, bias);
    else weight_sums(pl->T, pl, p, x, dy, c, acc, bias);
}

static inline __attribute__((always_inline, target("avx2,fma"))) double sum8(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return (double)_mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}

/* weight_sums with AVX2: per tap one 8-lane float sum of both halves of each 16-position step. */
static inline __attribute__((always_inline, target("avx2,fma"))) void weight_sums8(
    const int T, const plan *pl, const cn_conv_geom *p, const float *x, const float *dy, int64_t c, double *acc,
    double *bias) {
    int64_t C = p->in_channels;
    __m256 s[PL_MAX_TAPS], sb = _mm256_setzero_ps();
    for (int t = 0; t < T; t++) s[t] = _mm256_setzero_ps();
    for (int64_t n = 0; n < p->batch; n++) {
        const float *xi = x + (n * C + c) * pl->P, *dyi = dy + (n * C + c) * pl->P;
        const float *base[PL_MAX_TAPS];
        for (int t = 0; t < T; t++) base[t] = xi + pl->off[t];
        const uint16_t *m = pl->mask;
        for (int v = 0; v < pl->V; v++, m += T) {
            __m256 d0, d1;
            if (pl->P - v * 16 >= 16) {
                d0 = _mm256_loadu_ps(dyi + v * 16), d1 = _mm256_loadu_ps(dyi + v * 16 + 8);
            } else { /* the plane's last step: no reading past it */
                __m256i k0, k1;
                lane_masks(first_lanes(pl->P - v * 16), &k0, &k1);
                d0 = _mm256_maskload_ps(dyi + v * 16, k0), d1 = _mm256_maskload_ps(dyi + v * 16 + 8, k1);
            }
            if (pl->inner[v])
                for (int t = 0; t < T; t++) {
                    s[t] = _mm256_fmadd_ps(d0, _mm256_loadu_ps(base[t] + v * 16), s[t]);
                    s[t] = _mm256_fmadd_ps(d1, _mm256_loadu_ps(base[t] + v * 16 + 8), s[t]);
                }
            else
                for (int t = 0; t < T; t++) {
                    __m256i k0, k1;
                    lane_masks(m[t], &k0, &k1);
                    s[t] = _mm256_fmadd_ps(d0, _mm256_maskload_ps(base[t] + v * 16, k0), s[t]);
                    s[t] = _mm256_fmadd_ps(d1, _mm256_maskload_ps(base[t] + v * 16 + 8, k1), s[t]);
                }
            sb = _mm256_add_ps(sb, _mm256_add_ps(d0, d1));
        }
        if (n % 8 == 7 || n + 1 == p->batch) {
            for (int t = 0; t < T; t++) acc[t] += sum8(s[t]), s[t] = _mm256_setzero_ps();
            *bias += sum8(sb), sb = _mm256_setzero_ps();
        }
    }
}

AVX2 static void weight_sums_avx2(const plan *pl, const cn_conv_geom *p, const float *x, const float *dy, int64_t c,
                                  double *acc, double *bias) {
    if (pl->T == 9) weight_sums8(9, pl, p, x, dy, c, acc, bias);
    else weight_sums8(pl->T, pl, p, x, dy, c, acc, bias);
}

void cn_conv_backward_weights_depthwise_plane(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                              cn_real *db) {
    plan pl;
    make_plan(p, false, &pl);
    void (*sums)(const plan *, const cn_conv_geom *, const float *, const float *, int64_t, double *, double *) =
        strcmp(cn_kernels_isa(), "avx512") == 0 ? weight_sums_avx512 : weight_sums_avx2;
#pragma omp parallel for num_threads(team(p)) if (team(p) > 1) schedule(static)
    for (int64_t c = 0; c < p->in_channels; c++) {
        double acc[PL_MAX_TAPS] = {0}, bias = 0;
        sums(&pl, p, x, dy, c, acc, &bias);
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
