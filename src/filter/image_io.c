/* image_io.c — reading images (stb_image: PNG, JPEG, BMP, ...) into planar float cn_images in [0, 1] and
 * writing PNGs (stb_image_write). */
#include "internal.h"
#include <errno.h>
#include <stdio.h>
#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

cn_status cn_image_alloc(cn_image *img, int channels, int height, int width) {
    if (!img) return cn_error(CN_ERR_INVALID, "cn_image_alloc: image is NULL");
    img->data = NULL;
    if (channels < 1 || height < 1 || width < 1 || channels > 4 || height > (1 << 16) || width > (1 << 16))
        return cn_error(CN_ERR_INVALID, "cn_image_alloc: bad size %dx%dx%d", channels, height, width);
    img->data = cn_calloc((size_t)channels * (size_t)height * (size_t)width, sizeof(float));
    if (!img->data) return CN_ERR_NOMEM;
    img->channels = channels, img->height = height, img->width = width;
    return CN_OK;
}

void cn_image_free(cn_image *img) {
    if (!img) return;
    cn_free(img->data);
    img->data = NULL;
}

cn_status cn_image_load(cn_image *img, const char *path, int channels) {
    if (!img || !path) return cn_error(CN_ERR_INVALID, "cn_image_load: NULL argument");
    img->data = NULL;
    if (channels != 0 && channels != 1 && channels != 3)
        return cn_error(CN_ERR_INVALID, "cn_image_load: channels must be 0, 1 or 3, not %d", channels);
    FILE *f = fopen(path, "rb");
    if (!f) return cn_error(CN_ERR_IO, "%s: %s", path, strerror(errno));
    int w, h, n;
    if (!stbi_info_from_file(f, &w, &h, &n)) {
        fclose(f);
        return cn_error(CN_ERR_FORMAT, "%s: not a readable image (%s)", path, stbi_failure_reason());
    }
    if (channels == 0) channels = n <= 2 ? 1 : 3;
    uint8_t *pixels = stbi_load_from_file(f, &w, &h, &n, channels);
    fclose(f);
    if (!pixels) return cn_error(CN_ERR_FORMAT, "%s: not a readable image (%s)", path, stbi_failure_reason());
    cn_status st = cn_image_alloc(img, channels, h, w);
    if (st) {
        stbi_image_free(pixels);
        return cn_error(st, "%s: image of %dx%d pixels is too large", path, w, h);
    }
    size_t plane = (size_t)w * (size_t)h;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < channels; c++) img->data[c * plane + p] = pixels[p * (size_t)channels + c] / 255.0f;
    stbi_image_free(pixels);
    return CN_OK;
}

cn_status cn_image_save_png(const cn_image *img, const char *path) {
    if (!img || !img->data || !path) return cn_error(CN_ERR_INVALID, "cn_image_save_png: NULL argument");
    if (img->channels != 1 && img->channels != 3)
        return cn_error(CN_ERR_INVALID, "%s: a PNG needs 1 or 3 channels, the image has %d", path, img->channels);
    if (img->height < 1 || img->width < 1)
        return cn_error(CN_ERR_INVALID, "%s: empty image %dx%d", path, img->height, img->width);
    size_t plane = (size_t)img->width * (size_t)img->height;
    uint8_t *pixels = cn_malloc(plane * (size_t)img->channels);
    if (!pixels) return CN_ERR_NOMEM;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < img->channels; c++) {
            float v = img->data[c * plane + p];
            v = v > 0 ? (v < 1 ? v : 1) : 0;  /* NaN -> 0 */
            pixels[p * (size_t)img->channels + c] = (uint8_t)(v * 255.0f + 0.5f);
        }
    int ok = stbi_write_png(path, img->width, img->height, img->channels, pixels, img->width * img->channels);
    cn_free(pixels);
    if (!ok) return cn_error(CN_ERR_IO, "%s: cannot write the PNG file", path);
    return CN_OK;
}
