package report

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// NoiseFloorFile is the file a calibration writes into its results
// directory, and the one compare --noise-floor DIR reads.
const NoiseFloorFile = "noise_floor.json"

// NoiseFloorKind marks a noise floor file; NoiseFloorSchemaVersion is its
// layout's version.
const (
	NoiseFloorKind          = "zbench-noise-floor"
	NoiseFloorSchemaVersion = 1
)

// Defaults of the noise floor estimator (see Calibrate).
const (
	DefaultFloorQuantile  = 0.95
	DefaultFloorResamples = 2000
	DefaultFloorSeed      = 1
)

// ErrNotNoiseFloor means a file is not a zbench noise floor.
var ErrNotNoiseFloor = errors.New("not a zbench noise floor file")

// NoiseFloor is the outcome of an A/A calibration: per cell and metric, how
// far the median of one set of runs moves from the median of another set of
// runs of the same binary by chance (FloorPct, in percent of the median). A
// comparison counts a change as significant only when it passes the test and
// goes beyond the floor of its cell-metric (Compare, CompareOptions.NoiseFloor).
type NoiseFloor struct {
	Kind          string    `json:"kind"`
	SchemaVersion int       `json:"schema_version"`
	Created       time.Time `json:"created"`
	// Env is the environment of the calibration runs; compare warns when it
	// differs from the environment of the result sets compared.
	Env      Env    `json:"env"`
	Profile  string `json:"profile"`
	Affinity string `json:"affinity"`
	// Runs is the number of runs per side the floor is for: a comparison
	// with fewer runs per side has a wider spread than the floor says.
	Runs int `json:"runs"`
	// Estimator says in words how FloorPct was computed; Quantile,
	// Resamples and Seed are its parameters.
	Estimator string  `json:"estimator"`
	Quantile  float64 `json:"quantile"`
	Resamples int     `json:"resamples"`
	Seed      uint64  `json:"seed"`
	// Cells hold the floors, in the calibration's cell order.
	Cells []FloorCell `json:"cells"`

	// Source is where the floor was read from ("" when computed here).
	Source string `json:"-"`
}

// FloorCell is the noise floor of one cell's metrics.
type FloorCell struct {
	ID      string                 `json:"id"`
	Metrics map[string]FloorMetric `json:"metrics"`
}

// FloorMetric is the noise floor of one metric of one cell.
type FloorMetric struct {
	// FloorPct is the noise floor in percent of the median (>= 0).
	FloorPct float64 `json:"floor_pct"`
	// ObservedPct is the A/A change of the medians itself, B against A, in
	// percent of A's median.
	ObservedPct float64 `json:"observed_pct"`
	// NA and NB are the runs of each side the floor comes from.
	NA int `json:"n_a"`
	NB int `json:"n_b"`
}

// Floor returns the noise floor of a cell's metric in percent, and false
// when the calibration has none for it.
func (nf *NoiseFloor) Floor(cell, metric string) (float64, bool) {
	if nf == nil {
		return 0, false
	}
	for i := range nf.Cells {
		if nf.Cells[i].ID == cell {
			m, ok := nf.Cells[i].Metrics[metric]
			return m.FloorPct, ok
		}
	}
	return 0, false
}

// CalibrateOptions configure Calibrate; zero values mean the defaults.
type CalibrateOptions struct {
	// Metrics are the metrics to estimate a floor for; nil means every
	// metric in the registry.
	Metrics   []string
	Quantile  float64 // DefaultFloorQuantile
	Resamples int     // DefaultFloorResamples
	Seed      uint64  // DefaultFloorSeed
	// Now stamps the result; nil means time.Now.
	Now func() time.Time
}

