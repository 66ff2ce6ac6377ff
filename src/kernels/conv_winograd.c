/* conv_winograd.c — Winograd F(4x4, 3x3) for 2D 3x3 convolutions with stride 1, dilation 1, groups 1 and zero
 * padding (Lavin & Gray 2015), and F(2x2, 5x5) for 5x5 ones (below: the same 6x6 patches and B^T, the points 0,
 * ±1, ±2 and infinity; G5 (6 x 5) and A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 1], 9 multiplies per output instead of 25;
 * forward, data and (AVX2) weight gradient, the 2x2 output transform vectorised on AVX2 and scalar elsewhere),
 * and on AVX2 F(4x4, 5x5) for 5x5 ones (8x8 patches, 4 multiplies per output: see large_tiles).
 * F(4x4, 3x3) cuts the output into 4x4 tiles, each computed from a 6x6 input patch d:
 *   Y = A^T [ U ⊙ V ] A,   U = G g G^T (per output/input channel pair),   V = B^T d B (per input channel, tile)
 * and the sum over input channels becomes, for each of the 36 points xi of the 6x6 transform domain, one GEMM
 *   M[xi] (C_out x tiles) = U[xi] (C_out x C_in) V[xi] (C_in x tiles)
 * on the blocked GEMM's packed operands (cn_gemm_packed): 36 small GEMMs per block of tiles instead of one
 * im2col GEMM with 9x the depth, 2.25 multiplies per output instead of 9 (before the transforms).
 * The matrices:
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * The data gradient of such a conv is the same kind of conv of dy with the weights flipped and transposed
 * (C_in x C_out) and padding 2 - pad: it runs through the same code, adding into dx. The weight gradient
 * (AVX2 kernels) goes through the same domain: dw = G^T [sum over tiles (A dy A^T) ⊙ (B^T x B)] G, 36 GEMMs
 * with the tiles as depth (see cn_conv_backward_weights_winograd); elsewhere through im2col + GEMM. The input
 * and output transforms run across tiles, one tile per lane: 16 per vector with the AVX-512 kernels (masked gathers and scatters), 8 with the AVX2+FMA kernels (masked 4-float
 * loads of patch rows and 4-float stores of output rows, transposed in registers), one at a time in scalar C
 * otherwise.
 * The forward and data gradient do not depend on the thread count (each tile's arithmetic is the same whoever
 * runs it), the weight gradient with channels in lanes does by rounding (each thread sums its own tiles; the
 * same thread count gives the same bits); all differ between kernel sets by rounding. Rounding: the transforms
 * amplify fp32 rounding (about 1e-5 relative on unit-range data, tested against the direct reference). */
#include "kernels/conv.h"
#include "kernels/gemm.h"
#include <omp.h>

enum { WG_TILE_BLOCK = 64, /* tiles per GEMM block: a multiple of every kernel set's NR */
       WG_MR_MAX = 8,       /* at least every kernel set's MR (AVX-512: 8, AVX2 and portable: 6) */
       WG_LANES_PAIRS = 128 * 128 }; /* channel pairs up to which the weight gradient puts channels in lanes */

static size_t align64f(size_t floats) { return (floats + 15) / 16 * 16; } /* floats, to 64 bytes */

bool cn_conv_winograd_applies(const cn_conv_geom *p) {
    return cn_conv_single_plane(p) && (p->kernel[1] == 3 || p->kernel[1] == 5) &&
           p->kernel[2] == p->kernel[1] && p->stride[1] == 1 &&
           p->stride[2] == 1 && p->dilation[1] == 1 && p->dilation[2] == 1 && p->groups == 1 &&
           p->pad_mode == CN_PAD_ZEROS;
}

/* One direction of the problem: `in` (N, cin, ih, iw) -> `out` (N, cout, oh, ow) with pad_begin (ph, pw); r x r
 * filters, m x m output tiles from P x P patches: F(4x4,3x3) and F(2x2,5x5) on 6x6 patches (the same B^T), or
 * F(4x4,5x5) on 8x8 (P = 8; 64 xi). */
typedef struct {
    int64_t batch, cin, cout, ih, iw, oh, ow, ph, pw;
    int r, m, P;
} wg_problem;

/* F(4x4,5x5) for the forward and data gradient of 5x5 layers with the AVX2 kernels: 4 multiplies per output
 * instead of F(2x2,5x5)'s 9 and 8x8 patches overlapping by 4 columns instead of 6x6 ones by 4, so 1.7x fewer
 * transformed values (LeNet's conv2: 16 tiles of 64 per 14x14 plane against 49 of 36). The weight gradient
 * takes it where its channels go in lanes (wgrad_problem), F(2x2,5x5) otherwise. Points 0, +-1, +-2, +-1/2 and
 * infinity (B^T as F(6x6,3x3)'s); float error about 1.5x F(2x2,5x5)'s (7.5e-6 against 4.5e-6 relative on
 * 50-channel sums). */
static bool large_tiles(const cn_conv_geom *p) {
#ifdef CN_REAL_IS_DOUBLE
    (void)p;
    return false;
#else
    return p->kernel[1] == 5 && strcmp(cn_kernels_isa(), "avx2") == 0;
#endif
}

static wg_problem make_problem(const cn_conv_geom *p, bool data, bool large) {
    int r = (int)p->kernel[1], m = r == 3 || large ? 4 : 2;
    if (data) /* dx = conv(dy, flipped transposed w), padding r - 1 - pad_begin */
        return (wg_problem){p->batch, p->out_channels, p->in_channels, p->out[1], p->out[2], p->in[1], p->in[2],
                            r - 1 - p->pad_begin[1], r - 1 - p->pad_begin[2], r, m, large ? 8 : 6};
    return (wg_problem){p->batch, p->in_channels, p->out_channels, p->in[1], p->in[2], p->out[1], p->out[2],
                        p->pad_begin[1], p->pad_begin[2], r, m, large ? 8 : 6};
}
static wg_problem forward_problem(const cn_conv_geom *p) { return make_problem(p, false, large_tiles(p)); }
static wg_problem data_problem(const cn_conv_geom *p) { return make_problem(p, true, large_tiles(p)); }
/* the weight gradient's: F(4x4,5x5) with channels in lanes, else 6x6 patches */
static wg_problem wgrad_problem(const cn_conv_geom *p) {
    return make_problem(p, false, large_tiles(p) && cn_conv_winograd_wgrad_lanes(p));
}

const char *cn_conv_winograd_name(const cn_conv_geom *p) {
    return p->kernel[1] == 3 ? "winograd-f4x3" : large_tiles(p) ? "winograd-f4x5" : "winograd-f2x5";
}

static int64_t tiles_of(const wg_problem *q) {
    return q->batch * ((q->oh + q->m - 1) / q->m) * ((q->ow + q->m - 1) / q->m);
}

static size_t u_floats(const wg_problem *q) { return align64f((size_t)((q->cout + 16) * q->cin)) + 16; } /* one xi */
/* V and M are walked across their 36 xi at once: strides of a power of two would put all 36 streams in the
 * same L1 set (4K aliasing), so they get one extra cache line */
static size_t v_floats(const wg_problem *q) { return align64f((size_t)(q->cin * WG_TILE_BLOCK)) + 16; }  /* one xi */
/* one xi of M: rows up to C_out rounded up to the GEMM's MR (the padded weight rows are zero), so that every tile
 * of the 36 GEMMs is a full one (a last panel of 4 rows, 64 = 10 x 6 + 4 on AVX2, went through the scalar edge
 * store) */
static size_t m_floats(const wg_problem *q) {
    return align64f((size_t)((q->cout + WG_MR_MAX) * WG_TILE_BLOCK)) + 16;
}

static int xis(const wg_problem *q) { return q->P * q->P; }
static size_t problem_shared(const wg_problem *q) { return (size_t)xis(q) * u_floats(q) * sizeof(cn_real); }
static size_t problem_thread(const wg_problem *q) { return (size_t)xis(q) * (v_floats(q) + m_floats(q)) * sizeof(cn_real); }

size_t cn_conv_winograd_shared_bytes(const cn_conv_geom *p) {
    wg_problem f = forward_problem(p), d = data_problem(p);
    size_t a = problem_shared(&f), b = problem_shared(&d);
    return a > b ? a : b;
}

size_t cn_conv_winograd_thread_bytes(const cn_conv_geom *p) {
    wg_problem f = forward_problem(p), d = data_problem(p);
    size_t a = problem_thread(&f), b = problem_thread(&d);
    return a > b ? a : b;
}

/* u (6x6) = G g G^T for one 3x3 filter g (row-major, element (a, b) at g[a*sa + b*sb]). Multiplies by the
 * reciprocals, not divisions (a double division per term made the transform of 512 x 512 filters cost more than
 * the batch-32 forward's GEMMs). */
static void transform_filter(const cn_real *g, int64_t sa, int64_t sb, double u[36]) {
    const double q4 = 1.0 / 4, q6 = 1.0 / 6, q12 = 1.0 / 12, q24 = 1.0 / 24;
    double t[6][3]; /* G g */
    for (int b = 0; b < 3; b++) {
        double g0 = g[0 * sa + b * sb], g1 = g[1 * sa + b * sb], g2 = g[2 * sa + b * sb];
        t[0][b] = g0 * q4;
        t[1][b] = -(g0 + g1 + g2) * q6;
        t[2][b] = -(g0 - g1 + g2) * q6;
        t[3][b] = g0 * q24 + g1 * q12 + g2 * q6;
        t[4][b] = g0 * q24 - g1 * q12 + g2 * q6;
        t[5][b] = g2;
    }
    for (int i = 0; i < 6; i++) { /* (G g) G^T */
        double g0 = t[i][0], g1 = t[i][1], g2 = t[i][2];
        u[i * 6 + 0] = g0 * q4;
        u[i * 6 + 1] = -(g0 + g1 + g2) * q6;
        u[i * 6 + 2] = -(g0 - g1 + g2) * q6;
        u[i * 6 + 3] = g0 * q24 + g1 * q12 + g2 * q6;
        u[i * 6 + 4] = g0 * q24 - g1 * q12 + g2 * q6;
        u[i * 6 + 5] = g2;
    }
}

/* F(2x2,5x5): G (6 x 5) from the same points 0, 1, -1, 2, -2 and infinity: row k is a^j / prod_(b != a)(a - b) */
static const double G5[6][5] = {{1.0 / 4, 0, 0, 0, 0},
                                {-1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6, -1.0 / 6},
                                {-1.0 / 6, 1.0 / 6, -1.0 / 6, 1.0 / 6, -1.0 / 6},
                                {1.0 / 24, 1.0 / 12, 1.0 / 6, 1.0 / 3, 2.0 / 3},
                                {1.0 / 24, -1.0 / 12, 1.0 / 6, -1.0 / 3, 2.0 / 3},
                                {0, 0, 0, 0, 1}};

/* F(4x4,5x5): G (8 x 5) from the points 0, 1, -1, 2, -2, 1/2, -1/2 and infinity (row 0 negated, as B^T's) */
static const double G8[8][5] = {{1, 0, 0, 0, 0},
                                {-2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9, -2.0 / 9},
                                {-2.0 / 9, 2.0 / 9, -2.0 / 9, 2.0 / 9, -2.0 / 9},
                                {1.0 / 90, 1.0 / 45, 2.0 / 45, 4.0 / 45, 8.0 / 45},
                                {1.0 / 90, -1.0 / 45, 2.0 / 45, -4.0 / 45, 8.0 / 45},
                                {32.0 / 45, 16.0 / 45, 8.0 / 45, 4.0 / 45, 2.0 / 45},
                                {32.0 / 45, -16.0 / 45, 8.0 / 45, -4.0 / 45, 2.0 / 45},
                                {0, 0, 0, 0, 1}};

/* u (P x P) = G g G^T for one 5x5 filter g (element (a, b) at g[a*sa + b*sb]); G: P x 5 (G5 or G8) */
static void transform_filter5(const double *G, int P, const cn_real *g, int64_t sa, int64_t sb, double *u) {
    double t[8][5] = {{0}}; /* G g */
    for (int i = 0; i < P; i++)
        for (int a = 0; a < 5; a++)
            for (int b = 0; b < 5; b++) t[i][b] += G[i * 5 + a] * (double)g[a * sa + b * sb];
    for (int i = 0; i < P; i++)
        for (int j = 0; j < P; j++) {
            double acc = 0;
            for (int b = 0; b < 5; b++) acc += t[i][b] * G[j * 5 + b];
            u[i * P + j] = acc;
        }
}

enum { WG_UCHUNK = 16 }; /* input channels per run of transform_weights */

#ifndef CN_REAL_IS_DOUBLE
#include <immintrin.h>
/* G z for three 8-lane vectors -> six */
__attribute__((target("avx2,fma"), always_inline)) static inline void g3x8(__m256 z0, __m256 z1, __m256 z2, __m256 t[6]) {
    const __m256 q4 = _mm256_set1_ps(1.0f / 4), q6 = _mm256_set1_ps(1.0f / 6), q12 = _mm256_set1_ps(1.0f / 12);
    const __m256 q24 = _mm256_set1_ps(1.0f / 24);
    __m256 s02 = _mm256_add_ps(z0, z2), z26 = _mm256_mul_ps(z2, q6);
    t[0] = _mm256_mul_ps(z0, q4);
    t[1] = _mm256_mul_ps(_mm256_add_ps(s02, z1), _mm256_sub_ps(_mm256_setzero_ps(), q6));
    t[2] = _mm256_mul_ps(_mm256_sub_ps(z1, s02), q6);
    t[3] = _mm256_fmadd_ps(z0, q24, _mm256_fmadd_ps(z1, q12, z26));
    t[4] = _mm256_fmadd_ps(z0, q24, _mm256_fnmadd_ps(z1, q12, z26));
    t[5] = z2;
}

