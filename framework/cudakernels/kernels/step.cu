// step.cu: the recurrent step of the backbone, one token per row
// (framework/cudamodel's Stepper, generation): backbone.Model.Step's
// arithmetic in four launches a layer, each small enough to be one node of
// a CUDA graph.
//
//   step_embed   x = embedding of the row's token id (read from io; −1:
//                the argmax of the step before, greedy steps run ahead),
//                this step's argmax slots cleared, the ids kept in a
//                history
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
//   step_scan_rows  the same for many rows and real A: one thread a
//                (row, channel), a block of 32 channels by up to 8 rows
//                sharing A (computed once a block, not once a row), the
//                projection rows, Δ's input, B and C in shared memory,
//                so a step reads and writes H once and little else
//
// A step of more than STEP_MAXB rows (a batch of samples) runs the
// products through cuBLAS instead of step_gemv, with these around them:
//
//   step_rmsnorm_rows  x RMS-normalized, as step_gemv stages it
//   step_conv_rows     the convolution step and SiLU of in_proj's first
//                      half, and its second half (the gate) copied out
//   step_argmax_rows   the argmax of each row of the logits
//
// In bf16 precision the products read bfloat16 operands: the producers
// of the activations they read (step_rmsnorm_rows: xn; step_conv_rows: u;
// step_scan and step_scan_rows: y) also write their bfloat16 bits
// (bf16_bits of the float32 value, the same bits as rounding after), and
// the scan kernels round Δ's projection inputs (dt16). One row (the
// early form below) reads bfloat16 weights in step_gemv_e16, which
// rounds the x it stages itself.
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

#include "common.cuh"

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

// bf16_round is x rounded to the nearest bfloat16 (bf16_bits), as a
// float: what a bf16 product reads of x.
__device__ __forceinline__ float bf16_round(float x) { return bf16_float(bf16_bits(x)); }

// step_id is row b's token for this step: io's id, or when that is −1
// the argmax of the step before (prev's key: ArgmaxID; a row whose
// logits were all NaN, key 0, gets 0).
__device__ __forceinline__ int step_id(const int* __restrict__ io, const unsigned long long* __restrict__ prev, int b) {
	int id = io[b];
	if (id < 0 && prev) {
		const unsigned long long k = prev[b];
		id = k ? (int)(0xffffffffu - (unsigned int)k) : 0;
	}
	return id;
}

// step_embed: x[b, :] = table[id, :] for each row's id (step_id), and
// the argmax keys of this step (amax) cleared. With hist, the ids go to
// row (position % hlen) of hist (hlen rows of B): how a run of steps that
// feed themselves their argmax (ids −1) reads back what was chosen.
extern "C" __global__ void step_embed(float* __restrict__ x, const float* __restrict__ table, const int* __restrict__ io, int B,
                                      int D, unsigned long long* __restrict__ amax, const unsigned long long* __restrict__ prev,
                                      int* __restrict__ hist, int hlen)
{
	pdl_trigger();
	pdl_wait();
	int n = B * D;
	for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
		int b = i / D, c = i - b * D;
		x[i] = table[(long long)step_id(io, prev, b) * D + c];
	}
	for (int b = blockIdx.x * blockDim.x + threadIdx.x; b < B; b += gridDim.x * blockDim.x) {
		if (amax) amax[b] = 0ull;
		if (hist) hist[(long long)(io[2 * B + 1] % hlen) * B + b] = step_id(io, prev, b);
	}
}

// argmax_key orders logits as unsigned integers, ties to the lowest id.
__device__ __forceinline__ unsigned long long argmax_key(float v, int n) {
	unsigned int u = __float_as_uint(v);
	u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
	return ((unsigned long long)u << 32) | (unsigned long long)(0xffffffffu - (unsigned int)n);
}

// argmax_keep makes m the larger of itself and logit v's key (id n); a
// NaN never wins.
__device__ __forceinline__ void argmax_keep(unsigned long long& m, float v, int n) {
	if (v == v) {
		const unsigned long long k = argmax_key(v, n);
		if (k > m) m = k;
	}
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
					if (n < vlimit) argmax_keep(best[b], acc[b], n);
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
// (B, Din, 2N) complex, is updated in place. Y16, when set, receives y's
// bfloat16 bits as well (what a bf16 out_proj reads); dt16 (bf16
// precision) rounds dtLow and dtW to bfloat16 before Δ's projection, as
// the CPU's bf16 dt_proj product does (the products exact in float32,
// summed in float32).
extern "C" __global__ void __launch_bounds__(128) step_scan(
	const float* __restrict__ U, const float* __restrict__ Z, int B, int Din, int N, const float* __restrict__ dtLow, int ldDt,
	const float* __restrict__ dtW, int R, const float* __restrict__ dtB, const float* __restrict__ Alog,
	const float* __restrict__ AImag, const float* __restrict__ Bm, const float* __restrict__ BI, int ldB,
	const float* __restrict__ Cm, const float* __restrict__ CI, int ldC, const float* __restrict__ Dskip, float* __restrict__ H,
	float* __restrict__ Y, const int* __restrict__ io, unsigned short* __restrict__ Y16, int dt16)
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
		if (dt16) dtw[i] = bf16_round(dtw[i]);
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
			if (r < R) {
				float l = dtLow[(long long)b * ldDt + r];
				dr = fmaf(dt16 ? bf16_round(l) : l, dtw[i], dr);
			}
		}
		for (int r = lane + 64; r < R; r += 16) {
			float l = dtLow[(long long)b * ldDt + r], w = dtW[(long long)d * R + r];
			dr = dt16 ? fmaf(bf16_round(l), bf16_round(w), dr) : fmaf(l, w, dr);
		}
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
		for (int r = lane; r < R; r += 16) {
			float l = dtLow[(long long)b * ldDt + r], w = dtW[(long long)d * R + r];
			dr = dt16 ? fmaf(bf16_round(l), bf16_round(w), dr) : fmaf(l, w, dr);
		}
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
		if (Y16) Y16[(long long)b * Din + d] = bf16_bits(y);
	}
}

// step_rows_load sets hs to states n0 … n0+15 of h (zeros past N, or
// all zeros when !on): float4 loads when vec (N a multiple of 4, h
// 16-byte aligned).
__device__ __forceinline__ void step_rows_load(float (&hs)[16], const float* __restrict__ h, int n0, int N, bool vec, bool on) {
#pragma unroll
	for (int j = 0; j < 4; j++) {
		int n = n0 + 4 * j;
		if (on && vec && n < N) {
			float4 v = *reinterpret_cast<const float4*>(h + n);
			hs[4 * j] = v.x, hs[4 * j + 1] = v.y, hs[4 * j + 2] = v.z, hs[4 * j + 3] = v.w;
		} else {
#pragma unroll
			for (int k = 0; k < 4; k++) hs[4 * j + k] = on && n + k < N ? h[n + k] : 0.f;
		}
	}
}

