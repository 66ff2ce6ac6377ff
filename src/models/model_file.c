/* model_file.c — building a graph from a plain-text model description (docs/MODEL_FORMAT.md).
 *
 * One statement per line, '#' starts a comment:
 *   conv 20 k5 p2          a layer: keyword, positional arguments, options (kN, sN, flags, key=value)
 *   def NAME p q=1 ... end a reusable block with parameters ($p in its body); called like a layer
 *   block NAME ... end     a name scope: nodes inside are called NAME.<their name>
 *   repeat N [start=S] ... end   the body N times, $i = S, S+1, ...
 *   input CxHxW            the input the model was designed for (informational)
 * Every layer reads the previous layer's output unless from=NODE says otherwise; add and concat take node
 * references. The pieces: a tokenizer (lines of whitespace-separated tokens with their columns), a
 * structure pass that pairs def/block/repeat with their end, and an interpreter that walks the lines with
 * a frame per block (scope, $in, variables) and builds each layer through a table of layer kinds. */
#include "convnet.h"
#include "internal.h"
#include "zoo_internal.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define TEXT_MAX 128  /* a token after $variable substitution */
#define MAX_TOKENS 64 /* per line */
#define MAX_PARAMS 16 /* per def */
#define MAX_DEPTH 16  /* nested blocks and def calls */
#define MAX_REFS 16   /* add / concat operands */

/* ================================================================ tokens and lines */
typedef struct {
    const char *text; /* points into the file buffer, NUL-terminated */
    int col;          /* 1-based */
} token;

typedef struct {
    int lineno;
    token *tok;
    int n;
    int end; /* def / block / repeat: index of the matching end line */
} mline;

typedef struct {
    const char *name;
    int line;                         /* index of the def line */
    const char *params[MAX_PARAMS];   /* names */
    const char *defaults[MAX_PARAMS]; /* NULL: required */
    int n_params;
    int calls; /* for made-up scope names: basic1, basic2 */
} def_info;

typedef struct {
    char name[CN_NAME_MAX];
    int node;
} alias;

typedef struct {
    const char *path;
    char *buf;
    mline *lines;
    int n_lines;
    token *toks;
    def_info *defs;
    int n_defs;
    alias *aliases;
    int n_aliases, cap_aliases;
    int has_input, input_dims[3], input_ndim;
    /* building */
    cn_graph *g;
    int x, classes, cur;
    int depth;
} parser;

/* A frame: the scope prefix ("layer1.0."), the block's input ($in), the variables bound here, and where
 * it was entered (for error messages). */
typedef struct frame {
    const struct frame *parent;
    char scope[CN_NAME_MAX];
    int in;
    const char *var_names[MAX_PARAMS];
    char var_values[MAX_PARAMS][TEXT_MAX];
    int n_vars;
    const char *what; /* "def 'basic'", "block 'layer1'", "repeat" or NULL at top level */
    int call_lineno;
} frame;

