/* attrs.c — reading a node back: its inputs and its attributes (each op lists its own through the attrs
 * entry of its op table). Used by the summary, by graph rewrites and by exporters. */
#include "internal.h"

static bool node_exists(const cn_graph *g, int node) {
    if (!g || node < 0 || node >= cn_graph_node_count(g)) {
        cn_error(CN_ERR_INVALID, "node %d does not exist", node);
        return false;
    }
    return true;
}

int cn_node_inputs(const cn_graph *g, int node, int *ids, int max) {
    if (!node_exists(g, node)) return -1;
    const cn_node *n = graph_node(g, node);
    for (int i = 0; ids && i < n->n_inputs && i < max; i++) ids[i] = n->inputs[i];
    return n->n_inputs;
}

int cn_node_attrs(const cn_graph *g, int node, cn_attr *out, int max) {
    if (!node_exists(g, node)) return -1;
    const cn_node *n = graph_node(g, node);
    if (!n->op->attrs) return 0;
    cn_attr all[CN_MAX_ATTRS];
    int count = n->op->attrs(g, n, all);
    for (int i = 0; out && i < count && i < max; i++) out[i] = all[i];
    return count;
}

const cn_attr *cn_attr_find(const cn_attr *attrs, int count, const char *name) {
    for (int i = 0; attrs && name && i < count; i++)
        if (strcmp(attrs[i].name, name) == 0) return &attrs[i];
    return NULL;
}
