package engine

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"zbench/transport"
)

// hx decodes space-separated hex octets.
func hx(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// cat concatenates byte slices into a new one.
func cat(parts ...[]byte) []byte {
	return bytes.Join(parts, nil)
}

// loadHexFixture reads a testdata file of hex octets; '#' starts a comment.
func loadHexFixture(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		line, _, _ = strings.Cut(line, "#")
		sb.WriteString(line)
		sb.WriteByte(' ')
	}
	return hx(sb.String())
}

// wireCase is one frame on the wire and what it means. The same table
// drives the encoder tests (meaning → bytes) and the decoder tests
// (bytes → meaning).
type wireCase struct {
	name    string
	wire    []byte // the frame as sent; empty when fixture names a file
	fixture string // testdata file holding the frame's bytes
	flags   byte   // flagMore and/or flagCommand

	body []byte // message frames: the body

	command string     // command frames: the command name
	data    []byte     // command frames: the data after the name
	props   []property // READY: the properties the data holds
	// readyOf, when set, is the socket type whose READY (with an empty
	// Identity) the engine must encode exactly as this frame.
	readyOf *Type
}

func typePtr(t Type) *Type { return &t }

var (
	body255 = bytes.Repeat([]byte{'a'}, 255)
	body256 = bytes.Repeat([]byte{'b'}, 256)
	body300 = bytes.Repeat([]byte{'c'}, 300)
	reason  = []byte("invalid socket type")
)

func wireCases() []wireCase {
	return []wireCase{
		{name: "short frame", wire: cat(hx("00 05"), []byte("hello")), body: []byte("hello")},
		{name: "empty frame", wire: hx("00 00"), body: []byte{}},
		{name: "empty frame with MORE", wire: hx("01 00"), flags: flagMore, body: []byte{}},
		{name: "255-octet body, short size", wire: cat(hx("00 ff"), body255), body: body255},
		{name: "256-octet body, long size", wire: cat(hx("02 00 00 00 00 00 00 01 00"), body256), body: body256},
		{name: "MORE, short", wire: cat(hx("01 03"), []byte("abc")), flags: flagMore, body: []byte("abc")},
		{name: "MORE, long", wire: cat(hx("03 00 00 00 00 00 00 01 2c"), body300), flags: flagMore, body: body300},
		{
			name: "PING with TTL and context", flags: flagCommand,
			wire:    cat(hx("04 0a 04"), []byte("PING"), hx("00 64"), []byte("ctx")),
			command: pingCommand, data: cat(hx("00 64"), []byte("ctx")),
		},
		{
			name: "PONG echoing the context", flags: flagCommand,
			wire:    cat(hx("04 08 04"), []byte("PONG"), []byte("ctx")),
			command: pongCommand, data: []byte("ctx"),
		},
		{
			name: "SUBSCRIBE", flags: flagCommand,
			wire:    cat(hx("04 0f 09"), []byte("SUBSCRIBE"), []byte("topic")),
			command: subscribeCommand, data: []byte("topic"),
		},
		{
			name: "SUBSCRIBE to everything", flags: flagCommand,
			wire:    cat(hx("04 0a 09"), []byte("SUBSCRIBE")),
			command: subscribeCommand, data: []byte{},
		},
		{
			name: "SUBSCRIBE, long size", flags: flagCommand,
			wire:    cat(hx("06 00 00 00 00 00 00 01 36 09"), []byte("SUBSCRIBE"), body300),
			command: subscribeCommand, data: body300,
		},
		{
			name: "CANCEL", flags: flagCommand,
			wire:    cat(hx("04 0c 06"), []byte("CANCEL"), []byte("topic")),
			command: cancelCommand, data: []byte("topic"),
		},
		{
			name: "ERROR", flags: flagCommand,
			wire:    cat(hx("04 1a 05"), []byte("ERROR"), hx("13"), reason),
			command: errorCommand, data: cat(hx("13"), reason),
		},
		{
			name: "READY from a DEALER with an empty Identity (RFC 23)", flags: flagCommand,
			fixture: "rfc23-ready-dealer.hex", command: readyCommand,
			props:   []property{{"Socket-Type", []byte("DEALER")}, {"Identity", []byte{}}},
			readyOf: typePtr(DEALER),
		},
		{
			name: "READY reply from a ROUTER (RFC 23)", flags: flagCommand,
			fixture: "rfc23-ready-router.hex", command: readyCommand,
			props: []property{{"Socket-Type", []byte("ROUTER")}},
		},
	}
}

