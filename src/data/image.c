/* image.c — the deterministic image operations behind augmentation: flip, crop with zero fill, bilinear
 * resize, rotation, colour adjustments, normalisation. Images are planar C x H x W floats. */
#include "data/data_internal.h"

static inline size_t plane_size(const cn_image *im) { return (size_t)im->height * (size_t)im->width; }

static cn_status check_image(const cn_image *im, const char *fn, const char *which) {
    if (!im || !im->data) return cn_error(CN_ERR_INVALID, "%s: %s image is NULL", fn, which);
    if (im->channels < 1 || im->height < 1 || im->width < 1)
        return cn_error(CN_ERR_INVALID, "%s: %s image has size %dx%dx%d", fn, which, im->channels, im->height,
                        im->width);
    return CN_OK;
}

void cn_image_hflip(const cn_image *src, cn_image *dst) {
    dst->channels = src->channels;
    dst->height = src->height;
    dst->width = src->width;
    int w = src->width;
    for (int64_t row = 0; row < (int64_t)src->channels * src->height; row++) {
        const float *s = src->data + row * w;
        float *d = dst->data + row * w;
        for (int x = 0; x < w / 2; x++) { /* swap pairs, so that dst may be src */
            float a = s[x], b = s[w - 1 - x];
            d[x] = b;
            d[w - 1 - x] = a;
        }
        if (w % 2) d[w / 2] = s[w / 2];
    }
}

cn_status cn_image_crop(const cn_image *src, cn_image *dst, int top, int left) {
    cn_status st = check_image(src, "cn_image_crop", "source");
    if (!st) st = check_image(dst, "cn_image_crop", "destination");
    if (st) return st;
    dst->channels = src->channels;
    for (int c = 0; c < src->channels; c++)
        for (int y = 0; y < dst->height; y++) {
            float *d = dst->data + ((size_t)c * dst->height + y) * dst->width;
            int sy = top + y;
            if (sy < 0 || sy >= src->height) {
                memset(d, 0, sizeof(float) * (size_t)dst->width);
                continue;
            }
            const float *s = src->data + ((size_t)c * src->height + sy) * src->width;
            for (int x = 0; x < dst->width; x++) {
                int sx = left + x;
                d[x] = sx >= 0 && sx < src->width ? s[sx] : 0.0f;
            }
        }
    return CN_OK;
}

/* Half-pixel source coordinate of output index o: s = (o + 0.5) * in/out - 0.5, clamped below at 0 (as
 * PyTorch's upsample_bilinear2d with align_corners=False); neighbours i0, i1 = min(i0+1, in-1). */
static inline void source_coord(int o, int in, int out, int *i0, int *i1, float *frac) {
    double s = ((double)o + 0.5) * (double)in / (double)out - 0.5;
    if (s < 0) s = 0;
    int lo = (int)s;
    if (lo > in - 1) lo = in - 1;
    *i0 = lo;
    *i1 = lo + 1 < in ? lo + 1 : in - 1;
    *frac = (float)(s - lo);
}

cn_status cn_image_resize(const cn_image *src, cn_image *dst) {
    cn_status st = check_image(src, "cn_image_resize", "source");
    if (!st) st = check_image(dst, "cn_image_resize", "destination");
    if (st) return st;
    dst->channels = src->channels;
    for (int y = 0; y < dst->height; y++) {
        int y0, y1;
        float fy;
        source_coord(y, src->height, dst->height, &y0, &y1, &fy);
        for (int x = 0; x < dst->width; x++) {
            int x0, x1;
            float fx;
            source_coord(x, src->width, dst->width, &x0, &x1, &fx);
            for (int c = 0; c < src->channels; c++) {
                const float *s = src->data + (size_t)c * plane_size(src);
                const float *r0 = s + (size_t)y0 * src->width, *r1 = s + (size_t)y1 * src->width;
                float top = r0[x0] + (r0[x1] - r0[x0]) * fx, bottom = r1[x0] + (r1[x1] - r1[x0]) * fx;
                dst->data[(size_t)c * plane_size(dst) + (size_t)y * dst->width + x] = top + (bottom - top) * fy;
            }
        }
    }
    return CN_OK;
}

