/* cn_test.c — see cn_test.h. */
#include "cn_test.h"
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int cn_test_passed, cn_test_failed;

int cn_test_finish(void) {
    printf("%d passed, %d failed\n", cn_test_passed, cn_test_failed);
    return cn_test_failed ? 1 : 0;
}

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

int golden_list(const char *family, char names[][128], int max) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", CN_GOLDEN_DIR, family);
    DIR *d = opendir(dir);
    CHECK(d != NULL, "golden directory %s is missing (run tests/golden/make_golden.py)", dir);
    if (!d) return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d)) && count < max) {
        size_t len = strlen(e->d_name);
        const char *ext = ".safetensors";
        if (len > strlen(ext) && strcmp(e->d_name + len - strlen(ext), ext) == 0 && len - strlen(ext) < 128) {
            memcpy(names[count], e->d_name, len - strlen(ext));
            names[count][len - strlen(ext)] = '\0';
            count++;
        }
    }
    closedir(d);
    qsort(names, (size_t)count, 128, cmp_names);
    return count;
}

int golden_open(golden_case *c, const char *family, const char *name) {
    memset(c, 0, sizeof *c);
    snprintf(c->family, sizeof c->family, "%s", family);
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->path, sizeof c->path, "%s/%s/%s.safetensors", CN_GOLDEN_DIR, family, name);
    cn_status st = st_read(c->path, &c->file);
    CHECK(st == CN_OK, "%s: %s", c->path, cn_last_error());
    if (st) return 1;
    const char *attrs = st_metadata(&c->file, "attrs");
    if (attrs) {
        c->attrs = json_parse(attrs, strlen(attrs));
        CHECK(c->attrs != NULL, "%s: bad attrs: %s", c->path, cn_last_error());
        if (!c->attrs) return 1;
    }
    return 0;
}

void golden_close(golden_case *c) {
    st_free(&c->file);
    json_free(c->attrs);
    c->attrs = NULL;
}

int golden_has(const golden_case *c, const char *tensor) { return st_find(&c->file, tensor) != NULL; }

cn_shape golden_shape(const golden_case *c, const char *tensor) {
    const st_tensor *t = st_find(&c->file, tensor);
    cn_shape s = {0};
    if (!t) return s;
    s.ndim = t->ndim;
    for (int i = 0; i < t->ndim && i < CN_MAX_DIMS; i++) s.dims[i] = t->dims[i];
    return s;
}

cn_real *golden_tensor(const golden_case *c, const char *tensor, int64_t *count) {
    const st_tensor *t = st_find(&c->file, tensor);
    if (!t) {
        CHECK(0, "%s: no tensor '%s'", c->path, tensor);
        return NULL;
    }
    int64_t n = st_numel(t);
    cn_real *buf = malloc((size_t)(n ? n : 1) * sizeof(cn_real));
    if (st_to_real(t, buf, n) != CN_OK) {
        CHECK(0, "%s: %s", c->path, cn_last_error());
        free(buf);
        return NULL;
    }
    if (count) *count = n;
    return buf;
}

const char *golden_meta(const golden_case *c, const char *key) { return st_metadata(&c->file, key); }

double golden_attr_num(const golden_case *c, const char *key, double fallback) {
    return json_get_number(c->attrs, key, fallback);
}
int golden_attr_int(const golden_case *c, const char *key, int fallback) {
    return (int)json_get_number(c->attrs, key, fallback);
}
const char *golden_attr_str(const golden_case *c, const char *key, const char *fallback) {
    return json_get_string(c->attrs, key, fallback);
}
int golden_attr_ints(const golden_case *c, const char *key, int *out, int max) {
    const json_value *v = json_get(c->attrs, key);
    if (!v) return 0;
    if (v->type == JSON_NUMBER || v->type == JSON_BOOL) {
        if (max > 0) out[0] = (int)v->number;
        return 1;
    }
    int n = 0;
    for (const json_value *e = v->child; e && n < max; e = e->next) out[n++] = (int)e->number;
    return n;
}

