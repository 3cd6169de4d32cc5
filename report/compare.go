package report

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/perf/benchmath"

	"zbench/matrix"
	"zbench/runner/sample"
)

// Alpha is the significance level of a comparison: a change is significant
// when the Mann-Whitney U test's p-value is at most Alpha (as benchstat
// decides).
const Alpha = 0.05

// FDR is the false discovery rate a comparison controls across all the
// cell-metrics it judges: the U tests' p-values are adjusted by the
// Benjamini–Hochberg procedure, and a change passes the test when its
// adjusted p-value (q) is at most FDR. Testing 216 cells × 6 metrics at
// α = 0.05 each would flag dozens of unchanged cell-metrics by chance.
const FDR = 0.05

// DefaultMinEffectPct is the least change, in percent of the old median,
// that a comparison counts as significant when no noise floor is given (or
// the noise floor has no figure for the cell-metric).
const DefaultMinEffectPct = 2.0

// MinRunsToCompare is the least number of runs each side of a cell needs for
// a change to be judged: with fewer, no ordering of the values can reach
// p <= Alpha in the U test, so such a cell-metric is never significant.
const MinRunsToCompare = 4

// DefaultCompareMetrics are the metrics a comparison covers unless told
// otherwise.
var DefaultCompareMetrics = []string{
	MetricMsgsPerSec, MetricRTTP50, MetricRTTP99, MetricCPUNsPerMsg, MetricRSSBytes, MetricMsgsPerWrite,
}

// betterOf is the registry's direction of the named metric.
func betterOf(metric string) Better {
	m, _ := MetricByName(metric)
	return m.Better
}

// Sentinel errors of comparisons and gates, tested with errors.Is.
var (
	// ErrUnknownMetric means a metric name is not in the registry.
	ErrUnknownMetric = errors.New("unknown metric")
	// ErrBadThreshold means a gate threshold cannot be used.
	ErrBadThreshold = errors.New("bad threshold")
)

// Verdicts of one metric of one cell.
const (
	VerdictBetter  = "better"  // significant, in the metric's good direction
	VerdictWorse   = "worse"   // significant, in the metric's bad direction
	VerdictChanged = "changed" // significant, but the metric is informational (or the medians are equal)
	VerdictSame    = "same"    // judged, not significant
	VerdictNone    = ""        // not judged: too few runs (Reason says so)
)

// Comparison warning codes (beside the cells' own warning codes).
const (
	WarnEnvDiffers      = "env_differs"      // the two environments differ in a way that moves figures
	WarnSideIncomplete  = "side_incomplete"  // a result set lacks runs it should have
	WarnWorkloadDiffers = "workload_differs" // a cell ran a different workload on each side
	WarnTooFewToCompare = "too_few_runs"     // fewer than MinRunsToCompare runs on a side
	WarnMetricMissing   = "metric_missing"   // a metric one side of a cell has and the other not
	// WarnLowPower: with this many cell-metrics and runs, a change in one
	// cell-metric alone cannot pass the FDR correction.
	WarnLowPower = "low_power"
	// WarnFloorEnvDiffers: the noise floor was calibrated in another
	// environment (or with more runs) than the result sets compared.
	WarnFloorEnvDiffers = "floor_env_differs"
	// WarnDefinitionChanged: a metric's definition changed between the two
	// sides' results schemas; it is shown, never judged.
	WarnDefinitionChanged = "definition_changed"
	// WarnProfiled: a side's runs were profiled, which slows them.
	WarnProfiled = "profiled"
)

// CompareOptions configure Compare.
type CompareOptions struct {
	// Metrics are the metric names to compare, in the order to show them;
	// nil means DefaultCompareMetrics.
	Metrics []string
	// OldLabel and NewLabel name the two sides for people, e.g. the paths
	// given on the command line; "" means "old" and "new".
	OldLabel, NewLabel string
	// NoiseFloor, if not nil, is the A/A calibration whose per cell-metric
	// floor a change must exceed to count (see Calibrate).
	NoiseFloor *NoiseFloor
	// MinEffectPct is the least change, in percent of the old median, that
	// counts where the noise floor has no figure (or there is none); nil
	// means DefaultMinEffectPct.
	MinEffectPct *float64
}

