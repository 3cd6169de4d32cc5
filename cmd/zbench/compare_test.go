package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zbench/matrix"
	"zbench/report"
	"zbench/runner/sample"
)

var cmpCells = []matrix.Cell{
	{Engine: "zbench", Pattern: "pair", Protocol: "tcp", Size: 32, OutBatchSize: 8192, WriteBatching: true, Sockets: 1},
	{Engine: "zbench", Pattern: "pair", Protocol: "ipc", Size: 32, OutBatchSize: 8192, WriteBatching: true, Sockets: 1},
}

// synthResult is a result set of runs runs of cmpCells; throughput is
// rate msg/s spread by 0.2 % steps (offset interleaves two sets of the same
// rate), and the tail latency scales inversely with it.
func synthResult(rate float64, runs, offset int) *report.Result {
	var ss []sample.Sample
	for _, c := range cmpCells {
		for k := 1; k <= runs; k++ {
			v := rate * (1 + 0.002*float64(2*k+offset))
			ss = append(ss, sample.Sample{
				Cell: c.ID(), Run: k, Status: sample.StatusOK,
				Throughput: sample.Throughput{Messages: 100000, Seconds: 100000 / v, MsgsPerSec: v},
				Latency:    sample.Latency{RoundTrips: 1000, RTTP50Ns: int64(2e10 / v), RTTP99Ns: int64(6e10 / v)},
				Resources:  sample.Resources{UserCPUNs: 6e8, SysCPUNs: 3e8, CPUNsPerMsg: 9e8 / 110000, PeakRSSBytes: 12 << 20},
				Engine:     sample.Telemetry{Available: true, MsgsPerWrite: 10},
			})
		}
	}
	env := report.Env{CPUModel: "test CPU", GoVersion: "go1.26.8", Kernel: "Linux 6.8", GOMAXPROCS: 2, Affinity: "0-1", Commit: "unknown"}
	inv := report.Invocation{Start: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC), Profile: "quick", Runs: runs}
	return report.NewResult(inv, env, nil, cmpCells, ss)
}

// writeResult writes r as dir/results.json and returns dir.
func writeResult(t *testing.T, r *report.Result) string {
	t.Helper()
	dir := t.TempDir()
	var b bytes.Buffer
	if err := report.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, report.ResultsJSONFile), b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// zbench runs the command line through main's run and returns the exit code
// and outputs.
func zbench(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := run(args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestCompareGateExitCodes(t *testing.T) {
	old := writeResult(t, synthResult(1e6, 6, 0))
	same := writeResult(t, synthResult(1e6, 6, 1))
	slower := writeResult(t, synthResult(0.9e6, 6, 0)) // -10 % msg/s, +11 % p99
	faster := writeResult(t, synthResult(1.2e6, 6, 0))
	gate := "msgs_per_sec:-5%,rtt_p99_ns:+10%"

	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string // substrings
		stderr string
	}{
		{"no change passes", []string{"compare", old, same, "--fail-on", gate}, exitOK,
			[]string{"gate msgs_per_sec:-5%,rtt_p99_ns:+10%: passed"}, ""},
		{"an improvement passes", []string{"compare", old, faster, "--fail-on", gate}, exitOK,
			[]string{"better", "gate msgs_per_sec:-5%,rtt_p99_ns:+10%: passed"}, ""},
		{"a regression trips", []string{"compare", old, slower, "--fail-on", gate}, exitFailed,
			[]string{"FAILED, 4 significant change(s)", "tcp · 32 B · out_batch 8192 · batching on · 1 socket: msgs_per_sec -10.00% (threshold -5%",
				"ipc · 32 B · out_batch 8192 · batching on · 1 socket: rtt_p99_ns +11.11% (threshold +10%"},
			"regression gate tripped"},
		{"a wider threshold passes", []string{"compare", old, slower, "--fail-on", "msgs_per_sec:-15%"}, exitOK,
			[]string{"passed"}, ""},
		{"no gate, no failure", []string{"compare", old, slower}, exitOK, []string{"worse"}, ""},
		{"unknown metric", []string{"compare", old, same, "--metrics", "msgs_per_minute"}, exitBadInput, nil, "--metrics: unknown metric"},
		{"unknown gated metric", []string{"compare", old, same, "--fail-on", "p99:+10%"}, exitBadInput, nil, "unknown metric \"p99\""},
		{"unparsable threshold", []string{"compare", old, same, "--fail-on", "msgs_per_sec:-5"}, exitBadInput, nil, "--fail-on: bad threshold"},
		{"threshold in the good direction", []string{"compare", old, same, "--fail-on", "msgs_per_sec:+5%"}, exitBadInput, nil, "the regression is msgs_per_sec:-5%"},
		{"unreadable input", []string{"compare", old, filepath.Join(t.TempDir(), "missing")}, exitBadInput, nil, "new result set:"},
		{"wrong format", []string{"compare", old, same, "--format", "html"}, exitBadInput, nil, "--format \"html\": allowed: text, md, json"},
		{"one argument", []string{"compare", old}, exitBadInput, nil, "want OLD and NEW"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := zbench(c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout, stderr)
			}
			for _, s := range c.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			if !strings.Contains(stderr, c.stderr) || (c.stderr == "") != (stderr == "") {
				t.Errorf("stderr %q, want %q", stderr, c.stderr)
			}
		})
	}
}

