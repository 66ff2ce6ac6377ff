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
int cmd_bench(int argc, char **argv);

/* Print "convnet: <message>" on stderr and return code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Strict number parsing: the whole string, within [lo, hi]. */
bool cli_parse_long(const char *s, long lo, long hi, long *out);
bool cli_parse_double(const char *s, double lo, double hi, double *out);

#endif
