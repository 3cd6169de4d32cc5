package runner

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"

	"zbench/matrix"
)

// Profiling asks workers for pprof profiles of the measured phases (the
// throughput and latency phases): a CPU profile over them, and a heap
// profile (allocations and what is in use) at their end. Files go to
// Dir/<cell>/run-<N>-<role>.cpu.pprof and .mem.pprof.
type Profiling struct {
	Dir      string
	CPU, Mem bool
}

// Kinds lists the profiles asked for: "cpu", "mem".
func (p Profiling) Kinds() []string {
	var k []string
	if p.CPU {
		k = append(k, "cpu")
	}
	if p.Mem {
		k = append(k, "mem")
	}
	return k
}

// Enabled reports whether any profile is asked for.
func (p Profiling) Enabled() bool { return p.Dir != "" && (p.CPU || p.Mem) }

// JobProfile names the files one worker writes; "" for none.
type JobProfile struct {
	CPUFile string `json:"cpu_file,omitempty"`
	MemFile string `json:"mem_file,omitempty"`
}

var unsafePathChars = regexp.MustCompile(`[^A-Za-z0-9._=-]+`)

// ProfileCellDir is the directory of one cell's profiles under dir.
func ProfileCellDir(dir string, c matrix.Cell) string {
	return filepath.Join(dir, ProfileCellName(c.ID()))
}

// ProfileCellName is the directory name of the profiles of the cell with
// the given ID.
func ProfileCellName(id string) string { return unsafePathChars.ReplaceAllString(id, "_") }

// ProfileFile is the path of one run's profile of one side; kind is "cpu"
// or "mem".
func ProfileFile(dir string, c matrix.Cell, run int, role, kind string) string {
	return filepath.Join(ProfileCellDir(dir, c), fmt.Sprintf("run-%d-%s.%s.pprof", run, role, kind))
}

// jobProfile is what a worker of the given role writes for (c, run).
func (p Profiling) jobProfile(c matrix.Cell, run int, role string) (*JobProfile, error) {
	if !p.Enabled() {
		return nil, nil
	}
	if err := os.MkdirAll(ProfileCellDir(p.Dir, c), 0o755); err != nil {
		return nil, err
	}
	jp := &JobProfile{}
	if p.CPU {
		jp.CPUFile = ProfileFile(p.Dir, c, run, role, "cpu")
	}
	if p.Mem {
		jp.MemFile = ProfileFile(p.Dir, c, run, role, "mem")
	}
	return jp, nil
}

// profiler runs a worker's profiles: start at the throughput phase's
// beginning, stop at the latency phase's end.
type profiler struct {
	jp  *JobProfile
	cpu *os.File
}

func (p *profiler) start() error {
	if p == nil || p.jp == nil {
		return nil
	}
	if p.jp.MemFile != "" {
		runtime.MemProfileRate = 64 << 10 // finer than the default 512 KiB: a phase allocates little
	}
	if p.jp.CPUFile == "" {
		return nil
	}
	f, err := os.Create(p.jp.CPUFile)
	if err != nil {
		return fmt.Errorf("runner: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return fmt.Errorf("runner: cpu profile: %w", err)
	}
	p.cpu = f
	return nil
}

func (p *profiler) stop() error {
	if p == nil || p.jp == nil {
		return nil
	}
	var first error
	if p.cpu != nil {
		pprof.StopCPUProfile()
		if err := p.cpu.Close(); err != nil {
			first = fmt.Errorf("runner: cpu profile: %w", err)
		}
		p.cpu = nil
	}
	if p.jp.MemFile != "" {
		f, err := os.Create(p.jp.MemFile)
		if err == nil {
			err = pprof.Lookup("heap").WriteTo(f, 0)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil && first == nil {
			first = fmt.Errorf("runner: heap profile: %w", err)
		}
	}
	return first
}
