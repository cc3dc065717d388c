package cudakernels

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/mambakit/mambakit/framework/cuda"
)

// Conv1d is kernels.Conv1d on device memory (causal depthwise convolution
// with carried state and resets, SiLU fused): X, Y, U (B, L, D); W (D, K);
// Bias (D); State0, StateT (B, D, K−1); Reset (B, L) bytes. U receives
// SiLU(Y), U16 the same rounded to bfloat16 (as ToBF16 rounds it): the
// operand a bf16 product reads. 0 marks an absent optional field. K is at
// most 16.
type Conv1d struct {
	B, L, D, K int

	X, W, Bias, State0, Reset cuda.DevPtr
	Y, StateT, U, U16         cuda.DevPtr
}

// Conv1dGrads are its gradients (kernels.Conv1dGrads); 0 skips an output.
// The gradient of Y is DY, or, when DU is set, DU·silu'(Y): the gradient
// of U. DX16 receives DX rounded to bfloat16 (DX may then be 0).
type Conv1dGrads struct {
	DY, DU                 cuda.DevPtr
	DX, DW, DBias, DState0 cuda.DevPtr
	DX16                   cuda.DevPtr
}

// convSeg is the positions a thread of the convolution kernels walks
// (conv.cu): long enough that the K − 1 positions read again at each
// edge cost little, short enough for B·L/convSeg·D threads to fill the
// card.
const convSeg = 64

func (c *Conv1d) check() error {
	if c.B < 0 || c.L < 0 || c.D < 0 || c.K < 1 || c.K > 16 {
		return fmt.Errorf("cudakernels: conv1d: bad sizes B %d L %d D %d K %d (K in 1..16)", c.B, c.L, c.D, c.K)
	}
	if c.X == 0 || c.W == 0 || c.Y == 0 {
		return fmt.Errorf("cudakernels: conv1d: X, W and Y are required")
	}
	return nil
}

// segs is the number of convSeg-position segments a sequence is cut into
// (one for an empty sequence: StateT and DState0 are still written); the
// backward's partials have B·segs chunks.
func (c *Conv1d) segs() int { return max((c.L+convSeg-1)/convSeg, 1) }

// launch runs the forward or backward kernel of c's size (K ≤ 4 or ≤ 16)
// over its (sequence, segment, block of channels) grid.
func (c *Conv1d) launch(d *Device, name string, args ...any) error {
	km := "4"
	if c.K > 4 {
		km = "16"
	}
	f, err := d.kernel("conv.cu", name+km)
	if err != nil {
		return err
	}
	blocks := int64(c.B) * int64(c.segs()) * int64((c.D+127)/128)
	if blocks == 0 {
		return nil
	}
	return f.Launch(cuda.Dim3{X: int(blocks)}, cuda.Dim3{X: 128}, 0, nil, append(args, c.B, c.L, c.D, c.K, convSeg)...)
}

// Conv1dForward computes Y, StateT and, when set, U and U16.
func (d *Device) Conv1dForward(c *Conv1d) error {
	if err := c.check(); err != nil {
		return err
	}
	return c.launch(d, "conv_fwd", c.X, c.W, c.Bias, c.State0, c.Reset, c.Y, c.U, c.U16, c.StateT)
}

// Conv1dBackward computes the gradients from g.DY or, when set, g.DU
// (then reading c.Y, the saved pre-activation).
func (d *Device) Conv1dBackward(c *Conv1d, g *Conv1dGrads) error {
	if err := c.check(); err != nil {
		return err
	}
	if g.DY == 0 && g.DU == 0 {
		return fmt.Errorf("cudakernels: conv1d backward: DY or DU is required")
	}
	chunks := c.B * c.segs()
	var part cuda.DevPtr // the per-segment sums of dW and dBias, when wanted
	if g.DW != 0 || g.DBias != 0 {
		buf, err := d.Scratch("conv.part", 4*max(chunks, 1)*c.D*(c.K+1))
		if err != nil {
			return err
		}
		part = buf.Ptr()
	}
	if err := c.launch(d, "conv_bwd", c.X, c.W, c.State0, c.Reset, c.Y, g.DY, g.DU, g.DX, g.DX16, g.DState0, part); err != nil {
		return err
	}
	if part == 0 {
		return nil
	}
	fs, err := d.kernel("conv.cu", "conv_bwd_wsum")
	if err != nil {
		return err
	}
	cols := c.D * (c.K + 1)
	return fs.Launch(cuda.Dim3{X: max((cols+31)/32, 1)}, cuda.Dim3{X: 32, Y: 8}, 0, nil, part, chunks, c.D, c.K, g.DW, g.DBias)
}

