package kernels

import "unsafe"

// MatMulOp is one product c = op(a)·op(b) + beta·c, with MatMul's
// arguments: op(a) is m×k, op(b) k×n, c m×n, all row-major.
type MatMulOp struct {
	TransA, TransB bool
	M, N, K        int
	A, B           []float32
	Beta           float32
	C              []float32
}

// MatMuls computes the products ops in order, with the same bits as
// calling MatMul on each in turn, reading an operand several of them
// share from memory once. The model's narrow products are bound by that
// traffic rather than by their flops: x_proj's row blocks (Δ, B, C) all
// read u, 4 MB a layer in bench train's shape, their input gradients all
// add into dU, and their weight gradients all read u again.
//
// Where every op has the same number of rows and the Go backend would run
// each on its blocked micro-kernels (matMulBlocked), MatMuls runs them
// gemmGroupRows rows at a time: each op in turn on a block of rows, so
// that the block of a shared A or C stays in the caches between the ops
// (gemmGroupOK). Where they are TN products over the same k with the same
// number of columns (a shared B, read in place), each on the blocked or
// the transposed route (matMulTransposed), it runs them gemmGroupCols
// columns and gemmKC steps of k at a time, so that the shared block of B
// stays in the caches (gemmColumnGroupOK). Either way each element of
// each c is summed by the same micro-kernel in the same order (the blocks
// only decide which worker computes which tile, as the thread split of
// one product does), so the result is that of the separate calls.
//
// The ops may share A, B and C (products summed into one c, each after
// the last: the later ops' beta is then 1), but no op may read what
// another writes; where one does, or the backend or a shape takes another
// route, the ops run one MatMul after another. Grouping does not pay
// everywhere: in_proj's two forward products of xn, grouped, measured
// slower (BenchmarkMatMuls), so callers choose the groups.
func MatMuls(ops []MatMulOp) {
	for i := range ops {
		o := &ops[i]
		if o.M < 0 || o.N < 0 || o.K < 0 || len(o.A) < o.M*o.K || len(o.B) < o.K*o.N || len(o.C) < o.M*o.N {
			panic("kernels: matmuls: buffer too short")
		}
	}
	var t gemmTask
	switch {
	case gemmGroupOK(ops, &t):
		t.m = ops[0].M
		t.units = (t.m + gemmGroupRows - 1) / gemmGroupRows
		// A transposed B (x_proj's rows) would be packed again for each
		// block of rows: transpose it once into a row-major B instead,
		// which the kernel reads in place (the same values in the same
		// order: the same bits).
		var bufs [gemmGroupMax]*[]float32
		for i := range t.group.n {
			o := &t.group.ops[i]
			if !o.TransB || o.K*o.N > gemmGroupTransposeB || !t.group.kerns[i].inPlaceB {
				continue
			}
			bufs[i] = getF32(o.K * o.N)
			bt := *bufs[i]
			for j := 0; j < o.N; j++ {
				for p, v := range o.B[j*o.K : (j+1)*o.K] {
					bt[p*o.N+j] = v
				}
			}
			o.B, o.TransB = bt, false
		}
		defer func() {
			for _, b := range bufs {
				if b != nil {
					putF32(b)
				}
			}
		}()
	case gemmColumnGroupOK(ops, &t):
		t.n = ops[0].N
		t.units = (t.n + gemmGroupCols - 1) / gemmGroupCols
		// Cᵀ of each op on the transposed route, transposed into its c
		// at the end.
		var bufs [gemmGroupMax]*[]float32
		for i, o := range ops {
			if t.group.route[i] == gemmRouteTransposed {
				bufs[i] = getF32(o.M * o.N)
				t.group.t[i] = *bufs[i]
			}
		}
		defer func() {
			for _, b := range bufs {
				if b != nil {
					putF32(b)
				}
			}
		}()
	default:
		for i := range ops {
			o := &ops[i]
			MatMul(o.TransA, o.TransB, o.M, o.N, o.K, o.A, o.B, o.Beta, o.C)
		}
		return
	}
	flops := 0
	for _, o := range ops {
		flops += 2 * o.M * o.N * o.K
	}
	t.parts = min(Threads(), max(1, flops/gemmMinFlops), t.units)
	gemmDispatch(t)
}

