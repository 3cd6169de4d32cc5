package matrix

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// File is a parsed and validated scenario file. Its profiles are resolved
// with [File.Resolve].
type File struct {
	Path           string // the path or name the file was read from, as given
	SHA256         string // hex SHA-256 of the file's bytes
	DefaultProfile string // the profile used when none is named; may be empty
	// Hosts places the sides (the hosts: block); --hosts and
	// --data-address override it.
	Hosts Hosts

	profiles []profile // in file order
}

// Hosts is the hosts: block of a scenario file: where the sender and the
// receiver run ("local", "" or an SSH destination user@host[:port]) and the
// address the receiver binds its data sockets on.
type Hosts struct {
	Sender      string `json:"sender,omitempty"`
	Receiver    string `json:"receiver,omitempty"`
	DataAddress string `json:"data_address,omitempty"`
}

// profile is one validated profile, with the defaults merged in.
type profile struct {
	name        string
	description string
	runs        int
	workload    Workload
	axes        AxisValues
}

// Scenario is one profile of a scenario file, resolved: the file's defaults
// merged in, omitted axes set to their defaults, and optionally narrowed by a
// filter. It is what results.json records as the scenario of a run, so it
// marshals to JSON as is.
type Scenario struct {
	File        string     `json:"file"`   // the scenario file's path, as given
	SHA256      string     `json:"sha256"` // hex SHA-256 of the scenario file
	Profile     string     `json:"profile"`
	Description string     `json:"description,omitempty"`
	Runs        int        `json:"runs"`     // runs of every cell, each in a fresh worker process
	Workload    Workload   `json:"workload"` // the same for every cell
	Axes        AxisValues `json:"axes"`
	Filter      string     `json:"filter,omitempty"` // the filter Narrow applied, in canonical form
}

// Load reads, parses and validates the scenario file at path. A file that
// cannot be read gives the *os.PathError; a file with problems gives an
// [Errors] value listing every problem found, each with its position.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("matrix: %w", err)
	}
	return Parse(path, data)
}

// ProfileNames returns the names of the file's profiles in file order.
func (f *File) ProfileNames() []string {
	names := make([]string, len(f.profiles))
	for i, p := range f.profiles {
		names[i] = p.name
	}
	return names
}

// Resolve returns the named profile as a scenario; "" selects the file's
// default_profile. An unknown name, or "" when the file sets no default,
// gives an [*Error] wrapping [ErrUnknownProfile] that lists the profiles.
// Each call returns a new Scenario that the caller may modify.
func (f *File) Resolve(name string) (*Scenario, error) {
	if name == "" {
		name = f.DefaultProfile
		if name == "" {
			return nil, &Error{File: f.Path, Msg: "no profile named and the file sets no " + keyDefaultProfile,
				Allowed: strings.Join(f.ProfileNames(), ", "), Err: ErrUnknownProfile}
		}
	}
	i := slices.IndexFunc(f.profiles, func(p profile) bool { return p.name == name })
	if i < 0 {
		return nil, &Error{File: f.Path, Msg: fmt.Sprintf("unknown profile %q", name),
			Allowed: strings.Join(f.ProfileNames(), ", "), Err: ErrUnknownProfile}
	}
	p := f.profiles[i]
	return &Scenario{
		File:        f.Path,
		SHA256:      f.SHA256,
		Profile:     p.name,
		Description: p.description,
		Runs:        p.runs,
		Workload:    p.workload,
		Axes:        p.axes.clone(),
	}, nil
}

// Cells expands the scenario's axes into cells, nested in [Axes] order:
// engine varies slowest, rate fastest; within an axis, values keep the
// order of the file. Every cell carries the scenario's workload.
func (s *Scenario) Cells() []Cell {
	a := s.Axes
	cells := make([]Cell, 0, a.Count())
	for _, engine := range a.Engine {
		for _, pattern := range a.Pattern {
			for _, protocol := range a.Protocol {
				for _, size := range a.Size {
					for _, obs := range a.OutBatchSize {
						for _, wb := range a.WriteBatching {
							for _, sockets := range a.Sockets {
								for _, procs := range a.Processes {
									for _, rate := range a.Rate {
										cells = append(cells, Cell{
											Engine:        engine,
											Pattern:       pattern,
											Protocol:      protocol,
											Size:          size,
											OutBatchSize:  obs,
											WriteBatching: wb,
											Sockets:       sockets,
											Processes:     procs,
											Rate:          rate,
											Workload:      s.Workload,
										})
									}
								}
							}
						}
					}
				}
			}
		}
	}
	return cells
}

// Narrow returns a copy of the scenario whose axes keep only the values the
// filter accepts, with Filter recording it; its Cells are those of s that
// the filter matches, in the same order. A filter that leaves no cell gives
// an [*Error] wrapping [ErrBadFilter] that names the profile's values of the
// filtered axes. An empty filter returns an unchanged copy.
func (s *Scenario) Narrow(f Filter) (*Scenario, error) {
	n := *s
	n.Axes = s.Axes.clone()
	if f.IsEmpty() {
		return &n, nil
	}
	n.Axes.Engine = keep(n.Axes.Engine, AxisEngine, f)
	n.Axes.Pattern = keep(n.Axes.Pattern, AxisPattern, f)
	n.Axes.Protocol = keep(n.Axes.Protocol, AxisProtocol, f)
	n.Axes.Size = keep(n.Axes.Size, AxisSize, f)
	n.Axes.OutBatchSize = keep(n.Axes.OutBatchSize, AxisOutBatchSize, f)
	n.Axes.WriteBatching = keep(n.Axes.WriteBatching, AxisWriteBatching, f)
	n.Axes.Sockets = keep(n.Axes.Sockets, AxisSockets, f)
	n.Axes.Processes = keep(n.Axes.Processes, AxisProcesses, f)
	n.Axes.Rate = keep(n.Axes.Rate, AxisRate, f)
	if n.Axes.Count() == 0 {
		return nil, f.noMatch(fmt.Sprintf("no cell of profile %q", s.Profile), s.Axes.Values)
	}
	n.Filter = f.String()
	return &n, nil
}

// keep returns the values of one axis that the filter accepts.
func keep[T any](vals []T, axis string, f Filter) []T {
	accepted, ok := f.terms[axis]
	if !ok {
		return vals
	}
	var out []T
	for _, v := range vals {
		if slices.Contains(accepted, fmt.Sprint(v)) {
			out = append(out, v)
		}
	}
	return out
}
