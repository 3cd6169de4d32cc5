package runner_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/sample"
)

// fakeEngine is an in-memory engine whose sockets are joined by channels.
// It can misbehave on purpose: drop messages or deliver one of the wrong
// size. ROUTER sockets see the identity "peer".
type fakeEngine struct {
	// drop, if set, says whether a message is silently discarded; n is the
	// 1-based number of the data message among all data messages sent by
	// any socket (0 for control messages).
	drop       func(kind string, n int64) bool
	shrinkAt   int64 // the n-th data message loses a byte
	unsupport  string
	mu         sync.Mutex
	bound      map[string]*fakeSocket
	n          int
	dataSent   atomic.Int64
	sockets    []*fakeSocket
	queueDepth int
	// stallAt, if > 0, makes the PULL socket that receives the stallAt-th
	// message (counting every PULL of the engine) sleep for stall first,
	// once: a receiver that stops reading for a while.
	stallAt int64
	stall   time.Duration
	pulled  atomic.Int64
	stalled sync.Once
}

var errFakeClosed = errors.New("fake: closed")

func newFakeEngine() *fakeEngine {
	return &fakeEngine{bound: map[string]*fakeSocket{}, queueDepth: 1 << 16}
}

func (e *fakeEngine) Name() string { return "fake" }

func (e *fakeEngine) Supports(matrix.Cell) (bool, string) {
	return e.unsupport == "", e.unsupport
}

func (e *fakeEngine) NewSocket(kind string, o runner.SocketOptions) (runner.Socket, error) {
	s := &fakeSocket{eng: e, kind: kind, in: make(chan [][]byte, e.queueDepth), done: make(chan struct{})}
	e.mu.Lock()
	e.sockets = append(e.sockets, s)
	e.mu.Unlock()
	return s, nil
}

type fakeSocket struct {
	eng     *fakeEngine
	kind    string
	in      chan [][]byte
	peer    *fakeSocket
	done    chan struct{}
	closed  sync.Once
	out     [][]byte
	pending [][]byte
	tel     sample.Telemetry
	telMu   sync.Mutex
}

func (s *fakeSocket) Bind(ep string) (string, error) {
	s.eng.mu.Lock()
	defer s.eng.mu.Unlock()
	s.eng.n++
	bound := fmt.Sprintf("%s#%d", ep, s.eng.n)
	s.eng.bound[bound] = s
	return bound, nil
}

func (s *fakeSocket) Connect(ep string) error {
	s.eng.mu.Lock()
	defer s.eng.mu.Unlock()
	b, ok := s.eng.bound[ep]
	if !ok {
		return fmt.Errorf("fake: nothing bound at %s", ep)
	}
	s.peer, b.peer = b, s
	return nil
}

func (s *fakeSocket) SendMore(f []byte) error {
	s.out = append(s.out, append([]byte(nil), f...))
	return nil
}

func (s *fakeSocket) Send(f []byte) error {
	msg := append(s.out, append([]byte(nil), f...))
	s.out = nil
	if s.kind == runner.KindRouter {
		msg = msg[1:] // the identity frame picks the peer; there is only one
	}
	var n int64
	if len(msg) == 1 {
		n = s.eng.dataSent.Add(1)
		if s.eng.shrinkAt > 0 && n == s.eng.shrinkAt && len(msg[0]) > 0 {
			msg[0] = msg[0][1:]
		}
	}
	if s.eng.drop != nil && s.eng.drop(s.kind, n) {
		return nil
	}
	s.telMu.Lock()
	s.tel.MsgsOut++
	s.tel.Writes++
	s.telMu.Unlock()
	select {
	case s.peer.in <- msg:
		return nil
	case <-s.done:
		return errFakeClosed
	}
}

func (s *fakeSocket) RecvFrame() ([]byte, bool, error) {
	if len(s.pending) == 0 {
		select {
		case msg := <-s.in:
			if s.kind == runner.KindPull && s.eng.stallAt > 0 && s.eng.pulled.Add(1) == s.eng.stallAt {
				s.eng.stalled.Do(func() { time.Sleep(s.eng.stall) })
			}
			if s.kind == runner.KindRouter {
				msg = append([][]byte{[]byte("peer")}, msg...)
			}
			s.pending = msg
			s.telMu.Lock()
			s.tel.MsgsIn++
			s.telMu.Unlock()
		case <-s.done:
			return nil, false, errFakeClosed
		}
	}
	f := s.pending[0]
	s.pending = s.pending[1:]
	return f, len(s.pending) > 0, nil
}

func (s *fakeSocket) Close() error {
	s.closed.Do(func() { close(s.done) })
	return nil
}

func (s *fakeSocket) Telemetry() (sample.Telemetry, bool) {
	s.telMu.Lock()
	defer s.telMu.Unlock()
	t := s.tel
	t.Available = true
	return t, true
}

// lookupOf returns a runner.Lookup that knows only e, under the name "fake".
func lookupOf(e runner.Engine) runner.Lookup {
	return func(name string) (runner.Engine, bool) {
		if name == e.Name() {
			return e, true
		}
		return nil, false
	}
}
