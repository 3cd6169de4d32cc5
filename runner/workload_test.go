package runner_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/sample"
)

// smallCell is a cell with counts small enough for a unit test.
func smallCell(engine, pattern, protocol string, size, sockets int) matrix.Cell {
	return matrix.Cell{
		Engine: engine, Pattern: pattern, Protocol: protocol, Size: size,
		OutBatchSize: 8192, WriteBatching: true, Sockets: sockets, Processes: 1,
		Workload: matrix.Workload{
			WarmupMessages:     20,
			ThroughputMessages: 300,
			LatencyRoundTrips:  50,
			Timeout:            matrix.Duration(20 * time.Second),
		},
	}
}

// checkSample asserts what every successful run must satisfy.
func checkSample(t *testing.T, c matrix.Cell, s sample.Sample) {
	t.Helper()
	w := c.Workload
	k := int64(c.Sockets)
	wantMsgs := k * int64(w.ThroughputMessages)
	switch c.Pattern {
	case matrix.PatternReqRep:
		wantMsgs *= 2 // requests and replies
	case matrix.PatternPubSub:
		if s.Throughput.Messages+s.Throughput.Dropped != wantMsgs || s.Throughput.Sent != wantMsgs {
			t.Errorf("pub-sub: delivered %d + dropped %d, sent %d; want %d sent",
				s.Throughput.Messages, s.Throughput.Dropped, s.Throughput.Sent, wantMsgs)
		}
		wantMsgs = s.Throughput.Messages
	}
	if s.Throughput.Messages != wantMsgs {
		t.Errorf("throughput messages = %d, want %d", s.Throughput.Messages, wantMsgs)
	}
	if c.Pattern != matrix.PatternPubSub && s.Throughput.Dropped != 0 {
		t.Errorf("dropped = %d on a reliable pattern", s.Throughput.Dropped)
	}
	if s.Throughput.Bytes != s.Throughput.Messages*int64(c.Size) {
		t.Errorf("bytes = %d, want %d", s.Throughput.Bytes, s.Throughput.Messages*int64(c.Size))
	}
	if s.Throughput.Messages > 1 && s.Throughput.Seconds <= 0 {
		t.Errorf("throughput not timed: %+v", s.Throughput)
	}
	// A rate is reported exactly when the phase was long enough to be one.
	if (s.Throughput.Problem == "") != (s.Throughput.MsgsPerSec > 0) {
		t.Errorf("throughput problem %q with a rate of %v msg/s", s.Throughput.Problem, s.Throughput.MsgsPerSec)
	}
	if got, want := s.Latency.RoundTrips, k*int64(w.LatencyRoundTrips); got != want {
		t.Errorf("round trips = %d, want %d", got, want)
	}
	l := s.Latency
	if !(0 < l.RTTP50Ns && l.RTTP50Ns <= l.RTTP99Ns && l.RTTP99Ns <= l.RTTP999Ns && l.RTTP999Ns <= l.RTTMaxNs) {
		t.Errorf("latency percentiles out of order: %+v", l)
	}
	if l.OneWayMeanNs != l.RTTMeanNs/2 {
		t.Errorf("one-way mean %v is not half the RTT mean %v", l.OneWayMeanNs, l.RTTMeanNs)
	}
	if s.Throughput.Seconds < s.Throughput.RecvSeconds || s.Throughput.Seconds < s.Throughput.SendSeconds {
		t.Errorf("throughput seconds %v shorter than the receiver's %v or the sender's %v",
			s.Throughput.Seconds, s.Throughput.RecvSeconds, s.Throughput.SendSeconds)
	}
	if !s.Runtime.Reported || s.Runtime.Mallocs == 0 {
		t.Errorf("no allocations counted: %+v", s.Runtime)
	}
}

func TestRunCellBadWorkload(t *testing.T) {
	eng := newFakeEngine()
	c := smallCell("fake", matrix.PatternPair, matrix.ProtocolTCP, 8, 1)
	c.Workload.ThroughputDuration = matrix.Duration(time.Second) // both set
	if _, err := runner.RunCell(context.Background(), eng, c, runner.CellOptions{}); !errors.Is(err, runner.ErrBadWorkload) {
		t.Fatalf("err = %v, want ErrBadWorkload", err)
	}
	c = smallCell("fake", "fan-out", matrix.ProtocolTCP, 8, 1)
	if _, err := runner.RunCell(context.Background(), eng, c, runner.CellOptions{}); !errors.Is(err, runner.ErrUnknownPattern) {
		t.Fatalf("err = %v, want ErrUnknownPattern", err)
	}
}
