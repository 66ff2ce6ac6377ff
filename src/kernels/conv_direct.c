/* conv_direct.c — a direct forward convolution for AVX-512 and AVX2 (1D/2D, zero padding, any kernel, stride,
 * dilation and groups), vectorised over output channels as oneDNN's direct kernels are, but reading the input in
 * NCHW. (The AVX2 tile, further down, computes the same tile in register-sized chunks.)
 *
 * The register tile is W <= 14 consecutive output positions of one output row times 32 output channels (28 zmm
 * accumulators); on planes at most 7 wide, two output rows (the second row's broadcasts from a second pointer),
 * which kept all 28 accumulators busy on 7x7 layers: 8-12 % faster at batch 32. For each GEMM row
 * k = (c, kh, kw) the kernel loads 32 weights (two vectors) and broadcasts the W input values the positions read,
 *   acc[w][0..32) += xpad[c][oh*sh + kh*dh][(ow0 + w)*sw + kw*dw] * wt[k][0..32),
 * so a stride is a constant step between the broadcasts and no lane is wasted on positions that do not exist:
 * a 7x7 or 13x13 plane runs as fast as a 56x56 one, unlike a kernel vectorised over positions. The input is
 * read through one offset per k (c * plane + kh*dh * row + kw*dw) from a zero-padded copy of the sample (made
 * once; x itself when the layer needs no padding, as 1x1 layers).
 *
 * Weights are packed as [group][32-channel block][k][32] (zero rows past C_out/groups): once per call, or once
 * for inference (cn_conv_prepare_weights). Work: per sample, bands of output rows (about 8 tiles); per band and
 * channel block, depth block by depth block (a 32 x 128 weight block stays in L1 while every tile of the band
 * uses it; 128 rows ran 2-8 % faster than 256 on a Xeon with a 48 KB L1d, 64-192 within noise), accumulating
 * in a small per-thread buffer; after the last depth block each tile is transposed in registers (16 x 16) and
 * written to y with the bias or the fused epilogue. Samples go to threads whole when
 * there are at least as many as threads; otherwise (batch 1) the team pads a sample together and splits its
 * (band, channel block) items. Each output is summed in the same order whatever the thread count. */
#include "kernels/conv.h"
#include "kernels/conv_direct.h"
#include "kernels/gemm.h"
#include <omp.h>

enum { OCB = 32, TW = 14, KCD = 128, BAND_TILES = 8, GROUP_TILES = 16, GROUP_MAX = 4 };

typedef struct {
    int64_t PH, PW;       /* rows and columns of the padded input a sample's outputs read */
    bool padded;          /* a zero-padded copy is needed (otherwise x is read in place) */
    int64_t plane;        /* floats per channel of the input read: PH*PW */
    int64_t tiles_row;    /* tiles per output row: ceil(OW / TW) */
    int64_t rows_tile;    /* output rows per tile: 2 when two fit (OW <= 7), else 1 */
    int64_t band_rows;    /* output rows per band (a multiple of rows_tile unless it is the whole plane) */
    int64_t K, cout_g, cin_g, nocb;
    int64_t group;        /* samples that share each weight block (small planes, one band of few tiles), at most */
} dgeom;

static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }
static size_t align64(size_t x) { return (x + 63) / 64 * 64; }

static dgeom dgeom_of(const cn_conv_geom *p) {
    dgeom g;
    int64_t IH = p->in[1], IW = p->in[2], OH = p->out[1], OW = p->out[2];
    int64_t reach_h = (OH - 1) * p->stride[1] + (p->kernel[1] - 1) * p->dilation[1] + 1;
    int64_t reach_w = (OW - 1) * p->stride[2] + (p->kernel[2] - 1) * p->dilation[2] + 1;
    g.PH = max64(reach_h, IH + p->pad_begin[1]), g.PW = max64(reach_w, IW + p->pad_begin[2]);
    g.padded = p->pad_begin[1] > 0 || p->pad_begin[2] > 0 || g.PH > IH || g.PW > IW;
    g.plane = g.PH * g.PW;
    g.tiles_row = (OW + TW - 1) / TW;
    g.rows_tile = 2 * OW <= TW && OH > 1 ? 2 : 1;
    g.band_rows = max64(1, min64(OH, BAND_TILES * g.rows_tile / g.tiles_row));
    g.cin_g = p->in_channels / p->groups, g.cout_g = p->out_channels / p->groups;
    g.K = g.cin_g * p->kernel[1] * p->kernel[2];
    g.nocb = (g.cout_g + OCB - 1) / OCB;
    /* a plane of a few tiles (7x7: 4) would stream each 32 x 128 weight block from L2 or L3 for 4 tiles: up to 4
     * samples go through it together (GROUP_TILES tiles) */
    int64_t tiles_sample = (OH + g.rows_tile - 1) / g.rows_tile * g.tiles_row;
    g.group = g.band_rows >= OH && tiles_sample < GROUP_TILES
                  ? min64(GROUP_MAX, min64(p->batch, (GROUP_TILES + tiles_sample - 1) / tiles_sample)) : 1;
    return g;
}

bool cn_conv_direct_applies(const cn_conv_geom *p) {
#ifdef CN_REAL_IS_DOUBLE
    (void)p;
    return false;
#else
    const char *isa = cn_kernels_isa();
    if ((strcmp(isa, "avx512") != 0 && strcmp(isa, "avx2") != 0) || p->pad_mode != CN_PAD_ZEROS ||
        !cn_conv_single_plane(p))
        return false;
    dgeom g = dgeom_of(p);
    /* offsets are int32 */
    return (double)p->in_channels * (double)g.plane < 2e9 && g.K < (1 << 24);
#endif
}

size_t cn_conv_direct_weights_bytes(const cn_conv_geom *p) {
    dgeom g = dgeom_of(p);
    return align64((size_t)(p->groups * g.nocb * OCB * g.K) * sizeof(cn_real));
}

size_t cn_conv_direct_shared_bytes(const cn_conv_geom *p) { /* the row offsets */
    return cn_conv_direct_applies(p) ? align64((size_t)dgeom_of(p).K * sizeof(int32_t)) : 0;
}

size_t cn_conv_direct_thread_bytes(const cn_conv_geom *p) {
    if (!cn_conv_direct_applies(p)) return 0;
    dgeom g = dgeom_of(p); /* a padded sample and a band's accumulators, for each sample of a group */
    return (size_t)g.group * ((g.padded ? align64((size_t)(p->in_channels * g.plane) * sizeof(cn_real)) : 0) +
                              align64((size_t)(g.band_rows * g.tiles_row * 16 * OCB) * sizeof(cn_real)));
}

