package engine

import (
	"sync"
	"time"
)

// minVectorBody is the smallest body written header+body with a vectored
// write instead of being copied into a batch: below it, copying is cheaper
// than a second iovec.
const minVectorBody = 512

// epoch anchors the monotonic clock readings of the write path; time.Since
// on a monotonic Time reads only the monotonic clock.
var epoch = time.Now()

func monoNow() time.Duration { return time.Since(epoch) }

// pipe is the socket's relationship with one peer: the outgoing queue, the
// received messages, and the current connection if there is one. A pipe made
// by Connect outlives its connections (the socket redials); a pipe made by
// an accepted connection ends with it.
type pipe struct {
	s        *Socket
	connect  bool   // made by Connect
	endpoint string // what was dialled or the listener's endpoint
	codec    frameCodec

	out outQueue
	in  inQueue

	// Recv's side of the inbound queue, guarded by s.recvMu.
	local []inFrame
	pos   int

	// conn is the live connection, guarded by out.mu; nil while
	// disconnected.
	conn *conn
	// peerMinor is the peer's ZMTP minor version (guarded by out.mu).
	peerMinor byte

	// identity is the peer's routing identity (ROUTER), fixed at attach.
	identity []byte

	// subs are the peer's subscriptions (PUB sockets), guarded by subsMu.
	subsMu sync.Mutex
	subs   subscriptions

	// attached is true while Send may use the pipe (guarded by s.mu).
	attached bool
	// retired is true once the pipe's telemetry moved into the socket's
	// totals (guarded by s.mu).
	retired bool
}

func newPipe(s *Socket, connect bool, endpoint string, codec frameCodec) *pipe {
	return &pipe{s: s, connect: connect, endpoint: endpoint, codec: codec, out: newOutQueue(), in: newInQueue()}
}

// hasRoomLocked reports whether a new message fits under SndHWM. out.mu must
// be held.
func (p *pipe) hasRoomLocked() bool {
	hwm := p.s.opts.SndHWM
	return hwm == 0 || p.out.msgs < hwm
}

func (p *pipe) hasRoom() bool {
	p.out.mu.Lock()
	ok := p.hasRoomLocked()
	p.out.mu.Unlock()
	return ok
}

// immediateOKLocked decides whether the message being completed may be
// written at once from the caller's goroutine. The connection must be idle:
// no write under way, nothing queued before this message began, and — with
// write batching on — no write finished within the time a write takes on
// this connection (a running average). A message that follows the last write
// sooner than that is likely to have company, so it is queued for the
// writer's next batch instead. With batching off, or OutBatchSize 1, every
// message that finds the connection idle is written at once. out.mu must be
// held.
func (p *pipe) immediateOKLocked(c *conn) bool {
	q := &p.out
	if c == nil || c.raw == nil || q.writing || !q.solo {
		return false
	}
	o := &p.s.opts
	if !o.WriteBatching || o.OutBatchSize == 1 {
		return true
	}
	return monoNow()-q.lastWrite >= q.writeCost
}

// noteWriteLocked records a finished write for the idleness rule. out.mu
// must be held.
func (q *outQueue) noteWriteLocked(start, end time.Duration) {
	d := end - start
	if q.writeCost == 0 {
		q.writeCost = d
	} else {
		q.writeCost += (d - q.writeCost) / 8
	}
	q.lastWrite = end
}

