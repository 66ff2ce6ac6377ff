/* conv_first.c — a direct forward kernel (AVX-512, AVX2+FMA) for first layers: 2D, groups 1, 1 to 4 input channels,
 * zero padding, any kernel, stride and dilation. im2col would unroll C_in x KH x KW rows per output position
 * for a GEMM with only C_out rows (AlexNet's conv1: 363 unrolled values for 64 x 2 flops each), so the
 * unrolling, not the arithmetic, would set the pace. Here each output row is computed from the input rows it
 * reads, split by column phase so that a stride is just an offset:
 *   R[c][kh][ph][j] = xpad[c][oh*sh + kh*dh][j*sw + ph]        (ph in [0, sw), zero outside the input)
 *   y[o][oh][ow]    = b[o] + sum_{c,kh,kw} w[o,c,kh,kw] * R[c][kh][(kw*dw) % sw][ow + (kw*dw) / sw]
 * 32 consecutive outputs of a row (two 16-lane vectors) times 8 output channels (broadcast weights) are 16
 * accumulators: per tap 2 loads of x and 8 broadcasts feed 16 FMAs. With AVX2 (16 registers) the tile is 16
 * outputs times 6 (or 5) output channels or 24 outputs times 4 channels, 10-12 accumulators (first_of,
 * row_block_avx2), the taps in one flat loop over a per-row table of where each tap's inputs start (the
 * nested channel, row and column loops of 3-5 trips each cost VGG conv1_1 and LeNet conv1 10-20 %). Work is split over
 * (sample, output row): results do not depend on the thread count.
 * AVX2 against im2col + GEMM, batch 32 (VGG: 8), 2 threads, AMD EPYC Zen 3 (best of 7 interleaved runs, forward):
 * ResNet-50 conv1 90.6 -> 49.5 ms (1.8x), AlexNet conv1 56.6 -> 45.8 ms (1.24x), VGG conv1_1 14.8 -> 11.7 ms
 * (1.27x), LeNet conv1 (batch 64) 0.82 -> 0.25 ms (3.2x). The backward passes stay with im2col + GEMM. */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include <omp.h>

#define OC_BLOCK 8
#define OW_BLOCK 32

/* The register tile: OC_BLOCK x OW_BLOCK with AVX-512; with AVX2 6 x 16, 5 x 16 or 4 x 24 (first_of). */
/* Outputs a row of `ow` computes in blocks of `block` (the last one in as few 8-lane vectors as it needs). */
static int64_t computed_outputs(int64_t ow, int64_t block) {
    int64_t rem = ow % block;
    return ow / block * block + (rem + 7) / 8 * 8;
}

typedef struct {
    int64_t oc_block, ow_block; /* the register tile: output channels x consecutive outputs of a row */
    int64_t pwb;      /* padded columns an output row reads: (OW-1)*sw + (KW-1)*dw + 1 */
    int64_t phase_w;  /* columns per phase, room for a whole last block:
                         ceil(OW/ow_block)*ow_block + (KW-1)*dw/sw + 1 */
    int64_t ring;     /* split input rows kept per channel: (KH-1)*dh + 1, the rows an output row spans */
    int64_t ring_floats;           /* the split rows of the ring (C x ring x sw x phase_w), then its tags */
    int64_t row_floats, wt_floats; /* row_floats: per thread, the ring and its tags (2 int64 per slot) */
    int64_t off[256]; /* where tap kw starts in a (c, kh) row of R, its phase row and column; computed once and
                         added to R's rows in each output row's tap table (two divisions a tap per tile cost
                         LeNet's conv1, 25 taps onto 16 x 5 outputs, about a tenth of its time) */
} first_geom;

