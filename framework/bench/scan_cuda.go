package bench

import (
	"fmt"
	"io"

	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/cudakernels"
)

// The anchor: state-spaces/mamba's fused CUDA selective scan
// (selective_scan_fn) at B 8, D 1024, N 16, fp32, forward and backward in
// ms, by L (scripts/gpu/peer.sh, H100 80GB, 2026-12-06).
var scanAnchor = map[int][2]float64{2048: {0.661, 1.632}, 8192: {2.595, 5.850}, 32768: {10.14, 22.82}, 65536: {20.02, 47.41}}

// scanCUDA times the GPU scan (forward and backward) with device
// events, after warm-up, as the median of o.Reps runs, and sets each time
// against two floors measured on the card: the bytes the pass must move
// (inputs read once, outputs written once) at the device-to-device copy
// bandwidth, and one exp per (b, l, d, n) element at the exp2 rate.
func scanCUDA(o ScanOptions, stdout io.Writer) error {
	B, D, N := o.B, o.D, o.N
	cd, err := cuda.Open()
	if err != nil {
		return err
	}
	defer cd.Close()
	d := cudakernels.New(cd)
	fmt.Fprintf(stdout, "device: %s\n", d)
	if p, v, err := cuda.NVRTCInfo(); err == nil {
		fmt.Fprintf(stdout, "nvrtc %s: %s\n", v, p)
	}
	timer, err := newCudaTimer(cd, o.Warmup, o.Reps)
	if err != nil {
		return err
	}
	// Ceilings.
	bw, err := copyBandwidth(d, timer)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copy bandwidth (cuMemcpyDtoD of 2 GiB, bytes read + written): %.0f GB/s\n", bw/1e9)
	expRate, err := expRate(d, timer)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "exp2f rate (8 independent chains a thread, %d SMs): %.3g exp/s (%.0f a clock per SM at %d MHz)\n",
		d.SMs, expRate, expRate/float64(d.SMs)/(float64(d.ClockKHz)*1e3), d.ClockKHz/1000)
	if o.GEMM {
		if err := printGemmRates(cd, timer, 8192, stdout); err != nil {
			return err
		}
	}
	plan := d.ScanPlan(&cudakernels.Scan{B: B, D: D, N: N})
	in16 := o.Inputs == "bf16"
	inputs := "float32"
	if in16 {
		inputs = "u, Δ and z in bfloat16, the rest float32"
	}
	fmt.Fprintf(stdout, "\nscan B=%d D=%d N=%d, %s, plan %s, median of %d runs after %d warm-up (device events)\n", B, D, N, inputs, plan, o.Reps, o.Warmup)
	fmt.Fprintf(stdout, "%-6s %-4s %9s %8s %10s %10s %10s %10s %9s\n", "L", "pass", "ms", "GB/s", "mem floor", "exp floor", "anchor ms", "anchor/us", "ms/floor")
	for _, L := range o.SeqLens {
		if err := scanOneL(d, timer, stdout, B, L, D, N, bw, expRate, in16); err != nil {
			return err
		}
	}
	return nil
}

// cudaTimer times a function of device work with events.
type cudaTimer struct {
	d          *cuda.Device
	start, end *cuda.Event
	warm, reps int
}

func newCudaTimer(d *cuda.Device, warm, reps int) (*cudaTimer, error) {
	s, err := d.NewEvent()
	if err != nil {
		return nil, err
	}
	e, err := d.NewEvent()
	if err != nil {
		return nil, err
	}
	return &cudaTimer{d: d, start: s, end: e, warm: warm, reps: reps}, nil
}

// median returns the median milliseconds of f over the timer's runs.
func (c *cudaTimer) median(f func() error) (float64, error) {
	for i := 0; i < c.warm; i++ {
		if err := f(); err != nil {
			return 0, err
		}
	}
	if err := c.d.Synchronize(); err != nil {
		return 0, err
	}
	ts := make([]float64, 0, c.reps)
	for i := 0; i < c.reps; i++ {
		if err := c.start.Record(nil); err != nil {
			return 0, err
		}
		if err := f(); err != nil {
			return 0, err
		}
		if err := c.end.Record(nil); err != nil {
			return 0, err
		}
		if err := c.end.Synchronize(); err != nil {
			return 0, err
		}
		ms, err := cuda.ElapsedMs(c.start, c.end)
		if err != nil {
			return 0, err
		}
		ts = append(ts, float64(ms))
	}
	return upperMedian(ts), nil
}

func copyBandwidth(d *cudakernels.Device, c *cudaTimer) (float64, error) {
	const n = 2 << 30
	src, err := d.Alloc(n)
	if err != nil {
		return 0, err
	}
	defer src.Free()
	dst, err := d.Alloc(n)
	if err != nil {
		return 0, err
	}
	defer dst.Free()
	if err := d.FillUniform(src.Ptr(), n/4, 1, -1, 1); err != nil {
		return 0, err
	}
	ms, err := c.median(func() error { return d.CopyDtoD(dst.Ptr(), src.Ptr(), n) })
	if err != nil {
		return 0, err
	}
	return 2 * n / (ms * 1e-3), nil
}

