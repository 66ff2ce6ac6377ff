/* Augmentation: each image operation and each random augmentation on small images with known answers. */
#include "cn_test.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* An image of distinct values in (0, 1): value k at element k. */
static cn_image make_image(int c, int h, int w) {
    cn_image im = {c, h, w, malloc(sizeof(float) * (size_t)c * h * w)};
    for (int k = 0; k < c * h * w; k++) im.data[k] = (float)(k + 1) / (float)(c * h * w + 1);
    return im;
}
static cn_image blank_image(int c, int h, int w) {
    cn_image im = {c, h, w, calloc((size_t)c * h * w, sizeof(float))};
    return im;
}
static float at(const cn_image *im, int c, int y, int x) { return im->data[((size_t)c * im->height + y) * im->width + x]; }
static double max_diff(const cn_image *a, const cn_image *b) {
    if (a->channels != b->channels || a->height != b->height || a->width != b->width) return 1e30;
    double m = 0;
    for (int k = 0; k < a->channels * a->height * a->width; k++) m = fmax(m, fabs((double)a->data[k] - b->data[k]));
    return m;
}

static void hflip(void) {
    cn_image a = make_image(3, 5, 7), b = blank_image(3, 5, 7), c = blank_image(3, 5, 7);
    cn_image_hflip(&a, &b);
    CHECK(at(&b, 2, 3, 0) == at(&a, 2, 3, 6) && at(&b, 1, 4, 3) == at(&a, 1, 4, 3), "flip mirrors columns");
    cn_image_hflip(&b, &c);
    CHECK(max_diff(&a, &c) == 0, "flip twice is the identity");
    memcpy(c.data, a.data, sizeof(float) * 105);
    cn_image_hflip(&c, &c);
    CHECK(max_diff(&b, &c) == 0, "in-place flip equals the copying one");
    cn_image e = make_image(1, 2, 6), f = blank_image(1, 2, 6); /* even width */
    cn_image_hflip(&e, &f);
    cn_image_hflip(&f, &f);
    CHECK(max_diff(&e, &f) == 0, "flip twice is the identity for even widths too");
    cn_rng rng;
    cn_rng_seed(&rng, 3, 0);
    int flipped = 0;
    for (int t = 0; t < 200; t++) {
        cn_aug_random_hflip(&a, &b, &rng);
        double d = max_diff(&a, &b);
        if (d != 0) {
            cn_image_hflip(&b, &c);
            CHECK(max_diff(&a, &c) == 0, "a random flip is either nothing or a flip");
            flipped++;
        }
    }
    CHECK(flipped > 70 && flipped < 130, "random flip with probability 1/2: %d of 200", flipped);
    free(a.data), free(b.data), free(c.data), free(e.data), free(f.data);
}

