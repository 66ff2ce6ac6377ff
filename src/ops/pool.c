/* pool.c — max and average pooling (1D/2D/3D), global average / max pooling, adaptive average pooling.
 *
 * Per spatial axis, with effective kernel e = dilation*(kernel-1) + 1 (PyTorch's pooling_output_shape):
 *   out = floor((in + 2*pad - e) / stride) + 1                       (floor mode)
 *   out = floor((in + 2*pad - e + stride - 1) / stride) + 1, and then
 *         out -= 1 when (out-1)*stride >= in + pad                    (ceil mode: the last window must start
 *                                                                      inside the input or the left padding)
 * Max:      y = max over the window (padding is -inf), argmax kept in scratch;  dx[argmax] += dy
 * Average:  y = sum(window) / divisor;  dx[window] += dy / divisor, where divisor is the window clipped to the
 *           padded input [-pad, in+pad) when count_include_pad (so ceil-mode windows that run past it count
 *           only up to in+pad, as in PyTorch), else the number of real input positions in the window.
 *           A dilated window (ONNX's AveragePool from opset 19) counts its taps by the same rules.
 * Global:   (N, C, spatial...) -> (N, C, 1, ...): mean or max over each plane (max keeps its argmax).
 * Adaptive: bin i of an axis is [floor(i*in/out), ceil((i+1)*in/out)), y = mean of the bin.
 * Cost: pooling has no multiply-adds (comparisons for max, additions and one division per output for
 * average), so every op here reports macs = 0, as the lecture's tables and torchvision summaries do. */
#include "kernels/pool.h"
#include <omp.h>
#include <stdio.h>

typedef struct {
    cn_pool_attr pool;
    int required_rank;  /* 0: any of 3..5; 4 for cn_maxpool2d */
} pool_node_attr;

typedef struct {
    int out_size[CN_MAX_SPATIAL];
} adaptive_attr;

/* (N, C, spatial...) with 1 to 3 spatial axes, none of them empty. */
static cn_status check_pool_input(const cn_node *n, const cn_shape *in, int required_rank) {
    char b[64];
    cn_shape_str(in, b, sizeof b);
    if (required_rank && in->ndim != required_rank)
        return cn_error(CN_ERR_SHAPE, "%s: input %s has %d dimensions, 2-D pooling needs %d (N, C, H, W)", n->name, b,
                        in->ndim, required_rank);
    if (in->ndim < 3 || in->ndim > 2 + CN_MAX_SPATIAL)
        return cn_error(CN_ERR_SHAPE, "%s: input %s has %d dimensions, pooling needs (N, C, spatial...) with 1 to 3 spatial axes",
                        n->name, b, in->ndim);
    for (int i = 2; i < in->ndim; i++)
        if (in->dims[i] < 1)
            return cn_error(CN_ERR_SHAPE, "%s: input %s is empty on spatial axis %d", n->name, b, i - 2);
    return CN_OK;
}

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* The geometry of pooling x with attribute a, spatial axes right-aligned into 3 (leading axes of size 1). */
static cn_pool_geom pool_geometry(const cn_pool_attr *a, const cn_shape *in) {
    cn_pool_geom geo;
    const int rank = in->ndim - 2, lead = 3 - rank;
    for (int ax = 0; ax < 3; ax++) {
        geo.in[ax] = geo.out[ax] = geo.kernel[ax] = geo.stride[ax] = geo.dilation[ax] = 1;
        geo.pad[ax] = 0;
    }
    for (int i = 0; i < rank; i++) {
        const int ax = lead + i;
        const int64_t k = a->kernel[i], s = a->stride[i] ? a->stride[i] : k, p = a->pad[i];
        const int64_t d = a->dilation[i] > 1 ? a->dilation[i] : 1;
        const int64_t x = in->dims[2 + i], span = x + 2 * p - d * (k - 1) - 1;
        int64_t o = floor_div(span + (a->ceil_mode ? s - 1 : 0), s) + 1;
        if (a->ceil_mode && (o - 1) * s >= x + p) o--;
        geo.in[ax] = x;
        geo.out[ax] = o;
        geo.kernel[ax] = k;
        geo.stride[ax] = s;
        geo.pad[ax] = p;
        geo.dilation[ax] = d;
    }
    geo.count_include_pad = a->kind == CN_POOL_AVG && a->count_include_pad;
    return geo;
}

