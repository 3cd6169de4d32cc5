package report

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/perf/benchmath"

	"zbench/matrix"
	"zbench/runner/sample"
)

func TestBenjaminiHochberg(t *testing.T) {
	for _, c := range []struct{ p, want []float64 }{
		{nil, []float64{}},
		{[]float64{0.03}, []float64{0.03}},
		// Sorted 0.005, 0.01, 0.03, 0.04 (m = 4): 0.02, 0.02, 0.04, 0.04;
		// returned in the input's order.
		{[]float64{0.01, 0.04, 0.03, 0.005}, []float64{0.02, 0.04, 0.04, 0.02}},
		// 0.04·3/1 = 0.12 is lowered to the next rank's 0.041·3/2.
		{[]float64{0.04, 0.041, 0.5}, []float64{0.0615, 0.0615, 0.5}},
		// Capped at 1.
		{[]float64{0.9, 0.95}, []float64{0.95, 0.95}},
		{[]float64{0.01, 0.02, 0.03, 0.04, 0.05}, []float64{0.05, 0.05, 0.05, 0.05, 0.05}},
	} {
		got := BenjaminiHochberg(c.p)
		if len(got) != len(c.want) {
			t.Fatalf("%v: %v", c.p, got)
		}
		for i := range got {
			if math.Abs(got[i]-c.want[i]) > 1e-12 {
				t.Errorf("BH(%v) = %v, want %v", c.p, got, c.want)
				break
			}
		}
	}
}

// minUTestP is the p-value benchmath gives two completely separated samples.
func TestMinUTestP(t *testing.T) {
	for _, n := range [][2]int{{4, 4}, {6, 6}, {10, 10}, {6, 3}} {
		var a, b []float64
		for i := range n[0] {
			a = append(a, float64(i))
		}
		for i := range n[1] {
			b = append(b, float64(100+i))
		}
		th := benchmath.DefaultThresholds
		res := benchmath.AssumeNothing.Compare(benchmath.NewSample(a, &th), benchmath.NewSample(b, &th))
		if got := minUTestP(n[0], n[1]); math.Abs(got-res.P) > 1e-9*res.P {
			t.Errorf("%d+%d: %g, benchmath says %g", n[0], n[1], got, res.P)
		}
	}
}