// Comparison is the outcome of comparing two result sets: per cell present
// in both and per metric both have, the two summaries and the test, plus the
// cells only one side has and warnings. It is plain data; the renderers
// (WriteCompareText, WriteCompareMarkdown, WriteCompareJSON) make text of it.
type Comparison struct {
	Alpha   float64  `json:"alpha"`
	MinRuns int      `json:"min_runs"` // MinRunsToCompare
	Metrics []string `json:"metrics"`
	// FDR is the false discovery rate controlled across the Tests judged
	// cell-metrics (Benjamini–Hochberg).
	FDR   float64 `json:"fdr"`
	Tests int     `json:"tests"`
	// MinEffectPct is the least change that counts where no noise floor
	// applies.
	MinEffectPct float64 `json:"min_effect_pct"`
	// NoiseFloor describes the calibration used; nil without one.
	NoiseFloor *FloorRef `json:"noise_floor,omitempty"`
	Old        Side      `json:"old"`
	New        Side      `json:"new"`
	// Warnings concern the comparison as a whole: environments that
	// differ, incomplete result sets.
	Warnings []Warning `json:"warnings,omitempty"`
	// Cells are the cells both sides have, in the new side's order.
	Cells []CellComparison `json:"cells"`
	// OnlyOld and OnlyNew are the cells one side has and the other not.
	OnlyOld []CellRef `json:"only_old"`
	OnlyNew []CellRef `json:"only_new"`
}

// Side describes one of the two result sets compared.
type Side struct {
	Label      string    `json:"label"`
	Start      time.Time `json:"start"` // when the result set's runs began
	Commit     string    `json:"commit"`
	Dirty      bool      `json:"dirty"`
	Version    string    `json:"zbench_version"`
	Profile    string    `json:"profile"`
	Runs       int       `json:"runs"` // runs per cell asked for
	Incomplete bool      `json:"incomplete"`
	Env        Env       `json:"env"`
	// SchemaVersion is the results schema the side was written in.
	SchemaVersion int `json:"schema_version"`
	// Affinity is the CPU list the runs were allowed on.
	Affinity string `json:"affinity"`
}

// FloorRef describes the noise floor a comparison used.
type FloorRef struct {
	Source  string    `json:"source"`
	Created time.Time `json:"created"`
	Commit  string    `json:"commit"`
	Profile string    `json:"profile"`
	Runs    int       `json:"runs"`
	// Estimator says how the floor was computed.
	Estimator string `json:"estimator"`
}

// CellRef names a cell of one side only.
type CellRef struct {
	ID string `json:"id"`
	matrix.Cell
}

// CellComparison is one cell both sides have.
type CellComparison struct {
	ID string `json:"id"`
	// Cell is the new side's cell (axes and workload).
	matrix.Cell
	Metrics  []MetricChange `json:"metrics"`
	Warnings []Warning      `json:"warnings,omitempty"`
}

// Change returns the comparison of the named metric, and false when the cell
// has none (a side lacks the metric).
func (c *CellComparison) Change(metric string) (MetricChange, bool) {
	for _, m := range c.Metrics {
		if m.Metric == metric {
			return m, true
		}
	}
	return MetricChange{}, false
}

// MetricChange compares one metric of one cell across the two sides.
type MetricChange struct {
	Metric string `json:"metric"`
	Unit   string `json:"unit"`
	// Better is the direction the change is judged by (the registry's);
	// Informational metrics are shown but never judged.
	Better Better `json:"better"`
	Old    Stat   `json:"old"`
	New    Stat   `json:"new"`
	// DeltaPct is the change of the median in percent of the old median;
	// null when the old median is 0.
	DeltaPct *float64 `json:"delta_pct"`
	// P is the Mann-Whitney U test's p-value (1 when the test cannot tell,
	// e.g. every value of both sides is equal).
	P float64 `json:"p_value"`
	// Q is P adjusted for the number of cell-metrics judged
	// (Benjamini–Hochberg); 1 when not judged.
	Q float64 `json:"q_value"`
	// FloorPct is the change (in percent of the old median) the change
	// must exceed to count: the cell-metric's noise floor, or the minimum
	// effect (FloorFrom says which). Null when not judged.
	FloorPct  *float64 `json:"floor_pct"`
	FloorFrom string   `json:"floor_from,omitempty"`
	// Significant is Q <= FDR and a change beyond FloorPct, with at least
	// MinRunsToCompare runs on each side. A change whose old median is 0
	// has no percentage and is judged by the test alone.
	Significant bool `json:"significant"`
	// WithinFloor is set when the test alone would call the change
	// significant but it does not exceed FloorPct.
	WithinFloor bool `json:"within_floor,omitempty"`
	// Verdict is one of the Verdict* constants.
	Verdict string `json:"verdict"`
	// Reason says why the change was not judged ("" when it was).
	Reason string `json:"reason,omitempty"`
}

