/* zoo.c — the model zoo, built with the public API only. Each builder takes the input node (N, C, H, W)
 * and returns the logits node (N, classes). */
#include "convnet.h"
#include "internal.h"
#include <stdio.h>

/* LeNet-5 as in the lecture table: conv(20, 5x5, pad 2) - ReLU - maxpool(2,2) - conv(50, 5x5, pad 2) -
 * ReLU - maxpool(2,2) - flatten - FC 500 - ReLU - FC classes. On 1x28x28: 1,256,080 parameters. */
static int build_lenet5(cn_graph *g, int x, int classes) {
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

typedef struct {
    const char *name;
    const char *description;
    int (*build)(cn_graph *g, int x, int classes);
} zoo_entry;

static const zoo_entry zoo[] = {
    {"lenet5", "LeNet-5, the lecture's 20-50-500 variant (1x28x28)", build_lenet5},
};

int cn_model_count(void) { return (int)(sizeof zoo / sizeof zoo[0]); }
const char *cn_model_name(int i) { return i >= 0 && i < cn_model_count() ? zoo[i].name : NULL; }
const char *cn_model_description(int i) { return i >= 0 && i < cn_model_count() ? zoo[i].description : NULL; }

int cn_model_build(cn_graph *g, const char *name, int x, int classes) {
    if (classes < 1) {
        cn_error(CN_ERR_INVALID, "%s: %d classes; a model needs at least 1", name, classes);
        return -1;
    }
    for (int i = 0; i < cn_model_count(); i++)
        if (strcmp(name, zoo[i].name) == 0) {
            int out = zoo[i].build(g, x, classes);
            if (out < 0) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s", cn_last_error());
                cn_error(CN_ERR_SHAPE, "model %s: %s", name, msg);
            }
            return out;
        }
    char names[512] = "";
    for (int i = 0; i < cn_model_count(); i++) {
        strncat(names, i ? ", " : "", sizeof names - strlen(names) - 1);
        strncat(names, zoo[i].name, sizeof names - strlen(names) - 1);
    }
    cn_error(CN_ERR_INVALID, "unknown model '%s' (the zoo has: %s)", name, names);
    return -1;
}
