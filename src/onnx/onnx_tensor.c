/* onnx_tensor.c — TensorProto decoding (initializers, Constant values, test data) and the tensor files of
 * `convnet run`: TensorProto (.pb) and numpy .npy (v1.0, '<f4', C order). */
#define _DEFAULT_SOURCE /* realpath */
#include "onnx/onnx_internal.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

enum {
    T_FLOAT = 1, T_UINT8 = 2, T_INT8 = 3, T_UINT16 = 4, T_INT16 = 5, T_INT32 = 6, T_INT64 = 7, T_STRING = 8,
    T_BOOL = 9, T_FLOAT16 = 10, T_DOUBLE = 11, T_UINT32 = 12, T_UINT64 = 13
};

const char *onnx_type_name(int32_t t) {
    static const char *names[] = {"undefined", "float", "uint8", "int8", "uint16", "int16", "int32", "int64",
                                  "string", "bool", "float16", "double", "uint32", "uint64", "complex64",
                                  "complex128", "bfloat16"};
    return t >= 0 && t < (int32_t)(sizeof names / sizeof names[0]) ? names[t] : "unknown";
}

void onnx_const_free(onnx_const *c) {
    if (!c) return;
    cn_free(c->f);
    cn_free(c->i);
    c->f = NULL;
    c->i = NULL;
}

cn_status onnx_const_alloc(onnx_const *c, bool is_int, cn_shape shape) {
    memset(c, 0, sizeof *c);
    c->is_int = is_int;
    c->shape = shape;
    c->numel = cn_shape_numel(&shape);
    if (c->numel < 0 || c->numel > ((int64_t)1 << 34)) {
        char b[64];
        c->numel = 0;
        return cn_error(CN_ERR_UNSUPPORTED, "a constant of shape %s (negative or more than 2^34 values)", cn_shape_str(&shape, b, sizeof b));
    }
    size_t n = (size_t)(c->numel > 0 ? c->numel : 1);
    if (is_int) c->i = cn_calloc(n, sizeof(int64_t));
    else c->f = cn_calloc(n, sizeof(double));
    return (c->i || c->f) ? CN_OK : cn_error(CN_ERR_NOMEM, "out of memory for a constant of %lld values", (long long)c->numel);
}

static double half_to_double(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp((double)m, -24) : e == 31 ? (m ? NAN : INFINITY) : ldexp((double)(m + 1024), e - 25);
    return (h & 0x8000) ? -v : v;
}

static size_t elem_size(int32_t t) {
    switch (t) {
    case T_FLOAT: case T_INT32: case T_UINT32: return 4;
    case T_UINT8: case T_INT8: case T_BOOL: return 1;
    case T_UINT16: case T_INT16: case T_FLOAT16: return 2;
    case T_INT64: case T_DOUBLE: case T_UINT64: return 8;
    default: return 0;
    }
}

/* Little-endian element k of raw bytes of type t. */
static void raw_value(const uint8_t *p, int32_t t, double *f, int64_t *i) {
    uint64_t u = 0;
    size_t sz = elem_size(t);
    for (size_t b = 0; b < sz; b++) u |= (uint64_t)p[b] << (8 * b);
    switch (t) {
    case T_FLOAT: { uint32_t w = (uint32_t)u; float v; memcpy(&v, &w, 4); *f = v; break; }
    case T_DOUBLE: { double v; memcpy(&v, &u, 8); *f = v; break; }
    case T_FLOAT16: *f = half_to_double((uint16_t)u); break;
    case T_INT8: *i = (int8_t)u; break;
    case T_INT16: *i = (int16_t)u; break;
    case T_INT32: *i = (int32_t)u; break;
    case T_INT64: *i = (int64_t)u; break;
    default: *i = (int64_t)u; break;  /* unsigned types and bool */
    }
}

/* A non-negative decimal integer (the offset / length of external data); false when not one. */
static bool parse_size(const char *s, int64_t *v) {
    if (!s || !*s) return false;
    int64_t r = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || r > (INT64_MAX - 9) / 10) return false;
        r = r * 10 + (*s - '0');
    }
    *v = r;
    return true;
}

