/* conv_direct.h — the direct forward convolution vectorised over output channels (conv_direct.c), used by the
 * dispatch in conv_im2col.c. */
#ifndef CN_KERNELS_CONV_DIRECT_H
#define CN_KERNELS_CONV_DIRECT_H

#include "kernels/conv.h"

/* AVX-512, 1D/2D, zero padding */
bool cn_conv_direct_applies(const cn_conv_geom *p);
/* the weights as the kernel reads them: bytes, and packing them ([group][32-channel block][k][32]). flipped: p is
 * the data gradient of a stride-1 layer as a convolution of dy (C_in and C_out of the layer swapped) and w the
 * layer's weights, transposed per group and mirrored in space */
size_t cn_conv_direct_weights_bytes(const cn_conv_geom *p);
void cn_conv_direct_pack_weights(const cn_conv_geom *p, const cn_real *w, bool flipped, cn_real *out);
/* work: shared bytes (the row offsets), then one slot per thread (a padded sample, accumulators) */
size_t cn_conv_direct_shared_bytes(const cn_conv_geom *p);
size_t cn_conv_direct_thread_bytes(const cn_conv_geom *p);
/* y = conv(x) (+ b, or p->epilogue), or y += conv(x) when add; wt: packed weights */
void cn_conv_forward_direct(const cn_conv_geom *p, const cn_real *x, const cn_real *wt, const cn_real *b, cn_real *y,
                            bool add, void *work);

/* The weight gradient dw += (groups 1), from per-sample [position][channel] transposes; work: the bytes below. */
bool cn_conv_direct_wgrad_applies(const cn_conv_geom *p);
size_t cn_conv_direct_wgrad_bytes(const cn_conv_geom *p);
void cn_conv_backward_weights_direct(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                     void *work);

#endif
