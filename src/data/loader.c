/* loader.c — batches from a dataset: seeded shuffling, per-sample seeded augmentation, normalisation, and a
 * background thread that prepares batch g+1 while the caller uses batch g.
 *
 * Batches form one endless sequence indexed g = epoch * batches_per_epoch + batch. Batch g is a pure
 * function of (dataset, config, g): the epoch's order comes from an RNG seeded by (seed, epoch) and sample
 * i's augmentation from one seeded by (seed, epoch, i), so the thread changes when work is done, never
 * what it gives. Two batch slots: g lives in slot g % 2; asking for g releases g - 1, whose slot then
 * receives g + 1. Everything is allocated by cn_loader_create. */
#include "data/data_internal.h"
#include <pthread.h>
#include <stdio.h>

typedef struct {
    cn_real *images, *labels;
    int32_t *label_ids;
    int64_t *indices;
    int64_t count, epoch, batch;
    cn_status status;
    char error[512];
} batch_slot;

struct cn_loader {
    const cn_dataset *ds;
    cn_loader_config cfg;
    float *mean, *std;          /* channels each; NULL: no normalisation */
    int out_c, out_h, out_w;
    int64_t per_epoch;
    int64_t *order;             /* sample order of order_epoch */
    int64_t order_epoch;
    float *work[2];             /* one sample, ping-pong between augmentation steps */
    float *scratch;             /* the resized image of scale jitter / centre crop */
    batch_slot slot[2];
    /* consumer */
    int64_t pos;                /* the next batch to hand out */
    int epoch_done;             /* the last batch handed out ended an epoch: the next call returns 0 */
    /* the prefetch thread: it prepares `requested` whenever that differs from `ready` */
    int threaded;
    pthread_t thread;
    pthread_mutex_t mutex;
    pthread_cond_t changed;
    int64_t requested, ready;
    int stop;
};

static uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* The order of an epoch: identity, then Fisher-Yates from PCG32 seeded by (seed, epoch). */
static void make_order(cn_loader *l, int64_t epoch) {
    int64_t n = l->ds->count;
    for (int64_t i = 0; i < n; i++) l->order[i] = i;
    if (l->cfg.shuffle) {
        cn_rng rng;
        cn_rng_seed(&rng, splitmix64(l->cfg.seed), (uint64_t)epoch);
        for (int64_t i = n - 1; i > 0; i--) {
            uint64_t r = (uint64_t)cn_rng_u32(&rng) << 32 | cn_rng_u32(&rng);
            int64_t j = (int64_t)(r % (uint64_t)(i + 1));
            int64_t t = l->order[i];
            l->order[i] = l->order[j];
            l->order[j] = t;
        }
    }
    l->order_epoch = epoch;
}

/* One sample through the pipeline into out (out_c x out_h x out_w). */
static cn_status prepare_sample(cn_loader *l, int64_t index, int64_t epoch, cn_real *out) {
    const cn_augment *a = &l->cfg.augment;
    cn_rng rng;
    cn_rng_seed(&rng, splitmix64(l->cfg.seed ^ splitmix64((uint64_t)epoch + 1)), (uint64_t)index);
    cn_image cur = {0, 0, 0, l->work[0]}, next = {l->out_c, l->out_h, l->out_w, l->work[1]};
    cn_image scratch = {0, 0, 0, l->scratch};
    cn_status st = cn_dataset_image(l->ds, index, &cur);
    int geometry = a->scale_min > 0 || a->center_side > 0 || a->crop_height > 0;
    if (!st && a->scale_min > 0) st = cn_aug_scale_jitter(&cur, &next, &scratch, a->scale_min, a->scale_max, &rng);
    else if (!st && a->center_side > 0) st = cn_aug_resize_center_crop(&cur, &next, &scratch, a->center_side);
    else if (!st && a->crop_height > 0) st = cn_aug_random_crop(&cur, &next, a->crop_pad, &rng);
    if (st) return st;
    if (geometry) {
        cn_image t = cur;
        cur = next;
        next = t;
    }
    if (a->rotate_degrees > 0) {
        next.data = cur.data == l->work[0] ? l->work[1] : l->work[0];
        st = cn_aug_random_rotate(&cur, &next, a->rotate_degrees, &rng);
        if (st) return st;
        cur = next;
    }
    if (a->hflip) cn_aug_random_hflip(&cur, &cur, &rng);
    if (a->brightness > 0 || a->contrast > 0 || a->saturation > 0)
        cn_aug_color_jitter(&cur, a->brightness, a->contrast, a->saturation, &rng);
    if (l->mean) cn_image_normalize(&cur, l->mean, l->std);
    int64_t n = (int64_t)l->out_c * l->out_h * l->out_w;
    for (int64_t k = 0; k < n; k++) out[k] = (cn_real)cur.data[k];
    return CN_OK;
}

