package report

import "zbench/runner/sample"

// Better says which direction of a metric is an improvement.
type Better string

// The directions a metric can improve in. Informational metrics (how many
// writes took which path) have none: they explain a change, they are never
// judged as one.
const (
	HigherIsBetter Better = "higher"
	LowerIsBetter  Better = "lower"
	Informational  Better = "none"
)

// Metric describes one figure read from every ok sample of a cell: its stable
// name (the key in results.json and in comparisons), the unit people read it
// in, which direction is better, the unit of its benchmark_result.txt column,
// and how it is read from a sample.
type Metric struct {
	// Name is the stable snake_case name, e.g. "rtt_p99_ns".
	Name string
	// Unit is the unit of the raw value, e.g. "ns", "msg/s", "B", "%".
	Unit string
	// Better says whether higher or lower values are an improvement.
	Better Better
	// BenchUnit is the metric's unit for benchmark_result.txt, e.g.
	// "p99-ns"; the file has it in base units (BenchfmtUnit: "p99-sec").
	BenchUnit string
	// Doc is a one-line definition, repeated in the Markdown legend.
	Doc string
	// Read returns the metric's value in s, and false when s does not carry
	// it (the phase did not run, telemetry is unavailable, the parent could
	// not measure it). An absent metric is never reported as zero.
	Read func(s *sample.Sample) (float64, bool)
	// Since is the results schema version in which the metric took its
	// present definition; compare refuses to judge it between result sets
	// on either side of that version. Changed says what changed.
	Since   int
	Changed string
}

// Stable metric names.
const (
	MetricMsgsPerSec        = "msgs_per_sec"
	MetricMBPerSec          = "mb_per_sec"
	MetricRTTP50            = "rtt_p50_ns"
	MetricRTTP99            = "rtt_p99_ns"
	MetricRTTP999           = "rtt_p999_ns"
	MetricRTTMax            = "rtt_max_ns"
	MetricRTTMean           = "rtt_mean_ns"
	MetricOneWayMean        = "one_way_mean_ns"
	MetricCPUPercent        = "cpu_percent"
	MetricCPUNsPerMsg       = "cpu_ns_per_msg"
	MetricRSSBytes          = "rss_bytes"
	MetricMsgsPerWrite      = "msgs_per_write"
	MetricImmediateWrites   = "immediate_writes"
	MetricBatchedWrites     = "batched_writes"
	MetricPartialHandoffs   = "partial_handoffs"
	MetricLatencyImmediate  = "latency_immediate_pct"
	MetricGCCycles          = "gc_cycles"
	MetricGCPauseNs         = "gc_pause_ns"
	MetricAllocsPerMsg      = "allocs_per_msg"
	MetricHarnessOverheadNs = "harness_overhead_ns"

	MetricSenderCPUNsPerMsg   = "sender_cpu_ns_per_msg"
	MetricReceiverCPUNsPerMsg = "receiver_cpu_ns_per_msg"
	MetricSenderRSSBytes      = "sender_rss_bytes"
	MetricReceiverRSSBytes    = "receiver_rss_bytes"
	MetricRSSGrowthBytes      = "rss_growth_bytes"

	MetricLoadP50       = "load_latency_p50_ns"
	MetricLoadP99       = "load_latency_p99_ns"
	MetricLoadP999      = "load_latency_p999_ns"
	MetricLoadP9999     = "load_latency_p9999_ns"
	MetricLoadMax       = "load_latency_max_ns"
	MetricScheduleLagNs = "schedule_lag_max_ns"
)

// hasThroughput reports whether the throughput phase measured a rate: it
// delivered messages, was timed, and was long enough to be more than a drain
// of socket buffers (no Problem).
func hasThroughput(s *sample.Sample) bool {
	t := s.Throughput
	return t.Messages > 0 && t.Seconds > 0 && t.Problem == "" && t.MsgsPerSec > 0
}

// hasLatency reports whether the latency phase recorded round trips.
func hasLatency(s *sample.Sample) bool { return s.Latency.RoundTrips > 0 }

// hasCPU reports whether the parent measured the worker's CPU time; a process
// that ran always used some, so zero means "not measured".
func hasCPU(s *sample.Sample) bool { return s.Resources.UserCPUNs+s.Resources.SysCPUNs > 0 }

