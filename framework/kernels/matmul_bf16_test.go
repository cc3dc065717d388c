package kernels

import (
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"golang.org/x/sys/cpu"
)

// roundBF16Ref is RoundBF16's reference for finite and infinite x: the
// nearest of the two bfloat16 values around x, chosen by exact rational
// distance (ties to the even significand), written independently of the
// bit trick.
func roundBF16Ref(x float32) uint16 {
	b := math.Float32bits(x)
	if math.IsInf(float64(x), 0) {
		return uint16(b >> 16)
	}
	lo := uint16(b >> 16) // truncated: toward zero
	if b&0xffff == 0 {
		return lo
	}
	hi := lo + 1 // the next bfloat16 away from zero (0x7f80: Inf)
	ex := new(big.Rat).SetFloat64(float64(x))
	vlo := new(big.Rat).SetFloat64(float64(FromBF16(lo)))
	var vhi *big.Rat
	if hi&0x7fff == 0x7f80 {
		// Past the largest bfloat16: IEEE rounds to Inf when x is at
		// least halfway to 2^128, the next value the exponent would hold.
		two128 := new(big.Rat).SetFrac(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))
		if x < 0 {
			two128.Neg(two128)
		}
		vhi = two128
	} else {
		vhi = new(big.Rat).SetFloat64(float64(FromBF16(hi)))
	}
	dlo := new(big.Rat).Abs(new(big.Rat).Sub(ex, vlo))
	dhi := new(big.Rat).Abs(new(big.Rat).Sub(vhi, ex))
	switch dlo.Cmp(dhi) {
	case -1:
		return lo
	case 1:
		return hi
	}
	if lo&1 == 0 {
		return lo
	}
	return hi
}

// TestRoundBF16 checks the conversion on awkward values (ties both ways,
// the largest values, subnormals, infinities, NaNs) and against
// roundBF16Ref on random bit patterns of every exponent.
func TestRoundBF16(t *testing.T) {
	f := math.Float32frombits
	tests := map[string]struct {
		x    float32
		want uint16
	}{
		"zero":                 {0, 0x0000},
		"negative zero":        {f(0x80000000), 0x8000},
		"one":                  {1, 0x3f80},
		"exact":                {-2.5, 0xc020},
		"tie to even (down)":   {f(0x3f808000), 0x3f80},
		"tie to even (up)":     {f(0x3f818000), 0x3f82},
		"above tie":            {f(0x3f808001), 0x3f81},
		"below tie":            {f(0x3f807fff), 0x3f80},
		"negative tie":         {f(0xbf818000), 0xbf82},
		"largest bf16":         {f(0x7f7f0000), 0x7f7f},
		"largest float32":      {math.MaxFloat32, 0x7f80},
		"below overflow tie":   {f(0x7f7f7fff), 0x7f7f},
		"overflow tie":         {f(0x7f7f8000), 0x7f80},
		"negative overflow":    {-math.MaxFloat32, 0xff80},
		"+Inf":                 {float32(math.Inf(1)), 0x7f80},
		"-Inf":                 {float32(math.Inf(-1)), 0xff80},
		"smallest subnormal":   {f(0x00000001), 0x0000},
		"subnormal tie (even)": {f(0x00008000), 0x0000},
		"subnormal tie (odd)":  {f(0x00018000), 0x0002},
		"subnormal above tie":  {f(0x00008001), 0x0001},
		"largest subnormal":    {f(0x007fffff), 0x0080}, // rounds up to the smallest normal
		"negative subnormal":   {f(0x80010000), 0x8001},
		"smallest normal":      {f(0x00800000), 0x0080},
	}
	for name, tt := range tests {
		if got := RoundBF16(tt.x); got != tt.want {
			t.Errorf("%s: RoundBF16(%#08x) = %#04x, want %#04x", name, math.Float32bits(tt.x), got, tt.want)
		}
		if got := roundBF16Ref(tt.x); got != tt.want {
			t.Errorf("%s: roundBF16Ref(%#08x) = %#04x, want %#04x (the reference is wrong)", name, math.Float32bits(tt.x), got, tt.want)
		}
	}
	for name, bits := range map[string]uint32{"quiet NaN": 0x7fc00000, "signalling NaN": 0x7f800001, "negative NaN": 0xffc12345, "NaN payload in low half": 0x7f80ffff} {
		got := RoundBF16(f(bits))
		if !math.IsNaN(float64(FromBF16(got))) || got&0x8000 != uint16(bits>>16)&0x8000 || got&0x40 == 0 {
			t.Errorf("%s %#08x: RoundBF16 = %#04x, want a quiet NaN of the same sign", name, bits, got)
		}
	}
	r := rand.New(rand.NewPCG(3, 4))
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	for i := 0; i < n; i++ {
		bits := r.Uint32()
		if i%4 == 0 {
			bits = bits&^0xffff | 0x8000 // a tie
		}
		x := f(bits)
		if math.IsNaN(float64(x)) {
			continue
		}
		if got, want := RoundBF16(x), roundBF16Ref(x); got != want {
			t.Fatalf("RoundBF16(%#08x) = %#04x, want %#04x", bits, got, want)
		}
	}
}

