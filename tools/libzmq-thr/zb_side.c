/*
 * zb_side: one side of a zbench run on libzmq, as a plain C program: the
 * libzmq-c engine, the reference row that zbench's libzmq engine is checked
 * against. It runs the same loops as that engine (runner/engines/
 * libzmq_loops.h), the same phases, sockets, options and control messages
 * (runner/side.go, runner/patterns.go), so that what differs between the two
 * engines' figures is the process hosting the loops: this one has no Go in
 * it.
 *
 *   zbench-libzmq-side --role sender|receiver --pattern P --protocol tcp|ipc|ws
 *       --size N --sockets K --out-batch-size N --warmup N
 *       (--messages N | --duration-ns N) --round-trips N --ipc-dir DIR
 *   zbench-libzmq-side --probe
 *
 * zbench starts one per side (runner.External) and drives it over the side
 * protocol of runner/proto.go, one line per command on stdin and per event on
 * stdout:
 *
 *   bind | connect EP... | begin PHASE | peer-seen PHASE | finish
 *   bound EP... | connected | ready PHASE | seen PHASE | done PHASE {json} |
 *   report {json} | error MESSAGE
 *
 * The receiver binds every socket; the sender connects. Each side measures
 * its own usage per phase (getrusage, /proc/self/statm) and reports no Go
 * runtime figures and no engine telemetry. Patterns: pair, push-pull,
 * req-rep, dealer-router (pub-sub's sync phase and repeated markers are not
 * here). --probe prints what the library can do: "version X.Y.Z", then
 * "ws ok" or "ws error: WHY", and likewise "out_batch_size".
 *
 * Build: cc -O2 -Wall -Wextra -pthread -I runner/engines \
 *            -o bin/zbench-libzmq-side tools/libzmq-thr/zb_side.c $(pkg-config --cflags --libs libzmq)
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "libzmq_loops.h"

#define ENGINE_NAME "libzmq-c"

/* ZMQ_OUT_BATCH_SIZE is a draft option of libzmq 4.3 (see libzmq.go). */
#define ZB_OUT_BATCH_SIZE 102
#define LIBZMQ_OUT_BATCH_SIZE 8192

/* Control codes (runner/patterns.go). */
enum { CTL_SYNC = 1, CTL_WARM_END = 2, CTL_STREAM_END = 3, CTL_STOP = 4 };

/* Round trips of warm-up for the streaming patterns (runner warmRoundTrips). */
#define WARM_ROUND_TRIPS 10

enum { PH_WARMUP, PH_THROUGHPUT, PH_LATENCY, PH_COUNT };
static const char *phase_names[PH_COUNT] = {"warmup", "throughput", "latency"};

/* One pattern's sockets per side: socket i of the receiver binds the pair's
 * i-th endpoint, socket i of the sender connects to it; socket 0 carries the
 * stream and requests, the last one the replies. */
struct pattern {
	const char *name;
	int n;
	int tx[2], rx[2];
	int rx_routed; /* the receiver's sockets are ROUTERs */
	int stream;    /* 0: no one-way stream (req-rep) */
};

static const struct pattern patterns[] = {
	{"pair", 1, {ZMQ_PAIR, 0}, {ZMQ_PAIR, 0}, 0, 1},
	{"push-pull", 2, {ZMQ_PUSH, ZMQ_PULL}, {ZMQ_PULL, ZMQ_PUSH}, 0, 1},
	{"req-rep", 1, {ZMQ_REQ, 0}, {ZMQ_REP, 0}, 0, 0},
	{"dealer-router", 1, {ZMQ_DEALER, 0}, {ZMQ_ROUTER, 0}, 1, 1},
};

struct config {
	int sender;
	const struct pattern *pat;
	const char *protocol;
	long size, sockets, out_batch_size, warmup, messages, round_trips;
	int64_t duration_ns;
	const char *ipc_dir;
};

/* What one side measured in one phase (runner.PhaseReport). */
struct report {
	int64_t sent, received;
	int64_t first_send, last_send, first_recv, last_recv;
};

