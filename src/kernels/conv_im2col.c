/* conv_im2col.c — the fast convolution dispatch (see conv.h) and its GEMM algorithms. The columns of a
 * convolution are its output positions over the whole batch (column j = sample n, position p), the rows are
 * K = C_in/groups * prod(kernel) taps (row r = c*taps + t); col[r, j] = xpad[n, c, p*stride + t*dil - pad],
 * padding modes resolved while unrolling. Per group g, on tiles of columns (which may span samples):
 *   forward           y_g[:, tile]  = W_g (C_out/g x K) col[:, tile]  (+ bias)
 *   backward data     dcol          = W_g^T dy_g[:, tile],  then col2im ADDS dcol into dx (every padded tap
 *                                     into its source element, so reflect/replicate/circular accumulate)
 *   backward weights  dW_g         += dy_g[:, tile] col[:, tile]^T
 * The weights are packed once per pass; columns are unrolled run by run (an output row at a time) straight
 * into the GEMM's packed panels; a 1x1 stride-1 unpadded conv unrolls nothing (x is the matrix) and adds its
 * data gradient straight into dx. Threads split the tiles (forward, weight gradient into private buffers
 * summed in thread order) or contiguous sample ranges (data gradient), so results depend only on the thread
 * count. Depthwise, Winograd, the first-layer kernel and the direct kernel (conv_direct.c, which replaces im2col
 * on AVX-512 for the forward pass) live in their own files; `choose` below picks per shape. */
#include "kernels/conv.h"
#include "kernels/conv_direct.h"
#include "kernels/gemm.h"
#include "kernels/tensor.h"
#include <omp.h>
#include <stdlib.h>

static int64_t prod3(const int64_t v[3]) { return v[0] * v[1] * v[2]; }
static size_t align64(size_t x) { return (x + 63) / 64 * 64; }

static bool reads_x_directly(const cn_conv_geom *p) {
    for (int a = 0; a < 3; a++)
        if (p->kernel[a] != 1 || p->stride[a] != 1 || p->pad_begin[a] != 0 || p->in[a] != p->out[a]) return false;
    return true;
}

static int64_t column_rows(const cn_conv_geom *p) { return p->in_channels / p->groups * prod3(p->kernel); }

static size_t weight_bytes(const cn_conv_geom *p) {
    return align64((size_t)(p->out_channels * column_rows(p)) * sizeof(cn_real));
}

/* ---- the forward pass as one GEMM per group over the columns of the whole batch, cut into tiles of
 * FWD_TILE-ish columns (a column is one output position of one sample). The weights are packed once per call
 * (cn_gemm_pack_a); each tile's columns are unrolled straight into packed-B panel order, so they are copied
 * once and stay in L2 while every output channel uses them. A tile may span samples (small late layers):
 * its product then goes to a scratch block and is scattered. */
enum { FWD_TILE_FLOATS = 1 << 17, FWD_NR_MAX = 32, FWD_MR_PAD = 16, STRIDED_B_MAX_ROWS = 1024 };

/* Columns per forward tile: about FWD_TILE_FLOATS of packed columns, a multiple of 32 (every kernel set's NR
 * divides it), at least 32 and at most 1024, and narrow enough for 8 tiles when the batch is small (work for
 * every thread). Independent of the thread count, so the workspace of a plan holds for any. */
static int64_t fwd_tile(const cn_conv_geom *p) {
    int64_t rows = column_rows(p), total = p->batch * prod3(p->out);
    int64_t t = FWD_TILE_FLOATS / rows / FWD_NR_MAX * FWD_NR_MAX;
    if (t > 1024) t = 1024;
    int64_t all = (total + FWD_NR_MAX - 1) / FWD_NR_MAX * FWD_NR_MAX;
    int64_t share = (all / 8 + FWD_NR_MAX - 1) / FWD_NR_MAX * FWD_NR_MAX; /* >= 8 tiles: work for every thread */
    if (t > share) t = share;
    if (t > all) t = all;
    if (t < FWD_NR_MAX) t = FWD_NR_MAX;
    return t;
}

static int64_t packed_weight_stride(const cn_conv_geom *p) { /* floats per group (W or W^T), a multiple of 16 */
    int64_t cout_g = p->out_channels / p->groups, rows = column_rows(p);
    int64_t a = (cout_g + FWD_MR_PAD) * rows, b = (rows + FWD_MR_PAD) * cout_g;
    return ((a > b ? a : b) + 15) / 16 * 16;
}

static size_t fwd_shared_bytes(const cn_conv_geom *p) { /* packed weights of every group */
    return align64((size_t)(p->groups * packed_weight_stride(p)) * sizeof(cn_real));
}

/* The whole batch's columns when they are few (batch 1 on 14x14 and 7x7 planes: 196 and 49 columns): with
 * several threads they are one tile, packed once by the threads together, and the output channels are dealt
 * out instead (shared_tile). Tiles of 32 columns had every thread re-read the weights for each tile, 7 tiles
 * of 196 columns left a thread one tile short, and each output-channel part packed its tile again. */
enum { SHARED_TILE_COLS = 256 };

static int slots(const cn_conv_geom *p) { return p->threads > 1 ? p->threads : 1; }

static bool shared_tile(const cn_conv_geom *p) {
    return p->groups == 1 && slots(p) > 1 && p->batch * prod3(p->out) <= SHARED_TILE_COLS;
}

static size_t fwd_thread_bytes(const cn_conv_geom *p) { /* packed columns, one unrolled row, a product block */
    int64_t t = fwd_tile(p), cout_g = p->out_channels / p->groups, total = p->batch * prod3(p->out);
    if (total <= SHARED_TILE_COLS && t < total) /* room for a shared tile, whatever the thread count */
        t = (total + FWD_NR_MAX - 1) / FWD_NR_MAX * FWD_NR_MAX;
    return align64((size_t)(column_rows(p) * t) * sizeof(cn_real)) + align64((size_t)t * sizeof(cn_real)) +
           align64((size_t)(cout_g * t) * sizeof(cn_real));
}

/* A narrower tile (a multiple of the GEMM's NR columns) that cuts `total` columns into a multiple of `threads` tiles, when
 * few tiles (under 8 a thread) would leave a thread one tile short: 25 tiles of 256 on two threads are 13
 * against 12, 26 of 256 - 16 are even. The tile as it was when no such width is near. */
static int64_t balanced_tile(int64_t total, int64_t tile, int threads) {
    int64_t ntiles = (total + tile - 1) / tile;
    if (threads < 2 || ntiles % threads == 0 || ntiles >= 8 * threads) return tile;
    int64_t nr = cn_gemm_blocking().nr;
    for (int64_t want = (ntiles + threads - 1) / threads * threads; want <= ntiles + 2 * threads; want += threads) {
        int64_t t = ((total + want - 1) / want + nr - 1) / nr * nr;
        if (((total + t - 1) / t) % threads == 0) return t;
    }
    return tile;
}

/* The weight gradient on the direct kernel: forced, or automatically where it was measured faster than the
 * GEMM (Zen 4, batch 32: 3x3 layers 1.2-2.6x, 1x1 on 28x28 and smaller planes 1.05-2.2x; Xeon: 5x5 layers
 * from 12 input and 16 output channels 1.2-2x, LeNet's 20 -> 50 among them, while 3x3 layers with fewer than
 * 32 channels were within 20 % either way). */
static bool weight_grad_direct(const cn_conv_geom *p) {
    if (!cn_conv_direct_wgrad_applies(p)) return false;
    if (p->algorithm == CN_CONV_DIRECT) return true;
    if (p->algorithm != CN_CONV_AUTO) return false;
    if (strcmp(cn_kernels_isa(), "avx512") != 0) {
        /* AVX2 (Zen 3, one thread, bench_passes, 2026-12-06): 3x3 and 5x5 layers with fewer than 128 input
         * channels or on 28x28 planes and larger 1.0-3.1x faster than the GEMM (LeNet's 20 -> 50: 10 against
         * 16.5 ms), 256 channels on 14x14 and 512 on 7x7 1.3-1.7x slower, 1x1 layers slower or even, and a
         * single input channel (a one-channel tile) 1.5x slower */
        if (prod3(p->kernel) == 1 || p->in_channels < 8) return false;
        return prod3(p->out) >= 784 || p->in_channels < 128;
    }
    if (p->kernel[1] * p->kernel[2] >= 25 && p->in_channels >= 12 && p->out_channels >= 16) return true;
    if (p->in_channels < 32 || p->out_channels < 32) return false;
    /* 1x1 on large planes: the per-sample transposes cost more than the GEMM loses (measured on 56x56) */
    return p->kernel[1] * p->kernel[2] > 1 || (prod3(p->out) <= 1024 && p->in_channels >= 64);
}

/* The data gradient of a stride-1 layer is a convolution of dy: C_out channels in, C_in out, the weights
 * transposed and flipped, padding (k-1)*dilation - pad_begin on each axis (>= 0 for the direct kernel). q gets
 * that geometry; true when the direct kernel runs it and pays (forced, or automatically: >= 12 input channels
 * of the layer, the gradient's 32-lane blocks; 1x1 from 64 output channels). */
