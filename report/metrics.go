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
	// BenchUnit is the unit written in benchmark_result.txt, e.g. "p99-ns".
	BenchUnit string
	// Doc is a one-line definition, repeated in the Markdown legend.
	Doc string
	// Read returns the metric's value in s, and false when s does not carry
	// it (the phase did not run, telemetry is unavailable, the parent could
	// not measure it). An absent metric is never reported as zero.
	Read func(s *sample.Sample) (float64, bool)
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
)

// hasThroughput reports whether the throughput phase delivered anything.
func hasThroughput(s *sample.Sample) bool {
	return s.Throughput.Messages > 0 && s.Throughput.Seconds > 0
}

// hasLatency reports whether the latency phase recorded round trips.
func hasLatency(s *sample.Sample) bool { return s.Latency.RoundTrips > 0 }

// hasCPU reports whether the parent measured the worker's CPU time; a process
// that ran always used some, so zero means "not measured".
func hasCPU(s *sample.Sample) bool { return s.Resources.UserCPUNs+s.Resources.SysCPUNs > 0 }

// hasRuntime reports whether the worker reported Go runtime figures; a Go
// process always allocates, so zero mallocs means "not reported".
func hasRuntime(s *sample.Sample) bool { return s.Runtime.Mallocs > 0 }

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
		"messages delivered per second, all pairs, first receive to last receive",
		func(s *sample.Sample) (float64, bool) { return when(hasThroughput(s), s.Throughput.MsgsPerSec) }},
	{MetricMBPerSec, "MB/s", HigherIsBetter, "MB/s",
		"message body megabytes (10^6 B) delivered per second",
		func(s *sample.Sample) (float64, bool) { return when(hasThroughput(s), s.Throughput.MBPerSec) }},
	{MetricRTTP50, "ns", LowerIsBetter, "p50-ns",
		"round-trip time, 50th percentile (HdrHistogram of every round trip)",
		func(s *sample.Sample) (float64, bool) { return when(hasLatency(s), float64(s.Latency.RTTP50Ns)) }},
	{MetricRTTP99, "ns", LowerIsBetter, "p99-ns",
		"round-trip time, 99th percentile",
		func(s *sample.Sample) (float64, bool) { return when(hasLatency(s), float64(s.Latency.RTTP99Ns)) }},
	{MetricRTTP999, "ns", LowerIsBetter, "p99.9-ns",
		"round-trip time, 99.9th percentile",
		func(s *sample.Sample) (float64, bool) { return when(hasLatency(s), float64(s.Latency.RTTP999Ns)) }},
	{MetricRTTMax, "ns", LowerIsBetter, "max-ns",
		"round-trip time, maximum",
		func(s *sample.Sample) (float64, bool) { return when(hasLatency(s), float64(s.Latency.RTTMaxNs)) }},
	{MetricRTTMean, "ns", LowerIsBetter, "mean-ns",
		"round-trip time, mean",
		func(s *sample.Sample) (float64, bool) { return when(hasLatency(s), s.Latency.RTTMeanNs) }},
	{MetricOneWayMean, "ns", LowerIsBetter, "one-way-ns",
		"one-way latency = mean round-trip time / 2 (libzmq perf tools' \"average latency\")",
		func(s *sample.Sample) (float64, bool) { return when(hasLatency(s), s.Latency.OneWayMeanNs) }},
	{MetricCPUPercent, "%", LowerIsBetter, "cpu-%",
		"user+sys CPU time of the worker over its wall time; 100 = one core",
		func(s *sample.Sample) (float64, bool) { return when(hasCPU(s), s.Resources.CPUPercent) }},
	{MetricCPUNsPerMsg, "ns/msg", LowerIsBetter, "cpu-ns/msg",
		"user+sys CPU time of the worker per message of both phases",
		func(s *sample.Sample) (float64, bool) {
			return when(hasCPU(s) && s.Resources.CPUNsPerMsg > 0, s.Resources.CPUNsPerMsg)
		}},
	{MetricRSSBytes, "B", LowerIsBetter, "rss-B",
		"peak resident set size of the worker",
		func(s *sample.Sample) (float64, bool) {
			return when(s.Resources.PeakRSSBytes > 0, float64(s.Resources.PeakRSSBytes))
		}},
	{MetricMsgsPerWrite, "msg/write", HigherIsBetter, "msgs/write",
		"messages per write call during the throughput phase (engine telemetry)",
		func(s *sample.Sample) (float64, bool) { return when(s.Engine.Available, s.Engine.MsgsPerWrite) }},
	{MetricImmediateWrites, "writes", Informational, "immediate-writes",
		"throughput phase: writes done on the immediate path, from the sender's goroutine (engine telemetry)",
		func(s *sample.Sample) (float64, bool) {
			return when(s.Engine.Available, float64(s.Engine.ImmediateWrites))
		}},
	{MetricBatchedWrites, "writes", Informational, "batched-writes",
		"throughput phase: writes of batch buffers by the connection's writer (engine telemetry)",
		func(s *sample.Sample) (float64, bool) {
			return when(s.Engine.Available, float64(s.Engine.BatchedWrites))
		}},
	{MetricPartialHandoffs, "handoffs", Informational, "partial-handoffs",
		"throughput phase: immediate writes the kernel took only in part, finished by the writer (engine telemetry)",
		func(s *sample.Sample) (float64, bool) {
			return when(s.Engine.Available, float64(s.Engine.PartialHandoffs))
		}},
	{MetricLatencyImmediate, "%", Informational, "lat-immediate-%",
		"latency phase: share of writes done on the immediate path (engine telemetry)",
		func(s *sample.Sample) (float64, bool) {
			t := s.LatencyEngine
			return when(t.Available && t.Writes > 0, 100*float64(t.ImmediateWrites)/float64(t.Writes))
		}},
	{MetricGCCycles, "cycles", LowerIsBetter, "gc-cycles",
		"Go garbage collections in the worker over the measured phases",
		func(s *sample.Sample) (float64, bool) { return when(hasRuntime(s), float64(s.Runtime.GCCycles)) }},
	{MetricGCPauseNs, "ns", LowerIsBetter, "gc-pause-ns",
		"total Go GC stop-the-world pause in the worker over the measured phases",
		func(s *sample.Sample) (float64, bool) { return when(hasRuntime(s), float64(s.Runtime.GCPauseNs)) }},
	{MetricAllocsPerMsg, "allocs/msg", LowerIsBetter, "allocs/msg",
		"Go heap allocations in the worker per message",
		func(s *sample.Sample) (float64, bool) { return when(hasRuntime(s), s.Runtime.AllocsPerMsg) }},
	{MetricHarnessOverheadNs, "ns", LowerIsBetter, "overhead-ns",
		"harness overhead: worker spawn to first measured message",
		func(s *sample.Sample) (float64, bool) {
			return when(s.HarnessOverheadNs > 0, float64(s.HarnessOverheadNs))
		}},
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
