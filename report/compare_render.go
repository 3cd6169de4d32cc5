package report

import (
	"bufio"
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"zbench/matrix"
)

// Renderers of a Comparison: text for a terminal (WriteCompareText), Markdown
// for a pull-request comment (WriteCompareMarkdown) and JSON for tools
// (WriteCompareJSON). Each takes the gate outcome, nil when no thresholds
// were given.

// CompareFormats are the names of the comparison renderers, as --format
// takes them.
var CompareFormats = []string{"text", "md", "json"}

// WriteCompare renders c in the named format (one of CompareFormats).
func WriteCompare(w io.Writer, format string, c *Comparison, g *Gate) error {
	switch format {
	case "text":
		return WriteCompareText(w, c, g)
	case "md":
		return WriteCompareMarkdown(w, c, g)
	case "json":
		return WriteCompareJSON(w, c, g)
	}
	return fmt.Errorf("report: unknown comparison format %q; allowed: %s", format, strings.Join(CompareFormats, ", "))
}

// cellAxes says which axes label a cell in comparison tables: engine and
// pattern only when the cells compared have more than one.
type cellAxes struct{ engine, pattern bool }

func axesOf(c *Comparison) cellAxes {
	engines, patterns := map[string]bool{}, map[string]bool{}
	add := func(cl matrix.Cell) { engines[cl.Engine], patterns[cl.Pattern] = true, true }
	for _, cc := range c.Cells {
		add(cc.Cell)
	}
	for _, r := range c.OnlyOld {
		add(r.Cell)
	}
	for _, r := range c.OnlyNew {
		add(r.Cell)
	}
	return cellAxes{engine: len(engines) > 1, pattern: len(patterns) > 1}
}

// headers are the column headers of the cell's axes.
func (a cellAxes) headers() []string {
	var h []string
	if a.engine {
		h = append(h, "engine")
	}
	if a.pattern {
		h = append(h, "pattern")
	}
	return append(h, "protocol", "size", "out_batch", "batching", "sockets")
}

// values are the cell's axis columns.
func (a cellAxes) values(c matrix.Cell) []string {
	var v []string
	if a.engine {
		v = append(v, c.Engine)
	}
	if a.pattern {
		v = append(v, c.Pattern)
	}
	return append(v, c.Protocol, FormatSize(c.Size), strconv.Itoa(c.OutBatchSize), onOff(c.WriteBatching), strconv.Itoa(c.Sockets))
}

// label is the cell in one phrase: "tcp · 32 B · out_batch 8192 · batching on · 1 socket".
func (a cellAxes) label(c matrix.Cell) string {
	var parts []string
	if a.engine {
		parts = append(parts, c.Engine)
	}
	if a.pattern {
		parts = append(parts, c.Pattern)
	}
	sockets := "sockets"
	if c.Sockets == 1 {
		sockets = "socket"
	}
	parts = append(parts, c.Protocol, FormatSize(c.Size), "out_batch "+strconv.Itoa(c.OutBatchSize),
		"batching "+onOff(c.WriteBatching), fmt.Sprintf("%d %s", c.Sockets, sockets))
	return strings.Join(parts, " · ")
}

// displayUnit is the unit a metric's formatted values are read in.
func displayUnit(metric string) string {
	if metric == MetricRSSBytes {
		return "MiB"
	}
	m, _ := MetricByName(metric)
	return m.Unit
}

// directionText says how a metric is judged.
func directionText(b Better) string {
	switch b {
	case HigherIsBetter:
		return "higher is better"
	case LowerIsBetter:
		return "lower is better"
	}
	return "informational, not judged"
}

// metricHeading is "msgs_per_sec (msg/s; higher is better)".
func metricHeading(metric string) string {
	return fmt.Sprintf("%s (%s; %s)", metric, displayUnit(metric), directionText(betterOf(metric)))
}

