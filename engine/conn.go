package engine

import (
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"zbench/transport"
)

// conn is one live connection of a pipe. Its reader runs in the goroutine
// that made the connection (dialler or acceptor); its writer in a goroutine of
// its own. Both end when the connection fails or the socket closes; the first
// error is kept.
type conn struct {
	p     *pipe
	tc    *transport.Conn
	raw   syscall.RawConn // nil: no speculative writes (conn has no fd)
	codec frameCodec
	minor byte // peer's ZMTP minor version

	dead       chan struct{} // closed by fail
	writerDone chan struct{}
	once       sync.Once
	err        error

	// Scratch of the speculative write (tryWrite), made once so that the
	// immediate path does not allocate.
	rawWriteFn func(fd uintptr) bool
	wiov       [2][]byte
	wblock     bool
	wn         int
	werr       error
}

func newConn(p *pipe, tc *transport.Conn) *conn {
	c := &conn{p: p, tc: tc, raw: tc.Raw, codec: p.codec, dead: make(chan struct{}), writerDone: make(chan struct{})}
	c.rawWriteFn = c.rawWrite
	return c
}

// fail ends the connection with err (the first error wins) and closes the
// network connection, which unblocks its reader and writer.
func (c *conn) fail(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.dead)
		if c.tc.Framing == transport.ZWS {
			c.wsGoodbye(err)
		}
		c.tc.Close()
	})
}

// tryWritev makes one non-blocking vectored write of hdr and body and
// returns what the kernel took; EAGAIN is not an error (it took nothing).
// The body goes out from the caller's memory. Only the party that set
// out.writing calls the write functions, so the scratch fields are not
// shared.
func (c *conn) tryWritev(hdr, body []byte) (int, error) {
	c.wiov[0], c.wiov[1] = hdr, body
	c.wblock = false
	err := c.raw.Write(c.rawWriteFn)
	n, werr := c.wn, c.werr
	c.wiov[0], c.wiov[1], c.werr = nil, nil, nil
	if n < 0 {
		n = 0
	}
	if err != nil {
		return n, err
	}
	if werr == unix.EAGAIN {
		return n, nil
	}
	return n, werr
}

// trySeg makes one non-blocking write of what is left of a seg and advances
// sg.off by what the kernel took.
func (c *conn) trySeg(sg *seg) (int, error) {
	hdr, body := sg.remaining()
	n, err := c.tryWritev(hdr, body)
	sg.off += n
	return n, err
}

// remaining returns the unwritten part of a seg as (at most) two slices.
func (sg *seg) remaining() (a, b []byte) {
	if sg.off < len(sg.buf) {
		return sg.buf[sg.off:], sg.body
	}
	return sg.body[sg.off-len(sg.buf):], nil
}

// rawWrite is the syscall.RawConn callback of the write functions: one
// write (or writev) attempt, retried on EINTR. Returning false on EAGAIN
// when wblock is set makes the runtime wait until the socket is writable and
// call again; otherwise it returns at once.
func (c *conn) rawWrite(fd uintptr) bool {
	for {
		if len(c.wiov[1]) == 0 {
			c.wn, c.werr = unix.Write(int(fd), c.wiov[0])
		} else {
			c.wn, c.werr = writev2(int(fd), c.wiov[0], c.wiov[1])
		}
		switch {
		case c.werr == unix.EINTR:
			continue
		case c.werr == unix.EAGAIN && c.wblock:
			return false
		}
		return true
	}
}

