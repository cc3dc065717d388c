package cudakernels

import (
	"fmt"
	"os"
	"strconv"
	"sync"

	"github.com/mambakit/mambakit/framework/cuda"
)

// The single-token kernels of kernels/step.cu: the recurrent step of the
// backbone (framework/cudamodel's Stepper): StepGEMV for up to StepMaxRows
// rows; past that the products run through cuBLAS and step_rows.go's
// kernels go around them.
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

// StepVariant chooses the compiled form of the step kernels and how they
// are launched. The zero value is the first form: up to StepMaxRows rows,
// weights loaded in the product loop, plain launches.
type StepVariant struct {
	MaxRows  int  // rows the kernels are compiled for: 1 (generation), or 0 for StepMaxRows
	Prefetch bool // weights into registers before the wait for the kernel before (STEP_PREFETCH)
	PDL      bool // programmatic dependent launches (needs Prefetch, sm_90)
	// Early: the one-row kernels step_gemv_e (step_gemv_e16 with
	// bfloat16 weights, StepGEMV.W16) and step_scan_e (needs
	// MaxRows 1 and Prefetch): everything no kernel of the step writes
	// (weights, norm and conv weights, the conv and SSM states, A, the
	// reset flag) loaded before the wait, this step's inputs in one batch
	// after it, two rows of W in flight when K ≤ 768 (STEP_EARLY).
	Early bool
	// L2: with Early, each kernel also has the L2 fetch the byte ranges
	// StepGEMV.L2 and StepScan.L2 name, later kernels' weights
	// (cp.async.bulk.prefetch.L2, sm_90; STEP_L2).
	L2 bool
	// Fold: with Early, x_proj runs inside the scan step (StepScan.XW:
	// step_scan_ex, sm_90), where the shapes allow (StepScan.Folds).
	Fold bool
	// FoldOut: with Fold, out_proj too (StepScan.OW): the scan step
	// leaves out_proj's partial sums, which the next product adds to the
	// residual as it loads it (StepGEMV.Parts); two launches a layer.
	FoldOut bool
}

func (v StepVariant) maxRows() int {
	if v.MaxRows <= 0 || v.MaxRows > StepMaxRows {
		return StepMaxRows
	}
	return v.MaxRows
}

func (v StepVariant) defines() []string {
	var ds []string
	if v.maxRows() != StepMaxRows {
		ds = append(ds, fmt.Sprintf("STEP_MAXB=%d", v.maxRows()))
	}
	if v.Prefetch {
		ds = append(ds, "STEP_PREFETCH=1")
	}
	if v.Early {
		ds = append(ds, "STEP_EARLY=1")
	}
	if v.L2 {
		ds = append(ds, "STEP_L2=1")
	}
	return ds
}

func (v StepVariant) String() string {
	s := fmt.Sprintf("rows≤%d", v.maxRows())
	if v.Prefetch {
		s += "+prefetch"
	}
	if v.PDL {
		s += "+PDL"
	}
	if v.Early {
		s += "+early"
	}
	if v.L2 {
		s += "+L2"
	}
	if v.Fold {
		s += "+fold"
	}
	if v.FoldOut {
		s += "+out"
	}
	return s
}

// check checks v for a StepGEMV of B rows.
func (v StepVariant) check(B int) error {
	if B < 1 || B > v.maxRows() {
		return fmt.Errorf("cudakernels: step: %d rows, the kernels take 1..%d", B, v.maxRows())
	}
	return v.checkAny(B)
}

