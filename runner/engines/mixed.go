package engines

import (
	"fmt"
	"slices"
	"strings"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/sample"
)

// Every mixed pair the matrix allows ("zbench>libzmq", "libzmq>zbench")
// is registered as a Mixed engine over the two engines it names.
func init() {
	for _, name := range matrix.Engines {
		if s, r, mixed := matrix.SplitEngine(name); mixed {
			register(Mixed{sender: s, receiver: r})
		}
	}
}

// Mixed is a runner.MixedEngine: the interoperability check as a benchmark.
// In every socket pair of a cell, the sending side's sockets come from one
// engine and the receiving side's (stream receiver and latency echo) from
// the other. The engines are looked up in the registry when used.
type Mixed struct {
	sender, receiver string
}

// NewMixed returns the mixed engine whose pairs send on sender and receive
// on receiver, both registered engine names.
func NewMixed(sender, receiver string) Mixed { return Mixed{sender: sender, receiver: receiver} }

// Name implements runner.Engine: "SENDER>RECEIVER".
func (m Mixed) Name() string { return m.sender + matrix.MixedSep + m.receiver }

// Sides implements runner.MixedEngine.
func (m Mixed) Sides() (sender, receiver runner.Engine) {
	s, _ := Lookup(m.sender)
	r, _ := Lookup(m.receiver)
	return s, r
}

// Supports implements runner.Engine: a cell runs when both engines can run
// it on their own. Notes of both are kept, each said of its side; axes
// either side cannot set are not applicable to the cell.
func (m Mixed) Supports(c matrix.Cell) (bool, string) {
	var naAxes, notes []string
	for _, sd := range []struct{ role, name string }{{"sender", m.sender}, {"receiver", m.receiver}} {
		eng, ok := Lookup(sd.name)
		if !ok {
			return false, fmt.Sprintf("%s %s: unknown engine", sd.role, sd.name)
		}
		if _, ok := eng.(runner.MixedEngine); ok || eng.Name() == m.Name() {
			return false, fmt.Sprintf("%s %s: a mixed pair cannot be a side of another", sd.role, sd.name)
		}
		one := c
		one.Engine = sd.name
		ok, reason := eng.Supports(one)
		if !ok {
			return false, fmt.Sprintf("%s %s: %s", sd.role, sd.name, reason)
		}
		if reason == "" {
			continue
		}
		if axes, why, isNA := sample.ParseNotApplicable(reason); isNA {
			for _, a := range axes {
				if !slices.Contains(naAxes, a) {
					naAxes = append(naAxes, a)
				}
			}
			reason = why
		}
		notes = append(notes, fmt.Sprintf("%s %s: %s", sd.role, sd.name, reason))
	}
	note := strings.Join(notes, "; ")
	if len(naAxes) > 0 {
		note = sample.NoteNotApplicable(note, naAxes...)
	}
	return true, note
}

// NewSocket implements runner.Engine. It is not used for a mixed engine's
// cells (RunCell opens each side's sockets on that side's engine) and fails.
func (m Mixed) NewSocket(kind string, _ runner.SocketOptions) (runner.Socket, error) {
	return nil, fmt.Errorf("engines: %s: a mixed pair opens %s sockets on its sides (%s sends, %s receives)",
		m.Name(), kind, m.sender, m.receiver)
}
