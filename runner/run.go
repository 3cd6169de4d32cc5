package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"zbench/matrix"
)

// DefaultTimeout bounds a run whose cell sets no timeout.
const DefaultTimeout = 5 * time.Minute

// DefaultStderrLimit is how much of a failed worker's stderr a sample keeps.
const DefaultStderrLimit = 8 << 10

// ErrBadOptions is wrapped by every error Run returns for its options.
var ErrBadOptions = errors.New("runner: bad options")

// Options configure Run.
type Options struct {
	// Runs is how many times every cell runs; >= 1.
	Runs int
	// Executable is the worker binary; "" means os.Executable(), the running
	// zbench. Tests point it at a fake worker.
	Executable string
	// WorkerArgs are the worker's arguments; nil means {"worker"}.
	WorkerArgs []string
	// Env is added to the worker's environment (os.Environ()).
	Env []string
	// Lookup finds the engines; a cell whose engine it does not find, or
	// whose engine does not support it, is recorded as unsupported without
	// spawning anything.
	Lookup Lookup
	// CPUs pins every worker to these CPUs; nil leaves the inherited mask
	// (e.g. from `taskset -c 0`) in place.
	CPUs CPUList
	// IPCDir is where workers put ipc endpoints; "" means os.TempDir().
	IPCDir string
	// DefaultTimeout bounds a run whose cell sets no timeout; 0 means
	// DefaultTimeout.
	DefaultTimeout time.Duration
	// StderrLimit is how many bytes of a failed worker's stderr are kept
	// (head and tail); 0 means DefaultStderrLimit.
	StderrLimit int
	// Progress, if not nil, is told about every finished run.
	Progress Progress
}

// Result is what Run did.
type Result struct {
	// Samples holds every finished run (and every unsupported one), in the
	// order they finished.
	Samples []Sample
	// Incomplete is true when the context was cancelled before every run
	// was done; the run that was stopped is recorded as interrupted.
	Incomplete bool
	// Failed counts the runs that failed or timed out.
	Failed int
	// Affinity is the CPU mask the workers ran under ("" if unknown).
	Affinity string
}

// Run executes runs × cells, interleaved so that drift spreads evenly across
// cells: run 1 of every cell in order, then run 2, and so on. Every run is a
// fresh worker process (see Work) measured from outside: peak RSS, user and
// system CPU, wall time, all bounded by the cell's timeout. A failing, hung or
// crashing run is recorded and the matrix goes on. When ctx is cancelled, Run
// starts nothing new, stops the running worker and returns what finished,
// marked Incomplete. Run's error is reserved for options it cannot work with;
// individual runs fail inside the Result.
func Run(ctx context.Context, cells []matrix.Cell, o Options) (Result, error) {
	var res Result
	if o.Runs < 1 {
		return res, fmt.Errorf("%w: runs %d, want >= 1", ErrBadOptions, o.Runs)
	}
	if o.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return res, fmt.Errorf("%w: find the worker executable: %v", ErrBadOptions, err)
		}
		o.Executable = exe
	}
	if o.WorkerArgs == nil {
		o.WorkerArgs = []string{"worker"}
	}
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = DefaultTimeout
	}
	if o.StderrLimit <= 0 {
		o.StderrLimit = DefaultStderrLimit
	}
	if o.CPUs != nil {
		if err := CheckCPUs(o.CPUs); err != nil {
			return res, fmt.Errorf("%w: %v", ErrBadOptions, err)
		}
		res.Affinity = o.CPUs.String()
	} else if l, err := CurrentAffinity(); err == nil {
		res.Affinity = l.String()
	}

	type verdict struct {
		ok     bool
		reason string
	}
	verdicts := make([]verdict, len(cells))
	for i, c := range cells {
		ok, reason := supports(o.Lookup, c)
		verdicts[i] = verdict{ok, reason}
	}

	total := o.Runs * len(cells)
	if o.Progress != nil {
		o.Progress.Begin(total)
		defer o.Progress.End()
	}
	for run := 1; run <= o.Runs; run++ {
		for i, c := range cells {
			if ctx.Err() != nil {
				res.Incomplete = true
				return res, nil
			}
			var s Sample
			if v := verdicts[i]; !v.ok {
				s = Sample{Cell: c.ID(), Run: run, Status: StatusUnsupported, Error: v.reason,
					StartedAt: time.Now().UTC()}
				s.Resources.AffinityMask = res.Affinity
			} else {
				s = o.spawn(ctx, c, run)
				if s.Resources.AffinityMask == "" {
					s.Resources.AffinityMask = res.Affinity
				}
			}
			switch s.Status {
			case StatusFailed, StatusTimeout:
				res.Failed++
			case StatusInterrupted:
				res.Incomplete = true
			}
			res.Samples = append(res.Samples, s)
			if o.Progress != nil {
				o.Progress.Done(c, s)
			}
			if s.Status == StatusInterrupted {
				return res, nil
			}
		}
	}
	return res, nil
}
