/* peak.c — fp32 FMA-throughput probe: 12 independent accumulator chains per thread (more than latency x
 * ports), AVX-512 (zmm) and AVX2 (ymm), so only the FMA ports limit. Prints GFLOP/s for 1 and 2 threads,
 * best of 5 repeats; the AVX-512 probe only where the CPU has it.
 *   cc -O2 -fopenmp bench/peak.c -o peak && ./peak */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>

#define ITERS 100000000L

#define CHAINS(T, FMA, SET)                                                                                    \
    T a = SET(0.999999f), b = SET(1e-7f);                                                                     \
    T c0 = SET(0), c1 = SET(1), c2 = SET(2), c3 = SET(3), c4 = SET(4), c5 = SET(5);                           \
    T c6 = SET(6), c7 = SET(7), c8 = SET(8), c9 = SET(9), c10 = SET(10), c11 = SET(11);                       \
    for (long it = 0; it < ITERS; it++) {                                                                     \
        c0 = FMA(c0, a, b), c1 = FMA(c1, a, b), c2 = FMA(c2, a, b), c3 = FMA(c3, a, b);                       \
        c4 = FMA(c4, a, b), c5 = FMA(c5, a, b), c6 = FMA(c6, a, b), c7 = FMA(c7, a, b);                       \
        c8 = FMA(c8, a, b), c9 = FMA(c9, a, b), c10 = FMA(c10, a, b), c11 = FMA(c11, a, b);                   \
    }                                                                                                         \
    T s = c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11;

__attribute__((target("avx512f"))) static float run512(void) {
    CHAINS(__m512, _mm512_fmadd_ps, _mm512_set1_ps)
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx2,fma"))) static float run256(void) {
    CHAINS(__m256, _mm256_fmadd_ps, _mm256_set1_ps)
    return s[0] + s[7];
}

static double measure(int wide, int threads) {
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = omp_get_wtime();
        float sink = 0;
#pragma omp parallel num_threads(threads) reduction(+ : sink)
        sink += wide ? run512() : run256();
        double t = omp_get_wtime() - t0;
        double g = 2.0 * 12 * ITERS * (wide ? 16 : 8) * threads / t / 1e9;
        if (g > best) best = g;
        if (sink == 12345.f) printf(" ");
    }
    return best;
}

int main(void) {
    for (int threads = 1; threads <= 2; threads++) {
        if (__builtin_cpu_supports("avx512f"))
            printf("threads %d: avx512 %.1f GFLOP/s, avx2 %.1f GFLOP/s\n", threads, measure(1, threads),
                   measure(0, threads));
        else
            printf("threads %d: avx2 %.1f GFLOP/s (no AVX-512 on this CPU)\n", threads, measure(0, threads));
        fflush(stdout);
    }
    return 0;
}