__device__ __forceinline__ void step_rows_store(const float (&hs)[16], float* __restrict__ h, int n0, int N, bool vec) {
#pragma unroll
	for (int j = 0; j < 4; j++) {
		int n = n0 + 4 * j;
		if (vec) {
			if (n < N) *reinterpret_cast<float4*>(h + n) = make_float4(hs[4 * j], hs[4 * j + 1], hs[4 * j + 2], hs[4 * j + 3]);
		} else {
#pragma unroll
			for (int k = 0; k < 4; k++)
				if (n + k < N) h[n + k] = hs[4 * j + k];
		}
	}
}

// step_rows_state advances one state, h = exp(Δ·a)·h + Δ·B·u, and returns
// y plus its term C·h. fmaf rounds exp(Δ·a)·h + Δ·B·u once, as
// step_scan's sum in double does (its product is exact in double), so
// the two differ only where that sum rounds twice; it saves four
// conversions to and from double a state.
__device__ __forceinline__ float step_rows_state(float& h, float a, float bv, float cv, float dt, float u, float y) {
	h = fmaf(expf(dt * a), h, dt * bv * u);
	return fmaf(cv, h, y);
}

// step_scan_rows: StepScan for many rows and real A, one thread per (b,
// d): a block of 32 channels (threadIdx.x, so a warp is 32 channels of
// one row) by blockDim.y ≤ 8 rows. What the threads share is staged
// once a block in shared memory: A = −exp(A_log) (in double, rounded
// once) and Δ's projection rows of the block's channels, Δ's low-rank
// input and B and C of its rows (of its channels when ldB, ldC = 0).
// Each thread holds 16 of its states at a time in registers, so H, the
// one large operand, is read and written once, and nothing is reduced
// across lanes. The loads follow step_scan's order under STEP_PREFETCH:
// the parameters, the wait, then this step's inputs. A block takes iters
// groups of blockDim.y rows in turn (rows iters·blockIdx.y·blockDim.y
// on): the parameters, whose staging (A's exponentials in double) costs
// more instructions than a group's states, are staged once for all of
// them, and a row's inputs by the warp that reads them, so that the
// groups after the first need no barrier of the block.
extern "C" __global__ void __launch_bounds__(256) step_scan_rows(
	const float* __restrict__ U, const float* __restrict__ Z, int B, int Din, int N, const float* __restrict__ dtLow, int ldDt,
	const float* __restrict__ dtW, int R, const float* __restrict__ dtB, const float* __restrict__ Alog,
	const float* __restrict__ Bm, int ldB, const float* __restrict__ Cm, int ldC, const float* __restrict__ Dskip,
	float* __restrict__ H, float* __restrict__ Y, const int* __restrict__ io, unsigned short* __restrict__ Y16, int dt16, int iters)
{
	extern __shared__ __align__(16) float sh[];
	const int tx = threadIdx.x, ty = threadIdx.y, rows = blockDim.y;
	const int d0 = blockIdx.x * 32, d = d0 + tx;
	// Shared memory (floats; StepScan.rowsShared is its size): per
	// channel, rows of sN (A; B and C when per channel) and sR (Δ's
	// projection), odd in float4s so that the 8 lanes of a float4 load's
	// phase hit distinct banks; per row, rows of N4 (B, C) and R4 (Δ's
	// input), which a warp reads as one broadcast. Padding is zero.
	const int N4 = (N + 3) & ~3, R4 = (R + 3) & ~3;
	const int sN = 4 * ((N4 >> 2) | 1), sR = R ? 4 * ((R4 >> 2) | 1) : 0;
	float* As = sh;
	float* Ws = As + 32 * sN;
	float* Bs = Ws + 32 * sR;
	float* Cs = Bs + (ldB ? rows * N4 : 32 * sN);
	float* Ls = Cs + (ldC ? rows * N4 : 32 * sN);
	// The parameters first (no kernel of the step writes them): warp ty
	// stages channels ty, ty + rows, … (A_log, B and C when per channel,
	// Δ's projection row), its lanes along the row, so that no index is
	// divided.
#pragma unroll 1
	for (int c = ty; c < 32; c += rows) {
		const bool onc = d0 + c < Din;
		for (int n = tx; n < N4; n += 32) {
			const bool on = onc && n < N;
			const long long k = (long long)(d0 + c) * N + n;
			const float al = on ? Alog[k] : 0.f, bp = on && !ldB ? Bm[k] : 0.f, cp = on && !ldC ? Cm[k] : 0.f;
			As[c * sN + n] = on ? -(float)exp((double)al) : 0.f;
			if (!ldB) Bs[c * sN + n] = bp;
			if (!ldC) Cs[c * sN + n] = cp;
		}
		for (int r = tx; r < R4; r += 32) {
			const float w = onc && r < R ? dtW[(long long)(d0 + c) * R + r] : 0.f;
			Ws[c * sR + r] = dt16 ? bf16_round(w) : w;
		}
	}
	const float bias = d < Din && dtB ? dtB[d] : 0.f;
	const float skip = d < Din && Dskip ? Dskip[d] : 0.f;
	pdl_trigger();
	pdl_wait();
	for (int it = 0; it < iters; it++) {
		const int b0 = (blockIdx.y * iters + it) * rows, b = b0 + ty;
		if (b0 >= B) break; // the same for the whole block
		// This step's inputs: u, z, the reset flag and the first 16 states
		// (read even for a reset row, so that the loads need not wait for the
		// flag), then Δ's input, B and C of the warp's row, which only this
		// warp reads: staged by its lanes, after they have all read the
		// group before (__syncwarp), its loads issued together.
		const bool active = d < Din && b < B;
		const long long o = active ? (long long)b * Din + d : 0;
		const float u = active ? U[o] : 0.f;
		const float zv = active && Z ? Z[o] : 0.f;
		const bool rs = active && io[B + b] != 0;
		float* h = H + o * N;
		const bool vec = (N & 3) == 0 && (((unsigned long long)H) & 15) == 0;
		float hs[16];
		step_rows_load(hs, h, 0, N, vec, active);
		if (it) __syncwarp();
		if (b < B) { // the same for the whole warp
			float* Lw = Ls + ty * R4;
			float* Bw = Bs + ty * N4;
			float* Cw = Cs + ty * N4;
			const float* lr = dtLow + (long long)b * ldDt;
			const float l0 = tx < R ? lr[tx] : 0.f, l1 = tx + 32 < R ? lr[tx + 32] : 0.f;
			const float bv = ldB && tx < N ? Bm[(long long)b * ldB + tx] : 0.f;
			const float cv = ldC && tx < N ? Cm[(long long)b * ldC + tx] : 0.f;
			if (tx < R4) Lw[tx] = dt16 ? bf16_round(l0) : l0;
			if (tx + 32 < R4) Lw[tx + 32] = dt16 ? bf16_round(l1) : l1;
			for (int r = tx + 64; r < R4; r += 32) {
				const float l = r < R ? lr[r] : 0.f;
				Lw[r] = dt16 ? bf16_round(l) : l;
			}
			if (ldB && tx < N4) Bw[tx] = bv;
			if (ldC && tx < N4) Cw[tx] = cv;
			for (int n = tx + 32; n < N4; n += 32) {
				if (ldB) Bw[n] = n < N ? Bm[(long long)b * ldB + n] : 0.f;
				if (ldC) Cw[n] = n < N ? Cm[(long long)b * ldC + n] : 0.f;
			}
		}
		// The first group also waits for the parameters the whole block
		// staged.
		if (it == 0)
			__syncthreads();
		else
			__syncwarp();
		if (!active) continue;
		const float4* w4 = reinterpret_cast<const float4*>(Ws + tx * sR);
		const float4* x4 = reinterpret_cast<const float4*>(Ls + ty * R4);
		float dr = 0.f;
		for (int i = 0; i < R4 >> 2; i++) {
			float4 w = w4[i], x = x4[i];
			dr = fmaf(x.x, w.x, dr);
			dr = fmaf(x.y, w.y, dr);
			dr = fmaf(x.z, w.z, dr);
			dr = fmaf(x.w, w.w, dr);
		}
		const float dt = softplus_f(dr + bias);
		const float* as = As + tx * sN;
		const float* bs = ldB ? Bs + ty * N4 : Bs + tx * sN;
		const float* cs = ldC ? Cs + ty * N4 : Cs + tx * sN;
		if (rs)
#pragma unroll
			for (int k = 0; k < 16; k++) hs[k] = 0.f;
		float y = 0.f;
		for (int n0 = 0; n0 < N; n0 += 16) {
			if (n0) step_rows_load(hs, h, n0, N, vec, !rs);
#pragma unroll
			for (int j = 0; j < 4; j++) {
				const int n = n0 + 4 * j;
				if (n < N) {
					float4 a = *reinterpret_cast<const float4*>(as + n);
					float4 bv = *reinterpret_cast<const float4*>(bs + n);
					float4 cv = *reinterpret_cast<const float4*>(cs + n);
					y = step_rows_state(hs[4 * j], a.x, bv.x, cv.x, dt, u, y);
					if (n + 1 < N) y = step_rows_state(hs[4 * j + 1], a.y, bv.y, cv.y, dt, u, y);
					if (n + 2 < N) y = step_rows_state(hs[4 * j + 2], a.z, bv.z, cv.z, dt, u, y);
					if (n + 3 < N) y = step_rows_state(hs[4 * j + 3], a.w, bv.w, cv.w, dt, u, y);
				}
			}
			step_rows_store(hs, h, n0, N, vec);
		}
		if (Dskip) y = fmaf(skip, u, y);
		if (Z) y *= silu_f(zv);
		Y[o] = y;
		if (Y16) Y16[o] = bf16_bits(y);
	}
}

