package matrix

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// wantErr is one expected problem: its position, its sentinel and a part of
// its message (including the allowed part where the test cares).
type wantErr struct {
	line, col int
	kind      error
	msg       string
}

func TestLoadBadFiles(t *testing.T) {
	const allowedKeys = "allowed: description, engine, pattern, protocol, size, out_batch_size, write_batching, sockets, processes, rate, runs, warmup_messages, throughput_messages, throughput_duration, latency_round_trips, timeout"
	tests := []struct {
		file string
		want []wantErr
	}{
		{"syntax.yaml", []wantErr{
			{3, 0, ErrSyntax, "invalid YAML: did not find expected ',' or ']'"},
		}},
		{"tab.yaml", []wantErr{
			{2, 0, ErrSyntax, "invalid YAML: found character that cannot start any token"},
		}},
		{"empty.yaml", []wantErr{
			{0, 0, ErrMissingKey, "the file is empty; allowed: default_profile, defaults, hosts, profiles"},
		}},
		{"two_docs.yaml", []wantErr{
			{3, 1, ErrSyntax, "a second YAML document"},
		}},
		{"no_profiles.yaml", []wantErr{
			{1, 1, ErrMissingKey, "the file has no profiles mapping"},
		}},
		{"empty_profiles.yaml", []wantErr{
			{1, 11, ErrMissingKey, "profiles defines no profile"},
		}},
		{"unknown_keys.yaml", []wantErr{
			{2, 1, ErrUnknownKey, `unknown key "default" in the scenario file; allowed: default_profile, defaults, hosts, profiles`},
			{5, 3, ErrUnknownKey, `unknown key "warmup" in defaults; allowed: runs, warmup_messages, throughput_messages, throughput_duration, latency_round_trips, timeout`},
			{12, 5, ErrUnknownKey, `unknown key "protocols" in profile "quick"; ` + allowedKeys},
			{15, 5, ErrUnknownKey, `unknown key "<<" in profile "quick"`},
		}},
		{"wrong_types.yaml", []wantErr{
			{2, 9, ErrBadType, `runs must be an integer, not the string "3"; allowed: integers >= 1`},
			{3, 20, ErrBadType, "warmup_messages must be an integer, not the number 1.5; allowed: integers >= 0"},
			{5, 24, ErrBadType, "latency_round_trips must be an integer, not a list"},
			{6, 12, ErrBadType, "timeout must be a duration with a unit, not the integer 60; allowed: a positive duration"},
			{9, 18, ErrBadType, "description must be a string, not a list"},
			{10, 16, ErrBadType, "protocol must be a word, not the integer 1; allowed: tcp, ipc, ws"},
			{11, 11, ErrBadType, "size must be a list, not the integer 32; allowed: a list of integers 0..268435456 (bytes)"},
			{12, 22, ErrBadType, `write_batching must be true or false, not the string "yes"; allowed: true, false`},
			{13, 18, ErrBadType, "sockets must be an integer, not the number 2.0; allowed: integers 1..1024"},
			{14, 10, ErrBadType, `profile "other" must be a mapping, not a list; allowed: a mapping with keys description, engine`},
			{15, 9, ErrBadType, `profile "third" must be a mapping, not an empty value`},
		}},
		{"empty_axes.yaml", []wantErr{
			{4, 13, ErrBadValue, "engine is empty; allowed: at least one of zbench, libzmq, zmq4"},
			{5, 15, ErrBadValue, "protocol is empty; allowed: at least one of tcp, ipc, ws"},
			{7, 13, ErrBadType, "sockets must be a list, not an empty value; allowed: a list of integers 1..1024"},
		}},
		{"duplicates.yaml", []wantErr{
			{4, 26, ErrDuplicate, "protocol tcp is listed twice (first at 4:16)"},
			{5, 16, ErrDuplicate, "size 32 is listed twice (first at 5:12)"},
			{6, 35, ErrDuplicate, "write_batching true is listed twice (first at 6:22)"},
			{7, 5, ErrDuplicate, `key "size" appears twice in profile "quick" (first at 5:5)`},
			{8, 3, ErrDuplicate, `key "quick" appears twice in profiles (first at 3:3)`},
		}},
		{"bad_values.yaml", []wantErr{
			{4, 22, ErrBadValue, `unknown engine "nanomsg"; allowed: zbench, libzmq, zmq4`},
			{5, 15, ErrBadValue, `unknown pattern "router"; allowed: pair, push-pull, req-rep, dealer-router, pub-sub`},
			{6, 16, ErrBadValue, `unknown protocol "udp"; allowed: tcp, ipc, ws`},
			{7, 12, ErrBadValue, "size -1 is negative; allowed: integers 0..268435456 (bytes)"},
			{7, 30, ErrBadValue, "size 268435457 is above 268435456"},
			{8, 22, ErrBadValue, "out_batch_size 0 is below 1; allowed: integers 1..268435456"},
			{9, 15, ErrBadValue, "sockets 0 is below 1; allowed: integers 1..1024"},
			{9, 24, ErrBadValue, "sockets 1025 is above 1024"},
			{10, 11, ErrBadValue, "runs 99999999999999999999 is too large"},
		}},
		{"unknown_default_profile.yaml", []wantErr{
			{1, 18, ErrUnknownProfile, `default_profile "nope" is not a profile of this file; allowed: quick, full`},
		}},
		{"throughput.yaml", []wantErr{
			{7, 3, ErrBadValue, "defaults sets both throughput_messages and throughput_duration; allowed: exactly one of throughput_messages, throughput_duration"},
			{13, 5, ErrBadValue, `profile "both" sets both throughput_messages and throughput_duration`},
		}},
		{"workload_values.yaml", []wantErr{
			{2, 9, ErrBadValue, "runs 0 is below 1; allowed: integers >= 1"},
			{3, 20, ErrBadValue, "warmup_messages -1 is negative; allowed: integers >= 0"},
			{4, 24, ErrBadValue, "throughput_messages -1 is below 1"},
			{5, 24, ErrBadValue, "latency_round_trips 0 is below 1"},
			{6, 12, ErrBadValue, "timeout 0s is not positive; allowed: a positive duration"},
			{11, 26, ErrBadValue, `throughput_duration "fast" is not a duration`},
			{12, 14, ErrBadValue, "timeout -1s is not positive"},
		}},
		{"missing.yaml", []wantErr{
			{2, 3, ErrMissingKey, `profile "bare" has no protocol axis; allowed: a list of tcp, ipc, ws`},
			{2, 3, ErrMissingKey, `profile "bare" has no size axis`},
		}},
		{"profile_name.yaml", []wantErr{
			{3, 3, ErrBadValue, `profile name "bad name!" is not allowed; allowed: letters, digits`},
			{4, 3, ErrBadValue, `profile name "-dash" is not allowed`},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tt.file)
			f, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %v, want errors", path, f.ProfileNames())
			}
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Load(%s) error %T does not unwrap to Errors: %v", path, err, err)
			}
			if len(errs) != len(tt.want) {
				t.Fatalf("Load(%s) gave %d problems, want %d:\n%v", path, len(errs), len(tt.want), err)
			}
			for i, w := range tt.want {
				e := errs[i]
				if e.File != path || e.Line != w.line || e.Col != w.col {
					t.Errorf("problem %d at %s:%d:%d, want %s:%d:%d: %v", i, e.File, e.Line, e.Col, path, w.line, w.col, e)
				}
				if !errors.Is(e, w.kind) || !errors.Is(err, w.kind) {
					t.Errorf("problem %d is not %v: %v", i, w.kind, e)
				}
				if !strings.Contains(e.Error(), w.msg) {
					t.Errorf("problem %d = %q, want it to contain %q", i, e.Error(), w.msg)
				}
				prefix := path + ":"
				if w.line > 0 {
					prefix += fmt.Sprintf("%d:", w.line)
					if w.col > 0 {
						prefix += fmt.Sprintf("%d:", w.col)
					}
				}
				if !strings.HasPrefix(e.Error(), prefix+" ") {
					t.Errorf("problem %d = %q, want prefix %q", i, e.Error(), prefix)
				}
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file = %v, want os.ErrNotExist", err)
	}
}

