package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// packOps packs each op's operands (A by PackA, B by PackB) for
// MatMulsBF16Packed, with c's the ops' own.
func packOps(ops []MatMulOp) []BF16PackedOp {
	out := make([]BF16PackedOp, len(ops))
	for i, o := range ops {
		pa, pb := new(BF16Packed), new(BF16Packed)
		pa.PackA(o.TransA, o.M, o.K, o.A)
		pb.PackB(o.TransB, o.K, o.N, o.B)
		out[i] = BF16PackedOp{A: pa, B: pb, Beta: o.Beta, C: o.C}
	}
	return out
}

// guardedOps gives each distinct c of ops a copy inside guard regions
// (ops that share a c share the copy) and returns a check of the guards.
func guardedOps(t *testing.T, ops []BF16PackedOp) func() {
	t.Helper()
	copies := map[*float32][]float32{}
	var checks []func()
	for i, o := range ops {
		p := &o.C[0]
		c, ok := copies[p]
		if !ok {
			var check func()
			c, check = guarded(t, fmt.Sprintf("op %d c", i), len(o.C))
			copy(c, o.C)
			copies[p] = c
			checks = append(checks, check)
		}
		ops[i].C = c
	}
	return func() {
		t.Helper()
		for _, f := range checks {
			f()
		}
	}
}

// checkGroupBF16 runs ops through MatMulsBF16Packed and, on copies of
// their c's, one MatMulBF16Packed after another, and requires the same
// bits.
func checkGroupBF16(t *testing.T, name string, ops []MatMulOp) {
	t.Helper()
	want := cloneOps(ops)
	for _, o := range packOps(want) {
		MatMulBF16Packed(o.A, o.B, o.Beta, o.C)
	}
	got := packOps(ops)
	check := guardedOps(t, got)
	MatMulsBF16Packed(got)
	check()
	for j := range got {
		for e := range got[j].C {
			if math.Float32bits(got[j].C[e]) != math.Float32bits(want[j].C[e]) {
				t.Fatalf("%s: op %d (m %d, n %d, k %d): c[%d] = %v, want %v (one MatMulBF16Packed after another)",
					name, j, ops[j].M, ops[j].N, ops[j].K, e, got[j].C[e], want[j].C[e])
			}
		}
	}
}

// TestMatMulsBF16Packed checks that MatMulsBF16Packed gives the bits of
// one MatMulBF16Packed after another on MatMuls' cases (the model's
// groups, awkward shapes, mixed transposes, an op reading another's c),
// at 1 and 3 threads.
func TestMatMulsBF16Packed(t *testing.T) {
	forThreads(t, func(t *testing.T) {
		for i, gc := range groupCases {
			r := rand.New(rand.NewPCG(uint64(i), 9))
			checkGroupBF16(t, gc.name, gc.ops(r))
		}
	})
}

// TestMatMulsBF16PackedRandom compares MatMulsBF16Packed with one
// MatMulBF16Packed after another on random shapes around the tiles, the
// block of rows and the pass over k.
func TestMatMulsBF16PackedRandom(t *testing.T) {
	old := Threads()
	defer SetThreads(old)
	r := rand.New(rand.NewPCG(21, 22))
	ms := []int{1, 4, 8, 13, 14, 15, 28, 29, 335, 336, 337, 671, 673}
	for it := range 120 {
		m := ms[r.IntN(len(ms))]
		n := 1 + r.IntN(70)
		nops := 2 + r.IntN(4)
		beta := []float32{0, 1, -0.5}[r.IntN(3)]
		var gen func(r *rand.Rand) []MatMulOp
		switch it % 3 {
		case 2:
			ms := make([]int, nops)
			for i := range ms {
				ms[i] = 1 + r.IntN(40)
			}
			gen = sharedBOps(n+32, 1+r.IntN(1200), beta, ms...)
		case 0:
			ks := make([]int, nops)
			for i := range ks {
				ks[i] = 1 + r.IntN(40)
			}
			if r.IntN(4) == 0 {
				ks[0] = 500 + r.IntN(600) // over a pass of k
			}
			gen = sumOps(m, n, beta, ks...)
		default:
			ns := make([]int, nops)
			for i := range ns {
				ns[i] = 1 + r.IntN(40)
			}
			gen = sharedAOps(m, 1+r.IntN(600), ns...)
		}
		SetThreads(1 + it%3)
		checkGroupBF16(t, fmt.Sprintf("case %d", it), gen(r))
	}
}

