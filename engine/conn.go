package engine

import (
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"zbench/transport"
)

// conn is one live connection of a pipe. Its reader runs in the goroutine
// that made the connection (dialler or acceptor); its writer in a goroutine of
// its own, which holds the pipe's write role while it writes (see
// outQueue). Both end when the connection fails or the socket closes; the
// first error is kept.
type conn struct {
	p     *pipe
	tc    *transport.Conn
	raw   syscall.RawConn // nil: no speculative writes (conn has no fd)
	codec frameCodec
	minor byte // peer's ZMTP minor version

	dead       chan struct{} // closed by fail
	failed     atomic.Bool   // set by fail, before dead is closed
	writerDone chan struct{}
	once       sync.Once
	err        error

	// Scratch of the write functions, made once so that writing does not
	// allocate. Only the holder of the pipe's write role writes, so the
	// scratch is not shared.
	rawWriteFn func(fd uintptr) bool
	wiov       [2][]byte
	wblock     bool
	wn         int
	werr       error

	// The reader's: batches Recv gave back, split's scratch; spin is set
	// when the reader may poll the socket with non-blocking reads (see
	// read); the rest is read's scratch.
	freeBatches  []*inBatch
	splitScratch [1]*inBatch
	chunk        []byte // memory for the caller, see window
	pos          int    // where in chunk the read window starts
	kept         int    // where in chunk the frames handed over end
	spin         bool
	// backAndForth is set when the socket sent something between the last
	// two reads that brought data (lastOut is its MsgsOut at the last).
	backAndForth bool
	lastOut      uint64
	rawReadFn    func(fd uintptr) bool
	rbuf         []byte
	rn           int
	rerr         error
}

func newConn(p *pipe, tc *transport.Conn) *conn {
	c := &conn{p: p, tc: tc, raw: tc.Raw, codec: p.codec, dead: make(chan struct{}), writerDone: make(chan struct{})}
	c.rawWriteFn = c.rawWrite
	c.rawReadFn = c.rawRead
	// Readers poll only in a process with one P: there a reader parked in
	// the netpoller means the whole process sleeps, and an answer must wake
	// its CPU. With more Ps a poller takes a P the other goroutines of a
	// round trip need (measured: in-process REQ/REP over ipc two and a
	// half times slower). Reads may bypass the net.Conn only when it is the
	// socket itself (not a wrapper returning buffered bytes first).
	switch tc.Conn.(type) {
	case *net.TCPConn, *net.UnixConn:
		c.spin = c.raw != nil && runtime.GOMAXPROCS(0) == 1
	}
	return c
}

// fail ends the connection with err (the first error wins) and closes the
// network connection, which unblocks its reader and writer. On ZWS it first
// sends a close frame saying why, if the write side is between frames.
// fail must not be called while holding the write role: an error met by the
// holder is acted on after the role is released.
func (c *conn) fail(err error) {
	c.once.Do(func() {
		c.err = err
		c.failed.Store(true)
		close(c.dead)
		if c.tc.Framing == transport.ZWS {
			c.wsGoodbye(err)
		}
		c.tc.Close()
	})
}

// errConnDown stops a writer whose connection is being taken down.
var errConnDown = errors.New("engine: connection going down")

// flush writes what the producer published, and the queued commands,
// holding the pipe's write role. The writer goroutine (block) writes until
// nothing is left, each span with one write call that waits until the socket
// took all of it. Send's goroutine (!block) makes one non-blocking attempt
// per span and stops at the first the kernel does not take whole; it
// leaves commands to the writer. drained reports whether everything
// published was written.
func (c *conn) flush(block bool) (drained bool, err error) {
	p := c.p
	q := &p.out
	for {
		if block && c.failed.Load() {
			return false, errConnDown
		}
		h := q.head
		n, msgs, sealed, mid := unpackCommit(h.commit.Load())
		wrote := false
		if h.off < n {
			if q.skip {
				if q.skipRest(p.codec) > 0 {
					p.s.roomAvailable()
				}
				continue
			}
			q.spanStart = h.off
			a, b := h.span(h.off, n)
			q.countMsgs(h, msgs)
			q.countWrite(n-h.off, block)
			start := monoNow()
			var k int
			if block {
				k, err = c.writeFull(a, b)
			} else {
				k, err = c.tryWritev(a, b)
			}
			q.noteWrite(start, monoNow())
			if short := n - h.off - k; short > 0 {
				q.uncount(short)
			}
			h.off += k
			if h.off < n || err != nil {
				q.atBoundary = h.off == n
				return false, err
			}
			q.atBoundary = true
			// What went out ends between messages, unless the seg was
			// sealed between two frames of one.
			q.cmid = sealed && mid
			wrote = true
		}
		if q.account(h, msgs) > 0 || wrote {
			p.s.roomAvailable()
		}
		if sealed && q.advance(h) || wrote {
			// More may have been published meanwhile.
			continue
		}
		if q.cmid || !q.hasCmds.Load() || !block {
			return true, nil
		}
		if err := c.writeCmds(); err != nil {
			return false, err
		}
	}
}

