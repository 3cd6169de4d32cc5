package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"zbench/transport"
)

// freeTCPEndpoint returns a tcp endpoint on a loopback port that was free a
// moment ago.
func freeTCPEndpoint(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "tcp://" + l.Addr().String()
}

// peerEndpoints returns one endpoint per transport the peer tests cover.
func peerEndpoints(t *testing.T) map[string]string {
	return map[string]string{
		"tcp": freeTCPEndpoint(t),
		"ipc": "ipc://" + filepath.Join(t.TempDir(), "peer.sock"),
	}
}

type cliResult struct {
	code           int
	stdout, stderr string
}

// peersDeadline bounds a pair of peers; the exchanges take milliseconds.
const peersDeadline = 5 * time.Second

// runPeers runs two zbench command lines at once, in-process, and fails the
// test if they do not both finish within peersDeadline.
func runPeers(t *testing.T, a, b []string) (cliResult, cliResult) {
	t.Helper()
	res := make([]cliResult, 2)
	var wg sync.WaitGroup
	for i, args := range [][]string{a, b} {
		wg.Go(func() {
			var stdout, stderr bytes.Buffer
			code := run(args, strings.NewReader(""), &stdout, &stderr)
			res[i] = cliResult{code, stdout.String(), stderr.String()}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(peersDeadline):
		t.Fatalf("%v and %v did not finish within %v", a, b, peersDeadline)
	}
	return res[0], res[1]
}

func peerArgs(role, side, ep string, size, count int, extra ...string) []string {
	return append([]string{"peer", "--role", role, "--" + side, ep,
		"--size", fmt.Sprint(size), "--count", fmt.Sprint(count), "--timeout", "5s"}, extra...)
}

func TestPeerThroughput(t *testing.T) {
	for proto, ep := range peerEndpoints(t) {
		t.Run(proto, func(t *testing.T) {
			recv, send := runPeers(t,
				peerArgs("pull", "bind", ep, 100, 5000, "--json"),
				peerArgs("push", "connect", ep, 100, 5000, "--out-batch-size", "1", "--write-batching=false"))
			if recv.code != exitOK || send.code != exitOK {
				t.Fatalf("pull exit %d (%s), push exit %d (%s)", recv.code, recv.stderr, send.code, send.stderr)
			}
			var rep peerReport
			if err := json.Unmarshal([]byte(recv.stdout), &rep); err != nil {
				t.Fatalf("pull --json printed %q: %v", recv.stdout, err)
			}
			if rep.MessageCount != 5000 || rep.MessageSize != 100 || rep.MsgsPerSec <= 0 ||
				rep.MegabitsPerSec != rep.MsgsPerSec*100*8/1e6 {
				t.Errorf("report %+v", rep)
			}
		})
	}
}

func TestPeerPubSubAndPairText(t *testing.T) {
	for proto, ep := range peerEndpoints(t) {
		t.Run(proto, func(t *testing.T) {
			sub, pub := runPeers(t,
				peerArgs("sub", "bind", ep, 64, 3000),
				peerArgs("pub", "connect", ep, 64, 3000, "--wait", "200ms"))
			if sub.code != exitOK || pub.code != exitOK {
				t.Fatalf("sub exit %d (%s), pub exit %d (%s)", sub.code, sub.stderr, pub.code, pub.stderr)
			}
			lines := strings.Split(strings.TrimSpace(sub.stdout), "\n")
			if len(lines) != 4 || lines[0] != "message size: 64 [B]" || lines[1] != "message count: 3000" ||
				!strings.HasPrefix(lines[2], "mean throughput: ") || !strings.HasSuffix(lines[2], " [msg/s]") ||
				!strings.HasSuffix(lines[3], " [Mb/s]") {
				t.Errorf("sub printed:\n%s", sub.stdout)
			}
			if pub.stdout != "" {
				t.Errorf("pub printed %q", pub.stdout)
			}
		})
	}
	ep := freeTCPEndpoint(t)
	recv, send := runPeers(t, peerArgs("pair", "bind", ep, 10, 500), peerArgs("pair", "connect", ep, 10, 500))
	if recv.code != exitOK || send.code != exitOK || !strings.Contains(recv.stdout, "message count: 500") {
		t.Errorf("pair: exit %d/%d, %s%s%s", recv.code, send.code, recv.stdout, recv.stderr, send.stderr)
	}
}

func TestPeerLatency(t *testing.T) {
	for proto, ep := range peerEndpoints(t) {
		t.Run(proto, func(t *testing.T) {
			rep, req := runPeers(t,
				peerArgs("rep", "bind", ep, 32, 300),
				peerArgs("req", "connect", ep, 32, 300))
			if rep.code != exitOK || req.code != exitOK {
				t.Fatalf("rep exit %d (%s), req exit %d (%s)", rep.code, rep.stderr, req.code, req.stderr)
			}
			lines := strings.Split(strings.TrimSpace(req.stdout), "\n")
			if len(lines) != 5 || lines[0] != "message size: 32 [B]" || lines[1] != "roundtrip count: 300" ||
				!strings.HasPrefix(lines[2], "average latency: ") || !strings.HasPrefix(lines[3], "round trip p50: ") ||
				!strings.HasPrefix(lines[4], "round trip p99: ") {
				t.Errorf("req printed:\n%s", req.stdout)
			}
		})
	}
}

func TestPeerWrongSizeOrCount(t *testing.T) {
	ep := freeTCPEndpoint(t)
	recv, send := runPeers(t, peerArgs("pull", "bind", ep, 20, 10), peerArgs("push", "connect", ep, 10, 10))
	if recv.code != exitFailed || !strings.Contains(recv.stderr, "has 10 bytes, want 20") || send.code != exitOK {
		t.Errorf("wrong size: pull exit %d %q, push exit %d", recv.code, recv.stderr, send.code)
	}
	ep = freeTCPEndpoint(t)
	recv, send = runPeers(t,
		append(peerArgs("pull", "bind", ep, 8, 10), "--timeout", "300ms"),
		peerArgs("push", "connect", ep, 8, 5))
	if recv.code != exitFailed || !strings.Contains(recv.stderr, "received 5 of 10") || send.code != exitOK {
		t.Errorf("short count: pull exit %d %q, push exit %d", recv.code, recv.stderr, send.code)
	}
}

func TestPeerBadFlags(t *testing.T) {
	ep := "tcp://127.0.0.1:5555"
	for name, args := range map[string][]string{
		"no role":        {"peer", "--bind", ep, "--size", "1", "--count", "1"},
		"unknown role":   {"peer", "--role", "router", "--bind", ep, "--size", "1", "--count", "1"},
		"no endpoint":    {"peer", "--role", "pull", "--size", "1", "--count", "1"},
		"both endpoints": {"peer", "--role", "pull", "--bind", ep, "--connect", ep, "--size", "1", "--count", "1"},
		"bad endpoint":   {"peer", "--role", "pull", "--bind", "udp://x:1", "--size", "1", "--count", "1"},
		"negative size":  {"peer", "--role", "pull", "--bind", ep, "--size", "-1", "--count", "1"},
		"no count":       {"peer", "--role", "pull", "--bind", ep, "--size", "1"},
		"zero batch":     {"peer", "--role", "push", "--connect", ep, "--size", "1", "--count", "1", "--out-batch-size", "0"},
		"bad bool":       {"peer", "--role", "push", "--connect", ep, "--size", "1", "--count", "1", "--write-batching=maybe"},
		"unknown flag":   {"peer", "--role", "push", "--connect", ep, "--size", "1", "--count", "1", "--hwm", "3"},
		"argument":       {"peer", "extra", "--role", "push", "--connect", ep, "--size", "1", "--count", "1"},
	} {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, args...)
			if code != exitBadInput || stdout != "" || stderr == "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 with a message", code, stdout, stderr)
			}
		})
	}
}

