package matrix

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"zbench/engine"
)

// DefaultFile is the scenario file the commands read when none is named.
const DefaultFile = "scenarios.yaml"

// Engine names: the values of the engine axis.
const (
	EngineZbench = "zbench" // the embedded engine of this module
	EngineLibzmq = "libzmq" // libzmq through cgo (needs the libzmq build tag)
	EngineZmq4   = "zmq4"   // the pure Go go-zeromq/zmq4 engine
	// EngineLibzmqC is libzmq driven by plain C programs, no Go in the
	// process (tools/libzmq-thr): the reference row the libzmq engine's
	// figures are checked against.
	EngineLibzmqC = "libzmq-c"

	// Mixed pairs, "SENDER>RECEIVER": in every socket pair the sending side
	// (stream sender, client of round trips) runs on SENDER and the receiving
	// side (stream receiver, echo) on RECEIVER — interoperability measured.
	EngineZbenchToLibzmq = EngineZbench + MixedSep + EngineLibzmq // zbench sends, libzmq receives and echoes
	EngineLibzmqToZbench = EngineLibzmq + MixedSep + EngineZbench // libzmq sends, zbench receives and echoes
)

// MixedSep joins the sending and the receiving engine of a mixed pair's name.
const MixedSep = ">"

// Engines lists every engine a scenario may name, in the order help texts
// show them. It is the one list of engines; adapters for new engines add
// their name here.
var Engines = []string{EngineZbench, EngineLibzmq, EngineZmq4, EngineZbenchToLibzmq, EngineLibzmqToZbench, EngineLibzmqC}

// SplitEngine splits a mixed pair's engine name ("zbench>libzmq") into the
// sending and the receiving engine; mixed is false for a single engine's
// name, which is returned as both.
func SplitEngine(name string) (sender, receiver string, mixed bool) {
	s, r, mixed := strings.Cut(name, MixedSep)
	if !mixed {
		return name, name, false
	}
	return s, r, true
}

// Pattern names: the values of the pattern axis. A pattern names the pair of
// socket types a cell connects (pair: PAIR-PAIR, req-rep: REQ-REP, ...).
const (
	PatternPair         = "pair"
	PatternPushPull     = "push-pull"
	PatternReqRep       = "req-rep"
	PatternDealerRouter = "dealer-router"
	PatternPubSub       = "pub-sub"
)

// Patterns lists every pattern a scenario may name.
var Patterns = []string{PatternPair, PatternPushPull, PatternReqRep, PatternDealerRouter, PatternPubSub}

// Protocol names: the values of the protocol axis.
const (
	ProtocolTCP = "tcp"
	ProtocolIPC = "ipc"
	ProtocolWS  = "ws"
)

// Protocols lists every transport a scenario may name.
var Protocols = []string{ProtocolTCP, ProtocolIPC, ProtocolWS}

// Limits of the numeric axes and of a profile's size.
const (
	MaxSize         = 256 << 20 // largest message body, bytes (sizes are 0..MaxSize)
	MaxOutBatchSize = MaxSize   // largest out_batch_size, bytes (1..MaxOutBatchSize)
	MaxSockets      = 1024      // most socket pairs in one cell (1..MaxSockets)
	MinProcesses    = 1         // both sides in one worker process
	MaxProcesses    = 2         // one worker process per side
	MaxRate         = 100000000 // highest open-loop rate, messages per second per pair
	MaxCells        = 100000    // most cells one profile may expand to
)

// Values an axis takes when a profile omits it. Protocol and size have no
// default: every profile must list them.
const (
	DefaultEngine        = EngineZbench
	DefaultPattern       = PatternPair
	DefaultOutBatchSize  = engine.DefaultOutBatchSize
	DefaultWriteBatching = true
	DefaultSockets       = 1
	DefaultProcesses     = 2
	DefaultRate          = 0 // as fast as possible
)

// Workload settings a profile gets when neither it nor the file's defaults
// mapping sets them (the scenarios.yaml shipped with zbench says the same in
// its defaults).
const (
	DefaultRuns               = 20
	DefaultWarmupMessages     = 1000
	DefaultThroughputDuration = Duration(150 * time.Millisecond)
	DefaultLatencyRoundTrips  = 1000
	DefaultTimeout            = Duration(30 * time.Second)
)

// DefaultWorkload returns the built-in workload settings.
func DefaultWorkload() Workload {
	return Workload{
		WarmupMessages:     DefaultWarmupMessages,
		ThroughputDuration: DefaultThroughputDuration,
		LatencyRoundTrips:  DefaultLatencyRoundTrips,
		Timeout:            DefaultTimeout,
	}
}