/* Tensor data in a file next to the model (data_location EXTERNAL): location (relative to the model's
 * directory, which it must not leave), offset, length. The bytes are read and decoded as raw_data. */
static cn_status decode_external(const Onnx__TensorProto *t, const char *what, const char *dir, onnx_const *out) {
    const char *loc = NULL, *off_s = NULL, *len_s = NULL;
    for (size_t i = 0; i < t->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = t->external_data[i];
        if (!e->key || !e->value) continue;
        if (!strcmp(e->key, "location")) loc = e->value;
        else if (!strcmp(e->key, "offset")) off_s = e->value;
        else if (!strcmp(e->key, "length")) len_s = e->value;
    }
    if (!dir) return cn_error(CN_ERR_UNSUPPORTED, "%s: external data needs the model's file (it was loaded from memory)", what);
    if (!loc || !loc[0]) return cn_error(CN_ERR_FORMAT, "%s: external data without a location", what);
    /* relative, and no ".." component: the file must be inside the model's directory */
    bool escapes = loc[0] == '/';
    for (const char *p = loc; *p && !escapes; p = strchr(p, '/') ? strchr(p, '/') + 1 : p + strlen(p))
        if (p[0] == '.' && p[1] == '.' && (p[2] == '/' || p[2] == 0)) escapes = true;
    if (escapes) return cn_error(CN_ERR_FORMAT, "%s: external data location '%s' is outside the model's directory", what, loc);
    int64_t offset = 0, length = -1;
    if (off_s && !parse_size(off_s, &offset)) return cn_error(CN_ERR_FORMAT, "%s: external data offset '%s' is not a byte count", what, off_s);
    if (len_s && !parse_size(len_s, &length)) return cn_error(CN_ERR_FORMAT, "%s: external data length '%s' is not a byte count", what, len_s);
    size_t plen = strlen(dir) + strlen(loc) + 2;
    char *path = malloc(plen);
    if (!path) return cn_error(CN_ERR_NOMEM, "out of memory");
    snprintf(path, plen, "%s/%s", dir, loc);
    /* a symbolic link may still lead out: compare the resolved paths */
    char *rdir = realpath(dir, NULL), *rpath = realpath(path, NULL);
    size_t ld = rdir ? strlen(rdir) : 0;
    bool inside = rdir && rpath && strncmp(rpath, rdir, ld) == 0 && (rpath[ld] == '/' || (ld == 1 && rpath[1]));
    free(rdir);
    free(rpath);
    FILE *f = inside ? fopen(path, "rb") : NULL;
    if (!f) {
        cn_status st = cn_error(inside ? CN_ERR_IO : CN_ERR_FORMAT, "%s: external data file '%s' %s", what, loc,
                                inside ? strerror(errno) : "cannot be opened inside the model's directory");
        free(path);
        return st;
    }
    free(path);
    int64_t size = -1;
    if (fseeko(f, 0, SEEK_END) == 0) size = (int64_t)ftello(f);
    if (size < 0 || offset > size || (length >= 0 && length > size - offset)) {
        fclose(f);
        return cn_error(CN_ERR_FORMAT, "%s: external data file '%s' has %lld bytes; offset %lld and length %lld do not fit",
                        what, loc, (long long)size, (long long)offset, (long long)length);
    }
    if (length < 0) length = size - offset;
    uint8_t *buf = malloc((size_t)(length ? length : 1));
    bool ok = buf && fseeko(f, (off_t)offset, SEEK_SET) == 0 && fread(buf, 1, (size_t)length, f) == (size_t)length;
    fclose(f);
    if (!ok) {
        free(buf);
        return cn_error(buf ? CN_ERR_IO : CN_ERR_NOMEM, "%s: cannot read %lld bytes of external data from '%s'", what,
                        (long long)length, loc);
    }
    Onnx__TensorProto copy = *t;
    copy.has_data_location = 0;
    copy.n_external_data = 0;
    copy.has_raw_data = 1;
    copy.raw_data.data = buf;
    copy.raw_data.len = (size_t)length;
    cn_status st = onnx_const_decode_at(&copy, what, NULL, out);
    free(buf);
    return st;
}

