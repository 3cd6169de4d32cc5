package engine

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"zbench/transport"
)

// handshakeLog is a slog.Handler that passes every *HandshakeError the
// socket logs to a channel.
type handshakeLog chan *HandshakeError

func (h handshakeLog) Enabled(context.Context, slog.Level) bool { return true }
func (h handshakeLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h handshakeLog) WithGroup(string) slog.Handler            { return h }
func (h handshakeLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		var he *HandshakeError
		if err, ok := a.Value.Any().(error); ok && errors.As(err, &he) {
			select {
			case h <- he:
			default:
			}
		}
		return true
	})
	return nil
}

func (h handshakeLog) await(t *testing.T) *HandshakeError {
	t.Helper()
	select {
	case he := <-h:
		return he
	case <-time.After(5 * time.Second):
		t.Fatal("no handshake error logged")
		return nil
	}
}

func loggedSocket(t *testing.T, typ Type) (*Socket, handshakeLog) {
	t.Helper()
	h := make(handshakeLog, 16)
	o := DefaultOptions()
	o.Logger = slog.New(h)
	o.Linger = 0
	s, err := NewSocket(typ, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, h
}

// A refused handshake is logged as a *HandshakeError that names the
// endpoint, the peer's address and the reason: here a ZMTP/2.0 peer, whose
// version octet 0x01 is named as ZMTP/2.0.
func TestHandshakeErrorZMTPVersion(t *testing.T) {
	s, log := loggedSocket(t, PULL)
	if err := s.Bind("tcp://127.0.0.1:*"); err != nil {
		t.Fatal(err)
	}
	ep := s.Endpoints()[0]
	c, err := net.Dial("tcp", strings.TrimPrefix(ep, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// ZMTP/2.0: signature, then revision 0x01 and the socket type.
	if _, err := c.Write([]byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0x01, 0x08}); err != nil {
		t.Fatal(err)
	}
	he := log.await(t)
	if he.Endpoint != ep || he.Peer != c.LocalAddr().String() || !errors.Is(he, ErrProtocol) ||
		!strings.Contains(he.Error(), "peer speaks ZMTP/2.0 (version octet 0x01); this engine needs ZMTP/3.0 or later") ||
		!strings.Contains(he.Error(), "handshake with "+c.LocalAddr().String()+" on "+ep+" failed") {
		t.Errorf("logged %+v: %v", he, he)
	}
}

// A WebSocket client that offers no ZWS subprotocol is refused (400) and
// logged with its address; a connecting socket refused by a WebSocket
// server logs the same kind of error.
func TestHandshakeErrorWSSubprotocol(t *testing.T) {
	s, log := loggedSocket(t, PULL)
	if err := s.Bind("ws://127.0.0.1:*/zbench"); err != nil {
		t.Fatal(err)
	}
	ep := s.Endpoints()[0]
	parsed, err := transport.Parse(ep, false)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := transport.DialWS(context.Background(), parsed, []string{"chat"}); err == nil {
		c.Close()
		t.Fatal("the upgrade offering only chat succeeded")
	}
	he := log.await(t)
	if he.Endpoint != ep || he.Peer == "" || !errors.Is(he, transport.ErrUpgrade) {
		t.Errorf("listener logged %+v: %v", he, he)
	}

	// The connecting side: a server that answers every upgrade with 400.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			c.Read(buf)
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"))
			c.Close()
		}
	}()
	d, dlog := loggedSocket(t, PUSH)
	target := "ws://" + ln.Addr().String() + "/zbench"
	if err := d.Connect(target); err != nil {
		t.Fatal(err)
	}
	he = dlog.await(t)
	if he.Endpoint != target || he.Peer != ln.Addr().String() || !errors.Is(he, transport.ErrUpgrade) {
		t.Errorf("dialler logged %+v: %v", he, he)
	}
	d.Close()
	ln.Close()
}
