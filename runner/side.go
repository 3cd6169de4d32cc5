package runner

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"zbench/matrix"
	"zbench/runner/sample"
)

// Phases of a run, in order. sync runs only on lossy (pub-sub) links.
const (
	PhaseSync       = "sync"
	PhaseWarmup     = "warmup"
	PhaseThroughput = "throughput"
	PhaseLatency    = "latency"
)

// phasesOf lists the phases a cell's run goes through.
func phasesOf(c matrix.Cell) []string {
	if patternSpecs[c.Pattern].lossy {
		return []string{PhaseSync, PhaseWarmup, PhaseThroughput, PhaseLatency}
	}
	return []string{PhaseWarmup, PhaseThroughput, PhaseLatency}
}

// PhaseReport is what one side measured in one phase. Times are Mono
// readings (0 when the side did nothing of the kind). Usage is filled by
// whoever measures the process the side runs in.
type PhaseReport struct {
	Sent      int64 `json:"sent"`
	Received  int64 `json:"received"`
	FirstSend int64 `json:"first_send_ns,omitempty"`
	LastSend  int64 `json:"last_send_ns,omitempty"`
	FirstRecv int64 `json:"first_recv_ns,omitempty"`
	LastRecv  int64 `json:"last_recv_ns,omitempty"`
	// Latency is the round trips of the latency phase, on the sender.
	Latency *sample.Latency `json:"latency,omitempty"`
	// Load is the open-loop latency of a throughput phase with a rate, on
	// the receiver; ScheduleLagNs (the most a send was behind schedule) and
	// LastIntended (the last message's scheduled time) are the sender's.
	Load          *sample.Load `json:"load,omitempty"`
	ScheduleLagNs int64        `json:"schedule_lag_ns,omitempty"`
	LastIntended  int64        `json:"last_intended_ns,omitempty"`
	Unsent        int64        `json:"unsent,omitempty"` // scheduled, not sent when the phase's time was up
	Usage         sample.Usage `json:"usage"`
}

// merge folds another link's report of the same phase into r.
func (r *PhaseReport) merge(o PhaseReport) {
	r.Sent += o.Sent
	r.Received += o.Received
	r.FirstSend = earliest(r.FirstSend, o.FirstSend)
	r.FirstRecv = earliest(r.FirstRecv, o.FirstRecv)
	r.LastSend = max(r.LastSend, o.LastSend)
	r.LastRecv = max(r.LastRecv, o.LastRecv)
	r.ScheduleLagNs = max(r.ScheduleLagNs, o.ScheduleLagNs)
	r.Unsent += o.Unsent
	r.LastIntended = max(r.LastIntended, o.LastIntended)
}

