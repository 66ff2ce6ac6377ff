/* conv_depthwise_rows.c — depthwise convolution on narrow planes (AVX2+FMA): one output row is one or two 8-lane
 * vectors, each tap one FMA with a shifted row of a small zero-padded copy of the plane. MobileNet's layers from
 * 28x28 down (7x7 and 14x14 "same", 14x14 -> 7x7 and 28x28 -> 14x14 stride 2), where the 8-channel blocks of
 * conv_depthwise_blocked.c spend as long transposing planes in and out as computing, and the plane kernel of
 * conv_depthwise_plane.c masks every load (a 7-column row wraps into the next every 7 lanes). The 3x3 forward and
 * data gradient with padding 1 (7x7 and 14x14 "same", 14x14 -> 7x7, the data gradient of 28x28 -> 14x14 too)
 * read and write the planes in place instead (see inplace_applies): no copies in or out.
 *
 * Per plane (one sample, one channel), with s the stride (1 or 2) and the padded input split into s column phases:
 *   copy     xb[pr][phase][slot] = the padded input at row pr, column s*slot + phase (zero outside the input):
 *            stride 2 deinterleaves each input row into its even and odd columns once (two shuffles and two
 *            permutes per 16 columns), so every tap of every output row is one unaligned load;
 *   forward  y[oh][ow] = init + sum_(kh,kw) w[kh][kw] * xb[oh*s + kh][kw % s][ow + kw / s]  (ow over the lanes),
 *            then the fused epilogue (scale/shift, ReLU) when there is one;
 *   weights  dw[kh][kw] += sum_(oh,ow) dy[oh][ow] * xb[oh*s + kh][kw % s][ow + kw / s], in float over up to 8 samples
 *            then in double, per channel (every sample in order), so the thread count changes nothing;
 *   data     dx[ih][s*m + f] += sum w[kh][kw] * dyb[(ih + pt - kh) / s][m + (f + pl - kw) / s] over the taps whose
 *            row and column offsets divide by s (dyb: dy with zero rows and columns around it): each input row is
 *            gathered per phase f and the phases interleaved back (stride 2: unpack and 128-bit permutes).
 * The copies of plane i + 1 are made while plane i is computed (two buffers: a load never waits on a store of its
 * own copy still in flight), and outputs go to a plane buffer first, rows stored whole, moved out one plane later
 * (see copy_plane). Loads from the caller's arrays stay inside the plane (row_load); nothing is written outside it.
 * Per-plane overheads decide this kernel's speed: hoisting the masks and row bounds out of the loops, replacing
 * masked loads, and the deferred output each gave 1.2-2.5x on the 7x7 and 14x14 planes (Zen 3).
 * Applies: AVX2 kernels selected, single-precision, 2D, channel multiplier 1, zero padding, dilation 1, stride 1
 * or 2 on both axes, square 3x3 or 5x5 kernels with padding below the kernel size, output rows and input phase
 * rows of at most 16 columns, at most 64 padded input rows. cn_conv_depthwise_rows_pays() says where it beats the
 * other kernels. */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include <omp.h>

enum { RW_MAX_K = 5, RW_MAX_ROWS = 64, RW_DY_PAD = 4, RW_MAX_FLOATS = 64 * 2 * 24, RW_MAX_PLANE = 64 * 32 + 32 };

static inline int64_t cdiv(int64_t a, int64_t b) { return (a + b - 1) / b; }

typedef struct {
    int s, kh, kw, nv;          /* stride; kernel; 8-lane vectors per output row and per input phase row */
    int64_t H, W, OH, OW, pt, pl; /* the planes, the leading padding */
    int64_t rw;                 /* floats per buffer row (one phase): 8 * nv + 8 */
    int64_t prow;               /* padded input rows the outputs read: (OH - 1) * s + KH */
    int64_t fast_in, fast_out;  /* leading input (output) rows whose vectors end inside the plane */
} rgeom;

/* rows r of a rows x width plane whose vectors [r * width, r * width + 8 * nc) end inside it */
static inline int64_t fast_rows(int64_t rows, int64_t width, int nc) {
    int64_t f = rows * width < 8 * nc ? 0 : (rows * width - 8 * nc) / width + 1;
    return f < rows ? f : rows;
}

static inline rgeom rgeom_of(const cn_conv_geom *p) {
    rgeom g;
    g.s = (int)p->stride[1], g.kh = (int)p->kernel[1], g.kw = (int)p->kernel[2];
    g.H = p->in[1], g.W = p->in[2], g.OH = p->out[1], g.OW = p->out[2];
    g.pt = p->pad_begin[1], g.pl = p->pad_begin[2];
    int64_t cols = g.OW > cdiv(g.W, g.s) ? g.OW : cdiv(g.W, g.s);
    g.nv = (int)cdiv(cols, 8), g.rw = 8 * g.nv + 8;
    g.prow = (g.OH - 1) * g.s + g.kh;
    g.fast_in = fast_rows(g.H, g.W, g.s * g.nv), g.fast_out = fast_rows(g.OH, g.OW, g.nv);
    return g;
}

bool cn_conv_depthwise_rows_applies(const cn_conv_geom *p) {
#ifdef CN_REAL_IS_DOUBLE
    (void)p;
    return false;
#else
    if (strcmp(cn_kernels_isa(), "avx2") != 0 || p->pad_mode != CN_PAD_ZEROS) return false;
    if (!cn_conv_single_plane(p) || p->out_channels != p->groups || p->in_channels != p->groups) return false;
    if (p->stride[1] != p->stride[2] || p->stride[1] > 2 || p->dilation[1] != 1 || p->dilation[2] != 1) return false;
    if (p->kernel[1] != p->kernel[2] || (p->kernel[1] != 3 && p->kernel[1] != 5)) return false;
    if (p->pad_begin[1] >= p->kernel[1] || p->pad_begin[2] >= p->kernel[2]) return false;
    rgeom g = rgeom_of(p);
    return g.nv <= 2 && g.prow <= RW_MAX_ROWS && g.OH + 2 * RW_DY_PAD <= RW_MAX_ROWS &&
           g.prow * g.s * g.rw <= RW_MAX_FLOATS && g.H * g.W + 32 <= RW_MAX_PLANE && g.OH * g.OW + 16 <= RW_MAX_PLANE;
#endif
}