void cn_conv_direct_pack_weights(const cn_conv_geom *p, const cn_real *w, bool flipped, cn_real *out) {
    dgeom g = dgeom_of(p);
    int64_t taps = p->kernel[1] * p->kernel[2], KW = p->kernel[2];
    int threads = p->threads > 1 ? p->threads : 1;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && p->groups * g.nocb > 1)
    for (int64_t gb = 0; gb < p->groups * g.nocb; gb++) {
        int64_t grp = gb / g.nocb, b = gb % g.nocb;
        cn_real *dst = out + gb * OCB * g.K;
        for (int64_t k = 0; k < g.K; k++) {
            /* flipped: k = (layer output channel, tap) reads the layer's weight at the mirrored tap */
            int64_t t = k % taps, mirrored = (p->kernel[1] - 1 - t / KW) * KW + (KW - 1 - t % KW);
            for (int64_t v = 0; v < OCB; v++) { /* lane: output channel of p (the layer's input channel if flipped) */
                int64_t o = b * OCB + v;
                cn_real val = 0;
                if (o < g.cout_g)
                    val = flipped ? w[((grp * g.cin_g + k / taps) * g.cout_g + o) * taps + mirrored]
                                  : w[(grp * g.cout_g + o) * g.K + k];
                dst[k * OCB + v] = val;
            }
        }
    }
}

#ifndef CN_REAL_IS_DOUBLE
#include <immintrin.h>
#include "kernels/simd256.h"
#include "kernels/simd512.h"
#define AVX512 __attribute__((target("avx512f")))

/* The padded copy of channels [c0, c1) of sample x0 (x0: its first plane): rows of PW with the input at
 * (pad_begin[1], pad_begin[2]), zeros elsewhere. */
static void pad_channels(const cn_conv_geom *p, const dgeom *g, const float *x0, int64_t c0, int64_t c1,
                                float *buf) {
    int64_t IH = p->in[1], IW = p->in[2], pt = p->pad_begin[1], pl = p->pad_begin[2];
    for (int64_t c = c0; c < c1; c++) {
        float *dst = buf + c * g->plane;
        const float *src = x0 + c * IH * IW;
        for (int64_t i = 0; i < g->PH; i++, dst += g->PW) {
            int64_t ih = i - pt;
            if (ih < 0 || ih >= IH) {
                memset(dst, 0, (size_t)g->PW * sizeof(float));
                continue;
            }
            for (int64_t j = 0; j < pl; j++) dst[j] = 0;
            memcpy(dst + pl, src + ih * IW, (size_t)IW * sizeof(float));
            for (int64_t j = pl + IW; j < g->PW; j++) dst[j] = 0;
        }
    }
}

/* acc[W][32] (+)= sum_q in[off[q] + pos(w)] * a[q][0..32): W positions times 32 channels, q in [0, kc), where
 * pos(w) = w*SW (SW 0: sw at run time) or, for a tile of two output rows of W/2 positions (R2), the second row's
 * from in + rs (rs: one output row's step in the input). io: the tile's accumulators as [16][32] floats (rows past
 * W untouched). */
static inline __attribute__((always_inline, target("avx512f"))) void tile_kernel(
    const int W, const int SW, const bool R2, int64_t sw, int64_t rs, int64_t kc, const float *a, const float *in,
    const int32_t *off, float *io, bool accumulate) {
    __m512 acc[TW][2];
    const int64_t step = SW ? SW : sw;
#pragma GCC unroll 14
    for (int w = 0; w < W; w++) {
        acc[w][0] = accumulate ? _mm512_load_ps(io + w * OCB) : _mm512_setzero_ps();
        acc[w][1] = accumulate ? _mm512_load_ps(io + w * OCB + 16) : _mm512_setzero_ps();
    }
    for (int64_t q = 0; q < kc; q++, a += OCB) {
        __m512 a0 = _mm512_load_ps(a), a1 = _mm512_load_ps(a + 16);
        const float *src = in + off[q], *src2 = src + rs;
#pragma GCC unroll 14
        for (int w = 0; w < W; w++) {
            __m512 b = _mm512_set1_ps(R2 && w >= W / 2 ? src2[(w - W / 2) * step] : src[w * step]);
            acc[w][0] = _mm512_fmadd_ps(b, a0, acc[w][0]);
            acc[w][1] = _mm512_fmadd_ps(b, a1, acc[w][1]);
        }
    }
#pragma GCC unroll 14
    for (int w = 0; w < W; w++) {
        _mm512_store_ps(io + w * OCB, acc[w][0]);
        _mm512_store_ps(io + w * OCB + 16, acc[w][1]);
    }
}

#define TILE_CASE(W)                                                                                          \
    case W:                                                                                                   \
        if (sw == 1) tile_kernel(W, 1, false, 1, 0, kc, a, in, off, io, accumulate);                          \
        else if (sw == 2) tile_kernel(W, 2, false, 2, 0, kc, a, in, off, io, accumulate);                     \
        else if (sw == 4) tile_kernel(W, 4, false, 4, 0, kc, a, in, off, io, accumulate);                     \
        else tile_kernel(W, 0, false, sw, 0, kc, a, in, off, io, accumulate);                                 \
        return;
#define TILE_CASE2(W)                                                                                         \
    case W:                                                                                                   \
        if (sw == 1) tile_kernel(W, 1, true, 1, rs, kc, a, in, off, io, accumulate);                          \
        else if (sw == 2) tile_kernel(W, 2, true, 2, rs, kc, a, in, off, io, accumulate);                     \
        else tile_kernel(W, 0, true, sw, rs, kc, a, in, off, io, accumulate);                                 \
        return;

/* W positions of one output row, or (rs > 0) W/2 of each of two rows, the second rs floats further in. */
AVX512 static void run_tile(int W, int64_t sw, int64_t rs, int64_t kc, const float *a, const float *in,
                            const int32_t *off, float *io, bool accumulate, int lanes) {
    (void)lanes; /* all 32 computed */
    if (rs) {
        switch (W) {
            TILE_CASE2(2) TILE_CASE2(4) TILE_CASE2(6) TILE_CASE2(8) TILE_CASE2(10) TILE_CASE2(12) TILE_CASE2(14)
        default: return;
        }
    }
    switch (W) {
        TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6) TILE_CASE(7)
        TILE_CASE(8) TILE_CASE(9) TILE_CASE(10) TILE_CASE(11) TILE_CASE(12) TILE_CASE(13) TILE_CASE(14)
    default: return;
    }
}
#undef TILE_CASE
#undef TILE_CASE2

/* A finished tile, io [16][32] with W valid rows, to y: channel o0 + v gets positions [0, W) at yrow + v * positions,
 * through two 16 x 16 register transposes; bias or epilogue per channel; channels >= nvalid are dropped. */
