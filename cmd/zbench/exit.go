package main

import "errors"

// Exit codes, documented in the README and in `zbench --help`.
const (
	exitOK       = 0
	exitFailed   = 1 // a run failed, the run was interrupted, or a regression gate tripped
	exitBadInput = 2 // bad flags, arguments or scenario file; nothing was run
)

// exitError carries the exit code an error maps to. Commands wrap their
// errors with badInput or failed; anything else is a failure (1).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// badInput marks err as the user's input being wrong (exit 2).
func badInput(err error) error { return &exitError{code: exitBadInput, err: err} }

// failed marks err as a failure of the work itself (exit 1).
func failed(err error) error { return &exitError{code: exitFailed, err: err} }

// exitCode maps an error returned by a command to the process exit code, in
// one place.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if isFlagError(err) {
		return exitBadInput
	}
	return exitFailed
}