cn_status onnx_const_decode(const Onnx__TensorProto *t, const char *what, onnx_const *out) {
    return onnx_const_decode_at(t, what, NULL, out);
}

cn_status onnx_const_decode_at(const Onnx__TensorProto *t, const char *what, const char *dir, onnx_const *out) {
    memset(out, 0, sizeof *out);
    int32_t type = t->has_data_type ? t->data_type : 0;
    if (t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
        if (elem_size(type) == 0)
            return cn_error(CN_ERR_UNSUPPORTED, "%s: element type %s (%d) is not supported", what, onnx_type_name(type), (int)type);
        return decode_external(t, what, dir, out);
    }
    if (elem_size(type) == 0)
        return cn_error(CN_ERR_UNSUPPORTED, "%s: element type %s (%d) is not supported", what, onnx_type_name(type),
                        (int)type);
    if (t->n_dims > CN_MAX_DIMS)
        return cn_error(CN_ERR_UNSUPPORTED, "%s: rank %zu is more than %d", what, t->n_dims, CN_MAX_DIMS);
    cn_shape s = {.ndim = (int)t->n_dims};
    int64_t numel = 1;
    for (size_t d = 0; d < t->n_dims; d++) {
        if (t->dims[d] < 0 || t->dims[d] > ((int64_t)1 << 40))
            return cn_error(CN_ERR_FORMAT, "%s: dimension %zu is %lld", what, d, (long long)t->dims[d]);
        s.dims[d] = t->dims[d];
        numel *= t->dims[d];
        if (numel > ((int64_t)1 << 34)) return cn_error(CN_ERR_FORMAT, "%s: more than 2^34 elements", what);
    }
    bool is_int = !(type == T_FLOAT || type == T_DOUBLE || type == T_FLOAT16);
    size_t have;
    if (t->has_raw_data) have = t->raw_data.len / elem_size(type);
    else if (type == T_FLOAT) have = t->n_float_data;
    else if (type == T_DOUBLE) have = t->n_double_data;
    else if (type == T_INT64) have = t->n_int64_data;
    else if (type == T_UINT32 || type == T_UINT64) have = t->n_uint64_data;
    else have = t->n_int32_data;
    if ((int64_t)have != numel || (t->has_raw_data && t->raw_data.len != (size_t)numel * elem_size(type))) {
        char b[64];
        return cn_error(CN_ERR_FORMAT, "%s: shape %s (%s) needs %lld values, the data holds %zu%s", what,
                        cn_shape_str(&s, b, sizeof b), onnx_type_name(type), (long long)numel, have,
                        t->has_raw_data ? " (raw bytes)" : "");
    }
    cn_status st = onnx_const_alloc(out, is_int, s);
    if (st) return st;
    for (int64_t k = 0; k < numel; k++) {
        double f = 0;
        int64_t i = 0;
        if (t->has_raw_data) raw_value(t->raw_data.data + (size_t)k * elem_size(type), type, &f, &i);
        else if (type == T_FLOAT) f = t->float_data[k];
        else if (type == T_DOUBLE) f = t->double_data[k];
        else if (type == T_INT64) i = t->int64_data[k];
        else if (type == T_UINT32 || type == T_UINT64) i = (int64_t)t->uint64_data[k];
        else if (type == T_FLOAT16) f = half_to_double((uint16_t)t->int32_data[k]);
        else i = t->int32_data[k];
        if (is_int) out->i[k] = i;
        else out->f[k] = f;
    }
    return CN_OK;
}

/* ---------------------------------------------------------------- files */
static cn_status read_file(const char *path, uint8_t **data, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return cn_error(CN_ERR_IO, "%s: %s", path, strerror(errno));
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                return cn_error(CN_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = ncap;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return cn_error(CN_ERR_IO, "%s: read error", path);
    }
    *data = buf;
    *size = len;
    return CN_OK;
}

cn_status onnx_read_file(const char *path, uint8_t **data, size_t *size) { return read_file(path, data, size); }

