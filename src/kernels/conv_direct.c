/* conv_direct.c — a direct forward convolution for AVX-512 (1D/2D, zero padding, any kernel, stride, dilation and
 * groups), vectorised over output channels as oneDNN's direct kernels are, but reading the input in NCHW.
 *
 * The register tile is W <= 14 consecutive output positions of one output row times 32 output channels (28 zmm
 * accumulators). For each GEMM row k = (c, kh, kw) the kernel loads 32 weights (two vectors) and broadcasts the
 * W input values the positions read,
 *   acc[w][0..32) += xpad[c][oh*sh + kh*dh][(ow0 + w)*sw + kw*dw] * wt[k][0..32),
 * so a stride is a constant step between the broadcasts and no lane is wasted on positions that do not exist:
 * a 7x7 or 13x13 plane runs as fast as a 56x56 one, unlike a kernel vectorised over positions. The input is
 * read through one offset per k (c * plane + kh*dh * row + kw*dw) from a zero-padded copy of the sample (made
 * once; x itself when the layer needs no padding, as 1x1 layers).
 *
 * Weights are packed as [group][32-channel block][k][32] (zero rows past C_out/groups): once per call, or once
 * for inference (cn_conv_prepare_weights). Work: per sample, bands of output rows (about 8 tiles); per band and
 * channel block, depth block by depth block (a 32 x 256 weight block stays in L1 while every tile of the band
 * uses it), accumulating in a small per-thread buffer; after the last depth block each tile is transposed in
 * registers (16 x 16) and written to y with the bias or the fused epilogue. Samples go to threads whole when
 * there are at least as many as threads; otherwise (batch 1) the team pads a sample together and splits its
 * (band, channel block) items. Each output is summed in the same order whatever the thread count. */
#include "kernels/conv.h"
#include "kernels/conv_direct.h"
#include "kernels/gemm.h"
#include <omp.h>

enum { OCB = 32, TW = 14, KCD = 256, BAND_TILES = 8 };

typedef struct {
    int64_t PH, PW;       /* rows and columns of the padded input a sample's outputs read */
    bool padded;          /* a zero-padded copy is needed (otherwise x is read in place) */
    int64_t plane;        /* floats per channel of the input read: PH*PW */
    int64_t tiles_row;    /* tiles per output row: ceil(OW / TW) */
    int64_t band_rows;    /* output rows per band */
    int64_t K, cout_g, cin_g, nocb;
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
    g.band_rows = max64(1, min64(OH, BAND_TILES / g.tiles_row));
    g.cin_g = p->in_channels / p->groups, g.cout_g = p->out_channels / p->groups;
    g.K = g.cin_g * p->kernel[1] * p->kernel[2];
    g.nocb = (g.cout_g + OCB - 1) / OCB;
    return g;
}

bool cn_conv_direct_applies(const cn_conv_geom *p) {
#ifdef CN_REAL_IS_DOUBLE
    (void)p;
    return false;
#else
    if (strcmp(cn_kernels_isa(), "avx512") != 0 || p->pad_mode != CN_PAD_ZEROS || p->in[0] != 1 || p->kernel[0] != 1)
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

size_t cn_conv_direct_shared_bytes(const cn_conv_geom *p) {
    if (!cn_conv_direct_applies(p)) return 0;
    dgeom g = dgeom_of(p); /* the row offsets, then a padded sample shared by the team (batch 1) */
    return align64((size_t)g.K * sizeof(int32_t)) +
           (g.padded ? align64((size_t)(p->in_channels * g.plane) * sizeof(cn_real)) : 0);
}

size_t cn_conv_direct_thread_bytes(const cn_conv_geom *p) {
    if (!cn_conv_direct_applies(p)) return 0;
    dgeom g = dgeom_of(p); /* a padded sample, the band's accumulators */
    return (g.padded ? align64((size_t)(p->in_channels * g.plane) * sizeof(cn_real)) : 0) +
           align64((size_t)(g.band_rows * g.tiles_row * 16 * OCB) * sizeof(cn_real));
}

void cn_conv_direct_pack_weights(const cn_conv_geom *p, const cn_real *w, cn_real *out) {
    dgeom g = dgeom_of(p);
    int threads = p->threads > 1 ? p->threads : 1;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && p->groups * g.nocb > 1)
    for (int64_t gb = 0; gb < p->groups * g.nocb; gb++) {
        int64_t grp = gb / g.nocb, b = gb % g.nocb;
        cn_real *dst = out + gb * OCB * g.K;
        for (int64_t k = 0; k < g.K; k++)
            for (int64_t v = 0; v < OCB; v++) {
                int64_t o = b * OCB + v;
                dst[k * OCB + v] = o < g.cout_g ? w[(grp * g.cout_g + o) * g.K + k] : 0;
            }
    }
}

