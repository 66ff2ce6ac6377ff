/* main.c — the convnet command line: `convnet COMMAND [options]`. Each command lives in its own file and
 * registers in the table below. Only the CLI prints and exits; the library returns errors. */
#include "cli.h"
#include <stdio.h>
#include <string.h>

static const cli_command commands[] = {
    {"bench", "time a GEMM, a convolution layer or a zoo model (median ms, GFLOP/s, algorithm)", cmd_bench},
    {"train", "train a model on a dataset", cmd_train},
    {"eval", "accuracy, per-class accuracy and confusion matrix of a checkpoint", cmd_eval},
    {"predict", "the most likely classes of images", cmd_predict},
    {"filter", "filter an image with a kernel (blur, sharpen, Sobel, ...)", cmd_filter},
    {"run", "run an ONNX model on .pb / .npy tensors", cmd_run},
    {"smoke", "one forward and backward pass of a zoo model on random data", cmd_smoke},
    {"export", "write a model as a checkpoint or as ONNX (.onnx), batch norm folded with --fold-bn", cmd_export},
    {"summary", "per-layer table of a model: shapes, parameters, multiply-adds, memory, receptive field", cmd_summary},
    {"viz", "pictures of a trained model: first-layer filters, activations", cmd_viz},
    {"version", "print the version", cmd_version},
};

static void usage(FILE *f) {
    fprintf(f, "usage: convnet COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n`convnet COMMAND --help` tells more.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "convnet: unknown command '%s' (try convnet --help)\n", argv[1]);
    return 2;
}

int cmd_version(int argc, char **argv) {
    (void)argc;
    (void)argv;
    printf("convnet %s\n", CN_VERSION);
    return 0;
}
