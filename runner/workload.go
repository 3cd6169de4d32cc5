package runner

import (
	"errors"
	"fmt"
	"os"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"zbench/matrix"
	"zbench/runner/sample"
)

// ErrWrongSize is returned when a received data message does not have the
// cell's message size.
var ErrWrongSize = errors.New("runner: message of the wrong size")

// ErrLostMessages is returned when a reliable pattern delivers fewer
// messages than were sent.
var ErrLostMessages = errors.New("runner: messages lost")

// ErrMarkerNotSeen is returned when a lossy link's receiver never saw the
// end-of-stream marker within the grace period.
var ErrMarkerNotSeen = errors.New("runner: end-of-stream marker not seen")

// ErrBadWorkload is returned for a cell whose workload cannot run.
var ErrBadWorkload = errors.New("runner: bad workload")

// Histogram range of round-trip times, in nanoseconds.
const (
	histLowestNs  = 1
	histHighestNs = int64(10 * time.Minute)
	histSigFigs   = 3
)

// warmRoundTrips bounds the round trips of warm-up for the streaming
// patterns, which bring the echo path's connection up before measuring.
const warmRoundTrips = 10

// CellOptions tunes how RunCell runs a cell.
type CellOptions struct {
	// IPCDir is the directory of ipc endpoints; "" means os.TempDir().
	IPCDir string
	// MarkerInterval is how often a lossy link repeats a marker or probe
	// until the receiver has seen it; 0 means 1 ms.
	MarkerInterval time.Duration
	// MarkerGrace is how long a lossy link keeps repeating before the run
	// fails with ErrMarkerNotSeen; 0 means 10 s.
	MarkerGrace time.Duration
	// Profile names the profiles to write of the measured phases, if any.
	Profile *JobProfile
	// BindAddress is where the receiver binds; "" means 127.0.0.1.
	BindAddress string
	// SeparateClocks: the other side runs on another host.
	SeparateClocks bool
}

func (o CellOptions) withDefaults() CellOptions {
	if o.IPCDir == "" {
		o.IPCDir = os.TempDir()
	}
	if o.MarkerInterval <= 0 {
		o.MarkerInterval = time.Millisecond
	}
	if o.MarkerGrace <= 0 {
		o.MarkerGrace = 10 * time.Second
	}
	return o
}

// checkWorkload rejects cells that cannot run, before opening anything.
func checkWorkload(c matrix.Cell) error {
	w := c.Workload
	switch {
	case c.Sockets < 1:
		return fmt.Errorf("%w: sockets %d, want >= 1", ErrBadWorkload, c.Sockets)
	case c.Size < 0:
		return fmt.Errorf("%w: size %d, want >= 0", ErrBadWorkload, c.Size)
	case w.WarmupMessages < 0 || w.ThroughputMessages < 0 || w.LatencyRoundTrips < 0 || w.ThroughputDuration < 0:
		return fmt.Errorf("%w: negative count or duration", ErrBadWorkload)
	case (w.ThroughputMessages > 0) == (w.ThroughputDuration > 0):
		return fmt.Errorf("%w: exactly one of throughput_messages and throughput_duration must be > 0", ErrBadWorkload)
	}
	return nil
}

// latencyOf merges the links' histograms into the latency section.
func latencyOf(hs []*hdrhistogram.Histogram) sample.Latency {
	all := hdrhistogram.New(histLowestNs, histHighestNs, histSigFigs)
	for _, h := range hs {
		if h != nil {
			all.Merge(h)
		}
	}
	n := all.TotalCount()
	if n == 0 {
		return sample.Latency{}
	}
	mean := all.Mean()
	return sample.Latency{
		RoundTrips:   n,
		RTTP50Ns:     all.ValueAtQuantile(50),
		RTTP99Ns:     all.ValueAtQuantile(99),
		RTTP999Ns:    all.ValueAtQuantile(99.9),
		RTTMaxNs:     all.Max(),
		RTTMeanNs:    mean,
		OneWayMeanNs: mean / 2,
	}
}
