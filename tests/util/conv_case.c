/* conv_case.c — see conv_case.h. */
#include "conv_case.h"
#include <stdlib.h>

cn_conv_geom conv_case_geom(const conv_case *c) {
    cn_conv_geom p = {.batch = c->batch, .in_channels = c->cin, .out_channels = c->cout, .groups = c->groups,
                      .pad_mode = c->mode};
    for (int i = 0; i < 3; i++) {
        int j = i - (3 - c->nd);
        p.in[i] = j < 0 ? 1 : c->in[j];
        p.kernel[i] = j < 0 ? 1 : c->k[j];
        p.stride[i] = j < 0 ? 1 : c->s[j];
        p.dilation[i] = j < 0 ? 1 : c->d[j];
        p.pad_begin[i] = j < 0 ? 0 : c->pb[j];
        int64_t pe = j < 0 ? 0 : c->pe[j];
        p.out[i] = (p.in[i] + p.pad_begin[i] + pe - p.dilation[i] * (p.kernel[i] - 1) - 1) / p.stride[i] + 1;
    }
    return p;
}

cn_real *conv_case_random(int64_t n, uint64_t seed, uint64_t stream) {
    /* 64-byte aligned like the library's tensors (kernels may take an aligned-only path, streamed stores) */
    size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(cn_real) + 63) / 64 * 64;
    cn_real *b = aligned_alloc(64, bytes);
    cn_rng r;
    cn_rng_seed(&r, seed, stream);
    cn_rng_fill_uniform(&r, b, n, -1, 1);
    return b;
}
