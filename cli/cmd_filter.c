/* cmd_filter.c — `convnet filter KERNEL IN OUT.png [options]`: filter an image with a hand-made kernel
 * (box blur, Gaussian, sharpen, Sobel, shifts, a matrix file) as cross-correlation or true convolution,
 * and write a PNG of the same size. See docs/FILTERING.md. */
#include "cli.h"
#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_KERNELS 8

static void filter_usage(void) {
    printf("usage: convnet filter KERNEL IN OUT.png [options]\n"
           "Filter an image (PNG, JPEG, BMP; grey or colour) and write a PNG of the same size.\n"
           "KERNEL: box:N  gaussian:SIGMA (size 2*ceil(3*SIGMA)+1)  identity  sharpen  sobel-x  sobel-y  laplacian\n"
           "        shift-left  shift-right  shift-up  shift-down  or a text file of rows of numbers\n"
           "options:\n"
           "  --mode correlate|convolve   cross-correlation (default, what conv layers do) or true convolution\n"
           "                              (the kernel flipped in both axes)\n"
           "  --pad zeros|reflect|replicate|circular   pixels beyond the border (default zeros)\n"
           "  --normalize                 divide the kernel by its sum (by its positive part when that is 0)\n"
           "  --then KERNEL               filter the result again with another kernel (repeatable)\n"
           "  --combine                   first combine all kernels into one (full 2D convolution), filter once\n"
           "  --negative auto|clamp|abs|offset   showing negative results: clamp to 0, absolute value, or\n"
           "                              offset by half the range (128 of 255); auto (default): abs for kernels\n"
           "                              summing to 0 (sobel, laplacian), clamp otherwise\n"
           "  --grey                      convert a colour image to grey first\n"
           "  --print-kernel              print the kernel that is applied\n");
}

static bool parse_pad(const char *s, cn_pad_mode *pad) {
    static const char *names[] = {"zeros", "reflect", "replicate", "circular"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *pad = (cn_pad_mode)i;
            return true;
        }
    return false;
}

static void print_kernel(const char *label, const cn_filter_kernel *k) {
    printf("%s (%dx%d, sum %g):\n", label, k->rows, k->cols, cn_filter_kernel_sum(k));
    for (int u = 0; u < k->rows; u++) {
        for (int v = 0; v < k->cols; v++) printf("%s%10.6g", v ? " " : "  ", (double)k->data[u * k->cols + v]);
        putchar('\n');
    }
}