func TestCalibrateEstimator(t *testing.T) {
	c := cell("tcp", 32, 8192, true, 1)
	const n = 10
	set := func(f func(k int) fig) []sample.Sample {
		var ss []sample.Sample
		for k := 1; k <= n; k++ {
			ss = append(ss, synthSample(c, k, f(k)))
		}
		return ss
	}
	// A: throughput 1 M msg/s; B 10 % higher in every run; p50 equal on
	// both sides; p99 spread ±5 % on both; rss the same in every run.
	a := resultOf(fixedEnv(), fixedStart, n, []matrix.Cell{c}, set(func(k int) fig {
		f := baseFig
		f.p99 *= 1 + 0.01*float64(k-5)
		return f
	}))
	b := resultOf(fixedEnv(), fixedStart, n, []matrix.Cell{c}, set(func(k int) fig {
		f := baseFig
		f.msgs *= 1.1
		f.p99 *= 1 + 0.01*float64(5-k)
		return f
	}))
	nf, err := Calibrate(a, b, CalibrateOptions{Metrics: []string{MetricMsgsPerSec, MetricRTTP50, MetricRTTP99}})
	if err != nil {
		t.Fatal(err)
	}
	if nf.Runs != n || nf.Quantile != DefaultFloorQuantile || nf.Resamples != DefaultFloorResamples || !strings.Contains(nf.Estimator, "95th percentile") {
		t.Errorf("header %+v", nf)
	}
	get := func(metric string) FloorMetric {
		t.Helper()
		if len(nf.Cells) != 1 || nf.Cells[0].ID != c.ID() {
			t.Fatalf("cells %+v", nf.Cells)
		}
		m, ok := nf.Cells[0].Metrics[metric]
		if !ok {
			t.Fatalf("no floor for %s", metric)
		}
		return m
	}
	// A constant 10 % offset moves every resample by 10 %.
	if m := get(MetricMsgsPerSec); math.Abs(m.FloorPct-10) > 1e-9 || math.Abs(m.ObservedPct-10) > 1e-9 || m.NA != n || m.NB != n {
		t.Errorf("msgs_per_sec floor %+v, want 10 %%", m)
	}
	// No spread, no offset: floor 0.
	if m := get(MetricRTTP50); m.FloorPct != 0 {
		t.Errorf("rtt_p50 floor %+v, want 0", m)
	}
	// Values spread over -4..+5 % and +4..-5 %: medians +0.5 % and -0.5 %
	// (observed -0.995 %); the floor is a few percent, more than the
	// observed change and less than the whole range.
	if m := get(MetricRTTP99); m.FloorPct < 2 || m.FloorPct > 8 || math.Abs(m.ObservedPct-(100*(0.995/1.005-1))) > 1e-9 {
		t.Errorf("rtt_p99 floor %+v, want between 2 %% and 8 %%, observed -0.995 %%", m)
	}
	if f, ok := nf.Floor(c.ID(), MetricRTTP99); !ok || f != get(MetricRTTP99).FloorPct {
		t.Errorf("Floor lookup %g %v", f, ok)
	}
	if _, ok := nf.Floor(c.ID(), MetricRSSBytes); ok {
		t.Error("a floor for a metric not calibrated")
	}

	// Seeded: the same data give the same floor; another seed another.
	again, _ := Calibrate(a, b, CalibrateOptions{Metrics: []string{MetricRTTP99}})
	other, _ := Calibrate(a, b, CalibrateOptions{Metrics: []string{MetricRTTP99}, Seed: 99})
	if again.Cells[0].Metrics[MetricRTTP99] != get(MetricRTTP99) {
		t.Error("the same seed gave another floor")
	}
	if other.Cells[0].Metrics[MetricRTTP99] == get(MetricRTTP99) {
		t.Error("another seed gave exactly the same floor")
	}

	// Too few runs on a side: no floor.
	one := resultOf(fixedEnv(), fixedStart, 1, []matrix.Cell{c}, set(func(int) fig { return baseFig })[:1])
	if nf, _ := Calibrate(one, b, CalibrateOptions{}); len(nf.Cells) != 0 {
		t.Errorf("a floor from one run: %+v", nf.Cells)
	}
	if _, err := Calibrate(a, b, CalibrateOptions{Metrics: []string{"p99"}}); !errors.Is(err, ErrUnknownMetric) {
		t.Errorf("unknown metric: %v", err)
	}
}

func TestNoiseFloorFileRoundTripAndErrors(t *testing.T) {
	c := cell("tcp", 32, 8192, true, 1)
	a := resultOf(fixedEnv(), fixedStart, 6, []matrix.Cell{c}, runsOf(c, 6, baseFig, even))
	b := resultOf(fixedEnv(), fixedStart, 6, []matrix.Cell{c}, runsOf(c, 6, baseFig, odd))
	nf, err := Calibrate(a, b, CalibrateOptions{Now: func() time.Time { return fixedStart }})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var buf bytes.Buffer
	if err := WriteNoiseFloor(&buf, nf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, NoiseFloorFile), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := ReadNoiseFloor(dir) // the directory calibrate wrote
	if err != nil {
		t.Fatal(err)
	}
	if back.Source != filepath.Join(dir, NoiseFloorFile) || !back.Created.Equal(fixedStart) || len(back.Cells) != 1 ||
		back.Cells[0].Metrics[MetricMsgsPerSec] != nf.Cells[0].Metrics[MetricMsgsPerSec] {
		t.Errorf("read back %+v", back)
	}

	text := buf.String()
	bad := []struct {
		name, edit, line, says string
	}{
		{"malformed", strings.Replace(text, `"runs": 6,`, `"runs": 6,,`, 1), ":", "not a zbench noise floor file"},
		{"kind", strings.Replace(text, NoiseFloorKind, "zbench-results", 1), ":2:", `allowed: "zbench-noise-floor"`},
		{"schema", strings.Replace(text, `"schema_version": 1`, `"schema_version": 7`, 1), ":3:", "this zbench reads 1 to 1"},
		{"unknown metric", strings.Replace(text, `"msgs_per_sec": {`, `"msgs_per_minute": {`, 1), "", `unknown metric "msgs_per_minute"; allowed: msgs_per_sec`},
		{"negative floor", strings.Replace(text, `"floor_pct": `, `"floor_pct": -1`, 1), "", "allowed: a finite percentage >= 0"},
		{"unknown key", strings.Replace(text, `"runs": 6,`, `"runs": 6, "run": 6,`, 1), "", `unknown field "run"`},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			if tc.edit == text {
				t.Fatal("the edit changed nothing")
			}
			path := filepath.Join(t.TempDir(), NoiseFloorFile)
			if err := os.WriteFile(path, []byte(tc.edit), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadNoiseFloor(path)
			if !errors.Is(err, ErrNotNoiseFloor) || !strings.Contains(err.Error(), path+tc.line) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("err %v; want ErrNotNoiseFloor naming %s%s and saying %q", err, path, tc.line, tc.says)
			}
		})
	}
	if _, err := ReadNoiseFloor(t.TempDir()); err == nil || !strings.Contains(err.Error(), "written by zbench calibrate") {
		t.Errorf("directory without a floor: %v", err)
	}
}

