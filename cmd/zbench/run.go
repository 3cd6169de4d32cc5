package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"zbench/matrix"
	"zbench/report"
	"zbench/runner"
	"zbench/runner/engines"
	"zbench/runner/sample"
)

// runOptions holds what `zbench run` was asked to do, and what the command
// resolved from it before running anything.
type runOptions struct {
	Scenarios string   // scenario file path
	Profile   string   // "" = the file's default_profile
	Runs      int      // 0 = the profile's runs
	Filters   []string // --filter values, joined with "," into one filter
	Out       string   // results root directory
	CPUs      string   // --cpus list as given; "" = inherited mask
	Engines   []string // --engine values; narrow the engine axis
	ProfCPU   bool     // --profile-cpu
	ProfMem   bool     // --profile-mem
	Hosts     string   // --hosts sender=HOST,receiver=HOST
	DataAddr  string   // --data-address receiver=ADDR
	SSHConfig string   // --ssh-config FILE
	RemoteDir string   // --remote-dir DIR

	scenario *matrix.Scenario // resolved, filtered, runs applied
	builtin  bool             // the scenario came from the file built into zbench
	// profileCells is how many cells the profile has before any filter.
	profileCells int
	cpus         runner.CPUSpec // parsed CPUs; zero when not pinned
	hosts        runner.Hosts   // where the sides run: the file's hosts: block, then the flags
	command      []string       // the command line, for the results

	// executable, workerArgs and workerEnv override how workers are
	// spawned (tests); zero values mean this binary's `worker` command.
	executable string
	workerArgs []string
	workerEnv  []string

	stdout, stderr io.Writer
}

func newRunCmd() *cobra.Command { return newRunCmdWith(runRun) }

