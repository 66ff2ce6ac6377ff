/* conv_first_wgrad.c — the weight (and bias) gradient of a 2D convolution with few input channels (a first
 * layer: LeNet's conv1, VGG's conv1_1, MobileNet's conv0) on AVX2:
 *   dw[o][c][kh][kw] = sum over samples and output positions of dy[o][oh][ow] * xpad[c][oh*sh + kh*dh][ow*sw + kw*dw]
 * (a stride through the input's column phases, fw_geom).
 * With one input channel a GEMM has depth C_in x taps = 25 (LeNet) and im2col copies every input value once per
 * tap; here each input plane is padded once per sample and dy is read in place. The register tile is KC output
 * channels x NT taps of one kernel row, 8 output positions per step: the KC dy vectors of a step are loaded once
 * and each tap's input vector (a shifted unaligned load of the padded row) meets all of them, KC*NT FMAs for
 * KC + NT loads (2 x 5 for 5x5 kernels, 3 x 3 for 3x3; a wider row in even groups of at most 6 taps). A row's
 * last 1-7 positions go as whole vectors with the lanes past the row zeroed, dy's and the input's (0 x 0 adds
 * nothing; the padded plane has 8 floats of slack, and dy's last row, which may end the tensor, is loaded
 * masked). Output rows go in bands of about 8 KB a channel, so that a block of channels' dy rows stays in L1
 * while every tap meets it. Each tile sums a band of
 * one sample in registers and adds it into per-thread sums in double; work items are (sample, input channel)
 * pairs in equal contiguous ranges per thread, whose sums are added in thread order at the end: the result
 * depends on the thread count, not on the run. */
#include "kernels/conv.h"
#include <omp.h>

enum { FW_NT_MAX = 6, FW_LANES = 8, FW_KC_MAX = 12 }; /* taps and channels a tile; lanes; channels a block */

/* the first-layer forward's layers (cn_conv_first_applies: AVX-512 or AVX2, <= 4 input channels, ...) */
bool cn_conv_first_wgrad_applies(const cn_conv_geom *p) {
    return cn_conv_first_applies(p) && p->kernel[1] * p->kernel[2] <= 256;
}

/* The padded plane is split by column phase (as the forward's rows, conv_first.c), so that a stride is an offset:
 *   xp[ph][r][j] = xpad[r][j*sw + ph]   (ph in [0, sw); PH rows of PW floats each phase)
 * and tap (kh, kw) of output (oh, ow) reads xp[(kw*dw) % sw][oh*sh + kh*dh][ow + (kw*dw) / sw]: consecutive
 * outputs of a row read consecutive floats at any stride. */
typedef struct {
    int64_t PH, PW;    /* a phase plane: rows (every tap's reach) and row stride (columns per phase) */
    int64_t pad_floats; /* floats of the sw phase planes */
    int64_t sums;       /* doubles of one thread's sums (C_out x C_in x taps x 8) */
} fw_geom;

static fw_geom fw_of(const cn_conv_geom *p) {
    fw_geom f;
    int64_t sw = p->stride[2];
    int64_t reach_h = (p->out[1] - 1) * p->stride[1] + (p->kernel[1] - 1) * p->dilation[1] + 1;
    int64_t reach_w = (p->out[2] - 1) * sw + (p->kernel[2] - 1) * p->dilation[2] + 1;
    f.PH = reach_h > p->in[1] + p->pad_begin[1] ? reach_h : p->in[1] + p->pad_begin[1];
    int64_t pw = reach_w > p->in[2] + p->pad_begin[2] ? reach_w : p->in[2] + p->pad_begin[2];
    f.PW = (pw + sw - 1) / sw;
    f.pad_floats = (sw * f.PH * f.PW + FW_LANES + 15) / 16 * 16; /* the tails' whole vectors read up to 8 past */
    f.sums = p->out_channels * p->in_channels * p->kernel[1] * p->kernel[2] * FW_LANES + p->out_channels;
    return f;
}