static bool data_grad_direct(const cn_conv_geom *p, cn_conv_geom *q) {
    *q = *p;
    q->in_channels = p->out_channels, q->out_channels = p->in_channels;
    q->epilogue = NULL, q->prepared = NULL, q->inference = false, q->algorithm = CN_CONV_AUTO;
    for (int a = 0; a < 3; a++) {
        q->in[a] = p->out[a], q->out[a] = p->in[a];
        q->pad_begin[a] = (p->kernel[a] - 1) * p->dilation[a] - p->pad_begin[a];
        if (p->stride[a] != 1 || q->pad_begin[a] < 0) return false;
    }
    if (p->algorithm != CN_CONV_AUTO && p->algorithm != CN_CONV_DIRECT) return false;
    /* the gradient's 32 lanes are the layer's input channels: from 12 of them (Xeon, batch 32-64: 3x3 and 5x5
     * layers with 12-24 input channels 1.1-1.7x faster than im2col; 8 lost) */
    if (p->algorithm == CN_CONV_AUTO && (p->in_channels / p->groups < 12 ||
                                         (p->kernel[1] * p->kernel[2] == 1 && p->out_channels / p->groups < 64)))
        return false;
    /* AVX2: the GEMM ran 1x1 data gradients 1.1-2.3x faster (Zen 3; ResNet-50 1x1 layers, one thread) */
    if (p->algorithm == CN_CONV_AUTO && p->kernel[1] * p->kernel[2] == 1 && strcmp(cn_kernels_isa(), "avx512") != 0)
        return false;
    return cn_conv_direct_applies(q);
}

static size_t bwdw_thread_bytes(const cn_conv_geom *p);

size_t cn_conv_work_bytes_per_thread(const cn_conv_geom *p) {
    size_t f = fwd_thread_bytes(p), b = bwdw_thread_bytes(p);
    return f > b ? f : b;
}

size_t cn_conv_work_bytes(const cn_conv_geom *p) {
    size_t gemm = fwd_shared_bytes(p) + (size_t)slots(p) * cn_conv_work_bytes_per_thread(p);
    if (cn_conv_depthwise_applies(p)) {
        size_t dw = (size_t)slots(p) * cn_conv_depthwise_thread_bytes(p);
        if (dw > gemm) gemm = dw;
    }
    if (cn_conv_first_applies(p)) {
        size_t first = cn_conv_first_shared_bytes(p) + (size_t)slots(p) * cn_conv_first_thread_bytes(p);
        if (first > gemm) gemm = first;
    }
    if (cn_conv_direct_applies(p)) {
        size_t direct = cn_conv_direct_weights_bytes(p) + cn_conv_direct_shared_bytes(p) +
                        (size_t)slots(p) * cn_conv_direct_thread_bytes(p);
        if (direct > gemm) gemm = direct;
    }
    if (weight_grad_direct(p)) {
        size_t wg = cn_conv_direct_wgrad_bytes(p);
        if (wg > gemm) gemm = wg;
    }
    if (cn_conv_first_wgrad_applies(p)) {
        size_t fw = cn_conv_first_wgrad_bytes(p);
        if (fw > gemm) gemm = fw;
    }
    cn_conv_geom q;
    if (data_grad_direct(p, &q)) {
        size_t direct = cn_conv_direct_weights_bytes(&q) + cn_conv_direct_shared_bytes(&q) +
                        (size_t)slots(&q) * cn_conv_direct_thread_bytes(&q);
        if (direct > gemm) gemm = direct;
    }
    if (!cn_conv_winograd_applies(p)) return gemm;
    size_t wino = cn_conv_winograd_shared_bytes(p) + (size_t)slots(p) * cn_conv_winograd_thread_bytes(p);
    size_t wgrad = cn_conv_winograd_wgrad_applies(p) ? cn_conv_winograd_wgrad_bytes(p) : 0;
    if (wgrad > wino) wino = wgrad;
    return gemm > wino ? gemm : wino;
}

int cn_conv_fit_threads(const cn_conv_geom *p, size_t bytes, int max_threads) {
    int best = 1;
    for (int t = 2; t <= max_threads; t++) {
        cn_conv_geom q = *p;
        q.threads = t;
        if (cn_conv_work_bytes(&q) <= bytes) best = t;
    }
    return best;
}

/* dst[e] = src[2 e]: a stride-2 row gather (restrict: the compiler vectorises it with shuffles) */
static void copy_stride2(cn_real *restrict dst, const cn_real *restrict src, int64_t n) {
    for (int64_t e = 0; e < n; e++) dst[e] = src[2 * e];
}

/* Unroll one column row (input channel c of group grp, tap kd/kh/kw) for the batch-wide columns [j0, j0+width)
 * into out: out[j] = xpad[n(j), grp*cin_g + c, position(j) * stride + tap * dilation - pad]. Output rows are
 * walked as runs; with zero padding a run is a clipped copy (stride 1) or a strided gather. */
static void gather_row(const cn_conv_geom *p, const cn_real *x, int64_t grp, int64_t c, int64_t kd, int64_t kh,
                       int64_t kw, int64_t j0, int64_t width, cn_real *out) {
    int64_t positions = prod3(p->out), in_plane = prod3(p->in), cin_g = p->in_channels / p->groups;
    int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2], ID = p->in[0], IH = p->in[1], IW = p->in[2];
    int64_t n = j0 / positions, pos = j0 % positions;
    int64_t ow = pos % OW, oh = pos / OW % OH, od = pos / OW / OH, sw = p->stride[2];
    for (int64_t j = 0; j < width;) {
        int64_t run = width - j < OW - ow ? width - j : OW - ow;
        const cn_real *plane = x + (n * p->in_channels + grp * cin_g + c) * in_plane;
        int64_t id = od * p->stride[0] + kd * p->dilation[0] - p->pad_begin[0];
        int64_t ih = oh * p->stride[1] + kh * p->dilation[1] - p->pad_begin[1];
        int64_t iw0 = ow * sw + kw * p->dilation[2] - p->pad_begin[2];
        cn_real *dst = out + j;
        if (p->pad_mode == CN_PAD_ZEROS) {
            if (id < 0 || id >= ID || ih < 0 || ih >= IH) {
                memset(dst, 0, (size_t)run * sizeof(cn_real));
            } else {
                const cn_real *row = plane + (id * IH + ih) * IW;
                /* valid e: 0 <= iw0 + e*sw < IW */
                int64_t lo = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw, hi = IW - iw0 <= 0 ? 0 : (IW - iw0 + sw - 1) / sw;
                if (lo > run) lo = run;
                if (hi > run) hi = run;
                if (hi < lo) hi = lo;
                for (int64_t e = 0; e < lo; e++) dst[e] = 0;
                if (sw == 1) memcpy(dst + lo, row + iw0 + lo, (size_t)(hi - lo) * sizeof(cn_real));
                else if (sw == 2) copy_stride2(dst + lo, row + iw0 + 2 * lo, hi - lo);
                else
                    for (int64_t e = lo; e < hi; e++) dst[e] = row[iw0 + e * sw];
                for (int64_t e = hi; e < run; e++) dst[e] = 0;
            }
        } else {
            int64_t sd = conv_source_index(id, ID, p->pad_mode), sh = conv_source_index(ih, IH, p->pad_mode);
            for (int64_t e = 0; e < run; e++) {
                int64_t s = conv_source_index(iw0 + e * sw, IW, p->pad_mode);
                dst[e] = sd < 0 || sh < 0 || s < 0 ? 0 : plane[(sd * IH + sh) * IW + s];
            }
        }
        j += run;
        ow += run;
        if (ow == OW) {
            ow = 0;
            if (++oh == OH) {
                oh = 0;
                if (++od == OD) od = 0, n++;
            }
        }
    }
}

/* The adjoint of gather_row: dx[source of column j] += col[j] for the columns [j0, j0+width) of one column row
 * (several taps may share a source under reflect/replicate/circular padding: they add up). */
