package engine

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

// Benchmarks of the engine's write path. Run them pinned and together with
// the libzmq ones (build tag libzmq), so the figures come from one run:
//
//	taskset -c 0,1 go test -tags libzmq -run '^$' -bench . -benchmem -count 5 ./engine
//
// Both ends of every benchmark run in this process; on a 2-core machine the
// sender, receiver and the engine's goroutines share both cores.

var benchSizes = []int{32, 1024, 16384}

// benchEndpoint returns a bind endpoint for a transport.
func benchEndpoint(b *testing.B, transport string) string {
	switch transport {
	case "tcp":
		return "tcp://127.0.0.1:*"
	case "ipc":
		return "ipc://" + filepath.Join(b.TempDir(), "bench.sock")
	case "ws":
		return "ws://127.0.0.1:*/zbench"
	}
	b.Fatalf("unknown transport %q", transport)
	return ""
}

// BenchmarkPushPull streams messages from a PUSH to a PULL socket. One op is
// one message delivered; msgs/s is the same figure inverted.
func BenchmarkPushPull(b *testing.B) {
	for _, tr := range []string{"tcp", "ipc", "ws"} {
		for _, size := range benchSizes {
			for _, batching := range []bool{true, false} {
				name := fmt.Sprintf("%s/size=%d/batching=%s", tr, size, onOff(batching))
				b.Run(name, func(b *testing.B) {
					o := DefaultOptions()
					o.WriteBatching = batching
					benchPushPull(b, benchEndpoint(b, tr), size, o, false)
				})
			}
		}
	}
}

// BenchmarkPushPullOwned is BenchmarkPushPull over tcp with the receiver
// taking every frame for good (RecvFrame): each read buffer is left to the
// garbage collector instead of recycled.
func BenchmarkPushPullOwned(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(fmt.Sprintf("tcp/size=%d", size), func(b *testing.B) {
			benchPushPull(b, benchEndpoint(b, "tcp"), size, DefaultOptions(), true)
		})
	}
}

func onOff(v bool) string {
	if v {
		return "on"
	}
	return "off"
}

