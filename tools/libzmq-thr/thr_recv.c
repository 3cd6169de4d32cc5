/*
 * thr_recv: the receiving half of zbench's libzmq reference measurement.
 *
 *   thr_recv ENDPOINT SIZE COUNT
 *
 * Binds a PULL socket on ENDPOINT (a tcp port may be *), prints "bound" and
 * the endpoint as bound on the first line, receives COUNT messages of SIZE bytes and
 * prints the throughput, timed as zbench times its throughput phase: from the
 * first message received to the last, msg/s = COUNT / that time. A message of
 * another size is an error (exit status 1). Pair it with thr_send.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int fail(const char *what)
{
    fprintf(stderr, "thr_recv: %s: %s\n", what, zmq_strerror(zmq_errno()));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: thr_recv ENDPOINT SIZE COUNT\n");
        return 2;
    }
    const char *endpoint = argv[1];
    long size = strtol(argv[2], NULL, 10);
    long count = strtol(argv[3], NULL, 10);
    if (size < 0 || count < 2) {
        fprintf(stderr, "thr_recv: SIZE must be >= 0 and COUNT >= 2\n");
        return 2;
    }

    void *ctx = zmq_ctx_new();
    if (ctx == NULL)
        return fail("zmq_ctx_new");
    void *pull = zmq_socket(ctx, ZMQ_PULL);
    if (pull == NULL)
        return fail("zmq_socket");
    if (zmq_bind(pull, endpoint) != 0)
        return fail("zmq_bind");
    /* The endpoint as bound (a tcp port given as * resolved), for the sender. */
    char bound[256];
    size_t bound_len = sizeof bound;
    if (zmq_getsockopt(pull, ZMQ_LAST_ENDPOINT, bound, &bound_len) != 0)
        return fail("zmq_getsockopt ZMQ_LAST_ENDPOINT");
    printf("bound %s\n", bound);
    fflush(stdout);

    zmq_msg_t msg;
    zmq_msg_init(&msg);
    double first = 0, last = 0;
    for (long i = 0; i < count; i++) {
        if (zmq_msg_recv(&msg, pull, 0) < 0)
            return fail("zmq_msg_recv");
        if ((long) zmq_msg_size(&msg) != size) {
            fprintf(stderr, "thr_recv: message %ld has %zu bytes, want %ld\n", i, zmq_msg_size(&msg), size);
            return 1;
        }
        if (i == 0)
            first = now_seconds();
    }
    last = now_seconds();
    zmq_msg_close(&msg);

    double secs = last - first;
    printf("size %ld B  messages %ld  seconds %.6f  msg/s %.0f  MB/s %.1f\n",
           size, count, secs, (double) count / secs, (double) count * (double) size / secs / 1e6);

    zmq_close(pull);
    zmq_ctx_term(ctx);
    return 0;
}