/* Every attribute on every used axis: kernel >= 1, stride >= 0 (0 = kernel), 0 <= pad <= kernel/2,
 * dilation >= 0 (0, 1 = none; for average pooling as ONNX's opset 19), then an output of at least 1 on every axis. */
static cn_status pool_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const pool_node_attr *na = n->attr;
    const cn_pool_attr *a = &na->pool;
    cn_status st = check_pool_input(n, &in[0], na->required_rank);
    if (st) return st;
    const int rank = in[0].ndim - 2;
    for (int i = 0; i < rank; i++) {
        const int k = a->kernel[i], s = a->stride[i], p = a->pad[i], d = a->dilation[i];
        if (k < 1) return cn_error(CN_ERR_INVALID, "%s: kernel %d on axis %d must be >= 1", n->name, k, i);
        if (s < 0)
            return cn_error(CN_ERR_INVALID, "%s: stride %d on axis %d must be >= 1 (0 means stride = kernel)", n->name, s, i);
        if (p < 0) return cn_error(CN_ERR_INVALID, "%s: padding %d on axis %d must be >= 0", n->name, p, i);
        if (p > k / 2)
            return cn_error(CN_ERR_INVALID, "%s: padding %d on axis %d is more than half the kernel %d (at most %d)",
                            n->name, p, i, k, k / 2);
        if (d < 0) return cn_error(CN_ERR_INVALID, "%s: dilation %d on axis %d must be >= 1 (0 means none)", n->name, d, i);
    }
    const cn_pool_geom geo = pool_geometry(a, &in[0]);
    const int lead = 3 - rank;
    for (int i = 0; i < rank; i++) {
        const int ax = lead + i;
        if (geo.out[ax] >= 1) continue;
        char b[64], dil[48] = "";
        const int64_t eff = geo.dilation[ax] * (geo.kernel[ax] - 1) + 1;
        if (geo.dilation[ax] > 1)
            snprintf(dil, sizeof dil, " (kernel %lld, dilation %lld)", (long long)geo.kernel[ax], (long long)geo.dilation[ax]);
        return cn_error(CN_ERR_SHAPE, "%s: input %s: kernel %lld%s is larger than the padded input %lld (%lld+2*%lld) on axis %d",
                        n->name, cn_shape_str(&in[0], b, sizeof b), (long long)eff, dil,
                        (long long)(geo.in[ax] + 2 * geo.pad[ax]), (long long)geo.in[ax], (long long)geo.pad[ax], i);
    }
    *out = in[0];
    for (int i = 0; i < rank; i++) out->dims[2 + i] = geo.out[lead + i];
    return CN_OK;
}

static int64_t planes_of(const cn_shape *s) { return s->dims[0] * s->dims[1]; }

/* Argmax indices (one int64 per output) are kept from a train forward to backward; eval needs none. */
static size_t argmax_scratch_bytes(const cn_graph *g, const cn_node *n, cn_mode mode) {
    CN_UNUSED(g);
    return mode == CN_TRAIN ? (size_t)cn_shape_numel(&n->shape) * sizeof(int64_t) : 0;
}

static cn_status maxpool_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    const pool_node_attr *na = n->attr;
    const cn_shape *in = graph_in_shape(g, n, 0);
    const cn_pool_geom geo = pool_geometry(&na->pool, in);
    cn_maxpool_forward(&geo, planes_of(in), graph_in(g, n, 0), n->out, mode == CN_TRAIN ? n->scratch : NULL);
    if (mode == CN_TRAIN && n->train_relu) { /* the ReLU before it is fused (graph/fuse.c): its derivative at
                                              * the argmax is 0 where the window's maximum is */
        int64_t *am = n->scratch, count = cn_shape_numel(&n->shape);
        const cn_real *y = n->out;
#pragma omp parallel for schedule(static) if (count >= (1 << 16) && !omp_in_parallel())
        for (int64_t o = 0; o < count; o++)
            if (!(y[o] > 0)) am[o] = -1;
    }
    return CN_OK;
}