void data_resize_u8(const uint8_t *src, int c, int h, int w, uint8_t *dst, int oh, int ow) {
    for (int y = 0; y < oh; y++) {
        int y0, y1;
        float fy;
        source_coord(y, h, oh, &y0, &y1, &fy);
        for (int x = 0; x < ow; x++) {
            int x0, x1;
            float fx;
            source_coord(x, w, ow, &x0, &x1, &fx);
            for (int k = 0; k < c; k++) {
                const uint8_t *s = src + (size_t)k * h * w;
                const uint8_t *r0 = s + (size_t)y0 * w, *r1 = s + (size_t)y1 * w;
                float top = r0[x0] + (r0[x1] - r0[x0]) * fx, bottom = r1[x0] + (r1[x1] - r1[x0]) * fx;
                float v = top + (bottom - top) * fy + 0.5f;
                dst[(size_t)k * oh * ow + (size_t)y * ow + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
}

void cn_image_short_side_size(int height, int width, int side, int *out_height, int *out_width) {
    if (width <= height) {
        *out_width = side;
        *out_height = (int)((int64_t)side * height / width);
    } else {
        *out_height = side;
        *out_width = (int)((int64_t)side * width / height);
    }
}

/* Sample plane p at (x, y) bilinearly, zero outside the image. */
static inline float sample_zero(const float *p, int h, int w, double x, double y) {
    int x0 = (int)floor(x), y0 = (int)floor(y);
    float fx = (float)(x - x0), fy = (float)(y - y0), v = 0.0f;
    for (int dy = 0; dy < 2; dy++)
        for (int dx = 0; dx < 2; dx++) {
            int xi = x0 + dx, yi = y0 + dy;
            if (xi < 0 || xi >= w || yi < 0 || yi >= h) continue;
            float wgt = (dx ? fx : 1.0f - fx) * (dy ? fy : 1.0f - fy);
            v += wgt * p[(size_t)yi * w + xi];
        }
    return v;
}

/* Counter-clockwise on screen (y down) by a: dst(x, y) = src(c + R(a) (x - c, y - c)) with
 * R(a) = [cos a, -sin a; sin a, cos a], centre c = ((w-1)/2, (h-1)/2). Multiples of 90 degrees use exact
 * sines, so a quarter turn moves pixels without blurring them. */
cn_status cn_image_rotate(const cn_image *src, cn_image *dst, float degrees) {
    cn_status st = check_image(src, "cn_image_rotate", "source");
    if (!st) st = check_image(dst, "cn_image_rotate", "destination");
    if (st) return st;
    if (!isfinite(degrees)) return cn_error(CN_ERR_NUMERIC, "cn_image_rotate: angle %g is not finite", (double)degrees);
    dst->channels = src->channels;
    dst->height = src->height;
    dst->width = src->width;
    double a = fmod((double)degrees, 360.0), cs, sn;
    if (a < 0) a += 360.0;
    if (a == 0.0) cs = 1, sn = 0;
    else if (a == 90.0) cs = 0, sn = 1;
    else if (a == 180.0) cs = -1, sn = 0;
    else if (a == 270.0) cs = 0, sn = -1;
    else cs = cos(a * 3.14159265358979323846 / 180.0), sn = sin(a * 3.14159265358979323846 / 180.0);
    double cx = (src->width - 1) / 2.0, cy = (src->height - 1) / 2.0;
    for (int c = 0; c < src->channels; c++) {
        const float *s = src->data + (size_t)c * plane_size(src);
        float *d = dst->data + (size_t)c * plane_size(dst);
        for (int y = 0; y < dst->height; y++)
            for (int x = 0; x < dst->width; x++) {
                double dx = x - cx, dy = y - cy;
                d[(size_t)y * dst->width + x] =
                    sample_zero(s, src->height, src->width, cx + cs * dx - sn * dy, cy + sn * dx + cs * dy);
            }
    }
    return CN_OK;
}

static inline float clamp01(float v) { return v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; }

/* Grey value of pixel k of a 3-channel image (ITU-R 601, as torchvision's rgb_to_grayscale). */
static inline float grey_at(const cn_image *img, size_t k) {
    size_t p = plane_size(img);
    return 0.299f * img->data[k] + 0.587f * img->data[p + k] + 0.114f * img->data[2 * p + k];
}

void cn_image_adjust_brightness(cn_image *img, float factor) {
    size_t n = (size_t)img->channels * plane_size(img);
    for (size_t k = 0; k < n; k++) img->data[k] = clamp01(img->data[k] * factor);
}

/* Blend with the mean grey level: x = f x + (1 - f) mean. */
void cn_image_adjust_contrast(cn_image *img, float factor) {
    size_t p = plane_size(img), n = (size_t)img->channels * p;
    double sum = 0;
    if (img->channels == 3)
        for (size_t k = 0; k < p; k++) sum += grey_at(img, k);
    else
        for (size_t k = 0; k < n; k++) sum += img->data[k];
    float mean = (float)(sum / (double)(img->channels == 3 ? p : n));
    for (size_t k = 0; k < n; k++) img->data[k] = clamp01(factor * img->data[k] + (1.0f - factor) * mean);
}

/* Blend each pixel with its own grey: x = f x + (1 - f) grey. Only meaningful for RGB. */
void cn_image_adjust_saturation(cn_image *img, float factor) {
    if (img->channels != 3) return;
    size_t p = plane_size(img);
    for (size_t k = 0; k < p; k++) {
        float g = grey_at(img, k);
        for (int c = 0; c < 3; c++) {
            float *v = &img->data[(size_t)c * p + k];
            *v = clamp01(factor * *v + (1.0f - factor) * g);
        }
    }
}

void cn_image_normalize(cn_image *img, const float *mean, const float *std) {
    size_t p = plane_size(img);
    for (int c = 0; c < img->channels; c++) {
        float m = mean[c], s = std[c];
        float *d = img->data + (size_t)c * p;
        for (size_t k = 0; k < p; k++) d[k] = (d[k] - m) / s;
    }
}
