package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/train"
)

// The flags several commands share, each added by one helper so that a
// flag is spelled, explained and completed the same everywhere.

// optionFlag collects repeated --option key=value flags.
type optionFlag map[string]string

func (o optionFlag) String() string { return "" }
func (o optionFlag) Type() string   { return "key=value" }

func (o optionFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("option %q: want key=value", s)
	}
	o[k] = v
	return nil
}

// addOutFlag adds --out/-o, the one spelling of an output path.
func addOutFlag(c *cobra.Command, dst *string, usage string) {
	c.Flags().StringVarP(dst, "out", "o", "", usage)
}

// addModalityFlag adds --modality, completed with the built-in plugins.
func addModalityFlag(c *cobra.Command, dst *string, usage string) {
	c.Flags().StringVar(dst, "modality", "", usage)
	c.RegisterFlagCompletionFunc("modality", cobra.FixedCompletions(builtinNames(), cobra.ShellCompDirectiveNoFileComp))
}

// inputFlags are the flags of a command that prepares inputs through a
// plugin: the plugin host's, --modality, --data (further arguments are
// inputs too), --option and the split's --seed and --valid.
type inputFlags struct {
	hf       hostFlags
	modality string
	data     []string
	opts     optionFlag
	seed     uint64
	valid    float64
}

// register adds the flags to c; valid is --valid's default, and use says
// how to choose the split's flags.
func (f *inputFlags) register(c *cobra.Command, valid float64, use string) {
	f.opts = optionFlag{}
	f.hf.register(c)
	addModalityFlag(c, &f.modality, "the plugin that reads the data (see \"mambakit plugins list\")")
	fs := c.Flags()
	fs.StringArrayVar(&f.data, "data", nil, "input file or directory (repeatable; further arguments are inputs too)")
	fs.Var(f.opts, "option", "plugin option key=value (repeatable; see the plugin's docs)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the train/validation split "+use)
	fs.Float64Var(&f.valid, "valid", valid, "share of documents in the validation split "+use)
}

// check takes the positional arguments as inputs and checks that a
// modality and data were given.
func (f *inputFlags) check(pos []string) error {
	f.data = append(f.data, pos...)
	switch {
	case f.modality == "":
		return usagef("missing --modality")
	case len(f.data) == 0:
		return usagef("missing --data")
	}
	return nil
}

// deviceValue is --device: train.Device checks the name as it is parsed.
type deviceValue struct{ *train.Device }

func (deviceValue) Type() string { return "device" }

// addDeviceFlag adds --device to fs; what says what runs there.
func addDeviceFlag(fs *pflag.FlagSet, dst *train.Device, what string) {
	*dst = train.CPU
	fs.Var(deviceValue{dst}, "device", what+": cpu (the default), or cuda (GPU 0; docs/gpu.md)")
}

// addPrecisionFlag adds --precision to fs: backbone.Precision checks the
// name as it is parsed.
func addPrecisionFlag(fs *pflag.FlagSet, dst *backbone.Precision) {
	*dst = backbone.FP32
	fs.Var(dst, "precision", "matrix products: fp32; tf32 (a GPU's TF32 tensor cores); or bf16 (bfloat16 inputs, float32 sums; weights, optimizer, scan and the rest stay fp32; docs/training.md)")
}

// completePrecision completes --precision on c.
func completePrecision(c *cobra.Command) {
	names := make([]string, len(backbone.Precisions))
	for i, p := range backbone.Precisions {
		names[i] = string(p)
	}
	c.RegisterFlagCompletionFunc("precision", cobra.FixedCompletions(names, cobra.ShellCompDirectiveNoFileComp))
}

// completeDevice completes --device on c.
func completeDevice(c *cobra.Command) {
	names := make([]string, len(train.Devices))
	for i, d := range train.Devices {
		names[i] = string(d)
	}
	c.RegisterFlagCompletionFunc("device", cobra.FixedCompletions(names, cobra.ShellCompDirectiveNoFileComp))
}

// addBLASFlag adds --blas, the CPU's matrix-multiply back end, to fs.
func addBLASFlag(fs *pflag.FlagSet, dst *string) {
	fs.StringVar(dst, "blas", "", "matrix-multiply backend: auto, go, openblas or gonum (default: auto, or $MAMBAKIT_BLAS; docs/benchmarks.md)")
}

// addNonSelectiveFlag adds --nonselective to fs.
func addNonSelectiveFlag(fs *pflag.FlagSet, dst *[]string, usage string) {
	fs.Func("nonselective", usage, func(v string) error {
		*dst = strings.Split(v, ",")
		return nil
	})
}

// checkPlacement checks --precision and --tf32 against --device (tf32
// on a GPU only; not --tf32 with another precision): a usage error.
func checkPlacement(p train.Placement) error {
	if err := p.Check(); err != nil {
		return usageError{err}
	}
	return nil
}

// checkThreads checks --threads.
func checkThreads(n int) error {
	if n < 0 {
		return usagef("--threads %d: want ≥ 0 (0: all cores)", n)
	}
	return nil
}

// positiveList parses the comma list of integers ≥ 1 given as flag name.
func positiveList(name, v string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, usagef("--%s %q: want a comma list of integers ≥ 1", name, v)
		}
		out = append(out, n)
	}
	return out, nil
}

// positiveFlags checks that the named int flags of fs are at least 1.
func positiveFlags(fs *pflag.FlagSet, names ...string) error {
	for _, n := range names {
		if v, err := fs.GetInt(n); err != nil || v < 1 {
			return usagef("--%s %d: want ≥ 1", n, v)
		}
	}
	return nil
}
