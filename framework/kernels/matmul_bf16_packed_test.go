package kernels

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkPackedBF16 packs the case's operands into pa, pb (reused from case
// to case, so packs shrink and grow) and checks MatMulBF16Packed against
// MatMulBF16 bit for bit and against the reference within tolBF16Sum,
// with guard regions around c.
func checkPackedBF16(t *testing.T, pa, pb *BF16Packed, cs mmCase) {
	t.Helper()
	a, b, c0 := mmInputs(cs)
	a0, b0 := slices.Clone(a), slices.Clone(b)
	want := slices.Clone(c0)
	MatMulBF16(cs.tA, cs.tB, cs.m, cs.n, cs.k, a, b, cs.beta, want)
	ref := slices.Clone(c0)
	matMulBF16Generic(cs.tA, cs.tB, cs.m, cs.n, cs.k, a, b, cs.beta, ref)
	pa.PackA(cs.tA, cs.m, cs.k, a)
	pb.PackB(cs.tB, cs.k, cs.n, b)
	got, cg := guarded(t, "packed "+cs.String()+" c", cs.m*cs.n)
	copy(got, c0)
	MatMulBF16Packed(pa, pb, cs.beta, got)
	cg()
	if !equalBits(a, a0) || !equalBits(b, b0) {
		t.Fatalf("packed %v: input changed", cs)
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("packed %v: c[%d] = %v, MatMulBF16 gives %v", cs, i, got[i], want[i])
		}
	}
	checkCloseFloor(t, "packed "+cs.String(), got, ref, tolBF16Sum*math.Sqrt(float64(cs.k)+1), 1)
}

// TestMatMulBF16Packed sweeps awkward sizes (around the 14×32 tile and
// the pair), the model's shapes and random ones, for every transpose,
// beta 0, 1 and −0.5, and one and three threads.
func TestMatMulBF16Packed(t *testing.T) {
	var pa, pb BF16Packed
	forThreads(t, func(t *testing.T) {
		sizes := []int{0, 1, 7, 14, 15, 17, 32, 33}
		for _, m := range sizes {
			for _, n := range sizes {
				for _, k := range sizes {
					for _, tr := range mmTrans {
						checkPackedBF16(t, &pa, &pb, mmCase{tr[0], tr[1], m, n, k, 1})
					}
				}
			}
		}
		shapes := [][3]int{{300, 256, 128}, {530, 19, 1031}, {29, 45, 600}, {256, 8, 1500}, {16, 256, 700}}
		r := rand.New(rand.NewPCG(11, 12))
		for range 20 {
			shapes = append(shapes, [3]int{1 + r.IntN(90), 1 + r.IntN(90), 1 + r.IntN(600)})
		}
		for _, s := range shapes {
			for _, tr := range mmTrans {
				for _, beta := range []float32{0, 1, -0.5} {
					checkPackedBF16(t, &pa, &pb, mmCase{tr[0], tr[1], s[0], s[1], s[2], beta})
				}
			}
		}
	})
}

// TestMatMulBF16PackedShared multiplies one packed A by two B's and one
// packed B by two A's, as the model shares an activation's pack.
func TestMatMulBF16PackedShared(t *testing.T) {
	m, n, k := 70, 40, 90
	r := rand.New(rand.NewPCG(13, 14))
	a, b1, b2 := randSlice(r, m*k, -1, 1), randSlice(r, k*n, -1, 1), randSlice(r, k*n, -1, 1)
	var pa, pb1, pb2 BF16Packed
	pa.PackA(false, m, k, a)
	pb1.PackB(true, k, n, b1)
	pb2.PackB(false, k, n, b2)
	for i, pb := range []*BF16Packed{&pb1, &pb2} {
		want, got := make([]float32, m*n), make([]float32, m*n)
		MatMulBF16(false, i == 0, m, n, k, a, [][]float32{b1, b2}[i], 0, want)
		MatMulBF16Packed(&pa, pb, 0, got)
		if !equalBits(got, want) {
			t.Errorf("B %d: packed product differs from MatMulBF16", i)
		}
	}
}