/* G z for five 8-lane vectors -> six (F(2x2,5x5)) */
__attribute__((target("avx2,fma"), always_inline)) static inline void g5x8(const __m256 z[5], __m256 t[6]) {
    const __m256 q4 = _mm256_set1_ps(1.0f / 4), q6 = _mm256_set1_ps(1.0f / 6), q24 = _mm256_set1_ps(1.0f / 24);
    __m256 even = _mm256_add_ps(_mm256_add_ps(z[0], z[2]), z[4]), odd = _mm256_add_ps(z[1], z[3]);
    /* rows 3 and 4: (z0 + 2 z1 + 4 z2 + 8 z3 + 16 z4) / 24 and with the odd terms negated */
    __m256 e4 = _mm256_fmadd_ps(_mm256_set1_ps(4), z[2], _mm256_fmadd_ps(_mm256_set1_ps(16), z[4], z[0]));
    __m256 o4 = _mm256_fmadd_ps(_mm256_set1_ps(2), z[1], _mm256_mul_ps(_mm256_set1_ps(8), z[3]));
    t[0] = _mm256_mul_ps(z[0], q4);
    t[1] = _mm256_mul_ps(_mm256_add_ps(even, odd), _mm256_sub_ps(_mm256_setzero_ps(), q6));
    t[2] = _mm256_mul_ps(_mm256_sub_ps(odd, even), q6);
    t[3] = _mm256_mul_ps(_mm256_add_ps(e4, o4), q24);
    t[4] = _mm256_mul_ps(_mm256_sub_ps(e4, o4), q24);
    t[5] = z[4];
}

/* G8 z for five 8-lane vectors -> eight (F(4x4,5x5)) */
__attribute__((target("avx2,fma"), always_inline)) static inline void g5x8_8(const __m256 z[5], __m256 t[8]) {
    __m256 even = _mm256_add_ps(_mm256_add_ps(z[0], z[2]), z[4]), odd = _mm256_add_ps(z[1], z[3]);
    __m256 e3 = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 90), z[0],
                                _mm256_fmadd_ps(_mm256_set1_ps(2.0f / 45), z[2], _mm256_mul_ps(_mm256_set1_ps(8.0f / 45), z[4])));
    __m256 o3 = _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 45), z[1], _mm256_mul_ps(_mm256_set1_ps(4.0f / 45), z[3]));
    __m256 e5 = _mm256_fmadd_ps(_mm256_set1_ps(32.0f / 45), z[0],
                                _mm256_fmadd_ps(_mm256_set1_ps(8.0f / 45), z[2], _mm256_mul_ps(_mm256_set1_ps(2.0f / 45), z[4])));
    __m256 o5 = _mm256_fmadd_ps(_mm256_set1_ps(16.0f / 45), z[1], _mm256_mul_ps(_mm256_set1_ps(4.0f / 45), z[3]));
    const __m256 m29 = _mm256_set1_ps(-2.0f / 9);
    t[0] = z[0];
    t[1] = _mm256_mul_ps(_mm256_add_ps(even, odd), m29);
    t[2] = _mm256_mul_ps(_mm256_sub_ps(even, odd), m29);
    t[3] = _mm256_add_ps(e3, o3);
    t[4] = _mm256_sub_ps(e3, o3);
    t[5] = _mm256_add_ps(e5, o5);
    t[6] = _mm256_sub_ps(e5, o5);
    t[7] = z[4];
}

/* The transforms of the filters (op*mr + r, c), r < mr <= 8, one per lane, in float (the scalar path below is in
 * double; the difference is float rounding of U), into run[xi][(c - c0) * mr + r] (8 floats written per xi: the
 * two past mr are overwritten by the next c, and run has room after the last). */
__attribute__((target("avx2,fma"))) static void transform_lanes8(const wg_problem *q, const float *w, bool flipped,
                                                                 int64_t op, int64_t mr, int64_t c0, int64_t c1,
                                                                 float run[64][WG_UCHUNK * WG_MR_MAX + 8]) {
    int64_t live = q->cout - op * mr < mr ? q->cout - op * mr : mr;
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)live), lanes);
    /* lane r reads filter (op*mr + r, c): forward w[o][c] (lanes cin * taps apart), data gradient w[c][o]
     * rotated (lanes `taps` apart, taps in reverse) */
    const int R = q->r, taps = R * R, P = q->P;
    __m256i step = _mm256_mullo_epi32(lanes, _mm256_set1_epi32((int)(flipped ? taps : q->cin * taps)));
    for (int64_t c = c0; c < c1; c++) {
        const float *base = flipped ? w + (c * q->cout + op * mr) * taps + taps - 1 : w + (op * mr * q->cin + c) * taps;
        __m256 g[25], t[8][5], u[8], col[8];
        for (int k = 0; k < taps; k++)
            g[k] = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), flipped ? base - k : base + k, step,
                                            _mm256_castsi256_ps(mask), 4);
        for (int b = 0; b < R; b++) { /* G g, column b */
            if (R == 3) g3x8(g[b], g[3 + b], g[6 + b], col);
            else if (P == 6) g5x8((__m256[5]){g[b], g[5 + b], g[10 + b], g[15 + b], g[20 + b]}, col);
            else g5x8_8((__m256[5]){g[b], g[5 + b], g[10 + b], g[15 + b], g[20 + b]}, col);
            for (int i = 0; i < P; i++) t[i][b] = col[i];
        }
        for (int i = 0; i < P; i++) { /* (G g) G^T, row i */
            if (R == 3) g3x8(t[i][0], t[i][1], t[i][2], u);
            else if (P == 6) g5x8(t[i], u);
            else g5x8_8(t[i], u);
            for (int j = 0; j < P; j++) _mm256_storeu_ps(&run[i * P + j][(c - c0) * mr], u[j]);
        }
    }
}
#endif

/* U[xi] (cout x cin) for every xi, written straight into packed-A order (gemm.h). Forward: filter (o, c) is
 * w[o][c]. Data gradient: filter (o, c) is w[c][o] rotated by 180 degrees. Work goes by packed panels of MR output
 * channels and runs of up to WG_UCHUNK input channels: their 36 transforms are gathered in a small buffer, then
 * each xi's run (contiguous in the packed layout) is written at once, not one float per xi 36 planes apart.
 * With AVX2 (MR <= 8) the MR filters of a run's channel are transformed one per lane. Panels are split over the
 * calling team's threads. The transform runs once per pass in training: 512 x 512 filters on Zen 3 took 27 ms on
 * one thread (13.5 on two) with a double-precision transform per filter written one float per xi; 9.5 (6) now,
 * about half of it writing the 39 MB of U. */
static void transform_weights(const wg_problem *q, const cn_real *w, bool flipped_transposed, cn_real *upack) {
    cn_gemm_blocks blk = cn_gemm_blocking();
    int64_t mpanels = (q->cout + blk.mr - 1) / blk.mr, ufl = (int64_t)u_floats(q), mr = blk.mr;
    const int nxi = xis(q);
#ifndef CN_REAL_IS_DOUBLE
    bool lanes8 = mr <= 8 && (strcmp(cn_kernels_isa(), "avx2") == 0 || strcmp(cn_kernels_isa(), "avx512") == 0);
#endif
#pragma omp for schedule(static)
    for (int64_t op = 0; op < mpanels; op++)
        for (int64_t c0 = 0; c0 < q->cin;) {
            int64_t p0 = c0 / blk.kc * blk.kc, kcb = q->cin - p0 < blk.kc ? q->cin - p0 : blk.kc;
            int64_t c1 = c0 + WG_UCHUNK < p0 + kcb ? c0 + WG_UCHUNK : p0 + kcb; /* within one depth block */
            cn_real run[64][WG_UCHUNK * WG_MR_MAX + 8];
#ifndef CN_REAL_IS_DOUBLE
            if (lanes8) transform_lanes8(q, w, flipped_transposed, op, mr, c0, c1, run);
            else
#endif
                for (int64_t c = c0; c < c1; c++)
                    for (int64_t r = 0; r < mr; r++) {
                        int64_t o = op * mr + r;
                        double u[64] = {0};
                        if (o < q->cout && q->r == 3) {
                            if (!flipped_transposed) transform_filter(w + (o * q->cin + c) * 9, 3, 1, u);
                            else transform_filter(w + (c * q->cout + o) * 9 + 8, -3, -1, u);
                        } else if (o < q->cout) {
                            const double *G = q->P == 8 ? G8[0] : G5[0];
                            if (!flipped_transposed) transform_filter5(G, q->P, w + (o * q->cin + c) * 25, 5, 1, u);
                            else transform_filter5(G, q->P, w + (c * q->cout + o) * 25 + 24, -5, -1, u);
                        }
                        for (int xi = 0; xi < nxi; xi++) run[xi][(c - c0) * mr + r] = (cn_real)u[xi];
                    }
            int64_t at = p0 * mpanels * mr + (op * kcb + (c0 - p0)) * mr;
            for (int xi = 0; xi < nxi; xi++)
                memcpy(upack + xi * ufl + at, run[xi], (size_t)((c1 - c0) * mr) * sizeof(cn_real));
            c0 = c1;
        }
}

/* d (6x6 patch) -> v = B^T d B */
static inline void transform_input(const cn_real d[36], cn_real v[36]) {
    cn_real t[36];
    for (int j = 0; j < 6; j++) { /* columns: t = B^T d */
        cn_real z0 = d[0 * 6 + j], z1 = d[1 * 6 + j], z2 = d[2 * 6 + j], z3 = d[3 * 6 + j], z4 = d[4 * 6 + j],
                z5 = d[5 * 6 + j];
        t[0 * 6 + j] = 4 * z0 - 5 * z2 + z4;
        t[1 * 6 + j] = -4 * z1 - 4 * z2 + z3 + z4;
        t[2 * 6 + j] = 4 * z1 - 4 * z2 - z3 + z4;
        t[3 * 6 + j] = -2 * z1 - z2 + 2 * z3 + z4;
        t[4 * 6 + j] = 2 * z1 - z2 - 2 * z3 + z4;
        t[5 * 6 + j] = 4 * z1 - 5 * z3 + z5;
    }
    for (int i = 0; i < 6; i++) { /* rows: v = t B */
        const cn_real *z = t + i * 6;
        v[i * 6 + 0] = 4 * z[0] - 5 * z[2] + z[4];
        v[i * 6 + 1] = -4 * z[1] - 4 * z[2] + z[3] + z[4];
        v[i * 6 + 2] = 4 * z[1] - 4 * z[2] - z[3] + z[4];
        v[i * 6 + 3] = -2 * z[1] - z[2] + 2 * z[3] + z[4];
        v[i * 6 + 4] = 2 * z[1] - z[2] - 2 * z[3] + z[4];
        v[i * 6 + 5] = 4 * z[1] - 5 * z[3] + z[5];
    }
}

/* m (6x6) -> y (4x4) = A^T m A */
static inline void transform_output(const cn_real m[36], cn_real y[16]) {
    cn_real t[24];
    for (int j = 0; j < 6; j++) {
        cn_real m0 = m[0 * 6 + j], m1 = m[1 * 6 + j], m2 = m[2 * 6 + j], m3 = m[3 * 6 + j], m4 = m[4 * 6 + j],
                m5 = m[5 * 6 + j];
        t[0 * 6 + j] = m0 + m1 + m2 + m3 + m4;
        t[1 * 6 + j] = m1 - m2 + 2 * m3 - 2 * m4;
        t[2 * 6 + j] = m1 + m2 + 4 * m3 + 4 * m4;
        t[3 * 6 + j] = m1 - m2 + 8 * m3 - 8 * m4 + m5;
    }
    for (int i = 0; i < 4; i++) {
        const cn_real *z = t + i * 6;
        y[i * 4 + 0] = z[0] + z[1] + z[2] + z[3] + z[4];
        y[i * 4 + 1] = z[1] - z[2] + 2 * z[3] - 2 * z[4];
        y[i * 4 + 2] = z[1] + z[2] + 4 * z[3] + 4 * z[4];
        y[i * 4 + 3] = z[1] - z[2] + 8 * z[3] - 8 * z[4] + z[5];
    }
}

/* m (6x6) -> y (2x2) = A^T m A, A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 1] (F(2x2,5x5)) */
static inline void transform_output2(const cn_real m[36], cn_real y[4]) {
    cn_real t[12];
    for (int j = 0; j < 6; j++) {
        cn_real m0 = m[0 * 6 + j], m1 = m[1 * 6 + j], m2 = m[2 * 6 + j], m3 = m[3 * 6 + j], m4 = m[4 * 6 + j],
                m5 = m[5 * 6 + j];
        t[0 * 6 + j] = m0 + m1 + m2 + m3 + m4;
        t[1 * 6 + j] = m1 - m2 + 2 * m3 - 2 * m4 + m5;
    }
    for (int i = 0; i < 2; i++) {
        const cn_real *z = t + i * 6;
        y[i * 2 + 0] = z[0] + z[1] + z[2] + z[3] + z[4];
        y[i * 2 + 1] = z[1] - z[2] + 2 * z[3] - 2 * z[4] + z[5];
    }
}

/* The transforms' vector width: scalar, 8 lanes (AVX2+FMA) or 16 (AVX-512). */
typedef enum { WG_SCALAR, WG_AVX2, WG_AVX512 } wg_simd;