// checkAny checks v for a kernel that takes any number of rows (all but
// StepGEMV's; StepScan's early form takes one).
func (v StepVariant) checkAny(B int) error {
	if B < 1 {
		return fmt.Errorf("cudakernels: step: %d rows", B)
	}
	if v.PDL && !v.Prefetch {
		return fmt.Errorf("cudakernels: step: PDL needs the prefetching kernels")
	}
	if v.Early && (!v.Prefetch || v.maxRows() != 1) {
		return fmt.Errorf("cudakernels: step: the early kernels need Prefetch and MaxRows 1")
	}
	if v.L2 && !v.Early {
		return fmt.Errorf("cudakernels: step: L2 prefetch needs the early kernels")
	}
	if v.Fold && !v.Early {
		return fmt.Errorf("cudakernels: step: x_proj folded into the scan needs the early kernels")
	}
	if v.FoldOut && !v.Fold {
		return fmt.Errorf("cudakernels: step: out_proj folded into the scan needs x_proj folded in (Fold)")
	}
	return nil
}

// launch issues f with or without PDL.
func (v StepVariant) launch(f *cuda.Function, grid, block cuda.Dim3, shared int, s *cuda.Stream, args ...any) error {
	if v.PDL {
		return f.LaunchPDL(grid, block, shared, s, args...)
	}
	return f.Launch(grid, block, shared, s, args...)
}

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
//
// For bf16 products W16 replaces W: the weights as bfloat16 (N, K), 2
// bytes a weight (the parameters' bfloat16 copy), and x (after the norm)
// is rounded to bfloat16 as it is staged, so each product is exact in
// float32 and the sums are float32, as kernels.MatMulBF16W computes. Only
// the early one-row kernel reads bfloat16 weights (step_gemv_e16:
// V.Early, one row, K a multiple of 4 up to 1536, W16 8-byte aligned;
// StepVariant.EarlyBF16); Run refuses W16 for any other form.
type StepGEMV struct {
	B, N, K        int
	W, X           cuda.DevPtr
	W16            cuda.DevPtr // instead of W: bfloat16 weights (early kernel only)
	LDX            int
	NormW          cuda.DevPtr
	Eps            float32
	Out            cuda.DevPtr
	LDO            int
	Epi            int
	Out2           cuda.DevPtr
	ConvW, ConvB   cuda.DevPtr
	ConvState      cuda.DevPtr
	Din, Kc        int
	IO             cuda.DevPtr
	Argmax         cuda.DevPtr
	MaxBlocksPerSM int // 0: 16, or with Prefetch what the registers allow
	V              StepVariant
	L2             [2]L2Range // with V.L2: byte ranges for the L2 to fetch (later kernels' weights)
	// Parts (NParts rows of K) are out_proj's partial sums that a scan
	// step with out_proj folded in left (StepScan.OP): the product reads
	// X + ((Parts[0] + Parts[1]) + …), and one block writes that sum to
	// XSum (optional), the residual the next layer adds to. The early
	// one-row kernel only.
	Parts  cuda.DevPtr
	NParts int
	XSum   cuda.DevPtr
}

// L2Range is a byte range of device memory that a step kernel of the L2
// form asks the L2 to fetch (a hint: no result depends on it).
type L2Range struct {
	P     cuda.DevPtr
	Bytes int
}

func (v StepVariant) l2Args(r [2]L2Range) []any {
	if !v.L2 {
		r = [2]L2Range{}
	}
	return []any{r[0].P, int64(r[0].Bytes), r[1].P, int64(r[1].Bytes)}
}

