package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"zbench/host"
	"zbench/matrix"
)

// expandOptions holds what `zbench expand` was asked to do.
type expandOptions struct {
	Scenarios string   // scenario file path
	Profile   string   // "" = the file's default_profile
	Filters   []string // --filter values, joined with "," into one filter
	JSON      bool     // a JSON array instead of one line per cell

	filter         matrix.Filter // parsed from Filters by the command
	scenariosNamed bool          // --scenarios was given
	stdout         io.Writer
	stderr         io.Writer
}

func newExpandCmd() *cobra.Command { return newExpandCmdWith(runExpand) }

// newExpandCmdWith builds the command around runF, so that tests can check
// flag handling without loading a scenario file.
func newExpandCmdWith(runF func(*expandOptions) error) *cobra.Command {
	opts := &expandOptions{}
	cmd := &cobra.Command{
		Use:   "expand",
		Short: "List the cells of a profile without running them",
		Long: `expand reads the scenario file, resolves one profile, applies the filter and
prints the cells that "zbench run" would measure, in the order it would measure
them: one line per cell with its axes as key=value, or with --json an array of
objects holding the cell's axes, its workload and its "id". A count line goes to
standard error.

Filter terms are axis=value; terms of the same axis are alternatives, terms of
different axes must all hold: --filter protocol=tcp,size=32,size=1024 keeps the
tcp cells of sizes 32 and 1024. The axes are engine, pattern, protocol, size,
out_batch_size, write_batching and sockets.

A scenario file with problems is reported with every problem as FILE:LINE:COL
and the values allowed, and exits with status 2.`,
		Example: `  zbench expand                                   # the default profile of ./scenarios.yaml
  zbench expand --profile full --filter protocol=ws
  zbench expand --filter size=32,size=16384 --filter sockets=1
  zbench expand --profile engines --json | jq -r '.[].id'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return badInput(err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := matrix.ParseFilter(joinFilters(opts.Filters))
			if err != nil {
				return badInput(err)
			}
			opts.filter = f
			opts.scenariosNamed = cmd.Flags().Changed("scenarios")
			opts.stdout, opts.stderr = cmd.OutOrStdout(), cmd.ErrOrStderr()
			return runF(opts)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&opts.Scenarios, "scenarios", matrix.DefaultFile, "scenario file")
	fl.StringVar(&opts.Profile, "profile", "", "profile to expand (default: the file's default_profile)")
	fl.StringArrayVar(&opts.Filters, "filter", nil, "keep the cells matching axis=value[,axis=value...] (repeatable)")
	fl.BoolVar(&opts.JSON, "json", false, "print a JSON array of cells")
	return cmd
}

// joinFilters joins repeated --filter values into one expression.
func joinFilters(filters []string) string {
	var terms []string
	for _, f := range filters {
		if strings.TrimSpace(f) != "" {
			terms = append(terms, f)
		}
	}
	return strings.Join(terms, ",")
}

// runExpand loads, resolves and filters the scenario and prints its cells.
// Nothing reaches stdout unless the whole input is valid.
func runExpand(opts *expandOptions) error {
	file, builtin, err := scenarioSource{path: opts.Scenarios, named: opts.scenariosNamed}.load()
	if err != nil {
		return badInput(err)
	}
	if builtin {
		noteBuiltin(opts.stderr)
	}
	sc, err := file.Resolve(opts.Profile)
	if err != nil {
		return badInput(err)
	}
	total := sc.Axes.Count()
	sc, err = sc.Narrow(opts.filter)
	if err != nil {
		return badInput(err)
	}
	cells := sc.Cells()

	var out bytes.Buffer
	if opts.JSON {
		err = writeCellsJSON(&out, cells)
	} else {
		writeCellsText(&out, cells)
	}
	if err == nil {
		_, err = opts.stdout.Write(out.Bytes())
	}
	if err != nil {
		return failed(fmt.Errorf("expand: %w", err))
	}
	fmt.Fprintln(opts.stderr, expandSummary(sc, len(cells), total))
	printWarnings(opts.stderr, sc)
	return nil
}

// expandSummary is the count line: how many cells and worker runs.
func expandSummary(sc *matrix.Scenario, n, total int) string {
	count := fmt.Sprintf("%d cells", n)
	where := fmt.Sprintf("profile %s of %s", sc.Profile, sc.File)
	if sc.Filter != "" {
		count = fmt.Sprintf("%d of %d cells", n, total)
		where += ", filter " + sc.Filter
	}
	return fmt.Sprintf("%s x %d runs = %d worker runs (%s)", count, sc.Runs, n*sc.Runs, where)
}

// writeCellsText writes one line per cell, its axes as key=value in columns.
func writeCellsText(w *bytes.Buffer, cells []matrix.Cell) {
	rows := make([][]string, len(cells))
	widths := make([]int, len(matrix.Axes))
	for i, c := range cells {
		rows[i] = make([]string, len(matrix.Axes))
		for j, axis := range matrix.Axes {
			v, _ := c.Value(axis)
			rows[i][j] = axis + "=" + v
			widths[j] = max(widths[j], len(rows[i][j]))
		}
	}
	for _, row := range rows {
		for j, field := range row {
			if j == len(row)-1 {
				w.WriteString(field)
				break
			}
			fmt.Fprintf(w, "%-*s  ", widths[j], field)
		}
		w.WriteByte('\n')
	}
}

// expandedCell is one element of `zbench expand --json`.
type expandedCell struct {
	ID string `json:"id"`
	matrix.Cell
}

// writeCellsJSON writes the cells as one indented JSON array.
func writeCellsJSON(w io.Writer, cells []matrix.Cell) error {
	out := make([]expandedCell, len(cells))
	for i, c := range cells {
		out[i] = expandedCell{ID: c.ID(), Cell: c}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// printWarnings prints what in the scenario would make a throughput figure
// a drain rather than a rate.
func printWarnings(w io.Writer, sc *matrix.Scenario) {
	for _, msg := range sc.Warnings(host.SocketBufferBytes) {
		fmt.Fprintln(w, "warning:", msg)
	}
}
