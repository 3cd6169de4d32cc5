package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/spf13/cobra"

	"zbench/engine"
	"zbench/transport"
)

// Peer roles. pull, sub and a binding pair receive and report throughput;
// push, pub and a connecting pair send; rep echoes; req times round trips.
var peerRoles = []string{"push", "pull", "req", "rep", "pub", "sub", "pair"}

// peerOptions holds what `zbench peer` was asked to do.
type peerOptions struct {
	Role          string
	Bind          string        // endpoint to bind, or ""
	Connect       string        // endpoint to connect to, or ""
	Size          int           // message body, bytes
	Count         int           // messages (round trips for req)
	OutBatchSize  int           // engine option
	WriteBatching bool          // engine option
	Timeout       time.Duration // longest silence once the first message arrived
	Wait          time.Duration // pub: pause before sending, for subscribers to join
	JSON          bool

	stdout io.Writer
}

func newPeerCmd() *cobra.Command { return newPeerCmdWith(runPeer) }

// newPeerCmdWith builds the command around runF, so that tests can check
// flag handling without opening sockets.
func newPeerCmdWith(runF func(context.Context, *peerOptions) error) *cobra.Command {
	def := engine.DefaultOptions()
	opts := &peerOptions{}
	cmd := &cobra.Command{
		Use:   "peer --role ROLE (--bind|--connect) ENDPOINT --size N --count N",
		Short: "One side of a benchmark against any ZeroMQ peer (like libzmq's local_thr, local_lat)",
		Long: `peer runs one side of a throughput or latency test on the embedded engine, so
that the other side can be any ZeroMQ implementation (libzmq's perf tools,
another zbench peer):

  pull, sub   receive --count messages of --size bytes and print, as libzmq's
              local_thr does (timed from the first message received):
                message size: N [B]
                message count: N
                mean throughput: X [msg/s]
                mean throughput: Y [Mb/s]       (megabits)
  push, pub   send --count messages of --size bytes, then exit once they are
              written (linger); pub first waits --wait for subscribers, and
              queues without limit rather than drop at the high-water mark
  rep         echo --count messages back unchanged
  req         do --count round trips and print, as libzmq's remote_lat does:
                message size: N [B]
                roundtrip count: N
                average latency: X [us]         (half the mean round trip)
              followed by the round trip's p50 and p99
  pair        with --bind, receive like pull; with --connect, send like push

A message of the wrong size, or fewer messages than --count (nothing for
--timeout once the first one arrived), exits with status 1; bad flags exit
with status 2. --json prints the same figures as one JSON object.`,
		Example: `  zbench peer --role pull --bind tcp://*:5555 --size 32 --count 1000000
  zbench peer --role push --connect tcp://127.0.0.1:5555 --size 32 --count 1000000
  zbench peer --role rep --bind ipc:///tmp/lat.sock --size 64 --count 10000
  zbench peer --role req --connect ipc:///tmp/lat.sock --size 64 --count 10000 --out-batch-size 1`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return badInput(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.validate(); err != nil {
				return badInput(err)
			}
			opts.stdout = cmd.OutOrStdout()
			return runF(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Role, "role", "", "socket role: "+strings.Join(peerRoles, ", "))
	fl.StringVar(&opts.Bind, "bind", "", "endpoint to bind: tcp://host:port, ipc:///path, ws://host:port/path")
	fl.StringVar(&opts.Connect, "connect", "", "endpoint to connect to")
	fl.IntVar(&opts.Size, "size", 0, "message size in bytes (>= 0)")
	fl.IntVar(&opts.Count, "count", 0, "messages to send or receive, round trips for req (>= 1)")
	fl.IntVar(&opts.OutBatchSize, "out-batch-size", def.OutBatchSize, "bytes batched into one write (>= 1; 1 = every message its own write)")
	fl.BoolVar(&opts.WriteBatching, "write-batching", def.WriteBatching, "let queued messages share a write")
	fl.DurationVar(&opts.Timeout, "timeout", 10*time.Second, "fail after this long without a message, once the first arrived")
	fl.DurationVar(&opts.Wait, "wait", time.Second, "pub: wait this long for subscribers before sending")
	fl.BoolVar(&opts.JSON, "json", false, "print the figures as one JSON object")
	setAllowed(fl, "size", "an integer >= 0 (bytes)")
	setAllowed(fl, "count", "an integer >= 1")
	setAllowed(fl, "out-batch-size", "an integer >= 1 (bytes)")
	setAllowed(fl, "timeout", "a duration > 0 such as 500ms, 10s, 1m30s")
	setAllowed(fl, "wait", "a duration >= 0 such as 500ms, 10s, 1m30s")
	return cmd
}

// validate checks the flags; every error says what is allowed.
func (o *peerOptions) validate() error {
	switch {
	case !slices.Contains(peerRoles, o.Role):
		return fmt.Errorf("--role %q: allowed: %s", o.Role, strings.Join(peerRoles, ", "))
	case (o.Bind == "") == (o.Connect == ""):
		return errors.New("give exactly one of --bind ENDPOINT and --connect ENDPOINT")
	case o.Size < 0:
		return fmt.Errorf("--size %d: allowed: an integer >= 0", o.Size)
	case o.Count < 1:
		return fmt.Errorf("--count %d: allowed: an integer >= 1", o.Count)
	case o.Timeout <= 0:
		return fmt.Errorf("--timeout %v: allowed: a duration > 0", o.Timeout)
	case o.Wait < 0:
		return fmt.Errorf("--wait %v: allowed: a duration >= 0", o.Wait)
	}
	if o.Bind != "" {
		if _, err := transport.Parse(o.Bind, true); err != nil {
			return fmt.Errorf("--bind: %w", err)
		}
	} else if _, err := transport.Parse(o.Connect, false); err != nil {
		return fmt.Errorf("--connect: %w", err)
	}
	if err := o.engineOptions().Validate(); err != nil {
		var oe *engine.OptionError
		if errors.As(err, &oe) && oe.Option == "OutBatchSize" {
			return fmt.Errorf("--out-batch-size %d: allowed: %s", o.OutBatchSize, oe.Allowed)
		}
		return err
	}
	return nil
}

// receives reports whether the role receives the stream.
func (o *peerOptions) receives() bool {
	return o.Role == "pull" || o.Role == "sub" || o.Role == "pair" && o.Bind != ""
}

func (o *peerOptions) engineOptions() engine.Options {
	eo := engine.DefaultOptions()
	eo.OutBatchSize = o.OutBatchSize
	eo.WriteBatching = o.WriteBatching
	switch o.Role {
	case "sub":
		eo.Subscribe = [][]byte{{}}
	case "pub":
		// A PUB drops at its high-water mark; with no limit every message
		// reaches a subscriber that keeps up eventually, as --count expects.
		eo.SndHWM = 0
	}
	if o.receives() || o.Role == "req" || o.Role == "rep" {
		eo.RecvTimeout = o.Timeout
	}
	return eo
}

// peerReport is what --json prints; fields that do not apply to the role are
// left out.
type peerReport struct {
	Role           string  `json:"role"`
	MessageSize    int     `json:"message_size"`
	MessageCount   int     `json:"message_count,omitempty"`
	RoundtripCount int     `json:"roundtrip_count,omitempty"`
	MsgsPerSec     float64 `json:"msgs_per_sec,omitempty"`
	MegabitsPerSec float64 `json:"megabits_per_sec,omitempty"`
	AvgLatencyUs   float64 `json:"average_latency_us,omitempty"`
	RTTP50Us       float64 `json:"rtt_p50_us,omitempty"`
	RTTP99Us       float64 `json:"rtt_p99_us,omitempty"`
}

// errPeer marks a failure of the exchange itself (wrong size, missing
// messages): exit 1.
var errPeer = errors.New("peer")

// runPeer opens the socket and plays the role.
func runPeer(ctx context.Context, o *peerOptions) error {
	t, err := engine.ParseType(o.Role)
	if err != nil {
		return badInput(err)
	}
	s, err := engine.NewSocket(t, o.engineOptions())
	if err != nil {
		return badInput(err)
	}
	if o.Bind != "" {
		err = s.Bind(o.Bind)
	} else {
		err = s.Connect(o.Connect)
	}
	if err != nil {
		s.Close()
		if errors.Is(err, engine.ErrBadEndpoint) || errors.Is(err, transport.ErrBadEndpoint) {
			return badInput(err)
		}
		return failed(err)
	}

	// The role plays in its own goroutine so that an interrupt returns at
	// once, even from a Send blocked for want of a peer; the process exit
	// then takes the socket down.
	type outcome struct {
		rep peerReport
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		var r outcome
		switch {
		case o.receives():
			r.rep, r.err = peerReceive(s, o)
		case o.Role == "rep":
			r.rep, r.err = peerEcho(s, o)
		case o.Role == "req":
			r.rep, r.err = peerPing(s, o)
		default:
			r.rep, r.err = peerSend(ctx, s, o)
		}
		s.Close() // lingers until what was sent is written
		done <- r
	}()
	select {
	case <-ctx.Done():
		return failed(fmt.Errorf("interrupted: %w", ctx.Err()))
	case r := <-done:
		if r.err != nil {
			return failed(r.err)
		}
		return writePeerReport(o, r.rep)
	}
}

// recvOne receives one single-frame message and checks its size. Before
// the first message it waits as long as it takes; after it, a silence of
// --timeout fails with the count received so far.
func recvOne(s *engine.Socket, o *peerOptions, got int) ([]byte, error) {
	for {
		b, more, err := s.RecvFrame()
		switch {
		case errors.Is(err, engine.ErrTimeout) && got == 0:
			continue
		case errors.Is(err, engine.ErrTimeout):
			return nil, fmt.Errorf("%w: received %d of %d messages, then nothing for %v", errPeer, got, o.Count, o.Timeout)
		case err != nil:
			return nil, err
		case more:
			return nil, fmt.Errorf("%w: message %d has more than one frame; want single-frame messages", errPeer, got+1)
		case len(b) != o.Size:
			return nil, fmt.Errorf("%w: message %d has %d bytes, want %d (--size)", errPeer, got+1, len(b), o.Size)
		}
		return b, nil
	}
}

// peerReceive is local_thr: receive the stream, timed from the first message.
func peerReceive(s *engine.Socket, o *peerOptions) (peerReport, error) {
	rep := peerReport{Role: o.Role, MessageSize: o.Size, MessageCount: o.Count}
	var start time.Time
	for i := 0; i < o.Count; i++ {
		if _, err := recvOne(s, o, i); err != nil {
			return rep, err
		}
		if i == 0 {
			start = time.Now()
		}
	}
	// As local_thr: all messages over the time after the first one.
	if elapsed := time.Since(start).Seconds(); elapsed > 0 {
		rep.MsgsPerSec = float64(o.Count) / elapsed
		rep.MegabitsPerSec = rep.MsgsPerSec * float64(o.Size) * 8 / 1e6
	}
	return rep, nil
}

// peerSend is remote_thr: send the stream; Close lingers until it is written.
func peerSend(ctx context.Context, s *engine.Socket, o *peerOptions) (peerReport, error) {
	rep := peerReport{Role: o.Role, MessageSize: o.Size, MessageCount: o.Count}
	if o.Role == "pub" && o.Wait > 0 {
		select {
		case <-time.After(o.Wait):
		case <-ctx.Done():
			return rep, ctx.Err()
		}
	}
	msg := make([]byte, o.Size)
	for i := 0; i < o.Count; i++ {
		if err := s.Send(msg); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// peerEcho echoes every message back unchanged.
func peerEcho(s *engine.Socket, o *peerOptions) (peerReport, error) {
	rep := peerReport{Role: o.Role, MessageSize: o.Size, MessageCount: o.Count}
	for i := 0; i < o.Count; i++ {
		b, err := recvOne(s, o, i)
		if err != nil {
			return rep, err
		}
		if err := s.Send(b); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// peerPing is remote_lat: round trips, each timed.
func peerPing(s *engine.Socket, o *peerOptions) (peerReport, error) {
	rep := peerReport{Role: o.Role, MessageSize: o.Size, RoundtripCount: o.Count}
	h := hdrhistogram.New(1, int64(10*time.Minute), 3)
	msg := make([]byte, o.Size)
	var total time.Duration
	for i := 0; i < o.Count; i++ {
		t0 := time.Now()
		if err := s.Send(msg); err != nil {
			return rep, err
		}
		if _, err := recvOne(s, o, i); err != nil {
			return rep, err
		}
		rtt := time.Since(t0)
		total += rtt
		_ = h.RecordValue(min(int64(rtt), h.HighestTrackableValue()))
	}
	rep.AvgLatencyUs = total.Seconds() * 1e6 / float64(o.Count) / 2
	rep.RTTP50Us = float64(h.ValueAtQuantile(50)) / 1e3
	rep.RTTP99Us = float64(h.ValueAtQuantile(99)) / 1e3
	return rep, nil
}

// writePeerReport prints the report as libzmq's tools do, or as JSON.
func writePeerReport(o *peerOptions, r peerReport) error {
	var err error
	w := o.stdout
	switch {
	case o.JSON:
		err = json.NewEncoder(w).Encode(r)
	case r.RoundtripCount > 0:
		_, err = fmt.Fprintf(w, "message size: %d [B]\nroundtrip count: %d\naverage latency: %.3f [us]\nround trip p50: %.3f [us]\nround trip p99: %.3f [us]\n",
			r.MessageSize, r.RoundtripCount, r.AvgLatencyUs, r.RTTP50Us, r.RTTP99Us)
	case o.receives():
		_, err = fmt.Fprintf(w, "message size: %d [B]\nmessage count: %d\nmean throughput: %.0f [msg/s]\nmean throughput: %.3f [Mb/s]\n",
			r.MessageSize, r.MessageCount, r.MsgsPerSec, r.MegabitsPerSec)
	}
	if err != nil {
		return failed(err)
	}
	return nil
}
