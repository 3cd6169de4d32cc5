package engine

// newZWSCodec returns the ZWS 2.0 codec: one WebSocket message per ZMTP
// frame. client is true on the dialling side, which masks its frames.
func newZWSCodec(client bool) frameCodec {
	// The WebSocket transport is not built yet; transport.Listen and Dial
	// refuse ws:// endpoints before a codec is ever used.
	return zmtpCodec{}
}
