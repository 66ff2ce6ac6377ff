/* lenet.c — LeNet-5 as in the lecture table. */
#include "zoo_internal.h"

/* conv(20, 5x5, pad 2) - ReLU - maxpool(2,2) - conv(50, 5x5, pad 2) - ReLU - maxpool(2,2) - flatten -
 * FC 500 - ReLU - FC classes. On 1x28x28 with 10 classes: 1,256,080 parameters (flatten gives 50x7x7 =
 * 2450). Node names are the lecture's (conv1, pool1, fc1, ...): torchvision has no LeNet. */
int zoo_lenet5(cn_graph *g, int x, int classes) {
    int h = cn_conv2d(g, "conv1", x, 20, 5, 1, 2);
    if (h >= 0) h = cn_relu(g, "relu1", h);
    if (h >= 0) h = cn_maxpool2d(g, "pool1", h, 2, 2);
    if (h >= 0) h = cn_conv2d(g, "conv2", h, 50, 5, 1, 2);
    if (h >= 0) h = cn_relu(g, "relu2", h);
    if (h >= 0) h = cn_maxpool2d(g, "pool2", h, 2, 2);
    if (h >= 0) h = cn_flatten(g, "flatten", h);
    if (h >= 0) h = cn_linear(g, "fc1", h, 500, 1);
    if (h >= 0) h = cn_relu(g, "relu3", h);
    if (h >= 0) h = cn_linear(g, "fc2", h, classes, 1);
    return h;
}
