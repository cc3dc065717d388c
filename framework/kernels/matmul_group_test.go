package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// groupCase is a list of products for MatMuls: shapes, and how they
// share operands.
type groupCase struct {
	name string
	ops  func(r *rand.Rand) []MatMulOp
}

// sumOps is dU's case: c (m×n) += Σ a_i (m×k_i) · b_i (k_i×n), NN, the
// first op's beta given.
func sumOps(m, n int, beta float32, ks ...int) func(r *rand.Rand) []MatMulOp {
	return func(r *rand.Rand) []MatMulOp {
		c := randSlice(r, m*n, -1, 1)
		var ops []MatMulOp
		for i, k := range ks {
			be := float32(1)
			if i == 0 {
				be = beta
			}
			ops = append(ops, MatMulOp{M: m, N: n, K: k, A: randSlice(r, m*k, -1, 1), B: randSlice(r, k*n, -1, 1), Beta: be, C: c})
		}
		return ops
	}
}

// sharedAOps is x_proj's forward case: c_i (m×n_i) = a (m×k) · w_iᵀ, NT,
// one a, a c of its own each.
func sharedAOps(m, k int, ns ...int) func(r *rand.Rand) []MatMulOp {
	return func(r *rand.Rand) []MatMulOp {
		a := randSlice(r, m*k, -1, 1)
		var ops []MatMulOp
		for _, n := range ns {
			ops = append(ops, MatMulOp{TransB: true, M: m, N: n, K: k, A: a, B: randSlice(r, n*k, -1, 1), C: randSlice(r, m*n, -1, 1)})
		}
		return ops
	}
}

// sharedBOps is x_proj's weight-gradient case: c_i (m_i×n) += a_iᵀ ·
// b, TN, a_i (k×m_i), one b (k×n), a c of its own each.
func sharedBOps(n, k int, beta float32, ms ...int) func(r *rand.Rand) []MatMulOp {
	return func(r *rand.Rand) []MatMulOp {
		b := randSlice(r, k*n, -1, 1)
		var ops []MatMulOp
		for _, m := range ms {
			ops = append(ops, MatMulOp{TransA: true, M: m, N: n, K: k, A: randSlice(r, k*m, -1, 1), B: b, Beta: beta, C: randSlice(r, m*n, -1, 1)})
		}
		return ops
	}
}

var groupCases = []groupCase{
	{"sum/4096x256/k8,16,16", sumOps(4096, 256, 1, 8, 16, 16)},
	{"sum/4096x256/beta0/k8,16,16", sumOps(4096, 256, 0, 8, 16, 16)},
	{"sum/700x40/k1,3,300", sumOps(700, 40, 1, 1, 3, 300)},
	{"sum/337x17/k5,9", sumOps(337, 17, 0.5, 5, 9)},
	{"sum/335x33/k7,16,2,1,4,600", sumOps(335, 33, 0, 7, 16, 2, 1, 4, 600)},
	{"sum/17x256/k16,16", sumOps(17, 256, 1, 16, 16)},
	{"sharedA/4096x256/n8,16,16", sharedAOps(4096, 256, 8, 16, 16)},
	{"sharedA/1000x256/n8,16,16,16,16", sharedAOps(1000, 256, 8, 16, 16, 16, 16)},
	{"sharedA/673x100/n1,9,17,33", sharedAOps(673, 100, 1, 9, 17, 33)},
	{"sharedA/25x7/n8,16", sharedAOps(25, 7, 8, 16)},
	{"sharedA/3x64/n8,16 (gemv route)", sharedAOps(3, 64, 8, 16)},
	{"sharedA/12x64/n8,40 (transposed route)", sharedAOps(12, 64, 8, 40)},
	{"sharedB/256x4096/m8,16,16", sharedBOps(256, 4096, 1, 8, 16, 16)},
	{"sharedB/256x4096/beta0/m8,16,16,16,16", sharedBOps(256, 4096, 0, 8, 16, 16, 16, 16)},
	{"sharedB/100x600/m5,16,20", sharedBOps(100, 600, 1, 5, 16, 20)},
	{"sharedB/257x257/m8,9,16", sharedBOps(257, 257, 0.5, 8, 9, 16)},
	{"sharedB/65x255/m16,8", sharedBOps(65, 255, 1, 16, 8)},
	{"sharedB/7x300/m8,16 (gonum route)", sharedBOps(7, 300, 1, 8, 16)},
	{"sharedB/64x300/m2,16 (gonum route)", sharedBOps(64, 300, 1, 2, 16)},
	{"one op", sumOps(300, 64, 1, 16)},
	{"seven ops", sumOps(300, 64, 1, 1, 2, 3, 4, 5, 6, 7)},
	{"mixed transposes", func(r *rand.Rand) []MatMulOp {
		const m, n, k = 500, 48, 40
		return []MatMulOp{
			{M: m, N: n, K: k, A: randSlice(r, m*k, -1, 1), B: randSlice(r, k*n, -1, 1), C: make([]float32, m*n)},
			{TransA: true, M: m, N: n, K: k, A: randSlice(r, m*k, -1, 1), B: randSlice(r, k*n, -1, 1), C: make([]float32, m*n)},
			{TransA: true, TransB: true, M: m, N: 24, K: 700, A: randSlice(r, m*700, -1, 1), B: randSlice(r, 700*24, -1, 1), C: make([]float32, m*24)},
		}
	}},
	{"reads another's c (sequential route)", func(r *rand.Rand) []MatMulOp {
		const m, n, k = 400, 32, 32
		c0 := make([]float32, m*k)
		return []MatMulOp{
			{M: m, N: k, K: k, A: randSlice(r, m*k, -1, 1), B: randSlice(r, k*k, -1, 1), C: c0},
			{M: m, N: n, K: k, A: c0, B: randSlice(r, k*n, -1, 1), C: make([]float32, m*n)},
		}
	}},
}

