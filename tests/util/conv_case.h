/* conv_case.h — a convolution problem written compactly for kernel tests (test_conv, test_conv_fast): the
 * spatial attributes of nd (1..3) axes, turned into the kernels' 3D geometry with unit leading axes. */
#ifndef CN_TEST_CONV_CASE_H
#define CN_TEST_CONV_CASE_H

#include "kernels/conv.h"

typedef struct {
    int nd, batch, cin, cout, groups;
    int in[3], k[3], s[3], d[3], pb[3], pe[3];
    cn_pad_mode mode;
    int bias;
} conv_case;

/* out = (in + pb + pe - d*(k-1) - 1)/s + 1 per axis */
cn_conv_geom conv_case_geom(const conv_case *c);
/* n uniform values in [-1, 1) from (seed, stream); malloc'd (free it). */
cn_real *conv_case_random(int64_t n, uint64_t seed, uint64_t stream);

#endif