func (c wireCase) bytes(t testing.TB) []byte {
	if c.fixture != "" {
		return loadHexFixture(t, c.fixture)
	}
	return c.wire
}

func TestEncodeWireCases(t *testing.T) {
	for _, c := range wireCases() {
		t.Run(c.name, func(t *testing.T) {
			want := c.bytes(t)
			var got []byte
			switch {
			case c.flags&flagCommand == 0:
				got = appendFrame(nil, c.flags, c.body)
				if n := frameSize(len(c.body)); n != len(want) {
					t.Errorf("frameSize(%d) = %d, want %d", len(c.body), n, len(want))
				}
				hdr, ok := zmtpCodec{}.appendHeader(nil, c.flags, len(c.body))
				if !ok || !bytes.Equal(hdr, want[:len(want)-len(c.body)]) {
					t.Errorf("zmtpCodec.appendHeader = % x, %v; want % x, true", hdr, ok, want[:len(want)-len(c.body)])
				}
			case c.props != nil:
				got = appendFrame(nil, flagCommand, appendReadyBody(nil, c.props))
			default:
				got = appendCommand(nil, c.command, c.data)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("encoded\n% x\nwant\n% x", got, want)
			}
			// A caller's buffer is appended to, not overwritten.
			prefix := []byte("keep")
			var again []byte
			if c.flags&flagCommand == 0 {
				again = appendFrame(bytes.Clone(prefix), c.flags, c.body)
			} else {
				again = appendCommand(bytes.Clone(prefix), c.command, mustSplitData(t, want))
			}
			if !bytes.Equal(again, cat(prefix, want)) {
				t.Fatalf("appending after %q gave\n% x\nwant\n% x", prefix, again, cat(prefix, want))
			}
			if c.readyOf != nil {
				props := readyProps(*c.readyOf, nil)
				got := appendFrame(nil, flagCommand, appendReadyBody(nil, props))
				if !bytes.Equal(got, want) {
					t.Fatalf("READY of a %s socket encodes as\n% x\nwant\n% x", *c.readyOf, got, want)
				}
			}
		})
	}
}

// mustSplitData returns the data of the command frame in wire.
func mustSplitData(t testing.TB, wire []byte) []byte {
	t.Helper()
	h, _, err := decodeFrameHeader(wire)
	if err != nil {
		t.Fatal(err)
	}
	_, data, err := splitCommand(wire[h.hdrLen:])
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestDecodeWireCases(t *testing.T) {
	for _, c := range wireCases() {
		t.Run(c.name, func(t *testing.T) {
			wire := c.bytes(t)
			h, ok, err := decodeFrameHeader(wire)
			if err != nil || !ok {
				t.Fatalf("decodeFrameHeader(% x) = %+v, %v, %v; want a header", wire, h, ok, err)
			}
			if h.flags != c.flags {
				t.Errorf("flags = %#02x, want %#02x", h.flags, c.flags)
			}
			if int64(h.hdrLen)+h.bodyLen != int64(len(wire)) {
				t.Fatalf("header %d + body %d octets, want the frame's %d", h.hdrLen, h.bodyLen, len(wire))
			}
			body := wire[h.hdrLen:]
			if c.flags&flagCommand == 0 {
				if !bytes.Equal(body, c.body) {
					t.Fatalf("body = %q, want %q", body, c.body)
				}
			} else {
				name, data, err := splitCommand(body)
				if err != nil {
					t.Fatalf("splitCommand: %v", err)
				}
				if name != c.command {
					t.Errorf("command = %q, want %q", name, c.command)
				}
				if c.props != nil {
					md, err := parseMetadata(data)
					if err != nil {
						t.Fatalf("parseMetadata: %v", err)
					}
					if len(md) != len(c.props) {
						t.Fatalf("metadata = %q, want %q", md, c.props)
					}
					for i, p := range c.props {
						if md[i].name != p.name || !bytes.Equal(md[i].value, p.value) {
							t.Errorf("property %d = %q: %q, want %q: %q", i, md[i].name, md[i].value, p.name, p.value)
						}
						// Names are case-insensitive.
						v, ok := md.get(strings.ToLower(p.name))
						if !ok || !bytes.Equal(v, p.value) {
							t.Errorf("get(%q) = %q, %v; want %q", strings.ToLower(p.name), v, ok, p.value)
						}
					}
				} else if !bytes.Equal(data, c.data) {
					t.Errorf("data = %q, want %q", data, c.data)
				}
			}
			// Every strict prefix of the header asks for more input.
			for n := 0; n < h.hdrLen; n++ {
				if _, ok, err := decodeFrameHeader(wire[:n]); ok || err != nil {
					t.Errorf("decodeFrameHeader of the first %d octets = ok %v, err %v; want need-more", n, ok, err)
				}
			}
		})
	}
}

// TestDecodeStream decodes every case back to back, as a reader sees them.
func TestDecodeStream(t *testing.T) {
	cases := wireCases()
	var stream []byte
	for _, c := range cases {
		stream = append(stream, c.bytes(t)...)
	}
	for i, c := range cases {
		h, ok, err := decodeFrameHeader(stream)
		if err != nil || !ok {
			t.Fatalf("frame %d (%s): %v %v", i, c.name, ok, err)
		}
		n := h.hdrLen + int(h.bodyLen)
		if !bytes.Equal(stream[:n], c.bytes(t)) {
			t.Fatalf("frame %d (%s): decoded % x", i, c.name, stream[:n])
		}
		stream = stream[n:]
	}
	if len(stream) != 0 {
		t.Fatalf("%d octets left over", len(stream))
	}
}

func TestDecodeFrameHeaderErrors(t *testing.T) {
	cases := []struct {
		name string
		wire []byte
	}{
		{"reserved bit 3", hx("08 00")},
		{"reserved bit 7", hx("80 00")},
		{"all reserved bits on a command", hx("fc 00")},
		{"reserved bit alone, before the size arrives", hx("10")},
		{"MORE on a short command", hx("05 00")},
		{"MORE on a long command", hx("07 00 00 00 00 00 00 00 00")},
		{"size beyond 63 bits", hx("02 80 00 00 00 00 00 00 00")},
	}
	for _, c := range cases {
		h, ok, err := decodeFrameHeader(c.wire)
		if !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: decodeFrameHeader(% x) = %+v, ok %v, err %v; want an error wrapping ErrProtocol", c.name, c.wire, h, ok, err)
		}
	}
}