static void prepare_batch(cn_loader *l, int64_t g) {
    batch_slot *s = &l->slot[g % 2];
    int64_t epoch = g / l->per_epoch, batch = g % l->per_epoch, bs = l->cfg.batch_size;
    if (l->order_epoch != epoch) make_order(l, epoch);
    int64_t first = batch * bs, count = l->ds->count - first < bs ? l->ds->count - first : bs;
    int64_t per = (int64_t)l->out_c * l->out_h * l->out_w;
    s->count = count;
    s->epoch = epoch;
    s->batch = batch;
    s->status = CN_OK;
    for (int64_t i = 0; i < count && !s->status; i++) {
        int64_t index = l->order[first + i];
        s->indices[i] = index;
        s->label_ids[i] = l->ds->labels[index];
        s->labels[i] = (cn_real)l->ds->labels[index];
        s->status = prepare_sample(l, index, epoch, s->images + i * per);
    }
    if (s->status) snprintf(s->error, sizeof s->error, "%s", cn_last_error()); /* errors are per thread */
}

static void *prefetch_main(void *arg) {
    cn_loader *l = arg;
    pthread_mutex_lock(&l->mutex);
    for (;;) {
        while (!l->stop && l->requested == l->ready) pthread_cond_wait(&l->changed, &l->mutex);
        if (l->stop) break;
        int64_t g = l->requested;
        pthread_mutex_unlock(&l->mutex);
        prepare_batch(l, g);
        pthread_mutex_lock(&l->mutex);
        l->ready = g;
        pthread_cond_broadcast(&l->changed);
    }
    pthread_mutex_unlock(&l->mutex);
    return NULL;
}

/* Check the augmentation against the dataset and work out the output size of a sample. */
static cn_status check_augment(const cn_augment *a, const cn_dataset *ds, int *out_h, int *out_w) {
    int geometries = (a->scale_min > 0 || a->scale_max > 0) + (a->center_side > 0) +
                     (a->crop_height > 0 && a->scale_min <= 0 && a->scale_max <= 0 && a->center_side <= 0);
    *out_h = ds->height;
    *out_w = ds->width;
    if (a->crop_height < 0 || a->crop_width < 0 || a->crop_pad < 0 || a->scale_min < 0 || a->scale_max < 0 ||
        a->center_side < 0)
        return cn_error(CN_ERR_INVALID, "augment: sizes must not be negative");
    if ((a->crop_height > 0) != (a->crop_width > 0))
        return cn_error(CN_ERR_INVALID, "augment: crop %dx%d needs both sizes", a->crop_height, a->crop_width);
    if (geometries > 1) return cn_error(CN_ERR_INVALID, "augment: scale jitter and centre crop exclude each other");
    if (!(a->rotate_degrees >= 0) || !(a->brightness >= 0) || !(a->contrast >= 0) || !(a->saturation >= 0) ||
        !isfinite(a->rotate_degrees) || !isfinite(a->brightness) || !isfinite(a->contrast) || !isfinite(a->saturation))
        return cn_error(CN_ERR_INVALID, "augment: rotation and colour jitter strengths must be finite and >= 0");
    if (a->crop_height == 0) {
        if (a->scale_min > 0 || a->scale_max > 0 || a->center_side > 0)
            return cn_error(CN_ERR_INVALID,
                            "augment: scale jitter and centre crop need crop_height x crop_width (224 x 224)");
        if (a->crop_pad > 0) return cn_error(CN_ERR_INVALID, "augment: crop_pad %d without a crop size", a->crop_pad);
        return CN_OK;
    }
    int crop_max = a->crop_height > a->crop_width ? a->crop_height : a->crop_width;
    if (a->scale_min > 0 || a->scale_max > 0) {
        if (a->scale_min < 1 || a->scale_max < a->scale_min)
            return cn_error(CN_ERR_INVALID, "augment: scale range [%d, %d] is empty", a->scale_min, a->scale_max);
        if (a->scale_min < crop_max)
            return cn_error(CN_ERR_INVALID, "augment: scale_min %d is smaller than the %dx%d crop", a->scale_min,
                            a->crop_height, a->crop_width);
    } else if (a->center_side > 0) {
        if (a->center_side < crop_max)
            return cn_error(CN_ERR_INVALID, "augment: centre side %d is smaller than the %dx%d crop", a->center_side,
                            a->crop_height, a->crop_width);
    } else if (a->crop_height > ds->height + 2 * a->crop_pad || a->crop_width > ds->width + 2 * a->crop_pad) {
        return cn_error(CN_ERR_INVALID, "augment: crop %dx%d does not fit in the %dx%d images padded by %d",
                        a->crop_height, a->crop_width, ds->height, ds->width, a->crop_pad);
    }
    *out_h = a->crop_height;
    *out_w = a->crop_width;
    return CN_OK;
}

