package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// ZWS 2.0 subprotocols (RFC 45), as negotiated in Sec-WebSocket-Protocol.
const (
	// SubprotocolNULL is ZWS 2.0 with the NULL mechanism: READY commands
	// (and the socket-type check) travel as WebSocket messages.
	SubprotocolNULL = "ZWS2.0/NULL"
	// SubprotocolNone is ZWS 2.0 without a mechanism: the first message
	// each way is the sender's routing identity; no READY is exchanged.
	SubprotocolNone = "ZWS2.0"
)

// DefaultSubprotocols is what Dial offers, most preferred first. A listener
// chooses SubprotocolNULL whenever the client offers it, else SubprotocolNone.
var DefaultSubprotocols = []string{SubprotocolNULL, SubprotocolNone}

// WSHandshakeTimeout bounds one connection's HTTP upgrade, on the listening
// and on the dialling side. A client that has not completed its upgrade
// request by then is dropped; other connections are never held up by it.
const WSHandshakeTimeout = 10 * time.Second

// maxUpgradeRequest is the largest HTTP upgrade request a listener reads; a
// larger one is refused with 400 Bad Request.
const maxUpgradeRequest = 8 << 10

// ErrUpgrade is wrapped by every error of a WebSocket upgrade that the peer
// caused: a refused or malformed upgrade, or no ZWS subprotocol agreed.
var ErrUpgrade = errors.New("websocket upgrade failed")

// wsListener serves the HTTP/1.1 upgrade of a ws:// endpoint. The accept
// loop only accepts; every upgrade runs in a goroutine of its own, bounded
// by WSHandshakeTimeout, so a slow or broken client never holds up another.
// Upgraded connections wait in ready until Accept takes them.
type wsListener struct {
	l     net.Listener
	ep    string
	ready chan *Conn
	done  chan struct{} // closed by Close
	wg    sync.WaitGroup

	refused func(endpoint, peer string, err error) // ListenConfig.Refused, or nil

	mu       sync.Mutex
	closed   bool
	upgrades map[net.Conn]struct{} // connections mid-upgrade, closed by Close
	once     sync.Once
	closeErr error
}

func listenWS(ep Endpoint, refused func(endpoint, peer string, err error)) (Listener, error) {
	network, addr := ep.hostPort()
	l, err := net.Listen(network, addr)
	if err != nil {
		return nil, fmt.Errorf("bind %s: %w", ep, err)
	}
	bound := ep
	bound.Host, bound.Port, _ = net.SplitHostPort(l.Addr().String())
	wl := &wsListener{
		l:        l,
		ep:       bound.String(),
		ready:    make(chan *Conn),
		done:     make(chan struct{}),
		refused:  refused,
		upgrades: make(map[net.Conn]struct{}),
	}
	wl.wg.Add(1)
	go wl.acceptLoop()
	return wl, nil
}

// Accept returns the next upgraded connection. After Close it returns an
// error wrapping net.ErrClosed.
func (l *wsListener) Accept() (*Conn, error) {
	select {
	case <-l.done:
		return nil, fmt.Errorf("accept %s: %w", l.ep, net.ErrClosed)
	default:
	}
	select {
	case c := <-l.ready:
		return c, nil
	case <-l.done:
		return nil, fmt.Errorf("accept %s: %w", l.ep, net.ErrClosed)
	}
}

// Close stops listening, drops every connection still in its upgrade or
// not yet taken by Accept, and waits until every goroutine the listener
// started has ended.
func (l *wsListener) Close() error {
	l.once.Do(func() {
		close(l.done)
		l.closeErr = l.l.Close()
		l.mu.Lock()
		l.closed = true
		for c := range l.upgrades {
			c.Close()
		}
		l.mu.Unlock()
	})
	l.wg.Wait()
	return l.closeErr
}

// Endpoint returns ws://host:port/path with the port as bound.
func (l *wsListener) Endpoint() string { return l.ep }

func (l *wsListener) acceptLoop() {
	defer l.wg.Done()
	var backoff time.Duration
	for {
		c, err := l.l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: wait a little and
			// try again, as net/http's server does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-l.done:
				return
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		if !l.track(c) {
			c.Close()
			return
		}
		l.wg.Add(1)
		go l.serve(c)
	}
}

// track records a connection whose upgrade is starting; false once the
// listener is closed.
func (l *wsListener) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.upgrades[c] = struct{}{}
	return true
}

func (l *wsListener) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.upgrades, c)
	l.mu.Unlock()
}