AVX512 static void write_tile(const float *io, int W, int64_t nvalid, float *yrow, int64_t positions,
                              const float *scale, const float *shift, bool relu, bool add) {
    __mmask16 m = (__mmask16)((1u << W) - 1);
    for (int half = 0; half < 2; half++) {
        __m512 r[16];
        for (int w = 0; w < 16; w++) r[w] = w < W ? _mm512_load_ps(io + w * OCB + half * 16) : _mm512_setzero_ps();
        transpose16(r);
        for (int v = 0; v < 16; v++) {
            int64_t o = half * 16 + v;
            if (o >= nvalid) return;
            __m512 val = r[v];
            if (scale) val = _mm512_mul_ps(val, _mm512_set1_ps(scale[o]));
            if (shift) val = _mm512_add_ps(val, _mm512_set1_ps(shift[o]));
            if (relu) val = _mm512_max_ps(val, _mm512_setzero_ps());
            if (add) val = _mm512_add_ps(val, _mm512_maskz_loadu_ps(m, yrow + o * positions));
            _mm512_mask_storeu_ps(yrow + o * positions, m, val);
        }
    }
}

/* ---- AVX2 + FMA (16 ymm registers): the same tile and accumulator layout, computed in chunks of at most 6
 * positions times 16 channels (12 accumulators, 2 weight vectors, a broadcast), each chunk once per half of the
 * 32-channel block; a tile of 14 runs as chunks of 5, 5 and 4 (every chunk keeps at least 8 FMAs in flight).
 * A chunk reads its positions through one pointer each (the position's first input value), so strides and the
 * two-row tiles need no variants. */
enum { CH2 = 6 };

