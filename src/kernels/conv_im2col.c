/* conv_im2col.c — convolution as GEMM (see conv.h). Per sample and group, the input patches of a tile of T
 * output positions are unrolled into a column matrix col (K x T, K = C_in/groups * prod(kernel), row
 * r = c*taps + t), padding modes resolved by conv_source_index while unrolling. Then, per group g:
 *   forward           y_g[:, tile]  = W_g (C_out/g x K) col  (+ bias, pre-filled)
 *   backward weights  dW_g         += dy_g[:, tile] col^T
 *   backward data     col           = W_g^T dy_g[:, tile],  then col2im ADDS col into dx (every padded tap
 *                                     into its source element, so reflect/replicate/circular accumulate)
 * The forward unrolls the transposed columns (T x K) instead, so that both GEMM operands are read along
 * their rows (the plain reference GEMM is much faster so). A 1x1, stride-1, unpadded conv needs no
 * columns: x itself is the (C_in/g x positions) matrix.
 * Tiling the output positions bounds the column buffer at about COLUMN_CAP elements. */
#include "kernels/conv.h"
#include "kernels/gemm.h"

#define COLUMN_CAP ((int64_t)1 << 18) /* elements: 1 MB of floats */

static int64_t prod3(const int64_t v[3]) { return v[0] * v[1] * v[2]; }

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
    size_t elems = reads_x_directly(p) ? 0 : (size_t)(column_rows(p) * tile_width(p));
    return (elems * sizeof(cn_real) + 63) / 64 * 64;
}

/* Columns first, then the packing space of the largest of the three GEMMs. */
size_t cn_conv_work_bytes(const cn_conv_geom *p) {
    int64_t cout_g = p->out_channels / p->groups, rows = column_rows(p), width = tile_width(p);
    size_t fwd = cn_gemm_workspace(cout_g, width, rows), data = cn_gemm_workspace(rows, width, cout_g);
    size_t weights = cn_gemm_workspace(cout_g, rows, width);
    size_t gemm = fwd > data ? fwd : data;
    return column_bytes(p) + (gemm > weights ? gemm : weights);
}

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

/* col[r, j] = xpad[c(r), q(p0 + j, t(r))] for one group's planes xg */
static void im2col_tile(const cn_conv_geom *p, const cn_real *xg, int64_t p0, int64_t width, cn_real *col) {
    FOR_COLUMN_CELLS(p, p0, width, col[cell] = src < 0 ? 0 : xg[src]);
}

/* colT[j, r] = xpad[c(r), q(p0 + j, t(r))]: the transposed columns, row stride `rows` */
static void im2col_tile_transposed(const cn_conv_geom *p, const cn_real *xg, int64_t p0, int64_t width,
                                   int64_t rows, cn_real *colT) {
    FOR_COLUMN_CELLS(p, p0, width, colT[j * rows + row] = src < 0 ? 0 : xg[src]);
}

/* dxg[src(r, j)] += col[r, j]: the adjoint of im2col_tile */
static void col2im_tile_add(const cn_conv_geom *p, const cn_real *col, int64_t p0, int64_t width, cn_real *dxg) {
    FOR_COLUMN_CELLS(p, p0, width, if (src >= 0) dxg[src] += col[cell]);
}

void cn_conv_forward_im2col(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                            cn_real *y, void *work) {
    cn_real *cols = work;
    void *gemm_ws = (char *)work + column_bytes(p);
    int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    int64_t in_plane = prod3(p->in), positions = prod3(p->out), rows = column_rows(p), tile = tile_width(p);
    bool direct = reads_x_directly(p);
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t grp = 0; grp < p->groups; grp++) {
            const cn_real *xg = x + (n * p->in_channels + grp * cin_g) * in_plane;
            const cn_real *wg = w + grp * cout_g * rows;
            cn_real *yg = y + (n * p->out_channels + grp * cout_g) * positions;
            if (b)
                for (int64_t o = 0; o < cout_g; o++)
                    for (int64_t i = 0; i < positions; i++) yg[o * positions + i] = b[grp * cout_g + o];
            for (int64_t p0 = 0; p0 < positions; p0 += tile) {
                int64_t width = positions - p0 < tile ? positions - p0 : tile;
                cn_real beta = b ? 1 : 0;
                if (direct) {
                    cn_gemm(false, false, cout_g, width, rows, 1, wg, rows, xg + p0, positions, beta, yg + p0,
                            positions, gemm_ws);
                } else {
                    im2col_tile_transposed(p, xg, p0, width, rows, cols);
                    cn_gemm(false, true, cout_g, width, rows, 1, wg, rows, cols, rows, beta, yg + p0, positions,
                            gemm_ws);
                }
            }
        }
}

void cn_conv_backward_data_im2col(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                  void *work) {
    cn_real *cols = work;
    void *gemm_ws = (char *)work + column_bytes(p);
    int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    int64_t in_plane = prod3(p->in), positions = prod3(p->out), rows = column_rows(p), tile = tile_width(p);
    bool direct = reads_x_directly(p);
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t grp = 0; grp < p->groups; grp++) {
            cn_real *dxg = dx + (n * p->in_channels + grp * cin_g) * in_plane;
            const cn_real *wg = w + grp * cout_g * rows;
            const cn_real *dyg = dy + (n * p->out_channels + grp * cout_g) * positions;
            for (int64_t p0 = 0; p0 < positions; p0 += tile) {
                int64_t width = positions - p0 < tile ? positions - p0 : tile;
                if (direct) {
                    cn_gemm(true, false, rows, width, cout_g, 1, wg, rows, dyg + p0, positions, 1, dxg + p0, positions,
                            gemm_ws);
                } else {
                    cn_gemm(true, false, rows, width, cout_g, 1, wg, rows, dyg + p0, positions, 0, cols, width, gemm_ws);
                    col2im_tile_add(p, cols, p0, width, dxg);
                }
            }
        }
}

void cn_conv_backward_weights_im2col(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                     cn_real *db, void *work) {
    cn_real *colbuf = work;
    void *gemm_ws = (char *)work + column_bytes(p);
    int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    int64_t in_plane = prod3(p->in), positions = prod3(p->out), rows = column_rows(p), tile = tile_width(p);
    bool direct = reads_x_directly(p);
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t grp = 0; grp < p->groups; grp++) {
            const cn_real *xg = x + (n * p->in_channels + grp * cin_g) * in_plane;
            const cn_real *dyg = dy + (n * p->out_channels + grp * cout_g) * positions;
            cn_real *dwg = dw + grp * cout_g * rows;
            for (int64_t p0 = 0; p0 < positions; p0 += tile) {
                int64_t width = positions - p0 < tile ? positions - p0 : tile;
                const cn_real *cols = xg + p0;
                int64_t ldc = positions;
                if (!direct) {
                    im2col_tile(p, xg, p0, width, colbuf);
                    cols = colbuf;
                    ldc = width;
                }
                cn_gemm(false, true, cout_g, rows, width, 1, dyg + p0, positions, cols, ldc, 1, dwg, rows, gemm_ws);
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
