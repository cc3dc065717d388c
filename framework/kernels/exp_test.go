package kernels

import (
	"math"
	"testing"
)

// TestScanExpULP measures the error of the scan kernels' vector exp
// (Cody–Waite range reduction, then AVX2: a degree-6 minimax polynomial;
// AVX-512: a 32-entry table of 2^(j/32) and a cubic; see expN and expT in
// _asm/mathfn.go) in float32 ulps of the exact result, over
// [−87.3, 88.3]: every 61st float32 there, plus the values near 0. The
// error is at most 2 ulp (measured: docs/kernels.md).
func TestScanExpULP(t *testing.T) {
	for _, im := range scanImplsUnderTest(t) {
		if im.exp == nil {
			continue
		}
		t.Run(im.name, func(t *testing.T) {
			maxULP, worst := maxULPOver(im.exp, im.width, math.Exp, 88.3, 87.3)
			t.Logf("%s exp: max error %.3f ulp (at %v) over [-87.3, 88.3]", im.name, maxULP, worst)
			if maxULP > 2 {
				t.Errorf("%s exp: max error %.3f ulp at %v, want ≤ 2", im.name, maxULP, worst)
			}
			// Special values: NaN stays NaN, 0 gives 1 exactly, large
			// negative arguments give (almost) 0, large positive ones a
			// finite e^88.3 (the clamp).
			src := make([]float32, im.width)
			dst := make([]float32, im.width)
			for i := range src {
				src[i] = []float32{float32(math.NaN()), 0, -1e30, float32(math.Inf(-1)), 1e30, 89, -100, -87}[i%8]
			}
			im.exp(&dst[0], &src[0], len(src))
			if !math.IsNaN(float64(dst[0])) || dst[1] != 1 || dst[2] > 1.3e-38 || dst[3] > 1.3e-38 || dst[4] < 1e38 || dst[5] < 1e38 ||
				dst[6] > 1.3e-38 || math.Abs(float64(dst[7])/math.Exp(-87)-1) > 1e-6 {
				t.Errorf("%s exp of %v = %v", im.name, src[:8], dst[:8])
			}
		})
	}
}

// TestScanExp2ULP measures the inner loops' 2^x (Ā = 2^(Δ·A·log2 e), k
// added to the exponent field; AVX2: exact reduction to f in [−1/2, 1/2]
// and a degree-5 polynomial with constant term 1; AVX-512: 2^(x·32/32) by
// a 32-entry table of 2^(j/32) and a quadratic with constant term 1) the
// same way, over [−125.4, 127.4]: every 61st float32. (Exhaustive float32
// emulations give 1.97 ulp for AVX2, 1.76 for AVX-512; see exp2Poly and
// exp2Tab in _asm/mathfn.go.)
func TestScanExp2ULP(t *testing.T) {
	for _, im := range scanImplsUnderTest(t) {
		if im.exp2 == nil {
			continue
		}
		t.Run(im.name, func(t *testing.T) {
			maxULP, worst := maxULPOver(im.exp2, im.width, math.Exp2, 127.4, 125.4)
			t.Logf("%s exp2: max error %.3f ulp (at %v) over [-125.4, 127.4]", im.name, maxULP, worst)
			if maxULP > 2 {
				t.Errorf("%s exp2: max error %.3f ulp at %v, want ≤ 2", im.name, maxULP, worst)
			}
			// Outside the range: clamped to 2^−125.4 and 2^127.4 (normal
			// and finite), NaN stays NaN, 2^0 = 1.
			src := make([]float32, im.width)
			dst := make([]float32, im.width)
			for i := range src {
				src[i] = []float32{-150, 150, float32(math.NaN()), -1e30, 1e30, 0, float32(math.Inf(-1)), float32(math.Inf(1))}[i%8]
			}
			im.exp2(&dst[0], &src[0], len(src))
			if dst[0] > 2e-38 || dst[0] < 1.17e-38 || dst[1] < 1e38 || !math.IsNaN(float64(dst[2])) || dst[3] > 2e-38 || dst[4] < 1e38 ||
				dst[5] != 1 || dst[6] > 2e-38 || dst[7] < 1e38 || math.IsInf(float64(dst[7]), 0) {
				t.Errorf("%s 2^x of %v = %v", im.name, src[:8], dst[:8])
			}
		})
	}
}

// maxULPOver runs fn (a vector kernel over n values, n a multiple of
// width) on every 61st float32 in [−negLim, posLim] and returns its largest
// error in ulps of the exact result, and where it is.
func maxULPOver(fn func(dst, src *float32, n int), width int, exact func(float64) float64, posLim, negLim float32) (maxULP float64, worst float32) {
	const chunk = 1 << 14
	src := make([]float32, chunk)
	dst := make([]float32, chunk)
	check := func(n int) {
		n = n / width * width
		fn(&dst[0], &src[0], n)
		for i, x := range src[:n] {
			want := exact(float64(x))
			e := math.Abs(float64(dst[i])-want) / ulp32(want)
			if e > maxULP || math.IsNaN(e) {
				maxULP, worst = e, x
			}
		}
	}
	for _, sign := range []uint32{0, 1 << 31} {
		lim := math.Float32bits(posLim)
		if sign != 0 {
			lim = math.Float32bits(negLim)
		}
		n := 0
		for b := uint32(0); b <= lim; b += 61 {
			src[n] = math.Float32frombits(b | sign)
			n++
			if n == chunk {
				check(n)
				n = 0
			}
		}
		check(n)
	}
	return maxULP, worst
}

// ulp32 is the spacing of float32 values at |x| (normal range).
func ulp32(x float64) float64 {
	_, e := math.Frexp(math.Abs(x))
	return math.Ldexp(1, max(e-24, -149))
}