// A change the U test finds (its runs do not overlap) counts only beyond the
// floor: the calibrated one for the cell-metric, else the minimum effect.
func TestCompareWithNoiseFloor(t *testing.T) {
	cA := cell("tcp", 32, 8192, true, 1)
	cB := cell("tcp", 1024, 8192, true, 1)
	cells := []matrix.Cell{cA, cB}
	slower := baseFig
	slower.msgs *= 0.96 // -4 % in both cells, runs 0.2 % apart: p = 0.002
	old := resultOf(fixedEnv(), fixedStart, 6, cells, append(runsOf(cA, 6, baseFig, even), runsOf(cB, 6, baseFig, even)...))
	new := resultOf(fixedEnv(), fixedStart, 6, cells, append(runsOf(cA, 6, slower, even), runsOf(cB, 6, slower, even)...))
	metrics := []string{MetricMsgsPerSec}

	// Without a floor: beyond the default 2 % minimum effect.
	c := mustCompare(t, old, new, metrics)
	for _, id := range []string{cA.ID(), cB.ID()} {
		if mc := change(t, c, id, MetricMsgsPerSec); !mc.Significant || mc.Verdict != VerdictWorse ||
			mc.FloorFrom != FloorFromMinEffect || *mc.FloorPct != DefaultMinEffectPct {
			t.Errorf("%s -4%% without a floor: %+v, want worse beyond the 2%% minimum effect", id, mc)
		}
	}

	// A calibration that saw 6 % of noise in cell A, and has no figure for B.
	nf := &NoiseFloor{Kind: NoiseFloorKind, SchemaVersion: 1, Env: fixedEnv(), Affinity: "0-1", Runs: 6, Source: "cal/noise_floor.json",
		Cells: []FloorCell{{ID: cA.ID(), Metrics: map[string]FloorMetric{MetricMsgsPerSec: {FloorPct: 6, NA: 6, NB: 6}}}}}
	c, err := Compare(old, new, CompareOptions{Metrics: metrics, NoiseFloor: nf})
	if err != nil {
		t.Fatal(err)
	}
	a := change(t, c, cA.ID(), MetricMsgsPerSec)
	if a.Significant || !a.WithinFloor || a.Verdict != VerdictSame || a.FloorFrom != FloorFromNoiseFloor || *a.FloorPct != 6 || a.Q > FDR {
		t.Errorf("cell A, -4%% within a 6%% floor: %+v", a)
	}
	b := change(t, c, cB.ID(), MetricMsgsPerSec)
	if !b.Significant || b.FloorFrom != FloorFromMinEffect {
		t.Errorf("cell B, no calibrated floor: %+v, want judged against the minimum effect", b)
	}
	if tl := c.Tally(); tl.Worse != 1 || tl.Unchanged != 1 || tl.WithinFloor != 1 {
		t.Errorf("tally %+v", tl)
	}
	var text bytes.Buffer
	if err := WriteCompareText(&text, c, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"noise floor: cal/noise_floor.json", "within the noise floor", "6.0%", "2%*",
		"the cell-metric's noise floor from zbench calibrate", "1 of them significant by the test alone but within the floor"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}

	// The minimum effect is configurable.
	for _, tc := range []struct {
		pct  float64
		want bool
	}{{0, true}, {3.9, true}, {4.1, false}} {
		c, err := Compare(old, new, CompareOptions{Metrics: metrics, MinEffectPct: &tc.pct})
		if err != nil {
			t.Fatal(err)
		}
		if mc := change(t, c, cB.ID(), MetricMsgsPerSec); mc.Significant != tc.want {
			t.Errorf("min effect %g%%: significant %v, want %v", tc.pct, mc.Significant, tc.want)
		}
	}
	neg := -1.0
	if _, err := Compare(old, new, CompareOptions{MinEffectPct: &neg}); err == nil {
		t.Error("a negative minimum effect was accepted")
	}

	// A floor from another machine, or from more runs, is flagged.
	nf.Env.CPUModel = "Intel Xeon"
	nf.Runs = 20
	c, _ = Compare(old, new, CompareOptions{Metrics: metrics, NoiseFloor: nf})
	var floorWarns []string
	for _, w := range c.Warnings {
		if w.Code == WarnFloorEnvDiffers {
			floorWarns = append(floorWarns, w.Message)
		}
	}
	if len(floorWarns) != 2 || !strings.Contains(floorWarns[0], "CPU model differs: calibration Intel Xeon, compared AMD EPYC 7B13") ||
		!strings.Contains(floorWarns[1], "calibrated with 20 runs per side, compared with 6") {
		t.Errorf("floor warnings %q", floorWarns)
	}
}