func TestErrorsAreSortedAndAllReported(t *testing.T) {
	// Problems in the profiles come before a problem in defaults in the
	// walk, but after it in the file.
	src := `profiles:
  a: {protocol: [tcp], size: [-1]}
defaults:
  runs: 0
  warmup_messages: 0
  throughput_messages: 1
  latency_round_trips: 1
  timeout: 1s
default_profile: [a]
`
	_, err := Parse("s.yaml", []byte(src))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Parse = %v, want Errors", err)
	}
	var got []string
	for _, e := range errs {
		got = append(got, fmt.Sprintf("%d:%d", e.Line, e.Col))
	}
	want := []string{"2:31", "4:9", "9:18"}
	if !slices.Equal(got, want) {
		t.Errorf("positions %v, want %v\n%v", got, want, err)
	}
	if want := "default_profile must be a string, not a list; allowed: the name of a profile: a"; !strings.HasSuffix(errs[2].Error(), want) {
		t.Errorf("problem = %q, want it to end in %q", errs[2], want)
	}
	if !strings.HasPrefix(err.Error(), "3 problems:\ns.yaml:2:31: ") {
		t.Errorf("Error() = %q, want a count line then one problem per line", err.Error())
	}
}

func TestTooManyCells(t *testing.T) {
	ints := func(n int) string {
		var s []string
		for i := 1; i <= n; i++ {
			s = append(s, fmt.Sprint(i))
		}
		return "[" + strings.Join(s, ", ") + "]"
	}
	src := fmt.Sprintf(`defaults: {runs: 1, warmup_messages: 0, throughput_messages: 1, latency_round_trips: 1, timeout: 1s}
profiles:
  ok: {protocol: [tcp, ipc, ws], size: %s, out_batch_size: %s}
  huge:
    engine: [zbench, libzmq, zmq4]
    pattern: [pair, push-pull, req-rep, dealer-router, pub-sub]
    protocol: [tcp, ipc, ws]
    size: %s
    sockets: %s
`, ints(100), ints(100), ints(100), ints(100))
	_, err := Parse("big.yaml", []byte(src))
	var e *Error
	if !errors.As(err, &e) || e.Line != 4 || e.Col != 3 || !errors.Is(err, ErrBadValue) {
		t.Fatalf("Parse = %v, want one ErrBadValue at 4:3", err)
	}
	if want := `profile "huge" expands to`; !strings.Contains(e.Msg, want) || e.Allowed != "at most 100000 cells" {
		t.Errorf("error %q, want %q and the limit", e, want)
	}
	if len(err.(Errors)) != 1 {
		t.Errorf("want only the huge profile reported, got %v", err)
	}
}

