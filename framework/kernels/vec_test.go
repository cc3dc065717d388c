package kernels

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestVecKernelsMatchGo runs every element-wise kernel of this CPU on
// awkward lengths and unaligned starts, with NaN guards after the end, and
// checks each lane against the Go version: vecAdd exactly, vecMulAdd within
// the one rounding the fused multiply-add saves.
func TestVecKernelsMatchGo(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	lengths := []int{0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 127, 128, 255, 1000}
	nan := float32(math.NaN())
	for _, im := range vecImplsOnThisCPU() {
		name, fn := im.name, im.mulAdd
		for _, n := range lengths {
			for _, off := range []int{0, 1, 3} {
				dst := randSlice(r, off+n+20, -4, 4)
				for i := off + n; i < len(dst); i++ {
					dst[i] = nan
				}
				a, b := randSlice(r, off+n+20, -4, 4), randSlice(r, off+n+20, -4, 4)
				want := append([]float32(nil), dst...)
				dst0 := append([]float32(nil), dst...)
				vecMulAddGo(ptr(want, off), ptr(a, off), ptr(b, off), n)
				fn(ptr(dst, off), ptr(a, off), ptr(b, off), n)
				for i := range dst {
					if i >= off+n {
						if !math.IsNaN(float64(dst[i])) {
							t.Fatalf("%s mulAdd n %d off %d: wrote past the end at %d", name, n, off, i)
						}
						continue
					}
					// Unfused: two roundings, each at most half an ulp of the
					// larger of the product and the sum.
					mag := max(math.Abs(float64(want[i])), math.Abs(float64(a[i]*b[i])), math.Abs(float64(dst0[i])))
					tol := mag * 0x1p-23
					if d := math.Abs(float64(dst[i] - want[i])); d > tol {
						t.Fatalf("%s mulAdd n %d off %d [%d]: %v, want %v", name, n, off, i, dst[i], want[i])
					}
				}
			}
		}
	}
	for _, im := range vecImplsOnThisCPU() {
		name, fn := im.name, im.add
		for _, n := range lengths {
			dst, a := randSlice(r, n+20, -4, 4), randSlice(r, n+20, -4, 4)
			for i := n; i < len(dst); i++ {
				dst[i] = nan
			}
			want := append([]float32(nil), dst...)
			vecAddGo(ptr(want, 0), ptr(a, 0), n)
			fn(ptr(dst, 0), ptr(a, 0), n)
			for i := range dst {
				if i >= n {
					if !math.IsNaN(float64(dst[i])) {
						t.Fatalf("%s add n %d: wrote past the end at %d", name, n, i)
					}
				} else if dst[i] != want[i] {
					t.Fatalf("%s add n %d [%d]: %v, want %v", name, n, i, dst[i], want[i])
				}
			}
		}
	}
}

// vecImplsOnThisCPU returns the element-wise kernels this CPU runs.
func vecImplsOnThisCPU() []*vecImpl {
	var out []*vecImpl
	for _, im := range vecImpls {
		if im.available {
			out = append(out, im)
		}
	}
	return out
}

func ptr(x []float32, off int) *float32 { return &x[off] }

// BenchmarkVecMulAdd times each element-wise kernel on a row of the
// convolution's size (128 channels per worker) and a long one.
func BenchmarkVecMulAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, im := range vecImplsOnThisCPU() {
		name, fn := im.name, im.mulAdd
		for _, n := range []int{128, 4096} {
			dst, x, y := randSlice(r, n, -1, 1), randSlice(r, n, -1, 1), randSlice(r, n, -1, 1)
			b.Run(name+"/"+strconv.Itoa(n), func(b *testing.B) {
				b.SetBytes(int64(12 * n))
				for b.Loop() {
					fn(&dst[0], &x[0], &y[0], n)
				}
			})
		}
	}
}
