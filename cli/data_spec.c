/* data_spec.c — see data_spec.h. */
#include "data_spec.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

cn_status cli_load_dataset(const char *spec, bool train, int c, int h, int w, cn_dataset *ds, bool *has_splits) {
    *has_splits = true;
    if (strcmp(spec, "fashion-mnist") == 0) {
        const char *dir = getenv("CN_FASHION_MNIST_DIR");
        return cn_dataset_load_fashion_mnist(ds, dir && *dir ? dir : CLI_FASHION_MNIST_DIR, train);
    }
    if (strncmp(spec, "mnist:", 6) == 0) return cn_dataset_load_mnist(ds, spec + 6, train);
    if (strncmp(spec, "cifar10:", 8) == 0) return cn_dataset_load_cifar10(ds, spec + 8, train);
    struct stat sb;
    if (stat(spec, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        *has_splits = false;
        return cn_dataset_load_folder(ds, spec, h, w, c);
    }
    return cn_error(CN_ERR_INVALID, "dataset '%s' is neither fashion-mnist, mnist:DIR, cifar10:DIR nor an image folder", spec);
}

cn_status cli_parse_augment(const char *list, int h, int w, cn_augment *train, cn_augment *test, int *in_h, int *in_w) {
    memset(train, 0, sizeof *train);
    memset(test, 0, sizeof *test);
    *in_h = h;
    *in_w = w;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list ? list : "");
    for (char *save = NULL, *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (strcmp(item, "flip") == 0) train->hflip = 1;
        else if (strcmp(item, "crop") == 0) {
            train->crop_pad = h >= 64 ? 8 : h >= 32 ? 4 : 2;
            train->crop_height = h;
            train->crop_width = w;
        } else if (strcmp(item, "jitter") == 0) {
            /* the lecture's scale augmentation: short side in [256, 480], random 224 crop; test: 256, centre 224 */
            train->scale_min = 256, train->scale_max = 480;
            train->crop_height = train->crop_width = 224;
            test->center_side = 256;
            test->crop_height = test->crop_width = 224;
            *in_h = *in_w = 224;
        } else if (strcmp(item, "color") == 0) train->brightness = train->contrast = train->saturation = 0.4f;
        else if (strcmp(item, "rotate") == 0) train->rotate_degrees = 15;
        else return cn_error(CN_ERR_INVALID, "unknown augmentation '%s' (flip, crop, jitter, color, rotate)", item);
    }
    if (train->scale_min && train->crop_pad)
        return cn_error(CN_ERR_INVALID, "augmentations 'crop' and 'jitter' both crop: choose one");
    return CN_OK;
}

void cli_eval_free(cli_eval *e) {
    free(e->confusion);
    e->confusion = NULL;
}

/* -log softmax(z)[label] for one row of logits */
static double row_loss(const cn_real *z, int classes, int label) {
    double m = z[0], s = 0;
    for (int k = 1; k < classes; k++) m = fmax(m, (double)z[k]);
    for (int k = 0; k < classes; k++) s += exp((double)z[k] - m);
    return m + log(s) - (double)z[label];
}

cn_status cli_evaluate(cn_graph *g, int input, int logits, cn_loader *loader, int classes, cli_eval *out) {
    memset(out, 0, sizeof *out);
    out->classes = classes;
    out->confusion = calloc((size_t)classes * (size_t)classes, sizeof(int64_t));
    cn_shape full = cn_node_shape(g, input);
    int64_t per = cn_shape_numel(&full) / full.dims[0];
    cn_real *padded = calloc((size_t)cn_shape_numel(&full), sizeof(cn_real));
    if (!out->confusion || !padded) {
        free(padded);
        return cn_error(CN_ERR_NOMEM, "evaluation: out of memory");
    }
    cn_status st = cn_loader_reset(loader, 0);
    cn_batch b;
    double loss = 0;
    int64_t correct = 0;
    int r = 0;
    while (!st && (r = cn_loader_next(loader, &b)) == 1) {
        const cn_real *images = b.images;
        if (b.count < full.dims[0]) { /* the short last batch */
            memcpy(padded, b.images, (size_t)(b.count * per) * sizeof(cn_real));
            images = padded;
        }
        if ((st = cn_set_input(g, input, images, cn_shape_numel(&full))) || (st = cn_forward(g, CN_EVAL))) break;
        const cn_real *z = cn_node_output(g, logits);
        if (!z) {
            st = cn_error(CN_ERR_INVALID, "evaluation: the logits are not kept (mark them as a graph output)");
            break;
        }
        for (int64_t i = 0; i < b.count; i++) {
            const cn_real *row = z + i * classes;
            int pred = 0, label = b.label_ids[i];
            for (int k = 1; k < classes; k++)
                if (row[k] > row[pred]) pred = k;
            if (label < 0 || label >= classes) {
                st = cn_error(CN_ERR_INVALID, "label %d of sample %lld is not a class of this model (0..%d)", label,
                              (long long)b.indices[i], classes - 1);
                break;
            }
            loss += row_loss(row, classes, label);
            correct += pred == label;
            out->confusion[label * classes + pred]++;
            out->count++;
        }
    }
    if (!st && r < 0) st = CN_ERR_INVALID;
    free(padded);
    if (st) return st;
    out->loss = out->count ? loss / (double)out->count : 0;
    out->accuracy = out->count ? (double)correct / (double)out->count : 0;
    return CN_OK;
}
