package matrix

import (
	"fmt"
	"strconv"
	"time"
)

// Axis names, in the order a cell's identity lists them. The same names are
// used as keys in scenarios.yaml, in --filter, in results.json and in the
// Benchmark lines of benchmark_result.txt.
const (
	AxisEngine        = "engine"
	AxisPattern       = "pattern"
	AxisProtocol      = "protocol"
	AxisSize          = "size"
	AxisOutBatchSize  = "out_batch_size"
	AxisWriteBatching = "write_batching"
	AxisSockets       = "sockets"
	AxisProcesses     = "processes"
	AxisRate          = "rate"
)

// Axes lists every axis name in identity order.
var Axes = []string{AxisEngine, AxisPattern, AxisProtocol, AxisSize, AxisOutBatchSize, AxisWriteBatching, AxisSockets, AxisProcesses, AxisRate}

// Cell is one point of the matrix: the axis values that fix what is measured,
// plus the workload settings that say how long to measure it. A cell is
// serialised as JSON to the worker process, so every field is exported and
// tagged.
type Cell struct {
	Engine        string `json:"engine"`         // zbench (embedded), libzmq, zmq4, or a mixed pair such as zbench>libzmq
	Pattern       string `json:"pattern"`        // pair, push-pull, req-rep, dealer-router, pub-sub
	Protocol      string `json:"protocol"`       // tcp, ipc, ws
	Size          int    `json:"size"`           // message body in bytes, >= 0
	OutBatchSize  int    `json:"out_batch_size"` // bytes, >= 1
	WriteBatching bool   `json:"write_batching"`
	Sockets       int    `json:"sockets"` // independent socket pairs, >= 1
	// Processes is the topology: 2 runs each side in its own worker
	// process, 1 runs both sides in one.
	Processes int `json:"processes"`
	// Rate is the open-loop send rate of the throughput phase, messages per
	// second per pair; 0 streams as fast as possible.
	Rate int `json:"rate"`

	Workload Workload `json:"workload"`
}

// Workload says how much work one run of a cell does. Counts are per socket
// pair.
type Workload struct {
	WarmupMessages     int      `json:"warmup_messages"`
	ThroughputMessages int      `json:"throughput_messages,omitempty"` // exactly one of ThroughputMessages,
	ThroughputDuration Duration `json:"throughput_duration,omitempty"` // ThroughputDuration is > 0
	LatencyRoundTrips  int      `json:"latency_round_trips"`
	Timeout            Duration `json:"timeout"` // per run; the worker is killed after it
}

// ID is the cell's stable identity: every axis as key=value, in Axes order,
// joined by "/". It is the key that results and comparisons match cells by.
// The axes added after the first results schema (processes, rate) appear
// only when they differ from their default, so that adding an axis leaves
// the identity of every existing cell as it was.
func (c Cell) ID() string {
	id := fmt.Sprintf("engine=%s/pattern=%s/protocol=%s/size=%d/out_batch_size=%d/write_batching=%t/sockets=%d",
		c.Engine, c.Pattern, c.Protocol, c.Size, c.OutBatchSize, c.WriteBatching, c.Sockets)
	if c.Processes != DefaultProcesses {
		id += fmt.Sprintf("/%s=%d", AxisProcesses, c.Processes)
	}
	if c.Rate != DefaultRate {
		id += fmt.Sprintf("/%s=%d", AxisRate, c.Rate)
	}
	return id
}

// Value returns the cell's value on the named axis, formatted as in ID, and
// false for an unknown axis name.
func (c Cell) Value(axis string) (string, bool) {
	switch axis {
	case AxisEngine:
		return c.Engine, true
	case AxisPattern:
		return c.Pattern, true
	case AxisProtocol:
		return c.Protocol, true
	case AxisSize:
		return strconv.Itoa(c.Size), true
	case AxisOutBatchSize:
		return strconv.Itoa(c.OutBatchSize), true
	case AxisWriteBatching:
		return strconv.FormatBool(c.WriteBatching), true
	case AxisSockets:
		return strconv.Itoa(c.Sockets), true
	case AxisProcesses:
		return strconv.Itoa(c.Processes), true
	case AxisRate:
		return strconv.Itoa(c.Rate), true
	}
	return "", false
}

// Duration is a time.Duration that reads and writes as a Go duration string
// ("1.5s") in JSON.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}
