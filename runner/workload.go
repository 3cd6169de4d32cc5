package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"zbench/matrix"
)

// ErrWrongSize is returned when a received data message does not have the
// cell's message size.
var ErrWrongSize = errors.New("runner: message of the wrong size")

// ErrLostMessages is returned when a reliable pattern delivers fewer
// messages than were sent.
var ErrLostMessages = errors.New("runner: messages lost")

// ErrMarkerNotSeen is returned when a lossy link's receiver never saw the
// end-of-stream marker within the grace period.
var ErrMarkerNotSeen = errors.New("runner: end-of-stream marker not seen")

// ErrBadWorkload is returned for a cell whose workload cannot run.
var ErrBadWorkload = errors.New("runner: bad workload")

// Histogram range of round-trip times, in nanoseconds.
const (
	histLowestNs  = 1
	histHighestNs = int64(10 * time.Minute)
	histSigFigs   = 3
)

// warmRoundTrips bounds the round trips of warm-up for the streaming
// patterns, which bring the echo path's connection up before measuring.
const warmRoundTrips = 10

// CellOptions tunes how RunCell runs a cell.
type CellOptions struct {
	// IPCDir is the directory of ipc endpoints; "" means os.TempDir().
	IPCDir string
	// MarkerInterval is how often a lossy link repeats a marker or probe
	// until the receiver has seen it; 0 means 1 ms.
	MarkerInterval time.Duration
	// MarkerGrace is how long a lossy link keeps repeating before the run
	// fails with ErrMarkerNotSeen; 0 means 10 s.
	MarkerGrace time.Duration
}

func (o CellOptions) withDefaults() CellOptions {
	if o.IPCDir == "" {
		o.IPCDir = os.TempDir()
	}
	if o.MarkerInterval <= 0 {
		o.MarkerInterval = time.Millisecond
	}
	if o.MarkerGrace <= 0 {
		o.MarkerGrace = 10 * time.Second
	}
	return o
}

// RunCell runs one cell in this process on eng: connect all pairs, warm up,
// throughput phase, latency phase (see the Pattern constants for what each
// pattern does). It fills the sample's measurement sections (Throughput,
// Latency, Engine, Runtime, FirstMessageUnixNs); Cell, Run, status and the
// Resources the parent measures are left to the caller. Cancelling ctx
// closes every socket and ends the run with an error.
func RunCell(ctx context.Context, eng Engine, c matrix.Cell, o CellOptions) (Sample, error) {
	var s Sample
	if err := checkWorkload(c); err != nil {
		return s, err
	}
	o = o.withDefaults()
	eps := &endpoints{protocol: c.Protocol, dir: o.IPCDir, pid: os.Getpid()}
	links := make([]*link, 0, c.Sockets)
	var closeOnce sync.Once
	closeAll := func() {
		closeOnce.Do(func() {
			for _, l := range links {
				l.close()
			}
		})
	}
	defer closeAll()
	for i := 0; i < c.Sockets; i++ {
		l, err := newLink(i+1, eng, c, eps)
		if err != nil {
			return s, fmt.Errorf("pair %d: %w", i+1, err)
		}
		links = append(links, l)
	}
	stop := context.AfterFunc(ctx, closeAll)
	defer stop()
	r := &cellRun{cell: c, opts: o, links: links, closeAll: closeAll}
	err := r.run(&s)
	if cerr := ctx.Err(); cerr != nil {
		if err != nil {
			return s, fmt.Errorf("%w (%v)", cerr, err)
		}
		return s, cerr
	}
	return s, err
}

// checkWorkload rejects cells that cannot run, before opening anything.
func checkWorkload(c matrix.Cell) error {
	w := c.Workload
	switch {
	case c.Sockets < 1:
		return fmt.Errorf("%w: sockets %d, want >= 1", ErrBadWorkload, c.Sockets)
	case c.Size < 0:
		return fmt.Errorf("%w: size %d, want >= 0", ErrBadWorkload, c.Size)
	case w.WarmupMessages < 0 || w.ThroughputMessages < 0 || w.LatencyRoundTrips < 0 || w.ThroughputDuration < 0:
		return fmt.Errorf("%w: negative count or duration", ErrBadWorkload)
	case (w.ThroughputMessages > 0) == (w.ThroughputDuration > 0):
		return fmt.Errorf("%w: exactly one of throughput_messages and throughput_duration must be > 0", ErrBadWorkload)
	}
	return nil
}