func earliest(a, b int64) int64 {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

// side is one side of a cell's run inside one process: one end of every
// socket pair, and the phase loops of its role.
type side struct {
	role  string // sample.RoleSender or sample.RoleReceiver
	cell  matrix.Cell
	eng   Engine
	loops Loops // nil: the Go loops
	opts  CellOptions
	ends  []*end

	mu      sync.Mutex
	closed  bool
	failErr error
	done    chan struct{} // closed by close
}

// sideEngine returns the engine a side's sockets open on: the cell's
// engine, or for a mixed pair the engine of that side.
func sideEngine(eng Engine, role string) (Engine, error) {
	m, ok := eng.(MixedEngine)
	if !ok {
		return eng, nil
	}
	tx, rx := m.Sides()
	e := tx
	if role == sample.RoleReceiver {
		e = rx
	}
	if e == nil {
		return nil, fmt.Errorf("runner: %s: the %s side of the mixed pair has no engine", eng.Name(), role)
	}
	return e, nil
}

func newSide(role string, eng Engine, c matrix.Cell, o CellOptions) (*side, error) {
	e, err := sideEngine(eng, role)
	if err != nil {
		return nil, err
	}
	sd := &side{role: role, cell: c, eng: e, opts: o.withDefaults(), done: make(chan struct{})}
	if l, ok := e.(Loops); ok {
		sd.loops = l
	}
	return sd, nil
}

// bind opens the receiving side of every pair and binds it; it returns
// every endpoint, pair after pair.
func (sd *side) bind() ([]string, error) {
	eps := &endpoints{protocol: sd.cell.Protocol, dir: sd.opts.IPCDir, addr: sd.opts.BindAddress, pid: os.Getpid()}
	var all []string
	for i := range sd.cell.Sockets {
		e, bound, err := openReceiver(i+1, sd.eng, sd.cell, eps)
		if err != nil {
			return nil, fmt.Errorf("pair %d: %w", i+1, err)
		}
		sd.add(e)
		all = append(all, bound...)
	}
	return all, nil
}

// connect opens the sending side of every pair and connects it to the
// endpoints bind returned.
func (sd *side) connect(all []string) error {
	per := endpointsPerPair(sd.cell.Pattern)
	if len(all) != per*sd.cell.Sockets {
		return fmt.Errorf("runner: %d endpoints for %d pairs of %s (want %d)", len(all), sd.cell.Sockets, sd.cell.Pattern, per*sd.cell.Sockets)
	}
	for i := range sd.cell.Sockets {
		e, err := openSender(i+1, sd.eng, sd.cell, all[i*per:(i+1)*per])
		if err != nil {
			return fmt.Errorf("pair %d: %w", i+1, err)
		}
		sd.add(e)
	}
	return nil
}

func (sd *side) add(e *end) {
	sd.mu.Lock()
	closed := sd.closed
	if !closed {
		sd.ends = append(sd.ends, e)
	}
	sd.mu.Unlock()
	if closed {
		e.close()
	}
}

// close closes every socket of the side; any goroutine blocked on one
// returns. It may be called more than once, from any goroutine.
func (sd *side) close() {
	sd.mu.Lock()
	ends := sd.ends
	first := !sd.closed
	sd.ends, sd.closed = nil, true
	sd.mu.Unlock()
	if first {
		close(sd.done)
	}
	for _, e := range ends {
		e.close()
	}
}

// fail records the side's first failure and closes every socket, so that
// every goroutine of the phase returns.
func (sd *side) fail(e *end, err error) {
	sd.mu.Lock()
	first := sd.failErr == nil
	if first {
		sd.failErr = fmt.Errorf("pair %d: %w", e.id, err)
	}
	sd.mu.Unlock()
	if first {
		sd.close()
	}
}

func (sd *side) failure() error {
	sd.mu.Lock()
	defer sd.mu.Unlock()
	return sd.failErr
}

// telemetry sums the telemetry of every socket of the side; Available is
// false if any socket has none.
func (sd *side) telemetry() sample.Telemetry {
	sd.mu.Lock()
	ends := sd.ends
	sd.mu.Unlock()
	sum := sample.Telemetry{Available: true}
	for _, e := range ends {
		for _, s := range e.sockets {
			t, ok := s.Telemetry()
			if !ok {
				return sample.Telemetry{}
			}
			sum = sum.Plus(t)
		}
	}
	return sum
}

// phase runs one phase on every pair of the side at once. peerSeen is
// closed when the other side has seen what this side repeats on a lossy
// link (probes, end markers); seen is called once when this side has seen
// what the other side sent up to its marker, on every pair.
//
// at is the schedule's start of an open-loop throughput phase (Mono ns).
func (sd *side) phase(name string, at int64, peerSeen <-chan struct{}, seen func()) (PhaseReport, error) {
	sd.mu.Lock()
	ends := sd.ends
	sd.mu.Unlock()
	var once sync.Once
	var left atomic.Int64
	left.Store(int64(len(ends)))
	seenOne := func() {
		if left.Add(-1) == 0 {
			once.Do(seen)
		}
	}
	reports := make([]PhaseReport, len(ends))
	hists := make([]*hdrhistogram.Histogram, len(ends))
	var wg sync.WaitGroup
	for i, e := range ends {
		wg.Go(func() {
			var err error
			if sd.histogramFor(name) {
				hists[i] = hdrhistogram.New(histLowestNs, histHighestNs, histSigFigs)
			}
			reports[i], err = sd.run(name, at, e, peerSeen, seenOne, hists[i])
			if err != nil {
				sd.fail(e, err)
			}
		})
	}
	wg.Wait()
	if err := sd.failure(); err != nil {
		return PhaseReport{}, err
	}
	var r PhaseReport
	for _, o := range reports {
		r.merge(o)
	}
	switch {
	case name == PhaseLatency && sd.role == sample.RoleSender:
		l := latencyOf(hists)
		r.Latency = &l
	case name == PhaseThroughput && sd.cell.Rate > 0 && sd.echoedLoad() && sd.role == sample.RoleSender:
		r.Load = loadOf(sd.cell.Rate, hists)
		r.Load.Kind = sample.LoadRoundTrip
		r.Load.NA = loadNA(sd.cell.Size)
	case name == PhaseThroughput && sd.role == sample.RoleReceiver && sd.cell.Rate > 0 && !sd.echoedLoad():
		r.Load = loadOf(sd.cell.Rate, hists)
		r.Load.NA = loadNA(sd.cell.Size)
		if sd.opts.SeparateClocks {
			r.Load.NA = errSeparateClocks + "; the round trips are not measured on a pattern that may drop messages"
		}
	}
	return r, nil
}

// echoedLoad says whether an open-loop phase times round trips rather than
// one-way latency: the sides run on different hosts (no clock they share)
// and the pattern delivers every message, so every one can be echoed.
func (sd *side) echoedLoad() bool {
	return sd.opts.SeparateClocks && !patternSpecs[sd.cell.Pattern].lossy
}

// histogramFor says whether this side records a histogram in the phase:
// round trips on the sender, open-loop latencies on the receiver.
func (sd *side) histogramFor(phase string) bool {
	switch {
	case phase == PhaseLatency:
		return sd.role == sample.RoleSender
	case phase == PhaseThroughput && sd.cell.Rate > 0 && loadNA(sd.cell.Size) == "":
		if sd.echoedLoad() {
			return sd.role == sample.RoleSender
		}
		return sd.role == sample.RoleReceiver && !sd.opts.SeparateClocks
	}
	return false
}

// run is one pair's part of a phase.
func (sd *side) run(phase string, at int64, e *end, peerSeen <-chan struct{}, seen func(), h *hdrhistogram.Histogram) (PhaseReport, error) {
	w := sd.cell.Workload
	send := sd.role == sample.RoleSender
	switch phase {
	case PhaseSync:
		if send {
			return PhaseReport{}, sd.syncLink(e, e.streamTx, e.repRx, peerSeen, seen)
		}
		return PhaseReport{}, sd.syncLink(e, e.repTx, e.streamRx, peerSeen, seen)
	case PhaseWarmup:
		n := w.WarmupMessages
		switch {
		case n == 0:
			seen()
			return PhaseReport{}, nil
		case e.streamTx == nil && e.streamRx == nil: // req-rep: round trips only
			seen()
			if send {
				return sd.roundTrips(e, int64(n), 0, nil)
			}
			return sd.echo(e)
		case send:
			if _, err := sd.stream(e, int64(n), 0, ctlWarmEnd, peerSeen); err != nil {
				return PhaseReport{}, err
			}
			return sd.roundTrips(e, int64(min(n, warmRoundTrips)), 0, nil)
		default:
			if _, err := sd.receive(e, ctlWarmEnd); err != nil {
				return PhaseReport{}, err
			}
			seen()
			return sd.echo(e)
		}
	case PhaseThroughput:
		count, dur := int64(w.ThroughputMessages), time.Duration(w.ThroughputDuration)
		switch {
		case e.streamTx == nil && e.streamRx == nil:
			seen()
			if send {
				return sd.roundTrips(e, count, dur, nil)
			}
			return sd.echo(e)
		case send && sd.cell.Rate > 0 && sd.echoedLoad():
			return sd.streamPacedEchoed(e, count, dur, ctlStreamEnd, peerSeen, h)
		case send && sd.cell.Rate > 0:
			return sd.streamPaced(e, count, dur, at, ctlStreamEnd, peerSeen)
		case send:
			return sd.stream(e, count, dur, ctlStreamEnd, peerSeen)
		case sd.cell.Rate > 0:
			r, err := sd.receiveTimed(e, at, ctlStreamEnd, h, sd.echoedLoad())
			if err == nil {
				seen()
			}
			return r, err
		default:
			r, err := sd.receive(e, ctlStreamEnd)
			if err == nil {
				seen()
			}
			return r, err
		}
	case PhaseLatency:
		seen()
		if send {
			return sd.roundTrips(e, int64(w.LatencyRoundTrips), 0, h)
		}
		return sd.echo(e)
	}
	return PhaseReport{}, fmt.Errorf("runner: unknown phase %q", phase)
}

// syncLink makes sure a lossy pair delivers in both directions: it repeats
// a probe on tx until the other side has seen one (peerSeen), and reads rx
// until a probe of the other side arrives (then seen).
func (sd *side) syncLink(e *end, tx *writer, rx *reader, peerSeen <-chan struct{}, seen func()) error {
	repeatErr := make(chan error, 1)
	go func() {
		err := sd.repeatCtl(tx, ctlSync, peerSeen)
		if err != nil {
			sd.fail(e, err) // unblocks the read below
		}
		repeatErr <- err
	}()
	if err := awaitCtl(rx, ctlSync); err != nil {
		<-repeatErr
		return err
	}
	seen()
	return <-repeatErr
}

// awaitCtl reads rx until a control message with code arrives, ignoring
// data and other control codes.
func awaitCtl(rx *reader, code byte) error {
	for {
		kind, _, got, _, err := rx.read()
		if err != nil {
			return err
		}
		if kind == msgCtl && got == code {
			return nil
		}
	}
}

// repeatCtl sends code on tx every MarkerInterval until stop is closed, and
// fails with ErrMarkerNotSeen after MarkerGrace.
func (sd *side) repeatCtl(tx *writer, code byte, stop <-chan struct{}) error {
	tick := time.NewTicker(sd.opts.MarkerInterval)
	defer tick.Stop()
	grace := time.NewTimer(sd.opts.MarkerGrace)
	defer grace.Stop()
	for {
		if err := tx.sendCtl(nil, code); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-grace.C:
			return fmt.Errorf("%w within %v", ErrMarkerNotSeen, sd.opts.MarkerGrace)
		case <-tick.C:
		}
	}
}

