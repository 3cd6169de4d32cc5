package runner_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/sample"
)

// The test binary doubles as a fake worker: with fakeWorkerEnv set, it reads
// a job and behaves according to the cell's size (see the size constants).
const fakeWorkerEnv = "ZBENCH_TEST_FAKE_WORKER"

// fakePidFileEnv names a file where a hanging fake worker writes the pid of
// the grandchild it started.
const fakePidFileEnv = "ZBENCH_TEST_PID_FILE"

// Cell sizes that make the fake worker misbehave; any other size runs the
// real workload on the fake engine.
const (
	sizeCrash   = 1001 // prints a long panic on stderr and exits 2
	sizeHang    = 1002 // starts a grandchild sharing its stdout, then hangs
	sizeSleep   = 1003 // sleeps 10 s, then runs normally
	sizeBadJSON = 1004 // exits 0 having written no sample
)

func TestMain(m *testing.M) {
	if os.Getenv(fakeWorkerEnv) != "" {
		os.Exit(fakeWorker())
	}
	os.Exit(m.Run())
}

func fakeWorker() int {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		return 3
	}
	var job runner.Job
	if err := json.Unmarshal(data, &job); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	switch job.Cell.Size {
	case sizeCrash:
		fmt.Fprintln(os.Stderr, "panic: boom")
		fmt.Fprintln(os.Stderr, strings.Repeat("goroutine 1 [running]: a frame\n", 5000))
		return 2
	case sizeHang:
		child := exec.Command("sleep", "60")
		child.Stdout = os.Stdout
		if err := child.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		if f := os.Getenv(fakePidFileEnv); f != "" {
			_ = os.WriteFile(f, []byte(strconv.Itoa(child.Process.Pid)), 0o600)
		}
		select {}
	case sizeSleep:
		time.Sleep(10 * time.Second)
	case sizeBadJSON:
		fmt.Println("not a sample")
		return 0
	}
	if err := runner.Work(context.Background(), bytes.NewReader(data), os.Stdout, lookupOf(newFakeEngine())); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 1
	}
	return 0
}

// fakeOptions runs workers from this test binary.
func fakeOptions(t *testing.T, runs int) runner.Options {
	t.Helper()
	return runner.Options{
		Runs:       runs,
		Executable: os.Args[0],
		WorkerArgs: []string{},
		Env:        []string{fakeWorkerEnv + "=1"},
		Lookup:     lookupOf(newFakeEngine()),
	}
}

func workerCell(pattern string, size int) matrix.Cell {
	c := smallCell("fake", pattern, matrix.ProtocolTCP, size, 1)
	c.Workload.Timeout = matrix.Duration(10 * time.Second)
	return c
}

