package runner

import (
	"slices"
	"strings"
	"time"

	"zbench/matrix"
)

// Run statuses. Only StatusOK samples carry measurements.
const (
	StatusOK          = "ok"
	StatusFailed      = "failed"      // the worker exited non-zero, crashed or reported an error
	StatusTimeout     = "timeout"     // the worker outlived the cell's timeout and was killed
	StatusUnsupported = "unsupported" // the engine cannot run this cell (reason in Error)
	StatusInterrupted = "interrupted" // stopped by SIGINT/SIGTERM
)

// Sample is the outcome of one run of one cell. The worker fills the
// measurement sections and prints the sample as JSON on stdout; the parent adds
// what only it can see (Resources, wall time, stderr, status on failure).
type Sample struct {
	Cell      string    `json:"cell"` // matrix.Cell.ID()
	Run       int       `json:"run"`  // 1-based run index
	Status    string    `json:"status"`
	Error     string    `json:"error,omitempty"`
	Stderr    string    `json:"stderr,omitempty"` // worker stderr, kept when the run failed
	StartedAt time.Time `json:"started_at"`
	WallNs    int64     `json:"wall_ns"` // spawn to exit, seen by the parent
	// HarnessOverheadNs is the time from spawning the worker to the first
	// measured message (process start, JSON decode, connection set-up).
	HarnessOverheadNs int64 `json:"harness_overhead_ns"`
	// FirstMessageUnixNs is the wall-clock time (Unix ns) at which the worker
	// sent the first message of the throughput phase; the parent computes
	// HarnessOverheadNs from it. Set by the worker.
	FirstMessageUnixNs int64 `json:"first_message_unix_ns,omitempty"`
	// Notes are remarks about how the cell ran, for example an axis value the
	// engine cannot honour and that is therefore not applicable ("n/a").
	Notes []string `json:"notes,omitempty"`

	Throughput Throughput `json:"throughput"`
	Latency    Latency    `json:"latency"`
	Resources  Resources  `json:"resources"`
	// Engine is the write-path telemetry of the throughput phase (what
	// batching did to a stream); LatencyEngine that of the latency phase
	// (whether round trips took the immediate path).
	Engine        Telemetry `json:"engine_telemetry"`
	LatencyEngine Telemetry `json:"latency_engine_telemetry"`
	Runtime       Runtime   `json:"go_runtime"`
}

// Throughput is the one-way streaming phase: totals over all socket pairs,
// timed from the first message received to the last.
type Throughput struct {
	Messages   int64   `json:"messages"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	MBPerSec   float64 `json:"mb_per_sec"` // 10^6 bytes of message body per second
	// Sent is the number of messages the senders sent in the phase; for
	// req-rep, round trips started.
	Sent int64 `json:"sent"`
	// Dropped is Sent - Messages for pub-sub, whose PUB drops messages at
	// the high-water mark; always 0 for the other patterns, where a lost
	// message fails the run.
	Dropped int64 `json:"dropped"`
}

// Latency is the request/echo phase: round-trip times of every socket pair,
// merged into one histogram. OneWayMeanNs is RTT mean / 2, the figure
// libzmq's perf tools print as "average latency".
type Latency struct {
	RoundTrips   int64   `json:"round_trips"`
	RTTP50Ns     int64   `json:"rtt_p50_ns"`
	RTTP99Ns     int64   `json:"rtt_p99_ns"`
	RTTP999Ns    int64   `json:"rtt_p999_ns"`
	RTTMaxNs     int64   `json:"rtt_max_ns"`
	RTTMeanNs    float64 `json:"rtt_mean_ns"`
	OneWayMeanNs float64 `json:"one_way_mean_ns"`
}

// Resources are measured by the parent from the worker's rusage.
type Resources struct {
	UserCPUNs    int64   `json:"user_cpu_ns"`
	SysCPUNs     int64   `json:"sys_cpu_ns"`
	CPUPercent   float64 `json:"cpu_percent"`        // (user+sys) / wall, 100 = one core
	CPUNsPerMsg  float64 `json:"cpu_ns_per_msg"`     // (user+sys) / messages of both phases
	PeakRSSBytes int64   `json:"peak_rss_bytes"`     // ru_maxrss
	AffinityMask string  `json:"affinity,omitempty"` // CPUs the worker was allowed to run on
}

// Telemetry is the engine's write-path telemetry summed over every socket of
// every pair (both ends, both directions), counted over one measured phase
// (Sample.Engine: throughput; Sample.LatencyEngine: latency; warm-up in
// neither). Available is false for engines that expose none.
type Telemetry struct {
	Available       bool    `json:"available"`
	MsgsOut         uint64  `json:"msgs_out"`
	BytesOut        uint64  `json:"bytes_out"`
	Writes          uint64  `json:"writes"`
	BatchedWrites   uint64  `json:"batched_writes"`
	ImmediateWrites uint64  `json:"immediate_writes"`
	PartialHandoffs uint64  `json:"partial_handoffs"`
	MsgsIn          uint64  `json:"msgs_in"`
	BytesIn         uint64  `json:"bytes_in"`
	Reads           uint64  `json:"reads"`
	MsgsPerWrite    float64 `json:"msgs_per_write"`
}

// Runtime holds Go runtime figures of the worker over the measured phases.
type Runtime struct {
	GCCycles     uint32  `json:"gc_cycles"`
	GCPauseNs    uint64  `json:"gc_pause_ns"`
	Mallocs      uint64  `json:"mallocs"`
	AllocsPerMsg float64 `json:"allocs_per_msg"`
}

// notApplicablePrefix starts a note that names axes the engine cannot set.
const notApplicablePrefix = "n/a: "

// NoteNotApplicable formats the note an engine gives, as the reason of a
// cell it supports (see Engine.Supports), when it runs the cell without being
// able to set the named axes: "n/a: out_batch_size, write_batching: why".
// Results show those axes as n/a for the cell. Axes are matrix axis names.
func NoteNotApplicable(why string, axes ...string) string {
	return notApplicablePrefix + strings.Join(axes, ", ") + ": " + why
}

// ParseNotApplicable reads a note made by NoteNotApplicable back: the axes it
// names and why. ok is false for any other note, and for a note that names
// no known axis.
func ParseNotApplicable(note string) (axes []string, why string, ok bool) {
	rest, found := strings.CutPrefix(note, notApplicablePrefix)
	if !found {
		return nil, "", false
	}
	list, why, found := strings.Cut(rest, ": ")
	if !found {
		return nil, "", false
	}
	for a := range strings.SplitSeq(list, ", ") {
		if !slices.Contains(matrix.Axes, a) {
			return nil, "", false
		}
		axes = append(axes, a)
	}
	return axes, why, len(axes) > 0
}

// NotApplicable returns the axes the sample's notes mark as not applicable
// (see NoteNotApplicable), once each, in matrix.Axes order; nil when none.
func (s *Sample) NotApplicable() []string {
	var out []string
	for _, n := range s.Notes {
		axes, _, ok := ParseNotApplicable(n)
		if !ok {
			continue
		}
		for _, a := range axes {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	slices.SortFunc(out, func(a, b string) int {
		return slices.Index(matrix.Axes, a) - slices.Index(matrix.Axes, b)
	})
	return out
}
