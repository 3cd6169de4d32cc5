package runner

import (
	"testing"

	"zbench/runner/sample"
)

// Thinning keeps every peak: each point holds the largest values of the
// points it stands for, stamped with the first one's time.
func TestThinKeepsPeaks(t *testing.T) {
	var pts []sample.MemPoint
	for i := range 1000 {
		pts = append(pts, sample.MemPoint{TimeNs: int64(i), RSSBytes: 10, HeapBytes: 5})
	}
	pts[637].RSSBytes, pts[901].HeapBytes = 999, 777
	got := thin(pts, 100)
	if len(got) != 100 {
		t.Fatalf("%d points, want 100", len(got))
	}
	if sample.PeakRSS(got) != 999 {
		t.Errorf("peak RSS %d, want 999", sample.PeakRSS(got))
	}
	var heap int64
	for i, p := range got {
		heap = max(heap, p.HeapBytes)
		if p.TimeNs != int64(i*10) {
			t.Fatalf("point %d at %d, want %d", i, p.TimeNs, i*10)
		}
	}
	if heap != 777 {
		t.Errorf("peak heap %d, want 777", heap)
	}
	if short := thin(pts[:50], 100); len(short) != 50 {
		t.Errorf("a short series was thinned to %d", len(short))
	}
}
