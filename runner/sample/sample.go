// Package sample holds what one run of one cell measured: the record the
// runner produces, results.json stores and report aggregates. It is a leaf:
// it imports only matrix (for axis names), so that reading results never
// pulls in the runner, its engines or cgo.
package sample

import (
	"slices"
	"strings"
	"time"

	"zbench/matrix"
)

// Run statuses. Only StatusOK samples carry measurements.
const (
	StatusOK          = "ok"
	StatusFailed      = "failed"      // a worker exited non-zero, crashed or reported an error
	StatusTimeout     = "timeout"     // the run outlived the cell's timeout and its workers were killed
	StatusUnsupported = "unsupported" // the engine cannot run this cell (reason in Error)
	StatusInterrupted = "interrupted" // stopped by SIGINT/SIGTERM
)

// Side roles. With two processes a cell has a sender side (the stream's
// sender and the client of round trips) and a receiver side (the stream's
// receiver, which binds every endpoint, and the echo of round trips); with
// one process both ends run in one worker, whose side is RoleBoth.
const (
	RoleSender   = "sender"
	RoleReceiver = "receiver"
	RoleBoth     = "both"
)

// Sample is the outcome of one run of one cell. Workers report their sides;
// the parent assembles the sample and adds what only it can see (each
// worker's rusage, wall time, stderr, status on failure).
type Sample struct {
	Cell      string    `json:"cell"` // matrix.Cell.ID()
	Run       int       `json:"run"`  // 1-based run index
	Status    string    `json:"status"`
	Error     string    `json:"error,omitempty"`
	Stderr    string    `json:"stderr,omitempty"` // workers' stderr, kept when the run failed
	StartedAt time.Time `json:"started_at"`
	WallNs    int64     `json:"wall_ns"` // first spawn to last exit, seen by the parent
	// Processes is the topology the run used: 2 (one worker per side) or 1
	// (both sides in one worker).
	Processes int `json:"processes"`
	// HarnessOverheadNs is the time from spawning the workers to the first
	// measured message (process start, set-up, connection, warm-up).
	HarnessOverheadNs int64 `json:"harness_overhead_ns"`
	// Notes are remarks about how the cell ran, for example an axis value the
	// engine cannot honour and that is therefore not applicable ("n/a").
	Notes []string `json:"notes,omitempty"`

	Throughput Throughput `json:"throughput"`
	Latency    Latency    `json:"latency"`
	// Load is the open-loop latency of the throughput phase of a cell with
	// a rate; nil for an as-fast-as-possible stream.
	Load *Load `json:"load,omitempty"`
	// Resources are the whole-run totals over every worker of the run.
	Resources Resources `json:"resources"`
	// Sides holds each worker's own report: sender then receiver with two
	// processes, one RoleBoth side with one.
	Sides []Side `json:"sides"`
	// Engine is the write-path telemetry of the throughput phase (what
	// batching did to a stream); LatencyEngine that of the latency phase
	// (whether round trips took the immediate path). Both are summed over
	// every socket of both sides.
	Engine        Telemetry `json:"engine_telemetry"`
	LatencyEngine Telemetry `json:"latency_engine_telemetry"`
	// Runtime sums the Go runtime figures of the sides over the measured
	// phases.
	Runtime Runtime `json:"go_runtime"`
}

