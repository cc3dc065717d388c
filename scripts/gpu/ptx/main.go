// Command ptx compiles one of framework/cudakernels' kernel files with
// NVRTC to PTX for compute_90, without a GPU, as the runtime compiles it
// (the same sources and options; -D defines pick a variant, as
// cudakernels' Scan and StepVariant do). scripts/gpu/sass.sh runs it and
// then ptxas and cuobjdump, to read a kernel's registers, spills and
// machine code on the CPU machine (docs/gpu.md, "Reading the machine code
// without a GPU").
//
//	go run ./scripts/gpu/ptx -o scan.ptx scan_real.cu SCAN_N=16 B_PC=0 C_PC=0
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/cudakernels"
)

// errUsage marks a mistake in the command line (exit status 2).
var errUsage = errors.New("usage")

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "ptx:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run compiles the file the arguments name, its defines after it, and
// writes the PTX to -o (standard output without it); NVRTC's log, when
// it has one, goes to stderr.
func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ptx", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the PTX to this file (default: standard output)")
	arch := fs.String("arch", "compute_90", "virtual architecture")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: ptx [-o FILE] [-arch compute_NN] KERNEL_FILE [NAME=VALUE ...]\nkernel files: %s\n",
			strings.Join(cudakernels.Sources.Files(), ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() < 1 {
		fs.Usage()
		return fmt.Errorf("%w: name a kernel file", errUsage)
	}
	file, defs := fs.Arg(0), fs.Args()[1:]
	for _, d := range defs {
		if name, _, ok := strings.Cut(d, "="); !ok || name == "" || strings.ContainsAny(name, " \t") {
			return fmt.Errorf("%w: define %q: want NAME=VALUE", errUsage, d)
		}
	}
	if _, err := cudakernels.Sources.Source(file); err != nil {
		return fmt.Errorf("%w: %v (kernel files: %s)", errUsage, err, strings.Join(cudakernels.Sources.Files(), ", "))
	}
	ptx, log, err := cuda.CompilePTX(cudakernels.Sources, file, *arch, defs...)
	if log != "" {
		fmt.Fprint(stderr, log)
	}
	if err != nil {
		return fmt.Errorf("%s %v: %w", file, defs, err)
	}
	if *out == "" {
		_, err = stdout.Write(ptx)
		return err
	}
	if err := os.WriteFile(*out, ptx, 0o644); err != nil {
		return fmt.Errorf("write the PTX: %w", err)
	}
	return nil
}