// ---------------------------------------------------------------------
// The early form (STEP_EARLY=1, with STEP_PREFETCH=1 and STEP_MAXB=1):
// one row, and before griddepcontrol.wait each kernel loads everything
// that no kernel of this step writes: the weights (two rows of W in
// flight when K ≤ 768), the norm weight, the convolution's weights and
// state, the SSM state, A, the reset flag (the state of layer l is written
// only by layer l's kernel of the step before, and the step's first
// kernel is launched without PDL, so every earlier step is complete).
// After the wait, the inputs of this step are loaded in one batch (the
// staged x, the residual; dtLow, u, z, B and C), so each kernel has one
// round trip to the cache after the wait where the first forms had up
// to three (two of them to DRAM). step_gemv_e16 is step_gemv_e on the
// parameters' bfloat16 copy (bf16 products: half the bytes a step). With
// STEP_L2=1 each kernel also asks
// the L2 to fetch a range of later kernels' weights
// (cp.async.bulk.prefetch.L2), so that blocks launched late find them
// in the cache.
#if STEP_EARLY

__device__ __forceinline__ void step_l2_prefetch(const char* p, long long n) {
#if STEP_L2 && __CUDA_ARCH__ >= 900
	if (p == 0 || n <= 0) return;
	unsigned long long a = (unsigned long long)p & ~15ull;
	n += (long long)((unsigned long long)p - a);
	n = (n + 15) & ~15ll;
	long long T = (long long)gridDim.x * blockDim.x, t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
	long long c = ((n + T - 1) / T + 255) & ~255ll;
	long long o = t * c;
	if (o < n) {
		long long s = n - o < c ? n - o : c;
		asm volatile("cp.async.bulk.prefetch.L2.global [%0], %1;" ::"l"(a + (unsigned long long)o), "r"((unsigned int)s) : "memory");
	}
#endif
}

// The per-row values of in_proj's convolution epilogue (Kc ≤ 4).
struct StepConvAux {
	float cw[4], st[3], cb;
};

__device__ __forceinline__ void step_conv_load(StepConvAux& a, int n, int Din, int Kc, const float* __restrict__ convW,
                                               const float* __restrict__ convB, const float* __restrict__ convState)
{
	if (n >= Din || Kc > 4) return;
#pragma unroll
	for (int j = 0; j < 4; j++) a.cw[j] = j < Kc ? convW[(long long)n * Kc + j] : 0.f;
#pragma unroll
	for (int j = 0; j < 3; j++) a.st[j] = j < Kc - 1 ? convState[(long long)n * (Kc - 1) + j] : 0.f;
	a.cb = convB ? convB[n] : 0.f;
}

// StepSlot is what a lane loads of a weight row at a time, 4 weights:
// a float4 of float32 weights (16 bytes), or for bf16 products 4
// bfloat16 of the parameters' copy in one unsigned long long (8 bytes),
// widened to float in registers by step_w4.
template <typename T>
struct StepSlot;
template <>
struct StepSlot<float> {
	typedef float4 type;
};
template <>
struct StepSlot<unsigned short> {
	typedef unsigned long long type;
};

__device__ __forceinline__ float4 step_w4(float4 w) { return w; }

// Weight k of the slot is its bits 16k to 16k+15 (little-endian); a
// bfloat16's bits are the top half of its float32's.
__device__ __forceinline__ float4 step_w4(unsigned long long w) {
	unsigned int lo = (unsigned int)w, hi = (unsigned int)(w >> 32);
	return make_float4(__uint_as_float(lo << 16), __uint_as_float(lo & 0xffff0000u), __uint_as_float(hi << 16),
	                   __uint_as_float(hi & 0xffff0000u));
}

// step_row_load loads the lane's slots of row n of W (T: float, or
// bfloat16 bits), K4 slots a row.
template <int NF, typename T>
__device__ __forceinline__ void step_row_load(typename StepSlot<T>::type (&w)[NF], const T* __restrict__ W, int n, int N, int K4,
                                              int lane)
{
	typedef typename StepSlot<T>::type S;
	if (n < N) {
		const S* w4 = reinterpret_cast<const S*>(W + (long long)n * (4 * K4));
#pragma unroll
		for (int i = 0; i < NF; i++)
			if (lane + 32 * i < K4) w[i] = __ldg(w4 + lane + 32 * i);
	}
}

