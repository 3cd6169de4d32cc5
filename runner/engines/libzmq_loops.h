/*
 * libzmq_loops.h: the hot loops of one side of a zbench run, in C, over
 * libzmq: stream send, stream receive with the size check, echo, and timed
 * request/reply round trips.
 *
 * Two hosts include this header and run exactly this code: the libzmq
 * engine of zbench (runner/engines/libzmq.go, through cgo: one call per
 * loop, so that Go is crossed per phase, not per message) and the plain C
 * side program of the libzmq-c engine (tools/libzmq-thr/zb_side.c), the
 * reference the former is checked against. The only difference measured
 * between the two is the process that hosts the loops.
 *
 * Messages are those of zbench's workloads (runner/patterns.go): a data
 * message is one frame of the cell's size; a control message is two frames,
 * the tag "\0zbench-ctl" (11 bytes) and one code byte. On a routed socket
 * (ROUTER) every message starts with the peer's identity frame.
 *
 * Every function is static: each including file gets its own copy. Times
 * are CLOCK_MONOTONIC in nanoseconds, the clock every process of the host
 * shares (zbench's runner.Mono).
 *
 * Results: 0 when a loop ended as asked (count reached, deadline passed, or
 * a control message arrived: its code in zbl_stats.ctl), ZBL_WRONG_SIZE,
 * ZBL_UNEXPECTED, or -errno of the libzmq call that failed (-ETERM once a
 * socket's context was shut down: the socket is being closed). EINTR is
 * retried.
 */
#ifndef ZBENCH_LIBZMQ_LOOPS_H
#define ZBENCH_LIBZMQ_LOOPS_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

/* A data message of another size than the cell's: zbl_stats.got_size. */
#define ZBL_WRONG_SIZE 1
/* A message that is neither data nor control: zbl_stats.frames. */
#define ZBL_UNEXPECTED 2

/* The failed operation of a -errno result: zbl_stats.op. */
#define ZBL_OP_SEND 1
#define ZBL_OP_RECV 2

#define ZBL_TAG "\0zbench-ctl"
#define ZBL_TAG_LEN 11
/* ZeroMQ identities are at most 255 bytes. */
#define ZBL_MAX_ID 255

/*
 * A loop over two sockets (a PULL for requests and a PUSH for replies) may
 * wait on one while the other is being closed, which a shutdown of the
 * other's context does not interrupt. Such a loop waits at most
 * ZBL_POLL_MS at a time (ZMQ_RCVTIMEO, ZMQ_SNDTIMEO) and then looks at both
 * sockets' closing flags. A loop over one socket waits without a timeout.
 */
#define ZBL_POLL_MS 100

/* A duration-bounded send loop reads the clock every so many messages: about
 * 256 KiB of messages, at most ZBL_CLOCK_EVERY. */
#define ZBL_CLOCK_EVERY 128

/* A socket as the loops see it. closing, when not NULL, is set (atomically,
 * by another thread) before the socket's context is shut down. */
typedef struct {
	void *sock;
	const int *closing;
} zbl_sock;

/* What a loop did: data messages sent and received and when (0: none), and
 * how it ended. */
typedef struct {
	int64_t sent, received;
	int64_t first_send, last_send;
	int64_t first_recv, last_recv;
	int ctl;      /* code of the control message that ended the loop; -1: none */
	int from_len; /* its sender's identity, when routed */
	unsigned char from[ZBL_MAX_ID];
	int64_t got_size; /* ZBL_WRONG_SIZE: size of the offending message */
	int frames;       /* ZBL_UNEXPECTED: its frames (after the identity) */
	int op;           /* -errno results: ZBL_OP_SEND or ZBL_OP_RECV */
} zbl_stats;

/* The frames of one received message. */
typedef struct {
	zmq_msg_t id, body, code;
} zbl_msgs;

static inline int64_t zbl_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void zbl_reset(zbl_stats *st)
{
	memset(st, 0, sizeof *st);
	st->ctl = -1;
}

static inline int zbl_is_closing(const zbl_sock *s)
{
	return s != NULL && s->closing != NULL && __atomic_load_n(s->closing, __ATOMIC_ACQUIRE) != 0;
}

/* zbl_retry says whether a failed call with errno e is tried again: after a
 * signal, and after a wait bounded by ZBL_POLL_MS unless a socket of the
 * loop is being closed. */
static inline int zbl_retry(int e, const zbl_sock *a, const zbl_sock *b)
{
	if (e == EINTR)
		return 1;
	return e == EAGAIN && !zbl_is_closing(a) && !zbl_is_closing(b);
}

/* zbl_failed turns errno e of operation op into a result. */
static inline int zbl_failed(int e, int op, zbl_stats *st)
{
	if (e == EAGAIN)
		e = ETERM; /* a bounded wait ended because a socket is being closed */
	st->op = op;
	return -e;
}

static inline int zbl_send_buf(const zbl_sock *s, const zbl_sock *other, const void *buf, size_t len, int flags,
			       zbl_stats *st)
{
	for (;;) {
		if (zmq_send(s->sock, buf, len, flags) >= 0)
			return 0;
		int e = zmq_errno();
		if (!zbl_retry(e, s, other))
			return zbl_failed(e, ZBL_OP_SEND, st);
	}
}

