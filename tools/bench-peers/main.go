// Command bench-peers measures the embedded engine across two processes
// beside libzmq's own C programs and a bare Go baseline, the same minute, in
// two pinnings: one core (both processes on CPU 0) and one per core
// (receiver on CPU 0, sender on CPU 1). It prints every figure (medians of
// -runs interleaved runs) and the ratios.
//
//	go run ./tools/bench-peers -runs 10       (make bench-peers)
//
// Throughput is a stream of COUNT messages, timed by the receiver from its
// first message to its last, as libzmq's local_thr does, for all three:
//   - raw Go: a length-prefixed stream through a bufio.Writer over the socket,
//     64 KiB buffers, and again with 8 KiB ones: writes of at most 8 KiB are
//     what out_batch_size 8192 allows the engine (and libzmq), so that column
//     is the most a 8 KiB-bounded write path gets from this kernel;
//   - libzmq: tools/libzmq-thr's thr_send and thr_recv (PUSH -> PULL);
//   - zbench: `zbench peer --role push` and `--role pull`.
//
// Round trip: raw Go ping-pong, libzmq's lat_ping and lat_echo (REQ/REP),
// `zbench peer --role req` and `--role rep`: p50 of every round trip.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

func main() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "raw-") {
		if err := raw(os.Args[1], os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "bench-peers:", err)
			os.Exit(1)
		}
		return
	}
	if err := orchestrate(); err != nil {
		fmt.Fprintln(os.Stderr, "bench-peers:", err)
		os.Exit(1)
	}
}

type config struct {
	runs    int
	latency bool // measure round trips
	// throughputOn: measure throughput.
	throughputOn bool
	sizes        []int
	protocols    []string
	zbench       string
	libzmq       string // directory of thr_send, thr_recv, lat_echo, lat_ping
	self         string
	tmp          string
}

// pinning puts the receiver and the sender on CPU sets.
type pinning struct{ name, receiver, sender string }

var pinnings = []pinning{{"one core", "0", "0"}, {"one per core", "0", "1"}}

// count is how many messages a throughput run streams at a size.
func count(size int) int {
	switch {
	case size <= 64:
		return 4_000_000
	case size <= 2048:
		return 1_000_000
	}
	return 150_000
}

const roundTrips = 20000

