/* conv.h — convolution (cross-correlation) kernels, generic over 1D/2D/3D: every problem is treated as 3D
 * (D, H, W) with unit axes in front (a 1D conv is D = H = 1, kernel 1, stride 1, no padding there).
 *
 *   x  is (N, C_in, ID, IH, IW)        w is (C_out, C_in/groups, KD, KH, KW)     b is (C_out) or NULL
 *   y  is (N, C_out, OD, OH, OW)       per axis: out = (in + pad_begin + pad_end - dil*(k-1) - 1)/stride + 1
 *
 *   y[n,o,p] = b[o] + sum_{c in group(o), t} w[o,c,t] * xpad[n, c, p*stride + t*dil - pad_begin]
 *
 * where xpad maps a padded coordinate q to a source index of the input (conv_source_index): zeros -> no
 * source (the term is 0), reflect -> mirror without repeating the edge, replicate -> clamp, circular -> wrap.
 * The backward passes follow from the same sum:
 *   dx[n,c,src(q)] += sum w[o,c,t] * dy[n,o,p]      (several taps may map to one source: accumulate)
 *   dw[o,c,t]      += sum_{n,p} dy[n,o,p] * xpad[n,c,q]
 *   db[o]          += sum_{n,p} dy[n,o,p]
 *
 * Two implementations of the same three functions: the plain direct reference (_ref, the test twin) and
 * the fast kernels (_im2col, the default), which choose an algorithm per shape (cn_conv_algorithm: im2col +
 * GEMM, direct depthwise, Winograd) and work on tiles of output positions through `work`: cn_conv_work_bytes()
 * of workspace holding, per thread, a column buffer, the GEMM's packing space and a private weight-gradient
 * buffer. With p->threads > 1 and a batch of at least 2, samples are split over threads (each runs its
 * GEMMs alone); otherwise samples run in turn and each GEMM uses every thread. Ops call the function pointers cn_conv_forward / cn_conv_backward_data /
 * cn_conv_backward_weights; the _ref functions ignore `work`. All backward functions ADD into their outputs;
 * forward overwrites y. */
#ifndef CN_KERNELS_CONV_H
#define CN_KERNELS_CONV_H

#include "internal.h"

/* The fast algorithms (cn_conv_algorithm tells which one runs and why; tests force one). */
typedef enum {
    CN_CONV_AUTO = 0,   /* chosen per shape */
    CN_CONV_GEMM,       /* im2col + GEMM (a 1x1 stride-1 unpadded conv reads x directly) */
    CN_CONV_DEPTHWISE,  /* direct, one input channel per group, zero padding */
    CN_CONV_WINOGRAD,   /* F(4x4, 3x3): 2D 3x3 stride 1, no dilation, zero padding, groups 1 */
    CN_CONV_FIRST,      /* direct, first layers: 2D, groups 1, <= 4 input channels, zero padding (AVX-512, AVX2) */
    CN_CONV_DIRECT      /* direct, vectorised over output channels: 1D/2D, zero padding (AVX-512, AVX2; conv_direct.c) */
} cn_conv_algo;

/* A per-output-channel epilogue of the forward pass (eval-mode conv -> BN -> ReLU fusion, graph/fuse.c):
 * y[n,o,p] = scale[o] * sum(...) + shift[o], then max(., 0) when relu; the bias is NOT added (the caller
 * folds it into shift). The fast kernels apply it as they write y (GEMM write-back, Winograd output
 * transform); the reference and depthwise kernels in a pass after. */
typedef struct {
    const cn_real *scale, *shift;
    bool relu;
} cn_conv_epilogue;

