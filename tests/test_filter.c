/* test_filter.c — image filtering: the lecture's worked example, agreement with the conv layer's kernel,
 * associativity of stacked filters, identity / shift / box behaviour, padding beyond the image, Gaussian
 * and named kernels, matrix files and their errors, PNG round trips. */
#include "cn_test.h"
#include "kernels/conv.h"
#include "kernels/filter.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/cn_test_filter_XXXXXX";

static const char *tmp_path(const char *name) {
    static char buf[4][256];
    static int next = 0;
    char *p = buf[next++ % 4];
    snprintf(p, 256, "%s/%s", tmpdir, name);
    return p;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void fill(float *x, int n, uint64_t seed) {
    cn_rng r;
    cn_rng_seed(&r, seed, 3);
    for (int i = 0; i < n; i++) x[i] = cn_rng_uniform(&r);
}

static double max_diff(const float *a, const float *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static cn_filter_kernel make(int rows, int cols, const float *w) {
    cn_filter_kernel k;
    cn_filter_kernel_alloc(&k, rows, cols);
    memcpy(k.data, w, sizeof(float) * (size_t)rows * (size_t)cols);
    return k;
}

/* The lecture: x = [[0,80,40],[20,40,0],[0,0,40]], k = [[0,0.25],[0.5,1]]. */
static void test_lecture_example(void) {
    const float x[9] = {0, 80, 40, 20, 40, 0, 0, 0, 40};
    cn_filter_kernel k = make(2, 2, (const float[]){0, 0.25f, 0.5f, 1});
    float y[4];
    int oh, ow;
    CHECK_OK(cn_filter_output_size(3, 3, &k, CN_FILTER_VALID, &oh, &ow));
    CHECK(oh == 2 && ow == 2, "valid size %dx%d", oh, ow);
    CHECK_OK(cn_filter2d(x, 3, 3, &k, CN_FILTER_CONVOLVE, CN_PAD_ZEROS, CN_FILTER_VALID, y));
    const float conv[4] = {45, 110, 40, 40}, corr[4] = {70, 30, 10, 40};
    CHECK(max_diff(y, conv, 4) == 0, "convolution %g %g %g %g", y[0], y[1], y[2], y[3]);
    CHECK_OK(cn_filter2d(x, 3, 3, &k, CN_FILTER_CORRELATE, CN_PAD_ZEROS, CN_FILTER_VALID, y));
    CHECK(max_diff(y, corr, 4) == 0, "cross-correlation %g %g %g %g", y[0], y[1], y[2], y[3]);
    /* SAME with an even kernel: top = left = 0, the valid part plus one zero-padded row and column */
    float s[9];
    CHECK_OK(cn_filter2d(x, 3, 3, &k, CN_FILTER_CORRELATE, CN_PAD_ZEROS, CN_FILTER_SAME, s));
    CHECK(s[0] == 70 && s[1] == 30 && s[3] == 10 && s[4] == 40, "same keeps the valid part");
    CHECK(s[2] == 0 && s[5] == 20 && s[7] == 10 && s[8] == 0, "same: zero padding right and below (%g %g %g %g)",
          s[2], s[5], s[7], s[8]);
    /* FULL: the 4x4 of every overlap; the corner reads only x[0][0] * k[1][1] */
    float f[16];
    CHECK_OK(cn_filter2d(x, 3, 3, &k, CN_FILTER_CORRELATE, CN_PAD_ZEROS, CN_FILTER_FULL, f));
    CHECK(f[5] == 70 && f[15] == 0 && f[0] == 0 && f[1] == 80, "full %g %g %g", f[5], f[15], f[1]);
    CHECK(f[3] == 40 * 0.5f, "full top right %g", f[3]);
    cn_filter_kernel_free(&k);
}

/* Cross-correlation agrees with the conv layer's reference kernel wherever that applies (pad < size). */
static void test_matches_conv_kernel(void) {
    enum { H = 7, W = 11 };
    float x[H * W], y[(H + 4) * (W + 3)], ref[(H + 4) * (W + 3)];
    fill(x, H * W, 1);
    const int sizes[][2] = {{3, 3}, {2, 2}, {5, 4}, {1, 3}};
    for (int s = 0; s < 4; s++) {
        int kr = sizes[s][0], kc = sizes[s][1];
        float w[20];
        fill(w, kr * kc, 10 + s);
        cn_filter_kernel k = make(kr, kc, w);
        for (int pad = 0; pad < 4; pad++)
            for (int ext = 0; ext < 2; ext++) {
                cn_filter_extent extent = ext ? CN_FILTER_FULL : CN_FILTER_SAME;
                int oh, ow;
                cn_filter_output_size(H, W, &k, extent, &oh, &ow);
                cn_conv_geom p = {.batch = 1, .in_channels = 1, .out_channels = 1, .groups = 1,
                                  .in = {1, H, W}, .out = {1, oh, ow}, .kernel = {1, kr, kc},
                                  .stride = {1, 1, 1}, .dilation = {1, 1, 1},
                                  .pad_begin = {0, ext ? kr - 1 : (kr - 1) / 2, ext ? kc - 1 : (kc - 1) / 2},
                                  .pad_mode = (cn_pad_mode)pad};
                CHECK_OK(cn_filter2d(x, H, W, &k, CN_FILTER_CORRELATE, (cn_pad_mode)pad, extent, y));
                cn_conv_forward_ref(&p, x, k.data, NULL, ref, NULL);
                CHECK(max_diff(y, ref, oh * ow) < 1e-6, "kernel %dx%d pad %d extent %d: differs from conv by %g", kr,
                      kc, pad, ext, max_diff(y, ref, oh * ow));
                /* convolution = correlation with the flipped kernel */
                cn_filter_kernel fk;
                cn_filter_kernel_alloc(&fk, kr, kc);
                for (int i = 0; i < kr * kc; i++) fk.data[i] = k.data[kr * kc - 1 - i];
                float yc[(H + 4) * (W + 3)];
                CHECK_OK(cn_filter2d(x, H, W, &k, CN_FILTER_CONVOLVE, (cn_pad_mode)pad, extent, yc));
                CHECK_OK(cn_filter2d(x, H, W, &fk, CN_FILTER_CORRELATE, (cn_pad_mode)pad, extent, y));
                CHECK(max_diff(y, yc, oh * ow) == 0, "convolve = correlate with the flipped kernel");
                cn_filter_kernel_free(&fk);
            }
        cn_filter_kernel_free(&k);
    }
}

/* Filtering with a then b equals filtering once with a * b: exactly (up to rounding) with circular padding,
 * and away from the borders with every padding; in both modes. */
static void check_associative(const char *sa, const char *sb) {
    enum { H = 23, W = 29 };
    float x[H * W], t[H * W], two[H * W], one[H * W];
    fill(x, H * W, 7);
    cn_filter_kernel a, b, ab;
    CHECK_OK(cn_filter_kernel_from_spec(&a, sa));
    CHECK_OK(cn_filter_kernel_from_spec(&b, sb));
    CHECK_OK(cn_filter_kernel_combine(&a, &b, &ab));
    CHECK(ab.rows == a.rows + b.rows - 1 && ab.cols == a.cols + b.cols - 1, "combined size %dx%d", ab.rows, ab.cols);
    CHECK(fabs(cn_filter_kernel_sum(&ab) - cn_filter_kernel_sum(&a) * cn_filter_kernel_sum(&b)) < 1e-5,
          "sum of a*b = sum a * sum b");
    int margin = (ab.rows - 1) / 2;
    for (int mode = 0; mode < 2; mode++)
        for (int pad = 0; pad < 4; pad++) {
            cn_filter2d(x, H, W, &a, (cn_filter_mode)mode, (cn_pad_mode)pad, CN_FILTER_SAME, t);
            cn_filter2d(t, H, W, &b, (cn_filter_mode)mode, (cn_pad_mode)pad, CN_FILTER_SAME, two);
            cn_filter2d(x, H, W, &ab, (cn_filter_mode)mode, (cn_pad_mode)pad, CN_FILTER_SAME, one);
            double inner = 0, all = max_diff(one, two, H * W);
            for (int i = margin; i < H - margin; i++)
                for (int j = margin; j < W - margin; j++)
                    inner = fmax(inner, fabs((double)one[i * W + j] - two[i * W + j]));
            CHECK(inner < 1e-5, "%s then %s vs combined, mode %d pad %d: %g inside", sa, sb, mode, pad, inner);
            if (pad == CN_PAD_CIRCULAR) CHECK(all < 1e-5, "%s then %s, circular: %g everywhere", sa, sb, all);
            if (pad == CN_PAD_ZEROS) CHECK(all > 1e-3, "zero padding does differ at the border (%g)", all);
        }
    /* combining is commutative */
    cn_filter_kernel ba;
    CHECK_OK(cn_filter_kernel_combine(&b, &a, &ba));
    CHECK(max_diff(ab.data, ba.data, ab.rows * ab.cols) < 1e-6, "a*b = b*a");
    cn_filter_kernel_free(&a);
    cn_filter_kernel_free(&b);
    cn_filter_kernel_free(&ab);
    cn_filter_kernel_free(&ba);
}

static void test_associativity(void) {
    check_associative("box:3", "sobel-x");
    check_associative("gaussian:1", "sharpen");
    check_associative("sobel-y", "box:5");
}

static void test_identity_shift_box(void) {
    enum { H = 6, W = 9 };
    float x[H * W], y[H * W];
    fill(x, H * W, 3);
    cn_filter_kernel k;
    CHECK_OK(cn_filter_kernel_from_spec(&k, "identity"));
    for (int mode = 0; mode < 2; mode++)
        for (int pad = 0; pad < 4; pad++) {
            cn_filter2d(x, H, W, &k, (cn_filter_mode)mode, (cn_pad_mode)pad, CN_FILTER_SAME, y);
            CHECK(memcmp(x, y, sizeof x) == 0, "identity mode %d pad %d changes the image", mode, pad);
        }
    cn_filter_kernel_free(&k);
    /* shifts by one pixel: as correlation shift-left gives y[i][j] = x[i][j+1] */
    const struct { const char *name; int di, dj; } shifts[] = {
        {"shift-left", 0, 1}, {"shift-right", 0, -1}, {"shift-up", 1, 0}, {"shift-down", -1, 0}};
    for (int s = 0; s < 4; s++) {
        CHECK_OK(cn_filter_kernel_from_spec(&k, shifts[s].name));
        for (int mode = 0; mode < 2; mode++) {
            int sign = mode == CN_FILTER_CONVOLVE ? -1 : 1; /* convolution flips the kernel: the other way */
            cn_filter2d(x, H, W, &k, (cn_filter_mode)mode, CN_PAD_ZEROS, CN_FILTER_SAME, y);
            int bad = 0;
            for (int i = 0; i < H; i++)
                for (int j = 0; j < W; j++) {
                    int si = i + sign * shifts[s].di, sj = j + sign * shifts[s].dj;
                    float want = si >= 0 && si < H && sj >= 0 && sj < W ? x[si * W + sj] : 0.0f;
                    bad += y[i * W + j] != want;
                }
            CHECK(bad == 0, "%s mode %d: %d pixels wrong", shifts[s].name, mode, bad);
            /* circular: a pure roll, so W shifts give the image back */
        }
        cn_filter2d(x, H, W, &k, CN_FILTER_CORRELATE, CN_PAD_CIRCULAR, CN_FILTER_SAME, y);
        float z[H * W];
        memcpy(z, y, sizeof z);
        for (int r = 1; r < H * W; r++) {
            cn_filter2d(z, H, W, &k, CN_FILTER_CORRELATE, CN_PAD_CIRCULAR, CN_FILTER_SAME, y);
            memcpy(z, y, sizeof z);
        }
        CHECK(memcmp(z, x, sizeof x) == 0, "%s circular H*W times is the identity", shifts[s].name);
        cn_filter_kernel_free(&k);
    }
    /* box of a constant image is constant (with edge-preserving padding; zeros darkens only the border) */
    float c[H * W];
    for (int i = 0; i < H * W; i++) c[i] = 0.625f;
    CHECK_OK(cn_filter_kernel_from_spec(&k, "box:3"));
    for (int pad = 1; pad < 4; pad++) {
        cn_filter2d(c, H, W, &k, CN_FILTER_CORRELATE, (cn_pad_mode)pad, CN_FILTER_SAME, y);
        CHECK(max_diff(c, y, H * W) < 1e-6, "box of a constant, pad %d: %g", pad, max_diff(c, y, H * W));
    }
    cn_filter2d(c, H, W, &k, CN_FILTER_CORRELATE, CN_PAD_ZEROS, CN_FILTER_SAME, y);
    CHECK(fabsf(y[W + 1] - 0.625f) < 1e-6 && fabsf(y[0] - 0.625f * 4 / 9) < 1e-6, "box, zeros: inside %g corner %g",
          y[W + 1], y[0]);
    cn_filter_kernel_free(&k);
    /* sobel-x on a horizontal ramp x[i][j] = j: 8 inside (2 * (1 + 2 + 1)) */
    for (int i = 0; i < H * W; i++) c[i] = (float)(i % W);
    CHECK_OK(cn_filter_kernel_from_spec(&k, "sobel-x"));
    cn_filter2d(c, H, W, &k, CN_FILTER_CORRELATE, CN_PAD_ZEROS, CN_FILTER_SAME, y);
    CHECK(y[2 * W + 4] == 8, "sobel-x of a ramp: %g", y[2 * W + 4]);
    cn_filter2d(c, H, W, &k, CN_FILTER_CONVOLVE, CN_PAD_ZEROS, CN_FILTER_SAME, y);
    CHECK(y[2 * W + 4] == -8, "sobel-x as convolution flips the sign: %g", y[2 * W + 4]);
    cn_filter_kernel_free(&k);
}

/* Padding wider than the image: reflect and circular keep repeating. */
static void test_wide_padding(void) {
    const cn_pad_mode R = CN_PAD_REFLECT;
    /* axis of 3, q = -5..5: 1 0 1 2 1 [0 1 2] 1 0 1 (mirror about the edge pixels, period 4) */
    const int64_t want[] = {1, 0, 1, 2, 1, 0, 1, 2, 1, 0, 1};
    int bad = 0;
    for (int q = -5; q <= 5; q++) bad += filter_source_index(q, 3, R) != want[q + 5];
    CHECK(bad == 0, "reflect indices beyond one period");
    CHECK(filter_source_index(-7, 3, CN_PAD_CIRCULAR) == 2 && filter_source_index(8, 3, CN_PAD_CIRCULAR) == 2,
          "circular wraps many times");
    CHECK(filter_source_index(-4, 1, R) == 0 && filter_source_index(9, 4, CN_PAD_REPLICATE) == 3 &&
          filter_source_index(-1, 4, CN_PAD_ZEROS) == -1, "single pixel, replicate, zeros");
    bad = 0;
    for (int q = -3; q < 6; q++)
        for (int pad = 0; pad < 4; pad++)
            bad += (q >= -2 && q < 5) &&
                   filter_source_index(q, 3, (cn_pad_mode)pad) != conv_source_index(q, 3, (cn_pad_mode)pad);
    CHECK(bad == 0, "agrees with conv_source_index where that applies");
    /* a 9x9 box on a 2x3 constant image stays constant with reflect / replicate / circular */
    float x[6] = {2, 2, 2, 2, 2, 2}, y[6];
    cn_filter_kernel k;
    cn_filter_kernel_box(&k, 9);
    for (int pad = 1; pad < 4; pad++) {
        CHECK_OK(cn_filter2d(x, 2, 3, &k, CN_FILTER_CORRELATE, (cn_pad_mode)pad, CN_FILTER_SAME, y));
        CHECK(max_diff(x, y, 6) < 1e-5, "9x9 box on 2x3, pad %d", pad);
    }
    CHECK_ERROR(cn_filter2d(x, 2, 3, &k, CN_FILTER_CORRELATE, R, CN_FILTER_VALID, y), "'valid' leaves nothing");
    cn_filter_kernel_free(&k);
}

static void test_named_kernels(void) {
    cn_filter_kernel k;
    CHECK_OK(cn_filter_kernel_from_spec(&k, "gaussian:1"));
    CHECK(k.rows == 7 && k.cols == 7, "gaussian:1 is 7x7 (2*ceil(3)+1), got %dx%d", k.rows, k.cols);
    CHECK(fabs(cn_filter_kernel_sum(&k) - 1) < 1e-6, "gaussian sums to 1");
    CHECK(k.data[24] > k.data[23] && k.data[23] == k.data[25] && k.data[17] == k.data[23] && k.data[0] == k.data[48],
          "gaussian peaks at the centre, symmetric");
    CHECK(fabs(k.data[25] / k.data[24] - exp(-0.5)) < 1e-6, "gaussian ratio one pixel out = exp(-1/2)");
    cn_filter_kernel_free(&k);
    CHECK_OK(cn_filter_kernel_from_spec(&k, "gaussian:0.4"));
    CHECK(k.rows == 5, "gaussian:0.4 is 5x5 (r = ceil(1.2) = 2)");
    cn_filter_kernel_free(&k);
    CHECK_OK(cn_filter_kernel_from_spec(&k, "box:4"));
    CHECK(k.rows == 4 && k.data[5] == 1.0f / 16, "box:4");
    cn_filter_kernel_free(&k);
    const char *zero_sum[] = {"sobel-x", "sobel-y", "laplacian"};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(cn_filter_kernel_from_spec(&k, zero_sum[i]));
        CHECK(cn_filter_kernel_sum(&k) == 0, "%s sums to 0", zero_sum[i]);
        cn_filter_kernel_free(&k);
    }
    CHECK_OK(cn_filter_kernel_from_spec(&k, "sharpen"));
    CHECK(cn_filter_kernel_sum(&k) == 1 && k.data[4] == 5, "sharpen");
    cn_filter_kernel_free(&k);
    /* normalize: by the sum, or by the positive part for a zero-sum kernel */
    CHECK_OK(cn_filter_kernel_from_spec(&k, "sobel-x"));
    CHECK_OK(cn_filter_kernel_normalize(&k));
    CHECK(k.data[2] == 0.25f && k.data[5] == 0.5f && k.data[3] == -0.5f, "sobel-x normalized by 4");
    cn_filter_kernel_free(&k);
    cn_filter_kernel_alloc(&k, 2, 2);
    CHECK_ERROR(cn_filter_kernel_normalize(&k), "cannot normalize");
    cn_filter_kernel_free(&k);

    CHECK_ERROR(cn_filter_kernel_from_spec(&k, "blur"), "unknown kernel 'blur'");
    CHECK(k.data == NULL, "no kernel after an error");
    CHECK_ERROR(cn_filter_kernel_from_spec(&k, "box:0"), "box size");
    CHECK_ERROR(cn_filter_kernel_from_spec(&k, "box:3x"), "box size");
    CHECK_ERROR(cn_filter_kernel_from_spec(&k, "box:"), "box size");
    CHECK_ERROR(cn_filter_kernel_from_spec(&k, "gaussian:-1"), "sigma");
    CHECK_ERROR(cn_filter_kernel_from_spec(&k, "gaussian:nan"), "sigma");
    CHECK_ERROR(cn_filter_kernel_from_spec(&k, "gaussian:1000"), "sigma");
    CHECK_ERROR(cn_filter_kernel_gaussian(&k, 0), "sigma 0");
    CHECK_ERROR(cn_filter_kernel_alloc(&k, 0, 3), "size 0x3");
    float x[4] = {0}, y[4];
    cn_filter_kernel_box(&k, 2);
    CHECK_ERROR(cn_filter2d(x, 2, 2, &k, (cn_filter_mode)7, CN_PAD_ZEROS, CN_FILTER_SAME, y), "unknown mode");
    CHECK_ERROR(cn_filter2d(x, 2, 2, &k, CN_FILTER_CORRELATE, (cn_pad_mode)9, CN_FILTER_SAME, y), "unknown padding");
    CHECK_ERROR(cn_filter2d(x, 0, 2, &k, CN_FILTER_CORRELATE, CN_PAD_ZEROS, CN_FILTER_SAME, y), "empty image");
    cn_filter_kernel_free(&k);
}

static void test_matrix_files(void) {
    cn_filter_kernel k;
    const char *p = tmp_path("k.txt");
    write_file(p, "# a 2x3 kernel\n1, 2 3\n\n  -0.5\t4e-1 6 # comment\n");
    CHECK_OK(cn_filter_kernel_load(&k, p));
    CHECK(k.rows == 2 && k.cols == 3 && k.data[2] == 3 && k.data[3] == -0.5f && k.data[4] == 0.4f, "parsed");
    cn_filter_kernel_free(&k);
    CHECK_OK(cn_filter_kernel_from_spec(&k, p));   /* a file name is a kernel spec too */
    CHECK(k.rows == 2, "from spec");
    cn_filter_kernel_free(&k);
    write_file(p, "1 1 1\n1 1 1\n1 1 1\n");
    CHECK_OK(cn_filter_kernel_from_spec(&k, p));
    CHECK_OK(cn_filter_kernel_normalize(&k));
    CHECK(k.data[4] == 1.0f / 9, "ones normalized to a box");
    cn_filter_kernel_free(&k);

    write_file(p, "1 2\n3 x 4\n");
    CHECK_ERROR(cn_filter_kernel_load(&k, p), "k.txt:2: 'x' is not a number");
    write_file(p, "1 2 3\n# c\n4 5\n");
    CHECK_ERROR(cn_filter_kernel_load(&k, p), "k.txt:3: this row has 2 numbers, the first row has 3");
    write_file(p, "1 2abc\n");
    CHECK_ERROR(cn_filter_kernel_load(&k, p), "k.txt:1: '2abc' is not a number");
    write_file(p, "1 inf\n");
    CHECK_ERROR(cn_filter_kernel_load(&k, p), "k.txt:1: 'inf' is not a finite number");
    write_file(p, "# nothing\n\n");
    CHECK_ERROR(cn_filter_kernel_load(&k, p), "no numbers");
    CHECK_ERROR(cn_filter_kernel_load(&k, tmp_path("missing.txt")), "missing.txt: No such file");
    CHECK(k.data == NULL, "nothing allocated after errors");
    unlink(p);
}

static void test_images(void) {
    cn_image a, b;
    CHECK_OK(cn_image_alloc(&a, 3, 5, 7));
    for (int i = 0; i < 3 * 5 * 7; i++) a.data[i] = (float)((i * 37) % 256) / 255.0f;
    a.data[0] = -0.5f, a.data[1] = 1.5f;  /* clamped */
    const char *p = tmp_path("rgb.png");
    CHECK_OK(cn_image_save_png(&a, p));
    CHECK_OK(cn_image_load(&b, p, 0));
    CHECK(b.channels == 3 && b.height == 5 && b.width == 7, "size back %dx%dx%d", b.channels, b.height, b.width);
    a.data[0] = 0, a.data[1] = 1;
    CHECK(max_diff(a.data, b.data, 105) < 1e-6, "RGB round trip exact: %g", max_diff(a.data, b.data, 105));
    cn_image grey;
    CHECK_OK(cn_image_load(&grey, p, 1));
    CHECK(grey.channels == 1 && grey.height == 5, "grey conversion");
    /* filter per channel: a colour image filtered = each plane filtered */
    cn_filter_kernel k;
    cn_filter_kernel_from_spec(&k, "sharpen");
    cn_image f;
    CHECK_OK(cn_filter_image(&b, &k, CN_FILTER_CORRELATE, CN_PAD_REFLECT, &f));
    float plane[35];
    cn_filter2d(b.data + 35, 5, 7, &k, CN_FILTER_CORRELATE, CN_PAD_REFLECT, CN_FILTER_SAME, plane);
    CHECK(f.channels == 3 && max_diff(plane, f.data + 35, 35) == 0, "green plane filtered alone");
    cn_filter_kernel_free(&k);
    cn_image_free(&f);
    const char *g = tmp_path("grey.png");
    CHECK_OK(cn_image_save_png(&grey, g));
    cn_image_free(&b);
    CHECK_OK(cn_image_load(&b, g, 0));
    CHECK(b.channels == 1 && max_diff(b.data, grey.data, 35) < 1e-6, "grey file stays grey");
    cn_image_free(&b);
    cn_image_free(&grey);
    unlink(g);

    const char *t = tmp_path("not.png");
    write_file(t, "this is text, not a picture\n");
    CHECK_ERROR(cn_image_load(&b, t, 0), "not.png: not a readable image");
    CHECK(b.data == NULL, "no image after an error");
    CHECK_ERROR(cn_image_load(&b, tmp_path("none.png"), 0), "none.png: No such file");
    CHECK_ERROR(cn_image_load(&b, p, 2), "channels must be 0, 1 or 3");
    a.channels = 2;
    CHECK_ERROR(cn_image_save_png(&a, p), "1 or 3 channels");
    a.channels = 3;
    CHECK_ERROR(cn_image_save_png(&a, "/nonexistent-dir/x.png"), "cannot write");
    cn_image_free(&a);
    unlink(p);
    unlink(t);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_lecture_example();
    test_matches_conv_kernel();
    test_associativity();
    test_identity_shift_box();
    test_wide_padding();
    test_named_kernels();
    test_matrix_files();
    test_images();
    rmdir(tmpdir);
    return cn_test_finish();
}