// ciPct is the half-width of a stat's 95 % CI around its median in percent,
// as benchstat prints it: "±2%", "±∞" without a finite interval.
func ciPct(st Stat) string {
	if st.CILow == nil || st.CIHigh == nil {
		return "±∞"
	}
	c, lo, hi := st.Median, *st.CILow, *st.CIHigh
	if c == 0 {
		if lo == 0 && hi == 0 {
			return "±0%"
		}
		return "±?"
	}
	if (c > 0) != (lo > 0) || (c > 0) != (hi > 0) {
		return "±?"
	}
	v := math.Max(hi/c-1, 1-lo/c)
	return fmt.Sprintf("±%.0f%%", 100*v)
}

// statFigure is a side's median with its CI: "1.20M ±2%".
func statFigure(metric string, st Stat) string {
	return FormatMetric(metric, st.Median) + " " + ciPct(st)
}

// deltaText is the change of the median: "+8.33%", or "~" when it is not
// significant or not judged, "?" when the old median is 0.
func deltaText(mc MetricChange) string {
	switch {
	case !mc.Significant:
		return "~"
	case mc.DeltaPct == nil:
		return "?"
	}
	return fmt.Sprintf("%+.2f%%", *mc.DeltaPct)
}

// pText formats a p-value with three decimals, "<0.001" below that.
func pText(p float64) string {
	if p < 0.001 {
		return "<0.001"
	}
	return strconv.FormatFloat(p, 'f', 3, 64)
}

// qText is the adjusted p-value, "" when the change was not judged.
func qText(mc MetricChange) string {
	if mc.Reason != "" {
		return ""
	}
	return pText(mc.Q)
}

// floorText is the change a cell-metric had to exceed: "3.1%" from the
// noise floor, "2%" the minimum effect ("2%*" when a noise floor is in use
// but has no figure for it); "" when not judged.
func floorText(c *Comparison, mc MetricChange) string {
	if mc.FloorPct == nil {
		return ""
	}
	s := strconv.FormatFloat(*mc.FloorPct, 'f', 1, 64) + "%"
	if mc.FloorFrom == FloorFromMinEffect {
		s = strconv.FormatFloat(*mc.FloorPct, 'f', -1, 64) + "%"
		if c.NoiseFloor != nil {
			s += "*"
		}
	}
	return s
}

// runsText is "6+6": the runs each side's figures come from.
func runsText(mc MetricChange) string { return fmt.Sprintf("%d+%d", mc.Old.N, mc.New.N) }

// noteText is the verdict, or why the change was not judged, or that the
// test alone would have called it significant.
func noteText(mc MetricChange) string {
	switch {
	case mc.Reason != "":
		return mc.Reason
	case mc.WithinFloor && mc.FloorFrom == FloorFromNoiseFloor:
		return "within the noise floor"
	case mc.WithinFloor:
		return "below the minimum effect"
	case mc.Verdict == VerdictSame:
		return ""
	}
	return mc.Verdict
}

func commitWithDirty(s Side) string {
	c := ShortCommit(s.Commit)
	if s.Dirty {
		c += " (dirty)"
	}
	return c
}

// sideText is one line about a side: commit, version, date, profile, runs.
func sideText(s Side) string {
	parts := []string{"commit " + commitWithDirty(s)}
	if s.Version != "" {
		parts = append(parts, "zbench "+s.Version)
	}
	parts = append(parts, formatTime(s.Start))
	if s.Profile != "" {
		parts = append(parts, "profile "+s.Profile)
	}
	parts = append(parts, fmt.Sprintf("%d runs per cell", s.Runs))
	if s.Incomplete {
		parts = append(parts, "incomplete")
	}
	return strings.Join(parts, ", ")
}