static void maxpool_backward(cn_graph *g, cn_node *n) {
    /* fused with the ReLU before it: straight into the ReLU's input gradient */
    cn_real *dx = n->train_relu ? graph_fused_relu_in_grad(g, n) : graph_in_grad(g, n, 0);
    if (!dx) return;
    bool set = n->train_relu ? graph_fused_relu_in_grad_fresh(g, n) : graph_in_grad_fresh(g, n, 0);
    const cn_shape *in = graph_in_shape(g, n, 0);
    cn_maxpool_backward(planes_of(in), shape_spatial(in), shape_spatial(&n->shape), graph_out_grad(g, n), n->scratch, dx,
                        set);
}

static cn_status avgpool_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const pool_node_attr *na = n->attr;
    const cn_shape *in = graph_in_shape(g, n, 0);
    const cn_pool_geom geo = pool_geometry(&na->pool, in);
    cn_avgpool_forward(&geo, planes_of(in), graph_in(g, n, 0), n->out);
    return CN_OK;
}

static void avgpool_backward(cn_graph *g, cn_node *n) {
    cn_real *dx = graph_in_grad(g, n, 0);
    if (!dx) return;
    const pool_node_attr *na = n->attr;
    const cn_shape *in = graph_in_shape(g, n, 0);
    const cn_pool_geom geo = pool_geometry(&na->pool, in);
    cn_avgpool_backward(&geo, planes_of(in), graph_out_grad(g, n), dx);
}

/* The effective values, one per spatial axis of the input: a stride of 0 is listed as the kernel, a
 * dilation of 0 as 1; pads [begins..., ends...] (symmetric). Dilations for max only, count_include_pad
 * for average only. */
static int pool_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    const cn_pool_attr *a = &((const pool_node_attr *)n->attr)->pool;
    int nd = graph_in_shape(g, n, 0)->ndim - 2, k = 0;
    int strides[CN_MAX_SPATIAL], dilations[CN_MAX_SPATIAL];
    for (int i = 0; i < CN_MAX_SPATIAL; i++) {
        strides[i] = a->stride[i] ? a->stride[i] : a->kernel[i];
        dilations[i] = a->dilation[i] > 1 ? a->dilation[i] : 1;
    }
    attr_ints(out, &k, "kernel_shape", a->kernel, nd, NULL, 0);
    attr_ints(out, &k, "strides", strides, nd, NULL, 0);
    attr_ints(out, &k, "pads", a->pad, nd, a->pad, nd);
    bool dilated = false;
    for (int i = 0; i < nd; i++) dilated = dilated || dilations[i] > 1;
    if (a->kind == CN_POOL_MAX || dilated) attr_ints(out, &k, "dilations", dilations, nd, NULL, 0);
    attr_int(out, &k, "ceil_mode", a->ceil_mode ? 1 : 0);
    if (a->kind == CN_POOL_AVG) attr_int(out, &k, "count_include_pad", a->count_include_pad ? 1 : 0);
    return k;
}

static const cn_op_def op_maxpool = {.name = "MaxPool", .prefix = "maxpool", .shape = pool_shape,
                                     .scratch_bytes = argmax_scratch_bytes, .forward = maxpool_forward,
                                     .backward = maxpool_backward, .attrs = pool_attrs,
                                     .backward_reads = CN_READS_NOTHING, .sets_fresh_grads = true};
static const cn_op_def op_avgpool = {.name = "AveragePool", .prefix = "avgpool", .shape = pool_shape,
                                     .forward = avgpool_forward, .backward = avgpool_backward, .attrs = pool_attrs,
                                     .backward_reads = CN_READS_NOTHING};

