/* load.c — rebuild the model a checkpoint was trained with, from its metadata, and load its weights. */
#include "convnet.h"
#include "internal.h"
#include "io/safetensors.h"
#include <stdio.h>

cn_graph *cn_model_load(const char *path, int64_t batch, int *input, int *logits, cn_train_state *state) {
    if (!path || batch < 1) {
        cn_error(CN_ERR_INVALID, "model load: need a checkpoint path and a batch size >= 1");
        return NULL;
    }
    /* The metadata names the model, its input shape and its classes: read those first to build the graph,
     * then let the checkpoint loader check and copy every tensor. */
    st_file f;
    if (st_read(path, &f) != CN_OK) return NULL;
    char model[CN_NAME_MAX] = "", shape_text[64] = "";
    const char *m = st_metadata(&f, "model"), *s = st_metadata(&f, "input_shape"), *names = st_metadata(&f, "class_names");
    const char *folded_text = st_metadata(&f, "batchnorm_folded");
    bool folded = folded_text && strcmp(folded_text, "1") == 0;
    if (m) snprintf(model, sizeof model, "%s", m);
    if (s) snprintf(shape_text, sizeof shape_text, "%s", s);
    int classes = -1;
    if (names) {
        json_value *list = json_parse(names, strlen(names));
        if (list && list->type == JSON_ARRAY) classes = list->count;
        json_free(list);
    }
    st_free(&f);
    if (!model[0] || !shape_text[0] || classes < 1) {
        cn_error(CN_ERR_FORMAT, "checkpoint %s: does not say which model it holds (metadata model, input_shape, class_names)",
                 path);
        return NULL;
    }
    long long c, h, w;
    if (sscanf(shape_text, "%lldx%lldx%lld", &c, &h, &w) != 3 || c < 1 || h < 1 || w < 1) {
        cn_error(CN_ERR_FORMAT, "checkpoint %s: metadata 'input_shape' = \"%s\" is not CxHxW", path, shape_text);
        return NULL;
    }
    cn_graph *g = cn_graph_create();
    if (!g) return NULL;
    int x = cn_input(g, "input", cn_shape4(batch, c, h, w));
    int out = x >= 0 ? cn_model_build(g, model, x, classes) : -1;
    if (out >= 0 && folded) { /* the weights are those of the folded copy */
        int *map = cn_malloc(sizeof(int) * (size_t)cn_graph_node_count(g));
        cn_graph *f2 = map ? cn_graph_fold_batchnorm(g, map, NULL) : NULL;
        cn_graph_free(g);
        if (f2) x = map[x], out = map[out];
        cn_free(map);
        if (!f2) return NULL;
        g = f2;
    }
    cn_train_state tmp = {0};
    if (out < 0 || cn_graph_mark_output(g, out) != CN_OK || cn_checkpoint_load(path, g, NULL, state ? state : &tmp) != CN_OK) {
        cn_graph_free(g);
        return NULL;
    }
    cn_train_state_free(&tmp);
    if (input) *input = x;
    if (logits) *logits = out;
    return g;
}
