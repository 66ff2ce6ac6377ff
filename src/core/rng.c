/* rng.c — PCG32 (O'Neill, pcg-random.org): integer arithmetic only, so a seed gives the same stream on
 * every machine. Normals use Box-Muller in double and round once to float. */
#include "internal.h"
#include <math.h>

void cn_rng_seed(cn_rng *r, uint64_t seed, uint64_t stream) {
    r->state = 0;
    r->inc = (stream << 1u) | 1u;
    cn_rng_u32(r);
    r->state += seed;
    cn_rng_u32(r);
}

uint32_t cn_rng_u32(cn_rng *r) {
    uint64_t old = r->state;
    r->state = old * 6364136223846793005ULL + r->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

uint32_t cn_rng_below(cn_rng *r, uint32_t bound) {
    if (bound == 0) return 0;
    uint32_t threshold = (uint32_t)(-bound) % bound; /* reject the short top range: no modulo bias */
    for (;;) {
        uint32_t x = cn_rng_u32(r);
        if (x >= threshold) return x % bound;
    }
}

float cn_rng_uniform(cn_rng *r) { return (float)(cn_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

float cn_rng_normal(cn_rng *r) {
    double u1 = ((double)(cn_rng_u32(r) >> 8) + 1.0) / 16777217.0; /* (0, 1]: log is finite */
    double u2 = (double)(cn_rng_u32(r) >> 8) / 16777216.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void cn_rng_fill_uniform(cn_rng *r, cn_real *x, int64_t n, double lo, double hi) {
    for (int64_t i = 0; i < n; i++) x[i] = (cn_real)(lo + (hi - lo) * (double)cn_rng_uniform(r));
}

void cn_rng_fill_normal(cn_rng *r, cn_real *x, int64_t n, double mean, double std) {
    for (int64_t i = 0; i < n; i++) x[i] = (cn_real)(mean + std * (double)cn_rng_normal(r));
}