// StepScan is one step of kernels.Scan (L = 1) per row with Δ's low-rank
// projection folded in: Δ = softplus(DtW·DtLow[b] + DtBias) (R = 0: Δ =
// softplus(DtBias)), A = −exp(ALog) (and AImag when complex), B and C
// read at Bm + b·LDB (input-dependent) or Bm + d·N (LDB = 0: per channel),
// the D skip and the SiLU gate Z. H (B, D, N), or (B, D, 2N) complex, is
// updated in place; a row with its reset flag in IO starts from zero.
// For bf16 products (framework/cudamodel's bf16 step) Y16, when set,
// receives Y's bfloat16 bits as well (bf16_bits of the float32 value,
// what the wide step's cuBLAS out_proj reads), and DtBF16 rounds DtLow
// and DtW to bfloat16 before Δ's projection, the CPU's bf16 dt_proj
// product (exact products, float32 sums). Every kernel takes DtBF16;
// the early one-row kernel (step_scan_e) has no Y16: the bf16 out_proj
// of one row (StepGEMV with W16) rounds the float32 y as it stages it.
//
// Run picks the kernel: with V.Early one row (R ≤ 64) runs step_scan_e;
// enough rows of real A to give step_scan_rows a block for every
// multiprocessor run it (the 130M shape: 17 rows and more), one thread a
// (row, channel) in blocks of 32 channels by up to 8 rows that stage A
// (computed once a block), Δ's projection rows, Δ's input, B and C in
// shared memory (a block takes several groups of 8 rows in turn where
// the grid stays large, rowsIters), so the step reads and writes H once: step_scan, 16
// lanes a (row, channel), computes A again for every row and reads the
// channel's projection row for every row. The rest (fewer rows, complex
// A, a block's staging past 48 KB) runs step_scan.
type StepScan struct {
	B, D, N, R      int
	U, Z            cuda.DevPtr
	DtLow           cuda.DevPtr
	LDDt            int
	DtW, DtBias     cuda.DevPtr
	ALog, AImag     cuda.DevPtr
	Bm, BImag       cuda.DevPtr
	LDB             int
	Cm, CImag       cuda.DevPtr
	LDC             int
	Dskip, H, Y, IO cuda.DevPtr
	Y16             cuda.DevPtr // optional: Y as bfloat16 (B, D), 2 bytes an element (not with step_scan_e)
	DtBF16          bool        // Δ's projection reads DtLow and DtW rounded to bfloat16
	// XW (float32) or XW16 (bfloat16), (XS, D) row-major: x_proj folded
	// into the step (step_scan_ex: V.Fold, sm_90, the shapes Folds
	// takes). The kernel works out the XS outputs XW·U itself, where
	// x_proj would have written them at XOut (XS floats), and reads
	// DtLow, Bm, BImag, Cm and CImag from them where they point into
	// XOut; with XW16, U is rounded to bfloat16 first (bf16 products).
	XW, XW16 cuda.DevPtr
	XS       int
	XOut     cuda.DevPtr
	// OW (float32) or OW16 (bfloat16, with XW16), (OD, D) row-major:
	// out_proj folded in too (StepVariant.FoldOut). Each cluster writes
	// its partial sum of OW·Y, a row of OD floats, to OP (OutParts rows);
	// the next product adds them to the residual (StepGEMV.Parts). Y is
	// written as well.
	OW, OW16 cuda.DevPtr
	OD       int
	OP       cuda.DevPtr
	V        StepVariant
	L2       [2]L2Range // with V.L2: byte ranges for the L2 to fetch

	rowIters int // tests: the groups of rows a block of step_scan_rows takes (0: rowsIters chooses)
}

func (d *Device) stepKernel(v StepVariant, name string) (*cuda.Function, error) {
	return d.kernel("step.cu", name, v.defines()...)
}

// StepKernels compiles (or loads) the step kernels of v, so that none is
// loaded while a graph is being captured; with PDL it also checks that
// the driver and device have it.
func (d *Device) StepKernels(v StepVariant) error {
	if v.PDL {
		if err := d.PDLAvailable(); err != nil {
			return err
		}
	}
	names := []string{"step_embed", "step_gemv", "step_scan", "step_scan_rows", "step_rmsnorm_rows", "step_conv_rows", "step_argmax_rows"}
	if v.Early {
		names = append(names, "step_gemv_e", "step_gemv_e16", "step_scan_e")
	}
	if v.Fold {
		names = append(names, "step_scan_ex")
	}
	for _, n := range names {
		if _, err := d.stepKernel(v, n); err != nil {
			return err
		}
	}
	return nil
}

// StepHistory is the steps of ids StepEmbed's history holds: the ids of
// position p are row p % StepHistory.
const StepHistory = 32