/* One side of one socket pair. */
struct end {
	int id; /* 1-based */
	void *ctx[2];
	void *sock[2];
	zbl_sock s[2];
	int nsock;
	char ipc[2][512];
	int64_t *rtts; /* latency phase, sender */
	int64_t n_rtts;
	/* the thread of the current phase */
	pthread_t thread;
	int phase;
	struct report r;
	int rc;
	char err[512];
};

static struct config cfg;
static struct end *ends;
static int64_t start_rss;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static int seen_left;

/* emit writes one line of the side protocol. */
static void emit(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&out_mu);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	pthread_mutex_unlock(&out_mu);
}

/* fail writes an error event and exits non-zero. */
static void fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	for (char *p = msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	emit("error %s", msg);
	fprintf(stderr, "zbench-libzmq-side: %s\n", msg);
	exit(1);
}

static const char *rc_text(int rc, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s", zmq_strerror(-rc));
	return buf;
}

/* ---- measurement of this process ---- */

struct usage {
	int64_t user_ns, sys_ns, peak_rss, rss;
};

static int64_t current_rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, resident = 0;
	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (int64_t) resident * sysconf(_SC_PAGESIZE);
}

/* peak_rss is this process's resident high-water mark, VmHWM of
 * /proc/self/status: unlike ru_maxrss, which a process started by exec
 * inherits from its parent's peak (Linux folds the old address space's
 * high-water mark in at exec), it is this program's own. */
static int64_t peak_rss(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = 0;
	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return (int64_t) kib * 1024;
}

static struct usage take_usage(void)
{
	struct rusage ru;
	struct usage u = {0, 0, 0, 0};
	if (getrusage(RUSAGE_SELF, &ru) == 0) {
		u.user_ns = (int64_t) ru.ru_utime.tv_sec * 1000000000 + (int64_t) ru.ru_utime.tv_usec * 1000;
		u.sys_ns = (int64_t) ru.ru_stime.tv_sec * 1000000000 + (int64_t) ru.ru_stime.tv_usec * 1000;
	}
	u.peak_rss = peak_rss();
	u.rss = current_rss();
	return u;
}

/* usage_json writes sample.Usage for the interval a..b. */
static void usage_json(char *buf, size_t cap, struct usage a, struct usage b)
{
	snprintf(buf, cap,
		 "{\"user_cpu_ns\":%lld,\"sys_cpu_ns\":%lld,\"peak_rss_bytes\":%lld,\"rss_bytes\":%lld,"
		 "\"go_runtime\":{\"reported\":false,\"gc_cycles\":0,\"gc_pause_ns\":0,\"mallocs\":0,\"allocs_per_msg\":0},"
		 "\"engine_telemetry\":{\"available\":false,\"msgs_out\":0,\"bytes_out\":0,\"writes\":0,\"batched_writes\":0,"
		 "\"immediate_writes\":0,\"partial_handoffs\":0,\"msgs_in\":0,\"bytes_in\":0,\"reads\":0,\"msgs_per_write\":0}}",
		 (long long) (b.user_ns - a.user_ns), (long long) (b.sys_ns - a.sys_ns), (long long) b.peak_rss,
		 (long long) b.rss);
}

/* affinity_list writes this process's CPU mask as "0-1,4". */
static void affinity_list(char *buf, size_t cap)
{
	cpu_set_t set;
	buf[0] = 0;
	if (sched_getaffinity(0, sizeof set, &set) != 0)
		return;
	size_t n = 0;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &set))
			continue;
		int last = c;
		while (last + 1 < CPU_SETSIZE && CPU_ISSET(last + 1, &set))
			last++;
		int w = last > c ? snprintf(buf + n, cap - n, "%s%d-%d", n ? "," : "", c, last)
				 : snprintf(buf + n, cap - n, "%s%d", n ? "," : "", c);
		if (w < 0 || (size_t) w >= cap - n)
			break;
		n += (size_t) w;
		c = last;
	}
}

/* ---- sockets ---- */