// cellRun is the state of one RunCell.
type cellRun struct {
	cell     matrix.Cell
	opts     CellOptions
	links    []*link
	closeAll func()

	mu      sync.Mutex
	failErr error // the first failure of any goroutine
}

// fail records the run's first failure and closes every socket, so that
// every goroutine blocked on a socket returns.
func (r *cellRun) fail(l *link, err error) {
	r.mu.Lock()
	first := r.failErr == nil
	if first {
		r.failErr = fmt.Errorf("pair %d: %w", l.id, err)
	}
	r.mu.Unlock()
	if first {
		r.closeAll()
	}
}

func (r *cellRun) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failErr
}

func (r *cellRun) run(s *Sample) error {
	c := r.cell
	w := c.Workload
	if r.links[0].lossy {
		if err := r.each(func(i int, l *link) error { return r.syncLossy(l) }); err != nil {
			return fmt.Errorf("sync: %w", err)
		}
	}
	if err := r.each(func(i int, l *link) error { return r.warmUp(l, w.WarmupMessages) }); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}

	tel0 := r.telemetry()
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)

	tp := make([]streamResult, len(r.links))
	if err := r.each(func(i int, l *link) error {
		var err error
		if l.streamTx == nil {
			tp[i], err = r.roundTrips(l, w.ThroughputMessages, time.Duration(w.ThroughputDuration), nil)
		} else {
			tp[i], err = r.stream(l, w.ThroughputMessages, time.Duration(w.ThroughputDuration), ctlStreamEnd)
		}
		return err
	}); err != nil {
		return fmt.Errorf("throughput: %w", err)
	}

	telMid := r.telemetry()

	hists := make([]*hdrhistogram.Histogram, len(r.links))
	lat := make([]streamResult, len(r.links))
	if err := r.each(func(i int, l *link) error {
		hists[i] = hdrhistogram.New(histLowestNs, histHighestNs, histSigFigs)
		var err error
		lat[i], err = r.roundTrips(l, w.LatencyRoundTrips, 0, hists[i])
		return err
	}); err != nil {
		return fmt.Errorf("latency: %w", err)
	}

	runtime.ReadMemStats(&ms1)
	tel1 := r.telemetry()

	s.Throughput = throughputOf(tp, c.Size)
	s.FirstMessageUnixNs = firstSend(tp)
	s.Latency = latencyOf(hists)
	if tel0.Available && telMid.Available && tel1.Available {
		s.Engine = telMid.minus(tel0)
		s.LatencyEngine = tel1.minus(telMid)
	}
	moved := s.MessagesMoved()
	s.Runtime = Runtime{
		GCCycles:  ms1.NumGC - ms0.NumGC,
		GCPauseNs: ms1.PauseTotalNs - ms0.PauseTotalNs,
		Mallocs:   ms1.Mallocs - ms0.Mallocs,
	}
	if moved > 0 {
		s.Runtime.AllocsPerMsg = float64(s.Runtime.Mallocs) / float64(moved)
	}
	return nil
}

// each runs fn for every link concurrently and waits for all. The run's
// first failure (see fail) closes every socket, so that the other links
// stop too, and is the one returned.
func (r *cellRun) each(fn func(i int, l *link) error) error {
	var wg sync.WaitGroup
	for i, l := range r.links {
		wg.Go(func() {
			if err := fn(i, l); err != nil {
				r.fail(l, err)
			}
		})
	}
	wg.Wait()
	return r.failure()
}

// streamResult is what one link measured in one phase.
type streamResult struct {
	sent, received int64
	firstSend      time.Time // wall clock of the first message sent
	firstRecv      time.Time
	lastRecv       time.Time
}

// syncLossy makes sure both links of a pub-sub pair deliver: each PUB
// repeats a probe until its SUB has seen one.
func (r *cellRun) syncLossy(l *link) error {
	errc := make(chan error, 1)
	go func() { errc <- r.syncLink(l, l.repTx, l.repRx) }()
	err := r.syncLink(l, l.reqTx, l.reqRx)
	return errors.Join(err, <-errc)
}