// The lane's part of the row's product, in the first forms' order.
template <int NF, typename S>
__device__ __forceinline__ float step_row_fma(const S (&w)[NF], const float* xs, int K4, int lane) {
	const float4* x4 = reinterpret_cast<const float4*>(xs);
	float acc = 0.f;
#pragma unroll
	for (int i = 0; i < NF; i++)
		if (lane + 32 * i < K4) {
			float4 wv = step_w4(w[i]);
			float4 xv = x4[lane + 32 * i];
			acc = fmaf(wv.x, xv.x, fmaf(wv.y, xv.y, fmaf(wv.z, xv.z, fmaf(wv.w, xv.w, acc))));
		}
	return acc;
}

struct StepGemvE {
	int N, K4;
	float* out;
	int mode;
	float* out2;
	const float* convW;
	const float* convB;
	float* convState;
	int Din, Kc;
	bool rs;
	int vlimit;
};

// step_epi_e: the epilogue of row n (every lane holds acc); aux and
// resid are the row's preloaded values when have is set.
__device__ __forceinline__ void step_epi_e(const StepGemvE& a, int n, float acc, int lane, bool have, const StepConvAux& aux,
                                           float resid, unsigned long long& best)
{
	if (a.mode == EPI_STORE || a.mode == EPI_ADD) {
		if (lane == 0) a.out[n] = a.mode == EPI_ADD ? (have ? resid : a.out[n]) + acc : acc;
	} else if (a.mode == EPI_INCONV) {
		if (lane == 0) {
			if (n >= a.Din) {
				a.out2[n - a.Din] = acc;
			} else {
				int d = n, Kc = a.Kc;
				bool rs = a.rs;
				float* st = a.convState + (long long)d * (Kc - 1);
				if (Kc <= 4) {
					StepConvAux x = aux;
					if (!have) step_conv_load(x, d, a.Din, Kc, a.convW, a.convB, a.convState);
					double y = a.convB ? (double)x.cb : 0.0;
#pragma unroll
					for (int j = 0; j < 3; j++)
						if (j < Kc - 1) y += (double)x.cw[j] * (rs ? 0.0 : (double)x.st[j]);
#pragma unroll
					for (int j = 0; j < 4; j++)
						if (j == Kc - 1) y += (double)x.cw[j] * acc;
#pragma unroll
					for (int j = 0; j < 2; j++)
						if (j < Kc - 2) st[j] = rs ? 0.f : x.st[j + 1];
					if (Kc > 1) st[Kc - 2] = acc;
					a.out[d] = silu_f((float)y);
				} else {
					const float* cw = a.convW + (long long)d * Kc;
					double y = a.convB ? (double)a.convB[d] : 0.0;
					for (int j = 0; j < Kc - 1; j++) y += (double)cw[j] * (rs ? 0.0 : (double)st[j]);
					y += (double)cw[Kc - 1] * acc;
					for (int j = 0; j < Kc - 2; j++) st[j] = rs ? 0.f : st[j + 1];
					st[Kc - 2] = acc;
					a.out[d] = silu_f((float)y);
				}
			}
		}
	} else { // EPI_ARGMAX
		if (lane == 0) a.out[n] = acc;
		if (n < a.vlimit) argmax_keep(best, acc, n);
	}
}

__device__ __forceinline__ float step_warp_sum(float v) {
	for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
	return v;
}

// step_gemv_e_run is the body of step_gemv_e (T float: float32 weights)
// and step_gemv_e16 (T unsigned short: bfloat16 bits, for bf16
// products). With bfloat16 weights the staged x (normalized or not) is
// rounded to bfloat16 as well, so that each weight·input product is
// exact in float32 and the sums are float32: the CPU's bf16 product
// (kernels.MatMulBF16W), in another order. xs (K floats, 16-byte
// aligned), red and bestS are the block's shared memory.
template <typename T>
__device__ __forceinline__ void step_gemv_e_run(const T* __restrict__ W, const float* __restrict__ X, const float* __restrict__ normW,
                                                float eps, int N, int K, float* __restrict__ out, int mode, float* __restrict__ out2,
                                                const float* __restrict__ convW, const float* __restrict__ convB,
                                                float* __restrict__ convState, int Din, int Kc, const int* __restrict__ io,
                                                unsigned long long* __restrict__ amax, const char* __restrict__ l2a, long long l2an,
                                                const char* __restrict__ l2b, long long l2bn, const float* __restrict__ P,
                                                int np, float* __restrict__ Xw, float* xs, double* red,
                                                unsigned long long* bestS)
{
	typedef typename StepSlot<T>::type S;
	const bool b16 = sizeof(T) == 2;
	const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, wpb = blockDim.x >> 5;
	const int K4 = K >> 2, stride = gridDim.x * wpb, n0 = blockIdx.x * wpb + warp;
	const bool two = K4 <= 32 * 6;
	step_l2_prefetch(l2a, l2an);
	step_l2_prefetch(l2b, l2bn);
	StepGemvE a;
	a.N = N, a.K4 = K4, a.out = out, a.mode = mode, a.out2 = out2, a.convW = convW, a.convB = convB;
	a.convState = convState, a.Din = Din, a.Kc = Kc;
	a.rs = mode == EPI_INCONV ? io[1] != 0 : false;
	a.vlimit = mode == EPI_ARGMAX ? io[2] : 0;
	// Weights: rows n0 and n0 + stride (6 slots a lane each), or row n0
	// (12).
	S wA[6], wB[6];
	if (two) {
		step_row_load<6>(wA, W, n0, N, K4, lane);
		step_row_load<6>(wB, W, n0 + stride, N, K4, lane);
	} else {
		S w[12];
		step_row_load<12>(w, W, n0, N, K4, lane);
#pragma unroll
		for (int i = 0; i < 6; i++) wA[i] = w[i], wB[i] = w[6 + i];
	}
	StepConvAux auxA = {}, auxB = {};
	if (mode == EPI_INCONV && lane == 0) {
		step_conv_load(auxA, n0, Din, Kc, convW, convB, convState);
		if (two) step_conv_load(auxB, n0 + stride, Din, Kc, convW, convB, convState);
	}
	float nw[6];
	const int tid = threadIdx.x;
#pragma unroll
	for (int i = 0; i < 6; i++) nw[i] = normW && tid + 128 * i < K ? normW[tid + 128 * i] : 0.f;
	pdl_trigger();
	pdl_wait();
	// This step's inputs, in one batch: x and the residuals of the first
	// rows.
	float rA = 0.f, rB = 0.f;
	if (mode == EPI_ADD && lane == 0) {
		if (n0 < N) rA = out[n0];
		if (two && n0 + stride < N) rB = out[n0 + stride];
	}
	float xv[12];
	if (np) {
		// x is the residual before the last out_proj, whose np partial
		// sums (rows of K) step_scan_ex left in P: x + ((P0 + P1) + …),
		// which block 0 writes to Xw, the residual the next layer adds to.
		// Summed through xs (each thread reads back what it wrote), not
		// in registers, where the weights leave no room.
		for (int k = tid; k < K; k += 128) {
			float v = 0.f;
#pragma unroll 4
			for (int p = 0; p < np; p++) v += P[(long long)p * K + k];
			v += X[k];
			xs[k] = v;
			if (Xw && blockIdx.x == 0) Xw[k] = v;
		}
#pragma unroll
		for (int i = 0; i < 12; i++) xv[i] = tid + 128 * i < K ? xs[tid + 128 * i] : 0.f;
	} else {
#pragma unroll
		for (int i = 0; i < 12; i++) xv[i] = tid + 128 * i < K ? X[tid + 128 * i] : 0.f;
	}
	if (normW) {
		double ss = 0;
#pragma unroll
		for (int i = 0; i < 12; i++)
			if (tid + 128 * i < K) ss += (double)xv[i] * xv[i];
		ss = block_sum_d(ss, red);
		float r = (float)(1.0 / sqrt(ss / K + (double)eps));
#pragma unroll
		for (int i = 0; i < 12; i++) {
			int k = tid + 128 * i;
			if (k < K) {
				float v = (i < 6 ? nw[i] : normW[k]) * (xv[i] * r);
				xs[k] = b16 ? bf16_round(v) : v;
			}
		}
	} else {
#pragma unroll
		for (int i = 0; i < 12; i++)
			if (tid + 128 * i < K) xs[tid + 128 * i] = b16 ? bf16_round(xv[i]) : xv[i];
	}
	__syncthreads();
	unsigned long long best = 0ull;
	if (two) {
		for (int n = n0, j = 0; n < N; n += 2 * stride, j += 2) {
			const int nb = n + stride;
			float accA = step_row_fma<6>(wA, xs, K4, lane);
			step_row_load<6>(wA, W, n + 2 * stride, N, K4, lane);
			float accB = 0.f;
			if (nb < N) {
				accB = step_row_fma<6>(wB, xs, K4, lane);
				step_row_load<6>(wB, W, nb + 2 * stride, N, K4, lane);
			}
			accA = step_warp_sum(accA);
			step_epi_e(a, n, accA, lane, j == 0, auxA, rA, best);
			if (nb < N) {
				accB = step_warp_sum(accB);
				step_epi_e(a, nb, accB, lane, j == 0, auxB, rB, best);
			}
		}
	} else {
		for (int n = n0, j = 0; n < N; n += stride, j++) {
			S w[12];
#pragma unroll
			for (int i = 0; i < 6; i++) w[i] = wA[i], w[6 + i] = wB[i];
			float acc = step_row_fma<12>(w, xs, K4, lane);
			step_row_load<12>(w, W, n + stride, N, K4, lane);
#pragma unroll
			for (int i = 0; i < 6; i++) wA[i] = w[i], wB[i] = w[6 + i];
			acc = step_warp_sum(acc);
			step_epi_e(a, n, acc, lane, j == 0, auxA, rA, best);
		}
	}
	if (mode == EPI_ARGMAX) {
		if (lane == 0) bestS[warp] = best;
		__syncthreads();
		if (threadIdx.x == 0) {
			unsigned long long m = 0ull;
			for (int w = 0; w < wpb; w++) m = bestS[w] > m ? bestS[w] : m;
			if (m) atomicMax(amax, m);
		}
	}
}

