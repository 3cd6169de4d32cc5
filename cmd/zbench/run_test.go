package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/sample"
)

// asZbenchEnv makes the test binary behave as the zbench binary, so that
// `zbench run` can spawn it as its worker.
const asZbenchEnv = "ZBENCH_TEST_AS_ZBENCH"

func TestMain(m *testing.M) {
	if os.Getenv(asZbenchEnv) == "1" {
		os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runScenario is a scenario small enough to run for real in a test.
const runScenario = `default_profile: tiny
defaults: {runs: 2, warmup_messages: 20, throughput_messages: 300, latency_round_trips: 30, timeout: 10s}
profiles:
  tiny:
    engine: [zmq4, zbench, libzmq]
    pattern: [pair, pub-sub]
    protocol: [tcp, ipc]
    size: [64]
  hung:
    engine: [zmq4]
    protocol: [tcp]
    size: [64]
    runs: 1
    timeout: 1ms
  long:
    engine: [zmq4]
    protocol: [tcp]
    size: [64]
    runs: 500
`

// runWithTestWorkers runs `zbench run args...` in-process with this test
// binary as the worker executable, under ctx.
func runWithTestWorkers(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	cmd := newRunCmdWith(func(ctx context.Context, o *runOptions) error {
		o.executable = os.Args[0]
		o.workerArgs = []string{"worker"}
		o.workerEnv = []string{asZbenchEnv + "=1"}
		return runRun(ctx, o)
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

// readResults reads results.json of the newest results directory under out.
func readResults(t *testing.T, out string) (dir string, res struct {
	Invocation struct {
		Profile    string `json:"profile"`
		Runs       int    `json:"runs"`
		Incomplete bool   `json:"incomplete"`
	} `json:"invocation"`
	Samples []sample.Sample `json:"samples"`
}) {
	t.Helper()
	dir, err := filepath.EvalSymlinks(filepath.Join(out, "latest"))
	if err != nil {
		t.Fatalf("no results directory: %v", err)
	}
	for _, f := range []string{"results.json", "benchmark_result.txt", "BENCHMARK_RESULTS.md"} {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	return dir, res
}

func TestRunEndToEnd(t *testing.T) {
	scen := writeFile(t, "s.yaml", runScenario)
	out := filepath.Join(t.TempDir(), "results")
	code, stdout, stderr := runWithTestWorkers(t, context.Background(),
		"--scenarios", scen, "--out", out, "--filter", "engine=zmq4,engine=libzmq", "--runs", "1")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	dir, res := readResults(t, out)
	if res.Invocation.Profile != "tiny" || res.Invocation.Runs != 1 || res.Invocation.Incomplete {
		t.Errorf("invocation %+v", res.Invocation)
	}
	if len(res.Samples) != 8 {
		t.Fatalf("%d samples, want 8 (2 engines x 2 patterns x 2 protocols x 1 run)", len(res.Samples))
	}
	ok := 0
	for _, s := range res.Samples {
		switch {
		case strings.Contains(s.Cell, "engine=libzmq"):
			if s.Status != sample.StatusUnsupported || s.Error != "not built with libzmq" {
				t.Errorf("%s: %s %q, want unsupported", s.Cell, s.Status, s.Error)
			}
		case s.Status == sample.StatusOK:
			ok++
			if s.Throughput.Messages == 0 || s.Latency.RoundTrips != 30 || s.Resources.PeakRSSBytes == 0 || s.HarnessOverheadNs <= 0 {
				t.Errorf("%s: sample not filled: %+v", s.Cell, s)
			}
		default:
			t.Errorf("%s: %s: %s\n%s", s.Cell, s.Status, s.Error, s.Stderr)
		}
	}
	if ok != 4 {
		t.Errorf("%d ok runs, want 4", ok)
	}
	if !strings.Contains(stdout, "results: "+filepath.Join(out, filepath.Base(dir))) || !strings.Contains(stdout, "msg/s") {
		t.Errorf("stdout lacks the summary or the results path:\n%s", stdout)
	}
	progress := 0
	for _, line := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(line, "[") {
			progress++
		}
	}
	if progress != 8 || !strings.HasPrefix(stderr, "zbench: 8 of 12 cells x 1 runs = 8 worker runs (profile tiny of "+scen) {
		t.Errorf("stderr has %d progress lines, want 8 after the count line:\n%s", progress, stderr)
	}
}

// The embedded engine over tcp and ipc, end to end through real workers.
func TestRunEndToEndZbench(t *testing.T) {
	scen := writeFile(t, "s.yaml", runScenario)
	out := filepath.Join(t.TempDir(), "results")
	code, stdout, stderr := runWithTestWorkers(t, context.Background(),
		"--scenarios", scen, "--out", out, "--engine", "zbench", "--runs", "1")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	_, res := readResults(t, out)
	if len(res.Samples) != 4 {
		t.Fatalf("%d samples, want 4", len(res.Samples))
	}
	for _, s := range res.Samples {
		if s.Status != sample.StatusOK || !s.Engine.Available || s.Engine.MsgsOut == 0 {
			t.Errorf("%s: %s %s, telemetry %+v", s.Cell, s.Status, s.Error, s.Engine)
		}
	}
}

// The ci profile of the real scenarios.yaml, at out_batch_size 1: every
// message is its own write, and no cell reports a rate its writes could not
// carry (the rate is timed from the sender's first send, so a drain of the
// socket buffers cannot pass for throughput).
func TestRunCIProfileRatesBoundedByWrites(t *testing.T) {
	out := filepath.Join(t.TempDir(), "results")
	code, stdout, stderr := runWithTestWorkers(t, context.Background(),
		"--scenarios", "../../scenarios.yaml", "--profile", "ci", "--filter", "out_batch_size=1", "--out", out)
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if strings.Contains(stderr, "warning:") {
		t.Errorf("the ci profile warns:\n%s", stderr)
	}
	_, res := readResults(t, out)
	if len(res.Samples) != 6 {
		t.Fatalf("%d samples, want 6 (3 protocols x 2 sizes)", len(res.Samples))
	}
	for _, s := range res.Samples {
		if s.Status != sample.StatusOK || s.Processes != 2 || len(s.Sides) != 2 {
			t.Fatalf("%s: %s %s, %d processes", s.Cell, s.Status, s.Error, s.Processes)
		}
		tx := s.Sides[0].Throughput.Telemetry
		if !tx.Available || tx.MsgsPerWrite < 0.99 || tx.MsgsPerWrite > 1.01 {
			t.Errorf("%s: sender msgs/write %v, want 1 (out_batch_size 1)", s.Cell, tx.MsgsPerWrite)
		}
		tp := s.Throughput
		if tp.Problem != "" || tp.MsgsPerSec <= 0 || tp.SendSeconds <= 0 {
			t.Fatalf("%s: throughput %+v, want a rate", s.Cell, tp)
		}
		if bound := float64(tx.Writes) / tp.SendSeconds; tp.MsgsPerSec > bound*1.01 {
			t.Errorf("%s: %.0f msg/s over %d writes in %.3f s of sending (%.0f writes/s): more than the writes carried; %+v %+v",
				s.Cell, tp.MsgsPerSec, tx.Writes, tp.SendSeconds, bound, tp, tx)
		}
	}
}

func TestRunFailedRunsExit1WithResults(t *testing.T) {
	scen := writeFile(t, "s.yaml", runScenario)
	out := filepath.Join(t.TempDir(), "results")
	code, _, stderr := runWithTestWorkers(t, context.Background(), "--scenarios", scen, "--out", out, "--profile", "hung")
	if code != exitFailed || !strings.Contains(stderr, "1 of 1 runs failed or timed out") {
		t.Fatalf("exit %d, stderr %q; want 1 and the count of failed runs", code, stderr)
	}
	_, res := readResults(t, out)
	if len(res.Samples) != 1 || res.Samples[0].Status != sample.StatusTimeout {
		t.Errorf("samples %+v, want one timeout", res.Samples)
	}
}

func TestRunInterruptedWritesFinishedRuns(t *testing.T) {
	scen := writeFile(t, "s.yaml", runScenario)
	out := filepath.Join(t.TempDir(), "results")
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	code, _, stderr := runWithTestWorkers(t, ctx, "--scenarios", scen, "--out", out, "--profile", "long")
	if code != exitFailed || !strings.Contains(stderr, "interrupted after") {
		t.Fatalf("exit %d, stderr %q; want 1 and interrupted", code, stderr)
	}
	_, res := readResults(t, out)
	if !res.Invocation.Incomplete || len(res.Samples) == 0 || len(res.Samples) >= 500 {
		t.Fatalf("incomplete %v with %d samples; want an incomplete set of finished runs",
			res.Invocation.Incomplete, len(res.Samples))
	}
	for _, s := range res.Samples[:len(res.Samples)-1] {
		if s.Status != sample.StatusOK {
			t.Errorf("%s run %d: %s %s", s.Cell, s.Run, s.Status, s.Error)
		}
	}
}

func TestRunBadInput(t *testing.T) {
	scen := writeFile(t, "s.yaml", runScenario)
	badScen := writeFile(t, "bad.yaml", "profiles:\n  p:\n    protocol: [udp]\n    size: [32]\n")
	for name, args := range map[string][]string{
		"missing file":    {"--scenarios", filepath.Join(t.TempDir(), "none.yaml")},
		"bad scenario":    {"--scenarios", badScen},
		"unknown profile": {"--scenarios", scen, "--profile", "nope"},
		"bad filter":      {"--scenarios", scen, "--filter", "colour=red"},
		"empty filter":    {"--scenarios", scen, "--filter", "size=1"},
		"zero runs":       {"--scenarios", scen, "--runs", "0"},
		"unknown engine":  {"--scenarios", scen, "--engine", "nanomsg"},
		"engine not in":   {"--scenarios", scen, "--profile", "hung", "--engine", "zbench"},
		"bad cpus":        {"--scenarios", scen, "--cpus", "0-x"},
		"absent cpu":      {"--scenarios", scen, "--cpus", "1023"},
		"argument":        {"--scenarios", scen, "extra"},
		"unknown flag":    {"--scenarios", scen, "--colour"},
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "results")
			code, stdout, stderr := runCLI(t, append([]string{"run", "--out", out}, args...)...)
			if code != exitBadInput || stdout != "" || stderr == "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 with a message", code, stdout, stderr)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("bad input wrote %s", out)
			}
		})
	}
}