func TestRealScenarios(t *testing.T) {
	path := filepath.Join("..", DefaultFile)
	f, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if f.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 = %s, want the file's", f.SHA256)
	}
	if got, want := f.ProfileNames(), []string{"full", "quick", "engines", "load", "ci"}; !slices.Equal(got, want) {
		t.Errorf("profiles %v, want %v", got, want)
	}
	if f.DefaultProfile != "quick" {
		t.Errorf("default profile %q, want quick", f.DefaultProfile)
	}

	full, err := f.Resolve("full")
	if err != nil {
		t.Fatal(err)
	}
	wantFull := AxisValues{
		Engine:        []string{EngineZbench},
		Pattern:       []string{PatternPair},
		Protocol:      []string{ProtocolTCP, ProtocolIPC, ProtocolWS},
		Size:          []int{32, 256, 512, 1024, 4096, 16384},
		OutBatchSize:  []int{8192, 1024, 1},
		WriteBatching: []bool{true},
		Sockets:       []int{1, 2, 4, 8},
		Processes:     []int{2},
		Rate:          []int{0},
	}
	if fmt.Sprint(full.Axes) != fmt.Sprint(wantFull) {
		t.Errorf("full axes %+v, want the plan's %+v", full.Axes, wantFull)
	}
	if n := len(full.Cells()); n != 216 {
		t.Errorf("full expands to %d cells, want 216", n)
	}
	// The file's defaults say what the built-in ones are (a profile that
	// sets nothing gets the same either way).
	if full.Runs != DefaultRuns || full.Workload != DefaultWorkload() {
		t.Errorf("full: runs %d, workload %+v; want the built-in %d and %+v (keep scenarios.yaml's defaults and matrix's in step)",
			full.Runs, full.Workload, DefaultRuns, DefaultWorkload())
	}

	quick, err := f.Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	cells := quick.Cells()
	if quick.Profile != "quick" || len(cells) != 24 {
		t.Errorf("default profile %q has %d cells, want quick with 24", quick.Profile, len(cells))
	}
	// Enough runs per cell for a confidence interval of the median, outlier
	// flags and compare's verdict (report.MinRunsForCI), and make run still
	// done in about a minute at 0.3-0.5 s per two-process run.
	if quick.Runs < 6 {
		t.Errorf("quick does %d runs per cell, want at least 6 (intervals and compare need them)", quick.Runs)
	}
	if runs := len(cells) * quick.Runs; runs > 150 {
		t.Errorf("quick does %d runs, want at most 150 (about a minute)", runs)
	}
	for _, c := range cells {
		if !slices.Contains([]int{32, 1024, 16384}, c.Size) || c.Protocol == ProtocolWS || c.Engine != EngineZbench {
			t.Errorf("quick cell %s outside the promised sizes, protocols or engine", c.ID())
		}
		if c.Workload.ThroughputDuration == 0 || c.Workload.ThroughputDuration > full.Workload.ThroughputDuration {
			t.Errorf("quick cell %s streams for %v, want a duration no longer than full's %v", c.ID(), c.Workload.ThroughputDuration, full.Workload.ThroughputDuration)
		}
	}

	engines, err := f.Resolve("engines")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(engines.Axes.Engine, Engines) || len(engines.Cells()) != 54 {
		t.Errorf("engines profile: engines %v, %d cells; want %v and 54", engines.Axes.Engine, len(engines.Cells()), Engines)
	}
	if !slices.Equal(engines.Axes.Protocol, Protocols) || !slices.Equal(engines.Axes.Size, quick.Axes.Size) {
		t.Errorf("engines profile: protocols %v, sizes %v; want every protocol and quick's sizes %v", engines.Axes.Protocol, engines.Axes.Size, quick.Axes.Size)
	}
	if !slices.Equal(engines.Axes.OutBatchSize, []int{8192}) || !slices.Equal(engines.Axes.Sockets, []int{1}) {
		t.Errorf("engines profile axes %+v, want out_batch_size [8192] and sockets [1]", engines.Axes)
	}

	ci, err := f.Resolve("ci")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ci.Axes.Protocol, ProtocolWS) || len(ci.Cells())*ci.Runs > 20 {
		t.Errorf("ci profile must be tiny and cover ws: %+v runs %d", ci.Axes, ci.Runs)
	}
	for _, name := range f.ProfileNames() {
		s, _ := f.Resolve(name)
		for _, c := range s.Cells() {
			if err := c.Validate(); err != nil {
				t.Errorf("profile %s cell %s: %v", name, c.ID(), err)
			}
		}
	}
}

func TestHostsBlock(t *testing.T) {
	f, err := Parse("h.yaml", []byte(`hosts:
  sender: local
  receiver: bench@10.0.0.2:2222
  data_address: 10.0.0.2
profiles:
  p: {protocol: [tcp], size: [32], runs: 1, warmup_messages: 1, throughput_duration: 100ms, latency_round_trips: 1, timeout: 5s}
`))
	if err != nil {
		t.Fatal(err)
	}
	if want := (Hosts{Sender: "local", Receiver: "bench@10.0.0.2:2222", DataAddress: "10.0.0.2"}); f.Hosts != want {
		t.Errorf("hosts %+v, want %+v", f.Hosts, want)
	}
	_, err = Parse("h.yaml", []byte(`hosts: {sender: "a b", colour: red}
profiles:
  p: {protocol: [tcp], size: [32], runs: 1, warmup_messages: 1, throughput_duration: 100ms, latency_round_trips: 1, timeout: 5s}
`))
	for _, want := range []string{`h.yaml:1:17: hosts.sender "a b" is not a host; allowed: local, or an SSH destination`,
		`unknown key "colour" in hosts; allowed: sender, receiver, data_address`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to say %q", err, want)
		}
	}
}