// step_gemv_e: StepGEMV for one row, K a multiple of 4 up to 1536 (12
// float4 a lane), W 16-byte aligned, 128 threads.
extern "C" __global__ void __launch_bounds__(128) step_gemv_e(
	const float* __restrict__ W, const float* __restrict__ X, const float* __restrict__ normW, float eps, int N, int K,
	float* __restrict__ out, int mode, float* __restrict__ out2, const float* __restrict__ convW,
	const float* __restrict__ convB, float* __restrict__ convState, int Din, int Kc, const int* __restrict__ io,
	unsigned long long* __restrict__ amax, const char* __restrict__ l2a, long long l2an, const char* __restrict__ l2b,
	long long l2bn, const float* __restrict__ P, int np, float* __restrict__ Xw)
{
	extern __shared__ __align__(16) float xs[]; // K
	__shared__ double red[32];
	__shared__ unsigned long long bestS[4];
	step_gemv_e_run(W, X, normW, eps, N, K, out, mode, out2, convW, convB, convState, Din, Kc, io, amax, l2a, l2an, l2b, l2bn, P, np,
	                Xw, xs, red, bestS);
}

// step_gemv_e16: step_gemv_e with W16, the weights as bfloat16 bits (the
// parameters' bfloat16 copy: 4 weights, 8 bytes, a lane's slot), 8-byte
// aligned, and x rounded to bfloat16 as it is staged (bf16 products).
extern "C" __global__ void __launch_bounds__(128) step_gemv_e16(
	const unsigned short* __restrict__ W16, const float* __restrict__ X, const float* __restrict__ normW, float eps, int N, int K,
	float* __restrict__ out, int mode, float* __restrict__ out2, const float* __restrict__ convW,
	const float* __restrict__ convB, float* __restrict__ convState, int Din, int Kc, const int* __restrict__ io,
	unsigned long long* __restrict__ amax, const char* __restrict__ l2a, long long l2an, const char* __restrict__ l2b,
	long long l2bn, const float* __restrict__ P, int np, float* __restrict__ Xw)
{
	extern __shared__ __align__(16) float xs[]; // K
	__shared__ double red[32];
	__shared__ unsigned long long bestS[4];
	step_gemv_e_run(W16, X, normW, eps, N, K, out, mode, out2, convW, convB, convState, Din, Kc, io, amax, l2a, l2an, l2b, l2bn,
	                P, np, Xw, xs, red, bestS);
}