typedef struct {
    int64_t batch, in_channels, out_channels, groups;
    int64_t in[3], out[3];                       /* spatial sizes, D H W (unit axes for 1D/2D) */
    int64_t kernel[3], stride[3], dilation[3], pad_begin[3];
    cn_pad_mode pad_mode;
    int threads;            /* per-thread work slots in `work` (the _im2col kernels); 0 or 1: serial */
    cn_conv_algo algorithm; /* CN_CONV_AUTO (0), or one to force when it applies (tests) */
    const cn_conv_epilogue *epilogue; /* forward: NULL (y = conv + b) or the fused epilogue (b ignored) */
    /* forward: the weights as cn_conv_prepare_weights left them for this geometry and kernel set (inference:
     * packed once, not per call), or NULL (packed into `work` by every call) */
    const cn_real *prepared;
    bool inference; /* forward only, weights prepared once (a cache): the algorithm choice may differ */
    /* backward data: dx holds nothing yet (the graph left it unzeroed for its first writer): the kernels set it
     * instead of adding into it (those that only add zero it first) */
    bool dx_fresh;
} cn_conv_geom;

/* Outputs of this many bytes or more are written with non-temporal stores by the kernels that can write them a
 * whole cache line at a time (the in-place 1x1 GEMM, the channel-blocked depthwise forward): they cannot stay in
 * the caches for the next layer, and plain stores would read every line from memory first. */
#define CN_STREAM_MIN_BYTES (16 << 20)

/* The sum of n values: 16 partial sums in working precision (vector lanes), combined in double (the bias
 * gradients' sums over a plane or a row of dy). */
static inline double cn_conv_sum(const cn_real *v, int64_t n) {
    cn_real part[16] = {0};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int l = 0; l < 16; l++) part[l] += v[i + l];
    double sum = 0;
    for (; i < n; i++) sum += (double)v[i];
    for (int l = 0; l < 16; l++) sum += (double)part[l];
    return sum;
}

/* A 2D problem in the 3D geometry: one input plane in depth, read by the one output plane at depth 0 (a single
 * plane padded in depth has output planes of the bias alone, which the 2D kernels do not write) */
static inline bool cn_conv_single_plane(const cn_conv_geom *p) {
    return p->in[0] == 1 && p->kernel[0] == 1 && p->out[0] == 1 && p->pad_begin[0] == 0;
}

/* Weights prepared once for the fast forward pass (GEMM A panels of every group, or Winograd's transformed
 * weights U in packed order): bytes needed (0: the algorithm chosen for p has nothing to prepare; the size
 * does not depend on the kernel set), a key naming the layout (algorithm and kernel-set blocking; > 0) that
 * a cache compares before reuse, and the preparation (threads: p->threads). */
size_t cn_conv_prepared_bytes(const cn_conv_geom *p);
int cn_conv_prepared_key(const cn_conv_geom *p);
void cn_conv_prepare_weights(const cn_conv_geom *p, const cn_real *w, cn_real *out);
/* y = epilogue(y) in place over the output (N, C_out, positions): the kernels that do not fuse it. */
void cn_conv_apply_epilogue(const cn_conv_geom *p, cn_real *y);

/* The input index that padded coordinate q (= out*stride + k*dil - pad_begin, in [-pad_begin, in+pad_end))
 * reads on an axis of size `size`, or -1 for zero padding outside the input. */
static inline int64_t conv_source_index(int64_t q, int64_t size, cn_pad_mode mode) {
    if (q >= 0 && q < size) return q;
    switch (mode) {
    case CN_PAD_REFLECT: return q < 0 ? -q : 2 * (size - 1) - q;     /* pad < size */
    case CN_PAD_REPLICATE: return q < 0 ? 0 : size - 1;
    case CN_PAD_CIRCULAR: return q < 0 ? q + size : q - size;        /* pad <= size */
    default: return -1;
    }
}

typedef void (*cn_conv_forward_fn)(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                                   cn_real *y, void *work);
typedef void (*cn_conv_backward_data_fn)(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                         void *work);
/* db may be NULL (no bias). */
typedef void (*cn_conv_backward_weights_fn)(const cn_conv_geom *p, const cn_real *x, const cn_real *dy,
                                            cn_real *dw, cn_real *db, void *work);

void cn_conv_forward_ref(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b, cn_real *y,
                         void *work);
void cn_conv_backward_data_ref(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                               void *work);
void cn_conv_backward_weights_ref(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                  cn_real *db, void *work);

