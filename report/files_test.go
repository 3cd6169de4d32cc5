package report

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "results")
	r := fixtureResult()

	dir, err := WriteDir(root, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "20260314T092653Z-0123456"); dir != want {
		t.Errorf("dir = %s, want %s", dir, want)
	}
	files := listDir(t, dir)
	want := []string{MarkdownFile, BenchmarkFile, "chart-cpu_ns_per_msg.png", "chart-msgs_per_sec.png", "chart-rss_bytes.png",
		"chart-rtt_p50_ns.png", "chart-rtt_p99_ns.png", ResultsJSONFile}
	if !slices.Equal(files, want) {
		t.Errorf("files %v, want %v (and no temporary files)", files, want)
	}
	// Each file holds what its renderer makes.
	var b bytes.Buffer
	if err := WriteBenchfmt(&b, r); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, BenchmarkFile)); !bytes.Equal(got, b.Bytes()) {
		t.Error("benchmark_result.txt differs from WriteBenchfmt's output")
	}
	md, _ := os.ReadFile(filepath.Join(dir, MarkdownFile))
	for _, f := range want {
		if strings.HasSuffix(f, ".png") && !bytes.Contains(md, []byte("]("+f+")")) {
			t.Errorf("Markdown does not reference %s", f)
		}
	}
	target, err := os.Readlink(filepath.Join(root, LatestLink))
	if err != nil || target != filepath.Base(dir) {
		t.Errorf("latest -> %q (%v), want %q", target, err, filepath.Base(dir))
	}

	// Same name again: a new directory, the first one untouched.
	before, _ := os.ReadFile(filepath.Join(dir, ResultsJSONFile))
	r2 := fixtureResult()
	r2.Invocation.Profile = "full"
	dir2, err := WriteDir(root, r2)
	if err != nil {
		t.Fatal(err)
	}
	if dir2 != dir+"-2" {
		t.Errorf("second dir = %s, want %s-2", dir2, dir)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, ResultsJSONFile)); !bytes.Equal(before, after) {
		t.Error("the existing results directory was overwritten")
	}
	if target, _ := os.Readlink(filepath.Join(root, LatestLink)); target != filepath.Base(dir2) {
		t.Errorf("latest -> %q after the second write, want %q", target, filepath.Base(dir2))
	}
	got, err := ReadResult(filepath.Join(root, LatestLink))
	if err != nil || got.Invocation.Profile != "full" {
		t.Errorf("reading latest: profile %v, %v", got, err)
	}
	if names := listDir(t, root); !slices.Equal(names, []string{filepath.Base(dir), filepath.Base(dir2), LatestLink}) {
		t.Errorf("root holds %v (temporary files left?)", names)
	}
}

func TestWriteDirUnknownCommit(t *testing.T) {
	root := t.TempDir()
	r := fixtureResult()
	r.Env.Commit, r.Env.Dirty = Unknown, false
	dir, err := WriteDir(root, r)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(dir) != "20260314T092653Z-unknown" {
		t.Errorf("dir %s", dir)
	}
	b, _ := os.ReadFile(filepath.Join(dir, BenchmarkFile))
	if !bytes.Contains(b, []byte("\ncommit: unknown\n")) {
		t.Error("benchmark_result.txt does not say commit: unknown")
	}
}

func TestWriteDirFails(t *testing.T) {
	root := t.TempDir()
	r := fixtureResult()
	// latest is a directory: it cannot be replaced, and WriteDir says so
	// after writing the results.
	if err := os.MkdirAll(filepath.Join(root, LatestLink, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := WriteDir(root, r)
	if err == nil {
		t.Fatal("no error when latest cannot be replaced")
	}
	if _, statErr := os.Stat(filepath.Join(dir, ResultsJSONFile)); statErr != nil {
		t.Errorf("results not written before the link failed: %v", statErr)
	}
	for _, n := range listDir(t, root) {
		if strings.Contains(n, ".tmp") {
			t.Errorf("temporary file %s left behind", n)
		}
	}
}

func TestWriteFileAtomicLeavesNoTempOnFailure(t *testing.T) {
	dir := t.TempDir()
	// The target is a non-empty directory: the rename fails.
	target := filepath.Join(dir, "out")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFileAtomic(target, []byte("data")); err == nil {
		t.Fatal("rename over a directory succeeded")
	}
	if names := listDir(t, dir); !slices.Equal(names, []string{"out"}) {
		t.Errorf("dir holds %v", names)
	}
}

func TestReadResultRoundTrip(t *testing.T) {
	root := t.TempDir()
	r := fixtureResult()
	dir, err := WriteDir(root, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, filepath.Join(dir, ResultsJSONFile)} {
		got, err := ReadResult(path)
		if err != nil {
			t.Fatal(err)
		}
		var a, b bytes.Buffer
		if err := WriteJSON(&a, r); err != nil {
			t.Fatal(err)
		}
		if err := WriteJSON(&b, got); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: read result differs from the written one", path)
		}
		if !got.Invocation.Start.Equal(fixedStart) || got.Cells[1].Metrics[MetricRTTP99].Outliers[0].Run != 4 ||
			got.Samples[0].Throughput.Messages != 100000 {
			t.Errorf("%s: fields lost in the round trip", path)
		}
	}
}

func TestReadResultErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, content string
		is            error
		line          int
	}{
		{"syntax.json", "{\n  \"schema_version\": 1,\n  \"cells\": [,]\n}\n", ErrNotResult, 3},
		{"type.json", "{\n  \"schema_version\": 1,\n  \"cells\": {}\n}\n", ErrNotResult, 3},
		{"other.json", `{"name": "x"}`, ErrNotResult, 0},
		{"newer.json", `{"schema_version": 99}`, ErrSchema, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := write(tt.name, tt.content)
			_, err := ReadResult(p)
			if !errors.Is(err, tt.is) {
				t.Fatalf("err = %v, want %v", err, tt.is)
			}
			var fe *FileError
			if !errors.As(err, &fe) || fe.Path != p || fe.Line != tt.line {
				t.Errorf("err = %#v, want a FileError for %s line %d", err, p, tt.line)
			}
		})
	}
	if _, err := ReadResult(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
}

func TestDirNameFallsBackToEnvTime(t *testing.T) {
	r := &Result{Env: Env{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600)), Commit: "abcdef0123"}}
	if got := DirName(r); got != "20260102T020405Z-abcdef0" {
		t.Errorf("DirName = %s", got)
	}
}

func TestCheckRoot(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A root that does not exist yet is fine and is not created.
	fresh := filepath.Join(dir, "a", "b", "results")
	if err := CheckRoot(fresh); err != nil {
		t.Errorf("CheckRoot(%s) = %v", fresh, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); !os.IsNotExist(err) {
		t.Errorf("CheckRoot created %s", filepath.Join(dir, "a"))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("CheckRoot left %d entries in %s, want only the file", len(entries), dir)
	}
	for _, root := range []string{file, filepath.Join(file, "results")} {
		if err := CheckRoot(root); err == nil || !strings.Contains(err.Error(), "is not a directory") {
			t.Errorf("CheckRoot(%s) = %v, want not a directory", root, err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "r"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "r", LatestLink), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := CheckRoot(filepath.Join(dir, "r")); err == nil || !strings.Contains(err.Error(), "not a symlink") {
		t.Errorf("CheckRoot with a latest directory = %v", err)
	}
}
