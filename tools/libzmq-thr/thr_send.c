/*
 * thr_send: the sending half of zbench's libzmq reference measurement.
 *
 *   thr_send ENDPOINT SIZE COUNT
 *
 * Connects a PUSH socket to ENDPOINT and sends COUNT messages of SIZE bytes
 * as fast as the socket takes them (zmq_send copies the caller's buffer, as
 * the engines under test do), then waits until all of them have left (the
 * default infinite linger). Pair it with thr_recv.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static int fail(const char *what)
{
    fprintf(stderr, "thr_send: %s: %s\n", what, zmq_strerror(zmq_errno()));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: thr_send ENDPOINT SIZE COUNT\n");
        return 2;
    }
    const char *endpoint = argv[1];
    long size = strtol(argv[2], NULL, 10);
    long count = strtol(argv[3], NULL, 10);
    if (size < 0 || count < 1) {
        fprintf(stderr, "thr_send: SIZE must be >= 0 and COUNT >= 1\n");
        return 2;
    }
    char *payload = calloc(1, size > 0 ? (size_t) size : 1);
    if (payload == NULL) {
        fprintf(stderr, "thr_send: out of memory\n");
        return 1;
    }

    void *ctx = zmq_ctx_new();
    if (ctx == NULL)
        return fail("zmq_ctx_new");
    void *push = zmq_socket(ctx, ZMQ_PUSH);
    if (push == NULL)
        return fail("zmq_socket");
    if (zmq_connect(push, endpoint) != 0)
        return fail("zmq_connect");

    for (long i = 0; i < count; i++) {
        if (zmq_send(push, payload, (size_t) size, 0) < 0)
            return fail("zmq_send");
    }

    zmq_close(push);   /* linger -1: returns once every message has left */
    zmq_ctx_term(ctx);
    free(payload);
    return 0;
}
