package report

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// DirTimeFormat is the UTC time layout that starts a results directory name.
const DirTimeFormat = "20060102T150405Z"

// DirName is the base name of the results directory for r:
// <start time, UTC, DirTimeFormat>-<short commit or "unknown">.
func DirName(r *Result) string {
	t := r.Invocation.Start
	if t.IsZero() {
		t = r.Env.Time
	}
	if t.IsZero() {
		t = time.Now()
	}
	return t.UTC().Format(DirTimeFormat) + "-" + unsafeFileChars.ReplaceAllString(r.Env.ShortCommit(), "_")
}

// WriteDir writes the result set under root in a new directory named by
// DirName (with a "-2", "-3"… suffix when that name is taken; an existing
// directory is never written into), then points root/latest at it. Each
// file (results.json, benchmark_result.txt, the chart PNGs,
// BENCHMARK_RESULTS.md) is written atomically: to a temporary file in the same
// directory, then renamed. latest is replaced atomically too (a new symlink
// under a temporary name, renamed over it). It returns the directory's path,
// also with an error once the directory exists, so the caller can say where
// the partial output is. A chart that cannot be drawn is left out of the
// Markdown and reported in the error after everything else is written.
func WriteDir(root string, r *Result) (dir string, err error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("report: %w", err)
	}
	dir, err = makeNewDir(root, DirName(r))
	if err != nil {
		return "", err
	}

	filesErr := writeResultFiles(dir, r)
	if filesErr != nil && !errors.Is(filesErr, errChart) {
		return dir, filesErr
	}
	if err := pointLatest(root, filepath.Base(dir)); err != nil {
		return dir, err
	}
	return dir, filesErr
}

// errChart marks chart errors: every other file was written.
var errChart = errors.New("report: chart not drawn")

// drawAll writes each picture's PNG into dir, atomically, under its file
// name, and returns the pictures drawn. One that cannot be drawn or written
// is left out, its error (wrapping errChart) added to errs.
func drawAll[P any](dir string, pics []P, file func(P) string, draw func(P) ([]byte, error), errs *[]error) []P {
	var drawn []P
	for _, p := range pics {
		png, err := draw(p)
		if err == nil {
			err = writeFileAtomic(filepath.Join(dir, file(p)), png)
		}
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%w: %s: %w", errChart, file(p), err))
			continue
		}
		drawn = append(drawn, p)
	}
	return drawn
}

// writeResultFiles writes results.json, benchmark_result.txt, the charts and
// BENCHMARK_RESULTS.md into dir, each atomically. A chart that cannot be
// drawn is left out of the Markdown and reported (wrapping errChart) after
// everything else is written.
func writeResultFiles(dir string, r *Result) error {
	var buf bytes.Buffer
	if err := WriteJSON(&buf, r); err != nil {
		return fmt.Errorf("report: encode %s: %w", ResultsJSONFile, err)
	}
	if err := writeFileAtomic(filepath.Join(dir, ResultsJSONFile), buf.Bytes()); err != nil {
		return err
	}
	buf.Reset()
	if err := WriteBenchfmt(&buf, r); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, BenchmarkFile), buf.Bytes()); err != nil {
		return err
	}
	var chartErrs []error
	drawn := drawAll(dir, PlanCharts(r.Cells), func(ch Chart) string { return ch.File }, Chart.PNG, &chartErrs)
	loads := drawAll(dir, LoadGroups(r.Cells), LoadGroup.File, LoadGroup.PNG, &chartErrs)
	mems := drawAll(dir, MemoryPictures(r), MemoryPicture.File, MemoryPicture.PNG, &chartErrs)
	buf.Reset()
	if err := writeMarkdown(&buf, r, drawn, loads, mems); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, MarkdownFile), buf.Bytes()); err != nil {
		return err
	}
	return errors.Join(chartErrs...)
}

// makeNewDir creates root/name, or root/name-2, -3… when taken. os.Mkdir
// fails on an existing path, so no existing directory is ever reused.
func makeNewDir(root, name string) (string, error) {
	for i := 1; i <= 1000; i++ {
		dir := filepath.Join(root, name)
		if i > 1 {
			dir += "-" + strconv.Itoa(i)
		}
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("report: %w", err)
		}
	}
	return "", fmt.Errorf("report: %s: too many results directories with this name", filepath.Join(root, name))
}

// writeFileAtomic writes data to path through a temporary file in the same
// directory, synced and renamed over path; on failure no temporary file
// remains.
func writeFileAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
			err = fmt.Errorf("report: write %s: %w", path, err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err = f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// pointLatest makes root/latest a symlink to target (a name relative to
// root), replacing any previous link atomically.
func pointLatest(root, target string) error {
	link := filepath.Join(root, LatestLink)
	for i := 0; ; i++ {
		tmp := filepath.Join(root, fmt.Sprintf(".%s.tmp-%d-%d", LatestLink, os.Getpid(), i))
		err := os.Symlink(target, tmp)
		if errors.Is(err, fs.ErrExist) && i < 100 {
			continue
		}
		if err != nil {
			return fmt.Errorf("report: link %s: %w", link, err)
		}
		if err := os.Rename(tmp, link); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("report: link %s: %w", link, err)
		}
		return nil
	}
}

// CheckRoot reports, before anything is measured, whether WriteDir could
// write under root: root is a directory this process may create files in,
// or does not exist yet and its nearest existing ancestor is one; and
// root/latest, if present, is a symlink (WriteDir replaces it). It creates
// nothing that outlives it: whether a directory takes files is found out by
// creating and removing a temporary one.
func CheckRoot(root string) error {
	p := filepath.Clean(root)
	for {
		fi, err := os.Stat(p)
		if err == nil {
			if !fi.IsDir() {
				if p == filepath.Clean(root) {
					return fmt.Errorf("%s is not a directory", root)
				}
				return fmt.Errorf("%s: %s is not a directory", root, p)
			}
			break
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
			return fmt.Errorf("%s: %w", root, err)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return fmt.Errorf("%s: no part of the path exists", root)
		}
		p = parent
	}
	f, err := os.CreateTemp(p, ".zbench-check-*")
	if err != nil {
		return fmt.Errorf("%s: cannot create files in %s: %w", root, p, errors.Unwrap(err))
	}
	f.Close()
	os.Remove(f.Name())
	latest := filepath.Join(root, LatestLink)
	if fi, err := os.Lstat(latest); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
		return fmt.Errorf("%s exists and is not a symlink (zbench points it at the newest results directory)", latest)
	}
	return nil
}
