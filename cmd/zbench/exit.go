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
	code   int
	err    error
	silent bool // already reported to the user; print nothing more
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// badInput marks err as the user's input being wrong (exit 2).
func badInput(err error) error { return &exitError{code: exitBadInput, err: err} }

// failed marks err as a failure of the work itself (exit 1).
func failed(err error) error { return &exitError{code: exitFailed, err: err} }

// silentFailure reports exit 1 for an outcome the command already explained
// on its own output (failed runs listed in the summary, a tripped gate).
func silentFailure(err error) error { return &exitError{code: exitFailed, err: err, silent: true} }

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

func isSilent(err error) bool {
	var ee *exitError
	return errors.As(err, &ee) && ee.silent
}
