/* The graph core: RNG determinism, naming, parameter enumeration, batch changes, the memory plan
 * (no allocation in steady state, buffer reuse in eval) and the API's error messages. */
#include "cn_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void rng_is_reproducible(void) {
    cn_rng a, b;
    cn_rng_seed(&a, 42, 54);
    cn_rng_seed(&b, 42, 54);
    /* PCG32's reference stream for seed 42, sequence 54 (pcg32-demo.c) starts with these. */
    const uint32_t expect[6] = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
    for (int i = 0; i < 6; i++) {
        uint32_t x = cn_rng_u32(&a);
        CHECK(x == expect[i], "pcg32 value %d: got %08x, expected %08x", i, x, expect[i]);
        CHECK(cn_rng_u32(&b) == x, "same seed, same stream");
    }
    double sum = 0, sq = 0;
    int n = 200000, out_of_range = 0;
    for (int i = 0; i < n; i++) {
        float u = cn_rng_uniform(&a);
        if (u < 0 || u >= 1) out_of_range++;
        if (cn_rng_below(&a, 7) >= 7) out_of_range++;
        double z = cn_rng_normal(&a);
        sum += z;
        sq += z * z;
    }
    CHECK(out_of_range == 0, "uniform in [0,1) and below(7) < 7");
    CHECK(fabs(sum / n) < 0.01 && fabs(sq / n - 1) < 0.02, "normal: mean %g, var %g", sum / n, sq / n);
}

static void names_and_params(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){4, 6}));
    int a = cn_linear(g, NULL, x, 5, 1);
    int b = cn_linear(g, NULL, a, 3, 0);
    CHECK(strcmp(cn_node_name(g, a), "fc1") == 0 && strcmp(cn_node_name(g, b), "fc2") == 0, "made-up names fc1, fc2");
    CHECK(strcmp(cn_node_op(g, a), "Gemm") == 0, "op name");
    CHECK(cn_graph_find(g, "fc2") == b && cn_graph_find(g, "nope") == -1, "find by name");
    CHECK(cn_param_count(g) == 3, "3 parameters, got %d", cn_param_count(g));
    const char *want[3] = {"fc1.weight", "fc1.bias", "fc2.weight"};
    for (int i = 0; i < 3 && i < cn_param_count(g); i++)
        CHECK(strcmp(cn_param_get(g, i).name, want[i]) == 0, "param %d is %s", i, want[i]);
    /* the default init is U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    cn_param w = cn_param_get(g, 0);
    double bound = 1 / sqrt(6.0), maxabs = 0;
    for (int i = 0; i < 30; i++) maxabs = fmax(maxabs, fabs(w.value->data[i]));
    CHECK(maxabs <= bound && maxabs > bound / 2, "init bound: max %g, bound %g", maxabs, bound);
    /* the same seed gives the same weights */
    cn_graph *h = cn_graph_create();
    int hx = cn_input(h, "x", cn_shape_make(2, (int64_t[]){4, 6}));
    cn_linear(h, NULL, hx, 5, 1);
    CHECK(memcmp(cn_param_get(h, 0).value->data, w.value->data, 30 * sizeof(cn_real)) == 0, "same seed, same init");
    cn_graph_free(h);
    cn_graph_free(g);
}

static void api_errors(void) {
    cn_graph *g = cn_graph_create();
    CHECK_ERROR(cn_input(g, "x", cn_shape4(2, 0, 3, 3)) < 0, "x: input shape 2x0x3x3 has a dimension < 1");
    /* a shape whose element count overflows 64 bits (found by the ONNX fuzzer) is refused, not multiplied */
    CHECK_ERROR(cn_input(g, "x", cn_shape_make(2, (int64_t[]){72, 1845302443903025155})) < 0,
                "x: shape 72x1845302443903025155 has more than 2^40 elements");
    CHECK(cn_shape_numel(&(cn_shape){2, {INT64_MAX, 2}}) == INT64_MAX, "numel saturates on overflow");
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){2, 3}));
    int y = cn_linear(g, "fc", x, 2, 1);
    cn_real data[6] = {0};
    CHECK_ERROR(cn_set_input(g, x, data, 5), "x: got 5 values, the input of shape 2x3 holds 6");
    CHECK_ERROR(cn_set_input(g, y, data, 6), "fc is a Gemm node, not an input");
    CHECK_ERROR(cn_backward(g, y, NULL), "backward needs a forward pass in train mode first");
    CHECK_OK(cn_forward(g, CN_EVAL));
    CHECK_ERROR(cn_backward(g, y, NULL), "backward needs a forward pass in train mode first");
    CHECK_ERROR(cn_backward(g, 17, NULL), "backward: node 17 does not exist");
    CHECK_ERROR(cn_graph_set_batch(g, 0), "batch size 0 must be at least 1");
    CHECK(cn_node_name(g, 5) == NULL && strstr(cn_last_error(), "node 5 does not exist"), "bad node id");
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_ERROR(cn_linear(g, longname, x, 2, 1) < 0, "is longer than");
    cn_graph_free(g);
}

static void batch_change(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 3, 4, 5));
    int f = cn_flatten(g, NULL, x);
    int y = cn_linear(g, "fc", f, 7, 1);
    CHECK_OK(cn_graph_set_batch(g, 5));
    cn_shape s = cn_node_shape(g, y);
    CHECK(s.dims[0] == 5 && s.dims[1] == 7, "batch 5 reaches the output");
    cn_test_fill_input(g, x, 1, -1, 1);
    CHECK_OK(cn_forward(g, CN_TRAIN));
    CHECK_OK(cn_backward(g, y, NULL));
    /* the bias gradient of a sum of outputs is the batch size */
    cn_param b = cn_param_get(g, cn_param_find(g, "fc.bias"));
    CHECK(fabs(b.grad->data[0] - 5) < 1e-6, "bias grad = batch size, got %g", (double)b.grad->data[0]);
    cn_zero_grad(g);
    CHECK(b.grad->data[0] == 0, "zero_grad clears");
    cn_graph_free(g);
}

