//go:build !libzmq

package engines

import (
	"fmt"

	"zbench/matrix"
	"zbench/runner"
)

// Without the libzmq build tag the binary has no libzmq adapter; cells of
// that engine are recorded as unsupported, never as failures.
func init() {
	register(unavailable{name: "libzmq", reason: "not built with libzmq"})
}

// unavailable is an engine this binary was built without: it supports no
// cell, giving reason.
type unavailable struct {
	name, reason string
}

func (u unavailable) Name() string { return u.name }

func (u unavailable) Supports(matrix.Cell) (bool, string) { return false, u.reason }

func (u unavailable) NewSocket(string, runner.SocketOptions) (runner.Socket, error) {
	return nil, fmt.Errorf("engines: %s: %s", u.name, u.reason)
}
