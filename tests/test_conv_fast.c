/* The fast convolution kernels (every algorithm the dispatch can choose, forced one by one, on every kernel set
 * this CPU can run, serial and threaded) against the direct reference, on odd shapes: sizes 1, primes,
 * non-multiples of the register tile, stride 2 with 1x1, dilation, groups, depthwise with a channel
 * multiplier, batch 1, tiles spanning samples, depths past the GEMM's KC, 1D and 3D. */
#include <math.h>
#include "cn_test.h"
#include "conv_case.h"
#include "kernels/conv_direct.h"
#include "kernels/gemm.h"
#include <stdlib.h>

static int64_t prod3(const int64_t v[3]) { return v[0] * v[1] * v[2]; }

/* One case's data and reference results, computed once for every kernel set, algorithm and thread count. */
typedef struct {
    cn_conv_geom p;
    int64_t nx, ny, nw;
    cn_real *x, *w, *b, *dy, *y_ref, *dx_ref, *dw_ref, *db_ref, *dx0, *dw0, *db0;
    cn_real *dx_set; /* the data gradient alone (from zero): what a fresh dx must be set to */
} case_data;

static case_data prepare(const conv_case *c, int index) {
    case_data d = {.p = conv_case_geom(c)};
    cn_conv_geom *p = &d.p;
    d.nx = p->batch * p->in_channels * prod3(p->in), d.ny = p->batch * p->out_channels * prod3(p->out);
    d.nw = p->out_channels * (p->in_channels / p->groups) * prod3(p->kernel);
    d.x = conv_case_random(d.nx, 1 + index, 13), d.w = conv_case_random(d.nw, 100 + index, 13);
    d.b = c->bias ? conv_case_random(p->out_channels, 200 + index, 13) : NULL;
    d.dy = conv_case_random(d.ny, 300 + index, 13);
    d.dx0 = conv_case_random(d.nx, 400 + index, 13), d.dw0 = conv_case_random(d.nw, 500 + index, 13);
    d.db0 = conv_case_random(p->out_channels, 600 + index, 13); /* gradients start non-zero: kernels must ADD */
    d.y_ref = malloc((size_t)d.ny * sizeof(cn_real));
    d.dx_ref = malloc((size_t)d.nx * sizeof(cn_real)), d.dw_ref = malloc((size_t)d.nw * sizeof(cn_real));
    d.db_ref = malloc((size_t)p->out_channels * sizeof(cn_real));
    memcpy(d.dx_ref, d.dx0, (size_t)d.nx * sizeof(cn_real));
    memcpy(d.dw_ref, d.dw0, (size_t)d.nw * sizeof(cn_real));
    memcpy(d.db_ref, d.db0, (size_t)p->out_channels * sizeof(cn_real));
    cn_conv_forward_ref(p, d.x, d.w, d.b, d.y_ref, NULL);
    cn_conv_backward_data_ref(p, d.dy, d.w, d.dx_ref, NULL);
    d.dx_set = calloc((size_t)d.nx, sizeof(cn_real));
    cn_conv_backward_data_ref(p, d.dy, d.w, d.dx_set, NULL);
    cn_conv_backward_weights_ref(p, d.x, d.dy, d.dw_ref, d.db_ref, NULL);
    return d;
}

static void release(case_data *d) {
    free(d->x), free(d->w), free(d->b), free(d->dy), free(d->y_ref), free(d->dx_ref), free(d->dw_ref);
    free(d->db_ref), free(d->dx0), free(d->dw0), free(d->db0), free(d->dx_set);
}

