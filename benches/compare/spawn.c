/* The workload of the host comparison (scripts/compare.sh), built both for
 * wasm32-wasip1-threads (run on this host and on wasmtime 46) and natively:
 *
 *   roundtrip N   N times: create a thread, which returns; join it.
 *                 Prints the microseconds per round trip.
 *   burst N       create N threads back to back, then join them all.
 *                 Prints the milliseconds for the whole burst.
 *   exit N MODE [MB]
 *                 start N threads that spin (MODE spin) or wait on a
 *                 condition variable forever (MODE park), then print the
 *                 wall-clock time in nanoseconds and exit(0): the script
 *                 measures how long the process takes to end after that.
 *                 With MB, the heap first grows by MB MiB and each parked
 *                 thread waits on a condition variable of its own, spread
 *                 evenly over that block (the last one at its top).
 *   startup 0     returns at once: the script measures the whole process.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *nothing(void *arg) {
    return arg;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int started = 0;
static volatile int stop = 0;

static void *spin(void *arg) {
    pthread_mutex_lock(&lock);
    started++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    while (!stop) {
    }
    return arg;
}

struct place {
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

static void *park(void *arg) {
    pthread_mutex_lock(&lock);
    started++;
    pthread_cond_broadcast(&cond);
    if (arg == NULL) {
        for (;;)
            pthread_cond_wait(&cond, &lock);
    }
    pthread_mutex_unlock(&lock);
    struct place *own = arg;
    pthread_mutex_lock(&own->lock);
    for (;;)
        pthread_cond_wait(&own->cond, &own->lock);
    return arg;
}

int main(int argc, char **argv) {
    if (argc < 3)
        return 2;
    int n = atoi(argv[2]);
    pthread_t *threads = calloc((size_t)n, sizeof *threads);
    if (strcmp(argv[1], "roundtrip") == 0) {
        double start = now(CLOCK_MONOTONIC);
        for (int i = 0; i < n; i++) {
            if (pthread_create(&threads[i], NULL, nothing, NULL) != 0)
                return 3;
            pthread_join(threads[i], NULL);
        }
        printf("%.2f\n", (now(CLOCK_MONOTONIC) - start) / 1e3 / n);
        return 0;
    }
    if (strcmp(argv[1], "burst") == 0) {
        double start = now(CLOCK_MONOTONIC);
        for (int i = 0; i < n; i++)
            if (pthread_create(&threads[i], NULL, nothing, NULL) != 0)
                return 3;
        for (int i = 0; i < n; i++)
            pthread_join(threads[i], NULL);
        printf("%.3f\n", (now(CLOCK_MONOTONIC) - start) / 1e6);
        return 0;
    }
    if (strcmp(argv[1], "startup") == 0)
        return 0;
    if (strcmp(argv[1], "exit") == 0 && (argc == 4 || argc == 5)) {
        void *(*body)(void *) = strcmp(argv[3], "spin") == 0 ? spin : park;
        struct place **places = calloc((size_t)n, sizeof *places);
        if (argc == 5) {
            size_t size = (size_t)atoi(argv[4]) << 20;
            char *block = malloc(size);
            if (block == NULL || body != park)
                return 3;
            for (int i = 0; i < n; i++) {
                size_t at = (size - sizeof(struct place)) / (size_t)(n > 1 ? n - 1 : 1) * (size_t)i;
                places[i] = (struct place *)(block + (at & ~(size_t)15));
                pthread_mutex_init(&places[i]->lock, NULL);
                pthread_cond_init(&places[i]->cond, NULL);
            }
        }
        for (int i = 0; i < n; i++)
            if (pthread_create(&threads[i], NULL, body, places[i]) != 0)
                return 3;
        pthread_mutex_lock(&lock);
        while (started < n)
            pthread_cond_wait(&cond, &lock);
        pthread_mutex_unlock(&lock);
        printf("%.0f\n", now(CLOCK_REALTIME));
        fflush(stdout);
        exit(0);
    }
    return 2;
}