func tallyText(c *Comparison) string {
	t := c.Tally()
	parts := []string{fmt.Sprintf("%d better", t.Better), fmt.Sprintf("%d worse", t.Worse)}
	if t.Changed > 0 {
		parts = append(parts, fmt.Sprintf("%d changed (informational)", t.Changed))
	}
	unchanged := fmt.Sprintf("%d unchanged", t.Unchanged)
	if t.WithinFloor > 0 {
		unchanged += fmt.Sprintf(" (%d of them significant by the test alone but within the floor)", t.WithinFloor)
	}
	parts = append(parts, unchanged)
	if t.Unjudged > 0 {
		parts = append(parts, fmt.Sprintf("%d not judged (too few runs or a changed definition; see the rows)", t.Unjudged))
	}
	return fmt.Sprintf("%s, %d cell-metrics: %s", plural(len(c.Cells), "cell"), t.Total, strings.Join(parts, ", "))
}

// plural is "1 cell", "2 cells".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func methodText(c *Comparison) string {
	floor := fmt.Sprintf("a minimum effect of %s%%", strconv.FormatFloat(c.MinEffectPct, 'f', -1, 64))
	if c.NoiseFloor != nil {
		floor = fmt.Sprintf("the cell-metric's noise floor from zbench calibrate (%s where the calibration has none, marked *)",
			strconv.FormatFloat(c.MinEffectPct, 'f', -1, 64)+"%")
	}
	return fmt.Sprintf("Mann-Whitney U test of the per-run values (p), at least %d runs per side; p adjusted across the %d "+
		"cell-metrics judged (Benjamini–Hochberg, false discovery rate %g: q). A change is significant when q <= %g and it "+
		"exceeds its floor: %s. \"~\" = no significant change; ±x%% = 95%% confidence interval of the median (±∞ with too "+
		"few runs for one).", c.MinRuns, c.Tests, c.FDR, c.FDR, floor)
}

// floorSourceText is one line about the noise floor in use, "" without one.
func floorSourceText(c *Comparison) string {
	f := c.NoiseFloor
	if f == nil {
		return ""
	}
	parts := []string{cmp.Or(f.Source, "(given)"), "calibrated " + formatTime(f.Created), "commit " + ShortCommit(f.Commit)}
	if f.Profile != "" {
		parts = append(parts, "profile "+f.Profile)
	}
	parts = append(parts, fmt.Sprintf("%d runs per side", f.Runs))
	return strings.Join(parts, ", ")
}

func thresholdsText(ts []Threshold) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = t.String()
	}
	return strings.Join(s, ",")
}

// violationText is one line about a tripped threshold.
func violationText(v Violation, a cellAxes) string {
	return fmt.Sprintf("%s: %s %+.2f%% (threshold %s; q=%s; %s → %s)", a.label(v.cell), v.Metric, v.DeltaPct,
		strings.TrimPrefix(v.Threshold.String(), v.Metric+":"), pText(v.Q),
		FormatMetric(v.Metric, v.OldMedian), FormatMetric(v.Metric, v.NewMedian))
}

func gateHeadline(g *Gate) string {
	switch {
	case !g.Passed() && !g.Judged():
		return fmt.Sprintf("gate %s: FAILED, %d significant change(s) beyond a threshold; %d gated cell-metric(s) could not be judged",
			thresholdsText(g.Thresholds), len(g.Violations), len(g.NotJudged))
	case !g.Passed():
		return fmt.Sprintf("gate %s: FAILED, %d significant change(s) beyond a threshold", thresholdsText(g.Thresholds), len(g.Violations))
	case !g.Judged():
		return fmt.Sprintf("gate %s: NOT JUDGED, could not judge %d gated cell-metric(s); no change beyond a threshold among the rest",
			thresholdsText(g.Thresholds), len(g.NotJudged))
	}
	return fmt.Sprintf("gate %s: passed", thresholdsText(g.Thresholds))
}

// notJudgedText is one line about a gated cell-metric that could not be
// judged.
func notJudgedText(n NotJudged) string {
	return fmt.Sprintf("could not judge %s: %s: %s", n.Label, n.Metric, n.Reason)
}

