/* checkpoint.c — a training checkpoint as one safetensors file (layout in convnet.h). Saving goes through
 * st_write (temporary file, fsync, rename). Loading validates the whole file against the graph, the
 * optimizer and the training state before it changes anything, so a failed load leaves all of them as
 * they were. */
#include "safetensors.h"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#define FORMAT_NAME "convnet-checkpoint"
#define FORMAT_VERSION "1"
#define OPT_PREFIX "optimizer."
#ifdef CN_REAL_IS_DOUBLE
#define REAL_DTYPE "F64"
#else
#define REAL_DTYPE "F32"
#endif

static const char *optimizer_kind_name(cn_optimizer_kind k) {
    return k == CN_OPT_SGD ? "sgd" : k == CN_OPT_ADAM ? "adam" : "adamw";
}

void cn_train_state_free(cn_train_state *s) {
    if (!s) return;
    cn_free(s->class_names);
    s->class_names = NULL;
    s->n_classes = 0;
}

/* ------------------------------------------------------------------ saving */

/* ["a","b"] with JSON escapes; a cn_malloc'd string or NULL. */
static char *class_names_json(const cn_train_state *s) {
    size_t cap = 3;
    for (int i = 0; i < s->n_classes; i++) cap += 6 * strlen(s->class_names[i] ? s->class_names[i] : "") + 3;
    char *out = cn_malloc(cap), *p = out;
    if (!out) return NULL;
    *p++ = '[';
    for (int i = 0; i < s->n_classes; i++) {
        if (i) *p++ = ',';
        *p++ = '"';
        for (const unsigned char *c = (const unsigned char *)(s->class_names[i] ? s->class_names[i] : ""); *c; c++) {
            if (*c == '"' || *c == '\\') {
                *p++ = '\\';
                *p++ = (char)*c;
            } else if (*c < 0x20)
                p += sprintf(p, "\\u%04x", *c);
            else
                *p++ = (char)*c;
        }
        *p++ = '"';
    }
    *p++ = ']';
    *p = '\0';
    return out;
}

static void format_rng(char *buf, size_t n, const cn_rng *r) {
    snprintf(buf, n, "%016" PRIx64 ":%016" PRIx64, r->state, r->inc);
}

/* Everything that st_write needs, with the storage it points into. */
typedef struct {
    st_write_tensor *tensors;
    char (*names)[2 * CN_NAME_MAX + 48];
    int count;
    st_meta_entry meta[24];
    int n_meta;
    char values[12][256];
    char *class_json;
} save_plan;

static void add_meta(save_plan *p, const char *key, const char *value) {
    p->meta[p->n_meta++] = (st_meta_entry){key, value};
}

static cn_status plan_tensors(save_plan *p, const cn_graph *g, const cn_optimizer *opt) {
    int n_params = cn_param_count(g), n_state = opt ? cn_optimizer_state_count(opt) : 0;
    p->tensors = cn_calloc((size_t)(n_params + n_state) + 1, sizeof *p->tensors);
    p->names = cn_calloc((size_t)n_state + 1, sizeof *p->names);
    if (!p->tensors || !p->names) return CN_ERR_NOMEM;
    for (int i = 0; i < n_params; i++) {
        cn_param q = cn_param_get(g, i);
        p->tensors[p->count++] = (st_write_tensor){q.name, REAL_DTYPE, q.value->shape.ndim, q.value->shape.dims,
                                                   q.value->data, (size_t)cn_tensor_numel(q.value) * sizeof(cn_real)};
    }
    for (int i = 0; i < n_state; i++) {
        cn_optimizer_state s = cn_optimizer_state_get(opt, i);
        snprintf(p->names[i], sizeof p->names[i], OPT_PREFIX "%s", s.name);
        p->tensors[p->count++] = (st_write_tensor){p->names[i], REAL_DTYPE, s.value->shape.ndim, s.value->shape.dims,
                                                   s.value->data, (size_t)cn_tensor_numel(s.value) * sizeof(cn_real)};
    }
    return CN_OK;
}

