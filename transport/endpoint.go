// Package transport turns ZeroMQ endpoints (tcp://, ipc://, ws://) into
// listeners and dialled connections. It hands the engine a byte stream plus
// what framing the stream needs; the engine owns the ZMTP/ZWS protocol.
package transport

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
)

// ErrBadEndpoint is wrapped by every endpoint parsing error.
var ErrBadEndpoint = errors.New("bad endpoint")

// Schemes this package knows.
const (
	TCP = "tcp"
	IPC = "ipc"
	WS  = "ws"
)

// maxUnixPath is the longest path a Unix socket address can hold (sun_path
// is 108 bytes including the terminating zero).
const maxUnixPath = 107

// Endpoint is a parsed endpoint.
type Endpoint struct {
	Scheme string // tcp, ipc, ws
	Host   string // tcp, ws: host name or address; "*" = every interface (bind only)
	Port   string // tcp, ws: decimal port; "*" or "0" = ephemeral (bind only)
	Path   string // ipc: file path, or "@name" for the abstract namespace; ws: request path
}

// EndpointError says what is wrong with an endpoint string.
type EndpointError struct {
	Endpoint string
	Reason   string
}

func (e *EndpointError) Error() string {
	return fmt.Sprintf("bad endpoint %q: %s", e.Endpoint, e.Reason)
}

// Unwrap lets errors.Is(err, ErrBadEndpoint) match.
func (e *EndpointError) Unwrap() error { return ErrBadEndpoint }

// Parse parses an endpoint for binding (bind true: "*" host and port allowed)
// or connecting.
func Parse(s string, bind bool) (Endpoint, error) {
	bad := func(format string, args ...any) (Endpoint, error) {
		return Endpoint{}, &EndpointError{Endpoint: s, Reason: fmt.Sprintf(format, args...)}
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return bad("missing scheme; want tcp://host:port, ipc:///path, ipc://@name or ws://host:port/path")
	}
	switch scheme {
	case TCP, WS:
		hostport, path := rest, ""
		if scheme == WS {
			if i := strings.IndexByte(rest, '/'); i >= 0 {
				hostport, path = rest[:i], rest[i:]
			}
			if path == "" {
				path = "/"
			}
		} else if strings.ContainsAny(rest, "/;") {
			return bad("unexpected %q after host:port (source addresses and resources are not supported)", rest)
		}
		host, port, err := net.SplitHostPort(hostport)
		if err != nil {
			return bad("want %s://host:port: %v", scheme, addrErr(err))
		}
		if host == "" {
			return bad("missing host; use * to bind every interface")
		}
		if host == "*" && !bind {
			return bad("cannot connect to host *; name a host")
		}
		if port == "*" || port == "0" {
			if !bind {
				return bad("cannot connect to port %s; name a port 1..65535", port)
			}
			port = "0"
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return bad("port %q is not a number in 1..65535 (or * to bind an ephemeral port)", port)
		}
		return Endpoint{Scheme: scheme, Host: host, Port: port, Path: path}, nil
	case IPC:
		if rest == "" || rest == "@" {
			return bad("missing path; want ipc:///path or ipc://@name")
		}
		if len(rest) > maxUnixPath {
			return bad("path is %d bytes; a Unix socket path holds at most %d", len(rest), maxUnixPath)
		}
		if strings.IndexByte(rest, 0) >= 0 {
			return bad("path contains a NUL byte")
		}
		return Endpoint{Scheme: IPC, Path: rest}, nil
	default:
		return bad("unknown scheme %q; allowed: tcp, ipc, ws", scheme)
	}
}

func addrErr(err error) string {
	var ae *net.AddrError
	if errors.As(err, &ae) {
		return ae.Err
	}
	return err.Error()
}

// String formats the endpoint as ZeroMQ writes it.
func (e Endpoint) String() string {
	switch e.Scheme {
	case IPC:
		return "ipc://" + e.Path
	case WS:
		return "ws://" + net.JoinHostPort(e.Host, e.Port) + e.Path
	default:
		return e.Scheme + "://" + net.JoinHostPort(e.Host, e.Port)
	}
}

// hostPort is the host:port to listen on or dial; "*" becomes every IPv4
// interface, as libzmq does without IPv6 enabled.
func (e Endpoint) hostPort() (network, addr string) {
	if e.Host == "*" {
		return "tcp4", net.JoinHostPort("0.0.0.0", e.Port)
	}
	return "tcp", net.JoinHostPort(e.Host, e.Port)
}
