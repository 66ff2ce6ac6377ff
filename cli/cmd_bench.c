/* cmd_bench.c — `convnet bench gemm|conv|model ...`: time a GEMM, one convolution layer or a zoo model on
 * random data. Warm-up runs first, then the median (and minimum) time per iteration over timed runs, the
 * GFLOP/s that gives (2 flops per multiply-add) and, for convolutions, the algorithm that ran. --json prints
 * one JSON object instead of the text line (bench/run.py reads it). Timing lives here and in bench/, never
 * in tests. */
#include "cli.h"
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include "graph/graph_impl.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    int warmup, iters;
    double min_seconds; /* keep iterating until this much time was measured */
    bool json;
} bench_opts;

typedef struct {
    double median_ms, min_ms;
    double cpu_ms; /* median process CPU time per run divided by the threads: less sensitive to a loaded machine */
    int iters;
} bench_result;

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Run fn(ctx) warm-up times, then at least opts->iters times and at least min_seconds in total (up to 1000
 * runs); median and minimum. Returns false when fn fails. */
static bool time_runs(const bench_opts *o, bool (*fn)(void *), void *ctx, bench_result *r) {
    for (int i = 0; i < o->warmup; i++)
        if (!fn(ctx)) return false;
    enum { MAX_RUNS = 1000 };
    static double t[MAX_RUNS], cpu[MAX_RUNS];
    double total = 0;
    int n = 0;
    while (n < MAX_RUNS && (n < o->iters || total < o->min_seconds)) {
        double t0 = omp_get_wtime(), c0 = cpu_seconds();
        if (!fn(ctx)) return false;
        t[n] = omp_get_wtime() - t0;
        cpu[n] = (cpu_seconds() - c0) / omp_get_max_threads();
        total += t[n++];
    }
    qsort(t, (size_t)n, sizeof t[0], cmp_double);
    qsort(cpu, (size_t)n, sizeof cpu[0], cmp_double);
    r->cpu_ms = 1e3 * cpu[n / 2];
    r->median_ms = 1e3 * (n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]));
    r->min_ms = 1e3 * t[0];
    r->iters = n;
    return true;
}

static void fill_random(cn_real *x, int64_t n, uint64_t seed) {
    cn_rng r;
    cn_rng_seed(&r, seed, 7);
    cn_rng_fill_uniform(&r, x, n, -1, 1);
}

/* Options every bench subcommand shares; returns 1 if argv[*i] was one of them, 0 if not, -1 on a bad
 * value (message printed). */
static int common_option(int argc, char **argv, int *i, bench_opts *o, long *threads) {
    const char *a = argv[*i];
    long v;
    if (strcmp(a, "--json") == 0) {
        o->json = true;
        return 1;
    }
    if (*i + 1 >= argc) return 0;
    if (strcmp(a, "--threads") == 0) {
        if (!cli_parse_long(argv[++*i], 1, 1024, threads)) return cli_fail(2, "--threads: '%s' is not a thread count", argv[*i]), -1;
        return 1;
    }
    if (strcmp(a, "--iters") == 0) {
        if (!cli_parse_long(argv[++*i], 1, 1000, &v)) return cli_fail(2, "--iters: '%s' is not 1..1000", argv[*i]), -1;
        o->iters = (int)v;
        return 1;
    }
    if (strcmp(a, "--min-time") == 0) {
        double t;
        if (!cli_parse_double(argv[++*i], 0, 3600, &t)) return cli_fail(2, "--min-time: '%s' is not 0..3600 s", argv[*i]), -1;
        o->min_seconds = t;
        return 1;
    }
    if (strcmp(a, "--warmup") == 0) {
        if (!cli_parse_long(argv[++*i], 0, 1000, &v)) return cli_fail(2, "--warmup: '%s' is not 0..1000", argv[*i]), -1;
        o->warmup = (int)v;
        return 1;
    }
    return 0;
}