static first_geom first_of(const cn_conv_geom *p) {
    first_geom f;
    bool v512 = strcmp(cn_kernels_isa(), "avx512") == 0;
    f.oc_block = v512 ? OC_BLOCK : 6, f.ow_block = v512 ? OW_BLOCK : 16;
    if (!v512) {
        /* AVX2: 4 x 24 on strided layers where it computes fewer outputs than 6 x 16. Batch 32 (VGG 8, LeNet
         * 64), two threads, alternated runs, 4 x 24 against 6 x 16: MobileNet conv0 (32 channels, stride 2: 11 %
         * fewer) 6.1 against 7.3 ms, ResNet-50 conv1 (64, stride 2: 3 % fewer) 43.0 against 44.5; but AlexNet
         * conv1 (96, stride 4: as many) 46.4 against 43.9, VGG conv1_1 (64, stride 1) 11.4 against 11.1 and
         * LeNet conv1 (20, stride 1: 17 % fewer) 0.59 against 0.55. 5 x 16 where it computes fewer channels
         * than 6 x 16 (the same outputs; 10 accumulators, 7 loads per 10 FMAs): LeNet conv1's 20 channels are 4
         * blocks of 5, not 24 channels in blocks of 6 (2026-12-07, batch 32, two threads, alternated runs, with
         * the flat tap loop below: 0.64 -> 0.53 ms); VGG conv1_1's 64 are 13 blocks of 5 (65, not 66) */
        int64_t k = p->out_channels, ow = p->out[2];
        int64_t w616 = (k + 5) / 6 * 6 * computed_outputs(ow, 16), w424 = (k + 3) / 4 * 4 * computed_outputs(ow, 24);
        int64_t w516 = (k + 4) / 5 * 5 * computed_outputs(ow, 16);
        if (p->stride[1] * p->stride[2] > 1 && w424 < w616 && w424 <= w516) f.oc_block = 4, f.ow_block = 24;
        else if (w516 < w616) f.oc_block = 5;
    }
    int64_t sw = p->stride[2];
    f.pwb = (p->out[2] - 1) * sw + (p->kernel[2] - 1) * p->dilation[2] + 1;
    f.phase_w = (p->out[2] + f.ow_block - 1) / f.ow_block * f.ow_block + (p->kernel[2] - 1) * p->dilation[2] / sw + 1;
    f.phase_w = (f.phase_w + 15) / 16 * 16;
    for (int64_t kw = 0; kw < p->kernel[2] && kw < 256; kw++)
        f.off[kw] = (kw * p->dilation[2] % sw) * f.phase_w + kw * p->dilation[2] / sw;
    f.ring = (p->kernel[1] - 1) * p->dilation[1] + 1;
    f.ring_floats = p->in_channels * f.ring * sw * f.phase_w;
    f.row_floats = (f.ring_floats + 4 * f.ring + 2 * p->in_channels * p->kernel[1] * p->kernel[2] + 15) / 16 * 16;
    int64_t oc_blocks = (p->out_channels + f.oc_block - 1) / f.oc_block;
    f.wt_floats = oc_blocks * p->in_channels * p->kernel[1] * p->kernel[2] * f.oc_block + oc_blocks * f.oc_block;
    return f;
}

bool cn_conv_first_applies(const cn_conv_geom *p) {
#ifdef CN_REAL_IS_DOUBLE
    (void)p;
    return false;
#else
    const char *isa = cn_kernels_isa();
    return (strcmp(isa, "avx512") == 0 || strcmp(isa, "avx2") == 0) && p->groups == 1 && p->in_channels <= 4 &&
           cn_conv_single_plane(p) && p->pad_mode == CN_PAD_ZEROS && p->kernel[1] <= 256 && p->kernel[2] <= 256;
#endif
}

/* Shared: the weights as [oc block][c][kh][kw][8] and the bias per block; per thread: the phase rows. */
size_t cn_conv_first_shared_bytes(const cn_conv_geom *p) {
    return cn_conv_first_applies(p) ? (size_t)((first_of(p).wt_floats + 15) / 16 * 16) * sizeof(cn_real) : 0;
}
size_t cn_conv_first_thread_bytes(const cn_conv_geom *p) {
    return cn_conv_first_applies(p) ? (size_t)first_of(p).row_floats * sizeof(cn_real) : 0;
}

#ifndef CN_REAL_IS_DOUBLE
#include <immintrin.h>
#include "kernels/simd256.h"
#define AVX512 __attribute__((target("avx512f")))

