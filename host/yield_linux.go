package host

import "golang.org/x/sys/unix"

// Yield gives the CPU to any other runnable thread, of this process or
// another (sched_yield), so that a wait that cannot sleep (timers overshoot
// by up to a millisecond) does not starve a process pinned to the same core.
func Yield() { _, _, _ = unix.Syscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