static void print_result(const bench_opts *o, const char *what, const bench_result *r, double flops,
                         const char *algorithm, const char *extra_json) {
    double gflops = flops / (r->median_ms * 1e-3) / 1e9;
    if (o->json)
        printf("{\"bench\": \"%s\", \"median_ms\": %.4f, \"min_ms\": %.4f, \"iters\": %d, \"gflops\": %.6g, "
               "\"cpu_ms\": %.4f, \"algorithm\": \"%s\", \"threads\": %d, \"isa\": \"%s\"%s}\n",
               what, r->median_ms, r->min_ms, r->iters, gflops, r->cpu_ms, algorithm, omp_get_max_threads(), cn_kernels_isa(),
               extra_json ? extra_json : "");
    else
        printf("%s: median %.3f ms, min %.3f ms, cpu %.3f ms over %d runs, %.1f GFLOP/s (cpu %.1f), %s, %d threads, "
               "%s kernels\n", what, r->median_ms, r->min_ms, r->cpu_ms, r->iters, gflops, flops / (r->cpu_ms * 1e-3) / 1e9, algorithm, omp_get_max_threads(), cn_kernels_isa());
}

/* ---------------------------------------------------------------- gemm */
typedef struct {
    int64_t m, n, k;
    bool ta, tb;
    float *a, *b, *c;
    void *ws;
} gemm_ctx;

static bool run_gemm(void *p) {
    gemm_ctx *g = p;
    cn_gemm(g->ta, g->tb, g->m, g->n, g->k, 1, g->a, g->ta ? g->m : g->k, g->b, g->tb ? g->k : g->n, 0, g->c, g->n, g->ws);
    return true;
}

static int bench_gemm(int argc, char **argv, bench_opts *o) {
    long m = 1024, n = 1024, k = 1024, threads = omp_get_max_threads();
    gemm_ctx g = {0};
    for (int i = 1; i < argc; i++) {
        int c = common_option(argc, argv, &i, o, &threads);
        if (c < 0) return 2;
        if (c) continue;
        if (strcmp(argv[i], "--ta") == 0) g.ta = true;
        else if (strcmp(argv[i], "--tb") == 0) g.tb = true;
        else if (i + 1 < argc && (!strcmp(argv[i], "--m") || !strcmp(argv[i], "--n") || !strcmp(argv[i], "--k"))) {
            long *dst = argv[i][2] == 'm' ? &m : argv[i][2] == 'n' ? &n : &k;
            if (!cli_parse_long(argv[++i], 1, 1 << 20, dst)) return cli_fail(2, "%s: '%s' is not a size", argv[i - 1], argv[i]);
        } else
            return cli_fail(2, "bench gemm: unknown option '%s'", argv[i]);
    }
    omp_set_num_threads((int)threads);
    g.m = m, g.n = n, g.k = k;
    g.a = cn_malloc(sizeof(float) * (size_t)(m * k));
    g.b = cn_malloc(sizeof(float) * (size_t)(k * n));
    g.c = cn_malloc(sizeof(float) * (size_t)(m * n));
    g.ws = cn_malloc(cn_gemm_workspace(m, n, k) + 64);
    if (!g.a || !g.b || !g.c || !g.ws) return cli_fail(1, "bench gemm: out of memory");
    fill_random(g.a, m * k, 1);
    fill_random(g.b, k * n, 2);
    bench_result r;
    time_runs(o, run_gemm, &g, &r);
    char what[96];
    snprintf(what, sizeof what, "gemm %ldx%ldx%ld%s%s", m, n, k, g.ta ? " ta" : "", g.tb ? " tb" : "");
    print_result(o, what, &r, 2.0 * (double)m * n * k, "gemm", NULL);
    cn_free(g.a), cn_free(g.b), cn_free(g.c), cn_free(g.ws);
    return 0;
}

/* Resident and peak resident memory of this process in MB (VmRSS, VmHWM of /proc/self/status); -1 when
 * unknown. */
static void read_rss_mb(double *rss, double *peak) {
    *rss = *peak = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return;
    char line[256];
    long kb;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1) *rss = kb / 1024.0;
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) *peak = kb / 1024.0;
    }
    fclose(f);
}

/* ---------------------------------------------------------------- graphs (conv, model) */
typedef struct {
    cn_graph *g;
    int top;
    bool train;
    cn_real *seed;
    cn_optimizer *opt;
} graph_ctx;

static bool run_graph(void *p) {
    graph_ctx *c = p;
    if (cn_forward(c->g, c->train ? CN_TRAIN : CN_EVAL)) return false;
    if (!c->train) return true;
    cn_zero_grad(c->g); /* a whole training step, as `convnet train` runs it (and PyTorch's zero_grad) */
    if (cn_backward(c->g, c->top, c->seed)) return false;
    if (c->opt && cn_optimizer_step(c->opt)) return false;
    return true;
}