static void scatter_row_add(const cn_conv_geom *p, cn_real *dx, int64_t grp, int64_t c, int64_t kd, int64_t kh,
                            int64_t kw, int64_t j0, int64_t width, const cn_real *col) {
    int64_t positions = prod3(p->out), in_plane = prod3(p->in), cin_g = p->in_channels / p->groups;
    int64_t OD = p->out[0], OH = p->out[1], OW = p->out[2], ID = p->in[0], IH = p->in[1], IW = p->in[2];
    int64_t n = j0 / positions, pos = j0 % positions;
    int64_t ow = pos % OW, oh = pos / OW % OH, od = pos / OW / OH, sw = p->stride[2];
    for (int64_t j = 0; j < width;) {
        int64_t run = width - j < OW - ow ? width - j : OW - ow;
        cn_real *plane = dx + (n * p->in_channels + grp * cin_g + c) * in_plane;
        int64_t id = od * p->stride[0] + kd * p->dilation[0] - p->pad_begin[0];
        int64_t ih = oh * p->stride[1] + kh * p->dilation[1] - p->pad_begin[1];
        int64_t iw0 = ow * sw + kw * p->dilation[2] - p->pad_begin[2];
        const cn_real *src = col + j;
        if (p->pad_mode == CN_PAD_ZEROS) {
            if (id >= 0 && id < ID && ih >= 0 && ih < IH) {
                cn_real *row = plane + (id * IH + ih) * IW;
                int64_t lo = iw0 >= 0 ? 0 : (-iw0 + sw - 1) / sw, hi = IW - iw0 <= 0 ? 0 : (IW - iw0 + sw - 1) / sw;
                if (lo > run) lo = run;
                if (hi > run) hi = run;
                for (int64_t e = lo; e < hi; e++) row[iw0 + e * sw] += src[e];
            }
        } else {
            int64_t sd = conv_source_index(id, ID, p->pad_mode), sh = conv_source_index(ih, IH, p->pad_mode);
            if (sd >= 0 && sh >= 0)
                for (int64_t e = 0; e < run; e++) {
                    int64_t s = conv_source_index(iw0 + e * sw, IW, p->pad_mode);
                    if (s >= 0) plane[(sd * IH + sh) * IW + s] += src[e];
                }
        }
        j += run;
        ow += run;
        if (ow == OW) {
            ow = 0;
            if (++oh == OH) {
                oh = 0;
                if (++od == OD) od = 0, n++;
            }
        }
    }
}

static inline void copy_floats32(cn_real *restrict dst, const cn_real *restrict src) {
    for (int e = 0; e < 32; e++) dst[e] = src[e];
}
static inline void copy_floats16(cn_real *restrict dst, const cn_real *restrict src) {
    for (int e = 0; e < 16; e++) dst[e] = src[e];
}

/* The columns [j0, j0+width) of group grp as a packed B operand (K x width, see gemm.h; bp and rowbuf have room
 * for width rounded up to NR): each column row is unrolled into rowbuf (zero past width) and cut into NR-wide
 * panel rows. */
/* Row r of a packed B operand of `depth` rows whose columns are rowbuf[0, npanels*NR) (gemm.h layout). */
static void put_panel_row(cn_real *bp, int64_t r, int64_t depth, int64_t npanels, const cn_real *rowbuf) {
    cn_gemm_blocks blk = cn_gemm_blocking();
    int64_t p0 = r / blk.kc * blk.kc, kcb = depth - p0 < blk.kc ? depth - p0 : blk.kc, q = r - p0;
    cn_real *block = bp + p0 * npanels * blk.nr;
    if (blk.nr == 32) /* constant trip counts: the copies vectorise inline (AVX-512 and AVX2 panel widths) */
        for (int64_t jp = 0; jp < npanels; jp++) copy_floats32(block + (jp * kcb + q) * 32, rowbuf + jp * 32);
    else if (blk.nr == 16)
        for (int64_t jp = 0; jp < npanels; jp++) copy_floats16(block + (jp * kcb + q) * 16, rowbuf + jp * 16);
    else
        for (int64_t jp = 0; jp < npanels; jp++)
            for (int e = 0; e < blk.nr; e++) block[(jp * kcb + q) * blk.nr + e] = rowbuf[jp * blk.nr + e];
}

/* Columns [j, j+run) of row q of a packed block (panels of nr columns, kcb rows) from src[0, run); `ahead`: the
 * distance to the data to prefetch (0: none). */
static void copy_to_panels(cn_real *block, int64_t kcb, int64_t q, int nr, int64_t j, const cn_real *src,
                           int64_t run, int64_t ahead) {
    while (run > 0) {
        int64_t e = j % nr, m = nr - e < run ? nr - e : run;
        cn_real *dst = block + (j / nr * kcb + q) * nr + e;
        if (ahead) __builtin_prefetch(src + ahead);
        if (ahead && m > 16) __builtin_prefetch(src + ahead + 16);
        if (m == 16) copy_floats16(dst, src);
        else if (m == 32) copy_floats32(dst, src);
        else
            for (int64_t i = 0; i < m; i++) dst[i] = src[i];
        j += m, src += m, run -= m;
    }
}

/* Channels [c0, c0 + count) of an NCHW tensor t (`channels` per sample, planes of `positions`) for the
 * batch-wide columns [j0, j0 + width) as a packed B operand (count x width): each row straight into the panels,
 * a run per sample the columns span, zeros past width. The plane 4 channels on is asked for while one is
 * copied: the planes are read from memory as 4 and more streams at once (1x1 256 -> 64 on 56x56: packing 13 ->
 * 10 ms a batch of 32). */
static void pack_plane_range(const cn_real *t, int64_t channels, int64_t c0, int64_t count, int64_t positions,
                             int64_t j0, int64_t width, cn_real *bp, int64_t ca, int64_t cb) {
    cn_gemm_blocks blk = cn_gemm_blocking();
    int64_t npanels = (width + blk.nr - 1) / blk.nr;
    for (int64_t c = ca; c < cb; c++) {
        int64_t p0 = c / blk.kc * blk.kc, kcb = count - p0 < blk.kc ? count - p0 : blk.kc, q = c - p0;
        cn_real *block = bp + p0 * npanels * blk.nr;
        int64_t ahead = c + 4 < count ? 4 * positions : 0;
        for (int64_t j = 0, n = j0 / positions, pos = j0 % positions; j < width; n++, pos = 0) {
            int64_t run = width - j < positions - pos ? width - j : positions - pos;
            copy_to_panels(block, kcb, q, blk.nr, j, t + (n * channels + c0 + c) * positions + pos, run, ahead);
            j += run;
        }
        for (int64_t j = width; j < npanels * blk.nr; j++) block[(j / blk.nr * kcb + q) * blk.nr + j % blk.nr] = 0;
    }
}

static void pack_planes(const cn_real *t, int64_t channels, int64_t c0, int64_t count, int64_t positions, int64_t j0,
                        int64_t width, cn_real *bp) {
    pack_plane_range(t, channels, c0, count, positions, j0, width, bp, 0, count);
}

/* Rows [ra, rb) of a tile's packed columns (a row: one input channel and kernel tap) */
static void pack_column_rows(const cn_conv_geom *p, const cn_real *x, int64_t grp, int64_t j0, int64_t width,
                             cn_real *bp, cn_real *rowbuf, int64_t ra, int64_t rb) {
    cn_gemm_blocks blk = cn_gemm_blocking();
    int64_t rows = column_rows(p), npanels = (width + blk.nr - 1) / blk.nr, cin_g = p->in_channels / p->groups;
    int64_t positions = prod3(p->out), taps = prod3(p->kernel);
    if (reads_x_directly(p)) { /* 1x1: a column row is a piece of an input plane per sample the tile spans */
        pack_plane_range(x, p->in_channels, grp * cin_g, cin_g, positions, j0, width, bp, ra, rb);
        return;
    }
    for (int64_t j = width; j < npanels * blk.nr; j++) rowbuf[j] = 0;
    for (int64_t r = ra; r < rb; r++) {
        int64_t c = r / taps, t = r % taps;
        int64_t kw = t % p->kernel[2], kh = t / p->kernel[2] % p->kernel[1], kd = t / p->kernel[2] / p->kernel[1];
        gather_row(p, x, grp, c, kd, kh, kw, j0, width, rowbuf);
        put_panel_row(bp, r, rows, npanels, rowbuf);
    }
}

static void pack_columns(const cn_conv_geom *p, const cn_real *x, int64_t grp, int64_t j0, int64_t width,
                         cn_real *bp, cn_real *rowbuf) {
    pack_column_rows(p, x, grp, j0, width, bp, rowbuf, 0, column_rows(p));
}

/* dy of group grp for the batch-wide columns [j0, j0+width) as a packed B operand (C_out/groups x width). */
static void pack_output_grad(const cn_conv_geom *p, const cn_real *dy, int64_t grp, int64_t j0, int64_t width,
                             cn_real *bp) {
    int64_t cout_g = p->out_channels / p->groups;
    pack_planes(dy, p->out_channels, grp * cout_g, cout_g, prod3(p->out), j0, width, bp);
}

/* Output channels dealt out in parts of whole register tiles (mr rows), at least 4 tiles a part: `want` parts
 * or as many as there are; part_rows gives part's rows [r0, r1). */
static int64_t channel_parts(int64_t want, int64_t cout_g, int64_t mr) {
    if (want > cout_g / (4 * mr)) want = cout_g / (4 * mr);
    return want < 1 ? 1 : want;
}

static void part_rows(int64_t cout_g, int64_t part, int64_t parts, int64_t mr, int64_t *r0, int64_t *r1) {
    *r0 = cout_g * part / parts / mr * mr;
    *r1 = part + 1 == parts ? cout_g : cout_g * (part + 1) / parts / mr * mr;
}