// Throughput is the one-way streaming phase, totals over all socket pairs.
// Seconds runs from the sender's first send to the receiver's last receive,
// both read from the host's monotonic clock (CLOCK_MONOTONIC), which the
// two processes of a run share.
type Throughput struct {
	Messages   int64   `json:"messages"`
	Bytes      int64   `json:"bytes"`
	Seconds    float64 `json:"seconds"`
	MsgsPerSec float64 `json:"msgs_per_sec"`
	MBPerSec   float64 `json:"mb_per_sec"` // 10^6 bytes of message body per second
	// RecvSeconds is the receiver's own interval, first receive to last.
	RecvSeconds float64 `json:"recv_seconds"`
	// SendSeconds is the senders' interval, first send to last send.
	SendSeconds float64 `json:"send_seconds"`
	// Sent is the number of messages the senders sent in the phase; for
	// req-rep, messages of the round trips started (two per round trip).
	Sent int64 `json:"sent"`
	// Dropped is Sent - Messages for pub-sub, whose PUB drops messages at
	// the high-water mark; always 0 for the other patterns, where a lost
	// message fails the run.
	Dropped int64 `json:"dropped"`
	// Problem says why the phase measured no rate (too short to be more
	// than a drain of socket buffers); MsgsPerSec and MBPerSec are then 0.
	Problem string `json:"problem,omitempty"`
	// Clock says how Seconds was timed when not from the sender's first
	// send to the receiver's last receive: with the sides on different
	// hosts there is no clock both read, and the rate is timed on the
	// receiver's alone, first receive to last ("receiver").
	Clock string `json:"clock,omitempty"`
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

// Load is latency under load: during an open-loop throughput phase the
// sender sends every message at its scheduled time (or as soon as it can
// when it has fallen behind), and the receiver records, for every message,
// its receive time minus its intended send time, so that a stall counts for
// every message it delays (no coordinated omission). Times are the host's
// monotonic clock, which both processes share.
type Load struct {
	// Kind is what was timed: LoadOneWay (the default, "") from the intended
	// send time to the receiver's receive, or LoadRoundTrip from the
	// intended send time to the sender's receipt of the receiver's echo,
	// when the sides run on hosts that share no clock.
	Kind string `json:"kind,omitempty"`
	// Rate is the schedule, messages per second per pair.
	Rate int `json:"rate"`
	// Messages is how many latencies were recorded.
	Messages int64   `json:"messages"`
	P50Ns    int64   `json:"p50_ns"`
	P99Ns    int64   `json:"p99_ns"`
	P999Ns   int64   `json:"p999_ns"`
	P9999Ns  int64   `json:"p9999_ns"`
	MaxNs    int64   `json:"max_ns"`
	MeanNs   float64 `json:"mean_ns"`
	// MaxLagNs is how far behind its schedule the sender sent a message at
	// worst; Behind says it fell behind for good (its last message went out
	// more than max(1 ms, 1 % of the phase) late, or the phase's time was up
	// before its schedule was): the rate was past what the sender side could
	// carry, and latency kept counting from the intended times.
	MaxLagNs int64 `json:"max_lag_ns"`
	Behind   bool  `json:"behind"`
	// Unsent counts the messages of a duration-bounded schedule the sender
	// had not sent when the phase's time was up (it was behind); they have
	// no latency.
	Unsent int64 `json:"unsent,omitempty"`
	// NA says why no latency was recorded (messages too small to carry a
	// sequence number); the other fields are then zero.
	NA string `json:"na,omitempty"`
}

// Kinds of Load.
const (
	LoadOneWay    = ""
	LoadRoundTrip = "round trip"
)

// Resources are the whole-run totals the parent measures from every
// worker's rusage: CPU of all workers, the sum of their peak RSS.
type Resources struct {
	UserCPUNs    int64   `json:"user_cpu_ns"`
	SysCPUNs     int64   `json:"sys_cpu_ns"`
	CPUPercent   float64 `json:"cpu_percent"`    // (user+sys) / wall, 100 = one core
	CPUNsPerMsg  float64 `json:"cpu_ns_per_msg"` // (user+sys) / messages of both phases
	PeakRSSBytes int64   `json:"peak_rss_bytes"` // sum over workers of ru_maxrss
	// RSSGrowthBytes sums, over workers, peak RSS minus the RSS the worker
	// had at start-up, before it opened a socket.
	RSSGrowthBytes int64 `json:"rss_growth_bytes"`
	// AffinityMask is the CPU list the parent asked for (or inherited), as
	// `taskset -c` writes it; each side's own mask is in Sides.
	AffinityMask string `json:"affinity,omitempty"`
}

// Side is one worker's report of its side of a run.
type Side struct {
	Role   string `json:"role"`   // RoleSender, RoleReceiver or RoleBoth
	Engine string `json:"engine"` // the engine this side's sockets ran on
	// Host is where the worker ran: "local" or an SSH destination ("" in
	// results that never placed sides elsewhere).
	Host string `json:"host,omitempty"`
	PID  int    `json:"pid"`
	// GOMAXPROCS and Affinity are what the worker ran with, read inside it.
	GOMAXPROCS int    `json:"gomaxprocs"`
	Affinity   string `json:"affinity"`
	// StartRSSBytes is the worker's resident set at start-up, before it
	// opened a socket.
	StartRSSBytes int64 `json:"start_rss_bytes"`
	// Whole-process figures, measured by the parent from the exited
	// worker's rusage.
	UserCPUNs    int64 `json:"user_cpu_ns"`
	SysCPUNs     int64 `json:"sys_cpu_ns"`
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// Throughput and Latency are what the worker measured of itself over
	// each phase (getrusage and the Go runtime at the phase's boundaries).
	Throughput Usage `json:"throughput"`
	Latency    Usage `json:"latency"`
	// Memory is the worker's resident set and Go heap over its life,
	// sampled every 10 ms (thinned to at most 512 points, each keeping the
	// largest values it stands for); SeriesPeakRSSBytes is its largest RSS.
	Memory             []MemPoint `json:"memory,omitempty"`
	SeriesPeakRSSBytes int64      `json:"series_peak_rss_bytes,omitempty"`
}

// MemPoint is one sample of a worker's memory. TimeNs is the host's
// monotonic clock, shared by the workers of a run.
type MemPoint struct {
	TimeNs    int64 `json:"t_ns"`
	RSSBytes  int64 `json:"rss"`
	HeapBytes int64 `json:"heap,omitempty"` // Go heap objects; 0 for a C side
}

// PeakRSS is the largest RSS of a series.
func PeakRSS(pts []MemPoint) int64 {
	var m int64
	for _, p := range pts {
		m = max(m, p.RSSBytes)
	}
	return m
}

// Usage is a worker's own consumption over one phase.
type Usage struct {
	UserCPUNs int64 `json:"user_cpu_ns"`
	SysCPUNs  int64 `json:"sys_cpu_ns"`
	// PeakRSSBytes is the process's peak resident set at the end of the
	// phase (ru_maxrss: a high-water mark since start-up).
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// RSSBytes is the resident set at the end of the phase.
	RSSBytes int64   `json:"rss_bytes"`
	Runtime  Runtime `json:"go_runtime"`
	// Telemetry is the engine's counters over the phase, summed over this
	// side's sockets.
	Telemetry Telemetry `json:"engine_telemetry"`
}

// CPUNs is user+sys CPU time.
func (u Usage) CPUNs() int64 { return u.UserCPUNs + u.SysCPUNs }

// Telemetry is the engine's write-path telemetry summed over sockets,
// counted over one measured phase. Available is false for engines that
// expose none.
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

// Plus returns the sum of two telemetry records; Available only if both are.
func (t Telemetry) Plus(o Telemetry) Telemetry {
	if !t.Available || !o.Available {
		return Telemetry{}
	}
	t.MsgsOut += o.MsgsOut
	t.BytesOut += o.BytesOut
	t.Writes += o.Writes
	t.BatchedWrites += o.BatchedWrites
	t.ImmediateWrites += o.ImmediateWrites
	t.PartialHandoffs += o.PartialHandoffs
	t.MsgsIn += o.MsgsIn
	t.BytesIn += o.BytesIn
	t.Reads += o.Reads
	t.MsgsPerWrite = msgsPerWrite(t.MsgsOut, t.Writes)
	return t
}

// Minus returns the counters accumulated between o and t (t later).
func (t Telemetry) Minus(o Telemetry) Telemetry {
	if !t.Available || !o.Available {
		return Telemetry{}
	}
	d := Telemetry{
		Available:       true,
		MsgsOut:         t.MsgsOut - o.MsgsOut,
		BytesOut:        t.BytesOut - o.BytesOut,
		Writes:          t.Writes - o.Writes,
		BatchedWrites:   t.BatchedWrites - o.BatchedWrites,
		ImmediateWrites: t.ImmediateWrites - o.ImmediateWrites,
		PartialHandoffs: t.PartialHandoffs - o.PartialHandoffs,
		MsgsIn:          t.MsgsIn - o.MsgsIn,
		BytesIn:         t.BytesIn - o.BytesIn,
		Reads:           t.Reads - o.Reads,
	}
	d.MsgsPerWrite = msgsPerWrite(d.MsgsOut, d.Writes)
	return d
}

func msgsPerWrite(msgs, writes uint64) float64 {
	if writes == 0 {
		return 0
	}
	return float64(msgs) / float64(writes)
}

// Runtime holds Go runtime figures of a worker over the measured phases.
// Reported is false for a worker that is not a Go program (libzmq's C
// programs).
type Runtime struct {
	Reported     bool    `json:"reported"`
	GCCycles     uint32  `json:"gc_cycles"`
	GCPauseNs    uint64  `json:"gc_pause_ns"`
	Mallocs      uint64  `json:"mallocs"`
	AllocsPerMsg float64 `json:"allocs_per_msg"`
}

// Plus returns the sum of two runtime records; Reported if either is.
func (r Runtime) Plus(o Runtime) Runtime {
	return Runtime{
		Reported:  r.Reported || o.Reported,
		GCCycles:  r.GCCycles + o.GCCycles,
		GCPauseNs: r.GCPauseNs + o.GCPauseNs,
		Mallocs:   r.Mallocs + o.Mallocs,
	}
}

// Side returns the side with the given role.
func (s *Sample) Side(role string) (*Side, bool) {
	for i := range s.Sides {
		if s.Sides[i].Role == role {
			return &s.Sides[i], true
		}
	}
	return nil, false
}

// MessagesMoved is the number of messages the measured phases carried: the
// throughput phase's delivered messages plus two per latency round trip
// (request and echo). CPU and allocations per message are divided by it.
func (s *Sample) MessagesMoved() int64 {
	return s.Throughput.Messages + 2*s.Latency.RoundTrips
}

// notApplicablePrefix starts a note that names axes the engine cannot set.
const notApplicablePrefix = "n/a: "

// NoteNotApplicable formats the note an engine gives, as the reason of a
// cell it supports, when it runs the cell without being able to set the
// named axes: "n/a: out_batch_size, write_batching: why". Results show those
// axes as n/a for the cell. Axes are matrix axis names.
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
