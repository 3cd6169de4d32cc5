package engine

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPairBothWays(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		a := newTestSocket(t, PAIR)
		ep := bindSocket(t, a, bindEP)
		b := newTestSocket(t, PAIR)
		connectSocket(t, b, ep)
		for i := 0; i < 20; i++ {
			want := fmt.Sprintf("b to a %d", i)
			mustSend(t, b, []byte(want))
			if got := mustRecvString(t, a); got != want {
				t.Fatalf("bound PAIR received %q, want %q", got, want)
			}
			want = fmt.Sprintf("a to b %d", i)
			mustSend(t, a, []byte(want))
			if got := mustRecvString(t, b); got != want {
				t.Fatalf("connected PAIR received %q, want %q", got, want)
			}
		}
		// Both directions at once.
		const n = 500
		var wg sync.WaitGroup
		for _, pair := range [][2]*Socket{{a, b}, {b, a}} {
			wg.Add(1)
			go func(from, to *Socket) {
				defer wg.Done()
				for i := 0; i < n; i++ {
					if err := from.Send([]byte(strconv.Itoa(i))); err != nil {
						t.Errorf("Send %d: %v", i, err)
						return
					}
				}
			}(pair[0], pair[1])
		}
		for _, s := range []*Socket{a, b} {
			for i := 0; i < n; i++ {
				if got := mustRecvString(t, s); got != strconv.Itoa(i) {
					t.Fatalf("message %d arrived as %q", i, got)
				}
			}
		}
		wg.Wait()
	})
}

// recvSeqs receives n one-frame messages holding decimal numbers.
func recvSeqs(t testing.TB, s *Socket, n int) []int {
	t.Helper()
	out := make([]int, n)
	for i := range out {
		v, err := strconv.Atoi(mustRecvString(t, s))
		if err != nil {
			t.Fatal(err)
		}
		out[i] = v
	}
	return out
}

func TestPushRoundRobin(t *testing.T) {
	const peers, perPeer = 3, 100
	check := func(t *testing.T, push *Socket, pulls []*Socket) {
		for i := 0; i < peers*perPeer; i++ {
			mustSend(t, push, []byte(strconv.Itoa(i)))
		}
		waitFor(t, "every message to arrive", func() bool {
			total := uint64(0)
			for _, p := range pulls {
				total += p.Stats().MsgsIn
			}
			return total == peers*perPeer
		})
		for k, p := range pulls {
			if got := p.Stats().MsgsIn; got != perPeer {
				t.Errorf("PULL %d received %d of %d messages, want an even %d", k, got, peers*perPeer, perPeer)
			}
		}
		if t.Failed() {
			return
		}
		for k, p := range pulls {
			seqs := recvSeqs(t, p, perPeer)
			for i := 1; i < len(seqs); i++ {
				if seqs[i] != seqs[i-1]+peers {
					t.Fatalf("PULL %d received %v...: want every %dth message in order", k, seqs[:min(len(seqs), 12)], peers)
				}
			}
		}
	}
	forEachTransport(t, func(t *testing.T, bindEP string) {
		t.Run("bound PUSH", func(t *testing.T) {
			push := newTestSocket(t, PUSH)
			ep := bindSocket(t, push, bindEP)
			var pulls []*Socket
			for i := 0; i < peers; i++ {
				p := newTestSocket(t, PULL)
				connectSocket(t, p, ep)
				pulls = append(pulls, p)
			}
			waitPeers(t, push, peers)
			check(t, push, pulls)
		})
		t.Run("connecting PUSH", func(t *testing.T) {
			push := newTestSocket(t, PUSH)
			var pulls []*Socket
			for i := 0; i < peers; i++ {
				p := newTestSocket(t, PULL)
				connectSocket(t, push, bindSocket(t, p, freshEndpoint(t, bindEP)))
				pulls = append(pulls, p)
			}
			waitPeers(t, push, peers)
			check(t, push, pulls)
		})
	})
}

