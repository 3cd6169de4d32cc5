package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"zbench/host"
)

// Unknown commands and bad flag values exit 2 with a message that says, in
// the product's words, what is allowed.
func TestCommandLineErrors(t *testing.T) {
	tests := []struct {
		args []string
		want []string // parts of stderr
	}{
		{[]string{"bogus"}, []string{`unknown command "bogus"; allowed: ab, calibrate, compare, completion, env, expand, peer, run, version`}},
		{[]string{"runn"}, []string{`unknown command "runn"`, "did you mean run?"}},
		{[]string{"help", "bogus"}, []string{`unknown command "bogus"`}},
		{[]string{"run", "--runs", "abc"}, []string{`--runs "abc": allowed: an integer >= 1`}},
		{[]string{"run", "--runs"}, []string{`--runs needs a value; allowed: an integer >= 1`}},
		{[]string{"run", "--colour", "red"}, []string{`unknown flag --colour for "zbench run"; allowed: --cpus, --data-address, --engine, --filter, --help, --hosts, --out, --profile, --profile-cpu, --profile-mem, --remote-dir, --runs, --scenarios, --ssh-config`}},
		{[]string{"run", "-x"}, []string{`unknown flag -x for "zbench run"`}},
		{[]string{"expand", "--json=maybe"}, []string{`--json "maybe": allowed: true or false`}},
		{[]string{"peer", "--timeout", "5"}, []string{`--timeout "5": allowed: a duration > 0 such as 500ms, 10s, 1m30s`}},
		{[]string{"peer", "--count", "1e6"}, []string{`--count "1e6": allowed: an integer >= 1`}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.args...)
			if code != exitBadInput || stdout != "" {
				t.Errorf("exit %d, stdout %q; want 2 and nothing", code, stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q, want it to contain %q", stderr, w)
				}
			}
			for _, leak := range []string{"strconv.", "ParseInt", "ParseBool", "invalid argument", "time: "} {
				if strings.Contains(stderr, leak) {
					t.Errorf("stderr %q shows the parser's own message (%q)", stderr, leak)
				}
			}
		})
	}
	// zbench alone is help, not an error.
	if code, stdout, _ := runCLI(t); code != exitOK || !strings.Contains(stdout, "Available Commands") {
		t.Errorf("zbench alone: exit %d, stdout %q", code, stdout)
	}
}

// --cpus naming a CPU this machine does not have lists those it has.
func TestRunCPUsListsAvailable(t *testing.T) {
	have, err := host.Affinity()
	if err != nil {
		t.Skip(err)
	}
	scen := writeFile(t, "s.yaml", runScenario)
	code, _, stderr := runCLI(t, "run", "--scenarios", scen, "--cpus", "1023", "--out", t.TempDir())
	if code != exitBadInput || !strings.Contains(stderr, "available: "+have.String()) {
		t.Errorf("exit %d, stderr %q; want 2 and the available CPUs %s", code, stderr, have)
	}
}

// Every path is checked before the first run: a results root that cannot
// be written fails at once with exit 2, and nothing runs.
func TestRunChecksOutBeforeRunning(t *testing.T) {
	scen := writeFile(t, "s.yaml", runScenario)
	file := writeFile(t, "a-file", "x")
	latestDir := t.TempDir()
	if err := os.Mkdir(filepath.Join(latestDir, "latest"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, tt := range map[string]struct{ out, want string }{
		"a file":             {file, file + " is not a directory"},
		"under a file":       {filepath.Join(file, "results"), "is not a directory"},
		"latest not a link":  {latestDir, "latest exists and is not a symlink"},
		"scenario elsewhere": {filepath.Join(file, "x", "y"), "allowed: a directory zbench can create files in"},
	} {
		t.Run(name, func(t *testing.T) {
			ran := false
			cmd := newRunCmdWith(func(context.Context, *runOptions) error { ran = true; return nil })
			cmd.SetArgs([]string{"--scenarios", scen, "--out", tt.out})
			cmd.SetOut(new(strings.Builder))
			cmd.SetErr(new(strings.Builder))
			err := cmd.ExecuteContext(context.Background())
			if ran || exitCode(err) != exitBadInput || err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ran %v, error %v (exit %d); want exit 2 before running, saying %q", ran, err, exitCode(err), tt.want)
			}
		})
	}
}
