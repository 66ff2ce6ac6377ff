/* Datasets and the loader: IDX (raw and gzipped), CIFAR-10 batches and image folders written here into a
 * temporary directory, every reader error once, the validation split, and the loader's order, batching,
 * normalisation, determinism with and without the prefetch thread, and zero steady-state allocation.
 * Reads the real Fashion-MNIST from /usr/share/datasets/fashion-mnist when it is installed. */
#include "cn_test.h"
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include <stb/stb_image_write.h>

static char tmp_root[256];

static const char *tmp_path(const char *name) {
    static char buf[8][512];
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 512, "%s/%s", tmp_root, name);
    return p;
}

static void remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        char child[1024];
        while (d && (e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            remove_tree(child);
        }
        if (d) closedir(d);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static void write_file(const char *path, const void *data, size_t bytes, int gzipped) {
    if (gzipped) {
        gzFile f = gzopen(path, "wb");
        gzwrite(f, data, (unsigned)bytes);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        fwrite(data, 1, bytes, f);
        fclose(f);
    }
}

static void put_be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* n images of h x w with pixel (i, k) = (7 i + k) % 256, labels i % classes; truncate_by cuts bytes. */
static void write_idx(const char *images, const char *labels, int n, int h, int w, int n_labels, int classes,
                      int gzipped, size_t truncate_by) {
    size_t ib = 16 + (size_t)n * h * w;
    uint8_t *buf = malloc(ib);
    put_be32(buf, 0x803), put_be32(buf + 4, (uint32_t)n), put_be32(buf + 8, (uint32_t)h), put_be32(buf + 12, (uint32_t)w);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < h * w; k++) buf[16 + (size_t)i * h * w + k] = (uint8_t)((7 * i + k) % 256);
    write_file(images, buf, ib - truncate_by, gzipped);
    free(buf);
    uint8_t *lab = malloc(8 + (size_t)n_labels);
    put_be32(lab, 0x801), put_be32(lab + 4, (uint32_t)n_labels);
    for (int i = 0; i < n_labels; i++) lab[8 + i] = (uint8_t)(i % classes);
    write_file(labels, lab, 8 + (size_t)n_labels, gzipped);
    free(lab);
}

