package report

import (
	"bufio"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"zbench/matrix"
)

// WriteSummary writes the stdout summary of a run: an aligned table with one
// row per cell, in the order given: its axes (engine and pattern only when
// the cells have more than one; procs is the processes axis), msg/s, RTT p50 and p99, CPU %, RSS MiB,
// msgs/write (medians; "n/a" when absent) and status. An axis the cell's
// engine could not set shows as "n/a".
func WriteSummary(w io.Writer, cells []CellResult) error {
	showEngine := len(axisValues(cells, matrix.AxisEngine)) > 1
	showPattern := len(axisValues(cells, matrix.AxisPattern)) > 1

	var header []string
	var right []bool // right-aligned columns
	add := func(h string, r bool) { header = append(header, h); right = append(right, r) }
	if showEngine {
		add("engine", false)
	}
	if showPattern {
		add("pattern", false)
	}
	add("protocol", false)
	add("size", true)
	add("out_batch", true)
	add("batching", false)
	add("sockets", true)
	add("procs", true)
	add("msg/s", true)
	add("p50", true)
	add("p99", true)
	add("CPU%", true)
	add("RSS MiB", true)
	add("msgs/write", true)
	add("status", false)

	rows := [][]string{header}
	for i := range cells {
		c := &cells[i]
		var row []string
		if showEngine {
			row = append(row, c.Engine)
		}
		if showPattern {
			row = append(row, c.Pattern)
		}
		obs, wb := strconv.Itoa(c.OutBatchSize), onOff(c.WriteBatching)
		if slices.Contains(c.NotApplicable, matrix.AxisOutBatchSize) {
			obs = "n/a"
		}
		if slices.Contains(c.NotApplicable, matrix.AxisWriteBatching) {
			wb = "n/a"
		}
		row = append(row, c.Protocol, FormatSize(c.Size), obs, wb, strconv.Itoa(c.Sockets), strconv.Itoa(c.Processes))
		for _, m := range []string{MetricMsgsPerSec, MetricRTTP50, MetricRTTP99, MetricCPUPercent, MetricRSSBytes, MetricMsgsPerWrite} {
			row = append(row, cellFigure(c, m, false))
		}
		row = append(row, oneLine(statusText(c), 100, false))
		rows = append(rows, row)
	}
	return writeAligned(w, rows, right)
}

// writeAligned writes rows as columns two spaces apart, padded to the widest
// cell (in runes); right[i] right-aligns column i. The last column is not
// padded.
func writeAligned(w io.Writer, rows [][]string, right []bool) error {
	widths := make([]int, len(right))
	for _, r := range rows {
		for i, s := range r {
			widths[i] = max(widths[i], utf8.RuneCountInString(s))
		}
	}
	bw := bufio.NewWriter(w)
	for _, r := range rows {
		var line strings.Builder
		for i, s := range r {
			if i > 0 {
				line.WriteString("  ")
			}
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(s))
			switch {
			case right[i]:
				line.WriteString(pad + s)
			case i == len(r)-1:
				line.WriteString(s)
			default:
				line.WriteString(s + pad)
			}
		}
		bw.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	return bw.Flush()
}
