//go:build libzmq

package engine

// Interop tests of the engine against libzmq (the reference peer, through
// cgo). Every case runs over tcp, ipc and ws, with the engine's WriteBatching on
// and off, with the engine on either side of bind/connect and of
// send/receive. Run them with:
//
//	go test -tags libzmq -race -run 'Libzmq|Interop' ./engine

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// libzmqSocket makes a libzmq socket with short send/receive timeouts and
// closes it (linger 0) when the test ends. A libzmq socket is not safe for
// concurrent use: each test hands it to one goroutine at a time.
func libzmqSocket(t *testing.T, typ zmq.Type) *zmq.Socket {
	t.Helper()
	z, err := zmq.NewSocket(typ)
	if err != nil {
		t.Fatalf("libzmq NewSocket(%s): %v", typ, err)
	}
	t.Cleanup(func() {
		z.SetLinger(0)
		z.Close()
	})
	if err := z.SetRcvtimeo(interopTimeout); err != nil {
		t.Fatal(err)
	}
	if err := z.SetSndtimeo(interopTimeout); err != nil {
		t.Fatal(err)
	}
	return z
}

// libzmqBind binds z to a fresh endpoint of the cell's transport and returns
// the endpoint as resolved.
func (env *interopEnv) libzmqBind(t *testing.T, z *zmq.Socket) string {
	t.Helper()
	if err := z.Bind(env.bindEndpoint()); err != nil {
		t.Fatalf("libzmq Bind: %v", err)
	}
	ep, err := z.GetLastEndpoint()
	if err != nil {
		t.Fatalf("libzmq GetLastEndpoint: %v", err)
	}
	return ep
}

// link connects an engine socket and a libzmq socket, the engine binding
// when engineBinds.
func (env *interopEnv) link(t *testing.T, e *Socket, z *zmq.Socket, engineBinds bool) {
	t.Helper()
	if engineBinds {
		if err := z.Connect(env.engineBind(t, e)); err != nil {
			t.Fatalf("libzmq Connect: %v", err)
		}
		return
	}
	if err := e.Connect(env.libzmqBind(t, z)); err != nil {
		t.Fatalf("engine Connect: %v", err)
	}
}

// libzmqSend sends a multipart message from a libzmq socket.
func libzmqSend(z *zmq.Socket, frames ...[]byte) error {
	for i, f := range frames {
		var flags zmq.Flag
		if i < len(frames)-1 {
			flags = zmq.SNDMORE
		}
		if _, err := z.SendBytes(f, flags); err != nil {
			return fmt.Errorf("libzmq send frame %d: %w", i, err)
		}
	}
	return nil
}

// libzmqRecv receives a whole message on a libzmq socket.
func libzmqRecv(z *zmq.Socket) ([][]byte, error) {
	m, err := z.RecvMessageBytes(0)
	if err != nil {
		return nil, fmt.Errorf("libzmq receive: %w", err)
	}
	return m, nil
}

// libzmqRecvStop receives a whole message on z for a side that waits on a
// peer which may be broken. It gives up after 2*interopTimeout, or as soon
// as stop is closed (a libzmq socket cannot be closed from another goroutine
// to unblock it). Waiting longer than the engine's side does means that when
// both sides wait in vain, the engine's timeout is the failure reported.
func libzmqRecvStop(z *zmq.Socket, stop <-chan struct{}) ([][]byte, error) {
	poller := zmq.NewPoller()
	poller.Add(z, zmq.POLLIN)
	deadline := time.Now().Add(2 * interopTimeout)
	for {
		m, err := z.RecvMessageBytes(zmq.DONTWAIT)
		if err == nil {
			return m, nil
		}
		if zmq.AsErrno(err) != zmq.Errno(syscall.EAGAIN) {
			return nil, fmt.Errorf("libzmq receive: %w", err)
		}
		select {
		case <-stop:
			return nil, errInteropAborted
		default:
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("libzmq receive: nothing arrived within %v", 2*interopTimeout)
		}
		if _, err := poller.Poll(20 * time.Millisecond); err != nil {
			return nil, fmt.Errorf("libzmq poll: %w", err)
		}
	}
}

// interopWaitErr explains an engine receive that failed while waiting for
// a libzmq peer: how many messages the peer had sent, how many the engine's
// reader had taken off the wire (Stats.MsgsIn) and how many the receive
// calls had returned. Peer sent but not read points at the reader; read but
// not returned points at the receive side.
func interopWaitErr(what string, err error, e *Socket, peerSent *atomic.Int64, returned int) error {
	if !errors.Is(err, ErrTimeout) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%s: %w; the libzmq peer had sent %d messages, the engine %s had read %d off the wire (Stats.MsgsIn) and returned %d",
		what, err, peerSent.Load(), e.Type(), e.Stats().MsgsIn, returned)
}

// errInteropAborted is what a side waiting on libzmq returns when another
// side of the case failed first.
var errInteropAborted = errors.New("aborted: another side of the case failed first")