static bool parse_hw(const char *s, long *h, long *w) {
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    char *x = strchr(buf, 'x');
    if (!x) return cli_parse_long(buf, 1, 1 << 16, h) && (*w = *h, true);
    *x = 0;
    return cli_parse_long(buf, 1, 1 << 16, h) && cli_parse_long(x + 1, 1, 1 << 16, w);
}

static int bench_conv(int argc, char **argv, bench_opts *o) {
    long batch = 32, in = 64, out = 64, h = 56, w = 56, kernel = 3, stride = 1, pad = -1, groups = 1, dil = 1;
    long threads = omp_get_max_threads();
    bool backward = false, bias = true;
    for (int i = 1; i < argc; i++) {
        int c = common_option(argc, argv, &i, o, &threads);
        if (c < 0) return 2;
        if (c) continue;
        const char *a = argv[i];
        long *dst = NULL, lo = 1;
        if (strcmp(a, "--backward") == 0) {
            backward = true;
            continue;
        }
        if (strcmp(a, "--no-bias") == 0) {
            bias = false;
            continue;
        }
        if (i + 1 >= argc) return cli_fail(2, "bench conv: unknown option '%s'", a);
        if (strcmp(a, "--size") == 0) {
            if (!parse_hw(argv[++i], &h, &w)) return cli_fail(2, "--size: '%s' is not HxW", argv[i]);
            continue;
        }
        if (strcmp(a, "--batch") == 0) dst = &batch;
        else if (strcmp(a, "--in") == 0) dst = &in;
        else if (strcmp(a, "--out") == 0) dst = &out;
        else if (strcmp(a, "--kernel") == 0) dst = &kernel;
        else if (strcmp(a, "--stride") == 0) dst = &stride;
        else if (strcmp(a, "--pad") == 0) dst = &pad, lo = 0;
        else if (strcmp(a, "--groups") == 0) dst = &groups;
        else if (strcmp(a, "--dilation") == 0) dst = &dil;
        else return cli_fail(2, "bench conv: unknown option '%s'", a);
        if (!cli_parse_long(argv[++i], lo, 1 << 20, dst)) return cli_fail(2, "%s: '%s' is not a valid number", a, argv[i]);
    }
    if (pad < 0) pad = dil * (kernel - 1) / 2; /* "same" for odd kernels at stride 1 */
    omp_set_num_threads((int)threads);
    graph_ctx c = {.train = backward};
    c.g = cn_graph_create();
    if (!c.g) return cli_fail(1, "bench conv: %s", cn_last_error());
    int x = cn_input(c.g, "x", cn_shape4(batch, in, h, w));
    cn_conv_attr attr = cn_conv_attr_make((int)out, (int)kernel, (int)stride, (int)pad);
    attr.groups = (int)groups;
    attr.bias = bias;
    for (int k = 0; k < 2; k++) attr.dilation[k] = (int)dil;
    int y = x >= 0 ? cn_conv(c.g, "conv", x, &attr) : -1;
    if (y < 0) {
        cn_graph_free(c.g);
        return cli_fail(1, "bench conv: %s", cn_last_error());
    }
    c.top = y;
    cn_shape ys = cn_node_shape(c.g, y);
    int64_t xn = batch * in * h * w, yn = cn_shape_numel(&ys);
    cn_real *xd = malloc(sizeof(cn_real) * (size_t)xn);
    c.seed = backward ? malloc(sizeof(cn_real) * (size_t)yn) : NULL;
    if (!xd || (backward && !c.seed)) return cli_fail(1, "bench conv: out of memory");
    fill_random(xd, xn, 3);
    if (c.seed) fill_random(c.seed, yn, 4);
    cn_status st = cn_set_input(c.g, x, xd, xn);
    bench_result r;
    if (st || !time_runs(o, run_graph, &c, &r)) {
        cn_graph_free(c.g);
        return cli_fail(1, "bench conv: %s", cn_last_error());
    }
    const char *reason = "";
    const char *algo = cn_conv_node_algorithm(c.g, y, &reason);
    /* forward 2*MACs; backward data and weights as much again each (data only when the input needs it:
     * here it always does, the graph computes every gradient in training) */
    double macs = (double)ys.dims[0] * ys.dims[1] * ys.dims[2] * ys.dims[3] * (double)(in / groups) * kernel * kernel;
    double flops = 2 * macs * (backward ? 3 : 1);
    char what[160], extra[320];
    snprintf(what, sizeof what, "conv mb%ldic%ldih%ldiw%ldoc%ldkh%ldsh%ldph%ldg%ldd%ld%s", batch, in, h, w, out, kernel,
             stride, pad, groups, dil, backward ? " fwd+bwd" : " fwd");
    snprintf(extra, sizeof extra, ", \"reason\": \"%s\", \"out\": [%lld, %lld, %lld, %lld]", reason,
             (long long)ys.dims[0], (long long)ys.dims[1], (long long)ys.dims[2], (long long)ys.dims[3]);
    print_result(o, what, &r, flops, algo, extra);
    if (!o->json && reason[0]) printf("  algorithm %s: %s\n", algo, reason);
    free(xd);
    free(c.seed);
    cn_graph_free(c.g);
    return 0;
}

