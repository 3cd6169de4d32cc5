package report

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"zbench/runner/sample"
)

// memPanelsPerPicture bounds the cells one memory picture holds (4 × 3).
const (
	memCols             = 4
	memRows             = 3
	memPanelsPerPicture = memCols * memRows
)

// MemoryPanel is the memory of one cell's median run: each side's resident
// set and Go heap over the run.
type MemoryPanel struct {
	Cell   *CellResult
	Run    int
	Sample *sample.Sample
}

// MemoryPicture is one PNG of up to memPanelsPerPicture panels.
type MemoryPicture struct {
	Index  int // 1-based
	Panels []MemoryPanel
}

// File is the PNG's base name.
func (m MemoryPicture) File() string { return fmt.Sprintf("memory-%d.png", m.Index) }

// MemoryPictures picks, for every cell whose ok runs have a memory series,
// its median run (the run whose msg/s is nearest the cell's median; the
// first ok run when the cell has no msg/s), and lays the panels out, cells
// in result order.
func MemoryPictures(r *Result) []MemoryPicture {
	var panels []MemoryPanel
	for i := range r.Cells {
		c := &r.Cells[i]
		var best *sample.Sample
		bestDist := math.Inf(1)
		med, hasMed := c.Stat(MetricMsgsPerSec)
		for j := range r.Samples {
			s := &r.Samples[j]
			if s.Cell != c.ID || s.Status != sample.StatusOK || !hasSeries(s) {
				continue
			}
			d := 0.0
			if hasMed {
				if v, ok := metricOf(MetricMsgsPerSec, s); ok {
					d = math.Abs(v - med.Median)
				}
			}
			if best == nil || d < bestDist {
				best, bestDist = s, d
			}
		}
		if best != nil {
			panels = append(panels, MemoryPanel{Cell: c, Run: best.Run, Sample: best})
		}
	}
	var pics []MemoryPicture
	for i := 0; i < len(panels); i += memPanelsPerPicture {
		pics = append(pics, MemoryPicture{Index: len(pics) + 1, Panels: panels[i:min(i+memPanelsPerPicture, len(panels))]})
	}
	return pics
}

func hasSeries(s *sample.Sample) bool {
	return slices.ContainsFunc(s.Sides, func(sd sample.Side) bool { return len(sd.Memory) > 1 })
}

func metricOf(name string, s *sample.Sample) (float64, bool) {
	m, ok := MetricByName(name)
	if !ok {
		return 0, false
	}
	return m.Read(s)
}

// sideColors tells the sides apart in every panel.
var sideColors = map[string]color.Color{
	sample.RoleSender:   color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	sample.RoleReceiver: color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	sample.RoleBoth:     color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
}

// PNG draws the picture: per panel, RSS (solid) and Go heap (dashed) in MiB
// against milliseconds since the run's first sample, one colour per side.
func (m MemoryPicture) PNG() ([]byte, error) {
	const (
		w, h    = 14 * vg.Inch, 9 * vg.Inch
		legendH = 0.45 * vg.Inch
	)
	img := vgimg.New(w, h)
	dc := draw.New(img)
	area := draw.Crop(dc, 0, 0, legendH, 0)
	tiles := draw.Tiles{Rows: memRows, Cols: memCols, PadX: vg.Millimeter * 5, PadY: vg.Millimeter * 5,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	for i, p := range m.Panels {
		m.panel(p).Draw(tiles.At(area, i%memCols, i/memCols))
	}
	leg := plot.NewLegend()
	leg.TextStyle.Font.Size = vg.Points(10)
	for _, role := range []string{sample.RoleSender, sample.RoleReceiver, sample.RoleBoth} {
		l := &plotter.Line{LineStyle: draw.LineStyle{Color: sideColors[role], Width: vg.Points(1.5)}}
		leg.Add(role+" RSS", l)
	}
	heap := &plotter.Line{LineStyle: draw.LineStyle{Color: color.Gray{Y: 80}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4), vg.Points(3)}}}
	leg.Add("Go heap (dashed, the side's colour)", heap)
	leg.Left = true
	leg.Draw(draw.Crop(dc, vg.Millimeter*10, 0, 0, -(h - legendH)))
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("report: chart %s: %w", m.File(), err)
	}
	return buf.Bytes(), nil
}

func (m MemoryPicture) panel(p MemoryPanel) *plot.Plot {
	pl := plot.New()
	c := p.Cell
	batching := ""
	if !c.WriteBatching {
		batching = " batching off"
	}
	pl.Title.Text = fmt.Sprintf("%s %s %s %s obs %d%s, %d pair(s), %d proc, run %d", c.Engine, c.Pattern, c.Protocol, FormatSize(c.Size),
		c.OutBatchSize, batching, c.Sockets, c.Processes, p.Run)
	if c.Rate > 0 {
		pl.Title.Text += fmt.Sprintf(", %s/s", FormatCount(float64(c.Rate)))
	}
	pl.Title.TextStyle.Font.Size = vg.Points(8)
	pl.X.Label.Text = "ms"
	pl.Y.Label.Text = "MiB"
	pl.X.Tick.Label.Font.Size = vg.Points(7)
	pl.Y.Tick.Label.Font.Size = vg.Points(7)
	pl.Add(plotter.NewGrid())
	var t0 int64
	for _, sd := range p.Sample.Sides {
		if len(sd.Memory) > 0 && (t0 == 0 || sd.Memory[0].TimeNs < t0) {
			t0 = sd.Memory[0].TimeNs
		}
	}
	pl.Y.Min = 0
	for _, sd := range p.Sample.Sides {
		rss := make(plotter.XYs, 0, len(sd.Memory))
		heap := make(plotter.XYs, 0, len(sd.Memory))
		for _, pt := range sd.Memory {
			x := float64(pt.TimeNs-t0) / 1e6
			rss = append(rss, plotter.XY{X: x, Y: float64(pt.RSSBytes) / (1 << 20)})
			if pt.HeapBytes > 0 {
				heap = append(heap, plotter.XY{X: x, Y: float64(pt.HeapBytes) / (1 << 20)})
			}
		}
		col := cmp.Or(sideColors[sd.Role], color.Color(color.Black))
		if l, err := plotter.NewLine(rss); err == nil {
			l.Color, l.Width = col, vg.Points(1.5)
			pl.Add(l)
		}
		if len(heap) > 1 {
			if l, err := plotter.NewLine(heap); err == nil {
				l.Color, l.Width, l.Dashes = col, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
				pl.Add(l)
			}
		}
	}
	return pl
}

// writeMemorySection lists the memory pictures that were drawn.
func writeMemorySection(bw *bufio.Writer, drawn []MemoryPicture) {
	if len(drawn) == 0 {
		return
	}
	bw.WriteString("\n## Memory over time\n\n")
	bw.WriteString("Each worker samples its own resident set and Go heap every 10 ms (`samples[].sides[].memory` in results.json); " +
		"shown here for the median run of each cell (the run whose msg/s is nearest the cell's median), each side in its colour, " +
		"from the run's first sample. A side's peak from the series is `series_peak_rss_bytes`, beside the peak from rusage.\n")
	for _, m := range drawn {
		fmt.Fprintf(bw, "\n![memory over time, cells %d to %d](%s)\n", (m.Index-1)*memPanelsPerPicture+1,
			(m.Index-1)*memPanelsPerPicture+len(m.Panels), m.File())
	}
}
