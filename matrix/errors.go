package matrix

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Sentinel errors. Every [*Error] wraps exactly one of them, so callers test
// the kind of a problem with errors.Is.
var (
	ErrSyntax         = errors.New("matrix: invalid YAML")    // the file is not well-formed YAML, or not one document
	ErrUnknownKey     = errors.New("matrix: unknown key")     // a mapping has a key the schema does not define
	ErrMissingKey     = errors.New("matrix: missing key")     // a required key is absent
	ErrDuplicate      = errors.New("matrix: duplicate")       // a key or an axis value appears twice
	ErrBadType        = errors.New("matrix: wrong type")      // a value has the wrong YAML type (list for scalar, string for number...)
	ErrBadValue       = errors.New("matrix: bad value")       // a value has the right type but is not allowed
	ErrUnknownProfile = errors.New("matrix: unknown profile") // a profile name that the file does not define
	ErrBadFilter      = errors.New("matrix: bad filter")      // a --filter expression is malformed, or selects no cell
)

// Error is one problem found in a scenario file or a filter. File, Line and
// Col locate it (Line and Col are 1-based; zero when unknown, as for filter
// errors); Allowed says what would have been accepted, when that is a finite
// set or a range. Err is the sentinel the problem is an instance of.
type Error struct {
	File    string
	Line    int
	Col     int
	Msg     string
	Allowed string
	Err     error
}

// Error formats the problem as "FILE:LINE:COL: MSG; allowed: ALLOWED",
// leaving out the parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
			if e.Col > 0 {
				fmt.Fprintf(&b, ":%d", e.Col)
			}
		}
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Allowed != "" {
		b.WriteString("; allowed: ")
		b.WriteString(e.Allowed)
	}
	return b.String()
}

// Unwrap returns the sentinel error the problem is an instance of.
func (e *Error) Unwrap() error { return e.Err }

// Errors is every problem found in one scenario file or filter, sorted by
// position. It unwraps to the individual [*Error] values, so errors.Is and
// errors.As see each of them.
type Errors []*Error

// Error lists the problems one per line, after a count line when there is
// more than one.
func (es Errors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d problems:", len(es))
	for _, e := range es {
		b.WriteString("\n")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap returns the individual problems.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// sort orders the problems by file, line and column, keeping the order of
// problems at the same position.
func (es Errors) sort() {
	slices.SortStableFunc(es, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}
