package runner

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"zbench/matrix"
)

// ErrUnknownPattern is returned for a cell whose pattern is not in Patterns.
var ErrUnknownPattern = errors.New("runner: unknown pattern")

// ErrUnknownProtocol is returned for a cell whose protocol is not tcp, ipc or ws.
var ErrUnknownProtocol = errors.New("runner: unknown protocol")

// ErrUnexpectedMessage is returned when a socket delivers a message that is
// neither a data message nor a control message of the workload.
var ErrUnexpectedMessage = errors.New("runner: unexpected message")

// Control codes of the in-band control messages.
const (
	ctlSync      byte = 1 // link synchronisation probe (lossy links)
	ctlWarmEnd   byte = 2 // end of the warm-up stream
	ctlStreamEnd byte = 3 // end of the throughput stream
	ctlStop      byte = 4 // the echo side stops after echoing this
)

// ctlTag is the first frame of every control message.
var ctlTag = []byte("\x00zbench-ctl")

// ctlCodes holds the one-byte code frames, so that sending a control
// message allocates nothing.
var ctlCodes = [...][]byte{{0}, {1}, {2}, {3}, {4}}

// maxFrames bounds the frames of one received message (identity, tag, code).
const maxFrames = 4

// writer sends the workload's messages on a socket. A routed writer (ROUTER)
// prefixes every message with the destination identity.
type writer struct {
	s      Socket
	routed bool
}

func (w *writer) route(to []byte) error {
	if !w.routed {
		return nil
	}
	return w.s.SendMore(to)
}

// sendData sends a one-frame data message (to the identity "to" if routed).
func (w *writer) sendData(to, body []byte) error {
	if err := w.route(to); err != nil {
		return err
	}
	return w.s.Send(body)
}

// sendCtl sends a control message with the given code.
func (w *writer) sendCtl(to []byte, code byte) error {
	if err := w.route(to); err != nil {
		return err
	}
	if err := w.s.SendMore(ctlTag); err != nil {
		return err
	}
	return w.s.Send(ctlCodes[code])
}

// reader receives whole messages from a socket. A routed reader (ROUTER)
// strips the sender's identity and returns it.
type reader struct {
	s      Socket
	routed bool
	frames [][]byte
	// kept holds copies of a message's frames before its last: RecvFrame's
	// frame is valid only until the next call.
	kept [maxFrames][]byte
}

// msgKind is what a received message turned out to be.
type msgKind int

const (
	msgData msgKind = iota
	msgCtl
)

// read receives one message. body is the data frame (msgData) and code the
// control code (msgCtl); from is the sender's identity when routed. The
// slices stay valid until the next read.
func (r *reader) read() (kind msgKind, body []byte, code byte, from []byte, err error) {
	r.frames = r.frames[:0]
	for {
		f, more, err := r.s.RecvFrame()
		if err != nil {
			return 0, nil, 0, nil, err
		}
		if len(r.frames) == maxFrames {
			return 0, nil, 0, nil, fmt.Errorf("%w: more than %d frames", ErrUnexpectedMessage, maxFrames)
		}
		if more {
			i := len(r.frames)
			r.kept[i] = append(r.kept[i][:0], f...)
			f = r.kept[i]
		}
		r.frames = append(r.frames, f)
		if !more {
			break
		}
	}
	frames := r.frames
	if r.routed {
		if len(frames) < 2 {
			return 0, nil, 0, nil, fmt.Errorf("%w: routed message without identity", ErrUnexpectedMessage)
		}
		from, frames = frames[0], frames[1:]
	}
	switch {
	case len(frames) == 1:
		return msgData, frames[0], 0, from, nil
	case len(frames) == 2 && bytes.Equal(frames[0], ctlTag) && len(frames[1]) == 1:
		return msgCtl, nil, frames[1][0], from, nil
	}
	return 0, nil, 0, nil, fmt.Errorf("%w: %d frames", ErrUnexpectedMessage, len(frames))
}

// link is one socket pair of a cell, with every socket the pattern needs.
// Data streams from streamTx to streamRx; a round trip goes out through
// reqTx to reqRx and comes back through repTx to repRx.
type link struct {
	id       int // 1-based pair number, for errors
	pattern  string
	lossy    bool
	streamTx *writer // nil for req-rep: no one-way stream
	streamRx *reader
	reqTx    *writer // client side
	reqRx    *reader // echo side
	repTx    *writer // echo side
	repRx    *reader // client side
	sockets  []Socket
	ipcPaths []string
}

// close closes every socket of the link and removes its ipc files.
func (l *link) close() {
	for _, s := range l.sockets {
		_ = s.Close()
	}
	for _, p := range l.ipcPaths {
		_ = os.Remove(p)
	}
}

// endpoints hands out fresh endpoints of one protocol.
type endpoints struct {
	protocol string
	dir      string // ipc directory
	pid      int
	n        int
}

// next returns the endpoint to bind, and the ipc file it creates ("" if none).
func (e *endpoints) next() (endpoint, ipcPath string, err error) {
	switch e.protocol {
	case matrix.ProtocolTCP:
		return "tcp://127.0.0.1:*", "", nil
	case matrix.ProtocolWS:
		return "ws://127.0.0.1:*/zbench", "", nil
	case matrix.ProtocolIPC:
		e.n++
		p := filepath.Join(e.dir, fmt.Sprintf("zbench-%d-%d.sock", e.pid, e.n))
		_ = os.Remove(p) // a leftover of a crashed run with a recycled pid
		return "ipc://" + p, p, nil
	}
	return "", "", fmt.Errorf("%w %q (allowed: tcp, ipc, ws)", ErrUnknownProtocol, e.protocol)
}