func orchestrate() error {
	var c config
	var sizes, protocols string
	flag.IntVar(&c.runs, "runs", 5, "interleaved runs per figure; medians are printed")
	flag.StringVar(&sizes, "sizes", "32,1024,16384", "message sizes, bytes")
	flag.StringVar(&protocols, "protocols", "tcp,ipc", "tcp and/or ipc")
	flag.StringVar(&c.zbench, "zbench", "bin/zbench", "the zbench binary")
	flag.StringVar(&c.libzmq, "libzmq", "bin/libzmq-thr", "directory of libzmq's C programs (make libzmq-tools builds them)")
	only := flag.String("only", "", "measure only throughput or only latency (default: both)")
	flag.Parse()
	switch *only {
	case "":
		c.latency, c.throughputOn = true, true
	case "throughput":
		c.throughputOn = true
	case "latency":
		c.latency = true
	default:
		return fmt.Errorf("-only %q: allowed: throughput, latency", *only)
	}
	for s := range strings.SplitSeq(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 8 {
			return fmt.Errorf("-sizes %q: allowed: integers >= 8, comma-separated", sizes)
		}
		c.sizes = append(c.sizes, n)
	}
	for p := range strings.SplitSeq(protocols, ",") {
		if p != "tcp" && p != "ipc" {
			return fmt.Errorf("-protocols %q: allowed: tcp, ipc", protocols)
		}
		c.protocols = append(c.protocols, p)
	}
	for _, bin := range []string{c.zbench, filepath.Join(c.libzmq, "thr_recv"), filepath.Join(c.libzmq, "lat_ping")} {
		if _, err := os.Stat(bin); err != nil {
			return fmt.Errorf("%s: %w (run `make build libzmq-reference` first)", bin, err)
		}
	}
	var err error
	if c.self, err = os.Executable(); err != nil {
		return err
	}
	if c.tmp, err = os.MkdirTemp("", "bench-peers-"); err != nil {
		return err
	}
	defer os.RemoveAll(c.tmp)

	fmt.Printf("bench-peers: %d interleaved runs per figure, medians; throughput timed by the receiver, first message to last\n\n", c.runs)
	type key = thrKey
	impls := []string{"raw Go", "libzmq", "zbench"}
	thrImpls := []string{"raw Go", rawGo8K, "libzmq", "zbench"}
	thr := map[key]map[string][]float64{}
	lat := map[key]map[string][]float64{}
	lat99 := map[key]map[string][]float64{}
	for run := 1; run <= c.runs; run++ {
		for _, pin := range pinnings {
			for _, proto := range c.protocols {
				for _, size := range c.sizes {
					if !c.throughputOn {
						break
					}
					k := key{pin.name, proto, size}
					if thr[k] == nil {
						thr[k] = map[string][]float64{}
					}
					for _, impl := range rotate(thrImpls, run) {
						v, err := c.throughput(impl, pin, proto, size)
						if err != nil {
							return fmt.Errorf("%s %s %s %d B: %w", impl, pin.name, proto, size, err)
						}
						thr[k][impl] = append(thr[k][impl], v)
					}
				}
				if !c.latency {
					continue
				}
				k := key{pin.name, proto, 32}
				if lat[k] == nil {
					lat[k], lat99[k] = map[string][]float64{}, map[string][]float64{}
				}
				for _, impl := range rotate(impls, run) {
					v, v99, err := c.roundTrip(impl, pin, proto, 32)
					if err != nil {
						return fmt.Errorf("%s round trip %s %s: %w", impl, pin.name, proto, err)
					}
					lat[k][impl] = append(lat[k][impl], v)
					lat99[k][impl] = append(lat99[k][impl], v99)
				}
			}
		}
		fmt.Fprintf(os.Stderr, "run %d of %d done\n", run, c.runs)
	}

	if c.throughputOn {
		printThroughput(c, pinnings, thr)
	}
	if !c.latency {
		return nil
	}
	fmt.Println()
	fmt.Println("| pinning | protocol | size | raw Go RTT p50 / p99 | libzmq RTT p50 / p99 | zbench RTT p50 / p99 | zbench / libzmq (p50, p99) | zbench / raw Go (p50) |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|")
	for _, pin := range pinnings {
		for _, proto := range c.protocols {
			m, m99 := lat[key{pin.name, proto, 32}], lat99[key{pin.name, proto, 32}]
			r, l, z := median(m["raw Go"]), median(m["libzmq"]), median(m["zbench"])
			r9, l9, z9 := median(m99["raw Go"]), median(m99["libzmq"]), median(m99["zbench"])
			fmt.Printf("| %s | %s | 32 B | %.1f / %.1f µs | %.1f / %.1f µs | %.1f / %.1f µs | %.2f×, %.2f× | %.2f× |\n",
				pin.name, proto, r, r9, l, l9, z, z9, z/l, z9/l9, z/r)
		}
	}
	return nil
}

type thrKey = struct {
	pin, proto string
	size       int
}

func printThroughput(c config, pinnings []pinning, thr map[thrKey]map[string][]float64) {
	type key = thrKey
	fmt.Println("| pinning | protocol | size | raw Go msg/s | raw Go, 8 KiB writes | libzmq msg/s | zbench msg/s | zbench / libzmq | zbench / raw Go | zbench / raw Go, 8 KiB writes |")
	fmt.Println("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, pin := range pinnings {
		for _, proto := range c.protocols {
			for _, size := range c.sizes {
				m := thr[key{pin.name, proto, size}]
				r, r8, l, z := median(m["raw Go"]), median(m[rawGo8K]), median(m["libzmq"]), median(m["zbench"])
				fmt.Printf("| %s | %s | %d B | %s | %s | %s | %s | %.2f× | %.2f× | %.2f× |\n", pin.name, proto, size, si(r), si(r8), si(l), si(z), z/l, z/r, z/r8)
			}
		}
	}
}

