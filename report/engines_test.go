package report

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"zbench/matrix"
	"zbench/runner/sample"
)

// enginesFixture is an invocation of the engines profile in small: three
// engines and a mixed pair over tcp and ws at two sizes. libzmq and zmq4 note
// the batching axes as n/a, zmq4 cannot do ws, and the mixed pair has no
// 1 KiB ws cell (a combination only some engines have).
func enginesFixture() *Result {
	engines := []struct {
		name string
		base float64 // msg/s at 32 B
		cpu  float64 // scales CPU ns/msg
		note string
	}{
		{matrix.EngineZbench, 2.4e6, 1.1, ""},
		{matrix.EngineLibzmq, 3e6, 1, sample.NoteNotApplicable("libzmq cannot set them", matrix.AxisOutBatchSize, matrix.AxisWriteBatching)},
		{matrix.EngineZmq4, 6e5, 3.5, sample.NoteNotApplicable("zmq4 writes every frame on its own", matrix.AxisOutBatchSize, matrix.AxisWriteBatching)},
		{matrix.EngineZbenchToLibzmq, 2.7e6, 1.05, sample.NoteNotApplicable("receiver libzmq: libzmq cannot set them", matrix.AxisOutBatchSize, matrix.AxisWriteBatching)},
	}
	var cells []matrix.Cell
	var samples []sample.Sample
	for _, e := range engines {
		for _, protocol := range []string{matrix.ProtocolTCP, matrix.ProtocolWS} {
			for _, size := range []int{32, 1024} {
				c := cell(protocol, size, 8192, true, 1)
				c.Engine = e.name
				if e.name == matrix.EngineZbenchToLibzmq && protocol == matrix.ProtocolWS && size == 1024 {
					continue
				}
				cells = append(cells, c)
				if e.name == matrix.EngineZmq4 && protocol == matrix.ProtocolWS {
					samples = append(samples, badSample(c, 1, sample.StatusUnsupported, "zmq4 has no ws transport (tcp and ipc only)"))
					continue
				}
				base := e.base * 32 / float64(size+32) * 2
				if protocol == matrix.ProtocolWS {
					base *= 0.7
				}
				for run := 1; run <= 3; run++ {
					s := okSample(c, run, base)
					s.Resources.CPUNsPerMsg *= e.cpu
					if e.note != "" {
						s.Notes = []string{e.note}
						s.Engine = sample.Telemetry{}
					}
					samples = append(samples, s)
				}
			}
		}
	}
	// libzmq's own C programs: the reference row. At tcp 32 B the libzmq
	// engine is 5 % slower (within the tolerance); at tcp 1 KiB 25 %
	// slower (outside it).
	for _, size := range []int{32, 1024} {
		c := cell(matrix.ProtocolTCP, size, 8192, true, 1)
		c.Engine = matrix.EngineLibzmqC
		cells = append(cells, c)
		factor := 1.05
		if size == 1024 {
			factor = 1.25
		}
		for run := 1; run <= 3; run++ {
			s := okSample(c, run, 3e6*32/float64(size+32)*2*factor)
			s.Notes = []string{sample.NoteNotApplicable("libzmq cannot set them", matrix.AxisOutBatchSize, matrix.AxisWriteBatching)}
			s.Engine, s.Runtime = sample.Telemetry{}, sample.Runtime{}
			samples = append(samples, s)
		}
	}
	inv := Invocation{Start: fixedStart, End: fixedStart.Add(2 * time.Minute), Command: []string{"zbench", "run", "--profile", "engines"},
		ScenarioFile: "scenarios.yaml", Profile: "engines", Runs: 3, Affinity: "0-1"}
	return NewResult(inv, fixedEnv(), nil, cells, samples)
}

