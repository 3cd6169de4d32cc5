package engine

import (
	"sync"
	"time"
)

// seg is one write's worth of outgoing bytes: either a batch of encoded
// frames (buf) or one large frame, header in buf and body in body, written
// together with one vectored write. The queue owns both slices; neither is
// ever the caller's memory.
type seg struct {
	buf  []byte
	body []byte
	off  int // bytes of buf+body already written
	msgs int // messages whose last frame is in this seg
	// endsMid is true when the seg's last frame has MORE set, so the next
	// seg continues the same message.
	endsMid bool
}

func (sg *seg) size() int { return len(sg.buf) + len(sg.body) }

// outQueue is a peer's outgoing side: the connection's batch buffers, filled
// by Send and written by the connection's writer (or by Send itself on the
// immediate path). It outlives connections of a connecting socket, so that
// messages queued while disconnected are written after a reconnect.
//
// Batching rule: Send encodes each frame at the end of the newest batch while
// the batch stays within OutBatchSize bytes (and batching is on); otherwise it
// starts a new batch. A frame whose encoded size reaches OutBatchSize gets a
// seg of its own and is written header+body without copying into a batch. The
// writer writes each seg with one write call, so no write exceeds
// OutBatchSize unless it carries a single large frame.
type outQueue struct {
	mu   sync.Mutex
	segs []*seg // FIFO, head first
	// nowSegs is the immediate path's scratch for the segs it writes.
	nowSegs []*seg
	free    []*seg // recycled batch buffers
	// freeBodies are recycled bodies of large frames; freeBytes is what
	// free and freeBodies hold, kept under maxFreeBytes.
	freeBodies [][]byte
	freeBytes  int
	msgs       int // complete messages queued (SndHWM accounting)
	// writing is true while a write is under way (writer or immediate
	// path) or the writer has been signalled; only one party writes at a time.
	writing bool
	// mid is true between a MORE frame and the last frame of a message;
	// commands wait in deferred until the message is complete.
	mid      bool
	deferred [][]byte
	// solo is true while the message being sent found the queue empty and
	// no write under way, so it may take the immediate path.
	solo bool
	// lastWrite is when the most recent write finished and writeCost the
	// running average of write durations; together they decide whether the
	// connection is idle (see pipe.immediateOK).
	lastWrite time.Duration
	writeCost time.Duration
	// wake signals the connection's writer (capacity 1).
	wake chan struct{}

	// Telemetry, guarded by mu.
	msgsOut, bytesOut                    uint64
	writes, batched, immediate, handoffs uint64
}

func newOutQueue() outQueue {
	return outQueue{wake: make(chan struct{}, 1)}
}

// signalLocked wakes the writer unless a write is already under way. q.mu
// must be held.
func (q *outQueue) signalLocked() {
	if q.writing {
		return
	}
	q.writing = true
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// getSeg returns an empty seg whose buf can hold n bytes. q.mu must be held.
func (q *outQueue) getSeg(n, batch int) *seg {
	for i := len(q.free) - 1; i >= 0; i-- {
		if sg := q.free[i]; cap(sg.buf) >= n {
			q.free[i] = q.free[len(q.free)-1]
			q.free[len(q.free)-1] = nil
			q.free = q.free[:len(q.free)-1]
			q.freeBytes -= cap(sg.buf)
			return sg
		}
	}
	c := batch
	if c < n {
		c = n
	}
	return &seg{buf: make([]byte, 0, c)}
}

// maxFreeBytes bounds the memory a queue keeps in recycled batch buffers
// and large-frame bodies: enough for a queue streaming at its high-water mark
// to reuse what the writer frees instead of allocating, without holding on to
// an unbounded peak.
const maxFreeBytes = 4 << 20

// putSeg recycles a written seg and its large-frame body, within
// maxFreeBytes. out.mu must be held.
func (q *outQueue) putSeg(sg *seg) {
	if sg.body != nil && q.freeBytes+cap(sg.body) <= maxFreeBytes {
		q.freeBodies = append(q.freeBodies, sg.body[:0])
		q.freeBytes += cap(sg.body)
	}
	sg.body = nil
	sg.buf = sg.buf[:0]
	sg.off, sg.msgs, sg.endsMid = 0, 0, false
	if q.freeBytes+cap(sg.buf) <= maxFreeBytes {
		q.free = append(q.free, sg)
		q.freeBytes += cap(sg.buf)
	}
}

// dropPartial is called when a connection died: a seg that was partly
// written is gone with the connection, and so are the remaining frames of a
// message whose first frames were written (the peer saw only part of it).
// Returns the number of complete messages dropped. q.mu must be held.
func (q *outQueue) dropPartialLocked(codec frameCodec) int {
	dropped := 0
	midMsg := false
	for len(q.segs) > 0 && (q.segs[0].off > 0 || midMsg) {
		sg := q.segs[0]
		if sg.off > 0 || sg.body != nil {
			// Partly written, or a large frame continuing a cut message.
			midMsg = sg.endsMid
			dropped += sg.msgs
			q.segs = q.segs[1:]
			continue
		}
		// A batch that starts in the middle of a message: drop frames up
		// to and including the message's last frame.
		b := sg.buf
		for len(b) > 0 && midMsg {
			h, ok, err := codec.decodeOwn(b)
			if !ok || err != nil {
				b = nil
				break
			}
			b = b[h.hdrLen+int(h.bodyLen):]
			if h.flags&flagCommand == 0 && h.flags&flagMore == 0 {
				midMsg = false
				dropped++
				sg.msgs--
			}
		}
		if len(b) == 0 {
			q.segs = q.segs[1:]
			continue
		}
		sg.buf = append(sg.buf[:0], b...)
	}
	q.msgs -= dropped
	return dropped
}