func TestPullFairQueue(t *testing.T) {
	const peers, perPeer = 3, 100
	forEachTransport(t, func(t *testing.T, bindEP string) {
		pull := newTestSocket(t, PULL)
		ep := bindSocket(t, pull, bindEP)
		var pushes []*Socket
		for i := 0; i < peers; i++ {
			p := newTestSocket(t, PUSH)
			connectSocket(t, p, ep)
			pushes = append(pushes, p)
		}
		waitPeers(t, pull, peers)
		// Every peer's whole stream is queued before the first Recv, so a
		// receiver that drains one peer first would show it plainly.
		for k, p := range pushes {
			for i := 0; i < perPeer; i++ {
				mustSend(t, p, []byte(fmt.Sprintf("%d:%d", k, i)))
			}
		}
		waitFor(t, "every message to arrive", func() bool { return pull.Stats().MsgsIn == peers*perPeer })
		next := make([]int, peers)
		var order []int
		for i := 0; i < peers*perPeer; i++ {
			var k, seq int
			m := mustRecvString(t, pull)
			if _, err := fmt.Sscanf(m, "%d:%d", &k, &seq); err != nil {
				t.Fatalf("message %q: %v", m, err)
			}
			if seq != next[k] {
				t.Fatalf("from peer %d: message %d arrived, want %d (per-peer order lost)", k, seq, next[k])
			}
			next[k]++
			order = append(order, k)
		}
		// While every peer has messages waiting, no peer gets more than
		// its turn.
		head := order[:peers*perPeer/2]
		run, longest := 1, 1
		count := make([]int, peers)
		for i, k := range head {
			count[k]++
			if i > 0 && head[i-1] == k {
				run++
				longest = max(longest, run)
			} else {
				run = 1
			}
		}
		for k, c := range count {
			if c < len(head)/peers-peers {
				t.Errorf("peer %d: %d of the first %d messages, want about %d (fair queueing)", k, c, len(head), len(head)/peers)
			}
		}
		if longest > 2 {
			t.Errorf("one peer delivered %d messages in a row while the others had messages waiting; order %v...", longest, head[:min(len(head), 30)])
		}
	})
}

func TestReqRepStrictAlternation(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		rep := newTestSocket(t, REP)
		ep := bindSocket(t, rep, bindEP)
		req := newTestSocket(t, REQ)
		connectSocket(t, req, ep)

		if _, err := req.RecvMsg(); !errors.Is(err, ErrState) {
			t.Errorf("REQ Recv before any Send = %v, want ErrState", err)
		}
		if err := rep.Send([]byte("x")); !errors.Is(err, ErrState) {
			t.Errorf("REP Send before any Recv = %v, want ErrState", err)
		}
		for i := 0; i < 10; i++ {
			q := fmt.Sprintf("question %d", i)
			mustSend(t, req, []byte(q), []byte("second part"))
			if err := req.Send([]byte("again")); !errors.Is(err, ErrState) {
				t.Fatalf("REQ Send, Send = %v, want ErrState", err)
			}
			got := mustRecv(t, rep)
			if len(got) != 2 || string(got[0]) != q || string(got[1]) != "second part" {
				t.Fatalf("REP received %q, want [%q \"second part\"] (envelope stripped)", got, q)
			}
			if _, err := rep.RecvMsg(); !errors.Is(err, ErrState) {
				t.Fatalf("REP Recv, Recv = %v, want ErrState", err)
			}
			a := fmt.Sprintf("answer %d", i)
			mustSend(t, rep, []byte(a))
			if err := rep.Send([]byte("again")); !errors.Is(err, ErrState) {
				t.Fatalf("REP Send, Send = %v, want ErrState", err)
			}
			if got := recvReply(t, req, i); got != a {
				t.Fatalf("REQ received %q, want %q", got, a)
			}
			if _, err := req.RecvMsg(); !errors.Is(err, ErrState) {
				t.Fatalf("REQ Recv, Recv = %v, want ErrState", err)
			}
		}
	})
}

// recvReply receives a REQ socket's reply, having had `before` replies so
// far. When none comes, it says whether the reply reached the socket (and
// Recv dropped it) or never arrived.
func recvReply(t testing.TB, req *Socket, before int) string {
	t.Helper()
	m, err := req.RecvMsg()
	if err != nil {
		in := req.Stats().MsgsIn
		if in > uint64(before) {
			t.Fatalf("REQ RecvMsg = %v, yet the socket has received %d messages and returned only %d replies: Recv dropped the reply to its own request", err, in, before)
		}
		t.Fatalf("REQ RecvMsg = %v; no reply reached the socket (%d messages received)", err, in)
	}
	if len(m) != 1 {
		t.Fatalf("REQ received %q, want one frame", m)
	}
	return string(m[0])
}

