// conv.cu: the causal depthwise convolution of kernels.Conv1d
// (framework/kernels/conv.go), with SiLU fused as there: forward, and
// backward in two kernels (dX, dState0 and per-segment partials of dW
// and dBias; then the partials summed in order by conv_bwd_wsum).
//
// A thread walks one channel d of one segment of CONV_SEG positions of
// one sequence b, keeping the last KM inputs (forward and dW) and the
// next KM output gradients (dX) in registers, so each element of X, Y,
// DY or DU is read from memory once (plus KM − 1 positions at each
// segment's edge), CONV_PF positions ahead of its use so that each
// thread keeps several loads in flight. KM is the largest K an instance takes (4 or 16): a
// window slot j holds position t − (KM − 1) + j, and the taps are the
// slots j ≥ KM − K, so every index into the windows is a constant.
// Every sum runs in the order of the scalar reference (and of the
// kernels before these), so the forward, dX and dState0 are the same
// bits; dW and dBias add per segment, then the segments in order in
// double: deterministic run to run.

#include "common.cuh"

#define CONV_THREADS 128 // channels a block
#define CONV_PF 4         // positions a thread loads ahead of the one it computes

// conv_where places the thread: sequence b, positions [t0, t1), channel
// d and its chunk (b·segs + segment) for the partials. Blocks run over
// (b, segment, block of channels), channels fastest; an empty sequence
// has one segment (for StateT and dState0).
struct conv_where {
	int b, t0, t1, d;
	long long chunk;
};

__device__ __forceinline__ bool conv_place(int B, int L, int D, int seg, conv_where* w) {
	int nDB = (D + CONV_THREADS - 1) / CONV_THREADS;
	int segs = L > 0 ? (L + seg - 1) / seg : 1;
	long long bs = blockIdx.x / nDB;
	w->d = (int)(blockIdx.x % nDB) * CONV_THREADS + threadIdx.x;
	w->chunk = bs;
	w->b = (int)(bs / segs);
	w->t0 = (int)(bs % segs) * seg;
	w->t1 = min(w->t0 + seg, L);
	return w->d < D && w->b < B;
}

// conv_in is the input at position p of sequence b, channel d: X, or for
// p < 0 the carried state (zero without one or before it).
__device__ __forceinline__ float conv_in(const float* __restrict__ X, const float* __restrict__ State0, int L, int D, int K, int b, int d, int p) {
	if (p >= 0) return X[((long long)b * L + p) * D + d];
	if (p < -(K - 1) || !State0) return 0.f;
	return State0[((long long)b * D + d) * (K - 1) + (K - 1 + p)];
}

// conv_start is the latest document start in [t0 − (K − 1), t0), or a
// position before every tap when none: taps at positions below it are
// skipped.
__device__ __forceinline__ int conv_start(const u8* __restrict__ Reset, int L, int b, int t0, int K) {
	int start = -(1 << 30);
	if (Reset)
		for (int s = max(t0 - (K - 1), 0); s < t0; s++)
			if (Reset[(long long)b * L + s]) start = s;
	return start;
}

// conv_dy is the gradient of Y at position t (< L): DY, or DU·silu'(Y).
__device__ __forceinline__ float conv_dy(const float* __restrict__ DY, const float* __restrict__ DU, const float* __restrict__ Y, long long e) {
	return DU ? DU[e] * silu_grad_f(Y[e]) : DY[e];
}

// conv_fwd_seg: Y (and U = SiLU(Y), its bfloat16 bits U16, the state
// StateT by the last segment) for the thread's positions.
template <int KM>
__device__ __forceinline__ void conv_fwd_seg(const float* __restrict__ X, const float* __restrict__ W, const float* __restrict__ Bias,
                                             const float* __restrict__ State0, const u8* __restrict__ Reset, float* __restrict__ Y,
                                             float* __restrict__ U, unsigned short* __restrict__ U16, float* __restrict__ StateT,
                                             int B, int L, int D, int K, int seg)
{
	conv_where q;
	if (!conv_place(B, L, D, seg, &q)) return;
	const int b = q.b, d = q.d, off = KM - K;
	float w[KM], v[KM];
#pragma unroll
	for (int j = 0; j < KM; j++) w[j] = j >= off ? W[d * K + j - off] : 0.f;
#pragma unroll
	for (int j = 0; j < KM - 1; j++) v[j] = j >= off ? conv_in(X, State0, L, D, K, b, d, q.t0 - (KM - 1) + j) : 0.f;
	float xq[CONV_PF]; // X at positions t, t + 1, …
#pragma unroll
	for (int i = 0; i < CONV_PF; i++) xq[i] = q.t0 + i < q.t1 ? X[((long long)b * L + q.t0 + i) * D + d] : 0.f;
	int start = conv_start(Reset, L, b, q.t0, K);
	const float bias = Bias ? Bias[d] : 0.f;
#pragma unroll 2
	for (int t = q.t0; t < q.t1; t++) {
		long long r = (long long)b * L + t, e = r * D + d;
		v[KM - 1] = xq[0];
#pragma unroll
		for (int i = 0; i < CONV_PF - 1; i++) xq[i] = xq[i + 1];
		xq[CONV_PF - 1] = t + CONV_PF < q.t1 ? X[e + (long long)CONV_PF * D] : 0.f;
		if (Reset && Reset[r]) start = t;
		float y = bias;
#pragma unroll
		for (int j = 0; j < KM; j++)
			if (j >= off && t - (KM - 1) + j >= start) y = fmaf(w[j], v[j], y);
		Y[e] = y;
		if (U || U16) {
			float u = silu_f(y);
			if (U) U[e] = u;
			if (U16) U16[e] = bf16_bits(u);
		}
#pragma unroll
		for (int j = 0; j < KM - 1; j++) v[j] = v[j + 1];
	}
	if (!StateT || q.t1 != L) return;
	// The window now ends at L − 1: slot j holds position L − (KM − 1) + j.
#pragma unroll
	for (int j = 0; j < KM - 1; j++)
		if (j >= off) StateT[((long long)b * D + d) * (K - 1) + (j - off)] = L - (KM - 1) + j >= start ? v[j] : 0.f;
}