// writev2 writes two buffers with one writev, without allocating.
func writev2(fd int, a, b []byte) (int, error) {
	var iov [2]unix.Iovec
	n := 0
	if len(a) > 0 {
		iov[n].Base = &a[0]
		iov[n].SetLen(len(a))
		n++
	}
	if len(b) > 0 {
		iov[n].Base = &b[0]
		iov[n].SetLen(len(b))
		n++
	}
	if n == 0 {
		return 0, nil
	}
	r, _, e := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// writeSeg writes what is left of a seg, blocking until the kernel took it
// all (the writer's write).
func (c *conn) writeSeg(sg *seg) error {
	for sg.off < sg.size() {
		hdr, body := sg.remaining()
		if c.raw == nil {
			bufs := net.Buffers{hdr, body}
			n, err := bufs.WriteTo(c.tc.Conn)
			sg.off += int(n)
			if err != nil {
				return err
			}
			continue
		}
		c.wiov[0], c.wiov[1] = hdr, body
		c.wblock = true
		err := c.raw.Write(c.rawWriteFn)
		n, werr := c.wn, c.werr
		c.wiov[0], c.wiov[1], c.werr = nil, nil, nil
		if n > 0 {
			sg.off += n
		}
		if err != nil {
			return err
		}
		if werr != nil {
			return werr
		}
	}
	return nil
}

// writeLoop is the connection's writer: it sleeps until Send hands it work,
// then writes queued segs, one write per seg, until the queue is empty.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	q := &c.p.out
	var taken []*seg
	for {
		select {
		case <-q.wake:
		case <-c.dead:
			return
		}
		var err error
		taken, err = c.drain(taken)
		if err != nil {
			c.fail(err)
			return
		}
	}
}

// drain writes until the queue is empty, then clears q.writing. taken is a
// scratch slice returned for reuse.
func (c *conn) drain(taken []*seg) ([]*seg, error) {
	q := &c.p.out
	s := c.p.s
	for {
		q.mu.Lock()
		if c.p.conn != c {
			q.writing = false
			q.mu.Unlock()
			return taken, nil
		}
		if len(q.segs) == 0 {
			q.writing = false
			q.mu.Unlock()
			return taken, nil
		}
		taken = append(taken[:0], q.segs...)
		clear(q.segs)
		q.segs = q.segs[:0]
		q.mu.Unlock()

		for i, sg := range taken {
			start := monoNow()
			before := sg.off
			err := c.writeSeg(sg)
			end := monoNow()
			q.mu.Lock()
			q.writes++
			q.batched++
			q.bytesOut += uint64(sg.off - before)
			if err != nil {
				// Put back what was not written, in order, ahead of
				// anything queued meanwhile.
				rest := append([]*seg(nil), taken[i:]...)
				q.segs = append(rest, q.segs...)
				q.writing = false
				q.mu.Unlock()
				clear(taken)
				return taken[:0], err
			}
			q.noteWriteLocked(start, end)
			freed := sg.msgs
			q.msgs -= freed
			q.putSeg(sg)
			q.mu.Unlock()
			taken[i] = nil
			if freed > 0 {
				s.roomAvailable()
			}
		}
		taken = taken[:0]
	}
}

// handshake runs the ZMTP 3.x greeting and NULL handshake (on ZWS,
// handshakeZWS). It returns the peer's metadata and the read buffer with any
// bytes received after the peer's READY (buf[r:w]).
func (c *conn) handshake() (md metadata, buf []byte, r, w int, err error) {
	if c.tc.Framing == transport.ZWS {
		return c.handshakeZWS()
	}
	s := c.p.s
	_ = c.tc.SetDeadline(time.Now().Add(DefaultHandshakeIvl))
	defer c.tc.SetDeadline(time.Time{})

	out := appendGreeting(make([]byte, 0, 128))
	out = appendFrame(out, flagCommand, appendReadyBody(nil, readyProps(s.typ, s.opts.Identity)))
	if _, err := c.tc.Write(out); err != nil {
		return nil, nil, 0, 0, err
	}

	buf = s.getReadBuf().b
	for w < greetingSize {
		n, err := c.tc.Read(buf[w:greetingSize])
		w += n
		if cerr := checkSignature(buf[:w]); cerr != nil {
			return nil, nil, 0, 0, cerr
		}
		if err != nil {
			return nil, nil, 0, 0, err
		}
	}
	g, err := parseGreeting(buf[:greetingSize])
	if err != nil {
		return nil, nil, 0, 0, err
	}
	if g.mechanism != "NULL" {
		return nil, nil, 0, 0, protocolErrorf("greeting: peer asks for mechanism %q; this engine speaks NULL", g.mechanism)
	}
	c.minor = g.minorVersion()
	r = greetingSize

	// The first frame after the greeting must be READY (or ERROR).
	h, body, r, w, err := c.handshakeFrame(buf, r, w)
	if err != nil {
		return nil, nil, 0, 0, err
	}
	if h.flags&flagCommand == 0 {
		return nil, nil, 0, 0, protocolErrorf("handshake: got a message frame before READY")
	}
	if md, err = c.readyFrom(body); err != nil {
		return nil, nil, 0, 0, err
	}
	c.countHandshakeTail(r, w)
	return md, buf, r, w, nil
}

