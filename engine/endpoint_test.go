package engine

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

func TestTCPEphemeralPortReadBack(t *testing.T) {
	pull := newTestSocket(t, PULL)
	ep := bindSocket(t, pull, "tcp://127.0.0.1:*")
	host, port, err := net.SplitHostPort(strings.TrimPrefix(ep, "tcp://"))
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("Endpoints() = %q, want tcp://127.0.0.1:<port>", ep)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		t.Fatalf("Endpoints() = %q: port %q is not the bound port", ep, port)
	}
	push := newTestSocket(t, PUSH)
	connectSocket(t, push, ep)
	mustSend(t, push, []byte("x"))
	if got := mustRecvString(t, pull); got != "x" {
		t.Fatalf("received %q", got)
	}
	// Every interface, read back as such but with the real port.
	all := newTestSocket(t, PULL)
	ep = bindSocket(t, all, "tcp://*:*")
	if !strings.HasPrefix(ep, "tcp://") || strings.HasSuffix(ep, ":*") || strings.HasSuffix(ep, ":0") {
		t.Fatalf("Endpoints() after binding tcp://*:* = %q, want the bound port", ep)
	}
}

func ipcPath(ep string) string { return strings.TrimPrefix(ep, "ipc://") }

// exchangeOnce checks that a PUSH connected to ep reaches pull.
func exchangeOnce(t *testing.T, pull *Socket, ep string) {
	t.Helper()
	push := newTestSocket(t, PUSH)
	connectSocket(t, push, ep)
	mustSend(t, push, []byte(ep))
	if got := mustRecvString(t, pull); got != ep {
		t.Fatalf("received %q, want %q", got, ep)
	}
	push.Close()
}

func TestIPCStaleSocketFileRemovedOnBind(t *testing.T) {
	ep := tempIPCEndpoint(t)
	path := ipcPath(ep)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("setting up a stale socket file: %v", err)
	}
	pull := newTestSocket(t, PULL)
	bindSocket(t, pull, ep)
	exchangeOnce(t, pull, ep)
	if err := pull.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after Close the socket file %s is still there (Lstat: %v)", path, err)
	}
}

func TestIPCLiveSocketIsNotStolen(t *testing.T) {
	ep := tempIPCEndpoint(t)
	first := newTestSocket(t, PULL)
	bindSocket(t, first, ep)
	second := newTestSocket(t, PULL)
	if err := second.Bind(ep); err == nil {
		t.Fatalf("a second Bind to %s, in use by a live socket, succeeded", ep)
	}
	exchangeOnce(t, first, ep)
}

func TestIPCRegularFileRefused(t *testing.T) {
	ep := tempIPCEndpoint(t)
	path := ipcPath(ep)
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	pull := newTestSocket(t, PULL)
	err := pull.Bind(ep)
	if err == nil {
		t.Fatalf("Bind(%s) over a regular file succeeded", ep)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Bind error %q does not name the path", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Fatalf("the regular file was changed by Bind: %q, %v", b, err)
	}
}

func TestIPCAbstract(t *testing.T) {
	ep := fmt.Sprintf("ipc://@zbench-test-%d-%d", os.Getpid(), ipcSeq.Add(1))
	pull := newTestSocket(t, PULL)
	if got := bindSocket(t, pull, ep); got != ep {
		t.Errorf("Endpoints() = %q, want %q", got, ep)
	}
	exchangeOnce(t, pull, ep)
	if _, err := os.Lstat("@" + strings.TrimPrefix(ep, "ipc://@")); err == nil {
		t.Errorf("binding %s created a file in the working directory", ep)
	}
}

func TestBadEndpoints(t *testing.T) {
	long := "ipc:///tmp/" + strings.Repeat("x", 103) // a 108-byte path
	cases := []struct {
		endpoint string
		bind     bool // Bind; otherwise Connect
	}{
		{"127.0.0.1:5555", true},
		{"127.0.0.1:5555", false},
		{"udp://127.0.0.1:5555", true},
		{"inproc://name", false},
		{"tcp://127.0.0.1", true},
		{"tcp://127.0.0.1", false},
		{"tcp://127.0.0.1:70000", true},
		{"tcp://127.0.0.1:70000", false},
		{"tcp://127.0.0.1:port", false},
		{"tcp://:5555", false},
		{"tcp://*:5555", false},
		{"tcp://127.0.0.1:*", false},
		{"ipc://", true},
		{long, true},
		{long, false},
	}
	for _, c := range cases {
		s := newTestSocket(t, PAIR)
		op := "Connect"
		err := s.Connect(c.endpoint)
		if c.bind {
			op = "Bind"
			err = s.Bind(c.endpoint)
		}
		if err == nil {
			t.Errorf("%s(%q) succeeded", op, c.endpoint)
			continue
		}
		if !errors.Is(err, ErrBadEndpoint) {
			t.Errorf("%s(%q) = %v; want an error wrapping engine.ErrBadEndpoint", op, c.endpoint, err)
		}
		if !strings.Contains(err.Error(), c.endpoint) {
			t.Errorf("%s(%q) = %v; the error does not name the endpoint", op, c.endpoint, err)
		}
	}
}

// TestIPCLongestPath: a path of 107 bytes, the most a Unix socket address
// holds, is accepted.
func TestIPCLongestPath(t *testing.T) {
	prefix := fmt.Sprintf("/tmp/zbench-test-%d-%d-", os.Getpid(), ipcSeq.Add(1))
	path := prefix + strings.Repeat("x", 107-len(prefix))
	t.Cleanup(func() { os.Remove(path) })
	pull := newTestSocket(t, PULL)
	bindSocket(t, pull, "ipc://"+path)
	exchangeOnce(t, pull, "ipc://"+path)
}
