//go:build libzmq

package engines_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/engines"
	"zbench/runner/sample"
)

var allProtocols = []string{matrix.ProtocolTCP, matrix.ProtocolIPC, matrix.ProtocolWS}

// libzmq through the runner's workloads: every pattern over tcp, ipc and ws
// (Debian's libzmq 4.3.4 speaks ws), with the batching axes noted as n/a.
func TestLibzmqEveryPattern(t *testing.T) {
	lz, _ := engines.Lookup(engines.LibzmqName)
	if ok, reason := lz.Supports(cell(engines.LibzmqName, matrix.PatternPair, matrix.ProtocolWS, 32, 1)); !ok {
		t.Fatalf("libzmq over ws unsupported: %s", reason)
	}
	samples := runAll(t, engines.LibzmqName, allProtocols, nil)
	if len(samples) != len(allProtocols)*len(matrix.Patterns) {
		t.Fatalf("%d samples, want one per protocol and pattern", len(samples))
	}
	for _, s := range samples {
		if s.Engine.Available {
			t.Errorf("%s: libzmq reported telemetry %+v", s.Cell, s.Engine)
		}
	}
}

// Mixed pairs end to end: the embedded engine sends to libzmq, which
// receives and echoes, and the reverse, for every pattern over every
// transport.
func TestMixedLibzmqEveryPattern(t *testing.T) {
	for _, name := range []string{matrix.EngineZbenchToLibzmq, matrix.EngineLibzmqToZbench} {
		t.Run(name, func(t *testing.T) {
			if got := len(runAll(t, name, allProtocols, nil)); got != len(allProtocols)*len(matrix.Patterns) {
				t.Errorf("%d samples, want one per protocol and pattern", got)
			}
		})
	}
}

// Several socket pairs at once, each with contexts of its own, and sizes
// past the burst copy's first guesses.
func TestLibzmqSocketsAndSizes(t *testing.T) {
	for _, size := range []int{0, 33, 16384, 100000} {
		eng, _ := engines.Lookup(engines.LibzmqName)
		runEngine(t, eng, []string{matrix.ProtocolTCP}, func(c *matrix.Cell) {
			c.Size, c.Sockets = size, 2
			c.Workload.ThroughputMessages = 100
		})
	}
}

func TestLibzmqSupports(t *testing.T) {
	lz, _ := engines.Lookup(engines.LibzmqName)
	c := cell(engines.LibzmqName, matrix.PatternPair, matrix.ProtocolTCP, 32, 1)
	ok, note := lz.Supports(c)
	axes, why, isNA := sample.ParseNotApplicable(note)
	if !ok || !isNA || !slices.Contains(axes, matrix.AxisWriteBatching) || !strings.Contains(why, "libzmq 4.") {
		t.Fatalf("libzmq at default batching: %v %q, want supported with write_batching n/a", ok, note)
	}
	// Debian's build has no draft API: out_batch_size cannot be set.
	if slices.Contains(axes, matrix.AxisOutBatchSize) {
		c.OutBatchSize = 1
		if ok, reason := lz.Supports(c); ok || !strings.Contains(reason, "ZMQ_OUT_BATCH_SIZE") {
			t.Errorf("libzmq at out_batch_size 1: %v %q, want unsupported naming ZMQ_OUT_BATCH_SIZE", ok, reason)
		}
		c.OutBatchSize = 8192
	}
	c.WriteBatching = false
	if ok, reason := lz.Supports(c); ok || !strings.Contains(reason, "write_batching false") {
		t.Errorf("libzmq without write batching: %v %q, want unsupported", ok, reason)
	}

	m, _ := engines.Lookup(matrix.EngineLibzmqToZbench)
	if ok, reason := m.Supports(cell(m.Name(), matrix.PatternPair, matrix.ProtocolTCP, 32, 1)); !ok || !strings.Contains(reason, "sender libzmq: ") {
		t.Errorf("libzmq>zbench: %v %q, want supported with the sender's note", ok, reason)
	}
	c = cell(m.Name(), matrix.PatternPair, matrix.ProtocolTCP, 32, 1)
	c.WriteBatching = false
	if ok, reason := m.Supports(c); ok || !strings.HasPrefix(reason, "sender libzmq: ") {
		t.Errorf("libzmq>zbench without write batching: %v %q, want unsupported by the sender", ok, reason)
	}
}

// Close from another goroutine ends a RecvFrame that is waiting, and every
// call after it fails.
func TestLibzmqCloseUnblocks(t *testing.T) {
	lz, _ := engines.Lookup(engines.LibzmqName)
	s, err := lz.NewSocket(runner.KindPull, runnerOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := s.RecvFrame()
		done <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Error("RecvFrame returned no error after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting RecvFrame")
	}
	if err := s.Send([]byte("x")); err == nil {
		t.Error("Send on a closed socket succeeded")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// A burst of frames is received in one go and handed out one by one; each
// frame is valid until the next RecvFrame, and writing to it (even
// appending) leaves the frames still to come alone.
func TestLibzmqFramesInBursts(t *testing.T) {
	lz, _ := engines.Lookup(engines.LibzmqName)
	pull, err := lz.NewSocket(runner.KindPull, runnerOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer pull.Close()
	push, err := lz.NewSocket(runner.KindPush, runnerOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer push.Close()
	ep, err := pull.Bind("tcp://127.0.0.1:*")
	if err != nil {
		t.Fatal(err)
	}
	if err := push.Connect(ep); err != nil {
		t.Fatal(err)
	}
	msg := []byte("frame-0")
	const n = 200
	for i := range n {
		msg[len(msg)-1] = byte('0' + i%10)
		if i%3 == 0 {
			if err := push.SendMore(msg[:3]); err != nil {
				t.Fatal(err)
			}
		}
		if err := push.Send(msg); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < n; i++ {
		if i%3 == 0 {
			f, more, err := pull.RecvFrame()
			if err != nil || !more || string(f) != "fra" {
				t.Fatalf("message %d: first frame %q more %v err %v", i, f, more, err)
			}
		}
		f, more, err := pull.RecvFrame()
		if err != nil || more {
			t.Fatalf("message %d: %q more %v err %v", i, f, more, err)
		}
		if want := "frame-" + string(rune('0'+i%10)); string(f) != want {
			t.Fatalf("message %d = %q, want %q (a write to the previous frame leaked into it?)", i, f, want)
		}
		if cap(f) != len(f) {
			t.Fatalf("frame of %d bytes has capacity %d: appending would write into the next", len(f), cap(f))
		}
		// The caller may scribble on a frame until its next RecvFrame;
		// that must not reach the frames still to come.
		f[0] = 'X'
		_ = append(f, '!')
	}
}

// Send adds no Go allocation: zmq_send copies the frame in C.
func TestLibzmqSendAllocs(t *testing.T) {
	lz, _ := engines.Lookup(engines.LibzmqName)
	s, err := lz.NewSocket(runner.KindPub, runnerOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := make([]byte, 64)
	if n := testing.AllocsPerRun(1000, func() { _ = s.Send(msg) }); n != 0 {
		t.Errorf("Send allocates %v times per message", n)
	}
}