/* Where the tiles of a block start: sample, top-left input row and column (padding included). */
typedef struct {
    int64_t nt, tn[WG_TILE_BLOCK], ty0[WG_TILE_BLOCK], tx0[WG_TILE_BLOCK];
} wg_tiles;

/* ---- AVX-512: the input and output transforms across 16 tiles at once (one tile per lane). The input
 * patches are gathered (masked: padding and lanes past the block read nothing and give 0), transformed with
 * 16-wide FMAs and stored as 16 consecutive panel columns of V[xi]; the output transform loads 16 tiles of
 * M[xi] (consecutive in mbuf), applies A^T m A and the bias / fused epilogue and scatters the 4x4 results.
 * Offsets are 32-bit: used when the whole input and output fit (checked by the caller). */
#ifndef CN_REAL_IS_DOUBLE
#include "kernels/simd256.h"

/* B^T z for six vectors (a column or a row of a patch) */
__attribute__((target("avx512f"))) static inline void bt6(const __m512 z[6], __m512 t[6]) {
    __m512 four = _mm512_set1_ps(4), five = _mm512_set1_ps(5), two = _mm512_set1_ps(2);
    __m512 s12 = _mm512_add_ps(z[1], z[2]), s34 = _mm512_add_ps(z[3], z[4]);
    __m512 d12 = _mm512_sub_ps(z[1], z[2]), d43 = _mm512_sub_ps(z[4], z[3]);
    __m512 d31 = _mm512_sub_ps(z[3], z[1]), d42 = _mm512_sub_ps(z[4], z[2]);
    t[0] = _mm512_fmadd_ps(four, z[0], _mm512_fnmadd_ps(five, z[2], z[4]));
    t[1] = _mm512_fnmadd_ps(four, s12, s34);
    t[2] = _mm512_fmadd_ps(four, d12, d43);
    t[3] = _mm512_fmadd_ps(two, d31, d42);
    t[4] = _mm512_fnmadd_ps(two, d31, d42);
    t[5] = _mm512_fmadd_ps(four, z[1], _mm512_fnmadd_ps(five, z[3], z[5]));
}

/* A^T m for six vectors -> four */
__attribute__((target("avx512f"))) static inline void at6(const __m512 m[6], __m512 y[4]) {
    __m512 s12 = _mm512_add_ps(m[1], m[2]), s34 = _mm512_add_ps(m[3], m[4]);
    __m512 d12 = _mm512_sub_ps(m[1], m[2]), d34 = _mm512_sub_ps(m[3], m[4]);
    y[0] = _mm512_add_ps(_mm512_add_ps(m[0], s12), s34);
    y[1] = _mm512_fmadd_ps(_mm512_set1_ps(2), d34, d12);
    y[2] = _mm512_fmadd_ps(_mm512_set1_ps(4), s34, s12);
    y[3] = _mm512_add_ps(_mm512_fmadd_ps(_mm512_set1_ps(8), d34, d12), m[5]);
}

/* 16 tiles of one channel: base[l] = offset of lane l's patch origin in `in` (this channel), rows[i] / cols[j]:
 * lanes whose patch row i / column j lies inside the input; dst[xi * vfl] receives the 16 columns. */
__attribute__((target("avx512f"))) static void input16(const float *in, __m512i base, const __mmask16 rows[6],
                                                       const __mmask16 cols[6], int64_t iw, float *dst,
                                                       int64_t vfl) {
    __m512 d[36], t[36], z[6], r[6];
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            __m512i idx = _mm512_add_epi32(base, _mm512_set1_epi32((int32_t)(i * iw + j)));
            d[i * 6 + j] = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), rows[i] & cols[j], idx, in, 4);
        }
    for (int j = 0; j < 6; j++) { /* columns: t = B^T d */
        for (int i = 0; i < 6; i++) z[i] = d[i * 6 + j];
        bt6(z, r);
        for (int i = 0; i < 6; i++) t[i * 6 + j] = r[i];
    }
    for (int i = 0; i < 6; i++) { /* rows: v = t B */
        bt6(t + i * 6, r);
        for (int j = 0; j < 6; j++) _mm512_storeu_ps(dst + (i * 6 + j) * vfl, r[j]);
    }
}

/* 16 tiles (lanes `live`) of output channel o: m[xi] at src + xi * mfl; base[l] = offset of lane l's tile origin
 * in `out` (this channel); rows[i] / cols[j]: lanes whose output row i / column j exists. y = scale * A^T m A
 * + shift (then ReLU), or out += A^T m A when add. */
__attribute__((target("avx512f"))) static void output16(const float *src, int64_t mfl, __mmask16 live, float *out,
                                                        __m512i base, const __mmask16 rows[4],
                                                        const __mmask16 cols[4], int64_t ow, float scale,
                                                        float shift, bool relu, bool add) {
    __m512 m[36], t[24], z[6], r[4];
    for (int xi = 0; xi < 36; xi++) m[xi] = _mm512_maskz_loadu_ps(live, src + xi * mfl);
    for (int j = 0; j < 6; j++) {
        for (int i = 0; i < 6; i++) z[i] = m[i * 6 + j];
        at6(z, r);
        for (int i = 0; i < 4; i++) t[i * 6 + j] = r[i];
    }
    __m512 sc = _mm512_set1_ps(scale), sh = _mm512_set1_ps(shift), zero = _mm512_setzero_ps();
    for (int i = 0; i < 4; i++) {
        at6(t + i * 6, r);
        for (int j = 0; j < 4; j++) {
            __mmask16 k = live & rows[i] & cols[j];
            __m512i idx = _mm512_add_epi32(base, _mm512_set1_epi32((int32_t)(i * ow + j)));
            __m512 v = r[j];
            if (add) v = _mm512_add_ps(v, _mm512_mask_i32gather_ps(zero, k, idx, out, 4));
            else {
                v = _mm512_fmadd_ps(sc, v, sh);
                if (relu) v = _mm512_max_ps(v, zero);
            }
            _mm512_mask_i32scatter_ps(out, k, idx, v, 4);
        }
    }
}
/* The AVX-512 input transform of channels [c0, c1) of a block (panels a multiple of 16 tiles wide). */
__attribute__((target("avx512f"))) static void input_phase16(const wg_problem *q, const float *in, const wg_tiles *tl,
                                                             int64_t c0, int64_t c1, float *vpack) {
    cn_gemm_blocks blk = cn_gemm_blocking();
    int64_t nt = tl->nt, npanels = (nt + blk.nr - 1) / blk.nr, vfl = (int64_t)v_floats(q), in_plane = q->ih * q->iw;
    for (int64_t g0 = 0; g0 < npanels * blk.nr; g0 += 16) {
        int32_t ib[16];
        __mmask16 rows[6] = {0}, cols[6] = {0};
        for (int l = 0; l < 16; l++) {
            int64_t t = g0 + l;
            ib[l] = t < nt ? (int32_t)(tl->tn[t] * q->cin * in_plane + tl->ty0[t] * q->iw + tl->tx0[t]) : 0;
            for (int i = 0; i < 6 && t < nt; i++) {
                if (tl->ty0[t] + i >= 0 && tl->ty0[t] + i < q->ih) rows[i] |= (__mmask16)(1u << l);
                if (tl->tx0[t] + i >= 0 && tl->tx0[t] + i < q->iw) cols[i] |= (__mmask16)(1u << l);
            }
        }
        __m512i base = _mm512_loadu_si512(ib);
        for (int64_t c = c0; c < c1; c++) {
            int64_t p0 = c / blk.kc * blk.kc, kcb = q->cin - p0 < blk.kc ? q->cin - p0 : blk.kc;
            float *dst = vpack + p0 * npanels * blk.nr + (c - p0) * blk.nr + (g0 / blk.nr) * blk.nr * kcb + g0 % blk.nr;
            input16(in + c * in_plane, base, rows, cols, q->iw, dst, vfl);
        }
    }
}

/* The AVX-512 output transform of output channels [o0, o1) of a block. */
__attribute__((target("avx512f"))) static void output_phase16(const wg_problem *q, const float *bias,
                                                              const cn_conv_epilogue *e, bool add, const wg_tiles *tl,
                                                              int64_t o0, int64_t o1, const float *mbuf, float *out) {
    int64_t nt = tl->nt, mfl = (int64_t)m_floats(q), out_plane = q->oh * q->ow;
    for (int64_t g0 = 0; g0 < nt; g0 += 16) {
        int32_t ob[16] = {0};
        __mmask16 rows[4] = {0}, cols[4] = {0}, live = 0;
        for (int l = 0; l < 16 && g0 + l < nt; l++) {
            int64_t t = g0 + l, ty = tl->ty0[t] + q->ph, tx = tl->tx0[t] + q->pw;
            live |= (__mmask16)(1u << l);
            ob[l] = (int32_t)(tl->tn[t] * q->cout * out_plane + ty * q->ow + tx);
            for (int i = 0; i < 4; i++) {
                if (ty + i < q->oh) rows[i] |= (__mmask16)(1u << l);
                if (tx + i < q->ow) cols[i] |= (__mmask16)(1u << l);
            }
        }
        __m512i base = _mm512_loadu_si512(ob);
        for (int64_t o = o0; o < o1; o++) {
            float sc = 1, sh = bias ? bias[o] : 0;
            if (e) sc = e->scale[o], sh = e->shift[o];
            output16(mbuf + o * nt + g0, mfl, live, out + o * out_plane, base, rows, cols, q->ow, sc, sh,
                     e && e->relu, add);
        }
    }
}

/* ---- AVX2+FMA: the same transforms across 8 tiles at once (one tile per lane), with 64-bit offsets. AVX2 has
 * no mask registers (and masked stores are slow on AMD), so instead of gathering, the input side loads each
 * patch row as two 4-float pieces (columns 0-3 and 2-5: neither reads past the patch) with _mm_maskload_ps
 * (lanes outside the input, and tiles past the block, give 0), pairs tile l with tile l + 4 in one vector and
 * transposes 4x4 within each 128-bit half; the output side transposes the 4 columns of each output row back the
 * same way and stores one 4-float row per tile (edge tiles their valid columns only, one by one). */

/* B^T z for six 8-lane vectors */
__attribute__((target("avx2,fma"))) static inline void bt6x8(const __m256 z[6], __m256 t[6]) {
    __m256 four = _mm256_set1_ps(4), five = _mm256_set1_ps(5), two = _mm256_set1_ps(2);
    __m256 s12 = _mm256_add_ps(z[1], z[2]), s34 = _mm256_add_ps(z[3], z[4]);
    __m256 d12 = _mm256_sub_ps(z[1], z[2]), d43 = _mm256_sub_ps(z[4], z[3]);
    __m256 d31 = _mm256_sub_ps(z[3], z[1]), d42 = _mm256_sub_ps(z[4], z[2]);
    t[0] = _mm256_fmadd_ps(four, z[0], _mm256_fnmadd_ps(five, z[2], z[4]));
    t[1] = _mm256_fnmadd_ps(four, s12, s34);
    t[2] = _mm256_fmadd_ps(four, d12, d43);
    t[3] = _mm256_fmadd_ps(two, d31, d42);
    t[4] = _mm256_fnmadd_ps(two, d31, d42);
    t[5] = _mm256_fmadd_ps(four, z[1], _mm256_fnmadd_ps(five, z[3], z[5]));
}

/* A^T m for six 8-lane vectors -> four */
__attribute__((target("avx2,fma"))) static inline void at6x8(const __m256 m[6], __m256 y[4]) {
    __m256 s12 = _mm256_add_ps(m[1], m[2]), s34 = _mm256_add_ps(m[3], m[4]);
    __m256 d12 = _mm256_sub_ps(m[1], m[2]), d34 = _mm256_sub_ps(m[3], m[4]);
    y[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
    y[1] = _mm256_fmadd_ps(_mm256_set1_ps(2), d34, d12);
    y[2] = _mm256_fmadd_ps(_mm256_set1_ps(4), s34, s12);
    y[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(8), d34, d12), m[5]);
}

/* B^T z for eight 8-lane vectors (F(4x4,5x5); B^T's row 0 negated: [1 0 -21/4 0 21/4 0 -1 0]) */
__attribute__((target("avx2,fma"))) static inline void bt8x8(const __m256 z[8], __m256 r[8]) {
    const __m256 c525 = _mm256_set1_ps(5.25f), c425 = _mm256_set1_ps(4.25f), c25 = _mm256_set1_ps(2.5f);
    const __m256 c125 = _mm256_set1_ps(1.25f), half = _mm256_set1_ps(0.5f), quarter = _mm256_set1_ps(0.25f);
    const __m256 two = _mm256_set1_ps(2), four = _mm256_set1_ps(4);
    r[0] = _mm256_fmadd_ps(c525, _mm256_sub_ps(z[4], z[2]), _mm256_sub_ps(z[0], z[6]));
    r[7] = _mm256_fmadd_ps(c525, _mm256_sub_ps(z[3], z[5]), _mm256_sub_ps(z[7], z[1]));
    __m256 t1 = _mm256_fnmadd_ps(c425, z[4], _mm256_add_ps(z[2], z[6]));
    __m256 t2 = _mm256_fnmadd_ps(c425, z[3], _mm256_add_ps(z[1], z[5]));
    r[1] = _mm256_add_ps(t1, t2), r[2] = _mm256_sub_ps(t1, t2);
    __m256 t3 = _mm256_fnmadd_ps(c125, z[4], _mm256_fmadd_ps(quarter, z[2], z[6]));
    __m256 t4 = _mm256_fmadd_ps(two, z[5], _mm256_fnmadd_ps(c25, z[3], _mm256_mul_ps(half, z[1])));
    r[3] = _mm256_add_ps(t3, t4), r[4] = _mm256_sub_ps(t3, t4);
    __m256 t5 = _mm256_fmadd_ps(four, _mm256_fnmadd_ps(c125, z[4], z[2]), z[6]);
    __m256 t6 = _mm256_fmadd_ps(half, z[5], _mm256_fnmadd_ps(c25, z[3], _mm256_mul_ps(two, z[1])));
    r[5] = _mm256_add_ps(t5, t6), r[6] = _mm256_sub_ps(t5, t6);
}

