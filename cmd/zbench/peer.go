package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/spf13/cobra"

	"zbench/engine"
	"zbench/runner"
	"zbench/runner/engines"
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
	Timeout       time.Duration // longest wait for the peer: first message, any message, a Send, the final write
	Wait          time.Duration // pub: pause before sending, for subscribers to join
	JSON          bool

	stdout, stderr io.Writer
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

--timeout bounds every wait for the other side: for the first message (so
a peer that never connects ends, it does not hang), between messages, for a
Send with nobody taking messages, and for what is queued to be written at
the end. A handshake the engine refuses (a ZMTP version before 3.0, a
WebSocket client without a ZWS subprotocol, a socket type that cannot talk
to this role, a protocol error) is printed as it happens, with the peer's
address and the reason, and repeated in the final message when nothing
arrived.

A message of the wrong size, fewer messages than --count, a timeout or a
sender whose messages no peer took exits with status 1; bad flags exit with
status 2. --json prints the same figures as one JSON object.`,
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
			opts.stdout, opts.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
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
	fl.DurationVar(&opts.Timeout, "timeout", 30*time.Second, "fail after this long waiting for the other side (the first message too)")
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
	// Every wait for the other side is bounded by --timeout.
	eo.RecvTimeout = o.Timeout
	eo.SendTimeout = o.Timeout
	eo.Linger = o.Timeout
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

// runPeer opens the socket on the embedded engine and plays the role with
// the runner's loops (the same code the workers run), through the engine's
// runner.Socket adapter.
func runPeer(ctx context.Context, o *peerOptions) error {
	t, err := engine.ParseType(o.Role)
	if err != nil {
		return badInput(err)
	}
	events := &connEvents{w: o.stderr}
	eo := o.engineOptions()
	eo.Logger = slog.New(events)
	es, err := engine.NewSocket(t, eo)
	if err != nil {
		return badInput(err)
	}
	endpoint := o.Bind
	if endpoint != "" {
		err = es.Bind(endpoint)
		if eps := es.Endpoints(); err == nil && len(eps) > 0 {
			endpoint = eps[len(eps)-1]
		}
	} else {
		endpoint = o.Connect
		err = es.Connect(endpoint)
	}
	if err != nil {
		es.Close()
		if errors.Is(err, engine.ErrBadEndpoint) || errors.Is(err, transport.ErrBadEndpoint) {
			return badInput(err)
		}
		return failed(err)
	}
	s := engines.ZbenchSocket(es)

	// The role plays in its own goroutine so that an interrupt returns at
	// once, even from a Send blocked for want of a peer; the process exit
	// then takes the socket down. A failure is reported before the socket
	// lingers over what it could not send.
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
		if r.err != nil {
			done <- r
			es.Close()
			return
		}
		es.Close() // lingers (up to --timeout) until what was sent is written
		if !o.receives() && o.Role != "rep" && o.Role != "req" && es.Stats().Writes == 0 {
			r.err = timedOut(fmt.Errorf("%w: none of the %d messages went out: no peer took them within --timeout %v", errPeer, o.Count, o.Timeout), true)
		}
		done <- r
	}()
	select {
	case <-ctx.Done():
		return failed(fmt.Errorf("interrupted: %w", ctx.Err()))
	case r := <-done:
		if r.err != nil {
			return failed(events.explain(r.err, o, endpoint))
		}
		return writePeerReport(o, r.rep)
	}
}

// errPeer marks a failure of the exchange itself (wrong size, missing
// messages, no peer): exit 1.
var errPeer = errors.New("peer")

// exchangeError says how far an exchange got when it failed.
func exchangeError(err error, did int64, o *peerOptions, what string) error {
	var se *runner.SizeError
	switch {
	case errors.As(err, &se):
		w := "message"
		if se.What != "" {
			w = se.What
		}
		return fmt.Errorf("%w: %s %d of %d has %d bytes, want %d (--size)", errPeer, w, did+1, o.Count, se.Got, se.Want)
	case errors.Is(err, engine.ErrTimeout) && did == 0:
		return timedOut(fmt.Errorf("%w: no %s within --timeout %v", errPeer, what, o.Timeout), true)
	case errors.Is(err, engine.ErrTimeout):
		return timedOut(fmt.Errorf("%w: %d of %d %ss, then nothing for %v (--timeout)", errPeer, did, o.Count, what, o.Timeout), false)
	case errors.Is(err, runner.ErrUnexpectedMessage):
		return fmt.Errorf("%w: %s %d of %d: %v; want single-frame messages", errPeer, what, did+1, o.Count, err)
	}
	return err
}

// waitError is a wait for the other side that timed out: the connection
// events may say why. none is set when nothing went through at all.
type waitError struct {
	error
	none bool
}

func (e *waitError) Unwrap() error { return e.error }

// timedOut marks err as a wait that timed out, after nothing (none) or
// after some messages went through.
func timedOut(err error, none bool) error { return &waitError{err, none} }

// peerReceive is local_thr: receive the stream, timed from the first message.
func peerReceive(s runner.Socket, o *peerOptions) (peerReport, error) {
	rep := peerReport{Role: o.Role, MessageSize: o.Size, MessageCount: o.Count}
	st, err := runner.ReceiveN(s, o.Size, int64(o.Count))
	if err != nil {
		if errors.Is(err, engine.ErrTimeout) && st.Received > 0 {
			return rep, timedOut(fmt.Errorf("%w: received %d of %d messages, then nothing for %v (--timeout)", errPeer, st.Received, o.Count, o.Timeout), false)
		}
		return rep, exchangeError(err, st.Received, o, "message")
	}
	// As local_thr: all messages over the time after the first one.
	if elapsed := time.Duration(st.LastRecv - st.FirstRecv).Seconds(); elapsed > 0 {
		rep.MsgsPerSec = float64(o.Count) / elapsed
		rep.MegabitsPerSec = rep.MsgsPerSec * float64(o.Size) * 8 / 1e6
	}
	return rep, nil
}

// peerSend is remote_thr: send the stream; Close lingers until it is written.
func peerSend(ctx context.Context, s runner.Socket, o *peerOptions) (peerReport, error) {
	rep := peerReport{Role: o.Role, MessageSize: o.Size, MessageCount: o.Count}
	if o.Role == "pub" && o.Wait > 0 {
		select {
		case <-time.After(o.Wait):
		case <-ctx.Done():
			return rep, ctx.Err()
		}
	}
	st, err := runner.SendN(s, make([]byte, o.Size), int64(o.Count), nil)
	if errors.Is(err, engine.ErrTimeout) {
		return rep, timedOut(fmt.Errorf("%w: sent %d of %d messages, then no peer took one for %v (--timeout)", errPeer, st.Sent, o.Count, o.Timeout), false)
	}
	return rep, err
}

// peerEcho echoes every message back unchanged.
func peerEcho(s runner.Socket, o *peerOptions) (peerReport, error) {
	rep := peerReport{Role: o.Role, MessageSize: o.Size, MessageCount: o.Count}
	st, err := runner.EchoN(s, s, o.Size, int64(o.Count))
	if err != nil {
		return rep, exchangeError(err, st.Received, o, "request")
	}
	return rep, nil
}

// peerPing is remote_lat: round trips, each timed into an HdrHistogram.
func peerPing(s runner.Socket, o *peerOptions) (peerReport, error) {
	rep := peerReport{Role: o.Role, MessageSize: o.Size, RoundtripCount: o.Count}
	h := hdrhistogram.New(1, int64(10*time.Minute), 3)
	st, err := runner.RoundTripsN(s, s, make([]byte, o.Size), int64(o.Count), nil, h)
	if err != nil {
		return rep, exchangeError(err, st.Received, o, "reply")
	}
	rep.AvgLatencyUs = h.Mean() / 1e3 / 2
	rep.RTTP50Us = float64(h.ValueAtQuantile(50)) / 1e3
	rep.RTTP99Us = float64(h.ValueAtQuantile(99)) / 1e3
	return rep, nil
}

// connEvents is the engine's logger for the peer's socket (a slog.Handler):
// it prints every refused handshake on stderr as it happens, with the
// peer's address and the reason (once per reason: a peer that redials
// repeats it), and keeps the last connection error of any kind, so that a
// peer that times out can say why nothing arrived.
type connEvents struct {
	w io.Writer

	mu        sync.Mutex
	printed   map[string]bool
	handshake *engine.HandshakeError // the last refused handshake
	other     error                  // the last other connection error (a failed dial, say)
}

func (h *connEvents) Enabled(context.Context, slog.Level) bool { return true }
func (h *connEvents) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *connEvents) WithGroup(string) slog.Handler            { return h }

func (h *connEvents) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if err, ok := a.Value.Any().(error); ok {
			h.note(err)
		}
		return true
	})
	return nil
}

func (h *connEvents) note(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var he *engine.HandshakeError
	if !errors.As(err, &he) {
		h.other = err
		return
	}
	h.handshake = he
	reason := he.Err.Error()
	if h.printed == nil {
		h.printed = map[string]bool{}
	}
	if h.w != nil && !h.printed[reason] {
		h.printed[reason] = true
		fmt.Fprintf(h.w, "zbench: peer: %s\n", handshakeText(he))
	}
}

// handshakeText says a refused handshake in the peer's words.
func handshakeText(he *engine.HandshakeError) string {
	peer := he.Peer
	if peer == "" {
		peer = "a peer"
	}
	return fmt.Sprintf("handshake with %s on %s failed: %v", peer, he.Endpoint, he.Err)
}

// explain adds to a wait that timed out what the connection events say
// about the other side.
func (h *connEvents) explain(err error, o *peerOptions, endpoint string) error {
	var we *waitError
	if !errors.As(err, &we) {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.handshake != nil:
		return fmt.Errorf("%w; the last %s", err, handshakeText(h.handshake))
	case h.other != nil:
		return fmt.Errorf("%w; the last connection error: %v", err, h.other)
	case !we.none:
		return err
	case o.Bind != "":
		return fmt.Errorf("%w; no peer connected to %s, or none sent anything", err, endpoint)
	}
	return fmt.Errorf("%w; nothing answered at %s", err, endpoint)
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
