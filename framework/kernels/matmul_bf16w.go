package kernels

// MatMulBF16W is MatMulBF16 with the weights already in bfloat16: the
// products of generation's recurrent step, whose weights are converted
// once (ToBF16) and then streamed at half the bytes:
//
//	c = bf16(a)·wᵀ + beta·c     a (m, k) float32, w (n, k) bfloat16 bits, c (m, n)
//
// a is rounded to bfloat16 as in MatMulBF16, the products (exact in
// float32) are summed in float32, so it computes what MatMulBF16(false,
// true, …) does on the float32 weights w came from. For m < 4 (a few rows:
// the one-token step) an AVX-512 kernel takes eight rows of w at a time,
// widening them to float32 as it reads them (gemvDot8BF16); otherwise, and
// without it, w is widened into a float32 buffer and MatMul runs.
func MatMulBF16W(m, n, k int, a []float32, w []uint16, beta float32, c []float32) {
	if m < 0 || n < 0 || k < 0 || len(a) < m*k || len(w) < n*k || len(c) < m*n {
		panic("kernels: matmul bf16 weights: buffer too short")
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		scaleC(beta, c[:m*n])
		return
	}
	ra := getF32(m * k)
	defer putF32(ra)
	bf16ConvInUse.roundF32(*ra, a[:m*k])
	if m < gemmSmallM && gemvBF16OK {
		for i := 0; i < m; i++ {
			bf16GemvOrder((*ra)[i*k : i*k+k])
		}
		t := gemvBF16Task{m: m, n: n, k: k, a: *ra, w: w, beta: beta, c: c, units: (n + 7) / 8}
		p := min(Threads(), max(1, 2*n*k/gemvMinBytes), t.units)
		if p == 1 {
			t.part(0, 0, t.units)
			return
		}
		gemvBF16Team.run(t.units, p, t)
		return
	}
	wf := getF32(n * k)
	defer putF32(wf)
	widenBF16((*wf)[:n*k], w[:n*k])
	MatMul(false, true, m, n, k, *ra, *wf, beta, c)
}

// ToBF16 sets dst[i] to src[i] rounded to bfloat16 (RoundBF16), for as
// many elements as src has.
func ToBF16(dst []uint16, src []float32) {
	if len(dst) < len(src) {
		panic("kernels: to bf16: dst too short")
	}
	if len(src) == 0 {
		return
	}
	parallel(len(src), min(Threads(), max(1, len(src)/(256<<10))), func(_, lo, hi int) {
		bf16ConvInUse.round(dst[lo:hi], src[lo:hi])
	})
}

// widenBF16 sets dst[i] = FromBF16(src[i]).
func widenBF16(dst []float32, src []uint16) {
	dst = dst[:len(src)]
	for i, h := range src {
		dst[i] = FromBF16(h)
	}
}

// matMulBF16WGeneric is MatMulBF16W's reference: float64 sums.
func matMulBF16WGeneric(m, n, k int, a []float32, w []uint16, beta float32, c []float32) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(roundedBF16(a[i*k+p])) * float64(FromBF16(w[j*k+p]))
			}
			if beta != 0 {
				s += float64(beta) * float64(c[i*n+j])
			}
			c[i*n+j] = float32(s)
		}
	}
}

var gemvBF16Team team[gemvBF16Task, *gemvBF16Task]

// gemvBF16Task is MatMulBF16W's few-rows product: units are groups of
// eight rows of w (columns of c).
type gemvBF16Task struct {
	m, n, k int
	a       []float32 // rounded, each row in bf16GemvOrder
	w       []uint16
	beta    float32
	c       []float32
	units   int
}

func (t *gemvBF16Task) part(_, lo, hi int) {
	m, n, k := t.m, t.n, t.k
	var out [8]float32
	j := lo * 8
	for ; j+8 <= min(hi*8, n); j += 8 {
		for i := 0; i < m; i++ {
			gemvDot8BF16(t.a[i*k:i*k+k], t.w[j*k:], k, &out)
			row := t.c[i*n+j : i*n+j+8]
			for r, v := range out {
				if t.beta != 0 {
					v += t.beta * row[r]
				}
				row[r] = v
			}
		}
	}
	for ; j < min(hi*8, n); j++ {
		w := t.w[j*k : j*k+k]
		for i := 0; i < m; i++ {
			var s float32
			x := t.a[i*k : i*k+k]
			for p := range x {
				s += x[bf16GemvIndex(p, k)] * FromBF16(w[p])
			}
			if t.beta != 0 {
				s += t.beta * t.c[i*n+j]
			}
			t.c[i*n+j] = s
		}
	}
}

// bf16GemvOrder reorders each whole group of 32 elements of x as the bf16
// gemv kernel reads it: the group's 16 even elements, then its 16 odd
// ones (the tail past the last whole group stays).
func bf16GemvOrder(x []float32) {
	var t [32]float32
	for g := 0; g+32 <= len(x); g += 32 {
		for j := 0; j < 16; j++ {
			t[j], t[16+j] = x[g+2*j], x[g+2*j+1]
		}
		copy(x[g:g+32], t[:])
	}
}

// bf16GemvIndex is where bf16GemvOrder moves element p of k.
func bf16GemvIndex(p, k int) int {
	g, o := p&^31, p&31
	if g+32 > k {
		return p
	}
	return g + o/2 + 16*(o&1)
}

// gemvDot8BF16Go is gemvDot8BF16 in Go: out[r] = Σ_p x[p]·FromBF16(w[r·k+p])
// for r < 8, float32 sums in order.
func gemvDot8BF16Go(x []float32, w []uint16, k int, out *[8]float32) {
	for r := range out {
		var s float32
		for p, v := range x[:k] {
			s += v * FromBF16(w[r*k+p])
		}
		out[r] = s
	}
}
