package engine

import (
	"fmt"
	"testing"
)

// TestTelemetry streams 10,000 32-octet messages after a warm-up round trip
// and checks what the sender's and receiver's Stats say about it.
func TestTelemetry(t *testing.T) {
	const (
		n    = 10000
		size = 32
	)
	cases := []struct {
		name string
		set  func(*Options)
		// check judges the sender's stats over the stream (warm-up
		// excluded: st is the difference) and over the whole life (all).
		check func(t *testing.T, st, all Stats)
	}{
		{
			name: "batching",
			set:  func(o *Options) {},
			check: func(t *testing.T, st, all Stats) {
				if mpw := float64(st.MsgsOut) / float64(st.Writes); mpw <= 2 {
					t.Errorf("with write batching, %d messages took %d writes (%.2f per write), want more than 2 per write", st.MsgsOut, st.Writes, mpw)
				}
				if st.BatchedWrites == 0 {
					t.Errorf("with write batching, no batched writes: %+v", st)
				}
			},
		},
		{
			name:  "no batching",
			set:   func(o *Options) { o.WriteBatching = false },
			check: func(t *testing.T, st, all Stats) { checkOneMessagePerWrite(t, all, true) },
		},
		{
			name:  "OutBatchSize 1",
			set:   func(o *Options) { o.OutBatchSize = 1 },
			check: func(t *testing.T, st, all Stats) { checkOneMessagePerWrite(t, all, false) },
		},
	}
	forEachTransport(t, func(t *testing.T, bindEP string) {
		// One message on the wire, as the connecting PUSH frames it.
		frame := uint64(wireFrameSize(bindEP, size))
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				pull := newTestSocket(t, PULL, c.set)
				ep := bindSocket(t, pull, freshEndpoint(t, bindEP))
				push := newTestSocket(t, PUSH, c.set)
				connectSocket(t, push, ep)
				waitPeers(t, push, 1)

				// Warm-up: one message, once the connection is up.
				mustSend(t, push, []byte("warm-up, 32 octets long........."))
				mustRecv(t, pull)
				waitFor(t, "the warm-up write to be counted", func() bool { return push.Stats().BytesOut == frame })
				before := push.Stats()

				done := make(chan error, 1)
				go func() {
					for i := 0; i < n; i++ {
						m, err := pull.RecvMsg()
						if err == nil && (len(m) != 1 || len(m[0]) != size) {
							err = fmt.Errorf("message %d arrived as %d frames", i, len(m))
						}
						if err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}()
				msg := make([]byte, size)
				for i := 0; i < n; i++ {
					msg[0] = byte(i)
					mustSend(t, push, msg)
				}
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				total := (n + 1) * frame
				waitFor(t, "every write to be counted", func() bool { return push.Stats().BytesOut == total })
				all := push.Stats()
				st := diffStats(all, before)

				if all.MsgsOut != n+1 {
					t.Errorf("sender MsgsOut = %d, want %d", all.MsgsOut, n+1)
				}
				if all.Writes != all.BatchedWrites+all.ImmediateWrites {
					t.Errorf("sender Writes %d != BatchedWrites %d + ImmediateWrites %d", all.Writes, all.BatchedWrites, all.ImmediateWrites)
				}
				if all.MsgsIn != 0 || all.BytesIn != 0 || all.Reads != 0 {
					t.Errorf("a PUSH socket counts input: %+v", all)
				}
				c.check(t, st, all)

				in := pull.Stats()
				if in.MsgsIn != n+1 {
					t.Errorf("receiver MsgsIn = %d, want %d", in.MsgsIn, n+1)
				}
				if in.BytesIn != total {
					t.Errorf("receiver BytesIn = %d, want %d, what the sender wrote (%d frames of %d octets); see TestBytesInCountsDataReadWithHandshake", in.BytesIn, total, n+1, frame)
				}
				inBatch := pull.Options().InBatchSize
				if minReads := (in.BytesIn + uint64(inBatch) - 1) / uint64(inBatch); in.Reads < minReads || in.Reads > in.BytesIn {
					t.Errorf("receiver Reads = %d for %d octets with a %d-octet read buffer, want %d..%d", in.Reads, in.BytesIn, inBatch, minReads, in.BytesIn)
				}
				if in.MsgsOut != 0 || in.Writes != 0 || in.BytesOut != 0 {
					t.Errorf("a PULL socket counts output: %+v", in)
				}
			})
		}
	})
}