// StepEmbed sets X[b, :] = Table[id, :] for B rows of D columns, id being
// IO[b], or, where IO[b] is −1, the argmax of the step before: prev's
// key for row b (ArgmaxID; with prev 0, no id may be −1). It clears the
// B argmax keys of this step (Argmax; 0: none), which must not be
// prev's. With hist (0: none), it writes the ids to row IO's position %
// StepHistory of hist (StepHistory rows of B int32s), so that the ids of
// steps that fed themselves can be read back. It is the first kernel of
// a step: it is never launched with PDL.
func (d *Device) StepEmbed(s *cuda.Stream, v StepVariant, x, table, io, argmax, prev, hist cuda.DevPtr, B, D int) error {
	if err := v.checkAny(B); err != nil {
		return err
	}
	if D < 1 {
		return fmt.Errorf("cudakernels: step embed: D %d", D)
	}
	if argmax != 0 && argmax == prev {
		return fmt.Errorf("cudakernels: step embed: the keys it clears (Argmax) are the ones it reads (prev)")
	}
	f, err := d.stepKernel(v, "step_embed")
	if err != nil {
		return err
	}
	return f.Launch(d.GridFor(int64(B*D), 256), cuda.Dim3{X: 256}, 0, s, x, table, io, B, D, argmax, prev, hist, int32(StepHistory))
}

// Run issues the product on s.
func (g *StepGEMV) Run(d *Device, s *cuda.Stream) error {
	if err := g.V.check(g.B); err != nil {
		return err
	}
	if g.N < 1 || g.K < 1 || g.X == 0 || g.Out == 0 {
		return fmt.Errorf("cudakernels: step gemv: N %d, K %d, X and Out required", g.N, g.K)
	}
	if (g.W == 0) == (g.W16 == 0) {
		return fmt.Errorf("cudakernels: step gemv: want one of W (float32 weights) and W16 (bfloat16 weights), got W set %v, W16 set %v", g.W != 0, g.W16 != 0)
	}
	early := g.early()
	if g.NParts < 0 || (g.NParts > 0) != (g.Parts != 0) || (g.NParts == 0 && g.XSum != 0) {
		return fmt.Errorf("cudakernels: step gemv: %d parts at %#x, sum at %#x: want NParts ≥ 1 with Parts (XSum optional), or none of them",
			g.NParts, uint64(g.Parts), uint64(g.XSum))
	}
	if g.NParts > 0 && !early {
		return fmt.Errorf("cudakernels: step gemv: out_proj's parts (Parts) are read by the early one-row kernel only; got %v, %d rows, K %d", g.V, g.B, g.K)
	}
	if g.W16 != 0 && !early {
		return fmt.Errorf("cudakernels: step gemv: bfloat16 weights (W16) are read by the early one-row kernel only, which wants V.Early, one row, K a multiple of 4 up to %d and W16 8-byte aligned; got %v, %d rows, K %d, W16 at %#x",
			stepEarlyMaxK, g.V, g.B, g.K, uint64(g.W16))
	}
	switch g.Epi {
	case EpiStore, EpiAdd:
	case EpiInConv:
		if g.Out2 == 0 || g.ConvW == 0 || g.ConvState == 0 || g.IO == 0 || g.Kc < 1 || g.N != 2*g.Din {
			return fmt.Errorf("cudakernels: step gemv: the convolution epilogue needs Out2, ConvW, ConvState, IO, Kc ≥ 1 and N = 2·Din")
		}
	case EpiArgmax:
		if g.IO == 0 || g.Argmax == 0 {
			return fmt.Errorf("cudakernels: step gemv: the argmax epilogue needs IO and Argmax")
		}
	default:
		return fmt.Errorf("cudakernels: step gemv: epilogue %d", g.Epi)
	}
	// Shapes the early kernel does not take run the prefetching kernel
	// (float32 weights only).
	name := "step_gemv"
	switch {
	case early && g.W16 != 0:
		name = "step_gemv_e16"
	case early:
		name = "step_gemv_e"
	}
	f, err := d.stepKernel(g.V, name)
	if err != nil {
		return err
	}
	const threads, warps = 128, 4
	per := g.MaxBlocksPerSM
	if per <= 0 {
		per = 16
		if g.V.Prefetch {
			// One wave: the blocks the registers let a multiprocessor hold.
			per = max(1, min(16, 65536/(((max(f.Regs, 1)+7)/8*8)*threads)))
		}
	}
	blocks := min((g.N+warps-1)/warps, per*max(d.SMs, 1))
	if early {
		w := g.W
		if g.W16 != 0 {
			w = g.W16
		}
		args := []any{w, g.X, g.NormW, g.Eps, g.N, g.K, g.Out, g.Epi, g.Out2, g.ConvW, g.ConvB, g.ConvState, g.Din, g.Kc, g.IO, g.Argmax}
		args = append(append(args, g.V.l2Args(g.L2)...), g.Parts, int32(g.NParts), g.XSum)
		return g.V.launch(f, cuda.Dim3{X: blocks}, cuda.Dim3{X: threads}, 4*g.K, s, args...)
	}
	return g.V.launch(f, cuda.Dim3{X: blocks}, cuda.Dim3{X: threads}, 4*g.B*g.K, s,
		g.W, g.X, g.LDX, g.NormW, g.Eps, g.B, g.N, g.K, g.Out, g.LDO, g.Epi, g.Out2, g.ConvW, g.ConvB, g.ConvState,
		g.Din, g.Kc, g.IO, g.Argmax)
}

