/* fuzz_onnx.c — libFuzzer target for the ONNX model loader: any bytes must give a graph or an error, never
 * a crash, a leak or a sanitizer report. A model that loads is run once when its tensors are small. The
 * library's allocator is capped (256 MiB a block, 1 GiB live), as a small machine would be: a model that
 * asks for more must fail with CN_ERR_NOMEM, cleanly, instead of exhausting the fuzzer's memory.
 * Build and run (clang):
 *   CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCN_SANITIZE=ON -DCN_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_onnx
 *   mkdir -p corpus && cp tests/onnx/models/blocks_op13.onnx tests/onnx/models/lenet5_op13.onnx corpus/
 *   ASAN_OPTIONS=allocator_may_return_null=1 build-fuzz/fuzz_onnx -max_total_time=60 -rss_limit_mb=4096 corpus */
#include "convnet.h"
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

enum { HEADER = 64 };                       /* keeps the 64-byte alignment; holds the block's size */
static const size_t BLOCK_MAX = (size_t)256 << 20, LIVE_MAX = (size_t)1 << 30;
static size_t live;

static void *capped_alloc(size_t bytes, void *user) {
    (void)user;
    if (bytes > BLOCK_MAX || live + bytes > LIVE_MAX) return NULL;
    size_t rounded = (bytes + HEADER + 63) / 64 * 64;
    unsigned char *p = aligned_alloc(64, rounded);
    if (!p) return NULL;
    *(size_t *)p = bytes;
    live += bytes;
    return p + HEADER;
}

static void capped_free(void *ptr, void *user) {
    (void)user;
    unsigned char *p = (unsigned char *)ptr - HEADER;
    live -= *(size_t *)p;
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cn_set_allocator(&(cn_allocator){capped_alloc, capped_free, NULL});
    cn_onnx_info info;
    cn_graph *g = cn_onnx_load_buffer(data, size, NULL, 0, &info);
    if (!g) {
        if (live) __builtin_trap(); /* a failed load must give back everything it took */
        return 0;
    }
    int64_t total = 0;
    for (int i = 0; i < cn_graph_node_count(g); i++) {
        cn_shape s = cn_node_shape(g, i);
        total += cn_shape_numel(&s);
    }
    if (total < (1 << 22)) cn_forward(g, CN_EVAL);
    cn_graph_free(g);
    if (live) __builtin_trap();
    return 0;
}
