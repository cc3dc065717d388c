package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// gemmBenchShapes are the model's products (batch 8 × 512 tokens: M = 4096;
// D = 128, Din = 256, N = 16, R = 8, V = 256) and the team's reference
// 8192×256×1024.
var gemmBenchShapes = []struct {
	name    string
	tA, tB  bool
	m, n, k int
}{
	{"NT/4096x256x128", false, true, 4096, 256, 128}, // in_proj, logits
	{"NT/4096x128x256", false, true, 4096, 128, 256}, // out_proj
	{"NT/4096x16x256", false, true, 4096, 16, 256},   // x_proj B, C
	{"NT/4096x8x256", false, true, 4096, 8, 256},     // x_proj Δ
	{"NT/4096x256x8", false, true, 4096, 256, 8},     // dt_proj
	{"NN/4096x256x128", false, false, 4096, 256, 128},
	{"NN/4096x128x256", false, false, 4096, 128, 256},
	{"NN/4096x8x256", false, false, 4096, 8, 256},
	{"NN/4096x256x16", false, false, 4096, 256, 16},
	{"TN/256x128x4096", true, false, 256, 128, 4096},
	{"TN/128x256x4096", true, false, 128, 256, 4096},
	{"TN/16x256x4096", true, false, 16, 256, 4096},
	{"TN/256x8x4096", true, false, 256, 8, 4096},
	{"NN/8192x256x1024", false, false, 8192, 256, 1024},
}

// BenchmarkMatMul reports GFLOP/s (2·m·n·k per product) for every
// implementation on the model's shapes at the current GOMAXPROCS threads;
// run with -cpu 1,2 for one and two threads.
func BenchmarkMatMul(b *testing.B) {
	benchMatMulImpls(b, append(matMulImpls(), matMulImpl{name: "Generic", fn: matMulGeneric}), "Generic")
}

// benchMatMulImpls is the body of the product benchmarks: GFLOP/s for
// each of impls on gemmBenchShapes at GOMAXPROCS threads; slow names the
// scalar one, which skips the shapes above 2^24 multiply-adds.
func benchMatMulImpls(b *testing.B, impls []matMulImpl, slow string) {
	for _, im := range impls {
		b.Run(im.name, func(b *testing.B) {
			if im.skip != "" {
				b.Skip(im.skip)
			}
			for _, s := range gemmBenchShapes {
				if im.name == slow && s.m*s.n*s.k > 1<<24 {
					continue
				}
				b.Run(s.name, func(b *testing.B) {
					old := Threads()
					SetThreads(0)
					defer SetThreads(old)
					r := rand.New(rand.NewPCG(1, 2))
					x := randSlice(r, s.m*s.k, -1, 1)
					y := randSlice(r, s.k*s.n, -1, 1)
					c := make([]float32, s.m*s.n)
					b.SetBytes(int64(4 * (s.m*s.k + s.k*s.n + s.m*s.n)))
					for b.Loop() {
						im.fn(s.tA, s.tB, s.m, s.n, s.k, x, y, 0, c)
					}
					b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		})
	}
}

func ExampleMatMul() {
	// y = x·Wᵀ for x (2, 3) and W (1, 3)
	x := []float32{1, 2, 3, 4, 5, 6}
	w := []float32{1, 0, -1}
	y := make([]float32, 2)
	MatMul(false, true, 2, 1, 3, x, w, 0, y)
	fmt.Println(y)
	// Output: [-2 -2]
}