// gemmGroupRows is the rows of each block of MatMuls' fused route: a
// multiple of every micro-kernel's mr (8, 14, 16 and 24), and small enough
// that a block of a 256-wide operand (336 KiB) stays in L2 between the ops.
const gemmGroupRows = 336

// gemmGroupTransposeB is the largest transposed B (k·n floats) that
// MatMuls' route by rows transposes once rather than packing it again for
// each block of rows.
const gemmGroupTransposeB = 64 << 10

// gemmGroupMax is the most ops MatMuls runs together (x_proj's row blocks
// of a complex model: Δ, B and C with their imaginary parts).
const gemmGroupMax = 6

// gemmGroupCols is the columns of each block of MatMuls' route by
// columns: a multiple of the kernels' tile widths (nr 32 on the blocked
// route, mr 16 and 24 of Cᵀ on the transposed one, up to the last tile),
// and a block of a shared row-major B for one pass over k (256×64 floats,
// 64 KiB) stays in L2 between the ops.
const gemmGroupCols = 64

// gemmGroup is the ops of MatMuls' fused routes and their micro-kernels:
// by blocks of rows (gemmGroupOK), or, when cols is set, by blocks of
// columns (gemmColumnGroupOK), each op on its route, with t the Cᵀ of
// those on the transposed route.
type gemmGroup struct {
	n     int
	cols  bool
	ops   [gemmGroupMax]MatMulOp
	kerns [gemmGroupMax]*gemmKernel
	route [gemmGroupMax]gemmRoute
	t     [gemmGroupMax][]float32
}

// gemmGroupOK reports whether ops can take the fused route, and if so
// copies them and their kernels into t.
func gemmGroupOK(ops []MatMulOp, t *gemmTask) bool {
	if !groupable(ops, true) {
		return false
	}
	m := ops[0].M
	for i, o := range ops {
		if o.M != m || o.N == 0 || o.K == 0 {
			return false
		}
		route, kern := gemmPlan(o.TransA, o.TransB, o.M, o.N, o.K)
		if route != gemmRouteBlocked || kern == nil {
			return false
		}
		t.group.ops[i] = o
		t.group.kerns[i] = kern
	}
	t.group.n = len(ops)
	return true
}

// groupable reports whether ops may run as one group on the Go backend:
// two to gemmGroupMax of them, no op reading a c another writes, and two
// ops writing one c only when it is the same matrix (the same start and
// columns) and sharedC allows it; otherwise their c's are apart.
func groupable(ops []MatMulOp, sharedC bool) bool {
	if len(ops) < 2 || len(ops) > gemmGroupMax {
		return false
	}
	if b := currentBLAS(); b == blasOpenBLAS || b == blasGonum {
		return false
	}
	for i, o := range ops {
		for j, p := range ops {
			if overlaps(o.C[:o.M*o.N], p.A[:p.M*p.K]) || overlaps(o.C[:o.M*o.N], p.B[:p.K*p.N]) {
				return false
			}
			if i != j && overlaps(o.C[:o.M*o.N], p.C[:p.M*p.N]) &&
				(!sharedC || unsafe.SliceData(o.C) != unsafe.SliceData(p.C) || o.N != p.N) {
				return false
			}
		}
	}
	return true
}

// overlaps reports whether x and y share an element.
func overlaps(x, y []float32) bool {
	if len(x) == 0 || len(y) == 0 {
		return false
	}
	x0, y0 := uintptr(unsafe.Pointer(unsafe.SliceData(x))), uintptr(unsafe.Pointer(unsafe.SliceData(y)))
	return x0 < y0+4*uintptr(len(y)) && y0 < x0+4*uintptr(len(x))
}

