package engine

// ZWS 2.0 (RFC 45): ZMTP frames over WebSocket (RFC 6455). Every ZMTP frame
// is one binary WebSocket message whose payload is a flag octet (0x00 last
// frame, 0x01 more, 0x02 command) followed by the frame's body. The client
// (the side that dialled) masks every frame it sends with a fresh key; the
// server never masks. Messages are never fragmented; control frames (ping,
// pong, close) may come between them.
//
// The codec maps ZMTP's flagMore and flagCommand to the ZWS flag octet, so the
// connection's write path (batches, immediate writes, vectored large frames)
// and its reader work on ZWS as on ZMTP. WebSocket control frames reach the
// reader as command frames with frameHeader.ctrl set.

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/gobwas/ws"

	"zbench/transport"
)

// ZWS flag octet values (RFC 45, "Framing").
const (
	zwsFlagLast    byte = 0x00
	zwsFlagMore    byte = 0x01
	zwsFlagCommand byte = 0x02
)

// WebSocket frame header layout (RFC 6455 section 5.2).
const (
	wsFin        byte = 0x80
	wsRsvBits    byte = 0x70
	wsOpcodeBits byte = 0x0f
	wsMaskBit    byte = 0x80
	wsLen16      byte = 126 // 7-bit length code: a 16-bit length follows
	wsLen64      byte = 127 // 7-bit length code: a 64-bit length follows
	// wsMaxHeader is the longest header: 2 octets, a 64-bit length, a key.
	wsMaxHeader = 14
	// wsMaxPayload bounds a message's payload so that header plus payload
	// still fits an int64 (RFC 6455 allows up to 2^63-1).
	wsMaxPayload = 1<<63 - 1 - wsMaxHeader - 1
)

// wsGoodbyeTimeout bounds the write of the close frame sent when a
// connection ends; a peer that does not read does not delay Close.
const wsGoodbyeTimeout = 50 * time.Millisecond

// zwsCodec is ZWS 2.0 framing for one side of a connection. client is true
// on the dialling side: it masks what it sends and expects unmasked frames.
type zwsCodec struct {
	client bool
}

// newZWSCodec returns the ZWS 2.0 codec: one WebSocket message per ZMTP
// frame. client is true on the dialling side, which masks its frames.
func newZWSCodec(client bool) frameCodec {
	return zwsCodec{client: client}
}

// zwsFlagOf maps ZMTP frame flags to the ZWS flag octet.
func zwsFlagOf(flags byte) byte {
	f := flags & flagMore
	if flags&flagCommand != 0 {
		f |= zwsFlagCommand
	}
	return f
}

// wsHeaderSize is the size of a WebSocket header for a payload of n octets.
func wsHeaderSize(n int, masked bool) int {
	h := 2
	switch {
	case n > 0xffff:
		h = 10
	case n > 125:
		h = 4
	}
	if masked {
		h += 4
	}
	return h
}