// bf16MatMulImpls lists every bf16 product: the go implementation, the
// blocked product on the Go tile and conversions (bf16TileGo: the layouts
// on every CPU), on the assembly ones where the CPU runs them, and the
// exported MatMulBF16.
// MAMBAKIT_KERNEL narrows the list to the names it contains.
func bf16MatMulImpls() []matMulImpl {
	blocked := func(tile bf16TileFunc, conv bf16Conv) matMulFunc {
		return func(tA, tB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
			matMulBF16Blocked(tile, conv, tA, tB, m, n, k, a, b, beta, c)
		}
	}
	goConv := func(conv bf16Conv) matMulFunc {
		return func(tA, tB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
			matMulBF16Go(conv, tA, tB, m, n, k, a, b, beta, c)
		}
	}
	impls := []matMulImpl{{name: "go", fn: goConv(bf16ConvGo)}, {name: "gotile", fn: blocked(bf16TileGo, bf16ConvGo)}}
	asm := matMulImpl{name: "avx512", skip: "this CPU has no AVX512_BF16 or the build has no assembly"}
	if tile := bf16TileNamed("avx512"); tile != nil && useBF16Here() {
		asm = matMulImpl{name: "avx512", fn: blocked(tile, bf16ConvNamed("avx512"))}
	}
	if conv := bf16ConvNamed("avx512"); conv.roundF32 != nil && gemmAsm && useAVX512Here() {
		// go with the AVX-512F conversions, as on AVX-512 CPUs without
		// AVX512_BF16
		impls = append(impls, matMulImpl{name: "goavx512", fn: goConv(conv)})
	}
	impls = append(impls, asm, matMulImpl{name: "MatMulBF16", fn: MatMulBF16})
	return slices.DeleteFunc(impls, func(im matMulImpl) bool { return !kernelListed(im.name) })
}

// TestBF16KernelPresent fails when the assembly is built and the CPU has
// AVX512_BF16 but MatMulBF16 does not run it (the flagship rule).
func TestBF16KernelPresent(t *testing.T) {
	t.Logf("MatMulBF16 runs %s", BF16Kernel())
	if gemmAsm && cpu.X86.HasAVX512F && cpu.X86.HasAVX512BF16 && len(kernelEnv) == 0 && BF16Kernel() != "avx512" {
		t.Errorf("CPU has AVX512_BF16 but MatMulBF16 runs %s", BF16Kernel())
	}
	if want := capped(kernelEnv, bf16Impls, true); BF16Kernel() != want {
		t.Errorf("BF16Kernel() = %s, registry chooses %s", BF16Kernel(), want)
	}
}

