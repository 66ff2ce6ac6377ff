/* conv_depthwise_plane.c — depthwise convolution on small planes (AVX-512), vectorised over the positions of one
 * plane, reading NCHW as it lies: MobileNet's 14x14 and 7x7 layers, where the 16-channel blocks of
 * conv_depthwise_blocked.c spend most of their time transposing planes in and out of [position][16].
 *
 * A "same" layer with stride 1 (output plane = input plane, H x W) reads, for output q = oh*W + ow and tap t,
 * the input at q + off[t] (off = di*W + dj, the tap's row and column shift). One masked load per 16 outputs and
 * tap does it: the mask drops lanes whose shifted row or column leaves the plane (the flat index would wrap
 * into the next row), so neither padding nor a copy is needed; masked-off lanes never fault.
 * Stride 2 is the same thing on phases: the input plane is split into its four (row, column) parity planes of
 * ceil(H/2) x ceil(W/2) (zero where the input ends), the size of the output plane, and each tap reads one phase
 * with a shift. The layer applies when the output plane is exactly that size (stride 1 or 2, any kernel up to
 * 5x5, any dilation and padding), with at most 1024 positions.
 *
 *   forward          y[q]   = bias + sum_t w[t] * x_phase(t)[q + off[t]]       (or the fused BN/ReLU epilogue)
 *   data gradient    dx[q] += sum_t w[t] * dy[q - off[t]]    per phase of dx for stride 2, then interleaved
 *   weight gradient  dw[t] += sum_q dy[q] * x_phase(t)[q + off[t]]
 * A plan holds the offsets and the 16-bit masks of every (vector, tap). Work: planes (sample, channel) over the
 * threads for the forward and data passes, channels (every sample in order) for the weight gradient, so no
 * result depends on the thread count. */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include <omp.h>

enum { PL_MAX_VEC = 64, PL_MAX_TAPS = 25 };

static inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

bool cn_conv_depthwise_plane_applies(const cn_conv_geom *p) {
#ifdef CN_REAL_IS_DOUBLE
    (void)p;
    return false;
#else
    if (strcmp(cn_kernels_isa(), "avx512") != 0 || p->pad_mode != CN_PAD_ZEROS) return false;
    if (p->in[0] != 1 || p->kernel[0] != 1 || p->out_channels != p->groups || p->in_channels != p->groups) return false;
    int64_t s = p->stride[1];
    if (s != p->stride[2] || (s != 1 && s != 2) || p->kernel[1] * p->kernel[2] > PL_MAX_TAPS) return false;
    int64_t H2 = cdiv(p->in[1], s), W2 = cdiv(p->in[2], s);
    return p->out[1] == H2 && p->out[2] == W2 && cdiv(H2 * W2, 16) <= PL_MAX_VEC;
#endif
}

/* floats of one phase plane, rounded up to whole vectors */
static int64_t phase_floats(const cn_conv_geom *p) { return cdiv(p->out[1] * p->out[2], 16) * 16; }

size_t cn_conv_depthwise_plane_thread_bytes(const cn_conv_geom *p) {
    if (!cn_conv_depthwise_plane_applies(p) || p->stride[1] == 1) return 0;
    return (size_t)(4 * phase_floats(p)) * sizeof(float); /* the four phases of an input (or dx) plane */
}

typedef struct {
    int T, V, s;
    int64_t H, W, P;             /* the plane computed (output plane; a phase plane): rows, columns, positions */
    int32_t off[PL_MAX_TAPS];    /* flat shift of each tap in its phase plane */
    int8_t phase[PL_MAX_TAPS];   /* parity (row * 2 + column) of the plane each tap reads (data: writes) */
    uint16_t mask[PL_MAX_VEC * PL_MAX_TAPS]; /* [vector][tap]: lanes whose shifted position is in the plane */
} plan;

#ifndef CN_REAL_IS_DOUBLE
#include <immintrin.h>
#define AVX512 __attribute__((target("avx512f")))

