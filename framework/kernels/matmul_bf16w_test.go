package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMatMulBF16W checks MatMulBF16W against its reference for few rows
// (the gemv path) and more, sizes around the 8-row groups and the 16-wide
// lanes, beta 0 (c NaN) and 1, one and three threads, with guards.
func TestMatMulBF16W(t *testing.T) {
	forThreads(t, func(t *testing.T) {
		for _, m := range []int{1, 2, 3, 5} {
			for _, n := range []int{1, 7, 8, 9, 17, 33} {
				for _, k := range []int{1, 7, 15, 16, 17, 33, 48, 81, 100} {
					for _, beta := range []float32{0, 1} {
						cs := mmCase{false, true, m, n, k, beta}
						a, b, c0 := mmInputs(cs)
						w := make([]uint16, n*k)
						ToBF16(w, b)
						want := slices.Clone(c0)
						matMulBF16WGeneric(m, n, k, a, w, beta, want)
						got, cg := guarded(t, cs.String(), m*n)
						copy(got, c0)
						w0 := slices.Clone(w)
						MatMulBF16W(m, n, k, a, w, beta, got)
						cg()
						checkCloseFloor(t, "bf16w "+cs.String(), got, want, tolBF16Sum*math.Sqrt(float64(k)+1), 1)
						if !slices.Equal(w, w0) {
							t.Fatalf("%v: w changed", cs)
						}
						// the same as MatMulBF16 on the float32 weights
						alt := slices.Clone(c0)
						MatMulBF16(false, true, m, n, k, a, b, beta, alt)
						checkCloseFloor(t, "bf16w vs MatMulBF16 "+cs.String(), got, alt, tolBF16Sum*math.Sqrt(float64(k)+1), 1)
					}
				}
			}
		}
	})
}

// TestGemvDot8BF16 checks the gemv kernel (with its Go tail) against
// gemvDot8BF16Go around the 16-wide groups: the groups of 32, the group
// of 16 after them (k%32 ≥ 16, dt_proj's k = 48) and the last k%16. The
// eight rows sit in a guarded buffer, as the kernel prefetches past them.
func TestGemvDot8BF16(t *testing.T) {
	if !gemvBF16OK {
		t.Skip("no bf16 gemv kernel here")
	}
	r := rand.New(rand.NewPCG(11, 12))
	for _, k := range []int{1, 15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 79, 80, 81, 100, 112, 768, 1536 + 16 + 7} {
		x := randSlice(r, k, -1, 1)
		roundSliceBF16(x, x)
		buf := make([]uint16, 8*k+64)
		for i := range buf {
			buf[i] = 0x7fc0 // NaN: a guard the sums must not read
		}
		w := buf[32 : 32+8*k]
		ToBF16(w, randSlice(r, 8*k, -1, 1))
		var got, want [8]float32
		xr := slices.Clone(x)
		bf16GemvOrder(xr)
		for p := range x {
			if xr[bf16GemvIndex(p, k)] != x[p] {
				t.Fatalf("k %d: bf16GemvIndex(%d) does not find the element bf16GemvOrder moved", k, p)
			}
		}
		gemvDot8BF16(xr, w, k, &got)
		gemvDot8BF16Go(x, w, k, &want)
		checkCloseFloor(t, fmt.Sprintf("gemv bf16 k=%d", k), got[:], want[:], tolBF16Sum*math.Sqrt(float64(k)+1), 1)
	}
}

// TestToBF16 checks ToBF16 against RoundBF16 on random bit patterns.
func TestToBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	x := make([]float32, 1000)
	for i := range x {
		x[i] = math.Float32frombits(r.Uint32())
	}
	h := make([]uint16, len(x))
	ToBF16(h, x)
	for i, v := range x {
		if h[i] != RoundBF16(v) {
			t.Fatalf("ToBF16[%d] (%#08x) = %#04x, want %#04x", i, math.Float32bits(v), h[i], RoundBF16(v))
		}
	}
}

// BenchmarkMatMulBF16W times one-row products of generation (the
// mamba-130m shapes: in_proj's halves and both at once, out_proj,
// x_proj, dt_proj, the tied head) with bf16 weights
// against MatMul with float32 ones, in GB/s of weights streamed.
func BenchmarkMatMulBF16W(b *testing.B) {
	for _, s := range []struct {
		name string
		n, k int
	}{{"1x1536x768", 1536, 768}, {"1x3072x768", 3072, 768}, {"1x768x1536", 768, 1536}, {"1x80x1536", 80, 1536},
		{"1x1536x48", 1536, 48}, {"1x50280x768", 50280, 768}} {
		r := rand.New(rand.NewPCG(1, 2))
		x := randSlice(r, s.k, -1, 1)
		wf := randSlice(r, s.n*s.k, -1, 1)
		w := make([]uint16, s.n*s.k)
		ToBF16(w, wf)
		c := make([]float32, s.n)
		b.Run("bf16/"+s.name, func(b *testing.B) {
			for b.Loop() {
				MatMulBF16W(1, s.n, s.k, x, w, 0, c)
			}
			b.ReportMetric(float64(2*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
		b.Run("fp32/"+s.name, func(b *testing.B) {
			for b.Loop() {
				MatMul(false, true, 1, s.n, s.k, x, wf, 0, c)
			}
			b.ReportMetric(float64(4*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
		})
	}
}
