/* safetensors.c — see safetensors.h. */
#include "safetensors.h"
#include <errno.h>
#include <stdio.h>

size_t st_dtype_size(const char *dtype) {
    static const struct { const char *name; size_t size; } table[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
        {"I16", 2}, {"I8", 1}, {"U8", 1}, {"BOOL", 1}, {"U16", 2}, {"U32", 4}, {"U64", 8}};
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(dtype, table[i].name) == 0) return table[i].size;
    return 0;
}

int64_t st_numel(const st_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->dims[i];
    return n;
}

void st_free(st_file *f) {
    cn_free(f->file);
    json_free(f->header);
    cn_free(f->tensors);
    memset(f, 0, sizeof *f);
}

static cn_status parse_entry(const char *path, const json_value *e, size_t data_len, const unsigned char *data,
                             st_tensor *t) {
    const json_value *shape = json_get(e, "shape"), *offs = json_get(e, "data_offsets");
    t->name = e->key;
    t->dtype = json_get_string(e, "dtype", NULL);
    if (e->type != JSON_OBJECT || !t->dtype || !shape || shape->type != JSON_ARRAY || !offs ||
        offs->type != JSON_ARRAY || offs->count != 2 || shape->count > 8)
        return cn_error(CN_ERR_FORMAT, "%s: tensor '%s' has a malformed header entry", path, e->key);
    size_t esize = st_dtype_size(t->dtype);
    if (!esize) return cn_error(CN_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%s'", path, e->key, t->dtype);
    t->ndim = shape->count;
    double numel = 1;
    for (int i = 0; i < t->ndim; i++) {
        double d = json_at(shape, i)->number;
        if (json_at(shape, i)->type != JSON_NUMBER || d < 0 || d != (double)(int64_t)d || d > 1e12)
            return cn_error(CN_ERR_FORMAT, "%s: tensor '%s' has a bad dimension", path, e->key);
        t->dims[i] = (int64_t)d;
        numel *= d;
    }
    double b = json_at(offs, 0)->number, en = json_at(offs, 1)->number;
    if (json_at(offs, 0)->type != JSON_NUMBER || json_at(offs, 1)->type != JSON_NUMBER || b < 0 || en < b ||
        en > (double)data_len)
        return cn_error(CN_ERR_FORMAT, "%s: tensor '%s' has data offsets outside the file (truncated?)", path, e->key);
    if (en - b != numel * (double)esize)
        return cn_error(CN_ERR_FORMAT, "%s: tensor '%s' holds %.0f bytes, its shape needs %.0f", path, e->key,
                        en - b, numel * (double)esize);
    t->data = data + (size_t)b;
    t->bytes = (size_t)(en - b);
    return CN_OK;
}

cn_status st_read(const char *path, st_file *out) {
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "rb");
    if (!fp) return cn_error(CN_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    if (size < 8) {
        fclose(fp);
        return cn_error(CN_ERR_FORMAT, "%s: %ld bytes is too short for a safetensors file", path, size);
    }
    out->file = cn_malloc((size_t)size);
    if (!out->file) {
        fclose(fp);
        return CN_ERR_NOMEM;
    }
    size_t got = fread(out->file, 1, (size_t)size, fp);
    fclose(fp);
    if (got != (size_t)size) {
        st_free(out);
        return cn_error(CN_ERR_IO, "%s: read %zu of %ld bytes", path, got, size);
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | out->file[i];
    if (hlen > (uint64_t)size - 8) {
        st_free(out);
        return cn_error(CN_ERR_FORMAT, "%s: header length %llu runs past the end of the file (truncated or not safetensors)",
                        path, (unsigned long long)hlen);
    }
    out->header = json_parse((const char *)out->file + 8, (size_t)hlen);
    if (!out->header || out->header->type != JSON_OBJECT) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", out->header ? "not an object" : cn_last_error());
        st_free(out);
        return cn_error(CN_ERR_FORMAT, "%s: bad safetensors header: %s", path, msg);
    }
    out->tensors = cn_calloc((size_t)out->header->count + 1, sizeof(st_tensor));
    if (!out->tensors) {
        st_free(out);
        return CN_ERR_NOMEM;
    }
    const unsigned char *data = out->file + 8 + hlen;
    size_t data_len = (size_t)size - 8 - (size_t)hlen;
    for (const json_value *e = out->header->child; e; e = e->next) {
        if (strcmp(e->key, "__metadata__") == 0) {
            out->metadata = e;
            continue;
        }
        cn_status st = parse_entry(path, e, data_len, data, &out->tensors[out->count]);
        if (st) {
            st_free(out);
            return st;
        }
        out->count++;
    }
    return CN_OK;
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *st_metadata(const st_file *f, const char *key) { return json_get_string(f->metadata, key, NULL); }

cn_status st_to_real(const st_tensor *t, cn_real *dst, int64_t count) {
    if (st_numel(t) != count)
        return cn_error(CN_ERR_SHAPE, "tensor '%s' has %lld elements, %lld expected", t->name,
                        (long long)st_numel(t), (long long)count);
    if (strcmp(t->dtype, "F32") == 0) {
        for (int64_t i = 0; i < count; i++) {
            float v;
            memcpy(&v, t->data + 4 * i, 4);
            dst[i] = (cn_real)v;
        }
    } else if (strcmp(t->dtype, "F64") == 0) {
        for (int64_t i = 0; i < count; i++) {
            double v;
            memcpy(&v, t->data + 8 * i, 8);
            dst[i] = (cn_real)v;
        }
    } else
        return cn_error(CN_ERR_FORMAT, "tensor '%s' has dtype %s, F32 or F64 expected", t->name, t->dtype);
    return CN_OK;
}
