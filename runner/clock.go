package runner

import _ "unsafe" // for go:linkname

// nanotime is the runtime's monotonic clock: CLOCK_MONOTONIC on Linux, read
// through the vDSO, the same clock every process of the host reads.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// Mono returns the host's monotonic clock in nanoseconds. Unlike
// time.Time's monotonic reading, which counts from the process's start,
// Mono readings of two processes on one host can be subtracted: the sender
// stamps its first send, the receiver its last receive, and the difference
// is the phase.
func Mono() int64 { return nanotime() }
