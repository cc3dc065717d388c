package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/sys/cpu"
)

type matMulFunc func(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32)

type matMulImpl struct {
	name string
	fn   matMulFunc
	skip string // why it cannot run here; "" when it can
}

// matMulImpls lists every matrix-multiply implementation: each micro-kernel
// this CPU runs (on any shape), the Go backend (the kernel chosen by shape,
// gonum for m < 4, the transposed product for few rows), gonum, OpenBLAS (skipped with the reason
// when it does not load) and the exported MatMul. MAMBAKIT_KERNEL narrows
// the list to the names it contains (comma-separated).
func matMulImpls() []matMulImpl {
	var impls []matMulImpl
	for _, k := range gemmKernels() {
		impls = append(impls, matMulImpl{name: k.name, fn: func(tA, tB bool, m, n, kk int, a, b []float32, beta float32, c []float32) {
			matMulBlocked(k, tA, tB, m, n, kk, a, b, beta, c)
		}})
	}
	impls = append(impls, matMulImpl{name: "go", fn: matMulGo}, matMulImpl{name: "gonum", fn: matMulGonum},
		matMulImpl{name: "gonumblocks", fn: matMulGonumBlocks})
	ob := matMulImpl{name: "openblas", fn: matMulOpenBLAS}
	if err := loadOpenBLAS(); err != nil {
		ob.skip = "OpenBLAS not loadable: " + err.Error()
	}
	impls = append(impls, ob, matMulImpl{name: "MatMul", fn: MatMul})
	return slices.DeleteFunc(impls, func(im matMulImpl) bool { return !kernelListed(im.name) })
}

// TestMatMulKernelsPresent fails when the assembly is built and the CPU
// has AVX2+FMA (or AVX-512) but the Go backend does not list the kernel
// (cryptotest's flagship rule).
func TestMatMulKernelsPresent(t *testing.T) {
	t.Logf("Go backend kernel: %s; BLAS: %s", GoGemmKernel(), BLAS())
	names := map[string]bool{}
	for _, k := range gemmKernels() {
		names[k.name] = true
	}
	if gemmAsm && cpu.X86.HasAVX2 && cpu.X86.HasFMA && !names["avx2"] {
		t.Error("CPU has AVX2 and FMA but the avx2 kernel is not listed")
	}
	if gemmAsm && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && !(names["avx512"] && names["avx512n16"] && names["avx512n8"] && names["avx512m8"]) {
		t.Error("CPU has AVX-512 but the avx512 kernels are not listed")
	}
	if lib, core, config, err := OpenBLASInfo(); err == nil {
		t.Logf("OpenBLAS: %s, core %s, %s", lib, core, config)
	} else {
		t.Logf("OpenBLAS: %v", err)
	}
}

type mmCase struct {
	tA, tB  bool
	m, n, k int
	beta    float32
}

func (c mmCase) String() string {
	return fmt.Sprintf("m%dn%dk%d/tA=%v,tB=%v,beta=%v", c.m, c.n, c.k, c.tA, c.tB, c.beta)
}

// mmInputs returns a, b and the initial c of a case: c is NaN when beta
// is 0 (beta = 0 must overwrite, not scale).
func mmInputs(c mmCase) (a, b, c0 []float32) {
	r := rand.New(rand.NewPCG(7, uint64(c.m*1_000_003+c.n*1009+c.k)))
	a = randSlice(r, c.m*c.k, -1, 1)
	b = randSlice(r, c.k*c.n, -1, 1)
	c0 = randSlice(r, c.m*c.n, -1, 1)
	if c.beta == 0 {
		for i := range c0 {
			c0[i] = float32(math.NaN())
		}
	}
	return
}

// checkMatMul runs every implementation on the case against the
// reference, with guard regions around c and read-only checks on a, b.
func checkMatMul(t *testing.T, impls []matMulImpl, cs mmCase) {
	t.Helper()
	a, b, c0 := mmInputs(cs)
	want := append([]float32(nil), c0...)
	matMulGeneric(cs.tA, cs.tB, cs.m, cs.n, cs.k, a, b, cs.beta, want)
	a0, b0 := append([]float32(nil), a...), append([]float32(nil), b...)
	for _, im := range impls {
		if im.skip != "" {
			continue
		}
		got, cg := guarded(t, im.name+" "+cs.String()+" c", cs.m*cs.n)
		copy(got, c0)
		im.fn(cs.tA, cs.tB, cs.m, cs.n, cs.k, a, b, cs.beta, got)
		cg()
		// float32 sums of k products of [-1,1] values against float64 sums.
		tol := 1e-6 * math.Sqrt(float64(cs.k)+1) * 8
		checkCloseFloor(t, im.name+" "+cs.String(), got, want, tol, 1)
		if !equalBits(a, a0) || !equalBits(b, b0) {
			t.Fatalf("%s %v: input changed", im.name, cs)
		}
	}
}