/* A 1x1 stride-1 layer's planes read in place by the GEMM (cn_gemm_packed_rows_strided_b) instead of packed:
 * groups 1, up to STRIDED_B_MAX_ROWS rows of B (`depth`: input channels forward, output channels for the data
 * gradient), planes of a multiple of 16 positions. */
static bool inplace_planes(const cn_conv_geom *p, int64_t depth) {
    return p->groups == 1 && reads_x_directly(p) && depth <= STRIDED_B_MAX_ROWS && prod3(p->out) % 16 == 0 &&
           cn_gemm_strided_b_ok(depth, 16);
}

/* Columns per in-place piece of a plane: the widest multiple of 16 up to 512 that gives every thread as many
 * pieces (else the widest up to 512; the whole plane when it has at most 512 positions). */
static int64_t inplace_chunk(const cn_conv_geom *p, int64_t positions, int threads) {
    int64_t chunk = 0;
    for (int64_t k = 1; k * 16 <= positions; k++) {
        int64_t c = (positions + k - 1) / k, w = (c + 15) / 16 * 16;
        if (w > 512) continue;
        if (!chunk) chunk = w; /* the fallback: the widest at most 512 */
        if ((p->batch * ((positions + w - 1) / w)) % threads == 0) return w;
        if (w <= 64) break;
    }
    return chunk ? chunk : positions; /* positions <= 512 and not cut */
}

/* An output of at least CN_STREAM_MIN_BYTES goes to memory with non-temporal stores (CN_GEMM_STREAM): it cannot
 * stay in the caches for the next layer anyway, and a plain store first reads each line of it from memory. 1x1
 * forward, batch 32, two threads, alternated runs (two series): 32 -> 64 on 112x112 (103 MB out) 27-44 % less
 * time, 64 -> 64 on 56x56 (26 MB) 16-27 %, 64 -> 256 4-15 %, 256 -> 64 0-9 %; 128 -> 128 on 28x28 (13 MB) and
 * a set data gradient (256 -> 64 on 56x56, forward and backward) even; streaming every output made LeNet-5's
 * training step (outputs of at most 4 MB, read again at once) 9 % slower. */
static bool streams_output(int64_t floats) { return floats * (int64_t)sizeof(cn_real) >= CN_STREAM_MIN_BYTES; }

/* C = A B + beta C for each sample of a 1x1 layer whose planes are read in place (inplace_planes): B is the
 * sample's k planes (b + n * b_sample), C its m planes (c + n * c_sample), in pieces of inplace_chunk columns,
 * the rows of C in parts of whole register tiles when there are fewer pieces than threads. A (m x k) is
 * `prepared` when packed already, else packed from w (its transpose when ta) into work by one thread. The
 * epilogue (scale, shift, relu) as the tiles are written. */
static void inplace_gemm(const cn_conv_geom *p, int64_t m, int64_t k, bool ta, const cn_real *w,
                         const cn_real *prepared, void *work, const cn_real *b, int64_t b_sample, cn_real beta,
                         cn_real *c, int64_t c_sample, const cn_real *scale, const cn_real *shift, bool relu) {
    int threads = slots(p);
    /* C set, not added to: an added C is read into the caches anyway, and streaming it out again was slower
     * (the data gradient alone into a 103 MB dx that is not fresh, medians of 6 alternated runs on a busy
     * machine: 256 -> 64 on 56x56 72 -> 90 ms, 64 -> 32 on 112x112 64 -> 74) */
    bool stream = beta == 0 && streams_output(p->batch * c_sample);
    unsigned flags = (relu ? CN_GEMM_RELU : 0u) | (stream ? CN_GEMM_STREAM : 0u);
    int64_t positions = prod3(p->out), mr = cn_gemm_blocking().mr;
    int64_t chunk = inplace_chunk(p, positions, threads), nchunks = (positions + chunk - 1) / chunk;
    int64_t pieces = p->batch * nchunks;
    /* fewer pieces than threads (batch 1 on an 8x8 plane: one piece): the rows in parts too */
    int64_t parts = pieces < threads ? channel_parts((threads + pieces - 1) / pieces, m, mr) : 1;
    const cn_real *apack = prepared ? prepared : (const cn_real *)work;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        if (!prepared) {
#pragma omp single
            cn_gemm_pack_a(ta, m, k, w, ta ? m : k, (cn_real *)work);
        }
#pragma omp for schedule(static)
        for (int64_t item = 0; item < pieces * parts; item++) {
            int64_t it = item / parts, part = item % parts, n = it / nchunks, j0 = it % nchunks * chunk;
            int64_t width = positions - j0 < chunk ? positions - j0 : chunk, r0, r1;
            part_rows(m, part, parts, mr, &r0, &r1);
            cn_gemm_packed_rows_strided_b(m, width, k, r0, r1, apack, b + n * b_sample + j0, positions, beta,
                                          c + n * c_sample + j0, positions, scale, shift, flags);
        }
    }
}

static void forward_gemm(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b, cn_real *y,
                         void *work) {
    int64_t cout_g = p->out_channels / p->groups, rows = column_rows(p), positions = prod3(p->out);
    int64_t total = p->batch * positions, tile = fwd_tile(p);
    if (p->groups == 1) tile = balanced_tile(total, tile, slots(p));
    int64_t ntiles = (total + tile - 1) / tile, wstride = packed_weight_stride(p);
    const cn_real *wpack = p->prepared ? p->prepared : (const cn_real *)work;
    const cn_conv_epilogue *e = p->epilogue;
    int threads = slots(p);
    /* Few column tiles for the threads (grouped layers, or a few tiles past SHARED_TILE_COLS columns): the
     * output channels are split as well, in parts of whole register tiles (each part packs its tile's
     * columns again). */
    int64_t mr = cn_gemm_blocking().mr, mparts = 1;
    bool shared = shared_tile(p);
    if (shared) { /* one tile of every column, packed by the threads together; the output channels in parts */
        tile = (total + FWD_NR_MAX - 1) / FWD_NR_MAX * FWD_NR_MAX, ntiles = 1; /* the buffers' span */
        mparts = channel_parts(4 * threads, cout_g, mr);
    } else if (threads > 1 && p->groups * ntiles < 2 * threads) {
        mparts = channel_parts(2 * threads / (p->groups * ntiles) + 1, cout_g, mr);
    }
    if (inplace_planes(p, rows)) {
        /* up to 1024 input channels (AVX2): the GEMM reads each input plane as it lies, no packing of B (a
         * packed float serves only C_out multiply-adds, 64 for 64 -> 64). A 16-column piece of a depth block
         * (256 lines) is re-read for every weight panel from L1/L2. Pieces of a sample of up to 512 columns,
         * as many for every thread. Batch 32, two threads, against packing: 64->64 on 56x56 6.9 -> 5.8 ms,
         * 32->64 on 112x112 18.9 -> 16.6, 128->128 on 56x56 23.3 -> 20.8, 128->256 on 28x28 12.7 -> 9.5,
         * 256->64 on 56x56 23.3 -> 19.5, 256->256 on 28x28 even, 512->128 on 28x28 20.6 -> 19.1, 512->256
         * 38.9 -> 36.6, 1024->256 75.2 -> 71.5. The bias (a shift with no scale) or the fused epilogue as the
         * tiles are written. */
        inplace_gemm(p, cout_g, rows, false, w, p->prepared, work, x, p->in_channels * positions, 0, y,
                     p->out_channels * positions, e ? e->scale : NULL, e ? e->shift : b, e && e->relu);
        return;
    }
    int64_t items = p->groups * ntiles * mparts;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        if (!p->prepared) {
#pragma omp for schedule(static)
            for (int64_t grp = 0; grp < p->groups; grp++)
                cn_gemm_pack_a(false, cout_g, rows, w + grp * cout_g * rows, rows, (cn_real *)work + grp * wstride);
        }
        char *base = (char *)work + fwd_shared_bytes(p) + (size_t)omp_get_thread_num() * cn_conv_work_bytes_per_thread(p);
        cn_real *bp = (cn_real *)base;
        cn_real *rowbuf = (cn_real *)(base + align64((size_t)(rows * tile) * sizeof(cn_real)));
        cn_real *cbuf = rowbuf + align64((size_t)tile * sizeof(cn_real)) / sizeof(cn_real);
        if (shared) { /* thread 0's column buffer holds the tile; each thread packs a share of its rows */
            int nt = omp_get_num_threads(), t = omp_get_thread_num();
            bp = (cn_real *)((char *)work + fwd_shared_bytes(p));
            pack_column_rows(p, x, 0, 0, total, bp, rowbuf, rows * t / nt, rows * (t + 1) / nt);
#pragma omp barrier
        }
        /* dynamic: every item writes its own columns, so the result does not depend on which thread takes it,
         * and a thread slowed by another tenant no longer holds the other back. Batch 32, two threads, against
         * static: 1x1 1024->256 on 14x14 21-22 -> 19.8-19.9 ms, 2048->512 on 7x7 19.6 -> 18.6, 512->1024
         * stride 2 on 28x28 44.2 -> 41.2. (The in-place path above stays static: dynamic pieces of one plane
         * ran 21.5 -> 33 ms on 64->256 at 56x56.) */
#pragma omp for schedule(dynamic, 1)
        for (int64_t item = 0; item < items; item++) {
            int64_t part = item % mparts, it = item / mparts;
            int64_t grp = it / ntiles, j0 = it % ntiles * tile, width = total - j0 < tile ? total - j0 : tile;
            int64_t r0, r1;
            part_rows(cout_g, part, mparts, mr, &r0, &r1);
            if (!shared) pack_columns(p, x, grp, j0, width, bp, rowbuf);
            int64_t n0 = j0 / positions, pos0 = j0 % positions;
            const cn_real *bias = b && !e ? b + grp * cout_g : NULL;
            if (pos0 + width <= positions) { /* one sample: straight into y */
                cn_real *c = y + (n0 * p->out_channels + grp * cout_g) * positions + pos0;
                if (e) {
                    cn_gemm_packed_rows(cout_g, width, rows, r0, r1, wpack + grp * wstride, bp, c, positions,
                                        e->scale + grp * cout_g, e->shift + grp * cout_g, e->relu);
                    continue;
                }
                cn_gemm_packed_rows(cout_g, width, rows, r0, r1, wpack + grp * wstride, bp, c, positions, NULL, bias,
                                    false); /* the bias as the tiles are written */
                continue;
            }
            cn_gemm_packed_rows(cout_g, width, rows, r0, r1, wpack + grp * wstride, bp, cbuf, tile, NULL, NULL, false);
            for (int64_t o = r0; o < r1; o++) /* scatter the product over the samples it spans */
                for (int64_t j = 0, n = n0, pos = pos0; j < width; n++, pos = 0) {
                    int64_t run = width - j < positions - pos ? width - j : positions - pos;
                    cn_real *dst = y + (n * p->out_channels + grp * cout_g + o) * positions + pos;
                    const cn_real *src = cbuf + o * tile + j;
                    cn_real bo = bias ? bias[o] : 0, so = 1;
                    if (e) so = e->scale[grp * cout_g + o], bo = e->shift[grp * cout_g + o];
                    for (int64_t q = 0; q < run; q++) dst[q] = so * src[q] + bo;
                    if (e && e->relu)
                        for (int64_t q = 0; q < run; q++) dst[q] = dst[q] > 0 ? dst[q] : 0;
                    j += run;
                }
        }
    }
}