/* tol: relative to the largest reference value (Winograd's transforms round more than a direct sum) */
static void compare(const char *isa, const case_data *d, int index, cn_conv_algo algo, int threads, double tol) {
    cn_conv_geom p = d->p;
    p.threads = threads;
    p.algorithm = algo;
    size_t nwork = (cn_conv_work_bytes(&p) + 63) / 64 * 64;
    void *work = aligned_alloc(64, nwork ? nwork : 64);
    memset(work, 0xff, nwork ? nwork : 64); /* NaN everywhere: nothing may read workspace it did not write */
    cn_real *y = conv_case_random(d->ny, 7, 13), *dx = conv_case_random(d->nx, 8, 13); /* both 64-byte aligned */
    cn_real *dw = malloc((size_t)d->nw * sizeof(cn_real)), *db = malloc((size_t)p.out_channels * sizeof(cn_real));
    memcpy(dx, d->dx0, (size_t)d->nx * sizeof(cn_real));
    memcpy(dw, d->dw0, (size_t)d->nw * sizeof(cn_real));
    memcpy(db, d->db0, (size_t)p.out_channels * sizeof(cn_real));
    cn_conv_forward_im2col(&p, d->x, d->w, d->b, y, work);
    cn_conv_backward_data_im2col(&p, d->dy, d->w, dx, work);
    cn_conv_backward_weights_im2col(&p, d->x, d->dy, dw, db, work);
    double ey = cn_rel_error(y, d->y_ref, d->ny), ex = cn_rel_error(dx, d->dx_ref, d->nx);
    double ew = cn_rel_error(dw, d->dw_ref, d->nw), eb = cn_rel_error(db, d->db_ref, p.out_channels);
    const char *name = cn_conv_algorithm(&p, NULL);
    /* the weight gradient sums batch x positions products: float rounding grows as the square root of that
     * count, so past 16384 terms (one large case) its tolerance grows with it */
    double terms = (double)p.batch * (double)(p.out[0] * p.out[1] * p.out[2]), tw = tol * fmax(1.0, sqrt(terms / 16384));
    CHECK(ey <= tol && ex <= tol && ew <= tw && eb <= tw,
          "%s %s (forced %d) vs reference, case %d (%d threads): y %.3g dx %.3g dw %.3g db %.3g (tol %g, weights %g)",
          isa, name, (int)algo, index, threads, ey, ex, ew, eb, tol, tw);
    /* a fresh dx (the graph's first writer): set, whatever it held (NaN here) */
    p.dx_fresh = true;
    memset(dx, 0xff, (size_t)d->nx * sizeof(cn_real));
    cn_conv_backward_data_im2col(&p, d->dy, d->w, dx, work);
    double es = cn_rel_error(dx, d->dx_set, d->nx);
    CHECK(es <= tol, "%s %s (forced %d), case %d (%d threads): fresh dx %.3g (tol %g)", isa, name, (int)algo, index,
          threads, es, tol);
    p.dx_fresh = false;
    /* inference: weights prepared once (cn_conv_prepare_weights), then the forward pass with and without the
     * fused epilogue (eval conv -> BN -> ReLU): y = relu?(scale * (conv without bias) + shift) */
    p.inference = true; /* the choice for inference (prepared weights) may differ: Winograd from 16 tiles */
    size_t nprep = cn_conv_prepared_bytes(&p);
    cn_real *prep = nprep ? aligned_alloc(64, (nprep + 63) / 64 * 64) : NULL;
    if (prep) {
        memset(prep, 0xff, nprep);
        cn_conv_prepare_weights(&p, d->w, prep);
        p.prepared = prep;
        CHECK(cn_conv_prepared_key(&p) > 0, "prepared key");
    }
    cn_real *scale = conv_case_random(p.out_channels, 800 + index, 13);
    cn_real *shift = conv_case_random(p.out_channels, 900 + index, 13);
    cn_real *want = malloc((size_t)d->ny * sizeof(cn_real));
    int64_t positions = prod3(p.out);
    for (int pass = 0; pass < 3; pass++) { /* 0: prepared only, 1: + epilogue, 2: + epilogue with ReLU */
        cn_conv_epilogue e = {scale, shift, pass == 2};
        p.epilogue = pass ? &e : NULL;
        for (int64_t i = 0; i < d->ny; i++) {
            int64_t o = i / positions % p.out_channels;
            double conv = (double)d->y_ref[i] - (d->b ? (double)d->b[o] : 0), v = scale[o] * conv + shift[o];
            want[i] = pass == 0 ? d->y_ref[i] : (cn_real)(pass == 2 && v < 0 ? 0 : v);
        }
        memset(work, 0xff, nwork ? nwork : 64);
        cn_conv_forward_im2col(&p, d->x, d->w, d->b, y, work);
        double err = cn_rel_error(y, want, d->ny);
        CHECK(err <= tol, "%s %s (forced %d) case %d (%d threads), prepared %d, epilogue %d: y %.3g (tol %g)", isa,
              name, (int)algo, index, threads, prep != NULL, pass, err, tol);
        if (pass && threads == 1 && algo == CN_CONV_AUTO) { /* the reference applies the same epilogue */
            cn_conv_forward_ref(&p, d->x, d->w, d->b, y, NULL);
            double eref = cn_rel_error(y, want, d->ny);
            CHECK(eref <= 1e-5, "reference with epilogue %d, case %d: %.3g", pass, index, eref);
        }
    }
    free(prep), free(scale), free(shift), free(want);
    free(work), free(y), free(dx), free(dw), free(db);
}

