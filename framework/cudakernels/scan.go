package cudakernels

import (
	"fmt"
	"os"
	"strconv"

	"github.com/mambakit/mambakit/framework/cuda"
)

// ScanChunk is the number of steps between the states the GPU forward scan
// saves for the backward pass (the T of kernels/scan.go); ScanChunkComplex
// for a complex scan.
const (
	ScanChunk        = 64
	ScanChunkComplex = 32
	scanDT           = 32  // channels per block
	scanThreads      = 128 // threads per block
	scanMaxN         = 64
)

// Scan is the selective scan of kernels.Scan on device memory: the same
// fields, shapes and semantics (see framework/kernels/scan.go), with
// device addresses; 0 marks an absent optional input or output. Reset is a
// (B, L) array of bytes, 0 or 1. Saved has the GPU's own layout,
// (B, ⌈L/ScanChunk⌉, D, N) (2N and ScanChunkComplex when complex): use
// ScanSavedLen for its length.
type Scan struct {
	B, L, D, N int

	U, Delta, DeltaBias cuda.DevPtr
	A                   cuda.DevPtr
	Bm, Cm              cuda.DevPtr
	Dskip, Z            cuda.DevPtr
	Reset               cuda.DevPtr
	H0                  cuda.DevPtr

	BPerChannel, CPerChannel bool
	AImag, BImag, CImag      cuda.DevPtr

	Y, HT, Saved cuda.DevPtr
	// Y16, when set, receives Y rounded to bfloat16 (as ToBF16 rounds
	// it): the operand a bf16 product reads.
	Y16 cuda.DevPtr

	// U16, Delta16 and Z16 are U, Delta and Z as bfloat16 bits (2 bytes
	// an element), in place of the float32 field (set one of the two):
	// what a bf16 model keeps. The scan widens each element as it loads
	// it and runs in float32 from there, so its results are those of the
	// float32 fields holding the same values, bit for bit.
	U16, Delta16, Z16 cuda.DevPtr
}

// u, delta and z are the scan's (B, L, D) inputs, float32 or bfloat16
// (the module's U16, DL16 and Z16 say which; check refuses both).
func (s *Scan) u() cuda.DevPtr     { return either(s.U, s.U16) }
func (s *Scan) delta() cuda.DevPtr { return either(s.Delta, s.Delta16) }
func (s *Scan) z() cuda.DevPtr     { return either(s.Z, s.Z16) }

func either(f32, b16 cuda.DevPtr) cuda.DevPtr {
	if f32 != 0 {
		return f32
	}
	return b16
}

// ScanGrads are the gradients of a Scan, as kernels.ScanGrads; 0 skips an
// output. DY is required, DHT optional.
type ScanGrads struct {
	DY, DHT cuda.DevPtr

	DU, DDelta, DDeltaBias cuda.DevPtr
	DA                     cuda.DevPtr
	DBm, DCm               cuda.DevPtr
	DDskip, DZ             cuda.DevPtr
	DH0                    cuda.DevPtr
	// Complex scans: the gradients w.r.t. AImag (D, N), BImag and CImag
	// (the shapes of Bm, Cm); DA is then w.r.t. the real part of A, and
	// DHT, DH0 hold N real then N imaginary parts per (b, d).
	DAImag, DBImag, DCImag cuda.DevPtr
	// DDelta16 and DZ16, when set, receive DDelta and DZ rounded to
	// bfloat16 (DDelta and DZ may then be 0): the operands bf16 products
	// read.
	DDelta16, DZ16 cuda.DevPtr
}

// ScanSavedLen is the number of float32s of Scan.Saved.
func ScanSavedLen(B, L, D, N int, complex bool) int {
	if complex {
		return B * ((L + ScanChunkComplex - 1) / ScanChunkComplex) * D * 2 * N
	}
	return B * ((L + ScanChunk - 1) / ScanChunk) * D * N
}

