package runner

import (
	"errors"
	"fmt"
	"runtime"

	"golang.org/x/sys/unix"
)

// ErrCPUsUnavailable is returned when a CPU list names no CPU this process
// may run on.
var ErrCPUsUnavailable = errors.New("runner: CPUs not available")

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

// currentAffinity is the CPU mask of the calling thread.
func currentAffinity() (CPUList, error) {
	var s unix.CPUSet
	if err := unix.SchedGetaffinity(0, &s); err != nil {
		return nil, err
	}
	return listOf(&s), nil
}

// CurrentAffinity returns the CPUs this process may run on (the mask it
// inherited, e.g. from `taskset -c 0`).
func CurrentAffinity() (CPUList, error) { return currentAffinity() }

// withAffinity runs fn on a fresh OS thread whose CPU mask is l; the thread
// ends with fn. A process fn starts inherits the mask, while the rest of this
// process stays unpinned. A nil l runs fn as is.
func withAffinity(l CPUList, fn func() error) error {
	if l == nil {
		return fn()
	}
	done := make(chan error, 1)
	go func() {
		// Never unlocked: the goroutine's exit takes the pinned thread with it.
		runtime.LockOSThread()
		if err := unix.SchedSetaffinity(0, l.set()); err != nil {
			done <- fmt.Errorf("%w: %s: %v", ErrCPUsUnavailable, l, err)
			return
		}
		done <- fn()
	}()
	return <-done
}

// CheckCPUs reports whether a process could be pinned to l (every CPU
// exists and the cgroup allows it), without pinning anything for good.
func CheckCPUs(l CPUList) error {
	return withAffinity(l, func() error { return nil })
}