// Calibrate estimates the noise floor of every cell and metric that both
// result sets a and b measured, a and b being the two sides of an A/A
// calibration: the same binary, the same cells, runs interleaved.
//
// The estimator, per cell and metric: draw Resamples bootstrap resamples of
// each side's per-run values (as many values as the side has, with
// replacement), take the change of the medians |median(B*)/median(A*) − 1|
// of each pair, and report its Quantile (the 95th percentile by default).
// That is how far the median of n runs moves from the median of another n
// runs of the same code with the given probability; it includes any offset
// the two sides showed (the bootstrap is centred on the observed change).
// Resamples whose A median is 0 have no relative change and are left out; a
// cell-metric whose A median is 0 in more than half of them, or that has
// fewer than two runs on a side, gets no floor. Every cell-metric draws from
// its own generator, seeded by Seed and its cell ID and metric name, so the
// floor is a function of the data alone.
func Calibrate(a, b *Result, opts CalibrateOptions) (*NoiseFloor, error) {
	metrics := opts.Metrics
	if metrics == nil {
		metrics = MetricNames()
	}
	for _, name := range metrics {
		if _, ok := MetricByName(name); !ok {
			return nil, fmt.Errorf("report: %w %q; known: %s", ErrUnknownMetric, name, strings.Join(MetricNames(), ", "))
		}
	}
	q := cmp.Or(opts.Quantile, DefaultFloorQuantile)
	if q <= 0 || q >= 1 || math.IsNaN(q) {
		return nil, fmt.Errorf("report: noise floor quantile %g; allowed: 0 < q < 1", q)
	}
	resamples := cmp.Or(opts.Resamples, DefaultFloorResamples)
	if resamples < 1 {
		return nil, fmt.Errorf("report: noise floor resamples %d; allowed: >= 1", resamples)
	}
	seed := cmp.Or(opts.Seed, DefaultFloorSeed)
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	nf := &NoiseFloor{
		Kind:          NoiseFloorKind,
		SchemaVersion: NoiseFloorSchemaVersion,
		Created:       now().UTC(),
		Env:           b.Env,
		Profile:       b.Invocation.Profile,
		Affinity:      cmp.Or(b.Invocation.Affinity, b.Env.Affinity),
		Runs:          min(a.Invocation.Runs, b.Invocation.Runs),
		Estimator: fmt.Sprintf("per cell and metric, the %s percentile of |median(B*)/median(A*) - 1| over %d bootstrap "+
			"resamples of each side's runs (with replacement, as many as the side has; seed %d)", ordinal(q), resamples, seed),
		Quantile:  q,
		Resamples: resamples,
		Seed:      seed,
		Cells:     []FloorCell{},
	}
	av, bv := metricValues(a), metricValues(b)
	for _, c := range b.Cells {
		if _, ok := a.Cell(c.ID); !ok {
			continue
		}
		fc := FloorCell{ID: c.ID, Metrics: map[string]FloorMetric{}}
		for _, name := range metrics {
			xa, xb := av[c.ID][name], bv[c.ID][name]
			if len(xa) < 2 || len(xb) < 2 {
				continue
			}
			ma := median(xa)
			if ma == 0 {
				continue
			}
			floor, ok := bootstrapFloor(xa, xb, q, resamples, seedFor(seed, c.ID, name))
			if !ok {
				continue
			}
			fc.Metrics[name] = FloorMetric{FloorPct: floor, ObservedPct: 100 * (median(xb)/ma - 1), NA: len(xa), NB: len(xb)}
		}
		if len(fc.Metrics) > 0 {
			nf.Cells = append(nf.Cells, fc)
		}
	}
	return nf, nil
}

// seedFor derives a cell-metric's generator seed from the calibration's.
func seedFor(seed uint64, cell, metric string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, cell)
	h.Write([]byte{0})
	io.WriteString(h, metric)
	return seed ^ h.Sum64()
}

// bootstrapFloor is the q-quantile, in percent, of |median(B*)/median(A*) -
// 1| over resamples bootstrap resamples of a and b; false when A's median is
// 0 in more than half of them.
func bootstrapFloor(a, b []float64, q float64, resamples int, seed uint64) (float64, bool) {
	rng := rand.New(rand.NewPCG(seed, 0x7a62656e6368)) // "zbench"
	ra, rb := make([]float64, len(a)), make([]float64, len(b))
	changes := make([]float64, 0, resamples)
	for range resamples {
		for i := range ra {
			ra[i] = a[rng.IntN(len(a))]
		}
		for i := range rb {
			rb[i] = b[rng.IntN(len(b))]
		}
		ma := sortedMedian(ra)
		if ma == 0 {
			continue
		}
		changes = append(changes, 100*math.Abs(sortedMedian(rb)/ma-1))
	}
	if len(changes)*2 < resamples {
		return 0, false
	}
	slices.Sort(changes)
	return quantileSorted(changes, q), true
}

