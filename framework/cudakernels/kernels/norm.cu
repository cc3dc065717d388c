// norm.cu: RMSNorm (kernels.RMSNormForward, RMSNormBackward). A warp per
// row, NORM_WARPS rows a block; each row's sums in double, added across
// the warp's lanes by a butterfly (every lane gets the same bits). Y16 and
// DX16, when set, receive the output's bfloat16 bits as well (what a bf16
// product reads).

#include "common.cuh"

#define NORM_WARPS 8 // rows a block of the forward; warps a block of the backward

__device__ __forceinline__ double warp_sum_d(double v) {
#pragma unroll
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

extern "C" __global__ void rmsnorm_fwd(float* __restrict__ Y, unsigned short* __restrict__ Y16, float* __restrict__ Rstd, const float* __restrict__ X,
                                       const float* __restrict__ W, int M, int C, float eps)
{
	long long m = (long long)blockIdx.x * NORM_WARPS + (threadIdx.x >> 5);
	int lane = threadIdx.x & 31;
	if (m >= M) return;
	const float* x = X + m * C;
	double ss = 0;
#pragma unroll 8
	for (int c = lane; c < C; c += 32) ss += (double)x[c] * x[c];
	ss = warp_sum_d(ss);
	float r = (float)(1.0 / sqrt(ss / C + (double)eps));
	if (lane == 0 && Rstd) Rstd[m] = r;
	float* y = Y + m * C;
#pragma unroll 8
	for (int c = lane; c < C; c += 32) {
		float v = W[c] * (x[c] * r);
		y[c] = v;
		if (Y16) Y16[m * C + c] = bf16_bits(v);
	}
}

// rmsnorm_bwd: DX (M, C) (added to it when add is 1: the residual
// stream's gradient), a warp per row: warp w of block b takes rows
// (b·nw + w) + k·gridDim.x·nw. Each warp sums its rows' dy·x̂ per column
// into its own slice of shared memory (nw, C); the block then writes the
// sum of its warps' slices, in warp order, to part (gridDim.x, C): the
// partials of dW.
extern "C" __global__ void rmsnorm_bwd(float* __restrict__ DX, unsigned short* __restrict__ DX16, int add, float* __restrict__ part,
                                       const float* __restrict__ DY, const float* __restrict__ X, const float* __restrict__ W,
                                       const float* __restrict__ Rstd, int M, int C)
{
	extern __shared__ float shw[];
	int nw = blockDim.x >> 5, w = threadIdx.x >> 5, lane = threadIdx.x & 31;
	float* pw = shw + (long long)w * C;
	for (int c = lane; c < C; c += 32) pw[c] = 0.f;
	for (long long m = (long long)blockIdx.x * nw + w; m < M; m += (long long)gridDim.x * nw) {
		const float *x = X + m * C, *dy = DY + m * C;
		float r = Rstd[m];
		double dot = 0;
#pragma unroll 8
		for (int c = lane; c < C; c += 32) {
			float xh = x[c] * r;
			dot += (double)(dy[c] * W[c]) * xh;
			pw[c] += dy[c] * xh;
		}
		dot = warp_sum_d(dot);
		float mean = (float)(dot / C);
		float* dx = DX + m * C;
#pragma unroll 8
		for (int c = lane; c < C; c += 32) {
			float xh = x[c] * r;
			float v = r * (dy[c] * W[c] - xh * mean);
			v = add ? __fadd_rn(dx[c], v) : v; // _rn: never fused into an FMA with v's product
			dx[c] = v;
			if (DX16) DX16[m * C + c] = bf16_bits(v);
		}
	}
	__syncthreads();
	for (int c = threadIdx.x; c < C; c += blockDim.x) {
		float s = 0.f;
		for (int i = 0; i < nw; i++) s += shw[(long long)i * C + c];
		part[(long long)blockIdx.x * C + c] = s;
	}
}

// rmsnorm_bwd_rows: rmsnorm_bwd with a block per row in turn (rows
// blockIdx.x + k·gridDim.x), for wide rows, C ≤ NORM_VPT·blockDim.x
// (blocks of at most 512 threads: about 90 registers a thread; ops.go
// says which rows take it): thread t holds
// columns t + i·blockDim.x (i < NORM_VPT) of x, dy and W in registers, so
// each row is read once, and its own part of dW, written to
// part[blockIdx.x] at the end. The row's Σ (dy·W)·x̂ is summed in double:
// each thread over its columns, then across the warp by a butterfly, then
// the warps' sums in warp order by every thread (the same bits in each).
#define NORM_VPT 8

extern "C" __global__ void __launch_bounds__(512) rmsnorm_bwd_rows(float* __restrict__ DX, unsigned short* __restrict__ DX16, int add,
                                                                  float* __restrict__ part, const float* __restrict__ DY,
                                                                  const float* __restrict__ X, const float* __restrict__ W,
                                                                  const float* __restrict__ Rstd, int M, int C)
{
	__shared__ double sdot[2][32]; // the warps' sums, by the row's parity
	const int nt = blockDim.x, t = threadIdx.x, nw = (nt + 31) >> 5, lane = t & 31, w = t >> 5;
	float wc[NORM_VPT], pw[NORM_VPT];
#pragma unroll
	for (int i = 0; i < NORM_VPT; i++) {
		int c = t + i * nt;
		wc[i] = c < C ? W[c] : 0.f;
		pw[i] = 0.f;
	}
	int parity = 0;
	for (long long m = blockIdx.x; m < M; m += gridDim.x, parity ^= 1) {
		const float *x = X + m * C, *dy = DY + m * C;
		const float r = Rstd[m];
		float xh[NORM_VPT], gw[NORM_VPT], g[NORM_VPT];
#pragma unroll
		for (int i = 0; i < NORM_VPT; i++) {
			int c = t + i * nt;
			bool ok = c < C;
			xh[i] = ok ? x[c] * r : 0.f;
			g[i] = ok ? dy[c] : 0.f;
		}
		double dot = 0;
#pragma unroll
		for (int i = 0; i < NORM_VPT; i++) {
			gw[i] = g[i] * wc[i];
			dot += (double)gw[i] * xh[i];
			pw[i] += g[i] * xh[i];
		}
		dot = warp_sum_d(dot);
		if (lane == 0) sdot[parity][w] = dot;
		__syncthreads(); // one barrier a row: the next row writes the other parity
		dot = 0;
		for (int i = 0; i < nw; i++) dot += sdot[parity][i];
		const float mean = (float)(dot / C);
		float* dx = DX + m * C;
#pragma unroll
		for (int i = 0; i < NORM_VPT; i++) {
			int c = t + i * nt;
			if (c >= C) continue;
			float v = r * (gw[i] - xh[i] * mean);
			v = add ? __fadd_rn(dx[c], v) : v;
			dx[c] = v;
			if (DX16) DX16[m * C + c] = bf16_bits(v);
		}
	}
#pragma unroll
	for (int i = 0; i < NORM_VPT; i++) {
		int c = t + i * nt;
		if (c < C) part[(long long)blockIdx.x * C + c] = pw[i];
	}
}
