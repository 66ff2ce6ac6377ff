/* tensor_ref.c — reference kernels of tensor.h. Every loop walks an index space with an odometer over the
 * outer axes and a plain loop over the innermost one. */
#include "kernels/tensor.h"

cn_binary_forward_fn cn_binary_forward = cn_binary_forward_ref;

/* Advance idx (outer axes 0..ndim-2) like an odometer; returns false after the last row. */
static bool next_row(int ndim, const int64_t *dims, int64_t *idx) {
    for (int d = ndim - 2; d >= 0; d--) {
        if (++idx[d] < dims[d]) return true;
        idx[d] = 0;
    }
    return false;
}

static int64_t row_offset(int ndim, const int64_t *idx, const int64_t *str) {
    int64_t o = 0;
    for (int d = 0; d < ndim - 1; d++) o += idx[d] * str[d];
    return o;
}

static bool empty_space(int ndim, const int64_t *dims) {
    for (int d = 0; d < ndim; d++)
        if (dims[d] <= 0) return true;
    return false;
}

/* A rank-0 space is one element: treat it as {1} with stride 0. */
#define SCALAR_FIX(ndim, dims, ...)                      \
    static const int64_t one_[1] = {1}, zero_[1] = {0}; \
    if (ndim == 0) {                                     \
        ndim = 1;                                        \
        dims = one_;                                     \
        __VA_ARGS__                                      \
    }

void cn_strided_gather_ref(int ndim, const int64_t *dims, const cn_real *src, const int64_t *sstr, cn_real *dst,
                           cn_real alpha, bool accumulate) {
    SCALAR_FIX(ndim, dims, sstr = zero_;)
    if (empty_space(ndim, dims)) return;
    int64_t idx[CN_MAX_DIMS] = {0}, w = dims[ndim - 1], s = sstr[ndim - 1];
    do {
        const cn_real *in = src + row_offset(ndim, idx, sstr);
        for (int64_t i = 0; i < w; i++) dst[i] = (accumulate ? dst[i] : 0) + alpha * in[i * s];
        dst += w;
    } while (next_row(ndim, dims, idx));
}

void cn_strided_scatter_add_ref(int ndim, const int64_t *dims, const cn_real *src, cn_real *dst, const int64_t *dstr,
                                cn_real alpha) {
    SCALAR_FIX(ndim, dims, dstr = zero_;)
    if (empty_space(ndim, dims)) return;
    int64_t idx[CN_MAX_DIMS] = {0}, w = dims[ndim - 1], s = dstr[ndim - 1];
    do {
        cn_real *out = dst + row_offset(ndim, idx, dstr);
        for (int64_t i = 0; i < w; i++) out[i * s] += alpha * src[i];
        src += w;
    } while (next_row(ndim, dims, idx));
}

static inline cn_real apply(cn_binary_kind op, cn_real a, cn_real b) {
    switch (op) {
    case CN_BINARY_ADD: return a + b;
    case CN_BINARY_SUB: return a - b;
    case CN_BINARY_MUL: return a * b;
    default: return a / b;
    }
}

void cn_binary_forward_ref(cn_binary_kind op, int ndim, const int64_t *dims, const cn_real *a, const int64_t *sa,
                           const cn_real *b, const int64_t *sb, cn_real *y) {
    SCALAR_FIX(ndim, dims, sa = zero_; sb = zero_;)
    if (empty_space(ndim, dims)) return;
    int64_t idx[CN_MAX_DIMS] = {0}, w = dims[ndim - 1], ia = sa[ndim - 1], ib = sb[ndim - 1];
    do {
        const cn_real *ra = a + row_offset(ndim, idx, sa), *rb = b + row_offset(ndim, idx, sb);
        for (int64_t i = 0; i < w; i++) y[i] = apply(op, ra[i * ia], rb[i * ib]);
        y += w;
    } while (next_row(ndim, dims, idx));
}

void cn_binary_backward_ref(cn_binary_kind op, int ndim, const int64_t *dims, const cn_real *a, const int64_t *sa,
                            const cn_real *b, const int64_t *sb, const cn_real *dy, cn_real *da, cn_real *db) {
    SCALAR_FIX(ndim, dims, sa = zero_; sb = zero_;)
    if (empty_space(ndim, dims)) return;
    int64_t idx[CN_MAX_DIMS] = {0}, w = dims[ndim - 1], ia = sa[ndim - 1], ib = sb[ndim - 1];
    do {
        int64_t oa = row_offset(ndim, idx, sa), ob = row_offset(ndim, idx, sb);
        for (int64_t i = 0; i < w; i++) {
            cn_real av = a[oa + i * ia], bv = b[ob + i * ib], g = dy[i], ga, gb;
            switch (op) {
            case CN_BINARY_ADD: ga = g; gb = g; break;
            case CN_BINARY_SUB: ga = g; gb = -g; break;
            case CN_BINARY_MUL: ga = g * bv; gb = g * av; break;
            default: ga = g / bv; gb = -g * av / (bv * bv); break;
            }
            if (da) da[oa + i * ia] += ga;
            if (db) db[ob + i * ib] += gb;
        }
        dy += w;
    } while (next_row(ndim, dims, idx));
}

/* The input index that output index o (before subtracting begin) reads on an axis of size n, or -1 for a
 * constant pad. */
static int64_t pad_source(int64_t o, int64_t begin, int64_t n, cn_pad_mode mode) {
    int64_t i = o - begin;
    if (i >= 0 && i < n) return i;
    switch (mode) {
    case CN_PAD_REFLECT:
        if (n == 1) return 0;
        {
            int64_t period = 2 * (n - 1);
            i %= period;
            if (i < 0) i += period;
            return i < n ? i : period - i;
        }
    case CN_PAD_REPLICATE: return i < 0 ? 0 : n - 1;
    case CN_PAD_CIRCULAR: i %= n; return i < 0 ? i + n : i;
    default: return -1;
    }
}

/* Shared walk: for every output element, its flat input index (or -1). */
#define PAD_WALK(BODY)                                                              \
    int64_t idx[CN_MAX_DIMS] = {0}, xs[CN_MAX_DIMS], total = 1;                    \
    xs[ndim - 1] = 1;                                                              \
    for (int d = ndim - 2; d >= 0; d--) xs[d] = xs[d + 1] * xdims[d + 1];          \
    for (int d = 0; d < ndim; d++) total *= ydims[d];                              \
    for (int64_t o = 0; o < total; o++) {                                          \
        int64_t src = 0;                                                           \
        for (int d = 0; d < ndim && src >= 0; d++) {                               \
            int64_t i = pad_source(idx[d], begin[d], xdims[d], mode);              \
            src = i < 0 ? -1 : src + i * xs[d];                                    \
        }                                                                          \
        BODY;                                                                      \
        for (int d = ndim - 1; d >= 0; d--) {                                      \
            if (++idx[d] < ydims[d]) break;                                        \
            idx[d] = 0;                                                            \
        }                                                                          \
    }

void cn_pad_forward_ref(int ndim, const int64_t *xdims, const int64_t *ydims, const int64_t *begin,
                        cn_pad_mode mode, cn_real value, const cn_real *x, cn_real *y) {
    PAD_WALK(y[o] = src < 0 ? value : x[src])
}

void cn_pad_backward_ref(int ndim, const int64_t *xdims, const int64_t *ydims, const int64_t *begin,
                         cn_pad_mode mode, const cn_real *dy, cn_real *dx) {
    PAD_WALK(if (src >= 0) dx[src] += dy[o])
}