// Where a change's floor comes from (MetricChange.FloorFrom).
const (
	FloorFromNoiseFloor = "noise_floor" // the calibration's figure for the cell-metric
	FloorFromMinEffect  = "min_effect"  // CompareOptions.MinEffectPct
)

// Compare compares two result sets cell by cell, matching cells by ID. For
// every cell both have and every metric of opts.Metrics both have, it
// summarises each side's per-run values (only ok runs count) and tests them
// with the Mann-Whitney U test (benchmath.AssumeNothing, as benchstat). The
// p-values of all judged cell-metrics are adjusted together
// (Benjamini–Hochberg, FDR); a change is significant when its adjusted
// p-value is at most FDR and it exceeds its floor: the noise floor's figure
// for the cell-metric, or the minimum effect. It fails for an unknown metric
// name (wrapping ErrUnknownMetric) or a negative minimum effect.
func Compare(old, new *Result, opts CompareOptions) (*Comparison, error) {
	metrics := opts.Metrics
	if metrics == nil {
		metrics = DefaultCompareMetrics
	}
	for _, name := range metrics {
		if _, ok := MetricByName(name); !ok {
			return nil, fmt.Errorf("report: %w %q; known: %s", ErrUnknownMetric, name, strings.Join(MetricNames(), ", "))
		}
	}
	minEffect := DefaultMinEffectPct
	if opts.MinEffectPct != nil {
		minEffect = *opts.MinEffectPct
	}
	if minEffect < 0 || math.IsNaN(minEffect) || math.IsInf(minEffect, 0) {
		return nil, fmt.Errorf("report: minimum effect %g%%; allowed: a percentage >= 0", minEffect)
	}
	c := &Comparison{
		Alpha:        Alpha,
		MinRuns:      MinRunsToCompare,
		Metrics:      slices.Clone(metrics),
		FDR:          FDR,
		MinEffectPct: minEffect,
		Old:          sideOf(old, cmp.Or(opts.OldLabel, "old")),
		New:          sideOf(new, cmp.Or(opts.NewLabel, "new")),
		OnlyOld:      []CellRef{},
		OnlyNew:      []CellRef{},
		Cells:        []CellComparison{},
	}
	c.Warnings = append(c.Warnings, envWarnings(c.Old, c.New)...)
	for _, s := range []struct {
		name string
		r    *Result
	}{{"old", old}, {"new", new}} {
		if p := s.r.Invocation.Profiled; len(p) > 0 {
			c.Warnings = append(c.Warnings, Warning{Code: WarnProfiled,
				Message: fmt.Sprintf("the %s result set was profiled (%s): profiling slows the workers, so its timings are not comparable with unprofiled ones", s.name, strings.Join(p, ", "))})
		}
		if inv := s.r.Invocation; inv.Incomplete {
			why := strings.Join(inv.IncompleteReasons, "; ")
			c.Warnings = append(c.Warnings, Warning{Code: WarnSideIncomplete,
				Message: fmt.Sprintf("the %s result set is incomplete: %s", s.name, cmp.Or(why, "runs are missing"))})
		}
	}

	changed := map[string]string{}
	for _, name := range metrics {
		if why, ok := definitionChanged(name, old.SchemaVersion, new.SchemaVersion); ok {
			changed[name] = why
			c.Warnings = append(c.Warnings, Warning{Code: WarnDefinitionChanged, Metric: name, Message: why})
		}
	}

	if nf := opts.NoiseFloor; nf != nil {
		c.NoiseFloor = &FloorRef{Source: nf.Source, Created: nf.Created, Commit: cmp.Or(nf.Env.Commit, Unknown),
			Profile: nf.Profile, Runs: nf.Runs, Estimator: nf.Estimator}
		c.Warnings = append(c.Warnings, floorWarnings(nf, c.New, old, new)...)
	}

	oldVals, newVals := metricValues(old), metricValues(new)
	for i := range new.Cells {
		nc := &new.Cells[i]
		oc, ok := old.Cell(nc.ID)
		if !ok {
			c.OnlyNew = append(c.OnlyNew, CellRef{ID: nc.ID, Cell: nc.Cell})
			continue
		}
		cc := CellComparison{ID: nc.ID, Cell: nc.Cell, Metrics: []MetricChange{}}
		if oc.Workload != nc.Workload {
			cc.Warnings = append(cc.Warnings, Warning{Code: WarnWorkloadDiffers,
				Message: "the two sides ran this cell with different workloads (counts, durations or timeout); figures may not be comparable"})
		}
		tooFew := false
		for _, name := range metrics {
			ov, nv := oldVals[nc.ID][name], newVals[nc.ID][name]
			if len(ov) == 0 && len(nv) == 0 {
				continue // neither side measured it: not applicable to the cell
			}
			if len(ov) == 0 || len(nv) == 0 {
				side := "new"
				if len(ov) == 0 {
					side = "old"
				}
				cc.Warnings = append(cc.Warnings, Warning{Code: WarnMetricMissing, Metric: name,
					Message: fmt.Sprintf("%s was not measured on the %s side (no ok run has it): not compared", name, side)})
				continue
			}
			mc := compareMetric(name, ov, nv)
			if why, ok := changed[name]; ok {
				mc.P, mc.Significant, mc.Verdict = 1, false, VerdictNone
				mc.Reason = "not judged: " + why
			} else if len(ov) < MinRunsToCompare || len(nv) < MinRunsToCompare {
				tooFew = true
			}
			cc.Metrics = append(cc.Metrics, mc)
		}
		if tooFew {
			cc.Warnings = append(cc.Warnings, Warning{Code: WarnTooFewToCompare,
				Message: fmt.Sprintf("fewer than %d runs on a side: changes are not judged", MinRunsToCompare)})
		}
		c.Cells = append(c.Cells, cc)
	}
	for i := range old.Cells {
		oc := &old.Cells[i]
		if _, ok := new.Cell(oc.ID); !ok {
			c.OnlyOld = append(c.OnlyOld, CellRef{ID: oc.ID, Cell: oc.Cell})
		}
	}
	c.decide(opts.NoiseFloor)
	return c, nil
}

