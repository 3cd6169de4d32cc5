package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	zbenchfiles "zbench"
	"zbench/matrix"
	"zbench/report"
	"zbench/runner/sample"
)

// abOptions holds what `zbench ab` was asked to do.
type abOptions struct {
	Base string // revision of the base side (required)
	Head string // revision of the head side; "" = the working tree as it is
	Out  string // directory to write into; "" = results/<time>-ab-<base>-<head>
	Tags string // build tags for both builds
	run  runOptions
	compareFlags

	command []string // the command line, for the results
	dir     string   // where the git checkout is looked for; "" = "."
	tempDir string   // parent of ab's temporary directory; "" = os.TempDir()
	build   abBuildFunc
	runOnce abRunFunc
	now     func() time.Time
	stdout  io.Writer
	stderr  io.Writer
}

// abBuildFunc builds zbench from the source tree src into the executable
// bin. version is stamped as report.Version. Its error carries the tail of
// the build's output.
type abBuildFunc func(ctx context.Context, src, bin, tags, version string) error

// abRunFunc runs `bin args...` in dir (a `zbench run` that writes its
// results under the --out in args) and returns the result set it wrote.
type abRunFunc func(ctx context.Context, bin, dir string, args []string) (*report.Result, error)

// abSide is one of the two builds being compared.
type abSide struct {
	name   string // "base" or "head"
	rev    string // as given; "" for the working tree
	commit string // full hash; "" for a working tree without commits
	label  string // short commit, "-dirty" for a dirty working tree, or "worktree"
	src    string // source tree built and run in
	added  bool   // src is a worktree ab added
	bin    string // the built executable

	results []*report.Result // one per finished `zbench run --runs 1`, in run order
}

func newAbCmd() *cobra.Command { return newAbCmdWith(runAB) }