/* zbl_send_msg sends m, whose content then belongs to libzmq. */
static inline int zbl_send_msg(const zbl_sock *s, const zbl_sock *other, zmq_msg_t *m, int flags, zbl_stats *st)
{
	for (;;) {
		if (zmq_msg_send(m, s->sock, flags) >= 0)
			return 0;
		int e = zmq_errno();
		if (!zbl_retry(e, s, other))
			return zbl_failed(e, ZBL_OP_SEND, st);
	}
}

static inline int zbl_recv_frame(const zbl_sock *s, const zbl_sock *other, zmq_msg_t *m, zbl_stats *st)
{
	for (;;) {
		if (zmq_msg_recv(m, s->sock, 0) >= 0)
			return 0;
		int e = zmq_errno();
		if (!zbl_retry(e, s, other))
			return zbl_failed(e, ZBL_OP_RECV, st);
	}
}

#define ZBL_DATA 10
#define ZBL_CTL 11

/*
 * zbl_recv_msg receives one whole message on s. A data message leaves its
 * frame in m->body (and the identity in m->id when routed) and returns
 * ZBL_DATA; a control message puts its code and identity in st and returns
 * ZBL_CTL; anything else is read to its end and returns ZBL_UNEXPECTED.
 */
static inline int zbl_recv_msg(const zbl_sock *s, const zbl_sock *other, int routed, zbl_msgs *m, zbl_stats *st)
{
	int rc;
	if (routed) {
		if ((rc = zbl_recv_frame(s, other, &m->id, st)) != 0)
			return rc;
		if (!zmq_msg_more(&m->id)) {
			st->frames = 0;
			return ZBL_UNEXPECTED;
		}
	}
	if ((rc = zbl_recv_frame(s, other, &m->body, st)) != 0)
		return rc;
	if (!zmq_msg_more(&m->body))
		return ZBL_DATA;
	if ((rc = zbl_recv_frame(s, other, &m->code, st)) != 0)
		return rc;
	int frames = 2;
	if (!zmq_msg_more(&m->code) && zmq_msg_size(&m->code) == 1 && zmq_msg_size(&m->body) == ZBL_TAG_LEN &&
	    memcmp(zmq_msg_data(&m->body), ZBL_TAG, ZBL_TAG_LEN) == 0) {
		st->ctl = *(const unsigned char *) zmq_msg_data(&m->code);
		st->from_len = 0;
		if (routed) {
			size_t n = zmq_msg_size(&m->id);
			if (n > ZBL_MAX_ID)
				n = ZBL_MAX_ID;
			memcpy(st->from, zmq_msg_data(&m->id), n);
			st->from_len = (int) n;
		}
		return ZBL_CTL;
	}
	while (zmq_msg_more(&m->code)) {
		if ((rc = zbl_recv_frame(s, other, &m->code, st)) != 0)
			return rc;
		frames++;
	}
	st->frames = frames;
	return ZBL_UNEXPECTED;
}

static inline void zbl_msgs_init(zbl_msgs *m)
{
	zmq_msg_init(&m->id);
	zmq_msg_init(&m->body);
	zmq_msg_init(&m->code);
}

static inline void zbl_msgs_close(zbl_msgs *m)
{
	zmq_msg_close(&m->id);
	zmq_msg_close(&m->body);
	zmq_msg_close(&m->code);
}

static inline void zbl_set_timeout(void *sock, int option, int ms)
{
	zmq_setsockopt(sock, option, &ms, sizeof ms);
}

/* zbl_bound_waits bounds the waits of a loop over two sockets (rx receives,
 * tx sends), or undoes that with ms -1. A loop over one socket is left
 * alone. */
static inline void zbl_bound_waits(const zbl_sock *rx, const zbl_sock *tx, int ms)
{
	if (rx->sock == tx->sock)
		return;
	zbl_set_timeout(rx->sock, ZMQ_RCVTIMEO, ms);
	zbl_set_timeout(tx->sock, ZMQ_SNDTIMEO, ms);
}

static inline int zbl_clock_every(size_t size)
{
	size_t n = (256 * 1024) / (size + 64);
	if (n < 1)
		n = 1;
	if (n > ZBL_CLOCK_EVERY)
		n = ZBL_CLOCK_EVERY;
	return (int) n;
}

/*
 * zbl_send_loop sends one-frame messages of size bytes (zeros; zmq_send
 * copies them, as an application's send does) on tx: count of them, or with
 * count 0 until the clock passes deadline, read every zbl_clock_every(size)
 * messages. first_send is read before the first send, last_send after the
 * last.
 */