// decide adjusts the p-values of every judged cell-metric together
// (Benjamini–Hochberg) and gives each its verdict: significant when q <=
// FDR and the change exceeds its floor.
func (c *Comparison) decide(nf *NoiseFloor) {
	var judged []*MetricChange
	var ps []float64
	for i := range c.Cells {
		for j := range c.Cells[i].Metrics {
			mc := &c.Cells[i].Metrics[j]
			mc.Q = 1
			if mc.Reason == "" {
				judged = append(judged, mc)
				ps = append(ps, mc.P)
			}
		}
	}
	c.Tests = len(judged)
	qs := BenjaminiHochberg(ps)
	for i := range c.Cells {
		cc := &c.Cells[i]
		for j := range cc.Metrics {
			mc := &cc.Metrics[j]
			if mc.Reason != "" {
				continue
			}
			floor, from := c.MinEffectPct, FloorFromMinEffect
			if f, ok := nf.Floor(cc.ID, mc.Metric); ok {
				floor, from = f, FloorFromNoiseFloor
			}
			mc.FloorPct, mc.FloorFrom = &floor, from
		}
	}
	for k, mc := range judged {
		mc.Q = qs[k]
		passes := mc.Q <= c.FDR
		beyond := mc.DeltaPct == nil || math.Abs(*mc.DeltaPct) > *mc.FloorPct
		mc.Significant = passes && beyond
		mc.WithinFloor = passes && !beyond
		switch {
		case !mc.Significant:
			mc.Verdict = VerdictSame
		case mc.Better == Informational || mc.New.Median == mc.Old.Median:
			mc.Verdict = VerdictChanged
		case (mc.New.Median > mc.Old.Median) == (mc.Better == HigherIsBetter):
			mc.Verdict = VerdictBetter
		default:
			mc.Verdict = VerdictWorse
		}
	}
	if w, ok := lowPowerWarning(c); ok {
		c.Warnings = append(c.Warnings, w)
	}
}

// BenjaminiHochberg returns the Benjamini–Hochberg adjusted p-values of ps
// (in ps' order): q_i = min over j with p_j >= p_i of p_j·m/rank(p_j),
// capped at 1. Declaring significant every test with q <= α controls the
// false discovery rate at α for independent (or positively dependent)
// tests.
func BenjaminiHochberg(ps []float64) []float64 {
	m := len(ps)
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(ps[a], ps[b]) })
	qs := make([]float64, m)
	running := 1.0
	for r := m - 1; r >= 0; r-- {
		i := order[r]
		running = math.Min(running, ps[i]*float64(m)/float64(r+1))
		qs[i] = running
	}
	return qs
}

