package cudakernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/mambakit/mambakit/framework/cuda"
)

// StepPersist is a one-row step's products and scan steps, after
// StepEmbed, as one launch of step_persist (kernels/step.cu): the early
// kernels' bodies (StepGEMV's step_gemv_e or step_gemv_e16, StepScan's
// step_scan_e) run one after another in blocks that stay resident (a
// cooperative launch), with a barrier over the grid between them where
// the early kernels have a kernel boundary. Each phase loads its weights
// (and what else no phase of the step writes) before its barrier, as the
// early kernels do before griddepcontrol.wait.
//
// Add the operations in the order the step runs them, then Run once per
// step. The records (every pointer and size of every operation) go to
// the device at the first Run and are read from there by every launch,
// so a StepPersist is built once for buffers and parameters that do not
// move, and Run can be captured into a graph.
type StepPersist struct {
	V        StepVariant
	IO       cuda.DevPtr // the step's IO array (StepIOLen(1) int32s)
	Argmax   cuda.DevPtr // the argmax key of the head (EpiArgmax), cleared by StepEmbed
	Barrier  cuda.DevPtr // 4 bytes, zero before the first Run, used by no other StepPersist
	Blocks   int         // blocks of the grid; 0: as many as the device holds at once (MaxCooperativeBlocks)
	words    []uint64
	maxK     int
	bf16     int // 0 unset, 1 float32 weights, 2 bfloat16
	table    *cuda.Buffer
	grid     int
	din      int // the widest scan: its 8 channels a block need Din/8 blocks
	kernelFn *cuda.Function
}

// Records of step_persist (SP_WORDS words each; SP_GEMV, SP_SCAN).
const (
	spWords = 32
	spGEMV  = 1
	spScan  = 2
)

// stepPersistThreads is step_persist's block: the early kernels' 128.
const stepPersistThreads = 128

// AddGEMV appends g, which must take the early one-row kernel (V.Early,
// one row, K a multiple of 4 up to 1536): float32 or bfloat16 weights,
// the same for every product of the step.
func (p *StepPersist) AddGEMV(g *StepGEMV) error {
	if err := g.check(); err != nil {
		return err
	}
	if !g.early() {
		return fmt.Errorf("cudakernels: persistent step: a product of %d rows, K %d is not the early one-row kernel's (V.Early %v, K a multiple of 4 up to %d)",
			g.B, g.K, g.V.Early, stepEarlyMaxK)
	}
	kind, w := 1, g.W
	if g.W16 != 0 {
		kind, w = 2, g.W16
	}
	if p.bf16 != 0 && p.bf16 != kind {
		return fmt.Errorf("cudakernels: persistent step: every product must read the same weights, float32 or bfloat16")
	}
	p.bf16 = kind
	p.maxK = max(p.maxK, g.K)
	l2 := g.V.l2Args(g.L2)
	r := []uint64{spGEMV, uint64(w), uint64(g.X), uint64(g.NormW), uint64(math.Float32bits(g.Eps)), uint64(g.N), uint64(g.K),
		uint64(g.Out), uint64(g.Epi), uint64(g.Out2), uint64(g.ConvW), uint64(g.ConvB), uint64(g.ConvState), uint64(g.Din),
		uint64(g.Kc), uint64(l2[0].(cuda.DevPtr)), uint64(l2[1].(int64)), uint64(l2[2].(cuda.DevPtr)), uint64(l2[3].(int64))}
	return p.add(r)
}

// AddScan appends c, which must take the early one-row kernel
// (step_scan_e: V.Early, one row, R ≤ 64, no Y16).
func (p *StepPersist) AddScan(c *StepScan) error {
	if err := c.check(); err != nil {
		return err
	}
	if c.kernel(0) != "step_scan_e" || c.Y16 != 0 {
		return fmt.Errorf("cudakernels: persistent step: a scan step of %d rows, R %d is not the early one-row kernel's (V.Early %v, R ≤ 64, no Y16)",
			c.B, c.R, c.V.Early)
	}
	dt16 := uint64(0)
	if c.DtBF16 {
		dt16 = 1
	}
	p.din = max(p.din, c.D)
	l2 := c.V.l2Args(c.L2)
	r := []uint64{spScan, uint64(c.U), uint64(c.Z), uint64(c.D), uint64(c.N), uint64(c.DtLow), uint64(c.DtW), uint64(c.R),
		uint64(c.DtBias), uint64(c.ALog), uint64(c.AImag), uint64(c.Bm), uint64(c.BImag), uint64(c.LDB), uint64(c.Cm),
		uint64(c.CImag), uint64(c.LDC), uint64(c.Dskip), uint64(c.H), uint64(c.Y), dt16,
		uint64(l2[0].(cuda.DevPtr)), uint64(l2[1].(int64)), uint64(l2[2].(cuda.DevPtr)), uint64(l2[3].(int64))}
	return p.add(r)
}

