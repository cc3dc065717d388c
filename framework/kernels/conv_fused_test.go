package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// rowsOnly returns im without the convolution's block kernels: the row
// loops alone, as Conv1d ran before them.
func rowsOnly(im *vecImpl) *vecImpl {
	r := *im
	r.convFwd, r.convBwd = [convMaxK + 1]func(y, u, x, w, bias *float32, n, ld, ldw int){},
		[convMaxK + 1]func(dx, dw, db, dy, du, yc, x, w *float32, n, ld, ldw int){}
	return &r
}

// checkBits fails the test at the first element where got and want differ
// in any bit.
func checkBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Errorf("%s[%d] = %v (%#x), want %v (%#x)", name, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			return
		}
	}
}

// convResets returns the reset patterns of the block tests for B rows of
// L positions: none, a start at 0, at 1 and in the middle, and random ones.
func convResets(r *rand.Rand, B, L int) map[string][]bool {
	at := func(ps ...int) []bool {
		x := make([]bool, B*L)
		for b := range B {
			for _, p := range ps {
				if p < L {
					x[b*L+p] = true
				}
			}
		}
		return x
	}
	random := make([]bool, B*L)
	for i := range random {
		random[i] = r.IntN(6) == 0
	}
	return map[string][]bool{"none": nil, "at0": at(0), "at1,mid": at(1, L/2), "random": random}
}

// TestConv1dBlocksMatchRows runs the block kernels (conv_fused.go) against
// the row loops they replace, which must agree bit for bit, on sizes
// around the block width, every width K up to one past convMaxK, short
// and long sequences, with and without bias and carried state, and resets
// at awkward places; U against SiLUForward(Y) bit for bit; and Y against
// the float64 reference.
func TestConv1dBlocksMatchRows(t *testing.T) {
	if vecInUse.convFwd[convMaxK] == nil {
		t.Skipf("the vector kernels in use (%s) have no convolution block kernels", vecInUse.name)
	}
	fused, rows := vecInUse, rowsOnly(vecInUse)
	forThreads(t, func(t *testing.T) { convBlocksSweep(t, fused, rows) })
}

func convBlocksSweep(t *testing.T, fused, rows *vecImpl) {
	const B = 2
	for _, D := range []int{1, 15, 16, 17, 33, 256, 300} {
		for K := 1; K <= convMaxK+1; K++ {
			for _, L := range []int{1, 2, 3, 7, 64} {
				r := rand.New(rand.NewPCG(uint64(D), uint64(K*100+L)))
				for rname, reset := range convResets(r, B, L) {
					for _, bias := range []bool{false, true} {
						for _, state := range []bool{false, true} {
							name := fmt.Sprintf("D%dK%dL%d/reset=%s,bias=%v,state=%v", D, K, L, rname, bias, state)
							convBlocksCase(t, name, r, fused, rows, B, L, D, K, reset, bias, state)
						}
					}
				}
			}
		}
	}
}

