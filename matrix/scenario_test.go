package matrix

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

const smallFile = `default_profile: small
defaults:
  runs: 5
  warmup_messages: 10
  throughput_messages: 1000
  latency_round_trips: 100
  timeout: 30s
profiles:
  small:
    description: "two transports"
    protocol: [ipc, tcp]
    size: [64, 32]
    sockets: [1, 2]
  timed:
    protocol: [tcp]
    size: &sizes [0, 256]
    write_batching: [false, true]
    throughput_duration: 1500ms
    timeout: 5s
  alias:
    protocol: [ws]
    size: *sizes
`

func parseSmall(t *testing.T) *File {
	t.Helper()
	f, err := Parse("small.yaml", []byte(smallFile))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func resolve(t *testing.T, f *File, name string) *Scenario {
	t.Helper()
	s, err := f.Resolve(name)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", name, err)
	}
	return s
}

func ids(cells []Cell) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = c.ID()
	}
	return out
}

func TestDefaultsApplied(t *testing.T) {
	f := parseSmall(t)
	s := resolve(t, f, "small")
	want := DefaultAxisValues()
	want.Protocol = []string{"ipc", "tcp"}
	want.Size = []int{64, 32}
	want.Sockets = []int{1, 2}
	if !reflect.DeepEqual(s.Axes, want) {
		t.Errorf("axes %+v, want defaults for the omitted ones: %+v", s.Axes, want)
	}
	wantW := Workload{WarmupMessages: 10, ThroughputMessages: 1000, LatencyRoundTrips: 100, Timeout: Duration(30 * time.Second)}
	if s.Workload != wantW || s.Runs != 5 || s.Description != "two transports" {
		t.Errorf("workload %+v runs %d desc %q, want %+v from defaults", s.Workload, s.Runs, s.Description, wantW)
	}

	// A profile's throughput_duration replaces the default throughput_messages.
	timed := resolve(t, f, "timed")
	wantW = Workload{WarmupMessages: 10, ThroughputDuration: Duration(1500 * time.Millisecond), LatencyRoundTrips: 100, Timeout: Duration(5 * time.Second)}
	if timed.Workload != wantW || timed.Runs != 5 {
		t.Errorf("timed workload %+v runs %d, want %+v", timed.Workload, timed.Runs, wantW)
	}
	if !slices.Equal(timed.Axes.WriteBatching, []bool{false, true}) {
		t.Errorf("write_batching %v, want [false true]", timed.Axes.WriteBatching)
	}
	// An alias reads the anchored list.
	if al := resolve(t, f, "alias"); !slices.Equal(al.Axes.Size, []int{0, 256}) {
		t.Errorf("aliased sizes %v, want [0 256]", al.Axes.Size)
	}
}

