/* threaded.c — the elementwise, pooling and batch-norm kernels split over OpenMP threads: the default dispatch
 * (the _ref functions stay as the twins). Work is cut where the reference's arithmetic is independent —
 * elements for activations, planes for pooling, channels for batch norm — and each piece runs exactly the
 * reference's operations in the reference's order, so the results are bit-identical to the _ref functions for
 * any thread count (tests/test_threaded.c checks that). Small tensors (fewer than PAR_MIN elements) and calls
 * from inside a parallel region run serially. The loops themselves are the reference's simple loops, which the
 * compiler vectorises. */
#include "kernels/act.h"
#include "kernels/gemm.h"
#include "kernels/norm.h"
#include "kernels/pool.h"
#include "kernels/tensor.h"
#include <omp.h>
#include <string.h>

enum { PAR_MIN = 1 << 15, CHUNK_ALIGN = 64 };

static bool go_parallel(int64_t work) { return work >= PAR_MIN && !omp_in_parallel() && omp_get_max_threads() > 1; }

/* ---- activations: contiguous chunks of the element range */
void cn_act_forward_par(cn_act act, cn_real alpha, const cn_real *x, cn_real *y, int64_t n) {
    if (!go_parallel(n)) {
        cn_act_forward_ref(act, alpha, x, y, n);
        return;
    }
#pragma omp parallel
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t per = (n / nt + CHUNK_ALIGN - 1) / CHUNK_ALIGN * CHUNK_ALIGN, lo = t * per;
        int64_t hi = lo + per < n ? lo + per : n;
        if (lo < hi) cn_act_forward_ref(act, alpha, x + lo, y + lo, hi - lo);
    }
}

void cn_act_backward_par(cn_act act, cn_real alpha, const cn_real *x, const cn_real *y, const cn_real *dy, cn_real *dx,
                         int64_t n, bool set) {
    if (!go_parallel(n)) {
        cn_act_backward_ref(act, alpha, x, y, dy, dx, n, set);
        return;
    }
#pragma omp parallel
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t per = (n / nt + CHUNK_ALIGN - 1) / CHUNK_ALIGN * CHUNK_ALIGN, lo = t * per;
        int64_t hi = lo + per < n ? lo + per : n;
        if (lo < hi)
            cn_act_backward_ref(act, alpha, x ? x + lo : NULL, y ? y + lo : NULL, dy + lo, dx + lo, hi - lo, set);
    }
}

/* ---- pooling: whole planes per thread */
static int64_t plane_size(const int64_t v[3]) { return v[0] * v[1] * v[2]; }

/* Without argmax (evaluation), 2D windows: the same maximum as the reference, window rows outer and columns
 * inner for every output row at once (row loops the compiler vectorises instead of a branchy loop per output).
 * The combination order per output is the reference's (raster order within the window, the first of equal
 * values kept, NaN propagating), so the values are bit-identical. */
static inline cn_real max_first(cn_real best, cn_real v) { return v > best || v != v ? v : best; }

/* Window column kw: the input column of output 0 (*iw0) and the outputs [*lo, *hi) whose column
 * iw0 + e*stride lies in the input row. */
static void window_cols(const cn_pool_geom *geo, int64_t kw, int64_t *iw0, int64_t *lo, int64_t *hi) {
    const int64_t IW = geo->in[2], s2 = geo->stride[2];
    *iw0 = kw * geo->dilation[2] - geo->pad[2];
    *lo = *iw0 >= 0 ? 0 : (-*iw0 + s2 - 1) / s2;
    *hi = IW - *iw0 <= 0 ? 0 : (IW - *iw0 + s2 - 1) / s2;
    if (*hi > geo->out[2]) *hi = geo->out[2];
}