// appendWSHeader appends the header of a final (FIN) frame with opcode op
// and an n-octet payload, with the masking key when masked.
func appendWSHeader(dst []byte, op ws.OpCode, n int, masked bool, key [4]byte) []byte {
	var m byte
	if masked {
		m = wsMaskBit
	}
	b0 := wsFin | byte(op)
	switch {
	case n <= 125:
		dst = append(dst, b0, m|byte(n))
	case n <= 0xffff:
		dst = append(dst, b0, m|wsLen16, byte(n>>8), byte(n))
	default:
		dst = append(dst, b0, m|wsLen64)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if masked {
		dst = append(dst, key[:]...)
	}
	return dst
}

// mask applies (or removes) a WebSocket masking key to b, b's first octet
// meeting key[0]. Short payloads, the common case of small messages, go a
// word at a time; the per-octet head and tail of ws.Cipher would cost more
// than its vector loop saves.
func mask(b []byte, key [4]byte) {
	if len(b) >= 64 {
		ws.Cipher(b, key, 0)
		return
	}
	k := uint64(binary.LittleEndian.Uint32(key[:]))
	k |= k << 32
	for len(b) >= 8 {
		binary.LittleEndian.PutUint64(b, binary.LittleEndian.Uint64(b)^k)
		b = b[8:]
	}
	for i := range b {
		b[i] ^= key[i&3]
	}
}

// newMaskKey returns a masking key for one frame. RFC 6455 asks for keys a
// party in the middle cannot predict; the runtime's per-thread generator
// (math/rand/v2) gives that without a system call or a lock per frame.
func newMaskKey() [4]byte {
	var k [4]byte
	binary.LittleEndian.PutUint32(k[:], rand.Uint32())
	return k
}

func (c zwsCodec) frameSize(n int) int {
	return wsHeaderSize(n+1, c.client) + 1 + n
}

// appendFrame appends a binary message holding one ZMTP frame: the flag
// octet and body, masked with a fresh key on the client side.
func (c zwsCodec) appendFrame(dst []byte, flags byte, body []byte) []byte {
	if !c.client {
		dst = appendWSHeader(dst, ws.OpBinary, len(body)+1, false, [4]byte{})
		dst = append(dst, zwsFlagOf(flags))
		return append(dst, body...)
	}
	key := newMaskKey()
	dst = appendWSHeader(dst, ws.OpBinary, len(body)+1, true, key)
	start := len(dst)
	dst = append(dst, zwsFlagOf(flags))
	dst = append(dst, body...)
	mask(dst[start:], key)
	return dst
}

// appendHeader appends the WebSocket header and the flag octet, so that the
// body can follow from the caller's memory. A client's body must be masked
// on the way out, so the client side refuses (ok false).
func (c zwsCodec) appendHeader(dst []byte, flags byte, n int) ([]byte, bool) {
	if c.client {
		return dst, false
	}
	dst = appendWSHeader(dst, ws.OpBinary, n+1, false, [4]byte{})
	return append(dst, zwsFlagOf(flags)), true
}

// decodeHeader decodes a frame the peer sent: masked when the peer is the
// client (this side is not).
func (c zwsCodec) decodeHeader(b []byte) (frameHeader, bool, error) {
	return decodeWSHeader(b, !c.client)
}

// decodeOwn decodes a frame this side encoded.
func (c zwsCodec) decodeOwn(b []byte) (frameHeader, bool, error) {
	return decodeWSHeader(b, c.client)
}

// finishBody unmasks a received body in place.
func (zwsCodec) finishBody(h frameHeader, body []byte) {
	if h.masked {
		mask(body, h.mask)
	}
}

// decodeWSHeader parses the WebSocket frame header at the start of b, and
// for a binary message its flag octet, which counts as part of the header:
// hdrLen covers both and bodyLen is the rest of the payload. A control frame
// (close, ping, pong) comes back with flagCommand and ctrl set to its opcode.
// masked says whether frames in this direction must be masked; a masked
// header's key is returned aligned to the body's first octet. ok is false
// while b holds only part of the header.
//
// Everything ZWS does not allow is a protocol error, reported as soon as the
// octets that show it are there: FIN clear (fragments), RSV bits, text,
// continuation and unknown opcodes, a mask bit wrong for the direction, a
// control frame over 125 octets, a binary message without a flag octet, a
// flag octet other than 0x00, 0x01 and 0x02, and a length with its top bit
// set (or so close to it that header plus payload overflows int64).
func decodeWSHeader(b []byte, masked bool) (h frameHeader, ok bool, err error) {
	if len(b) < 1 {
		return h, false, nil
	}
	b0 := b[0]
	if b0&wsFin == 0 {
		return h, false, protocolErrorf("ws: frame with FIN clear (opcode %#x); ZWS messages are never fragmented", b0&wsOpcodeBits)
	}
	if b0&wsRsvBits != 0 {
		return h, false, protocolErrorf("ws: RSV bits set in %#02x; no extension was negotiated", b0)
	}
	op := ws.OpCode(b0 & wsOpcodeBits)
	switch op {
	case ws.OpBinary, ws.OpClose, ws.OpPing, ws.OpPong:
	case ws.OpText:
		return h, false, protocolErrorf("ws: text frame; ZWS messages are binary")
	case ws.OpContinuation:
		return h, false, protocolErrorf("ws: continuation frame; ZWS messages are never fragmented")
	default:
		return h, false, protocolErrorf("ws: unknown opcode %#x", byte(op))
	}
	if len(b) < 2 {
		return h, false, nil
	}
	b1 := b[1]
	if got := b1&wsMaskBit != 0; got != masked {
		if masked {
			return h, false, protocolErrorf("ws: unmasked frame from a client; a client must mask every frame")
		}
		return h, false, protocolErrorf("ws: masked frame from a server; a server must not mask")
	}
	code := b1 &^ wsMaskBit
	if op.IsControl() && code > 125 {
		return h, false, protocolErrorf("ws: control frame (opcode %#x) with a payload over 125 octets", byte(op))
	}
	n := int64(code)
	hdr := 2
	switch code {
	case wsLen16:
		if len(b) < 4 {
			return h, false, nil
		}
		n = int64(binary.BigEndian.Uint16(b[2:4]))
		hdr = 4
	case wsLen64:
		if len(b) < 10 {
			return h, false, nil
		}
		v := binary.BigEndian.Uint64(b[2:10])
		if v > wsMaxPayload {
			return h, false, protocolErrorf("ws: payload length %d is out of range", v)
		}
		n = int64(v)
		hdr = 10
	}
	if masked {
		if len(b) < hdr+4 {
			return h, false, nil
		}
		copy(h.mask[:], b[hdr:hdr+4])
		h.masked = true
		hdr += 4
	}
	if op.IsControl() {
		h.flags, h.ctrl, h.hdrLen, h.bodyLen = flagCommand, byte(op), hdr, n
		return h, true, nil
	}
	if n == 0 {
		return h, false, protocolErrorf("ws: empty binary message; a ZWS message starts with a flag octet")
	}
	if len(b) < hdr+1 {
		return h, false, nil
	}
	f := b[hdr]
	if masked {
		f ^= h.mask[0]
		// The body starts one octet into the payload.
		h.mask = [4]byte{h.mask[1], h.mask[2], h.mask[3], h.mask[0]}
	}
	switch f {
	case zwsFlagLast:
	case zwsFlagMore:
		h.flags = flagMore
	case zwsFlagCommand:
		h.flags = flagCommand
	default:
		return frameHeader{}, false, protocolErrorf("ws: flag octet %#02x; want 0x00 (last), 0x01 (more) or 0x02 (command)", f)
	}
	h.hdrLen, h.bodyLen = hdr+1, n-1
	return h, true, nil
}

// decodeShortWS is decodeShort for ZWS: it appends to b the message frames
// (final binary WebSocket messages with a 7- or 16-bit length, masked as
// the direction wants) that start buf[r:w], unmasking their bodies in
// place, up to the first frame of any other kind or the first incomplete
// one, which it leaves to readLoop to decode and judge.
func decodeShortWS(b *inBatch, buf []byte, r, w, r0 int, maxMsg int64, masked bool) (nr, msgs, cut int) {
	keyLen := 0
	if masked {
		keyLen = 4
	}
	for r+2 <= w && buf[r] == wsFin|byte(ws.OpBinary) {
		b1 := buf[r+1]
		if b1&wsMaskBit != 0 != masked {
			break
		}
		n, h := int(b1&^wsMaskBit), 2
		switch n {
		case int(wsLen64):
			return r, msgs, cut
		case int(wsLen16):
			if r+4 > w {
				return r, msgs, cut
			}
			n, h = int(binary.BigEndian.Uint16(buf[r+2:r+4])), 4
		}
		if n == 0 {
			break // no flag octet: readLoop reports it
		}
		h += keyLen
		end := r + h + n
		if end > w || maxMsg >= 0 && int64(n-1) > maxMsg {
			break
		}
		var key [4]byte
		flag := buf[r+h]
		if masked {
			copy(key[:], buf[r+h-4:r+h])
			flag ^= key[0]
		}
		if flag > zwsFlagMore {
			break // a command, or a bad flag octet
		}
		body := buf[r+h+1 : end]
		if masked {
			// The body starts one octet into the payload.
			mask(body, [4]byte{key[1], key[2], key[3], key[0]})
		}
		b.frames = append(b.frames, frameRef{off: uint32(r + h + 1 - r0), n: uint32(n - 1), more: flag == zwsFlagMore})
		r = end
		if flag == zwsFlagLast {
			msgs++
			cut = len(b.frames)
		}
	}
	return r, msgs, cut
}

// appendWSControl appends a control frame (close, ping, pong) with payload
// p (at most 125 octets), masked when client.
func appendWSControl(dst []byte, client bool, op ws.OpCode, p []byte) []byte {
	var key [4]byte
	if client {
		key = newMaskKey()
	}
	dst = appendWSHeader(dst, op, len(p), client, key)
	start := len(dst)
	dst = append(dst, p...)
	if client {
		mask(dst[start:], key)
	}
	return dst
}

// wsCloseError is how a connection ends when the peer sent a WebSocket
// close frame. It matches io.EOF: the peer went away in an orderly way.
type wsCloseError struct {
	code   ws.StatusCode // ws.StatusNoStatusRcvd when the frame carried none
	reason string
}

func (e *wsCloseError) Error() string {
	if e.reason != "" {
		return fmt.Sprintf("engine: peer closed the WebSocket (status %d, %q)", e.code, e.reason)
	}
	return fmt.Sprintf("engine: peer closed the WebSocket (status %d)", e.code)
}

func (e *wsCloseError) Unwrap() error { return io.EOF }

// wsPeerClosed reads the payload of a peer's close frame.
func wsPeerClosed(p []byte) error {
	switch len(p) {
	case 0:
		return &wsCloseError{code: ws.StatusNoStatusRcvd}
	case 1:
		return protocolErrorf("ws: close frame with a 1-octet payload")
	}
	return &wsCloseError{code: ws.StatusCode(binary.BigEndian.Uint16(p)), reason: string(p[2:])}
}

// control handles a command frame, or on ZWS a WebSocket control frame,
// received after the handshake.
func (c *conn) control(h frameHeader, body []byte) error {
	if h.ctrl == 0 {
		return c.command(body)
	}
	switch ws.OpCode(h.ctrl) {
	case ws.OpPing:
		// Answered through the pipe's command queue, like PONG, so the
		// pong never splits a multipart message.
		c.p.sendCommand(appendWSControl(nil, c.tc.Client, ws.OpPong, body))
	case ws.OpClose:
		return wsPeerClosed(body)
	}
	// Unsolicited pongs are allowed and ignored.
	return nil
}

// wsCloseBody returns the close frame payload to send when a connection
// ends with err, and whether to send one at all: an echo of the peer's
// close, 1000 when the socket closes, 1009 or 1002 on the peer's protocol
// error. A broken connection (I/O errors) gets none.
func wsCloseBody(err error) ([]byte, bool) {
	var code ws.StatusCode
	var ce *wsCloseError
	switch {
	case errors.As(err, &ce):
		if ce.code < ws.StatusNormalClosure || ce.code.IsProtocolReserved() {
			return nil, true // no status, or one that must not be sent
		}
		code = ce.code
	case errors.Is(err, ErrClosed):
		code = ws.StatusNormalClosure
	case errors.Is(err, ErrMsgTooLarge):
		code = ws.StatusMessageTooBig
	case errors.Is(err, ErrProtocol):
		code = ws.StatusProtocolError
	default:
		return nil, false
	}
	return binary.BigEndian.AppendUint16(nil, uint16(code)), true
}

// wsGoodbye sends a close frame before the connection is closed (fail
// calls it), when the write side is between frames. It takes the pipe's
// write role for good (roleClosing): a holder in the middle of a write gets
// wsGoodbyeTimeout to finish it (its write deadline is set to that), and
// holders never call fail while holding the role, so the wait is bounded.
// A connection that is not the pipe's live one (its handshake failed: the
// handshake sends its own) gets nothing here.
func (c *conn) wsGoodbye(err error) {
	body, ok := wsCloseBody(err)
	if !ok || c.p.live.Load() != c {
		return
	}
	if c.takeRoleForGoodbye() && c.p.out.atBoundary && !c.p.out.cmdCut {
		c.writeGoodbye(body)
	}
}

// takeRoleForGoodbye moves the write role to roleClosing, waiting (at most
// wsGoodbyeTimeout) while a write is under way.
func (c *conn) takeRoleForGoodbye() bool {
	q := &c.p.out
	deadline := time.Now().Add(wsGoodbyeTimeout)
	_ = c.tc.SetWriteDeadline(deadline)
	for {
		switch st := q.role.Load(); st {
		case roleDetached, roleClosing:
			return false
		case roleIdle:
			if q.role.CompareAndSwap(roleIdle, roleClosing) {
				return true
			}
			continue
		case roleWriter:
			// Granted to a writer that has already ended: nobody holds it.
			select {
			case <-c.writerDone:
				if q.role.CompareAndSwap(roleWriter, roleClosing) {
					return true
				}
				continue
			default:
			}
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// writeGoodbye writes a close frame with a short deadline. The caller owns
// the write side.
func (c *conn) writeGoodbye(body []byte) {
	frame := appendWSControl(nil, c.tc.Client, ws.OpClose, body)
	_ = c.tc.SetWriteDeadline(time.Now().Add(wsGoodbyeTimeout))
	_, _ = c.tc.Write(frame)
}

// handshakeZWS is the ZWS 2.0 handshake, once the WebSocket upgrade is
// done. With ZWS2.0/NULL both sides send READY as a command message (no
// greeting) and the peer's socket type is checked; with ZWS2.0 (no
// mechanism) the first message each way is the sender's routing identity.
// WebSocket pings before that are answered; a close ends the handshake. It
// returns like handshake: the peer's metadata and the read buffer with any
// bytes that followed (buf[r:w]).
func (c *conn) handshakeZWS() (md metadata, buf []byte, r, w int, err error) {
	s := c.p.s
	_ = c.tc.SetDeadline(time.Now().Add(DefaultHandshakeIvl))
	defer c.tc.SetDeadline(time.Time{})
	// The handshake owns the connection's writes: a close frame for what
	// went wrong can go out directly.
	defer func() {
		if body, ok := wsCloseBody(err); ok && err != nil {
			c.writeGoodbye(body)
		}
	}()

	var out []byte
	noMech := false
	switch c.tc.Subprotocol {
	case transport.SubprotocolNULL:
		out = c.codec.appendFrame(nil, flagCommand, appendReadyBody(nil, readyProps(s.typ, s.opts.Identity)))
	case transport.SubprotocolNone:
		noMech = true
		out = c.codec.appendFrame(nil, 0, s.opts.Identity)
	default:
		return nil, nil, 0, 0, protocolErrorf("ws: subprotocol %q; want %s or %s", c.tc.Subprotocol, transport.SubprotocolNULL, transport.SubprotocolNone)
	}
	if _, err := c.tc.Write(out); err != nil {
		return nil, nil, 0, 0, err
	}

	buf = s.getReadBuf().b
	for {
		var h frameHeader
		var body []byte
		h, body, r, w, err = c.handshakeFrame(buf, r, w)
		if err != nil {
			return nil, nil, 0, 0, err
		}
		switch {
		case h.ctrl == byte(ws.OpPing):
			if _, err := c.tc.Write(appendWSControl(nil, c.tc.Client, ws.OpPong, body)); err != nil {
				return nil, nil, 0, 0, err
			}
			continue
		case h.ctrl == byte(ws.OpClose):
			return nil, nil, 0, 0, wsPeerClosed(body)
		case h.ctrl != 0:
			continue
		case noMech:
			if h.flags != 0 {
				return nil, nil, 0, 0, protocolErrorf("handshake: ZWS2.0 peer's first message (flags %#02x) is not a one-frame routing identity", h.flags)
			}
			if len(body) > maxShortBody {
				return nil, nil, 0, 0, protocolErrorf("handshake: ZWS2.0 routing identity of %d octets exceeds %d", len(body), maxShortBody)
			}
			md = metadata{{name: "Identity", value: bytes.Clone(body)}}
		case h.flags&flagCommand == 0:
			return nil, nil, 0, 0, protocolErrorf("handshake: got a message frame before READY")
		default:
			if md, err = c.readyFrom(body); err != nil {
				return nil, nil, 0, 0, err
			}
		}
		c.countHandshakeTail(r, w)
		return md, buf, r, w, nil
	}
}
