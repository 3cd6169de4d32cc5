package engine

import (
	"time"
)

// Send sends b as a one-frame message, or as the last frame of a message
// begun with SendMore. Send copies b (or writes it) before returning, so the
// caller may reuse b at once. Send never waits for the network: it blocks
// only while every eligible peer is at SndHWM (or, for PUSH, DEALER, PAIR and
// REQ, while there is no peer), bounded by SendTimeout. Send-side calls must
// not run concurrently (see Socket).
func (s *Socket) Send(b []byte) error { return s.sendFrame(b, false) }

// SendMore sends b as a frame with more frames of the same message to follow.
func (s *Socket) SendMore(b []byte) error { return s.sendFrame(b, true) }

// SendMsg sends a whole multipart message. For a ROUTER socket the first
// frame is the peer's identity.
func (s *Socket) SendMsg(frames ...[]byte) error {
	if len(frames) == 0 {
		return s.Send(nil)
	}
	for i, f := range frames {
		if err := s.sendFrame(f, i < len(frames)-1); err != nil {
			return err
		}
	}
	return nil
}

// sendFrame routes one frame by socket type.
func (s *Socket) sendFrame(b []byte, more bool) error {
	if s.isClosed() {
		return ErrClosed
	}
	start := !s.inMsg
	switch s.typ {
	case SUB, PULL:
		return ErrNotSupported
	case PUB:
		return s.sendPub(b, more, start)
	case ROUTER:
		return s.sendRouter(b, more, start)
	case REQ:
		if start {
			s.stateMu.Lock()
			busy := s.awaiting
			s.stateMu.Unlock()
			if busy {
				return ErrState
			}
			p, err := s.pickPipe(nil, true) // the empty delimiter frame
			if err != nil {
				return err
			}
			s.cur = p
			s.inMsg = true
		}
		p := s.cur
		p.send(b, more, false)
		if !more {
			s.endMsg()
			s.stateMu.Lock()
			s.awaiting, s.inReply, s.replyPipe = true, false, p
			s.stateMu.Unlock()
		}
		return nil
	case REP:
		if start {
			s.stateMu.Lock()
			due, p, env := s.awaiting, s.replyPipe, s.envelope
			s.stateMu.Unlock()
			if !due {
				return ErrState
			}
			s.inMsg = true
			s.dropMsg = !s.pipeUsable(p)
			s.cur = p
			if !s.dropMsg {
				for _, f := range env {
					p.send(f.body, true, false)
				}
			}
		}
		if !s.dropMsg {
			s.cur.send(b, more, false)
		}
		if !more {
			s.endMsg()
			s.stateMu.Lock()
			// The envelope was copied into the queue; its frames'
			// buffers go back to the pool at the next Recv.
			s.spentEnv = s.envelope
			s.awaiting, s.replyPipe, s.envelope = false, nil, nil
			s.stateMu.Unlock()
		}
		return nil
	default: // PAIR, PUSH, DEALER: load-balance whole messages
		if start {
			p, err := s.pickPipe(b, more)
			if err != nil || !more {
				return err
			}
			s.cur = p
			s.inMsg = true
			return nil
		}
		s.cur.send(b, more, false)
		if !more {
			s.endMsg()
		}
		return nil
	}
}

func (s *Socket) endMsg() {
	s.inMsg, s.dropMsg, s.cur = false, false, nil
	clear(s.pubDest)
	s.pubDest = s.pubDest[:0]
}

// pipeUsable reports whether p is still attached to the socket.
func (s *Socket) pipeUsable(p *pipe) bool {
	if p == nil {
		return false
	}
	s.mu.Lock()
	ok := p.attached
	s.mu.Unlock()
	return ok
}

// pickPipe sends the first frame of a message on the next pipe with room,
// in round-robin order, waiting (up to SendTimeout) while there is none. It
// returns the chosen pipe, which takes the message's remaining frames.
func (s *Socket) pickPipe(first []byte, more bool) (*pipe, error) {
	if p := s.tryPipes(first, more); p != nil {
		return p, nil
	}
	return s.pickPipeWait(first, more)
}

