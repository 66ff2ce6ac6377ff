/* conv_im2col.c — convolution as GEMM (see conv.h). Per sample and group, the input patches of a tile of T
 * output positions are unrolled into a column matrix col (K x T, K = C_in/groups * prod(kernel), row
 * r = c*taps + t), padding modes resolved by conv_source_index while unrolling. Then, per group g:
 *   forward           y_g[:, tile]  = W_g (C_out/g x K) col  (+ bias, pre-filled)
 *   backward weights  dW_g         += dy_g[:, tile] col^T
 *   backward data     col           = W_g^T dy_g[:, tile],  then col2im ADDS col into dx (every padded tap
 *                                     into its source element, so reflect/replicate/circular accumulate)
 * A 1x1, stride-1, unpadded conv needs no columns: x itself is the (C_in/g x positions) matrix.
 * Tiling the output positions bounds the column buffer at about COLUMN_CAP elements per thread.
 * Zero padding over a whole plane (the common case) unrolls row by row; other cases go cell by cell.
 * Samples are split over threads when there are at least two (conv.h); the weight gradient then goes to
 * per-thread buffers that are summed in a fixed order, so results depend only on the thread count. */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include <omp.h>

#define COLUMN_CAP ((int64_t)1 << 18) /* elements: 1 MB of floats */

static int64_t prod3(const int64_t v[3]) { return v[0] * v[1] * v[2]; }
static size_t align64(size_t x) { return (x + 63) / 64 * 64; }

static bool reads_x_directly(const cn_conv_geom *p) {
    for (int a = 0; a < 3; a++)
        if (p->kernel[a] != 1 || p->stride[a] != 1 || p->pad_begin[a] != 0 || p->in[a] != p->out[a]) return false;
    return true;
}

static int64_t column_rows(const cn_conv_geom *p) { return p->in_channels / p->groups * prod3(p->kernel); }

/* Output positions per tile: all of them when the columns fit in COLUMN_CAP, else as many as fit (>= 1). */
static int64_t tile_width(const cn_conv_geom *p) {
    int64_t positions = prod3(p->out), rows = column_rows(p);
    int64_t t = COLUMN_CAP / rows;
    if (t < 1) t = 1;
    return t < positions ? t : positions;
}

static size_t column_bytes(const cn_conv_geom *p) {
    return reads_x_directly(p) ? 0 : align64((size_t)(column_rows(p) * tile_width(p)) * sizeof(cn_real));
}

static size_t gemm_bytes(const cn_conv_geom *p) {
    int64_t cout_g = p->out_channels / p->groups, rows = column_rows(p), width = tile_width(p);
    size_t fwd = cn_gemm_workspace(cout_g, width, rows), data = cn_gemm_workspace(rows, width, cout_g);
    size_t weights = cn_gemm_workspace(cout_g, rows, width);
    size_t m = fwd > data ? fwd : data;
    return align64(m > weights ? m : weights);
}

static size_t weight_bytes(const cn_conv_geom *p) {
    return align64((size_t)(p->out_channels * column_rows(p)) * sizeof(cn_real));
}

static int slots(const cn_conv_geom *p) { return p->threads > 1 ? p->threads : 1; }

size_t cn_conv_work_bytes_per_thread(const cn_conv_geom *p) {
    return column_bytes(p) + gemm_bytes(p) + (p->threads > 1 ? weight_bytes(p) : 0);
}

size_t cn_conv_work_bytes(const cn_conv_geom *p) { return (size_t)slots(p) * cn_conv_work_bytes_per_thread(p); }

typedef struct {
    cn_real *cols;
    void *gemm;
    cn_real *dw;    /* private weight gradient (threaded backward only) */
} work_slot;

static work_slot slot(const cn_conv_geom *p, void *work, int t) {
    char *base = (char *)work + (size_t)t * cn_conv_work_bytes_per_thread(p);
    work_slot s = {(cn_real *)base, base + column_bytes(p), NULL};
    if (p->threads > 1) s.dw = (cn_real *)(base + column_bytes(p) + gemm_bytes(p));
    return s;
}

/* Split samples over threads only when each thread gets one and there is more than one thread. */
static bool by_sample(const cn_conv_geom *p) { return p->threads > 1 && p->batch > 1; }