// interopBinds names the bind side of a case: "binds" when the engine binds.
func interopBinds(engineBinds bool) string {
	if engineBinds {
		return "binds"
	}
	return "connects"
}

func TestLibzmqVersion(t *testing.T) {
	major, minor, patch := zmq.Version()
	t.Logf("reference peer: libzmq %d.%d.%d", major, minor, patch)
	if major < 4 || major == 4 && minor < 2 {
		t.Fatalf("libzmq %d.%d.%d speaks ZMTP 3.0 only; the interop suite needs libzmq >= 4.2 (ZMTP 3.1)", major, minor, patch)
	}
}

// PUSH/PULL

// interopPushPullCount is the number of messages streamed per size, except
// for sizes above the default batch size, which stream interopLargeCount:
// under the race detector 10,000 messages of 70,000 bytes take 4 to 8 s per
// cell (16 cells), which would put the suite far past its one-minute budget.
const (
	interopPushPullCount = 10000
	interopLargeCount    = 1000
)

// interopMultipartCount is the number of 3-frame messages streamed.
const interopMultipartCount = 2000

func TestInteropPushPull(t *testing.T) {
	var cases []interopCase
	for _, enginePush := range []bool{true, false} {
		for _, engineBinds := range []bool{true, false} {
			role := "engine-pull-"
			if enginePush {
				role = "engine-push-"
			}
			cases = append(cases, interopCase{role + interopBinds(engineBinds), func(t *testing.T, env *interopEnv) {
				for _, size := range env.pushPullSizes() {
					t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
						count := interopPushPullCount
						if size > DefaultOutBatchSize {
							count = interopLargeCount
						}
						libzmqPushPull(t, env, enginePush, engineBinds, count, func(int) []int { return []int{size} })
					})
				}
				// 3 frames: a 4-byte header, a body cycling through the
				// sizes, a trailer crossing the short/long header boundary.
				t.Run("multipart", func(t *testing.T) {
					libzmqPushPull(t, env, enginePush, engineBinds, interopMultipartCount, func(i int) []int {
						return []int{4, interopSizes[i%len(interopSizes)], 1 + i%300}
					})
				})
			}})
		}
	}
	interopMatrix(t, cases)
}

// libzmqPushPull streams count messages (frame sizes from sizes(i)) from a PUSH to
// a PULL, one side the engine and the other libzmq, and checks every frame.
// The sender reuses its buffers, so a sender that kept the caller's memory
// would corrupt what arrives.
func libzmqPushPull(t *testing.T, env *interopEnv, enginePush, engineBinds bool, count int, sizes func(int) []int) {
	// Slow receiving is spent only where single frames are large enough
	// for the kernel to cut a write short.
	slow := 0
	if slices.Max(sizes(count/2)) >= interopSlowFrom {
		slow = interopSlowMsgs
	}
	var send, recv func(i int) error
	var e *Socket
	if enginePush {
		e = env.engineSocket(t, PUSH, nil)
		z := libzmqSocket(t, zmq.PULL)
		env.link(t, e, z, engineBinds)
		var bufs [][]byte
		send = func(i int) error {
			bufs = interopMsg(bufs, i*3, sizes(i)...)
			return e.SendMsg(bufs...)
		}
		recv = func(i int) error {
			m, err := libzmqRecv(z)
			if err != nil {
				return err
			}
			return interopCheckMsg(m, i*3, sizes(i)...)
		}
	} else {
		e = env.engineSocket(t, PULL, nil)
		z := libzmqSocket(t, zmq.PUSH)
		env.link(t, e, z, engineBinds)
		var bufs [][]byte
		send = func(i int) error {
			bufs = interopMsg(bufs, i*3, sizes(i)...)
			return libzmqSend(z, bufs...)
		}
		recv = func(i int) error {
			m, err := e.RecvMsg()
			if err != nil {
				return fmt.Errorf("engine PULL: %w", err)
			}
			return interopCheckMsg(m, i*3, sizes(i)...)
		}
	}
	// Halfway through, the receiver pauses, so the sender runs ahead: the
	// kernel's buffers fill, writes come up short and messages queue up to
	// the high-water mark. What a writer did not finish must be in memory
	// the connection owns, as the sender is already reusing its buffers.
	// Then it goes on slowly for a while, so the sender keeps finding an
	// idle writer and a full kernel buffer (immediate writes cut short).
	checked := recv
	recv = func(i int) error {
		if i == count/2 {
			time.Sleep(interopStall)
		}
		if i > count/2 && i <= count/2+slow {
			time.Sleep(interopSlowPace)
		}
		return checked(i)
	}
	interopStream(t, count, func() { e.Close() }, send, recv)
	st := e.Stats()
	t.Logf("engine %s stats: %+v", e.Type(), st)
	if enginePush && st.MsgsOut != uint64(count) {
		t.Errorf("engine PUSH Stats.MsgsOut = %d after %d messages", st.MsgsOut, count)
	}
	if !enginePush && st.MsgsIn != uint64(count) {
		t.Errorf("engine PULL Stats.MsgsIn = %d after %d messages", st.MsgsIn, count)
	}
}