// newRunCmdWith builds the command around runF, so that tests can check
// flag and scenario handling without running a benchmark.
func newRunCmdWith(runF func(context.Context, *runOptions) error) *cobra.Command {
	opts := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the matrix of a profile and write a results directory",
		Long: `run reads the scenario file, resolves one profile, applies the filter and
overrides, and measures every cell: --runs times each (interleaved: run 1 of
every cell, then run 2, ...), every run in fresh worker processes (one per
side) that are measured from outside (peak RSS, CPU) and killed after the
profile's timeout.

The scenario file is --scenarios, else ./scenarios.yaml, else the one built
into zbench (it says so), so an installed zbench runs from any directory.

Everything is validated before anything runs: a bad flag, filter, scenario
file, CPU list or --out directory exits with status 2 and writes nothing.
Results go to a new directory under --out (results.json, benchmark_result.txt,
BENCHMARK_RESULTS.md), with --out/latest pointing at it; a summary table and
the directory's path are printed on standard output, progress on standard
error. Should --out stop being writable during the runs, the results go to
$TMPDIR/zbench-results instead, and the exit status is 1.

Cells an engine cannot run (libzmq in a binary built without the libzmq tag,
zmq4 over ws, a setting the engine cannot honour) are recorded as
unsupported, with the reason. The exit
status is 1 if any run failed or timed out, or the run was interrupted
(SIGINT, SIGTERM): the runs finished until then are still written.

Pinning: --cpus 0 pins every worker to CPU 0 (sched_setaffinity); without it
the workers inherit zbench's own mask, so "taskset -c 0 zbench run" pins them
as well. The mask is recorded with every run.`,
		Example: `  zbench run                                        # the default profile of ./scenarios.yaml
  zbench run --scenarios my.yaml --profile small    # a file of your own
  taskset -c 0 zbench run --profile full --runs 20  # the plan's pinned run
  zbench run --cpus 0:1 --filter protocol=tcp,size=32,size=1024  # sender on CPU 0, receiver on 1
  zbench run --profile engines --engine zmq4 --out /tmp/results`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return badInput(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.resolve(cmd.Flags().Changed); err != nil {
				return badInput(err)
			}
			opts.command = append([]string(nil), os.Args...)
			opts.stdout, opts.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return runF(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	opts.addMatrixFlags(fl, "scenario file", "runs of every cell, overriding the profile's (>= 1)")
	fl.StringVar(&opts.Out, "out", report.DefaultRoot, "directory the results directory is made in")
	fl.BoolVar(&opts.ProfCPU, "profile-cpu", false, "write a pprof CPU profile of the measured phases of every run and side (under profiles/ in the results directory); profiled figures are marked as such")
	fl.BoolVar(&opts.ProfMem, "profile-mem", false, "write a pprof heap profile (allocations) of the measured phases of every run and side")
	fl.StringVar(&opts.Hosts, "hosts", "", "where the sides run: sender=HOST,receiver=HOST, HOST being local or user@host[:port], reached with ssh (default: both local, or the scenario file's hosts: block)")
	fl.StringVar(&opts.DataAddr, "data-address", "", "receiver=ADDRESS: the address the receiver binds its data sockets on (default 127.0.0.1)")
	fl.StringVar(&opts.SSHConfig, "ssh-config", "", "an ssh_config file for ssh -F (default: ssh's own ~/.ssh/config)")
	fl.StringVar(&opts.RemoteDir, "remote-dir", "", "where zbench is cached on remote hosts (default: $XDG_CACHE_HOME/zbench or ~/.cache/zbench there)")
	return cmd
}

// addMatrixFlags defines the flags that choose what runs (shared by run and
// ab): scenario file, profile, runs, filter, CPU pinning, engines.
func (o *runOptions) addMatrixFlags(fl *pflag.FlagSet, scenariosHelp, runsHelp string) {
	fl.StringVar(&o.Scenarios, "scenarios", matrix.DefaultFile, scenariosHelp)
	fl.StringVar(&o.Profile, "profile", "", "profile to run (default: the file's default_profile)")
	fl.IntVar(&o.Runs, "runs", 0, runsHelp)
	setAllowed(fl, "runs", "an integer >= 1")
	fl.StringArrayVar(&o.Filters, "filter", nil, "keep the cells matching axis=value[,axis=value...] (repeatable)")
	fl.StringVar(&o.CPUs, "cpus", "", `pin the workers: one CPU set for all ("0", "0-1", "0,2") or one per side, SENDER:RECEIVER ("0:1") (default: the inherited mask)`)
	fl.StringSliceVar(&o.Engines, "engine", nil, "run only the cells of these engines: "+strings.Join(matrix.Engines, ", "))
}

// resolve validates every input and resolves the scenario, so that nothing
// runs unless all of it is right. changed says which flags were given.
func (o *runOptions) resolve(changed func(flag string) bool) error {
	runsSet := changed("runs")
	if runsSet && o.Runs < 1 {
		return fmt.Errorf("--runs %d: allowed: an integer >= 1", o.Runs)
	}
	if strings.TrimSpace(o.Out) == "" {
		return fmt.Errorf("--out is empty: allowed: a directory path")
	}
	filter, err := matrix.ParseFilter(joinFilters(o.Filters))
	if err != nil {
		return err
	}
	var engineFilter matrix.Filter
	if len(o.Engines) > 0 {
		terms := make([]string, len(o.Engines))
		for i, e := range o.Engines {
			terms[i] = matrix.AxisEngine + "=" + strings.TrimSpace(e)
		}
		if engineFilter, err = matrix.ParseFilter(strings.Join(terms, ",")); err != nil {
			return fmt.Errorf("--engine: %w", err)
		}
	}
	if o.CPUs != "" {
		if o.cpus, err = runner.ParseCPUSpec(o.CPUs); err != nil {
			return fmt.Errorf("--cpus: %w", err)
		}
		if err := o.cpus.Check(); err != nil {
			return fmt.Errorf("--cpus: %w", err)
		}
	}

	file, builtin, err := scenarioSource{path: o.Scenarios, named: changed("scenarios")}.load()
	if err != nil {
		return err
	}
	if err := o.resolveHosts(file.Hosts); err != nil {
		return err
	}
	o.builtin = builtin
	sc, err := file.Resolve(o.Profile)
	if err != nil {
		return err
	}
	o.profileCells = sc.Axes.Count()
	if sc, err = sc.Narrow(filter); err != nil {
		return err
	}
	if !engineFilter.IsEmpty() {
		userFilter := sc.Filter
		if sc, err = sc.Narrow(engineFilter); err != nil {
			return fmt.Errorf("--engine: %w", err)
		}
		sc.Filter = strings.Trim(userFilter+","+sc.Filter, ",")
	}
	if runsSet {
		sc.Runs = o.Runs
	}
	// Last, as it is the only check that touches the disk: results that
	// cannot be written must be known before the first run, not after.
	if err := report.CheckRoot(o.Out); err != nil {
		return fmt.Errorf("--out: %w; allowed: a directory zbench can create files in (made if missing)", err)
	}
	o.scenario = sc
	return nil
}

// runRun runs the resolved matrix, writes the results directory and prints
// the summary.
func runRun(ctx context.Context, o *runOptions) error {
	sc := o.scenario
	cells := sc.Cells()
	if o.builtin {
		noteBuiltin(o.stderr)
	}
	fmt.Fprintf(o.stderr, "zbench: %s\n", expandSummary(sc, len(cells), max(o.profileCells, len(cells))))
	printWarnings(o.stderr, sc)
	if c := report.DetectCommit(); c.Note != "" {
		fmt.Fprintf(o.stderr, "zbench: note: %s\n", c.Note)
	}
	inv := report.Invocation{
		Start:        time.Now().UTC(),
		Command:      o.command,
		ScenarioFile: sc.File,
		Profile:      sc.Profile,
		Runs:         sc.Runs,
		Filter:       append(append([]string{}, o.Filters...), engineTerms(o.Engines)...),
		CPUs:         o.CPUs,
	}
	prof, err := o.profiling()
	if err != nil {
		return failed(err)
	}
	res, err := runner.Run(ctx, cells, runner.Options{
		Runs:       sc.Runs,
		Executable: o.executable,
		WorkerArgs: o.workerArgs,
		Env:        o.workerEnv,
		Lookup:     engines.Lookup,
		CPUs:       o.cpus,
		Progress:   runner.NewProgress(o.stderr),
		Profile:    prof,
		Hosts:      o.hosts,
	})
	if err != nil {
		return failed(err)
	}
	if prof.Enabled() {
		inv.Profiled = prof.Kinds()
	}
	inv.End = time.Now().UTC()
	inv.Affinity = res.Affinity
	if res.Incomplete {
		inv.MarkIncomplete("interrupted")
	}
	env := report.CollectEnv()
	inv.Hosts = hostRecords(o.hosts, env, res.HostEnvs)
	result := report.NewResult(inv, env, sc, cells, res.Samples)
	if prof.Enabled() {
		var perr error
		result.Profiles, perr = report.SummarizeProfiles(prof.Dir, result, runner.ProfileCellName)
		if perr != nil {
			fmt.Fprintf(o.stderr, "warning: %v\n", perr)
		}
	}
	dir, err := report.WriteDir(o.Out, result)
	if err != nil && dir == "" {
		// --out was checked before the first run, but it may have changed
		// since: the runs are not lost, they go to the temporary directory.
		alt := filepath.Join(os.TempDir(), "zbench-results")
		if d, aerr := report.WriteDir(alt, result); d != "" {
			fmt.Fprintf(o.stderr, "zbench: cannot write under --out %s (%v): the results are in %s\n", o.Out, err, d)
			dir, err = d, errors.Join(err, aerr)
		}
	}
	if err == nil && prof.Enabled() {
		if rerr := os.Rename(prof.Dir, filepath.Join(dir, report.ProfilesDir)); rerr != nil {
			err = fmt.Errorf("moving the profiles from %s: %w", prof.Dir, rerr)
		}
	}
	if err != nil {
		if dir != "" {
			return failed(fmt.Errorf("writing results to %s: %w", dir, err))
		}
		return failed(fmt.Errorf("writing results: %w", err))
	}
	if err := report.WriteSummary(o.stdout, result.Cells); err != nil {
		return failed(err)
	}
	fmt.Fprintf(o.stdout, "\nresults: %s\n", dir)

	switch {
	case res.Incomplete:
		return failed(fmt.Errorf("interrupted after %d of %d runs; the finished runs are in %s",
			len(res.Samples), len(cells)*sc.Runs, dir))
	case res.Failed > 0:
		return failed(fmt.Errorf("%d of %d runs failed or timed out (see %s)", res.Failed, len(res.Samples), dir))
	}
	return nil
}

// engineTerms are the --engine values as filter terms, for the record.
func engineTerms(names []string) []string {
	var terms []string
	for _, n := range names {
		terms = append(terms, matrix.AxisEngine+"="+strings.TrimSpace(n))
	}
	return terms
}

// profiling prepares where the workers write their profiles: a staging
// directory under --out, moved into the results directory once it exists.
func (o *runOptions) profiling() (runner.Profiling, error) {
	if !o.ProfCPU && !o.ProfMem {
		return runner.Profiling{}, nil
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return runner.Profiling{}, fmt.Errorf("--out: %w", err)
	}
	dir, err := os.MkdirTemp(o.Out, ".profiles-*")
	if err != nil {
		return runner.Profiling{}, fmt.Errorf("--out: %w", err)
	}
	return runner.Profiling{Dir: dir, CPU: o.ProfCPU, Mem: o.ProfMem}, nil
}

// resolveHosts places the sides: the scenario file's hosts: block, then
// --hosts and --data-address over it.
func (o *runOptions) resolveHosts(file matrix.Hosts) error {
	h := runner.Hosts{Sender: file.Sender, Receiver: file.Receiver, SSHConfig: o.SSHConfig, RemoteDir: o.RemoteDir}
	if file.DataAddress != "" {
		h.DataAddress = map[string]string{sample.RoleReceiver: file.DataAddress}
	}
	if o.Hosts != "" {
		fh, err := runner.ParseHosts(o.Hosts)
		if err != nil {
			return fmt.Errorf("--hosts: %w", err)
		}
		if fh.Sender != "" {
			h.Sender = fh.Sender
		}
		if fh.Receiver != "" {
			h.Receiver = fh.Receiver
		}
	}
	if o.DataAddr != "" {
		da, err := runner.ParseDataAddress(o.DataAddr)
		if err != nil {
			return err
		}
		h.DataAddress = da
	}
	if o.SSHConfig != "" {
		if _, err := os.Stat(o.SSHConfig); err != nil {
			return fmt.Errorf("--ssh-config: %w", err)
		}
	}
	if h.Remote() {
		if _, err := exec.LookPath("ssh"); err != nil {
			return fmt.Errorf("--hosts names a remote host, but there is no ssh client on PATH (Debian: apt-get install openssh-client)")
		}
	}
	o.hosts = h
	return nil
}

// hostRecords says where each side ran and what that host is: this
// machine's stamp, or the remote's `zbench env --json`.
func hostRecords(h runner.Hosts, local report.Env, remote map[string]json.RawMessage) []report.HostRecord {
	if !h.Remote() {
		return nil
	}
	var out []report.HostRecord
	for _, role := range []string{sample.RoleSender, sample.RoleReceiver} {
		rec := report.HostRecord{Role: role, Host: h.Name(role)}
		if rec.Host == runner.HostLocal {
			e := local
			rec.Env = &e
		} else if raw, ok := remote[rec.Host]; ok {
			var e report.Env
			if json.Unmarshal(raw, &e) == nil {
				rec.Env = &e
			}
		}
		out = append(out, rec)
	}
	return out
}
