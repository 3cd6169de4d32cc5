package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"zbench/matrix"
	"zbench/runner/sample"
)

// fig is what one synthetic run of a cell measured.
type fig struct {
	msgs, p50, p99, cpu, rss, mpw, imm float64
}

// scaled returns f with every figure multiplied by k.
func (f fig) scaled(k float64) fig {
	return fig{f.msgs * k, f.p50 * k, f.p99 * k, f.cpu * k, f.rss * k, f.mpw * k, f.imm * k}
}

var baseFig = fig{msgs: 1e6, p50: 20000, p99: 60000, cpu: 900, rss: 12 << 20, mpw: 10, imm: 100}

// synthSample is an ok run of c whose compared metrics are f's figures.
func synthSample(c matrix.Cell, run int, f fig) sample.Sample {
	s := okSample(c, run, 1e6)
	s.Throughput.MsgsPerSec = f.msgs
	s.Latency.RTTP50Ns = int64(math.Round(f.p50))
	s.Latency.RTTP99Ns = int64(math.Round(f.p99))
	s.Resources.CPUNsPerMsg = f.cpu
	s.Resources.PeakRSSBytes = int64(math.Round(f.rss))
	s.Engine.MsgsPerWrite = f.mpw
	s.Engine.ImmediateWrites = uint64(math.Round(f.imm))
	return s
}

// runsOf makes n runs of c: run k has figures f scaled by 1 + step*spread(k).
func runsOf(c matrix.Cell, n int, f fig, spread func(k int) float64) []sample.Sample {
	var ss []sample.Sample
	for k := 1; k <= n; k++ {
		ss = append(ss, synthSample(c, k, f.scaled(1+0.002*spread(k))))
	}
	return ss
}

// even and odd interleave: the two sides have the same distribution.
func even(k int) float64 { return float64(2 * k) }
func odd(k int) float64  { return float64(2*k + 1) }

func resultOf(env Env, start time.Time, runs int, cells []matrix.Cell, samples []sample.Sample) *Result {
	inv := Invocation{Start: start, End: start.Add(time.Minute), Profile: "quick", Runs: runs, Affinity: "0-1"}
	return NewResult(inv, env, nil, cells, samples)
}

