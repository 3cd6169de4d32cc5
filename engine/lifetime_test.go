package engine

import (
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
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