/* dst[j] = src[2j] for j in [0, n): 16 floats deinterleaved per step (both kernel sets have AVX2); the scalar
 * copy it replaces was 29 % of MobileNet's conv0 (3 -> 32, stride 2 on 224x224). Reads src[0, 2n - 1). */
__attribute__((target("avx2,fma"))) static void even_columns(float *dst, const float *src, int64_t n) {
    int64_t j = 0;
    for (; 2 * j + 16 <= 2 * n - 1; j += 8) {
        __m256 a = _mm256_loadu_ps(src + 2 * j), b = _mm256_loadu_ps(src + 2 * j + 8);
        _mm256_storeu_ps(dst + j, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                      _mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8)));
    }
    for (; j < n; j++) dst[j] = src[2 * j];
}

void cn_conv_split_phases(float *dst, int64_t phase_stride, const float *src, int64_t pl, int64_t hi, int64_t sw) {
    if (sw == 1) {
        if (hi > pl) memcpy(dst + pl, src, (size_t)(hi - pl) * sizeof(float));
        return;
    }
    for (int64_t ph = 0; ph < sw; ph++) { /* columns q = j*sw + ph in [pl, hi) */
        float *d = dst + ph * phase_stride;
        int64_t j = pl > ph ? (pl - ph + sw - 1) / sw : 0, q = j * sw + ph;
        if (sw == 2 && q < hi) {
            even_columns(d + j, src + q - pl, (hi - q + 1) / 2);
            continue;
        }
        for (; q < hi; q += sw, j++) d[j] = src[q - pl];
    }
}

/* The split input rows output row oh of sample n (planes x0) reads, in rowp[c * KH + kh]: input row ih, split
 * into sw phases, lives in slot ih mod ring of R (all C channels) and is split only when the slot holds another
 * row (tags: sample and row per slot, -1 at first). Consecutive output rows of a sample share KH - sh/dh of their
 * rows (MobileNet's conv0, 3x3 stride 2: one in three; ResNet-50's conv1, 7x7 stride 2: five in seven), which
 * are no longer split again. */
static void phase_rows(const cn_conv_geom *p, const first_geom *f, const float *x0, int64_t n, int64_t oh, float *R,
                       int64_t *tags, const float **rowp) {
    int64_t C = p->in_channels, KH = p->kernel[1], IH = p->in[1], IW = p->in[2], sw = p->stride[2];
    int64_t pl = p->pad_begin[2], ring = f->ring, row = sw * f->phase_w;
    for (int64_t kh = 0; kh < KH; kh++) {
        int64_t ih = oh * p->stride[1] + kh * p->dilation[1] - p->pad_begin[1];
        int64_t slot = (ih % ring + ring) % ring;
        for (int64_t c = 0; c < C; c++) rowp[c * KH + kh] = R + (c * ring + slot) * row;
        if (tags[2 * slot] == n && tags[2 * slot + 1] == ih) continue;
        tags[2 * slot] = n, tags[2 * slot + 1] = ih;
        for (int64_t c = 0; c < C; c++) {
            float *r = R + (c * ring + slot) * row;
            memset(r, 0, (size_t)row * sizeof(float));
            if (ih < 0 || ih >= IH) continue;
            /* the padded columns holding input, up to the last an output row reads */
            cn_conv_split_phases(r, f->phase_w, x0 + (c * IH + ih) * IW, pl, pl + IW < f->pwb ? pl + IW : f->pwb, sw);
        }
    }
}

