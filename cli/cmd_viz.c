/* cmd_viz.c — `convnet viz filters CKPT OUT.png` and `convnet viz activations CKPT IMAGE OUT.png --layer NAME`:
 * pictures of what a trained network learned (cn_viz_filters / cn_viz_activations on the model rebuilt from
 * the checkpoint). */
#include "cli.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void viz_usage(void) {
    printf("usage: convnet viz filters CKPT OUT.png [--layer NAME] [--scale N]\n"
           "       convnet viz activations CKPT IMAGE OUT.png [--layer NAME] [--scale N]\n"
           "filters: the weights of the first convolution (or of --layer NAME) as a grid of tiles, each filter\n"
           "  scaled to its own min..max; colour when the layer sees 3 input channels.\n"
           "activations: run IMAGE (resized to the model's input, normalised as in training) through the model in\n"
           "  eval mode and draw each channel of layer NAME's output (default: the first convolution) as a tile,\n"
           "  each scaled to its own min..max; prints the predicted class.\n"
           "  --scale N   enlarge each weight / activation to NxN pixels (default: tiles of about 48 pixels)\n");
}

/* Every node name, comma-separated, for the "no layer" message. */
static void layer_list(const cn_graph *g, char *buf, size_t len) {
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 1; i < cn_graph_node_count(g) && used + 8 < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i > 1 ? ", " : "", cn_node_name(g, i));
    if (used >= len) strcpy(buf + len - 4, "...");
}

static int find_layer(const cn_graph *g, const char *layer, int *node) {
    if (!layer) {
        *node = -1;
        for (int i = 0; i < cn_graph_node_count(g) && *node < 0; i++)
            if (strcmp(cn_node_op(g, i), "Conv") == 0) *node = i;
        if (*node < 0) return cli_fail(1, "viz: the model has no convolution layer; name one with --layer");
        return 0;
    }
    *node = cn_graph_find(g, layer);
    if (*node < 0) {
        char names[1024];
        layer_list(g, names, sizeof names);
        return cli_fail(2, "viz: no layer '%s' in the model (layers: %s)", layer, names);
    }
    return 0;
}

int cmd_viz(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        if (argc < 2) return cli_fail(2, "viz: need 'filters' or 'activations' (try convnet viz --help)");
        viz_usage();
        return 0;
    }
    bool acts = strcmp(argv[1], "activations") == 0;
    if (!acts && strcmp(argv[1], "filters") != 0)
        return cli_fail(2, "viz: unknown picture '%s' (use filters or activations)", argv[1]);
    const char *pos[3] = {NULL, NULL, NULL}, *layer = NULL;
    int n_pos = 0, want = acts ? 3 : 2;
    long scale = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            viz_usage();
            return 0;
        } else if (strcmp(argv[i], "--layer") == 0 && i + 1 < argc) layer = argv[++i];
        else if (strcmp(argv[i], "--scale") == 0 && i + 1 < argc) {
            if (!cli_parse_long(argv[++i], 1, 256, &scale))
                return cli_fail(2, "viz: --scale '%s' is not in 1..256", argv[i]);
        } else if (argv[i][0] == '-' && argv[i][1] == '-')
            return cli_fail(2, "viz: unknown option '%s' (try convnet viz --help)", argv[i]);
        else if (n_pos < want) pos[n_pos++] = argv[i];
        else return cli_fail(2, "viz: unexpected argument '%s'", argv[i]);
    }
    if (n_pos < want)
        return cli_fail(2, acts ? "viz: need CKPT IMAGE OUT.png (try convnet viz --help)"
                                : "viz: need CKPT OUT.png (try convnet viz --help)");
    const char *out_path = pos[want - 1];

    int input, logits, node, code;
    cn_train_state state = {0};
    cn_graph *g = cn_model_load(pos[0], 1, &input, &logits, &state);
    if (!g) return cli_fail(1, "viz: %s", cn_last_error());
    cn_image pic = {0}, img = {0}, sized = {0};
    if ((code = find_layer(g, layer, &node))) goto done;
    if (!acts) {
        if (cn_viz_filters(g, node, (int)scale, &pic)) {
            code = cli_fail(1, "viz: %s", cn_last_error());
            goto done;
        }
    } else {
        cn_shape in = cn_node_shape(g, input);
        int c = (int)in.dims[1], h = (int)in.dims[2], w = (int)in.dims[3];
        if (c != 1 && c != 3) {
            code = cli_fail(1, "viz: the model takes %d input channels; images have 1 or 3", c);
            goto done;
        }
        if (cn_image_load(&img, pos[1], c)) {
            code = cli_fail(1, "viz: %s", cn_last_error());
            goto done;
        }
        const cn_image *x = &img;
        if (img.height != h || img.width != w) {
            if (cn_image_alloc(&sized, c, h, w) || cn_image_resize(&img, &sized)) {
                code = cli_fail(1, "viz: %s", cn_last_error());
                goto done;
            }
            x = &sized;
        }
        if (state.n_norm == c) cn_image_normalize((cn_image *)x, state.norm_mean, state.norm_std);
        int64_t count = (int64_t)c * h * w;
        cn_real *data = malloc(sizeof(cn_real) * (size_t)count);
        if (!data) {
            code = cli_fail(1, "viz: out of memory");
            goto done;
        }
        for (int64_t i = 0; i < count; i++) data[i] = x->data[i];
        cn_status st = cn_set_input(g, input, data, count);
        free(data);
        if (!st) st = cn_graph_mark_output(g, node);
        if (!st) st = cn_graph_mark_output(g, logits);
        if (!st) st = cn_forward(g, CN_EVAL);
        if (!st) st = cn_viz_activations(g, node, 0, (int)scale, &pic);
        if (st) {
            code = cli_fail(1, "viz: %s", cn_last_error());
            goto done;
        }
        const cn_real *z = cn_node_output(g, logits);
        int classes = (int)cn_node_shape(g, logits).dims[1], best = 0;
        double zmax = z[0], sum = 0;
        for (int k = 1; k < classes; k++)
            if (z[k] > z[best]) best = k, zmax = z[k];
        for (int k = 0; k < classes; k++) sum += exp((double)z[k] - zmax);
        printf("predicted: %s (probability %.3f)\n",
               best < state.n_classes && state.class_names ? state.class_names[best] : "?", 1.0 / sum);
    }
    if (cn_image_save_png(&pic, out_path)) {
        code = cli_fail(1, "viz: %s", cn_last_error());
        goto done;
    }
    printf("%s: %s of %s (%s) -> %s (%dx%d)\n", pos[0], acts ? "activations" : "filters", cn_node_name(g, node),
           cn_node_op(g, node), out_path, pic.width, pic.height);
done:
    cn_image_free(&pic);
    cn_image_free(&img);
    cn_image_free(&sized);
    cn_train_state_free(&state);
    cn_graph_free(g);
    return code;
}