// handshakeFrame reads until buf[r:w] starts with a whole frame, and returns
// it (body finished by the codec) with r moved past it. A handshake frame
// must fit the read buffer.
func (c *conn) handshakeFrame(buf []byte, r, w int) (h frameHeader, body []byte, nr, nw int, err error) {
	for {
		h, ok, err := c.codec.decodeHeader(buf[r:w])
		if err != nil {
			return h, nil, r, w, err
		}
		if ok {
			if int64(len(buf)-r) < int64(h.hdrLen)+h.bodyLen {
				return h, nil, r, w, protocolErrorf("handshake: %d-octet frame does not fit the %d-octet read buffer", h.bodyLen, len(buf))
			}
			if end := r + h.hdrLen + int(h.bodyLen); end <= w {
				body := buf[r+h.hdrLen : end]
				c.codec.finishBody(h, body)
				return h, body, end, w, nil
			}
		}
		if w == len(buf) {
			copy(buf, buf[r:w])
			w -= r
			r = 0
		}
		n, err := c.tc.Read(buf[w:])
		w += n
		if err != nil && !(n > 0 && err == io.EOF) {
			return h, nil, r, w, err
		}
	}
}

// countHandshakeTail counts traffic that came in with the handshake
// (buf[r:w] after it) as read; the handshake itself is not counted, as on
// the sending side.
func (c *conn) countHandshakeTail(r, w int) {
	if w > r {
		c.countRead(w - r)
	}
}

// readyFrom checks a READY command and the peer's socket type.
func (c *conn) readyFrom(body []byte) (metadata, error) {
	name, data, err := splitCommand(body)
	if err != nil {
		return nil, err
	}
	switch name {
	case readyCommand:
	case errorCommand:
		reason := ""
		if len(data) > 0 && int(data[0]) <= len(data)-1 {
			reason = string(data[1 : 1+data[0]])
		}
		return nil, protocolErrorf("handshake: peer sent ERROR %q", reason)
	default:
		return nil, protocolErrorf("handshake: got command %q, want READY", name)
	}
	md, err := parseMetadata(data)
	if err != nil {
		return nil, err
	}
	st, ok := md.get("Socket-Type")
	if !ok {
		return nil, protocolErrorf("READY: no Socket-Type property")
	}
	if !c.p.s.typ.compatible(string(st)) {
		// Tell the peer why, then close.
		reason := "invalid socket type"
		frame := c.encodeCommand(errorCommand, append([]byte{byte(len(reason))}, reason...))
		_ = c.tc.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, _ = c.tc.Write(frame)
		return nil, protocolErrorf("READY: a %s socket cannot talk to a %s peer", c.p.s.typ, st)
	}
	return md, nil
}

