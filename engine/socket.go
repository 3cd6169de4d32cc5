package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"zbench/transport"
)

// Socket is a ZeroMQ socket of one Type, speaking ZMTP 3.1 (and ZWS 2.0)
// with any number of peers.
//
// Concurrency: Send-side calls (Send, SendMore, SendMsg, Subscribe,
// Unsubscribe) are serialised with each other, and Recv-side calls (RecvFrame,
// RecvMsg) with each other; a Send and a Recv may run at the same time from
// different goroutines. Bind, Connect, Stats and Close may be called from any
// goroutine.
type Socket struct {
	typ  Type
	opts Options
	log  *slog.Logger

	mu     sync.Mutex
	closed bool // Close was called: Send, Recv, Bind, Connect refuse
	// done is set once linger is over: no connection is attached any more.
	// Between closed and done, connections still come up and drain queues.
	done      bool
	closing   chan struct{} // closed by Close: blocked Send and Recv return
	shut      atomic.Bool   // set by Close, read on every Send
	stopDial  chan struct{} // closed after linger: diallers stop
	listeners []transport.Listener
	bound     []string
	pipes     []*pipe // every pipe, for Stats and Close
	conns     map[*conn]struct{}
	routes    map[string]*pipe // ROUTER: identity → pipe
	nextID    uint32
	subs      subscriptions // SUB: this socket's subscriptions
	retired   Stats         // telemetry of pipes that are gone
	wg        sync.WaitGroup

	// outPipes is the pipes Send may use, replaced (never mutated) under mu.
	outPipes atomic.Pointer[[]*pipe]

	// Send side, guarded by sendMu.
	sendMu   sync.Mutex
	lb       int
	cur      *pipe   // pipe taking the frames of the message being sent
	inMsg    bool    // a message is being sent (a frame with MORE went out)
	dropMsg  bool    // the rest of the message being sent is discarded
	pubDest  []*pipe // PUB: peers matching the message being sent
	room     chan struct{}
	roomWait atomic.Int32

	// Recv side, guarded by recvMu.
	recvMu sync.Mutex
	ready  readyList
	active []*pipe
	rr     int
	curIn  *pipe     // pipe whose message is being received
	pendIn []inFrame // frames to hand out before the next raw one (ROUTER identity)
	view   *rbuf     // buffer of the frame the last RecvFrameView returned

	// rbufs recycles read buffers (see rbuf); viewing is set once Recv has
	// used RecvFrameView, so that readers hand over every read's buffer.
	rbufs   sync.Pool
	viewing atomic.Bool

	// REQ/REP state, guarded by stateMu.
	stateMu   sync.Mutex
	awaiting  bool      // REQ: a request is out, the reply is due; REP: a reply is due
	inReply   bool      // REQ: returning the frames of the reply
	replyPipe *pipe     // REQ: where the request went; REP: where the request came from
	envelope  []inFrame // REP: routing frames of the request being answered
	envBuf    []inFrame // REP: storage reused for envelopes (guarded by recvMu)
}

