/* filter.c — image filtering with hand-made kernels: kernel constructors (box, Gaussian, sharpen, Sobel,
 * Laplacian, identity, shifts, matrix files), composition of kernels, and filtering of one channel or a
 * whole image as cross-correlation or true convolution with a padding mode. The arithmetic is in
 * src/kernels/filter_ref.c. */
#include "kernels/filter.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define KERNEL_MAX_SIDE 4096

cn_status cn_filter_kernel_alloc(cn_filter_kernel *k, int rows, int cols) {
    if (!k) return cn_error(CN_ERR_INVALID, "filter kernel: NULL kernel");
    k->rows = k->cols = 0;
    k->data = NULL;
    if (rows < 1 || cols < 1 || rows > KERNEL_MAX_SIDE || cols > KERNEL_MAX_SIDE)
        return cn_error(CN_ERR_INVALID, "filter kernel: size %dx%d is not in 1..%d", rows, cols, KERNEL_MAX_SIDE);
    k->data = cn_calloc((size_t)rows * (size_t)cols, sizeof(float));
    if (!k->data) return CN_ERR_NOMEM;
    k->rows = rows, k->cols = cols;
    return CN_OK;
}

void cn_filter_kernel_free(cn_filter_kernel *k) {
    if (!k) return;
    cn_free(k->data);
    k->data = NULL;
    k->rows = k->cols = 0;
}

static cn_status kernel_from(cn_filter_kernel *k, int rows, int cols, const float *w) {
    cn_status st = cn_filter_kernel_alloc(k, rows, cols);
    if (!st) memcpy(k->data, w, sizeof(float) * (size_t)rows * (size_t)cols);
    return st;
}

cn_status cn_filter_kernel_box(cn_filter_kernel *k, int n) {
    if (n < 1 || n > 1023) return cn_error(CN_ERR_INVALID, "box kernel: size %d is not in 1..1023", n);
    cn_status st = cn_filter_kernel_alloc(k, n, n);
    if (st) return st;
    for (int i = 0; i < n * n; i++) k->data[i] = (float)(1.0 / ((double)n * n));
    return CN_OK;
}

/* w[u][v] = exp(-((u-r)^2 + (v-r)^2) / (2 sigma^2)) / sum, u, v in 0..2r, r = ceil(3 sigma) */
cn_status cn_filter_kernel_gaussian(cn_filter_kernel *k, double sigma) {
    if (!(sigma > 0) || sigma > 100)
        return cn_error(CN_ERR_INVALID, "gaussian kernel: sigma %g is not in (0, 100]", sigma);
    int r = (int)ceil(3 * sigma), n = 2 * r + 1;
    cn_status st = cn_filter_kernel_alloc(k, n, n);
    if (st) return st;
    double sum = 0, *g = malloc(sizeof(double) * (size_t)n * (size_t)n);
    if (!g) {
        cn_filter_kernel_free(k);
        return cn_error(CN_ERR_NOMEM, "gaussian kernel: out of memory");
    }
    for (int u = 0; u < n; u++)
        for (int v = 0; v < n; v++) {
            double d2 = (double)(u - r) * (u - r) + (double)(v - r) * (v - r);
            sum += g[u * n + v] = exp(-d2 / (2 * sigma * sigma));
        }
    for (int i = 0; i < n * n; i++) k->data[i] = (float)(g[i] / sum);
    free(g);
    return CN_OK;
}

/* ---- matrix files */

/* Split a line into numbers; returns the count or -1 with the error set. */
static int parse_row(const char *path, int line_no, char *line, float *row, int max) {
    char *hash = strchr(line, '#');
    if (hash) *hash = '\0';
    int count = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t' || *p == ',' || *p == '\r' || *p == '\n') p++;
        if (!*p) break;
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || (*end && !strchr(" \t,\r\n", *end))) {
            size_t len = strcspn(p, " \t,\r\n");
            cn_error(CN_ERR_FORMAT, "%s:%d: '%.*s' is not a number", path, line_no, (int)(len > 40 ? 40 : len), p);
            return -1;
        }
        if (!isfinite(v) || fabs(v) > 3.4e38) {
            cn_error(CN_ERR_FORMAT, "%s:%d: '%.*s' is not a finite number", path, line_no, (int)(end - p), p);
            return -1;
        }
        if (count == max) {
            cn_error(CN_ERR_FORMAT, "%s:%d: more than %d numbers in a row", path, line_no, max);
            return -1;
        }
        row[count++] = (float)v;
        p = end;
    }
    return count;
}