static void maxpool_plane_2d(const cn_pool_geom *geo, const cn_real *x, cn_real *y) {
    const int64_t IH = geo->in[1], IW = geo->in[2], OH = geo->out[1], OW = geo->out[2];
    const int64_t s1 = geo->stride[1], s2 = geo->stride[2], d1 = geo->dilation[1];
    for (int64_t oh = 0; oh < OH; oh++) {
        cn_real *yr = y + oh * OW;
        for (int64_t ow = 0; ow < OW; ow++) yr[ow] = -INFINITY;
        for (int64_t kh = 0; kh < geo->kernel[1]; kh++) {
            int64_t ih = oh * s1 - geo->pad[1] + kh * d1;
            if (ih < 0 || ih >= IH) continue;
            const cn_real *row = x + ih * IW;
            for (int64_t kw = 0; kw < geo->kernel[2]; kw++) {
                int64_t iw0, lo, hi;
                window_cols(geo, kw, &iw0, &lo, &hi);
                if (s2 == 1)
                    for (int64_t e = lo; e < hi; e++) yr[e] = max_first(yr[e], row[iw0 + e]);
                else if (s2 == 2)
                    for (int64_t e = lo; e < hi; e++) yr[e] = max_first(yr[e], row[iw0 + 2 * e]);
                else
                    for (int64_t e = lo; e < hi; e++) yr[e] = max_first(yr[e], row[iw0 + e * s2]);
            }
        }
    }
}

/* The same with argmax (training), taking a value exactly where the reference does: the first real position of
 * the window, then a larger value or a NaN. */
static void maxpool_plane_2d_argmax(const cn_pool_geom *geo, const cn_real *x, cn_real *y, int64_t *am) {
    const int64_t IH = geo->in[1], IW = geo->in[2], OH = geo->out[1], OW = geo->out[2];
    const int64_t s1 = geo->stride[1], s2 = geo->stride[2], d1 = geo->dilation[1];
    for (int64_t oh = 0; oh < OH; oh++) {
        cn_real *yr = y + oh * OW;
        int64_t *ar = am + oh * OW;
        for (int64_t ow = 0; ow < OW; ow++) yr[ow] = -INFINITY, ar[ow] = -1;
        for (int64_t kh = 0; kh < geo->kernel[1]; kh++) {
            int64_t ih = oh * s1 - geo->pad[1] + kh * d1;
            if (ih < 0 || ih >= IH) continue;
            const cn_real *row = x + ih * IW;
            for (int64_t kw = 0; kw < geo->kernel[2]; kw++) {
                int64_t iw0, lo, hi;
                window_cols(geo, kw, &iw0, &lo, &hi);
                for (int64_t e = lo; e < hi; e++) {
                    int64_t at = iw0 + e * s2;
                    cn_real v = row[at];
                    if (ar[e] < 0 || v > yr[e] || v != v) yr[e] = v, ar[e] = ih * IW + at;
                }
            }
        }
    }
}

#ifndef CN_REAL_IS_DOUBLE
#include <immintrin.h>
#include "kernels/simd256.h"
/* The 2x2 stride-2 unpadded window (LeNet's and VGG's pools) on AVX2, with argmax (am) or without (NULL): 8
 * outputs per step from 16 columns of each of the two input rows, split into their even and odd columns; each
 * candidate is taken where the reference takes it (a larger value or a NaN; the window's first value to start),
 * so values and indices are identical. Zen 3, LeNet's pool1 (64 x 20 planes of 28x28, one thread): 2.3 -> 0.4 ms
 * with argmax (the branchy row loop), 0.8 -> 0.3 ms without. */
static bool pool2x2(const cn_pool_geom *geo) {
    return geo->kernel[1] == 2 && geo->kernel[2] == 2 && geo->stride[1] == 2 && geo->stride[2] == 2 &&
           geo->pad[1] == 0 && geo->pad[2] == 0 && geo->dilation[1] == 1 && geo->dilation[2] == 1 &&
           2 * geo->out[1] <= geo->in[1] && 2 * geo->out[2] <= geo->in[2] && /* every window inside (not ceil mode) */
           geo->in[2] < (1 << 30) / geo->in[1];
}

/* best/idx take v/at where v > best or v is NaN */
__attribute__((target("avx2,fma"))) static inline void take(__m256 v, __m256i at, __m256 *best, __m256i *idx) {
    __m256 m = _mm256_or_ps(_mm256_cmp_ps(v, *best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    *best = _mm256_blendv_ps(*best, v, m);
    *idx = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(*idx), _mm256_castsi256_ps(at), m));
}

