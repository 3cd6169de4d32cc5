package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"zbench/matrix"
	"zbench/report"
	"zbench/runner"
	"zbench/runner/sample"
)

// calibrateScenario has two cells of one profile.
const calibrateScenario = `default_profile: two
defaults: {runs: 3, warmup_messages: 20, throughput_messages: 300, latency_round_trips: 30, timeout: 10s}
profiles:
  two:
    engine: [zmq4]
    protocol: [tcp, ipc]
    size: [64]
`

// fakeRunCells stands in for runner.Run: run r of every cell delivers
// 1e6·(1 + r/1000) msg/s, so the run a sample came from can be read back
// from its figures. It records the options it was given.
type fakeRunCells struct {
	opts        runner.Options
	calls       int
	interruptAt int // stop (Incomplete) before this run index; 0 = never
}

func (f *fakeRunCells) run(ctx context.Context, cells []matrix.Cell, o runner.Options) (runner.Result, error) {
	f.calls++
	f.opts = o
	res := runner.Result{Affinity: "0-1"}
	for r := 1; r <= o.Runs; r++ {
		if r == f.interruptAt {
			res.Incomplete = true
			return res, nil
		}
		for _, c := range cells {
			v := 1e6 * (1 + float64(r)/1000)
			res.Samples = append(res.Samples, sample.Sample{
				Cell: c.ID(), Run: r, Status: sample.StatusOK, Processes: c.Processes,
				Throughput: sample.Throughput{Messages: 100000, Seconds: 100000 / v, MsgsPerSec: v},
				Latency:    sample.Latency{RoundTrips: 1000, RTTP50Ns: int64(2e10 / v), RTTP99Ns: int64(6e10 / v)},
				Resources:  sample.Resources{UserCPUNs: 6e8, SysCPUNs: 3e8, CPUNsPerMsg: 9e8 / 110000, PeakRSSBytes: 12 << 20},
				Engine:     sample.Telemetry{Available: true, MsgsPerWrite: 10},
			})
		}
	}
	return res, nil
}

// calibrateCmd runs `zbench calibrate args...` with f in place of the
// runner and a fixed clock and environment.
func calibrateCmd(t *testing.T, f *fakeRunCells, args ...string) (int, string, string) {
	t.Helper()
	cmd := newCalibrateCmdWith(func(ctx context.Context, o *calibrateOptions) error {
		if f != nil {
			o.runCells = f.run
		}
		o.now = func() time.Time { return time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC) }
		o.env = func() report.Env {
			return report.Env{CPUModel: "test CPU", GoVersion: "go1.26.8", Kernel: "Linux 6.8", GOMAXPROCS: 2,
				Affinity: "0-1", Commit: "0123456789abcdef0123456789abcdef01234567"}
		}
		return runCalibrate(ctx, o)
	})
	var stdout, stderr bytes.Buffer
	cmd.SetArgs(args)
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	err := cmd.ExecuteContext(context.Background())
	if err != nil {
		stderr.WriteString("zbench: " + err.Error() + "\n")
	}
	return exitCode(err), stdout.String(), stderr.String()
}

func TestAASideOrder(t *testing.T) {
	// A B, B A, A B, B A: runs 1..8.
	var got []string
	for r := 1; r <= 8; r++ {
		b, i := aaSide(r)
		side := "A"
		if b {
			side = "B"
		}
		got = append(got, side+string(rune('0'+i)))
	}
	if want := []string{"A1", "B1", "B2", "A2", "A3", "B3", "B4", "A4"}; !slices.Equal(got, want) {
		t.Errorf("order %v, want %v", got, want)
	}
}