void cn_conv_forward_im2col(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                            cn_real *y, void *work);
void cn_conv_backward_data_im2col(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                  void *work);
void cn_conv_backward_weights_im2col(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                     cn_real *db, void *work);
/* Bytes of `work` the _im2col functions need for p->threads threads (at least one slot), and for one. */
size_t cn_conv_work_bytes(const cn_conv_geom *p);
size_t cn_conv_work_bytes_per_thread(const cn_conv_geom *p);
/* The most threads (<= max_threads, >= 1) whose work fits in `bytes` of workspace. */
int cn_conv_fit_threads(const cn_conv_geom *p, size_t bytes, int max_threads);

/* The direct depthwise kernels (conv_depthwise.c), used by the _im2col dispatch when they apply. */
enum { CN_DEPTHWISE_MAX_TAPS = 512 };
bool cn_conv_depthwise_applies(const cn_conv_geom *p);
/* work: p->threads slots of cn_conv_depthwise_thread_bytes (the flat 2D path; NULL: the row loops) */
size_t cn_conv_depthwise_thread_bytes(const cn_conv_geom *p);
/* The direct first-layer forward (conv_first.c); their data gradient uses im2col + GEMM. */
bool cn_conv_first_applies(const cn_conv_geom *p);
size_t cn_conv_first_shared_bytes(const cn_conv_geom *p);
size_t cn_conv_first_thread_bytes(const cn_conv_geom *p);
void cn_conv_forward_first(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b, cn_real *y,
                           void *work);
/* One input row into the first-layer kernels' padded rows split by column phase (conv_first.c): padded column q
 * = j*sw + ph in [pl, hi) gets src[q - pl] at dst[ph * phase_stride + j]; the other columns are left as they
 * are (zero padding). AVX2 or AVX-512 machines only (a stride of 2 is deinterleaved with AVX2 shuffles). */
void cn_conv_split_phases(float *dst, int64_t phase_stride, const float *src, int64_t pl, int64_t hi, int64_t sw);
/* The weight and bias gradient of first layers (conv_first_wgrad.c, AVX2 kernels): 2D, groups 1, <= 4 input
 * channels, zero padding, any stride and dilation; work: cn_conv_first_wgrad_bytes (all threads). Adds into dw
 * and db (db may be NULL). */
bool cn_conv_first_wgrad_applies(const cn_conv_geom *p);
size_t cn_conv_first_wgrad_bytes(const cn_conv_geom *p);
void cn_conv_backward_weights_first(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                    cn_real *db, void *work);

/* The AVX-512 (16 channels) and AVX2 (8) forward and backward on channel blocks (conv_depthwise_blocked.c): 2D,
 * one output channel per group, strides > 1 or small planes (<= 32x32 outputs on AVX-512, 9x9 on AVX2);
 * cn_conv_forward_depthwise uses it when it applies. */
bool cn_conv_depthwise_blocked_applies(const cn_conv_geom *p);
size_t cn_conv_depthwise_blocked_thread_bytes(const cn_conv_geom *p);
void cn_conv_forward_depthwise_blocked(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                                       cn_real *y, void *work);
/* Whether its data gradient sets dx when asked (p->dx_fresh; the AVX2 kernels) rather than adding into it */
bool cn_conv_depthwise_blocked_sets_dx(const cn_conv_geom *p);
void cn_conv_backward_data_depthwise_blocked(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                             void *work);
void cn_conv_backward_weights_depthwise_blocked(const cn_conv_geom *p, const cn_real *x, const cn_real *dy,
                                                cn_real *dw, cn_real *db, void *work);
/* The AVX-512 and AVX2 kernels vectorised over the positions of one plane (conv_depthwise_plane.c): 2D, one output channel
 * per group, stride 1 with the output plane the size of the input and at most 16384 positions, up to 5x5 taps; the
 * forward pass fuses p->epilogue. No workspace. */
bool cn_conv_depthwise_plane_applies(const cn_conv_geom *p);
void cn_conv_forward_depthwise_plane(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                                     cn_real *y);
void cn_conv_backward_data_depthwise_plane(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx);
void cn_conv_backward_weights_depthwise_plane(const cn_conv_geom *p, const cn_real *x, const cn_real *dy,
                                              cn_real *dw, cn_real *db);
