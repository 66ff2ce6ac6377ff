/* fuzz_onnx.c — libFuzzer target for the ONNX model loader: any bytes must give a graph or an error, never
 * a crash, a leak or a sanitizer report. A model that loads is run once when its tensors are small.
 * Build and run (clang):
 *   CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCN_SANITIZE=ON -DCN_FUZZ=ON
 *   cmake --build build-fuzz --target fuzz_onnx
 *   mkdir -p corpus && cp tests/onnx/models/blocks_op13.onnx tests/onnx/models/lenet5_op13.onnx corpus/
 *   ASAN_OPTIONS=allocator_may_return_null=1 build-fuzz/fuzz_onnx -max_total_time=60 -rss_limit_mb=4096 corpus */
#include "convnet.h"
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cn_onnx_info info;
    cn_graph *g = cn_onnx_load_buffer(data, size, NULL, 0, &info);
    if (!g) return 0;
    int64_t total = 0;
    for (int i = 0; i < cn_graph_node_count(g); i++) {
        cn_shape s = cn_node_shape(g, i);
        total += cn_shape_numel(&s);
    }
    if (total < (1 << 22)) cn_forward(g, CN_EVAL);
    cn_graph_free(g);
    return 0;
}
