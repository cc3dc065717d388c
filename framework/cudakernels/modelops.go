package cudakernels

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mambakit/mambakit/framework/cuda"
)

// The kernels of kernels/model.cu: what the backbone needs on the GPU
// besides the layer kernels of ops.go and scan.go.

// EmbeddingForward sets out[m, :] = table[ids[m], :] for M rows of C
// columns (kernels.EmbeddingForward); ids is an int32 device array.
func (d *Device) EmbeddingForward(out, table, ids cuda.DevPtr, M, C int) error {
	if M < 0 || C < 1 {
		return fmt.Errorf("cudakernels: embedding: bad sizes M %d C %d", M, C)
	}
	if M == 0 {
		return nil
	}
	f, err := d.kernel("model.cu", "embed_fwd")
	if err != nil {
		return err
	}
	n := int64(M) * int64(C)
	return f.Launch(d.GridFor(n, 256), cuda.Dim3{X: 256}, 0, nil, out, table, ids, int64(M), C)
}

// EmbedIndex groups the rows of a batch by token id for
// EmbeddingBackward: the distinct ids, and for each the rows that hold it
// in ascending order. It is built on the host from the ids of a Forward.
type EmbedIndex struct {
	M, NU int
	buf   []int32 // uids (NU), off (NU+1), pos (M)
}

// NewEmbedIndex groups ids (each in [0, V)): a counting sort, O(M + V),
// which orders the rows of an id as they come, as a stable sort by id
// does (0.26 ms at 16,384 ids of 50,280 on two Xeon cores, where the
// stable sort took 3.5 ms; BenchmarkNewEmbedIndex).
func NewEmbedIndex(ids []int32, V int) (*EmbedIndex, error) {
	M := len(ids)
	if V < 0 {
		return nil, fmt.Errorf("cudakernels: embedding: vocabulary %d", V)
	}
	at := make([]int32, V) // rows of each id, then where its next row goes
	for i, id := range ids {
		if id < 0 || int(id) >= V {
			return nil, fmt.Errorf("cudakernels: embedding: id %d at row %d is outside [0, %d)", id, i, V)
		}
		at[id]++
	}
	NU := 0
	for _, c := range at {
		if c > 0 {
			NU++
		}
	}
	buf := make([]int32, NU+NU+1+M)
	uids, off, pos := buf[:NU], buf[NU:2*NU+1], buf[2*NU+1:]
	k, start := 0, int32(0)
	for id, c := range at {
		if c > 0 {
			uids[k], off[k] = int32(id), start
			k++
		}
		at[id] = start
		start += c
	}
	off[NU] = int32(M)
	for i, id := range ids {
		pos[at[id]] = int32(i)
		at[id]++
	}
	return &EmbedIndex{M: M, NU: NU, buf: buf}, nil
}

// EmbeddingBackward adds dout's rows into dtable (V, C): dtable[ids[m], :]
// += dout[m, :], each id's rows added in row order (no atomics: the same
// bits on every run, and the CPU kernel's order of additions).
func (d *Device) EmbeddingBackward(dtable, dout cuda.DevPtr, ix *EmbedIndex, C int) error {
	if C < 1 {
		return fmt.Errorf("cudakernels: embedding backward: C %d", C)
	}
	if ix == nil || ix.M == 0 {
		return nil
	}
	sc, err := d.Scratch("embed.index", 4*len(ix.buf))
	if err != nil {
		return err
	}
	// A synchronous copy from pageable memory: it waits for the kernels
	// issued before it, so an earlier index in the buffer is not in use.
	if err := sc.CopyFromBytes(cuda.I32Bytes(ix.buf)); err != nil {
		return err
	}
	f, err := d.kernel("model.cu", "embed_bwd")
	if err != nil {
		return err
	}
	blocks := min(ix.NU, 64*max(d.SMs, 1))
	threads := 256
	if C <= 128 {
		threads = 128
	}
	return f.Launch(cuda.Dim3{X: blocks}, cuda.Dim3{X: threads}, 0, nil, dtable, dout, sc.At(0), sc.At(ix.NU), sc.At(2*ix.NU+1), ix.NU, C)
}

