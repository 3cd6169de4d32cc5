package engine

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var lifetimeFull = flag.Bool("lifetime.full", false,
	"TestSendBufferLifetime streams 100,000 messages of every size (slow; by default large sizes stream about 16 MiB)")

// lifetimeCount is how many messages of size octets a buffer-lifetime run
// streams: 100,000 of the small ones, and about 16 MiB of the large ones
// (at least 500), unless -lifetime.full.
func lifetimeCount(size int) int {
	const all = 100000
	if *lifetimeFull {
		return all
	}
	return min(all, max(500, (16<<20)/size))
}

// lifetimePattern is the content source of the buffer-lifetime messages:
// message seq holds seq in its first 8 octets, then
// pattern[seq%251:][:size-8].
var lifetimePattern = func() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 251+70000)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}()

func fillMessage(buf []byte, seq int) {
	binary.BigEndian.PutUint64(buf, uint64(seq))
	copy(buf[8:], lifetimePattern[seq%251:])
}

// scribble is what the sender writes over its buffer as soon as Send
// returns.
const scribble = 0xEE

// checkMessage reports how message m differs from message seq of size
// octets, or nil.
func checkMessage(m [][]byte, seq, size int) error {
	if len(m) != 1 || len(m[0]) != size {
		lens := make([]int, len(m))
		for i, f := range m {
			lens[i] = len(f)
		}
		return fmt.Errorf("message %d arrived as frames of %v octets, want one of %d", seq, lens, size)
	}
	b := m[0]
	if got := binary.BigEndian.Uint64(b); got != uint64(seq) {
		return fmt.Errorf("message %d arrived with sequence number %d (%#x)", seq, got, got)
	}
	want := lifetimePattern[seq%251:][:size-8]
	for i := range want {
		if b[8+i] != want[i] {
			why := ""
			if b[8+i] == scribble {
				why = fmt.Sprintf(": it holds %#x, what the caller wrote over its buffer after Send returned", scribble)
			}
			return fmt.Errorf("message %d: octet %d is %#x, want %#x%s", seq, 8+i, b[8+i], want[i], why)
		}
	}
	return nil
}

