package report

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchunit"

	"zbench/runner/sample"
)

// BenchmarkName is the base name of every line in benchmark_result.txt; the
// cell ID follows it as key=value sub-benchmark parts, which benchstat can
// group by (e.g. -col /out_batch_size).
const BenchmarkName = "BenchmarkZbench"

// BenchfmtUnit is the unit a metric's values are written in to
// benchmark_result.txt: the registry's BenchUnit in the base units benchstat
// reads everything in (benchunit.Tidy: "p99-ns" becomes "p99-sec", "MB/s"
// becomes "B/s"). Writing the base unit matters: a reader tidies every value
// it reads, but leaves a zero alone (0 ns is 0 sec), so a value written in
// "ns" would land under "gc-pause-ns" when it is zero and under
// "gc-pause-sec" otherwise, and benchstat would put the two in different
// tables and never compare them.
func BenchfmtUnit(m Metric) string {
	_, u := benchunit.Tidy(1, m.BenchUnit)
	return u
}

// WriteBenchfmt writes r in the Go benchmark format (benchmark_result.txt)
// with benchfmt.Writer: unit metadata (better=higher|lower, one line per
// metric), configuration lines, then one line per ok run:
// BenchmarkZbench/<cell ID>, iterations = messages delivered, and one
// value/unit pair per metric the run has, in base units (BenchfmtUnit;
// scaled with benchunit.Tidy). Runs that were not ok have no line.
//
// The configuration says where the figures come from (goos, goarch, cpu,
// commit, dirty, zbench-version, go, kernel, affinity, gomaxprocs, profile)
// and whether the invocation was complete: "incomplete: false", or
// "incomplete: true" and "incomplete-reason: …" (interrupted, runs failed,
// cells not run). benchstat keeps both keys, so it shows a result set that
// is incomplete in a table of its own, with the reason above it. Compare two
// result sets with
//
//	benchstat -ignore commit,dirty,zbench-version old/benchmark_result.txt new/benchmark_result.txt
//
// (without -ignore, benchstat puts differing commits in separate tables;
// add incomplete,incomplete-reason to compare an incomplete set anyway).
func WriteBenchfmt(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	bfw := benchfmt.NewWriter(bw)
	for _, m := range Metrics {
		u := BenchfmtUnit(m)
		if err := bfw.Write(&benchfmt.UnitMetadata{
			UnitMetadataKey: benchfmt.UnitMetadataKey{Unit: u, Key: "better"},
			OrigUnit:        u,
			Value:           string(m.Better),
		}); err != nil {
			return fmt.Errorf("report: %s: %w", BenchmarkFile, err)
		}
	}
	bw.WriteString("\n")

	config := benchfmtConfig(r)
	wrote := false
	for _, i := range samplesInCellOrder(r) {
		s := &r.Samples[i]
		if s.Status != sample.StatusOK {
			continue
		}
		res := &benchfmt.Result{
			Name:  benchfmt.Name(strings.TrimPrefix(BenchmarkName, "Benchmark") + "/" + benchNamePart(s.Cell)),
			Iters: int(iterations(s)),
		}
		for _, kv := range config {
			res.Config = append(res.Config, benchfmt.Config{Key: kv[0], Value: []byte(kv[1]), File: true})
		}
		for _, m := range Metrics {
			v, ok := m.Read(s)
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			v, u := benchunit.Tidy(v, m.BenchUnit)
			res.Values = append(res.Values, benchfmt.Value{Value: roundSig(v), Unit: u})
		}
		if err := bfw.Write(res); err != nil {
			return fmt.Errorf("report: %s: %w", BenchmarkFile, err)
		}
		wrote = true
	}
	if !wrote {
		// benchfmt.Writer writes configuration only before a result; a
		// file without one still says where it comes from and why it is
		// empty, in the same key: value form.
		for _, kv := range config {
			fmt.Fprintf(bw, "%s: %s\n", kv[0], kv[1])
		}
	}
	return bw.Flush()
}

// benchfmtConfig is the file configuration of benchmark_result.txt, in
// order. No value is empty: an empty value would delete the key for a
// benchfmt reader.
func benchfmtConfig(r *Result) [][2]string {
	e := r.Env
	inv := r.Invocation
	config := [][2]string{
		{"goos", e.OS},
		{"goarch", e.Arch},
		{"pkg", "zbench"},
		{"cpu", e.CPUModel},
		{"commit", e.Commit},
		{"dirty", strconv.FormatBool(e.Dirty)},
		{"zbench-version", e.Version},
		{"go", e.GoVersion},
		{"kernel", e.Kernel},
		{"affinity", cmp.Or(inv.Affinity, e.Affinity)},
		{"gomaxprocs", strconv.Itoa(e.GOMAXPROCS)},
		{"profile", inv.Profile},
		{"incomplete", strconv.FormatBool(inv.Incomplete)},
	}
	if inv.Incomplete {
		config = append(config, [2]string{"incomplete-reason", cmp.Or(strings.Join(inv.IncompleteReasons, "; "), "runs are missing")})
	}
	for i := range config {
		config[i][1] = cmp.Or(oneLine(config[i][1], 200, false), Unknown)
	}
	return config
}

// roundSig rounds v to 12 significant digits, so that a value scaled to a
// base unit (ns × 1e-9) is written as 5.0499e-05, not 5.0499000000000006e-05;
// no measurement zbench makes has more digits than that.
func roundSig(v float64) float64 {
	r, err := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	if err != nil {
		return v
	}
	return r
}

// benchNamePart keeps a cell ID usable as a benchmark name (no spaces).
func benchNamePart(id string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return '_'
		}
		return r
	}, id)
}

// iterations is what a Benchmark line counts: messages delivered in the
// throughput phase, else round trips, else 1.
func iterations(s *sample.Sample) int64 {
	switch {
	case s.Throughput.Messages > 0:
		return s.Throughput.Messages
	case s.Latency.RoundTrips > 0:
		return s.Latency.RoundTrips
	}
	return 1
}

// samplesInCellOrder returns sample indexes ordered by their cell's position
// in r.Cells (samples of unlisted cells last), then by run.
func samplesInCellOrder(r *Result) []int {
	pos := make(map[string]int, len(r.Cells))
	for i, c := range r.Cells {
		pos[c.ID] = i
	}
	order := make([]int, len(r.Samples))
	for i := range order {
		order[i] = i
	}
	key := func(i int) int {
		if p, ok := pos[r.Samples[i].Cell]; ok {
			return p
		}
		return len(r.Cells)
	}
	slices.SortStableFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(r.Samples[a].Run, r.Samples[b].Run))
	})
	return order
}
