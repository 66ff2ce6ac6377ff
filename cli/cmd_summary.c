/* cmd_summary.c — `convnet summary MODEL [--input CxHxW] [--batch N] [--classes K] [--json]`: the lectures'
 * per-layer table (output size, weights, parameters, multiply-adds, activation memory, receptive field and
 * jump) from cn_graph_analyze, with totals; or the same as one JSON object. */
#include "cli.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *usage_text =
    "usage: convnet summary MODEL [--input CxHxW] [--batch N] [--classes K] [--json]\n"
    "MODEL is a zoo name, a checkpoint (.safetensors) or an ONNX model (.onnx). Per layer: its output size (CxHxW, without the batch),\n"
    "weight size, parameters, multiply-adds and activation memory (bytes of its output) at batch N (default 1),\n"
    "and its receptive field in input pixels along H (W for 1-D inputs) with the jump between neighbouring\n"
    "outputs. --input and --classes override a zoo model's natural input and class count.\n";

/* 1256080 -> "1,256,080" */
static const char *grouped(int64_t v, char *buf, size_t size) {
    char digits[32];
    snprintf(digits, sizeof digits, "%lld", (long long)(v < 0 ? -v : v));
    size_t n = strlen(digits), k = 0;
    if (v < 0 && k + 1 < size) buf[k++] = '-';
    for (size_t i = 0; i < n && k + 2 < size; i++) {
        buf[k++] = digits[i];
        if ((n - 1 - i) % 3 == 0 && i + 1 < n) buf[k++] = ',';
    }
    buf[k] = 0;
    return buf;
}

/* The shape without its batch dimension: "20x28x28". */
static const char *per_image(const cn_shape *s, char *buf, size_t size) {
    cn_shape t = {0};
    t.ndim = s->ndim > 1 ? s->ndim - 1 : 0;
    for (int i = 0; i < t.ndim; i++) t.dims[i] = s->dims[i + 1];
    if (t.ndim == 0) return snprintf(buf, size, "1"), buf;
    return cn_shape_str(&t, buf, size);
}

/* ---------------------------------------------------------------- table */
enum { COL_NAME, COL_OP, COL_OUT, COL_WEIGHT, COL_PARAMS, COL_MACS, COL_ACT, COL_RF, COL_JUMP, N_COLS };
static const char *headers[N_COLS] = {"layer", "op", "output", "weights", "params", "MACs", "activations", "RF", "jump"};
static const bool right_aligned[N_COLS] = {false, false, false, false, true, true, true, true, true};
typedef char cell[160];

static void print_row(cell *row, const int *width) {
    char line[N_COLS * sizeof(cell) + 2 * N_COLS];
    size_t len = 0;
    for (int c = 0; c < N_COLS; c++)
        len += (size_t)snprintf(line + len, sizeof line - len, right_aligned[c] ? "%*s%s" : "%-*s%s", width[c], row[c],
                                c + 1 < N_COLS ? "  " : "");
    while (len > 0 && line[len - 1] == ' ') line[--len] = 0;
    printf("%s\n", line);
}

static void print_table(const cli_model *m, const cn_layer_stats *layers, int count, const cn_graph_stats *t,
                        int64_t batch) {
    cell(*rows)[N_COLS] = calloc((size_t)count + 2, sizeof *rows);
    if (!rows) return;
    int width[N_COLS] = {0};
    for (int c = 0; c < N_COLS; c++) snprintf(rows[0][c], sizeof(cell), "%s", headers[c]);
    for (int i = 0; i < count; i++) {
        const cn_layer_stats *s = &layers[i];
        cell *r = rows[i + 1];
        snprintf(r[COL_NAME], sizeof(cell), "%s", s->name);
        snprintf(r[COL_OP], sizeof(cell), "%s", s->desc);
        per_image(&s->output, r[COL_OUT], sizeof(cell));
        if (s->weight.ndim) cn_shape_str(&s->weight, r[COL_WEIGHT], sizeof(cell));
        else snprintf(r[COL_WEIGHT], sizeof(cell), "-");
        grouped(s->params, r[COL_PARAMS], sizeof(cell));
        grouped(s->macs, r[COL_MACS], sizeof(cell));
        grouped(s->activation_bytes, r[COL_ACT], sizeof(cell));
        if (s->receptive_field > 0) {
            grouped(s->receptive_field, r[COL_RF], sizeof(cell));
            grouped(s->jump, r[COL_JUMP], sizeof(cell));
        } else {
            snprintf(r[COL_RF], sizeof(cell), "-");
            snprintf(r[COL_JUMP], sizeof(cell), "-");
        }
    }
    cell *total = rows[count + 1];
    snprintf(total[COL_NAME], sizeof(cell), "total");
    grouped(t->params, total[COL_PARAMS], sizeof(cell));
    grouped(t->macs, total[COL_MACS], sizeof(cell));
    grouped(t->activation_bytes, total[COL_ACT], sizeof(cell));
    for (int i = 0; i < count + 2; i++)
        for (int c = 0; c < N_COLS; c++) {
            int len = (int)strlen(rows[i][c]);
            if (len > width[c]) width[c] = len;
        }

    printf("%s (%s): input %lldx%lldx%lld, %d classes, batch %lld\n\n", m->name[0] ? m->name : "model", m->kind,
           (long long)m->input_shape[0], (long long)m->input_shape[1], (long long)m->input_shape[2], m->classes,
           (long long)batch);
    int line = 0;
    for (int c = 0; c < N_COLS; c++) line += width[c] + (c + 1 < N_COLS ? 2 : 0);
    print_row(rows[0], width);
    for (int i = 0; i < line; i++) putchar('-');
    printf("\n");
    for (int i = 1; i <= count; i++) print_row(rows[i], width);
    for (int i = 0; i < line; i++) putchar('-');
    printf("\n");
    print_row(rows[count + 1], width);
    char a[32], b[32], c[32];
    printf("\n%s parameters, %s multiply-adds, %s bytes of activations at batch %lld.\n"
           "Receptive field and jump in input pixels along H (W for 1-D inputs).\n",
           grouped(t->params, a, sizeof a), grouped(t->macs, b, sizeof b), grouped(t->activation_bytes, c, sizeof c),
           (long long)batch);
    free(rows);
}

