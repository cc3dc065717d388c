package cuda

import "fmt"

// The single-token kernels of kernels/step.cu: the recurrent step of the
// backbone (framework/cudamodel's Stepper) for up to StepMaxRows rows.
// Each call takes the stream it is issued on (nil: the default stream),
// so a whole step can be captured into a Graph.

// StepMaxRows is the most rows one step takes (the register arrays of
// step_gemv).
const StepMaxRows = 8

// Epilogues of StepGEMV.
const (
	EpiStore  = 0 // Out[b, n] = acc
	EpiAdd    = 1 // Out[b, n] += acc (the residual)
	EpiInConv = 2 // in_proj: rows n < Din go through the convolution step and SiLU into Out (B, Din); rows ≥ Din into Out2 (B, Din)
	EpiArgmax = 3 // Out[b, n] = acc, and the argmax of rows below IO's vocabulary limit into Argmax[b]
)

// StepIOLen is the length in int32s of a step's IO array for B rows: the
// token ids (B), the reset flags (B), the argmax's vocabulary limit, the
// position.
func StepIOLen(B int) int { return 2*B + 2 }

// StepGEMV is Out = W·x for each of B rows of X (row stride LDX), W (N,
// K) row-major: one warp per output row. With NormW, x is first
// RMS-normalized as kernels.RMSNormForward does (sums in double, eps).
// Epi chooses what is done with each sum; EpiInConv also needs ConvW (Din,
// Kc), ConvB (optional), ConvState (B, Din, Kc−1) (updated in place; a
// row with its reset flag in IO reads a zero state) and IO; EpiArgmax
// needs IO and Argmax (B uint64 keys, cleared by StepEmbed; decode with
// ArgmaxID).
type StepGEMV struct {
	B, N, K        int
	W, X           DevPtr
	LDX            int
	NormW          DevPtr
	Eps            float32
	Out            DevPtr
	LDO            int
	Epi            int
	Out2           DevPtr
	ConvW, ConvB   DevPtr
	ConvState      DevPtr
	Din, Kc        int
	IO             DevPtr
	Argmax         DevPtr
	MaxBlocksPerSM int // 0: 16
}

// StepScan is one step of kernels.Scan (L = 1) per row with Δ's low-rank
// projection folded in: Δ = softplus(DtW·DtLow[b] + DtBias) (R = 0: Δ =
// softplus(DtBias)), A = −exp(ALog) (and AImag when complex), B and C
// read at Bm + b·LDB (input-dependent) or Bm + d·N (LDB = 0: per channel),
// the D skip and the SiLU gate Z. H (B, D, N), or (B, D, 2N) complex, is
// updated in place; a row with its reset flag in IO starts from zero.
type StepScan struct {
	B, D, N, R      int
	U, Z            DevPtr
	DtLow           DevPtr
	LDDt            int
	DtW, DtBias     DevPtr
	ALog, AImag     DevPtr
	Bm, BImag       DevPtr
	LDB             int
	Cm, CImag       DevPtr
	LDC             int
	Dskip, H, Y, IO DevPtr
}

func (d *Device) stepKernel(name string) (*Function, error) { return d.Kernel("step.cu", name) }

// StepKernels compiles (or loads) the step kernels, so that none is
// loaded while a graph is being captured.
func (d *Device) StepKernels() error {
	for _, n := range []string{"step_embed", "step_gemv", "step_scan"} {
		if _, err := d.stepKernel(n); err != nil {
			return err
		}
	}
	return nil
}

// StepEmbed sets X[b, :] = Table[IO[b], :] for B rows of D columns and
// clears the B argmax keys (Argmax 0: none).
func (d *Device) StepEmbed(s *Stream, x, table, io, argmax DevPtr, B, D int) error {
	if B < 1 || B > StepMaxRows || D < 1 {
		return fmt.Errorf("cuda: step embed: B %d (1..%d), D %d", B, StepMaxRows, D)
	}
	f, err := d.stepKernel("step_embed")
	if err != nil {
		return err
	}
	return f.Launch(d.gridFor(int64(B*D), 256), Dim3{X: 256}, 0, s, x, table, io, B, D, argmax)
}

// Run issues the product on s.
func (g *StepGEMV) Run(d *Device, s *Stream) error {
	if g.B < 1 || g.B > StepMaxRows || g.N < 1 || g.K < 1 || g.W == 0 || g.X == 0 || g.Out == 0 {
		return fmt.Errorf("cuda: step gemv: B %d (1..%d), N %d, K %d, W, X and Out required", g.B, StepMaxRows, g.N, g.K)
	}
	switch g.Epi {
	case EpiStore, EpiAdd:
	case EpiInConv:
		if g.Out2 == 0 || g.ConvW == 0 || g.ConvState == 0 || g.IO == 0 || g.Kc < 1 || g.N != 2*g.Din {
			return fmt.Errorf("cuda: step gemv: the convolution epilogue needs Out2, ConvW, ConvState, IO, Kc ≥ 1 and N = 2·Din")
		}
	case EpiArgmax:
		if g.IO == 0 || g.Argmax == 0 {
			return fmt.Errorf("cuda: step gemv: the argmax epilogue needs IO and Argmax")
		}
	default:
		return fmt.Errorf("cuda: step gemv: epilogue %d", g.Epi)
	}
	f, err := d.stepKernel("step_gemv")
	if err != nil {
		return err
	}
	const threads, warps = 128, 4
	per := g.MaxBlocksPerSM
	if per <= 0 {
		per = 16
	}
	blocks := min((g.N+warps-1)/warps, per*max(d.SMs, 1))
	return f.Launch(Dim3{X: blocks}, Dim3{X: threads}, 4*g.B*g.K, s,
		g.W, g.X, g.LDX, g.NormW, g.Eps, g.B, g.N, g.K, g.Out, g.LDO, g.Epi, g.Out2, g.ConvW, g.ConvB, g.ConvState,
		g.Din, g.Kc, g.IO, g.Argmax)
}

// Run issues the scan step on s.
func (c *StepScan) Run(d *Device, s *Stream) error {
	if c.B < 1 || c.D < 1 || c.N < 1 || c.R < 0 || c.U == 0 || c.ALog == 0 || c.Bm == 0 || c.Cm == 0 || c.H == 0 || c.Y == 0 || c.IO == 0 {
		return fmt.Errorf("cuda: step scan: B %d D %d N %d R %d; U, ALog, Bm, Cm, H, Y and IO required", c.B, c.D, c.N, c.R)
	}
	if c.R > 0 && (c.DtLow == 0 || c.DtW == 0) {
		return fmt.Errorf("cuda: step scan: R %d without DtLow or DtW", c.R)
	}
	f, err := d.stepKernel("step_scan")
	if err != nil {
		return err
	}
	threads := 128
	blocks := (c.B*c.D*16 + threads - 1) / threads
	return f.Launch(Dim3{X: blocks}, Dim3{X: threads}, 0, s,
		c.U, c.Z, c.B, c.D, c.N, c.DtLow, c.LDDt, c.DtW, c.R, c.DtBias, c.ALog, c.AImag,
		c.Bm, c.BImag, c.LDB, c.Cm, c.CImag, c.LDC, c.Dskip, c.H, c.Y, c.IO)
}

// ArgmaxID decodes an argmax key of EpiArgmax: the row's id (ties to the
// lowest), or 0 when no logit was a number.
func ArgmaxID(key uint64) int32 {
	if key == 0 {
		return 0
	}
	return int32(0xffffffff - uint32(key))
}
