// adamw.cu: one AdamW step over a range of parameters, as
// backbone.AdamW.Step (decoupled weight decay, bias-corrected moments):
//
//	m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//	p = p·decay − stepSize·m / (√v / √bc2 + eps)
//
// with decay = 1 − lr·wd (1 for parameters that do not decay),
// stepSize = lr / bc1, bc_i = 1 − β_i^t, computed by the caller.

#include "common.cuh"
extern "C" __global__ void adamw_step(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m, float* __restrict__ v,
                                      long long n, float b1, float b2, float stepSize, float sqrtBC2, float eps, float decay)
{
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
		float gi = g[i];
		float mi = b1 * m[i] + (1.f - b1) * gi;
		float vi = b2 * v[i] + (1.f - b2) * gi * gi;
		m[i] = mi;
		v[i] = vi;
		p[i] = p[i] * decay - stepSize * mi / (sqrtf(vi) / sqrtBC2 + eps);
	}
}
