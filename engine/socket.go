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
// Concurrency: like a ZeroMQ socket, each side of a Socket is used by one
// goroutine at a time. The send side (Send, SendMore, SendMsg, Subscribe,
// Unsubscribe) must not be called concurrently with itself, nor the receive
// side (RecvFrame, RecvFrameView, RecvMsg) with itself: the goroutine in
// Send owns the open batch of each peer and appends to it without a lock,
// and the goroutine in Recv owns the messages already taken from the
// connections' readers. A send-side and a receive-side call may run at the
// same time from two goroutines, and successive calls may come from
// different goroutines when the caller orders them (a channel, a mutex).
// Bind, Connect, Endpoints, Stats and Close may be called from any goroutine
// at any time; Close unblocks a blocked Send or Recv.
type Socket struct {
	typ  Type
	opts Options
	log  *slog.Logger

	// life is the socket's close state.
	life closeState

	mu        sync.Mutex
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

	// Send side: used only by the goroutine in a send-side call.
	lb        int
	cur       *pipe   // pipe taking the frames of the message being sent
	inMsg     bool    // a message is being sent (a frame with MORE went out)
	dropMsg   bool    // the rest of the message being sent is discarded
	pubDest   []*pipe // PUB: peers matching the message being sent
	room      chan struct{}
	roomWait  atomic.Int32
	sendTimer *time.Timer // SendTimeout's timer, made on first use

	// Receive side: used only by the goroutine in a receive-side call.
	// direct is set for the socket types whose frames need no envelope
	// rules (PAIR, DEALER, PULL): Recv takes them straight from the queue.
	direct    bool
	ready     readyList
	active    []*pipe
	rr        int
	curIn     *pipe       // pipe whose message is being received
	pendIn    []inFrame   // frames to hand out before the next raw one (ROUTER identity)
	view      *rbuf       // buffer of the frame the last RecvFrameView returned
	recvTimer *time.Timer // RecvTimeout's timer, made on first use
	// recvWaiting is true while a Recv sleeps for want of a message.
	recvWaiting atomic.Bool

	// rbufs recycles read buffers and the buffers of frames too large for
	// them (see rbuf); viewing is set once Recv has used RecvFrameView, so
	// that readers hand over every read's buffer.
	rbufs   rbufPool
	viewing atomic.Bool

	// REQ/REP state, guarded by stateMu.
	stateMu   sync.Mutex
	awaiting  bool      // REQ: a request is out, the reply is due; REP: a reply is due
	inReply   bool      // REQ: returning the frames of the reply
	replyPipe *pipe     // REQ: where the request went; REP: where the request came from
	envelope  []inFrame // REP: routing frames of the request being answered
	envBuf    []inFrame // REP: storage reused for envelopes (receive side)
	// spentEnv is the envelope of the last reply sent (REP): its frames
	// still hold their read buffers, which the next Recv lets go (only the
	// goroutine in Recv touches a buffer's count of frames).
	spentEnv []inFrame
}

// Close phases of a Socket.
const (
	// phaseOpen: in use.
	phaseOpen int32 = iota
	// phaseClosing: Close was called. Send, Recv, Bind and Connect refuse;
	// connections still come up and drain their queues (Linger).
	phaseClosing
	// phaseClosed: linger is over. No connection is attached any more and
	// diallers stop.
	phaseClosed
)

// closeState is a socket's close state: one phase, moved forward under the
// socket's mu, and a channel closed on entering each later phase so that
// blocked calls can select on it.
type closeState struct {
	phase   atomic.Int32
	closing chan struct{} // closed on entering phaseClosing
	closed  chan struct{} // closed on entering phaseClosed
}

func newCloseState() closeState {
	return closeState{closing: make(chan struct{}), closed: make(chan struct{})}
}

// enter moves to phase ph (from the one before it). s.mu must be held.
func (cs *closeState) enter(ph int32) {
	cs.phase.Store(ph)
	switch ph {
	case phaseClosing:
		close(cs.closing)
	case phaseClosed:
		close(cs.closed)
	}
}