// serve upgrades one connection and hands it to Accept. A failed upgrade
// closes that connection only (after the error response the upgrader
// wrote, such as 400 Bad Request for an unknown subprotocol), and is
// reported to refused unless the listener is closing.
func (l *wsListener) serve(c net.Conn) {
	defer l.wg.Done()
	tc, err := upgradeWS(c, time.Now().Add(WSHandshakeTimeout))
	l.untrack(c)
	if err != nil {
		c.Close()
		select {
		case <-l.done:
		default:
			if l.refused != nil && errors.Is(err, ErrUpgrade) {
				l.refused(l.ep, c.RemoteAddr().String(), err)
			}
		}
		return
	}
	select {
	case l.ready <- tc:
	case <-l.done:
		c.Close()
	}
}

// upgradeWS runs the server side of the upgrade on c, to be done by
// deadline, and returns the ZWS connection.
func upgradeWS(c net.Conn, deadline time.Time) (*Conn, error) {
	_ = c.SetDeadline(deadline)
	req := &requestReader{r: c}
	var chosen string
	u := ws.Upgrader{
		// Every Sec-WebSocket-Protocol header is looked at until one
		// offers a ZWS subprotocol; which one the server prefers does not
		// depend on the client's order.
		ProtocolCustom: func(v []byte) (string, bool) {
			chosen = selectSubprotocol(v, chosen)
			return chosen, true
		},
		OnBeforeUpgrade: func() (ws.HandshakeHeader, error) {
			if chosen == "" {
				return nil, ws.RejectConnectionError(
					ws.RejectionStatus(http.StatusBadRequest),
					ws.RejectionReason("zws: Sec-WebSocket-Protocol must offer "+SubprotocolNULL+" or "+SubprotocolNone),
				)
			}
			return ws.HandshakeHeaderString(""), nil
		},
	}
	hs, err := u.Upgrade(struct {
		io.Reader
		io.Writer
	}{req, c})
	if errors.Is(err, errRequestTooLarge) {
		_, _ = io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUpgrade, err)
	}
	_ = c.SetDeadline(time.Time{})
	return newWSConn(c, req.rest(), false, hs.Protocol), nil
}

// selectSubprotocol returns the subprotocol to choose given one
// Sec-WebSocket-Protocol header value (a comma-separated list) and what an
// earlier header chose: ZWS2.0/NULL if offered anywhere, else ZWS2.0, else
// "". ("/" is not an RFC 7230 token character, so the list is split by
// hand rather than as tokens.)
func selectSubprotocol(v []byte, chosen string) string {
	if chosen == SubprotocolNULL {
		return chosen
	}
	for _, p := range bytes.Split(v, []byte{','}) {
		p = bytes.Trim(p, " \t")
		switch string(p) {
		case SubprotocolNULL:
			return SubprotocolNULL
		case SubprotocolNone:
			chosen = SubprotocolNone
		}
	}
	return chosen
}

// errRequestTooLarge: the upgrade request did not end within
// maxUpgradeRequest bytes.
var errRequestTooLarge = fmt.Errorf("upgrade request longer than %d bytes", maxUpgradeRequest)

// requestReader hands the upgrader the HTTP request and nothing after it:
// it reads from the connection into its own buffer and serves bytes only up
// to the blank line that ends the request head, so WebSocket frames a
// client sent right behind its request are kept for the engine (rest)
// instead of vanishing into the upgrader's buffer.
type requestReader struct {
	r    io.Reader
	buf  []byte // everything read from r
	off  int    // bytes of buf served
	head int    // length of the request head once found, else 0
}

var endOfHead = []byte("\r\n\r\n")

func (q *requestReader) Read(p []byte) (int, error) {
	for {
		limit := len(q.buf)
		if q.head > 0 {
			limit = q.head
		}
		if q.off < limit {
			n := copy(p, q.buf[q.off:limit])
			q.off += n
			return n, nil
		}
		if q.head > 0 {
			return 0, io.EOF
		}
		if len(q.buf) >= maxUpgradeRequest {
			return 0, errRequestTooLarge
		}
		if q.buf == nil {
			q.buf = make([]byte, 0, 1024)
		}
		if len(q.buf) == cap(q.buf) {
			q.buf = append(q.buf, make([]byte, cap(q.buf))...)[:len(q.buf)]
		}
		n, err := q.r.Read(q.buf[len(q.buf):min(cap(q.buf), maxUpgradeRequest)])
		// Look for the end of the head from a little before the new
		// bytes, in case the CRLFCRLF straddles two reads.
		from := max(len(q.buf)-len(endOfHead)+1, 0)
		q.buf = q.buf[:len(q.buf)+n]
		if i := bytes.Index(q.buf[from:], endOfHead); i >= 0 {
			q.head = from + i + len(endOfHead)
		}
		if n == 0 && err != nil {
			return 0, err
		}
	}
}