// stepEarlyMaxK is the longest row the early product kernel takes (12
// slots of 4 weights a lane).
const stepEarlyMaxK = 1536

// early reports whether g runs the early one-row kernel: V.Early, one
// row, K a multiple of 4 up to stepEarlyMaxK, and its weights aligned to
// 4 of them (W 16 bytes, W16 8).
func (g *StepGEMV) early() bool {
	w, align := g.W, cuda.DevPtr(16)
	if g.W16 != 0 {
		w, align = g.W16, 8
	}
	return g.V.Early && g.B == 1 && g.K%4 == 0 && g.K <= stepEarlyMaxK && w%align == 0
}

// EarlyBF16 reports whether StepGEMV under v takes B rows of K columns
// with bfloat16 weights at w16 (W16): the early one-row kernel's shapes
// (V.Early, one row, K a multiple of 4 up to 1536, w16 8-byte aligned).
func (v StepVariant) EarlyBF16(B, K int, w16 cuda.DevPtr) bool {
	return (&StepGEMV{B: B, K: K, W16: w16, V: v}).early()
}

// stepFoldCluster is the blocks of a cluster of step_scan_ex, each
// taking an eighth of x_proj's columns (the portable cluster size).
const stepFoldCluster = 8

// stepFoldMaxShared is the most shared memory step_scan_ex asks for (of
// sm_90's 227 KB a block).
const stepFoldMaxShared = 200 << 10

