package runner

import (
	"errors"
	"fmt"

	"zbench/matrix"
	"zbench/runner/sample"
)

// Socket kinds, as NewSocket takes them.
const (
	KindPair   = "pair"
	KindPush   = "push"
	KindPull   = "pull"
	KindReq    = "req"
	KindRep    = "rep"
	KindDealer = "dealer"
	KindRouter = "router"
	KindPub    = "pub"
	KindSub    = "sub"
)

// Kinds lists every socket kind an Engine may be asked for.
var Kinds = []string{KindPair, KindPush, KindPull, KindReq, KindRep, KindDealer, KindRouter, KindPub, KindSub}

// ErrUnknownKind is returned by Engine.NewSocket for a kind not in Kinds.
var ErrUnknownKind = errors.New("runner: unknown socket kind")

// Engine is one messaging engine the workloads can drive: the embedded
// engine, go-zeromq/zmq4, libzmq. Adapters live in runner/engines.
type Engine interface {
	// Name is the engine's name on the matrix's engine axis.
	Name() string
	// Supports says whether the cell can run on this engine. When ok is
	// false, reason is shown as "unsupported: <reason>" in the results.
	// When ok is true, a non-empty reason is a note recorded in every
	// sample of the cell (for example that an axis value does not apply).
	Supports(c matrix.Cell) (ok bool, reason string)
	// NewSocket opens a socket of the given kind (one of Kinds).
	NewSocket(kind string, o SocketOptions) (Socket, error)
}

// MixedEngine is an engine whose socket pairs join two engines, the
// interoperability check run as a benchmark. In every pair the sending side
// (the stream's sender, the client of round trips) opens its sockets on
// sender, and the receiving side (the stream's receiver and the echo of the
// latency phase) on receiver; with two processes, each side's worker runs
// its own engine. NewSocket is not used for such an engine's cells.
type MixedEngine interface {
	Engine
	Sides() (sender, receiver Engine)
}

// SocketOptions are the per-socket settings a cell fixes.
type SocketOptions struct {
	OutBatchSize  int      // bytes; the batch the engine fills before one write
	WriteBatching bool     // false: every message is its own write
	Identity      []byte   // identity a ROUTER peer sees; nil: engine-assigned
	Subscribe     [][]byte // initial subscriptions of a SUB socket
}

// SocketOptionsFor returns the options a cell fixes for every socket of it.
func SocketOptionsFor(c matrix.Cell) SocketOptions {
	return SocketOptions{OutBatchSize: c.OutBatchSize, WriteBatching: c.WriteBatching}
}

// Socket is the small surface the workloads use. A Socket is used by one
// goroutine at a time, except that Close may be called from any goroutine to
// unblock a pending Send or RecvFrame.
type Socket interface {
	// Bind listens on endpoint and returns the endpoint as bound (a tcp
	// port given as * resolved to the actual port).
	Bind(endpoint string) (bound string, err error)
	// Connect connects to endpoint. The connection may complete later.
	Connect(endpoint string) error
	// SendMore sends a frame with more frames to follow. It copies frame.
	SendMore(frame []byte) error
	// Send sends a one-frame message, or the last frame after SendMore. It
	// copies frame: the caller may reuse it when Send returns. Adapters keep
	// this path allocation-free where the engine allows.
	Send(frame []byte) error
	// RecvFrame returns the next frame and whether more frames of the same
	// message follow. frame is valid until the next RecvFrame on this
	// socket (an adapter may hand out the engine's own buffer); the caller
	// copies what it keeps longer.
	RecvFrame() (frame []byte, more bool, err error)
	// Close closes the socket; pending messages may be discarded.
	Close() error
	// Telemetry returns the socket's write-path counters so far, and false
	// when the engine exposes none.
	Telemetry() (sample.Telemetry, bool)
}