/* A^T m for eight 8-lane vectors -> four (F(4x4,5x5): A^T = [1 1 1 1 1 1 1 0; 0 1 -1 2 -2 1/2 -1/2 0;
 * 0 1 1 4 4 1/4 1/4 0; 0 1 -1 8 -8 1/8 -1/8 1]) */
__attribute__((target("avx2,fma"))) static inline void at8x8(const __m256 m[8], __m256 y[4]) {
    __m256 s12 = _mm256_add_ps(m[1], m[2]), s34 = _mm256_add_ps(m[3], m[4]), s56 = _mm256_add_ps(m[5], m[6]);
    __m256 d12 = _mm256_sub_ps(m[1], m[2]), d34 = _mm256_sub_ps(m[3], m[4]), d56 = _mm256_sub_ps(m[5], m[6]);
    y[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), _mm256_add_ps(s34, s56));
    y[1] = _mm256_fmadd_ps(_mm256_set1_ps(0.5f), d56, _mm256_fmadd_ps(_mm256_set1_ps(2), d34, d12));
    y[2] = _mm256_fmadd_ps(_mm256_set1_ps(0.25f), s56, _mm256_fmadd_ps(_mm256_set1_ps(4), s34, s12));
    y[3] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(0.125f), d56, _mm256_fmadd_ps(_mm256_set1_ps(8), d34, d12)),
                         m[7]);
}

/* Where 8 tiles read their patches: for patch row i, piece h (columns 2h..2h+3) and tile l, the offset in `in`
 * of the piece in channel 0 and the lanes that lie inside the input. A piece with no such lane gets offset 0, so
 * `in + offset` never points past the input; min_off is the smallest offset (negative: left padding). */
typedef struct {
    int64_t off[8][2][8], min_off;
    __m128i mask[8][2][8];
} wg_patches8;

/* Piece h (columns (P - 4) h to + 3; P - 4 is 2 or 4) of patch row i of the tile whose patch starts at input row
 * y0, column x0 of sample n: the lanes inside the input (mask) and, when there is one, the offset of the piece's
 * first column in `in` (channel 0; 0 when none) */
__attribute__((target("avx2,fma"))) static inline int64_t patch_piece(const wg_problem *q, int64_t n, int64_t y0,
                                                                      int64_t x0, int i, int h, __m128i *mask) {
    int lane[4], any = 0;
    for (int k = 0; k < 4; k++) {
        int64_t y = y0 + i, x = x0 + (q->P - 4) * h + k;
        lane[k] = y >= 0 && y < q->ih && x >= 0 && x < q->iw ? -1 : 0;
        any |= lane[k];
    }
    *mask = _mm_setr_epi32(lane[0], lane[1], lane[2], lane[3]);
    return any ? (n * q->cin * q->ih + y0 + i) * q->iw + x0 + (q->P - 4) * h : 0;
}

__attribute__((target("avx2,fma"))) static void patches8(const wg_problem *q, const wg_tiles *tl, int64_t g0,
                                                         wg_patches8 *pt) {
    pt->min_off = 0;
    for (int l = 0; l < 8; l++) {
        int64_t t = g0 + l;
        for (int i = 0; i < q->P; i++)
            for (int h = 0; h < 2; h++) {
                if (t < tl->nt)
                    pt->off[i][h][l] = patch_piece(q, tl->tn[t], tl->ty0[t], tl->tx0[t], i, h, &pt->mask[i][h][l]);
                else /* past the block: no lane, 0 */
                    pt->off[i][h][l] = 0, pt->mask[i][h][l] = _mm_setzero_si128();
                if (pt->off[i][h][l] < pt->min_off) pt->min_off = pt->off[i][h][l];
            }
    }
}

/* piece4 when off < 0: lane by lane */
__attribute__((noinline, cold)) static __m128 piece4_lanes(const float *in, int64_t off, __m128i mask) {
    float v[4];
    int bits = _mm_movemask_ps(_mm_castsi128_ps(mask));
    for (int k = 0; k < 4; k++) v[k] = bits >> k & 1 ? in[off + k] : 0.0f;
    return _mm_loadu_ps(v);
}

/* in[off, off + 4) on the lanes of mask, 0 elsewhere. `in + off` is formed only when off >= 0: a negative offset
 * (the left padding of the input's first row; only when signed_off) is read lane by lane. */
__attribute__((target("avx2,fma"), always_inline)) static inline __m128 piece4(const float *in, int64_t off,
                                                                             __m128i mask, bool signed_off) {
    if (signed_off && off < 0) return piece4_lanes(in, off, mask);
    return _mm_maskload_ps(in + off, mask);
}

/* 8 tiles of one channel (coff: the channel's offset in `in`), P x P patches; dst[xi * vfl] receives the 8
 * columns. signed_off: some piece's offset may be negative (compiled twice: the common case tests no offset). */
__attribute__((target("avx2,fma"), always_inline)) static inline void input8(const int P, const float *in, int64_t coff,
                                                                             const wg_patches8 *pt, float *dst,
                                                                             int64_t vfl, bool signed_off) {
    __m256 t[64], z[8], r[8];
#pragma GCC unroll 8
    for (int i = 0; i < P; i++) { /* rows: t = d B, after transposing row i of the 8 patches into z[j] */
        __m256 a[4], b[4];
#pragma GCC unroll 4
        for (int l = 0; l < 4; l++) { /* tile l in the low half, tile l + 4 in the high half */
            a[l] = _mm256_set_m128(piece4(in, pt->off[i][0][l + 4] + coff, pt->mask[i][0][l + 4], signed_off),
                                   piece4(in, pt->off[i][0][l] + coff, pt->mask[i][0][l], signed_off));
            b[l] = _mm256_set_m128(piece4(in, pt->off[i][1][l + 4] + coff, pt->mask[i][1][l + 4], signed_off),
                                   piece4(in, pt->off[i][1][l] + coff, pt->mask[i][1][l], signed_off));
        }
        __m256 lo01 = _mm256_unpacklo_ps(a[0], a[1]), lo23 = _mm256_unpacklo_ps(a[2], a[3]);
        __m256 hi01 = _mm256_unpackhi_ps(a[0], a[1]), hi23 = _mm256_unpackhi_ps(a[2], a[3]);
        __m256 blo01 = _mm256_unpacklo_ps(b[0], b[1]), blo23 = _mm256_unpacklo_ps(b[2], b[3]);
        __m256 bhi01 = _mm256_unpackhi_ps(b[0], b[1]), bhi23 = _mm256_unpackhi_ps(b[2], b[3]);
        z[0] = _mm256_shuffle_ps(lo01, lo23, 0x44), z[1] = _mm256_shuffle_ps(lo01, lo23, 0xEE);
        z[2] = _mm256_shuffle_ps(hi01, hi23, 0x44), z[3] = _mm256_shuffle_ps(hi01, hi23, 0xEE);
        if (P == 6) { /* the second piece is columns 2-5: its last two */
            z[4] = _mm256_shuffle_ps(bhi01, bhi23, 0x44), z[5] = _mm256_shuffle_ps(bhi01, bhi23, 0xEE);
            bt6x8(z, t + i * 6);
        } else { /* columns 4-7 */
            z[4] = _mm256_shuffle_ps(blo01, blo23, 0x44), z[5] = _mm256_shuffle_ps(blo01, blo23, 0xEE);
            z[6] = _mm256_shuffle_ps(bhi01, bhi23, 0x44), z[7] = _mm256_shuffle_ps(bhi01, bhi23, 0xEE);
            bt8x8(z, t + i * 8);
        }
    }
#pragma GCC unroll 8
    for (int j = 0; j < P; j++) { /* columns: v = B^T t */
        for (int i = 0; i < P; i++) z[i] = t[i * P + j];
        if (P == 6) bt6x8(z, r);
        else bt8x8(z, r);
        for (int i = 0; i < P; i++) _mm256_storeu_ps(dst + (i * P + j) * vfl, r[i]);
    }
}

/* input8 compiled for the patch size and for whether a piece's offset (coff added) can be negative */
__attribute__((target("avx2,fma"))) static void input8_of(const wg_problem *q, const float *in, int64_t coff,
                                                          const wg_patches8 *pt, float *dst, int64_t vfl) {
    bool neg = coff + pt->min_off < 0;
    if (q->P == 8 && !neg) input8(8, in, coff, pt, dst, vfl, false);
    else if (q->P == 8) input8(8, in, coff, pt, dst, vfl, true);
    else if (!neg) input8(6, in, coff, pt, dst, vfl, false);
    else input8(6, in, coff, pt, dst, vfl, true);
}

/* The AVX2 input transform of channels [c0, c1) of a block (panels a multiple of 8 tiles wide). */
__attribute__((target("avx2,fma"))) static void input_phase8(const wg_problem *q, const float *in, const wg_tiles *tl,
                                                             int64_t c0, int64_t c1, float *vpack) {
    cn_gemm_blocks blk = cn_gemm_blocking();
    int64_t npanels = (tl->nt + blk.nr - 1) / blk.nr, vfl = (int64_t)v_floats(q), in_plane = q->ih * q->iw;
    wg_patches8 pt;
    for (int64_t g0 = 0; g0 < npanels * blk.nr; g0 += 8) {
        patches8(q, tl, g0, &pt);
        for (int64_t c = c0; c < c1; c++) {
            int64_t p0 = c / blk.kc * blk.kc, kcb = q->cin - p0 < blk.kc ? q->cin - p0 : blk.kc;
            float *dst = vpack + p0 * npanels * blk.nr + (c - p0) * blk.nr + (g0 / blk.nr) * blk.nr * kcb + g0 % blk.nr;
            input8_of(q, in, c * in_plane, &pt, dst, vfl);
        }
    }
}

/* Where 8 tiles write their outputs: offset of the tile origin in `out` (channel 0), valid rows and columns. */
typedef struct {
    int64_t off[8];
    int rows[8], cols[8], live;
} wg_outputs8;

/* One output row of a tile: 4 values (cols of them exist) stored at dst, or added to it. */
__attribute__((target("avx2,fma"))) static inline void row4(float *dst, __m128 v, int cols, bool add) {
    if (cols == 4) {
        _mm_storeu_ps(dst, add ? _mm_add_ps(_mm_loadu_ps(dst), v) : v);
        return;
    }
    float y[4];
    _mm_storeu_ps(y, v);
    for (int k = 0; k < cols; k++) dst[k] = add ? dst[k] + y[k] : y[k];
}

/* 8 tiles (the first pt->live) of output channel o: m[xi] at src + xi * mfl; ooff: the channel's offset in `out`.
 * y = scale * A^T m A + shift (then ReLU), or out += A^T m A when add. */
__attribute__((target("avx2,fma"), always_inline)) static inline void output8(const int P, const float *src,
                                                                              int64_t mfl, const wg_outputs8 *pt,
                                                                              float *out, int64_t ooff, int64_t ow,
                                                                              float scale, float shift, bool relu,
                                                                              bool add) {
    __m256 t[32], z[8], r[4];
    __m256i live = first_lanes(pt->live);
    for (int j = 0; j < P; j++) { /* columns: t = A^T m (P x P -> 4 x P) */
        for (int i = 0; i < P; i++)
            z[i] = pt->live == 8 ? _mm256_loadu_ps(src + (i * P + j) * mfl)
                                 : _mm256_maskload_ps(src + (i * P + j) * mfl, live);
        if (P == 6) at6x8(z, r);
        else at8x8(z, r);
        for (int i = 0; i < 4; i++) t[i * P + j] = r[i];
    }
    __m256 sc = _mm256_set1_ps(scale), sh = _mm256_set1_ps(shift), zero = _mm256_setzero_ps();
    for (int i = 0; i < 4; i++) { /* rows: y = t A, then row i of tile l is element l of y[0..3] */
        if (P == 6) at6x8(t + i * 6, r);
        else at8x8(t + i * 8, r);
        for (int j = 0; j < 4 && !add; j++) {
            r[j] = _mm256_fmadd_ps(sc, r[j], sh);
            if (relu) r[j] = _mm256_max_ps(r[j], zero);
        }
        __m256 lo01 = _mm256_unpacklo_ps(r[0], r[1]), lo23 = _mm256_unpacklo_ps(r[2], r[3]);
        __m256 hi01 = _mm256_unpackhi_ps(r[0], r[1]), hi23 = _mm256_unpackhi_ps(r[2], r[3]);
        __m256 y[4] = {_mm256_shuffle_ps(lo01, lo23, 0x44), _mm256_shuffle_ps(lo01, lo23, 0xEE),
                       _mm256_shuffle_ps(hi01, hi23, 0x44), _mm256_shuffle_ps(hi01, hi23, 0xEE)};
        for (int l = 0; l < pt->live; l++) /* tile l in the low half of y[l], tile l + 4 in the high half */
            if (i < pt->rows[l])
                row4(out + ooff + pt->off[l] + i * ow,
                     l < 4 ? _mm256_castps256_ps128(y[l]) : _mm256_extractf128_ps(y[l - 4], 1), pt->cols[l], add);
    }
}