/* The input a zoo model expects when the user gives none: C x H x W and the number of classes. */
static void model_defaults(const char *name, long *c, long *h, long *w, long *classes) {
    if (strstr(name, "lenet") || strstr(name, "mnist")) *c = 1, *h = *w = 28, *classes = 10;
    else if (strstr(name, "cifar")) *c = 3, *h = *w = 32, *classes = 10;
    else if (strstr(name, "alexnet")) *c = 3, *h = *w = 227, *classes = 1000;
    else *c = 3, *h = *w = 224, *classes = 1000;
}

/* --profile: `runs` more runs with per-node timing; *out (caller frees) becomes a table of the nodes by time, or,
 * with --json, the fields to append to the result's JSON object. */
typedef struct {
    int node;
    double fwd, bwd;
} node_time;

static int cmp_node_time(const void *a, const void *b) {
    const node_time *x = a, *y = b;
    double tx = x->fwd + x->bwd, ty = y->fwd + y->bwd;
    return tx > ty ? -1 : tx < ty ? 1 : x->node - y->node;
}

static bool profile_model(graph_ctx *ctx, const bench_opts *o, int runs, char **out) {
    cn_graph *g = ctx->g;
    int n = cn_graph_node_count(g);
    node_time *t = calloc((size_t)n, sizeof *t);
    size_t size;
    FILE *f = t ? open_memstream(out, &size) : NULL;
    bool ok = f && cn_graph_profile(g, 1) == CN_OK;
    for (int i = 0; ok && i < runs; i++) ok = run_graph(ctx);
    if (!ok) {
        cn_graph_profile(g, 0);
        if (f) fclose(f), free(*out), *out = NULL;
        free(t);
        return false;
    }
    double total = 0;
    for (int i = 0; i < n; i++) {
        t[i].node = i;
        cn_node_profile(g, i, &t[i].fwd, &t[i].bwd);
        t[i].fwd *= 1e3 / runs, t[i].bwd *= 1e3 / runs;
        total += t[i].fwd + t[i].bwd;
    }
    cn_graph_profile(g, 0);
    qsort(t, (size_t)n, sizeof *t, cmp_node_time);
    if (o->json) {
        fprintf(f, ", \"profile_runs\": %d, \"profile\": [", runs);
        for (int i = 0; i < n; i++) {
            const cn_node *nd = &g->nodes[t[i].node];
            fprintf(f, "%s{\"node\": \"%s\", \"op\": \"%s\", \"algorithm\": \"%s\", \"forward_ms\": %.4f, "
                       "\"backward_ms\": %.4f}", i ? ", " : "", nd->name, nd->op->name,
                    cn_conv_node_algorithm(g, t[i].node, NULL), t[i].fwd, t[i].bwd);
        }
        fprintf(f, "]");
    } else {
        fprintf(f, "  profile, ms per run over %d runs (the nodes taking >= 0.5 %%, slowest first):\n", runs);
        fprintf(f, "  %-28s %-20s %-16s %9s %9s %6s\n", "node", "op", "algorithm", "forward", "backward", "share");
        double shown = 0;
        for (int i = 0; i < n; i++) {
            double ti = t[i].fwd + t[i].bwd;
            if (ti < 0.005 * total) break;
            const cn_node *nd = &g->nodes[t[i].node];
            const char *algo = cn_conv_node_algorithm(g, t[i].node, NULL);
            fprintf(f, "  %-28.28s %-20.20s %-16s %9.3f %9.3f %5.1f%%\n", nd->name, nd->op->name,
                   strcmp(algo, "none") ? algo : "", t[i].fwd, t[i].bwd, 100 * ti / total);
            shown += ti;
        }
        fprintf(f, "  %-28s %-20s %-16s %9s %9.3f %5.1f%%\n", "(the other nodes)", "", "", "", total - shown,
                total > 0 ? 100 * (total - shown) / total : 0);
        fprintf(f, "  %-28s %-20s %-16s %9s %9.3f\n", "(all nodes)", "", "", "", total);
    }
    free(t);
    return fclose(f) == 0;
}

