/* struct.c — graph structure: residual add and channel concatenation, so any DAG can be built.
 *   add:    y = a + b (identical shapes)            da += dy, db += dy (the same buffer twice when a == b; a fresh
 *                                                   gradient is set to dy instead)
 *   concat: y = [x_0, x_1, ...] along axis 1        dx_k += the slice of dy that x_k filled
 * Plain loops: there is no arithmetic worth a kernel. */
#include "internal.h"
#include "kernels/tensor.h"
#include <omp.h>
#include <stdio.h>

/* ---- add */
static cn_status add_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    if (!cn_shape_equal(&in[0], &in[1])) {
        char a[64], b[64];
        return cn_error(CN_ERR_SHAPE, "%s: cannot add %s and %s, the shapes must be equal", n->name,
                        cn_shape_str(&in[0], a, sizeof a), cn_shape_str(&in[1], b, sizeof b));
    }
    *out = in[0];
    return CN_OK;
}

/* Eval-mode fusion (graph/fuse.c): with fuse_relu, y = relu(a + b) and the ReLU after it is pass-through. */
static cn_status add_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    const cn_real *a = graph_in(g, n, 0), *b = graph_in(g, n, 1);
    cn_real *y = n->out;
    int64_t count = cn_shape_numel(&n->shape);
    if (mode != CN_TRAIN && n->fuse_relu) {
#pragma omp parallel for schedule(static) if (count >= (1 << 16) && !omp_in_parallel())
        for (int64_t i = 0; i < count; i++) {
            cn_real v = a[i] + b[i];
            y[i] = v > 0 ? v : 0;
        }
        return CN_OK;
    }
#pragma omp parallel for schedule(static) if (count >= (1 << 16) && !omp_in_parallel())
    for (int64_t i = 0; i < count; i++) y[i] = a[i] + b[i];
    return CN_OK;
}

static void add_recompute(cn_graph *g, cn_node *n) { add_forward(g, n, CN_TRAIN); }

/* A fresh gradient (sets_fresh_grads) is a copy of dy; the others add it */
static void add_backward(cn_graph *g, cn_node *n) {
    const cn_real *dy = graph_out_grad(g, n);
    int64_t count = cn_shape_numel(&n->shape);
    for (int k = 0; k < 2; k++) {
        cn_real *dx = graph_in_grad(g, n, k);
        if (dx && graph_in_grad_fresh(g, n, k)) cn_fill_par(dx, dy, count);
        else if (dx) {
#pragma omp parallel for schedule(static) if (count >= (1 << 16) && !omp_in_parallel())
            for (int64_t i = 0; i < count; i++) dx[i] += dy[i];
        }
    }
}

static const cn_op_def op_add = {.name = "Add", .prefix = "add", .shape = add_shape, .forward = add_forward,
                                 .backward = add_backward, .fuses_relu = true, .sets_fresh_grads = true,
                                 .backward_reads = CN_READS_NOTHING, .inplace = true,
                                 .recompute = add_recompute};

int cn_add(cn_graph *g, const char *name, int a, int b) {
    int in[2] = {a, b};
    return graph_add_node(g, &op_add, name, in, 2, NULL, 0);
}

/* ---- concat along one axis (1, the channels, unless made by cn_concat_axis): every input has the same
 * shape off that axis. Rows: the axes before it (outer), each input's block of dims[axis] * inner values. */
typedef struct {
    int axis;
} concat_attr;

static int concat_axis_of(const cn_node *n) { return n->attr ? ((const concat_attr *)n->attr)->axis : 1; }