/* The data gradient as GEMMs over batch-wide column tiles, like the forward pass: W^T packed once per call,
 * each tile's dy packed straight from NCHW, dcol = W^T dy_tile, then col2im adds dcol into dx (a 1x1 stride-1
 * unpadded conv adds W^T dy straight into dx). Each thread takes a contiguous range of samples, so no two
 * threads add into the same dx element. */
static void backward_data_batched(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                  void *work) {
    int64_t cout_g = p->out_channels / p->groups, cin_g = p->in_channels / p->groups, rows = column_rows(p);
    int64_t positions = prod3(p->out), tile = fwd_tile(p), wstride = packed_weight_stride(p);
    bool direct = reads_x_directly(p);
    bool set = direct && p->dx_fresh; /* a 1x1 stride-1 layer writes each dx element once: set a fresh dx */
    cn_real *wpack = (cn_real *)work;
    int threads = slots(p);
    if (inplace_planes(p, cout_g) && cout_g <= 128) {
        /* dy's planes read in place, in the forward's pieces (no packed copy of dy), for up to 128 output
         * channels (the depth). Batch 32, two threads, the data gradient alone against packing dy (medians of
         * 11): 64 -> 64 on 56x56 8.6-9.0 -> 7.9-8.1 ms, 512 -> 128 on 28x28 27.2-28.7 -> 26.1-26.2, 256 -> 64 on
         * 56x56 even; but with 256 output channels 128 -> 256 on 28x28 14.0 -> 14.3-15.0, 256 -> 256 25.5-25.9
         * -> 29.8, 64 -> 256 on 56x56 30.0-30.9 -> 34.8-35.1 */
        inplace_gemm(p, rows, cout_g, true, w, NULL, work, dy, p->out_channels * positions, set ? 0 : 1, dx,
                     p->in_channels * positions, NULL, NULL, false);
        return;
    }
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
#pragma omp for schedule(static)
        for (int64_t grp = 0; grp < p->groups; grp++)
            cn_gemm_pack_a(true, rows, cout_g, w + grp * cout_g * rows, rows, wpack + grp * wstride);
        char *base = (char *)work + fwd_shared_bytes(p) + (size_t)omp_get_thread_num() * cn_conv_work_bytes_per_thread(p);
        cn_real *col = (cn_real *)base;
        cn_real *rowbuf = (cn_real *)(base + align64((size_t)(rows * tile) * sizeof(cn_real)));
        cn_real *dyp = rowbuf + align64((size_t)tile * sizeof(cn_real)) / sizeof(cn_real);
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t first = p->batch * t / nt * positions, last = p->batch * (t + 1) / nt * positions;
        for (int64_t grp = 0; grp < p->groups; grp++)
            for (int64_t j0 = first; j0 < last; j0 += tile) {
                int64_t width = last - j0 < tile ? last - j0 : tile, n0 = j0 / positions, pos0 = j0 % positions;
                pack_output_grad(p, dy, grp, j0, width, dyp);
                if (direct && pos0 + width <= positions) {
                    cn_real *c = dx + (n0 * p->in_channels + grp * cin_g) * positions + pos0;
                    cn_gemm_packed(rows, width, cout_g, 1, wpack + grp * wstride, dyp, set ? 0 : 1, c, positions);
                    continue;
                }
                cn_gemm_packed(rows, width, cout_g, 1, wpack + grp * wstride, dyp, 0, col, width);
                if (direct) { /* 1x1 over several samples: add each channel's row back a sample's run at a time */
                    for (int64_t c = 0; c < cin_g; c++)
                        for (int64_t j = 0, n = n0, pos = pos0; j < width; n++, pos = 0) {
                            int64_t run = width - j < positions - pos ? width - j : positions - pos;
                            cn_real *d = dx + (n * p->in_channels + grp * cin_g + c) * positions + pos;
                            const cn_real *src = col + c * width + j;
                            if (set) memcpy(d, src, (size_t)run * sizeof(cn_real));
                            else
                                for (int64_t e = 0; e < run; e++) d[e] += src[e];
                            j += run;
                        }
                    continue;
                }
                int64_t r = 0;
                for (int64_t c = 0; c < cin_g; c++)
                    for (int64_t kd = 0; kd < p->kernel[0]; kd++)
                        for (int64_t kh = 0; kh < p->kernel[1]; kh++)
                            for (int64_t kw = 0; kw < p->kernel[2]; kw++, r++)
                                scatter_row_add(p, dx, grp, c, kd, kh, kw, j0, width, col + r * width);
            }
    }
}

/* ---- the weight gradient, dW_g += dy_g col_g^T over batch-wide tiles of columns: the depth of each GEMM is
 * the tile width (not one sample's positions, which is 49 in late ResNet layers). dy's tile is written straight
 * into packed-A order and the unrolled columns straight into packed-B order of col^T, so nothing is copied
 * twice. With several threads each accumulates into a private gradient; they are summed in thread order, so
 * the result depends only on the thread count. */
/* Columns per weight-gradient tile: the tile width is the GEMM's depth and every tile reads and writes the
 * whole C_out x K gradient, so at least 256 (when the batch has them) even if the columns outgrow L2. */
static int64_t bwdw_tile(const cn_conv_geom *p) {
    int64_t t = fwd_tile(p), all = (p->batch * prod3(p->out) + FWD_NR_MAX - 1) / FWD_NR_MAX * FWD_NR_MAX;
    if (t < 256) t = 256;
    return t < all ? t : all;
}

/* packed col^T, packed dy tile, row-major columns, row-major dy tile, (threaded) the private gradient */
static size_t bwdw_thread_bytes(const cn_conv_geom *p) {
    int64_t t = bwdw_tile(p), rows = column_rows(p), cout_g = p->out_channels / p->groups;
    size_t b = align64((size_t)((rows + FWD_NR_MAX) * t) * sizeof(cn_real)) +
               align64((size_t)((cout_g + FWD_MR_PAD) * t) * sizeof(cn_real)) +
               align64((size_t)(rows * t) * sizeof(cn_real)) + align64((size_t)(cout_g * t) * sizeof(cn_real)) +
               align64((size_t)p->out_channels * sizeof(double));
    return b + (p->threads > 1 ? weight_bytes(p) : 0);
}

typedef struct {
    cn_real *colt, *dya, *cols, *dys, *dw;
    double *db; /* the thread's bias-gradient sums */
} bwdw_bufs;

