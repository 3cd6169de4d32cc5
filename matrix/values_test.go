package matrix

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestAxisValuesValues(t *testing.T) {
	a := AxisValues{
		Engine: []string{"zmq4"}, Pattern: []string{"pub-sub"}, Protocol: []string{"ws", "tcp"},
		Size: []int{0, 16384}, OutBatchSize: []int{1}, WriteBatching: []bool{false, true}, Sockets: []int{8}, Processes: []int{2}, Rate: []int{0},
	}
	want := map[string][]string{
		AxisEngine: {"zmq4"}, AxisPattern: {"pub-sub"}, AxisProtocol: {"ws", "tcp"}, AxisSize: {"0", "16384"},
		AxisOutBatchSize: {"1"}, AxisWriteBatching: {"false", "true"}, AxisSockets: {"8"}, AxisProcesses: {"2"}, AxisRate: {"0"},
	}
	for _, axis := range Axes {
		if got := a.Values(axis); !slices.Equal(got, want[axis]) {
			t.Errorf("Values(%s) = %v, want %v", axis, got, want[axis])
		}
	}
	if a.Values("colour") != nil {
		t.Error("Values of an unknown axis must be nil")
	}
	if a.Count() != 8 {
		t.Errorf("Count() = %d, want 8", a.Count())
	}
}

func TestCellValidate(t *testing.T) {
	good := Cell{Engine: "zbench", Pattern: "pair", Protocol: "tcp", Size: 0, OutBatchSize: 1, WriteBatching: true, Sockets: 1024, Processes: 1,
		Workload: Workload{ThroughputDuration: Duration(time.Second), LatencyRoundTrips: 1, Timeout: Duration(time.Second)}}
	if err := good.Validate(); err != nil {
		t.Errorf("Validate(%s) = %v", good.ID(), err)
	}
	bad := Cell{Engine: "nanomsg", Pattern: "pair", Protocol: "udp", Size: MaxSize + 1, OutBatchSize: 0, Sockets: 0}
	err := bad.Validate()
	var errs Errors
	if !errors.As(err, &errs) || !errors.Is(err, ErrBadValue) {
		t.Fatalf("Validate(bad) = %v, want Errors of ErrBadValue", err)
	}
	for _, want := range []string{`unknown engine "nanomsg"`, `unknown protocol "udp"`, "size 268435457 is above", "out_batch_size 0 is below 1",
		"sockets 0 is below 1", "processes 0 is below 1", "neither throughput_messages nor throughput_duration", "latency_round_trips 0 is below 1", "timeout 0s is not positive"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate(bad) = %v, want it to say %q", err, want)
		}
	}
	if len(errs) != 9 {
		t.Errorf("Validate(bad) gave %d problems, want 9", len(errs))
	}
}

func TestWorkloadValidate(t *testing.T) {
	base := Workload{WarmupMessages: 0, ThroughputMessages: 10, LatencyRoundTrips: 1, Timeout: Duration(time.Second)}
	if err := base.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v", base, err)
	}
	tests := []struct {
		change func(*Workload)
		want   string
	}{
		{func(w *Workload) { w.ThroughputDuration = Duration(time.Second) }, "both throughput_messages and throughput_duration are set"},
		{func(w *Workload) { w.ThroughputMessages = -1 }, "throughput_messages -1 is negative"},
		{func(w *Workload) { w.ThroughputMessages, w.ThroughputDuration = 0, -1 }, "throughput_duration -1ns is negative"},
		{func(w *Workload) { w.WarmupMessages = -3 }, "warmup_messages -3 is negative"},
		{func(w *Workload) { w.Timeout = -1 }, "timeout -1ns is not positive"},
	}
	for _, tt := range tests {
		w := base
		tt.change(&w)
		err := w.Validate()
		if !errors.Is(err, ErrBadValue) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want %q", w, err, tt.want)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{File: "s.yaml", Line: 3, Col: 7, Msg: "bad", Allowed: "a, b"}, "s.yaml:3:7: bad; allowed: a, b"},
		{Error{File: "s.yaml", Line: 3, Msg: "bad"}, "s.yaml:3: bad"},
		{Error{File: "s.yaml", Msg: "bad"}, "s.yaml: bad"},
		{Error{Msg: "filter: bad", Allowed: "x"}, "filter: bad; allowed: x"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	one := Errors{&tests[0].e}
	if one.Error() != tests[0].want {
		t.Errorf("Errors of one = %q, want the problem alone", one.Error())
	}
}