// Flags resolve into the scenario the run function receives, and nothing
// runs when the run function is replaced.
func TestRunResolvesFlags(t *testing.T) {
	scen := writeFile(t, "s.yaml", runScenario)
	var got *runOptions
	cmd := newRunCmdWith(func(_ context.Context, o *runOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--scenarios", scen, "--runs", "7", "--filter", "protocol=ipc",
		"--engine", "zmq4,zbench", "--cpus", "0", "--out", "x"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	sc := got.scenario
	if sc.Runs != 7 || sc.Profile != "tiny" || got.Out != "x" {
		t.Errorf("scenario runs %d profile %s out %s", sc.Runs, sc.Profile, got.Out)
	}
	if sc.Filter != "protocol=ipc,engine=zmq4,engine=zbench" {
		t.Errorf("recorded filter %q", sc.Filter)
	}
	cells := sc.Cells()
	if len(cells) != 4 {
		t.Fatalf("%d cells, want 4 (2 engines x 2 patterns, ipc)", len(cells))
	}
	for _, c := range cells {
		if c.Protocol != matrix.ProtocolIPC || c.Engine == matrix.EngineLibzmq {
			t.Errorf("cell %s passed the filters", c.ID())
		}
	}
	if got.cpus.String() != "0" {
		t.Errorf("cpus %v", got.cpus)
	}
}

// --profile-cpu on a 3-run cell: every run of both sides leaves a CPU
// profile that the pprof parser loads and that shows the engine at work,
// and the Markdown lists the median run's top functions.
func TestRunProfileCPU(t *testing.T) {
	scen := writeFile(t, "s.yaml", `default_profile: p
defaults: {runs: 3, warmup_messages: 100, throughput_duration: 300ms, latency_round_trips: 300, timeout: 20s}
profiles:
  p:
    protocol: [tcp]
    size: [32]
`)
	out := filepath.Join(t.TempDir(), "results")
	code, stdout, stderr := runWithTestWorkers(t, context.Background(), "--scenarios", scen, "--out", out, "--profile-cpu")
	if code != exitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	dir, _ := readResults(t, out)
	cellDir := filepath.Join(dir, "profiles", runner.ProfileCellName("engine=zbench/pattern=pair/protocol=tcp/size=32/out_batch_size=8192/write_batching=true/sockets=1"))
	for run := 1; run <= 3; run++ {
		for _, side := range []string{sample.RoleSender, sample.RoleReceiver} {
			path := filepath.Join(cellDir, fmt.Sprintf("run-%d-%s.cpu.pprof", run, side))
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			p, err := profile.Parse(f)
			f.Close()
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			engine := false
			for _, fn := range p.Function {
				engine = engine || strings.HasPrefix(fn.Name, "zbench/engine.")
			}
			if !engine || len(p.Sample) == 0 {
				t.Errorf("%s: %d samples, engine functions %v", path, len(p.Sample), engine)
			}
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "BENCHMARK_RESULTS.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"**Profiled runs** (cpu)", "## Profiles", "| flat % | function (flat) | cum % | function (cum) |", "go tool pprof -http=: profiles/"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("Markdown lacks %q", want)
		}
	}
	if matches, _ := filepath.Glob(filepath.Join(out, ".profiles-*")); len(matches) != 0 {
		t.Errorf("staging directories left behind: %v", matches)
	}
}

// Results are never lost: when --out cannot be written after the runs (it
// passed the check before them, then changed), they go to the temporary
// directory, and zbench says where and exits 1.
func TestRunKeepsResultsWhenOutFails(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	scen := writeFile(t, "s.yaml", runScenario)
	blocked := writeFile(t, "blocked", "a file, not a directory")
	cmd := newRunCmdWith(func(ctx context.Context, o *runOptions) error {
		o.executable = os.Args[0]
		o.workerArgs = []string{"worker"}
		o.workerEnv = []string{asZbenchEnv + "=1"}
		o.Out = blocked // as if --out became a file during the runs
		return runRun(ctx, o)
	})
	var stdout, stderr bytes.Buffer
	cmd.SetArgs([]string{"--scenarios", scen, "--profile", "hung", "--out", t.TempDir()})
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	err := cmd.ExecuteContext(context.Background())
	alt := filepath.Join(tmp, "zbench-results")
	if exitCode(err) != exitFailed || !strings.Contains(stderr.String(), "the results are in "+alt) {
		t.Fatalf("exit %d (%v), stderr %q; want 1 and where the results went", exitCode(err), err, stderr.String())
	}
	_, res := readResults(t, alt)
	if len(res.Samples) != 1 {
		t.Errorf("%d samples in %s, want the one run", len(res.Samples), alt)
	}
}
