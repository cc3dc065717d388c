package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/mambakit/mambakit/framework/kernels"
)

// gemmShape is one product of the model: op(A) (m, k) · op(B) (k, n).
type gemmShape struct {
	form    string // NT, NN or TN: op(A), op(B) transposed or not
	m, n, k int
	what    string
}

// gemmShapes lists the model's products for M = batch·seq-len tokens,
// D = d-model, Din = 2·D, N = d-state, R = ⌈D/16⌉, V = vocab (see
// framework/backbone forward.go and backward.go).
func gemmShapes(M, D, N, V int) []gemmShape {
	Din, R := 2*D, (D+15)/16
	return []gemmShape{
		{"NT", M, Din, D, "in_proj (×2), forward"},
		{"NT", M, D, Din, "out_proj, forward"},
		{"NT", M, V, D, "logits, forward"},
		{"NT", M, N, Din, "x_proj B and C, forward"},
		{"NT", M, R, Din, "x_proj Δ, forward"},
		{"NT", M, Din, R, "dt_proj, forward"},
		{"NN", M, Din, D, "out_proj, input gradient"},
		{"NN", M, D, Din, "in_proj (×2), input gradient"},
		{"NN", M, Din, N, "x_proj B and C, input gradient"},
		{"NN", M, Din, R, "x_proj Δ, input gradient"},
		{"NN", M, R, Din, "dt_proj, input gradient"},
		{"TN", Din, D, M, "in_proj (×2), weight gradient"},
		{"TN", D, Din, M, "out_proj, weight gradient"},
		{"TN", N, Din, M, "x_proj B and C, weight gradient"},
		{"TN", R, Din, M, "x_proj Δ, weight gradient"},
		{"TN", Din, R, M, "dt_proj, weight gradient"},
		{"NN", 8192, 256, 1024, "issue 5's reference product"},
	}
}

// GemmOptions choose the products a matrix-multiply benchmark times: the
// model's (gemmShapes) for M = Batch·SeqLen tokens, or with Step the
// one-token Step products with M = Batch rows.
type GemmOptions struct {
	DModel, DState, Vocab int
	Batch, SeqLen         int
	BLAS                  []string // back ends (nil: every one this machine has)
	Threads               []int    // thread counts
	Rounds                int      // each times every back end once per shape and thread count
	MinTime               time.Duration
	Shapes                string // only shapes whose label contains this
	Stat                  string // "median" or "best" of the rounds
	Step                  bool
}

// DefaultGemm returns the defaults (the CPU's default training shape).
func DefaultGemm() GemmOptions {
	return GemmOptions{DModel: 128, DState: 16, Vocab: 256, Batch: 8, SeqLen: 512, Threads: []int{1, 2}, Rounds: 7,
		MinTime: 20 * time.Millisecond, Stat: "median"}
}

