/* cli.h — the commands of the convnet tool. Each returns the process exit code: 0 ok, 1 failure, 2 usage. */
#ifndef CN_CLI_H
#define CN_CLI_H

#include "convnet.h"
#include <stdbool.h>

typedef struct {
    const char *name;
    const char *help;
    int (*run)(int argc, char **argv);  /* argv[0] is the command name */
} cli_command;

int cmd_version(int argc, char **argv);
int cmd_smoke(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_filter(int argc, char **argv);
int cmd_viz(int argc, char **argv);

int cmd_summary(int argc, char **argv);
int cmd_export(int argc, char **argv);

/* ---- the MODEL argument of a command (cli_model.c): a zoo name or a checkpoint, made into a graph. */
typedef struct {
    int64_t batch;          /* >= 1 */
    int64_t input[3];       /* C, H, W; 0s: the model's natural input (a checkpoint's own) */
    int classes;            /* 0: the model's default (a checkpoint's own) */
    uint64_t seed;          /* a zoo model's initial weights */
} cli_model_request;
typedef struct {
    cn_graph *graph;
    int input, logits;      /* node ids */
    char kind[16];          /* "zoo", "checkpoint" */
    char name[CN_NAME_MAX]; /* the zoo name of the model */
    int64_t input_shape[3]; /* C, H, W of one image */
    int classes;
    cn_train_state state;   /* a checkpoint's training state; for a zoo model: model and input_shape */
    char error[512];        /* why cli_model_open failed */
} cli_model;
/* false with the message in m->error (unknown name, unreadable file, an input the model cannot take). */
bool cli_model_open(cli_model *m, const char *arg, const cli_model_request *req);
void cli_model_close(cli_model *m);
/* "CxHxW" */
bool cli_parse_shape(const char *s, int64_t out[3]);

/* Print "convnet: <message>" on stderr and return code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Strict number parsing: the whole string, within [lo, hi]. */
bool cli_parse_long(const char *s, long lo, long hi, long *out);
bool cli_parse_double(const char *s, double lo, double hi, double *out);

#endif