// TestMatMulBF16PackedRoles checks that an operand packed in the wrong
// role, or shapes that do not chain, panic.
func TestMatMulBF16PackedRoles(t *testing.T) {
	x := make([]float32, 12)
	var a, b, b2 BF16Packed
	a.PackA(false, 3, 4, x)
	b.PackB(false, 4, 3, x)
	b2.PackB(false, 3, 4, x)
	c := make([]float32, 12)
	for name, f := range map[string]func(){
		"B as A":      func() { MatMulBF16Packed(&b, &b, 0, c) },
		"A as B":      func() { MatMulBF16Packed(&a, &a, 0, c) },
		"k differs":   func() { MatMulBF16Packed(&a, &b2, 0, c) },
		"c too short": func() { MatMulBF16Packed(&a, &b, 0, c[:8]) },
		"a too short": func() { a.PackA(true, 4, 4, x) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// BenchmarkMatMulBF16Packed reports GFLOP/s on the model's shapes
// (gemmBenchShapes) for the product of packed operands alone
// (MatMulBF16Packed), for packing the activation and multiplying by a
// packed weight (the model's bf16 step), and for MatMulBF16.
func BenchmarkMatMulBF16Packed(b *testing.B) {
	for _, s := range gemmBenchShapes {
		r := rand.New(rand.NewPCG(1, 2))
		x := randSlice(r, s.m*s.k, -1, 1)
		y := randSlice(r, s.k*s.n, -1, 1)
		c := make([]float32, s.m*s.n)
		var pa, pb BF16Packed
		pa.PackA(s.tA, s.m, s.k, x)
		pb.PackB(s.tB, s.k, s.n, y)
		flops := 2 * float64(s.m*s.n*s.k)
		for _, v := range []struct {
			name string
			fn   func()
		}{
			{"packed", func() { MatMulBF16Packed(&pa, &pb, 0, c) }},
			{"packA+packed", func() { pa.PackA(s.tA, s.m, s.k, x); MatMulBF16Packed(&pa, &pb, 0, c) }},
			{"MatMulBF16", func() { MatMulBF16(s.tA, s.tB, s.m, s.n, s.k, x, y, 0, c) }},
		} {
			b.Run(v.name+"/"+s.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					v.fn()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestPackRowsPairs checks PackRowsPairs against PackA and PackB apart,
// word for word (padding included), on awkward sizes around the tile and
// the pair, odd m, both forms of pairs, one and three threads, with packs
// reused from case to case so they shrink and grow; x is left unchanged.
func TestPackRowsPairs(t *testing.T) {
	var rows, pairs, wantRows, wantPairs BF16Packed
	forThreads(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for _, m := range []int{0, 1, 2, 3, 13, 14, 15, 29, 64, 301, 4097} {
			for _, k := range []int{0, 2, 14, 16, 18, 30, 32, 34, 48, 256} {
				for _, pairsB := range []bool{false, true} {
					x := randSlice(r, m*k, -3, 3)
					if len(x) > 0 { // specials round as RoundBF16 says
						x[0], x[len(x)-1] = float32(math.NaN()), float32(math.Inf(-1))
					}
					x0 := slices.Clone(x)
					PackRowsPairs(&rows, &pairs, pairsB, m, k, x)
					wantRows.PackA(false, m, k, x)
					if pairsB {
						wantPairs.PackB(false, m, k, x)
					} else {
						wantPairs.PackA(true, k, m, x)
					}
					if !equalBits(x, x0) {
						t.Fatalf("m %d k %d: x changed", m, k)
					}
					for _, c := range []struct {
						name      string
						got, want *BF16Packed
					}{{"rows", &rows, &wantRows}, {"pairs", &pairs, &wantPairs}} {
						g, w := c.got, c.want
						if g.isB != w.isB || g.trans != w.trans || g.rows != w.rows || g.cols != w.cols ||
							!slices.Equal(g.w, w.w) || !equalBits(g.f, w.f) {
							t.Fatalf("m %d k %d pairsB %v: %s differ from the pack apart", m, k, pairsB, c.name)
						}
					}
				}
			}
		}
	})
}