func renderMarkdown(t *testing.T, r *Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteMarkdown(&b, r, nil); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestEnginesGolden(t *testing.T) {
	golden(t, "BENCHMARK_RESULTS.engines.golden.md", []byte(renderMarkdown(t, enginesFixture())))
}

// section returns the Markdown from the heading to the next heading of the
// same level ("" when absent).
func section(md, heading string) string {
	i := strings.Index(md, heading+"\n")
	if i < 0 {
		return ""
	}
	rest := md[i+len(heading)+1:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// tableRows returns the cells of the table rows of md whose engine column
// (the fifth) is engine, in order.
func tableRows(md, engine string) [][]string {
	var rows [][]string
	for line := range strings.SplitSeq(md, "\n") {
		if !strings.HasPrefix(line, "| ") {
			continue
		}
		f := strings.Split(strings.Trim(line, "|"), "|")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		if len(f) > 6 && f[5] == engine {
			rows = append(rows, f)
		}
	}
	return rows
}

// ratioMedian is the median part of a ratio as the engines table writes it
// ("~ 1.02 [0.97–1.08]" → "1.02").
func ratioMedian(cell string) string {
	f := strings.Fields(strings.TrimPrefix(cell, "~ "))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func TestEngineComparisonTable(t *testing.T) {
	r := enginesFixture()
	md := renderMarkdown(t, r)
	cmpSec := section(md, "## Engines side by side")
	if cmpSec == "" {
		t.Fatalf("no comparison section:\n%s", md)
	}
	for _, h := range []string{"### pair · tcp", "### pair · ws", "| engine | msg/s | × libzmq | RTT p50 | × libzmq | RTT p99 | × libzmq | CPU ns/msg | × libzmq |"} {
		if !strings.Contains(cmpSec, h) {
			t.Errorf("comparison lacks %q", h)
		}
	}
	stat := func(engine, protocol string, size int, metric string) float64 {
		for _, c := range r.Cells {
			if c.Engine == engine && c.Protocol == protocol && c.Size == size {
				st, ok := c.Stat(metric)
				if !ok {
					t.Fatalf("%s %s %d has no %s", engine, protocol, size, metric)
				}
				return st.Median
			}
		}
		t.Fatalf("no cell %s %s %d", engine, protocol, size)
		return 0
	}
	// Every ratio is the engine's median over libzmq's for the same cell.
	for _, eng := range []string{matrix.EngineZbench, matrix.EngineLibzmq, matrix.EngineZbenchToLibzmq} {
		rows := tableRows(cmpSec, eng)
		wantRows := 4
		if eng == matrix.EngineZbenchToLibzmq {
			wantRows = 3
		}
		if len(rows) != wantRows {
			t.Fatalf("%s: %d comparison rows, want %d", eng, len(rows), wantRows)
		}
		row := rows[0] // tcp, 32 B
		if row[0] != "32 B" {
			t.Fatalf("%s: first row %q, want tcp 32 B", eng, row)
		}
		for k, metric := range []string{MetricMsgsPerSec, MetricRTTP50, MetricRTTP99, MetricCPUNsPerMsg} {
			want := strconv.FormatFloat(stat(eng, "tcp", 32, metric)/stat(matrix.EngineLibzmq, "tcp", 32, metric), 'f', 2, 64)
			if got := ratioMedian(row[7+2*k]); got != want {
				t.Errorf("%s ratio of %s = %s, want %s (row %q)", eng, metric, got, want, row)
			}
			if got, want := row[6+2*k], FormatMetric(metric, stat(eng, "tcp", 32, metric)); got != want {
				t.Errorf("%s %s = %s, want %s", eng, metric, got, want)
			}
		}
	}
	if rows := tableRows(cmpSec, matrix.EngineLibzmq); !strings.HasPrefix(rows[0][7], "~ 1.00 [") {
		t.Errorf("libzmq's own msg/s ratio %q, want ~ 1.00 with its range", rows[0][7])
	}
	// zbench sets the batching axes; the others show them as n/a.
	for eng, want := range map[string][2]string{
		matrix.EngineZbench: {"8192", "on"}, matrix.EngineLibzmq: {"n/a", "n/a"},
		matrix.EngineZmq4: {"n/a", "n/a"}, matrix.EngineZbenchToLibzmq: {"n/a", "n/a"},
	} {
		for _, row := range tableRows(cmpSec, eng) {
			if strings.HasPrefix(row[14], "unsupported") {
				continue // no run, no note
			}
			if row[1] != want[0] || row[2] != want[1] {
				t.Errorf("%s row %q: out_batch_size, write batching = %s, %s; want %s, %s", eng, row, row[1], row[2], want[0], want[1])
			}
		}
	}
	// zmq4 over ws is there with its reason; the ratio against a figure
	// that does not exist is n/a.
	zmq4 := tableRows(cmpSec, matrix.EngineZmq4)
	if len(zmq4) != 4 || zmq4[2][6] != "n/a" || zmq4[2][7] != "n/a" || !strings.Contains(zmq4[2][14], "unsupported: zmq4 has no ws") {
		t.Errorf("zmq4 ws row %q, want n/a figures and the unsupported reason", zmq4)
	}
	// The mixed pair has no 1 KiB ws cell, so that key compares the others only.
	if strings.Count(cmpSec, "| 1 KiB |") != 8 {
		t.Errorf("comparison has %d 1 KiB rows, want 8 (5 tcp with libzmq-c, 3 ws)", strings.Count(cmpSec, "| 1 KiB |"))
	}

	// The notes say why the axes are n/a, once per engine.
	notes := section(md, "## Notes")
	for _, eng := range []string{matrix.EngineLibzmq, matrix.EngineZmq4, matrix.EngineZbenchToLibzmq} {
		if n := strings.Count(notes, fmt.Sprintf("- `%s`: n/a: out_batch_size, write_batching:", eng)); n != 1 {
			t.Errorf("notes name %s's n/a axes %d times, want once:\n%s", eng, n, notes)
		}
	}
	// The results tables show n/a too.
	res := section(md, "## Results")
	if !strings.Contains(res, "| 32 B | n/a | n/a | 1 | 2 |") || !strings.Contains(res, "| 32 B | 8192 | on | 1 | 2 |") {
		t.Errorf("results tables do not show n/a batching axes for the engines that cannot set them:\n%s", res)
	}
}

// Without libzmq in the result the first engine is the baseline; with one
// engine there is no comparison.
func TestEngineComparisonBaseline(t *testing.T) {
	r := enginesFixture()
	var cells []matrix.Cell
	for _, c := range r.Cells {
		if c.Engine == matrix.EngineZbench || c.Engine == matrix.EngineZmq4 {
			cells = append(cells, c.Cell)
		}
	}
	md := renderMarkdown(t, NewResult(r.Invocation, r.Env, nil, cells, r.Samples))
	cmpSec := section(md, "## Engines side by side")
	if !strings.Contains(cmpSec, "| msg/s | × zbench |") || strings.Contains(cmpSec, "libzmq") {
		t.Errorf("without libzmq the ratios must be to zbench:\n%s", cmpSec)
	}
	if rows := tableRows(cmpSec, matrix.EngineZbench); len(rows) != 4 || ratioMedian(rows[0][7]) != "1.00" {
		t.Errorf("zbench rows %q, want 4 with ratio 1.00", rows)
	}

	single := renderMarkdown(t, fixtureResult())
	if strings.Contains(single, "Engines side by side") {
		t.Error("a single-engine result has a comparison section")
	}
}

// The stdout summary and results.json say which axes an engine could not
// set, as the Markdown does.
func TestSummaryAndJSONShowNotApplicable(t *testing.T) {
	r := enginesFixture()
	var buf bytes.Buffer
	if err := WriteSummary(&buf, r.Cells); err != nil {
		t.Fatal(err)
	}
	var libzmq, zbench string
	for _, line := range strings.Split(buf.String(), "\n") {
		f := strings.Fields(line)
		if len(f) > 5 && f[1] == "tcp" && f[2] == "32" {
			switch f[0] {
			case matrix.EngineLibzmq:
				libzmq = line
			case matrix.EngineZbench:
				zbench = line
			}
		}
	}
	if f := strings.Fields(libzmq); len(f) < 7 || f[4] != "n/a" || f[5] != "n/a" {
		t.Errorf("libzmq summary row %q: want out_batch and batching n/a", libzmq)
	}
	if f := strings.Fields(zbench); len(f) < 7 || f[4] != "8192" || f[5] != "on" {
		t.Errorf("zbench summary row %q: want out_batch 8192 and batching on", zbench)
	}
	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"not_applicable": [`) {
		t.Error("results.json has no not_applicable list for the libzmq cells")
	}
}

// The reference check pairs the libzmq engine with libzmq's own C programs
// and says plainly which figures are outside ±10 %.
func TestReferenceCheck(t *testing.T) {
	r := enginesFixture()
	checks := ReferenceChecks(r.Cells)
	if len(checks) != 4 {
		t.Fatalf("%d checks, want msg/s and RTT p50 at tcp 32 B and 1 KiB", len(checks))
	}
	for _, ch := range checks {
		want := ch.Cell.Size == 32
		if ch.Within != want {
			t.Errorf("%s %s: ratio %v, within = %v, want %v", ch.Cell.ID, ch.Metric, ch.Ratio, ch.Within, want)
		}
		if ch.Metric == MetricMsgsPerSec && ch.Cell.Size == 1024 && (ch.Ratio.Median > 0.81 || ch.Ratio.Median < 0.79) {
			t.Errorf("1 KiB msg/s ratio %v, want 1/1.25", ch.Ratio)
		}
	}
	md := renderMarkdown(t, r)
	sec := section(md, "## libzmq inside zbench against libzmq's own C programs")
	if !strings.Contains(sec, "**2 of 4 figures are outside ±10 %**") || strings.Count(sec, "**outside ±10 %**") != 2 ||
		strings.Count(sec, "| within ±10 % |") != 2 {
		t.Errorf("reference section does not say which figures are outside ±10 %%:\n%s", sec)
	}
	// Without libzmq-c there is no such section.
	var cells []matrix.Cell
	for _, c := range r.Cells {
		if c.Engine != matrix.EngineLibzmqC {
			cells = append(cells, c.Cell)
		}
	}
	if md := renderMarkdown(t, NewResult(r.Invocation, r.Env, nil, cells, r.Samples)); strings.Contains(md, "own C programs") {
		t.Error("a result without libzmq-c has a reference section")
	}
}

func TestRatioSpreadAndOverlap(t *testing.T) {
	mk := func(vals ...float64) *CellResult {
		return &CellResult{Metrics: map[string]Stat{MetricMsgsPerSec: Summarize(vals)}}
	}
	r, ok := RatioOf(mk(200, 210, 220), mk(100, 105, 110), MetricMsgsPerSec)
	if !ok || r.Overlap || r.String() != "2.00 [1.82–2.20]" {
		t.Errorf("apart: %+v %q", r, r.String())
	}
	r, _ = RatioOf(mk(100, 104, 112), mk(98, 101, 106), MetricMsgsPerSec)
	if !r.Overlap || !strings.HasPrefix(r.String(), "~ 1.03 [") {
		t.Errorf("overlapping runs: %+v %q", r, r.String())
	}
	if _, ok := RatioOf(mk(1), &CellResult{Metrics: map[string]Stat{}}, MetricMsgsPerSec); ok {
		t.Error("a ratio against an absent figure")
	}
}