static inline __attribute__((always_inline, target("avx2,fma"))) void chunk_kernel2(
    const int N, const float *const *pos, int64_t kc, const float *a, const int32_t *off, float *io, bool accumulate) {
    __m256 acc[CH2][2];
    const float *p[CH2];
#pragma GCC unroll 6
    for (int i = 0; i < N; i++) {
        p[i] = pos[i];
        acc[i][0] = accumulate ? _mm256_load_ps(io + i * OCB) : _mm256_setzero_ps();
        acc[i][1] = accumulate ? _mm256_load_ps(io + i * OCB + 8) : _mm256_setzero_ps();
    }
    /* unrolled 4 deep, as the GEMM's kernel: batch-1 stride-2 3x3 layers of ResNet-50 10-25 % faster on one
     * thread (medians of five alternated runs, e.g. 512@14x14 5.19 -> 4.00 ms) */
#pragma GCC unroll 4
    for (int64_t q = 0; q < kc; q++, a += OCB) {
        __m256 a0 = _mm256_load_ps(a), a1 = _mm256_load_ps(a + 8);
        int64_t o = off[q];
#pragma GCC unroll 6
        for (int i = 0; i < N; i++) {
            __m256 b = _mm256_broadcast_ss(p[i] + o);
            acc[i][0] = _mm256_fmadd_ps(b, a0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(b, a1, acc[i][1]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < N; i++) {
        _mm256_store_ps(io + i * OCB, acc[i][0]);
        _mm256_store_ps(io + i * OCB + 8, acc[i][1]);
    }
}

/* The same for 8 channels (one vector), up to 12 positions: a half block with at most 8 channels in use */
enum { CH1 = 12 };
static inline __attribute__((always_inline, target("avx2,fma"))) void chunk_kernel1(
    const int N, const float *const *pos, int64_t kc, const float *a, const int32_t *off, float *io, bool accumulate) {
    __m256 acc[CH1];
    const float *p[CH1];
#pragma GCC unroll 12
    for (int i = 0; i < N; i++) {
        p[i] = pos[i];
        acc[i] = accumulate ? _mm256_load_ps(io + i * OCB) : _mm256_setzero_ps();
    }
#pragma GCC unroll 4
    for (int64_t q = 0; q < kc; q++, a += OCB) {
        __m256 a0 = _mm256_load_ps(a);
        int64_t o = off[q];
#pragma GCC unroll 12
        for (int i = 0; i < N; i++) acc[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(p[i] + o), a0, acc[i]);
    }
#pragma GCC unroll 12
    for (int i = 0; i < N; i++) _mm256_store_ps(io + i * OCB, acc[i]);
}

#define CHUNK_CASE(N)                                                                                         \
    case N: chunk_kernel2(N, pos, kc, a, off, io, accumulate); return;
#define CHUNK1_CASE(N)                                                                                        \
    case N: chunk_kernel1(N, pos, kc, a, off, io, accumulate); return;
__attribute__((target("avx2,fma"))) static void run_chunk2(int n, const float *const *pos, int64_t kc,
                                                          const float *a, const int32_t *off, float *io,
                                                          bool accumulate) {
    switch (n) {
        CHUNK_CASE(1) CHUNK_CASE(2) CHUNK_CASE(3) CHUNK_CASE(4) CHUNK_CASE(5) CHUNK_CASE(6)
    default: return;
    }
}
__attribute__((target("avx2,fma"))) static void run_chunk1(int n, const float *const *pos, int64_t kc,
                                                          const float *a, const int32_t *off, float *io,
                                                          bool accumulate) {
    switch (n) {
        CHUNK1_CASE(1) CHUNK1_CASE(2) CHUNK1_CASE(3) CHUNK1_CASE(4) CHUNK1_CASE(5) CHUNK1_CASE(6)
        CHUNK1_CASE(7) CHUNK1_CASE(8) CHUNK1_CASE(9) CHUNK1_CASE(10) CHUNK1_CASE(11) CHUNK1_CASE(12)
    default: return;
    }
}
#undef CHUNK_CASE
#undef CHUNK1_CASE

/* Positions [0, W) in `chunks` balanced pieces (14 in three: 4, 5, 5), run by `fn` on half `half` */
__attribute__((target("avx2,fma"))) static void run_chunks(
    void (*fn)(int, const float *const *, int64_t, const float *, const int32_t *, float *, bool), int W, int max_n,
    int half, const float *const *pos, int64_t kc, const float *a, const int32_t *off, float *io, bool accumulate) {
    int chunks = (W + max_n - 1) / max_n;
    for (int c = 0, w0 = 0; c < chunks; c++) {
        int n = (W - w0) / (chunks - c);
        fn(n, pos + w0, kc, a + half * 16, off, io + w0 * OCB + half * 16, accumulate);
        w0 += n;
    }
}

/* run_tile's contract on AVX2: position w reads in + w*sw, or (rs > 0) the second row's from in + rs. Only the
 * channels in use (`lanes` of the block's 32, rounded up to 8) are computed: a half with at most 8 of them runs
 * one vector wide (twice the positions per chunk), a half with none not at all (LeNet's 20 -> 50 data gradient
 * computes 24 channels, not 32). */
__attribute__((target("avx2,fma"))) static void run_tile_avx2(int W, int64_t sw, int64_t rs, int64_t kc,
                                                             const float *a, const float *in, const int32_t *off,
                                                             float *io, bool accumulate, int lanes) {
    const float *pos[TW];
    for (int w = 0; w < W; w++) pos[w] = rs && w >= W / 2 ? in + rs + (w - W / 2) * sw : in + w * sw;
    for (int half = 0; half < 2; half++) {
        int used = lanes - half * 16;
        if (used > 8) run_chunks(run_chunk2, W, CH2, half, pos, kc, a, off, io, accumulate);
        else if (used > 0) run_chunks(run_chunk1, W, CH1, half, pos, kc, a, off, io, accumulate);
    }
}

/* write_tile on AVX2: 8 x 8 transposes (positions [pg, pg + 8) x channels [cg, cg + 8)). */
__attribute__((target("avx2,fma"))) static void write_tile_avx2(const float *io, int W, int64_t nvalid, float *yrow,
                                                               int64_t positions, const float *scale,
                                                               const float *shift, bool relu, bool add) {
    for (int pg = 0; pg < W; pg += 8) {
        int np = W - pg < 8 ? W - pg : 8;
        __m256i m = first_lanes(np);
        for (int cg = 0; cg < nvalid; cg += 8) {
            __m256 r[8];
            for (int w = 0; w < 8; w++) r[w] = w < np ? _mm256_load_ps(io + (pg + w) * OCB + cg) : _mm256_setzero_ps();
            transpose8(r);
            for (int v = 0; v < 8 && cg + v < nvalid; v++) {
                int64_t o = cg + v;
                float *dst = yrow + o * positions + pg;
                __m256 val = r[v];
                if (scale) val = _mm256_mul_ps(val, _mm256_set1_ps(scale[o]));
                if (shift) val = _mm256_add_ps(val, _mm256_set1_ps(shift[o]));
                if (relu) val = _mm256_max_ps(val, _mm256_setzero_ps());
                if (np == 8) {
                    if (add) val = _mm256_add_ps(val, _mm256_loadu_ps(dst));
                    _mm256_storeu_ps(dst, val);
                } else {
                    if (add) val = _mm256_add_ps(val, _mm256_maskload_ps(dst, m));
                    store_lanes(dst, val, np);
                }
            }
        }
    }
}

/* The kernel set's tile and write-back */
typedef struct {
    void (*run_tile)(int W, int64_t sw, int64_t rs, int64_t kc, const float *a, const float *in, const int32_t *off,
                     float *io, bool accumulate, int lanes);
    void (*write_tile)(const float *io, int W, int64_t nvalid, float *yrow, int64_t positions, const float *scale,
                       const float *shift, bool relu, bool add);
} tile_ops;

static tile_ops tile_ops_of_isa(void) {
    if (strcmp(cn_kernels_isa(), "avx512") == 0) return (tile_ops){run_tile, write_tile};
    return (tile_ops){run_tile_avx2, write_tile_avx2};
}

/* Positions of the tile starting at output (oh, ow) of a band ending before row oh1: two rows when the band has
 * them and the plane is narrow enough (g->rows_tile 2), else up to TW of row oh. */
static int tile_positions(const dgeom *g, int64_t OW, int64_t oh, int64_t oh1, int64_t ow) {
    return g->rows_tile == 2 && oh + 1 < oh1 ? (int)(2 * OW) : (int)min64(TW, OW - ow);
}

/* The input rows a band reads, per channel of the group: floats [*start, *end) of each channel plane. */
static void band_rows_read(const cn_conv_geom *p, const dgeom *g, int64_t band, int64_t *start, int64_t *end) {
    int64_t oh0 = band * g->band_rows, oh1 = min64(p->out[1], oh0 + g->band_rows);
    int64_t r0 = oh0 * p->stride[1], r1 = min64(g->PH, (oh1 - 1) * p->stride[1] + (p->kernel[1] - 1) * p->dilation[1] + 1);
    *start = r0 * g->PW, *end = r1 * g->PW;
}

/* One (band, channel block) of a sample: in = the sample's group input (padded or x), y0 = its group output.
 * The first channel block of a band also prefetches the next band's input into L2, a slice per tile (the last
 * band: the first band of `next`, the next sample's input when it is read in place, or nothing): a band reads a
 * short piece of every input plane, hundreds of streams the hardware prefetchers do not follow. */
static void band_block(const tile_ops *ops, const cn_conv_geom *p, const dgeom *g, const float *wt, const int32_t *off,
                       const float *const *in, int S, const float *next, int64_t band, int64_t ocb, const float *scale,
                       const float *shift, bool relu, bool add, float *acc, size_t acc_floats, float *const *y0) {
    int64_t OH = p->out[1], OW = p->out[2], positions = OH * OW, sh = p->stride[1], sw = p->stride[2];
    int64_t oh0 = band * g->band_rows, oh1 = min64(OH, oh0 + g->band_rows);
    const float *a = wt + ocb * OCB * g->K;
    int64_t R = g->rows_tile, tiles = (oh1 - oh0 + R - 1) / R * g->tiles_row;
    int64_t pf_start = 0, pf_lines = 0, pf_next = 0, pf_per = 0, units = ((g->K + KCD - 1) / KCD) * tiles * S;
    const float *pf = oh1 < OH ? in[0] : next;
    if (ocb == 0 && pf) {
        int64_t end;
        band_rows_read(p, g, oh1 < OH ? band + 1 : 0, &pf_start, &end);
        pf_lines = (end - pf_start + 15) / 16;
        pf_per = (pf_lines * g->cin_g + units - 1) / units;
    }
    int lanes = (int)min64(OCB, g->cout_g - ocb * OCB);
    for (int64_t p0 = 0; p0 < g->K; p0 += KCD) {
        int64_t kc = min64(g->K - p0, KCD);
        for (int si = 0; si < S; si++) { /* the samples of a group share the weight block while it is in L1 */
            float *io = acc + si * acc_floats;
            for (int64_t oh = oh0; oh < oh1; oh += R)
                for (int64_t ow = 0; ow < OW; ow += TW, io += 16 * OCB) {
                    for (int64_t i = 0; i < pf_per && pf_next < pf_lines * g->cin_g; i++, pf_next++)
                        _mm_prefetch((const char *)(pf + pf_next / pf_lines * g->plane + pf_start + pf_next % pf_lines * 16),
                                     _MM_HINT_T1);
                    const float *src = in[si] + oh * sh * g->PW + ow * sw;
                    int W = tile_positions(g, OW, oh, oh1, ow);
                    ops->run_tile(W, sw, W > OW ? sh * g->PW : 0, kc, a + p0 * OCB, src, off + p0, io, p0 > 0, lanes);
                }
        }
    }
    int64_t nvalid = min64(OCB, g->cout_g - ocb * OCB), o0 = ocb * OCB;
    for (int si = 0; si < S; si++) {
        float *io = acc + si * acc_floats;
        for (int64_t oh = oh0; oh < oh1; oh += R) /* two rows of a tile are contiguous in y */
            for (int64_t ow = 0; ow < OW; ow += TW, io += 16 * OCB)
                ops->write_tile(io, tile_positions(g, OW, oh, oh1, ow), nvalid, y0[si] + o0 * positions + oh * OW + ow,
                                positions, scale ? scale + o0 : NULL, shift ? shift + o0 : NULL, relu, add);
    }
}

/* Item it = (group, band, channel block) of S samples: in[s] and yn[s] are sample s's input and output. */
static void run_item(const tile_ops *ops, const cn_conv_geom *p, const dgeom *g, int64_t it, int64_t nbands, const float *wt,
                     const int32_t *off, const float *const *in, int S, const float *next, const float *b, bool add,
                     float *acc, size_t acc_floats, float *const *yn) {
    const cn_conv_epilogue *e = p->epilogue;
    int64_t grp = it / (nbands * g->nocb), band = it / g->nocb % nbands, ocb = it % g->nocb;
    const float *scale = e ? e->scale + grp * g->cout_g : NULL;
    const float *shift = e ? e->shift + grp * g->cout_g : b ? b + grp * g->cout_g : NULL;
    const float *ins[GROUP_MAX];
    float *ys[GROUP_MAX];
    for (int si = 0; si < S; si++)
        ins[si] = in[si] + grp * g->cin_g * g->plane, ys[si] = yn[si] + grp * g->cout_g * p->out[1] * p->out[2];
    band_block(ops, p, g, wt + grp * g->nocb * OCB * g->K, off, ins, S, next && grp + 1 == p->groups ? next : NULL,
               band, ocb, scale, shift, e && e->relu, add, acc, acc_floats, ys);
}

/* wt: cn_conv_direct_pack_weights's layout (prepared, or packed by the caller into `work`'s front). */
void cn_conv_forward_direct(const cn_conv_geom *p, const cn_real *x, const cn_real *wt, const cn_real *b, cn_real *y,
                            bool add, void *work) {
    dgeom g = dgeom_of(p);
    int64_t KH = p->kernel[1], KW = p->kernel[2], positions = p->out[1] * p->out[2], in_plane = p->in[1] * p->in[2];
    int32_t *off = (int32_t *)work;
    for (int64_t c = 0, k = 0; c < g.cin_g; c++)
        for (int64_t kh = 0; kh < KH; kh++)
            for (int64_t kw = 0; kw < KW; kw++, k++)
                off[k] = (int32_t)(c * g.plane + kh * p->dilation[1] * g.PW + kw * p->dilation[2]);
    char *slots = (char *)work + cn_conv_direct_shared_bytes(p);
    size_t slot = cn_conv_direct_thread_bytes(p);
    size_t pad_bytes = g.padded ? align64((size_t)(p->in_channels * g.plane) * sizeof(cn_real)) : 0;
    size_t acc_floats = align64((size_t)(g.band_rows * g.tiles_row * 16 * OCB) * sizeof(cn_real)) / sizeof(float);
    int64_t nbands = (p->out[1] + g.band_rows - 1) / g.band_rows, items = p->groups * nbands * g.nocb;
    int threads = p->threads > 1 ? p->threads : 1;
    bool whole = p->batch >= threads; /* each thread takes whole samples */
    int S = whole ? (int)g.group : 1;   /* samples a thread runs together */
    tile_ops ops = tile_ops_of_isa();
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int t = omp_get_thread_num();
        char *mine = slots + (size_t)t * slot;
        float *acc = (float *)(mine + (size_t)S * pad_bytes);
        for (int64_t n = 0; n < p->batch; n++) {
            /* whole samples: this thread's n-th, (n + threads)-th, ... in groups of S */
            if (whole && (n % threads != t || n / threads % S != 0)) continue;
            const float *in[GROUP_MAX];
            float *yn[GROUP_MAX];
            int cnt = 0;
            for (int64_t m = n; m < p->batch && cnt < S; m += threads, cnt++) {
                const float *x0 = x + m * p->in_channels * in_plane;
                /* the team shares slot 0's padded sample when it splits one */
                float *padbuf = whole ? (float *)(mine + (size_t)cnt * pad_bytes) : (float *)slots;
                if (g.padded) {
                    if (whole) {
                        pad_channels(p, &g, x0, 0, p->in_channels, padbuf);
                    } else {
#pragma omp for schedule(static)
                        for (int64_t c = 0; c < p->in_channels; c++) pad_channels(p, &g, x0, c, c + 1, padbuf);
                    }
                }
                in[cnt] = g.padded ? padbuf : x0;
                yn[cnt] = y + m * p->out_channels * positions;
            } /* (S is 1 when the team splits a sample) */
            if (whole) {
                /* in place, the last band prefetches this thread's next sample */
                int64_t after = n + (int64_t)cnt * threads;
                const float *next = !g.padded && after < p->batch ? x + after * p->in_channels * in_plane : NULL;
                for (int64_t it = 0; it < items; it++)
                    run_item(&ops, p, &g, it, nbands, wt, off, in, cnt, next, b, add, acc, acc_floats, yn);
            } else {
#pragma omp for schedule(static)
                for (int64_t it = 0; it < items; it++)
                    run_item(&ops, p, &g, it, nbands, wt, off, in, 1, NULL, b, add, acc, acc_floats, yn);
            } /* implicit barrier: the shared padded sample is free again */
        }
    }
}

/* ---- the weight gradient, dW[o][c][t] = sum over samples and positions of dy[o][pos] * xpad[c][pos's tap t]:
 * per sample, dy and the padded input are transposed to [position][channel] (16 x 16 register transposes);
 * then a register tile of 14 input channels x 32 output channels for one tap sums over the sample's positions,
 *   acc[j][0..32) += xT[(oh*sh + kh*dh) * PW + ow*sw + kw*dw][c0 + j] * dyT[oh * OW + ow][o0 .. o0 + 32),
 * 14 broadcasts (one pointer, constant offsets) and two loads per 28 FMAs. Tiles are split over the threads
 * and keep their sums in a buffer G across samples; every tile adds the samples in order, so the result does not
 * depend on the thread count. Where G is small (at most WG_BY_SAMPLES bytes: LeNet's conv2, 180 KB) and there are
 * at least two samples per thread, the samples are split instead: each thread transposes its own samples and sums
 * every tile into its own G, with no barrier per sample (the tiles' split waited at two per sample, on data of
 * a few microseconds' work), and the threads' G are added in thread order at the end: the result then depends on
 * the thread count (not on the run). */
enum { WCB = 14, WG_BY_SAMPLES = 256 * 1024 };

typedef struct {
    int64_t taps, ncb, nob, cop, tiles; /* cop: dyT row (C_out rounded up to 32) */
    size_t xt_floats, dyt_floats, g_floats;
} wgeom;

static wgeom wgeom_of(const cn_conv_geom *p, const dgeom *g) {
    wgeom w;
    w.taps = p->kernel[1] * p->kernel[2];
    w.ncb = (p->in_channels + WCB - 1) / WCB, w.nob = (p->out_channels + OCB - 1) / OCB, w.cop = w.nob * OCB;
    w.tiles = w.taps * w.ncb * w.nob;
    w.xt_floats = (size_t)(g->plane * ((p->in_channels + 15) / 16 * 16) + 16);
    w.dyt_floats = (size_t)(((p->out[1] * p->out[2] + 15) / 16 * 16) * w.cop);
    w.g_floats = (size_t)(w.tiles * WCB * OCB);
    return w;
}

bool cn_conv_direct_wgrad_applies(const cn_conv_geom *p) { return p->groups == 1 && cn_conv_direct_applies(p); }

static int wgrad_threads(const cn_conv_geom *p) { return p->threads > 1 ? p->threads : 1; }

/* the samples split over the threads (above) */
static bool wgrad_by_samples(const cn_conv_geom *p, const wgeom *w) {
    int threads = wgrad_threads(p);
    return threads > 1 && p->batch >= 2 * threads && w->g_floats * sizeof(float) <= WG_BY_SAMPLES;
}

/* one thread's xT, dyT and G */
static size_t wgrad_set_bytes(const wgeom *w) {
    return align64(w->xt_floats * sizeof(float)) + align64(w->dyt_floats * sizeof(float)) +
           align64(w->g_floats * sizeof(float));
}

size_t cn_conv_direct_wgrad_bytes(const cn_conv_geom *p) {
    if (!cn_conv_direct_wgrad_applies(p)) return 0;
    dgeom g = dgeom_of(p);
    wgeom w = wgeom_of(p, &g);
    return wgrad_set_bytes(&w) * (size_t)(wgrad_by_samples(p, &w) ? wgrad_threads(p) : 1);
}

/* The rows x cols row-major matrix src (row stride ld) into dst transposed (row stride ldt):
 * dst[j * ldt + i] = src[i * ld + j]; 16 x 16 blocks, partial ones masked. */
AVX512 static void transpose_block(const float *src, int64_t ld, int64_t rows, int64_t cols, float *dst, int64_t ldt) {
    for (int64_t i0 = 0; i0 < rows; i0 += 16)
        for (int64_t j0 = 0; j0 < cols; j0 += 16) {
            int64_t ni = min64(16, rows - i0), nj = min64(16, cols - j0);
            __mmask16 mj = (__mmask16)((1u << nj) - 1), mi = (__mmask16)((1u << ni) - 1);
            __m512 r[16];
            for (int i = 0; i < 16; i++)
                r[i] = i < ni ? _mm512_maskz_loadu_ps(mj, src + (i0 + i) * ld + j0) : _mm512_setzero_ps();
            transpose16(r);
            for (int j = 0; j < nj; j++) _mm512_mask_storeu_ps(dst + (j0 + j) * ldt + i0, mi, r[j]);
        }
}

static inline __attribute__((always_inline, target("avx512f"))) void wgrad_kernel(
    const int W, int64_t rows, int64_t OW, const float *xp, int64_t x_row, int64_t x_col, const float *dp,
    int64_t d_col, float *io) {
    __m512 acc[WCB][2];
#pragma GCC unroll 14
    for (int j = 0; j < W; j++) acc[j][0] = _mm512_load_ps(io + j * OCB), acc[j][1] = _mm512_load_ps(io + j * OCB + 16);
    for (int64_t r = 0; r < rows; r++, xp += x_row) {
        const float *x = xp;
        for (int64_t ow = 0; ow < OW; ow++, x += x_col, dp += d_col) {
            __m512 d0 = _mm512_load_ps(dp), d1 = _mm512_load_ps(dp + 16);
#pragma GCC unroll 14
            for (int j = 0; j < W; j++) {
                __m512 b = _mm512_set1_ps(x[j]);
                acc[j][0] = _mm512_fmadd_ps(b, d0, acc[j][0]);
                acc[j][1] = _mm512_fmadd_ps(b, d1, acc[j][1]);
            }
        }
    }
#pragma GCC unroll 14
    for (int j = 0; j < W; j++) _mm512_store_ps(io + j * OCB, acc[j][0]), _mm512_store_ps(io + j * OCB + 16, acc[j][1]);
}

#define WG_CASE(W)                                                                                            \
    case W: wgrad_kernel(W, rows, OW, xp, x_row, x_col, dp, d_col, io); return;
AVX512 static void run_wgrad(int W, int64_t rows, int64_t OW, const float *xp, int64_t x_row, int64_t x_col,
                             const float *dp, int64_t d_col, float *io, int lanes) {
    (void)lanes; /* all 32 computed */
    switch (W) {
        WG_CASE(1) WG_CASE(2) WG_CASE(3) WG_CASE(4) WG_CASE(5) WG_CASE(6) WG_CASE(7)
        WG_CASE(8) WG_CASE(9) WG_CASE(10) WG_CASE(11) WG_CASE(12) WG_CASE(13) WG_CASE(14)
    default: return;
    }
}
#undef WG_CASE

/* AVX2: transpose_block by 8 x 8 blocks */
__attribute__((target("avx2,fma"))) static void transpose_block_avx2(const float *src, int64_t ld, int64_t rows,
                                                                    int64_t cols, float *dst, int64_t ldt) {
    for (int64_t i0 = 0; i0 < rows; i0 += 8)
        for (int64_t j0 = 0; j0 < cols; j0 += 8) {
            int ni = (int)min64(8, rows - i0), nj = (int)min64(8, cols - j0);
            __m256i mj = first_lanes(nj);
            __m256 r[8];
            for (int i = 0; i < 8; i++)
                r[i] = i < ni ? _mm256_maskload_ps(src + (i0 + i) * ld + j0, mj) : _mm256_setzero_ps();
            transpose8(r);
            for (int j = 0; j < nj; j++) {
                if (ni == 8) _mm256_storeu_ps(dst + (j0 + j) * ldt + i0, r[j]);
                else store_lanes(dst + (j0 + j) * ldt + i0, r[j], ni);
            }
        }
}

/* AVX2: wgrad_kernel in chunks of at most 6 input channels times 16 output channels (as the forward's chunks) */
static inline __attribute__((always_inline, target("avx2,fma"))) void wgrad_chunk2(
    const int N, int64_t rows, int64_t OW, const float *xp, int64_t x_row, int64_t x_col, const float *dp,
    int64_t d_col, float *io) {
    __m256 acc[CH2][2];
#pragma GCC unroll 6
    for (int j = 0; j < N; j++) acc[j][0] = _mm256_load_ps(io + j * OCB), acc[j][1] = _mm256_load_ps(io + j * OCB + 8);
    for (int64_t r = 0; r < rows; r++, xp += x_row) {
        const float *x = xp;
        for (int64_t ow = 0; ow < OW; ow++, x += x_col, dp += d_col) {
            __m256 d0 = _mm256_load_ps(dp), d1 = _mm256_load_ps(dp + 8);
#pragma GCC unroll 6
            for (int j = 0; j < N; j++) {
                __m256 b = _mm256_broadcast_ss(x + j);
                acc[j][0] = _mm256_fmadd_ps(b, d0, acc[j][0]);
                acc[j][1] = _mm256_fmadd_ps(b, d1, acc[j][1]);
            }
        }
    }
#pragma GCC unroll 6
    for (int j = 0; j < N; j++) _mm256_store_ps(io + j * OCB, acc[j][0]), _mm256_store_ps(io + j * OCB + 8, acc[j][1]);
}

/* ... and 8 output channels (one vector) for up to 12 input channels */
static inline __attribute__((always_inline, target("avx2,fma"))) void wgrad_chunk1(
    const int N, int64_t rows, int64_t OW, const float *xp, int64_t x_row, int64_t x_col, const float *dp,
    int64_t d_col, float *io) {
    __m256 acc[CH1];
#pragma GCC unroll 12
    for (int j = 0; j < N; j++) acc[j] = _mm256_load_ps(io + j * OCB);
    for (int64_t r = 0; r < rows; r++, xp += x_row) {
        const float *x = xp;
        for (int64_t ow = 0; ow < OW; ow++, x += x_col, dp += d_col) {
            __m256 d0 = _mm256_load_ps(dp);
#pragma GCC unroll 12
            for (int j = 0; j < N; j++) acc[j] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + j), d0, acc[j]);
        }
    }
#pragma GCC unroll 12
    for (int j = 0; j < N; j++) _mm256_store_ps(io + j * OCB, acc[j]);
}