/* ---------------------------------------------------------------- JSON */
static void json_string(const char *s) {
    putchar('"');
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') printf("\\%c", ch);
        else if (ch < 0x20) printf("\\u%04x", ch);
        else putchar(ch);
    }
    putchar('"');
}

static void json_dims(const int64_t *dims, int n) {
    putchar('[');
    for (int i = 0; i < n; i++) printf("%s%lld", i ? ", " : "", (long long)dims[i]);
    putchar(']');
}

static void json_attributes(const cn_graph *g, int node) {
    cn_attr attrs[CN_MAX_ATTRS];
    int n = cn_node_attrs(g, node, attrs, CN_MAX_ATTRS);
    putchar('{');
    for (int i = 0; i < n; i++) {
        printf("%s", i ? ", " : "");
        json_string(attrs[i].name);
        printf(": ");
        switch (attrs[i].type) {
        case CN_ATTR_INT: printf("%lld", (long long)attrs[i].ints[0]); break;
        case CN_ATTR_FLOAT: printf("%.9g", attrs[i].f); break;
        case CN_ATTR_STRING: json_string(attrs[i].s); break;
        case CN_ATTR_INTS: json_dims(attrs[i].ints, attrs[i].count); break;
        }
    }
    putchar('}');
}

static void print_json(const cli_model *m, const cn_layer_stats *layers, int count, const cn_graph_stats *t,
                       int64_t batch) {
    printf("{\"model\": ");
    json_string(m->name);
    printf(", \"source\": ");
    json_string(m->kind);
    printf(", \"input_shape\": ");
    json_dims(m->input_shape, 3);
    printf(", \"classes\": %d, \"batch\": %lld,\n \"layers\": [\n", m->classes, (long long)batch);
    for (int i = 0; i < count; i++) {
        const cn_layer_stats *s = &layers[i];
        printf("  {\"name\": ");
        json_string(s->name);
        printf(", \"op\": ");
        json_string(s->op);
        printf(", \"description\": ");
        json_string(s->desc);
        printf(", \"attributes\": ");
        json_attributes(m->graph, i);
        printf(", \"output_shape\": ");
        json_dims(s->output.dims + 1, s->output.ndim > 1 ? s->output.ndim - 1 : 0);
        printf(", \"weight_shape\": ");
        json_dims(s->weight.dims, s->weight.ndim);
        printf(", \"params\": %lld, \"macs\": %lld, \"activation_bytes\": %lld, \"receptive_field\": %lld, "
               "\"jump\": %lld}%s\n",
               (long long)s->params, (long long)s->macs, (long long)s->activation_bytes, (long long)s->receptive_field,
               (long long)s->jump, i + 1 < count ? "," : "");
    }
    printf(" ],\n \"total_params\": %lld, \"total_macs\": %lld, \"activation_bytes\": %lld}\n", (long long)t->params,
           (long long)t->macs, (long long)t->activation_bytes);
}

int cmd_summary(int argc, char **argv) {
    const char *model = NULL;
    cli_model_request req = {.batch = 1};
    bool json = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage_text, stdout);
            return 0;
        } else if (!strcmp(a, "--json")) json = true;
        else if (!strcmp(a, "--input") && i + 1 < argc) {
            if (!cli_parse_shape(argv[++i], req.input))
                return cli_fail(2, "--input: '%s' is not CxHxW (e.g. 3x224x224)", argv[i]);
        } else if (!strcmp(a, "--batch") && i + 1 < argc) {
            long v;
            if (!cli_parse_long(argv[++i], 1, 1 << 20, &v)) return cli_fail(2, "--batch: '%s' is not a batch size", argv[i]);
            req.batch = v;
        } else if (!strcmp(a, "--classes") && i + 1 < argc) {
            long v;
            if (!cli_parse_long(argv[++i], 1, 1 << 24, &v)) return cli_fail(2, "--classes: '%s' is not a class count", argv[i]);
            req.classes = (int)v;
        } else if (a[0] == '-' && a[1]) return cli_fail(2, "summary: unknown option '%s' (or a missing value)", a);
        else if (!model) model = a;
        else return cli_fail(2, "summary: one model only ('%s' and '%s')", model, a);
    }
    if (!model) return cli_fail(2, "summary: which model? (%s)", "convnet summary --help");
    cli_model m;
    if (!cli_model_open(&m, model, &req)) return cli_fail(1, "summary: %s", m.error);
    int count = cn_graph_analyze(m.graph, NULL, 0, NULL);
    cn_layer_stats *layers = count > 0 ? calloc((size_t)count, sizeof *layers) : NULL;
    cn_graph_stats totals;
    if (!layers || cn_graph_analyze(m.graph, layers, count, &totals) != count) {
        free(layers);
        cli_model_close(&m);
        return cli_fail(1, "summary: %s", count > 0 ? "out of memory" : cn_last_error());
    }
    if (json) print_json(&m, layers, count, &totals, req.batch);
    else print_table(&m, layers, count, &totals, req.batch);
    free(layers);
    cli_model_close(&m);
    return 0;
}
