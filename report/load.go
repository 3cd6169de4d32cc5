package report

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"zbench/runner/sample"
)

// LoadThresholdNs is the latency the latency-under-load summary reports the
// crossing rate of: the lowest rate whose p99 reaches it.
const LoadThresholdNs = 1e6

// loadPercentiles are the figures the latency-vs-load chart draws, one panel
// each.
var loadPercentiles = []struct{ metric, label string }{
	{MetricLoadP50, "p50"},
	{MetricLoadP99, "p99"},
	{MetricLoadP999, "p99.9"},
}

// loadKey groups the open-loop cells that share every axis but the rate and
// the batching settings: one picture each.
type loadKey struct {
	engine, pattern, protocol string
	size, sockets, processes  int
}

func (k loadKey) title() string {
	return fmt.Sprintf("%s %s %s %s, %d pair(s), %d process(es)", k.engine, k.pattern, k.protocol, FormatSize(k.size), k.sockets, k.processes)
}

// loadSetting is one line of a picture: a batching setting across rates.
type loadSetting struct {
	obs    int
	wb     bool
	points []*CellResult // by rate
}

func (s loadSetting) label() string {
	l := "out_batch_size " + strconv.Itoa(s.obs)
	if !s.wb {
		l += ", batching off"
	}
	return l
}

// LoadGroup is one picture's worth of open-loop cells.
type LoadGroup struct {
	key      loadKey
	settings []loadSetting
}

// LoadGroups collects the cells with a rate into groups (in order of first
// appearance) of settings (out_batch_size largest first, batching on first)
// whose cells are sorted by rate.
func LoadGroups(cells []CellResult) []LoadGroup {
	var groups []LoadGroup
	for i := range cells {
		c := &cells[i]
		if c.Rate == 0 {
			continue
		}
		k := loadKey{c.Engine, c.Pattern, c.Protocol, c.Size, c.Sockets, c.Processes}
		gi := slices.IndexFunc(groups, func(g LoadGroup) bool { return g.key == k })
		if gi < 0 {
			gi = len(groups)
			groups = append(groups, LoadGroup{key: k})
		}
		g := &groups[gi]
		si := slices.IndexFunc(g.settings, func(s loadSetting) bool { return s.obs == c.OutBatchSize && s.wb == c.WriteBatching })
		if si < 0 {
			si = len(g.settings)
			g.settings = append(g.settings, loadSetting{obs: c.OutBatchSize, wb: c.WriteBatching})
		}
		g.settings[si].points = append(g.settings[si].points, c)
	}
	for gi := range groups {
		g := &groups[gi]
		slices.SortStableFunc(g.settings, func(a, b loadSetting) int {
			return cmp.Or(cmp.Compare(b.obs, a.obs), cmp.Compare(boolRank(b.wb), boolRank(a.wb)))
		})
		for si := range g.settings {
			slices.SortStableFunc(g.settings[si].points, func(a, b *CellResult) int { return cmp.Compare(a.Rate, b.Rate) })
		}
	}
	return groups
}

// File is the PNG's base name.
func (g LoadGroup) File() string {
	k := g.key
	return unsafeFileChars.ReplaceAllString(fmt.Sprintf("load-%s-%s-%s-%d-%d-%dp.png", k.engine, k.pattern, k.protocol, k.size, k.sockets, k.processes), "_")
}

// Title describes the picture.
func (g LoadGroup) Title() string { return "latency under load: " + g.key.title() }

// achieved is a cell's median achieved rate per pair.
func achieved(c *CellResult) (float64, bool) {
	st, ok := c.Stat(MetricMsgsPerSec)
	if !ok || st.Median <= 0 {
		return 0, false
	}
	return st.Median / float64(max(c.Sockets, 1)), true
}