// minUTestP is the smallest two-sided p-value the Mann-Whitney U test can
// give for samples of n1 and n2 values without ties: 2 / C(n1+n2, n1).
func minUTestP(n1, n2 int) float64 {
	// log C(n1+n2, n1) through lgamma, to stay finite for many runs.
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x + 1)); return v }
	return math.Min(1, 2*math.Exp(lg(n1)+lg(n2)-lg(n1+n2)))
}

// lowPowerWarning says when no change in a single cell-metric could pass
// the FDR correction: the smallest p-value the runs allow is above FDR/m.
func lowPowerWarning(c *Comparison) (Warning, bool) {
	if c.Tests == 0 {
		return Warning{}, false
	}
	n1, n2 := math.MaxInt, math.MaxInt
	for _, cc := range c.Cells {
		for _, mc := range cc.Metrics {
			if mc.Reason == "" {
				n1, n2 = min(n1, mc.Old.N), min(n2, mc.New.N)
			}
		}
	}
	best := minUTestP(n1, n2)
	need := c.FDR / float64(c.Tests)
	if best <= need {
		return Warning{}, false
	}
	runs := n1
	for minUTestP(runs, runs) > need {
		runs++
	}
	return Warning{Code: WarnLowPower, Message: fmt.Sprintf(
		"%d cell-metrics are judged together (false discovery rate %g): a change in one cell-metric alone needs p <= %.2g, "+
			"and %d+%d runs cannot give less than p = %.2g, so only changes seen in several cells can be flagged; "+
			"use --runs %d or more, or fewer cells or metrics", c.Tests, c.FDR, need, n1, n2, best, runs)}, true
}

// floorWarnings lists why a noise floor may not fit the result sets
// compared: another environment, or fewer runs than it was calibrated for.
func floorWarnings(nf *NoiseFloor, newSide Side, old, new *Result) []Warning {
	var ws []Warning
	cal := Side{Env: nf.Env, Affinity: nf.Affinity}
	for _, w := range envWarnings(cal, newSide) {
		w.Code = WarnFloorEnvDiffers
		w.Message = "noise floor: " + strings.Replace(strings.Replace(w.Message, "old ", "calibration ", 1), "new ", "compared ", 1)
		ws = append(ws, w)
	}
	if runs := min(old.Invocation.Runs, new.Invocation.Runs); runs > 0 && runs < nf.Runs {
		ws = append(ws, Warning{Code: WarnFloorEnvDiffers, Message: fmt.Sprintf(
			"noise floor: calibrated with %d runs per side, compared with %d: medians of fewer runs move more than the floor says",
			nf.Runs, runs)})
	}
	return ws
}

// definitionChanged says whether the named metric means different things
// in results of schema versions a and b, and how.
func definitionChanged(name string, a, b int) (string, bool) {
	m, ok := MetricByName(name)
	if !ok || m.Since <= 1 {
		return "", false
	}
	lo, hi := min(a, b), max(a, b)
	if lo < m.Since && m.Since <= hi {
		return fmt.Sprintf("%s is not compared between results schema %d and %d: its definition changed: %s", name, lo, hi, m.Changed), true
	}
	return "", false
}

// compareMetric summarises and tests one metric of one cell; ov and nv are
// the per-run values of each side (at least one each). It sets Reason when
// the change cannot be judged; decide gives the verdict.
func compareMetric(name string, ov, nv []float64) MetricChange {
	m, _ := MetricByName(name)
	mc := MetricChange{
		Metric: name,
		Unit:   m.Unit,
		Better: betterOf(name),
		Old:    Summarize(ov),
		New:    Summarize(nv),
	}
	if mc.Old.Median != 0 {
		d := (mc.New.Median/mc.Old.Median - 1) * 100
		mc.DeltaPct = &d
	}
	th := benchmath.DefaultThresholds
	th.CompareAlpha = Alpha
	res := benchmath.AssumeNothing.Compare(
		benchmath.NewSample(slices.Clone(ov), &th),
		benchmath.NewSample(slices.Clone(nv), &th))
	mc.P = res.P
	if len(ov) < MinRunsToCompare || len(nv) < MinRunsToCompare {
		mc.Reason = fmt.Sprintf("too few runs (%d old, %d new; need %d per side)", len(ov), len(nv), MinRunsToCompare)
	}
	// The verdict waits for every cell-metric's test (Comparison.decide).
	return mc
}

