package report

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"zbench/host"
)

// Version is zbench's version, set at build time with
// -ldflags "-X zbench/report.Version=v1.2.3". Unset, it is "dev".
var Version = "dev"

// Commit and Dirty are the commit zbench was built from and whether its
// tree had uncommitted changes ("true" or "false"), set at build time with
// -ldflags "-X zbench/report.Commit=<hash> -X zbench/report.Dirty=<bool>"
// (make build and make install do). They count when the binary carries no
// VCS stamp of the Go toolchain (a build with -buildvcs=false, or from a
// tree outside git).
var (
	Commit = ""
	Dirty  = ""
)

// Unknown is what the environment stamp says when a value could not be
// found out. It is said, never guessed.
const Unknown = "unknown"

// Commit sources, recorded in Env.CommitSource.
const (
	CommitFromBuildInfo = "buildinfo" // the binary's embedded VCS stamp
	CommitFromLdflags   = "ldflags"   // Commit, set at build time
	CommitFromGit       = "git"       // the binary has none: git in the zbench source tree the command ran from
	CommitFromNowhere   = "none"      // none of them: Commit is "unknown"
)

// Env is the environment stamp recorded with every result set: what machine,
// kernel, toolchain and zbench build produced the figures.
type Env struct {
	Time         time.Time `json:"time"` // when the stamp was taken, UTC
	Hostname     string    `json:"hostname"`
	OS           string    `json:"os"`
	Arch         string    `json:"arch"`
	Kernel       string    `json:"kernel"` // uname sysname and release
	CPUModel     string    `json:"cpu_model"`
	LogicalCores int       `json:"logical_cores"` // of the machine
	// Affinity is the CPU list this process may run on, e.g. "0-1,4".
	Affinity string `json:"affinity"`
	// Governor is the cpufreq scaling governor of the CPUs in Affinity
	// (distinct values joined by ","), or "none" without cpufreq.
	Governor      string `json:"governor"`
	GoVersion     string `json:"go_version"`
	GOMAXPROCS    int    `json:"gomaxprocs"`
	MemTotalBytes uint64 `json:"mem_total_bytes"`
	Version       string `json:"zbench_version"`
	// Commit is the full commit hash of the zbench build, or "unknown".
	Commit string `json:"commit"`
	// Dirty reports uncommitted changes in the tree that was built or run.
	Dirty        bool   `json:"dirty"`
	CommitSource string `json:"commit_source"`
	// CommitNote says why the commit may not be the binary's own: it was
	// read from the working directory's git tree at run time, or nowhere.
	CommitNote string `json:"commit_note,omitempty"`
	// NICs are the network interfaces: speed, MTU, addresses.
	NICs []host.NIC `json:"nics,omitempty"`
}

// ShortCommit is the commit abbreviated to 7 characters, or "unknown".
func (e Env) ShortCommit() string { return ShortCommit(e.Commit) }

// CommitLabel is the short commit followed by " (dirty)" when the tree had
// uncommitted changes.
func (e Env) CommitLabel() string {
	if e.Dirty {
		return e.ShortCommit() + " (dirty)"
	}
	return e.ShortCommit()
}

// ShortCommit abbreviates a commit hash to 7 characters; an empty or unknown
// commit is "unknown".
func ShortCommit(commit string) string {
	switch {
	case commit == "" || commit == Unknown:
		return Unknown
	case len(commit) > 7:
		return commit[:7]
	}
	return commit
}

// probe holds every lookup CollectEnv makes, so tests can replace them.
type probe struct {
	now        func() time.Time
	buildInfo  func() (*debug.BuildInfo, bool)
	ldCommit   string // Commit
	ldDirty    string // Dirty
	workDir    func() (string, error)
	git        func(args ...string) (string, error) // runs git in the working directory
	readFile   func(path string) ([]byte, error)
	hostname   func() (string, error)
	affinity   func() ([]int, error)
	kernel     func() (string, error)
	cpuModel   func() (string, error)
	cores      func() (int, error)
	memTotal   func() (uint64, error)
	nics       func() ([]host.NIC, error)
	sysCPURoot string // /sys/devices/system/cpu
}

func systemProbe() probe {
	return probe{
		now:        time.Now,
		buildInfo:  debug.ReadBuildInfo,
		ldCommit:   Commit,
		ldDirty:    Dirty,
		workDir:    os.Getwd,
		git:        runGit,
		readFile:   os.ReadFile,
		hostname:   os.Hostname,
		affinity:   func() ([]int, error) { return host.Affinity() },
		kernel:     host.Kernel,
		cpuModel:   host.CPUModel,
		cores:      host.LogicalCores,
		memTotal:   host.MemTotal,
		nics:       func() ([]host.NIC, error) { return host.NICs("") },
		sysCPURoot: host.SysCPURoot,
	}
}

// CollectEnv takes the environment stamp of this process and machine. A value
// that cannot be found out is "unknown" (or 0), never guessed.
func CollectEnv() Env { return systemProbe().env() }

// CommitStamp is the commit a zbench binary was built from, and where that
// was found out.
type CommitStamp struct {
	Commit string // full hash, or "unknown"
	Dirty  bool   // the tree had uncommitted changes
	Source string // CommitFromBuildInfo, CommitFromLdflags, CommitFromGit or CommitFromNowhere
	Note   string // for CommitFromGit and CommitFromNowhere: why, in words
}

