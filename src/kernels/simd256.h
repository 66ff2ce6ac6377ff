/* simd256.h — small AVX2 helpers shared by the kernels (float build only; include after <immintrin.h>). */
#ifndef CN_KERNELS_SIMD256_H
#define CN_KERNELS_SIMD256_H

/* r[i] = column i of the 8 x 8 matrix whose row j was r[j]. */
__attribute__((target("avx2,fma"), always_inline)) static inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]), t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44), u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44), u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

/* The lane mask of the first n lanes (none for n <= 0, all for n >= 8), for _mm256_maskload_ps or an AND. A masked
 * load within a cache line is about as fast as a plain one on Zen 3; rows of masked loads that cross lines ran the
 * depthwise plane copy 3x slower than plain loads and an AND (conv_depthwise_rows.c). */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256i first_lanes(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* The first n < 8 lanes of v to dst, one by one: a masked store (vmaskmovps) costs about 15 cycles on Zen 3,
 * 14x a full store and 3.5x this. */
__attribute__((target("avx2,fma"), always_inline)) static inline void store_lanes(float *dst, __m256 v, int64_t n) {
    float tmp[8];
    _mm256_storeu_ps(tmp, v);
    for (int64_t i = 0; i < n; i++) dst[i] = tmp[i];
}

/* The sum of the 8 lanes of v (in float: halves, then pairs, then the last two) */
__attribute__((target("avx2,fma"), always_inline)) static inline float sum_lanes8(__m256 v) {
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    return _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)));
}

/* The even (odd) elements of the 16 floats lo, hi in order: 8 from each pair of columns (or of a tile's pair) */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 even_lanes(__m256 lo, __m256 hi) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
}
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 odd_lanes(__m256 lo, __m256 hi) {
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
}

#endif