// metricValues collects, per cell ID and metric name, the values of the ok
// samples of r, in sample order (absent, NaN and infinite values left out, as
// Aggregate does).
func metricValues(r *Result) map[string]map[string][]float64 {
	out := map[string]map[string][]float64{}
	for i := range r.Samples {
		s := &r.Samples[i]
		if s.Status != sample.StatusOK {
			continue
		}
		byMetric := out[s.Cell]
		if byMetric == nil {
			byMetric = map[string][]float64{}
			out[s.Cell] = byMetric
		}
		for _, m := range Metrics {
			if v, ok := m.Read(s); ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
				byMetric[m.Name] = append(byMetric[m.Name], v)
			}
		}
	}
	return out
}

func sideOf(r *Result, label string) Side {
	return Side{
		Label:      label,
		Start:      r.Invocation.Start,
		Commit:     cmp.Or(r.Env.Commit, Unknown),
		Dirty:      r.Env.Dirty,
		Version:    r.Env.Version,
		Profile:    r.Invocation.Profile,
		Runs:       r.Invocation.Runs,
		Incomplete: r.Invocation.Incomplete,
		Env:        r.Env,
		Affinity:   cmp.Or(r.Invocation.Affinity, r.Env.Affinity),

		SchemaVersion: cmp.Or(r.SchemaVersion, SchemaVersion),
	}
}

// envWarnings lists the differences between two environments that move
// figures: CPU model, CPU affinity, cpufreq governor, Go version, kernel,
// GOMAXPROCS.
func envWarnings(old, new Side) []Warning {
	fields := []struct{ name, o, n string }{
		{"CPU model", old.Env.CPUModel, new.Env.CPUModel},
		{"CPU affinity", old.Affinity, new.Affinity},
		{"cpufreq governor", old.Env.Governor, new.Env.Governor},
		{"Go version", old.Env.GoVersion, new.Env.GoVersion},
		{"kernel", old.Env.Kernel, new.Env.Kernel},
		{"GOMAXPROCS", strconv.Itoa(old.Env.GOMAXPROCS), strconv.Itoa(new.Env.GOMAXPROCS)},
	}
	var ws []Warning
	for _, f := range fields {
		o, n := cmp.Or(f.o, Unknown), cmp.Or(f.n, Unknown)
		if f.name == "GOMAXPROCS" {
			o, n = orUnknownZero(f.o), orUnknownZero(f.n)
		}
		if o == n {
			continue
		}
		ws = append(ws, Warning{Code: WarnEnvDiffers,
			Message: fmt.Sprintf("%s differs: old %s, new %s", f.name, o, n)})
	}
	return ws
}

func orUnknownZero(s string) string {
	if s == "0" || s == "" {
		return Unknown
	}
	return s
}

// MetricNames lists the names of every registered metric, in registry order.
func MetricNames() []string {
	names := make([]string, len(Metrics))
	for i, m := range Metrics {
		names[i] = m.Name
	}
	return names
}

