package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"testing"
	"time"

	"zbench/transport"
)

// FuzzDecodeFrameHeader checks the header decoder on arbitrary bytes: it
// never panics, and what it accepts is a well-formed header that re-encodes
// to the same meaning.
func FuzzDecodeFrameHeader(f *testing.F) {
	for _, c := range wireCases() {
		f.Add(c.bytes(f))
	}
	f.Add(hx("08 00"))
	f.Add(hx("05 00"))
	f.Add(hx("02 80 00 00 00 00 00 00 00"))
	f.Add(hx("02 00 00 00 00 00 00 00 05"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok, err := decodeFrameHeader(b)
		if err != nil {
			if ok {
				t.Fatalf("% x: ok together with error %v", b, err)
			}
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("% x: error %v does not wrap ErrProtocol", b, err)
			}
			f0 := b[0]
			long := len(b) >= 9 && f0&flagLong != 0 && binary.BigEndian.Uint64(b[1:9]) > 1<<63-1
			if f0&flagsReserved == 0 && !(f0&flagCommand != 0 && f0&flagMore != 0) && !long {
				t.Fatalf("% x: refused (%v) but the flags and size are valid", b, err)
			}
			return
		}
		if !ok {
			need := 2
			if len(b) > 0 && b[0]&flagLong != 0 {
				need = 9
			}
			if len(b) >= need {
				t.Fatalf("% x: asks for more input but holds a whole %d-octet header", b, need)
			}
			return
		}
		if h.flags&(flagsReserved|flagLong) != 0 || h.flags&flagCommand != 0 && h.flags&flagMore != 0 {
			t.Fatalf("% x: decoded flags %#02x", b, h.flags)
		}
		if h.hdrLen != 2 && h.hdrLen != 9 || h.hdrLen > len(b) || h.bodyLen < 0 {
			t.Fatalf("% x: decoded header %+v", b, h)
		}
		if (h.hdrLen == 9) != (b[0]&flagLong != 0) {
			t.Fatalf("% x: header length %d disagrees with the LONG flag", b, h.hdrLen)
		}
		// The header alone decodes the same; one octet less asks for more.
		if h2, ok2, err2 := decodeFrameHeader(b[:h.hdrLen]); h2 != h || !ok2 || err2 != nil {
			t.Fatalf("% x: header alone decodes as %+v %v %v, want %+v", b, h2, ok2, err2, h)
		}
		if _, ok2, err2 := decodeFrameHeader(b[:h.hdrLen-1]); ok2 || err2 != nil {
			t.Fatalf("% x: cut header decodes as ok %v err %v, want need-more", b, ok2, err2)
		}
		// Re-encoding gives the canonical header of the same meaning.
		enc := appendFrameHeader(nil, h.flags, int(h.bodyLen))
		if h.bodyLen <= maxShortBody && h.hdrLen == 9 {
			// A long header for a short body is valid but not canonical.
			if len(enc) != 2 || enc[1] != byte(h.bodyLen) {
				t.Fatalf("% x: re-encoded as % x", b, enc)
			}
		} else if !bytes.Equal(enc, b[:h.hdrLen]) {
			t.Fatalf("% x: re-encoded as % x", b, enc)
		}
		if h3, _, _ := decodeFrameHeader(enc); h3.flags != h.flags || h3.bodyLen != h.bodyLen {
			t.Fatalf("% x: re-encoded header decodes as %+v, want %+v", b, h3, h)
		}
	})
}

// readLoopResult is what one run of conn.readLoop over a byte stream did.
type readLoopResult struct {
	err      error
	frames   []inFrame // frames delivered to the pipe's inbound queue
	msgs     int
	panicked any  // what readLoop panicked with, if it did
	hung     bool // readLoop neither returned nor panicked in time
}

// readLoopWatchdog is how long runReadLoop lets readLoop run after the
// stream has ended before it declares it hung (it then closes the
// connection, which ends a reader that spins without blocking).
const readLoopWatchdog = 5 * time.Second