/* A^T m for six 8-lane vectors -> two (F(2x2,5x5)) */
__attribute__((target("avx2,fma"))) static inline void at6x8_2(const __m256 m[6], __m256 y[2]) {
    __m256 s12 = _mm256_add_ps(m[1], m[2]), s34 = _mm256_add_ps(m[3], m[4]);
    __m256 d12 = _mm256_sub_ps(m[1], m[2]), d34 = _mm256_sub_ps(m[3], m[4]);
    y[0] = _mm256_add_ps(_mm256_add_ps(m[0], s12), s34);
    y[1] = _mm256_add_ps(_mm256_fmadd_ps(_mm256_set1_ps(2), d34, d12), m[5]);
}

/* output8 for 2x2 tiles: row i of tile l is the pair (y0[l], y1[l]) */
__attribute__((target("avx2,fma"))) static void output8_2(const float *src, int64_t mfl, const wg_outputs8 *pt,
                                                          float *out, int64_t ooff, int64_t ow, float scale,
                                                          float shift, bool relu, bool add) {
    __m256 t[12], z[6], r[2];
    __m256i live = first_lanes(pt->live);
    for (int j = 0; j < 6; j++) { /* columns: t = A^T m */
        for (int i = 0; i < 6; i++)
            z[i] = pt->live == 8 ? _mm256_loadu_ps(src + (i * 6 + j) * mfl)
                                 : _mm256_maskload_ps(src + (i * 6 + j) * mfl, live);
        at6x8_2(z, r);
        t[j] = r[0], t[6 + j] = r[1];
    }
    __m256 sc = _mm256_set1_ps(scale), sh = _mm256_set1_ps(shift), zero = _mm256_setzero_ps();
    for (int i = 0; i < 2; i++) {
        at6x8_2(t + i * 6, r);
        for (int j = 0; j < 2 && !add; j++) {
            r[j] = _mm256_fmadd_ps(sc, r[j], sh);
            if (relu) r[j] = _mm256_max_ps(r[j], zero);
        }
        /* unpacklo: the pairs of tiles 0, 1 | 4, 5; unpackhi: 2, 3 | 6, 7; a whole pair is one 64-bit store */
        __m256 lo = _mm256_unpacklo_ps(r[0], r[1]), hi = _mm256_unpackhi_ps(r[0], r[1]);
        __m128 quad[4] = {_mm256_castps256_ps128(lo), _mm256_castps256_ps128(hi), _mm256_extractf128_ps(lo, 1),
                          _mm256_extractf128_ps(hi, 1)};
        for (int l = 0; l < pt->live; l++) {
            if (i >= pt->rows[l]) continue;
            __m128 v = quad[(l & 4 ? 2 : 0) + (l & 2 ? 1 : 0)];
            if (l & 1) v = _mm_movehl_ps(v, v);
            float *dst = out + ooff + pt->off[l] + i * ow;
            if (pt->cols[l] == 2) {
                if (add) v = _mm_add_ps(v, _mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)dst));
                _mm_storel_pi((__m64 *)dst, v);
            } else { /* one column */
                float y = _mm_cvtss_f32(v);
                dst[0] = add ? dst[0] + y : y;
            }
        }
    }
}

/* The AVX2 output transform of output channels [o0, o1) of a block. */
__attribute__((target("avx2,fma"))) static void output_phase8(const wg_problem *q, const float *bias,
                                                              const cn_conv_epilogue *e, bool add, const wg_tiles *tl,
                                                              int64_t o0, int64_t o1, const float *mbuf, float *out) {
    int64_t nt = tl->nt, mfl = (int64_t)m_floats(q), out_plane = q->oh * q->ow;
    wg_outputs8 pt;
    for (int64_t g0 = 0; g0 < nt; g0 += 8) {
        pt.live = nt - g0 < 8 ? (int)(nt - g0) : 8;
        for (int l = 0; l < pt.live; l++) {
            int64_t t = g0 + l, ty = tl->ty0[t] + q->ph, tx = tl->tx0[t] + q->pw;
            pt.off[l] = tl->tn[t] * q->cout * out_plane + ty * q->ow + tx;
            pt.rows[l] = q->oh - ty < q->m ? (int)(q->oh - ty) : q->m;
            pt.cols[l] = q->ow - tx < q->m ? (int)(q->ow - tx) : q->m;
        }
        for (int64_t o = o0; o < o1; o++) {
            float sc = 1, sh = bias ? bias[o] : 0;
            if (e) sc = e->scale[o], sh = e->shift[o];
            if (q->P == 8) output8(8, mbuf + o * nt + g0, mfl, &pt, out, o * out_plane, q->ow, sc, sh, e && e->relu, add);
            else if (q->m == 4) output8(6, mbuf + o * nt + g0, mfl, &pt, out, o * out_plane, q->ow, sc, sh, e && e->relu, add);
            else output8_2(mbuf + o * nt + g0, mfl, &pt, out, o * out_plane, q->ow, sc, sh, e && e->relu, add);
        }
    }
}

/* ---- The weight gradient's transforms (AVX2), into plain layouts: v[xi][c][t] and m[xi][o][t] (t: the tile in
 * the block, rows of ld floats, xi strides vstride / mstride). */

/* The input transform of channels [c0, c1) of a block, as input_phase8 but into the plain layout. */
__attribute__((target("avx2,fma"))) static void input_plain8(const wg_problem *q, const float *in, const wg_tiles *tl,
                                                             int64_t c0, int64_t c1, float *v, int64_t ld,
                                                             int64_t vstride) {
    int64_t in_plane = q->ih * q->iw;
    wg_patches8 pt;
    for (int64_t g0 = 0; g0 < tl->nt; g0 += 8) {
        patches8(q, tl, g0, &pt);
        for (int64_t c = c0; c < c1; c++) input8_of(q, in, c * in_plane, &pt, v + c * ld + g0, vstride);
    }
}

/* A z for four 8-lane vectors -> six (A = (A^T)^T, 6 x 4) */
__attribute__((target("avx2,fma"))) static inline void a4x8(const __m256 z[4], __m256 t[6]) {
    __m256 s02 = _mm256_add_ps(z[0], z[2]), s13 = _mm256_add_ps(z[1], z[3]);
    __m256 e = _mm256_fmadd_ps(_mm256_set1_ps(4), z[2], z[0]), f = _mm256_fmadd_ps(_mm256_set1_ps(8), z[3], _mm256_mul_ps(_mm256_set1_ps(2), z[1]));
    t[0] = z[0];
    t[1] = _mm256_add_ps(s02, s13);
    t[2] = _mm256_sub_ps(s02, s13);
    t[3] = _mm256_add_ps(e, f);
    t[4] = _mm256_sub_ps(e, f);
    t[5] = z[3];
}

/* A z for four 8-lane vectors -> eight (F(4x4,5x5): A = (A^T)^T, 8 x 4) */
__attribute__((target("avx2,fma"))) static inline void a4x8_8(const __m256 z[4], __m256 t[8]) {
    __m256 s02 = _mm256_add_ps(z[0], z[2]), s13 = _mm256_add_ps(z[1], z[3]);
    __m256 e2 = _mm256_fmadd_ps(_mm256_set1_ps(4), z[2], z[0]);
    __m256 o2 = _mm256_fmadd_ps(_mm256_set1_ps(8), z[3], _mm256_mul_ps(_mm256_set1_ps(2), z[1]));
    __m256 eh = _mm256_fmadd_ps(_mm256_set1_ps(0.25f), z[2], z[0]);
    __m256 oh = _mm256_fmadd_ps(_mm256_set1_ps(0.125f), z[3], _mm256_mul_ps(_mm256_set1_ps(0.5f), z[1]));
    t[0] = z[0];
    t[1] = _mm256_add_ps(s02, s13), t[2] = _mm256_sub_ps(s02, s13);
    t[3] = _mm256_add_ps(e2, o2), t[4] = _mm256_sub_ps(e2, o2);
    t[5] = _mm256_add_ps(eh, oh), t[6] = _mm256_sub_ps(eh, oh);
    t[7] = z[3];
}

/* A z for two 8-lane vectors -> six (F(2x2,5x5): A = [1 0; 1 1; 1 -1; 1 2; 1 -2; 0 1]) */
__attribute__((target("avx2,fma"))) static inline void a2x8(__m256 z0, __m256 z1, __m256 t[6]) {
    __m256 two = _mm256_add_ps(z1, z1);
    t[0] = z0;
    t[1] = _mm256_add_ps(z0, z1);
    t[2] = _mm256_sub_ps(z0, z1);
    t[3] = _mm256_add_ps(z0, two);
    t[4] = _mm256_sub_ps(z0, two);
    t[5] = z1;
}

/* m = A dy A^T for 8 lanes of 2x2 dy tiles: lane l's tile at base + off[l], rows[l] x cols[l] of it inside dy
 * (the rest read as 0; whole: every lane 2 x 2); m[xi] stored at dst + xi * xs */
__attribute__((target("avx2,fma"))) static inline void grad_lanes8_2(const float *base, const int64_t off[8],
                                                                     const int rows[8], const int cols[8], bool whole,
                                                                     int64_t ow, float *dst, int64_t xs) {
    __m256 r[2][6], t6[6];
    if (whole) { /* each tile row one 64-bit load, the pairs split into columns across lanes */
        for (int i = 0; i < 2; i++) {
            __m128 p[4];
            for (int h = 0; h < 4; h++)
                p[h] = _mm_loadh_pi(_mm_loadl_pi(_mm_setzero_ps(), (const __m64 *)(base + off[2 * h] + i * ow)),
                                    (const __m64 *)(base + off[2 * h + 1] + i * ow));
            __m256 lo = _mm256_set_m128(p[1], p[0]), hi = _mm256_set_m128(p[3], p[2]); /* lanes 0-3, 4-7 */
            a2x8(even_lanes(lo, hi), odd_lanes(lo, hi), r[i]);                        /* dy A^T: row i */
        }
    } else { /* the lanes' values one by one */
        float v[2][2][8]; /* [row][column][lane] */
        for (int l = 0; l < 8; l++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) v[i][j][l] = i < rows[l] && j < cols[l] ? base[off[l] + i * ow + j] : 0.0f;
        for (int i = 0; i < 2; i++) a2x8(_mm256_loadu_ps(v[i][0]), _mm256_loadu_ps(v[i][1]), r[i]); /* dy A^T */
    }
    for (int j = 0; j < 6; j++) { /* A (dy A^T): column j */
        a2x8(r[0][j], r[1][j], t6);
        for (int i = 0; i < 6; i++) _mm256_storeu_ps(dst + (i * 6 + j) * xs, t6[i]);
    }
}

/* m = A dy A^T for 8 lanes of 4x4 dy tiles (P x P: F(4x4,3x3)'s 6, F(4x4,5x5)'s 8): lane l's tile at base +
 * off[l], row i read on mask[i][l] (the rest 0) and transposed into lanes; m[xi] stored at dst + xi * xs */
__attribute__((target("avx2,fma"), always_inline)) static inline void grad_lanes8_4(const int P, const float *base,
                                                                                    const int64_t off[8],
                                                                                    const __m128i mask[4][8],
                                                                                    int64_t ow, float *dst, int64_t xs) {
    __m256 r[4][8], z[4], t8[8];
    for (int i = 0; i < 4; i++) { /* row i of the 8 tiles, transposed: z[j] = column j; then r[i] = A z */
        __m256 a[4];
        for (int l = 0; l < 4; l++)
            a[l] = _mm256_set_m128(_mm_maskload_ps(base + off[l + 4] + i * ow, mask[i][l + 4]),
                                   _mm_maskload_ps(base + off[l] + i * ow, mask[i][l]));
        __m256 lo01 = _mm256_unpacklo_ps(a[0], a[1]), lo23 = _mm256_unpacklo_ps(a[2], a[3]);
        __m256 hi01 = _mm256_unpackhi_ps(a[0], a[1]), hi23 = _mm256_unpackhi_ps(a[2], a[3]);
        z[0] = _mm256_shuffle_ps(lo01, lo23, 0x44), z[1] = _mm256_shuffle_ps(lo01, lo23, 0xEE);
        z[2] = _mm256_shuffle_ps(hi01, hi23, 0x44), z[3] = _mm256_shuffle_ps(hi01, hi23, 0xEE);
        if (P == 6) a4x8(z, r[i]); /* dy A^T: row i, P columns */
        else a4x8_8(z, r[i]);
    }
    for (int j = 0; j < P; j++) { /* A (dy A^T): column j, P rows */
        for (int i = 0; i < 4; i++) z[i] = r[i][j];
        if (P == 6) a4x8(z, t8);
        else a4x8_8(z, t8);
        for (int i = 0; i < P; i++) _mm256_storeu_ps(dst + (i * P + j) * xs, t8[i]);
    }
}

/* grad_plain8 for 2x2 tiles (8 from g0; off: their origins in dy, channel 0) */
__attribute__((target("avx2,fma"))) static void grad_plain8_2(const wg_problem *q, const float *dy, const wg_tiles *tl,
                                                              int64_t g0, const int64_t off[8], int64_t o0, int64_t o1,
                                                              float *m, int64_t ld, int64_t mstride) {
    int64_t out_plane = q->oh * q->ow;
    int rows[8], cols[8];
    bool whole = true;
    for (int l = 0; l < 8; l++) {
        int64_t t = g0 + l, ty = t < tl->nt ? tl->ty0[t] + q->ph : 0, tx = t < tl->nt ? tl->tx0[t] + q->pw : 0;
        rows[l] = t < tl->nt ? (int)(q->oh - ty < 2 ? q->oh - ty : 2) : 0;
        cols[l] = (int)(q->ow - tx < 2 ? q->ow - tx : 2);
        whole &= rows[l] == 2 && cols[l] == 2;
    }
    for (int64_t o = o0; o < o1; o++)
        grad_lanes8_2(dy + o * out_plane, off, rows, cols, whole, q->ow, m + o * ld + g0, mstride);
}

