package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
)

// ZMTP 3.x frame flags (RFC 23/37, "Framing").
const (
	flagMore    byte = 0x01
	flagLong    byte = 0x02
	flagCommand byte = 0x04
	// flagsReserved must be zero on the wire.
	flagsReserved byte = 0xF8
)

// Greeting layout (RFC 23/37): signature, version, mechanism, as-server, filler.
const (
	greetingSize     = 64
	signatureSize    = 10
	mechanismOffset  = 12
	mechanismSize    = 20
	asServerOffset   = 32
	zmtpMajor        = 3
	zmtpMinor        = 1
	maxShortBody     = 255
	maxCommandName   = 255
	readyCommand     = "READY"
	errorCommand     = "ERROR"
	pingCommand      = "PING"
	pongCommand      = "PONG"
	subscribeCommand = "SUBSCRIBE"
	cancelCommand    = "CANCEL"
	maxPingContext   = 16
)

// appendGreeting appends this engine's 64-octet ZMTP 3.1 greeting with the
// NULL mechanism.
func appendGreeting(dst []byte) []byte {
	var g [greetingSize]byte
	g[0] = 0xFF
	g[9] = 0x7F
	g[10] = zmtpMajor
	g[11] = zmtpMinor
	copy(g[mechanismOffset:], "NULL")
	return append(dst, g[:]...)
}

// greeting is what a peer announced in its greeting.
type greeting struct {
	major, minor byte
	mechanism    string
	asServer     bool
}

// minorVersion returns the ZMTP minor version both sides speak: 0 for a 3.0
// peer, 1 otherwise (higher versions are treated as 3.1).
func (g greeting) minorVersion() byte {
	if g.major == zmtpMajor && g.minor == 0 {
		return 0
	}
	return 1
}

// checkSignature validates the first n bytes of a peer's greeting as they
// arrive (libzmq sends its greeting in pieces). It reports a protocol error as
// soon as the bytes seen rule out a ZMTP 3.x peer.
func checkSignature(b []byte) error {
	if len(b) >= 1 && b[0] != 0xFF {
		return protocolErrorf("greeting: first octet is %#02x, want 0xff (ZMTP 1.0 peers are not supported)", b[0])
	}
	if len(b) >= signatureSize && b[9]&0x01 == 0 {
		return protocolErrorf("greeting: octet 9 is %#02x, want its low bit set (ZMTP 1.0 peers are not supported)", b[9])
	}
	if len(b) > 10 && b[10] < zmtpMajor {
		return protocolErrorf("greeting: peer speaks %s (version octet %#02x); this engine needs ZMTP/3.0 or later", zmtpRevision(b[10]), b[10])
	}
	return nil
}

// zmtpRevision names the protocol a greeting's version octet below 3 stands
// for: ZMTP/2.0 (RFC 15) sends 0x01 after the signature; ZMTP/1.0 has no
// version octet at all.
func zmtpRevision(v byte) string {
	if v == 1 {
		return "ZMTP/2.0"
	}
	return "a ZMTP revision before 3.0"
}

// parseGreeting decodes a complete 64-octet greeting.
func parseGreeting(b []byte) (greeting, error) {
	if len(b) < greetingSize {
		return greeting{}, protocolErrorf("greeting: %d octets, want %d", len(b), greetingSize)
	}
	if err := checkSignature(b); err != nil {
		return greeting{}, err
	}
	mech := b[mechanismOffset : mechanismOffset+mechanismSize]
	name := string(bytes.TrimRight(mech, "\x00"))
	for _, c := range []byte(name) {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+') {
			return greeting{}, protocolErrorf("greeting: mechanism %q is not a valid mechanism name", mech)
		}
	}
	return greeting{major: b[10], minor: b[11], mechanism: name, asServer: b[asServerOffset] == 1}, nil
}

// frameSize returns the encoded size of a frame with an n-byte body.
func frameSize(n int) int {
	if n > maxShortBody {
		return 9 + n
	}
	return 2 + n
}

// appendFrameHeader appends the header (flags and size) of a frame with an
// n-byte body. flags holds flagMore and/or flagCommand; flagLong is set here.
func appendFrameHeader(dst []byte, flags byte, n int) []byte {
	if n > maxShortBody {
		dst = append(dst, flags|flagLong, 0, 0, 0, 0, 0, 0, 0, 0)
		binary.BigEndian.PutUint64(dst[len(dst)-8:], uint64(n))
		return dst
	}
	return append(dst, flags, byte(n))
}

// appendFrame appends a whole frame: header then body.
func appendFrame(dst []byte, flags byte, body []byte) []byte {
	return append(appendFrameHeader(dst, flags, len(body)), body...)
}

// appendCommand appends a command frame: name size, name, data.
func appendCommand(dst []byte, name string, data ...[]byte) []byte {
	n := 1 + len(name)
	for _, d := range data {
		n += len(d)
	}
	dst = appendFrameHeader(dst, flagCommand, n)
	dst = append(dst, byte(len(name)))
	dst = append(dst, name...)
	for _, d := range data {
		dst = append(dst, d...)
	}
	return dst
}

// property is one name/value pair of READY metadata.
type property struct {
	name  string
	value []byte
}