static cn_status plan_metadata(save_plan *p, cn_graph *g, const cn_optimizer *opt, const cn_train_state *state) {
    int v = 0;
    add_meta(p, "format", FORMAT_NAME);
    add_meta(p, "format_version", FORMAT_VERSION);
    add_meta(p, "convnet_version", CN_VERSION);
    format_rng(p->values[v], sizeof p->values[v], graph_rng(g));
    add_meta(p, "graph_rng", p->values[v++]);
    if (opt) {
        add_meta(p, "optimizer", optimizer_kind_name(cn_optimizer_get_config(opt).kind));
        snprintf(p->values[v], sizeof p->values[v], "%.17g", cn_optimizer_lr(opt));
        add_meta(p, "optimizer_lr", p->values[v++]);
        snprintf(p->values[v], sizeof p->values[v], "%lld", (long long)cn_optimizer_steps(opt));
        add_meta(p, "optimizer_step", p->values[v++]);
    }
    if (state) {
        add_meta(p, "model", state->model);
        snprintf(p->values[v], sizeof p->values[v], "%lld", (long long)state->epoch);
        add_meta(p, "epoch", p->values[v++]);
        snprintf(p->values[v], sizeof p->values[v], "%lld", (long long)state->step);
        add_meta(p, "step", p->values[v++]);
        format_rng(p->values[v], sizeof p->values[v], &state->rng);
        add_meta(p, "rng", p->values[v++]);
        if (state->schedule) {
            cn_status st = cn_schedule_state_format(state->schedule, p->values[v], sizeof p->values[v]);
            if (st) return st;
            add_meta(p, "schedule", p->values[v++]);
        }
        if (state->n_classes < 0 || (state->n_classes > 0 && !state->class_names))
            return cn_error(CN_ERR_INVALID, "checkpoint: %d class names but no array", state->n_classes);
        p->class_json = class_names_json(state);
        if (!p->class_json) return CN_ERR_NOMEM;
        add_meta(p, "class_names", p->class_json);
        if (state->input_shape[0] > 0) {
            snprintf(p->values[v], sizeof p->values[v], "%lldx%lldx%lld", (long long)state->input_shape[0],
                     (long long)state->input_shape[1], (long long)state->input_shape[2]);
            add_meta(p, "input_shape", p->values[v++]);
        }
        if (state->n_norm > 0 && state->n_norm <= 4) {
            int used = 0;
            for (int c = 0; c < state->n_norm; c++)
                used += snprintf(p->values[v] + used, sizeof p->values[v] - (size_t)used, "%s%a,%a", c ? ";" : "",
                                 (double)state->norm_mean[c], (double)state->norm_std[c]);
            add_meta(p, "normalize", p->values[v++]);
        }
        if (state->batchnorm_folded) add_meta(p, "batchnorm_folded", "1");
    }
    return CN_OK;
}

cn_status cn_checkpoint_save(const char *path, cn_graph *g, const cn_optimizer *opt, const cn_train_state *state) {
    if (!path || !g) return cn_error(CN_ERR_INVALID, "checkpoint save: path and graph must not be NULL");
    save_plan p = {0};
    cn_status st = plan_tensors(&p, g, opt);
    if (!st) st = plan_metadata(&p, g, opt, state);
    if (!st) st = st_write(path, p.tensors, p.count, p.meta, p.n_meta);
    cn_free(p.tensors);
    cn_free(p.names);
    cn_free(p.class_json);
    return st;
}

/* ------------------------------------------------------------------ loading */

static void file_shape_str(const st_tensor *t, char *buf, size_t n) {
    if (t->ndim == 0) {
        snprintf(buf, n, "scalar");
        return;
    }
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->ndim && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? "x" : "", (long long)t->dims[i]);
}

static bool same_shape(const st_tensor *t, const cn_tensor *v) {
    if (t->ndim != v->shape.ndim) return false;
    for (int i = 0; i < t->ndim; i++)
        if (t->dims[i] != v->shape.dims[i]) return false;
    return true;
}