/* The 8 windows whose two rows are a (columns a0, a1) and b (b0, b1), the first window's top-left at index at0:
 * each window's maximum and its index, candidates in the reference's order */
__attribute__((target("avx2,fma"), always_inline)) static inline void windows8(__m256 a0, __m256 a1, __m256 b0,
                                                                               __m256 b1, __m256i at0, int64_t IW,
                                                                               __m256 *best, __m256i *idx) {
    const __m256i one = _mm256_set1_epi32(1), at1 = _mm256_add_epi32(at0, _mm256_set1_epi32((int)IW));
    *idx = at0;
    *best = even_lanes(a0, a1);
    take(odd_lanes(a0, a1), _mm256_add_epi32(at0, one), best, idx);
    take(even_lanes(b0, b1), at1, best, idx);
    take(odd_lanes(b0, b1), _mm256_add_epi32(at1, one), best, idx);
}

__attribute__((target("avx2,fma"))) static void maxpool_plane_2x2(const cn_pool_geom *geo, const float *x, float *y,
                                                                 int64_t *am) {
    const int64_t IW = geo->in[2], OH = geo->out[1], OW = geo->out[2];
    const __m256i step = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (int64_t oh = 0; oh < OH; oh++) { /* every window lies inside (pool2x2: 2 OW <= IW) */
        const float *r0 = x + 2 * oh * IW, *r1 = r0 + IW;
        float *yr = y + oh * OW;
        int64_t *ar = am ? am + oh * OW : NULL, e = 0;
        __m256 best;
        __m256i idx;
        for (; e + 8 <= OW; e += 8) {
            __m256i at = _mm256_add_epi32(_mm256_set1_epi32((int)(2 * oh * IW + 2 * e)), step);
            windows8(_mm256_loadu_ps(r0 + 2 * e), _mm256_loadu_ps(r0 + 2 * e + 8), _mm256_loadu_ps(r1 + 2 * e),
                     _mm256_loadu_ps(r1 + 2 * e + 8), at, IW, &best, &idx);
            _mm256_storeu_ps(yr + e, best);
            if (!am) continue;
            _mm256_storeu_si256((__m256i *)(ar + e), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(idx)));
            _mm256_storeu_si256((__m256i *)(ar + e + 4), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(idx, 1)));
        }
        if (e < OW) { /* the last 1-7 outputs: masked loads of their 2-14 columns (nothing past them is read),
                       * stored through a buffer (LeNet's pool2: 7 a row) */
            int rem = (int)(OW - e);
            __m256i m0 = first_lanes(2 * rem < 8 ? 2 * rem : 8), m1 = first_lanes(2 * rem > 8 ? 2 * rem - 8 : 0);
            __m256i at = _mm256_add_epi32(_mm256_set1_epi32((int)(2 * oh * IW + 2 * e)), step);
            windows8(_mm256_maskload_ps(r0 + 2 * e, m0), _mm256_maskload_ps(r0 + 2 * e + 8, m1),
                     _mm256_maskload_ps(r1 + 2 * e, m0), _mm256_maskload_ps(r1 + 2 * e + 8, m1), at, IW, &best, &idx);
            float yb[8];
            int32_t ib[8];
            _mm256_storeu_ps(yb, best);
            _mm256_storeu_si256((__m256i *)ib, idx);
            for (int k = 0; k < rem; k++) {
                yr[e + k] = yb[k];
                if (am) ar[e + k] = ib[k];
            }
        }
    }
}

/* Any 2D window with argmax (training) on AVX2, column stride 1 or 2, column dilation 1: 8 outputs of a row per
 * step. Each input row a window row reads is copied once per output row into a buffer with room on both sides,
 * so every candidate column is one load (stride 2: two loads and the even columns); lanes whose candidate lies in
 * the padding are left out by a mask, and a lane takes its first real candidate unconditionally (the window's
 * raster order, as the reference), then a larger value or a NaN: values and indices identical to the reference.
 * Zen 3, ResNet-50's 3x3 stride-2 pool of 64 x 112x112 planes in a training step, batch 16, two threads: forward
 * 49-55 -> 12 ms (the branchy per-output loop mispredicts often on random data). */