static cn_status concat_shape(const cn_graph *g, const cn_node *n, const cn_shape *in, cn_shape *out) {
    CN_UNUSED(g);
    char a[64], b[64];
    int axis = concat_axis_of(n);
    if (axis < 0 || axis >= in[0].ndim)
        return axis == 1 ? cn_error(CN_ERR_SHAPE, "%s: input 0 %s has no channel axis to concatenate along", n->name,
                                    cn_shape_str(&in[0], a, sizeof a))
                         : cn_error(CN_ERR_SHAPE, "%s: input 0 %s has no axis %d to concatenate along", n->name,
                                    cn_shape_str(&in[0], a, sizeof a), axis);
    int64_t total = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        bool fits = in[k].ndim == in[0].ndim;
        for (int d = 0; fits && d < in[0].ndim; d++)
            if (d != axis && in[k].dims[d] != in[0].dims[d]) fits = false;
        if (!fits)
            return cn_error(CN_ERR_SHAPE, "%s: input %d %s does not fit input 0 %s: all axes but %d must be equal",
                            n->name, k, cn_shape_str(&in[k], a, sizeof a), cn_shape_str(&in[0], b, sizeof b), axis);
        total += in[k].dims[axis];
    }
    *out = in[0];
    out->dims[axis] = total;
    return CN_OK;
}

static void concat_geometry(const cn_node *n, int64_t *outer, int64_t *inner) {
    int axis = concat_axis_of(n);
    *outer = *inner = 1;
    for (int d = 0; d < axis; d++) *outer *= n->shape.dims[d];
    for (int d = axis + 1; d < n->shape.ndim; d++) *inner *= n->shape.dims[d];
}

static cn_status concat_forward(cn_graph *g, cn_node *n, cn_mode mode) {
    CN_UNUSED(mode);
    int64_t outer, inner, axis = concat_axis_of(n);
    concat_geometry(n, &outer, &inner);
    int64_t row = n->shape.dims[axis] * inner, offset = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        const cn_real *x = graph_in(g, n, k);
        int64_t block = graph_in_shape(g, n, k)->dims[axis] * inner;
        for (int64_t i = 0; i < outer; i++)
            memcpy(n->out + i * row + offset, x + i * block, (size_t)block * sizeof(cn_real));
        offset += block;
    }
    return CN_OK;
}

static void concat_backward(cn_graph *g, cn_node *n) {
    const cn_real *dy = graph_out_grad(g, n);
    int64_t outer, inner, axis = concat_axis_of(n);
    concat_geometry(n, &outer, &inner);
    int64_t row = n->shape.dims[axis] * inner, offset = 0;
    for (int k = 0; k < n->n_inputs; k++) {
        cn_real *dx = graph_in_grad(g, n, k);
        int64_t block = graph_in_shape(g, n, k)->dims[axis] * inner;
        if (dx)
            for (int64_t i = 0; i < outer; i++)
                for (int64_t j = 0; j < block; j++) dx[i * block + j] += dy[i * row + offset + j];
        offset += block;
    }
}

static int concat_attrs(const cn_graph *g, const cn_node *n, cn_attr *out) {
    CN_UNUSED(g);
    int k = 0;
    attr_int(out, &k, "axis", concat_axis_of(n));
    return k;
}

static const cn_op_def op_concat = {.name = "Concat", .prefix = "concat", .shape = concat_shape,
                                    .forward = concat_forward, .backward = concat_backward, .attrs = concat_attrs,
                                    .backward_reads = CN_READS_NOTHING};

int cn_concat_axis(cn_graph *g, const char *name, const int *xs, int count, int axis) {
    if (count < 2 || !xs) {
        cn_error(CN_ERR_INVALID, "%s: concat needs at least 2 inputs, got %d", name && name[0] ? name : "concat",
                 xs ? count : 0);
        return -1;
    }
    if (!g || xs[0] < 0 || xs[0] >= cn_graph_node_count(g)) {
        cn_error(CN_ERR_INVALID, "%s: input node %d does not exist", name && name[0] ? name : "concat", xs[0]);
        return -1;
    }
    int r = cn_node_shape(g, xs[0]).ndim;
    concat_attr a = {axis < 0 ? axis + r : axis};
    return graph_add_node(g, &op_concat, name, xs, count, &a, sizeof a);
}

int cn_concat(cn_graph *g, const char *name, const int *xs, int count) {
    return cn_concat_axis(g, name, xs, count, 1);
}