static bwdw_bufs bwdw_slot(const cn_conv_geom *p, void *work, int t) {
    int64_t tile = bwdw_tile(p), rows = column_rows(p), cout_g = p->out_channels / p->groups;
    char *b = (char *)work + fwd_shared_bytes(p) + (size_t)t * cn_conv_work_bytes_per_thread(p);
    bwdw_bufs s;
    s.colt = (cn_real *)b, b += align64((size_t)((rows + FWD_NR_MAX) * tile) * sizeof(cn_real));
    s.dya = (cn_real *)b, b += align64((size_t)((cout_g + FWD_MR_PAD) * tile) * sizeof(cn_real));
    s.cols = (cn_real *)b, b += align64((size_t)(rows * tile) * sizeof(cn_real));
    s.dys = (cn_real *)b, b += align64((size_t)(cout_g * tile) * sizeof(cn_real));
    s.db = (double *)b, b += align64((size_t)p->out_channels * sizeof(double));
    s.dw = p->threads > 1 ? (cn_real *)b : NULL;
    return s;
}

/* db[o] += sum of dy[., o, .]: 16 lanes in working precision per sample, combined in double. Called inside a
 * parallel region (orphaned omp for) or serially. */
static void bias_grad(const cn_conv_geom *p, const cn_real *dy, cn_real *db) {
    int64_t positions = prod3(p->out);
#pragma omp for schedule(static)
    for (int64_t o = 0; o < p->out_channels; o++) {
        double acc = 0;
        for (int64_t n = 0; n < p->batch; n++)
            acc += cn_conv_sum(dy + (n * p->out_channels + o) * positions, positions);
        db[o] += (cn_real)acc;
    }
}

static void backward_weights_batched(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                     cn_real *db, void *work) {
    int64_t cout_g = p->out_channels / p->groups, cin_g = p->in_channels / p->groups, rows = column_rows(p);
    int64_t positions = prod3(p->out), total = p->batch * positions, tile = bwdw_tile(p);
    int64_t ntiles = (total + tile - 1) / tile, wcount = p->out_channels * rows;
    bool direct = reads_x_directly(p);
    int threads = slots(p);
    /* as many tiles for every thread (batch-32 7x7 layers: 8 tiles of 196 columns, not 4 against 3 of 256 with
     * the last one 32 wide); the tiles only get narrower, so the workspace holds */
    if (p->groups == 1) {
        tile = balanced_tile(total, tile, threads);
        ntiles = (total + tile - 1) / tile;
    }
    /* planes of 128 positions and more: tiles cut within samples (as wide as the tile allows), so dy and a 1x1
     * layer's input are packed straight from the tensors; a tile across two samples was copied into row-major
     * buffers first and packed from there (14x14 planes in tiles of 224: 6 % of a 1024 -> 256 layer's
     * forward+backward in those copies) */
    int64_t per_sample = 0, chunk = 0;
    if (positions >= 128) {
        per_sample = (positions + tile - 1) / tile, chunk = (positions + per_sample - 1) / per_sample;
        ntiles = p->batch * per_sample;
    }
    int64_t items = p->groups * ntiles;
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        bwdw_bufs s = bwdw_slot(p, work, omp_get_thread_num());
        cn_real *mine = threads > 1 ? s.dw : dw;
        if (threads > 1) memset(mine, 0, (size_t)wcount * sizeof(cn_real));
        if (db) memset(s.db, 0, (size_t)p->out_channels * sizeof(double));
#pragma omp for schedule(static)
        for (int64_t item = 0; item < items; item++) {
            int64_t grp = item / ntiles, j0 = item % ntiles * tile, width = total - j0 < tile ? total - j0 : tile;
            if (per_sample) {
                int64_t it = item % ntiles, n = it / per_sample, c0 = it % per_sample * chunk;
                j0 = n * positions + c0, width = positions - c0 < chunk ? positions - c0 : chunk;
            }
            int64_t n0 = j0 / positions, pos0 = j0 % positions;
            bool one_sample = pos0 + width <= positions;
            /* dy tile (cout_g x width) and columns (rows x width): in place when the tile lies in one sample */
            const cn_real *dys = dy + (n0 * p->out_channels + grp * cout_g) * positions + pos0, *cols;
            int64_t ld_dy = positions, ld_col = positions;
            if (!one_sample) {
                for (int64_t o = 0; o < cout_g; o++)
                    for (int64_t j = 0, n = n0, pos = pos0; j < width; n++, pos = 0) {
                        int64_t run = width - j < positions - pos ? width - j : positions - pos;
                        memcpy(s.dys + o * width + j, dy + (n * p->out_channels + grp * cout_g + o) * positions + pos,
                               (size_t)run * sizeof(cn_real));
                        j += run;
                    }
                dys = s.dys, ld_dy = width;
            }
            if (direct && one_sample) {
                cols = x + (n0 * p->in_channels + grp * cin_g) * positions + pos0;
            } else {
                int64_t r = 0;
                for (int64_t c = 0; c < cin_g; c++)
                    for (int64_t kd = 0; kd < p->kernel[0]; kd++)
                        for (int64_t kh = 0; kh < p->kernel[1]; kh++)
                            for (int64_t kw = 0; kw < p->kernel[2]; kw++, r++)
                                gather_row(p, x, grp, c, kd, kh, kw, j0, width, s.cols + r * width);
                cols = s.cols, ld_col = width;
            }
            cn_gemm_pack_a(false, cout_g, width, dys, ld_dy, s.dya);
            /* the bias gradient from the dy tile just packed (in L2), not in a pass of its own over dy: 64 -> 64
             * on 56x56, batch 32, the weight gradient 12 % of its time in that pass */
            if (db)
                for (int64_t o = 0; o < cout_g; o++) s.db[grp * cout_g + o] += cn_conv_sum(dys + o * ld_dy, width);
            cn_gemm_pack_b(true, width, rows, cols, ld_col, s.colt);
            cn_gemm_packed(cout_g, rows, width, 1, s.dya, s.colt, 1, mine + grp * cout_g * rows, rows);
        }
        /* implicit barrier above: every thread's gradients are complete. The slots lie a fixed stride apart
         * (bwdw_slot is too dear to ask once per element); the threads' values are added in thread order. */
        bwdw_bufs s0 = bwdw_slot(p, work, 0);
        const char *dw0 = (const char *)s0.dw, *db0 = (const char *)s0.db;
        size_t stride = cn_conv_work_bytes_per_thread(p);
        if (threads > 1) {
#pragma omp for schedule(static)
            for (int64_t i = 0; i < wcount; i++) {
                cn_real acc = 0;
                for (int k = 0; k < threads; k++) acc += ((const cn_real *)(dw0 + (size_t)k * stride))[i];
                dw[i] += acc;
            }
        }
        if (db) {
#pragma omp for schedule(static)
            for (int64_t o = 0; o < p->out_channels; o++) {
                double acc = 0;
                for (int k = 0; k < threads; k++) acc += ((const double *)(db0 + (size_t)k * stride))[o];
                db[o] += (cn_real)acc;
            }
        }
    }
}

/* db += the bias gradient on the layer's team (the weight-gradient kernels that leave it to the caller) */
static void bias_grad_team(const cn_conv_geom *p, const cn_real *dy, cn_real *db) {
    if (!db) return;
    int threads = slots(p);
#pragma omp parallel num_threads(threads) if (threads > 1)
    bias_grad(p, dy, db);
}

/* ---- the dispatch */

/* 5x5 Winograd, AVX2 kernels only (the AVX-512 ones have no vector output transform for 2x2 tiles and no 8x8
 * patches): F(4x4,5x5) forward and data gradient. Against the direct kernel (Zen 3, two threads, weights
 * transformed per call; bench_passes, forward / data ms): batch 32 AlexNet conv2 (64 -> 192 on 27x27) 20.4 / 21.8
 * (F(2x2,5x5) 39 / 43, direct 81 / 84); 16 -> 32 on 28x28 1.8 / 1.8 against 4.0 / 4.1; 8 -> 16 on 28x28 0.86 /
 * 0.84 against 1.34 / 1.68; 16 -> 16 on 14x14 0.52 / 0.45 against 0.58 / 0.70; LeNet-5's original C3 (6 ->
 * 16 on 14x14, no padding, batch 64) 0.26 / 0.42 against 0.32 / 0.80; batch 1 32 -> 64 on 14x14 (16
 * tiles) 0.16 / 0.17 against 0.19 / 0.26; slower on batch-1 7x7 (4 tiles: 0.41 against 0.15); LeNet's conv2
 * (20 -> 50 on 14x14, batch 64) 1.9 / 2.0 (F(2x2,5x5) 2.8 / 3.2). */
static bool winograd5_pays(const cn_conv_geom *p) {
    if (strcmp(cn_kernels_isa(), "avx2") != 0 || p->in_channels < 6 || p->out_channels < 16) return false;
    int64_t th = (p->out[1] + 3) / 4, tw = (p->out[2] + 3) / 4;
    return p->batch * th * tw >= 16;
}