static int bench_model(int argc, char **argv, bench_opts *o) {
    const char *name = NULL;
    long batch = 1, threads = omp_get_max_threads(), c = 0, h = 0, w = 0, classes = 0;
    bool train = false, profile = false;
    for (int i = 1; i < argc; i++) {
        int r = common_option(argc, argv, &i, o, &threads);
        if (r < 0) return 2;
        if (r) continue;
        if (strcmp(argv[i], "--train") == 0) train = true;
        else if (strcmp(argv[i], "--profile") == 0) profile = true;
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            if (!cli_parse_long(argv[++i], 1, 1 << 16, &batch)) return cli_fail(2, "--batch: '%s' is not a batch size", argv[i]);
        } else if (strcmp(argv[i], "--classes") == 0 && i + 1 < argc) {
            if (!cli_parse_long(argv[++i], 1, 1 << 20, &classes)) return cli_fail(2, "--classes: '%s' is not a count", argv[i]);
        } else if (strcmp(argv[i], "--input") == 0 && i + 1 < argc) {
            char *s = argv[++i], *x1 = strchr(s, 'x'), *x2 = x1 ? strchr(x1 + 1, 'x') : NULL;
            if (!x1 || !x2) return cli_fail(2, "--input: '%s' is not CxHxW", s);
            *x1 = *x2 = 0;
            if (!cli_parse_long(s, 1, 1 << 16, &c) || !cli_parse_long(x1 + 1, 1, 1 << 16, &h) ||
                !cli_parse_long(x2 + 1, 1, 1 << 16, &w))
                return cli_fail(2, "--input: not CxHxW");
        } else if (argv[i][0] != '-' && !name) name = argv[i];
        else return cli_fail(2, "bench model: unknown option '%s'", argv[i]);
    }
    if (!name) return cli_fail(2, "bench model: which model? (convnet bench model NAME)");
    long dc, dh, dw, dclasses;
    model_defaults(name, &dc, &dh, &dw, &dclasses);
    if (!c) c = dc, h = dh, w = dw;
    if (!classes) classes = dclasses;
    omp_set_num_threads((int)threads);
    graph_ctx ctx = {.train = train};
    ctx.g = cn_graph_create();
    if (!ctx.g) return cli_fail(1, "bench model: %s", cn_last_error());
    int x = cn_input(ctx.g, "x", cn_shape4(batch, c, h, w));
    int labels = cn_input(ctx.g, "labels", cn_shape_make(1, (int64_t[]){batch}));
    if (x >= 0 && labels >= 0) cn_input_set_grad(ctx.g, x, 0), cn_input_set_grad(ctx.g, labels, 0);
    int logits = x >= 0 && labels >= 0 ? cn_model_build(ctx.g, name, x, (int)classes) : -1;
    int loss = logits >= 0 && train ? cn_cross_entropy(ctx.g, "loss", logits, labels, 0.0f) : logits;
    if (loss < 0) {
        cn_graph_free(ctx.g);
        return cli_fail(1, "bench model: %s", cn_last_error());
    }
    ctx.top = loss;
    if (train) {
        cn_optimizer_config oc = cn_sgd_config(0.01, 0.9, 0, 0);
        ctx.opt = cn_optimizer_create(ctx.g, &oc);
        if (!ctx.opt) return cli_fail(1, "bench model: %s", cn_last_error());
    }
    int64_t xn = batch * c * h * w;
    cn_real *xd = malloc(sizeof(cn_real) * (size_t)xn), *ld = malloc(sizeof(cn_real) * (size_t)batch);
    if (!xd || !ld) return cli_fail(1, "bench model: out of memory");
    fill_random(xd, xn, 5);
    for (long i = 0; i < batch; i++) ld[i] = (cn_real)(i % classes);
    cn_status st = cn_set_input(ctx.g, x, xd, xn);
    if (!st) st = cn_set_input(ctx.g, labels, ld, batch);
    double rss_model, peak_unused;  /* the model, optimizer and inputs are resident; no step ran yet */
    read_rss_mb(&rss_model, &peak_unused);
    bench_result r;
    if (st || !time_runs(o, run_graph, &ctx, &r)) {
        cn_graph_free(ctx.g);
        return cli_fail(1, "bench model: %s", cn_last_error());
    }
    /* multiply-adds of every node: conv and linear dominate */
    double macs = 0;
    const char *algos = "graph";
    for (int i = 0; i < ctx.g->n_nodes; i++) {
        const cn_node *nd = &ctx.g->nodes[i];
        if (nd->op->macs) macs += (double)nd->op->macs(ctx.g, nd);
    }
    double flops = 2 * macs * (train ? 3 : 1);
    double rss_now, peak_rss;
    read_rss_mb(&rss_now, &peak_rss);
    double plan_mb = (double)cn_graph_memory_bytes(ctx.g, train ? CN_TRAIN : CN_EVAL) / (1024.0 * 1024.0);
    char what[160], extra[320], *prof = NULL;
    snprintf(what, sizeof what, "model %s batch %ld %s", name, batch, train ? "train step" : "inference");
    snprintf(extra, sizeof extra,
             ", \"images_per_s\": %.1f, \"plan_mb\": %.1f, \"rss_model_mb\": %.1f, \"peak_rss_mb\": %.1f, "
             "\"peak_increment_mb\": %.1f",
             batch / (r.median_ms * 1e-3), plan_mb, rss_model, peak_rss, peak_rss - rss_model);
    if (profile && !profile_model(&ctx, o, r.iters, &prof)) {
        cn_graph_free(ctx.g);
        return cli_fail(1, "bench model: --profile: %s", cn_last_error());
    }
    if (prof && o->json) { /* the profile's fields join the one JSON object */
        char *all = malloc(strlen(extra) + strlen(prof) + 1);
        if (!all) return cli_fail(1, "bench model: out of memory");
        strcpy(all, extra), strcat(all, prof);
        print_result(o, what, &r, flops, algos, all);
        free(all);
    } else {
        print_result(o, what, &r, flops, algos, extra);
    }
    if (!o->json)
        printf("  %.1f images/s; memory: plan %.1f MB, resident before the first run %.1f MB, peak %.1f MB "
               "(+%.1f MB)\n%s",
               batch / (r.median_ms * 1e-3), plan_mb, rss_model, peak_rss, peak_rss - rss_model, prof ? prof : "");
    free(prof);
    free(xd);
    free(ld);
    cn_optimizer_free(ctx.opt);
    cn_graph_free(ctx.g);
    return 0;
}