/* The output-gradient transform m = A dy A^T of output channels [o0, o1) of a block: 8 tiles at a time, each
 * 4x4 tile of dy read as four rows (rows and columns past the output read as 0) and transposed into lanes. */
__attribute__((target("avx2,fma"))) static void grad_plain8(const wg_problem *q, const float *dy, const wg_tiles *tl,
                                                            int64_t o0, int64_t o1, float *m, int64_t ld,
                                                            int64_t mstride) {
    int64_t out_plane = q->oh * q->ow;
    for (int64_t g0 = 0; g0 < tl->nt; g0 += 8) {
        int64_t off[8];
        __m128i mask[4][8]; /* [row][tile] */
        for (int l = 0; l < 8; l++) {
            int64_t t = g0 + l, ty = t < tl->nt ? tl->ty0[t] + q->ph : 0, tx = t < tl->nt ? tl->tx0[t] + q->pw : 0;
            int rows = t < tl->nt ? (int)(q->oh - ty < 4 ? q->oh - ty : 4) : 0;
            int cols = (int)(q->ow - tx < 4 ? q->ow - tx : 4);
            off[l] = t < tl->nt ? tl->tn[t] * q->cout * out_plane + ty * q->ow + tx : 0;
            for (int i = 0; i < 4; i++)
                mask[i][l] = _mm_setr_epi32(i < rows && cols > 0 ? -1 : 0, i < rows && cols > 1 ? -1 : 0,
                                            i < rows && cols > 2 ? -1 : 0, i < rows && cols > 3 ? -1 : 0);
        }
        if (q->m == 2) {
            grad_plain8_2(q, dy, tl, g0, off, o0, o1, m, ld, mstride);
            continue;
        }
        for (int64_t o = o0; o < o1; o++) grad_lanes8_4(6, dy + o * out_plane, off, mask, q->ow, m + o * ld + g0, mstride);
    }
}

/* ---- The weight gradient with channels in lanes (few channel pairs, below): for one tile, the input transform
 * of 8 input channels at a time into v[xi][c] and the dy transform of 8 output channels at a time into m[xi][o]
 * (xi strides vstride / mstride; the caller points v and m at the tile's row). Lanes past C_in read nothing and
 * give 0; lanes past C_out are written but never read. (n, y0, x0): the tile's sample and input origin. */
__attribute__((target("avx2,fma"))) static void tile_channels8(const wg_problem *q, const float *x, const float *dy,
                                                               int64_t n, int64_t y0, int64_t x0, float *v,
                                                               int64_t vstride, float *m, int64_t mstride) {
    int64_t in_plane = q->ih * q->iw, out_plane = q->oh * q->ow;
    wg_patches8 full, tail;
    full.min_off = 0;
    const int P = q->P;
    for (int i = 0; i < P; i++)
        for (int h = 0; h < 2; h++) {
            __m128i mask;
            int64_t base = patch_piece(q, n, y0, x0, i, h, &mask);
            bool any = _mm_movemask_ps(_mm_castsi128_ps(mask)) != 0;
            if (base < full.min_off) full.min_off = base;
            for (int l = 0; l < 8; l++) {
                full.off[i][h][l] = any ? base + l * in_plane : 0;
                full.mask[i][h][l] = mask;
            }
        }
    for (int64_t c0 = 0; c0 < q->cin; c0 += 8) {
        const wg_patches8 *pt = &full;
        if (c0 + 8 > q->cin) { /* the last channels: lanes past C_in masked off */
            tail = full;
            for (int i = 0; i < P; i++)
                for (int h = 0; h < 2; h++)
                    for (int64_t l = q->cin - c0; l < 8; l++) tail.off[i][h][l] = 0, tail.mask[i][h][l] = _mm_setzero_si128();
            pt = &tail;
        }
        input8_of(q, x, c0 * in_plane, pt, v + c0, vstride);
    }
    int64_t oy = y0 + q->ph, ox = x0 + q->pw;
    int rows = (int)(q->oh - oy < q->m ? q->oh - oy : q->m), cols = (int)(q->ow - ox < q->m ? q->ow - ox : q->m);
    for (int64_t o0 = 0; o0 < q->cout; o0 += 8) {
        int live = q->cout - o0 < 8 ? (int)(q->cout - o0) : 8;
        int64_t off[8];
        for (int l = 0; l < 8; l++) off[l] = l < live ? ((n * q->cout + o0 + l) * q->oh + oy) * q->ow + ox : 0;
        (void)out_plane;
        if (q->m == 2) {
            int rw[8], cl[8];
            for (int l = 0; l < 8; l++) rw[l] = l < live ? rows : 0, cl[l] = cols;
            grad_lanes8_2(dy, off, rw, cl, live == 8 && rows == 2 && cols == 2, q->ow, m + o0, mstride);
        } else {
            __m128i mask[4][8];
            for (int i = 0; i < 4; i++)
                for (int l = 0; l < 8; l++)
                    mask[i][l] = l < live && i < rows ? _mm_setr_epi32(cols > 0 ? -1 : 0, cols > 1 ? -1 : 0,
                                                                       cols > 2 ? -1 : 0, cols > 3 ? -1 : 0)
                                                      : _mm_setzero_si128();
            if (q->P == 8) grad_lanes8_4(8, dy, off, mask, q->ow, m + o0, mstride);
            else grad_lanes8_4(6, dy, off, mask, q->ow, m + o0, mstride);
        }
    }
}

/* du[o][c] (rows of ldc floats) += sum over t < nt of m[t][o] v[t][c] for o < MO, the 8 NV channels: M's values
 * broadcast, V's rows loaded whole, MO x NV accumulators over the block's tiles (no horizontal sums). Named
 * accumulators, not an array: GCC 12 stored an array's every element back to the stack on each step. */
#define OT_FMA(i)                                                                                              \
    if (MO > i) {                                                                                              \
        __m256 a = _mm256_broadcast_ss(m + t * ldo + i);                                                       \
        acc##i##0 = _mm256_fmadd_ps(a, b0, acc##i##0);                                                         \
        if (NV > 1) acc##i##1 = _mm256_fmadd_ps(a, b1, acc##i##1);                                             \
        if (NV > 2) acc##i##2 = _mm256_fmadd_ps(a, b2, acc##i##2);                                             \
    }
#define OT_ADD(i, j, acc)                                                                                      \
    if (MO > i && NV > j) _mm256_storeu_ps(du + i * ldc + 8 * j, _mm256_add_ps(_mm256_loadu_ps(du + i * ldc + 8 * j), acc));
__attribute__((target("avx2,fma"), always_inline)) static inline void outer_tile(const int MO, const int NV, int64_t nt,
                                                                                 const float *m, int64_t ldo,
                                                                                 const float *v, int64_t ldc,
                                                                                 float *du) {
    __m256 z = _mm256_setzero_ps();
    __m256 acc00 = z, acc01 = z, acc02 = z, acc10 = z, acc11 = z, acc12 = z, acc20 = z, acc21 = z, acc22 = z;
    __m256 acc30 = z, acc31 = z, acc32 = z;
    for (int64_t t = 0; t < nt; t++) {
        __m256 b0 = _mm256_loadu_ps(v + t * ldc), b1 = z, b2 = z;
        if (NV > 1) b1 = _mm256_loadu_ps(v + t * ldc + 8);
        if (NV > 2) b2 = _mm256_loadu_ps(v + t * ldc + 16);
        OT_FMA(0) OT_FMA(1) OT_FMA(2) OT_FMA(3)
    }
    OT_ADD(0, 0, acc00) OT_ADD(0, 1, acc01) OT_ADD(0, 2, acc02) OT_ADD(1, 0, acc10) OT_ADD(1, 1, acc11)
    OT_ADD(1, 2, acc12) OT_ADD(2, 0, acc20) OT_ADD(2, 1, acc21) OT_ADD(2, 2, acc22) OT_ADD(3, 0, acc30)
    OT_ADD(3, 1, acc31) OT_ADD(3, 2, acc32)
}
#undef OT_FMA
#undef OT_ADD

#define OUTER_CASE(MO, NV)                                                                                     \
    case (MO) * 4 + (NV): outer_tile(MO, NV, nt, m, ldo, v, ldc, du); return;
__attribute__((target("avx2,fma"))) static void outer_run(int mo, int nv, int64_t nt, const float *m, int64_t ldo,
                                                         const float *v, int64_t ldc, float *du) {
    switch (mo * 4 + nv) {
        OUTER_CASE(1, 1) OUTER_CASE(1, 2) OUTER_CASE(1, 3) OUTER_CASE(2, 1) OUTER_CASE(2, 2) OUTER_CASE(2, 3)
        OUTER_CASE(3, 1) OUTER_CASE(3, 2) OUTER_CASE(3, 3) OUTER_CASE(4, 1) OUTER_CASE(4, 2) OUTER_CASE(4, 3)
    default: return;
    }
}
#undef OUTER_CASE

/* du (cout x ldc) += m^T v over nt tiles: m (nt x ldo), v (nt x ldc, ldc = 8 nvec) */
static void outer_products(int64_t cout, int64_t nvec, int64_t nt, const float *m, int64_t ldo, const float *v,
                           int64_t ldc, float *du) {
    for (int64_t o = 0; o < cout; o += 4)
        for (int64_t j = 0; j < nvec; j += 3)
            outer_run((int)(cout - o < 4 ? cout - o : 4), (int)(nvec - j < 3 ? nvec - j : 3), nt, m + o, ldo,
                      v + 8 * j, ldc, du + o * ldc + 8 * j);
}
#endif

static void block_tiles(const wg_problem *q, int64_t t0, int64_t nt, wg_tiles *tl) {
    int64_t tw = (q->ow + q->m - 1) / q->m, per_sample = ((q->oh + q->m - 1) / q->m) * tw;
    tl->nt = nt;
    for (int64_t t = 0; t < nt; t++) {
        int64_t g = t0 + t;
        tl->tn[t] = g / per_sample, tl->ty0[t] = g % per_sample / tw * q->m - q->ph;
        tl->tx0[t] = g % per_sample % tw * q->m - q->pw;
    }
}

/* Input transform of channels [c0, c1) of a block, written straight into packed-B order: element (c, t) of
 * V[xi]; channel-major so that consecutive tiles fill consecutive panel columns (36 sequential streams). */
static void input_phase(const wg_problem *q, const cn_real *in, const wg_tiles *tl, int64_t c0, int64_t c1,
                        wg_simd simd, cn_real *vpack) {
    cn_gemm_blocks blk = cn_gemm_blocking();
#ifndef CN_REAL_IS_DOUBLE
    if (simd == WG_AVX512 && blk.nr % 16 == 0) {
        input_phase16(q, in, tl, c0, c1, vpack);
        return;
    }
    if (simd == WG_AVX2 && blk.nr % 8 == 0) {
        input_phase8(q, in, tl, c0, c1, vpack);
        return;
    }
#else
    CN_UNUSED(simd);
#endif
    int64_t nt = tl->nt, npanels = (nt + blk.nr - 1) / blk.nr, vfl = (int64_t)v_floats(q);
    for (int64_t c = c0; c < c1; c++) {
        int64_t p0 = c / blk.kc * blk.kc, kcb = q->cin - p0 < blk.kc ? q->cin - p0 : blk.kc;
        cn_real *vc = vpack + p0 * npanels * blk.nr + (c - p0) * blk.nr;
        for (int64_t t = 0; t < npanels * blk.nr; t++) {
            cn_real d[36], v[36];
            if (t < nt) {
                const cn_real *plane = in + (tl->tn[t] * q->cin + c) * q->ih * q->iw;
                int64_t y0 = tl->ty0[t], x0 = tl->tx0[t];
                if (y0 >= 0 && y0 + 6 <= q->ih && x0 >= 0 && x0 + 6 <= q->iw) {
                    for (int i = 0; i < 6; i++)
                        for (int j = 0; j < 6; j++) d[i * 6 + j] = plane[(y0 + i) * q->iw + x0 + j];
                } else {
                    for (int i = 0; i < 6; i++) {
                        int64_t yy = y0 + i;
                        for (int j = 0; j < 6; j++) {
                            int64_t xx = x0 + j;
                            d[i * 6 + j] = yy >= 0 && yy < q->ih && xx >= 0 && xx < q->iw ? plane[yy * q->iw + xx] : 0;
                        }
                    }
                }
                transform_input(d, v);
            } else {
                for (int i = 0; i < 36; i++) v[i] = 0;
            }
            cn_real *dst = vc + (t / blk.nr) * blk.nr * kcb + t % blk.nr;
            for (int xi = 0; xi < 36; xi++) dst[xi * vfl] = v[xi];
        }
    }
}

/* M[xi] = U[xi] V[xi] for xi in [x0, x1) */
static void gemm_phase(const wg_problem *q, const cn_real *upack, int64_t nt, int x0, int x1, const cn_real *vpack,
                       cn_real *mbuf) {
    int64_t vfl = (int64_t)v_floats(q), mfl = (int64_t)m_floats(q), mr = cn_gemm_blocking().mr;
    int64_t rows = (q->cout + mr - 1) / mr * mr; /* whole register tiles: rows past C_out are 0 and not read */
    for (int xi = x0; xi < x1; xi++)
        cn_gemm_packed(rows, nt, q->cin, 1, upack + xi * u_floats(q), vpack + xi * vfl, 0, mbuf + xi * mfl, nt);
}