static void idx_files(void) {
    for (int gz = 0; gz < 2; gz++) {
        const char *im = tmp_path(gz ? "im.gz" : "im"), *lb = tmp_path(gz ? "lb.gz" : "lb");
        write_idx(im, lb, 6, 3, 5, 6, 4, gz, 0);
        cn_dataset ds;
        CHECK_OK(cn_dataset_load_idx(&ds, im, lb));
        CHECK(ds.count == 6 && ds.channels == 1 && ds.height == 3 && ds.width == 5, "IDX (gz %d): 6 x 1x3x5", gz);
        int pixels = 1;
        for (int i = 0; i < 6; i++)
            for (int k = 0; k < 15; k++) pixels &= ds.images[i * 15 + k] == (7 * i + k) % 256;
        CHECK(pixels && ds.labels[5] == 1 && ds.labels[3] == 3, "IDX (gz %d): pixels and labels", gz);
        CHECK(ds.num_classes == 4 && !strcmp(ds.class_names[0], "0") && !strcmp(ds.class_names[3], "3"),
              "IDX classes are 0..3");
        cn_dataset_free(&ds);
    }
    cn_dataset ds;
    CHECK_ERROR(cn_dataset_load_idx(&ds, tmp_path("nope"), tmp_path("lb")), "cannot open '");
    CHECK(strstr(cn_last_error(), "/nope'") != NULL, "the missing path is named: %s", cn_last_error());
    CHECK(ds.images == NULL && ds.count == 0, "a failed load leaves an empty dataset");
    CHECK_ERROR(cn_dataset_load_idx(&ds, tmp_path("lb"), tmp_path("lb")), "wrong IDX magic 0x00000801, expected 0x00000803");
    CHECK_ERROR(cn_dataset_load_idx(&ds, tmp_path("im"), tmp_path("im")), "wrong IDX magic 0x00000803, expected 0x00000801");
    write_idx(tmp_path("short"), tmp_path("short_lb"), 6, 3, 5, 6, 4, 0, 7);
    CHECK_ERROR(cn_dataset_load_idx(&ds, tmp_path("short"), tmp_path("short_lb")), "short: truncated: the file ends inside the image data");
    write_idx(tmp_path("short.gz"), tmp_path("short_lb.gz"), 6, 3, 5, 6, 4, 1, 7);
    CHECK_ERROR(cn_dataset_load_idx(&ds, tmp_path("short.gz"), tmp_path("short_lb.gz")), "truncated");
    write_file(tmp_path("tiny"), "\0\0\x08", 3, 0);
    CHECK_ERROR(cn_dataset_load_idx(&ds, tmp_path("tiny"), tmp_path("lb")), "truncated: the file ends inside the header");
    write_idx(tmp_path("mis"), tmp_path("mis_lb"), 6, 3, 5, 5, 4, 0, 0);
    CHECK_ERROR(cn_dataset_load_idx(&ds, tmp_path("mis"), tmp_path("mis_lb")), "has 6 images but");
    CHECK(strstr(cn_last_error(), "has 5 labels") != NULL, "count mismatch names both counts: %s", cn_last_error());
    uint8_t floats[16] = {0, 0, 0x0D, 3};
    write_file(tmp_path("float"), floats, 16, 0);
    CHECK_ERROR(cn_dataset_load_idx(&ds, tmp_path("float"), tmp_path("lb")), "IDX element type 0x0d is not supported");
    /* a gzip stream whose body is damaged */
    uint8_t *gz = malloc(4096);
    FILE *f = fopen(tmp_path("im.gz"), "rb");
    size_t n = fread(gz, 1, 4096, f);
    fclose(f);
    for (size_t k = 12; k < n - 8; k++) gz[k] ^= 0x5A;
    write_file(tmp_path("bad.gz"), gz, n, 0);
    free(gz);
    CHECK_ERROR(cn_dataset_load_idx(&ds, tmp_path("bad.gz"), tmp_path("lb")), "bad.gz: corrupt compressed data");

    /* the MNIST directory layout, raw images and gzipped labels mixed */
    mkdir(tmp_path("mnist"), 0755);
    write_idx(tmp_path("mnist/train-images-idx3-ubyte"), tmp_path("mnist/lbl_raw"), 12, 4, 4, 12, 10, 0, 0);
    write_idx(tmp_path("mnist/img_gz"), tmp_path("mnist/train-labels-idx1-ubyte.gz"), 12, 4, 4, 12, 10, 1, 0);
    CHECK_OK(cn_dataset_load_fashion_mnist(&ds, tmp_path("mnist"), 1));
    CHECK(ds.count == 12 && ds.num_classes == 10 && !strcmp(ds.class_names[0], "T-shirt/top") &&
              !strcmp(ds.class_names[9], "Ankle boot"),
          "Fashion-MNIST layout and names");
    cn_dataset_free(&ds);
    CHECK_ERROR(cn_dataset_load_mnist(&ds, tmp_path("mnist"), 0), "t10k-images-idx3-ubyte.gz': No such file");
    mkdir(tmp_path("mnist12"), 0755);
    write_idx(tmp_path("mnist12/t10k-images-idx3-ubyte"), tmp_path("mnist12/t10k-labels-idx1-ubyte"), 12, 2, 2, 12, 12, 0, 0);
    CHECK_ERROR(cn_dataset_load_fashion_mnist(&ds, tmp_path("mnist12"), 0), "labels go up to 11, Fashion-MNIST has 10");
    CHECK_OK(cn_dataset_load_mnist(&ds, tmp_path("mnist12"), 0));
    CHECK(ds.num_classes == 12 && !strcmp(ds.class_names[11], "11"), "plain IDX: classes up to the largest label");
    cn_dataset_free(&ds);
}

