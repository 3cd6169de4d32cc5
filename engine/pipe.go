package engine

import (
	"sync"
	"sync/atomic"
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
	// zmtp is true when codec is ZMTP framing, which the hot paths call
	// directly rather than through the interface.
	zmtp bool
	// vector is true when a large frame's body may be written from memory
	// apart from its header (not for a WebSocket client, which masks).
	vector bool
	// hdr is the producer's scratch for a header written from the
	// caller's goroutine (a local array would escape through the codec).
	hdr [wsMaxHeader + 2]byte

	out outQueue
	in  inQueue

	// Recv's side of the inbound queue, used only by the goroutine in
	// Recv: the batches taken from in, the one being read at li.
	local []*inBatch
	li    int

	// live is the connection in use; nil while disconnected.
	live atomic.Pointer[conn]

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
	_, zmtp := codec.(zmtpCodec)
	var hdr [16]byte
	_, vector := codec.appendHeader(hdr[:0], 0, minVectorBody)
	p := &pipe{s: s, connect: connect, endpoint: endpoint, codec: codec, zmtp: zmtp, vector: vector, in: newInQueue()}
	p.out.init(s.opts.OutBatchSize, s.opts.SndHWM)
	return p
}

// The producer's side of the outgoing queue. Everything from here to
// kick runs only in the goroutine in Send (see outQueue).

// hasRoom reports whether a new message fits under SndHWM.
func (p *pipe) hasRoom() bool {
	hwm := uint64(p.s.opts.SndHWM)
	if hwm == 0 {
		return true
	}
	q := &p.out
	if q.sent-q.goneSeen < hwm {
		return true
	}
	q.goneSeen = q.gone.Load()
	return q.sent-q.goneSeen < hwm
}

// send queues one frame for the peer. Frames with MORE stay unpublished
// until their message is complete, so a multipart message goes out in as
// few writes as its size allows; the last frame publishes the message, and
// when the connection is idle it is written at once from the caller's
// goroutine (see kick). The body is copied (or written) before send
// returns, so the caller may reuse it. With checkRoom, a frame that would
// start a message beyond SndHWM is refused (false).
func (p *pipe) send(body []byte, more, checkRoom bool) bool {
	if checkRoom && !p.hasRoom() {
		return false
	}
	q := &p.out
	o := &p.s.opts
	var flags byte
	if more {
		flags = flagMore
	}
	var n int
	if p.zmtp {
		n = frameSize(len(body))
	} else {
		n = p.codec.frameSize(len(body))
	}
	if p.vector && n >= o.OutBatchSize && len(body) >= minVectorBody {
		if more || q.mid || !p.sendLargeNow(flags, body) {
			p.appendLarge(flags, body)
		} else {
			return true
		}
	} else {
		p.appendFrame(flags, body, n)
	}
	if more {
		q.mid = true
		return true
	}
	q.mid = false
	p.publish()
	p.kick()
	return true
}

// appendFrame encodes a frame of n octets at the end of the tail seg, or
// of a new one when it would not fit (see the batching rule in outQueue).
func (p *pipe) appendFrame(flags byte, body []byte, n int) {
	q := &p.out
	t := q.tail
	if t.sealed || t.n+n > len(t.mem) || t.msgs == maxSegMsgs {
		switch {
		case !t.sealed && t.msgs == 0:
			// Nothing of t is published yet (it holds at most the frames
			// of this message): it may still grow.
			if t.n+n > len(t.mem) {
				p.growTail(t.n + n)
			}
		default:
			p.seal()
			p.link(q.pool.get(n))
		}
		t = q.tail
	}
	if p.zmtp {
		t.n = len(appendFrame(t.mem[:t.n], flags, body))
	} else {
		t.n = len(p.codec.appendFrame(t.mem[:t.n], flags, body))
	}
}

// growTail gives the (unpublished) tail seg room for n octets.
func (p *pipe) growTail(n int) {
	q := &p.out
	t := q.tail
	ns := q.pool.get(n)
	ns.n = copy(ns.mem, t.mem[:t.n])
	old := t.mem
	t.mem, ns.mem = ns.mem, old
	ns.n = 0
	q.pool.put(ns)
}

// appendLarge gives a frame at least as large as the batch a seg of its own:
// the header in mem, the body copied into a pooled buffer.
func (p *pipe) appendLarge(flags byte, body []byte) {
	q := &p.out
	ls := q.pool.getLarge(len(body))
	ls.mem, _ = p.codec.appendHeader(ls.mem[:0], flags, len(body))
	copy(ls.body, body)
	ls.n = len(ls.mem) + len(ls.body)
	ls.sealed = true
	p.seal()
	p.link(ls)
	if flags&flagMore != 0 {
		// The message goes on in the next seg: publish the frame now.
		ls.commit.Store(packCommit(ls.n, 0, true, true))
	}
}

// seal closes the tail seg: its commit word becomes final, including frames
// of a message still being sent (the seg then ends mid-message).
func (p *pipe) seal() {
	q := &p.out
	t := q.tail
	if t.sealed {
		return
	}
	t.sealed = true
	t.commit.Store(packCommit(t.n, t.msgs, true, q.mid))
}

// link makes ns, empty or already filled, the new tail after the sealed
// one.
func (p *pipe) link(ns *seg) {
	q := &p.out
	q.tail.next.Store(ns)
	q.tail = ns
}

// publish makes the message just encoded visible to the role holder: one
// atomic store of the tail's commit word. With write batching off (or
// OutBatchSize 1) the seg is sealed with it: every message is its own write.
func (p *pipe) publish() {
	q := &p.out
	t := q.tail
	t.msgs++
	q.sent++
	o := &p.s.opts
	if !t.sealed && (!o.WriteBatching || o.OutBatchSize == 1 || t.msgs == maxSegMsgs) {
		t.sealed = true
	}
	t.commit.Store(packCommit(t.n, t.msgs, t.sealed, false))
}

