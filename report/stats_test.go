package report

import (
	"math"
	"slices"
	"testing"

	"zbench/matrix"
	"zbench/runner/sample"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestSummarizeMedianMinMax(t *testing.T) {
	tests := []struct {
		name             string
		in               []float64
		median, min, max float64
	}{
		{"odd", []float64{5, 1, 3}, 3, 1, 5},
		{"even", []float64{4, 1, 3, 10}, 3.5, 1, 10},
		{"one", []float64{7}, 7, 7, 7},
		{"two", []float64{2, 4}, 3, 2, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			st := Summarize(in)
			if !near(st.Median, tt.median) || st.Min != tt.min || st.Max != tt.max || st.N != len(tt.in) {
				t.Errorf("got median %v min %v max %v n %d, want %v %v %v %d", st.Median, st.Min, st.Max, st.N, tt.median, tt.min, tt.max, len(tt.in))
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("Summarize modified its input: %v", in)
			}
		})
	}
}

func TestSummarizeConfidenceInterval(t *testing.T) {
	// Distribution-free CI of the median from order statistics: for n=6 at
	// 95 % it is [x(1), x(6)] (96.9 %), for n=10 [x(2), x(9)] (97.9 %).
	st := Summarize([]float64{6, 5, 4, 3, 2, 1})
	if st.CILow == nil || st.CIHigh == nil || *st.CILow != 1 || *st.CIHigh != 6 {
		t.Errorf("n=6: CI %v..%v, want 1..6", ptr(st.CILow), ptr(st.CIHigh))
	}
	st = Summarize([]float64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1})
	if st.CILow == nil || st.CIHigh == nil || *st.CILow != 2 || *st.CIHigh != 9 {
		t.Errorf("n=10: CI %v..%v, want 2..9", ptr(st.CILow), ptr(st.CIHigh))
	}
	st = Summarize([]float64{1, 2, 3, 4, 5})
	if st.CILow != nil || st.CIHigh != nil {
		t.Errorf("n=5: CI %v..%v, want none (too few runs)", ptr(st.CILow), ptr(st.CIHigh))
	}
	if got := minRunsForCI(); got != 6 {
		t.Errorf("minRunsForCI() = %d, want 6", got)
	}
}

func ptr(p *float64) any {
	if p == nil {
		return "nil"
	}
	return *p
}

func TestSummarizeCV(t *testing.T) {
	// mean 5, sample variance 32/7
	st := Summarize([]float64{2, 4, 4, 4, 5, 5, 7, 9})
	want := math.Sqrt(32.0/7) / 5
	if st.CV == nil || !near(*st.CV, want) {
		t.Errorf("CV = %v, want %v", ptr(st.CV), want)
	}
	if st := Summarize([]float64{3}); st.CV != nil {
		t.Errorf("CV of one value = %v, want none", *st.CV)
	}
	if st := Summarize([]float64{0, 0, 0}); st.CV == nil || *st.CV != 0 {
		t.Errorf("CV of identical zeros = %v, want 0", ptr(st.CV))
	}
}

func TestOutlierScores(t *testing.T) {
	tests := []struct {
		name    string
		in      []float64
		flagged []int
	}{
		{"far value flagged", []float64{100, 101, 99, 100, 102, 98, 100, 500}, []int{7}},
		{"spread values not flagged", []float64{100, 101, 99, 100, 102, 98, 100, 103}, nil},
		// median 10, MAD 1: 15.2 scores 5.2/1.4826 = 3.507 > 3.5; 15.1 scores 3.44
		{"just above the threshold", []float64{9, 10, 11, 10, 9, 11, 15.2}, []int{6}},
		{"just below the threshold", []float64{9, 10, 11, 10, 9, 11, 15.1}, nil},
		{"MAD zero flags nothing", []float64{5, 5, 5, 5, 9}, nil},
		{"too few values", []float64{1, 1000}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []int
			for i, s := range outlierScores(tt.in) {
				if s > OutlierThreshold {
					got = append(got, i)
				}
			}
			if !slices.Equal(got, tt.flagged) {
				t.Errorf("flagged %v, want %v (scores %v)", got, tt.flagged, outlierScores(tt.in))
			}
		})
	}
}

