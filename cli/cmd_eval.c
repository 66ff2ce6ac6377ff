/* cmd_eval.c — `convnet eval CKPT --data DATASET [--batch-size B] [--json]`: accuracy, loss, per-class
 * accuracy and the confusion matrix of a checkpoint on a dataset's test split (an image folder: all of it). */
#include "cli.h"
#include "data_spec.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') printf("\\%c", *s);
        else if ((unsigned char)*s < 0x20) printf("\\u%04x", *s);
        else putchar(*s);
    }
    putchar('"');
}

static void report(const cli_eval *e, char **names, bool json) {
    int k = e->classes;
    if (json) {
        printf("{\"accuracy\": %.6f, \"loss\": %.6f, \"count\": %lld, \"classes\": [", e->accuracy, e->loss, (long long)e->count);
        for (int i = 0; i < k; i++) {
            if (i) printf(", ");
            print_json_string(names[i]);
        }
        printf("], \"per_class\": [");
    } else
        printf("accuracy %.2f%% (loss %.4f) on %lld images\n\nper class:\n", 100 * e->accuracy, e->loss, (long long)e->count);
    for (int i = 0; i < k; i++) {
        int64_t total = 0;
        for (int j = 0; j < k; j++) total += e->confusion[i * k + j];
        double acc = total ? (double)e->confusion[i * k + i] / (double)total : 0;
        if (json) printf("%s%.6f", i ? ", " : "", acc);
        else printf("  %-14s %6.2f%% of %lld\n", names[i], 100 * acc, (long long)total);
    }
    if (json) printf("], \"confusion\": [");
    else printf("\nconfusion matrix (rows: true class, columns: predicted):\n");
    for (int i = 0; i < k; i++) {
        if (json) printf("%s[", i ? ", " : "");
        else printf("  %-14.14s", names[i]);
        for (int j = 0; j < k; j++) printf(json ? "%s%lld" : "%s%6lld", json && j ? ", " : "", (long long)e->confusion[i * k + j]);
        printf(json ? "]" : "\n");
    }
    if (json) printf("]}\n");
}

int cmd_eval(int argc, char **argv) {
    const char *ckpt = NULL, *data = NULL;
    bool json = false;
    long batch = 256;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf("usage: convnet eval CKPT --data DATASET [--batch-size B] [--json]\n"
                   "Accuracy, loss, per-class accuracy and confusion matrix on DATASET's test split\n"
                   "(fashion-mnist | mnist:DIR | cifar10:DIR | an image folder, all of it).\n");
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) json = true;
        else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) data = argv[++i];
        else if (strcmp(argv[i], "--batch-size") == 0 && i + 1 < argc) {
            if (!cli_parse_long(argv[++i], 1, 65536, &batch)) return cli_fail(2, "eval: bad value '%s' for --batch-size", argv[i]);
        } else if (argv[i][0] != '-' && !ckpt) ckpt = argv[i];
        else return cli_fail(2, "eval: unknown option '%s'", argv[i]);
    }
    if (!ckpt || !data) return cli_fail(2, "eval: usage: convnet eval CKPT --data DATASET [--json]");
    cn_train_state state = {0};
    int input, logits;
    cn_graph *g = cn_model_load(ckpt, batch, &input, &logits, &state);
    if (!g) return cli_fail(1, "eval: %s", cn_last_error());
    cn_dataset ds = {0};
    bool splits;
    cn_loader *loader = NULL;
    cli_eval e = {0};
    cn_augment aug = {0};
    int code = 0;
    if (cli_load_dataset(data, false, (int)state.input_shape[0], (int)state.input_shape[1], (int)state.input_shape[2], &ds, &splits)) {
        code = cli_fail(1, "eval: %s", cn_last_error());
        goto done;
    }
    if (ds.channels != state.input_shape[0] || ds.height != state.input_shape[1] || ds.width != state.input_shape[2]) {
        code = cli_fail(1, "eval: %s has %dx%dx%d images, the model takes %lldx%lldx%lld", data, ds.channels, ds.height, ds.width,
                        (long long)state.input_shape[0], (long long)state.input_shape[1], (long long)state.input_shape[2]);
        goto done;
    }
    if (ds.num_classes > state.n_classes) {
        code = cli_fail(1, "eval: %s has %d classes, the model %d", data, ds.num_classes, state.n_classes);
        goto done;
    }
    cn_loader_config c = {.batch_size = (int)batch, .prefetch = 1, .mean = state.n_norm ? state.norm_mean : NULL,
                          .std = state.n_norm ? state.norm_std : NULL, .augment = aug};
    if (!(loader = cn_loader_create(&ds, &c)) || cli_evaluate(g, input, logits, loader, state.n_classes, &e)) {
        code = cli_fail(1, "eval: %s", cn_last_error());
        goto done;
    }
    report(&e, state.class_names, json);
done:
    cli_eval_free(&e);
    cn_loader_free(loader);
    cn_dataset_free(&ds);
    cn_train_state_free(&state);
    cn_graph_free(g);
    return code;
}
