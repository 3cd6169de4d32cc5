package report

import (
	"bytes"
	"cmp"
	"fmt"
	"image/color"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"zbench/matrix"
)

// ChartMetrics are the metrics drawn, one figure each, in this order.
var ChartMetrics = []string{MetricMsgsPerSec, MetricRTTP50, MetricRTTP99, MetricCPUNsPerMsg, MetricRSSBytes}

// LogScaleSpan is the ratio of the largest to the smallest value drawn in
// a figure from which its y axis is logarithmic: at a decade or more, a
// linear axis puts the small values on the floor.
const LogScaleSpan = 10.0

// Chart is one figure of a results directory: one metric against message
// size, as small multiples, a panel per protocol (rows) and socket count
// (columns), every panel on the same y axis. Each line is one setting of
// the axes that vary besides those (out_batch_size, write batching, engine,
// pattern, processes), drawn through the medians of its cells' runs with a
// band from the smallest to the largest run, so that the spread is seen
// beside the change. One legend, beside the panels, names the lines.
type Chart struct {
	// File is the PNG's base name, e.g. "chart-msgs_per_sec.png".
	File   string
	Title  string
	Metric string

	rows   []string // protocols, in order of appearance
	cols   []int    // socket counts, ascending
	sizes  []int    // message sizes, ascending: the x categories
	series []chartSeries
	// logY says whether the y axis is logarithmic (LogScaleSpan).
	logY bool
	unit chartUnit
}

type chartSeries struct {
	label  string
	points []chartPoint
}

// chartPoint is one cell: its panel, size, and median, min and max over
// runs, in the chart's display unit.
type chartPoint struct {
	row, col int
	size     int
	median   float64
	lo, hi   float64
}

// chartUnit is how a metric's values are shown on a y axis. The unit is in
// the title or in every tick label, so that the panels need no axis label
// of their own.
type chartUnit struct {
	what  string  // what the figure shows, with its unit, for the title
	scale float64 // display value = raw value × scale
	tick  func(v float64) string
}

func unitOf(metric string) chartUnit {
	plain := func(v float64) string {
		r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 3, 64), 64)
		return strconv.FormatFloat(r, 'f', -1, 64)
	}
	switch metric {
	case MetricMsgsPerSec:
		return chartUnit{"throughput (msg/s)", 1, tickCount}
	case MetricMBPerSec:
		return chartUnit{"throughput (MB/s)", 1, plain}
	case MetricRTTP50:
		return chartUnit{"round-trip time, p50", 1, tickNs}
	case MetricRTTP99:
		return chartUnit{"round-trip time, p99", 1, tickNs}
	case MetricCPUNsPerMsg:
		return chartUnit{"CPU time per message (whole run, all workers)", 1, tickNs}
	case MetricRSSBytes:
		return chartUnit{"peak RSS (MiB, all workers of a run)", 1.0 / (1 << 20), plain}
	}
	m, _ := MetricByName(metric)
	return chartUnit{metric + " (" + m.Unit + ")", 1, plain}
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// lineAxes are the axes that tell a figure's lines apart, in label order.
var lineAxes = []string{matrix.AxisEngine, matrix.AxisPattern, matrix.AxisOutBatchSize, matrix.AxisWriteBatching, matrix.AxisProcesses}

// PlanCharts decides which figures the cells call for: one per metric of
// ChartMetrics that some cell has a median of, in that order. Only cells
// with the metric contribute.
func PlanCharts(cells []CellResult) []Chart {
	// Open-loop cells are drawn against their rate (LoadGroups).
	var closed []CellResult
	for _, c := range cells {
		if c.Rate == 0 {
			closed = append(closed, c)
		}
	}
	var charts []Chart
	for _, metric := range ChartMetrics {
		if ch, ok := planChart(closed, metric); ok {
			charts = append(charts, ch)
		}
	}
	return charts
}

