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

	"github.com/mambakit/mambakit/framework/host"
)

func runPlugins(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a subcommand: list, info NAME or lock")
	}
	switch args[0] {
	case "list":
		return pluginsList(ctx, args[1:], stdout)
	case "info":
		return pluginsInfo(ctx, args[1:], stdout)
	case "lock":
		return pluginsLock(ctx, args[1:], stdout)
	}
	return fmt.Errorf("unknown subcommand %q (want list, info or lock)", args[0])
}

// pluginsList starts every plugin (in parallel) and prints what it says
// about itself.
func pluginsList(ctx context.Context, args []string, stdout io.Writer) error {
	var hf hostFlags
	fs := newFlagSet("plugins list", "plugins list [-lock FILE]")
	hf.register(fs)
	if pos, err := parseInterleaved(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("unexpected arguments %q", pos)
	}
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

func pluginsInfo(ctx context.Context, args []string, stdout io.Writer) error {
	var hf hostFlags
	fs := newFlagSet("plugins info", "plugins info NAME [-lock FILE]")
	hf.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return errors.New("want one plugin name")
	}
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
		{"sequence length", fmt.Sprint(in.DefaultSeqLen)},
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

func pluginsLock(ctx context.Context, args []string, stdout io.Writer) error {
	var hf hostFlags
	fs := newFlagSet("plugins lock", "plugins lock [-lock FILE]")
	hf.register(fs)
	if pos, err := parseInterleaved(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return fmt.Errorf("unexpected arguments %q", pos)
	}
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