bool cn_conv_depthwise_rows_pays(const cn_conv_geom *p) {
    /* against the plane kernel (stride 1) and the 8-channel blocks (stride 2), Zen 3, batch 32, two threads,
     * medians of 7 interleaved runs, forward / forward+backward ms: 1024@7x7 1.28 -> 0.91 / 6.0 -> 3.0,
     * 512@14x14 2.16 -> 1.62 / 8.5 -> 6.7, 512@14x14 -> 7x7 1.35 -> 0.83 / 7.7 -> 5.3, 256@28x28 -> 14x14
     * 2.39 -> 1.77 / 10.2 -> 8.6; 256@16x16 and 128@32x32 -> 16x16 1.15-1.25x forward+backward; 5x5 on 7x7
     * 1.5x, 5x5 stride 2 on 14x14 even. Larger outputs: not measured, left to the other kernels. */
    return cn_conv_depthwise_rows_applies(p) && p->out[1] * p->out[2] <= 16 * 16;
}

/* Where the in-place 3x3 kernels (inplace_plane, inplace_plane2, inplace_plane_s2, inplace_data_s2 below) run:
 * padding 1; stride 1 on rows of 4 to 16 columns; stride 2 halving the plane, rows of 10 to 16 columns (the data
 * gradient: to 32) */
static bool inplace_applies(const rgeom *g, bool data) {
    if (g->kh != 3 || g->pt != 1 || g->pl != 1) return false;
    if (g->s == 1) return g->OH == g->H && g->OW == g->W && g->W >= 4 && g->W <= 16 && g->H >= 2;
    return g->W % 2 == 0 && g->W >= 10 && g->W <= (data ? 32 : 16) && g->OW == g->W / 2 && g->H % 2 == 0 &&
           g->OH == g->H / 2 && g->OH >= 2;
}
/* the in-place data gradient sets dx when asked (p->dx_fresh); the passes through plane copies only add */
bool cn_conv_depthwise_rows_sets_dx(const cn_conv_geom *p) {
    if (!cn_conv_depthwise_rows_pays(p)) return false;
    rgeom g = rgeom_of(p);
    return inplace_applies(&g, true);
}

#ifndef CN_REAL_IS_DOUBLE
#include <immintrin.h>
#include "kernels/simd256.h" /* first_lanes: any n, none set for n <= 0, all for n >= 8 */
#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/* 8 floats at p with lanes [n, 8) zeroed, reading only [begin, end): a plain load and a mask where the vector ends
 * inside the plane, else the 8 floats ending at `end` moved down by a lane permute. Masked loads cost far more on
 * Zen 3 (the copy of MobileNet's 28x28 planes ran 3x slower with one per row; one per plane still 1.5x). */
INLINE __m256 row_load(const float *p, int64_t n, const float *begin, const float *end) {
    __m256i m = first_lanes(n);
    if (n <= 0) return _mm256_setzero_ps();
    if (p + 8 <= end) return _mm256_and_ps(_mm256_loadu_ps(p), _mm256_castsi256_ps(m));
    if (end - begin < 8) return _mm256_maskload_ps(p, m);
    __m256i idx = _mm256_add_epi32(_mm256_set1_epi32((int)(8 - (end - p))), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    return _mm256_and_ps(_mm256_permutevar8x32_ps(_mm256_loadu_ps(end - 8), idx), _mm256_castsi256_ps(m));
}

/* vector c of a row of n columns: a plain load and a mask made once while `fast`, else row_load */
INLINE __m256 plane_row(const float *row, int c, int64_t n, __m256 mask, bool fast, const float *begin,
                        const float *end) {
    return fast ? _mm256_and_ps(_mm256_loadu_ps(row + 8 * c), mask) : row_load(row + 8 * c, n - 8 * c, begin, end);
}

/* the cache lines of p[0, n) */
INLINE void prefetch_floats(const float *p, int64_t n) {
    for (int64_t k = 0; k < n; k += 16) _mm_prefetch((const char *)(p + k), _MM_HINT_T0);
    _mm_prefetch((const char *)(p + n - 1), _MM_HINT_T0);
}

/* One input row's 8 * NC columns (NC = S * NV vectors) into xb's phase rows: stride 1 as it is at slot pl,
 * stride 2 split into even columns (at their padded column's phase and slot) and odd ones. */
INLINE void put_row(const int S, const int NV, const __m256 *in, float *even, float *odd) {
    for (int v = 0; v < NV; v++) {
        if (S == 1) {
            _mm256_storeu_ps(even + 8 * v, in[v]);
            continue;
        }
        __m256 e = _mm256_shuffle_ps(in[2 * v], in[2 * v + 1], 0x88), o = _mm256_shuffle_ps(in[2 * v], in[2 * v + 1], 0xDD);
        _mm256_storeu_ps(even + 8 * v, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), 0xD8)));
        _mm256_storeu_ps(odd + 8 * v, _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(o), 0xD8)));
    }
}

/* A plane (rows x cols; its first `fast` rows' vectors end inside it) into a zeroed buffer at row `top`, slot
 * `left` (stride 2: the padded column left + col split into phases, see put_row); only the first `used` rows.
 * Only slots the plane fills are ever written, so the padding around them stays zero from plane to plane. */
INLINE void fill_plane(const int S, const int NV, const int64_t RW, const float *src, int64_t rows, int64_t cols,
                       int64_t fast, int64_t top, int64_t left, int64_t used, float *buf) {
    const int NC = S * NV;
    const float *plane_end = src + rows * cols;
    float *even = buf + top * S * RW + (S == 1 ? left : (left & 1) * RW + (left >> 1));
    float *odd = buf + top * S * RW + (S == 1 ? 0 : ((left + 1) & 1) * RW + ((left + 1) >> 1));
    __m256 mask[4], in[4];
    for (int c = 0; c < NC; c++) mask[c] = _mm256_castsi256_ps(first_lanes(cols - 8 * c));
    const float *row = src;
    for (int64_t r = 0; r < (used < rows ? used : rows); r++, row += cols, even += S * RW, odd += S * RW) {
        for (int c = 0; c < NC; c++) in[c] = plane_row(row, c, cols, mask[c], r < fast, src, plane_end);
        put_row(S, NV, in, even, odd);
    }
}