func mustCompare(t *testing.T, old, new *Result, metrics []string) *Comparison {
	t.Helper()
	c, err := Compare(old, new, CompareOptions{Metrics: metrics, OldLabel: "results/old", NewLabel: "results/new"})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func change(t *testing.T, c *Comparison, cellID, metric string) MetricChange {
	t.Helper()
	for _, cc := range c.Cells {
		if cc.ID == cellID {
			mc, ok := cc.Change(metric)
			if !ok {
				t.Fatalf("cell %s has no %s", cellID, metric)
			}
			return mc
		}
	}
	t.Fatalf("cell %s not compared", cellID)
	return MetricChange{}
}

func TestCompareKnownShift(t *testing.T) {
	c1 := cell("tcp", 32, 8192, true, 1)
	newFig := baseFig
	newFig.msgs *= 1.10 // 10 % more throughput: better
	newFig.p99 *= 1.20  // 20 % slower tail: worse
	newFig.imm *= 3     // informational: changed, never judged
	old := resultOf(fixedEnv(), fixedStart, 6, []matrix.Cell{c1}, runsOf(c1, 6, baseFig, even))
	new := resultOf(fixedEnv(), fixedStart, 6, []matrix.Cell{c1}, runsOf(c1, 6, newFig, even))
	c := mustCompare(t, old, new, []string{MetricMsgsPerSec, MetricRTTP99, MetricImmediateWrites, MetricRTTP50})

	msgs := change(t, c, c1.ID(), MetricMsgsPerSec)
	if !msgs.Significant || msgs.Verdict != VerdictBetter {
		t.Errorf("msgs_per_sec +10%%: significant %v verdict %q, want significant, better", msgs.Significant, msgs.Verdict)
	}
	if msgs.DeltaPct == nil || !nearPct(*msgs.DeltaPct, 10) {
		t.Errorf("msgs_per_sec delta %v, want +10%%", msgs.DeltaPct)
	}
	// Two completely separated samples of 6: the exact two-sided p-value is
	// 2/C(12,6) = 0.00216.
	if msgs.P < 1e-3 || msgs.P > 1e-2 {
		t.Errorf("p = %g, want about 2.2e-3", msgs.P)
	}
	p99 := change(t, c, c1.ID(), MetricRTTP99)
	if !p99.Significant || p99.Verdict != VerdictWorse || p99.DeltaPct == nil || !nearPct(*p99.DeltaPct, 20) {
		t.Errorf("rtt_p99 +20%%: %+v, want significant, worse, +20%%", p99)
	}
	imm := change(t, c, c1.ID(), MetricImmediateWrites)
	if !imm.Significant || imm.Verdict != VerdictChanged || imm.Better != Informational {
		t.Errorf("immediate_writes x3: %+v, want significant, changed, informational", imm)
	}
	p50 := change(t, c, c1.ID(), MetricRTTP50)
	if p50.Significant || p50.Verdict != VerdictSame || p50.P < 0.99 {
		t.Errorf("rtt_p50 unchanged: %+v, want not significant with p = 1", p50)
	}
	if tl := c.Tally(); tl != (Tally{Total: 4, Better: 1, Worse: 1, Changed: 1, Unchanged: 1}) {
		t.Errorf("tally %+v", tl)
	}
	if len(c.Warnings) != 0 {
		t.Errorf("warnings for identical environments: %v", c.Warnings)
	}
}

func TestCompareNoShift(t *testing.T) {
	c1 := cell("tcp", 32, 8192, true, 1)
	old := resultOf(fixedEnv(), fixedStart, 8, []matrix.Cell{c1}, runsOf(c1, 8, baseFig, even))
	new := resultOf(fixedEnv(), fixedStart, 8, []matrix.Cell{c1}, runsOf(c1, 8, baseFig, odd))
	c := mustCompare(t, old, new, nil)
	if !slices.Equal(c.Metrics, DefaultCompareMetrics) {
		t.Errorf("metrics %v, want the defaults", c.Metrics)
	}
	for _, mc := range c.Cells[0].Metrics {
		if mc.Significant || mc.Verdict != VerdictSame || mc.Reason != "" {
			t.Errorf("%s: interleaved samples flagged: %+v", mc.Metric, mc)
		}
		if mc.P < 0.5 {
			t.Errorf("%s: p = %g for interleaved samples, want large", mc.Metric, mc.P)
		}
		if mc.DeltaPct == nil || *mc.DeltaPct <= 0 || *mc.DeltaPct > 1 {
			t.Errorf("%s: delta %v, want a small positive change still reported", mc.Metric, mc.DeltaPct)
		}
	}
	if tl := c.Tally(); tl.Unchanged != len(DefaultCompareMetrics) || tl.Total != tl.Unchanged {
		t.Errorf("tally %+v", tl)
	}
}

func TestCompareTooFewRuns(t *testing.T) {
	c3 := cell("tcp", 32, 8192, true, 1)
	c4 := cell("tcp", 1024, 8192, true, 1)
	far := baseFig.scaled(2)
	old := resultOf(fixedEnv(), fixedStart, 6, []matrix.Cell{c3, c4},
		append(runsOf(c3, 3, baseFig, even), runsOf(c4, 4, baseFig, even)...))
	new := resultOf(fixedEnv(), fixedStart, 6, []matrix.Cell{c3, c4},
		append(runsOf(c3, 6, far, even), runsOf(c4, 4, far, even)...))
	c := mustCompare(t, old, new, []string{MetricMsgsPerSec})

	few := change(t, c, c3.ID(), MetricMsgsPerSec)
	if few.Significant || few.Verdict != VerdictNone {
		t.Errorf("3 old runs judged: %+v", few)
	}
	if !strings.Contains(few.Reason, "too few runs (3 old, 6 new; need 4 per side)") {
		t.Errorf("reason %q", few.Reason)
	}
	if !slices.ContainsFunc(c.Cells[0].Warnings, func(w Warning) bool { return w.Code == WarnTooFewToCompare }) {
		t.Errorf("cell warnings %v lack %s", c.Cells[0].Warnings, WarnTooFewToCompare)
	}
	// Four runs a side, completely separated: p = 2/C(8,4) = 0.029 <= 0.05.
	four := change(t, c, c4.ID(), MetricMsgsPerSec)
	if !four.Significant || four.Reason != "" || four.P > Alpha {
		t.Errorf("4+4 separated runs not flagged: %+v", four)
	}
	if len(c.Cells[1].Warnings) != 0 {
		t.Errorf("4+4 cell warned: %v", c.Cells[1].Warnings)
	}

	var text bytes.Buffer
	if err := WriteCompareText(&text, c, nil); err != nil {
		t.Fatal(err)
	}
	line := lineWith(text.String(), "too few runs (")
	if line == "" || !strings.Contains(line, " ~ ") || !strings.Contains(line, "32 B") {
		t.Errorf("text has no \"~\" row with the reason for the 32 B cell:\n%s", text.String())
	}
}

// nearPct reports whether two percentages agree to 0.01 points (integer
// latencies round the synthetic figures).
func nearPct(a, b float64) bool { return math.Abs(a-b) < 0.01 }

func lineWith(text, sub string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func TestCompareCellsOnOneSide(t *testing.T) {
	both := cell("tcp", 32, 8192, true, 1)
	oldOnly := cell("ipc", 32, 8192, true, 1)
	newOnly := cell("ws", 32, 8192, true, 1)
	old := resultOf(fixedEnv(), fixedStart, 4, []matrix.Cell{both, oldOnly},
		append(runsOf(both, 4, baseFig, even), runsOf(oldOnly, 4, baseFig, even)...))
	new := resultOf(fixedEnv(), fixedStart, 4, []matrix.Cell{newOnly, both},
		append(runsOf(newOnly, 4, baseFig, even), runsOf(both, 4, baseFig, odd)...))
	c := mustCompare(t, old, new, nil)
	if len(c.Cells) != 1 || c.Cells[0].ID != both.ID() {
		t.Errorf("compared %d cells, want only %s", len(c.Cells), both.ID())
	}
	if len(c.OnlyOld) != 1 || c.OnlyOld[0].ID != oldOnly.ID() || c.OnlyOld[0].Protocol != "ipc" {
		t.Errorf("only old %+v", c.OnlyOld)
	}
	if len(c.OnlyNew) != 1 || c.OnlyNew[0].ID != newOnly.ID() {
		t.Errorf("only new %+v", c.OnlyNew)
	}
	var text bytes.Buffer
	if err := WriteCompareText(&text, c, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"only in old (1 cell, not compared):\n  " + oldOnly.ID(), "only in new (1 cell, not compared):\n  " + newOnly.ID()} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

func TestCompareMetricOnOneSide(t *testing.T) {
	c1 := cell("tcp", 32, 8192, true, 1)
	noTelemetry := runsOf(c1, 4, baseFig, odd)
	for i := range noTelemetry {
		noTelemetry[i].Engine = sample.Telemetry{}
	}
	old := resultOf(fixedEnv(), fixedStart, 4, []matrix.Cell{c1}, runsOf(c1, 4, baseFig, even))
	new := resultOf(fixedEnv(), fixedStart, 4, []matrix.Cell{c1}, noTelemetry)
	c := mustCompare(t, old, new, []string{MetricMsgsPerSec, MetricMsgsPerWrite})
	if _, ok := c.Cells[0].Change(MetricMsgsPerWrite); ok {
		t.Error("a metric only the old side has was compared")
	}
	if _, ok := c.Cells[0].Change(MetricMsgsPerSec); !ok {
		t.Error("msgs_per_sec missing")
	}
}

func TestCompareEnvWarnings(t *testing.T) {
	c1 := cell("tcp", 32, 8192, true, 1)
	e2 := fixedEnv()
	e2.CPUModel = "Intel Xeon Gold 6338"
	e2.GoVersion = "go1.25.3"
	e2.Kernel = "Linux 6.1.0"
	e2.GOMAXPROCS = 8
	e2.Hostname = "other" // not a figure-moving difference
	old := resultOf(fixedEnv(), fixedStart, 4, []matrix.Cell{c1}, runsOf(c1, 4, baseFig, even))
	new := resultOf(e2, fixedStart, 4, []matrix.Cell{c1}, runsOf(c1, 4, baseFig, odd))
	new.Invocation.Affinity = "0"
	c := mustCompare(t, old, new, nil)
	var got []string
	for _, w := range c.Warnings {
		switch w.Code {
		case WarnEnvDiffers:
			got = append(got, w.Message)
		case WarnLowPower: // 4+4 runs of 6 cell-metrics
		default:
			t.Errorf("unexpected warning %+v", w)
		}
	}
	want := []string{
		"CPU model differs: old AMD EPYC 7B13, new Intel Xeon Gold 6338",
		"CPU affinity differs: old 0-1, new 0",
		"Go version differs: old go1.26.8, new go1.25.3",
		"kernel differs: old Linux 6.8.0-45-generic, new Linux 6.1.0",
		"GOMAXPROCS differs: old 2, new 8",
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings\n%q\nwant\n%q", got, want)
	}
	var md bytes.Buffer
	if err := WriteCompareMarkdown(&md, c, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "> **Warning:** GOMAXPROCS differs: old 2, new 8") {
		t.Errorf("Markdown lacks the GOMAXPROCS warning:\n%s", md.String())
	}

	new.Invocation.MarkIncomplete("interrupted")
	c = mustCompare(t, old, new, nil)
	if !slices.ContainsFunc(c.Warnings, func(w Warning) bool {
		return w.Code == WarnSideIncomplete && w.Message == "the new result set is incomplete: interrupted"
	}) {
		t.Errorf("no incomplete warning: %v", c.Warnings)
	}
}

func TestCompareUnknownMetric(t *testing.T) {
	r := resultOf(fixedEnv(), fixedStart, 1, nil, nil)
	_, err := Compare(r, r, CompareOptions{Metrics: []string{"msgs_per_minute"}})
	if !errors.Is(err, ErrUnknownMetric) || !strings.Contains(err.Error(), "msgs_per_sec") {
		t.Errorf("err %v, want ErrUnknownMetric listing the known names", err)
	}
}

func TestParseMetricList(t *testing.T) {
	got, err := ParseMetricList([]string{"rtt_p99_ns,msgs_per_sec", "rtt_p99_ns"})
	if err != nil || !slices.Equal(got, []string{MetricRTTP99, MetricMsgsPerSec}) {
		t.Errorf("got %v, %v", got, err)
	}
	got, err = ParseMetricList(nil)
	if err != nil || !slices.Equal(got, DefaultCompareMetrics) {
		t.Errorf("empty: %v, %v", got, err)
	}
	got, err = ParseMetricList([]string{"all"})
	if err != nil || len(got) != len(Metrics) {
		t.Errorf("all: %v, %v", got, err)
	}
	if _, err := ParseMetricList([]string{"msgs_per_sec,p99"}); !errors.Is(err, ErrUnknownMetric) || !strings.Contains(err.Error(), `"p99"`) {
		t.Errorf("unknown name: %v", err)
	}
}

func TestParseThresholds(t *testing.T) {
	got, err := ParseThresholds("msgs_per_sec:-5%, rtt_p99_ns:+10%,rss_bytes:+0.5%")
	want := []Threshold{{MetricMsgsPerSec, -1, 5}, {MetricRTTP99, 1, 10}, {MetricRSSBytes, 1, 0.5}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	if s := got[0].String() + "," + got[2].String(); s != "msgs_per_sec:-5%,rss_bytes:+0.5%" {
		t.Errorf("String: %s", s)
	}

	bad := []struct {
		spec   string
		target error
		says   string
	}{
		{"", ErrBadThreshold, "no threshold"},
		{"msgs_per_sec", ErrBadThreshold, "METRIC:-N%"},
		{"msgs_per_sec:5%", ErrBadThreshold, "sign is required"},
		{"msgs_per_sec:-5", ErrBadThreshold, "METRIC:-N%"},
		{"msgs_per_sec:-five%", ErrBadThreshold, "METRIC:-N%"},
		{"msgs_per_sec:--5%", ErrBadThreshold, "METRIC:-N%"},
		{"msgs_per_sec:+5%", ErrBadThreshold, "the regression is msgs_per_sec:-5%"},
		{"rtt_p99_ns:-10%", ErrBadThreshold, "the regression is rtt_p99_ns:+10%"},
		{"immediate_writes:+5%", ErrBadThreshold, "informational"},
		{"msgs_per_sec:-5%,msgs_per_sec:-3%", ErrBadThreshold, "one per metric"},
		{"msgs_per_minute:-5%", ErrUnknownMetric, "rtt_p99_ns"},
	}
	for _, b := range bad {
		_, err := ParseThresholds(b.spec)
		if !errors.Is(err, b.target) || !strings.Contains(err.Error(), b.says) {
			t.Errorf("%q: err %v, want %v saying %q", b.spec, err, b.target, b.says)
		}
	}
}

func TestCheckGate(t *testing.T) {
	cA := cell("tcp", 32, 8192, true, 1)    // msgs -8 %, p99 +20 %: significant
	cB := cell("tcp", 32, 1, true, 1)       // msgs -3 %: significant, within -5 %
	cC := cell("tcp", 1024, 8192, true, 1)  // msgs -30 % but 3 runs: not judged
	cD := cell("tcp", 1024, 1, true, 1)     // msgs +20 %, p99 -20 %: both better
	cE := cell("tcp", 16384, 8192, true, 1) // msgs exactly -5 %: at the threshold, not beyond
	cells := []matrix.Cell{cA, cB, cC, cD, cE}
	var olds, news []sample.Sample
	add := func(c matrix.Cell, n int, f fig) {
		olds = append(olds, runsOf(c, n, baseFig, even)...)
		news = append(news, runsOf(c, n, f, even)...)
	}
	fa := baseFig
	fa.msgs *= 0.92
	fa.p99 *= 1.2
	add(cA, 6, fa)
	add(cB, 6, fig{msgs: baseFig.msgs * 0.97, p50: baseFig.p50, p99: baseFig.p99, cpu: baseFig.cpu, rss: baseFig.rss, mpw: baseFig.mpw, imm: baseFig.imm})
	add(cC, 3, baseFig.scaled(0.7))
	fd := baseFig
	fd.msgs *= 1.2
	fd.p99 *= 0.8
	add(cD, 6, fd)
	fe := baseFig
	fe.msgs *= 0.95
	add(cE, 6, fe)
	c := mustCompare(t, resultOf(fixedEnv(), fixedStart, 6, cells, olds), resultOf(fixedEnv(), fixedStart, 6, cells, news), nil)

	ts, err := ParseThresholds("msgs_per_sec:-5%,rtt_p99_ns:+10%")
	if err != nil {
		t.Fatal(err)
	}
	g := CheckGate(c, ts)
	var got []string
	for _, v := range g.Violations {
		got = append(got, v.Cell+" "+v.Metric)
	}
	want := []string{cA.ID() + " msgs_per_sec", cA.ID() + " rtt_p99_ns"}
	if !slices.Equal(got, want) {
		t.Errorf("violations %q, want %q", got, want)
	}
	if g.Passed() || g.Unjudged != 2 {
		t.Errorf("passed %v unjudged %d, want failed with 2 unjudged (cell C's two gated metrics)", g.Passed(), g.Unjudged)
	}
	if g := CheckGate(c, []Threshold{{MetricMsgsPerSec, -1, 10}}); !g.Passed() {
		t.Errorf("-8%% tripped a -10%% threshold: %+v", g.Violations)
	}
}

func TestThresholdTrips(t *testing.T) {
	down := Threshold{MetricMsgsPerSec, -1, 5}
	up := Threshold{MetricRTTP99, 1, 10}
	for _, c := range []struct {
		t     Threshold
		delta float64
		want  bool
	}{
		{down, -5.01, true}, {down, -5, false}, {down, -4, false}, {down, 50, false},
		{up, 10.5, true}, {up, 10, false}, {up, -30, false},
		{Threshold{MetricRTTP99, 1, 0}, 0.01, true},
	} {
		if got := c.t.Trips(c.delta); got != c.want {
			t.Errorf("%s with %+g%%: trips %v, want %v", c.t, c.delta, got, c.want)
		}
	}
}

// compareFixture covers every kind of row: better, worse, unchanged,
// informational change, too few runs, a workload that differs, cells on one
// side only, an environment difference and an incomplete side.
func compareFixture() (*Result, *Result) {
	cA := cell("tcp", 32, 8192, true, 1)
	cB := cell("tcp", 32, 1, true, 1)
	cC := cell("tcp", 1024, 8192, true, 2)
	cD := cell("ipc", 32, 8192, true, 1)
	cOld := cell("ipc", 16384, 8192, true, 1)
	cNew := cell("ws", 32, 8192, true, 1)
	cDNew := cD
	cDNew.Workload.ThroughputMessages *= 2

	var olds, news []sample.Sample
	fa := baseFig
	fa.msgs *= 1.12
	fa.p99 *= 1.25
	fa.imm *= 2
	olds = append(olds, runsOf(cA, 6, baseFig, even)...)
	news = append(news, runsOf(cA, 6, fa, even)...)
	olds = append(olds, runsOf(cB, 6, baseFig.scaled(0.3), even)...)
	news = append(news, runsOf(cB, 6, baseFig.scaled(0.3), odd)...)
	olds = append(olds, runsOf(cC, 3, baseFig.scaled(2), even)...)
	news = append(news, runsOf(cC, 6, baseFig.scaled(2.5), even)...)
	olds = append(olds, runsOf(cD, 4, baseFig, even)...)
	news = append(news, runsOf(cDNew, 4, baseFig.scaled(0.9), even)...)
	olds = append(olds, runsOf(cOld, 6, baseFig, even)...)
	news = append(news, runsOf(cNew, 6, baseFig, even)...)
	news = append(news, badSample(cC, 7, sample.StatusTimeout, "killed after 1m0s"))

	oldEnv, newEnv := fixedEnv(), fixedEnv()
	oldEnv.Commit, oldEnv.Dirty = "fedcba9876543210fedcba9876543210fedcba98", false
	newEnv.GoVersion = "go1.27.0"
	old := resultOf(oldEnv, fixedStart.Add(-24*time.Hour), 6, []matrix.Cell{cA, cB, cC, cD, cOld}, olds)
	new := resultOf(newEnv, fixedStart, 6, []matrix.Cell{cA, cB, cC, cDNew, cNew}, news)
	return old, new
}

func TestCompareGoldenFiles(t *testing.T) {
	old, new := compareFixture()
	c := mustCompare(t, old, new, []string{MetricMsgsPerSec, MetricRTTP99, MetricRSSBytes, MetricImmediateWrites})
	ts, err := ParseThresholds("msgs_per_sec:-5%,rtt_p99_ns:+10%")
	if err != nil {
		t.Fatal(err)
	}
	g := CheckGate(c, ts)
	if g.Passed() {
		t.Fatal("the fixture's +25% p99 should trip the gate")
	}
	for _, f := range []struct{ file, format string }{
		{"compare.golden.txt", "text"}, {"compare.golden.md", "md"}, {"compare.golden.json", "json"},
	} {
		t.Run(f.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteCompare(&b, f.format, c, g); err != nil {
				t.Fatal(err)
			}
			golden(t, f.file, b.Bytes())
		})
	}
	var b bytes.Buffer
	if err := WriteCompare(&b, "html", c, g); err == nil || !strings.Contains(err.Error(), "text, md, json") {
		t.Errorf("unknown format: %v", err)
	}
	// Without a gate there is no gate section.
	b.Reset()
	if err := WriteCompareText(&b, c, nil); err != nil || strings.Contains(b.String(), "gate") {
		t.Errorf("text without a gate mentions one (%v):\n%s", err, b.String())
	}
}

func TestCompareJSONEntries(t *testing.T) {
	old, new := compareFixture()
	c := mustCompare(t, old, new, nil)
	var b bytes.Buffer
	if err := WriteCompareJSON(&b, c, nil); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Entries []map[string]any `json:"entries"`
		Gate    any              `json:"gate"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Gate != nil {
		t.Errorf("gate present without thresholds: %v", doc.Gate)
	}
	n := 0
	for _, cc := range c.Cells {
		n += len(cc.Metrics)
	}
	if len(doc.Entries) != n || n == 0 {
		t.Fatalf("%d entries, want one per cell and metric (%d)", len(doc.Entries), n)
	}
	for _, k := range []string{"cell", "engine", "pattern", "protocol", "size", "out_batch_size", "write_batching",
		"sockets", "metric", "old_median", "new_median", "delta_pct", "p_value", "significant"} {
		if _, ok := doc.Entries[0][k]; !ok {
			t.Errorf("entry lacks %q: %v", k, doc.Entries[0])
		}
	}
}

func TestWriteResultSetAndComparisonFiles(t *testing.T) {
	old, new := compareFixture()
	dir := filepath.Join(t.TempDir(), "base-abc")
	if err := WriteResultSet(dir, old); err != nil {
		t.Fatal(err)
	}
	back, err := ReadResult(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Samples) != len(old.Samples) || back.Env.Commit != old.Env.Commit {
		t.Errorf("read back %d samples, commit %s", len(back.Samples), back.Env.Commit)
	}
	for _, f := range []string{BenchmarkFile, MarkdownFile} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := WriteResultSet(dir, new); err == nil {
		t.Error("WriteResultSet wrote into an existing directory")
	}

	c := mustCompare(t, old, new, nil)
	parent := filepath.Dir(dir)
	if err := WriteComparisonFiles(parent, c, nil, []byte("text\n")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CompareMarkdownFile, CompareJSONFile, CompareTextFile} {
		if fi, err := os.Stat(filepath.Join(parent, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// A schema 1 result set reads as one-process cells, and compare refuses the
// metrics whose definition changed in schema 2 while judging the others.
func TestSchemaOneReadAndDefinitionChanges(t *testing.T) {
	old, err := ReadResult(filepath.Join("testdata", "results.v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if old.SchemaVersion != 1 || len(old.Cells) == 0 {
		t.Fatalf("schema %d, %d cells", old.SchemaVersion, len(old.Cells))
	}
	ids := map[string]bool{}
	for _, c := range old.Cells {
		if c.Processes != 1 || !strings.HasSuffix(c.ID, "/processes=1") || c.ID != c.Cell.ID() {
			t.Errorf("schema 1 cell %s: processes %d", c.ID, c.Processes)
		}
		ids[c.ID] = true
	}
	for _, s := range old.Samples {
		if !ids[s.Cell] || s.Processes != 1 {
			t.Errorf("sample of %s (processes %d) matches no cell", s.Cell, s.Processes)
		}
	}

	// The same figures written by schema 2.
	data, err := json.Marshal(old)
	if err != nil {
		t.Fatal(err)
	}
	var cur Result
	if err := json.Unmarshal(data, &cur); err != nil {
		t.Fatal(err)
	}
	cur.SchemaVersion = SchemaVersion
	c, err := Compare(old, &cur, CompareOptions{Metrics: []string{MetricMsgsPerSec, MetricRTTP50}})
	if err != nil {
		t.Fatal(err)
	}
	warned := 0
	for _, w := range c.Warnings {
		if w.Code == WarnDefinitionChanged {
			warned++
			if w.Metric != MetricMsgsPerSec || !strings.Contains(w.Message, "sender's first send") {
				t.Errorf("warning %+v", w)
			}
		}
	}
	if warned != 1 {
		t.Errorf("%d definition warnings, want one for msgs_per_sec: %+v", warned, c.Warnings)
	}
	judged := 0
	for _, cc := range c.Cells {
		if mc, ok := cc.Change(MetricMsgsPerSec); ok {
			if mc.Verdict != VerdictNone || mc.Significant || !strings.HasPrefix(mc.Reason, "not judged") {
				t.Errorf("%s msgs_per_sec judged across schemas: %+v", cc.ID, mc)
			}
		}
		if mc, ok := cc.Change(MetricRTTP50); ok && mc.Verdict != VerdictNone {
			judged++
		}
	}
	if judged == 0 {
		t.Error("rtt_p50_ns, whose definition did not change, was never judged")
	}
	// Gates never trip on a refused metric, and say they could not judge it.
	g := CheckGate(c, []Threshold{{Metric: MetricMsgsPerSec, Sign: -1, Pct: 0}})
	if !g.Passed() {
		t.Errorf("a gate tripped on a metric that was not judged: %+v", g.Violations)
	}
	if g.Judged() || len(g.NotJudged) == 0 || !strings.Contains(g.NotJudged[0].Reason, "its definition changed") {
		t.Errorf("the gate does not list the refused metric as not judged: %+v", g.NotJudged)
	}
}

func TestCompareWarnsOfProfiledSide(t *testing.T) {
	old, cur := fixtureResult(), fixtureResult()
	cur.Invocation.Profiled = []string{"cpu"}
	c, err := Compare(old, cur, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(c.Warnings, func(w Warning) bool {
		return w.Code == WarnProfiled && strings.Contains(w.Message, "new result set was profiled (cpu)")
	}) {
		t.Errorf("no warning of the profiled side: %+v", c.Warnings)
	}
}