// DetectCommit returns the commit zbench was built from: from the binary's
// build info when it carries a VCS stamp, else from the commit set at build
// time with -ldflags, else (and the note says so) from git when run inside a
// zbench source tree, else "unknown".
func DetectCommit() CommitStamp { return systemProbe().commit() }

func (p probe) env() Env {
	e := Env{
		Time:       p.now().UTC(),
		OS:         runtime.GOOS,
		Arch:       runtime.GOARCH,
		GoVersion:  runtime.Version(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		Version:    Version,
	}
	e.Hostname = orUnknown(p.hostname())
	e.Kernel = orUnknown(p.kernel())
	e.CPUModel = orUnknown(p.cpuModel())
	if n, err := p.cores(); err == nil {
		e.LogicalCores = n
	}
	if n, err := p.memTotal(); err == nil {
		e.MemTotalBytes = n
	}
	cpus, err := p.affinity()
	if err == nil && len(cpus) > 0 {
		e.Affinity = host.CPUList(cpus).String()
	} else {
		e.Affinity = Unknown
	}
	e.Governor = p.governor(cpus)
	if p.nics != nil {
		e.NICs, _ = p.nics()
	}
	c := p.commit()
	e.Commit, e.Dirty, e.CommitSource, e.CommitNote = c.Commit, c.Dirty, c.Source, c.Note
	return e
}

func orUnknown(s string, err error) string {
	s = strings.TrimSpace(s)
	if err != nil || s == "" {
		return Unknown
	}
	return s
}

// noStamp is the start of the note for a binary that carries no commit.
const noStamp = "this zbench binary carries no commit (build it with make build or make install, or -ldflags \"-X zbench/report.Commit=...\")"

// commit implements DetectCommit.
func (p probe) commit() CommitStamp {
	if bi, ok := p.buildInfo(); ok && bi != nil {
		var rev string
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" {
			return CommitStamp{Commit: rev, Dirty: modified, Source: CommitFromBuildInfo}
		}
	}
	if isHex(p.ldCommit) {
		return CommitStamp{Commit: p.ldCommit, Dirty: p.ldDirty == "true", Source: CommitFromLdflags}
	}
	dir := "the current directory"
	if p.workDir != nil {
		if d, err := p.workDir(); err == nil {
			dir = d
		}
	}
	if rev, dirty, ok := p.gitCommit(); ok {
		return CommitStamp{Commit: rev, Dirty: dirty, Source: CommitFromGit,
			Note: noStamp + "; the commit is that of the zbench git tree in " + dir + ", where it ran"}
	}
	return CommitStamp{Commit: Unknown, Source: CommitFromNowhere,
		Note: noStamp + ", and " + dir + " is not in a zbench git tree: the commit is unknown"}
}

// gitCommit asks git, but only inside a zbench source tree: a commit of some
// other repository the command happens to run in would be a guess.
func (p probe) gitCommit() (rev string, dirty bool, ok bool) {
	top, err := p.git("rev-parse", "--show-toplevel")
	if err != nil || top == "" {
		return "", false, false
	}
	gomod, err := p.readFile(filepath.Join(top, "go.mod"))
	if err != nil || modulePath(gomod) != "zbench" {
		return "", false, false
	}
	rev, err = p.git("rev-parse", "HEAD")
	if err != nil || !isHex(rev) {
		return "", false, false
	}
	status, err := p.git("status", "--porcelain")
	if err != nil {
		return "", false, false
	}
	return rev, status != "", true
}

func isHex(s string) bool {
	if len(s) < 7 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// modulePath returns the module path declared by a go.mod file.
func modulePath(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

func runGit(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", args...).Output()
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// governor reads the cpufreq scaling governor of each CPU in cpus (all CPUs
// found under sysCPURoot when cpus is empty).
func (p probe) governor(cpus []int) string {
	return host.Governor(p.sysCPURoot, cpus, p.readFile)
}

// WriteEnv writes the environment stamp for people: one "key: value" line
// per field, values aligned.
func WriteEnv(w io.Writer, e Env) error {
	mem := Unknown
	if e.MemTotalBytes > 0 {
		mem = sig3(float64(e.MemTotalBytes)/(1<<30)) + " GiB"
	}
	rows := [][2]string{
		{"time", e.Time.UTC().Format(time.RFC3339)},
		{"hostname", e.Hostname},
		{"os/arch", e.OS + "/" + e.Arch},
		{"kernel", e.Kernel},
		{"cpu", e.CPUModel},
		{"logical cores", strconv.Itoa(e.LogicalCores)},
		{"affinity", e.Affinity},
		{"governor", e.Governor},
		{"go", e.GoVersion},
		{"gomaxprocs", strconv.Itoa(e.GOMAXPROCS)},
		{"memory", mem},
		{"zbench version", e.Version},
		{"commit", e.Commit},
		{"dirty", strconv.FormatBool(e.Dirty)},
		{"commit source", e.CommitSource},
		{"network", nicsText(e.NICs)},
	}
	if e.CommitNote != "" {
		rows = append(rows, [2]string{"commit note", e.CommitNote})
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r[0]))
	}
	bw := bufio.NewWriter(w)
	for _, r := range rows {
		fmt.Fprintf(bw, "%-*s %s\n", width+1, r[0]+":", r[1])
	}
	return bw.Flush()
}
