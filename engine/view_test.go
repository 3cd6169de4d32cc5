package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// viewPayload is message i's content: its sequence number and a pattern
// derived from it, so that a frame whose buffer was reused too early shows
// up as the wrong content.
func viewPayload(i, size int) []byte {
	b := make([]byte, size)
	for j := range b {
		b[j] = byte(i*7 + j)
	}
	if size >= 4 {
		binary.BigEndian.PutUint32(b, uint32(i))
	}
	return b
}

// TestRecvFrameViewKeepsContent streams messages received through views,
// with owned frames (RecvFrame, RecvMsg) mixed in. A view must hold its
// content until the next Recv call even while the reader keeps reading into
// recycled buffers; an owned frame must hold it for good.
func TestRecvFrameViewKeepsContent(t *testing.T) {
	for _, size := range []int{1, 32, 1000, 9000} {
		t.Run(fmt.Sprintf("size=%d", size), func(t *testing.T) {
			forEachTransport(t, func(t *testing.T, bindEP string) {
				pull := newTestSocket(t, PULL)
				push := newTestSocket(t, PUSH)
				connectSocket(t, push, bindSocket(t, pull, bindEP))
				const n = 20000
				go func() {
					for i := 0; i < n; i++ {
						if err := push.Send(viewPayload(i, size)); err != nil {
							return
						}
					}
				}()
				var kept [][]byte
				var keptIdx []int
				for i := 0; i < n; i++ {
					var f []byte
					var err error
					switch i % 97 {
					case 0:
						f, _, err = pull.RecvFrame()
						kept, keptIdx = append(kept, f), append(keptIdx, i)
					case 50:
						var m [][]byte
						m, err = pull.RecvMsg()
						if err == nil {
							f = m[0]
							kept, keptIdx = append(kept, f), append(keptIdx, i)
						}
					default:
						f, _, err = pull.RecvFrameView()
					}
					if err != nil {
						t.Fatalf("message %d: %v", i, err)
					}
					want := viewPayload(i, size)
					if !bytes.Equal(f, want) {
						t.Fatalf("message %d: content differs at once", i)
					}
					if i%500 == 1 {
						// Let the reader run ahead through recycled
						// buffers while this view is still held.
						ahead := uint64(min(n, i+500))
						waitFor(t, "the reader to read ahead", func() bool {
							return pull.Stats().MsgsIn >= ahead
						})
						if !bytes.Equal(f, want) {
							t.Fatalf("message %d: a view changed before the next Recv call", i)
						}
					}
				}
				for k, f := range kept {
					if !bytes.Equal(f, viewPayload(keptIdx[k], size)) {
						t.Fatalf("owned frame of message %d changed after later receives", keptIdx[k])
					}
				}
			})
		})
	}
}

// TestRecvFrameViewRouterAndRep: the identity frame and the REP envelope
// come through views as whole messages do, and the reply still reaches the
// requester (the envelope was kept, not recycled).
func TestRecvFrameViewRouterAndRep(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		rep := newTestSocket(t, REP)
		req := newTestSocket(t, REQ)
		connectSocket(t, req, bindSocket(t, rep, bindEP))
		for i := 0; i < 200; i++ {
			want := viewPayload(i, 64)
			mustSend(t, req, want)
			f, more, err := rep.RecvFrameView()
			if err != nil || more || !bytes.Equal(f, want) {
				t.Fatalf("request %d through a view: %q more=%v err=%v", i, f, more, err)
			}
			mustSend(t, rep, f) // echo the view itself: Send copies it
			if got := mustRecv(t, req); len(got) != 1 || !bytes.Equal(got[0], want) {
				t.Fatalf("reply %d = %q", i, got)
			}
		}
	})
}

// TestOwnedFramesKeepContent: when frames are the caller's (RecvFrame,
// RecvMsg, never a view), the reader reads into chunks of memory for the
// caller and hands the frames over where they were read. Later reads go
// into the same chunk, past them: every frame kept must still hold its
// content once the whole stream has been read, whatever the read buffer's
// size, across chunks, and for frames larger than the read buffer.
func TestOwnedFramesKeepContent(t *testing.T) {
	for _, inBatch := range []int{64, DefaultInBatchSize} {
		for _, size := range []int{1, 32, 1000, 9000} {
			t.Run(fmt.Sprintf("InBatchSize=%d/size=%d", inBatch, size), func(t *testing.T) {
				forEachTransport(t, func(t *testing.T, bindEP string) {
					pull := newTestSocket(t, PULL, func(o *Options) { o.InBatchSize = inBatch })
					push := newTestSocket(t, PUSH)
					connectSocket(t, push, bindSocket(t, pull, bindEP))
					n := min(5000, (8<<20)/size)
					go func() {
						for i := 0; i < n; i++ {
							var err error
							if i%10 == 0 {
								err = push.SendMsg(viewPayload(i, size), viewPayload(i+1, 7))
							} else {
								err = push.Send(viewPayload(i, size))
							}
							if err != nil {
								return
							}
						}
					}()
					kept := make([][][]byte, n)
					for i := 0; i < n; i++ {
						var err error
						if i%2 == 0 {
							kept[i], err = pull.RecvMsg()
						} else {
							var f []byte
							var more bool
							for more = true; more && err == nil; {
								f, more, err = pull.RecvFrame()
								kept[i] = append(kept[i], f)
							}
						}
						if err != nil {
							t.Fatalf("message %d: %v", i, err)
						}
					}
					for i, m := range kept {
						want := [][]byte{viewPayload(i, size)}
						if i%10 == 0 {
							want = append(want, viewPayload(i+1, 7))
						}
						if len(m) != len(want) {
							t.Fatalf("message %d arrived as %d frames, want %d", i, len(m), len(want))
						}
						for j := range m {
							if !bytes.Equal(m[j], want[j]) {
								t.Fatalf("message %d frame %d changed after later receives", i, j)
							}
						}
					}
				})
			})
		}
	}
}
