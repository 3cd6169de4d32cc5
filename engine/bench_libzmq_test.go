//go:build libzmq

package engine

import (
	"fmt"
	"testing"
	"time"

	zmq "github.com/pebbe/zmq4"
)

// The same workloads as BenchmarkPushPull and BenchmarkReqRep, on libzmq
// through github.com/pebbe/zmq4, so that one `go test -bench` run gives both
// engines' figures under the same conditions. libzmq runs its own I/O thread
// (one per context, the default); every Send and Recv is a cgo call.

func BenchmarkLibzmqPushPull(b *testing.B) {
	for _, tr := range []string{"tcp", "ipc", "ws"} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("%s/size=%d", tr, size), func(b *testing.B) {
				benchLibzmqPushPull(b, tr, size)
			})
		}
	}
}

func benchLibzmqSockets(b *testing.B, tr string, bindType, connType zmq.Type) (bound, conn *zmq.Socket) {
	bound, err := zmq.NewSocket(bindType)
	if err != nil {
		b.Fatal(err)
	}
	ep := "tcp://127.0.0.1:*"
	switch tr {
	case "ipc":
		ep = "ipc://" + b.TempDir() + "/libzmq.sock"
	case "ws":
		ep = "ws://127.0.0.1:*/zbench"
	}
	if err := bound.Bind(ep); err != nil {
		b.Fatal(err)
	}
	last, _ := bound.GetLastEndpoint()
	conn, err = zmq.NewSocket(connType)
	if err != nil {
		b.Fatal(err)
	}
	if err := conn.Connect(last); err != nil {
		b.Fatal(err)
	}
	for _, s := range []*zmq.Socket{bound, conn} {
		s.SetLinger(0)
	}
	b.Cleanup(func() {
		conn.Close()
		bound.Close()
	})
	return bound, conn
}

func benchLibzmqPushPull(b *testing.B, tr string, size int) {
	pull, push := benchLibzmqSockets(b, tr, zmq.PULL, zmq.PUSH)
	msg := make([]byte, size)
	for i := 0; i < 1000; i++ {
		if _, err := push.SendBytes(msg, 0); err != nil {
			b.Fatal(err)
		}
	}
	for i := 0; i < 1000; i++ {
		if _, err := pull.RecvBytes(0); err != nil {
			b.Fatal(err)
		}
	}
	done := make(chan error, 1)
	b.ReportAllocs()
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	go func() {
		for i := 0; i < b.N; i++ {
			m, err := pull.RecvBytes(0)
			if err != nil {
				done <- err
				return
			}
			if len(m) != size {
				done <- fmt.Errorf("message %d: %d bytes, want %d", i, len(m), size)
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < b.N; i++ {
		if _, err := push.SendBytes(msg, 0); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

func BenchmarkLibzmqReqRep(b *testing.B) {
	for _, tr := range []string{"tcp", "ipc", "ws"} {
		b.Run(fmt.Sprintf("%s/size=32", tr), func(b *testing.B) {
			rep, req := benchLibzmqSockets(b, tr, zmq.REP, zmq.REQ)
			stop := make(chan struct{})
			stopped := make(chan struct{})
			// The echo goroutine must be out of rep before the sockets are
			// closed (libzmq sockets are not safe for concurrent use).
			defer func() {
				close(stop)
				<-stopped
			}()
			rep.SetRcvtimeo(100 * time.Millisecond)
			go func() {
				defer close(stopped)
				for {
					select {
					case <-stop:
						return
					default:
					}
					m, err := rep.RecvBytes(0)
					if err != nil {
						continue
					}
					rep.SendBytes(m, 0)
				}
			}()
			msg := make([]byte, 32)
			roundTrip := func() error {
				if _, err := req.SendBytes(msg, 0); err != nil {
					return err
				}
				_, err := req.RecvBytes(0)
				return err
			}
			for i := 0; i < 1000; i++ {
				if err := roundTrip(); err != nil {
					b.Fatal(err)
				}
			}
			benchRoundTrips(b, roundTrip)
		})
	}
}