/* xb <- one input plane, at its padding; the rows past the last one the outputs read are left out */
INLINE void fill_input(const rgeom *g, const int S, const int NV, const int64_t RW, const float *xin, float *xb) {
    fill_plane(S, NV, RW, xin, g->H, g->W, g->fast_in, g->pt, g->pl, g->prow - g->pt, xb);
}

/* One output plane from xb into z (rows stored whole: z has 16 floats of slack); K, S, NV, RW: constants */
INLINE void forward_plane(const rgeom *g, const int K, const int S, const int NV, const int64_t RW,
                          const float *xb,
                          const float *w, float init, const float *scale, const float *shift, bool relu, float *z) {
    __m256 wv[RW_MAX_K * RW_MAX_K];
    for (int t = 0; t < K * K; t++) wv[t] = _mm256_set1_ps(w[t]);
    for (int64_t oh = 0; oh < g->OH; oh++) {
        /* two sums (even and odd kernel rows) halve the chain of dependent FMAs */
        __m256 acc[2] = {_mm256_set1_ps(init), _mm256_set1_ps(init)}, odd[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                const float *src = xb + ((oh * S + kh) * S + kw % S) * RW + kw / S;
                for (int v = 0; v < NV; v++) {
                    __m256 *a = kh & 1 ? &odd[v] : &acc[v];
                    *a = _mm256_fmadd_ps(wv[kh * K + kw], _mm256_loadu_ps(src + 8 * v), *a);
                }
            }
        for (int v = 0; v < NV; v++) {
            acc[v] = _mm256_add_ps(acc[v], odd[v]);
            if (scale) acc[v] = _mm256_fmadd_ps(acc[v], _mm256_set1_ps(*scale), _mm256_set1_ps(*shift));
            if (relu) acc[v] = _mm256_max_ps(acc[v], _mm256_setzero_ps());
            _mm256_storeu_ps(z + oh * g->OW + 8 * v, acc[v]); /* lanes past the row: rewritten by the next */
        }
    }
}

/* dyb (zeroed once) <- one output-gradient plane, at row RW_DY_PAD + oh, slot RW_DY_PAD + ow */
INLINE void fill_dy(const rgeom *g, const int NV, const int64_t RW, const float *dyo, float *dyb) {
    fill_plane(1, NV, RW, dyo, g->OH, g->OW, g->fast_out, RW_DY_PAD, RW_DY_PAD, g->OH, dyb);
}

/* z = the data gradient of one input plane from dyb (rows stored whole; add_plane adds z into dx) */
INLINE void data_plane(const rgeom *g, const int K, const int S, const int NV, const int64_t RW,
                       const float *dyb, const float *w, float *z) {
    __m256 wv[RW_MAX_K * RW_MAX_K];
    for (int t = 0; t < K * K; t++) wv[t] = _mm256_set1_ps(w[t]);
    for (int64_t ih = 0; ih < g->H; ih++) {
        __m256 acc[2][2]; /* [phase][vector] */
        acc[1][0] = acc[1][1] = _mm256_setzero_ps();
        for (int f = 0; f < S; f++) {
            acc[f][0] = acc[f][1] = _mm256_setzero_ps();
            for (int kh = 0; kh < K; kh++) {
                int64_t dr = ih + g->pt - kh;
                if (dr & (S - 1)) continue;
                const float *row = dyb + ((dr + S * RW_DY_PAD) / S) * RW + RW_DY_PAD;
                for (int kw = 0; kw < K; kw++) {
                    int64_t dc = f + g->pl - kw;
                    if (dc & (S - 1)) continue;
                    const float *src = row + (dc + S * RW_DY_PAD) / S - RW_DY_PAD;
                    for (int v = 0; v < NV; v++) { /* stride 1: the unused phase sums the odd kernel rows */
                        __m256 *a = S == 1 && (kh & 1) ? &acc[1][v] : &acc[f][v];
                        *a = _mm256_fmadd_ps(wv[kh * K + kw], _mm256_loadu_ps(src + 8 * v), *a);
                    }
                }
            }
        }
        __m256 cols[4] = {_mm256_add_ps(acc[0][0], acc[1][0]), _mm256_add_ps(acc[0][1], acc[1][1])}; /* 8c .. 8c + 7 */
        int nc = S * NV;
        if (S == 2)
            for (int v = 0; v < NV; v++) {
                __m256 lo = _mm256_unpacklo_ps(acc[0][v], acc[1][v]), hi = _mm256_unpackhi_ps(acc[0][v], acc[1][v]);
                cols[2 * v] = _mm256_permute2f128_ps(lo, hi, 0x20), cols[2 * v + 1] = _mm256_permute2f128_ps(lo, hi, 0x31);
            }
        for (int c = 0; c < nc && 8 * c < g->W; c++) _mm256_storeu_ps(z + ih * g->W + 8 * c, cols[c]);
    }
}

/* The passes compute a plane into a buffer z and move it out one plane later (its stores have left the store queue
 * by then): adding rows straight into dx overlapped each row's load with the previous row's store (2x slower on
 * 7x7 planes), and a last partial vector read back what the row before had just written. */
/* y[0, n) = z[0, n): the 8 floats ending at n first, then whole vectors */
INLINE void copy_plane(float *y, const float *z, int64_t n) {
    if (n < 8) {
        for (int64_t k = 0; k < n; k++) y[k] = z[k];
        return;
    }
    _mm256_storeu_ps(y + n - 8, _mm256_loadu_ps(z + n - 8));
    for (int64_t k = 0; k + 8 <= n; k += 8) _mm256_storeu_ps(y + k, _mm256_loadu_ps(z + k));
}

/* dx[0, n) += z[0, n): the partial last vector first (as the 8 floats ending at n, adding only its own lanes),
 * then whole vectors */
