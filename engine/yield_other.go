//go:build !linux

package engine

// osYield gives the thread's CPU to another runnable thread, if any; where
// that is not done cheaply, the poll loop yields to other goroutines only.
func osYield() {}