// Folds reports whether c with x_proj folded in (XW or XW16 set, XS
// rows) runs on d as step_scan_ex, and why not: V.Fold (with the early
// one-row form, R ≤ 64, no Y16), sm_90 (clusters), D a multiple of 64
// (8 blocks of 8 channels a cluster, each a slice of x_proj's columns
// that is a whole number of 16-byte copies), XS from 1 to 128 (a thread
// a row), the weights 16-byte aligned, the shared memory within
// stepFoldMaxShared; with out_proj's weights (OW or OW16), FoldOut, the
// precision of x_proj's, OD a multiple of 8, the weights 16-byte
// aligned, and OP.
func (c *StepScan) Folds(d *Device) error {
	w := either(c.XW, c.XW16)
	switch {
	case (c.XW == 0) == (c.XW16 == 0):
		return fmt.Errorf("want one of XW and XW16")
	case !c.V.Fold || c.kernel(0) != "step_scan_e" || c.Y16 != 0:
		return fmt.Errorf("the variant %v, %d rows, R %d: not the early one-row scan with Fold (R ≤ 64, no Y16)", c.V, c.B, c.R)
	case d.Major < 9:
		return fmt.Errorf("thread block clusters need sm_90, the device is sm_%d%d", d.Major, d.Minor)
	case c.D%(8*stepFoldCluster) != 0:
		return fmt.Errorf("D %d is not a multiple of %d", c.D, 8*stepFoldCluster)
	case c.XS < 1 || c.XS > 128:
		return fmt.Errorf("x_proj has %d rows, the fold takes 1 to 128", c.XS)
	case w%16 != 0:
		return fmt.Errorf("x_proj's weights at %#x are not 16-byte aligned", uint64(w))
	case c.XOut == 0:
		return fmt.Errorf("XOut required")
	case c.foldShared() > stepFoldMaxShared:
		return fmt.Errorf("%d bytes of shared memory, more than %d", c.foldShared(), stepFoldMaxShared)
	}
	if c.OW == 0 && c.OW16 == 0 && c.OD == 0 && c.OP == 0 {
		return nil
	}
	ow := either(c.OW, c.OW16)
	switch {
	case !c.V.FoldOut:
		return fmt.Errorf("out_proj's weights given to the variant %v, without FoldOut", c.V)
	case (c.OW == 0) == (c.OW16 == 0) || (c.OW16 != 0) != (c.XW16 != 0):
		return fmt.Errorf("want one of OW and OW16, in the precision of x_proj's weights (XW16 set: %v)", c.XW16 != 0)
	case c.OD < 1 || c.OD%stepFoldCluster != 0:
		return fmt.Errorf("out_proj has %d rows, want a positive multiple of %d", c.OD, stepFoldCluster)
	case ow%16 != 0:
		return fmt.Errorf("out_proj's weights at %#x are not 16-byte aligned", uint64(ow))
	case c.OP == 0:
		return fmt.Errorf("OP required")
	}
	return nil
}

// OutParts is the rows of out_proj's partial sums (OP) a scan step with
// out_proj folded in writes: one a cluster.
func (c *StepScan) OutParts() int { return c.D / (8 * stepFoldCluster) }

// foldShared is step_scan_ex's shared memory: XS rows of a slice of
// D/stepFoldCluster weights (16 bytes of padding a row), the slice of u,
// the XS parts and sums.
func (c *StepScan) foldShared() int {
	esz := 4
	if c.XW16 != 0 {
		esz = 2
	}
	sl := c.D / stepFoldCluster
	n := c.XS*(sl*esz+16) + 4*(sl+2*c.XS)
	if c.OW != 0 || c.OW16 != 0 {
		// out_proj's 8 columns of OD rows, the block's 8 outputs, the OD
		// parts.
		n += c.OD*8*esz + 4*(8+c.OD)
	}
	return n
}

// foldOffset is where p lies in the folded outputs (XOut, XS floats), or
// −1 when it is elsewhere (a parameter) or unset.
func (c *StepScan) foldOffset(p cuda.DevPtr) int32 {
	if p < c.XOut || p >= c.XOut+cuda.DevPtr(4*c.XS) || (p-c.XOut)%4 != 0 {
		return -1
	}
	return int32((p - c.XOut) / 4)
}

// Run issues the scan step on s.
func (c *StepScan) Run(d *Device, s *cuda.Stream) error {
	if err := c.V.checkAny(c.B); err != nil {
		return err
	}
	if c.D < 1 || c.N < 1 || c.N > 64 || c.R < 0 || c.U == 0 || c.ALog == 0 || c.Bm == 0 || c.Cm == 0 || c.H == 0 || c.Y == 0 || c.IO == 0 {
		return fmt.Errorf("cudakernels: step scan: D %d N %d (1..64) R %d; U, ALog, Bm, Cm, H, Y and IO required", c.D, c.N, c.R)
	}
	if c.R > 0 && (c.DtLow == 0 || c.DtW == 0) {
		return fmt.Errorf("cudakernels: step scan: R %d without DtLow or DtW", c.R)
	}
	if c.XW != 0 || c.XW16 != 0 {
		if err := c.Folds(d); err != nil {
			return fmt.Errorf("cudakernels: step scan with x_proj folded in: %w", err)
		}
		return c.launch(d, s, "step_scan_ex")
	}
	return c.launch(d, s, c.kernel(d.SMs))
}

