/* conv.c — convolution (cross-correlation) 1D/2D/3D, chosen by the input's rank, with per-axis kernel,
 * stride, dilation and asymmetric padding, groups, optional bias and four padding modes. The arithmetic is in
 * kernels/conv.h (formulas there); this file checks attributes, infers shapes and makes the parameters.
 *   x (N, C_in, S...)  w (C_out, C_in/groups, K...)  b (C_out)  ->  y (N, C_out, O...)
 *   O_i = (S_i + pad_begin_i + pad_end_i - dilation_i*(K_i-1) - 1) / stride_i + 1 */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    cn_conv_attr a;
    int required_spatial; /* 0: any of 1D/2D/3D; 2 for cn_conv2d */
    int logged;           /* the algorithm choice was logged (CN_LOG_ALGO) */
} conv_node_attr;

/* CN_LOG_ALGO=1: each conv node prints, on its first forward pass, which algorithm ran and why. */
static void log_algorithm(cn_node *n, const cn_conv_geom *p) {
    conv_node_attr *na = n->attr;
    if (na->logged) return;
    na->logged = 1;
    const char *env = getenv("CN_LOG_ALGO");
    if (!env || !*env || strcmp(env, "0") == 0) return;
    const char *why = "";
    const char *algo = cn_conv_forward == cn_conv_forward_ref ? "ref" : cn_conv_algorithm(p, &why);
    fprintf(stderr, "convnet: %s: %s (%s; %d threads, %s kernels)\n", n->name, algo,
            cn_conv_forward == cn_conv_forward_ref ? "the reference kernels are selected" : why, p->threads,
            cn_kernels_isa());
}

static const char *pad_mode_name(cn_pad_mode m) {
    switch (m) {
    case CN_PAD_ZEROS: return "zeros";
    case CN_PAD_REFLECT: return "reflect";
    case CN_PAD_REPLICATE: return "replicate";
    case CN_PAD_CIRCULAR: return "circular";
    }
    return "?";
}

/* Attribute checks that need no shapes. */
static cn_status check_attrs(const cn_node *n, const cn_conv_attr *a, int nd) {
    if (a->out_channels < 1)
        return cn_error(CN_ERR_INVALID, "%s: out_channels %d must be >= 1", n->name, a->out_channels);
    if (a->groups < 1) return cn_error(CN_ERR_INVALID, "%s: groups %d must be >= 1", n->name, a->groups);
    if ((unsigned)a->pad_mode > CN_PAD_CIRCULAR)
        return cn_error(CN_ERR_INVALID, "%s: pad_mode %d is not zeros, reflect, replicate or circular", n->name,
                        (int)a->pad_mode);
    for (int i = 0; i < nd; i++) {
        if (a->kernel[i] < 1)
            return cn_error(CN_ERR_INVALID, "%s: kernel %d on axis %d must be >= 1", n->name, a->kernel[i], i);
        if (a->stride[i] < 1)
            return cn_error(CN_ERR_INVALID, "%s: stride %d on axis %d must be >= 1", n->name, a->stride[i], i);
        if (a->dilation[i] < 1)
            return cn_error(CN_ERR_INVALID, "%s: dilation %d on axis %d must be >= 1", n->name, a->dilation[i], i);
        if (a->pad_begin[i] < 0 || a->pad_end[i] < 0)
            return cn_error(CN_ERR_INVALID, "%s: padding %d+%d on axis %d must not be negative", n->name,
                            a->pad_begin[i], a->pad_end[i], i);
    }
    if (a->out_channels % a->groups)
        return cn_error(CN_ERR_INVALID, "%s: out_channels %d is not divisible by groups %d", n->name,
                        a->out_channels, a->groups);
    return CN_OK;
}