// setSendBuffer sets the kernel's send buffer of every live connection of s
// to n octets. (Only the send side: shrinking a live TCP receive window
// stalls the connection for minutes.)
func setSendBuffer(t testing.TB, s *Socket, n int) {
	t.Helper()
	s.mu.Lock()
	pipes := append([]*pipe(nil), s.pipes...)
	s.mu.Unlock()
	for _, p := range pipes {
		c := p.live.Load()
		if c == nil {
			continue
		}
		b, ok := c.tc.Conn.(interface{ SetWriteBuffer(int) error })
		if !ok {
			t.Fatalf("%T has no kernel send buffer to set", c.tc.Conn)
		}
		if err := b.SetWriteBuffer(n); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSendBufferLifetime: the caller overwrites its buffer as soon as Send
// returns; every message must arrive with the content it had at Send time,
// over the batched, vectored, immediate and queued paths.
func TestSendBufferLifetime(t *testing.T) {
	sizes := []int{
		32,   // batched
		8182, // the largest frame that still fits a default batch (8191 octets)
		8191, // 8 KiB - 1: a frame at least OutBatchSize, written header+body
		8192, // 8 KiB
		70000,
	}
	forEachTransport(t, func(t *testing.T, bindEP string) {
		for _, batching := range []bool{true, false} {
			for _, queued := range []bool{false, true} {
				for _, size := range sizes {
					mode := "immediate"
					if queued {
						mode = "queued"
					}
					name := fmt.Sprintf("batching=%v/%s/%d", batching, mode, size)
					t.Run(name, func(t *testing.T) {
						streamLifetime(t, freshEndpoint(t, bindEP), batching, queued, size, lifetimeCount(size))
					})
				}
			}
		}
	})
}

// streamLifetime streams n messages of size octets, overwriting the send
// buffer after every Send, and checks each on arrival. With queued, the
// receiver starts only when the sender is well ahead (and reads at most one
// message ahead) and the kernel's send buffer is small until then, so the
// kernel fills and messages wait in the engine's queue; otherwise it reads as fast as it can, and the connection
// is mostly idle, so Send writes at once.
func streamLifetime(t *testing.T, bindEP string, batching, queued bool, size, n int) {
	pull := newTestSocket(t, PULL, func(o *Options) {
		if queued {
			o.RcvHWM = 1
		}
	})
	ep := bindSocket(t, pull, bindEP)
	push := newTestSocket(t, PUSH, func(o *Options) {
		o.WriteBatching = batching
		if queued {
			o.SndHWM = 0
		}
	})
	connectSocket(t, push, ep)
	waitPeers(t, push, 1)
	gate := 0 // messages sent before the receiver starts
	if queued {
		// Half the stream goes out before the receiver starts, through a
		// small kernel send buffer, so that even small messages outrun
		// the kernel and wait in the engine's queue.
		gate = n / 2
		setSendBuffer(t, push, 4096)
	}
	start := make(chan struct{})
	if gate == 0 {
		close(start)
	}
	recvErr := make(chan error, 1)
	go func() {
		<-start
		for i := 0; i < n; i++ {
			m, err := pull.RecvMsg()
			if err != nil {
				recvErr <- fmt.Errorf("receiving message %d of %d: %w", i, n, err)
				return
			}
			if err := checkMessage(m, i, size); err != nil {
				recvErr <- err
				return
			}
		}
		recvErr <- nil
	}()

	buf := make([]byte, size)
	var sendErr error
	for i := 0; i < n; i++ {
		fillMessage(buf, i)
		if sendErr = push.Send(buf); sendErr != nil {
			sendErr = fmt.Errorf("sending message %d: %w", i, sendErr)
			break
		}
		for j := range buf {
			buf[j] = scribble
		}
		if i+1 == gate {
			if q := queuedMsgs(push); q == 0 {
				t.Errorf("after %d messages to a stalled receiver nothing is queued; the queued path is not exercised", gate)
			}
			setSendBuffer(t, push, 1<<20)
			close(start)
		}
	}
	if sendErr != nil && gate > 0 {
		select {
		case <-start:
		default:
			close(start)
		}
	}
	rerr := <-recvErr
	if err := errors.Join(sendErr, rerr); err != nil {
		t.Fatal(err)
	}
	st := push.Stats()
	if queued && st.BatchedWrites == 0 {
		t.Errorf("nothing went through the connection's writer (stats %+v); the queued path was not exercised", st)
	}
	if !queued && st.ImmediateWrites == 0 {
		t.Errorf("no immediate writes (stats %+v); the immediate path was not exercised", st)
	}
}

// ownershipShapes are the messages of TestSendOwnership, as frame sizes: a
// mix that has the goroutine in Send encode into a seg while the writer
// writes the part already published, seal segs between messages and in the
// middle of one, and give large frames segs of their own.
var ownershipShapes = [][]int{
	{40},
	{8, 8, 8},
	{3000},
	{8183}, // an 8192-octet ZMTP frame: as large as the batch
	{20000},
	{10, 20000, 10}, // a large frame in the middle of a message
	{4000, 4000, 4000},
	{70000},
	{1},
	{0, 600},
}

// fillFrame writes frame j of message seq: the pair in its first octets
// (as far as they go), then a pattern that depends on both.
func fillFrame(b []byte, seq, j int) {
	var id [8]byte
	binary.BigEndian.PutUint32(id[:], uint32(seq))
	binary.BigEndian.PutUint32(id[4:], uint32(j))
	n := copy(b, id[:])
	copy(b[n:], lifetimePattern[(seq*7+j)%251:])
}

// checkFrame reports how b differs from frame j of message seq, of size
// octets.
func checkFrame(b []byte, seq, j, size int) error {
	if len(b) != size {
		return fmt.Errorf("message %d frame %d: %d octets, want %d", seq, j, len(b), size)
	}
	want := make([]byte, size)
	fillFrame(want, seq, j)
	for i := range want {
		if b[i] != want[i] {
			why := ""
			if b[i] == scribble {
				why = fmt.Sprintf(": it holds %#x, what the caller wrote over its buffer after Send returned", scribble)
			}
			return fmt.Errorf("message %d frame %d: octet %d is %#x, want %#x%s", seq, j, i, b[i], want[i], why)
		}
	}
	return nil
}

// TestSendOwnership: the goroutine in Send owns the open batch and hands
// published messages to whoever writes them without a lock, so the
// caller's buffer and the batch must never be confused. One buffer carries
// every frame of a mixed stream and is overwritten as soon as each Send or
// SendMore returns; every frame must arrive as it was at the call, none
// lost, none repeated, in order. The receiver lags now and then, so the
// stream goes through immediate writes, writes the kernel takes only part of,
// and the writer's queue. Run it under -race: a write from the caller's
// memory after Send returned, or the writer reading bytes the producer is
// still encoding, is a data race.
func TestSendOwnership(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		for _, batching := range []bool{true, false} {
			t.Run(fmt.Sprintf("batching=%v", batching), func(t *testing.T) {
				sendOwnership(t, freshEndpoint(t, bindEP), batching)
			})
		}
	})
}

func sendOwnership(t *testing.T, bindEP string, batching bool) {
	const n = 1000
	pull := newTestSocket(t, PULL, func(o *Options) { o.RcvHWM = 20 })
	ep := bindSocket(t, pull, bindEP)
	push := newTestSocket(t, PUSH, func(o *Options) {
		o.WriteBatching = batching
		o.SndHWM = 50
	})
	connectSocket(t, push, ep)
	waitPeers(t, push, 1)

	recvErr := make(chan error, 1)
	go func() {
		for i := 0; i < n; i++ {
			shape := ownershipShapes[i%len(ownershipShapes)]
			for j, size := range shape {
				f, more, err := pull.RecvFrameView()
				if err != nil {
					recvErr <- fmt.Errorf("receiving message %d frame %d: %w", i, j, err)
					return
				}
				if want := j < len(shape)-1; more != want {
					recvErr <- fmt.Errorf("message %d frame %d: more = %v, want %v", i, j, more, want)
					return
				}
				if err := checkFrame(f, i, j, size); err != nil {
					recvErr <- err
					return
				}
			}
			if i%100 == 99 {
				time.Sleep(3 * time.Millisecond)
			}
		}
		recvErr <- nil
	}()

	buf := make([]byte, 70000)
	for i := 0; i < n; i++ {
		shape := ownershipShapes[i%len(ownershipShapes)]
		for j, size := range shape {
			b := buf[:size]
			fillFrame(b, i, j)
			send := push.Send
			if j < len(shape)-1 {
				send = push.SendMore
			}
			if err := send(b); err != nil {
				t.Fatalf("sending message %d frame %d: %v", i, j, err)
			}
			for k := range b {
				b[k] = scribble
			}
		}
	}
	if err := <-recvErr; err != nil {
		t.Fatal(err)
	}
	waitFor(t, "every message to be counted as written", func() bool { return push.Stats().MsgsOut == n })
	t.Logf("sender stats: %+v", push.Stats())
}