// readLoop reads and decodes frames until the connection fails. buf[r:w]
// holds bytes already read. It returns the error that ended the connection.
func (c *conn) readLoop(buf []byte, r, w int) error {
	p := c.p
	s := p.s
	codec := c.codec
	maxMsg := s.opts.MaxMsgSize
	isPub := s.typ == PUB
	// cur is the read buffer; its frames may be handed to Recv without a
	// copy, and then it is replaced (see rbuf).
	cur := &rbuf{b: buf}
	var partial []inFrame // frames of a message still in progress
	var batch []inFrame   // complete messages decoded from this read
	for {
		// Hand every complete frame in buf[r:w] to Recv, handle commands,
		// group frames into messages. When the read brought much data (or
		// Recv takes frames as views), the read buffer itself is handed
		// over without a copy and another takes its place; for a few small
		// frames (the latency case) the bodies are copied into one arena and
		// the buffer is kept. A bad frame ends the connection, but only after
		// the complete messages before it are delivered (perr).
		avail := w - r
		handOver := !isPub && avail > 0 && (avail >= len(buf)/4 || s.viewing.Load())
		var arena []byte
		handed := false
		msgs := 0
		var perr error
		for {
			h, ok, err := codec.decodeHeader(buf[r:w])
			if err == nil && ok {
				err = checkFrameSize(h, maxMsg)
			}
			if err != nil {
				perr = err
				break
			}
			if !ok || int64(h.hdrLen)+h.bodyLen > int64(w-r) {
				break
			}
			end := r + h.hdrLen + int(h.bodyLen)
			body := buf[r+h.hdrLen : end : end]
			r = end
			codec.finishBody(h, body)
			if h.flags&flagCommand != 0 {
				if err := c.control(h, body); err != nil {
					// A command that ends the connection (a peer's
					// close) still lets the messages before it through.
					perr = err
					break
				}
				continue
			}
			f := inFrame{body: body, more: h.flags&flagMore != 0}
			if handOver {
				f.rb = cur
				cur.refs++
				handed = true
			} else {
				if arena == nil {
					arena = make([]byte, 0, avail)
				}
				at := len(arena)
				arena = append(arena, body...)
				f.body = arena[at:len(arena):len(arena)]
			}
			partial = append(partial, f)
			if !f.more {
				if isPub {
					c.subscriptionMessage(partial)
				} else {
					batch = append(batch, partial...)
					msgs++
				}
				clear(partial)
				partial = partial[:0]
			}
		}
		if msgs > 0 {
			if err := c.deliver(batch, msgs); err != nil {
				return err
			}
			clear(batch)
			batch = batch[:0]
		}
		if handed {
			next := s.getReadBuf()
			w = copy(next.b, buf[r:w])
			r = 0
			cur, buf = next, next.b
		}
		if perr != nil {
			return perr
		}

		// A frame too large for the buffer is read straight into its own
		// body.
		if h, ok, err := codec.decodeHeader(buf[r:w]); err != nil {
			return err
		} else if ok && int64(h.hdrLen)+h.bodyLen > int64(len(buf)) {
			body, err := c.readLarge(h, buf[r+h.hdrLen:w])
			if err != nil {
				return err
			}
			r, w = 0, 0
			codec.finishBody(h, body)
			if h.flags&flagCommand != 0 {
				if err := c.control(h, body); err != nil {
					return err
				}
			} else {
				partial = append(partial, inFrame{body: body, more: h.flags&flagMore != 0})
				if h.flags&flagMore == 0 {
					if isPub {
						c.subscriptionMessage(partial)
					} else if err := c.deliver(partial, 1); err != nil {
						return err
					}
					clear(partial)
					partial = partial[:0]
				}
			}
			continue
		}

		if r == w {
			r, w = 0, 0
		} else if r > 0 {
			w = copy(buf, buf[r:w])
			r = 0
		}
		n, err := c.tc.Read(buf[w:])
		w += n
		if n > 0 {
			c.countRead(n)
		}
		if err != nil && n == 0 {
			return err
		}
	}
}

// maxFrameBody bounds the size a peer may announce when MaxMsgSize is not
// set: far beyond any real message, and small enough that sizes and offsets
// never overflow.
const maxFrameBody = 1 << 62

// checkFrameSize refuses a frame larger than MaxMsgSize (maxMsg < 0: no
// limit) before anything is allocated for it.
func checkFrameSize(h frameHeader, maxMsg int64) error {
	if maxMsg >= 0 && h.bodyLen > maxMsg {
		return &protocolError{msg: fmt.Sprintf("frame of %d octets exceeds MaxMsgSize %d", h.bodyLen, maxMsg), cause: ErrMsgTooLarge}
	}
	if h.bodyLen > maxFrameBody {
		return &protocolError{msg: fmt.Sprintf("frame size %d is beyond any message", h.bodyLen), cause: ErrMsgTooLarge}
	}
	return nil
}

// readLarge reads the body of a frame that does not fit the read buffer
// into memory of its own. have holds the body bytes already buffered. The
// size was checked against MaxMsgSize; without a limit, memory grows (by
// doubling, from 1 MiB) with what actually arrives rather than with what the
// header claims.
func (c *conn) readLarge(h frameHeader, have []byte) ([]byte, error) {
	const initial = 1 << 20
	size := h.bodyLen
	body := make([]byte, len(have), min(size, max(initial, int64(len(have)))))
	copy(body, have)
	for int64(len(body)) < size {
		if len(body) == cap(body) {
			grown := make([]byte, len(body), min(size, 2*int64(cap(body))))
			copy(grown, body)
			body = grown
		}
		n, err := c.tc.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if n > 0 {
			c.countRead(n)
		}
		if err != nil && int64(len(body)) < size {
			return nil, err
		}
	}
	return body, nil
}

