// common.cuh is included by every kernel file: the helpers they share.
// Kernels are float32, row-major, with the layouts of framework/kernels.
#define LOG2E_F 1.4426950408889634f

typedef unsigned char u8;

__device__ __forceinline__ float softplus_f(float x) { return x > 20.f ? x : log1pf(expf(x)); }
__device__ __forceinline__ float sigmoid_f(float x) { return 1.f / (1.f + expf(-x)); }
__device__ __forceinline__ float silu_f(float x) { return x * sigmoid_f(x); }
__device__ __forceinline__ float silu_grad_f(float x) {
	float s = sigmoid_f(x);
	return s * (1.f + x * (1.f - s));
}

// bf16_bits is x rounded to the nearest bfloat16, ties to even, as 16
// bits (kernels.RoundBF16: a NaN stays a quiet NaN with its sign and top
// payload bits; overflow rounds to ±Inf).
__device__ __forceinline__ unsigned short bf16_bits(float x) {
	unsigned int b = __float_as_uint(x);
	return (b & 0x7fffffffu) > 0x7f800000u ? (unsigned short)((b >> 16) | 0x40u) : (unsigned short)((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

// bf16_float widens bfloat16 bits to the float32 they stand for (the top
// half of its bits).
__device__ __forceinline__ float bf16_float(unsigned short b) { return __uint_as_float((unsigned int)b << 16); }

// block_sum_d returns the sum of v over the block (blockDim.x a multiple
// of 32, at most 1024) to every thread, in a fixed order; sh holds 32
// doubles.
__device__ __forceinline__ double block_sum_d(double v, double* sh) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
	__syncthreads();
	if (l == 0) sh[w] = v;
	__syncthreads();
	double s = 0;
	for (int i = 0; i < nw; i++) s += sh[i];
	return s;
}

__device__ __forceinline__ float block_max_f(float v, float* sh) {
	for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
	int w = threadIdx.x >> 5, l = threadIdx.x & 31, nw = blockDim.x >> 5;
	__syncthreads();
	if (l == 0) sh[w] = v;
	__syncthreads();
	float s = sh[0];
	for (int i = 1; i < nw; i++) s = fmaxf(s, sh[i]);
	return s;
}

// Fast forms for the scan kernels, where they run once per element or
// state step. ex2_ftz is one special-function instruction (relative error
// about 2^-22, subnormal results flushed to zero).
__device__ __forceinline__ float ex2_ftz(float x) {
	float y;
	asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
	return y;
}

// softplus_fast is log(1 + e^x), x above 20, with relative error under
// about 1e-6: log1p(e) of e = e^−|x| by a short series when e is small,
// by the fast logarithm otherwise. Both are worked out and one is
// chosen (no branch: in a scan's staging loop a branch costs more than
// the arithmetic).
__device__ __forceinline__ float softplus_fast(float x) {
	float e = ex2_ftz(-fabsf(x) * LOG2E_F);
	float series = e * (1.f - e * (0.5f - e * (0.33333334f - e * 0.25f)));
	float l = e < 0.015625f ? series : __logf(1.f + e);
	return x > 20.f ? x : fmaxf(x, 0.f) + l;
}

// sigmoid_fast is 1/(1 + e^−x) with a fast exponential and reciprocal
// (each one special-function instruction; 0 for x far below zero, where
// 1 + e^−x is infinite).
__device__ __forceinline__ float sigmoid_fast(float x) {
	float r;
	asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(1.f + ex2_ftz(-x * LOG2E_F)));
	return r;
}