// A PULL pauses for interopStall in the middle of a stream, then, when the
// stream's frames reach interopSlowFrom bytes, takes the next
// interopSlowMsgs messages interopSlowPace apart.
const (
	interopStall    = 30 * time.Millisecond
	interopSlowFrom = 8191
	interopSlowMsgs = 20
	interopSlowPace = time.Millisecond
)

// REQ/REP

const interopRoundTrips = 1000

// interopReqSizes and interopRepSizes give the frames of request and reply i:
// mostly one frame of a size cycling through interopSizes, sometimes two.
func interopReqSizes(i int) []int {
	if i%5 == 4 {
		return []int{3, interopSizes[i%len(interopSizes)]}
	}
	return []int{interopSizes[i%len(interopSizes)]}
}

func interopRepSizes(i int) []int {
	if i%7 == 6 {
		return []int{interopSizes[(i+3)%len(interopSizes)], 5}
	}
	return []int{interopSizes[(i+3)%len(interopSizes)]}
}

// The sequence numbers of replies are far from those of requests, so a
// request echoed back is not taken for a reply.
const interopReplySeq = 1 << 20

func TestInteropReqRep(t *testing.T) {
	var cases []interopCase
	for _, engineReq := range []bool{true, false} {
		for _, engineBinds := range []bool{true, false} {
			role := "engine-rep-"
			if engineReq {
				role = "engine-req-"
			}
			cases = append(cases, interopCase{role + interopBinds(engineBinds), func(t *testing.T, env *interopEnv) {
				libzmqReqRep(t, env, engineReq, engineBinds)
			}})
		}
	}
	interopMatrix(t, cases)
}

func libzmqReqRep(t *testing.T, env *interopEnv, engineReq, engineBinds bool) {
	var client, server func() error
	var e *Socket
	var peerSent atomic.Int64 // messages the libzmq side has sent
	stop := make(chan struct{})
	if engineReq {
		e = env.engineSocket(t, REQ, nil)
		z := libzmqSocket(t, zmq.REP)
		env.link(t, e, z, engineBinds)
		client = func() error {
			for i := 0; i < interopRoundTrips; i++ {
				if err := e.SendMsg(interopMsg(nil, i*3, interopReqSizes(i)...)...); err != nil {
					return fmt.Errorf("engine REQ: request %d: %w", i, err)
				}
				m, err := e.RecvMsg()
				if err != nil {
					return interopWaitErr(fmt.Sprintf("engine REQ: reply %d", i), err, e, &peerSent, i)
				}
				if err := interopCheckMsg(m, interopReplySeq+i*3, interopRepSizes(i)...); err != nil {
					return fmt.Errorf("engine REQ: reply %d: %w", i, err)
				}
			}
			return nil
		}
		server = func() error {
			for i := 0; i < interopRoundTrips; i++ {
				m, err := libzmqRecvStop(z, stop)
				if err != nil {
					return fmt.Errorf("libzmq REP: request %d: %w", i, err)
				}
				if err := interopCheckMsg(m, i*3, interopReqSizes(i)...); err != nil {
					return fmt.Errorf("libzmq REP: request %d: %w", i, err)
				}
				if err := libzmqSend(z, interopMsg(nil, interopReplySeq+i*3, interopRepSizes(i)...)...); err != nil {
					return fmt.Errorf("libzmq REP: reply %d: %w", i, err)
				}
				peerSent.Add(1)
			}
			return nil
		}
	} else {
		e = env.engineSocket(t, REP, nil)
		z := libzmqSocket(t, zmq.REQ)
		env.link(t, e, z, engineBinds)
		client = func() error {
			for i := 0; i < interopRoundTrips; i++ {
				if err := libzmqSend(z, interopMsg(nil, i*3, interopReqSizes(i)...)...); err != nil {
					return fmt.Errorf("libzmq REQ: request %d: %w", i, err)
				}
				peerSent.Add(1)
				m, err := libzmqRecvStop(z, stop)
				if err != nil {
					return fmt.Errorf("libzmq REQ: reply %d: %w", i, err)
				}
				if err := interopCheckMsg(m, interopReplySeq+i*3, interopRepSizes(i)...); err != nil {
					return fmt.Errorf("libzmq REQ: reply %d: %w", i, err)
				}
			}
			return nil
		}
		server = func() error {
			for i := 0; i < interopRoundTrips; i++ {
				m, err := e.RecvMsg()
				if err != nil {
					return interopWaitErr(fmt.Sprintf("engine REP: request %d", i), err, e, &peerSent, i)
				}
				if err := interopCheckMsg(m, i*3, interopReqSizes(i)...); err != nil {
					return fmt.Errorf("engine REP: request %d: %w", i, err)
				}
				if err := e.SendMsg(interopMsg(nil, interopReplySeq+i*3, interopRepSizes(i)...)...); err != nil {
					return fmt.Errorf("engine REP: reply %d: %w", i, err)
				}
			}
			return nil
		}
	}
	interopRun(t, func() { close(stop); e.Close() }, client, server)
}

