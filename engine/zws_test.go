package engine

// Tests of ZWS 2.0 (RFC 45): the codec's wire table, the raw ZWS peer that
// plays misbehaving clients, the close and ping handling, the subprotocols,
// and a send-path benchmark. Transport-independent behaviour runs over ws
// through forEachTransport; the libzmq interop suite covers ws as well.
//
// The raw peer's framing is written here from RFC 6455 and RFC 45, and it
// reads frames with github.com/gobwas/ws's header reader, not with the
// engine's codec, so that a codec mistake cannot hide itself.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"zbench/transport"
)

// wsMask xors p with key, starting at key[0] (RFC 6455 section 5.3).
func wsMask(p []byte, key [4]byte) []byte {
	out := make([]byte, len(p))
	for i := range p {
		out[i] = p[i] ^ key[i%4]
	}
	return out
}

// rawWSFrame encodes a frame from its first octet (FIN, RSV, opcode) and
// payload; masked adds key and masks the payload.
func rawWSFrame(b0 byte, payload []byte, masked bool, key [4]byte) []byte {
	var m byte
	if masked {
		m = 0x80
	}
	b := []byte{b0}
	switch n := len(payload); {
	case n < 126:
		b = append(b, m|byte(n))
	case n < 1<<16:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	b = append(b, key[:]...)
	return append(b, wsMask(payload, key)...)
}

// maskServerFrame turns a frame as a server sends it into the same frame
// as a client sends it, masked with key.
func maskServerFrame(f []byte, key [4]byte) []byte {
	hdr := 2
	switch f[1] & 0x7f {
	case 126:
		hdr = 4
	case 127:
		hdr = 10
	}
	out := append([]byte(nil), f[:hdr]...)
	out[1] |= 0x80
	out = append(out, key[:]...)
	return append(out, wsMask(f[hdr:], key)...)
}

var testKey = [4]byte{0x37, 0xfa, 0x21, 0x3d} // the key of RFC 6455's examples

// zwsWireCase is one WebSocket frame on the wire and what it means. The same
// table drives the encoder and the decoder tests, both directions.
type zwsWireCase struct {
	name   string
	server []byte    // the frame as a server sends it (unmasked)
	client []byte    // the frame as a client sends it with testKey; nil: derived from server
	flags  byte      // ZMTP flags of a message or command frame
	body   []byte    // the ZMTP frame's body, or the control frame's payload
	ctrl   ws.OpCode // a control frame (close, ping, pong); 0 otherwise
}

var (
	body124   = bytes.Repeat([]byte{'d'}, 124)
	body125   = bytes.Repeat([]byte{'e'}, 125)
	body65534 = bytes.Repeat([]byte{'f'}, 65534)
	body65535 = bytes.Repeat([]byte{'g'}, 65535)
	body70000 = bytes.Repeat([]byte{'h'}, 70000)
	readyPush = appendReadyBody(nil, []property{{"Socket-Type", []byte("PUSH")}})
)

func zwsWireCases() []zwsWireCase {
	return []zwsWireCase{
		{name: "empty last frame", server: hx("82 01 00"), client: hx("82 81 37 fa 21 3d 37"), body: []byte{}},
		{name: "Hi, more", server: hx("82 03 01 48 69"), client: hx("82 83 37 fa 21 3d 36 b2 48"), flags: flagMore, body: []byte("Hi")},
		{name: "Hi, last", server: hx("82 03 00 48 69"), client: hx("82 83 37 fa 21 3d 37 b2 48"), body: []byte("Hi")},
		{
			name: "READY command", flags: flagCommand, body: readyPush,
			server: cat(hx("82 1b 02 05"), []byte("READY"), hx("0b"), []byte("Socket-Type"), hx("00 00 00 04"), []byte("PUSH")),
		},
		{name: "124-octet body: 125-octet payload, 7-bit length", server: cat(hx("82 7d 00"), body124), body: body124},
		{name: "125-octet body: 126-octet payload, 16-bit length", server: cat(hx("82 7e 00 7e 00"), body125), body: body125},
		{name: "65534-octet body: 16-bit length", server: cat(hx("82 7e ff ff 01"), body65534), flags: flagMore, body: body65534},
		{name: "65535-octet body: 65536-octet payload, 64-bit length", server: cat(hx("82 7f 00 00 00 00 00 01 00 00 00"), body65535), body: body65535},
		{name: "70000-octet body", server: cat(hx("82 7f 00 00 00 00 00 01 11 71 00"), body70000), body: body70000},
		{name: "ping", server: cat(hx("89 03"), []byte("abc")), client: hx("89 83 37 fa 21 3d 56 98 42"), ctrl: ws.OpPing, flags: flagCommand, body: []byte("abc")},
		{name: "empty pong", server: hx("8a 00"), ctrl: ws.OpPong, flags: flagCommand, body: []byte{}},
		{name: "close 1000", server: hx("88 02 03 e8"), ctrl: ws.OpClose, flags: flagCommand, body: hx("03 e8")},
	}
}

func (c zwsWireCase) clientFrame() []byte {
	if c.client != nil {
		return c.client
	}
	return maskServerFrame(c.server, testKey)
}

// encodeZWS encodes a case with the engine: codec for ZMTP frames,
// appendWSControl for control frames.
func encodeZWS(c zwsWireCase, client bool) []byte {
	if c.ctrl != 0 {
		return appendWSControl(nil, client, c.ctrl, c.body)
	}
	return newZWSCodec(client).appendFrame(nil, c.flags, c.body)
}

func TestZWSEncode(t *testing.T) {
	for _, c := range zwsWireCases() {
		t.Run(c.name, func(t *testing.T) {
			if got := encodeZWS(c, false); !bytes.Equal(got, c.server) {
				t.Errorf("server side encodes % x…, want % x…", head(got), head(c.server))
			}
			// A client picks a fresh key per frame: take it from where it
			// sits and compare with the case masked by that key.
			got := encodeZWS(c, true)
			keyAt := len(c.server) - len(c.body) // after the length…
			if c.ctrl == 0 {
				keyAt-- // …and before the flag octet
			}
			if len(got) < keyAt+4 {
				t.Fatalf("client side encodes %d octets", len(got))
			}
			var key [4]byte
			copy(key[:], got[keyAt:keyAt+4])
			if want := maskServerFrame(c.server, key); !bytes.Equal(got, want) {
				t.Errorf("client side encodes % x…, want % x… (key % x)", head(got), head(want), key)
			}
			if c.ctrl != 0 {
				return
			}
			for _, client := range []bool{false, true} {
				codec := newZWSCodec(client)
				if n := codec.frameSize(len(c.body)); n != len(encodeZWS(c, client)) {
					t.Errorf("client=%v: frameSize(%d) = %d, the encoded frame has %d octets", client, len(c.body), n, len(encodeZWS(c, client)))
				}
			}
			// The server writes large bodies from the caller's memory:
			// appendHeader gives everything before the body.
			hdrOnly, ok := newZWSCodec(false).appendHeader([]byte("x"), c.flags, len(c.body))
			if want := cat([]byte("x"), c.server[:len(c.server)-len(c.body)]); !ok || !bytes.Equal(hdrOnly, want) {
				t.Errorf("server appendHeader = % x, %v; want % x, true", hdrOnly, ok, want)
			}
			// A client's body must be masked: no vectored write.
			if out, ok := newZWSCodec(true).appendHeader([]byte("x"), c.flags, len(c.body)); ok || string(out) != "x" {
				t.Errorf("client appendHeader = % x, %v; want it to refuse (false) and leave dst alone", out, ok)
			}
		})
	}
}

func head(b []byte) []byte {
	if len(b) > 24 {
		return b[:24]
	}
	return b
}

func TestZWSDecode(t *testing.T) {
	for _, c := range zwsWireCases() {
		for _, dir := range []struct {
			name  string
			codec frameCodec // the receiving side
			frame []byte
		}{
			{"client to server", newZWSCodec(false), c.clientFrame()},
			{"server to client", newZWSCodec(true), c.server},
		} {
			t.Run(c.name+"/"+dir.name, func(t *testing.T) {
				frame := bytes.Clone(dir.frame)
				h, ok, err := dir.codec.decodeHeader(frame)
				if err != nil || !ok {
					t.Fatalf("decodeHeader(% x…) = %+v, %v, %v", head(frame), h, ok, err)
				}
				if h.flags != c.flags || h.ctrl != byte(c.ctrl) || h.bodyLen != int64(len(c.body)) || h.hdrLen != len(frame)-len(c.body) {
					t.Fatalf("decoded flags %#02x ctrl %#x hdrLen %d bodyLen %d; want %#02x %#x %d %d",
						h.flags, h.ctrl, h.hdrLen, h.bodyLen, c.flags, byte(c.ctrl), len(frame)-len(c.body), len(c.body))
				}
				body := frame[h.hdrLen:]
				dir.codec.finishBody(h, body)
				if !bytes.Equal(body, c.body) {
					t.Fatalf("body after finishBody % x…, want % x…", head(body), head(c.body))
				}
				// Any shorter prefix of the header asks for more input.
				for n := 0; n < h.hdrLen; n++ {
					if _, ok, err := dir.codec.decodeHeader(dir.frame[:n]); ok || err != nil {
						t.Fatalf("a %d-octet prefix of the %d-octet header decodes as ok %v, err %v", n, h.hdrLen, ok, err)
					}
				}
			})
		}
	}
}

// TestZWSDecodeOwn: the outgoing queue re-reads its own frames (masked on
// the client side) with decodeOwn.
func TestZWSDecodeOwn(t *testing.T) {
	for _, client := range []bool{false, true} {
		codec := newZWSCodec(client)
		var b []byte
		b = codec.appendFrame(b, flagMore, []byte("first"))
		b = codec.appendFrame(b, 0, body125)
		h1, ok1, err1 := codec.decodeOwn(b)
		if !ok1 || err1 != nil || h1.flags != flagMore || h1.bodyLen != 5 {
			t.Fatalf("client=%v: decodeOwn of its first frame = %+v, %v, %v", client, h1, ok1, err1)
		}
		h2, ok2, err2 := codec.decodeOwn(b[h1.hdrLen+5:])
		if !ok2 || err2 != nil || h2.flags != 0 || h2.bodyLen != 125 || h1.hdrLen+5+h2.hdrLen+125 != len(b) {
			t.Fatalf("client=%v: decodeOwn of its second frame = %+v, %v, %v", client, h2, ok2, err2)
		}
		// decodeHeader is the other direction: it refuses the mask bit.
		if _, _, err := codec.decodeHeader(b); !errors.Is(err, ErrProtocol) {
			t.Fatalf("client=%v: decodeHeader of its own frame = %v, want a mask-bit protocol error", client, err)
		}
	}
}

// zwsBadFrames are frames a server must refuse from a client, each a
// protocol error detected from the header alone.
func zwsBadFrames() []struct {
	name   string
	frame  []byte
	status ws.StatusCode // the close status the engine sends
} {
	k := testKey
	return []struct {
		name   string
		frame  []byte
		status ws.StatusCode
	}{
		{"fragment (FIN clear)", rawWSFrame(0x02, []byte{0, 'x'}, true, k), ws.StatusProtocolError},
		{"continuation frame", rawWSFrame(0x80, []byte{0, 'x'}, true, k), ws.StatusProtocolError},
		{"RSV1 set", rawWSFrame(0xc2, []byte{0, 'x'}, true, k), ws.StatusProtocolError},
		{"RSV3 set", rawWSFrame(0x92, []byte{0, 'x'}, true, k), ws.StatusProtocolError},
		{"text frame", rawWSFrame(0x81, []byte{0, 'x'}, true, k), ws.StatusProtocolError},
		{"opcode 0x3", rawWSFrame(0x83, []byte{0, 'x'}, true, k), ws.StatusProtocolError},
		{"opcode 0xb", rawWSFrame(0x8b, nil, true, k), ws.StatusProtocolError},
		{"unmasked frame from a client", rawWSFrame(0x82, []byte{0, 'x'}, false, k), ws.StatusProtocolError},
		{"ping of 126 octets", rawWSFrame(0x89, make([]byte, 126), true, k), ws.StatusProtocolError},
		{"empty binary message", rawWSFrame(0x82, nil, true, k), ws.StatusProtocolError},
		{"flag octet 0x03", rawWSFrame(0x82, []byte{3, 'x'}, true, k), ws.StatusProtocolError},
		{"flag octet 0x04", rawWSFrame(0x82, []byte{4, 'x'}, true, k), ws.StatusProtocolError},
		{"flag octet 0x80", rawWSFrame(0x82, []byte{0x80}, true, k), ws.StatusProtocolError},
		{"64-bit length with its top bit set", cat(hx("82 ff 80 00 00 00 00 00 00 01"), k[:], []byte{0x37}), ws.StatusProtocolError},
		{"close with a 1-octet payload", rawWSFrame(0x88, []byte{3}, true, k), ws.StatusProtocolError},
		{"frame over MaxMsgSize", cat(hx("82 fe 07 d1"), k[:], wsMask([]byte{0}, k)), ws.StatusMessageTooBig},
	}
}

func TestZWSDecodeRefuses(t *testing.T) {
	for _, c := range zwsBadFrames() {
		if c.status != ws.StatusProtocolError || strings.HasPrefix(c.name, "close") {
			continue // not a header error
		}
		t.Run(c.name, func(t *testing.T) {
			h, ok, err := newZWSCodec(false).decodeHeader(c.frame)
			if !errors.Is(err, ErrProtocol) || ok {
				t.Fatalf("server decodeHeader(% x) = %+v, %v, %v; want a protocol error", c.frame, h, ok, err)
			}
		})
	}
	t.Run("masked frame from a server", func(t *testing.T) {
		frame := rawWSFrame(0x82, []byte{0, 'x'}, true, testKey)
		if _, ok, err := newZWSCodec(true).decodeHeader(frame); !errors.Is(err, ErrProtocol) || ok {
			t.Fatalf("client decodeHeader(% x) = %v, %v; want a protocol error", frame, ok, err)
		}
	})
}

// A raw ZWS peer.

// zwsRaw drives one upgraded connection by hand.
type zwsRaw struct {
	t      *testing.T
	c      net.Conn
	r      *bufio.Reader
	client bool // masks what it sends; expects unmasked frames
}

// zwsDialRaw upgrades a connection to an engine-bound ws endpoint,
// offering subprotocols.
func zwsDialRaw(t *testing.T, endpoint string, subprotocols ...string) *zwsRaw {
	t.Helper()
	ep, err := transport.Parse(endpoint, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if len(subprotocols) == 0 {
		subprotocols = transport.DefaultSubprotocols
	}
	c, err := transport.DialWS(ctx, ep, subprotocols)
	if err != nil {
		t.Fatalf("raw ZWS client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(waitTimeout))
	return &zwsRaw{t: t, c: c, r: bufio.NewReader(c), client: true}
}

func (p *zwsRaw) write(b []byte) error {
	_, err := p.c.Write(b)
	return err
}

// frame encodes a final frame of opcode op, masked when the peer is a
// client.
func (p *zwsRaw) frame(op ws.OpCode, payload []byte) []byte {
	return rawWSFrame(0x80|byte(op), payload, p.client, testKey)
}

// message encodes a ZWS message: flag octet, body.
func (p *zwsRaw) message(flag byte, body []byte) []byte {
	return p.frame(ws.OpBinary, append([]byte{flag}, body...))
}

// readFrame reads one frame with gobwas/ws's header reader.
func (p *zwsRaw) readFrame() (ws.OpCode, []byte, error) {
	h, err := ws.ReadHeader(p.r)
	if err != nil {
		return 0, nil, err
	}
	if !h.Fin || h.Rsv != 0 || h.Masked == p.client || h.Length > 1<<24 {
		return 0, nil, fmt.Errorf("engine sent a frame header %+v (FIN, no RSV, masked only towards a server, want)", h)
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(p.r, payload); err != nil {
		return 0, nil, err
	}
	if h.Masked {
		payload = wsMask(payload, h.Mask)
	}
	return h.OpCode, payload, nil
}

// readMessageFrame reads a binary message and splits its flag octet.
func (p *zwsRaw) readMessageFrame() (flag byte, body []byte, err error) {
	op, payload, err := p.readFrame()
	if err != nil {
		return 0, nil, err
	}
	if op != ws.OpBinary || len(payload) == 0 {
		return 0, nil, fmt.Errorf("engine sent opcode %#x with %d octets, want a binary message", op, len(payload))
	}
	return payload[0], payload[1:], nil
}

// handshakeNULL sends READY(socketType) and checks the engine's READY
// announces wantType.
func (p *zwsRaw) handshakeNULL(socketType, wantType string) error {
	ready := appendReadyBody(nil, []property{{"Socket-Type", []byte(socketType)}})
	if err := p.write(p.message(0x02, ready)); err != nil {
		return err
	}
	flag, body, err := p.readMessageFrame()
	if err != nil {
		return fmt.Errorf("engine's READY: %w", err)
	}
	if flag != 0x02 {
		return fmt.Errorf("engine's first message has flag %#02x, want a command (0x02)", flag)
	}
	name, data, err := splitCommand(body)
	if err != nil || name != readyCommand {
		return fmt.Errorf("engine's first command %q, %v; want READY", name, err)
	}
	md, err := parseMetadata(data)
	if err != nil {
		return err
	}
	if st, _ := md.get("Socket-Type"); string(st) != wantType {
		return fmt.Errorf("engine announced Socket-Type %q, want %q", st, wantType)
	}
	return nil
}

// readUntilClosed reads frames until the engine closes the connection and
// returns the close frame's status (0 if none came) and the commands seen.
func (p *zwsRaw) readUntilClosed() (status ws.StatusCode, sawClose bool, commands []string) {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		op, payload, err := p.readFrame()
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				p.t.Fatalf("the engine did not close the connection within %v", waitTimeout)
			}
			return status, sawClose, commands
		}
		switch op {
		case ws.OpClose:
			sawClose = true
			if len(payload) >= 2 {
				status = ws.StatusCode(binary.BigEndian.Uint16(payload))
			}
		case ws.OpBinary:
			if len(payload) > 0 && payload[0] == 0x02 {
				if name, _, err := splitCommand(payload[1:]); err == nil {
					commands = append(commands, name)
				}
			}
		}
	}
}

// TestZWSProtocolErrorClosesOnlyThatConnection: a bound PULL with a working
// PUSH peer over ws is sent broken input on raw ZWS connections; the engine
// sends each a close frame (1002, or 1009 for a frame over MaxMsgSize) and
// closes it, and the good peer keeps exchanging messages.
func TestZWSProtocolErrorClosesOnlyThatConnection(t *testing.T) {
	const maxMsg = 1024
	pull := newTestSocket(t, PULL, func(o *Options) { o.MaxMsgSize = maxMsg })
	ep := bindSocket(t, pull, "ws://127.0.0.1:*/zbench")
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
	type badCase struct {
		name      string
		handshake bool // complete the NULL handshake first
		send      []byte
		status    ws.StatusCode
		wantError bool // READY then ERROR before the close
	}
	var cases []badCase
	for _, c := range zwsBadFrames() {
		cases = append(cases, badCase{name: c.name, handshake: true, send: c.frame, status: c.status})
	}
	raw := &zwsRaw{client: true}
	cases = append(cases,
		badCase{name: "message before READY", send: raw.message(0x00, []byte("abc")), status: ws.StatusProtocolError},
		badCase{name: "message with MORE before READY", send: raw.message(0x01, []byte("abc")), status: ws.StatusProtocolError},
		badCase{name: "READY from an incompatible PUB", send: raw.message(0x02, appendReadyBody(nil, []property{{"Socket-Type", []byte("PUB")}})),
			status: ws.StatusProtocolError, wantError: true},
		badCase{name: "second READY", handshake: true, send: raw.message(0x02, readyPush), status: ws.StatusProtocolError},
		badCase{name: "bad frame before READY", send: rawWSFrame(0x81, []byte{0}, true, testKey), status: ws.StatusProtocolError},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := zwsDialRaw(t, ep)
			if c.handshake {
				if err := raw.handshakeNULL("PUSH", "PULL"); err != nil {
					t.Fatal(err)
				}
			}
			if err := raw.write(c.send); err != nil {
				t.Fatal(err)
			}
			status, sawClose, commands := raw.readUntilClosed()
			if !sawClose || status != c.status {
				t.Errorf("engine closed with close frame %v, status %d; want a close frame with status %d", sawClose, status, c.status)
			}
			if c.wantError && (len(commands) != 2 || commands[0] != readyCommand || commands[1] != errorCommand) {
				t.Errorf("engine sent commands %q, want READY then ERROR", commands)
			}
			raw.c.Close()
			exchange("after " + c.name)
			waitPeers(t, pull, 1)
		})
	}
}