// serve answers every request on a REP socket with tag + request until the
// socket is closed; stop closes it and returns how many it answered.
func serve(rep *Socket, tag string) (stop func() int) {
	var wg sync.WaitGroup
	n := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			m, err := rep.RecvMsg()
			if err != nil {
				return
			}
			n++
			if err := rep.Send([]byte(tag + string(m[0]))); err != nil {
				return
			}
		}
	}()
	return func() int {
		rep.Close()
		wg.Wait()
		return n
	}
}

func TestReqOverTwoReps(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		req := newTestSocket(t, REQ)
		var stops []func() int
		for _, tag := range []string{"A:", "B:"} {
			rep := newTestSocket(t, REP)
			connectSocket(t, req, bindSocket(t, rep, freshEndpoint(t, bindEP)))
			stops = append(stops, serve(rep, tag))
		}
		const n = 20
		var tags []string
		for i := 0; i < n; i++ {
			q := strconv.Itoa(i)
			mustSend(t, req, []byte(q))
			got := recvReply(t, req, i)
			tag, body, _ := strings.Cut(got, ":")
			if body != q {
				t.Fatalf("request %q answered with %q", q, got)
			}
			tags = append(tags, tag)
		}
		a, b := stops[0](), stops[1]()
		if a != n/2 || b != n/2 {
			t.Errorf("REP A answered %d and REP B %d of %d requests, want %d each; order %v", a, b, n, n/2, tags)
		}
		for i := 1; i < len(tags); i++ {
			if tags[i] == tags[i-1] {
				t.Errorf("requests %d and %d both went to REP %s; want them to alternate: %v", i-1, i, tags[i], tags)
				break
			}
		}
	})
}

func TestDealerRouterIdentity(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		router := newTestSocket(t, ROUTER)
		ep := bindSocket(t, router, bindEP)
		alice := newTestSocket(t, DEALER, func(o *Options) { o.Identity = []byte("alice") })
		connectSocket(t, alice, ep)
		mustSend(t, alice, []byte("hi"), []byte("there"))
		got := mustRecv(t, router)
		if len(got) != 3 || string(got[0]) != "alice" || string(got[1]) != "hi" || string(got[2]) != "there" {
			t.Fatalf("ROUTER received %q, want [alice hi there]", got)
		}
		// Unknown identities are dropped; the next message to alice is
		// the first she sees.
		mustSend(t, router, []byte("nobody"), []byte("lost"))
		mustSend(t, router, []byte("alice"), []byte("found"), []byte("two frames"))
		got = mustRecv(t, alice)
		if len(got) != 2 || string(got[0]) != "found" || string(got[1]) != "two frames" {
			t.Fatalf("DEALER received %q, want [found \"two frames\"] (a message for an unknown identity must be dropped)", got)
		}
	})
}

func TestRouterGeneratedIdentities(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		router := newTestSocket(t, ROUTER)
		ep := bindSocket(t, router, bindEP)
		const n = 3
		dealers := make([]*Socket, n)
		for i := range dealers {
			dealers[i] = newTestSocket(t, DEALER)
			connectSocket(t, dealers[i], ep)
			mustSend(t, dealers[i], []byte(strconv.Itoa(i)))
		}
		ids := map[string]int{}
		for range dealers {
			got := mustRecv(t, router)
			if len(got) != 2 {
				t.Fatalf("ROUTER received %q, want identity and body", got)
			}
			id := got[0]
			if len(id) != 5 || id[0] != 0 {
				t.Errorf("generated identity % x: want 5 octets starting with 0", id)
			}
			if prev, dup := ids[string(id)]; dup {
				t.Fatalf("dealers %d and %s got the same identity % x", prev, got[1], id)
			}
			i, _ := strconv.Atoi(string(got[1]))
			ids[string(id)] = i
		}
		for id, i := range ids {
			mustSend(t, router, []byte(id), []byte("for "+strconv.Itoa(i)))
		}
		for i, d := range dealers {
			if got, want := mustRecvString(t, d), "for "+strconv.Itoa(i); got != want {
				t.Errorf("dealer %d received %q, want %q (routed by generated identity)", i, got, want)
			}
		}
	})
}

// recvStrings receives n one-frame messages as strings.
func recvStrings(t testing.TB, s *Socket, n int) []string {
	t.Helper()
	out := make([]string, n)
	for i := range out {
		out[i] = mustRecvString(t, s)
	}
	return out
}

func sendStrings(t testing.TB, s *Socket, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		mustSend(t, s, []byte(m))
	}
}

