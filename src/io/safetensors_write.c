/* safetensors_write.c — writing the safetensors format atomically (see safetensors.h): 8-byte
 * little-endian header length, the JSON header padded with spaces to a multiple of 8, then the tensors'
 * bytes in order. The file appears under its name only once it is complete and on disk. */
#include "safetensors.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; this writer copies memory as it is"
#endif

/* ---- a growable text buffer for the header */
typedef struct {
    char *text;
    size_t len, cap;
    bool failed;
} text_buf;

static void buf_append(text_buf *b, const char *s, size_t n) {
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n + 1) cap *= 2;
        char *grown = cn_malloc(cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        if (b->len) memcpy(grown, b->text, b->len);
        cn_free(b->text);
        b->text = grown;
        b->cap = cap;
    }
    memcpy(b->text + b->len, s, n);
    b->len += n;
    b->text[b->len] = '\0';
}

static void buf_puts(text_buf *b, const char *s) { buf_append(b, s, strlen(s)); }

static void buf_printf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(text_buf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) buf_append(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A JSON string literal: quotes, backslashes and control characters escaped; UTF-8 passes through. */
static void buf_json_string(text_buf *b, const char *s) {
    buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"') buf_puts(b, "\\\"");
        else if (*p == '\\') buf_puts(b, "\\\\");
        else if (*p == '\n') buf_puts(b, "\\n");
        else if (*p == '\t') buf_puts(b, "\\t");
        else if (*p < 0x20) buf_printf(b, "\\u%04x", *p);
        else buf_append(b, (const char *)p, 1);
    }
    buf_puts(b, "\"");
}

static cn_status check_tensors(const char *path, const st_write_tensor *t, int count) {
    for (int i = 0; i < count; i++) {
        size_t esize = t[i].dtype ? st_dtype_size(t[i].dtype) : 0;
        if (!t[i].name || !esize || t[i].ndim < 0 || t[i].ndim > 8 || (t[i].ndim && !t[i].dims) ||
            strcmp(t[i].name, "__metadata__") == 0)
            return cn_error(CN_ERR_INVALID, "%s: tensor %d has no name, a bad dtype or a bad rank", path, i);
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            if (t[i].dims[d] < 0) return cn_error(CN_ERR_INVALID, "%s: tensor '%s' has a negative dimension", path, t[i].name);
            numel *= (uint64_t)t[i].dims[d];
        }
        if (numel * esize != t[i].bytes || (t[i].bytes && !t[i].data))
            return cn_error(CN_ERR_INVALID, "%s: tensor '%s' has %zu bytes, its shape needs %llu", path, t[i].name,
                            t[i].bytes, (unsigned long long)(numel * esize));
        for (int j = 0; j < i; j++)
            if (strcmp(t[i].name, t[j].name) == 0)
                return cn_error(CN_ERR_INVALID, "%s: tensor name '%s' appears twice", path, t[i].name);
    }
    return CN_OK;
}

/* The JSON header, padded with spaces to a multiple of 8 bytes. */
static cn_status make_header(const char *path, text_buf *h, const st_write_tensor *t, int count,
                             const st_meta_entry *meta, int n_meta) {
    buf_puts(h, "{");
    if (n_meta > 0) {
        buf_puts(h, "\"__metadata__\":{");
        for (int i = 0; i < n_meta; i++) {
            if (!meta[i].key || !meta[i].value) {
                cn_free(h->text);
                return cn_error(CN_ERR_INVALID, "%s: metadata entry %d has no key or value", path, i);
            }
            if (i) buf_puts(h, ",");
            buf_json_string(h, meta[i].key);
            buf_puts(h, ":");
            buf_json_string(h, meta[i].value);
        }
        buf_puts(h, "}");
    }
    uint64_t offset = 0;
    for (int i = 0; i < count; i++) {
        if (i || n_meta > 0) buf_puts(h, ",");
        buf_json_string(h, t[i].name);
        buf_printf(h, ":{\"dtype\":\"%s\",\"shape\":[", t[i].dtype);
        for (int d = 0; d < t[i].ndim; d++) buf_printf(h, "%s%lld", d ? "," : "", (long long)t[i].dims[d]);
        buf_printf(h, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)offset,
                   (unsigned long long)(offset + t[i].bytes));
        offset += t[i].bytes;
    }
    buf_puts(h, "}");
    while (!h->failed && h->len % 8) buf_puts(h, " ");
    if (h->failed) {
        cn_free(h->text);
        return CN_ERR_NOMEM;
    }
    return CN_OK;
}

/* fsync the directory holding path, so that the rename itself is durable. */
static void sync_directory(const char *path) {
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd); /* best effort: some file systems refuse to fsync a directory */
        close(fd);
    }
}

static cn_status write_all(FILE *fp, const text_buf *h, const st_write_tensor *t, int count) {
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h->len >> (8 * i));
    if (fwrite(len8, 1, 8, fp) != 8 || fwrite(h->text, 1, h->len, fp) != h->len) return CN_ERR_IO;
    for (int i = 0; i < count; i++)
        if (t[i].bytes && fwrite(t[i].data, 1, t[i].bytes, fp) != t[i].bytes) return CN_ERR_IO;
    if (fflush(fp) != 0 || fsync(fileno(fp)) != 0) return CN_ERR_IO;
    return CN_OK;
}

/* "<path>.tmp.<pid>.<n>", created exclusively with mode 0666 & ~umask (mkstemp would make it 0600). */
static int create_temporary(const char *path, char *tmp, size_t tmp_len) {
    for (int attempt = 0; attempt < 1000; attempt++) {
        snprintf(tmp, tmp_len, "%s.tmp.%ld.%d", path, (long)getpid(), attempt);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

cn_status st_write(const char *path, const st_write_tensor *tensors, int count, const st_meta_entry *meta, int n_meta) {
    if (!path || count < 0 || n_meta < 0 || (count && !tensors) || (n_meta && !meta))
        return cn_error(CN_ERR_INVALID, "safetensors write: bad arguments");
    cn_status st = check_tensors(path, tensors, count);
    if (st) return st;
    text_buf header = {0};
    st = make_header(path, &header, tensors, count, meta, n_meta);
    if (st) return st;
    size_t tmp_len = strlen(path) + 48;
    char *tmp = cn_malloc(tmp_len);
    if (!tmp) {
        cn_free(header.text);
        return CN_ERR_NOMEM;
    }
    int fd = create_temporary(path, tmp, tmp_len);
    if (fd < 0) {
        st = cn_error(CN_ERR_IO, "%s: cannot create a temporary file beside it: %s", path, strerror(errno));
        goto done;
    }
    FILE *fp = fdopen(fd, "wb");
    if (!fp) {
        st = cn_error(CN_ERR_IO, "%s: cannot open the temporary file: %s", path, strerror(errno));
        close(fd);
        unlink(tmp);
        goto done;
    }
    errno = 0;
    st = write_all(fp, &header, tensors, count);
    int saved_errno = errno;
    if (fclose(fp) != 0 && st == CN_OK) {
        st = CN_ERR_IO;
        saved_errno = errno;
    }
    if (st) {
        unlink(tmp);
        st = cn_error(CN_ERR_IO, "%s: write failed, the previous file (if any) is unchanged: %s", path,
                      strerror(saved_errno ? saved_errno : EIO));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        saved_errno = errno;
        unlink(tmp);
        st = cn_error(CN_ERR_IO, "%s: cannot rename the temporary file over it: %s", path, strerror(saved_errno));
        goto done;
    }
    sync_directory(path);
done:
    cn_free(tmp);
    cn_free(header.text);
    return st;
}
