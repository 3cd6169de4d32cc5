//go:build libzmq

package engines_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"zbench/runner"
	"zbench/runner/engines"
)

// The control messages of the workloads, as runner/patterns.go sends them.
var ctlTag = []byte("\x00zbench-ctl")

// libzmqLoops returns the libzmq engine as runner.Loops.
func libzmqLoops(t *testing.T) runner.Loops {
	t.Helper()
	lz, _ := engines.Lookup(engines.LibzmqName)
	l, ok := lz.(runner.Loops)
	if !ok {
		t.Fatalf("%T does not implement runner.Loops", lz)
	}
	return l
}

// socketPair opens a socket of kind a bound to tcp and one of kind b
// connected to it (b with identity id, if not nil); both close with the test.
func socketPair(t *testing.T, a, b string, id []byte) (bound, connected runner.Socket) {
	t.Helper()
	lz, _ := engines.Lookup(engines.LibzmqName)
	bound, err := lz.NewSocket(a, runnerOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bound.Close() })
	o := runnerOptions()
	o.Identity = id
	connected, err = lz.NewSocket(b, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { connected.Close() })
	ep, err := bound.Bind("tcp://127.0.0.1:*")
	if err != nil {
		t.Fatal(err)
	}
	if err := connected.Connect(ep); err != nil {
		t.Fatal(err)
	}
	return bound, connected
}

func sendCtl(t *testing.T, s runner.Socket, to []byte, code byte) {
	t.Helper()
	if to != nil {
		must(t, s.SendMore(to))
	}
	must(t, s.SendMore(ctlTag))
	must(t, s.Send([]byte{code}))
}

