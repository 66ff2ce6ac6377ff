/* test_fuzz_regressions.c — every input the ONNX fuzzer ever crashed on (the .onnx files of tests/fuzz/regressions) runs
 * through the fuzz target's body again: load, and run once when small. In the release build this proves no
 * crash; in CI's sanitizer build it also proves no overflow, leak or out-of-bounds access. */
#include "../fuzz/fuzz_onnx.c"
#include "cn_test.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(len > 0 ? (size_t)len : 1);
    *size = buf && len > 0 ? fread(buf, 1, (size_t)len, f) : 0;
    fclose(f);
    return buf;
}

int main(void) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/../../fuzz/regressions", CN_GOLDEN_DIR);
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    int count = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 5, ".onnx") != 0) continue;
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size = 0;
        unsigned char *data = read_all(path, &size);
        CHECK(data != NULL && size > 0, "cannot read %s", path);
        if (data) LLVMFuzzerTestOneInput(data, size);
        free(data);
        count++;
    }
    if (d) closedir(d);
    CHECK(count >= 1, "no regression inputs found in %s", dir);
    printf("%d fuzz regression inputs ran\n", count);
    return cn_test_finish();
}
