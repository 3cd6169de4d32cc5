// Package zbench holds what the zbench binary carries besides its code: the
// scenario file of the source tree it was built from.
package zbench

import _ "embed" // for go:embed

// Scenarios is scenarios.yaml as it was when the binary was built. zbench
// uses it when the current directory has no scenarios.yaml, so that an
// installed binary runs anywhere.
//
//go:embed scenarios.yaml
var Scenarios []byte

// ScenariosName is the name the built-in scenario file goes by in messages
// and in the results (in place of a path).
const ScenariosName = "(built-in) scenarios.yaml"
