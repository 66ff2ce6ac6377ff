/* viz.c — pictures of what a network learned: the weights of a conv layer and the channels of a layer's
 * output, as grids of tiles, each tile (or each filter) scaled to its own min..max. */
#include "internal.h"
#include <stdio.h>

#define VIZ_AUTO_SIDE 48    /* automatic scale: tiles of about this many pixels a side */
#define VIZ_BORDER 1.0f     /* the border colour (white) */

/* Stretch n values to [0, 1] by their own min..max (all 0 when constant). */
static void stretch(float *v, int64_t n) {
    float lo = v[0], hi = v[0];
    for (int64_t i = 1; i < n; i++) {
        if (v[i] < lo) lo = v[i];
        if (v[i] > hi) hi = v[i];
    }
    double range = (double)hi - lo;
    for (int64_t i = 0; i < n; i++) v[i] = range > 0 ? (float)((v[i] - (double)lo) / range) : 0.0f;
}

static int auto_scale(int th, int tw) {
    int side = th > tw ? th : tw;
    int s = (VIZ_AUTO_SIDE + side - 1) / side;
    return s < 1 ? 1 : s;
}

/* Lay out n_tiles tiles (channels x th x tw each, values in [0, 1], consecutive in `tiles`) in a grid of
 * grid_cols columns, each enlarged `scale` times, with a 1-pixel border around every tile. */
static cn_status make_grid(const float *tiles, int n_tiles, int grid_cols, int channels, int th, int tw, int scale,
                           cn_image *out) {
    if (scale == 0) scale = auto_scale(th, tw);
    if (scale < 1 || scale > 1024) return cn_error(CN_ERR_INVALID, "viz: scale %d is not in 1..1024", scale);
    int grid_rows = (n_tiles + grid_cols - 1) / grid_cols;
    int64_t H = (int64_t)grid_rows * ((int64_t)th * scale + 1) + 1;
    int64_t W = (int64_t)grid_cols * ((int64_t)tw * scale + 1) + 1;
    if (H > (1 << 16) || W > (1 << 16))
        return cn_error(CN_ERR_INVALID, "viz: a picture of %lldx%lld pixels is too large (use a smaller scale)",
                        (long long)H, (long long)W);
    cn_image img;
    cn_status st = cn_image_alloc(&img, channels, (int)H, (int)W);
    if (st) return st;
    size_t plane = (size_t)H * (size_t)W, tile = (size_t)th * (size_t)tw;
    for (size_t i = 0; i < plane * (size_t)channels; i++) img.data[i] = VIZ_BORDER;
    for (int t = 0; t < n_tiles; t++) {
        int64_t y0 = (int64_t)(t / grid_cols) * ((int64_t)th * scale + 1) + 1;
        int64_t x0 = (int64_t)(t % grid_cols) * ((int64_t)tw * scale + 1) + 1;
        for (int c = 0; c < channels; c++) {
            const float *src = tiles + ((size_t)t * (size_t)channels + (size_t)c) * tile;
            float *dst = img.data + (size_t)c * plane;
            for (int64_t y = 0; y < (int64_t)th * scale; y++)
                for (int64_t x = 0; x < (int64_t)tw * scale; x++)
                    dst[(size_t)(y0 + y) * (size_t)W + (size_t)(x0 + x)] = src[(y / scale) * tw + x / scale];
        }
    }
    *out = img;
    return CN_OK;
}

static int grid_columns(int n) {
    int c = (int)ceil(sqrt((double)n));
    while (c * c < n) c++;
    return c < 1 ? 1 : c;
}

