package runner_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"zbench/runner"
)

// fakePair returns two connected PAIR sockets of e.
func fakePair(t *testing.T, e *fakeEngine) (a, b runner.Socket) {
	t.Helper()
	a, _ = e.NewSocket(runner.KindPair, runner.SocketOptions{})
	b, _ = e.NewSocket(runner.KindPair, runner.SocketOptions{})
	ep, err := b.Bind("fake://x")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Connect(ep); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

type loopResult struct {
	st  runner.LoopStats
	err error
}

func goLoop(f func() (runner.LoopStats, error)) <-chan loopResult {
	c := make(chan loopResult, 1)
	go func() {
		st, err := f()
		c <- loopResult{st, err}
	}()
	return c
}

func TestSendNReceiveN(t *testing.T) {
	a, b := fakePair(t, newFakeEngine())
	sent := goLoop(func() (runner.LoopStats, error) { return runner.SendN(a, make([]byte, 16), 100, nil) })
	st, err := runner.ReceiveN(b, 16, 100)
	s := <-sent
	if err != nil || s.err != nil {
		t.Fatalf("ReceiveN: %v; SendN: %v", err, s.err)
	}
	if st.Received != 100 || st.FirstRecv == 0 || st.LastRecv < st.FirstRecv || st.Sent != 0 {
		t.Errorf("ReceiveN stats %+v", st)
	}
	if s.st.Sent != 100 || s.st.FirstSend == 0 || s.st.LastSend < s.st.FirstSend || s.st.FirstSend > st.LastRecv {
		t.Errorf("SendN stats %+v (receiver %+v)", s.st, st)
	}

	// Without a count, SendN stops when told; without either it refuses.
	// The receiver drains meanwhile, so that a fast sender never fills the
	// fake's queue and blocks before it sees the stop.
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			if _, _, err := b.RecvFrame(); err != nil {
				return
			}
		}
	}()
	var stop atomic.Bool
	time.AfterFunc(20*time.Millisecond, func() { stop.Store(true) })
	if st, err := runner.SendN(a, make([]byte, 16), 0, &stop); err != nil || st.Sent == 0 {
		t.Errorf("SendN until stop: %+v, %v", st, err)
	}
	b.Close()
	<-drained
	if _, err := runner.SendN(a, nil, 0, nil); err == nil {
		t.Error("SendN with neither count nor stop ran")
	}
}

// A message of the wrong size ends the loop with a *SizeError that says
// both sizes, after the messages that were right.
func TestReceiveNWrongSize(t *testing.T) {
	e := newFakeEngine()
	e.shrinkAt = 5
	a, b := fakePair(t, e)
	go runner.SendN(a, make([]byte, 16), 10, nil)
	st, err := runner.ReceiveN(b, 16, 10)
	var se *runner.SizeError
	if !errors.As(err, &se) || !errors.Is(err, runner.ErrWrongSize) || se.Got != 15 || se.Want != 16 || st.Received != 4 {
		t.Fatalf("ReceiveN = %+v, %v; want a SizeError 15/16 after 4 messages", st, err)
	}
	if err.Error() != "runner: message of the wrong size: 15 bytes, want 16" {
		t.Errorf("message %q", err)
	}
}

// A zbench control message is not a plain sender's: the receiving loops say
// so rather than count it or stop quietly.
func TestReceiveNControlMessage(t *testing.T) {
	a, b := fakePair(t, newFakeEngine())
	_ = a.Send(make([]byte, 8))
	_ = a.SendMore([]byte("\x00zbench-ctl"))
	_ = a.Send([]byte{3})
	st, err := runner.ReceiveN(b, 8, 5)
	if !errors.Is(err, runner.ErrUnexpectedMessage) || st.Received != 1 {
		t.Errorf("ReceiveN = %+v, %v; want ErrUnexpectedMessage after 1", st, err)
	}
}

func TestEchoNRoundTripsN(t *testing.T) {
	a, b := fakePair(t, newFakeEngine())
	echoed := goLoop(func() (runner.LoopStats, error) { return runner.EchoN(b, b, 32, 50) })
	h := hdrhistogram.New(1, int64(time.Minute), 3)
	st, err := runner.RoundTripsN(a, a, make([]byte, 32), 50, nil, h)
	ec := <-echoed
	if err != nil || ec.err != nil {
		t.Fatalf("RoundTripsN: %v; EchoN: %v", err, ec.err)
	}
	if st.Sent != 50 || st.Received != 50 || h.TotalCount() != 50 || st.FirstSend == 0 ||
		st.FirstRecv < st.FirstSend || st.LastRecv < st.LastSend || st.LastSend < st.FirstSend {
		t.Errorf("RoundTripsN stats %+v, %d recorded", st, h.TotalCount())
	}
	if ec.st.Received != 50 || ec.st.Sent != 50 {
		t.Errorf("EchoN stats %+v", ec.st)
	}

	// An echo of the wrong size is a SizeError naming the reply.
	go func() {
		_, _, _ = b.RecvFrame()
		_ = b.Send(make([]byte, 3))
	}()
	_, err = runner.RoundTripsN(a, a, make([]byte, 32), 1, nil, nil)
	var se *runner.SizeError
	if !errors.As(err, &se) || se.What != "reply" || se.Got != 3 {
		t.Errorf("RoundTripsN with a short reply: %v", err)
	}
}
