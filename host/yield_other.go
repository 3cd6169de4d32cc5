//go:build !linux

package host

import "runtime"

// Yield gives the processor to other goroutines; other systems have no
// portable way to yield to other processes.
func Yield() { runtime.Gosched() }
