package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"zbench/report"
	"zbench/runner/sample"
)

const abScenario = `default_profile: t
defaults: {runs: 2, warmup_messages: 20, throughput_messages: 300, latency_round_trips: 30, timeout: 10s}
profiles:
  t:
    protocol: [tcp, ipc]
    size: [32]
`

// gitT runs git in dir for a test, with a fixed identity.
func gitT(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=zbench test", "-c", "user.email=test@zbench.invalid",
		"-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// newRepo makes a git repository whose commits set files (path → content),
// one commit per map, and returns its directory and the commit hashes.
func newRepo(t *testing.T, commits ...map[string]string) (string, []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	dir := t.TempDir()
	gitT(t, dir, "init", "-q")
	var hashes []string
	for i, files := range commits {
		writeFiles(t, dir, files)
		gitT(t, dir, "add", "-A")
		gitT(t, dir, "commit", "-q", "-m", fmt.Sprintf("commit %d", i+1))
		hashes = append(hashes, gitT(t, dir, "rev-parse", "HEAD"))
	}
	return dir, hashes
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// worktrees counts the repository's worktrees, the main one included.
func worktrees(t *testing.T, repo string) int {
	return strings.Count(gitT(t, repo, "worktree", "list", "--porcelain"), "worktree ")
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) > 0 {
		t.Errorf("%s not cleaned up: %v", dir, entries)
	}
}

// abFake records what ab asked its build and run steps to do and answers
// with synthetic results: the head side's throughput is headRate times the
// base side's.
type abFake struct {
	mu       sync.Mutex
	headRate float64
	builds   map[string]string // side → source tree
	marker   map[string]string // side → marker.txt in its source tree
	calls    []string          // "base-1", "head-1", ...
	args     [][]string
	dirs     map[string]string // side → the directory its runs ran in
	// onRun, if set, runs at the start of every run call (1-based index).
	onRun   func(call int) error
	failFor string // side whose build fails
}

func (f *abFake) build(ctx context.Context, src, bin, tags, version string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	side := filepath.Base(filepath.Dir(bin))
	if f.builds == nil {
		f.builds, f.marker = map[string]string{}, map[string]string{}
	}
	f.builds[side] = src
	m, _ := os.ReadFile(filepath.Join(src, "marker.txt"))
	f.marker[side] = string(m)
	if side == f.failFor {
		return errors.New("go build: ./main.go:3:1: syntax error: non-declaration statement outside function body")
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return err
	}
	return os.WriteFile(bin, []byte("fake"), 0o755)
}

func (f *abFake) run(ctx context.Context, bin, dir string, args []string) (*report.Result, error) {
	f.mu.Lock()
	side := filepath.Base(filepath.Dir(bin))
	call := len(f.calls) + 1
	n := 1 + len(slices.DeleteFunc(slices.Clone(f.calls), func(c string) bool { return !strings.HasPrefix(c, side+"-") }))
	f.calls = append(f.calls, fmt.Sprintf("%s-%d", side, n))
	f.args = append(f.args, args)
	if f.dirs == nil {
		f.dirs = map[string]string{}
	}
	f.dirs[side] = dir
	onRun := f.onRun
	f.mu.Unlock()
	if onRun != nil {
		if err := onRun(call); err != nil {
			return nil, err
		}
	}
	rate := 1e6
	if side == "head" {
		rate *= f.headRate
	}
	// A --runs 1 result as `zbench run` writes it: run 1 of every cell.
	r := synthResult(rate*(1+0.001*float64(call)), 1, 0)
	r.Env.Hostname = side
	return r, nil
}

// abCmd runs `zbench ab args...` in repo with the fake's steps.
func abCmd(t *testing.T, ctx context.Context, repo, tmp string, f *abFake, args ...string) (int, string, string) {
	t.Helper()
	cmd := newAbCmdWith(func(ctx context.Context, o *abOptions) error {
		o.dir, o.tempDir = repo, tmp
		if f != nil {
			o.build, o.runOnce = f.build, f.run
		}
		return runAB(ctx, o)
	})
	var stdout, stderr bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		stderr.WriteString("zbench: " + err.Error() + "\n")
	}
	return exitCode(err), stdout.String(), stderr.String()
}