/* After the first step, a training step and an inference call allocate nothing. */
static void steady_state_allocates_nothing(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){8, 20}));
    int h = cn_linear(g, NULL, x, 16, 1);
    int y = cn_linear(g, NULL, h, 4, 1);
    cn_test_fill_input(g, x, 2, -1, 1);
    cn_test_count_allocations(1);
    CHECK_OK(cn_forward(g, CN_TRAIN)); /* makes the plan */
    CHECK_OK(cn_backward(g, y, NULL));
    CHECK_OK(cn_forward(g, CN_EVAL));
    long before = cn_test_allocation_count();
    for (int step = 0; step < 3; step++) {
        cn_zero_grad(g);
        CHECK_OK(cn_forward(g, CN_TRAIN));
        CHECK_OK(cn_backward(g, y, NULL));
        CHECK_OK(cn_forward(g, CN_EVAL));
    }
    CHECK(cn_test_allocation_count() == before, "steady state allocated %ld times",
          cn_test_allocation_count() - before);
    cn_test_count_allocations(0);
    cn_graph_free(g);
}

/* In eval mode an intermediate output is released for reuse unless marked as an output. */
static void eval_reuses_buffers(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(2, (int64_t[]){2, 8}));
    int a = cn_linear(g, "a", x, 8, 1);
    int b = cn_linear(g, "b", a, 8, 1);
    int c = cn_linear(g, "c", b, 8, 1);
    cn_test_fill_input(g, x, 3, -1, 1);
    CHECK_OK(cn_forward(g, CN_EVAL));
    CHECK(cn_node_output(g, a) == NULL, "intermediate a is not kept in eval");
    CHECK(cn_node_output(g, c) != NULL, "the last node is kept");
    cn_real last[16];
    memcpy(last, cn_node_output(g, c), sizeof last);
    CHECK_OK(cn_graph_mark_output(g, a));
    CHECK_OK(cn_forward(g, CN_EVAL));
    CHECK(cn_node_output(g, a) != NULL, "marked a is kept");
    CHECK(memcmp(last, cn_node_output(g, c), sizeof last) == 0, "same result with another plan");
    CHECK_OK(cn_forward(g, CN_TRAIN));
    CHECK(memcmp(last, cn_node_output(g, c), sizeof last) == 0, "train and eval agree for Linear");
    cn_graph_free(g);
}

/* Per-node profiling: off by default (an error to read), on adds up each node's forward and backward time over
 * runs, values are unchanged by it, a restart forgets, nodes added later are not timed. */
static void profile_nodes(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 3, 12, 12));
    int c = cn_conv2d(g, "conv", x, 8, 3, 1, 1);
    int r = cn_relu(g, NULL, c);
    int f = cn_flatten(g, NULL, r);
    int y = cn_linear(g, "fc", f, 4, 1);
    cn_test_fill_input(g, x, 5, -1, 1);
    double fw = -1, bw = -1;
    CHECK(cn_node_profile(g, c, &fw, &bw) != CN_OK && fw == 0 && bw == 0, "profile off: an error, zero times");
    CHECK_OK(cn_forward(g, CN_TRAIN));
    cn_real plain[4];
    memcpy(plain, cn_node_output(g, y), sizeof plain);
    CHECK_OK(cn_graph_profile(g, 1));
    for (int i = 0; i < 3; i++) {
        CHECK_OK(cn_forward(g, CN_TRAIN));
        CHECK_OK(cn_backward(g, y, NULL));
    }
    CHECK(memcmp(plain, cn_node_output(g, y), sizeof plain) == 0, "profiling does not change values");
    CHECK_OK(cn_node_profile(g, c, &fw, &bw));
    CHECK(fw > 0 && bw > 0 && fw < 10 && bw < 10, "conv timed forward %g s and backward %g s", fw, bw);
    double fw_again;
    CHECK_OK(cn_forward(g, CN_EVAL));
    CHECK_OK(cn_node_profile(g, c, &fw_again, NULL));
    CHECK(fw_again > fw, "times add up over runs (%g after %g)", fw_again, fw);
    CHECK_OK(cn_graph_profile(g, 1));
    CHECK_OK(cn_node_profile(g, c, &fw, &bw));
    CHECK(fw == 0 && bw == 0, "a restart starts from zero");
    int later = cn_relu(g, NULL, y);
    CHECK_OK(cn_forward(g, CN_EVAL));
    CHECK(cn_node_profile(g, later, &fw, NULL) != CN_OK, "a node added after the start is not timed");
    CHECK(cn_node_profile(g, 99, &fw, NULL) != CN_OK && strstr(cn_last_error(), "99"), "no node 99");
    CHECK_OK(cn_graph_profile(g, 0));
    CHECK(cn_node_profile(g, c, &fw, NULL) != CN_OK, "off again");
    CHECK(cn_graph_profile(NULL, 1) != CN_OK, "NULL graph");
    cn_graph_free(g);
}

int main(void) {
    rng_is_reproducible();
    profile_nodes();
    names_and_params();
    api_errors();
    batch_change();
    steady_state_allocates_nothing();
    eval_reuses_buffers();
    return cn_test_finish();
}