// A file without a defaults mapping gets the built-in workload, and a
// profile's one mistake is its only problem (not buried under "sets no runs",
// "sets no timeout", ...).
func TestBuiltinWorkloadDefaults(t *testing.T) {
	f, err := Parse("tiny.yaml", []byte("profiles:\n  p:\n    protocol: [tcp]\n    size: [32]\n    runs: 3\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	s := resolve(t, f, "p")
	if s.Workload != DefaultWorkload() || s.Runs != 3 {
		t.Errorf("workload %+v runs %d, want the built-in %+v and the profile's 3 runs", s.Workload, s.Runs, DefaultWorkload())
	}
	// A file's defaults replace the built-in throughput setting as a pair.
	f, err = Parse("tiny.yaml", []byte("defaults:\n  throughput_messages: 500\nprofiles:\n  p:\n    protocol: [tcp]\n    size: [32]\n"))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	s = resolve(t, f, "p")
	if s.Workload.ThroughputMessages != 500 || s.Workload.ThroughputDuration != 0 || s.Runs != DefaultRuns {
		t.Errorf("workload %+v runs %d, want throughput_messages 500 and no duration, %d runs", s.Workload, s.Runs, DefaultRuns)
	}

	_, err = Parse("tiny.yaml", []byte("profiles:\n  p:\n    protocol: [udp]\n    size: [32]\n"))
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Error(), `tiny.yaml:3:16: unknown protocol "udp"; allowed: tcp, ipc, ws`) {
		t.Errorf("Parse = %v, want exactly the one unknown protocol error", err)
	}
}

func TestCellsOrder(t *testing.T) {
	s := resolve(t, parseSmall(t), "small")
	// Axes order, engine outermost and sockets innermost; values in file order.
	want := []string{
		"engine=zbench/pattern=pair/protocol=ipc/size=64/out_batch_size=8192/write_batching=true/sockets=1",
		"engine=zbench/pattern=pair/protocol=ipc/size=64/out_batch_size=8192/write_batching=true/sockets=2",
		"engine=zbench/pattern=pair/protocol=ipc/size=32/out_batch_size=8192/write_batching=true/sockets=1",
		"engine=zbench/pattern=pair/protocol=ipc/size=32/out_batch_size=8192/write_batching=true/sockets=2",
		"engine=zbench/pattern=pair/protocol=tcp/size=64/out_batch_size=8192/write_batching=true/sockets=1",
		"engine=zbench/pattern=pair/protocol=tcp/size=64/out_batch_size=8192/write_batching=true/sockets=2",
		"engine=zbench/pattern=pair/protocol=tcp/size=32/out_batch_size=8192/write_batching=true/sockets=1",
		"engine=zbench/pattern=pair/protocol=tcp/size=32/out_batch_size=8192/write_batching=true/sockets=2",
	}
	cells := s.Cells()
	if got := ids(cells); !slices.Equal(got, want) {
		t.Errorf("cells\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, c := range cells {
		if c.Workload != s.Workload {
			t.Errorf("cell %s workload %+v, want the scenario's %+v", c.ID(), c.Workload, s.Workload)
		}
	}
	if !slices.Equal(ids(s.Cells()), want) {
		t.Error("a second expansion differs from the first")
	}
}

func TestResolveProfiles(t *testing.T) {
	f := parseSmall(t)
	if s := resolve(t, f, ""); s.Profile != "small" {
		t.Errorf("Resolve(\"\") = %q, want the default profile small", s.Profile)
	}
	_, err := f.Resolve("nope")
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrUnknownProfile) {
		t.Fatalf("Resolve(nope) = %v, want ErrUnknownProfile", err)
	}
	if want := `small.yaml: unknown profile "nope"; allowed: small, timed, alias`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}

	nodef, err := Parse("n.yaml", []byte(strings.Replace(smallFile, "default_profile: small\n", "", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodef.Resolve(""); !errors.Is(err, ErrUnknownProfile) || !strings.Contains(err.Error(), "allowed: small, timed, alias") {
		t.Errorf("Resolve(\"\") without default_profile = %v, want ErrUnknownProfile listing the profiles", err)
	}

	// Each Resolve returns its own copy.
	a, b := resolve(t, f, "small"), resolve(t, f, "small")
	a.Axes.Size[0] = 999
	if b.Axes.Size[0] == 999 {
		t.Error("scenarios from two Resolve calls share their axes")
	}
}

func TestScenarioJSON(t *testing.T) {
	s := resolve(t, parseSmall(t), "timed")
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"throughput_duration":"1.5s"`, `"timeout":"5s"`, `"out_batch_size":[8192]`, `"sha256":"` + s.SHA256 + `"`, `"file":"small.yaml"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JSON %s lacks %s", data, want)
		}
	}
	if strings.Contains(string(data), `"throughput_messages"`) {
		t.Errorf("JSON %s has the unset throughput_messages", data)
	}
	var back Scenario
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, s) {
		t.Errorf("round trip %+v, want %+v", back, *s)
	}
}

func TestScenarioWarnings(t *testing.T) {
	s := &Scenario{Profile: "p", Axes: AxisValues{Protocol: []string{"tcp", "ipc"}, Size: []int{32, 1 << 20}}}
	buf := func(p string) int64 {
		if p == "tcp" {
			return 1 << 20
		}
		return 0 // unknown: no judgement
	}
	s.Workload = Workload{ThroughputMessages: 2000}
	w := s.Warnings(buf)
	if len(w) != 1 || !strings.Contains(w[0], "2000 of 32 B over tcp") || !strings.Contains(w[0], "throughput_duration") {
		t.Errorf("fixed count that fits: %q", w)
	}
	s.Workload = Workload{ThroughputDuration: Duration(20 * time.Millisecond)}
	if w := s.Warnings(buf); len(w) != 1 || !strings.Contains(w[0], "under 50ms") {
		t.Errorf("20 ms phase: %q", w)
	}
	s.Workload = Workload{ThroughputDuration: Duration(100 * time.Millisecond)}
	if w := s.Warnings(buf); len(w) != 0 {
		t.Errorf("100 ms phase: %q", w)
	}
}

func TestRealProfilesMeasureRates(t *testing.T) {
	f, err := Load("../scenarios.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range f.ProfileNames() {
		s, _ := f.Resolve(name)
		// The buffers of a well-tuned Linux host (tcp_wmem + tcp_rmem maxima).
		if w := s.Warnings(func(string) int64 { return 4<<20 + 6<<20 }); len(w) > 0 {
			t.Errorf("profile %s: %q", name, w)
		}
	}
}

// Axes added after the first results schema leave the identity of cells at
// their defaults unchanged, and name themselves otherwise.
func TestCellIDStableAcrossNewAxes(t *testing.T) {
	c := Cell{Engine: "zbench", Pattern: "pair", Protocol: "tcp", Size: 32, OutBatchSize: 8192, WriteBatching: true,
		Sockets: 1, Processes: DefaultProcesses, Rate: DefaultRate}
	base := "engine=zbench/pattern=pair/protocol=tcp/size=32/out_batch_size=8192/write_batching=true/sockets=1"
	if c.ID() != base {
		t.Errorf("default cell ID %q, want %q", c.ID(), base)
	}
	c.Processes, c.Rate = 1, 100000
	if want := base + "/processes=1/rate=100000"; c.ID() != want {
		t.Errorf("ID %q, want %q", c.ID(), want)
	}
}