// normWarps is NORM_WARPS of kernels/norm.cu: rows a block of the
// RMSNorm forward, at most that many warps a block of the backward, whose
// shared memory (a row of dW sums a warp) is at most normShared bytes.
const (
	normWarps  = 8
	normShared = 96 << 10
	normVPT    = 8 // NORM_VPT: columns a thread of rmsnorm_bwd_rows
)

// RMSNormForward is kernels.RMSNormForward: y (M, C), rstd (M), x (M, C),
// w (C); y16, when set, receives y rounded to bfloat16 (as ToBF16 rounds).
func (d *Device) RMSNormForward(y, y16, rstd, x, w cuda.DevPtr, M, C int, eps float32) error {
	if M < 0 || C < 1 {
		return fmt.Errorf("cudakernels: rmsnorm: bad sizes M %d C %d", M, C)
	}
	if M == 0 {
		return nil
	}
	f, err := d.kernel("norm.cu", "rmsnorm_fwd")
	if err != nil {
		return err
	}
	return f.Launch(cuda.Dim3{X: (M + normWarps - 1) / normWarps}, cuda.Dim3{X: 32 * normWarps}, 0, nil, y, y16, rstd, x, w, M, C, eps)
}

// RMSNormBackward is kernels.RMSNormBackward: dx (M, C) overwritten, or
// added to with addDX (dx += the gradient: the same bits as adding it
// after), dw (C) added to; dx16, when set, receives the final dx rounded
// to bfloat16.
func (d *Device) RMSNormBackward(dx, dx16, dw, dy, x, w, rstd cuda.DevPtr, M, C int, addDX bool) error {
	if M < 0 || C < 1 {
		return fmt.Errorf("cudakernels: rmsnorm backward: bad sizes M %d C %d", M, C)
	}
	if M == 0 {
		return nil
	}
	add := int32(0)
	if addDX {
		add = 1
	}
	if C >= 2048 && C <= normVPT*512 {
		// A block a row in turn, each thread normVPT columns in registers
		// (a row read once); as many blocks a multiprocessor as its
		// registers hold. Measured faster at C 2048 (mamba-1.4b: 5.39
		// against 6.93 ms a step, H100) and slower at C 768 (mamba-130m:
		// 3.97 against about 3.0), so narrower rows keep the warp a row.
		f, err := d.kernel("norm.cu", "rmsnorm_bwd_rows")
		if err != nil {
			return err
		}
		nt := 32 * ((C + 32*normVPT - 1) / (32 * normVPT))
		blocks := min(M, max(d.SMs, 1)*blocksBy(f.Regs, nt))
		part, err := d.Scratch("rmsnorm.part", 4*blocks*C)
		if err != nil {
			return err
		}
		if err := f.Launch(cuda.Dim3{X: blocks}, cuda.Dim3{X: nt}, 0, nil, dx, dx16, add, part, dy, x, w, rstd, M, C); err != nil {
			return err
		}
		return d.sumRows(part.Ptr(), blocks, C, dw, true)
	}
	f, err := d.kernel("norm.cu", "rmsnorm_bwd")
	if err != nil {
		return err
	}
	// Wider rows: a warp a row, and each warp's column sums of dW in
	// shared memory: as many warps a block (up to normWarps) as 96 KiB
	// holds.
	nw := min(normWarps, normShared/(4*C))
	if nw < 1 {
		return fmt.Errorf("cudakernels: rmsnorm backward: C %d over %d", C, normShared/4)
	}
	blocks := min((M+nw-1)/nw, 8*max(d.SMs, 1)*normWarps/nw)
	part, err := d.Scratch("rmsnorm.part", 4*blocks*C)
	if err != nil {
		return err
	}
	if err := f.Launch(cuda.Dim3{X: blocks}, cuda.Dim3{X: 32 * nw}, 4*nw*C, nil, dx, dx16, add, part, dy, x, w, rstd, M, C); err != nil {
		return err
	}
	return d.sumRows(part.Ptr(), blocks, C, dw, true)
}