AVX512 static void row_block(const cn_conv_geom *p, const float *const *T, const float *wt, const float *bias,
                             int64_t ow0, int64_t o0, int valid_oc, float *yrow, int64_t plane) {
    int64_t taps = p->in_channels * p->kernel[1] * p->kernel[2];
    __m512 acc[OC_BLOCK][2];
    for (int k = 0; k < OC_BLOCK; k++) acc[k][0] = acc[k][1] = _mm512_set1_ps(bias[k]);
    const float *wp = wt;
    for (int64_t t = 0; t < taps; t++, wp += OC_BLOCK) {
        const float *s = T[t] + ow0;
        __m512 x0 = _mm512_loadu_ps(s), x1 = _mm512_loadu_ps(s + 16);
#pragma GCC unroll 8
        for (int k = 0; k < OC_BLOCK; k++) {
            __m512 wv = _mm512_set1_ps(wp[k]);
            acc[k][0] = _mm512_fmadd_ps(wv, x0, acc[k][0]);
            acc[k][1] = _mm512_fmadd_ps(wv, x1, acc[k][1]);
        }
    }
    int64_t n = p->out[2] - ow0;
    __mmask16 m0 = n >= 16 ? 0xffff : (__mmask16)((1u << n) - 1);
    __mmask16 m1 = n >= 32 ? 0xffff : n <= 16 ? 0 : (__mmask16)((1u << (n - 16)) - 1);
#pragma GCC unroll 8
    for (int k = 0; k < OC_BLOCK; k++) {
        if (k >= valid_oc) break;
        float *dst = yrow + (o0 + k) * plane + ow0;
        _mm512_mask_storeu_ps(dst, m0, acc[k][0]);
        _mm512_mask_storeu_ps(dst + 16, m1, acc[k][1]);
    }
}

#define AVX2 __attribute__((target("avx2,fma")))

/* row_block with AVX2 (16 registers), two tiles of 12 accumulators:
 * - 4 output channels times 24 consecutive outputs (nv = 3 8-lane vectors): per tap nv loads of x and 4
 *   broadcasts feed 4 * nv FMAs; a row's last block runs with as few vectors as its outputs need (nv 1 or 2), so
 *   a row of 112 is 4 blocks of 24 and one of 16 and 32 channels are whole blocks, where 6 x 16 computes 36
 *   channels (MobileNet's conv0: 11 % more work);
 * - 6 output channels times 16 outputs (nv = 2): per tap 2 loads and 6 broadcasts feed 12 FMAs; a last block of
 *   at most 8 outputs runs with nv = 1 (AlexNet's 55 outputs: 56 computed). Faster per FMA where both compute
 *   as much (first_of); with 5 channels (ocb = 5: 10 accumulators) where blocks of 5 waste fewer (20, 64).
 * The accumulators are named variables, not an array: GCC stored an array's vectors back to the stack after
 * every FMA. A partial vector is stored lane by lane (the outputs past it belong to the next row, another
 * thread's item; a masked store costs about 15 cycles on Zen 3). `stream`: full vectors go around the caches
 * (an output bigger than the last-level cache: reading its lines in before overwriting them cost MobileNet's
 * conv0, 51 MB at batch 32, 16 %). */
/* One output channel's nv accumulator vectors to dst: the n outputs of the block, full vectors streamed when
 * asked, a last partial one lane by lane. */
static inline __attribute__((always_inline, target("avx2,fma"))) void store_outputs(float *dst, const __m256 *acc,
                                                                                  int nv, int64_t n, bool stream) {
    for (int v = 0; v < nv; v++) {
        if (n - 8 * v >= 8) {
            if (stream) _mm256_stream_ps(dst + 8 * v, acc[v]);
            else _mm256_storeu_ps(dst + 8 * v, acc[v]);
        } else store_lanes(dst + 8 * v, acc[v], n - 8 * v);
    }
}