extern "C" __global__ void conv_fwd4(const float* __restrict__ X, const float* __restrict__ W, const float* __restrict__ Bias,
                                     const float* __restrict__ State0, const u8* __restrict__ Reset, float* __restrict__ Y,
                                     float* __restrict__ U, unsigned short* __restrict__ U16, float* __restrict__ StateT,
                                     int B, int L, int D, int K, int seg)
{
	conv_fwd_seg<4>(X, W, Bias, State0, Reset, Y, U, U16, StateT, B, L, D, K, seg);
}

extern "C" __global__ void conv_fwd16(const float* __restrict__ X, const float* __restrict__ W, const float* __restrict__ Bias,
                                      const float* __restrict__ State0, const u8* __restrict__ Reset, float* __restrict__ Y,
                                      float* __restrict__ U, unsigned short* __restrict__ U16, float* __restrict__ StateT,
                                      int B, int L, int D, int K, int seg)
{
	conv_fwd_seg<16>(X, W, Bias, State0, Reset, Y, U, U16, StateT, B, L, D, K, seg);
}

// conv_bwd_seg: for the thread's positions, DX (and its bfloat16 bits
// DX16), by the first segment DState0, and into part (chunks, D, K + 1)
// the segment's sums of each tap's dy·x and of dy (the bias). The
// gradient window g[j] holds dy at position t + j (zero past L).
template <int KM>
__device__ __forceinline__ void conv_bwd_seg(const float* __restrict__ X, const float* __restrict__ W, const float* __restrict__ State0,
                                             const u8* __restrict__ Reset, const float* __restrict__ Y, const float* __restrict__ DY,
                                             const float* __restrict__ DU, float* __restrict__ DX, unsigned short* __restrict__ DX16,
                                             float* __restrict__ DState0, float* __restrict__ part, int B, int L, int D, int K, int seg)
{
	conv_where q;
	if (!conv_place(B, L, D, seg, &q)) return;
	const int b = q.b, d = q.d, off = KM - K;
	const long long row0 = (long long)b * L;
	float wf[KM], g[KM], v[KM], acc[KM];
#pragma unroll
	for (int j = 0; j < KM; j++) {
		wf[j] = j < K ? W[d * K + K - 1 - j] : 0.f; // output t + j reads t through tap K − 1 − j
		acc[j] = 0.f;
	}
#pragma unroll
	for (int j = 0; j < KM - 1; j++) {
		g[j] = q.t0 + j < L ? conv_dy(DY, DU, Y, (row0 + q.t0 + j) * D + d) : 0.f;
		v[j] = j >= off ? conv_in(X, State0, L, D, K, b, d, q.t0 - (KM - 1) + j) : 0.f;
	}
	if (DState0 && q.t0 == 0) {
		// Input p = j − (K − 1) < 0 feeds outputs t = p + (K − 1) − k
		// (tap k), unless a document starts in [0, t].
		int first = 1 << 30;
		if (Reset)
			for (int s = min(K - 2, L - 1); s >= 0; s--)
				if (Reset[row0 + s]) first = s;
		for (int j = 0; j < K - 1; j++) {
			float s = 0.f;
#pragma unroll
			for (int t = KM - 2; t >= 0; t--) { // t descending: k ascending
				int k = j - t;
				if (k >= 0 && k < K && t < L && t < first) s = fmaf(g[t], W[d * K + k], s);
			}
			DState0[((long long)b * D + d) * (K - 1) + j] = s;
		}
	}
	// Loaded ahead: gq (DY, or DU) and yq (Y, with DU) at positions
	// t + KM − 1 + i, zero past L (so the gradient there is zero); xq (X)
	// at t + i.
	float gq[CONV_PF], yq[CONV_PF], xq[CONV_PF];
	const float* __restrict__ G = DU ? DU : DY;
#pragma unroll
	for (int i = 0; i < CONV_PF; i++) {
		int p = q.t0 + KM - 1 + i;
		long long e = (row0 + p) * D + d;
		gq[i] = p < L ? G[e] : 0.f;
		yq[i] = DU && p < L ? Y[e] : 0.f;
		xq[i] = q.t0 + i < q.t1 ? X[(row0 + q.t0 + i) * D + d] : 0.f;
	}
	int start = conv_start(Reset, L, b, q.t0, K);
	float bias = 0.f;
#pragma unroll 2
	for (int t = q.t0; t < q.t1; t++) {
		long long r = row0 + t, e = r * D + d;
		g[KM - 1] = DU ? gq[0] * silu_grad_f(yq[0]) : gq[0];
		v[KM - 1] = xq[0];
#pragma unroll
		for (int i = 0; i < CONV_PF - 1; i++) {
			gq[i] = gq[i + 1];
			yq[i] = yq[i + 1];
			xq[i] = xq[i + 1];
		}
		int p = t + KM - 1 + CONV_PF;
		long long ep = e + (long long)(KM - 1 + CONV_PF) * D;
		gq[CONV_PF - 1] = p < L ? G[ep] : 0.f;
		yq[CONV_PF - 1] = DU && p < L ? Y[ep] : 0.f;
		xq[CONV_PF - 1] = t + CONV_PF < q.t1 ? X[e + (long long)CONV_PF * D] : 0.f;
		if (Reset && Reset[r]) start = t;
		const float gt = g[0];
		bias += gt;
#pragma unroll
		for (int j = 0; j < KM; j++)
			if (j >= off && t - (KM - 1) + j >= start) acc[j] = fmaf(gt, v[j], acc[j]);
		if (DX || DX16) {
			// Output t + j reads t unless a document starts in (t, t + j].
			int lim = t + K;
			if (Reset) {
#pragma unroll
				for (int j = KM - 1; j >= 1; j--)
					if (j < K && t + j < L && Reset[r + j]) lim = t + j;
			}
			float s = 0.f;
#pragma unroll
			for (int j = KM - 1; j >= 0; j--)
				if (j < K && t + j < L && t + j < lim) s = fmaf(g[j], wf[j], s);
			if (DX) DX[e] = s;
			if (DX16) DX16[e] = bf16_bits(s);
		}
#pragma unroll
		for (int j = 0; j < KM - 1; j++) {
			g[j] = g[j + 1];
			v[j] = v[j + 1];
		}
	}
	if (!part) return;
	float* o = part + (q.chunk * D + d) * (K + 1);
#pragma unroll
	for (int j = 0; j < KM; j++)
		if (j >= off) o[j - off] = acc[j];
	o[K] = bias;
}

