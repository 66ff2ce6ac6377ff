/* dataset.c — the in-memory dataset: allocation, class names, the validation split, channel statistics. */
#include "data/data_internal.h"
#include <stdio.h>

char *data_strdup(const char *s) {
    size_t len = strlen(s);
    char *d = cn_malloc(len + 1);
    if (d) memcpy(d, s, len + 1);
    return d;
}

cn_status dataset_alloc(cn_dataset *ds, int64_t count, int channels, int height, int width) {
    memset(ds, 0, sizeof *ds);
    if (count < 0 || channels < 1 || height < 1 || width < 1)
        return cn_error(CN_ERR_INVALID, "dataset of %lld images of %dx%dx%d is not possible", (long long)count,
                        channels, height, width);
    size_t per = (size_t)channels * (size_t)height * (size_t)width;
    ds->images = cn_malloc(per * (size_t)(count ? count : 1));
    ds->labels = cn_malloc(sizeof(int32_t) * (size_t)(count ? count : 1));
    if (!ds->images || !ds->labels) {
        cn_dataset_free(ds);
        return CN_ERR_NOMEM;
    }
    ds->count = count;
    ds->channels = channels;
    ds->height = height;
    ds->width = width;
    return CN_OK;
}

static void free_names(cn_dataset *ds) {
    if (ds->class_names)
        for (int k = 0; k < ds->num_classes; k++) cn_free(ds->class_names[k]);
    cn_free(ds->class_names);
    ds->class_names = NULL;
}