int cmd_filter(int argc, char **argv) {
    const char *pos[3] = {NULL, NULL, NULL}, *specs[MAX_KERNELS];
    int n_pos = 0, n_specs = 0;
    cn_filter_mode mode = CN_FILTER_CORRELATE;
    cn_pad_mode pad = CN_PAD_ZEROS;
    bool normalize = false, combine = false, grey = false, show = false;
    const char *negative = "auto";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            filter_usage();
            return 0;
        } else if (strcmp(a, "--mode") == 0 && i + 1 < argc) {
            a = argv[++i];
            if (strcmp(a, "correlate") == 0) mode = CN_FILTER_CORRELATE;
            else if (strcmp(a, "convolve") == 0) mode = CN_FILTER_CONVOLVE;
            else return cli_fail(2, "filter: --mode '%s': use correlate or convolve", a);
        } else if (strcmp(a, "--pad") == 0 && i + 1 < argc) {
            if (!parse_pad(argv[++i], &pad))
                return cli_fail(2, "filter: --pad '%s': use zeros, reflect, replicate or circular", argv[i]);
        } else if (strcmp(a, "--negative") == 0 && i + 1 < argc) {
            negative = argv[++i];
            if (strcmp(negative, "auto") && strcmp(negative, "clamp") && strcmp(negative, "abs") &&
                strcmp(negative, "offset"))
                return cli_fail(2, "filter: --negative '%s': use auto, clamp, abs or offset", negative);
        } else if (strcmp(a, "--then") == 0 && i + 1 < argc) {
            if (n_specs == 0 && n_pos == 0) return cli_fail(2, "filter: --then comes after the first KERNEL");
            if (n_specs + 1 >= MAX_KERNELS) return cli_fail(2, "filter: at most %d kernels", MAX_KERNELS);
            specs[1 + n_specs++] = argv[++i];
        } else if (strcmp(a, "--normalize") == 0) normalize = true;
        else if (strcmp(a, "--combine") == 0) combine = true;
        else if (strcmp(a, "--grey") == 0 || strcmp(a, "--gray") == 0) grey = true;
        else if (strcmp(a, "--print-kernel") == 0) show = true;
        else if (a[0] == '-' && a[1] == '-')
            return cli_fail(2, "filter: unknown option '%s' (try convnet filter --help)", a);
        else if (n_pos < 3) pos[n_pos++] = a;
        else return cli_fail(2, "filter: unexpected argument '%s' (usage: convnet filter KERNEL IN OUT.png)", a);
    }
    if (n_pos < 3) return cli_fail(2, "filter: need KERNEL IN OUT.png (try convnet filter --help)");
    specs[0] = pos[0];
    int n_kernels = n_specs + 1;

    cn_filter_kernel kernels[MAX_KERNELS] = {{0}};
    cn_image img = {0}, out = {0};
    int code = 0;
    for (int i = 0; i < n_kernels && !code; i++) {
        cn_status st = cn_filter_kernel_from_spec(&kernels[i], specs[i]);
        if (!st && normalize) st = cn_filter_kernel_normalize(&kernels[i]);
        if (st) code = cli_fail(st == CN_ERR_INVALID ? 2 : 1, "filter: %s", cn_last_error());
    }
    if (!code && combine && n_kernels > 1) {
        for (int i = 1; i < n_kernels && !code; i++) {
            cn_filter_kernel c;
            if (cn_filter_kernel_combine(&kernels[0], &kernels[i], &c))
                code = cli_fail(1, "filter: %s", cn_last_error());
            else {
                cn_filter_kernel_free(&kernels[0]);
                kernels[0] = c;
            }
        }
        for (int i = 1; i < n_kernels; i++) cn_filter_kernel_free(&kernels[i]);
        n_kernels = 1;
    }
    if (!code && show)
        for (int i = 0; i < n_kernels; i++)
            print_kernel(n_kernels > 1 ? specs[i] : combine && n_specs ? "combined kernel" : specs[0], &kernels[i]);
    if (!code && cn_image_load(&img, pos[1], grey ? 1 : 0)) code = cli_fail(1, "filter: %s", cn_last_error());
    for (int i = 0; i < n_kernels && !code; i++) {
        if (cn_filter_image(&img, &kernels[i], mode, pad, &out)) {
            code = cli_fail(1, "filter: %s", cn_last_error());
            break;
        }
        cn_image_free(&img);
        img = out;
        out.data = NULL;
    }
    if (!code) {
        /* negatives: the kernels that sum to 0 are derivatives; show their magnitude */
        bool zero_sum = fabs(cn_filter_kernel_sum(&kernels[n_kernels - 1])) < 1e-6;
        const char *how = strcmp(negative, "auto") == 0 ? (zero_sum ? "abs" : "clamp") : negative;
        size_t n = (size_t)img.channels * img.height * img.width;
        for (size_t i = 0; i < n; i++) {
            if (strcmp(how, "abs") == 0) img.data[i] = fabsf(img.data[i]);
            else if (strcmp(how, "offset") == 0) img.data[i] += 0.5f;
        }
        if (cn_image_save_png(&img, pos[2])) code = cli_fail(1, "filter: %s", cn_last_error());
        else {
            char what[512] = "";
            size_t used = 0;
            for (int i = 0; i <= n_specs && used < sizeof what; i++)
                used += (size_t)snprintf(what + used, sizeof what - used, "%s%s", i ? (combine ? " * " : " then ") : "",
                                         specs[i]);
            printf("%s: %dx%dx%d filtered with %s (%s, %s padding, negatives: %s) -> %s\n", pos[1], img.channels,
                   img.height, img.width, what, mode == CN_FILTER_CONVOLVE ? "convolution" : "cross-correlation",
                   (const char *[]){"zeros", "reflect", "replicate", "circular"}[pad], how, pos[2]);
        }
    }
    for (int i = 0; i < MAX_KERNELS; i++) cn_filter_kernel_free(&kernels[i]);
    cn_image_free(&img);
    cn_image_free(&out);
    return code;
}
