package report

import (
	"bytes"
	"image/png"
	"math"
	"strings"
	"testing"

	"zbench/runner/sample"
)

// The memory pictures take each cell's median run (by msg/s), and the
// Markdown lists the pictures drawn.
func TestMemoryPictures(t *testing.T) {
	r := fixtureResult()
	// Give the ok cell's runs a memory series: run k peaks at k MiB.
	for i := range r.Samples {
		s := &r.Samples[i]
		if s.Status != sample.StatusOK {
			continue
		}
		for j := range s.Sides {
			for k := range 5 {
				s.Sides[j].Memory = append(s.Sides[j].Memory, sample.MemPoint{TimeNs: int64(k) * 1e7,
					RSSBytes: int64(s.Run) << 20, HeapBytes: 1 << 19})
			}
		}
	}
	pics := MemoryPictures(r)
	if len(pics) != 1 || len(pics[0].Panels) != 4 {
		t.Fatalf("%d pictures, want 1 with a panel per cell with ok runs (4)", len(pics))
	}
	first := pics[0].Panels[0]
	med, _ := first.Cell.Stat(MetricMsgsPerSec)
	got, _ := metricOf(MetricMsgsPerSec, first.Sample)
	for _, s := range r.Samples {
		if s.Cell != first.Cell.ID || s.Status != sample.StatusOK {
			continue
		}
		if v, _ := metricOf(MetricMsgsPerSec, &s); math.Abs(v-med.Median) < math.Abs(got-med.Median) {
			t.Errorf("run %d (%v msg/s) is nearer the median %v than the chosen run %d (%v)", s.Run, v, med.Median, first.Run, got)
		}
	}
	b, err := pics[0].PNG()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	var md bytes.Buffer
	if err := writeMarkdown(&md, r, nil, nil, pics); err != nil {
		t.Fatal(err)
	}
	if sec := section(md.String(), "## Memory over time"); !strings.Contains(sec, "](memory-1.png)") {
		t.Errorf("memory section:\n%s", sec)
	}
	// Samples without a series: no pictures.
	if pics := MemoryPictures(fixtureResult()); len(pics) != 0 {
		t.Errorf("%d pictures without any series", len(pics))
	}
}
