package engine

// Wire-level interop tests against a raw peer (a plain net.Conn speaking
// ZMTP by hand): the ZMTP 3.0 subscription path, and PING/PONG. They need no
// libzmq. The helpers at the top (transport matrix, payloads, raw framing)
// are shared with interop_libzmq_test.go.
//
// The raw peer's framing is written here from RFC 23/37 on purpose, not taken
// from the engine's codec, so that a codec mistake cannot hide itself.

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// interopTimeout bounds every blocking step of an interop test (a receive,
// a send at the high-water mark, a handshake), so a broken case fails in
// seconds instead of hanging.
const interopTimeout = 5 * time.Second

// interopTransports are the transports every interop case runs over.
var interopTransports = []string{"tcp", "ipc", "ws"}

// interopCase is one interop scenario, run once per transport and per
// WriteBatching setting.
type interopCase struct {
	name string
	run  func(t *testing.T, env *interopEnv)
}

// interopEnv is what a case needs to know about the cell it runs in.
type interopEnv struct {
	transport string
	batching  bool
	dir       string // for ipc socket files
	n         int    // ipc endpoints handed out so far
}

// interopMatrix runs every case over every transport, with the engine's
// WriteBatching on and off, as subtests named <transport>/<case>/batching=<on|off>
// (so that -run 'Interop/tcp/.*/batching=off' selects a slice of the matrix).
func interopMatrix(t *testing.T, cases []interopCase) {
	for _, tr := range interopTransports {
		t.Run(tr, func(t *testing.T) {
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					for _, batching := range []bool{true, false} {
						name := "batching=on"
						if !batching {
							name = "batching=off"
						}
						t.Run(name, func(t *testing.T) {
							c.run(t, newInteropEnv(t, tr, batching))
						})
					}
				})
			}
		})
	}
}

