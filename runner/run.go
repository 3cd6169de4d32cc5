package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"zbench/host"
	"zbench/matrix"
	"zbench/runner/sample"
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
	// Env is added to the workers' environment (os.Environ()).
	Env []string
	// Lookup finds the engines; a cell whose engine it does not find, or
	// whose engine does not support it, is recorded as unsupported without
	// spawning anything.
	Lookup Lookup
	// CPUs pins the workers: one set for all, or one per side. The zero
	// value leaves the inherited mask (e.g. from `taskset -c 0`) in place.
	CPUs CPUSpec
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
	// Profile asks the workers for pprof profiles of the measured phases.
	Profile Profiling
	// Hosts places the sides on other machines, over SSH; the zero value
	// runs everything here.
	Hosts Hosts

	remotes *remotes // prepared SSH destinations, per Run
}

// Result is what Run did.
type Result struct {
	// Samples holds every finished run (and every unsupported one), in the
	// order they finished.
	Samples []sample.Sample
	// Incomplete is true when the context was cancelled before every run
	// was done; the run that was stopped is recorded as interrupted.
	Incomplete bool
	// Failed counts the runs that failed or timed out.
	Failed int
	// Affinity is the CPU set the workers were pinned to (--cpus as
	// written), or the mask they inherited ("" if unknown).
	Affinity string
	// HostEnvs are the environment stamps (`zbench env --json`) of the
	// remote hosts the runs used, by SSH destination.
	HostEnvs map[string]json.RawMessage
}

// Run executes runs × cells, interleaved so that drift spreads evenly across
// cells: run 1 of every cell in order, then run 2, and so on. Every run
// starts fresh worker processes (see Work): with the cell's processes 2, one
// per side, connected to each other and coordinated from here; with 1, one
// for both sides. Each worker is measured from outside (peak RSS, user and
// system CPU), each reports its own per-phase figures, and the run is
// bounded by the cell's timeout: when it passes, or one side fails, both
// are killed and the run is recorded as failed, naming the side. The matrix
// goes on. When ctx is cancelled, Run starts nothing new, stops the running
// workers and returns what finished, marked Incomplete. Run's error is
// reserved for options it cannot work with; individual runs fail inside the
// Result.
func Run(ctx context.Context, cells []matrix.Cell, o Options) (res Result, err error) {
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
	o.remotes = &remotes{}
	if !o.CPUs.IsZero() {
		if err := o.CPUs.Check(); err != nil {
			return res, fmt.Errorf("%w: %v", ErrBadOptions, err)
		}
		res.Affinity = o.CPUs.String()
	} else if l, err := host.Affinity(); err == nil {
		res.Affinity = l.String()
	}

	type verdict struct {
		eng    Engine
		ok     bool
		reason string
	}
	verdicts := make([]verdict, len(cells))
	for i, c := range cells {
		eng, ok, reason := supports(o.Lookup, c)
		if ok {
			if why := o.Hosts.remoteUnsupported(eng, c); why != "" {
				ok, reason = false, why
			}
		}
		verdicts[i] = verdict{eng, ok, reason}
	}
	defer func() { res.HostEnvs = o.remotes.envs() }()

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
			var s sample.Sample
			if v := verdicts[i]; !v.ok {
				s = sample.Sample{Cell: c.ID(), Run: run, Processes: c.Processes, Status: sample.StatusUnsupported,
					Error: v.reason, StartedAt: time.Now().UTC()}
				s.Resources.AffinityMask = res.Affinity
			} else {
				s = o.runOne(ctx, c, run, v.eng)
				if s.Resources.AffinityMask == "" {
					s.Resources.AffinityMask = res.Affinity
				}
			}
			switch s.Status {
			case sample.StatusFailed, sample.StatusTimeout:
				res.Failed++
			case sample.StatusInterrupted:
				res.Incomplete = true
			}
			res.Samples = append(res.Samples, s)
			if o.Progress != nil {
				o.Progress.Done(c, s)
			}
			if s.Status == sample.StatusInterrupted {
				return res, nil
			}
		}
	}
	return res, nil
}