// NotJudgedSummary says in one line which gated cell-metrics could not be
// judged and why, naming at most limit of them; "" when all were judged.
func (g *Gate) NotJudgedSummary(limit int) string {
	var items []string
	for i, n := range g.NotJudged {
		if i == limit {
			items = append(items, fmt.Sprintf("and %d more", len(g.NotJudged)-limit))
			break
		}
		items = append(items, fmt.Sprintf("%s: %s: %s", n.Label, n.Metric, n.Reason))
	}
	return strings.Join(items, "; ")
}

// cellNotes lists cell warnings a table does not show (the too-few-runs
// warning is in every row's note already).
func cellNotes(c *Comparison, a cellAxes) []string {
	var notes []string
	for _, cc := range c.Cells {
		for _, w := range cc.Warnings {
			if w.Code == WarnTooFewToCompare {
				continue
			}
			notes = append(notes, a.label(cc.Cell)+": "+w.Message)
		}
	}
	return notes
}

// WriteCompareText renders c for a terminal: the two sides, warnings, the
// gate's outcome, then one aligned table per metric with a row per cell (old
// and new median with their 95 % CI, delta or "~", p-value, runs, verdict or
// reason), the cells only one side has, and a tally.
func WriteCompareText(w io.Writer, c *Comparison, g *Gate) error {
	bw := bufio.NewWriter(w)
	a := axesOf(c)
	fmt.Fprintf(bw, "old: %s: %s\n", c.Old.Label, sideText(c.Old))
	fmt.Fprintf(bw, "new: %s: %s\n", c.New.Label, sideText(c.New))
	if f := floorSourceText(c); f != "" {
		fmt.Fprintf(bw, "noise floor: %s\n", f)
	}
	for _, wn := range c.Warnings {
		fmt.Fprintf(bw, "warning: %s\n", wn.Message)
	}
	bw.WriteString("\n" + methodText(c) + "\n")

	for _, metric := range c.Metrics {
		header := append(a.headers(), "old", "new", "delta", "p", "q", "floor", "runs", "note")
		right := make([]bool, len(header))
		for i, h := range header {
			right[i] = slices.Contains([]string{"size", "out_batch", "sockets", "old", "new", "delta", "p", "q", "floor"}, h)
		}
		rows := [][]string{header}
		for _, cc := range c.Cells {
			mc, ok := cc.Change(metric)
			if !ok {
				continue
			}
			rows = append(rows, append(a.values(cc.Cell), statFigure(metric, mc.Old), statFigure(metric, mc.New),
				deltaText(mc), pText(mc.P), qText(mc), floorText(c, mc), runsText(mc), noteText(mc)))
		}
		fmt.Fprintf(bw, "\n%s\n", metricHeading(metric))
		if len(rows) == 1 {
			bw.WriteString("  no cell has it on both sides\n")
			continue
		}
		if err := writeAligned(bw, rows, right); err != nil {
			return err
		}
	}

	for _, only := range []struct {
		side  string
		cells []CellRef
	}{{"old", c.OnlyOld}, {"new", c.OnlyNew}} {
		if len(only.cells) == 0 {
			continue
		}
		fmt.Fprintf(bw, "\nonly in %s (%s, not compared):\n", only.side, plural(len(only.cells), "cell"))
		for _, r := range only.cells {
			fmt.Fprintf(bw, "  %s\n", r.ID)
		}
	}
	if notes := cellNotes(c, a); len(notes) > 0 {
		bw.WriteString("\nnotes:\n")
		for _, n := range notes {
			fmt.Fprintf(bw, "  %s\n", n)
		}
	}

	fmt.Fprintf(bw, "\n%s\n", tallyText(c))
	if g != nil {
		fmt.Fprintf(bw, "%s\n", gateHeadline(g))
		for _, v := range g.Violations {
			fmt.Fprintf(bw, "  %s\n", violationText(v, a))
		}
		for _, n := range g.NotJudged {
			fmt.Fprintf(bw, "  %s\n", notJudgedText(n))
		}
	}
	return bw.Flush()
}

