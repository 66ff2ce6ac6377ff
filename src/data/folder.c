/* folder.c — an image folder: root/<class>/<image>. Classes are the sub-folders in sorted order; images
 * are decoded by stb_image (Debian's libstb), made grey or RGB, and resized bilinearly to one size. */
#include "data/data_internal.h"
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <stb/stb_image.h>

typedef struct {
    char **items;
    int count, cap;
} name_list;

static void names_free(name_list *l) {
    for (int i = 0; i < l->count; i++) cn_free(l->items[i]);
    cn_free(l->items);
    memset(l, 0, sizeof *l);
}

static cn_status names_push(name_list *l, const char *s) {
    if (l->count == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **items = cn_malloc(sizeof(char *) * (size_t)cap);
        if (!items) return CN_ERR_NOMEM;
        if (l->count) memcpy(items, l->items, sizeof(char *) * (size_t)l->count);
        cn_free(l->items);
        l->items = items;
        l->cap = cap;
    }
    if (!(l->items[l->count] = data_strdup(s))) return CN_ERR_NOMEM;
    l->count++;
    return CN_OK;
}

static int compare_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The entries of dir that are directories (want_dirs) or regular files, sorted, hidden ones skipped. */
static cn_status list_dir(const char *dir, int want_dirs, name_list *out) {
    memset(out, 0, sizeof *out);
    DIR *d = opendir(dir);
    if (!d) return cn_error(CN_ERR_IO, "cannot open '%s': %s", dir, strerror(errno));
    cn_status st = CN_OK;
    struct dirent *e;
    char path[4096];
    while (!st && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0) continue; /* a dangling link: not an entry */
        if (want_dirs ? S_ISDIR(sb.st_mode) : S_ISREG(sb.st_mode)) st = names_push(out, e->d_name);
        else if (!want_dirs && S_ISDIR(sb.st_mode))
            st = cn_error(CN_ERR_FORMAT, "%s: a folder inside a class folder (expected images only)", path);
    }
    closedir(d);
    if (st) names_free(out);
    else if (out->count > 1) qsort(out->items, (size_t)out->count, sizeof(char *), compare_names);
    return st;
}

/* Decode one file into planar channels x height x width bytes at dst (resizing when its size differs). */
cn_status cn_image_load_u8(const char *path, int channels, int height, int width, uint8_t *dst) {
    int w, h, n;
    uint8_t *pixels = stbi_load(path, &w, &h, &n, channels);
    if (!pixels) return cn_error(CN_ERR_FORMAT, "%s: not a readable image (%s)", path, stbi_failure_reason());
    size_t plane = (size_t)w * (size_t)h;
    uint8_t *planar = dst;
    if (h != height || w != width) {
        planar = cn_malloc((size_t)channels * plane);
        if (!planar) {
            stbi_image_free(pixels);
            return CN_ERR_NOMEM;
        }
    }
    for (size_t k = 0; k < plane; k++)
        for (int c = 0; c < channels; c++) planar[(size_t)c * plane + k] = pixels[k * (size_t)channels + (size_t)c];
    stbi_image_free(pixels);
    if (planar != dst) {
        data_resize_u8(planar, channels, h, w, dst, height, width);
        cn_free(planar);
    }
    return CN_OK;
}

/* Size and channels from the first image when the caller left them 0. */
static cn_status first_image_size(const char *path, int *height, int *width, int *channels) {
    int w, h, n;
    if (!stbi_info(path, &w, &h, &n))
        return cn_error(CN_ERR_FORMAT, "%s: not a readable image (%s)", path, stbi_failure_reason());
    if (*height == 0) *height = h;
    if (*width == 0) *width = w;
    if (*channels == 0) *channels = n >= 3 ? 3 : 1;
    return CN_OK;
}

cn_status cn_dataset_load_folder(cn_dataset *ds, const char *root, int height, int width, int channels) {
    if (!ds || !root) return cn_error(CN_ERR_INVALID, "cn_dataset_load_folder: NULL argument");
    memset(ds, 0, sizeof *ds);
    if (channels != 0 && channels != 1 && channels != 3)
        return cn_error(CN_ERR_INVALID, "image folder: channels %d must be 1, 3 or 0 (as the first image)", channels);
    if (height < 0 || width < 0 || (height == 0) != (width == 0))
        return cn_error(CN_ERR_INVALID, "image folder: size %dx%d must be both positive or both 0", height, width);
    name_list classes;
    cn_status st = list_dir(root, 1, &classes);
    if (st) return st;
    if (classes.count == 0) {
        names_free(&classes);
        return cn_error(CN_ERR_FORMAT, "%s: empty folder: no class sub-folders", root);
    }
    name_list *files = cn_calloc((size_t)classes.count, sizeof *files);
    if (!files) {
        names_free(&classes);
        return CN_ERR_NOMEM;
    }
    char path[4096];
    int64_t total = 0;
    for (int k = 0; k < classes.count && !st; k++) {
        snprintf(path, sizeof path, "%s/%s", root, classes.items[k]);
        st = list_dir(path, 0, &files[k]);
        if (!st && files[k].count == 0) st = cn_error(CN_ERR_FORMAT, "%s: empty folder: no images", path);
        if (!st && total == 0) {
            snprintf(path, sizeof path, "%s/%s/%s", root, classes.items[k], files[k].items[0]);
            st = first_image_size(path, &height, &width, &channels);
        }
        if (!st) total += files[k].count;
    }
    if (!st) st = dataset_alloc(ds, total, channels, height, width);
    size_t per = (size_t)channels * (size_t)height * (size_t)width;
    int64_t i = 0;
    for (int k = 0; k < classes.count && !st; k++)
        for (int j = 0; j < files[k].count && !st; j++, i++) {
            snprintf(path, sizeof path, "%s/%s/%s", root, classes.items[k], files[k].items[j]);
            st = cn_image_load_u8(path, channels, height, width, ds->images + (size_t)i * per);
            ds->labels[i] = k;
        }
    if (!st) st = dataset_set_names(ds, (const char *const *)classes.items, classes.count);
    for (int k = 0; k < classes.count; k++) names_free(&files[k]);
    cn_free(files);
    names_free(&classes);
    if (st) cn_dataset_free(ds);
    return st;
}
