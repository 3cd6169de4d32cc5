package report

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"

	"golang.org/x/perf/benchmath"

	"zbench/matrix"
	"zbench/runner/sample"
)

// Confidence is the level of the confidence interval reported around every
// median.
const Confidence = 0.95

// OutlierThreshold is the modified z-score above which a run is flagged as an
// outlier of its cell for one metric. The score of a value x is
// |x - median| / (1.4826 * MAD), MAD being the median absolute deviation from
// the median (1.4826 * MAD estimates the standard deviation of normal data).
// No run is flagged when fewer than MinRunsForOutliers runs carry the metric
// or when MAD is 0 (more than half the runs agree exactly, so there is no
// scale to measure distance in).
const OutlierThreshold = 3.5

// MinRunsForOutliers is the least number of values outlier detection needs:
// with fewer, the MAD is one of the other runs' own deviations and flags
// whichever run is farther from the median.
const MinRunsForOutliers = 5

// madScale turns a MAD into a standard-deviation estimate for normal data.
const madScale = 1.4826

// Cell statuses, derived from the statuses of the cell's runs.
const (
	CellOK          = "ok"          // every run ok
	CellPartial     = "partial"     // some runs ok, some not
	CellFailed      = "failed"      // no run ok; runs failed, or a mix of failures
	CellTimeout     = "timeout"     // every run timed out
	CellUnsupported = "unsupported" // the engine cannot run this cell
	CellInterrupted = "interrupted" // every run was interrupted
	CellNotRun      = "not_run"     // no run of this cell was recorded
)

// Warning codes. Warnings are data beside the numbers; renderers decide how
// to show them.
const (
	WarnAllRunsFailed  = "all_runs_failed"  // no ok run: the cell has no figures
	WarnSomeRunsFailed = "some_runs_failed" // figures come from fewer runs than asked
	WarnTooFewForCI    = "too_few_runs_for_ci"
	WarnMetricPartial  = "metric_partial" // some ok runs lack the metric
	// WarnThroughputProblem: the throughput phase of some ok runs measured
	// no rate (too short: a drain of socket buffers).
	WarnThroughputProblem = "throughput_problem"
	WarnNotRun            = "not_run"
)

// Stat summarises one metric of one cell across its ok runs.
type Stat struct {
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	// CILow and CIHigh bound the 95 % confidence interval of the median
	// (distribution-free, from order statistics). Null when there are too
	// few runs for a finite interval (fewer than 6 at 95 %).
	CILow  *float64 `json:"ci_low"`
	CIHigh *float64 `json:"ci_high"`
	// CV is the coefficient of variation: sample standard deviation / mean.
	// Null with fewer than two values, or a zero mean with values that
	// differ.
	CV *float64 `json:"cv"`
	// N is the number of runs the figures come from.
	N int `json:"n"`
	// Outliers are the runs whose value is far from the median (see
	// OutlierThreshold).
	Outliers []Outlier `json:"outliers,omitempty"`
}

// Outlier flags one run's value of one metric as far from its cell's median.
type Outlier struct {
	// SampleIndex is the index of the run's sample in the samples given to
	// Aggregate (Result.Samples).
	SampleIndex int     `json:"sample_index"`
	Run         int     `json:"run"`
	Value       float64 `json:"value"`
	// Score is |value - median| / (1.4826 * MAD).
	Score float64 `json:"score"`
}

// Warning is a condition a reader of a cell's figures should know about.
type Warning struct {
	Code    string `json:"code"`
	Metric  string `json:"metric,omitempty"`
	Message string `json:"message"`
}

// StatusCounts counts a cell's runs by status.
type StatusCounts struct {
	Total       int `json:"total"`
	OK          int `json:"ok"`
	Failed      int `json:"failed"`
	Timeout     int `json:"timeout"`
	Unsupported int `json:"unsupported"`
	Interrupted int `json:"interrupted"`
}

