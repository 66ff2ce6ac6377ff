/* resnet.c — residual networks (He et al. 2016) in torchvision's layout: conv1, bn1, relu, maxpool,
 * layer1..layer4 of blocks layer<i>.<j>, avgpool (adaptive 1x1), fc. Within a block torchvision's module
 * names: conv1, bn1, conv2, bn2 (conv3, bn3 in bottlenecks), downsample.0 (1x1 conv) and downsample.1 (its
 * BatchNorm). torchvision applies one ReLU module twice per block; here they are two nodes, relu1 (inside)
 * and relu2 (after the add, named add). Bottlenecks stride on the 3x3 conv (torchvision's "ResNet v1.5"). */
#include "zoo_internal.h"

enum { BASIC = 1, BOTTLENECK = 4 }; /* the value is the block's expansion */

static int conv_bn(cn_graph *g, const char *p, const char *conv, const char *bn, int x, int out, int k, int stride) {
    char name[CN_NAME_MAX];
    int h = zoo_conv(g, zoo_name(name, "%s.%s", p, conv), x, out, k, stride, k / 2, 1, 0);
    return h >= 0 ? cn_batchnorm(g, zoo_name(name, "%s.%s", p, bn), h, 1e-5f, 0.1f) : -1;
}

/* out = relu(F(x) + shortcut(x)); F = conv3x3(stride)-bn-relu-conv3x3-bn (basic) or
 * conv1x1-bn-relu-conv3x3(stride)-bn-relu-conv1x1(4 planes)-bn (bottleneck); the shortcut is x, or a
 * strided 1x1 conv + bn when the shape changes. */
static int block(cn_graph *g, const char *p, int x, int kind, int planes, int stride, int downsample) {
    char name[CN_NAME_MAX];
    int h;
    if (kind == BASIC) {
        h = conv_bn(g, p, "conv1", "bn1", x, planes, 3, stride);
        if (h >= 0) h = cn_relu(g, zoo_name(name, "%s.relu1", p), h);
        if (h >= 0) h = conv_bn(g, p, "conv2", "bn2", h, planes, 3, 1);
    } else {
        h = conv_bn(g, p, "conv1", "bn1", x, planes, 1, 1);
        if (h >= 0) h = cn_relu(g, zoo_name(name, "%s.relu1", p), h);
        if (h >= 0) h = conv_bn(g, p, "conv2", "bn2", h, planes, 3, stride);
        if (h >= 0) h = cn_relu(g, zoo_name(name, "%s.relu2", p), h);
        if (h >= 0) h = conv_bn(g, p, "conv3", "bn3", h, planes * BOTTLENECK, 1, 1);
    }
    int shortcut = x;
    if (h >= 0 && downsample) shortcut = conv_bn(g, p, "downsample.0", "downsample.1", x, planes * kind, 1, stride);
    if (h >= 0 && shortcut >= 0)
        h = cn_add(g, zoo_name(name, "%s.add", p), h, shortcut);
    else
        h = -1;
    if (h >= 0) h = cn_relu(g, zoo_name(name, kind == BASIC ? "%s.relu2" : "%s.relu3", p), h);
    return h;
}

/* A stage of `blocks` blocks; the first strides and gets a projection shortcut when the shape changes.
 * *inplanes tracks the channel count coming in. */
static int stage(cn_graph *g, const char *layer, int x, int kind, int planes, int blocks, int stride, int *inplanes) {
    char p[CN_NAME_MAX];
    int h = x;
    for (int j = 0; j < blocks && h >= 0; j++) {
        int s = j == 0 ? stride : 1;
        h = block(g, zoo_name(p, "%s.%d", layer, j), h, kind, planes, s, s != 1 || *inplanes != planes * kind);
        *inplanes = planes * kind;
    }
    return h;
}

static int head(cn_graph *g, int h, int classes) {
    if (h >= 0) h = zoo_adaptive_avgpool(g, "avgpool", h, 1);
    if (h >= 0) h = cn_flatten(g, "flatten", h);
    if (h >= 0) h = cn_linear(g, "fc", h, classes, 1);
    return h;
}