func newInteropEnv(t *testing.T, transport string, batching bool) *interopEnv {
	t.Helper()
	env := &interopEnv{transport: transport, batching: batching}
	if transport == "ipc" {
		// t.TempDir names can pass the 107-byte limit of a socket path.
		dir, err := os.MkdirTemp("", "zbi")
		if err != nil {
			t.Fatalf("ipc directory: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		env.dir = dir
	}
	return env
}

// opts returns the engine options of the cell: short timeouts so a broken
// case fails fast, a short linger so Close never waits long.
func (env *interopEnv) opts() Options {
	o := DefaultOptions()
	o.WriteBatching = env.batching
	o.SendTimeout = interopTimeout
	o.RecvTimeout = interopTimeout
	o.Linger = time.Second
	return o
}

// bindEndpoint returns a fresh endpoint to bind (engine or libzmq).
func (env *interopEnv) bindEndpoint() string {
	switch env.transport {
	case "ipc":
		env.n++
		return "ipc://" + filepath.Join(env.dir, fmt.Sprint(env.n))
	case "ws":
		return "ws://127.0.0.1:*/zbench"
	}
	return "tcp://127.0.0.1:*"
}

// skipRaw skips a case that plays a raw ZMTP peer on a byte stream, which
// does not apply to ws (zws_test.go has raw ZWS peers of its own).
func (env *interopEnv) skipRaw(t *testing.T) {
	t.Helper()
	if env.transport == "ws" {
		t.Skip("a raw ZMTP peer speaks tcp and ipc only")
	}
}

// engineSocket makes an engine socket with the cell's options (changed by
// mod when not nil) and closes it when the test ends.
func (env *interopEnv) engineSocket(t *testing.T, typ Type, mod func(*Options)) *Socket {
	t.Helper()
	o := env.opts()
	if mod != nil {
		mod(&o)
	}
	s, err := NewSocket(typ, o)
	if err != nil {
		t.Fatalf("engine NewSocket(%s): %v", typ, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// engineBind binds s to a fresh endpoint and returns the endpoint as
// resolved, for the peer to connect to.
func (env *interopEnv) engineBind(t *testing.T, s *Socket) string {
	t.Helper()
	if err := s.Bind(env.bindEndpoint()); err != nil {
		t.Fatalf("engine %s Bind: %v", s.Type(), err)
	}
	eps := s.Endpoints()
	return eps[len(eps)-1]
}

// rawListen listens for a raw peer on a fresh endpoint of the cell's
// transport and returns the listener and the endpoint to give the engine.
func (env *interopEnv) rawListen(t *testing.T) (net.Listener, string) {
	t.Helper()
	env.skipRaw(t)
	var l net.Listener
	var err error
	var ep string
	if env.transport == "ipc" {
		env.n++
		path := filepath.Join(env.dir, fmt.Sprint(env.n))
		l, err = net.Listen("unix", path)
		ep = "ipc://" + path
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
		if err == nil {
			ep = "tcp://" + l.Addr().String()
		}
	}
	if err != nil {
		t.Fatalf("raw listen: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l, ep
}

// rawAccept waits (bounded) for the engine to connect to l.
func rawAccept(t *testing.T, l net.Listener) *interopRaw {
	t.Helper()
	if dl, ok := l.(interface{ SetDeadline(time.Time) error }); ok {
		dl.SetDeadline(time.Now().Add(interopTimeout))
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatalf("raw peer: the engine did not connect within %v: %v", interopTimeout, err)
	}
	return newInteropRaw(t, c)
}

// rawDial connects a raw peer to an endpoint the engine bound.
func rawDial(t *testing.T, endpoint string) *interopRaw {
	t.Helper()
	network, addr := "tcp", strings.TrimPrefix(endpoint, "tcp://")
	if path, ok := strings.CutPrefix(endpoint, "ipc://"); ok {
		network, addr = "unix", path
	}
	c, err := net.DialTimeout(network, addr, interopTimeout)
	if err != nil {
		t.Fatalf("raw peer: dial %s: %v", endpoint, err)
	}
	return newInteropRaw(t, c)
}

// Payloads. Every message is checkable on its own: its first (up to) four
// bytes are its sequence number, the rest a slice of interopBase starting at
// an offset that depends on the sequence number, so lost, duplicated,
// reordered, truncated and corrupted messages are all told apart.

// interopSizes are the message sizes of the PUSH/PULL matrix: empty, one
// byte, both sides of the one-octet/eight-octet size boundary of a ZMTP
// frame header, both sides of the default batch size, and larger than the
// default read buffer.
var interopSizes = []int{0, 1, 255, 256, 8191, 8192, 70000}

const interopMaxSize = 70000

var interopBase = func() []byte {
	b := make([]byte, interopMaxSize+251)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}()

// interopFill writes the payload of message seq into dst (its whole length).
func interopFill(dst []byte, seq int) {
	var h [4]byte
	binary.LittleEndian.PutUint32(h[:], uint32(seq))
	k := copy(dst, h[:])
	copy(dst[k:], interopBase[seq%251:])
}

// interopCheck reports how got differs from the n-byte payload of message
// seq, or nil.
func interopCheck(got []byte, seq, n int) error {
	if len(got) != n {
		return fmt.Errorf("%d bytes, want %d", len(got), n)
	}
	var h [4]byte
	binary.LittleEndian.PutUint32(h[:], uint32(seq))
	k := min(n, 4)
	if !bytes.Equal(got[:k], h[:k]) {
		return fmt.Errorf("sequence bytes %x, want %x (message lost, duplicated or out of order)", got[:k], h[:k])
	}
	want := interopBase[seq%251:][:n-k]
	if !bytes.Equal(got[k:], want) {
		i := 0
		for got[k+i] == want[i] {
			i++
		}
		return fmt.Errorf("byte %d is %#02x, want %#02x (payload corrupted)", k+i, got[k+i], want[i])
	}
	return nil
}

// interopMsg builds the message interopCheckMsg expects, reusing bufs.
func interopMsg(bufs [][]byte, seq int, sizes ...int) [][]byte {
	bufs = bufs[:0]
	for j, n := range sizes {
		var b []byte
		if j < cap(bufs) {
			b = bufs[:j+1][j]
		}
		if cap(b) < n {
			b = make([]byte, n)
		}
		b = b[:n]
		interopFill(b, seq+j)
		bufs = append(bufs, b)
	}
	return bufs
}

// interopRun runs fns concurrently and reports every error. After the
// first failure abort is called, so the others stop blocking.
func interopRun(t *testing.T, abort func(), fns ...func() error) {
	t.Helper()
	errs := make(chan error, len(fns))
	for _, f := range fns {
		go func() { errs <- f() }()
	}
	var first error
	for range fns {
		err := <-errs
		switch {
		case err == nil:
		case first == nil:
			first = err
			t.Error(err)
			abort()
		default:
			t.Errorf("(then, after the first failure aborted the case: %v)", err)
		}
	}
	if first != nil {
		t.FailNow()
	}
}

// A raw ZMTP peer.

type interopRaw struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func newInteropRaw(t *testing.T, c net.Conn) *interopRaw {
	c.SetDeadline(time.Now().Add(interopTimeout))
	t.Cleanup(func() { c.Close() })
	return &interopRaw{t: t, c: c, r: bufio.NewReader(c)}
}

// rawGreeting is a 64-octet ZMTP 3.minor greeting with the NULL mechanism.
func rawGreeting(minor byte) []byte {
	g := make([]byte, 64)
	g[0], g[9] = 0xFF, 0x7F
	g[10], g[11] = 3, minor
	copy(g[12:32], "NULL")
	return g
}

// rawFrame encodes one frame; flags holds MORE (0x01) and COMMAND (0x04).
func rawFrame(flags byte, body []byte) []byte {
	var b []byte
	if len(body) > 255 {
		b = append(b, flags|0x02)
		b = binary.BigEndian.AppendUint64(b, uint64(len(body)))
	} else {
		b = append(b, flags, byte(len(body)))
	}
	return append(b, body...)
}

// rawCommand encodes a command frame: name size, name, data.
func rawCommand(name string, data []byte) []byte {
	body := append([]byte{byte(len(name))}, name...)
	return rawFrame(0x04, append(body, data...))
}

// rawReady encodes a READY command announcing socketType.
func rawReady(socketType string) []byte {
	var props []byte
	props = append(props, byte(len("Socket-Type")))
	props = append(props, "Socket-Type"...)
	props = binary.BigEndian.AppendUint32(props, uint32(len(socketType)))
	props = append(props, socketType...)
	return rawCommand("READY", props)
}

func (p *interopRaw) write(b []byte) error {
	_, err := p.c.Write(b)
	return err
}

// readFrame reads one frame; flags come back without the LONG bit.
func (p *interopRaw) readFrame() (flags byte, body []byte, err error) {
	var h [9]byte
	if _, err := io.ReadFull(p.r, h[:2]); err != nil {
		return 0, nil, fmt.Errorf("reading a frame header: %w", err)
	}
	flags = h[0]
	n := uint64(h[1])
	if flags&0x02 != 0 {
		if _, err := io.ReadFull(p.r, h[2:9]); err != nil {
			return 0, nil, fmt.Errorf("reading a long frame header: %w", err)
		}
		n = binary.BigEndian.Uint64(h[1:9])
	}
	if flags&^0x07 != 0 {
		return 0, nil, fmt.Errorf("frame flags %#02x have reserved bits set", flags)
	}
	if n > 1<<24 {
		return 0, nil, fmt.Errorf("frame claims %d octets", n)
	}
	body = make([]byte, n)
	if _, err := io.ReadFull(p.r, body); err != nil {
		return 0, nil, fmt.Errorf("reading a %d-octet frame body: %w", n, err)
	}
	return flags &^ 0x02, body, nil
}

// readCommand reads the next frame and requires a command.
func (p *interopRaw) readCommand() (name string, data []byte, err error) {
	flags, body, err := p.readFrame()
	if err != nil {
		return "", nil, err
	}
	if flags&0x04 == 0 {
		return "", nil, fmt.Errorf("got a message frame (flags %#02x, %q), want a command", flags, interopShort(body))
	}
	if len(body) == 0 || int(body[0])+1 > len(body) {
		return "", nil, fmt.Errorf("malformed command body %x", body)
	}
	return string(body[1 : 1+body[0]]), body[1+body[0]:], nil
}

// handshake sends a ZMTP 3.minor greeting and READY(socketType), then reads
// the engine's greeting and READY and checks that the engine announced
// wantType.
func (p *interopRaw) handshake(minor byte, socketType, wantType string) error {
	if err := p.write(append(rawGreeting(minor), rawReady(socketType)...)); err != nil {
		return fmt.Errorf("raw peer: sending greeting: %w", err)
	}
	g := make([]byte, 64)
	if _, err := io.ReadFull(p.r, g); err != nil {
		return fmt.Errorf("raw peer: reading the engine's greeting: %w", err)
	}
	if g[0] != 0xFF || g[9]&1 == 0 || g[10] != 3 || string(bytes.TrimRight(g[12:32], "\x00")) != "NULL" {
		return fmt.Errorf("raw peer: engine greeting % x is not ZMTP 3.x NULL", g[:33])
	}
	name, data, err := p.readCommand()
	if err != nil {
		return fmt.Errorf("raw peer: engine's READY: %w", err)
	}
	if name != "READY" {
		return fmt.Errorf("raw peer: engine sent %q after its greeting, want READY", name)
	}
	props := map[string]string{}
	for len(data) > 0 {
		n := int(data[0])
		if 1+n+4 > len(data) {
			return fmt.Errorf("raw peer: malformed READY properties %x", data)
		}
		key := strings.ToLower(string(data[1 : 1+n]))
		vlen := int(binary.BigEndian.Uint32(data[1+n:]))
		data = data[1+n+4:]
		if vlen > len(data) {
			return fmt.Errorf("raw peer: READY property %q overruns the command", key)
		}
		props[key] = string(data[:vlen])
		data = data[vlen:]
	}
	if got := props["socket-type"]; got != wantType {
		return fmt.Errorf("raw peer: engine announced Socket-Type %q, want %q", got, wantType)
	}
	return nil
}

// readMessage reads one whole message (frames up to one without MORE). A
// command in between is an error: commands must not split a message.
func (p *interopRaw) readMessage() ([][]byte, error) {
	var msg [][]byte
	for {
		flags, body, err := p.readFrame()
		if err != nil {
			return nil, err
		}
		if flags&0x04 != 0 {
			return nil, fmt.Errorf("got command %q where a message frame was due", interopShort(body))
		}
		msg = append(msg, body)
		if flags&0x01 == 0 {
			return msg, nil
		}
	}
}

func interopShort(b []byte) string {
	if len(b) > 40 {
		return fmt.Sprintf("%q…(%d octets)", b[:40], len(b))
	}
	return fmt.Sprintf("%q", b)
}

// awaitProbe publishes probe every few milliseconds from a goroutine until
// recv returns it (the subscription has reached the publisher), bounded by
// recv's own timeout. Anything other than the probe is an error: nothing
// else is published meanwhile.
func awaitProbe(publish func() error, recv func() ([][]byte, error), probe string) error {
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			if err := publish(); err != nil {
				done <- fmt.Errorf("publishing probe %q: %w", probe, err)
				return
			}
			select {
			case <-stop:
				done <- nil
				return
			case <-tick.C:
			}
		}
	}()
	m, err := recv()
	close(stop)
	perr := <-done
	switch {
	case err != nil:
		return fmt.Errorf("subscription did not take effect: no probe %q arrived: %w", probe, err)
	case perr != nil:
		return perr
	case len(m) != 1 || string(m[0]) != probe:
		return fmt.Errorf("waiting for probe %q, got %q", probe, m)
	}
	return nil
}

// TestInteropZMTP30 checks the ZMTP 3.0 subscription path against a raw 3.0
// peer: subscriptions travel as messages whose first octet is 1 (subscribe)
// or 0 (cancel), where 3.1 uses SUBSCRIBE/CANCEL commands.
func TestInteropZMTP30(t *testing.T) {
	interopMatrix(t, []interopCase{
		{"raw-sub-3.0-to-engine-pub", zmtp30RawSubToEnginePub},
		{"engine-sub-to-raw-pub-3.0", func(t *testing.T, env *interopEnv) { zmtpEngineSubToRawPub(t, env, 0) }},
		{"engine-sub-to-raw-pub-3.1", func(t *testing.T, env *interopEnv) { zmtpEngineSubToRawPub(t, env, 1) }},
	})
}

// zmtp30RawSubToEnginePub: a raw 3.0 SUB subscribes to "A" with a message;
// the engine PUB must send it the matching messages only, and none after
// the raw peer cancels with a message.
func zmtp30RawSubToEnginePub(t *testing.T, env *interopEnv) {
	env.skipRaw(t)
	pub := env.engineSocket(t, PUB, func(o *Options) { o.SndHWM = 0 })
	raw := rawDial(t, env.engineBind(t, pub))
	if err := raw.handshake(0, "SUB", "PUB"); err != nil {
		t.Fatal(err)
	}
	if err := raw.write(rawFrame(0, []byte("\x01A"))); err != nil {
		t.Fatal(err)
	}
	publish := func(topic string) func() error {
		return func() error { return pub.Send([]byte(topic)) }
	}
	if err := awaitProbe(publish("A-probe"), raw.readMessage, "A-probe"); err != nil {
		t.Fatalf("3.0 subscription message 0x01 'A': %v", err)
	}
	const n = 200
	for i := 0; i < n; i++ {
		pub.Send(fmt.Appendf(nil, "A:%d", i))
		pub.Send(fmt.Appendf(nil, "B:%d", i))
	}
	pub.Send([]byte("A:end"))
	zmtp30ExpectTopic(t, raw, "A", "B", n, "A-probe")

	// Cancel "A" and subscribe "Z", both as 3.0 messages, in one write.
	if err := raw.write(append(rawFrame(0, []byte("\x00A")), rawFrame(0, []byte("\x01Z"))...)); err != nil {
		t.Fatal(err)
	}
	if err := awaitProbe(publish("Z-probe"), raw.readMessage, "Z-probe"); err != nil {
		t.Fatalf("3.0 subscription message 0x01 'Z' after cancel 0x00 'A': %v", err)
	}
	for i := 0; i < n; i++ {
		pub.Send(fmt.Appendf(nil, "A:%d", i))
		pub.Send(fmt.Appendf(nil, "Z:%d", i))
	}
	pub.Send([]byte("Z:end"))
	zmtp30ExpectTopic(t, raw, "Z", "A", n, "Z-probe")
}

// zmtp30ExpectTopic reads topic:0 … topic:n-1 then topic:end, skipping
// leftover probes; a message of topic other is an error (the engine sent
// what the peer did not subscribe to).
func zmtp30ExpectTopic(t *testing.T, raw *interopRaw, topic, other string, n int, probe string) {
	t.Helper()
	raw.c.SetDeadline(time.Now().Add(interopTimeout))
	next := 0
	for {
		m, err := raw.readMessage()
		if err != nil {
			t.Fatalf("raw peer, after %d %q messages: %v", next, topic, err)
		}
		s := string(m[0])
		switch {
		case len(m) != 1:
			t.Fatalf("raw peer: got %d frames %q, want 1", len(m), m)
		case s == probe:
			continue
		case strings.HasPrefix(s, other+":"):
			t.Fatalf("engine PUB sent %q to a peer not subscribed to %q (subscribed: %q)", s, other, topic)
		case s == topic+":end":
			if next != n {
				t.Fatalf("got %s after %d of %d %q messages", s, next, n, topic)
			}
			return
		case s != fmt.Sprintf("%s:%d", topic, next):
			t.Fatalf("got %q, want %s:%d", s, topic, next)
		}
		next++
	}
}

// zmtpEngineSubToRawPub: an engine SUB connects to a raw PUB speaking ZMTP
// 3.minor. It must send its subscriptions as 0x01/0x00 messages to a 3.0
// peer and as SUBSCRIBE/CANCEL commands to a 3.1 peer, and receive the
// matching messages the raw peer sends.
func zmtpEngineSubToRawPub(t *testing.T, env *interopEnv, minor byte) {
	l, ep := env.rawListen(t)
	sub := env.engineSocket(t, SUB, func(o *Options) { o.Subscribe = [][]byte{[]byte("A")} })
	if err := sub.Connect(ep); err != nil {
		t.Fatal(err)
	}
	raw := rawAccept(t, l)
	if err := raw.handshake(minor, "PUB", "SUB"); err != nil {
		t.Fatal(err)
	}
	expectSub := func(what string, subscribe bool, prefix string) {
		t.Helper()
		flags, body, err := raw.readFrame()
		if err != nil {
			t.Fatalf("%s: raw 3.%d PUB: %v", what, minor, err)
		}
		if minor == 0 {
			want := "\x00" + prefix
			if subscribe {
				want = "\x01" + prefix
			}
			if flags != 0 || string(body) != want {
				t.Fatalf("%s: a ZMTP 3.0 peer must get the message %q (flags 0x00); got flags %#02x body %q", what, want, flags, body)
			}
			return
		}
		name := "CANCEL"
		if subscribe {
			name = "SUBSCRIBE"
		}
		want := string(rune(len(name))) + name + prefix
		if flags != 0x04 || string(body) != want {
			t.Fatalf("%s: a ZMTP 3.1 peer must get the command %q (flags 0x04); got flags %#02x body %q", what, want, flags, body)
		}
	}
	expectSub("subscription from Options.Subscribe", true, "A")

	var out []byte
	for _, m := range []string{"A:1", "B:1", "A:2"} {
		out = append(out, rawFrame(0, []byte(m))...)
	}
	if err := raw.write(out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"A:1", "A:2"} {
		m, err := sub.RecvMsg()
		if err != nil || len(m) != 1 || string(m[0]) != want {
			t.Fatalf("engine SUB from a 3.%d PUB: got %q, %v; want %q", minor, m, err, want)
		}
	}

	if err := sub.Subscribe([]byte("B")); err != nil {
		t.Fatal(err)
	}
	expectSub("Subscribe(B)", true, "B")
	if err := sub.Unsubscribe([]byte("A")); err != nil {
		t.Fatal(err)
	}
	expectSub("Unsubscribe(A)", false, "A")

	out = out[:0]
	for _, m := range []string{"A:3", "B:2", "A:4", "B:3"} {
		out = append(out, rawFrame(0, []byte(m))...)
	}
	if err := raw.write(out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"B:2", "B:3"} {
		m, err := sub.RecvMsg()
		if err != nil || len(m) != 1 || string(m[0]) != want {
			t.Fatalf("engine SUB after Unsubscribe(A): got %q, %v; want %q", m, err, want)
		}
	}
}

// TestInteropPing checks PING/PONG (ZMTP 3.1 heartbeats) against a raw peer.
func TestInteropPing(t *testing.T) {
	interopMatrix(t, []interopCase{
		{"raw-peer-pings-engine", rawPingPong},
		{"pong-between-multipart-messages", rawPingDuringMultipart},
	})
}

// rawPingPong: PINGs with different TTLs and contexts each get a PONG
// carrying the same context, and the connection keeps working.
func rawPingPong(t *testing.T, env *interopEnv) {
	env.skipRaw(t)
	dealer := env.engineSocket(t, DEALER, nil)
	raw := rawDial(t, env.engineBind(t, dealer))
	if err := raw.handshake(1, "DEALER", "DEALER"); err != nil {
		t.Fatal(err)
	}
	pings := []struct {
		ttl uint16
		ctx string
	}{
		{0, ""},
		{0, "c"},
		{100, "ctx-42"},
		{65535, "0123456789abcdef"}, // the longest context (16 octets)
	}
	for _, p := range pings {
		data := binary.BigEndian.AppendUint16(nil, p.ttl)
		if err := raw.write(rawCommand("PING", append(data, p.ctx...))); err != nil {
			t.Fatal(err)
		}
		name, ctx, err := raw.readCommand()
		if err != nil {
			t.Fatalf("after PING ttl=%d context %q: %v", p.ttl, p.ctx, err)
		}
		if name != "PONG" || string(ctx) != p.ctx {
			t.Fatalf("after PING ttl=%d context %q: got command %q with data %q, want PONG with the same context", p.ttl, p.ctx, name, ctx)
		}
	}
	// The connection still carries messages both ways.
	if err := raw.write(rawFrame(0, []byte("after-ping"))); err != nil {
		t.Fatal(err)
	}
	if m, err := dealer.RecvMsg(); err != nil || len(m) != 1 || string(m[0]) != "after-ping" {
		t.Fatalf("engine DEALER after PINGs: got %q, %v; want \"after-ping\"", m, err)
	}
	if err := dealer.Send([]byte("reply")); err != nil {
		t.Fatal(err)
	}
	if m, err := raw.readMessage(); err != nil || len(m) != 1 || string(m[0]) != "reply" {
		t.Fatalf("raw peer after PINGs: got %q, %v; want \"reply\"", m, err)
	}
}

// rawPingDuringMultipart: while the engine streams 3-frame messages, the raw
// peer keeps pinging. Every PING gets its PONG, in order, and no PONG lands
// between the frames of a message.
func rawPingDuringMultipart(t *testing.T, env *interopEnv) {
	env.skipRaw(t)
	push := env.engineSocket(t, PUSH, nil)
	raw := rawDial(t, env.engineBind(t, push))
	if err := raw.handshake(1, "PULL", "PUSH"); err != nil {
		t.Fatal(err)
	}
	const msgs, pings = 2000, 50
	sizes := func(i int) []int { return []int{4, interopSizes[i%len(interopSizes)], 1 + i%300} }
	abort := func() { push.Close(); raw.c.Close() }

	send := func() error {
		var bufs [][]byte
		for i := 0; i < msgs; i++ {
			bufs = interopMsg(bufs, i*3, sizes(i)...)
			if err := push.SendMsg(bufs...); err != nil {
				return fmt.Errorf("engine PUSH: message %d: %w", i, err)
			}
		}
		return nil
	}
	ping := func() error {
		for i := 0; i < pings; i++ {
			if err := raw.write(rawCommand("PING", fmt.Appendf([]byte{0, 0}, "p%d", i))); err != nil {
				return fmt.Errorf("raw peer: PING %d: %w", i, err)
			}
			time.Sleep(time.Millisecond)
		}
		return nil
	}
	read := func() error {
		raw.c.SetDeadline(time.Now().Add(3 * interopTimeout))
		got, pongs, frame := 0, 0, 0
		for got < msgs || pongs < pings {
			flags, body, err := raw.readFrame()
			if err != nil {
				return fmt.Errorf("raw peer after %d messages and %d PONGs: %w", got, pongs, err)
			}
			if flags&0x04 != 0 {
				if frame != 0 {
					return fmt.Errorf("command %q arrived after frame %d of message %d: commands must not split a multipart message", body, frame, got)
				}
				if want := fmt.Sprintf("\x04PONGp%d", pongs); string(body) != want {
					return fmt.Errorf("command %d: got %q, want %q", pongs, body, want)
				}
				pongs++
				continue
			}
			sz := sizes(got)
			if frame >= len(sz) {
				return fmt.Errorf("message %d has more than %d frames", got, len(sz))
			}
			if err := interopCheck(body, got*3+frame, sz[frame]); err != nil {
				return fmt.Errorf("message %d frame %d: %w", got, frame, err)
			}
			more := flags&0x01 != 0
			if more != (frame < len(sz)-1) {
				return fmt.Errorf("message %d frame %d: MORE is %v", got, frame, more)
			}
			frame++
			if !more {
				frame = 0
				got++
			}
		}
		return nil
	}
	interopRun(t, abort, send, ping, read)
}
