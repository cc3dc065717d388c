// step.cu: the recurrent step of the backbone, one token per row
// (framework/cudamodel's Stepper, generation): backbone.Model.Step's
// arithmetic in four launches a layer, each small enough to be one node of
// a CUDA graph.
//
//   step_embed   x = embedding of the row's token id (read from io), and
//                the argmax slots cleared
//   step_gemv    y = W·x for B ≤ STEP_MAXB rows of x, one warp per output
//                row, float4 loads of W; x staged in shared memory, RMS-
//                normalized on the way when a norm weight is given. The
//                epilogue (mode) stores, adds (the residual), runs the
//                convolution step and SiLU of in_proj's first half
//                (channel d's state belongs to the warp of row d), or
//                keeps the argmax of the logits (lm_head)
//   step_scan    Δ = softplus(dt_proj·dtLow + bias), one step of the
//                selective scan (real or complex A), the D skip and the
//                SiLU gate: 16 lanes a channel
//
// io (int32) holds, per step: ids[B], reset[B] (1: the row starts afresh,
// its states read as zeros), the vocabulary limit of the argmax, the
// position.
//
// Compile-time variants: STEP_MAXB, the most rows (1 for generation: fewer
// registers, more blocks resident); STEP_PREFETCH=1, each kernel loads
// its weights (which no earlier kernel writes) first, into registers,
// then waits for the kernel before it (griddepcontrol.wait: a programmatic
// dependent launch, PDL, lets the next kernel start while this one
// finishes; without PDL the wait returns at once), then reads the
// activations.

#ifndef STEP_MAXB
#define STEP_MAXB 8
#endif
#ifndef STEP_PREFETCH
#define STEP_PREFETCH 0
#endif
#define STEP_PF 12 // float4s of a weight row a lane holds (K up to 1536)

