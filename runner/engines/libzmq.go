//go:build libzmq

package engines

/*
#cgo pkg-config: libzmq
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "libzmq_loops.h"

// ZMQ_OUT_BATCH_SIZE is a draft socket option of libzmq 4.3: its header
// defines it only with ZMQ_BUILD_DRAFT_API, and a library built without the
// draft API refuses it (EINVAL).
#define ZB_OUT_BATCH_SIZE 102

// ZB_BATCH bounds the frames one zb_recv call takes out of libzmq.
#define ZB_BATCH 64

// zb_rx is a socket's state in C memory: the frames of the last zb_recv,
// still owned by libzmq's messages until the next call, and the flag Close
// sets before it shuts the socket's context down (read by the loops of
// libzmq_loops.h that wait on another socket).
typedef struct {
	zmq_msg_t msg[ZB_BATCH];
	const void *data[ZB_BATCH];
	size_t size[ZB_BATCH];
	int more[ZB_BATCH];
	int n; // frames held: msg[0..n)
	int closing;
} zb_rx;

static void zb_mark_closing(zb_rx *rx) {
	__atomic_store_n(&rx->closing, 1, __ATOMIC_RELEASE);
}

// zb_release closes the messages of the previous zb_recv.
static void zb_release(zb_rx *rx) {
	for (int i = 0; i < rx->n; i++)
		zmq_msg_close(&rx->msg[i]);
	rx->n = 0;
}

// zb_send sends one frame, retrying when a signal interrupts the wait (the Go
// runtime signals its threads). It returns 0 or -errno.
static int zb_send(uintptr_t sock, uintptr_t buf, size_t len, int flags) {
	for (;;) {
		if (zmq_send((void *) sock, (const void *) buf, len, flags) >= 0)
			return 0;
		if (zmq_errno() != EINTR)
			return -zmq_errno();
	}
}

// zb_recv releases the previous frames, waits for the next frame, then takes
// the rest of its message, which libzmq delivers whole (at most ZB_BATCH
// frames in all), so that one call from Go serves a message. It never takes
// a frame of the next message: at a message boundary nothing is held, and
// the loops, which read libzmq directly, can take over. It returns the
// number of frames held in rx, or -errno when not even the first could be
// received.
static int zb_recv(uintptr_t sockp, uintptr_t rxp) {
	void *sock = (void *) sockp;
	zb_rx *rx = (zb_rx *) rxp;
	zb_release(rx);
	int flags = 0;
	while (rx->n < ZB_BATCH) {
		zmq_msg_t *m = &rx->msg[rx->n];
		zmq_msg_init(m);
		if (zmq_msg_recv(m, sock, flags) < 0) {
			int e = zmq_errno();
			zmq_msg_close(m);
			if (rx->n > 0)
				break; // nothing more queued (or a state the next call reports)
			if (e == EINTR)
				continue;
			return -e;
		}
		rx->data[rx->n] = zmq_msg_data(m);
		rx->size[rx->n] = zmq_msg_size(m);
		rx->more[rx->n] = zmq_msg_more(m);
		rx->n++;
		if (!rx->more[rx->n - 1])
			break;
		flags = ZMQ_DONTWAIT;
	}
	return rx->n;
}

// The loops of libzmq_loops.h on the adapter's handles: a socket and its
// zb_rx, whose closing flag the loops watch.
static zbl_sock zb_lsock(uintptr_t sock, uintptr_t rx) {
	zbl_sock s = {(void *) sock, &((zb_rx *) rx)->closing};
	return s;
}

static int zb_send_loop(uintptr_t sock, uintptr_t rx, size_t size, int64_t count, int64_t deadline, zbl_stats *st) {
	zbl_sock tx = zb_lsock(sock, rx);
	return zbl_send_loop(&tx, size, count, deadline, st);
}

static int zb_recv_loop(uintptr_t sock, uintptr_t rx, size_t size, int routed, int time_each, zbl_stats *st) {
	zbl_sock s = zb_lsock(sock, rx);
	return zbl_recv_loop(&s, size, routed, time_each, st);
}

static int zb_echo_loop(uintptr_t rxsock, uintptr_t rxrx, uintptr_t txsock, uintptr_t txrx, size_t size, int routed,
			zbl_stats *st) {
	zbl_sock rx = zb_lsock(rxsock, rxrx), tx = zb_lsock(txsock, txrx);
	return zbl_echo_loop(&rx, &tx, size, routed, st);
}

static int zb_round_trips(uintptr_t txsock, uintptr_t txrx, uintptr_t rxsock, uintptr_t rxrx, size_t size,
			  int64_t count, int64_t deadline, int64_t *rtts, int64_t n_rtts, zbl_stats *st) {
	zbl_sock tx = zb_lsock(txsock, txrx), rx = zb_lsock(rxsock, rxrx);
	return zbl_round_trips(&tx, &rx, size, count, deadline, rtts, n_rtts, st);
}

static int zb_setsockopt_int(uintptr_t sock, int option, int value) {
	return zmq_setsockopt((void *) sock, option, &value, sizeof value) == 0 ? 0 : -zmq_errno();
}

static int zb_setsockopt_bytes(uintptr_t sock, int option, const void *value, size_t len) {
	return zmq_setsockopt((void *) sock, option, value, len) == 0 ? 0 : -zmq_errno();
}

static int zb_bind(uintptr_t sock, const char *endpoint, char *bound, size_t cap) {
	if (zmq_bind((void *) sock, endpoint) != 0)
		return -zmq_errno();
	size_t len = cap;
	if (zmq_getsockopt((void *) sock, ZMQ_LAST_ENDPOINT, bound, &len) != 0)
		return -zmq_errno();
	return 0;
}

static int zb_connect(uintptr_t sock, const char *endpoint) {
	return zmq_connect((void *) sock, endpoint) == 0 ? 0 : -zmq_errno();
}

static uintptr_t zb_socket(void *ctx, int type, int *err) {
	void *s = zmq_socket(ctx, type);
	*err = s == NULL ? zmq_errno() : 0;
	return (uintptr_t) s;
}

// zb_close closes sock and terminates its context: zmq_ctx_term waits for
// the context's sockets, so the socket goes first (linger 0: nothing waits).
static void zb_close(void *ctx, uintptr_t sock, zb_rx *rx) {
	zb_release(rx);
	zmq_close((void *) sock);
	while (zmq_ctx_term(ctx) != 0 && zmq_errno() == EINTR) {
	}
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"unsafe"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/sample"
)

// LibzmqName is the engine name of the libzmq adapter.
const LibzmqName = matrix.EngineLibzmq

func init() { register(Libzmq{}) }

// Libzmq is the adapter for libzmq, the reference implementation, called
// through cgo (build tag libzmq; Debian's libzmq3-dev, found by pkg-config).
//
// Every socket has a context of its own with libzmq's default single I/O
// thread, so that the two ends of a pair run on separate I/O threads as in
// two processes, and so that Close can end a blocked call from any goroutine
// (zmq_ctx_shutdown). The data of a phase goes through the loops (Libzmq
// implements runner.Loops): one cgo call runs a whole stream, receive, echo
// or series of round trips in the C of libzmq_loops.h, as a C program
// calling libzmq would (the libzmq-c engine runs that very code in one).
// The control messages use the per-message methods: Send is one cgo call
// per frame, handing the caller's bytes to zmq_send (which copies them);
// RecvFrame crosses into C once per message (see RecvFrame). High-water
// marks are libzmq's defaults (1000 messages), Linger is 0.
//
// libzmq batches writes on its own, into an 8192-byte buffer; that size can
// be changed only through the draft option ZMQ_OUT_BATCH_SIZE, which a
// library built without the draft API (Debian's) refuses. So a cell runs on
// libzmq at write_batching on and, unless the library takes the option,
// out_batch_size 8192, and both axes are noted as n/a; other values are
// unsupported, never silently ignored.
type Libzmq struct{}

// Name implements runner.Engine.
func (Libzmq) Name() string { return LibzmqName }

// libzmqProbe is what this process's libzmq can do, found out once by
// trying.
var libzmqProbe = sync.OnceValue(func() libzmqCaps {
	var major, minor, patch C.int
	C.zmq_version(&major, &minor, &patch)
	caps := libzmqCaps{version: fmt.Sprintf("%d.%d.%d", major, minor, patch)}
	s, err := newLibzmqSocket(C.ZMQ_PAIR)
	if err != nil {
		caps.outBatchSize, caps.ws = err, err
		return caps
	}
	defer s.Close()
	if rc := C.zb_setsockopt_int(s.sock, C.ZB_OUT_BATCH_SIZE, libzmqOutBatchSize); rc != 0 {
		caps.outBatchSize = libzmqError("ZMQ_OUT_BATCH_SIZE", rc)
	}
	_, caps.ws = s.Bind("ws://127.0.0.1:*/zbench-probe")
	return caps
})