// runReadLoop runs a real conn.readLoop of a socket of type typ (with
// MaxMsgSize maxMsg and a 512-octet read buffer, the smallest the engine
// uses) over stream, written in chunks of chunk octets through an in-memory
// pipe, and returns what it delivered when the stream ended or the
// connection failed. A panic or a hang is reported in the result.
func runReadLoop(t testing.TB, typ Type, maxMsg int64, stream []byte, chunk int) readLoopResult {
	t.Helper()
	return runReadLoopOver(t, typ, maxMsg, stream, chunk, transport.Conn{Framing: transport.ZMTP})
}

// runReadLoopOver is runReadLoop for a connection of the given framing (tc
// without its net.Conn, which is an in-memory pipe here).
func runReadLoopOver(t testing.TB, typ Type, maxMsg int64, stream []byte, chunk int, tc transport.Conn) readLoopResult {
	t.Helper()
	o := DefaultOptions()
	o.MaxMsgSize = maxMsg
	o.InBatchSize = minInBatch
	o.RcvHWM = 0
	s, err := NewSocket(typ, o)
	if err != nil {
		t.Fatal(err)
	}
	codec, err := codecFor(tc.Framing, tc.Client)
	if err != nil {
		t.Fatal(err)
	}
	p := newPipe(s, false, "fuzz", codec)
	near, far := net.Pipe()
	tc.Conn = near
	c := newConn(p, &tc)
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for rest := stream; len(rest) > 0; {
			n := min(chunk, len(rest))
			if _, err := far.Write(rest[:n]); err != nil {
				return // the reader gave up: the connection failed
			}
			rest = rest[n:]
		}
		far.Close()
	}()
	var res readLoopResult
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { res.panicked = recover() }()
		res.err = c.readLoop(make([]byte, max(o.InBatchSize, 512)), 0, 0)
	}()
	select {
	case <-done:
	case <-wrote:
		select {
		case <-done:
		case <-time.After(readLoopWatchdog):
			res.hung = true
			c.fail(errors.New("watchdog"))
			<-done
		}
	}
	c.fail(res.err)
	<-wrote
	far.Close()
	p.in.mu.Lock()
	defer p.in.mu.Unlock()
	for _, b := range p.in.batches {
		for i := range b.frames {
			res.frames = append(res.frames, b.frame(i))
		}
	}
	res.msgs = int(p.in.msgsIn.Load())
	return res
}

// stopReason says where a reference walk over a stream stopped.
type stopReason int

const (
	stopIncomplete stopReason = iota // the stream ended (possibly mid-frame)
	stopTooLarge                     // a header announced more than MaxMsgSize
	stopBadHeader                    // a header the decoder refuses
	stopCommand                      // a command: its effect is not modelled
)

// referenceMessages walks stream as a reader must, up to the first command
// or error, and returns the complete messages found before that point.
func referenceMessages(stream []byte, maxMsg int64) (msgs [][]inFrame, why stopReason) {
	var partial []inFrame
	for {
		h, ok, err := decodeFrameHeader(stream)
		switch {
		case err != nil:
			return msgs, stopBadHeader
		case !ok:
			return msgs, stopIncomplete
		case maxMsg >= 0 && h.bodyLen > maxMsg, h.bodyLen > maxFrameBody:
			return msgs, stopTooLarge
		case h.flags&flagCommand != 0:
			return msgs, stopCommand
		case h.bodyLen > int64(len(stream)-h.hdrLen):
			return msgs, stopIncomplete
		}
		body := stream[h.hdrLen : h.hdrLen+int(h.bodyLen)]
		stream = stream[h.hdrLen+int(h.bodyLen):]
		partial = append(partial, inFrame{body: body, more: h.flags&flagMore != 0})
		if h.flags&flagMore == 0 {
			msgs = append(msgs, partial)
			partial = nil
		}
	}
}