__device__ __forceinline__ void pdl_wait() {
#if STEP_PREFETCH && __CUDA_ARCH__ >= 900
	asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void pdl_trigger() {
#if STEP_PREFETCH && __CUDA_ARCH__ >= 900
	asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

#define EPI_STORE 0
#define EPI_ADD 1
#define EPI_INCONV 2
#define EPI_ARGMAX 3

extern "C" __global__ void step_embed(float* __restrict__ x, const float* __restrict__ table, const int* __restrict__ io, int B,
                                      int D, unsigned long long* __restrict__ amax)
{
	pdl_trigger();
	pdl_wait();
	int n = B * D;
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
		int b = i / D, c = i - b * D;
		x[i] = table[(long long)io[b] * D + c];
	}
	if (amax && blockIdx.x == 0 && threadIdx.x < B) amax[threadIdx.x] = 0ull;
}

// argmax_key orders logits as unsigned integers, ties to the lowest id.
__device__ __forceinline__ unsigned long long argmax_key(float v, int n) {
	unsigned int u = __float_as_uint(v);
	u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
	return ((unsigned long long)u << 32) | (unsigned long long)(0xffffffffu - (unsigned int)n);
}

extern "C" __global__ void __launch_bounds__(128) step_gemv(
	const float* __restrict__ W, const float* __restrict__ X, int ldx, const float* __restrict__ normW, float eps, int B, int N,
	int K, float* __restrict__ out, int ldo, int mode, float* __restrict__ out2, const float* __restrict__ convW,
	const float* __restrict__ convB, float* __restrict__ convState, int Din, int Kc, const int* __restrict__ io,
	unsigned long long* __restrict__ amax)
{
	extern __shared__ __align__(16) float xs[]; // (B, K)
	__shared__ double red[32];
	__shared__ unsigned long long bestS[4][STEP_MAXB];
	int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, wpb = blockDim.x >> 5;
	bool vec = (K & 3) == 0 && (((unsigned long long)W) & 15) == 0;
	const int K4 = K >> 2;
#if STEP_PREFETCH
	const bool pf = vec && K4 <= 32 * STEP_PF;
	float4 wr[STEP_PF];
	{
		int n0 = blockIdx.x * wpb + warp;
		if (pf && n0 < N) {
			const float4* w4 = reinterpret_cast<const float4*>(W + (long long)n0 * K);
#pragma unroll
			for (int i = 0; i < STEP_PF; i++)
				if (lane + 32 * i < K4) wr[i] = __ldg(w4 + lane + 32 * i);
		}
	}
	pdl_trigger();
	pdl_wait();
#else
	const bool pf = false;
#endif
	for (int b = 0; b < B; b++) {
		const float* xr = X + (long long)b * ldx;
		float r = 1.f;
		if (normW) {
			double ss = 0;
			for (int k = threadIdx.x; k < K; k += blockDim.x) ss += (double)xr[k] * xr[k];
			ss = block_sum_d(ss, red);
			r = (float)(1.0 / sqrt(ss / K + (double)eps));
		}
		for (int k = threadIdx.x; k < K; k += blockDim.x) xs[b * K + k] = normW ? normW[k] * (xr[k] * r) : xr[k];
	}
	__syncthreads();
	int vlimit = mode == EPI_ARGMAX ? io[2 * B] : 0;
	unsigned long long best[STEP_MAXB];
#pragma unroll
	for (int b = 0; b < STEP_MAXB; b++) best[b] = 0ull;
	for (int n = blockIdx.x * wpb + warp; n < N; n += gridDim.x * wpb) {
		float acc[STEP_MAXB];
#pragma unroll
		for (int b = 0; b < STEP_MAXB; b++) acc[b] = 0.f;
		const float* w = W + (long long)n * K;
#if STEP_PREFETCH
		if (pf) {
			// wr holds row n: its products, then the next row's loads are
			// issued before the sums are reduced.
			const float4* x4 = reinterpret_cast<const float4*>(xs);
#pragma unroll
			for (int i = 0; i < STEP_PF; i++)
				if (lane + 32 * i < K4) {
					float4 wv = wr[i];
#pragma unroll
					for (int b = 0; b < STEP_MAXB; b++)
						if (b < B) {
							float4 xv = x4[b * K4 + lane + 32 * i];
							acc[b] = fmaf(wv.x, xv.x, fmaf(wv.y, xv.y, fmaf(wv.z, xv.z, fmaf(wv.w, xv.w, acc[b]))));
						}
				}
			int nn = n + gridDim.x * wpb;
			if (nn < N) {
				const float4* w4 = reinterpret_cast<const float4*>(W + (long long)nn * K);
#pragma unroll
				for (int i = 0; i < STEP_PF; i++)
					if (lane + 32 * i < K4) wr[i] = __ldg(w4 + lane + 32 * i);
			}
		} else
#endif
		if (vec) {
			const float4* w4 = reinterpret_cast<const float4*>(w);
			const float4* x4 = reinterpret_cast<const float4*>(xs);
#pragma unroll 4
			for (int k = lane; k < K4; k += 32) {
				float4 wv = __ldg(w4 + k);
#pragma unroll
				for (int b = 0; b < STEP_MAXB; b++)
					if (b < B) {
						float4 xv = x4[b * K4 + k];
						acc[b] = fmaf(wv.x, xv.x, fmaf(wv.y, xv.y, fmaf(wv.z, xv.z, fmaf(wv.w, xv.w, acc[b]))));
					}
			}
		} else {
			for (int k = lane; k < K; k += 32) {
				float wv = w[k];
#pragma unroll
				for (int b = 0; b < STEP_MAXB; b++)
					if (b < B) acc[b] = fmaf(wv, xs[b * K + k], acc[b]);
			}
		}
#pragma unroll
		for (int b = 0; b < STEP_MAXB; b++)
			if (b < B)
				for (int o = 16; o > 0; o >>= 1) acc[b] += __shfl_xor_sync(0xffffffffu, acc[b], o);
		if (mode == EPI_STORE || mode == EPI_ADD) {
#pragma unroll
			for (int b = 0; b < STEP_MAXB; b++)
				if (b < B && lane == b) {
					float* o = out + (long long)b * ldo + n;
					*o = mode == EPI_ADD ? *o + acc[b] : acc[b];
				}
		} else if (mode == EPI_INCONV) {
#pragma unroll
			for (int b = 0; b < STEP_MAXB; b++)
				if (b < B && lane == b) {
					float v = acc[b];
					if (n >= Din) {
						out2[(long long)b * Din + (n - Din)] = v;
					} else {
						int d = n;
						bool rs = io[B + b] != 0;
						float* st = convState + ((long long)b * Din + d) * (Kc - 1);
						const float* cw = convW + (long long)d * Kc;
						double y = convB ? (double)convB[d] : 0.0;
						for (int j = 0; j < Kc - 1; j++) y += (double)cw[j] * (rs ? 0.0 : (double)st[j]);
						y += (double)cw[Kc - 1] * v;
						for (int j = 0; j < Kc - 2; j++) st[j] = rs ? 0.f : st[j + 1];
						if (Kc > 1) st[Kc - 2] = v;
						out[(long long)b * Din + d] = silu_f((float)y);
					}
				}
		} else { // EPI_ARGMAX
#pragma unroll
			for (int b = 0; b < STEP_MAXB; b++)
				if (b < B) {
					if (lane == b) out[(long long)b * ldo + n] = acc[b];
					if (n < vlimit && acc[b] == acc[b]) { // NaN never wins
						unsigned long long k = argmax_key(acc[b], n);
						if (k > best[b]) best[b] = k;
					}
				}
		}
	}
	if (mode == EPI_ARGMAX) {
		if (lane == 0)
#pragma unroll
			for (int b = 0; b < STEP_MAXB; b++) bestS[warp][b] = best[b];
		__syncthreads();
		if (threadIdx.x < B) {
			unsigned long long m = 0ull;
			for (int w = 0; w < wpb; w++) m = bestS[w][threadIdx.x] > m ? bestS[w][threadIdx.x] : m;
			if (m) atomicMax(amax + threadIdx.x, m);
		}
	}
}

// step_scan: 16 lanes per (b, d). dtLow (B, ldDt) holds the low-rank Δ
// (R values; R = 0: Δ before its bias is 0). B and C are read at
// Bm + b·ldB (input-dependent, ldB > 0) or Bm + d·N (per channel, ldB =
// 0); BI, CI their imaginary parts when AImag is given. H (B, Din, N), or
// (B, Din, 2N) complex, is updated in place.
extern "C" __global__ void __launch_bounds__(128) step_scan(
	const float* __restrict__ U, const float* __restrict__ Z, int B, int Din, int N, const float* __restrict__ dtLow, int ldDt,
	const float* __restrict__ dtW, int R, const float* __restrict__ dtB, const float* __restrict__ Alog,
	const float* __restrict__ AImag, const float* __restrict__ Bm, const float* __restrict__ BI, int ldB,
	const float* __restrict__ Cm, const float* __restrict__ CI, int ldC, const float* __restrict__ Dskip, float* __restrict__ H,
	float* __restrict__ Y, const int* __restrict__ io)
{
#if STEP_PREFETCH
	int g = (blockIdx.x * blockDim.x + threadIdx.x) >> 4;
	int lane = threadIdx.x & 15;
	bool active = g < B * Din;
	int b = active ? g / Din : 0, d = active ? g - b * Din : 0;
	const bool cx = AImag != 0;
	// The parameters first (no kernel of the step writes them): Δ's
	// projection row and bias, A = −exp(A_log) (in double, rounded once),
	// the skip; then the wait for the kernel before.
	float dtw[4], av[4], ai[4];
#pragma unroll
	for (int i = 0; i < 4; i++) {
		int r = lane + 16 * i, n = lane + 16 * i;
		dtw[i] = active && r < R ? dtW[(long long)d * R + r] : 0.f;
		av[i] = active && n < N ? -(float)exp((double)Alog[(long long)d * N + n]) : 0.f;
		ai[i] = active && cx && n < N ? AImag[(long long)d * N + n] : 0.f;
	}
	float bias = active && dtB ? dtB[d] : 0.f;
	float skip = active && Dskip ? Dskip[d] : 0.f;
	pdl_trigger();
	pdl_wait();
	float dr = 0.f;
	if (active) {
#pragma unroll
		for (int i = 0; i < 4; i++) {
			int r = lane + 16 * i;
			if (r < R) dr = fmaf(dtLow[(long long)b * ldDt + r], dtw[i], dr);
		}
		for (int r = lane + 64; r < R; r += 16) dr = fmaf(dtLow[(long long)b * ldDt + r], dtW[(long long)d * R + r], dr);
	}
	for (int o = 8; o > 0; o >>= 1) dr += __shfl_xor_sync(0xffffffffu, dr, o);
	float dt = softplus_f(dr + bias);
	float u = active ? U[(long long)b * Din + d] : 0.f;
	bool rs = active && io[B + b] != 0;
	const long long ob = ldB ? (long long)b * ldB : (long long)d * N;
	const long long oc = ldC ? (long long)b * ldC : (long long)d * N;
	float y = 0.f;
	if (active) {
		if (!cx) {
			float* h = H + ((long long)b * Din + d) * N;
#pragma unroll
			for (int i = 0; i < 4; i++) {
				int n = lane + 16 * i;
				if (n < N) {
					float hp = rs ? 0.f : h[n];
					float hn = (float)((double)expf(dt * av[i]) * hp + (double)(dt * Bm[ob + n] * u));
					h[n] = hn;
					y = fmaf(Cm[oc + n], hn, y);
				}
			}
		} else {
			float* h = H + ((long long)b * Din + d) * 2 * N;
#pragma unroll
			for (int i = 0; i < 4; i++) {
				int n = lane + 16 * i;
				if (n < N) {
					float e = expf(dt * av[i]), sn, cs;
					sincosf(dt * ai[i], &sn, &cs);
					float ar = e * cs, aim = e * sn;
					float hr = rs ? 0.f : h[n], hi = rs ? 0.f : h[N + n];
					float xb = dt * u;
					float br = Bm[ob + n], bi = BI ? BI[ob + n] : 0.f;
					float cr = Cm[oc + n], ci = CI ? CI[oc + n] : 0.f;
					float nr = ar * hr - aim * hi + xb * br;
					float ni = ar * hi + aim * hr + xb * bi;
					h[n] = nr;
					h[N + n] = ni;
					y += 2.f * (cr * nr - ci * ni);
				}
			}
		}
	}
#else
	int g = (blockIdx.x * blockDim.x + threadIdx.x) >> 4;
	int lane = threadIdx.x & 15;
	bool active = g < B * Din;
	int b = active ? g / Din : 0, d = active ? g - b * Din : 0;
	float dr = 0.f;
	if (active)
		for (int r = lane; r < R; r += 16) dr = fmaf(dtLow[(long long)b * ldDt + r], dtW[(long long)d * R + r], dr);
	for (int o = 8; o > 0; o >>= 1) dr += __shfl_xor_sync(0xffffffffu, dr, o);
	float dt = softplus_f(dr + (dtB ? dtB[d] : 0.f));
	float u = active ? U[(long long)b * Din + d] : 0.f;
	bool rs = active && io[B + b] != 0;
	const long long ob = ldB ? (long long)b * ldB : (long long)d * N;
	const long long oc = ldC ? (long long)b * ldC : (long long)d * N;
	float y = 0.f;
	if (active) {
		if (!AImag) {
			float* h = H + ((long long)b * Din + d) * N;
			for (int n = lane; n < N; n += 16) {
				float a = -(float)exp((double)Alog[(long long)d * N + n]);
				float hp = rs ? 0.f : h[n];
				float hn = (float)((double)expf(dt * a) * hp + (double)(dt * Bm[ob + n] * u));
				h[n] = hn;
				y = fmaf(Cm[oc + n], hn, y);
			}
		} else {
			float* h = H + ((long long)b * Din + d) * 2 * N;
			for (int n = lane; n < N; n += 16) {
				float a = -(float)exp((double)Alog[(long long)d * N + n]);
				float ai = AImag[(long long)d * N + n];
				float e = expf(dt * a), s, c;
				sincosf(dt * ai, &s, &c);
				float ar = e * c, aim = e * s;
				float hr = rs ? 0.f : h[n], hi = rs ? 0.f : h[N + n];
				float xb = dt * u;
				float br = Bm[ob + n], bi = BI ? BI[ob + n] : 0.f;
				float cr = Cm[oc + n], ci = CI ? CI[oc + n] : 0.f;
				float nr = ar * hr - aim * hi + xb * br;
				float ni = ar * hi + aim * hr + xb * bi;
				h[n] = nr;
				h[N + n] = ni;
				y += 2.f * (cr * nr - ci * ni);
			}
		}
	}
	float skip = active && Dskip ? Dskip[d] : 0.f;
#endif
	for (int o = 8; o > 0; o >>= 1) y += __shfl_xor_sync(0xffffffffu, y, o);
	if (active && lane == 0) {
		if (Dskip) y = fmaf(skip, u, y);
		if (Z) y *= silu_f(Z[(long long)b * Din + d]);
		Y[(long long)b * Din + d] = y;
	}
}
