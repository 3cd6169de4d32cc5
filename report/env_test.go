package report

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"
)

var errNoGit = errors.New("git: not a git repository")

// fakeProbe returns a probe whose every lookup is canned; git answers from
// the table (a missing command fails).
func fakeProbe(bi *debug.BuildInfo, git map[string]string, files map[string]string) probe {
	return probe{
		now: func() time.Time { return fixedStart },
		buildInfo: func() (*debug.BuildInfo, bool) {
			return bi, bi != nil
		},
		git: func(args ...string) (string, error) {
			out, ok := git[strings.Join(args, " ")]
			if !ok {
				return "", errNoGit
			}
			return out, nil
		},
		readFile: func(path string) ([]byte, error) {
			s, ok := files[path]
			if !ok {
				return nil, os.ErrNotExist
			}
			return []byte(s), nil
		},
		workDir:    func() (string, error) { return "/work/here", nil },
		hostname:   func() (string, error) { return "bench-1", nil },
		affinity:   func() ([]int, error) { return []int{0, 1, 4}, nil },
		kernel:     func() (string, error) { return "Linux 6.8.0", nil },
		cpuModel:   func() (string, error) { return "", errors.New("no cpuinfo") },
		cores:      func() (int, error) { return 8, nil },
		memTotal:   func() (uint64, error) { return 1 << 30, nil },
		sysCPURoot: "/sys/devices/system/cpu",
	}
}

func TestCommitDetection(t *testing.T) {
	const rev = "89abcdef0123456789abcdef0123456789abcdef"
	stamped := &debug.BuildInfo{Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}}}
	unstamped := &debug.BuildInfo{Main: debug.Module{Path: "zbench"}}
	zbenchTree := map[string]string{
		"rev-parse --show-toplevel": "/src/zbench",
		"rev-parse HEAD":            rev,
		"status --porcelain":        "",
	}
	dirtyTree := map[string]string{
		"rev-parse --show-toplevel": "/src/zbench",
		"rev-parse HEAD":            rev,
		"status --porcelain":        " M report/env.go",
	}
	noCommits := map[string]string{ // a fresh repository: HEAD does not resolve
		"rev-parse --show-toplevel": "/src/zbench",
		"status --porcelain":        "?? go.mod",
	}
	zbenchMod := map[string]string{"/src/zbench/go.mod": "module zbench\n\ngo 1.26.0\n"}
	otherMod := map[string]string{"/src/zbench/go.mod": "module example.com/other\n"}

	const ldRev = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		name   string
		bi     *debug.BuildInfo
		ld     string // -X zbench/report.Commit
		git    map[string]string
		files  map[string]string
		commit string
		dirty  bool
		source string
	}{
		{"build info stamp wins", stamped, ldRev, dirtyTree, zbenchMod, rev, true, CommitFromBuildInfo},
		{"ldflags before the working directory", unstamped, ldRev, dirtyTree, zbenchMod, ldRev, false, CommitFromLdflags},
		{"ldflags without build info", nil, ldRev, nil, nil, ldRev, false, CommitFromLdflags},
		{"a bad ldflags value is no commit", unstamped, "$(COMMIT)", zbenchTree, zbenchMod, rev, false, CommitFromGit},
		{"git in a clean zbench tree", unstamped, "", zbenchTree, zbenchMod, rev, false, CommitFromGit},
		{"git in a dirty zbench tree", nil, "", dirtyTree, zbenchMod, rev, true, CommitFromGit},
		{"git tree of another module", unstamped, "", zbenchTree, otherMod, Unknown, false, CommitFromNowhere},
		{"no commit yet", unstamped, "", noCommits, zbenchMod, Unknown, false, CommitFromNowhere},
		{"outside a git tree, no build info", nil, "", nil, nil, Unknown, false, CommitFromNowhere},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := fakeProbe(tt.bi, tt.git, tt.files)
			p.ldCommit = tt.ld
			c := p.commit()
			if c.Commit != tt.commit || c.Dirty != tt.dirty || c.Source != tt.source {
				t.Errorf("commit() = %+v; want %q, %v, %q", c, tt.commit, tt.dirty, tt.source)
			}
			// Read from the working directory or not at all, the commit
			// comes with a note that says so.
			fromBinary := tt.source == CommitFromBuildInfo || tt.source == CommitFromLdflags
			if fromBinary != (c.Note == "") || !fromBinary && !strings.Contains(c.Note, "carries no commit") ||
				tt.source == CommitFromGit && !strings.Contains(c.Note, "/work/here") {
				t.Errorf("note %q for source %s", c.Note, c.Source)
			}
		})
	}
}

func TestEnvFromProbe(t *testing.T) {
	p := fakeProbe(nil, nil, map[string]string{
		"/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor": "performance\n",
		"/sys/devices/system/cpu/cpu1/cpufreq/scaling_governor": "performance\n",
		"/sys/devices/system/cpu/cpu4/cpufreq/scaling_governor": "powersave\n",
		"/sys/devices/system/cpu/cpu5/cpufreq/scaling_governor": "schedutil\n", // not in the affinity mask
	})
	e := p.env()
	if e.Affinity != "0-1,4" || e.Governor != "performance,powersave" || e.CPUModel != Unknown ||
		e.Commit != Unknown || e.Dirty || e.LogicalCores != 8 || e.Kernel != "Linux 6.8.0" ||
		!e.Time.Equal(fixedStart) || e.Version != Version || e.GOMAXPROCS != runtime.GOMAXPROCS(0) {
		t.Errorf("env = %+v", e)
	}

	p.readFile = func(string) ([]byte, error) { return nil, os.ErrNotExist }
	p.affinity = func() ([]int, error) { return nil, errors.New("ENOSYS") }
	if e := p.env(); e.Governor != "none" || e.Affinity != Unknown {
		t.Errorf("without cpufreq and affinity: governor %q affinity %q", e.Governor, e.Affinity)
	}
}

func TestGovernorWithoutAffinityGlobs(t *testing.T) {
	root := t.TempDir()
	for cpu, gov := range map[int]string{0: "ondemand", 3: "ondemand"} {
		d := filepath.Join(root, "cpu"+strconv.Itoa(cpu), "cpufreq")
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "scaling_governor"), []byte(gov+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p := probe{readFile: os.ReadFile, sysCPURoot: root}
	if got := p.governor(nil); got != "ondemand" {
		t.Errorf("governor = %q, want ondemand", got)
	}
}

func TestCommitLabels(t *testing.T) {
	e := Env{Commit: "0123456789abcdef", Dirty: true}
	if e.ShortCommit() != "0123456" || e.CommitLabel() != "0123456 (dirty)" {
		t.Errorf("short %q label %q", e.ShortCommit(), e.CommitLabel())
	}
	if ShortCommit("") != Unknown || (Env{Commit: Unknown}).CommitLabel() != Unknown {
		t.Error("an unknown commit is not said as unknown")
	}
}
