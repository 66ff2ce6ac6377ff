/* conv_ref.c — the plain direct convolution (see conv.h for the formulas): straight loops over the 3D
 * problem, sums in double. The test twin of every faster convolution kernel. */
#include "kernels/conv.h"

/* The dispatch: im2col + cn_gemm by default (all padding modes); tests swap in the _ref functions. */
cn_conv_forward_fn cn_conv_forward = cn_conv_forward_im2col;
cn_conv_backward_data_fn cn_conv_backward_data = cn_conv_backward_data_im2col;
cn_conv_backward_weights_fn cn_conv_backward_weights = cn_conv_backward_weights_im2col;

/* The source index on axis a read by output index o and tap k, or -1 in zero padding. */
static inline int64_t axis_source(const cn_conv_geom *p, int a, int64_t o, int64_t k) {
    return conv_source_index(o * p->stride[a] + k * p->dilation[a] - p->pad_begin[a], p->in[a], p->pad_mode);
}

static int64_t prod3(const int64_t v[3]) { return v[0] * v[1] * v[2]; }

/* Loops over one output position (od, oh, ow) x one tap (kd, kh, kw); `src` is the source offset in an input
 * plane and `kt` the flat tap index; taps in zero padding are skipped. */
#define FOR_TAPS(p, od, oh, ow, body)                                                               \
    for (int64_t kd = 0; kd < (p)->kernel[0]; kd++) {                                               \
        int64_t sd = axis_source((p), 0, (od), kd);                                                 \
        if (sd < 0) continue;                                                                       \
        for (int64_t kh = 0; kh < (p)->kernel[1]; kh++) {                                           \
            int64_t sh = axis_source((p), 1, (oh), kh);                                             \
            if (sh < 0) continue;                                                                   \
            for (int64_t kw = 0; kw < (p)->kernel[2]; kw++) {                                       \
                int64_t sw = axis_source((p), 2, (ow), kw);                                         \
                if (sw < 0) continue;                                                               \
                int64_t kt = (kd * (p)->kernel[1] + kh) * (p)->kernel[2] + kw;                      \
                int64_t src = (sd * (p)->in[1] + sh) * (p)->in[2] + sw;                             \
                body;                                                                               \
            }                                                                                       \
        }                                                                                           \
    }

/* y[n,o,p] = b[o] + sum_{c < cin_g, t} w[o,c,t] * xpad[n, g*cin_g + c, q(p,t)],  g = o / cout_g */
void cn_conv_forward_ref(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b, cn_real *y,
                         void *work) {
    CN_UNUSED(work);
    int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    int64_t in_plane = prod3(p->in), taps = prod3(p->kernel);
    const cn_conv_epilogue *e = p->epilogue;
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t o = 0; o < p->out_channels; o++) {
            const cn_real *xg = x + (n * p->in_channels + o / cout_g * cin_g) * in_plane;
            const cn_real *wo = w + o * cin_g * taps;
            for (int64_t od = 0; od < p->out[0]; od++)
                for (int64_t oh = 0; oh < p->out[1]; oh++)
                    for (int64_t ow = 0; ow < p->out[2]; ow++) {
                        double acc = b && !e ? (double)b[o] : 0.0;
                        for (int64_t c = 0; c < cin_g; c++) {
                            const cn_real *xc = xg + c * in_plane, *wc = wo + c * taps;
                            FOR_TAPS(p, od, oh, ow, acc += (double)wc[kt] * (double)xc[src])
                        }
                        if (e) {
                            acc = (double)e->scale[o] * acc + (double)e->shift[o];
                            if (e->relu && !(acc > 0)) acc = 0;
                        }
                        *y++ = (cn_real)acc;
                    }
        }
}

void cn_conv_apply_epilogue(const cn_conv_geom *p, cn_real *y) {
    const cn_conv_epilogue *e = p->epilogue;
    if (!e) return;
    int64_t positions = prod3(p->out);
#pragma omp parallel for schedule(static) num_threads(p->threads > 1 ? p->threads : 1) if (p->threads > 1)
    for (int64_t nc = 0; nc < p->batch * p->out_channels; nc++) {
        cn_real s = e->scale[nc % p->out_channels], t = e->shift[nc % p->out_channels], *row = y + nc * positions;
        if (e->relu)
            for (int64_t i = 0; i < positions; i++) {
                cn_real v = s * row[i] + t;
                row[i] = v > 0 ? v : 0;
            }
        else
            for (int64_t i = 0; i < positions; i++) row[i] = s * row[i] + t;
    }
}

