/* A pthread server on preopened sockets, through wasi-libc's socket calls.
 *
 * `net N`: descriptor 3 is a listener. The main thread waits for it with
 * poll(), accepts, and starts a thread per connection. Each connection
 * starts with a 4-byte length, peeked with MSG_PEEK and then read with
 * MSG_WAITALL together with its body; the thread answers "<length>:" and
 * the body in upper case, shuts its side down and closes. After N
 * connections, accept() on the listener at descriptor 4 (nobody connects
 * to it), made non-blocking with fcntl, must fail with EAGAIN; then the
 * program prints "served N".
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_CONNECTIONS 64

static void fail(const char *what) {
    fprintf(stderr, "%s: %s (errno %d)\n", what, strerror(errno), errno);
    exit(1);
}

static void *answer(void *arg) {
    int fd = (int)(intptr_t)arg;
    unsigned char header[4];
    if (recv(fd, header, 4, MSG_PEEK | MSG_WAITALL) != 4) fail("recv MSG_PEEK");
    uint32_t len = (uint32_t)header[0] | (uint32_t)header[1] << 8 |
                   (uint32_t)header[2] << 16 | (uint32_t)header[3] << 24;
    size_t total = 4 + len;
    unsigned char *request = malloc(total);
    if (recv(fd, request, total, MSG_WAITALL) != (ssize_t)total) fail("recv MSG_WAITALL");
    char prefix[16];
    int n = snprintf(prefix, sizeof prefix, "%u:", len);
    for (size_t i = 4; i < total; i++) request[i] = (unsigned char)toupper(request[i]);
    if (send(fd, prefix, n, 0) != n) fail("send");
    if (write(fd, request + 4, len) != (ssize_t)len) fail("write");
    if (shutdown(fd, SHUT_WR) != 0) fail("shutdown");
    free(request);
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: net N\n");
        return 2;
    }
    int count = atoi(argv[1]);
    if (count < 1 || count > MAX_CONNECTIONS) return 2;
    pthread_t threads[MAX_CONNECTIONS];
    for (int i = 0; i < count; i++) {
        struct pollfd p = {.fd = 3, .events = POLLIN};
        int ready;
        while ((ready = poll(&p, 1, 100)) == 0) {
        }
        if (ready != 1 || !(p.revents & POLLIN)) fail("poll");
        int fd = accept(3, NULL, NULL);
        if (fd < 0) fail("accept");
        if (pthread_create(&threads[i], NULL, answer, (void *)(intptr_t)fd) != 0)
            fail("pthread_create");
    }
    for (int i = 0; i < count; i++) pthread_join(threads[i], NULL);

    int flags = fcntl(4, F_GETFL);
    if (flags < 0 || fcntl(4, F_SETFL, flags | O_NONBLOCK) != 0) fail("fcntl");
    if (accept(4, NULL, NULL) >= 0 || errno != EAGAIN) fail("accept on an idle listener");
    printf("idle accept: EAGAIN\nserved %d\n", count);
    return 0;
}