func sendData(t *testing.T, s runner.Socket, n, size int) {
	t.Helper()
	msg := make([]byte, size)
	for range n {
		must(t, s.Send(msg))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// RecvLoop counts the data messages up to a control message and returns
// its code; on a ROUTER, with the identity of its sender too.
func TestLibzmqRecvLoopControl(t *testing.T) {
	loops := libzmqLoops(t)
	for _, tc := range []struct {
		name         string
		recv, send   string
		routed       bool
		id, wantFrom []byte
		code         byte
		timeEach     bool
	}{
		{name: "pull", recv: runner.KindPull, send: runner.KindPush, code: 3},
		{name: "pair", recv: runner.KindPair, send: runner.KindPair, code: 2, timeEach: true},
		{name: "router", recv: runner.KindRouter, send: runner.KindDealer, routed: true, id: []byte("peer-7"), wantFrom: []byte("peer-7"), code: 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rx, tx := socketPair(t, tc.recv, tc.send, tc.id)
			const n, size = 500, 33
			sendData(t, tx, n, size)
			sendCtl(t, tx, nil, tc.code)
			sendData(t, tx, 1, size) // after the marker: left for the next loop
			sendCtl(t, tx, nil, 1)
			st, ctl, err := loops.RecvLoop(rx, size, tc.routed, tc.timeEach)
			if err != nil {
				t.Fatal(err)
			}
			if st.Received != n || ctl.Code != tc.code || !bytes.Equal(ctl.From, tc.wantFrom) {
				t.Errorf("received %d, control %d from %q; want %d, %d from %q", st.Received, ctl.Code, ctl.From, n, tc.code, tc.wantFrom)
			}
			if st.FirstRecv <= 0 || st.LastRecv < st.FirstRecv || st.FirstRecv > runner.Mono() {
				t.Errorf("first receive %d, last %d: want Mono readings, in order", st.FirstRecv, st.LastRecv)
			}
			if tc.timeEach == (st.LastRecv == st.FirstRecv) {
				t.Errorf("timeEach %v: first receive %d, last %d", tc.timeEach, st.FirstRecv, st.LastRecv)
			}
			st, ctl, err = loops.RecvLoop(rx, size, tc.routed, false)
			if err != nil || st.Received != 1 || ctl.Code != 1 {
				t.Errorf("second loop: received %d, control %d, err %v; want 1, 1", st.Received, ctl.Code, err)
			}
		})
	}
}

// A data message of another size fails RecvLoop and EchoLoop with
// runner.ErrWrongSize; a message of three frames is neither data nor control.
func TestLibzmqLoopsCheckMessages(t *testing.T) {
	loops := libzmqLoops(t)
	t.Run("recv", func(t *testing.T) {
		rx, tx := socketPair(t, runner.KindPull, runner.KindPush, nil)
		sendData(t, tx, 3, 32)
		sendData(t, tx, 1, 31)
		st, _, err := loops.RecvLoop(rx, 32, false, false)
		if !errors.Is(err, runner.ErrWrongSize) || st.Received != 3 {
			t.Errorf("received %d, err %v; want 3 then %v", st.Received, err, runner.ErrWrongSize)
		}
	})
	t.Run("echo", func(t *testing.T) {
		rx, tx := socketPair(t, runner.KindPair, runner.KindPair, nil)
		sendData(t, tx, 1, 100001)
		if _, _, err := loops.EchoLoop(rx, rx, 100000, false); !errors.Is(err, runner.ErrWrongSize) {
			t.Errorf("err %v, want %v", err, runner.ErrWrongSize)
		}
	})
	t.Run("round trip", func(t *testing.T) {
		echo, client := socketPair(t, runner.KindPair, runner.KindPair, nil)
		go func() {
			f, _, err := echo.RecvFrame()
			if err == nil {
				_ = echo.Send(f[:len(f)-1])
			}
		}()
		if _, err := loops.RoundTrips(client, client, 16, 1, 0, nil); !errors.Is(err, runner.ErrWrongSize) {
			t.Errorf("err %v, want %v", err, runner.ErrWrongSize)
		}
	})
	t.Run("three frames", func(t *testing.T) {
		rx, tx := socketPair(t, runner.KindPull, runner.KindPush, nil)
		must(t, tx.SendMore([]byte("a")))
		must(t, tx.SendMore([]byte("b")))
		must(t, tx.Send([]byte("c")))
		if _, _, err := loops.RecvLoop(rx, 1, false, false); !errors.Is(err, runner.ErrUnexpectedMessage) {
			t.Errorf("err %v, want %v", err, runner.ErrUnexpectedMessage)
		}
	})
	t.Run("tag with a long code", func(t *testing.T) {
		rx, tx := socketPair(t, runner.KindPull, runner.KindPush, nil)
		must(t, tx.SendMore(ctlTag))
		must(t, tx.Send([]byte{3, 3}))
		if _, _, err := loops.RecvLoop(rx, 1, false, false); !errors.Is(err, runner.ErrUnexpectedMessage) {
			t.Errorf("err %v, want %v", err, runner.ErrUnexpectedMessage)
		}
	})
}

// EchoLoop sends every data message back unchanged, to its sender on a
// ROUTER, and returns the control message that ends it with its sender's
// identity.
func TestLibzmqEchoLoop(t *testing.T) {
	loops := libzmqLoops(t)
	for _, tc := range []struct {
		name           string
		routed         bool
		id             []byte
		server, client string
	}{
		{name: "pair", server: runner.KindPair, client: runner.KindPair},
		{name: "router", routed: true, id: []byte("client-1"), server: runner.KindRouter, client: runner.KindDealer},
		{name: "rep", server: runner.KindRep, client: runner.KindReq},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, cli := socketPair(t, tc.server, tc.client, tc.id)
			type result struct {
				st  runner.LoopStats
				ctl runner.Control
				err error
			}
			done := make(chan result, 1)
			go func() {
				st, ctl, err := loops.EchoLoop(srv, srv, 5, tc.routed)
				done <- result{st, ctl, err}
			}()
			const n = 20
			for i := range n {
				msg := []byte(fmt.Sprintf("m%04d", i))
				must(t, cli.Send(msg))
				f, more, err := cli.RecvFrame()
				if err != nil || more || !bytes.Equal(f, msg) {
					t.Fatalf("echo %d: %q more %v err %v; want %q", i, f, more, err, msg)
				}
			}
			sendCtl(t, cli, nil, 4)
			r := <-done
			if r.err != nil || r.st.Received != n || r.st.Sent != n || r.ctl.Code != 4 {
				t.Fatalf("echo loop: %+v, control %+v, err %v; want %d echoed, then code 4", r.st, r.ctl, r.err, n)
			}
			if tc.routed != (r.ctl.From != nil) || (tc.routed && !bytes.Equal(r.ctl.From, tc.id)) {
				t.Errorf("control from %q, want %q", r.ctl.From, tc.id)
			}
		})
	}
}

