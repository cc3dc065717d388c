package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/mambakit/mambakit/framework/host"
)

func newPluginsCmd(x *invocation) *cobra.Command {
	c := &cobra.Command{
		Use:   "plugins",
		Short: "list, describe and pin modality plugins (plugins list | info NAME | lock)",
		Args:  cobra.ArbitraryArgs,
		RunE:  groupRunE("list, info NAME or lock"),
	}
	// sub is a subcommand; its flags are the plugin host's.
	sub := func(use, short string, args cobra.PositionalArgs, run func(ctx context.Context, hf *hostFlags, args []string, stdout io.Writer) error) *cobra.Command {
		var hf hostFlags
		s := &cobra.Command{Use: use, Short: short, Args: args, RunE: func(c *cobra.Command, args []string) error {
			return run(c.Context(), &hf, args, x.stdout)
		}}
		hf.register(s)
		return s
	}
	c.AddCommand(
		sub("list", "start every plugin and print what it says about itself", noArgs, pluginsList),
		sub("info NAME", "describe one plugin: vocabulary, special tokens, unit, file types, path, pin", exactArgs(1, "one plugin name"), pluginsInfo),
		sub("lock", "pin the external plugins' checksums in the lock file", noArgs, pluginsLock),
	)
	return c
}

// groupRunE is the RunE of a command that only groups subcommands: a
// missing or unknown subcommand is a usage error (exit 2).
func groupRunE(want string) func(*cobra.Command, []string) error {
	return func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return usagef("want a subcommand: %s", want)
		}
		return usagef("unknown subcommand %q: want %s", args[0], want)
	}
}

// pluginsList starts every plugin (in parallel) and prints what it says
// about itself.
func pluginsList(ctx context.Context, hf *hostFlags, _ []string, stdout io.Writer) error {
	h, err := hf.open()
	if err != nil {
		return err
	}
	ds, err := h.DescribeAll(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(host.ListColumns, "\t"))
	var errs []error
	for _, d := range ds {
		fmt.Fprintln(tw, strings.Join(d.Row(), "\t"))
		errs = append(errs, d.Err)
	}
	tw.Flush()
	return errors.Join(errs...)
}

func pluginsInfo(ctx context.Context, hf *hostFlags, pos []string, stdout io.Writer) error {
	h, err := hf.open()
	if err != nil {
		return err
	}
	p, err := h.Start(ctx, pos[0])
	if err != nil {
		return err
	}
	defer p.Close()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, kv := range h.Facts(p) {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

func pluginsLock(ctx context.Context, hf *hostFlags, _ []string, stdout io.Writer) error {
	h, err := hf.open()
	if err != nil {
		return err
	}
	l, err := h.Lock(ctx, hf.lock)
	if err != nil {
		return err
	}
	if len(l.Plugins) == 0 {
		fmt.Fprintf(stdout, "wrote %s: no external plugins found (built-ins need no pin)\n", hf.lock)
		return nil
	}
	fmt.Fprintf(stdout, "wrote %s:\n", hf.lock)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, name := range slices.Sorted(maps.Keys(l.Plugins)) {
		e := l.Plugins[name]
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", name, e.Version, e.SHA256, e.Path)
	}
	return tw.Flush()
}
