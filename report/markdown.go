package report

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"zbench/host"
	"zbench/matrix"
	"zbench/runner/sample"
)

// tableColumns are the metric columns of the Markdown tables, in order.
var tableColumns = []struct{ metric, header string }{
	{MetricMsgsPerSec, "msg/s"},
	{MetricMBPerSec, "MB/s"},
	{MetricRTTP50, "RTT p50"},
	{MetricRTTP99, "RTT p99"},
	{MetricSenderCPUNsPerMsg, "sender CPU ns/msg"},
	{MetricReceiverCPUNsPerMsg, "receiver CPU ns/msg"},
	{MetricCPUPercent, "CPU %"},
	{MetricRSSBytes, "RSS MiB"},
	{MetricMsgsPerWrite, "msgs/write"},
}

// keyHeader and keyAlign head the key columns keyColumns renders.
const (
	keyHeader = "| size | out_batch_size | write batching | sockets | processes |"
	keyAlign  = "|---:|---:|:---:|---:|---:|"
)

// WriteMarkdown renders r as BENCHMARK_RESULTS.md: a header (date, commit,
// version, profile, runs, option values, environment), a legend, one table
// per protocol (per engine, pattern and protocol when the result has more
// than one engine or pattern), notes (warnings, outliers), then the charts,
// referenced by file name (they are written beside the Markdown file).
func WriteMarkdown(w io.Writer, r *Result, charts []Chart) error {
	return writeMarkdown(w, r, charts, nil, nil)
}