// stream sends count messages (or, if count is 0, for dur) on the pair's
// stream, then the end marker: once on a reliable link, and on a lossy one
// repeated until the receiver has seen it (peerSeen).
func (sd *side) stream(e *end, count int64, dur time.Duration, marker byte, peerSeen <-chan struct{}) (PhaseReport, error) {
	var r PhaseReport
	var err error
	if sd.loops != nil {
		var st LoopStats
		var deadline int64
		if count == 0 {
			deadline = Mono() + int64(dur)
		}
		st, err = sd.loops.SendLoop(e.streamTx.s, sd.cell.Size, count, deadline)
		r = PhaseReport{Sent: st.Sent, FirstSend: st.FirstSend, LastSend: st.LastSend}
	} else {
		r, err = sd.sendGo(e.streamTx, count, dur)
	}
	if err != nil {
		return r, err
	}
	if e.lossy {
		return r, sd.repeatCtl(e.streamTx, marker, peerSeen)
	}
	if err := e.streamTx.sendCtl(nil, marker); err != nil {
		return r, err
	}
	// The phase ends when the receiver has everything: Send returns once a
	// message is queued, and the engine may still be writing; the sender's
	// CPU time and telemetry of the phase must include that work.
	return r, sd.awaitPeer(peerSeen)
}

