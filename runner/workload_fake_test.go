package runner_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/sample"
)

func fakeCell(pattern string, sockets int) matrix.Cell {
	c := smallCell("fake", pattern, matrix.ProtocolTCP, 16, sockets)
	c.Workload.WarmupMessages = 20
	c.Workload.ThroughputMessages = 100
	c.Workload.LatencyRoundTrips = 10
	return c
}

func runFake(t *testing.T, e *fakeEngine, c matrix.Cell, o runner.CellOptions) (sample.Sample, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return runner.RunCell(ctx, e, c, o)
}

func TestRunCellEveryPatternFake(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	for _, pattern := range matrix.Patterns {
		t.Run(pattern, func(t *testing.T) {
			c := fakeCell(pattern, 3)
			s, err := runFake(t, newFakeEngine(), c, runner.CellOptions{})
			if err != nil {
				t.Fatal(err)
			}
			checkSample(t, c, s)
		})
	}
}

// The telemetry covers the measured phases only, each on its own: per pair,
// the stream and its end marker in the throughput phase, then every request,
// echo and the stop exchange in the latency phase. Warm-up is in neither.
func TestRunCellTelemetryWindow(t *testing.T) {
	c := fakeCell(matrix.PatternPair, 2)
	s, err := runFake(t, newFakeEngine(), c, runner.CellOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w := c.Workload
	want := uint64(c.Sockets * (w.ThroughputMessages + 1))
	if !s.Engine.Available || s.Engine.MsgsOut != want || s.Engine.MsgsIn != want {
		t.Fatalf("throughput telemetry = %+v, want %d messages out and in", s.Engine, want)
	}
	wantLat := uint64(c.Sockets * (2*w.LatencyRoundTrips + 2))
	if !s.LatencyEngine.Available || s.LatencyEngine.MsgsOut != wantLat || s.LatencyEngine.MsgsIn != wantLat {
		t.Fatalf("latency telemetry = %+v, want %d messages out and in", s.LatencyEngine, wantLat)
	}
	if s.Engine.MsgsPerWrite != 1 {
		t.Errorf("msgs per write = %v, want 1 (one write per message in the fake)", s.Engine.MsgsPerWrite)
	}
}

// A PUB that drops at its high-water mark: the drops are counted, the run
// neither fails nor waits for them.
func TestRunCellPubSubDrops(t *testing.T) {
	c := fakeCell(matrix.PatternPubSub, 1)
	w := c.Workload
	// Data messages of one pair, in order: warm-up stream, warm-up round
	// trips (request and echo), then the throughput stream.
	from := int64(w.WarmupMessages + 2*min(w.WarmupMessages, 10))
	to := from + int64(w.ThroughputMessages)
	e := newFakeEngine()
	e.drop = func(kind string, n int64) bool {
		return kind == runner.KindPub && n > from && n <= to && n%7 == 0
	}
	var want int64
	for n := from + 1; n <= to; n++ {
		if n%7 == 0 {
			want++
		}
	}
	s, err := runFake(t, e, c, runner.CellOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tp := s.Throughput
	if tp.Dropped != want || tp.Sent != int64(w.ThroughputMessages) || tp.Messages != tp.Sent-want {
		t.Fatalf("throughput = %+v, want %d dropped of %d", tp, want, w.ThroughputMessages)
	}
}

func TestRunCellLostMessageFailsReliablePattern(t *testing.T) {
	c := fakeCell(matrix.PatternPushPull, 1)
	e := newFakeEngine()
	e.drop = func(kind string, n int64) bool { return n == int64(c.Workload.WarmupMessages)+30+5 }
	_, err := runFake(t, e, c, runner.CellOptions{})
	if !errors.Is(err, runner.ErrLostMessages) {
		t.Fatalf("err = %v, want ErrLostMessages", err)
	}
}

func TestRunCellWrongSizeFails(t *testing.T) {
	for _, at := range []int64{5, 60, 150} { // warm-up, throughput, latency
		c := fakeCell(matrix.PatternDealerRouter, 1)
		e := newFakeEngine()
		e.shrinkAt = at
		_, err := runFake(t, e, c, runner.CellOptions{})
		if !errors.Is(err, runner.ErrWrongSize) {
			t.Fatalf("message %d shrunk: err = %v, want ErrWrongSize", at, err)
		}
	}
}

func TestRunCellThroughputDuration(t *testing.T) {
	c := fakeCell(matrix.PatternPushPull, 2)
	c.Workload.ThroughputMessages = 0
	c.Workload.ThroughputDuration = matrix.Duration(30 * time.Millisecond)
	s, err := runFake(t, newFakeEngine(), c, runner.CellOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tp := s.Throughput
	if tp.Messages == 0 || tp.Messages != tp.Sent || tp.Seconds <= 0 || tp.Seconds > 5 {
		t.Fatalf("throughput = %+v, want a timed stream of about 30ms", tp)
	}
}

// A link that never delivers: cancelling the context ends the run at once.
func TestRunCellCancelUnblocks(t *testing.T) {
	c := fakeCell(matrix.PatternPair, 2)
	e := newFakeEngine()
	e.drop = func(string, int64) bool { return true }
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := runner.RunCell(ctx, e, c, runner.CellOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the context's error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("RunCell took %v after cancellation", d)
	}
}

// A PUB whose subscriber never sees anything fails after the grace period
// instead of hanging.
func TestRunCellLossyGrace(t *testing.T) {
	c := fakeCell(matrix.PatternPubSub, 1)
	e := newFakeEngine()
	e.drop = func(kind string, _ int64) bool { return kind == runner.KindPub }
	_, err := runFake(t, e, c, runner.CellOptions{MarkerGrace: 50 * time.Millisecond})
	if !errors.Is(err, runner.ErrMarkerNotSeen) {
		t.Fatalf("err = %v, want ErrMarkerNotSeen", err)
	}
}

// Open loop: a receiver that stops reading for 50 ms once delays every
// message scheduled during the stall. With a queue of 16 messages the
// sender blocks too, so most of those messages go out late, in a burst once
// the stall is over: timed from when they were sent they would look fast
// (coordinated omission); timed from their intended send times, the stall
// shows in the p99 (about an eighth of the messages were scheduled during
// it).
func TestRunCellOpenLoopCountsAStallForEveryMessage(t *testing.T) {
	c := fakeCell(matrix.PatternPushPull, 1)
	c.Rate = 10000
	c.Workload.ThroughputMessages = 4000 // 400 ms of schedule, all of it sent
	c.Workload.LatencyRoundTrips = 200
	e := newFakeEngine()
	e.queueDepth = 16
	e.stallAt, e.stall = 1500, 50*time.Millisecond
	s, err := runFake(t, e, c, runner.CellOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := s.Load
	if l == nil || l.NA != "" || l.Messages != 4000 || l.Rate != 10000 {
		t.Fatalf("load %+v, want 4000 latencies at 10000/s", l)
	}
	if l.P99Ns < int64(25*time.Millisecond) || l.MaxNs < int64(45*time.Millisecond) {
		t.Errorf("p99 %v, max %v: the 50 ms stall shows for one message only (coordinated omission)",
			time.Duration(l.P99Ns), time.Duration(l.MaxNs))
	}
	if l.P50Ns > int64(10*time.Millisecond) {
		t.Errorf("p50 %v: most messages were not delayed", time.Duration(l.P50Ns))
	}
	// The sender was held back by the full queue during the stall.
	if l.MaxLagNs < int64(30*time.Millisecond) {
		t.Errorf("the sender's worst lag %v: it was not held back by the stall", time.Duration(l.MaxLagNs))
	}
}

// A schedule faster than the sender can go: it falls behind, says so, and
// the latency keeps counting from the intended times.
func TestRunCellOpenLoopBehind(t *testing.T) {
	c := fakeCell(matrix.PatternPushPull, 1)
	c.Rate = 20_000_000
	c.Workload.ThroughputMessages = 0
	c.Workload.ThroughputDuration = matrix.Duration(50 * time.Millisecond)
	s, err := runFake(t, newFakeEngine(), c, runner.CellOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l := s.Load
	if l == nil || !l.Behind || l.MaxLagNs <= 0 || l.MaxNs < l.MaxLagNs/2 {
		t.Errorf("load %+v: want the sender behind, with the lag in the latencies", l)
	}
	// The schedule (a million messages) ends with the phase's 50 ms.
	if l.Unsent <= 0 || s.Throughput.Sent+l.Unsent != 1_000_000 {
		t.Errorf("sent %d, unsent %d: want the 1000000 scheduled, the rest unsent", s.Throughput.Sent, l.Unsent)
	}
}

// Messages too small for a sequence number: the rate still paces the
// stream, and the latency is n/a with the reason.
func TestRunCellOpenLoopSmallMessages(t *testing.T) {
	c := fakeCell(matrix.PatternPair, 1)
	c.Size, c.Rate = 4, 20000
	c.Workload.ThroughputMessages = 0
	c.Workload.ThroughputDuration = matrix.Duration(100 * time.Millisecond)
	s, err := runFake(t, newFakeEngine(), c, runner.CellOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Load == nil || s.Load.Messages != 0 || !strings.Contains(s.Load.NA, "sequence number") {
		t.Errorf("load %+v, want n/a with the reason", s.Load)
	}
	if got := s.Throughput.Messages + s.Load.Unsent; got != 2000 {
		t.Errorf("%d messages delivered and %d unsent, want the 2000 scheduled", s.Throughput.Messages, s.Load.Unsent)
	}
}

// Sides that share no clock (on different hosts) time open-loop round trips
// instead: every message is echoed and timed by the sender, from its
// intended send time to the echo, on the sender's clock alone; the rate is
// timed on the receiver's clock.
func TestRunCellOpenLoopRoundTripsWithoutASharedClock(t *testing.T) {
	for _, size := range []int{12, 64} { // sequence number only; and with the intended time
		c := fakeCell(matrix.PatternPushPull, 2)
		c.Size, c.Rate = size, 5000
		c.Workload.ThroughputMessages = 500
		s, err := runFake(t, newFakeEngine(), c, runner.CellOptions{SeparateClocks: true})
		if err != nil {
			t.Fatal(err)
		}
		l := s.Load
		if l == nil || l.Kind != sample.LoadRoundTrip || l.NA != "" || l.Messages != 1000 || l.P50Ns <= 0 || l.MaxNs < l.P50Ns {
			t.Errorf("%d B: load %+v, want 1000 open-loop round trips", size, l)
		}
		if s.Throughput.Clock != "receiver" || s.Throughput.Messages != 1000 {
			t.Errorf("%d B: throughput %+v, want 1000 messages timed on the receiver's clock", size, s.Throughput)
		}
	}
}
