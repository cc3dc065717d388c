package main

import (
	"context"
	"flag"
	"log/slog"
	"os"

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

// start starts the plugin name.
func (f *hostFlags) start(ctx context.Context, name string) (*host.Plugin, error) {
	h, err := f.open()
	if err != nil {
		return nil, err
	}
	return h.Start(ctx, name)
}
