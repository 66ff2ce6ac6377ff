/* fold_bn.c — batch norm folding for inference: a copy of the graph where each BatchNorm that directly
 * follows a convolution or a fully connected node is merged into it. In eval mode BN is an affine map per
 * channel, y = s (z - mean) + beta with s = gamma / sqrt(running_var + eps), and z = W x + b, so
 *   W'_c = s_c W_c        b'_c = s_c (b_c - mean_c) + beta_c        (b = 0 when the layer had no bias)
 * The copy is rebuilt node by node (simpler and safer than editing the graph in place): other nodes are
 * copied with their attributes and parameters, merged layers are rebuilt with a bias through the public
 * builders, from their own attributes. */
#include "internal.h"
#include <stdio.h>

static bool is_op(const cn_node *n, const char *name) { return strcmp(n->op->name, name) == 0; }

/* Which BN nodes can be merged: the input is a Conv or Gemm whose output only the BN reads and that is not
 * a marked output. bn_of[producer] = the BN id, or -1. */
static int find_foldable(const cn_graph *g, int count, int *bn_of) {
    int *readers = cn_calloc((size_t)count, sizeof(int));
    if (!readers) {
        cn_error(CN_ERR_NOMEM, "fold batch norm: out of memory");
        return -1;
    }
    for (int id = 0; id < count; id++) {
        bn_of[id] = -1;
        const cn_node *n = graph_node(g, id);
        for (int i = 0; i < n->n_inputs; i++) readers[n->inputs[i]]++;
    }
    int folded = 0;
    for (int id = 0; id < count; id++) {
        const cn_node *n = graph_node(g, id);
        if (!is_op(n, "BatchNormalization") || n->n_inputs != 1) continue;
        int p = n->inputs[0];
        const cn_node *prod = graph_node(g, p);
        if ((is_op(prod, "Conv") || is_op(prod, "Gemm")) && readers[p] == 1 && !prod->is_output) {
            bn_of[p] = id;
            folded++;
        }
    }
    cn_free(readers);
    return folded;
}

/* The conv's own attributes back into a cn_conv_attr, with a bias. */
static cn_status conv_attr_from(const cn_graph *g, int id, cn_conv_attr *c) {
    cn_attr attrs[CN_MAX_ATTRS];
    int count = cn_node_attrs(g, id, attrs, CN_MAX_ATTRS);
    const cn_attr *oc = cn_attr_find(attrs, count, "out_channels"), *k = cn_attr_find(attrs, count, "kernel_shape"),
                  *s = cn_attr_find(attrs, count, "strides"), *d = cn_attr_find(attrs, count, "dilations"),
                  *p = cn_attr_find(attrs, count, "pads"), *grp = cn_attr_find(attrs, count, "group"),
                  *mode = cn_attr_find(attrs, count, "pad_mode");
    if (!oc || !k || !s || !d || !p || !grp || !mode || p->count != 2 * k->count)
        return cn_error(CN_ERR_INVALID, "%s: convolution attributes are incomplete", cn_node_name(g, id));
    *c = cn_conv_attr_make((int)oc->ints[0], 1, 1, 0);
    int nd = k->count;
    for (int i = 0; i < nd && i < CN_MAX_SPATIAL; i++) {
        c->kernel[i] = (int)k->ints[i];
        c->stride[i] = (int)s->ints[i];
        c->dilation[i] = (int)d->ints[i];
        c->pad_begin[i] = (int)p->ints[i];
        c->pad_end[i] = (int)p->ints[nd + i];
    }
    c->groups = (int)grp->ints[0];
    c->bias = 1;
    static const char *modes[] = {"zeros", "reflect", "replicate", "circular"};
    for (int i = 0; i < 4; i++)
        if (strcmp(mode->s, modes[i]) == 0) c->pad_mode = (cn_pad_mode)i;
    return CN_OK;
}

/* Copy every parameter of new node `to` in g2 from the parameter of the same name in g. */
static cn_status copy_params(const cn_graph *g, cn_graph *g2, const cn_node *to) {
    for (int k = 0; k < to->n_params; k++) {
        cn_param dst = cn_param_get(g2, to->params[k]);
        int src_index = cn_param_find(g, dst.name);
        if (src_index < 0) continue; /* a bias the folding adds: set by fold_into */
        cn_param src = cn_param_get(g, src_index);
        if (!cn_shape_equal(&src.value->shape, &dst.value->shape)) {
            char a[64], b[64];
            return cn_error(CN_ERR_SHAPE, "fold batch norm: %s is %s in the copy but %s in the model", dst.name,
                            cn_shape_str(&dst.value->shape, a, sizeof a), cn_shape_str(&src.value->shape, b, sizeof b));
        }
        memcpy(dst.value->data, src.value->data, (size_t)cn_tensor_numel(src.value) * sizeof(cn_real));
    }
    return CN_OK;
}

static const cn_tensor *param_of(const cn_graph *g, const cn_node *n, const char *suffix) {
    char name[2 * CN_NAME_MAX + 32];
    snprintf(name, sizeof name, "%s.%s", n->name, suffix);
    int i = cn_param_find(g, name);
    return i >= 0 ? cn_param_get(g, i).value : NULL;
}

