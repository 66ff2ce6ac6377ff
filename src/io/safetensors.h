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

#endif