static cn_status check_config(const cn_dataset *ds, const cn_loader_config *cfg) {
    if (!ds || !cfg) return cn_error(CN_ERR_INVALID, "cn_loader_create: NULL argument");
    if (!ds->images || !ds->labels || ds->count < 1) return cn_error(CN_ERR_INVALID, "loader: the dataset is empty");
    if (cfg->batch_size < 1) return cn_error(CN_ERR_INVALID, "loader: batch size %d must be >= 1", cfg->batch_size);
    if (cfg->drop_last && ds->count < cfg->batch_size)
        return cn_error(CN_ERR_INVALID, "loader: %lld samples make no full batch of %d (drop_last)",
                        (long long)ds->count, cfg->batch_size);
    if ((cfg->mean == NULL) != (cfg->std == NULL))
        return cn_error(CN_ERR_INVALID, "loader: normalisation needs both mean and std");
    for (int c = 0; cfg->std && c < ds->channels; c++)
        if (!(cfg->std[c] > 0) || !isfinite(cfg->std[c]) || !isfinite(cfg->mean[c]))
            return cn_error(CN_ERR_INVALID, "loader: channel %d has mean %g and std %g (std must be > 0)", c,
                            (double)cfg->mean[c], (double)cfg->std[c]);
    return CN_OK;
}

static cn_status allocate(cn_loader *l) {
    const cn_dataset *ds = l->ds;
    const cn_augment *a = &l->cfg.augment;
    int64_t in = (int64_t)ds->channels * ds->height * ds->width, out = (int64_t)l->out_c * l->out_h * l->out_w;
    int64_t work = in > out ? in : out, bs = l->cfg.batch_size;
    int side = a->scale_max > a->center_side ? a->scale_max : a->center_side;
    int64_t scratch = side > 0 ? cn_aug_scale_scratch(ds->channels, ds->height, ds->width, side) : 1;
    l->order = cn_malloc(sizeof(int64_t) * (size_t)ds->count);
    l->work[0] = cn_malloc(sizeof(float) * (size_t)work);
    l->work[1] = cn_malloc(sizeof(float) * (size_t)work);
    l->scratch = cn_malloc(sizeof(float) * (size_t)scratch);
    if (!l->order || !l->work[0] || !l->work[1] || !l->scratch) return CN_ERR_NOMEM;
    for (int k = 0; k < 2; k++) {
        batch_slot *s = &l->slot[k];
        s->images = cn_malloc(sizeof(cn_real) * (size_t)(bs * out));
        s->labels = cn_malloc(sizeof(cn_real) * (size_t)bs);
        s->label_ids = cn_malloc(sizeof(int32_t) * (size_t)bs);
        s->indices = cn_malloc(sizeof(int64_t) * (size_t)bs);
        if (!s->images || !s->labels || !s->label_ids || !s->indices) return CN_ERR_NOMEM;
    }
    if (l->cfg.mean) {
        l->mean = cn_malloc(sizeof(float) * (size_t)ds->channels);
        l->std = cn_malloc(sizeof(float) * (size_t)ds->channels);
        if (!l->mean || !l->std) return CN_ERR_NOMEM;
        memcpy(l->mean, l->cfg.mean, sizeof(float) * (size_t)ds->channels);
        memcpy(l->std, l->cfg.std, sizeof(float) * (size_t)ds->channels);
    }
    l->cfg.mean = l->cfg.std = NULL; /* the caller's arrays need not outlive this call */
    return CN_OK;
}

