package bench

import (
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/kernels"
)

// gemmMode is one way cuBLAS multiplies: a math mode on float32 data, or
// bfloat16 data (data16) with float32 sums.
type gemmMode struct {
	name   string
	math   cuda.Math
	data16 bool
}

// gemmModes are the rates bench scan --gemm and bench train report:
// float32 and TF32 on float32 data, and bfloat16 data (float32 sums and
// output), the card's bf16 rate that MFU is reckoned against.
var gemmModes = []gemmMode{
	{"fp32", cuda.MathFP32, false},
	{"tf32", cuda.MathTF32, false},
	{"bf16", cuda.MathFP32, true},
}

// peakMode is the mode whose rate is a precision's ceiling.
func peakMode(p backbone.Precision) gemmMode {
	switch p {
	case backbone.TF32:
		return gemmModes[1]
	case backbone.BF16:
		return gemmModes[2]
	}
	return gemmModes[0]
}

// gemmRate is cuBLAS's rate in FLOP/s on an n × n × n product in mode g,
// on uniform random data, the median of c's runs. The handle's math mode
// is restored after.
func gemmRate(d *cuda.Device, c *cudaTimer, n int, g gemmMode) (float64, error) {
	bl, err := d.BLAS()
	if err != nil {
		return 0, err
	}
	was := bl.Math()
	if err := bl.SetMath(g.math); err != nil {
		return 0, err
	}
	defer bl.SetMath(was)
	var bufs [3]*cuda.Buffer
	defer func() {
		for _, b := range bufs {
			if b != nil {
				b.Free()
			}
		}
	}()
	r := rand.New(rand.NewPCG(uint64(n), 7))
	x, h := make([]float32, n*n), make([]uint16, n*n)
	for i := range bufs {
		for j := range x {
			x[j] = 2*r.Float32() - 1
		}
		if g.data16 && i < 2 {
			kernels.ToBF16(h, x)
			bufs[i], err = d.UploadBF16(h)
		} else {
			bufs[i], err = d.UploadF32(x)
		}
		if err != nil {
			return 0, err
		}
	}
	ms, err := c.median(func() error {
		if g.data16 {
			return bl.MatMulBF16(false, false, n, n, n, bufs[0].Ptr(), bufs[1].Ptr(), 0, bufs[2].Ptr())
		}
		return bl.MatMul(false, false, n, n, n, bufs[0].Ptr(), bufs[1].Ptr(), 0, bufs[2].Ptr())
	})
	if err != nil {
		return 0, err
	}
	return 2 * float64(n) * float64(n) * float64(n) / (ms * 1e-3), nil
}

// matrixFLOPsPerToken is the matrix-product work a training step does for
// one token of cfg, in FLOP: 6 for each weight a product reads (2 in the
// forward product, 4 in the two backward ones), over in_proj, x_proj,
// dt_proj, out_proj and the tied head. The scan, the convolution, the
// norms and the element-wise passes are not counted (the convention of
// MFU: useful matrix FLOPs over the card's product rate).
func matrixFLOPsPerToken(cfg *backbone.Config) float64 {
	D, Din, N, R := float64(cfg.HiddenSize), float64(cfg.IntermediateSize), float64(cfg.StateSize), float64(cfg.TimeStepRank)
	cf := 1.0
	if cfg.ComplexA {
		cf = 2
	}
	layer := 2*Din*D + Din*(R+2*cf*N) + R*Din + Din*D
	return 6 * (float64(cfg.NumHiddenLayers)*layer + float64(cfg.VocabSize)*D)
}

// printGemmRates writes cuBLAS's rate at n³ in every mode.
func printGemmRates(d *cuda.Device, c *cudaTimer, n int, w io.Writer) error {
	for _, g := range gemmModes {
		tf, err := gemmRate(d, c, n, g)
		if err != nil {
			return fmt.Errorf("cublas %s: %w", g.name, err)
		}
		fmt.Fprintf(w, "cublas gemm %d³ %s: %.1f TFLOP/s\n", n, g.name, tf/1e12)
	}
	return nil
}