func expRate(d *cudakernels.Device, c *cudaTimer) (float64, error) {
	f, err := d.Kernel(cudakernels.Sources, "util.cu", "exp_rate")
	if err != nil {
		return 0, err
	}
	blocks, threads, iters := d.SMs*8, 256, 4096
	out, err := d.AllocF32(blocks * threads)
	if err != nil {
		return 0, err
	}
	defer out.Free()
	ms, err := c.median(func() error {
		return f.Launch(cuda.Dim3{X: blocks}, cuda.Dim3{X: threads}, 0, nil, out, iters)
	})
	if err != nil {
		return 0, err
	}
	return float64(blocks*threads) * float64(iters) * 8 / (ms * 1e-3), nil
}

// scanOneL times one length; in16: u, Δ and z as bfloat16 (the float32
// values rounded on the device).
func scanOneL(d *cudakernels.Device, c *cudaTimer, w io.Writer, B, L, D, N int, bw, expRate float64, in16 bool) error {
	bld, bln := int64(B)*int64(L)*int64(D), int64(B)*int64(L)*int64(N)
	var bufs []*cuda.Buffer
	defer func() {
		for _, b := range bufs {
			b.Free()
		}
	}()
	seed := uint32(1)
	alloc := func(n int64, lo, hi float32) (cuda.DevPtr, error) {
		b, err := d.Alloc(int(4 * n))
		if err != nil {
			return 0, err
		}
		bufs = append(bufs, b)
		seed++
		return b.Ptr(), d.FillUniform(b.Ptr(), n, seed, lo, hi)
	}
	s := &cudakernels.Scan{B: B, L: L, D: D, N: N}
	g := &cudakernels.ScanGrads{}
	type spec struct {
		p      *cuda.DevPtr
		n      int64
		lo, hi float32
	}
	specs := []spec{
		{&s.U, bld, -1, 1}, {&s.Delta, bld, -6, 0}, {&s.DeltaBias, int64(D), -1, 0}, {&s.A, int64(D * N), -4, -0.1},
		{&s.Bm, bln, -1, 1}, {&s.Cm, bln, -1, 1}, {&s.Dskip, int64(D), 0.5, 1.5}, {&s.Z, bld, -2, 2},
		{&s.Y, bld, 0, 0}, {&s.HT, int64(B * D * N), 0, 0}, {&s.Saved, int64(cudakernels.ScanSavedLen(B, L, D, N, false)), 0, 0},
		{&g.DY, bld, -1, 1}, {&g.DU, bld, 0, 0}, {&g.DDelta, bld, 0, 0}, {&g.DZ, bld, 0, 0},
		{&g.DDeltaBias, int64(D), 0, 0}, {&g.DA, int64(D * N), 0, 0}, {&g.DBm, bln, 0, 0}, {&g.DCm, bln, 0, 0},
		{&g.DDskip, int64(D), 0, 0}, {&g.DH0, int64(B * D * N), 0, 0},
	}
	for _, sp := range specs {
		p, err := alloc(sp.n, sp.lo, sp.hi)
		if err != nil {
			return fmt.Errorf("L %d: %w", L, err)
		}
		*sp.p = p
	}
	if in16 {
		for _, in := range []struct{ f32, b16 *cuda.DevPtr }{{&s.U, &s.U16}, {&s.Delta, &s.Delta16}, {&s.Z, &s.Z16}} {
			b, err := d.Alloc(int(2 * bld))
			if err != nil {
				return fmt.Errorf("L %d: %w", L, err)
			}
			bufs = append(bufs, b)
			if err := d.ToBF16(b.Ptr(), *in.f32, int(bld)); err != nil {
				return fmt.Errorf("L %d: %w", L, err)
			}
			*in.b16, *in.f32 = b.Ptr(), 0
		}
	}
	fwd, err := c.median(func() error { return d.ScanForward(s) })
	if err != nil {
		return err
	}
	bwd, err := c.median(func() error { return d.ScanBackward(s, g) })
	if err != nil {
		return err
	}
	// Bytes a pass must move: forward reads U, Δ, Z, B, C and writes Y;
	// backward reads U, Δ, Z, DY, B, C and writes DU, DΔ, DZ, DB, DC
	// (U, Δ and Z in 2 bytes an element with in16).
	in := int64(4)
	if in16 {
		in = 2
	}
	fb := float64(3*in*bld + 4*(bld+2*bln))
	bb := float64(3*in*bld + 4*(4*bld+4*bln))
	ex := float64(bld) * float64(N) / expRate * 1e3
	an := scanAnchor[L]
	row := func(pass string, ms, bytes, anchor float64) {
		mem := bytes / bw * 1e3
		fl := max(mem, ex)
		a, r := "-", "-"
		if anchor > 0 {
			a, r = fmt.Sprintf("%.3g", anchor), fmt.Sprintf("%.2fx", anchor/ms)
		}
		fmt.Fprintf(w, "%-6d %-4s %9.3f %8.0f %10.3f %10.3f %10s %10s %9.2f\n", L, pass, ms, bytes/(ms*1e-3)/1e9, mem, ex, a, r, ms/fl)
	}
	row("fwd", fwd, fb, an[0])
	row("bwd", bwd, bb, an[1])
	return nil
}