cn_pool_attr cn_pool_attr_make(cn_pool_kind kind, int k, int s, int p) {
    cn_pool_attr a;
    memset(&a, 0, sizeof a);
    a.kind = kind;
    for (int i = 0; i < CN_MAX_SPATIAL; i++) {
        a.kernel[i] = k;
        a.stride[i] = s;
        a.pad[i] = p;
        a.dilation[i] = 1;
    }
    a.ceil_mode = 0;
    a.count_include_pad = 1;
    return a;
}

static int add_pool(cn_graph *g, const char *name, int x, const cn_pool_attr *attr, int required_rank) {
    const char *who = name && name[0] ? name : "pool";
    if (!attr) {
        cn_error(CN_ERR_INVALID, "%s: pooling attributes are NULL", who);
        return -1;
    }
    if (attr->kind != CN_POOL_MAX && attr->kind != CN_POOL_AVG) {
        cn_error(CN_ERR_INVALID, "%s: pooling kind %d is neither CN_POOL_MAX nor CN_POOL_AVG", who, (int)attr->kind);
        return -1;
    }
    pool_node_attr a = {.pool = *attr, .required_rank = required_rank};
    return graph_add_node(g, attr->kind == CN_POOL_MAX ? &op_maxpool : &op_avgpool, name, &x, 1, &a, sizeof a);
}

int cn_pool(cn_graph *g, const char *name, int x, const cn_pool_attr *attr) { return add_pool(g, name, x, attr, 0); }

int cn_maxpool2d(cn_graph *g, const char *name, int x, int k, int stride) {
    cn_pool_attr a = cn_pool_attr_make(CN_POOL_MAX, k, stride, 0);
    return add_pool(g, name, x, &a, 4);
}

/* ---- global pooling: a max pooling whose window is the whole plane, or adaptive average to 1 x ... x 1. */
static cn_status global_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    cn_status st = check_pool_input(n, &in[0], 0);
    if (st) return st;
    *out = in[0];
    for (int i = 2; i < out->ndim; i++) out->dims[i] = 1;
    return CN_OK;
}

/* in[3] of a shape's spatial axes, right-aligned, leading ones. */
static void spatial3(const cn_shape *s, int64_t dims[3]) {
    const int rank = s->ndim - 2;
    for (int ax = 0; ax < 3; ax++) dims[ax] = ax < 3 - rank ? 1 : s->dims[2 + ax - (3 - rank)];
}

static cn_pool_geom global_max_geometry(const cn_shape *in) {
    cn_pool_geom geo;
    memset(&geo, 0, sizeof geo);
    spatial3(in, geo.in);
    for (int ax = 0; ax < 3; ax++) {
        geo.kernel[ax] = geo.stride[ax] = geo.in[ax];
        geo.out[ax] = geo.dilation[ax] = 1;
    }
    return geo;
}

static cn_status global_max_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    const cn_shape *in = graph_in_shape(g, n, 0);
    const cn_pool_geom geo = global_max_geometry(in);
    cn_maxpool_forward(&geo, planes_of(in), graph_in(g, n, 0), n->out, mode == CN_TRAIN ? n->scratch : NULL);
    return CN_OK;
}

static const int64_t ones3[3] = {1, 1, 1};

static cn_status global_avg_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const cn_shape *in = graph_in_shape(g, n, 0);
    int64_t in3[3];
    spatial3(in, in3);
    cn_adaptive_avgpool_forward(in3, ones3, planes_of(in), graph_in(g, n, 0), n->out);
    return CN_OK;
}

static void global_avg_backward(cn_graph *g, cn_node *n) {
    cn_real *dx = graph_in_grad(g, n, 0);
    if (!dx) return;
    const cn_shape *in = graph_in_shape(g, n, 0);
    int64_t in3[3];
    spatial3(in, in3);
    cn_adaptive_avgpool_backward(in3, ones3, planes_of(in), graph_out_grad(g, n), dx);
}

