package runner

import (
	"errors"
	"fmt"

	"zbench/matrix"
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
// latency phase) on receiver. NewSocket is not used for such an engine's
// cells; RunCell asks the sides.
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
	Telemetry() (Telemetry, bool)
}

// Lookup finds an engine by name; false when this binary has no such
// engine at all.
type Lookup func(name string) (Engine, bool)

// supports applies lookup and the engine's own verdict to a cell.
func supports(lookup Lookup, c matrix.Cell) (ok bool, reason string) {
	if lookup == nil {
		return false, "no engines configured"
	}
	eng, found := lookup(c.Engine)
	if !found {
		return false, fmt.Sprintf("unknown engine %q", c.Engine)
	}
	return eng.Supports(c)
}