/* ImageNet ResNets: 7x7/2 stem and 3x3/2 max pool (or, small_stem, a 3x3/1 stem and no pool), then four
 * stages of 64-128-256-512 planes. */
static int resnet(cn_graph *g, int x, int classes, int kind, const int layers[4], int small_stem) {
    int inplanes = 64;
    int h = small_stem ? zoo_conv(g, "conv1", x, 64, 3, 1, 1, 1, 0) : zoo_conv(g, "conv1", x, 64, 7, 2, 3, 1, 0);
    if (h >= 0) h = cn_batchnorm(g, "bn1", h, 1e-5f, 0.1f);
    if (h >= 0) h = cn_relu(g, "relu", h);
    if (h >= 0 && !small_stem) h = zoo_maxpool(g, "maxpool", h, 3, 2, 1, 0);
    if (h >= 0) h = stage(g, "layer1", h, kind, 64, layers[0], 1, &inplanes);
    if (h >= 0) h = stage(g, "layer2", h, kind, 128, layers[1], 2, &inplanes);
    if (h >= 0) h = stage(g, "layer3", h, kind, 256, layers[2], 2, &inplanes);
    if (h >= 0) h = stage(g, "layer4", h, kind, 512, layers[3], 2, &inplanes);
    return head(g, h, classes);
}

int zoo_resnet18(cn_graph *g, int x, int classes) { return resnet(g, x, classes, BASIC, (const int[]){2, 2, 2, 2}, 0); }
int zoo_resnet34(cn_graph *g, int x, int classes) { return resnet(g, x, classes, BASIC, (const int[]){3, 4, 6, 3}, 0); }
int zoo_resnet50(cn_graph *g, int x, int classes) {
    return resnet(g, x, classes, BOTTLENECK, (const int[]){3, 4, 6, 3}, 0);
}
int zoo_resnet101(cn_graph *g, int x, int classes) {
    return resnet(g, x, classes, BOTTLENECK, (const int[]){3, 4, 23, 3}, 0);
}
int zoo_resnet152(cn_graph *g, int x, int classes) {
    return resnet(g, x, classes, BOTTLENECK, (const int[]){3, 8, 36, 3}, 0);
}
/* ResNet-18 for 32x32 (and 28x28) images: a 3x3 stride-1 stem and no max pool (the common CIFAR
 * variant): 11,173,962 parameters at 10 classes. */
int zoo_resnet18_small(cn_graph *g, int x, int classes) {
    return resnet(g, x, classes, BASIC, (const int[]){2, 2, 2, 2}, 1);
}

/* The CIFAR-10 ResNets of the paper's section 4.2: a 3x3 conv of 16 channels, then three stages of n
 * basic blocks with 16, 32, 64 channels (6n + 2 layers), global average pooling, fc. Shortcuts are option
 * B: identity, and a strided 1x1 conv + BN (downsample.0/.1) where the shape changes (the first block of
 * layer2 and layer3). At 10 classes: ResNet-20 272,474 and ResNet-56 855,770 parameters (the paper's
 * option-A counts, 0.27M and 0.85M, plus 2,752 for the two projections). */
static int resnet_cifar(cn_graph *g, int x, int classes, int n) {
    int inplanes = 16;
    int h = zoo_conv(g, "conv1", x, 16, 3, 1, 1, 1, 0);
    if (h >= 0) h = cn_batchnorm(g, "bn1", h, 1e-5f, 0.1f);
    if (h >= 0) h = cn_relu(g, "relu", h);
    if (h >= 0) h = stage(g, "layer1", h, BASIC, 16, n, 1, &inplanes);
    if (h >= 0) h = stage(g, "layer2", h, BASIC, 32, n, 2, &inplanes);
    if (h >= 0) h = stage(g, "layer3", h, BASIC, 64, n, 2, &inplanes);
    return head(g, h, classes);
}
int zoo_resnet20(cn_graph *g, int x, int classes) { return resnet_cifar(g, x, classes, 3); }
int zoo_resnet56(cn_graph *g, int x, int classes) { return resnet_cifar(g, x, classes, 9); }
