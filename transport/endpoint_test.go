package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in     string
		bind   bool
		want   Endpoint
		String string // "" = same as in
	}{
		{"tcp://127.0.0.1:5555", false, Endpoint{Scheme: TCP, Host: "127.0.0.1", Port: "5555"}, ""},
		{"tcp://localhost:1", false, Endpoint{Scheme: TCP, Host: "localhost", Port: "1"}, ""},
		{"tcp://[::1]:65535", false, Endpoint{Scheme: TCP, Host: "::1", Port: "65535"}, ""},
		{"tcp://*:5555", true, Endpoint{Scheme: TCP, Host: "*", Port: "5555"}, ""},
		{"tcp://127.0.0.1:*", true, Endpoint{Scheme: TCP, Host: "127.0.0.1", Port: "0"}, "tcp://127.0.0.1:0"},
		{"ipc:///tmp/x.ipc", false, Endpoint{Scheme: IPC, Path: "/tmp/x.ipc"}, ""},
		{"ipc://relative.ipc", true, Endpoint{Scheme: IPC, Path: "relative.ipc"}, ""},
		{"ipc://@abstract", true, Endpoint{Scheme: IPC, Path: "@abstract"}, ""},
		{"ws://127.0.0.1:8080/zmq", false, Endpoint{Scheme: WS, Host: "127.0.0.1", Port: "8080", Path: "/zmq"}, ""},
		{"ws://127.0.0.1:8080", false, Endpoint{Scheme: WS, Host: "127.0.0.1", Port: "8080", Path: "/"}, "ws://127.0.0.1:8080/"},
	}
	for _, c := range cases {
		got, err := Parse(c.in, c.bind)
		if err != nil || got != c.want {
			t.Errorf("Parse(%q, bind %v) = %+v, %v; want %+v", c.in, c.bind, got, err, c.want)
			continue
		}
		want := c.String
		if want == "" {
			want = c.in
		}
		if s := got.String(); s != want {
			t.Errorf("Parse(%q).String() = %q, want %q", c.in, s, want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		in     string
		bind   bool
		reason string // part of the message saying what is allowed
	}{
		{"127.0.0.1:5555", true, "missing scheme"},
		{"udp://127.0.0.1:5555", true, "allowed: tcp, ipc, ws"},
		{"tcp://127.0.0.1", true, "host:port"},
		{"tcp://127.0.0.1:", true, "1..65535"},
		{"tcp://127.0.0.1:0x10", true, "1..65535"},
		{"tcp://127.0.0.1:70000", true, "1..65535"},
		{"tcp://127.0.0.1:-1", true, "1..65535"},
		{"tcp://:5555", true, "missing host"},
		{"tcp://*:5555", false, "cannot connect to host *"},
		{"tcp://127.0.0.1:*", false, "cannot connect to port"},
		{"tcp://127.0.0.1:0", false, "cannot connect to port"},
		{"tcp://127.0.0.1:5555/path", true, "not supported"},
		{"tcp://eth0;127.0.0.1:5555", false, "not supported"},
		{"ipc://", true, "missing path"},
		{"ipc://@", true, "missing path"},
		{"ipc:///tmp/" + strings.Repeat("x", 103), true, "at most 107"},
		{"ipc:///tmp/a\x00b", true, "NUL"},
		{"ws://host/path", false, "host:port"},
	}
	for _, c := range cases {
		_, err := Parse(c.in, c.bind)
		var ee *EndpointError
		if !errors.As(err, &ee) || !errors.Is(err, ErrBadEndpoint) {
			t.Errorf("Parse(%q, bind %v) = %v; want an *EndpointError wrapping ErrBadEndpoint", c.in, c.bind, err)
			continue
		}
		if ee.Endpoint != c.in || !strings.Contains(err.Error(), fmt.Sprintf("%q", c.in)) {
			t.Errorf("Parse(%q): error %q does not name the endpoint", c.in, err)
		}
		if !strings.Contains(err.Error(), c.reason) {
			t.Errorf("Parse(%q): error %q does not say %q", c.in, err, c.reason)
		}
	}
	// 107 bytes is the longest path that fits.
	if _, err := Parse("ipc:///tmp/"+strings.Repeat("x", 102), true); err != nil {
		t.Errorf("a 107-byte ipc path: %v", err)
	}
}

// roundTrip listens on ep, dials it, and checks that bytes pass both ways.
func roundTrip(t *testing.T, ep string) Listener {
	t.Helper()
	bindEP, err := Parse(ep, true)
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen(bindEP)
	if err != nil {
		t.Fatalf("Listen(%s): %v", ep, err)
	}
	t.Cleanup(func() { l.Close() })
	dialEP, err := Parse(l.Endpoint(), false)
	if err != nil {
		t.Fatalf("the bound endpoint %q does not parse for dialling: %v", l.Endpoint(), err)
	}
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Errorf("Accept: %v", err)
		}
		accepted <- c
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d, err := Dial(ctx, dialEP)
	if err != nil {
		t.Fatalf("Dial(%s): %v", l.Endpoint(), err)
	}
	defer d.Close()
	a := <-accepted
	if a == nil {
		t.FailNow()
	}
	defer a.Close()
	if !d.Client || a.Client || d.Framing != ZMTP || a.Framing != ZMTP {
		t.Errorf("dialled %+v / accepted %+v: want Client only on the dialling side, ZMTP framing", d, a)
	}
	if d.Raw == nil || a.Raw == nil {
		t.Errorf("stream connections without Raw access: dialled %v, accepted %v", d.Raw, a.Raw)
	}
	if _, err := d.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	return l
}

