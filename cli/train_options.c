/* train_options.c — see train_options.h. */
#include "train_options.h"
#include "cli.h"
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *usage =
    "usage: convnet train MODEL --data DATASET [options]\n"
    "  MODEL                 a zoo name (convnet models lists them), a model file or an .onnx model\n"
    "  --data DATASET        fashion-mnist | mnist:DIR | cifar10:DIR | an image folder (one sub-folder per class)\n"
    "  --epochs N            passes over the training set (default 15)\n"
    "  --batch-size B        images per step (default 64)\n"
    "  --lr X                learning rate (default 0.05 for sgd, 0.001 for adam/adamw)\n"
    "  --optimizer NAME      sgd | adam | adamw (default sgd)\n"
    "  --momentum M          SGD momentum (default 0.9)\n"
    "  --nesterov            Nesterov momentum\n"
    "  --weight-decay W      L2 weight decay (decoupled for adamw; default 5e-4)\n"
    "  --schedule S          none | step:E1,E2,... (divide by 10 at those epochs) | plateau | cosine (default cosine)\n"
    "  --warmup E            linear learning-rate warm-up over the first E epochs (default 0)\n"
    "  --augment LIST        comma list of flip, crop, jitter, color, rotate (default none)\n"
    "  --init KIND           default (PyTorch's) | xavier | xavier-normal | kaiming | kaiming-normal\n"
    "  --label-smoothing S   cross-entropy label smoothing (default 0)\n"
    "  --val-split F         hold out this fraction of the training set for validation (default 0)\n"
    "  --limit N             use only the first N training (and test) images: quick experiments\n"
    "  --threads T           OpenMP threads (default: all cores)\n"
    "  --seed S              seed for initialisation, shuffling and augmentation (default 1)\n"
    "  --out DIR             where model.safetensors, best.safetensors and metrics.csv go (default runs/MODEL)\n"
    "  --resume CKPT         continue a run from its checkpoint\n";

/* The value of option argv[*i], or NULL (reported) when it is missing. */
static const char *value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_fail(2, "train: %s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int train_options_parse(int argc, char **argv, train_options *o) {
    *o = (train_options){.epochs = 15, .batch_size = 64, .threads = 0, .seed = 1, .lr = -1, .momentum = 0.9,
                         .weight_decay = 5e-4, .optimizer = "sgd", .schedule = "cosine", .augment = "", .init = "default"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (a[0] != '-') {
            if (o->model) return cli_fail(2, "train: unexpected argument '%s' (the model is '%s')", a, o->model);
            o->model = a;
            continue;
        }
        if (strcmp(a, "--nesterov") == 0) {
            o->nesterov = true;
            continue;
        }
        static const char *valued[] = {"--data", "--epochs", "--batch-size", "--lr", "--optimizer", "--momentum",
                                       "--weight-decay", "--schedule", "--warmup", "--augment", "--threads", "--seed",
                                       "--out", "--resume", "--val-split", "--label-smoothing", "--limit", "--init"};
        bool known = false;
        for (size_t k = 0; k < sizeof valued / sizeof valued[0]; k++) known |= strcmp(a, valued[k]) == 0;
        if (!known) return cli_fail(2, "train: unknown option '%s' (convnet train --help lists them)", a);
        if (!(v = value(argc, argv, &i))) return 2;
        bool ok = true;
        if (strcmp(a, "--data") == 0) o->data = v;
        else if (strcmp(a, "--epochs") == 0) ok = cli_parse_long(v, 1, 100000, &o->epochs);
        else if (strcmp(a, "--batch-size") == 0) ok = cli_parse_long(v, 1, 65536, &o->batch_size);
        else if (strcmp(a, "--lr") == 0) ok = cli_parse_double(v, 1e-12, 1e12, &o->lr);
        else if (strcmp(a, "--momentum") == 0) ok = cli_parse_double(v, 0, 0.999999, &o->momentum);
        else if (strcmp(a, "--weight-decay") == 0) ok = cli_parse_double(v, 0, 1, &o->weight_decay);
        else if (strcmp(a, "--val-split") == 0) ok = cli_parse_double(v, 0, 0.9, &o->val_split);
        else if (strcmp(a, "--label-smoothing") == 0) ok = cli_parse_double(v, 0, 1, &o->label_smoothing);
        else if (strcmp(a, "--warmup") == 0) ok = cli_parse_long(v, 0, 100000, &o->warmup);
        else if (strcmp(a, "--limit") == 0) ok = cli_parse_long(v, 1, INT32_MAX, &o->limit);
        else if (strcmp(a, "--threads") == 0) ok = cli_parse_long(v, 1, 1024, &o->threads);
        else if (strcmp(a, "--seed") == 0) ok = cli_parse_long(v, 0, 2147483647L, &o->seed);
        else if (strcmp(a, "--optimizer") == 0) {
            o->optimizer = v;
            ok = strcmp(v, "sgd") == 0 || strcmp(v, "adam") == 0 || strcmp(v, "adamw") == 0;
        } else if (strcmp(a, "--schedule") == 0) {
            o->schedule = v;
            ok = strcmp(v, "none") == 0 || strcmp(v, "plateau") == 0 || strcmp(v, "cosine") == 0 || strncmp(v, "step:", 5) == 0;
        } else if (strcmp(a, "--augment") == 0) o->augment = v;
        else if (strcmp(a, "--init") == 0) {
            o->init = v;
            ok = strcmp(v, "default") == 0 || strcmp(v, "xavier") == 0 || strcmp(v, "xavier-normal") == 0 ||
                 strcmp(v, "kaiming") == 0 || strcmp(v, "kaiming-normal") == 0;
        }
        else if (strcmp(a, "--out") == 0) o->out = v;
        else if (strcmp(a, "--resume") == 0) o->resume = v;
        if (!ok) return cli_fail(2, "train: bad value '%s' for %s", v, a);
    }
    if (!o->model) return cli_fail(2, "train: no model given (usage: convnet train MODEL --data DATASET)");
    if (!o->data) return cli_fail(2, "train: --data is required (e.g. --data fashion-mnist)");
    if (o->lr < 0) o->lr = strcmp(o->optimizer, "sgd") == 0 ? 0.05 : 0.001;
    return 0;
}