// awaitPeer waits until the other side has seen the end of what this side
// sent (peerSeen is closed), failing after MarkerGrace, counted from the
// moment the whole stream was handed to the engine.
func (sd *side) awaitPeer(peerSeen <-chan struct{}) error {
	t := time.NewTimer(sd.opts.MarkerGrace)
	defer t.Stop()
	select {
	case <-peerSeen:
		return nil
	case <-sd.done:
		return errSideClosed
	case <-t.C:
		return fmt.Errorf("%w: the receiver did not report the end of the stream within %v", ErrMarkerNotSeen, sd.opts.MarkerGrace)
	}
}

// sendGo is stream's loop in Go.
func (sd *side) sendGo(tx *writer, count int64, dur time.Duration) (PhaseReport, error) {
	payload := make([]byte, sd.cell.Size)
	var over atomic.Bool
	if count == 0 {
		t := time.AfterFunc(dur, func() { over.Store(true) })
		defer t.Stop()
	}
	st, err := sendLoop(tx, payload, count, &over)
	return PhaseReport{Sent: st.Sent, FirstSend: st.FirstSend, LastSend: st.LastSend}, err
}

// receive reads the pair's stream until the end marker, checking every
// message's size. On a reliable link the clock is read at the first data
// message and when the end marker, sent right behind the last one, arrives:
// reading it per message would cost the receiver more than the engine does
// at small sizes. On a lossy link the marker may be dropped and repeated
// later, so every data message is timed.
func (sd *side) receive(e *end, marker byte) (PhaseReport, error) {
	var r PhaseReport
	size := sd.cell.Size
	rx := e.streamRx
	for {
		var st LoopStats
		var ctl Control
		var err error
		if sd.loops != nil {
			st, ctl, err = sd.loops.RecvLoop(rx.s, size, rx.routed, e.lossy)
		} else {
			st, ctl, err = receiveLoop(rx, size, 0, e.lossy)
		}
		r.Received += st.Received
		r.FirstRecv = earliest(r.FirstRecv, st.FirstRecv)
		r.LastRecv = max(r.LastRecv, st.LastRecv)
		if err != nil {
			return r, err
		}
		if ctl.Code != marker {
			continue // a repeated probe or marker of an earlier phase
		}
		if r.Received > 0 && !e.lossy {
			r.LastRecv = Mono()
		}
		return r, nil
	}
}

