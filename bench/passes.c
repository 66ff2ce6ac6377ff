/* passes.c — each pass of one 2D convolution (forward, data gradient, weight gradient) timed apart, for every
 * algorithm the kernel layer can force on it: the numbers behind conv_im2col.c's per-pass choices
 * (data_grad_direct, weight_grad_direct), which `convnet bench conv --backward` only shows summed.
 *
 *   build/bench_passes N C HxW K R [stride pad groups threads]
 *
 * prints, per algorithm (auto, gemm, direct, winograd, depthwise, first) that applies, the median ms of each
 * pass over 5 runs after a warm-up, and the process CPU ms per run divided by the threads (less sensitive to
 * other processes on the machine). CN_ISA picks the kernel set as everywhere. With CN_BENCH_INFERENCE=1 the forward
 * runs as inference does (p.inference, the weights prepared once before the runs, not packed by every call). */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { RUNS = 5 };

static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median wall ms and CPU ms per run of pass 0 (forward), 1 (data) or 2 (weights) */
static void time_pass(const cn_conv_geom *p, int pass, const float *x, const float *w, const float *b, float *y,
                      float *dx, float *dw, float *db, void *work, double *wall, double *cpu) {
    double t[RUNS], c[RUNS];
    for (int r = -1; r < RUNS; r++) {
        double t0 = omp_get_wtime(), c0 = cpu_now();
        if (pass == 0) cn_conv_forward_im2col(p, x, w, b, y, work);
        else if (pass == 1) cn_conv_backward_data_im2col(p, y, w, dx, work);
        else cn_conv_backward_weights_im2col(p, x, y, dw, db, work);
        if (r >= 0) t[r] = 1e3 * (omp_get_wtime() - t0), c[r] = 1e3 * (cpu_now() - c0) / (p->threads > 1 ? p->threads : 1);
    }
    qsort(t, RUNS, sizeof t[0], cmp), qsort(c, RUNS, sizeof c[0], cmp);
    *wall = t[RUNS / 2], *cpu = c[RUNS / 2];
}

static float *zeroed(size_t n) {
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *v = aligned_alloc(64, bytes);
    if (v) memset(v, 0, bytes);
    return v;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: bench_passes N C HxW K R [stride pad groups threads]\n");
        return 2;
    }
    int64_t n = atoll(argv[1]), c = atoll(argv[2]), h = 0, wd = 0, k = atoll(argv[4]), r = atoll(argv[5]);
    if (sscanf(argv[3], "%ldx%ld", &h, &wd) != 2) {
        fprintf(stderr, "bench_passes: size '%s' is not HxW\n", argv[3]);
        return 2;
    }
    int64_t s = argc > 6 ? atoll(argv[6]) : 1, pad = argc > 7 ? atoll(argv[7]) : 0, g = argc > 8 ? atoll(argv[8]) : 1;
    int threads = argc > 9 ? atoi(argv[9]) : 2;
    if (n < 1 || c < 1 || h < 1 || wd < 1 || k < 1 || r < 1 || s < 1 || pad < 0 || g < 1 || c % g || k % g ||
        threads < 1 || h + 2 * pad < r || wd + 2 * pad < r) {
        fprintf(stderr, "bench_passes: bad shape\n");
        return 2;
    }
    cn_conv_geom p = {.batch = n, .in_channels = c, .out_channels = k, .groups = g, .in = {1, h, wd},
                      .out = {1, (h + 2 * pad - r) / s + 1, (wd + 2 * pad - r) / s + 1}, .kernel = {1, r, r},
                      .stride = {1, s, s}, .dilation = {1, 1, 1}, .pad_begin = {0, pad, pad},
                      .pad_mode = CN_PAD_ZEROS, .threads = threads};
    const char *inf = getenv("CN_BENCH_INFERENCE");
    bool inference = inf && strcmp(inf, "1") == 0;
    p.inference = inference;
    omp_set_num_threads(threads);
    size_t nx = (size_t)(n * c * h * wd), ny = (size_t)(n * k * p.out[1] * p.out[2]), nw = (size_t)(k * c / g * r * r);
    /* 64-byte aligned and zeroed, as the library's tensors (aligned rows can be streamed) */
    float *x = zeroed(nx), *dx = zeroed(nx), *y = zeroed(ny), *w = zeroed(nw), *dw = zeroed(nw), *b = zeroed((size_t)k);
    float *db = zeroed((size_t)k);
    if (!x || !dx || !y || !w || !dw || !b || !db) return 1;
    for (size_t i = 0; i < nx; i++) x[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
    for (size_t i = 0; i < nw; i++) w[i] = (float)((i * 40503u) % 1000) / 1000.0f - 0.5f;
    const char *names[] = {"auto", "gemm", "depthwise", "winograd", "first", "direct"};
    const cn_conv_algo algos[] = {CN_CONV_AUTO, CN_CONV_GEMM, CN_CONV_DEPTHWISE, CN_CONV_WINOGRAD, CN_CONV_FIRST,
                                  CN_CONV_DIRECT};
    printf("isa %s, %d threads; ms (cpu ms) per pass: forward, data gradient, weight gradient\n", cn_kernels_isa(),
           threads);
    for (int a = 0; a < 6; a++) {
        p.algorithm = algos[a];
        const char *why = NULL, *chosen = cn_conv_algorithm(&p, &why);
        if (a > 0 && strcmp(why, "forced") != 0) continue; /* does not apply */
        void *work = aligned_alloc(64, (cn_conv_work_bytes(&p) + 63) / 64 * 64);
        if (!work) return 1;
        float *prepared = NULL;
        if (inference && cn_conv_prepared_bytes(&p)) {
            prepared = aligned_alloc(64, (cn_conv_prepared_bytes(&p) + 63) / 64 * 64);
            if (!prepared) return 1;
            cn_conv_prepare_weights(&p, w, prepared);
        }
        p.prepared = prepared;
        double wall[3] = {0}, cpu[3] = {0};
        for (int pass = 0; pass < (inference ? 1 : 3); pass++) time_pass(&p, pass, x, w, b, y, dx, dw, db, work, &wall[pass], &cpu[pass]);
        printf("%-9s fwd %8.3f (%8.3f)  data %8.3f (%8.3f)  weights %8.3f (%8.3f)  [%s]\n", names[a], wall[0],
               cpu[0], wall[1], cpu[1], wall[2], cpu[2], chosen);
        free(work), free(prepared);
        p.prepared = NULL;
    }
    free(x), free(dx), free(y), free(w), free(dw), free(b), free(db);
    return 0;
}