func TestRunInterleavesAndMeasures(t *testing.T) {
	cells := []matrix.Cell{
		workerCell(matrix.PatternPair, 8),
		workerCell(matrix.PatternPushPull, 16),
		workerCell(matrix.PatternReqRep, 32),
	}
	o := fakeOptions(t, 2)
	var lines bytes.Buffer
	o.Progress = runner.NewProgress(&lines)
	res, err := runner.Run(context.Background(), cells, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Incomplete || res.Failed != 0 || len(res.Samples) != 6 {
		t.Fatalf("result: incomplete %v, failed %d, %d samples", res.Incomplete, res.Failed, len(res.Samples))
	}
	for i, s := range res.Samples {
		wantCell, wantRun := cells[i%3].ID(), i/3+1
		if s.Cell != wantCell || s.Run != wantRun {
			t.Errorf("sample %d is %s run %d, want %s run %d", i, s.Cell, s.Run, wantCell, wantRun)
		}
		if s.Status != sample.StatusOK {
			t.Fatalf("sample %d: %s: %s\n%s", i, s.Status, s.Error, s.Stderr)
		}
		r := s.Resources
		if r.UserCPUNs+r.SysCPUNs <= 0 || r.PeakRSSBytes < 1<<20 || r.CPUPercent <= 0 || r.CPUNsPerMsg <= 0 {
			t.Errorf("sample %d: resources not measured: %+v", i, r)
		}
		if r.AffinityMask == "" {
			t.Errorf("sample %d: no affinity mask", i)
		}
		if s.WallNs <= 0 || s.HarnessOverheadNs <= 0 || s.HarnessOverheadNs >= s.WallNs {
			t.Errorf("sample %d: wall %d ns, harness overhead %d ns", i, s.WallNs, s.HarnessOverheadNs)
		}
		if time.Since(s.StartedAt) > time.Minute {
			t.Errorf("sample %d: started at %v", i, s.StartedAt)
		}
	}
	if n := strings.Count(lines.String(), "\n"); n != 6 {
		t.Errorf("progress wrote %d lines, want 6:\n%s", n, lines.String())
	}
	if !strings.Contains(lines.String(), "[6/6] "+cells[2].ID()+" run 2: ok") {
		t.Errorf("progress lines lack the last run:\n%s", lines.String())
	}
}

func TestRunTimeoutKillsHungWorkerAndGoesOn(t *testing.T) {
	hang := workerCell(matrix.PatternPair, sizeHang)
	hang.Workload.Timeout = matrix.Duration(300 * time.Millisecond)
	cells := []matrix.Cell{hang, workerCell(matrix.PatternPair, 8)}
	o := fakeOptions(t, 1)
	pidFile := filepath.Join(t.TempDir(), "pid")
	o.Env = append(o.Env, fakePidFileEnv+"="+pidFile)
	start := time.Now()
	res, err := runner.Run(context.Background(), cells, o)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("Run took %v; the hung worker was not killed promptly", d)
	}
	if len(res.Samples) != 2 || res.Failed != 1 {
		t.Fatalf("%d samples, %d failed", len(res.Samples), res.Failed)
	}
	if s := res.Samples[0]; s.Status != sample.StatusTimeout || !strings.Contains(s.Error, "timeout") {
		t.Errorf("hung run: %s: %s", s.Status, s.Error)
	}
	if s := res.Samples[1]; s.Status != sample.StatusOK {
		t.Errorf("run after the timeout: %s: %s", s.Status, s.Error)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the fake worker did not record its grandchild: %v", err)
	}
	pid, _ := strconv.Atoi(string(data))
	deadline := time.Now().Add(3 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d survived the timeout", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunCrashIsFailedWithStderr(t *testing.T) {
	cells := []matrix.Cell{workerCell(matrix.PatternPair, sizeCrash), workerCell(matrix.PatternPair, sizeBadJSON)}
	o := fakeOptions(t, 1)
	o.StderrLimit = 4096
	res, err := runner.Run(context.Background(), cells, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 2 {
		t.Fatalf("failed = %d, want 2", res.Failed)
	}
	crash := res.Samples[0]
	if crash.Status != sample.StatusFailed || !strings.Contains(crash.Error, "panic: boom") {
		t.Errorf("crash: %s: %q", crash.Status, crash.Error)
	}
	if !strings.HasPrefix(crash.Stderr, "panic: boom") || !strings.Contains(crash.Stderr, "bytes trimmed") || len(crash.Stderr) > 4096+100 {
		t.Errorf("crash stderr not kept head and tail (len %d): %.200q", len(crash.Stderr), crash.Stderr)
	}
	if crash.Resources.PeakRSSBytes == 0 {
		t.Errorf("crashed run has no rusage: %+v", crash.Resources)
	}
	bad := res.Samples[1]
	if bad.Status != sample.StatusFailed || !strings.Contains(bad.Error, "no sample") {
		t.Errorf("bad output: %s: %q", bad.Status, bad.Error)
	}
}

// A progress that cancels the context once a given number of runs finished.
type cancelAfter struct {
	n      int
	cancel context.CancelFunc
	seen   int
}

func (p *cancelAfter) Begin(int) {}
func (p *cancelAfter) End()      {}
func (p *cancelAfter) Done(matrix.Cell, sample.Sample) {
	p.seen++
	if p.seen == p.n {
		time.AfterFunc(300*time.Millisecond, p.cancel)
	}
}

func TestRunInterruptReturnsFinishedRuns(t *testing.T) {
	cells := []matrix.Cell{
		workerCell(matrix.PatternPair, 8),
		workerCell(matrix.PatternPair, sizeSleep),
		workerCell(matrix.PatternPair, 16),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := fakeOptions(t, 3)
	o.Progress = &cancelAfter{n: 1, cancel: cancel}
	start := time.Now()
	res, err := runner.Run(ctx, cells, o)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 8*time.Second {
		t.Errorf("Run took %v after the interrupt", d)
	}
	if !res.Incomplete || len(res.Samples) != 2 {
		t.Fatalf("incomplete %v, %d samples, want an incomplete result of 2", res.Incomplete, len(res.Samples))
	}
	if s := res.Samples[0]; s.Status != sample.StatusOK {
		t.Errorf("first run: %s: %s", s.Status, s.Error)
	}
	if s := res.Samples[1]; s.Status != sample.StatusInterrupted || s.Cell != cells[1].ID() {
		t.Errorf("stopped run: %s %s", s.Cell, s.Status)
	}
	if res.Failed != 0 {
		t.Errorf("an interrupt counted as %d failures", res.Failed)
	}
}

func TestRunUnsupportedSpawnsNothing(t *testing.T) {
	fe := newFakeEngine()
	fe.unsupport = "no such transport"
	o := fakeOptions(t, 2)
	o.Executable = filepath.Join(t.TempDir(), "missing") // spawning would fail
	o.Lookup = lookupOf(fe)
	other := workerCell(matrix.PatternPair, 8)
	other.Engine = "libzmq" // not in the lookup at all
	res, err := runner.Run(context.Background(), []matrix.Cell{workerCell(matrix.PatternPair, 8), other}, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 || len(res.Samples) != 4 {
		t.Fatalf("failed %d, %d samples", res.Failed, len(res.Samples))
	}
	for i, s := range res.Samples {
		if s.Status != sample.StatusUnsupported || s.Error == "" {
			t.Errorf("sample %d: %s %q", i, s.Status, s.Error)
		}
	}
	if res.Samples[0].Error != "no such transport" || !strings.Contains(res.Samples[1].Error, "libzmq") {
		t.Errorf("reasons: %q, %q", res.Samples[0].Error, res.Samples[1].Error)
	}
}

func TestRunPinsWorkers(t *testing.T) {
	mask, err := runner.CurrentAffinity()
	if err != nil {
		t.Skip(err)
	}
	pin := runner.CPUList{mask[len(mask)-1]}
	o := fakeOptions(t, 1)
	o.CPUs = pin
	res, err := runner.Run(context.Background(), []matrix.Cell{workerCell(matrix.PatternPair, 8)}, o)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Samples[0]
	if s.Status != sample.StatusOK || s.Resources.AffinityMask != pin.String() || res.Affinity != pin.String() {
		t.Fatalf("%s %s: worker mask %q, result mask %q, want %q", s.Status, s.Error, s.Resources.AffinityMask, res.Affinity, pin)
	}
	after, _ := runner.CurrentAffinity()
	if after.String() != mask.String() {
		t.Errorf("pinning the worker changed this process's mask from %s to %s", mask, after)
	}
}

func TestRunBadOptions(t *testing.T) {
	cells := []matrix.Cell{workerCell(matrix.PatternPair, 8)}
	o := fakeOptions(t, 0)
	if _, err := runner.Run(context.Background(), cells, o); !errors.Is(err, runner.ErrBadOptions) {
		t.Errorf("runs 0: err = %v", err)
	}
	o = fakeOptions(t, 1)
	o.CPUs = runner.CPUList{1023}
	if _, err := runner.Run(context.Background(), cells, o); !errors.Is(err, runner.ErrBadOptions) {
		t.Errorf("cpu 1023: err = %v", err)
	}
}

// alive reports whether pid is a running process (a zombie awaiting its
// reaper counts as dead).
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil // no /proc: fall back to a signal probe
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}