// AddMul sets out[i] += x[i]·s[i] for i < n; s = 0 means out[i] += x[i].
func (d *Device) AddMul(out, x, s cuda.DevPtr, n int) error {
	if n < 0 {
		return fmt.Errorf("cudakernels: add: negative length")
	}
	if n == 0 {
		return nil
	}
	f, err := d.kernel("model.cu", "add_mul")
	if err != nil {
		return err
	}
	return f.Launch(d.GridFor(int64(n), 256), cuda.Dim3{X: 256}, 0, nil, out, x, s, int64(n))
}

// NegExp sets out[i] = −exp(x[i]) (A from A_log).
func (d *Device) NegExp(out, x cuda.DevPtr, n int) error {
	if n <= 0 {
		return nil
	}
	f, err := d.kernel("model.cu", "neg_exp")
	if err != nil {
		return err
	}
	return f.Launch(d.GridFor(int64(n), 256), cuda.Dim3{X: 256}, 0, nil, out, x, int64(n))
}

// Cols is a block of w columns at column Off of an (M, LD) float32 matrix
// at P.
type Cols struct {
	P          cuda.DevPtr
	LD, Off, W int
}

// CopyCols copies block src into dst, M rows (the same width).
func (d *Device) CopyCols(dst, src Cols, M int) error {
	if src.W != dst.W || M < 0 || src.W < 0 || src.Off < 0 || dst.Off < 0 || src.Off+src.W > src.LD || dst.Off+dst.W > dst.LD {
		return fmt.Errorf("cudakernels: copy columns: %d columns at %d of %d into %d at %d of %d", src.W, src.Off, src.LD, dst.W, dst.Off, dst.LD)
	}
	n := int64(M) * int64(src.W)
	if n == 0 {
		return nil
	}
	f, err := d.kernel("model.cu", "copy_cols")
	if err != nil {
		return err
	}
	return f.Launch(d.GridFor(n, 256), cuda.Dim3{X: 256}, 0, nil, dst.P, dst.LD, dst.Off, src.P, src.LD, src.Off, src.W, int64(M))
}

// Scale sets x[i] *= f for i < n.
func (d *Device) Scale(x cuda.DevPtr, f float32, n int) error {
	if n <= 0 {
		return nil
	}
	k, err := d.kernel("model.cu", "scale_f")
	if err != nil {
		return err
	}
	return k.Launch(d.GridFor(int64(n), 256), cuda.Dim3{X: 256}, 0, nil, x, f, int64(n))
}

// sumSqBlocks is the number of partial sums of SumSquares (fixed, so the
// result does not depend on the device).
const sumSqBlocks = 512

// SumSquares returns Σ y[i]² over n floats, in double (per-block partials
// added on the host in block order: the same bits on every run), where y
// is x scaled by the factors in scale (at most two, in order, each product
// rounded to float32: the bits of scaling x in place first; none: y = x).
// It waits for the device.
func (d *Device) SumSquares(x cuda.DevPtr, n int, scale ...float32) (float64, error) {
	s1, s2, err := twoScales(scale)
	if err != nil {
		return 0, fmt.Errorf("cudakernels: sum of squares: %w", err)
	}
	if n <= 0 {
		return 0, nil
	}
	f, err := d.kernel("model.cu", "sumsq_part")
	if err != nil {
		return 0, err
	}
	part, err := d.Scratch("sumsq.part", 8*sumSqBlocks)
	if err != nil {
		return 0, err
	}
	if err := f.Launch(cuda.Dim3{X: sumSqBlocks}, cuda.Dim3{X: 256}, 0, nil, x, int64(n), part.Ptr(), s1, s2); err != nil {
		return 0, err
	}
	raw := make([]byte, 8*sumSqBlocks)
	if err := part.CopyToBytes(raw); err != nil {
		return 0, err
	}
	var s float64
	for i := 0; i < sumSqBlocks; i++ {
		s += math.Float64frombits(binary.LittleEndian.Uint64(raw[8*i:]))
	}
	return s, nil
}

// twoScales returns the factors of scale (at most two; missing ones are 1).
func twoScales(scale []float32) (s1, s2 float32, err error) {
	if len(scale) > 2 {
		return 0, 0, fmt.Errorf("%d scale factors, at most 2", len(scale))
	}
	s := [2]float32{1, 1}
	copy(s[:], scale)
	return s[0], s[1], nil
}