static const conv_case cases[] = {
    /* nd  N  Ci  Co  g    in            k          s          d          pb         pe        mode  bias */
    {2, 1, 1, 1, 1, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 3, 5, 1, {7, 11, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 3, 4, 6, 2, {13, 5, 0}, {1, 1, 0}, {2, 2, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 0},
    {2, 2, 6, 4, 2, {5, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 5, 10, 5, {11, 7, 0}, {3, 3, 0}, {1, 2, 0}, {2, 1, 0}, {2, 1, 0}, {3, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 3, 7, 1, {17, 13, 0}, {5, 2, 0}, {3, 5, 0}, {1, 1, 0}, {2, 0, 0}, {0, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 4, 4, 4, {3, 3, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {3, 3, 0}, {3, 3, 0}, CN_PAD_ZEROS, 1},
    /* depthwise: multiplier 1 and 3, stride 2, dilation, a single input channel with many outputs */
    {2, 3, 7, 7, 7, {13, 17, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 5, 15, 5, {11, 10, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {0, 1, 0}, CN_PAD_ZEROS, 0},
    {2, 1, 3, 3, 3, {19, 23, 0}, {5, 3, 0}, {1, 2, 0}, {2, 3, 0}, {4, 2, 0}, {4, 3, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 1, 20, 1, {28, 28, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0}, CN_PAD_ZEROS, 1},
    {1, 2, 6, 6, 6, {29, 0, 0}, {5, 0, 0}, {2, 0, 0}, {2, 0, 0}, {3, 0, 0}, {1, 0, 0}, CN_PAD_ZEROS, 1},
    {3, 1, 4, 8, 4, {5, 6, 7}, {3, 3, 3}, {1, 2, 1}, {1, 1, 2}, {1, 1, 2}, {1, 0, 2}, CN_PAD_ZEROS, 1},
    /* 1D, 3D, other padding modes (GEMM path) */
    {1, 2, 3, 2, 1, {23, 0, 0}, {4, 0, 0}, {2, 0, 0}, {3, 0, 0}, {0, 0, 0}, {5, 0, 0}, CN_PAD_ZEROS, 0},
    {3, 1, 2, 4, 2, {5, 3, 7}, {2, 3, 1}, {2, 1, 3}, {2, 1, 1}, {1, 1, 0}, {0, 2, 1}, CN_PAD_ZEROS, 1},
    {2, 2, 2, 3, 1, {5, 7, 0}, {3, 3, 0}, {1, 2, 0}, {1, 2, 0}, {4, 2, 0}, {3, 6, 0}, CN_PAD_REFLECT, 1},
    {2, 1, 3, 3, 3, {3, 2, 0}, {2, 3, 0}, {1, 1, 0}, {1, 1, 0}, {5, 0, 0}, {7, 4, 0}, CN_PAD_REPLICATE, 1},
    {3, 2, 2, 2, 1, {3, 4, 3}, {2, 2, 3}, {1, 2, 2}, {2, 1, 1}, {3, 0, 1}, {1, 4, 3}, CN_PAD_CIRCULAR, 1},
    /* small planes, batch 9: tiles span samples; 1x1 stride 2 */
    {2, 9, 13, 17, 1, {5, 3, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 7, 11, 19, 1, {7, 9, 0}, {1, 1, 0}, {2, 2, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 5, 9, 33, 1, {3, 5, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 0},
    /* depth past KC (K = 47*9 = 423), more output channels than one tile, prime planes */
    {2, 2, 47, 37, 1, {11, 13, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    /* Winograd: asymmetric and no padding, batch 1, a ResNet-like 64 -> 64 layer, more tiles than one block */
    {2, 1, 16, 24, 1, {9, 14, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {0, 2, 0}, {2, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 3, 17, 16, 1, {10, 6, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 0},
    {2, 2, 64, 64, 1, {28, 28, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    /* few column tiles, many output channels: threads split the output channels too (batch-1 7x7; samples of
     * 3x3 planes in one tile) */
    {2, 1, 20, 70, 1, {7, 7, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 3, 9, 70, 1, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    /* more columns than one tile holds */
    {2, 1, 64, 3, 1, {67, 71, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 30, 2, 1, {61, 59, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_REFLECT, 1},
    /* depthwise on 16-channel blocks (AVX-512): a tail block, several row bands, stride 2 on one axis, 7x7 */
    {2, 2, 37, 37, 37, {29, 31, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 16, 16, 16, {97, 45, 0}, {3, 3, 0}, {2, 1, 0}, {1, 1, 0}, {1, 0, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 3, 20, 20, 20, {7, 7, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 0},
    {2, 1, 18, 18, 18, {9, 21, 0}, {5, 5, 0}, {3, 2, 0}, {2, 1, 0}, {4, 0, 0}, {0, 3, 0}, CN_PAD_ZEROS, 1},
    /* depthwise on 8-channel blocks (AVX2): a tail block of 1 on an odd plane, 8 + 8 + 7 channels with dilation,
     * full blocks with rows of exactly 16 input columns, stride 1 without padding (not the plane kernel's) */
    {2, 2, 9, 9, 9, {15, 17, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 3, 23, 23, 23, {33, 19, 0}, {3, 3, 0}, {2, 2, 0}, {2, 2, 0}, {2, 2, 0}, {1, 2, 0}, CN_PAD_ZEROS, 0},
    {2, 2, 16, 16, 16, {16, 16, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 24, 24, 24, {10, 12, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    /* depthwise over the positions of a plane (AVX-512, stride 1): 5x5, dilation, a 4x4 and a 1x1 plane, batch 11
     * (weight sums flushed every 8 samples), 64, 1024 (the largest) and 256 vectors; and stride 2 on odd planes
     * and with asymmetric padding, which stays with the blocked kernel */
    {2, 3, 10, 10, 10, {7, 7, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 9, 9, 9, {11, 6, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 17, 17, 17, {14, 13, 0}, {5, 5, 0}, {2, 2, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0}, CN_PAD_ZEROS, 0},
    {2, 1, 5, 5, 5, {9, 13, 0}, {3, 3, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0}, {2, 2, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 3, 3, 3, {8, 10, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {0, 0, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 11, 6, 6, 6, {4, 4, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 4, 4, 4, {1, 1, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 2, 2, 2, {1, 3, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 3, 3, 3, {32, 32, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 0},
    {2, 1, 2, 2, 2, {128, 128, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 3, 3, 3, {61, 67, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0}, CN_PAD_ZEROS, 1},
    /* AVX2 runs a 16-position step as two 8-lane halves: a plane of 24 positions ends on a full first half */
    {2, 2, 3, 3, 3, {6, 4, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0}, CN_PAD_ZEROS, 1},
    /* first layers (direct): AlexNet-like stride 4 with 11x11, a channel count not a multiple of 8, rows longer
     * than one 32-output block, dilation, asymmetric stride and padding, no bias */
    {2, 2, 3, 13, 1, {47, 45, 0}, {11, 11, 0}, {4, 4, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 1, 20, 1, {28, 71, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0}, CN_PAD_ZEROS, 1},
    {2, 3, 4, 9, 1, {17, 19, 0}, {3, 5, 0}, {2, 3, 0}, {2, 2, 0}, {0, 3, 0}, {1, 0, 0}, CN_PAD_ZEROS, 0},
    {2, 1, 2, 64, 1, {13, 40, 0}, {7, 7, 0}, {2, 2, 0}, {1, 1, 0}, {3, 3, 0}, {3, 3, 0}, CN_PAD_ZEROS, 1},
    /* first layer, AVX2 tile (16 outputs x 6 channels; a last block of <= 8 outputs in one 8-lane vector): rows of
     * 16 + 8 outputs, channels a multiple of 6 */
    {2, 2, 3, 12, 1, {5, 24, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    /* direct kernel: strided data gradient by phases (3x3 stride 2 with odd planes and uneven padding, 5x5
     * stride 3, 1x1 stride 2), more than 32 channels each way, a channel count past one 14-wide tile */
    {2, 3, 33, 35, 1, {13, 11, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 34, 40, 1, {17, 16, 0}, {5, 5, 0}, {3, 3, 0}, {1, 1, 0}, {2, 1, 0}, {2, 3, 0}, CN_PAD_ZEROS, 0},
    {2, 3, 45, 66, 1, {9, 10, 0}, {1, 1, 0}, {2, 2, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    /* Winograd forward on 7x7 planes (64 tiles in the batch) with the direct kernel's data gradient (AVX-512;
     * AVX2 takes Winograd's) */
    {2, 16, 33, 40, 1, {7, 7, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    /* 1x1 with planes of a multiple of 16 positions (AVX2 reads them unpacked): a partial weight panel (13),
     * a plane cut into two pieces (768 positions), one depth block (256 channels) and two (300) */
    {2, 3, 7, 13, 1, {4, 8, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 5, 9, 1, {16, 48, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 0},
    {2, 2, 256, 7, 1, {4, 4, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 300, 8, 1, {4, 8, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    /* depthwise on narrow planes (AVX2, one or two 8-lane vectors per row): MobileNet's 14x14 and 7x7 "same",
     * 28x28 -> 14x14 and 14x14 -> 7x7 stride 2 (batch 9: weight sums flushed after 8 samples), 5x5 with rows of
     * 11 and of exactly 16 columns and asymmetric padding, 5x5 stride 2 with uneven padding, planes of fewer than
     * 8 floats, 7x7 without padding (5 outputs a row from 7 inputs) */
    {2, 2, 5, 5, 5, {14, 14, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 3, 9, 9, 9, {7, 7, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 3, 4, 4, 4, {28, 28, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 0},
    {2, 9, 3, 3, 3, {14, 14, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 4, 4, 4, {9, 11, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 2, 2, 2, {6, 16, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {0, 2, 0}, {2, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 3, 3, 3, {13, 16, 0}, {5, 5, 0}, {2, 2, 0}, {1, 1, 0}, {2, 2, 0}, {1, 2, 0}, CN_PAD_ZEROS, 1},
    {2, 5, 3, 3, 3, {2, 3, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 2, 2, 2, {3, 2, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 0},
    {2, 2, 6, 6, 6, {7, 7, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    /* the narrow-plane kernel's in-place 3x3 forward: stride 1 on rows of 4 and 8 columns and on two rows, a
     * single plane (the first is the last: read from a padded copy); stride 2 onto rows of 8 and 6 columns */
    {2, 3, 5, 5, 5, {5, 4, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 3, 3, 3, {8, 8, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 0},
    {2, 1, 1, 1, 1, {2, 6, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 3, 3, 3, {16, 16, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 3, 4, 4, 4, {10, 12, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    /* and its in-place stride-2 data gradient on dy rows of two vectors: 9 and 16 columns */
    {2, 2, 3, 3, 3, {6, 18, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 2, 2, 2, {4, 32, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 0},
    /* and stride 1 on rows of two vectors, in two passes: 9 and 16 columns */
    {2, 2, 3, 3, 3, {3, 9, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 4, 4, 4, {16, 16, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    /* Winograd F(2x2,5x5): odd planes over two tile blocks (3 x 7 x 6 tiles), uneven padding, a plane smaller
     * than the kernel's reach, and the automatic choice's shape (32 -> 64 channels) */
    {2, 3, 5, 6, 1, {13, 11, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 3, 7, 1, {8, 9, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {1, 3, 0}, {3, 0, 0}, CN_PAD_ZEROS, 0},
    {2, 1, 4, 3, 1, {3, 4, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0}, CN_PAD_ZEROS, 1},
    {2, 3, 32, 64, 1, {9, 9, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0}, CN_PAD_ZEROS, 1},
    /* first layer, AVX2 4 x 24 tile (strided, fewer outputs than 6 x 16): rows of 24 + 24 + 5 outputs (a last
     * block of one vector), 8 channels; MobileNet's conv0 at a batch whose output passes 32 MB (streamed stores) */
    {2, 2, 3, 8, 1, {9, 106, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 21, 3, 32, 1, {224, 224, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    /* depthwise, channel blocks (AVX2 sets a fresh dx): a 2x2 kernel at stride 3 leaves input rows and columns
     * without a gradient (between the bands and past the last tap); MobileNet's 56x56 stride 2 in two blocks */
    {2, 2, 9, 9, 9, {11, 13, 0}, {2, 2, 0}, {3, 3, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 16, 16, 16, {56, 56, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
    /* LeNet's conv2 at batch 7: the direct weight gradient splits the samples over the threads (small sums) */
    {2, 7, 20, 50, 1, {14, 14, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0}, CN_PAD_ZEROS, 1},
    /* 3D with one input plane in depth, padded in depth (outputs past it are the bias alone): not a first layer's */
    {3, 2, 1, 3, 1, {1, 6, 7}, {1, 3, 3}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}, CN_PAD_ZEROS, 1},
    /* the first-layer weight gradient with dilation, a 3 x 6 kernel (two tap groups a row: 5 + 1), asymmetric
     * padding, rows of 19 outputs (two vectors and a tail) and 13 output channels (tiles of 2 and a last 1) */
    {2, 3, 2, 13, 1, {11, 21, 0}, {3, 6, 0}, {1, 1, 0}, {2, 2, 0}, {2, 3, 0}, {1, 5, 0}, CN_PAD_ZEROS, 1},
    /* Winograd's weight gradient with channels in lanes: 100 x 90 pairs (neither a multiple of 8; above the old
     * 64 x 64 bound), 108 tiles (9 x 6 a sample, uneven padding): blocks of 32 + 4 on three threads; one tile for three threads */
    {2, 2, 100, 90, 1, {34, 26, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 0, 0}, {2, 1, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 9, 11, 1, {3, 4, 0}, {3, 3, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 0},
    /* the GEMM forward's shared tile (<= 256 columns, several threads): a 7x7 plane at batch 1 (49 columns: a
     * last panel of one column); 196 columns and 300 input channels (the threads' row shares cross a depth
     * block); a strided 1x1 whose 50 columns span two samples (scattered from the product block) */
    {2, 1, 45, 61, 1, {7, 7, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 300, 130, 1, {14, 14, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 2, 300, 50, 1, {9, 9, 0}, {1, 1, 0}, {2, 2, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    /* a 1x1 layer read in place with fewer pieces than threads (one 32-position plane): output channels in parts */
    {2, 1, 20, 100, 1, {4, 8, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    /* 1x1 layers read in place whose output (17 planes of 512 x 512: 17.8 MB) is past the size from which it is
     * streamed (non-temporal stores, 17 rows: two whole tiles and 5): the forward's, then the data gradient's */
    {2, 1, 2, 17, 1, {512, 512, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    {2, 1, 17, 2, 1, {512, 512, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, {0, 0, 0}, {0, 0, 0}, CN_PAD_ZEROS, 1},
    /* a strided depthwise layer whose output (17 planes of 512 x 512) the channel-blocked kernel streams, whole
     * lines of 8 planes at a time (two blocks of 8 channels; the last channel alone, stored plainly) */
    {2, 1, 17, 17, 17, {1024, 1024, 0}, {3, 3, 0}, {2, 2, 0}, {1, 1, 0}, {1, 1, 0}, {1, 1, 0}, CN_PAD_ZEROS, 1},
};
/* where the case groups checked for their algorithm below sit in cases[] */
enum { NARROW_FIRST = 62, NARROW_END = 81, F2X5_CASE = 84, LARGE_FIRST = 98 };

int main(void) {
    const char *sets[] = {"avx512", "avx2", "portable"};
    const cn_conv_algo algos[] = {CN_CONV_AUTO,  CN_CONV_GEMM,  CN_CONV_DEPTHWISE,
                                  CN_CONV_WINOGRAD, CN_CONV_FIRST, CN_CONV_DIRECT};
    const int nalgos = (int)(sizeof algos / sizeof algos[0]);
    int first = 0;
    while (first < 2 && cn_kernels_select(sets[first]) != CN_OK) first++;
    CHECK(cases[LARGE_FIRST].in[0] == 512 && cases[LARGE_FIRST].cout == 17, "the large cases start at %d",
          (int)LARGE_FIRST);
    for (int i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++) {
        case_data d = prepare(&cases[i], i);
        /* the large cases (outputs past CN_STREAM_MIN_BYTES): the automatic choice on the AVX2 set, the one that
         * streams them (every other path is the small cases'; these cost a minute under the sanitizers) */
        bool large = i >= LARGE_FIRST;
        for (int s = 0; s < 3; s++) {
            if (cn_kernels_select(sets[s]) != CN_OK) {
                if (i == 0) printf("SKIP %s kernels: %s\n", sets[s], cn_last_error());
                continue;
            }
            if (large && strcmp(sets[s], "avx2") != 0) continue;
            for (int a = 0; a < nalgos; a++) {
                if (large && algos[a] != CN_CONV_AUTO) continue;
                if (algos[a] == CN_CONV_DEPTHWISE && !cn_conv_depthwise_applies(&d.p)) continue;
                if (algos[a] == CN_CONV_WINOGRAD && !cn_conv_winograd_applies(&d.p)) continue;
                if (algos[a] == CN_CONV_FIRST && !cn_conv_first_applies(&d.p)) continue;
                if (algos[a] == CN_CONV_DIRECT && !cn_conv_direct_applies(&d.p)) continue;
                /* threaded (3: an uneven split) on the first set that runs, serial on every set */
                for (int threads = 1; threads <= (s == first ? 3 : 1); threads += 2)
                    compare(sets[s], &d, i, algos[a], threads, algos[a] == CN_CONV_WINOGRAD ? 2e-5 : 1e-5);
            }
        }
        release(&d);
    }
    /* the choice and its reason */
    if (cn_kernels_select("avx512") != CN_OK && cn_kernels_select("avx2") != CN_OK) cn_kernels_select("portable");
    const char *why = NULL;
    cn_conv_geom dw = conv_case_geom(&cases[7]), one = conv_case_geom(&cases[20]), gen = conv_case_geom(&cases[21]);
    cn_conv_geom first_layer = conv_case_geom(&cases[1]);
    CHECK(strcmp(cn_conv_algorithm(&dw, &why), "depthwise-direct") == 0 && strstr(why, "depthwise"), "depthwise chosen");
    CHECK(strcmp(cn_conv_algorithm(&one, &why), "gemm-1x1") == 0 && strstr(why, "1x1"), "1x1 chosen");
    bool v512 = strcmp(cn_kernels_isa(), "avx512") == 0, v256 = strcmp(cn_kernels_isa(), "avx2") == 0;
    /* 24 Winograd tiles: AVX2 takes Winograd from 16, AVX-512 the direct kernel below 64 (training) */
    CHECK(strcmp(cn_conv_algorithm(&gen, &why), v512 ? "direct" : v256 ? "winograd-f4x3" : "im2col-gemm") == 0,
          "direct, Winograd or im2col chosen");
    cn_conv_geom strided = gen;
    strided.stride[1] = strided.stride[2] = 2, strided.out[1] = 6, strided.out[2] = 7;
    CHECK(strcmp(cn_conv_algorithm(&strided, &why), v512 || v256 ? "direct" : "im2col-gemm") == 0,
          "direct or im2col chosen for a strided 3x3");
    cn_conv_geom wide = conv_case_geom(&cases[20]);
    wide.in_channels = 64; /* 1x1 with >= 64 input channels: direct on AVX-512 */
    CHECK(strcmp(cn_conv_algorithm(&wide, &why), v512 ? "direct" : "gemm-1x1") == 0, "1x1 with 64 inputs");
    cn_conv_geom forced = gen;
    forced.algorithm = CN_CONV_GEMM;
    CHECK(strcmp(cn_conv_algorithm(&forced, &why), "im2col-gemm") == 0, "im2col forced");
    bool vector = v512 || strcmp(cn_kernels_isa(), "avx2") == 0; /* the first-layer and plane kernels' sets */
    if (vector)
        CHECK(strcmp(cn_conv_algorithm(&first_layer, &why), "first-direct") == 0 && strstr(why, "first layer"),
              "first-layer direct chosen for 3 input channels");
    for (int i = 37; vector && i <= 48; i++) { /* the small-plane depthwise kernel runs the cases written for it */
        cn_conv_geom g = conv_case_geom(&cases[i]);
        if (g.stride[1] == 2) continue;
        const char *want = cn_conv_depthwise_rows_pays(&g) ? "narrow plane" : "16 positions of one plane";
        CHECK(strcmp(cn_conv_algorithm(&g, &why), "depthwise-direct") == 0 && strstr(why, want),
              "case %d: small-plane depthwise chosen (%s)", i, why);
    }
    for (int i = NARROW_FIRST; v256 && i < NARROW_END; i++) { /* and the narrow-plane kernel the cases written for it */
        cn_conv_geom g = conv_case_geom(&cases[i]);
        if (cases[i].cin == 1) continue; /* a single input channel goes to the first-layer kernel unless forced */
        CHECK(strcmp(cn_conv_algorithm(&g, &why), "depthwise-direct") == 0 && strstr(why, "narrow plane"),
              "case %d: narrow-plane depthwise chosen (%s)", i, why);
    }
    if (v256) { /* F(4x4,5x5) where it pays (the last case: 32 -> 64 channels, 75 tiles) */
        cn_conv_geom g = conv_case_geom(&cases[F2X5_CASE]);
        CHECK(strcmp(cn_conv_algorithm(&g, &why), "winograd-f4x5") == 0, "5x5 Winograd chosen (%s)", why);
        /* LeNet's conv2 (20 -> 50 on 14x14) and 16 -> 32 on 28x28 (GoogLeNet's) join it; batch-1 7x7 (4 tiles)
         * stays direct */
        conv_case lenet = {2, 2, 20, 50, 1, {14, 14, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0},
                           CN_PAD_ZEROS, 1};
        conv_case inception = {2, 2, 16, 32, 1, {28, 28, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0},
                               CN_PAD_ZEROS, 1};
        g = conv_case_geom(&lenet);
        CHECK(strcmp(cn_conv_algorithm(&g, &why), "winograd-f4x5") == 0, "LeNet conv2: 5x5 Winograd (%s)", why);
        g = conv_case_geom(&inception);
        CHECK(strcmp(cn_conv_algorithm(&g, &why), "winograd-f4x5") == 0, "16 -> 32 on 28x28: Winograd (%s)", why);
        conv_case small = {2, 1, 48, 128, 1, {7, 7, 0}, {5, 5, 0}, {1, 1, 0}, {1, 1, 0}, {2, 2, 0}, {2, 2, 0},
                           CN_PAD_ZEROS, 1};
        g = conv_case_geom(&small);
        CHECK(strcmp(cn_conv_algorithm(&g, &why), "direct") == 0, "batch-1 7x7, 4 tiles: direct (%s)", why);
    }
    return cn_test_finish();
}
