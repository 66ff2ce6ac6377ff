/* The zoo's ImageNet models: every model builds on 3x224x224 (batch 1) with 1000 classes; the parameter
 * counts equal torchvision's exactly; the parameters have torchvision's state-dict keys, shapes and order
 * (tests/zoo/keys/<model>.txt, written by tests/zoo/gen_keys.py from torchvision); the original AlexNet has
 * Caffe's 60,965,224 at 227x227; the models that can take 1x28x28 build on it; and models/alexnet.txt and
 * models/vgg16.txt build the zoo's graphs (same seeded values, bit-identical eval outputs).
 *
 * Building is cheap but not free: a VGG allocates and initialises 138M weights (and zeroes as many
 * gradients). The structural checks never read a value, so they run with a test allocator that hands every
 * block of 1 MB or more out of one shared arena: the memory is touched once instead of once per model.
 * The value checks (model files against the zoo) use the ordinary allocator. */
#include "cn_test.h"
#include <stdlib.h>
#include <string.h>

#define ARENA_MIN (1u << 20)
static char *arena;
static size_t arena_size;

static void *arena_alloc(size_t bytes, void *user) {
    (void)user;
    if (bytes >= ARENA_MIN && bytes <= arena_size) return arena;
    return aligned_alloc(64, bytes ? (bytes + 63) / 64 * 64 : 64);
}
static void arena_free(void *p, void *user) {
    (void)user;
    if (p != arena) free(p);
}
static void use_arena(int on) {
    cn_allocator a = {arena_alloc, arena_free, NULL};
    cn_set_allocator(on ? &a : NULL);
}

static void source_path(char *out, size_t size, const char *rel) {
    const char *golden = CN_GOLDEN_DIR;
    size_t len = strlen(golden) - strlen("/tests/golden/data");
    snprintf(out, size, "%.*s/%s", (int)len, golden, rel);
}

static int build(cn_graph **gp, const char *model, int c, int h, int w, int classes) {
    cn_graph *g = cn_graph_create();
    int x = cn_input(g, "x", cn_shape4(1, c, h, w));
    *gp = g;
    return cn_model_build(g, model, x, classes);
}

/* Our parameters against torchvision's state dict: same count, and line by line the same key and shape
 * ("-", a 0-dimensional tensor, is our 1-element num_batches_tracked). */
static void check_keys(const cn_graph *g, const char *model) {
    char rel[128], path[512], line[512];
    snprintf(rel, sizeof rel, "tests/zoo/keys/%s.txt", model);
    source_path(path, sizeof path, rel);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "%s: cannot open %s", model, path);
    if (!f) return;
    int i = 0, ok = 1;
    while (ok && fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char key[256], shape[64], ours[64];
        if (sscanf(line, "%255s %63s", key, shape) != 2) continue;
        cn_param p = cn_param_get(g, i++);
        ok = p.name != NULL;
        CHECK(ok, "%s: torchvision has %s, we have no parameter %d", model, key, i - 1);
        if (!ok) break;
        cn_shape_str(&p.value->shape, ours, sizeof ours);
        ok = strcmp(p.name, key) == 0 &&
             (strcmp(shape, ours) == 0 || (strcmp(shape, "-") == 0 && strcmp(ours, "1") == 0));
        CHECK(ok, "%s: parameter %d is %s %s, torchvision's is %s %s", model, i - 1, p.name, ours, key, shape);
    }
    fclose(f);
    CHECK(!ok || i == cn_param_count(g), "%s: torchvision has %d tensors, we have %d", model, i, cn_param_count(g));
}

