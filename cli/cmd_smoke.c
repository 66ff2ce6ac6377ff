/* cmd_smoke.c — `convnet smoke [--model NAME] [--batch N] [--seed S]`: one forward and backward pass of a
 * zoo model on a random batch, printing the loss. A quick check that the build works. */
#include "cli.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_smoke(int argc, char **argv) {
    const char *model = "lenet5";
    long batch = 8, seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: convnet smoke [--model NAME] [--batch N] [--seed S]\n"
                   "One forward and backward pass of a zoo model on random 1x28x28 data; prints the loss.\n");
            return 0;
        } else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model = argv[++i];
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            if (!cli_parse_long(argv[++i], 1, 1 << 16, &batch)) return cli_fail(2, "--batch: '%s' is not a batch size", argv[i]);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            if (!cli_parse_long(argv[++i], 0, INT32_MAX, &seed)) return cli_fail(2, "--seed: '%s' is not a seed", argv[i]);
        } else
            return cli_fail(2, "smoke: unknown option '%s'", argv[i]);
    }
    cn_graph *g = cn_graph_create();
    if (!g) return cli_fail(1, "smoke: %s", cn_last_error());
    cn_graph_set_seed(g, (uint64_t)seed);
    int x = cn_input(g, "x", cn_shape4(batch, 1, 28, 28));
    int y = cn_input(g, "labels", cn_shape_make(1, (int64_t[]){batch}));
    if (x >= 0 && y >= 0) cn_input_set_grad(g, x, 0), cn_input_set_grad(g, y, 0);
    int logits = x >= 0 && y >= 0 ? cn_model_build(g, model, x, 10) : -1;
    int loss = logits >= 0 ? cn_cross_entropy(g, "loss", logits, y, 0.0f) : -1;
    if (loss < 0) {
        cn_graph_free(g);
        return cli_fail(1, "smoke: %s", cn_last_error());
    }
    cn_real *data = malloc(sizeof(cn_real) * (size_t)batch * 784), *labels = malloc(sizeof(cn_real) * (size_t)batch);
    cn_rng r;
    cn_rng_seed(&r, (uint64_t)seed, 11);
    cn_rng_fill_uniform(&r, data, batch * 784, 0, 1);
    for (long i = 0; i < batch; i++) labels[i] = (cn_real)cn_rng_below(&r, 10);
    cn_status st = cn_set_input(g, x, data, batch * 784);
    if (!st) st = cn_set_input(g, y, labels, batch);
    if (!st) st = cn_forward(g, CN_TRAIN);
    if (!st) st = cn_backward(g, loss, NULL);
    free(data);
    free(labels);
    if (st) {
        cn_graph_free(g);
        return cli_fail(1, "smoke: %s", cn_last_error());
    }
    double gnorm = 0;
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param p = cn_param_get(g, i);
        if (!p.trainable) continue;
        for (int64_t k = 0; k < cn_tensor_numel(p.grad); k++) gnorm += (double)p.grad->data[k] * p.grad->data[k];
    }
    printf("model %s, batch %ld, %lld parameters: loss %.6f (ln 10 = %.6f), gradient norm %.6f\n", model, batch,
           (long long)cn_graph_num_trainable(g), (double)cn_node_output(g, loss)[0], log(10.0), sqrt(gnorm));
    cn_graph_free(g);
    return 0;
}
