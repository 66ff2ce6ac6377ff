/* cn_test.h — what every test uses: CHECK macros, the golden-file runner and the numerical gradient check.
 * A test file is a main() that calls its cases and ends with `return cn_test_finish();`, which prints the
 * closing "N passed, N failed" line. */
#ifndef CN_TEST_H
#define CN_TEST_H

#include "convnet.h"
#include "io/safetensors.h"
#include <stdio.h>

extern int cn_test_passed, cn_test_failed;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (cond) cn_test_passed++;                                                        \
        else {                                                                             \
            cn_test_failed++;                                                              \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                           \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
        }                                                                                  \
    } while (0)
#define CHECK_OK(expr)                                                                     \
    do {                                                                                   \
        cn_status st_ = (expr);                                                            \
        CHECK(st_ == CN_OK, "%s returned %s: %s", #expr, cn_status_name(st_), cn_last_error()); \
    } while (0)
/* An expression that must fail with a message containing `needle`. */
#define CHECK_ERROR(expr, needle)                                                          \
    do {                                                                                   \
        long r_ = (long)(expr);                                                            \
        CHECK(r_ != 0 && strstr(cn_last_error(), needle) != NULL,                          \
              "%s: expected an error containing \"%s\", got %ld \"%s\"", #expr, needle, r_, cn_last_error()); \
    } while (0)

int cn_test_finish(void);

/* ---- golden files: tests/golden/data/<family>/<case>.safetensors, made by tests/golden/make_golden.py.
 * Tensors: in.0, in.1 ... (op inputs), param.<name> (initial parameter values), out, gout (upstream
 * gradient), grad.in.<i>, grad.param.<name>, after.<name> (buffers after the step), eval.out.
 * Metadata: "op", "attrs" (a JSON object), optionally "mode" ("train" default, or "eval"). */
typedef struct {
    char family[64], name[128], path[512];
    st_file file;
    json_value *attrs;
} golden_case;

/* Names of the cases of a family, sorted; returns the count (0 and a FAIL when the directory is missing). */
int golden_list(const char *family, char names[][128], int max);
int golden_open(golden_case *c, const char *family, const char *name);  /* 0 on success, FAILs otherwise */
void golden_close(golden_case *c);
int golden_has(const golden_case *c, const char *tensor);
cn_shape golden_shape(const golden_case *c, const char *tensor);
/* The tensor as cn_real in a malloc'd buffer (free it); *count gets its size. */
cn_real *golden_tensor(const golden_case *c, const char *tensor, int64_t *count);
const char *golden_meta(const golden_case *c, const char *key);
double golden_attr_num(const golden_case *c, const char *key, double fallback);
int golden_attr_int(const golden_case *c, const char *key, int fallback);
const char *golden_attr_str(const golden_case *c, const char *key, const char *fallback);
/* An integer list attribute (a number counts as a one-element list); returns the count, 0 when absent. */
int golden_attr_ints(const golden_case *c, const char *key, int *out, int max);
/* Make a graph input for in.<i> with the golden shape. */
int golden_input(const golden_case *c, cn_graph *g, int i);

/* max|ours - ref| / max(1, max|ref|) */
double cn_rel_error(const cn_real *ours, const cn_real *ref, int64_t n);
/* max|ours - ref| / max|ref| (relative to the largest reference value, e.g. the largest logit; 1 when ref is
 * all zero); NaN counts as the largest error. */
double cn_rel_error_to_max(const cn_real *ours, const cn_real *ref, int64_t n);
/* Compare ours against the golden tensor `tensor` with the error above <= tol; a CHECK with a message. */
void golden_compare(const golden_case *c, const char *tensor, const cn_real *ours, int64_t n, double tol);

/* The whole check of one node: copy in.<i> into the given inputs and param.* into the node's parameters,
 * forward in train mode (or eval, by metadata) and compare out; backward with gout and compare grad.in.<i>
 * (where present) and grad.param.*; compare after.* buffers; forward in eval mode and compare eval.out. */
void golden_check_node(const golden_case *c, cn_graph *g, int node, const int *inputs, int n_inputs);
#define GOLDEN_TOL 1e-4

/* ---- whole-graph golden cases (e.g. family "dag"), where tensors carry full graph parameter names.
 * golden_load_graph_params: copy every tensor "param.<p>" into the graph parameter "<p>" (param.fc1.weight
 * -> fc1.weight); a FAIL when the graph has no such parameter or the sizes differ. Returns the count loaded.
 * golden_compare_graph_grads: compare every "grad.param.<p>" with the gradient of graph parameter "<p>"
 * (error as golden_compare, <= tol). Returns the count compared. */
int golden_load_graph_params(const golden_case *c, cn_graph *g);
int golden_compare_graph_grads(const golden_case *c, const cn_graph *g, double tol);

/* ---- numerical gradients: L = sum(out(node) * w) for a fixed random w. For every input in `inputs` and
 * every trainable parameter, compare backward's gradient with the central difference
 * (L(x + eps) - L(x - eps)) / 2 eps on up to max_per_tensor elements (all when fewer), in the precision of
 * cn_real (double in grad_* tests). The graph's seed is reset before each forward, so dropout masks repeat.
 * Passes when |num - ana| <= tol * max(1, |num|, |ana|). Returns the number of failures. */
int cn_gradcheck(cn_graph *g, int node, const int *inputs, int n_inputs, double eps, double tol,
                 int max_per_tensor);

/* Fill an input node with seeded uniform values in [lo, hi). */
void cn_test_fill_input(cn_graph *g, int node, uint64_t seed, double lo, double hi);

/* A test-only op "bn1"-like: y = x, with a trainable per-channel "weight" (ones) and a "running_mean"
 * buffer (0, 1, 2, ...), for optimizer and checkpoint tests that need both kinds of parameter. */
int cn_test_holder(cn_graph *g, const char *name, int x);

/* ---- a counting allocator (cn_set_allocator) for "allocates nothing" tests */
void cn_test_count_allocations(int on);   /* installs (1) or removes (0) the counting allocator */
long cn_test_allocation_count(void);

#endif
