// conv.cu: the causal depthwise convolution of kernels.Conv1d
// (framework/kernels/conv.go): forward, and backward in three kernels
// (dX and dState0 per element, dW and dBias as per-row-chunk partials
// summed in order by sum_rows).

#include "common.cuh"

// doc_start returns the first position of t's document when a reset lies
// in [t−(K−1), t] or, for taps before the sequence start, in [0, t]; −1
// when the window (and, when it reaches the carried state, the whole
// prefix) has no reset.
__device__ __forceinline__ int conv_doc_start(const u8* Reset, int L, int b, int t, int K) {
	if (!Reset) return -1;
	int lo = t - (K - 1);
	if (lo < 0) lo = 0;
	for (int s = t; s >= lo; s--)
		if (Reset[(long long)b * L + s]) return s;
	return -1;
}

extern "C" __global__ void conv_fwd(const float* __restrict__ X, const float* __restrict__ W, const float* __restrict__ Bias,
                                    const float* __restrict__ State0, const u8* __restrict__ Reset,
                                    float* __restrict__ Y, float* __restrict__ StateT, int B, int L, int D, int K)
{
	long long total = (long long)B * L * D;
	for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
		int d = e % D;
		long long bt = e / D;
		int t = bt % L, b = bt / L;
		int start = conv_doc_start(Reset, L, b, t, K);
		float y = Bias ? Bias[d] : 0.f;
		for (int k = 0; k < K; k++) {
			int p = t - (K - 1) + k;
			if (start >= 0 && p < start) continue;
			float x;
			if (p >= 0) x = X[((long long)b * L + p) * D + d];
			else x = State0 ? State0[((long long)b * D + d) * (K - 1) + (K - 1 + p)] : 0.f;
			y = fmaf(W[d * K + k], x, y);
		}
		Y[e] = y;
	}
	if (!StateT) return;
	long long ns = (long long)B * D * (K - 1);
	for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < ns; e += (long long)gridDim.x * blockDim.x) {
		int j = e % (K - 1);
		long long bd = e / (K - 1);
		int d = bd % D, b = bd / D;
		int start = L > 0 ? conv_doc_start(Reset, L, b, L - 1, K) : -1;
		int p = L - (K - 1) + j;
		float v;
		if (start >= 0 && p < start) v = 0.f;
		else if (p >= 0) v = X[((long long)b * L + p) * D + d];
		else v = State0 ? State0[((long long)b * D + d) * (K - 1) + (K - 1 + p)] : 0.f;
		StateT[e] = v;
	}
}

// tap_ok reports whether output t reads input p (p ≤ t, p > t − K).
__device__ __forceinline__ bool conv_tap_ok(const u8* Reset, int L, int b, int t, int p, int K) {
	int start = conv_doc_start(Reset, L, b, t, K);
	return !(start >= 0 && p < start);
}

// conv_bwd_x: DX (B, L, D) and DState0 (B, D, K−1).
extern "C" __global__ void conv_bwd_x(const float* __restrict__ W, const u8* __restrict__ Reset, const float* __restrict__ DY,
                                      float* __restrict__ DX, float* __restrict__ DState0, int B, int L, int D, int K)
{
	long long total = (long long)B * L * D;
	if (DX)
		for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
			int d = e % D;
			long long bt = e / D;
			int p = bt % L, b = bt / L;
			float s = 0.f;
			for (int k = 0; k < K; k++) {
				int t = p + (K - 1) - k;
				if (t >= L || !conv_tap_ok(Reset, L, b, t, p, K)) continue;
				s = fmaf(DY[((long long)b * L + t) * D + d], W[d * K + k], s);
			}
			DX[e] = s;
		}
	if (!DState0) return;
	long long ns = (long long)B * D * (K - 1);
	for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < ns; e += (long long)gridDim.x * blockDim.x) {
		int j = e % (K - 1);
		long long bd = e / (K - 1);
		int d = bd % D, b = bd / D;
		int p = j - (K - 1);
		float s = 0.f;
		for (int k = 0; k < K; k++) {
			int t = p + (K - 1) - k;
			if (t < 0 || t >= L || !conv_tap_ok(Reset, L, b, t, p, K)) continue;
			s = fmaf(DY[((long long)b * L + t) * D + d], W[d * K + k], s);
		}
		DState0[e] = s;
	}
}