// Gemm prints GFLOP/s of MatMul on the model's shapes for each backend
// and thread count, measured interleaved (every backend on every round)
// and reported as the median (or best) of the rounds.
func Gemm(o GemmOptions, stdout io.Writer) error {
	summary := median
	if o.Stat == "best" {
		summary = func(x []float64) float64 { return slices.Max(append(x, 0)) }
	}
	threads := o.Threads
	defer kernels.SetBLAS("auto")
	defer kernels.SetThreads(kernels.Threads())

	var backends []string
	names := o.BLAS
	if names == nil {
		names = []string{"go", "openblas", "gonum"}
	}
	for _, b := range names {
		if err := kernels.SetBLAS(b); err != nil {
			if o.BLAS == nil {
				fmt.Fprintf(stdout, "%s: skipped (%v)\n", b, err)
				continue
			}
			return err
		}
		backends = append(backends, b)
	}
	fmt.Fprintf(stdout, "go backend kernel: %s\n", kernels.GoGemmKernel())
	if slices.Contains(backends, "openblas") {
		printOpenBLAS(stdout)
	}

	M := o.Batch * o.SeqLen
	if o.Step {
		M = o.Batch
	}
	var shapes []gemmShape
	for _, s := range gemmShapes(M, o.DModel, o.DState, o.Vocab) {
		if o.Step && (s.form != "NT" || s.m != M) {
			continue
		}
		if strings.Contains(s.label(), o.Shapes) && !slices.ContainsFunc(shapes, func(t gemmShape) bool { return t.label() == s.label() }) {
			shapes = append(shapes, s)
		}
	}
	type key struct {
		shape, backend string
		threads        int
	}
	rates := map[key][]float64{}
	// Every round runs every shape, thread count and backend once, so a
	// burst of load from other processes spreads over all of them.
	// In --step mode each product cycles through copies of its weight
	// filling 256 MiB, so they come from DRAM as in generation (where the
	// whole model streams once per token), not from the caches.
	type operands struct {
		a, c []float32
		b    [][]float32
	}
	ops := make([]operands, len(shapes))
	r := rand.New(rand.NewPCG(1, 2))
	for i, s := range shapes {
		ops[i] = operands{a: randF32(r, s.m*s.k), c: make([]float32, s.m*s.n), b: [][]float32{randF32(r, s.k*s.n)}}
		for o.Step && len(ops[i].b)*s.k*s.n*4 < 256<<20 {
			ops[i].b = append(ops[i].b, slices.Clone(ops[i].b[0]))
		}
	}
	for round := 0; round < o.Rounds+1; round++ { // round 0 warms up
		for i, s := range shapes {
			tA, tB := s.form[0] == 'T', s.form[1] == 'T'
			flops := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			for _, t := range threads {
				kernels.SetThreads(t)
				for _, be := range backends {
					kernels.SetBLAS(be)
					reps, t0 := 0, time.Now()
					for reps == 0 || time.Since(t0) < o.MinTime {
						kernels.MatMul(tA, tB, s.m, s.n, s.k, ops[i].a, ops[i].b[reps%len(ops[i].b)], 0, ops[i].c)
						reps++
					}
					if round > 0 {
						k := key{s.label(), be, t}
						rates[k] = append(rates[k], flops*float64(reps)/time.Since(t0).Seconds()/1e9)
					}
				}
			}
		}
	}

	fmt.Fprintf(stdout, "GFLOP/s, %s of %d rounds (2·m·n·k per product; M = %d tokens)\n", o.Stat, o.Rounds, M)
	if o.Step {
		fmt.Fprintf(stdout, "Step products: the weights (n·k floats) stream at %.2g× the GFLOP/s in GB/s;\n", 2/float64(M))
		fmt.Fprintf(stdout, "with fewer than 4 rows every backend but gonum runs them on the Go gemv kernel (AVX-512)\n")
	}
	fmt.Fprintf(stdout, "%-18s %-30s", "shape", "use")
	for _, t := range threads {
		for _, be := range backends {
			fmt.Fprintf(stdout, " %12s", fmt.Sprintf("%s/%d", be, t))
		}
		if slices.Contains(backends, "go") && slices.Contains(backends, "openblas") {
			fmt.Fprintf(stdout, " %9s", fmt.Sprintf("go/ob/%d", t))
		}
	}
	fmt.Fprintln(stdout)
	for _, s := range shapes {
		fmt.Fprintf(stdout, "%-18s %-30s", s.label(), s.what)
		for _, t := range threads {
			for _, be := range backends {
				fmt.Fprintf(stdout, " %12.1f", summary(rates[key{s.label(), be, t}]))
			}
			if slices.Contains(backends, "go") && slices.Contains(backends, "openblas") {
				g, o := summary(rates[key{s.label(), "go", t}]), summary(rates[key{s.label(), "openblas", t}])
				fmt.Fprintf(stdout, " %8.0f%%", 100*g/o)
			}
		}
		fmt.Fprintln(stdout)
	}
	return nil
}

// printOpenBLAS writes which OpenBLAS runs (library, core, where
// OPENBLAS_CORETYPE came from, build) and, when an inherited
// OPENBLAS_CORETYPE pins slower kernels than the CPU runs, the warning of
// kernels.OpenBLASCoreCheck; nothing when OpenBLAS does not load.
func printOpenBLAS(w io.Writer) {
	lib, core, config, err := kernels.OpenBLASInfo()
	if err != nil {
		return
	}
	setting, warning, _ := kernels.OpenBLASCoreCheck()
	fmt.Fprintf(w, "openblas: %s, core %s (%s; %s)\n", lib, core, setting, config)
	if warning != "" {
		fmt.Fprintln(w, warning)
	}
}

func (s gemmShape) label() string { return fmt.Sprintf("%s/%dx%dx%d", s.form, s.m, s.n, s.k) }

func randF32(r *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = 2*r.Float32() - 1
	}
	return x
}
