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
		commit string
		dirty  bool
		line   string
	}{
		{"0123456789abcdef", false, "commit: 0123456789abcdef"},
		{"0123456789abcdef", true, "commit: 0123456789abcdef (dirty)"},
		{report.Unknown, false, "commit: unknown"},
	}
	for _, tt := range tests {
		var out bytes.Buffer
		cmd := newVersionCmdWith(func(o *versionOptions) error {
			o.version = "v1.2.3"
			o.commit = func() (string, bool) { return tt.commit, tt.dirty }
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