/* Winograd when it applies and wins (measured on Zen 4, docs/BENCHMARKS.md): enough channels to amortise the
 * tile transforms, enough tiles to amortise the weight transform (done once per pass: batch-1 14x14 layers
 * ran 2.5x slower than im2col, 7x7 layers at batch 32 1.5x faster; for inference the weights are transformed
 * once, and more than 16 tiles win: on Zen 4 16 tiles (batch-1 14x14 and 13x13) already did, on a Xeon with 2
 * FMA ports the direct kernel ran those 10-20 % faster (ResNet-50 layer3, AlexNet conv3-5 at batch 1) while
 * 49 tiles (batch-1 28x28) stayed 1.5x faster with Winograd). Tile waste matters less than it seems: 13x13
 * planes compute 16x16 (1.5x) and still ran 1.8x faster than the direct kernel (AlexNet conv3-5, batch 32),
 * 5x5 planes (2.56x) 1.15x faster; the limit is 2.6x. */
static bool winograd_pays(const cn_conv_geom *p) {
    if (!cn_conv_winograd_applies(p)) return false;
    if (p->kernel[1] == 5) return winograd5_pays(p);
    if (p->in_channels < 16 || p->out_channels < 16) return false;
    int64_t th = (p->out[1] + 3) / 4, tw = (p->out[2] + 3) / 4;
    /* AVX2 (Zen 3, 2026-12-06): the direct kernel's 8-lane tiles are no match; 16 tiles (batch-1 14x14) ran
     * 1.9x faster than direct even with the weights transformed every pass, 4 tiles (batch-1 7x7) 1.9x slower */
    int64_t need = strcmp(cn_kernels_isa(), "avx512") != 0 ? 16 : p->inference ? 17 : 64;
    if (p->batch * th * tw < need) return false;
    return (double)(16 * th * tw) <= 2.6 * (double)(p->out[1] * p->out[2]);
}
/* CN_CONV_ALGO=direct|gemm|depthwise|winograd|first forces an algorithm wherever it applies (benchmarks); read once. */
static cn_conv_algo env_algo;
__attribute__((constructor)) static void read_env_algo(void) {
    const char *e = getenv("CN_CONV_ALGO");
    if (!e) return;
    env_algo = strcmp(e, "gemm") == 0 ? CN_CONV_GEMM : strcmp(e, "depthwise") == 0 ? CN_CONV_DEPTHWISE
             : strcmp(e, "winograd") == 0 ? CN_CONV_WINOGRAD : strcmp(e, "first") == 0 ? CN_CONV_FIRST
             : strcmp(e, "direct") == 0 ? CN_CONV_DIRECT : CN_CONV_AUTO;
}

/* A 1x1 layer goes to the direct kernel in batches of up to 16 with an output plane of at most 32x32, and at
 * stride 1 with >= 64 input channels also in larger batches on planes of at most 20x20. Measured on a Xeon
 * (AVX-512, 2 FMA ports, 2 MB L2; 2 threads): at batch 32 the GEMM ran 1.2-2.2x faster on 28x28 and 56x56 planes and im2col 1.1-1.4x on stride-2
 * layers (the direct tile writes 14-float pieces of 32 output planes, the GEMM whole cache lines), while at
 * batch 1-16 the direct kernel was 3-40 % faster on 28x28 and smaller planes (stride 2 included) and 56x56
 * planes still went faster as a GEMM; on 14x14 and 7x7 the two are within 5 % at batch 32. */
static bool direct_pays_1x1(const cn_conv_geom *p) {
    if (prod3(p->kernel) > 1) return true;
    /* AVX2 (Zen 3, one thread, 2026-12-06): the GEMM won or tied on every 1x1 layer of ResNet-50 and MobileNet
     * at batch 32 (direct 0-40 % slower) and on most at batch 1 */
    if (strcmp(cn_kernels_isa(), "avx512") != 0) return false;
    bool small_batch = prod3(p->out) <= 1024 && p->batch <= 16;
    if (!reads_x_directly(p)) return small_batch; /* strided */
    return p->in_channels / p->groups >= 64 && (prod3(p->out) <= 400 || small_batch);
}

static cn_conv_algo choose(const cn_conv_geom *p_in, const char **reason) {
    cn_conv_geom forced = *p_in;
    if (forced.algorithm == CN_CONV_AUTO) forced.algorithm = env_algo;
    const cn_conv_geom *p = &forced;
    const char *why;
    cn_conv_algo a = CN_CONV_GEMM;
    if (p->algorithm == CN_CONV_DEPTHWISE && cn_conv_depthwise_applies(p)) {
        a = CN_CONV_DEPTHWISE, why = "forced";
    } else if (p->algorithm == CN_CONV_WINOGRAD && cn_conv_winograd_applies(p)) {
        a = CN_CONV_WINOGRAD, why = "forced";
    } else if (p->algorithm == CN_CONV_FIRST && cn_conv_first_applies(p)) {
        a = CN_CONV_FIRST, why = "forced";
    } else if (p->algorithm == CN_CONV_DIRECT && cn_conv_direct_applies(p)) {
        a = CN_CONV_DIRECT, why = "forced";
    } else if (p->algorithm == CN_CONV_AUTO && winograd_pays(p)) {
        a = CN_CONV_WINOGRAD;
        why = p->kernel[1] == 5 ? "5x5, stride 1, groups 1, zero padding, enough channels and tiles: Winograd "
                                  "F(4x4,5x5) (4 multiplies per output instead of 25)"
                                : "3x3, stride 1, groups 1, zero padding, enough channels and tiles: Winograd "
                                  "F(4x4,3x3) (2.25 multiplies per output instead of 9)";
    } else if (p->algorithm == CN_CONV_GEMM) {
        why = "forced";
    } else if (cn_conv_depthwise_applies(p) && p->groups > 1) {
        a = CN_CONV_DEPTHWISE;
        why = cn_conv_depthwise_rows_pays(p)
                  ? "one input channel per group (depthwise), zero padding, stride 1 or 2, a narrow plane: direct, "
                    "each output row one or two 8-lane vectors, each tap a shifted row of the plane (3x3 with padding 1 onto "
                    "rows of up to 16 columns: read in place; else from a zero-padded copy)"
              : cn_conv_depthwise_plane_applies(p)
                  ? "one input channel per group (depthwise), zero padding, stride 1, a plane of at most 16384 "
                    "outputs: direct, 16 positions of one plane per step (one AVX-512 vector, two AVX2 ones), each tap a shifted "
                    "masked load"
                  : "one input channel per group (depthwise), zero padding: direct, no columns (a GEMM per group "
                    "would have one row)";
    } else if (p->algorithm == CN_CONV_AUTO && cn_conv_direct_applies(p) && direct_pays_1x1(p) &&
               /* AVX2: first-direct beat the direct kernel on every first layer (Zen 3, one thread: ResNet-50
                * conv1 23 against 27 ms, AlexNet's 18 against 23, VGG's conv1_1 10.5 against 21, MobileNet's
                * 4.0 against 5.2) */
               !(cn_conv_first_applies(p) && strcmp(cn_kernels_isa(), "avx512") != 0) &&
               /* fewer than 32 outputs waste lanes and still ran 1.8-2.7x faster than im2col (Xeon, 8-24
                * outputs, 3x3 and 5x5); first layers (<= 4 inputs) are first-direct's */
               (p->out_channels / p->groups >= 32 ||
                (p->out_channels / p->groups >= 8 && p->in_channels / p->groups > 4))) {
        a = CN_CONV_DIRECT;
        why = reads_x_directly(p)
                  ? "1x1 kernel, stride 1, >= 64 input channels: direct, 14 positions x 32 output channels per "
                    "register tile, the input planes read in place (no packing)"
                  : "general case: direct, 14 positions x 32 output channels per register tile, the input read from "
                    "one zero-padded copy (im2col would copy each input value once per tap)";
    } else if (p->algorithm == CN_CONV_AUTO && cn_conv_first_applies(p) && !reads_x_directly(p)) {
        a = CN_CONV_FIRST;
        why = "few input channels (first layer; on AVX-512 fewer than 32 output channels): direct, each output row "
              "from its input rows split by column phase (32 outputs x 8 channels per step on AVX-512, 24 x 4 on "
              "AVX2)";
    } else if (p->in_channels / p->groups <= 3 && !reads_x_directly(p)) {
        why = "few input channels (first layer): columns K = C_in x taps are short, unrolled straight into packed "
              "panels for a GEMM over the whole batch";
    } else if (reads_x_directly(p)) {
        why = "1x1 kernel, stride 1, no padding: the input planes are the GEMM operand (packed, no unrolling)";
    } else {
        why = "general case: columns unrolled per tile straight into packed GEMM panels, weights packed once";
    }
    if (reason) *reason = why;
    return a;
}

const char *cn_conv_algorithm(const cn_conv_geom *p, const char **reason) {
    switch (choose(p, reason)) {
    case CN_CONV_DEPTHWISE: return "depthwise-direct";
    case CN_CONV_WINOGRAD: return cn_conv_winograd_name(p);
    case CN_CONV_FIRST: return "first-direct";
    case CN_CONV_DIRECT: return "direct";
    default: return reads_x_directly(p) ? "gemm-1x1" : "im2col-gemm";
    }
}

