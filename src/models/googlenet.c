/* googlenet.c — GoogLeNet (Szegedy et al. 2015) in torchvision's layout, without the auxiliary heads:
 * 6,624,904 parameters at 1000 classes. As torchvision (and unlike the paper): every convolution is a
 * BasicConv2d = conv without bias + BatchNorm (eps 0.001) + ReLU, named <block>.conv / <block>.bn /
 * <block>.relu; the "5x5" branch of an Inception module is a 3x3 conv; max pools use ceil_mode; the
 * paper's LRN layers are gone. torchvision's transform_input (only for its pretrained weights) is not
 * applied. */
#include "zoo_internal.h"

static int basic_conv(cn_graph *g, const char *prefix, int x, int out, int k, int stride, int pad) {
    char name[CN_NAME_MAX];
    int h = zoo_conv(g, zoo_name(name, "%s.conv", prefix), x, out, k, stride, pad, 1, 0);
    if (h >= 0) h = cn_batchnorm(g, zoo_name(name, "%s.bn", prefix), h, 0.001f, 0.1f);
    if (h >= 0) h = cn_relu(g, zoo_name(name, "%s.relu", prefix), h);
    return h;
}

/* Four branches concatenated on channels: 1x1; 1x1 reduce -> 3x3; 1x1 reduce -> 3x3 (the paper's 5x5);
 * 3x3 max pool (stride 1, pad 1, ceil) -> 1x1 projection. */
static int inception(cn_graph *g, const char *p, int x, int c1, int c3r, int c3, int c5r, int c5, int proj) {
    char name[CN_NAME_MAX];
    int b[4];
    b[0] = basic_conv(g, zoo_name(name, "%s.branch1", p), x, c1, 1, 1, 0);
    b[1] = b[0] >= 0 ? basic_conv(g, zoo_name(name, "%s.branch2.0", p), x, c3r, 1, 1, 0) : -1;
    if (b[1] >= 0) b[1] = basic_conv(g, zoo_name(name, "%s.branch2.1", p), b[1], c3, 3, 1, 1);
    b[2] = b[1] >= 0 ? basic_conv(g, zoo_name(name, "%s.branch3.0", p), x, c5r, 1, 1, 0) : -1;
    if (b[2] >= 0) b[2] = basic_conv(g, zoo_name(name, "%s.branch3.1", p), b[2], c5, 3, 1, 1);
    b[3] = b[2] >= 0 ? zoo_maxpool(g, zoo_name(name, "%s.branch4.0", p), x, 3, 1, 1, 1) : -1;
    if (b[3] >= 0) b[3] = basic_conv(g, zoo_name(name, "%s.branch4.1", p), b[3], proj, 1, 1, 0);
    return b[3] >= 0 ? cn_concat(g, zoo_name(name, "%s.cat", p), b, 4) : -1;
}

int zoo_googlenet(cn_graph *g, int x, int classes) {
    int h = basic_conv(g, "conv1", x, 64, 7, 2, 3);
    if (h >= 0) h = zoo_maxpool(g, "maxpool1", h, 3, 2, 0, 1);
    if (h >= 0) h = basic_conv(g, "conv2", h, 64, 1, 1, 0);
    if (h >= 0) h = basic_conv(g, "conv3", h, 192, 3, 1, 1);
    if (h >= 0) h = zoo_maxpool(g, "maxpool2", h, 3, 2, 0, 1);
    if (h >= 0) h = inception(g, "inception3a", h, 64, 96, 128, 16, 32, 32);
    if (h >= 0) h = inception(g, "inception3b", h, 128, 128, 192, 32, 96, 64);
    if (h >= 0) h = zoo_maxpool(g, "maxpool3", h, 3, 2, 0, 1);
    if (h >= 0) h = inception(g, "inception4a", h, 192, 96, 208, 16, 48, 64);
    if (h >= 0) h = inception(g, "inception4b", h, 160, 112, 224, 24, 64, 64);
    if (h >= 0) h = inception(g, "inception4c", h, 128, 128, 256, 24, 64, 64);
    if (h >= 0) h = inception(g, "inception4d", h, 112, 144, 288, 32, 64, 64);
    if (h >= 0) h = inception(g, "inception4e", h, 256, 160, 320, 32, 128, 128);
    if (h >= 0) h = zoo_maxpool(g, "maxpool4", h, 2, 2, 0, 1);
    if (h >= 0) h = inception(g, "inception5a", h, 256, 160, 320, 32, 128, 128);
    if (h >= 0) h = inception(g, "inception5b", h, 384, 192, 384, 48, 128, 128);
    if (h >= 0) h = zoo_adaptive_avgpool(g, "avgpool", h, 1);
    if (h >= 0) h = cn_flatten(g, "flatten", h);
    if (h >= 0) h = cn_dropout(g, "dropout", h, 0.2f);
    if (h >= 0) h = cn_linear(g, "fc", h, classes, 1);
    return h;
}
