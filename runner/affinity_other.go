//go:build !linux

package runner

import "errors"

// ErrCPUsUnavailable is returned when CPU pinning is asked for where it is
// not available.
var ErrCPUsUnavailable = errors.New("runner: CPU pinning is only available on Linux")

func currentAffinity() (CPUList, error) { return nil, ErrCPUsUnavailable }

// CurrentAffinity returns the CPUs this process may run on; only on Linux.
func CurrentAffinity() (CPUList, error) { return currentAffinity() }

func withAffinity(l CPUList, fn func() error) error {
	if l == nil {
		return fn()
	}
	return ErrCPUsUnavailable
}

// CheckCPUs reports whether a process could be pinned to l; only on Linux.
func CheckCPUs(l CPUList) error { return withAffinity(l, func() error { return nil }) }