// tryPipes sends the first frame on the next pipe with room, if any.
func (s *Socket) tryPipes(first []byte, more bool) *pipe {
	pipes := *s.outPipes.Load()
	n := len(pipes)
	i := s.lb
	if i >= n {
		i = 0
	}
	for k := 0; k < n; k++ {
		p := pipes[i]
		if i++; i == n {
			i = 0
		}
		if p.send(first, more, true) {
			s.lb = i
			return p
		}
	}
	return nil
}

// pickPipeWait is pickPipe's path when every pipe is at SndHWM (or there is
// none): it waits for room.
func (s *Socket) pickPipeWait(first []byte, more bool) (*pipe, error) {
	armed, registered := false, false
	defer func() {
		if registered {
			s.roomWait.Add(-1)
		}
		if armed {
			s.sendTimer.Stop()
		}
	}()
	for {
		if p := s.tryPipes(first, more); p != nil {
			return p, nil
		}
		if !registered {
			// Register as a waiter, then look once more, so that room made
			// in between is not missed.
			s.roomWait.Add(1)
			registered = true
			continue
		}
		var expire <-chan time.Time
		if s.opts.SendTimeout > 0 {
			if !armed {
				// One timer per socket, reset per wait.
				if s.sendTimer == nil {
					s.sendTimer = time.NewTimer(s.opts.SendTimeout)
				} else {
					s.sendTimer.Reset(s.opts.SendTimeout)
				}
				armed = true
			}
			expire = s.sendTimer.C
		}
		select {
		case <-s.room:
		case <-s.life.closing:
			return nil, ErrClosed
		case <-expire:
			return nil, ErrTimeout
		}
	}
}

// sendPub fans a message out to every peer subscribed to its first frame,
// dropping it for peers at SndHWM. PUB never blocks.
func (s *Socket) sendPub(b []byte, more, start bool) error {
	if start {
		for _, p := range *s.outPipes.Load() {
			p.subsMu.Lock()
			match := p.subs.match(b)
			p.subsMu.Unlock()
			if match && p.hasRoom() {
				s.pubDest = append(s.pubDest, p)
			}
		}
		s.inMsg = true
	}
	for _, p := range s.pubDest {
		p.send(b, more, false)
	}
	if !more {
		s.endMsg()
	}
	return nil
}

// sendRouter routes a message by its first frame, the peer's identity. A
// message for an unknown peer, or a peer at SndHWM, is dropped.
func (s *Socket) sendRouter(b []byte, more, start bool) error {
	if start {
		s.inMsg = true
		s.mu.Lock()
		p := s.routes[string(b)]
		s.mu.Unlock()
		s.cur = p
		s.dropMsg = p == nil || !p.hasRoom()
		if !more {
			s.endMsg()
		}
		return nil
	}
	if !s.dropMsg {
		s.cur.send(b, more, false)
	}
	if !more {
		s.endMsg()
	}
	return nil
}

// Subscribe adds a subscription (SUB only): messages whose first frame
// starts with prefix are delivered. An empty prefix matches everything.
// Subscriptions count: subscribing twice needs two Unsubscribe calls.
func (s *Socket) Subscribe(prefix []byte) error { return s.subscribe(prefix, true) }

// Unsubscribe removes one subscription to prefix (SUB only).
func (s *Socket) Unsubscribe(prefix []byte) error { return s.subscribe(prefix, false) }

func (s *Socket) subscribe(prefix []byte, on bool) error {
	if s.typ != SUB {
		return ErrNotSupported
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isClosed() {
		return ErrClosed
	}
	if on {
		s.subs.add(prefix)
	} else if !s.subs.remove(prefix) {
		return nil
	}
	// A connection that attaches later gets every subscription replayed
	// (attach holds mu too).
	for _, p := range s.pipes {
		if c := p.live.Load(); c != nil {
			p.sendCommand(c.encodeSubscription(prefix, on))
		}
	}
	return nil
}