func TestDecodeFrameHeaderNeedsMore(t *testing.T) {
	for _, wire := range [][]byte{
		nil, hx("00"), hx("01"), hx("04"), hx("02"), hx("06 00"),
		hx("02 00 00 00 00 00 00 00"), hx("03 00 00 00 00 00 00 01"),
	} {
		h, ok, err := decodeFrameHeader(wire)
		if ok || err != nil {
			t.Errorf("decodeFrameHeader(% x) = %+v, ok %v, err %v; want need-more (ok false, no error)", wire, h, ok, err)
		}
	}
	// A complete header whose body has not arrived yet is a header.
	h, ok, err := decodeFrameHeader(hx("00 05 68"))
	if !ok || err != nil || h.bodyLen != 5 || h.hdrLen != 2 {
		t.Errorf("header before its body: %+v, %v, %v", h, ok, err)
	}
}

func TestSplitCommandErrors(t *testing.T) {
	for _, body := range [][]byte{nil, hx("00"), hx("00 41"), cat(hx("05"), []byte("REA"))} {
		if name, data, err := splitCommand(body); !errors.Is(err, ErrProtocol) {
			t.Errorf("splitCommand(% x) = %q, %q, %v; want an error wrapping ErrProtocol", body, name, data, err)
		}
	}
}

func TestParseMetadataErrors(t *testing.T) {
	cases := []struct {
		name string
		data []byte
	}{
		{"empty name", hx("00 00 00 00 00")},
		{"name overruns the command", cat(hx("0b"), []byte("So"))},
		{"value size field cut short", cat(hx("01"), []byte("A"), hx("00 00"))},
		{"value overruns the command", cat(hx("01"), []byte("A"), hx("00 00 00 64"), []byte("x"))},
		{"value size above 2^31-1", cat(hx("01"), []byte("A"), hx("80 00 00 00"))},
		{"character outside the name grammar", cat(hx("02"), []byte("A "), hx("00 00 00 00"))},
		{"good property then an overrun", cat(hx("01"), []byte("A"), hx("00 00 00 00"), hx("01"), []byte("B"), hx("00 00 00 02"), []byte("x"))},
	}
	for _, c := range cases {
		md, err := parseMetadata(c.data)
		if !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: parseMetadata(% x) = %q, %v; want an error wrapping ErrProtocol", c.name, c.data, md, err)
		}
	}
	if md, err := parseMetadata(nil); err != nil || len(md) != 0 {
		t.Errorf("parseMetadata of no properties = %q, %v; want none, no error", md, err)
	}
}