// conv_bwd_w: partials of DW and DBias over chunks of rows of (B·L):
// part (gridDim.y, D, K+1), the last column the bias. Threads run over d.
// conv_bwd_w_rows sums, for channel d and rows [r0, r1), each tap's
// dy·x and dy (the bias) in order into o (K + 1 values). KM is the
// largest K it takes: the sums live in registers when the loops over k
// unroll (KM 4), in local memory otherwise.
template <int KM>
__device__ __forceinline__ void conv_bwd_w_rows(const float* __restrict__ X, const float* __restrict__ State0, const u8* __restrict__ Reset,
                                                const float* __restrict__ DY, float* __restrict__ o, long long r0, long long r1, int L, int D, int K, int d)
{
	float acc[KM];
#pragma unroll
	for (int k = 0; k < KM; k++) acc[k] = 0.f;
	float bias = 0.f;
	for (long long r = r0; r < r1; r++) {
		int t = r % L, b = r / L;
		float dy = DY[r * D + d];
		bias += dy;
		int start = conv_doc_start(Reset, L, b, t, K);
#pragma unroll
		for (int k = 0; k < KM; k++) {
			if (k >= K) break;
			int p = t - (K - 1) + k;
			if (start >= 0 && p < start) continue;
			float x;
			if (p >= 0) x = X[((long long)b * L + p) * D + d];
			else x = State0 ? State0[((long long)b * D + d) * (K - 1) + (K - 1 + p)] : 0.f;
			acc[k] = fmaf(dy, x, acc[k]);
		}
	}
#pragma unroll
	for (int k = 0; k < KM; k++)
		if (k < K) o[k] = acc[k];
	o[K] = bias;
}

// conv_bwd_w: per chunk of rowsPer rows, each channel's tap and bias sums
// into part (chunks, D, K + 1).
extern "C" __global__ void conv_bwd_w(const float* __restrict__ X, const float* __restrict__ State0, const u8* __restrict__ Reset,
                                      const float* __restrict__ DY, float* __restrict__ part, int B, int L, int D, int K, int rowsPer)
{
	int d = blockIdx.x * blockDim.x + threadIdx.x;
	if (d >= D) return;
	long long r0 = (long long)blockIdx.y * rowsPer, r1 = r0 + rowsPer;
	long long R = (long long)B * L;
	if (r1 > R) r1 = R;
	float* o = part + ((long long)blockIdx.y * D + d) * (K + 1);
	if (K <= 4)
		conv_bwd_w_rows<4>(X, State0, Reset, DY, o, r0, r1, L, D, K, d);
	else
		conv_bwd_w_rows<16>(X, State0, Reset, DY, o, r0, r1, L, D, K, d);
}

// conv_bwd_wsum sums the partials of conv_bwd_w in row-chunk order into
// DW (D, K) and DBias (D).
extern "C" __global__ void conv_bwd_wsum(const float* __restrict__ part, int chunks, int D, int K,
                                         float* __restrict__ DW, float* __restrict__ DBias)
{
	int e = blockIdx.x * blockDim.x + threadIdx.x;
	if (e >= D * (K + 1)) return;
	int d = e / (K + 1), k = e % (K + 1);
	double s = 0;
	for (int r = 0; r < chunks; r++) s += part[((long long)r * D + d) * (K + 1) + k];
	if (k < K) {
		if (DW) DW[d * K + k] = (float)s;
	} else if (DBias) {
		DBias[d] = (float)s;
	}
}