func equalBits(x, y []float32) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			return false
		}
	}
	return true
}

var mmTrans = [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}}

// TestMatMulAwkward sweeps m, n, k over sizes around the tile widths
// (14 and 6 rows, 32 and 16 columns) for all transposes and beta 0 and 1.
func TestMatMulAwkward(t *testing.T) {
	impls := matMulImpls()
	for _, im := range impls {
		if im.skip != "" {
			t.Logf("%s skipped: %s", im.name, im.skip)
		}
	}
	sizes := []int{1, 3, 15, 16, 17, 31, 33, 255}
	old := Threads()
	defer SetThreads(old)
	SetThreads(3) // exercises the row and column splits of the larger shapes
	for _, m := range sizes {
		for _, n := range sizes {
			for _, k := range sizes {
				for _, tr := range mmTrans {
					for _, beta := range []float32{0, 1} {
						checkMatMul(t, impls, mmCase{tr[0], tr[1], m, n, k, beta})
					}
				}
			}
		}
	}
}

// TestMatMulBlocks covers the cache blocking: k over gemmKC (beta applied
// on the first pass only) and over gemmInPlaceK (A packed), n over gemmNC,
// a beta other than 0 and 1, both thread splits, and the Go backend's
// short (m ≤ 8) and transposed (m ≤ 16) paths.
func TestMatMulBlocks(t *testing.T) {
	impls := matMulImpls()
	forThreads(t, func(t *testing.T) {
		for _, s := range [][3]int{{37, 530, 600}, {530, 19, 300}, {29, 45, 1030}, {64, 64, 257}, {8, 300, 600}, {5, 40, 100}, {12, 70, 300}} {
			for _, tr := range mmTrans {
				for _, beta := range []float32{0, 1, -0.5} {
					checkMatMul(t, impls, mmCase{tr[0], tr[1], s[0], s[1], s[2], beta})
				}
			}
		}
	})
}

// TestMatMulZeroK checks that k = 0 gives c = beta·c, and c = 0 for beta 0.
func TestMatMulZeroK(t *testing.T) {
	c := []float32{float32(math.NaN()), 2}
	MatMul(false, false, 1, 2, 0, nil, nil, 0, c)
	if c[0] != 0 || c[1] != 0 {
		t.Errorf("beta 0: got %v", c)
	}
	c = []float32{1, 2}
	MatMul(false, false, 1, 2, 0, nil, nil, 2, c)
	if c[0] != 2 || c[1] != 4 {
		t.Errorf("beta 2: got %v", c)
	}
}

// TestMatMulDeterministic checks that each implementation gives the same
// bits twice with the same thread count, and that the Go kernels and gonum
// give the same bits for 1, 2 and 3 threads (their split never divides k).
func TestMatMulDeterministic(t *testing.T) {
	old := Threads()
	defer SetThreads(old)
	for _, im := range matMulImpls() {
		if im.skip != "" {
			t.Logf("%s skipped: %s", im.name, im.skip)
			continue
		}
		// Go kernels and gonum never split k: the same bits for every
		// thread count. OpenBLAS: the same bits for the same count.
		anyThreads := im.name != "openblas" && !(im.name == "MatMul" && BLAS() == "openblas")
		for _, cs := range []mmCase{{false, true, 300, 256, 128, 0}, {true, false, 128, 96, 1500, 1}, {false, false, 40, 700, 64, 0}, {false, true, 3, 3000, 300, 1}} {
			a, b, c0 := mmInputs(cs)
			seen := map[int][]float32{}
			var first []float32
			for _, th := range []int{1, 2, 3, 1, 2, 3} {
				SetThreads(th)
				got := append([]float32(nil), c0...)
				im.fn(cs.tA, cs.tB, cs.m, cs.n, cs.k, a, b, cs.beta, got)
				if prev, ok := seen[th]; ok && !equalBits(got, prev) {
					t.Errorf("%s %v: threads=%d: two runs differ", im.name, cs, th)
				}
				seen[th] = got
				if first == nil {
					first = got
				} else if anyThreads && !equalBits(got, first) {
					t.Errorf("%s %v: threads=%d differs from threads=1", im.name, cs, th)
				}
			}
		}
	}
}

