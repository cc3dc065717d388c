// util.cu: fills and reductions shared by the other kernels and the
// benchmarks.

#include "common.cuh"

// hash32 is a 32-bit integer mix (lowbias32).
__device__ __forceinline__ unsigned hash32(unsigned x) {
	x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
	return x;
}

// fill_uniform sets x[i] = lo + (hi-lo)·r with r uniform in [0, 1) from a
// hash of (seed, i): random data made on the device, for benchmarks.
extern "C" __global__ void fill_uniform(float* x, long long n, unsigned seed, float lo, float hi) {
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
		unsigned r = hash32((unsigned)i ^ hash32(seed + (unsigned)(i >> 32) * 0x9e3779b9u));
		x[i] = lo + (hi - lo) * ((r >> 8) * (1.f / 16777216.f));
	}
}

// sum_rows sets out[i] = Σ_r part[r·cols + i], or adds it to out when
// accumulate is non-zero. Block (32, SUM_WARPS): lane x takes column i,
// warp y the rows y, y + SUM_WARPS, …, in order, in double; the warps'
// sums are then added in warp order. A fixed order, so the same bits run
// to run; SUM_WARPS rows in flight for each column rather than one.
#define SUM_WARPS 32
extern "C" __global__ void sum_rows(const float* __restrict__ part, int rows, long long cols, float* __restrict__ out, int accumulate) {
	__shared__ double sh[SUM_WARPS][33];
	long long i = (long long)blockIdx.x * 32 + threadIdx.x;
	double s = 0;
	if (i < cols)
		for (int r = threadIdx.y; r < rows; r += SUM_WARPS) s += part[(long long)r * cols + i];
	sh[threadIdx.y][threadIdx.x] = s;
	__syncthreads();
	if (threadIdx.y != 0 || i >= cols) return;
	s = 0;
	for (int w = 0; w < SUM_WARPS; w++) s += sh[w][threadIdx.x];
	out[i] = accumulate ? (float)(out[i] + s) : (float)s;
}

// exp_rate runs iters dependent-free exp2 chains per thread: the
// special-function unit's rate (one ex2 per element per iteration, eight
// independent chains per thread).
extern "C" __global__ void exp_rate(float* out, int iters) {
	float x[8];
	for (int k = 0; k < 8; k++) x[k] = -1e-3f * (threadIdx.x + k);
	for (int i = 0; i < iters; i++) {
#pragma unroll
		for (int k = 0; k < 8; k++) x[k] = exp2f(x[k]) - 1.0001f;
	}
	float s = 0;
	for (int k = 0; k < 8; k++) s += x[k];
	out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}
