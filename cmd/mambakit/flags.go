package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mambakit/mambakit/framework/train"
)

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

// inputFlags are the flags of a command that prepares inputs through a
// plugin: the plugin host's, --modality, --data (further arguments are
// inputs too), --option and the split's --seed and --valid.
type inputFlags struct {
	hf       hostFlags
	modality string
	data     listFlag
	opts     optionFlag
	seed     uint64
	valid    float64
}

// register adds the flags to fs; valid is --valid's default, and use says
// how to choose the split's flags.
func (f *inputFlags) register(fs *flag.FlagSet, valid float64, use string) {
	f.opts = optionFlag{}
	f.hf.register(fs)
	fs.StringVar(&f.modality, "modality", "", "the plugin that reads the data (see \"mambakit plugins list\")")
	fs.Var(&f.data, "data", "input file or directory (repeatable; further arguments are inputs too)")
	fs.Var(f.opts, "option", "plugin option key=value (repeatable; see the plugin's docs)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the train/validation split "+use)
	fs.Float64Var(&f.valid, "valid", valid, "share of documents in the validation split "+use)
}

// parse parses args into fs and checks that a modality and data were given.
func (f *inputFlags) parse(fs *flag.FlagSet, args []string) error {
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	f.data = append(f.data, pos...)
	switch {
	case f.modality == "":
		return errors.New("missing --modality")
	case len(f.data) == 0:
		return errors.New("missing --data")
	}
	return nil
}

// addDeviceFlag registers --device on fs (train.Device checks the name as
// it is parsed); what says what runs there.
func addDeviceFlag(fs *flag.FlagSet, dst *train.Device, what string) {
	*dst = train.CPU
	fs.Var(dst, "device", what+": cpu (the default), or cuda (GPU 0; docs/gpu.md)")
}

// addBLASFlag registers --blas, the CPU's matrix-multiply back end, on fs.
func addBLASFlag(fs *flag.FlagSet, dst *string) {
	fs.StringVar(dst, "blas", "", "matrix-multiply backend: auto, go, openblas or gonum (default: auto, or $MAMBAKIT_BLAS; docs/benchmarks.md)")
}

// checkThreads checks --threads.
func checkThreads(n int) error {
	if n < 0 {
		return fmt.Errorf("--threads %d: want ≥ 0 (0: all cores)", n)
	}
	return nil
}

// positiveList parses the comma list of integers ≥ 1 given as flag name.
func positiveList(name, v string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--%s %q: want a comma list of integers ≥ 1", name, v)
		}
		out = append(out, n)
	}
	return out, nil
}

// positiveFlags checks that the named int flags of fs are at least 1.
func positiveFlags(fs *flag.FlagSet, names ...string) error {
	for _, n := range names {
		if v := fs.Lookup(n).Value.(flag.Getter).Get().(int); v < 1 {
			return fmt.Errorf("--%s %d: want ≥ 1", n, v)
		}
	}
	return nil
}

// isSet reports whether the flag name was given.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