// rest returns the bytes read past the request head.
func (q *requestReader) rest() []byte {
	if q.head == 0 || q.head == len(q.buf) {
		return nil
	}
	return bytes.Clone(q.buf[q.head:])
}

// Dial side.

func dialWS(ctx context.Context, ep Endpoint) (*Conn, error) {
	return DialWS(ctx, ep, DefaultSubprotocols)
}

// DialWS connects to a ws:// endpoint and upgrades the connection, offering
// the given ZWS subprotocols in order of preference (Dial offers
// DefaultSubprotocols). The request path and Host are the endpoint's. The
// upgrade is bounded by WSHandshakeTimeout and by ctx.
func DialWS(ctx context.Context, ep Endpoint, subprotocols []string) (*Conn, error) {
	if ep.Scheme != WS {
		return nil, &EndpointError{Endpoint: ep.String(), Reason: "not a ws:// endpoint"}
	}
	u, err := url.Parse(ep.String())
	if err != nil {
		return nil, &EndpointError{Endpoint: ep.String(), Reason: err.Error()}
	}
	network, addr := ep.hostPort()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(WSHandshakeTimeout))
	// Cancelling ctx interrupts the upgrade.
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	br, hs, err := ws.Dialer{Protocols: subprotocols}.Upgrade(c, u)
	if !stop() && err == nil {
		err = ctx.Err()
	}
	var rest []byte
	if br != nil {
		// The server's first frames arrived with its response.
		rest = make([]byte, br.Buffered())
		_, _ = io.ReadFull(br, rest)
		ws.PutReader(br)
	}
	if err == nil && hs.Protocol == "" {
		err = errors.New("the server chose no subprotocol")
	}
	if err != nil {
		c.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ws upgrade %s: %w", ep, ctx.Err())
		}
		var ne net.Error
		if errors.As(err, &ne) {
			return nil, fmt.Errorf("ws upgrade %s: %w", ep, err)
		}
		return nil, fmt.Errorf("ws upgrade %s: %w: %w", ep, ErrUpgrade, err)
	}
	_ = c.SetDeadline(time.Time{})
	return newWSConn(c, rest, true, hs.Protocol), nil
}

// newWSConn makes the engine's view of an upgraded connection. Bytes read
// past the upgrade (rest) are returned first by Read; Raw stays the real
// socket's, for the engine's non-blocking writes.
func newWSConn(c net.Conn, rest []byte, client bool, subprotocol string) *Conn {
	tc := &Conn{Conn: c, Framing: ZWS, Client: client, Subprotocol: subprotocol}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			tc.Raw = raw
		}
	}
	if len(rest) > 0 {
		if tcp, ok := c.(*net.TCPConn); ok {
			tc.Conn = &prefixTCPConn{TCPConn: tcp, prefix: rest}
		} else {
			tc.Conn = &prefixConn{Conn: c, prefix: rest}
		}
	}
	return tc
}

// prefixTCPConn is a TCP connection whose Read returns prefix first. The
// socket's own methods (SetWriteBuffer, SyscallConn…) stay available. Only
// the engine's reader calls Read.
type prefixTCPConn struct {
	*net.TCPConn
	prefix []byte
}

func (c *prefixTCPConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		return readPrefix(&c.prefix, b), nil
	}
	return c.TCPConn.Read(b)
}

// WriteTo copies the prefix and then the connection to w; without it,
// io.Copy would use the socket's WriteTo and skip the prefix.
func (c *prefixTCPConn) WriteTo(w io.Writer) (int64, error) {
	n, err := writePrefix(&c.prefix, w)
	if err != nil {
		return n, err
	}
	m, err := c.TCPConn.WriteTo(w)
	return n + m, err
}

// prefixConn is prefixTCPConn for connections of other kinds.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		return readPrefix(&c.prefix, b), nil
	}
	return c.Conn.Read(b)
}

func readPrefix(prefix *[]byte, b []byte) int {
	n := copy(b, *prefix)
	*prefix = (*prefix)[n:]
	if len(*prefix) == 0 {
		*prefix = nil
	}
	return n
}

func writePrefix(prefix *[]byte, w io.Writer) (int64, error) {
	if len(*prefix) == 0 {
		return 0, nil
	}
	n, err := w.Write(*prefix)
	*prefix = (*prefix)[n:]
	return int64(n), err
}