static size_t fw_thread_bytes(const fw_geom *f) {
    return (size_t)f->pad_floats * sizeof(float) + ((size_t)f->sums * sizeof(double) + 63) / 64 * 64;
}

size_t cn_conv_first_wgrad_bytes(const cn_conv_geom *p) {
    if (!cn_conv_first_wgrad_applies(p)) return 0;
    fw_geom f = fw_of(p);
    return fw_thread_bytes(&f) * (size_t)(p->threads > 1 ? p->threads : 1);
}

#ifndef CN_REAL_IS_DOUBLE
#include <immintrin.h>
#include "kernels/simd256.h"

/* thread k's padded plane and, after it, its sums */
static float *fw_plane(void *work, const fw_geom *f, int k) { return (float *)((char *)work + (size_t)k * fw_thread_bytes(f)); }
static double *fw_sums(void *work, const fw_geom *f, int k) { return (double *)(fw_plane(work, f, k) + f->pad_floats); }

/* KC output channels (dy planes at dy0 + k * plane) x NT taps (input offsets off[t] from the row start) over all
 * OH x OW positions of one sample (output row oh reading from xp + oh * PW on); the 8-lane sums are added into
 * sums[k * kstride + t * 8 + lane]. */
__attribute__((target("avx2,fma"), always_inline)) static inline void fw_tile(
    const int KC, const int NT, const float *dy0, int64_t plane, int64_t OH, int64_t OW, const float *xp,
    int64_t PW, const int64_t *off, double *sums, int64_t kstride) {
    __m256 acc[4][FW_NT_MAX];
    for (int k = 0; k < KC; k++)
        for (int t = 0; t < NT; t++) acc[k][t] = _mm256_setzero_ps();
    int64_t full = OW / FW_LANES * FW_LANES;
    __m256i tail = first_lanes(OW - full);
    /* the full steps of every row, then the rows' tails (one loop each: the accumulators stay in registers) */
    for (int64_t oh = 0; oh < OH; oh++) {
        const float *d = dy0 + oh * OW, *x = xp + oh * PW;
        for (int64_t j = 0; j < full; j += FW_LANES) {
            __m256 dv[4];
            for (int k = 0; k < KC; k++) dv[k] = _mm256_loadu_ps(d + k * plane + j);
            for (int t = 0; t < NT; t++) {
                __m256 xv = _mm256_loadu_ps(x + off[t] + j);
                __asm__("" : "+x"(xv)); /* one load a tap: GCC folded it into each channel's FMA, twice the loads
                                           (LeNet's conv1, one thread, batch 64: 2.0 -> 1.75 ms) */
                for (int k = 0; k < KC; k++) acc[k][t] = _mm256_fmadd_ps(dv[k], xv, acc[k][t]);
            }
        }
    }
    /* tails: whole vectors with the lanes past the row zeroed (x has 8 floats of slack past its last row; dy's
     * last row, which may end the tensor, is loaded masked) */
    __m256 keep = _mm256_castsi256_ps(tail);
    if (full < OW) { /* the last row apart: with its masked loads in the loop, GCC kept the accumulators on the
                      * stack (LeNet's 28-wide rows: a quarter of the steps) */
        for (int64_t oh = 0; oh + 1 < OH; oh++) {
            const float *d = dy0 + oh * OW + full, *x = xp + oh * PW + full;
            __m256 dv[4];
            for (int k = 0; k < KC; k++) dv[k] = _mm256_and_ps(_mm256_loadu_ps(d + k * plane), keep);
            for (int t = 0; t < NT; t++) {
                __m256 xv = _mm256_and_ps(_mm256_loadu_ps(x + off[t]), keep);
                for (int k = 0; k < KC; k++) acc[k][t] = _mm256_fmadd_ps(dv[k], xv, acc[k][t]);
            }
        }
        const float *d = dy0 + (OH - 1) * OW + full, *x = xp + (OH - 1) * PW + full;
        __m256 dv[4];
        for (int k = 0; k < KC; k++) dv[k] = _mm256_maskload_ps(d + k * plane, tail);
        for (int t = 0; t < NT; t++) {
            __m256 xv = _mm256_and_ps(_mm256_loadu_ps(x + off[t]), keep);
            for (int k = 0; k < KC; k++) acc[k][t] = _mm256_fmadd_ps(dv[k], xv, acc[k][t]);
        }
    }
    for (int k = 0; k < KC; k++)
        for (int t = 0; t < NT; t++) {
            double *s = sums + k * kstride + t * FW_LANES;
            __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(acc[k][t]));
            __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(acc[k][t], 1));
            _mm256_storeu_pd(s, _mm256_add_pd(_mm256_loadu_pd(s), lo));
            _mm256_storeu_pd(s + 4, _mm256_add_pd(_mm256_loadu_pd(s + 4), hi));
        }
}

