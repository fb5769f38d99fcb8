/*
 * replay.h - the corpus replayer shared by every fuzz target. Built with
 * -DWITH_MAIN (`make check`), a target becomes `fuzz_x CORPUS_DIR`: every
 * file of the directory is fed once to LLVMFuzzerTestOneInput (the same
 * function libFuzzer drives), under ASan/UBSan. A crash aborts; otherwise
 * it ends with "fuzz_x: N passed, 0 failed". Inputs longer than max are
 * cut, as libFuzzer's -max_len would.
 */
#ifndef FUZZ_REPLAY_H
#define FUZZ_REPLAY_H

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Runs every file of dir; returns the exit status. */
static inline int fuzz_replay(const char *name, int argc, char **argv,
                              size_t max)
{
    DIR           *dir;
    struct dirent *de;
    int            n = 0;
    uint8_t       *buf;

    if (argc != 2 || (dir = opendir(argv[1])) == NULL) {
        fprintf(stderr, "usage: %s CORPUS_DIR (a readable directory)\n",
                name);
        return 2;
    }
    buf = malloc(max + 1);
    if (buf == NULL) {
        closedir(dir);
        return 2;
    }
    while ((de = readdir(dir)) != NULL) {
        char   path[4096];
        FILE  *f;
        size_t len;

        if (de->d_name[0] == '.') {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
        if ((f = fopen(path, "rb")) == NULL) {
            continue;
        }
        len = fread(buf, 1, max, f);
        fclose(f);
        LLVMFuzzerTestOneInput(buf, len);
        n++;
    }
    closedir(dir);
    free(buf);
    printf("%s: %d passed, 0 failed\n", name, n);
    return n > 0 ? 0 : 1;
}

#endif /* FUZZ_REPLAY_H */