/* One tensor the load will copy: present, F32/F64, of the expected shape. */
static cn_status check_tensor(const char *path, const st_file *f, const char *name, const char *what,
                              const cn_tensor *expected, const st_tensor **found) {
    const st_tensor *t = st_find(f, name);
    if (!t) return cn_error(CN_ERR_SHAPE, "checkpoint %s: %s %s is missing (another model?)", path, what, name);
    if (strcmp(t->dtype, "F32") != 0 && strcmp(t->dtype, "F64") != 0)
        return cn_error(CN_ERR_FORMAT, "checkpoint %s: %s has dtype %s, F32 or F64 expected", path, name, t->dtype);
    if (!same_shape(t, expected)) {
        char a[96], b[96];
        file_shape_str(t, a, sizeof a);
        cn_shape_str(&expected->shape, b, sizeof b);
        return cn_error(CN_ERR_SHAPE, "checkpoint %s: %s has shape %s, the %s expects %s (another model?)", path, name,
                        a, strcmp(what, "parameter") == 0 ? "model" : "optimizer", b);
    }
    *found = t;
    return CN_OK;
}

static cn_status parse_i64(const char *path, const st_file *f, const char *key, int64_t *out) {
    const char *s = st_metadata(f, key);
    if (!s) return cn_error(CN_ERR_FORMAT, "checkpoint %s: metadata '%s' is missing", path, key);
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < 0)
        return cn_error(CN_ERR_FORMAT, "checkpoint %s: metadata '%s' = \"%.40s\" is not a count", path, key, s);
    *out = (int64_t)v;
    return CN_OK;
}

static cn_status parse_rng(const char *path, const st_file *f, const char *key, cn_rng *out) {
    const char *s = st_metadata(f, key);
    if (!s) return cn_error(CN_ERR_FORMAT, "checkpoint %s: metadata '%s' is missing", path, key);
    uint64_t state, inc;
    int used = 0;
    if (sscanf(s, "%16" SCNx64 ":%16" SCNx64 "%n", &state, &inc, &used) != 2 || s[used] || !(inc & 1))
        return cn_error(CN_ERR_FORMAT, "checkpoint %s: metadata '%s' = \"%.40s\" is not an RNG state", path, key, s);
    *out = (cn_rng){state, inc};
    return CN_OK;
}

/* "CxHxW" (optional: zeros when absent) */
static cn_status parse_input_shape(const char *path, const st_file *f, int64_t shape[3]) {
    const char *s = st_metadata(f, "input_shape");
    shape[0] = shape[1] = shape[2] = 0;
    if (!s) return CN_OK;
    long long c, h, w;
    int used = 0;
    if (sscanf(s, "%lldx%lldx%lld%n", &c, &h, &w, &used) != 3 || s[used] || c < 1 || h < 1 || w < 1 || c > 65536 ||
        h > 65536 || w > 65536)
        return cn_error(CN_ERR_FORMAT, "checkpoint %s: metadata 'input_shape' = \"%.40s\" is not CxHxW", path, s);
    shape[0] = c, shape[1] = h, shape[2] = w;
    return CN_OK;
}

/* "mean,std;mean,std;..." in hex floats (optional) */
static cn_status parse_normalize(const char *path, const st_file *f, cn_train_state *t) {
    const char *s = st_metadata(f, "normalize");
    t->n_norm = 0;
    if (!s) return CN_OK;
    while (*s && t->n_norm < 4) {
        double m, d;
        int used = 0;
        if (sscanf(s, "%la,%la%n", &m, &d, &used) != 2 || !(d > 0) || !isfinite(m) || !isfinite(d)) break;
        t->norm_mean[t->n_norm] = (float)m;
        t->norm_std[t->n_norm++] = (float)d;
        s += used;
        if (*s == ';') s++;
        else break;
    }
    if (*s) return cn_error(CN_ERR_FORMAT, "checkpoint %s: metadata 'normalize' is malformed", path);
    return CN_OK;
}