#define FW_CASE(KC, NT)                                                                                        \
    if (kc == KC && nt == NT) {                                                                                \
        fw_tile(KC, NT, dy0, plane, OH, OW, xp, PW, off, sums, kstride);                                       \
        return;                                                                                                \
    }
/* the register tile for kc channels and nt taps: every pair fw_channels allows (kc up to its count) */
__attribute__((target("avx2,fma"))) static void fw_run(int kc, int nt, const float *dy0, int64_t plane, int64_t OH,
                                                      int64_t OW, const float *xp, int64_t PW, const int64_t *off,
                                                      double *sums, int64_t kstride) {
    FW_CASE(2, 6) FW_CASE(2, 5) FW_CASE(2, 4) FW_CASE(3, 3) FW_CASE(3, 2) FW_CASE(3, 1) FW_CASE(4, 2) FW_CASE(4, 1)
    FW_CASE(1, 6) FW_CASE(1, 5) FW_CASE(1, 4) FW_CASE(1, 3) FW_CASE(1, 2) FW_CASE(1, 1)
    FW_CASE(2, 3) FW_CASE(2, 2) FW_CASE(2, 1)
}
#undef FW_CASE

/* sum of n floats: 8 lanes in float, the lanes added in double */
__attribute__((target("avx2,fma"))) static double fw_sum(const float *d, int64_t n) {
    __m256 acc = _mm256_setzero_ps();
    int64_t q = 0;
    for (; q + FW_LANES <= n; q += FW_LANES) acc = _mm256_add_ps(acc, _mm256_loadu_ps(d + q));
    acc = _mm256_add_ps(acc, _mm256_maskload_ps(d + q, first_lanes(n - q)));
    float l[FW_LANES];
    _mm256_storeu_ps(l, acc);
    double s = 0;
    for (int i = 0; i < FW_LANES; i++) s += l[i];
    return s;
}

/* channels per tile for a group of nt taps: 2 for 4-6 taps, 3 for 3, 4 for 1-2 */
static int fw_channels(int nt) { return nt >= 4 ? 2 : nt == 3 ? 3 : 4; }

