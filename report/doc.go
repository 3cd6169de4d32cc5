// Package report turns the samples of a zbench invocation into results:
// statistics per cell and metric across runs (Aggregate), the environment
// stamp (CollectEnv), and the files of a results directory (WriteDir):
// results.json with everything, benchmark_result.txt in the Go benchmark
// format for benchstat, and BENCHMARK_RESULTS.md with tables and charts.
//
// Statistics come first and are plain data (with warnings beside the
// numbers); each output format has its own renderer (WriteJSON,
// WriteBenchfmt, WriteMarkdown, WriteSummary) working from the aggregate.
package report