static void cifar_files(void) {
    enum { REC = 3073 };
    mkdir(tmp_path("cifar"), 0755);
    uint8_t *rec = malloc(REC * 5);
    for (int b = 1; b <= 6; b++) {
        int n = b == 6 ? 2 : b; /* batch k has k records; test_batch 2 */
        for (int r = 0; r < n; r++) {
            rec[r * REC] = (uint8_t)((b + r) % 10);
            for (int k = 0; k < 3072; k++) rec[r * REC + 1 + k] = (uint8_t)(k / 1024 * 80 + b + r);
        }
        char name[64];
        if (b == 6) snprintf(name, sizeof name, "cifar/test_batch.bin");
        else snprintf(name, sizeof name, "cifar/data_batch_%d.bin", b);
        write_file(tmp_path(name), rec, (size_t)n * REC, 0);
    }
    cn_dataset ds;
    CHECK_OK(cn_dataset_load_cifar10(&ds, tmp_path("cifar"), 1));
    CHECK(ds.count == 15 && ds.channels == 3 && ds.height == 32 && ds.width == 32 && ds.num_classes == 10,
          "CIFAR train: 15 records of 3x32x32 (got %lld)", (long long)ds.count);
    /* sample 3 is batch 2, record 1: label 3, planes 80 apart */
    CHECK(ds.labels[3] == 3 && ds.images[3 * 3072] == 3 && ds.images[3 * 3072 + 1024] == 83 &&
              ds.images[3 * 3072 + 3071] == 163,
          "CIFAR record layout");
    CHECK(!strcmp(ds.class_names[0], "airplane") && !strcmp(ds.class_names[9], "truck"), "CIFAR default names");
    cn_dataset_free(&ds);
    const char *meta = "zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n\n";
    write_file(tmp_path("cifar/batches.meta.txt"), meta, strlen(meta), 0);
    CHECK_OK(cn_dataset_load_cifar10(&ds, tmp_path("cifar"), 0));
    CHECK(ds.count == 2 && ds.labels[1] == 7 && !strcmp(ds.class_names[9], "nine"), "CIFAR test batch, meta names");
    cn_dataset_free(&ds);
    const char *one[1] = {tmp_path("cifar/data_batch_4.bin")};
    CHECK_OK(cn_dataset_load_cifar10_files(&ds, one, 1));
    CHECK(ds.count == 4, "one batch file");
    cn_dataset_free(&ds);
    write_file(tmp_path("cifar/cut.bin"), rec, REC * 2 - 100, 0);
    one[0] = tmp_path("cifar/cut.bin");
    CHECK_ERROR(cn_dataset_load_cifar10_files(&ds, one, 1), "cut.bin: truncated or not a CIFAR-10 batch: 6046 bytes");
    rec[REC] = 10;
    write_file(tmp_path("cifar/label.bin"), rec, REC * 2, 0);
    one[0] = tmp_path("cifar/label.bin");
    CHECK_ERROR(cn_dataset_load_cifar10_files(&ds, one, 1), "label.bin: record 1 has label 10");
    one[0] = tmp_path("cifar/none.bin");
    CHECK_ERROR(cn_dataset_load_cifar10_files(&ds, one, 1), "cannot open '");
    CHECK_ERROR(cn_dataset_load_cifar10(&ds, tmp_path("nowhere"), 1), "nowhere/data_batch_1.bin");
    free(rec);
}

/* A c-channel w x h image: pixel (x, y) channel k = (x * 20 + y * 3 + k * 50 + seed) % 256, interleaved. */
static uint8_t *make_pixels(int w, int h, int c, int seed) {
    uint8_t *p = malloc((size_t)w * h * c);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++) p[((size_t)y * w + x) * c + k] = (uint8_t)((x * 20 + y * 3 + k * 50 + seed) % 256);
    return p;
}

