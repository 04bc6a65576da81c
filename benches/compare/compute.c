/* The compute workload of the host comparison (scripts/compare.sh), built
 * both for wasm32-wasip1-threads and natively:
 *
 *   compute THREADS   compresses 16 MiB of generated text, in 64 blocks of
 *                     256 KiB, four times over, with a greedy LZ77
 *                     compressor (a hash table of the last position of each
 *                     4-byte sequence). THREADS workers take blocks from a
 *                     shared counter (a worker pool); with THREADS = 1 the
 *                     main thread does all the work and no thread is
 *                     created.
 *
 * Prints the milliseconds the compression took (measured inside the
 * program, so start-up is not counted) and the total compressed size, which
 * is the same on every runtime.
 */

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BLOCK (256 * 1024)
#define BLOCKS 64
#define ROUNDS 4
#define HASH_BITS 16
#define MIN_MATCH 4
#define MAX_DISTANCE 65535

static unsigned char *input;
static int next_block = 0;
static long long total = 0;
static pthread_mutex_t total_lock = PTHREAD_MUTEX_INITIALIZER;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Text from a small vocabulary with a random walk over it: compressible,
 * with matches of every length and distance. */
static void generate(unsigned char *out, size_t len) {
    static const char *words[] = {
        "thread ", "spawn ", "memory ", "shared ", "atomic ", "wait ", "notify ", "module ",
        "instance ", "import ", "export ", "table ", "function ", "value ", "result ", "trap ",
        "\n", ", ", "the ", "a ", "of ", "and ", "to ", "in ",
    };
    uint32_t state = 2463534242u;
    size_t at = 0;
    while (at < len) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        const char *w = words[state % (sizeof words / sizeof *words)];
        size_t n = strlen(w);
        if (state % 7 == 0 && at > 1000) {
            /* repeat an earlier stretch */
            size_t from = at - 1 - (state >> 8) % (at < 60000 ? at - 1 : 60000);
            n = 8 + (state >> 24) % 40;
            for (size_t i = 0; i < n && at < len; i++, at++)
                out[at] = out[from + i];
            continue;
        }
        for (size_t i = 0; i < n && at < len; i++, at++)
            out[at] = (unsigned char)w[i];
    }
}

static uint32_t hash4(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return (v * 2654435761u) >> (32 - HASH_BITS);
}

/* Greedy LZ77: literals cost 1 byte (plus a byte per run), a match 3. */
static long long compress(const unsigned char *in, size_t len, int32_t *table) {
    for (size_t i = 0; i < (1u << HASH_BITS); i++)
        table[i] = -1;
    long long size = 0;
    size_t literals = 0;
    size_t i = 0;
    while (i + MIN_MATCH <= len) {
        uint32_t h = hash4(in + i);
        int32_t cand = table[h];
        table[h] = (int32_t)i;
        if (cand >= 0 && i - (size_t)cand <= MAX_DISTANCE && memcmp(in + cand, in + i, MIN_MATCH) == 0) {
            size_t n = MIN_MATCH;
            while (i + n < len && n < 258 && in[cand + n] == in[i + n])
                n++;
            size += (long long)literals + (literals > 0) + 3;
            literals = 0;
            for (size_t k = 1; k < n && i + k + MIN_MATCH <= len; k++)
                table[hash4(in + i + k)] = (int32_t)(i + k);
            i += n;
        } else {
            literals++;
            i++;
        }
    }
    literals += len - i;
    return size + (long long)literals + (literals > 0);
}

static void *worker(void *arg) {
    int32_t *table = malloc(sizeof(int32_t) << HASH_BITS);
    long long mine = 0;
    for (;;) {
        int task = __atomic_fetch_add(&next_block, 1, __ATOMIC_RELAXED);
        if (task >= BLOCKS * ROUNDS)
            break;
        mine += compress(input + (size_t)(task % BLOCKS) * BLOCK, BLOCK, table);
    }
    free(table);
    pthread_mutex_lock(&total_lock);
    total += mine;
    pthread_mutex_unlock(&total_lock);
    return arg;
}

int main(int argc, char **argv) {
    if (argc != 3 || strcmp(argv[1], "compute") != 0)
        return 2;
    int threads = atoi(argv[2]);
    if (threads < 1 || threads > 64)
        return 2;
    input = malloc((size_t)BLOCK * BLOCKS);
    generate(input, (size_t)BLOCK * BLOCKS);

    double start = now_ms();
    if (threads == 1) {
        worker(NULL);
    } else {
        pthread_t ids[64];
        for (int t = 0; t < threads; t++)
            if (pthread_create(&ids[t], NULL, worker, NULL) != 0)
                return 3;
        for (int t = 0; t < threads; t++)
            pthread_join(ids[t], NULL);
    }
    double ms = now_ms() - start;
    printf("%.3f %lld\n", ms, total);
    return 0;
}
