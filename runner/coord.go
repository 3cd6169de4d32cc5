package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"

	"zbench/host"
	"zbench/matrix"
	"zbench/runner/sample"
)

// Operations the coordinator asks of a side, and the events a side answers
// with. Between processes they travel as lines of text (see Work).
const (
	opBind     = "bind"      // receiver: open and bind every socket → evBound
	opConnect  = "connect"   // sender: open and connect to the endpoints → evConnected
	opBegin    = "begin"     // start a phase → evReady, later evDone
	opPeerSeen = "peer-seen" // the other side has seen what this side repeats
	opFinish   = "finish"    // close every socket → evReport; a worker then exits

	evBound     = "bound"
	evConnected = "connected"
	evReady     = "ready"
	evSeen      = "seen"
	evDone      = "done"
	evReport    = "report"
	evError     = "error"
)

// command is one operation for a side.
type command struct {
	op        string
	phase     string
	endpoints []string
	at        int64 // opBegin: an open-loop schedule's start (Mono ns), 0 if none
}

// event is one thing a side reports.
type event struct {
	kind      string
	phase     string
	endpoints []string
	report    PhaseReport
	side      sample.Side // evReport
	err       error       // evError: the side failed or its process ended
}

// sideHandle is how the coordinator drives one side: in this process
// (localSide) or in a worker process of its own (remoteSide).
type sideHandle interface {
	// label names the side in errors: "sender side", "receiver side on
	// HOST".
	label() string
	do(cmd command)
	events() <-chan event
}

// coordinator drives the two sides of one run through its phases, in the
// same order whether the sides are goroutines of this process or processes
// of their own: the receiver binds, the sender connects; then, phase after
// phase, the receiver begins (and says it is ready) before the sender does,
// a side's "seen" is passed on to the other, and the next phase begins only
// once both sides are done.
type coordinator struct {
	cell     matrix.Cell
	tx, rx   sideHandle
	onePhase func(phase string) func() sample.Usage // processes 1: measures the one process per phase
	reports  map[string][2]PhaseReport              // per phase: sender, receiver
	sides    [2]sample.Side
	// separateClocks: the sides run on different hosts, so no figure
	// subtracts one side's clock reading from the other's.
	separateClocks bool
}

func (co *coordinator) other(h sideHandle) sideHandle {
	if h == co.tx {
		return co.rx
	}
	return co.tx
}

// next returns the next event of either side. A side's error ends the run
// with that side named.
func (co *coordinator) next(ctx context.Context) (sideHandle, event, error) {
	var h sideHandle
	var ev event
	select {
	case <-ctx.Done():
		return nil, event{}, ctx.Err()
	case ev = <-co.tx.events():
		h = co.tx
	case ev = <-co.rx.events():
		h = co.rx
	}
	if ev.kind == evError {
		return h, ev, fmt.Errorf("%s: %w", h.label(), ev.err)
	}
	return h, ev, nil
}

// await waits for an event of kind from h. Seen events are passed on; done
// events of the phase are recorded on the way.
func (co *coordinator) await(ctx context.Context, want sideHandle, kind, phase string, done map[sideHandle]bool) (event, error) {
	for {
		h, ev, err := co.next(ctx)
		if err != nil {
			return ev, err
		}
		switch {
		case h == want && ev.kind == kind && ev.phase == phase:
			return ev, nil
		case ev.kind == evSeen:
			co.other(h).do(command{op: opPeerSeen, phase: ev.phase})
		case ev.kind == evDone && ev.phase == phase && done != nil && !done[h]:
			co.record(h, ev)
			done[h] = true
		default:
			return ev, fmt.Errorf("%s: unexpected %q (%s) while waiting for %q", h.label(), ev.kind, ev.phase, kind)
		}
	}
}

func (co *coordinator) record(h sideHandle, ev event) {
	r := co.reports[ev.phase]
	if h == co.tx {
		r[0] = ev.report
	} else {
		r[1] = ev.report
	}
	co.reports[ev.phase] = r
}

