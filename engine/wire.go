package engine

// frameCodec encodes and decodes frames for one kind of connection: ZMTP
// over a byte stream, or ZWS (one WebSocket message per frame). Frame flags
// are always ZMTP's flagMore and flagCommand; the codec maps them to its
// wire form.
type frameCodec interface {
	// frameSize is the encoded size of a frame with an n-byte body.
	frameSize(n int) int
	// appendFrame appends a whole frame to dst.
	appendFrame(dst []byte, flags byte, body []byte) []byte
	// appendHeader appends only the header of a frame with an n-byte body,
	// for a vectored write of header and body. ok is false when the body
	// must be transformed on the way out (a masked WebSocket frame), so it
	// cannot be written from the caller's memory.
	appendHeader(dst []byte, flags byte, n int) (out []byte, ok bool)
	// decodeHeader parses the frame header at the start of b; ok is false
	// while b holds only part of it.
	decodeHeader(b []byte) (h frameHeader, ok bool, err error)
	// decodeOwn parses the header of a frame this side encoded (the
	// outgoing queue re-reads its own batches). It differs from
	// decodeHeader where the two directions differ (WebSocket masking).
	decodeOwn(b []byte) (h frameHeader, ok bool, err error)
	// finishBody is called on every received body before it is used (the
	// WebSocket codec unmasks in place).
	finishBody(h frameHeader, body []byte)
}

// zmtpCodec is ZMTP 3.x framing (RFC 23/37).
type zmtpCodec struct{}

func (zmtpCodec) frameSize(n int) int { return frameSize(n) }
func (zmtpCodec) appendFrame(dst []byte, flags byte, body []byte) []byte {
	return appendFrame(dst, flags, body)
}
func (zmtpCodec) appendHeader(dst []byte, flags byte, n int) ([]byte, bool) {
	return appendFrameHeader(dst, flags, n), true
}
func (zmtpCodec) decodeHeader(b []byte) (frameHeader, bool, error) { return decodeFrameHeader(b) }
func (zmtpCodec) decodeOwn(b []byte) (frameHeader, bool, error)    { return decodeFrameHeader(b) }
func (zmtpCodec) finishBody(frameHeader, []byte)                   {}
