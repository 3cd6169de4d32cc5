package transport

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain checks, after every test of the package, that no goroutine
// outlived the listener or dial that started it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// listenWSTest binds ws://127.0.0.1:*/path and closes the listener when the
// test ends.
func listenWSTest(t *testing.T, path string) Listener {
	t.Helper()
	ep, err := Parse("ws://127.0.0.1:*"+path, true)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen(ep)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// acceptAsync accepts one connection in the background.
func acceptAsync(l Listener) <-chan *Conn {
	ch := make(chan *Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(ch)
			return
		}
		ch <- c
	}()
	return ch
}

func dialWSTest(t *testing.T, endpoint string, subprotocols []string) (*Conn, error) {
	t.Helper()
	ep, err := Parse(endpoint, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := DialWS(ctx, ep, subprotocols)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// rawUpgrade sends an HTTP upgrade request by hand (protocols "" leaves
// out Sec-WebSocket-Protocol) plus extra bytes in the same write, and
// returns the response's status code, its headers and the reader.
func rawUpgrade(t *testing.T, addr, protocols string, extra []byte) (int, http.Header, *bufio.Reader, net.Conn) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req := "GET /zbench HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if protocols != "" {
		req += "Sec-WebSocket-Protocol: " + protocols + "\r\n"
	}
	req += "\r\n"
	if _, err := c.Write(append([]byte(req), extra...)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("reading the upgrade response: %v", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp.StatusCode, resp.Header, br, c
}

func hostPortOf(t *testing.T, endpoint string) string {
	t.Helper()
	ep, err := Parse(endpoint, false)
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(ep.Host, ep.Port)
}

func TestListenDialWS(t *testing.T) {
	l := listenWSTest(t, "/zbench")
	if !strings.HasPrefix(l.Endpoint(), "ws://127.0.0.1:") || !strings.HasSuffix(l.Endpoint(), "/zbench") || strings.Contains(l.Endpoint(), ":0/") {
		t.Fatalf("Endpoint() = %q, want ws://127.0.0.1:<bound port>/zbench", l.Endpoint())
	}
	accepted := acceptAsync(l)
	c, err := dialWSTest(t, l.Endpoint(), DefaultSubprotocols)
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("Accept failed")
	}
	defer s.Close()
	for _, side := range []struct {
		name   string
		c      *Conn
		client bool
	}{{"dialler", c, true}, {"listener", s, false}} {
		if side.c.Framing != ZWS || side.c.Client != side.client || side.c.Subprotocol != SubprotocolNULL || side.c.Raw == nil {
			t.Errorf("%s: Framing %v Client %v Subprotocol %q Raw %v; want ZWS, %v, %s, a raw socket",
				side.name, side.c.Framing, side.c.Client, side.c.Subprotocol, side.c.Raw != nil, side.client, SubprotocolNULL)
		}
	}
	// After the upgrade the connection is a plain byte stream both ways.
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(s, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("listener read %q, %v", buf, err)
	}
	if _, err := s.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("dialler read %q, %v", buf, err)
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
	}
}

// TestWSSubprotocolChoice: the listener prefers ZWS2.0/NULL whatever the
// client's order, accepts ZWS2.0 alone, and refuses anything else with 400
// Bad Request.
func TestWSSubprotocolChoice(t *testing.T) {
	l := listenWSTest(t, "/zbench")
	addr := hostPortOf(t, l.Endpoint())
	cases := []struct {
		offer  string
		status int
		chosen string
	}{
		{"ZWS2.0/NULL, ZWS2.0", 101, SubprotocolNULL},
		{"ZWS2.0,ZWS2.0/NULL", 101, SubprotocolNULL},
		{"chat, ZWS2.0", 101, SubprotocolNone},
		{"ZWS2.0", 101, SubprotocolNone},
		{"chat", 400, ""},
		{"ZWS1.0, zws2.0/null", 400, ""},
		{"", 400, ""},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%q", c.offer), func(t *testing.T) {
			accepted := acceptAsync(l)
			status, hdr, _, _ := rawUpgrade(t, addr, c.offer, nil)
			if status != c.status {
				t.Fatalf("offering %q: status %d, want %d", c.offer, status, c.status)
			}
			if status != 101 {
				return // the accept goroutine ends with the listener
			}
			if got := hdr.Get("Sec-WebSocket-Protocol"); got != c.chosen {
				t.Errorf("offering %q: server chose %q, want %q", c.offer, got, c.chosen)
			}
			if s := <-accepted; s == nil || s.Subprotocol != c.chosen {
				t.Errorf("offering %q: accepted connection %+v, want Subprotocol %q", c.offer, s, c.chosen)
			} else {
				s.Close()
			}
		})
	}
}

// TestWSBadClientsDoNotBlockOthers: a client that never finishes its
// request and a client refused with 400 do not keep another from being
// upgraded and accepted.
func TestWSBadClientsDoNotBlockOthers(t *testing.T) {
	l := listenWSTest(t, "/zbench")
	addr := hostPortOf(t, l.Endpoint())
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	if _, err := slow.Write([]byte("GET /zbench HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	if status, _, _, _ := rawUpgrade(t, addr, "chat", nil); status != 400 {
		t.Fatalf("unknown subprotocol: status %d, want 400", status)
	}
	accepted := acceptAsync(l)
	c, err := dialWSTest(t, l.Endpoint(), DefaultSubprotocols)
	if err != nil {
		t.Fatalf("a good client behind a stalled one: %v", err)
	}
	select {
	case s := <-accepted:
		if s == nil {
			t.Fatal("Accept failed")
		}
		s.Close()
	case <-time.After(5 * time.Second):
		t.Fatal("the good client was not accepted while another stalls in its upgrade")
	}
	c.Close()
}

// TestWSListenerCloseEndsUpgrades: Close returns at once even with a client
// stalled mid-request, and ends every goroutine it started (TestMain checks
// with goleak); the stalled client sees its connection closed.
func TestWSListenerCloseEndsUpgrades(t *testing.T) {
	l := listenWSTest(t, "/zbench")
	addr := hostPortOf(t, l.Endpoint())
	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	slow.Write([]byte("GET /zbench HTTP/1.1\r\n"))
	// An upgraded connection nobody accepts is dropped by Close too.
	if _, err := dialWSTest(t, l.Endpoint(), DefaultSubprotocols); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // let the listener take the request
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v with a stalled upgrade", d)
	}
	slow.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := slow.Read(make([]byte, 64)); err == nil {
		t.Fatalf("the stalled client's connection is still open after Close (read %d bytes)", n)
	}
}