func (s *Scan) check() error {
	if s.B < 0 || s.L < 0 || s.D < 0 || s.N < 1 {
		return fmt.Errorf("cudakernels: scan: bad sizes B %d L %d D %d N %d", s.B, s.L, s.D, s.N)
	}
	if s.N > scanMaxN {
		return fmt.Errorf("cudakernels: scan: N %d over %d", s.N, scanMaxN)
	}
	if int64(s.B)*int64(s.L)*int64(s.D)*2 > 1<<62 || s.L > 1<<30 {
		return fmt.Errorf("cudakernels: scan: too large")
	}
	for _, p := range []struct {
		name string
		v    cuda.DevPtr
	}{{"U or U16", s.u()}, {"Delta or Delta16", s.delta()}, {"A", s.A}, {"Bm", s.Bm}, {"Cm", s.Cm}, {"Y", s.Y}} {
		if p.v == 0 {
			return fmt.Errorf("cudakernels: scan: %s is required", p.name)
		}
	}
	for _, p := range []struct {
		name     string
		f32, b16 cuda.DevPtr
	}{{"U", s.U, s.U16}, {"Delta", s.Delta, s.Delta16}, {"Z", s.Z, s.Z16}} {
		if p.f32 != 0 && p.b16 != 0 {
			return fmt.Errorf("cudakernels: scan: both %s and %s16 given", p.name, p.name)
		}
	}
	if s.AImag == 0 && (s.BImag != 0 || s.CImag != 0) {
		return fmt.Errorf("cudakernels: scan: BImag or CImag without AImag")
	}
	return nil
}