int golden_input(const golden_case *c, cn_graph *g, int i) {
    char name[32];
    snprintf(name, sizeof name, "in.%d", i);
    cn_shape s = golden_shape(c, name);
    CHECK(s.ndim > 0, "%s: no tensor %s", c->path, name);
    char node[32];
    snprintf(node, sizeof node, "x%d", i);
    int id = cn_input(g, node, s);
    CHECK(id >= 0, "%s: input %s: %s", c->path, name, cn_last_error());
    return id;
}

double cn_rel_error(const cn_real *ours, const cn_real *ref, int64_t n) {
    double maxdiff = 0, maxref = 1;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)ours[i] - (double)ref[i]);
        if (!(d <= maxdiff)) maxdiff = d; /* NaN counts as the largest error */
        if (fabs((double)ref[i]) > maxref) maxref = fabs((double)ref[i]);
    }
    return maxdiff / maxref;
}

double cn_rel_error_to_max(const cn_real *ours, const cn_real *ref, int64_t n) {
    double maxdiff = 0, maxref = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)ours[i] - (double)ref[i]);
        if (!(d <= maxdiff)) maxdiff = d; /* NaN counts as the largest error */
        if (fabs((double)ref[i]) > maxref) maxref = fabs((double)ref[i]);
    }
    return maxdiff / (maxref > 0 ? maxref : 1);
}

void golden_compare(const golden_case *c, const char *tensor, const cn_real *ours, int64_t n, double tol) {
    int64_t count = 0;
    cn_real *ref = golden_tensor(c, tensor, &count);
    if (!ref) return;
    if (!ours) {
        CHECK(0, "%s/%s: %s: no output to compare", c->family, c->name, tensor);
    } else if (count != n) {
        CHECK(0, "%s/%s: %s has %lld elements, ours %lld", c->family, c->name, tensor, (long long)count, (long long)n);
    } else {
        double err = cn_rel_error(ours, ref, n);
        CHECK(err <= tol, "%s/%s: %s error %.3g > %.1g", c->family, c->name, tensor, err, tol);
        if (getenv("CN_TEST_VERBOSE")) printf("  %s/%s %s error %.3g\n", c->family, c->name, tensor, err);
    }
    free(ref);
}

/* Copy param.<suffix> tensors of the golden case into the node's parameters of that suffix. */
static void load_params(const golden_case *c, cn_graph *g, const char *node_name) {
    for (int i = 0; i < c->file.count; i++) {
        const char *tname = c->file.tensors[i].name;
        if (strncmp(tname, "param.", 6) != 0) continue;
        char pname[256];
        snprintf(pname, sizeof pname, "%s.%s", node_name, tname + 6);
        int pi = cn_param_find(g, pname);
        CHECK(pi >= 0, "%s/%s: the node has no parameter %s", c->family, c->name, pname);
        if (pi < 0) continue;
        cn_param p = cn_param_get(g, pi);
        cn_status st = st_to_real(&c->file.tensors[i], p.value->data, cn_tensor_numel(p.value));
        CHECK(st == CN_OK, "%s/%s: %s: %s", c->family, c->name, pname, cn_last_error());
    }
}

/* Compare every tensor named <prefix><suffix> with our parameter (value or grad) <node>.<suffix>. */
static void compare_params(const golden_case *c, cn_graph *g, const char *node_name, const char *prefix, int grads) {
    size_t plen = strlen(prefix);
    for (int i = 0; i < c->file.count; i++) {
        const char *tname = c->file.tensors[i].name;
        if (strncmp(tname, prefix, plen) != 0) continue;
        char pname[256];
        snprintf(pname, sizeof pname, "%s.%s", node_name, tname + plen);
        int pi = cn_param_find(g, pname);
        CHECK(pi >= 0, "%s/%s: the node has no parameter %s", c->family, c->name, pname);
        if (pi < 0) continue;
        cn_param p = cn_param_get(g, pi);
        cn_tensor *t = grads ? p.grad : p.value;
        CHECK(t != NULL, "%s/%s: %s has no gradient", c->family, c->name, pname);
        if (t) golden_compare(c, tname, t->data, cn_tensor_numel(t), GOLDEN_TOL);
    }
}