static void crop(void) {
    cn_image a = make_image(2, 6, 5), d = blank_image(2, 3, 4);
    CHECK_OK(cn_image_crop(&a, &d, 2, 1));
    CHECK(at(&d, 1, 0, 0) == at(&a, 1, 2, 1) && at(&d, 0, 2, 3) == at(&a, 0, 4, 4), "crop window at (2, 1)");
    CHECK_OK(cn_image_crop(&a, &d, -1, -2));
    CHECK(at(&d, 0, 0, 3) == 0 && at(&d, 1, 1, 1) == 0 && at(&d, 1, 1, 2) == at(&a, 1, 0, 0), "zero padding outside");
    CHECK_OK(cn_image_crop(&a, &d, 5, 4));
    CHECK(at(&d, 0, 0, 0) == at(&a, 0, 5, 4) && at(&d, 0, 0, 1) == 0 && at(&d, 0, 1, 0) == 0, "padding past the end");

    /* random crop with padding: every result is the window at one offset in [-pad, H + pad - h] */
    cn_image src = make_image(1, 6, 6), out = blank_image(1, 6, 6), ref = blank_image(1, 6, 6);
    cn_rng rng;
    cn_rng_seed(&rng, 11, 0);
    int pad = 2, seen[5][5] = {{0}}, bad = 0;
    for (int t = 0; t < 400; t++) {
        CHECK_OK(cn_aug_random_crop(&src, &out, pad, &rng));
        CHECK(out.height == 6 && out.width == 6 && out.channels == 1, "random crop keeps the requested size");
        int found = 0;
        for (int top = -pad; top <= pad && !found; top++)
            for (int left = -pad; left <= pad && !found; left++) {
                cn_image_crop(&src, &ref, top, left);
                if (max_diff(&out, &ref) == 0) found = 1, seen[top + pad][left + pad]++;
            }
        bad += !found;
    }
    CHECK(bad == 0, "%d random crops were not a window at an offset in range", bad);
    int all = 1;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 5; j++) all &= seen[i][j] > 0;
    CHECK(all, "every offset in [-2, 2] x [-2, 2] is drawn");
    cn_image big = blank_image(1, 11, 11);
    CHECK_ERROR(cn_aug_random_crop(&src, &big, 2, &rng), "random crop: 11x11 does not fit in 6x6 padded by 2");
    CHECK_ERROR(cn_aug_random_crop(&src, &out, -1, &rng), "padding -1 is negative");
    free(a.data), free(d.data), free(src.data), free(out.data), free(ref.data), free(big.data);
}

static void resize(void) {
    /* PyTorch bilinear, align_corners=False: [a, b] -> [a, a + (b-a)/4, a + 3(b-a)/4, b] */
    float two[4] = {0.0f, 1.0f, 0.5f, 0.25f};
    cn_image a = {1, 2, 2, two}, b = blank_image(1, 4, 4);
    CHECK_OK(cn_image_resize(&a, &b));
    CHECK(fabs(at(&b, 0, 0, 1) - 0.25) < 1e-6 && fabs(at(&b, 0, 0, 2) - 0.75) < 1e-6 && at(&b, 0, 0, 3) == 1.0f,
          "2 -> 4 upsampling of row 0: %g %g %g", at(&b, 0, 0, 1), at(&b, 0, 0, 2), at(&b, 0, 0, 3));
    /* column 0 goes 0 -> 0.5: rows 0, 0.125, 0.375, 0.5; (1,1): rows 0.25 of (0.25 .. 0.8125) */
    CHECK(fabs(at(&b, 0, 1, 0) - 0.125) < 1e-6 && fabs(at(&b, 0, 2, 0) - 0.375) < 1e-6, "columns interpolate");
    double top = 0.25, bottom = 0.5 + 0.25 * (0.25 - 0.5);
    CHECK(fabs(at(&b, 0, 1, 1) - (top + 0.25 * (bottom - top))) < 1e-6, "inner point is bilinear");
    cn_image c = make_image(3, 5, 7), d = blank_image(3, 5, 7);
    CHECK_OK(cn_image_resize(&c, &d));
    CHECK(max_diff(&c, &d) == 0, "resizing to the same size is the identity");
    cn_image e = blank_image(2, 9, 13), f = blank_image(2, 4, 5);
    for (int k = 0; k < 2 * 9 * 13; k++) e.data[k] = k < 9 * 13 ? 0.3f : 0.7f;
    CHECK_OK(cn_image_resize(&e, &f));
    int constant = 1;
    for (int k = 0; k < 2 * 4 * 5; k++) constant &= fabs(f.data[k] - (k < 20 ? 0.3 : 0.7)) < 1e-6;
    CHECK(constant, "a constant image stays constant when downscaled");
    int h, w;
    cn_image_short_side_size(300, 500, 256, &h, &w);
    CHECK(h == 256 && w == 426, "short side 256 of 300x500 is 256x426, got %dx%d", h, w);
    cn_image_short_side_size(640, 480, 256, &h, &w);
    CHECK(h == 341 && w == 256, "short side 256 of 640x480 is 341x256, got %dx%d", h, w);
    cn_image empty = {1, 0, 3, two};
    CHECK_ERROR(cn_image_resize(&empty, &b), "source image has size 1x0x3");
    free(b.data), free(c.data), free(d.data), free(e.data), free(f.data);
}