#define WG_CASE(N)                                                                                            \
    case N: wgrad_chunk2(N, rows, OW, xp, x_row, x_col, dp, d_col, io); return;
#define WG1_CASE(N)                                                                                           \
    case N: wgrad_chunk1(N, rows, OW, xp, x_row, x_col, dp, d_col, io); return;
__attribute__((target("avx2,fma"))) static void run_wgrad_chunk2(int n, int64_t rows, int64_t OW, const float *xp,
                                                                int64_t x_row, int64_t x_col, const float *dp,
                                                                int64_t d_col, float *io) {
    switch (n) {
        WG_CASE(1) WG_CASE(2) WG_CASE(3) WG_CASE(4) WG_CASE(5) WG_CASE(6)
    default: return;
    }
}
__attribute__((target("avx2,fma"))) static void run_wgrad_chunk1(int n, int64_t rows, int64_t OW, const float *xp,
                                                                int64_t x_row, int64_t x_col, const float *dp,
                                                                int64_t d_col, float *io) {
    switch (n) {
        WG1_CASE(1) WG1_CASE(2) WG1_CASE(3) WG1_CASE(4) WG1_CASE(5) WG1_CASE(6)
        WG1_CASE(7) WG1_CASE(8) WG1_CASE(9) WG1_CASE(10) WG1_CASE(11) WG1_CASE(12)
    default: return;
    }
}
#undef WG_CASE
#undef WG1_CASE