enum { POOL_ROW_MAX = 4096, POOL_PAD_MAX = 64 };
static bool pool_vec_ok(const cn_pool_geom *geo) {
    return (geo->stride[2] == 1 || geo->stride[2] == 2) && geo->dilation[2] == 1 && geo->in[2] <= POOL_ROW_MAX &&
           geo->pad[2] <= POOL_PAD_MAX && geo->kernel[2] <= POOL_PAD_MAX && geo->in[1] < (1 << 30) / geo->in[2];
}

__attribute__((target("avx2,fma"))) static void maxpool_plane_argmax_avx2(const cn_pool_geom *geo, const float *x,
                                                                          float *y, int64_t *am) {
    const int64_t IH = geo->in[1], IW = geo->in[2], OH = geo->out[1], OW = geo->out[2], s2 = geo->stride[2];
    const int64_t KW = geo->kernel[2], OFF = POOL_PAD_MAX, chunks = (OW + 7) / 8;
    /* the row at OFF; reads reach from OFF - pad to past OFF + IW + pad + 16 */
    float buf[POOL_ROW_MAX + 3 * POOL_PAD_MAX + 48] = {0};
    float bst[POOL_ROW_MAX + 8]; /* per output column of the row: best so far, its index, whether it has one */
    int32_t ix[POOL_ROW_MAX + 8], hv[POOL_ROW_MAX + 8];
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), step = s2 == 1 ? lane : _mm256_add_epi32(lane, lane);
    int64_t iw0[POOL_PAD_MAX], lo[POOL_PAD_MAX], hi[POOL_PAD_MAX]; /* per window column, see window_cols */
    for (int64_t kw = 0; kw < KW; kw++) window_cols(geo, kw, &iw0[kw], &lo[kw], &hi[kw]);
    for (int64_t oh = 0; oh < OH; oh++) {
        for (int64_t c = 0; c < chunks; c++) {
            _mm256_storeu_ps(bst + 8 * c, _mm256_setzero_ps());
            _mm256_storeu_si256((__m256i *)(ix + 8 * c), _mm256_set1_epi32(-1));
            _mm256_storeu_si256((__m256i *)(hv + 8 * c), _mm256_setzero_si256());
        }
        for (int64_t kh = 0; kh < geo->kernel[1]; kh++) {
            int64_t ih = oh * geo->stride[1] - geo->pad[1] + kh * geo->dilation[1];
            if (ih < 0 || ih >= IH) continue;
            memcpy(buf + OFF, x + ih * IW, (size_t)IW * sizeof(float));
            for (int64_t c = 0; c < chunks; c++) {
                int64_t e = 8 * c;
                __m256 best = _mm256_loadu_ps(bst + e);
                __m256i idx = _mm256_loadu_si256((const __m256i *)(ix + e));
                __m256i have = _mm256_loadu_si256((const __m256i *)(hv + e));
                __m256i col = _mm256_add_epi32(_mm256_set1_epi32((int)e), lane); /* output column of each lane */
                for (int64_t kw = 0; kw < KW; kw++) {
                    __m256i ok = _mm256_and_si256(_mm256_cmpgt_epi32(col, _mm256_set1_epi32((int)lo[kw] - 1)),
                                                  _mm256_cmpgt_epi32(_mm256_set1_epi32((int)hi[kw]), col));
                    const float *src = buf + OFF + iw0[kw] + e * s2;
                    __m256 v = s2 == 1 ? _mm256_loadu_ps(src) : even_lanes(_mm256_loadu_ps(src), _mm256_loadu_ps(src + 8));
                    __m256i at = _mm256_add_epi32(_mm256_set1_epi32((int)(ih * IW + iw0[kw] + e * s2)), step);
                    __m256 m = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
                    m = _mm256_or_ps(m, _mm256_castsi256_ps(_mm256_andnot_si256(have, ok))); /* a lane's first */
                    m = _mm256_and_ps(m, _mm256_castsi256_ps(ok));
                    best = _mm256_blendv_ps(best, v, m);
                    idx = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(idx), _mm256_castsi256_ps(at), m));
                    have = _mm256_or_si256(have, ok);
                }
                _mm256_storeu_ps(bst + e, best);
                _mm256_storeu_si256((__m256i *)(ix + e), idx);
                _mm256_storeu_si256((__m256i *)(hv + e), have);
            }
        }
        /* a window wholly in the padding has no real candidate: -inf and index -1, as the reference */
        int64_t w = 0;
        for (; w + 8 <= OW; w += 8) {
            __m256i h = _mm256_loadu_si256((const __m256i *)(hv + w)), i = _mm256_loadu_si256((const __m256i *)(ix + w));
            _mm256_storeu_ps(y + oh * OW + w,
                             _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), _mm256_loadu_ps(bst + w), _mm256_castsi256_ps(h)));
            _mm256_storeu_si256((__m256i *)(am + oh * OW + w), _mm256_cvtepi32_epi64(_mm256_castsi256_si128(i)));
            _mm256_storeu_si256((__m256i *)(am + oh * OW + w + 4), _mm256_cvtepi32_epi64(_mm256_extracti128_si256(i, 1)));
        }
        for (; w < OW; w++) y[oh * OW + w] = hv[w] ? bst[w] : -INFINITY, am[oh * OW + w] = ix[w];
    }
}
#endif

