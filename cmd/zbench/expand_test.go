package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"zbench/matrix"
)

// runCLI runs one zbench command line and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const expandScenario = `default_profile: small
defaults: {runs: 2, warmup_messages: 1, throughput_messages: 10, latency_round_trips: 5, timeout: 3s}
profiles:
  small:
    protocol: [ipc, tcp]
    size: [16384, 32]
    out_batch_size: [8192, 1]
  other:
    protocol: [ws]
    size: [0]
    throughput_duration: 250ms
`

func TestExpandText(t *testing.T) {
	path := writeFile(t, "s.yaml", expandScenario)
	code, stdout, stderr := runCLI(t, "expand", "--scenarios", path, "--filter", "size=16384", "--filter", "protocol=tcp,protocol=ipc")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	want := `engine=zbench  pattern=pair  protocol=ipc  size=16384  out_batch_size=8192  write_batching=true  sockets=1  processes=2  rate=0
engine=zbench  pattern=pair  protocol=ipc  size=16384  out_batch_size=1     write_batching=true  sockets=1  processes=2  rate=0
engine=zbench  pattern=pair  protocol=tcp  size=16384  out_batch_size=8192  write_batching=true  sockets=1  processes=2  rate=0
engine=zbench  pattern=pair  protocol=tcp  size=16384  out_batch_size=1     write_batching=true  sockets=1  processes=2  rate=0
`
	if stdout != want {
		t.Errorf("stdout\n%s\nwant\n%s", stdout, want)
	}
	wantErr := "4 of 8 cells x 2 runs = 8 worker runs (profile small of " + path + ", filter protocol=tcp,protocol=ipc,size=16384)\n"
	if !strings.HasPrefix(stderr, wantErr) {
		t.Errorf("stderr %q, want it to start with %q", stderr, wantErr)
	}
	// 10 messages of 16 KiB per pair fit in any kernel's socket buffers:
	// the throughput phase would be a drain, and expand says so.
	if !strings.Contains(stderr, "warning: profile small: throughput_messages 10 of 16384 B over tcp") {
		t.Errorf("stderr lacks the drain warning:\n%s", stderr)
	}

	code, _, stderr = runCLI(t, "expand", "--scenarios", path, "--profile", "other")
	if want := "1 cells x 2 runs = 2 worker runs (profile other of " + path + ")\n"; code != exitOK || stderr != want {
		t.Errorf("--profile other: exit %d, stderr %q, want %q", code, stderr, want)
	}
}

// TestExpandFullProfile checks every line against the cells the matrix
// package expands, using the default scenario file of the working directory.
func TestExpandFullProfile(t *testing.T) {
	t.Chdir(filepath.Join("..", ".."))
	code, stdout, stderr := runCLI(t, "expand", "--profile", "full")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	file, err := matrix.Load(matrix.DefaultFile)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := file.Resolve("full")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, c := range sc.Cells() {
		var kv []string
		for _, axis := range matrix.Axes {
			v, _ := c.Value(axis)
			kv = append(kv, axis+"="+v)
		}
		want = append(want, strings.Join(kv, "/"))
	}
	var got []string
	for line := range strings.Lines(stdout) {
		got = append(got, strings.Join(strings.Fields(line), "/"))
	}
	if len(got) != 216 || !slices.Equal(got, want) {
		t.Errorf("got %d lines, want the 216 cells of full in order; first lines:\n%s", len(got), strings.Join(got[:min(3, len(got))], "\n"))
	}
	if !strings.HasPrefix(stderr, "216 cells x 20 runs = 4320 worker runs (profile full of scenarios.yaml)") {
		t.Errorf("stderr %q", stderr)
	}
}

func TestExpandJSON(t *testing.T) {
	path := writeFile(t, "s.yaml", expandScenario)
	code, stdout, stderr := runCLI(t, "expand", "--scenarios", path, "--json", "--filter", "out_batch_size=1")
	if code != exitOK {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	var got []struct {
		ID string `json:"id"`
		matrix.Cell
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("stdout is not a JSON array of cells: %v\n%s", err, stdout)
	}
	file, _ := matrix.Load(path)
	sc, _ := file.Resolve("")
	var want []matrix.Cell
	for _, c := range sc.Cells() {
		if c.OutBatchSize == 1 {
			want = append(want, c)
		}
	}
	if len(got) != len(want) || len(got) != 4 {
		t.Fatalf("got %d cells, want %d", len(got), len(want))
	}
	for i, g := range got {
		if g.Cell != want[i] || g.ID != want[i].ID() {
			t.Errorf("cell %d = %+v (id %s), want %+v", i, g.Cell, g.ID, want[i])
		}
	}
}

func TestExpandBadInput(t *testing.T) {
	bad := writeFile(t, "bad.yaml", "profiles:\n  p:\n    protocol: [udp]\n    size: [32, -1]\n")
	good := writeFile(t, "good.yaml", expandScenario)
	tests := []struct {
		name string
		args []string
		want []string // parts of stderr
	}{
		{"bad file", []string{"--scenarios", bad}, []string{
			bad + `:3:16: unknown protocol "udp"; allowed: tcp, ipc, ws`,
			bad + ":4:16: size -1 is negative; allowed: integers 0..268435456",
		}},
		{"missing file", []string{"--scenarios", filepath.Join(t.TempDir(), "none.yaml")}, []string{"no such file"}},
		{"unknown profile", []string{"--scenarios", good, "--profile", "huge"}, []string{`unknown profile "huge"; allowed: small, other`}},
		{"bad filter", []string{"--scenarios", good, "--filter", "proto=tcp"}, []string{`unknown key "proto"; allowed: engine, pattern, protocol`}},
		{"bad filter value", []string{"--scenarios", good, "--filter", "sockets=many"}, []string{`sockets "many" is not an integer; allowed: integers 1..1024`}},
		{"no match", []string{"--scenarios", good, "--filter", "protocol=ws,size=32"}, []string{`selects no cell of profile "small"; allowed: protocol ipc, tcp; size 16384, 32`}},
		{"argument", []string{"--scenarios", good, "full"}, []string{`unknown command "full"`}},
		{"unknown flag", []string{"--scenario", good}, []string{`unknown flag --scenario for "zbench expand"; allowed: --filter, --help, --json, --profile, --scenarios`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, append([]string{"expand"}, tt.args...)...)
			if code != exitBadInput {
				t.Errorf("exit %d, want %d; stderr %s", code, exitBadInput, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q, want it to contain %q", stderr, w)
				}
			}
		})
	}
}

func TestExpandFlags(t *testing.T) {
	var got *expandOptions
	cmd := newExpandCmdWith(func(o *expandOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--profile", "full", "--filter", "size=32", "--filter", "", "--filter", "protocol=tcp,size=64", "--json"})
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Scenarios != matrix.DefaultFile || got.Profile != "full" || !got.JSON {
		t.Errorf("options %+v, want the default file, profile full and --json", got)
	}
	if want := "protocol=tcp,size=32,size=64"; got.filter.String() != want {
		t.Errorf("filter %q, want the repeated --filter values combined: %q", got.filter.String(), want)
	}
}