static cn_status conv_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    const conv_node_attr *na = n->attr;
    const cn_conv_attr *a = &na->a;
    char xs[64];
    cn_shape_str(&in[0], xs, sizeof xs);
    if (in[0].ndim < 3 || in[0].ndim > 5)
        return cn_error(CN_ERR_SHAPE, "%s: input %s must be (N,C,W), (N,C,H,W) or (N,C,D,H,W)", n->name, xs);
    int nd = in[0].ndim - 2;
    if (na->required_spatial && nd != na->required_spatial)
        return cn_error(CN_ERR_SHAPE, "%s: conv2d needs an (N,C,H,W) input, got %s", n->name, xs);
    cn_status st = check_attrs(n, a, nd);
    if (st) return st;
    int64_t channels = in[0].dims[1];
    if (channels % a->groups)
        return cn_error(CN_ERR_SHAPE, "%s: input %s has %lld channels, not divisible by groups %d", n->name, xs,
                        (long long)channels, a->groups);
    if (n->n_params > 0) { /* re-inference after a batch change: the weight fixes the channels */
        int64_t expected = graph_param(g, n, 0)->shape.dims[1] * a->groups;
        if (channels != expected)
            return cn_error(CN_ERR_SHAPE, "%s: input %s has %lld channels, the layer expects %lld", n->name, xs,
                            (long long)channels, (long long)expected);
    }
    int64_t d[CN_MAX_DIMS] = {in[0].dims[0], a->out_channels};
    for (int i = 0; i < nd; i++) {
        int64_t size = in[0].dims[2 + i];
        int pb = a->pad_begin[i], pe = a->pad_end[i];
        if (a->pad_mode == CN_PAD_REFLECT && (pb >= size || pe >= size))
            return cn_error(CN_ERR_SHAPE, "%s: %s padding %d+%d on axis %d must be smaller than the input size "
                            "%lld (input %s)", n->name, pad_mode_name(a->pad_mode), pb, pe, i, (long long)size, xs);
        if (a->pad_mode == CN_PAD_CIRCULAR && (pb > size || pe > size))
            return cn_error(CN_ERR_SHAPE, "%s: %s padding %d+%d on axis %d must not exceed the input size "
                            "%lld (input %s)", n->name, pad_mode_name(a->pad_mode), pb, pe, i, (long long)size, xs);
        int64_t padded = size + pb + pe, span = (int64_t)a->dilation[i] * (a->kernel[i] - 1) + 1;
        if (padded < span)
            return cn_error(CN_ERR_SHAPE, "%s: input %s is too small on axis %d: padded size %lld (%lld+%d+%d) < "
                            "dilated kernel %lld (kernel %d, dilation %d, stride %d), the output would be empty",
                            n->name, xs, i, (long long)padded, (long long)size, pb, pe, (long long)span,
                            a->kernel[i], a->dilation[i], a->stride[i]);
        d[2 + i] = (padded - span) / a->stride[i] + 1;
    }
    *out = cn_shape_make(in[0].ndim, d);
    return CN_OK;
}

/* The node as the kernels see it: a 3D problem with unit axes in front. */
static cn_conv_geom conv_geom(const cn_graph *g, const cn_node *n) {
    const cn_conv_attr *a = &((const conv_node_attr *)n->attr)->a;
    const cn_shape *x = graph_in_shape(g, n, 0);
    int nd = x->ndim - 2, skip = 3 - nd;
    cn_conv_geom p = {.batch = x->dims[0], .in_channels = x->dims[1], .out_channels = a->out_channels,
                      .groups = a->groups, .pad_mode = a->pad_mode};
    for (int i = 0; i < 3; i++) {
        int j = i - skip; /* the attribute axis, or < 0 for a unit axis */
        p.in[i] = j < 0 ? 1 : x->dims[2 + j];
        p.out[i] = j < 0 ? 1 : n->shape.dims[2 + j];
        p.kernel[i] = j < 0 ? 1 : a->kernel[j];
        p.stride[i] = j < 0 ? 1 : a->stride[j];
        p.dilation[i] = j < 0 ? 1 : a->dilation[j];
        p.pad_begin[i] = j < 0 ? 0 : a->pad_begin[j];
    }
    return p;
}

/* weight (C_out, C_in/groups, K...), bias (C_out), both U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
 * fan_in = C_in/groups * prod(K) (PyTorch's default). */
static cn_status conv_init(cn_graph *g, cn_node *n) {
    const cn_conv_attr *a = &((const conv_node_attr *)n->attr)->a;
    const cn_shape *x = graph_in_shape(g, n, 0);
    int nd = x->ndim - 2;
    int64_t wd[CN_MAX_DIMS] = {a->out_channels, x->dims[1] / a->groups}, bd[1] = {a->out_channels};
    int64_t fan_in = wd[1];
    for (int i = 0; i < nd; i++) {
        wd[2 + i] = a->kernel[i];
        fan_in *= a->kernel[i];
    }
    cn_status st = graph_add_param(g, n, "weight", cn_shape_make(2 + nd, wd), 1);
    if (!st && a->bias) st = graph_add_param(g, n, "bias", cn_shape_make(1, bd), 1);
    if (st) return st;
    graph_init_uniform_fan_in(g, graph_param(g, n, 0), fan_in);
    if (a->bias) graph_init_uniform_fan_in(g, graph_param(g, n, 1), fan_in);
    return CN_OK;
}