// run drives both sides from connection to the final reports.
func (co *coordinator) run(ctx context.Context) error {
	co.reports = map[string][2]PhaseReport{}
	co.rx.do(command{op: opBind})
	bound, err := co.await(ctx, co.rx, evBound, "", nil)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	co.tx.do(command{op: opConnect, endpoints: bound.endpoints})
	if _, err := co.await(ctx, co.tx, evConnected, "", nil); err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	for _, ph := range phasesOf(co.cell) {
		if err := co.phase(ctx, ph); err != nil {
			return fmt.Errorf("%s: %w", ph, err)
		}
	}
	co.tx.do(command{op: opFinish})
	co.rx.do(command{op: opFinish})
	for range 2 {
		h, ev, err := co.next(ctx)
		if err != nil {
			return fmt.Errorf("finish: %w", err)
		}
		if ev.kind != evReport {
			return fmt.Errorf("finish: %s: unexpected %q", h.label(), ev.kind)
		}
		if h == co.tx {
			co.sides[0] = ev.side
		} else {
			co.sides[1] = ev.side
		}
	}
	return nil
}

// phase runs one phase on both sides.
func (co *coordinator) phase(ctx context.Context, ph string) error {
	var measured func() sample.Usage
	if co.onePhase != nil {
		measured = co.onePhase(ph)
	}
	done := map[sideHandle]bool{}
	var at int64
	if ph == PhaseThroughput && co.cell.Rate > 0 && !co.separateClocks {
		at = Mono() + int64(scheduleLead)
	}
	co.rx.do(command{op: opBegin, phase: ph, at: at})
	if _, err := co.await(ctx, co.rx, evReady, ph, done); err != nil {
		return err
	}
	co.tx.do(command{op: opBegin, phase: ph, at: at})
	if _, err := co.await(ctx, co.tx, evReady, ph, done); err != nil {
		return err
	}
	for !done[co.tx] || !done[co.rx] {
		h, ev, err := co.next(ctx)
		if err != nil {
			return err
		}
		switch {
		case ev.kind == evSeen:
			co.other(h).do(command{op: opPeerSeen, phase: ev.phase})
		case ev.kind == evDone && ev.phase == ph && !done[h]:
			co.record(h, ev)
			done[h] = true
		default:
			return fmt.Errorf("%s: unexpected %q (%s)", h.label(), ev.kind, ev.phase)
		}
	}
	if measured != nil {
		u := measured()
		r := co.reports[ph]
		tel := r[0].Usage.Telemetry.Plus(r[1].Usage.Telemetry)
		r[0].Usage, r[1].Usage = u, sample.Usage{}
		r[0].Usage.Telemetry = tel
		co.reports[ph] = r
	}
	return nil
}

