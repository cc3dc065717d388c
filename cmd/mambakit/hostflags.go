package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/mambakit/mambakit/framework/host"
)

// hostFlags are the flags of every command that starts plugins.
type hostFlags struct {
	lock    string
	verbose bool
}

func (f *hostFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.lock, "lock", "plugins.lock", "checksum pins for external plugins (written by \"mambakit plugins lock\")")
	fs.BoolVar(&f.verbose, "v", false, "show the plugins' log lines (default: warnings and errors only)")
}

// open returns a Host over $MAMBAKIT_PLUGIN_PATH, ./plugins and the
// built-ins, logging plugin lines to stderr.
func (f *hostFlags) open() (*host.Host, error) {
	level := slog.LevelWarn
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	return host.New(host.Config{
		Builtins:   builtinNames(),
		BuiltinArg: pluginArg,
		Dirs:       host.DefaultDirs(),
		LockFile:   f.lock,
		Log:        log,
	})
}

// optionFlag collects repeated -option key=value flags.
type optionFlag map[string]string

func (o optionFlag) String() string { return fmt.Sprint(map[string]string(o)) }

func (o optionFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("option %q: want key=value", s)
	}
	o[k] = v
	return nil
}

// listFlag collects repeated flags.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// parseInterleaved parses flags that may come after positional arguments
// ("--data a b -o dir"), which the flag package alone stops at. It returns
// the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(os.Stderr)
				fs.Usage()
			}
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// newFlagSet returns a FlagSet that reports errors to the caller only (the
// one-line error goes out through mainExit); -h prints the usage.
func newFlagSet(name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: mambakit %s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}