/* Output transform of output channels [o0, o1): out (+)= A^T M A (+ bias, or the fused epilogue). */
static void output_phase(const wg_problem *q, const cn_real *bias, const cn_conv_epilogue *e, bool add,
                         const wg_tiles *tl, int64_t o0, int64_t o1, wg_simd simd, const cn_real *mbuf, cn_real *out) {
#ifndef CN_REAL_IS_DOUBLE
    if (simd == WG_AVX512 && q->m == 4) { /* 2x2 tiles: the scalar transform below */
        output_phase16(q, bias, e, add, tl, o0, o1, mbuf, out);
        return;
    }
    if (simd == WG_AVX2) {
        output_phase8(q, bias, e, add, tl, o0, o1, mbuf, out);
        return;
    }
#else
    CN_UNUSED(simd);
#endif
    int64_t nt = tl->nt, mfl = (int64_t)m_floats(q);
    for (int64_t o = o0; o < o1; o++)
        for (int64_t t = 0; t < nt; t++) {
            cn_real m[36], yv[16];
            const int M = q->m;
            for (int xi = 0; xi < 36; xi++) m[xi] = mbuf[xi * mfl + o * nt + t];
            if (M == 4) transform_output(m, yv);
            else transform_output2(m, yv);
            int64_t ty = (tl->ty0[t] + q->ph) / M, tx = (tl->tx0[t] + q->pw) / M;
            cn_real *plane = out + (tl->tn[t] * q->cout + o) * q->oh * q->ow, b = bias ? bias[o] : 0, sc = 1;
            if (e) sc = e->scale[o], b = e->shift[o];
            for (int i = 0; i < M && ty * M + i < q->oh; i++)
                for (int j = 0; j < M && tx * M + j < q->ow; j++) {
                    cn_real *dst = plane + (ty * M + i) * q->ow + tx * M + j, v = sc * yv[i * M + j] + b;
                    if (e && e->relu) v = v > 0 ? v : 0;
                    *dst = add ? *dst + yv[i * M + j] : v;
                }
        }
}

/* prepared: U already transformed (forward with p->prepared), or NULL: transformed into `work` now */
static void run_problem(const cn_conv_geom *p, const wg_problem *q, const cn_real *in, const cn_real *w,
                        bool flipped, const cn_real *prepared, const cn_real *bias, const cn_conv_epilogue *e,
                        bool add, cn_real *out, void *work) {
    int threads = p->threads > 1 ? p->threads : 1;
    int64_t tiles = tiles_of(q), blocks = (tiles + WG_TILE_BLOCK - 1) / WG_TILE_BLOCK;
    const cn_real *upack = prepared ? prepared : work;
    /* the 16-lane transforms: AVX-512 kernels, offsets that fit 32 bits; the 8-lane ones: AVX2 kernels */
    wg_simd simd = WG_SCALAR;
    if (strcmp(cn_kernels_isa(), "avx512") == 0 && q->batch * q->cin * q->ih * q->iw < INT32_MAX &&
        q->batch * q->cout * q->oh * q->ow < INT32_MAX)
        simd = WG_AVX512;
    else if (strcmp(cn_kernels_isa(), "avx2") == 0)
        simd = WG_AVX2;
    size_t shared = cn_conv_winograd_shared_bytes(p), per_thread = cn_conv_winograd_thread_bytes(p);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        cn_real *mine = (cn_real *)((char *)work + shared + (size_t)omp_get_thread_num() * per_thread);
        if (!prepared) transform_weights(q, w, flipped, work); /* ends with the team's barrier */
        cn_real *vpack = mine, *mbuf = mine + xis(q) * v_floats(q);
        wg_tiles tl;
        if (blocks >= threads) { /* each thread its own equal range of tiles, in blocks of at most WG_TILE_BLOCK:
                                  * whole blocks dealt out would give batch-1 56x56 (196 tiles, 4 blocks) 128 tiles
                                  * to one thread and 68 to the other. A tile's result does not depend on the block
                                  * it is computed in (each is a column of the block's GEMMs). */
            int t = omp_get_thread_num(), nth = omp_get_num_threads();
            int64_t end = tiles * (t + 1) / nth;
            for (int64_t t0 = tiles * t / nth; t0 < end; t0 += WG_TILE_BLOCK) {
                int64_t nt = end - t0 < WG_TILE_BLOCK ? end - t0 : WG_TILE_BLOCK;
                block_tiles(q, t0, nt, &tl);
                input_phase(q, in, &tl, 0, q->cin, simd, vpack);
                gemm_phase(q, upack, nt, 0, xis(q), vpack, mbuf);
                output_phase(q, bias, e, add, &tl, 0, q->cout, simd, mbuf, out);
            }
        } else { /* fewer blocks than threads (small batch-1 layers): the team shares each block, phase by phase
                  * (input channels, then the 36 GEMMs, then output channels), in thread 0's buffers */
            cn_real *sv = (cn_real *)((char *)work + shared), *sm = sv + xis(q) * v_floats(q);
            for (int64_t blk = 0; blk < blocks; blk++) {
                int64_t t0 = blk * WG_TILE_BLOCK, nt = tiles - t0 < WG_TILE_BLOCK ? tiles - t0 : WG_TILE_BLOCK;
                block_tiles(q, t0, nt, &tl);
                int t = omp_get_thread_num(), nth = omp_get_num_threads();
                input_phase(q, in, &tl, q->cin * t / nth, q->cin * (t + 1) / nth, simd, sv);
#pragma omp barrier
                gemm_phase(q, upack, nt, xis(q) * t / nth, xis(q) * (t + 1) / nth, sv, sm);
#pragma omp barrier
                output_phase(q, bias, e, add, &tl, q->cout * t / nth, q->cout * (t + 1) / nth, simd, sm, out);
#pragma omp barrier
            }
        }
    }
}


/* ---- The weight gradient (AVX2 kernels). For one filter g (output o, input c) and one tile, the forward is
 * y = A^T [(G g G^T) ⊙ (B^T d B)] A, so
 *   dw[o][c] = G^T [ sum over tiles (A dy A^T) ⊙ (B^T d B) ] G,
 * one GEMM per xi of the 6x6 domain: dU[xi] (C_out x C_in) += M[xi] (C_out x tiles) V[xi]^T (tiles x C_in), then
 * the 6x6 -> 3x3 transform per filter: 36 GEMMs with the tiles as depth instead of one with 9x the input channels
 * as depth (2.25 multiplies per output position and filter instead of 9). Two schemes:
 * - up to 128 x 128 channel pairs, channels in lanes: each thread takes its own range of tiles in blocks of 32
 *   (V and M within L2), transforms a tile's 8 input (output) channels per vector into V[xi][t][c] (M[xi][t][o])
 *   and adds dU[xi] += M[xi]^T V[xi] as outer products over the block's tiles (M's values broadcast, V's rows
 *   loaded whole: no packing, no horizontal sums) into its own dU; the threads' dU are added in thread order.
 *   Against the scheme below (batch 32, two threads, ms for the backward): 16@32x32 (batch 64) 2.3-2.5 ->
 *   1.5-1.8, 64@56x56 24.5-31 -> 20.4-20.8, 128@28x28 19-21.5 -> 17-18; with 256 channels 19-20 -> 35-37 (each
 *   thread's 9.4 MB dU goes through L3 on every block), so those stay below.
 * - more pairs: tiles go in blocks (V and M of a block within 8 MB); per block the team transforms the input
 *   (channels split) and dy (output channels split), then each thread runs the GEMMs of its own xi, so dU[xi]
 *   sums the blocks in the same order for any thread count.
 * dy outside the output is zero, padding is the forward's. Against im2col + GEMM (batch 32, two threads, Zen 3,
 * ms): 64@56x56 62-74 -> 34-42, 128@28x28 68-75 -> 24-27, 256@14x14 56-58 -> 29-34, 512@7x7 56-67 -> 37-42;
 * ResNet-50 training step (batch 16): the 13 Winograd layers' backward 700 -> 420 ms. Error against the
 * reference on the test cases: 1-4e-6 relative (the forward's: 1-7e-6). */
enum { WG_WGRAD_BYTES = 8 << 20, WG_WGRAD_MAX_BLOCK = 512 };

typedef struct {
    int64_t tb, ld, vstride, mstride; /* tiles per block; floats per row, per xi of V and of M */
    size_t du, v, m, gemm;            /* floats of dU, V, M; bytes of one thread's GEMM workspace */
    int64_t ldc, ldo;                 /* channels in lanes: floats per tile row of V and M (C_in, C_out to 8) */
    size_t dut;                       /* channels in lanes: floats of one thread's dU (rows of ldc) */
} wg_wgrad_layout;

enum { WG_LANES_BLOCK = 32 }; /* tiles per block with channels in lanes: V and M (LeNet's conv2: 373 KB) in L2 */

static wg_wgrad_layout wgrad_layout(const cn_conv_geom *p) {
    wg_wgrad_layout L = {0};
    int64_t cin = p->in_channels, cout = p->out_channels;
    wg_problem q = wgrad_problem(p);
    int64_t tiles = tiles_of(&q), nxi = xis(&q);
    L.du = align64f((size_t)(nxi * cout * cin));
    if (cn_conv_winograd_wgrad_lanes(p)) { /* per thread: its own dU, V and M of WG_LANES_BLOCK tiles */
        L.tb = WG_LANES_BLOCK, L.ldc = (cin + 7) / 8 * 8, L.ldo = (cout + 7) / 8 * 8;
        L.vstride = (int64_t)align64f((size_t)(L.tb * L.ldc)) + 16, L.mstride = (int64_t)align64f((size_t)(L.tb * L.ldo)) + 16;
        L.dut = align64f((size_t)(nxi * cout * L.ldc)), L.v = (size_t)(nxi * L.vstride), L.m = (size_t)(nxi * L.mstride);
        return L;
    }
    L.tb = (int64_t)WG_WGRAD_BYTES / (36 * (int64_t)sizeof(cn_real) * (cin + cout)) / 8 * 8;
    if (L.tb > WG_WGRAD_MAX_BLOCK) L.tb = WG_WGRAD_MAX_BLOCK;
    if (L.tb < 16) L.tb = 16;
    if (L.tb > (tiles + 7) / 8 * 8) L.tb = (tiles + 7) / 8 * 8;
    L.ld = L.tb;
    L.vstride = (int64_t)align64f((size_t)(cin * L.ld)) + 16, L.mstride = (int64_t)align64f((size_t)(cout * L.ld)) + 16;
    L.v = (size_t)(36 * L.vstride), L.m = (size_t)(36 * L.mstride);
    L.gemm = (cn_gemm_workspace(cout, cin, L.tb) + 63) / 64 * 64; /* GEMM panels */
    return L;
}

bool cn_conv_winograd_wgrad_applies(const cn_conv_geom *p) {
#ifdef CN_REAL_IS_DOUBLE
    (void)p;
    return false;
#else
    return cn_conv_winograd_applies(p) && strcmp(cn_kernels_isa(), "avx2") == 0;
#endif
}

bool cn_conv_winograd_wgrad_lanes(const cn_conv_geom *p) { return p->out_channels * p->in_channels <= WG_LANES_PAIRS; }

size_t cn_conv_winograd_wgrad_bytes(const cn_conv_geom *p) {
    wg_wgrad_layout L = wgrad_layout(p);
    int threads = p->threads > 1 ? p->threads : 1;
    if (cn_conv_winograd_wgrad_lanes(p)) return (L.du + (size_t)threads * (L.dut + L.v + L.m)) * sizeof(cn_real);
    return (L.du + L.v + L.m) * sizeof(cn_real) + (size_t)threads * L.gemm;
}

#ifndef CN_REAL_IS_DOUBLE
/* dw[o][c] += G^T D G for the 6x6 D = dU[.][o][c] (xi stride `stride`) */
static void transform_filter_grad(const cn_real *d, int64_t stride, cn_real *dw) {
    static const double G[6][3] = {{1.0 / 4, 0, 0},          {-1.0 / 6, -1.0 / 6, -1.0 / 6}, {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                   {1.0 / 24, 1.0 / 12, 1.0 / 6}, {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
    double t[6][3] = {{0}}; /* D G */
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++) {
            double v = (double)d[(i * 6 + j) * stride];
            for (int b = 0; b < 3; b++) t[i][b] += v * G[j][b];
        }
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            double acc = 0;
            for (int i = 0; i < 6; i++) acc += G[i][a] * t[i][b];
            dw[a * 3 + b] += (cn_real)acc;
        }
}
#endif

#ifndef CN_REAL_IS_DOUBLE
/* dw[o][c] += G^T D G (5x5) for the P x P D = dU[.][o][c]; G: P x 5 (G5 or G8) */
static void transform_filter_grad5(const double *G, int P, const cn_real *d, int64_t stride, cn_real *dw) {
    double t[8][5] = {{0}}; /* D G */
    for (int i = 0; i < P; i++)
        for (int j = 0; j < P; j++) {
            double v = (double)d[(i * P + j) * stride];
            for (int b = 0; b < 5; b++) t[i][b] += v * G[j * 5 + b];
        }
    for (int a = 0; a < 5; a++)
        for (int b = 0; b < 5; b++) {
            double acc = 0;
            for (int i = 0; i < P; i++) acc += G[i * 5 + a] * t[i][b];
            dw[a * 5 + b] += (cn_real)acc;
        }
}

/* G8^T d for eight 8-lane vectors -> five */
__attribute__((target("avx2,fma"), always_inline)) static inline void gt8x8_5(const __m256 d[8], __m256 o[5]) {
    const __m256 m29 = _mm256_set1_ps(-2.0f / 9);
    __m256 s12 = _mm256_mul_ps(_mm256_add_ps(d[1], d[2]), m29), d12 = _mm256_mul_ps(_mm256_sub_ps(d[1], d[2]), m29);
    __m256 s34 = _mm256_add_ps(d[3], d[4]), d34 = _mm256_sub_ps(d[3], d[4]);
    __m256 s56 = _mm256_add_ps(d[5], d[6]), d56 = _mm256_sub_ps(d[5], d[6]);
    o[0] = _mm256_add_ps(_mm256_add_ps(d[0], s12), _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 90), s34,
                                                                   _mm256_mul_ps(_mm256_set1_ps(32.0f / 45), s56)));
    o[1] = _mm256_add_ps(d12, _mm256_fmadd_ps(_mm256_set1_ps(1.0f / 45), d34, _mm256_mul_ps(_mm256_set1_ps(16.0f / 45), d56)));
    o[2] = _mm256_add_ps(s12, _mm256_fmadd_ps(_mm256_set1_ps(2.0f / 45), s34, _mm256_mul_ps(_mm256_set1_ps(8.0f / 45), s56)));
    o[3] = _mm256_add_ps(d12, _mm256_mul_ps(_mm256_set1_ps(4.0f / 45), _mm256_add_ps(d34, d56)));
    o[4] = _mm256_add_ps(_mm256_add_ps(s12, d[7]),
                         _mm256_fmadd_ps(_mm256_set1_ps(8.0f / 45), s34, _mm256_mul_ps(_mm256_set1_ps(2.0f / 45), s56)));
}

