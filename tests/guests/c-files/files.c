/* Threads sharing files through stdio in the preopened directory /sandbox,
 * built with clang against the threaded wasi-libc: each thread writes its
 * own file with fprintf, reads it back with fgets, renames it and (odd
 * ones) removes it; all append lines to one FILE* the main thread opened
 * before starting them. */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>

#define THREADS 6
#define LINES 40

static FILE *shared;

static void *work(void *arg) {
    int i = (int)(size_t)arg;
    char path[64], renamed[64], line[64], expected[64];
    snprintf(path, sizeof path, "/sandbox/c%d.txt", i);
    snprintf(renamed, sizeof renamed, "/sandbox/d%d.txt", i);
    FILE *f = fopen(path, "w");
    if (!f)
        exit(10);
    for (int n = 0; n < LINES; n++)
        fprintf(f, "thread %d line %d\n", i, n);
    fclose(f);
    f = fopen(path, "r");
    if (!f)
        exit(11);
    for (int n = 0; n < LINES; n++) {
        snprintf(expected, sizeof expected, "thread %d line %d\n", i, n);
        if (!fgets(line, sizeof line, f) || strcmp(line, expected) != 0)
            exit(12);
    }
    if (fgets(line, sizeof line, f))
        exit(13);
    fclose(f);
    if (rename(path, renamed) != 0)
        exit(14);
    if (i % 2 == 1 && remove(renamed) != 0)
        exit(15);
    for (int n = 0; n < LINES; n++) {
        fprintf(shared, "%d:%d\n", i, n);
        fflush(shared);
    }
    return NULL;
}

static int compare(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(void) {
    shared = fopen("/sandbox/shared.txt", "a");
    if (!shared)
        return 20;
    pthread_t threads[THREADS];
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&threads[i], NULL, work, (void *)(size_t)i) != 0)
            return 21;
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    fclose(shared);

    DIR *dir = opendir("/sandbox");
    if (!dir)
        return 22;
    char *names[64];
    int count = 0;
    struct dirent *e;
    while ((e = readdir(dir)) && count < 64)
        if (e->d_name[0] != '.')
            names[count++] = strdup(e->d_name);
    closedir(dir);
    qsort(names, (size_t)count, sizeof names[0], compare);
    printf("files:");
    for (int i = 0; i < count; i++)
        printf(" %s", names[i]);
    printf("\n");

    FILE *f = fopen("/sandbox/shared.txt", "r");
    char line[64];
    int lines = 0;
    while (fgets(line, sizeof line, f))
        lines++;
    fclose(f);
    printf("shared lines: %d\n", lines);
    return 0;
}