int cmd_bench(int argc, char **argv) {
    bench_opts o = {.warmup = 3, .iters = 10, .min_seconds = 1.0};
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("usage: convnet bench gemm [--m M] [--n N] [--k K] [--ta] [--tb]\n"
               "       convnet bench conv --batch N --in C --size HxW --out K --kernel R [--stride S] [--pad P]\n"
               "                          [--groups G] [--dilation D] [--no-bias] [--backward]\n"
               "       convnet bench model NAME [--batch N] [--train] [--input CxHxW] [--classes N] [--profile]\n"
               "common options: [--threads T] [--iters N] [--warmup N] [--min-time S] [--json]\n"
               "Median time per iteration over warm runs (at least --iters runs and --min-time s, 1 s), GFLOP/s (2 per\n"
               "multiply-add; forward+backward counts 3x the forward), the algorithm used. CN_ISA selects the\n"
               "kernel set, CN_LOG_ALGO=1 logs each convolution's algorithm choice. --profile times every node\n"
               "(forward and backward, ms per run) over as many runs again and lists the slowest.\n");
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "gemm") == 0) return bench_gemm(argc - 1, argv + 1, &o);
    if (strcmp(argv[1], "conv") == 0) return bench_conv(argc - 1, argv + 1, &o);
    if (strcmp(argv[1], "model") == 0) return bench_model(argc - 1, argv + 1, &o);
    return cli_fail(2, "bench: unknown benchmark '%s' (gemm, conv, model)", argv[1]);
}