// WriteCompareMarkdown renders c for a pull-request comment: the two sides,
// warnings, the gate's outcome and a tally first, a table of the significant
// changes, then every metric's full table inside a collapsed <details>
// block.
func WriteCompareMarkdown(w io.Writer, c *Comparison, g *Gate) error {
	bw := bufio.NewWriter(w)
	a := axesOf(c)
	fmt.Fprintf(bw, "## zbench compare: %s → %s\n\n", mdEscape(c.Old.Label), mdEscape(c.New.Label))
	bw.WriteString("| | old | new |\n|---|---|---|\n")
	row := func(k, o, n string) { fmt.Fprintf(bw, "| %s | %s | %s |\n", k, mdEscape(o), mdEscape(n)) }
	row("Result set", c.Old.Label, c.New.Label)
	row("Commit", commitWithDirty(c.Old), commitWithDirty(c.New))
	row("zbench version", c.Old.Version, c.New.Version)
	row("Date", formatTime(c.Old.Start), formatTime(c.New.Start))
	row("Profile", c.Old.Profile, c.New.Profile)
	row("Runs per cell", strconv.Itoa(c.Old.Runs), strconv.Itoa(c.New.Runs))
	bw.WriteString("\n")
	if f := floorSourceText(c); f != "" {
		fmt.Fprintf(bw, "Noise floor: %s\n\n", mdEscape(f))
	}
	for _, wn := range c.Warnings {
		fmt.Fprintf(bw, "> **Warning:** %s\n>\n", mdEscape(wn.Message))
	}
	if len(c.Warnings) > 0 {
		bw.WriteString("\n")
	}

	if g != nil {
		switch {
		case !g.Passed():
			fmt.Fprintf(bw, "**Gate failed** (`%s`): %d significant change(s) beyond a threshold", thresholdsText(g.Thresholds), len(g.Violations))
		case !g.Judged():
			fmt.Fprintf(bw, "**Gate not judged** (`%s`): no change beyond a threshold among the cell-metrics judged", thresholdsText(g.Thresholds))
		default:
			fmt.Fprintf(bw, "**Gate passed** (`%s`)", thresholdsText(g.Thresholds))
		}
		if !g.Judged() {
			fmt.Fprintf(bw, "; could not judge %d gated cell-metric(s)", len(g.NotJudged))
		}
		bw.WriteString("\n\n")
		for _, v := range g.Violations {
			fmt.Fprintf(bw, "- %s\n", mdEscape(violationText(v, a)))
		}
		for _, n := range g.NotJudged {
			fmt.Fprintf(bw, "- %s\n", mdEscape(notJudgedText(n)))
		}
		if len(g.Violations)+len(g.NotJudged) > 0 {
			bw.WriteString("\n")
		}
	}
	fmt.Fprintf(bw, "**%s**\n\n", mdEscape(tallyText(c)))

	bw.WriteString("### Significant changes\n\n")
	var sig [][]string
	for _, cc := range c.Cells {
		for _, mc := range cc.Metrics {
			if mc.Significant {
				sig = append(sig, []string{a.label(cc.Cell), mc.Metric, statFigure(mc.Metric, mc.Old),
					statFigure(mc.Metric, mc.New), deltaText(mc), pText(mc.Q), floorText(c, mc), mc.Verdict})
			}
		}
	}
	if len(sig) == 0 {
		bw.WriteString("None.\n")
	} else {
		writeMDTable(bw, []string{"cell", "metric", "old", "new", "delta", "q", "floor", "verdict"},
			[]bool{false, false, true, true, true, true, true, false}, sig)
	}

	for _, only := range []struct {
		side  string
		cells []CellRef
	}{{"old", c.OnlyOld}, {"new", c.OnlyNew}} {
		if len(only.cells) == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n### Only in %s (%s, not compared)\n\n", only.side, plural(len(only.cells), "cell"))
		for _, r := range only.cells {
			fmt.Fprintf(bw, "- `%s`\n", r.ID)
		}
	}
	if notes := cellNotes(c, a); len(notes) > 0 {
		bw.WriteString("\n### Notes\n\n")
		for _, n := range notes {
			fmt.Fprintf(bw, "- %s\n", mdEscape(n))
		}
	}

	fmt.Fprintf(bw, "\n<details><summary>All cells and metrics</summary>\n")
	for _, metric := range c.Metrics {
		fmt.Fprintf(bw, "\n#### %s\n\n", mdEscape(metricHeading(metric)))
		header := append(a.headers(), "old", "new", "delta", "p", "q", "floor", "runs", "note")
		right := make([]bool, len(header))
		for i, h := range header {
			right[i] = slices.Contains([]string{"size", "out_batch", "sockets", "old", "new", "delta", "p", "q", "floor", "runs"}, h)
		}
		var rows [][]string
		for _, cc := range c.Cells {
			if mc, ok := cc.Change(metric); ok {
				rows = append(rows, append(a.values(cc.Cell), statFigure(metric, mc.Old), statFigure(metric, mc.New),
					deltaText(mc), pText(mc.P), qText(mc), floorText(c, mc), runsText(mc), noteText(mc)))
			}
		}
		if len(rows) == 0 {
			bw.WriteString("No cell has it on both sides.\n")
			continue
		}
		writeMDTable(bw, header, right, rows)
	}
	fmt.Fprintf(bw, "\n</details>\n\n%s\n", mdEscape(methodText(c)))
	return bw.Flush()
}

