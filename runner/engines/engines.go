// Package engines holds the adapters that put each messaging engine behind
// runner's small Socket interface, and the registry the worker and the
// scheduler look engines up in.
//
// Every adapter registers itself from an init function in its own file.
// An adapter that needs a build tag (libzmq, through cgo) pairs its file with
// a stand-in built without the tag, which registers an engine that supports
// no cell and says why.
package engines

import (
	"fmt"
	"sort"

	"zbench/runner"
)

var registry = map[string]runner.Engine{}

// register adds e to the registry; a duplicate name is a programming error.
func register(e runner.Engine) {
	if _, dup := registry[e.Name()]; dup {
		panic(fmt.Sprintf("engines: %q registered twice", e.Name()))
	}
	registry[e.Name()] = e
}

// Lookup returns the engine of the given name; it is a runner.Lookup.
func Lookup(name string) (runner.Engine, bool) {
	e, ok := registry[name]
	return e, ok
}

// Names lists the registered engines, sorted.
func Names() []string {
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
