package host

import (
	"errors"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestCPUListString(t *testing.T) {
	tests := []struct {
		in   []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{0, 1}, "0-1"},
		{[]int{0, 1, 4}, "0-1,4"},
		{[]int{0, 2, 4}, "0,2,4"},
		{[]int{0, 1, 2, 3, 8, 9, 10, 15}, "0-3,8-10,15"},
	}
	for _, tt := range tests {
		if got := CPUList(tt.in).String(); got != tt.want {
			t.Errorf("CPUList(%v).String() = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	for in, want := range map[string]CPUList{
		"0": {0}, "0-1": {0, 1}, "3,1,1": {1, 3}, "0-2,5": {0, 1, 2, 5}, " 4 , 2-3 ": {2, 3, 4},
	} {
		got, err := ParseCPUList(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseCPUList(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, _ := ParseCPUList(got.String()); !slices.Equal(back, got) {
			t.Errorf("%v does not round-trip through %q", got, got.String())
		}
	}
	for _, bad := range []string{"", "a", "1-0", "-1", "0,,1", "2048", "0-x"} {
		_, err := ParseCPUList(bad)
		if !errors.Is(err, ErrBadCPUList) || !strings.Contains(err.Error(), "allowed") && !strings.Contains(err.Error(), "backwards") {
			t.Errorf("ParseCPUList(%q) = %v, want ErrBadCPUList saying what is allowed", bad, err)
		}
	}
}

func TestAffinityMatchesRuntime(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("affinity is read on Linux only")
	}
	cpus, err := Affinity()
	if err != nil {
		t.Fatalf("Affinity: %v", err)
	}
	// Go sizes NumCPU from the same affinity mask at start-up.
	if len(cpus) != runtime.NumCPU() {
		t.Errorf("affinity %v has %d CPUs, runtime.NumCPU() = %d", cpus, len(cpus), runtime.NumCPU())
	}
}

func TestCheckCPUsListsAvailable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pinning is Linux only")
	}
	have, err := Affinity()
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckCPUs(CPUList{have[0]}); err != nil {
		t.Errorf("CheckCPUs(%d) = %v, want ok", have[0], err)
	}
	err = CheckCPUs(CPUList{1023})
	if !errors.Is(err, ErrCPUsUnavailable) || !strings.Contains(err.Error(), "available: "+have.String()) {
		t.Errorf("CheckCPUs(1023) = %v, want ErrCPUsUnavailable listing %s", err, have)
	}
	// The caller's own mask is left alone.
	if after, _ := Affinity(); !slices.Equal(after, have) {
		t.Errorf("affinity changed from %v to %v", have, after)
	}
}

func TestGovernor(t *testing.T) {
	files := map[string]string{
		"/sys/cpu0/cpufreq/scaling_governor": "performance\n",
		"/sys/cpu1/cpufreq/scaling_governor": "powersave\n",
		"/sys/cpu2/cpufreq/scaling_governor": "performance\n",
	}
	read := func(p string) ([]byte, error) {
		if s, ok := files[p]; ok {
			return []byte(s), nil
		}
		return nil, os.ErrNotExist
	}
	if got := Governor("/sys", CPUList{0, 2}, read); got != "performance" {
		t.Errorf("governor of 0,2 = %q", got)
	}
	if got := Governor("/sys", CPUList{0, 1}, read); got != "performance,powersave" {
		t.Errorf("governor of 0,1 = %q", got)
	}
	if got := Governor("/sys", CPUList{7}, read); got != "none" {
		t.Errorf("governor without cpufreq = %q, want none", got)
	}
}

func TestSelfUsageAndRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("RSS is read from /proc")
	}
	before, err := SelfUsage()
	if err != nil {
		t.Fatal(err)
	}
	rss0, err := RSS()
	if err != nil || rss0 <= 0 {
		t.Fatalf("RSS = %d, %v", rss0, err)
	}
	// Touch 64 MiB: the resident set and its peak must grow by most of it.
	buf := make([]byte, 64<<20)
	for i := range buf {
		if i%4096 == 0 {
			buf[i] = 1
		}
	}
	rss1, _ := RSS()
	after, _ := SelfUsage()
	runtime.KeepAlive(buf)
	if rss1-rss0 < 48<<20 {
		t.Errorf("RSS grew by %d bytes after touching 64 MiB", rss1-rss0)
	}
	// The kernel's per-thread RSS counters lag by a few pages: allow 1 MiB.
	if after.PeakRSSBytes < rss1-1<<20 || after.PeakRSSBytes < before.PeakRSSBytes {
		t.Errorf("peak RSS %d below current %d or earlier peak %d", after.PeakRSSBytes, rss1, before.PeakRSSBytes)
	}
	if after.User+after.Sys <= before.User+before.Sys {
		t.Errorf("CPU time did not grow: %v+%v then %v+%v", before.User, before.Sys, after.User, after.Sys)
	}
}

func TestRSSReaderAgreesAndAllocatesNothing(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("RSS is read from /proc")
	}
	r := NewRSSReader()
	defer r.Close()
	got, err := r.Read()
	want, _ := RSS()
	if err != nil || got <= 0 || got < want/2 || got > want*2 {
		t.Fatalf("Read = %d, %v; RSS = %d", got, err, want)
	}
	if a := testing.AllocsPerRun(100, func() { _, _ = r.Read() }); a != 0 {
		t.Errorf("Read allocates %v times per call", a)
	}
}