func (p *StepPersist) add(r []uint64) error {
	if p.table != nil {
		return fmt.Errorf("cudakernels: persistent step: an operation added after the first Run")
	}
	w := make([]uint64, spWords)
	copy(w, r)
	p.words = append(p.words, w...)
	return nil
}

// Ops is the number of operations added.
func (p *StepPersist) Ops() int { return len(p.words) / spWords }

// Grid is the number of blocks of the last Run (0 before it).
func (p *StepPersist) Grid() int { return p.grid }

// Run issues the step's operations on s as one cooperative launch
// (Prepare first, if not done).
func (p *StepPersist) Run(d *Device, s *cuda.Stream) error {
	if err := p.Prepare(d); err != nil {
		return err
	}
	return p.kernelFn.LaunchCooperative(cuda.Dim3{X: p.grid}, cuda.Dim3{X: stepPersistThreads}, 4*p.maxK, s,
		p.table.Ptr(), p.Ops(), p.IO, p.Argmax, p.Barrier)
}

// Prepare compiles the kernel, sizes the grid and uploads the records,
// once: after the last Add, before any graph capture. Blocks past what
// the device holds at once, or too few for the widest scan step (8
// channels a block), are an error.
func (p *StepPersist) Prepare(d *Device) error {
	if p.table != nil {
		return nil
	}
	if err := p.V.checkAny(1); err != nil {
		return err
	}
	if !p.V.Persist {
		return fmt.Errorf("cudakernels: persistent step: the variant %v is not the persistent form", p.V)
	}
	if p.Ops() == 0 || p.IO == 0 || p.Barrier == 0 {
		return fmt.Errorf("cudakernels: persistent step: %d operations, IO and Barrier required", p.Ops())
	}
	name := "step_persist"
	if p.bf16 == 2 {
		name = "step_persist16"
	}
	f, err := d.stepKernel(p.V, name)
	if err != nil {
		return err
	}
	most, err := f.MaxCooperativeBlocks(stepPersistThreads, 4*p.maxK)
	if err != nil {
		return err
	}
	grid := most
	if p.Blocks > 0 {
		grid = p.Blocks
	} else if v := os.Getenv("MAMBAKIT_CUDA_STEP_PERSIST_BLOCKS"); v != "" {
		if grid, err = strconv.Atoi(v); err != nil || grid < 1 {
			return fmt.Errorf("cudakernels: persistent step: $MAMBAKIT_CUDA_STEP_PERSIST_BLOCKS=%q: want a number of blocks ≥ 1", v)
		}
	}
	need := (p.din*16 + stepPersistThreads - 1) / stepPersistThreads
	if grid > most || grid < need {
		return fmt.Errorf("cudakernels: persistent step: %d blocks: the device holds %d of step_persist at once (%d registers a thread) and the scan step of %d channels needs %d",
			grid, most, f.Regs, p.din, need)
	}
	b := make([]byte, 8*len(p.words))
	for i, w := range p.words {
		binary.LittleEndian.PutUint64(b[8*i:], w)
	}
	t, err := d.Alloc(len(b))
	if err != nil {
		return err
	}
	if err := t.CopyFromBytes(b); err != nil {
		t.Free()
		return err
	}
	p.table, p.grid, p.kernelFn = t, grid, f
	return nil
}

// Close frees the records on the device; a nil StepPersist is left
// alone.
func (p *StepPersist) Close() error {
	if p == nil {
		return nil
	}
	err := p.table.Free()
	p.table = nil
	return err
}
