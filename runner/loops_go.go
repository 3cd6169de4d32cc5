package runner

import (
	"errors"
	"fmt"
	"sync/atomic"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The workloads' data loops in Go, for engines without Loops of their own,
// and exported as small count-based primitives on a Socket (SendN, ReceiveN,
// EchoN, RoundTripsN) for anything else that drives one side of a benchmark:
// `zbench peer`, against any ZeroMQ peer. Every loop reads the clock (Mono)
// as the phases define it and nothing more, and checks every message's size.

// SizeError is a received data message whose size is not the workload's. It
// matches ErrWrongSize.
type SizeError struct {
	What      string // "request", "reply", or "" for a message of the stream
	Got, Want int    // bytes
}

func (e *SizeError) Error() string {
	what := ""
	if e.What != "" {
		what = e.What + " of "
	}
	return fmt.Sprintf("%v: %s%d bytes, want %d", ErrWrongSize, what, e.Got, e.Want)
}

// Unwrap makes a SizeError match ErrWrongSize.
func (e *SizeError) Unwrap() error { return ErrWrongSize }

// errNoStop is returned by a loop asked to run without a count or a stop.
var errNoStop = errors.New("runner: a loop without a count needs a stop")

// errControl is returned by the exported receiving loops when a workload
// control message arrives: a peer that is not a plain sender.
var errControl = fmt.Errorf("%w: a zbench control message", ErrUnexpectedMessage)

// SendN sends one-frame messages on s, each a copy of payload: count of
// them or, with count 0, until stop is set (checked before every message).
// FirstSend is read before the first message and LastSend after the last;
// Sent counts the messages Send accepted.
func SendN(s Socket, payload []byte, count int64, stop *atomic.Bool) (LoopStats, error) {
	return sendLoop(&writer{s: s}, payload, count, stop)
}

// ReceiveN receives count one-frame messages on s, checking that each has
// size bytes (a *SizeError otherwise). FirstRecv is read when the first
// arrives and LastRecv when the last does; Received counts them.
func ReceiveN(s Socket, size int, count int64) (LoopStats, error) {
	if count < 1 {
		return LoopStats{}, fmt.Errorf("%w: ReceiveN of %d messages", ErrBadWorkload, count)
	}
	st, _, err := receiveLoop(&reader{s: s}, size, count, false)
	if err == nil && st.Received < count {
		err = errControl
	}
	return st, err
}

// EchoN receives count one-frame messages on rx, checking that each has
// size bytes, and sends each back unchanged on tx (which may be rx). Sent and
// Received count the messages echoed.
func EchoN(rx, tx Socket, size int, count int64) (LoopStats, error) {
	if count < 1 {
		return LoopStats{}, fmt.Errorf("%w: EchoN of %d messages", ErrBadWorkload, count)
	}
	st, _, err := echoLoop(&reader{s: rx}, &writer{s: tx}, size, count)
	if err == nil && st.Received < count {
		err = errControl
	}
	return st, err
}

// RoundTripsN sends a request (a copy of payload) on tx and waits for a
// reply of the same size on rx (which may be tx), count times or, with count
// 0, until stop is set (checked before every round trip). With h, every
// round trip's time in ns is recorded in it. Sent and Received count
// requests and replies; FirstSend is read before the first request,
// FirstRecv when the first reply arrives, LastSend and LastRecv are the
// last round trip's.
func RoundTripsN(tx, rx Socket, payload []byte, count int64, stop *atomic.Bool, h *hdrhistogram.Histogram) (LoopStats, error) {
	return roundTripLoop(&writer{s: tx}, &reader{s: rx}, payload, count, stop, h)
}

// sendLoop is SendN on the workload's writer.
func sendLoop(tx *writer, payload []byte, count int64, stop *atomic.Bool) (LoopStats, error) {
	var st LoopStats
	if count == 0 && stop == nil {
		return st, errNoStop
	}
	st.FirstSend = Mono()
	if count > 0 {
		for ; st.Sent < count; st.Sent++ {
			if err := tx.sendData(nil, payload); err != nil {
				return st, err
			}
		}
	} else {
		for !stop.Load() {
			if err := tx.sendData(nil, payload); err != nil {
				return st, err
			}
			st.Sent++
		}
	}
	st.LastSend = Mono()
	return st, nil
}

// receiveLoop receives data messages on rx, checking each one's size:
// count of them or, with count 0, until a control message arrives, which it
// returns (a control message ends a counted loop early too). The clock is
// read at the first data message, at the count-th, and at every one when
// timeEach is set: reading it per message would cost a fast receiver more
// than the engine does.
func receiveLoop(rx *reader, size int, count int64, timeEach bool) (LoopStats, Control, error) {
	var st LoopStats
	for count == 0 || st.Received < count {
		kind, body, code, from, err := rx.read()
		if err != nil {
			return st, Control{}, err
		}
		if kind == msgCtl {
			return st, Control{Code: code, From: from}, nil
		}
		if len(body) != size {
			return st, Control{}, &SizeError{Got: len(body), Want: size}
		}
		st.Received++
		if st.Received == 1 || timeEach || st.Received == count {
			now := Mono()
			if st.Received == 1 {
				st.FirstRecv = now
			}
			st.LastRecv = now
		}
	}
	return st, Control{}, nil
}

// echoLoop receives data messages on rx and sends each back unchanged on tx
// (to its sender's identity when rx is routed): count of them or, with count
// 0, until a control message arrives, which it returns.
func echoLoop(rx *reader, tx *writer, size int, count int64) (LoopStats, Control, error) {
	var st LoopStats
	for count == 0 || st.Received < count {
		kind, body, code, from, err := rx.read()
		if err != nil {
			return st, Control{}, err
		}
		if kind == msgCtl {
			return st, Control{Code: code, From: from}, nil
		}
		if len(body) != size {
			return st, Control{}, &SizeError{What: "request", Got: len(body), Want: size}
		}
		if err := tx.sendData(from, body); err != nil {
			return st, Control{}, err
		}
		st.Received++
		st.Sent++
	}
	return st, Control{}, nil
}

// roundTripLoop is RoundTripsN on the workload's writer and reader; control
// messages met while waiting for a reply (repeated probes of a lossy link)
// are skipped.
func roundTripLoop(tx *writer, rx *reader, payload []byte, count int64, stop *atomic.Bool, h *hdrhistogram.Histogram) (LoopStats, error) {
	var st LoopStats
	if count == 0 && stop == nil {
		return st, errNoStop
	}
	size := len(payload)
	st.FirstSend = Mono()
	for n := int64(0); count == 0 || n < count; n++ {
		if count == 0 && stop.Load() {
			break
		}
		t0 := Mono()
		if err := tx.sendData(nil, payload); err != nil {
			return st, err
		}
		st.Sent++
		if err := awaitReply(rx, size); err != nil {
			return st, err
		}
		t1 := Mono()
		if st.Received == 0 {
			st.FirstRecv = t1
		}
		st.LastSend, st.LastRecv = t0, t1
		st.Received++
		if h != nil {
			_ = h.RecordValue(min(t1-t0, histHighestNs))
		}
	}
	return st, nil
}

// awaitReply reads rx until a data message arrives and checks its size.
// Control messages (repeated probes of a lossy link) are skipped.
func awaitReply(rx *reader, size int) error {
	for {
		kind, body, _, _, err := rx.read()
		if err != nil {
			return err
		}
		if kind == msgCtl {
			continue
		}
		if len(body) != size {
			return &SizeError{What: "reply", Got: len(body), Want: size}
		}
		return nil
	}
}