// A peer that never hears from the other side ends within --timeout with
// exit 1 and says what it waited for; it does not hang.
func TestPeerTimesOutWithoutPeer(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want []string
	}{
		{peerArgs("pull", "bind", "tcp://127.0.0.1:%d", 8, 10, "--timeout", "300ms"),
			[]string{"no message within --timeout 300ms", "no peer connected to tcp://127.0.0.1:"}},
		{peerArgs("rep", "bind", "tcp://127.0.0.1:%d", 8, 10, "--timeout", "300ms"),
			[]string{"no request within --timeout 300ms"}},
		{peerArgs("req", "connect", "tcp://127.0.0.1:%d", 8, 10, "--timeout", "300ms"),
			[]string{"no reply within --timeout 300ms", "the last connection error", "connection refused"}},
		{peerArgs("push", "connect", "tcp://127.0.0.1:%d", 8, 10, "--timeout", "300ms"),
			[]string{"none of the 10 messages went out", "connection refused"}},
		{peerArgs("push", "connect", "tcp://127.0.0.1:%d", 8, 5000, "--timeout", "300ms"),
			[]string{"sent 1000 of 5000 messages, then no peer took one for 300ms"}},
	} {
		// A port of its own for each case: a failed peer reports before
		// its socket is closed.
		ep := freeTCPEndpoint(t)
		tt.args[4] = ep
		t.Run(strings.Join(tt.args[:5], " "), func(t *testing.T) {
			start := time.Now()
			code, stdout, stderr := runCLI(t, tt.args...)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v with --timeout 300ms", d)
			}
			if code != exitFailed || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 1", code, stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
		})
	}
}

