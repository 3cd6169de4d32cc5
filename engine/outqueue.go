package engine

import (
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The outgoing side of a pipe is a single-producer queue of encoded frames:
// a linked list of segs, each one write's worth of bytes.
//
// Who owns what (nothing here is guarded by a lock unless it says so):
//
//   - The producer is the goroutine in Send (one at a time: see Socket). It
//     owns the tail seg, as bufio.Writer owns its buffer: it encodes frames
//     into tail.mem past what it has published, and publishes whole
//     messages with one atomic store of the seg's commit word. It never
//     waits for the writer, except for room below SndHWM.
//   - The consumer is whoever holds the write role (outQueue.role): the
//     connection's writer goroutine, Send's goroutine on the immediate path
//     (a speculative write from the caller's goroutine when the connection
//     is idle), or the socket while it takes a connection down. The holder
//     owns head and the accounting of what was written, and writes
//     published bytes only, so it never sees half a frame being encoded.
//   - Commands (PONG, subscriptions) come from other goroutines through
//     cmds, under cmdMu; the role holder writes them between messages.
//   - Written segs go back to the producer through the pool (segPool.mu).
//
// Hand-off without lost wake-ups: the producer stores its commit and then
// loads the role; a holder that runs out of work stores roleIdle and then
// looks at the commit word once more. Both are sequentially consistent, so
// at least one of them sees the other: either the producer finds the role
// idle and takes it (writes at once, or grants it to the writer goroutine
// with one token on wake), or the holder finds the new bytes and takes the
// role back.

// Write-role states.
const (
	// roleDetached: no live connection; nobody writes. Published messages
	// wait for the next connection.
	roleDetached int32 = iota
	// roleIdle: a live connection with nobody writing; the writer goroutine
	// waits on wake. Anyone with work may take the role.
	roleIdle
	// roleWriter: the connection's writer goroutine holds the role (or has
	// been granted it, with a token on wake).
	roleWriter
	// roleSender: Send's goroutine is making a non-blocking write.
	roleSender
	// roleClosing: the connection is being taken down (a WebSocket close
	// frame may be going out, or detach is settling what the connection
	// left half written); nobody else writes on it or looks at the queue.
	roleClosing
	// roleChecking: another goroutine (linger, a test) is looking at what
	// is left to write; it restores the state it found.
	roleChecking
)

// The commit word of a seg: bytes published (low 40 bits), messages they
// complete (next 22 bits), sealed (the producer moved on; the word is
// final) and mid (sealed between two frames of one message).
const (
	commitBytesBits        = 40
	commitMsgsBits         = 22
	commitBytesMask        = 1<<commitBytesBits - 1
	commitMsgsMask         = 1<<commitMsgsBits - 1
	commitSealed    uint64 = 1 << 62
	commitMid       uint64 = 1 << 63
	// maxSegMsgs is the most messages one seg carries: the producer seals
	// a seg that reaches it, so the count always fits the commit word.
	maxSegMsgs = commitMsgsMask
)

func packCommit(n, msgs int, sealed, mid bool) uint64 {
	w := uint64(n)&commitBytesMask | uint64(msgs)<<commitBytesBits
	if sealed {
		w |= commitSealed
	}
	if mid {
		w |= commitMid
	}
	return w
}

func unpackCommit(w uint64) (n, msgs int, sealed, mid bool) {
	return int(w & commitBytesMask), int(w >> commitBytesBits & commitMsgsMask), w&commitSealed != 0, w&commitMid != 0
}

// seg is one write's worth of outgoing bytes: a batch of encoded frames in
// mem, or one large frame, its header in mem and its body in body, written
// together with one vectored write. The queue owns both; neither is ever the
// caller's memory.
type seg struct {
	// mem and body are set by the producer before it first publishes the
	// seg and are not changed while the seg is in the queue. A batch seg's
	// mem has len == cap; a large frame's mem is its header.
	mem  []byte
	body []byte

	// commit is the producer's progress (see packCommit); next is the
	// following seg, set once after the seg is sealed.
	commit atomic.Uint64
	next   atomic.Pointer[seg]

	// The producer's: bytes encoded (published or not), messages completed
	// in them, and whether the seg is sealed.
	n      int
	msgs   int
	sealed bool

	// The role holder's: bytes written, messages counted as sent (handed
	// to a write) and messages accounted for (written or dropped).
	off  int
	out  int
	done int
}

// span returns mem+body from off to end as (at most) two slices.
func (sg *seg) span(off, end int) (a, b []byte) {
	if sg.body == nil {
		return sg.mem[off:end], nil
	}
	h := len(sg.mem)
	if off < h {
		return sg.mem[off:h], sg.body[:end-h]
	}
	return sg.body[off-h : end-h], nil
}

// outQueue is a pipe's outgoing side. It outlives connections of a
// connecting socket, so that messages queued while disconnected are written
// after a reconnect.
//
// Batching rule: the producer encodes each frame at the end of the tail seg
// while the seg stays within OutBatchSize bytes (and batching is on);
// otherwise it seals the seg and starts another. A frame whose encoded size
// reaches OutBatchSize gets a seg of its own, header in mem and body copied
// into a pooled buffer, written header+body without a further copy. With
// batching off (or OutBatchSize 1) every message is sealed in a seg of its
// own. A holder writes at most one seg per write call, so no write exceeds
// OutBatchSize unless it carries a single large frame; what it writes is
// whatever was published when it looked (no timer).
type outQueue struct {
	// The producer's.
	tail     *seg
	mid      bool   // frames of an unfinished message have been encoded
	sent     uint64 // messages published
	goneSeen uint64 // the last value of gone loaded (SndHWM checks)

	// The role holder's.
	head *seg
	// atBoundary is false while a write has taken only part of a span: the
	// connection is in the middle of a frame.
	atBoundary bool
	// cmid is true when what was written ends in the middle of a message
	// (a seg sealed between frames): commands must wait.
	cmid bool
	// skip is set when a connection ended in the middle of a message: the
	// rest of that message is dropped before anything else is written.
	skip bool
	// spanStart is where in head the span being written began.
	spanStart int
	// cmdCut is set when a command frame went out only in part: the
	// connection is in the middle of a frame.
	cmdCut   bool
	cmdsTook [][]byte // commands being written (spare storage)

	role atomic.Int32
	wake chan struct{} // capacity 1: the token of a granted role

	// gone counts messages written or dropped (SndHWM: the producer's sent
	// minus gone are queued).
	gone atomic.Uint64

	// lastWrite is when the most recent write finished and writeCost the
	// running average of write durations (nanoseconds on monoNow's clock);
	// set by the role holder, read by the producer to judge idleness.
	lastWrite atomic.Int64
	writeCost atomic.Int64

	cmdMu   sync.Mutex
	cmds    [][]byte // encoded command frames, guarded by cmdMu
	hasCmds atomic.Bool

	pool segPool

	// Telemetry, written by the role holder.
	msgsOut, bytesOut                    atomic.Uint64
	writes, batched, immediate, handoffs atomic.Uint64
}

// init readies an empty queue for batches of batch octets and a
// high-water mark of hwm messages. It starts detached.
func (q *outQueue) init(batch, hwm int) {
	q.wake = make(chan struct{}, 1)
	q.atBoundary = true
	q.pool.init(batch, hwm)
	first := q.pool.get(batch)
	q.tail, q.head = first, first
	q.role.Store(roleDetached)
}

// pending reports whether anything is left to write: commands, published
// bytes, or a write under way. Any goroutine may call it.
func (q *outQueue) pending() bool {
	if q.hasCmds.Load() {
		return true
	}
	msgs, bytes, busy := q.inspect()
	return busy || msgs > 0 || bytes > 0
}

// queuedMsgs returns the number of published messages not yet written,
// with a write under way counted as one. Any goroutine may call it.
func (q *outQueue) queuedMsgs() int {
	msgs, _, busy := q.inspect()
	if busy {
		return max(msgs, 1)
	}
	return msgs
}

// inspect counts what is published and not yet written, taking the role
// for a moment when nobody holds it (roleChecking); busy reports a holder
// writing (or about to), whose work was not counted.
func (q *outQueue) inspect() (msgs, bytes int, busy bool) {
	for {
		st := q.role.Load()
		switch st {
		case roleIdle, roleDetached:
			if !q.role.CompareAndSwap(st, roleChecking) {
				continue
			}
			for h := q.head; h != nil; h = h.next.Load() {
				n, m, _, _ := unpackCommit(h.commit.Load())
				msgs += m - h.done
				bytes += n - h.off
			}
			if st == roleIdle {
				q.releaseIdle()
			} else {
				q.role.Store(roleDetached)
			}
			return msgs, bytes, false
		default:
			return 0, 0, true
		}
	}
}

// grant hands the role to the writer goroutine after a successful
// transition to roleWriter. The wake channel is empty here: a token is sent
// only by whoever moves the role to roleWriter from another state, and the
// writer consumes it before it can release the role again.
func (q *outQueue) grant() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// grantIfIdle gives the role to the writer goroutine when nobody holds it.
func (q *outQueue) grantIfIdle() {
	if q.role.Load() == roleIdle && q.role.CompareAndSwap(roleIdle, roleWriter) {
		q.grant()
	}
}

// pendingAfter reports whether there may be work that a holder who just
// released the role did not do: commands (unless they wait for the end of a
// message the holder left cut, cmdsWait: the producer's next publication
// brings the role back), or bytes published past off in h (the head it
// left). h may meanwhile have been recycled by a later holder; then the
// answer may be wrong, but that holder looks again when it releases the
// role.
func (q *outQueue) pendingAfter(h *seg, off int, cmdsWait bool) bool {
	if !cmdsWait && q.hasCmds.Load() {
		return true
	}
	n, _, sealed, _ := unpackCommit(h.commit.Load())
	return n != off || sealed && h.next.Load() != nil
}

// releaseIdle gives the role up (to roleIdle) and grants it to the writer
// goroutine if work was published meanwhile.
func (q *outQueue) releaseIdle() {
	h, off, wait := q.head, q.head.off, q.cmid
	q.role.Store(roleIdle)
	if q.pendingAfter(h, off, wait) {
		q.grantIfIdle()
	}
}

// takeRole waits until the role can be moved to state from anything but
// roleSender or roleChecking (both are held only for moments: Send's
// goroutine makes only non-blocking writes). It returns the state it took
// the role from.
func (q *outQueue) takeRole(state int32) int32 {
	for spins := 0; ; spins++ {
		st := q.role.Load()
		if st != roleSender && st != roleChecking && q.role.CompareAndSwap(st, state) {
			return st
		}
		if spins < 100 {
			runtime.Gosched()
		} else {
			time.Sleep(10 * time.Microsecond)
		}
	}
}

// account notes that the messages of h up to msgs are gone from the queue:
// written or dropped. The role must be held.
func (q *outQueue) account(h *seg, msgs int) int {
	d := msgs - h.done
	if d <= 0 {
		return 0
	}
	h.done = msgs
	q.gone.Add(uint64(d))
	return d
}

// advance moves head past a sealed, fully handled seg, recycling it. The
// role must be held. It returns false when the next seg is not linked yet.
func (q *outQueue) advance(h *seg) bool {
	nx := h.next.Load()
	if nx == nil {
		return false
	}
	q.head = nx
	q.pool.put(h)
	return true
}

// takeCmds moves the queued commands to the holder's side.
func (q *outQueue) takeCmds() [][]byte {
	q.cmdMu.Lock()
	taken := q.cmds
	q.cmds = q.cmdsTook[:0]
	q.hasCmds.Store(false)
	q.cmdMu.Unlock()
	q.cmdsTook = taken
	return taken
}

// dropCmds discards queued commands (their connection is gone).
func (q *outQueue) dropCmds() {
	q.cmdMu.Lock()
	clear(q.cmds)
	q.cmds = q.cmds[:0]
	q.hasCmds.Store(false)
	q.cmdMu.Unlock()
}

// addCmd queues an encoded command frame.
func (q *outQueue) addCmd(frame []byte) {
	q.cmdMu.Lock()
	q.cmds = append(q.cmds, frame)
	q.hasCmds.Store(true)
	q.cmdMu.Unlock()
}

// dropPartial is called, holding the role, when a connection ended. The
// frame the connection was in the middle of writing is gone with it, and so
// are the remaining frames of a message whose first frames went out (the
// peer saw only part of it); messages written whole before the cut count as
// written. With all, everything published is dropped as well (the pipe is
// going away). It returns the number of messages dropped.
func (q *outQueue) dropPartial(codec frameCodec, all bool) int {
	dropped := 0
	if !q.atBoundary {
		dropped += q.cut(codec)
	}
	if q.cmid {
		q.skip = true
	}
	dropped += q.skipRest(codec)
	if all {
		for {
			h := q.head
			n, msgs, sealed, _ := unpackCommit(h.commit.Load())
			h.off = n
			dropped += q.account(h, msgs)
			if !sealed || !q.advance(h) {
				break
			}
		}
		q.skip, q.cmid = false, false
	}
	return dropped
}

// cut settles a span that a lost connection took only part of: it began at
// q.spanStart in head and stopped at head.off. Frames before the cut were
// written whole; the frame cut in two is dropped, and if its message goes
// on, the rest of it too (q.skip). The role must be held.
func (q *outQueue) cut(codec frameCodec) int {
	h := q.head
	q.atBoundary = true
	for pos := q.spanStart; pos < h.off; {
		end, more, ok := h.frameAt(codec, pos)
		if !ok {
			return 0
		}
		if end <= h.off {
			pos = end
			if !more {
				h.done++
				q.gone.Add(1)
			}
			q.cmid = more
			continue
		}
		h.off = end
		if more {
			q.skip = true
			return 0
		}
		h.done++
		q.gone.Add(1)
		q.cmid = false
		return 1
	}
	return 0
}

// frameAt decodes the frame the producer encoded at pos in sg: it returns
// where the frame ends and whether it has MORE set. The role must be held
// and the frame published.
func (sg *seg) frameAt(codec frameCodec, pos int) (end int, more, ok bool) {
	if sg.body != nil {
		f, ok, err := codec.decodeOwn(sg.mem)
		return len(sg.mem) + len(sg.body), f.flags&flagMore != 0, ok && err == nil
	}
	n, _, _, _ := unpackCommit(sg.commit.Load())
	f, ok, err := codec.decodeOwn(sg.mem[pos:n])
	if !ok || err != nil {
		return 0, false, false
	}
	return pos + f.hdrLen + int(f.bodyLen), f.flags&flagMore != 0, true
}

// skipRest drops, holding the role, the published frames of a message cut
// by a lost connection, up to and including its last frame (while q.skip).
// It returns 1 if that message's end was reached.
func (q *outQueue) skipRest(codec frameCodec) int {
	for q.skip {
		h := q.head
		n, msgs, sealed, _ := unpackCommit(h.commit.Load())
		for h.off < n {
			end, more, ok := h.frameAt(codec, h.off)
			if !ok {
				// Cannot happen with what the producer encoded; drop the
				// seg's published bytes rather than loop.
				h.off = n
				q.account(h, msgs)
				q.skip = false
				return 0
			}
			h.off = end
			if !more {
				q.skip, q.cmid = false, false
				h.done++
				q.gone.Add(1)
				return 1
			}
		}
		if !sealed || !q.advance(h) {
			return 0
		}
	}
	return 0
}

// Size classes of pooled buffers: powers of two from 512 octets to 4 MiB.
const (
	minClassShift = 9
	maxClassShift = 22
	numClasses    = maxClassShift - minClassShift + 1
)

// sizeClass returns the class of a buffer of at least n octets, or -1 when
// n is beyond the largest class.
func sizeClass(n int) int {
	if n <= 1<<minClassShift {
		return 0
	}
	c := bits.Len(uint(n-1)) - minClassShift
	if c >= numClasses {
		return -1
	}
	return c
}

// segPool recycles segs and the buffers of large frames between the role
// holder (put) and the producer (get). It keeps up to limit bytes: enough
// that a queue streaming at SndHWM messages of up to 64 KiB reuses what the
// writer frees instead of allocating (twice that, for what is being written
// and encoded besides), and never more than the queue itself held at its
// peak.
type segPool struct {
	mu      sync.Mutex
	batch   int    // capacity of a batch seg's mem
	segs    []*seg // segs without memory of their own
	batches []*seg // segs whose mem is a batch buffer
	classes [numClasses][][]byte
	bytes   int
	limit   int
}

// poolFloor is the least a pool may keep.
const poolFloor = 4 << 20

func (sp *segPool) init(batch, hwm int) {
	sp.batch = batch
	sp.limit = max(poolFloor, 2*min(hwm, 1<<12)*(64<<10+64))
}

// get returns a seg, empty and unlinked, with a batch buffer of at least n
// octets.
func (sp *segPool) get(n int) *seg {
	sp.mu.Lock()
	var sg *seg
	if n <= sp.batch {
		if k := len(sp.batches); k > 0 {
			sg = sp.batches[k-1]
			sp.batches[k-1] = nil
			sp.batches = sp.batches[:k-1]
			sp.bytes -= cap(sg.mem)
			sp.mu.Unlock()
			return sg
		}
		sg = sp.segLocked()
		sp.mu.Unlock()
		sg.mem = make([]byte, sp.batch)
		return sg
	}
	sg = sp.segLocked()
	mem := sp.bufLocked(n)
	sp.mu.Unlock()
	if mem == nil {
		mem = sp.alloc(n)
	}
	sg.mem = mem[:cap(mem)]
	return sg
}

// getLarge returns an empty seg for a large frame: mem is empty with room
// for a header, body holds n octets.
func (sp *segPool) getLarge(n int) *seg {
	sp.mu.Lock()
	sg := sp.segLocked()
	body := sp.bufLocked(n)
	sp.mu.Unlock()
	if body == nil {
		body = sp.alloc(n)
	}
	if cap(sg.mem) < wsMaxHeader+1 || cap(sg.mem) > 64 {
		sg.mem = make([]byte, 0, 32)
	}
	sg.mem = sg.mem[:0]
	sg.body = body[:n]
	return sg
}

// segLocked returns a seg without memory. sp.mu must be held.
func (sp *segPool) segLocked() *seg {
	if k := len(sp.segs); k > 0 {
		sg := sp.segs[k-1]
		sp.segs[k-1] = nil
		sp.segs = sp.segs[:k-1]
		return sg
	}
	return &seg{}
}

// bufLocked returns a pooled buffer of at least n octets, or nil. sp.mu
// must be held.
func (sp *segPool) bufLocked(n int) []byte {
	c := sizeClass(n)
	if c < 0 {
		return nil
	}
	l := sp.classes[c]
	if k := len(l); k > 0 {
		b := l[k-1]
		l[k-1] = nil
		sp.classes[c] = l[:k-1]
		sp.bytes -= cap(b)
		return b
	}
	return nil
}

// alloc makes a buffer of n octets, rounded up to its class.
func (sp *segPool) alloc(n int) []byte {
	if c := sizeClass(n); c >= 0 {
		return make([]byte, n, 1<<(c+minClassShift))
	}
	return make([]byte, n)
}

// putBufLocked keeps a buffer of a class size within the limit. sp.mu must
// be held.
func (sp *segPool) putBufLocked(b []byte) {
	c := sizeClass(cap(b))
	if c < 0 || cap(b) != 1<<(c+minClassShift) || sp.bytes+cap(b) > sp.limit {
		return
	}
	sp.classes[c] = append(sp.classes[c], b[:0])
	sp.bytes += cap(b)
}

// put recycles a written seg, resetting it for the producer.
func (sp *segPool) put(sg *seg) {
	mem, body := sg.mem, sg.body
	sg.mem, sg.body = nil, nil
	sg.commit.Store(0)
	sg.next.Store(nil)
	sg.n, sg.msgs, sg.sealed, sg.off, sg.out, sg.done = 0, 0, false, 0, 0, 0
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if body != nil {
		sp.putBufLocked(body)
	}
	if cap(mem) == sp.batch && sp.bytes+sp.batch <= sp.limit {
		sg.mem = mem[:cap(mem)]
		sp.batches = append(sp.batches, sg)
		sp.bytes += cap(mem)
		return
	}
	if body == nil && cap(mem) > sp.batch {
		sp.putBufLocked(mem)
	} else if body != nil {
		sg.mem = mem[:0] // a header buffer stays with its seg
	}
	sp.segs = append(sp.segs, sg)
}