INLINE void add_plane(float *dx, const float *z, int64_t n) {
    if (n < 8) {
        for (int64_t k = 0; k < n; k++) dx[k] += z[k];
        return;
    }
    if (n % 8) {
        __m256 old = _mm256_loadu_ps(dx + n - 8), mine = _mm256_castsi256_ps(first_lanes(8 - n % 8));
        _mm256_storeu_ps(dx + n - 8, _mm256_blendv_ps(_mm256_add_ps(old, _mm256_loadu_ps(z + n - 8)), old, mine));
    }
    for (int64_t k = 0; k + 8 <= n; k += 8)
        _mm256_storeu_ps(dx + k, _mm256_add_ps(_mm256_loadu_ps(dx + k), _mm256_loadu_ps(z + k)));
}

/* s[t] += sum over the plane of dy * the tap's shifted input; sb += sum of dy */
INLINE void weight_plane(const rgeom *g, const int K, const int S, const int NV, const int64_t RW,
                         const float *xb,
                         const float *dyo, __m256 *s, __m256 *sb) {
    int64_t fast = g->fast_out;
    __m256 mask[2] = {_mm256_castsi256_ps(first_lanes(g->OW)), _mm256_castsi256_ps(first_lanes(g->OW - 8))};
    for (int64_t oh = 0; oh < g->OH; oh++) {
        __m256 d[2];
        for (int v = 0; v < NV; v++) {
            d[v] = plane_row(dyo + oh * g->OW, v, g->OW, mask[v], oh < fast, dyo, dyo + g->OH * g->OW);
            *sb = _mm256_add_ps(*sb, d[v]);
        }
        for (int kh = 0; kh < K; kh++)
            for (int kw = 0; kw < K; kw++) {
                const float *src = xb + ((oh * S + kh) * S + kw % S) * RW + kw / S;
                for (int v = 0; v < NV; v++)
                    s[kh * K + kw] = _mm256_fmadd_ps(d[v], _mm256_loadu_ps(src + 8 * v), s[kh * K + kw]);
            }
    }
}


/* What the passes read and write; planes are (sample, channel), C channels. */
typedef struct {
    const float *x, *w, *b, *dy;
    const cn_conv_epilogue *e;
    float *y, *dx, *dw, *db;
    int64_t C, batch;
    bool set_dx; /* the data gradient sets dx (p->dx_fresh) instead of adding */
} rows_job;

/* Each pass runs over a range of planes (channels for the weight gradient) with two plane buffers: the next plane
 * is copied in while the current one is read, so no load waits on a store of its own copy still in flight. */
#define ROWS_PASSES(name, K, S, NV, RW)                                                                 \
    AVX2 static void name##_forward(const rgeom *g, const rows_job *j, int64_t lo, int64_t hi, float *buf[4]) {  \
        int64_t in_plane = g->H * g->W, out_plane = g->OH * g->OW;                                              \
        for (int64_t i = lo, c = lo % j->C; i < hi; i++, c = c + 1 == j->C ? 0 : c + 1) {                       \
            if (i == lo) fill_input(g, S, NV, RW, j->x + i * in_plane, buf[0]);                                    \
            if (i + 1 < hi) fill_input(g, S, NV, RW, j->x + (i + 1) * in_plane, buf[(i + 1 - lo) & 1]);       \
            forward_plane(g, K, S, NV, RW, buf[(i - lo) & 1], j->w + c * K * K,                            \
                          j->e || !j->b ? 0.0f : j->b[c], j->e ? j->e->scale + c : NULL,                       \
                          j->e ? j->e->shift + c : NULL, j->e && j->e->relu, buf[2 + ((i - lo) & 1)]);          \
            if (i > lo) copy_plane(j->y + (i - 1) * out_plane, buf[2 + ((i - 1 - lo) & 1)], out_plane);          \
        }                                                                                                       \
        copy_plane(j->y + (hi - 1) * out_plane, buf[2 + ((hi - 1 - lo) & 1)], out_plane);                       \
    }                                                                                                           \
    AVX2 static void name##_data(const rgeom *g, const rows_job *j, int64_t lo, int64_t hi, float *buf[4]) {     \
        int64_t in_plane = g->H * g->W, out_plane = g->OH * g->OW;                                              \
        for (int64_t i = lo, c = lo % j->C; i < hi; i++, c = c + 1 == j->C ? 0 : c + 1) {                       \
            if (i == lo) fill_dy(g, NV, RW, j->dy + i * out_plane, buf[0]);                                        \
            if (i + 1 < hi) fill_dy(g, NV, RW, j->dy + (i + 1) * out_plane, buf[(i + 1 - lo) & 1]);                \
            data_plane(g, K, S, NV, RW, buf[(i - lo) & 1], j->w + c * K * K, buf[2 + ((i - lo) & 1)]);    \
            if (i > lo) add_plane(j->dx + (i - 1) * in_plane, buf[2 + ((i - 1 - lo) & 1)], in_plane);            \
        }                                                                                                       \
        add_plane(j->dx + (hi - 1) * in_plane, buf[2 + ((hi - 1 - lo) & 1)], in_plane);                         \
    }                                                                                                           \
    /* per channel: float sums over up to 8 samples, then double */                                            \
    AVX2 static void name##_weights(const rgeom *g, const rows_job *j, int64_t lo, int64_t hi, float *buf[4]) {  \
        int64_t in_plane = g->H * g->W, out_plane = g->OH * g->OW;                                              \
        for (int64_t c = lo; c < hi; c++) {                                                                     \
            double acc[RW_MAX_K * RW_MAX_K] = {0}, bias = 0;                                                    \
            __m256 s[RW_MAX_K * RW_MAX_K], sb = _mm256_setzero_ps();                                            \
            for (int t = 0; t < K * K; t++) s[t] = _mm256_setzero_ps();                                       \
            fill_input(g, S, NV, RW, j->x + c * in_plane, buf[0]);                                                 \
            for (int64_t n = 0; n < j->batch; n++) {                                                            \
                if (n + 3 < j->batch) { /* samples lie planes apart: the prefetchers do not follow (2.1 -> 1.3 ms, \
                                         * 512@14x14, batch 32, two threads) */                              \
                    prefetch_floats(j->x + ((n + 3) * j->C + c) * in_plane, in_plane);                          \
                    prefetch_floats(j->dy + ((n + 3) * j->C + c) * out_plane, out_plane);                        \
                }                                                                                               \
                if (n + 1 < j->batch)                                                                           \
                    fill_input(g, S, NV, RW, j->x + ((n + 1) * j->C + c) * in_plane, buf[(n + 1) & 1]);            \
                weight_plane(g, K, S, NV, RW, buf[n & 1], j->dy + (n * j->C + c) * out_plane, s, &sb);         \
                if (n % 8 == 7 || n + 1 == j->batch) {                                                          \
                    for (int t = 0; t < K * K; t++) acc[t] += (double)sum_lanes8(s[t]), s[t] = _mm256_setzero_ps();        \
                    bias += (double)sum_lanes8(sb), sb = _mm256_setzero_ps();                                                \
                }                                                                                               \
            }                                                                                                   \
            for (int t = 0; t < K * K; t++) j->dw[c * K * K + t] += (float)acc[t];                         \
            if (j->db) j->db[c] += (float)bias;                                                                 \
        }                                                                                                       \
    }