// newAbCmdWith builds the command around runF, so that tests can check flag
// handling without building or running anything.
func newAbCmdWith(runF func(context.Context, *abOptions) error) *cobra.Command {
	opts := &abOptions{}
	cmd := &cobra.Command{
		Use:   "ab --base REV [--head REV]",
		Short: "Build two revisions and compare them on the same matrix, runs interleaved",
		Long: `ab answers "did this change make it better or worse?" on one machine. It builds
zbench at --base (and at --head, or from the working tree as it is when --head
is not given) in temporary git worktrees, then runs both on the same matrix:
the scenario file, profile and filter of this invocation, one "zbench run
--runs 1" per side and run index, interleaved A B B A A B ... so that drift of
the machine spreads over both sides. Each build runs with its own worker.

It writes both result sets and the comparison into one directory (--out, by
default results/<UTC time>-ab-<base>-<head>): base-<rev>/ and head-<rev>/ (each
a complete results directory), compare.md, compare.json and compare.txt; the
comparison is also printed (see "zbench compare"). The worktrees and builds
are removed afterwards, also on failure and on Ctrl-C; runs finished before an
interrupt are still written.

Exit status: 0 ok; 1 a revision does not build, a run could not be made, the
run was interrupted, or the --fail-on gate tripped; 2 bad input (not in a git
checkout, unknown revision, bad flags or scenario), or a gated metric that
could not be judged (see "zbench compare").

Comparisons need at least 4 runs per side to judge a change: use --runs 6 or
more (the quick profile has 6).`,
		Example: `  zbench ab --base main --runs 6                     # main against the working tree
  zbench ab --base v0.3.0 --head HEAD --runs 10 --cpus 0
  zbench ab --base origin/main --runs 6 --fail-on msgs_per_sec:-5%,rtt_p99_ns:+10%
  make bench-compare BASE=main`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return badInput(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(opts.Base) == "" {
				return badInput(errors.New("--base is required: the git revision to compare against"))
			}
			for _, r := range []struct{ flag, rev string }{{"--base", opts.Base}, {"--head", opts.Head}} {
				if strings.HasPrefix(r.rev, "-") {
					return badInput(fmt.Errorf("%s %q: allowed: a git revision (a commit, branch or tag)", r.flag, r.rev))
				}
			}
			if cmd.Flags().Changed("out") && strings.TrimSpace(opts.Out) == "" {
				return badInput(errors.New("--out is empty: allowed: a directory path"))
			}
			opts.run.Out = report.DefaultRoot // resolve insists on one; ab's children get their own
			if err := opts.run.resolve(cmd.Flags().Changed); err != nil {
				return badInput(err)
			}
			if err := opts.resolve(cmd.Flags().Changed("fail-on")); err != nil {
				return badInput(err)
			}
			opts.command = append([]string(nil), os.Args...)
			opts.stdout, opts.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return runF(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Base, "base", "", "git revision of the base side (required)")
	fl.StringVar(&opts.Head, "head", "", "git revision of the head side (default: the working tree as it is, uncommitted changes included)")
	fl.StringVar(&opts.Out, "out", "", "directory to write both result sets and the comparison into; must not exist (default: results/<time>-ab-<base>-<head>)")
	fl.StringVar(&opts.Tags, "tags", "", "build tags for both builds, e.g. libzmq")
	opts.run.addMatrixFlags(fl, "scenario file (this one is used for both sides)",
		"runs of every cell on each side, overriding the profile's (>= 1; 6 or more to judge changes)")
	opts.register(fl)
	return cmd
}

// runAB builds both sides, runs them interleaved, writes the result sets and
// the comparison, and applies the gate.
func runAB(ctx context.Context, o *abOptions) (err error) {
	if o.build == nil {
		o.build = goBuild
	}
	if o.runOnce == nil {
		o.runOnce = runZbenchOnce
	}
	if o.now == nil {
		o.now = time.Now
	}
	dir := o.dir
	if dir == "" {
		dir = "."
	}
	sc := o.run.scenario
	scenarioFile, err := filepath.Abs(o.run.Scenarios)
	if err != nil {
		return badInput(fmt.Errorf("--scenarios: %w", err))
	}

	top, err := git(ctx, dir, "rev-parse", "--show-toplevel")
	if err != nil {
		return badInput(fmt.Errorf("zbench ab builds revisions from git, but %s is not inside a git checkout: %w", absPath(dir), err))
	}
	base := &abSide{name: "base", rev: o.Base}
	head := &abSide{name: "head", rev: o.Head}
	for _, s := range []*abSide{base, head} {
		if err := s.resolve(ctx, top); err != nil {
			return err
		}
	}

	out := o.Out
	if out == "" {
		out = filepath.Join(report.DefaultRoot,
			o.now().UTC().Format(report.DirTimeFormat)+"-ab-"+base.label+"-"+head.label)
	}
	if err := makeOutDir(out); err != nil {
		return badInput(err)
	}
	defer os.Remove(out) // only removes it while still empty: after a failure before anything was written

	tmp, err := os.MkdirTemp(o.tempDir, "zbench-ab-")
	if err != nil {
		return failed(err)
	}
	tmp = absPath(tmp) // the children run in other directories
	if o.run.builtin {
		// Both sides run the scenario file this zbench carries.
		scenarioFile = filepath.Join(tmp, matrix.DefaultFile)
		if err := os.WriteFile(scenarioFile, zbenchfiles.Scenarios, 0o644); err != nil {
			os.RemoveAll(tmp)
			return failed(err)
		}
	}
	defer func() {
		// The context may be cancelled: clean up with a fresh one.
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		for _, s := range []*abSide{base, head} {
			if s.added {
				if _, rerr := git(cctx, top, "worktree", "remove", "--force", s.src); rerr != nil {
					fmt.Fprintf(o.stderr, "zbench: ab: removing worktree %s: %v\n", s.src, rerr)
				}
			}
		}
		os.RemoveAll(tmp)
		if base.added || head.added {
			git(cctx, top, "worktree", "prune")
		}
	}()

	if sc.Runs < report.MinRunsToCompare {
		fmt.Fprintf(o.stderr, "zbench: ab: warning: %d runs per side; a change is only judged with at least %d (use --runs 6 or more)\n",
			sc.Runs, report.MinRunsToCompare)
	}
	for _, s := range []*abSide{base, head} {
		if s.rev != "" {
			s.src = filepath.Join(tmp, s.name+"-src")
			fmt.Fprintf(o.stderr, "ab: checking out %s %s (%s) in a temporary worktree\n", s.name, s.label, s.rev)
			if _, err := git(ctx, top, "worktree", "add", "--detach", s.src, s.commit); err != nil {
				return failed(fmt.Errorf("%s: git worktree add: %w", s.name, err))
			}
			s.added = true
		} else {
			s.src = top
		}
		s.bin = filepath.Join(tmp, "bin", s.name, "zbench")
		version := s.label
		if v, err := git(ctx, s.src, "describe", "--always", "--dirty"); err == nil && v != "" {
			version = v
		}
		fmt.Fprintf(o.stderr, "ab: building %s %s\n", s.name, s.label)
		if err := o.build(ctx, s.src, s.bin, o.Tags, version); err != nil {
			if ctx.Err() != nil {
				return failed(fmt.Errorf("interrupted while building %s", s.name))
			}
			return failed(fmt.Errorf("%s %s does not build: %w", s.name, s.label, err))
		}
	}

	args := []string{"run", "--scenarios", scenarioFile, "--profile", sc.Profile, "--runs", "1"}
	for _, f := range o.run.Filters {
		args = append(args, "--filter", f)
	}
	for _, e := range o.run.Engines {
		args = append(args, "--engine", e)
	}
	if o.run.CPUs != "" {
		args = append(args, "--cpus", o.run.CPUs)
	}

	interrupted := false
runs:
	for i := 1; i <= sc.Runs; i++ {
		for _, s := range abOrder(i, base, head) {
			if ctx.Err() != nil {
				interrupted = true
				break runs
			}
			runOut := filepath.Join(tmp, "runs", fmt.Sprintf("%s-%d", s.name, i))
			start := time.Now()
			fmt.Fprintf(o.stderr, "ab: run %d/%d: %s %s\n", i, sc.Runs, s.name, s.label)
			r, err := o.runOnce(ctx, s.bin, s.src, append(slices.Clone(args), "--out", runOut))
			if ctx.Err() != nil {
				interrupted = true
				break runs
			}
			if err != nil {
				return failed(fmt.Errorf("%s %s, run %d: %w", s.name, s.label, i, err))
			}
			renumber(r, i)
			s.results = append(s.results, r)
			fmt.Fprintf(o.stderr, "ab: run %d/%d: %s %s: %s in %s\n", i, sc.Runs, s.name, s.label,
				runCounts(r), time.Since(start).Round(100*time.Millisecond))
		}
	}
	if len(base.results) == 0 || len(head.results) == 0 {
		if interrupted {
			return failed(errors.New("interrupted before both sides finished a run; nothing written"))
		}
		return failed(errors.New("no runs were made"))
	}

	baseRes, headRes := base.merge(o, sc.Runs, interrupted), head.merge(o, sc.Runs, interrupted)
	for _, s := range []struct {
		side *abSide
		r    *report.Result
	}{{base, baseRes}, {head, headRes}} {
		if err := report.WriteResultSet(filepath.Join(out, s.side.name+"-"+s.side.label), s.r); err != nil {
			return failed(fmt.Errorf("writing the %s result set: %w", s.side.name, err))
		}
	}
	c, err := report.Compare(baseRes, headRes, o.options("base "+base.label, "head "+head.label))
	if err != nil {
		return badInput(err)
	}
	g := o.gate(c)
	var text bytes.Buffer
	if err := report.WriteCompareText(&text, c, g); err != nil {
		return failed(err)
	}
	if err := report.WriteComparisonFiles(out, c, g, text.Bytes()); err != nil {
		return failed(err)
	}
	o.stdout.Write(text.Bytes())
	fmt.Fprintf(o.stdout, "\nresults: %s\n", out)
	if interrupted {
		return failed(fmt.Errorf("interrupted: %d of %d runs per side finished; what finished is in %s",
			min(len(base.results), len(head.results)), sc.Runs, out))
	}
	return gateError(g)
}

// abOrder is the order the two sides run in at run index i (from 1):
// A B, B A, A B, ... so that neither side always goes first.
func abOrder(i int, a, b *abSide) []*abSide {
	if i%2 == 1 {
		return []*abSide{a, b}
	}
	return []*abSide{b, a}
}

// resolve finds the side's commit and label: a revision must name a commit;
// no revision means the working tree at top.
func (s *abSide) resolve(ctx context.Context, top string) error {
	if s.rev != "" {
		commit, err := git(ctx, top, "rev-parse", "--verify", "--quiet", s.rev+"^{commit}")
		if err != nil || commit == "" {
			return badInput(fmt.Errorf("--%s %q: unknown revision in %s (allowed: a commit, branch or tag of this repository)", s.name, s.rev, top))
		}
		s.commit, s.label = commit, report.ShortCommit(commit)
		return nil
	}
	commit, err := git(ctx, top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
	if err != nil || commit == "" {
		s.label = "worktree" // a repository without commits
		return nil
	}
	s.commit, s.label = commit, report.ShortCommit(commit)
	if status, err := git(ctx, top, "status", "--porcelain"); err != nil || status != "" {
		s.label += "-dirty"
	}
	return nil
}

// merge joins the side's runs into one result set: the samples of every
// finished run (renumbered by run index), the cells and environment of its
// first run, and an invocation spanning them all.
func (s *abSide) merge(o *abOptions, runs int, interrupted bool) *report.Result {
	first, last := s.results[0], s.results[len(s.results)-1]
	inv := first.Invocation
	inv.End = last.Invocation.End
	inv.Command = o.command
	inv.Runs = runs
	inv.Incomplete, inv.IncompleteReasons = false, nil
	if interrupted {
		inv.MarkIncomplete("interrupted")
	}
	var cells []matrix.Cell
	seen := map[string]bool{}
	var samples []sample.Sample
	for _, r := range s.results {
		for _, c := range r.Cells {
			if !seen[c.ID] {
				seen[c.ID] = true
				cells = append(cells, c.Cell)
			}
		}
		samples = append(samples, r.Samples...)
		for _, why := range r.Invocation.IncompleteReasons {
			if strings.Contains(why, "interrupted") {
				inv.MarkIncomplete("interrupted")
			}
		}
	}
	return report.NewResult(inv, first.Env, first.Scenario, cells, samples)
}

// renumber sets the run index of every sample of a `--runs 1` result.
func renumber(r *report.Result, run int) {
	for i := range r.Samples {
		r.Samples[i].Run = run
	}
}

// runCounts is "24 runs ok" or "22 of 24 runs ok".
func runCounts(r *report.Result) string {
	ok := 0
	for _, s := range r.Samples {
		if s.Status == sample.StatusOK || s.Status == sample.StatusUnsupported {
			ok++
		}
	}
	if ok == len(r.Samples) {
		return fmt.Sprintf("%d runs ok", ok)
	}
	return fmt.Sprintf("%d of %d runs ok", ok, len(r.Samples))
}

// makeOutDir creates out (and its parents); out must not exist, or be an
// empty directory.
func makeOutDir(out string) error {
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	err := os.Mkdir(out, 0o755)
	if errors.Is(err, fs.ErrExist) {
		entries, rerr := os.ReadDir(out)
		if rerr == nil && len(entries) == 0 {
			return nil
		}
		return fmt.Errorf("--out %s exists and is not an empty directory; allowed: a new directory", out)
	}
	if err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	return nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// git runs git in dir and returns its trimmed standard output; its error
// says what git said on standard error.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("git %s: %s", strings.Join(args, " "), msg)
		}
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// buildTailLines is how much of a failed build's output an error shows.
const buildTailLines = 30

// goBuild is the real abBuildFunc: go build ./cmd/zbench in src.
func goBuild(ctx context.Context, src, bin, tags, version string) error {
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the Go toolchain is needed to build each revision: %w", err)
	}
	args := []string{"build", "-o", bin, "-ldflags", "-X zbench/report.Version=" + version}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	cmd := exec.CommandContext(ctx, gobin, append(args, "./cmd/zbench")...)
	cmd.Dir = src
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("go %s in %s: %v\n%s", strings.Join(append(args, "./cmd/zbench"), " "), src, err, tail(out, buildTailLines))
	}
	return nil
}

// tail returns the last n lines of out, indented.
func tail(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[… %d lines before]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return "    " + strings.Join(lines, "\n    ")
}

// abInterruptGrace is how long a child `zbench run` has to stop its worker
// and write what it finished after an interrupt, before it is killed.
const abInterruptGrace = 10 * time.Second

// runZbenchOnce is the real abRunFunc: it runs `bin args...` in dir and
// reads the result set it wrote under its --out (the last "--out" in args).
// Exit status 1 still counts when the results were written (failed runs are
// recorded in them); anything else is an error with the tail of its output.
func runZbenchOnce(ctx context.Context, bin, dir string, args []string) (*report.Result, error) {
	out := ""
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "--out" {
			out = args[i+1]
		}
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = abInterruptGrace
	var output bytes.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == exitFailed) {
		return nil, fmt.Errorf("%s %s: %v\n%s", bin, strings.Join(args, " "), err, tail(output.Bytes(), buildTailLines))
	}
	r, rerr := report.ReadResult(filepath.Join(out, report.LatestLink))
	if rerr != nil {
		return nil, fmt.Errorf("%s %s: exit %v, no results: %v\n%s", bin, strings.Join(args, " "), err, rerr, tail(output.Bytes(), buildTailLines))
	}
	return r, nil
}