// rotate changes which implementation goes first from run to run.
func rotate(s []string, run int) []string {
	k := run % len(s)
	return append(slices.Clone(s[k:]), s[:k]...)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

// endpoint is a fresh endpoint of the protocol: a free tcp port on
// loopback, or a new ipc path.
func (c *config) endpoint(proto string) (zmq, rawNet, rawAddr string, err error) {
	if proto == "ipc" {
		p := filepath.Join(c.tmp, fmt.Sprintf("s%d.sock", time.Now().UnixNano()))
		return "ipc://" + p, "unix", p, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "", "", err
	}
	addr := l.Addr().String()
	l.Close()
	return "tcp://" + addr, "tcp", addr, nil
}

// pairRun starts the receiving (or echoing) command pinned to recvCPU,
// reads its first line when firstLine is set (a "bound ENDPOINT" or
// "listening" the sending command may need), then runs the sending command
// makeSend returns, pinned to sendCPU, and returns what each printed.
func pairRun(recvCPU string, recv []string, firstLine bool, sendCPU string, makeSend func(first string) []string) (recvOut, sendOut string, err error) {
	rc := exec.Command("taskset", append([]string{"-c", recvCPU}, recv...)...)
	out, err := rc.StdoutPipe()
	if err != nil {
		return "", "", err
	}
	var rerr strings.Builder
	rc.Stderr = &rerr
	if err := rc.Start(); err != nil {
		return "", "", err
	}
	kill := func() { _ = rc.Process.Kill(); _ = rc.Wait() }
	br := bufio.NewReader(out)
	first := ""
	if firstLine {
		line, err := br.ReadString('\n')
		if err != nil {
			kill()
			return "", "", fmt.Errorf("%s: %v: %s", recv[0], err, rerr.String())
		}
		first = strings.TrimSpace(line)
	} else {
		time.Sleep(200 * time.Millisecond) // it prints nothing before it binds: give it the time
	}
	send := makeSend(first)
	if send == nil {
		kill()
		return "", "", fmt.Errorf("%s: unexpected first line %q", recv[0], first)
	}
	sc := exec.Command("taskset", append([]string{"-c", sendCPU}, send...)...)
	var sout, serr strings.Builder
	sc.Stdout, sc.Stderr = &sout, &serr
	if err := sc.Run(); err != nil {
		kill()
		return "", "", fmt.Errorf("%s: %v: %s", send[0], err, serr.String())
	}
	rest, _ := io.ReadAll(br)
	if err := rc.Wait(); err != nil {
		return "", "", fmt.Errorf("%s: %v: %s", recv[0], err, rerr.String())
	}
	return string(rest), sout.String(), nil
}

// bound takes "bound ENDPOINT" apart; "" when the line is something else.
func bound(line string) string {
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "bound" {
		return ""
	}
	return f[1]
}

var (
	reMsgs = regexp.MustCompile(`msg/s ([0-9.]+)`)
	reP50  = regexp.MustCompile(`rtt p50 ([0-9.]+) us`)
	reP99  = regexp.MustCompile(`rtt p99 ([0-9.]+) us`)
)

// libzmqEndpoint is the endpoint libzmq's programs bind: any free tcp port.
func libzmqEndpoint(ep, proto string) string {
	if proto == "tcp" {
		return "tcp://127.0.0.1:*"
	}
	return ep
}

func (c *config) throughput(impl string, pin pinning, proto string, size int) (float64, error) {
	ep, rn, ra, err := c.endpoint(proto)
	if err != nil {
		return 0, err
	}
	n, sz := strconv.Itoa(count(size)), strconv.Itoa(size)
	switch impl {
	case "raw Go", rawGo8K:
		buf := strconv.Itoa(64 << 10)
		if impl == rawGo8K {
			buf = strconv.Itoa(8 << 10)
		}
		out, _, err := pairRun(pin.receiver, []string{c.self, "raw-recv", rn, ra, sz, n, buf}, true, pin.sender,
			func(string) []string { return []string{c.self, "raw-send", rn, ra, sz, n, buf} })
		if err != nil {
			return 0, err
		}
		return parseFloat(reMsgs, out)
	case "libzmq":
		out, _, err := pairRun(pin.receiver, []string{filepath.Join(c.libzmq, "thr_recv"), libzmqEndpoint(ep, proto), sz, n}, true, pin.sender,
			func(first string) []string {
				if b := bound(first); b != "" {
					return []string{filepath.Join(c.libzmq, "thr_send"), b, sz, n}
				}
				return nil
			})
		if err != nil {
			return 0, err
		}
		return parseFloat(reMsgs, out)
	}
	out, _, err := pairRun(pin.receiver, []string{c.zbench, "peer", "--role", "pull", "--bind", ep, "--size", sz, "--count", n, "--json"}, false,
		pin.sender, func(string) []string {
			return []string{c.zbench, "peer", "--role", "push", "--connect", ep, "--size", sz, "--count", n}
		})
	if err != nil {
		return 0, err
	}
	var r struct {
		MsgsPerSec float64 `json:"msgs_per_sec"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.MsgsPerSec <= 0 {
		return 0, fmt.Errorf("zbench peer printed %q", out)
	}
	return r.MsgsPerSec, nil
}

// roundTrip returns the round trip's p50 and p99, µs.
func (c *config) roundTrip(impl string, pin pinning, proto string, size int) (float64, float64, error) {
	ep, rn, ra, err := c.endpoint(proto)
	if err != nil {
		return 0, 0, err
	}
	n, sz := strconv.Itoa(roundTrips), strconv.Itoa(size)
	switch impl {
	case "raw Go":
		_, out, err := pairRun(pin.receiver, []string{c.self, "raw-pong", rn, ra, sz, n}, true, pin.sender,
			func(string) []string { return []string{c.self, "raw-ping", rn, ra, sz, n} })
		if err != nil {
			return 0, 0, err
		}
		return parse2(out)
	case "libzmq":
		// lat_ping warms up with 10 round trips the echo answers too.
		_, out, err := pairRun(pin.receiver, []string{filepath.Join(c.libzmq, "lat_echo"), libzmqEndpoint(ep, proto), sz,
			strconv.Itoa(roundTrips + 10), "req-rep"}, true, pin.sender,
			func(first string) []string {
				if b := bound(first); b != "" {
					return []string{filepath.Join(c.libzmq, "lat_ping"), b, sz, n, "req-rep"}
				}
				return nil
			})
		if err != nil {
			return 0, 0, err
		}
		return parse2(out)
	}
	_, out, err := pairRun(pin.receiver, []string{c.zbench, "peer", "--role", "rep", "--bind", ep, "--size", sz, "--count", n}, false,
		pin.sender, func(string) []string {
			return []string{c.zbench, "peer", "--role", "req", "--connect", ep, "--size", sz, "--count", n, "--json"}
		})
	if err != nil {
		return 0, 0, err
	}
	var r struct {
		P50 float64 `json:"rtt_p50_us"`
		P99 float64 `json:"rtt_p99_us"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.P50 <= 0 {
		return 0, 0, fmt.Errorf("zbench peer printed %q", out)
	}
	return r.P50, r.P99, nil
}

// parse2 reads a round trip's p50 and p99 from a line of the C or raw
// programs.
func parse2(out string) (float64, float64, error) {
	p50, err := parseFloat(reP50, out)
	if err != nil {
		return 0, 0, err
	}
	p99, err := parseFloat(reP99, out)
	return p50, p99, err
}

func parseFloat(re *regexp.Regexp, out string) (float64, error) {
	m := re.FindStringSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no figure in %q", out)
	}
	return strconv.ParseFloat(m[1], 64)
}

// rawGo8K is the raw Go stream with 8 KiB buffers.
const rawGo8K = "raw Go 8K"

// raw runs one side of the bare Go baseline: a length-prefixed stream or
// ping-pong over a plain socket, buffered as an engine would (a stream's
// buffers are BUFFER octets, 64 KiB by default).
func raw(mode string, args []string) error {
	if len(args) != 4 && len(args) != 5 {
		return errors.New("usage: raw-MODE NETWORK ADDRESS SIZE COUNT [BUFFER]")
	}
	network, addr := args[0], args[1]
	size, _ := strconv.Atoi(args[2])
	n, _ := strconv.Atoi(args[3])
	bufSize := 64 << 10
	if len(args) == 5 {
		bufSize, _ = strconv.Atoi(args[4])
	}
	buf := make([]byte, 4+size)
	binary.LittleEndian.PutUint32(buf, uint32(size))
	switch mode {
	case "raw-recv", "raw-pong":
		l, err := net.Listen(network, addr)
		if err != nil {
			return err
		}
		defer l.Close()
		fmt.Println("listening")
		conn, err := l.Accept()
		if err != nil {
			return err
		}
		defer conn.Close()
		r := bufio.NewReaderSize(conn, bufSize)
		if mode == "raw-recv" {
			var start time.Time
			for i := range n {
				if _, err := io.ReadFull(r, buf); err != nil {
					return err
				}
				if i == 0 {
					start = time.Now()
				}
			}
			d := time.Since(start).Seconds()
			fmt.Printf("size %d B  messages %d  seconds %.6f  msg/s %.0f\n", size, n, d, float64(n)/d)
			return nil
		}
		w := bufio.NewWriter(conn)
		for range n {
			if _, err := io.ReadFull(r, buf); err != nil {
				return err
			}
			if _, err := w.Write(buf); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
		}
		return nil
	case "raw-send", "raw-ping":
		conn, err := net.Dial(network, addr)
		if err != nil {
			return err
		}
		defer conn.Close()
		w := bufio.NewWriterSize(conn, bufSize)
		if mode == "raw-send" {
			for range n {
				if _, err := w.Write(buf); err != nil {
					return err
				}
			}
			return w.Flush()
		}
		r := bufio.NewReader(conn)
		rtts := make([]float64, n)
		for i := range n {
			t0 := time.Now()
			if _, err := w.Write(buf); err != nil {
				return err
			}
			if err := w.Flush(); err != nil {
				return err
			}
			if _, err := io.ReadFull(r, buf); err != nil {
				return err
			}
			rtts[i] = float64(time.Since(t0).Nanoseconds()) / 1e3
		}
		slices.Sort(rtts)
		fmt.Printf("round trips %d  rtt p50 %.3f us  rtt p99 %.3f us\n", n, rtts[n/2], rtts[n*99/100])
		return nil
	}
	return fmt.Errorf("unknown mode %q", mode)
}
