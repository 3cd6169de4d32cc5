package runner_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"zbench/host"
	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/engines"
	"zbench/runner/sample"
)

// The test binary doubles as a fake worker: with fakeWorkerEnv set, it reads
// a job line and behaves according to the cell's size (see the size
// constants). Cells of the engine "fake" run on the in-memory fake engine
// (processes 1 only: its sockets cannot cross processes); cells of the engine
// "zbench" run on the embedded engine, in one process or two.
const fakeWorkerEnv = "ZBENCH_TEST_FAKE_WORKER"

// fakePidFileEnv names a file where a hanging fake worker writes the pid of
// the grandchild it started.
const fakePidFileEnv = "ZBENCH_TEST_PID_FILE"

// fakePidDirEnv names a directory where every fake worker writes its pid, in
// a file named after its role.
const fakePidDirEnv = "ZBENCH_TEST_PID_DIR"

// Cell sizes that make the fake worker misbehave; any other size runs the
// real workload.
const (
	sizeCrash   = 1001 // prints a long panic on stderr and exits 2
	sizeHang    = 1002 // starts a grandchild sharing its stdout, then hangs
	sizeSleep   = 1003 // sleeps 10 s, then runs normally
	sizeBadJSON = 1004 // exits 0 having written no sample
	sizeDie     = 1005 // the sender side kills itself (SIGKILL) 300 ms into its run
	sizeAlloc   = 1006 // the receiver side takes 100 MiB 300 ms into its run, and keeps it
)

// ballast holds what a sizeAlloc worker allocated, so that it stays resident.
var ballast []byte

func TestMain(m *testing.M) {
	if os.Getenv(fakeWorkerEnv) != "" {
		os.Exit(fakeWorker())
	}
	goleak.VerifyTestMain(m)
}

func fakeWorker() int {
	in := bufio.NewReader(os.Stdin)
	first, err := in.ReadString('\n')
	if err != nil {
		return 3
	}
	var job runner.Job
	if err := json.Unmarshal([]byte(strings.TrimPrefix(first, "job ")), &job); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	if dir := os.Getenv(fakePidDirEnv); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, job.Role), []byte(strconv.Itoa(os.Getpid())), 0o600)
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
	case sizeDie:
		if job.Role == sample.RoleSender {
			time.AfterFunc(300*time.Millisecond, func() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL) })
		}
	case sizeAlloc:
		if job.Role == sample.RoleReceiver {
			time.AfterFunc(300*time.Millisecond, func() {
				b := make([]byte, 100<<20)
				for i := 0; i < len(b); i += 4096 {
					b[i] = 1
				}
				ballast = b
			})
		}
	}
	lookup := func(name string) (runner.Engine, bool) {
		if name == "fake" {
			return newFakeEngine(), true
		}
		return engines.Lookup(name)
	}
	if err := runner.Work(context.Background(), io.MultiReader(strings.NewReader(first), in), os.Stdout, lookup); err != nil {
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
		Lookup: func(name string) (runner.Engine, bool) {
			if name == "fake" {
				return newFakeEngine(), true
			}
			return engines.Lookup(name)
		},
		IPCDir: t.TempDir(),
	}
}

// workerCell is a cell on the fake engine, both sides in one worker.
func workerCell(pattern string, size int) matrix.Cell {
	c := smallCell("fake", pattern, matrix.ProtocolTCP, size, 1)
	c.Workload.Timeout = matrix.Duration(10 * time.Second)
	return c
}

// pairCell is a cell on the embedded engine, one worker per side.
func pairCell(pattern, protocol string, size int) matrix.Cell {
	c := smallCell(matrix.EngineZbench, pattern, protocol, size, 2)
	c.Processes = 2
	c.Workload.Timeout = matrix.Duration(20 * time.Second)
	return c
}