void golden_check_node(const golden_case *c, cn_graph *g, int node, const int *inputs, int n_inputs) {
    const char *node_name = cn_node_name(g, node);
    for (int i = 0; i < n_inputs; i++) {
        char tname[32];
        snprintf(tname, sizeof tname, "in.%d", i);
        int64_t n = 0;
        cn_real *x = golden_tensor(c, tname, &n);
        if (!x) return;
        CHECK_OK(cn_set_input(g, inputs[i], x, n));
        free(x);
    }
    load_params(c, g, node_name);
    cn_graph_mark_output(g, node);
    const char *mode = golden_meta(c, "mode");
    cn_shape os = cn_node_shape(g, node);
    int64_t out_n = cn_shape_numel(&os);
    if (mode && strcmp(mode, "eval") == 0) {
        CHECK_OK(cn_forward(g, CN_EVAL));
        golden_compare(c, "out", cn_node_output(g, node), out_n, GOLDEN_TOL);
        return;
    }
    CHECK_OK(cn_forward(g, CN_TRAIN));
    if (golden_has(c, "out")) golden_compare(c, "out", cn_node_output(g, node), out_n, GOLDEN_TOL);
    compare_params(c, g, node_name, "after.", 0);
    if (golden_has(c, "gout")) {
        int64_t n = 0;
        cn_real *gy = golden_tensor(c, "gout", &n);
        CHECK(n == out_n, "%s/%s: gout has %lld elements, output %lld", c->family, c->name, (long long)n, (long long)out_n);
        if (gy && n == out_n) {
            cn_zero_grad(g);
            CHECK_OK(cn_backward(g, node, gy));
            for (int i = 0; i < n_inputs; i++) {
                char tname[32];
                snprintf(tname, sizeof tname, "grad.in.%d", i);
                if (!golden_has(c, tname)) continue;
                cn_shape s = cn_node_shape(g, inputs[i]);
                golden_compare(c, tname, cn_node_grad(g, inputs[i]), cn_shape_numel(&s), GOLDEN_TOL);
            }
            compare_params(c, g, node_name, "grad.param.", 1);
        }
        free(gy);
    }
    if (golden_has(c, "eval.out")) {
        CHECK_OK(cn_forward(g, CN_EVAL));
        golden_compare(c, "eval.out", cn_node_output(g, node), out_n, GOLDEN_TOL);
    }
}

int golden_load_graph_params(const golden_case *c, cn_graph *g) {
    int loaded = 0;
    for (int i = 0; i < c->file.count; i++) {
        const st_tensor *t = &c->file.tensors[i];
        if (strncmp(t->name, "param.", 6) != 0) continue;
        int pi = cn_param_find(g, t->name + 6);
        CHECK(pi >= 0, "%s/%s: the graph has no parameter %s", c->family, c->name, t->name + 6);
        if (pi < 0) continue;
        cn_param p = cn_param_get(g, pi);
        int64_t n = cn_tensor_numel(p.value);
        CHECK(st_numel(t) == n, "%s/%s: %s has %lld elements, the parameter %lld", c->family, c->name, t->name,
              (long long)st_numel(t), (long long)n);
        if (st_numel(t) != n) continue;
        cn_status st = st_to_real(t, p.value->data, n);
        CHECK(st == CN_OK, "%s/%s: %s: %s", c->family, c->name, t->name, cn_last_error());
        if (st == CN_OK) loaded++;
    }
    return loaded;
}