static void folder_files(void) {
    mkdir(tmp_path("folder"), 0755);
    mkdir(tmp_path("folder/dog"), 0755);
    mkdir(tmp_path("folder/cat"), 0755);
    uint8_t *p = make_pixels(6, 4, 3, 0), *q = make_pixels(6, 4, 3, 9), *r = make_pixels(12, 8, 3, 0);
    stbi_write_png(tmp_path("folder/cat/b.png"), 6, 4, 3, p, 6 * 3);
    stbi_write_bmp(tmp_path("folder/cat/a.bmp"), 6, 4, 3, q);
    stbi_write_jpg(tmp_path("folder/dog/x.jpg"), 6, 4, 3, p, 95);
    stbi_write_png(tmp_path("folder/dog/y.png"), 12, 8, 3, r, 12 * 3); /* twice as big: resized */
    write_file(tmp_path("folder/.hidden"), "x", 1, 0);
    cn_dataset ds;
    CHECK_OK(cn_dataset_load_folder(&ds, tmp_path("folder"), 0, 0, 0));
    CHECK(ds.count == 4 && ds.channels == 3 && ds.height == 4 && ds.width == 6 && ds.num_classes == 2,
          "folder: 4 RGB images of the first one's size 4x6");
    CHECK(!strcmp(ds.class_names[0], "cat") && !strcmp(ds.class_names[1], "dog"), "classes in sorted order");
    CHECK(ds.labels[0] == 0 && ds.labels[1] == 0 && ds.labels[2] == 1 && ds.labels[3] == 1, "labels by folder");
    int exact = 1; /* sample 0 is a.bmp (q), sample 1 b.png (p): lossless, planar now */
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 6; x++)
            for (int k = 0; k < 3; k++) {
                exact &= ds.images[(k * 4 + y) * 6 + x] == q[(y * 6 + x) * 3 + k];
                exact &= ds.images[72 + (k * 4 + y) * 6 + x] == p[(y * 6 + x) * 3 + k];
            }
    CHECK(exact, "BMP and PNG pixels land planar and exact");
    int close = 1;
    for (int k = 0; k < 72; k++) close &= abs((int)ds.images[144 + k] - (int)ds.images[72 + k]) <= 24;
    CHECK(close, "the JPEG is close to the PNG it was made from");
    /* y.png at 12x8 downscaled by 2: half-pixel bilinear averages pixel pairs 2x, 2x+1 */
    int halved = 1;
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 6; x++) {
            double v = 0;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++) v += r[((size_t)(2 * y + dy) * 12 + 2 * x + dx) * 3] / 4.0;
            halved &= abs((int)ds.images[216 + y * 6 + x] - (int)floor(v + 0.5)) <= 1;
        }
    CHECK(halved, "the larger PNG is resized bilinearly to 4x6");
    cn_dataset_free(&ds);
    CHECK_OK(cn_dataset_load_folder(&ds, tmp_path("folder"), 3, 5, 1));
    CHECK(ds.count == 4 && ds.channels == 1 && ds.height == 3 && ds.width == 5, "explicit size 3x5 grey");
    cn_dataset_free(&ds);
    CHECK_ERROR(cn_dataset_load_folder(&ds, tmp_path("folder"), 3, 5, 2), "channels 2 must be 1, 3 or 0");
    CHECK_ERROR(cn_dataset_load_folder(&ds, tmp_path("folder"), 3, 0, 3), "size 3x0");

    write_file(tmp_path("folder/dog/notes.txt"), "not an image", 12, 0);
    CHECK_ERROR(cn_dataset_load_folder(&ds, tmp_path("folder"), 0, 0, 0), "dog/notes.txt: not a readable image");
    unlink(tmp_path("folder/dog/notes.txt"));
    mkdir(tmp_path("folder/emu"), 0755);
    CHECK_ERROR(cn_dataset_load_folder(&ds, tmp_path("folder"), 0, 0, 0), "folder/emu: empty folder: no images");
    rmdir(tmp_path("folder/emu"));
    mkdir(tmp_path("empty"), 0755);
    CHECK_ERROR(cn_dataset_load_folder(&ds, tmp_path("empty"), 0, 0, 0), "empty: empty folder: no class sub-folders");
    CHECK_ERROR(cn_dataset_load_folder(&ds, tmp_path("absent"), 0, 0, 0), "cannot open '");
    CHECK(strstr(cn_last_error(), "absent") != NULL, "the missing folder is named");
    /* a grey first image makes a grey dataset; an RGB one later is converted */
    mkdir(tmp_path("grey"), 0755);
    mkdir(tmp_path("grey/one"), 0755);
    uint8_t *g = make_pixels(5, 5, 1, 3);
    stbi_write_png(tmp_path("grey/one/a.png"), 5, 5, 1, g, 5);
    stbi_write_png(tmp_path("grey/one/b.png"), 6, 4, 3, p, 6 * 3);
    CHECK_OK(cn_dataset_load_folder(&ds, tmp_path("grey"), 0, 0, 0));
    CHECK(ds.count == 2 && ds.channels == 1 && ds.height == 5 && ds.width == 5 && memcmp(ds.images, g, 25) == 0,
          "grey PNG first: a 1-channel 5x5 dataset");
    cn_dataset_free(&ds);
    free(p), free(q), free(r), free(g);
}

/* n samples of 2 x 3 x 4, sample i: every byte (i * 5 + k) % 256, label i % 3. */
static void make_dataset(cn_dataset *ds, int n) {
    memset(ds, 0, sizeof *ds);
    ds->count = n, ds->channels = 2, ds->height = 3, ds->width = 4, ds->num_classes = 3;
    ds->images = cn_malloc((size_t)n * 24);
    ds->labels = cn_malloc(sizeof(int32_t) * (size_t)n);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 24; k++) ds->images[i * 24 + k] = (uint8_t)((i * 5 + k) % 256);
        ds->labels[i] = i % 3;
    }
    ds->class_names = cn_calloc(3, sizeof(char *));
    const char *names[3] = {"a", "b", "c"};
    CHECK_OK(cn_dataset_set_class_names(ds, names, 3));
}