// TestChooseBF16 pins which bf16 product each MAMBAKIT_KERNEL value runs.
func TestChooseBF16(t *testing.T) {
	cpus := map[string][]kernelImpl{
		"bf16":  {{"go", true}, {"avx2", false}, {"avx512", true}},
		"avx2":  {{"go", true}, {"avx2", false}, {"avx512", false}},
		"noasm": {{"go", true}},
	}
	tests := []struct{ cpu, env, want string }{
		{"bf16", "", "avx512"}, {"bf16", "avx512", "avx512"}, {"bf16", "go", "go"}, {"bf16", "avx2", "go"},
		{"bf16", "avx512,go", "avx512"}, {"bf16", "bogus", "avx512"},
		{"avx2", "", "go"}, {"avx2", "avx512", "go"}, {"noasm", "", "go"}, {"noasm", "avx512", "go"},
	}
	for _, tt := range tests {
		if got := capped(parseKernelEnv(tt.env), cpus[tt.cpu], true); got != tt.want {
			t.Errorf("cpu %s, MAMBAKIT_KERNEL=%q: bf16 runs %q, want %q", tt.cpu, tt.env, got, tt.want)
		}
	}
}

// checkMatMulBF16 runs every bf16 implementation on the case against
// matMulBF16Generic, with guard regions around c and read-only checks on
// a and b.
func checkMatMulBF16(t *testing.T, impls []matMulImpl, cs mmCase) {
	t.Helper()
	a, b, c0 := mmInputs(cs)
	want := slices.Clone(c0)
	matMulBF16Generic(cs.tA, cs.tB, cs.m, cs.n, cs.k, a, b, cs.beta, want)
	a0, b0 := slices.Clone(a), slices.Clone(b)
	for _, im := range impls {
		if im.skip != "" {
			continue
		}
		got, cg := guarded(t, im.name+" "+cs.String()+" c", cs.m*cs.n)
		copy(got, c0)
		im.fn(cs.tA, cs.tB, cs.m, cs.n, cs.k, a, b, cs.beta, got)
		cg()
		checkCloseFloor(t, "bf16 "+im.name+" "+cs.String(), got, want, tolBF16Sum*math.Sqrt(float64(cs.k)+1), 1)
		if !equalBits(a, a0) || !equalBits(b, b0) {
			t.Fatalf("bf16 %s %v: input changed", im.name, cs)
		}
	}
}

// TestMatMulBF16Awkward sweeps m, n, k over 1, 7, 17, 33 (none a multiple
// of the 14×32 tile or of the pair) and the tile sizes with one more, for
// all transposes and beta 0 (c starts NaN) and 1.
func TestMatMulBF16Awkward(t *testing.T) {
	impls := bf16MatMulImpls()
	for _, im := range impls {
		if im.skip != "" {
			t.Logf("%s skipped: %s", im.name, im.skip)
		}
	}
	sizes := []int{1, 7, 17, 33, 14, 15, 32}
	old := Threads()
	defer SetThreads(old)
	SetThreads(3)
	for _, m := range sizes {
		for _, n := range sizes {
			for _, k := range sizes {
				for _, tr := range mmTrans {
					for _, beta := range []float32{0, 1} {
						checkMatMulBF16(t, impls, mmCase{tr[0], tr[1], m, n, k, beta})
					}
				}
			}
		}
	}
}

// TestMatMulBF16Blocks covers the blocking: k over bf16KC and odd (a
// padded last pair in a later pass), n over bf16NC, a beta other than 0
// and 1, the model's shapes, and one and three threads.
func TestMatMulBF16Blocks(t *testing.T) {
	impls := bf16MatMulImpls()
	forThreads(t, func(t *testing.T) {
		for _, s := range [][3]int{{37, 530, 600}, {530, 19, 301}, {29, 45, 1031}, {300, 256, 128}, {128, 96, 1500}, {3, 40, 100}} {
			for _, tr := range mmTrans {
				for _, beta := range []float32{0, 1, -0.5} {
					checkMatMulBF16(t, impls, mmCase{tr[0], tr[1], s[0], s[1], s[2], beta})
				}
			}
		}
	})
}