/* out must be the crop_h x crop_w window of scratch (already resized) at some offset in range; returns the
 * number of such offsets. */
static int matches_window(const cn_image *scratch, const cn_image *out, int *top_found) {
    cn_image ref = blank_image(out->channels, out->height, out->width);
    int found = 0;
    for (int top = 0; top <= scratch->height - out->height; top++)
        for (int left = 0; left <= scratch->width - out->width; left++) {
            cn_image_crop(scratch, &ref, top, left);
            if (max_diff(out, &ref) == 0) found++, *top_found = top;
        }
    free(ref.data);
    return found;
}

static void scale_jitter(void) {
    cn_image src = make_image(3, 10, 14), out = blank_image(3, 6, 6);
    int64_t need = cn_aug_scale_scratch(3, 10, 14, 12);
    CHECK(need == 3 * 12 * 16, "scratch for short side 12 of 10x14 is 3x12x16, got %lld", (long long)need);
    cn_image scratch = {0, 0, 0, malloc(sizeof(float) * (size_t)need)};
    cn_rng rng;
    cn_rng_seed(&rng, 5, 0);
    int sides[13] = {0}, bad = 0;
    for (int t = 0; t < 200; t++) {
        CHECK_OK(cn_aug_scale_jitter(&src, &out, &scratch, 8, 12, &rng));
        int short_side = scratch.height < scratch.width ? scratch.height : scratch.width;
        if (short_side < 8 || short_side > 12) bad++;
        else sides[short_side]++;
        int top;
        /* the resize really is the short-side resize of src */
        cn_image again = blank_image(3, scratch.height, scratch.width);
        cn_image_resize(&src, &again);
        if (max_diff(&again, &scratch) != 0 || matches_window(&scratch, &out, &top) < 1) bad++;
        free(again.data);
    }
    CHECK(bad == 0, "%d scale jitters were not a short-side resize in [8, 12] then a crop in range", bad);
    CHECK(sides[8] && sides[9] && sides[10] && sides[11] && sides[12], "every side in [8, 12] is drawn");
    CHECK_ERROR(cn_aug_scale_jitter(&src, &out, &scratch, 12, 8, &rng), "range [12, 8] is empty");
    CHECK_ERROR(cn_aug_scale_jitter(&src, &out, &scratch, 4, 8, &rng), "short side 4 is smaller than the 6x6 crop");
    free(scratch.data);
    free(src.data), free(out.data);

    /* the real sizes: 256..480 then 224 x 224, and the test-time 256 + centre 224 */
    cn_image photo = make_image(3, 30, 40), crop224 = blank_image(3, 224, 224);
    scratch.data = malloc(sizeof(float) * (size_t)cn_aug_scale_scratch(3, 30, 40, 480));
    CHECK_OK(cn_aug_scale_jitter(&photo, &crop224, &scratch, 256, 480, &rng));
    CHECK(crop224.height == 224 && crop224.width == 224 && scratch.height >= 256 && scratch.height <= 480 &&
              scratch.width == (int)((int64_t)scratch.height * 40 / 30),
          "scale jitter 256..480 -> 224: scratch %dx%d", scratch.height, scratch.width);
    CHECK_OK(cn_aug_resize_center_crop(&photo, &crop224, &scratch, 256));
    CHECK(scratch.height == 256 && scratch.width == 341, "test time: short side 256 gives 256x341");
    cn_image ref = blank_image(3, 224, 224);
    cn_image_crop(&scratch, &ref, 16, 58);
    CHECK(max_diff(&ref, &crop224) == 0, "test time: the centre 224x224 window at (16, 58)");
    free(photo.data), free(crop224.data), free(scratch.data), free(ref.data);
}