static void split_and_stats(void) {
    cn_dataset ds, val, ds2, val2;
    make_dataset(&ds, 20);
    make_dataset(&ds2, 20);
    CHECK_OK(cn_dataset_split(&ds, 0.25, 7, &val));
    CHECK_OK(cn_dataset_split(&ds2, 0.25, 7, &val2));
    CHECK(ds.count == 15 && val.count == 5 && val.num_classes == 3 && !strcmp(val.class_names[2], "c"),
          "split 0.25 of 20: 15 + 5");
    int seen[20] = {0}, consistent = 1;
    for (int i = 0; i < 20; i++) {
        const uint8_t *img = i < 15 ? ds.images + i * 24 : val.images + (i - 15) * 24;
        int32_t label = i < 15 ? ds.labels[i] : val.labels[i - 15];
        int id = img[0] / 5; /* the sample's original index */
        seen[id]++;
        consistent &= label == id % 3 && img[23] == (id * 5 + 23) % 256;
    }
    int once = 1;
    for (int i = 0; i < 20; i++) once &= seen[i] == 1;
    CHECK(once && consistent, "split is a permutation that keeps images with their labels");
    CHECK(memcmp(val.images, val2.images, 5 * 24) == 0 && memcmp(ds.labels, ds2.labels, 15 * 4) == 0,
          "same seed, same split");
    int moved = 0;
    for (int i = 0; i < 15; i++) moved += ds.images[i * 24] / 5 != i;
    CHECK(moved > 5, "the split shuffles first");
    CHECK_ERROR(cn_dataset_split(&ds, 1.0, 7, &val2), "validation fraction 1 is not in [0, 1)");
    cn_dataset_free(&val), cn_dataset_free(&val2), cn_dataset_free(&ds), cn_dataset_free(&ds2);

    cn_dataset s;
    make_dataset(&s, 2);
    memset(s.images, 0, 24);
    memset(s.images + 12, 255, 12);     /* sample 0: channel 0 all 0, channel 1 all 255 */
    memset(s.images + 24, 0, 12);       /* sample 1: channel 0 all 0, channel 1 all 51 */
    memset(s.images + 36, 51, 12);
    float mean[2], std[2];
    CHECK_OK(cn_dataset_channel_stats(&s, mean, std));
    CHECK(mean[0] == 0 && std[0] == 0 && fabs(mean[1] - 0.6) < 1e-6 && fabs(std[1] - 0.4) < 1e-6,
          "channel stats: mean %g %g std %g %g", mean[0], mean[1], std[0], std[1]);
    const char *two[2] = {"x", "y"};
    CHECK_ERROR(cn_dataset_set_class_names(&s, two, 2), "2 class names given for a dataset of 3 classes");
    cn_dataset_free(&s);
}