// TestZWSUpgradeRefusedOthersUnaffected: upgrades offering no ZWS
// subprotocol are refused with 400 Bad Request, and a client stalled in its
// request holds nothing up: the bound socket keeps exchanging messages with
// its peer and takes new ones.
func TestZWSUpgradeRefusedOthersUnaffected(t *testing.T) {
	pull := newTestSocket(t, PULL)
	ep := bindSocket(t, pull, "ws://127.0.0.1:*/zbench")
	push := newTestSocket(t, PUSH)
	connectSocket(t, push, ep)
	mustSend(t, push, []byte("first"))
	if got := mustRecvString(t, pull); got != "first" {
		t.Fatalf("got %q", got)
	}
	parsed, _ := transport.Parse(ep, false)
	addr := net.JoinHostPort(parsed.Host, parsed.Port)
	stalled, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	stalled.Write([]byte("GET /zbench HTTP/1.1\r\nHost: x\r\n"))

	for _, offer := range []string{"chat", "ZWS1.0", ""} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(waitTimeout))
		req := "GET /zbench HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
		if offer != "" {
			req += "Sec-WebSocket-Protocol: " + offer + "\r\n"
		}
		c.Write([]byte(req + "\r\n"))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("offering %q: %v", offer, err)
		}
		resp.Body.Close()
		c.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("offering %q: status %d, want 400", offer, resp.StatusCode)
		}
		mustSend(t, push, []byte("after "+offer))
		if got := mustRecvString(t, pull); got != "after "+offer {
			t.Fatalf("the good peer after a refused upgrade: got %q", got)
		}
	}
	// A new peer gets in while the stalled client still waits.
	push2 := newTestSocket(t, PUSH)
	connectSocket(t, push2, ep)
	mustSend(t, push2, []byte("second peer"))
	if got := mustRecvString(t, pull); got != "second peer" {
		t.Fatalf("got %q", got)
	}
	waitPeers(t, pull, 2)
}

