package engines

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"

	zmq4 "github.com/go-zeromq/zmq4"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/sample"
)

// Zmq4Name is the engine name of the go-zeromq/zmq4 adapter.
const Zmq4Name = matrix.EngineZmq4

// zmq4 defaults that the matrix's batching axes must have for a zmq4 cell:
// the library writes every frame on its own and has neither setting, so
// only the matrix's defaults run, noted as n/a.
const (
	zmq4OutBatchSize  = matrix.DefaultOutBatchSize
	zmq4WriteBatching = matrix.DefaultWriteBatching
	zmq4PubHWM        = 1000 // ZeroMQ's default high-water mark
)

func init() { register(Zmq4{}) }

// Zmq4 is the adapter for github.com/go-zeromq/zmq4, a pure-Go ZeroMQ
// implementation. It supports tcp and ipc, has no write-path telemetry, and
// runs only cells whose out_batch_size and write_batching are the matrix's
// defaults, noting them as not applicable (sample.NoteNotApplicable).
type Zmq4 struct{}

// Name implements runner.Engine.
func (Zmq4) Name() string { return Zmq4Name }

// Supports implements runner.Engine.
func (Zmq4) Supports(c matrix.Cell) (bool, string) {
	switch c.Protocol {
	case matrix.ProtocolTCP, matrix.ProtocolIPC:
	default:
		return false, fmt.Sprintf("zmq4 has no %s transport (tcp and ipc only)", c.Protocol)
	}
	//lint:ignore S1002 the named constant says which setting zmq4 has; !c.WriteBatching would hide it
	if c.OutBatchSize != zmq4OutBatchSize || c.WriteBatching != zmq4WriteBatching {
		return false, "zmq4 has no out_batch_size or write_batching setting (it writes every frame on its own)"
	}
	return true, sample.NoteNotApplicable("zmq4 has neither setting (it writes every frame on its own)",
		matrix.AxisOutBatchSize, matrix.AxisWriteBatching)
}

var quietLogger = log.New(io.Discard, "", 0)

// NewSocket implements runner.Engine.
func (Zmq4) NewSocket(kind string, o runner.SocketOptions) (runner.Socket, error) {
	ctx := context.Background()
	opts := []zmq4.Option{zmq4.WithLogger(quietLogger)}
	if len(o.Identity) > 0 {
		opts = append(opts, zmq4.WithID(zmq4.SocketIdentity(o.Identity)))
	}
	var s zmq4.Socket
	queued := false // Send queues the message for another goroutine
	switch kind {
	case runner.KindPair:
		s = zmq4.NewPair(ctx, opts...)
	case runner.KindPush:
		s = zmq4.NewPush(ctx, opts...)
	case runner.KindPull:
		s = zmq4.NewPull(ctx, opts...)
	case runner.KindReq:
		s = zmq4.NewReq(ctx, opts...)
	case runner.KindRep:
		s, queued = zmq4.NewRep(ctx, opts...), true
	case runner.KindDealer:
		s = zmq4.NewDealer(ctx, opts...)
	case runner.KindRouter:
		s = zmq4.NewRouter(ctx, opts...)
	case runner.KindPub:
		s, queued = zmq4.NewPub(ctx, opts...), true
		if err := s.SetOption(zmq4.OptionHWM, zmq4PubHWM); err != nil {
			return nil, fmt.Errorf("engines: zmq4 pub hwm: %w", err)
		}
	case runner.KindSub:
		s = zmq4.NewSub(ctx, opts...)
		for _, topic := range o.Subscribe {
			if err := s.SetOption(zmq4.OptionSubscribe, string(topic)); err != nil {
				return nil, fmt.Errorf("engines: zmq4 subscribe: %w", err)
			}
		}
	default:
		return nil, fmt.Errorf("%w %q", runner.ErrUnknownKind, kind)
	}
	return &zmq4Socket{s: s, copyOnSend: queued}, nil
}

// zmq4Socket adapts a zmq4.Socket, whose unit is the whole message, to the
// frame-level runner.Socket.
type zmq4Socket struct {
	s          zmq4.Socket
	copyOnSend bool     // the socket keeps the frames after Send returns
	out        [][]byte // frames given to SendMore, copied
	in         [][]byte // frames of the message being read
}

// Bind implements runner.Socket.
func (z *zmq4Socket) Bind(endpoint string) (string, error) {
	if err := z.s.Listen(endpoint); err != nil {
		return "", err
	}
	if strings.HasPrefix(endpoint, "tcp://") {
		if a := z.s.Addr(); a != nil {
			return "tcp://" + a.String(), nil
		}
	}
	return endpoint, nil
}

// Connect implements runner.Socket.
func (z *zmq4Socket) Connect(endpoint string) error { return z.s.Dial(endpoint) }

// SendMore implements runner.Socket.
func (z *zmq4Socket) SendMore(frame []byte) error {
	z.out = append(z.out, append([]byte(nil), frame...))
	return nil
}

// Send implements runner.Socket.
func (z *zmq4Socket) Send(frame []byte) error {
	if z.copyOnSend {
		frame = append([]byte(nil), frame...)
	}
	if len(z.out) == 0 {
		return z.s.Send(zmq4.NewMsg(frame))
	}
	frames := append(z.out, frame)
	z.out = nil
	return z.s.Send(zmq4.NewMsgFrom(frames...))
}

// RecvFrame implements runner.Socket.
func (z *zmq4Socket) RecvFrame() ([]byte, bool, error) {
	if len(z.in) == 0 {
		msg, err := z.s.Recv()
		if err != nil {
			return nil, false, err
		}
		if len(msg.Frames) == 0 {
			return nil, false, fmt.Errorf("engines: zmq4 delivered a message without frames")
		}
		z.in = msg.Frames
	}
	f := z.in[0]
	z.in = z.in[1:]
	return f, len(z.in) > 0, nil
}

// Close implements runner.Socket.
func (z *zmq4Socket) Close() error { return z.s.Close() }

// Telemetry implements runner.Socket: zmq4 exposes none.
func (z *zmq4Socket) Telemetry() (sample.Telemetry, bool) { return sample.Telemetry{}, false }
