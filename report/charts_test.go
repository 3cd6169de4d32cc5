package report

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"

	"zbench/matrix"
	"zbench/runner/sample"
)

// One figure per metric, a panel per protocol and socket count, a line per
// setting, and each point's spread over runs.
func TestPlanCharts(t *testing.T) {
	r := fixtureResult()
	charts := PlanCharts(r.Cells)
	var files []string
	for _, c := range charts {
		files = append(files, c.File)
	}
	want := []string{"chart-msgs_per_sec.png", "chart-rtt_p50_ns.png", "chart-rtt_p99_ns.png", "chart-cpu_ns_per_msg.png", "chart-rss_bytes.png"}
	if !slices.Equal(files, want) {
		t.Fatalf("charts %v, want one per metric %v", files, want)
	}
	ch := charts[0]
	if !slices.Equal(ch.rows, []string{"tcp", "ipc"}) || !slices.Equal(ch.cols, []int{1, 2}) || !slices.Equal(ch.sizes, []int{32, 1024}) {
		t.Errorf("panels %v × %v, sizes %v", ch.rows, ch.cols, ch.sizes)
	}
	var labels []string
	for _, s := range ch.series {
		labels = append(labels, s.label)
	}
	// Only out_batch_size varies among the cells drawn (the one cell with
	// batching off failed), so only it names the lines.
	if !slices.Equal(labels, []string{"out_batch 8192", "out_batch 1"}) {
		t.Errorf("lines %q", labels)
	}
	// The failed cell (1024 B, out_batch 1, batching off) has no point;
	// every point has its runs' spread around the median.
	n := 0
	for _, s := range ch.series {
		for _, p := range s.points {
			n++
			if !(p.lo <= p.median && p.median <= p.hi) {
				t.Errorf("%s: point %+v: median outside min..max", s.label, p)
			}
		}
	}
	if n != 4 {
		t.Errorf("%d points, want the 4 cells with a rate", n)
	}
	tcp32 := ch.series[0].points[0]
	if tcp32.row != 0 || tcp32.col != 0 || tcp32.size != 32 || tcp32.lo >= tcp32.hi {
		t.Errorf("tcp 32 B point %+v, want a spread (its runs differ)", tcp32)
	}
	if ch.Title != "throughput (msg/s) vs message size" {
		t.Errorf("title %q", ch.Title)
	}
}

// chartCells are cells of one figure whose msg/s medians are values[i],
// each over 6 runs spread ±spread.
func chartCells(t *testing.T, values []float64, spread float64) []CellResult {
	t.Helper()
	var cells []matrix.Cell
	var ss []sample.Sample
	sizes := []int{32, 256, 1024, 16384}
	for i, v := range values {
		c := cell([]string{"tcp", "ipc"}[i/len(sizes)%2], sizes[i%len(sizes)], 8192, true, 1)
		cells = append(cells, c)
		for run := 1; run <= 6; run++ {
			s := okSample(c, run, 1e6)
			s.Throughput.MsgsPerSec = v * (1 + spread*float64(run-3)/3)
			ss = append(ss, s)
		}
	}
	return Aggregate(cells, ss)
}

// A y axis is logarithmic where the values drawn span a decade or more.
func TestChartLogScale(t *testing.T) {
	for _, c := range []struct {
		values []float64
		log    bool
	}{
		{[]float64{4e6, 2e6, 8e5, 2e4}, true},      // 16 KiB on the floor of a linear axis
		{[]float64{2e6, 1.8e6, 1.5e6, 1e6}, false}, // within a factor 2
	} {
		ch, ok := planChart(chartCells(t, c.values, 0.01), MetricMsgsPerSec)
		if !ok || ch.logY != c.log {
			t.Errorf("%v: log %v, want %v", c.values, ch.logY, c.log)
		}
		lo, hi := ch.yRange()
		if c.log && !(lo > 0 && lo < 2e4*0.99 && hi > 4e6) {
			t.Errorf("log range %g..%g does not hold the values", lo, hi)
		}
		if !c.log && lo != 0 {
			t.Errorf("linear axis from %g, want 0", lo)
		}
	}
	ticks := logTicks{format: tickCount}.Ticks(1.5e4, 5e6)
	var labels []string
	for _, tk := range ticks {
		if tk.Label != "" {
			labels = append(labels, tk.Label)
		}
	}
	if !slices.Equal(labels, []string{"20k", "50k", "100k", "200k", "500k", "1M", "2M", "5M"}) {
		t.Errorf("log tick labels %v", labels)
	}
	if got := []string{tickNs(500), tickNs(20000), tickNs(1.5e6)}; !slices.Equal(got, []string{"500ns", "20µs", "1.5ms"}) {
		t.Errorf("ns ticks %v", got)
	}
}

