package runner

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"zbench/matrix"
	"zbench/runner/sample"
)

// Job is what the parent hands a worker as the first line of the side
// protocol ("job {Job}"): one side, or both, of one run of one cell.
type Job struct {
	Cell matrix.Cell `json:"cell"`
	Run  int         `json:"run"` // 1-based
	// Role is sample.RoleSender or sample.RoleReceiver for a worker that runs
	// one side (processes 2), sample.RoleBoth for one that runs the whole
	// cell (processes 1).
	Role string `json:"role"`
	// IPCDir is the directory of ipc endpoints; "" means os.TempDir().
	IPCDir string `json:"ipc_dir,omitempty"`
	// Profile names the profiles to write of the measured phases, if any.
	Profile *JobProfile `json:"profile,omitempty"`
	// BindAddress is where the receiver binds its data sockets; "" means
	// 127.0.0.1.
	BindAddress string `json:"bind_address,omitempty"`
	// SeparateClocks is set when the sides run on different hosts: no
	// figure may subtract one side's clock from the other's.
	SeparateClocks bool `json:"separate_clocks,omitempty"`
	// Host is the host the worker runs on, as the results name it.
	Host string `json:"host,omitempty"`
}

// ErrBadJob is returned by Work for a job it cannot read or run.
var ErrBadJob = errors.New("runner: bad job")

// maxLine bounds one line of the side protocol (a sample with its notes).
const maxLine = 16 << 20

// Work is the worker process's whole life. It reads the job line from in,
// then:
//   - for RoleBoth, runs the whole cell in this process and writes
//     "sample {sample.Sample}";
//   - for RoleSender or RoleReceiver, opens that side's sockets and serves
//     the side protocol (see proto.go): commands from in, events to out,
//     measuring its own CPU, memory and Go runtime per phase, until
//     "finish", answered with "report".
//
// A failure is written as "error MESSAGE" and returned; the worker then
// exits non-zero.
func Work(ctx context.Context, in io.Reader, out io.Writer, lookup Lookup) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	lw := &lineWriter{w: out}
	job, err := readJob(sc)
	if err != nil {
		lw.error(err)
		return err
	}
	eng, note, err := jobEngine(job, lookup)
	if err != nil {
		lw.error(err)
		return err
	}
	mem := startMemSampler(MemInterval)
	defer mem.stop()
	if job.Role == sample.RoleBoth {
		s, err := RunCell(ctx, eng, job.Cell, CellOptions{IPCDir: job.IPCDir, Profile: job.Profile})
		series := mem.stop()
		if err != nil {
			err = fmt.Errorf("cell %s run %d: %w", job.Cell.ID(), job.Run, err)
			lw.error(err)
			return err
		}
		s.Sides[0].Memory, s.Sides[0].SeriesPeakRSSBytes = series, sample.PeakRSS(series)
		s.Cell, s.Run, s.Status = job.Cell.ID(), job.Run, sample.StatusOK
		if note != "" {
			s.Notes = append(s.Notes, note)
		}
		line, err := sampleLine(s)
		if err != nil {
			return fmt.Errorf("runner: write sample: %w", err)
		}
		return lw.write(line)
	}
	return serve(ctx, sc, lw, job, eng, mem)
}

func readJob(sc *bufio.Scanner) (Job, error) {
	var job Job
	if !sc.Scan() {
		if err := sc.Err(); err != nil {
			return job, fmt.Errorf("%w: read: %v", ErrBadJob, err)
		}
		return job, fmt.Errorf("%w: no job line", ErrBadJob)
	}
	verb, rest, _ := strings.Cut(sc.Text(), " ")
	if verb != lineJob {
		return job, fmt.Errorf("%w: first line %q, want \"job {...}\"", ErrBadJob, truncate(sc.Text(), 80))
	}
	dec := json.NewDecoder(strings.NewReader(rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&job); err != nil {
		return job, fmt.Errorf("%w: decode: %v", ErrBadJob, err)
	}
	if !slices.Contains([]string{sample.RoleSender, sample.RoleReceiver, sample.RoleBoth}, job.Role) {
		return job, fmt.Errorf("%w: role %q (allowed: sender, receiver, both)", ErrBadJob, job.Role)
	}
	return job, nil
}

// jobEngine finds the job's engine and checks that it runs the cell; note
// is the engine's remark about the cell, if any.
func jobEngine(job Job, lookup Lookup) (Engine, string, error) {
	c := job.Cell
	if lookup == nil {
		return nil, "", fmt.Errorf("%w: no engines", ErrBadJob)
	}
	eng, ok := lookup(c.Engine)
	if !ok {
		return nil, "", fmt.Errorf("%w: unknown engine %q", ErrBadJob, c.Engine)
	}
	supported, note := eng.Supports(c)
	if !supported {
		return nil, "", fmt.Errorf("%w: unsupported: %s", ErrBadJob, note)
	}
	if err := checkWorkload(c); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadJob, err)
	}
	if _, err := specFor(c.Pattern); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrBadJob, err)
	}
	return eng, note, nil
}

// serve runs one side of a run in this process under the side protocol.
func serve(ctx context.Context, sc *bufio.Scanner, lw *lineWriter, job Job, eng Engine, mem *memSampler) error {
	sd, err := newSide(job.Role, eng, job.Cell, CellOptions{IPCDir: job.IPCDir, BindAddress: job.BindAddress, SeparateClocks: job.SeparateClocks})
	if err != nil {
		lw.error(err)
		return err
	}
	l := newLocalSide(sd, true)
	l.prof = &profiler{jp: job.Profile}
	defer func() {
		sd.close()
		drain(l)
	}()
	stop := context.AfterFunc(ctx, sd.close)
	defer stop()

	cmds := make(chan command)
	errc := make(chan error, 1)
	go func() {
		for sc.Scan() {
			c, err := parseCommand(sc.Text())
			if err != nil {
				errc <- err
				return
			}
			cmds <- c
		}
		if err := sc.Err(); err != nil {
			errc <- fmt.Errorf("%w: read: %v", ErrProtocol, err)
			return
		}
		errc <- fmt.Errorf("%w: the coordinator closed the protocol before finish", ErrProtocol)
	}()
	for {
		select {
		case <-ctx.Done():
			lw.error(ctx.Err())
			return ctx.Err()
		case err := <-errc:
			lw.error(err)
			return err
		case c := <-cmds:
			if (c.op == opBind) != (job.Role == sample.RoleReceiver) && (c.op == opBind || c.op == opConnect) {
				err := fmt.Errorf("%w: %s side cannot %s", ErrProtocol, job.Role, c.op)
				lw.error(err)
				return err
			}
			l.do(c)
		case ev := <-l.evc:
			if ev.kind == evReport {
				ev.side.Engine = sd.eng.Name()
				ev.side.Host = job.Host
				ev.side.Memory = mem.stop()
				ev.side.SeriesPeakRSSBytes = sample.PeakRSS(ev.side.Memory)
			}
			line, err := ev.line()
			if err == nil {
				err = lw.write(line)
			}
			if err != nil {
				return fmt.Errorf("runner: write event: %w", err)
			}
			switch ev.kind {
			case evError:
				return ev.err
			case evReport:
				return nil
			}
		}
	}
}

// lineWriter writes whole lines of the side protocol.
type lineWriter struct {
	w io.Writer
}

func (lw *lineWriter) write(line string) error {
	_, err := io.WriteString(lw.w, line+"\n")
	return err
}

// error writes an error event, best effort: the worker is failing anyway.
func (lw *lineWriter) error(err error) {
	line, _ := event{kind: evError, err: err}.line()
	_ = lw.write(line)
}