// RoundTrips records every round trip, skipping control messages that
// arrive while it waits for a reply; SendLoop sends what it is asked.
func TestLibzmqRoundTripsAndSendLoop(t *testing.T) {
	loops := libzmqLoops(t)
	echo, client := socketPair(t, runner.KindPair, runner.KindPair, nil)
	const n, size = 50, 64
	go func() {
		for {
			f, _, err := echo.RecvFrame()
			if err != nil {
				return
			}
			if len(f) != size { // the stream of SendLoop: counted below
				continue
			}
			// A stale marker first, as a lossy link may deliver one.
			if echo.SendMore(ctlTag) != nil || echo.Send([]byte{1}) != nil || echo.Send(f) != nil {
				return
			}
		}
	}()
	rtts := make([]int64, n+5) // longer than needed: the tail stays 0
	st, err := loops.RoundTrips(client, client, size, n, 0, rtts)
	if err != nil {
		t.Fatal(err)
	}
	if st.Sent != n || st.Received != n || st.FirstSend <= 0 || st.LastRecv < st.FirstRecv || st.LastSend < st.FirstSend {
		t.Errorf("round trips: %+v, want %d each way, timed", st, n)
	}
	for i, v := range rtts {
		if (i < n) != (v > 0) {
			t.Errorf("rtts[%d] = %d", i, v)
		}
	}
	// By duration: stops once the deadline has passed.
	st, err = loops.RoundTrips(client, client, size, 0, runner.Mono()+int64(20*time.Millisecond), nil)
	if err != nil || st.Received == 0 || st.Received != st.Sent {
		t.Errorf("round trips by deadline: %+v, err %v", st, err)
	}

	rx, tx := socketPair(t, runner.KindPull, runner.KindPush, nil)
	st, err = loops.SendLoop(tx, 7, 300, 0)
	if err != nil || st.Sent != 300 || st.FirstSend <= 0 || st.LastSend < st.FirstSend {
		t.Fatalf("send loop by count: %+v, err %v", st, err)
	}
	st, err = loops.SendLoop(tx, 7, 0, runner.Mono()+int64(20*time.Millisecond))
	if err != nil || st.Sent == 0 {
		t.Fatalf("send loop by deadline: %+v, err %v", st, err)
	}
	sent := 300 + st.Sent
	sendCtl(t, tx, nil, 3)
	got, ctl, err := loops.RecvLoop(rx, 7, false, false)
	if err != nil || got.Received != sent || ctl.Code != 3 {
		t.Errorf("received %d (control %d, err %v), want the %d sent", got.Received, ctl.Code, err, sent)
	}
}

// Control messages read with RecvFrame and data read by the loops share a
// socket without losing or reordering a message: RecvFrame never takes a
// frame of the message after the one it reads.
func TestLibzmqRecvFrameThenLoop(t *testing.T) {
	loops := libzmqLoops(t)
	rx, tx := socketPair(t, runner.KindPull, runner.KindPush, nil)
	for round := range 50 {
		sendCtl(t, tx, nil, 1)
		sendData(t, tx, 3, 8)
		sendCtl(t, tx, nil, 2)
		if f, more, err := rx.RecvFrame(); err != nil || !more || !bytes.Equal(f, ctlTag) {
			t.Fatalf("round %d: tag %q more %v err %v", round, f, more, err)
		}
		if f, more, err := rx.RecvFrame(); err != nil || more || !bytes.Equal(f, []byte{1}) {
			t.Fatalf("round %d: code %q more %v err %v", round, f, more, err)
		}
		type result struct {
			st  runner.LoopStats
			ctl runner.Control
			err error
		}
		done := make(chan result, 1)
		go func() {
			st, ctl, err := loops.RecvLoop(rx, 8, false, false)
			done <- result{st, ctl, err}
		}()
		select {
		case r := <-done:
			if r.err != nil || r.st.Received != 3 || r.ctl.Code != 2 {
				t.Fatalf("round %d: loop received %d, control %d, err %v; want 3, 2", round, r.st.Received, r.ctl.Code, r.err)
			}
		case <-time.After(10 * time.Second):
			rx.Close()
			t.Fatalf("round %d: the loop never saw the messages after the control message (held by RecvFrame?)", round)
		}
	}
}