static const cn_op_def op_global_max = {.name = "GlobalMaxPool", .prefix = "globalmaxpool", .shape = global_shape,
                                        .scratch_bytes = argmax_scratch_bytes, .forward = global_max_forward,
                                        .backward = maxpool_backward,
                                        .backward_reads = CN_READS_NOTHING, .sets_fresh_grads = true};
static const cn_op_def op_global_avg = {.name = "GlobalAveragePool", .prefix = "globalavgpool", .shape = global_shape,
                                        .forward = global_avg_forward, .backward = global_avg_backward,
                                        .backward_reads = CN_READS_NOTHING};

int cn_global_pool(cn_graph *g, const char *name, int x, cn_pool_kind kind) {
    if (kind != CN_POOL_MAX && kind != CN_POOL_AVG) {
        cn_error(CN_ERR_INVALID, "%s: pooling kind %d is neither CN_POOL_MAX nor CN_POOL_AVG",
                 name && name[0] ? name : "global_pool", (int)kind);
        return -1;
    }
    return graph_add_node(g, kind == CN_POOL_MAX ? &op_global_max : &op_global_avg, name, &x, 1, NULL, 0);
}

/* ---- adaptive average pooling */
static cn_status adaptive_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    const adaptive_attr *a = n->attr;
    cn_status st = check_pool_input(n, &in[0], 0);
    if (st) return st;
    for (int i = 0; i < in[0].ndim - 2; i++)
        if (a->out_size[i] < 1) {
            char b[64];
            return cn_error(CN_ERR_INVALID, "%s: output size %d on axis %d must be >= 1 (input %s)", n->name,
                            a->out_size[i], i, cn_shape_str(&in[0], b, sizeof b));
        }
    *out = in[0];
    for (int i = 2; i < out->ndim; i++) out->dims[i] = a->out_size[i - 2];
    return CN_OK;
}

static cn_status adaptive_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    const cn_shape *in = graph_in_shape(g, n, 0);
    int64_t in3[3], out3[3];
    spatial3(in, in3);
    spatial3(&n->shape, out3);
    cn_adaptive_avgpool_forward(in3, out3, planes_of(in), graph_in(g, n, 0), n->out);
    return CN_OK;
}

static void adaptive_backward(cn_graph *g, cn_node *n) {
    cn_real *dx = graph_in_grad(g, n, 0);
    if (!dx) return;
    const cn_shape *in = graph_in_shape(g, n, 0);
    int64_t in3[3], out3[3];
    spatial3(in, in3);
    spatial3(&n->shape, out3);
    cn_adaptive_avgpool_backward(in3, out3, planes_of(in), graph_out_grad(g, n), dx);
}

static int adaptive_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    int k = 0;
    attr_ints(out, &k, "output_size", ((const adaptive_attr *)n->attr)->out_size, graph_in_shape(g, n, 0)->ndim - 2,
              NULL, 0);
    return k;
}

static const cn_op_def op_adaptive_avg = {.name = "AdaptiveAvgPool", .prefix = "adaptivepool", .shape = adaptive_shape,
                                          .forward = adaptive_forward, .backward = adaptive_backward,
                                          .attrs = adaptive_attrs,
                                          .backward_reads = CN_READS_NOTHING};

/* out_size holds one entry per spatial axis of x (1 to 3); x's rank says how many are read. */
int cn_adaptive_avgpool(cn_graph *g, const char *name, int x, const int *out_size) {
    if (!out_size) {
        cn_error(CN_ERR_INVALID, "%s: out_size is NULL", name && name[0] ? name : "adaptive_avgpool");
        return -1;
    }
    adaptive_attr a;
    memset(&a, 0, sizeof a);
    if (g && x >= 0 && x < cn_graph_node_count(g)) {
        cn_shape s = cn_node_shape(g, x);
        for (int i = 0; i < s.ndim - 2 && i < CN_MAX_SPATIAL; i++) a.out_size[i] = out_size[i];
    }
    return graph_add_node(g, &op_adaptive_avg, name, &x, 1, &a, sizeof a);
}
