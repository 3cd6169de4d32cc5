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

// end is one side of one socket pair of a cell: the sockets of the
// pattern that live on that side. Data streams from the sender's streamTx
// to the receiver's streamRx; a round trip goes out through the sender's
// reqTx to the receiver's reqRx and comes back through the receiver's repTx
// to the sender's repRx. The fields of the other side are nil, as are the
// stream's for req-rep, which has no one-way stream.
type end struct {
	id       int // 1-based pair number, for errors
	lossy    bool
	streamTx *writer // sender
	reqTx    *writer // sender
	repRx    *reader // sender
	streamRx *reader // receiver
	reqRx    *reader // receiver
	repTx    *writer // receiver
	sockets  []Socket
	ipcPaths []string
}

// close closes every socket of the end and removes its ipc files.
func (e *end) close() {
	for _, s := range e.sockets {
		_ = s.Close()
	}
	for _, p := range e.ipcPaths {
		_ = os.Remove(p)
	}
}

// socketSpec is one socket of a pattern's side.
type socketSpec struct {
	kind      string
	routed    bool // ROUTER: messages carry the peer's identity
	subscribe bool // SUB: subscribed to everything
}

// patternSpec lists the sockets of both sides of one pair of a pattern.
// Socket i of the receiver binds the pair's i-th endpoint and socket i of
// the sender connects to it. On both sides socket 0 carries the stream and
// the requests, the last socket the replies (the same socket where the
// pattern has one per side).
type patternSpec struct {
	sender, receiver []socketSpec
	stream           bool // false: no one-way stream (req-rep)
	lossy            bool // the stream may drop messages (pub-sub)
}

var patternSpecs = map[string]patternSpec{
	matrix.PatternPair: {
		sender:   []socketSpec{{kind: KindPair}},
		receiver: []socketSpec{{kind: KindPair}},
		stream:   true,
	},
	matrix.PatternPushPull: {
		sender:   []socketSpec{{kind: KindPush}, {kind: KindPull}},
		receiver: []socketSpec{{kind: KindPull}, {kind: KindPush}},
		stream:   true,
	},
	matrix.PatternReqRep: {
		sender:   []socketSpec{{kind: KindReq}},
		receiver: []socketSpec{{kind: KindRep}},
	},
	matrix.PatternDealerRouter: {
		sender:   []socketSpec{{kind: KindDealer}},
		receiver: []socketSpec{{kind: KindRouter, routed: true}},
		stream:   true,
	},
	matrix.PatternPubSub: {
		sender:   []socketSpec{{kind: KindPub}, {kind: KindSub, subscribe: true}},
		receiver: []socketSpec{{kind: KindSub, subscribe: true}, {kind: KindPub}},
		stream:   true,
		lossy:    true,
	},
}

func specFor(pattern string) (patternSpec, error) {
	p, ok := patternSpecs[pattern]
	if !ok {
		return p, fmt.Errorf("%w %q (allowed: %s)", ErrUnknownPattern, pattern, strings.Join(matrix.Patterns, ", "))
	}
	return p, nil
}

// endpoints hands out fresh endpoints of one protocol to bind.
type endpoints struct {
	protocol string
	dir      string // ipc directory
	addr     string // tcp and ws address; "" means 127.0.0.1
	pid      int
	n        int
}

// next returns the endpoint to bind, and the ipc file it creates ("" if none).
func (e *endpoints) next() (endpoint, ipcPath string, err error) {
	addr := e.addr
	if addr == "" {
		addr = "127.0.0.1"
	}
	switch e.protocol {
	case matrix.ProtocolTCP:
		return "tcp://" + addr + ":*", "", nil
	case matrix.ProtocolWS:
		return "ws://" + addr + ":*/zbench", "", nil
	case matrix.ProtocolIPC:
		e.n++
		p := filepath.Join(e.dir, fmt.Sprintf("zbench-%d-%d.sock", e.pid, e.n))
		_ = os.Remove(p) // a leftover of a crashed run with a recycled pid
		return "ipc://" + p, p, nil
	}
	return "", "", fmt.Errorf("%w %q (allowed: tcp, ipc, ws)", ErrUnknownProtocol, e.protocol)
}

// openSockets opens the sockets of one side of pair id on eng.
func openSockets(e *end, eng Engine, specs []socketSpec, o SocketOptions) error {
	for _, sp := range specs {
		so := o
		if sp.subscribe {
			so.Subscribe = [][]byte{{}}
		}
		s, err := eng.NewSocket(sp.kind, so)
		if err != nil {
			return fmt.Errorf("runner: new %s socket on %s: %w", sp.kind, eng.Name(), err)
		}
		e.sockets = append(e.sockets, s)
	}
	return nil
}

// openReceiver opens the receiving side of pair id and binds every one of
// its sockets to a fresh endpoint; it returns the endpoints as bound, in
// socket order, for the sender to connect to.
func openReceiver(id int, eng Engine, c matrix.Cell, eps *endpoints) (*end, []string, error) {
	p, err := specFor(c.Pattern)
	if err != nil {
		return nil, nil, err
	}
	e := &end{id: id, lossy: p.lossy}
	if err := openSockets(e, eng, p.receiver, SocketOptionsFor(c)); err != nil {
		e.close()
		return nil, nil, err
	}
	var bound []string
	for _, s := range e.sockets {
		ep, path, err := eps.next()
		if err != nil {
			e.close()
			return nil, nil, err
		}
		if path != "" {
			e.ipcPaths = append(e.ipcPaths, path)
		}
		b, err := s.Bind(ep)
		if err != nil {
			e.close()
			return nil, nil, fmt.Errorf("runner: bind %s: %w", ep, err)
		}
		bound = append(bound, b)
	}
	first, last := p.receiver[0], p.receiver[len(p.receiver)-1]
	e.reqRx = &reader{s: e.sockets[0], routed: first.routed}
	if p.stream {
		e.streamRx = e.reqRx
	}
	e.repTx = &writer{s: e.sockets[len(e.sockets)-1], routed: last.routed}
	return e, bound, nil
}

// openSender opens the sending side of pair id and connects its sockets to
// the endpoints the receiver bound, in socket order.
func openSender(id int, eng Engine, c matrix.Cell, bound []string) (*end, error) {
	p, err := specFor(c.Pattern)
	if err != nil {
		return nil, err
	}
	if len(bound) != len(p.sender) {
		return nil, fmt.Errorf("runner: pair %d: %d endpoints for %d %s sockets", id, len(bound), len(p.sender), c.Pattern)
	}
	e := &end{id: id, lossy: p.lossy}
	if err := openSockets(e, eng, p.sender, SocketOptionsFor(c)); err != nil {
		e.close()
		return nil, err
	}
	for i, s := range e.sockets {
		if err := s.Connect(bound[i]); err != nil {
			e.close()
			return nil, fmt.Errorf("runner: connect %s: %w", bound[i], err)
		}
	}
	e.reqTx = &writer{s: e.sockets[0]}
	if p.stream {
		e.streamTx = e.reqTx
	}
	e.repRx = &reader{s: e.sockets[len(e.sockets)-1]}
	return e, nil
}

// endpointsPerPair is how many endpoints one pair of the pattern binds.
func endpointsPerPair(pattern string) int {
	return len(patternSpecs[pattern].receiver)
}