// step_scan_e: StepScan for one row, R ≤ 64. dt16 (bf16 precision)
// rounds dtLow and dtW to bfloat16 before Δ's projection, as step_scan
// does. y is written in float32 only: the bf16 out_proj after it
// (step_gemv_e16) rounds the y it stages.
// step_scan_e_run is the body of step_scan_e (and of step_scan_ex):
// block bid of 128 threads, 8 channels; wt.wait() is what it does between
// loading the parameters and the state and loading this step's inputs.
template <typename Wt>
__device__ __forceinline__ void step_scan_e_run(Wt& wt, int bid, const float* __restrict__ U, const float* __restrict__ Z, int Din,
                                                int N, const float* dtLow, const float* __restrict__ dtW, int R,
                                                const float* __restrict__ dtB, const float* __restrict__ Alog,
                                                const float* __restrict__ AImag, const float* Bm, const float* BI, int ldB,
                                                const float* Cm, const float* CI, int ldC, const float* __restrict__ Dskip,
                                                float* __restrict__ H, float* __restrict__ Y, const int* __restrict__ io, int dt16,
                                                const char* __restrict__ l2a, long long l2an, const char* __restrict__ l2b,
                                                long long l2bn)
{
	const int g = (bid * blockDim.x + threadIdx.x) >> 4;
	const int lane = threadIdx.x & 15;
	const bool active = g < Din;
	const int d = active ? g : 0;
	const bool cx = AImag != 0;
	step_l2_prefetch(l2a, l2an);
	step_l2_prefetch(l2b, l2bn);
	// Before the wait: the parameters and the state.
	float dtw[4], av[4], ai[4], hr[4], hi[4], bp[4], bpi[4], cp[4], cpi[4];
	const bool rs = io[1] != 0;
	float* h = H + (long long)d * (cx ? 2 * N : N);
#pragma unroll
	for (int i = 0; i < 4; i++) {
		int r = lane + 16 * i, n = lane + 16 * i;
		bool on = active && n < N;
		dtw[i] = active && r < R ? dtW[(long long)d * R + r] : 0.f;
		if (dt16) dtw[i] = bf16_round(dtw[i]);
		av[i] = on ? -(float)exp((double)Alog[(long long)d * N + n]) : 0.f;
		ai[i] = on && cx ? AImag[(long long)d * N + n] : 0.f;
		hr[i] = on && !rs ? h[n] : 0.f;
		hi[i] = on && cx && !rs ? h[N + n] : 0.f;
		bp[i] = on && ldB == 0 ? Bm[(long long)d * N + n] : 0.f;
		bpi[i] = on && ldB == 0 && cx && BI ? BI[(long long)d * N + n] : 0.f;
		cp[i] = on && ldC == 0 ? Cm[(long long)d * N + n] : 0.f;
		cpi[i] = on && ldC == 0 && cx && CI ? CI[(long long)d * N + n] : 0.f;
	}
	const float bias = active && dtB ? dtB[d] : 0.f;
	const float skip = active && Dskip ? Dskip[d] : 0.f;
	wt.wait();
	// This step's inputs, in one batch.
	float dl[4];
#pragma unroll
	for (int i = 0; i < 4; i++) {
		int r = lane + 16 * i, n = lane + 16 * i;
		bool on = active && n < N;
		dl[i] = active && r < R ? dtLow[r] : 0.f;
		if (ldB) {
			bp[i] = on ? Bm[n] : 0.f;
			bpi[i] = on && cx && BI ? BI[n] : 0.f;
		}
		if (ldC) {
			cp[i] = on ? Cm[n] : 0.f;
			cpi[i] = on && cx && CI ? CI[n] : 0.f;
		}
	}
	const float u = active ? U[d] : 0.f;
	const float zv = active && Z ? Z[d] : 0.f;
	float dr = 0.f;
	if (active) {
#pragma unroll
		for (int i = 0; i < 4; i++)
			if (lane + 16 * i < R) dr = fmaf(dt16 ? bf16_round(dl[i]) : dl[i], dtw[i], dr);
	}
	for (int o = 8; o > 0; o >>= 1) dr += __shfl_xor_sync(0xffffffffu, dr, o);
	float dt = softplus_f(dr + bias);
	float y = 0.f;
	if (active) {
		if (!cx) {
#pragma unroll
			for (int i = 0; i < 4; i++) {
				int n = lane + 16 * i;
				if (n < N) {
					float hn = (float)((double)expf(dt * av[i]) * hr[i] + (double)(dt * bp[i] * u));
					h[n] = hn;
					y = fmaf(cp[i], hn, y);
				}
			}
		} else {
#pragma unroll
			for (int i = 0; i < 4; i++) {
				int n = lane + 16 * i;
				if (n < N) {
					float e = expf(dt * av[i]), sn, cs;
					sincosf(dt * ai[i], &sn, &cs);
					float ar = e * cs, aim = e * sn;
					float xb = dt * u;
					float nr = ar * hr[i] - aim * hi[i] + xb * bp[i];
					float ni = ar * hi[i] + aim * hr[i] + xb * bpi[i];
					h[n] = nr;
					h[N + n] = ni;
					y += 2.f * (cp[i] * nr - cpi[i] * ni);
				}
			}
		}
	}
	for (int o = 8; o > 0; o >>= 1) y += __shfl_xor_sync(0xffffffffu, y, o);
	if (active && lane == 0) {
		if (Dskip) y = fmaf(skip, u, y);
		if (Z) y *= silu_f(zv);
		Y[d] = y;
		wt.out(threadIdx.x >> 4, y);
	}
}

// StepPDLWait is step_scan_e's wait: let the next kernel start, then
// wait for the one before (PDL).
struct StepPDLWait {
	__device__ __forceinline__ void wait() {
		pdl_trigger();
		pdl_wait();
	}
	__device__ __forceinline__ void out(int, float) {}
};

// STEP_SCAN_E_PARAMS are step_scan_e's parameters, which step_scan_ex
// begins with.
#define STEP_SCAN_E_PARAMS                                                                                                          \
	const float *__restrict__ U, const float *__restrict__ Z, int Din, int N, const float *__restrict__ dtLow,                 \
		const float *__restrict__ dtW, int R, const float *__restrict__ dtB, const float *__restrict__ Alog,               \
		const float *__restrict__ AImag, const float *__restrict__ Bm, const float *__restrict__ BI, int ldB,              \
		const float *__restrict__ Cm, const float *__restrict__ CI, int ldC, const float *__restrict__ Dskip,              \
		float *__restrict__ H, float *__restrict__ Y, const int *__restrict__ io, int dt16, const char *__restrict__ l2a, \
		long long l2an, const char *__restrict__ l2b, long long l2bn

extern "C" __global__ void __launch_bounds__(128) step_scan_e(STEP_SCAN_E_PARAMS)
{
	StepPDLWait wt;
	step_scan_e_run(wt, blockIdx.x, U, Z, Din, N, dtLow, dtW, R, dtB, Alog, AImag, Bm, BI, ldB, Cm, CI, ldC, Dskip, H, Y, io, dt16,
	                l2a, l2an, l2b, l2bn);
}

// ---------------------------------------------------------------------
// step_scan_ex: step_scan_e with x_proj folded in (sm_90: a cluster of
// blocks and its distributed shared memory). The blocks of a cluster
// (its C ranks) split x_proj's K = Din columns: before the wait, rank r
// copies its slice of every row of XW (S rows, columns [r·Din/C,
// (r+1)·Din/C)) into shared memory (cp.async); after it, it loads its
// slice of u, and each of the first S threads works out its row's part
// of the product over the slice; after a barrier over the cluster, each
// thread reads that row's parts from the C ranks' shared memory
// (mapa, ld.shared::cluster) and adds them in rank order, so every
// block has all S outputs (Δ's input, B, C) in its own shared memory,
// where the scan step reads them. That is one kernel and one round trip
// to memory fewer a layer than step_gemv_e (x_proj) and then step_scan_e.
// A row's part sums its slice four columns at a time into four sums,
// added as (s0 + s1) + (s2 + s3); with xw16 the weights are bfloat16 and
// u is rounded to bfloat16 as step_gemv_e16 stages it (exact products,
// float32 sums). The bits differ from step_gemv_e's order.
//
// oDt, oB, oBI, oC, oCI: where Δ's input, B, C (and the imaginary parts)
// lie in the S outputs, or −1 to read dtLow, Bm, ... as given (B or C
// per channel: parameters). Shared memory: S rows of the slice (padded
// by 16 bytes a row, so that the rows' 16-byte loads by consecutive
// threads fall on different banks), the slice of u, and the S parts and
// sums: StepScan.foldShared in step.go.