func TestRunInterleavesAndMeasures(t *testing.T) {
	cells := []matrix.Cell{
		workerCell(matrix.PatternPair, 8),
		pairCell(matrix.PatternPushPull, matrix.ProtocolTCP, 16),
		pairCell(matrix.PatternReqRep, matrix.ProtocolIPC, 32),
	}
	o := fakeOptions(t, 2)
	var lines bytes.Buffer
	o.Progress = runner.NewProgress(&lines)
	res, err := runner.Run(context.Background(), cells, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Incomplete || res.Failed != 0 || len(res.Samples) != 6 {
		for _, s := range res.Samples {
			t.Logf("%s: %s %s\n%s", s.Cell, s.Status, s.Error, s.Stderr)
		}
		t.Fatalf("result: incomplete %v, failed %d, %d samples", res.Incomplete, res.Failed, len(res.Samples))
	}
	for i, s := range res.Samples {
		c := cells[i%3]
		if s.Cell != c.ID() || s.Run != i/3+1 {
			t.Errorf("sample %d is %s run %d, want %s run %d", i, s.Cell, s.Run, c.ID(), i/3+1)
		}
		if s.Status != sample.StatusOK {
			t.Fatalf("sample %d: %s: %s\n%s", i, s.Status, s.Error, s.Stderr)
		}
		checkSample(t, c, s)
		r := s.Resources
		if r.UserCPUNs+r.SysCPUNs <= 0 || r.PeakRSSBytes < 1<<20 || r.CPUPercent <= 0 || r.CPUNsPerMsg <= 0 {
			t.Errorf("sample %d: resources not measured: %+v", i, r)
		}
		if r.AffinityMask == "" {
			t.Errorf("sample %d: no affinity mask", i)
		}
		if s.WallNs <= 0 || time.Since(s.StartedAt) > time.Minute {
			t.Errorf("sample %d: wall %d ns, started at %v", i, s.WallNs, s.StartedAt)
		}
		if s.Processes != c.Processes || len(s.Sides) != c.Processes {
			t.Fatalf("sample %d: processes %d with %d sides, want %d", i, s.Processes, len(s.Sides), c.Processes)
		}
		var sumPeak int64
		pids := map[int]bool{}
		for _, sd := range s.Sides {
			sumPeak += sd.PeakRSSBytes
			pids[sd.PID] = true
			if sd.PeakRSSBytes <= 0 || sd.UserCPUNs+sd.SysCPUNs <= 0 || sd.GOMAXPROCS < 1 || sd.Affinity == "" || sd.StartRSSBytes <= 0 {
				t.Errorf("sample %d: side %s not measured: %+v", i, sd.Role, sd)
			}
			if sd.Throughput.CPUNs() <= 0 || sd.Throughput.PeakRSSBytes <= 0 || !sd.Throughput.Runtime.Reported {
				t.Errorf("sample %d: side %s has no throughput-phase usage: %+v", i, sd.Role, sd.Throughput)
			}
			if sd.Throughput.CPUNs() > sd.UserCPUNs+sd.SysCPUNs {
				t.Errorf("sample %d: side %s spent %d ns in the phase but %d in all", i, sd.Role, sd.Throughput.CPUNs(), sd.UserCPUNs+sd.SysCPUNs)
			}
		}
		if sumPeak != r.PeakRSSBytes || len(pids) != c.Processes {
			t.Errorf("sample %d: total peak %d, sides' sum %d; %d distinct pids", i, r.PeakRSSBytes, sumPeak, len(pids))
		}
		if c.Processes == 2 {
			if s.Sides[0].Role != sample.RoleSender || s.Sides[1].Role != sample.RoleReceiver {
				t.Errorf("sample %d: sides %s, %s", i, s.Sides[0].Role, s.Sides[1].Role)
			}
			if s.HarnessOverheadNs <= 0 || s.HarnessOverheadNs >= s.WallNs {
				t.Errorf("sample %d: wall %d ns, harness overhead %d ns", i, s.WallNs, s.HarnessOverheadNs)
			}
			if !s.Engine.Available || s.Engine.MsgsOut < uint64(s.Throughput.Messages) {
				t.Errorf("sample %d: telemetry of both sides: %+v for %d messages", i, s.Engine, s.Throughput.Messages)
			}
		} else if s.Sides[0].Role != sample.RoleBoth {
			t.Errorf("sample %d: one process, side %s", i, s.Sides[0].Role)
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
	for _, procs := range []int{1, 2} {
		t.Run(fmt.Sprintf("processes=%d", procs), func(t *testing.T) {
			hang := workerCell(matrix.PatternPair, sizeHang)
			if procs == 2 {
				hang = pairCell(matrix.PatternPair, matrix.ProtocolTCP, sizeHang)
			}
			hang.Workload.Timeout = matrix.Duration(500 * time.Millisecond)
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
			waitGone(t, pid)
		})
	}
}

// waitGone fails the test unless pid ends within 3 s (it is killed then).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d was left running", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRunCrashIsFailedWithStderr(t *testing.T) {
	cells := []matrix.Cell{workerCell(matrix.PatternPair, sizeCrash), workerCell(matrix.PatternPair, sizeBadJSON),
		pairCell(matrix.PatternPair, matrix.ProtocolTCP, sizeCrash)}
	o := fakeOptions(t, 1)
	o.StderrLimit = 4096
	res, err := runner.Run(context.Background(), cells, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 3 {
		t.Fatalf("failed = %d, want 3", res.Failed)
	}
	crash := res.Samples[0]
	if crash.Status != sample.StatusFailed || !strings.Contains(crash.Error, "panic: boom") {
		t.Errorf("crash: %s: %q", crash.Status, crash.Error)
	}
	if !strings.Contains(crash.Stderr, "panic: boom") || !strings.Contains(crash.Stderr, "bytes trimmed") || len(crash.Stderr) > 4096+100 {
		t.Errorf("crash stderr not kept head and tail (len %d): %.200q", len(crash.Stderr), crash.Stderr)
	}
	bad := res.Samples[1]
	if bad.Status != sample.StatusFailed || !strings.Contains(bad.Error, "no sample") {
		t.Errorf("bad output: %s: %q", bad.Status, bad.Error)
	}
	// Both sides crash; whichever the coordinator hears of first is named.
	two := res.Samples[2]
	if two.Status != sample.StatusFailed || !strings.Contains(two.Error, "panic: boom") ||
		!strings.Contains(two.Error, "receiver side") && !strings.Contains(two.Error, "sender side") {
		t.Errorf("crash of a side: %s: %q", two.Status, two.Error)
	}
}

// A side killed mid-run fails the run at once, names the side, and leaves
// neither process behind.
func TestRunSideKilledMidRun(t *testing.T) {
	c := pairCell(matrix.PatternPair, matrix.ProtocolTCP, sizeDie)
	c.Workload.ThroughputMessages = 0
	c.Workload.ThroughputDuration = matrix.Duration(5 * time.Second)
	c.Workload.Timeout = matrix.Duration(30 * time.Second)
	o := fakeOptions(t, 1)
	dir := t.TempDir()
	o.Env = append(o.Env, fakePidDirEnv+"="+dir)
	start := time.Now()
	res, err := runner.Run(context.Background(), []matrix.Cell{c}, o)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("the run took %v to notice a dead side (stream 5 s, timeout 30 s)", d)
	}
	s := res.Samples[0]
	if s.Status != sample.StatusFailed || !strings.Contains(s.Error, "sender side") || !strings.Contains(s.Error, "killed") {
		t.Errorf("run: %s: %q, want failed naming the killed sender side", s.Status, s.Error)
	}
	for _, role := range []string{sample.RoleSender, sample.RoleReceiver} {
		b, err := os.ReadFile(filepath.Join(dir, role))
		if err != nil {
			t.Fatalf("no pid of the %s: %v", role, err)
		}
		pid, _ := strconv.Atoi(string(b))
		if alive(pid) {
			t.Errorf("the %s (pid %d) outlived the run", role, pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// Every worker samples its memory every 10 ms: a receiver that takes
// 100 MiB in the middle of its run shows it in its series, whose times only
// go forward, and in the peak from the series as from rusage.
func TestRunMemorySeries(t *testing.T) {
	c := pairCell(matrix.PatternPair, matrix.ProtocolTCP, sizeAlloc)
	c.Sockets = 1
	c.Workload.ThroughputMessages = 0
	c.Workload.ThroughputDuration = matrix.Duration(time.Second)
	res, err := runner.Run(context.Background(), []matrix.Cell{c}, fakeOptions(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	s := res.Samples[0]
	if s.Status != sample.StatusOK {
		t.Fatalf("%s: %s\n%s", s.Status, s.Error, s.Stderr)
	}
	for _, sd := range s.Sides {
		pts := sd.Memory
		// One point per 10 ms; a loaded machine (or -race) delays ticks, so
		// ask for a fifth of them.
		if len(pts) < 20 {
			t.Fatalf("%s: %d memory points over a run of more than a second, want about one per 10 ms", sd.Role, len(pts))
		}
		for i := 1; i < len(pts); i++ {
			if pts[i].TimeNs <= pts[i-1].TimeNs {
				t.Fatalf("%s: point %d at %d, not after %d", sd.Role, i, pts[i].TimeNs, pts[i-1].TimeNs)
			}
		}
		if pts[0].HeapBytes <= 0 {
			t.Errorf("%s: no Go heap figure", sd.Role)
		}
		grew := sd.SeriesPeakRSSBytes - pts[0].RSSBytes
		switch sd.Role {
		case sample.RoleReceiver:
			// Most of the 100 MiB: the runtime may have returned other free
			// memory to the system meanwhile.
			if grew < 60<<20 {
				t.Errorf("receiver: series grew %d MiB, want about the 100 MiB it took", grew>>20)
			}
			if sd.PeakRSSBytes < sd.SeriesPeakRSSBytes-(2<<20) {
				t.Errorf("receiver: rusage peak %d below the series' %d", sd.PeakRSSBytes, sd.SeriesPeakRSSBytes)
			}
		case sample.RoleSender:
			if grew > 30<<20 {
				t.Errorf("sender: series grew %d MiB without taking anything", grew>>20)
			}
		}
	}
}

// A worker's peak RSS is its own: a process started by exec inherits its
// parent's peak in ru_maxrss on Linux, so a parent holding 200 MiB would
// make every small worker look as large.
func TestRunPeakRSSIsTheWorkersOwn(t *testing.T) {
	held := make([]byte, 200<<20)
	for i := 0; i < len(held); i += 4096 {
		held[i] = 1
	}
	res, err := runner.Run(context.Background(), []matrix.Cell{pairCell(matrix.PatternPair, matrix.ProtocolTCP, 64)}, fakeOptions(t, 1))
	runtime.KeepAlive(held)
	if err != nil {
		t.Fatal(err)
	}
	s := res.Samples[0]
	if s.Status != sample.StatusOK {
		t.Fatalf("%s: %s", s.Status, s.Error)
	}
	for _, sd := range s.Sides {
		if sd.PeakRSSBytes <= 0 || sd.PeakRSSBytes > 120<<20 {
			t.Errorf("%s: peak RSS %d MiB, want its own (tens of MiB), not this 200 MiB parent's", sd.Role, sd.PeakRSSBytes>>20)
		}
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
	sleepy := pairCell(matrix.PatternPair, matrix.ProtocolTCP, sizeSleep)
	cells := []matrix.Cell{
		workerCell(matrix.PatternPair, 8),
		sleepy,
		workerCell(matrix.PatternPair, 16),
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o := fakeOptions(t, 3)
	dir := t.TempDir()
	o.Env = append(o.Env, fakePidDirEnv+"="+dir)
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
	for _, role := range []string{sample.RoleSender, sample.RoleReceiver} {
		b, err := os.ReadFile(filepath.Join(dir, role))
		if err != nil {
			t.Fatalf("no pid of the %s: %v", role, err)
		}
		pid, _ := strconv.Atoi(string(b))
		waitGone(t, pid)
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
	noTopology := workerCell(matrix.PatternPair, 8)
	noTopology.Engine, noTopology.Processes = "fake", 3
	res, err := runner.Run(context.Background(), []matrix.Cell{workerCell(matrix.PatternPair, 8), other, noTopology}, o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 || len(res.Samples) != 6 {
		t.Fatalf("failed %d, %d samples", res.Failed, len(res.Samples))
	}
	for i, s := range res.Samples {
		if s.Status != sample.StatusUnsupported || s.Error == "" {
			t.Errorf("sample %d: %s %q", i, s.Status, s.Error)
		}
	}
	if res.Samples[0].Error != "no such transport" || !strings.Contains(res.Samples[1].Error, "libzmq") ||
		!strings.Contains(res.Samples[2].Error, "processes 3") {
		t.Errorf("reasons: %q, %q, %q", res.Samples[0].Error, res.Samples[1].Error, res.Samples[2].Error)
	}
}

// --cpus SENDER:RECEIVER puts each side's worker on its own CPU: read back
// from /proc/PID/status while the workers run, and as the workers report.
func TestRunPinsEachSide(t *testing.T) {
	mask, err := host.Affinity()
	if err != nil {
		t.Skip(err)
	}
	if len(mask) < 2 {
		t.Skipf("pinning one side per CPU needs 2 CPUs; this process may use %s", mask)
	}
	spec, err := runner.ParseCPUSpec(fmt.Sprintf("%d:%d", mask[0], mask[1]))
	if err != nil {
		t.Fatal(err)
	}
	c := pairCell(matrix.PatternPair, matrix.ProtocolTCP, 8)
	c.Workload.ThroughputMessages = 0
	c.Workload.ThroughputDuration = matrix.Duration(time.Second)
	o := fakeOptions(t, 1)
	o.CPUs = spec
	dir := t.TempDir()
	o.Env = append(o.Env, fakePidDirEnv+"="+dir)

	type result struct {
		res runner.Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		r, err := runner.Run(context.Background(), []matrix.Cell{c}, o)
		done <- result{r, err}
	}()
	want := map[string]string{sample.RoleSender: strconv.Itoa(mask[0]), sample.RoleReceiver: strconv.Itoa(mask[1])}
	seen := map[string]string{}
	deadline := time.Now().Add(10 * time.Second)
	for len(seen) < 2 && time.Now().Before(deadline) {
		for role := range want {
			if _, ok := seen[role]; ok {
				continue
			}
			b, err := os.ReadFile(filepath.Join(dir, role))
			if err != nil {
				continue
			}
			status, err := os.ReadFile("/proc/" + string(b) + "/status")
			if err != nil {
				continue
			}
			for line := range strings.SplitSeq(string(status), "\n") {
				if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
					seen[role] = strings.TrimSpace(v)
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	for role, cpu := range want {
		if seen[role] != cpu {
			t.Errorf("%s worker: /proc Cpus_allowed_list %q, want %q", role, seen[role], cpu)
		}
	}
	s := r.res.Samples[0]
	if s.Status != sample.StatusOK {
		t.Fatalf("%s: %s\n%s", s.Status, s.Error, s.Stderr)
	}
	for _, sd := range s.Sides {
		if sd.Affinity != want[sd.Role] || sd.GOMAXPROCS != 1 {
			t.Errorf("%s reported affinity %q and GOMAXPROCS %d, want %q and 1", sd.Role, sd.Affinity, sd.GOMAXPROCS, want[sd.Role])
		}
	}
	if s.Resources.AffinityMask != spec.String() || r.res.Affinity != spec.String() {
		t.Errorf("recorded mask %q / %q, want %q", s.Resources.AffinityMask, r.res.Affinity, spec)
	}
	if after, _ := host.Affinity(); after.String() != mask.String() {
		t.Errorf("pinning the workers changed this process's mask from %s to %s", mask, after)
	}
}

func TestRunBadOptions(t *testing.T) {
	cells := []matrix.Cell{workerCell(matrix.PatternPair, 8)}
	o := fakeOptions(t, 0)
	if _, err := runner.Run(context.Background(), cells, o); !errors.Is(err, runner.ErrBadOptions) {
		t.Errorf("runs 0: err = %v", err)
	}
	o = fakeOptions(t, 1)
	o.CPUs = runner.CPUSpec{Sender: host.CPUList{1023}, Receiver: host.CPUList{1023}}
	if _, err := runner.Run(context.Background(), cells, o); !errors.Is(err, runner.ErrBadOptions) {
		t.Errorf("cpu 1023: err = %v", err)
	}
}

func TestParseCPUSpec(t *testing.T) {
	for in, want := range map[string]string{"0": "0", "0-1": "0-1", "0:1": "0:1", "1,0:0": "0-1:0"} {
		spec, err := runner.ParseCPUSpec(in)
		if err != nil || spec.String() != want {
			t.Errorf("ParseCPUSpec(%q) = %q, %v; want %q", in, spec, err, want)
		}
	}
	spec, _ := runner.ParseCPUSpec("0:1")
	if got := spec.For(sample.RoleBoth).String(); got != "0-1" {
		t.Errorf("one worker for both sides of 0:1 gets %q, want the union 0-1", got)
	}
	for _, bad := range []string{"", ":", "0:", ":1", "a:1", "0:1:2"} {
		if _, err := runner.ParseCPUSpec(bad); !errors.Is(err, host.ErrBadCPUList) {
			t.Errorf("ParseCPUSpec(%q) = %v, want ErrBadCPUList", bad, err)
		}
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