cn_status cn_filter_kernel_load(cn_filter_kernel *k, const char *path) {
    if (!k || !path) return cn_error(CN_ERR_INVALID, "filter kernel: NULL argument");
    k->rows = k->cols = 0;
    k->data = NULL;
    FILE *f = fopen(path, "r");
    if (!f) return cn_error(CN_ERR_IO, "%s: %s", path, strerror(errno));
    float *rows = NULL, *row = malloc(sizeof(float) * KERNEL_MAX_SIDE);
    char *line = NULL;
    size_t cap = 0;
    int n_rows = 0, n_cols = 0, line_no = 0;
    cn_status st = row ? CN_OK : cn_error(CN_ERR_NOMEM, "filter kernel: out of memory");
    while (!st && getline(&line, &cap, f) >= 0) {
        line_no++;
        int n = parse_row(path, line_no, line, row, KERNEL_MAX_SIDE);
        if (n < 0) st = CN_ERR_FORMAT;
        else if (n == 0) continue;
        else if (n_rows > 0 && n != n_cols)
            st = cn_error(CN_ERR_FORMAT, "%s:%d: this row has %d numbers, the first row has %d", path, line_no, n,
                          n_cols);
        else if (n_rows == KERNEL_MAX_SIDE)
            st = cn_error(CN_ERR_FORMAT, "%s:%d: more than %d rows", path, line_no, KERNEL_MAX_SIDE);
        else {
            float *grown = realloc(rows, sizeof(float) * (size_t)(n_rows + 1) * (size_t)n);
            if (!grown) st = cn_error(CN_ERR_NOMEM, "filter kernel: out of memory");
            else {
                rows = grown;
                memcpy(rows + (size_t)n_rows * (size_t)n, row, sizeof(float) * (size_t)n);
                n_rows++, n_cols = n;
            }
        }
    }
    if (!st && ferror(f)) st = cn_error(CN_ERR_IO, "%s: read error", path);
    if (!st && n_rows == 0) st = cn_error(CN_ERR_FORMAT, "%s: no numbers (expected rows of kernel weights)", path);
    if (!st) st = kernel_from(k, n_rows, n_cols, rows);
    fclose(f);
    free(line);
    free(row);
    free(rows);
    return st;
}

/* ---- named kernels */

static const float k_identity[9] = {0, 0, 0, 0, 1, 0, 0, 0, 0};
static const float k_sharpen[9] = {0, -1, 0, -1, 5, -1, 0, -1, 0};
static const float k_sobel_x[9] = {-1, 0, 1, -2, 0, 2, -1, 0, 1};
static const float k_sobel_y[9] = {-1, -2, -1, 0, 0, 0, 1, 2, 1};
static const float k_laplacian[9] = {0, 1, 0, 1, -4, 1, 0, 1, 0};
/* As correlation y[i][j] = x[i + u - 1][j + v - 1] for the one weight at (u, v): shift-left reads the
 * right neighbour (v = 2). */
static const float k_shift_left[9] = {0, 0, 0, 0, 0, 1, 0, 0, 0};
static const float k_shift_right[9] = {0, 0, 0, 1, 0, 0, 0, 0, 0};
static const float k_shift_up[9] = {0, 0, 0, 0, 0, 0, 0, 1, 0};
static const float k_shift_down[9] = {0, 1, 0, 0, 0, 0, 0, 0, 0};

static const struct {
    const char *name;
    const float *w;
} named_kernels[] = {
    {"identity", k_identity},       {"sharpen", k_sharpen},         {"sobel-x", k_sobel_x},
    {"sobel-y", k_sobel_y},         {"laplacian", k_laplacian},     {"shift-left", k_shift_left},
    {"shift-right", k_shift_right}, {"shift-up", k_shift_up},       {"shift-down", k_shift_down},
};