static void loader_order_and_batches(void) {
    cn_dataset ds;
    make_dataset(&ds, 10);
    cn_loader_config cfg = {.batch_size = 4};
    cn_loader *l = cn_loader_create(&ds, &cfg);
    CHECK(l != NULL, "loader: %s", cn_last_error());
    CHECK(cn_loader_batches_per_epoch(l) == 3, "10 samples in batches of 4: 3 batches");
    cn_shape full = cn_loader_batch_shape(l);
    CHECK(full.dims[0] == 4 && full.dims[1] == 2 && full.dims[2] == 3 && full.dims[3] == 4, "batch shape 4x2x3x4");
    cn_batch b;
    for (int epoch = 0; epoch < 2; epoch++) {
        int64_t expect = 0;
        for (int k = 0; k < 3; k++) {
            CHECK(cn_loader_next(l, &b) == 1, "batch %d of epoch %d", k, epoch);
            CHECK(b.count == (k < 2 ? 4 : 2) && b.shape.dims[0] == b.count && b.epoch == epoch && b.batch == k,
                  "batch sizes 4, 4, 2");
            int ok = 1;
            for (int64_t i = 0; i < b.count; i++, expect++) {
                ok &= b.indices[i] == expect && b.label_ids[i] == expect % 3 && b.labels[i] == (cn_real)(expect % 3);
                for (int e = 0; e < 24; e++) ok &= b.images[i * 24 + e] == (cn_real)((float)((expect * 5 + e) % 256) / 255.0f);
            }
            CHECK(ok, "unshuffled batch %d holds samples in order, scaled to [0, 1]", k);
        }
        CHECK(cn_loader_next(l, &b) == 0, "then the end of the epoch");
    }
    cn_loader_free(l);

    cfg.drop_last = 1;
    cfg.shuffle = 1;
    cfg.seed = 42;
    l = cn_loader_create(&ds, &cfg);
    CHECK(cn_loader_batches_per_epoch(l) == 2, "drop_last: 2 batches");
    int64_t first[8], second[8];
    for (int e = 0; e < 2; e++) {
        int64_t *dst = e ? second : first;
        for (int k = 0; k < 2; k++) {
            CHECK(cn_loader_next(l, &b) == 1 && b.count == 4, "full batches only");
            memcpy(dst + 4 * k, b.indices, 4 * sizeof(int64_t));
        }
        CHECK(cn_loader_next(l, &b) == 0, "drop_last: the epoch ends after 2 batches");
    }
    CHECK(memcmp(first, second, sizeof first) != 0, "each epoch has its own order");
    /* PCG32 is integer arithmetic: this order is the same on every machine (a change here breaks resumes) */
    const int64_t pinned[8] = {3, 5, 1, 4, 8, 9, 0, 7};
    CHECK(memcmp(first, pinned, sizeof pinned) == 0, "seed 42, epoch 0: order 3 5 1 4 8 9 0 7, got %lld %lld %lld %lld ...",
          (long long)first[0], (long long)first[1], (long long)first[2], (long long)first[3]);
    int distinct = 1;
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < i; j++) distinct &= first[i] != first[j];
    CHECK(distinct, "a shuffled epoch has no repeats");
    CHECK_OK(cn_loader_reset(l, 1));
    CHECK(cn_loader_next(l, &b) == 1 && memcmp(b.indices, second, 4 * sizeof(int64_t)) == 0 && b.epoch == 1,
          "reset to epoch 1 repeats epoch 1");
    CHECK_OK(cn_loader_reset(l, 0));
    CHECK(cn_loader_next(l, &b) == 1 && memcmp(b.indices, first, 4 * sizeof(int64_t)) == 0, "reset to epoch 0");
    cn_loader_free(l);

    float mean[2] = {0.5f, 0.25f}, std[2] = {0.5f, 2.0f};
    cn_loader_config norm = {.batch_size = 10, .mean = mean, .std = std};
    l = cn_loader_create(&ds, &norm);
    mean[0] = 99; /* copied at create */
    CHECK(cn_loader_next(l, &b) == 1, "normalised batch");
    double err = 0;
    for (int i = 0; i < 10; i++)
        for (int e = 0; e < 24; e++) {
            double x = (double)((i * 5 + e) % 256) / 255.0;
            double want = e < 12 ? (x - 0.5) / 0.5 : (x - 0.25) / 2.0;
            err = fmax(err, fabs(b.images[i * 24 + e] - want));
        }
    CHECK(err < 1e-6, "per-channel (x/255 - mean) / std, error %g", err);
    cn_loader_free(l);

    /* configuration errors */
    cn_loader_config bad = {.batch_size = 0};
    CHECK_ERROR(cn_loader_create(&ds, &bad) == NULL, "batch size 0 must be >= 1");
    float zero_std[2] = {1, 0};
    bad = (cn_loader_config){.batch_size = 2, .mean = mean, .std = zero_std};
    CHECK_ERROR(cn_loader_create(&ds, &bad) == NULL, "channel 1 has mean 0.25 and std 0");
    bad = (cn_loader_config){.batch_size = 11, .drop_last = 1};
    CHECK_ERROR(cn_loader_create(&ds, &bad) == NULL, "10 samples make no full batch of 11");
    bad = (cn_loader_config){.batch_size = 2, .augment = {.crop_height = 8, .crop_width = 8, .crop_pad = 1}};
    CHECK_ERROR(cn_loader_create(&ds, &bad) == NULL, "crop 8x8 does not fit in the 3x4 images padded by 1");
    bad = (cn_loader_config){.batch_size = 2, .augment = {.crop_height = 224, .crop_width = 224, .scale_min = 200, .scale_max = 480}};
    CHECK_ERROR(cn_loader_create(&ds, &bad) == NULL, "scale_min 200 is smaller than the 224x224 crop");
    bad = (cn_loader_config){.batch_size = 2, .augment = {.scale_min = 256, .scale_max = 480}};
    CHECK_ERROR(cn_loader_create(&ds, &bad) == NULL, "need crop_height x crop_width");
    bad = (cn_loader_config){.batch_size = 2, .augment = {.crop_height = 2, .crop_width = 2, .scale_min = 4, .scale_max = 5, .center_side = 4}};
    CHECK_ERROR(cn_loader_create(&ds, &bad) == NULL, "exclude each other");
    bad = (cn_loader_config){.batch_size = 2, .augment = {.rotate_degrees = -3}};
    CHECK_ERROR(cn_loader_create(&ds, &bad) == NULL, "must be finite and >= 0");
    cn_dataset empty = {0};
    CHECK_ERROR(cn_loader_create(&empty, &norm) == NULL, "the dataset is empty");
    CHECK(cn_loader_next(NULL, &b) == -1, "next on NULL is an error, not a crash");
    cn_dataset_free(&ds);
}

