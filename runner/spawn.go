package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"zbench/host"
	"zbench/matrix"
	"zbench/runner/sample"
)

// exitGrace is how long a worker that has sent its last line may take to
// exit before it is killed, and how long its pipes may stay open after it
// exited (a grandchild holding them).
const exitGrace = 2 * time.Second

// proc is one worker process of a run: its stdin and stdout carry the side
// protocol, its stderr is kept (head and tail), and its exit is watched.
type proc struct {
	name   string // "sender", "receiver" or "worker", for messages
	label  string // "receiver side", "receiver side on HOST"
	remote bool   // the worker runs on another host, behind an ssh client
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string   // stdout, line by line; closed at EOF
	exited chan struct{} // closed once the process was waited for
	quit   chan struct{} // closed when nobody reads lines any more
	stderr *headTail
	waitMu sync.Mutex
	waitEr error
	start  time.Time
}

// startProc starts path with args pinned to cpus (nil: inherited), its own
// process group, and env added to this process's environment.
func startProc(name, path string, args, env []string, cpus host.CPUList, stderrLimit int) (*proc, error) {
	p := &proc{name: name, lines: make(chan string, 16), exited: make(chan struct{}), quit: make(chan struct{}),
		stderr: &headTail{limit: stderrLimit}}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = p.stderr
	// Its own process group: a kill takes the worker and anything it
	// started, and a terminal's Ctrl-C reaches only the parent, which stops
	// the workers itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.WaitDelay = exitGrace
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	// stdout is a pipe of our own, not exec's: Wait must not close it under
	// the reader, which reads every line the worker wrote before it exited.
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout = outW
	p.cmd, p.stdin = cmd, stdin
	p.start = time.Now()
	err = host.StartPinned(cpus, cmd.Start)
	outW.Close()
	if err != nil {
		outR.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.waitMu.Lock()
		p.waitEr = cmd.Wait()
		p.waitMu.Unlock()
		close(p.exited)
	}()
	readDone := make(chan struct{})
	go func() {
		// A grandchild may hold stdout open after the worker exited: give it
		// exitGrace, then kill the group and stop reading.
		select {
		case <-p.exited:
		case <-readDone:
			return
		}
		t := time.NewTimer(exitGrace)
		defer t.Stop()
		select {
		case <-t.C:
			p.kill()
			outR.Close()
		case <-readDone:
		}
	}()
	go func() {
		defer close(p.lines)
		defer close(readDone)
		defer outR.Close()
		sc := bufio.NewScanner(outR)
		sc.Buffer(make([]byte, 64<<10), maxLine)
		for sc.Scan() {
			select {
			case p.lines <- sc.Text():
			case <-p.quit:
				return
			}
		}
	}()
	return p, nil
}

// send writes one line to the worker's stdin. A worker that is gone is
// noticed by its reader; the error is not needed here.
func (p *proc) send(line string) { _, _ = io.WriteString(p.stdin, line+"\n") }

// kill ends the worker's whole process group.
func (p *proc) kill() {
	if p.cmd.Process != nil {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
}

// waitExit waits until the worker exited, killing it after d.
func (p *proc) waitExit(d time.Duration) {
	select {
	case <-p.exited:
		return
	case <-time.After(d):
	}
	p.kill()
	<-p.exited
}

// exitStatus says how the worker ended, with the line of its stderr that
// says why, for error messages.
func (p *proc) exitStatus() string {
	p.waitMu.Lock()
	err := p.waitEr
	p.waitMu.Unlock()
	s := "worker exited with status 0"
	if err != nil {
		s = err.Error()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			s = "worker " + ee.ProcessState.String()
			if p.remote && ee.ExitCode() == 255 {
				s = "the ssh connection to the worker ended (ssh exit status 255: the remote worker was killed, or the host or link went away)"
			}
		}
	}
	if line := keyLine(p.stderr.String()); line != "" {
		s += ": " + line
	}
	return s
}

// usage is what the kernel measured of the exited worker.
func (p *proc) usage() (host.Usage, bool) {
	if p.cmd.ProcessState == nil {
		return host.Usage{}, false
	}
	return host.ChildUsage(p.cmd.ProcessState.SysUsage())
}

// remoteSide is a side run by a worker process of its own; it is the
// coordinator's handle on it.
type remoteSide struct {
	p   *proc
	evc chan event
}

func newRemoteSide(p *proc) *remoteSide {
	r := &remoteSide{p: p, evc: make(chan event, 16)}
	go r.read()
	return r
}

func (r *remoteSide) label() string        { return r.p.label }
func (r *remoteSide) events() <-chan event { return r.evc }
func (r *remoteSide) do(c command)         { r.p.send(c.line()) }