// linkBuilder opens sockets for one link, keeping them so that a failure
// closes everything opened so far. The sending side's sockets (the stream's
// sender, the client of round trips) come from tx, the receiving side's (the
// stream's receiver, the echo) from rx: the same engine unless the cell's
// engine is a [MixedEngine].
type linkBuilder struct {
	tx, rx Engine
	opts   SocketOptions
	eps    *endpoints
	l      *link
}

// side says which end of a link a socket belongs to.
type side bool

const (
	sender   side = false
	receiver side = true
)

func (b *linkBuilder) socket(sd side, kind string, o SocketOptions) (Socket, error) {
	eng := b.tx
	if sd == receiver {
		eng = b.rx
	}
	s, err := eng.NewSocket(kind, o)
	if err != nil {
		return nil, fmt.Errorf("runner: new %s socket on %s: %w", kind, eng.Name(), err)
	}
	b.l.sockets = append(b.l.sockets, s)
	return s, nil
}

// connect binds bindSide to a fresh endpoint and connects connectSide to it.
func (b *linkBuilder) connect(bindSide, connectSide Socket) error {
	ep, path, err := b.eps.next()
	if err != nil {
		return err
	}
	if path != "" {
		b.l.ipcPaths = append(b.l.ipcPaths, path)
	}
	bound, err := bindSide.Bind(ep)
	if err != nil {
		return fmt.Errorf("runner: bind %s: %w", ep, err)
	}
	if err := connectSide.Connect(bound); err != nil {
		return fmt.Errorf("runner: connect %s: %w", bound, err)
	}
	return nil
}

// newLink opens and connects the sockets of one pair of the cell's pattern.
func newLink(id int, eng Engine, c matrix.Cell, eps *endpoints) (*link, error) {
	tx, rx := eng, eng
	if m, ok := eng.(MixedEngine); ok {
		if tx, rx = m.Sides(); tx == nil || rx == nil {
			return nil, fmt.Errorf("runner: %s: a side of the mixed pair has no engine", eng.Name())
		}
	}
	b := &linkBuilder{tx: tx, rx: rx, opts: SocketOptionsFor(c), eps: eps, l: &link{id: id, pattern: c.Pattern}}
	if err := b.build(c.Pattern); err != nil {
		b.l.close()
		return nil, err
	}
	return b.l, nil
}

func (b *linkBuilder) build(pattern string) error {
	l := b.l
	o := b.opts
	switch pattern {
	case matrix.PatternPair:
		a, err := b.socket(sender, KindPair, o)
		if err != nil {
			return err
		}
		z, err := b.socket(receiver, KindPair, o)
		if err != nil {
			return err
		}
		if err := b.connect(z, a); err != nil {
			return err
		}
		l.streamTx, l.streamRx = &writer{s: a}, &reader{s: z}
		l.reqTx, l.reqRx = l.streamTx, l.streamRx
		l.repTx, l.repRx = &writer{s: z}, &reader{s: a}
	case matrix.PatternPushPull:
		push, err := b.socket(sender, KindPush, o)
		if err != nil {
			return err
		}
		pull, err := b.socket(receiver, KindPull, o)
		if err != nil {
			return err
		}
		backPush, err := b.socket(receiver, KindPush, o)
		if err != nil {
			return err
		}
		backPull, err := b.socket(sender, KindPull, o)
		if err != nil {
			return err
		}
		if err := b.connect(pull, push); err != nil {
			return err
		}
		if err := b.connect(backPull, backPush); err != nil {
			return err
		}
		l.streamTx, l.streamRx = &writer{s: push}, &reader{s: pull}
		l.reqTx, l.reqRx = l.streamTx, l.streamRx
		l.repTx, l.repRx = &writer{s: backPush}, &reader{s: backPull}
	case matrix.PatternReqRep:
		req, err := b.socket(sender, KindReq, o)
		if err != nil {
			return err
		}
		rep, err := b.socket(receiver, KindRep, o)
		if err != nil {
			return err
		}
		if err := b.connect(rep, req); err != nil {
			return err
		}
		l.reqTx, l.reqRx = &writer{s: req}, &reader{s: rep}
		l.repTx, l.repRx = &writer{s: rep}, &reader{s: req}
	case matrix.PatternDealerRouter:
		dealer, err := b.socket(sender, KindDealer, o)
		if err != nil {
			return err
		}
		router, err := b.socket(receiver, KindRouter, o)
		if err != nil {
			return err
		}
		if err := b.connect(router, dealer); err != nil {
			return err
		}
		l.streamTx, l.streamRx = &writer{s: dealer}, &reader{s: router, routed: true}
		l.reqTx, l.reqRx = l.streamTx, l.streamRx
		l.repTx, l.repRx = &writer{s: router, routed: true}, &reader{s: dealer}
	case matrix.PatternPubSub:
		l.lossy = true
		so := o
		so.Subscribe = [][]byte{{}}
		pub, err := b.socket(sender, KindPub, o)
		if err != nil {
			return err
		}
		sub, err := b.socket(receiver, KindSub, so)
		if err != nil {
			return err
		}
		backPub, err := b.socket(receiver, KindPub, o)
		if err != nil {
			return err
		}
		backSub, err := b.socket(sender, KindSub, so)
		if err != nil {
			return err
		}
		if err := b.connect(pub, sub); err != nil {
			return err
		}
		if err := b.connect(backPub, backSub); err != nil {
			return err
		}
		l.streamTx, l.streamRx = &writer{s: pub}, &reader{s: sub}
		l.reqTx, l.reqRx = l.streamTx, l.streamRx
		l.repTx, l.repRx = &writer{s: backPub}, &reader{s: backSub}
	default:
		return fmt.Errorf("%w %q (allowed: %s)", ErrUnknownPattern, pattern, strings.Join(matrix.Patterns, ", "))
	}
	return nil
}