#ifndef CN_REAL_IS_DOUBLE
#include <immintrin.h>
#include "kernels/simd512.h"
#define AVX512 __attribute__((target("avx512f")))

/* The padded copy of channels [c0, c1) of sample x0 (x0: its first plane): rows of PW with the input at
 * (pad_begin[1], pad_begin[2]), zeros elsewhere. */
AVX512 static void pad_channels(const cn_conv_geom *p, const dgeom *g, const float *x0, int64_t c0, int64_t c1,
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

/* acc[W][32] (+)= sum_q in[off[q] + w*SW] * a[q][0..32): W positions (SW apart; SW 0: sw at run time) times 32
 * channels, q in [0, kc). io: the tile's accumulators as [16][32] floats (rows past W untouched). */
static inline __attribute__((always_inline, target("avx512f"))) void tile_kernel(
    const int W, const int SW, int64_t sw, int64_t kc, const float *a, const float *in, const int32_t *off,
    float *io, bool accumulate) {
    __m512 acc[TW][2];
    const int64_t step = SW ? SW : sw;
#pragma GCC unroll 14
    for (int w = 0; w < W; w++) {
        acc[w][0] = accumulate ? _mm512_load_ps(io + w * OCB) : _mm512_setzero_ps();
        acc[w][1] = accumulate ? _mm512_load_ps(io + w * OCB + 16) : _mm512_setzero_ps();
    }
    for (int64_t q = 0; q < kc; q++, a += OCB) {
        __m512 a0 = _mm512_load_ps(a), a1 = _mm512_load_ps(a + 16);
        const float *src = in + off[q];
#pragma GCC unroll 14
        for (int w = 0; w < W; w++) {
            __m512 b = _mm512_set1_ps(src[w * step]);
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
        if (sw == 1) tile_kernel(W, 1, 1, kc, a, in, off, io, accumulate);                                    \
        else if (sw == 2) tile_kernel(W, 2, 2, kc, a, in, off, io, accumulate);                               \
        else tile_kernel(W, 0, sw, kc, a, in, off, io, accumulate);                                           \
        return;

AVX512 static void run_tile(int W, int64_t sw, int64_t kc, const float *a, const float *in, const int32_t *off,
                            float *io, bool accumulate) {
    switch (W) {
        TILE_CASE(1) TILE_CASE(2) TILE_CASE(3) TILE_CASE(4) TILE_CASE(5) TILE_CASE(6) TILE_CASE(7)
        TILE_CASE(8) TILE_CASE(9) TILE_CASE(10) TILE_CASE(11) TILE_CASE(12) TILE_CASE(13) TILE_CASE(14)
    default: return;
    }
}
#undef TILE_CASE

/* A finished tile, io [16][32] with W valid rows, to y: channel o0 + v gets positions [0, W) at yrow + v * positions,
 * through two 16 x 16 register transposes; bias or epilogue per channel; channels >= nvalid are dropped. */
AVX512 static void write_tile(const float *io, int W, int64_t nvalid, float *yrow, int64_t positions,
                              const float *scale, const float *shift, bool relu) {
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
            _mm512_mask_storeu_ps(yrow + o * positions, m, val);
        }
    }
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
AVX512 static void band_block(const cn_conv_geom *p, const dgeom *g, const float *wt, const int32_t *off,
                              const float *in, const float *next, int64_t band, int64_t ocb, const float *scale,
                              const float *shift, bool relu, float *acc, float *y0) {
    int64_t OH = p->out[1], OW = p->out[2], positions = OH * OW, sh = p->stride[1], sw = p->stride[2];
    int64_t oh0 = band * g->band_rows, oh1 = min64(OH, oh0 + g->band_rows);
    const float *a = wt + ocb * OCB * g->K;
    int64_t pf_start = 0, pf_lines = 0, pf_next = 0, pf_per = 0, units = ((g->K + KCD - 1) / KCD) * (oh1 - oh0) * g->tiles_row;
    const float *pf = oh1 < OH ? in : next;
    if (ocb == 0 && pf) {
        int64_t end;
        band_rows_read(p, g, oh1 < OH ? band + 1 : 0, &pf_start, &end);
        pf_lines = (end - pf_start + 15) / 16;
        pf_per = (pf_lines * g->cin_g + units - 1) / units;
    }
    for (int64_t p0 = 0; p0 < g->K; p0 += KCD) {
        int64_t kc = min64(g->K - p0, KCD);
        float *io = acc;
        for (int64_t oh = oh0; oh < oh1; oh++)
            for (int64_t ow = 0; ow < OW; ow += TW, io += 16 * OCB) {
                for (int64_t i = 0; i < pf_per && pf_next < pf_lines * g->cin_g; i++, pf_next++)
                    _mm_prefetch((const char *)(pf + pf_next / pf_lines * g->plane + pf_start + pf_next % pf_lines * 16),
                                 _MM_HINT_T1);
                const float *src = in + oh * sh * g->PW + ow * sw;
                run_tile((int)min64(TW, OW - ow), sw, kc, a + p0 * OCB, src, off + p0, io, p0 > 0);
            }
    }
    int64_t nvalid = min64(OCB, g->cout_g - ocb * OCB), o0 = ocb * OCB;
    float *io = acc;
    for (int64_t oh = oh0; oh < oh1; oh++)
        for (int64_t ow = 0; ow < OW; ow += TW, io += 16 * OCB)
            write_tile(io, (int)min64(TW, OW - ow), nvalid, y0 + o0 * positions + oh * OW + ow, positions,
                       scale ? scale + o0 : NULL, shift ? shift + o0 : NULL, relu);
}

/* Item it = (group, band, channel block) of one sample: in and yn are the sample's input and output. */
AVX512 static void run_item(const cn_conv_geom *p, const dgeom *g, int64_t it, int64_t nbands, const float *wt,
                            const int32_t *off, const float *in, const float *next, const float *b, float *acc,
                            float *yn) {
    const cn_conv_epilogue *e = p->epilogue;
    int64_t grp = it / (nbands * g->nocb), band = it / g->nocb % nbands, ocb = it % g->nocb;
    const float *scale = e ? e->scale + grp * g->cout_g : NULL;
    const float *shift = e ? e->shift + grp * g->cout_g : b ? b + grp * g->cout_g : NULL;
    band_block(p, g, wt + grp * g->nocb * OCB * g->K, off, in + grp * g->cin_g * g->plane,
               next && grp + 1 == p->groups ? next : NULL, band, ocb, scale, shift, e && e->relu, acc,
               yn + grp * g->cout_g * p->out[1] * p->out[2]);
}

/* wt: cn_conv_direct_pack_weights's layout (prepared, or packed by the caller into `work`'s front). */
void cn_conv_forward_direct(const cn_conv_geom *p, const cn_real *x, const cn_real *wt, const cn_real *b, cn_real *y,
                            void *work) {
    dgeom g = dgeom_of(p);
    int64_t KH = p->kernel[1], KW = p->kernel[2], positions = p->out[1] * p->out[2], in_plane = p->in[1] * p->in[2];
    int32_t *off = (int32_t *)work;
    for (int64_t c = 0, k = 0; c < g.cin_g; c++)
        for (int64_t kh = 0; kh < KH; kh++)
            for (int64_t kw = 0; kw < KW; kw++, k++)
                off[k] = (int32_t)(c * g.plane + kh * p->dilation[1] * g.PW + kw * p->dilation[2]);
    char *shared = (char *)work + align64((size_t)g.K * sizeof(int32_t));
    char *slots = (char *)work + cn_conv_direct_shared_bytes(p);
    size_t slot = cn_conv_direct_thread_bytes(p);
    size_t pad_bytes = g.padded ? align64((size_t)(p->in_channels * g.plane) * sizeof(cn_real)) : 0;
    int64_t nbands = (p->out[1] + g.band_rows - 1) / g.band_rows, items = p->groups * nbands * g.nocb;
    int threads = p->threads > 1 ? p->threads : 1;
    bool whole = p->batch >= threads; /* each thread takes whole samples */
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        char *mine = slots + (size_t)omp_get_thread_num() * slot;
        float *acc = (float *)(mine + pad_bytes);
        float *padbuf = whole ? (float *)mine : (float *)shared;
        for (int64_t n = 0; n < p->batch; n++) {
            if (whole && n % threads != omp_get_thread_num()) continue;
            const float *x0 = x + n * p->in_channels * in_plane;
            if (g.padded) {
                if (whole) {
                    pad_channels(p, &g, x0, 0, p->in_channels, padbuf);
                } else {
#pragma omp for schedule(static)
                    for (int64_t c = 0; c < p->in_channels; c++) pad_channels(p, &g, x0, c, c + 1, padbuf);
                }
            }
            const float *in = g.padded ? padbuf : x0;
            float *yn = y + n * p->out_channels * positions;
            if (whole) {
                /* in place, the last band prefetches this thread's next sample */
                const float *next = !g.padded && n + threads < p->batch ? x0 + threads * p->in_channels * in_plane : NULL;
                for (int64_t it = 0; it < items; it++) run_item(p, &g, it, nbands, wt, off, in, next, b, acc, yn);
            } else {
#pragma omp for schedule(static)
                for (int64_t it = 0; it < items; it++) run_item(p, &g, it, nbands, wt, off, in, NULL, b, acc, yn);
            } /* implicit barrier: the shared padded sample is free again */
        }
    }
}
#else
void cn_conv_forward_direct(const cn_conv_geom *p, const cn_real *x, const cn_real *wt, const cn_real *b, cn_real *y,
                            void *work) {
    (void)p, (void)x, (void)wt, (void)b, (void)y, (void)work;
}
#endif
