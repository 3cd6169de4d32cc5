package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"zbench/matrix"
)

// Job is what the parent hands a worker on stdin: one run of one cell.
type Job struct {
	Cell matrix.Cell `json:"cell"`
	Run  int         `json:"run"` // 1-based
	// IPCDir is the directory of ipc endpoints; "" means os.TempDir().
	IPCDir string `json:"ipc_dir,omitempty"`
}

// ErrBadJob is returned by Work for a job it cannot read or run.
var ErrBadJob = errors.New("runner: bad job")

// Work is the worker process's whole life: read one Job as JSON from in, run
// it on the engine lookup finds, write one Sample as JSON on out. The sample
// has status ok; any failure is returned as an error instead (the worker
// prints it on stderr and exits non-zero), and nothing is written.
func Work(ctx context.Context, in io.Reader, out io.Writer, lookup Lookup) error {
	var job Job
	dec := json.NewDecoder(in)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&job); err != nil {
		return fmt.Errorf("%w: decode: %v", ErrBadJob, err)
	}
	s, err := RunJob(ctx, job, lookup)
	if err != nil {
		return err
	}
	if err := json.NewEncoder(out).Encode(s); err != nil {
		return fmt.Errorf("runner: write sample: %w", err)
	}
	return nil
}

// RunJob runs one job in this process and returns its sample, as Work does
// without the JSON on either side.
func RunJob(ctx context.Context, job Job, lookup Lookup) (Sample, error) {
	c := job.Cell
	if lookup == nil {
		return Sample{}, fmt.Errorf("%w: no engines", ErrBadJob)
	}
	eng, ok := lookup(c.Engine)
	if !ok {
		return Sample{}, fmt.Errorf("%w: unknown engine %q", ErrBadJob, c.Engine)
	}
	supported, note := eng.Supports(c)
	if !supported {
		return Sample{}, fmt.Errorf("%w: unsupported: %s", ErrBadJob, note)
	}
	s, err := RunCell(ctx, eng, c, CellOptions{IPCDir: job.IPCDir})
	if err != nil {
		return Sample{}, fmt.Errorf("cell %s run %d: %w", c.ID(), job.Run, err)
	}
	s.Cell = c.ID()
	s.Run = job.Run
	s.Status = StatusOK
	if note != "" {
		s.Notes = append(s.Notes, note)
	}
	if mask, err := currentAffinity(); err == nil {
		s.Resources.AffinityMask = mask.String()
	}
	return s, nil
}