// read turns the worker's lines into events. When they end, the worker has
// exited or is about to: an error event says how, unless its report came.
func (r *remoteSide) read() {
	emit := func(ev event) bool {
		select {
		case r.evc <- ev:
			return true
		case <-r.p.quit:
			return false
		}
	}
	reported := false
	for line := range r.p.lines {
		ev, err := parseEvent(line)
		if err != nil {
			ev = event{kind: evError, err: err}
		}
		if !emit(ev) || ev.kind == evError {
			return
		}
		reported = reported || ev.kind == evReport
	}
	if reported {
		return
	}
	select {
	case <-r.p.exited:
	case <-time.After(exitGrace):
	case <-r.p.quit:
		return
	}
	emit(event{kind: evError, err: errors.New(r.p.exitStatus())})
}

// runOne runs one (cell, run) as its topology says and returns its sample,
// whatever happened to the workers.
func (o *Options) runOne(ctx context.Context, c matrix.Cell, run int, eng Engine) sample.Sample {
	s := sample.Sample{Cell: c.ID(), Run: run, Processes: c.Processes, StartedAt: time.Now().UTC()}
	timeout := time.Duration(c.Workload.Timeout)
	if timeout <= 0 {
		timeout = o.DefaultTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start, mono0 := time.Now(), Mono()

	var procs []*proc
	defer func() {
		for _, p := range procs {
			close(p.quit)
		}
	}()
	spawn := func(role string) (*proc, error) {
		p, err := o.startSide(rctx, c, run, role, eng)
		if err == nil {
			procs = append(procs, p)
		}
		return p, err
	}

	var err error
	var co *coordinator
	var both sample.Sample
	if c.Processes == 1 {
		var p *proc
		if p, err = spawn(sample.RoleBoth); err == nil {
			both, err = awaitSample(rctx, p)
		}
	} else {
		var rxp, txp *proc
		if rxp, err = spawn(sample.RoleReceiver); err == nil {
			if txp, err = spawn(sample.RoleSender); err == nil {
				co = &coordinator{cell: c, rx: newRemoteSide(rxp), tx: newRemoteSide(txp),
					separateClocks: !o.Hosts.SharedClock()}
				err = co.run(rctx)
			}
		}
	}
	if err == nil {
		for _, p := range procs {
			p.waitExit(exitGrace)
		}
	}
	for _, p := range procs {
		select {
		case <-p.exited:
		default:
			p.kill()
			<-p.exited
		}
	}
	s.WallNs = int64(time.Since(start))

	switch {
	case ctx.Err() != nil:
		s.Status, s.Error = sample.StatusInterrupted, "workers stopped by an interrupt"
		return s
	case rctx.Err() != nil:
		s.Status, s.Error = sample.StatusTimeout, fmt.Sprintf("workers killed after the %v timeout", timeout)
		s.Stderr = stderrOf(procs)
		return s
	case err != nil:
		s.Status, s.Error = sample.StatusFailed, err.Error()
		s.Stderr = stderrOf(procs)
		return s
	}

	if c.Processes == 1 {
		if both.Cell != s.Cell {
			s.Status, s.Error = sample.StatusFailed, fmt.Sprintf("worker answered for cell %s", both.Cell)
			return s
		}
		both.Run, both.StartedAt, both.WallNs, both.Processes = run, s.StartedAt, s.WallNs, 1
		s = both
	} else {
		if err := co.assemble(&s); err != nil {
			s.Status, s.Error = sample.StatusFailed, err.Error()
			s.Stderr = stderrOf(procs)
			return s
		}
		s.Status = sample.StatusOK
		if _, note := eng.Supports(c); note != "" {
			s.Notes = append(s.Notes, note)
		}
		if first := co.reports[PhaseThroughput][0].FirstSend; first > mono0 && o.Hosts.of(sample.RoleSender) == "" {
			s.HarnessOverheadNs = first - mono0
		}
	}
	o.addUsage(&s, procs)
	return s
}

// startSide starts the worker of one side (or, for RoleBoth, of the whole
// run) and hands it the job: here, or on the side's host over SSH.
func (o *Options) startSide(ctx context.Context, c matrix.Cell, run int, role string, eng Engine) (*proc, error) {
	cpus := o.CPUs.For(role)
	name := role
	if role == sample.RoleBoth {
		name = "worker"
	}
	dest := o.Hosts.of(role)
	if dest != "" {
		name += " on " + dest
	}
	sideEng, err := sideEngine(eng, role)
	if err != nil {
		return nil, err
	}
	if x, ok := sideEng.(External); ok && role != sample.RoleBoth {
		path, args, err := x.SideCommand(c, role, o.IPCDir)
		if err != nil {
			return nil, fmt.Errorf("%s side: %w", role, err)
		}
		p, err := startProc(name, path, args, o.Env, cpus, o.StderrLimit)
		if err != nil {
			return nil, err
		}
		p.label = role + " side"
		return p, nil
	}
	var jp *JobProfile
	if dest == "" {
		if jp, err = o.Profile.jobProfile(c, run, role); err != nil {
			return nil, fmt.Errorf("%s side: %w", role, err)
		}
	}
	job, err := json.Marshal(Job{Cell: c, Run: run, Role: role, IPCDir: o.IPCDir, Profile: jp,
		BindAddress: o.Hosts.bindAddress(), SeparateClocks: !o.Hosts.SharedClock(), Host: o.Hosts.Name(role)})
	if err != nil {
		return nil, fmt.Errorf("encode job: %w", err)
	}
	path, args := o.Executable, o.WorkerArgs
	if dest != "" {
		r := o.remotes.get(&o.Hosts, dest)
		if err := r.prepare(ctx); err != nil {
			return nil, fmt.Errorf("%s side on %s: %w", role, dest, err)
		}
		// The remote worker's stdin is the SSH channel: when this side
		// goes (killed, interrupted), the channel closes and the worker,
		// reading EOF, stops, so nothing is left running there.
		path, args = "ssh", append(o.Hosts.sshArgs(dest), "--", "exec "+r.path+" worker")
		cpus = nil // pinning applies to this host's workers
	}
	p, err := startProc(name, path, args, o.Env, cpus, o.StderrLimit)
	if err != nil {
		return nil, fmt.Errorf("%s side: %w", role, err)
	}
	p.remote = dest != ""
	p.label = role + " side"
	if p.remote {
		p.label += " on " + dest
	}
	p.send(lineJob + " " + string(job))
	return p, nil
}

// awaitSample reads a whole-run worker's lines until its sample.
func awaitSample(ctx context.Context, p *proc) (sample.Sample, error) {
	var s sample.Sample
	for {
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case line, ok := <-p.lines:
			if !ok {
				select {
				case <-p.exited:
				case <-time.After(exitGrace):
				}
				return s, fmt.Errorf("worker wrote no sample: %s", p.exitStatus())
			}
			verb, rest, _ := strings.Cut(line, " ")
			switch verb {
			case lineSample:
				if err := json.Unmarshal([]byte(rest), &s); err != nil {
					return s, fmt.Errorf("worker wrote a bad sample: %v", err)
				}
				if s.Status != sample.StatusOK {
					return s, fmt.Errorf("worker reported status %q: %s", s.Status, s.Error)
				}
				return s, nil
			case evError:
				return s, fmt.Errorf("worker: %s", rest)
			}
		}
	}
}