// syncLink repeats a probe on tx until rx has received one.
func (r *cellRun) syncLink(l *link, tx *writer, rx *reader) error {
	seen := make(chan struct{})
	sendErr := make(chan error, 1)
	go func() {
		err := r.repeatCtl(tx, ctlSync, seen)
		if err != nil {
			r.fail(l, err)
		}
		sendErr <- err
	}()
	if err := r.awaitCtl(rx, ctlSync); err != nil {
		return err
	}
	close(seen)
	return <-sendErr
}

// awaitCtl reads rx until a control message with code arrives, ignoring
// data and other control codes.
func (r *cellRun) awaitCtl(rx *reader, code byte) error {
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

// repeatCtl sends code on tx every MarkerInterval until seen is closed, and
// fails with ErrMarkerNotSeen after MarkerGrace.
func (r *cellRun) repeatCtl(tx *writer, code byte, seen <-chan struct{}) error {
	tick := time.NewTicker(r.opts.MarkerInterval)
	defer tick.Stop()
	grace := time.NewTimer(r.opts.MarkerGrace)
	defer grace.Stop()
	for {
		if err := tx.sendCtl(nil, code); err != nil {
			return err
		}
		select {
		case <-seen:
			return nil
		case <-grace.C:
			return fmt.Errorf("%w within %v", ErrMarkerNotSeen, r.opts.MarkerGrace)
		case <-tick.C:
		}
	}
}

// warmUp streams n messages (not measured) and then does a few round trips
// so that every connection of the pair has carried traffic; req-rep warms up
// with n round trips.
func (r *cellRun) warmUp(l *link, n int) error {
	if n == 0 {
		return nil
	}
	if l.streamTx == nil {
		_, err := r.roundTrips(l, n, 0, nil)
		return err
	}
	if _, err := r.stream(l, n, 0, ctlWarmEnd); err != nil {
		return err
	}
	_, err := r.roundTrips(l, min(n, warmRoundTrips), 0, nil)
	return err
}

// stream sends count messages (or, if count is 0, for dur) from streamTx to
// streamRx, followed by the end marker; the receiver checks every size and
// times the first and last receive.
func (r *cellRun) stream(l *link, count int, dur time.Duration, end byte) (streamResult, error) {
	var res streamResult
	seen := make(chan struct{})
	type txResult struct {
		sent  int64
		first time.Time
		err   error
	}
	txc := make(chan txResult, 1)
	go func() {
		sent, first, err := r.send(l, count, dur, end, seen)
		if err != nil {
			r.fail(l, err) // unblocks the receiver below
		}
		txc <- txResult{sent, first, err}
	}()

	// On a reliable link the clock is read at the first data message and
	// when the end marker, sent right behind the last one, arrives: reading
	// it per message would cost the receiver more than the engine does at
	// small sizes. On a lossy link the marker may be dropped and repeated
	// later, so every data message is timed.
	size := r.cell.Size
	rx := l.streamRx
	for {
		kind, body, code, _, err := rx.read()
		if err != nil {
			return res, err
		}
		if kind == msgCtl {
			if code == end {
				if res.received > 0 && !l.lossy {
					res.lastRecv = time.Now()
				}
				break
			}
			continue // a repeated probe or marker of an earlier phase
		}
		if len(body) != size {
			return res, fmt.Errorf("%w: %d bytes, want %d", ErrWrongSize, len(body), size)
		}
		if res.received == 0 || l.lossy {
			now := time.Now()
			if res.received == 0 {
				res.firstRecv = now
			}
			res.lastRecv = now
		}
		res.received++
	}
	close(seen)
	tx := <-txc
	if tx.err != nil {
		return res, tx.err
	}
	res.sent, res.firstSend = tx.sent, tx.first
	if !l.lossy && res.received != res.sent {
		return res, fmt.Errorf("%w: received %d of %d", ErrLostMessages, res.received, res.sent)
	}
	return res, nil
}

// send is the sending side of stream.
func (r *cellRun) send(l *link, count int, dur time.Duration, end byte, seen <-chan struct{}) (int64, time.Time, error) {
	payload := make([]byte, r.cell.Size)
	tx := l.streamTx
	first := time.Now()
	var sent int64
	if count > 0 {
		for ; sent < int64(count); sent++ {
			if err := tx.sendData(nil, payload); err != nil {
				return sent, first, err
			}
		}
	} else {
		var over atomic.Bool
		t := time.AfterFunc(dur, func() { over.Store(true) })
		defer t.Stop()
		for !over.Load() {
			if err := tx.sendData(nil, payload); err != nil {
				return sent, first, err
			}
			sent++
		}
	}
	if !l.lossy {
		return sent, first, tx.sendCtl(nil, end)
	}
	return sent, first, r.repeatCtl(tx, end, seen)
}

// roundTrips does count request/echo round trips (or, if count is 0, round
// trips for dur) on the pair, recording each round-trip time in h when h is
// not nil. The echo side runs in its own goroutine and stops on ctlStop.
// Messages are counted in both directions.
func (r *cellRun) roundTrips(l *link, count int, dur time.Duration, h *hdrhistogram.Histogram) (streamResult, error) {
	var res streamResult
	if count == 0 && dur == 0 {
		return res, nil
	}
	echoErr := make(chan error, 1)
	go func() {
		err := r.echo(l)
		if err != nil {
			r.fail(l, err) // unblocks the client below
		}
		echoErr <- err
	}()

	size := r.cell.Size
	payload := make([]byte, size)
	var over atomic.Bool
	if count == 0 {
		t := time.AfterFunc(dur, func() { over.Store(true) })
		defer t.Stop()
	}
	res.firstSend = time.Now()
	for n := 0; count == 0 || n < count; n++ {
		if count == 0 && over.Load() {
			break
		}
		t0 := time.Now()
		if err := l.reqTx.sendData(nil, payload); err != nil {
			return res, err
		}
		res.sent += 2
		if err := r.awaitReply(l.repRx, size); err != nil {
			return res, err
		}
		t1 := time.Now()
		if res.received == 0 {
			res.firstRecv = t1
		}
		res.lastRecv = t1
		res.received += 2
		if h != nil {
			_ = h.RecordValue(min(int64(t1.Sub(t0)), histHighestNs))
		}
	}
	if err := l.reqTx.sendCtl(nil, ctlStop); err != nil {
		return res, err
	}
	if err := r.awaitCtl(l.repRx, ctlStop); err != nil {
		return res, err
	}
	return res, <-echoErr
}

// awaitReply reads rx until a data message arrives and checks its size.
// Control messages (repeated probes of a lossy link) are skipped.
func (r *cellRun) awaitReply(rx *reader, size int) error {
	for {
		kind, body, _, _, err := rx.read()
		if err != nil {
			return err
		}
		if kind == msgCtl {
			continue
		}
		if len(body) != size {
			return fmt.Errorf("%w: reply of %d bytes, want %d", ErrWrongSize, len(body), size)
		}
		return nil
	}
}

// echo is the echo side of roundTrips: every data message read from reqRx
// goes back unchanged through repTx (to its sender's identity if routed);
// ctlStop is echoed and ends the loop; other control messages are stale
// markers and are dropped.
func (r *cellRun) echo(l *link) error {
	size := r.cell.Size
	for {
		kind, body, code, from, err := l.reqRx.read()
		if err != nil {
			return err
		}
		if kind == msgCtl {
			if code == ctlStop {
				return l.repTx.sendCtl(from, ctlStop)
			}
			continue
		}
		if len(body) != size {
			return fmt.Errorf("%w: request of %d bytes, want %d", ErrWrongSize, len(body), size)
		}
		if err := l.repTx.sendData(from, body); err != nil {
			return err
		}
	}
}

// telemetry sums the telemetry of every socket; Available is false if any
// socket has none.
func (r *cellRun) telemetry() Telemetry {
	sum := Telemetry{Available: true}
	for _, l := range r.links {
		for _, s := range l.sockets {
			t, ok := s.Telemetry()
			if !ok {
				return Telemetry{}
			}
			sum = sum.plus(t)
		}
	}
	return sum
}

func (t Telemetry) plus(o Telemetry) Telemetry {
	t.MsgsOut += o.MsgsOut
	t.BytesOut += o.BytesOut
	t.Writes += o.Writes
	t.BatchedWrites += o.BatchedWrites
	t.ImmediateWrites += o.ImmediateWrites
	t.PartialHandoffs += o.PartialHandoffs
	t.MsgsIn += o.MsgsIn
	t.BytesIn += o.BytesIn
	t.Reads += o.Reads
	t.MsgsPerWrite = msgsPerWrite(t.MsgsOut, t.Writes)
	return t
}

// minus returns the counters accumulated between o and t.
func (t Telemetry) minus(o Telemetry) Telemetry {
	d := Telemetry{
		Available:       true,
		MsgsOut:         t.MsgsOut - o.MsgsOut,
		BytesOut:        t.BytesOut - o.BytesOut,
		Writes:          t.Writes - o.Writes,
		BatchedWrites:   t.BatchedWrites - o.BatchedWrites,
		ImmediateWrites: t.ImmediateWrites - o.ImmediateWrites,
		PartialHandoffs: t.PartialHandoffs - o.PartialHandoffs,
		MsgsIn:          t.MsgsIn - o.MsgsIn,
		BytesIn:         t.BytesIn - o.BytesIn,
		Reads:           t.Reads - o.Reads,
	}
	d.MsgsPerWrite = msgsPerWrite(d.MsgsOut, d.Writes)
	return d
}

func msgsPerWrite(msgs, writes uint64) float64 {
	if writes == 0 {
		return 0
	}
	return float64(msgs) / float64(writes)
}

// throughputOf merges the links' throughput phases: total delivered over
// the time from the first receive on any link to the last on any link.
func throughputOf(rs []streamResult, size int) Throughput {
	var t Throughput
	var first, last time.Time
	for _, r := range rs {
		t.Messages += r.received
		t.Sent += r.sent
		if r.received == 0 {
			continue
		}
		if first.IsZero() || r.firstRecv.Before(first) {
			first = r.firstRecv
		}
		if r.lastRecv.After(last) {
			last = r.lastRecv
		}
	}
	t.Dropped = t.Sent - t.Messages
	t.Bytes = t.Messages * int64(size)
	if t.Messages > 0 {
		t.Seconds = last.Sub(first).Seconds()
	}
	if t.Seconds > 0 {
		t.MsgsPerSec = float64(t.Messages) / t.Seconds
		t.MBPerSec = float64(t.Bytes) / t.Seconds / 1e6
	}
	return t
}

// firstSend is the earliest first send of the links, as Unix ns (0 if none).
func firstSend(rs []streamResult) int64 {
	var first time.Time
	for _, r := range rs {
		if !r.firstSend.IsZero() && (first.IsZero() || r.firstSend.Before(first)) {
			first = r.firstSend
		}
	}
	if first.IsZero() {
		return 0
	}
	return first.UnixNano()
}

// latencyOf merges the links' histograms into the latency section.
func latencyOf(hs []*hdrhistogram.Histogram) Latency {
	all := hdrhistogram.New(histLowestNs, histHighestNs, histSigFigs)
	for _, h := range hs {
		if h != nil {
			all.Merge(h)
		}
	}
	n := all.TotalCount()
	if n == 0 {
		return Latency{}
	}
	mean := all.Mean()
	return Latency{
		RoundTrips:   n,
		RTTP50Ns:     all.ValueAtQuantile(50),
		RTTP99Ns:     all.ValueAtQuantile(99),
		RTTP999Ns:    all.ValueAtQuantile(99.9),
		RTTMaxNs:     all.Max(),
		RTTMeanNs:    mean,
		OneWayMeanNs: mean / 2,
	}
}

// MessagesMoved is the number of messages the measured phases carried: the
// throughput phase's delivered messages plus two per latency round trip
// (request and echo). CPU and allocations per message are divided by it.
func (s Sample) MessagesMoved() int64 {
	return s.Throughput.Messages + 2*s.Latency.RoundTrips
}
