// adamw.cu: one AdamW step over a range of parameters, as
// backbone.AdamW.Step (decoupled weight decay, bias-corrected moments):
//
//	g = (g·s1)·s2  (the gradient scales not yet applied: the mean over
//	               accumulated micro-batches, the clipping factor)
//	m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
//	p = p·decay − stepSize·m / (√v / √bc2 + eps)
//	p16 = p rounded to bfloat16 (when p16 is set)
//
// with decay = 1 − lr·wd (1 for parameters that do not decay),
// stepSize = lr / bc1, bc_i = 1 − β_i^t, computed by the caller. The
// scales give the bits of scaling g in place first (each product rounded
// to float32; a factor of 1 changes nothing), and p16 those of to_bf16
// after, so the step costs one pass over the parameters, not three.

#include "common.cuh"
extern "C" __global__ void adamw_step(float* __restrict__ p, const float* __restrict__ g, float* __restrict__ m, float* __restrict__ v,
                                      unsigned short* __restrict__ p16, long long n, float b1, float b2, float stepSize, float sqrtBC2,
                                      float eps, float decay, float s1, float s2)
{
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
		float gi = __fmul_rn(__fmul_rn(g[i], s1), s2);
		float mi = b1 * m[i] + (1.f - b1) * gi;
		float vi = b2 * v[i] + (1.f - b2) * gi * gi;
		m[i] = mi;
		v[i] = vi;
		float pi = p[i] * decay - stepSize * mi / (sqrtf(vi) / sqrtBC2 + eps);
		p[i] = pi;
		if (p16) p16[i] = bf16_bits(pi);
	}
}
