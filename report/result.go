package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"zbench/matrix"
	"zbench/runner/sample"
)

// SchemaVersion is the version of the results.json layout this package
// writes. ReadResult refuses files of a newer schema.
//
//   - 1: one worker per run, both sides in it.
//   - 2: the processes axis (cell IDs end in /processes=N), a worker per side
//     by default, per-side figures (Sample.Sides), msgs_per_sec timed from
//     the sender's first send. ReadResult reads schema 1 as one-process cells
//     (/processes=1); compare refuses metrics whose definition changed (see
//     Metric.Since).
const SchemaVersion = 2

// DefaultRoot is the directory results directories are made in by default.
const DefaultRoot = "results"

// File names inside a results directory.
const (
	ResultsJSONFile = "results.json"
	BenchmarkFile   = "benchmark_result.txt"
	MarkdownFile    = "BENCHMARK_RESULTS.md"
	LatestLink      = "latest"
)

// Sentinel errors, tested with errors.Is.
var (
	// ErrNotResult means the file is not a zbench results.json.
	ErrNotResult = errors.New("not a zbench results file")
	// ErrSchema means results.json has a schema version this build cannot
	// read.
	ErrSchema = errors.New("unsupported results schema version")
)

// FileError is an error about a results file, with the line it concerns
// when known (0 otherwise). It unwraps to its cause.
type FileError struct {
	Path string
	Line int
	Err  error
}

// Error says the file, the line when known, and what is wrong.
func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Path, e.Err)
}

// Unwrap returns the cause.
func (e *FileError) Unwrap() error { return e.Err }

// Invocation records how a result set was produced.
type Invocation struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Command is the command line, program name first.
	Command      []string `json:"command"`
	ScenarioFile string   `json:"scenario_file,omitempty"`
	Profile      string   `json:"profile"`
	Runs         int      `json:"runs"`   // runs per cell asked for
	Filter       []string `json:"filter"` // --filter expressions, as given
	// CPUs is the CPU list asked for with --cpus ("" when not pinned).
	CPUs string `json:"cpus,omitempty"`
	// Affinity is the CPU list the runs were allowed on, e.g. "0-1".
	Affinity string `json:"affinity"`
	// Incomplete is set when the result set lacks runs it should have:
	// the invocation was interrupted, or runs failed or timed out.
	Incomplete        bool     `json:"incomplete"`
	IncompleteReasons []string `json:"incomplete_reasons,omitempty"`
	// Profiled lists the profiles the workers wrote ("cpu", "mem"): such
	// runs are slowed by profiling and are not comparable with others.
	Profiled []string `json:"profiled,omitempty"`
	// Hosts says where each side ran when a side ran on another host, with
	// that host's environment stamp.
	Hosts []HostRecord `json:"hosts,omitempty"`
}

// HostRecord is one side's host: "local" or an SSH destination, and its
// environment stamp (CPU, kernel, NICs with speed and MTU).
type HostRecord struct {
	Role string `json:"role"`
	Host string `json:"host"`
	Env  *Env   `json:"env,omitempty"`
}

// MarkIncomplete flags the invocation as incomplete for the given reason
// (said once even when marked again).
func (inv *Invocation) MarkIncomplete(reason string) {
	inv.Incomplete = true
	for _, r := range inv.IncompleteReasons {
		if r == reason {
			return
		}
	}
	inv.IncompleteReasons = append(inv.IncompleteReasons, reason)
}

// Result is everything one invocation produced: results.json holds it whole,
// and the other files are rendered from it.
type Result struct {
	SchemaVersion int        `json:"schema_version"`
	Invocation    Invocation `json:"invocation"`
	Env           Env        `json:"env"`
	// Scenario is the scenario as resolved (profile applied, defaults
	// filled in), as the matrix package serialises it.
	Scenario any             `json:"scenario"`
	Cells    []CellResult    `json:"cells"`
	Samples  []sample.Sample `json:"samples"`
	// Profiles summarises the profiles of each cell's median run, when the
	// runs were profiled.
	Profiles []ProfileSummary `json:"profiles,omitempty"`
}