func TestABInterleavesAndWrites(t *testing.T) {
	repo, commits := newRepo(t, map[string]string{"marker.txt": "v1"}, map[string]string{"marker.txt": "v2"})
	writeFiles(t, repo, map[string]string{"marker.txt": "v3 uncommitted"})
	scen := writeFile(t, "s.yaml", abScenario)
	tmp := t.TempDir()
	out := filepath.Join(t.TempDir(), "ab")
	f := &abFake{headRate: 1.2}

	code, stdout, stderr := abCmd(t, context.Background(), repo, tmp, f,
		"--base", "HEAD~1", "--scenarios", scen, "--runs", "6", "--out", out, "--filter", "protocol=tcp", "--cpus", "0")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}

	// Base from a worktree of its commit, head from the working tree as it is.
	if f.marker["base"] != "v1" || f.marker["head"] != "v3 uncommitted" || f.builds["head"] != repo {
		t.Errorf("built base from %s (%q), head from %s (%q)", f.builds["base"], f.marker["base"], f.builds["head"], f.marker["head"])
	}
	if f.dirs["base"] != f.builds["base"] || f.dirs["head"] != repo {
		t.Errorf("ran base in %s, head in %s: each binary should run in its own tree", f.dirs["base"], f.dirs["head"])
	}
	want := []string{"base-1", "head-1", "head-2", "base-2", "base-3", "head-3", "head-4", "base-4", "base-5", "head-5", "head-6", "base-6"}
	if !slices.Equal(f.calls, want) {
		t.Errorf("run order %v, want %v", f.calls, want)
	}
	args := strings.Join(f.args[0], " ")
	for _, a := range []string{"run --scenarios " + scen + " --profile t --runs 1", "--filter protocol=tcp", "--cpus 0", "--out " + tmp} {
		if !strings.Contains(args, a) {
			t.Errorf("child args %q lack %q", args, a)
		}
	}

	// Worktrees and the temporary directory are gone.
	if n := worktrees(t, repo); n != 1 {
		t.Errorf("%d worktrees left, want only the main one", n)
	}
	assertEmptyDir(t, tmp)

	baseLabel, headLabel := commits[0][:7], commits[1][:7]+"-dirty"
	for side, label := range map[string]string{"base": baseLabel, "head": headLabel} {
		r, err := report.ReadResult(filepath.Join(out, side+"-"+label))
		if err != nil {
			t.Fatal(err)
		}
		runs := map[int]int{}
		for _, s := range r.Samples {
			runs[s.Run]++
		}
		if len(r.Samples) != 12 || len(runs) != 6 || runs[1] != 2 || runs[6] != 2 || r.Invocation.Runs != 6 || r.Env.Hostname != side {
			t.Errorf("%s: %d samples over runs %v, invocation runs %d, env of %s", side, len(r.Samples), runs, r.Invocation.Runs, r.Env.Hostname)
		}
		if r.Invocation.Incomplete {
			t.Errorf("%s marked incomplete: %v", side, r.Invocation.IncompleteReasons)
		}
	}
	for _, name := range []string{report.CompareMarkdownFile, report.CompareJSONFile, report.CompareTextFile} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Error(err)
		}
	}
	txt, _ := os.ReadFile(filepath.Join(out, report.CompareTextFile))
	if !strings.HasPrefix(stdout, string(txt)) || !strings.Contains(stdout, "results: "+out) {
		t.Errorf("stdout is not the comparison and the directory:\n%s", stdout)
	}
	if !strings.Contains(stdout, "old: base "+baseLabel) || !strings.Contains(stdout, "+20.") || !strings.Contains(lineWith(stdout, "tcp"), "better") {
		t.Errorf("comparison does not show the +20%% throughput as better:\n%s", stdout)
	}
}

func lineWith(text, sub string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func TestABGate(t *testing.T) {
	repo, _ := newRepo(t, map[string]string{"marker.txt": "v1"}, map[string]string{"marker.txt": "v2"})
	scen := writeFile(t, "s.yaml", abScenario)
	for _, c := range []struct {
		rate float64
		code int
	}{{0.8, exitFailed}, {1.0, exitOK}, {1.2, exitOK}} {
		t.Run(fmt.Sprint(c.rate), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "ab")
			code, stdout, stderr := abCmd(t, context.Background(), repo, t.TempDir(), &abFake{headRate: c.rate},
				"--base", "HEAD~1", "--head", "HEAD", "--scenarios", scen, "--runs", "6", "--out", out, "--fail-on", "msgs_per_sec:-5%")
			if code != c.code {
				t.Fatalf("head at %gx: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", c.rate, code, c.code, stdout, stderr)
			}
			if c.code == exitFailed && (!strings.Contains(stderr, "regression gate tripped") || !strings.Contains(stdout, "msgs_per_sec -20.")) {
				t.Errorf("tripped gate not explained:\nstdout:\n%s\nstderr:\n%s", stdout, stderr)
			}
			md, err := os.ReadFile(filepath.Join(out, report.CompareMarkdownFile))
			if err != nil || !strings.Contains(string(md), "**Gate ") {
				t.Errorf("compare.md has no gate (%v)", err)
			}
		})
	}
}