extern "C" __global__ void conv_bwd4(const float* __restrict__ X, const float* __restrict__ W, const float* __restrict__ State0,
                                     const u8* __restrict__ Reset, const float* __restrict__ Y, const float* __restrict__ DY,
                                     const float* __restrict__ DU, float* __restrict__ DX, unsigned short* __restrict__ DX16,
                                     float* __restrict__ DState0, float* __restrict__ part, int B, int L, int D, int K, int seg)
{
	conv_bwd_seg<4>(X, W, State0, Reset, Y, DY, DU, DX, DX16, DState0, part, B, L, D, K, seg);
}

extern "C" __global__ void conv_bwd16(const float* __restrict__ X, const float* __restrict__ W, const float* __restrict__ State0,
                                      const u8* __restrict__ Reset, const float* __restrict__ Y, const float* __restrict__ DY,
                                      const float* __restrict__ DU, float* __restrict__ DX, unsigned short* __restrict__ DX16,
                                      float* __restrict__ DState0, float* __restrict__ part, int B, int L, int D, int K, int seg)
{
	conv_bwd_seg<16>(X, W, State0, Reset, Y, DY, DU, DX, DX16, DState0, part, B, L, D, K, seg);
}

// conv_bwd_wsum sums the partials of conv_bwd_seg, chunk by chunk, into
// DW (D, K) and DBias (D). Block (32, 8): lane x takes column e = d·(K +
// 1) + k, warp y the chunks y, y + 8, …; the eight sums are then added
// in warp order: a fixed order, in double.
extern "C" __global__ void conv_bwd_wsum(const float* __restrict__ part, int chunks, int D, int K,
                                         float* __restrict__ DW, float* __restrict__ DBias)
{
	__shared__ double sh[8][32];
	long long cols = (long long)D * (K + 1);
	long long e = (long long)blockIdx.x * 32 + threadIdx.x;
	double s = 0;
	if (e < cols)
		for (int r = threadIdx.y; r < chunks; r += 8) s += part[(long long)r * cols + e];
	sh[threadIdx.y][threadIdx.x] = s;
	__syncthreads();
	if (threadIdx.y != 0 || e >= cols) return;
	s = 0;
	for (int w = 0; w < 8; w++) s += sh[w][threadIdx.x];
	int d = (int)(e / (K + 1)), k = (int)(e % (K + 1));
	if (k < K) {
		if (DW) DW[d * K + k] = (float)s;
	} else if (DBias) {
		DBias[d] = (float)s;
	}
}