// TestMatMulBF16Rounds checks that MatMulBF16 does round its inputs: it
// differs from the float32 product by more than float32 sums can, and by
// no more than bf16 inputs can.
func TestMatMulBF16Rounds(t *testing.T) {
	for _, im := range bf16MatMulImpls() {
		if im.skip != "" {
			continue
		}
		for _, tr := range mmTrans {
			cs := mmCase{tr[0], tr[1], 64, 48, 200, 0}
			a, b, _ := mmInputs(cs)
			want := make([]float32, cs.m*cs.n)
			matMulGeneric(cs.tA, cs.tB, cs.m, cs.n, cs.k, a, b, 0, want)
			got := make([]float32, cs.m*cs.n)
			im.fn(cs.tA, cs.tB, cs.m, cs.n, cs.k, a, b, 0, got)
			e, at := scaleErr(got, want, 1)
			t.Logf("%s %v: scale error against float32 %.3g", im.name, cs, e)
			if e > tolBF16Round || e < minBF16Round {
				t.Errorf("%s %v: scale error against the float32 product %.3g (index %d), want in [%g, %g]", im.name, cs, e, at, minBF16Round, tolBF16Round)
			}
		}
	}
}

// TestMatMulBF16NonFinite checks that a NaN or an Inf in a reaches its row
// of c (NaN where an Inf meets a zero) and leaves the other rows finite.
func TestMatMulBF16NonFinite(t *testing.T) {
	for _, im := range bf16MatMulImpls() {
		if im.skip != "" {
			continue
		}
		for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(1))} {
			m, n, k := 20, 40, 9
			a, b, _ := mmInputs(mmCase{false, true, m, n, k, 0})
			a[3*k+4] = bad
			c := make([]float32, m*n)
			im.fn(false, true, m, n, k, a, b, 0, c)
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					v := float64(c[i*n+j])
					finite := !math.IsNaN(v) && !math.IsInf(v, 0)
					if (i == 3) == finite {
						t.Fatalf("%s, %v at a[3][4]: c[%d][%d] = %v", im.name, bad, i, j, v)
					}
				}
			}
		}
	}
}