// checkReadLoop runs readLoop over stream and checks it against the
// reference walk: no frame above maxMsg is ever delivered, what is delivered
// is exactly the stream's messages in order, an oversized header fails the
// connection with ErrMsgTooLarge, a bad header with ErrProtocol, and a clean
// end of stream delivers every complete message.
func checkReadLoop(t *testing.T, typ Type, maxMsg int64, stream []byte, chunk int) {
	res := runReadLoop(t, typ, maxMsg, stream, chunk)
	if res.panicked != nil {
		t.Fatalf("readLoop panicked (MaxMsgSize %d): %v", maxMsg, res.panicked)
	}
	if res.hung {
		t.Fatalf("readLoop neither returned nor blocked: still running %v after the stream ended (MaxMsgSize %d)", readLoopWatchdog, maxMsg)
	}
	for i, f := range res.frames {
		if maxMsg >= 0 && int64(len(f.body)) > maxMsg {
			t.Fatalf("frame %d of %d octets delivered with MaxMsgSize %d", i, len(f.body), maxMsg)
		}
	}
	if res.err == nil {
		t.Fatal("readLoop returned without an error")
	}
	if typ == PUB {
		// A PUB socket takes messages as subscriptions; it delivers none.
		if len(res.frames) != 0 {
			t.Fatalf("a PUB socket delivered %d frames", len(res.frames))
		}
		return
	}
	ref, why := referenceMessages(stream, maxMsg)
	var want []inFrame
	for _, m := range ref {
		want = append(want, m...)
	}
	n := min(len(res.frames), len(want))
	for i := 0; i < n; i++ {
		if !bytes.Equal(res.frames[i].body, want[i].body) || res.frames[i].more != want[i].more {
			t.Fatalf("frame %d delivered as %q more=%v, want %q more=%v", i, res.frames[i].body, res.frames[i].more, want[i].body, want[i].more)
		}
	}
	if why != stopCommand && len(res.frames) > len(want) {
		t.Fatalf("delivered %d frames, but the stream holds only %d before it stops (%d)", len(res.frames), len(want), why)
	}
	switch why {
	case stopIncomplete:
		if len(res.frames) != len(want) {
			t.Fatalf("stream ended cleanly after %d complete messages (%d frames), delivered %d frames (err %v)", len(ref), len(want), len(res.frames), res.err)
		}
		if !errors.Is(res.err, io.EOF) {
			t.Fatalf("stream ended cleanly, readLoop returned %v, want io.EOF", res.err)
		}
	case stopTooLarge:
		if !errors.Is(res.err, ErrMsgTooLarge) || !errors.Is(res.err, ErrProtocol) {
			t.Fatalf("a header above MaxMsgSize %d: readLoop returned %v, want an error wrapping ErrMsgTooLarge and ErrProtocol", maxMsg, res.err)
		}
	case stopBadHeader:
		if !errors.Is(res.err, ErrProtocol) {
			t.Fatalf("a malformed header: readLoop returned %v, want an error wrapping ErrProtocol", res.err)
		}
	}
}

// FuzzReadLoop feeds arbitrary bytes, as they would follow a completed
// handshake, to a real connection reader in chunks of arbitrary size, with
// MaxMsgSize maxMsg (0xffff standing for no limit).
func FuzzReadLoop(f *testing.F) {
	var all []byte
	for _, c := range wireCases() {
		b := c.bytes(f)
		all = append(all, b...)
		f.Add(b, uint16(7), uint16(300), false)
	}
	f.Add(all, uint16(1), uint16(1000), false)
	f.Add(all, uint16(600), uint16(255), false)
	f.Add(all, uint16(600), uint16(1000), true)
	f.Add(cat(hx("01 01 61 02 00 00 00 00 00 00 02 58"), bytes.Repeat([]byte("z"), 600)), uint16(100), uint16(600), false)
	f.Add(cat(hx("00 01 61 02 00 00 00 00 40 00 00 00")), uint16(3), uint16(1000), false)
	f.Add(cat(hx("00 01 61 08 00")), uint16(5), uint16(1000), false)
	f.Fuzz(func(t *testing.T, stream []byte, chunk, maxMsg uint16, pub bool) {
		typ := PULL
		if pub {
			typ = PUB
		}
		limit := int64(maxMsg)
		if maxMsg == 0xffff {
			limit = -1 // no limit, the default
		}
		checkReadLoop(t, typ, limit, stream, int(chunk)+1)
	})
}