static bool has_suffix(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Fill t (allocating it) from ndim dims and values; values read through get(k). */
static cn_status tensor_from_const(const onnx_const *c, cn_tensor *t, const char *path) {
    cn_shape s = c->shape;
    if (s.ndim == 0) s = cn_shape_make(1, (int64_t[]){1});
    cn_status st = cn_tensor_alloc(t, s);
    if (st) return cn_error(st, "%s: out of memory", path);
    for (int64_t k = 0; k < c->numel; k++) t->data[k] = (cn_real)onnx_const_f(c, k);
    return CN_OK;
}

static cn_status load_pb(const char *path, const uint8_t *data, size_t size, cn_tensor *t, char *name, size_t name_len) {
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, size, data);
    if (!tp) return cn_error(CN_ERR_FORMAT, "%s: not an ONNX TensorProto (truncated or corrupt protobuf)", path);
    cn_status st;
    char what[600];
    snprintf(what, sizeof what, "%s", path);
    onnx_const c;
    if (!tp->has_data_type || tp->data_type == 0) st = cn_error(CN_ERR_FORMAT, "%s: not an ONNX TensorProto (no data type)", path);
    else if ((st = onnx_const_decode(tp, what, &c)) == CN_OK) {
        st = tensor_from_const(&c, t, path);
        onnx_const_free(&c);
        if (!st && name) snprintf(name, name_len, "%s", tp->name ? tp->name : "");
    }
    onnx__tensor_proto__free_unpacked(tp, NULL);
    return st;
}

/* .npy: "\x93NUMPY", version, header length (2 bytes in v1, 4 in v2/3), a Python dict literal. */
static cn_status load_npy(const char *path, const uint8_t *data, size_t size, cn_tensor *t) {
    if (size < 10 || memcmp(data, "\x93NUMPY", 6) != 0) return cn_error(CN_ERR_FORMAT, "%s: not a .npy file (bad magic)", path);
    size_t hl, off;
    if (data[6] == 1) hl = data[8] | (size_t)data[9] << 8, off = 10;
    else if (data[6] == 2 || data[6] == 3) {
        if (size < 12) return cn_error(CN_ERR_FORMAT, "%s: truncated .npy header", path);
        hl = data[8] | (size_t)data[9] << 8 | (size_t)data[10] << 16 | (size_t)data[11] << 24, off = 12;
    } else return cn_error(CN_ERR_FORMAT, "%s: .npy version %d is not supported", path, data[6]);
    if (off + hl > size) return cn_error(CN_ERR_FORMAT, "%s: truncated .npy header", path);
    char hdr[4096];
    if (hl >= sizeof hdr) return cn_error(CN_ERR_FORMAT, "%s: .npy header too long", path);
    memcpy(hdr, data + off, hl);
    hdr[hl] = 0;
    int wide;
    if (strstr(hdr, "'<f4'") || strstr(hdr, "'float32'")) wide = 0;
    else if (strstr(hdr, "'<f8'")) wide = 1;
    else return cn_error(CN_ERR_UNSUPPORTED, "%s: only little-endian float32 ('<f4') or float64 .npy files are read", path);
    if (strstr(hdr, "'fortran_order': True")) return cn_error(CN_ERR_UNSUPPORTED, "%s: Fortran-order .npy files are not read", path);
    const char *sp = strstr(hdr, "'shape':");
    const char *open = sp ? strchr(sp, '(') : NULL;
    if (!open) return cn_error(CN_ERR_FORMAT, "%s: .npy header has no shape", path);
    cn_shape s = {0};
    const char *p = open + 1;
    for (;;) {
        while (*p == ' ' || *p == ',') p++;
        if (*p == ')') break;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 0) return cn_error(CN_ERR_FORMAT, "%s: bad .npy shape", path);
        if (s.ndim == CN_MAX_DIMS) return cn_error(CN_ERR_UNSUPPORTED, "%s: rank above %d", path, CN_MAX_DIMS);
        s.dims[s.ndim++] = v;
        p = end;
    }
    if (s.ndim == 0) s = cn_shape_make(1, (int64_t[]){1});
    int64_t n = cn_shape_numel(&s);
    size_t esz = wide ? 8 : 4;
    if ((size - off - hl) != (size_t)n * esz) {
        char b[64];
        return cn_error(CN_ERR_FORMAT, "%s: shape %s needs %lld bytes of data, the file has %zu", path,
                        cn_shape_str(&s, b, sizeof b), (long long)n * (long long)esz, size - off - hl);
    }
    cn_status st = cn_tensor_alloc(t, s);
    if (st) return st;
    const uint8_t *q = data + off + hl;
    for (int64_t k = 0; k < n; k++) {
        if (wide) {
            double v;
            memcpy(&v, q + 8 * k, 8);
            t->data[k] = (cn_real)v;
        } else {
            float v;
            memcpy(&v, q + 4 * k, 4);
            t->data[k] = (cn_real)v;
        }
    }
    return CN_OK;
}

