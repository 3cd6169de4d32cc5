package engine

import "time"

// RecvFrame returns the next frame and whether more frames of the same
// message follow. The caller owns the returned slice. Messages from
// different peers are fair-queued (round robin, one message at a time); the
// frames of one message are never interleaved with another's. It waits up to
// RecvTimeout (0 = as long as it takes).
//
// ROUTER: the first frame of every message is the sending peer's identity.
// REQ/REP: the envelope is stripped (REQ) or kept for the reply (REP).
func (s *Socket) RecvFrame() (frame []byte, more bool, err error) {
	s.endView()
	if body, more, rb, ok := s.takeQueued(); ok {
		if rb != nil {
			rb.escaped = true
		}
		return body, more, nil
	}
	var dl deadline
	f, err := s.recvFrame(&dl)
	s.own(f)
	return f.body, f.more, err
}

// RecvFrameView is RecvFrame without handing the frame over: the returned
// slice lies in the engine's read buffer and stays valid only until the next
// Recv call (of any kind) on this socket, when the buffer may be reused. A
// receiver that looks at each frame and lets it go (a benchmark, a parser
// that copies what it keeps) receives this way without allocating: read
// buffers, and the buffers of frames too large for them, are recycled
// instead of left to the garbage collector.
func (s *Socket) RecvFrameView() (frame []byte, more bool, err error) {
	if !s.viewing.Load() {
		s.viewing.Store(true)
	}
	s.endView()
	if body, more, rb, ok := s.takeQueued(); ok {
		s.view = rb
		return body, more, nil
	}
	var dl deadline
	f, err := s.recvFrame(&dl)
	s.view = f.rb
	return f.body, f.more, err
}

// RecvMsg returns the next whole message, one slice per frame. The caller
// owns the returned slices.
func (s *Socket) RecvMsg() ([][]byte, error) {
	s.endView()
	var dl deadline
	var msg [][]byte
	for {
		f, err := s.recvFrame(&dl)
		if err != nil {
			return nil, err
		}
		s.own(f)
		msg = append(msg, f.body)
		if !f.more {
			return msg, nil
		}
	}
}

// deadline is when a Recv call gives up, read from the clock only once the
// call has to wait: a Recv that finds its frame queued never reads it.
type deadline struct {
	at  time.Time
	set bool
}

// until returns the deadline (zero: none), fixing it on first use.
func (s *Socket) until(dl *deadline) time.Time {
	if dl == nil {
		return time.Time{}
	}
	if !dl.set {
		dl.set = true
		if s.opts.RecvTimeout > 0 {
			dl.at = time.Now().Add(s.opts.RecvTimeout)
		}
	}
	return dl.at
}

// release is called when Recv is done with a frame: the last frame of a
// buffer that none of its frames escaped returns it to its pool.
func (s *Socket) release(f inFrame) {
	rb := f.rb
	if rb == nil {
		return
	}
	rb.refs--
	if rb.refs == 0 && !rb.escaped {
		s.recycle(rb)
	}
}

// own hands a frame to the caller for good: its buffer is never reused
// (so its count of frames no longer matters).
func (s *Socket) own(f inFrame) {
	if f.rb != nil {
		f.rb.escaped = true
	}
}

// takeQueued is the receive fast path of sockets whose frames need no
// envelope rules (PAIR, DEALER, PULL): the next frame, when it is on Recv's
// side already (ok).
func (s *Socket) takeQueued() (body []byte, more bool, rb *rbuf, ok bool) {
	if !s.direct {
		return nil, false, nil, false
	}
	p := s.curIn
	if p == nil {
		n := len(s.active)
		if n == 0 || s.ready.pending() {
			return nil, false, nil, false
		}
		if s.rr >= n {
			s.rr = 0
		}
		p = s.active[s.rr]
	}
	b := p.peek()
	if b == nil {
		return nil, false, nil, false
	}
	f := b.frames[b.pos]
	b.pos++
	if b.whole {
		body = b.data
	} else {
		end := f.off + f.n
		body = b.data[f.off:end:end]
	}
	if f.more {
		s.curIn = p
	} else {
		s.curIn = nil
		s.rr++
	}
	return body, f.more, b.rb, true
}

// peek returns the batch holding the pipe's next frame on Recv's side, or
// nil when Recv has taken every frame it holds.
func (p *pipe) peek() *inBatch {
	for p.li < len(p.local) {
		if b := p.local[p.li]; b.pos < len(b.frames) {
			return b
		}
		p.li++
	}
	return nil
}