static void *open_socket(struct end *e, int i, int type)
{
	void *ctx = zmq_ctx_new();
	if (ctx == NULL)
		fail("pair %d: zmq_ctx_new: %s", e->id, zmq_strerror(zmq_errno()));
	void *s = zmq_socket(ctx, type);
	if (s == NULL)
		fail("pair %d: zmq_socket: %s", e->id, zmq_strerror(zmq_errno()));
	int linger = 0;
	if (zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger) != 0)
		fail("pair %d: ZMQ_LINGER: %s", e->id, zmq_strerror(zmq_errno()));
	int batch = (int) cfg.out_batch_size;
	/* As the libzmq engine: set when the library takes the draft option;
	 * without it only libzmq's own 8192 can run (zbench checked). */
	if (zmq_setsockopt(s, ZB_OUT_BATCH_SIZE, &batch, sizeof batch) != 0 && batch != LIBZMQ_OUT_BATCH_SIZE)
		fail("pair %d: ZMQ_OUT_BATCH_SIZE %d: %s", e->id, batch, zmq_strerror(zmq_errno()));
	if (type == ZMQ_SUB && zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0) != 0)
		fail("pair %d: ZMQ_SUBSCRIBE: %s", e->id, zmq_strerror(zmq_errno()));
	e->ctx[i] = ctx;
	e->sock[i] = s;
	e->s[i].sock = s;
	e->s[i].closing = NULL;
	return s;
}

static void close_end(struct end *e)
{
	for (int i = 0; i < e->nsock; i++) {
		if (e->sock[i] != NULL) {
			zmq_close(e->sock[i]);
			while (zmq_ctx_term(e->ctx[i]) != 0 && zmq_errno() == EINTR) {
			}
			e->sock[i] = NULL;
		}
		if (e->ipc[i][0])
			unlink(e->ipc[i]);
	}
}

/* shutdown_all ends every blocked call of every pair (a pair failed). */
static void shutdown_all(void)
{
	for (long p = 0; p < cfg.sockets; p++)
		for (int i = 0; i < ends[p].nsock; i++)
			if (ends[p].ctx[i] != NULL)
				zmq_ctx_shutdown(ends[p].ctx[i]);
}

static void do_bind(void)
{
	static int n_ipc;
	size_t cap = 256 + (size_t) cfg.sockets * 2 * 600, len = 0;
	char *line = malloc(cap);
	if (line == NULL)
		fail("out of memory");
	len = (size_t) snprintf(line, cap, "bound");
	for (long p = 0; p < cfg.sockets; p++) {
		struct end *e = &ends[p];
		for (int i = 0; i < cfg.pat->n; i++) {
			void *s = open_socket(e, i, cfg.pat->rx[i]);
			e->nsock = i + 1;
			char ep[600];
			if (strcmp(cfg.protocol, "tcp") == 0) {
				snprintf(ep, sizeof ep, "tcp://127.0.0.1:*");
			} else if (strcmp(cfg.protocol, "ws") == 0) {
				snprintf(ep, sizeof ep, "ws://127.0.0.1:*/zbench");
			} else if (strcmp(cfg.protocol, "ipc") == 0) {
				snprintf(e->ipc[i], sizeof e->ipc[i], "%s/zbench-%d-%d.sock", cfg.ipc_dir, (int) getpid(), ++n_ipc);
				unlink(e->ipc[i]); /* a leftover of a crashed run with a recycled pid */
				snprintf(ep, sizeof ep, "ipc://%s", e->ipc[i]);
			} else {
				fail("unknown protocol %s (allowed: tcp, ipc, ws)", cfg.protocol);
			}
			if (zmq_bind(s, ep) != 0)
				fail("pair %d: bind %s: %s", e->id, ep, zmq_strerror(zmq_errno()));
			char bound[512];
			size_t blen = sizeof bound;
			if (zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, bound, &blen) != 0)
				fail("pair %d: ZMQ_LAST_ENDPOINT: %s", e->id, zmq_strerror(zmq_errno()));
			len += (size_t) snprintf(line + len, cap - len, " %s", bound);
		}
	}
	emit("%s", line);
	free(line);
}