// AxisValues holds the values of every axis of a profile, in the order they
// are expanded. It is part of the resolved scenario stored in results.json.
type AxisValues struct {
	Engine        []string `json:"engine"`
	Pattern       []string `json:"pattern"`
	Protocol      []string `json:"protocol"`
	Size          []int    `json:"size"`
	OutBatchSize  []int    `json:"out_batch_size"`
	WriteBatching []bool   `json:"write_batching"`
	Sockets       []int    `json:"sockets"`
	Processes     []int    `json:"processes"`
	Rate          []int    `json:"rate"`
}

// DefaultAxisValues returns the values of the axes a profile may omit;
// Protocol and Size are nil.
func DefaultAxisValues() AxisValues {
	return AxisValues{
		Engine:        []string{DefaultEngine},
		Pattern:       []string{DefaultPattern},
		OutBatchSize:  []int{DefaultOutBatchSize},
		WriteBatching: []bool{DefaultWriteBatching},
		Sockets:       []int{DefaultSockets},
		Processes:     []int{DefaultProcesses},
		Rate:          []int{DefaultRate},
	}
}

// Count returns how many cells the axes expand to.
func (a AxisValues) Count() int {
	return len(a.Engine) * len(a.Pattern) * len(a.Protocol) * len(a.Size) *
		len(a.OutBatchSize) * len(a.WriteBatching) * len(a.Sockets) * len(a.Processes) * len(a.Rate)
}

// Values returns the values of the named axis formatted as [Cell.Value]
// formats them, and nil for an unknown axis name.
func (a AxisValues) Values(axis string) []string {
	switch axis {
	case AxisEngine:
		return slices.Clone(a.Engine)
	case AxisPattern:
		return slices.Clone(a.Pattern)
	case AxisProtocol:
		return slices.Clone(a.Protocol)
	case AxisSize:
		return formatInts(a.Size)
	case AxisOutBatchSize:
		return formatInts(a.OutBatchSize)
	case AxisWriteBatching:
		out := make([]string, len(a.WriteBatching))
		for i, b := range a.WriteBatching {
			out[i] = strconv.FormatBool(b)
		}
		return out
	case AxisSockets:
		return formatInts(a.Sockets)
	case AxisProcesses:
		return formatInts(a.Processes)
	case AxisRate:
		return formatInts(a.Rate)
	}
	return nil
}

func (a AxisValues) clone() AxisValues {
	return AxisValues{
		Engine:        slices.Clone(a.Engine),
		Pattern:       slices.Clone(a.Pattern),
		Protocol:      slices.Clone(a.Protocol),
		Size:          slices.Clone(a.Size),
		OutBatchSize:  slices.Clone(a.OutBatchSize),
		WriteBatching: slices.Clone(a.WriteBatching),
		Sockets:       slices.Clone(a.Sockets),
		Processes:     slices.Clone(a.Processes),
		Rate:          slices.Clone(a.Rate),
	}
}

func formatInts(v []int) []string {
	out := make([]string, len(v))
	for i, n := range v {
		out[i] = strconv.Itoa(n)
	}
	return out
}

// axisKind says what type an axis's values have.
type axisKind int

const (
	kindWord axisKind = iota // one of a fixed list of words
	kindInt                  // an integer in a range
	kindBool                 // true or false
)

// axisSpec describes the values one axis accepts.
type axisSpec struct {
	kind     axisKind
	words    []string // kindWord
	min, max int      // kindInt
	unit     string   // kindInt, shown after the range
}

func specOf(axis string) (axisSpec, bool) {
	switch axis {
	case AxisEngine:
		return axisSpec{kind: kindWord, words: Engines}, true
	case AxisPattern:
		return axisSpec{kind: kindWord, words: Patterns}, true
	case AxisProtocol:
		return axisSpec{kind: kindWord, words: Protocols}, true
	case AxisSize:
		return axisSpec{kind: kindInt, min: 0, max: MaxSize, unit: "bytes"}, true
	case AxisOutBatchSize:
		return axisSpec{kind: kindInt, min: 1, max: MaxOutBatchSize, unit: "bytes"}, true
	case AxisWriteBatching:
		return axisSpec{kind: kindBool}, true
	case AxisSockets:
		return axisSpec{kind: kindInt, min: 1, max: MaxSockets, unit: "socket pairs"}, true
	case AxisProcesses:
		return axisSpec{kind: kindInt, min: MinProcesses, max: MaxProcesses,
			unit: "2: one worker process per side, 1: both sides in one"}, true
	case AxisRate:
		return axisSpec{kind: kindInt, min: 0, max: MaxRate,
			unit: "messages per second per pair, open-loop; 0: as fast as possible"}, true
	}
	return axisSpec{}, false
}