// assemble turns what the sides reported into the run's sample: the
// measurement sections, per-side figures and totals. It fails a reliable
// pattern that lost messages.
func (co *coordinator) assemble(s *sample.Sample) error {
	c := co.cell
	tp := co.reports[PhaseThroughput]
	tx, rx := tp[0], tp[1]
	t := &s.Throughput
	var first, last, recvFirst int64
	if patternSpecs[c.Pattern].stream {
		t.Messages, t.Sent = rx.Received, tx.Sent
		first, last, recvFirst = tx.FirstSend, rx.LastRecv, rx.FirstRecv
	} else {
		t.Messages, t.Sent = tx.Received, tx.Sent
		first, last, recvFirst = tx.FirstSend, tx.LastRecv, tx.FirstRecv
	}
	if co.separateClocks {
		// No clock is read by both sides: time the rate on the receiver's.
		first, t.Clock = recvFirst, "receiver"
	}
	t.Dropped = t.Sent - t.Messages
	if !patternSpecs[c.Pattern].lossy && t.Dropped != 0 {
		return fmt.Errorf("throughput: %w: received %d of %d", ErrLostMessages, t.Messages, t.Sent)
	}
	t.Bytes = t.Messages * int64(c.Size)
	if t.Messages > 0 && last > first {
		t.Seconds = float64(last-first) / 1e9
	}
	if last > recvFirst && recvFirst > 0 {
		t.RecvSeconds = float64(last-recvFirst) / 1e9
	}
	if tx.LastSend > tx.FirstSend {
		t.SendSeconds = float64(tx.LastSend-tx.FirstSend) / 1e9
	}
	t.Problem = throughputProblem(c, *t)
	if t.Problem == "" && t.Seconds > 0 {
		t.MsgsPerSec = float64(t.Messages) / t.Seconds
		t.MBPerSec = float64(t.Bytes) / t.Seconds / 1e6
	}
	if l := co.reports[PhaseLatency][0].Latency; l != nil {
		s.Latency = *l
	}
	load := rx.Load
	if tx.Load != nil {
		load = tx.Load // open-loop round trips, timed by the sender
	}
	if l := load; l != nil && c.Rate > 0 {
		ld := *l
		ld.MaxLagNs, ld.Unsent = tx.ScheduleLagNs, tx.Unsent
		if phase := tx.LastIntended - tx.FirstSend; tx.LastIntended > 0 {
			ld.Behind = tx.Unsent > 0 || tx.LastSend-tx.LastIntended > behindSlack(phase)
		}
		s.Load = &ld
	}

	roles := []string{sample.RoleSender, sample.RoleReceiver}
	n := 2
	if co.onePhase != nil {
		n = 1
		co.sides[0].Role = sample.RoleBoth
	}
	s.Sides = nil
	for i := range n {
		sd := co.sides[i]
		if co.onePhase == nil {
			sd.Role = roles[i]
		}
		sd.Throughput = co.reports[PhaseThroughput][i].Usage
		sd.Latency = co.reports[PhaseLatency][i].Usage
		s.Sides = append(s.Sides, sd)
	}
	tel0, tel1 := tp[0].Usage.Telemetry, tp[1].Usage.Telemetry
	lat := co.reports[PhaseLatency]
	if n == 1 {
		s.Engine, s.LatencyEngine = tel0, lat[0].Usage.Telemetry
	} else {
		s.Engine, s.LatencyEngine = tel0.Plus(tel1), lat[0].Usage.Telemetry.Plus(lat[1].Usage.Telemetry)
	}
	var rt sample.Runtime
	for _, sd := range s.Sides {
		rt = rt.Plus(sd.Throughput.Runtime).Plus(sd.Latency.Runtime)
	}
	if moved := s.MessagesMoved(); moved > 0 && rt.Reported {
		rt.AllocsPerMsg = float64(rt.Mallocs) / float64(moved)
	}
	s.Runtime = rt
	s.Processes = c.Processes
	return nil
}

// throughputProblem says why a throughput phase measured no rate, or "".
func throughputProblem(c matrix.Cell, t sample.Throughput) string {
	if t.Messages == 0 {
		return "no message was delivered"
	}
	if d := time.Duration(t.Seconds * 1e9); d < matrix.MinThroughputPhase {
		return fmt.Sprintf("the phase lasted %v, under the %v a rate needs: it measures how fast socket buffers drain, not the send path; stream longer (throughput_duration)", d.Round(time.Microsecond), matrix.MinThroughputPhase)
	}
	if w := c.Workload; w.ThroughputMessages > 0 && patternSpecs[c.Pattern].stream && c.Rate == 0 {
		perPair := int64(w.ThroughputMessages) * int64(c.Size+matrix.FrameOverhead)
		if buf := host.SocketBufferBytes(c.Protocol); buf > 0 && perPair <= buf {
			return fmt.Sprintf("%d messages of %d B per pair (%d B) fit in the kernel's socket buffers (%d B): the rate would be a drain; use throughput_duration or more messages",
				w.ThroughputMessages, c.Size, perPair, buf)
		}
	}
	return ""
}

