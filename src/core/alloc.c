/* alloc.c — every heap allocation of the library goes through here, so that a test can count them. */
#include "internal.h"
#include <stdlib.h>

static void *default_alloc(size_t bytes, void *user) {
    CN_UNUSED(user);
    size_t rounded = (bytes + CN_ALIGN - 1) / CN_ALIGN * CN_ALIGN;
    return aligned_alloc(CN_ALIGN, rounded ? rounded : CN_ALIGN);
}
static void default_free(void *ptr, void *user) {
    CN_UNUSED(user);
    free(ptr);
}

/* The one piece of global mutable state besides the kernel dispatch table and the error message. */
static cn_allocator allocator = {default_alloc, default_free, NULL};

void cn_set_allocator(const cn_allocator *a) {
    if (a) allocator = *a;
    else allocator = (cn_allocator){default_alloc, default_free, NULL};
}

void *cn_malloc(size_t bytes) {
    void *p = allocator.alloc(bytes, allocator.user);
    if (!p) cn_error(CN_ERR_NOMEM, "out of memory allocating %zu bytes", bytes);
    return p;
}

void *cn_calloc(size_t count, size_t size) {
    if (size && count > SIZE_MAX / size) {
        cn_error(CN_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    void *p = cn_malloc(count * size);
    if (p) memset(p, 0, count * size);
    return p;
}

void cn_free(void *ptr) {
    if (ptr) allocator.free(ptr, allocator.user);
}