// roundTrips does count request/echo round trips (or, if count is 0, round
// trips for dur), recording each round-trip time in h when h is not nil,
// then sends ctlStop and waits for its echo. Messages are counted in both
// directions.
func (sd *side) roundTrips(e *end, count int64, dur time.Duration, h *hdrhistogram.Histogram) (PhaseReport, error) {
	var r PhaseReport
	if count == 0 && dur == 0 {
		return r, nil
	}
	var err error
	if sd.loops != nil {
		var rtts []int64
		if h != nil {
			rtts = make([]int64, count)
		}
		var deadline int64
		if count == 0 {
			deadline = Mono() + int64(dur)
		}
		var st LoopStats
		st, err = sd.loops.RoundTrips(e.reqTx.s, e.repRx.s, sd.cell.Size, count, deadline, rtts)
		r = PhaseReport{Sent: 2 * st.Sent, Received: 2 * st.Received, FirstSend: st.FirstSend,
			LastSend: st.LastSend, FirstRecv: st.FirstRecv, LastRecv: st.LastRecv}
		for _, v := range rtts[:min(int64(len(rtts)), st.Received)] {
			_ = h.RecordValue(min(v, histHighestNs))
		}
	} else {
		r, err = sd.roundTripsGo(e, count, dur, h)
	}
	if err != nil {
		return r, err
	}
	if err := e.reqTx.sendCtl(nil, ctlStop); err != nil {
		return r, err
	}
	return r, awaitCtl(e.repRx, ctlStop)
}

// roundTripsGo is roundTrips' loop in Go.
func (sd *side) roundTripsGo(e *end, count int64, dur time.Duration, h *hdrhistogram.Histogram) (PhaseReport, error) {
	payload := make([]byte, sd.cell.Size)
	var over atomic.Bool
	if count == 0 {
		t := time.AfterFunc(dur, func() { over.Store(true) })
		defer t.Stop()
	}
	st, err := roundTripLoop(e.reqTx, e.repRx, payload, count, &over, h)
	// Messages count in both directions: a request and its reply.
	return PhaseReport{Sent: 2 * st.Sent, Received: 2 * st.Received, FirstSend: st.FirstSend,
		LastSend: st.LastSend, FirstRecv: st.FirstRecv, LastRecv: st.LastRecv}, err
}

// echo is the receiver's side of round trips: every data message read from
// reqRx goes back unchanged through repTx (to its sender's identity if
// routed); ctlStop is echoed and ends the loop; other control messages are
// stale markers and are dropped.
func (sd *side) echo(e *end) (PhaseReport, error) {
	var r PhaseReport
	size := sd.cell.Size
	for {
		var st LoopStats
		var ctl Control
		var err error
		if sd.loops != nil {
			st, ctl, err = sd.loops.EchoLoop(e.reqRx.s, e.repTx.s, size, e.reqRx.routed)
		} else {
			st, ctl, err = echoLoop(e.reqRx, e.repTx, size, 0)
		}
		r.Received += st.Received
		r.Sent += st.Sent
		if err != nil {
			return r, err
		}
		if ctl.Code == ctlStop {
			return r, e.repTx.sendCtl(ctl.From, ctlStop)
		}
	}
}

// errSideClosed is returned by a wait that the side's closing ended.
var errSideClosed = errors.New("runner: side closed")

// errSideFailed marks a failure reported by a side.
var errSideFailed = errors.New("runner: side failed")