// TestReadLoopMaxMsgSizeBoundary: a frame of exactly MaxMsgSize octets is
// delivered, one octet more closes the connection, for frames that fit the
// read buffer and frames read into their own memory.
func TestReadLoopMaxMsgSizeBoundary(t *testing.T) {
	for _, max := range []int64{0, 100, 2000} {
		t.Run(fmt.Sprint(max), func(t *testing.T) {
			ok := appendFrame(nil, 0, bytes.Repeat([]byte("x"), int(max)))
			res := runReadLoop(t, PULL, max, ok, 64)
			if res.msgs != 1 || len(res.frames) != 1 || int64(len(res.frames[0].body)) != max {
				t.Fatalf("a %d-octet frame with MaxMsgSize %d: delivered %d messages, err %v; want it delivered", max, max, res.msgs, res.err)
			}
			tooBig := cat(ok, appendFrame(nil, 0, bytes.Repeat([]byte("y"), int(max)+1)))
			res = runReadLoop(t, PULL, max, tooBig, 64)
			if !errors.Is(res.err, ErrMsgTooLarge) {
				t.Fatalf("a %d-octet frame with MaxMsgSize %d: readLoop returned %v, want ErrMsgTooLarge", max+1, max, res.err)
			}
			for _, f := range res.frames {
				if int64(len(f.body)) > max {
					t.Fatalf("delivered a %d-octet frame with MaxMsgSize %d", len(f.body), max)
				}
			}
		})
	}
}

// TestReadLoopRefusesHugeFrameWithoutAllocating: a header announcing 1 GiB
// with MaxMsgSize set closes the connection before anything near that size
// is allocated.
func TestReadLoopRefusesHugeFrameWithoutAllocating(t *testing.T) {
	huge := cat(hx("02"), binary.BigEndian.AppendUint64(nil, 1<<30), []byte("some body bytes"))
	runReadLoop(t, PULL, 1<<20, huge, len(huge)) // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := runReadLoop(t, PULL, 1<<20, huge, len(huge))
	runtime.ReadMemStats(&after)
	if !errors.Is(res.err, ErrMsgTooLarge) {
		t.Fatalf("1 GiB frame with MaxMsgSize 1 MiB: readLoop returned %v, want ErrMsgTooLarge", res.err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("refusing a 1 GiB frame allocated %d bytes; want well under 1 MiB", grew)
	}
}

// TestReadLoopSizeNear63BitsWithoutLimit: with no MaxMsgSize (the default),
// a header announcing a size at the top of the 63-bit range (where header
// plus body overflows int64) must neither panic nor spin; the connection
// ends with an error when the stream does.
func TestReadLoopSizeNear63BitsWithoutLimit(t *testing.T) {
	for _, c := range []struct {
		name  string
		flags string
		size  uint64
	}{
		{"message, 2^63-1", "02", 1<<63 - 1},
		{"message, 2^63-9", "02", 1<<63 - 9},
		{"command, 2^63-1", "06", 1<<63 - 1},
		{"message, 2^62", "02", 1 << 62},
	} {
		t.Run(c.name, func(t *testing.T) {
			stream := cat(appendFrame(nil, 0, []byte("first")), hx(c.flags), binary.BigEndian.AppendUint64(nil, c.size), []byte("some body"))
			res := runReadLoop(t, PULL, -1, stream, len(stream))
			if res.panicked != nil {
				t.Fatalf("a %s-octet frame header with MaxMsgSize -1 made readLoop panic: %v (header+body size overflows int64 in conn.readLoop)", c.name, res.panicked)
			}
			if res.hung {
				t.Fatalf("a %s-octet frame header with MaxMsgSize -1 made readLoop spin without reading (header+body size overflows int64 in conn.readLoop)", c.name)
			}
			if res.err == nil {
				t.Fatal("readLoop returned no error")
			}
			if res.msgs != 1 || len(res.frames) != 1 || string(res.frames[0].body) != "first" {
				t.Fatalf("delivered %d messages in %d frames, want only the first", res.msgs, len(res.frames))
			}
		})
	}
}
