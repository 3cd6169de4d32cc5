package report

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchproc"

	"zbench/matrix"
	"zbench/runner/sample"
)

// writeBenchfmtFile writes r's benchmark_result.txt into a new directory and
// returns its path.
func writeBenchfmtFile(t *testing.T, r *Result) string {
	t.Helper()
	var b bytes.Buffer
	if err := WriteBenchfmt(&b, r); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), BenchmarkFile)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// benchstatPlacement is where benchstat puts one value: its table (the
// -table projection, which includes the unit), row and column.
type benchstatPlacement struct {
	table, row, col benchproc.Key
}

// benchstatPlacements reads files as benchstat does with its default
// projections (-table .config -row .fullname -col .file) and -ignore ignore,
// and returns where each value of a unit with the given prefix lands.
func benchstatPlacements(t *testing.T, unitPrefix, ignore string, files ...string) []benchstatPlacement {
	t.Helper()
	filter, err := benchproc.NewFilter("*")
	if err != nil {
		t.Fatal(err)
	}
	var parser benchproc.ProjectionParser
	tableBy, _, err := parser.ParseWithUnit(".config", filter)
	if err != nil {
		t.Fatal(err)
	}
	rowBy, err := parser.Parse(".fullname", filter)
	if err != nil {
		t.Fatal(err)
	}
	colBy, err := parser.Parse(".file", filter)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := parser.Parse(ignore, filter); err != nil {
		t.Fatal(err)
	}
	var out []benchstatPlacement
	fs := benchfmt.Files{Paths: files}
	for fs.Scan() {
		switch rec := fs.Result().(type) {
		case *benchfmt.SyntaxError:
			t.Errorf("syntax error: %v", rec)
		case *benchfmt.Result:
			tables := tableBy.ProjectValues(rec)
			row, col := rowBy.Project(rec), colBy.Project(rec)
			for i, v := range rec.Values {
				if strings.HasPrefix(v.Unit, unitPrefix) {
					out = append(out, benchstatPlacement{tables[i], row, col})
				}
			}
		}
	}
	if err := fs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A zero and a non-zero value of a metric whose unit benchunit rescales (gc
// pause in ns, MB/s) land in one benchstat table, so benchstat compares them.
func TestBenchfmtZeroAndNonZeroInOneTable(t *testing.T) {
	c := cell("tcp", 32, 8192, true, 1)
	var zero, nonZero []sample.Sample
	for run := 1; run <= 4; run++ {
		s := okSample(c, run, 1e6)
		s.Runtime.GCPauseNs = 0 // no collection in the measured phases
		zero = append(zero, s)
		nonZero = append(nonZero, okSample(c, run, 1e6)) // 120 µs of pause
	}
	old := resultOf(fixedEnv(), fixedStart, 4, []matrix.Cell{c}, zero)
	newEnv := fixedEnv()
	newEnv.Commit = "fedcba9876543210fedcba9876543210fedcba98"
	new := resultOf(newEnv, fixedStart, 4, []matrix.Cell{c}, nonZero)
	oldFile, newFile := writeBenchfmtFile(t, old), writeBenchfmtFile(t, new)

	got := benchstatPlacements(t, "gc-pause", "commit,dirty,zbench-version", oldFile, newFile)
	if len(got) != 8 {
		t.Fatalf("%d gc pause values, want 8 (4 runs in each file)", len(got))
	}
	cols := map[benchproc.Key]bool{}
	for _, p := range got {
		if p.table != got[0].table || p.row != got[0].row {
			t.Fatalf("gc pause values in different benchstat tables or rows: %v/%v and %v/%v; zero and non-zero values are not compared",
				got[0].table, got[0].row, p.table, p.row)
		}
		cols[p.col] = true
	}
	if len(cols) != 2 {
		t.Errorf("gc pause values in %d columns, want the two files side by side", len(cols))
	}

	// Every unit is written in its base unit, which a reader never
	// rescales, so no metric's zero parts from its other values.
	for _, m := range Metrics {
		if u := BenchfmtUnit(m); u != m.BenchUnit {
			if bu := BenchfmtUnit(Metric{BenchUnit: u}); bu != u {
				t.Errorf("%s: unit %s is rescaled again to %s on reading", m.Name, u, bu)
			}
		}
	}
}

// benchmark_result.txt says whether the invocation was complete, in
// configuration lines benchstat keeps.
func TestBenchfmtIncompleteMarker(t *testing.T) {
	c := cell("tcp", 32, 8192, true, 1)
	complete := resultOf(fixedEnv(), fixedStart, 2, []matrix.Cell{c}, []sample.Sample{okSample(c, 1, 1e6), okSample(c, 2, 1e6)})
	interrupted := resultOf(fixedEnv(), fixedStart, 2, []matrix.Cell{c},
		[]sample.Sample{okSample(c, 1, 1e6), badSample(c, 2, sample.StatusInterrupted, "")})

	for _, tc := range []struct {
		name       string
		r          *Result
		incomplete string
		reason     string
	}{
		{"complete", complete, "false", ""},
		{"interrupted", interrupted, "true", "interrupted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeBenchfmtFile(t, tc.r)
			fs := benchfmt.Files{Paths: []string{path}}
			n := 0
			for fs.Scan() {
				rec, ok := fs.Result().(*benchfmt.Result)
				if !ok {
					continue
				}
				n++
				if got := rec.GetConfig("incomplete"); got != tc.incomplete {
					t.Errorf("incomplete: %q, want %q", got, tc.incomplete)
				}
				if got := rec.GetConfig("incomplete-reason"); got != tc.reason {
					t.Errorf("incomplete-reason: %q, want %q", got, tc.reason)
				}
			}
			if n == 0 {
				t.Fatal("no results read")
			}
		})
	}

	// benchstat shows an incomplete set apart (its own table, the reason
	// above it) unless told to ignore the keys.
	a, b := writeBenchfmtFile(t, complete), writeBenchfmtFile(t, interrupted)
	apart := benchstatPlacements(t, "msgs/s", "commit,dirty,zbench-version", a, b)
	if len(apart) != 3 || apart[0].table == apart[2].table {
		t.Errorf("an incomplete set shares a table with a complete one: %v", apart)
	}
	together := benchstatPlacements(t, "msgs/s", "commit,dirty,zbench-version,incomplete,incomplete-reason", a, b)
	if len(together) != 3 || together[0].table != together[2].table {
		t.Errorf("ignoring incomplete does not bring the sets together: %v", together)
	}

	// A result set without a single ok run still says where it comes
	// from and that it is incomplete.
	none := resultOf(fixedEnv(), fixedStart, 1, []matrix.Cell{c}, []sample.Sample{badSample(c, 1, sample.StatusFailed, "refused")})
	var out bytes.Buffer
	if err := WriteBenchfmt(&out, none); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\ncommit: " + fixedEnv().Commit + "\n", "\nincomplete: true\n", "\nincomplete-reason: 1 of 1 runs failed or timed out\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("file without ok runs lacks %q:\n%s", want, out.String())
		}
	}
}