// launch issues the scan step as kernel name (StepScan.kernel's choice,
// or, in tests, either form the shape allows).
func (c *StepScan) launch(d *Device, s *cuda.Stream, name string) error {
	if name == "step_scan_e" && c.Y16 != 0 {
		return fmt.Errorf("cudakernels: step scan: Y16 is not in the early one-row kernel (step_scan_e: its bf16 out_proj, StepGEMV with W16, rounds y itself); leave Y16 0 or use a variant without Early")
	}
	f, err := d.stepKernel(c.V, name)
	if err != nil {
		return err
	}
	dt16 := int32(0)
	if c.DtBF16 {
		dt16 = 1
	}
	switch name {
	case "step_scan_e", "step_scan_ex":
		args := append([]any{c.U, c.Z, c.D, c.N, c.DtLow, c.DtW, c.R, c.DtBias, c.ALog, c.AImag,
			c.Bm, c.BImag, c.LDB, c.Cm, c.CImag, c.LDC, c.Dskip, c.H, c.Y, c.IO, dt16}, c.V.l2Args(c.L2)...)
		grid, block := cuda.Dim3{X: (c.D*16 + 127) / 128}, cuda.Dim3{X: 128}
		if name == "step_scan_e" {
			return c.V.launch(f, grid, block, 0, s, args...)
		}
		w16 := int32(0)
		if c.XW16 != 0 {
			w16 = 1
		}
		args = append(args, either(c.XW, c.XW16), w16, c.XS, c.foldOffset(c.DtLow), c.foldOffset(c.Bm), c.foldOffset(c.BImag),
			c.foldOffset(c.Cm), c.foldOffset(c.CImag), either(c.OW, c.OW16), int32(c.OD), c.OP)
		return f.LaunchWith(cuda.LaunchOpts{PDL: c.V.PDL, Cluster: stepFoldCluster}, grid, block, c.foldShared(), s, args...)
	case "step_scan_rows":
		iters := c.rowsIters(d.SMs)
		grid, block := c.rowsGrid(iters)
		return c.V.launch(f, grid, block, c.rowsShared(block.Y), s,
			c.U, c.Z, c.B, c.D, c.N, c.DtLow, c.LDDt, c.DtW, c.R, c.DtBias, c.ALog,
			c.Bm, c.LDB, c.Cm, c.LDC, c.Dskip, c.H, c.Y, c.IO, c.Y16, dt16, int32(iters))
	}
	threads := 128
	blocks := (c.B*c.D*16 + threads - 1) / threads
	return c.V.launch(f, cuda.Dim3{X: blocks}, cuda.Dim3{X: threads}, 0, s,
		c.U, c.Z, c.B, c.D, c.N, c.DtLow, c.LDDt, c.DtW, c.R, c.DtBias, c.ALog, c.AImag,
		c.Bm, c.BImag, c.LDB, c.Cm, c.CImag, c.LDC, c.Dskip, c.H, c.Y, c.IO, c.Y16, dt16)
}

// stepScanRows is the most rows a block of step_scan_rows takes
// (blockDim.y; 32 channels a row, 256 threads).
const stepScanRows = 8

// Kernel is the name of the kernel Run launches for c on d: step_scan_e,
// step_scan_rows or step_scan.
func (c *StepScan) Kernel(d *Device) string { return c.kernel(d.SMs) }

// kernel is the kernel Run launches for c on a device of sms
// multiprocessors.
func (c *StepScan) kernel(sms int) string {
	switch {
	case c.V.Early && c.B == 1 && c.R <= 64:
		return "step_scan_e"
	case c.rowsOK() && c.rowsBlocks() >= sms:
		// Once its grid has a block for every multiprocessor: a block of
		// 32 channels stages A and the projection rows once for all its
		// rows, where step_scan computes A again for every (row,
		// channel). With fewer blocks (8 rows of the 130M shape: 48 for
		// 132 multiprocessors) step_scan's 16 lanes a channel measured
		// faster.
		return "step_scan_rows"
	}
	return "step_scan"
}

