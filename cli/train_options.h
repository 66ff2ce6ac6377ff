/* train_options.h — the options of `convnet train`, parsed strictly: an unknown option or a bad value is a
 * one-line error and exit code 2. */
#ifndef CN_TRAIN_OPTIONS_H
#define CN_TRAIN_OPTIONS_H

#include <stdbool.h>

typedef struct {
    const char *model;          /* zoo name or model file */
    const char *data;           /* fashion-mnist | mnist:DIR | cifar10:DIR | image folder */
    long epochs, batch_size, threads, seed, warmup, limit;
    double lr, momentum, weight_decay, val_split, label_smoothing;
    bool nesterov;
    const char *optimizer;      /* sgd | adam | adamw */
    const char *schedule;       /* none | step:E1,E2 | plateau | cosine */
    const char *augment;        /* comma list: flip,crop,jitter,color,rotate */
    const char *init;           /* default | xavier | kaiming (uniform) | xavier-normal | kaiming-normal */
    const char *out;            /* output directory */
    const char *resume;         /* checkpoint to resume from */
} train_options;

/* 0 when parsed, 1 when --help was printed, 2 on a usage error (already reported). */
int train_options_parse(int argc, char **argv, train_options *o);

#endif