/* The AVX2 kernels for narrow planes (conv_depthwise_rows.c): 2D, one output channel per group, stride 1 or 2,
 * dilation 1, square 3x3 or 5x5 kernels, output rows of at most 16 columns; one or two 8-lane vectors per output row, each
 * tap a shifted row of a zero-padded copy of the plane. _pays: where it beats the plane and blocked kernels. The
 * forward pass fuses p->epilogue. No workspace. */
bool cn_conv_depthwise_rows_applies(const cn_conv_geom *p);
bool cn_conv_depthwise_rows_pays(const cn_conv_geom *p);
/* Whether the data gradient the dispatch would run here sets dx (p->dx_fresh) rather than adding into it */
bool cn_conv_depthwise_rows_sets_dx(const cn_conv_geom *p);
void cn_conv_forward_depthwise_rows(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                                    cn_real *y);
void cn_conv_backward_data_depthwise_rows(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx);
void cn_conv_backward_weights_depthwise_rows(const cn_conv_geom *p, const cn_real *x, const cn_real *dy,
                                             cn_real *dw, cn_real *db);
/* Whether cn_conv_backward_data_depthwise (with workspace) sets dx when p->dx_fresh rather than adding into it */
bool cn_conv_depthwise_data_sets_dx(const cn_conv_geom *p);
void cn_conv_forward_depthwise(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b, cn_real *y,
                               void *work);
void cn_conv_backward_data_depthwise(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                     void *work);
void cn_conv_backward_weights_depthwise(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                        cn_real *db, void *work);

/* Winograd F(4x4, 3x3) (conv_winograd.c): forward and data gradient; workspace = shared (transformed weights)
 * + one slot per thread. */
bool cn_conv_winograd_applies(const cn_conv_geom *p);
/* the variant that runs: "winograd-f4x3", "winograd-f2x5" or (5x5 on AVX2) "winograd-f4x5" */
const char *cn_conv_winograd_name(const cn_conv_geom *p);
size_t cn_conv_winograd_shared_bytes(const cn_conv_geom *p);
size_t cn_conv_winograd_thread_bytes(const cn_conv_geom *p);
void cn_conv_forward_winograd(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b, cn_real *y,
                              void *work);
void cn_conv_backward_data_winograd(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                    void *work);
size_t cn_conv_winograd_prepared_bytes(const cn_conv_geom *p); /* the forward's U, packed */
/* The weight gradient through the Winograd domain (AVX2 kernels): dw += G^T [sum over tiles (A dy A^T) ⊙ (B^T x B)] G;
 * the bias gradient is the caller's. Workspace: cn_conv_winograd_wgrad_bytes (dU, a block of V and M, GEMM
 * panels per thread). */
bool cn_conv_winograd_wgrad_applies(const cn_conv_geom *p);
/* Up to 128 x 128 channel pairs: each thread transforms its own tiles with channels in lanes and sums outer
 * products into its own dU (no barrier per block); more pairs: the team's blocks and 36 packed GEMMs */
bool cn_conv_winograd_wgrad_lanes(const cn_conv_geom *p);
size_t cn_conv_winograd_wgrad_bytes(const cn_conv_geom *p);
void cn_conv_backward_weights_winograd(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                       void *work);
void cn_conv_winograd_prepare(const cn_conv_geom *p, const cn_real *w, cn_real *out);

/* The algorithm the fast kernels use for this geometry (forward pass) and why, e.g. "gemm-1x1" because
 * "1x1 kernel, stride 1, no padding: the input is the GEMM operand". Static strings. */
const char *cn_conv_algorithm(const cn_conv_geom *p, const char **reason);
/* The same for conv node `node` of a graph as it would run now ("ref" when the reference kernels are
 * selected); reason may be NULL. Defined by the conv op. */
const char *cn_conv_node_algorithm(const cn_graph *g, int node, const char **reason);

extern cn_conv_forward_fn cn_conv_forward;
extern cn_conv_backward_data_fn cn_conv_backward_data;
extern cn_conv_backward_weights_fn cn_conv_backward_weights;

#endif
