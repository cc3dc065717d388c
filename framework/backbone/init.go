package backbone

import (
	"math"
	"math/rand/v2"

	"github.com/mambakit/mambakit/framework/kernels"
)

// Init fills p with the initialization of state-spaces/mamba
// (mamba_ssm/modules/mamba_simple.py and models/mixer_seq_simple.py), drawn
// from a PCG generator seeded with seed, tensor by tensor in layout order:
//
//   - embeddings: normal, std initializer_range (0.02);
//   - in_proj, x_proj: PyTorch's Linear default, uniform ±1/sqrt(fan_in);
//   - out_proj: the same, divided by sqrt(num_hidden_layers) when
//     rescale_prenorm_residual (GPT-2's scheme, as mamba_ssm does);
//   - conv1d weight and bias: PyTorch's Conv1d default, uniform ±1/sqrt(K);
//   - dt_proj weight: uniform ±dt_rank^−½·time_step_scale;
//   - dt_proj bias: the inverse softplus of dt, with dt log-uniform in
//     [time_step_min, time_step_max] and floored at time_step_floor, so that
//     softplus(bias) starts in that range (ports that zero this bias start
//     every channel at dt = softplus(0) ≈ 0.69);
//   - A_log[d, n] = log(n+1) (S4D-Real), D = 1, norm weights = 1; in a
//     complex model A = −½ + iπn (S4D-Lin: A_log = log ½, A_imag = πn);
//     with AInit "random", A_log log-uniform in [log ½, log(N+1)] and
//     A_imag uniform in [0, πN);
//   - non-selective B = 1 (imaginary part 0) and C normal with std
//     1/sqrt(N), real and imaginary parts (S4D's initialization).
func Init(p *Params, c *Config, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x6d616d6261)) // "mamba"
	_, D, Din, N, R, K, nL := c.dims()
	uniform := func(x []float32, bound float64) {
		for i := range x {
			x[i] = float32((2*r.Float64() - 1) * bound)
		}
	}
	for i := range p.Embed {
		p.Embed[i] = float32(r.NormFloat64() * float64(c.InitializerRange))
	}
	fill(p.Norm, 1)
	fill(p.NormF, 1)
	fill(p.Dskip, 1)
	outScale := 1.0
	if c.RescalePrenormResidual {
		outScale = 1 / math.Sqrt(float64(nL))
	}
	dtStd := math.Pow(float64(R), -0.5) * float64(c.TimeStepScale)
	lo, hi := math.Log(float64(c.TimeStepMin)), math.Log(float64(c.TimeStepMax))
	for l := 0; l < nL; l++ {
		uniform(layer(p.InProj, nL, l), 1/math.Sqrt(float64(D)))
		uniform(layer(p.ConvW, nL, l), 1/math.Sqrt(float64(K)))
		if c.UseConvBias {
			uniform(layer(p.ConvB, nL, l), 1/math.Sqrt(float64(K)))
		}
		uniform(layer(p.XProj, nL, l), 1/math.Sqrt(float64(Din)))
		uniform(layer(p.DtW, nL, l), dtStd)
		bias := layer(p.DtB, nL, l)
		for i := range bias {
			dt := math.Max(math.Exp(r.Float64()*(hi-lo)+lo), float64(c.TimeStepFloor))
			bias[i] = float32(kernels.InvSoftplus(dt))
		}
		aLog, aIm := layer(p.ALog, nL, l), layer(p.AImag, nL, l)
		for d := 0; d < Din; d++ {
			for n := 0; n < N; n++ {
				switch {
				case c.AInit == "random":
					aLog[d*N+n] = float32(math.Log(0.5) + r.Float64()*(math.Log(float64(N+1))-math.Log(0.5)))
					if c.ComplexA {
						aIm[d*N+n] = float32(r.Float64() * math.Pi * float64(N))
					}
				case c.ComplexA: // S4D-Lin: A = −½ + iπn
					aLog[d*N+n] = float32(math.Log(0.5))
					aIm[d*N+n] = float32(math.Pi * float64(n))
				default:
					aLog[d*N+n] = float32(math.Log(float64(n + 1)))
				}
			}
		}
		uniform(layer(p.OutProj, nL, l), outScale/math.Sqrt(float64(Din)))
		fill(layer(p.BParam, nL, l), 1)
		for _, cp := range [][]float32{layer(p.CParam, nL, l), layer(p.CImag, nL, l)} {
			for i := range cp {
				cp[i] = float32(r.NormFloat64() / math.Sqrt(float64(N)))
			}
		}
	}
}

func fill(x []float32, v float32) {
	for i := range x {
		x[i] = v
	}
}