// send queues one frame for the peer. When the frame ends a message and the
// connection is idle (see immediateOKLocked), the message is written at once
// from the caller's goroutine; otherwise the writer is woken for it. Frames
// with MORE wait in the queue until their message is complete, so a
// multipart message goes out in as few writes as its size allows. The body
// is copied (or written) before send returns, so the caller may reuse it.
// With checkRoom, a frame that would start a message beyond SndHWM is
// refused (false).
func (p *pipe) send(body []byte, more, checkRoom bool) bool {
	q := &p.out
	o := &p.s.opts
	var flags byte
	if more {
		flags = flagMore
	}
	n := p.codec.frameSize(len(body))
	large := n >= o.OutBatchSize && len(body) >= minVectorBody

	q.mu.Lock()
	if checkRoom && !p.hasRoomLocked() {
		q.mu.Unlock()
		return false
	}
	if !q.mid {
		// First frame: the message may go out at once only if nothing is
		// ahead of it.
		q.solo = len(q.segs) == 0 && !q.writing
	}
	q.mid = more
	if more {
		p.enqueueLocked(flags, body, n, large, true)
		q.mu.Unlock()
		return true
	}
	q.msgsOut++
	if c := p.conn; p.immediateOKLocked(c) {
		if large && len(q.segs) == 0 {
			p.sendVectorLocked(c, flags, body)
		} else {
			p.enqueueLocked(flags, body, n, large, false)
			p.writeNowLocked(c)
		}
	} else {
		p.enqueueLocked(flags, body, n, large, false)
		q.signalLocked()
	}
	p.flushDeferredLocked()
	q.mu.Unlock()
	return true
}

// enqueueLocked appends a frame to the queue following the batching rule.
// out.mu must be held.
func (p *pipe) enqueueLocked(flags byte, body []byte, n int, large, more bool) {
	q := &p.out
	o := &p.s.opts
	var tail *seg
	if len(q.segs) > 0 {
		tail = q.segs[len(q.segs)-1]
	}
	switch {
	case large:
		sg := q.getSeg(16, 16)
		if hdr, ok := p.codec.appendHeader(sg.buf, flags, len(body)); ok {
			sg.buf = hdr
			sg.body = q.getBody(len(body))
			copy(sg.body, body)
		} else {
			sg.buf = p.codec.appendFrame(sg.buf, flags, body)
		}
		tail = sg
		q.segs = append(q.segs, sg)
	case tail != nil && tail.body == nil &&
		(tail.endsMid || o.WriteBatching && len(tail.buf)+n <= o.OutBatchSize):
		tail.buf = p.codec.appendFrame(tail.buf, flags, body)
	default:
		sg := q.getSeg(n, o.OutBatchSize)
		sg.buf = p.codec.appendFrame(sg.buf, flags, body)
		tail = sg
		q.segs = append(q.segs, sg)
	}
	tail.endsMid = more
	if !more {
		tail.msgs++
		q.msgs++
	}
}

// writeNowLocked is the immediate path for a message already encoded in the
// queue (the queue holds nothing else): each seg is written with one
// non-blocking write from the caller's goroutine, and whatever the kernel
// does not take is handed to the connection's writer. out.mu is held on entry
// and return and released around the writes; q.writing keeps the writer away
// meanwhile.
func (p *pipe) writeNowLocked(c *conn) {
	q := &p.out
	q.writing = true
	segs := append(q.nowSegs[:0], q.segs...)
	clear(q.segs)
	q.segs = q.segs[:0]
	q.mu.Unlock()

	var (
		writes, bytes uint64
		start, end    time.Duration
		done          int // segs fully written
		err           error
	)
	for _, sg := range segs {
		start = monoNow()
		var k int
		k, err = c.trySeg(sg)
		end = monoNow()
		writes++
		bytes += uint64(k)
		if err != nil || sg.off < sg.size() {
			break
		}
		done++
	}

	q.mu.Lock()
	q.writes += writes
	q.immediate += writes
	q.bytesOut += bytes
	q.noteWriteLocked(start, end)
	for _, sg := range segs[:done] {
		q.msgs -= sg.msgs
		q.putSeg(sg)
	}
	if err != nil {
		c.fail(err)
	}
	rest := segs[done:]
	if len(rest) > 0 {
		q.handoffs++
		// Ahead of anything queued while the lock was released.
		q.segs = append(append(make([]*seg, 0, len(rest)+len(q.segs)), rest...), q.segs...)
	}
	clear(segs)
	q.nowSegs = segs[:0]
	q.writing = false
	if len(q.segs) > 0 {
		q.signalLocked()
	}
}

