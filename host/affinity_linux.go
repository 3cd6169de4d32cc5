package host

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// ErrCPUsUnavailable is returned when a CPU list names a CPU this process
// may not run on.
var ErrCPUsUnavailable = errors.New("CPUs not available")

func (l CPUList) set() *unix.CPUSet {
	var s unix.CPUSet
	for _, c := range l {
		s.Set(c)
	}
	return &s
}

func listOf(s *unix.CPUSet) CPUList {
	var l CPUList
	for c := 0; c <= maxCPU && len(l) < s.Count(); c++ {
		if s.IsSet(c) {
			l = append(l, c)
		}
	}
	return l
}

// Affinity returns the CPUs the calling thread may run on: the mask the
// process inherited (e.g. from `taskset -c 0`) unless the thread was
// pinned on its own.
func Affinity() (CPUList, error) {
	var s unix.CPUSet
	if err := unix.SchedGetaffinity(0, &s); err != nil {
		return nil, err
	}
	return listOf(&s), nil
}

// StartPinned runs start on a fresh OS thread whose CPU mask is l; the
// thread ends with start. A process that start starts (exec.Cmd.Start)
// inherits the mask, while the rest of this process stays as it was. A nil
// l runs start as is.
func StartPinned(l CPUList, start func() error) error {
	if l == nil {
		return start()
	}
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the goroutine's exit takes the pinned thread with it.
		runtime.LockOSThread()
		if err := unix.SchedSetaffinity(0, l.set()); err != nil {
			done <- unavailable(l, err)
			return
		}
		done <- start()
	}()
	return <-done
}

// CheckCPUs reports whether a process could be pinned to l: every CPU
// exists and the cgroup allows it. The error lists the CPUs that are
// available.
func CheckCPUs(l CPUList) error {
	if have, err := Affinity(); err == nil {
		for _, c := range l {
			if !have.Contains(c) {
				return fmt.Errorf("%w: CPU %d is not one this process may run on; available: %s", ErrCPUsUnavailable, c, have)
			}
		}
	}
	return StartPinned(l, func() error { return nil })
}

func unavailable(l CPUList, err error) error {
	if have, aerr := Affinity(); aerr == nil {
		return fmt.Errorf("%w: %s: %v; available: %s", ErrCPUsUnavailable, l, err, have)
	}
	return fmt.Errorf("%w: %s: %v", ErrCPUsUnavailable, l, err)
}
