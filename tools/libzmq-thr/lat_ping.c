/*
 * lat_ping: the timing half of zbench's libzmq latency reference (as
 * libzmq's remote_lat, with every round trip timed).
 *
 *   lat_ping ENDPOINT SIZE COUNT [PATTERN [WARMUP]]
 *
 * Connects a socket to ENDPOINT (a PAIR, or a REQ for PATTERN req-rep), does
 * WARMUP round trips untimed (default 10, as zbench's warm-up of the echo
 * path), then COUNT round trips of SIZE bytes, each timed with
 * CLOCK_MONOTONIC, and prints the round-trip p50, p99 and mean and the
 * one-way mean (RTT mean / 2, the figure remote_lat prints as "average
 * latency"). Pair it with lat_echo.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int fail(const char *what)
{
    fprintf(stderr, "lat_ping: %s: %s\n", what, zmq_strerror(zmq_errno()));
    return 1;
}

static int cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

/* quantile is the value whose rank is q of the n sorted values, rounded. */
static int64_t quantile(const int64_t *v, long n, double q)
{
    long rank = (long) (q * (double) n + 0.5);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 6) {
        fprintf(stderr, "usage: lat_ping ENDPOINT SIZE COUNT [pair|req-rep [WARMUP]]\n");
        return 2;
    }
    const char *endpoint = argv[1];
    long size = strtol(argv[2], NULL, 10);
    long count = strtol(argv[3], NULL, 10);
    const char *pattern = argc >= 5 ? argv[4] : "pair";
    long warmup = argc == 6 ? strtol(argv[5], NULL, 10) : 10;
    int type = strcmp(pattern, "pair") == 0 ? ZMQ_PAIR : strcmp(pattern, "req-rep") == 0 ? ZMQ_REQ : -1;
    if (size < 0 || count < 1 || warmup < 0 || type < 0) {
        fprintf(stderr, "lat_ping: SIZE must be >= 0, COUNT >= 1, WARMUP >= 0, PATTERN pair or req-rep\n");
        return 2;
    }
    char *payload = calloc(1, size > 0 ? (size_t) size : 1);
    int64_t *rtt = calloc((size_t) count, sizeof *rtt);
    if (payload == NULL || rtt == NULL) {
        fprintf(stderr, "lat_ping: out of memory\n");
        return 1;
    }

    void *ctx = zmq_ctx_new();
    if (ctx == NULL)
        return fail("zmq_ctx_new");
    void *s = zmq_socket(ctx, type);
    if (s == NULL)
        return fail("zmq_socket");
    if (zmq_connect(s, endpoint) != 0)
        return fail("zmq_connect");

    zmq_msg_t msg;
    zmq_msg_init(&msg);
    for (long i = -warmup; i < count; i++) {
        int64_t t0 = now_ns();
        if (zmq_send(s, payload, (size_t) size, 0) < 0)
            return fail("zmq_send");
        if (zmq_msg_recv(&msg, s, 0) < 0)
            return fail("zmq_msg_recv");
        int64_t t1 = now_ns();
        if ((long) zmq_msg_size(&msg) != size) {
            fprintf(stderr, "lat_ping: reply has %zu bytes, want %ld\n", zmq_msg_size(&msg), size);
            return 1;
        }
        if (i >= 0)
            rtt[i] = t1 - t0;
    }
    zmq_msg_close(&msg);

    double sum = 0;
    for (long i = 0; i < count; i++)
        sum += (double) rtt[i];
    qsort(rtt, (size_t) count, sizeof *rtt, cmp);
    double mean = sum / (double) count;
    printf("size %ld B  round trips %ld  rtt p50 %.3f us  rtt p99 %.3f us  rtt mean %.3f us  one-way mean %.3f us\n",
           size, count, (double) quantile(rtt, count, 0.50) / 1e3, (double) quantile(rtt, count, 0.99) / 1e3,
           mean / 1e3, mean / 2e3);

    zmq_close(s);
    zmq_ctx_term(ctx);
    free(rtt);
    free(payload);
    return 0;
}