static int zbl_send_loop(const zbl_sock *tx, size_t size, int64_t count, int64_t deadline, zbl_stats *st)
{
	zbl_reset(st);
	void *buf = calloc(1, size > 0 ? size : 1);
	if (buf == NULL) {
		st->op = ZBL_OP_SEND;
		return -ENOMEM;
	}
	int rc = 0;
	st->first_send = zbl_now();
	if (count > 0) {
		for (; st->sent < count; st->sent++) {
			if ((rc = zbl_send_buf(tx, NULL, buf, size, 0, st)) != 0)
				break;
		}
	} else {
		const int every = zbl_clock_every(size);
		while (rc == 0 && zbl_now() < deadline) {
			for (int i = 0; i < every; i++) {
				if ((rc = zbl_send_buf(tx, NULL, buf, size, 0, st)) != 0)
					break;
				st->sent++;
			}
		}
	}
	st->last_send = zbl_now();
	free(buf);
	return rc;
}

/*
 * zbl_recv_loop receives on rx until a control message arrives (its code in
 * st->ctl), checking that every data message has size bytes. It reads the
 * clock at the first data message, and at every one when time_each is set
 * (a lossy link, whose end marker may come late); last_recv is otherwise
 * the first's.
 */
static int zbl_recv_loop(const zbl_sock *rx, size_t size, int routed, int time_each, zbl_stats *st)
{
	zbl_reset(st);
	zbl_msgs m;
	zbl_msgs_init(&m);
	int rc;
	for (;;) {
		rc = zbl_recv_msg(rx, NULL, routed, &m, st);
		if (rc != ZBL_DATA)
			break;
		size_t got = zmq_msg_size(&m.body);
		if (got != size) {
			st->got_size = (int64_t) got;
			rc = ZBL_WRONG_SIZE;
			break;
		}
		if (st->received == 0 || time_each) {
			int64_t now = zbl_now();
			if (st->received == 0)
				st->first_recv = now;
			st->last_recv = now;
		}
		st->received++;
	}
	zbl_msgs_close(&m);
	return rc == ZBL_CTL ? 0 : rc;
}

/*
 * zbl_echo_loop receives on rx and sends every data message back unchanged
 * on tx (zmq_msg_send of the message received: no copy; to its sender's
 * identity when routed), until a control message arrives (st->ctl,
 * st->from).
 */
static int zbl_echo_loop(const zbl_sock *rx, const zbl_sock *tx, size_t size, int routed, zbl_stats *st)
{
	zbl_reset(st);
	zbl_msgs m;
	zbl_msgs_init(&m);
	zbl_bound_waits(rx, tx, ZBL_POLL_MS);
	int rc;
	for (;;) {
		rc = zbl_recv_msg(rx, tx, routed, &m, st);
		if (rc != ZBL_DATA)
			break;
		size_t got = zmq_msg_size(&m.body);
		if (got != size) {
			st->got_size = (int64_t) got;
			rc = ZBL_WRONG_SIZE;
			break;
		}
		st->received++;
		if (routed && (rc = zbl_send_msg(tx, rx, &m.id, ZMQ_SNDMORE, st)) != 0)
			break;
		if ((rc = zbl_send_msg(tx, rx, &m.body, 0, st)) != 0)
			break;
		st->sent++;
	}
	zbl_bound_waits(rx, tx, -1);
	zbl_msgs_close(&m);
	return rc == ZBL_CTL ? 0 : rc;
}

/*
 * zbl_round_trips sends a request of size bytes on tx and waits for its
 * reply on rx (not routed), count times or, with count 0, until the clock
 * passes deadline. Control messages met while waiting are skipped. The i-th
 * round trip's time goes to rtts[i] while i < n_rtts. sent and received
 * count requests and replies; first_send is read before the first request,
 * last_send when the last was sent, first_recv and last_recv at replies.
 */
static int zbl_round_trips(const zbl_sock *tx, const zbl_sock *rx, size_t size, int64_t count, int64_t deadline,
			   int64_t *rtts, int64_t n_rtts, zbl_stats *st)
{
	zbl_reset(st);
	void *buf = calloc(1, size > 0 ? size : 1);
	if (buf == NULL) {
		st->op = ZBL_OP_SEND;
		return -ENOMEM;
	}
	zbl_msgs m;
	zbl_msgs_init(&m);
	zbl_bound_waits(rx, tx, ZBL_POLL_MS);
	int rc = 0;
	int64_t t1 = st->first_send = zbl_now();
	for (int64_t i = 0; count > 0 ? i < count : t1 < deadline; i++) {
		int64_t t0 = zbl_now();
		if ((rc = zbl_send_buf(tx, rx, buf, size, 0, st)) != 0)
			break;
		st->sent++;
		do {
			rc = zbl_recv_msg(rx, tx, 0, &m, st);
		} while (rc == ZBL_CTL);
		if (rc != ZBL_DATA)
			break;
		rc = 0;
		st->ctl = -1;
		size_t got = zmq_msg_size(&m.body);
		if (got != size) {
			st->got_size = (int64_t) got;
			rc = ZBL_WRONG_SIZE;
			break;
		}
		t1 = zbl_now();
		if (i < n_rtts)
			rtts[i] = t1 - t0;
		if (st->received == 0)
			st->first_recv = t1;
		st->last_send = t0;
		st->last_recv = t1;
		st->received++;
	}
	zbl_bound_waits(rx, tx, -1);
	zbl_msgs_close(&m);
	free(buf);
	return rc;
}

#endif /* ZBENCH_LIBZMQ_LOOPS_H */
