//go:build !libzmq

package engines_test

import (
	"testing"

	"zbench/matrix"
	"zbench/runner/engines"
)

// Without the libzmq build tag, libzmq and the mixed pairs with a libzmq side
// support no cell, and say why.
func TestLibzmqNotBuilt(t *testing.T) {
	lz, _ := engines.Lookup(matrix.EngineLibzmq)
	if ok, reason := lz.Supports(cell(matrix.EngineLibzmq, matrix.PatternPair, matrix.ProtocolTCP, 32, 1)); ok || reason != "not built with libzmq" {
		t.Errorf("libzmq without the tag: %v %q", ok, reason)
	}
	if _, err := lz.NewSocket("pair", runnerOptions()); err == nil {
		t.Error("libzmq without the tag opened a socket")
	}
	for name, side := range map[string]string{matrix.EngineZbenchToLibzmq: "receiver", matrix.EngineLibzmqToZbench: "sender"} {
		m, _ := engines.Lookup(name)
		ok, reason := m.Supports(cell(name, matrix.PatternPair, matrix.ProtocolTCP, 32, 1))
		if ok || reason != side+" libzmq: not built with libzmq" {
			t.Errorf("%s without the tag: %v %q", name, ok, reason)
		}
	}
}
