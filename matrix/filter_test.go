package matrix

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"", ""},
		{"  ", ""},
		{"protocol=tcp", "protocol=tcp"},
		{" size = 32 , protocol=tcp,size=1024,size=32", "protocol=tcp,size=32,size=1024"},
		{"size=0032", "size=32"},
		{"sockets=8,engine=libzmq,write_batching=false,out_batch_size=1,pattern=req-rep",
			"engine=libzmq,pattern=req-rep,out_batch_size=1,write_batching=false,sockets=8"},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.expr)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.expr, err)
			continue
		}
		if got := f.String(); got != tt.want {
			t.Errorf("ParseFilter(%q).String() = %q, want %q", tt.expr, got, tt.want)
		}
		if f.IsEmpty() != (tt.want == "") {
			t.Errorf("ParseFilter(%q).IsEmpty() = %t", tt.expr, f.IsEmpty())
		}
		again, err := ParseFilter(f.String())
		if err != nil || again.String() != f.String() {
			t.Errorf("ParseFilter(%q) does not round-trip: %q, %v", f.String(), again.String(), err)
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		expr string
		want []string // one message part per problem
	}{
		{"size", []string{`filter: term "size" is not key=value; allowed: key=value terms`}},
		{"=tcp", []string{`term "=tcp" is not key=value`}},
		{"protocol=", []string{`term "protocol=" is not key=value`}},
		{"size=32,,protocol=tcp", []string{`term "" is not key=value`}},
		{"proto=tcp", []string{`filter: unknown key "proto"; allowed: engine, pattern, protocol, size, out_batch_size, write_batching, sockets`}},
		{"size=abc", []string{`filter: size "abc" is not an integer; allowed: integers 0..268435456 (bytes)`}},
		{"size=-1", []string{`filter: size -1 is negative; allowed: integers 0..268435456`}},
		{"sockets=0", []string{`sockets 0 is below 1; allowed: integers 1..1024`}},
		{"out_batch_size=0", []string{`out_batch_size 0 is below 1`}},
		{"protocol=udp", []string{`filter: unknown protocol "udp"; allowed: tcp, ipc, ws`}},
		{"engine=nanomsg", []string{`unknown engine "nanomsg"; allowed: zbench, libzmq, zmq4`}},
		{"pattern=router", []string{`unknown pattern "router"; allowed: pair, push-pull`}},
		{"write_batching=yes", []string{`write_batching "yes" is not a boolean; allowed: true, false`}},
		{"protocol=udp,size=32,sockets=x", []string{`unknown protocol "udp"`, `sockets "x" is not an integer`}},
	}
	for _, tt := range tests {
		f, err := ParseFilter(tt.expr)
		if err == nil {
			t.Errorf("ParseFilter(%q) = %q, want an error", tt.expr, f)
			continue
		}
		if !errors.Is(err, ErrBadFilter) {
			t.Errorf("ParseFilter(%q) error %v is not ErrBadFilter", tt.expr, err)
		}
		var errs Errors
		if !errors.As(err, &errs) || len(errs) != len(tt.want) {
			t.Errorf("ParseFilter(%q) = %v, want %d problems", tt.expr, err, len(tt.want))
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(errs[i].Error(), w) {
				t.Errorf("ParseFilter(%q) problem %d = %q, want %q", tt.expr, i, errs[i], w)
			}
			if errs[i].Line != 0 || errs[i].File != "" {
				t.Errorf("filter problem %q has a file position", errs[i])
			}
		}
	}
}

func mustFilter(t *testing.T, expr string) Filter {
	t.Helper()
	f, err := ParseFilter(expr)
	if err != nil {
		t.Fatalf("ParseFilter(%q): %v", expr, err)
	}
	return f
}

func TestFilterApplyAndNarrow(t *testing.T) {
	quick := resolve(t, parseSmall(t), "small")
	quick.Axes.OutBatchSize = []int{8192, 1}
	all := quick.Cells()
	tests := []struct {
		expr string
		keep func(Cell) bool
	}{
		{"", func(Cell) bool { return true }},
		{"protocol=tcp", func(c Cell) bool { return c.Protocol == "tcp" }},
		{"size=32,size=64", func(c Cell) bool { return true }},
		{"protocol=tcp,size=32", func(c Cell) bool { return c.Protocol == "tcp" && c.Size == 32 }},
		{"out_batch_size=1,sockets=2,sockets=4", func(c Cell) bool { return c.OutBatchSize == 1 && c.Sockets == 2 }},
		{"write_batching=true,engine=zbench,pattern=pair", func(Cell) bool { return true }},
	}
	for _, tt := range tests {
		f := mustFilter(t, tt.expr)
		var want []string
		for _, c := range all {
			if tt.keep(c) {
				want = append(want, c.ID())
			}
		}
		got, err := f.Apply(all)
		if err != nil {
			t.Errorf("Apply(%q): %v", tt.expr, err)
			continue
		}
		if !slices.Equal(ids(got), want) {
			t.Errorf("Apply(%q) = %v, want %v", tt.expr, ids(got), want)
		}
		n, err := quick.Narrow(f)
		if err != nil {
			t.Errorf("Narrow(%q): %v", tt.expr, err)
			continue
		}
		if !slices.Equal(ids(n.Cells()), want) {
			t.Errorf("Narrow(%q).Cells() = %v, want %v", tt.expr, ids(n.Cells()), want)
		}
		if n.Filter != f.String() {
			t.Errorf("Narrow(%q).Filter = %q, want %q", tt.expr, n.Filter, f.String())
		}
	}
	if len(quick.Cells()) != len(all) {
		t.Error("Narrow changed the scenario it was called on")
	}
}

func TestFilterNoMatch(t *testing.T) {
	s := resolve(t, parseSmall(t), "small")
	f := mustFilter(t, "size=1024,protocol=ws,sockets=1")

	_, err := s.Narrow(f)
	want := `filter "protocol=ws,size=1024,sockets=1" selects no cell of profile "small"; allowed: protocol ipc, tcp; size 64, 32; sockets 1, 2`
	if !errors.Is(err, ErrBadFilter) || err.Error() != want {
		t.Errorf("Narrow = %v, want ErrBadFilter %q", err, want)
	}

	_, err = f.Apply(s.Cells())
	want = `filter "protocol=ws,size=1024,sockets=1" selects none of the 8 cells; allowed: protocol ipc, tcp; size 64, 32; sockets 1, 2`
	if !errors.Is(err, ErrBadFilter) || err.Error() != want {
		t.Errorf("Apply = %v, want ErrBadFilter %q", err, want)
	}
}

func TestFilterMatch(t *testing.T) {
	c := Cell{Engine: "zbench", Pattern: "pair", Protocol: "ws", Size: 32, OutBatchSize: 1, WriteBatching: false, Sockets: 4}
	for expr, want := range map[string]bool{
		"write_batching=false":                true,
		"write_batching=true":                 false,
		"protocol=tcp,protocol=ws":            true,
		"protocol=ws,size=33":                 false,
		"out_batch_size=1,sockets=4":          true,
		"engine=zbench,engine=libzmq,size=32": true,
	} {
		if got := mustFilter(t, expr).Match(c); got != want {
			t.Errorf("%q.Match(%s) = %t, want %t", expr, c.ID(), got, want)
		}
	}
	if !(Filter{}).Match(c) || !(Filter{}).IsEmpty() {
		t.Error("the zero Filter must match every cell")
	}
}
