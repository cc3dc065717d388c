package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestConv1dMatchesReference(t *testing.T) {
	for _, c := range []struct {
		B, L, D, K   int
		state, reset bool
	}{
		{1, 1, 1, 1, false, false}, {1, 3, 3, 4, true, false}, {2, 17, 3, 4, true, true},
		{3, 255, 17, 4, true, true}, {1, 2, 5, 4, true, true}, {2, 9, 2, 2, false, true},
	} {
		t.Run(fmt.Sprintf("B%dL%dD%dK%d/state=%v,reset=%v", c.B, c.L, c.D, c.K, c.state, c.reset), func(t *testing.T) {
			forThreads(t, func(t *testing.T) {
				r := rand.New(rand.NewPCG(11, uint64(c.L)))
				B, L, D, K := c.B, c.L, c.D, c.K
				cv := &Conv1d{B: B, L: L, D: D, K: K,
					X: randSlice(r, B*L*D, -1, 1), W: randSlice(r, D*K, -1, 1), Bias: randSlice(r, D, -1, 1)}
				if c.state {
					cv.State0 = randSlice(r, B*D*(K-1), -1, 1)
				}
				if c.reset {
					cv.Reset = make([]bool, B*L)
					for i := range cv.Reset {
						cv.Reset[i] = r.IntN(5) == 0
					}
				}
				wantY := make([]float32, B*L*D)
				wantS := make([]float32, B*D*(K-1))
				cv.Y, cv.StateT = wantY, wantS
				cv.ForwardRef()
				y, cy := guarded(t, "Y", B*L*D)
				st, cs := guarded(t, "StateT", B*D*(K-1))
				cv.Y, cv.StateT = y, st
				cv.Forward()
				cy()
				cs()
				checkClose(t, "Y", y, wantY, tolFloat32)
				checkClose(t, "StateT", st, wantS, 0)

				// The convolution is linear in X, W, Bias and State0, so for
				// any direction v, loss(p+v) − loss(p) = <dloss/dp, v>
				// exactly (up to rounding): check Backward that way on the
				// reference, along a few random directions per input.
				dy := randSlice(r, B*L*D, -1, 1)
				g := &Conv1dGrads{DY: dy}
				var checks []func()
				alloc := func(n int) []float32 {
					buf, chk := guarded(t, "grad", n)
					checks = append(checks, chk)
					return buf
				}
				g.DX, g.DW, g.DBias = alloc(B*L*D), alloc(D*K), alloc(D)
				if cv.State0 != nil {
					g.DState0 = alloc(B * D * (K - 1))
				}
				cv.Backward(g)
				for _, chk := range checks {
					chk()
				}
				loss := func() float64 {
					cv.Y = make([]float32, B*L*D)
					cv.StateT = nil
					cv.ForwardRef()
					var l float64
					for i, v := range cv.Y {
						l += float64(v) * float64(dy[i])
					}
					return l
				}
				base := loss()
				for _, in := range []struct {
					name    string
					x, grad []float32
				}{{"X", cv.X, g.DX}, {"W", cv.W, g.DW}, {"Bias", cv.Bias, g.DBias}, {"State0", cv.State0, g.DState0}} {
					for range 3 {
						v := randSlice(r, len(in.x), -1, 1)
						x0 := append([]float32(nil), in.x...)
						var want float64
						for i := range in.x {
							in.x[i] += v[i]
							want += float64(in.grad[i]) * float64(v[i])
						}
						got := loss() - base
						copy(in.x, x0)
						if math.Abs(got-want) > 1e-4*math.Max(1, math.Abs(want)) {
							t.Errorf("d/d%s along a random direction: %v, the change of the loss is %v", in.name, want, got)
						}
					}
				}
			})
		})
	}
}