// DEALER/ROUTER

// interopIdentities are the identities of the two DEALERs (or REQs) of the
// routing cases. Two peers prove the ROUTER routes by identity: a reply sent
// to the wrong one never arrives where it is awaited.
var interopIdentities = [2]string{"dealer-A", "dealer-B"}

// interopRoutedTrips is the number of round trips of a routing case (half
// per peer).
const interopRoutedTrips = 500

func TestInteropDealerRouter(t *testing.T) {
	var cases []interopCase
	for _, engineBinds := range []bool{true, false} {
		b := interopBinds(engineBinds)
		cases = append(cases,
			interopCase{"engine-dealers-" + strings.TrimSuffix(b, "s") + "-libzmq-router", func(t *testing.T, env *interopEnv) {
				engineDealersLibzmqRouter(t, env, engineBinds)
			}},
			interopCase{"engine-router-" + b + "-libzmq-dealers", func(t *testing.T, env *interopEnv) {
				engineRouterLibzmqPeers(t, env, engineBinds, zmq.DEALER)
			}},
			interopCase{"engine-router-" + b + "-libzmq-reqs", func(t *testing.T, env *interopEnv) {
				engineRouterLibzmqPeers(t, env, engineBinds, zmq.REQ)
			}},
		)
	}
	interopMatrix(t, cases)
}

// engineDealersLibzmqRouter: two engine DEALERs with Identity set talk to a
// libzmq ROUTER, which must see their identities and route replies by them.
func engineDealersLibzmqRouter(t *testing.T, env *interopEnv, engineBinds bool) {
	router := libzmqSocket(t, zmq.ROUTER)
	var dealers [2]*Socket
	var routerEp string
	if !engineBinds {
		routerEp = env.libzmqBind(t, router)
	}
	for k := range dealers {
		dealers[k] = env.engineSocket(t, DEALER, func(o *Options) { o.Identity = []byte(interopIdentities[k]) })
		if engineBinds {
			if err := router.Connect(env.engineBind(t, dealers[k])); err != nil {
				t.Fatalf("libzmq ROUTER Connect: %v", err)
			}
		} else if err := dealers[k].Connect(routerEp); err != nil {
			t.Fatal(err)
		}
	}
	var repliesTo [2]atomic.Int64 // replies the libzmq ROUTER sent to each DEALER
	stop := make(chan struct{})
	client := func() error {
		for i := 0; i < interopRoutedTrips; i++ {
			d := dealers[i%2]
			if err := d.SendMsg(interopMsg(nil, i*3, interopReqSizes(i)...)...); err != nil {
				return fmt.Errorf("engine DEALER %q: request %d: %w", interopIdentities[i%2], i, err)
			}
			m, err := d.RecvMsg()
			if err != nil {
				return interopWaitErr(fmt.Sprintf("engine DEALER %q: reply %d (routed by its identity)", interopIdentities[i%2], i), err, d, &repliesTo[i%2], i/2)
			}
			if err := interopCheckMsg(m, interopReplySeq+i*3, interopRepSizes(i)...); err != nil {
				return fmt.Errorf("engine DEALER %q: reply %d: %w", interopIdentities[i%2], i, err)
			}
		}
		return nil
	}
	server := func() error {
		for i := 0; i < interopRoutedTrips; i++ {
			m, err := libzmqRecvStop(router, stop)
			if err != nil {
				return fmt.Errorf("libzmq ROUTER: request %d: %w", i, err)
			}
			if want := interopIdentities[i%2]; len(m) == 0 || string(m[0]) != want {
				return fmt.Errorf("libzmq ROUTER: request %d came with identity frame %q, want %q (the DEALER's Identity option)", i, m[0], want)
			}
			if err := interopCheckMsg(m[1:], i*3, interopReqSizes(i)...); err != nil {
				return fmt.Errorf("libzmq ROUTER: request %d: %w", i, err)
			}
			reply := append([][]byte{m[0]}, interopMsg(nil, interopReplySeq+i*3, interopRepSizes(i)...)...)
			if err := libzmqSend(router, reply...); err != nil {
				return fmt.Errorf("libzmq ROUTER: reply %d: %w", i, err)
			}
			repliesTo[i%2].Add(1)
		}
		return nil
	}
	interopRun(t, func() { close(stop); dealers[0].Close(); dealers[1].Close() }, client, server)
}

