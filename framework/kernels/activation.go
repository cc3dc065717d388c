package kernels

import "math"

// Softplus returns log(1 + e^x), and x itself above 20 (the threshold of
// PyTorch's softplus, which the reference uses for Δ).
func Softplus(x float32) float32 {
	if x > 20 {
		return x
	}
	return float32(math.Log1p(math.Exp(float64(x))))
}

// softplusGrad is d softplus(x)/dx: the logistic sigmoid, 1 above 20.
func softplusGrad(x float32) float32 {
	if x > 20 {
		return 1
	}
	return sigmoid(x)
}

// InvSoftplus returns the y with softplus(y) = x, for x > 0: the dt_proj
// bias initialisation, y = x + log(-expm1(-x)).
func InvSoftplus(x float64) float64 { return x + math.Log(-math.Expm1(-x)) }

func sigmoid(x float32) float32 { return float32(1 / (1 + math.Exp(-float64(x)))) }

// SiLU returns x·σ(x).
func SiLU(x float32) float32 { return x * sigmoid(x) }

// siluGrad is d silu(x)/dx = σ(x)·(1 + x·(1 − σ(x))).
func siluGrad(x float32) float32 {
	s := sigmoid(x)
	return s * (1 + x*(1-s))
}

// siluChunk is how many elements SiLU converts per exp call (on the stack).
const siluChunk = 256

// vexp sets dst[i] = exp(src[i]), with the scan kernels' vector exp when
// this CPU has one (≤ 1.02 ulp, docs/kernels.md), math.Exp otherwise.
func vexp(dst, src []float32) {
	n := len(src)
	m := 0
	if im := scanDefault; im.exp != nil && n >= im.width {
		m = n - n%im.width
		im.exp(&dst[0], &src[0], m)
	}
	for i := m; i < n; i++ {
		dst[i] = exp32(src[i])
	}
}

// SiLUForward sets y[i] = silu(x[i]) = x[i]/(1+e^−x[i]). Shapes: x, y (n).
func SiLUForward(y, x []float32) {
	if len(y) < len(x) {
		panic("kernels: silu: len(y) < len(x)")
	}
	n := len(x)
	siluTeam.run(n, parts(n, siluMinPart), siluArgs{y: y, x: x})
}

// siluMinPart is the fewest elements SiLUForward and SiLUBackward give a
// thread.
const siluMinPart = 4096

// siluAllVector reports whether SiLUForward on n elements runs a SiLU
// kernel of width lanes on every element: whether each thread's part is a
// whole number of vectors (the last few of a part otherwise go through
// siluGo, whose scalar exp rounds differently).
func siluAllVector(n, width int) bool {
	p := parts(n, siluMinPart)
	for w := range p {
		if lo, hi := span(n, p, w); (hi-lo)%width != 0 {
			return false
		}
	}
	return true
}

// siluArgs is a SiLUForward (dx nil) or SiLUBackward call.
type siluArgs struct{ y, dx, dy, x []float32 }

var siluTeam team[siluArgs, *siluArgs]

func (a *siluArgs) part(_, lo, hi int) {
	if a.dx == nil {
		siluWith(scanDefault, a.y[lo:hi], a.x[lo:hi])
		return
	}
	siluGradWith(scanDefault, a.dx[lo:hi], a.dy[lo:hi], a.x[lo:hi])
}

// siluWith sets y = silu(x) on one thread with the SiLU kernel of im (the
// scan implementation whose exp it shares) for whole vectors and siluGo
// for the rest, or siluGo for all when im has none.
func siluWith(im *scanImpl, y, x []float32) {
	n := len(x)
	m := 0
	if im.silu != nil && n >= im.width {
		m = n - n%im.width
		_ = y[m-1]
		im.silu(&y[0], &x[0], m)
	}
	siluGo(y[m:], x[m:])
}

// siluGradWith sets dx = dy·silu'(x) as siluWith does y.
func siluGradWith(im *scanImpl, dx, dy, x []float32) {
	n := len(x)
	m := 0
	if im.siluGrad != nil && n >= im.width {
		m = n - n%im.width
		_, _ = dx[m-1], dy[m-1]
		im.siluGrad(&dx[0], &dy[0], &x[0], m)
	}
	siluGradGo(dx[m:], dy[m:], x[m:])
}

// siluGo sets y[i] = x[i]/(1+e^−x[i]), e^−x by vexp in chunks of
// siluChunk: what the SiLU kernels compute lane by lane.
func siluGo(y, x []float32) {
	if len(x) == 0 {
		return
	}
	buf := getF32(siluChunk) // e^−x of one chunk
	defer putF32(buf)
	e := *buf
	for c := 0; c < len(x); c += siluChunk {
		xs := x[c:min(c+siluChunk, len(x))]
		es := e[:len(xs)]
		for i, v := range xs {
			es[i] = -v
		}
		vexp(es, es)
		ys := y[c : c+len(xs)]
		for i, v := range xs {
			ys[i] = v / (1 + es[i])
		}
	}
}

// siluGradGo sets dx[i] = dy[i]·σ·(1 + x[i]·(1 − σ)), σ = 1/(1+e^−x[i]),
// as siluGo computes y.
func siluGradGo(dx, dy, x []float32) {
	if len(x) == 0 {
		return
	}
	buf := getF32(siluChunk)
	defer putF32(buf)
	e := *buf
	for c := 0; c < len(x); c += siluChunk {
		xs := x[c:min(c+siluChunk, len(x))]
		es := e[:len(xs)]
		for i, v := range xs {
			es[i] = -v
		}
		vexp(es, es)
		dys, dxs := dy[c:c+len(xs)], dx[c:c+len(xs)]
		for i, v := range xs {
			sg := 1 / (1 + es[i])
			dxs[i] = dys[i] * sg * (1 + v*(1-sg))
		}
	}
}

// SiLUBackward sets dx[i] = dy[i]·silu'(x[i]) with silu'(x) =
// σ(x)·(1 + x·(1 − σ(x))). Shapes: dx, dy, x (n).
func SiLUBackward(dx, dy, x []float32) {
	if len(dx) < len(x) || len(dy) < len(x) {
		panic("kernels: silu backward: short buffer")
	}
	n := len(x)
	siluTeam.run(n, parts(n, siluMinPart), siluArgs{dx: dx, dy: dy, x: x})
}

// siluGeneric is the reference for SiLUForward and SiLUBackward, in float64:
// y = x/(1+e^−x), dx = dy·σ(x)·(1 + x·(1−σ(x))).
func siluGeneric(y, dx, dy, x []float32) {
	for i, v := range x {
		xv := float64(v)
		s := 1 / (1 + math.Exp(-xv))
		if y != nil {
			y[i] = float32(xv * s)
		}
		if dx != nil {
			dx[i] = float32(float64(dy[i]) * s * (1 + xv*(1-s)))
		}
	}
}