// addUsage puts what the kernel measured of each exited worker into the
// sample's sides and totals.
func (o *Options) addUsage(s *sample.Sample, procs []*proc) {
	var r sample.Resources
	for i, p := range procs {
		if i >= len(s.Sides) {
			continue
		}
		sd := &s.Sides[i]
		// Sides are sender then receiver; procs were started receiver first.
		if len(procs) == 2 {
			sd = &s.Sides[1-i]
		}
		// CPU from the kernel's accounting of the exited worker, unless it
		// ran on another host (this host only saw the ssh client). The peak
		// RSS is the one the worker reported of itself (VmHWM): the
		// rusage's ru_maxrss of a child includes its parent's peak.
		if u, ok := p.usage(); ok && !p.remote {
			sd.UserCPUNs, sd.SysCPUNs = int64(u.User), int64(u.Sys)
		}
		r.UserCPUNs += sd.UserCPUNs
		r.SysCPUNs += sd.SysCPUNs
		r.PeakRSSBytes += sd.PeakRSSBytes
		if sd.StartRSSBytes > 0 && sd.PeakRSSBytes > sd.StartRSSBytes {
			r.RSSGrowthBytes += sd.PeakRSSBytes - sd.StartRSSBytes
		}
	}
	if s.WallNs > 0 {
		r.CPUPercent = 100 * float64(r.UserCPUNs+r.SysCPUNs) / float64(s.WallNs)
	}
	if moved := s.MessagesMoved(); moved > 0 {
		r.CPUNsPerMsg = float64(r.UserCPUNs+r.SysCPUNs) / float64(moved)
	}
	r.AffinityMask = o.CPUs.String()
	s.Resources = r
}

func stderrOf(procs []*proc) string {
	var b strings.Builder
	for _, p := range procs {
		if e := p.stderr.String(); strings.TrimSpace(e) != "" {
			fmt.Fprintf(&b, "--- %s stderr ---\n%s\n", p.name, strings.TrimRight(e, "\n"))
		}
	}
	return b.String()
}

// headTail keeps the first and last limit/2 bytes written to it, so that a
// long stderr keeps both the panic message and the end of the trace. It is
// safe for concurrent use.
type headTail struct {
	mu      sync.Mutex
	limit   int
	head    []byte
	tail    []byte
	dropped int64
}

// Write implements io.Writer; it never fails.
func (h *headTail) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
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
	h.mu.Lock()
	defer h.mu.Unlock()
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
