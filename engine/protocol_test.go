package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// readyFrame is a READY command announcing socket type typ.
func readyFrame(typ string) []byte {
	return appendFrame(nil, flagCommand, appendReadyBody(nil, []property{{"Socket-Type", []byte(typ)}}))
}

// readUntilClosed reads from a raw connection until the engine closes it
// and returns what arrived; eof reports a clean close (as opposed to a
// reset, which the kernel sends when the engine closes with our bytes
// unread). The test fails if the engine keeps the connection open.
func readUntilClosed(t testing.TB, c net.Conn) (got []byte, eof bool) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(waitTimeout))
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return got, true
		case errors.Is(err, syscall.ECONNRESET):
			return got, false
		case errors.Is(err, os.ErrDeadlineExceeded):
			t.Fatalf("the engine did not close the connection within %v (received % x)", waitTimeout, got)
		default:
			t.Fatalf("reading from the engine: %v", err)
		}
	}
}

// engineCommands parses what an engine sent on a raw connection: its
// greeting, then frames. It returns the names of the commands in order.
func engineCommands(t testing.TB, got []byte) (names []string, data [][]byte) {
	t.Helper()
	if len(got) < greetingSize {
		t.Fatalf("engine sent %d octets, not even a greeting: % x", len(got), got)
	}
	if _, err := parseGreeting(got[:greetingSize]); err != nil {
		t.Fatalf("engine's greeting: %v", err)
	}
	rest := got[greetingSize:]
	for len(rest) > 0 {
		h, ok, err := decodeFrameHeader(rest)
		if err != nil || !ok || int64(len(rest)-h.hdrLen) < h.bodyLen {
			t.Fatalf("engine sent a bad or cut frame (% x): %v", rest, err)
		}
		body := rest[h.hdrLen : h.hdrLen+int(h.bodyLen)]
		rest = rest[h.hdrLen+int(h.bodyLen):]
		if h.flags&flagCommand == 0 {
			names = append(names, "message")
			data = append(data, body)
			continue
		}
		name, d, err := splitCommand(body)
		if err != nil {
			t.Fatalf("engine sent a bad command: %v", err)
		}
		names = append(names, name)
		data = append(data, d)
	}
	return names, data
}

// TestProtocolErrorClosesOnlyThatConnection: a bound PULL with a working
// PUSH peer is sent broken input on raw connections; each raw connection is
// closed by the engine, and the good peer keeps exchanging messages.
func TestProtocolErrorClosesOnlyThatConnection(t *testing.T) {
	const maxMsg = 1024
	greeting := appendGreeting(nil)
	handshaken := func(typ string) []byte { return cat(greeting, readyFrame(typ)) }
	cases := []struct {
		name string
		send []byte
		// wantError: the engine must answer with an ERROR command and
		// then close cleanly.
		wantError bool
	}{
		{name: "greeting whose first octet is not 0xFF", send: patch(greeting, 0, 0x00)},
		{name: "greeting of version 2", send: patch(greeting, 10, 2)},
		{name: "mechanism PLAIN", send: cat(withMechanism(greeting, "PLAIN"), readyFrame("PUSH"))},
		{name: "READY from an incompatible PUB", send: handshaken("PUB"), wantError: true},
		{name: "READY without a Socket-Type", send: cat(greeting, appendFrame(nil, flagCommand, appendReadyBody(nil, []property{{"Identity", nil}})))},
		{name: "frame with reserved flag bits", send: cat(handshaken("PUSH"), hx("08 01 61"))},
		{name: "command with MORE", send: cat(handshaken("PUSH"), hx("05 01 61"))},
		{name: "frame larger than MaxMsgSize", send: cat(handshaken("PUSH"), appendFrame(nil, 0, make([]byte, maxMsg+1)))},
		{name: "frame announcing 1 GiB", send: cat(handshaken("PUSH"), hx("02"), binary.BigEndian.AppendUint64(nil, 1<<30), []byte("xyz"))},
		{name: "message before READY", send: cat(greeting, hx("00 03"), []byte("abc"))},
		{name: "second READY", send: cat(handshaken("PUSH"), readyFrame("PUSH"))},
	}
	forEachTransport(t, func(t *testing.T, bindEP string) {
		pull := newTestSocket(t, PULL, func(o *Options) { o.MaxMsgSize = maxMsg })
		ep := bindSocket(t, pull, bindEP)
		push := newTestSocket(t, PUSH)
		connectSocket(t, push, ep)
		seq := 0
		exchange := func(when string) {
			t.Helper()
			seq++
			want := fmt.Sprintf("good %d", seq)
			mustSend(t, push, []byte(want))
			if got := mustRecvString(t, pull); got != want {
				t.Fatalf("%s: the good peer's message arrived as %q, want %q", when, got, want)
			}
		}
		exchange("before any raw connection")
		for _, c := range cases {
			raw := dialRaw(t, ep)
			if _, err := raw.Write(c.send); err != nil {
				t.Fatalf("%s: writing to the engine: %v", c.name, err)
			}
			got, eof := readUntilClosed(t, raw)
			if c.wantError {
				names, data := engineCommands(t, got)
				if len(names) != 2 || names[0] != readyCommand || names[1] != errorCommand {
					t.Fatalf("%s: engine sent %q, want READY then ERROR", c.name, names)
				}
				if r := data[1]; len(r) < 2 || int(r[0]) != len(r)-1 {
					t.Errorf("%s: ERROR reason % x is not a length-prefixed string", c.name, r)
				}
				if !eof {
					t.Errorf("%s: the connection was reset after ERROR, want a clean close (EOF)", c.name)
				}
			}
			raw.Close()
			exchange("after " + c.name)
			waitPeers(t, pull, 1)
		}
	})
}