ROWS_PASSES(k3s1v1, 3, 1, 1, 16)
ROWS_PASSES(k3s1v2, 3, 1, 2, 24)
ROWS_PASSES(k3s2v1, 3, 2, 1, 16)
ROWS_PASSES(k3s2v2, 3, 2, 2, 24)
ROWS_PASSES(k5s1v1, 5, 1, 1, 16)
ROWS_PASSES(k5s1v2, 5, 1, 2, 24)
ROWS_PASSES(k5s2v1, 5, 2, 1, 16)
ROWS_PASSES(k5s2v2, 5, 2, 2, 24)

/* ---- 3x3, stride 1, padding 1 on planes 4 to 8 columns wide (MobileNet's 7x7): no copies. Each input row is
 * loaded once as three vectors, its columns shifted by -1, 0 and +1 (plain loads from the plane as it lies, the
 * lane that falls on the padding zeroed by a mask; lanes past the row read its neighbour and compute nothing
 * that is kept), and goes into the three output rows it touches. Output rows are stored whole in order, each
 * store's lanes past the row rewritten by the next; the last row is stored as the 8 floats ending at the plane's
 * end (its lanes behind the tail of the row before), so nothing is written outside the plane. Loads reach one
 * float before the plane and 9 - W after it: the first and the last plane of the tensor are read from a padded
 * copy. Against the copies (batch 32, Zen 3, medians of 10 interleaved runs): 1024@7x7 0.75 -> 0.34 ms on two
 * threads, 1.22 -> 0.59 on one; 512@14x14 -> 7x7 0.50 -> 0.33 on two, 0.89 -> 0.75 on one. */

/* every lane but lane 0 (the column left of a row's first: padding) */
INLINE __m256 past_first_lane(void) {
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_setzero_si256()));
}

INLINE __m256 finish_row(__m256 acc, const float *scale, const float *shift, bool relu) {
    if (scale) acc = _mm256_fmadd_ps(acc, _mm256_set1_ps(*scale), _mm256_set1_ps(*shift));
    if (relu) acc = _mm256_max_ps(acc, _mm256_setzero_ps());
    return acc;
}

/* Row r >= 1 of a plane with rows of OW (4 to 8) columns as the 8 floats ending at the row's end: lanes
 * [8 - OW, 8) the row, the lanes below the tail of row r - 1 (`above`) */
INLINE __m256 row_ending(__m256 row, __m256 above, int64_t OW) {
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i from_row = _mm256_sub_epi32(lane, _mm256_set1_epi32((int)(8 - OW)));
    __m256i from_above = _mm256_add_epi32(lane, _mm256_set1_epi32((int)(2 * OW - 8)));
    return _mm256_blendv_ps(_mm256_permutevar8x32_ps(row, from_row), _mm256_permutevar8x32_ps(above, from_above),
                            _mm256_castsi256_ps(first_lanes(8 - OW)));
}

/* The last output row (OH >= 2) stored as the 8 floats ending at the plane's end */
INLINE void store_last_row(float *y, int64_t OH, int64_t OW, __m256 row, __m256 above) {
    _mm256_storeu_ps(y + OH * OW - 8, row_ending(row, above, OW));
}

/* ADD (the data gradient: y += the correlation, no epilogue): row r >= 1 is added as the 8 floats ending at its
 * end (row_ending), loaded before row r - 1 is stored, so no load waits on a store it overlaps. */
INLINE void inplace_plane(const float *x, int64_t H, int64_t W, const float *w, float init, const float *scale,
                          const float *shift, bool relu, float *y, const bool ADD) {
    __m256 wv[9];
    for (int t = 0; t < 9; t++) wv[t] = _mm256_set1_ps(w[t]);
    const __m256 m0 = past_first_lane();
    const __m256 m2 = _mm256_castsi256_ps(first_lanes(W - 1));
    const __m256 start = _mm256_set1_ps(init);
    __m256 above = start, here = start, last = start; /* output rows r - 1, r; the last one stored */
    __m256 old = _mm256_setzero_ps(), old_above = old;  /* ADD: y where rows r and r - 1 are added */
    for (int64_t r = 0; r < H; r++) {
        if (ADD) old = _mm256_loadu_ps(y + (r ? r * W + W - 8 : 0));
        const float *row = x + r * W;
        __m256 v0 = _mm256_and_ps(_mm256_loadu_ps(row - 1), m0), v1 = _mm256_loadu_ps(row);
        __m256 v2 = _mm256_and_ps(_mm256_loadu_ps(row + 1), m2);
        __m256 below = _mm256_fmadd_ps(wv[2], v2, _mm256_fmadd_ps(wv[1], v1, _mm256_fmadd_ps(wv[0], v0, start)));
        here = _mm256_fmadd_ps(wv[5], v2, _mm256_fmadd_ps(wv[4], v1, _mm256_fmadd_ps(wv[3], v0, here)));
        if (r > 0) {
            above = _mm256_fmadd_ps(wv[8], v2, _mm256_fmadd_ps(wv[7], v1, _mm256_fmadd_ps(wv[6], v0, above)));
            __m256 out = finish_row(above, scale, shift, relu);
            if (!ADD) _mm256_storeu_ps(y + (r - 1) * W, out);
            else if (r == 1) /* row 0 from y[0]: nothing added past it (a later row may load what it spills) */
                _mm256_storeu_ps(y, _mm256_add_ps(old_above, _mm256_and_ps(out, _mm256_castsi256_ps(first_lanes(W)))));
            else _mm256_storeu_ps(y + (r - 1) * W + W - 8, _mm256_add_ps(old_above, row_ending(out, last, W)));
            last = out;
        }
        above = here, here = below, old_above = old;
    }
    __m256 out = finish_row(above, scale, shift, relu); /* row H - 1 */
    if (!ADD) store_last_row(y, H, W, out, last);
    else _mm256_storeu_ps(y + H * W - 8, _mm256_add_ps(old_above, row_ending(out, last, W)));
}