/* Columns, GEMM packing space and private gradients of the im2col kernels, for every thread: shared
 * workspace, refilled by each pass. */
static size_t conv_workspace_bytes(const cn_graph *g, const cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    cn_conv_geom p = conv_geom(g, n);
    p.threads = omp_get_max_threads();
    return cn_conv_work_bytes(&p);
}

/* The geometry with as many threads as both OpenMP and the planned workspace allow (the thread count may
 * have changed since the plan was made). */
static cn_conv_geom conv_run_geom(const cn_graph *g, const cn_node *n) {
    cn_conv_geom p = conv_geom(g, n);
    p.threads = cn_conv_fit_threads(&p, n->workspace_size, omp_get_max_threads());
    return p;
}

/* Inference keeps in n->cache (made by the plan, graph/fuse.c): the fused epilogue's scale and shift
 * (recomputed by every eval pass: C_out values), then the weights as cn_conv_prepare_weights leaves them,
 * rebuilt only when the parameter generation or the layout (algorithm, kernel set) changed. */
static size_t epilogue_bytes(const cn_conv_attr *a) {
    return 2 * (((size_t)a->out_channels * sizeof(cn_real) + 63) / 64 * 64);
}

static size_t conv_cache_bytes(const cn_graph *g, const cn_node *n, cn_mode mode) {
    if (mode != CN_EVAL) return 0;
    cn_conv_geom p = conv_geom(g, n);
    p.inference = true;
    return epilogue_bytes(&((const conv_node_attr *)n->attr)->a) + cn_conv_prepared_bytes(&p);
}

/* eval, fused: y = relu?(s * (conv + bias - mean) + beta) = relu?(s * conv + shift) */
static void fill_epilogue(const cn_graph *g, const cn_node *n, const cn_real *bias, cn_conv_epilogue *e) {
    const cn_conv_attr *a = &((const conv_node_attr *)n->attr)->a;
    cn_real *scale = n->cache, *shift = (cn_real *)((char *)n->cache + epilogue_bytes(a) / 2);
    const cn_node *bn = n->fuse_bn ? graph_node(g, n->fuse_bn) : NULL;
    for (int64_t o = 0; o < a->out_channels; o++) {
        double s = 1, mean = 0, beta = 0, b = bias ? (double)bias[o] : 0;
        if (bn) batchnorm_eval_channel(g, bn, o, &s, &mean, &beta);
        scale[o] = (cn_real)s;
        shift[o] = (cn_real)(s * (b - mean) + beta);
    }
    *e = (cn_conv_epilogue){scale, shift, n->fuse_relu};
}

static cn_status conv_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    const cn_conv_attr *a = &((const conv_node_attr *)n->attr)->a;
    cn_conv_geom p = conv_run_geom(g, n);
    const cn_real *b = a->bias ? graph_param(g, n, 1)->data : NULL, *w = graph_param(g, n, 0)->data;
    cn_conv_epilogue epi;
    p.inference = mode == CN_EVAL && n->cache && cn_conv_forward == cn_conv_forward_im2col;
    log_algorithm(n, &p);
    if (mode == CN_EVAL && (n->fuse_bn || n->fuse_relu)) {
        if (!n->cache || n->cache_size < epilogue_bytes(a))
            return cn_error(CN_ERR_INVALID, "%s: fused without its cache (plan not made)", n->name);
        fill_epilogue(g, n, b, &epi);
        p.epilogue = &epi;
    }
    size_t need = p.inference ? cn_conv_prepared_bytes(&p) : 0;
    if (need && epilogue_bytes(a) + need <= n->cache_size) {
        cn_real *prepared = (cn_real *)((char *)n->cache + epilogue_bytes(a));
        int key = cn_conv_prepared_key(&p);
        uint64_t gen = graph_param_generation(g);
        if (n->cache_key != key || n->cache_gen != gen) {
            cn_conv_prepare_weights(&p, w, prepared);
            n->cache_key = key;
            n->cache_gen = gen;
        }
        p.prepared = prepared;
    }
    cn_conv_forward(&p, graph_in(g, n, 0), w, b, n->out, n->workspace);
    return CN_OK;
}

