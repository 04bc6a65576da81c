/* A pthread program as C users write it, built with clang against the
 * threaded wasi-libc: threads that share a mutex-protected total, wait on a
 * condition variable, and are joined; with the argument "exit-from-child",
 * a thread ends the whole program with exit(23). */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define THREADS 6

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t all_started = PTHREAD_COND_INITIALIZER;
static int started = 0;
static unsigned long long total = 0;

static void *work(void *arg) {
    unsigned long long n = 1000ULL * (unsigned long long)(size_t)arg;
    unsigned long long sum = 0;
    pthread_mutex_lock(&lock);
    started++;
    pthread_cond_broadcast(&all_started);
    while (started < THREADS)
        pthread_cond_wait(&all_started, &lock);
    pthread_mutex_unlock(&lock);
    for (unsigned long long i = 1; i <= n; i++)
        sum += i;
    pthread_mutex_lock(&lock);
    total += sum;
    pthread_mutex_unlock(&lock);
    return (void *)(size_t)(sum % 1000003);
}

static void *exit_now(void *arg) {
    (void)arg;
    printf("child exits\n");
    fflush(stdout);
    exit(23);
}

int main(int argc, char **argv) {
    pthread_t threads[THREADS];
    if (argc > 1 && strcmp(argv[1], "exit-from-child") == 0) {
        pthread_t t;
        if (pthread_create(&t, NULL, exit_now, NULL) != 0)
            return 1;
        for (;;)
            sleep(3600);
    }
    for (size_t i = 0; i < THREADS; i++) {
        if (pthread_create(&threads[i], NULL, work, (void *)(i + 1)) != 0) {
            printf("pthread_create failed\n");
            return 1;
        }
    }
    unsigned long long check = 0;
    for (size_t i = 0; i < THREADS; i++) {
        void *ret;
        pthread_join(threads[i], &ret);
        check += (size_t)ret;
    }
    printf("threads: %d\n", THREADS);
    printf("total: %llu\n", total);
    printf("check: %llu\n", check);
    return 0;
}
