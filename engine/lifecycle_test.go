package engine

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"
)

func TestReconnectAfterPeerRestart(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		pull1 := newTestSocket(t, PULL)
		ep := bindSocket(t, pull1, bindEP)
		push := newTestSocket(t, PUSH)
		connectSocket(t, push, ep)
		mustSend(t, push, []byte("before"))
		if got := mustRecvString(t, pull1); got != "before" {
			t.Fatalf("received %q", got)
		}
		if err := pull1.Close(); err != nil {
			t.Fatal(err)
		}
		waitPeers(t, push, 0)
		// Sent while the peer is away: waits in the queue.
		mustSend(t, push, []byte("while away"))

		pull2 := newTestSocket(t, PULL)
		if got := bindSocket(t, pull2, ep); got != ep {
			t.Fatalf("rebinding %s gave %s", ep, got)
		}
		if got := mustRecvString(t, pull2); got != "while away" {
			t.Fatalf("after the restart the first message was %q, want the one queued while the peer was away", got)
		}
		for i := 0; i < 100; i++ {
			mustSend(t, push, []byte(fmt.Sprint("after ", i)))
		}
		for i := 0; i < 100; i++ {
			if got, want := mustRecvString(t, pull2), fmt.Sprint("after ", i); got != want {
				t.Fatalf("after the restart received %q, want %q", got, want)
			}
		}
	})
}

// acceptCounter is a TCP listener that accepts and at once closes every
// connection, noting when each came: a peer whose handshake always fails.
type acceptCounter struct {
	l     net.Listener
	mu    sync.Mutex
	times []time.Time
	done  chan struct{}
}

func newAcceptCounter(t testing.TB) *acceptCounter {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &acceptCounter{l: l, done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			now := time.Now()
			c.Close()
			a.mu.Lock()
			a.times = append(a.times, now)
			a.mu.Unlock()
		}
	}()
	t.Cleanup(a.close)
	return a
}

func (a *acceptCounter) endpoint() string { return "tcp://" + a.l.Addr().String() }

func (a *acceptCounter) close() {
	a.l.Close()
	<-a.done
}

// accepts waits for n connections and returns their times.
func (a *acceptCounter) accepts(t testing.TB, n int) []time.Time {
	t.Helper()
	var out []time.Time
	waitFor(t, fmt.Sprintf("%d dial attempts", n), func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		out = append(out[:0], a.times...)
		return len(out) >= n
	})
	return out[:n]
}

func TestReconnectBackoff(t *testing.T) {
	const ivl = 20 * time.Millisecond
	t.Run("doubles", func(t *testing.T) {
		a := newAcceptCounter(t)
		push := newTestSocket(t, PUSH, func(o *Options) { o.ReconnectIvl, o.ReconnectIvlMax = ivl, time.Minute })
		connectSocket(t, push, a.endpoint())
		times := a.accepts(t, 5)
		push.Close()
		// Waits of 20, 40, 80 and 160 ms: at least 300 ms from the first
		// attempt to the fifth (timers never fire early; a quarter off
		// allows for when the accepts were noted). Without doubling it
		// would be 80 ms.
		if span, min := times[4].Sub(times[0]), 300*time.Millisecond*3/4; span < min {
			t.Fatalf("5 dial attempts within %v, want at least %v: the reconnect interval does not double (attempts at %v)", span, min, offsets(times))
		}
	})
	t.Run("capped", func(t *testing.T) {
		a := newAcceptCounter(t)
		push := newTestSocket(t, PUSH, func(o *Options) { o.ReconnectIvl, o.ReconnectIvlMax = ivl, 2*ivl })
		connectSocket(t, push, a.endpoint())
		start := time.Now()
		times := a.accepts(t, 10)
		push.Close()
		// Capped at 40 ms, 10 attempts take under half a second; doubling
		// without the cap would take 10 s.
		if span := time.Since(start); span > 5*time.Second {
			t.Fatalf("10 dial attempts took %v with ReconnectIvlMax %v: the interval is not capped (attempts at %v)", span, 2*ivl, offsets(times))
		}
	})
}

func offsets(times []time.Time) []string {
	var out []string
	for _, tm := range times {
		out = append(out, tm.Sub(times[0]).Round(time.Millisecond).String())
	}
	return out
}

// stalledPeer returns a PULL that reads at most one message ahead (RcvHWM 1)
// and a PUSH connected to it that has sent msgs messages of size octets, more
// than the kernel's buffers hold, so that the rest waits in the PUSH's queue.
// Each message starts with its number.
func stalledPeer(t *testing.T, bindEP string, linger time.Duration, msgs, size int) (push, pull *Socket) {
	t.Helper()
	pull = newTestSocket(t, PULL, func(o *Options) { o.RcvHWM = 1 })
	ep := bindSocket(t, pull, bindEP)
	push = newTestSocket(t, PUSH, func(o *Options) { o.Linger, o.SndHWM = linger, 0 })
	connectSocket(t, push, ep)
	waitPeers(t, push, 1)
	buf := make([]byte, size)
	for i := 0; i < msgs; i++ {
		binary.BigEndian.PutUint32(buf, uint32(i))
		mustSend(t, push, buf)
	}
	if q := queuedMsgs(push); q == 0 {
		t.Fatalf("after sending %d messages of %d octets to a stalled peer nothing is queued; the test needs a queue", msgs, size)
	}
	return push, pull
}

func TestLingerDeliversQueuedMessages(t *testing.T) {
	const msgs, size = 300, 64 << 10
	forEachTransport(t, func(t *testing.T, bindEP string) {
		push, pull := stalledPeer(t, bindEP, waitTimeout, msgs, size)
		queued := queuedMsgs(push)
		closed := make(chan error, 1)
		go func() { closed <- push.Close() }()
		for i := 0; i < msgs; i++ {
			m, err := pull.RecvMsg()
			if err != nil {
				t.Fatalf("message %d of %d (%d were queued at Close): %v; Close with Linger did not deliver the queue", i, msgs, queued, err)
			}
			if len(m) != 1 || len(m[0]) != size || binary.BigEndian.Uint32(m[0]) != uint32(i) {
				t.Fatalf("message %d arrived corrupted", i)
			}
		}
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("Close: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Close did not return after its queue was delivered")
		}
	})
}

func TestLingerZeroReturnsAtOnce(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		push, _ := stalledPeer(t, bindEP, 0, 300, 64<<10)
		start := time.Now()
		closed := make(chan error, 1)
		go func() { closed <- push.Close() }()
		select {
		case err := <-closed:
			if err != nil {
				t.Fatalf("Close: %v", err)
			}
			if el := time.Since(start); el > 2*time.Second {
				t.Errorf("Close with Linger 0 and a stalled peer took %v, want it at once", el)
			}
		case <-time.After(waitTimeout):
			t.Fatal("Close with Linger 0 and a stalled peer did not return")
		}
	})
}

func TestLingerBoundsClose(t *testing.T) {
	const linger = 200 * time.Millisecond
	forEachTransport(t, func(t *testing.T, bindEP string) {
		push, _ := stalledPeer(t, bindEP, linger, 300, 64<<10)
		start := time.Now()
		closed := make(chan error, 1)
		go func() { closed <- push.Close() }()
		select {
		case <-closed:
			if el := time.Since(start); el < linger {
				t.Errorf("Close with Linger %v and undelivered messages returned after %v", linger, el)
			}
		case <-time.After(waitTimeout):
			t.Fatalf("Close with Linger %v and a stalled peer did not return within %v", linger, waitTimeout)
		}
	})
}