static inline __attribute__((always_inline, target("avx2,fma"))) void row_block4x24(
    const int nv, const cn_conv_geom *p, const float *const *T, const float *wt, const float *bias,
    int64_t ow0, int64_t o0, int valid_oc, float *yrow, int64_t plane, bool stream) {
    int64_t taps = p->in_channels * p->kernel[1] * p->kernel[2];
#define ACC3(k) __m256 a##k##0 = _mm256_set1_ps(bias[k]), a##k##1 = a##k##0, a##k##2 = a##k##0
    ACC3(0); ACC3(1); ACC3(2); ACC3(3);
#undef ACC3
    const float *wp = wt;
    for (int64_t t = 0; t < taps; t++, wp += 4) {
        const float *s = T[t] + ow0;
        __m256 x0 = _mm256_loadu_ps(s), x1 = nv >= 2 ? _mm256_loadu_ps(s + 8) : x0;
        __m256 x2 = nv == 3 ? _mm256_loadu_ps(s + 16) : x0, wv;
#define FMA3(k)                                                     \
    wv = _mm256_broadcast_ss(wp + k);                               \
    a##k##0 = _mm256_fmadd_ps(wv, x0, a##k##0);                     \
    if (nv >= 2) a##k##1 = _mm256_fmadd_ps(wv, x1, a##k##1);        \
    if (nv == 3) a##k##2 = _mm256_fmadd_ps(wv, x2, a##k##2)
        FMA3(0); FMA3(1); FMA3(2); FMA3(3);
#undef FMA3
    }
    __m256 acc[4][3] = {{a00, a01, a02}, {a10, a11, a12}, {a20, a21, a22}, {a30, a31, a32}};
    int64_t n = p->out[2] - ow0; /* > 8 * (nv - 1) */
    for (int k = 0; k < 4 && k < valid_oc; k++) store_outputs(yrow + (o0 + k) * plane + ow0, acc[k], nv, n, stream);
}

static inline __attribute__((always_inline, target("avx2,fma"))) void row_block16(
    const int ocb, const int nv, const cn_conv_geom *p, const float *const *T, const float *wt, const float *bias,
    int64_t ow0, int64_t o0, int valid_oc, float *yrow, int64_t plane, bool stream) {
    int64_t taps = p->in_channels * p->kernel[1] * p->kernel[2];
#define ACC_PAIR(k) __m256 a##k##0 = _mm256_set1_ps(bias[k]), a##k##1 = a##k##0
    ACC_PAIR(0); ACC_PAIR(1); ACC_PAIR(2); ACC_PAIR(3); ACC_PAIR(4);
#undef ACC_PAIR
    __m256 a50 = _mm256_set1_ps(ocb == 6 ? bias[5] : 0.0f), a51 = a50; /* a 5 x 16 tile: unused */
    const float *wp = wt;
    for (int64_t t = 0; t < taps; t++, wp += ocb) {
        const float *s = T[t] + ow0;
        __m256 x0 = _mm256_loadu_ps(s), x1 = nv == 2 ? _mm256_loadu_ps(s + 8) : x0, wv;
#define FMA_PAIR(k)                                                 \
    wv = _mm256_broadcast_ss(wp + k);                               \
    a##k##0 = _mm256_fmadd_ps(wv, x0, a##k##0);                     \
    if (nv == 2) a##k##1 = _mm256_fmadd_ps(wv, x1, a##k##1)
        FMA_PAIR(0); FMA_PAIR(1); FMA_PAIR(2); FMA_PAIR(3); FMA_PAIR(4);
        if (ocb == 6) {
            FMA_PAIR(5);
        }
#undef FMA_PAIR
    }
    __m256 acc[6][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}, {a40, a41}, {a50, a51}};
    int64_t n = p->out[2] - ow0; /* > 8 when nv is 2 */
    for (int k = 0; k < ocb && k < valid_oc; k++) store_outputs(yrow + (o0 + k) * plane + ow0, acc[k], nv, n, stream);
}

AVX2 static void row_block_avx2(const cn_conv_geom *p, const first_geom *f, const float *const *T, const float *wt,
                                const float *bias, int64_t ow0, int64_t o0, int valid_oc, float *yrow, int64_t plane,
                                bool stream) {
    int64_t n = p->out[2] - ow0;
    if (f->oc_block == 6) {
        if (n > 8) row_block16(6, 2, p, T, wt, bias, ow0, o0, valid_oc, yrow, plane, stream);
        else row_block16(6, 1, p, T, wt, bias, ow0, o0, valid_oc, yrow, plane, stream);
    } else if (f->oc_block == 5) {
        if (n > 8) row_block16(5, 2, p, T, wt, bias, ow0, o0, valid_oc, yrow, plane, stream);
        else row_block16(5, 1, p, T, wt, bias, ow0, o0, valid_oc, yrow, plane, stream);
    } else if (n > 16) row_block4x24(3, p, T, wt, bias, ow0, o0, valid_oc, yrow, plane, stream);
    else if (n > 8) row_block4x24(2, p, T, wt, bias, ow0, o0, valid_oc, yrow, plane, stream);
    else row_block4x24(1, p, T, wt, bias, ow0, o0, valid_oc, yrow, plane, stream);
}

