package runner

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"zbench/matrix"
	"zbench/runner/sample"
)

// Progress is told about the matrix as it runs. Run calls it from one
// goroutine.
type Progress interface {
	// Begin is called once with the number of runs to come.
	Begin(total int)
	// Done is called after every run, unsupported ones included.
	Done(c matrix.Cell, s sample.Sample)
	// End is called once when Run returns.
	End()
}

// NewProgress returns a progress bar with an ETA when w is a terminal, and
// otherwise a writer of one plain line per finished run.
func NewProgress(w io.Writer) Progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &barProgress{w: w}
	}
	return &LineProgress{W: w}
}

// LineProgress writes one line per finished run: position, cell, run,
// status and, for a run that measured, msg/s and round-trip p50.
type LineProgress struct {
	W     io.Writer
	total int
	done  int
}

// Begin implements Progress.
func (p *LineProgress) Begin(total int) { p.total = total }

// Done implements Progress.
func (p *LineProgress) Done(c matrix.Cell, s sample.Sample) {
	p.done++
	fmt.Fprintf(p.W, "[%d/%d] %s\n", p.done, p.total, RunLine(s))
}

// End implements Progress.
func (p *LineProgress) End() {}

// RunLine describes one finished run in a line: cell, run, status, msg/s and
// round-trip p50 when it measured, the error otherwise.
func RunLine(s sample.Sample) string {
	line := fmt.Sprintf("%s run %d: %s", s.Cell, s.Run, s.Status)
	if s.Status == sample.StatusOK {
		return line + fmt.Sprintf(", %.0f msg/s, p50 %v", s.Throughput.MsgsPerSec,
			time.Duration(s.Latency.RTTP50Ns))
	}
	if s.Error != "" {
		line += ": " + s.Error
	}
	return line
}

// barProgress draws a progress bar with an ETA and prints a line above it
// for every run that did not go well.
type barProgress struct {
	w   io.Writer
	bar *progressbar.ProgressBar
}

func (p *barProgress) Begin(total int) {
	p.bar = progressbar.NewOptions(total,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription("runs"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

func (p *barProgress) Done(_ matrix.Cell, s sample.Sample) {
	if s.Status != sample.StatusOK && s.Status != sample.StatusUnsupported {
		_ = p.bar.Clear()
		fmt.Fprintln(p.w, RunLine(s))
	}
	_ = p.bar.Add(1)
}

func (p *barProgress) End() {
	_ = p.bar.Finish()
}
