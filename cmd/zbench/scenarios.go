package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	zbenchfiles "zbench"
	"zbench/matrix"
)

// scenarioSource says where the commands read the scenario file from.
type scenarioSource struct {
	path  string // --scenarios as given
	named bool   // --scenarios was given: that file or nothing
}

// load reads and validates the scenario file: the named one; without
// --scenarios, ./scenarios.yaml when the current directory has one, else
// the copy built into the binary (zbenchfiles.Scenarios), so that an installed
// zbench runs anywhere. builtin says which was read.
func (s scenarioSource) load() (f *matrix.File, builtin bool, err error) {
	if !s.named {
		if _, err := os.Stat(s.path); errors.Is(err, fs.ErrNotExist) {
			f, err := matrix.Parse(zbenchfiles.ScenariosName, zbenchfiles.Scenarios)
			return f, true, err
		}
	}
	data, err := os.ReadFile(s.path)
	switch {
	case errors.Is(err, fs.ErrNotExist) && s.named:
		return nil, false, fmt.Errorf("--scenarios %s: no such file; allowed: a scenario file (without --scenarios: ./%s, else the one built into zbench)", s.path, matrix.DefaultFile)
	case err != nil:
		return nil, false, fmt.Errorf("scenario file: %w", err)
	}
	f, err = matrix.Parse(s.path, data)
	return f, false, err
}

// noteBuiltin says on w that the built-in scenario file is in use, and why.
func noteBuiltin(w io.Writer) {
	dir, err := os.Getwd()
	if err != nil {
		dir = "the current directory"
	}
	fmt.Fprintf(w, "zbench: no %s in %s: using the one built into zbench (--scenarios FILE for another)\n", matrix.DefaultFile, dir)
}