void cn_maxpool_forward_par(const cn_pool_geom *geo, int64_t planes, const cn_real *x, cn_real *y, int64_t *argmax) {
    int64_t in = plane_size(geo->in), out = plane_size(geo->out);
    bool rows = geo->in[0] == 1 && geo->kernel[0] == 1 && geo->out[0] == 1;
    bool par = go_parallel(planes * (in + out)) && planes >= 2;
    if (!par && !rows) {
        cn_maxpool_forward_ref(geo, planes, x, y, argmax);
        return;
    }
#ifndef CN_REAL_IS_DOUBLE
    if (rows && pool2x2(geo) && (strcmp(cn_kernels_isa(), "avx2") == 0 || strcmp(cn_kernels_isa(), "avx512") == 0)) {
#pragma omp parallel for schedule(static) if (par)
        for (int64_t p = 0; p < planes; p++)
            maxpool_plane_2x2(geo, x + p * in, y + p * out, argmax ? argmax + p * out : NULL);
        return;
    }
#endif
#ifndef CN_REAL_IS_DOUBLE
    if (rows && argmax && pool_vec_ok(geo) && strcmp(cn_kernels_isa(), "avx2") == 0) {
#pragma omp parallel for schedule(static) if (par)
        for (int64_t p = 0; p < planes; p++) maxpool_plane_argmax_avx2(geo, x + p * in, y + p * out, argmax + p * out);
        return;
    }
#endif
#pragma omp parallel for schedule(static) if (par)
    for (int64_t p = 0; p < planes; p++) {
        if (rows && argmax) maxpool_plane_2d_argmax(geo, x + p * in, y + p * out, argmax + p * out);
        else if (rows) maxpool_plane_2d(geo, x + p * in, y + p * out);
        else cn_maxpool_forward_ref(geo, 1, x + p * in, y + p * out, argmax ? argmax + p * out : NULL);
    }
}

void cn_maxpool_backward_par(int64_t planes, int64_t in_plane, int64_t out_plane, const cn_real *dy,
                             const int64_t *argmax, cn_real *dx, bool set) {
    if (!go_parallel(planes * (set ? in_plane : out_plane)) || planes < 2) {
        cn_maxpool_backward_ref(planes, in_plane, out_plane, dy, argmax, dx, set);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; p++)
        cn_maxpool_backward_ref(1, in_plane, out_plane, dy + p * out_plane, argmax + p * out_plane, dx + p * in_plane,
                                set);
}

void cn_avgpool_forward_par(const cn_pool_geom *geo, int64_t planes, const cn_real *x, cn_real *y) {
    int64_t in = plane_size(geo->in), out = plane_size(geo->out);
    if (!go_parallel(planes * (in + out)) || planes < 2) {
        cn_avgpool_forward_ref(geo, planes, x, y);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; p++) cn_avgpool_forward_ref(geo, 1, x + p * in, y + p * out);
}