func TestPubSubFilters(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		pub := newTestSocket(t, PUB)
		ep := bindSocket(t, pub, bindEP)
		sub := newTestSocket(t, SUB, func(o *Options) { o.Subscribe = [][]byte{[]byte("z")} })
		connectSocket(t, sub, ep)
		if err := sub.Subscribe([]byte("a")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "PUB to hold 2 subscriptions", func() bool { return subscriptionCount(pub) == 2 })

		// Prefix filtering; banana and b-end match nothing.
		sendStrings(t, pub, "apple", "banana", "avocado", "b-end", "zebra")
		if got, want := recvStrings(t, sub, 3), []string{"apple", "avocado", "zebra"}; !equalStrings(got, want) {
			t.Fatalf("SUB to a and z received %q, want %q", got, want)
		}
		// Multipart: the topic is the first frame; the whole message passes
		// or none of it.
		mustSend(t, pub, []byte("b"), []byte("not for us"))
		mustSend(t, pub, []byte("a"), []byte("for us"))
		if got := mustRecv(t, sub); len(got) != 2 || string(got[0]) != "a" || string(got[1]) != "for us" {
			t.Fatalf("SUB received %q, want [a \"for us\"]", got)
		}

		// Subscriptions count: a twice, cancelled once, still matches.
		if err := sub.Subscribe([]byte("a")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "PUB to hold 3 subscriptions", func() bool { return subscriptionCount(pub) == 3 })
		if err := sub.Unsubscribe([]byte("a")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "PUB to hold 2 subscriptions", func() bool { return subscriptionCount(pub) == 2 })
		sendStrings(t, pub, "apricot", "zz1")
		if got, want := recvStrings(t, sub, 2), []string{"apricot", "zz1"}; !equalStrings(got, want) {
			t.Fatalf("after subscribing a twice and cancelling once, SUB received %q, want %q", got, want)
		}
		// The second cancel ends it.
		if err := sub.Unsubscribe([]byte("a")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "PUB to hold 1 subscription", func() bool { return subscriptionCount(pub) == 1 })
		sendStrings(t, pub, "almond", "zz2")
		if got := mustRecvString(t, sub); got != "zz2" {
			t.Fatalf("after cancelling every subscription to a, SUB received %q, want zz2", got)
		}
		// Cancelling what is not subscribed changes nothing.
		if err := sub.Unsubscribe([]byte("never")); err != nil {
			t.Fatalf("Unsubscribe of an unknown prefix: %v", err)
		}
		sendStrings(t, pub, "zz3")
		if got := mustRecvString(t, sub); got != "zz3" {
			t.Fatalf("SUB received %q, want zz3", got)
		}
	})
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestPubSeveralSubs(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		pub := newTestSocket(t, PUB)
		ep := bindSocket(t, pub, bindEP)
		prefixes := []string{"x", "y", ""}
		subs := make([]*Socket, len(prefixes))
		for i, p := range prefixes {
			subs[i] = newTestSocket(t, SUB)
			connectSocket(t, subs[i], ep)
			if err := subs[i].Subscribe([]byte(p)); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "PUB to hold 3 subscriptions", func() bool { return subscriptionCount(pub) == 3 })
		sendStrings(t, pub, "x1", "y1", "z1", "x2", "y2")
		want := [][]string{{"x1", "x2"}, {"y1", "y2"}, {"x1", "y1", "z1", "x2", "y2"}}
		for i, s := range subs {
			if got := recvStrings(t, s, len(want[i])); !equalStrings(got, want[i]) {
				t.Errorf("SUB to %q received %q, want %q", prefixes[i], got, want[i])
			}
		}
	})
}