// A loop waiting on a socket ends with the closed error when the socket is
// closed from another goroutine; so does a loop over two sockets waiting on
// one when the other is closed.
func TestLibzmqLoopsEndOnClose(t *testing.T) {
	loops := libzmqLoops(t)
	lz, _ := engines.Lookup(engines.LibzmqName)
	open := func(kind string) runner.Socket {
		s, err := lz.NewSocket(kind, runnerOptions())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	cases := []struct {
		name  string
		run   func(a, b runner.Socket) error
		kinds [2]string
		close int // which of the two sockets is closed
	}{
		{"recv", func(a, _ runner.Socket) error { _, _, err := loops.RecvLoop(a, 1, false, false); return err },
			[2]string{runner.KindPull, runner.KindPull}, 0},
		{"send at the high-water mark", func(a, _ runner.Socket) error {
			_, err := loops.SendLoop(a, 1, 0, runner.Mono()+int64(time.Hour))
			return err
		},
			[2]string{runner.KindPush, runner.KindPush}, 0},
		{"echo, its receiving socket", func(a, b runner.Socket) error { _, _, err := loops.EchoLoop(a, b, 1, false); return err },
			[2]string{runner.KindPull, runner.KindPush}, 0},
		{"echo, its sending socket", func(a, b runner.Socket) error { _, _, err := loops.EchoLoop(a, b, 1, false); return err },
			[2]string{runner.KindPull, runner.KindPush}, 1},
		{"round trips, the reply socket", func(a, b runner.Socket) error { _, err := loops.RoundTrips(a, b, 1, 1, 0, nil); return err },
			[2]string{runner.KindPair, runner.KindPull}, 1},
		{"round trips, the request socket", func(a, b runner.Socket) error { _, err := loops.RoundTrips(a, b, 1, 1, 0, nil); return err },
			[2]string{runner.KindPair, runner.KindPull}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := open(tc.kinds[0])
			b := open(tc.kinds[1])
			switch tc.kinds[0] {
			case runner.KindPull:
				if _, err := a.Bind("tcp://127.0.0.1:*"); err != nil {
					t.Fatal(err)
				}
			case runner.KindPair:
				// A PAIR bound and connected to a PAIR that never answers:
				// the request goes out, the reply never comes.
				peer := open(runner.KindPair)
				ep, err := peer.Bind("tcp://127.0.0.1:*")
				if err != nil {
					t.Fatal(err)
				}
				must(t, a.Connect(ep))
			}
			done := make(chan error, 1)
			go func() { done <- tc.run(a, b) }()
			select {
			case err := <-done:
				t.Fatalf("the loop returned before Close: %v", err)
			case <-time.After(50 * time.Millisecond):
			}
			// Close waits for the loop to let go of the socket: from a
			// goroutine of its own, so that a loop that does not end
			// fails the test rather than hanging it.
			target, other := []runner.Socket{a, b}[tc.close], []runner.Socket{a, b}[1-tc.close]
			closed := make(chan struct{})
			go func() { _ = target.Close(); close(closed) }()
			select {
			case err := <-done:
				if !errors.Is(err, engines.ErrLibzmqClosed) {
					t.Errorf("err %v, want %v", err, engines.ErrLibzmqClosed)
				}
			case <-time.After(10 * time.Second):
				other.Close()
				t.Fatal("Close did not end the loop")
			}
			// A closed socket fails every loop at once (once Close, which
			// may still be tearing the context down, has returned).
			<-closed
			if _, _, err := loops.RecvLoop(target, 1, false, false); !errors.Is(err, engines.ErrLibzmqClosed) {
				t.Errorf("loop on a closed socket: %v", err)
			}
		})
	}
}
