/* error.c — the thread-local error message behind cn_last_error(). */
#include "internal.h"
#include <stdio.h>

static _Thread_local char error_message[512];

cn_status cn_error(cn_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    va_end(ap);
    return status;
}

void cn_clear_error(void) { error_message[0] = '\0'; }

const char *cn_last_error(void) { return error_message; }

const char *cn_status_name(cn_status s) {
    switch (s) {
    case CN_OK: return "ok";
    case CN_ERR_INVALID: return "invalid argument";
    case CN_ERR_SHAPE: return "shape mismatch";
    case CN_ERR_NOMEM: return "out of memory";
    case CN_ERR_IO: return "I/O error";
    case CN_ERR_FORMAT: return "bad file format";
    case CN_ERR_UNSUPPORTED: return "unsupported";
    case CN_ERR_NUMERIC: return "not a finite number";
    }
    return "unknown status";
}