static void imagenet_models(void) {
    const struct {
        const char *name;
        int64_t params; /* torchvision's, 0: torchvision does not have it */
        int keys;       /* tests/zoo/keys/<name>.txt exists */
    } cases[] = {
        {"alexnet", 61100840, 1},     {"alexnet-lrn", 0, 0},       {"vgg11", 132863336, 1},
        {"vgg11-bn", 132868840, 1},   {"vgg11-lrn", 132863336, 0}, {"vgg11-lrn-bn", 132868840, 0},
        {"vgg13", 133047848, 1},      {"vgg13-bn", 133053736, 1},  {"vgg16-c", 133638952, 0},
        {"vgg16-c-bn", 133647400, 0}, {"vgg16", 138357544, 1},     {"vgg16-bn", 138365992, 1},
        {"vgg19", 143667240, 1},      {"vgg19-bn", 143678248, 1},  {"googlenet", 6624904, 1},
        {"resnet18", 11689512, 1},    {"resnet34", 21797672, 1},   {"resnet50", 25557032, 1},
        {"resnet101", 44549160, 1},   {"resnet152", 60192808, 1},  {"resnet20", 0, 0},
        {"resnet56", 0, 0},           {"resnet18-small", 0, 0},    {"lenet5", 0, 0},
    };
    int n = (int)(sizeof cases / sizeof cases[0]);
    CHECK(n == cn_model_count(), "every zoo model is here: %d of %d", n, cn_model_count());
    for (int i = 0; i < n; i++) {
        cn_graph *g;
        int y = build(&g, cases[i].name, 3, 224, 224, 1000);
        CHECK(y >= 0, "%s on 3x224x224: %s", cases[i].name, cn_last_error());
        if (y >= 0) {
            cn_shape s = cn_node_shape(g, y);
            CHECK(s.ndim == 2 && s.dims[0] == 1 && s.dims[1] == 1000, "%s: logits 1x1000", cases[i].name);
            if (cases[i].params)
                CHECK(cn_graph_num_trainable(g) == cases[i].params, "%s: %lld parameters, torchvision has %lld",
                      cases[i].name, (long long)cn_graph_num_trainable(g), (long long)cases[i].params);
            if (cases[i].keys) check_keys(g, cases[i].name);
        }
        cn_graph_free(g);
    }
    /* VGG's configuration C = D with its third conv of stages 3-5 1x1 instead of 3x3 */
    int64_t c_minus_d = (256 * 256 + 2 * 512 * 512) * (9 - 1);
    CHECK(138357544 - 133638952 == c_minus_d, "vgg16-c is vgg16 less 8 weights per 1x1 conv input-output pair");
}

/* The original AlexNet at its 227x227: Caffe's bvlc_alexnet count, 96x55x55 after conv1, 256x6x6 at the
 * end of the features; two-GPU groups on conv2/4/5. */
static void alexnet_lrn(void) {
    cn_graph *g;
    int y = build(&g, "alexnet-lrn", 3, 227, 227, 1000);
    CHECK(y >= 0 && cn_graph_num_trainable(g) == 60965224,
          "alexnet-lrn at 227x227: %lld parameters, expected 60,965,224", (long long)cn_graph_num_trainable(g));
    cn_shape conv1 = cn_node_shape(g, cn_graph_find(g, "features.0")),
             pool = cn_node_shape(g, cn_graph_find(g, "features.14"));
    CHECK(conv1.dims[1] == 96 && conv1.dims[2] == 55 && conv1.dims[3] == 55, "conv1 96x55x55");
    CHECK(pool.dims[1] == 256 && pool.dims[2] == 6 && pool.dims[3] == 6, "features end at 256x6x6");
    int w = cn_param_find(g, "features.4.weight");
    CHECK(w >= 0 && cn_param_get(g, w).value->shape.dims[1] == 48, "conv2 in groups of 2: 256x48x5x5");
    CHECK(strcmp(cn_node_op(g, cn_graph_find(g, "features.2")), "LRN") == 0, "LRN after conv1's ReLU");
    cn_graph_free(g);
}

/* Fashion-MNIST's 1x28x28 works for GoogLeNet and every ResNet (LeNet-5 and the small ones: test_zoo). */
static void grey_28(void) {
    const char *models[] = {"googlenet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++) {
        cn_graph *g;
        int y = build(&g, models[i], 1, 28, 28, 10);
        CHECK(y >= 0, "%s on 1x28x28: %s", models[i], cn_last_error());
        cn_graph_free(g);
    }
}