func TestCalibrateWritesFloor(t *testing.T) {
	scen := writeFile(t, "s.yaml", calibrateScenario)
	out := filepath.Join(t.TempDir(), "results")
	f := &fakeRunCells{}
	code, stdout, stderr := calibrateCmd(t, f, "--scenarios", scen, "--runs", "6", "--out", out, "--cpus", "0")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if f.opts.Runs != 12 || f.opts.CPUs.IsZero() {
		t.Errorf("runner options %+v, want 12 runs (6 per side), pinned", f.opts)
	}
	dir := filepath.Join(out, "20260314T090000Z-calibrate-0123456")
	for _, name := range []string{report.NoiseFloorFile, report.CalibrationSummary, report.CompareTextFile, report.CompareJSONFile,
		report.CompareMarkdownFile, "a/results.json", "b/results.json", "a/benchmark_result.txt", "b/BENCHMARK_RESULTS.md"} {
		if fi, err := os.Stat(filepath.Join(dir, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	if !strings.Contains(stderr, "warning: 6 runs per side") {
		t.Errorf("no warning about few runs:\n%s", stderr)
	}
	for _, want := range []string{"msgs_per_sec", "A/A comparison (B against A", "compare with: zbench compare OLD NEW --noise-floor " + dir} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}

	// The two sides got the runs in A B, B A order, renumbered 1..6.
	for side, wantFirst := range map[string][]int{"a": {1, 4, 5, 8, 9, 12}, "b": {2, 3, 6, 7, 10, 11}} {
		r, err := report.ReadResult(filepath.Join(dir, side))
		if err != nil {
			t.Fatal(err)
		}
		if r.Invocation.Runs != 6 || len(r.Cells) != 2 || len(r.Samples) != 12 {
			t.Fatalf("side %s: runs %d, %d cells, %d samples", side, r.Invocation.Runs, len(r.Cells), len(r.Samples))
		}
		var from []int
		for _, s := range r.Samples {
			if s.Cell != r.Cells[0].ID {
				continue
			}
			orig := int((s.Throughput.MsgsPerSec/1e6-1)*1000 + 0.5)
			from = append(from, orig)
			if want := (orig + 1) / 2; s.Run != want {
				t.Errorf("side %s: run %d renumbered %d, want %d", side, orig, s.Run, want)
			}
		}
		if !slices.Equal(from, wantFirst) {
			t.Errorf("side %s has runs %v, want %v", side, from, wantFirst)
		}
	}

	nf, err := report.ReadNoiseFloor(dir)
	if err != nil {
		t.Fatal(err)
	}
	if nf.Runs != 6 || len(nf.Cells) != 2 || nf.Env.CPUModel != "test CPU" {
		t.Errorf("noise floor: runs %d, %d cells, env %+v", nf.Runs, len(nf.Cells), nf.Env)
	}
	if f, ok := nf.Floor(nf.Cells[0].ID, report.MetricMsgsPerSec); !ok || f <= 0 || f > 1 {
		t.Errorf("msgs_per_sec floor %g %v; the fake's runs are 0.1 %% apart", f, ok)
	}

	// compare takes the directory as its noise floor.
	old := writeResult(t, synthResult(1e6, 6, 0))
	code, stdout, stderr = zbench("compare", old, writeResult(t, synthResult(1e6, 6, 1)), "--noise-floor", dir)
	if code != exitOK || !strings.Contains(stdout, "noise floor: "+filepath.Join(dir, report.NoiseFloorFile)) {
		t.Errorf("compare --noise-floor: exit %d\n%s\n%s", code, stdout, stderr)
	}
}

func TestCalibrateBadInput(t *testing.T) {
	scen := writeFile(t, "s.yaml", calibrateScenario)
	file := writeFile(t, "plain", "not a directory")
	for _, c := range []struct {
		name string
		args []string
		says string
	}{
		{"one run", []string{"--scenarios", scen, "--runs", "1"}, "a noise floor needs at least 2; allowed: --runs >= 2"},
		{"profile's runs too few", []string{"--scenarios", writeFile(t, "one.yaml", strings.Replace(calibrateScenario, "runs: 3", "runs: 1", 1))}, "--runs >= 2"},
		{"out under a file", []string{"--scenarios", scen, "--runs", "4", "--out", filepath.Join(file, "results")}, "--out:"},
		{"unknown profile", []string{"--scenarios", scen, "--profile", "nope"}, "nope"},
		{"argument", []string{"--scenarios", scen, "extra"}, "unknown command"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeRunCells{}
			code, _, stderr := calibrateCmd(t, f, c.args...)
			if code != exitBadInput || !strings.Contains(stderr, c.says) {
				t.Errorf("exit %d, stderr %q; want 2 saying %q", code, stderr, c.says)
			}
			if f.calls != 0 {
				t.Error("ran something on bad input")
			}
		})
	}
}

func TestCalibrateInterrupted(t *testing.T) {
	scen := writeFile(t, "s.yaml", calibrateScenario)
	out := filepath.Join(t.TempDir(), "results")
	code, _, stderr := calibrateCmd(t, &fakeRunCells{interruptAt: 7}, "--scenarios", scen, "--runs", "6", "--out", out)
	if code != exitFailed || !strings.Contains(stderr, "interrupted after 12 of 24 runs") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	dirs, _ := os.ReadDir(out)
	if len(dirs) != 1 {
		t.Fatalf("%d directories under --out", len(dirs))
	}
	r, err := report.ReadResult(filepath.Join(out, dirs[0].Name(), "a"))
	if err != nil || !r.Invocation.Incomplete {
		t.Fatalf("side a after an interrupt: %v, incomplete %v", err, r != nil && r.Invocation.Incomplete)
	}
	bench, _ := os.ReadFile(filepath.Join(out, dirs[0].Name(), "a", report.BenchmarkFile))
	if !strings.Contains(string(bench), "\nincomplete: true\nincomplete-reason: interrupted\n") {
		t.Errorf("benchmark_result.txt does not say it is incomplete:\n%s", bench)
	}

	// Interrupted before both sides ran: nothing written, no directory left.
	out = filepath.Join(t.TempDir(), "results")
	code, _, stderr = calibrateCmd(t, &fakeRunCells{interruptAt: 2}, "--scenarios", scen, "--runs", "6", "--out", out)
	if code != exitFailed || !strings.Contains(stderr, "nothing written") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if dirs, _ := os.ReadDir(out); len(dirs) != 0 {
		t.Errorf("left %v", dirs)
	}
}

// One real A/A of one small cell, with this test binary as the worker.
func TestCalibrateEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns workers")
	}
	scen := writeFile(t, "s.yaml", runScenario)
	out := filepath.Join(t.TempDir(), "results")
	cmd := newCalibrateCmdWith(func(ctx context.Context, o *calibrateOptions) error {
		o.run.executable = os.Args[0]
		o.run.workerArgs = []string{"worker"}
		o.run.workerEnv = []string{asZbenchEnv + "=1"}
		return runCalibrate(ctx, o)
	})
	var stdout, stderr bytes.Buffer
	cmd.SetArgs([]string{"--scenarios", scen, "--out", out, "--filter", "engine=zmq4,protocol=tcp,pattern=pair", "--runs", "2"})
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	dirs, _ := os.ReadDir(out)
	if len(dirs) != 1 {
		t.Fatalf("%d directories under --out", len(dirs))
	}
	data, err := os.ReadFile(filepath.Join(out, dirs[0].Name(), report.NoiseFloorFile))
	if err != nil {
		t.Fatal(err)
	}
	var nf struct {
		Runs  int `json:"runs"`
		Cells []struct {
			Metrics map[string]json.RawMessage `json:"metrics"`
		} `json:"cells"`
	}
	if err := json.Unmarshal(data, &nf); err != nil {
		t.Fatal(err)
	}
	if nf.Runs != 2 || len(nf.Cells) != 1 || nf.Cells[0].Metrics[report.MetricRTTP50] == nil {
		t.Errorf("noise floor %s", data)
	}
}