static void do_connect(char *rest)
{
	char *eps[2 * 4096];
	long n = 0;
	for (char *tok = strtok(rest, " \t"); tok != NULL; tok = strtok(NULL, " \t")) {
		if (n == (long) (sizeof eps / sizeof eps[0]))
			fail("too many endpoints");
		eps[n++] = tok;
	}
	long want = cfg.pat->n * cfg.sockets;
	if (n != want)
		fail("%ld endpoints for %ld pairs of %s (want %ld)", n, cfg.sockets, cfg.pat->name, want);
	for (long p = 0; p < cfg.sockets; p++) {
		struct end *e = &ends[p];
		for (int i = 0; i < cfg.pat->n; i++) {
			void *s = open_socket(e, i, cfg.pat->tx[i]);
			e->nsock = i + 1;
			const char *ep = eps[p * cfg.pat->n + i];
			if (zmq_connect(s, ep) != 0)
				fail("pair %d: connect %s: %s", e->id, ep, zmq_strerror(zmq_errno()));
		}
	}
	emit("connected");
}

/* ---- the phases (runner/side.go's run, stream, receive, roundTrips, echo) ---- */

static void seen(int phase)
{
	if (__atomic_sub_fetch(&seen_left, 1, __ATOMIC_ACQ_REL) == 0)
		emit("seen %s", phase_names[phase]);
}

/* Sockets of a side's end: sender socket 0 is the stream and request socket,
 * the last one receives replies; receiver socket 0 receives the stream and
 * requests (routed on a ROUTER), the last one sends replies. */
static zbl_sock *first(struct end *e) { return &e->s[0]; }
static zbl_sock *last(struct end *e) { return &e->s[e->nsock - 1]; }

static int end_failed(struct end *e, int rc, const zbl_stats *st, const char *what)
{
	char buf[256];
	e->rc = rc != 0 ? rc : -1;
	switch (rc) {
	case ZBL_WRONG_SIZE:
		snprintf(e->err, sizeof e->err, "pair %d: runner: message of the wrong size: %s of %lld bytes, want %ld",
			 e->id, what, (long long) st->got_size, cfg.size);
		break;
	case ZBL_UNEXPECTED:
		snprintf(e->err, sizeof e->err, "pair %d: runner: unexpected message: %d frames", e->id, st->frames);
		break;
	default:
		snprintf(e->err, sizeof e->err, "pair %d: libzmq: %s: %s", e->id, st->op == ZBL_OP_SEND ? "send" : "recv",
			 rc_text(rc, buf, sizeof buf));
	}
	return e->rc;
}

static int send_ctl(struct end *e, zbl_sock *s, int routed, const zbl_stats *to, int code)
{
	zbl_stats st;
	zbl_reset(&st);
	unsigned char c = (unsigned char) code;
	int rc = 0;
	if (routed)
		rc = zbl_send_buf(s, NULL, to->from, (size_t) to->from_len, ZMQ_SNDMORE, &st);
	if (rc == 0)
		rc = zbl_send_buf(s, NULL, ZBL_TAG, ZBL_TAG_LEN, ZMQ_SNDMORE, &st);
	if (rc == 0)
		rc = zbl_send_buf(s, NULL, &c, 1, 0, &st);
	return rc == 0 ? 0 : end_failed(e, rc, &st, "control");
}

/* await_ctl reads rx until a control message with code arrives. */
static int await_ctl(struct end *e, zbl_sock *rx, int code)
{
	zbl_stats st;
	zbl_msgs m;
	zbl_reset(&st);
	zbl_msgs_init(&m);
	int rc;
	do {
		rc = zbl_recv_msg(rx, NULL, 0, &m, &st);
	} while (rc == ZBL_DATA || (rc == ZBL_CTL && st.ctl != code));
	zbl_msgs_close(&m);
	return rc == ZBL_CTL ? 0 : end_failed(e, rc, &st, "message");
}

