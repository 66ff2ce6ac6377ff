/* json.h — a small JSON reader: enough for safetensors headers, golden-file attributes and CLI options.
 * The whole document is parsed into one array of values; children are found by walking. */
#ifndef CN_JSON_H
#define CN_JSON_H

#include "internal.h"

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } json_type;

typedef struct json_value {
    json_type type;
    double number;              /* also bool: 0 or 1 */
    char *string;               /* JSON_STRING (unescaped, NUL-terminated); also object member keys */
    char *key;                  /* the member name when this value sits in an object */
    struct json_value *child;   /* first element or member */
    struct json_value *next;    /* next sibling */
    int count;                  /* number of children */
} json_value;

/* Parse text (length bytes). NULL on error, with a message naming the byte offset. */
json_value *json_parse(const char *text, size_t length);
void json_free(json_value *v);
const json_value *json_get(const json_value *object, const char *key);  /* member or NULL */
const json_value *json_at(const json_value *array, int index);
/* Member as a number / string, or the fallback when absent or of another type. */
double json_get_number(const json_value *object, const char *key, double fallback);
const char *json_get_string(const json_value *object, const char *key, const char *fallback);

#endif