/* Every batch of `epochs` epochs, concatenated, for comparing two loaders. */
static cn_real *collect(cn_loader *l, int epochs, int64_t *total) {
    cn_shape s = cn_loader_batch_shape(l);
    int64_t per = s.dims[1] * s.dims[2] * s.dims[3], cap = 64 * per * epochs, n = 0;
    cn_real *all = malloc(sizeof(cn_real) * (size_t)cap);
    cn_batch b;
    for (int e = 0; e < epochs; e++) {
        int r;
        while ((r = cn_loader_next(l, &b)) == 1) {
            memcpy(all + n, b.images, sizeof(cn_real) * (size_t)(b.count * per));
            n += b.count * per;
        }
        CHECK(r == 0, "epoch ends cleanly: %s", cn_last_error());
    }
    *total = n;
    return all;
}

static void loader_determinism(void) {
    cn_dataset ds;
    make_dataset(&ds, 23);
    float mean[2] = {0.4f, 0.6f}, std[2] = {0.2f, 0.3f};
    cn_loader_config cfg = {.batch_size = 5, .shuffle = 1, .seed = 2024, .mean = mean, .std = std,
                            .augment = {.crop_height = 3, .crop_width = 3, .crop_pad = 1, .hflip = 1,
                                        .rotate_degrees = 15, .brightness = 0.3f, .contrast = 0.3f}};
    cn_loader *sync = cn_loader_create(&ds, &cfg);
    cfg.prefetch = 1;
    cn_loader *async = cn_loader_create(&ds, &cfg);
    CHECK(sync && async, "loaders: %s", cn_last_error());
    int64_t n1, n2;
    cn_real *a = collect(sync, 3, &n1), *b = collect(async, 3, &n2);
    CHECK(n1 == n2 && n1 == 3 * 23 * 2 * 3 * 3 && memcmp(a, b, sizeof(cn_real) * (size_t)n1) == 0,
          "the prefetch thread gives bit-identical augmented batches");
    /* the same per-sample augmentation whatever the batch size (RNG seeded by seed, epoch, sample) */
    cfg.batch_size = 7;
    cfg.shuffle = 0;
    cn_loader *seven = cn_loader_create(&ds, &cfg);
    cfg.batch_size = 4;
    cfg.prefetch = 0;
    cn_loader *four = cn_loader_create(&ds, &cfg);
    free(a), free(b);
    a = collect(seven, 2, &n1);
    b = collect(four, 2, &n2);
    CHECK(n1 == n2 && memcmp(a, b, sizeof(cn_real) * (size_t)n1) == 0, "augmentation does not depend on batching");
    int64_t half = n1 / 2;
    CHECK(memcmp(a, a + half, sizeof(cn_real) * (size_t)half) != 0, "each epoch draws new augmentations");
    free(a), free(b);
    cn_loader_free(sync), cn_loader_free(async), cn_loader_free(seven), cn_loader_free(four);

    /* scale jitter and the test-time crop through the loader */
    cn_dataset big = {0};
    make_dataset(&big, 3);
    cn_loader_config jit = {.batch_size = 3, .prefetch = 1,
                            .augment = {.crop_height = 4, .crop_width = 4, .scale_min = 4, .scale_max = 9}};
    cn_loader *l = cn_loader_create(&big, &jit);
    cn_batch bt;
    CHECK(l && cn_loader_next(l, &bt) == 1 && bt.shape.dims[2] == 4 && bt.shape.dims[3] == 4, "scale jitter batch 3x2x4x4");
    cn_loader_free(l);
    jit.augment = (cn_augment){.crop_height = 3, .crop_width = 3, .center_side = 3};
    l = cn_loader_create(&big, &jit);
    CHECK(l && cn_loader_next(l, &bt) == 1, "centre crop loader");
    /* short side 3 of 3x4 is 3x4 (the image itself); centre 3x3 starts at column 0 */
    int centre = 1;
    for (int c = 0; c < 2; c++)
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++)
                centre &= bt.images[(c * 3 + y) * 3 + x] == (cn_real)((float)((c * 12 + y * 4 + x) % 256) / 255.0f);
    CHECK(centre, "test-time centre crop through the loader");
    cn_loader_free(l);
    cn_dataset_free(&big);
    cn_dataset_free(&ds);
}

