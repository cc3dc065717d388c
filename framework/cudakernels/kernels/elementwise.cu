// elementwise.cu: SiLU, the SiLU gate of the Mamba mixer, softplus, and
// the rounding to bfloat16 of the bf16 products.

#include "common.cuh"

#define GRID_LOOP(i, n) for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

// silu_fwd: y = x·σ(x) (kernels.SiLUForward).
extern "C" __global__ void silu_fwd(float* __restrict__ y, const float* __restrict__ x, long long n) {
	GRID_LOOP(i, n) y[i] = silu_f(x[i]);
}

// silu_bwd: dx = dy·σ(x)·(1 + x·(1 − σ(x))) (kernels.SiLUBackward).
extern "C" __global__ void silu_bwd(float* __restrict__ dx, const float* __restrict__ dy, const float* __restrict__ x, long long n) {
	GRID_LOOP(i, n) dx[i] = dy[i] * silu_grad_f(x[i]);
}

// gate_fwd: y = x·silu(z), the gate of the mixer output.
extern "C" __global__ void gate_fwd(float* __restrict__ y, const float* __restrict__ x, const float* __restrict__ z, long long n) {
	GRID_LOOP(i, n) y[i] = x[i] * silu_f(z[i]);
}

// gate_bwd: dx = dy·silu(z), dz = dy·x·silu'(z).
extern "C" __global__ void gate_bwd(float* __restrict__ dx, float* __restrict__ dz, const float* __restrict__ dy,
                                    const float* __restrict__ x, const float* __restrict__ z, long long n) {
	GRID_LOOP(i, n) {
		float zz = z[i], g = dy[i];
		if (dx) dx[i] = g * silu_f(zz);
		if (dz) dz[i] = g * x[i] * silu_grad_f(zz);
	}
}

// softplus_fwd: y = log(1 + e^(x + bias[i mod C])), x above 20 (kernels.Softplus);
// bias (C) optional.
extern "C" __global__ void softplus_fwd(float* __restrict__ y, const float* __restrict__ x, const float* __restrict__ bias, int C, long long n) {
	GRID_LOOP(i, n) y[i] = softplus_f(x[i] + (bias ? bias[i % C] : 0.f));
}

// softplus_bwd: dx = dy·σ(x + bias), 1 above 20.
extern "C" __global__ void softplus_bwd(float* __restrict__ dx, const float* __restrict__ dy, const float* __restrict__ x,
                                        const float* __restrict__ bias, int C, long long n) {
	GRID_LOOP(i, n) {
		float v = x[i] + (bias ? bias[i % C] : 0.f);
		dx[i] = dy[i] * (v > 20.f ? 1.f : sigmoid_f(v));
	}
}

// to_bf16: y = x rounded to the nearest bfloat16 (bf16_bits).
extern "C" __global__ void to_bf16(unsigned short* __restrict__ y, const float* __restrict__ x, long long n) {
	GRID_LOOP(i, n) y[i] = bf16_bits(x[i]);
}