// benchPushPull streams size-byte messages; the receiver takes them through
// RecvFrameView (read buffers recycled), or RecvFrame with ownedFrames.
func benchPushPull(b *testing.B, bindEP string, size int, o Options, ownedFrames bool) {
	pull, err := NewSocket(PULL, o)
	if err != nil {
		b.Fatal(err)
	}
	defer pull.Close()
	if err := pull.Bind(bindEP); err != nil {
		b.Fatal(err)
	}
	push, err := NewSocket(PUSH, o)
	if err != nil {
		b.Fatal(err)
	}
	defer push.Close()
	if err := push.Connect(pull.Endpoints()[0]); err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, size)
	recv := pull.RecvFrameView
	if ownedFrames {
		recv = pull.RecvFrame
	}
	// Warm up: the connection is up, both sides have run, and a stream as
	// long as three times the queues has filled the engine's pools.
	warm := max(1000, 3*(o.SndHWM+o.RcvHWM))
	warmed := make(chan error, 1)
	go func() {
		for i := 0; i < warm; i++ {
			if _, _, err := recv(); err != nil {
				warmed <- err
				return
			}
		}
		warmed <- nil
	}()
	for i := 0; i < warm; i++ {
		if err := push.Send(msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-warmed; err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	gcs := mem.NumGC
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	go func() {
		for i := 0; i < b.N; i++ {
			f, _, err := recv()
			if err != nil {
				done <- err
				return
			}
			if len(f) != size {
				done <- fmt.Errorf("message %d: %d bytes, want %d", i, len(f), size)
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < b.N; i++ {
		if err := push.Send(msg); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.StopTimer()
	runtime.ReadMemStats(&mem)
	b.ReportMetric(float64(mem.NumGC-gcs), "GCs")
	st := push.Stats()
	b.ReportMetric(st.MsgsPerWrite(), "msgs/write")
}

// BenchmarkSendPath measures the sending side alone: a PUSH socket writing
// to a peer that completes the handshake and then discards everything. One
// op is one Send; allocs/op shows whether the steady-state send path
// allocates.
func BenchmarkSendPath(b *testing.B) {
	for _, size := range []int{32, 1024, 8192, 16384, 65536} {
		b.Run(fmt.Sprintf("size=%d", size), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			defer ln.Close()
			sinkDone := make(chan struct{})
			go func() {
				defer close(sinkDone)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				rawHandshake(c, "PULL")
				io.Copy(io.Discard, c)
			}()
			push, err := NewSocket(PUSH, DefaultOptions())
			if err != nil {
				b.Fatal(err)
			}
			if err := push.Connect("tcp://" + ln.Addr().String()); err != nil {
				b.Fatal(err)
			}
			msg := make([]byte, size)
			for i := 0; i < 2000; i++ {
				push.Send(msg)
			}
			b.ReportAllocs()
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := push.Send(msg); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			push.Close()
			<-sinkDone
		})
	}
}

// rawHandshake plays the peer side of a ZMTP 3.1 NULL handshake on c.
func rawHandshake(c net.Conn, socketType string) error {
	out := appendGreeting(nil)
	out = appendFrame(out, flagCommand, appendReadyBody(nil, []property{{name: "Socket-Type", value: []byte(socketType)}}))
	if _, err := c.Write(out); err != nil {
		return err
	}
	var g [greetingSize]byte
	if _, err := io.ReadFull(c, g[:]); err != nil {
		return err
	}
	var hdr [2]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return err
	}
	n := int(hdr[1])
	if hdr[0]&flagLong != 0 {
		var l [7]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return err
		}
		n = int(binary.BigEndian.Uint64(append([]byte{hdr[1]}, l[:]...)))
	}
	_, err := io.CopyN(io.Discard, c, int64(n))
	return err
}

// BenchmarkReqRep measures REQ/REP round trips with one request in flight.
// ns/op is the mean round trip; p50-ns and p99-ns are its percentiles.
func BenchmarkReqRep(b *testing.B) {
	for _, tr := range []string{"tcp", "ipc", "ws"} {
		b.Run(fmt.Sprintf("%s/size=32", tr), func(b *testing.B) {
			o := DefaultOptions()
			rep, err := NewSocket(REP, o)
			if err != nil {
				b.Fatal(err)
			}
			defer rep.Close()
			if err := rep.Bind(benchEndpoint(b, tr)); err != nil {
				b.Fatal(err)
			}
			req, _ := NewSocket(REQ, o)
			defer req.Close()
			req.Connect(rep.Endpoints()[0])
			go func() {
				for {
					m, _, err := rep.RecvFrame()
					if err != nil {
						return
					}
					if rep.Send(m) != nil {
						return
					}
				}
			}()
			msg := make([]byte, 32)
			roundTrip := func() error {
				if err := req.Send(msg); err != nil {
					return err
				}
				_, _, err := req.RecvFrame()
				return err
			}
			for i := 0; i < 1000; i++ {
				if err := roundTrip(); err != nil {
					b.Fatal(err)
				}
			}
			benchRoundTrips(b, roundTrip)
			st := req.Stats()
			b.ReportMetric(float64(st.ImmediateWrites)/float64(max(st.Writes, 1)), "immediate/write")
		})
	}
}

// BenchmarkTCPPingPong is the floor for round trips: two goroutines
// exchanging 32-byte messages over a bare loopback TCP connection with
// blocking reads and writes, no framing.
func BenchmarkTCPPingPong(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 32)
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if _, err := c.Write(buf); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 32)
	roundTrip := func() error {
		if _, err := c.Write(buf); err != nil {
			return err
		}
		_, err := io.ReadFull(c, buf)
		return err
	}
	for i := 0; i < 1000; i++ {
		roundTrip()
	}
	benchRoundTrips(b, roundTrip)
}

// benchRoundTrips times b.N round trips one by one and reports their
// percentiles.
func benchRoundTrips(b *testing.B, roundTrip func() error) {
	rtts := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := roundTrip(); err != nil {
			b.Fatal(err)
		}
		rtts[i] = time.Since(t0)
	}
	b.StopTimer()
	slices.Sort(rtts)
	b.ReportMetric(float64(rtts[len(rtts)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(rtts[len(rtts)*99/100].Nanoseconds()), "p99-ns")
}

var _ = os.Getpid
