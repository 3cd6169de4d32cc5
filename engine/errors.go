package engine

import (
	"errors"
	"fmt"

	"zbench/transport"
)

// Sentinel errors; test for them with errors.Is.
var (
	// ErrClosed is returned by any call on a socket after Close.
	ErrClosed = errors.New("engine: socket closed")
	// ErrTimeout is returned when SendTimeout or RecvTimeout expires.
	ErrTimeout = errors.New("engine: timed out")
	// ErrBadOption is wrapped by every *OptionError.
	ErrBadOption = errors.New("engine: bad option")
	// ErrBadEndpoint is wrapped by every endpoint error (a
	// *transport.EndpointError that names the endpoint and what is wrong).
	ErrBadEndpoint = transport.ErrBadEndpoint
	// ErrNotSupported is returned for an operation the socket type does not
	// have (Recv on PUB, Send on SUB and PULL, Subscribe on non-SUB sockets).
	ErrNotSupported = errors.New("engine: operation not supported by this socket type")
	// ErrState is returned when REQ or REP calls break strict send/recv
	// alternation.
	ErrState = errors.New("engine: operation not allowed in the socket's current state")
	// ErrProtocol is wrapped by every error that made the engine close a
	// connection because the peer broke the protocol.
	ErrProtocol = errors.New("engine: protocol error")
	// ErrMsgTooLarge is wrapped when a peer announces a frame larger than
	// MaxMsgSize.
	ErrMsgTooLarge = errors.New("engine: frame larger than MaxMsgSize")
)

// HandshakeError is a connection that failed before it could carry a
// message: the peer broke or refused the handshake (a ZMTP version or
// mechanism this engine does not speak, a socket type that cannot talk to
// this one, a WebSocket upgrade without a ZWS subprotocol, a protocol
// error), or went away during it. The socket logs it at debug level
// (Options.Logger, attribute "err") and carries on: a connecting socket
// redials, a listening one accepts the next connection.
type HandshakeError struct {
	Endpoint string // the socket's endpoint: the one bound (as resolved) or connected to
	Peer     string // the peer's address as the transport gives it; "" when it has none
	// Err is why: it wraps ErrProtocol for a protocol error, and
	// transport.ErrUpgrade for a failed WebSocket upgrade.
	Err error
}

func (e *HandshakeError) Error() string {
	peer := e.Peer
	if peer == "" {
		peer = "a peer"
	}
	return fmt.Sprintf("engine: handshake with %s on %s failed: %v", peer, e.Endpoint, e.Err)
}

// Unwrap returns the reason.
func (e *HandshakeError) Unwrap() error { return e.Err }