// zmtp20Greeting is what a ZMTP/2.0 peer (libzmq 3.x) sends first: the
// signature, then revision 0x01 and its socket type.
var zmtp20Greeting = []byte{0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 0x01, 0x08}

// A refused handshake is printed as it happens, with the peer's address and
// the reason, and repeated when the peer gives up: a ZMTP/2.0 client, a
// WebSocket client without a ZWS subprotocol, and a ZMTP/2.0 server the
// peer connects to.
func TestPeerReportsRefusedHandshake(t *testing.T) {
	t.Run("zmtp 2.0 client", func(t *testing.T) {
		ep := freeTCPEndpoint(t)
		res := make(chan cliResult, 1)
		go func() {
			code, stdout, stderr := runCLI(t, peerArgs("pull", "bind", ep, 8, 10, "--timeout", "1s")...)
			res <- cliResult{code, stdout, stderr}
		}()
		c := dialRetry(t, strings.TrimPrefix(ep, "tcp://"))
		defer c.Close()
		c.Write(zmtp20Greeting)
		r := <-res
		want := "handshake with " + c.LocalAddr().String() + " on " + ep +
			" failed: engine: protocol error: greeting: peer speaks ZMTP/2.0 (version octet 0x01); this engine needs ZMTP/3.0 or later"
		if r.code != exitFailed || !strings.Contains(r.stderr, "zbench: peer: "+want) ||
			!strings.Contains(r.stderr, "no message within --timeout 1s; the last "+want) {
			t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", r.code, r.stderr, want)
		}
	})
	t.Run("ws subprotocol", func(t *testing.T) {
		ep := "ws://" + strings.TrimPrefix(freeTCPEndpoint(t), "tcp://") + "/zbench"
		res := make(chan cliResult, 1)
		go func() {
			code, stdout, stderr := runCLI(t, peerArgs("pull", "bind", ep, 8, 10, "--timeout", "1s")...)
			res <- cliResult{code, stdout, stderr}
		}()
		parsed, err := transport.Parse(ep, false)
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			_, err := transport.DialWS(context.Background(), parsed, []string{"chat"})
			if errors.Is(err, transport.ErrUpgrade) || time.Now().After(deadline) {
				break
			}
			time.Sleep(10 * time.Millisecond) // the peer is not listening yet
		}
		r := <-res
		if r.code != exitFailed || !strings.Contains(r.stderr, "zbench: peer: handshake with 127.0.0.1:") ||
			!strings.Contains(r.stderr, " on "+ep+" failed: websocket upgrade failed") {
			t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
		}
	})
	t.Run("zmtp 2.0 server", func(t *testing.T) {
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
				c.Write(zmtp20Greeting)
				go func() { io.Copy(io.Discard, c); c.Close() }()
			}
		}()
		ep := "tcp://" + ln.Addr().String()
		code, _, stderr := runCLI(t, peerArgs("req", "connect", ep, 8, 10, "--timeout", "500ms")...)
		want := "handshake with " + ln.Addr().String() + " on " + ep + " failed: engine: protocol error: greeting: peer speaks ZMTP/2.0"
		if code != exitFailed || !strings.Contains(stderr, "zbench: peer: "+want) ||
			strings.Count(stderr, "zbench: peer: handshake") != 1 {
			t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q once", code, stderr, want)
		}
	})
}

// dialRetry dials addr until something listens there.
func dialRetry(t *testing.T, addr string) net.Conn {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
