/* cifar.c — CIFAR-10 binary batches: each record is 1 label byte then 3072 image bytes (R, G, B planes of
 * 32 x 32), which is already our planar layout. */
#include "data/data_internal.h"
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

enum { CIFAR_SIDE = 32, CIFAR_PIXELS = 3 * 32 * 32, CIFAR_RECORD = 1 + 3 * 32 * 32, CIFAR_CLASSES = 10 };

static const char *const cifar10_names[CIFAR_CLASSES] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                         "dog",      "frog",       "horse", "ship", "truck"};

static cn_status file_size(const char *path, int64_t *size) {
    struct stat sb;
    if (stat(path, &sb) != 0) return cn_error(CN_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode)) return cn_error(CN_ERR_IO, "'%s' is not a regular file", path);
    *size = (int64_t)sb.st_size;
    return CN_OK;
}

/* Read the records of one batch file into ds from sample `first` on. */
static cn_status read_batch(cn_dataset *ds, const char *path, int64_t first, int64_t records) {
    FILE *f = fopen(path, "rb");
    if (!f) return cn_error(CN_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    uint8_t label;
    cn_status st = CN_OK;
    for (int64_t r = 0; r < records && !st; r++) {
        int64_t i = first + r;
        if (fread(&label, 1, 1, f) != 1 || fread(ds->images + i * CIFAR_PIXELS, 1, CIFAR_PIXELS, f) != CIFAR_PIXELS)
            st = cn_error(CN_ERR_IO, "%s: read error in record %lld", path, (long long)r);
        else if (label >= CIFAR_CLASSES)
            st = cn_error(CN_ERR_FORMAT, "%s: record %lld has label %d, CIFAR-10 labels are 0..9", path, (long long)r,
                          label);
        else ds->labels[i] = label;
    }
    fclose(f);
    return st;
}

cn_status cn_dataset_load_cifar10_files(cn_dataset *ds, const char *const *paths, int count) {
    if (!ds || !paths || count < 1) return cn_error(CN_ERR_INVALID, "cn_dataset_load_cifar10_files: no files given");
    memset(ds, 0, sizeof *ds);
    int64_t total = 0;
    for (int k = 0; k < count; k++) {
        int64_t size;
        cn_status st = file_size(paths[k], &size);
        if (st) return st;
        if (size == 0 || size % CIFAR_RECORD != 0)
            return cn_error(CN_ERR_FORMAT,
                            "%s: truncated or not a CIFAR-10 batch: %lld bytes is not a whole number of %d-byte records",
                            paths[k], (long long)size, CIFAR_RECORD);
        total += size / CIFAR_RECORD;
    }
    cn_status st = dataset_alloc(ds, total, 3, CIFAR_SIDE, CIFAR_SIDE);
    if (st) return st;
    int64_t first = 0;
    for (int k = 0; k < count && !st; k++) {
        int64_t size = 0;
        st = file_size(paths[k], &size);
        if (!st) st = read_batch(ds, paths[k], first, size / CIFAR_RECORD);
        first += size / CIFAR_RECORD;
    }
    if (!st) st = dataset_set_names(ds, cifar10_names, CIFAR_CLASSES);
    if (st) cn_dataset_free(ds);
    return st;
}

/* batches.meta.txt: one class name per line (trailing blank lines and spaces ignored). Missing or short:
 * the standard names stay. */
static cn_status read_meta_names(cn_dataset *ds, const char *dir) {
    char path[4096], lines[CIFAR_CLASSES][128];
    snprintf(path, sizeof path, "%s/batches.meta.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f) return CN_OK;
    int n = 0;
    while (n < CIFAR_CLASSES && fgets(lines[n], sizeof lines[n], f)) {
        size_t len = strlen(lines[n]);
        while (len > 0 && (lines[n][len - 1] == '\n' || lines[n][len - 1] == '\r' || lines[n][len - 1] == ' '))
            lines[n][--len] = '\0';
        if (len > 0) n++;
    }
    fclose(f);
    if (n < CIFAR_CLASSES) return CN_OK;
    const char *names[CIFAR_CLASSES];
    for (int k = 0; k < CIFAR_CLASSES; k++) names[k] = lines[k];
    return dataset_set_names(ds, names, CIFAR_CLASSES);
}

cn_status cn_dataset_load_cifar10(cn_dataset *ds, const char *dir, int train) {
    if (!ds || !dir) return cn_error(CN_ERR_INVALID, "cn_dataset_load_cifar10: NULL argument");
    char buf[6][4096];
    const char *paths[6];
    int count = 0;
    if (train) {
        for (int k = 1; k <= 5; k++) {
            snprintf(buf[count], sizeof buf[count], "%s/data_batch_%d.bin", dir, k);
            paths[count] = buf[count];
            count++;
        }
    } else {
        snprintf(buf[0], sizeof buf[0], "%s/test_batch.bin", dir);
        paths[count++] = buf[0];
    }
    cn_status st = cn_dataset_load_cifar10_files(ds, paths, count);
    if (!st) st = read_meta_names(ds, dir);
    if (st) cn_dataset_free(ds);
    return st;
}