/* Rows of 9 to 16 columns (stride 1): two passes over the rows, one per 8-column half, each as above with its own
 * masks (batch 32, two threads, 512@14x14: forward 0.95 -> 0.63 ms, forward+backward 5.0 -> 3.6 against the
 * plane copies). The second half (columns 8 to W - 1) goes first, as the 8 floats ending at each row's end (ADD: lanes
 * of the first half add nothing); the first half then stores (or adds) its 8 floats from the row's start over
 * them. Loads reach 17 - W floats past the plane. */
INLINE void inplace_half(const float *x, int64_t H, int64_t W, const int k, const __m256 *wv, float init,
                         const float *scale, const float *shift, bool relu, float *y, const bool ADD) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 m0 = k ? _mm256_castsi256_ps(_mm256_set1_epi32(-1)) : past_first_lane();
    const __m256 m2 = _mm256_castsi256_ps(first_lanes(W - 1 - 8 * k));
    const __m256i to_end = _mm256_sub_epi32(lane, _mm256_set1_epi32((int)(16 - W))); /* k = 1: lane l - (16 - W) */
    const __m256 own = _mm256_castsi256_ps(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32((int)(15 - W))));
    const int64_t at = k ? W - 8 : 0; /* where each row's vector goes */
    const __m256 start = _mm256_set1_ps(init);
    __m256 above = start, here = start;
    for (int64_t r = 0; r <= H; r++) {
        __m256 below = start;
        if (r < H) {
            const float *row = x + r * W + 8 * k;
            __m256 v0 = _mm256_and_ps(_mm256_loadu_ps(row - 1), m0), v1 = _mm256_loadu_ps(row);
            __m256 v2 = _mm256_and_ps(_mm256_loadu_ps(row + 1), m2);
            below = _mm256_fmadd_ps(wv[2], v2, _mm256_fmadd_ps(wv[1], v1, _mm256_fmadd_ps(wv[0], v0, start)));
            here = _mm256_fmadd_ps(wv[5], v2, _mm256_fmadd_ps(wv[4], v1, _mm256_fmadd_ps(wv[3], v0, here)));
            if (r > 0)
                above = _mm256_fmadd_ps(wv[8], v2, _mm256_fmadd_ps(wv[7], v1, _mm256_fmadd_ps(wv[6], v0, above)));
        }
        if (r > 0) { /* row r - 1 is complete */
            __m256 out = finish_row(above, scale, shift, relu);
            if (k) out = _mm256_permutevar8x32_ps(out, to_end);
            float *dst = y + (r - 1) * W + at;
            if (ADD) out = _mm256_add_ps(_mm256_loadu_ps(dst), k ? _mm256_and_ps(out, own) : out);
            _mm256_storeu_ps(dst, out);
        }
        above = here, here = below;
    }
}

INLINE void inplace_plane2(const float *x, int64_t H, int64_t W, const float *w, float init, const float *scale,
                           const float *shift, bool relu, float *y, const bool ADD) {
    __m256 wv[9];
    for (int t = 0; t < 9; t++) wv[t] = _mm256_set1_ps(w[t]);
    inplace_half(x, H, W, 1, wv, init, scale, shift, relu, y, ADD);
    inplace_half(x, H, W, 0, wv, init, scale, shift, relu, y, ADD);
}

/* Stride 2 (W even, 10 to 16 columns, OW = W / 2, OH = H / 2; MobileNet's 14x14 -> 7x7): an input row's 16
 * floats split into even and odd columns (taps 1 and 2), the odd ones moved up a lane for tap 0; the odd input
 * row 2 oh + 1 serves output rows oh (kernel row 2) and oh + 1 (kernel row 0). Loads reach 16 - W floats past
 * the plane. */
INLINE void inplace_plane_s2(const float *x, int64_t OH, int64_t W, const float *w, float init, const float *scale,
                             const float *shift, bool relu, float *y) {
    __m256 wv[9];
    for (int t = 0; t < 9; t++) wv[t] = _mm256_set1_ps(w[t]);
    const __m256 m0 = past_first_lane();
    const __m256i up = _mm256_setr_epi32(0, 0, 1, 2, 3, 4, 5, 6);
    const int64_t OW = W / 2;
    __m256 next = _mm256_set1_ps(init), last = next;
    for (int64_t oh = 0; oh < OH; oh++) {
        __m256 acc = next;
        for (int k = 1; k <= 2; k++) { /* input rows 2 oh (kernel row 1) and 2 oh + 1 (kernel row 2) */
            const float *row = x + (2 * oh + k - 1) * W;
            __m256 lo = _mm256_loadu_ps(row), hi = _mm256_loadu_ps(row + 8);
            __m256 e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
            __m256 o = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
            __m256 o0 = _mm256_and_ps(_mm256_permutevar8x32_ps(o, up), m0);
            acc = _mm256_fmadd_ps(wv[3 * k + 2], o,
                                  _mm256_fmadd_ps(wv[3 * k + 1], e, _mm256_fmadd_ps(wv[3 * k], o0, acc)));
            if (k == 2)
                next = _mm256_fmadd_ps(wv[2], o,
                                       _mm256_fmadd_ps(wv[1], e, _mm256_fmadd_ps(wv[0], o0, _mm256_set1_ps(init))));
        }
        __m256 out = finish_row(acc, scale, shift, relu);
        if (oh + 1 < OH) _mm256_storeu_ps(y + oh * OW, out), last = out;
        else store_last_row(y, OH, OW, out, last);
    }
}