func TestGreeting(t *testing.T) {
	rfc := loadHexFixture(t, "rfc23-greeting-3.0.hex")
	if len(rfc) != greetingSize {
		t.Fatalf("fixture holds %d octets, want %d", len(rfc), greetingSize)
	}
	// The engine sends the same greeting, announcing version 3.1.
	want := bytes.Clone(rfc)
	want[11] = 1
	got := appendGreeting([]byte("x"))
	if !bytes.Equal(got, cat([]byte("x"), want)) {
		t.Fatalf("appendGreeting =\n% x\nwant\n% x", got[1:], want)
	}

	cases := []struct {
		name      string
		greeting  []byte
		major     byte
		minor     byte
		mechanism string
		asServer  bool
		effective byte // minorVersion: the framing both sides speak
	}{
		{"RFC 23 example (3.0)", rfc, 3, 0, "NULL", false, 0},
		{"this engine (3.1)", want, 3, 1, "NULL", false, 1},
		{"a later 3.x is treated as 3.1", patch(want, 11, 7), 3, 7, "NULL", false, 1},
		{"a later major version", patch(want, 10, 4), 4, 1, "NULL", false, 1},
		{"PLAIN, as server", patch(withMechanism(want, "PLAIN"), asServerOffset, 1), 3, 1, "PLAIN", true, 1},
	}
	for _, c := range cases {
		g, err := parseGreeting(c.greeting)
		if err != nil {
			t.Errorf("%s: parseGreeting: %v", c.name, err)
			continue
		}
		if g.major != c.major || g.minor != c.minor || g.mechanism != c.mechanism || g.asServer != c.asServer {
			t.Errorf("%s: parseGreeting = %+v, want %d.%d %q as-server %v", c.name, g, c.major, c.minor, c.mechanism, c.asServer)
		}
		if m := g.minorVersion(); m != c.effective {
			t.Errorf("%s: minorVersion = %d, want %d", c.name, m, c.effective)
		}
	}
	// A greeting arrives in pieces: every prefix of a good one is fine.
	for n := 0; n <= greetingSize; n++ {
		if err := checkSignature(want[:n]); err != nil {
			t.Fatalf("checkSignature of the first %d octets: %v", n, err)
		}
	}
}

// withMechanism returns a copy of greeting g announcing mechanism m.
func withMechanism(g []byte, m string) []byte {
	g = bytes.Clone(g)
	clear(g[mechanismOffset : mechanismOffset+mechanismSize])
	copy(g[mechanismOffset:], m)
	return g
}

// patch returns a copy of b with b[i] = v.
func patch(b []byte, i int, v byte) []byte {
	b = bytes.Clone(b)
	b[i] = v
	return b
}

func TestGreetingErrors(t *testing.T) {
	good := appendGreeting(nil)
	bad := []struct {
		name     string
		greeting []byte
		// seenAfter is how many octets checkSignature needs to refuse it
		// (0: only parseGreeting can tell).
		seenAfter int
	}{
		{"first octet not 0xFF (ZMTP 1.0 length)", patch(good, 0, 0x01), 1},
		{"octet 9 with its low bit clear", patch(good, 9, 0x7e), 10},
		{"version 2", patch(good, 10, 2), 11},
		{"version 1", patch(good, 10, 1), 11},
		{"mechanism in lower case", withMechanism(good, "null"), 0},
		{"mechanism with a NUL inside", withMechanism(good, "NU\x00LL"), 0},
	}
	for _, c := range bad {
		if _, err := parseGreeting(c.greeting); !errors.Is(err, ErrProtocol) {
			t.Errorf("%s: parseGreeting = %v, want an error wrapping ErrProtocol", c.name, err)
		}
		if c.seenAfter > 0 {
			if err := checkSignature(c.greeting[:c.seenAfter-1]); err != nil {
				t.Errorf("%s: checkSignature refused the first %d octets, which are still valid: %v", c.name, c.seenAfter-1, err)
			}
			if err := checkSignature(c.greeting[:c.seenAfter]); !errors.Is(err, ErrProtocol) {
				t.Errorf("%s: checkSignature of the first %d octets = %v, want an error wrapping ErrProtocol", c.name, c.seenAfter, err)
			}
		}
	}
	// The version octet 0x01 is ZMTP/2.0's (RFC 15), not "ZMTP 1.x".
	if err := checkSignature(patch(good, 10, 1)); err == nil || !strings.Contains(err.Error(), "peer speaks ZMTP/2.0 (version octet 0x01)") {
		t.Errorf("checkSignature of a ZMTP/2.0 greeting = %v, want it named ZMTP/2.0", err)
	}
	if _, err := parseGreeting(good[:greetingSize-1]); !errors.Is(err, ErrProtocol) {
		t.Errorf("parseGreeting of 63 octets = %v, want an error wrapping ErrProtocol", err)
	}
}