func TestAggregateFixture(t *testing.T) {
	cells, samples := fixture()
	got := Aggregate(cells, samples)
	if len(got) != len(cells) {
		t.Fatalf("%d cell results, want %d", len(got), len(cells))
	}
	for i := range got {
		if got[i].ID != cells[i].ID() || got[i].Cell != cells[i] {
			t.Errorf("cell %d is %s, want %s in the order given", i, got[i].ID, cells[i].ID())
		}
	}
	byStatus := map[string]*CellResult{}
	for i := range got {
		byStatus[got[i].Status] = &got[i]
	}

	ok := &got[0]
	if ok.Status != CellOK || ok.Runs != (StatusCounts{Total: 6, OK: 6}) {
		t.Errorf("ok cell: status %s runs %+v", ok.Status, ok.Runs)
	}
	st, has := ok.Stat(MetricMsgsPerSec)
	if !has || st.N != 6 || st.CILow == nil {
		t.Fatalf("ok cell msgs_per_sec: %+v %v", st, has)
	}
	// runs 1..6 have jitter 1.01,1.02,1.00,1.01,1.02,1.00 → median 1.01
	if !near(st.Median, 1.2e6*1.01) || !near(st.Min, 1.2e6) || !near(st.Max, 1.2e6*1.02) {
		t.Errorf("ok cell msgs_per_sec median %v min %v max %v", st.Median, st.Min, st.Max)
	}
	if len(ok.Warnings) != 0 {
		t.Errorf("ok cell warnings: %+v", ok.Warnings)
	}
	if hasWarning(ok, WarnTooFewForCI) {
		t.Error("6 runs warned as too few for a CI")
	}

	out := &got[1]
	p99 := out.Metrics[MetricRTTP99]
	if len(p99.Outliers) != 1 || p99.Outliers[0].Run != 4 || p99.Outliers[0].SampleIndex != 9 {
		t.Errorf("outlier cell p99 outliers: %+v, want run 4 (sample 9)", p99.Outliers)
	}
	if p50 := out.Metrics[MetricRTTP50]; len(p50.Outliers) != 0 {
		t.Errorf("p50 flagged outliers %+v in steady runs", p50.Outliers)
	}

	partial := &got[2]
	if partial.Status != CellPartial || partial.Runs != (StatusCounts{Total: 4, OK: 3, Timeout: 1}) ||
		partial.Reason != "timeout: killed after 1m0s" {
		t.Errorf("partial cell: %s %+v %q", partial.Status, partial.Runs, partial.Reason)
	}
	if partial.Metrics[MetricMsgsPerSec].N != 3 {
		t.Errorf("partial cell aggregates %d runs, want the 3 ok ones", partial.Metrics[MetricMsgsPerSec].N)
	}
	if !hasWarning(partial, WarnSomeRunsFailed) || !hasWarning(partial, WarnTooFewForCI) {
		t.Errorf("partial cell warnings: %+v", partial.Warnings)
	}

	failed := &got[3]
	if failed.Status != CellFailed || failed.Runs != (StatusCounts{Total: 2, Failed: 2}) || len(failed.Metrics) != 0 ||
		!hasWarning(failed, WarnAllRunsFailed) {
		t.Errorf("failed cell: %s %+v metrics %v warnings %+v", failed.Status, failed.Runs, failed.Metrics, failed.Warnings)
	}

	uns := &got[4]
	if uns.Status != CellUnsupported || uns.Reason != "unsupported: ws transport not built in" || hasWarning(uns, WarnAllRunsFailed) {
		t.Errorf("unsupported cell: %s %q %+v", uns.Status, uns.Reason, uns.Warnings)
	}

	noTel := &got[5]
	for _, m := range []string{MetricMsgsPerWrite, MetricImmediateWrites, MetricBatchedWrites, MetricPartialHandoffs} {
		if _, has := noTel.Metrics[m]; has {
			t.Errorf("cell without telemetry has %s", m)
		}
	}
	if _, has := noTel.Metrics[MetricRTTP99]; !has {
		t.Error("cell without telemetry lost its latency figures")
	}

	if nr := &got[6]; nr.Status != CellNotRun || nr.Runs.Total != 0 || !hasWarning(nr, WarnNotRun) {
		t.Errorf("not-run cell: %s %+v %+v", nr.Status, nr.Runs, nr.Warnings)
	}
}