func writeMDTable(bw *bufio.Writer, header []string, right []bool, rows [][]string) {
	bw.WriteString("|")
	for _, h := range header {
		bw.WriteString(" " + mdEscape(h) + " |")
	}
	bw.WriteString("\n|")
	for i := range header {
		if right[i] {
			bw.WriteString("---:|")
		} else {
			bw.WriteString("---|")
		}
	}
	bw.WriteString("\n")
	for _, r := range rows {
		bw.WriteString("|")
		for _, v := range r {
			bw.WriteString(" " + mdEscape(v) + " |")
		}
		bw.WriteString("\n")
	}
}

// CompareEntry is one cell and metric of a comparison as WriteCompareJSON
// writes it: the cell's axis values beside the figures, so that every entry
// stands alone (for jq and spreadsheets).
type CompareEntry struct {
	Cell          string   `json:"cell"`
	Engine        string   `json:"engine"`
	Pattern       string   `json:"pattern"`
	Protocol      string   `json:"protocol"`
	Size          int      `json:"size"`
	OutBatchSize  int      `json:"out_batch_size"`
	WriteBatching bool     `json:"write_batching"`
	Sockets       int      `json:"sockets"`
	Metric        string   `json:"metric"`
	Unit          string   `json:"unit"`
	Better        Better   `json:"better"`
	OldMedian     float64  `json:"old_median"`
	NewMedian     float64  `json:"new_median"`
	OldCILow      *float64 `json:"old_ci_low"`
	OldCIHigh     *float64 `json:"old_ci_high"`
	NewCILow      *float64 `json:"new_ci_low"`
	NewCIHigh     *float64 `json:"new_ci_high"`
	OldN          int      `json:"old_n"`
	NewN          int      `json:"new_n"`
	DeltaPct      *float64 `json:"delta_pct"`
	PValue        float64  `json:"p_value"`
	QValue        float64  `json:"q_value"`
	FloorPct      *float64 `json:"floor_pct"`
	FloorFrom     string   `json:"floor_from,omitempty"`
	Significant   bool     `json:"significant"`
	WithinFloor   bool     `json:"within_floor,omitempty"`
	Verdict       string   `json:"verdict"`
	Reason        string   `json:"reason,omitempty"`
}