// sortedMedian sorts xs in place and returns its median.
func sortedMedian(xs []float64) float64 {
	slices.Sort(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// quantileSorted is the q-quantile of sorted xs, interpolated linearly
// between order statistics (R's type 7).
func quantileSorted(xs []float64, q float64) float64 {
	h := q * float64(len(xs)-1)
	lo := int(math.Floor(h))
	if lo+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[lo] + (h-float64(lo))*(xs[lo+1]-xs[lo])
}

// ordinal is "95th" for 0.95.
func ordinal(q float64) string {
	return strings.TrimSuffix(fmt.Sprintf("%.1f", 100*q), ".0") + "th"
}

// WriteNoiseFloor writes nf as indented JSON (noise_floor.json).
func WriteNoiseFloor(w io.Writer, nf *NoiseFloor) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(nf)
}

// ReadNoiseFloor reads a noise floor from path: a noise_floor.json file, or
// a directory holding one (what zbench calibrate wrote). Errors name the
// file, the line when the JSON is malformed, and what is allowed; they wrap
// ErrNotNoiseFloor where that applies.
func ReadNoiseFloor(path string) (*NoiseFloor, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		path = filepath.Join(path, NoiseFloorFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w; allowed: a %s written by zbench calibrate, or the directory holding it", err, NoiseFloorFile)
		}
		return nil, err
	}
	var nf NoiseFloor
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&nf); err != nil {
		jerr := jsonError(path, data, err)
		var fe *FileError
		if errors.As(jerr, &fe) {
			fe.Err = fmt.Errorf("%w: %v", ErrNotNoiseFloor, err)
		}
		return nil, jerr
	}
	bad := func(format string, args ...any) error {
		return &FileError{Path: path, Line: lineOf(data, nf.lineHint(format)), Err: fmt.Errorf("%w: "+format, append([]any{ErrNotNoiseFloor}, args...)...)}
	}
	if nf.Kind != NoiseFloorKind {
		return nil, bad("kind %q; allowed: %q (a file written by zbench calibrate)", nf.Kind, NoiseFloorKind)
	}
	if nf.SchemaVersion < 1 || nf.SchemaVersion > NoiseFloorSchemaVersion {
		return nil, bad("schema_version %d; this zbench reads 1 to %d", nf.SchemaVersion, NoiseFloorSchemaVersion)
	}
	if nf.Runs < 1 {
		return nil, bad("runs %d; allowed: an integer >= 1", nf.Runs)
	}
	for _, c := range nf.Cells {
		if c.ID == "" {
			return nil, bad("a cell without an id; allowed: cell IDs as results.json has them")
		}
		for name, m := range c.Metrics {
			if _, ok := MetricByName(name); !ok {
				return nil, &FileError{Path: path, Line: lineOf(data, `"`+name+`"`),
					Err: fmt.Errorf("%w: cell %s: unknown metric %q; allowed: %s", ErrNotNoiseFloor, c.ID, name, strings.Join(MetricNames(), ", "))}
			}
			if m.FloorPct < 0 || math.IsNaN(m.FloorPct) || math.IsInf(m.FloorPct, 0) {
				return nil, &FileError{Path: path, Line: lineOf(data, `"`+c.ID+`"`),
					Err: fmt.Errorf("%w: cell %s, %s: floor_pct %g; allowed: a finite percentage >= 0", ErrNotNoiseFloor, c.ID, name, m.FloorPct)}
			}
		}
	}
	nf.Source = path
	return &nf, nil
}

// lineHint is the JSON key a validation message is about, to find its line.
func (nf *NoiseFloor) lineHint(format string) string {
	for _, k := range []string{"kind", "schema_version", "runs"} {
		if strings.HasPrefix(format, k) {
			return `"` + k + `"`
		}
	}
	return ""
}

// lineOf is the line of the first occurrence of s in data; 0 when s is
// empty or absent.
func lineOf(data []byte, s string) int {
	if s == "" {
		return 0
	}
	i := bytes.Index(data, []byte(s))
	if i < 0 {
		return 0
	}
	return 1 + bytes.Count(data[:i], []byte("\n"))
}

// Files of a calibration directory, beside NoiseFloorFile and the
// comparison of the two sides (compare.md, compare.json, compare.txt).
const (
	CalibrationSideA   = "a"               // results directory of side A
	CalibrationSideB   = "b"               // results directory of side B
	CalibrationSummary = "calibration.txt" // WriteNoiseFloorSummary, as printed
)

// MakeCalibrationDir creates the directory a calibration is written into:
// root/<start, UTC>-calibrate-<short commit> (with a "-2", "-3"… suffix when
// taken), root included. It is made before anything runs, so that a
// directory that cannot be made stops the calibration first.
func MakeCalibrationDir(root string, start time.Time, env Env) (string, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	return makeNewDir(root, start.UTC().Format(DirTimeFormat)+"-calibrate-"+unsafeFileChars.ReplaceAllString(env.ShortCommit(), "_"))
}