// hasRuntime reports whether a worker reported Go runtime figures (results
// of schema 1 have no flag; a Go process always allocates, so their zero
// mallocs means "not reported").
func hasRuntime(s *sample.Sample) bool { return s.Runtime.Reported || s.Runtime.Mallocs > 0 }

// sideCPUPerMsg is a side's CPU time over the throughput phase per message
// delivered in it; absent with one process (no side of its own) or without
// the side's own measurement.
func sideCPUPerMsg(s *sample.Sample, role string) (float64, bool) {
	sd, ok := s.Side(role)
	if !ok || sd.Throughput.CPUNs() <= 0 || s.Throughput.Messages <= 0 {
		return 0, false
	}
	return float64(sd.Throughput.CPUNs()) / float64(s.Throughput.Messages), true
}

// sidePeakRSS is a side's peak resident set, from its rusage.
func sidePeakRSS(s *sample.Sample, role string) (float64, bool) {
	sd, ok := s.Side(role)
	if !ok || sd.PeakRSSBytes <= 0 {
		return 0, false
	}
	return float64(sd.PeakRSSBytes), true
}

// Definition changes, by the schema version that made them.
const (
	changedTimedFromSend = "timed from the sender's first send (schema 2); schema 1 timed from the receiver's first receive, which counts a drain of socket buffers as throughput"
)

func when(ok bool, v float64) (float64, bool) {
	if !ok {
		return 0, false
	}
	return v, true
}