size_t cn_conv_prepared_bytes(const cn_conv_geom *p) {
    switch (choose(p, NULL)) {
    case CN_CONV_DEPTHWISE:
    case CN_CONV_FIRST: return 0; /* direct kernels read w as it is */
    case CN_CONV_WINOGRAD: return cn_conv_winograd_prepared_bytes(p);
    case CN_CONV_DIRECT: return cn_conv_direct_weights_bytes(p);
    default: return fwd_shared_bytes(p);
    }
}

int cn_conv_prepared_key(const cn_conv_geom *p) {
    cn_gemm_blocks blk = cn_gemm_blocking(); /* the packed layouts depend on the tile and depth block, and
                                              * Winograd's on its patch size (F(4x4,5x5) on AVX2 only) */
    cn_conv_algo a = choose(p, NULL);
    int large = a == CN_CONV_WINOGRAD && strcmp(cn_conv_winograd_name(p), "winograd-f4x5") == 0;
    return (int)a | blk.mr << 4 | blk.nr << 10 | (blk.kc > 4095 ? 4095 : blk.kc) << 18 | large << 30;
}

void cn_conv_prepare_weights(const cn_conv_geom *p, const cn_real *w, cn_real *out) {
    switch (choose(p, NULL)) {
    case CN_CONV_DEPTHWISE:
    case CN_CONV_FIRST: return;
    case CN_CONV_WINOGRAD: cn_conv_winograd_prepare(p, w, out); return;
    case CN_CONV_DIRECT: cn_conv_direct_pack_weights(p, w, false, out); return;
    default: break;
    }
    int64_t cout_g = p->out_channels / p->groups, rows = column_rows(p), wstride = packed_weight_stride(p);
    int threads = slots(p);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1 && p->groups > 1)
    for (int64_t grp = 0; grp < p->groups; grp++)
        cn_gemm_pack_a(false, cout_g, rows, w + grp * cout_g * rows, rows, out + grp * wstride);
}

void cn_conv_forward_im2col(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b,
                            cn_real *y, void *work) {
    switch (choose(p, NULL)) {
    case CN_CONV_DEPTHWISE:
        if (cn_conv_depthwise_rows_pays(p)) { /* fuses the epilogue */
            cn_conv_forward_depthwise_rows(p, x, w, b, y);
            return;
        }
        if (cn_conv_depthwise_plane_applies(p)) { /* fuses the epilogue */
            cn_conv_forward_depthwise_plane(p, x, w, b, y);
            return;
        }
        cn_conv_forward_depthwise(p, x, w, p->epilogue ? NULL : b, y, work);
        cn_conv_apply_epilogue(p, y);
        return;
    case CN_CONV_WINOGRAD: cn_conv_forward_winograd(p, x, w, b, y, work); return;
    case CN_CONV_FIRST:
        cn_conv_forward_first(p, x, w, p->epilogue ? NULL : b, y, work);
        cn_conv_apply_epilogue(p, y);
        return;
    case CN_CONV_DIRECT:
        if (!p->prepared) cn_conv_direct_pack_weights(p, w, false, (cn_real *)work);
        cn_conv_forward_direct(p, x, p->prepared ? p->prepared : (const cn_real *)work, b, y, false,
                               (char *)work + cn_conv_direct_weights_bytes(p));
        return;
    default: forward_gemm(p, x, w, b, y, work); return;
    }
}

/* Whether the data gradient below sets a fresh dx (p->dx_fresh) itself rather than adding into it: the
 * depthwise kernels that say so, and the GEMM path of a 1x1 stride-1 layer (each dx element one product) */
static bool data_sets_dx(const cn_conv_geom *p, void *work) {
    cn_conv_geom q;
    switch (choose(p, NULL)) {
    case CN_CONV_DEPTHWISE: return work && cn_conv_depthwise_data_sets_dx(p);
    case CN_CONV_WINOGRAD: return false;
    default: return reads_x_directly(p) && !data_grad_direct(p, &q);
    }
}

void cn_conv_backward_data_im2col(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                  void *work) {
    if (p->dx_fresh && !data_sets_dx(p, work)) { /* the kernels that add */
        cn_fill_par(dx, NULL, p->batch * p->in_channels * prod3(p->in));
        cn_conv_geom q = *p;
        q.dx_fresh = false;
        cn_conv_backward_data_im2col(&q, dy, w, dx, work);
        return;
    }
    switch (choose(p, NULL)) {
    case CN_CONV_DEPTHWISE: cn_conv_backward_data_depthwise(p, dy, w, dx, work); return;
    case CN_CONV_WINOGRAD:
        /* 7x7 planes and smaller (at most 4 tiles a sample): on AVX-512 the direct kernel beats Winograd's data
         * gradient, whose flipped weights are transformed per call (Zen 4, 512 channels at batch 32: 38 against
         * 53 ms); on AVX2 Winograd wins wherever the forward takes it (Zen 3, 512 channels on 7x7, since the
         * vectorised weight transform: batch 4 7.6 against 7.9 ms, 8 11.1 / 14.9, 32 22.9 / 47.2) */
        if (p->algorithm == CN_CONV_WINOGRAD || ((p->out[1] + 3) / 4) * ((p->out[2] + 3) / 4) > 4 ||
            strcmp(cn_kernels_isa(), "avx2") == 0) {
            cn_conv_backward_data_winograd(p, dy, w, dx, work);
            return;
        }
        /* fall through */
    default: {
        cn_conv_geom q;
        if (data_grad_direct(p, &q)) {
            cn_conv_direct_pack_weights(&q, w, true, (cn_real *)work);
            cn_conv_forward_direct(&q, dy, (const cn_real *)work, NULL, dx, true,
                                   (char *)work + cn_conv_direct_weights_bytes(&q));
            return;
        }
        backward_data_batched(p, dy, w, dx, work);
        return;
    }
    }
}

void cn_conv_backward_weights_im2col(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                     cn_real *db, void *work) {
    switch (choose(p, NULL)) {
    case CN_CONV_DEPTHWISE: cn_conv_backward_weights_depthwise(p, x, dy, dw, db, work); return;
    case CN_CONV_WINOGRAD:
        /* 5x5 with fewer than 32 input channels: Winograd's weight gradient ran as fast or up to 10 % slower than
         * the direct kernel through the packed GEMM; with channels in lanes (up to 128 x 128 channel pairs;
         * F(4x4,5x5)) 1.5-3x faster than the direct kernel (batch 32, two threads, ms: 16 -> 32 on 28x28 1.4
         * against 4.3, 8 -> 16 0.69 against 1.08, AlexNet's conv2 21 against 103; LeNet's conv2 at batch 64 1.9
         * against 4.3), as fast with 6 input channels (LeNet-5's original C3: 0.31 against 0.29) */
        if (cn_conv_winograd_wgrad_applies(p) &&
            !(p->algorithm == CN_CONV_AUTO && p->kernel[1] == 5 && p->in_channels < 32 &&
              !cn_conv_winograd_wgrad_lanes(p))) {
            cn_conv_backward_weights_winograd(p, x, dy, dw, work);
            bias_grad_team(p, dy, db);
            return;
        }
        /* fall through */
    default:
        /* first layers (<= 4 input channels): input planes padded (and split by column phase) once per sample,
         * dy read in place. Strided ones only with kernel rows of at most 5 taps (one tap group a row): batch 32,
         * two threads, forward+backward against im2col + GEMM (alternated runs, 2026-12-07): MobileNet's conv0
         * (3x3 stride 2) 54.1 -> 47.3 ms, 5x5 stride 2 (32 channels) 12 % faster, but ResNet-50's conv1 (7x7
         * stride 2: groups of 5 + 2 taps) 267 -> 317 and AlexNet's conv1 (11x11 stride 4) 244 -> 296 */
        if ((p->algorithm == CN_CONV_FIRST ||
             (p->algorithm == CN_CONV_AUTO && (p->stride[1] * p->stride[2] == 1 || p->kernel[2] <= 5))) &&
            cn_conv_first_wgrad_applies(p)) {
            cn_conv_backward_weights_first(p, x, dy, dw, db, work);
            return;
        }
        /* otherwise a single input channel is a depthwise layer with a channel multiplier: its weight gradient
         * ran 1.7-2x faster there than as a GEMM of depth C_in x taps = taps (Zen 3, one thread, LeNet's conv1,
         * 1 -> 20 5x5 on 28x28 at batch 64, before the kernel above: 2.5 against 4.5 ms) */
        if (p->algorithm == CN_CONV_AUTO && p->in_channels == 1 && cn_conv_depthwise_applies(p)) {
            cn_conv_backward_weights_depthwise(p, x, dy, dw, db, work);
            return;
        }
        if (weight_grad_direct(p)) {
            cn_conv_backward_weights_direct(p, x, dy, dw, work);
            bias_grad_team(p, dy, db);
            return;
        }
        backward_weights_batched(p, x, dy, dw, db, work);
        return;
    }
}
