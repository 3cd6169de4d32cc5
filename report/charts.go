package report

import (
	"bytes"
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// ChartMetrics are the metrics drawn against message size, one chart per
// engine, pattern, protocol and socket count.
var ChartMetrics = []string{MetricMsgsPerSec, MetricRTTP99}

// Chart is one PNG of a results directory: a metric's median against message
// size for one engine, pattern, protocol and socket count, one line per
// out_batch_size and write-batching setting.
type Chart struct {
	// File is the PNG's base name, e.g. "msgs_per_sec-zbench-pair-tcp-1.png".
	File   string
	Title  string
	Metric string
	series []chartSeries
}

type chartSeries struct {
	label  string
	points []chartPoint
}

type chartPoint struct {
	size  int
	value float64
}

type chartGroup struct {
	engine, pattern, protocol string
	sockets                   int
}

var unsafeFileChars = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// PlanCharts decides which charts the cells call for, in a stable order:
// groups in order of first appearance, ChartMetrics within each. Only cells
// with a median of the metric contribute; a chart without any point is left
// out.
func PlanCharts(cells []CellResult) []Chart {
	var groups []chartGroup
	for _, c := range cells {
		if c.Rate > 0 {
			continue // open-loop cells are drawn against their rate (LoadGroups)
		}
		g := chartGroup{c.Engine, c.Pattern, c.Protocol, c.Sockets}
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	var charts []Chart
	for _, g := range groups {
		for _, metric := range ChartMetrics {
			ch := Chart{Metric: metric}
			byLabel := map[string]int{}
			for i := range cells {
				c := &cells[i]
				if c.Rate > 0 || (chartGroup{c.Engine, c.Pattern, c.Protocol, c.Sockets}) != g {
					continue
				}
				st, ok := c.Stat(metric)
				if !ok {
					continue
				}
				label := "out_batch_size " + strconv.Itoa(c.OutBatchSize)
				if !c.WriteBatching {
					label += ", batching off"
				}
				k, ok := byLabel[label]
				if !ok {
					k = len(ch.series)
					byLabel[label] = k
					ch.series = append(ch.series, chartSeries{label: label})
				}
				ch.series[k].points = append(ch.series[k].points, chartPoint{c.Size, st.Median})
			}
			if len(ch.series) == 0 {
				continue
			}
			for k := range ch.series {
				slices.SortStableFunc(ch.series[k].points, func(a, b chartPoint) int { return cmp.Compare(a.size, b.size) })
			}
			what := "throughput (msg/s)"
			if metric == MetricRTTP99 {
				what = "round-trip p99 (µs)"
			}
			ch.Title = fmt.Sprintf("%s vs size: %s %s %s, %d socket pair(s)", what, g.engine, g.pattern, g.protocol, g.sockets)
			ch.File = unsafeFileChars.ReplaceAllString(
				fmt.Sprintf("%s-%s-%s-%s-%d.png", metric, g.engine, g.pattern, g.protocol, g.sockets), "_")
			charts = append(charts, ch)
		}
	}
	return charts
}

// PNG draws the chart. Sizes are spaced evenly along the x axis (labelled
// with their value), medians on the y axis from zero.
func (ch Chart) PNG() ([]byte, error) {
	var sizes []int
	for _, s := range ch.series {
		for _, p := range s.points {
			if !slices.Contains(sizes, p.size) {
				sizes = append(sizes, p.size)
			}
		}
	}
	slices.Sort(sizes)

	p := plot.New()
	p.Title.Text = ch.Title
	p.X.Label.Text = "message size"
	var ticks plot.ConstantTicks
	for i, s := range sizes {
		ticks = append(ticks, plot.Tick{Value: float64(i), Label: FormatSize(s)})
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = -0.5, float64(len(sizes))-0.5
	scale := 1.0
	switch ch.Metric {
	case MetricMsgsPerSec:
		p.Y.Label.Text = "msg/s (median of runs)"
		p.Y.Tick.Marker = countTicks{}
	case MetricRTTP99:
		p.Y.Label.Text = "round-trip p99, µs (median of runs)"
		scale = 1e-3
	default:
		p.Y.Label.Text = ch.Metric
	}
	p.Y.Min = 0
	p.Legend.Top = true
	p.Add(plotter.NewGrid())

	var args []any
	for _, s := range ch.series {
		xy := make(plotter.XYs, len(s.points))
		for i, pt := range s.points {
			xy[i].X = float64(slices.Index(sizes, pt.size))
			xy[i].Y = pt.value * scale
		}
		args = append(args, s.label, xy)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return nil, fmt.Errorf("report: chart %s: %w", ch.File, err)
	}
	// Headroom above the data for the legend, which sits at the top.
	p.Y.Max *= 1.1 + 0.07*float64(len(ch.series))
	wt, err := p.WriterTo(7*vg.Inch, 4.5*vg.Inch, "png")
	if err != nil {
		return nil, fmt.Errorf("report: chart %s: %w", ch.File, err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("report: chart %s: %w", ch.File, err)
	}
	return buf.Bytes(), nil
}

// countTicks labels the default ticks with SI prefixes (250k, 1.5M).
type countTicks struct{}

// Ticks implements plot.Ticker.
func (countTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = FormatCount(ts[i].Value)
		}
	}
	return ts
}