// NewSocket makes a socket of type t. It validates opts and copies them.
func NewSocket(t Type, opts Options) (*Socket, error) {
	if int(t) >= len(typeNames) {
		return nil, fmt.Errorf("engine: unknown socket type %d", t)
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts.Identity = bytes.Clone(opts.Identity)
	s := &Socket{
		typ:      t,
		opts:     opts,
		log:      opts.Logger,
		closing:  make(chan struct{}),
		stopDial: make(chan struct{}),
		conns:    make(map[*conn]struct{}),
		routes:   make(map[string]*pipe),
		room:     make(chan struct{}, 1),
		ready:    readyList{wake: make(chan struct{}, 1)},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	size := s.readBufSize()
	s.rbufs.New = func() any { return &rbuf{b: make([]byte, size)} }
	if t == SUB {
		for _, p := range opts.Subscribe {
			s.subs.add(p)
		}
	} else if len(opts.Subscribe) > 0 {
		return nil, &OptionError{Option: "Subscribe", Value: len(opts.Subscribe), Allowed: "none unless the socket is SUB"}
	}
	s.outPipes.Store(&[]*pipe{})
	return s, nil
}

// readBufSize is the size of a connection's read buffer.
func (s *Socket) readBufSize() int { return max(s.opts.InBatchSize, 512) }

// getReadBuf returns an empty read buffer from the pool.
func (s *Socket) getReadBuf() *rbuf {
	rb := s.rbufs.Get().(*rbuf)
	rb.refs, rb.escaped = 0, false
	return rb
}

// Type returns the socket's type.
func (s *Socket) Type() Type { return s.typ }

// Options returns the options the socket was made with.
func (s *Socket) Options() Options { return s.opts }

func codecFor(f transport.Framing, client bool) (frameCodec, error) {
	switch f {
	case transport.ZMTP:
		return zmtpCodec{}, nil
	case transport.ZWS:
		return newZWSCodec(client), nil
	}
	return nil, fmt.Errorf("engine: unknown framing %d", f)
}

func framingOf(scheme string) transport.Framing {
	if scheme == transport.WS {
		return transport.ZWS
	}
	return transport.ZMTP
}

func endpointError(err error) error {
	var ee *transport.EndpointError
	if errors.As(err, &ee) {
		return fmt.Errorf("engine: %w", err)
	}
	return err
}

// Bind listens on an endpoint: tcp://host:port (host * = every interface,
// port * = ephemeral), ipc:///path, ipc://@name (Linux abstract namespace) or
// ws://host:port/path. Endpoints returns the bound endpoints as resolved.
func (s *Socket) Bind(endpoint string) error {
	ep, err := transport.Parse(endpoint, true)
	if err != nil {
		return endpointError(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	l, err := transport.ListenConfig{Refused: s.handshakeFailed}.Listen(ep)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	s.listeners = append(s.listeners, l)
	s.bound = append(s.bound, l.Endpoint())
	s.wg.Add(1)
	go s.acceptLoop(l)
	return nil
}

// Endpoints returns the endpoints the socket is bound to, as resolved (the
// actual port of tcp://host:*).
func (s *Socket) Endpoints() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bound...)
}

// Connect dials an endpoint in the background and keeps redialling (after
// ReconnectIvl, doubling up to ReconnectIvlMax) whenever the peer goes away.
// Messages sent before the connection is up wait in its queue.
func (s *Socket) Connect(endpoint string) error {
	ep, err := transport.Parse(endpoint, false)
	if err != nil {
		return endpointError(err)
	}
	codec, err := codecFor(framingOf(ep.Scheme), true)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	p := newPipe(s, true, ep.String(), codec)
	s.pipes = append(s.pipes, p)
	if s.typ != ROUTER {
		s.addOutPipeLocked(p)
	}
	s.wg.Add(1)
	go s.dialLoop(ep, p)
	return nil
}

func (s *Socket) addOutPipeLocked(p *pipe) {
	if p.attached {
		return
	}
	p.attached = true
	old := *s.outPipes.Load()
	next := make([]*pipe, len(old), len(old)+1)
	copy(next, old)
	next = append(next, p)
	s.outPipes.Store(&next)
}

func (s *Socket) removeOutPipeLocked(p *pipe) {
	if !p.attached {
		return
	}
	p.attached = false
	old := *s.outPipes.Load()
	next := make([]*pipe, 0, len(old))
	for _, q := range old {
		if q != p {
			next = append(next, q)
		}
	}
	s.outPipes.Store(&next)
}

func (s *Socket) acceptLoop(l transport.Listener) {
	defer s.wg.Done()
	for {
		tc, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			s.log.Debug("accept failed", "endpoint", l.Endpoint(), "err", err)
			select {
			case <-s.closing:
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		codec, err := codecFor(tc.Framing, false)
		if err != nil {
			tc.Close()
			continue
		}
		p := newPipe(s, false, l.Endpoint(), codec)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.runConn(tc, p)
		}()
	}
}

func (s *Socket) dialLoop(ep transport.Endpoint, p *pipe) {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stopDial:
			cancel()
		case <-ctx.Done():
		}
	}()
	ivl := s.opts.ReconnectIvl
	timer := time.NewTimer(0)
	<-timer.C
	for {
		tc, err := transport.Dial(ctx, ep)
		ok := false
		switch {
		case err == nil:
			ok = s.runConn(tc, p)
		case errors.Is(err, transport.ErrUpgrade):
			s.handshakeFailed(ep.String(), net.JoinHostPort(ep.Host, ep.Port), err)
		default:
			s.log.Debug("dial failed", "endpoint", ep.String(), "err", err)
		}
		if ok {
			ivl = s.opts.ReconnectIvl
		}
		timer.Reset(ivl)
		select {
		case <-s.stopDial:
			timer.Stop()
			return
		case <-timer.C:
		}
		if !ok && s.opts.ReconnectIvlMax > ivl {
			ivl = min(2*ivl, s.opts.ReconnectIvlMax)
		}
	}
}

