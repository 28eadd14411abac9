/* Runs a fuzz target once on each file given (or in each directory given), without libFuzzer. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/*
 * Linked with a target's source in place of libFuzzer, with the project's own
 * compiler and flags, so that ctest replays the seed corpus and every crash
 * regression in every build. A target that crashes ends the process (exit
 * status non-zero); a missing directory counts as empty.
 */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return 1;
    }
    uint8_t *data = NULL;
    size_t len = 0, cap = 0, k;
    do {
        if (len == cap) {
            cap = cap ? 2 * cap : 65536;
            uint8_t *d = realloc(data, cap);
            if (d == NULL) {
                fprintf(stderr, "%s: out of memory\n", path);
                free(data);
                fclose(fp);
                return 1;
            }
            data = d;
        }
        k = fread(data + len, 1, cap - len, fp);
        len += k;
    } while (k > 0);
    fclose(fp);
    fprintf(stderr, "replay %s (%zu bytes)\n", path, len);
    /* A copy of exactly len bytes, so that ASan sees any read past the input. */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) {
        free(data);
        return 1;
    }
    if (len > 0) {
        memcpy(exact, data, len);
    }
    free(data);
    (void)LLVMFuzzerTestOneInput(exact, len);
    free(exact);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of dir, in name order (README files are not inputs). */
static int run_dir(const char *dir, int *count)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        return errno == ENOENT ? 0 : 1;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    int rv = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "README", 6) == 0) {
            continue;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **v = realloc(names, cap * sizeof(*v));
            if (v == NULL) {
                rv = 1;
                break;
            }
            names = v;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if ((names[n] = malloc(len)) == NULL) {
            rv = 1;
            break;
        }
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), by_name);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (rv == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
            rv = run_file(names[i]);
            ++*count;
        }
        free(names[i]);
    }
    free(names);
    return rv;
}

int main(int argc, char **argv)
{
    int count = 0, rv = 0;
    if (LLVMFuzzerInitialize != NULL) {
        (void)LLVMFuzzerInitialize(&argc, &argv);
    }
    for (int i = 1; i < argc && rv == 0; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            rv = run_dir(argv[i], &count);
        } else if (stat(argv[i], &st) == 0) {
            rv = run_file(argv[i]);
            count++;
        } else if (errno != ENOENT) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            rv = 1;
        }
    }
    fprintf(stderr, "%d inputs replayed%s\n", count, rv ? ", with errors" : "");
    return rv;
}
