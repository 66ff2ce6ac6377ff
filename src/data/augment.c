/* augment.c — the random augmentations: each draws its parameters from the given cn_rng, then calls the
 * deterministic operation of image.c. */
#include "data/data_internal.h"

/* Uniform in [lo, hi] from 24 random bits. */
static float uniform_in(cn_rng *rng, float lo, float hi) { return lo + (hi - lo) * cn_rng_uniform(rng); }

cn_status cn_aug_random_crop(const cn_image *src, cn_image *dst, int pad, cn_rng *rng) {
    if (!src || !dst || !rng) return cn_error(CN_ERR_INVALID, "cn_aug_random_crop: NULL argument");
    if (pad < 0) return cn_error(CN_ERR_INVALID, "random crop: padding %d is negative", pad);
    int64_t room_y = (int64_t)src->height + 2 * (int64_t)pad - dst->height;
    int64_t room_x = (int64_t)src->width + 2 * (int64_t)pad - dst->width;
    if (room_y < 0 || room_x < 0 || dst->height < 1 || dst->width < 1)
        return cn_error(CN_ERR_INVALID, "random crop: %dx%d does not fit in %dx%d padded by %d", dst->height,
                        dst->width, src->height, src->width, pad);
    int top = (int)cn_rng_below(rng, (uint32_t)room_y + 1) - pad;
    int left = (int)cn_rng_below(rng, (uint32_t)room_x + 1) - pad;
    return cn_image_crop(src, dst, top, left);
}

void cn_aug_random_hflip(const cn_image *src, cn_image *dst, cn_rng *rng) {
    if (cn_rng_u32(rng) >> 31) {
        cn_image_hflip(src, dst);
    } else if (dst != src) {
        dst->channels = src->channels;
        dst->height = src->height;
        dst->width = src->width;
        if (dst->data != src->data)
            memcpy(dst->data, src->data, sizeof(float) * (size_t)src->channels * src->height * src->width);
    }
}

int64_t cn_aug_scale_scratch(int channels, int height, int width, int max_side) {
    if (channels < 1 || height < 1 || width < 1 || max_side < 1) return 0;
    int h, w;
    cn_image_short_side_size(height, width, max_side, &h, &w);
    return (int64_t)channels * h * w;
}

/* Resize the short side of src to `side` into scratch, then crop dst's size at (top, left) chosen by the
 * caller from the room left: centre = -1 means the centre, else a random offset. */
static cn_status resize_then_crop(const cn_image *src, cn_image *dst, cn_image *scratch, int side, cn_rng *rng,
                                  const char *what) {
    if (!src || !dst || !scratch || !scratch->data) return cn_error(CN_ERR_INVALID, "%s: NULL argument", what);
    if (src->height < 1 || src->width < 1 || dst->height < 1 || dst->width < 1)
        return cn_error(CN_ERR_INVALID, "%s: empty image", what);
    int h, w;
    cn_image_short_side_size(src->height, src->width, side, &h, &w);
    if (h < dst->height || w < dst->width)
        return cn_error(CN_ERR_INVALID, "%s: short side %d is smaller than the %dx%d crop", what, side, dst->height,
                        dst->width);
    scratch->channels = src->channels;
    scratch->height = h;
    scratch->width = w;
    cn_status st = cn_image_resize(src, scratch);
    if (st) return st;
    int top, left;
    if (rng) {
        top = (int)cn_rng_below(rng, (uint32_t)(h - dst->height) + 1);
        left = (int)cn_rng_below(rng, (uint32_t)(w - dst->width) + 1);
    } else {
        top = (h - dst->height) / 2;
        left = (w - dst->width) / 2;
    }
    return cn_image_crop(scratch, dst, top, left);
}

cn_status cn_aug_scale_jitter(const cn_image *src, cn_image *dst, cn_image *scratch, int min_side, int max_side,
                              cn_rng *rng) {
    if (!rng) return cn_error(CN_ERR_INVALID, "scale jitter: NULL rng");
    if (min_side < 1 || max_side < min_side)
        return cn_error(CN_ERR_INVALID, "scale jitter: range [%d, %d] is empty", min_side, max_side);
    int side = min_side + (int)cn_rng_below(rng, (uint32_t)(max_side - min_side) + 1);
    return resize_then_crop(src, dst, scratch, side, rng, "scale jitter");
}

cn_status cn_aug_resize_center_crop(const cn_image *src, cn_image *dst, cn_image *scratch, int side) {
    if (side < 1) return cn_error(CN_ERR_INVALID, "resize + centre crop: short side %d must be >= 1", side);
    return resize_then_crop(src, dst, scratch, side, NULL, "resize + centre crop");
}

/* torchvision's ColorJitter factors: uniform in [max(0, 1 - s), 1 + s] (fixed order here: brightness,
 * contrast, saturation). The three factors are always drawn, so the RNG advances the same way. */
void cn_aug_color_jitter(cn_image *img, float brightness, float contrast, float saturation, cn_rng *rng) {
    float fb = uniform_in(rng, brightness < 1 ? 1 - brightness : 0, 1 + brightness);
    float fc = uniform_in(rng, contrast < 1 ? 1 - contrast : 0, 1 + contrast);
    float fs = uniform_in(rng, saturation < 1 ? 1 - saturation : 0, 1 + saturation);
    if (brightness > 0) cn_image_adjust_brightness(img, fb);
    if (contrast > 0) cn_image_adjust_contrast(img, fc);
    if (saturation > 0) cn_image_adjust_saturation(img, fs);
}

cn_status cn_aug_random_rotate(const cn_image *src, cn_image *dst, float degrees, cn_rng *rng) {
    if (!rng) return cn_error(CN_ERR_INVALID, "random rotation: NULL rng");
    if (!(degrees >= 0) || !isfinite(degrees))
        return cn_error(CN_ERR_INVALID, "random rotation: range %g must be a finite number >= 0", (double)degrees);
    return cn_image_rotate(src, dst, uniform_in(rng, -degrees, degrees));
}