AVX2 static void k3_inplace_forward(const rgeom *g, const rows_job *j, int64_t lo, int64_t hi, float *buf[4]) {
    int64_t plane = g->H * g->W, out_plane = g->OH * g->OW, total = j->batch * j->C;
    float *pad = buf[0]; /* the first and last planes: one zero before, 16 after */
    for (int64_t i = lo, c = lo % j->C; i < hi; i++, c = c + 1 == j->C ? 0 : c + 1) {
        const float *xin = j->x + i * plane;
        if (i == 0 || i == total - 1) {
            memset(pad, 0, (size_t)(plane + 17) * sizeof(float));
            memcpy(pad + 1, xin, (size_t)plane * sizeof(float));
            xin = pad + 1;
        }
        const float *w = j->w + c * 9, *scale = j->e ? j->e->scale + c : NULL, *shift = j->e ? j->e->shift + c : NULL;
        float init = j->e || !j->b ? 0.0f : j->b[c];
        bool relu = j->e && j->e->relu;
        float *y = j->y + i * out_plane;
        if (g->s == 1 && g->W > 8) inplace_plane2(xin, g->H, g->W, w, init, scale, shift, relu, y, false);
        else if (g->s == 1) inplace_plane(xin, g->H, g->W, w, init, scale, shift, relu, y, false);
        else inplace_plane_s2(xin, g->OH, g->W, w, init, scale, shift, relu, y);
    }
}

/* The data gradient of stride 2 (3x3, padding 1, W even, 10 to 32 columns, OW = W / 2, H = 2 OH): dy row oh
 * feeds dx rows 2 oh - 1 (kernel row 0), 2 oh (row 1) and 2 oh + 1 (row 2); within a dx row the even columns 2m
 * take tap 1 of dy column m, the odd ones 2m + 1 taps 0 and 2 of dy columns m + 1 and m. A dy row is one or two
 * vectors (NV), a dx row their even and odd lanes interleaved: whole vectors from the row's start and, when W is
 * not a multiple of 8, the 8 floats ending at its end, stored first (the lanes it shares with the last whole
 * vector are then stored over by that vector's own sum); every vector of the row is loaded before any is stored.
 * Loads reach 9 - OW % 8 floats past the dy plane. */
INLINE void add_row_s2(float *dst, int64_t W, const int NV, const __m256 *even, const __m256 *odd, __m256i up,
                       const bool ADD) {
    __m256 v[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()}, a[4];
    for (int k = 0; k < NV; k++) {
        __m256 lo = _mm256_unpacklo_ps(even[k], odd[k]), hi = _mm256_unpackhi_ps(even[k], odd[k]);
        v[2 * k] = _mm256_permute2f128_ps(lo, hi, 0x20), v[2 * k + 1] = _mm256_permute2f128_ps(lo, hi, 0x31);
    }
    const int64_t full = W / 8;
    for (int k = 0; ADD && k < full; k++) a[k] = _mm256_loadu_ps(dst + 8 * k);
    if (W % 8) {
        __m256 tail = _mm256_permutevar8x32_ps(v[full], up); /* its lanes below W % 8: stored over next */
        _mm256_storeu_ps(dst + W - 8, ADD ? _mm256_add_ps(_mm256_loadu_ps(dst + W - 8), tail) : tail);
    }
    for (int k = 0; k < full; k++) _mm256_storeu_ps(dst + 8 * k, ADD ? _mm256_add_ps(a[k], v[k]) : v[k]);
}

INLINE void inplace_data_s2(const float *dy, int64_t OH, int64_t W, const int NV, const float *w, float *dx,
                            const bool ADD) {
    __m256 wv[9];
    for (int t = 0; t < 9; t++) wv[t] = _mm256_set1_ps(w[t]);
    const int64_t OW = W / 2;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 shifted[2]; /* dy column m + 1: zero past the row */
    for (int k = 0; k < NV; k++) shifted[k] = _mm256_castsi256_ps(first_lanes(OW - 1 - 8 * k));
    const __m256i up = _mm256_sub_epi32(lane, _mm256_set1_epi32((int)(8 - W % 8)));
    /* dx row 2 oh - 1, kernel row 2's part */
    __m256 ce[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()}, co[2] = {ce[0], ce[0]};
    for (int64_t oh = 0; oh < OH; oh++) {
        __m256 d[2], ds[2], e[2], o[2];
        for (int k = 0; k < NV; k++)
            d[k] = _mm256_loadu_ps(dy + oh * OW + 8 * k),
            ds[k] = _mm256_and_ps(_mm256_loadu_ps(dy + oh * OW + 1 + 8 * k), shifted[k]);
        if (oh > 0) {
            for (int k = 0; k < NV; k++)
                e[k] = _mm256_fmadd_ps(wv[1], d[k], ce[k]),
                o[k] = _mm256_fmadd_ps(wv[2], d[k], _mm256_fmadd_ps(wv[0], ds[k], co[k]));
            add_row_s2(dx + (2 * oh - 1) * W, W, NV, e, o, up, ADD);
        }
        for (int k = 0; k < NV; k++)
            e[k] = _mm256_mul_ps(wv[4], d[k]), o[k] = _mm256_fmadd_ps(wv[5], d[k], _mm256_mul_ps(wv[3], ds[k]));
        add_row_s2(dx + 2 * oh * W, W, NV, e, o, up, ADD);
        for (int k = 0; k < NV; k++)
            ce[k] = _mm256_mul_ps(wv[7], d[k]), co[k] = _mm256_fmadd_ps(wv[8], d[k], _mm256_mul_ps(wv[6], ds[k]));
    }
    add_row_s2(dx + (2 * OH - 1) * W, W, NV, ce, co, up, ADD);
}

/* Against the copies (batch 32, Zen 3, two threads, medians of 10 interleaved runs), forward+backward ms:
 * 512@14x14 -> 7x7 2.89 -> 1.91 (data gradient 1.5-1.6 -> 0.3-0.5), 1024@7x7 2.22 -> 1.92. */
