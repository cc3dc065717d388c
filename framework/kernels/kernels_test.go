package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var awkward = []int{1, 3, 17, 255}

func TestSiLUMatchesReference(t *testing.T) {
	for _, n := range append(awkward, 10000) {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			forThreads(t, func(t *testing.T) {
				r := rand.New(rand.NewPCG(1, uint64(n)))
				x := randSlice(r, n, -30, 30)
				for i, v := range []float32{-200, -100, -88.7, 88.7, 100, 200, -1e30, 1e30} { // beyond exp's range
					if i < n {
						x[n-1-i] = v
					}
				}
				dy := randSlice(r, n, -1, 1)
				wantY, wantDX := make([]float32, n), make([]float32, n)
				siluGeneric(wantY, wantDX, dy, x)
				y, cy := guarded(t, "y", n)
				dx, cdx := guarded(t, "dx", n)
				SiLUForward(y, x)
				SiLUBackward(dx, dy, x)
				cy()
				cdx()
				checkClose(t, "silu", y, wantY, tolFloat32)
				checkClose(t, "silu'", dx, wantDX, tolFloat32)
			})
		})
	}
}

// TestSiLUKernelsMatchReference runs every SiLU implementation (the
// SiLU kernels of each scan implementation under test with them, and the Go
// loops of the others) on one thread against siluGeneric: sizes around
// the vector widths, inputs past exp's range, NaN and ±Inf, outputs inside
// guards and inputs unchanged.
func TestSiLUKernelsMatchReference(t *testing.T) {
	for _, im := range scanImplsUnderTest(t) {
		if im.ref {
			continue
		}
		t.Run(im.name, func(t *testing.T) {
			for _, n := range []int{0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 64, 255, 256, 257, 1000, 4099} {
				r := rand.New(rand.NewPCG(3, uint64(n)))
				x := randSlice(r, n, -30, 30)
				for i, v := range []float32{-200, -100, -88.7, 88.7, 100, 200, -1e30, 1e30, 0, -0.0} {
					if 2*i < n {
						x[2*i] = v
					}
				}
				dy := randSlice(r, n, -1, 1)
				x0, dy0 := append([]float32(nil), x...), append([]float32(nil), dy...)
				wantY, wantDX := make([]float32, n), make([]float32, n)
				siluGeneric(wantY, wantDX, dy, x)
				y, cy := guarded(t, "y", n)
				dx, cdx := guarded(t, "dx", n)
				siluWith(im, y, x)
				siluGradWith(im, dx, dy, x)
				cy()
				cdx()
				checkClose(t, fmt.Sprint("silu n=", n), y, wantY, tolFloat32)
				checkClose(t, fmt.Sprint("silu' n=", n), dx, wantDX, tolFloat32)
				if !slices.Equal(x, x0) || !slices.Equal(dy, dy0) {
					t.Errorf("n=%d: an input changed", n)
				}
				if n < 40 {
					continue
				}
				// NaN stays NaN and +Inf as the reference has it. (−Inf is
				// left out: the kernels' exp clamps its argument, so they
				// give −Inf where the reference's e^+Inf gives NaN.)
				x[37], x[38], x[39] = float32(math.NaN()), float32(math.Inf(1)), float32(math.NaN())
				siluWith(im, y, x)
				siluGradWith(im, dx, dy, x)
				siluGeneric(wantY, wantDX, dy, x)
				for _, i := range []int{37, 38, 39} {
					for _, c := range []struct {
						name      string
						got, want float32
					}{{"silu", y[i], wantY[i]}, {"silu'", dx[i], wantDX[i]}} {
						g, w := float64(c.got), float64(c.want)
						if math.IsNaN(w) != math.IsNaN(g) || (!math.IsNaN(w) && g != w) {
							t.Errorf("n=%d: %s(%v) = %v, want %v", n, c.name, x[i], c.got, c.want)
						}
					}
				}
			}
		})
	}
}