int golden_compare_graph_grads(const golden_case *c, const cn_graph *g, double tol) {
    int compared = 0;
    for (int i = 0; i < c->file.count; i++) {
        const char *tname = c->file.tensors[i].name;
        if (strncmp(tname, "grad.param.", 11) != 0) continue;
        int pi = cn_param_find(g, tname + 11);
        CHECK(pi >= 0, "%s/%s: the graph has no parameter %s", c->family, c->name, tname + 11);
        if (pi < 0) continue;
        cn_param p = cn_param_get(g, pi);
        CHECK(p.grad != NULL, "%s/%s: %s has no gradient", c->family, c->name, tname + 11);
        if (!p.grad) continue;
        golden_compare(c, tname, p.grad->data, cn_tensor_numel(p.grad), tol);
        compared++;
    }
    return compared;
}

void cn_test_fill_input(cn_graph *g, int node, uint64_t seed, double lo, double hi) {
    cn_shape s = cn_node_shape(g, node);
    int64_t n = cn_shape_numel(&s);
    cn_real *x = malloc((size_t)n * sizeof(cn_real));
    cn_rng r;
    cn_rng_seed(&r, seed, 7);
    cn_rng_fill_uniform(&r, x, n, lo, hi);
    CHECK_OK(cn_set_input(g, node, x, n));
    free(x);
}

/* ---- gradient check */
static double weighted_loss(cn_graph *g, int node, const cn_real *w, int64_t n, uint64_t seed) {
    cn_graph_set_seed(g, seed);
    if (cn_forward(g, CN_TRAIN) != CN_OK) return NAN;
    const cn_real *y = cn_node_output(g, node);
    double l = 0;
    for (int64_t i = 0; i < n; i++) l += (double)y[i] * (double)w[i];
    return l;
}

/* Pick up to max element indices of n (all when n <= max), spread with a seeded RNG. */
static int64_t pick(int64_t n, int max, int k, cn_rng *r) {
    if (n <= max) return k;
    return (int64_t)cn_rng_below(r, (uint32_t)n);
}

static int check_tensor(cn_graph *g, int node, const cn_real *w, int64_t nout, cn_real *x, const cn_real *ana,
                        int64_t n, int input_node, const char *label, double eps, double tol, int max, uint64_t seed) {
    int failures = 0;
    cn_rng r;
    cn_rng_seed(&r, 99, 3);
    int count = n <= max ? (int)n : max;
    for (int k = 0; k < count; k++) {
        int64_t i = pick(n, max, k, &r);
        cn_real saved = x[i];
        x[i] = saved + (cn_real)eps;
        if (input_node >= 0) cn_set_input(g, input_node, x, n);
        double lp = weighted_loss(g, node, w, nout, seed);
        x[i] = saved - (cn_real)eps;
        if (input_node >= 0) cn_set_input(g, input_node, x, n);
        double lm = weighted_loss(g, node, w, nout, seed);
        x[i] = saved;
        if (input_node >= 0) cn_set_input(g, input_node, x, n);
        double num = (lp - lm) / (2 * eps), a = (double)ana[i];
        double scale = fmax(1.0, fmax(fabs(num), fabs(a)));
        if (!(fabs(num - a) <= tol * scale)) {
            if (failures < 5)
                fprintf(stderr, "  gradcheck %s: d/d[%lld] analytic %.9g numeric %.9g\n", label, (long long)i, a, num);
            failures++;
        }
    }
    return failures;
}