// cloneOps copies ops, their c's included: a c several ops share stays
// shared in the copy.
func cloneOps(ops []MatMulOp) []MatMulOp {
	out := make([]MatMulOp, len(ops))
	copies := map[*float32][]float32{}
	for i, o := range ops {
		out[i] = o
		p := &o.C[0]
		if _, ok := copies[p]; !ok {
			copies[p] = append([]float32(nil), o.C...)
		}
		out[i].C = copies[p]
	}
	// an op that reads an earlier op's c reads the copy
	for i := range out {
		if c, ok := copies[&ops[i].A[0]]; ok {
			out[i].A = c
		}
	}
	return out
}

// TestMatMuls checks that MatMuls gives the bits of one MatMul after
// another, on the fused route and the sequential one, at 1 and 3 threads.
func TestMatMuls(t *testing.T) {
	forThreads(t, func(t *testing.T) {
		for i, gc := range groupCases {
			t.Run(gc.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(i), 7))
				checkMatMuls(t, gc.ops(r), gc.name)
			})
		}
	})
}

// TestMatMulsRandom compares MatMuls with one MatMul after another, at
// the same thread count, on random shapes around the row block and the
// tile sizes: on the Go backend (the grouped routes), and on OpenBLAS
// where it loads (MatMuls then runs the ops one MatMul after another;
// OpenBLAS's sums depend on its thread count, hence the reference at the
// same count).
func TestMatMulsRandom(t *testing.T) {
	defer SetBLAS("auto")
	defer SetThreads(0)
	for _, be := range []string{"go", "openblas"} {
		if err := SetBLAS(be); err != nil {
			t.Logf("%s: %v (skipped)", be, err)
			continue
		}
		matMulsRandom(t, be)
	}
}

func matMulsRandom(t *testing.T, backend string) {
	r := rand.New(rand.NewPCG(11, 12))
	ms := []int{4, 8, 13, 14, 15, 24, 25, 335, 336, 337, 671, 673}
	for it := range 90 {
		m := ms[r.IntN(len(ms))]
		n := 1 + r.IntN(70)
		nops := 2 + r.IntN(4)
		var gen func(r *rand.Rand) []MatMulOp
		switch {
		case it%3 == 2:
			ms := make([]int, nops)
			for i := range ms {
				ms[i] = 4 + r.IntN(30)
			}
			gen = sharedBOps(n, 1+r.IntN(700), float32(r.IntN(2)), ms...)
		case it%3 == 0:
			ks := make([]int, nops)
			for i := range ks {
				ks[i] = 1 + r.IntN(40)
			}
			gen = sumOps(m, n, float32(r.IntN(2)), ks...)
		default:
			ns := make([]int, nops)
			for i := range ns {
				ns[i] = 1 + r.IntN(40)
			}
			gen = sharedAOps(m, 1+r.IntN(300), ns...)
		}
		ops := gen(r)
		SetThreads(1 + it%3)
		checkMatMuls(t, ops, fmt.Sprintf("%s, case %d (m %d, %d ops)", backend, it, m, nops))
	}
}

// checkMatMuls runs MatMuls on ops and fails t (naming the case what)
// unless every c has the bits of one MatMul after another, run on a copy
// of ops at the same thread count and backend first.
func checkMatMuls(t *testing.T, ops []MatMulOp, what string) {
	t.Helper()
	want := cloneOps(ops)
	for _, o := range want {
		MatMul(o.TransA, o.TransB, o.M, o.N, o.K, o.A, o.B, o.Beta, o.C)
	}
	MatMuls(ops)
	for j := range ops {
		for e := range ops[j].C {
			if math.Float32bits(ops[j].C[e]) != math.Float32bits(want[j].C[e]) {
				t.Fatalf("%s: op %d (n %d, k %d): c[%d] = %v, want %v (one MatMul after another)", what, j, ops[j].N, ops[j].K, e, ops[j].C[e], want[j].C[e])
			}
		}
	}
}

