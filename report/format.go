package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Formatting for people (Markdown, text); JSON and benchfmt carry raw values.

// sig3 formats v with about three significant digits and no exponent.
func sig3(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 99.95:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 9.995:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a == 0:
		return "0"
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

type prefix struct {
	scale  float64
	suffix string
}

// scaled picks the largest prefix v reaches (after rounding to three digits)
// and formats v in it.
func scaled(v float64, prefixes []prefix) string {
	a := math.Abs(v)
	for _, p := range prefixes {
		if a >= p.scale*0.9995 {
			return sig3(v/p.scale) + p.suffix
		}
	}
	last := prefixes[len(prefixes)-1]
	return sig3(v/last.scale) + last.suffix
}

var siPrefixes = []prefix{{1e12, "T"}, {1e9, "G"}, {1e6, "M"}, {1e3, "k"}, {1, ""}}

// FormatCount formats a count or rate with an SI prefix: 1.23M, 45.6k, 789.
func FormatCount(v float64) string { return scaled(v, siPrefixes) }

var durationPrefixes = []prefix{{1e9, " s"}, {1e6, " ms"}, {1e3, " µs"}, {1, " ns"}}

// FormatNs formats nanoseconds as a duration for people: 850 ns, 12.3 µs,
// 1.23 ms.
func FormatNs(ns float64) string { return scaled(ns, durationPrefixes) }

// FormatMiB formats bytes in MiB without the unit: 12.3.
func FormatMiB(b float64) string { return sig3(b / (1 << 20)) }

// FormatSize formats a message size in bytes: 32 B, 1 KiB, 1.5 KiB, 16 KiB.
func FormatSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return sig3(float64(n)/(1<<20)) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n >= 1<<10:
		return sig3(float64(n)/(1<<10)) + " KiB"
	}
	return fmt.Sprintf("%d B", n)
}

// FormatMetric formats a value of the named metric for people, without its
// unit where the column header says it (msg/s, MB/s, %, MiB).
func FormatMetric(metric string, v float64) string {
	m, _ := MetricByName(metric)
	switch {
	case m.Unit == "ns":
		return FormatNs(v)
	case metric == MetricRSSBytes:
		return FormatMiB(v)
	case metric == MetricCPUPercent:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case metric == MetricMBPerSec, metric == MetricMsgsPerWrite, metric == MetricAllocsPerMsg:
		return sig3(v)
	case metric == MetricCPUNsPerMsg:
		return FormatNs(v)
	}
	return FormatCount(v)
}

// formatCV formats a coefficient of variation as "±2.1%".
func formatCV(cv *float64) string {
	if cv == nil {
		return ""
	}
	return "±" + strconv.FormatFloat(*cv*100, 'f', 1, 64) + "%"
}

// cellFigure is a cell's median of metric for a table: "1.23M ±2.1%", or
// "n/a" when absent.
func cellFigure(c *CellResult, metric string, withCV bool) string {
	st, ok := c.Stat(metric)
	if !ok {
		return "n/a"
	}
	s := FormatMetric(metric, st.Median)
	if withCV {
		if cv := formatCV(st.CV); cv != "" {
			s += " " + cv
		}
	}
	return s
}

// oneLine makes text safe for a table cell or a single output line:
// newlines folded, pipes escaped when md, and cut to max runes.
func oneLine(s string, max int, md bool) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max-1]) + "…"
	}
	if md {
		s = strings.ReplaceAll(s, "|", `\|`)
	}
	return s
}
