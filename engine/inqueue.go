package engine

import (
	"sync"
	"sync/atomic"
)

// inFrame is one received frame. When rb is set, body lies in a read
// buffer handed over without a copy (see rbuf); otherwise body has memory of
// its own.
type inFrame struct {
	body []byte
	more bool
	rb   *rbuf
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

// inQueue holds a peer's received messages until Recv takes them. The
// connection's reader appends whole messages only (a message whose frames
// span reads waits in the reader until its last frame arrives), so Recv never
// sees half a message.
type inQueue struct {
	mu     sync.Mutex
	frames []inFrame
	msgs   int
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