// isClosed reports whether Close was called.
func (s *Socket) isClosed() bool { return s.life.phase.Load() != phaseOpen }

// isDone reports whether linger is over (no connection may attach).
func (s *Socket) isDone() bool { return s.life.phase.Load() == phaseClosed }

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
		typ:    t,
		opts:   opts,
		log:    opts.Logger,
		life:   newCloseState(),
		conns:  make(map[*conn]struct{}),
		routes: make(map[string]*pipe),
		room:   make(chan struct{}, 1),
		ready:  readyList{wake: make(chan struct{}, 1)},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.direct = t == PAIR || t == DEALER || t == PULL
	s.rbufs.init(s.readBufSize(), opts.RcvHWM)
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
func (s *Socket) getReadBuf() *rbuf { return s.rbufs.get(-1) }

// getLargeBuf returns a pooled buffer for a frame body of n octets, at most
// the largest size class.
func (s *Socket) getLargeBuf(n int) *rbuf { return s.rbufs.get(sizeClass(n)) }

// recycle returns a buffer that nothing refers to any more to its pool.
func (s *Socket) recycle(rb *rbuf) {
	if rb != nil {
		s.rbufs.put(rb)
	}
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
	if s.isClosed() {
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
	if s.isClosed() {
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
			case <-s.life.closing:
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
		case <-s.life.closed:
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
		case <-s.life.closed:
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
	if s.isDone() {
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
	case <-s.life.closing:
		return
	default:
	}
	s.log.Debug("handshake failed", "endpoint", endpoint, "peer", peer,
		"err", &HandshakeError{Endpoint: endpoint, Peer: peer, Err: err})
}

// attach makes a handshaken connection the pipe's live connection and gives
// the pipe's write role to the connection's writer, which runConn starts
// next: what was queued while disconnected goes out first.
func (s *Socket) attach(p *pipe, c *conn, md metadata) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isDone() {
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
	// Take the role from roleDetached: meanwhile nobody else writes or
	// looks at the write side. What was queued while disconnected is
	// granted to the connection's writer, which runConn starts next;
	// otherwise the role goes idle, and the first Send may write at once.
	q.takeRole(roleWriter)
	q.atBoundary, q.cmdCut = true, false
	p.live.Store(c)
	if s.typ == SUB {
		// Subscriptions are replayed on every new connection.
		q.dropCmds()
		s.subs.each(func(prefix []byte) {
			q.addCmd(c.encodeSubscription(prefix, true))
		})
	}
	if q.pendingAfter(q.head, q.head.off, q.cmid) {
		q.grant()
	} else {
		q.releaseIdle()
	}
	s.roomAvailable()
	return true
}

// detach unhooks a finished connection from its pipe, once its writer has
// ended. It takes the write role for good (roleDetached) and settles what
// the connection left half written. A connecting pipe keeps its queue for
// the next connection; an accepted pipe is removed, its queue dropped, its
// received messages still readable.
func (s *Socket) detach(p *pipe, c *conn) {
	q := &p.out
	q.takeRole(roleClosing)
	select {
	case <-q.wake: // a token granted to the ended writer
	default:
	}
	p.live.CompareAndSwap(c, nil)
	q.dropCmds()
	q.dropPartial(p.codec, !p.connect)
	q.role.Store(roleDetached)

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
	if s.isClosed() {
		s.mu.Unlock()
		return ErrClosed
	}
	s.life.enter(phaseClosing)
	for _, l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()

	s.linger()

	s.mu.Lock()
	s.life.enter(phaseClosed)
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// fail may wait briefly for a writer (a WebSocket goodbye), so not
	// under mu.
	for _, c := range conns {
		c.fail(ErrClosed)
	}
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
			if p.out.pending() {
				pending = true
				break
			}
		}
		if !pending || !deadline.IsZero() && time.Now().After(deadline) {
			return
		}
		time.Sleep(time.Millisecond)
	}
}