cn_status cn_tensor_load_file(const char *path, cn_tensor *t, char *name, size_t name_len) {
    memset(t, 0, sizeof *t);
    if (name && name_len) name[0] = 0;
    uint8_t *data;
    size_t size;
    cn_status st = read_file(path, &data, &size);
    if (st) return st;
    st = has_suffix(path, ".npy") ? load_npy(path, data, size, t) : load_pb(path, data, size, t, name, name_len);
    free(data);
    return st;
}

static cn_status write_all(const char *path, const void *a, size_t na, const void *b, size_t nb) {
    FILE *f = fopen(path, "wb");
    if (!f) return cn_error(CN_ERR_IO, "%s: %s", path, strerror(errno));
    bool ok = fwrite(a, 1, na, f) == na && (nb == 0 || fwrite(b, 1, nb, f) == nb);
    if (fclose(f) != 0) ok = false;
    return ok ? CN_OK : cn_error(CN_ERR_IO, "%s: write failed", path);
}

cn_status cn_tensor_save_file(const char *path, const cn_tensor *t, const char *name) {
    int64_t n = cn_tensor_numel(t);
    float *vals = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!vals) return cn_error(CN_ERR_NOMEM, "%s: out of memory", path);
    for (int64_t k = 0; k < n; k++) vals[k] = (float)t->data[k];
    cn_status st;
    if (has_suffix(path, ".npy")) {
        char hdr[256], shape[160] = "";
        size_t used = 0;
        for (int d = 0; d < t->shape.ndim; d++)
            used += (size_t)snprintf(shape + used, sizeof shape - used, "%lld,%s", (long long)t->shape.dims[d],
                                     d + 1 < t->shape.ndim ? " " : "");
        if (t->shape.ndim > 1) shape[used - 1] = 0; /* "(2, 3)" but "(5,)" */
        int len = snprintf(hdr + 10, sizeof hdr - 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }", shape);
        int total = 10 + len + 1;
        int pad = (64 - total % 64) % 64;
        memset(hdr + 10 + len, ' ', (size_t)pad);
        hdr[10 + len + pad] = '\n';
        int hl = len + pad + 1;
        memcpy(hdr, "\x93NUMPY\x01\x00", 8);
        hdr[8] = (char)(hl & 255);
        hdr[9] = (char)(hl >> 8);
        st = write_all(path, hdr, (size_t)(10 + hl), vals, (size_t)n * sizeof(float));
    } else {
        Onnx__TensorProto tp = ONNX__TENSOR_PROTO__INIT;
        int64_t dims[CN_MAX_DIMS];
        for (int d = 0; d < t->shape.ndim; d++) dims[d] = t->shape.dims[d];
        tp.n_dims = (size_t)t->shape.ndim;
        tp.dims = dims;
        tp.has_data_type = 1;
        tp.data_type = T_FLOAT;
        tp.name = (char *)(name ? name : "");
        tp.has_raw_data = 1;
        tp.raw_data.len = (size_t)n * sizeof(float);
        tp.raw_data.data = (uint8_t *)vals;  /* little-endian hosts only (x86-64, arm64) */
        size_t len = onnx__tensor_proto__get_packed_size(&tp);
        uint8_t *buf = malloc(len ? len : 1);
        if (!buf) st = cn_error(CN_ERR_NOMEM, "%s: out of memory", path);
        else {
            onnx__tensor_proto__pack(&tp, buf);
            st = write_all(path, buf, len, NULL, 0);
            free(buf);
        }
    }
    free(vals);
    return st;
}