// localSide is a side run by goroutines of this process.
type localSide struct {
	sd   *side
	evc  chan event
	mu   sync.Mutex
	seen map[string]chan struct{} // per phase, closed by opPeerSeen
	wg   sync.WaitGroup
	// measure, if set, adds the process's own usage over each phase to its
	// report (a worker process that runs one side).
	measure bool
	start   int64 // RSS at start-up
	// prof, if set, profiles the measured phases (a worker that runs one
	// side).
	prof *profiler
}

func newLocalSide(sd *side, measure bool) *localSide {
	l := &localSide{sd: sd, evc: make(chan event, 16), seen: map[string]chan struct{}{}, measure: measure}
	if rss, err := host.RSS(); err == nil {
		l.start = rss
	}
	return l
}

func (l *localSide) label() string        { return l.sd.role + " side" }
func (l *localSide) events() <-chan event { return l.evc }
func (l *localSide) emit(ev event)        { l.evc <- ev }
func (l *localSide) fail(err error)       { l.emit(event{kind: evError, err: err}) }
func (l *localSide) wait()                { l.wg.Wait() }
func (l *localSide) goDo(fn func())       { l.wg.Go(fn) }
func (l *localSide) peerSeen(ph string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.seen[ph]
	if !ok {
		c = make(chan struct{})
		l.seen[ph] = c
	}
	return c
}

// do carries out cmd; its events follow on the channel. Slow operations
// run in goroutines of their own so that opPeerSeen is taken at once.
func (l *localSide) do(cmd command) {
	switch cmd.op {
	case opBind:
		l.goDo(func() {
			eps, err := l.sd.bind()
			if err != nil {
				l.fail(err)
				return
			}
			l.emit(event{kind: evBound, endpoints: eps})
		})
	case opConnect:
		l.goDo(func() {
			if err := l.sd.connect(cmd.endpoints); err != nil {
				l.fail(err)
				return
			}
			l.emit(event{kind: evConnected})
		})
	case opBegin:
		if cmd.phase == PhaseThroughput {
			if err := l.prof.start(); err != nil {
				l.fail(err)
				return
			}
		}
		var snap usageSnap
		if l.measure {
			snap = takeUsage()
		}
		tel0 := l.sd.telemetry()
		stop := l.peerSeen(cmd.phase)
		l.emit(event{kind: evReady, phase: cmd.phase})
		l.goDo(func() {
			ph := cmd.phase
			r, err := l.sd.phase(ph, cmd.at, stop, func() { l.emit(event{kind: evSeen, phase: ph}) })
			if err != nil {
				l.fail(err)
				return
			}
			if l.measure {
				r.Usage = snap.until(takeUsage())
			}
			r.Usage.Telemetry = l.sd.telemetry().Minus(tel0)
			if ph == PhaseLatency {
				if err := l.prof.stop(); err != nil {
					l.fail(err)
					return
				}
			}
			l.emit(event{kind: evDone, phase: ph, report: r})
		})
	case opPeerSeen:
		c := l.peerSeen(cmd.phase)
		l.mu.Lock()
		select {
		case <-c:
		default:
			close(c)
		}
		l.mu.Unlock()
	case opFinish:
		l.sd.close()
		l.goDo(func() { l.emit(event{kind: evReport, side: l.describe()}) })
	}
}

// describe is the side's own part of its sample.Side.
func (l *localSide) describe() sample.Side {
	s := sample.Side{
		Role:          l.sd.role,
		Engine:        l.sd.eng.Name(),
		PID:           os.Getpid(),
		GOMAXPROCS:    runtime.GOMAXPROCS(0),
		StartRSSBytes: l.start,
	}
	if mask, err := host.Affinity(); err == nil {
		s.Affinity = mask.String()
	}
	// The worker's own totals so far; the parent replaces them with the
	// exited process's rusage when it is the worker's parent (not across
	// SSH, where its child is the ssh client).
	if u, err := host.SelfUsage(); err == nil {
		s.UserCPUNs, s.SysCPUNs, s.PeakRSSBytes = int64(u.User), int64(u.Sys), u.PeakRSSBytes
	}
	return s
}

