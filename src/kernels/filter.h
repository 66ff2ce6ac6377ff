/* filter.h — 2D image filtering (cross-correlation of one float channel with a rows x cols kernel), the
 * arithmetic behind cn_filter2d. Pure functions, no allocation.
 *
 *   y[i][j] = sum_{u,v} k[u][v] * x[row_src[i + u]][col_src[j + v]]      (a term is 0 when an index is -1)
 *
 * row_src / col_src map padded coordinates to input rows / columns: entry t stands for coordinate
 * t - top (t - left), so a table has out + kernel - 1 entries (filter_source_index fills it). Sums in
 * double. This is the conv kernel's sum (src/kernels/conv.h) for one channel with stride and dilation 1,
 * except that padding may be wider than the input (a kernel larger than the picture). */
#ifndef CN_KERNELS_FILTER_H
#define CN_KERNELS_FILTER_H

#include "internal.h"

/* The input index coordinate q reads on an axis of size n, or -1 (zero padding). Unlike
 * conv_source_index, reflect and circular repeat for any q: reflect has period 2(n-1), circular n. */
static inline int64_t filter_source_index(int64_t q, int64_t n, cn_pad_mode mode) {
    if (q >= 0 && q < n) return q;
    switch (mode) {
    case CN_PAD_REFLECT: {
        if (n == 1) return 0;
        int64_t period = 2 * (n - 1), m = ((q % period) + period) % period;
        return m < n ? m : period - m;
    }
    case CN_PAD_REPLICATE: return q < 0 ? 0 : n - 1;
    case CN_PAD_CIRCULAR: return ((q % n) + n) % n;
    default: return -1;
    }
}

void cn_filter2d_ref(const float *x, int width, const float *k, int rows, int cols, const int64_t *row_src,
                     const int64_t *col_src, int out_height, int out_width, float *y);

/* out (ra+rb-1) x (ca+cb-1) = a * b, full 2D convolution: out[i][j] = sum a[u][v] b[i-u][j-v]. */
void cn_filter_kernel_convolve_ref(const float *a, int ra, int ca, const float *b, int rb, int cb, float *out);

#endif