/* W input channels x the `lanes` output channels in use (as the forward's run_tile_avx2) */
__attribute__((target("avx2,fma"))) static void run_wgrad_avx2(int W, int64_t rows, int64_t OW, const float *xp,
                                                              int64_t x_row, int64_t x_col, const float *dp,
                                                              int64_t d_col, float *io, int lanes) {
    for (int half = 0; half < 2; half++) {
        int used = lanes - half * 16, max_n = used > 8 ? CH2 : CH1;
        if (used <= 0) continue;
        int chunks = (W + max_n - 1) / max_n;
        for (int c = 0, j0 = 0; c < chunks; c++) {
            int n = (W - j0) / (chunks - c);
            (used > 8 ? run_wgrad_chunk2 : run_wgrad_chunk1)(n, rows, OW, xp + j0, x_row, x_col, dp + half * 16,
                                                             d_col, io + j0 * OCB + half * 16);
            j0 += n;
        }
    }
}

typedef void (*wtile_fn)(int, int64_t, int64_t, const float *, int64_t, int64_t, const float *, int64_t, float *, int);
typedef void (*transpose_fn)(const float *, int64_t, int64_t, int64_t, float *, int64_t);

/* Sample n's input rows into xT (channel blocks of 16 x row; the padding rows and columns are left as they are)
 * and its dy into dyT: the items [i0, i1) of the sample's transposes, (C/16 rounded up) x IH of the input then
 * C_out/16 rounded up of dy. */
