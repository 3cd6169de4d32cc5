//go:build libzmq

package engine

import (
	"fmt"
	"testing"
)

// Helpers of the interop matrix that only the libzmq cases use.

// interopWSSizes are the PUSH/PULL message sizes over ws: empty, both sides
// of the WebSocket payload length boundaries (7-bit up to 125 octets, 16-bit
// up to 65535, then 64-bit; the payload is the flag octet plus the body),
// the default batch size, and larger than the default read buffer.
var interopWSSizes = []int{0, 124, 125, 126, 8192, 65534, 65535, 65536, 70000}

// pushPullSizes are the message sizes the PUSH/PULL cases stream over the
// cell's transport.
func (env *interopEnv) pushPullSizes() []int {
	if env.transport == "ws" {
		return interopWSSizes
	}
	return interopSizes
}

// interopPayload returns a new n-byte payload for message seq.
func interopPayload(seq, n int) []byte {
	b := make([]byte, n)
	interopFill(b, seq)
	return b
}

// interopCheckMsg checks a multipart message whose frame j is the payload
// of seq+j with sizes[j] bytes.
func interopCheckMsg(got [][]byte, seq int, sizes ...int) error {
	if len(got) != len(sizes) {
		return fmt.Errorf("%d frames, want %d (sizes %v)", len(got), len(sizes), interopLens(got))
	}
	for j, n := range sizes {
		if err := interopCheck(got[j], seq+j, n); err != nil {
			return fmt.Errorf("frame %d: %w", j, err)
		}
	}
	return nil
}

func interopLens(m [][]byte) []int {
	n := make([]int, len(m))
	for i, f := range m {
		n[i] = len(f)
	}
	return n
}

// interopStream runs send(i) for i < count in a goroutine of its own while
// recv(i) takes the messages in the test's goroutine. On the first failure
// the sender is told to stop and abort is called (it closes engine sockets
// so a blocked engine call returns); both errors are reported.
func interopStream(t *testing.T, count int, abort func(), send, recv func(i int) error) {
	t.Helper()
	stop := make(chan struct{})
	sent := make(chan error, 1)
	go func() {
		for i := 0; i < count; i++ {
			select {
			case <-stop:
				sent <- nil
				return
			default:
			}
			if err := send(i); err != nil {
				sent <- fmt.Errorf("send message %d of %d: %w", i, count, err)
				return
			}
		}
		sent <- nil
	}()
	var rerr error
	for i := 0; i < count; i++ {
		if err := recv(i); err != nil {
			rerr = fmt.Errorf("receive message %d of %d: %w", i, count, err)
			close(stop)
			abort()
			break
		}
	}
	serr := <-sent
	if serr != nil && rerr == nil {
		// The sender failed first; the receiver saw its consequence.
		t.Error(serr)
	}
	if rerr != nil {
		t.Error(rerr)
		if serr != nil {
			t.Errorf("(sender side: %v)", serr)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
}
