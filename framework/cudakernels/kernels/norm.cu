// norm.cu: RMSNorm (kernels.RMSNormForward, RMSNormBackward). One block
// per row; sums in double. Y16 and DX16, when set, receive the output's
// bfloat16 bits as well (what a bf16 product reads).

#include "common.cuh"

extern "C" __global__ void rmsnorm_fwd(float* __restrict__ Y, unsigned short* __restrict__ Y16, float* __restrict__ Rstd, const float* __restrict__ X,
                                       const float* __restrict__ W, int M, int C, float eps)
{
	__shared__ double sh[32];
	int m = blockIdx.x;
	const float* x = X + (long long)m * C;
	double ss = 0;
	for (int c = threadIdx.x; c < C; c += blockDim.x) ss += (double)x[c] * x[c];
	ss = block_sum_d(ss, sh);
	float r = (float)(1.0 / sqrt(ss / C + (double)eps));
	if (threadIdx.x == 0 && Rstd) Rstd[m] = r;
	float* y = Y + (long long)m * C;
	for (int c = threadIdx.x; c < C; c += blockDim.x) {
		float v = W[c] * (x[c] * r);
		y[c] = v;
		if (Y16) Y16[(long long)m * C + c] = bf16_bits(v);
	}
}

// rmsnorm_bwd: DX (M, C) (added to it when add is 1: the residual
// stream's gradient) and the per-block partials of dW, part (gridDim.x,
// C), each block taking rows m ≡ blockIdx.x (mod gridDim.x).
extern "C" __global__ void rmsnorm_bwd(float* __restrict__ DX, unsigned short* __restrict__ DX16, int add, float* __restrict__ part, const float* __restrict__ DY,
                                       const float* __restrict__ X, const float* __restrict__ W, const float* __restrict__ Rstd,
                                       int M, int C)
{
	__shared__ double sh[32];
	float* pw = part + (long long)blockIdx.x * C;
	for (int c = threadIdx.x; c < C; c += blockDim.x) pw[c] = 0.f;
	for (int m = blockIdx.x; m < M; m += gridDim.x) {
		const float *x = X + (long long)m * C, *dy = DY + (long long)m * C;
		float r = Rstd[m];
		double dot = 0;
		for (int c = threadIdx.x; c < C; c += blockDim.x) {
			float xh = x[c] * r;
			dot += (double)(dy[c] * W[c]) * xh;
			pw[c] += dy[c] * xh;
		}
		dot = block_sum_d(dot, sh);
		float mean = (float)(dot / C);
		float* dx = DX + (long long)m * C;
		for (int c = threadIdx.x; c < C; c += blockDim.x) {
			float xh = x[c] * r;
			float v = r * (dy[c] * W[c] - xh * mean);
			v = add ? __fadd_rn(dx[c], v) : v; // _rn: never fused into an FMA with v's product
			dx[c] = v;
			if (DX16) DX16[(long long)m * C + c] = bf16_bits(v);
		}
	}
}
