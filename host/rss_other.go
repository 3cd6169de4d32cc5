//go:build !linux

package host

// RSS returns this process's resident set now; only on Linux.
func RSS() (int64, error) { return 0, ErrUnknown }