/* transform_filter_grad5 (G8) for 8 filters (one per lane), in float */
__attribute__((target("avx2,fma"))) static void transform_filter_grad8_8(const float *d, int64_t stride, float *dw) {
    __m256 m[64], t[8][5], col[8], r[5];
    for (int xi = 0; xi < 64; xi++) m[xi] = _mm256_loadu_ps(d + xi * stride);
    for (int i = 0; i < 8; i++) gt8x8_5(m + i * 8, t[i]); /* D G: row i -> 5 */
    float out[25][8];
    for (int b = 0; b < 5; b++) { /* G^T (D G): column b -> 5 */
        for (int i = 0; i < 8; i++) col[i] = t[i][b];
        gt8x8_5(col, r);
        for (int a = 0; a < 5; a++) _mm256_storeu_ps(out[a * 5 + b], r[a]);
    }
    for (int l = 0; l < 8; l++)
        for (int k = 0; k < 25; k++) dw[l * 25 + k] += out[k][l];
}

/* G5^T d for six 8-lane vectors -> five */
__attribute__((target("avx2,fma"), always_inline)) static inline void gt6x8_5(const __m256 d[6], __m256 o[5]) {
    const __m256 q4 = _mm256_set1_ps(1.0f / 4), q6 = _mm256_set1_ps(1.0f / 6), q12 = _mm256_set1_ps(1.0f / 12);
    const __m256 q24 = _mm256_set1_ps(1.0f / 24), q3 = _mm256_set1_ps(1.0f / 3), q23 = _mm256_set1_ps(2.0f / 3);
    __m256 s12 = _mm256_mul_ps(_mm256_add_ps(d[1], d[2]), q6), d21 = _mm256_mul_ps(_mm256_sub_ps(d[2], d[1]), q6);
    __m256 s34 = _mm256_add_ps(d[3], d[4]), d34 = _mm256_sub_ps(d[3], d[4]);
    o[0] = _mm256_fmadd_ps(d[0], q4, _mm256_fmsub_ps(s34, q24, s12));
    o[1] = _mm256_fmadd_ps(d34, q12, d21);
    o[2] = _mm256_fmsub_ps(s34, q6, s12);
    o[3] = _mm256_fmadd_ps(d34, q3, d21);
    o[4] = _mm256_add_ps(_mm256_fmsub_ps(s34, q23, s12), d[5]);
}

/* transform_filter_grad5 (G5) for 8 filters (one per lane), in float */
__attribute__((target("avx2,fma"))) static void transform_filter_grad8_5(const float *d, int64_t stride, float *dw) {
    __m256 m[36], t[6][5], col[6], r[5];
    for (int xi = 0; xi < 36; xi++) m[xi] = _mm256_loadu_ps(d + xi * stride);
    for (int i = 0; i < 6; i++) gt6x8_5(m + i * 6, t[i]); /* D G: row i -> 5 */
    float out[25][8];
    for (int b = 0; b < 5; b++) { /* G^T (D G): column b -> 5 */
        for (int i = 0; i < 6; i++) col[i] = t[i][b];
        gt6x8_5(col, r);
        for (int a = 0; a < 5; a++) _mm256_storeu_ps(out[a * 5 + b], r[a]);
    }
    for (int l = 0; l < 8; l++)
        for (int k = 0; k < 25; k++) dw[l * 25 + k] += out[k][l];
}

/* G^T d for six 8-lane vectors -> three (d: a column or a row of 6x6 matrices, one per lane) */
__attribute__((target("avx2,fma"), always_inline)) static inline void gt6x8(const __m256 d[6], __m256 o[3]) {
    const __m256 q4 = _mm256_set1_ps(1.0f / 4), q6 = _mm256_set1_ps(1.0f / 6), q12 = _mm256_set1_ps(1.0f / 12);
    const __m256 q24 = _mm256_set1_ps(1.0f / 24);
    __m256 s12 = _mm256_add_ps(d[1], d[2]), s34 = _mm256_add_ps(d[3], d[4]);
    o[0] = _mm256_fmadd_ps(d[0], q4, _mm256_fmadd_ps(s34, q24, _mm256_mul_ps(s12, _mm256_sub_ps(_mm256_setzero_ps(), q6))));
    o[1] = _mm256_fmadd_ps(_mm256_sub_ps(d[2], d[1]), q6, _mm256_mul_ps(_mm256_sub_ps(d[3], d[4]), q12));
    o[2] = _mm256_fmadd_ps(_mm256_sub_ps(s34, s12), q6, d[5]);
}

/* transform_filter_grad for the 8 filters oc .. oc + 7 (one per lane: dU[xi] is contiguous over them), in float
 * (512 x 512 filters, batch 2, where this and the transforms are most of the pass: 19.5 -> 7 ms) */
__attribute__((target("avx2,fma"))) static void transform_filter_grad8(const float *d, int64_t stride, float *dw) {
    __m256 m[36], t[6][3], col[6], r[3];
    for (int xi = 0; xi < 36; xi++) m[xi] = _mm256_loadu_ps(d + xi * stride);
    for (int i = 0; i < 6; i++) gt6x8(m + i * 6, t[i]); /* D G: row i -> 3 */
    float out[9][8];
    for (int b = 0; b < 3; b++) { /* G^T (D G): column b -> 3 */
        for (int i = 0; i < 6; i++) col[i] = t[i][b];
        gt6x8(col, r);
        for (int a = 0; a < 3; a++) _mm256_storeu_ps(out[a * 3 + b], r[a]);
    }
    for (int l = 0; l < 8; l++)
        for (int k = 0; k < 9; k++) dw[l * 9 + k] += out[k][l];
}
#endif

#ifndef CN_REAL_IS_DOUBLE
#endif

#ifndef CN_REAL_IS_DOUBLE
/* dw = G^T dU G for every filter (one omp for over the calling team), dU[xi] (cout x cin), P x P xi */
static void filter_grads(const float *du, int64_t pairs, int taps, int P, float *dw) {
#pragma omp for schedule(static)
    for (int64_t oc8 = 0; oc8 < (pairs + 7) / 8; oc8++) {
        int64_t oc = oc8 * 8;
        if (oc + 8 <= pairs && taps == 9) transform_filter_grad8(du + oc, pairs, dw + oc * 9);
        else if (oc + 8 <= pairs && P == 8) transform_filter_grad8_8(du + oc, pairs, dw + oc * 25);
        else if (oc + 8 <= pairs) transform_filter_grad8_5(du + oc, pairs, dw + oc * 25);
        else
            for (; oc < pairs; oc++) {
                if (taps == 9) transform_filter_grad(du + oc, pairs, dw + oc * 9);
                else transform_filter_grad5(P == 8 ? G8[0] : G5[0], P, du + oc, pairs, dw + oc * 25);
            }
    }
}
#endif

void cn_conv_backward_weights_winograd(const cn_conv_geom *p, const cn_real *x, const cn_real *dy, cn_real *dw,
                                       void *work) {
#ifdef CN_REAL_IS_DOUBLE
    (void)p, (void)x, (void)dy, (void)dw, (void)work;
#else
    wg_problem q = wgrad_problem(p);
    wg_wgrad_layout L = wgrad_layout(p);
    int64_t cin = q.cin, cout = q.cout, tiles = tiles_of(&q);
    int taps = q.r * q.r, nxi = xis(&q);
    cn_real *du = work;
    int threads = p->threads > 1 ? p->threads : 1;
    if (cn_conv_winograd_wgrad_lanes(p)) {
        /* Few channel pairs: each thread its own range of tiles, in blocks small enough for L2, transformed with
         * channels in lanes (V[xi][t][c], M[xi][t][o]) so that dU[xi] += M[xi]^T V[xi] is a sum of outer
         * products over the block's tiles with no horizontal sums, into the thread's own dU; the threads' dU are
         * added in thread order at the end (the same thread count gives the same bits). No barrier per block. */
        size_t per_thread = L.dut + L.v + L.m;
#pragma omp parallel num_threads(threads) if (threads > 1)
        {
            int t = omp_get_thread_num(), nth = omp_get_num_threads();
            cn_real *mine = du + L.du + (size_t)t * per_thread, *v = mine + L.dut, *m = v + L.v;
            memset(mine, 0, (size_t)(nxi * cout * L.ldc) * sizeof(cn_real));
            wg_tiles tl;
            int64_t end = tiles * (t + 1) / nth;
            for (int64_t t0 = tiles * t / nth; t0 < end; t0 += L.tb) {
                int64_t nt = end - t0 < L.tb ? end - t0 : L.tb;
                block_tiles(&q, t0, nt, &tl);
                for (int64_t k = 0; k < nt; k++)
                    tile_channels8(&q, x, dy, tl.tn[k], tl.ty0[k], tl.tx0[k], v + k * L.ldc, L.vstride,
                                   m + k * L.ldo, L.mstride);
                for (int xi = 0; xi < nxi; xi++)
                    outer_products(cout, L.ldc / 8, nt, m + xi * L.mstride, L.ldo, v + xi * L.vstride, L.ldc,
                                   mine + xi * cout * L.ldc);
            }
#pragma omp barrier
#pragma omp for schedule(static)
            for (int64_t r = 0; r < nxi * cout; r++)
                for (int64_t c = 0; c < cin; c++) {
                    float sum = 0;
                    for (int k = 0; k < nth; k++) sum += du[L.du + (size_t)k * per_thread + (size_t)(r * L.ldc + c)];
                    du[r * cin + c] = sum;
                }
            filter_grads(du, cout * cin, taps, q.P, dw);
        }
        return;
    }
    cn_real *v = du + L.du, *m = v + L.v;
    char *gws = (char *)(m + L.m);
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
        int t = omp_get_thread_num(), nth = omp_get_num_threads();
        int x0 = 36 * t / nth, x1 = 36 * (t + 1) / nth;
        memset(du + x0 * cout * cin, 0, (size_t)((x1 - x0) * cout * cin) * sizeof(cn_real));
        wg_tiles tl;
        for (int64_t t0 = 0; t0 < tiles; t0 += L.tb) {
            int64_t nt = tiles - t0 < L.tb ? tiles - t0 : L.tb;
            for (int64_t s0 = 0; s0 < nt; s0 += WG_TILE_BLOCK) { /* the transforms, 64 tiles at a time */
                block_tiles(&q, t0 + s0, nt - s0 < WG_TILE_BLOCK ? nt - s0 : WG_TILE_BLOCK, &tl);
                input_plain8(&q, x, &tl, cin * t / nth, cin * (t + 1) / nth, v + s0, L.ld, L.vstride);
                grad_plain8(&q, dy, &tl, cout * t / nth, cout * (t + 1) / nth, m + s0, L.ld, L.mstride);
            }
#pragma omp barrier
            for (int xi = x0; xi < x1; xi++)
                cn_gemm(false, true, cout, cin, nt, 1, m + xi * L.mstride, L.ld, v + xi * L.vstride, L.ld, 1,
                        du + xi * cout * cin, cin, gws + (size_t)t * L.gemm);
#pragma omp barrier
        }
        filter_grads(du, cout * cin, taps, 6, dw);
    }
#endif
}

size_t cn_conv_winograd_prepared_bytes(const cn_conv_geom *p) {
    wg_problem q = forward_problem(p);
    return problem_shared(&q);
}

void cn_conv_winograd_prepare(const cn_conv_geom *p, const cn_real *w, cn_real *out) {
    wg_problem q = forward_problem(p);
    int threads = p->threads > 1 ? p->threads : 1;
#pragma omp parallel num_threads(threads) if (threads > 1)
    transform_weights(&q, w, false, out);
}

void cn_conv_forward_winograd(const cn_conv_geom *p, const cn_real *x, const cn_real *w, const cn_real *b, cn_real *y,
                              void *work) {
    wg_problem q = forward_problem(p);
    run_problem(p, &q, x, w, false, p->prepared, p->epilogue ? NULL : b, p->epilogue, false, y, work);
}

void cn_conv_backward_data_winograd(const cn_conv_geom *p, const cn_real *dy, const cn_real *w, cn_real *dx,
                                    void *work) {
    wg_problem q = data_problem(p);
    run_problem(p, &q, dy, w, true, NULL, NULL, NULL, true, dx, work);
}
