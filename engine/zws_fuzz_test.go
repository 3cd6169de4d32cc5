package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"

	"github.com/gobwas/ws"

	"zbench/transport"
)

// zwsFuzzSeeds are streams of frames as a client sends them: every case of
// the wire table, bad frames, and a mix.
func zwsFuzzSeeds() [][]byte {
	var seeds [][]byte
	var all []byte
	for _, c := range zwsWireCases() {
		f := c.clientFrame()
		if len(f) > 2000 {
			continue
		}
		seeds = append(seeds, f)
		all = append(all, f...)
	}
	seeds = append(seeds, all)
	for _, c := range zwsBadFrames() {
		seeds = append(seeds, c.frame, cat(all, c.frame))
	}
	seeds = append(seeds,
		cat(hx("82 ff 00 00 00 00 00 00 00 10"), testKey[:], wsMask([]byte{0, 'a'}, testKey)),
		cat(rawWSFrame(0x82, []byte{1, 'a'}, true, testKey), rawWSFrame(0x89, []byte("p"), true, testKey), rawWSFrame(0x82, []byte{0, 'b'}, true, testKey)),
		cat(rawWSFrame(0x82, []byte{0, 'a'}, true, testKey), rawWSFrame(0x88, hx("03 e8"), true, testKey), rawWSFrame(0x82, []byte{0, 'b'}, true, testKey)),
	)
	return seeds
}

// FuzzZWSDecodeHeader checks the ZWS header decoder on arbitrary bytes,
// both directions: it never panics; what it refuses is a protocol error;
// what it accepts agrees with github.com/gobwas/ws's header reader and with
// RFC 45's flag octet, and decodes the same from the header alone.
func FuzzZWSDecodeHeader(f *testing.F) {
	for _, s := range zwsFuzzSeeds() {
		f.Add(s, false)
	}
	for _, c := range zwsWireCases() {
		f.Add(head(c.server), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, client bool) {
		codec := newZWSCodec(client)
		h, ok, err := codec.decodeHeader(b)
		if err != nil {
			if ok || !errors.Is(err, ErrProtocol) {
				t.Fatalf("% x: ok %v with error %v (want a protocol error, not ok)", b, ok, err)
			}
			return
		}
		ref, rerr := ws.ReadHeader(bytes.NewReader(b))
		if !ok {
			// Asking for more is right only if the header (and the flag
			// octet of a binary message) is not all there.
			if rerr == nil && ref.OpCode == ws.OpBinary && ref.Length > 0 && len(b) > wsEncodedHeaderSize(b) {
				t.Fatalf("% x: asks for more input but holds a whole header and flag octet (%+v)", b, ref)
			}
			if rerr == nil && ref.OpCode.IsControl() {
				t.Fatalf("% x: asks for more input but holds a whole control frame header (%+v)", b, ref)
			}
			return
		}
		if rerr != nil {
			t.Fatalf("% x: accepted as %+v, but the reference reader fails: %v", b, h, rerr)
		}
		if !ref.Fin || ref.Rsv != 0 || ref.Masked == client {
			t.Fatalf("% x: accepted a header with FIN %v RSV %d masked %v on the client=%v side", b, ref.Fin, ref.Rsv, ref.Masked, client)
		}
		hs := wsEncodedHeaderSize(b)
		switch ref.OpCode {
		case ws.OpBinary:
			flag := b[hs]
			if ref.Masked {
				flag ^= ref.Mask[0]
			}
			want := map[byte]byte{0: 0, 1: flagMore, 2: flagCommand}
			if wf, valid := want[flag]; !valid || h.flags != wf || h.ctrl != 0 {
				t.Fatalf("% x: flag octet %#02x decoded as flags %#02x ctrl %#x", b, flag, h.flags, h.ctrl)
			}
			if h.hdrLen != hs+1 || h.bodyLen != ref.Length-1 {
				t.Fatalf("% x: hdrLen %d bodyLen %d, want %d and %d", b, h.hdrLen, h.bodyLen, hs+1, ref.Length-1)
			}
		case ws.OpClose, ws.OpPing, ws.OpPong:
			if h.flags != flagCommand || h.ctrl != byte(ref.OpCode) || h.hdrLen != hs || h.bodyLen != ref.Length || ref.Length > 125 {
				t.Fatalf("% x: control frame %+v decoded as %+v", b, ref, h)
			}
		default:
			t.Fatalf("% x: accepted opcode %#x", b, ref.OpCode)
		}
		// The body unmasks as RFC 6455 says, from the payload's start.
		if ref.Masked {
			avail := min(int64(len(b)-h.hdrLen), h.bodyLen, 64)
			body := bytes.Clone(b[h.hdrLen : h.hdrLen+int(avail)])
			codec.finishBody(h, body)
			payload := wsMask(b[hs:h.hdrLen+int(avail)], ref.Mask)
			if !bytes.Equal(body, payload[h.hdrLen-hs:]) {
				t.Fatalf("% x: body unmasked as % x, want % x", b, body, payload[h.hdrLen-hs:])
			}
		}
		if h2, ok2, err2 := codec.decodeHeader(b[:h.hdrLen]); h2 != h || !ok2 || err2 != nil {
			t.Fatalf("% x: header alone decodes as %+v %v %v, want %+v", b, h2, ok2, err2, h)
		}
		if _, ok2, err2 := codec.decodeHeader(b[:h.hdrLen-1]); ok2 || err2 != nil {
			t.Fatalf("% x: cut header decodes as ok %v err %v, want need-more", b, ok2, err2)
		}
	})
}

