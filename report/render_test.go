package report

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"

	"zbench/matrix"
	"zbench/runner/sample"
)

func TestGoldenFiles(t *testing.T) {
	r := fixtureResult()
	charts := PlanCharts(r.Cells)
	renderers := []struct {
		file   string
		render func(*bytes.Buffer) error
	}{
		{"results.golden.json", func(b *bytes.Buffer) error { return WriteJSON(b, r) }},
		{"benchmark_result.golden.txt", func(b *bytes.Buffer) error { return WriteBenchfmt(b, r) }},
		{"BENCHMARK_RESULTS.golden.md", func(b *bytes.Buffer) error { return WriteMarkdown(b, r, charts) }},
		{"summary.golden.txt", func(b *bytes.Buffer) error { return WriteSummary(b, r.Cells) }},
	}
	for _, rr := range renderers {
		t.Run(rr.file, func(t *testing.T) {
			var b bytes.Buffer
			if err := rr.render(&b); err != nil {
				t.Fatal(err)
			}
			golden(t, rr.file, b.Bytes())
		})
	}
}

func TestNewResultMarksIncomplete(t *testing.T) {
	r := fixtureResult()
	want := []string{"3 of 21 runs failed or timed out", "1 of 7 cells have no run"}
	if !r.Invocation.Incomplete || !slices.Equal(r.Invocation.IncompleteReasons, want) {
		t.Errorf("incomplete %v %q, want %q", r.Invocation.Incomplete, r.Invocation.IncompleteReasons, want)
	}

	cells, samples := fixture()
	var clean []sample.Sample
	for _, s := range samples {
		if s.Status == sample.StatusOK || s.Status == sample.StatusUnsupported {
			clean = append(clean, s)
		}
	}
	// Without the all-failed cell and the cell without runs.
	ran := append(slices.Clone(cells[:3]), cells[4:6]...)
	inv := Invocation{}
	inv.MarkIncomplete("interrupted")
	r = NewResult(inv, fixedEnv(), nil, ran, append(clean, badSample(cells[0], 7, sample.StatusInterrupted, "")))
	if !slices.Equal(r.Invocation.IncompleteReasons, []string{"interrupted"}) {
		t.Errorf("reasons %q, want interrupted once", r.Invocation.IncompleteReasons)
	}

	r = NewResult(Invocation{}, fixedEnv(), nil, ran, clean)
	if r.Invocation.Incomplete {
		t.Errorf("result with only ok and unsupported runs marked incomplete: %q", r.Invocation.IncompleteReasons)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, r, nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md.String(), "Incomplete") {
		t.Error("complete result says Incomplete at the top")
	}
	if !strings.Contains(md.String(), "unsupported: ws transport not built in") {
		t.Error("unsupported cell dropped from the Markdown")
	}
}