static int stream(struct end *e, int64_t count, int64_t dur, int marker)
{
	zbl_stats st;
	int64_t deadline = count == 0 ? zbl_now() + dur : 0;
	int rc = zbl_send_loop(first(e), (size_t) cfg.size, count, deadline, &st);
	e->r = (struct report){.sent = st.sent, .first_send = st.first_send, .last_send = st.last_send};
	if (rc != 0)
		return end_failed(e, rc, &st, "message");
	return send_ctl(e, first(e), 0, NULL, marker);
}

static int64_t earliest(int64_t a, int64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

static int receive(struct end *e, int marker)
{
	struct report r = {0, 0, 0, 0, 0, 0};
	for (;;) {
		zbl_stats st;
		int rc = zbl_recv_loop(first(e), (size_t) cfg.size, cfg.pat->rx_routed, 0, &st);
		r.received += st.received;
		r.first_recv = earliest(r.first_recv, st.first_recv);
		if (st.last_recv > r.last_recv)
			r.last_recv = st.last_recv;
		if (rc != 0) {
			e->r = r;
			return end_failed(e, rc, &st, "message");
		}
		if (st.ctl != marker)
			continue; /* a marker of an earlier phase */
		if (r.received > 0)
			r.last_recv = zbl_now();
		e->r = r;
		return 0;
	}
}

static int round_trips(struct end *e, int64_t count, int64_t dur, int64_t *rtts, int64_t n_rtts)
{
	e->r = (struct report){0, 0, 0, 0, 0, 0};
	if (count == 0 && dur == 0)
		return 0;
	zbl_stats st;
	int64_t deadline = count == 0 ? zbl_now() + dur : 0;
	int rc = zbl_round_trips(first(e), last(e), (size_t) cfg.size, count, deadline, rtts, n_rtts, &st);
	e->r = (struct report){.sent = 2 * st.sent, .received = 2 * st.received, .first_send = st.first_send,
			       .last_send = st.last_send, .first_recv = st.first_recv, .last_recv = st.last_recv};
	if (rtts != NULL)
		e->n_rtts = st.received < n_rtts ? st.received : n_rtts;
	if (rc != 0)
		return end_failed(e, rc, &st, "reply");
	if ((rc = send_ctl(e, first(e), 0, NULL, CTL_STOP)) != 0)
		return rc;
	return await_ctl(e, last(e), CTL_STOP);
}

static int echo(struct end *e)
{
	struct report r = {0, 0, 0, 0, 0, 0};
	for (;;) {
		zbl_stats st;
		int rc = zbl_echo_loop(first(e), last(e), (size_t) cfg.size, cfg.pat->rx_routed, &st);
		r.received += st.received;
		r.sent += st.sent;
		e->r = r;
		if (rc != 0)
			return end_failed(e, rc, &st, "request");
		if (st.ctl == CTL_STOP)
			return send_ctl(e, last(e), cfg.pat->rx_routed, &st, CTL_STOP);
	}
}

static int run_phase(struct end *e, int phase)
{
	int send = cfg.sender, streams = cfg.pat->stream;
	switch (phase) {
	case PH_WARMUP: {
		int64_t n = cfg.warmup;
		if (n == 0) {
			seen(phase);
			e->r = (struct report){0, 0, 0, 0, 0, 0};
			return 0;
		}
		if (!streams) {
			seen(phase);
			return send ? round_trips(e, n, 0, NULL, 0) : echo(e);
		}
		if (send) {
			int rc = stream(e, n, 0, CTL_WARM_END);
			return rc != 0 ? rc : round_trips(e, n < WARM_ROUND_TRIPS ? n : WARM_ROUND_TRIPS, 0, NULL, 0);
		}
		int rc = receive(e, CTL_WARM_END);
		if (rc != 0)
			return rc;
		seen(phase);
		return echo(e);
	}
	case PH_THROUGHPUT:
		if (!streams) {
			seen(phase);
			return send ? round_trips(e, cfg.messages, cfg.duration_ns, NULL, 0) : echo(e);
		}
		if (send)
			return stream(e, cfg.messages, cfg.duration_ns, CTL_STREAM_END);
		{
			int rc = receive(e, CTL_STREAM_END);
			if (rc == 0)
				seen(phase);
			return rc;
		}
	case PH_LATENCY:
		seen(phase);
		return send ? round_trips(e, cfg.round_trips, 0, e->rtts, cfg.round_trips) : echo(e);
	}
	return -1;
}

static void *phase_thread(void *arg)
{
	struct end *e = arg;
	e->rc = 0;
	e->err[0] = 0;
	if (run_phase(e, e->phase) != 0)
		shutdown_all(); /* as the Go side closes every socket: the other pairs return */
	return NULL;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
	return x < y ? -1 : x > y;
}

/* latency_json writes sample.Latency of every pair's round trips. Quantiles
 * are exact: the value whose rank is q of the count, rounded, as
 * HdrHistogram's ValueAtQuantile picks (which then reports its bucket's top,
 * within 0.1 %). */
static void latency_json(char *buf, size_t cap)
{
	int64_t n = 0;
	for (long p = 0; p < cfg.sockets; p++)
		n += ends[p].n_rtts;
	if (n == 0) {
		snprintf(buf, cap, "{\"round_trips\":0,\"rtt_p50_ns\":0,\"rtt_p99_ns\":0,\"rtt_p999_ns\":0,\"rtt_max_ns\":0,"
				   "\"rtt_mean_ns\":0,\"one_way_mean_ns\":0}");
		return;
	}
	int64_t *all = malloc((size_t) n * sizeof *all);
	if (all == NULL)
		fail("out of memory");
	int64_t k = 0;
	double sum = 0;
	for (long p = 0; p < cfg.sockets; p++) {
		for (int64_t i = 0; i < ends[p].n_rtts; i++) {
			int64_t v = ends[p].rtts[i] > 0 ? ends[p].rtts[i] : 1;
			all[k++] = v;
			sum += (double) v;
		}
	}
	qsort(all, (size_t) n, sizeof *all, cmp_i64);
	double qs[3] = {50, 99, 99.9};
	int64_t q[3];
	for (int i = 0; i < 3; i++) {
		int64_t rank = (int64_t) (qs[i] / 100 * (double) n + 0.5);
		if (rank < 1)
			rank = 1;
		if (rank > n)
			rank = n;
		q[i] = all[rank - 1];
	}
	double mean = sum / (double) n;
	snprintf(buf, cap,
		 "{\"round_trips\":%lld,\"rtt_p50_ns\":%lld,\"rtt_p99_ns\":%lld,\"rtt_p999_ns\":%lld,\"rtt_max_ns\":%lld,"
		 "\"rtt_mean_ns\":%.3f,\"one_way_mean_ns\":%.3f}",
		 (long long) n, (long long) q[0], (long long) q[1], (long long) q[2], (long long) all[n - 1], mean,
		 mean / 2);
	free(all);
}

static void do_begin(int phase)
{
	struct usage u0 = take_usage();
	seen_left = (int) cfg.sockets;
	emit("ready %s", phase_names[phase]);
	for (long p = 0; p < cfg.sockets; p++) {
		ends[p].phase = phase;
		ends[p].n_rtts = 0;
		int err = pthread_create(&ends[p].thread, NULL, phase_thread, &ends[p]);
		if (err != 0)
			fail("pair %ld: pthread_create: %s", p + 1, strerror(err));
	}
	for (long p = 0; p < cfg.sockets; p++)
		pthread_join(ends[p].thread, NULL);
	for (long p = 0; p < cfg.sockets; p++)
		if (ends[p].rc != 0)
			fail("%s", ends[p].err);
	struct report r = {0, 0, 0, 0, 0, 0};
	for (long p = 0; p < cfg.sockets; p++) {
		struct report o = ends[p].r;
		r.sent += o.sent;
		r.received += o.received;
		r.first_send = earliest(r.first_send, o.first_send);
		r.first_recv = earliest(r.first_recv, o.first_recv);
		if (o.last_send > r.last_send)
			r.last_send = o.last_send;
		if (o.last_recv > r.last_recv)
			r.last_recv = o.last_recv;
	}
	struct usage u1 = take_usage();
	char usage[1024], latency[512] = "";
	usage_json(usage, sizeof usage, u0, u1);
	if (phase == PH_LATENCY && cfg.sender) {
		char l[480];
		latency_json(l, sizeof l);
		snprintf(latency, sizeof latency, "\"latency\":%s,", l);
	}
	emit("done %s {\"sent\":%lld,\"received\":%lld,\"first_send_ns\":%lld,\"last_send_ns\":%lld,"
	     "\"first_recv_ns\":%lld,\"last_recv_ns\":%lld,%s\"usage\":%s}",
	     phase_names[phase], (long long) r.sent, (long long) r.received, (long long) r.first_send,
	     (long long) r.last_send, (long long) r.first_recv, (long long) r.last_recv, latency, usage);
}

static void do_finish(void)
{
	for (long p = 0; p < cfg.sockets; p++)
		close_end(&ends[p]);
	char aff[1024], none[1024];
	affinity_list(aff, sizeof aff);
	struct usage zero = {0, 0, 0, 0};
	usage_json(none, sizeof none, zero, zero);
	struct usage self = take_usage();
	emit("report {\"role\":\"%s\",\"engine\":\"%s\",\"pid\":%d,\"gomaxprocs\":0,\"affinity\":\"%s\","
	     "\"start_rss_bytes\":%lld,\"user_cpu_ns\":%lld,\"sys_cpu_ns\":%lld,\"peak_rss_bytes\":%lld,"
	     "\"throughput\":%s,\"latency\":%s}",
	     cfg.sender ? "sender" : "receiver", ENGINE_NAME, (int) getpid(), aff, (long long) start_rss,
	     (long long) self.user_ns, (long long) self.sys_ns, (long long) self.peak_rss, none, none);
}

static int phase_of(const char *name)
{
	for (int i = 0; i < PH_COUNT; i++)
		if (strcmp(name, phase_names[i]) == 0)
			return i;
	if (strcmp(name, "sync") == 0)
		fail("phase sync: the C side program has no lossy pattern");
	fail("runner: side protocol: unknown phase %s", name);
	return -1;
}

/* serve reads commands until finish. */
static int serve(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) >= 0) {
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = 0;
		char *rest = strchr(line, ' ');
		if (rest != NULL)
			*rest++ = 0;
		else
			rest = line + n;
		if (strcmp(line, "bind") == 0 || strcmp(line, "connect") == 0) {
			int bind = line[0] == 'b';
			if (bind == cfg.sender)
				fail("runner: side protocol: %s side cannot %s", cfg.sender ? "sender" : "receiver", line);
			if (ends[0].nsock != 0)
				fail("runner: side protocol: a second %s", line);
			if (bind)
				do_bind();
			else
				do_connect(rest);
		} else if (strcmp(line, "begin") == 0) {
			if (ends[0].nsock == 0)
				fail("runner: side protocol: begin %s before %s", rest, cfg.sender ? "connect" : "bind");
			do_begin(phase_of(rest));
		} else if (strcmp(line, "peer-seen") == 0) {
			phase_of(rest); /* nothing here repeats a marker: only checked */
		} else if (strcmp(line, "finish") == 0) {
			do_finish();
			free(line);
			return 0;
		} else {
			fail("runner: side protocol: unknown command \"%s\"", line);
		}
	}
	free(line);
	fail("runner: side protocol: the coordinator closed the protocol before finish");
	return 1;
}