/* data: the transposed plan, dx (phase) position q reads dy at q - shift */
static void make_plan(const cn_conv_geom *p, bool data, plan *pl) {
    int64_t s = p->stride[1], KW = p->kernel[2];
    pl->s = (int)s, pl->T = (int)(p->kernel[1] * KW);
    pl->H = p->out[1], pl->W = p->out[2], pl->P = pl->H * pl->W, pl->V = (int)cdiv(pl->P, 16);
    for (int t = 0; t < pl->T; t++) {
        int64_t rh = t / KW * p->dilation[1] - p->pad_begin[1], rw = t % KW * p->dilation[2] - p->pad_begin[2];
        int64_t a = (rh % s + s) % s, b = (rw % s + s) % s, di = (rh - a) / s, dj = (rw - b) / s;
        if (data) di = -di, dj = -dj;
        pl->off[t] = (int32_t)(di * pl->W + dj), pl->phase[t] = (int8_t)(a * 2 + b);
        for (int v = 0; v < pl->V; v++) {
            unsigned m = 0;
            for (int l = 0; l < 16; l++) {
                int64_t q = v * 16 + l, r = q / pl->W + di, c = q % pl->W + dj;
                if (q < pl->P && r >= 0 && r < pl->H && c >= 0 && c < pl->W) m |= 1u << l;
            }
            pl->mask[v * pl->T + t] = (uint16_t)m;
        }
    }
}

static inline __mmask16 first_lanes(int64_t n) { return n >= 16 ? (__mmask16)0xffff : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* The four parity planes of one H x W input plane: ph[a*2+b][i][j] = x[2i+a][2j+b] (0 past the input), each
 * H2 x W2 at ph + (a*2+b) * pf. */
AVX512 static void split_phases(const float *x, int64_t H, int64_t W, int64_t H2, int64_t W2, int64_t pf, float *ph) {
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int a = 0; a < 2; a++)
        for (int64_t i = 0; i < H2; i++) {
            float *d0 = ph + (a * 2) * pf + i * W2, *d1 = ph + (a * 2 + 1) * pf + i * W2;
            int64_t r = 2 * i + a;
            for (int64_t j0 = 0; j0 < W2; j0 += 16) {
                __mmask16 mw = first_lanes(W2 - j0);
                __m512 e = _mm512_setzero_ps(), o = _mm512_setzero_ps();
                if (r < H) {
                    int64_t n = W - 2 * j0; /* input floats from column 2*j0 on */
                    __m512 lo = _mm512_maskz_loadu_ps(first_lanes(n), x + r * W + 2 * j0);
                    __m512 hi = _mm512_maskz_loadu_ps(first_lanes(n - 16), x + r * W + 2 * j0 + 16);
                    e = _mm512_permutex2var_ps(lo, ev, hi), o = _mm512_permutex2var_ps(lo, od, hi);
                }
                _mm512_mask_storeu_ps(d0 + j0, mw, e);
                _mm512_mask_storeu_ps(d1 + j0, mw, o);
            }
        }
}

/* dx[r][2j+b] += ph[(r%2)*2+b][r/2][j]: the four phase planes of a data gradient back into its H x W plane. */
AVX512 static void add_phases(const float *ph, int64_t H, int64_t W, int64_t W2, int64_t pf, float *dx) {
    const __m512i lo_idx = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi_idx = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    for (int64_t r = 0; r < H; r++) {
        const float *e = ph + (r % 2 * 2) * pf + r / 2 * W2, *o = e + pf;
        float *row = dx + r * W;
        for (int64_t j0 = 0; j0 < W2; j0 += 16) {
            __mmask16 mw = first_lanes(W2 - j0);
            __m512 E = _mm512_maskz_loadu_ps(mw, e + j0), O = _mm512_maskz_loadu_ps(mw, o + j0);
            int64_t n = W - 2 * j0;
            __mmask16 m0 = first_lanes(n), m1 = first_lanes(n - 16);
            float *d = row + 2 * j0;
            _mm512_mask_storeu_ps(d, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, d), _mm512_permutex2var_ps(E, lo_idx, O)));
            _mm512_mask_storeu_ps(d + 16, m1,
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(m1, d + 16), _mm512_permutex2var_ps(E, hi_idx, O)));
        }
    }
}