// blocksBy is how many blocks of nt threads (a multiple of 32) at regs
// registers a thread one multiprocessor of compute capability 8 or 9
// holds: 65536 registers, allocated 256 at a time a warp; 64 warps; 32
// blocks. At least 1.
func blocksBy(regs, nt int) int {
	perWarp := (max(regs, 1)*32 + 255) / 256 * 256
	warps := min(65536/perWarp, 64)
	return max(min(warps/max(nt/32, 1), 32), 1)
}

func (d *Device) elementwise(name string, n int, args ...any) error {
	if n < 0 {
		return fmt.Errorf("cudakernels: %s: negative length", name)
	}
	if n == 0 {
		return nil
	}
	f, err := d.kernel("elementwise.cu", name)
	if err != nil {
		return err
	}
	return f.Launch(d.GridFor(int64(n), 256), cuda.Dim3{X: 256}, 0, nil, args...)
}

// ToBF16 sets y (n bfloat16s, 2 bytes each) to x (n float32s) rounded to
// the nearest bfloat16, ties to even: kernels.RoundBF16 element for
// element.
func (d *Device) ToBF16(y, x cuda.DevPtr, n int) error {
	return d.elementwise("to_bf16", n, y, x, int64(n))
}

// SiLUForward sets y = x·σ(x) over n elements.
func (d *Device) SiLUForward(y, x cuda.DevPtr, n int) error {
	return d.elementwise("silu_fwd", n, y, x, int64(n))
}

// SiLUBackward sets dx = dy·silu'(x).
func (d *Device) SiLUBackward(dx, dy, x cuda.DevPtr, n int) error {
	return d.elementwise("silu_bwd", n, dx, dy, x, int64(n))
}

// GateForward sets y = x·silu(z), the mixer's output gate.
func (d *Device) GateForward(y, x, z cuda.DevPtr, n int) error {
	return d.elementwise("gate_fwd", n, y, x, z, int64(n))
}

// GateBackward sets dx = dy·silu(z) and dz = dy·x·silu'(z) (either may be 0).
func (d *Device) GateBackward(dx, dz, dy, x, z cuda.DevPtr, n int) error {
	return d.elementwise("gate_bwd", n, dx, dz, dy, x, z, int64(n))
}

// SoftplusForward sets y = softplus(x + bias[i mod C]) (kernels.Softplus;
// bias (C) optional, then C is ignored).
func (d *Device) SoftplusForward(y, x, bias cuda.DevPtr, C, n int) error {
	return d.elementwise("softplus_fwd", n, y, x, bias, max(C, 1), int64(n))
}

// SoftplusBackward sets dx = dy·σ(x + bias[i mod C]).
func (d *Device) SoftplusBackward(dx, dy, x, bias cuda.DevPtr, C, n int) error {
	return d.elementwise("softplus_bwd", n, dx, dy, x, bias, max(C, 1), int64(n))
}

// CrossEntropy is kernels.CrossEntropy on the device: logits (M, V),
// targets (M) int32 (negative: ignored), dlogits (M, V) or 0. It returns
// the summed loss (float64 sums, rows in order) and the counted rows.
func (d *Device) CrossEntropy(dlogits, logits, targets cuda.DevPtr, M, V int, scale float32) (float64, int, error) {
	return d.CrossEntropyWith(&XEnt{Logits: logits, Targets: targets, M: M, V: V, DLogits: dlogits, Scale: scale})
}

// XEnt is one cross-entropy launch (CrossEntropyWith).
type XEnt struct {
	Logits, Targets cuda.DevPtr // (M, V) float32, (M) int32 (negative: ignored)
	M, V            int
	// DLogits (float32) and DLogits16 (bfloat16, RoundBF16 of the float32
	// value), each optional, receive Scale·(softmax − one-hot) of each
	// row with a target, zeros for the others.
	DLogits, DLogits16 cuda.DevPtr
	Scale              float32
	// Stats (2·M float64s, optional) keeps each row's max and sum of
	// exponentials: written when Saved is false, read instead of
	// recomputed when true (a backward after the forward that wrote
	// them, over the same logits: the same bits, two passes fewer).
	Stats cuda.DevPtr
	Saved bool
	// NoLoss skips summing the loss and reading it back (no wait for the
	// device); CrossEntropyWith then returns 0, 0.
	NoLoss bool
}