// runGroup runs part w of MatMuls' fused route: its blocks of rows, each
// op in turn on each block.
func (t *gemmTask) runGroup() {
	if t.group.cols {
		t.runColumnGroup()
		return
	}
	lo, hi := span(t.units, t.parts, t.w)
	g := &t.group
	for blk := lo; blk < hi; blk++ {
		i0, i1 := blk*gemmGroupRows, min((blk+1)*gemmGroupRows, t.m)
		for i, o := range g.ops[:g.n] {
			gemmWorker(g.kerns[i], o.TransA, o.TransB, o.M, o.N, o.K, o.A, o.B, o.Beta, o.C, i0, i1, 0, o.N)
		}
	}
}

// gemmColumnGroupOK reports whether ops can take the fused route by
// columns, and if so copies them, their routes and kernels into t: TN
// ops (op(A) = Aᵀ, B row-major: the steps of k are whole rows of both) of
// N columns each summed over the same K (the x_proj blocks' weight
// gradients, Δ R×Din, B and C N×Din, all over k = B·L with u as B), each
// on the blocked or the transposed route, writing c's apart from each
// other and from every operand.
func gemmColumnGroupOK(ops []MatMulOp, t *gemmTask) bool {
	if !groupable(ops, false) {
		return false
	}
	n, k := ops[0].N, ops[0].K
	for i, o := range ops {
		if o.N != n || o.K != k || o.M == 0 || n == 0 || k == 0 || !o.TransA || o.TransB {
			return false
		}
		route, kern := gemmPlan(o.TransA, o.TransB, o.M, o.N, o.K)
		if (route != gemmRouteBlocked && route != gemmRouteTransposed) || kern == nil {
			return false
		}
		t.group.ops[i] = o
		t.group.kerns[i] = kern
		t.group.route[i] = route
	}
	t.group.n = len(ops)
	t.group.cols = true
	return true
}

// runColumnGroup runs part w of MatMuls' route by columns: for each of
// its blocks of columns, one pass over k in blocks of gemmKC, each op in
// turn on each (so the shared operand's block is read from memory once),
// then the Cᵀ of the transposed ops into their c. A pass over
// [pc, pc+kc) is gemmWorker on the operands from their row pc, with beta
// for the first pass and 1 after, as its own loop over k does it: each
// element is summed in the same order as by MatMul.
func (t *gemmTask) runColumnGroup() {
	lo, hi := span(t.units, t.parts, t.w)
	g := &t.group
	for blk := lo; blk < hi; blk++ {
		j0, j1 := blk*gemmGroupCols, min((blk+1)*gemmGroupCols, t.n)
		k := g.ops[0].K
		for pc := 0; pc < k; pc += gemmKC {
			kc := min(gemmKC, k-pc)
			for i, o := range g.ops[:g.n] {
				a, b := o.A[pc*o.M:], o.B[pc*o.N:] // op(A) = Aᵀ and B from step pc on
				if g.route[i] == gemmRouteBlocked {
					beta := o.Beta
					if pc > 0 {
						beta = 1
					}
					gemmWorker(g.kerns[i], o.TransA, o.TransB, o.M, o.N, kc, a, b, beta, o.C, 0, o.M, j0, j1)
					continue
				}
				// matMulTransposed: Cᵀ = op(B)ᵀ·op(A)ᵀ with beta 0, rows j0…j1.
				var beta float32
				if pc > 0 {
					beta = 1
				}
				gemmWorker(g.kerns[i], !o.TransB, !o.TransA, o.N, o.M, kc, b, a, beta, g.t[i], j0, j1, 0, o.M)
			}
		}
		for i, o := range g.ops[:g.n] {
			if g.route[i] != gemmRouteTransposed {
				continue
			}
			m, n, tt := o.M, o.N, g.t[i]
			for r := 0; r < m; r++ {
				row := o.C[r*n+j0 : r*n+j1]
				if o.Beta == 0 {
					for j := range row {
						row[j] = tt[(j0+j)*m+r]
					}
					continue
				}
				for j := range row {
					row[j] = tt[(j0+j)*m+r] + o.Beta*row[j]
				}
			}
		}
	}
}