/* The class names as one allocation: the pointer array followed by the strings. */
static cn_status parse_class_names(const char *path, const st_file *f, char ***names, int *count) {
    *names = NULL;
    *count = 0;
    const char *s = st_metadata(f, "class_names");
    if (!s) return cn_error(CN_ERR_FORMAT, "checkpoint %s: metadata 'class_names' is missing", path);
    json_value *list = json_parse(s, strlen(s));
    if (!list || list->type != JSON_ARRAY) {
        json_free(list);
        return cn_error(CN_ERR_FORMAT, "checkpoint %s: metadata 'class_names' is not a JSON array", path);
    }
    size_t bytes = (size_t)(list->count + 1) * sizeof(char *);
    for (const json_value *e = list->child; e; e = e->next) {
        if (e->type != JSON_STRING) {
            json_free(list);
            return cn_error(CN_ERR_FORMAT, "checkpoint %s: metadata 'class_names' holds a non-string", path);
        }
        bytes += strlen(e->string) + 1;
    }
    char **out = cn_malloc(bytes);
    if (!out) {
        json_free(list);
        return CN_ERR_NOMEM;
    }
    char *text = (char *)(out + list->count + 1);
    int i = 0;
    for (const json_value *e = list->child; e; e = e->next) {
        size_t len = strlen(e->string) + 1;
        memcpy(text, e->string, len);
        out[i++] = text;
        text += len;
    }
    out[i] = NULL;
    *names = out;
    *count = list->count;
    json_free(list);
    return CN_OK;
}

/* What a validated load will write. */
typedef struct {
    const st_tensor **params;   /* per graph parameter */
    const st_tensor **state;    /* per optimizer state tensor */
    int64_t opt_steps;
    double opt_lr;
    cn_rng graph_rng;
    bool has_graph_rng;
    cn_train_state train;       /* the new values of *state (schedule left out) */
    cn_schedule schedule;
} load_plan;

static cn_status check_graph(const char *path, const st_file *f, const cn_graph *g, load_plan *p) {
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param q = cn_param_get(g, i);
        cn_status st = check_tensor(path, f, q.name, "parameter", q.value, &p->params[i]);
        if (st) return st;
    }
    for (int i = 0; i < f->count; i++)
        if (strncmp(f->tensors[i].name, OPT_PREFIX, strlen(OPT_PREFIX)) != 0 && cn_param_find(g, f->tensors[i].name) < 0)
            return cn_error(CN_ERR_SHAPE, "checkpoint %s: holds %s, which the model does not have (another model?)", path,
                            f->tensors[i].name);
    return CN_OK;
}

static cn_status check_optimizer(const char *path, const st_file *f, const cn_optimizer *opt, load_plan *p) {
    const char *kind = st_metadata(f, "optimizer"), *want = optimizer_kind_name(cn_optimizer_get_config(opt).kind);
    if (!kind) return cn_error(CN_ERR_FORMAT, "checkpoint %s: has no optimizer state", path);
    if (strcmp(kind, want) != 0)
        return cn_error(CN_ERR_INVALID, "checkpoint %s: optimizer state is for %s, the optimizer is %s", path, kind, want);
    char name[2 * CN_NAME_MAX + 48];
    int n_state = cn_optimizer_state_count(opt);
    for (int i = 0; i < n_state; i++) {
        cn_optimizer_state s = cn_optimizer_state_get(opt, i);
        snprintf(name, sizeof name, OPT_PREFIX "%s", s.name);
        cn_status st = check_tensor(path, f, name, "optimizer state", s.value, &p->state[i]);
        if (st) return st;
    }
    int in_file = 0;
    for (int i = 0; i < f->count; i++) in_file += strncmp(f->tensors[i].name, OPT_PREFIX, strlen(OPT_PREFIX)) == 0;
    if (in_file != n_state)
        return cn_error(CN_ERR_SHAPE, "checkpoint %s: holds %d optimizer state tensors, the optimizer has %d", path,
                        in_file, n_state);
    cn_status st = parse_i64(path, f, "optimizer_step", &p->opt_steps);
    if (st) return st;
    const char *lr = st_metadata(f, "optimizer_lr");
    char *end = NULL;
    p->opt_lr = lr ? strtod(lr, &end) : -1;
    if (!lr || end == lr || *end || !(p->opt_lr >= 0 && isfinite(p->opt_lr)))
        return cn_error(CN_ERR_FORMAT, "checkpoint %s: metadata 'optimizer_lr' is missing or not a rate", path);
    return CN_OK;
}

