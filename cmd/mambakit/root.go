package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mambakit/mambakit/internal/buildinfo"
	"github.com/mambakit/mambakit/internal/interrupt"
)

// invocation is one run of mambakit: where the normal output goes, and the arguments
// (train re-runs them in the processes of a multi-GPU job).
type invocation struct {
	stdout io.Writer
	args   []string
}

// newRoot builds the command tree. Every command lives in its own file as
// newXCmd(x); its RunE writes its normal output to x.stdout and returns an
// error, which mainExit prints as one line.
func newRoot(x *invocation, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "mambakit",
		Short: "Mamba models over modality plugins",
		Long: "mambakit trains and compares Mamba (selective state space) models on text, DNA and audio\n" +
			"through modality plugins. docs/cli.md documents every command.",
		Version:       buildinfo.Read().String(),
		SilenceErrors: true, // mainExit prints one line
		SilenceUsage:  true,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				if s := c.SuggestionsFor(args[0]); len(s) > 0 {
					return usagef("unknown command %q (did you mean %s?)", args[0], strings.Join(s, ", "))
				}
				return usagef("unknown command %q", args[0])
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error { return c.Help() },
	}
	root.SuggestionsMinimumDistance = 2
	root.Flags().Bool("version", false, "print the version and the commit mambakit was built from")
	root.SetVersionTemplate("mambakit {{.Version}}\n")
	root.SetOut(x.stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newPluginsCmd(x), newPrepareCmd(x), newEncodeCmd(x), newDecodeCmd(x),
		newTrainCmd(x), newEvalCmd(x), newGenerateCmd(x), newScoreCmd(x),
		newBaselineCmd(x), newCompareCmd(x), newBenchCmd(x), newServeCmd(x), newExportCmd(x),
	)
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Long += "\n\nSetup for each shell: docs/cli.md, \"Shell completion\"."
		}
	}
	return root
}

// mainExit runs the command args names and returns the exit status: 0, 1
// for an error, 2 for a usage error (an unknown command or flag, a bad or
// missing value, a stray argument). An error is one line on stderr; -h and
// --help print to stdout.
func mainExit(args []string, stdout, stderr io.Writer) int {
	x := &invocation{stdout: stdout, args: args}
	root := newRoot(x, stderr)
	args, err := normalizeArgs(root, args)
	if err != nil {
		c, _, _ := root.Find(args)
		fmt.Fprintf(stderr, "%s: %v (see %[1]s --help)\n", c.CommandPath(), err)
		return 2
	}
	x.args = args
	root.SetArgs(args)
	ctx, stop := context.Background(), func() {}
	if c, _, err := root.Find(args); err != nil || !isBench(c) { // bench keeps the signals' default action
		ctx, stop = interrupt.Context()
	}
	cmd, err := root.ExecuteContextC(ctx)
	stop()
	err = interrupt.Error(ctx, err) // a command a signal stopped says so; train, which saved a checkpoint, returned nil
	if err == nil {
		return 0
	}
	name := cmd.CommandPath()
	if ue := (usageError{}); errors.As(err, &ue) {
		fmt.Fprintf(stderr, "%s: %v (see %s --help)\n", name, err, name)
		return 2
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
	if ee := (*exitError)(nil); errors.As(err, &ee) { // a status of its own (compare interrupted: 128 + the signal)
		return ee.code
	}
	return 1
}

func isBench(c *cobra.Command) bool {
	for ; c != nil; c = c.Parent() {
		if c.Name() == "bench" && c.HasParent() {
			return true
		}
	}
	return false
}

// usageError is a mistake in the command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// normalizeArgs checks and rewrites the flags of the command args name,
// in one place:
//   - a bool flag followed by true or false ("--stop false") takes it as
//     its value ("--stop=false"), as the flag package's users expect;
//   - a long flag with one dash ("-steps", which Go's flag package took)
//     is refused with the two-dash spelling, rather than read as the
//     shorthands -s -t -e -p -s.
func normalizeArgs(root *cobra.Command, args []string) ([]string, error) {
	c, _, err := root.Find(args)
	if err != nil {
		return args, nil // cobra says what is wrong
	}
	fs := c.Flags()
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		if a == "--" {
			return append(out, args[i+1:]...), nil
		}
		var f *pflag.Flag
		switch {
		case strings.HasPrefix(a, "--") && !strings.Contains(a, "="):
			f = fs.Lookup(a[2:])
		case len(a) == 2 && a[0] == '-':
			f = fs.ShorthandLookup(a[1:])
		case len(a) > 2 && a[0] == '-' && a[1] != '-':
			name, _, _ := strings.Cut(a[1:], "=")
			if fs.Lookup(name) != nil {
				return nil, usageError{fmt.Errorf("%s: long flags take two dashes: -%s", a, a)}
			}
		}
		if f == nil || f.NoOptDefVal == "" || i+1 == len(args) {
			if f != nil && f.NoOptDefVal == "" {
				if i+1 < len(args) {
					out = append(out, args[i+1]) // the flag's value, whatever it looks like
				}
				i++
			}
			continue
		}
		if v := args[i+1]; f.Value.Type() == "bool" && (v == "true" || v == "false") {
			out[len(out)-1] = "--" + f.Name + "=" + v
			i++
		}
	}
	return out, nil
}

// noArgs refuses positional arguments.
func noArgs(_ *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q", args[0])
	}
	return nil
}

// exactArgs wants n positional arguments, named what in the error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("want %s, got %d argument(s)", what, len(args))
		}
		return nil
	}
}