// rowsOK reports whether step_scan_rows takes c: two rows or more, real
// A, a block's staging within 48 KB.
func (c *StepScan) rowsOK() bool {
	return c.B >= 2 && c.AImag == 0 && c.rowsShared(min(c.B, stepScanRows)) <= 48<<10
}

// rowsGrid is step_scan_rows's launch for c: blocks of 32 channels by
// up to stepScanRows rows, each block taking iters such groups of rows.
func (c *StepScan) rowsGrid(iters int) (grid, block cuda.Dim3) {
	rows := min(c.B, stepScanRows)
	groups := (c.B + rows - 1) / rows
	return cuda.Dim3{X: (c.D + 31) / 32, Y: (groups + iters - 1) / iters}, cuda.Dim3{X: 32, Y: rows}
}

// rowsBlocks is the number of blocks of step_scan_rows for c, a group
// of rows each.
func (c *StepScan) rowsBlocks() int {
	g, _ := c.rowsGrid(1)
	return g.X * g.Y
}

// stepRowIters is $MAMBAKIT_CUDA_STEP_ROW_ITERS (1 to 64; 0 when unset
// or not a number in range): the groups of rows a block of
// step_scan_rows takes, for measuring; rowsIters chooses otherwise.
var stepRowIters = sync.OnceValue(func() int {
	n, err := strconv.Atoi(os.Getenv("MAMBAKIT_CUDA_STEP_ROW_ITERS"))
	if err != nil || n < 1 || n > 64 {
		return 0
	}
	return n
})

// rowsIters is how many groups of rows a block of step_scan_rows takes
// on a device of sms multiprocessors: the parameters a block stages (A
// and Δ's projection rows of its 32 channels) cost more instructions
// than a group's states, so a block shares them among up to
// stepScanRowIters groups, as long as the grid keeps at least two blocks
// a multiprocessor (384 blocks, 2.9 a multiprocessor, at 256 and at 128
// rows of the 130M shape on 132). Measured (H100, bf16, the 130M shape, docs/gpu.md):
// at 256 rows 1, 2 and 4 groups a block gave 147.7k, 152.8k and 165.2k
// tokens/s; at 64 rows 66.6k, 64.2k and 60.0k.
func (c *StepScan) rowsIters(sms int) int {
	if c.rowIters > 0 {
		return c.rowIters
	}
	if n := stepRowIters(); n > 0 {
		return n
	}
	return max(1, min(stepScanRowIters, c.rowsBlocks()/(2*max(sms, 1))))
}

// stepScanRowIters is the most groups of rows rowsIters gives a block.
const stepScanRowIters = 4

// rowsShared is the dynamic shared memory in bytes of a block of
// step_scan_rows with rows rows, laid out as the kernel carves it: A and
// Δ's projection rows of 32 channels, B and C per row (or per channel
// when LDB, LDC = 0), Δ's input per row; a channel's rows padded to an
// odd number of float4s (no bank conflicts), a row's to whole float4s.
func (c *StepScan) rowsShared(rows int) int {
	n4, r4 := (c.N+3)&^3, (c.R+3)&^3
	sN, sR := 4*(n4/4|1), 0
	if c.R > 0 {
		sR = 4 * (r4/4 | 1)
	}
	bc := func(ld int) int {
		if ld != 0 {
			return rows * n4
		}
		return 32 * sN
	}
	return 4 * (32*sN + 32*sR + bc(c.LDB) + bc(c.LDC) + rows*r4)
}

// ArgmaxID decodes an argmax key of EpiArgmax: the row's id (ties to the
// lowest), or 0 when no logit was a number.
func ArgmaxID(key uint64) int32 {
	if key == 0 {
		return 0
	}
	return int32(0xffffffff - uint32(key))
}
