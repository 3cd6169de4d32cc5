package report

import (
	"bufio"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/google/pprof/profile"

	"zbench/runner/sample"
)

// ProfilesDir is the directory of a results directory that holds the
// workers' pprof profiles: ProfilesDir/<cell>/run-<N>-<role>.<kind>.pprof.
const ProfilesDir = "profiles"

// topFunctions is how many functions a profile summary lists.
const topFunctions = 10

// ProfileSummary is what one profile of one side of a cell's median run
// says: the functions that took the most, on their own (flat) and with what
// they called (cum).
type ProfileSummary struct {
	Cell string `json:"cell"`
	Run  int    `json:"run"`
	Side string `json:"side"`
	// Kind is "cpu" (CPU time over the measured phases) or "mem" (bytes
	// allocated, from the heap profile written at their end).
	Kind string `json:"kind"`
	// File is the profile's path relative to the results directory.
	File  string      `json:"file"`
	Unit  string      `json:"unit"` // "nanoseconds" or "bytes"
	Total int64       `json:"total"`
	Flat  []FuncShare `json:"flat"`
	Cum   []FuncShare `json:"cum"`
}

// FuncShare is one function's part of a profile.
type FuncShare struct {
	Func  string  `json:"func"`
	Value int64   `json:"value"`
	Pct   float64 `json:"pct"`
}

// SummarizeProfiles reads the profiles under dir (laid out as the runner
// writes them: <cell>/run-<N>-<role>.<kind>.pprof, cell as
// runner.ProfileCellDir names it) and summarises, for every cell of r, those
// of its median run (the ok run whose msg/s is nearest the cell's median).
// File paths in the summaries are under ProfilesDir, where the caller moves
// dir's contents. A profile that cannot be parsed is an error naming it.
func SummarizeProfiles(dir string, r *Result, cellDir func(id string) string) ([]ProfileSummary, error) {
	var out []ProfileSummary
	var errs []error
	for i := range r.Cells {
		c := &r.Cells[i]
		run := medianRun(r, c)
		if run == 0 {
			continue
		}
		sub := cellDir(c.ID)
		for _, kind := range []string{"cpu", "mem"} {
			for _, side := range []string{sample.RoleSender, sample.RoleReceiver, sample.RoleBoth} {
				name := fmt.Sprintf("run-%d-%s.%s.pprof", run, side, kind)
				path := filepath.Join(dir, sub, name)
				f, err := os.Open(path)
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					errs = append(errs, err)
					continue
				}
				p, err := profile.Parse(f)
				f.Close()
				if err != nil {
					errs = append(errs, fmt.Errorf("report: %s: %w", path, err))
					continue
				}
				s := summarize(p, kind)
				s.Cell, s.Run, s.Side, s.Kind = c.ID, run, side, kind
				s.File = filepath.Join(ProfilesDir, sub, name)
				out = append(out, s)
			}
		}
	}
	return out, errors.Join(errs...)
}

// medianRun is the run number of c's ok run nearest its median msg/s (the
// first ok run when the cell has no msg/s); 0 when it has no ok run.
func medianRun(r *Result, c *CellResult) int {
	med, hasMed := c.Stat(MetricMsgsPerSec)
	run, best := 0, math.Inf(1)
	for j := range r.Samples {
		s := &r.Samples[j]
		if s.Cell != c.ID || s.Status != sample.StatusOK {
			continue
		}
		d := 0.0
		if v, ok := metricOf(MetricMsgsPerSec, s); ok && hasMed {
			d = math.Abs(v - med.Median)
		}
		if run == 0 || d < best {
			run, best = s.Run, d
		}
	}
	return run
}

// summarize ranks the profile's functions: CPU time for a CPU profile, bytes
// allocated for a heap profile.
func summarize(p *profile.Profile, kind string) ProfileSummary {
	want := "cpu"
	if kind == "mem" {
		want = "alloc_space"
	}
	idx := slices.IndexFunc(p.SampleType, func(st *profile.ValueType) bool { return st.Type == want })
	if idx < 0 {
		idx = len(p.SampleType) - 1
	}
	s := ProfileSummary{}
	if idx >= 0 {
		s.Unit = p.SampleType[idx].Unit
	}
	flat, cum := map[string]int64{}, map[string]int64{}
	for _, smp := range p.Sample {
		if idx < 0 || idx >= len(smp.Value) {
			continue
		}
		v := smp.Value[idx]
		s.Total += v
		seen := map[string]bool{}
		for li, loc := range smp.Location {
			for k, line := range loc.Line {
				name := "?"
				if line.Function != nil {
					name = line.Function.Name
				}
				if li == 0 && k == 0 {
					flat[name] += v
				}
				if !seen[name] {
					seen[name] = true
					cum[name] += v
				}
			}
		}
	}
	s.Flat, s.Cum = top(flat, s.Total), top(cum, s.Total)
	return s
}

func top(m map[string]int64, total int64) []FuncShare {
	var fs []FuncShare
	for name, v := range m {
		fs = append(fs, FuncShare{Func: name, Value: v})
	}
	slices.SortFunc(fs, func(a, b FuncShare) int { return cmp.Or(cmp.Compare(b.Value, a.Value), cmp.Compare(a.Func, b.Func)) })
	fs = fs[:min(len(fs), topFunctions)]
	for i := range fs {
		if total > 0 {
			fs[i].Pct = 100 * float64(fs[i].Value) / float64(total)
		}
	}
	return fs
}

// writeProfilesSection lists, per cell and side, the top functions of the
// median run's profiles, with the command that opens each.
func writeProfilesSection(bw *bufio.Writer, r *Result) {
	if len(r.Invocation.Profiled) == 0 {
		return
	}
	bw.WriteString("\n## Profiles\n\n")
	fmt.Fprintf(bw, "These runs were **profiled** (%s): profiling costs time, so their figures are not comparable with unprofiled runs. "+
		"Every run of every side wrote its profiles of the measured phases under `%s/`; listed here are those of each cell's median run. "+
		"Open one with `go tool pprof -http=: FILE`.\n", strings.Join(r.Invocation.Profiled, ", "), ProfilesDir)
	for _, ps := range r.Profiles {
		what := "CPU"
		if ps.Kind == "mem" {
			what = "allocated bytes"
		}
		fmt.Fprintf(bw, "\n### `%s` · run %d · %s · %s\n\n", ps.Cell, ps.Run, ps.Side, what)
		fmt.Fprintf(bw, "`go tool pprof -http=: %s` — total %s\n\n", ps.File, formatProfileValue(ps.Total, ps.Unit))
		bw.WriteString("| flat % | function (flat) | cum % | function (cum) |\n|---:|---|---:|---|\n")
		for i := range max(len(ps.Flat), len(ps.Cum)) {
			var a, b [2]string
			if i < len(ps.Flat) {
				a = [2]string{fmt.Sprintf("%.1f", ps.Flat[i].Pct), "`" + mdEscape(ps.Flat[i].Func) + "`"}
			}
			if i < len(ps.Cum) {
				b = [2]string{fmt.Sprintf("%.1f", ps.Cum[i].Pct), "`" + mdEscape(ps.Cum[i].Func) + "`"}
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s |\n", a[0], a[1], b[0], b[1])
		}
	}
}

func formatProfileValue(v int64, unit string) string {
	switch unit {
	case "nanoseconds":
		return FormatMetric(MetricRTTP50, float64(v)) + " of CPU"
	case "bytes":
		return FormatSize(int(v))
	}
	return fmt.Sprintf("%d %s", v, unit)
}
