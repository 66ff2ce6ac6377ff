/* alexnet.c — AlexNet: torchvision's single-GPU layout, and the original (Krizhevsky et al. 2012) with
 * local response normalisation and the two-GPU grouping. Both name their nodes like torchvision's
 * nn.Sequential: features.<i>, avgpool, classifier.<i>. */
#include "zoo_internal.h"

/* The paper's LRN: b = a / (k + alpha * sum a^2)^beta with n = 5, k = 2, alpha = 1e-4, beta = 0.75.
 * PyTorch's LocalResponseNorm divides alpha by the size, so alpha = 5 * 1e-4 here gives the paper's. */
#define PAPER_LRN_SIZE 5
#define PAPER_LRN_ALPHA 5e-4f
#define PAPER_LRN_BETA 0.75f
#define PAPER_LRN_K 2.0f

/* The three fully connected layers as torchvision has them: Dropout, Linear 4096, ReLU, Dropout,
 * Linear 4096, ReLU, Linear classes (classifier.0 .. classifier.6), after flattening h. */
static int alexnet_classifier(cn_graph *g, int h, int classes) {
    if (h >= 0) h = cn_flatten(g, "flatten", h);
    if (h >= 0) h = cn_dropout(g, "classifier.0", h, 0.5f);
    if (h >= 0) h = cn_linear(g, "classifier.1", h, 4096, 1);
    if (h >= 0) h = cn_relu(g, "classifier.2", h);
    if (h >= 0) h = cn_dropout(g, "classifier.3", h, 0.5f);
    if (h >= 0) h = cn_linear(g, "classifier.4", h, 4096, 1);
    if (h >= 0) h = cn_relu(g, "classifier.5", h);
    if (h >= 0) h = cn_linear(g, "classifier.6", h, classes, 1);
    return h;
}

/* torchvision.models.alexnet: 64-192-384-256-256 channels, conv1 11x11 stride 4 pad 2, max pools 3/2,
 * adaptive average pooling to 6x6, then the classifier. 61,100,840 parameters at 1000 classes (for any
 * input of at least 63x63, thanks to the adaptive pooling). */
int zoo_alexnet(cn_graph *g, int x, int classes) {
    int h = zoo_conv(g, "features.0", x, 64, 11, 4, 2, 1, 1);
    if (h >= 0) h = cn_relu(g, "features.1", h);
    if (h >= 0) h = zoo_maxpool(g, "features.2", h, 3, 2, 0, 0);
    if (h >= 0) h = zoo_conv(g, "features.3", h, 192, 5, 1, 2, 1, 1);
    if (h >= 0) h = cn_relu(g, "features.4", h);
    if (h >= 0) h = zoo_maxpool(g, "features.5", h, 3, 2, 0, 0);
    if (h >= 0) h = zoo_conv(g, "features.6", h, 384, 3, 1, 1, 1, 1);
    if (h >= 0) h = cn_relu(g, "features.7", h);
    if (h >= 0) h = zoo_conv(g, "features.8", h, 256, 3, 1, 1, 1, 1);
    if (h >= 0) h = cn_relu(g, "features.9", h);
    if (h >= 0) h = zoo_conv(g, "features.10", h, 256, 3, 1, 1, 1, 1);
    if (h >= 0) h = cn_relu(g, "features.11", h);
    if (h >= 0) h = zoo_maxpool(g, "features.12", h, 3, 2, 0, 0);
    if (h >= 0) h = zoo_adaptive_avgpool(g, "avgpool", h, 6);
    return alexnet_classifier(g, h, classes);
}

/* The original AlexNet, as the paper and Caffe's bvlc_alexnet have it: 96-256-384-384-256 channels,
 * conv1 11x11 stride 4 without padding (227x227 -> 55x55), ReLU then LRN after conv1 and conv2, max pools
 * 3/2, and the paper's two-GPU split kept as groups = 2 on conv2, conv4 and conv5 (the layers that only
 * see their own GPU's half). No adaptive pooling: the first FC layer takes whatever conv5 leaves, 256x6x6
 * at 227x227 (60,965,224 parameters at 1000 classes, Caffe's count); 224x224 gives 256x5x5. */
int zoo_alexnet_lrn(cn_graph *g, int x, int classes) {
    int h = zoo_conv(g, "features.0", x, 96, 11, 4, 0, 1, 1);
    if (h >= 0) h = cn_relu(g, "features.1", h);
    if (h >= 0) h = cn_lrn(g, "features.2", h, PAPER_LRN_SIZE, PAPER_LRN_ALPHA, PAPER_LRN_BETA, PAPER_LRN_K);
    if (h >= 0) h = zoo_maxpool(g, "features.3", h, 3, 2, 0, 0);
    if (h >= 0) h = zoo_conv(g, "features.4", h, 256, 5, 1, 2, 2, 1);
    if (h >= 0) h = cn_relu(g, "features.5", h);
    if (h >= 0) h = cn_lrn(g, "features.6", h, PAPER_LRN_SIZE, PAPER_LRN_ALPHA, PAPER_LRN_BETA, PAPER_LRN_K);
    if (h >= 0) h = zoo_maxpool(g, "features.7", h, 3, 2, 0, 0);
    if (h >= 0) h = zoo_conv(g, "features.8", h, 384, 3, 1, 1, 1, 1);
    if (h >= 0) h = cn_relu(g, "features.9", h);
    if (h >= 0) h = zoo_conv(g, "features.10", h, 384, 3, 1, 1, 2, 1);
    if (h >= 0) h = cn_relu(g, "features.11", h);
    if (h >= 0) h = zoo_conv(g, "features.12", h, 256, 3, 1, 1, 2, 1);
    if (h >= 0) h = cn_relu(g, "features.13", h);
    if (h >= 0) h = zoo_maxpool(g, "features.14", h, 3, 2, 0, 0);
    return alexnet_classifier(g, h, classes);
}
