/* cmd_export.c — `convnet export MODEL OUT.safetensors [--fold-bn] [--seed S] [--input CxHxW] [--classes K]`:
 * write a model's weights as a checkpoint that cn_model_load (and every command taking a MODEL) reads back.
 * MODEL is a checkpoint (its training state is kept, the optimizer state is not) or a zoo name (fresh
 * weights from --seed). --fold-bn merges each batch norm into the conv or FC layer before it
 * (cn_graph_fold_batchnorm) and marks the checkpoint as folded, so it is rebuilt folded.
 * OUT.onnx writes the model's inference part as ONNX instead (cn_onnx_save, opset 13, 17 with layer norm): input "input",
 * output the logits, batch axis symbolic; --fold-bn folds before writing. */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage_text =
    "usage: convnet export MODEL OUT.safetensors|OUT.onnx [--fold-bn] [--seed S] [--input CxHxW] [--classes K]\n"
    "Write MODEL (a checkpoint, or a zoo name with fresh weights from --seed) as a checkpoint, or as an\n"
    "ONNX model (opset 13) when OUT ends in .onnx.\n"
    "--fold-bn merges every batch norm that follows a conv or FC layer into it, for inference.\n";

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* "0".."K-1" for a zoo model, which has no class names of its own. */
static char **numbered_names(int count, char *storage, size_t size) {
    char **names = calloc((size_t)count, sizeof *names);
    size_t used = 0;
    for (int i = 0; names && i < count; i++) {
        int n = snprintf(storage + used, size - used, "%d", i);
        if (n < 0 || used + (size_t)n + 1 > size) {
            free(names);
            return NULL;
        }
        names[i] = storage + used;
        used += (size_t)n + 1;
    }
    return names;
}

static int write_checkpoint(cli_model *m, const char *out, bool fold) {
    cn_graph *g = m->graph;
    int folded = 0;
    if (fold) {
        g = cn_graph_fold_batchnorm(m->graph, NULL, &folded);
        if (!g) return cli_fail(1, "export: %s", cn_last_error());
    }
    cn_train_state state = m->state;
    state.schedule = NULL;
    state.batchnorm_folded = m->state.batchnorm_folded || fold;
    char **names = NULL, *storage = NULL;
    if (!state.class_names && m->classes > 0) {
        size_t size = (size_t)m->classes * 12;
        storage = malloc(size);
        names = storage ? numbered_names(m->classes, storage, size) : NULL;
        state.class_names = names;
        state.n_classes = names ? m->classes : 0;
    }
    cn_status st = cn_checkpoint_save(out, g, NULL, &state);
    if (!st) {
        printf("wrote %s: %s, %lld parameters", out, m->name, (long long)cn_graph_num_trainable(g));
        if (fold) printf(", %d batch norm layer%s folded", folded, folded == 1 ? "" : "s");
        printf("\n");
    }
    free(names);
    free(storage);
    if (g != m->graph) cn_graph_free(g);
    return st ? cli_fail(1, "export: %s", cn_last_error()) : 0;
}

/* The inference graph (folded if asked) as ONNX, with the logits as the one output. */
static int write_onnx(cli_model *m, const char *out, bool fold) {
    cn_graph *g = m->graph;
    int folded = 0, logits = m->logits;
    if (fold) {
        int *map = malloc(sizeof(int) * (size_t)cn_graph_node_count(m->graph));
        g = map ? cn_graph_fold_batchnorm(m->graph, map, &folded) : NULL;
        if (g) logits = map[m->logits];
        free(map);
        if (!g) return cli_fail(1, "export: %s", map ? cn_last_error() : "out of memory");
    }
    cn_status st = cn_onnx_save(g, out, &logits, 1);
    int opset = 13; /* 17 when the graph has layer norm (cn_onnx_save) */
    for (int i = 0; i < cn_graph_node_count(g); i++)
        if (!strcmp(cn_node_op(g, i), "LayerNormalization")) opset = 17;
    if (!st) {
        printf("wrote %s: %s, %lld parameters, ONNX opset %d", out, m->name, (long long)cn_graph_num_trainable(g), opset);
        if (fold) printf(", %d batch norm layer%s folded", folded, folded == 1 ? "" : "s");
        printf("\n");
    }
    if (g != m->graph) cn_graph_free(g);
    return st ? cli_fail(1, "export: %s", cn_last_error()) : 0;
}

int cmd_export(int argc, char **argv) {
    const char *model = NULL, *out = NULL;
    cli_model_request req = {.batch = 1, .seed = 1};
    bool fold = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--fold-bn")) fold = true;
        else if (!strcmp(a, "--seed") && i + 1 < argc) {
            long v;
            if (!cli_parse_long(argv[++i], 0, INT32_MAX, &v)) return cli_fail(2, "--seed: '%s' is not a seed", argv[i]);
            req.seed = (uint64_t)v;
        } else if (!strcmp(a, "--input") && i + 1 < argc) {
            if (!cli_parse_shape(argv[++i], req.input))
                return cli_fail(2, "--input: '%s' is not CxHxW (e.g. 3x224x224)", argv[i]);
        } else if (!strcmp(a, "--classes") && i + 1 < argc) {
            long v;
            if (!cli_parse_long(argv[++i], 1, 1 << 24, &v)) return cli_fail(2, "--classes: '%s' is not a class count", argv[i]);
            req.classes = (int)v;
        } else if (a[0] == '-' && a[1]) return cli_fail(2, "export: unknown option '%s' (or a missing value)", a);
        else if (!model) model = a;
        else if (!out) out = a;
        else return cli_fail(2, "export: too many arguments ('%s')", a);
    }
    if (!model || !out) return cli_fail(2, "export: needs MODEL and OUT (convnet export --help)");
    bool onnx = ends_with(out, ".onnx");
    if (!onnx && !ends_with(out, ".safetensors"))
        return cli_fail(2, "export: '%s': the output must be a .safetensors checkpoint or an .onnx model", out);
    cli_model m;
    if (!cli_model_open(&m, model, &req)) return cli_fail(1, "export: %s", m.error);
    int rc = onnx ? write_onnx(&m, out, fold) : write_checkpoint(&m, out, fold);
    cli_model_close(&m);
    return rc;
}