// Supports implements runner.Engine.
func (Libzmq) Supports(c matrix.Cell) (bool, string) { return libzmqProbe().verdict(c) }

// libzmqTypes maps socket kinds to libzmq socket types.
var libzmqTypes = map[string]C.int{
	runner.KindPair: C.ZMQ_PAIR, runner.KindPush: C.ZMQ_PUSH, runner.KindPull: C.ZMQ_PULL,
	runner.KindReq: C.ZMQ_REQ, runner.KindRep: C.ZMQ_REP, runner.KindDealer: C.ZMQ_DEALER,
	runner.KindRouter: C.ZMQ_ROUTER, runner.KindPub: C.ZMQ_PUB, runner.KindSub: C.ZMQ_SUB,
}

// NewSocket implements runner.Engine.
func (Libzmq) NewSocket(kind string, o runner.SocketOptions) (runner.Socket, error) {
	t, ok := libzmqTypes[kind]
	if !ok {
		return nil, fmt.Errorf("%w %q", runner.ErrUnknownKind, kind)
	}
	s, err := newLibzmqSocket(t)
	if err != nil {
		return nil, err
	}
	if err := s.configure(o); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// errLibzmqClosed is returned by calls on a closed socket, and by a call that
// Close ended.
var errLibzmqClosed = errors.New("engines: libzmq socket closed")

// libzmqError turns a negative errno returned by the C helpers into an error.
func libzmqError(op string, rc C.int) error {
	e := -rc
	if e == C.ETERM {
		return errLibzmqClosed
	}
	if e < 1000 { // a system errno (libzmq's own codes are above 156384712)
		return fmt.Errorf("libzmq: %s: %w", op, syscall.Errno(e))
	}
	return fmt.Errorf("libzmq: %s: %s", op, C.GoString(C.zmq_strerror(e)))
}

// libzmqSocket is one libzmq socket and its own context. mu serialises the
// calls on the socket (libzmq sockets are not thread-safe) with Close, which
// first shuts the context down so that a blocked call returns.
//
// The handles cross into C as integers (C.uintptr_t): they point to C
// memory, and cgo's check of pointer arguments, which looks every pointer up
// in the Go heap, would cost the hot path a quarter of each call.
type libzmqSocket struct {
	ctx  unsafe.Pointer // set once; terminated by Close
	rx   *C.zb_rx       // C memory; freed by Close
	once sync.Once

	mu     sync.Mutex
	sock   C.uintptr_t // 0 once closed
	frames [C.ZB_BATCH][]byte
	more   [C.ZB_BATCH]bool
	held   int    // frames of the last zb_recv, copied into frames
	next   int    // the next of them RecvFrame returns
	buf    []byte // receive buffer the frames of a burst are copied into
}

func newLibzmqSocket(t C.int) (*libzmqSocket, error) {
	ctx := C.zmq_ctx_new()
	if ctx == nil {
		return nil, fmt.Errorf("libzmq: zmq_ctx_new failed")
	}
	var e C.int
	sock := C.zb_socket(ctx, t, &e)
	if sock == 0 {
		C.zmq_ctx_term(ctx)
		return nil, libzmqError("zmq_socket", -e)
	}
	s := &libzmqSocket{ctx: ctx, sock: sock, rx: (*C.zb_rx)(C.calloc(1, C.sizeof_zb_rx))}
	if rc := C.zb_setsockopt_int(sock, C.ZMQ_LINGER, 0); rc != 0 {
		s.Close()
		return nil, libzmqError("ZMQ_LINGER", rc)
	}
	return s, nil
}

func (s *libzmqSocket) configure(o runner.SocketOptions) error {
	if libzmqProbe().outBatchSize == nil && o.OutBatchSize > 0 {
		if rc := C.zb_setsockopt_int(s.sock, C.ZB_OUT_BATCH_SIZE, C.int(o.OutBatchSize)); rc != 0 {
			return libzmqError("ZMQ_OUT_BATCH_SIZE", rc)
		}
	}
	if len(o.Identity) > 0 {
		if rc := C.zb_setsockopt_bytes(s.sock, C.ZMQ_ROUTING_ID, unsafe.Pointer(&o.Identity[0]), C.size_t(len(o.Identity))); rc != 0 {
			return libzmqError("ZMQ_ROUTING_ID", rc)
		}
	}
	for _, topic := range o.Subscribe {
		var p unsafe.Pointer
		if len(topic) > 0 {
			p = unsafe.Pointer(&topic[0])
		}
		if rc := C.zb_setsockopt_bytes(s.sock, C.ZMQ_SUBSCRIBE, p, C.size_t(len(topic))); rc != 0 {
			return libzmqError("ZMQ_SUBSCRIBE", rc)
		}
	}
	return nil
}

// Bind implements runner.Socket: the endpoint as bound, from
// ZMQ_LAST_ENDPOINT (a tcp port given as * resolved).
func (s *libzmqSocket) Bind(endpoint string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sock == 0 {
		return "", errLibzmqClosed
	}
	ep := C.CString(endpoint)
	defer C.free(unsafe.Pointer(ep))
	var bound [512]C.char
	if rc := C.zb_bind(s.sock, ep, &bound[0], C.size_t(len(bound))); rc != 0 {
		return "", libzmqError("bind "+endpoint, rc)
	}
	return C.GoString(&bound[0]), nil
}

// Connect implements runner.Socket.
func (s *libzmqSocket) Connect(endpoint string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sock == 0 {
		return errLibzmqClosed
	}
	ep := C.CString(endpoint)
	defer C.free(unsafe.Pointer(ep))
	if rc := C.zb_connect(s.sock, ep); rc != 0 {
		return libzmqError("connect "+endpoint, rc)
	}
	return nil
}

// send hands frame to zmq_send, which copies it before returning. The
// frame's address goes to C as an integer too: a []byte holds no Go
// pointers, so the pointer check has nothing to find; KeepAlive keeps the
// frame alive until the call is over, and Go moves neither heap objects nor
// the stack of a goroutine inside a C call.
func (s *libzmqSocket) send(frame []byte, flags C.int) error {
	p := C.uintptr_t(uintptr(unsafe.Pointer(unsafe.SliceData(frame))))
	s.mu.Lock()
	if s.sock == 0 {
		s.mu.Unlock()
		return errLibzmqClosed
	}
	rc := C.zb_send(s.sock, p, C.size_t(len(frame)), flags)
	s.mu.Unlock()
	runtime.KeepAlive(frame)
	if rc != 0 {
		return libzmqError("send", rc)
	}
	return nil
}

// SendMore implements runner.Socket.
func (s *libzmqSocket) SendMore(frame []byte) error { return s.send(frame, C.ZMQ_SNDMORE) }

// Send implements runner.Socket: zmq_send copies frame, so the caller may
// reuse it at once; no Go allocation.
func (s *libzmqSocket) Send(frame []byte) error { return s.send(frame, 0) }

// RecvFrame implements runner.Socket. One cgo call takes every frame of the
// next message (up to ZB_BATCH) out of libzmq; they are copied at once into
// the socket's receive buffer, and this and the following RecvFrames hand
// them out without crossing into C: the Go/C boundary is paid per message,
// not per frame. No frame of a later message is taken, so that the loops
// (see Loops), which read libzmq directly, never miss one held here. A frame
// is valid until the next RecvFrame (runner.Socket's contract), so the
// buffer is reused for the next message and receiving allocates nothing
// once it has grown to the largest one. The workloads' data goes through
// the loops; RecvFrame carries their control messages.
func (s *libzmqSocket) RecvFrame() ([]byte, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sock == 0 {
		return nil, false, errLibzmqClosed
	}
	if s.next == s.held {
		if err := s.fill(); err != nil {
			return nil, false, err
		}
	}
	i := s.next
	s.next++
	f := s.frames[i]
	s.frames[i] = nil
	return f, s.more[i], nil
}

// fill receives the frames of the next message and copies them out of
// libzmq into the receive buffer.
func (s *libzmqSocket) fill() error {
	s.held, s.next = 0, 0
	n := int(C.zb_recv(s.sock, C.uintptr_t(uintptr(unsafe.Pointer(s.rx)))))
	if n < 0 {
		return libzmqError("recv", C.int(n))
	}
	total := 0
	for i := range n {
		total += int(s.rx.size[i])
	}
	if cap(s.buf) < total {
		s.buf = make([]byte, total)
	}
	buf := s.buf[:total]
	for i := range n {
		size := int(s.rx.size[i])
		f := buf[:size:size]
		buf = buf[size:]
		if size > 0 {
			copy(f, unsafe.Slice((*byte)(s.rx.data[i]), size))
		}
		s.frames[i], s.more[i] = f, s.rx.more[i] != 0
	}
	s.held = n
	return nil
}

// Close implements runner.Socket. It may be called from any goroutine and
// more than once: it shuts the socket's context down, which ends a blocked
// Send or RecvFrame with an error, then closes the socket and terminates the
// context once that call has returned.
func (s *libzmqSocket) Close() error {
	s.once.Do(func() {
		// A loop waiting on another socket of its pair sees the flag
		// (libzmq_loops.h); one waiting on this socket sees ETERM.
		C.zb_mark_closing(s.rx)
		C.zmq_ctx_shutdown(s.ctx)
		s.mu.Lock()
		C.zb_close(s.ctx, s.sock, s.rx)
		s.sock = 0
		C.free(unsafe.Pointer(s.rx))
		s.rx = nil
		s.held, s.next = 0, 0
		s.mu.Unlock()
	})
	return nil
}

// Telemetry implements runner.Socket: libzmq exposes no write-path counters.
func (s *libzmqSocket) Telemetry() (sample.Telemetry, bool) { return sample.Telemetry{}, false }

// The loops (runner.Loops): the data part of a phase in one cgo call, the
// C code of libzmq_loops.h that the libzmq-c engine's side program runs too.
// A loop holds its sockets' mutexes for the whole call, as Send and
// RecvFrame do for theirs; Close from another goroutine ends it (ETERM, or
// the closing flag when the loop waits on the other socket of its pair),
// with errLibzmqClosed.

var _ runner.Loops = Libzmq{}

// loopSocket returns the libzmq socket behind s.
func loopSocket(s runner.Socket) (*libzmqSocket, error) {
	ls, ok := s.(*libzmqSocket)
	if !ok {
		return nil, fmt.Errorf("engines: libzmq loop on a %T, not a libzmq socket", s)
	}
	return ls, nil
}

// lockLoop locks the sockets of a loop (once when they are the same) and
// returns their unlock; errLibzmqClosed if one is closed.
func lockLoop(socks ...*libzmqSocket) (unlock func(), err error) {
	var locked []*libzmqSocket
	unlock = func() {
		for _, s := range locked {
			s.mu.Unlock()
		}
	}
	for _, s := range socks {
		if slices.Contains(locked, s) {
			continue
		}
		s.mu.Lock()
		locked = append(locked, s)
		if s.sock == 0 {
			unlock()
			return nil, errLibzmqClosed
		}
	}
	return unlock, nil
}

func (s *libzmqSocket) rxHandle() C.uintptr_t { return C.uintptr_t(uintptr(unsafe.Pointer(s.rx))) }

// loopStats converts a loop's figures.
func loopStats(st *C.zbl_stats) runner.LoopStats {
	return runner.LoopStats{
		Sent: int64(st.sent), Received: int64(st.received),
		FirstSend: int64(st.first_send), LastSend: int64(st.last_send),
		FirstRecv: int64(st.first_recv), LastRecv: int64(st.last_recv),
	}
}

// loopControl is the control message that ended a loop.
func loopControl(st *C.zbl_stats) runner.Control {
	var c runner.Control
	if st.ctl < 0 {
		return c
	}
	c.Code = byte(st.ctl)
	if st.from_len > 0 {
		c.From = C.GoBytes(unsafe.Pointer(&st.from[0]), st.from_len)
	}
	return c
}

// loopError turns a loop's result into an error; what names the message
// checked by size.
func loopError(rc C.int, st *C.zbl_stats, size int, what string) error {
	switch {
	case rc == 0:
		return nil
	case rc == C.ZBL_WRONG_SIZE:
		return fmt.Errorf("%w: %s of %d bytes, want %d", runner.ErrWrongSize, what, int64(st.got_size), size)
	case rc == C.ZBL_UNEXPECTED && st.frames == 0:
		return fmt.Errorf("%w: routed message without identity", runner.ErrUnexpectedMessage)
	case rc == C.ZBL_UNEXPECTED:
		return fmt.Errorf("%w: %d frames", runner.ErrUnexpectedMessage, int(st.frames))
	case st.op == C.ZBL_OP_SEND:
		return libzmqError("send", rc)
	}
	return libzmqError("recv", rc)
}

// SendLoop implements runner.Loops.
func (Libzmq) SendLoop(s runner.Socket, size int, count, deadline int64) (runner.LoopStats, error) {
	tx, err := loopSocket(s)
	if err != nil {
		return runner.LoopStats{}, err
	}
	unlock, err := lockLoop(tx)
	if err != nil {
		return runner.LoopStats{}, err
	}
	var st C.zbl_stats
	rc := C.zb_send_loop(tx.sock, tx.rxHandle(), C.size_t(size), C.int64_t(count), C.int64_t(deadline), &st)
	unlock()
	return loopStats(&st), loopError(rc, &st, size, "message")
}

// RecvLoop implements runner.Loops.
func (Libzmq) RecvLoop(s runner.Socket, size int, routed, timeEach bool) (runner.LoopStats, runner.Control, error) {
	rx, err := loopSocket(s)
	if err != nil {
		return runner.LoopStats{}, runner.Control{}, err
	}
	unlock, err := lockLoop(rx)
	if err != nil {
		return runner.LoopStats{}, runner.Control{}, err
	}
	var st C.zbl_stats
	rc := C.zb_recv_loop(rx.sock, rx.rxHandle(), C.size_t(size), cBool(routed), cBool(timeEach), &st)
	unlock()
	if err := loopError(rc, &st, size, "message"); err != nil {
		return loopStats(&st), runner.Control{}, err
	}
	return loopStats(&st), loopControl(&st), nil
}

// EchoLoop implements runner.Loops.
func (Libzmq) EchoLoop(rxs, txs runner.Socket, size int, routed bool) (runner.LoopStats, runner.Control, error) {
	rx, err := loopSocket(rxs)
	if err != nil {
		return runner.LoopStats{}, runner.Control{}, err
	}
	tx, err := loopSocket(txs)
	if err != nil {
		return runner.LoopStats{}, runner.Control{}, err
	}
	unlock, err := lockLoop(rx, tx)
	if err != nil {
		return runner.LoopStats{}, runner.Control{}, err
	}
	var st C.zbl_stats
	rc := C.zb_echo_loop(rx.sock, rx.rxHandle(), tx.sock, tx.rxHandle(), C.size_t(size), cBool(routed), &st)
	unlock()
	if err := loopError(rc, &st, size, "request"); err != nil {
		return loopStats(&st), runner.Control{}, err
	}
	return loopStats(&st), loopControl(&st), nil
}

// RoundTrips implements runner.Loops. rtts is written by C during the call
// (Go memory holding no pointers, which cgo keeps in place for the call).
func (Libzmq) RoundTrips(txs, rxs runner.Socket, size int, count, deadline int64, rtts []int64) (runner.LoopStats, error) {
	tx, err := loopSocket(txs)
	if err != nil {
		return runner.LoopStats{}, err
	}
	rx, err := loopSocket(rxs)
	if err != nil {
		return runner.LoopStats{}, err
	}
	unlock, err := lockLoop(tx, rx)
	if err != nil {
		return runner.LoopStats{}, err
	}
	var rp *C.int64_t
	if len(rtts) > 0 {
		rp = (*C.int64_t)(unsafe.Pointer(&rtts[0]))
	}
	var st C.zbl_stats
	rc := C.zb_round_trips(tx.sock, tx.rxHandle(), rx.sock, rx.rxHandle(), C.size_t(size), C.int64_t(count),
		C.int64_t(deadline), rp, C.int64_t(len(rtts)), &st)
	unlock()
	return loopStats(&st), loopError(rc, &st, size, "reply")
}

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}