/* W'_c = s_c W_c, b'_c = s_c (b_c - mean_c) + beta_c with s_c = gamma_c / sqrt(var_c + eps), in double. */
static cn_status fold_into(const cn_graph *g, const cn_node *layer, const cn_node *bn, cn_graph *g2, int new_id) {
    const cn_node *merged = graph_node(g2, new_id);
    cn_tensor *w = graph_param(g2, merged, 0), *b = graph_param(g2, merged, 1);
    const cn_tensor *old_bias = param_of(g, layer, "bias"), *gamma = param_of(g, bn, "weight"),
                    *beta = param_of(g, bn, "bias"), *mean = param_of(g, bn, "running_mean"),
                    *var = param_of(g, bn, "running_var");
    cn_attr attrs[CN_MAX_ATTRS];
    const cn_attr *eps = cn_attr_find(attrs, bn->op->attrs ? bn->op->attrs(g, bn, attrs) : 0, "epsilon");
    int64_t channels = w->shape.dims[0], per_channel = cn_tensor_numel(w) / channels;
    if (!gamma || !beta || !mean || !var || !eps || cn_tensor_numel(var) != channels || cn_tensor_numel(b) != channels)
        return cn_error(CN_ERR_SHAPE, "fold batch norm: %s does not match the %lld channels of %s", bn->name,
                        (long long)channels, layer->name);
    for (int64_t c = 0; c < channels; c++) {
        double s = (double)gamma->data[c] / sqrt((double)var->data[c] + eps->f);
        for (int64_t i = 0; i < per_channel; i++) w->data[c * per_channel + i] = (cn_real)(s * (double)w->data[c * per_channel + i]);
        double bias = old_bias ? (double)old_bias->data[c] : 0.0;
        b->data[c] = (cn_real)(s * (bias - (double)mean->data[c]) + (double)beta->data[c]);
    }
    return CN_OK;
}

/* Add node `id` of g to g2 (inputs already mapped into `in`); merged layers get a bias. */
static int copy_node(const cn_graph *g, int id, cn_graph *g2, const int *in, bool merged) {
    const cn_node *n = graph_node(g, id);
    if (n->n_inputs == 0) return cn_input(g2, n->name, n->shape);
    if (merged && is_op(n, "Conv")) {
        cn_conv_attr c;
        if (conv_attr_from(g, id, &c) != CN_OK) return -1;
        return cn_conv(g2, n->name, in[0], &c);
    }
    if (merged) return cn_linear(g2, n->name, in[0], (int)n->shape.dims[1], 1);
    return graph_add_node(g2, n->op, n->name, in, n->n_inputs, n->attr, n->attr_size);
}

cn_graph *cn_graph_fold_batchnorm(const cn_graph *g, int *node_map, int *folded) {
    if (!g) {
        cn_error(CN_ERR_INVALID, "fold batch norm: graph is NULL");
        return NULL;
    }
    int count = cn_graph_node_count(g);
    int *bn_of = cn_calloc((size_t)count + 1, sizeof(int)), *map = cn_calloc((size_t)count + 1, sizeof(int));
    int *in = NULL;
    cn_graph *g2 = cn_graph_create();
    int n_folded = bn_of && map ? find_foldable(g, count, bn_of) : (cn_error(CN_ERR_NOMEM, "out of memory"), -1);
    cn_status st = n_folded < 0 || !g2 ? CN_ERR_NOMEM : CN_OK;
    for (int id = 0; id < count && !st; id++) {
        const cn_node *n = graph_node(g, id);
        if (is_op(n, "BatchNormalization") && n->n_inputs == 1 && bn_of[n->inputs[0]] == id) {
            map[id] = map[n->inputs[0]]; /* readers of the BN now read the merged layer */
        } else {
            cn_free(in);
            in = cn_calloc((size_t)n->n_inputs + 1, sizeof(int));
            if (!in) {
                st = cn_error(CN_ERR_NOMEM, "fold batch norm: out of memory");
                break;
            }
            for (int i = 0; i < n->n_inputs; i++) in[i] = map[n->inputs[i]];
            map[id] = copy_node(g, id, g2, in, bn_of[id] >= 0);
            if (map[id] < 0) {
                st = CN_ERR_INVALID;
                break;
            }
            st = copy_params(g, g2, graph_node(g2, map[id]));
            if (!st && bn_of[id] >= 0) st = fold_into(g, n, graph_node(g, bn_of[id]), g2, map[id]);
        }
        if (!st && n->is_output) st = cn_graph_mark_output(g2, map[id]);
    }
    cn_free(in);
    cn_free(bn_of);
    if (st) {
        cn_graph_free(g2);
        cn_free(map);
        return NULL;
    }
    if (node_map) memcpy(node_map, map, (size_t)count * sizeof(int));
    if (folded) *folded = n_folded;
    cn_free(map);
    cn_graph_params_changed(g2); /* weights written after the nodes were made */
    return g2;
}
