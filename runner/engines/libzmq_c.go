package engines

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"zbench/matrix"
	"zbench/runner"
	"zbench/runner/sample"
)

// LibzmqCName is the engine name of the libzmq-c adapter.
const LibzmqCName = matrix.EngineLibzmqC

// LibzmqSideEnv names the environment variable that points at the C side
// program of the libzmq-c engine; unset, the program is LibzmqSideProgram
// next to the running executable.
const LibzmqSideEnv = "ZBENCH_LIBZMQ_SIDE"

// LibzmqSideProgram is the file name of the C side program (built by
// `make build` from tools/libzmq-thr/zb_side.c).
const LibzmqSideProgram = "zbench-libzmq-side"

func init() { register(LibzmqC{}) }

// LibzmqC is the libzmq-c engine: libzmq driven by a plain C program per
// side (tools/libzmq-thr/zb_side.c), with no Go in the process. It is the
// reference row of the libzmq engine: both run the same loops
// (libzmq_loops.h), the same sockets and options (a context per socket,
// linger 0, default high-water marks), the same phases and control
// messages, so that what differs between their figures is the hosting
// process. The program speaks the side protocol (runner.Work) on its stdin
// and stdout, measures its own CPU and memory per phase and reports no Go
// runtime figures and no engine telemetry.
//
// This adapter only runs that program, so it builds without the libzmq tag;
// a cell is unsupported, saying how to build the program, when it is
// missing. Its sides run in processes of their own only (processes 2), and
// the patterns are the reliable ones: pair, push-pull, req-rep,
// dealer-router.
type LibzmqC struct{}

var _ runner.External = LibzmqC{}

// Name implements runner.Engine.
func (LibzmqC) Name() string { return LibzmqCName }

// libzmqCPatterns are the patterns the C side program runs.
var libzmqCPatterns = []string{matrix.PatternPair, matrix.PatternPushPull, matrix.PatternReqRep, matrix.PatternDealerRouter}

// Supports implements runner.Engine.
func (LibzmqC) Supports(c matrix.Cell) (bool, string) {
	if c.Processes != 2 {
		return false, fmt.Sprintf("libzmq-c runs each side as a C program of its own (processes 2); processes %d would put both sides in one zbench worker, with Go in the process", c.Processes)
	}
	known := false
	for _, p := range libzmqCPatterns {
		known = known || p == c.Pattern
	}
	if !known {
		return false, fmt.Sprintf("libzmq-c: the C side program has no %s (it runs %s)", c.Pattern, strings.Join(libzmqCPatterns, ", "))
	}
	path, err := libzmqSidePath()
	if err != nil {
		return false, err.Error()
	}
	caps, err := probeLibzmqSide(path)
	if err != nil {
		return false, err.Error()
	}
	return caps.verdict(c)
}

// NewSocket implements runner.Engine. The engine's sockets live in its C
// side programs, never in this process.
func (LibzmqC) NewSocket(kind string, _ runner.SocketOptions) (runner.Socket, error) {
	return nil, fmt.Errorf("engines: libzmq-c opens its %s sockets in its C side programs, not in zbench", kind)
}

// SideCommand implements runner.External: the C side program with the cell
// as arguments.
func (LibzmqC) SideCommand(c matrix.Cell, role, ipcDir string) (string, []string, error) {
	path, err := libzmqSidePath()
	if err != nil {
		return "", nil, err
	}
	if role != sample.RoleSender && role != sample.RoleReceiver {
		return "", nil, fmt.Errorf("engines: libzmq-c: role %q (allowed: sender, receiver)", role)
	}
	if ipcDir == "" {
		ipcDir = os.TempDir()
	}
	return path, LibzmqSideArgs(c, role, ipcDir), nil
}

