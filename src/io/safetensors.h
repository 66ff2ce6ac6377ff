/* safetensors.h — reading the safetensors format (8-byte little-endian header length, a JSON header
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}, then the data). */
#ifndef CN_SAFETENSORS_H
#define CN_SAFETENSORS_H

#include "json.h"

typedef struct {
    const char *name;
    const char *dtype;      /* "F32", "F64", "I64", ... */
    int ndim;
    int64_t dims[8];
    const unsigned char *data;
    size_t bytes;
} st_tensor;

typedef struct {
    unsigned char *file;    /* the whole file */
    json_value *header;
    const json_value *metadata;  /* "__metadata__" object or NULL */
    st_tensor *tensors;
    int count;
} st_file;

/* Read and validate a whole file. Every inconsistency (truncation, offsets out of range, sizes that do not
 * match the shape) is a CN_ERR_FORMAT naming the file. */
cn_status st_read(const char *path, st_file *out);
void st_free(st_file *f);
const st_tensor *st_find(const st_file *f, const char *name);
const char *st_metadata(const st_file *f, const char *key);   /* NULL when absent */
/* Copy an F32 or F64 tensor into dst as cn_real (count must match). */
cn_status st_to_real(const st_tensor *t, cn_real *dst, int64_t count);
int64_t st_numel(const st_tensor *t);
/* Bytes per element of a dtype name ("F32" -> 4), 0 when unknown. */
size_t st_dtype_size(const char *dtype);

/* ---- writing */
typedef struct {
    const char *name;
    const char *dtype;      /* "F32", "F64", "I64", ... */
    int ndim;               /* 0..8 */
    const int64_t *dims;
    const void *data;       /* little-endian, bytes = numel * dtype size */
    size_t bytes;
} st_write_tensor;
typedef struct {
    const char *key, *value;
} st_meta_entry;

/* Write a safetensors file atomically: the data goes to a temporary file in the target's directory, which
 * is flushed, fsync'd and renamed over path (then the directory is fsync'd). On any failure the temporary
 * file is removed and an existing file at path is left as it was. Names must be unique; sizes must match
 * shapes (CN_ERR_INVALID otherwise, before anything is written). */
cn_status st_write(const char *path, const st_write_tensor *tensors, int count, const st_meta_entry *meta, int n_meta);

#endif
