/* zoo.c — the model zoo's table and entry points, and the shorthands the builders share. Each builder
 * (lenet.c, alexnet.c, vgg.c, googlenet.c, resnet.c) uses the public API only; names that are not in the
 * table are tried as model files (model_file.c). */
#include "convnet.h"
#include "internal.h"
#include "zoo_internal.h"
#include "onnx/onnx_internal.h"
#include <stdio.h>
#include <sys/stat.h>

const char *zoo_name(char *buf, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, CN_NAME_MAX, fmt, ap);
    va_end(ap);
    return buf;
}

int zoo_conv(cn_graph *g, const char *name, int x, int out, int k, int stride, int pad, int groups, int bias) {
    cn_conv_attr a = cn_conv_attr_make(out, k, stride, pad);
    a.groups = groups;
    a.bias = bias;
    return cn_conv(g, name, x, &a);
}

int zoo_maxpool(cn_graph *g, const char *name, int x, int k, int stride, int pad, int ceil) {
    cn_pool_attr a = cn_pool_attr_make(CN_POOL_MAX, k, stride, pad);
    a.ceil_mode = ceil;
    return cn_pool(g, name, x, &a);
}

int zoo_adaptive_avgpool(cn_graph *g, const char *name, int x, int size) {
    int out[CN_MAX_SPATIAL] = {size, size, size};
    return cn_adaptive_avgpool(g, name, x, out);
}

typedef struct {
    const char *name;
    const char *description;
    int channels, height, width; /* the input it was designed for */
    int (*build)(cn_graph *g, int x, int classes);
} zoo_entry;

static const zoo_entry zoo[] = {
    {"lenet5", "LeNet-5, the lecture's 20-50-500 variant", 1, 28, 28, zoo_lenet5},
    {"alexnet", "AlexNet, torchvision's layout (64-192-384-256-256, adaptive 6x6 pool)", 3, 224, 224, zoo_alexnet},
    {"alexnet-lrn", "AlexNet as in the paper (96-256-384-384-256, LRN, groups 2)", 3, 227, 227, zoo_alexnet_lrn},
    {"vgg11", "VGG configuration A (11 layers)", 3, 224, 224, zoo_vgg11},
    {"vgg11-bn", "VGG A with batch norm", 3, 224, 224, zoo_vgg11_bn},
    {"vgg11-lrn", "VGG configuration A-LRN", 3, 224, 224, zoo_vgg11_lrn},
    {"vgg11-lrn-bn", "VGG A-LRN with batch norm", 3, 224, 224, zoo_vgg11_lrn_bn},
    {"vgg13", "VGG configuration B (13 layers)", 3, 224, 224, zoo_vgg13},
    {"vgg13-bn", "VGG B with batch norm", 3, 224, 224, zoo_vgg13_bn},
    {"vgg16-c", "VGG configuration C (16 layers, with 1x1 convs)", 3, 224, 224, zoo_vgg16_c},
    {"vgg16-c-bn", "VGG C with batch norm", 3, 224, 224, zoo_vgg16_c_bn},
    {"vgg16", "VGG configuration D (VGG-16)", 3, 224, 224, zoo_vgg16},
    {"vgg16-bn", "VGG D with batch norm", 3, 224, 224, zoo_vgg16_bn},
    {"vgg19", "VGG configuration E (VGG-19)", 3, 224, 224, zoo_vgg19},
    {"vgg19-bn", "VGG E with batch norm", 3, 224, 224, zoo_vgg19_bn},
    {"googlenet", "GoogLeNet, torchvision's layout without auxiliary heads", 3, 224, 224, zoo_googlenet},
    {"resnet18", "ResNet-18 (basic blocks 2-2-2-2)", 3, 224, 224, zoo_resnet18},
    {"resnet34", "ResNet-34 (basic blocks 3-4-6-3)", 3, 224, 224, zoo_resnet34},
    {"resnet50", "ResNet-50 (bottlenecks 3-4-6-3)", 3, 224, 224, zoo_resnet50},
    {"resnet101", "ResNet-101 (bottlenecks 3-4-23-3)", 3, 224, 224, zoo_resnet101},
    {"resnet152", "ResNet-152 (bottlenecks 3-8-36-3)", 3, 224, 224, zoo_resnet152},
    {"resnet20", "CIFAR ResNet-20 (16-32-64, 3 blocks per stage, 1x1 projections)", 3, 32, 32, zoo_resnet20},
    {"resnet56", "CIFAR ResNet-56 (16-32-64, 9 blocks per stage, 1x1 projections)", 3, 32, 32, zoo_resnet56},
    {"resnet18-small", "ResNet-18 with a 3x3 stride-1 stem and no max pool (32x32 inputs)", 3, 32, 32,
     zoo_resnet18_small},
};