// writeMarkdown is WriteMarkdown with the latency-vs-load pictures that
// were drawn.
func writeMarkdown(w io.Writer, r *Result, charts []Chart, loads []LoadGroup, mems []MemoryPicture) error {
	bw := bufio.NewWriter(w)
	inv, e := r.Invocation, r.Env

	bw.WriteString("# zbench results\n\n")
	if len(inv.Profiled) > 0 {
		fmt.Fprintf(bw, "> **Profiled runs** (%s): profiling slows the workers; these figures are not comparable with unprofiled ones.\n\n",
			strings.Join(inv.Profiled, ", "))
	}
	if inv.Incomplete || r.FailedRuns() > 0 {
		why := strings.Join(inv.IncompleteReasons, "; ")
		if why == "" {
			why = fmt.Sprintf("%d runs failed", r.FailedRuns())
		}
		fmt.Fprintf(bw, "> **Incomplete results:** %s. Cells that are not ok are listed with their status.\n\n", mdEscape(why))
	}

	fmt.Fprintf(bw, "| | |\n|---|---|\n")
	row := func(k, v string) { fmt.Fprintf(bw, "| %s | %s |\n", k, mdEscape(v)) }
	row("Date", formatTime(inv.Start))
	if !inv.Start.IsZero() && !inv.End.IsZero() {
		row("Duration", inv.End.Sub(inv.Start).Round(time.Second).String())
	}
	row("Commit", commitText(e))
	row("zbench version", e.Version)
	row("Profile", cmp.Or(inv.Profile, "default"))
	row("Runs per cell", strconv.Itoa(inv.Runs))
	if len(inv.Filter) > 0 {
		row("Filter", strings.Join(inv.Filter, " "))
	}
	if inv.ScenarioFile != "" {
		row("Scenario file", inv.ScenarioFile)
	}
	if len(inv.Command) > 0 {
		row("Command", "`"+strings.Join(inv.Command, " ")+"`")
	}

	bw.WriteString("\n## Options\n\n")
	bw.WriteString("| option | values |\n|---|---|\n")
	for _, axis := range matrix.Axes {
		row(axis, strings.Join(axisValues(r.Cells, axis), ", "))
	}
	for _, wl := range workloads(r.Cells) {
		row("workload", wl)
	}

	bw.WriteString("\n## Environment\n\n| | |\n|---|---|\n")
	row("CPU", e.CPUModel)
	row("Logical cores", strconv.Itoa(e.LogicalCores))
	row("CPU affinity", cmp.Or(inv.Affinity, e.Affinity))
	if inv.CPUs != "" {
		row("Pinned to (--cpus)", inv.CPUs)
	}
	if e.Governor != "" && e.Governor != "none" {
		row("cpufreq governor", e.Governor)
	}
	row("Kernel", e.Kernel)
	row("OS/arch", e.OS+"/"+e.Arch)
	row("Go", e.GoVersion)
	row("GOMAXPROCS", strconv.Itoa(e.GOMAXPROCS))
	if e.MemTotalBytes > 0 {
		row("Memory", sig3(float64(e.MemTotalBytes)/(1<<30))+" GiB")
	}
	row("Host", e.Hostname)
	writeHosts(bw, inv.Hosts)

	bw.WriteString(legend)

	bw.WriteString("\n## Results\n")
	multi := len(axisValues(r.Cells, matrix.AxisEngine)) > 1 || len(axisValues(r.Cells, matrix.AxisPattern)) > 1
	for _, g := range tableGroups(r.Cells) {
		if multi {
			fmt.Fprintf(bw, "\n### %s · %s · %s\n\n", g.engine, g.pattern, g.protocol)
		} else {
			fmt.Fprintf(bw, "\n### %s\n\n", g.protocol)
		}
		bw.WriteString(keyHeader)
		for _, col := range tableColumns {
			bw.WriteString(" " + col.header + " |")
		}
		bw.WriteString(" runs |\n" + keyAlign)
		for range tableColumns {
			bw.WriteString("---:|")
		}
		bw.WriteString("---|\n")
		for _, c := range g.cells {
			bw.WriteString(keyColumns(c, c.NotApplicable))
			for _, col := range tableColumns {
				bw.WriteString(" " + cellFigure(c, col.metric, true) + " |")
			}
			bw.WriteString(" " + mdEscape(statusText(c)) + " |\n")
		}
	}

	if len(axisValues(r.Cells, matrix.AxisEngine)) > 1 {
		writeEngineComparison(bw, r.Cells)
		writeReferenceCheck(bw, r.Cells)
	}

	writeLoadSection(bw, r.Cells, loads)
	writeMemorySection(bw, mems)
	writeProfilesSection(bw, r)

	writeNotes(bw, r.Cells, r.Samples)

	if len(charts) > 0 {
		bw.WriteString("\n## Charts\n\nOne figure per metric, against message size: a panel per protocol and socket count, all on one y axis " +
			"(logarithmic where the values span a decade or more); a line per setting through the medians of the runs, " +
			"with a band (a bar for a single size) from the smallest to the largest run.\n")
		for _, ch := range charts {
			fmt.Fprintf(bw, "\n![%s](%s)\n", mdEscape(ch.Title), ch.File)
		}
	}
	return bw.Flush()
}

const legend = `
## What the columns mean

- **processes**: the topology of the cell's runs. 2: each side in its own fresh worker process (the sender:
  stream sender and round-trip client; the receiver: stream receiver and echo, which binds every endpoint), as
  libzmq's local_thr/remote_thr and real deployments run; 1: both sides in one worker process.
- **msg/s**: messages delivered per second over all socket pairs, timed from the sender's first send to the
  receiver's last receive on the host's monotonic clock, which both processes share (warm-up excluded).
  **MB/s**: message body bytes (10^6) per second, from the same timing. A phase too short to be more than a
  drain of socket buffers (under 50 ms, or a fixed count the buffers hold whole) shows no rate; the Notes say why.
- **RTT p50 / p99**: round-trip time (request and echo) percentiles from an HdrHistogram of every round trip of
  every pair. One-way latency, in results.json, is the mean RTT / 2 (the figure libzmq's perf tools print).
- **sender / receiver CPU ns/msg**: each side's own user+sys CPU time over the throughput phase (getrusage in
  its worker at the phase's start and end) per message delivered; two processes only.
- **CPU %**: whole run: user+sys CPU time of the run's workers (both sides; start-up, warm-up and both phases)
  over the run's wall time; 100 % is one core.
- **RSS MiB**: whole run: peak resident set size of the run's workers, summed; each side's own, and the growth
  from its start-up, are sender_rss_bytes, receiver_rss_bytes and rss_growth_bytes in results.json and
  benchmark_result.txt.
- **msgs/write**: messages per write call of the sending sockets (engine telemetry; n/a for engines without it).
- Each figure is the median over the ok runs; **±x%** is the coefficient of variation across runs. The 95 %
  confidence interval of the median, min and max are in results.json. **n/a**: no run measured it; under
  out_batch_size or write batching, the engine cannot set that option (the Notes say why).
- **runs**: ok runs of runs made, or the cell's status and reason when it could not run.

Compare with another result set: ` + "`zbench compare OLD NEW`" + `, or
` + "`benchstat -ignore commit,dirty,zbench-version OLD/benchmark_result.txt NEW/benchmark_result.txt`" + `.
`

