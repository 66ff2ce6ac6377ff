/* data_internal.h — what the dataset readers share: making and naming an empty dataset. */
#ifndef CN_DATA_INTERNAL_H
#define CN_DATA_INTERNAL_H

#include "internal.h"

/* Allocate images and labels for count samples of channels x height x width; names left unset. */
cn_status dataset_alloc(cn_dataset *ds, int64_t count, int channels, int height, int width);
/* num_classes = max label + 1, names "0".."K-1"; fails when a label is negative. */
cn_status dataset_number_classes(cn_dataset *ds, const char *source);
/* Set num_classes = count and copy the names (labels are not checked). */
cn_status dataset_set_names(cn_dataset *ds, const char *const *names, int count);
char *data_strdup(const char *s);
/* Bilinear resize of one planar uint8 image (c x h x w) into (c x oh x ow), via floats; no allocation. */
void data_resize_u8(const uint8_t *src, int c, int h, int w, uint8_t *dst, int oh, int ow);

#endif