func TestBenchfmtParses(t *testing.T) {
	// The fixture's cells and the open-loop ones: every metric is on a line.
	fr, lr := fixtureResult(), loadFixture()
	var cells []matrix.Cell
	for _, c := range append(fr.Cells, lr.Cells...) {
		cells = append(cells, c.Cell)
	}
	inv := fr.Invocation
	inv.Incomplete, inv.IncompleteReasons = false, nil // NewResult says why again
	r := NewResult(inv, fr.Env, nil, cells, append(fr.Samples, lr.Samples...))
	var b bytes.Buffer
	if err := WriteBenchfmt(&b, r); err != nil {
		t.Fatal(err)
	}
	wantUnits := map[string]bool{}
	for _, m := range Metrics {
		wantUnits[BenchfmtUnit(m)] = true
	}
	type line struct {
		name  string
		iters int
		units []string
	}
	var lines []line
	rd := benchfmt.NewReader(&b, "benchmark_result.txt")
	for rd.Scan() {
		switch rec := rd.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("syntax error: %v", rec)
		case *benchfmt.Result:
			l := line{name: rec.Name.String(), iters: rec.Iters}
			for _, v := range rec.Values {
				if v.OrigUnit != "" {
					t.Errorf("%s: the reader rescaled %g %s to %s: not written in a base unit", rec.Name, v.OrigValue, v.OrigUnit, v.Unit)
				}
				l.units = append(l.units, v.Unit)
			}
			if len(lines) == 0 {
				for key, want := range map[string]string{"goos": "linux", "goarch": "amd64", "pkg": "zbench",
					"cpu": "AMD EPYC 7B13", "commit": fixedEnv().Commit, "dirty": "true", "zbench-version": "v0.1.0",
					"go": "go1.26.8", "kernel": "Linux 6.8.0-45-generic", "affinity": "0-1", "gomaxprocs": "2", "profile": "quick",
					"incomplete": "true", "incomplete-reason": "3 of 40 runs failed or timed out; 1 of 14 cells have no run"} {
					if got := rec.GetConfig(key); got != want {
						t.Errorf("config %s = %q, want %q", key, got, want)
					}
				}
			}
			lines = append(lines, l)
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}

	var okSamples []sample.Sample
	for _, s := range r.Samples {
		if s.Status == sample.StatusOK {
			okSamples = append(okSamples, s)
		}
	}
	if len(lines) != len(okSamples) {
		t.Fatalf("%d Benchmark lines, want one per ok run (%d)", len(lines), len(okSamples))
	}
	seen := map[string]bool{}
	for i, l := range lines {
		s := okSamples[i]
		if want := "Zbench/" + s.Cell; l.name != want {
			t.Errorf("line %d name %q, want %q", i, l.name, want)
		}
		if int64(l.iters) != s.Throughput.Messages {
			t.Errorf("line %d iterations %d, want %d messages", i, l.iters, s.Throughput.Messages)
		}
		var want []string
		for _, m := range Metrics {
			if _, ok := m.Read(&s); ok {
				want = append(want, BenchfmtUnit(m))
			}
		}
		if !slices.Equal(l.units, want) {
			t.Errorf("line %d units %v, want %v", i, l.units, want)
		}
		for _, u := range l.units {
			seen[u] = true
		}
	}
	for u := range wantUnits {
		if !seen[u] {
			t.Errorf("unit %s on no line", u)
		}
	}
	for _, u := range []string{"msgs/s", "B/s", "p50-sec", "p99-sec", "p99.9-sec", "cpu-%", "cpu-sec/msg", "rss-B", "msgs/write", "gc-pause-sec"} {
		if !wantUnits[u] {
			t.Errorf("unit %s not in the registry", u)
		}
	}
	units := rd.Units()
	if m := units.Get("msgs/s", "better"); m == nil || m.Value != "higher" {
		t.Errorf("msgs/s better = %v, want higher", m)
	}
	if m := units.Get("p99-sec", "better"); m == nil || m.Value != "lower" {
		t.Errorf("p99-sec better = %v, want lower", m)
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{FormatCount(1234567), "1.23M"},
		{FormatCount(999.6), "1.00k"},
		{FormatCount(45600), "45.6k"},
		{FormatCount(789), "789"},
		{FormatCount(5.5), "5.50"},
		{FormatNs(12345), "12.3 µs"},
		{FormatNs(850), "850 ns"},
		{FormatNs(1.5e9), "1.50 s"},
		{FormatNs(999999), "1.00 ms"},
		{FormatSize(32), "32 B"},
		{FormatSize(1024), "1 KiB"},
		{FormatSize(1536), "1.50 KiB"},
		{FormatSize(16384), "16 KiB"},
		{FormatMiB(12 << 20), "12.0"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestJSONNames(t *testing.T) {
	r := fixtureResult()
	var b bytes.Buffer
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Cells []map[string]json.RawMessage `json:"cells"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	c := doc.Cells[0]
	for _, k := range []string{"id", "engine", "pattern", "protocol", "size", "out_batch_size", "write_batching", "sockets", "status", "runs", "metrics"} {
		if _, ok := c[k]; !ok {
			t.Errorf("cell JSON lacks %q", k)
		}
	}
	var metrics map[string]map[string]json.RawMessage
	if err := json.Unmarshal(c["metrics"], &metrics); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"median", "min", "max", "ci_low", "ci_high", "cv", "n"} {
		if _, ok := metrics[MetricRTTP99][k]; !ok {
			t.Errorf("metric JSON lacks %q", k)
		}
	}
}

// Every metric is in the README's metric table, and every definition change
// says so there.
func TestREADMEDocumentsEveryMetric(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	i := strings.Index(readme, "### Metrics")
	if i < 0 {
		t.Fatal("README has no Metrics section")
	}
	table := readme[i:]
	if j := strings.Index(table[1:], "\n#"); j >= 0 {
		table = table[:j+1]
	}
	for _, m := range Metrics {
		row := ""
		for line := range strings.SplitSeq(table, "\n") {
			if strings.Contains(line, "`"+m.Name+"`") {
				row = line
				break
			}
		}
		if row == "" {
			t.Errorf("metric %s is not in the README's metric table", m.Name)
			continue
		}
		cells := strings.Split(strings.Trim(row, "|"), "|")
		since := strings.TrimSpace(cells[len(cells)-1])
		if !strings.HasPrefix(since, strconv.Itoa(m.Since)) {
			t.Errorf("README says %s is defined since %q, the registry %d", m.Name, since, m.Since)
		}
	}
}