// kick makes sure a published message will be written: if nobody holds the
// write role, Send's goroutine takes it and writes at once when the
// connection is idle (the immediate path), or grants it to the connection's
// writer. If somebody holds the role, the holder writes the message (it
// looks again before letting the role go).
func (p *pipe) kick() {
	q := &p.out
	if q.role.Load() != roleIdle {
		return
	}
	if p.immediateOK(false) && q.role.CompareAndSwap(roleIdle, roleSender) {
		p.writeNow()
		return
	}
	q.grantIfIdle()
}

// immediateOK decides whether a message may be written at once from the
// caller's goroutine, once the role is found idle. With write batching on,
// no write may have finished within the time a write takes on this
// connection (a running average): a message that follows the last write
// sooner than that is likely to have company, so the writer's next batch
// takes it instead. With batching off, or OutBatchSize 1, every message that
// finds the connection idle is written at once, and so is a frame at least
// as large as the batch (large), which has no company to wait for: it is
// written alone either way. The connection must allow non-blocking writes.
func (p *pipe) immediateOK(large bool) bool {
	c := p.live.Load()
	if c == nil || c.raw == nil {
		return false
	}
	o := &p.s.opts
	if large || !o.WriteBatching || o.OutBatchSize == 1 {
		return true
	}
	q := &p.out
	return int64(monoNow())-q.lastWrite.Load() >= q.writeCost.Load()
}

// writeNow is the immediate path, holding the role as roleSender: what is
// published is written with non-blocking writes from the caller's
// goroutine; whatever the kernel does not take is handed to the
// connection's writer with the role. An error is acted on once the role is
// released.
func (p *pipe) writeNow() {
	q := &p.out
	c := p.live.Load()
	drained, err := c.flush(false)
	switch {
	case err != nil:
		q.releaseIdle()
		c.fail(err)
	case !drained:
		q.handoffs.Add(1)
		q.role.Store(roleWriter)
		q.grant()
	default:
		q.releaseIdle()
	}
}

// sendLargeNow is the immediate path for a one-frame message at least as
// large as the batch: when the connection is idle and nothing is queued,
// header and body go out in one vectored write straight from the caller's
// memory. If the kernel takes only part, the frame is queued whole (already
// written as far as it went) and the writer finishes it. It returns false
// when the frame must be queued instead.
func (p *pipe) sendLargeNow(flags byte, body []byte) bool {
	q := &p.out
	if q.role.Load() != roleIdle || !p.immediateOK(true) || !q.role.CompareAndSwap(roleIdle, roleSender) {
		return false
	}
	c := p.live.Load()
	drained, err := c.flush(false)
	if err != nil || !drained || q.hasCmds.Load() {
		// Something is ahead of this frame: it is queued behind it.
		if err != nil {
			q.releaseIdle()
			c.fail(err)
		} else {
			if !drained {
				q.handoffs.Add(1)
			}
			q.role.Store(roleWriter)
			q.grant()
		}
		return false
	}
	hdr, _ := p.codec.appendHeader(p.hdr[:0], flags, len(body))
	size := len(hdr) + len(body)
	q.msgsOut.Add(1)
	q.countWrite(size, false)
	start := monoNow()
	k, err := c.tryWritev(hdr, body)
	q.noteWrite(start, monoNow())
	if k == size {
		q.sent++
		q.gone.Add(1)
		q.releaseIdle()
		return true
	}
	q.uncount(size - k)
	// Queue the frame whole and mark what went out as written.
	p.appendLarge(flags, body)
	p.publish()
	for h := q.head; h != q.tail && q.advance(h); h = q.head {
	}
	q.head.off = k
	q.head.out = 1 // counted above
	q.spanStart = 0
	q.atBoundary = k == 0
	if err != nil {
		q.releaseIdle()
		c.fail(err)
		return true
	}
	q.handoffs.Add(1)
	q.role.Store(roleWriter)
	q.grant()
	return true
}

// countWrite counts a write of n bytes, batched (by the writer) or
// immediate, before it is made: a reader of Stats who sees the peer receive
// something sees it counted. A write the kernel takes only part of is
// corrected with uncount. The role must be held.
func (q *outQueue) countWrite(n int, batched bool) {
	q.writes.Add(1)
	if batched {
		q.batched.Add(1)
	} else {
		q.immediate.Add(1)
	}
	q.bytesOut.Add(uint64(n))
}

// uncount takes back n bytes counted by countWrite but not written.
func (q *outQueue) uncount(n int) { q.bytesOut.Add(-uint64(n)) }

// countMsgs counts the messages of h up to msgs as sent, before the write
// that carries them (like countWrite). The role must be held.
func (q *outQueue) countMsgs(h *seg, msgs int) {
	if d := msgs - h.out; d > 0 {
		q.msgsOut.Add(uint64(d))
		h.out = msgs
	}
}

// noteWrite records when a write finished, and its duration, for the
// idleness rule. The role must be held.
func (q *outQueue) noteWrite(start, end time.Duration) {
	d := int64(end - start)
	if cost := q.writeCost.Load(); cost == 0 {
		q.writeCost.Store(d)
	} else {
		q.writeCost.Store(cost + (d-cost)/8)
	}
	q.lastWrite.Store(int64(end))
}

// sendCommand queues a command frame (already encoded, header included)
// from any goroutine. Commands never split a multipart message: the role
// holder writes them between messages. Commands do not count against
// SndHWM.
func (p *pipe) sendCommand(frame []byte) {
	p.out.addCmd(frame)
	p.out.grantIfIdle()
}
