/* cli.h — the commands of the convnet tool. Each returns the process exit code: 0 ok, 1 failure, 2 usage. */
#ifndef CN_CLI_H
#define CN_CLI_H

#include "convnet.h"

typedef struct {
    const char *name;
    const char *help;
    int (*run)(int argc, char **argv);  /* argv[0] is the command name */
} cli_command;

int cmd_version(int argc, char **argv);

#endif
