/* tensor.c — shapes and contiguous tensors. */
#include "internal.h"
#include <inttypes.h>
#include <stdio.h>

cn_shape cn_shape_make(int ndim, const int64_t *dims) {
    cn_shape s = {0};
    s.ndim = ndim < 0 ? 0 : ndim > CN_MAX_DIMS ? CN_MAX_DIMS : ndim;
    for (int i = 0; i < s.ndim; i++) s.dims[i] = dims[i];
    return s;
}

cn_shape cn_shape4(int64_t n, int64_t c, int64_t h, int64_t w) {
    int64_t d[4] = {n, c, h, w};
    return cn_shape_make(4, d);
}

int64_t cn_shape_numel(const cn_shape *s) {
    int64_t p = 1;
    for (int i = 0; i < s->ndim; i++) {
        if (s->dims[i] < 0) return -1;
        if (__builtin_mul_overflow(p, s->dims[i], &p)) return INT64_MAX;
    }
    return p;
}

cn_status cn_shape_check(const cn_shape *s, const char *what) {
    char b[128];
    for (int i = 0; i < s->ndim; i++)
        if (s->dims[i] < 0)
            return cn_error(CN_ERR_SHAPE, "%s: shape %s has a negative dimension", what, cn_shape_str(s, b, sizeof b));
    if (cn_shape_numel(s) > CN_MAX_NUMEL)
        return cn_error(CN_ERR_SHAPE, "%s: shape %s has more than 2^40 elements", what, cn_shape_str(s, b, sizeof b));
    return CN_OK;
}

int cn_shape_equal(const cn_shape *a, const cn_shape *b) {
    if (a->ndim != b->ndim) return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->dims[i] != b->dims[i]) return 0;
    return 1;
}

char *cn_shape_str(const cn_shape *s, char *buf, size_t buflen) {
    size_t used = 0;
    if (buflen == 0) return buf;
    buf[0] = '\0';
    if (s->ndim == 0) {
        snprintf(buf, buflen, "scalar");
        return buf;
    }
    for (int i = 0; i < s->ndim && used < buflen; i++) {
        int w = snprintf(buf + used, buflen - used, i ? "x%" PRId64 : "%" PRId64, s->dims[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
    return buf;
}

cn_status cn_tensor_alloc(cn_tensor *t, cn_shape shape) {
    t->shape = shape;
    t->owns = 1;
    t->data = NULL;
    if (cn_shape_check(&shape, "tensor") != CN_OK) return CN_ERR_SHAPE;
    int64_t n = cn_shape_numel(&shape);
    t->data = cn_calloc((size_t)(n ? n : 1), sizeof(cn_real));
    return t->data ? CN_OK : CN_ERR_NOMEM;
}

void cn_tensor_free(cn_tensor *t) {
    if (t->owns) cn_free(t->data);
    t->data = NULL;
    t->owns = 0;
}

int64_t cn_tensor_numel(const cn_tensor *t) { return cn_shape_numel(&t->shape); }