// CellResult is one cell of the matrix with everything its runs measured,
// aggregated. The cell's axis values are inlined in its JSON (engine,
// pattern, protocol, size, out_batch_size, write_batching, sockets,
// workload).
type CellResult struct {
	ID string `json:"id"`
	matrix.Cell
	// Status is one of the Cell* constants.
	Status string `json:"status"`
	// Reason explains a cell that is not ok, e.g. the first failed run's
	// error, or "unsupported: ..." .
	Reason string       `json:"reason,omitempty"`
	Runs   StatusCounts `json:"runs"`
	// LoadBehind counts the ok runs of an open-loop cell whose sender fell
	// behind its schedule; LoadNA says why its latency could not be
	// measured, if so.
	LoadBehind int    `json:"load_behind,omitempty"`
	LoadNA     string `json:"load_na,omitempty"`
	// LoadKind is sample.LoadRoundTrip when the open-loop figures are
	// round trips (sides on hosts that share no clock).
	LoadKind string `json:"load_kind,omitempty"`
	// Metrics maps stable metric names (see Metrics) to their summary. A
	// metric no ok run carried is absent.
	Metrics  map[string]Stat `json:"metrics"`
	Warnings []Warning       `json:"warnings,omitempty"`
	// NotApplicable lists the axes whose value the cell's engine could not
	// set (its runs' notes say why); renderers show them as "n/a".
	NotApplicable []string `json:"not_applicable,omitempty"`
}

// Stat returns the summary of the named metric, and false when the cell has
// no value for it.
func (c *CellResult) Stat(metric string) (Stat, bool) {
	s, ok := c.Metrics[metric]
	return s, ok
}

// Aggregate summarises samples per cell, in the order of cells. Samples are
// matched to cells by Cell.ID(); samples of cells not listed are ignored.
// Only ok samples contribute figures; the others are counted by status. The
// result is a pure function of its arguments.
func Aggregate(cells []matrix.Cell, samples []sample.Sample) []CellResult {
	byCell := make(map[string][]int, len(cells))
	for i := range samples {
		byCell[samples[i].Cell] = append(byCell[samples[i].Cell], i)
	}
	out := make([]CellResult, 0, len(cells))
	for _, c := range cells {
		out = append(out, aggregateCell(c, samples, byCell[c.ID()]))
	}
	return out
}

func aggregateCell(c matrix.Cell, samples []sample.Sample, idx []int) CellResult {
	cr := CellResult{ID: c.ID(), Cell: c, Metrics: map[string]Stat{}}
	var ok []int
	for _, i := range idx {
		s := &samples[i]
		cr.Runs.Total++
		switch s.Status {
		case sample.StatusOK:
			cr.Runs.OK++
			ok = append(ok, i)
		case sample.StatusTimeout:
			cr.Runs.Timeout++
		case sample.StatusUnsupported:
			cr.Runs.Unsupported++
		case sample.StatusInterrupted:
			cr.Runs.Interrupted++
		default:
			cr.Runs.Failed++
		}
		if s.Status != sample.StatusOK && cr.Reason == "" {
			cr.Reason = sampleReason(s)
		}
		for _, a := range s.NotApplicable() {
			if !slices.Contains(cr.NotApplicable, a) {
				cr.NotApplicable = append(cr.NotApplicable, a)
			}
		}
	}
	cr.Status = cellStatus(cr.Runs)

	switch {
	case cr.Runs.Total == 0:
		cr.Warnings = append(cr.Warnings, Warning{Code: WarnNotRun, Message: "no run of this cell was recorded"})
	case cr.Status == CellUnsupported:
		// Not a failure: the reason says why the cell cannot run.
	case cr.Runs.OK == 0:
		cr.Warnings = append(cr.Warnings, Warning{Code: WarnAllRunsFailed,
			Message: fmt.Sprintf("all %d runs failed; no figures", cr.Runs.Total)})
	case cr.Runs.OK < cr.Runs.Total:
		cr.Warnings = append(cr.Warnings, Warning{Code: WarnSomeRunsFailed,
			Message: fmt.Sprintf("%d of %d runs were not ok; figures come from %d", cr.Runs.Total-cr.Runs.OK, cr.Runs.Total, cr.Runs.OK)})
	}
	if len(ok) == 0 {
		return cr
	}
	if need := minRunsForCI(); len(ok) < need {
		cr.Warnings = append(cr.Warnings, Warning{Code: WarnTooFewForCI,
			Message: fmt.Sprintf("%d ok runs; a %.0f%% confidence interval of the median needs at least %d", len(ok), Confidence*100, need)})
	}

	for _, i := range ok {
		if l := samples[i].Load; l != nil {
			if l.Behind {
				cr.LoadBehind++
			}
			cr.LoadNA = cmp.Or(cr.LoadNA, l.NA)
			cr.LoadKind = cmp.Or(cr.LoadKind, l.Kind)
		}
	}
	problems := 0
	var problem string
	for _, i := range ok {
		if p := samples[i].Throughput.Problem; p != "" {
			problems++
			problem = cmp.Or(problem, p)
		}
	}
	if problems > 0 {
		cr.Warnings = append(cr.Warnings, Warning{Code: WarnThroughputProblem, Metric: MetricMsgsPerSec,
			Message: fmt.Sprintf("no throughput rate in %d of %d ok runs: %s", problems, len(ok), problem)})
	}

	for _, m := range Metrics {
		var vals []float64
		var from []int
		for _, i := range ok {
			// A value that is not a number is treated as absent.
			if v, has := m.Read(&samples[i]); has && !math.IsNaN(v) && !math.IsInf(v, 0) {
				vals = append(vals, v)
				from = append(from, i)
			}
		}
		if len(vals) == 0 {
			continue
		}
		if len(vals) < len(ok) && !(problems > 0 && (m.Name == MetricMsgsPerSec || m.Name == MetricMBPerSec)) {
			cr.Warnings = append(cr.Warnings, Warning{Code: WarnMetricPartial, Metric: m.Name,
				Message: fmt.Sprintf("%s present in %d of %d ok runs", m.Name, len(vals), len(ok))})
		}
		st := Summarize(vals)
		for k, score := range outlierScores(vals) {
			if score > OutlierThreshold {
				i := from[k]
				st.Outliers = append(st.Outliers, Outlier{SampleIndex: i, Run: samples[i].Run, Value: vals[k], Score: score})
			}
		}
		cr.Metrics[m.Name] = st
	}
	return cr
}