static void colour(void) {
    cn_image a = make_image(3, 4, 5), b = blank_image(3, 4, 5);
    memcpy(b.data, a.data, sizeof(float) * 60);
    cn_image_adjust_brightness(&b, 1.0f);
    cn_image_adjust_contrast(&b, 1.0f);
    cn_image_adjust_saturation(&b, 1.0f);
    CHECK(max_diff(&a, &b) < 1e-7, "factor 1 changes nothing");
    cn_image_adjust_saturation(&b, 0.0f);
    int grey = 1;
    for (int k = 0; k < 20; k++) {
        float g = 0.299f * a.data[k] + 0.587f * a.data[20 + k] + 0.114f * a.data[40 + k];
        grey &= fabs(b.data[k] - g) < 1e-6 && b.data[k] == b.data[20 + k] && b.data[k] == b.data[40 + k];
    }
    CHECK(grey, "saturation 0 gives the grey image in every channel");
    memcpy(b.data, a.data, sizeof(float) * 60);
    cn_image_adjust_contrast(&b, 0.0f);
    double mean = 0;
    for (int k = 0; k < 20; k++) mean += 0.299 * a.data[k] + 0.587 * a.data[20 + k] + 0.114 * a.data[40 + k];
    mean /= 20;
    int flat = 1;
    for (int k = 0; k < 60; k++) flat &= fabs(b.data[k] - mean) < 1e-6;
    CHECK(flat, "contrast 0 gives the mean grey everywhere");
    memcpy(b.data, a.data, sizeof(float) * 60);
    cn_image_adjust_brightness(&b, 3.0f);
    int clamped = 1;
    for (int k = 0; k < 60; k++) clamped &= b.data[k] == fminf(1.0f, 3.0f * a.data[k]);
    CHECK(clamped, "brightness 3 multiplies and clamps at 1");
    cn_rng rng;
    cn_rng_seed(&rng, 9, 0);
    int in_range = 1, changed = 0;
    for (int t = 0; t < 50; t++) {
        memcpy(b.data, a.data, sizeof(float) * 60);
        cn_aug_color_jitter(&b, 0.4f, 0.4f, 0.4f, &rng);
        for (int k = 0; k < 60; k++) in_range &= b.data[k] >= 0 && b.data[k] <= 1;
        changed += max_diff(&a, &b) > 1e-3;
    }
    CHECK(in_range && changed == 50, "colour jitter stays in [0, 1] and changes the image (%d of 50)", changed);
    memcpy(b.data, a.data, sizeof(float) * 60);
    cn_aug_color_jitter(&b, 0, 0, 0, &rng);
    CHECK(max_diff(&a, &b) == 0, "colour jitter of strength 0 is the identity");
    cn_image g = make_image(1, 3, 3), h = make_image(1, 3, 3);
    cn_image_adjust_saturation(&h, 0.0f);
    CHECK(max_diff(&g, &h) == 0, "saturation leaves a grey image alone");
    free(a.data), free(b.data), free(g.data), free(h.data);
}