// noiseModel is how one cell's runs vary on a busy two-core machine: a
// coefficient of variation, sometimes two modes (the scheduler puts the two
// processes on one core or on two), and rare outlier runs.
type noiseModel struct {
	cv        float64 // lognormal sigma of a run's figures
	bimodal   bool
	slow      float64 // the slow mode's throughput factor (< 1)
	slowShare float64 // probability of a run in the slow mode
	outliers  float64 // probability of an outlier run (something else ran)
}

func randomNoise(rng *rand.Rand) noiseModel {
	m := noiseModel{cv: math.Exp(math.Log(0.01) + rng.Float64()*math.Log(20)), outliers: 0.05} // CV 1 % to 20 %, log-uniform
	if rng.Float64() < 0.3 {
		m.bimodal, m.slow, m.slowShare = true, 0.5+0.3*rng.Float64(), 0.2+0.3*rng.Float64()
	}
	return m
}

// runs draws n runs of c under m; every figure of a run moves with the run's
// mode, each by its own noise too. shift scales the throughput.
func (m noiseModel) runs(rng *rand.Rand, c matrix.Cell, n int, shift float64) []sample.Sample {
	var ss []sample.Sample
	for k := 1; k <= n; k++ {
		mode := 1.0
		if m.bimodal && rng.Float64() < m.slowShare {
			mode = m.slow
		}
		if rng.Float64() < m.outliers {
			mode *= 0.6
		}
		noise := func(scale float64) float64 { return math.Exp(m.cv * scale * rng.NormFloat64()) }
		f := fig{
			msgs: baseFig.msgs * mode * shift * noise(1),
			p50:  baseFig.p50 / mode * noise(0.5),
			p99:  baseFig.p99 / mode * noise(2),
			cpu:  baseFig.cpu / mode * noise(1),
			rss:  baseFig.rss * noise(0.1),
			mpw:  baseFig.mpw * noise(0.5),
			imm:  baseFig.imm,
		}
		ss = append(ss, synthSample(c, k, f))
	}
	return ss
}