/* "path:line:col: message" plus where the enclosing def was called from. Returns -1. */
static int fail_at(const parser *p, const frame *f, int lineno, int col, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail_at(const parser *p, const frame *f, int lineno, int col, const char *fmt, ...) {
    char msg[768], ctx[256] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (const frame *q = f; q; q = q->parent)
        if (q->what && strncmp(q->what, "def", 3) == 0) {
            snprintf(ctx, sizeof ctx, " (in %s called at line %d)", q->what, q->call_lineno);
            break;
        }
    cn_error(CN_ERR_FORMAT, "%s:%d:%d: %s%s", p->path, lineno, col, msg, ctx);
    return -1;
}

/* ================================================================ reading and the structure pass */
static int is_opener(const char *kw) {
    return strcmp(kw, "def") == 0 || strcmp(kw, "block") == 0 || strcmp(kw, "repeat") == 0;
}

static int read_file(parser *p) {
    FILE *f = fopen(p->path, "rb");
    if (!f) {
        cn_error(CN_ERR_IO, "model file %s: cannot open: %s", p->path, strerror(errno));
        return -1;
    }
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        cn_error(CN_ERR_IO, "model file %s: cannot read", p->path);
        return -1;
    }
    p->buf = cn_malloc((size_t)size + 1);
    if (!p->buf || fread(p->buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        if (p->buf) cn_error(CN_ERR_IO, "model file %s: cannot read", p->path);
        return -1;
    }
    fclose(f);
    p->buf[size] = 0;
    if (strlen(p->buf) != (size_t)size) {
        cn_error(CN_ERR_FORMAT, "model file %s: contains a NUL byte (not a text file?)", p->path);
        return -1;
    }
    return 0;
}

/* Split the buffer into lines of tokens (in place), drop comments and empty lines. */
static int tokenize(parser *p) {
    size_t n_chars = strlen(p->buf);
    int max_lines = 1, max_toks = 1;
    for (size_t i = 0; i < n_chars; i++) {
        if (p->buf[i] == '\n') max_lines++;
        if (!isspace((unsigned char)p->buf[i]) && (i == 0 || isspace((unsigned char)p->buf[i - 1]))) max_toks++;
    }
    p->lines = cn_calloc((size_t)max_lines, sizeof *p->lines);
    p->toks = cn_calloc((size_t)max_toks, sizeof *p->toks);
    if (!p->lines || !p->toks) return -1;
    int n_toks = 0, lineno = 0;
    char *s = p->buf;
    while (*s || lineno == 0) {
        lineno++;
        char *eol = strchr(s, '\n'), *next = eol ? eol + 1 : s + strlen(s);
        if (eol) *eol = 0;
        char *hash = strchr(s, '#');
        if (hash) *hash = 0;
        mline *l = &p->lines[p->n_lines];
        l->lineno = lineno;
        l->tok = &p->toks[n_toks];
        l->end = -1;
        for (char *c = s; *c;) {
            while (*c && isspace((unsigned char)*c)) c++;
            if (!*c) break;
            char *start = c;
            while (*c && !isspace((unsigned char)*c)) c++;
            if (*c) *c++ = 0;
            if (l->n == MAX_TOKENS)
                return fail_at(p, NULL, lineno, (int)(start - s) + 1, "more than %d words on one line", MAX_TOKENS);
            if (strlen(start) >= TEXT_MAX)
                return fail_at(p, NULL, lineno, (int)(start - s) + 1, "'%.20s...' is longer than %d characters", start,
                               TEXT_MAX - 1);
            l->tok[l->n++] = (token){start, (int)(start - s) + 1};
            n_toks++;
        }
        if (l->n > 0) p->n_lines++;
        s = next;
        if (!eol) break;
    }
    return 0;
}

static int is_identifier(const char *s) {
    if (!isalpha((unsigned char)*s) && *s != '_') return 0;
    for (s++; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_') return 0;
    return 1;
}

static const def_info *find_def(const parser *p, const char *name) {
    for (int i = 0; i < p->n_defs; i++)
        if (strcmp(p->defs[i].name, name) == 0) return &p->defs[i];
    return NULL;
}

static int find_layer_kind(const char *kw); /* below */

/* Pair every def/block/repeat with its end; register the defs (so they can be used before they appear);
 * check the input line. */
static int structure(parser *p) {
    int stack[MAX_DEPTH], depth = 0, n_openers = 0;
    for (int i = 0; i < p->n_lines; i++)
        if (is_opener(p->lines[i].tok[0].text) && strcmp(p->lines[i].tok[0].text, "def") == 0) n_openers++;
    p->defs = cn_calloc((size_t)(n_openers > 0 ? n_openers : 1), sizeof *p->defs);
    if (!p->defs) return -1;
    for (int i = 0; i < p->n_lines; i++) {
        mline *l = &p->lines[i];
        const char *kw = l->tok[0].text;
        if (is_opener(kw)) {
            if (depth == MAX_DEPTH) return fail_at(p, NULL, l->lineno, 1, "blocks nested deeper than %d", MAX_DEPTH);
            if (strcmp(kw, "def") == 0) {
                if (depth > 0)
                    return fail_at(p, NULL, l->lineno, 1, "def inside another block (defs must be at top level)");
                if (l->n < 2) return fail_at(p, NULL, l->lineno, 1, "def needs a name: def NAME [PARAM ...]");
                const char *name = l->tok[1].text;
                if (!is_identifier(name) || find_layer_kind(name) >= 0 || is_opener(name) || strcmp(name, "end") == 0 ||
                    strcmp(name, "input") == 0)
                    return fail_at(p, NULL, l->lineno, l->tok[1].col,
                                   "'%s' cannot name a def (a letter then letters, digits, _, not a layer kind)", name);
                if (find_def(p, name))
                    return fail_at(p, NULL, l->lineno, l->tok[1].col, "def '%s' is defined twice (first at line %d)",
                                   name, p->lines[find_def(p, name)->line].lineno);
                def_info *d = &p->defs[p->n_defs++];
                d->name = name;
                d->line = i;
                if (l->n - 2 > MAX_PARAMS)
                    return fail_at(p, NULL, l->lineno, l->tok[2 + MAX_PARAMS].col, "a def takes at most %d parameters",
                                   MAX_PARAMS);
                for (int t = 2; t < l->n; t++) {
                    char *eq = strchr(l->tok[t].text, '=');
                    if (eq) *eq = 0; /* the buffer is ours: split "k=1" into name and default */
                    const char *pname = l->tok[t].text;
                    if (!is_identifier(pname) || strcmp(pname, "name") == 0 || strcmp(pname, "from") == 0 ||
                        strcmp(pname, "in") == 0)
                        return fail_at(p, NULL, l->lineno, l->tok[t].col,
                                       "'%s' cannot name a parameter (name, from and in are taken)", pname);
                    for (int q = 0; q < d->n_params; q++)
                        if (strcmp(d->params[q], pname) == 0)
                            return fail_at(p, NULL, l->lineno, l->tok[t].col, "parameter '%s' appears twice", pname);
                    if (!eq && d->n_params > 0 && d->defaults[d->n_params - 1])
                        return fail_at(p, NULL, l->lineno, l->tok[t].col,
                                       "parameter '%s' without a default after one with a default", pname);
                    d->params[d->n_params] = pname;
                    d->defaults[d->n_params++] = eq ? eq + 1 : NULL;
                }
            }
            stack[depth++] = i;
        } else if (strcmp(kw, "end") == 0) {
            if (depth == 0) return fail_at(p, NULL, l->lineno, 1, "'end' without a def, block or repeat to close");
            if (l->n > 1)
                return fail_at(p, NULL, l->lineno, l->tok[1].col, "unexpected '%s' after end", l->tok[1].text);
            p->lines[stack[--depth]].end = i;
        } else if (strcmp(kw, "input") == 0) {
            if (depth > 0) return fail_at(p, NULL, l->lineno, 1, "input inside a block (it describes the whole model)");
            if (p->has_input) return fail_at(p, NULL, l->lineno, 1, "a second input line");
            if (l->n != 2)
                return fail_at(p, NULL, l->lineno, 1, "input needs one size: input CxHxW (e.g. input 1x28x28)");
            const char *s = l->tok[1].text;
            int nd = 0;
            while (*s && nd < 3) {
                char *end;
                long v = strtol(s, &end, 10);
                if (end == s || v < 1 || v > 1 << 24 || (*end && *end != 'x')) break;
                p->input_dims[nd++] = (int)v;
                s = *end ? end + 1 : end;
            }
            if (*s || nd < 2)
                return fail_at(p, NULL, l->lineno, l->tok[1].col, "input size '%s' is not CxHxW (e.g. 1x28x28)",
                               l->tok[1].text);
            p->input_ndim = nd;
            p->has_input = 1;
        }
    }
    if (depth > 0) {
        const mline *l = &p->lines[stack[depth - 1]];
        return fail_at(p, NULL, l->lineno, 1, "'%s' has no matching 'end'", l->tok[0].text);
    }
    return 0;
}

static void parser_free(parser *p) {
    cn_free(p->buf);
    cn_free(p->lines);
    cn_free(p->toks);
    cn_free(p->defs);
    cn_free(p->aliases);
}

static int parser_load(parser *p, const char *path) {
    memset(p, 0, sizeof *p);
    p->path = path;
    if (read_file(p) || tokenize(p) || structure(p)) return -1;
    return 0;
}

/* ================================================================ variables and node references */
static const char *lookup_var(const frame *f, const char *name, size_t len) {
    for (; f; f = f->parent)
        for (int i = f->n_vars - 1; i >= 0; i--)
            if (strlen(f->var_names[i]) == len && strncmp(f->var_names[i], name, len) == 0) return f->var_values[i];
    return NULL;
}

/* Replace every $name in t by its value; "$in" stays (it is a node reference, resolved later). */
static int substitute(const parser *p, const frame *f, int lineno, const token *t, char *out) {
    size_t o = 0;
    for (const char *s = t->text; *s;) {
        if (*s == '$') {
            const char *start = s + 1, *e = start;
            while (isalnum((unsigned char)*e) || *e == '_') e++;
            const char *value = e > start ? lookup_var(f, start, (size_t)(e - start)) : NULL;
            if (!value && e - start == 2 && strncmp(start, "in", 2) == 0) value = "$in";
            if (!value)
                return fail_at(p, f, lineno, t->col + (int)(s - t->text), "unknown variable '$%.*s'", (int)(e - start),
                               start);
            size_t vl = strlen(value);
            if (o + vl >= TEXT_MAX) break;
            memcpy(out + o, value, vl);
            o += vl;
            s = e;
        } else {
            if (o + 1 >= TEXT_MAX) break;
            out[o++] = *s++;
        }
    }
    out[o] = 0;
    return 0;
}

static int add_alias(parser *p, const char *name, int node) {
    for (int i = 0; i < p->n_aliases; i++)
        if (strcmp(p->aliases[i].name, name) == 0) {
            p->aliases[i].node = node;
            return 0;
        }
    if (p->n_aliases == p->cap_aliases) {
        int cap = p->cap_aliases ? 2 * p->cap_aliases : 64;
        alias *a = cn_calloc((size_t)cap, sizeof *a);
        if (!a) return -1;
        if (p->aliases) memcpy(a, p->aliases, (size_t)p->n_aliases * sizeof *a);
        cn_free(p->aliases);
        p->aliases = a;
        p->cap_aliases = cap;
    }
    snprintf(p->aliases[p->n_aliases].name, CN_NAME_MAX, "%s", name);
    p->aliases[p->n_aliases++].node = node;
    return 0;
}

static int find_name(const parser *p, const char *full) {
    for (int i = 0; i < p->n_aliases; i++)
        if (strcmp(p->aliases[i].name, full) == 0) return p->aliases[i].node;
    return cn_graph_find(p->g, full);
}

/* A node reference: $in (the block's input), or a node or block name looked up in the innermost scope
 * first, then the enclosing ones, then as written. */
static int resolve(const parser *p, const frame *f, int lineno, int col, const char *ref) {
    if (strcmp(ref, "$in") == 0) return f->in;
    char full[2 * CN_NAME_MAX];
    for (const frame *q = f; q; q = q->parent) {
        snprintf(full, sizeof full, "%s%s", q->scope, ref);
        int id = find_name(p, full);
        if (id >= 0) return id;
    }
    return fail_at(p, f, lineno, col, "no node or block named '%s'%s%s", ref, f->scope[0] ? " in scope " : "",
                   f->scope[0] ? f->scope : "");
}

/* ================================================================ layer arguments */
typedef enum { POS_NONE, POS_COUNT, POS_FLOAT, POS_SIZE, POS_REF } pos_kind;

typedef struct layer_args {
    const char *kw;
    int lineno, col;
    char text[MAX_TOKENS][TEXT_MAX]; /* substituted tokens */
    int cols[MAX_TOKENS];
    int pos[MAX_TOKENS], n_pos; /* indices into text */
    int shorts[26];             /* index into text + 1, 0: not given */
    unsigned flags;             /* bit i: flags[i] of the kind */
    int keys[4];                /* index into text + 1 */
    int name, from;             /* index into text + 1 */
} layer_args;

typedef struct layer_kind layer_kind;
typedef struct parser_frame {
    parser *p;
    const frame *f;
} parser_frame;
typedef int (*build_fn)(parser_frame pf, const layer_kind *k, const layer_args *a, const char *name, int in);

struct layer_kind {
    const char *kw;
    pos_kind pos; /* what positional arguments are */
    int min_pos, max_pos;
    const char *shorts; /* letters taking a number: "kspdg" -> k5 s2 ... */
    const char *flags[4];
    const char *keys[4]; /* key=value options */
    build_fn build;
    int param; /* per-kind constant (activation, pooling kind) */
};

/* "kN, sN, pN, dN, gN, nobias, eps=X" */
static void expected_options(const layer_kind *k, char *out, size_t size) {
    out[0] = 0;
    for (const char *c = k->shorts; *c; c++)
        snprintf(out + strlen(out), size - strlen(out), "%s%cN", out[0] ? ", " : "", *c);
    for (int i = 0; i < 4 && k->flags[i]; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s", out[0] ? ", " : "", k->flags[i]);
    for (int i = 0; i < 4 && k->keys[i]; i++)
        snprintf(out + strlen(out), size - strlen(out), "%s%s=X", out[0] ? ", " : "", k->keys[i]);
    if (!out[0]) snprintf(out, size, "only name= and from=");
}

static int looks_positional(const layer_kind *k, const char *s) {
    if (k->pos == POS_REF) return 1;
    if (k->pos == POS_NONE) return 0;
    return isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '.' || strcmp(s, "classes") == 0;
}

/* Sort the tokens of a layer line into positionals, short options, flags and key=value. */
static int classify(const parser *p, const frame *f, const layer_kind *k, layer_args *a, int n) {
    char expected[256];
    for (int i = 1; i < n; i++) {
        const char *s = a->text[i];
        const char *eq = strchr(s, '=');
        if (eq) {
            size_t kl = (size_t)(eq - s);
            int *slot = NULL;
            if (kl == 4 && strncmp(s, "name", 4) == 0)
                slot = &a->name;
            else if (kl == 4 && strncmp(s, "from", 4) == 0)
                slot = &a->from;
            for (int q = 0; !slot && q < 4 && k->keys[q]; q++)
                if (strlen(k->keys[q]) == kl && strncmp(k->keys[q], s, kl) == 0) slot = &a->keys[q];
            if (!slot) {
                expected_options(k, expected, sizeof expected);
                return fail_at(p, f, a->lineno, a->cols[i], "unknown option '%s' for %s (expected %s)", s, k->kw,
                               expected);
            }
            if (*slot) return fail_at(p, f, a->lineno, a->cols[i], "option '%.*s=' given twice", (int)kl, s);
            if (!eq[1]) return fail_at(p, f, a->lineno, a->cols[i], "option '%s' has no value", s);
            *slot = i + 1;
            continue;
        }
        int flag = -1;
        for (int q = 0; q < 4 && k->flags[q]; q++)
            if (strcmp(k->flags[q], s) == 0) flag = q;
        if (flag >= 0) {
            a->flags |= 1u << flag;
            continue;
        }
        if (looks_positional(k, s)) {
            if (a->n_pos == k->max_pos)
                return fail_at(p, f, a->lineno, a->cols[i], "%s takes at most %d argument%s, '%s' is one too many",
                               k->kw, k->max_pos, k->max_pos == 1 ? "" : "s", s);
            a->pos[a->n_pos++] = i;
            continue;
        }
        if (islower((unsigned char)s[0]) && (isdigit((unsigned char)s[1]) || s[1] == '-') && strchr(k->shorts, s[0])) {
            if (a->shorts[s[0] - 'a'])
                return fail_at(p, f, a->lineno, a->cols[i], "option %cN given twice for %s", s[0], k->kw);
            a->shorts[s[0] - 'a'] = i + 1;
            continue;
        }
        expected_options(k, expected, sizeof expected);
        return fail_at(p, f, a->lineno, a->cols[i], "unknown option '%s' for %s (expected %s)", s, k->kw, expected);
    }
    if (a->n_pos < k->min_pos)
        return fail_at(p, f, a->lineno, a->col, "%s needs %d argument%s", k->kw, k->min_pos,
                       k->min_pos == 1 ? "" : "s");
    return 0;
}

/* "7" or "3x5" or "3x3x3": up to 3 non-negative numbers; returns how many, -1 if malformed. */
static int parse_dims(const char *s, int *out) {
    int n = 0;
    while (*s && n < CN_MAX_SPATIAL) {
        if (!isdigit((unsigned char)*s)) return -1;
        char *end;
        long v = strtol(s, &end, 10);
        if (v > 1 << 20 || (*end && *end != 'x')) return -1;
        out[n++] = (int)v;
        s = *end ? end + 1 : end;
        if (*end && !*s) return -1;
    }
    return *s ? -1 : n;
}

/* A short option's numbers (k3 or k3x5) spread over the 3 spatial axes; def when absent. */
static int short_dims(parser_frame pf, const layer_args *a, char letter, int def, int minimum,
                      int out[CN_MAX_SPATIAL]) {
    int slot = a->shorts[letter - 'a'];
    for (int i = 0; i < CN_MAX_SPATIAL; i++) out[i] = def;
    if (!slot) return 0;
    const char *s = a->text[slot - 1];
    int v[CN_MAX_SPATIAL], n = parse_dims(s + 1, v);
    if (n < 1)
        return fail_at(pf.p, pf.f, a->lineno, a->cols[slot - 1], "'%s': %c needs a number or AxB (e.g. %c3 or %c3x5)",
                       s, letter, letter, letter);
    for (int i = 0; i < n; i++)
        if (v[i] < minimum)
            return fail_at(pf.p, pf.f, a->lineno, a->cols[slot - 1], "'%s': %c must be at least %d", s, letter,
                           minimum);
    /* k3x5 on a 2-D input: axis 0 gets 3, axis 1 gets 5; a single number goes to every axis */
    int spatial = cn_node_shape(pf.p->g, pf.p->cur).ndim - 2;
    if (n > 1 && n != spatial)
        return fail_at(pf.p, pf.f, a->lineno, a->cols[slot - 1],
                       "'%s' gives %d sizes for an input with %d spatial axes", s, n, spatial);
    for (int i = 0; i < CN_MAX_SPATIAL; i++) out[i] = n == 1 ? v[0] : (i < n ? v[i] : def);
    return 0;
}

/* A count (channels, features): a positive number or the word "classes". */
static int count_arg(parser_frame pf, const layer_args *a, int index, int *out) {
    const char *s = a->text[a->pos[index]];
    if (strcmp(s, "classes") == 0) {
        *out = pf.p->classes;
        return 0;
    }
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < 1 || v > 1 << 24)
        return fail_at(pf.p, pf.f, a->lineno, a->cols[a->pos[index]], "%s: '%s' is not a positive count (or 'classes')",
                       a->kw, s);
    *out = (int)v;
    return 0;
}

static int float_text(parser_frame pf, const layer_args *a, int tok, double lo, double hi, double *out) {
    const char *s = a->text[tok];
    if (strchr(s, '=')) s = strchr(s, '=') + 1;
    char *end;
    double v = strtod(s, &end);
    if (*end || end == s || !(v >= lo && v <= hi))
        return fail_at(pf.p, pf.f, a->lineno, a->cols[tok], "%s: '%s' is not a number in [%g, %g]", a->kw, a->text[tok],
                       lo, hi);
    *out = v;
    return 0;
}

/* The value of positional i (or def), or of key q (or def). */
static int pos_float(parser_frame pf, const layer_args *a, int i, double def, double lo, double hi, double *out) {
    *out = def;
    return i < a->n_pos ? float_text(pf, a, a->pos[i], lo, hi, out) : 0;
}
static int key_float(parser_frame pf, const layer_args *a, int q, double def, double lo, double hi, double *out) {
    *out = def;
    return a->keys[q] ? float_text(pf, a, a->keys[q] - 1, lo, hi, out) : 0;
}

/* ================================================================ the layer kinds */
/* Whether the line gave the kind's flag of this name (nobias, ceil, exclude_pad). */
static int has_flag(const layer_kind *k, const layer_args *a, const char *flag) {
    for (int i = 0; i < 4 && k->flags[i]; i++)
        if (strcmp(k->flags[i], flag) == 0) return (int)((a->flags >> i) & 1u);
    return 0;
}

static int build_conv(parser_frame pf, const layer_kind *k, const layer_args *a, const char *name, int in) {
    cn_conv_attr c;
    memset(&c, 0, sizeof c);
    int pad[CN_MAX_SPATIAL], groups[CN_MAX_SPATIAL];
    if (count_arg(pf, a, 0, &c.out_channels)) return -1;
    if (!a->shorts['k' - 'a'])
        return fail_at(pf.p, pf.f, a->lineno, a->col, "conv needs a kernel size (e.g. conv %s k3)", a->text[a->pos[0]]);
    if (short_dims(pf, a, 'k', 1, 1, c.kernel) || short_dims(pf, a, 's', 1, 1, c.stride) ||
        short_dims(pf, a, 'd', 1, 1, c.dilation) || short_dims(pf, a, 'p', 0, 0, pad) ||
        short_dims(pf, a, 'g', 1, 1, groups))
        return -1;
    memcpy(c.pad_begin, pad, sizeof pad);
    memcpy(c.pad_end, pad, sizeof pad);
    c.groups = groups[0];
    c.bias = !has_flag(k, a, "nobias");
    c.pad_mode = CN_PAD_ZEROS;
    return cn_conv(pf.p->g, name, in, &c);
}

static int build_fc(parser_frame pf, const layer_kind *k, const layer_args *a, const char *name, int in) {
    int out = 0;
    if (count_arg(pf, a, 0, &out)) return -1;
    return cn_linear(pf.p->g, name, in, out, !has_flag(k, a, "nobias"));
}

static int build_flatten(parser_frame pf, const layer_kind *k, const layer_args *a, const char *name, int in) {
    CN_UNUSED(k);
    CN_UNUSED(a);
    return cn_flatten(pf.p->g, name, in);
}

/* relu, sigmoid, tanh, gelu (no argument); leakyrelu [slope 0.01]; elu [alpha 1] */
static int build_act(parser_frame pf, const layer_kind *k, const layer_args *a, const char *name, int in) {
    double alpha = 0;
    if (k->param == CN_ACT_LEAKY_RELU && pos_float(pf, a, 0, 0.01, -1e6, 1e6, &alpha)) return -1;
    if (k->param == CN_ACT_ELU && pos_float(pf, a, 0, 1.0, 0, 1e6, &alpha)) return -1;
    return cn_activation(pf.p->g, name, in, (cn_act)k->param, (float)alpha);
}

static int build_softmax(parser_frame pf, const layer_kind *k, const layer_args *a, const char *name, int in) {
    CN_UNUSED(a);
    return k->param ? cn_log_softmax(pf.p->g, name, in, 1) : cn_softmax(pf.p->g, name, in, 1);
}

/* maxpool / avgpool kN [sN] [pN] [dN] [ceil] [exclude_pad]: stride defaults to the kernel (PyTorch). */
static int build_pool(parser_frame pf, const layer_kind *k, const layer_args *a, const char *name, int in) {
    cn_pool_attr c = cn_pool_attr_make((cn_pool_kind)k->param, 1, 1, 0);
    if (!a->shorts['k' - 'a'])
        return fail_at(pf.p, pf.f, a->lineno, a->col, "%s needs a kernel size (e.g. %s k2)", k->kw, k->kw);
    if (short_dims(pf, a, 'k', 1, 1, c.kernel) || short_dims(pf, a, 'p', 0, 0, c.pad)) return -1;
    if (a->shorts['s' - 'a'] ? short_dims(pf, a, 's', 1, 1, c.stride)
                             : (memcpy(c.stride, c.kernel, sizeof c.kernel), 0))
        return -1;
    if (k->param == CN_POOL_MAX && short_dims(pf, a, 'd', 1, 1, c.dilation)) return -1;
    c.ceil_mode = has_flag(k, a, "ceil");
    if (k->param == CN_POOL_AVG) c.count_include_pad = !has_flag(k, a, "exclude_pad");
    return cn_pool(pf.p->g, name, in, &c);
}

static int build_adaptive(parser_frame pf, const layer_kind *k, const layer_args *a, const char *name, int in) {
    CN_UNUSED(k);
    int size[CN_MAX_SPATIAL], n = parse_dims(a->text[a->pos[0]], size);
    int spatial = cn_node_shape(pf.p->g, in).ndim - 2;
    if (n < 1 || (n > 1 && n != spatial))
        return fail_at(pf.p, pf.f, a->lineno, a->cols[a->pos[0]],
                       "adaptive_avgpool: '%s' is not an output size (N, or one size per spatial axis: 7x7)",
                       a->text[a->pos[0]]);
    for (int i = n; i < CN_MAX_SPATIAL; i++) size[i] = size[0];
    return cn_adaptive_avgpool(pf.p->g, name, in, size);
}

static int build_global(parser_frame pf, const layer_kind *k, const layer_args *a, const char *name, int in) {
    CN_UNUSED(a);
    return cn_global_pool(pf.p->g, name, in, (cn_pool_kind)k->param);
}

static int build_bn(parser_frame pf, const layer_kind *k, const layer_args *a, const char *name, int in) {
    CN_UNUSED(k);
    double eps, momentum;
    if (key_float(pf, a, 0, 1e-5, 0, 1, &eps) || key_float(pf, a, 1, 0.1, 0, 1, &momentum)) return -1;
    return cn_batchnorm(pf.p->g, name, in, (float)eps, (float)momentum);
}

/* lrn SIZE [alpha=1e-4] [beta=0.75] [k=1]: PyTorch's LocalResponseNorm (alpha is divided by SIZE). */
static int build_lrn(parser_frame pf, const layer_kind *k, const layer_args *a, const char *name, int in) {
    CN_UNUSED(k);
    int size = 0;
    double alpha, beta, kk;
    if (count_arg(pf, a, 0, &size) || key_float(pf, a, 0, 1e-4, 0, 1e6, &alpha) ||
        key_float(pf, a, 1, 0.75, 0, 1e6, &beta) || key_float(pf, a, 2, 1.0, 0, 1e6, &kk))
        return -1;
    return cn_lrn(pf.p->g, name, in, size, (float)alpha, (float)beta, (float)kk);
}

static int build_dropout(parser_frame pf, const layer_kind *k, const layer_args *a, const char *name, int in) {
    CN_UNUSED(k);
    double prob;
    if (pos_float(pf, a, 0, 0.5, 0, 1, &prob)) return -1;
    return cn_dropout(pf.p->g, name, in, (float)prob);
}

/* add A [B ...] / concat A [B ...]: with one reference, the previous output and A; with more, exactly the
 * references, in order. */
static int build_merge(parser_frame pf, const layer_kind *k, const layer_args *a, const char *name, int in) {
    int xs[MAX_REFS + 1] = {in}, n = 0;
    if (a->n_pos == 1) xs[n++] = in;
    for (int i = 0; i < a->n_pos; i++) {
        xs[n] = resolve(pf.p, pf.f, a->lineno, a->cols[a->pos[i]], a->text[a->pos[i]]);
        if (xs[n++] < 0) return -1;
    }
    if (k->param) return cn_concat(pf.p->g, name, xs, n);
    /* a sum of more than two: a chain of adds, the inner ones named <name>.<i> */
    int h = xs[0];
    for (int i = 1; i < n && h >= 0; i++) {
        char inner[CN_NAME_MAX];
        const char *nm = name;
        if (i < n - 1) nm = name ? zoo_name(inner, "%s.%d", name, i) : NULL;
        h = cn_add(pf.p->g, nm, h, xs[i]);
    }
    return h;
}

static const layer_kind KINDS[] = {
    {"conv", POS_COUNT, 1, 1, "kspdg", {"nobias"}, {0}, build_conv, 0},
    {"fc", POS_COUNT, 1, 1, "", {"nobias"}, {0}, build_fc, 0},
    {"linear", POS_COUNT, 1, 1, "", {"nobias"}, {0}, build_fc, 0},
    {"flatten", POS_NONE, 0, 0, "", {0}, {0}, build_flatten, 0},
    {"relu", POS_NONE, 0, 0, "", {0}, {0}, build_act, CN_ACT_RELU},
    {"leakyrelu", POS_FLOAT, 0, 1, "", {0}, {0}, build_act, CN_ACT_LEAKY_RELU},
    {"elu", POS_FLOAT, 0, 1, "", {0}, {0}, build_act, CN_ACT_ELU},
    {"sigmoid", POS_NONE, 0, 0, "", {0}, {0}, build_act, CN_ACT_SIGMOID},
    {"tanh", POS_NONE, 0, 0, "", {0}, {0}, build_act, CN_ACT_TANH},
    {"gelu", POS_NONE, 0, 0, "", {0}, {0}, build_act, CN_ACT_GELU},
    {"softmax", POS_NONE, 0, 0, "", {0}, {0}, build_softmax, 0},
    {"logsoftmax", POS_NONE, 0, 0, "", {0}, {0}, build_softmax, 1},
    {"maxpool", POS_NONE, 0, 0, "kspd", {"ceil"}, {0}, build_pool, CN_POOL_MAX},
    {"avgpool", POS_NONE, 0, 0, "ksp", {"ceil", "exclude_pad"}, {0}, build_pool, CN_POOL_AVG},
    {"adaptive_avgpool", POS_SIZE, 1, 1, "", {0}, {0}, build_adaptive, 0},
    {"global_avgpool", POS_NONE, 0, 0, "", {0}, {0}, build_global, CN_POOL_AVG},
    {"global_maxpool", POS_NONE, 0, 0, "", {0}, {0}, build_global, CN_POOL_MAX},
    {"bn", POS_NONE, 0, 0, "", {0}, {"eps", "momentum"}, build_bn, 0},
    {"batchnorm", POS_NONE, 0, 0, "", {0}, {"eps", "momentum"}, build_bn, 0},
    {"lrn", POS_COUNT, 1, 1, "", {0}, {"alpha", "beta", "k"}, build_lrn, 0},
    {"dropout", POS_FLOAT, 0, 1, "", {0}, {0}, build_dropout, 0},
    {"add", POS_REF, 1, MAX_REFS, "", {0}, {0}, build_merge, 0},
    {"concat", POS_REF, 1, MAX_REFS, "", {0}, {0}, build_merge, 1},
};
#define N_KINDS ((int)(sizeof KINDS / sizeof KINDS[0]))

static int find_layer_kind(const char *kw) {
    for (int i = 0; i < N_KINDS; i++)
        if (strcmp(KINDS[i].kw, kw) == 0) return i;
    return -1;
}

/* ================================================================ the interpreter */
static int run_lines(parser *p, frame *f, int first, int last);

/* scope + name, checked for length. */
static int scoped_name(const parser *p, const frame *f, int lineno, int col, const char *name, char *out) {
    if (snprintf(out, CN_NAME_MAX, "%s%s", f->scope, name) >= CN_NAME_MAX)
        return fail_at(p, f, lineno, col, "name '%s%s' is longer than %d characters", f->scope, name, CN_NAME_MAX - 1);
    return 0;
}

/* A made-up name inside a scope: <scope><base><k> with the smallest k that is free. */
static void made_up_name(const parser *p, const frame *f, const char *base, char *out) {
    for (int k = 1;; k++)
        if (snprintf(out, CN_NAME_MAX, "%s%s%d", f->scope, base, k) >= CN_NAME_MAX || find_name(p, out) < 0) return;
}

static int run_layer(parser *p, const frame *f, const mline *l, const layer_kind *k) {
    layer_args *a = cn_calloc(1, sizeof *a);
    if (!a) return -1;
    int rc = -1, id = -1;
    a->kw = k->kw;
    a->lineno = l->lineno;
    a->col = l->tok[0].col;
    for (int i = 0; i < l->n; i++) {
        a->cols[i] = l->tok[i].col;
        if (substitute(p, f, l->lineno, &l->tok[i], a->text[i])) goto done;
    }
    if (classify(p, f, k, a, l->n)) goto done;
    parser_frame pf = {p, f};
    int in = p->cur;
    if (a->from && (in = resolve(p, f, l->lineno, a->cols[a->from - 1], a->text[a->from - 1] + 5)) < 0) goto done;
    char name[CN_NAME_MAX];
    const char *node_name = NULL;
    if (a->name) {
        if (scoped_name(p, f, l->lineno, a->cols[a->name - 1], a->text[a->name - 1] + 5, name)) goto done;
        node_name = name;
    } else if (f->scope[0]) {
        made_up_name(p, f, k->kw, name);
        node_name = name;
    }
    int saved = p->cur;
    p->cur = in; /* short_dims reads the input's rank from cur */
    id = k->build(pf, k, a, node_name, in);
    p->cur = saved;
    if (id < 0) {
        if (strncmp(cn_last_error(), p->path, strlen(p->path)) != 0) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", cn_last_error());
            fail_at(p, f, l->lineno, a->col, "%s: %s", k->kw, msg);
        }
        goto done;
    }
    p->cur = id;
    rc = 0;
done:
    cn_free(a);
    return rc;
}

/* Enter a scope (block NAME, or a def call with name=NAME): run the body, then NAME refers to the last
 * node made in it. */
static int run_scoped(parser *p, const frame *f, frame *inner, const mline *l, const char *name, int name_col, int from,
                      int first, int last) {
    if (p->depth >= MAX_DEPTH)
        return fail_at(p, f, l->lineno, 1, "blocks and def calls nested deeper than %d (a def calling itself?)",
                       MAX_DEPTH);
    inner->parent = f;
    inner->call_lineno = l->lineno;
    inner->in = from;
    char full[CN_NAME_MAX];
    if (name) {
        if (scoped_name(p, f, l->lineno, name_col, name, full)) return -1;
        if (find_name(p, full) >= 0)
            return fail_at(p, f, l->lineno, name_col, "'%s' is already the name of a node or block", full);
        if (snprintf(inner->scope, CN_NAME_MAX, "%s.", full) >= CN_NAME_MAX)
            return fail_at(p, f, l->lineno, name_col, "name '%s' is too long for a scope", full);
    } else
        snprintf(inner->scope, CN_NAME_MAX, "%s", f->scope);
    p->cur = from;
    p->depth++;
    int rc = run_lines(p, inner, first, last);
    p->depth--;
    if (rc) return -1;
    if (name && add_alias(p, full, p->cur)) return -1;
    return 0;
}

static int run_block(parser *p, const frame *f, int li) {
    const mline *l = &p->lines[li];
    if (l->n < 2) return fail_at(p, f, l->lineno, 1, "block needs a name: block NAME [from=NODE]");
    char name[TEXT_MAX], opt[TEXT_MAX];
    if (substitute(p, f, l->lineno, &l->tok[1], name)) return -1;
    int from = p->cur;
    for (int t = 2; t < l->n; t++) {
        if (substitute(p, f, l->lineno, &l->tok[t], opt)) return -1;
        if (strncmp(opt, "from=", 5) != 0)
            return fail_at(p, f, l->lineno, l->tok[t].col, "unknown option '%s' for block (expected from=NODE)", opt);
        if ((from = resolve(p, f, l->lineno, l->tok[t].col, opt + 5)) < 0) return -1;
    }
    frame *inner = cn_calloc(1, sizeof *inner);
    if (!inner) return -1;
    inner->what = "block";
    int rc = run_scoped(p, f, inner, l, name, l->tok[1].col, from, li + 1, l->end);
    cn_free(inner);
    return rc;
}

static int run_repeat(parser *p, const frame *f, int li) {
    const mline *l = &p->lines[li];
    char text[TEXT_MAX];
    long count = -1, start = 0;
    for (int t = 1; t < l->n; t++) {
        if (substitute(p, f, l->lineno, &l->tok[t], text)) return -1;
        char *end;
        if (t == 1) {
            count = strtol(text, &end, 10);
            if (*end || end == text || count < 0 || count > 100000)
                return fail_at(p, f, l->lineno, l->tok[t].col, "repeat: '%s' is not a count", text);
        } else if (strncmp(text, "start=", 6) == 0) {
            start = strtol(text + 6, &end, 10);
            if (*end || end == text + 6 || start < 0 || start > 1000000)
                return fail_at(p, f, l->lineno, l->tok[t].col, "repeat: '%s' is not a start index", text);
        } else
            return fail_at(p, f, l->lineno, l->tok[t].col, "unknown option '%s' for repeat (expected start=N)", text);
    }
    if (count < 0) return fail_at(p, f, l->lineno, 1, "repeat needs a count: repeat N [start=S]");
    frame *inner = cn_calloc(1, sizeof *inner);
    if (!inner) return -1;
    inner->parent = f;
    inner->in = f->in;
    inner->what = "repeat";
    inner->call_lineno = l->lineno;
    snprintf(inner->scope, CN_NAME_MAX, "%s", f->scope);
    inner->var_names[0] = "i";
    inner->n_vars = 1;
    int rc = 0;
    for (long r = 0; r < count && !rc; r++) {
        snprintf(inner->var_values[0], TEXT_MAX, "%ld", start + r);
        rc = run_lines(p, inner, li + 1, l->end);
    }
    cn_free(inner);
    return rc;
}

/* NAME positional... [param=value] [name=SCOPE] [from=NODE] */
static int run_call(parser *p, const frame *f, const mline *l, def_info *d) {
    frame *inner = cn_calloc(1, sizeof *inner);
    if (!inner) return -1;
    char what[CN_NAME_MAX + 16], text[TEXT_MAX], scope[TEXT_MAX] = "";
    int given[MAX_PARAMS] = {0}, n_pos = 0, from = p->cur, scope_col = l->tok[0].col, rc = -1;
    snprintf(what, sizeof what, "def '%s'", d->name);
    inner->what = what;
    for (int t = 1; t < l->n; t++) {
        if (substitute(p, f, l->lineno, &l->tok[t], text)) goto done;
        char *eq = strchr(text, '=');
        int slot = -1;
        if (eq) {
            *eq = 0;
            if (strcmp(text, "name") == 0) {
                snprintf(scope, sizeof scope, "%s", eq + 1);
                scope_col = l->tok[t].col;
                continue;
            }
            if (strcmp(text, "from") == 0) {
                if ((from = resolve(p, f, l->lineno, l->tok[t].col, eq + 1)) < 0) goto done;
                continue;
            }
            for (int q = 0; q < d->n_params; q++)
                if (strcmp(d->params[q], text) == 0) slot = q;
            if (slot < 0) {
                fail_at(p, f, l->lineno, l->tok[t].col, "%s has no parameter '%s'", d->name, text);
                goto done;
            }
        } else {
            if (n_pos >= d->n_params) {
                fail_at(p, f, l->lineno, l->tok[t].col, "%s takes %d argument%s, '%s' is one too many", d->name,
                        d->n_params, d->n_params == 1 ? "" : "s", text);
                goto done;
            }
            slot = n_pos++;
        }
        if (given[slot]) {
            fail_at(p, f, l->lineno, l->tok[t].col, "%s: parameter '%s' given twice", d->name, d->params[slot]);
            goto done;
        }
        given[slot] = 1;
        snprintf(inner->var_values[slot], TEXT_MAX, "%s", eq ? eq + 1 : text);
    }
    for (int q = 0; q < d->n_params; q++) {
        inner->var_names[q] = d->params[q];
        if (!given[q]) {
            if (!d->defaults[q]) {
                fail_at(p, f, l->lineno, l->tok[0].col, "%s needs a value for '%s' (def at line %d)", d->name,
                        d->params[q], p->lines[d->line].lineno);
                goto done;
            }
            snprintf(inner->var_values[q], TEXT_MAX, "%s", d->defaults[q]);
        }
    }
    inner->n_vars = d->n_params;
    if (!scope[0]) {
        char made[CN_NAME_MAX];
        int len;
        do len = snprintf(made, sizeof made, "%s%s%d", f->scope, d->name, ++d->calls);
        while (len < (int)sizeof made && find_name(p, made) >= 0);
        snprintf(scope, sizeof scope, "%s%d", d->name, d->calls);
    }
    rc = run_scoped(p, f, inner, l, scope, scope_col, from, d->line + 1, p->lines[d->line].end);
done:
    cn_free(inner);
    return rc;
}

static int run_lines(parser *p, frame *f, int first, int last) {
    for (int li = first; li < last; li++) {
        const mline *l = &p->lines[li];
        const char *kw = l->tok[0].text;
        int rc = 0;
        if (strcmp(kw, "def") == 0) {
            li = l->end;
            continue;
        } else if (strcmp(kw, "input") == 0) {
            continue; /* read by structure() */
        } else if (strcmp(kw, "block") == 0) {
            rc = run_block(p, f, li);
            li = l->end;
        } else if (strcmp(kw, "repeat") == 0) {
            rc = run_repeat(p, f, li);
            li = l->end;
        } else {
            int k = find_layer_kind(kw);
            def_info *d = (def_info *)find_def(p, kw);
            if (k >= 0)
                rc = run_layer(p, f, l, &KINDS[k]);
            else if (d)
                rc = run_call(p, f, l, d);
            else {
                char kinds[512] = "";
                for (int i = 0; i < N_KINDS; i++)
                    snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s", i ? ", " : "", KINDS[i].kw);
                rc = fail_at(p, f, l->lineno, l->tok[0].col, "unknown layer '%s' (expected %s, or a def)", kw, kinds);
            }
        }
        if (rc) return -1;
    }
    return 0;
}

int zoo_build_file(cn_graph *g, const char *path, int x, int classes) {
    parser p;
    int out = -1;
    if (parser_load(&p, path) == 0) {
        p.g = g;
        p.x = x;
        p.cur = x;
        p.classes = classes;
        frame *top = cn_calloc(1, sizeof *top);
        if (top) {
            top->in = x;
            if (run_lines(&p, top, 0, p.n_lines) == 0) {
                if (p.cur == x)
                    fail_at(&p, NULL, p.n_lines ? p.lines[p.n_lines - 1].lineno : 1, 1, "the model has no layers");
                else
                    out = p.cur;
            }
        }
        cn_free(top);
    }
    parser_free(&p);
    return out;
}

cn_status zoo_file_input_size(const char *path, int *channels, int *height, int *width) {
    parser p;
    cn_status st = CN_OK;
    if (parser_load(&p, path))
        st = CN_ERR_FORMAT;
    else if (!p.has_input || p.input_ndim != 3)
        st = cn_error(CN_ERR_INVALID, "model file %s: no 'input CxHxW' line", path);
    else {
        *channels = p.input_dims[0];
        *height = p.input_dims[1];
        *width = p.input_dims[2];
    }
    parser_free(&p);
    return st;
}