static cn_status check_train_state(const char *path, const st_file *f, const cn_train_state *state, load_plan *p) {
    const char *model = st_metadata(f, "model");
    if (!model) return cn_error(CN_ERR_FORMAT, "checkpoint %s: has no training state (metadata 'model')", path);
    snprintf(p->train.model, sizeof p->train.model, "%s", model);
    p->train.schedule = state->schedule;
    cn_status st = parse_i64(path, f, "epoch", &p->train.epoch);
    if (!st) st = parse_i64(path, f, "step", &p->train.step);
    if (!st) st = parse_rng(path, f, "rng", &p->train.rng);
    if (st) return st;
    if (state->schedule) {
        const char *text = st_metadata(f, "schedule");
        if (!text) return cn_error(CN_ERR_FORMAT, "checkpoint %s: has no schedule state", path);
        p->schedule = *state->schedule;
        st = cn_schedule_state_parse(&p->schedule, text);
        if (st) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s", cn_last_error());
            return cn_error(st, "checkpoint %s: %s", path, msg);
        }
    }
    if ((st = parse_input_shape(path, f, p->train.input_shape)) != CN_OK) return st;
    if ((st = parse_normalize(path, f, &p->train)) != CN_OK) return st;
    const char *folded = st_metadata(f, "batchnorm_folded");
    p->train.batchnorm_folded = folded && strcmp(folded, "1") == 0;
    return parse_class_names(path, f, &p->train.class_names, &p->train.n_classes);  /* last: it allocates */
}

static void apply(const st_file *f, cn_graph *g, cn_optimizer *opt, cn_train_state *state, const load_plan *p) {
    for (int i = 0; i < cn_param_count(g); i++) {
        cn_param q = cn_param_get(g, i);
        st_to_real(p->params[i], q.value->data, cn_tensor_numel(q.value));  /* checked: cannot fail */
    }
    if (p->has_graph_rng) *graph_rng(g) = p->graph_rng;
    if (opt) {
        for (int i = 0; i < cn_optimizer_state_count(opt); i++) {
            cn_optimizer_state s = cn_optimizer_state_get(opt, i);
            st_to_real(p->state[i], s.value->data, cn_tensor_numel(s.value));
        }
        cn_optimizer_set_steps(opt, p->opt_steps);
        cn_optimizer_set_lr(opt, p->opt_lr);
    }
    if (state) {
        *state = p->train;
        if (state->schedule) *state->schedule = p->schedule;
    }
    CN_UNUSED(f);
}

cn_status cn_checkpoint_load(const char *path, cn_graph *g, cn_optimizer *opt, cn_train_state *state) {
    if (!path || !g) return cn_error(CN_ERR_INVALID, "checkpoint load: path and graph must not be NULL");
    st_file f;
    cn_status st = st_read(path, &f);
    if (st) return st;
    load_plan p = {0};
    int n_state = opt ? cn_optimizer_state_count(opt) : 0;
    p.params = cn_calloc((size_t)cn_param_count(g) + 1, sizeof *p.params);
    p.state = cn_calloc((size_t)n_state + 1, sizeof *p.state);
    if (!p.params || !p.state) st = CN_ERR_NOMEM;
    const char *format = st_metadata(&f, "format");
    if (!st && format && (strcmp(format, FORMAT_NAME) != 0 || !st_metadata(&f, "format_version") ||
                          strcmp(st_metadata(&f, "format_version"), FORMAT_VERSION) != 0))
        st = cn_error(CN_ERR_FORMAT, "checkpoint %s: format \"%s\" version \"%s\" is not %s %s", path, format,
                      st_metadata(&f, "format_version") ? st_metadata(&f, "format_version") : "?", FORMAT_NAME,
                      FORMAT_VERSION);
    if (!st && !format && (opt || state))  /* plain weights (e.g. from PyTorch's save_file) load without them */
        st = cn_error(CN_ERR_FORMAT, "checkpoint %s: is a plain safetensors file without training state", path);
    if (!st) st = check_graph(path, &f, g, &p);
    if (!st && opt) st = check_optimizer(path, &f, opt, &p);
    if (!st && format) {
        p.has_graph_rng = true;
        st = parse_rng(path, &f, "graph_rng", &p.graph_rng);
    }
    if (!st && state) st = check_train_state(path, &f, state, &p);
    if (!st) apply(&f, g, opt, state, &p);
    cn_graph_params_changed(g); /* packed-weight caches are stale now */
    cn_free(p.params);
    cn_free(p.state);
    st_free(&f);
    return st;
}
