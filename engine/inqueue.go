package engine

import (
	"sync"
	"sync/atomic"
)

// inFrame is one received frame as Recv hands it on. When rb is set, body
// lies in a buffer handed over without a copy (see rbuf); otherwise body has
// memory of its own.
type inFrame struct {
	body []byte
	more bool
	rb   *rbuf
}

// inBatch is frames received together, whose bodies lie in one memory: the
// part of one read that one delivery hands over, or one frame too large for
// the read buffer. Frames are places in data, without pointers, so a queue
// of them costs the garbage collector nothing and the reader writes no
// pointer per frame. The reader fills a batch and hands it over in one step;
// afterwards only Recv touches it, and gives it back for reuse once taken.
type inBatch struct {
	data []byte
	// rb is the pooled buffer data lies in (a read buffer handed over for
	// views, or a large frame's buffer), nil when data is the caller's to
	// keep.
	rb     *rbuf
	frames []frameRef
	// whole is set for a batch of one frame whose body is all of data
	// (frameRef.n may be too small for it).
	whole bool
	pos   int // frames Recv has taken
}

// frameRef is one received frame: where its body lies in its batch's data,
// and whether more frames of the same message follow.
type frameRef struct {
	off, n uint32
	more   bool
}

// frame returns frame i of the batch.
func (b *inBatch) frame(i int) inFrame {
	f := b.frames[i]
	if b.whole {
		return inFrame{body: b.data, more: f.more, rb: b.rb}
	}
	end := f.off + f.n
	return inFrame{body: b.data[f.off:end:end], more: f.more, rb: b.rb}
}

// reset empties a batch for reuse.
func (b *inBatch) reset() {
	b.data, b.rb, b.frames, b.whole, b.pos = nil, nil, b.frames[:0], false, 0
}

// rbuf is a read buffer whose frames were handed to Recv without a copy:
// a connection's read buffer, or the buffer of one frame too large for it
// (cls >= 0: a pooled buffer of that size class). refs counts its frames not
// yet consumed. A frame consumed by RecvFrameView is done with at the next
// Recv call; one returned by RecvFrame or RecvMsg belongs to the caller,
// which marks the buffer escaped. When the last frame is done with and none
// escaped, the buffer goes back to the socket's pool and the reader fills it
// again: streaming through views allocates nothing, at any frame size. The
// reader sets refs before it delivers the frames; afterwards only the
// goroutine in Recv touches refs and escaped.
type rbuf struct {
	b       []byte
	refs    int32
	escaped bool
	cls     int8 // size class of a large frame's buffer; -1 for a read buffer
}

// rbufPool keeps a socket's spare receive buffers: read buffers, and
// buffers for frames too large for them by size class. Readers take them;
// Recv gives back the ones no frame refers to any more. Unlike a sync.Pool
// it is not emptied by the garbage collector, so a receiver streaming
// through views allocates nothing, and causes no collection, at any frame
// size. It keeps up to limit bytes: what the frames of up to 64 KiB a pipe
// may hold (RcvHWM messages queued, as many on Recv's side) need, and never
// more than it held at its peak.
type rbufPool struct {
	mu      sync.Mutex
	size    int // a read buffer's size
	reads   []*rbuf
	classes [numClasses][]*rbuf
	bytes   int
	limit   int
}

func (bp *rbufPool) init(size, hwm int) {
	bp.size = size
	bp.limit = max(poolFloor, 2*min(hwm, 1<<12)*(64<<10+64))
}

// get returns an empty buffer of class cls (-1: a read buffer).
func (bp *rbufPool) get(cls int) *rbuf {
	bp.mu.Lock()
	l := &bp.reads
	if cls >= 0 {
		l = &bp.classes[cls]
	}
	if k := len(*l); k > 0 {
		rb := (*l)[k-1]
		(*l)[k-1] = nil
		*l = (*l)[:k-1]
		bp.bytes -= len(rb.b)
		bp.mu.Unlock()
		rb.refs, rb.escaped = 0, false
		return rb
	}
	bp.mu.Unlock()
	size := bp.size
	if cls >= 0 {
		size = 1 << (cls + minClassShift)
	}
	return &rbuf{b: make([]byte, size), cls: int8(cls)}
}

// put keeps a buffer nothing refers to any more, within the limit.
func (bp *rbufPool) put(rb *rbuf) {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	if bp.bytes+len(rb.b) > bp.limit {
		return
	}
	bp.bytes += len(rb.b)
	if rb.cls < 0 {
		bp.reads = append(bp.reads, rb)
	} else {
		bp.classes[rb.cls] = append(bp.classes[rb.cls], rb)
	}
}

// inQueue holds a peer's received messages until Recv takes them. The
// connection's reader delivers whole messages only (a message whose frames
// span reads waits in the reader until its last frame arrives), so Recv never
// sees half a message.
type inQueue struct {
	mu      sync.Mutex
	batches []*inBatch // delivered, in order
	msgs    int
	// free holds batches Recv has taken whole, for the reader to reuse.
	free []*inBatch
	// ready is true while the pipe is on the socket's ready list or in its
	// active set; the reader announces the pipe only when ready was false.
	ready bool
	// eof is set when no more frames will arrive on this pipe.
	eof bool
	// full is true while the reader waits for room; room wakes it.
	full bool
	room chan struct{}

	// Telemetry, written by the connection's reader.
	msgsIn, bytesIn, reads atomic.Uint64
}

func newInQueue() inQueue { return inQueue{room: make(chan struct{}, 1)} }

// readyList is the set of pipes that have received messages since Recv last
// looked, in arrival order.
type readyList struct {
	mu    sync.Mutex
	pipes []*pipe
	n     atomic.Int32  // len(pipes), readable without the lock
	wake  chan struct{} // capacity 1
}

func (r *readyList) add(p *pipe) {
	r.mu.Lock()
	r.pipes = append(r.pipes, p)
	r.n.Store(int32(len(r.pipes)))
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// takeInto appends every ready pipe to dst and empties the list.
func (r *readyList) takeInto(dst []*pipe) []*pipe {
	r.mu.Lock()
	dst = append(dst, r.pipes...)
	clear(r.pipes)
	r.pipes = r.pipes[:0]
	r.n.Store(0)
	r.mu.Unlock()
	return dst
}

// pending reports whether pipes are waiting on the list, without locking
// when it is plainly empty.
func (r *readyList) pending() bool {
	return r.n.Load() > 0
}
