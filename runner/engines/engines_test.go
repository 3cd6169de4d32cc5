package engines_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/engines"
	"zbench/runner/sample"
)

func cell(engine, pattern, protocol string, size, sockets int) matrix.Cell {
	return matrix.Cell{
		Engine: engine, Pattern: pattern, Protocol: protocol, Size: size,
		OutBatchSize: 8192, WriteBatching: true, Sockets: sockets, Processes: 1,
		Workload: matrix.Workload{
			WarmupMessages:     20,
			ThroughputMessages: 500,
			LatencyRoundTrips:  50,
			Timeout:            matrix.Duration(20 * time.Second),
		},
	}
}

// runAll runs every pattern over each protocol on the named engine and
// checks the counts every run must satisfy.
func runAll(t *testing.T, name string, protocols []string, tweak func(*matrix.Cell)) []sample.Sample {
	t.Helper()
	eng, ok := engines.Lookup(name)
	if !ok {
		t.Fatalf("engine %s not registered", name)
	}
	return runEngine(t, eng, protocols, tweak)
}

func runnerOptions() runner.SocketOptions {
	return runner.SocketOptions{OutBatchSize: 8192, WriteBatching: true}
}

// runEngine is runAll on an engine that need not be registered. A protocol
// the engine does not support is skipped only for ws.
func runEngine(t *testing.T, eng runner.Engine, protocols []string, tweak func(*matrix.Cell)) []sample.Sample {
	t.Helper()
	name := eng.Name()
	var samples []sample.Sample
	for _, protocol := range protocols {
		for _, pattern := range matrix.Patterns {
			t.Run(protocol+"/"+pattern, func(t *testing.T) {
				c := cell(name, pattern, protocol, 100, 2)
				if tweak != nil {
					tweak(&c)
				}
				if ok, reason := eng.Supports(c); !ok {
					if protocol == matrix.ProtocolWS {
						t.Skipf("unsupported: %s", reason)
					}
					t.Fatalf("unsupported: %s", reason)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				s, err := runner.RunCell(ctx, eng, c, runner.CellOptions{IPCDir: t.TempDir()})
				if err != nil {
					t.Fatal(err)
				}
				s.Cell = c.ID()
				tp := s.Throughput
				want := int64(c.Sockets * c.Workload.ThroughputMessages)
				if c.Workload.ThroughputDuration > 0 {
					want = tp.Sent // unknown in advance
				} else if pattern == matrix.PatternReqRep {
					want *= 2
				}
				want -= tp.Dropped
				if tp.Messages != want || tp.Messages == 0 || tp.Seconds <= 0 {
					t.Errorf("throughput %+v, want %d messages", tp, want)
				}
				// 500 messages per pair is too short a phase for a rate:
				// it says so instead of reporting one.
				if (tp.Problem == "") != (tp.MsgsPerSec > 0) {
					t.Errorf("throughput problem %q with %v msg/s", tp.Problem, tp.MsgsPerSec)
				}
				if got := s.Latency.RoundTrips; got != int64(c.Sockets*c.Workload.LatencyRoundTrips) || s.Latency.RTTP50Ns <= 0 {
					t.Errorf("latency %+v", s.Latency)
				}
				samples = append(samples, s)
			})
		}
	}
	return samples
}

func TestZmq4EveryPattern(t *testing.T) {
	for _, s := range runAll(t, engines.Zmq4Name, []string{matrix.ProtocolTCP, matrix.ProtocolIPC}, nil) {
		if s.Engine.Available {
			t.Errorf("zmq4 reported telemetry: %+v", s.Engine)
		}
	}
}

func TestZbenchEveryPattern(t *testing.T) {
	protocols := []string{matrix.ProtocolTCP, matrix.ProtocolIPC, matrix.ProtocolWS}
	for _, s := range runAll(t, engines.ZbenchName, protocols, nil) {
		e := s.Engine
		if !e.Available || e.MsgsOut == 0 || e.Writes == 0 || e.MsgsIn == 0 {
			t.Errorf("%s: telemetry %+v: want messages and writes counted", s.Cell, e)
			continue
		}
		// A reliable link delivers, within the phase, exactly what was sent.
		// A pub-sub link may drop at the high-water mark, and its end
		// marker is repeated until seen, so a repeat can arrive after the
		// phase's snapshot: out >= in there.
		if strings.Contains(s.Cell, "pattern=pub-sub/") {
			if e.MsgsIn > e.MsgsOut {
				t.Errorf("%s: telemetry %+v: more messages in than out", s.Cell, e)
			}
		} else if d := int64(e.MsgsIn) - int64(e.MsgsOut); d < 0 || d > 2 {
			// The engine counts a message out when it writes it; the echo
			// of the last stop marker may still be queued when the echoing
			// side takes its end-of-phase snapshot (one per pair at most),
			// while its receipt is counted in.
			t.Errorf("%s: telemetry %+v: want messages out = messages in, less at most one stop echo per pair", s.Cell, e)
		}
	}
}

// With out_batch_size 1 every message is its own write: the telemetry must
// say so.
func TestZbenchUnbatchedTelemetry(t *testing.T) {
	for _, s := range runAll(t, engines.ZbenchName, []string{matrix.ProtocolTCP}, func(c *matrix.Cell) {
		c.OutBatchSize = 1
		c.Sockets = 1
	}) {
		if e := s.Engine; e.MsgsPerWrite > 1 {
			t.Errorf("%s: %v msgs per write with out_batch_size 1", s.Cell, e.MsgsPerWrite)
		}
	}
}

func TestSupports(t *testing.T) {
	zmq4, _ := engines.Lookup(engines.Zmq4Name)
	c := cell(engines.Zmq4Name, matrix.PatternPair, matrix.ProtocolTCP, 32, 1)
	ok, note := zmq4.Supports(c)
	if axes, _, isNA := sample.ParseNotApplicable(note); !ok || !isNA ||
		!slices.Equal(axes, []string{matrix.AxisOutBatchSize, matrix.AxisWriteBatching}) {
		t.Errorf("zmq4 default batching: %v %q, want supported with out_batch_size and write_batching n/a", ok, note)
	}
	c.OutBatchSize = 1
	if ok, reason := zmq4.Supports(c); ok || reason == "" {
		t.Errorf("zmq4 out_batch_size 1: %v %q, want unsupported", ok, reason)
	}
	c = cell(engines.Zmq4Name, matrix.PatternPair, matrix.ProtocolWS, 32, 1)
	if ok, _ := zmq4.Supports(c); ok {
		t.Error("zmq4 claims ws")
	}

	if _, ok := engines.Lookup(matrix.EngineLibzmq); !ok {
		t.Fatal("libzmq has no registry entry")
	}

	zb, _ := engines.Lookup(engines.ZbenchName)
	for _, p := range []string{matrix.ProtocolTCP, matrix.ProtocolIPC} {
		if ok, reason := zb.Supports(cell(engines.ZbenchName, matrix.PatternPair, p, 32, 1)); !ok {
			t.Errorf("zbench %s: unsupported: %s", p, reason)
		}
	}
	for _, name := range matrix.Engines {
		if _, ok := engines.Lookup(name); !ok {
			t.Errorf("engine %s of the matrix has no adapter", name)
		}
	}
}

// The zbench adapter's single-frame Send adds no allocation of its own: a
// PUB with no subscriber drops the message inside the engine.
func TestZbenchSendAllocs(t *testing.T) {
	eng, _ := engines.Lookup(engines.ZbenchName)
	s, err := eng.NewSocket(runner.KindPub, runner.SocketOptions{OutBatchSize: 8192, WriteBatching: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	msg := make([]byte, 64)
	if n := testing.AllocsPerRun(1000, func() { _ = s.Send(msg) }); n != 0 {
		t.Errorf("Send allocates %v times per message", n)
	}
}

// A stream timed by duration rather than count, on the embedded engine.
func TestZbenchThroughputDuration(t *testing.T) {
	samples := runAll(t, engines.ZbenchName, []string{matrix.ProtocolTCP}, func(c *matrix.Cell) {
		c.Workload.ThroughputMessages = 0
		c.Workload.ThroughputDuration = matrix.Duration(20 * time.Millisecond)
	})
	for _, s := range samples {
		tp := s.Throughput
		if tp.Messages == 0 || tp.Seconds <= 0 || tp.Seconds > 2 {
			t.Errorf("%s: throughput %+v, want a stream of about 20ms", s.Cell, tp)
		}
	}
}
