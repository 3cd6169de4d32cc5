//go:build libzmq

package engines_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
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
	"zbench/runner/engines"
	"zbench/runner/sample"
)

// buildSideProgram compiles tools/libzmq-thr/zb_side.c, with the loops of
// this package's libzmq_loops.h, into a temporary directory, warnings as
// errors, and points ZBENCH_LIBZMQ_SIDE at it.
func buildSideProgram(t *testing.T) string {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no C compiler (%s) to build the libzmq-c side program: %v", cc, err)
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libzmq").Output()
	if err != nil {
		t.Skipf("pkg-config libzmq: %v (install libzmq3-dev)", err)
	}
	out := filepath.Join(t.TempDir(), engines.LibzmqSideProgram)
	args := append([]string{"-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-I", ".", "-o", out,
		filepath.Join("..", "..", "tools", "libzmq-thr", "zb_side.c")}, strings.Fields(string(flags))...)
	if msg, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", cc, strings.Join(args, " "), err, msg)
	}
	t.Setenv(engines.LibzmqSideEnv, out)
	return out
}

// libzmq-c end to end: two C programs per run, driven by runner.Run over the
// side protocol, every pattern it has over tcp and ipc, two socket pairs.
func TestLibzmqCRuns(t *testing.T) {
	buildSideProgram(t)
	var cells []matrix.Cell
	for _, protocol := range []string{matrix.ProtocolTCP, matrix.ProtocolIPC} {
		for _, pattern := range []string{matrix.PatternPair, matrix.PatternPushPull, matrix.PatternReqRep, matrix.PatternDealerRouter} {
			c := libzmqCCell(pattern, protocol)
			c.Workload.ThroughputMessages = 0
			c.Workload.ThroughputDuration = matrix.Duration(60 * time.Millisecond)
			cells = append(cells, c)
		}
	}
	res, err := runner.Run(context.Background(), cells, runner.Options{Runs: 1, Lookup: engines.Lookup, IPCDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Samples) != len(cells) {
		t.Fatalf("%d samples for %d cells", len(res.Samples), len(cells))
	}
	for _, s := range res.Samples {
		t.Run(s.Cell, func(t *testing.T) {
			if s.Status != sample.StatusOK {
				t.Fatalf("%s: %s\n%s", s.Status, s.Error, s.Stderr)
			}
			tp := s.Throughput
			if tp.Messages <= 0 || tp.Messages != tp.Sent || tp.MsgsPerSec <= 0 || tp.Seconds <= 0 || tp.Problem != "" {
				t.Errorf("throughput %+v", tp)
			}
			if l := s.Latency; l.RoundTrips != 2*50 || l.RTTP50Ns <= 0 || l.RTTP99Ns < l.RTTP50Ns || l.RTTMaxNs < l.RTTP99Ns || math.Abs(2*l.OneWayMeanNs-l.RTTMeanNs) > 0.01 {
				t.Errorf("latency %+v, want 100 round trips", l)
			}
			if len(s.Sides) != 2 || s.Sides[0].Role != sample.RoleSender || s.Sides[1].Role != sample.RoleReceiver {
				t.Fatalf("sides %+v, want sender then receiver", s.Sides)
			}
			for _, sd := range s.Sides {
				if sd.Engine != engines.LibzmqCName || sd.PID <= 0 || sd.PID == os.Getpid() || sd.GOMAXPROCS != 0 ||
					sd.Affinity == "" || sd.StartRSSBytes <= 0 || sd.PeakRSSBytes <= 0 || sd.UserCPUNs+sd.SysCPUNs <= 0 {
					t.Errorf("%s side: %+v", sd.Role, sd)
				}
				for name, u := range map[string]sample.Usage{"throughput": sd.Throughput, "latency": sd.Latency} {
					if u.CPUNs() <= 0 || u.PeakRSSBytes <= 0 || u.RSSBytes <= 0 || u.Runtime.Reported || u.Telemetry.Available {
						t.Errorf("%s side, %s phase: usage %+v", sd.Role, name, u)
					}
				}
			}
			if s.Sides[0].PID == s.Sides[1].PID {
				t.Errorf("both sides in process %d", s.Sides[0].PID)
			}
			if s.Runtime.Reported || s.Engine.Available {
				t.Errorf("Go runtime %+v, telemetry %+v: a C program has neither", s.Runtime, s.Engine)
			}
			if na := s.NotApplicable(); len(na) == 0 {
				t.Errorf("notes %q: want the batching axes n/a", s.Notes)
			}
		})
	}
}

// sidePIDs lists the live processes running the program at path with the
// given role.
func sidePIDs(path, role string) []int {
	var pids []int
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(cmdline, "\x00")), "\x00")
		if len(args) < 3 || args[0] != path || (role != "" && !strings.Contains(string(cmdline), "--role\x00"+role+"\x00")) {
			continue
		}
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				continue // exited, not yet reaped
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// A C side killed mid-run fails the run, naming the side, well before the
// run's timeout, and leaves no side program behind.
func TestLibzmqCKilledSide(t *testing.T) {
	prog := buildSideProgram(t)
	c := libzmqCCell(matrix.PatternPair, matrix.ProtocolTCP)
	c.Sockets = 1
	c.Workload.ThroughputMessages = 0
	c.Workload.ThroughputDuration = matrix.Duration(time.Minute)
	c.Workload.Timeout = matrix.Duration(2 * time.Minute)

	done := make(chan runner.Result, 1)
	go func() {
		res, err := runner.Run(context.Background(), []matrix.Cell{c}, runner.Options{Runs: 1, Lookup: engines.Lookup})
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	var pid int
	for pid == 0 {
		select {
		case res := <-done:
			t.Fatalf("the run ended before its sender was found: %+v", res.Samples)
		case <-time.After(20 * time.Millisecond):
		}
		if pids := sidePIDs(prog, sample.RoleSender); len(pids) == 1 {
			pid = pids[0]
		}
	}
	time.Sleep(300 * time.Millisecond) // into the throughput phase
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var res runner.Result
	select {
	case res = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the run went on after its sender was killed")
	}
	if len(res.Samples) != 1 || res.Failed != 1 {
		t.Fatalf("%d samples, %d failed; want the one run failed", len(res.Samples), res.Failed)
	}
	s := res.Samples[0]
	if s.Status != sample.StatusFailed || !strings.Contains(s.Error, "sender side") || !strings.Contains(s.Error, "killed") {
		t.Errorf("run: %s: %q; want failed, naming the sender side and the kill", s.Status, s.Error)
	}
	t.Logf("%s: %s", s.Status, s.Error)
	if left := sidePIDs(prog, ""); len(left) > 0 {
		t.Errorf("side programs left running: %v", left)
	}
}