cn_status cn_filter_kernel_from_spec(cn_filter_kernel *k, const char *spec) {
    if (!k || !spec) return cn_error(CN_ERR_INVALID, "filter kernel: NULL argument");
    k->rows = k->cols = 0;
    k->data = NULL;
    for (size_t i = 0; i < sizeof named_kernels / sizeof named_kernels[0]; i++)
        if (strcmp(spec, named_kernels[i].name) == 0) return kernel_from(k, 3, 3, named_kernels[i].w);
    if (strncmp(spec, "box:", 4) == 0) {
        char *end;
        errno = 0;
        long n = strtol(spec + 4, &end, 10);
        if (end == spec + 4 || *end || errno || n < 1 || n > 1023)
            return cn_error(CN_ERR_INVALID, "kernel '%s': the box size must be a whole number in 1..1023", spec);
        return cn_filter_kernel_box(k, (int)n);
    }
    if (strncmp(spec, "gaussian:", 9) == 0) {
        char *end;
        double sigma = strtod(spec + 9, &end);
        if (end == spec + 9 || *end || !(sigma > 0) || sigma > 100)
            return cn_error(CN_ERR_INVALID, "kernel '%s': sigma must be a number in (0, 100]", spec);
        return cn_filter_kernel_gaussian(k, sigma);
    }
    if (access(spec, F_OK) == 0) return cn_filter_kernel_load(k, spec);
    return cn_error(CN_ERR_INVALID,
                    "unknown kernel '%s' (box:N, gaussian:SIGMA, identity, sharpen, sobel-x, sobel-y, laplacian, "
                    "shift-left|right|up|down, or a matrix file)", spec);
}

static cn_status check_kernel(const cn_filter_kernel *k, const char *fn) {
    if (!k || !k->data || k->rows < 1 || k->cols < 1 || k->rows > KERNEL_MAX_SIDE || k->cols > KERNEL_MAX_SIDE)
        return cn_error(CN_ERR_INVALID, "%s: not a valid kernel", fn);
    return CN_OK;
}

cn_status cn_filter_kernel_combine(const cn_filter_kernel *a, const cn_filter_kernel *b, cn_filter_kernel *out) {
    cn_status st = check_kernel(a, "cn_filter_kernel_combine");
    if (!st) st = check_kernel(b, "cn_filter_kernel_combine");
    if (!st && !out) st = cn_error(CN_ERR_INVALID, "cn_filter_kernel_combine: NULL output");
    if (st) return st;
    cn_filter_kernel r;
    if ((st = cn_filter_kernel_alloc(&r, a->rows + b->rows - 1, a->cols + b->cols - 1))) return st;
    cn_filter_kernel_convolve_ref(a->data, a->rows, a->cols, b->data, b->rows, b->cols, r.data);
    *out = r;   /* out may be a or b: written last */
    return CN_OK;
}

double cn_filter_kernel_sum(const cn_filter_kernel *k) {
    double s = 0;
    if (k && k->data)
        for (int i = 0; i < k->rows * k->cols; i++) s += k->data[i];
    return s;
}

cn_status cn_filter_kernel_normalize(cn_filter_kernel *k) {
    cn_status st = check_kernel(k, "cn_filter_kernel_normalize");
    if (st) return st;
    int n = k->rows * k->cols;
    double sum = 0, positive = 0, magnitude = 0;
    for (int i = 0; i < n; i++) {
        sum += k->data[i];
        magnitude += fabs((double)k->data[i]);
        if (k->data[i] > 0) positive += k->data[i];
    }
    double by = fabs(sum) > 1e-6 * magnitude ? sum : positive;
    if (by == 0) return cn_error(CN_ERR_INVALID, "cannot normalize a kernel without positive weights that sums to 0");
    for (int i = 0; i < n; i++) k->data[i] = (float)(k->data[i] / by);
    return CN_OK;
}

