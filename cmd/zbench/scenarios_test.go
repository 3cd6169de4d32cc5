package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	zbenchfiles "zbench"
	"zbench/matrix"
	"zbench/report"
)

// Outside a directory with a scenarios.yaml, zbench uses the one built into
// it and says so; a scenarios.yaml in the current directory, or a named
// one, wins; a named file that is missing is an error, never replaced.
func TestBuiltinScenarios(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)

	code, stdout, stderr := runCLI(t, "expand")
	if code != exitOK || !strings.Contains(stderr, "no scenarios.yaml in "+dir+": using the one built into zbench") ||
		!strings.Contains(stderr, "profile quick of "+zbenchfiles.ScenariosName) || !strings.Contains(stdout, "protocol=tcp") {
		t.Fatalf("expand without a scenario file: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}

	var got *runOptions
	cmd := newRunCmdWith(func(_ context.Context, o *runOptions) error { got = o; return nil })
	cmd.SetArgs(nil)
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !got.builtin || got.scenario.File != zbenchfiles.ScenariosName || got.scenario.Profile != "quick" {
		t.Errorf("run resolved %+v (builtin %v), want the built-in quick profile", got.scenario, got.builtin)
	}

	// A scenarios.yaml of the current directory is preferred, silently.
	own := "default_profile: mine\nprofiles:\n  mine:\n    protocol: [ipc]\n    size: [7]\n"
	if err := os.WriteFile(filepath.Join(dir, "scenarios.yaml"), []byte(own), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runCLI(t, "expand")
	if code != exitOK || strings.Contains(stderr, "built into") || !strings.Contains(stdout, "size=7") {
		t.Errorf("expand with ./scenarios.yaml: exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}

	code, _, stderr = runCLI(t, "expand", "--scenarios", "none.yaml")
	if code != exitBadInput || !strings.Contains(stderr, "--scenarios none.yaml: no such file") {
		t.Errorf("a named missing file: exit %d, stderr %q", code, stderr)
	}
}

// The default profile (what make run does) has runs enough for what the
// results promise: a confidence interval of every median, outlier flags,
// and a verdict from compare.
func TestDefaultProfileRunsEnoughToJudge(t *testing.T) {
	f, err := matrix.Parse(zbenchfiles.ScenariosName, zbenchfiles.Scenarios)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := f.Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	vals := make([]float64, sc.Runs)
	for i := range vals {
		vals[i] = float64(100 + i)
	}
	if st := report.Summarize(vals); st.CILow == nil || sc.Runs < report.MinRunsToCompare || sc.Runs < report.MinRunsForOutliers {
		t.Errorf("profile %s does %d runs per cell: no confidence interval (%v), or fewer than compare (%d) or outlier flags (%d) need",
			sc.Profile, sc.Runs, st.CILow, report.MinRunsToCompare, report.MinRunsForOutliers)
	}
}
