/* json.c — a recursive-descent JSON parser (RFC 8259), depth-limited, never trusting its input. */
#include "json.h"
#include <errno.h>
#include <stdlib.h>

typedef struct {
    const char *s;
    size_t pos, len;
    int depth;
    bool failed;
} parser;

static void fail(parser *p, const char *what) {
    if (!p->failed) cn_error(CN_ERR_FORMAT, "JSON: %s at byte %zu", what, p->pos);
    p->failed = true;
}

static void skip_space(parser *p) {
    while (p->pos < p->len && (p->s[p->pos] == ' ' || p->s[p->pos] == '\t' || p->s[p->pos] == '\n' || p->s[p->pos] == '\r'))
        p->pos++;
}

static json_value *new_value(json_type t) {
    json_value *v = cn_calloc(1, sizeof *v);
    if (v) v->type = t;
    return v;
}

static int hex4(parser *p, unsigned *out) {
    if (p->pos + 4 > p->len) return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    *out = v;
    return 1;
}

static char *parse_string(parser *p) {
    p->pos++; /* opening quote */
    size_t start = p->pos, cap = 1;
    while (p->pos < p->len && p->s[p->pos] != '"') {
        if (p->s[p->pos] == '\\') p->pos++;
        p->pos++;
        cap++;
    }
    if (p->pos >= p->len) {
        fail(p, "unterminated string");
        return NULL;
    }
    char *out = cn_malloc(cap * 3 + 1); /* \uXXXX can become up to 3 bytes of UTF-8 */
    if (!out) {
        p->failed = true;
        return NULL;
    }
    size_t o = 0;
    p->pos = start;
    while (p->s[p->pos] != '"') {
        char c = p->s[p->pos++];
        if ((unsigned char)c < 0x20) {
            fail(p, "control character in string");
            break;
        }
        if (c != '\\') {
            out[o++] = c;
            continue;
        }
        c = p->s[p->pos++];
        switch (c) {
        case '"': case '\\': case '/': out[o++] = c; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (!hex4(p, &cp)) {
                fail(p, "bad \\u escape");
                break;
            }
            if (cp < 0x80) out[o++] = (char)cp;
            else if (cp < 0x800) {
                out[o++] = (char)(0xC0 | (cp >> 6));
                out[o++] = (char)(0x80 | (cp & 0x3F));
            } else {
                out[o++] = (char)(0xE0 | (cp >> 12));
                out[o++] = (char)(0x80 | ((cp >> 6) & 0x3F));
                out[o++] = (char)(0x80 | (cp & 0x3F));
            }
            break;
        }
        default: fail(p, "bad escape in string");
        }
        if (p->failed) break;
    }
    out[o] = '\0';
    p->pos++; /* closing quote */
    if (p->failed) {
        cn_free(out);
        return NULL;
    }
    return out;
}

static json_value *parse_value(parser *p);

static json_value *parse_container(parser *p, bool object) {
    json_value *v = new_value(object ? JSON_OBJECT : JSON_ARRAY);
    if (!v) {
        p->failed = true;
        return NULL;
    }
    char close = object ? '}' : ']';
    p->pos++;
    skip_space(p);
    json_value **tail = &v->child;
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return v;
    }
    for (;;) {
        char *key = NULL;
        skip_space(p);
        if (object) {
            if (p->pos >= p->len || p->s[p->pos] != '"') {
                fail(p, "expected a member name");
                break;
            }
            if (!(key = parse_string(p))) break;
            skip_space(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                cn_free(key);
                fail(p, "expected ':'");
                break;
            }
            p->pos++;
        }
        json_value *item = parse_value(p);
        if (!item) {
            cn_free(key);
            break;
        }
        item->key = key;
        *tail = item;
        tail = &item->next;
        v->count++;
        skip_space(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return v;
        }
        fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
        break;
    }
    json_free(v);
    return NULL;
}

static bool match(parser *p, const char *word) {
    size_t n = strlen(word);
    if (p->pos + n <= p->len && memcmp(p->s + p->pos, word, n) == 0) {
        p->pos += n;
        return true;
    }
    return false;
}

static json_value *parse_value(parser *p) {
    skip_space(p);
    if (p->pos >= p->len) {
        fail(p, "unexpected end");
        return NULL;
    }
    if (++p->depth > 64) {
        fail(p, "nested too deeply");
        return NULL;
    }
    json_value *v = NULL;
    char c = p->s[p->pos];
    if (c == '{' || c == '[') v = parse_container(p, c == '{');
    else if (c == '"') {
        char *s = parse_string(p);
        if (s && !(v = new_value(JSON_STRING))) cn_free(s);
        else if (v) v->string = s;
    } else if (match(p, "true") || match(p, "false")) {
        if ((v = new_value(JSON_BOOL))) v->number = p->s[p->pos - 1] == 'e' && p->s[p->pos - 2] == 'u';
    } else if (match(p, "null")) v = new_value(JSON_NULL);
    else if (c == '-' || (c >= '0' && c <= '9')) {
        char buf[64];
        size_t n = 0;
        while (p->pos < p->len && n < sizeof buf - 1 && strchr("+-0123456789.eE", p->s[p->pos]))
            buf[n++] = p->s[p->pos++];
        buf[n] = '\0';
        char *end;
        errno = 0;
        double d = strtod(buf, &end);
        if (end != buf + n || n == 0) fail(p, "bad number");
        else if ((v = new_value(JSON_NUMBER))) v->number = d;
    } else fail(p, "unexpected character");
    p->depth--;
    if (!v && !p->failed) {
        p->failed = true;
        cn_error(CN_ERR_NOMEM, "JSON: out of memory");
    }
    return v;
}

json_value *json_parse(const char *text, size_t length) {
    parser p = {text, 0, length, 0, false};
    json_value *v = parse_value(&p);
    if (v) {
        skip_space(&p);
        if (p.pos != p.len) {
            fail(&p, "trailing characters");
            json_free(v);
            v = NULL;
        }
    }
    return v;
}

void json_free(json_value *v) {
    while (v) {
        json_value *next = v->next;
        json_free(v->child);
        cn_free(v->string);
        cn_free(v->key);
        cn_free(v);
        v = next;
    }
}

const json_value *json_get(const json_value *o, const char *key) {
    if (!o || o->type != JSON_OBJECT) return NULL;
    for (const json_value *c = o->child; c; c = c->next)
        if (strcmp(c->key, key) == 0) return c;
    return NULL;
}

const json_value *json_at(const json_value *a, int index) {
    if (!a || a->type != JSON_ARRAY || index < 0) return NULL;
    const json_value *c = a->child;
    while (c && index--) c = c->next;
    return c;
}

double json_get_number(const json_value *o, const char *key, double fallback) {
    const json_value *v = json_get(o, key);
    return v && (v->type == JSON_NUMBER || v->type == JSON_BOOL) ? v->number : fallback;
}

const char *json_get_string(const json_value *o, const char *key, const char *fallback) {
    const json_value *v = json_get(o, key);
    return v && v->type == JSON_STRING ? v->string : fallback;
}
