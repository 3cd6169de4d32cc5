package report

import (
	"testing"

	"github.com/google/pprof/profile"
)

// Flat counts a sample for its leaf function only; cum for every function
// on its stack, once even when the stack recurses.
func TestSummarizeFlatAndCum(t *testing.T) {
	fn := func(id uint64, name string) *profile.Function { return &profile.Function{ID: id, Name: name} }
	main, send, write := fn(1, "main"), fn(2, "engine.Send"), fn(3, "syscall.write")
	loc := func(id uint64, f *profile.Function) *profile.Location {
		return &profile.Location{ID: id, Line: []profile.Line{{Function: f}}}
	}
	lMain, lSend, lWrite := loc(1, main), loc(2, send), loc(3, write)
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}},
		Sample: []*profile.Sample{
			{Location: []*profile.Location{lWrite, lSend, lMain}, Value: []int64{6, 60}},
			{Location: []*profile.Location{lSend, lSend, lMain}, Value: []int64{3, 30}}, // recursion
			{Location: []*profile.Location{lMain}, Value: []int64{1, 10}},
		},
		Function: []*profile.Function{main, send, write},
		Location: []*profile.Location{lMain, lSend, lWrite},
	}
	s := summarize(p, "cpu")
	if s.Total != 100 || s.Unit != "nanoseconds" {
		t.Fatalf("total %d %s, want 100 nanoseconds", s.Total, s.Unit)
	}
	want := map[string][2]int64{"syscall.write": {60, 60}, "engine.Send": {30, 90}, "main": {10, 100}}
	flat := map[string]int64{}
	for _, f := range s.Flat {
		flat[f.Func] = f.Value
	}
	for _, c := range s.Cum {
		w := want[c.Func]
		if flat[c.Func] != w[0] || c.Value != w[1] {
			t.Errorf("%s: flat %d cum %d, want %d and %d", c.Func, flat[c.Func], c.Value, w[0], w[1])
		}
	}
	if s.Flat[0].Func != "syscall.write" || s.Flat[0].Pct != 60 || s.Cum[0].Func != "main" {
		t.Errorf("order: flat %+v cum %+v", s.Flat, s.Cum)
	}
}