// wsEncodedHeaderSize is the size of the WebSocket header at the start of b
// as encoded (ws.HeaderSize assumes the shortest length encoding, which RFC
// 6455 asks for but readers accept either way).
func wsEncodedHeaderSize(b []byte) int {
	n := map[byte]int{126: 4, 127: 10}[b[1]&0x7f]
	if n == 0 {
		n = 2
	}
	if b[1]&0x80 != 0 {
		n += 4
	}
	return n
}

// zwsStop says where the reference walk over a client's stream stopped.
type zwsStop int

const (
	zwsIncomplete zwsStop = iota // the stream ended (possibly mid-frame)
	zwsTooLarge                  // a message frame over MaxMsgSize
	zwsBad                       // a frame ZWS does not allow
	zwsClosed                    // a close frame
)

// zwsReference walks a client's stream as a ZWS server must, written from
// RFC 6455 and RFC 45 (a header is judged as soon as the octets that break
// a rule are there), and returns the complete messages before it stops.
// Commands other than pings and pongs stop the walk as "bad" only when
// malformed; their effect is not modelled, so streams with commands are
// compared up to the first one (cmd).
func zwsReference(stream []byte, maxMsg int64) (msgs [][]inFrame, why zwsStop, cmd bool) {
	var partial []inFrame
	for {
		if len(stream) == 0 {
			return msgs, zwsIncomplete, false
		}
		b0 := stream[0]
		op := b0 & 0x0f
		if b0&0x80 == 0 || b0&0x70 != 0 || !(op == 2 || op == 8 || op == 9 || op == 10) {
			return msgs, zwsBad, false
		}
		if len(stream) < 2 {
			return msgs, zwsIncomplete, false
		}
		if stream[1]&0x80 == 0 || op >= 8 && stream[1]&0x7f > 125 {
			return msgs, zwsBad, false
		}
		lenCode := stream[1] & 0x7f
		need := map[byte]int{126: 4, 127: 10}[lenCode]
		if need == 0 {
			need = 2
		}
		if len(stream) < need {
			return msgs, zwsIncomplete, false
		}
		size := uint64(lenCode)
		switch lenCode {
		case 126:
			size = uint64(binary.BigEndian.Uint16(stream[2:4]))
		case 127:
			size = binary.BigEndian.Uint64(stream[2:10])
			if size > 1<<63-1-15 {
				return msgs, zwsBad, false // top bit set, or header plus payload beyond int64
			}
		}
		if len(stream) < need+4 {
			return msgs, zwsIncomplete, false
		}
		var key [4]byte
		copy(key[:], stream[need:need+4])
		hdr := need + 4
		if op == 2 && size == 0 {
			return msgs, zwsBad, false
		}
		if op == 2 {
			if len(stream) < hdr+1 {
				return msgs, zwsIncomplete, false
			}
			if flag := stream[hdr] ^ key[0]; flag > 2 {
				return msgs, zwsBad, false
			}
			if body := int64(size - 1); maxMsg >= 0 && body > maxMsg || body > maxFrameBody {
				return msgs, zwsTooLarge, false
			}
		} else if maxMsg >= 0 && int64(size) > maxMsg {
			return msgs, zwsTooLarge, false // MaxMsgSize bounds every frame
		}
		if uint64(len(stream)-hdr) < size {
			return msgs, zwsIncomplete, false
		}
		payload := wsMask(stream[hdr:hdr+int(size)], key)
		stream = stream[hdr+int(size):]
		switch op {
		case 8:
			if len(payload) == 1 {
				return msgs, zwsBad, false
			}
			return msgs, zwsClosed, false
		case 9, 10:
			continue
		}
		switch payload[0] {
		case 2:
			return msgs, zwsIncomplete, true
		case 1:
			partial = append(partial, inFrame{body: payload[1:], more: true})
		case 0:
			partial = append(partial, inFrame{body: payload[1:]})
			msgs = append(msgs, partial)
			partial = nil
		}
	}
}