func planChart(cells []CellResult, metric string) (Chart, bool) {
	var with []*CellResult
	for i := range cells {
		if _, ok := cells[i].Stat(metric); ok {
			with = append(with, &cells[i])
		}
	}
	if len(with) == 0 {
		return Chart{}, false
	}
	ch := Chart{Metric: metric, unit: unitOf(metric)}
	// Which line axes vary among the cells drawn.
	values := map[string]map[string]bool{}
	for _, c := range with {
		for _, a := range lineAxes {
			v, _ := c.Cell.Value(a)
			if values[a] == nil {
				values[a] = map[string]bool{}
			}
			values[a][v] = true
		}
		if !slices.Contains(ch.rows, c.Protocol) {
			ch.rows = append(ch.rows, c.Protocol)
		}
		if !slices.Contains(ch.cols, c.Sockets) {
			ch.cols = append(ch.cols, c.Sockets)
		}
		if !slices.Contains(ch.sizes, c.Size) {
			ch.sizes = append(ch.sizes, c.Size)
		}
	}
	slices.Sort(ch.cols)
	slices.Sort(ch.sizes)
	var varying []string
	for _, a := range lineAxes {
		if len(values[a]) > 1 {
			varying = append(varying, a)
		}
	}

	byLabel := map[string]int{}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range with {
		st, _ := c.Stat(metric)
		label := lineLabel(c.Cell, varying)
		k, ok := byLabel[label]
		if !ok {
			k = len(ch.series)
			byLabel[label] = k
			ch.series = append(ch.series, chartSeries{label: label})
		}
		p := chartPoint{
			row: slices.Index(ch.rows, c.Protocol), col: slices.Index(ch.cols, c.Sockets), size: c.Size,
			median: st.Median * ch.unit.scale, lo: st.Min * ch.unit.scale, hi: st.Max * ch.unit.scale,
		}
		ch.series[k].points = append(ch.series[k].points, p)
		for _, v := range []float64{p.lo, p.median, p.hi} {
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	for k := range ch.series {
		slices.SortStableFunc(ch.series[k].points, func(a, b chartPoint) int {
			return cmp.Or(cmp.Compare(a.row, b.row), cmp.Compare(a.col, b.col), cmp.Compare(a.size, b.size))
		})
	}
	ch.logY = hi/lo >= LogScaleSpan
	ch.Title = ch.unit.what + " vs message size"
	ch.File = unsafeFileChars.ReplaceAllString("chart-"+metric+".png", "_")
	return ch, true
}

// lineLabel names a cell's line by the axes that vary:
// "out_batch 8192 · batching off · 1 process".
func lineLabel(c matrix.Cell, varying []string) string {
	var parts []string
	for _, a := range varying {
		switch a {
		case matrix.AxisEngine:
			parts = append(parts, c.Engine)
		case matrix.AxisPattern:
			parts = append(parts, c.Pattern)
		case matrix.AxisOutBatchSize:
			parts = append(parts, "out_batch "+strconv.Itoa(c.OutBatchSize))
		case matrix.AxisWriteBatching:
			parts = append(parts, "batching "+onOff(c.WriteBatching))
		case matrix.AxisProcesses:
			if c.Processes == 1 {
				parts = append(parts, "1 process")
			} else {
				parts = append(parts, strconv.Itoa(c.Processes)+" processes")
			}
		}
	}
	if len(parts) == 0 {
		return "median of runs"
	}
	return strings.Join(parts, " · ")
}

// grid is the layout of the panels: a row per protocol and a column per
// socket count, or, with one socket count, the protocols side by side.
func (ch Chart) grid() (rows, cols int) {
	if len(ch.cols) == 1 {
		return 1, len(ch.rows)
	}
	return len(ch.rows), len(ch.cols)
}

// cellOf is the grid position of the panel of protocol row and socket count
// col.
func (ch Chart) cellOf(row, col int) (gy, gx int) {
	if len(ch.cols) == 1 {
		return 0, row
	}
	return row, col
}

// Sizes of a figure's parts.
const (
	panelWidth   = 3.0 * vg.Inch
	panelHeight  = 2.3 * vg.Inch
	titleHeight  = 0.45 * vg.Inch
	legendMargin = 0.2 * vg.Inch
	chartDPI     = 110
)

// Fonts of a figure.
var (
	titleFont  = font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(13)}
	panelFont  = font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(10)}
	tickFont   = font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(8)}
	legendFont = font.Font{Typeface: "Liberation", Variant: "Sans", Size: vg.Points(9)}
)

// legend builds the figure's legend: one entry per line, then what the
// lines and bands are.
func (ch Chart) legend() plot.Legend {
	l := plot.NewLegend()
	l.TextStyle.Font = legendFont
	l.Top, l.Left = true, true
	l.Padding = vg.Points(4)
	for k, s := range ch.series {
		line, points, band := seriesStyle(k)
		l.Add(s.label, band, line, points)
	}
	return l
}

// legendNotes explain the lines and bands under the legend.
func (ch Chart) legendNotes() []string {
	notes := []string{"line: median of runs", "band: min to max of runs"}
	if len(ch.sizes) == 1 {
		notes = []string{"point: median of runs", "bar: min to max of runs"}
	}
	if ch.logY {
		notes = append(notes, "y axis: log scale")
	}
	return notes
}

