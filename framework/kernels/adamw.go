package kernels

import "math"

// AdamWUpdate applies one AdamW step (Loshchilov and Hutter, "Decoupled
// weight decay regularization", 2019) to the parameters p from their
// gradients g, with the first and second moments m and v, element by
// element:
//
//	m = b1·m + (1 − b1)·g
//	v = b2·v + (1 − b2)·g²
//	p = p·decay − stepSize·m / (√v / sqrtBC2 + eps)
//
// where the caller gives decay = 1 − lr·weight_decay (1 for parameters
// without decay), stepSize = lr / (1 − b1ᵗ) and sqrtBC2 = √(1 − b2ᵗ) (the
// bias corrections). All of it is float32 but the square root of v, taken
// in float64. The elements are split over the workers and each is
// computed on its own, so the bits do not depend on the thread count.
// Shapes: p, g, m, v (n) with n = len(p).
func AdamWUpdate(p, g, m, v []float32, b1, b2, decay, stepSize, sqrtBC2, eps float32) {
	n := len(p)
	if len(g) < n || len(m) < n || len(v) < n {
		panic("kernels: adamw: buffer too short")
	}
	adamWTeam.run(n, parts(n, adamWMinPart), adamWArgs{p: p, g: g, m: m, v: v,
		b1: b1, b2: b2, decay: decay, stepSize: stepSize, sqrtBC2: sqrtBC2, eps: eps})
}

// adamWMinPart is the fewest elements worth a worker (about 20 µs).
const adamWMinPart = 16 << 10

// adamWArgs is an AdamWUpdate call.
type adamWArgs struct {
	p, g, m, v                            []float32
	b1, b2, decay, stepSize, sqrtBC2, eps float32
}

var adamWTeam team[adamWArgs, *adamWArgs]

func (a *adamWArgs) part(_, lo, hi int) {
	adamWGo(a.p[lo:hi], a.g[lo:hi], a.m[lo:hi], a.v[lo:hi], a.b1, a.b2, a.decay, a.stepSize, a.sqrtBC2, a.eps)
}

// adamWGo is AdamWUpdate's loop over len(p) elements.
func adamWGo(p, g, m, v []float32, b1, b2, decay, stepSize, sqrtBC2, eps float32) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	for i := range p {
		gi := g[i]
		m[i] = b1*m[i] + (1-b1)*gi
		v[i] = b2*v[i] + (1-b2)*gi*gi
		p[i] = p[i]*decay - stepSize*m[i]/(float32(math.Sqrt(float64(v[i])))/sqrtBC2+eps)
	}
}