static void wgrad_transposes(const cn_conv_geom *p, const dgeom *g, const wgeom *w, transpose_fn transpose,
                             const float *x, const float *dy, int64_t n, int64_t i0, int64_t i1, float *xt, float *dyt) {
    int64_t C = p->in_channels, Co = p->out_channels, IH = p->in[1], IW = p->in[2], P = p->out[1] * p->out[2];
    int64_t cip = (C + 15) / 16 * 16, xitems = (C + 15) / 16 * IH;
    const float *xn = x + n * C * IH * IW, *dyn = dy + n * Co * P;
    for (int64_t it = i0; it < i1; it++) {
        if (it < xitems) {
            int64_t cb = it / IH, ih = it % IH;
            transpose(xn + cb * 16 * IH * IW + ih * IW, IH * IW, min64(16, C - cb * 16), IW,
                      xt + ((ih + p->pad_begin[1]) * g->PW + p->pad_begin[2]) * cip + cb * 16, cip);
        } else {
            int64_t ob = it - xitems;
            transpose(dyn + ob * 16 * P, P, min64(16, Co - ob * 16), P, dyt + ob * 16, w->cop);
        }
    }
}

static int64_t wgrad_transpose_items(const cn_conv_geom *p) {
    return (p->in_channels + 15) / 16 * p->in[1] + (p->out_channels + 15) / 16;
}