func b01(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// scanMinBlocks is $MAMBAKIT_CUDA_SCAN_MINB, a tuning knob: the blocks
// of scan_bwd a multiprocessor should hold (its register cap); empty for
// the kernel's default.
var scanMinBlocks = os.Getenv("MAMBAKIT_CUDA_SCAN_MINB")

// scanPlan is $MAMBAKIT_CUDA_SCAN_PLAN, a tuning knob: "seq" or "chunks"
// forces a plan of real scans (see Device.scanSeq); empty chooses by size.
var scanPlan = os.Getenv("MAMBAKIT_CUDA_SCAN_PLAN")

// scanSeq reports whether a forward scan runs in one launch, each block
// walking its chunks in turn (scan_fwd_seq), rather than every chunk in
// parallel with the state carried between them by two more launches. The
// one launch reads the inputs once and takes one exponential a step
// instead of two, but has only B·⌈D/32⌉ blocks: it needs a batch that
// fills the GPU alone. It won at 256 and 384 blocks on 132
// multiprocessors (docs/gpu.md), hence the bar of 1.5 a multiprocessor.
// Complex scans always use chunks. (A backward pass of the same shape,
// each block carrying the state gradient back through its chunks, lost
// to the chunks at both sizes and was dropped.)
func (d *Device) scanSeq(s *Scan) bool {
	if s.AImag != 0 {
		return false
	}
	switch scanPlan {
	case "seq":
		return true
	case "chunks":
		return false
	}
	nx := (s.D + scanDT - 1) / scanDT
	return 2*s.B*nx >= 3*d.SMs
}

// ScanPlan names the plan ScanForward takes for s: "one launch" (each
// block walks its chunks) or "chunks" (every chunk in parallel, the state
// carried across by separate launches). ScanBackward always runs chunks.
func (d *Device) ScanPlan(s *Scan) string {
	if d.scanSeq(s) {
		return "one launch"
	}
	return "chunks"
}

// file is the scan's module: kernels/scan_real.cu, or
// kernels/scan_complex.cu when A is complex. Both define the kernels
// scanKernels names.
func (s *Scan) file() string {
	if s.AImag != 0 {
		return "scan_complex.cu"
	}
	return "scan_real.cu"
}

// scanKernels are the kernels ScanForward and ScanBackward look up in a
// scan module.
var scanKernels = []string{"scan_fwd_local", "scan_fwd_carry", "scan_fwd_out", "scan_bwd_local", "scan_bwd_carry", "scan_bwd", "scan_bwd_bc"}

// scanSeqKernels are the one-launch kernels of the real scan module.
var scanSeqKernels = []string{"scan_fwd_seq"}

func (s *Scan) defines() []string {
	defs := []string{"SCAN_N=" + strconv.Itoa(s.N), "B_PC=" + b01(s.BPerChannel), "C_PC=" + b01(s.CPerChannel)}
	for _, in := range []struct {
		def string
		on  bool
	}{{"U16=1", s.U16 != 0}, {"DL16=1", s.Delta16 != 0}, {"Z16=1", s.Z16 != 0}} {
		if in.on {
			defs = append(defs, in.def)
		}
	}
	if n, err := strconv.Atoi(scanMinBlocks); err == nil && n >= 1 && n <= 16 {
		defs = append(defs, "BWD_MINB="+strconv.Itoa(n))
	}
	return defs
}

// scanChunks returns the chunk length and count of a scan.
func (s *Scan) scanChunks() (T, nc int) {
	T = ScanChunk
	if s.AImag != 0 {
		T = ScanChunkComplex
	}
	return T, (s.L + T - 1) / T
}

// scanFwdOutShared is the dynamic shared memory of scan_fwd_out
// (FO_FLOATS of kernels/scan_common.cuh), in bytes.
func scanFwdOutShared(n int, complex bool) int {
	T, nbc := ScanChunk, 2
	if complex {
		T, nbc = ScanChunkComplex, 4
	}
	np := (n + 3) / 4 * 4
	return 4 * (2*T*scanDT + nbc*T*np + T/4 + 1)
}

// scanFwdSeqShared is the dynamic shared memory of scan_fwd_seq
// (FS_FLOATS of kernels/scan_real.cu), in bytes.
func (s *Scan) scanFwdSeqShared() int {
	T, np := ScanChunk, (s.N+3)/4*4
	tb, tc := T, T
	if s.BPerChannel {
		tb = 1
	}
	if s.CPerChannel {
		tc = 1
	}
	return 4 * (3*T*scanDT + (tb+tc)*np + T/4 + 1)
}

// ScanForward runs the scan's forward pass: Y, and HT and Saved when set.
// Large batches take one launch (scan_fwd_seq, see Device.scanSeq);
// otherwise three: every chunk from a zero state (in parallel), the carry
// of the state across chunks, every chunk again from its true start state
// (see kernels/scan_common.cuh).
func (d *Device) ScanForward(s *Scan) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.B == 0 || s.D == 0 {
		return nil
	}
	defs := s.defines()
	m, err := d.module(s.file(), defs...)
	if err != nil {
		return err
	}
	B, L, D, N := s.B, s.L, s.D, s.N
	if d.scanSeq(s) {
		f, err := m.Function("scan_fwd_seq")
		if err != nil {
			return err
		}
		return f.Launch(cuda.Dim3{X: (D + scanDT - 1) / scanDT, Y: B}, cuda.Dim3{X: scanThreads}, s.scanFwdSeqShared(), nil,
			s.u(), s.delta(), s.DeltaBias, s.A, s.Bm, s.Cm, s.Dskip, s.z(), s.Reset, s.H0, s.Saved, s.HT, s.Y, s.Y16, L, D)
	}
	sn := N
	if s.AImag != 0 {
		sn = 2 * N
	}
	_, nc := s.scanChunks()
	nx := (D + scanDT - 1) / scanDT
	saved := s.Saved
	if saved == 0 {
		buf, err := d.Scratch("scan.saved", 4*B*nc*D*sn)
		if err != nil {
			return err
		}
		saved = buf.Ptr()
	}
	hloc, err := d.Scratch("scan.hloc", 4*B*nc*D*sn)
	if err != nil {
		return err
	}
	ssum, err := d.Scratch("scan.ssum", 4*B*nc*D)
	if err != nil {
		return err
	}
	grid := cuda.Dim3{X: nx * nc, Y: B}
	if nc > 0 {
		f, err := m.Function("scan_fwd_local")
		if err != nil {
			return err
		}
		if err := f.Launch(grid, cuda.Dim3{X: scanThreads}, 0, nil,
			s.u(), s.delta(), s.DeltaBias, s.A, s.AImag, s.Bm, s.BImag, s.Reset, hloc, ssum, L, D); err != nil {
			return err
		}
	}
	fc, err := m.Function("scan_fwd_carry")
	if err != nil {
		return err
	}
	bdn := int64(B) * int64(D) * int64(N)
	if err := fc.Launch(cuda.Dim3{X: int((bdn + 127) / 128)}, cuda.Dim3{X: 128}, 0, nil,
		hloc, ssum, s.A, s.AImag, s.H0, saved, s.HT, B, D, nc); err != nil {
		return err
	}
	if nc == 0 {
		return nil
	}
	fo, err := m.Function("scan_fwd_out")
	if err != nil {
		return err
	}
	return fo.Launch(grid, cuda.Dim3{X: scanThreads}, scanFwdOutShared(N, s.AImag != 0), nil,
		s.u(), s.delta(), s.DeltaBias, s.A, s.AImag, s.Bm, s.BImag, s.Cm, s.CImag, s.Dskip, s.z(), s.Reset,
		saved, s.Y, s.Y16, L, D)
}