// engineRouterLibzmqPeers: an engine ROUTER serves two libzmq peers of type
// typ (DEALER or REQ). The first has ZMQ_IDENTITY set, which the ROUTER must
// report; the second has none, so the ROUTER makes one up (first octet 0)
// and must keep it for that peer. Replies are routed by identity. A REQ's
// requests carry the empty delimiter frame, which the ROUTER must pass on.
func engineRouterLibzmqPeers(t *testing.T, env *interopEnv, engineBinds bool, typ zmq.Type) {
	router := env.engineSocket(t, ROUTER, nil)
	var peers [2]*zmq.Socket
	var routerEp string
	if engineBinds {
		routerEp = env.engineBind(t, router)
	}
	for k := range peers {
		peers[k] = libzmqSocket(t, typ)
		if k == 0 {
			if err := peers[k].SetIdentity(interopIdentities[k]); err != nil {
				t.Fatal(err)
			}
		}
		if engineBinds {
			if err := peers[k].Connect(routerEp); err != nil {
				t.Fatal(err)
			}
		} else if err := router.Connect(env.libzmqBind(t, peers[k])); err != nil {
			t.Fatal(err)
		}
	}
	var envelope [][]byte // what a peer of type typ puts before the body
	if typ == zmq.REQ {
		envelope = [][]byte{{}}
	}
	var requests atomic.Int64 // requests the libzmq peers sent
	stop := make(chan struct{})
	client := func() error {
		for i := 0; i < interopRoutedTrips; i++ {
			z := peers[i%2]
			// A REQ adds the empty delimiter itself.
			if err := libzmqSend(z, interopMsg(nil, i*3, interopReqSizes(i)...)...); err != nil {
				return fmt.Errorf("libzmq %s %d: request %d: %w", typ, i%2, i, err)
			}
			requests.Add(1)
			m, err := libzmqRecvStop(z, stop)
			if err != nil {
				return fmt.Errorf("libzmq %s %d: reply %d (routed by its identity): %w", typ, i%2, i, err)
			}
			if err := interopCheckMsg(m, interopReplySeq+i*3, interopRepSizes(i)...); err != nil {
				return fmt.Errorf("libzmq %s %d: reply %d: %w", typ, i%2, i, err)
			}
		}
		return nil
	}
	server := func() error {
		var generated []byte
		for i := 0; i < interopRoutedTrips; i++ {
			m, err := router.RecvMsg()
			if err != nil {
				return interopWaitErr(fmt.Sprintf("engine ROUTER: request %d", i), err, router, &requests, i)
			}
			if len(m) < 1+len(envelope) {
				return fmt.Errorf("engine ROUTER: request %d has %d frames %q", i, len(m), m)
			}
			id := m[0]
			if i%2 == 0 {
				if string(id) != interopIdentities[0] {
					return fmt.Errorf("engine ROUTER: request %d from the libzmq %s with ZMQ_IDENTITY %q came with identity %q", i, typ, interopIdentities[0], id)
				}
			} else {
				if len(id) == 0 || id[0] != 0 {
					return fmt.Errorf("engine ROUTER: request %d from a libzmq %s without identity came with identity %q; a generated identity is non-empty and starts with octet 0", i, typ, id)
				}
				if generated == nil {
					generated = bytes.Clone(id)
				} else if !bytes.Equal(id, generated) {
					return fmt.Errorf("engine ROUTER: request %d came with identity %x, earlier requests of the same peer with %x", i, id, generated)
				}
			}
			for j := range envelope {
				if f := m[1+j]; len(f) != 0 {
					return fmt.Errorf("engine ROUTER: request %d frame %d is %q, want the empty delimiter a %s sends", i, 1+j, f, typ)
				}
			}
			if err := interopCheckMsg(m[1+len(envelope):], i*3, interopReqSizes(i)...); err != nil {
				return fmt.Errorf("engine ROUTER: request %d: %w", i, err)
			}
			reply := append([][]byte{id}, envelope...)
			reply = append(reply, interopMsg(nil, interopReplySeq+i*3, interopRepSizes(i)...)...)
			if err := router.SendMsg(reply...); err != nil {
				return fmt.Errorf("engine ROUTER: reply %d: %w", i, err)
			}
		}
		return nil
	}
	interopRun(t, func() { close(stop); router.Close() }, client, server)
}

// PUB/SUB

// interopPubSubCount is the number of matching (and of non-matching)
// messages published per phase.
const interopPubSubCount = 1000

func TestInteropPubSub(t *testing.T) {
	var cases []interopCase
	for _, engineBinds := range []bool{true, false} {
		b := interopBinds(engineBinds)
		cases = append(cases,
			interopCase{"engine-pub-" + b, func(t *testing.T, env *interopEnv) { libzmqPubSub(t, env, true, engineBinds) }},
			interopCase{"engine-sub-" + b, func(t *testing.T, env *interopEnv) { libzmqPubSub(t, env, false, engineBinds) }},
			interopCase{"engine-sub-" + b + "-libzmq-xpub", func(t *testing.T, env *interopEnv) { engineSubLibzmqXPub(t, env, engineBinds) }},
		)
	}
	interopMatrix(t, cases)
}

