/* zoo_internal.h — what the zoo's builders share: node-name formatting and the conv/pool shorthands they
 * build with (public API only). Every builder takes the input node x (N, C, H, W) and the class count and
 * returns the logits node, or -1 with the error set. Node names follow torchvision's module paths
 * ("features.0", "layer1.0.conv1") so that parameter names equal its state-dict keys. */
#ifndef CN_ZOO_INTERNAL_H
#define CN_ZOO_INTERNAL_H

#include "convnet.h"

/* snprintf into buf (CN_NAME_MAX bytes); returns buf. */
const char *zoo_name(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Square 2-D convolution and pooling; ceil is PyTorch's ceil_mode. */
int zoo_conv(cn_graph *g, const char *name, int x, int out, int k, int stride, int pad, int groups, int bias);
int zoo_maxpool(cn_graph *g, const char *name, int x, int k, int stride, int pad, int ceil);
int zoo_adaptive_avgpool(cn_graph *g, const char *name, int x, int size);

int zoo_lenet5(cn_graph *g, int x, int classes);
int zoo_alexnet(cn_graph *g, int x, int classes);
int zoo_alexnet_lrn(cn_graph *g, int x, int classes);
int zoo_vgg11(cn_graph *g, int x, int classes);
int zoo_vgg11_bn(cn_graph *g, int x, int classes);
int zoo_vgg11_lrn(cn_graph *g, int x, int classes);
int zoo_vgg11_lrn_bn(cn_graph *g, int x, int classes);
int zoo_vgg13(cn_graph *g, int x, int classes);
int zoo_vgg13_bn(cn_graph *g, int x, int classes);
int zoo_vgg16_c(cn_graph *g, int x, int classes);
int zoo_vgg16_c_bn(cn_graph *g, int x, int classes);
int zoo_vgg16(cn_graph *g, int x, int classes);
int zoo_vgg16_bn(cn_graph *g, int x, int classes);
int zoo_vgg19(cn_graph *g, int x, int classes);
int zoo_vgg19_bn(cn_graph *g, int x, int classes);
int zoo_googlenet(cn_graph *g, int x, int classes);
int zoo_resnet18(cn_graph *g, int x, int classes);
int zoo_resnet34(cn_graph *g, int x, int classes);
int zoo_resnet50(cn_graph *g, int x, int classes);
int zoo_resnet101(cn_graph *g, int x, int classes);
int zoo_resnet152(cn_graph *g, int x, int classes);
int zoo_resnet20(cn_graph *g, int x, int classes);
int zoo_resnet56(cn_graph *g, int x, int classes);
int zoo_resnet18_small(cn_graph *g, int x, int classes);

/* Model files (model_file.c): build the model a file describes on input x. */
int zoo_build_file(cn_graph *g, const char *path, int x, int classes);
/* The `input CxHxW` line of a model file: CN_OK and filled, or an error (none: CN_ERR_INVALID). */
cn_status zoo_file_input_size(const char *path, int *channels, int *height, int *width);

#endif