func writeNotes(bw *bufio.Writer, cells []CellResult, samples []sample.Sample) {
	lines := engineNotes(cells, samples)
	tooFew, outliers := 0, 0
	for i := range cells {
		c := &cells[i]
		for _, w := range c.Warnings {
			switch w.Code {
			case WarnTooFewForCI:
				tooFew++
			case WarnAllRunsFailed, WarnNotRun:
				// The table's runs column says so.
			default:
				lines = append(lines, fmt.Sprintf("- `%s`: %s", c.ID, mdEscape(w.Message)))
			}
		}
		for _, m := range Metrics {
			st, ok := c.Metrics[m.Name]
			if !ok {
				continue
			}
			for _, o := range st.Outliers {
				outliers++
				lines = append(lines, fmt.Sprintf("- `%s`: run %d is an outlier in %s: %s (median %s, %.1f MADs)",
					c.ID, o.Run, m.Name, FormatMetric(m.Name, o.Value), FormatMetric(m.Name, st.Median), o.Score))
			}
		}
	}
	if tooFew > 0 {
		lines = append([]string{fmt.Sprintf("- %d cell(s) have fewer than %d ok runs: no %.0f %% confidence interval of the median.",
			tooFew, minRunsForCI(), Confidence*100)}, lines...)
	}
	if len(lines) == 0 {
		return
	}
	bw.WriteString("\n## Notes\n\n")
	if outliers > 0 {
		fmt.Fprintf(bw, "An outlier is a run whose value is more than %.1f scaled MADs (|x − median| / (1.4826 · MAD)) from its cell's median.\n\n", OutlierThreshold)
	}
	for _, l := range lines {
		bw.WriteString(l + "\n")
	}
}

func commitText(e Env) string {
	s := e.Commit
	if s == "" {
		s = Unknown
	}
	if e.Dirty {
		s += " (dirty)"
	}
	return s
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return Unknown
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// statusText is a cell's runs column: "5/5 ok", "3/5 ok; failed: …",
// "unsupported: …".
func statusText(c *CellResult) string {
	switch c.Status {
	case CellOK:
		return fmt.Sprintf("%d/%d ok", c.Runs.OK, c.Runs.Total)
	case CellPartial:
		return fmt.Sprintf("%d/%d ok; %s", c.Runs.OK, c.Runs.Total, oneLine(c.Reason, 80, false))
	case CellNotRun:
		return "not run"
	}
	if c.Reason == "" || c.Reason == c.Status {
		return c.Status
	}
	reason := c.Reason
	if !strings.HasPrefix(reason, c.Status) {
		reason = c.Status + " (" + reason + ")"
	}
	return oneLine(reason, 100, false)
}

func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	return strings.ReplaceAll(s, "|", `\|`)
}

type tableGroup struct {
	engine, pattern, protocol string
	cells                     []*CellResult
}