func convBlocksCase(t *testing.T, name string, r *rand.Rand, fused, rows *vecImpl, B, L, D, K int, reset []bool, bias, state bool) {
	n := B * L * D
	c := Conv1d{B: B, L: L, D: D, K: K, X: randSlice(r, n, -2, 2), W: randSlice(r, D*K, -1, 1), Reset: reset}
	if bias {
		c.Bias = randSlice(r, D, -1, 1)
	}
	if state {
		c.State0 = randSlice(r, B*D*(K-1), -2, 2)
	}
	// The row loops and SiLUForward, as Conv1d ran before the block kernels.
	want := c
	want.Y, want.U = make([]float32, n), nil
	if state {
		want.StateT = make([]float32, B*D*(K-1))
	}
	want.forwardWith(rows)
	wantU := make([]float32, n)
	SiLUForward(wantU, want.Y)

	got := c
	var checks []func()
	alloc := func(what string, n int) []float32 {
		buf, chk := guarded(t, name+" "+what, n)
		checks = append(checks, chk)
		return buf
	}
	got.Y, got.U = alloc("Y", n), alloc("U", n)
	if state {
		got.StateT = alloc("StateT", B*D*(K-1))
	}
	got.forwardWith(fused)
	checkBits(t, name+" Y", got.Y, want.Y)
	checkBits(t, name+" U", got.U, wantU)
	checkBits(t, name+" StateT", got.StateT, want.StateT)

	ref := c
	ref.Y = make([]float32, n)
	ref.ForwardRef()
	checkClose(t, name+" Y vs reference", got.Y, ref.Y, tolFloat32)

	dy := randSlice(r, n, -1, 1)
	// Backward from DY, and from DU against SiLUBackward then the row
	// loops.
	du := randSlice(r, n, -1, 1)
	dyOfU := make([]float32, n)
	SiLUBackward(dyOfU, du, want.Y)
	c.Y = want.Y
	for _, v := range []struct {
		withDX, fromU bool
	}{{true, false}, {false, false}, {true, true}, {false, true}} {
		grads := func(im *vecImpl, fromU bool, alloc func(string, int) []float32) *Conv1dGrads {
			g := &Conv1dGrads{DY: dy, DW: alloc("DW", D*K), DBias: alloc("DBias", D)}
			if fromU {
				g.DY, g.DU = nil, du
			}
			if v.withDX {
				g.DX = alloc("DX", n)
			}
			if state {
				g.DState0 = alloc("DState0", B*D*(K-1))
			}
			c.backwardWith(im, g)
			return g
		}
		if v.fromU {
			dy = dyOfU
		}
		wg := grads(rows, false, func(_ string, n int) []float32 { return make([]float32, n) })
		gg := grads(fused, v.fromU, alloc)
		what := fmt.Sprintf("%s dx=%v,du=%v ", name, v.withDX, v.fromU)
		checkBits(t, what+"DX", gg.DX, wg.DX)
		checkBits(t, what+"DW", gg.DW, wg.DW)
		checkBits(t, what+"DBias", gg.DBias, wg.DBias)
		checkBits(t, what+"DState0", gg.DState0, wg.DState0)
	}
	for _, chk := range checks {
		chk()
	}
}

// TestConv1dSiLUFused checks that the model's shapes take the fused SiLU
// (the test above would pass with SiLUForward after the convolution too)
// and that Forward writes U where it cannot fuse.
func TestConv1dSiLUFused(t *testing.T) {
	if vecInUse.convSiLU == "" || vecInUse.convSiLU != scanDefault.name {
		t.Skipf("the vector kernels in use (%s) have no SiLU of the scan in use (%s)", vecInUse.name, scanDefault.name)
	}
	c := Conv1d{B: 8, L: 512, D: 256, K: 4}
	if !c.siluFused(vecInUse) {
		t.Errorf("B 8, L 512, D 256, K 4: SiLU not fused")
	}
	c.D = 17
	if c.siluFused(vecInUse) {
		t.Errorf("D 17: SiLU fused, but channel ranges are not whole blocks")
	}
}

// BenchmarkConv1d times the convolution of the training benchmark (d_model
// 128: D = 256 channels, K = 4) forward with SiLU, backward, and backward
// from the gradient of SiLU's output: "rows" is the row loops (with
// SiLUForward after them, SiLUBackward before), "blocks" the block kernels
// with the SiLU fused.
func BenchmarkConv1d(b *testing.B) {
	const B, L, D, K = 8, 512, 256, 4
	r := rand.New(rand.NewPCG(1, 2))
	n := B * L * D
	c := Conv1d{B: B, L: L, D: D, K: K, X: randSlice(r, n, -2, 2), W: randSlice(r, D*K, -1, 1),
		Bias: randSlice(r, D, -1, 1), Y: make([]float32, n)}
	u := make([]float32, n)
	dy, du := randSlice(r, n, -1, 1), randSlice(r, n, -1, 1)
	g := &Conv1dGrads{DY: dy, DX: make([]float32, n), DW: make([]float32, D*K), DBias: make([]float32, D)}
	for _, v := range []struct {
		name string
		im   *vecImpl
	}{{"rows", rowsOnly(vecInUse)}, {"blocks", vecInUse}} {
		report := func(b *testing.B) {
			b.ReportMetric(float64(B*L)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
		}
		b.Run("forward/"+v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v.name == "rows" {
					c.U = nil
					c.forwardWith(v.im)
					SiLUForward(u, c.Y)
				} else {
					c.U = u
					c.forwardWith(v.im)
				}
			}
			report(b)
		})
		b.Run("backward/"+v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.backwardWith(v.im, g)
			}
			report(b)
		})
		b.Run("backward-silu/"+v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if v.name == "rows" {
					SiLUBackward(dy, du, c.Y)
					c.backwardWith(v.im, g)
				} else {
					gu := *g
					gu.DY, gu.DU = nil, du
					c.backwardWith(v.im, &gu)
				}
			}
			report(b)
		})
	}
}
