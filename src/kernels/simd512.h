/* simd512.h — small AVX-512 helpers shared by the kernels (float build only; include after <immintrin.h>). */
#ifndef CN_KERNELS_SIMD512_H
#define CN_KERNELS_SIMD512_H

/* r[i] = column i of the 16 x 16 matrix whose row j was r[j]. */
__attribute__((target("avx512f"), always_inline)) static inline void transpose16(__m512 r[16]) {
    __m512 t[16];
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    /* r[4b + j] now holds, in each 128-bit lane L, elements 4L..4L+3 of rows 4b..4b+3, column group j:
     * combine the 128-bit lanes of the four blocks b */
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        __m512 a0 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0x44), a1 = _mm512_shuffle_f32x4(r[j], r[4 + j], 0xEE);
        __m512 a2 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0x44), a3 = _mm512_shuffle_f32x4(r[8 + j], r[12 + j], 0xEE);
        t[j] = _mm512_shuffle_f32x4(a0, a2, 0x88);
        t[4 + j] = _mm512_shuffle_f32x4(a0, a2, 0xDD);
        t[8 + j] = _mm512_shuffle_f32x4(a1, a3, 0x88);
        t[12 + j] = _mm512_shuffle_f32x4(a1, a3, 0xDD);
    }
#pragma GCC unroll 16
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

#endif
