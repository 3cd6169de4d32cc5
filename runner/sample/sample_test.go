package sample_test

import (
	"slices"
	"testing"

	"zbench/matrix"
	"zbench/runner/sample"
)

func TestNotApplicableNotes(t *testing.T) {
	note := sample.NoteNotApplicable("engine X cannot set them: no such option", matrix.AxisWriteBatching, matrix.AxisOutBatchSize)
	axes, why, ok := sample.ParseNotApplicable(note)
	if !ok || !slices.Equal(axes, []string{matrix.AxisWriteBatching, matrix.AxisOutBatchSize}) || why != "engine X cannot set them: no such option" {
		t.Errorf("ParseNotApplicable(%q) = %v %q %v", note, axes, why, ok)
	}
	for _, other := range []string{"", "ws is slow", "n/a: colour: no", "n/a: out_batch_size", "n/a: : why"} {
		if axes, _, ok := sample.ParseNotApplicable(other); ok {
			t.Errorf("ParseNotApplicable(%q) = %v, want not a note of n/a axes", other, axes)
		}
	}
	s := sample.Sample{Notes: []string{"something else", note, sample.NoteNotApplicable("twice", matrix.AxisOutBatchSize)}}
	if got := s.NotApplicable(); !slices.Equal(got, []string{matrix.AxisOutBatchSize, matrix.AxisWriteBatching}) {
		t.Errorf("NotApplicable() = %v, want out_batch_size, write_batching once each, in axis order", got)
	}
	if got := (&sample.Sample{}).NotApplicable(); got != nil {
		t.Errorf("NotApplicable() of a sample without notes = %v", got)
	}
}