func TestMultipartAtomic(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		pull := newTestSocket(t, PULL)
		ep := bindSocket(t, pull, bindEP)
		const peers, perPeer = 2, 200
		big := bytes.Repeat([]byte("B"), 10000) // larger than a batch and the read buffer
		var wg sync.WaitGroup
		for k := 0; k < peers; k++ {
			push := newTestSocket(t, PUSH)
			connectSocket(t, push, ep)
			wg.Add(1)
			go func(k int) {
				defer wg.Done()
				for i := 0; i < perPeer; i++ {
					tag := []byte(fmt.Sprintf("%d:%d", k, i))
					var err error
					switch i % 3 {
					case 0:
						err = push.SendMsg(tag, []byte("small"), tag)
					case 1:
						err = push.SendMsg(tag, big, tag)
					default:
						err = push.SendMsg(tag, nil, []byte{}, tag)
					}
					if err != nil {
						t.Errorf("peer %d SendMsg %d: %v", k, i, err)
						return
					}
				}
			}(k)
		}
		next := make([]int, peers)
		for n := 0; n < peers*perPeer; n++ {
			m := mustRecv(t, pull)
			var k, i int
			if _, err := fmt.Sscanf(string(m[0]), "%d:%d", &k, &i); err != nil {
				t.Fatalf("message %d: first frame %q", n, m[0])
			}
			if i != next[k] {
				t.Fatalf("from peer %d: message %d, want %d", k, i, next[k])
			}
			next[k]++
			wantLen := map[int]int{0: 3, 1: 3, 2: 4}[i%3]
			if len(m) != wantLen || !bytes.Equal(m[len(m)-1], m[0]) {
				t.Fatalf("message %q from peer %d arrived with %d frames (last %.20q), want %d ending with its tag", m[0], k, len(m), m[len(m)-1], wantLen)
			}
			if i%3 == 1 && !bytes.Equal(m[1], big) {
				t.Fatalf("message %q: large frame of %d octets corrupted", m[0], len(m[1]))
			}
		}
		wg.Wait()
	})
}

func TestSeveralEndpointsPerSocket(t *testing.T) {
	// One PULL bound to every transport, and to two endpoints of each.
	pull := newTestSocket(t, PULL)
	var eps []string
	for _, tr := range testTransports {
		eps = append(eps, bindSocket(t, pull, tr.bindEndpoint(t)), bindSocket(t, pull, tr.bindEndpoint(t)))
	}
	if got := pull.Endpoints(); !equalStrings(got, eps) {
		t.Fatalf("Endpoints() = %q, want %q", got, eps)
	}
	for i, ep := range eps {
		push := newTestSocket(t, PUSH)
		connectSocket(t, push, ep)
		mustSend(t, push, []byte(ep))
		if got := mustRecvString(t, pull); got != ep {
			t.Fatalf("endpoint %d: received %q, want %q", i, got, ep)
		}
	}
	// One PUSH connected to all of them reaches each.
	push := newTestSocket(t, PUSH)
	for _, ep := range eps {
		connectSocket(t, push, ep)
	}
	waitPeers(t, push, len(eps))
	for i := range eps {
		mustSend(t, push, []byte(strconv.Itoa(i)))
	}
	seen := map[string]bool{}
	for range eps {
		seen[mustRecvString(t, pull)] = true
	}
	if len(seen) != len(eps) {
		t.Fatalf("received %d distinct messages, want %d", len(seen), len(eps))
	}
}

func TestManyPeersPerBoundSocket(t *testing.T) {
	const peers, perPeer = 20, 50
	forEachTransport(t, func(t *testing.T, bindEP string) {
		pull := newTestSocket(t, PULL)
		ep := bindSocket(t, pull, bindEP)
		for k := 0; k < peers; k++ {
			push := newTestSocket(t, PUSH)
			connectSocket(t, push, ep)
			for i := 0; i < perPeer; i++ {
				mustSend(t, push, []byte(fmt.Sprintf("%d:%d", k, i)))
			}
		}
		waitPeers(t, pull, peers)
		next := make([]int, peers)
		for n := 0; n < peers*perPeer; n++ {
			var k, i int
			m := mustRecvString(t, pull)
			if _, err := fmt.Sscanf(m, "%d:%d", &k, &i); err != nil || i != next[k] {
				t.Fatalf("received %q, want message %d of peer %d next", m, next[k], k)
			}
			next[k]++
		}
	})
}

func TestNotSupported(t *testing.T) {
	for _, typ := range []Type{PUSH, PUB} {
		s := newTestSocket(t, typ)
		if _, err := s.RecvMsg(); !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s RecvMsg = %v, want ErrNotSupported", typ, err)
		}
		if _, _, err := s.RecvFrame(); !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s RecvFrame = %v, want ErrNotSupported", typ, err)
		}
	}
	for _, typ := range []Type{PULL, SUB} {
		s := newTestSocket(t, typ)
		if err := s.Send([]byte("x")); !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s Send = %v, want ErrNotSupported", typ, err)
		}
		if err := s.SendMsg([]byte("x"), []byte("y")); !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s SendMsg = %v, want ErrNotSupported", typ, err)
		}
	}
	for _, typ := range []Type{PUB, PUSH, PAIR} {
		s := newTestSocket(t, typ)
		if err := s.Subscribe([]byte("x")); !errors.Is(err, ErrNotSupported) {
			t.Errorf("%s Subscribe = %v, want ErrNotSupported", typ, err)
		}
	}
}