// TestMatMulsBF16PackedRoutes checks the route of the model's groups:
// by rows for x_proj's forward and dU, by columns for x_proj's weight
// gradients, one product after another for ops of different rows and
// columns or with overlapping c's.
func TestMatMulsBF16PackedRoutes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	mixed := []MatMulOp{
		{M: 30, N: 40, K: 8, A: randSlice(r, 240, -1, 1), B: randSlice(r, 320, -1, 1), C: make([]float32, 1200)},
		{M: 31, N: 41, K: 8, A: randSlice(r, 248, -1, 1), B: randSlice(r, 328, -1, 1), C: make([]float32, 31*41)},
	}
	c := make([]float32, 40*64)
	overlap := []MatMulOp{
		{M: 40, N: 32, K: 8, A: randSlice(r, 320, -1, 1), B: randSlice(r, 256, -1, 1), C: c[:40*32]},
		{M: 40, N: 32, K: 8, A: randSlice(r, 320, -1, 1), B: randSlice(r, 256, -1, 1), C: c[32 : 32+40*32]},
	}
	for _, cs := range []struct {
		name       string
		ops        []MatMulOp
		ok, byCols bool
	}{
		{"forward x_proj", sharedAOps(4096, 256, 8, 16, 16)(r), true, false},
		{"dU", sumOps(4096, 256, 1, 8, 16, 16)(r), true, false},
		{"x_proj weights", sharedBOps(256, 4096, 1, 8, 16, 16)(r), true, true},
		{"in_proj dXn", sumOps(4096, 128, 0, 256, 256)(r), true, false},
		{"mixed shapes", mixed, false, false},
		{"overlapping c's", overlap, false, false},
	} {
		var g bf16GroupTask
		if ok := g.plan(packOps(cs.ops)); ok != cs.ok || (ok && g.cols != cs.byCols) {
			t.Errorf("%s: grouped %v, by columns %v; want %v, %v", cs.name, ok, g.cols, cs.ok, cs.byCols)
		}
	}
}

// TestMatMulsBF16PackedAllocs checks that MatMulsBF16Packed allocates
// nothing once warm.
func TestMatMulsBF16PackedAllocs(t *testing.T) {
	old := Threads()
	defer SetThreads(old)
	r := rand.New(rand.NewPCG(1, 2))
	for _, gc := range []groupCase{
		{"by rows, shared c", sumOps(1000, 256, 1, 8, 16, 16)},
		{"by rows, shared a", sharedAOps(1000, 256, 8, 16, 16)},
		{"by columns", sharedBOps(256, 1000, 1, 8, 16, 16)},
	} {
		ops := packOps(gc.ops(r))
		for _, th := range []int{1, 2} {
			SetThreads(th)
			MatMulsBF16Packed(ops)
			if n := testing.AllocsPerRun(5, func() { MatMulsBF16Packed(ops) }); n != 0 {
				t.Errorf("%s, %d threads: %v allocations per call", gc.name, th, n)
			}
		}
	}
}

// BenchmarkMatMulsBF16Packed times the model's groups of bf16 products of
// bench train's shape (BenchmarkMatMuls' cases) as MatMulsBF16Packed and
// as one MatMulBF16Packed after another, on packed operands, with the
// caches swept between calls (untimed).
func BenchmarkMatMulsBF16Packed(b *testing.B) {
	old := Threads()
	defer SetThreads(old)
	SetThreads(0)
	for _, gc := range benchGroupCases {
		ops := packOps(gc.ops(rand.New(rand.NewPCG(1, 2))))
		flops := 0
		for _, o := range ops {
			flops += 2 * o.A.rows * o.B.cols * o.A.cols
		}
		benchGroup(b, gc.name, flops, func() { MatMulsBF16Packed(ops) }, func() {
			for _, o := range ops {
				MatMulBF16Packed(o.A, o.B, o.Beta, o.C)
			}
		})
	}
}