// NewResult aggregates samples over cells and assembles a Result. It marks
// the invocation incomplete (keeping reasons already given) when runs were
// interrupted, failed or timed out, or cells have no run at all; unsupported
// cells do not make a result incomplete.
func NewResult(inv Invocation, env Env, scenario any, cells []matrix.Cell, samples []sample.Sample) *Result {
	r := &Result{
		SchemaVersion: SchemaVersion,
		Invocation:    inv,
		Env:           env,
		Scenario:      scenario,
		Cells:         Aggregate(cells, samples),
		Samples:       samples,
	}
	if r.Samples == nil {
		r.Samples = []sample.Sample{}
	}
	var interrupted, bad, notRun int
	for _, s := range samples {
		switch s.Status {
		case sample.StatusInterrupted:
			interrupted++
		case sample.StatusFailed, sample.StatusTimeout:
			bad++
		case sample.StatusOK, sample.StatusUnsupported:
		default:
			bad++
		}
	}
	for _, c := range r.Cells {
		if c.Status == CellNotRun {
			notRun++
		}
	}
	if interrupted > 0 {
		r.Invocation.MarkIncomplete("interrupted")
	}
	if bad > 0 {
		r.Invocation.MarkIncomplete(fmt.Sprintf("%d of %d runs failed or timed out", bad, len(samples)))
	}
	if notRun > 0 {
		r.Invocation.MarkIncomplete(fmt.Sprintf("%d of %d cells have no run", notRun, len(r.Cells)))
	}
	return r
}

// FailedRuns counts the runs that were neither ok nor unsupported.
func (r *Result) FailedRuns() int {
	n := 0
	for _, s := range r.Samples {
		if s.Status != sample.StatusOK && s.Status != sample.StatusUnsupported {
			n++
		}
	}
	return n
}

// Cell returns the aggregated cell with the given ID.
func (r *Result) Cell(id string) (*CellResult, bool) {
	for i := range r.Cells {
		if r.Cells[i].ID == id {
			return &r.Cells[i], true
		}
	}
	return nil, false
}

// WriteJSON writes r as indented JSON (the content of results.json).
func WriteJSON(w io.Writer, r *Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReadResult reads a result set from path: a results directory (or the
// latest link) or a results.json file. Errors name the file, and the line
// for malformed JSON; they wrap ErrNotResult or ErrSchema where those apply.
func ReadResult(path string) (*Result, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		path = filepath.Join(path, ResultsJSONFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return decodeResult(path, data)
}

func decodeResult(path string, data []byte) (*Result, error) {
	var head struct {
		SchemaVersion *int `json:"schema_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, jsonError(path, data, err)
	}
	if head.SchemaVersion == nil {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w: no schema_version", ErrNotResult)}
	}
	if v := *head.SchemaVersion; v < 1 || v > SchemaVersion {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%w %d; this zbench reads 1 to %d", ErrSchema, v, SchemaVersion)}
	}
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, jsonError(path, data, err)
	}
	if r.SchemaVersion == 1 {
		upgradeV1(&r)
	}
	return &r, nil
}

// upgradeV1 reads a schema 1 result set as what it was: every run had both
// sides in one worker, so its cells are processes=1 cells.
func upgradeV1(r *Result) {
	ids := map[string]string{}
	for i := range r.Cells {
		c := &r.Cells[i]
		c.Processes = 1
		old := c.ID
		c.ID = c.Cell.ID()
		ids[old] = c.ID
	}
	for i := range r.Samples {
		s := &r.Samples[i]
		if id, ok := ids[s.Cell]; ok {
			s.Cell = id
		} else {
			s.Cell += "/" + matrix.AxisProcesses + "=1"
		}
		s.Processes = 1
	}
}

// jsonError locates a JSON decoding error by line.
func jsonError(path string, data []byte, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		off = se.Offset
	case errors.As(err, &te):
		off = te.Offset
	}
	fe := &FileError{Path: path, Err: fmt.Errorf("%w: %v", ErrNotResult, err)}
	if off >= 0 && off <= int64(len(data)) {
		fe.Line = 1 + bytes.Count(data[:off], []byte("\n"))
	}
	return fe
}