// TestWSRequestTooLarge: an upgrade request longer than the listener reads
// is refused with 400.
func TestWSRequestTooLarge(t *testing.T) {
	l := listenWSTest(t, "/zbench")
	addr := hostPortOf(t, l.Endpoint())
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	big := "GET /zbench HTTP/1.1\r\nHost: x\r\nX-Filler: " + strings.Repeat("a", maxUpgradeRequest) + "\r\n\r\n"
	go c.Write([]byte(big))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the response: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("a %d-byte request: status %d, want 400", len(big), resp.StatusCode)
	}
}

// TestWSBytesAfterUpgradeReachTheReader: frames the client sends in the same
// write as its request, and frames the server sends in the same write as
// its response, come out of the other side's Read first, in order.
func TestWSBytesAfterUpgradeReachTheReader(t *testing.T) {
	t.Run("listener", func(t *testing.T) {
		l := listenWSTest(t, "/zbench")
		accepted := acceptAsync(l)
		_, _, _, raw := rawUpgrade(t, hostPortOf(t, l.Endpoint()), SubprotocolNULL, []byte("early frames"))
		s := <-accepted
		if s == nil {
			t.Fatal("Accept failed")
		}
		defer s.Close()
		raw.Write([]byte(", then more"))
		got := make([]byte, len("early frames, then more"))
		s.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(s, got); err != nil || string(got) != "early frames, then more" {
			t.Fatalf("listener side read %q, %v", got, err)
		}
		if s.Raw == nil {
			t.Error("Raw is nil: the engine's writes would lose their fast path")
		}
	})
	t.Run("dialler", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		served := make(chan error, 1)
		go func() {
			served <- serveRawUpgrade(ln, SubprotocolNone, []byte("early frames"), []byte(", then more"))
		}()
		c, err := dialWSTest(t, "ws://"+ln.Addr().String()+"/zbench", []string{SubprotocolNone})
		if err != nil {
			t.Fatal(err)
		}
		if c.Subprotocol != SubprotocolNone {
			t.Errorf("Subprotocol %q, want %q", c.Subprotocol, SubprotocolNone)
		}
		got := make([]byte, len("early frames, then more"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != "early frames, then more" {
			t.Fatalf("dialler side read %q, %v", got, err)
		}
		if b, ok := c.Conn.(interface{ SetWriteBuffer(int) error }); !ok {
			t.Errorf("%T hides the socket's SetWriteBuffer", c.Conn)
		} else if err := b.SetWriteBuffer(8192); err != nil {
			t.Error(err)
		}
		c.Close()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
	})
}

// serveRawUpgrade accepts one connection on ln, answers its upgrade with 101
// and the given subprotocol ("" for none) followed by early in the same
// write, then writes later.
func serveRawUpgrade(ln net.Listener, subprotocol string, early, later []byte) error {
	c, err := ln.Accept()
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return err
	}
	h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		base64.StdEncoding.EncodeToString(h[:]) + "\r\n"
	if subprotocol != "" {
		resp += "Sec-WebSocket-Protocol: " + subprotocol + "\r\n"
	}
	resp += "\r\n"
	if _, err := c.Write(append([]byte(resp), early...)); err != nil {
		return err
	}
	if later != nil {
		time.Sleep(10 * time.Millisecond)
		if _, err := c.Write(later); err != nil {
			return err
		}
	}
	// Wait for the client to finish.
	io.Copy(io.Discard, c)
	return nil
}

// TestDialWSRefused: a server that answers 400, or 101 without choosing a
// subprotocol, fails the dial with ErrUpgrade.
func TestDialWSRefused(t *testing.T) {
	t.Run("400", func(t *testing.T) {
		l := listenWSTest(t, "/zbench")
		if _, err := dialWSTest(t, l.Endpoint(), []string{"chat"}); !errors.Is(err, ErrUpgrade) {
			t.Fatalf("dial offering only chat: %v, want ErrUpgrade", err)
		}
	})
	t.Run("no subprotocol", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		served := make(chan error, 1)
		go func() { served <- serveRawUpgrade(ln, "", nil, nil) }()
		if _, err := dialWSTest(t, "ws://"+ln.Addr().String()+"/zbench", DefaultSubprotocols); !errors.Is(err, ErrUpgrade) {
			t.Fatalf("dial to a server choosing no subprotocol: %v, want ErrUpgrade", err)
		}
		<-served
	})
}

// TestDialWSCancel: cancelling the context ends an upgrade the server never
// answers.
func TestDialWSCancel(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	ep, _ := Parse("ws://"+ln.Addr().String()+"/zbench", false)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	c, err := Dial(ctx, ep)
	if err == nil {
		c.Close()
		t.Fatal("Dial succeeded against a server that never answers")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Dial error %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Dial took %v after its context expired", d)
	}
	if c := <-accepted; c != nil {
		c.Close()
	}
}