// appendReadyBody appends the body of a READY command (without the frame
// header): the command name and each property.
func appendReadyBody(dst []byte, props []property) []byte {
	dst = append(dst, byte(len(readyCommand)))
	dst = append(dst, readyCommand...)
	for _, p := range props {
		dst = append(dst, byte(len(p.name)))
		dst = append(dst, p.name...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p.value)))
		dst = append(dst, p.value...)
	}
	return dst
}

// readyProps returns the metadata a socket announces in READY.
func readyProps(t Type, identity []byte) []property {
	props := []property{{name: "Socket-Type", value: []byte(t.String())}}
	if t == REQ || t == DEALER || t == ROUTER {
		props = append(props, property{name: "Identity", value: identity})
	}
	return props
}

// splitCommand splits a command frame body into its name and data.
func splitCommand(body []byte) (name string, data []byte, err error) {
	if len(body) < 1 {
		return "", nil, protocolErrorf("command: empty body")
	}
	n := int(body[0])
	if n == 0 || 1+n > len(body) {
		return "", nil, protocolErrorf("command: name size %d does not fit a %d-octet body", n, len(body))
	}
	return string(body[1 : 1+n]), body[1+n:], nil
}

// parseMetadata decodes READY properties. Names are returned as sent; look
// them up case-insensitively with metadata.get.
func parseMetadata(data []byte) (metadata, error) {
	var md metadata
	for len(data) > 0 {
		n := int(data[0])
		if n == 0 {
			return nil, protocolErrorf("READY: property with an empty name")
		}
		if 1+n+4 > len(data) {
			return nil, protocolErrorf("READY: property name of %d octets overruns the command", n)
		}
		name := string(data[1 : 1+n])
		for _, c := range []byte(name) {
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '+') {
				return nil, protocolErrorf("READY: property name %q has a character outside ALPHA DIGIT - _ . +", name)
			}
		}
		data = data[1+n:]
		vlen := binary.BigEndian.Uint32(data)
		data = data[4:]
		if vlen > 1<<31-1 || uint64(vlen) > uint64(len(data)) {
			return nil, protocolErrorf("READY: value of %q claims %d octets, %d remain", name, vlen, len(data))
		}
		md = append(md, property{name: name, value: data[:vlen]})
		data = data[vlen:]
	}
	return md, nil
}

// metadata is a peer's READY properties.
type metadata []property

// get returns the value of the named property (case-insensitive).
func (md metadata) get(name string) ([]byte, bool) {
	for _, p := range md {
		if strings.EqualFold(p.name, name) {
			return p.value, true
		}
	}
	return nil, false
}

// frameHeader is a decoded frame header.
type frameHeader struct {
	flags   byte  // flagMore / flagCommand (flagLong already interpreted)
	hdrLen  int   // octets before the body
	bodyLen int64 // octets of body

	// ZWS only. ctrl is the opcode of a WebSocket control frame (close,
	// ping, pong; flags then holds flagCommand), 0 for a frame carrying a
	// ZMTP frame. masked says the body must be unmasked with mask, the key
	// aligned to the body's first octet.
	ctrl   byte
	masked bool
	mask   [4]byte
}

// decodeFrameHeader parses the frame header at the start of b. ok is false
// when b does not yet hold the whole header. Reserved flag bits, a MORE flag
// on a command, and sizes that do not fit an int64 are protocol errors.
func decodeFrameHeader(b []byte) (h frameHeader, ok bool, err error) {
	h.flags, h.hdrLen, h.bodyLen, ok, err = decodeZMTPHeader(b)
	return h, ok, err
}

// decodeZMTPHeader is decodeFrameHeader with scalar results, which the
// reader's hot path gets in registers.
func decodeZMTPHeader(b []byte) (flags byte, hdrLen int, bodyLen int64, ok bool, err error) {
	if len(b) < 1 {
		return 0, 0, 0, false, nil
	}
	f := b[0]
	if f&flagsReserved != 0 {
		return 0, 0, 0, false, protocolErrorf("frame: reserved flag bits set in %#02x", f)
	}
	if f&flagCommand != 0 && f&flagMore != 0 {
		return 0, 0, 0, false, protocolErrorf("frame: MORE flag set on a command frame (%#02x)", f)
	}
	if f&flagLong == 0 {
		if len(b) < 2 {
			return 0, 0, 0, false, nil
		}
		return f, 2, int64(b[1]), true, nil
	}
	if len(b) < 9 {
		return 0, 0, 0, false, nil
	}
	n := binary.BigEndian.Uint64(b[1:9])
	if n > 1<<63-1 {
		return 0, 0, 0, false, protocolErrorf("frame: size %d does not fit 63 bits", n)
	}
	return f &^ flagLong, 9, int64(n), true, nil
}

// protocolError is why the engine closed a connection on a peer's mistake.
// It matches ErrProtocol and, when set, a more specific cause.
type protocolError struct {
	msg   string
	cause error
}

func (e *protocolError) Error() string { return "engine: protocol error: " + e.msg }
func (e *protocolError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrProtocol, e.cause}
	}
	return []error{ErrProtocol}
}

func protocolErrorf(format string, args ...any) error {
	return &protocolError{msg: fmt.Sprintf(format, args...)}
}