// connectZWS connects s to endpoint like Connect, but offering only the
// given subprotocols, over one connection (no redial).
func connectZWS(t *testing.T, s *Socket, endpoint string, subprotocols ...string) {
	t.Helper()
	ep, err := transport.Parse(endpoint, false)
	if err != nil {
		t.Fatal(err)
	}
	p := newPipe(s, true, ep.String(), newZWSCodec(true))
	s.mu.Lock()
	s.pipes = append(s.pipes, p)
	if s.typ != ROUTER {
		s.addOutPipeLocked(p)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	dialErr := make(chan error, 1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
		tc, err := transport.DialWS(ctx, ep, subprotocols)
		cancel()
		dialErr <- err
		if err == nil {
			s.runConn(tc, p)
		}
	}()
	if err := <-dialErr; err != nil {
		t.Fatalf("dial %s offering %q: %v", endpoint, subprotocols, err)
	}
}

// TestZWSNoMechanism: two engine sockets agree on ZWS2.0 when the client
// offers nothing else: the first message each way is the routing identity,
// so a ROUTER learns a DEALER's identity without READY, and messages flow
// both ways.
func TestZWSNoMechanism(t *testing.T) {
	router := newTestSocket(t, ROUTER)
	ep := bindSocket(t, router, "ws://127.0.0.1:*/zbench")
	dealer := newTestSocket(t, DEALER, func(o *Options) { o.Identity = []byte("dealer-7") })
	connectZWS(t, dealer, ep, transport.SubprotocolNone)
	waitPeers(t, dealer, 1)
	dealer.mu.Lock()
	p := dealer.pipes[0]
	dealer.mu.Unlock()
	conn := p.live.Load()
	if conn == nil || conn.tc.Subprotocol != transport.SubprotocolNone {
		t.Fatalf("the dealer's connection is not ZWS2.0: %+v", conn)
	}
	for i := 0; i < 3; i++ {
		mustSend(t, dealer, []byte("part"), []byte(fmt.Sprint("request ", i)))
		m := mustRecv(t, router)
		if len(m) != 3 || string(m[0]) != "dealer-7" || string(m[1]) != "part" || string(m[2]) != fmt.Sprint("request ", i) {
			t.Fatalf("router received %q, want [dealer-7 part request %d]", m, i)
		}
		mustSend(t, router, []byte("dealer-7"), []byte(fmt.Sprint("reply ", i)))
		if got := mustRecvString(t, dealer); got != fmt.Sprint("reply ", i) {
			t.Fatalf("dealer received %q", got)
		}
	}

	// The same with a raw peer: the engine's first message is its identity
	// (empty for a PULL), then messages; no READY either way.
	pull := newTestSocket(t, PULL)
	raw := zwsDialRaw(t, bindSocket(t, pull, "ws://127.0.0.1:*/zbench"), transport.SubprotocolNone)
	flag, body, err := raw.readMessageFrame()
	if err != nil || flag != 0x00 || len(body) != 0 {
		t.Fatalf("the engine's first ZWS2.0 message: flag %#02x body %q, %v; want an empty routing identity", flag, body, err)
	}
	if err := raw.write(cat(raw.message(0x00, []byte("raw-id")), raw.message(0x01, []byte("a")), raw.message(0x00, []byte("b")))); err != nil {
		t.Fatal(err)
	}
	if m := mustRecv(t, pull); len(m) != 2 || string(m[0]) != "a" || string(m[1]) != "b" {
		t.Fatalf("engine PULL received %q, want [a b] (the identity is not a message)", m)
	}
}

// TestZWSPing: WebSocket pings are answered with pongs carrying the same
// payload, also in the middle of multipart traffic, where a pong never
// lands between the frames of a message.
func TestZWSPing(t *testing.T) {
	push := newTestSocket(t, PUSH, func(o *Options) { o.SndHWM = 0 })
	raw := zwsDialRaw(t, bindSocket(t, push, "ws://127.0.0.1:*/zbench"))
	if err := raw.handshakeNULL("PULL", "PUSH"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "x", strings.Repeat("p", 125)} {
		if err := raw.write(raw.frame(ws.OpPing, []byte(p))); err != nil {
			t.Fatal(err)
		}
		op, payload, err := raw.readFrame()
		if err != nil || op != ws.OpPong || string(payload) != p {
			t.Fatalf("after a ping with %d octets: opcode %#x payload %d octets, %v; want a pong with the same payload", len(p), op, len(payload), err)
		}
	}
	// An unsolicited pong is ignored.
	if err := raw.write(raw.frame(ws.OpPong, []byte("unasked"))); err != nil {
		t.Fatal(err)
	}

	const msgs, pings = 500, 40
	errs := make(chan error, 2)
	go func() {
		for i := 0; i < msgs; i++ {
			if err := push.SendMsg([]byte("a"), bytes.Repeat([]byte("b"), i%300), []byte(fmt.Sprint(i))); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	go func() {
		for i := 0; i < pings; i++ {
			if err := raw.write(raw.frame(ws.OpPing, []byte(fmt.Sprint("p", i)))); err != nil {
				errs <- err
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
		errs <- nil
	}()
	got, pongs, frame := 0, 0, 0
	for got < msgs || pongs < pings {
		op, payload, err := raw.readFrame()
		if err != nil {
			t.Fatalf("after %d messages and %d pongs: %v", got, pongs, err)
		}
		if op == ws.OpPong {
			if frame != 0 {
				t.Fatalf("a pong arrived after frame %d of message %d: it split a multipart message", frame, got)
			}
			if want := fmt.Sprint("p", pongs); string(payload) != want {
				t.Fatalf("pong %d carries %q, want %q", pongs, payload, want)
			}
			pongs++
			continue
		}
		if op != ws.OpBinary || len(payload) == 0 {
			t.Fatalf("opcode %#x with %d octets", op, len(payload))
		}
		more := payload[0] == 0x01
		if more != (frame < 2) {
			t.Fatalf("message %d frame %d: flag %#02x", got, frame, payload[0])
		}
		frame++
		if !more {
			if want := fmt.Sprint(got); string(payload[1:]) != want {
				t.Fatalf("message %d ends with %q", got, payload[1:])
			}
			frame = 0
			got++
		}
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestZWSCloseHandshake: the engine answers a peer's close frame with its
// own (echoing the status) and closes the connection; closing a socket
// sends a close frame (1000) to its ws peers before the connection ends.
func TestZWSCloseHandshake(t *testing.T) {
	t.Run("peer closes", func(t *testing.T) {
		pull := newTestSocket(t, PULL)
		raw := zwsDialRaw(t, bindSocket(t, pull, "ws://127.0.0.1:*/zbench"))
		if err := raw.handshakeNULL("PUSH", "PULL"); err != nil {
			t.Fatal(err)
		}
		waitPeers(t, pull, 1)
		if err := raw.write(cat(raw.message(0x00, []byte("last words")), raw.frame(ws.OpClose, cat(hx("03 e9"), []byte("going"))))); err != nil {
			t.Fatal(err)
		}
		if got := mustRecvString(t, pull); got != "last words" {
			t.Fatalf("got %q", got)
		}
		status, sawClose, _ := raw.readUntilClosed()
		if !sawClose || status != ws.StatusGoingAway {
			t.Fatalf("engine answered close 1001 with close frame %v status %d, want the status echoed", sawClose, status)
		}
		waitPeers(t, pull, 0)
	})
	t.Run("socket closes", func(t *testing.T) {
		push := newTestSocket(t, PUSH)
		raw := zwsDialRaw(t, bindSocket(t, push, "ws://127.0.0.1:*/zbench"))
		if err := raw.handshakeNULL("PULL", "PUSH"); err != nil {
			t.Fatal(err)
		}
		waitPeers(t, push, 1)
		mustSend(t, push, []byte("bye"))
		if flag, body, err := raw.readMessageFrame(); err != nil || flag != 0 || string(body) != "bye" {
			t.Fatalf("got %#02x %q, %v", flag, body, err)
		}
		push.Close()
		status, sawClose, _ := raw.readUntilClosed()
		if !sawClose || status != ws.StatusNormalClosure {
			t.Fatalf("after Close: close frame %v status %d, want a close frame with 1000", sawClose, status)
		}
	})
	t.Run("socket closes while streaming", func(t *testing.T) {
		// Close comes while Send's goroutine and the connection's writer
		// take turns writing: the close frame must still go out, after
		// whole frames (a writer in the middle of a write finishes it
		// first).
		for i := 0; i < 10; i++ {
			push := newTestSocket(t, PUSH)
			raw := zwsDialRaw(t, bindSocket(t, push, "ws://127.0.0.1:*/zbench"))
			if err := raw.handshakeNULL("PULL", "PUSH"); err != nil {
				t.Fatal(err)
			}
			waitPeers(t, push, 1)
			sent := make(chan error, 1)
			go func() {
				msg := make([]byte, 32)
				for {
					if err := push.Send(msg); err != nil {
						sent <- err
						return
					}
				}
			}()
			go func() {
				// Once the stream flows (or after waitTimeout, when the
				// reader below fails the test).
				for deadline := time.Now().Add(waitTimeout); push.Stats().MsgsOut < 1000 && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
				push.Close()
			}()
			status, sawClose, _ := raw.readUntilClosed()
			if err := <-sent; !errors.Is(err, ErrClosed) {
				t.Fatalf("Send after Close: %v, want ErrClosed", err)
			}
			if !sawClose || status != ws.StatusNormalClosure {
				t.Fatalf("Close during a stream: close frame %v status %d, want a close frame with 1000 after whole frames", sawClose, status)
			}
		}
	})
	t.Run("engine to engine", func(t *testing.T) {
		// The connecting side masks its close frame; the bound side sees
		// an orderly end (io.EOF), not a protocol error.
		pull := newTestSocket(t, PULL)
		ep := bindSocket(t, pull, "ws://127.0.0.1:*/zbench")
		push := newTestSocket(t, PUSH)
		connectSocket(t, push, ep)
		waitPeers(t, pull, 1)
		pull.mu.Lock()
		var c *conn
		for cc := range pull.conns {
			c = cc
		}
		pull.mu.Unlock()
		push.Close()
		waitPeers(t, pull, 0)
		<-c.dead
		var ce *wsCloseError
		if !errors.As(c.err, &ce) || ce.code != ws.StatusNormalClosure {
			t.Fatalf("the bound side's connection ended with %v, want the peer's close frame (1000)", c.err)
		}
	})
}

// zwsSink completes the NULL handshake on an upgraded connection as a PULL
// (masking when client) and then discards everything.
func zwsSink(c net.Conn, client bool) {
	defer c.Close()
	ready := appendReadyBody(nil, []property{{"Socket-Type", []byte("PULL")}})
	if _, err := c.Write(rawWSFrame(0x82, append([]byte{0x02}, ready...), client, testKey)); err != nil {
		return
	}
	io.Copy(io.Discard, c)
}

// BenchmarkSendPathWS is BenchmarkSendPath over ws: a PUSH socket writing
// to a peer that discards everything, on the server side (the PUSH binds;
// frames unmasked, large bodies written from the caller's memory) and on
// the client side (the PUSH connects; every frame masked with a fresh
// key). allocs/op shows whether the steady-state send path allocates.
func BenchmarkSendPathWS(b *testing.B) {
	for _, side := range []string{"server", "client"} {
		for _, size := range []int{32, 1024, 16384} {
			b.Run(fmt.Sprintf("%s/size=%d", side, size), func(b *testing.B) {
				push, err := NewSocket(PUSH, DefaultOptions())
				if err != nil {
					b.Fatal(err)
				}
				sinkDone := make(chan struct{})
				if side == "server" {
					if err := push.Bind("ws://127.0.0.1:*/zbench"); err != nil {
						b.Fatal(err)
					}
					ep, _ := transport.Parse(push.Endpoints()[0], false)
					c, err := transport.DialWS(context.Background(), ep, transport.DefaultSubprotocols)
					if err != nil {
						b.Fatal(err)
					}
					go func() { defer close(sinkDone); zwsSink(c, true) }()
				} else {
					ep, _ := transport.Parse("ws://127.0.0.1:*/zbench", true)
					l, err := transport.Listen(ep)
					if err != nil {
						b.Fatal(err)
					}
					defer l.Close()
					go func() {
						defer close(sinkDone)
						if c, err := l.Accept(); err == nil {
							zwsSink(c, false)
						}
					}()
					if err := push.Connect(l.Endpoint()); err != nil {
						b.Fatal(err)
					}
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
}

// TestZWSServerSideLargeFrames: a bound PUSH writes frames at least as
// large as the batch with vectored writes, the body from the caller's
// memory (a server does not mask), and the caller overwrites its buffer as
// soon as Send returns; every message
// arrives intact, with write batching on and off, whether the kernel takes
// a write at once or the rest waits in the engine's queue.
func TestZWSServerSideLargeFrames(t *testing.T) {
	const n = 300
	for _, batching := range []bool{true, false} {
		for _, size := range []int{8192, 70000} {
			t.Run(fmt.Sprintf("batching=%v/size=%d", batching, size), func(t *testing.T) {
				push := newTestSocket(t, PUSH, func(o *Options) { o.WriteBatching = batching; o.SndHWM = 0 })
				pull := newTestSocket(t, PULL, func(o *Options) { o.RcvHWM = 2 })
				connectSocket(t, pull, bindSocket(t, push, "ws://127.0.0.1:*/zbench"))
				waitPeers(t, push, 1)
				recvErr := make(chan error, 1)
				go func() {
					for i := 0; i < n; i++ {
						m, err := pull.RecvMsg()
						if err == nil {
							err = checkMessage(m, i, size)
						}
						if err != nil {
							recvErr <- err
							return
						}
						if i%50 == 0 {
							time.Sleep(2 * time.Millisecond) // let the sender's writes come up short
						}
					}
					recvErr <- nil
				}()
				buf := make([]byte, size)
				for i := 0; i < n; i++ {
					fillMessage(buf, i)
					mustSend(t, push, buf)
					for j := range buf {
						buf[j] = scribble
					}
				}
				if err := <-recvErr; err != nil {
					t.Fatal(err)
				}
				if st := push.Stats(); st.MsgsOut != n || st.BytesOut != uint64(n*newZWSCodec(false).frameSize(size)) {
					t.Fatalf("Stats %+v, want %d messages of %d octets on the wire", st, n, newZWSCodec(false).frameSize(size))
				}
			})
		}
	}
}

// TestMaskMatchesCipher: the engine's own masking agrees with gobwas/ws's
// at every length around its word and vector boundaries, for any key.
func TestMaskMatchesCipher(t *testing.T) {
	keys := [][4]byte{{0, 0, 0, 0}, {1, 2, 3, 4}, {0xff, 0x80, 0x7f, 0x01}}
	for _, key := range keys {
		for n := 0; n < 200; n++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i*31 + n)
			}
			want := bytes.Clone(b)
			ws.Cipher(want, key, 0)
			mask(b, key)
			if !bytes.Equal(b, want) {
				t.Fatalf("mask of %d octets with key % x = % x, want % x", n, key, b, want)
			}
		}
	}
}