cn_status cn_filter_output_size(int height, int width, const cn_filter_kernel *k, cn_filter_extent extent,
                                int *out_height, int *out_width) {
    cn_status st = check_kernel(k, "cn_filter2d");
    if (st) return st;
    if (height < 1 || width < 1) return cn_error(CN_ERR_INVALID, "cn_filter2d: empty image %dx%d", height, width);
    int oh = height, ow = width;
    if (extent == CN_FILTER_VALID) oh = height - k->rows + 1, ow = width - k->cols + 1;
    else if (extent == CN_FILTER_FULL) oh = height + k->rows - 1, ow = width + k->cols - 1;
    else if (extent != CN_FILTER_SAME) return cn_error(CN_ERR_INVALID, "cn_filter2d: unknown extent %d", (int)extent);
    if (oh < 1 || ow < 1)
        return cn_error(CN_ERR_SHAPE, "filter: kernel %dx%d is larger than the image %dx%d, 'valid' leaves nothing",
                        k->rows, k->cols, height, width);
    if (out_height) *out_height = oh;
    if (out_width) *out_width = ow;
    return CN_OK;
}

cn_status cn_filter2d(const float *src, int height, int width, const cn_filter_kernel *k, cn_filter_mode mode,
                      cn_pad_mode pad, cn_filter_extent extent, float *dst) {
    int oh, ow;
    cn_status st = cn_filter_output_size(height, width, k, extent, &oh, &ow);
    if (st) return st;
    if (!src || !dst) return cn_error(CN_ERR_INVALID, "cn_filter2d: NULL image");
    if (mode != CN_FILTER_CORRELATE && mode != CN_FILTER_CONVOLVE)
        return cn_error(CN_ERR_INVALID, "cn_filter2d: unknown mode %d", (int)mode);
    if (pad != CN_PAD_ZEROS && pad != CN_PAD_REFLECT && pad != CN_PAD_REPLICATE && pad != CN_PAD_CIRCULAR)
        return cn_error(CN_ERR_INVALID, "cn_filter2d: unknown padding mode %d", (int)pad);
    int top = extent == CN_FILTER_SAME ? (k->rows - 1) / 2 : extent == CN_FILTER_FULL ? k->rows - 1 : 0;
    int left = extent == CN_FILTER_SAME ? (k->cols - 1) / 2 : extent == CN_FILTER_FULL ? k->cols - 1 : 0;
    int n = k->rows * k->cols, nr = oh + k->rows - 1, nc = ow + k->cols - 1;
    /* one allocation: the kernel (flipped for convolution) and the two index tables */
    size_t bytes = sizeof(int64_t) * ((size_t)nr + (size_t)nc) + sizeof(float) * (size_t)n;
    int64_t *row_src = cn_malloc(bytes);
    if (!row_src) return CN_ERR_NOMEM;
    int64_t *col_src = row_src + nr;
    float *w = (float *)(col_src + nc);
    for (int i = 0; i < n; i++) w[i] = mode == CN_FILTER_CONVOLVE ? k->data[n - 1 - i] : k->data[i];
    for (int t = 0; t < nr; t++) row_src[t] = filter_source_index(t - top, height, pad);
    for (int t = 0; t < nc; t++) col_src[t] = filter_source_index(t - left, width, pad);
    cn_filter2d_ref(src, width, w, k->rows, k->cols, row_src, col_src, oh, ow, dst);
    cn_free(row_src);
    return CN_OK;
}

cn_status cn_filter_image(const cn_image *src, const cn_filter_kernel *k, cn_filter_mode mode, cn_pad_mode pad,
                          cn_image *dst) {
    if (!src || !src->data || !dst) return cn_error(CN_ERR_INVALID, "cn_filter_image: NULL image");
    cn_image out;
    cn_status st = cn_image_alloc(&out, src->channels, src->height, src->width);
    if (st) return st;
    size_t plane = (size_t)src->height * (size_t)src->width;
    for (int c = 0; c < src->channels && !st; c++)
        st = cn_filter2d(src->data + c * plane, src->height, src->width, k, mode, pad, CN_FILTER_SAME,
                         out.data + c * plane);
    if (st) {
        cn_image_free(&out);
        return st;
    }
    *dst = out;
    return CN_OK;
}
