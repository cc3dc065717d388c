// loss.cu: cross-entropy (kernels.CrossEntropy). One block per row: the
// row's loss into rowLoss (M); the gradient into dlogits (float32) and/or
// dlogits16 (bfloat16 bits, bf16_bits of the float32 value) when
// non-null. stats (2·M doubles, optional) holds each row's max and sum of
// exponentials: computed and written when saved is 0, read when it is 1
// (a backward after the forward that wrote them skips two passes over the
// row; the values, and so the results, are the same bits).

#include "common.cuh"

extern "C" __global__ void xent_fwd_bwd(float* __restrict__ dlogits, unsigned short* __restrict__ dlogits16, double* __restrict__ rowLoss,
                                        double* __restrict__ stats, int saved, const float* __restrict__ logits,
                                        const int* __restrict__ targets, int V, float scale)
{
	__shared__ double sh[32];
	__shared__ float shf[32];
	int m = blockIdx.x, tgt = targets[m];
	const float* row = logits + (long long)m * V;
	float* d = dlogits ? dlogits + (long long)m * V : 0;
	unsigned short* d16 = dlogits16 ? dlogits16 + (long long)m * V : 0;
	if (tgt < 0 || tgt >= V) {
		for (int i = threadIdx.x; i < V; i += blockDim.x) {
			if (d) d[i] = 0.f;
			if (d16) d16[i] = 0;
		}
		if (threadIdx.x == 0) rowLoss[m] = tgt < 0 ? 0.0 : __longlong_as_double(0x7ff8000000000000ULL);
		return;
	}
	float mx;
	double s;
	if (stats && saved) {
		mx = (float)stats[2 * m];
		s = stats[2 * m + 1];
	} else {
		mx = -__int_as_float(0x7f800000);
		for (int i = threadIdx.x; i < V; i += blockDim.x) mx = fmaxf(mx, row[i]);
		mx = block_max_f(mx, shf);
		s = 0;
		for (int i = threadIdx.x; i < V; i += blockDim.x) s += (double)expf(row[i] - mx);
		s = block_sum_d(s, sh);
		if (stats && threadIdx.x == 0) {
			stats[2 * m] = (double)mx;
			stats[2 * m + 1] = s;
		}
	}
	if (threadIdx.x == 0) rowLoss[m] = log(s) - (double)(row[tgt] - mx);
	if (d || d16) {
		double f = (double)scale / s;
		for (int i = threadIdx.x; i < V; i += blockDim.x) {
			float p = (float)((double)expf(row[i] - mx) * f);
			float g = i == tgt ? p - scale : p;
			if (d) d[i] = g;
			if (d16) d16[i] = bf16_bits(g);
		}
	}
}

// xent_sum adds the row losses of rows with a target: out[0] = Σ loss,
// out[1] = count. One block: each thread sums rows ≡ threadIdx.x (mod
// blockDim.x) in order, then block_sum_d adds the threads in a fixed
// order, so the result has the same bits on every run.
extern "C" __global__ void xent_sum(const double* __restrict__ rowLoss, const int* __restrict__ targets, int M, double* __restrict__ out) {
	__shared__ double sh[32];
	if (blockIdx.x != 0) return;
	double s = 0, c = 0;
	for (int m = threadIdx.x; m < M; m += blockDim.x)
		if (targets[m] >= 0) {
			s += rowLoss[m];
			c += 1;
		}
	s = block_sum_d(s, sh);
	c = block_sum_d(c, sh);
	if (threadIdx.x == 0) {
		out[0] = s;
		out[1] = c;
	}
}
