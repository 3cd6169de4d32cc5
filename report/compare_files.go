package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// File names of a comparison written beside the two result sets it compares.
const (
	CompareMarkdownFile = "compare.md"
	CompareJSONFile     = "compare.json"
	CompareTextFile     = "compare.txt"
)

// WriteResultSet writes the files of a result set (results.json,
// benchmark_result.txt, the charts, BENCHMARK_RESULTS.md) into dir, which it
// creates and which must not exist yet. Unlike WriteDir it chooses no name
// and points no latest link: it is for result sets whose place the caller
// decides, such as the two sides of `zbench ab`. Each file is written
// atomically. A chart that cannot be drawn is left out of the Markdown and
// reported in the error after everything else is written.
func WriteResultSet(dir string, r *Result) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return writeResultFiles(dir, r)
}

// WriteComparisonFiles writes the comparison into dir (which must exist) as
// compare.md and compare.json, and compare.txt when text is not nil (the
// text rendering, as printed). Each file is written atomically.
func WriteComparisonFiles(dir string, c *Comparison, g *Gate, text []byte) error {
	var md, js bytes.Buffer
	if err := WriteCompareMarkdown(&md, c, g); err != nil {
		return err
	}
	if err := WriteCompareJSON(&js, c, g); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, CompareMarkdownFile), md.Bytes()); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, CompareJSONFile), js.Bytes()); err != nil {
		return err
	}
	if text != nil {
		return writeFileAtomic(filepath.Join(dir, CompareTextFile), text)
	}
	return nil
}