// LibzmqSideArgs are the C side program's arguments for one side of a cell:
// every setting as --name value.
func LibzmqSideArgs(c matrix.Cell, role, ipcDir string) []string {
	w := c.Workload
	args := []string{
		"--role", role,
		"--pattern", c.Pattern,
		"--protocol", c.Protocol,
		"--size", strconv.Itoa(c.Size),
		"--sockets", strconv.Itoa(c.Sockets),
		"--out-batch-size", strconv.Itoa(c.OutBatchSize),
		"--warmup", strconv.Itoa(w.WarmupMessages),
		"--round-trips", strconv.Itoa(w.LatencyRoundTrips),
		"--ipc-dir", ipcDir,
	}
	if w.ThroughputMessages > 0 {
		return append(args, "--messages", strconv.Itoa(w.ThroughputMessages))
	}
	return append(args, "--duration-ns", strconv.FormatInt(int64(time.Duration(w.ThroughputDuration)), 10))
}

// errNoSideProgram is returned when the C side program cannot be found.
var errNoSideProgram = errors.New("libzmq-c: C side program not found")

// libzmqSidePath finds the C side program: $ZBENCH_LIBZMQ_SIDE, else
// zbench-libzmq-side next to the running executable.
func libzmqSidePath() (string, error) {
	const hint = "build it with `make build` (needs cc and libzmq3-dev: apt-get install -y libzmq3-dev), or point " +
		LibzmqSideEnv + " at it"
	if p := os.Getenv(LibzmqSideEnv); p != "" {
		if err := isProgram(p); err != nil {
			return "", fmt.Errorf("%w: %s=%s: %v; %s", errNoSideProgram, LibzmqSideEnv, p, err, hint)
		}
		return p, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("%w: cannot locate the running executable (%v); %s", errNoSideProgram, err, hint)
	}
	p := filepath.Join(filepath.Dir(exe), LibzmqSideProgram)
	if err := isProgram(p); err != nil {
		return "", fmt.Errorf("%w: no %s next to %s; %s", errNoSideProgram, LibzmqSideProgram, exe, hint)
	}
	return p, nil
}

func isProgram(p string) error {
	fi, err := os.Stat(p)
	switch {
	case err != nil:
		return err
	case fi.IsDir():
		return errors.New("a directory")
	case fi.Mode().Perm()&0o111 == 0:
		return errors.New("not executable")
	}
	return nil
}

// probeTimeout bounds the side program's --probe run.
const probeTimeout = 10 * time.Second

var sideProbes sync.Map // path → func() (libzmqCaps, error)

// probeLibzmqSide asks the program at path, once per path, what its libzmq
// can do (`--probe`).
func probeLibzmqSide(path string) (libzmqCaps, error) {
	f, _ := sideProbes.LoadOrStore(path, sync.OnceValues(func() (libzmqCaps, error) {
		ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
		defer cancel()
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, path, "--probe")
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return libzmqCaps{}, fmt.Errorf("libzmq-c: %s --probe: %v %s", path, err, strings.TrimSpace(stderr.String()))
		}
		caps, err := parseLibzmqProbe(string(out))
		if err != nil {
			return caps, fmt.Errorf("libzmq-c: %s --probe: %w", path, err)
		}
		return caps, nil
	}))
	return f.(func() (libzmqCaps, error))()
}

// parseLibzmqProbe reads the probe's lines: "version X.Y.Z", then
// "ws ok" or "ws error: WHY", and likewise "out_batch_size".
func parseLibzmqProbe(out string) (libzmqCaps, error) {
	var caps libzmqCaps
	seen := map[string]bool{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		key, val, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		var res error
		if why, failed := strings.CutPrefix(val, "error: "); failed {
			res = errors.New(why)
		} else if val != "ok" && key != "version" {
			return caps, fmt.Errorf("unreadable line %q", sc.Text())
		}
		switch key {
		case "version":
			caps.version = val
		case "ws":
			caps.ws = res
		case "out_batch_size":
			caps.outBatchSize = res
		default:
			continue
		}
		seen[key] = true
	}
	if !seen["version"] || !seen["ws"] || !seen["out_batch_size"] {
		return caps, fmt.Errorf("want lines version, ws and out_batch_size, got %q", out)
	}
	return caps, nil
}