// TestSetBLAS checks the backend switch.
func TestSetBLAS(t *testing.T) {
	defer SetBLAS("auto")
	for _, name := range []string{"go", "gonum"} {
		if err := SetBLAS(name); err != nil || BLAS() != name {
			t.Errorf("SetBLAS(%q): err %v, BLAS() = %q", name, err, BLAS())
		}
	}
	if err := SetBLAS("mkl"); err == nil {
		t.Error("SetBLAS(mkl): no error")
	}
	err := SetBLAS("openblas")
	if (err == nil) != (loadOpenBLAS() == nil) {
		t.Errorf("SetBLAS(openblas): %v, but load: %v", err, loadOpenBLAS())
	}
	if err == nil && BLAS() != "openblas" {
		t.Errorf("BLAS() = %q after SetBLAS(openblas)", BLAS())
	}
	if err := SetBLAS("auto"); err != nil {
		t.Fatal(err)
	}
	want := "go" // the Go assembly kernels where this CPU runs them
	if len(gemmKernels()) == 0 && loadOpenBLAS() == nil {
		want = "openblas"
	}
	if BLAS() != want {
		t.Errorf("auto: BLAS() = %q, want %q", BLAS(), want)
	}
}

// TestMatMulAllocs checks that MatMul allocates nothing once warm, on the
// Go path (the worker team, pooled buffers; gonum serially on blocks
// without assembly) and on OpenBLAS (pooled sgemm_ arguments): the
// training loop counts allocations.
func TestMatMulAllocs(t *testing.T) {
	defer SetBLAS("auto")
	old := Threads()
	defer SetThreads(old)
	a, b, c := make([]float32, 600*256), make([]float32, 256*600), make([]float32, 600*600)
	for _, be := range []string{"go", "openblas"} {
		if err := SetBLAS(be); err != nil {
			t.Logf("%s skipped: %v", be, err)
			continue
		}
		for _, th := range []int{1, 2} {
			SetThreads(th)
			for _, cs := range []mmCase{{false, true, 600, 256, 256, 0}, {true, false, 16, 256, 600, 1}, {false, true, 1, 600, 256, 0}} {
				n := testing.AllocsPerRun(10, func() { MatMul(cs.tA, cs.tB, cs.m, cs.n, cs.k, a, b, cs.beta, c) })
				if n != 0 {
					t.Errorf("%s, %d threads, %v: %v allocations per call", be, th, cs, n)
				}
			}
		}
	}
}

// TestMatMulConcurrent runs products from several goroutines at once (one
// holds the worker team, the others start goroutines of their own) and
// checks each against its result alone.
func TestMatMulConcurrent(t *testing.T) {
	defer SetBLAS("auto")
	old := Threads()
	defer SetThreads(old)
	SetBLAS("go")
	SetThreads(2)
	cases := []mmCase{{false, true, 300, 96, 64, 0}, {false, false, 200, 128, 100, 0}, {true, false, 64, 96, 500, 0}, {false, true, 9, 200, 64, 0}}
	want := make([][]float32, len(cases))
	for i, cs := range cases {
		a, b, c0 := mmInputs(cs)
		want[i] = append([]float32(nil), c0...)
		MatMul(cs.tA, cs.tB, cs.m, cs.n, cs.k, a, b, 0, want[i])
	}
	errs := make(chan string, len(cases))
	for i, cs := range cases {
		go func() {
			a, b, c0 := mmInputs(cs)
			for range 20 {
				got := append([]float32(nil), c0...)
				MatMul(cs.tA, cs.tB, cs.m, cs.n, cs.k, a, b, 0, got)
				if !equalBits(got, want[i]) {
					errs <- cs.String() + ": differs when run concurrently"
					return
				}
			}
			errs <- ""
		}()
	}
	for range cases {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}
