/* cmd_run.c — `convnet run MODEL.onnx -i IN [-i IN ...] -o OUT [-o OUT ...] [--threads T] [--time N]`:
 * run an ONNX model on tensors from files (ONNX TensorProto .pb or numpy .npy, by extension) and write its
 * outputs the same way. --time N runs N more times and prints the median latency. */
#include "cli.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_IO CN_ONNX_MAX_IO

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void usage(FILE *f) {
    fprintf(f, "usage: convnet run MODEL.onnx -i INPUT [-i INPUT ...] -o OUTPUT [-o OUTPUT ...] [--threads T] [--time N]\n"
               "Run an ONNX model. Inputs and outputs are ONNX TensorProto files (.pb, as ONNX's test_data_set_0/\n"
               "input_0.pb) or numpy .npy files, chosen by extension, in the model's input / output order.\n"
               "  --threads T  OpenMP threads (default: all)\n"
               "  --time N     run N more times and print the median latency\n");
}

int cmd_run(int argc, char **argv) {
    const char *model = NULL, *ins[MAX_IO], *outs[MAX_IO];
    int n_in = 0, n_out = 0;
    long threads = 0, times = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if ((strcmp(a, "-i") == 0 || strcmp(a, "--input") == 0) && i + 1 < argc) {
            if (n_in == MAX_IO) return cli_fail(2, "run: more than %d inputs", MAX_IO);
            ins[n_in++] = argv[++i];
        } else if ((strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) && i + 1 < argc) {
            if (n_out == MAX_IO) return cli_fail(2, "run: more than %d outputs", MAX_IO);
            outs[n_out++] = argv[++i];
        } else if (strcmp(a, "--threads") == 0 && i + 1 < argc) {
            if (!cli_parse_long(argv[++i], 1, 1024, &threads)) return cli_fail(2, "--threads: '%s' is not a thread count", argv[i]);
        } else if (strcmp(a, "--time") == 0 && i + 1 < argc) {
            if (!cli_parse_long(argv[++i], 1, 1000000, &times)) return cli_fail(2, "--time: '%s' is not a run count", argv[i]);
        } else if (a[0] == '-' && a[1]) {
            return cli_fail(2, "run: unknown option '%s'", a);
        } else if (!model) {
            model = a;
        } else {
            return cli_fail(2, "run: unexpected argument '%s' (inputs go after -i)", a);
        }
    }
    if (!model) {
        usage(stderr);
        return 2;
    }
    if (threads > 0) omp_set_num_threads((int)threads);

    cn_shape declared[MAX_IO];
    int n_decl = 0;
    if (cn_onnx_input_shapes(model, declared, MAX_IO, &n_decl)) return cli_fail(1, "run: %s", cn_last_error());
    if (n_in != n_decl)
        return cli_fail(2, "run: %s has %d input%s, %d given with -i", model, n_decl, n_decl == 1 ? "" : "s", n_in);

    cn_tensor tin[MAX_IO];
    cn_shape shapes[MAX_IO];
    memset(tin, 0, sizeof tin);
    int rc = 0;
    for (int k = 0; k < n_in && !rc; k++) {
        if (cn_tensor_load_file(ins[k], &tin[k], NULL, 0)) rc = cli_fail(1, "run: %s", cn_last_error());
        else shapes[k] = tin[k].shape;
    }
    cn_onnx_info info;
    cn_graph *g = rc ? NULL : cn_onnx_load(model, shapes, n_in, &info);
    if (!rc && !g) rc = cli_fail(1, "run: %s", cn_last_error());
    if (!rc && n_out > info.n_outputs)
        rc = cli_fail(2, "run: %s has %d output%s, %d given with -o", model, info.n_outputs, info.n_outputs == 1 ? "" : "s", n_out);
    for (int k = 0; k < n_in && !rc; k++)
        if (cn_set_input(g, info.input[k], tin[k].data, cn_tensor_numel(&tin[k])))
            rc = cli_fail(1, "run: input '%s': %s", info.input_name[k], cn_last_error());
    if (!rc && cn_forward(g, CN_EVAL)) rc = cli_fail(1, "run: %s", cn_last_error());
    for (int k = 0; k < n_out && !rc; k++) {
        cn_tensor t = {.shape = cn_node_shape(g, info.output[k]), .data = (cn_real *)cn_node_output(g, info.output[k])};
        if (cn_tensor_save_file(outs[k], &t, info.output_name[k])) rc = cli_fail(1, "run: %s", cn_last_error());
    }
    if (!rc && times > 0) {
        double *ms = malloc(sizeof(double) * (size_t)times);
        if (!ms) rc = cli_fail(1, "run: out of memory");
        for (long r = 0; r < times && !rc; r++) {
            double t0 = now_ms();
            if (cn_forward(g, CN_EVAL)) rc = cli_fail(1, "run: %s", cn_last_error());
            ms[r] = now_ms() - t0;
        }
        if (!rc) {
            qsort(ms, (size_t)times, sizeof(double), cmp_double);
            double med = times % 2 ? ms[times / 2] : (ms[times / 2 - 1] + ms[times / 2]) / 2;
            printf("%s: median latency %.3f ms over %ld runs (min %.3f ms, %d threads)\n", model, med, times, ms[0],
                   omp_get_max_threads());
        }
        free(ms);
    }
    for (int k = 0; k < n_in; k++) cn_tensor_free(&tin[k]);
    cn_graph_free(g);
    return rc;
}