func TestABInterrupted(t *testing.T) {
	repo, _ := newRepo(t, map[string]string{"marker.txt": "v1"}, map[string]string{"marker.txt": "v2"})
	scen := writeFile(t, "s.yaml", abScenario)
	tmp := t.TempDir()
	out := filepath.Join(t.TempDir(), "ab")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := &abFake{headRate: 1, onRun: func(call int) error {
		if call == 3 { // Ctrl-C during head's second run
			cancel()
			return context.Canceled
		}
		return nil
	}}
	code, stdout, stderr := abCmd(t, ctx, repo, tmp, f, "--base", "HEAD~1", "--head", "HEAD", "--scenarios", scen, "--runs", "6", "--out", out)
	if code != exitFailed || !strings.Contains(stderr, "interrupted: 1 of 6 runs per side finished") {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if n := worktrees(t, repo); n != 1 {
		t.Errorf("%d worktrees left after an interrupt", n)
	}
	assertEmptyDir(t, tmp)
	entries, _ := os.ReadDir(out)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		if strings.HasPrefix(e.Name(), "base-") {
			r, err := report.ReadResult(filepath.Join(out, e.Name()))
			if err != nil || !r.Invocation.Incomplete || len(r.Samples) != 2 {
				t.Errorf("partial base result: %v", err)
			}
		}
	}
	if len(names) != 5 {
		t.Errorf("out has %v, want both result sets and the three comparison files", names)
	}

	// Interrupted before both sides ran: nothing written, nothing left.
	out2 := filepath.Join(t.TempDir(), "ab")
	f = &abFake{headRate: 1}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	f.onRun = func(call int) error { cancel2(); return context.Canceled }
	code, _, stderr = abCmd(t, ctx2, repo, tmp, f, "--base", "HEAD~1", "--head", "HEAD", "--scenarios", scen, "--runs", "6", "--out", out2)
	if code != exitFailed || !strings.Contains(stderr, "nothing written") {
		t.Errorf("exit %d, stderr %s", code, stderr)
	}
	if _, err := os.Stat(out2); !os.IsNotExist(err) {
		t.Errorf("empty --out left behind: %v", err)
	}
	if n := worktrees(t, repo); n != 1 {
		t.Errorf("%d worktrees left", n)
	}
	assertEmptyDir(t, tmp)
}

func TestABErrors(t *testing.T) {
	repo, _ := newRepo(t, map[string]string{"marker.txt": "v1"}, map[string]string{"marker.txt": "v2"})
	scen := writeFile(t, "s.yaml", abScenario)
	full := t.TempDir()
	writeFiles(t, full, map[string]string{"x": "taken"})

	cases := []struct {
		name    string
		repo    string
		fake    *abFake
		args    []string
		code    int
		stderr  string
		wantOut bool
	}{
		{"not a git checkout", t.TempDir(), &abFake{}, []string{"--base", "HEAD"}, exitBadInput, "is not inside a git checkout", false},
		{"unknown base", repo, &abFake{}, []string{"--base", "no-such-rev"}, exitBadInput, `--base "no-such-rev": unknown revision`, false},
		{"unknown head", repo, &abFake{}, []string{"--base", "HEAD", "--head", "v9"}, exitBadInput, `--head "v9": unknown revision`, false},
		{"no base", repo, &abFake{}, nil, exitBadInput, "--base is required", false},
		{"option-like revision", repo, &abFake{}, []string{"--base=--all"}, exitBadInput, "allowed: a git revision", false},
		{"base does not build", repo, &abFake{failFor: "base"}, []string{"--base", "HEAD~1"}, exitFailed,
			"does not build: go build: ./main.go:3:1: syntax error", false},
		{"out not empty", repo, &abFake{}, []string{"--base", "HEAD", "--out", full}, exitBadInput, "exists and is not an empty directory", true},
		{"bad threshold", repo, &abFake{}, []string{"--base", "HEAD", "--fail-on", "rtt_p99_ns:-5%"}, exitBadInput, "the regression is rtt_p99_ns:+5%", false},
		{"bad run flag", repo, &abFake{}, []string{"--base", "HEAD", "--runs", "0"}, exitBadInput, "--runs 0", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			args := append([]string{"--scenarios", scen}, c.args...)
			out := filepath.Join(t.TempDir(), "ab")
			if !c.wantOut {
				args = append(args, "--out", out)
			}
			code, stdout, stderr := abCmd(t, context.Background(), c.repo, tmp, c.fake, args...)
			if code != c.code || !strings.Contains(stderr, c.stderr) {
				t.Fatalf("exit %d, want %d with %q\nstdout:\n%s\nstderr:\n%s", code, c.code, c.stderr, stdout, stderr)
			}
			if len(c.fake.calls) > 0 {
				t.Errorf("ran %v despite the error", c.fake.calls)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("--out created: %v", err)
			}
			if c.repo == repo {
				if n := worktrees(t, repo); n != 1 {
					t.Errorf("%d worktrees left", n)
				}
			}
			assertEmptyDir(t, tmp)
		})
	}
}