// PNG draws the group: one panel per percentile, latency (log) against the
// achieved rate per pair (msg/s, log), one line per setting, the spread over
// runs (min–max of the percentile) as error bars, and one legend for all
// panels at the right.
func (g LoadGroup) PNG() ([]byte, error) {
	const (
		w, h    = 14 * vg.Inch, 4.8 * vg.Inch
		legendW = 2.4 * vg.Inch
		titleH  = 0.4 * vg.Inch
	)
	img := vgimg.New(w, h)
	dc := draw.New(img)
	panelsArea := draw.Crop(dc, 0, -legendW, 0, -titleH)
	tiles := draw.Tiles{Rows: 1, Cols: len(loadPercentiles), PadX: vg.Millimeter * 6, PadY: vg.Millimeter * 2,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	for i := range loadPercentiles {
		g.panel(i).Draw(tiles.At(panelsArea, i, 0))
	}

	leg := plot.NewLegend()
	leg.TextStyle.Font.Size = vg.Points(10)
	leg.ThumbnailWidth = 8 * vg.Millimeter
	for si, s := range g.settings {
		line, points := settingStyle(si)
		leg.Add(s.label(), line, points)
	}
	threshold := thresholdLine()
	leg.Add("p99 threshold "+FormatMetric(MetricLoadP99, LoadThresholdNs), threshold)
	leg.Top, leg.Left = true, true
	legArea := draw.Crop(dc, w-legendW, 0, 0, -titleH-4*vg.Millimeter)
	leg.Draw(legArea)
	note := leg.TextStyle
	note.YAlign = draw.YTop
	lineH := leg.TextStyle.FontExtents().Height
	dc.FillText(note, vg.Point{X: legArea.Min.X, Y: legArea.Max.Y - vg.Length(len(g.settings)+2)*lineH},
		"bars: min–max over runs")

	font := plot.DefaultFont
	font.Size = vg.Points(13)
	sty := draw.TextStyle{Color: color.Black, Font: font, XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
	dc.FillText(sty, vg.Point{X: w / 2, Y: h - 2*vg.Millimeter}, g.Title())
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("report: chart %s: %w", g.File(), err)
	}
	return buf.Bytes(), nil
}

// settingStyle is the line and marker style of the si-th setting, the same
// in every panel and in the legend.
func settingStyle(si int) (*plotter.Line, *plotter.Scatter) {
	c := plotutil.Color(si)
	line := &plotter.Line{LineStyle: draw.LineStyle{Color: c, Width: vg.Points(1.5), Dashes: plotutil.Dashes(si / 4)}}
	points := &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: c, Radius: vg.Points(3), Shape: plotutil.Shape(si)}}
	return line, points
}

// panel draws one percentile of the group.
func (g LoadGroup) panel(i int) *plot.Plot {
	pc := loadPercentiles[i]
	p := plot.New()
	p.Title.Text = pc.label + " latency from the intended send time"
	p.X.Label.Text = "achieved msg/s per pair"
	p.Y.Label.Text = "latency"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.X.Tick.Marker = logTicks{format: FormatCount, decadesOnly: true}
	p.Y.Tick.Marker = logTicks{format: loadLatencyTick, decadesOnly: true}
	p.Add(plotter.NewGrid())
	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for si, s := range g.settings {
		var xy plotter.XYs
		var errs plotter.YErrors
		for _, c := range s.points {
			x, okx := achieved(c)
			st, oky := c.Stat(pc.metric)
			if !okx || !oky || st.Median <= 0 {
				continue
			}
			y := st.Median
			lo := max(st.Min, y*1e-3)
			xy = append(xy, plotter.XY{X: x, Y: y})
			errs = append(errs, struct{ Low, High float64 }{y - lo, st.Max - y})
			xmin, xmax = min(xmin, x), max(xmax, x)
			ymin, ymax = min(ymin, lo), max(ymax, st.Max)
		}
		if len(xy) == 0 {
			continue
		}
		lineStyle, pointStyle := settingStyle(si)
		line, points, err := plotter.NewLinePoints(xy)
		if err != nil {
			continue
		}
		line.LineStyle, points.GlyphStyle = lineStyle.LineStyle, pointStyle.GlyphStyle
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYer
			plotter.YErrorer
		}{xy, errs})
		if err == nil {
			bars.Color = lineStyle.Color
			p.Add(bars)
		}
		p.Add(line, points)
	}
	if pc.metric == MetricLoadP99 {
		p.Add(thresholdLine())
		ymin, ymax = min(ymin, LoadThresholdNs), max(ymax, LoadThresholdNs)
	}
	if xmin <= xmax {
		// Room around the points, so that every decade in range is labelled.
		p.X.Min, p.X.Max = xmin/1.6, xmax*1.6
		p.Y.Min, p.Y.Max = ymin/1.6, ymax*1.6
	}
	return p
}

// thresholdLine is the horizontal line at LoadThresholdNs.
func thresholdLine() *plotter.Function {
	f := plotter.NewFunction(func(float64) float64 { return LoadThresholdNs })
	f.Color = color.Gray{Y: 90}
	f.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	return f
}

// loadLatencyTick labels a latency tick of the load charts as their
// figures are written (10 µs, 1 ms).
func loadLatencyTick(ns float64) string { return FormatMetric(MetricLoadP99, ns) }

// Crossing is where one setting's p99 under load reaches LoadThresholdNs:
// the last rate below it and the first at or above it (medians; 0 when
// none).
type Crossing struct {
	Setting           string
	Below, AtOrAbove  int     // target rates per pair
	BelowAchieved     float64 // achieved msg/s per pair at Below
	AtOrAboveAchieved float64
}

// Crossings lists, per setting of the group, where p99 crosses the threshold.
func (g LoadGroup) Crossings() []Crossing {
	var out []Crossing
	for _, s := range g.settings {
		x := Crossing{Setting: s.label()}
		for _, c := range s.points {
			st, ok := c.Stat(MetricLoadP99)
			if !ok {
				continue
			}
			a, _ := achieved(c)
			if st.Median < LoadThresholdNs {
				if x.AtOrAbove == 0 {
					x.Below, x.BelowAchieved = c.Rate, a
				}
			} else if x.AtOrAbove == 0 {
				x.AtOrAbove, x.AtOrAboveAchieved = c.Rate, a
			}
		}
		out = append(out, x)
	}
	return out
}