func hasWarning(c *CellResult, code string) bool {
	return slices.ContainsFunc(c.Warnings, func(w Warning) bool { return w.Code == code })
}

func TestAggregateAbsentAndPartialMetric(t *testing.T) {
	c := cell("tcp", 32, 8192, true, 1)
	a := okSample(c, 1, 1e6)
	b := okSample(c, 2, 1e6)
	b.Engine = sample.Telemetry{} // unavailable
	b.Runtime = sample.Runtime{}  // not reported
	b.Latency.RTTMeanNs = math.NaN()
	got := Aggregate([]matrix.Cell{c}, []sample.Sample{a, b})[0]
	if st := got.Metrics[MetricMsgsPerWrite]; st.N != 1 || st.Median != 10 {
		t.Errorf("msgs_per_write = %+v, want n=1 median 10 (absent run not counted as 0)", st)
	}
	if st := got.Metrics[MetricRTTMean]; st.N != 1 || math.IsNaN(st.Median) {
		t.Errorf("rtt_mean_ns = %+v, want the NaN left out", st)
	}
	if st := got.Metrics[MetricGCCycles]; st.N != 1 {
		t.Errorf("gc_cycles n = %d, want 1", st.N)
	}
	var partial []string
	for _, w := range got.Warnings {
		if w.Code == WarnMetricPartial {
			partial = append(partial, w.Metric)
		}
	}
	if !slices.Contains(partial, MetricMsgsPerWrite) || slices.Contains(partial, MetricMsgsPerSec) {
		t.Errorf("metric_partial warnings for %v", partial)
	}
}

func TestAggregateIgnoresUnknownCells(t *testing.T) {
	c := cell("tcp", 32, 8192, true, 1)
	other := cell("tcp", 64, 8192, true, 1)
	got := Aggregate([]matrix.Cell{c}, []sample.Sample{okSample(other, 1, 1e6), okSample(c, 1, 2e6)})
	if got[0].Runs.Total != 1 || got[0].Metrics[MetricMsgsPerSec].Median != 2e6*1.01 {
		t.Errorf("got %+v", got[0])
	}
}

func TestMetricRegistry(t *testing.T) {
	required := []string{"msgs_per_sec", "mb_per_sec", "rtt_p50_ns", "rtt_p99_ns", "rtt_p999_ns", "rtt_max_ns",
		"rtt_mean_ns", "one_way_mean_ns", "cpu_percent", "cpu_ns_per_msg", "rss_bytes", "msgs_per_write",
		"immediate_writes", "batched_writes", "partial_handoffs", "gc_cycles", "allocs_per_msg", "harness_overhead_ns"}
	for _, name := range required {
		if _, ok := MetricByName(name); !ok {
			t.Errorf("metric %s not registered", name)
		}
	}
	names, units := map[string]bool{}, map[string]bool{}
	for _, m := range Metrics {
		if names[m.Name] || units[m.BenchUnit] {
			t.Errorf("metric %s: name or bench unit %q registered twice", m.Name, m.BenchUnit)
		}
		names[m.Name], units[m.BenchUnit] = true, true
		if m.Better != HigherIsBetter && m.Better != LowerIsBetter && m.Better != Informational {
			t.Errorf("metric %s: better = %q", m.Name, m.Better)
		}
		// A sample of a failed run carries nothing.
		if v, ok := m.Read(&sample.Sample{Status: sample.StatusFailed}); ok {
			t.Errorf("metric %s read %v from an empty sample", m.Name, v)
		}
	}
}