func sampleReason(s *sample.Sample) string {
	switch {
	case s.Error != "":
		return s.Status + ": " + s.Error
	default:
		return s.Status
	}
}

func cellStatus(n StatusCounts) string {
	switch {
	case n.Total == 0:
		return CellNotRun
	case n.OK == n.Total:
		return CellOK
	case n.OK > 0:
		return CellPartial
	case n.Unsupported == n.Total:
		return CellUnsupported
	case n.Timeout == n.Total:
		return CellTimeout
	case n.Interrupted == n.Total:
		return CellInterrupted
	}
	return CellFailed
}

// minRunsForCI is the least number of values for which the confidence
// interval of the median at level Confidence is finite.
var minRunsForCI = sync.OnceValue(func() int {
	for n := 2; n <= 50; n++ {
		s := benchmath.AssumeNothing.Summary(benchmath.NewSample(make([]float64, n), &benchmath.DefaultThresholds), Confidence)
		if !math.IsInf(s.Lo, 0) && !math.IsInf(s.Hi, 0) {
			return n
		}
	}
	return 51
})

// Summarize computes the statistics of one metric over values (at least one;
// values is not modified). Outliers are not filled in.
func Summarize(values []float64) Stat {
	xs := slices.Clone(values)
	sum := benchmath.AssumeNothing.Summary(benchmath.NewSample(xs, &benchmath.DefaultThresholds), Confidence)
	// NewSample sorted xs in place.
	st := Stat{Median: sum.Center, Min: xs[0], Max: xs[len(xs)-1], N: len(xs)}
	if !math.IsInf(sum.Lo, 0) && !math.IsInf(sum.Hi, 0) {
		lo, hi := sum.Lo, sum.Hi
		st.CILow, st.CIHigh = &lo, &hi
	}
	if cv, ok := coefficientOfVariation(xs); ok {
		st.CV = &cv
	}
	return st
}

// coefficientOfVariation returns the sample standard deviation (n-1) divided
// by the mean, and false when it is undefined.
func coefficientOfVariation(xs []float64) (float64, bool) {
	if len(xs) < 2 {
		return 0, false
	}
	if slices.Min(xs) == slices.Max(xs) {
		return 0, true // exactly, without rounding noise
	}
	var mean float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	var ss float64
	for _, x := range xs {
		d := x - mean
		ss += float64(d * d) // the conversion forbids a fused multiply-add, so every platform rounds alike
	}
	sd := math.Sqrt(ss / float64(len(xs)-1))
	if mean == 0 {
		return 0, false
	}
	return sd / math.Abs(mean), true
}

// outlierScores returns the modified z-score of every value (see
// OutlierThreshold), all zero when outliers cannot be judged.
func outlierScores(values []float64) []float64 {
	scores := make([]float64, len(values))
	if len(values) < MinRunsForOutliers {
		return scores
	}
	med := median(values)
	dev := make([]float64, len(values))
	for i, v := range values {
		dev[i] = math.Abs(v - med)
	}
	mad := median(dev)
	if mad == 0 {
		return scores
	}
	for i := range values {
		scores[i] = dev[i] / (madScale * mad)
	}
	return scores
}

// median of values (not modified); the mean of the two middle values for an
// even count.
func median(values []float64) float64 {
	xs := slices.Clone(values)
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}