func TestTimeouts(t *testing.T) {
	const d = 50 * time.Millisecond
	// Fresh sockets per transport: a connecting PUSH queues for every
	// endpoint it was given, so one shared across transports could queue
	// "after" for an endpoint an earlier case already removed.
	forEachTransport(t, func(t *testing.T, bindEP string) {
		push := newTestSocket(t, PUSH, func(o *Options) { o.SendTimeout = d })
		start := time.Now()
		if err := push.Send([]byte("x")); !errors.Is(err, ErrTimeout) {
			t.Errorf("PUSH Send without a peer = %v, want ErrTimeout", err)
		} else if el := time.Since(start); el < d {
			t.Errorf("Send timed out after %v, before SendTimeout %v", el, d)
		}
		pull := newTestSocket(t, PULL, func(o *Options) { o.RecvTimeout = d })
		start = time.Now()
		if _, err := pull.RecvMsg(); !errors.Is(err, ErrTimeout) {
			t.Errorf("PULL Recv without a message = %v, want ErrTimeout", err)
		} else if el := time.Since(start); el < d {
			t.Errorf("Recv timed out after %v, before RecvTimeout %v", el, d)
		}
		// The sockets still work after a timeout. The short RecvTimeout
		// may expire again while the connection comes up (a ws upgrade
		// under the race detector can take longer), so timeouts are
		// retried here up to waitTimeout.
		connectSocket(t, push, bindSocket(t, pull, bindEP))
		mustSend(t, push, []byte("after"))
		deadline := time.Now().Add(waitTimeout)
		for {
			m, err := pull.RecvMsg()
			if errors.Is(err, ErrTimeout) && time.Now().Before(deadline) {
				continue
			}
			if err != nil {
				t.Fatalf("PULL RecvMsg after a timeout: %v", err)
			}
			if len(m) != 1 || string(m[0]) != "after" {
				t.Fatalf("received %q after a timeout, want %q", m, "after")
			}
			break
		}
	})
}

func TestCloseUnblocks(t *testing.T) {
	noTimeouts := func(o *Options) { o.SendTimeout, o.RecvTimeout = 0, 0 }
	t.Run("Recv", func(t *testing.T) {
		pull := newTestSocket(t, PULL, noTimeouts)
		errc := make(chan error, 1)
		go func() { _, err := pull.RecvMsg(); errc <- err }()
		waitFor(t, "Recv to block", func() bool { return pull.recvWaiting.Load() })
		pull.Close()
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("blocked Recv returned %v after Close, want ErrClosed", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("blocked Recv did not return after Close")
		}
	})
	t.Run("Send", func(t *testing.T) {
		push := newTestSocket(t, PUSH, noTimeouts)
		errc := make(chan error, 1)
		go func() { errc <- push.Send([]byte("x")) }()
		waitFor(t, "Send to block", func() bool { return push.roomWait.Load() > 0 })
		push.Close()
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) {
				t.Fatalf("blocked Send returned %v after Close, want ErrClosed", err)
			}
		case <-time.After(waitTimeout):
			t.Fatal("blocked Send did not return after Close")
		}
	})
	t.Run("after Close", func(t *testing.T) {
		for _, typ := range []Type{PUSH, PULL, SUB} {
			s := newTestSocket(t, typ)
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := s.Close(); !errors.Is(err, ErrClosed) {
				t.Errorf("%s second Close = %v, want ErrClosed", typ, err)
			}
			if err := s.Bind("tcp://127.0.0.1:*"); !errors.Is(err, ErrClosed) {
				t.Errorf("%s Bind after Close = %v, want ErrClosed", typ, err)
			}
			if err := s.Connect("tcp://127.0.0.1:5555"); !errors.Is(err, ErrClosed) {
				t.Errorf("%s Connect after Close = %v, want ErrClosed", typ, err)
			}
			if typ == PUSH {
				if err := s.Send([]byte("x")); !errors.Is(err, ErrClosed) {
					t.Errorf("Send after Close = %v, want ErrClosed", err)
				}
			} else {
				if _, err := s.RecvMsg(); !errors.Is(err, ErrClosed) {
					t.Errorf("%s Recv after Close = %v, want ErrClosed", typ, err)
				}
			}
			if typ == SUB {
				if err := s.Subscribe([]byte("x")); !errors.Is(err, ErrClosed) {
					t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
				}
			}
		}
	})
}