// scanBwdShared is the dynamic shared memory of scan_bwd for state size n
// (SH_FLOATS of kernels/scan_common.cuh), in bytes.
func scanBwdShared(n int, complex bool) int {
	npt := (n + 3) / 4
	np := npt * 4
	T, nbc, vals := ScanChunk, 2, 2*npt
	if complex {
		T, nbc, vals = ScanChunkComplex, 4, 4*npt
	}
	vp := 8
	for vp < vals {
		vp *= 2
	}
	const sub, nw, ng = 8, scanThreads / 32, 4
	floats := 5*T*scanDT + nbc*T*np + nw*sub*ng*vp + T/4 + 1
	return 4 * floats
}

// ScanBackward computes the gradients of the scan from g.DY (and g.DHT)
// and the states Saved by ScanForward. Like the forward pass it runs
// every chunk in parallel, after carrying the state gradient across
// chunks. The sums over channels (dB, dC) and over batch rows and chunks
// (dA, dD, dΔbias, per-channel dB and dC) go through partials in scratch
// memory, added in a fixed order: the result does not depend on timing.
func (d *Device) ScanBackward(s *Scan, g *ScanGrads) error {
	if err := s.check(); err != nil {
		return err
	}
	if s.Saved == 0 && s.L > 0 {
		return fmt.Errorf("cudakernels: scan backward needs the Saved states of the forward pass")
	}
	if g.DY == 0 {
		return fmt.Errorf("cudakernels: scan backward: DY is required")
	}
	if (g.DZ != 0 || g.DZ16 != 0) && s.z() == 0 {
		return fmt.Errorf("cudakernels: scan backward: DZ given but the forward had no gate Z")
	}
	B, L, D, N := s.B, s.L, s.D, s.N
	if B == 0 || D == 0 {
		return nil
	}
	defs := s.defines()
	m, err := d.module(s.file(), defs...)
	if err != nil {
		return err
	}
	_, nc := s.scanChunks()
	nx := (D + scanDT - 1) / scanDT
	cplx := s.AImag != 0
	sn, nbc := N, 2
	if cplx {
		sn, nbc = 2*N, 4
	}
	bcdn, bcd := B*nc*D*N, B*nc*D
	dloc, err := d.Scratch("scan.dloc", 4*B*nc*D*sn)
	if err != nil {
		return err
	}
	dcin, err := d.Scratch("scan.dcin", 4*B*nc*D*sn)
	if err != nil {
		return err
	}
	ssum, err := d.Scratch("scan.ssum", 4*bcd)
	if err != nil {
		return err
	}
	grid := cuda.Dim3{X: nx * nc, Y: B}
	if nc > 0 {
		f, err := m.Function("scan_bwd_local")
		if err != nil {
			return err
		}
		if err := f.Launch(grid, cuda.Dim3{X: scanThreads}, 0, nil,
			s.delta(), s.DeltaBias, s.A, s.AImag, s.Cm, s.CImag, s.z(), s.Reset, g.DY, dloc, ssum, L, D); err != nil {
			return err
		}
	}
	fc, err := m.Function("scan_bwd_carry")
	if err != nil {
		return err
	}
	bdn := int64(B) * int64(D) * int64(N)
	if err := fc.Launch(cuda.Dim3{X: int((bdn + 127) / 128)}, cuda.Dim3{X: 128}, 0, nil, dloc, ssum, s.A, s.AImag, g.DHT, dcin, g.DH0, B, D, nc); err != nil {
		return err
	}
	// Scratch: pBC (nx, B, L, nbc·N) when B or C is selective; (B, nc, D)
	// pSkip, pBias; (B, nc, D, N) pA, and when they apply pAi, the
	// per-channel pBpc, pBpci, pCpc, pCpci.
	selB := !s.BPerChannel && (g.DBm != 0 || g.DBImag != 0)
	selC := !s.CPerChannel && (g.DCm != 0 || g.DCImag != 0)
	var pBC cuda.DevPtr
	if selB || selC {
		buf, err := d.Scratch("scan.pBC", 4*nx*B*L*nbc*N)
		if err != nil {
			return err
		}
		pBC = buf.Ptr()
	}
	var parts []*cuda.DevPtr
	var pA, pAi, pBpc, pBpci, pCpc, pCpci cuda.DevPtr
	parts = append(parts, &pA)
	if cplx {
		parts = append(parts, &pAi)
	}
	if s.BPerChannel {
		parts = append(parts, &pBpc)
		if cplx {
			parts = append(parts, &pBpci)
		}
	}
	if s.CPerChannel {
		parts = append(parts, &pCpc)
		if cplx {
			parts = append(parts, &pCpci)
		}
	}
	red, err := d.Scratch("scan.partials", 4*(len(parts)*bcdn+2*bcd))
	if err != nil {
		return err
	}
	pSkip, pBias := red.At(0), red.At(bcd)
	for i, p := range parts {
		*p = red.At(2*bcd + i*bcdn)
	}
	if nc > 0 {
		f, err := m.Function("scan_bwd")
		if err != nil {
			return err
		}
		if err := f.Launch(grid, cuda.Dim3{X: scanThreads}, scanBwdShared(N, cplx), nil,
			s.u(), s.delta(), s.DeltaBias, s.A, s.AImag, s.Bm, s.BImag, s.Cm, s.CImag, s.Dskip, s.z(), s.Reset, s.Saved, dcin, g.DY,
			g.DU, g.DDelta, g.DZ, g.DDelta16, g.DZ16, pBC, pA, pAi, pSkip, pBias, pBpc, pBpci, pCpc, pCpci, L, D); err != nil {
			return err
		}
	}
	if pBC != 0 {
		fr, err := m.Function("scan_bwd_bc")
		if err != nil {
			return err
		}
		var dB, dBi, dC, dCi cuda.DevPtr
		if selB {
			dB, dBi = g.DBm, g.DBImag
		}
		if selC {
			dC, dCi = g.DCm, g.DCImag
		}
		bl := int64(B) * int64(L)
		if err := fr.Launch(d.GridFor(bl*int64(nbc*N), 256), cuda.Dim3{X: 256}, 0, nil, pBC, nx, bl, dB, dBi, dC, dCi); err != nil {
			return err
		}
	}
	rows := B * nc
	sum := func(part cuda.DevPtr, cols int, out cuda.DevPtr) error {
		if out == 0 {
			return nil
		}
		return d.sumRows(part, rows, cols, out, false)
	}
	if err := sum(pA, D*N, g.DA); err != nil {
		return err
	}
	if cplx {
		if err := sum(pAi, D*N, g.DAImag); err != nil {
			return err
		}
	}
	if err := sum(pSkip, D, g.DDskip); err != nil {
		return err
	}
	if err := sum(pBias, D, g.DDeltaBias); err != nil {
		return err
	}
	if s.BPerChannel {
		if err := sum(pBpc, D*N, g.DBm); err != nil {
			return err
		}
		if cplx {
			if err := sum(pBpci, D*N, g.DBImag); err != nil {
				return err
			}
		}
	}
	if s.CPerChannel {
		if err := sum(pCpc, D*N, g.DCm); err != nil {
			return err
		}
		if cplx {
			if err := sum(pCpci, D*N, g.DCImag); err != nil {
				return err
			}
		}
	}
	return nil
}

// sumRows sets out[i] = Σ_r part[r·cols + i] (or adds it to out), the
// rows added in a fixed order (sum_rows, kernels/util.cu).
func (d *Device) sumRows(part cuda.DevPtr, rows, cols int, out cuda.DevPtr, accumulate bool) error {
	f, err := d.kernel("util.cu", "sum_rows")
	if err != nil {
		return err
	}
	acc := 0
	if accumulate {
		acc = 1
	}
	if cols == 0 {
		return nil
	}
	return f.Launch(cuda.Dim3{X: (cols + 31) / 32}, cuda.Dim3{X: 32, Y: 32}, 0, nil, part, rows, int64(cols), out, acc)
}

// FillUniform fills n float32s at p with uniform values in [lo, hi) from
// a hash of (seed, index), on the device.
func (d *Device) FillUniform(p cuda.DevPtr, n int64, seed uint32, lo, hi float32) error {
	f, err := d.kernel("util.cu", "fill_uniform")
	if err != nil {
		return err
	}
	return f.Launch(d.GridFor(n, 256), cuda.Dim3{X: 256}, 0, nil, p, n, seed, lo, hi)
}
