/* onnx_internal.h — what the ONNX files share: decoded constant tensors and the generated protobuf-c code
 * (onnx.pb-c.h, made at build time from Debian's /usr/include/onnx/onnx.proto). */
#ifndef CN_ONNX_INTERNAL_H
#define CN_ONNX_INTERNAL_H

#include "internal.h"
#include "onnx.pb-c.h"

/* A constant tensor known at load time: floats as double, integers (and bools) as int64. */
typedef struct {
    bool is_int;
    cn_shape shape;
    int64_t numel;
    double *f;      /* numel values when !is_int (cn_malloc'd) */
    int64_t *i;     /* numel values when is_int */
} onnx_const;

void onnx_const_free(onnx_const *c);
/* Decode a TensorProto; what names it in messages ("initializer 'conv1.weight'"). Checks the rank (<= 5),
 * the dims, the element type and that the data holds exactly numel values. */
cn_status onnx_const_decode(const Onnx__TensorProto *t, const char *what, onnx_const *out);
/* The same, reading external data (data_location EXTERNAL) from files in dir, the model's directory (NULL:
 * a model loaded from memory, whose external data is an error). */
cn_status onnx_const_decode_at(const Onnx__TensorProto *t, const char *what, const char *dir, onnx_const *out);
/* A new constant of the given shape, zero-filled. */
cn_status onnx_const_alloc(onnx_const *c, bool is_int, cn_shape shape);
/* Value k as double / int64 whatever the storage. */
static inline double onnx_const_f(const onnx_const *c, int64_t k) { return c->is_int ? (double)c->i[k] : c->f[k]; }
static inline int64_t onnx_const_i(const onnx_const *c, int64_t k) {
    if (c->is_int) return c->i[k];
    double v = c->f[k]; /* saturating: casting an out-of-range float is undefined */
    return !(v == v) ? 0 : v >= 9.2e18 ? INT64_MAX : v <= -9.2e18 ? INT64_MIN : (int64_t)v;
}

const char *onnx_type_name(int32_t data_type);

/* cn_model_build / cn_model_input_size for an .onnx path (src/models/zoo.c calls these). */
int onnx_model_build(cn_graph *g, const char *path, int x, int classes);
cn_status onnx_model_input_size(const char *path, int *channels, int *height, int *width);

#endif