// runConn handshakes a new connection, attaches it to its pipe, and reads
// until it fails. It reports whether the handshake succeeded.
func (s *Socket) runConn(tc *transport.Conn, p *pipe) bool {
	c := newConn(p, tc)
	s.mu.Lock()
	if s.done {
		s.mu.Unlock()
		tc.Close()
		return false
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()

	md, buf, r, w, err := c.handshake()
	if err != nil {
		var peer string
		if a := tc.RemoteAddr(); a != nil {
			peer = a.String()
		}
		s.handshakeFailed(p.endpoint, peer, err)
		c.fail(err)
		return false
	}
	if !s.attach(p, c, md) {
		c.fail(ErrClosed)
		return false
	}
	go c.writeLoop()
	err = c.readLoop(buf, r, w)
	c.fail(err)
	<-c.writerDone
	s.detach(p, c)
	if c.err != nil && !errors.Is(c.err, io.EOF) {
		s.log.Debug("connection closed", "endpoint", p.endpoint, "err", c.err)
	}
	return true
}

// handshakeFailed logs a connection that failed before it carried a
// message, as a *HandshakeError; not once the socket is closing, when
// handshakes fail because of it.
func (s *Socket) handshakeFailed(endpoint, peer string, err error) {
	select {
	case <-s.closing:
		return
	default:
	}
	s.log.Debug("handshake failed", "endpoint", endpoint, "peer", peer,
		"err", &HandshakeError{Endpoint: endpoint, Peer: peer, Err: err})
}

// attach makes a handshaken connection the pipe's live connection.
func (s *Socket) attach(p *pipe, c *conn, md metadata) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return false
	}
	if s.typ == PAIR && !p.connect {
		for _, q := range s.pipes {
			if q != p && (q.connect || q.attached) {
				s.log.Debug("PAIR refuses a second peer", "endpoint", p.endpoint)
				return false
			}
		}
	}
	if !p.connect {
		s.pipes = append(s.pipes, p)
	}
	if s.typ == ROUTER {
		id, _ := md.get("Identity")
		if len(id) == 0 || s.routes[string(id)] != nil {
			s.nextID++
			id = binary.BigEndian.AppendUint32([]byte{0}, s.nextID)
		}
		p.identity = bytes.Clone(id)
		s.routes[string(p.identity)] = p
	}
	s.addOutPipeLocked(p)

	p.in.mu.Lock()
	p.in.eof = false
	p.in.mu.Unlock()

	q := &p.out
	q.mu.Lock()
	p.conn = c
	p.peerMinor = c.minor
	q.writing = false
	if s.typ == SUB {
		// Subscriptions are replayed on every new connection.
		for _, sg := range q.segs {
			q.putSeg(sg)
		}
		clear(q.segs)
		q.segs = q.segs[:0]
		s.subs.each(func(prefix []byte) {
			p.appendRawLocked(c.encodeSubscription(prefix, true))
		})
	}
	if len(q.segs) > 0 {
		q.signalLocked()
	}
	q.mu.Unlock()
	s.roomAvailable()
	return true
}

// detach unhooks a finished connection from its pipe. A connecting pipe
// keeps its queue for the next connection; an accepted pipe is removed, its
// received messages still readable.
func (s *Socket) detach(p *pipe, c *conn) {
	q := &p.out
	q.mu.Lock()
	if p.conn == c {
		p.conn = nil
	}
	q.writing = false
	if p.connect {
		q.dropPartialLocked(p.codec)
	} else {
		for _, sg := range q.segs {
			q.msgs -= sg.msgs
		}
		clear(q.segs)
		q.segs = q.segs[:0]
	}
	q.mu.Unlock()

	s.mu.Lock()
	if s.typ == ROUTER && s.routes[string(p.identity)] == p {
		delete(s.routes, string(p.identity))
		if p.connect {
			s.removeOutPipeLocked(p)
		}
	}
	if !p.connect {
		s.removeOutPipeLocked(p)
		s.retirePipeLocked(p)
	}
	s.mu.Unlock()

	if !p.connect {
		p.in.mu.Lock()
		p.in.eof = true
		announce := !p.in.ready
		p.in.ready = true
		p.in.mu.Unlock()
		if announce {
			s.ready.add(p)
		}
	}
	s.roomAvailable()
}

// retirePipeLocked moves a pipe's telemetry into the socket's totals and
// forgets the pipe. s.mu must be held.
func (s *Socket) retirePipeLocked(p *pipe) {
	if p.retired {
		return
	}
	p.retired = true
	s.retired.add(p.stats())
	for i, q := range s.pipes {
		if q == p {
			s.pipes = append(s.pipes[:i], s.pipes[i+1:]...)
			break
		}
	}
}

// roomAvailable wakes a Send waiting for a pipe with room.
func (s *Socket) roomAvailable() {
	if s.roomWait.Load() > 0 {
		select {
		case s.room <- struct{}{}:
		default:
		}
	}
}

// Close stops the socket. It waits up to Linger for queued messages to be
// written, then closes every connection and listener (an ipc listener removes
// its socket file) and waits for all of the socket's goroutines to end.
// Blocked Send and Recv calls return ErrClosed.
func (s *Socket) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.shut.Store(true)
	close(s.closing)
	for _, l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()

	s.linger()

	s.mu.Lock()
	s.done = true
	close(s.stopDial)
	for c := range s.conns {
		c.fail(ErrClosed)
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// linger waits until every pipe's queue is written or Linger passes.
func (s *Socket) linger() {
	if s.opts.Linger == 0 {
		return
	}
	var deadline time.Time
	if s.opts.Linger > 0 {
		deadline = time.Now().Add(s.opts.Linger)
	}
	for {
		s.mu.Lock()
		pipes := append([]*pipe(nil), s.pipes...)
		s.mu.Unlock()
		pending := false
		for _, p := range pipes {
			p.out.mu.Lock()
			if len(p.out.segs) > 0 || p.out.writing || len(p.out.deferred) > 0 {
				pending = true
			}
			p.out.mu.Unlock()
			if pending {
				break
			}
		}
		if !pending || !deadline.IsZero() && time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