// The cluster helpers are sm_90's; compiled for an older device (where
// StepScan.Folds refuses the fold, but the module holds the kernel) a
// block is a cluster of one.

// cluster_shape is the block's rank in its cluster and the cluster's
// number of blocks.
__device__ __forceinline__ void cluster_shape(unsigned int& rank, unsigned int& size) {
	rank = 0, size = 1;
#if __CUDA_ARCH__ >= 900
	asm volatile("mov.u32 %0, %%cluster_ctarank;\n\tmov.u32 %1, %%cluster_nctarank;" : "=r"(rank), "=r"(size));
#endif
}

__device__ __forceinline__ void cluster_sync() {
#if __CUDA_ARCH__ >= 900
	asm volatile("barrier.cluster.arrive.aligned;\n\tbarrier.cluster.wait.aligned;" ::: "memory");
#else
	__syncthreads();
#endif
}

// cluster_ld reads the float at p (this block's shared memory) in the
// shared memory of rank r of the cluster.
__device__ __forceinline__ float cluster_ld(const float* p, unsigned int r) {
#if __CUDA_ARCH__ >= 900
	unsigned int a = (unsigned int)__cvta_generic_to_shared(p), ra;
	float v;
	asm volatile("mapa.shared::cluster.u32 %0, %1, %2;" : "=r"(ra) : "r"(a), "r"(r));
	asm volatile("ld.shared::cluster.f32 %0, [%1];" : "=f"(v) : "r"(ra) : "memory");
	return v;
#else
	return *p;
#endif
}

__device__ __forceinline__ void cp_async16(void* smem, const void* g) {
	unsigned int a = (unsigned int)__cvta_generic_to_shared(smem);
	asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(a), "l"(g) : "memory");
}

__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_all;" ::: "memory"); }

// fold_part is a row's part of x_proj over a slice of sl columns: the
// row's weights w in slots of 4 (StepSlot: float4, or 4 bfloat16 bits),
// u the slice, four running sums added as (s0 + s1) + (s2 + s3).
template <typename S>
__device__ __forceinline__ float fold_part(const S* w, const float* u, int sl) {
	const float4* u4 = reinterpret_cast<const float4*>(u);
	float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
#pragma unroll 4
	for (int q = 0; q < sl / 4; q++) {
		const float4 wv = step_w4(w[q]), uv = u4[q];
		s0 = fmaf(wv.x, uv.x, s0), s1 = fmaf(wv.y, uv.y, s1), s2 = fmaf(wv.z, uv.z, s2), s3 = fmaf(wv.w, uv.w, s3);
	}
	return (s0 + s1) + (s2 + s3);
}

// StepFoldWait is step_scan_ex's wait: the PDL wait, then x_proj into xd;
// and where the scan step leaves the block's outputs y for out_proj (ys,
// when out_proj is folded in too).
struct StepFoldWait {
	const float* U;
	const unsigned char* ws; // S rows of ldw bytes: the weights' slice
	float *us, *part, *xd;   // the slice of u (sl), the parts (S), the sums (S)
	float* ys;               // the block's 8 outputs y, or 0
	int S, sl, ldw, k0, xw16;
	unsigned int C;
	__device__ __forceinline__ void out(int c, float y) {
		if (ys) ys[c] = y;
	}
	__device__ __forceinline__ void wait() {
		pdl_trigger();
		pdl_wait();
#pragma unroll 2
		for (int k = threadIdx.x; k < sl; k += blockDim.x) {
			float v = U[k0 + k];
			us[k] = xw16 ? bf16_round(v) : v;
		}
		cp_async_wait_all();
		__syncthreads();
		const int j = threadIdx.x;
		if (j < S) {
			const unsigned char* row = ws + (long long)j * ldw;
			part[j] = xw16 ? fold_part(reinterpret_cast<const unsigned long long*>(row), us, sl)
			               : fold_part(reinterpret_cast<const float4*>(row), us, sl);
		}
		cluster_sync();
		if (j < S) {
			float v = 0.f;
			for (unsigned int r = 0; r < C; r++) v += cluster_ld(part + j, r);
			xd[j] = v;
		}
		__syncthreads();
	}
};

// With OW set, out_proj is folded in as well: OW is its weights (Dm
// rows of Din, bfloat16 with xw16), and the block's 8 columns of every
// row are copied into shared memory before the wait, beside x_proj's.
// After the scan step each block multiplies its 8 outputs y (rounded to
// bfloat16 with xw16) into its part of all Dm outputs; after a barrier
// over the cluster, rank r adds the C parts of its Dm/C outputs in rank
// order and writes them to OP, row blockIdx.x / C of (Din/(8·C), Dm):
// one partial sum of out_proj a cluster. The next kernel adds them in row
// order to the residual as it loads it (step_gemv_e's parts): the bits
// do not depend on which block ends first.
extern "C" __global__ void __launch_bounds__(128) step_scan_ex(STEP_SCAN_E_PARAMS, const unsigned char* __restrict__ XW, int xw16,
                                                              int S, int oDt, int oB, int oBI, int oC, int oCI,
                                                              const unsigned char* __restrict__ OW, int Dm, float* __restrict__ OP)
{
	extern __shared__ __align__(16) unsigned char sm[];
	StepFoldWait wt;
	unsigned int rank;
	cluster_shape(rank, wt.C);
	const int esz = xw16 ? 2 : 4;
	const int dm = OW ? Dm : 0, ldo = 8 * esz; // out_proj's rows, and the bytes of a row's slice
	wt.U = U, wt.S = S, wt.xw16 = xw16;
	wt.sl = Din / (int)wt.C;
	wt.k0 = (int)rank * wt.sl;
	wt.ldw = wt.sl * esz + 16;
	wt.ws = sm;
	unsigned char* os = sm + (long long)S * wt.ldw; // out_proj's slice: dm rows of ldo bytes
	wt.us = reinterpret_cast<float*>(os + (long long)dm * ldo);
	wt.ys = dm ? wt.us + wt.sl : 0;
	wt.part = wt.us + wt.sl + (dm ? 8 : 0);
	wt.xd = wt.part + S;
	float* op = wt.xd + S; // out_proj's parts (dm)
	// Before the wait: this rank's slice of every row of XW, and with OW
	// the block's 8 columns of every row of it.
	const int chunks = wt.sl * esz / 16;
	for (int i = threadIdx.x; i < S * chunks; i += blockDim.x) {
		int j = i / chunks, c = i - j * chunks;
		cp_async16(sm + (long long)j * wt.ldw + 16 * c, XW + ((long long)j * Din + wt.k0) * esz + 16 * c);
	}
	const int oc = ldo / 16, d0 = 8 * blockIdx.x;
	for (int i = threadIdx.x; i < dm * oc; i += blockDim.x) {
		int j = i / oc, c = i - j * oc;
		cp_async16(os + (long long)j * ldo + 16 * c, OW + ((long long)j * Din + d0) * esz + 16 * c);
	}
	const float* xd = wt.xd;
	step_scan_e_run(wt, blockIdx.x, U, Z, Din, N, oDt >= 0 ? xd + oDt : dtLow, dtW, R, dtB, Alog, AImag, oB >= 0 ? xd + oB : Bm,
	                oBI >= 0 ? xd + oBI : BI, ldB, oC >= 0 ? xd + oC : Cm, oCI >= 0 ? xd + oCI : CI, ldC, Dskip, H, Y, io, dt16, l2a,
	                l2an, l2b, l2bn);
	if (dm) {
		__syncthreads();
		if (threadIdx.x < 8 && xw16) wt.ys[threadIdx.x] = bf16_round(wt.ys[threadIdx.x]);
		__syncthreads();
		for (int j = threadIdx.x; j < dm; j += blockDim.x) {
			const unsigned char* row = os + (long long)j * ldo;
			op[j] = xw16 ? fold_part(reinterpret_cast<const unsigned long long*>(row), wt.ys, 8)
			             : fold_part(reinterpret_cast<const float4*>(row), wt.ys, 8);
		}
		cluster_sync();
		const int per = dm / (int)wt.C;
		float* o = OP + (long long)(blockIdx.x / wt.C) * dm + (long long)rank * per;
		for (int j = threadIdx.x; j < per; j += blockDim.x) {
			float v = 0.f;
			for (unsigned int r = 0; r < wt.C; r++) v += cluster_ld(op + rank * per + j, r);
			o[j] = v;
		}
	}
	// No block leaves while the others of its cluster may still read its
	// parts.
	cluster_sync();
}