int cn_model_count(void) { return (int)(sizeof zoo / sizeof zoo[0]); }
const char *cn_model_name(int i) { return i >= 0 && i < cn_model_count() ? zoo[i].name : NULL; }
const char *cn_model_description(int i) { return i >= 0 && i < cn_model_count() ? zoo[i].description : NULL; }

static const zoo_entry *find_entry(const char *name) {
    for (int i = 0; i < cn_model_count(); i++)
        if (strcmp(name, zoo[i].name) == 0) return &zoo[i];
    return NULL;
}

/* A name is a model file when it ends in ".txt" or names an existing regular file. */
static int is_model_file(const char *name) {
    size_t len = strlen(name);
    if (len > 4 && strcmp(name + len - 4, ".txt") == 0) return 1;
    struct stat st;
    return stat(name, &st) == 0 && S_ISREG(st.st_mode);
}

static void unknown_model(const char *name) {
    char names[1024] = "";
    for (int i = 0; i < cn_model_count(); i++) {
        strncat(names, i ? ", " : "", sizeof names - strlen(names) - 1);
        strncat(names, zoo[i].name, sizeof names - strlen(names) - 1);
    }
    cn_error(CN_ERR_INVALID, "unknown model '%s' (not a file; the zoo has: %s)", name, names);
}

/* An ONNX model file (src/onnx): imported onto the input node, its output the logits. */
static bool is_onnx_path(const char *name) {
    size_t l = strlen(name);
    return l > 5 && strcmp(name + l - 5, ".onnx") == 0;
}

int cn_model_build(cn_graph *g, const char *name, int x, int classes) {
    if (!g || !name) {
        cn_error(CN_ERR_INVALID, "cn_model_build: graph and model name must not be NULL");
        return -1;
    }
    if (is_onnx_path(name)) return onnx_model_build(g, name, x, classes);
    const zoo_entry *e = find_entry(name);
    if (!e) {
        if (is_model_file(name)) return cn_model_build_file(g, name, x, classes);
        unknown_model(name);
        return -1;
    }
    if (classes < 1) {
        cn_error(CN_ERR_INVALID, "model %s: %d classes; a model needs at least 1", name, classes);
        return -1;
    }
    if (x < 0 || x >= cn_graph_node_count(g)) {
        cn_error(CN_ERR_INVALID, "model %s: input node %d does not exist", name, x);
        return -1;
    }
    cn_shape s = cn_node_shape(g, x);
    char b[64];
    if (s.ndim != 4) {
        cn_error(CN_ERR_SHAPE, "model %s: the input must be N x C x H x W, %s is %s", name, cn_node_name(g, x),
                 cn_shape_str(&s, b, sizeof b));
        return -1;
    }
    int out = e->build(g, x, classes);
    if (out < 0) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", cn_last_error());
        cn_error(CN_ERR_SHAPE, "model %s cannot take input %lldx%lldx%lld (designed for %dx%dx%d): %s", name,
                 (long long)s.dims[1], (long long)s.dims[2], (long long)s.dims[3], e->channels, e->height, e->width,
                 msg);
    }
    return out;
}

int cn_model_build_file(cn_graph *g, const char *path, int x, int classes) {
    if (!g || !path) {
        cn_error(CN_ERR_INVALID, "cn_model_build_file: graph and path must not be NULL");
        return -1;
    }
    if (classes < 1) {
        cn_error(CN_ERR_INVALID, "model %s: %d classes; a model needs at least 1", path, classes);
        return -1;
    }
    if (x < 0 || x >= cn_graph_node_count(g)) {
        cn_error(CN_ERR_INVALID, "model %s: input node %d does not exist", path, x);
        return -1;
    }
    return zoo_build_file(g, path, x, classes);
}

cn_status cn_model_input_size(const char *name, int *channels, int *height, int *width) {
    if (!name || !channels || !height || !width) return cn_error(CN_ERR_INVALID, "cn_model_input_size: NULL argument");
    const zoo_entry *e = find_entry(name);
    if (e) {
        *channels = e->channels;
        *height = e->height;
        *width = e->width;
        return CN_OK;
    }
    if (is_onnx_path(name)) return onnx_model_input_size(name, channels, height, width);
    if (!is_model_file(name)) {
        unknown_model(name);
        return CN_ERR_INVALID;
    }
    return zoo_file_input_size(name, channels, height, width);
}