// TestMatMulsAllocs checks that MatMuls allocates nothing once warm on
// the Go backend.
func TestMatMulsAllocs(t *testing.T) {
	defer SetBLAS("auto")
	SetBLAS("go")
	old := Threads()
	defer SetThreads(old)
	r := rand.New(rand.NewPCG(1, 2))
	for _, gc := range []groupCase{
		{"by rows, shared c", sumOps(1000, 256, 1, 8, 16, 16)},
		{"by rows, shared a, b transposed once", sharedAOps(1000, 256, 8, 16, 16)},
		{"by columns", sharedBOps(256, 1000, 1, 8, 16, 16)},
	} {
		ops := gc.ops(r)
		for _, th := range []int{1, 2} {
			SetThreads(th)
			if n := testing.AllocsPerRun(5, func() { MatMuls(ops) }); n != 0 {
				t.Errorf("%s, %d threads: %v allocations per call", gc.name, th, n)
			}
		}
	}
}

// benchGroupCases are the model's groups of products in bench train's
// shape (M = 4096, D = 128, Din = 256, R = 8, N = 16), for
// BenchmarkMatMuls and BenchmarkMatMulsBF16Packed.
var benchGroupCases = []groupCase{
	{"forward-xproj", sharedAOps(4096, 256, 8, 16, 16)},
	{"backward-dU", sumOps(4096, 256, 1, 8, 16, 16)},
	{"backward-xproj-weights", sharedBOps(256, 4096, 1, 8, 16, 16)},
	{"forward-inproj", sharedAOps(4096, 128, 256, 256)},
	{"backward-inproj-dxn", sumOps(4096, 128, 0, 256, 256)},
	{"backward-inproj-weights", sharedBOps(128, 4096, 1, 256, 256)},
}

// BenchmarkMatMuls times the model's groups of products of bench train's
// shape (M = 4096, D = 128, Din = 256, R = 8, N = 16) as MatMuls and as
// one MatMul after another: x_proj's forward (NT, n 8, 16, 16, one u),
// the three that add into dU (NN, k 8, 16, 16), x_proj's weight
// gradients (TN, m 8, 16, 16 over k = 4096, one u) and in_proj's dXn (NN,
// two halves into one c), which Backward groups; and in_proj's forward
// and weight gradients, which fp32 does not (grouped, they measured
// slower; bf16 groups them). Each product reads operands that are not
// in the caches, as in a training step (a 64 MiB buffer is swept between
// calls, untimed).
func BenchmarkMatMuls(b *testing.B) {
	old := Threads()
	defer SetThreads(old)
	SetThreads(0)
	for _, gc := range benchGroupCases {
		ops := gc.ops(rand.New(rand.NewPCG(1, 2)))
		flops := 0
		for _, o := range ops {
			flops += 2 * o.M * o.N * o.K
		}
		benchGroup(b, gc.name, flops, func() { MatMuls(ops) }, func() {
			for _, o := range ops {
				MatMul(o.TransA, o.TransB, o.M, o.N, o.K, o.A, o.B, o.Beta, o.C)
			}
		})
	}
}

// benchGroup times a group of products of flops in all as one call
// (grouped, "fused=true") and as one product after another (separate),
// with a 64 MiB buffer swept between calls, untimed, so that each call
// reads its operands from memory as in a training step.
func benchGroup(b *testing.B, name string, flops int, grouped, separate func()) {
	flush := make([]float32, 16<<20)
	for _, fused := range []bool{false, true} {
		b.Run(fmt.Sprintf("%s/fused=%v", name, fused), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				for i := range flush {
					flush[i]++
				}
				b.StartTimer()
				if fused {
					grouped()
				} else {
					separate()
				}
			}
			b.ReportMetric(float64(flops)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestMatMulsRoutes checks which route MatMuls takes for the model's
// groups where the Go backend has micro-kernels: by rows for x_proj's
// forward and dU, by columns for x_proj's weight gradients, one after
// another where a product is not on the blocked kernels.
func TestMatMulsRoutes(t *testing.T) {
	defer SetBLAS("auto")
	SetBLAS("go")
	if gemmPick(256) == nil {
		t.Skip("no micro-kernels on the Go backend: every group runs one MatMul after another")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, c := range []struct {
		name       string
		ops        []MatMulOp
		rows, cols bool
	}{
		{"forward x_proj", sharedAOps(4096, 256, 8, 16, 16)(r), true, false},
		{"dU", sumOps(4096, 256, 1, 8, 16, 16)(r), true, false},
		{"x_proj weights", sharedBOps(256, 4096, 1, 8, 16, 16)(r), false, true},
		{"gemv", sharedAOps(3, 64, 8, 16)(r), false, false},
		{"reads another's c", groupCases[len(groupCases)-1].ops(r), false, false},
	} {
		var t1, t2 gemmTask
		if rows, cols := gemmGroupOK(c.ops, &t1), gemmColumnGroupOK(c.ops, &t2); rows != c.rows || (!rows && cols != c.cols) {
			t.Errorf("%s: by rows %v, by columns %v; want %v, %v", c.name, rows, cols, c.rows, c.cols)
		}
	}
}
