package transport

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
)

// Framing says how the engine must frame messages on a connection.
type Framing uint8

const (
	// ZMTP is ZMTP 3.x over a byte stream (tcp, ipc).
	ZMTP Framing = iota
	// ZWS is ZWS 2.0: one WebSocket message per ZMTP frame.
	ZWS
)

// Conn is an established connection, as the engine receives it.
type Conn struct {
	net.Conn
	// Framing is how messages are framed on this connection.
	Framing Framing
	// Client is true on the side that dialled (a WebSocket client masks
	// its frames).
	Client bool
	// Subprotocol is the negotiated WebSocket subprotocol (ZWS only).
	Subprotocol string
	// Raw gives direct access to the socket for non-blocking speculative
	// writes; nil when the connection has no file descriptor.
	Raw syscall.RawConn
}

func newConn(c net.Conn, f Framing, client bool) *Conn {
	tc := &Conn{Conn: c, Framing: f, Client: client}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			tc.Raw = raw
		}
	}
	return tc
}

// Listener accepts connections on a bound endpoint.
type Listener interface {
	// Accept waits for the next connection. After Close it returns an
	// error wrapping net.ErrClosed.
	Accept() (*Conn, error)
	// Close stops listening; an ipc listener removes its socket file.
	Close() error
	// Endpoint is the bound endpoint as resolved (tcp port * → the port).
	Endpoint() string
}

// Listen binds an endpoint.
func Listen(ep Endpoint) (Listener, error) { return ListenConfig{}.Listen(ep) }

// ListenConfig is what a listener reports besides the connections it hands
// to Accept.
type ListenConfig struct {
	// Refused, if set, is called for every connection the listener took
	// and could not hand to Accept because the peer failed the transport's
	// own handshake: a WebSocket upgrade (err wraps ErrUpgrade). endpoint
	// is the listener's, peer the remote address. It is called from the
	// listener's goroutines, never after Close returns.
	Refused func(endpoint, peer string, err error)
}

// Listen binds an endpoint, as the package's Listen does.
func (lc ListenConfig) Listen(ep Endpoint) (Listener, error) {
	switch ep.Scheme {
	case TCP:
		network, addr := ep.hostPort()
		l, err := net.Listen(network, addr)
		if err != nil {
			return nil, fmt.Errorf("bind %s: %w", ep, err)
		}
		bound := ep
		bound.Host, bound.Port, _ = net.SplitHostPort(l.Addr().String())
		return &streamListener{l: l, ep: bound.String()}, nil
	case IPC:
		if ep.Path[0] != '@' {
			if err := removeStaleSocket(ep.Path); err != nil {
				return nil, fmt.Errorf("bind %s: %w", ep, err)
			}
		}
		l, err := net.Listen("unix", ep.Path)
		if err != nil {
			return nil, fmt.Errorf("bind %s: %w", ep, err)
		}
		return &streamListener{l: l, ep: ep.String()}, nil
	case WS:
		return listenWS(ep, lc.Refused)
	}
	return nil, &EndpointError{Endpoint: ep.String(), Reason: "unknown scheme"}
}

// removeStaleSocket removes a socket file left behind by a process that did
// not close its listener. Anything that is not a socket is left alone.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if c, err := net.Dial("unix", path); err == nil {
		c.Close()
		return fmt.Errorf("%s is in use by a live listener", path)
	}
	return os.Remove(path)
}

// Dial connects to an endpoint.
func Dial(ctx context.Context, ep Endpoint) (*Conn, error) {
	var d net.Dialer
	switch ep.Scheme {
	case TCP:
		network, addr := ep.hostPort()
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return newConn(c, ZMTP, true), nil
	case IPC:
		c, err := d.DialContext(ctx, "unix", ep.Path)
		if err != nil {
			return nil, err
		}
		return newConn(c, ZMTP, true), nil
	case WS:
		return dialWS(ctx, ep)
	}
	return nil, &EndpointError{Endpoint: ep.String(), Reason: "unknown scheme"}
}

type streamListener struct {
	l  net.Listener
	ep string
}

func (s *streamListener) Accept() (*Conn, error) {
	c, err := s.l.Accept()
	if err != nil {
		return nil, err
	}
	return newConn(c, ZMTP, false), nil
}

func (s *streamListener) Close() error     { return s.l.Close() }
func (s *streamListener) Endpoint() string { return s.ep }