void cn_dataset_free(cn_dataset *ds) {
    if (!ds) return;
    free_names(ds);
    cn_free(ds->images);
    cn_free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

/* Copy names into a fresh array, num_classes = count; on failure ds keeps its old names. */
cn_status dataset_set_names(cn_dataset *ds, const char *const *names, int count) {
    char **copy = cn_calloc((size_t)count, sizeof *copy);
    if (!copy) return CN_ERR_NOMEM;
    for (int k = 0; k < count; k++) {
        copy[k] = data_strdup(names[k] ? names[k] : "");
        if (!copy[k]) {
            for (int j = 0; j < k; j++) cn_free(copy[j]);
            cn_free(copy);
            return CN_ERR_NOMEM;
        }
    }
    free_names(ds);
    ds->class_names = copy;
    ds->num_classes = count;
    return CN_OK;
}

cn_status cn_dataset_set_class_names(cn_dataset *ds, const char *const *names, int count) {
    if (!ds || !names) return cn_error(CN_ERR_INVALID, "cn_dataset_set_class_names: NULL argument");
    if (count != ds->num_classes)
        return cn_error(CN_ERR_INVALID, "%d class names given for a dataset of %d classes", count, ds->num_classes);
    return dataset_set_names(ds, names, count);
}

cn_status dataset_number_classes(cn_dataset *ds, const char *source) {
    int32_t max = -1;
    for (int64_t i = 0; i < ds->count; i++) {
        if (ds->labels[i] < 0)
            return cn_error(CN_ERR_FORMAT, "%s: label %d of sample %lld is negative", source, ds->labels[i],
                            (long long)i);
        if (ds->labels[i] > max) max = ds->labels[i];
    }
    int k = max + 1;
    char buf[16];
    const char **names = cn_calloc((size_t)(k ? k : 1), sizeof *names);
    char *text = cn_malloc((size_t)(k ? k : 1) * sizeof buf);
    if (!names || !text) {
        cn_free(names);
        cn_free(text);
        return CN_ERR_NOMEM;
    }
    for (int j = 0; j < k; j++) {
        snprintf(buf, sizeof buf, "%d", j);
        memcpy(text + (size_t)j * sizeof buf, buf, sizeof buf);
        names[j] = text + (size_t)j * sizeof buf;
    }
    cn_status st = dataset_set_names(ds, names, k);
    cn_free(names);
    cn_free(text);
    return st;
}

/* Fisher-Yates over whole samples with a PCG32 stream of its own, then the tail becomes *val. */
cn_status cn_dataset_split(cn_dataset *ds, double fraction, uint64_t seed, cn_dataset *val) {
    if (!ds || !val || ds == val) return cn_error(CN_ERR_INVALID, "cn_dataset_split: bad arguments");
    if (!(fraction >= 0.0 && fraction < 1.0))
        return cn_error(CN_ERR_INVALID, "validation fraction %g is not in [0, 1)", fraction);
    int64_t n_val = (int64_t)(fraction * (double)ds->count + 0.5);
    size_t per = (size_t)ds->channels * (size_t)ds->height * (size_t)ds->width;
    cn_status st = dataset_alloc(val, n_val, ds->channels, ds->height, ds->width);
    if (st) return st;
    st = dataset_set_names(val, (const char *const *)ds->class_names, ds->num_classes);
    if (st) {
        cn_dataset_free(val);
        return st;
    }
    uint8_t *tmp = cn_malloc(per);
    if (!tmp) {
        cn_dataset_free(val);
        return CN_ERR_NOMEM;
    }
    cn_rng rng;
    cn_rng_seed(&rng, seed, 0x5eed5b1700ULL);
    for (int64_t i = ds->count - 1; i > 0; i--) {
        int64_t j = (int64_t)(((uint64_t)cn_rng_u32(&rng) << 32 | cn_rng_u32(&rng)) % (uint64_t)(i + 1));
        if (j == i) continue;
        uint8_t *a = ds->images + (size_t)i * per, *b = ds->images + (size_t)j * per;
        memcpy(tmp, a, per);
        memcpy(a, b, per);
        memcpy(b, tmp, per);
        int32_t l = ds->labels[i];
        ds->labels[i] = ds->labels[j];
        ds->labels[j] = l;
    }
    cn_free(tmp);
    int64_t n_train = ds->count - n_val;
    if (n_val) {
        memcpy(val->images, ds->images + (size_t)n_train * per, (size_t)n_val * per);
        memcpy(val->labels, ds->labels + n_train, sizeof(int32_t) * (size_t)n_val);
    }
    ds->count = n_train; /* the buffers keep their size; only the count shrinks */
    return CN_OK;
}

cn_status cn_dataset_channel_stats(const cn_dataset *ds, float *mean, float *std) {
    if (!ds || !mean || !std) return cn_error(CN_ERR_INVALID, "cn_dataset_channel_stats: NULL argument");
    if (ds->count < 1) return cn_error(CN_ERR_INVALID, "cn_dataset_channel_stats: the dataset is empty");
    size_t plane = (size_t)ds->height * (size_t)ds->width;
    for (int c = 0; c < ds->channels; c++) {
        uint64_t sum = 0, sum_sq = 0; /* exact integer sums of bytes and their squares */
        for (int64_t i = 0; i < ds->count; i++) {
            const uint8_t *p = ds->images + ((size_t)i * (size_t)ds->channels + (size_t)c) * plane;
            for (size_t k = 0; k < plane; k++) {
                sum += p[k];
                sum_sq += (uint64_t)p[k] * p[k];
            }
        }
        double n = (double)plane * (double)ds->count;
        double m = (double)sum / n, var = (double)sum_sq / n - m * m;
        mean[c] = (float)(m / 255.0);
        std[c] = (float)(sqrt(var > 0 ? var : 0) / 255.0);
    }
    return CN_OK;
}

cn_status cn_dataset_image(const cn_dataset *ds, int64_t i, cn_image *dst) {
    if (!ds || !dst || !dst->data) return cn_error(CN_ERR_INVALID, "cn_dataset_image: NULL argument");
    if (i < 0 || i >= ds->count)
        return cn_error(CN_ERR_INVALID, "sample %lld is not in [0, %lld)", (long long)i, (long long)ds->count);
    size_t per = (size_t)ds->channels * (size_t)ds->height * (size_t)ds->width;
    const uint8_t *p = ds->images + (size_t)i * per;
    dst->channels = ds->channels;
    dst->height = ds->height;
    dst->width = ds->width;
    for (size_t k = 0; k < per; k++) dst->data[k] = (float)p[k] / 255.0f;
    return CN_OK;
}
