package runner

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"zbench/host"
	"zbench/runner/sample"
)

// An open-loop message carries its sequence number in its first 8 bytes
// (little endian) and, when it has room, its intended send time (Mono ns)
// in the next 8. A message of fewer than seqBytes carries neither, and its
// latency cannot be told.
const (
	seqBytes      = 8
	intendedBytes = 16
)

// scheduleLead is how far ahead of the throughput phase's begin command the
// coordinator sets the schedule's start, so that both sides are under way
// before the first message is due.
const scheduleLead = 20 * time.Millisecond

// errSeparateClocks is why a one-way figure is n/a when the sides run on
// different hosts.
const errSeparateClocks = "the sides run on different hosts, whose clocks are not one: a one-way time would subtract one host's clock from the other's"

// loadNA says why a cell's open-loop latency cannot be measured, or "".
func loadNA(size int) string {
	if size < seqBytes {
		return fmt.Sprintf("messages of %d B cannot carry the %d-byte sequence number that ties each one to its scheduled send time", size, seqBytes)
	}
	return ""
}

// scheduleLen is how many messages a pair's schedule has: count, or the
// phase's duration at the rate.
func scheduleLen(rate int, count int64, dur time.Duration) int64 {
	if count > 0 {
		return count
	}
	return max(1, int64(dur.Seconds()*float64(rate)))
}

// intendedOf is the scheduled send time of a received message of at least
// seqBytes: the time it carries, or else its sequence number's place on
// the schedule that began at t0.
func intendedOf(body []byte, t0 int64, rate int) int64 {
	if len(body) >= intendedBytes {
		return int64(binary.LittleEndian.Uint64(body[seqBytes:]))
	}
	return intendedAt(t0, rate, int64(binary.LittleEndian.Uint64(body)))
}

// recordLoad records one message's latency from its intended send time,
// clamped to the histogram's range.
func recordLoad(h *hdrhistogram.Histogram, ns int64) {
	_ = h.RecordValue(min(max(ns, histLowestNs), histHighestNs))
}

// intendedAt is the scheduled send time of message seq.
func intendedAt(t0 int64, rate int, seq int64) int64 {
	return t0 + int64(float64(seq)*1e9/float64(rate))
}

// waitUntil returns at the monotonic time t (or at once if it passed).
// Go's timers overshoot by up to a millisecond or two, so it sleeps only
// until 1.5 ms before t, then waits actively. While it does, it lets the
// process's other goroutines run (runtime.Gosched: with GOMAXPROCS 1 the
// engine's writer and reader goroutines share this thread's P, and a wait
// that kept it would hold them off until the scheduler preempted it, ten
// milliseconds later) and, until 50 µs before t, other processes too
// (sched_yield: a receiver pinned to the same core).
func waitUntil(t int64) {
	const (
		sleepFrom = int64(2 * time.Millisecond)
		sleepTo   = int64(1500 * time.Microsecond)
		spinFrom  = int64(50 * time.Microsecond)
	)
	for {
		d := t - Mono()
		switch {
		case d <= 0:
			return
		case d > sleepFrom:
			time.Sleep(time.Duration(d - sleepTo))
		case d > spinFrom:
			runtime.Gosched()
			host.Yield()
		default:
			runtime.Gosched()
		}
	}
}

// streamPaced is the sender's open-loop stream: message i goes out at
// t0 + i/rate, or at once when the sender is behind its schedule, stamped
// with its sequence number and intended time; then the end marker, as
// stream sends it. A schedule bounded by a duration ends when that much
// time has passed, as wrk2's does: a sender that fell behind leaves the
// rest of its schedule unsent (counted), and every message it did send
// carries its lag in its latency.
func (sd *side) streamPaced(e *end, count int64, dur time.Duration, t0 int64, marker byte, peerSeen <-chan struct{}) (PhaseReport, error) {
	var r PhaseReport
	rate, size := sd.cell.Rate, sd.cell.Size
	n := scheduleLen(rate, count, dur)
	if t0 == 0 { // no schedule start from a clock this side shares
		t0 = Mono() + int64(scheduleLead)
	}
	payload := make([]byte, size)
	tx := e.streamTx
	// A duration-bounded schedule stops when its time is up, and then some:
	// a sender a little late on its last messages (within behindSlack) still
	// sends them; one further behind leaves the rest unsent.
	end := int64(0)
	if count == 0 {
		end = t0 + int64(dur) + behindSlack(int64(dur))
	}
	for seq := range n {
		intended := intendedAt(t0, rate, seq)
		waitUntil(intended)
		if end > 0 && seq > 0 && Mono() >= end {
			r.Unsent = n - seq
			break
		}
		if size >= seqBytes {
			binary.LittleEndian.PutUint64(payload, uint64(seq))
		}
		if size >= intendedBytes {
			binary.LittleEndian.PutUint64(payload[seqBytes:], uint64(intended))
		}
		now := Mono()
		if seq == 0 {
			r.FirstSend = now
		}
		r.LastSend = now
		r.ScheduleLagNs = max(r.ScheduleLagNs, now-intended)
		if err := tx.sendData(nil, payload); err != nil {
			return r, err
		}
		r.Sent++
	}
	r.LastIntended = intendedAt(t0, rate, r.Sent-1)
	if e.lossy {
		return r, sd.repeatCtl(tx, marker, peerSeen)
	}
	if err := tx.sendCtl(nil, marker); err != nil {
		return r, err
	}
	return r, sd.awaitPeer(peerSeen)
}