// ParseMetricList resolves metric names as given on a command line (each
// element may hold several, comma-separated): registered names, or "all" for
// every metric; duplicates are dropped, order kept. An empty list is
// DefaultCompareMetrics. Unknown names wrap ErrUnknownMetric.
func ParseMetricList(list []string) ([]string, error) {
	var out []string
	for _, item := range list {
		for _, name := range strings.Split(item, ",") {
			name = strings.TrimSpace(name)
			switch {
			case name == "":
				continue
			case name == "all":
				for _, m := range Metrics {
					if !slices.Contains(out, m.Name) {
						out = append(out, m.Name)
					}
				}
				continue
			}
			if _, ok := MetricByName(name); !ok {
				return nil, fmt.Errorf("%w %q; allowed: all, %s", ErrUnknownMetric, name, strings.Join(MetricNames(), ", "))
			}
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	if len(out) == 0 {
		return slices.Clone(DefaultCompareMetrics), nil
	}
	return out, nil
}

// Threshold is one term of a regression gate: the metric, and how far (in
// percent of the old median) it may move in its bad direction before the
// gate trips. It is written METRIC:-N% for a metric where higher is better
// and METRIC:+N% where lower is better.
type Threshold struct {
	Metric string
	// Sign is -1 when a fall is the regression, +1 when a rise is.
	Sign int
	// Pct is the allowed change in the bad direction, in percent (>= 0).
	Pct float64
}

// String formats t as it is written on the command line.
func (t Threshold) String() string {
	sign := "+"
	if t.Sign < 0 {
		sign = "-"
	}
	return t.Metric + ":" + sign + strconv.FormatFloat(t.Pct, 'f', -1, 64) + "%"
}

// MarshalText implements encoding.TextMarshaler: t as String formats it.
func (t Threshold) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler, reading what
// MarshalText wrote (with ParseThresholds' checks).
func (t *Threshold) UnmarshalText(b []byte) error {
	v, err := parseThreshold(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// Trips reports whether a change of deltaPct percent goes beyond t in the
// bad direction. A change at the threshold (to within 1e-9 points, the
// rounding of a ratio of medians) does not trip it.
func (t Threshold) Trips(deltaPct float64) bool {
	return float64(t.Sign)*deltaPct > t.Pct+1e-9
}

// ParseThresholds parses a gate specification: comma-separated
// METRIC:[+-]N% terms, e.g. "msgs_per_sec:-5%,rtt_p99_ns:+10%". The sign is
// required and must point in the metric's bad direction; informational
// metrics cannot be gated; a metric may appear once. Errors wrap
// ErrBadThreshold or ErrUnknownMetric and say what is allowed.
func ParseThresholds(spec string) ([]Threshold, error) {
	var out []Threshold
	for _, term := range strings.Split(spec, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		t, err := parseThreshold(term)
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(o Threshold) bool { return o.Metric == t.Metric }) {
			return nil, fmt.Errorf("%w %q: %s has a threshold already; allowed: one per metric", ErrBadThreshold, term, t.Metric)
		}
		out = append(out, t)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w %q: no threshold; allowed: METRIC:-N%% or METRIC:+N%%, comma-separated", ErrBadThreshold, spec)
	}
	return out, nil
}

func parseThreshold(term string) (Threshold, error) {
	const form = "allowed: METRIC:-N% (a fall is bad) or METRIC:+N% (a rise is bad)"
	name, val, ok := strings.Cut(term, ":")
	name, val = strings.TrimSpace(name), strings.TrimSpace(val)
	if !ok || name == "" || val == "" {
		return Threshold{}, fmt.Errorf("%w %q: %s", ErrBadThreshold, term, form)
	}
	m, known := MetricByName(name)
	if !known {
		return Threshold{}, fmt.Errorf("%w %q in threshold %q; allowed: %s", ErrUnknownMetric, name, term, strings.Join(gateableMetrics(), ", "))
	}
	dir := betterOf(name)
	if dir == Informational {
		return Threshold{}, fmt.Errorf("%w %q: %s is informational (neither higher nor lower is better); allowed metrics: %s",
			ErrBadThreshold, term, name, strings.Join(gateableMetrics(), ", "))
	}
	t := Threshold{Metric: m.Name}
	switch val[0] {
	case '+':
		t.Sign = 1
	case '-':
		t.Sign = -1
	default:
		return Threshold{}, fmt.Errorf("%w %q: the sign is required; %s", ErrBadThreshold, term, form)
	}
	num, pct := strings.CutSuffix(val[1:], "%")
	f, err := strconv.ParseFloat(num, 64)
	if !pct || err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || strings.ContainsAny(num, "+-") {
		return Threshold{}, fmt.Errorf("%w %q: %s", ErrBadThreshold, term, form)
	}
	t.Pct = f
	bad := -1
	if dir == LowerIsBetter {
		bad = 1
	}
	if t.Sign != bad {
		want := t
		want.Sign = bad
		return Threshold{}, fmt.Errorf("%w %q: %s is better when %s, so that threshold is an improvement; the regression is %s",
			ErrBadThreshold, term, name, dir, want)
	}
	return t, nil
}

// gateableMetrics lists the metrics a threshold may name.
func gateableMetrics() []string {
	var names []string
	for _, m := range Metrics {
		if betterOf(m.Name) != Informational {
			names = append(names, m.Name)
		}
	}
	return names
}

// Gate is the outcome of checking a comparison against thresholds.
type Gate struct {
	Thresholds []Threshold `json:"thresholds"`
	// Violations are the significant changes beyond a threshold, in the
	// comparison's cell order, then threshold order.
	Violations []Violation `json:"violations"`
	// Unjudged counts the gated cell-metrics that could not be judged
	// (len(NotJudged)).
	Unjudged int `json:"unjudged"`
	// NotJudged are the gated cell-metrics that could not be judged, so
	// could not trip the gate: too few runs, a definition that changed
	// between the results schemas, or a metric one side did not measure.
	NotJudged []NotJudged `json:"not_judged"`
}

// NotJudged is a gated cell-metric that could not be judged, and why.
type NotJudged struct {
	Cell string `json:"cell"`
	// Label is the cell in one phrase, as the comparison's tables name it.
	Label  string `json:"label"`
	Metric string `json:"metric"`
	Reason string `json:"reason"`
}

// Passed reports whether no threshold was passed.
func (g *Gate) Passed() bool { return len(g.Violations) == 0 }

// Judged reports whether every gated cell-metric was judged. A gate that
// passed without judging them all has not shown that nothing regressed.
func (g *Gate) Judged() bool { return len(g.NotJudged) == 0 }

// Violation is one significant change beyond its threshold.
type Violation struct {
	Cell      string    `json:"cell"`
	Metric    string    `json:"metric"`
	Threshold Threshold `json:"threshold"`
	DeltaPct  float64   `json:"delta_pct"`
	P         float64   `json:"p_value"`
	Q         float64   `json:"q_value"`
	OldMedian float64   `json:"old_median"`
	NewMedian float64   `json:"new_median"`
	cell      matrix.Cell
}

// CheckGate checks every cell both sides have against thresholds: a
// cell-metric trips its threshold when its change is significant and goes
// beyond it in the bad direction. A change whose old median is 0 has no
// percentage and never trips. A gated metric that could not be judged in a
// cell (too few runs, its definition changed, one side did not measure it)
// is listed in NotJudged; a metric neither side measured in a cell (e.g.
// engine telemetry of an engine without it) does not apply there.
func CheckGate(c *Comparison, thresholds []Threshold) *Gate {
	g := &Gate{Thresholds: slices.Clone(thresholds), Violations: []Violation{}, NotJudged: []NotJudged{}}
	a := axesOf(c)
	for _, cc := range c.Cells {
		for _, t := range thresholds {
			mc, ok := cc.Change(t.Metric)
			if !ok {
				for _, w := range cc.Warnings {
					if w.Code == WarnMetricMissing && w.Metric == t.Metric {
						g.NotJudged = append(g.NotJudged, NotJudged{Cell: cc.ID, Label: a.label(cc.Cell), Metric: t.Metric, Reason: w.Message})
					}
				}
				continue
			}
			if mc.Reason != "" {
				g.NotJudged = append(g.NotJudged, NotJudged{Cell: cc.ID, Label: a.label(cc.Cell), Metric: t.Metric, Reason: mc.Reason})
				continue
			}
			if !mc.Significant || mc.DeltaPct == nil || !t.Trips(*mc.DeltaPct) {
				continue
			}
			g.Violations = append(g.Violations, Violation{Cell: cc.ID, Metric: t.Metric, Threshold: t,
				DeltaPct: *mc.DeltaPct, P: mc.P, Q: mc.Q, OldMedian: mc.Old.Median, NewMedian: mc.New.Median, cell: cc.Cell})
		}
	}
	if len(c.Cells) == 0 {
		for _, t := range thresholds {
			g.NotJudged = append(g.NotJudged, NotJudged{Label: "every cell", Metric: t.Metric,
				Reason: "no cell is in both result sets (compare results of the same cells)"})
		}
	}
	g.Unjudged = len(g.NotJudged)
	return g
}

// Tally counts the cell-metrics of a comparison by outcome.
type Tally struct {
	Total     int `json:"total"`
	Better    int `json:"better"`
	Worse     int `json:"worse"`
	Changed   int `json:"changed"`   // significant, informational
	Unchanged int `json:"unchanged"` // judged, not significant
	// WithinFloor counts the unchanged whose test alone was significant
	// but whose change did not exceed the floor.
	WithinFloor int `json:"within_floor"`
	Unjudged    int `json:"unjudged"` // too few runs, or a definition that changed
}

// Tally counts c's cell-metrics by outcome.
func (c *Comparison) Tally() Tally {
	var t Tally
	for _, cc := range c.Cells {
		for _, mc := range cc.Metrics {
			t.Total++
			switch {
			case mc.Reason != "":
				t.Unjudged++
			case mc.Verdict == VerdictBetter:
				t.Better++
			case mc.Verdict == VerdictWorse:
				t.Worse++
			case mc.Verdict == VerdictChanged:
				t.Changed++
			default:
				t.Unchanged++
				if mc.WithinFloor {
					t.WithinFloor++
				}
			}
		}
	}
	return t
}
