package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"zbench/report"
)

func TestVersion(t *testing.T) {
	tests := []struct {
		c    report.CommitStamp
		line string
	}{
		{report.CommitStamp{Commit: "0123456789abcdef"}, "commit: 0123456789abcdef"},
		{report.CommitStamp{Commit: "0123456789abcdef", Dirty: true}, "commit: 0123456789abcdef (dirty)"},
		{report.CommitStamp{Commit: report.Unknown, Note: "no stamp"}, "commit: unknown\n        (no stamp)"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		cmd := newVersionCmdWith(func(o *versionOptions) error {
			o.version = "v1.2.3"
			o.commit = func() report.CommitStamp { return tt.c }
			return runVersion(o)
		})
		cmd.SetArgs(nil)
		cmd.SetOut(&out)
		if err := cmd.Execute(); err != nil {
			t.Fatal(err)
		}
		want := "zbench v1.2.3\n" + tt.line + "\ngo: " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
		if out.String() != want {
			t.Errorf("got %q, want %q", out.String(), want)
		}
	}
}

func TestVersionDefault(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"version"}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.HasPrefix(stdout.String(), "zbench "+report.Version+"\ncommit: ") {
		t.Errorf("output %q", stdout.String())
	}
}
