//go:build libzmq

package engines

// ErrLibzmqClosed is errLibzmqClosed, for the tests of package engines_test.
var ErrLibzmqClosed = errLibzmqClosed
