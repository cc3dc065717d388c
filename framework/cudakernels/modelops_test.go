package cudakernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/kernels"
)

func TestEmbedIndex(t *testing.T) {
	ix, err := NewEmbedIndex([]int32{3, 1, 3, 0, 1, 3}, 4)
	if err != nil {
		t.Fatal(err)
	}
	want := []int32{0, 1, 3, 0, 1, 3, 6, 3, 1, 4, 0, 2, 5}
	if ix.NU != 3 || fmt.Sprint(ix.buf) != fmt.Sprint(want) {
		t.Fatalf("index %d %v, want 3 %v", ix.NU, ix.buf, want)
	}
	if _, err := NewEmbedIndex([]int32{4}, 4); err == nil {
		t.Fatal("id 4 of V 4 accepted")
	}
	if _, err := NewEmbedIndex([]int32{0, -1}, 4); err == nil {
		t.Fatal("id -1 accepted")
	}
	// Against a stable sort of the rows by id, on random and awkward ids.
	r := rand.New(rand.NewPCG(4, 4))
	for _, c := range []struct{ M, V int }{{0, 5}, {1, 1}, {7, 1}, {100, 3}, {1000, 50280}, {16384, 50280}, {300, 300}} {
		ids := make([]int32, c.M)
		for i := range ids {
			ids[i] = int32(r.IntN(c.V))
		}
		if c.M > 2 {
			ids[0], ids[c.M-1] = 0, int32(c.V-1) // the ends of the vocabulary
		}
		ix, err := NewEmbedIndex(ids, c.V)
		if err != nil {
			t.Fatal(err)
		}
		if want := embedIndexBySort(ids); fmt.Sprint(ix.buf) != fmt.Sprint(want.buf) || ix.NU != want.NU || ix.M != c.M {
			t.Errorf("M %d V %d: index differs from the stable sort's", c.M, c.V)
		}
	}
}

// embedIndexBySort is the index by a stable sort of the rows by id: the
// definition NewEmbedIndex's counting sort is held to.
func embedIndexBySort(ids []int32) *EmbedIndex {
	M := len(ids)
	pos := make([]int32, M)
	for i := range pos {
		pos[i] = int32(i)
	}
	slices.SortStableFunc(pos, func(a, b int32) int { return int(ids[a]) - int(ids[b]) })
	var uids, off []int32
	for k, p := range pos {
		if k == 0 || ids[p] != ids[pos[k-1]] {
			uids = append(uids, ids[p])
			off = append(off, int32(k))
		}
	}
	off = append(off, int32(M))
	buf := append(append(append([]int32{}, uids...), off...), pos...)
	return &EmbedIndex{M: M, NU: len(uids), buf: buf}
}

// BenchmarkNewEmbedIndex: the index of a mamba-130m batch (8 × 2048 ids
// of 50,280), built on the host for every training step.
func BenchmarkNewEmbedIndex(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	ids := make([]int32, 8*2048)
	for i := range ids {
		ids[i] = int32(r.IntN(50280))
	}
	for b.Loop() {
		if _, err := NewEmbedIndex(ids, 50280); err != nil {
			b.Fatal(err)
		}
	}
}

func TestEmbedding(t *testing.T) {
	d := openOrSkip(t)
	for i, c := range []struct{ M, V, C int }{{1, 3, 5}, {300, 17, 33}, {4096, 50280, 64}, {777, 9, 768}} {
		r := rand.New(rand.NewPCG(uint64(i), 11))
		ids := make([]int32, c.M)
		for j := range ids {
			ids[j] = int32(r.IntN(c.V))
		}
		table := rnd(r, c.V*c.C, -1, 1)
		dout := rnd(r, c.M*c.C, -1, 1)
		shape := fmt.Sprintf("M%d V%d C%d", c.M, c.V, c.C)
		db := newDevBufs(t, d)
		out := db.out(c.M * c.C)
		if err := d.EmbeddingForward(out.Ptr(), db.in(table), db.ints(ids), c.M, c.C); err != nil {
			t.Fatal(err)
		}
		want := make([]float32, c.M*c.C)
		kernels.EmbeddingForward(want, table, ids, c.V, c.C)
		report(t, "embedding fwd", shape, relErr(db.get(out, c.M*c.C), want), 0)
		// Backward adds into an existing gradient.
		g0 := rnd(r, c.V*c.C, -1, 1)
		gt := db.in(g0)
		ix, err := NewEmbedIndex(ids, c.V)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.EmbeddingBackward(gt, db.in(dout), ix, c.C); err != nil {
			t.Fatal(err)
		}
		kernels.EmbeddingBackward(g0, dout, ids, c.V, c.C)
		got := make([]float32, c.V*c.C)
		if err := d.Synchronize(); err != nil {
			t.Fatal(err)
		}
		if err := (d.View(gt, 4*len(got))).CopyToF32(got); err != nil {
			t.Fatal(err)
		}
		report(t, "embedding bwd", shape, relErr(got, g0), 1e-7)
	}
}