// String says where the crossing is, in words.
func (x Crossing) String() string {
	th := FormatMetric(MetricLoadP99, LoadThresholdNs)
	switch {
	case x.Below == 0 && x.AtOrAbove == 0:
		return "no figures"
	case x.AtOrAbove == 0:
		return fmt.Sprintf("p99 stays under %s up to the highest rate, %s/s (achieved %s/s)", th, FormatCount(float64(x.Below)), FormatCount(x.BelowAchieved))
	case x.Below == 0:
		return fmt.Sprintf("p99 is %s or more already at the lowest rate, %s/s", th, FormatCount(float64(x.AtOrAbove)))
	}
	return fmt.Sprintf("p99 crosses %s between %s/s (achieved %s/s) and %s/s (achieved %s/s)", th,
		FormatCount(float64(x.Below)), FormatCount(x.BelowAchieved), FormatCount(float64(x.AtOrAbove)), FormatCount(x.AtOrAboveAchieved))
}

// writeLoadSection writes "Latency under load": per group, the crossing of
// the p99 threshold per setting, the picture when it was drawn, and a table
// of every rate.
func writeLoadSection(bw *bufio.Writer, cells []CellResult, drawn []LoadGroup) {
	groups := LoadGroups(cells)
	if len(groups) == 0 {
		return
	}
	bw.WriteString("\n## Latency under load\n\n")
	bw.WriteString("Open loop: the sender sends every message at its scheduled time (rate per pair) or, when it has fallen behind, " +
		"at once; the receiver records every message's receive time minus its intended send time (the host's monotonic clock, shared " +
		"by both processes), so a stall counts for every message it delays — no coordinated omission. " +
		"Figures are medians over runs; **behind** counts the runs whose sender could not keep the schedule.\n")
	for _, g := range groups {
		fmt.Fprintf(bw, "\n### %s\n\n", mdEscape(g.key.title()))
		if g.roundTrips() {
			bw.WriteString("The sides ran on hosts that share no clock: these are open-loop **round trips**, every message echoed " +
				"by the receiver and timed by the sender from its intended send time to the echo's arrival.\n\n")
		}
		for _, x := range g.Crossings() {
			if x.Below == 0 && x.AtOrAbove == 0 {
				continue // no p99 at any rate: the table and the n/a line say so
			}
			fmt.Fprintf(bw, "- %s: %s.\n", mdEscape(x.Setting), mdEscape(x.String()))
		}
		if slices.ContainsFunc(drawn, func(d LoadGroup) bool { return d.key == g.key }) {
			fmt.Fprintf(bw, "\n![%s](%s)\n", mdEscape(g.Title()), g.File())
		}
		bw.WriteString("\n| out_batch_size | write batching | rate/s per pair | achieved msg/s | p50 | p99 | p99.9 | p99.99 | max | behind | runs |\n")
		bw.WriteString("|---:|:---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n")
		for _, s := range g.settings {
			for _, c := range s.points {
				ach := "n/a"
				if a, ok := achieved(c); ok {
					ach = FormatCount(a)
				}
				fmt.Fprintf(bw, "| %d | %s | %s | %s |", s.obs, onOff(s.wb), FormatCount(float64(c.Rate)), ach)
				for _, m := range []string{MetricLoadP50, MetricLoadP99, MetricLoadP999, MetricLoadP9999, MetricLoadMax} {
					fmt.Fprintf(bw, " %s |", cellFigure(c, m, false))
				}
				fmt.Fprintf(bw, " %s | %s |\n", behindText(c), mdEscape(statusText(c)))
			}
		}
		if na := loadNAReason(g); na != "" {
			fmt.Fprintf(bw, "\nLatency n/a: %s.\n", mdEscape(na))
		}
	}
}

// roundTrips reports whether the group's open-loop figures are round trips.
func (g LoadGroup) roundTrips() bool {
	for _, s := range g.settings {
		for _, c := range s.points {
			if c.LoadKind == sample.LoadRoundTrip {
				return true
			}
		}
	}
	return false
}

// behindText counts the ok runs of c whose sender fell behind its schedule.
func behindText(c *CellResult) string {
	if c.LoadBehind == 0 {
		return "no"
	}
	return fmt.Sprintf("%d of %d runs", c.LoadBehind, c.Runs.OK)
}

// loadNAReason is the reason the group's latency could not be measured, if
// any of its cells says so.
func loadNAReason(g LoadGroup) string {
	for _, s := range g.settings {
		for _, c := range s.points {
			if c.LoadNA != "" {
				return c.LoadNA
			}
		}
	}
	return ""
}
