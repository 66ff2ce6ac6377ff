/* data_spec.h — what the commands share about data: dataset names on the command line, augmentation lists,
 * and evaluating a model over a dataset. */
#ifndef CN_CLI_DATA_SPEC_H
#define CN_CLI_DATA_SPEC_H

#include "convnet.h"
#include <stdbool.h>

/* Where Debian's dataset-fashion-mnist installs the files (CN_FASHION_MNIST_DIR overrides). */
#define CLI_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Load one split of a dataset named on the command line: fashion-mnist | mnist:DIR | cifar10:DIR | an
 * image folder (the same images for both splits; resized to h x w with c channels when these are > 0).
 * *has_splits: whether the dataset has a separate test split. */
cn_status cli_load_dataset(const char *spec, bool train, int c, int h, int w, cn_dataset *ds, bool *has_splits);

/* "flip,crop,jitter,color,rotate" for images of h x w: the training augmentation, the matching test-time
 * transform, and the model's input size (224 with jitter). CN_ERR_INVALID names an unknown item. */
cn_status cli_parse_augment(const char *list, int h, int w, cn_augment *train, cn_augment *test, int *in_h, int *in_w);

typedef struct {
    int64_t count;
    double loss;              /* mean cross-entropy */
    double accuracy;          /* fraction in [0, 1] */
    int classes;
    int64_t *confusion;       /* classes x classes, [true][predicted]; cli_eval_free */
} cli_eval;
void cli_eval_free(cli_eval *e);

/* One pass of the loader's epoch 0 through the model in eval mode. The graph's batch is the loader's batch
 * size; a short last batch is padded (and the padding not counted). */
cn_status cli_evaluate(cn_graph *g, int input, int logits, cn_loader *loader, int classes, cli_eval *out);

#endif