// Each panel draws, per line, the median through the sizes and a band
// from the smallest to the largest run.
func TestChartPanelDrawsSpread(t *testing.T) {
	ch, _ := planChart(chartCells(t, []float64{4e6, 2e6, 8e5, 2e4}, 0.05), MetricMsgsPerSec)
	var bands []*plotter.Polygon
	var lines []*plotter.Line
	for _, pl := range ch.panelPlotters(0, 0) {
		switch v := pl.(type) {
		case *plotter.Polygon:
			bands = append(bands, v)
		case *plotter.Line:
			lines = append(lines, v)
		}
	}
	if len(bands) != 1 || len(lines) != 1 {
		t.Fatalf("%d bands, %d lines, want one each", len(bands), len(lines))
	}
	ring := bands[0].XYs[0]
	if len(ring) != 8 {
		t.Fatalf("band of %d points, want the 4 maxima and the 4 minima", len(ring))
	}
	pts := ch.series[0].points
	for i, pt := range pts {
		if math.Abs(ring[i].Y-pt.hi) > 1e-6 || math.Abs(ring[len(ring)-1-i].Y-pt.lo) > 1e-6 {
			t.Errorf("band at size %d: %g..%g, want %g..%g", pt.size, ring[len(ring)-1-i].Y, ring[i].Y, pt.lo, pt.hi)
		}
		if pt.hi <= pt.lo {
			t.Errorf("no spread at size %d", pt.size)
		}
	}
}

// The PNG is as large as the panels and the legend need, the legend is not
// clipped at the right edge, and the Markdown references every figure.
func TestChartPNGAndMarkdown(t *testing.T) {
	r := fixtureResult()
	charts := PlanCharts(r.Cells)
	for _, ch := range charts {
		data, err := ch.PNG()
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s is not a PNG: %v", ch.File, err)
		}
		w, h := ch.Size()
		b := img.Bounds()
		if wantW, wantH := int(math.Ceil(w.Dots(chartDPI))), int(math.Ceil(h.Dots(chartDPI))); abs(b.Dx()-wantW) > 1 || abs(b.Dy()-wantH) > 1 {
			t.Errorf("%s is %dx%d, want %dx%d", ch.File, b.Dx(), b.Dy(), wantW, wantH)
		}
		gr, gc := ch.grid()
		if gr != 2 || gc != 2 || b.Dx() < int(panelWidth.Dots(chartDPI))*2 || b.Dy() < int(panelHeight.Dots(chartDPI))*2 {
			t.Errorf("%s: %dx%d grid in %dx%d px", ch.File, gr, gc, b.Dx(), b.Dy())
		}
		// Something is drawn right of the panels (the legend), and nothing
		// touches the right edge (a clipped legend would).
		panelsRight := int((panelWidth * 2).Dots(chartDPI))
		if inkColumns(img, panelsRight+2, b.Max.X) == 0 {
			t.Errorf("%s: no legend right of the panels", ch.File)
		}
		if inkColumns(img, b.Max.X-4, b.Max.X) != 0 {
			t.Errorf("%s: ink at the right edge: the legend is clipped", ch.File)
		}
	}

	var md bytes.Buffer
	if err := WriteMarkdown(&md, r, charts); err != nil {
		t.Fatal(err)
	}
	for _, ch := range charts {
		if !strings.Contains(md.String(), "]("+ch.File+")") {
			t.Errorf("Markdown does not reference %s", ch.File)
		}
	}
}

// A figure with one socket count puts the protocols side by side; one with
// a single size draws each line's spread as a bar, the lines side by side.
func TestChartLayouts(t *testing.T) {
	var cells []matrix.Cell
	var ss []sample.Sample
	for _, proto := range []string{"tcp", "ipc", "ws"} {
		for _, processes := range []int{1, 2} {
			c := cell(proto, 1024, 8192, true, 1)
			c.Processes = processes
			cells = append(cells, c)
			for run := 1; run <= 3; run++ {
				ss = append(ss, okSample(c, run, 1e6*float64(processes)))
			}
		}
	}
	ch, ok := planChart(Aggregate(cells, ss), MetricMsgsPerSec)
	if !ok {
		t.Fatal("no chart")
	}
	if gr, gc := ch.grid(); gr != 1 || gc != 3 {
		t.Errorf("grid %dx%d, want the 3 protocols in a row", gr, gc)
	}
	var labels []string
	for _, s := range ch.series {
		labels = append(labels, s.label)
	}
	if !slices.Equal(labels, []string{"1 process", "2 processes"}) {
		t.Errorf("lines %q", labels)
	}
	var xs []float64
	for _, pl := range ch.panelPlotters(2, 0) {
		if l, ok := pl.(*plotter.Line); ok && len(l.XYs) == 2 && l.XYs[0].X == l.XYs[1].X {
			xs = append(xs, l.XYs[0].X)
		}
	}
	if len(xs) != 2 || xs[0] == xs[1] {
		t.Errorf("spread bars at x %v, want two, side by side", xs)
	}
	if !slices.Contains(ch.legendNotes(), "bar: min to max of runs") {
		t.Errorf("notes %v", ch.legendNotes())
	}
	if _, err := ch.PNG(); err != nil {
		t.Fatal(err)
	}
}

func abs(x int) int { return max(x, -x) }

// inkColumns counts the columns in [x0, x1) of img that hold a pixel darker
// than light grey.
func inkColumns(img image.Image, x0, x1 int) int {
	n := 0
	b := img.Bounds()
	for x := max(x0, b.Min.X); x < min(x1, b.Max.X); x++ {
		for y := b.Min.Y; y < b.Max.Y; y++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if (r+g+bl)/3 < 0xc000 {
				n++
				break
			}
		}
	}
	return n
}