/* One output plane: out[q] = init + sum over the taps t with phase(t) in `phases` (bit set) of
 * w[t] * src[phase(t)][q + off[t]]; then scale/shift, ReLU, or (add) out[q] += that. T: taps (constant when the
 * caller's case is). */
static inline __attribute__((always_inline, target("avx512f"))) void plane_sum(
    const int T, const plan *pl, const float *w, const float *const src[4], unsigned phases, float init,
    const float *scale, const float *shift, bool relu, bool add, float *out) {
    __m512 wv[PL_MAX_TAPS];
    const float *base[PL_MAX_TAPS];
    bool use[PL_MAX_TAPS];
    for (int t = 0; t < T; t++)
        wv[t] = _mm512_set1_ps(w[t]), base[t] = src[pl->phase[t]] + pl->off[t], use[t] = phases >> pl->phase[t] & 1;
    const uint16_t *m = pl->mask;
    for (int v = 0; v < pl->V; v++, m += T) {
        __m512 acc = _mm512_set1_ps(init);
        for (int t = 0; t < T; t++)
            if (use[t]) acc = _mm512_fmadd_ps(wv[t], _mm512_maskz_loadu_ps(m[t], base[t] + v * 16), acc);
        if (scale) acc = _mm512_fmadd_ps(acc, _mm512_set1_ps(*scale), _mm512_set1_ps(*shift));
        if (relu) acc = _mm512_max_ps(acc, _mm512_setzero_ps());
        __mmask16 mo = first_lanes(pl->P - v * 16);
        if (add) acc = _mm512_add_ps(_mm512_maskz_loadu_ps(mo, out + v * 16), acc);
        _mm512_mask_storeu_ps(out + v * 16, mo, acc);
    }
}

AVX512 static void plane_sum_any(const plan *pl, const float *w, const float *const src[4], unsigned phases,
                                 float init, const float *scale, const float *shift, bool relu, bool add, float *out) {
    switch (pl->T) {
    case 9: plane_sum(9, pl, w, src, phases, init, scale, shift, relu, add, out); return;
    case 25: plane_sum(25, pl, w, src, phases, init, scale, shift, relu, add, out); return;
    default: plane_sum(pl->T, pl, w, src, phases, init, scale, shift, relu, add, out); return;
    }
}

static int team(const cn_conv_geom *p) { return p->threads > 1 ? p->threads : 1; }

void cn_conv_forward_depthwise_plane(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                                     cn_real *y, void *work) {
    plan pl;
    make_plan(p, false, &pl);
    const cn_conv_epilogue *e = p->epilogue;
    int64_t C = p->out_channels, planes = p->batch * C, in_plane = p->in[1] * p->in[2], pf = phase_floats(p);
#pragma omp parallel num_threads(team(p)) if (team(p) > 1)
    {
        float *ph = pl.s == 2 ? (float *)((char *)work + (size_t)omp_get_thread_num() * cn_conv_depthwise_thread_bytes(p)) : NULL;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < planes; i++) {
            int64_t c = i % C;
            const float *xi = x + i * in_plane, *src[4] = {xi, xi, xi, xi};
            if (ph) {
                split_phases(xi, p->in[1], p->in[2], pl.H, pl.W, pf, ph);
                for (int f = 0; f < 4; f++) src[f] = ph + f * pf;
            }
            plane_sum_any(&pl, w + c * pl.T, src, 0xf, e || !b ? 0.0f : b[c], e ? e->scale + c : NULL,
                          e ? e->shift + c : NULL, e && e->relu, false, y + i * pl.P);
        }
    }
}