// runZWSReadLoop runs a real readLoop of a bound PULL socket's ZWS
// connection (MaxMsgSize maxMsg, a 512-octet read buffer) over stream,
// written in chunks, like runReadLoop does for ZMTP.
func runZWSReadLoop(t testing.TB, maxMsg int64, stream []byte, chunk int) readLoopResult {
	t.Helper()
	return runReadLoopOver(t, PULL, maxMsg, stream, chunk,
		transport.Conn{Framing: transport.ZWS, Subprotocol: transport.SubprotocolNULL})
}

// FuzzZWSReadLoop feeds arbitrary bytes, as a client would send them after
// the handshake, to a real ZWS connection reader in chunks of arbitrary
// size, with MaxMsgSize maxMsg (0xffff standing for no limit), and checks
// it against the reference walk: no panic or hang, no frame over
// MaxMsgSize, exactly the stream's messages in order, and the right end:
// io.EOF for a stream that ends cleanly or with a close frame, ErrProtocol
// for a bad frame, ErrMsgTooLarge for a frame over the limit.
func FuzzZWSReadLoop(f *testing.F) {
	for _, s := range zwsFuzzSeeds() {
		f.Add(s, uint16(7), uint16(300))
		f.Add(s, uint16(600), uint16(0xffff))
	}
	f.Fuzz(func(t *testing.T, stream []byte, chunk, maxMsg uint16) {
		limit := int64(maxMsg)
		if maxMsg == 0xffff {
			limit = -1
		}
		res := runZWSReadLoop(t, limit, stream, int(chunk)+1)
		if res.panicked != nil {
			t.Fatalf("readLoop panicked (MaxMsgSize %d): %v", limit, res.panicked)
		}
		if res.hung {
			t.Fatalf("readLoop still running %v after the stream ended", readLoopWatchdog)
		}
		if res.err == nil {
			t.Fatal("readLoop returned without an error")
		}
		for i, fr := range res.frames {
			if limit >= 0 && int64(len(fr.body)) > limit {
				t.Fatalf("frame %d of %d octets delivered with MaxMsgSize %d", i, len(fr.body), limit)
			}
		}
		ref, why, cmd := zwsReference(stream, limit)
		var want []inFrame
		for _, m := range ref {
			want = append(want, m...)
		}
		if !cmd && len(res.frames) > len(want) {
			t.Fatalf("delivered %d frames, the stream holds %d before it stops (%d)", len(res.frames), len(want), why)
		}
		for i := 0; i < min(len(res.frames), len(want)); i++ {
			if !bytes.Equal(res.frames[i].body, want[i].body) || res.frames[i].more != want[i].more {
				t.Fatalf("frame %d delivered as %q more=%v, want %q more=%v", i, res.frames[i].body, res.frames[i].more, want[i].body, want[i].more)
			}
		}
		if cmd {
			return
		}
		switch why {
		case zwsIncomplete, zwsClosed:
			if len(res.frames) != len(want) {
				t.Fatalf("delivered %d frames, want all %d before the stream's end (%d); err %v", len(res.frames), len(want), why, res.err)
			}
			if !errors.Is(res.err, io.EOF) {
				t.Fatalf("stream ended cleanly (%d), readLoop returned %v, want io.EOF", why, res.err)
			}
			var ce *wsCloseError
			if (why == zwsClosed) != errors.As(res.err, &ce) {
				t.Fatalf("stream stop %d, readLoop returned %v", why, res.err)
			}
		case zwsTooLarge:
			if !errors.Is(res.err, ErrMsgTooLarge) {
				t.Fatalf("a frame over MaxMsgSize %d: readLoop returned %v", limit, res.err)
			}
		case zwsBad:
			if !errors.Is(res.err, ErrProtocol) {
				t.Fatalf("a bad frame: readLoop returned %v, want ErrProtocol", res.err)
			}
		}
	})
}

// TestZWSRefusesHugeFrameWithoutAllocating: a message announcing 1 GiB
// with MaxMsgSize 1 MiB ends the connection with ErrMsgTooLarge before
// anything near that size is allocated.
func TestZWSRefusesHugeFrameWithoutAllocating(t *testing.T) {
	huge := cat(hx("82 ff"), binary.BigEndian.AppendUint64(nil, 1<<30), testKey[:], wsMask([]byte{0, 'x', 'y'}, testKey))
	runZWSReadLoop(t, 1<<20, huge, len(huge)) // warm up
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := runZWSReadLoop(t, 1<<20, huge, len(huge))
	runtime.ReadMemStats(&after)
	if !errors.Is(res.err, ErrMsgTooLarge) {
		t.Fatalf("1 GiB message with MaxMsgSize 1 MiB: readLoop returned %v, want ErrMsgTooLarge", res.err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("refusing a 1 GiB message allocated %d bytes; want well under 1 MiB", grew)
	}
}