// CrossEntropyWith runs x: it returns the summed loss (float64 sums, rows
// in order) and the counted rows, unless x.NoLoss.
func (d *Device) CrossEntropyWith(x *XEnt) (float64, int, error) {
	M, V := x.M, x.V
	if M < 0 || V < 1 {
		return 0, 0, fmt.Errorf("cudakernels: cross-entropy: bad sizes M %d V %d", M, V)
	}
	if x.Saved && x.Stats == 0 {
		return 0, 0, errors.New("cudakernels: cross-entropy: Saved without Stats")
	}
	if M == 0 {
		return 0, 0, nil
	}
	f, err := d.kernel("loss.cu", "xent_fwd_bwd")
	if err != nil {
		return 0, 0, err
	}
	rows, err := d.Scratch("xent.rows", 8*M+16)
	if err != nil {
		return 0, 0, err
	}
	saved := int32(0)
	if x.Saved {
		saved = 1
	}
	if err := f.Launch(cuda.Dim3{X: M}, cuda.Dim3{X: 256}, 0, nil, x.DLogits, x.DLogits16, rows.Ptr(), x.Stats, saved,
		x.Logits, x.Targets, V, x.Scale); err != nil {
		return 0, 0, err
	}
	if x.NoLoss {
		return 0, 0, nil
	}
	fs, err := d.kernel("loss.cu", "xent_sum")
	if err != nil {
		return 0, 0, err
	}
	out := rows.Ptr() + cuda.DevPtr(8*M)
	if err := fs.Launch(cuda.Dim3{X: 1}, cuda.Dim3{X: 256}, 0, nil, rows.Ptr(), x.Targets, M, out); err != nil {
		return 0, 0, err
	}
	res := make([]byte, 16)
	if err := d.View(out, 16).CopyToBytes(res); err != nil {
		return 0, 0, err
	}
	loss := math.Float64frombits(binary.LittleEndian.Uint64(res[:8]))
	count := math.Float64frombits(binary.LittleEndian.Uint64(res[8:]))
	if math.IsNaN(loss) {
		return loss, int(count), fmt.Errorf("cudakernels: cross-entropy: a target is ≥ V")
	}
	return loss, int(count), nil
}

// AdamW holds the hyperparameters of AdamWStep (backbone.AdamWConfig).
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
}

// AdamWSpan is a run of parameters for AdamWStep: n parameters P with
// gradients G and moments M, V.
type AdamWSpan struct {
	P, G, M, V cuda.DevPtr
	N          int
	// Decay chooses whether these parameters take weight decay.
	Decay bool
	// GradScale holds the factors (at most two, in order) by which G is
	// to be scaled and was not yet: the step reads G as if scaled in
	// place first (the same bits), so the mean over accumulated
	// micro-batches and the clipping cost no pass of their own.
	GradScale []float32
	// P16, when set, receives the updated P rounded to bfloat16 (as
	// ToBF16 rounds): the copy the bf16 products read, made in the same
	// pass.
	P16 cuda.DevPtr
}

// AdamWStep applies one AdamW update (backbone.AdamW.Step) to the span s
// at step t (counting from 1) and learning rate lr.
func (d *Device) AdamWStep(s AdamWSpan, c AdamW, t int, lr float64) error {
	if t < 1 {
		return fmt.Errorf("cudakernels: adamw: step %d, want ≥ 1", t)
	}
	s1, s2, err := twoScales(s.GradScale)
	if err != nil {
		return fmt.Errorf("cudakernels: adamw: %w", err)
	}
	if s.N == 0 {
		return nil
	}
	f, err := d.kernel("adamw.cu", "adamw_step")
	if err != nil {
		return err
	}
	bc1 := 1 - math.Pow(c.Beta1, float64(t))
	bc2 := 1 - math.Pow(c.Beta2, float64(t))
	dec := float32(1)
	if s.Decay {
		dec = float32(1 - lr*c.WeightDecay)
	}
	return f.Launch(d.GridFor(int64(s.N), 256), cuda.Dim3{X: 256}, 0, nil, s.P, s.G, s.M, s.V, s.P16, int64(s.N),
		float32(c.Beta1), float32(c.Beta2), float32(lr/bc1), float32(math.Sqrt(bc2)), float32(c.Eps), dec, s1, s2)
}
