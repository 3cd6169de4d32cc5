// Package host is what zbench knows of the machine it runs on: CPU lists
// and affinity (which CPUs a process may run on, and pinning a child to
// some), the environment stamp's probes (kernel, CPU model, cores, memory,
// governor), and a process's own resource usage. It is the one place such
// detection lives; everything else asks it.
package host

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrBadCPUList is wrapped by every error ParseCPUList returns.
var ErrBadCPUList = errors.New("bad CPU list")

// maxCPU bounds the CPU numbers a list may name (the kernel's CPU set size).
const maxCPU = 1023

// CPUList is a set of CPU numbers, sorted and without duplicates, as
// `taskset -c` and --cpus write it ("0", "0-1", "0,2").
type CPUList []int

// ParseCPUList parses a comma-separated list of CPU numbers and inclusive
// ranges: "0", "0-3", "0,2,4-5".
func ParseCPUList(s string) (CPUList, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("%w: empty; allowed: CPU numbers and ranges such as 0, 0-1, 0,2", ErrBadCPUList)
	}
	var l CPUList
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parseCPU(lo, s)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseCPU(hi, s); err != nil {
				return nil, err
			}
			if b < a {
				return nil, fmt.Errorf("%w %q: range %q runs backwards", ErrBadCPUList, s, part)
			}
		}
		for c := a; c <= b; c++ {
			l = append(l, c)
		}
	}
	slices.Sort(l)
	return slices.Compact(l), nil
}

func parseCPU(v, list string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 || n > maxCPU {
		return 0, fmt.Errorf("%w %q: %q is not a CPU number; allowed: 0..%d, ranges a-b, separated by commas",
			ErrBadCPUList, list, v, maxCPU)
	}
	return n, nil
}

// String writes the list in its shortest `taskset -c` form: "0-2,5".
func (l CPUList) String() string {
	var b strings.Builder
	for i := 0; i < len(l); {
		j := i
		for j+1 < len(l) && l[j+1] == l[j]+1 {
			j++
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(l[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(l[j]))
		}
		i = j + 1
	}
	return b.String()
}

// Contains reports whether the list holds CPU c.
func (l CPUList) Contains(c int) bool {
	_, found := slices.BinarySearch(l, c)
	return found
}