void cn_conv_backward_data_depthwise_plane(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                           void *work) {
    plan pl;
    make_plan(p, true, &pl);
    int64_t C = p->in_channels, planes = p->batch * C, in_plane = p->in[1] * p->in[2], pf = phase_floats(p);
#pragma omp parallel num_threads(team(p)) if (team(p) > 1)
    {
        float *ph = pl.s == 2 ? (float *)((char *)work + (size_t)omp_get_thread_num() * cn_conv_depthwise_thread_bytes(p)) : NULL;
#pragma omp for schedule(static)
        for (int64_t i = 0; i < planes; i++) {
            const float *dyi = dy + i * pl.P, *src[4] = {dyi, dyi, dyi, dyi};
            const float *wc = w + i % C * pl.T;
            if (!ph) {
                plane_sum_any(&pl, wc, src, 1, 0.0f, NULL, NULL, false, true, dx + i * in_plane);
                continue;
            }
            for (int f = 0; f < 4; f++) /* each phase of dx from the taps that land on it */
                plane_sum_any(&pl, wc, src, 1u << f, 0.0f, NULL, NULL, false, false, ph + f * pf);
            add_phases(ph, p->in[1], p->in[2], pl.W, pf, dx + i * in_plane);
        }
    }
}

/* dw[t] += sum over samples and positions of dy * x_phase(t)[. + off[t]]: per channel, one 16-lane float sum per
 * tap over up to 8 samples, then into double. */
static inline __attribute__((always_inline, target("avx512f"))) void weight_sums(
    const int T, const plan *pl, const cn_conv_geom *p, const float *x, const float *dy, int64_t c, float *ph,
    double *acc, double *bias) {
    int64_t C = p->in_channels, in_plane = p->in[1] * p->in[2], pf = phase_floats(p);
    __m512 s[PL_MAX_TAPS], sb = _mm512_setzero_ps();
    for (int t = 0; t < T; t++) s[t] = _mm512_setzero_ps();
    for (int64_t n = 0; n < p->batch; n++) {
        const float *xi = x + (n * C + c) * in_plane, *dyi = dy + (n * C + c) * pl->P, *src[4] = {xi, xi, xi, xi};
        if (ph) {
            split_phases(xi, p->in[1], p->in[2], pl->H, pl->W, pf, ph);
            for (int f = 0; f < 4; f++) src[f] = ph + f * pf;
        }
        const float *base[PL_MAX_TAPS];
        for (int t = 0; t < T; t++) base[t] = src[pl->phase[t]] + pl->off[t];
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
                                                     cn_real *dw, cn_real *db, void *work) {
    plan pl;
    make_plan(p, false, &pl);
#pragma omp parallel num_threads(team(p)) if (team(p) > 1)
    {
        float *ph = pl.s == 2 ? (float *)((char *)work + (size_t)omp_get_thread_num() * cn_conv_depthwise_thread_bytes(p)) : NULL;
#pragma omp for schedule(static)
        for (int64_t c = 0; c < p->in_channels; c++) {
            double acc[PL_MAX_TAPS] = {0}, bias = 0;
            if (pl.T == 9) weight_sums(9, &pl, p, x, dy, c, ph, acc, &bias);
            else weight_sums(pl.T, &pl, p, x, dy, c, ph, acc, &bias);
            for (int t = 0; t < pl.T; t++) dw[c * pl.T + t] += (cn_real)acc[t];
            if (db) db[c] += (cn_real)bias;
        }
    }
}
#else
void cn_conv_forward_depthwise_plane(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                                     cn_real *y, void *work) {
    (void)p, (void)x, (void)w, (void)b, (void)y, (void)work;
}
void cn_conv_backward_data_depthwise_plane(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                           void *work) {
    (void)p, (void)dy, (void)w, (void)dx, (void)work;
}
void cn_conv_backward_weights_depthwise_plane(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                              cn_real *db, void *work) {
    (void)p, (void)x, (void)dy, (void)dw, (void)db, (void)work;
}
#endif