// usageSnap is the process's usage at one instant.
type usageSnap struct {
	ru      host.Usage
	rss     int64
	gc      uint32
	pause   uint64
	mallocs uint64
}

func takeUsage() usageSnap {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	u := usageSnap{gc: ms.NumGC, pause: ms.PauseTotalNs, mallocs: ms.Mallocs}
	u.ru, _ = host.SelfUsage()
	u.rss, _ = host.RSS()
	return u
}

// until is the usage between a (earlier) and b.
func (a usageSnap) until(b usageSnap) sample.Usage {
	return sample.Usage{
		UserCPUNs:    int64(b.ru.User - a.ru.User),
		SysCPUNs:     int64(b.ru.Sys - a.ru.Sys),
		PeakRSSBytes: b.ru.PeakRSSBytes,
		RSSBytes:     b.rss,
		Runtime: sample.Runtime{
			Reported:  true,
			GCCycles:  b.gc - a.gc,
			GCPauseNs: b.pause - a.pause,
			Mallocs:   b.mallocs - a.mallocs,
		},
	}
}

// RunCell runs one cell with both sides in this process, as a run with
// processes 1 does: the sides are goroutines driven by the same coordinator
// as two worker processes, and the process's own usage is measured per
// phase. Cancelling ctx closes every socket and ends the run with an error.
func RunCell(ctx context.Context, eng Engine, c matrix.Cell, o CellOptions) (sample.Sample, error) {
	var s sample.Sample
	if err := checkWorkload(c); err != nil {
		return s, err
	}
	if _, err := specFor(c.Pattern); err != nil {
		return s, err
	}
	txSide, err := newSide(sample.RoleSender, eng, c, o)
	if err != nil {
		return s, err
	}
	rxSide, err := newSide(sample.RoleReceiver, eng, c, o)
	if err != nil {
		return s, err
	}
	tx, rx := newLocalSide(txSide, false), newLocalSide(rxSide, false)
	defer func() {
		txSide.close()
		rxSide.close()
		drain(tx)
		drain(rx)
	}()
	co := &coordinator{cell: c, tx: tx, rx: rx, separateClocks: o.SeparateClocks}
	prof := &profiler{jp: o.Profile}
	var profErr error
	co.onePhase = func(ph string) func() sample.Usage {
		if ph == PhaseThroughput {
			profErr = errors.Join(profErr, prof.start())
		}
		snap := takeUsage()
		return func() sample.Usage {
			u := snap.until(takeUsage())
			if ph == PhaseLatency {
				profErr = errors.Join(profErr, prof.stop())
			}
			return u
		}
	}
	defer func() { _ = prof.stop() }()
	stop := context.AfterFunc(ctx, func() { txSide.close(); rxSide.close() })
	defer stop()
	err = co.run(ctx)
	if cerr := ctx.Err(); cerr != nil {
		if err != nil && !errors.Is(err, cerr) {
			return s, fmt.Errorf("%w (%v)", cerr, err)
		}
		return s, cerr
	}
	if err != nil {
		return s, err
	}
	if profErr != nil {
		return s, profErr
	}
	if err := co.assemble(&s); err != nil {
		return s, err
	}
	s.Sides[0].Engine = eng.Name()
	s.Processes = 1
	return s, nil
}

// drain waits for a local side's goroutines, discarding their events.
func drain(l *localSide) {
	done := make(chan struct{})
	go func() { l.wait(); close(done) }()
	for {
		select {
		case <-l.evc:
		case <-done:
			return
		}
	}
}