static void rotation(void) {
    cn_image a = make_image(2, 5, 5), b = blank_image(2, 5, 5), c = blank_image(2, 5, 5);
    CHECK_OK(cn_image_rotate(&a, &b, 0.0f));
    CHECK(max_diff(&a, &b) == 0, "rotation by 0 is the identity");
    CHECK_OK(cn_image_rotate(&a, &b, 90.0f));
    int quarter = 1; /* counter-clockwise: dst(y, x) = src(x, n-1-y) */
    for (int ch = 0; ch < 2; ch++)
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 5; x++) quarter &= at(&b, ch, y, x) == at(&a, ch, x, 4 - y);
    CHECK(quarter, "rotation by 90 degrees turns the square counter-clockwise exactly");
    memcpy(c.data, a.data, sizeof(float) * 50);
    for (int t = 0; t < 4; t++) {
        cn_image_rotate(&c, &b, 90.0f);
        memcpy(c.data, b.data, sizeof(float) * 50);
    }
    CHECK(max_diff(&a, &c) == 0, "four quarter turns are the identity");
    CHECK_OK(cn_image_rotate(&a, &b, -180.0f));
    int half = 1;
    for (int y = 0; y < 5; y++)
        for (int x = 0; x < 5; x++) half &= at(&b, 1, y, x) == at(&a, 1, 4 - y, 4 - x);
    CHECK(half, "rotation by -180 flips both axes");
    /* 45 degrees: centre fixed, corners fall outside (zero), the result stays in the value range */
    cn_image n9 = make_image(1, 9, 9), m9 = blank_image(1, 9, 9);
    CHECK_OK(cn_image_rotate(&n9, &m9, 45.0f));
    CHECK(at(&m9, 0, 4, 4) == at(&n9, 0, 4, 4) && at(&m9, 0, 0, 0) == 0.0f && at(&m9, 0, 8, 8) == 0.0f,
          "45 degrees keeps the centre, zeros the corners");
    free(n9.data), free(m9.data);
    /* a non-square image rotated by a small angle and back is close to the original inside */
    cn_image p = blank_image(1, 9, 15), q = blank_image(1, 9, 15), r = blank_image(1, 9, 15);
    for (int y = 0; y < 9; y++)
        for (int x = 0; x < 15; x++) p.data[y * 15 + x] = (float)(0.2 + 0.03 * x + 0.02 * y); /* linear: exact */
    cn_image_rotate(&p, &q, 7.0f);
    cn_image_rotate(&q, &r, -7.0f);
    CHECK(fabs(at(&r, 0, 4, 7) - at(&p, 0, 4, 7)) < 1e-5 && fabs(at(&r, 0, 3, 9) - at(&p, 0, 3, 9)) < 1e-5,
          "rotating a linear ramp by 7 and back restores its inside");
    /* random rotation: the angle is -d + 2d u with u = cn_rng_uniform, so it lies in [-d, d] */
    cn_rng rng, copy;
    cn_rng_seed(&rng, 21, 0);
    for (int t = 0; t < 5; t++) {
        copy = rng;
        float angle = -10.0f + 20.0f * cn_rng_uniform(&copy);
        CHECK(angle >= -10 && angle <= 10, "angle in range");
        CHECK_OK(cn_aug_random_rotate(&a, &b, 10.0f, &rng));
        cn_image_rotate(&a, &c, angle);
        CHECK(max_diff(&b, &c) == 0, "random rotation is the rotation by its drawn angle");
    }
    CHECK_ERROR(cn_aug_random_rotate(&a, &b, -1.0f, &rng), "random rotation: range -1");
    CHECK_ERROR(cn_image_rotate(&a, &b, NAN), "angle nan is not finite");
    free(a.data), free(b.data), free(c.data), free(p.data), free(q.data), free(r.data);
}

static void normalize(void) {
    float px[8] = {0, 0.5f, 1, 0.25f, 0.2f, 0.4f, 0.6f, 0.8f};
    cn_image a = {2, 2, 2, px};
    float mean[2] = {0.5f, 0.5f}, std[2] = {0.5f, 0.2f};
    cn_image_normalize(&a, mean, std);
    CHECK(px[0] == -1 && px[1] == 0 && px[2] == 1 && px[3] == -0.5f, "channel 0: (x - 0.5) / 0.5");
    CHECK(fabs(px[4] + 1.5) < 1e-6 && fabs(px[7] - 1.5) < 1e-6, "channel 1: (x - 0.5) / 0.2");
}

int main(void) {
    hflip();
    crop();
    resize();
    scale_jitter();
    colour();
    rotation();
    normalize();
    return cn_test_finish();
}