cn_status cn_viz_filters(const cn_graph *g, int conv_node, int scale, cn_image *out) {
    if (!g || !out) return cn_error(CN_ERR_INVALID, "cn_viz_filters: NULL argument");
    out->data = NULL;
    int n_nodes = cn_graph_node_count(g);
    if (conv_node < 0) {
        for (int i = 0; i < n_nodes && conv_node < 0; i++)
            if (strcmp(cn_node_op(g, i), "Conv") == 0) conv_node = i;
        if (conv_node < 0) return cn_error(CN_ERR_INVALID, "viz filters: the model has no convolution layer");
    }
    if (conv_node >= n_nodes) return cn_error(CN_ERR_INVALID, "viz filters: no node %d", conv_node);
    const char *name = cn_node_name(g, conv_node);
    if (strcmp(cn_node_op(g, conv_node), "Conv") != 0)
        return cn_error(CN_ERR_INVALID, "viz filters: %s is a %s layer, not a convolution", name,
                        cn_node_op(g, conv_node));
    char pname[CN_NAME_MAX + 16];
    snprintf(pname, sizeof pname, "%s.weight", name);
    int pi = cn_param_find(g, pname);
    if (pi < 0) return cn_error(CN_ERR_INVALID, "viz filters: %s has no weight", name);
    const cn_tensor *w = cn_param_get(g, pi).value;
    const cn_shape *s = &w->shape;
    if (s->ndim != 3 && s->ndim != 4)
        return cn_error(CN_ERR_UNSUPPORTED, "viz filters: %s is a %dD convolution; only 1D and 2D filters are drawn",
                        name, s->ndim - 2);
    int n_filters = (int)s->dims[0], cin = (int)s->dims[1];
    int th = s->ndim == 4 ? (int)s->dims[2] : 1, tw = (int)s->dims[s->ndim - 1];
    int64_t per_filter = (int64_t)cin * th * tw;
    float *tiles = cn_malloc(sizeof(float) * (size_t)(n_filters * per_filter));
    if (!tiles) return CN_ERR_NOMEM;
    for (int64_t i = 0; i < n_filters * per_filter; i++) tiles[i] = (float)w->data[i];
    for (int o = 0; o < n_filters; o++) stretch(tiles + o * per_filter, per_filter);  /* per filter */
    cn_status st;
    if (cin == 1 || cin == 3)  /* one tile per filter, grey or colour (weight channels are R, G, B) */
        st = make_grid(tiles, n_filters, grid_columns(n_filters), cin, th, tw, scale, out);
    else                       /* one row per filter, one grey tile per input channel */
        st = make_grid(tiles, n_filters * cin, cin, 1, th, tw, scale, out);
    cn_free(tiles);
    return st;
}

cn_status cn_viz_activations(const cn_graph *g, int node, int64_t sample, int scale, cn_image *out) {
    if (!g || !out) return cn_error(CN_ERR_INVALID, "cn_viz_activations: NULL argument");
    out->data = NULL;
    if (node < 0 || node >= cn_graph_node_count(g))
        return cn_error(CN_ERR_INVALID, "viz activations: no node %d", node);
    const char *name = cn_node_name(g, node);
    cn_shape s = cn_node_shape(g, node);
    if (s.ndim < 2 || s.ndim > 4)
        return cn_error(CN_ERR_UNSUPPORTED, "viz activations: %s has a %d-dimensional output; only (N,F), (N,C,W) "
                        "and (N,C,H,W) are drawn", name, s.ndim);
    if (sample < 0 || sample >= s.dims[0])
        return cn_error(CN_ERR_INVALID, "viz activations: sample %lld is not in the batch of %lld", (long long)sample,
                        (long long)s.dims[0]);
    const cn_real *y = cn_node_output(g, node);
    if (!y)
        return cn_error(CN_ERR_INVALID, "viz activations: the output of %s was not kept (mark it as an output "
                        "before the forward)", name);
    int channels = s.ndim == 2 ? 1 : (int)s.dims[1];
    int th = s.ndim == 4 ? (int)s.dims[2] : 1, tw = (int)s.dims[s.ndim - 1];
    int64_t per = (int64_t)th * tw, count = (int64_t)channels * per;
    float *tiles = cn_malloc(sizeof(float) * (size_t)count);
    if (!tiles) return CN_ERR_NOMEM;
    for (int64_t i = 0; i < count; i++) tiles[i] = (float)y[sample * count + i];
    for (int c = 0; c < channels; c++) stretch(tiles + c * per, per);
    cn_status st = make_grid(tiles, channels, grid_columns(channels), 1, th, tw, scale, out);
    cn_free(tiles);
    return st;
}
