package engine

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"zbench/transport"
)

// testTransport is one transport the tests run over: a name for the subtest
// and a function returning a fresh endpoint to bind.
type testTransport struct {
	name string
	// bindEndpoint returns an endpoint nobody else uses; anything it leaves
	// on disk is removed when the test ends.
	bindEndpoint func(t testing.TB) string
}

// testTransports lists every transport a transport-dependent test runs over.
// A new transport is one more line here.
var testTransports = []testTransport{
	{"tcp", func(testing.TB) string { return "tcp://127.0.0.1:*" }},
	{"ipc", tempIPCEndpoint},
	{"ws", func(testing.TB) string { return "ws://127.0.0.1:*/zbench" }},
}

// forEachTransport runs f as a subtest per transport, with an endpoint to
// bind.
func forEachTransport(t *testing.T, f func(t *testing.T, bindEP string)) {
	t.Helper()
	for _, tr := range testTransports {
		t.Run(tr.name, func(t *testing.T) { f(t, tr.bindEndpoint(t)) })
	}
}

// freshEndpoint returns another endpoint to bind, of the same transport as
// ep (for sockets with several endpoints, or several bound sockets).
func freshEndpoint(t testing.TB, ep string) string {
	t.Helper()
	scheme, _, _ := strings.Cut(ep, "://")
	for _, tr := range testTransports {
		if tr.name == scheme {
			return tr.bindEndpoint(t)
		}
	}
	t.Fatalf("no test transport for endpoint %q", ep)
	return ""
}

// wireFrameSize is the size on the wire of a one-frame message with an
// n-octet body, as a connecting socket sends it over ep's transport.
func wireFrameSize(ep string, n int) int {
	scheme, _, _ := strings.Cut(ep, "://")
	codec, err := codecFor(framingOf(scheme), true)
	if err != nil {
		panic(err)
	}
	return codec.frameSize(n)
}

var ipcSeq atomic.Int64

// tempIPCEndpoint returns a unique ipc:///tmp/... endpoint and removes its
// socket file when the test ends.
func tempIPCEndpoint(t testing.TB) string {
	path := fmt.Sprintf("/tmp/zbench-test-%d-%d.ipc", os.Getpid(), ipcSeq.Add(1))
	t.Cleanup(func() { os.Remove(path) })
	return "ipc://" + path
}

// dialRaw opens a plain byte-stream connection to a bound endpoint, for
// tests that play a misbehaving peer by hand.
func dialRaw(t testing.TB, ep string) net.Conn {
	t.Helper()
	parsed, err := transport.Parse(ep, false)
	if err != nil {
		t.Fatalf("parse %q: %v", ep, err)
	}
	var c net.Conn
	switch parsed.Scheme {
	case transport.TCP:
		c, err = net.Dial("tcp", net.JoinHostPort(parsed.Host, parsed.Port))
	case transport.IPC:
		c, err = net.Dial("unix", parsed.Path) // "@name" dials the abstract namespace
	case transport.WS:
		// The raw peer speaks ZMTP on a byte stream; zws_test.go plays
		// misbehaving ZWS peers of its own.
		t.Skipf("dialRaw: a raw ZMTP peer does not apply to %s (see zws_test.go)", ep)
	default:
		t.Fatalf("dialRaw: no raw dialer for %q", ep)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", ep, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// waitTimeout bounds every poll in the tests; it is long, because a loaded
// machine is slow, and only a broken engine ever reaches it.
const waitTimeout = 10 * time.Second

// opTimeout is the SendTimeout and RecvTimeout of test sockets.
const opTimeout = 5 * time.Second

// testOptions are the options test sockets start from: no linger (a test
// waits for what it needs delivered) and timeouts, so that a broken engine
// fails a test instead of hanging it.
func testOptions() Options {
	o := DefaultOptions()
	o.Linger = 0
	o.SendTimeout = opTimeout
	o.RecvTimeout = opTimeout
	o.ReconnectIvl = 10 * time.Millisecond
	o.ReconnectIvlMax = 100 * time.Millisecond
	return o
}

// newTestSocket makes a socket from testOptions changed by mods, and closes
// it when the test ends.
func newTestSocket(t testing.TB, typ Type, mods ...func(*Options)) *Socket {
	t.Helper()
	o := testOptions()
	for _, m := range mods {
		m(&o)
	}
	s, err := NewSocket(typ, o)
	if err != nil {
		t.Fatalf("NewSocket(%s): %v", typ, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close(%s): %v", typ, err)
		}
	})
	return s
}

// bindSocket binds s to ep and returns the endpoint as resolved.
func bindSocket(t testing.TB, s *Socket, ep string) string {
	t.Helper()
	before := len(s.Endpoints())
	if err := s.Bind(ep); err != nil {
		t.Fatalf("Bind(%q): %v", ep, err)
	}
	eps := s.Endpoints()
	if len(eps) != before+1 {
		t.Fatalf("Bind(%q): Endpoints() = %q, want one more than %d", ep, eps, before)
	}
	return eps[len(eps)-1]
}

func connectSocket(t testing.TB, s *Socket, ep string) {
	t.Helper()
	if err := s.Connect(ep); err != nil {
		t.Fatalf("Connect(%q): %v", ep, err)
	}
}

func mustSend(t testing.TB, s *Socket, frames ...[]byte) {
	t.Helper()
	if err := s.SendMsg(frames...); err != nil {
		t.Fatalf("%s SendMsg(%q): %v", s.Type(), frames, err)
	}
}

func mustRecv(t testing.TB, s *Socket) [][]byte {
	t.Helper()
	m, err := s.RecvMsg()
	if err != nil {
		t.Fatalf("%s RecvMsg: %v", s.Type(), err)
	}
	return m
}

// mustRecvString receives a one-frame message and returns it as a string.
func mustRecvString(t testing.TB, s *Socket) string {
	t.Helper()
	m := mustRecv(t, s)
	if len(m) != 1 {
		t.Fatalf("%s RecvMsg = %q, want one frame", s.Type(), m)
	}
	return string(m[0])
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// connectedPeers counts the socket's pipes with a live, handshaken
// connection.
func connectedPeers(s *Socket) int {
	s.mu.Lock()
	pipes := append([]*pipe(nil), s.pipes...)
	s.mu.Unlock()
	n := 0
	for _, p := range pipes {
		if p.live.Load() != nil {
			n++
		}
	}
	return n
}

// waitPeers waits until s has exactly n live connections.
func waitPeers(t testing.TB, s *Socket, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s socket to have %d connected peers", s.Type(), n), func() bool {
		return connectedPeers(s) == n
	})
}

// subscriptionCount is the number of subscriptions a PUB socket holds over
// all its peers (a prefix subscribed twice counts twice).
func subscriptionCount(s *Socket) int {
	s.mu.Lock()
	pipes := append([]*pipe(nil), s.pipes...)
	s.mu.Unlock()
	n := 0
	for _, p := range pipes {
		p.subsMu.Lock()
		n += p.subs.all
		for _, c := range p.subs.counts {
			n += c
		}
		p.subsMu.Unlock()
	}
	return n
}

// queuedMsgs is the number of complete messages waiting in s's outgoing
// queues.
func queuedMsgs(s *Socket) int {
	s.mu.Lock()
	pipes := append([]*pipe(nil), s.pipes...)
	s.mu.Unlock()
	n := 0
	for _, p := range pipes {
		n += p.out.queuedMsgs()
	}
	return n
}