// Loops is implemented by an engine that runs the data part of a phase in
// one call rather than one call per message: libzmq, whose loops are C, so
// that crossing from Go into C is paid per phase, as a C program calling
// libzmq pays none. The sockets given are the engine's own. Control
// messages (markers, the echo's stop) stay with the runner, in Go; every
// loop returns when it meets one. Times are Mono readings.
type Loops interface {
	// SendLoop sends one-frame messages of size bytes on s: count of them,
	// or, with count 0, until the monotonic clock passes deadline.
	SendLoop(s Socket, size int, count int64, deadline int64) (LoopStats, error)
	// RecvLoop receives on s until a control message arrives, checking that
	// every data message has size bytes (ErrWrongSize). It times the first
	// data message, and the last one when timeEach is set. routed: every
	// message starts with the sender's identity frame.
	RecvLoop(s Socket, size int, routed, timeEach bool) (LoopStats, Control, error)
	// EchoLoop receives on rx and sends every data message back unchanged
	// on tx (to its sender's identity when routed) until a control message
	// arrives, which it returns.
	EchoLoop(rx, tx Socket, size int, routed bool) (LoopStats, Control, error)
	// RoundTrips sends a request of size bytes on tx and waits for its
	// reply on rx, count times or, with count 0, until the monotonic clock
	// passes deadline; control messages met while waiting are skipped. The
	// i-th round trip's time in ns goes to rtts[i] while i < len(rtts).
	RoundTrips(tx, rx Socket, size int, count int64, deadline int64, rtts []int64) (LoopStats, error)
}

// LoopStats is what a Loops call did: data messages sent and received, and
// when (Mono ns; 0 when none).
type LoopStats struct {
	Sent, Received      int64
	FirstSend, LastSend int64
	FirstRecv, LastRecv int64
}

// Control is a control message a loop met: its code and, on a routed
// socket, the identity of its sender.
type Control struct {
	Code byte
	From []byte
}

// External is implemented by an engine whose sides are programs of their
// own rather than `zbench worker` (libzmq driven by plain C programs). The
// program speaks the side protocol (see Work) on its stdin and stdout.
type External interface {
	// SideCommand returns the program and arguments that run one side of
	// one run of the cell.
	SideCommand(c matrix.Cell, role, ipcDir string) (path string, args []string, err error)
}

// Lookup finds an engine by name; false when this binary has no such
// engine at all.
type Lookup func(name string) (Engine, bool)

// supports applies lookup and the engine's own verdict to a cell.
func supports(lookup Lookup, c matrix.Cell) (eng Engine, ok bool, reason string) {
	if lookup == nil {
		return nil, false, "no engines configured"
	}
	eng, found := lookup(c.Engine)
	if !found {
		return nil, false, fmt.Sprintf("unknown engine %q", c.Engine)
	}
	if c.Processes != 1 && c.Processes != 2 {
		return nil, false, fmt.Sprintf("processes %d (allowed: 1, 2)", c.Processes)
	}
	if why := rateUnsupported(eng, c); why != "" {
		return nil, false, why
	}
	ok, reason = eng.Supports(c)
	return eng, ok, reason
}

// rateUnsupported says why an open-loop cell (rate > 0) cannot run, or "".
func rateUnsupported(eng Engine, c matrix.Cell) string {
	if c.Rate == 0 {
		return ""
	}
	if !patternSpecs[c.Pattern].stream {
		return fmt.Sprintf("rate %d: %s has no one-way stream to schedule (a REQ allows one request outstanding)", c.Rate, c.Pattern)
	}
	sides := []Engine{eng}
	if m, ok := eng.(MixedEngine); ok {
		tx, rx := m.Sides()
		sides = []Engine{tx, rx}
	}
	for _, e := range sides {
		switch e.(type) {
		case Loops:
			return fmt.Sprintf("rate %d: the open-loop schedule runs in Go, one call per message, while %s's loops run in C: its figures would be handicapped", c.Rate, e.Name())
		case External:
			return fmt.Sprintf("rate %d: %s's side programs have no open-loop schedule", c.Rate, e.Name())
		}
	}
	return ""
}
