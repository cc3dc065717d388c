package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/mambakit/mambakit/framework/kernels"
	"github.com/mambakit/mambakit/framework/train"
)

// ScanOptions size a selective-scan benchmark: batch B, channels D, state
// N, for each sequence length in SeqLens (the CPU takes the first).
type ScanOptions struct {
	Device     train.Device
	B, D, N    int
	SeqLens    []int
	Reps       int    // timed runs of each pass (median reported)
	Warmup     int    // on a GPU: untimed runs first
	NoRef      bool   // on the CPU: skip the reference (it allocates 4 tensors of B·L·D·N)
	PerChannel string // on the CPU: non-selective B and/or C of shape (D, N): "b", "c" or "bc" ("": both selective)
	Threads    int    // on the CPU (0: all cores)
	GEMM       bool   // on a GPU: also time cuBLAS sgemm 8192³ in fp32 and TF32
	// Inputs is "fp32" (or "") or, on a GPU, "bf16": u, Δ and z read as
	// bfloat16 (cudakernels.Scan's U16, Delta16, Z16), as a bf16 model
	// keeps them.
	Inputs string
}

// DefaultScan returns the defaults on dev; on a GPU, state-spaces/mamba's
// shape at the lengths of issue 7's anchor.
func DefaultScan(dev train.Device) ScanOptions {
	if dev == train.CUDA {
		return ScanOptions{Device: dev, B: 8, D: 1024, N: 16, SeqLens: []int{2048, 8192, 32768, 65536}, Reps: 20, Warmup: 3, GEMM: true}
	}
	return ScanOptions{Device: train.CPU, B: 8, D: 512, N: 16, SeqLens: []int{2048}, Reps: 3}
}

// Scan times the scan's forward and backward passes. On the CPU: ns per
// (b, l, d, n) element of each implementation and of the materializing
// reference, and the speedups; on a GPU, scanCUDA.
func Scan(o ScanOptions, w io.Writer) error {
	switch o.Inputs {
	case "", "fp32":
	case "bf16":
		if o.Device != train.CUDA {
			return fmt.Errorf("bench scan: inputs bf16 runs on a GPU only (--device cuda)")
		}
	default:
		return fmt.Errorf("bench scan: inputs %q: want fp32 or bf16", o.Inputs)
	}
	if o.Device == train.CUDA {
		return scanCUDA(o, w)
	}
	if err := useCPU(o.Threads, ""); err != nil {
		return err
	}
	B, L, D, N := o.B, o.SeqLens[0], o.D, o.N
	perB, perC := o.PerChannel == "b" || o.PerChannel == "bc", o.PerChannel == "c" || o.PerChannel == "bc"
	r := rand.New(rand.NewPCG(1, 1))
	rnd := func(n int, lo, hi float32) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = lo + (hi-lo)*r.Float32()
		}
		return x
	}
	bld, blnB, blnC := B*L*D, B*L*N, B*L*N
	if perB {
		blnB = D * N
	}
	if perC {
		blnC = D * N
	}
	s := &kernels.Scan{B: B, L: L, D: D, N: N,
		U: rnd(bld, -1, 1), Delta: rnd(bld, -6, 0), DeltaBias: rnd(D, -1, 0), A: rnd(D*N, -4, -0.1),
		Bm: rnd(blnB, -1, 1), Cm: rnd(blnC, -1, 1), Dskip: rnd(D, 0.5, 1.5), Z: rnd(bld, -2, 2),
		BPerChannel: perB, CPerChannel: perC,
		Y: make([]float32, bld), HT: make([]float32, B*D*N), Saved: make([]float32, kernels.SavedLen(B, L, D, N))}
	g := &kernels.ScanGrads{DY: rnd(bld, -1, 1), DU: make([]float32, bld), DDelta: make([]float32, bld),
		DDeltaBias: make([]float32, D), DA: make([]float32, D*N), DBm: make([]float32, blnB), DCm: make([]float32, blnC),
		DDskip: make([]float32, D), DZ: make([]float32, bld)}
	elems := float64(bld) * float64(N)
	variant := ""
	if o.PerChannel != "" {
		variant = ", per-channel " + o.PerChannel
	}
	fmt.Fprintf(w, "scan B=%d L=%d D=%d N=%d (%.3g elements)%s, %d threads\n", B, L, D, N, elems, variant, kernels.Threads())
	perElem := func(f func()) float64 {
		ts := make([]float64, o.Reps)
		for i := range ts {
			t0 := time.Now()
			f()
			ts[i] = time.Since(t0).Seconds()
		}
		return upperMedian(ts) * 1e9 / elems
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
		fwd := perElem(func() { s.ForwardImpl(name) })
		bwd := perElem(func() { s.BackwardImpl(name, g) })
		ts = append(ts, timing{name, fwd, bwd})
		def := ""
		if name == kernels.ScanImpl() {
			def = "   (default)"
		}
		fmt.Fprintf(w, "%-10s forward %8.3f ns/elem   backward %8.3f ns/elem%s\n", name, fwd, bwd, def)
	}
	if o.NoRef {
		return nil
	}
	t0 := time.Now()
	s.ForwardRef()
	rf := time.Since(t0).Seconds() * 1e9 / elems
	t0 = time.Now()
	s.BackwardRef(g)
	rb := time.Since(t0).Seconds() * 1e9 / elems
	fmt.Fprintf(w, "reference  forward %8.3f ns/elem   backward %8.3f ns/elem   (materializes B·L·D·N; one run)\n", rf, rb)
	for _, t := range ts {
		fmt.Fprintf(w, "%-10s speedup over the reference: forward %8.2fx   backward %8.2fx\n", t.name, rf/t.fwd, rb/t.bwd)
	}
	return nil
}
