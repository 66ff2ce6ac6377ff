/* cmd_predict.c — `convnet predict CKPT IMAGE... [--top K]`: the K most likely classes of each image, by
 * name, with probabilities. Images are converted to the model's channels and resized to its input. */
#include "cli.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cmd_predict(int argc, char **argv) {
    const char *ckpt = NULL;
    long top = 3;
    int n_images = 0;
    const char **images = calloc((size_t)argc, sizeof *images);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: convnet predict CKPT IMAGE... [--top K]\n"
                   "The K (default 3) most likely classes of each image (PNG/JPEG/BMP), with probabilities.\n");
            free(images);
            return 0;
        } else if (strcmp(argv[i], "--top") == 0 && i + 1 < argc) {
            if (!cli_parse_long(argv[++i], 1, 1000000, &top)) {
                free(images);
                return cli_fail(2, "predict: bad value '%s' for --top", argv[i]);
            }
        } else if (argv[i][0] == '-') {
            free(images);
            return cli_fail(2, "predict: unknown option '%s'", argv[i]);
        } else if (!ckpt) ckpt = argv[i];
        else images[n_images++] = argv[i];
    }
    if (!ckpt || n_images == 0) {
        free(images);
        return cli_fail(2, "predict: usage: convnet predict CKPT IMAGE... [--top K]");
    }
    cn_train_state state = {0};
    int input, logits;
    cn_graph *g = cn_model_load(ckpt, 1, &input, &logits, &state);
    if (!g) {
        free(images);
        return cli_fail(1, "predict: %s", cn_last_error());
    }
    int c = (int)state.input_shape[0], h = (int)state.input_shape[1], w = (int)state.input_shape[2], k = state.n_classes;
    int64_t per = (int64_t)c * h * w;
    uint8_t *pixels = malloc((size_t)per);
    cn_real *x = malloc((size_t)per * sizeof(cn_real));
    double *prob = malloc((size_t)k * sizeof(double));
    int *order = malloc((size_t)k * sizeof(int));
    int code = 0;
    for (int i = 0; i < n_images && code == 0; i++) {
        if (cn_image_load_u8(images[i], c, h, w, pixels)) {
            code = cli_fail(1, "predict: %s", cn_last_error());
            break;
        }
        for (int64_t j = 0; j < per; j++) {
            int ch = (int)(j / ((int64_t)h * w));
            double v = pixels[j] / 255.0;
            if (state.n_norm) v = (v - state.norm_mean[ch]) / state.norm_std[ch];
            x[j] = (cn_real)v;
        }
        if (cn_set_input(g, input, x, per) || cn_forward(g, CN_EVAL)) {
            code = cli_fail(1, "predict: %s", cn_last_error());
            break;
        }
        const cn_real *z = cn_node_output(g, logits);
        double m = z[0], sum = 0;
        for (int j = 1; j < k; j++) m = fmax(m, (double)z[j]);
        for (int j = 0; j < k; j++) sum += prob[j] = exp((double)z[j] - m);
        for (int j = 0; j < k; j++) prob[j] /= sum, order[j] = j;
        for (int a = 0; a < k && a < top; a++) /* partial selection sort: the top K in order */
            for (int b = a + 1; b < k; b++)
                if (prob[order[b]] > prob[order[a]]) {
                    int tmp = order[a];
                    order[a] = order[b], order[b] = tmp;
                }
        printf("%s\n", images[i]);
        for (int a = 0; a < k && a < top; a++) printf("  %6.2f%%  %s\n", 100 * prob[order[a]], state.class_names[order[a]]);
    }
    free(pixels), free(x), free(prob), free(order), free(images);
    cn_train_state_free(&state);
    cn_graph_free(g);
    return code;
}