// Size is the figure's width and height: a panel per protocol and socket
// count, the title above, the legend beside (as wide as its longest entry,
// and the figure at least as tall as it).
func (ch Chart) Size() (w, h vg.Length) {
	l := ch.legend()
	dc := draw.New(vgimg.New(1, 1))
	r := l.Rectangle(dc)
	legendW := r.Max.X - r.Min.X
	legendH := r.Max.Y - r.Min.Y
	noteStyle := l.TextStyle
	for _, n := range ch.legendNotes() {
		legendW = max(legendW, noteStyle.Rectangle(n).Max.X)
		legendH += noteStyle.FontExtents().Height + l.Padding
	}
	gr, gc := ch.grid()
	w = panelWidth*vg.Length(gc) + legendW + 2*legendMargin
	h = titleHeight + max(panelHeight*vg.Length(gr), legendH+2*legendMargin)
	return w, h
}

// seriesStyle is line k's look: colour, dashes and glyph from plotutil's
// palettes, and a translucent band of the same colour.
func seriesStyle(k int) (*plotter.Line, *plotter.Scatter, *plotter.Polygon) {
	c := plotutil.Color(k)
	line := &plotter.Line{LineStyle: draw.LineStyle{Color: c, Width: vg.Points(1.5), Dashes: plotutil.Dashes(k)}}
	points := &plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: c, Radius: vg.Points(2.5), Shape: plotutil.Shape(k)}}
	r, g, b, _ := c.RGBA()
	band := &plotter.Polygon{Color: color.NRGBA{R: uint8(r >> 8), G: uint8(g >> 8), B: uint8(b >> 8), A: 45}}
	return line, points, band
}

// yRange is the y axis range every panel shares.
func (ch Chart) yRange() (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range ch.series {
		for _, p := range s.points {
			for _, v := range []float64{p.lo, p.median, p.hi} {
				if ch.logY && v <= 0 {
					continue
				}
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if ch.logY {
		return lo / 1.25, hi * 1.25
	}
	return 0, hi * 1.08
}

// panel builds the plot of one protocol and socket count.
func (ch Chart) panel(row, col int, ylo, yhi float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s · %s", ch.rows[row], plural(ch.cols[col], "socket pair"))
	p.Title.TextStyle.Font = panelFont
	p.Title.Padding = vg.Points(3)
	for _, ax := range []*plot.Axis{&p.X, &p.Y} {
		ax.Tick.Label.Font = tickFont
		ax.Label.TextStyle.Font = tickFont
	}
	var ticks plot.ConstantTicks
	for i, s := range ch.sizes {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: FormatSize(s)})
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = -0.4, float64(len(ch.sizes))-0.6
	gr, _ := ch.grid()
	if gy, _ := ch.cellOf(row, col); gy == gr-1 {
		p.X.Label.Text = "message size"
	}
	p.Y.Min, p.Y.Max = ylo, yhi
	if ch.logY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = logTicks{format: ch.unit.tick}
	} else {
		p.Y.Tick.Marker = linearTicks{ch.unit.tick}
	}
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 225}
	grid.Horizontal.Color = color.Gray{Y: 225}
	p.Add(grid)
	p.Add(ch.panelPlotters(row, col)...)
	return p, nil
}

// panelPlotters are what a panel draws: per line with points in the panel,
// a band from the smallest to the largest run under a line through the
// medians (or, for a single size, a bar from the smallest to the largest
// run), and the medians' glyphs.
func (ch Chart) panelPlotters(row, col int) []plot.Plotter {
	var out []plot.Plotter
	for k, s := range ch.series {
		var mid, lo, hi plotter.XYs
		for _, pt := range s.points {
			if pt.row != row || pt.col != col || (ch.logY && (pt.median <= 0 || pt.lo <= 0)) {
				continue
			}
			x := float64(slices.Index(ch.sizes, pt.size))
			if len(ch.sizes) == 1 && len(ch.series) > 1 {
				// One size: the series side by side, not on top of each other.
				x += 0.5 * (float64(k)/float64(len(ch.series)-1) - 0.5)
			}
			mid = append(mid, plotter.XY{X: x, Y: pt.median})
			lo = append(lo, plotter.XY{X: x, Y: pt.lo})
			hi = append(hi, plotter.XY{X: x, Y: pt.hi})
		}
		if len(mid) == 0 {
			continue
		}
		line, points, band := seriesStyle(k)
		if len(mid) > 1 {
			ring := slices.Clone(hi)
			for i := len(lo) - 1; i >= 0; i-- {
				ring = append(ring, lo[i])
			}
			band.XYs = []plotter.XYs{ring}
			line.XYs = mid
			out = append(out, band, line)
		} else {
			bar := &plotter.Line{XYs: plotter.XYs{lo[0], hi[0]}, LineStyle: line.LineStyle}
			bar.LineStyle.Dashes = nil
			out = append(out, bar)
		}
		points.XYs = mid
		out = append(out, points)
	}
	return out
}

