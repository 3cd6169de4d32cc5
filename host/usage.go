package host

import (
	"runtime"
	"syscall"
	"time"
)

// Usage is a process's own resource usage so far.
type Usage struct {
	User, Sys    time.Duration
	PeakRSSBytes int64 // ru_maxrss: the high-water mark since start-up
}

// SelfUsage reads getrusage(RUSAGE_SELF): CPU time of every thread of this
// process, and its peak resident set: its own (see PeakRSS) where the
// system tells it, ru_maxrss otherwise.
func SelfUsage() (Usage, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}, err
	}
	u := usageOf(&ru)
	if runtime.GOOS == "linux" {
		if p, err := PeakRSS(); err == nil {
			u.PeakRSSBytes = p
		}
	}
	return u, nil
}

// ChildUsage reads what the kernel measured of an exited child, from
// os.ProcessState.SysUsage(); false when it holds no rusage. Its
// PeakRSSBytes is ru_maxrss, which on Linux includes the parent's peak at
// the child's exec (see PeakRSS): a child should report its own.
func ChildUsage(sys any) (Usage, bool) {
	ru, ok := sys.(*syscall.Rusage)
	if !ok || ru == nil {
		return Usage{}, false
	}
	return usageOf(ru), true
}

func usageOf(ru *syscall.Rusage) Usage {
	rss := int64(ru.Maxrss)
	if runtime.GOOS == "linux" {
		rss *= 1024 // KiB on Linux, bytes on the BSDs and macOS
	}
	return Usage{
		User:         time.Duration(ru.Utime.Nano()),
		Sys:          time.Duration(ru.Stime.Nano()),
		PeakRSSBytes: rss,
	}
}
