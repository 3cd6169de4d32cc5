package engine

import "golang.org/x/sys/unix"

// osYield gives the thread's CPU to another runnable thread, if any.
func osYield() { _, _, _ = unix.RawSyscall(unix.SYS_SCHED_YIELD, 0, 0, 0) }
