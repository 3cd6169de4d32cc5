package main

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// flagError is returned for any flag or argument the command line got wrong.
type flagError struct{ err error }

func (e *flagError) Error() string { return e.err.Error() }
func (e *flagError) Unwrap() error { return e.err }

func isFlagError(err error) bool {
	var fe *flagError
	return errors.As(err, &fe)
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "zbench",
		Short: "Latency/throughput matrix of a ZeroMQ-compatible messaging engine",
		Long: `zbench measures what write batching and immediate writes cost and buy in a
messaging engine that speaks ZeroMQ's wire protocol (ZMTP 3.1, ZWS 2.0), across
message sizes, transports, out_batch_size and connection counts, and records
results that can be compared between commits.

The scenario file is --scenarios, else ./scenarios.yaml, else the one built
into zbench (which zbench says when it uses it).

Exit codes: 0 ok; 1 a run failed, was interrupted, or a regression gate
tripped; 2 bad input (flags, arguments, scenario file) and nothing was run.`,
		Example: `  zbench run                          # the default (quick) profile of ./scenarios.yaml
  zbench run --profile full --runs 20 # the whole matrix
  zbench expand --filter protocol=tcp # list cells without running them
  zbench compare OLD NEW              # two results directories, cell by cell
  zbench env                          # the environment stamp`,
		// zbench alone prints this help; anything else must be a command.
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return badInput(unknownCommand(cmd, args[0]))
			}
			return nil
		},
		RunE:          func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		SilenceUsage:  true,
		SilenceErrors: true,
		// As cobra does for its own unknown-command message.
		SuggestionsMinimumDistance: 2,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &flagError{err: flagMessage(c, err)}
	})
	root.AddCommand(
		// Each command lives in its own file and is added here.
		newExpandCmd(),
		newRunCmd(),
		newPeerCmd(),
		newWorkerCmd(),
		newEnvCmd(),
		newVersionCmd(),
		newCompareCmd(),
		newAbCmd(),
		newCalibrateCmd(),
	)
	root.SetHelpCommand(&cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return badInput(unknownCommand(c.Root(), strings.Join(args, " ")))
			}
			return cmd.Help()
		},
	})
	return root
}

// unknownCommand says that name is no command of root's, listing those
// that are.
func unknownCommand(root *cobra.Command, name string) error {
	var names []string
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	sort.Strings(names)
	msg := fmt.Sprintf("unknown command %q; allowed: %s", name, strings.Join(names, ", "))
	if s := root.SuggestionsFor(name); len(s) > 0 {
		msg += " (did you mean " + strings.Join(s, " or ") + "?)"
	}
	return errors.New(msg + `; "zbench help COMMAND" describes one`)
}

// allowedAnnotation is the flag annotation that says, in the product's
// words, what values a flag takes; flagMessage quotes it.
const allowedAnnotation = "zbench-allowed"

// setAllowed records what values flag name of fl takes, for the message of
// a bad value.
func setAllowed(fl *pflag.FlagSet, name, allowed string) {
	if err := fl.SetAnnotation(name, allowedAnnotation, []string{allowed}); err != nil {
		panic(err) // a flag name the command does not define: a programming error
	}
}

// flagMessage rewrites pflag's errors in the product's words: the flag, the
// value given and what is allowed, never a parser's own message.
func flagMessage(c *cobra.Command, err error) error {
	var (
		invalid  *pflag.InvalidValueError
		required *pflag.ValueRequiredError
		notExist *pflag.NotExistError
		syntax   *pflag.InvalidSyntaxError
	)
	switch {
	case errors.As(err, &invalid):
		f := invalid.GetFlag()
		return fmt.Errorf("--%s %q: allowed: %s", f.Name, invalid.GetValue(), allowedValues(f))
	case errors.As(err, &required):
		f := required.GetFlag()
		return fmt.Errorf("--%s needs a value; allowed: %s", f.Name, allowedValues(f))
	case errors.As(err, &notExist):
		name := "--" + notExist.GetSpecifiedName()
		if notExist.GetSpecifiedShortnames() != "" {
			name = "-" + notExist.GetSpecifiedName()
		}
		return fmt.Errorf("unknown flag %s for %q; allowed: %s (%q lists them)",
			name, c.CommandPath(), strings.Join(flagNames(c), ", "), c.CommandPath()+" --help")
	case errors.As(err, &syntax):
		return fmt.Errorf("bad flag syntax %s; allowed: --name VALUE or --name=VALUE", syntax.GetSpecifiedFlag())
	}
	return err
}

// allowedValues is what a flag takes: its annotation, else what its type
// takes.
func allowedValues(f *pflag.Flag) string {
	if a := f.Annotations[allowedAnnotation]; len(a) > 0 {
		return a[0]
	}
	switch f.Value.Type() {
	case "int", "int64", "uint", "uint64":
		return "an integer"
	case "float64":
		return "a number"
	case "duration":
		return "a duration such as 500ms, 10s, 1m30s"
	case "bool":
		return "true or false (--" + f.Name + " alone is true)"
	}
	return "a " + f.Value.Type()
}

// flagNames lists the flags c takes, its own and inherited, as --name.
func flagNames(c *cobra.Command) []string {
	var names []string
	add := func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, "--"+f.Name)
		}
	}
	c.LocalFlags().VisitAll(add)
	c.InheritedFlags().VisitAll(add)
	sort.Strings(names)
	return names
}
