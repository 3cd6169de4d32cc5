package engine

import (
	"fmt"
	"runtime"
	"testing"
)

// TestSteadyStateAllocs: once the queues have been full and the pools hold
// what a stream at the high-water marks needs, streaming allocates nothing
// per message, at any size up to 64 KiB: not Send, not the connection's
// writer and reader, not a receiver that takes frames as views. (Without
// allocations no collection happens either.) The pools may still grow a
// little, once, if the queues happen to run deeper than in the warm-up; that
// is bounded by the high-water marks, not by the length of the stream.
func TestSteadyStateAllocs(t *testing.T) {
	for _, c := range []struct{ size, n int }{{32, 100000}, {1024, 20000}, {16384, 4000}, {65536, 1500}} {
		t.Run(fmt.Sprintf("size=%d", c.size), func(t *testing.T) { steadyState(t, c.size, c.n) })
	}
}

func steadyState(t *testing.T, size, n int) {
	const hwm = 50
	set := func(o *Options) { o.SndHWM, o.RcvHWM = hwm, hwm }
	pull := newTestSocket(t, PULL, set)
	ep := bindSocket(t, pull, "tcp://127.0.0.1:*")
	push := newTestSocket(t, PUSH, set)
	connectSocket(t, push, ep)
	waitPeers(t, push, 1)

	// The receiver takes batches of messages when told to.
	work := make(chan int)
	done := make(chan error)
	defer close(work)
	go func() {
		for k := range work {
			var err error
			for i := 0; i < k && err == nil; i++ {
				var f []byte
				if f, _, err = pull.RecvFrameView(); err == nil && len(f) != size {
					err = fmt.Errorf("received %d octets, want %d", len(f), size)
				}
			}
			done <- err
		}
	}()
	msg := make([]byte, size)
	send := func(k int) error {
		for i := 0; i < k; i++ {
			if err := push.Send(msg); err != nil {
				return err
			}
		}
		return nil
	}

	// Warm-up: with the receiver away, every queue fills up to its
	// high-water mark until Send blocks; then it all drains, and a stream
	// runs for a while.
	warm := 4*hwm + 2*(4<<20)/size
	sent := make(chan error, 1)
	go func() { sent <- send(warm) }()
	waitFor(t, "Send to block at the high-water mark", func() bool { return push.roomWait.Load() > 0 })
	work <- warm
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	work <- n
	serr := send(n)
	rerr := <-done
	runtime.ReadMemStats(&after)
	if serr != nil || rerr != nil {
		t.Fatal(serr, rerr)
	}
	mallocs := after.Mallocs - before.Mallocs
	t.Logf("%d messages of %d octets: %d allocations, %d octets, %d collections", n, size, mallocs, after.TotalAlloc-before.TotalAlloc, after.NumGC-before.NumGC)
	// A few allocations elsewhere in the process (the runtime, the test
	// framework) are not the stream's, nor a pool reaching a new peak (at
	// most a buffer per message the queues hold).
	if limit := uint64(n/100 + 2*hwm); mallocs > limit {
		t.Errorf("streaming %d messages of %d octets made %d allocations (%d octets), want none per message (at most %d from elsewhere or a pool's growth)",
			n, size, mallocs, after.TotalAlloc-before.TotalAlloc, limit)
	}
}

// TestSteadyStateAllocsRoundTrip: request and reply through views allocate
// nothing per round trip either. The REP side keeps each request's envelope
// for its reply; the envelope's frames must give their read buffer back once
// the reply is out, or every request costs a new buffer (and a collection
// every few hundred round trips, in the latency tail).
func TestSteadyStateAllocsRoundTrip(t *testing.T) {
	rep := newTestSocket(t, REP)
	req := newTestSocket(t, REQ)
	connectSocket(t, req, bindSocket(t, rep, "tcp://127.0.0.1:*"))
	const n = 5000
	errs := make(chan error, 1)
	go func() {
		for i := 0; i < 200+n; i++ {
			f, _, err := rep.RecvFrameView()
			if err == nil {
				err = rep.Send(f)
			}
			if err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	msg := make([]byte, 32)
	trip := func() {
		if err := req.Send(msg); err != nil {
			t.Fatal(err)
		}
		if f, _, err := req.RecvFrameView(); err != nil || len(f) != len(msg) {
			t.Fatalf("reply: %d octets, %v", len(f), err)
		}
	}
	for i := 0; i < 200; i++ {
		trip()
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n; i++ {
		trip()
	}
	runtime.ReadMemStats(&after)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	mallocs := after.Mallocs - before.Mallocs
	t.Logf("%d round trips: %d allocations, %d octets, %d collections", n, mallocs, after.TotalAlloc-before.TotalAlloc, after.NumGC-before.NumGC)
	if limit := uint64(n / 100); mallocs > limit {
		t.Errorf("%d round trips through views made %d allocations (%d octets), want none per round trip (at most %d from elsewhere)",
			n, mallocs, after.TotalAlloc-before.TotalAlloc, limit)
	}
}
