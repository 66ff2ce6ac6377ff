/* filter_ref.c — direct 2D filtering and kernel composition (see filter.h). */
#include "kernels/filter.h"

void cn_filter2d_ref(const float *x, int width, const float *k, int rows, int cols, const int64_t *row_src,
                     const int64_t *col_src, int out_height, int out_width, float *y) {
    for (int i = 0; i < out_height; i++)
        for (int j = 0; j < out_width; j++) {
            double acc = 0;
            for (int u = 0; u < rows; u++) {
                int64_t sr = row_src[i + u];
                if (sr < 0) continue;
                const float *xr = x + sr * width, *kr = k + (int64_t)u * cols;
                for (int v = 0; v < cols; v++) {
                    int64_t sc = col_src[j + v];
                    if (sc >= 0) acc += (double)kr[v] * xr[sc];
                }
            }
            y[(int64_t)i * out_width + j] = (float)acc;
        }
}

void cn_filter_kernel_convolve_ref(const float *a, int ra, int ca, const float *b, int rb, int cb, float *out) {
    int ro = ra + rb - 1, co = ca + cb - 1;
    for (int i = 0; i < ro; i++)
        for (int j = 0; j < co; j++) {
            double acc = 0;
            for (int u = 0; u < ra; u++) {
                int bi = i - u;
                if (bi < 0 || bi >= rb) continue;
                for (int v = 0; v < ca; v++) {
                    int bj = j - v;
                    if (bj >= 0 && bj < cb) acc += (double)a[u * ca + v] * b[bi * cb + bj];
                }
            }
            out[i * co + j] = (float)acc;
        }
}