void cn_conv_forward_first(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b, cn_real *y,
                           void *work) {
    first_geom f = first_of(p);
    bool v512 = f.oc_block == OC_BLOCK;
    int64_t C = p->in_channels, K = p->out_channels, taps = C * p->kernel[1] * p->kernel[2], ocb = f.oc_block;
    int64_t blocks = (K + ocb - 1) / ocb, OH = p->out[1], OW = p->out[2];
    int64_t in_sample = C * p->in[1] * p->in[2], plane = OH * OW;
    float *wt = work, *bias = wt + blocks * taps * ocb;
    float *rows = (float *)((char *)work + cn_conv_first_shared_bytes(p));
    /* weights [block][tap][oc_block] (channels past K: zero) and bias [block][oc_block] */
    for (int64_t blk = 0; blk < blocks; blk++)
        for (int k = 0; k < ocb; k++) {
            int64_t o = blk * ocb + k;
            for (int64_t t = 0; t < taps; t++) wt[(blk * taps + t) * ocb + k] = o < K ? w[o * taps + t] : 0.0f;
            bias[blk * ocb + k] = o < K && b ? b[o] : 0.0f;
        }
    int team = p->threads > 1 ? p->threads : 1;
    int64_t items = p->batch * OH;
    /* streaming stores (AVX2) for a strided layer's output past 32 MB (it leaves the last-level cache anyway)
     * whose rows are whole aligned vectors. Batch 32, two threads, alternated runs: MobileNet conv0 (51 MB) 7.2
     * -> 6.0 ms, ResNet-50 conv1 (103 MB) 47.1 -> 44.8; but VGG conv1_1 (stride 1, 411 MB; 103 at batch 8) 47
     * -> 75 ms (11 -> 18), so stride-1 layers store through the caches */
    bool stream = !v512 && p->stride[1] * p->stride[2] > 1 && (double)p->batch * (double)(K * plane) * sizeof(float) > 32e6 &&
                  ((uintptr_t)y & 31) == 0 && OW % 8 == 0;
#pragma omp parallel num_threads(team) if (team > 1)
    {
        float *ring = rows + (size_t)omp_get_thread_num() * (size_t)f.row_floats;
        int64_t *tags = (int64_t *)(ring + f.ring_floats);
        for (int64_t t = 0; t < 2 * f.ring; t++) tags[t] = -1;
        const float **T = (const float **)(tags + 2 * f.ring); /* where each tap's inputs start */
        const float *R[4 * 256];
#pragma omp for schedule(static)
        for (int64_t i = 0; i < items; i++) {
            int64_t n = i / OH, oh = i % OH;
            phase_rows(p, &f, x + n * in_sample, n, oh, ring, tags, R);
            for (int64_t r = 0, t = 0; r < C * p->kernel[1]; r++)
                for (int64_t kw = 0; kw < p->kernel[2]; kw++) T[t++] = R[r] + f.off[kw];
            float *yrow = y + n * K * plane + oh * OW;
            for (int64_t blk = 0; blk < blocks; blk++) {
                int valid = K - blk * ocb < ocb ? (int)(K - blk * ocb) : (int)ocb;
                for (int64_t ow0 = 0; ow0 < OW; ow0 += f.ow_block)
                    if (v512)
                        row_block(p, T, wt + blk * taps * ocb, bias + blk * ocb, ow0, blk * ocb, valid, yrow, plane);
                    else
                        row_block_avx2(p, &f, T, wt + blk * taps * ocb, bias + blk * ocb, ow0, blk * ocb, valid, yrow,
                                       plane, stream);
            }
        }
        if (stream) _mm_sfence(); /* the streamed stores visible before the barrier that ends the region */
    }
}
#else
void cn_conv_forward_first(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b, cn_real *y,
                           void *work) {
    (void)p, (void)x, (void)w, (void)b, (void)y, (void)work;
}
#endif