func TestModelElementwise(t *testing.T) {
	d := openOrSkip(t)
	r := rand.New(rand.NewPCG(5, 5))
	n := 100003
	x, s, o := rnd(r, n, -2, 2), rnd(r, n, -2, 2), rnd(r, n, -2, 2)
	db := newDevBufs(t, d)
	get := func(p cuda.DevPtr) []float32 {
		v := make([]float32, n)
		if err := d.Synchronize(); err != nil {
			t.Fatal(err)
		}
		if err := (d.View(p, 4*n)).CopyToF32(v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	po, px, ps := db.in(o), db.in(x), db.in(s)
	if err := d.AddMul(po, px, ps, n); err != nil {
		t.Fatal(err)
	}
	if err := d.AddMul(po, px, 0, n); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, n)
	for i := range want {
		want[i] = o[i] + x[i]*s[i]
		want[i] += x[i]
	}
	report(t, "add_mul", fmt.Sprint("n", n), relErr(get(po), want), 1e-7)
	ne := db.out(n)
	if err := d.NegExp(ne.Ptr(), px, n); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i] = -float32(math.Exp(float64(x[i])))
	}
	report(t, "neg_exp", fmt.Sprint("n", n), relErr(get(ne.Ptr()), want), 1e-7)
	ss, err := d.SumSquares(px, n)
	if err != nil {
		t.Fatal(err)
	}
	var ref float64
	for _, v := range x {
		ref += float64(v) * float64(v)
	}
	report(t, "sum of squares", fmt.Sprint("n", n), math.Abs(ss-ref)/ref, 1e-12)
	// With two factors not yet applied: the sum of the scaled values'
	// squares, each value rounded after each product as in place.
	ss, err = d.SumSquares(px, n, 0.3, 1.7)
	if err != nil {
		t.Fatal(err)
	}
	ref = 0
	for _, v := range x {
		y := float64(v * 0.3 * 1.7)
		ref += y * y
	}
	report(t, "sum of squares, scaled", fmt.Sprint("n", n), math.Abs(ss-ref)/ref, 1e-12)
	if err := d.Scale(px, 0.5, n); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		want[i] = x[i] * 0.5
	}
	report(t, "scale", fmt.Sprint("n", n), relErr(get(px), want), 0)
}

// TestCopyCols moves column blocks between matrices of other widths and
// leaves the other columns alone; bad blocks are refused.
func TestCopyCols(t *testing.T) {
	d := openOrSkip(t)
	r := rand.New(rand.NewPCG(3, 31))
	M, lds, ldd := 37, 80, 19
	src := rnd(r, M*lds, -1, 1)
	dst0 := rnd(r, M*ldd, -1, 1)
	db := newDevBufs(t, d)
	ps, pd := db.in(src), db.in(dst0)
	if err := d.CopyCols(Cols{P: pd, LD: ldd, Off: 3, W: 16}, Cols{P: ps, LD: lds, Off: 48, W: 16}, M); err != nil {
		t.Fatal(err)
	}
	if err := d.Synchronize(); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, M*ldd)
	if err := d.View(pd, 4*M*ldd).CopyToF32(got); err != nil {
		t.Fatal(err)
	}
	for m := range M {
		for j := range ldd {
			want := dst0[m*ldd+j]
			if j >= 3 && j < 19 {
				want = src[m*lds+48+j-3]
			}
			if got[m*ldd+j] != want {
				t.Fatalf("row %d column %d: %v, want %v", m, j, got[m*ldd+j], want)
			}
		}
	}
	for _, c := range [][2]Cols{
		{{P: pd, LD: ldd, Off: 4, W: 16}, {P: ps, LD: lds, Off: 0, W: 16}},  // past dst's width
		{{P: pd, LD: ldd, Off: 0, W: 16}, {P: ps, LD: lds, Off: 70, W: 16}}, // past src's
		{{P: pd, LD: ldd, Off: 0, W: 8}, {P: ps, LD: lds, Off: 0, W: 16}},   // widths differ
	} {
		if err := d.CopyCols(c[0], c[1], M); err == nil {
			t.Errorf("%+v ← %+v: no error", c[0], c[1])
		}
	}
}