// writeCmds writes the queued commands, each with a write of its own. The
// role must be held by the writer goroutine.
func (c *conn) writeCmds() error {
	q := &c.p.out
	cmds := q.takeCmds()
	defer clear(cmds)
	for _, f := range cmds {
		q.countWrite(len(f), true)
		start := monoNow()
		k, err := c.writeFull(f, nil)
		q.noteWrite(start, monoNow())
		if err != nil {
			q.uncount(len(f) - k)
			q.cmdCut = k > 0
			return err
		}
	}
	return nil
}

// tryWritev makes one non-blocking vectored write of a and b and returns
// what the kernel took; EAGAIN is not an error (it took nothing). Only the
// holder of the write role calls the write functions.
func (c *conn) tryWritev(a, b []byte) (int, error) {
	c.wiov[0], c.wiov[1] = a, b
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

// writeFull writes a and b, blocking until the kernel took them all (the
// writer's write), and returns how much it took.
func (c *conn) writeFull(a, b []byte) (int, error) {
	total := 0
	for len(a)+len(b) > 0 {
		if c.raw == nil {
			bufs := net.Buffers{a, b}
			n, err := bufs.WriteTo(c.tc.Conn)
			return total + int(n), err
		}
		c.wiov[0], c.wiov[1] = a, b
		c.wblock = true
		err := c.raw.Write(c.rawWriteFn)
		n, werr := c.wn, c.werr
		c.wiov[0], c.wiov[1], c.werr = nil, nil, nil
		if n > 0 {
			total += n
			if n >= len(a) {
				b = b[n-len(a):]
				a = nil
			} else {
				a = a[n:]
			}
		}
		if err != nil {
			return total, err
		}
		if werr != nil {
			return total, werr
		}
	}
	return total, nil
}

// writeLoop is the connection's writer. It sleeps until a token on wake
// grants it the write role, writes until nothing is published, then
// releases the role and sleeps again.
func (c *conn) writeLoop() {
	defer close(c.writerDone)
	q := &c.p.out
	for {
		select {
		case <-q.wake:
		case <-c.dead:
			// A role granted meanwhile is given back, so that the
			// WebSocket goodbye (or detach) can take it.
			select {
			case <-q.wake:
				q.role.Store(roleIdle)
			default:
			}
			return
		}
		if err := c.drain(); err != nil {
			c.fail(err)
			return
		}
	}
}

// drain writes, holding the role, until nothing is published; then it
// releases the role, taking it back if work was published meanwhile. An
// error is returned after the role is released.
func (c *conn) drain() error {
	q := &c.p.out
	for {
		_, err := c.flush(true)
		if err != nil {
			q.role.Store(roleIdle)
			if err == errConnDown {
				return nil
			}
			return err
		}
		h, off, wait := q.head, q.head.off, q.cmid
		q.role.Store(roleIdle)
		if !q.pendingAfter(h, off, wait) || !q.role.CompareAndSwap(roleIdle, roleWriter) {
			return nil
		}
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
//
// The frames of one read go into one batch, and every complete message the
// read brought is handed to Recv in one step (deliver), which wakes Recv at
// most once. When Recv takes frames as views, the read buffer itself goes
// with the batch, without a copy, and a recycled one takes its place.
// Otherwise the frames are the caller's to keep: what the read brought is
// copied, in one piece, into memory of its own (allocated without being
// cleared first, the size of the data), and the read buffer is kept. A frame
// too large for the buffer is read straight into a buffer of its own, from a
// pool of size classes, and makes a batch of its own.
func (c *conn) readLoop(buf []byte, r, w int) error {
	p := c.p
	s := p.s
	codec := c.codec
	zmtp := p.zmtp
	maxMsg := s.opts.MaxMsgSize
	isPub := s.typ == PUB
	// cur is the read buffer when it is a pooled one (Recv takes views, or
	// the socket is a PUB): its frames are handed to Recv without a copy,
	// and then it is replaced (see rbuf). When the frames become the
	// caller's, cur is nil and buf is a window onto the reader's chunk of
	// memory for the caller (see window).
	cur := &rbuf{b: buf, cls: -1}
	// pend holds, in order, the batches with frames of a message still in
	// progress; out is deliver's scratch.
	var pend, out []*inBatch
	// pubMid is set while a PUB reads a multipart message from a
	// subscriber (which is not a subscription).
	pubMid := false
	for {
		// A bad frame ends the connection, but only after the complete
		// messages before it are delivered (perr).
		viewing := s.viewing.Load()
		switch {
		case !isPub && !viewing && cur != nil:
			// Nothing of cur was handed over (this is the first turn).
			buf, w = c.window(buf[r:w])
			s.recycle(cur)
			r, cur = 0, nil
		case viewing && cur == nil:
			next := s.getReadBuf()
			w = copy(next.b, buf[r:w])
			r, cur, buf = 0, next, next.b
		}
		r0 := r
		var b *inBatch
		msgs, cut := 0, 0 // b.frames[:cut] end complete messages
		var perr error
		for {
			if !isPub {
				// Runs of plain message frames, the common case, take a
				// tight loop; anything else is one turn of this one.
				if b == nil {
					b = c.batch()
				}
				var m, k int
				if zmtp {
					r, m, k = decodeShort(b, buf, r, w, r0, maxMsg)
				} else {
					r, m, k = decodeShortWS(b, buf, r, w, r0, maxMsg, !c.tc.Client)
				}
				if m > 0 {
					msgs += m
					cut = k
				}
			}
			var h frameHeader
			var flags byte
			var hdrLen int
			var bodyLen int64
			var ok bool
			var err error
			if zmtp {
				flags, hdrLen, bodyLen, ok, err = decodeZMTPHeader(buf[r:w])
			} else {
				h, ok, err = codec.decodeHeader(buf[r:w])
				flags, hdrLen, bodyLen = h.flags, h.hdrLen, h.bodyLen
			}
			if err == nil && ok {
				err = checkFrameSize(bodyLen, maxMsg)
			}
			if err != nil {
				perr = err
				break
			}
			if !ok || int64(hdrLen)+bodyLen > int64(w-r) {
				break
			}
			end := r + hdrLen + int(bodyLen)
			body := buf[r+hdrLen : end : end]
			r = end
			if !zmtp {
				codec.finishBody(h, body)
			}
			if flags&flagCommand != 0 {
				if zmtp {
					h = frameHeader{flags: flags, hdrLen: hdrLen, bodyLen: bodyLen}
				}
				if err := c.control(h, body); err != nil {
					// A command that ends the connection (a peer's
					// close) still lets the messages before it through.
					perr = err
					break
				}
				continue
			}
			more := flags&flagMore != 0
			if isPub {
				if !more && !pubMid {
					c.subscriptionMessage(body)
				}
				pubMid = more
				continue
			}
			if b == nil {
				b = c.batch()
			}
			b.frames = append(b.frames, frameRef{off: uint32(end - len(body) - r0), n: uint32(len(body)), more: more})
			if !more {
				msgs++
				cut = len(b.frames)
			}
		}
		if b != nil && len(b.frames) == 0 {
			c.freeBatches = append(c.freeBatches, b)
			b = nil
		}
		if b != nil {
			if cur != nil {
				b.data, b.rb = buf[r0:r], cur
				cur.refs += int32(len(b.frames))
			} else {
				// The frames lie in the chunk for the caller already.
				b.data = buf[r0:r:r]
				c.kept = c.pos + r
			}
			if msgs == 0 {
				pend = append(pend, b)
			} else {
				out = append(out[:0], pend...)
				clear(pend)
				pend = append(pend[:0], c.split(b, cut)...)
				out = append(out, b)
				if err := c.deliver(out, msgs); err != nil {
					return err
				}
				clear(out)
			}
			if cur != nil {
				next := s.getReadBuf()
				w = copy(next.b, buf[r:w])
				r = 0
				cur, buf = next, next.b
			}
		}
		if perr != nil {
			return perr
		}

		// A frame too large for the buffer is read straight into its own
		// body.
		var h frameHeader
		var ok bool
		var err error
		if zmtp {
			h, ok, err = decodeFrameHeader(buf[r:w])
		} else {
			h, ok, err = codec.decodeHeader(buf[r:w])
		}
		if err != nil {
			return err
		}
		if ok && int64(h.hdrLen)+h.bodyLen > int64(len(buf)-r) && r > 0 {
			// Make room: the frame may yet fit once buf[r:w] moves to the
			// front.
			buf, w = c.compact(buf, cur, r, w)
			r = 0
		}
		if ok && int64(h.hdrLen)+h.bodyLen > int64(len(buf)) {
			body, lrb, err := c.readLarge(h, buf[r+h.hdrLen:w], cur == nil)
			if err != nil {
				return err
			}
			buf, w = c.compact(buf, cur, w, w)
			r = 0
			codec.finishBody(h, body)
			more := h.flags&flagMore != 0
			switch {
			case h.flags&flagCommand != 0:
				err := c.control(h, body)
				s.recycle(lrb)
				if err != nil {
					return err
				}
			case isPub:
				if !more && !pubMid {
					c.subscriptionMessage(body)
				}
				pubMid = more
				s.recycle(lrb)
			default:
				lb := c.batch()
				lb.data, lb.rb, lb.whole = body, lrb, true
				lb.frames = append(lb.frames, frameRef{more: more})
				pend = append(pend, lb)
				if !more {
					if err := c.deliver(pend, 1); err != nil {
						return err
					}
					clear(pend)
					pend = pend[:0]
				}
			}
			continue
		}

		if r > 0 {
			buf, w = c.compact(buf, cur, r, w)
			r = 0
		}
		n, err := c.read(buf[w:])
		w += n
		if n > 0 {
			c.countRead(n)
		}
		if err != nil && n == 0 {
			return err
		}
	}
}

// readSpin is how long a reader that finds its socket empty right after
// reading keeps polling it before it parks in the netpoller, in a process
// with one P (see newConn), when the connection goes back and forth (the socket sent something between the
// last two reads that brought data: requests and replies, not a stream one
// way). An answer that comes within it is read without a wake-up: on an
// idle CPU a wake-up costs tens of microseconds, as the CPU must first come
// out of its idle state. While polling the reader yields to the other
// goroutines, and its thread to the other threads of its CPU (the peer may
// share the CPU and must run to answer). A receiver of a one-way stream does
// not poll: the CPU it would burn is the sender's, when they share one.
const readSpin = 50 * time.Microsecond

// spinners counts the readers of the process polling their sockets. One at
// a time may: with many busy connections the others would only take turns
// burning the CPU their peers and Recv need.
var spinners atomic.Int32

// read reads into b for the reader: first non-blocking attempts for up to
// readSpin (when no other reader is polling), then a blocking read.
func (c *conn) read(b []byte) (n int, err error) {
	done := false
	if c.spin && c.backAndForth && spinners.Load() == 0 && spinners.CompareAndSwap(0, 1) {
		n, err, done = c.poll(b)
		spinners.Store(0)
	}
	if !done {
		n, err = c.tc.Read(b)
	}
	if n > 0 && c.spin {
		out := c.p.out.msgsOut.Load()
		c.backAndForth = out != c.lastOut
		c.lastOut = out
	}
	return n, err
}

// poll makes non-blocking read attempts for up to readSpin; done is false
// when none brought anything.
func (c *conn) poll(b []byte) (n int, err error, done bool) {
	start := monoNow()
	for {
		c.rbuf = b
		err := c.raw.Read(c.rawReadFn)
		n, rerr := c.rn, c.rerr
		c.rbuf, c.rerr = nil, nil
		switch {
		case err != nil:
			return 0, err, true
		case n > 0:
			return n, nil, true
		case n == 0 && rerr == nil:
			return 0, io.EOF, true
		case rerr != unix.EAGAIN:
			return 0, rerr, true
		}
		if monoNow()-start > readSpin {
			return 0, nil, false
		}
		runtime.Gosched()
		osYield()
	}
}

// rawRead is the syscall.RawConn callback of read: one non-blocking read
// attempt, retried on EINTR.
func (c *conn) rawRead(fd uintptr) bool {
	for {
		c.rn, c.rerr = unix.Read(int(fd), c.rbuf)
		if c.rerr != unix.EINTR {
			return true
		}
	}
}

// decodeShort appends to b the ZMTP message frames with short (one-octet)
// sizes that start buf[r:w], with offsets from r0, up to the first frame of
// any other kind or the first incomplete one. It returns where it stopped,
// the number of messages completed and len(b.frames) after the last one.
// The frames it leaves (a long size, a command, reserved flags, a size
// over MaxMsgSize) are readLoop's to decode and judge.
func decodeShort(b *inBatch, buf []byte, r, w, r0 int, maxMsg int64) (nr, msgs, cut int) {
	for r+2 <= w {
		f := buf[r]
		if f&^flagMore != 0 {
			break
		}
		n := int(buf[r+1])
		end := r + 2 + n
		if end > w || maxMsg >= 0 && int64(n) > maxMsg {
			break
		}
		b.frames = append(b.frames, frameRef{off: uint32(r + 2 - r0), n: uint32(n), more: f != 0})
		r = end
		if f == 0 {
			msgs++
			cut = len(b.frames)
		}
	}
	return r, msgs, cut
}

// ownChunk is the least size of the memory the reader reads frames that
// become the caller's into: reads follow one another in it, each into a
// window the size of the read buffer, and the frames are handed over where
// they were read, without a copy. One allocation serves several reads (the
// pace of collections follows the bytes allocated, but every allocation
// near the read buffer's size costs a span of its own). A caller that keeps
// a frame keeps its chunk alive.
const ownChunk = 64 << 10

// window starts a chunk for the caller and returns its first window, with
// rest (bytes read and not yet decoded) at its start.
func (c *conn) window(rest []byte) ([]byte, int) {
	size := c.p.s.readBufSize()
	c.chunk = make([]byte, max(ownChunk, 2*size))
	c.pos, c.kept = 0, 0
	return c.chunk[:size], copy(c.chunk, rest)
}

// compact makes buf[r:w] the start of the read buffer. A pooled buffer
// (cur), none of whose frames is handed over yet, has it moved to its front;
// a window onto the chunk for the caller moves to just past the frames
// handed over (they stay where they are; bytes that went elsewhere, such as
// the part of a large frame copied into a buffer of its own, are reused),
// to a new chunk when this one is full.
func (c *conn) compact(buf []byte, cur *rbuf, r, w int) ([]byte, int) {
	if cur != nil {
		return buf, copy(buf, buf[r:w])
	}
	size := c.p.s.readBufSize()
	n := w - r
	if start := c.pos + r; c.kept < start {
		copy(c.chunk[c.kept:], c.chunk[start:start+n])
		c.pos = c.kept
	} else {
		c.pos = start
	}
	if c.pos+size > len(c.chunk) {
		return c.window(c.chunk[c.pos : c.pos+n])
	}
	return c.chunk[c.pos : c.pos+size], n
}

// batch returns an empty batch, reusing one Recv gave back.
func (c *conn) batch() *inBatch {
	if k := len(c.freeBatches); k > 0 {
		b := c.freeBatches[k-1]
		c.freeBatches[k-1] = nil
		c.freeBatches = c.freeBatches[:k-1]
		return b
	}
	return &inBatch{}
}

// split keeps b.frames[:cut] (complete messages) in b and returns the rest,
// the frames of a message still in progress, as a batch of the same memory
// (or nothing).
func (c *conn) split(b *inBatch, cut int) []*inBatch {
	if cut == len(b.frames) {
		return nil
	}
	tail := c.batch()
	tail.data, tail.rb = b.data, b.rb
	tail.frames = append(tail.frames, b.frames[cut:]...)
	b.frames = b.frames[:cut]
	c.splitScratch[0] = tail
	return c.splitScratch[:]
}

// maxFrameBody bounds the size a peer may announce when MaxMsgSize is not
// set: far beyond any real message, and small enough that sizes and offsets
// never overflow.
const maxFrameBody = 1 << 62

// checkFrameSize refuses a frame body of n octets larger than MaxMsgSize
// (maxMsg < 0: no limit) before anything is allocated for it.
func checkFrameSize(n, maxMsg int64) error {
	if maxMsg >= 0 && n > maxMsg || n > maxFrameBody {
		return frameSizeError(n, maxMsg)
	}
	return nil
}

func frameSizeError(n, maxMsg int64) error {
	if maxMsg >= 0 && n > maxMsg {
		return &protocolError{msg: fmt.Sprintf("frame of %d octets exceeds MaxMsgSize %d", n, maxMsg), cause: ErrMsgTooLarge}
	}
	return &protocolError{msg: fmt.Sprintf("frame size %d is beyond any message", n), cause: ErrMsgTooLarge}
}

// readLarge reads the body of a frame that does not fit the read buffer.
// have holds the body bytes already buffered. A body up to the largest size
// class that will be the caller's (owned) gets memory of its own of its
// size; otherwise it is read into a pooled buffer, returned with it (refs 1)
// so that Recv can give it back. A larger one gets memory of its own, grown
// (by doubling, from 1 MiB) with what actually arrives rather than with what
// the header claims. The size was checked against MaxMsgSize.
func (c *conn) readLarge(h frameHeader, have []byte, owned bool) ([]byte, *rbuf, error) {
	size := h.bodyLen
	if owned && size <= 1<<maxClassShift {
		// The body becomes the caller's: memory of its exact size, of
		// which only the part not yet read is cleared first.
		body := append(have[:len(have):len(have)], make([]byte, int(size)-len(have))...)
		return body, nil, c.readFull(body[len(have):])
	}
	if size <= 1<<maxClassShift {
		rb := c.p.s.getLargeBuf(int(size))
		body := rb.b[:size]
		got := copy(body, have)
		for got < len(body) {
			n, err := c.tc.Read(body[got:])
			got += n
			if n > 0 {
				c.countRead(n)
			}
			if err != nil && got < len(body) {
				c.p.s.recycle(rb)
				return nil, nil, err
			}
		}
		rb.refs = 1
		return body, rb, nil
	}
	const initial = 1 << 20
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
			return nil, nil, err
		}
	}
	return body, nil, nil
}

// readFull fills b from the connection.
func (c *conn) readFull(b []byte) error {
	for got := 0; got < len(b); {
		n, err := c.tc.Read(b[got:])
		got += n
		if n > 0 {
			c.countRead(n)
		}
		if err != nil && got < len(b) {
			return err
		}
	}
	return nil
}

// countRead adds one read of n bytes to the telemetry.
func (c *conn) countRead(n int) {
	q := &c.p.in
	q.reads.Add(1)
	q.bytesIn.Add(uint64(n))
}

// deliver hands batches holding msgs complete messages to Recv in one step,
// waiting while the pipe holds RcvHWM messages or more, and takes back the
// batches Recv has finished with. Recv is woken only when the pipe was not
// already on its ready list.
func (c *conn) deliver(batches []*inBatch, msgs int) error {
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
	q.batches = append(q.batches, batches...)
	q.msgs += msgs
	q.msgsIn.Add(uint64(msgs))
	announce := !q.ready
	q.ready = true
	c.freeBatches = append(c.freeBatches, q.free...)
	clear(q.free)
	q.free = q.free[:0]
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

// subscriptionMessage handles a one-frame message a SUB peer sent to a PUB
// socket: ZMTP 3.0 (and ZWS) subscriptions are messages whose first octet is
// 1 (subscribe) or 0 (cancel). Anything else is dropped, as libzmq does.
func (c *conn) subscriptionMessage(b []byte) {
	if len(b) == 0 {
		return
	}
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
