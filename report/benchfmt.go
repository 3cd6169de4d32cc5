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

	"zbench/runner/sample"
)

// BenchmarkName is the base name of every line in benchmark_result.txt; the
// cell ID follows it as key=value sub-benchmark parts, which benchstat can
// group by (e.g. -col /out_batch_size).
const BenchmarkName = "BenchmarkZbench"

// WriteBenchfmt writes r in the Go benchmark format (benchmark_result.txt):
// configuration lines, unit metadata (better=higher|lower), then one line per
// ok run: BenchmarkZbench/<cell ID>, iterations = messages delivered, and one
// value/unit pair per metric the run has, in raw units. Runs that were not ok
// have no line. Compare two result sets with
//
//	benchstat -ignore commit,dirty,zbench-version old/benchmark_result.txt new/benchmark_result.txt
//
// (without -ignore, benchstat puts differing commits in separate tables).
func WriteBenchfmt(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	e := r.Env
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
		{"affinity", cmp.Or(r.Invocation.Affinity, e.Affinity)},
		{"gomaxprocs", strconv.Itoa(e.GOMAXPROCS)},
		{"profile", r.Invocation.Profile},
	}
	for _, kv := range config {
		// An empty value would delete the key for a benchfmt reader.
		fmt.Fprintf(bw, "%s: %s\n", kv[0], cmp.Or(oneLine(kv[1], 200, false), Unknown))
	}
	bw.WriteString("\n")
	for _, m := range Metrics {
		fmt.Fprintf(bw, "Unit %s better=%s\n", m.BenchUnit, m.Better)
	}
	bw.WriteString("\n")

	for _, i := range samplesInCellOrder(r) {
		s := &r.Samples[i]
		if s.Status != sample.StatusOK {
			continue
		}
		fmt.Fprintf(bw, "%s/%s %d", BenchmarkName, benchNamePart(s.Cell), iterations(s))
		for _, m := range Metrics {
			v, ok := m.Read(s)
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			fmt.Fprintf(bw, " %s %s", strconv.FormatFloat(v, 'f', -1, 64), m.BenchUnit)
		}
		bw.WriteString("\n")
	}
	return bw.Flush()
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