// endView ends the validity of the frame the last RecvFrameView returned.
func (s *Socket) endView() {
	if s.view != nil {
		s.release(inFrame{rb: s.view})
		s.view = nil
	}
}

// recvFrame applies the socket type's receive rules.
func (s *Socket) recvFrame(dl *deadline) (inFrame, error) {
	if len(s.pendIn) > 0 {
		f := s.pendIn[0]
		s.pendIn[0] = inFrame{}
		s.pendIn = s.pendIn[1:]
		return f, nil
	}
	switch s.typ {
	case PUB, PUSH:
		return inFrame{}, ErrNotSupported
	case ROUTER:
		if s.curIn != nil {
			f, _, err := s.rawFrame(dl)
			return f, err
		}
		f, p, err := s.rawFrame(dl)
		if err != nil {
			return f, err
		}
		s.pendIn = append(s.pendIn[:0], f)
		return inFrame{body: p.identity, more: true}, nil
	case SUB:
		for {
			if s.curIn != nil {
				f, _, err := s.rawFrame(dl)
				return f, err
			}
			f, _, err := s.rawFrame(dl)
			if err != nil {
				return f, err
			}
			s.mu.Lock()
			match := s.subs.match(f.body)
			s.mu.Unlock()
			if match {
				return f, nil
			}
			s.skipMessage(f)
		}
	case REQ:
		return s.recvReq(dl)
	case REP:
		return s.recvRep(dl)
	default:
		f, _, err := s.rawFrame(dl)
		return f, err
	}
}

// skipMessage discards the message whose frame f was just taken, and the
// rest of its frames.
func (s *Socket) skipMessage(f inFrame) {
	s.release(f)
	for f.more {
		f, _, _ = s.rawFrame(nil)
		s.release(f)
	}
}

// recvReq returns the frames of the reply to the outstanding request,
// dropping anything else (replies from other peers, messages without the
// empty delimiter).
func (s *Socket) recvReq(dl *deadline) (inFrame, error) {
	s.stateMu.Lock()
	awaiting, inReply, want := s.awaiting, s.inReply, s.replyPipe
	s.stateMu.Unlock()
	if !awaiting {
		return inFrame{}, ErrState
	}
	if inReply {
		f, _, err := s.rawFrame(dl)
		if err == nil && !f.more {
			s.finishReq()
		}
		return f, err
	}
	for {
		f, p, err := s.rawFrame(dl)
		if err != nil {
			return f, err
		}
		if p != want || len(f.body) != 0 || !f.more {
			s.skipMessage(f)
			continue
		}
		s.release(f) // the delimiter
		f, _, err = s.rawFrame(dl)
		if err != nil {
			return f, err
		}
		if f.more {
			s.stateMu.Lock()
			s.inReply = true
			s.stateMu.Unlock()
		} else {
			s.finishReq()
		}
		return f, nil
	}
}

func (s *Socket) finishReq() {
	s.stateMu.Lock()
	s.awaiting, s.inReply, s.replyPipe = false, false, nil
	s.stateMu.Unlock()
}

// recvRep takes a request: routing frames up to the empty delimiter are
// kept as the envelope for the reply; the frames after it are returned.
func (s *Socket) recvRep(dl *deadline) (inFrame, error) {
	s.stateMu.Lock()
	due := s.awaiting
	// The envelope of the last reply sent (none while a reply is due).
	spent := s.spentEnv
	s.spentEnv = nil
	s.stateMu.Unlock()
	for i, e := range spent {
		s.release(e)
		spent[i] = inFrame{}
	}
	if s.curIn != nil {
		f, _, err := s.rawFrame(dl)
		if err == nil && !f.more {
			s.stateMu.Lock()
			s.awaiting = true
			s.stateMu.Unlock()
		}
		return f, err
	}
	if due {
		return inFrame{}, ErrState
	}
	for {
		f, p, err := s.rawFrame(dl)
		if err != nil {
			return f, err
		}
		env := s.envBuf[:0]
		for f.more && len(f.body) > 0 {
			env = append(env, f)
			f, _, _ = s.rawFrame(dl)
		}
		if len(f.body) != 0 || !f.more {
			// No delimiter, or nothing after it: not a request.
			for _, e := range env {
				s.release(e)
			}
			s.skipMessage(f)
			continue
		}
		// The envelope, delimiter included, is kept for the reply: its
		// frames hold their buffers until the reply is sent and the next
		// Recv releases them (spentEnv), so a REP receiving views
		// recycles its read buffers like any other socket.
		env = append(env, f)
		s.envBuf = env
		body, _, _ := s.rawFrame(dl)
		s.stateMu.Lock()
		s.envelope, s.replyPipe = env, p
		if !body.more {
			s.awaiting = true
		}
		s.stateMu.Unlock()
		return body, nil
	}
}

