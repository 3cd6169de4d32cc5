package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"

	"zbench/matrix"
)

// waitDelay bounds how long Wait waits for the worker's pipes once it exited
// (a grandchild holding them open).
const waitDelay = 2 * time.Second

// spawn runs one (cell, run) in a fresh worker process and returns its
// sample, whatever happened to the worker.
func (o *Options) spawn(ctx context.Context, c matrix.Cell, run int) Sample {
	s := Sample{Cell: c.ID(), Run: run}
	job, err := json.Marshal(Job{Cell: c, Run: run, IPCDir: o.IPCDir})
	if err != nil {
		s.Status, s.Error = StatusFailed, fmt.Sprintf("encode job: %v", err)
		return s
	}
	timeout := time.Duration(c.Workload.Timeout)
	if timeout <= 0 {
		timeout = o.DefaultTimeout
	}

	cmd := exec.Command(o.Executable, o.WorkerArgs...)
	cmd.Stdin = bytes.NewReader(job)
	var stdout bytes.Buffer
	stderr := &headTail{limit: o.StderrLimit}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.Env = append(os.Environ(), o.Env...)
	// Its own process group: a timeout kills the worker and anything it
	// started, and a terminal's Ctrl-C reaches only the parent, which stops
	// the worker itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = waitDelay

	start := time.Now()
	s.StartedAt = start.UTC()
	if err := withAffinity(o.CPUs, cmd.Start); err != nil {
		s.Status, s.Error = StatusFailed, fmt.Sprintf("start worker: %v", err)
		return s
	}
	waitc := make(chan error, 1)
	go func() { waitc <- cmd.Wait() }()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	killGroup := func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }

	var waitErr error
	status := ""
	select {
	case waitErr = <-waitc:
	case <-timer.C:
		killGroup()
		waitErr = <-waitc
		status = StatusTimeout
	case <-ctx.Done():
		killGroup()
		waitErr = <-waitc
		status = StatusInterrupted
	}
	s.WallNs = int64(time.Since(start))
	if ps := cmd.ProcessState; ps != nil {
		s.Resources = rusageOf(ps)
		if s.WallNs > 0 {
			cpu := s.Resources.UserCPUNs + s.Resources.SysCPUNs
			s.Resources.CPUPercent = 100 * float64(cpu) / float64(s.WallNs)
		}
	}

	switch {
	case status == StatusTimeout:
		s.Status, s.Error = StatusTimeout, fmt.Sprintf("worker killed after the %v timeout", timeout)
		s.Stderr = stderr.String()
		return s
	case status == StatusInterrupted:
		s.Status, s.Error = StatusInterrupted, "worker stopped by an interrupt"
		return s
	case waitErr != nil:
		s.Status = StatusFailed
		s.Error = fmt.Sprintf("worker: %v", waitErr)
		if line := keyLine(stderr.String()); line != "" {
			s.Error += ": " + line
		}
		s.Stderr = stderr.String()
		return s
	}

	var got Sample
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil || got.Status != StatusOK || got.Cell != s.Cell {
		s.Status = StatusFailed
		switch {
		case err != nil:
			s.Error = fmt.Sprintf("worker wrote no sample: %v", err)
		case got.Status != StatusOK:
			s.Error = fmt.Sprintf("worker reported status %q: %s", got.Status, got.Error)
		default:
			s.Error = fmt.Sprintf("worker answered for cell %s", got.Cell)
		}
		s.Stderr = stderr.String()
		return s
	}
	res := s.Resources
	res.AffinityMask = got.Resources.AffinityMask
	got.Resources = res
	got.Run, got.StartedAt, got.WallNs = run, s.StartedAt, s.WallNs
	if got.FirstMessageUnixNs > 0 {
		got.HarnessOverheadNs = got.FirstMessageUnixNs - start.UnixNano()
	}
	if moved := got.MessagesMoved(); moved > 0 {
		got.Resources.CPUNsPerMsg = float64(res.UserCPUNs+res.SysCPUNs) / float64(moved)
	}
	return got
}

// rusageOf reads what the kernel measured of the exited worker.
func rusageOf(ps *os.ProcessState) Resources {
	var r Resources
	r.UserCPUNs = int64(ps.UserTime())
	r.SysCPUNs = int64(ps.SystemTime())
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		rss := int64(ru.Maxrss)
		if runtime.GOOS == "linux" {
			rss *= 1024 // KiB on Linux
		}
		r.PeakRSSBytes = rss
	}
	return r
}

// headTail keeps the first and last limit/2 bytes written to it, so that a
// long stderr keeps both the panic message and the end of the trace.
type headTail struct {
	limit   int
	head    []byte
	tail    []byte
	dropped int64
}

// Write implements io.Writer; it never fails.
func (h *headTail) Write(p []byte) (int, error) {
	n := len(p)
	half := h.limit / 2
	if room := half - len(h.head); room > 0 {
		k := min(room, len(p))
		h.head = append(h.head, p[:k]...)
		p = p[k:]
	}
	if len(p) == 0 {
		return n, nil
	}
	h.tail = append(h.tail, p...)
	if over := len(h.tail) - (h.limit - half); over > 0 {
		h.dropped += int64(over)
		h.tail = append(h.tail[:0], h.tail[over:]...)
	}
	return n, nil
}

// String returns what was kept, with a marker where bytes were dropped.
func (h *headTail) String() string {
	if h.dropped == 0 {
		return string(h.head) + string(h.tail)
	}
	return fmt.Sprintf("%s\n… [%d bytes trimmed] …\n%s", h.head, h.dropped, h.tail)
}

// keyLine picks the line of a worker's stderr that says what went wrong: a
// Go panic or fatal error line if there is one, else the last non-empty line.
func keyLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}