// Metrics is the registry of every metric zbench aggregates, in the order the
// results files list them. Names are stable: results.json and comparisons key
// metrics by them.
var Metrics = []Metric{
	{MetricMsgsPerSec, "msg/s", HigherIsBetter, "msgs/s",
		"messages delivered per second, all pairs, from the sender's first send to the receiver's last receive (the host's monotonic clock, shared by both processes)",
		func(s *sample.Sample) (float64, bool) { return when(hasThroughput(s), s.Throughput.MsgsPerSec) },
		2, changedTimedFromSend},
	{MetricMBPerSec, "MB/s", HigherIsBetter, "MB/s",
		"message body megabytes (10^6 B) delivered per second, timed as msgs_per_sec",
		func(s *sample.Sample) (float64, bool) { return when(hasThroughput(s), s.Throughput.MBPerSec) },
		2, changedTimedFromSend},
	{MetricRTTP50, "ns", LowerIsBetter, "p50-ns",
		"round-trip time, 50th percentile (HdrHistogram of every round trip)",
		func(s *sample.Sample) (float64, bool) { return when(hasLatency(s), float64(s.Latency.RTTP50Ns)) }, 1, ""},
	{MetricRTTP99, "ns", LowerIsBetter, "p99-ns",
		"round-trip time, 99th percentile",
		func(s *sample.Sample) (float64, bool) { return when(hasLatency(s), float64(s.Latency.RTTP99Ns)) }, 1, ""},
	{MetricRTTP999, "ns", LowerIsBetter, "p99.9-ns",
		"round-trip time, 99.9th percentile",
		func(s *sample.Sample) (float64, bool) { return when(hasLatency(s), float64(s.Latency.RTTP999Ns)) }, 1, ""},
	{MetricRTTMax, "ns", LowerIsBetter, "max-ns",
		"round-trip time, maximum",
		func(s *sample.Sample) (float64, bool) { return when(hasLatency(s), float64(s.Latency.RTTMaxNs)) }, 1, ""},
	{MetricRTTMean, "ns", LowerIsBetter, "mean-ns",
		"round-trip time, mean",
		func(s *sample.Sample) (float64, bool) { return when(hasLatency(s), s.Latency.RTTMeanNs) }, 1, ""},
	{MetricOneWayMean, "ns", LowerIsBetter, "one-way-ns",
		"one-way latency = mean round-trip time / 2 (libzmq perf tools' \"average latency\")",
		func(s *sample.Sample) (float64, bool) { return when(hasLatency(s), s.Latency.OneWayMeanNs) }, 1, ""},
	{MetricCPUPercent, "%", LowerIsBetter, "cpu-%",
		"whole run: user+sys CPU time of every worker of the run (both sides, start-up, warm-up and both phases) over the run's wall time; 100 = one core",
		func(s *sample.Sample) (float64, bool) { return when(hasCPU(s), s.Resources.CPUPercent) }, 1, ""},
	{MetricCPUNsPerMsg, "ns/msg", LowerIsBetter, "cpu-ns/msg",
		"whole run: user+sys CPU time of every worker of the run per message of both phases",
		func(s *sample.Sample) (float64, bool) {
			return when(hasCPU(s) && s.Resources.CPUNsPerMsg > 0, s.Resources.CPUNsPerMsg)
		}, 1, ""},
	{MetricSenderCPUNsPerMsg, "ns/msg", LowerIsBetter, "sender-cpu-ns/msg",
		"the sender's own user+sys CPU time over the throughput phase per message delivered (getrusage in the worker at the phase's boundaries; two processes only)",
		func(s *sample.Sample) (float64, bool) { return sideCPUPerMsg(s, sample.RoleSender) }, 2, ""},
	{MetricReceiverCPUNsPerMsg, "ns/msg", LowerIsBetter, "receiver-cpu-ns/msg",
		"the receiver's own user+sys CPU time over the throughput phase per message delivered (two processes only)",
		func(s *sample.Sample) (float64, bool) { return sideCPUPerMsg(s, sample.RoleReceiver) }, 2, ""},
	{MetricRSSBytes, "B", LowerIsBetter, "rss-B",
		"whole run: peak resident set size of the worker, summed over the run's workers (both sides with two processes)",
		func(s *sample.Sample) (float64, bool) {
			return when(s.Resources.PeakRSSBytes > 0, float64(s.Resources.PeakRSSBytes))
		}, 1, ""},
	{MetricSenderRSSBytes, "B", LowerIsBetter, "sender-rss-B",
		"peak resident set size of the sender's worker (two processes only)",
		func(s *sample.Sample) (float64, bool) { return sidePeakRSS(s, sample.RoleSender) }, 2, ""},
	{MetricReceiverRSSBytes, "B", LowerIsBetter, "receiver-rss-B",
		"peak resident set size of the receiver's worker (two processes only)",
		func(s *sample.Sample) (float64, bool) { return sidePeakRSS(s, sample.RoleReceiver) }, 2, ""},
	{MetricRSSGrowthBytes, "B", LowerIsBetter, "rss-growth-B",
		"peak resident set size minus the resident set at the worker's start-up (before any socket), summed over the run's workers",
		func(s *sample.Sample) (float64, bool) {
			return when(hasSideStart(s), float64(s.Resources.RSSGrowthBytes))
		}, 2, ""},
	{MetricMsgsPerWrite, "msg/write", HigherIsBetter, "msgs/write",
		"messages per write call during the throughput phase (engine telemetry)",
		func(s *sample.Sample) (float64, bool) { return when(s.Engine.Available, s.Engine.MsgsPerWrite) }, 1, ""},
	{MetricImmediateWrites, "writes", Informational, "immediate-writes",
		"throughput phase: writes done on the immediate path, from the sender's goroutine (engine telemetry)",
		func(s *sample.Sample) (float64, bool) {
			return when(s.Engine.Available, float64(s.Engine.ImmediateWrites))
		}, 1, ""},
	{MetricBatchedWrites, "writes", Informational, "batched-writes",
		"throughput phase: writes of batch buffers by the connection's writer (engine telemetry)",
		func(s *sample.Sample) (float64, bool) {
			return when(s.Engine.Available, float64(s.Engine.BatchedWrites))
		}, 1, ""},
	{MetricPartialHandoffs, "handoffs", Informational, "partial-handoffs",
		"throughput phase: immediate writes the kernel took only in part, finished by the writer (engine telemetry)",
		func(s *sample.Sample) (float64, bool) {
			return when(s.Engine.Available, float64(s.Engine.PartialHandoffs))
		}, 1, ""},
	{MetricLatencyImmediate, "%", Informational, "lat-immediate-%",
		"latency phase: share of writes done on the immediate path (engine telemetry)",
		func(s *sample.Sample) (float64, bool) {
			t := s.LatencyEngine
			return when(t.Available && t.Writes > 0, 100*float64(t.ImmediateWrites)/float64(t.Writes))
		}, 1, ""},
	{MetricGCCycles, "cycles", LowerIsBetter, "gc-cycles",
		"Go garbage collections over the measured phases, summed over the run's workers",
		func(s *sample.Sample) (float64, bool) { return when(hasRuntime(s), float64(s.Runtime.GCCycles)) }, 1, ""},
	{MetricGCPauseNs, "ns", LowerIsBetter, "gc-pause-ns",
		"total Go GC stop-the-world pause over the measured phases, summed over the run's workers",
		func(s *sample.Sample) (float64, bool) { return when(hasRuntime(s), float64(s.Runtime.GCPauseNs)) }, 1, ""},
	{MetricAllocsPerMsg, "allocs/msg", LowerIsBetter, "allocs/msg",
		"Go heap allocations over the measured phases, all workers, per message moved",
		func(s *sample.Sample) (float64, bool) { return when(hasRuntime(s), s.Runtime.AllocsPerMsg) }, 1, ""},
	{MetricLoadP50, "ns", LowerIsBetter, "load-p50-ns",
		"latency under load, 50th percentile: open-loop throughput phase (rate axis), every message's receive time minus its intended send time",
		func(s *sample.Sample) (float64, bool) {
			return loadLatency(s, func(l *sample.Load) int64 { return l.P50Ns })
		}, 2, ""},
	{MetricLoadP99, "ns", LowerIsBetter, "load-p99-ns",
		"latency under load, 99th percentile (from the intended send time: no coordinated omission)",
		func(s *sample.Sample) (float64, bool) {
			return loadLatency(s, func(l *sample.Load) int64 { return l.P99Ns })
		}, 2, ""},
	{MetricLoadP999, "ns", LowerIsBetter, "load-p99.9-ns",
		"latency under load, 99.9th percentile",
		func(s *sample.Sample) (float64, bool) {
			return loadLatency(s, func(l *sample.Load) int64 { return l.P999Ns })
		}, 2, ""},
	{MetricLoadP9999, "ns", LowerIsBetter, "load-p99.99-ns",
		"latency under load, 99.99th percentile",
		func(s *sample.Sample) (float64, bool) {
			return loadLatency(s, func(l *sample.Load) int64 { return l.P9999Ns })
		}, 2, ""},
	{MetricLoadMax, "ns", LowerIsBetter, "load-max-ns",
		"latency under load, maximum",
		func(s *sample.Sample) (float64, bool) {
			return loadLatency(s, func(l *sample.Load) int64 { return l.MaxNs })
		}, 2, ""},
	{MetricScheduleLagNs, "ns", Informational, "schedule-lag-ns",
		"open-loop throughput phase: the most a send was behind its schedule (the sender side could not keep the rate)",
		func(s *sample.Sample) (float64, bool) {
			if s.Load == nil {
				return 0, false
			}
			return float64(s.Load.MaxLagNs), true
		}, 2, ""},
	{MetricHarnessOverheadNs, "ns", LowerIsBetter, "overhead-ns",
		"harness overhead: spawning the workers to the first measured message (start-up, connection, warm-up)",
		func(s *sample.Sample) (float64, bool) {
			return when(s.HarnessOverheadNs > 0, float64(s.HarnessOverheadNs))
		}, 1, ""},
}

// loadLatency reads one figure of the open-loop latency, when measured.
func loadLatency(s *sample.Sample, f func(l *sample.Load) int64) (float64, bool) {
	if s.Load == nil || s.Load.Messages == 0 {
		return 0, false
	}
	return float64(f(s.Load)), true
}

// hasSideStart reports whether the workers recorded their start-up RSS.
func hasSideStart(s *sample.Sample) bool {
	for _, sd := range s.Sides {
		if sd.StartRSSBytes > 0 && sd.PeakRSSBytes > 0 {
			return true
		}
	}
	return false
}

// MetricByName returns the registered metric with the given stable name.
func MetricByName(name string) (Metric, bool) {
	for _, m := range Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}
