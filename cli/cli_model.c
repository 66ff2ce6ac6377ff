/* cli_model.c — the MODEL argument of a command, made into a graph in one place: a zoo name (built for the
 * requested input and classes) or a checkpoint (.safetensors: the model it was trained with, and its
 * weights), a model file (.txt) or an ONNX model (.onnx, imported with its weights; see cli_model_open). */
#include "cli.h"
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

bool cli_parse_shape(const char *s, int64_t out[3]) {
    long long c, h, w;
    int used = 0;
    if (!s || sscanf(s, "%lldx%lldx%lld%n", &c, &h, &w, &used) != 3 || s[used] || c < 1 || h < 1 || w < 1 ||
        c > 4096 || h > 65536 || w > 65536)
        return false;
    out[0] = c, out[1] = h, out[2] = w;
    return true;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int zoo_index(const char *name) {
    for (int i = 0; i < cn_model_count(); i++)
        if (strcmp(cn_model_name(i), name) == 0) return i;
    return -1;
}

/* A zoo model's or model file's natural input (cn_model_input_size), else ImageNet's 3x224x224.
 * Classes: 1000 for ImageNet-sized inputs, 10 for small ones. */
static void model_defaults(const char *name, int64_t shape[3], int *classes) {
    int c, h, w;
    if (cn_model_input_size(name, &c, &h, &w) == CN_OK) shape[0] = c, shape[1] = h, shape[2] = w;
    else shape[0] = 3, shape[1] = 224, shape[2] = 224;
    *classes = shape[1] > 64 ? 1000 : 10;
}

static bool library_error(cli_model *m) {
    snprintf(m->error, sizeof m->error, "%s", cn_last_error());
    return false;
}

/* A zoo name or a model file: built fresh (seeded) for the requested or natural input. */
static bool open_built(cli_model *m, const char *name, const char *kind, const cli_model_request *req) {
    int64_t shape[3];
    int classes;
    model_defaults(name, shape, &classes);
    if (ends_with(name, ".onnx")) classes = 0; /* the model's own (cn_model_build) */
    if (req->input[0] > 0) memcpy(shape, req->input, sizeof shape);
    if (req->classes > 0) classes = req->classes;
    m->graph = cn_graph_create();
    if (!m->graph) return library_error(m);
    cn_graph_set_seed(m->graph, req->seed);
    m->input = cn_input(m->graph, "input", cn_shape4(req->batch, shape[0], shape[1], shape[2]));
    m->logits = m->input >= 0 ? cn_model_build(m->graph, name, m->input, classes) : -1;
    if (m->logits < 0) {
        library_error(m);
        cli_model_close(m);
        return false;
    }
    if (classes < 1) classes = (int)cn_node_shape(m->graph, m->logits).dims[1];
    snprintf(m->kind, sizeof m->kind, "%s", kind);
    snprintf(m->name, sizeof m->name, "%s", name);
    memcpy(m->input_shape, shape, sizeof shape);
    m->classes = classes;
    snprintf(m->state.model, sizeof m->state.model, "%s", m->name);
    memcpy(m->state.input_shape, shape, sizeof shape);
    cn_rng_seed(&m->state.rng, req->seed, 0);
    return true;
}

static bool open_checkpoint(cli_model *m, const char *path, const cli_model_request *req) {
    m->graph = cn_model_load(path, req->batch, &m->input, &m->logits, &m->state);
    if (!m->graph) return library_error(m);
    snprintf(m->kind, sizeof m->kind, "checkpoint");
    snprintf(m->name, sizeof m->name, "%s", m->state.model);
    memcpy(m->input_shape, m->state.input_shape, sizeof m->input_shape);
    m->classes = m->state.n_classes;
    bool other_input = req->input[0] > 0 && memcmp(req->input, m->input_shape, sizeof m->input_shape) != 0;
    if (other_input || (req->classes > 0 && req->classes != m->classes)) {
        snprintf(m->error, sizeof m->error, "%s: the checkpoint fixes its input (%lldx%lldx%lld) and classes (%d)", path,
                 (long long)m->input_shape[0], (long long)m->input_shape[1], (long long)m->input_shape[2], m->classes);
        cli_model_close(m);
        return false;
    }
    return true;
}

bool cli_model_open(cli_model *m, const char *arg, const cli_model_request *req) {
    memset(m, 0, sizeof *m);
    m->input = m->logits = -1;
    if (!arg || req->batch < 1) {
        snprintf(m->error, sizeof m->error, "a model name or file and a batch size >= 1 are needed");
        return false;
    }
    if (zoo_index(arg) >= 0) return open_built(m, arg, "zoo", req);
    if (is_file(arg)) {
        if (ends_with(arg, ".safetensors")) return open_checkpoint(m, arg, req);
        /* an ONNX model: imported with its own weights (cn_model_build), its input and classes as declared */
        if (ends_with(arg, ".onnx")) return open_built(m, arg, "onnx", req);
        return open_built(m, arg, "model file", req);
    }
    char names[512] = "";
    for (int i = 0; i < cn_model_count(); i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", cn_model_name(i));
    snprintf(m->error, sizeof m->error, "unknown model '%.100s': neither a file nor a zoo name (%.300s)", arg, names);
    return false;
}

void cli_model_close(cli_model *m) {
    cn_graph_free(m->graph);
    m->graph = NULL;
    cn_train_state_free(&m->state);
}