static void conv_backward(cn_graph *g, cn_node *n) {
    const cn_conv_attr *a = &((const conv_node_attr *)n->attr)->a;
    cn_conv_geom p = conv_run_geom(g, n);
    const cn_real *dy = graph_out_grad(g, n);
    cn_real *db = a->bias ? graph_param_grad(g, n, 1)->data : NULL;
    cn_conv_backward_weights(&p, graph_in(g, n, 0), dy, graph_param_grad(g, n, 0)->data, db, n->workspace);
    cn_real *dx = graph_in_grad(g, n, 0);
    p.dx_fresh = dx && graph_in_grad_fresh(g, n, 0); /* set, not added (sets_fresh_grads) */
    if (dx) cn_conv_backward_data(&p, dy, graph_param(g, n, 0)->data, dx, n->workspace);
}

/* N * C_out * prod(O) * (C_in/groups) * prod(K) */
static int64_t conv_macs(const cn_graph *g, const cn_node *n) {
    const cn_tensor *w = graph_param(g, n, 0); /* C_out x (C_in/groups) x K... */
    return cn_shape_numel(&n->shape) * (cn_tensor_numel(w) / w->shape.dims[0]);
}

static const cn_op_def op_conv;

const char *cn_conv_node_algorithm(const cn_graph *g, int node, const char **reason) {
    if (reason) *reason = "";
    if (!g || node < 0 || node >= cn_graph_node_count(g)) return "none";
    const cn_node *n = graph_node(g, node);
    if (n->op != &op_conv) return "none";
    if (cn_conv_forward == cn_conv_forward_ref) {
        if (reason) *reason = "the reference kernels are selected";
        return "ref";
    }
    cn_conv_geom p = conv_run_geom(g, n);
    /* as the last plan runs it: evaluation with prepared weights may choose differently (conv_forward) */
    p.inference = graph_eval_planned(g) && n->cache;
    return cn_conv_algorithm(&p, reason);
}

/* One value per spatial axis of the input; pads are [begins..., ends...] as ONNX has them. */
static int conv_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    const cn_conv_attr *a = &((const conv_node_attr *)n->attr)->a;
    int nd = graph_in_shape(g, n, 0)->ndim - 2, k = 0;
    attr_int(out, &k, "out_channels", a->out_channels);
    attr_ints(out, &k, "kernel_shape", a->kernel, nd, NULL, 0);
    attr_ints(out, &k, "strides", a->stride, nd, NULL, 0);
    attr_ints(out, &k, "dilations", a->dilation, nd, NULL, 0);
    attr_ints(out, &k, "pads", a->pad_begin, nd, a->pad_end, nd);
    attr_int(out, &k, "group", a->groups);
    attr_int(out, &k, "has_bias", a->bias);
    attr_string(out, &k, "pad_mode", pad_mode_name(a->pad_mode));
    return k;
}

static const cn_op_def op_conv = {.name = "Conv", .prefix = "conv", .shape = conv_shape, .init_params = conv_init,
                                  .workspace_bytes = conv_workspace_bytes, .cache_bytes = conv_cache_bytes,
                                  .fuses_relu = true, .forward = conv_forward, .backward = conv_backward,
                                  .macs = conv_macs, .attrs = conv_attrs, .backward_reads = CN_READS_INPUTS,
                                  .sets_fresh_grads = true};

cn_conv_attr cn_conv_attr_make(int out_channels, int k, int s, int p) {
    cn_conv_attr a = {.out_channels = out_channels, .groups = 1, .bias = 1, .pad_mode = CN_PAD_ZEROS};
    for (int i = 0; i < CN_MAX_SPATIAL; i++) {
        a.kernel[i] = k;
        a.stride[i] = s;
        a.dilation[i] = 1;
        a.pad_begin[i] = a.pad_end[i] = p;
    }
    return a;
}

int cn_conv(cn_graph *g, const char *name, int x, const cn_conv_attr *attr) {
    if (!attr) {
        cn_error(CN_ERR_INVALID, "%s: conv attributes are NULL", name ? name : "conv");
        return -1;
    }
    conv_node_attr na = {*attr, 0, 0};
    na.a.bias = attr->bias ? 1 : 0;
    return graph_add_node(g, &op_conv, name, &x, 1, &na, sizeof na);
}

int cn_conv2d(cn_graph *g, const char *name, int x, int out_channels, int k, int stride, int pad) {
    conv_node_attr na = {cn_conv_attr_make(out_channels, k, stride, pad), 2, 0};
    return graph_add_node(g, &op_conv, name, &x, 1, &na, sizeof na);
}