AVX2 static void k3_inplace_data(const rgeom *g, const rows_job *j, int64_t lo, int64_t hi, float *buf[4]) {
    int64_t plane = g->H * g->W, out_plane = g->OH * g->OW, total = j->batch * j->C;
    float *pad = buf[0]; /* the first and last dy planes: one zero before, 16 after */
    for (int64_t i = lo, c = lo % j->C; i < hi; i++, c = c + 1 == j->C ? 0 : c + 1) {
        const float *dyin = j->dy + i * out_plane, *w = j->w + c * 9;
        if (i == 0 || i == total - 1) {
            memset(pad, 0, (size_t)(out_plane + 17) * sizeof(float));
            memcpy(pad + 1, dyin, (size_t)out_plane * sizeof(float));
            dyin = pad + 1;
        }
        float *dx = j->dx + i * plane;
        if (g->s == 2) { /* NV and ADD as constants */
            if (g->OW > 8 && j->set_dx) inplace_data_s2(dyin, g->OH, g->W, 2, w, dx, false);
            else if (g->OW > 8) inplace_data_s2(dyin, g->OH, g->W, 2, w, dx, true);
            else if (j->set_dx) inplace_data_s2(dyin, g->OH, g->W, 1, w, dx, false);
            else inplace_data_s2(dyin, g->OH, g->W, 1, w, dx, true);
            continue;
        }
        float flipped[9]; /* stride 1: the forward's correlation with the kernel turned by 180 degrees */
        for (int t = 0; t < 9; t++) flipped[t] = w[8 - t];
        if (g->W > 8 && j->set_dx) inplace_plane2(dyin, g->H, g->W, flipped, 0.0f, NULL, NULL, false, dx, false);
        else if (g->W > 8) inplace_plane2(dyin, g->H, g->W, flipped, 0.0f, NULL, NULL, false, dx, true);
        else if (j->set_dx) inplace_plane(dyin, g->H, g->W, flipped, 0.0f, NULL, NULL, false, dx, false);
        else inplace_plane(dyin, g->H, g->W, flipped, 0.0f, NULL, NULL, false, dx, true);
    }
}

typedef void (*rows_pass)(const rgeom *, const rows_job *, int64_t, int64_t, float *[4]);
typedef struct {
    rows_pass forward, data, weights;
} rows_fns;

static rows_fns rows_functions(const rgeom *g) {
    static const rows_fns fns[2][2][2] = { /* [5x5][stride 2][two vectors] */
        {{{k3s1v1_forward, k3s1v1_data, k3s1v1_weights}, {k3s1v2_forward, k3s1v2_data, k3s1v2_weights}},
         {{k3s2v1_forward, k3s2v1_data, k3s2v1_weights}, {k3s2v2_forward, k3s2v2_data, k3s2v2_weights}}},
        {{{k5s1v1_forward, k5s1v1_data, k5s1v1_weights}, {k5s1v2_forward, k5s1v2_data, k5s1v2_weights}},
         {{k5s2v1_forward, k5s2v1_data, k5s2v1_weights}, {k5s2v2_forward, k5s2v2_data, k5s2v2_weights}}}};
    return fns[g->kh == 5][g->s == 2][g->nv == 2];
}

/* items split over the threads in contiguous ranges (as schedule(static) would); buffers of `floats` zeroed once */
static void run_pass(const cn_conv_geom *p, const rgeom *g, rows_pass pass, const rows_job *j, int64_t items,
                     int64_t floats) {
    int team = p->threads > 1 ? p->threads : 1;
#pragma omp parallel num_threads(team) if (team > 1)
    {
        _Alignas(32) float b0[RW_MAX_FLOATS], b1[RW_MAX_FLOATS], z0[RW_MAX_PLANE], z1[RW_MAX_PLANE];
        memset(b0, 0, (size_t)floats * sizeof(float)), memset(b1, 0, (size_t)floats * sizeof(float));
        float *buf[4] = {b0, b1, z0, z1}; /* two plane copies; the data gradient's two output planes */
        int nt = omp_get_num_threads(), t = omp_get_thread_num();
        int64_t per = items / nt, extra = items % nt;
        int64_t lo = t * per + (t < extra ? t : extra), hi = lo + per + (t < extra);
        if (lo < hi) pass(g, j, lo, hi, buf);
    }
}

void cn_conv_forward_depthwise_rows(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                                    cn_real *y) {
    rgeom g = rgeom_of(p);
    rows_job j = {.x = x, .w = w, .b = b, .e = p->epilogue, .y = y, .C = p->out_channels, .batch = p->batch};
    if (inplace_applies(&g, false)) {
        run_pass(p, &g, k3_inplace_forward, &j, p->batch * p->out_channels, g.H * g.W + 17);
        return;
    }
    run_pass(p, &g, rows_functions(&g).forward, &j, p->batch * p->out_channels, g.prow * g.s * g.rw);
}

void cn_conv_backward_data_depthwise_rows(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx) {
    rgeom g = rgeom_of(p);
    rows_job j = {.dy = dy, .w = w, .dx = dx, .C = p->in_channels, .batch = p->batch, .set_dx = p->dx_fresh};
    if (inplace_applies(&g, true)) {
        run_pass(p, &g, k3_inplace_data, &j, p->batch * p->in_channels, g.OH * g.OW + 17);
        return;
    }
    run_pass(p, &g, rows_functions(&g).data, &j, p->batch * p->in_channels, (g.OH + 2 * RW_DY_PAD) * g.rw);
}

void cn_conv_backward_weights_depthwise_rows(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                             cn_real *db) {
    rgeom g = rgeom_of(p);
    rows_job j = {.x = x, .dy = dy, .dw = dw, .db = db, .C = p->in_channels, .batch = p->batch};
    run_pass(p, &g, rows_functions(&g).weights, &j, p->in_channels, g.prow * g.s * g.rw);
}
#else
void cn_conv_forward_depthwise_rows(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                                    cn_real *y) {
    (void)p, (void)x, (void)w, (void)b, (void)y;
}
void cn_conv_backward_data_depthwise_rows(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx) {
    (void)p, (void)dy, (void)w, (void)dx;
}
void cn_conv_backward_weights_depthwise_rows(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                             cn_real *db) {
    (void)p, (void)x, (void)dy, (void)dw, (void)db;
}
#endif