// PNG draws the figure.
func (ch Chart) PNG() ([]byte, error) {
	if len(ch.rows) == 0 || len(ch.cols) == 0 {
		return nil, fmt.Errorf("report: chart %s: no panel", ch.File)
	}
	w, h := ch.Size()
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(chartDPI))
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())

	// The title, centred above the panels.
	l := ch.legend()
	gr, gc := ch.grid()
	legendW := w - panelWidth*vg.Length(gc)
	ts := l.TextStyle
	ts.Font = titleFont
	ts.XAlign, ts.YAlign = draw.XCenter, draw.YTop
	dc.FillText(ts, vg.Point{X: w / 2, Y: h - vg.Points(8)}, ch.Title)

	ylo, yhi := ch.yRange()
	plots := make([][]*plot.Plot, gr)
	for j := range plots {
		plots[j] = make([]*plot.Plot, gc)
	}
	for j := range ch.rows {
		for i := range ch.cols {
			p, err := ch.panel(j, i, ylo, yhi)
			if err != nil {
				return nil, fmt.Errorf("report: chart %s: %w", ch.File, err)
			}
			gy, gx := ch.cellOf(j, i)
			plots[gy][gx] = p
		}
	}
	panels := draw.Crop(dc, 0, -legendW, 0, -titleHeight)
	tiles := draw.Tiles{Rows: gr, Cols: gc, PadX: vg.Points(8), PadY: vg.Points(8),
		PadLeft: vg.Points(4), PadRight: vg.Points(4), PadBottom: vg.Points(4)}
	canvases := plot.Align(plots, tiles, panels)
	for j := range plots {
		for i := range plots[j] {
			plots[j][i].Draw(canvases[j][i])
		}
	}

	// The legend, top right, then what the lines and bands are.
	legendArea := draw.Crop(dc, w-legendW+legendMargin, 0, legendMargin, -titleHeight)
	l.Draw(legendArea)
	r := l.Rectangle(legendArea)
	y := r.Min.Y - 2*l.Padding
	ns := l.TextStyle
	ns.Color = color.Gray{Y: 80}
	ns.YAlign = draw.YTop
	for _, n := range ch.legendNotes() {
		dc.FillText(ns, vg.Point{X: legendArea.Min.X, Y: y}, n)
		y -= ns.FontExtents().Height + l.Padding
	}

	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("report: chart %s: %w", ch.File, err)
	}
	return buf.Bytes(), nil
}

// tickCount labels a count on an axis with an SI prefix and no trailing
// zeros: 1M, 250k, 2.5k.
func tickCount(v float64) string {
	s := FormatCount(v)
	num := strings.TrimRight(s, "kMGT")
	if strings.Contains(num, ".") {
		num = strings.TrimRight(strings.TrimRight(num, "0"), ".")
	}
	return num + s[len(strings.TrimRight(s, "kMGT")):]
}

// tickNs labels nanoseconds in the unit that suits the value: 500ns, 20µs,
// 1.5ms.
func tickNs(v float64) string {
	unit, div := "ns", 1.0
	switch a := math.Abs(v); {
	case a >= 1e9:
		unit, div = "s", 1e9
	case a >= 1e6:
		unit, div = "ms", 1e6
	case a >= 1e3:
		unit, div = "µs", 1e3
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v/div, 'g', 3, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64) + unit
}

// linearTicks are the default ticks of a linear axis, labelled by format.
type linearTicks struct{ format func(float64) string }

// Ticks implements plot.Ticker.
func (t linearTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = t.format(ts[i].Value)
		}
	}
	return ts
}

// logTicks mark 1, 2 and 5 times each power of ten in range (labelled by
// format; 2 and 5 only when the range spans less than three decades, and
// never with decadesOnly), the other integer multiples unlabelled.
type logTicks struct {
	format      func(float64) string
	decadesOnly bool
}

// Ticks implements plot.Ticker.
func (t logTicks) Ticks(min, max float64) []plot.Tick {
	if min <= 0 || max <= 0 || min >= max {
		return nil
	}
	few := !t.decadesOnly && math.Log10(max/min) < 3
	var ts []plot.Tick
	for e := math.Floor(math.Log10(min)); math.Pow(10, e) <= max; e++ {
		base := math.Pow(10, e)
		for m := 1; m <= 9; m++ {
			v := base * float64(m)
			if v < min || v > max {
				continue
			}
			tk := plot.Tick{Value: v}
			if m == 1 || (few && (m == 2 || m == 5)) {
				tk.Label = t.format(v)
			}
			ts = append(ts, tk)
		}
	}
	return ts
}