// TestBF16TileAsm checks the assembly tile against bf16TileGo on packed
// random pairs: bit for bit without beta, within tolBF16Sum with it.
func TestBF16TileAsm(t *testing.T) {
	tile := bf16TileNamed("avx512")
	if tile == nil || !useBF16Here() {
		t.Skip("this CPU has no AVX512_BF16 or the build has no assembly")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, kc2 := range []int{1, 2, 3, 17, 256} {
		// A rows of kc2+3 words (ars), B steps of bf16NR+7 words (bcs):
		// the kernel must honour both strides.
		lda, ldb := kc2+3, bf16NR+7
		ap, bp := make([]uint32, bf16MR*lda), make([]uint32, kc2*ldb)
		for i := range ap {
			ap[i] = bf16Pair(2*r.Float32()-1, 2*r.Float32()-1)
		}
		for i := range bp {
			bp[i] = bf16Pair(2*r.Float32()-1, 2*r.Float32()-1)
		}
		for _, flags := range []int{0, 1} {
			ldc := bf16NR + 5
			c0 := randSlice(r, bf16MR*ldc, -1, 1)
			want, got := slices.Clone(c0), slices.Clone(c0)
			ars, acs, bcs := uintptr(4*lda), uintptr(4), uintptr(4*ldb)
			if kc2 == 17 { // A transposed: steps of bf16MR+1 words
				ars, acs = 4, uintptr(4*(bf16MR+1))
			}
			bf16TileGo(kc2, &ap[0], ars, acs, &bp[0], bcs, &want[0], ldc, 0.75, flags)
			tile(kc2, &ap[0], ars, acs, &bp[0], bcs, &got[0], ldc, 0.75, flags)
			same := 0
			for i := range got {
				if got[i] == want[i] {
					same++
				}
			}
			t.Logf("kc2 %d flags %d: %d of %d elements bit-identical", kc2, flags, same, len(got))
			// Without beta both add each lane's two exact products in the
			// same order, each sum rounded: the same bits. With beta the
			// assembly fuses acc + beta·c into one FMA.
			if flags == 0 && same != len(got) {
				t.Errorf("kc2 %d: %d of %d elements differ from bf16TileGo", kc2, len(got)-same, len(got))
			}
			checkCloseFloor(t, fmt.Sprintf("tile kc2=%d flags=%d", kc2, flags), got, want, tolBF16Sum*math.Sqrt(float64(2*kc2)+1), 1)
			for i := range got { // the columns past the tile are left alone
				if i%ldc >= bf16NR && got[i] != c0[i] {
					t.Fatalf("kc2 %d: c[%d] past the tile changed", kc2, i)
				}
			}
		}
	}
}

func useAVX512Here() bool { return slices.Contains(gemmImpls, kernelImpl{"avx512", true}) }

func useBF16Here() bool { return slices.Contains(bf16Impls, kernelImpl{"avx512", true}) }

// BenchmarkMatMulBF16 reports GFLOP/s for every bf16 implementation on
// the model's shapes (gemmBenchShapes) at the current GOMAXPROCS threads,
// beside MatMul on the same shapes.
func BenchmarkMatMulBF16(b *testing.B) {
	benchMatMulImpls(b, append(bf16MatMulImpls(), matMulImpl{name: "MatMul-fp32", fn: MatMul}), "gotile")
}

func ExampleMatMulBF16() {
	// y = x·Wᵀ with x and W rounded to bfloat16: 1.001 becomes 1.
	x := []float32{1.001, 2}
	w := []float32{3, 1}
	y := make([]float32, 1)
	MatMulBF16(false, true, 1, 1, 2, x, w, 0, y)
	fmt.Println(y)
	// Output: [5]
}

// TestBF16ConvAsm checks the assembly conversions against RoundBF16 on
// the awkward values of TestRoundBF16 and random bit patterns, over
// lengths around the 16-lane groups.
func TestBF16ConvAsm(t *testing.T) {
	if !gemmAsm || !useAVX512Here() {
		t.Skip("this CPU has no AVX-512 or the build has no assembly")
	}
	conv := bf16ConvNamed("avx512")
	f := math.Float32frombits
	awkward := []float32{0, f(0x80000000), 1, f(0x3f808000), f(0x3f818000), f(0x3f807fff), f(0xbf818000),
		math.MaxFloat32, -math.MaxFloat32, f(0x7f7f8000), float32(math.Inf(1)), float32(math.Inf(-1)),
		f(0x00000001), f(0x00008000), f(0x00018000), f(0x007fffff), f(0x7fc00000), f(0x7f800001), f(0xffc12345), f(0x7f80ffff)}
	r := rand.New(rand.NewPCG(9, 10))
	for _, n := range []int{1, 15, 16, 17, 33, 64, 100} {
		x, y := make([]float32, n), make([]float32, n)
		for i := range x {
			x[i], y[i] = f(r.Uint32()), f(r.Uint32())
			if i < len(awkward) {
				x[i], y[i] = awkward[i], awkward[len(awkward)-1-i]
			}
		}
		h := make([]uint16, n)
		conv.round(h, x)
		for i, v := range x {
			if want := RoundBF16(v); h[i] != want {
				t.Fatalf("n %d: round(%#08x) = %#04x, want %#04x", n, math.Float32bits(v), h[i], want)
			}
		}
		g := make([]float32, n)
		conv.roundF32(g, x)
		for i, v := range x {
			if want := FromBF16(RoundBF16(v)); math.Float32bits(g[i]) != math.Float32bits(want) {
				t.Fatalf("n %d: roundF32(%#08x) = %#08x, want %#08x", n, math.Float32bits(v), math.Float32bits(g[i]), math.Float32bits(want))
			}
		}
		w := make([]uint32, n)
		conv.pairs(w, x, y)
		for i := range x {
			if want := bf16Pair(x[i], y[i]); w[i] != want {
				t.Fatalf("n %d: pairs(%#08x, %#08x) = %#08x, want %#08x", n, math.Float32bits(x[i]), math.Float32bits(y[i]), w[i], want)
			}
		}
	}
}
