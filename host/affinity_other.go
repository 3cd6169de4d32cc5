//go:build !linux

package host

import "errors"

// ErrCPUsUnavailable is returned when CPU pinning is asked for where it is
// not available.
var ErrCPUsUnavailable = errors.New("CPU pinning is only available on Linux")

// Affinity returns the CPUs this process may run on; only on Linux.
func Affinity() (CPUList, error) { return nil, ErrCPUsUnavailable }

// StartPinned runs start; pinning (a non-nil l) is only available on Linux.
func StartPinned(l CPUList, start func() error) error {
	if l == nil {
		return start()
	}
	return ErrCPUsUnavailable
}

// CheckCPUs reports whether a process could be pinned to l; only on Linux.
func CheckCPUs(l CPUList) error { return StartPinned(l, func() error { return nil }) }
