package host

import (
	"bytes"
	"os"
	"strconv"
)

// RSS returns this process's resident set now, in bytes
// (/proc/self/statm: resident pages times the page size).
func RSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	f := bytes.Fields(b)
	if len(f) < 2 {
		return 0, ErrUnknown
	}
	pages, err := strconv.ParseInt(string(f[1]), 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}
