/* Numerical gradient checks (double precision) for Conv 1D/2D/3D: every padding mode, groups, dilation,
 * stride, asymmetric padding, with and without bias; through both the direct reference and im2col kernels. */
#include "cn_test.h"
#include "internal.h"
#include "kernels/conv.h"

typedef struct {
    const char *what;
    int ndim;
    int64_t dims[5];
    int out_channels, groups, bias;
    int k[3], s[3], d[3], pb[3], pe[3];
    cn_pad_mode mode;
} grad_case;

static const grad_case cases[] = {
    {"1D zeros s2 d2", 3, {2, 3, 11}, 4, 1, 1, {3}, {2}, {2}, {2}, {2}, CN_PAD_ZEROS},
    {"1D reflect asym groups 2", 3, {2, 4, 7}, 6, 2, 1, {3}, {1}, {1}, {3}, {1}, CN_PAD_REFLECT},
    {"1D circular pad = size, no bias", 3, {1, 2, 5}, 3, 1, 0, {2}, {3}, {1}, {5}, {4}, CN_PAD_CIRCULAR},
    {"2D zeros groups 2 d2 s2", 4, {2, 4, 7, 6}, 4, 2, 1, {3, 2}, {2, 1}, {2, 2}, {1, 2}, {1, 0}, CN_PAD_ZEROS},
    {"2D reflect max", 4, {1, 2, 5, 4}, 3, 1, 1, {3, 3}, {1, 2}, {1, 1}, {4, 3}, {2, 3}, CN_PAD_REFLECT},
    {"2D replicate beyond size", 4, {2, 2, 3, 2}, 2, 1, 1, {2, 3}, {1, 1}, {1, 2}, {4, 0}, {1, 5}, CN_PAD_REPLICATE},
    {"2D circular asym", 4, {1, 3, 4, 5}, 3, 3, 1, {3, 2}, {2, 1}, {1, 2}, {4, 1}, {2, 5}, CN_PAD_CIRCULAR},
    {"2D depthwise x2 zeros", 4, {2, 3, 5, 5}, 6, 3, 0, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}, CN_PAD_ZEROS},
    {"2D 1x1 stride 2", 4, {2, 4, 5, 3}, 3, 1, 1, {1, 1}, {2, 2}, {1, 1}, {0, 0}, {0, 0}, CN_PAD_ZEROS},
    {"2D 1x1 direct groups 2", 4, {2, 4, 3, 3}, 2, 2, 1, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}, CN_PAD_ZEROS},
    {"3D zeros s2", 5, {1, 2, 4, 5, 3}, 3, 1, 1, {2, 3, 2}, {2, 1, 2}, {1, 1, 1}, {1, 1, 0}, {0, 1, 1},
     CN_PAD_ZEROS},
    {"3D reflect groups 2 d2", 5, {2, 2, 3, 4, 5}, 2, 2, 1, {2, 2, 2}, {1, 1, 2}, {2, 1, 2}, {1, 2, 1}, {2, 1, 3},
     CN_PAD_REFLECT},
    {"3D replicate", 5, {1, 2, 2, 3, 3}, 2, 1, 0, {2, 2, 2}, {1, 2, 1}, {1, 1, 1}, {2, 1, 3}, {1, 3, 0},
     CN_PAD_REPLICATE},
    {"3D circular", 5, {1, 1, 3, 3, 4}, 2, 1, 1, {3, 2, 2}, {1, 1, 2}, {1, 2, 1}, {3, 1, 2}, {2, 2, 4},
     CN_PAD_CIRCULAR},
};

static void check_case(const grad_case *gc) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape_make(gc->ndim, gc->dims));
    cn_conv_attr a = cn_conv_attr_make(gc->out_channels, 1, 1, 0);
    for (int i = 0; i < gc->ndim - 2; i++) {
        a.kernel[i] = gc->k[i];
        a.stride[i] = gc->s[i];
        a.dilation[i] = gc->d[i];
        a.pad_begin[i] = gc->pb[i];
        a.pad_end[i] = gc->pe[i];
    }
    a.groups = gc->groups;
    a.bias = gc->bias;
    a.pad_mode = gc->mode;
    int y = cn_conv(g, "conv", x, &a);
    CHECK(y >= 0, "%s: %s", gc->what, cn_last_error());
    if (y >= 0) {
        cn_test_fill_input(g, x, 17, -1, 1);
        int failures = cn_gradcheck(g, y, &x, 1, 1e-6, 1e-6, 150);
        CHECK(failures == 0, "gradcheck failed: %s", gc->what);
    }
    cn_graph_free(g);
}

/* Two convs in a chain: the first one's input gradient comes through the second's backward-data. */
static void check_chain(void) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(2, 2, 7, 6));
    cn_conv_attr a = cn_conv_attr_make(4, 3, 2, 1);
    a.pad_mode = CN_PAD_REPLICATE;
    int c1 = cn_conv(g, "c1", x, &a);
    a = cn_conv_attr_make(3, 2, 1, 1);
    a.pad_mode = CN_PAD_CIRCULAR;
    a.dilation[0] = 2;
    int c2 = cn_conv(g, "c2", c1, &a);
    cn_test_fill_input(g, x, 5, -1, 1);
    cn_gradcheck(g, c2, &x, 1, 1e-6, 1e-6, 150);
    cn_graph_free(g);
}

int main(void) {
    const int n = (int)(sizeof cases / sizeof cases[0]);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0) { /* the direct reference */
            cn_conv_forward = cn_conv_forward_ref;
            cn_conv_backward_data = cn_conv_backward_data_ref;
            cn_conv_backward_weights = cn_conv_backward_weights_ref;
        } else { /* im2col + GEMM */
            cn_conv_forward = cn_conv_forward_im2col;
            cn_conv_backward_data = cn_conv_backward_data_im2col;
            cn_conv_backward_weights = cn_conv_backward_weights_im2col;
        }
        for (int i = 0; i < n; i++) check_case(&cases[i]);
        check_chain();
    }
    return cn_test_finish();
}