/* probe says what this libzmq can do (see the top of the file). */
static int probe(void)
{
	int major, minor, patch;
	zmq_version(&major, &minor, &patch);
	printf("version %d.%d.%d\n", major, minor, patch);
	void *ctx = zmq_ctx_new();
	void *s = ctx != NULL ? zmq_socket(ctx, ZMQ_PAIR) : NULL;
	if (s == NULL) {
		printf("ws error: %s\nout_batch_size error: %s\n", zmq_strerror(zmq_errno()), zmq_strerror(zmq_errno()));
		return 0;
	}
	int linger = 0, batch = LIBZMQ_OUT_BATCH_SIZE;
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
	if (zmq_bind(s, "ws://127.0.0.1:*/zbench-probe") == 0)
		printf("ws ok\n");
	else
		printf("ws error: %s\n", zmq_strerror(zmq_errno()));
	if (zmq_setsockopt(s, ZB_OUT_BATCH_SIZE, &batch, sizeof batch) == 0)
		printf("out_batch_size ok\n");
	else
		printf("out_batch_size error: %s\n", zmq_strerror(zmq_errno()));
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}

static long number(const char *name, const char *v)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno != 0 || *v == 0 || *end != 0 || n < 0)
		fail("%s %s: want a number >= 0", name, v);
	return n;
}

