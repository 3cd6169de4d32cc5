/*
 * lat_echo: the echoing half of zbench's libzmq latency reference (as
 * libzmq's local_lat).
 *
 *   lat_echo ENDPOINT SIZE COUNT [PATTERN]
 *
 * Binds a socket on ENDPOINT (a tcp port may be *), prints "bound" and the
 * endpoint as bound on the first line, then receives COUNT messages of SIZE
 * bytes and sends each back as it came (zmq_msg_send of the message
 * received). PATTERN is pair (a PAIR socket, as zbench's pair cells; the
 * default) or req-rep (a REP, as local_lat). A message of another size is an
 * error (exit status 1). Pair it with lat_ping.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static int fail(const char *what)
{
    fprintf(stderr, "lat_echo: %s: %s\n", what, zmq_strerror(zmq_errno()));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: lat_echo ENDPOINT SIZE COUNT [pair|req-rep]\n");
        return 2;
    }
    const char *endpoint = argv[1];
    long size = strtol(argv[2], NULL, 10);
    long count = strtol(argv[3], NULL, 10);
    const char *pattern = argc == 5 ? argv[4] : "pair";
    int type = strcmp(pattern, "pair") == 0 ? ZMQ_PAIR : strcmp(pattern, "req-rep") == 0 ? ZMQ_REP : -1;
    if (size < 0 || count < 1 || type < 0) {
        fprintf(stderr, "lat_echo: SIZE must be >= 0, COUNT >= 1, PATTERN pair or req-rep\n");
        return 2;
    }

    void *ctx = zmq_ctx_new();
    if (ctx == NULL)
        return fail("zmq_ctx_new");
    void *s = zmq_socket(ctx, type);
    if (s == NULL)
        return fail("zmq_socket");
    if (zmq_bind(s, endpoint) != 0)
        return fail("zmq_bind");
    char bound[256];
    size_t bound_len = sizeof bound;
    if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, bound, &bound_len) != 0)
        return fail("zmq_getsockopt ZMQ_LAST_ENDPOINT");
    printf("bound %s\n", bound);
    fflush(stdout);

    zmq_msg_t msg;
    zmq_msg_init(&msg);
    for (long i = 0; i < count; i++) {
        if (zmq_msg_recv(&msg, s, 0) < 0)
            return fail("zmq_msg_recv");
        if ((long) zmq_msg_size(&msg) != size) {
            fprintf(stderr, "lat_echo: message %ld has %zu bytes, want %ld\n", i, zmq_msg_size(&msg), size);
            return 1;
        }
        if (zmq_msg_send(&msg, s, 0) < 0)
            return fail("zmq_msg_send");
    }
    zmq_msg_close(&msg);

    int linger = -1; /* the last reply must leave before the socket goes */
    zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}