static void loader_allocates_nothing(void) {
    cn_dataset ds;
    make_dataset(&ds, 40);
    cn_loader_config cfg = {.batch_size = 8, .shuffle = 1, .prefetch = 1, .seed = 1,
                            .augment = {.crop_height = 3, .crop_width = 4, .crop_pad = 2, .hflip = 1,
                                        .saturation = 0.5f, .rotate_degrees = 5}};
    cn_loader *l = cn_loader_create(&ds, &cfg);
    cn_batch b;
    CHECK(cn_loader_next(l, &b) == 1, "first batch");
    cn_test_count_allocations(1);
    long before = cn_test_allocation_count();
    int batches = 0, r;
    for (int k = 0; k < 30; k++)
        if ((r = cn_loader_next(l, &b)) == 1) batches++;
    CHECK_OK(cn_loader_reset(l, 3));
    for (int k = 0; k < 10; k++) batches += cn_loader_next(l, &b) == 1;
    long after = cn_test_allocation_count();
    cn_test_count_allocations(0);
    CHECK(after == before && batches > 30, "%ld allocations in %d steady-state batches", after - before, batches);
    cn_loader_free(l);
    cn_dataset_free(&ds);
}

static void real_fashion_mnist(void) {
    const char *dir = "/usr/share/datasets/fashion-mnist";
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        printf("SKIP real Fashion-MNIST: %s is not installed (Debian package dataset-fashion-mnist)\n", dir);
        return;
    }
    for (int train = 1; train >= 0; train--) {
        cn_dataset ds;
        CHECK_OK(cn_dataset_load_fashion_mnist(&ds, dir, train));
        int64_t want = train ? 60000 : 10000;
        CHECK(ds.count == want && ds.channels == 1 && ds.height == 28 && ds.width == 28 && ds.num_classes == 10,
              "Fashion-MNIST %s: %lld images of %dx%d", train ? "train" : "test", (long long)ds.count, ds.height, ds.width);
        int64_t per_class[10] = {0};
        int in_range = 1;
        for (int64_t i = 0; i < ds.count; i++) {
            in_range &= ds.labels[i] >= 0 && ds.labels[i] < 10;
            if (ds.labels[i] >= 0 && ds.labels[i] < 10) per_class[ds.labels[i]]++;
        }
        int balanced = 1;
        for (int k = 0; k < 10; k++) balanced &= per_class[k] == want / 10;
        CHECK(in_range && balanced, "labels in 0..9, %lld of each", (long long)(want / 10));
        CHECK(!strcmp(ds.class_names[7], "Sneaker"), "class 7 is Sneaker");
        float mean, std;
        CHECK_OK(cn_dataset_channel_stats(&ds, &mean, &std));
        CHECK(fabs(mean - 0.286) < 0.005 && fabs(std - 0.353) < 0.005, "Fashion-MNIST mean %g std %g", mean, std);
        cn_dataset_free(&ds);
    }
}

int main(void) {
    snprintf(tmp_root, sizeof tmp_root, "%s/cn_test_data_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    idx_files();
    cifar_files();
    folder_files();
    split_and_stats();
    loader_order_and_batches();
    loader_determinism();
    loader_allocates_nothing();
    real_fashion_mnist();
    remove_tree(tmp_root);
    return cn_test_finish();
}
