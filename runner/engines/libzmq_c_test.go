package engines_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/engines"
	"zbench/runner/sample"
)

func libzmqCCell(pattern, protocol string) matrix.Cell {
	c := cell(engines.LibzmqCName, pattern, protocol, 100, 2)
	c.Processes = 2
	return c
}

// Without its C side program, libzmq-c runs nothing and says how to build
// the program; with the libzmq tag or without, since the adapter only runs
// the program.
func TestLibzmqCWithoutProgram(t *testing.T) {
	eng, ok := engines.Lookup(engines.LibzmqCName)
	if !ok {
		t.Fatal("libzmq-c not registered")
	}
	c := libzmqCCell(matrix.PatternPair, matrix.ProtocolTCP)

	// Unset: looked for next to the running executable (this test binary).
	t.Setenv(engines.LibzmqSideEnv, "")
	ok, reason := eng.Supports(c)
	if ok || !strings.Contains(reason, engines.LibzmqSideProgram) || !strings.Contains(reason, "make build") ||
		!strings.Contains(reason, engines.LibzmqSideEnv) || !strings.Contains(reason, "libzmq3-dev") {
		t.Errorf("no program next to the executable: %v %q, want unsupported with the build hint", ok, reason)
	}
	missing := filepath.Join(t.TempDir(), "nowhere", engines.LibzmqSideProgram)
	t.Setenv(engines.LibzmqSideEnv, missing)
	if ok, reason := eng.Supports(c); ok || !strings.Contains(reason, missing) || !strings.Contains(reason, "make build") {
		t.Errorf("%s=%s: %v %q, want unsupported naming the path, with the build hint", engines.LibzmqSideEnv, missing, ok, reason)
	}
	x, isExternal := eng.(runner.External)
	if !isExternal {
		t.Fatalf("%T is not a runner.External", eng)
	}
	if _, _, err := x.SideCommand(c, sample.RoleSender, ""); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("SideCommand without the program: %v", err)
	}
	if _, err := eng.NewSocket(runner.KindPair, runnerOptions()); err == nil {
		t.Error("libzmq-c opened a socket in this process")
	}
}

// fakeSideProgram writes a program that answers --probe with probe.
func fakeSideProgram(t *testing.T, probe string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), engines.LibzmqSideProgram)
	script := "#!/bin/sh\ncat <<'END'\n" + probe + "END\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// What the program's libzmq can do decides, as for the libzmq engine: the
// ws transport, and the batching axes noted as n/a. The topology and the
// patterns are the adapter's own limits.
func TestLibzmqCSupports(t *testing.T) {
	if _, err := os.Stat("/bin/sh"); err != nil {
		t.Skip("no /bin/sh to run a fake side program")
	}
	eng, _ := engines.Lookup(engines.LibzmqCName)
	t.Setenv(engines.LibzmqSideEnv, fakeSideProgram(t, "version 9.8.7\nws error: Protocol not supported\nout_batch_size error: Invalid argument\n"))

	ok, note := eng.Supports(libzmqCCell(matrix.PatternPushPull, matrix.ProtocolTCP))
	axes, why, isNA := sample.ParseNotApplicable(note)
	if !ok || !isNA || !slices.Equal(axes, []string{matrix.AxisOutBatchSize, matrix.AxisWriteBatching}) || !strings.Contains(why, "libzmq 9.8.7") {
		t.Errorf("tcp: %v %q, want supported with out_batch_size and write_batching n/a", ok, note)
	}
	for _, tc := range []struct {
		name string
		tune func(*matrix.Cell)
		want string
	}{
		{"ws", func(c *matrix.Cell) { c.Protocol = matrix.ProtocolWS }, "Protocol not supported"},
		{"processes 1", func(c *matrix.Cell) { c.Processes = 1 }, "processes 2"},
		{"pub-sub", func(c *matrix.Cell) { c.Pattern = matrix.PatternPubSub }, "pub-sub"},
		{"out_batch_size 1", func(c *matrix.Cell) { c.OutBatchSize = 1 }, "ZMQ_OUT_BATCH_SIZE"},
		{"write_batching false", func(c *matrix.Cell) { c.WriteBatching = false }, "write_batching false"},
	} {
		c := libzmqCCell(matrix.PatternPair, matrix.ProtocolTCP)
		tc.tune(&c)
		if ok, reason := eng.Supports(c); ok || !strings.Contains(reason, tc.want) {
			t.Errorf("%s: %v %q, want unsupported saying %q", tc.name, ok, reason, tc.want)
		}
	}

	// A library that takes ZMQ_OUT_BATCH_SIZE runs any out_batch_size.
	t.Setenv(engines.LibzmqSideEnv, fakeSideProgram(t, "version 4.3.5\nws ok\nout_batch_size ok\n"))
	c := libzmqCCell(matrix.PatternPair, matrix.ProtocolWS)
	c.OutBatchSize = 1
	ok, note = eng.Supports(c)
	if axes, _, _ := sample.ParseNotApplicable(note); !ok || !slices.Equal(axes, []string{matrix.AxisWriteBatching}) {
		t.Errorf("draft library, ws, out_batch_size 1: %v %q, want supported with only write_batching n/a", ok, note)
	}

	t.Setenv(engines.LibzmqSideEnv, fakeSideProgram(t, "hello\n"))
	if ok, reason := eng.Supports(c); ok || !strings.Contains(reason, "--probe") {
		t.Errorf("a program that does not answer the probe: %v %q", ok, reason)
	}
}

// The side program gets the whole cell on its command line.
func TestLibzmqCSideCommand(t *testing.T) {
	eng, _ := engines.Lookup(engines.LibzmqCName)
	prog := fakeSideProgram(t, "")
	t.Setenv(engines.LibzmqSideEnv, prog)
	c := libzmqCCell(matrix.PatternDealerRouter, matrix.ProtocolIPC)
	c.Size, c.Sockets = 1024, 3
	c.Workload = matrix.Workload{WarmupMessages: 7, ThroughputDuration: matrix.Duration(1500 * time.Millisecond), LatencyRoundTrips: 9}
	path, args, err := eng.(runner.External).SideCommand(c, sample.RoleReceiver, "/run/zb")
	if err != nil {
		t.Fatal(err)
	}
	want := "--role receiver --pattern dealer-router --protocol ipc --size 1024 --sockets 3 --out-batch-size 8192 " +
		"--warmup 7 --round-trips 9 --ipc-dir /run/zb --duration-ns 1500000000"
	if path != prog || strings.Join(args, " ") != want {
		t.Errorf("command %s %q\nwant    %s %q", path, strings.Join(args, " "), prog, want)
	}
	c.Workload.ThroughputDuration, c.Workload.ThroughputMessages = 0, 5000
	_, args, _ = eng.(runner.External).SideCommand(c, sample.RoleSender, "")
	if got := strings.Join(args, " "); !strings.Contains(got, "--role sender") || !strings.HasSuffix(got, "--messages 5000") ||
		!strings.Contains(got, "--ipc-dir "+os.TempDir()) {
		t.Errorf("sender by count: %q", got)
	}
}