void cn_avgpool_backward_par(const cn_pool_geom *geo, int64_t planes, const cn_real *dy, cn_real *dx) {
    int64_t in = plane_size(geo->in), out = plane_size(geo->out);
    if (!go_parallel(planes * (in + out)) || planes < 2) {
        cn_avgpool_backward_ref(geo, planes, dy, dx);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; p++) cn_avgpool_backward_ref(geo, 1, dy + p * out, dx + p * in);
}

void cn_adaptive_avgpool_forward_par(const int64_t in[3], const int64_t out[3], int64_t planes, const cn_real *x,
                                     cn_real *y) {
    int64_t ni = plane_size(in), no = plane_size(out);
    if (!go_parallel(planes * (ni + no)) || planes < 2) {
        cn_adaptive_avgpool_forward_ref(in, out, planes, x, y);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; p++) cn_adaptive_avgpool_forward_ref(in, out, 1, x + p * ni, y + p * no);
}

void cn_adaptive_avgpool_backward_par(const int64_t in[3], const int64_t out[3], int64_t planes, const cn_real *dy,
                                      cn_real *dx) {
    int64_t ni = plane_size(in), no = plane_size(out);
    if (!go_parallel(planes * (ni + no)) || planes < 2) {
        cn_adaptive_avgpool_backward_ref(in, out, planes, dy, dx);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < planes; p++) cn_adaptive_avgpool_backward_ref(in, out, 1, dy + p * no, dx + p * ni);
}

/* ---- batch norm: channels per thread, each channel's sums in the reference's order (see norm_ref.c) */
void cn_batchnorm_stats_par(const cn_real *x, int64_t n, int64_t c, int64_t s, double *mean, double *var) {
    if (!go_parallel(n * c * s) || c < 2) {
        cn_batchnorm_stats_ref(x, n, c, s, mean, var);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++) cn_batchnorm_channel_stats(x, n, c, s, ch, &mean[ch], &var[ch]);
}

void cn_batchnorm_apply_par(const cn_real *x, cn_real *y, int64_t n, int64_t c, int64_t s, const double *mean,
                            const double *invstd, const cn_real *weight, const cn_real *bias) {
    if (!go_parallel(n * c * s) || n * c < 2) {
        cn_batchnorm_apply_ref(x, y, n, c, s, mean, invstd, weight, bias);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t plane = 0; plane < n * c; plane++) {
        int64_t ch = plane % c;
        double scale = invstd[ch] * (weight ? (double)weight[ch] : 1.0), shift = bias ? (double)bias[ch] : 0.0;
        double mu = mean[ch];
        const cn_real *p = x + plane * s;
        cn_real *q = y + plane * s;
        for (int64_t k = 0; k < s; k++) q[k] = (cn_real)(((double)p[k] - mu) * scale + shift);
    }
}

void cn_batchnorm_backward_par(const cn_real *x, const cn_real *dy, cn_real *dx, int64_t n, int64_t c, int64_t s,
                               const double *mean, const double *invstd, const cn_real *weight, cn_real *dweight,
                               cn_real *dbias, bool set_dx) {
    if (!go_parallel(n * c * s) || c < 2) {
        cn_batchnorm_backward_ref(x, dy, dx, n, c, s, mean, invstd, weight, dweight, dbias, set_dx);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t ch = 0; ch < c; ch++)
        cn_batchnorm_channel_backward(x, dy, dx, n, c, s, ch, mean[ch], invstd[ch], weight, dweight, dbias, set_dx);
}

/* ---- contiguous copy or zero fill */
void cn_fill_par(cn_real *dst, const cn_real *src, int64_t n) {
    bool par = go_parallel(n / 8); /* memory traffic only: worth two threads from 256K elements */
#pragma omp parallel if (par)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t per = (n / nt + CHUNK_ALIGN - 1) / CHUNK_ALIGN * CHUNK_ALIGN, lo = t * per;
        int64_t hi = lo + per < n ? lo + per : n;
        if (lo < hi) {
            if (src) memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof(cn_real));
            else memset(dst + lo, 0, (size_t)(hi - lo) * sizeof(cn_real));
        }
    }
}
