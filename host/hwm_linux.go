package host

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
)

// PeakRSS returns this process's resident high-water mark, VmHWM of
// /proc/self/status. ru_maxrss is not the process's own: a process started
// by exec inherits its parent's peak there (Linux folds the replaced address
// space's high-water mark in at exec, and Go's os/exec starts children
// sharing the parent's), so a small worker of a large parent would report
// the parent's size.
func PeakRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmHWM:")); ok {
			f := bytes.Fields(v)
			if len(f) >= 1 {
				kib, err := strconv.ParseInt(string(f[0]), 10, 64)
				if err != nil {
					return 0, err
				}
				return kib << 10, nil
			}
		}
	}
	return 0, ErrUnknown
}