// tableGroups groups cells by engine, pattern and protocol (in order of first
// appearance) with rows sorted by size, out_batch_size (largest first), write
// batching (on first) and sockets.
func tableGroups(cells []CellResult) []tableGroup {
	var groups []tableGroup
	for i := range cells {
		c := &cells[i]
		k := slices.IndexFunc(groups, func(g tableGroup) bool {
			return g.engine == c.Engine && g.pattern == c.Pattern && g.protocol == c.Protocol
		})
		if k < 0 {
			k = len(groups)
			groups = append(groups, tableGroup{engine: c.Engine, pattern: c.Pattern, protocol: c.Protocol})
		}
		groups[k].cells = append(groups[k].cells, c)
	}
	for _, g := range groups {
		slices.SortStableFunc(g.cells, func(a, b *CellResult) int {
			return cmp.Or(
				cmp.Compare(a.Size, b.Size),
				cmp.Compare(b.OutBatchSize, a.OutBatchSize),
				cmp.Compare(boolRank(b.WriteBatching), boolRank(a.WriteBatching)),
				cmp.Compare(a.Sockets, b.Sockets),
			)
		})
	}
	return groups
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// axisValues lists the distinct values of an axis over cells, in order of
// first appearance.
func axisValues(cells []CellResult, axis string) []string {
	var vs []string
	for _, c := range cells {
		if v, ok := c.Cell.Value(axis); ok && !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	return vs
}

// workloads describes the distinct workloads of cells.
func workloads(cells []CellResult) []string {
	var ws []matrix.Workload
	for _, c := range cells {
		if !slices.Contains(ws, c.Workload) {
			ws = append(ws, c.Workload)
		}
	}
	var out []string
	for _, w := range ws {
		tp := fmt.Sprintf("%d msgs", w.ThroughputMessages)
		if w.ThroughputMessages == 0 {
			tp = time.Duration(w.ThroughputDuration).String()
		}
		out = append(out, fmt.Sprintf("warm-up %d msgs, throughput %s, latency %d round trips (per socket pair); timeout %s",
			w.WarmupMessages, tp, w.LatencyRoundTrips, time.Duration(w.Timeout)))
	}
	return out
}

// keyColumns renders a row's size, out_batch_size, write batching, sockets
// and processes cells ("| 32 B | 8192 | on | 1 | 2 |"), with "n/a" for the
// axes the engine could not set.
func keyColumns(c *CellResult, na []string) string {
	obs, wb, sockets := strconv.Itoa(c.OutBatchSize), onOff(c.WriteBatching), strconv.Itoa(c.Sockets)
	if slices.Contains(na, matrix.AxisOutBatchSize) {
		obs = "n/a"
	}
	if slices.Contains(na, matrix.AxisWriteBatching) {
		wb = "n/a"
	}
	if slices.Contains(na, matrix.AxisSockets) {
		sockets = "n/a"
	}
	return fmt.Sprintf("| %s | %s | %s | %s | %d |", FormatSize(c.Size), obs, wb, sockets, c.Processes)
}

// engineNotes lists the distinct notes the runs of each engine carry, as
// Notes lines: "- `zmq4`: n/a: out_batch_size, …: why".
func engineNotes(cells []CellResult, samples []sample.Sample) []string {
	engineOf := make(map[string]string, len(cells))
	for _, c := range cells {
		engineOf[c.ID] = c.Engine
	}
	var lines []string
	for _, s := range samples {
		eng, ok := engineOf[s.Cell]
		if !ok {
			continue
		}
		for _, n := range s.Notes {
			l := fmt.Sprintf("- `%s`: %s", eng, mdEscape(n))
			if !slices.Contains(lines, l) {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

// comparisonColumns are the figures of the engine comparison, each followed
// by its ratio to the baseline engine.
var comparisonColumns = []struct{ metric, header string }{
	{MetricMsgsPerSec, "msg/s"},
	{MetricRTTP50, "RTT p50"},
	{MetricRTTP99, "RTT p99"},
	{MetricCPUNsPerMsg, "CPU ns/msg"},
}

// comparisonBaseline is the engine the comparison divides by: libzmq, the
// reference implementation, when the result has it, else the first engine.
func comparisonBaseline(engines []string) string {
	if slices.Contains(engines, matrix.EngineLibzmq) {
		return matrix.EngineLibzmq
	}
	return engines[0]
}

// writeEngineComparison writes the engines side by side: per pattern and
// protocol, for every combination of the other axes that more than one
// engine has a cell for, one row per engine with its msg/s, RTT p50, RTT p99
// and CPU ns/msg (medians), each with its ratio to the baseline engine's
// figure for the same combination.
func writeEngineComparison(bw *bufio.Writer, cells []CellResult) {
	engines := axisValues(cells, matrix.AxisEngine)
	base := comparisonBaseline(engines)
	type key struct {
		pattern, protocol string
		size, obs         int
		wb                bool
		sockets, procs    int
	}
	keyOf := func(c *CellResult) key {
		return key{c.Pattern, c.Protocol, c.Size, c.OutBatchSize, c.WriteBatching, c.Sockets, c.Processes}
	}
	byKey := map[key]map[string]*CellResult{}
	var keys []key
	for i := range cells {
		c := &cells[i]
		k := keyOf(c)
		if byKey[k] == nil {
			byKey[k] = map[string]*CellResult{}
			keys = append(keys, k)
		}
		byKey[k][c.Engine] = c
	}
	keys = slices.DeleteFunc(keys, func(k key) bool { return len(byKey[k]) < 2 })
	if len(keys) == 0 {
		return
	}
	// Tables per pattern and protocol, in order of first appearance; rows
	// ordered as in the Results tables.
	type table struct{ pattern, protocol string }
	var tables []table
	for _, k := range keys {
		if t := (table{k.pattern, k.protocol}); !slices.Contains(tables, t) {
			tables = append(tables, t)
		}
	}
	slices.SortStableFunc(keys, func(a, b key) int {
		return cmp.Or(
			cmp.Compare(slices.Index(tables, table{a.pattern, a.protocol}), slices.Index(tables, table{b.pattern, b.protocol})),
			cmp.Compare(a.size, b.size),
			cmp.Compare(b.obs, a.obs),
			cmp.Compare(boolRank(b.wb), boolRank(a.wb)),
			cmp.Compare(a.sockets, b.sockets),
			cmp.Compare(b.procs, a.procs),
		)
	})

	bw.WriteString("\n## Engines side by side\n\n")
	fmt.Fprintf(bw, "Each engine's medians for the same cell (all axes but engine), and their ratio to %s's: "+
		"engine / %s, so above 1 is more msg/s, and below 1 is lower latency or less CPU per message. "+
		"Each ratio is the ratio of the medians, with the range it spans over the runs in brackets "+
		"(lowest run of one over highest of the other, and back); **~** marks a ratio whose two engines' run ranges overlap, "+
		"so that the runs do not tell the engines apart. "+
		"A mixed pair `A>B` sends on A and receives (and echoes) on B. "+
		"The processes column says the topology: 2 = each side in its own worker process, 1 = both in one.\n", base, base)
	ratioHeader := "× " + base
	var cur table
	for i, k := range keys {
		if t := (table{k.pattern, k.protocol}); i == 0 || t != cur {
			cur = t
			fmt.Fprintf(bw, "\n### %s · %s\n\n", t.pattern, t.protocol)
			bw.WriteString(keyHeader + " engine |")
			for _, col := range comparisonColumns {
				fmt.Fprintf(bw, " %s | %s |", col.header, ratioHeader)
			}
			bw.WriteString(" runs |\n" + keyAlign + "---|")
			for range comparisonColumns {
				bw.WriteString("---:|---:|")
			}
			bw.WriteString("---|\n")
		}
		baseCell := byKey[k][base]
		for _, eng := range engines {
			c, ok := byKey[k][eng]
			if !ok {
				continue
			}
			bw.WriteString(keyColumns(c, c.NotApplicable))
			fmt.Fprintf(bw, " %s |", mdEscape(eng))
			for _, col := range comparisonColumns {
				fmt.Fprintf(bw, " %s | %s |", cellFigure(c, col.metric, false), ratioText(c, baseCell, col.metric))
			}
			bw.WriteString(" " + mdEscape(statusText(c)) + " |\n")
		}
	}
}

// Ratio is one engine's figure over another's for the same cell: the ratio
// of the medians, the range the ratio spans over the runs (lowest of one
// over highest of the other, and back), and whether the two engines' run
// ranges overlap (then the runs do not tell them apart).
type Ratio struct {
	Median, Low, High float64
	Overlap           bool
}

// RatioOf divides c's metric by base's; false when either lacks it or a
// divisor is zero.
func RatioOf(c, base *CellResult, metric string) (Ratio, bool) {
	if c == nil || base == nil {
		return Ratio{}, false
	}
	v, ok := c.Stat(metric)
	b, okb := base.Stat(metric)
	if !ok || !okb || b.Median == 0 || b.Min <= 0 || b.Max <= 0 {
		return Ratio{}, false
	}
	return Ratio{
		Median:  v.Median / b.Median,
		Low:     v.Min / b.Max,
		High:    v.Max / b.Min,
		Overlap: v.Min <= b.Max && b.Min <= v.Max,
	}, true
}

// String writes the ratio as the engines table shows it: "2.31 [2.10–2.52]",
// prefixed by "~ " when the run ranges overlap.
func (r Ratio) String() string {
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
	s := fmt.Sprintf("%s [%s–%s]", f(r.Median), f(r.Low), f(r.High))
	if r.Overlap {
		s = "~ " + s
	}
	return s
}

// ratioText is c's metric over base's as Ratio.String writes it; "n/a" when
// either is absent.
func ratioText(c, base *CellResult, metric string) string {
	r, ok := RatioOf(c, base, metric)
	if !ok {
		return "n/a"
	}
	return r.String()
}

// ReferenceTolerance is how far the libzmq engine's figures may be from
// libzmq's own C programs' (libzmq-c) before the results say the harness
// handicaps it.
const ReferenceTolerance = 0.10

// referenceMetrics are the figures the reference check compares.
var referenceMetrics = []string{MetricMsgsPerSec, MetricRTTP50}

// ReferenceCheck is one cell's libzmq figure over libzmq-c's.
type ReferenceCheck struct {
	Cell   *CellResult // the libzmq cell
	Metric string
	Ratio  Ratio
	Within bool // |Ratio.Median - 1| <= ReferenceTolerance
}

// ReferenceChecks pairs every libzmq cell with the libzmq-c cell of the same
// axes and compares their msg/s and RTT p50.
func ReferenceChecks(cells []CellResult) []ReferenceCheck {
	var out []ReferenceCheck
	for i := range cells {
		c := &cells[i]
		if c.Engine != matrix.EngineLibzmq {
			continue
		}
		want := c.Cell
		want.Engine = matrix.EngineLibzmqC
		j := slices.IndexFunc(cells, func(o CellResult) bool { return o.Cell.ID() == want.ID() })
		if j < 0 {
			continue
		}
		for _, m := range referenceMetrics {
			r, ok := RatioOf(c, &cells[j], m)
			if !ok {
				continue
			}
			out = append(out, ReferenceCheck{Cell: c, Metric: m, Ratio: r, Within: math.Abs(r.Median-1) <= ReferenceTolerance})
		}
	}
	return out
}

// writeReferenceCheck says, cell by cell, how far the libzmq engine (Go
// driving libzmq through cgo, one call per phase) is from libzmq driven by
// plain C programs, and says so plainly when it is outside the tolerance.
func writeReferenceCheck(bw *bufio.Writer, cells []CellResult) {
	checks := ReferenceChecks(cells)
	if len(checks) == 0 {
		return
	}
	outside := 0
	for _, ch := range checks {
		if !ch.Within {
			outside++
		}
	}
	bw.WriteString("\n## libzmq inside zbench against libzmq's own C programs\n\n")
	fmt.Fprintf(bw, "`libzmq` is libzmq driven by zbench's workers (Go, one cgo call per phase); `libzmq-c` is libzmq driven by plain C programs, "+
		"no Go in the process. The ratio is libzmq / libzmq-c (medians, [range over runs]); within ±%.0f %% the harness does not handicap libzmq.\n\n",
		ReferenceTolerance*100)
	if outside == 0 {
		fmt.Fprintf(bw, "All %d figures are within ±%.0f %%.\n\n", len(checks), ReferenceTolerance*100)
	} else {
		fmt.Fprintf(bw, "**%d of %d figures are outside ±%.0f %%**: for those cells the libzmq engine's figures do not stand for libzmq at its native speed.\n\n",
			outside, len(checks), ReferenceTolerance*100)
	}
	bw.WriteString("| protocol | " + strings.TrimPrefix(keyHeader, "| ") + " metric | libzmq | libzmq-c | libzmq / libzmq-c | verdict |\n")
	bw.WriteString("|---" + keyAlign + "---|---:|---:|---:|---|\n")
	for _, ch := range checks {
		ref := ch.Cell.Cell
		ref.Engine = matrix.EngineLibzmqC
		j := slices.IndexFunc(cells, func(o CellResult) bool { return o.Cell.ID() == ref.ID() })
		verdict := fmt.Sprintf("within ±%.0f %%", ReferenceTolerance*100)
		if !ch.Within {
			verdict = fmt.Sprintf("**outside ±%.0f %%**", ReferenceTolerance*100)
		}
		fmt.Fprintf(bw, "| %s %s %s | %s | %s | %s | %s |\n", ch.Cell.Protocol, keyColumns(ch.Cell, ch.Cell.NotApplicable), ch.Metric,
			cellFigure(ch.Cell, ch.Metric, false), cellFigure(&cells[j], ch.Metric, false), ch.Ratio, verdict)
	}
}

// writeHosts says where each side ran, with its host's stamp, when the
// sides were placed on other hosts.
func writeHosts(bw *bufio.Writer, hosts []HostRecord) {
	if len(hosts) == 0 {
		return
	}
	bw.WriteString("\n### Hosts\n\nThe sides ran on different hosts: no clock is shared, so rates are timed on the receiver's clock " +
		"(first receive to last) and one-way figures are n/a; round trips are timed on the sender's.\n\n")
	bw.WriteString("| side | host | hostname | CPU | kernel | network |\n|---|---|---|---|---|---|\n")
	for _, h := range hosts {
		if h.Env == nil {
			fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s |\n", h.Role, mdEscape(h.Host), Unknown, Unknown, Unknown, Unknown)
			continue
		}
		e := h.Env
		fmt.Fprintf(bw, "| %s | %s | %s | %s | %s | %s |\n", h.Role, mdEscape(h.Host), mdEscape(e.Hostname), mdEscape(e.CPUModel),
			mdEscape(e.Kernel), mdEscape(nicsText(e.NICs)))
	}
}

// nicsText describes the interfaces that are up, loopback left out:
// "eth0 10000 Mb/s MTU 1500 10.0.0.1/24".
func nicsText(nics []host.NIC) string {
	var parts []string
	for _, n := range nics {
		if !n.Up || n.Name == "lo" {
			continue
		}
		p := n.Name
		if n.SpeedMbps > 0 {
			p += fmt.Sprintf(" %d Mb/s", n.SpeedMbps)
		}
		p += fmt.Sprintf(" MTU %d", n.MTU)
		if len(n.Addrs) > 0 {
			p += " " + strings.Join(n.Addrs, " ")
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "none up"
	}
	return strings.Join(parts, "; ")
}
