package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/mambakit/mambakit/framework/host"
)

// hostFlags are the flags of every command that starts plugins.
type hostFlags struct {
	lock    string
	verbose bool
	dirs    []string
	shadow  []string
}

func (f *hostFlags) register(c *cobra.Command) {
	fs := c.Flags()
	fs.StringVar(&f.lock, "lock", "plugins.lock", "checksum pins for external plugins (written by \"mambakit plugins lock\"); once it exists, unpinned plugins are refused")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "show the plugins' log lines (default: warnings and errors only)")
	fs.StringArrayVar(&f.dirs, "plugin-dir", nil, "directory of mambakit-plugin-* executables, searched before $MAMBAKIT_PLUGIN_PATH (repeatable; the current directory is never searched otherwise)")
	fs.StringArrayVar(&f.shadow, "shadow", nil, "let an external plugin of this name stand in for the built-in (repeatable; a pin in the lock file allows it too)")
	c.MarkFlagDirname("plugin-dir")
}

// open returns a Host over --plugin-dir, $MAMBAKIT_PLUGIN_PATH and the
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
		Dirs:       append(append([]string(nil), f.dirs...), host.DefaultDirs()...),
		LockFile:   f.lock,
		Shadow:     f.shadow,
		Log:        log,
	})
}

// start starts the plugin name.
func (f *hostFlags) start(ctx context.Context, name string) (*host.Plugin, error) {
	h, err := f.open()
	if err != nil {
		return nil, err
	}
	return h.Start(ctx, name)
}
