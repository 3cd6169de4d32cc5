package matrix

import (
	"fmt"
	"slices"
	"strings"
)

// Filter selects cells by their axis values, as the --filter flag gives them:
// "protocol=tcp,size=32,size=1024". A cell matches when, for every axis the
// filter names, its value is one of the values given for that axis: repeating
// a key means OR, different keys mean AND. The zero Filter matches every cell.
// A Filter is immutable once parsed and safe for concurrent use.
type Filter struct {
	terms map[string][]string // axis → accepted values, formatted as Cell.Value formats them
}

// ParseFilter parses a filter expression: comma-separated key=value terms
// whose keys are axis names (see [Axes]) and whose values are checked against
// the axis's type and allowed values. Spaces around keys and values are
// ignored; "" gives the empty filter. Every malformed term is reported, as an
// [Errors] value whose entries wrap [ErrBadFilter].
func ParseFilter(expr string) (Filter, error) {
	f := Filter{terms: map[string][]string{}}
	if strings.TrimSpace(expr) == "" {
		return f, nil
	}
	var errs Errors
	bad := func(allowed, format string, args ...any) {
		errs = append(errs, &Error{Msg: "filter: " + fmt.Sprintf(format, args...), Allowed: allowed, Err: ErrBadFilter})
	}
	for term := range strings.SplitSeq(expr, ",") {
		key, value, found := strings.Cut(term, "=")
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if !found || key == "" || value == "" {
			bad("key=value terms joined by commas, such as protocol=tcp,size=32", "term %q is not key=value", strings.TrimSpace(term))
			continue
		}
		spec, ok := specOf(key)
		if !ok {
			bad(strings.Join(Axes, ", "), "unknown key %q", key)
			continue
		}
		v, msg, ok := spec.canonical(key, value)
		if !ok {
			bad(spec.allowed(), "%s", msg)
			continue
		}
		if !slices.Contains(f.terms[key], v) {
			f.terms[key] = append(f.terms[key], v)
		}
	}
	if len(errs) > 0 {
		return Filter{}, errs
	}
	return f, nil
}

// IsEmpty reports whether the filter names no axis and so matches every cell.
func (f Filter) IsEmpty() bool { return len(f.terms) == 0 }

// Match reports whether the cell has one of the accepted values on every
// axis the filter names.
func (f Filter) Match(c Cell) bool {
	for axis, accepted := range f.terms {
		v, _ := c.Value(axis)
		if !slices.Contains(accepted, v) {
			return false
		}
	}
	return true
}

// Apply returns the cells the filter matches, in their order, in a new
// slice; the empty filter returns a copy of cells. When no cell matches a
// non-empty filter it returns an [*Error] wrapping [ErrBadFilter]
// that names the values the given cells have on the filtered axes.
func (f Filter) Apply(cells []Cell) ([]Cell, error) {
	if f.IsEmpty() {
		return slices.Clone(cells), nil
	}
	var out []Cell
	for _, c := range cells {
		if f.Match(c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, f.noMatch(fmt.Sprintf("none of the %d cells", len(cells)), func(axis string) []string {
			var vals []string
			for _, c := range cells {
				if v, _ := c.Value(axis); !slices.Contains(vals, v) {
					vals = append(vals, v)
				}
			}
			return vals
		})
	}
	return out, nil
}

// String returns the filter in canonical form: terms in [Axes] order, the
// values of one axis in the order given. ParseFilter(f.String()) equals f.
func (f Filter) String() string {
	var terms []string
	for _, axis := range Axes {
		for _, v := range f.terms[axis] {
			terms = append(terms, axis+"="+v)
		}
	}
	return strings.Join(terms, ",")
}

// noMatch builds the error for a filter that selects nothing from what,
// listing the values that values(axis) reports for every filtered axis.
func (f Filter) noMatch(what string, values func(axis string) []string) error {
	var have []string
	for _, axis := range Axes {
		if _, ok := f.terms[axis]; ok {
			have = append(have, axis+" "+strings.Join(values(axis), ", "))
		}
	}
	return &Error{
		Msg:     fmt.Sprintf("filter %q selects %s", f.String(), what),
		Allowed: strings.Join(have, "; "),
		Err:     ErrBadFilter,
	}
}