// sendVectorLocked is the immediate path for a one-frame message at least
// as large as the batch: header and body go out in one vectored write
// straight from the caller's memory; only what the kernel does not take is
// copied into a seg for the writer. out.mu is held on entry and return.
func (p *pipe) sendVectorLocked(c *conn, flags byte, body []byte) {
	q := &p.out
	var hdrBuf [16]byte
	hdr, ok := p.codec.appendHeader(hdrBuf[:0], flags, len(body))
	if !ok {
		// The body must be transformed on the way out (a masked WebSocket
		// frame): encode it into a seg and write that at once instead.
		p.enqueueLocked(flags, body, p.codec.frameSize(len(body)), true, false)
		p.writeNowLocked(c)
		return
	}
	q.writing = true
	q.mu.Unlock()

	start := monoNow()
	written, err := c.tryWritev(hdr, body)
	end := monoNow()

	q.mu.Lock()
	q.writes++
	q.immediate++
	q.bytesOut += uint64(written)
	q.noteWriteLocked(start, end)
	if err != nil {
		c.fail(err)
	}
	if written < len(hdr)+len(body) {
		q.handoffs++
		sg := q.getSeg(16, 16)
		if written < len(hdr) {
			sg.buf = append(sg.buf, hdr[written:]...)
			sg.body = q.getBody(len(body))
			copy(sg.body, body)
		} else {
			rest := body[written-len(hdr):]
			sg.body = q.getBody(len(rest))
			copy(sg.body, rest)
		}
		sg.msgs = 1
		q.msgs++
		q.segs = append(q.segs, sg)
	}
	q.writing = false
	if len(q.segs) > 0 {
		q.signalLocked()
	}
}

// sendCommand queues a command frame (already encoded, header included).
// Commands never split a multipart message: while one is being sent they
// wait until its last frame. Commands do not count against SndHWM.
func (p *pipe) sendCommand(frame []byte) {
	q := &p.out
	q.mu.Lock()
	if q.mid {
		q.deferred = append(q.deferred, frame)
	} else {
		p.appendRawLocked(frame)
		q.signalLocked()
	}
	q.mu.Unlock()
}

// appendRawLocked appends already-encoded bytes as their own seg or to the
// tail batch. out.mu must be held.
func (p *pipe) appendRawLocked(frame []byte) {
	q := &p.out
	if len(q.segs) > 0 {
		if tail := q.segs[len(q.segs)-1]; tail.body == nil && !tail.endsMid && len(tail.buf)+len(frame) <= p.s.opts.OutBatchSize {
			tail.buf = append(tail.buf, frame...)
			return
		}
	}
	sg := q.getSeg(len(frame), p.s.opts.OutBatchSize)
	sg.buf = append(sg.buf, frame...)
	q.segs = append(q.segs, sg)
}

func (p *pipe) flushDeferredLocked() {
	q := &p.out
	for _, f := range q.deferred {
		p.appendRawLocked(f)
	}
	clear(q.deferred)
	q.deferred = q.deferred[:0]
}

// getBody returns a buffer of n bytes for a large frame's body, reusing a
// recycled one when it is big enough. out.mu must be held.
func (q *outQueue) getBody(n int) []byte {
	for i := len(q.freeBodies) - 1; i >= 0; i-- {
		if b := q.freeBodies[i]; cap(b) >= n {
			q.freeBodies[i] = q.freeBodies[len(q.freeBodies)-1]
			q.freeBodies[len(q.freeBodies)-1] = nil
			q.freeBodies = q.freeBodies[:len(q.freeBodies)-1]
			q.freeBytes -= cap(b)
			return b[:n]
		}
	}
	return make([]byte, n)
}