// CellWarning is a warning about one cell of a comparison.
type CellWarning struct {
	Cell string `json:"cell"`
	Warning
}

// CompareDocument is the JSON form of a comparison (WriteCompareJSON).
type CompareDocument struct {
	Alpha        float64        `json:"alpha"`
	MinRuns      int            `json:"min_runs"`
	FDR          float64        `json:"fdr"`
	Tests        int            `json:"tests"`
	MinEffectPct float64        `json:"min_effect_pct"`
	NoiseFloor   *FloorRef      `json:"noise_floor,omitempty"`
	Metrics      []string       `json:"metrics"`
	Old          Side           `json:"old"`
	New          Side           `json:"new"`
	Warnings     []Warning      `json:"warnings"`
	Tally        Tally          `json:"tally"`
	Entries      []CompareEntry `json:"entries"`
	CellWarnings []CellWarning  `json:"cell_warnings"`
	OnlyOld      []CellRef      `json:"only_old"`
	OnlyNew      []CellRef      `json:"only_new"`
	// Gate is absent when no thresholds were given.
	Gate *GateDocument `json:"gate,omitempty"`
}

// GateDocument is the JSON form of a gate's outcome.
type GateDocument struct {
	Passed bool `json:"passed"`
	*Gate
}

// Document flattens c (and g, which may be nil) into its JSON form.
func (c *Comparison) Document(g *Gate) CompareDocument {
	d := CompareDocument{
		Alpha: c.Alpha, MinRuns: c.MinRuns, FDR: c.FDR, Tests: c.Tests, MinEffectPct: c.MinEffectPct, NoiseFloor: c.NoiseFloor,
		Metrics: c.Metrics, Old: c.Old, New: c.New,
		Warnings: c.Warnings, Tally: c.Tally(), Entries: []CompareEntry{}, CellWarnings: []CellWarning{},
		OnlyOld: c.OnlyOld, OnlyNew: c.OnlyNew,
	}
	if d.Warnings == nil {
		d.Warnings = []Warning{}
	}
	for _, cc := range c.Cells {
		for _, w := range cc.Warnings {
			d.CellWarnings = append(d.CellWarnings, CellWarning{Cell: cc.ID, Warning: w})
		}
		for _, mc := range cc.Metrics {
			d.Entries = append(d.Entries, CompareEntry{
				Cell: cc.ID, Engine: cc.Engine, Pattern: cc.Pattern, Protocol: cc.Protocol, Size: cc.Size,
				OutBatchSize: cc.OutBatchSize, WriteBatching: cc.WriteBatching, Sockets: cc.Sockets,
				Metric: mc.Metric, Unit: mc.Unit, Better: mc.Better,
				OldMedian: mc.Old.Median, NewMedian: mc.New.Median,
				OldCILow: mc.Old.CILow, OldCIHigh: mc.Old.CIHigh, NewCILow: mc.New.CILow, NewCIHigh: mc.New.CIHigh,
				OldN: mc.Old.N, NewN: mc.New.N,
				DeltaPct: mc.DeltaPct, PValue: mc.P, QValue: mc.Q, FloorPct: mc.FloorPct, FloorFrom: mc.FloorFrom,
				Significant: mc.Significant, WithinFloor: mc.WithinFloor, Verdict: mc.Verdict, Reason: mc.Reason,
			})
		}
	}
	if g != nil {
		d.Gate = &GateDocument{Passed: g.Passed(), Gate: g}
	}
	return d
}

// WriteCompareJSON writes c as indented JSON (CompareDocument): one entry
// per cell and metric, with the cell's axis values, both medians and CIs,
// delta_pct, p_value and significant.
func WriteCompareJSON(w io.Writer, c *Comparison, g *Gate) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(c.Document(g))
}