#endif // STEP_EARLY

// step_rmsnorm_rows: out[b, :] = w · x[b, :] / sqrt(mean(x[b, :]²) + eps),
// one block a row, the sum in double: what step_gemv stages when given a
// norm weight.
extern "C" __global__ void step_rmsnorm_rows(const float* __restrict__ X, int ldx, const float* __restrict__ w, float eps, int K,
                                             float* __restrict__ out, unsigned short* __restrict__ out16)
{
	__shared__ double red[32];
	pdl_trigger();
	pdl_wait();
	const float* xr = X + (long long)blockIdx.x * ldx;
	double ss = 0;
	for (int k = threadIdx.x; k < K; k += blockDim.x) ss += (double)xr[k] * xr[k];
	ss = block_sum_d(ss, red);
	float r = (float)(1.0 / sqrt(ss / K + (double)eps));
	float* o = out + (long long)blockIdx.x * K;
	unsigned short* o16 = out16 ? out16 + (long long)blockIdx.x * K : 0;
	for (int k = threadIdx.x; k < K; k += blockDim.x) {
		float v = w[k] * (xr[k] * r);
		o[k] = v;
		if (o16) o16[k] = bf16_bits(v);
	}
}

// step_conv_rows: for each (b, d) of B rows of in_proj's output xz (B,
// 2·Din): the convolution step over the row's state (B, Din, Kc−1; a row
// with its reset flag reads zeros) and the new value, SiLU, into u (B,
// Din); and the gate xz[b, Din + d] into z (B, Din). step_gemv's
// EPI_INCONV, element for element.
extern "C" __global__ void step_conv_rows(const float* __restrict__ xz, int B, int Din, const float* __restrict__ convW,
                                          const float* __restrict__ convB, float* __restrict__ convState, int Kc,
                                          const int* __restrict__ io, float* __restrict__ u, float* __restrict__ z,
                                          unsigned short* __restrict__ u16)
{
	pdl_trigger();
	pdl_wait();
	long long n = (long long)B * Din;
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
		int b = (int)(i / Din), d = (int)(i - (long long)b * Din);
		const float* row = xz + (long long)b * 2 * Din;
		float v = row[d];
		z[i] = row[Din + d];
		bool rs = io[B + b] != 0;
		float* st = convState + i * (Kc - 1);
		const float* cw = convW + (long long)d * Kc;
		double y = convB ? (double)convB[d] : 0.0;
		for (int j = 0; j < Kc - 1; j++) y += (double)cw[j] * (rs ? 0.0 : (double)st[j]);
		y += (double)cw[Kc - 1] * v;
		for (int j = 0; j < Kc - 2; j++) st[j] = rs ? 0.f : st[j + 1];
		if (Kc > 1) st[Kc - 2] = v;
		float uv = silu_f((float)y);
		u[i] = uv;
		if (u16) u16[i] = bf16_bits(uv);
	}
}

// step_argmax_rows: amax[b] = the larger of itself and the argmax key
// (argmax_key) of row b of the logits (B, V) over ids below the
// vocabulary limit io[2·B], NaN never winning: StepGEMV's EPI_ARGMAX,
// whose slots step_embed clears. Block (x, b) takes the x-th of
// gridDim.x equal parts of row b, in float4 loads when the rows allow
// (V a multiple of 4, the logits 16-byte aligned; the parts then start
// on multiples of 4), and folds its best into amax[b] with atomicMax:
// the maximum does not depend on the order.
extern "C" __global__ void step_argmax_rows(const float* __restrict__ logits, int B, int V, const int* __restrict__ io,
                                            unsigned long long* __restrict__ amax)
{
	__shared__ unsigned long long best[32];
	pdl_trigger();
	pdl_wait();
	const int vlimit = min(io[2 * B], V);
	const float* row = logits + (long long)blockIdx.y * V;
	const bool vec = (V & 3) == 0 && (((unsigned long long)logits) & 15) == 0;
	int per = (vlimit + gridDim.x - 1) / gridDim.x;
	if (vec) per = (per + 3) & ~3;
	const int lo = blockIdx.x * per, hi = min(lo + per, vlimit);
	unsigned long long m = 0ull;
	if (vec) {
		for (int n = lo + 4 * threadIdx.x; n < hi; n += 4 * blockDim.x) {
			const float4 v = *reinterpret_cast<const float4*>(row + n);
			const float e[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
			for (int k = 0; k < 4; k++)
				if (n + k < hi) argmax_keep(m, e[k], n + k);
		}
	} else {
		for (int n = lo + threadIdx.x; n < hi; n += blockDim.x) argmax_keep(m, row[n], n);
	}
	for (int o = 16; o > 0; o >>= 1) {
		unsigned long long t = __shfl_xor_sync(0xffffffffu, m, o);
		m = t > m ? t : m;
	}
	int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
	if (lane == 0) best[warp] = m;
	__syncthreads();
	if (threadIdx.x == 0) {
		for (int w = 1; w < (int)(blockDim.x >> 5); w++) m = best[w] > m ? best[w] : m;
		if (m) atomicMax(amax + blockIdx.y, m);
	}
}
