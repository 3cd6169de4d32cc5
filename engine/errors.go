package engine

import (
	"errors"

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