// rawFrame returns the next frame from the fair queue and the pipe it came
// from. Within a message it keeps to the message's pipe (its frames are all
// queued already).
func (s *Socket) rawFrame(dl *deadline) (inFrame, *pipe, error) {
	p := s.curIn
	if p == nil {
		// The common case: the pipe whose turn it is has frames on
		// Recv's side already.
		if n := len(s.active); n > 0 && !s.ready.pending() {
			if s.rr >= n {
				s.rr = 0
			}
			if q := s.active[s.rr]; q.peek() != nil {
				p = q
			}
		}
		if p == nil {
			return s.rawFrameWait(dl)
		}
	}
	return s.take(p), p, nil
}

// take pops the next frame from p's Recv-side queue and keeps to p until
// the message's last frame.
func (s *Socket) take(p *pipe) inFrame {
	b := p.peek()
	f := b.frame(b.pos)
	b.pos++
	if f.more {
		s.curIn = p
	} else {
		s.curIn = nil
		s.rr++
	}
	return f
}

// rawFrameWait is rawFrame's path through the ready list, refills and
// waiting.
func (s *Socket) rawFrameWait(dl *deadline) (inFrame, *pipe, error) {
	armed := false
	defer func() {
		if armed {
			s.recvTimer.Stop()
		}
	}()
	for {
		if len(s.active) == 0 || s.ready.pending() {
			s.active = s.ready.takeInto(s.active)
		}
		if len(s.active) == 0 {
			if s.isClosed() {
				return inFrame{}, nil, ErrClosed
			}
			var expire <-chan time.Time
			if at := s.until(dl); !at.IsZero() {
				d := time.Until(at)
				if d <= 0 {
					return inFrame{}, nil, ErrTimeout
				}
				if !armed {
					// One timer per socket, reset per wait (a Stop or Reset
					// leaves no stale tick in its channel).
					if s.recvTimer == nil {
						s.recvTimer = time.NewTimer(d)
					} else {
						s.recvTimer.Reset(d)
					}
					armed = true
				}
				expire = s.recvTimer.C
			}
			s.recvWaiting.Store(true)
			select {
			case <-s.ready.wake:
			case <-s.life.closing:
				s.recvWaiting.Store(false)
				return inFrame{}, nil, ErrClosed
			case <-expire:
				s.recvWaiting.Store(false)
				return inFrame{}, nil, ErrTimeout
			}
			s.recvWaiting.Store(false)
			continue
		}
		if s.rr >= len(s.active) {
			s.rr = 0
		}
		i := s.rr
		p := s.active[i]
		if p.peek() == nil && !s.refill(p) {
			// Nothing left on this pipe: take it out of the rotation.
			last := len(s.active) - 1
			s.active[i] = s.active[last]
			s.active[last] = nil
			s.active = s.active[:last]
			continue
		}
		return s.take(p), p, nil
	}
}

// refill moves the pipe's received messages to Recv's side in one step, and
// gives the batches Recv has finished with back to the reader.
// It returns false when there were none; the pipe then leaves the ready set
// (and, once its connection is gone, the socket).
func (s *Socket) refill(p *pipe) bool {
	q := &p.in
	// Every frame of the local batches was taken: they go back to the
	// reader.
	done := p.local
	for _, b := range done {
		b.reset()
	}
	q.mu.Lock()
	q.free = append(q.free, done...)
	clear(done)
	p.li = 0
	if len(q.batches) == 0 {
		p.local = done[:0]
		q.ready = false
		q.mu.Unlock()
		return false
	}
	p.local, q.batches = q.batches, done[:0]
	q.msgs = 0
	wake := q.full
	q.full = false
	q.mu.Unlock()
	if wake {
		select {
		case q.room <- struct{}{}:
		default:
		}
	}
	return true
}