// fakeZbench is the main package of a stand-in zbench: `run` writes a
// results set of one cell and one ok run whose throughput is rate (with a
// little jitter), like `zbench run --runs 1 --out DIR` does.
const fakeZbench = `package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

const rate = %s

func main() {
	args := os.Args[1:]
	i := slices.Index(args, "--out")
	if len(args) == 0 || args[0] != "run" || i < 0 || i+1 >= len(args) || !slices.Contains(args, "--scenarios") {
		fmt.Fprintln(os.Stderr, "usage: zbench run --scenarios FILE --runs 1 --out DIR")
		os.Exit(2)
	}
	if j := slices.Index(args, "--runs"); j < 0 || args[j+1] != "1" {
		fmt.Fprintln(os.Stderr, "want --runs 1")
		os.Exit(2)
	}
	out := args[i+1]
	cwd, _ := os.Getwd()
	v := rate * (1 + float64(os.Getpid()%%7)/1000)
	id := "engine=zbench/pattern=pair/protocol=tcp/size=32/out_batch_size=8192/write_batching=true/sockets=1"
	doc := fmt.Sprintf(` + "`" + `{"schema_version": 1, "invocation": {"profile": "t", "runs": 1}, "env": {"hostname": %%q, "commit": "unknown"},
"cells": [{"id": %%q, "engine": "zbench", "pattern": "pair", "protocol": "tcp", "size": 32, "out_batch_size": 8192, "write_batching": true, "sockets": 1, "status": "ok"}],
"samples": [{"cell": %%q, "run": 1, "status": "ok", "throughput": {"messages": 1000, "seconds": 1, "msgs_per_sec": %%g}}]}` + "`" + `, cwd, id, id, v)
	dir := filepath.Join(out, "r")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "results.json"), []byte(doc), 0o644); err != nil {
		panic(err)
	}
	if err := os.Symlink("r", filepath.Join(out, "latest")); err != nil {
		panic(err)
	}
}
`

// TestABBuildsRevisions runs the real flow on a tiny module whose zbench is
// a stand-in: worktrees, go build of each revision, the child runs, and a
// revision that does not build.
func TestABBuildsRevisions(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two small binaries")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go not installed")
	}
	gomod := "module zbench\n\ngo 1.22\n"
	repo, commits := newRepo(t,
		map[string]string{"go.mod": gomod, "cmd/zbench/main.go": fmt.Sprintf(fakeZbench, "1000.0")},
		map[string]string{"cmd/zbench/main.go": fmt.Sprintf(fakeZbench, "2000.0")},
		map[string]string{"cmd/zbench/main.go": "package main\n\nfunc main() { undefinedCall() }\n"},
	)
	scen := writeFile(t, "s.yaml", abScenario)
	tmp := t.TempDir()
	out := filepath.Join(t.TempDir(), "ab")

	code, stdout, stderr := abCmd(t, context.Background(), repo, tmp, nil,
		"--base", "HEAD~2", "--head", "HEAD~1", "--scenarios", scen, "--runs", "4", "--out", out, "--metrics", "msgs_per_sec")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if l := lineWith(stdout, "tcp"); !strings.Contains(l, "better") || !strings.Contains(l, "4+4") {
		t.Errorf("doubled throughput not judged better on 4+4 runs:\n%s", stdout)
	}
	r, err := report.ReadResult(filepath.Join(out, "base-"+commits[0][:7]))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Samples) != 4 || r.Samples[0].Status != sample.StatusOK || !strings.HasSuffix(r.Env.Hostname, "base-src") {
		t.Errorf("base: %d samples, ran in %s", len(r.Samples), r.Env.Hostname)
	}
	if n := worktrees(t, repo); n != 1 {
		t.Errorf("%d worktrees left", n)
	}
	assertEmptyDir(t, tmp)

	code, stdout, stderr = abCmd(t, context.Background(), repo, tmp, nil,
		"--base", "HEAD", "--head", "HEAD~1", "--scenarios", scen, "--runs", "4", "--out", filepath.Join(t.TempDir(), "ab"))
	if code != exitFailed || !strings.Contains(stderr, "base "+commits[2][:7]+" does not build") || !strings.Contains(stderr, "undefinedCall") {
		t.Errorf("exit %d, want 1 with the build output\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if n := worktrees(t, repo); n != 1 {
		t.Errorf("%d worktrees left after a failed build", n)
	}
	assertEmptyDir(t, tmp)
}