void cn_conv_backward_weights_first(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                    cn_real *db, void *work) {
    fw_geom f = fw_of(p);
    int64_t C = p->in_channels, Co = p->out_channels, IH = p->in[1], IW = p->in[2], OH = p->out[1], OW = p->out[2];
    int64_t KH = p->kernel[1], KW = p->kernel[2], taps = KH * KW, plane = OH * OW, items = p->batch * C;
    int64_t kstride = C * taps * FW_LANES; /* one output channel's sums */
    int64_t sh = p->stride[1], sw = p->stride[2], pt = p->pad_begin[1], pl = p->pad_begin[2];
    int64_t xrow = sh * f.PW; /* from one output row's inputs to the next's */
    /* output rows of about 8 KB a channel, divided by the row stride (a strided band's taps read sh times as many
     * input rows: AlexNet's conv1, 11x11 stride 4, 155-167 -> 144 ms with bands of 9 rows, not 37) */
    int64_t band = OW * sh >= 2048 ? 1 : 2048 / (OW * sh);
    int threads = p->threads > 1 ? p->threads : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int th = omp_get_thread_num(), nth = omp_get_num_threads();
        float *xp = fw_plane(work, &f, th);
        double *sums = fw_sums(work, &f, th), *bsum = sums + Co * kstride;
        memset(xp, 0, (size_t)f.pad_floats * sizeof(float));
        memset(sums, 0, (size_t)f.sums * sizeof(double));
        for (int64_t it = items * th / nth; it < items * (th + 1) / nth; it++) {
            int64_t n = it / C, c = it % C;
            const float *xc = x + (n * C + c) * IH * IW, *dyn = dy + n * Co * plane;
            for (int64_t ih = 0; ih < IH; ih++) /* the padding around stays zero */
                cn_conv_split_phases(xp + (ih + pt) * f.PW, f.PH * f.PW, xc + ih * IW, pl, pl + IW, sw);
            /* bands of output rows; in each, a block of output channels meets every tap while its dy rows (about
             * 8 KB a channel) stay in L1 (VGG's 224x224 planes: whole-plane sweeps streamed dy from L3 for every
             * tap row) */
            for (int64_t r0 = 0; r0 < OH; r0 += band) {
                int64_t nr = OH - r0 < band ? OH - r0 : band;
                for (int64_t o0 = 0; o0 < Co; o0 += FW_KC_MAX)
                    for (int64_t kh = 0; kh < KH; kh++)
                        for (int64_t kw0 = 0, g = 0; kw0 < KW; g++) {
                            /* a kernel row in groups as even as they go (11: 6 + 5, 7: 4 + 3, not 5 + 5 + 1 and 5
                             * + 2: a group of 1-2 taps loads about a vector per FMA) */
                            int64_t groups = (KW + FW_NT_MAX - 1) / FW_NT_MAX, end = KW * (g + 1) / groups;
                            int nt = (int)(end - kw0), kcn = fw_channels(nt);
                            int64_t off[FW_NT_MAX];
                            for (int t = 0; t < nt; t++) {
                                int64_t col = (kw0 + t) * p->dilation[2];
                                off[t] = (col % sw * f.PH + kh * p->dilation[1]) * f.PW + col / sw;
                            }
                            for (int64_t o = o0; o < o0 + FW_KC_MAX && o < Co; o += kcn) {
                                int kc = (int)(Co - o < kcn ? Co - o : kcn);
                                fw_run(kc, nt, dyn + o * plane + r0 * OW, plane, nr, OW, xp + r0 * xrow, xrow, off,
                                       sums + o * kstride + (c * taps + kh * KW + kw0) * FW_LANES, kstride);
                            }
                            kw0 = end;
                        }
            }
            if (db && c == 0)
                for (int64_t o = 0; o < Co; o++) bsum[o] += fw_sum(dyn + o * plane, plane);
        }
#pragma omp barrier
        /* dw (and db) += the threads' sums, thread by thread, each over its 8 lanes */
#pragma omp for schedule(static)
        for (int64_t o = 0; o < Co; o++) {
            for (int64_t ct = 0; ct < C * taps; ct++) {
                double s = 0;
                for (int k = 0; k < nth; k++) {
                    const double *v = fw_sums(work, &f, k) + o * kstride + ct * FW_LANES;
                    for (int l = 0; l < FW_LANES; l++) s += v[l];
                }
                dw[o * C * taps + ct] += (cn_real)s;
            }
            if (db) {
                double s = 0;
                for (int k = 0; k < nth; k++) s += fw_sums(work, &f, k)[Co * kstride + o];
                db[o] += (cn_real)s;
            }
        }
    }
}
#else
void cn_conv_backward_weights_first(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                    cn_real *db, void *work) {
    (void)p, (void)x, (void)dy, (void)dw, (void)db, (void)work;
}
#endif