// allowed describes the accepted values, for the "allowed:" part of errors.
func (s axisSpec) allowed() string {
	switch s.kind {
	case kindWord:
		return strings.Join(s.words, ", ")
	case kindInt:
		r := fmt.Sprintf("integers %d..%d", s.min, s.max)
		if s.unit != "" {
			r += " (" + s.unit + ")"
		}
		return r
	default:
		return "true, false"
	}
}

// checkWord reports whether v is one of the axis's words, with a message
// saying why not.
func (s axisSpec) checkWord(axis, v string) (string, bool) {
	if slices.Contains(s.words, v) {
		return "", true
	}
	return fmt.Sprintf("unknown %s %q", axis, v), false
}

// checkInt reports whether v lies in the axis's range, with a message saying
// why not.
func (s axisSpec) checkInt(axis string, v int64) (string, bool) {
	return rangeMsg(axis, v, s.min, s.max)
}

// canonical parses a filter value for the axis and returns it formatted as
// [Cell.Value] formats it.
func (s axisSpec) canonical(axis, v string) (string, string, bool) {
	switch s.kind {
	case kindWord:
		msg, ok := s.checkWord(axis, v)
		return v, msg, ok
	case kindInt:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", fmt.Sprintf("%s %q is not an integer", axis, v), false
		}
		msg, ok := s.checkInt(axis, n)
		return strconv.FormatInt(n, 10), msg, ok
	default:
		switch v {
		case "true", "false":
			return v, "", true
		}
		return "", fmt.Sprintf("%s %q is not a boolean", axis, v), false
	}
}

// Validate checks every axis value and the workload of a cell that did not
// come from [File.Resolve], such as a cell read from JSON. The error unwraps
// to one [*Error] per problem, each wrapping [ErrBadValue].
func (c Cell) Validate() error {
	var errs Errors
	bad := func(axis, msg string) {
		spec, _ := specOf(axis)
		errs = append(errs, &Error{Msg: "cell: " + msg, Allowed: spec.allowed(), Err: ErrBadValue})
	}
	for _, w := range []struct{ axis, v string }{
		{AxisEngine, c.Engine}, {AxisPattern, c.Pattern}, {AxisProtocol, c.Protocol},
	} {
		spec, _ := specOf(w.axis)
		if msg, ok := spec.checkWord(w.axis, w.v); !ok {
			bad(w.axis, msg)
		}
	}
	for _, n := range []struct {
		axis string
		v    int
	}{
		{AxisSize, c.Size}, {AxisOutBatchSize, c.OutBatchSize}, {AxisSockets, c.Sockets},
		{AxisProcesses, c.Processes}, {AxisRate, c.Rate},
	} {
		spec, _ := specOf(n.axis)
		if msg, ok := spec.checkInt(n.axis, int64(n.v)); !ok {
			bad(n.axis, msg)
		}
	}
	if err := c.Workload.Validate(); err != nil {
		var werrs Errors
		if errors.As(err, &werrs) {
			errs = append(errs, werrs...)
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// Validate checks that the workload's counts and durations are in range and
// that exactly one of ThroughputMessages and ThroughputDuration is set. The
// error unwraps to one [*Error] per problem, each wrapping [ErrBadValue].
func (w Workload) Validate() error {
	var errs Errors
	bad := func(msg, allowed string) {
		errs = append(errs, &Error{Msg: "workload: " + msg, Allowed: allowed, Err: ErrBadValue})
	}
	if w.WarmupMessages < 0 {
		bad(fmt.Sprintf("%s %d is negative", keyWarmup, w.WarmupMessages), allowedCount0)
	}
	switch {
	case w.ThroughputMessages != 0 && w.ThroughputDuration != 0:
		bad(fmt.Sprintf("both %s and %s are set", keyThroughputMessages, keyThroughputDuration), allowedThroughput)
	case w.ThroughputMessages == 0 && w.ThroughputDuration == 0:
		bad(fmt.Sprintf("neither %s nor %s is set", keyThroughputMessages, keyThroughputDuration), allowedThroughput)
	case w.ThroughputMessages < 0:
		bad(fmt.Sprintf("%s %d is negative", keyThroughputMessages, w.ThroughputMessages), allowedCount1)
	case w.ThroughputDuration < 0:
		bad(fmt.Sprintf("%s %s is negative", keyThroughputDuration, w.ThroughputDuration), allowedDuration)
	}
	if w.LatencyRoundTrips < 1 {
		bad(fmt.Sprintf("%s %d is below 1", keyLatency, w.LatencyRoundTrips), allowedCount1)
	}
	if w.Timeout <= 0 {
		bad(fmt.Sprintf("%s %s is not positive", keyTimeout, w.Timeout), allowedDuration)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// String formats the duration as time.Duration does ("1.5s").
func (d Duration) String() string { return time.Duration(d).String() }
