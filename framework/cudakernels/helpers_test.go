package cudakernels

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/kernels"
)

// The GPU tests compare every kernel with the CPU kernels of
// framework/kernels on random inputs, with NaN-poisoned outputs. Each
// comparison is logged and, when $MAMBAKIT_CUDA_REPORT names a file,
// appended there as a tab-separated row (kernel, shape, relative error,
// tolerance, ok) for scripts/gpu/check.sh to print as a table.

var (
	devOnce sync.Once
	dev     *Device
	devErr  error
)

// openOrSkip returns the shared test device, or skips the test with the
// reason (on a machine without a GPU: the one line of ErrNoDriver).
func openOrSkip(t testing.TB) *Device {
	t.Helper()
	devOnce.Do(func() {
		var cd *cuda.Device
		cd, devErr = cuda.Open()
		if devErr == nil {
			dev = New(cd)
			fmt.Fprintf(os.Stderr, "cuda: %s\n", dev)
		}
	})
	if devErr != nil {
		if errors.Is(devErr, cuda.ErrNoDriver) {
			t.Skip(devErr.Error())
		}
		t.Fatalf("cuda: open: %v", devErr)
	}
	return dev
}

var reportMu sync.Mutex

// report records one comparison and fails the test when err is not below
// tol (NaN never passes).
func report(t *testing.T, kernel, shape string, err, tol float64) {
	t.Helper()
	ok := err <= tol && !math.IsNaN(err)
	status := "pass"
	if !ok {
		status = "FAIL"
	}
	t.Logf("%-28s %-40s rel err %.3g (tol %.0e) %s", kernel, shape, err, tol, status)
	if p := os.Getenv("MAMBAKIT_CUDA_REPORT"); p != "" {
		reportMu.Lock()
		f, e := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if e == nil {
			fmt.Fprintf(f, "%s\t%s\t%.3g\t%.0e\t%s\n", kernel, shape, err, tol, status)
			f.Close()
		}
		reportMu.Unlock()
	}
	if !ok {
		t.Errorf("%s %s: relative error %.3g over %.0e", kernel, shape, err, tol)
	}
}

// relErr is ‖got − want‖ / ‖want‖ in float64 (the absolute norm when want
// is zero); NaN when got holds a NaN (an unwritten, poisoned element).
func relErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.NaN()
	}
	var num, den float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.NaN()
		}
		num += (g - w) * (g - w)
		den += w * w
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func rnd(r *rand.Rand, n int, lo, hi float32) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = lo + (hi-lo)*r.Float32()
	}
	return x
}

const nanBits = 0x7fc00000

// devBufs owns the device buffers of one test.
type devBufs struct {
	t    *testing.T
	d    *Device
	bufs []*cuda.Buffer
}

func newDevBufs(t *testing.T, d *Device) *devBufs {
	b := &devBufs{t: t, d: d}
	t.Cleanup(func() {
		for _, x := range b.bufs {
			x.Free()
		}
	})
	return b
}

// in uploads x (nil: returns 0, an absent optional input).
func (b *devBufs) in(x []float32) cuda.DevPtr {
	if x == nil {
		return 0
	}
	buf, err := b.d.UploadF32(x)
	if err != nil {
		b.t.Fatal(err)
	}
	b.bufs = append(b.bufs, buf)
	return buf.Ptr()
}

// bf16 uploads x rounded to bfloat16 (kernels.ToBF16), 2 bytes an element.
func (b *devBufs) bf16(x []float32) cuda.DevPtr {
	h := make([]uint16, len(x))
	kernels.ToBF16(h, x)
	buf, err := b.d.UploadBF16(h)
	if err != nil {
		b.t.Fatal(err)
	}
	b.bufs = append(b.bufs, buf)
	return buf.Ptr()
}

func (b *devBufs) bools(x []bool) cuda.DevPtr {
	if x == nil {
		return 0
	}
	buf, err := b.d.Alloc(len(x))
	if err != nil {
		b.t.Fatal(err)
	}
	b.bufs = append(b.bufs, buf)
	if err := buf.CopyFromBool(x); err != nil {
		b.t.Fatal(err)
	}
	return buf.Ptr()
}

func (b *devBufs) ints(x []int32) cuda.DevPtr {
	buf, err := b.d.Alloc(4 * len(x))
	if err != nil {
		b.t.Fatal(err)
	}
	b.bufs = append(b.bufs, buf)
	if err := buf.CopyFromI32(x); err != nil {
		b.t.Fatal(err)
	}
	return buf.Ptr()
}

// out allocates n float32s filled with NaN.
func (b *devBufs) out(n int) *cuda.Buffer {
	buf, err := b.d.AllocF32(n)
	if err != nil {
		b.t.Fatal(err)
	}
	b.bufs = append(b.bufs, buf)
	if n > 0 {
		if err := buf.Fill32(nanBits); err != nil {
			b.t.Fatal(err)
		}
	}
	return buf
}

// get synchronizes and copies n float32s back.
// bf16Get returns the n bfloat16s at the start of buf, as bits.
func (b *devBufs) bf16Get(buf *cuda.Buffer, n int) []uint16 {
	if err := b.d.Synchronize(); err != nil {
		b.t.Fatal(err)
	}
	raw := make([]byte, buf.Bytes())
	if err := buf.CopyToBytes(raw); err != nil {
		b.t.Fatal(err)
	}
	x := make([]uint16, n)
	for i := range x {
		x[i] = uint16(raw[2*i]) | uint16(raw[2*i+1])<<8
	}
	return x
}

func (b *devBufs) get(buf *cuda.Buffer, n int) []float32 {
	if err := b.d.Synchronize(); err != nil {
		b.t.Fatal(err)
	}
	x := make([]float32, n)
	if err := buf.CopyToF32(x); err != nil {
		b.t.Fatal(err)
	}
	return x
}