int cn_gradcheck(cn_graph *g, int node, const int *inputs, int n_inputs, double eps, double tol, int max) {
    const uint64_t seed = 1234;
    cn_graph_mark_output(g, node);
    cn_shape os = cn_node_shape(g, node);
    int64_t nout = cn_shape_numel(&os);
    cn_real *w = malloc((size_t)nout * sizeof(cn_real));
    cn_rng r;
    cn_rng_seed(&r, 5, 5);
    cn_rng_fill_uniform(&r, w, nout, -1, 1);
    int failures = 0;
    weighted_loss(g, node, w, nout, seed);
    cn_zero_grad(g);
    if (cn_backward(g, node, w) != CN_OK) {
        CHECK(0, "gradcheck: backward failed: %s", cn_last_error());
        free(w);
        return 1;
    }
    /* Save analytic gradients before the finite-difference forwards overwrite the plan's buffers. */
    for (int i = 0; i < n_inputs; i++) {
        cn_shape s = cn_node_shape(g, inputs[i]);
        int64_t n = cn_shape_numel(&s);
        cn_real *ana = malloc((size_t)n * sizeof(cn_real)), *x = malloc((size_t)n * sizeof(cn_real));
        memcpy(ana, cn_node_grad(g, inputs[i]), (size_t)n * sizeof(cn_real));
        memcpy(x, cn_node_output(g, inputs[i]), (size_t)n * sizeof(cn_real));
        failures += check_tensor(g, node, w, nout, x, ana, n, inputs[i], cn_node_name(g, inputs[i]), eps, tol, max, seed);
        free(ana);
        free(x);
    }
    int np = cn_param_count(g);
    cn_real **saved = calloc((size_t)np, sizeof(cn_real *));
    for (int p = 0; p < np; p++) {
        cn_param prm = cn_param_get(g, p);
        if (!prm.trainable) continue;
        int64_t n = cn_tensor_numel(prm.grad);
        saved[p] = malloc((size_t)n * sizeof(cn_real));
        memcpy(saved[p], prm.grad->data, (size_t)n * sizeof(cn_real));
    }
    for (int p = 0; p < np; p++) {
        cn_param prm = cn_param_get(g, p);
        if (!prm.trainable) continue;
        failures += check_tensor(g, node, w, nout, prm.value->data, saved[p], cn_tensor_numel(prm.value), -1,
                                 prm.name, eps, tol, max, seed);
        free(saved[p]);
    }
    free(saved);
    free(w);
    CHECK(failures == 0, "gradcheck of %s: %d elements differ", cn_node_name(g, node), failures);
    return failures;
}

/* ---- the holder op */
static cn_status holder_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    (void)g, (void)n;
    *out = in[0];
    return CN_OK;
}
static cn_status holder_init(cn_graph *g, cn_node *n) {
    int64_t c[1] = {graph_in_shape(g, n, 0)->dims[1]};
    cn_status st = graph_add_param(g, n, "weight", cn_shape_make(1, c), 1);
    if (!st) st = graph_add_param(g, n, "running_mean", cn_shape_make(1, c), 0);
    if (st) return st;
    for (int64_t i = 0; i < c[0]; i++) graph_param(g, n, 0)->data[i] = 1, graph_param(g, n, 1)->data[i] = (cn_real)i;
    return CN_OK;
}
static cn_status holder_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    (void)mode;
    memcpy(n->out, graph_in(g, n, 0), (size_t)cn_shape_numel(&n->shape) * sizeof(cn_real));
    return CN_OK;
}
static const cn_op_def holder_op = {
    .name = "Holder", .prefix = "holder", .shape = holder_shape, .init_params = holder_init, .forward = holder_forward};

int cn_test_holder(cn_graph *g, const char *name, int x) { return graph_add_node(g, &holder_op, name, &x, 1, NULL, 0); }

/* ---- counting allocator */
static long allocation_count;
static int counting;
static void *count_alloc(size_t bytes, void *user) {
    (void)user;
    allocation_count++;
    size_t rounded = (bytes + 63) / 64 * 64;
    return aligned_alloc(64, rounded ? rounded : 64);
}
static void count_free(void *p, void *user) {
    (void)user;
    free(p);
}
void cn_test_count_allocations(int on) {
    counting = on;
    if (on) {
        cn_allocator a = {count_alloc, count_free, NULL};
        cn_set_allocator(&a);
    } else
        cn_set_allocator(NULL);
}
long cn_test_allocation_count(void) { return allocation_count; }