// receiveTimed is the receiver's side of an open-loop stream: receive as
// receive does, and record every message's latency from its intended send
// time into h (nil when the messages cannot carry it).
//
// With echo (open-loop round trips, for sides on different hosts) it sends
// every message, and the end marker, straight back to the sender, which
// times them on its own clock; it records nothing itself.
func (sd *side) receiveTimed(e *end, t0 int64, marker byte, h *hdrhistogram.Histogram, echo bool) (PhaseReport, error) {
	var r PhaseReport
	size, rate := sd.cell.Size, sd.cell.Rate
	rx := e.streamRx
	for {
		kind, body, code, from, err := rx.read()
		if err != nil {
			return r, err
		}
		now := Mono()
		if kind == msgCtl {
			if code != marker {
				continue
			}
			if echo {
				return r, e.repTx.sendCtl(from, marker)
			}
			return r, nil
		}
		if len(body) != size {
			return r, fmt.Errorf("%w: %d bytes, want %d", ErrWrongSize, len(body), size)
		}
		if r.Received == 0 {
			r.FirstRecv = now
		}
		r.LastRecv = now
		r.Received++
		if echo {
			if err := e.repTx.sendData(from, body); err != nil {
				return r, err
			}
			r.Sent++
			continue
		}
		if h == nil {
			continue
		}
		recordLoad(h, now-intendedOf(body, t0, rate))
	}
}

// streamPacedEchoed is streamPaced for sides on different hosts: the
// receiver echoes every message, and the sender times each one from its
// intended send time to the echo's arrival, on its own clock alone: an
// open-loop round trip. Echoes are read by a goroutine of their own while
// the schedule runs; the phase ends when the echoed end marker is back.
func (sd *side) streamPacedEchoed(e *end, count int64, dur time.Duration, marker byte, peerSeen <-chan struct{}, h *hdrhistogram.Histogram) (PhaseReport, error) {
	t0 := Mono() + int64(scheduleLead)
	size, rate := sd.cell.Size, sd.cell.Rate
	type echoes struct {
		n   int64
		err error
	}
	done := make(chan echoes, 1)
	go func() {
		var got echoes
		for {
			kind, body, code, _, err := e.repRx.read()
			if err != nil {
				got.err = err
				break
			}
			now := Mono()
			if kind == msgCtl {
				if code == marker {
					break
				}
				continue
			}
			if len(body) != size {
				got.err = fmt.Errorf("%w: echo of %d bytes, want %d", ErrWrongSize, len(body), size)
				break
			}
			got.n++
			if h == nil {
				continue
			}
			recordLoad(h, now-intendedOf(body, t0, rate))
		}
		if got.err != nil {
			sd.fail(e, got.err) // unblocks the sender below
		}
		done <- got
	}()
	r, err := sd.streamPaced(e, count, dur, t0, marker, peerSeen)
	got := <-done
	if err == nil {
		err = got.err
	}
	if err == nil && got.n != r.Sent {
		err = fmt.Errorf("%w: %d echoes of %d messages", ErrLostMessages, got.n, r.Sent)
	}
	return r, err
}

// behindSlack is how late a sender may be on a phase of the given length
// (ns) and still count as keeping its schedule: 1 ms, or 1 % of the phase.
func behindSlack(phase int64) int64 { return max(int64(time.Millisecond), phase/100) }

// loadOf merges the pairs' latency histograms into the run's Load.
func loadOf(rate int, hs []*hdrhistogram.Histogram) *sample.Load {
	all := hdrhistogram.New(histLowestNs, histHighestNs, histSigFigs)
	for _, h := range hs {
		if h != nil {
			all.Merge(h)
		}
	}
	l := &sample.Load{Rate: rate, Messages: all.TotalCount()}
	if l.Messages == 0 {
		return l
	}
	l.P50Ns = all.ValueAtQuantile(50)
	l.P99Ns = all.ValueAtQuantile(99)
	l.P999Ns = all.ValueAtQuantile(99.9)
	l.P9999Ns = all.ValueAtQuantile(99.99)
	l.MaxNs = all.Max()
	l.MeanNs = all.Mean()
	return l
}
