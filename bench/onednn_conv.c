/* onednn_conv.c — time one oneDNN (C API) convolution forward pass, for bench/run.py's comparison.
 *   cc -O2 bench/onednn_conv.c -ldnnl -o onednn_conv
 *   OMP_NUM_THREADS=2 ./onednn_conv direct|winograd|auto MB G IC IH IW OC OH OW KH KW SH SW PH PW DH DW
 * (DH/DW: dilation minus one, as in benchdnn). Memory formats are left to oneDNN (format_tag_any, its
 * blocked layouts: what benchdnn measures), inference forward with bias. Prints one JSON line
 * {"median_ms", "min_ms", "gflops", "algorithm"} or {"error": ...} when the primitive is not available. */
#include <dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define CHECK(call)                                                                              \
    do {                                                                                         \
        dnnl_status_t st_ = (call);                                                              \
        if (st_ != dnnl_success) {                                                               \
            printf("{\"error\": \"%s failed: status %d\"}\n", #call, (int)st_);                  \
            return 0;                                                                            \
        }                                                                                        \
    } while (0)

static void fill(dnnl_memory_t m) {
    void *p = NULL;
    dnnl_memory_get_data_handle(m, &p);
    const dnnl_memory_desc_t *md;
    dnnl_memory_get_memory_desc(m, &md);
    size_t n = dnnl_memory_desc_get_size(md) / sizeof(float);
    float *f = p;
    for (size_t i = 0; i < n; i++) f[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
}

int main(int argc, char **argv) {
    if (argc != 18 && argc != 19) {
        fprintf(stderr, "usage: onednn_conv direct|winograd|auto MB G IC IH IW OC OH OW KH KW SH SW PH PW DH DW\n");
        return 2;
    }
    long v[16];
    for (int i = 0; i < 16; i++) v[i] = atol(argv[2 + i]);
    long mb = v[0], g = v[1], ic = v[2], ih = v[3], iw = v[4], oc = v[5], oh = v[6], ow = v[7], kh = v[8], kw = v[9];
    long sh = v[10], sw = v[11], ph = v[12], pw = v[13], dh = v[14], dw = v[15];
    dnnl_alg_kind_t alg = strcmp(argv[1], "winograd") == 0 ? dnnl_convolution_winograd
                        : strcmp(argv[1], "auto") == 0 ? dnnl_convolution_auto : dnnl_convolution_direct;
    dnnl_engine_t eng;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));
    dnnl_dims_t src_d = {mb, ic, ih, iw}, dst_d = {mb, oc, oh, ow}, bias_d = {oc};
    dnnl_dims_t w_d = {oc, ic, kh, kw}, wg_d = {g, oc / g, ic / g, kh, kw};
    dnnl_dims_t strides = {sh, sw}, dil = {dh, dw}, pad_l = {ph, pw}, pad_r;
    /* right padding so that the output size matches: (ih + pl + pr - ((kh-1)*(dh+1)+1))/sh + 1 = oh */
    pad_r[0] = (oh - 1) * sh + (kh - 1) * (dh + 1) + 1 - ih - ph;
    pad_r[1] = (ow - 1) * sw + (kw - 1) * (dw + 1) + 1 - iw - pw;
    if (pad_r[0] < 0) pad_r[0] = 0;
    if (pad_r[1] < 0) pad_r[1] = 0;
    dnnl_memory_desc_t src_md, w_md, b_md, dst_md;
    CHECK(dnnl_memory_desc_init_by_tag(&src_md, 4, src_d, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&dst_md, 4, dst_d, dnnl_f32, dnnl_format_tag_any));
    CHECK(dnnl_memory_desc_init_by_tag(&b_md, 1, bias_d, dnnl_f32, dnnl_a));
    if (g > 1) CHECK(dnnl_memory_desc_init_by_tag(&w_md, 5, wg_d, dnnl_f32, dnnl_format_tag_any));
    else CHECK(dnnl_memory_desc_init_by_tag(&w_md, 4, w_d, dnnl_f32, dnnl_format_tag_any));
    dnnl_convolution_desc_t desc;
    CHECK(dnnl_dilated_convolution_forward_desc_init(&desc, dnnl_forward_inference, alg, &src_md, &w_md, &b_md, &dst_md,
                                                     strides, dil, pad_l, pad_r));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &desc, NULL, eng, NULL));
    const char *impl = "?";
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl);
    dnnl_memory_t src, w, b, dst;
    CHECK(dnnl_memory_create(&src, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0), eng, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&w, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0), eng, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&b, dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1), eng, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_create(&dst, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0), eng, DNNL_MEMORY_ALLOCATE));
    fill(src), fill(w), fill(b);
    dnnl_primitive_t prim;
    CHECK(dnnl_primitive_create(&prim, pd));
    dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, dst}};
    enum { MAX = 200 };
    double t[MAX], total = 0, min_seconds = argc > 18 ? atof(argv[18]) : 0.5;
    for (int i = 0; i < 2; i++) {
        CHECK(dnnl_primitive_execute(prim, stream, 4, args));
        CHECK(dnnl_stream_wait(stream));
    }
    int n = 0;
    while (n < MAX && (n < 5 || total < min_seconds)) {
        double t0 = now();
        dnnl_primitive_execute(prim, stream, 4, args);
        dnnl_stream_wait(stream);
        t[n] = now() - t0;
        total += t[n++];
    }
    qsort(t, (size_t)n, sizeof t[0], cmp);
    double med = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    double flops = 2.0 * mb * oc * oh * ow * (ic / g) * kh * kw;
    printf("{\"median_ms\": %.4f, \"min_ms\": %.4f, \"gflops\": %.2f, \"algorithm\": \"%s\", \"iters\": %d}\n", med * 1e3,
           t[0] * 1e3, flops / med / 1e9, impl, n);
    dnnl_primitive_destroy(prim);
    dnnl_primitive_desc_destroy(pd);
    dnnl_memory_destroy(src), dnnl_memory_destroy(w), dnnl_memory_destroy(b), dnnl_memory_destroy(dst);
    dnnl_stream_destroy(stream);
    dnnl_engine_destroy(eng);
    return 0;
}