/* Walk the column matrix of one group's input planes (cin_g planes of in_plane elements) for output
 * positions [p0, p0 + width): body sees `row` and `j` (the column), `cell` (= row*width + j) and `src`
 * (offset into the group's planes, or -1 for a zero-padding tap). */
#define FOR_COLUMN_CELLS(p, p0, width, body)                                                                  \
    do {                                                                                                      \
        int64_t cin_g_ = (p)->in_channels / (p)->groups, in_plane_ = prod3((p)->in), cell = 0, row = 0;       \
        for (int64_t c_ = 0; c_ < cin_g_; c_++)                                                               \
            for (int64_t kd_ = 0; kd_ < (p)->kernel[0]; kd_++)                                                \
                for (int64_t kh_ = 0; kh_ < (p)->kernel[1]; kh_++)                                            \
                    for (int64_t kw_ = 0; kw_ < (p)->kernel[2]; kw_++, row++) {                               \
                        int64_t ow_ = (p0) % (p)->out[2], oh_ = (p0) / (p)->out[2] % (p)->out[1];             \
                        int64_t od_ = (p0) / (p)->out[2] / (p)->out[1];                                       \
                        for (int64_t j = 0; j < (width); j++, cell++) {                                       \
                            int64_t sd_ = conv_source_index(od_ * (p)->stride[0] + kd_ * (p)->dilation[0] -   \
                                                            (p)->pad_begin[0], (p)->in[0], (p)->pad_mode);    \
                            int64_t sh_ = conv_source_index(oh_ * (p)->stride[1] + kh_ * (p)->dilation[1] -   \
                                                            (p)->pad_begin[1], (p)->in[1], (p)->pad_mode);    \
                            int64_t sw_ = conv_source_index(ow_ * (p)->stride[2] + kw_ * (p)->dilation[2] -   \
                                                            (p)->pad_begin[2], (p)->in[2], (p)->pad_mode);    \
                            int64_t src = (sd_ < 0 || sh_ < 0 || sw_ < 0)                                     \
                                              ? -1                                                            \
                                              : c_ * in_plane_ + (sd_ * (p)->in[1] + sh_) * (p)->in[2] + sw_; \
                            body;                                                                             \
                            if (++ow_ == (p)->out[2]) {                                                       \
                                ow_ = 0;                                                                      \
                                if (++oh_ == (p)->out[1]) {                                                   \
                                    oh_ = 0;                                                                  \
                                    od_++;                                                                    \
                                }                                                                             \
                            }                                                                                 \
                        }                                                                                     \
                    }                                                                                         \
    } while (0)

/* Row-by-row unrolling for zero padding over whole planes (width == positions): for each column row (c, tap)
 * and each output row (od, oh), the taps read one input row or none. add: col2im (dxg += col) instead of
 * im2col (col = x). */
static void unroll_zero_padded(const cn_conv_geom *p, const cn_real *xg, cn_real *dxg, cn_real *col, bool add) {
    int64_t cin_g = p->in_channels / p->groups, in_plane = prod3(p->in), ow_n = p->out[2];
    cn_real *dst = col;
    for (int64_t c = 0; c < cin_g; c++)
        for (int64_t kd = 0; kd < p->kernel[0]; kd++)
            for (int64_t kh = 0; kh < p->kernel[1]; kh++)
                for (int64_t kw = 0; kw < p->kernel[2]; kw++)
                    for (int64_t od = 0; od < p->out[0]; od++) {
                        int64_t id = od * p->stride[0] + kd * p->dilation[0] - p->pad_begin[0];
                        for (int64_t oh = 0; oh < p->out[1]; oh++, dst += ow_n) {
                            int64_t ih = oh * p->stride[1] + kh * p->dilation[1] - p->pad_begin[1];
                            if (id < 0 || id >= p->in[0] || ih < 0 || ih >= p->in[1]) {
                                if (!add) memset(dst, 0, (size_t)ow_n * sizeof(cn_real));
                                continue;
                            }
                            int64_t offset = c * in_plane + (id * p->in[1] + ih) * p->in[2];
                            int64_t iw0 = kw * p->dilation[2] - p->pad_begin[2], sw = p->stride[2];
                            if (add) {
                                cn_real *row = dxg + offset;
                                for (int64_t ow = 0; ow < ow_n; ow++) {
                                    int64_t iw = iw0 + ow * sw;
                                    if (iw >= 0 && iw < p->in[2]) row[iw] += dst[ow];
                                }
                            } else {
                                const cn_real *row = xg + offset;
                                for (int64_t ow = 0; ow < ow_n; ow++) {
                                    int64_t iw = iw0 + ow * sw;
                                    dst[ow] = iw >= 0 && iw < p->in[2] ? row[iw] : 0;
                                }
                            }
                        }
                    }
}

