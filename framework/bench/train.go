package main

import (
	"errors"
	"flag"
	"fmt"
	"github.com/mambakit/mambakit/framework/train"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/kernels"
)

func runBench(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a benchmark: bench train | bench scan | bench gemm | bench generate (docs/cli.md)")
	}
	switch args[0] {
	case "train":
		return benchTrain(args[1:], stdout)
	case "scan":
		if scanDeviceCUDA(args[1:]) {
			return benchScanCUDA(args[1:], stdout)
		}
		return benchScan(args[1:], stdout)
	case "generate":
		return benchGenerate(args[1:], stdout)
	case "gemm":
		return benchGemm(args[1:], stdout)
	}
	return fmt.Errorf("unknown benchmark %q: want train, scan, gemm or generate", args[0])
}

// setThreads applies --threads to the kernels and to the Go scheduler (the
// matrix multiply splits over GOMAXPROCS).
func setThreads(n int) error {
	if n < 0 {
		return fmt.Errorf("--threads %d: want ≥ 0 (0: all cores)", n)
	}
	if n > 0 {
		runtime.GOMAXPROCS(n)
	}
	kernels.SetThreads(n)
	return nil
}

// addBLASFlag adds --blas, which chooses the matrix-multiply backend
// (default: auto, or $MAMBAKIT_BLAS).
func addBLASFlag(fs *flag.FlagSet) {
	fs.Func("blas", "matrix-multiply backend: auto, go, openblas or gonum (docs/benchmarks.md)", kernels.SetBLAS)
}

