package engines

import (
	"fmt"

	"zbench/engine"
	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/sample"
)

// ZbenchName is the engine name of the embedded engine (package engine).
const ZbenchName = matrix.EngineZbench

func init() { register(Zbench{}) }

// Zbench is the adapter for the embedded engine: every transport (tcp, ipc,
// ws), both batching settings, and the engine's write-path telemetry.
// Sockets start from engine.DefaultOptions() with the cell's out_batch_size
// and write_batching, and a Linger of 0: a workload closes its sockets only
// once every message it waits for has arrived.
type Zbench struct{}

// Name implements runner.Engine.
func (Zbench) Name() string { return ZbenchName }

// Supports implements runner.Engine: any cell whose options the engine
// accepts, over tcp, ipc and ws.
func (Zbench) Supports(c matrix.Cell) (bool, string) {
	if err := zbenchOptions(runner.SocketOptionsFor(c)).Validate(); err != nil {
		return false, err.Error()
	}
	return true, ""
}

func zbenchOptions(o runner.SocketOptions) engine.Options {
	eo := engine.DefaultOptions()
	eo.OutBatchSize = o.OutBatchSize
	eo.WriteBatching = o.WriteBatching
	eo.Identity = o.Identity
	eo.Subscribe = o.Subscribe
	eo.Linger = 0
	return eo
}

// NewSocket implements runner.Engine.
func (Zbench) NewSocket(kind string, o runner.SocketOptions) (runner.Socket, error) {
	t, err := engine.ParseType(kind)
	if err != nil {
		return nil, fmt.Errorf("%w %q", runner.ErrUnknownKind, kind)
	}
	s, err := engine.NewSocket(t, zbenchOptions(o))
	if err != nil {
		return nil, err
	}
	return zbenchSocket{s}, nil
}

// ZbenchSocket puts a socket of the embedded engine, made with whatever
// options the caller needs, behind runner.Socket, as the adapter does its
// own: for `zbench peer`, which drives one side of a benchmark against any
// ZeroMQ peer with the runner's loops. The caller still owns s.
func ZbenchSocket(s *engine.Socket) runner.Socket { return zbenchSocket{s} }

// zbenchSocket puts an *engine.Socket behind runner.Socket; every call goes
// straight through, so the hot path allocates only what the engine does.
type zbenchSocket struct{ s *engine.Socket }

// Bind implements runner.Socket.
func (z zbenchSocket) Bind(endpoint string) (string, error) {
	if err := z.s.Bind(endpoint); err != nil {
		return "", err
	}
	eps := z.s.Endpoints()
	if len(eps) == 0 {
		return "", fmt.Errorf("engines: bound %s but the socket lists no endpoint", endpoint)
	}
	return eps[len(eps)-1], nil
}

// Connect implements runner.Socket.
func (z zbenchSocket) Connect(endpoint string) error { return z.s.Connect(endpoint) }

// SendMore implements runner.Socket.
func (z zbenchSocket) SendMore(frame []byte) error { return z.s.SendMore(frame) }

// Send implements runner.Socket.
func (z zbenchSocket) Send(frame []byte) error { return z.s.Send(frame) }

// RecvFrame implements runner.Socket through the engine's RecvFrameView:
// the frame is valid until the next RecvFrame, as runner.Socket allows, and
// the engine recycles its read buffers instead of allocating.
func (z zbenchSocket) RecvFrame() ([]byte, bool, error) { return z.s.RecvFrameView() }

// Close implements runner.Socket.
func (z zbenchSocket) Close() error { return z.s.Close() }

// Telemetry implements runner.Socket.
func (z zbenchSocket) Telemetry() (sample.Telemetry, bool) {
	st := z.s.Stats()
	return sample.Telemetry{
		Available:       true,
		MsgsOut:         st.MsgsOut,
		BytesOut:        st.BytesOut,
		Writes:          st.Writes,
		BatchedWrites:   st.BatchedWrites,
		ImmediateWrites: st.ImmediateWrites,
		PartialHandoffs: st.PartialHandoffs,
		MsgsIn:          st.MsgsIn,
		BytesIn:         st.BytesIn,
		Reads:           st.Reads,
		MsgsPerWrite:    st.MsgsPerWrite(),
	}, true
}