// testConn is a conn on a pipe of a socket of type typ, with no network
// underneath: for calling the codec-level methods of conn directly.
func testConn(t testing.TB, typ Type, minor byte) *conn {
	t.Helper()
	s, err := NewSocket(typ, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	p := newPipe(s, false, "test", zmtpCodec{})
	c := newConn(p, &transport.Conn{Framing: transport.ZMTP})
	c.minor = minor
	return c
}

// queuedBytes returns the commands queued on the pipe's outgoing side and
// the messages published and not yet written. The pipe must have no
// connection (nobody else holds its write role).
func queuedBytes(p *pipe) []byte {
	q := &p.out
	q.cmdMu.Lock()
	var b []byte
	for _, f := range q.cmds {
		b = append(b, f...)
	}
	q.cmdMu.Unlock()
	for sg := q.head; sg != nil; sg = sg.next.Load() {
		n, _, _, _ := unpackCommit(sg.commit.Load())
		x, y := sg.span(sg.off, n)
		b = append(append(b, x...), y...)
	}
	return b
}

func findCase(t testing.TB, name string) []byte {
	t.Helper()
	for _, c := range wireCases() {
		if c.name == name {
			return c.bytes(t)
		}
	}
	t.Fatalf("no wire case %q", name)
	return nil
}

func TestPingIsAnsweredWithPong(t *testing.T) {
	c := testConn(t, PULL, 1)
	ping := findCase(t, "PING with TTL and context")
	if err := c.command(ping[2:]); err != nil {
		t.Fatalf("command(PING): %v", err)
	}
	if got, want := queuedBytes(c.p), findCase(t, "PONG echoing the context"); !bytes.Equal(got, want) {
		t.Fatalf("after PING the connection queued\n% x\nwant the PONG\n% x", got, want)
	}
	// PING without a TTL, and PING with a context over 16 octets, are errors.
	for _, data := range [][]byte{hx("00"), cat(hx("00 00"), bytes.Repeat([]byte("x"), 17))} {
		body := cat(hx("04"), []byte("PING"), data)
		if err := c.command(body); !errors.Is(err, ErrProtocol) {
			t.Errorf("command(PING % x) = %v, want an error wrapping ErrProtocol", data, err)
		}
	}
}

func TestSubscriptionCommandsReachPub(t *testing.T) {
	c := testConn(t, PUB, 1)
	sub := findCase(t, "SUBSCRIBE")
	cancel := findCase(t, "CANCEL")
	for _, f := range [][]byte{sub, sub, cancel} {
		if err := c.command(f[2:]); err != nil {
			t.Fatal(err)
		}
	}
	// Subscribed twice, cancelled once: still subscribed.
	if !c.p.subs.match([]byte("topic/1")) {
		t.Fatal("after SUBSCRIBE, SUBSCRIBE, CANCEL of \"topic\" the PUB side no longer matches \"topic/1\"")
	}
	if err := c.command(cancel[2:]); err != nil {
		t.Fatal(err)
	}
	if c.p.subs.match([]byte("topic/1")) {
		t.Fatal("after a second CANCEL the PUB side still matches \"topic/1\"")
	}
}

func TestEncodeSubscription(t *testing.T) {
	// To a ZMTP 3.1 peer: SUBSCRIBE / CANCEL commands.
	c31 := testConn(t, SUB, 1)
	if got, want := c31.encodeSubscription([]byte("topic"), true), findCase(t, "SUBSCRIBE"); !bytes.Equal(got, want) {
		t.Errorf("3.1 subscribe = % x, want % x", got, want)
	}
	if got, want := c31.encodeSubscription([]byte("topic"), false), findCase(t, "CANCEL"); !bytes.Equal(got, want) {
		t.Errorf("3.1 cancel = % x, want % x", got, want)
	}
	// To a ZMTP 3.0 peer: a message whose first octet is 1 (subscribe) or 0.
	c30 := testConn(t, SUB, 0)
	if got, want := c30.encodeSubscription([]byte("topic"), true), cat(hx("00 06 01"), []byte("topic")); !bytes.Equal(got, want) {
		t.Errorf("3.0 subscribe = % x, want % x", got, want)
	}
	if got, want := c30.encodeSubscription([]byte("topic"), false), cat(hx("00 06 00"), []byte("topic")); !bytes.Equal(got, want) {
		t.Errorf("3.0 cancel = % x, want % x", got, want)
	}
}