/* dx[n, g*cin_g + c, src(q(p,t))] += w[o,c,t] * dy[n,o,p]: taps mapped to one source all add up there */
void cn_conv_backward_data_ref(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                               void *work) {
    CN_UNUSED(work);
    int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    int64_t in_plane = prod3(p->in), taps = prod3(p->kernel);
    if (p->dx_fresh) memset(dx, 0, (size_t)(p->batch * p->in_channels * in_plane) * sizeof(cn_real));
    for (int64_t n = 0; n < p->batch; n++)
        for (int64_t o = 0; o < p->out_channels; o++) {
            cn_real *dxg = dx + (n * p->in_channels + o / cout_g * cin_g) * in_plane;
            const cn_real *wo = w + o * cin_g * taps;
            for (int64_t od = 0; od < p->out[0]; od++)
                for (int64_t oh = 0; oh < p->out[1]; oh++)
                    for (int64_t ow = 0; ow < p->out[2]; ow++) {
                        cn_real g = *dy++;
                        for (int64_t c = 0; c < cin_g; c++) {
                            cn_real *dxc = dxg + c * in_plane;
                            const cn_real *wc = wo + c * taps;
                            FOR_TAPS(p, od, oh, ow, dxc[src] += wc[kt] * g)
                        }
                    }
        }
}

/* dw[o,c,t] += sum_{n,p} dy[n,o,p] * xpad[n, g*cin_g + c, q(p,t)];   db[o] += sum_{n,p} dy[n,o,p] */
void cn_conv_backward_weights_ref(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                  cn_real *db, void *work) {
    CN_UNUSED(work);
    int64_t cin_g = p->in_channels / p->groups, cout_g = p->out_channels / p->groups;
    int64_t in_plane = prod3(p->in), out_plane = prod3(p->out);
    for (int64_t o = 0; o < p->out_channels; o++) {
        for (int64_t c = 0; c < cin_g; c++)
            for (int64_t kd = 0; kd < p->kernel[0]; kd++)
                for (int64_t kh = 0; kh < p->kernel[1]; kh++)
                    for (int64_t kw = 0; kw < p->kernel[2]; kw++) {
                        double acc = 0;
                        for (int64_t n = 0; n < p->batch; n++) {
                            const cn_real *xc = x + (n * p->in_channels + o / cout_g * cin_g + c) * in_plane;
                            const cn_real *dyo = dy + (n * p->out_channels + o) * out_plane;
                            for (int64_t od = 0; od < p->out[0]; od++) {
                                int64_t sd = axis_source(p, 0, od, kd);
                                if (sd < 0) continue;
                                for (int64_t oh = 0; oh < p->out[1]; oh++) {
                                    int64_t sh = axis_source(p, 1, oh, kh);
                                    if (sh < 0) continue;
                                    for (int64_t ow = 0; ow < p->out[2]; ow++) {
                                        int64_t sw = axis_source(p, 2, ow, kw);
                                        if (sw < 0) continue;
                                        acc += (double)dyo[(od * p->out[1] + oh) * p->out[2] + ow] *
                                               (double)xc[(sd * p->in[1] + sh) * p->in[2] + sw];
                                    }
                                }
                            }
                        }
                        dw[((o * cin_g + c) * p->kernel[0] + kd) * p->kernel[1] * p->kernel[2] +
                           kh * p->kernel[2] + kw] += (cn_real)acc;
                    }
        if (db) {
            double acc = 0;
            for (int64_t n = 0; n < p->batch; n++) {
                const cn_real *dyo = dy + (n * p->out_channels + o) * out_plane;
                for (int64_t i = 0; i < out_plane; i++) acc += dyo[i];
            }
            db[o] += (cn_real)acc;
        }
    }
}