static bool row_by_row(const cn_conv_geom *p, int64_t width) {
    return p->pad_mode == CN_PAD_ZEROS && width == prod3(p->out);
}

/* col[r, j] = xpad[c(r), q(p0 + j, t(r))] for one group's planes xg */
static void im2col_tile(const cn_conv_geom *p, const cn_real *xg, int64_t p0, int64_t width, cn_real *col) {
    if (row_by_row(p, width)) unroll_zero_padded(p, xg, NULL, col, false);
    else FOR_COLUMN_CELLS(p, p0, width, col[cell] = src < 0 ? 0 : xg[src]);
}

/* dxg[src(r, j)] += col[r, j]: the adjoint of im2col_tile */
static void col2im_tile_add(const cn_conv_geom *p, cn_real *col, int64_t p0, int64_t width, cn_real *dxg) {
    if (row_by_row(p, width)) unroll_zero_padded(p, NULL, dxg, col, true);
    else FOR_COLUMN_CELLS(p, p0, width, if (src >= 0) dxg[src] += col[cell]);
}

static void forward_sample(const cn_conv_geom *p, int64_t n, const cn_real *x, const cn_real *w, const cn_real *b,
                           cn_real *y, work_slot ws) {
    int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    int64_t in_plane = prod3(p->in), positions = prod3(p->out), rows = column_rows(p), tile = tile_width(p);
    bool direct = reads_x_directly(p);
    for (int64_t grp = 0; grp < p->groups; grp++) {
        const cn_real *xg = x + (n * p->in_channels + grp * cin_g) * in_plane;
        const cn_real *wg = w + grp * cout_g * rows;
        cn_real *yg = y + (n * p->out_channels + grp * cout_g) * positions;
        if (b)
            for (int64_t o = 0; o < cout_g; o++)
                for (int64_t i = 0; i < positions; i++) yg[o * positions + i] = b[grp * cout_g + o];
        for (int64_t p0 = 0; p0 < positions; p0 += tile) {
            int64_t width = positions - p0 < tile ? positions - p0 : tile;
            const cn_real *cols = xg + p0;
            int64_t ldcol = positions;
            if (!direct) {
                im2col_tile(p, xg, p0, width, ws.cols);
                cols = ws.cols;
                ldcol = width;
            }
            cn_gemm(false, false, cout_g, width, rows, 1, wg, rows, cols, ldcol, b ? 1 : 0, yg + p0, positions, ws.gemm);
        }
    }
}

void cn_conv_forward_im2col(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                            cn_real *y, void *work) {
    if (!by_sample(p)) {
        for (int64_t n = 0; n < p->batch; n++) forward_sample(p, n, x, w, b, y, slot(p, work, 0));
        return;
    }
#pragma omp parallel num_threads(p->threads)
    {
        work_slot ws = slot(p, work, omp_get_thread_num());
#pragma omp for schedule(static)
        for (int64_t n = 0; n < p->batch; n++) forward_sample(p, n, x, w, b, y, ws);
    }
}

static void backward_data_sample(const cn_conv_geom *p, int64_t n, const cn_real *dy, const cn_real *w, cn_real *dx,
                                 work_slot ws) {
    int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    int64_t in_plane = prod3(p->in), positions = prod3(p->out), rows = column_rows(p), tile = tile_width(p);
    bool direct = reads_x_directly(p);
    for (int64_t grp = 0; grp < p->groups; grp++) {
        cn_real *dxg = dx + (n * p->in_channels + grp * cin_g) * in_plane;
        const cn_real *wg = w + grp * cout_g * rows;
        const cn_real *dyg = dy + (n * p->out_channels + grp * cout_g) * positions;
        for (int64_t p0 = 0; p0 < positions; p0 += tile) {
            int64_t width = positions - p0 < tile ? positions - p0 : tile;
            if (direct) {
                cn_gemm(true, false, rows, width, cout_g, 1, wg, rows, dyg + p0, positions, 1, dxg + p0, positions,
                        ws.gemm);
            } else {
                cn_gemm(true, false, rows, width, cout_g, 1, wg, rows, dyg + p0, positions, 0, ws.cols, width, ws.gemm);
                col2im_tile_add(p, ws.cols, p0, width, dxg);
            }
        }
    }
}