// BenchmarkSiLU times SiLU and its gradient on one layer's conv output of
// bench train (B·L = 4096 rows of Din = 256) for every implementation,
// one thread; ns/op is per call.
func BenchmarkSiLU(b *testing.B) {
	const n = 4096 * 256
	r := rand.New(rand.NewPCG(1, 2))
	x, dy := randSlice(r, n, -6, 6), randSlice(r, n, -1, 1)
	y := make([]float32, n)
	for _, im := range scanImplsUnderTest(b) {
		if im.ref {
			continue
		}
		b.Run(im.name+"/forward", func(b *testing.B) {
			b.SetBytes(8 * n)
			for b.Loop() {
				siluWith(im, y, x)
			}
		})
		b.Run(im.name+"/backward", func(b *testing.B) {
			b.SetBytes(12 * n)
			for b.Loop() {
				siluGradWith(im, y, dy, x)
			}
		})
	}
}

func TestSoftplus(t *testing.T) {
	for _, c := range []struct{ x, want float64 }{
		{0, math.Ln2}, {20, 20 + math.Log1p(math.Exp(-20))}, {20.5, 20.5}, {100, 100}, {-30, math.Exp(-30)},
	} {
		if got := Softplus(float32(c.x)); math.Abs(float64(got)-c.want) > 1e-6*math.Max(1, c.want) {
			t.Errorf("Softplus(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	for _, x := range []float64{1e-4, 1e-3, 0.01, 0.1, 1, 5} {
		y := InvSoftplus(x)
		if got := Softplus(float32(y)); math.Abs(float64(got)-x) > 1e-6*x {
			t.Errorf("Softplus(InvSoftplus(%v)) = %v", x, got)
		}
	}
	if softplusGrad(25) != 1 || math.Abs(float64(softplusGrad(0))-0.5) > 1e-7 {
		t.Error("softplus gradient wrong at 25 or 0")
	}
}

func TestRMSNormMatchesReference(t *testing.T) {
	for _, M := range awkward {
		for _, C := range []int{1, 3, 17, 64} {
			t.Run(fmt.Sprintf("M%dC%d", M, C), func(t *testing.T) {
				forThreads(t, func(t *testing.T) {
					r := rand.New(rand.NewPCG(2, uint64(M*C)))
					x := randSlice(r, M*C, -3, 3)
					w := randSlice(r, C, 0.5, 1.5)
					dy := randSlice(r, M*C, -1, 1)
					wantY, wantR := make([]float32, M*C), make([]float32, M)
					rmsNormForwardGeneric(wantY, wantR, x, w, M, C, 1e-5)
					wantDX, wantDW := make([]float32, M*C), make([]float32, C)
					rmsNormBackwardGeneric(wantDX, wantDW, dy, x, w, M, C, 1e-5)
					y, cy := guarded(t, "y", M*C)
					rs, cr := guarded(t, "rstd", M)
					RMSNormForward(y, rs, x, w, M, C, 1e-5)
					dx, cdx := guarded(t, "dx", M*C)
					dw, cdw := guarded(t, "dw", C)
					clear(dw)
					RMSNormBackward(dx, dw, dy, x, w, rs, M, C)
					for _, c := range []func(){cy, cr, cdx, cdw} {
						c()
					}
					checkClose(t, "y", y, wantY, tolFloat32)
					checkClose(t, "rstd", rs, wantR, tolFloat32)
					checkClose(t, "dx", dx, wantDX, 1e-4)
					checkClose(t, "dw", dw, wantDW, 1e-4)
				})
			})
		}
	}
}

// TestRMSNormBackwardAdd checks that RMSNormBackwardAdd gives the bits
// of RMSNormBackward followed by acc += dx, dw included, with acc inside
// guards.
func TestRMSNormBackwardAdd(t *testing.T) {
	for _, M := range awkward {
		for _, C := range []int{1, 3, 17, 64, 128} {
			t.Run(fmt.Sprintf("M%dC%d", M, C), func(t *testing.T) {
				forThreads(t, func(t *testing.T) {
					r := rand.New(rand.NewPCG(5, uint64(M*C)))
					x := randSlice(r, M*C, -3, 3)
					w := randSlice(r, C, 0.5, 1.5)
					dy := randSlice(r, M*C, -1, 1)
					acc0 := randSlice(r, M*C, -1, 1)
					rs := make([]float32, M)
					RMSNormForward(make([]float32, M*C), rs, x, w, M, C, 1e-5)
					dx, wantDW := make([]float32, M*C), randSlice(r, C, -1, 1)
					dw := append([]float32(nil), wantDW...)
					RMSNormBackward(dx, wantDW, dy, x, w, rs, M, C)
					want := append([]float32(nil), acc0...)
					for i, v := range dx {
						want[i] += v
					}
					acc, cacc := guarded(t, "acc", M*C)
					copy(acc, acc0)
					RMSNormBackwardAdd(acc, dw, dy, x, w, rs, M, C)
					cacc()
					for i := range want {
						if math.Float32bits(acc[i]) != math.Float32bits(want[i]) {
							t.Fatalf("acc[%d] = %v, want %v", i, acc[i], want[i])
						}
					}
					for i := range wantDW {
						if math.Float32bits(dw[i]) != math.Float32bits(wantDW[i]) {
							t.Fatalf("dw[%d] = %v, want %v", i, dw[i], wantDW[i])
						}
					}
				})
			})
		}
	}
}

// TestRMSNormRowKernels runs the RMSNorm row kernels of every vector
// implementation under test (vecImpls; those without them run the Go
// ones) on one thread against the float64 references: row lengths around
// the kernels' width of 8, rows of large and tiny values, outputs inside
// guards, inputs unchanged, and dw added to what it held.
func TestRMSNormRowKernels(t *testing.T) {
	for _, im := range vecImplsOnThisCPU() {
		t.Run(im.name, func(t *testing.T) {
			for _, C := range []int{8, 16, 24, 64, 128, 136, 768} {
				const M = 37
				r := rand.New(rand.NewPCG(4, uint64(C)))
				x := randSlice(r, M*C, -3, 3)
				for c := range C { // a row of large values and one of tiny ones
					x[C+c] *= 1e15
					x[2*C+c] *= 1e-15
				}
				w := randSlice(r, C, 0.5, 1.5)
				dy := randSlice(r, M*C, -1, 1)
				x0, dy0 := append([]float32(nil), x...), append([]float32(nil), dy...)
				wantY, wantR := make([]float32, M*C), make([]float32, M)
				rmsNormForwardGeneric(wantY, wantR, x, w, M, C, 1e-5)
				wantDX, wantDW := make([]float32, M*C), make([]float32, C)
				for c := range wantDW {
					wantDW[c] = 0.25
				}
				rmsNormBackwardGeneric(wantDX, wantDW, dy, x, w, M, C, 1e-5)

				rows := rmsRows(im, C)
				y, cy := guarded(t, "y", M*C)
				rs, cr := guarded(t, "rstd", M)
				fw := rmsNormArgs{y: y, rstd: rs, x: x, w: w, C: C, eps: 1e-5, rows: rows}
				fw.part(0, 0, M)
				dx, cdx := guarded(t, "dx", M*C)
				partial := make([]float64, C)
				bw := rmsNormArgs{backward: true, dx: dx, dy: dy, x: x, w: w, rstd: rs, partial: partial, C: C, rows: rows}
				bw.part(0, 0, M)
				dw := make([]float32, C)
				for c, v := range partial {
					dw[c] = 0.25 + float32(v)
				}
				for _, c := range []func(){cy, cr, cdx} {
					c()
				}
				name := fmt.Sprint("C=", C)
				checkClose(t, name+" y", y, wantY, tolFloat32)
				checkClose(t, name+" rstd", rs, wantR, tolFloat32)
				checkClose(t, name+" dx", dx, wantDX, 1e-4)
				checkClose(t, name+" dw", dw, wantDW, 1e-4)
				if !slices.Equal(x, x0) || !slices.Equal(dy, dy0) {
					t.Errorf("%s: an input changed", name)
				}
			}
		})
	}
}

// BenchmarkRMSNorm times RMSNormForward and RMSNormBackward on bench
// train's residual stream (B·L = 4096 rows of D = 128), one thread.
func BenchmarkRMSNorm(b *testing.B) {
	const M, C = 4096, 128
	defer SetThreads(Threads())
	SetThreads(1)
	r := rand.New(rand.NewPCG(1, 2))
	x, dy, w := randSlice(r, M*C, -3, 3), randSlice(r, M*C, -1, 1), randSlice(r, C, 0.5, 1.5)
	y, dx, rs, dw := make([]float32, M*C), make([]float32, M*C), make([]float32, M), make([]float32, C)
	b.Run("forward", func(b *testing.B) {
		b.SetBytes(8 * M * C)
		for b.Loop() {
			RMSNormForward(y, rs, x, w, M, C, 1e-5)
		}
	})
	b.Run("backward", func(b *testing.B) {
		b.SetBytes(12 * M * C)
		for b.Loop() {
			RMSNormBackward(dx, dw, dy, x, w, rs, M, C)
		}
	})
	// backward then the residual's add, as Backward did before
	// RMSNormBackwardAdd, against RMSNormBackwardAdd
	acc := make([]float32, M*C)
	b.Run("backward+add", func(b *testing.B) {
		b.SetBytes(20 * M * C)
		for b.Loop() {
			RMSNormBackward(dx, dw, dy, x, w, rs, M, C)
			addTo(acc, dx)
		}
	})
	b.Run("backward-add", func(b *testing.B) {
		b.SetBytes(16 * M * C)
		for b.Loop() {
			RMSNormBackwardAdd(acc, dw, dy, x, w, rs, M, C)
		}
	})
}

func TestEmbeddingMatchesReference(t *testing.T) {
	for _, M := range awkward {
		t.Run(fmt.Sprint(M), func(t *testing.T) {
			forThreads(t, func(t *testing.T) {
				const V, C = 19, 17
				r := rand.New(rand.NewPCG(3, uint64(M)))
				table := randSlice(r, V*C, -1, 1)
				ids := make([]int32, M)
				for i := range ids {
					ids[i] = int32(r.IntN(V))
				}
				out, co := guarded(t, "out", M*C)
				EmbeddingForward(out, table, ids, V, C)
				co()
				for m, id := range ids {
					for c := 0; c < C; c++ {
						if out[m*C+c] != table[int(id)*C+c] {
							t.Fatalf("out[%d,%d] != table[%d,%d]", m, c, id, c)
						}
					}
				}
				dout := randSlice(r, M*C, -1, 1)
				want := randSlice(r, V*C, -1, 1)
				got, cg := guarded(t, "dtable", V*C)
				copy(got, want)
				embeddingBackwardGeneric(want, dout, ids, V, C)
				EmbeddingBackward(got, dout, ids, V, C)
				cg()
				checkClose(t, "dtable", got, want, tolFloat32)
			})
		})
	}
}

func TestCrossEntropyMatchesReference(t *testing.T) {
	for _, M := range awkward {
		for _, V := range []int{1, 3, 17, 255} {
			t.Run(fmt.Sprintf("M%dV%d", M, V), func(t *testing.T) {
				forThreads(t, func(t *testing.T) {
					r := rand.New(rand.NewPCG(4, uint64(M*V)))
					logits := randSlice(r, M*V, -8, 8)
					targets := make([]int32, M)
					for i := range targets {
						targets[i] = int32(r.IntN(V+1)) - 1 // -1: ignored
					}
					want := make([]float32, M*V)
					wl, wc := crossEntropyGeneric(want, logits, targets, V, 0.5)
					got, cg := guarded(t, "dlogits", M*V)
					gl, gc := CrossEntropy(got, logits, targets, V, 0.5)
					cg()
					if gc != wc || math.Abs(gl-wl) > 1e-6*math.Max(1, math.Abs(wl)) { // float32 exp (≤ 1.02 ulp) against float64
						t.Errorf("loss %v (count %d), want %v (count %d)", gl, gc, wl, wc)
					}
					checkClose(t, "dlogits", got, want, tolFloat32)
				})
			})
		}
	}
}

// TestCrossEntropyKernels runs the cross-entropy row kernels of every
// scan implementation under test (the Go ones where it has none, or V is
// not a multiple of its width) on one thread against crossEntropyGeneric:
// vocabularies around the widths, a row of large logits, one of equal
// logits, ignored targets, dlogits inside guards.
func TestCrossEntropyKernels(t *testing.T) {
	for _, im := range scanImplsUnderTest(t) {
		if im.ref {
			continue
		}
		t.Run(im.name, func(t *testing.T) {
			for _, V := range []int{1, 7, 8, 16, 17, 24, 48, 256, 264} {
				const M = 9
				r := rand.New(rand.NewPCG(6, uint64(V)))
				logits := randSlice(r, M*V, -8, 8)
				for i := range V {
					logits[V+i] = 1e4 + 100*logits[V+i] // large: exp(x − max) must not overflow
					logits[2*V+i] = 3                   // all equal
				}
				targets := make([]int32, M)
				for i := range targets {
					targets[i] = int32(r.IntN(V))
				}
				targets[4] = -1 // ignored
				want := make([]float32, M*V)
				wl, _ := crossEntropyGeneric(want, logits, targets, V, 0.5)
				got, cg := guarded(t, "dlogits", M*V)
				rowLoss := make([]float64, M)
				a := crossEntropyArgs{dlogits: got, logits: logits, targets: targets, rowLoss: rowLoss, V: V, scale: 0.5, im: im}
				a.part(0, 0, M)
				cg()
				var gl float64
				for _, l := range rowLoss {
					gl += l
				}
				if math.Abs(gl-wl) > 1e-6*math.Max(1, math.Abs(wl)) {
					t.Errorf("V=%d: loss %v, want %v", V, gl, wl)
				}
				checkClose(t, fmt.Sprint("V=", V, " dlogits"), got, want, tolFloat32)
			}
		})
	}
}

// BenchmarkCrossEntropy times the cross-entropy of bench train's head
// (B·L = 4096 rows of V = 256 logits) with and without dlogits, for every
// implementation, one thread.
func BenchmarkCrossEntropy(b *testing.B) {
	const M, V = 4096, 256
	r := rand.New(rand.NewPCG(1, 2))
	logits, d := randSlice(r, M*V, -8, 8), make([]float32, M*V)
	targets, rowLoss := make([]int32, M), make([]float64, M)
	for i := range targets {
		targets[i] = int32(r.IntN(V))
	}
	for _, im := range scanImplsUnderTest(b) {
		if im.ref {
			continue
		}
		for _, grad := range []bool{false, true} {
			a := crossEntropyArgs{logits: logits, targets: targets, rowLoss: rowLoss, V: V, scale: 1, im: im}
			name := im.name + "/loss"
			if grad {
				a.dlogits, name = d, im.name+"/grad"
			}
			b.Run(name, func(b *testing.B) {
				b.SetBytes(4 * M * V)
				for b.Loop() {
					a.part(0, 0, M)
				}
			})
		}
	}
}

func TestMatMulMatchesReference(t *testing.T) {
	for _, m := range awkward {
		for _, nk := range [][2]int{{1, 1}, {3, 17}, {17, 3}, {64, 255}} {
			n, k := nk[0], nk[1]
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for _, beta := range []float32{0, 1} {
					t.Run(fmt.Sprintf("m%dn%dk%d/tA=%v,tB=%v,beta=%v", m, n, k, tr[0], tr[1], beta), func(t *testing.T) {
						r := rand.New(rand.NewPCG(5, uint64(m*n*k)))
						a := randSlice(r, m*k, -1, 1)
						b := randSlice(r, k*n, -1, 1)
						c0 := randSlice(r, m*n, -1, 1)
						if beta == 0 {
							for i := range c0 {
								c0[i] = float32(math.NaN()) // beta = 0 must overwrite, not scale
							}
						}
						want := append([]float32(nil), c0...)
						if beta == 0 {
							clear(want)
						}
						matMulGeneric(tr[0], tr[1], m, n, k, a, b, beta, want)
						got, cg := guarded(t, "c", m*n)
						copy(got, c0)
						MatMul(tr[0], tr[1], m, n, k, a, b, beta, got)
						cg()
						checkClose(t, "c", got, want, 1e-5)
					})
				}
			}
		}
	}
}