/* FNV-1a over 32-bit words. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t bytes) {
    const unsigned char *b = data;
    for (size_t i = 0; i < bytes; i++) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}
static uint64_t hash_words(uint64_t h, const cn_real *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t w[sizeof(cn_real) / 4];
        memcpy(w, &x[i], sizeof w);
        for (size_t k = 0; k < sizeof w / 4; k++) h = (h ^ w[k]) * 1099511628211ull;
    }
    return h;
}

/* models/<name>.txt against the zoo's <name>, seed 7: the same node names, parameter names and values
 * (hashed bit for bit) and the same eval logits. One graph at a time (a VGG is over a gigabyte); the input
 * is small to keep the forward cheap. */
static void file_equals_zoo(const char *model, int hw) {
    char rel[128], path[512];
    snprintf(rel, sizeof rel, "models/%s.txt", model);
    source_path(path, sizeof path, rel);
    int64_t n = 3 * (int64_t)hw * hw;
    cn_real *input = malloc(sizeof(cn_real) * (size_t)n), logits[2][1000];
    cn_rng r;
    cn_rng_seed(&r, 3, 0);
    cn_rng_fill_normal(&r, input, n, 0, 1);
    uint64_t names[2], values[2];
    int ok[2] = {0, 0}, nodes[2] = {0, 0}, params[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        cn_graph *g = cn_graph_create();
        cn_graph_set_seed(g, 7);
        int x = cn_input(g, "x", cn_shape4(1, 3, hw, hw));
        int y = cn_model_build(g, k == 0 ? model : path, x, 1000);
        CHECK(y >= 0, "%s: %s", k == 0 ? model : path, cn_last_error());
        if (y >= 0 && cn_set_input(g, x, input, n) == CN_OK && cn_forward(g, CN_EVAL) == CN_OK) {
            names[k] = values[k] = 14695981039346656037ull;
            nodes[k] = cn_graph_node_count(g);
            params[k] = cn_param_count(g);
            for (int i = 0; i < nodes[k]; i++)
                names[k] = hash_bytes(names[k], cn_node_name(g, i), strlen(cn_node_name(g, i)) + 1);
            for (int i = 0; i < params[k]; i++) {
                cn_param p = cn_param_get(g, i);
                names[k] = hash_bytes(names[k], p.name, strlen(p.name) + 1);
                values[k] = hash_words(values[k], p.value->data, cn_tensor_numel(p.value));
            }
            memcpy(logits[k], cn_node_output(g, y), sizeof logits[k]);
            ok[k] = 1;
        }
        CHECK(ok[k] || y < 0, "%s: eval forward: %s", model, cn_last_error());
        cn_graph_free(g);
    }
    if (ok[0] && ok[1]) {
        CHECK(nodes[0] == nodes[1] && params[0] == params[1],
              "%s: %d nodes and %d parameters in the zoo, %d and %d from the file", model, nodes[0], params[0],
              nodes[1], params[1]);
        CHECK(names[0] == names[1], "%s: the same node and parameter names in the same order", model);
        CHECK(values[0] == values[1], "%s: the same seeded parameter values", model);
        CHECK(memcmp(logits[0], logits[1], sizeof logits[0]) == 0, "%s: eval logits bit-identical", model);
    }
    free(input);
}

int main(void) {
    arena_size = (size_t)420 << 20; /* more than the largest tensor, VGG's fc6 weight: 102.8M floats */
    arena = aligned_alloc(64, arena_size);
    if (!arena) {
        fprintf(stderr, "cannot allocate the arena\n");
        return 1;
    }
    use_arena(1);
    imagenet_models();
    alexnet_lrn();
    grey_28();
    use_arena(0);
    file_equals_zoo("alexnet", 64);
    file_equals_zoo("vgg16", 32);
    free(arena);
    return cn_test_finish();
}
