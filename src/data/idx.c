/* idx.c — IDX files (MNIST, Fashion-MNIST), raw or gzipped: zlib's gzread reads both.
 * Header: 2 zero bytes, type byte (0x08 = unsigned byte), number of dimensions, then each dimension as a
 * big-endian uint32; the data follows. Images are 0x00000803 (N x H x W), labels 0x00000801 (N). */
#include "data/data_internal.h"
#include <errno.h>
#include <stdio.h>
#include <zlib.h>

typedef struct {
    gzFile f;
    const char *path;
} idx_reader;

static cn_status idx_open(idx_reader *r, const char *path) {
    r->path = path;
    FILE *probe = fopen(path, "rb"); /* gzopen's errors are vaguer: find a missing file first */
    if (!probe) return cn_error(CN_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    fclose(probe);
    r->f = gzopen(path, "rb");
    if (!r->f) return cn_error(CN_ERR_IO, "cannot open '%s'", path);
    return CN_OK;
}

/* Read exactly bytes bytes, or say what went wrong ("what" names the part being read). */
static cn_status idx_read(idx_reader *r, void *buf, size_t bytes, const char *what) {
    uint8_t *p = buf;
    while (bytes > 0) {
        unsigned chunk = bytes > (1u << 30) ? (1u << 30) : (unsigned)bytes;
        int got = gzread(r->f, p, chunk);
        if (got < 0) {
            int code;
            const char *msg = gzerror(r->f, &code);
            size_t len = strlen(r->path); /* zlib's message starts with the path again */
            if (strncmp(msg, r->path, len) == 0 && strncmp(msg + len, ": ", 2) == 0) msg += len + 2;
            return cn_error(CN_ERR_FORMAT, "%s: corrupt compressed data while reading the %s: %s", r->path, what, msg);
        }
        if (got == 0) return cn_error(CN_ERR_FORMAT, "%s: truncated: the file ends inside the %s", r->path, what);
        p += got;
        bytes -= (size_t)got;
    }
    return CN_OK;
}

/* Read the header, check the magic (type 0x08 and ndim), and return the dimensions. */
static cn_status idx_header(idx_reader *r, int want_ndim, uint32_t *dims) {
    uint8_t head[4];
    cn_status st = idx_read(r, head, 4, "header");
    if (st) return st;
    uint32_t magic = (uint32_t)head[0] << 24 | (uint32_t)head[1] << 16 | (uint32_t)head[2] << 8 | head[3];
    uint32_t want = 0x800u | (uint32_t)want_ndim;
    if (head[0] != 0 || head[1] != 0 || head[3] != want_ndim || head[2] != 0x08) {
        if (head[0] == 0 && head[1] == 0 && head[3] == want_ndim && head[2] >= 0x09 && head[2] <= 0x0E)
            return cn_error(CN_ERR_UNSUPPORTED,
                            "%s: IDX element type 0x%02x is not supported (only unsigned bytes, 0x08)", r->path, head[2]);
        return cn_error(CN_ERR_FORMAT, "%s: wrong IDX magic 0x%08x, expected 0x%08x (%s)", r->path, magic, want,
                        want_ndim == 3 ? "an image file" : "a label file");
    }
    uint8_t raw[12];
    st = idx_read(r, raw, (size_t)want_ndim * 4, "header");
    if (st) return st;
    for (int d = 0; d < want_ndim; d++)
        dims[d] = (uint32_t)raw[4 * d] << 24 | (uint32_t)raw[4 * d + 1] << 16 | (uint32_t)raw[4 * d + 2] << 8 |
                  raw[4 * d + 3];
    return CN_OK;
}

cn_status cn_dataset_load_idx(cn_dataset *ds, const char *images_path, const char *labels_path) {
    if (!ds || !images_path || !labels_path) return cn_error(CN_ERR_INVALID, "cn_dataset_load_idx: NULL argument");
    memset(ds, 0, sizeof *ds);
    idx_reader images = {0}, labels = {0};
    uint32_t idims[3] = {0, 0, 0}, ldims[1] = {0};
    uint8_t *label_bytes = NULL;
    cn_status st = idx_open(&images, images_path);
    if (!st) st = idx_open(&labels, labels_path);
    if (!st) st = idx_header(&images, 3, idims);
    if (!st) st = idx_header(&labels, 1, ldims);
    if (!st && idims[0] != ldims[0])
        st = cn_error(CN_ERR_FORMAT, "%s has %u images but %s has %u labels", images_path, idims[0], labels_path,
                      ldims[0]);
    if (!st && (idims[1] == 0 || idims[2] == 0 || idims[1] > 65536 || idims[2] > 65536))
        st = cn_error(CN_ERR_FORMAT, "%s: image size %ux%u is not plausible", images_path, idims[1], idims[2]);
    if (!st) st = dataset_alloc(ds, idims[0], 1, (int)idims[1], (int)idims[2]);
    if (!st) st = idx_read(&images, ds->images, (size_t)idims[0] * idims[1] * idims[2], "image data");
    if (!st) st = (label_bytes = cn_malloc(ldims[0] ? ldims[0] : 1)) ? CN_OK : CN_ERR_NOMEM;
    if (!st) st = idx_read(&labels, label_bytes, ldims[0], "label data");
    if (!st) {
        for (uint32_t i = 0; i < ldims[0]; i++) ds->labels[i] = label_bytes[i];
        st = dataset_number_classes(ds, labels_path);
    }
    cn_free(label_bytes);
    if (images.f) gzclose(images.f);
    if (labels.f) gzclose(labels.f);
    if (st) cn_dataset_free(ds);
    return st;
}

/* The standard names, with or without .gz: whichever exists (the .gz one first). */
static void mnist_path(char *buf, size_t len, const char *dir, const char *prefix, const char *kind) {
    snprintf(buf, len, "%s/%s-%s-ubyte.gz", dir, prefix, kind);
    FILE *f = fopen(buf, "rb");
    if (f) {
        fclose(f);
        return;
    }
    snprintf(buf, len, "%s/%s-%s-ubyte", dir, prefix, kind);
    f = fopen(buf, "rb");
    if (f) fclose(f);
    else snprintf(buf, len, "%s/%s-%s-ubyte.gz", dir, prefix, kind); /* the error names the usual file */
}

cn_status cn_dataset_load_mnist(cn_dataset *ds, const char *dir, int train) {
    if (!ds || !dir) return cn_error(CN_ERR_INVALID, "cn_dataset_load_mnist: NULL argument");
    char images[4096], labels[4096];
    const char *prefix = train ? "train" : "t10k";
    mnist_path(images, sizeof images, dir, prefix, "images-idx3");
    mnist_path(labels, sizeof labels, dir, prefix, "labels-idx1");
    return cn_dataset_load_idx(ds, images, labels);
}

cn_status cn_dataset_load_fashion_mnist(cn_dataset *ds, const char *dir, int train) {
    static const char *const names[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    cn_status st = cn_dataset_load_mnist(ds, dir, train);
    if (st) return st;
    if (ds->num_classes > 10) {
        int top = ds->num_classes - 1;
        cn_dataset_free(ds);
        return cn_error(CN_ERR_FORMAT, "%s: labels go up to %d, Fashion-MNIST has 10 classes", dir, top);
    }
    st = dataset_set_names(ds, names, 10); /* a subset may lack the last classes: still name all ten */
    if (st) cn_dataset_free(ds);
    return st;
}