// addDeviceFlag registers --device on fs (train.Device checks the name as
// it is parsed); what says what runs there.
func addDeviceFlag(fs *flag.FlagSet, dst *train.Device, what string) {
	*dst = train.CPU
	fs.Var(dst, "device", what+": cpu (the default), or cuda (GPU 0; docs/gpu.md)")
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

// benchTrain times full training steps (forward, backward, AdamW) of a
// fresh model on random tokens.
func benchTrain(args []string, stdout io.Writer) error {
	if scanDeviceCUDA(args) {
		return benchTrainCUDA(args, stdout)
	}
	fs := flag.NewFlagSet("bench train", flag.ContinueOnError)
	fs.SetOutput(stdout)
	dModel := fs.Int("d-model", 128, "model width")
	layers := fs.Int("layers", 4, "number of blocks")
	dState := fs.Int("d-state", 16, "SSM state size N")
	vocab := fs.Int("vocab", 256, "vocabulary size")
	batch := fs.Int("batch", 8, "sequences per step")
	seqLen := fs.Int("seq-len", 512, "tokens per sequence")
	steps := fs.Int("steps", 5, "timed training steps (after one untimed warm-up step)")
	threads := fs.Int("threads", 0, "threads (0: all cores)")
	seed := fs.Uint64("seed", 1, "seed of the model and the tokens")
	profile := fs.String("cpuprofile", "", "write a CPU profile of the timed steps to this file (go tool pprof)")
	complexA := fs.Bool("complex", false, "complex A, B, C and states (S4D-Lin), as train --complex")
	var nonSelective []string
	fs.Func("nonselective", "SSM parameters that do not depend on the input, as train --nonselective (delta,B,C: LTI)", func(v string) error {
		nonSelective = strings.Split(v, ",")
		return nil
	})
	addBLASFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := positiveFlags(fs, "d-model", "layers", "d-state", "vocab", "batch", "seq-len", "steps"); err != nil {
		return err
	}
	if err := setThreads(*threads); err != nil {
		return err
	}
	cfg := backbone.NewConfig(*vocab, *dModel, *layers)
	cfg.StateSize = *dState
	cfg.NonSelective, cfg.ComplexA = nonSelective, *complexA
	m, err := backbone.New(cfg, *seed)
	if err != nil {
		return err
	}
	opt := backbone.NewAdamW(m, backbone.AdamWConfig{LR: 1e-3, Beta1: 0.9, Beta2: 0.95, Eps: 1e-8, WeightDecay: 0.1})
	r := rand.New(rand.NewPCG(*seed, 2))
	B, L := *batch, *seqLen
	b := &backbone.Batch{B: B, L: L, Inputs: make([]int32, B*L), Targets: make([]int32, B*L)}
	step := func() (float64, error) {
		for i := range b.Inputs {
			b.Inputs[i] = int32(r.IntN(*vocab))
			b.Targets[i] = int32(r.IntN(*vocab))
		}
		loss, err := m.Forward(b, nil)
		if err != nil {
			return 0, err
		}
		m.ZeroGrad()
		if _, err := m.Backward(); err != nil {
			return 0, err
		}
		m.ClipGrad(1)
		opt.Step(1e-3)
		return loss, nil
	}
	variant := "S6"
	if len(nonSelective) > 0 {
		variant = "non-selective " + strings.Join(nonSelective, ",")
	}
	if *complexA {
		variant += ", complex"
	}
	fmt.Fprintf(stdout, "model: d_model %d, %d layers, d_state %d, vocab %d (%d parameters), %s; batch %d × %d tokens; %d threads\n",
		*dModel, *layers, *dState, cfg.VocabSize, len(m.Params.Data), variant, B, L, kernels.Threads())
	if _, err := step(); err != nil { // warm-up: allocates activations
		return err
	}
	if *profile != "" {
		f, err := os.Create(*profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	for i := 1; i <= *steps; i++ {
		t0 := time.Now()
		loss, err := step()
		if err != nil {
			return err
		}
		d := time.Since(t0)
		fmt.Fprintf(stdout, "step %d/%d  loss %.4f  %.3fs  %.0f tokens/s\n", i, *steps, loss, d.Seconds(), float64(B*L)/d.Seconds())
	}
	el := time.Since(start).Seconds()
	fmt.Fprintf(stdout, "tokens_per_s=%.1f peak_rss_mb=%.1f\n", float64(B*L**steps)/el, peakRSSMB())
	return nil
}

// benchScan times the fused scan against the materializing reference.
func benchScan(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bench scan", flag.ContinueOnError)
	fs.SetOutput(stdout)
	B := fs.Int("batch", 8, "batch size B")
	L := fs.Int("seq-len", 2048, "sequence length L")
	D := fs.Int("d-inner", 512, "channels D (d_inner)")
	N := fs.Int("d-state", 16, "state size N")
	reps := fs.Int("reps", 3, "timed repetitions of each implementation (median reported)")
	noRef := fs.Bool("no-ref", false, "skip the reference (it allocates 4 tensors of B·L·D·N)")
	threads := fs.Int("threads", 0, "threads (0: all cores)")
	perCh := fs.String("per-channel", "", "non-selective B and/or C of shape (d-inner, d-state): b, c or bc (default: both selective)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := positiveFlags(fs, "batch", "seq-len", "d-inner", "d-state", "reps"); err != nil {
		return err
	}
	if *perCh != "" && *perCh != "b" && *perCh != "c" && *perCh != "bc" {
		return fmt.Errorf("bench scan: --per-channel %q: want b, c or bc", *perCh)
	}
	perB, perC := *perCh == "b" || *perCh == "bc", *perCh == "c" || *perCh == "bc"
	if err := setThreads(*threads); err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(1, 1))
	rnd := func(n int, lo, hi float32) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = lo + (hi-lo)*r.Float32()
		}
		return x
	}
	bld, blnB, blnC := *B**L**D, *B**L**N, *B**L**N
	if perB {
		blnB = *D * *N
	}
	if perC {
		blnC = *D * *N
	}
	s := &kernels.Scan{B: *B, L: *L, D: *D, N: *N,
		U: rnd(bld, -1, 1), Delta: rnd(bld, -6, 0), DeltaBias: rnd(*D, -1, 0), A: rnd(*D**N, -4, -0.1),
		Bm: rnd(blnB, -1, 1), Cm: rnd(blnC, -1, 1), Dskip: rnd(*D, 0.5, 1.5), Z: rnd(bld, -2, 2),
		BPerChannel: perB, CPerChannel: perC,
		Y: make([]float32, bld), HT: make([]float32, *B**D**N), Saved: make([]float32, kernels.SavedLen(*B, *L, *D, *N))}
	g := &kernels.ScanGrads{DY: rnd(bld, -1, 1), DU: make([]float32, bld), DDelta: make([]float32, bld),
		DDeltaBias: make([]float32, *D), DA: make([]float32, *D**N), DBm: make([]float32, blnB), DCm: make([]float32, blnC),
		DDskip: make([]float32, *D), DZ: make([]float32, bld)}
	elems := float64(bld) * float64(*N)
	variant := ""
	if *perCh != "" {
		variant = ", per-channel " + *perCh
	}
	fmt.Fprintf(stdout, "scan B=%d L=%d D=%d N=%d (%.3g elements)%s, %d threads\n", *B, *L, *D, *N, elems, variant, kernels.Threads())
	median := func(f func()) float64 {
		ts := make([]float64, *reps)
		for i := range ts {
			t0 := time.Now()
			f()
			ts[i] = time.Since(t0).Seconds()
		}
		for i := range ts { // insertion sort: reps is small
			for j := i; j > 0 && ts[j] < ts[j-1]; j-- {
				ts[j], ts[j-1] = ts[j-1], ts[j]
			}
		}
		return ts[len(ts)/2] * 1e9 / elems
	}
	// One line per implementation this CPU runs (kernels.ScanImpls:
	// fused Go, then AVX2, AVX-512), the materializing reference last.
	type timing struct {
		name     string
		fwd, bwd float64
	}
	var ts []timing
	for _, name := range kernels.ScanImpls() {
		if name == "generic" {
			continue
		}
		fwd := median(func() { s.ForwardImpl(name) })
		bwd := median(func() { s.BackwardImpl(name, g) })
		ts = append(ts, timing{name, fwd, bwd})
		def := ""
		if name == kernels.ScanImpl() {
			def = "   (default)"
		}
		fmt.Fprintf(stdout, "%-10s forward %8.3f ns/elem   backward %8.3f ns/elem%s\n", name, fwd, bwd, def)
	}
	if *noRef {
		return nil
	}
	t0 := time.Now()
	s.ForwardRef()
	rf := time.Since(t0).Seconds() * 1e9 / elems
	t0 = time.Now()
	s.BackwardRef(g)
	rb := time.Since(t0).Seconds() * 1e9 / elems
	fmt.Fprintf(stdout, "reference  forward %8.3f ns/elem   backward %8.3f ns/elem   (materializes B·L·D·N; one run)\n", rf, rb)
	for _, t := range ts {
		fmt.Fprintf(stdout, "%-10s speedup over the reference: forward %8.2fx   backward %8.2fx\n", t.name, rf/t.fwd, rb/t.bwd)
	}
	return nil
}