// The target, on synthetic samples of the full profile (216 cells ×
// the 6 default metrics) at 10 runs per side: an A/A comparison flags at most
// 1 % of the cell-metrics, with a calibrated noise floor and without one
// (where the 2 % minimum effect applies), while a real 10 % change in one
// cell is still caught. The U test alone at α = 0.05 per cell-metric, the
// rule before the FDR correction and the floor, flags several percent.
func TestAAFullProfileFlagsAtMostOnePercent(t *testing.T) {
	const runs = 10
	var cells []matrix.Cell
	for _, proto := range []string{"tcp", "ipc", "ws"} {
		for _, size := range []int{32, 256, 512, 1024, 4096, 16384} {
			for _, obs := range []int{8192, 1024, 1} {
				for _, sockets := range []int{1, 2, 4, 8} {
					cells = append(cells, cell(proto, size, obs, true, sockets))
				}
			}
		}
	}
	rng := rand.New(rand.NewPCG(2026, 12))
	models := map[string]noiseModel{}
	for _, c := range cells {
		models[c.ID()] = randomNoise(rng)
	}
	// The cell that really changes: as quiet as a pinned tcp cell (CV 2 %,
	// no outlier runs). Among 1296 cell-metrics, a change in one alone
	// passes the FDR correction only when the two sides' runs barely
	// overlap: p <= 0.05/1296 = 3.9e-5, at most one of the 100 old/new
	// pairs of 10+10 runs in the wrong order.
	changed := cell("tcp", 1024, 8192, true, 1).ID()
	models[changed] = noiseModel{cv: 0.02}

	set := func(shiftCell string, shift float64) *Result {
		var ss []sample.Sample
		for _, c := range cells {
			k := 1.0
			if c.ID() == shiftCell {
				k = shift
			}
			ss = append(ss, models[c.ID()].runs(rng, c, runs, k)...)
		}
		return resultOf(fixedEnv(), fixedStart, runs, cells, ss)
	}
	calA, calB := set("", 1), set("", 1)
	nf, err := Calibrate(calA, calB, CalibrateOptions{Metrics: DefaultCompareMetrics, Resamples: 500})
	if err != nil {
		t.Fatal(err)
	}
	aaOld, aaNew := set("", 1), set("", 1)
	total := len(cells) * len(DefaultCompareMetrics)
	limit := total / 100

	for _, tc := range []struct {
		name  string
		floor *NoiseFloor
	}{{"min effect 2%", nil}, {"calibrated floor", nf}} {
		c, err := Compare(aaOld, aaNew, CompareOptions{NoiseFloor: tc.floor})
		if err != nil {
			t.Fatal(err)
		}
		flagged, rawFlagged := 0, 0
		for _, cc := range c.Cells {
			for _, mc := range cc.Metrics {
				if mc.Significant {
					flagged++
				}
				if mc.Reason == "" && mc.P <= Alpha {
					rawFlagged++
				}
			}
		}
		if c.Tests != total {
			t.Fatalf("%s: %d cell-metrics judged, want %d", tc.name, c.Tests, total)
		}
		t.Logf("%s: A/A flagged %d of %d cell-metrics (the U test alone at α = 0.05: %d)", tc.name, flagged, total, rawFlagged)
		if flagged > limit {
			t.Errorf("%s: A/A flagged %d of %d cell-metrics, want at most 1 %% (%d)", tc.name, flagged, total, limit)
		}
		if rawFlagged <= limit {
			t.Errorf("the U test alone flagged only %d: the synthetic A/A is too tame to show anything", rawFlagged)
		}

		// The same A/A, except that one cell lost 10 % of its throughput.
		realNew := set(changed, 0.9)
		c, err = Compare(aaOld, realNew, CompareOptions{NoiseFloor: tc.floor})
		if err != nil {
			t.Fatal(err)
		}
		mc := change(t, c, changed, MetricMsgsPerSec)
		t.Logf("%s: the -10%% cell: delta %.1f%%, p %.2g, q %.2g, floor %.1f%%: %s", tc.name, *mc.DeltaPct, mc.P, mc.Q, *mc.FloorPct, mc.Verdict)
		if !mc.Significant || mc.Verdict != VerdictWorse {
			t.Errorf("%s: a real -10%% change in one cell not caught: %+v", tc.name, mc)
		}
		others := 0
		for _, cc := range c.Cells {
			for _, m := range cc.Metrics {
				if m.Significant && !(cc.ID == changed && m.Metric == MetricMsgsPerSec) {
					others++
				}
			}
		}
		if others > limit {
			t.Errorf("%s: %d other cell-metrics flagged beside the real change", tc.name, others)
		}
	}
	if slices.ContainsFunc(nf.Cells, func(fc FloorCell) bool { return len(fc.Metrics) == 0 }) {
		t.Error("a floor cell without metrics")
	}
}