// libzmqPubSub: the SUB subscribes to "A"; once a probe shows the subscription
// took effect, matching ("A:i") and non-matching ("B:i") messages are
// published interleaved and only the matching ones, all of them, in order,
// must arrive. Then the SUB unsubscribes "A" and subscribes "Z"; after that
// no "A" message may arrive. The publisher must filter, not only the
// subscriber: the engine's Stats count exactly the messages that crossed
// the wire (an engine PUB's MsgsOut, or an engine SUB's MsgsIn).
func libzmqPubSub(t *testing.T, env *interopEnv, enginePub, engineBinds bool) {
	var (
		publish     func(string) error
		recv        func() ([][]byte, error)
		subscribe   func(string) error
		unsubscribe func(string) error
		wire        func() uint64 // messages that crossed the wire, per the engine's Stats
		e           *Socket
	)
	if enginePub {
		// No high-water mark: the publisher must not drop what the test
		// counts on.
		e = env.engineSocket(t, PUB, func(o *Options) { o.SndHWM = 0 })
		z := libzmqSocket(t, zmq.SUB)
		z.SetRcvhwm(0)
		env.link(t, e, z, engineBinds)
		publish = func(s string) error { return e.Send([]byte(s)) }
		recv = func() ([][]byte, error) { return libzmqRecv(z) }
		subscribe = z.SetSubscribe
		unsubscribe = z.SetUnsubscribe
		wire = func() uint64 { return e.Stats().MsgsOut }
	} else {
		e = env.engineSocket(t, SUB, func(o *Options) { o.RcvHWM = 0 })
		z := libzmqSocket(t, zmq.PUB)
		z.SetSndhwm(0)
		env.link(t, e, z, engineBinds)
		// The libzmq PUB is used by the probe goroutine and then by the
		// test's goroutine, never by both at once (awaitProbe joins).
		publish = func(s string) error {
			_, err := z.Send(s, 0)
			return err
		}
		recv = func() ([][]byte, error) { return e.RecvMsg() }
		subscribe = func(s string) error { return e.Subscribe([]byte(s)) }
		unsubscribe = func(s string) error { return e.Unsubscribe([]byte(s)) }
		wire = func() uint64 { return e.Stats().MsgsIn }
	}
	who := "engine PUB → libzmq SUB"
	if !enginePub {
		who = "libzmq PUB → engine SUB"
	}

	phase := func(name, topic, other, probe string) {
		t.Helper()
		before := wire()
		if err := awaitProbe(func() error { return publish(probe) }, recv, probe); err != nil {
			t.Fatalf("%s, %s: %v", who, name, err)
		}
		for i := 0; i < interopPubSubCount; i++ {
			if err := publish(fmt.Sprintf("%s:%d", other, i)); err != nil {
				t.Fatal(err)
			}
			if err := publish(fmt.Sprintf("%s:%d", topic, i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := publish(topic + ":end"); err != nil {
			t.Fatal(err)
		}
		probes, next := 1, 0
		for {
			m, err := recv()
			if err != nil {
				t.Fatalf("%s, %s: after %d %q messages: %v", who, name, next, topic, err)
			}
			s := string(m[0])
			if len(m) != 1 {
				t.Fatalf("%s, %s: got %d frames %q, want 1", who, name, len(m), m)
			}
			if s == probe {
				probes++
				continue
			}
			if bytes.HasPrefix(m[0], []byte(other+":")) {
				t.Fatalf("%s, %s: %q was delivered, though the SUB is not subscribed to %q", who, name, s, other)
			}
			if s == topic+":end" {
				if next != interopPubSubCount {
					t.Fatalf("%s, %s: %s arrived after %d of %d %q messages", who, name, s, next, interopPubSubCount, topic)
				}
				break
			}
			if want := fmt.Sprintf("%s:%d", topic, next); s != want {
				t.Fatalf("%s, %s: got %q, want %q", who, name, s, want)
			}
			next++
		}
		// Every probe the publisher sent after the subscription arrived
		// was delivered; the non-matching messages must not have crossed
		// the wire at all.
		if got, want := wire()-before, uint64(probes+interopPubSubCount+1); got != want {
			t.Errorf("%s, %s: %d messages crossed the wire, want %d (%d probes, %d %q, 1 end): the publisher did not filter %q out",
				who, name, got, want, probes, interopPubSubCount, topic, other)
		}
	}

	if err := subscribe("A"); err != nil {
		t.Fatal(err)
	}
	phase("subscribed to A", "A", "B", "A-probe")
	if err := unsubscribe("A"); err != nil {
		t.Fatal(err)
	}
	if err := subscribe("Z"); err != nil {
		t.Fatal(err)
	}
	phase("after Unsubscribe(A), subscribed to Z", "Z", "A", "Z-probe")
}

// engineSubLibzmqXPub: a libzmq XPUB sees the engine SUB's subscriptions and
// cancellations as it would see libzmq's own (0x01/0x00 + prefix), and the
// engine receives what the XPUB publishes.
func engineSubLibzmqXPub(t *testing.T, env *interopEnv, engineBinds bool) {
	sub := env.engineSocket(t, SUB, nil)
	xpub := libzmqSocket(t, zmq.XPUB)
	env.link(t, sub, xpub, engineBinds)
	expect := func(what, want string) {
		t.Helper()
		m, err := libzmqRecv(xpub)
		if err != nil {
			t.Fatalf("%s: libzmq XPUB: %v", what, err)
		}
		if len(m) != 1 || string(m[0]) != want {
			t.Fatalf("%s: libzmq XPUB got %q, want %q", what, m, want)
		}
	}
	if err := sub.Subscribe([]byte("A")); err != nil {
		t.Fatal(err)
	}
	expect("Subscribe(A)", "\x01A")
	if err := sub.Subscribe([]byte("B")); err != nil {
		t.Fatal(err)
	}
	expect("Subscribe(B)", "\x01B")
	if err := sub.Unsubscribe([]byte("A")); err != nil {
		t.Fatal(err)
	}
	expect("Unsubscribe(A)", "\x00A")
	for _, s := range []string{"A:1", "B:1", "C:1", "B:2"} {
		if _, err := xpub.Send(s, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range []string{"B:1", "B:2"} {
		if m, err := sub.RecvMsg(); err != nil || len(m) != 1 || string(m[0]) != want {
			t.Fatalf("engine SUB subscribed to B: got %q, %v; want %q", m, err, want)
		}
	}
}

// PAIR

func TestInteropPair(t *testing.T) {
	var cases []interopCase
	for _, engineBinds := range []bool{true, false} {
		cases = append(cases, interopCase{"engine-pair-" + interopBinds(engineBinds), func(t *testing.T, env *interopEnv) {
			libzmqPair(t, env, engineBinds)
		}})
	}
	interopMatrix(t, cases)
}

// libzmqPair streams messages both ways at once between an engine PAIR and a
// libzmq PAIR (the libzmq socket in one goroutine, alternating send and
// receive), then does lockstep round trips.
func libzmqPair(t *testing.T, env *interopEnv, engineBinds bool) {
	const n = 1000
	e := env.engineSocket(t, PAIR, nil)
	z := libzmqSocket(t, zmq.PAIR)
	env.link(t, e, z, engineBinds)
	size := func(i int) int { return interopSizes[i%len(interopSizes)] }

	engineSend := func() error {
		buf := make([]byte, interopMaxSize)
		for i := 0; i < n; i++ {
			b := buf[:size(i)]
			interopFill(b, i)
			if err := e.Send(b); err != nil {
				return fmt.Errorf("engine PAIR: send %d: %w", i, err)
			}
		}
		return nil
	}
	engineRecv := func() error {
		for i := 0; i < n; i++ {
			m, err := e.RecvMsg()
			if err != nil {
				return fmt.Errorf("engine PAIR: receive %d: %w", i, err)
			}
			if err := interopCheckMsg(m, interopReplySeq+i, size(i+1)); err != nil {
				return fmt.Errorf("engine PAIR: message %d from libzmq: %w", i, err)
			}
		}
		return nil
	}
	libzmqSide := func() error {
		poller := zmq.NewPoller()
		poller.Add(z, 0)
		sent, got := 0, 0
		for sent < n || got < n {
			var want zmq.State
			if sent < n {
				want |= zmq.POLLOUT
			}
			if got < n {
				want |= zmq.POLLIN
			}
			poller.Update(0, want)
			ready, err := poller.Poll(interopTimeout)
			if err != nil {
				return fmt.Errorf("libzmq PAIR: poll: %w", err)
			}
			if len(ready) == 0 {
				return fmt.Errorf("libzmq PAIR: nothing to send or receive for %v after %d sent, %d received", interopTimeout, sent, got)
			}
			ev := ready[0].Events
			if ev&zmq.POLLOUT != 0 {
				if _, err := z.SendBytes(interopPayload(interopReplySeq+sent, size(sent+1)), zmq.DONTWAIT); err != nil {
					return fmt.Errorf("libzmq PAIR: send %d: %w", sent, err)
				}
				sent++
			}
			if ev&zmq.POLLIN != 0 {
				m, err := z.RecvMessageBytes(zmq.DONTWAIT)
				if err != nil {
					return fmt.Errorf("libzmq PAIR: receive %d: %w", got, err)
				}
				if err := interopCheckMsg(m, got, size(got)); err != nil {
					return fmt.Errorf("libzmq PAIR: message %d from the engine: %w", got, err)
				}
				got++
			}
		}
		return nil
	}
	interopRun(t, func() { e.Close() }, engineSend, engineRecv, libzmqSide)

	// Lockstep, the engine answering.
	for i := 0; i < 100; i++ {
		if _, err := z.Send(fmt.Sprintf("ping %d", i), 0); err != nil {
			t.Fatal(err)
		}
		m, err := e.RecvMsg()
		if err != nil || len(m) != 1 || string(m[0]) != fmt.Sprintf("ping %d", i) {
			t.Fatalf("engine PAIR: round trip %d: got %q, %v", i, m, err)
		}
		if err := e.Send([]byte(fmt.Sprintf("pong %d", i))); err != nil {
			t.Fatal(err)
		}
		if s, err := z.Recv(0); err != nil || s != fmt.Sprintf("pong %d", i) {
			t.Fatalf("libzmq PAIR: round trip %d: got %q, %v", i, s, err)
		}
	}
}

// Heartbeats

var interopMonitorSeq atomic.Int64

func TestInteropHeartbeat(t *testing.T) {
	var cases []interopCase
	for _, engineBinds := range []bool{true, false} {
		cases = append(cases, interopCase{"libzmq-heartbeat-engine-" + interopBinds(engineBinds), func(t *testing.T, env *interopEnv) {
			libzmqHeartbeat(t, env, engineBinds)
		}})
	}
	interopMatrix(t, cases)
}

// libzmqHeartbeat: a libzmq DEALER with ZMQ_HEARTBEAT_IVL 50 ms (and a 200 ms
// timeout) is connected to an engine DEALER, idle, for 400 ms. libzmq sends
// PINGs and drops the connection if no PONG comes back in time; the
// connection must survive (libzmq's monitor reports no disconnect and one
// handshake) and carry messages afterwards.
func libzmqHeartbeat(t *testing.T, env *interopEnv, engineBinds bool) {
	e := env.engineSocket(t, DEALER, nil)
	z := libzmqSocket(t, zmq.DEALER)
	for _, err := range []error{
		z.SetHeartbeatIvl(50 * time.Millisecond),
		z.SetHeartbeatTimeout(200 * time.Millisecond),
		z.SetHeartbeatTtl(time.Second),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	monAddr := fmt.Sprintf("inproc://zbench-interop-monitor-%d", interopMonitorSeq.Add(1))
	if err := z.Monitor(monAddr, zmq.EVENT_DISCONNECTED|zmq.EVENT_HANDSHAKE_SUCCEEDED); err != nil {
		t.Fatal(err)
	}
	mon := libzmqSocket(t, zmq.PAIR)
	if err := mon.Connect(monAddr); err != nil {
		t.Fatal(err)
	}
	env.link(t, e, z, engineBinds)

	exchange := func(round int) {
		t.Helper()
		if _, err := z.Send(fmt.Sprintf("hello %d", round), 0); err != nil {
			t.Fatal(err)
		}
		if m, err := e.RecvMsg(); err != nil || len(m) != 1 || string(m[0]) != fmt.Sprintf("hello %d", round) {
			t.Fatalf("engine DEALER, round %d: got %q, %v", round, m, err)
		}
		if err := e.Send([]byte(fmt.Sprintf("reply %d", round))); err != nil {
			t.Fatal(err)
		}
		if s, err := z.Recv(0); err != nil || s != fmt.Sprintf("reply %d", round) {
			t.Fatalf("libzmq DEALER, round %d: got %q, %v", round, s, err)
		}
	}
	exchange(0)
	st0 := e.Stats()
	time.Sleep(400 * time.Millisecond)
	st1 := e.Stats()
	exchange(1)

	// A PING with an empty context is 9 octets on the wire; at 50 ms, at
	// least three should have come in 400 ms, each answered by a PONG.
	// Over ws libzmq pings with empty WebSocket ping frames instead (6
	// octets masked from a client, 2 from a server), and its monitor
	// reports the WebSocket upgrade and the ZMTP handshake as two events.
	ping, wantHandshakes := uint64(9), 1
	if env.transport == "ws" {
		ping, wantHandshakes = 2, 2
		if engineBinds {
			ping = 6
		}
	}
	if in := st1.BytesIn - st0.BytesIn; in < 3*ping {
		t.Errorf("engine read %d octets while idle: libzmq did not send PINGs, so the case proves nothing", in)
	}
	if out := st1.BytesOut - st0.BytesOut; out == 0 {
		t.Errorf("engine wrote nothing while idle, though libzmq sent %d octets of PINGs: no PONG", st1.BytesIn-st0.BytesIn)
	}
	handshakes, disconnects := 0, 0
	mon.SetRcvtimeo(100 * time.Millisecond)
	for {
		ev, _, _, err := mon.RecvEvent(0)
		if err != nil {
			break
		}
		switch ev {
		case zmq.EVENT_HANDSHAKE_SUCCEEDED:
			handshakes++
		case zmq.EVENT_DISCONNECTED:
			disconnects++
		}
	}
	if disconnects != 0 || handshakes != wantHandshakes {
		t.Errorf("libzmq monitor: %d disconnects and %d handshakes, want 0 and %d: libzmq dropped the connection (heartbeat timeout: no PONG in time?)", disconnects, handshakes, wantHandshakes)
	}
	z.Monitor("", 0)
}