func TestCompareMalformedInput(t *testing.T) {
	old := writeResult(t, synthResult(1e6, 6, 0))
	bad := filepath.Join(t.TempDir(), "results.json")
	if err := os.WriteFile(bad, []byte("{\n \"schema_version\": 1,\n \"cells\": [1,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := zbench("compare", bad, old)
	if code != exitBadInput || !strings.Contains(stderr, "old result set: "+bad+":") {
		t.Errorf("exit %d, stderr %q; want 2 naming the file", code, stderr)
	}
}

func TestCompareFormats(t *testing.T) {
	old := writeResult(t, synthResult(1e6, 6, 0))
	new := writeResult(t, synthResult(1.2e6, 3, 0))

	code, stdout, stderr := zbench("compare", old, new, "--format", "json", "--metrics", "msgs_per_sec", "--fail-on", "rtt_p99_ns:+10%")
	// The gate could not judge its metric in either cell (3 new runs).
	if code != exitBadInput || !strings.Contains(stderr, "could not judge 2 gated cell-metric(s)") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var doc report.CompareDocument
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatal(err)
	}
	// The gated metric is compared although --metrics leaves it out.
	if len(doc.Entries) != 4 || doc.Metrics[1] != report.MetricRTTP99 {
		t.Errorf("%d entries, metrics %v; want 4 with rtt_p99_ns added", len(doc.Entries), doc.Metrics)
	}
	for _, e := range doc.Entries {
		if e.Significant || e.Reason == "" || e.NewN != 3 {
			t.Errorf("3 new runs judged: %+v", e)
		}
	}
	if doc.Gate == nil || !doc.Gate.Passed || doc.Gate.Unjudged != 2 || len(doc.Gate.NotJudged) != 2 {
		t.Errorf("gate %+v, want no violation and 2 unjudged", doc.Gate)
	}

	code, stdout, _ = zbench("compare", old, new, "--format", "md")
	if code != exitOK || !strings.HasPrefix(stdout, "## zbench compare: "+old+" → "+new) ||
		!strings.Contains(stdout, "too few runs (6 old, 3 new; need 4 per side)") {
		t.Errorf("exit %d, Markdown:\n%s", code, stdout)
	}
}

func TestCompareFlagsReachRun(t *testing.T) {
	var got *compareOptions
	cmd := newCompareCmdWith(func(o *compareOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"a", "b", "--metrics", "rss_bytes", "--metrics", "msgs_per_sec", "--fail-on", "rtt_p50_ns:+3%", "--format", "markdown"})
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Old != "a" || got.New != "b" || got.Format != "md" {
		t.Errorf("options %+v", got)
	}
	if want := []string{"rss_bytes", "msgs_per_sec", "rtt_p50_ns"}; strings.Join(got.metrics, ",") != strings.Join(want, ",") {
		t.Errorf("metrics %v, want %v", got.metrics, want)
	}
	if len(got.thresholds) != 1 || got.thresholds[0].String() != "rtt_p50_ns:+3%" {
		t.Errorf("thresholds %v", got.thresholds)
	}
}

// A gate exits 2, saying why, when a gated metric could not be judged in a
// cell both sides have; a regression elsewhere still exits 1.
func TestCompareGateCannotJudge(t *testing.T) {
	old := writeResult(t, synthResult(1e6, 6, 0))

	// Schema 1 against the same figures in schema 2: msgs_per_sec's
	// definition changed.
	v1 := synthResult(1e6, 6, 0)
	v1.SchemaVersion = 1
	v1Dir := writeResult(t, v1)
	v2, err := report.ReadResult(v1Dir)
	if err != nil {
		t.Fatal(err)
	}
	v2.SchemaVersion = report.SchemaVersion
	v2Dir := writeResult(t, v2)

	noTelemetry := synthResult(1e6, 6, 1)
	for i := range noTelemetry.Samples {
		noTelemetry.Samples[i].Engine = sample.Telemetry{}
	}
	slowNoTelemetry := synthResult(0.8e6, 6, 0)
	for i := range slowNoTelemetry.Samples {
		slowNoTelemetry.Samples[i].Engine = sample.Telemetry{}
	}
	allFailed := synthResult(1e6, 6, 1)
	for i := range allFailed.Samples {
		if allFailed.Samples[i].Cell == cmpCells[1].ID() {
			allFailed.Samples[i].Status, allFailed.Samples[i].Error = sample.StatusFailed, "worker exited with status 2"
		}
	}
	allFailed = report.NewResult(allFailed.Invocation, allFailed.Env, nil, cmpCells, allFailed.Samples)
	otherCells := synthResult(1e6, 6, 1)
	for i := range otherCells.Samples {
		otherCells.Samples[i].Cell += "-renamed"
	}
	for i := range otherCells.Cells {
		otherCells.Cells[i].ID += "-renamed"
	}

	cases := []struct {
		name     string
		old, new string
		failOn   string
		code     int
		stderr   []string
	}{
		{"too few runs", old, writeResult(t, synthResult(1e6, 3, 1)), "msgs_per_sec:-5%", exitBadInput,
			[]string{"could not judge 2 gated cell-metric(s)", "msgs_per_sec: too few runs (6 old, 3 new; need 4 per side)"}},
		{"definition changed", v1Dir, v2Dir, "msgs_per_sec:-5%", exitBadInput,
			[]string{"could not judge 2 gated cell-metric(s)", "its definition changed"}},
		{"missing on one side", old, writeResult(t, noTelemetry), "msgs_per_write:-5%", exitBadInput,
			[]string{"could not judge 2 gated cell-metric(s)", "msgs_per_write was not measured on the new side"}},
		{"every run of a cell failed", old, writeResult(t, allFailed), "rtt_p99_ns:+10%", exitBadInput,
			[]string{"could not judge 1 gated cell-metric(s)", "ipc · 32 B", "rtt_p99_ns was not measured on the new side"}},
		{"no common cell", old, writeResult(t, otherCells), "rtt_p99_ns:+10%", exitBadInput,
			[]string{"could not judge 1 gated cell-metric(s)", "no cell is in both result sets"}},
		{"not gated, not judged: no exit 2", old, writeResult(t, synthResult(1e6, 3, 1)), "", exitOK, nil},
		{"regression beside an unjudged metric", old, writeResult(t, slowNoTelemetry), "msgs_per_sec:-5%,msgs_per_write:-5%", exitFailed,
			[]string{"regression gate tripped: 2 significant change(s)", "it could not judge 2 more gated cell-metric(s)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"compare", c.old, c.new}
			if c.failOn != "" {
				args = append(args, "--fail-on", c.failOn)
			}
			code, stdout, stderr := zbench(args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout, stderr)
			}
			for _, s := range c.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if c.code != exitOK && !strings.Contains(stdout, "could not judge") {
				t.Errorf("the rendered gate does not say it was not judged:\n%s", stdout)
			}
		})
	}
}