/* Tile `tile` of G over output rows [r0, r0 + nr) of the sample in xT / dyT (zeroed first when `first`) */
static void wgrad_tile(const cn_conv_geom *p, const dgeom *g, const wgeom *w, wtile_fn wtile, const float *xt,
                       const float *dyt, float *G, int64_t tile, int64_t r0, int64_t nr, bool first) {
    int64_t C = p->in_channels, Co = p->out_channels, OW = p->out[2], KW = p->kernel[2], cip = (C + 15) / 16 * 16;
    int64_t t = tile / (w->ncb * w->nob), cb = tile / w->nob % w->ncb, ob = tile % w->nob;
    int64_t kh = t / KW, kw = t % KW, c0 = cb * WCB;
    float *io = G + tile * WCB * OCB;
    if (first) memset(io, 0, WCB * OCB * sizeof(float));
    const float *xp = xt + ((r0 * p->stride[1] + kh * p->dilation[1]) * g->PW + kw * p->dilation[2]) * cip + c0;
    wtile((int)min64(WCB, C - c0), nr, OW, xp, p->stride[1] * g->PW * cip, p->stride[2] * cip,
          dyt + r0 * OW * w->cop + ob * OCB, w->cop, io, (int)min64(OCB, Co - ob * OCB));
}

/* The zero padding of xT and the dyT columns past C_out, positions [q0, q1) of each */
static void wgrad_zero_pads(const cn_conv_geom *p, const dgeom *g, const wgeom *w, int64_t q0, int64_t q1, float *xt,
                            float *dyt) {
    int64_t C = p->in_channels, Co = p->out_channels, IH = p->in[1], IW = p->in[2], P = p->out[1] * p->out[2];
    int64_t cip = (C + 15) / 16 * 16;
    for (int64_t pos = q0; pos < q1 && pos < g->plane; pos++) {
        int64_t ih = pos / g->PW - p->pad_begin[1], iw = pos % g->PW - p->pad_begin[2];
        if (ih < 0 || ih >= IH || iw < 0 || iw >= IW) memset(xt + pos * cip, 0, (size_t)cip * sizeof(float));
        else if (cip > C) memset(xt + pos * cip + C, 0, (size_t)(cip - C) * sizeof(float));
    }
    for (int64_t pos = q0; pos < q1 && pos < P; pos++)
        if (w->cop > Co) memset(dyt + pos * w->cop + Co, 0, (size_t)(w->cop - Co) * sizeof(float));
}

void cn_conv_backward_weights_direct(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                     void *work) {
    dgeom g = dgeom_of(p);
    wgeom w = wgeom_of(p, &g);
    int64_t C = p->in_channels, Co = p->out_channels, OH = p->out[1], OW = p->out[2];
    int64_t P = OH * OW, rows_chunk = max64(1, 256 / OW), items = wgrad_transpose_items(p);
    int64_t pads = max64(g.plane, P);
    size_t set = wgrad_set_bytes(&w);
    int threads = wgrad_threads(p);
    bool v512 = strcmp(cn_kernels_isa(), "avx512") == 0, by_samples = wgrad_by_samples(p, &w);
    transpose_fn transpose = v512 ? transpose_block : transpose_block_avx2;
    wtile_fn wtile = v512 ? run_wgrad : run_wgrad_avx2;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int th = omp_get_thread_num(), nth = omp_get_num_threads();
        char *mine = (char *)work + (by_samples ? (size_t)th * set : 0);
        float *xt = (float *)mine, *dyt = (float *)(mine + align64(w.xt_floats * sizeof(float)));
        float *G = (float *)((char *)dyt + align64(w.dyt_floats * sizeof(float)));
        if (by_samples) {
            /* this thread's samples, all tiles, into its own xT, dyT and G */
            wgrad_zero_pads(p, &g, &w, 0, pads, xt, dyt);
            int64_t n0 = p->batch * th / nth, n1 = p->batch * (th + 1) / nth;
            for (int64_t n = n0; n < n1; n++) {
                wgrad_transposes(p, &g, &w, transpose, x, dy, n, 0, items, xt, dyt);
                for (int64_t r0 = 0; r0 < OH; r0 += rows_chunk)
                    for (int64_t tile = 0; tile < w.tiles; tile++)
                        wgrad_tile(p, &g, &w, wtile, xt, dyt, G, tile, r0, min64(rows_chunk, OH - r0), n == n0 && r0 == 0);
            }
#pragma omp barrier
        } else {
            /* padding rows and columns of xT stay zero for every sample; the dyT columns past C_out too */
#pragma omp for schedule(static)
            for (int64_t q = 0; q < pads; q += 16) wgrad_zero_pads(p, &g, &w, q, q + 16, xt, dyt);
            for (int64_t n = 0; n < p->batch; n++) {
#pragma omp for schedule(static)
                for (int64_t it = 0; it < items; it++) wgrad_transposes(p, &g, &w, transpose, x, dy, n, it, it + 1, xt, dyt);
                /* implicit barrier: this sample's xT and dyT are complete. Output rows in chunks of about 256
                 * positions, so that a chunk's part of xT and dyT stays in L2 while every tile reads it; a static
                 * schedule gives each thread the same tiles in every chunk, so no barrier is needed between them. */
                for (int64_t r0 = 0; r0 < OH; r0 += rows_chunk) {
#pragma omp for schedule(static) nowait
                    for (int64_t tile = 0; tile < w.tiles; tile++)
                        wgrad_tile(p, &g, &w, wtile, xt, dyt, G, tile, r0, min64(rows_chunk, OH - r0), n == 0 && r0 == 0);
                }
#pragma omp barrier
            }
        }
        /* dw[o][c][t] += G, or the threads' G in thread order */
        int sets = by_samples ? nth : 1;
        size_t g_at = (size_t)((char *)G - mine);
#pragma omp for schedule(static)
        for (int64_t o = 0; o < Co; o++)
            for (int64_t c = 0; c < C; c++)
                for (int64_t t = 0; t < w.taps; t++) {
                    int64_t at = ((t * w.ncb + c / WCB) * w.nob + o / OCB) * WCB * OCB + c % WCB * OCB + o % OCB;
                    float sum = 0;
                    for (int k = 0; k < sets; k++) sum += ((const float *)((const char *)work + (size_t)k * set + g_at))[at];
                    dw[(o * C + c) * w.taps + t] += sum;
                }
    }
}
#else
void cn_conv_forward_direct(const cn_conv_geom *p, const cn_real *x, const cn_real *wt, const cn_real *b, cn_real *y,
                            bool add, void *work) {
    (void)p, (void)x, (void)wt, (void)b, (void)y, (void)add, (void)work;
}
bool cn_conv_direct_wgrad_applies(const cn_conv_geom *p) {
    (void)p;
    return false;
}
size_t cn_conv_direct_wgrad_bytes(const cn_conv_geom *p) {
    (void)p;
    return 0;
}
void cn_conv_backward_weights_direct(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                     void *work) {
    (void)p, (void)x, (void)dy, (void)dw, (void)work;
}
#endif