static void usage_exit(void)
{
	fprintf(stderr, "usage: zbench-libzmq-side --role sender|receiver --pattern P --protocol tcp|ipc|ws --size N\n"
			"         --sockets K --out-batch-size N --warmup N (--messages N | --duration-ns N)\n"
			"         --round-trips N --ipc-dir DIR\n"
			"       zbench-libzmq-side --probe\n"
			"One side of a zbench run on libzmq, driven over zbench's side protocol on stdin/stdout.\n");
	exit(2);
}

int main(int argc, char **argv)
{
	start_rss = current_rss();
	if (argc == 2 && strcmp(argv[1], "--probe") == 0)
		return probe();
	const char *role = NULL, *pattern = NULL;
	cfg.sockets = 1;
	cfg.out_batch_size = LIBZMQ_OUT_BATCH_SIZE;
	cfg.ipc_dir = "/tmp";
	cfg.size = -1;
	for (int i = 1; i < argc; i++) {
		const char *k = argv[i];
		if (i + 1 >= argc)
			usage_exit();
		const char *v = argv[++i];
		if (strcmp(k, "--role") == 0)
			role = v;
		else if (strcmp(k, "--pattern") == 0)
			pattern = v;
		else if (strcmp(k, "--protocol") == 0)
			cfg.protocol = v;
		else if (strcmp(k, "--size") == 0)
			cfg.size = number(k, v);
		else if (strcmp(k, "--sockets") == 0)
			cfg.sockets = number(k, v);
		else if (strcmp(k, "--out-batch-size") == 0)
			cfg.out_batch_size = number(k, v);
		else if (strcmp(k, "--warmup") == 0)
			cfg.warmup = number(k, v);
		else if (strcmp(k, "--messages") == 0)
			cfg.messages = number(k, v);
		else if (strcmp(k, "--duration-ns") == 0)
			cfg.duration_ns = number(k, v);
		else if (strcmp(k, "--round-trips") == 0)
			cfg.round_trips = number(k, v);
		else if (strcmp(k, "--ipc-dir") == 0)
			cfg.ipc_dir = v;
		else
			usage_exit();
	}
	if (role == NULL || pattern == NULL || cfg.protocol == NULL || cfg.size < 0)
		usage_exit();
	if (strcmp(role, "sender") == 0)
		cfg.sender = 1;
	else if (strcmp(role, "receiver") != 0)
		fail("role %s (allowed: sender, receiver)", role);
	for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++)
		if (strcmp(pattern, patterns[i].name) == 0)
			cfg.pat = &patterns[i];
	if (cfg.pat == NULL)
		fail("pattern %s (allowed: pair, push-pull, req-rep, dealer-router)", pattern);
	if (cfg.sockets < 1)
		fail("sockets %ld: want >= 1", cfg.sockets);
	if ((cfg.messages > 0) == (cfg.duration_ns > 0))
		fail("exactly one of --messages and --duration-ns must be > 0");
	ends = calloc((size_t) cfg.sockets, sizeof *ends);
	if (ends == NULL)
		fail("out of memory");
	for (long p = 0; p < cfg.sockets; p++) {
		ends[p].id = (int) p + 1;
		if (cfg.sender && cfg.round_trips > 0) {
			ends[p].rtts = calloc((size_t) cfg.round_trips, sizeof(int64_t));
			if (ends[p].rtts == NULL)
				fail("out of memory");
		}
	}
	return serve();
}