cn_loader *cn_loader_create(const cn_dataset *ds, const cn_loader_config *cfg) {
    int out_h, out_w;
    cn_status st = check_config(ds, cfg);
    if (!st) st = check_augment(&cfg->augment, ds, &out_h, &out_w);
    if (st) return NULL;
    cn_loader *l = cn_calloc(1, sizeof *l);
    if (!l) return NULL;
    l->ds = ds;
    l->cfg = *cfg;
    l->out_c = ds->channels;
    l->out_h = out_h;
    l->out_w = out_w;
    l->per_epoch = cfg->drop_last ? ds->count / cfg->batch_size : (ds->count + cfg->batch_size - 1) / cfg->batch_size;
    l->order_epoch = -1;
    l->ready = -1;
    if (allocate(l)) {
        cn_loader_free(l);
        return NULL;
    }
    if (cfg->prefetch) {
        int locked = pthread_mutex_init(&l->mutex, NULL) == 0;
        int signalled = locked && pthread_cond_init(&l->changed, NULL) == 0;
        if (!signalled || pthread_create(&l->thread, NULL, prefetch_main, l) != 0) {
            if (signalled) pthread_cond_destroy(&l->changed);
            if (locked) pthread_mutex_destroy(&l->mutex);
            cn_loader_free(l);
            cn_error(CN_ERR_NOMEM, "loader: cannot start the prefetch thread");
            return NULL;
        }
        l->threaded = 1;
    }
    return l; /* requested = 0 != ready: the thread starts on batch 0 at once */
}

int cn_loader_next(cn_loader *l, cn_batch *out) {
    if (!l || !out) {
        cn_error(CN_ERR_INVALID, "cn_loader_next: NULL argument");
        return -1;
    }
    if (l->epoch_done) {
        l->epoch_done = 0;
        return 0;
    }
    int64_t g = l->pos;
    if (l->threaded) {
        pthread_mutex_lock(&l->mutex);
        while (l->ready != g) pthread_cond_wait(&l->changed, &l->mutex);
        if (l->slot[g % 2].status == CN_OK) { /* after an error g stays put: asking again repeats it */
            l->requested = g + 1; /* into the slot of g - 1, which the caller hands back now */
            pthread_cond_broadcast(&l->changed);
        }
        pthread_mutex_unlock(&l->mutex);
    } else {
        prepare_batch(l, g);
    }
    const batch_slot *s = &l->slot[g % 2];
    if (s->status) {
        cn_error(s->status, "%s", s->error);
        return -1;
    }
    l->pos = g + 1;
    l->epoch_done = s->batch == l->per_epoch - 1;
    out->count = s->count;
    out->shape = cn_shape4(s->count, l->out_c, l->out_h, l->out_w);
    out->images = s->images;
    out->labels = s->labels;
    out->label_ids = s->label_ids;
    out->indices = s->indices;
    out->epoch = s->epoch;
    out->batch = s->batch;
    return 1;
}

cn_status cn_loader_reset(cn_loader *l, int64_t epoch) {
    if (!l) return cn_error(CN_ERR_INVALID, "cn_loader_reset: NULL loader");
    if (epoch < 0) return cn_error(CN_ERR_INVALID, "cn_loader_reset: epoch %lld is negative", (long long)epoch);
    int64_t g = epoch * l->per_epoch;
    if (l->threaded) {
        pthread_mutex_lock(&l->mutex);
        while (l->ready != l->requested) pthread_cond_wait(&l->changed, &l->mutex); /* let it finish */
        l->requested = g;
        pthread_cond_broadcast(&l->changed);
        pthread_mutex_unlock(&l->mutex);
    }
    l->pos = g;
    l->epoch_done = 0;
    return CN_OK;
}

int64_t cn_loader_batches_per_epoch(const cn_loader *l) { return l ? l->per_epoch : 0; }

cn_shape cn_loader_batch_shape(const cn_loader *l) {
    if (!l) return cn_shape4(0, 0, 0, 0);
    return cn_shape4(l->cfg.batch_size, l->out_c, l->out_h, l->out_w);
}

void cn_loader_free(cn_loader *l) {
    if (!l) return;
    if (l->threaded) {
        pthread_mutex_lock(&l->mutex);
        l->stop = 1;
        pthread_cond_broadcast(&l->changed);
        pthread_mutex_unlock(&l->mutex);
        pthread_join(l->thread, NULL);
        pthread_mutex_destroy(&l->mutex);
        pthread_cond_destroy(&l->changed);
    }
    for (int k = 0; k < 2; k++) {
        cn_free(l->slot[k].images);
        cn_free(l->slot[k].labels);
        cn_free(l->slot[k].label_ids);
        cn_free(l->slot[k].indices);
        cn_free(l->work[k]);
    }
    cn_free(l->order);
    cn_free(l->scratch);
    cn_free(l->mean);
    cn_free(l->std);
    cn_free(l);
}