// WriteCalibration writes a calibration into dir (which must exist): both
// sides' result sets (a/ and b/, complete results directories), the noise
// floor (noise_floor.json), the A/A comparison (compare.md, compare.json,
// compare.txt from aaText) and the summary (calibration.txt). Each file is
// written atomically. A chart that cannot be drawn is reported after
// everything else is written.
func WriteCalibration(dir string, a, b *Result, nf *NoiseFloor, aa *Comparison, aaText, summary []byte) error {
	var chartErrs []error
	for _, s := range []struct {
		name string
		r    *Result
	}{{CalibrationSideA, a}, {CalibrationSideB, b}} {
		if err := WriteResultSet(filepath.Join(dir, s.name), s.r); err != nil {
			if !errors.Is(err, errChart) {
				return err
			}
			chartErrs = append(chartErrs, err)
		}
	}
	var buf bytes.Buffer
	if err := WriteNoiseFloor(&buf, nf); err != nil {
		return fmt.Errorf("report: encode %s: %w", NoiseFloorFile, err)
	}
	if err := writeFileAtomic(filepath.Join(dir, NoiseFloorFile), buf.Bytes()); err != nil {
		return err
	}
	if err := WriteComparisonFiles(dir, aa, nil, aaText); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, CalibrationSummary), summary); err != nil {
		return err
	}
	return errors.Join(chartErrs...)
}

// WriteNoiseFloorSummary renders a calibration for people: the estimator,
// then per metric how many cells have a floor and its distribution over
// cells (median, 90th percentile, largest and where), and the A/A
// comparison's tally (aa may be nil).
func WriteNoiseFloorSummary(w io.Writer, nf *NoiseFloor, aa *Comparison) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "noise floor: %s\n", nf.Estimator)
	fmt.Fprintf(bw, "%d runs per side, %s, commit %s, profile %s\n\n", nf.Runs, formatTime(nf.Created),
		ShortCommit(nf.Env.Commit), cmp.Or(nf.Profile, "default"))
	rows := [][]string{{"metric", "cells", "median", "p90", "max", "max in"}}
	ids := make([]string, len(nf.Cells))
	for i, c := range nf.Cells {
		ids[i] = c.ID
	}
	short := compactIDs(ids)
	for _, m := range Metrics {
		var floors []float64
		worst := ""
		for _, c := range nf.Cells {
			fm, ok := c.Metrics[m.Name]
			if !ok {
				continue
			}
			if len(floors) == 0 || fm.FloorPct > slices.Max(floors) {
				worst = c.ID
			}
			floors = append(floors, fm.FloorPct)
		}
		if len(floors) == 0 {
			continue
		}
		slices.Sort(floors)
		pct := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "%" }
		rows = append(rows, []string{m.Name, strconv.Itoa(len(floors)), pct(quantileSorted(floors, 0.5)),
			pct(quantileSorted(floors, 0.9)), pct(floors[len(floors)-1]), short[worst]})
	}
	if len(rows) == 1 {
		bw.WriteString("no cell-metric has a floor (each needs at least 2 ok runs per side and a non-zero median)\n")
	} else if err := writeAligned(bw, rows, []bool{false, true, true, true, true, false}); err != nil {
		return err
	}
	switch {
	case aa != nil && aa.Tests == 0:
		fmt.Fprintf(bw, "\nA/A comparison: no cell-metric could be judged (a comparison needs at least %d runs per side)\n", aa.MinRuns)
	case aa != nil:
		t := aa.Tally()
		flagged := t.Better + t.Worse + t.Changed
		share := 0.0
		if aa.Tests > 0 {
			share = 100 * float64(flagged) / float64(aa.Tests)
		}
		fmt.Fprintf(bw, "\nA/A comparison (B against A, %s, q <= %g and beyond a %s%% minimum effect): %d of %d cell-metrics flagged (%.1f%%); the U test alone at α = %g: %d\n",
			strings.Join(aa.Metrics, ", "), aa.FDR, strconv.FormatFloat(aa.MinEffectPct, 'f', -1, 64), flagged, aa.Tests, share, aa.Alpha, rawSignificant(aa))
	}
	return bw.Flush()
}

// compactIDs shortens cell IDs for a table: the key=value parts every ID
// shares are left out ("protocol=tcp/size=32/sockets=2").
func compactIDs(ids []string) map[string]string {
	common := map[string]int{}
	for _, id := range ids {
		for _, part := range strings.Split(id, "/") {
			common[part]++
		}
	}
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		var keep []string
		for _, part := range strings.Split(id, "/") {
			if common[part] < len(ids) || len(ids) == 1 {
				keep = append(keep, part)
			}
		}
		out[id] = strings.Join(keep, "/")
	}
	return out
}

// rawSignificant counts the judged cell-metrics whose unadjusted p-value is
// at most Alpha: what the U test alone would flag.
func rawSignificant(c *Comparison) int {
	n := 0
	for _, cc := range c.Cells {
		for _, mc := range cc.Metrics {
			if mc.Reason == "" && mc.P <= c.Alpha {
				n++
			}
		}
	}
	return n
}