void cn_conv_backward_data_im2col(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                  void *work) {
    if (!by_sample(p)) {
        for (int64_t n = 0; n < p->batch; n++) backward_data_sample(p, n, dy, w, dx, slot(p, work, 0));
        return;
    }
#pragma omp parallel num_threads(p->threads)
    {
        work_slot ws = slot(p, work, omp_get_thread_num());
#pragma omp for schedule(static)
        for (int64_t n = 0; n < p->batch; n++) backward_data_sample(p, n, dy, w, dx, ws);
    }
}

/* dw += dy_n col_n^T for one sample, all groups */
static void backward_weights_sample(const cn_conv_geom *p, int64_t n, const cn_real *x, const cn_real *dy, cn_real *dw,
                                    work_slot ws) {
    int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    int64_t in_plane = prod3(p->in), positions = prod3(p->out), rows = column_rows(p), tile = tile_width(p);
    bool direct = reads_x_directly(p);
    for (int64_t grp = 0; grp < p->groups; grp++) {
        const cn_real *xg = x + (n * p->in_channels + grp * cin_g) * in_plane;
        const cn_real *dyg = dy + (n * p->out_channels + grp * cout_g) * positions;
        cn_real *dwg = dw + grp * cout_g * rows;
        for (int64_t p0 = 0; p0 < positions; p0 += tile) {
            int64_t width = positions - p0 < tile ? positions - p0 : tile;
            const cn_real *cols = xg + p0;
            int64_t ldc = positions;
            if (!direct) {
                im2col_tile(p, xg, p0, width, ws.cols);
                cols = ws.cols;
                ldc = width;
            }
            cn_gemm(false, true, cout_g, rows, width, 1, dyg + p0, positions, cols, ldc, 1, dwg, rows, ws.gemm);
        }
    }
}

void cn_conv_backward_weights_im2col(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                     cn_real *db, void *work) {
    int64_t positions = prod3(p->out), wcount = p->out_channels * column_rows(p);
    if (!by_sample(p)) {
        for (int64_t n = 0; n < p->batch; n++) backward_weights_sample(p, n, x, dy, dw, slot(p, work, 0));
    } else {
        int threads = p->threads;
#pragma omp parallel num_threads(threads)
        {
            int t = omp_get_thread_num();
            work_slot ws = slot(p, work, t);
            memset(ws.dw, 0, (size_t)wcount * sizeof(cn_real));
#pragma omp for schedule(static)
            for (int64_t n = 0; n < p->batch; n++) backward_weights_sample(p, n, x, dy, ws.dw, ws);
            /* implicit barrier: every private gradient is complete; sum them in thread order */
#pragma omp for schedule(static)
            for (int64_t i = 0; i < wcount; i++) {
                cn_real acc = 0;
                for (int k = 0; k < threads; k++) acc += slot(p, work, k).dw[i];
                dw[i] += acc;
            }
        }
    }
    if (db)
        for (int64_t o = 0; o < p->out_channels; o++) {
            double acc = 0;
            for (int64_t n = 0; n < p->batch; n++) {
                const cn_real *dyo = dy + (n * p->out_channels + o) * positions;
                for (int64_t i = 0; i < positions; i++) acc += dyo[i];
            }
            db[o] += (cn_real)acc;
        }
}

const char *cn_conv_algorithm(const cn_conv_geom *p, const char **reason) {
    const char *why = "general case: columns unrolled per tile of output positions, then one GEMM per group";
    const char *name = "im2col";
    if (reads_x_directly(p)) {
        name = "gemm-1x1";
        why = "1x1 kernel, stride 1, no padding: the input planes are the GEMM operand, no columns";
    }
    if (reason) *reason = why;
    return name;
}
