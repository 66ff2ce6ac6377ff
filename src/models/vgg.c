/* vgg.c — the VGG configurations of Simonyan & Zisserman (2015), Table 1, in torchvision's layout:
 * features.<i> (conv 3x3 pad 1 [, BatchNorm], ReLU, ... MaxPool 2/2), avgpool (adaptive 7x7), classifier.<i>
 * (Linear 4096, ReLU, Dropout, Linear 4096, ReLU, Dropout, Linear classes). The index i counts every module
 * of the nn.Sequential as torchvision's make_layers does, so parameter names equal its state-dict keys
 * (features.0.weight, features.1.running_mean in the -bn variants). */
#include "zoo_internal.h"
#include <stdlib.h>

/* A configuration is a string of items: a number is a 3x3 conv with that many channels, "1:N" a 1x1 conv
 * (configuration C), "M" a 2x2 max pool, "L" the LRN of configuration A-LRN (AlexNet's parameters, as the
 * paper says: n 5, k 2, alpha 1e-4 unscaled, beta 0.75). */
static const char *const VGG_A = "64 M 128 M 256 256 M 512 512 M 512 512 M";
static const char *const VGG_A_LRN = "64 L M 128 M 256 256 M 512 512 M 512 512 M";
static const char *const VGG_B = "64 64 M 128 128 M 256 256 M 512 512 M 512 512 M";
static const char *const VGG_C = "64 64 M 128 128 M 256 256 1:256 M 512 512 1:512 M 512 512 1:512 M";
static const char *const VGG_D = "64 64 M 128 128 M 256 256 256 M 512 512 512 M 512 512 512 M";
static const char *const VGG_E = "64 64 M 128 128 M 256 256 256 256 M 512 512 512 512 M 512 512 512 512 M";

static int vgg(cn_graph *g, int x, int classes, const char *config, int batch_norm) {
    char name[CN_NAME_MAX];
    int h = x, index = 0;
    for (const char *p = config; h >= 0 && *p;) {
        while (*p == ' ') p++;
        if (!*p) break;
        if (*p == 'M') {
            h = zoo_maxpool(g, zoo_name(name, "features.%d", index++), h, 2, 2, 0, 0);
            p++;
        } else if (*p == 'L') {
            h = cn_lrn(g, zoo_name(name, "features.%d", index++), h, 5, 5e-4f, 0.75f, 2.0f);
            p++;
        } else {
            int k = 3;
            if (p[0] == '1' && p[1] == ':') {
                k = 1;
                p += 2;
            }
            char *end;
            int channels = (int)strtol(p, &end, 10);
            p = end;
            h = zoo_conv(g, zoo_name(name, "features.%d", index++), h, channels, k, 1, k / 2, 1, 1);
            if (h >= 0 && batch_norm) h = cn_batchnorm(g, zoo_name(name, "features.%d", index++), h, 1e-5f, 0.1f);
            if (h >= 0) h = cn_relu(g, zoo_name(name, "features.%d", index++), h);
        }
    }
    if (h >= 0) h = zoo_adaptive_avgpool(g, "avgpool", h, 7);
    if (h >= 0) h = cn_flatten(g, "flatten", h);
    if (h >= 0) h = cn_linear(g, "classifier.0", h, 4096, 1);
    if (h >= 0) h = cn_relu(g, "classifier.1", h);
    if (h >= 0) h = cn_dropout(g, "classifier.2", h, 0.5f);
    if (h >= 0) h = cn_linear(g, "classifier.3", h, 4096, 1);
    if (h >= 0) h = cn_relu(g, "classifier.4", h);
    if (h >= 0) h = cn_dropout(g, "classifier.5", h, 0.5f);
    if (h >= 0) h = cn_linear(g, "classifier.6", h, classes, 1);
    return h;
}

int zoo_vgg11(cn_graph *g, int x, int classes) { return vgg(g, x, classes, VGG_A, 0); }
int zoo_vgg11_bn(cn_graph *g, int x, int classes) { return vgg(g, x, classes, VGG_A, 1); }
int zoo_vgg11_lrn(cn_graph *g, int x, int classes) { return vgg(g, x, classes, VGG_A_LRN, 0); }
int zoo_vgg11_lrn_bn(cn_graph *g, int x, int classes) { return vgg(g, x, classes, VGG_A_LRN, 1); }
int zoo_vgg13(cn_graph *g, int x, int classes) { return vgg(g, x, classes, VGG_B, 0); }
int zoo_vgg13_bn(cn_graph *g, int x, int classes) { return vgg(g, x, classes, VGG_B, 1); }
int zoo_vgg16_c(cn_graph *g, int x, int classes) { return vgg(g, x, classes, VGG_C, 0); }
int zoo_vgg16_c_bn(cn_graph *g, int x, int classes) { return vgg(g, x, classes, VGG_C, 1); }
int zoo_vgg16(cn_graph *g, int x, int classes) { return vgg(g, x, classes, VGG_D, 0); }
int zoo_vgg16_bn(cn_graph *g, int x, int classes) { return vgg(g, x, classes, VGG_D, 1); }
int zoo_vgg19(cn_graph *g, int x, int classes) { return vgg(g, x, classes, VGG_E, 0); }
int zoo_vgg19_bn(cn_graph *g, int x, int classes) { return vgg(g, x, classes, VGG_E, 1); }