func TestListenDialTCP(t *testing.T) {
	l := roundTrip(t, "tcp://127.0.0.1:*")
	if strings.HasSuffix(l.Endpoint(), ":0") {
		t.Errorf("Endpoint() = %q, want the bound port", l.Endpoint())
	}
	// After Close, Accept fails with net.ErrClosed.
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close = %v, want net.ErrClosed", err)
	}
}

func tempSocketPath(t *testing.T) string {
	path := fmt.Sprintf("/tmp/zbench-transport-test-%d-%s.ipc", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "-"))
	t.Cleanup(func() { os.Remove(path) })
	return path
}

func TestListenDialIPC(t *testing.T) {
	path := tempSocketPath(t)
	l := roundTrip(t, "ipc://"+path)
	if l.Endpoint() != "ipc://"+path {
		t.Errorf("Endpoint() = %q", l.Endpoint())
	}
	l.Close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Close the socket file is still there: %v", err)
	}
	roundTrip(t, fmt.Sprintf("ipc://@zbench-transport-test-%d", os.Getpid()))
}

func TestListenIPCStaleAndLive(t *testing.T) {
	path := tempSocketPath(t)
	stale, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	stale.SetUnlinkOnClose(false)
	stale.Close()
	ep, _ := Parse("ipc://"+path, true)
	l, err := Listen(ep)
	if err != nil {
		t.Fatalf("Listen over a stale socket file: %v", err)
	}
	defer l.Close()
	// The path is now in use by a live listener: a second Listen must not
	// take it over.
	if l2, err := Listen(ep); err == nil {
		l2.Close()
		t.Fatal("a second Listen took over the socket of a live listener")
	}
	// A regular file is never removed.
	file := tempSocketPath(t) + ".file"
	t.Cleanup(func() { os.Remove(file) })
	if err := os.WriteFile(file, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	fep, _ := Parse("ipc://"+file, true)
	if l3, err := Listen(fep); err == nil {
		l3.Close()
		t.Fatal("Listen over a regular file succeeded")
	} else if !strings.Contains(err.Error(), file) {
		t.Errorf("error %q does not name the path", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "keep" {
		t.Fatalf("the regular file changed: %q, %v", b, err)
	}
}

func TestDialRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ep, _ := Parse("tcp://"+addr, false)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := Dial(ctx, ep); err == nil {
		c.Close()
		t.Fatalf("Dial to a closed port %s succeeded", addr)
	}
}