// countRead adds one read of n bytes to the telemetry.
func (c *conn) countRead(n int) {
	q := &c.p.in
	q.mu.Lock()
	q.reads++
	q.bytesIn += uint64(n)
	q.mu.Unlock()
}

// deliver hands complete messages to Recv, waiting while the pipe holds
// RcvHWM messages or more.
func (c *conn) deliver(frames []inFrame, msgs int) error {
	p := c.p
	q := &p.in
	hwm := p.s.opts.RcvHWM
	q.mu.Lock()
	for hwm > 0 && q.msgs >= hwm {
		q.full = true
		q.mu.Unlock()
		select {
		case <-q.room:
		case <-c.dead:
			return c.err
		}
		q.mu.Lock()
	}
	q.frames = append(q.frames, frames...)
	q.msgs += msgs
	q.msgsIn += uint64(msgs)
	announce := !q.ready
	q.ready = true
	q.mu.Unlock()
	if announce {
		p.s.ready.add(p)
	}
	return nil
}

// command handles a command frame received after the handshake.
func (c *conn) command(body []byte) error {
	name, data, err := splitCommand(body)
	if err != nil {
		return err
	}
	switch name {
	case pingCommand:
		if len(data) < 2 {
			return protocolErrorf("PING: %d octets, want a 2-octet TTL", len(data))
		}
		ctx := data[2:]
		if len(ctx) > maxPingContext {
			return protocolErrorf("PING: context of %d octets exceeds %d", len(ctx), maxPingContext)
		}
		c.p.sendCommand(c.encodeCommand(pongCommand, ctx))
	case subscribeCommand, cancelCommand:
		if c.p.s.typ == PUB {
			c.p.subsMu.Lock()
			if name == subscribeCommand {
				c.p.subs.add(data)
			} else {
				c.p.subs.remove(data)
			}
			c.p.subsMu.Unlock()
		}
	case errorCommand:
		return protocolErrorf("peer sent ERROR")
	case readyCommand:
		return protocolErrorf("READY after the handshake")
	}
	// PONG and unknown commands are ignored.
	return nil
}

// subscriptionMessage handles a message a SUB peer sent to a PUB socket:
// ZMTP 3.0 (and ZWS) subscriptions are messages whose first octet is 1
// (subscribe) or 0 (cancel). Anything else is dropped, as libzmq does.
func (c *conn) subscriptionMessage(frames []inFrame) {
	if len(frames) != 1 || len(frames[0].body) == 0 {
		return
	}
	b := frames[0].body
	p := c.p
	p.subsMu.Lock()
	switch b[0] {
	case 1:
		p.subs.add(b[1:])
	case 0:
		p.subs.remove(b[1:])
	}
	p.subsMu.Unlock()
}

// encodeCommand encodes a command frame with this connection's framing.
func (c *conn) encodeCommand(name string, data []byte) []byte {
	body := make([]byte, 0, 1+len(name)+len(data))
	body = append(body, byte(len(name)))
	body = append(body, name...)
	body = append(body, data...)
	return c.codec.appendFrame(nil, flagCommand, body)
}

// encodeSubscription encodes a subscribe (or cancel) for this connection:
// a SUBSCRIBE/CANCEL command towards a ZMTP 3.1 peer, a message whose first
// octet is 1 (or 0) towards a 3.0 peer.
func (c *conn) encodeSubscription(prefix []byte, subscribe bool) []byte {
	if c.minor >= 1 && c.tc.Framing == transport.ZMTP {
		name := cancelCommand
		if subscribe {
			name = subscribeCommand
		}
		return c.encodeCommand(name, prefix)
	}
	body := make([]byte, 1+len(prefix))
	if subscribe {
		body[0] = 1
	}
	copy(body[1:], prefix)
	return c.codec.appendFrame(nil, 0, body)
}
