package main

import (
	"cmp"
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
	rows := make([]string, len(ds))
	errs := make([]error, len(ds))
	for i, d := range ds {
		path := d.Entry.Path
		if d.Entry.Builtin {
			path = "built-in"
		}
		in := d.Info
		rows[i] = fmt.Sprintf("%s\t%s\tv%d\t%s\t%d\t%s\t%s", in.Name, in.Version, in.ProtocolVersion, in.Kind, in.VocabSize, in.Unit, path)
		if errs[i] = d.Err; d.Err != nil {
			rows[i] = fmt.Sprintf("%s\t-\t-\t-\t-\t-\t%s", d.Entry.Name, path)
		}
		if d.Untrusted != "" {
			rows[i] = fmt.Sprintf("%s\t-\t-\t-\t-\t-\t%s (not run: %s)", d.Entry.Name, path, d.Untrusted)
		}
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tPROTOCOL\tKIND\tVOCAB\tUNIT\tPATH")
	for _, r := range rows {
		fmt.Fprintln(tw, r)
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
	in, e := p.Info, p.Entry
	path := e.Path
	if e.Builtin {
		path = fmt.Sprintf("built-in (%s %s %s)", e.Path, pluginArg, e.Name)
	}
	lock, err := host.ReadLock(hf.lock)
	if err != nil {
		return err
	}
	pin := "not pinned"
	if l, ok := lock.Plugins[e.Name]; ok && !e.Builtin {
		pin = l.SHA256 + " (" + hf.lock + ", verified at start)"
	} else if e.Builtin {
		pin = "part of the mambakit binary"
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{
		{"name", in.Name},
		{"version", in.Version},
		{"protocol", fmt.Sprintf("v%d", in.ProtocolVersion)},
		{"kind", string(in.Kind)},
		{"vocabulary", fmt.Sprint(in.VocabSize)},
		{"special tokens", formatSpecial(in.Special)},
		{"unit", fmt.Sprintf("%s (%g per token)", in.Unit, in.UnitsPerToken)},
		{"file types", strings.Join(in.FileTypes, " ")},
		{"path", path},
		{"checksum", pin},
		{"shadows", strings.Join(e.Shadows, ", ")},
	} {
		if kv[1] != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", kv[0], kv[1])
		}
	}
	return tw.Flush()
}

func formatSpecial(m map[string]int32) string {
	names := slices.Sorted(maps.Keys(m))
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(m[a], m[b]) })
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s=%d", n, m[n])
	}
	return strings.Join(parts, " ")
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