// checkOneMessagePerWrite checks the stats of a sender that must write
// every message on its own (WriteBatching off, or OutBatchSize 1). When the
// kernel takes only part of a write (the receiver lagging), the rest is one
// more write by the connection's writer, and the messages sent meanwhile wait
// for it; otherwise every message is exactly one write, and with
// immediate, each from Send's goroutine.
func checkOneMessagePerWrite(t *testing.T, all Stats, immediate bool) {
	t.Helper()
	if all.Writes != all.MsgsOut+all.PartialHandoffs {
		t.Errorf("%d messages took %d writes with %d partial writes, want %d: one write per message, plus one per partial write (%+v)",
			all.MsgsOut, all.Writes, all.PartialHandoffs, all.MsgsOut+all.PartialHandoffs, all)
	}
	if all.PartialHandoffs > 0 {
		t.Logf("the kernel took only part of %d writes, so the strict one-write-per-message checks are skipped: %+v", all.PartialHandoffs, all)
		return
	}
	if all.MsgsPerWrite() != 1 {
		t.Errorf("MsgsPerWrite = %v (%d messages, %d writes), want exactly 1", all.MsgsPerWrite(), all.MsgsOut, all.Writes)
	}
	if immediate && all.ImmediateWrites != all.MsgsOut {
		t.Errorf("ImmediateWrites = %d, MsgsOut = %d: want every message written from Send's goroutine on an idle connection (%+v)", all.ImmediateWrites, all.MsgsOut, all)
	}
}

// TestBytesInCountsDataReadWithHandshake: a message that arrives in the same
// read as the peer's READY is counted in BytesIn and Reads like any other.
func TestBytesInCountsDataReadWithHandshake(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		pull := newTestSocket(t, PULL)
		ep := bindSocket(t, pull, bindEP)
		raw := dialRaw(t, ep)
		msg := appendFrame(nil, 0, []byte("hello"))
		if _, err := raw.Write(cat(appendGreeting(nil), readyFrame("PUSH"), msg)); err != nil {
			t.Fatal(err)
		}
		if got := mustRecvString(t, pull); got != "hello" {
			t.Fatalf("received %q", got)
		}
		st := pull.Stats()
		if st.MsgsIn != 1 || st.BytesIn != uint64(len(msg)) || st.Reads < 1 {
			t.Fatalf("after one %d-octet frame that came with the handshake, Stats = %+v; want MsgsIn 1, BytesIn %d, Reads >= 1: bytes read during the handshake after READY are not counted", len(msg), st, len(msg))
		}
	})
}

func diffStats(a, b Stats) Stats {
	return Stats{
		MsgsOut:         a.MsgsOut - b.MsgsOut,
		BytesOut:        a.BytesOut - b.BytesOut,
		Writes:          a.Writes - b.Writes,
		BatchedWrites:   a.BatchedWrites - b.BatchedWrites,
		ImmediateWrites: a.ImmediateWrites - b.ImmediateWrites,
		PartialHandoffs: a.PartialHandoffs - b.PartialHandoffs,
		MsgsIn:          a.MsgsIn - b.MsgsIn,
		BytesIn:         a.BytesIn - b.BytesIn,
		Reads:           a.Reads - b.Reads,
	}
}

// TestStatsSurvivePeers: telemetry of a peer that went away stays in the
// socket's totals.
func TestStatsSurvivePeers(t *testing.T) {
	forEachTransport(t, func(t *testing.T, bindEP string) {
		pull := newTestSocket(t, PULL)
		ep := bindSocket(t, pull, bindEP)
		for i := 0; i < 3; i++ {
			push := newTestSocket(t, PUSH)
			connectSocket(t, push, ep)
			mustSend(t, push, []byte("x"))
			mustRecv(t, pull)
			push.Close()
			waitPeers(t, pull, 0)
			if got := pull.Stats().MsgsIn; got != uint64(i+1) {
				t.Fatalf("after %d peers came and went, MsgsIn = %d, want %d", i+1, got, i+1)
			}
		}
	})
}
