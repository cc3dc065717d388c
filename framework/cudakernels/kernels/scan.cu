// scan.cu: the fused selective scan, forward and backward, with the
// semantics of kernels.Scan (framework/kernels/scan.go).
//
// Compile-time parameters (NVRTC -D): SCAN_N (state size N), B_PC and C_PC
// (non-selective B, C: one vector per channel, shape (D, N)), COMPLEX
// (complex A, B, C and states; the backward pass is a kernel of its own).
//
// The sequence is cut into chunks of T steps, and every chunk of every
// tile of DT channels of every batch row is a block of its own, so the
// whole GPU works even on one long sequence. The state is carried between
// chunks in three steps, because the decay over a chunk is one number per
// (b, d, n): the product of exp(Δ_t·A) over the chunk is exp(A·ΣΔ_t), or 0
// when a reset falls inside the chunk.
//
//	forward:  scan_fwd_local   each chunk from a zero state: its end state
//	                           and ΣΔ (Hloc, S)
//	          scan_fwd_carry   one pass over the chunks per (b, d, n): the
//	                           true start state of every chunk (Saved), HT
//	          scan_fwd_out     each chunk again from its start state: Y
//	backward: scan_bwd_local   each chunk's reverse recurrence of dh from a
//	                           zero carry: the carry it sends back (Dloc)
//	          scan_bwd_carry   one reverse pass over the chunks: the carry
//	                           entering every chunk (Dcin), DH0
//	          scan_bwd         each chunk: states recomputed from Saved,
//	                           piece by piece (SUB steps in registers),
//	                           then all the gradients
//
// In a block, each channel is served by NG lanes of one warp (lane =
// channel·NG + group), each lane holding NPT of the N states in registers;
// a warp covers 8 channels. A chunk's inputs are staged in shared memory
// with coalesced loads, Δ through softplus once per element. Nothing of
// size B·L·D·N touches global memory: the per-chunk arrays (Hloc, Saved,
// Dloc, Dcin, and the backward's per-chunk partial sums) are B·L·D·N/T.

#include "common.cuh"
#ifndef SCAN_N
#define SCAN_N 16
#endif
#ifndef B_PC
#define B_PC 0
#endif
#ifndef C_PC
#define C_PC 0
#endif
#ifndef COMPLEX
#define COMPLEX 0
#endif

#define N_ SCAN_N
#define NG 4                     // lanes per channel
#define NPT ((N_ + NG - 1) / NG) // states per lane
#define NP (NPT * NG)            // N padded
#define DT 32                    // channels per block
#define NT (DT * NG)             // threads per block
#if COMPLEX
#define T 32 // chunk length: shorter when complex, for static shared memory
#else
#define T 64
#endif
#define SUB 8 // backward piece length
#define NS (T / SUB)
#define IT ((T * DT) / NT) // per-thread elements of a (T, DT) tile

#if COMPLEX
#define SN (2 * N_)
#else
#define SN N_
#endif

// Block coordinates: blockIdx.x = chunk·nx + channel tile, blockIdx.y = b.
#define BLOCK_COORDS                                              \
	const int nx = (D + DT - 1) / DT;                             \
	const int xt = blockIdx.x % nx, c = blockIdx.x / nx;          \
	const int b = blockIdx.y, tid = threadIdx.x;                  \
	const int d0 = xt * DT, dl = tid / NG, g = tid % NG;          \
	const int d = d0 + dl;                                        \
	const bool dok = d < D;                                       \
	const int nc = (L + T - 1) / T, t0 = c * T;                   \
	(void)nc

// stage_bc copies the chunk's rows of a (B, L, N) array into s[T][NP],
// zero-padded.
__device__ __forceinline__ void stage_bc(float (*s)[NP], const float* __restrict__ X, int b, int t0, int L) {
	for (int e = threadIdx.x; e < T * NP; e += NT) {
		int row = e / NP, n = e % NP, t = t0 + row;
		s[row][n] = (t < L && n < N_) ? X[((long long)b * L + t) * N_ + n] : 0.f;
	}
}

__device__ __forceinline__ void stage_reset(u8* s_r, const u8* __restrict__ Reset, int b, int t0, int L) {
	if (threadIdx.x < T) s_r[threadIdx.x] = (Reset && t0 + threadIdx.x < L) ? Reset[(long long)b * L + t0 + threadIdx.x] : 0;
}

// ---------------------------------------------------------------------------
// Forward.

extern "C" __global__ void __launch_bounds__(NT)
scan_fwd_local(const float* __restrict__ U, const float* __restrict__ Delta, const float* __restrict__ DeltaBias,
               const float* __restrict__ A, const float* __restrict__ AImag,
               const float* __restrict__ Bm, const float* __restrict__ BImag, const u8* __restrict__ Reset,
               float* __restrict__ Hloc, float* __restrict__ Ssum, int L, int D)
{
	__shared__ float s_dt[T][DT], s_x[T][DT];
#if !B_PC
	__shared__ float s_B[T][NP];
#if COMPLEX
	__shared__ float s_Bi[T][NP];
#endif
#endif
	__shared__ u8 s_r[T];
	BLOCK_COORDS;
#pragma unroll
	for (int i = 0; i < IT; i++) {
		int e = tid + i * NT, row = e / DT, col = e % DT, t = t0 + row, dd = d0 + col;
		bool ok = t < L && dd < D;
		long long idx = ((long long)b * L + t) * D + dd;
		float dt = ok ? softplus_fast(Delta[idx] + (DeltaBias ? DeltaBias[dd] : 0.f)) : 0.f;
		s_dt[row][col] = dt;
		s_x[row][col] = ok ? dt * U[idx] : 0.f;
	}
#if !B_PC
	stage_bc(s_B, Bm, b, t0, L);
#if COMPLEX
	if (BImag) stage_bc(s_Bi, BImag, b, t0, L);
	else
		for (int e = tid; e < T * NP; e += NT) s_Bi[e / NP][e % NP] = 0.f;
#endif
#endif
	stage_reset(s_r, Reset, b, t0, L);
	float a2[NPT], h[NPT];
#if COMPLEX
	float ai[NPT], hi[NPT];
#endif
#if B_PC
	float bpc[NPT];
#if COMPLEX
	float bpci[NPT];
#endif
#endif
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		int n = g * NPT + k;
		bool ok = dok && n < N_;
		a2[k] = ok ? A[d * N_ + n] * LOG2E_F : 0.f;
		h[k] = 0.f;
#if COMPLEX
		ai[k] = ok ? AImag[d * N_ + n] : 0.f;
		hi[k] = 0.f;
#endif
#if B_PC
		bpc[k] = ok ? Bm[d * N_ + n] : 0.f;
#if COMPLEX
		bpci[k] = ok && BImag ? BImag[d * N_ + n] : 0.f;
#endif
#endif
	}
	__syncthreads();
	float ssum = 0.f;
	bool anyr = false;
#pragma unroll 8
	for (int j = 0; j < T; j++) {
		float dt = s_dt[j][dl], x = s_x[j][dl];
		bool r = s_r[j];
		ssum += dt;
		anyr |= r;
		if (r) {
#pragma unroll
			for (int k = 0; k < NPT; k++) {
				h[k] = 0.f;
#if COMPLEX
				hi[k] = 0.f;
#endif
			}
		}
#pragma unroll
		for (int k = 0; k < NPT; k++) {
#if B_PC
			float bb = bpc[k];
#else
			float bb = s_B[j][g * NPT + k];
#endif
#if COMPLEX
#if B_PC
			float bbi = bpci[k];
#else
			float bbi = s_Bi[j][g * NPT + k];
#endif
			float e = ex2_ftz(dt * a2[k]), sn, cs;
			sincosf(dt * ai[k], &sn, &cs);
			float ar = e * cs, aim = e * sn;
			float hr0 = h[k], hi0 = hi[k];
			h[k] = ar * hr0 - aim * hi0 + x * bb;
			hi[k] = ar * hi0 + aim * hr0 + x * bbi;
#else
			h[k] = fmaf(ex2_ftz(dt * a2[k]), h[k], x * bb);
#endif
		}
	}
	if (dok) {
		long long o = (((long long)b * nc + c) * D + d) * SN;
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			int n = g * NPT + k;
			if (n < N_) {
				Hloc[o + n] = h[k];
#if COMPLEX
				Hloc[o + N_ + n] = hi[k];
#endif
			}
		}
		if (g == 0) Ssum[((long long)b * nc + c) * D + d] = anyr ? -1.f : ssum;
	}
}

// scan_fwd_carry: one thread per (b, d, n) walks the chunks: Saved[c] is
// the state entering chunk c, HT the state after the last.
extern "C" __global__ void scan_fwd_carry(const float* __restrict__ Hloc, const float* __restrict__ Ssum,
                                          const float* __restrict__ A, const float* __restrict__ AImag,
                                          const float* __restrict__ H0, float* __restrict__ Saved, float* __restrict__ HT,
                                          int B, int D, int nc)
{
	long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x;
	if (e >= (long long)B * D * N_) return;
	int n = e % N_;
	long long bd = e / N_;
	int d = bd % D, b = bd / D;
	float ar = A[d * N_ + n];
	float hr = H0 ? H0[bd * SN + n] : 0.f;
#if COMPLEX
	float ai = AImag[d * N_ + n];
	float hi = H0 ? H0[bd * SN + N_ + n] : 0.f;
#endif
#pragma unroll 4
	for (int c = 0; c < nc; c++) {
		long long o = (((long long)b * nc + c) * D + d) * SN;
		float s = Ssum[((long long)b * nc + c) * D + d];
		float lr = Hloc[o + n];
		Saved[o + n] = hr;
#if COMPLEX
		float li = Hloc[o + N_ + n];
		Saved[o + N_ + n] = hi;
		if (s < 0.f) {
			hr = lr;
			hi = li;
		} else {
			float m = expf(ar * s), sn, cs;
			sincosf(ai * s, &sn, &cs);
			float dr = m * cs, di = m * sn;
			float nr = dr * hr - di * hi + lr;
			hi = dr * hi + di * hr + li;
			hr = nr;
		}
#else
		hr = s < 0.f ? lr : fmaf(expf(ar * s), hr, lr);
#endif
	}
	if (HT) {
		HT[bd * SN + n] = hr;
#if COMPLEX
		HT[bd * SN + N_ + n] = hi;
#endif
	}
}

// Dynamic shared memory of scan_fwd_out, in floats: two (T, DT) tiles,
// then B, C (and their imaginary parts when complex) as (T, NP), then the
// reset bytes. The skip and the gate are applied in the final coalesced
// pass, from U and Z read again (from L2): the small footprint keeps
// nine blocks on a multiprocessor.
#define FO_NBC (COMPLEX ? 4 : 2)
#define FO_FLOATS (2 * T * DT + FO_NBC * T * NP + T / 4 + 1)

extern "C" __global__ void __launch_bounds__(NT)
scan_fwd_out(const float* __restrict__ U, const float* __restrict__ Delta, const float* __restrict__ DeltaBias,
             const float* __restrict__ A, const float* __restrict__ AImag,
             const float* __restrict__ Bm, const float* __restrict__ BImag,
             const float* __restrict__ Cm, const float* __restrict__ CImag,
             const float* __restrict__ Dskip, const float* __restrict__ Z, const u8* __restrict__ Reset,
             const float* __restrict__ Saved, float* __restrict__ Y, int L, int D)
{
	extern __shared__ float sh[];
	float (*s_dt)[DT] = (float (*)[DT])(sh);
	float (*s_x)[DT] = (float (*)[DT])(sh + T * DT);
	float (*s_B)[NP] = (float (*)[NP])(sh + 2 * T * DT);
	float (*s_C)[NP] = (float (*)[NP])(sh + 2 * T * DT + T * NP);
	float (*s_Bi)[NP] = (float (*)[NP])(sh + 2 * T * DT + 2 * T * NP);
	float (*s_Ci)[NP] = (float (*)[NP])(sh + 2 * T * DT + 3 * T * NP);
	u8* s_r = (u8*)(sh + 2 * T * DT + FO_NBC * T * NP);
	(void)s_B; (void)s_C; (void)s_Bi; (void)s_Ci;
	BLOCK_COORDS;
#pragma unroll 4
	for (int i = 0; i < IT; i++) {
		int e = tid + i * NT, row = e / DT, col = e % DT, t = t0 + row, dd = d0 + col;
		bool ok = t < L && dd < D;
		long long idx = ((long long)b * L + t) * D + dd;
		float u = ok ? U[idx] : 0.f;
		float dt = ok ? softplus_fast(Delta[idx] + (DeltaBias ? DeltaBias[dd] : 0.f)) : 0.f;
		s_dt[row][col] = dt;
		s_x[row][col] = dt * u;
	}
#if !B_PC
	stage_bc(s_B, Bm, b, t0, L);
#endif
#if !C_PC
	stage_bc(s_C, Cm, b, t0, L);
#endif
#if COMPLEX && !B_PC
	if (BImag) stage_bc(s_Bi, BImag, b, t0, L);
	else
		for (int e = tid; e < T * NP; e += NT) s_Bi[e / NP][e % NP] = 0.f;
#endif
#if COMPLEX && !C_PC
	if (CImag) stage_bc(s_Ci, CImag, b, t0, L);
	else
		for (int e = tid; e < T * NP; e += NT) s_Ci[e / NP][e % NP] = 0.f;
#endif
	stage_reset(s_r, Reset, b, t0, L);
	float a2[NPT], h[NPT];
#if COMPLEX
	float ai[NPT], hi[NPT];
#endif
#if B_PC
	float bpc[NPT];
#if COMPLEX
	float bpci[NPT];
#endif
#endif
#if C_PC
	float cpc[NPT];
#if COMPLEX
	float cpci[NPT];
#endif
#endif
	const long long so = (((long long)b * nc + c) * D + d) * SN;
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		int n = g * NPT + k;
		bool ok = dok && n < N_;
		a2[k] = ok ? A[d * N_ + n] * LOG2E_F : 0.f;
		h[k] = ok ? Saved[so + n] : 0.f;
#if COMPLEX
		ai[k] = ok ? AImag[d * N_ + n] : 0.f;
		hi[k] = ok ? Saved[so + N_ + n] : 0.f;
#endif
#if B_PC
		bpc[k] = ok ? Bm[d * N_ + n] : 0.f;
#if COMPLEX
		bpci[k] = ok && BImag ? BImag[d * N_ + n] : 0.f;
#endif
#endif
#if C_PC
		cpc[k] = ok ? Cm[d * N_ + n] : 0.f;
#if COMPLEX
		cpci[k] = ok && CImag ? CImag[d * N_ + n] : 0.f;
#endif
#endif
	}
	__syncthreads();
#pragma unroll 8
	for (int j = 0; j < T; j++) {
		float dt = s_dt[j][dl], x = s_x[j][dl];
		if (s_r[j]) {
#pragma unroll
			for (int k = 0; k < NPT; k++) {
				h[k] = 0.f;
#if COMPLEX
				hi[k] = 0.f;
#endif
			}
		}
		float yp = 0.f;
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			int n = g * NPT + k;
#if B_PC
			float bb = bpc[k];
#else
			float bb = s_B[j][n];
#endif
#if C_PC
			float cc = cpc[k];
#else
			float cc = s_C[j][n];
#endif
#if COMPLEX
#if B_PC
			float bbi = bpci[k];
#else
			float bbi = s_Bi[j][n];
#endif
#if C_PC
			float cci = cpci[k];
#else
			float cci = s_Ci[j][n];
#endif
			float e = ex2_ftz(dt * a2[k]), sn, cs;
			sincosf(dt * ai[k], &sn, &cs);
			float ar = e * cs, aim = e * sn;
			float hr0 = h[k], hi0 = hi[k];
			h[k] = ar * hr0 - aim * hi0 + x * bb;
			hi[k] = ar * hi0 + aim * hr0 + x * bbi;
			yp += 2.f * (cc * h[k] - cci * hi[k]);
#else
			h[k] = fmaf(ex2_ftz(dt * a2[k]), h[k], x * bb);
			yp = fmaf(cc, h[k], yp);
#endif
		}
		yp += __shfl_xor_sync(0xffffffffu, yp, 1);
		yp += __shfl_xor_sync(0xffffffffu, yp, 2);
		// s_x[j][dl] has been read by the channel's four lanes (the
		// shuffles order them): it now holds the state part of y.
		__syncwarp();
		if (g == 0) s_x[j][dl] = yp;
	}
	__syncthreads();
#pragma unroll 4
	for (int i = 0; i < IT; i++) {
		int e = tid + i * NT, row = e / DT, col = e % DT, t = t0 + row, dd = d0 + col;
		if (t < L && dd < D) {
			long long idx = ((long long)b * L + t) * D + dd;
			float y = s_x[row][col];
			if (Dskip) y = fmaf(Dskip[dd], U[idx], y);
			if (Z) {
				float z = Z[idx];
				y *= z * sigmoid_fast(z);
			}
			Y[idx] = y;
		}
	}
}

// softplus_grad_of returns softplus'(x) = σ(x) from dt = softplus(x):
// σ(x) = 1 − e^−dt, by its series where dt is small (relative error
// under 1e-6 everywhere).
__device__ __forceinline__ float softplus_grad_of(float dt) {
	if (dt < 0.125f) return dt * (1.f - dt * (0.5f - dt * (0.16666667f - dt * (0.041666668f - dt * 0.008333334f))));
	return 1.f - ex2_ftz(-dt * LOG2E_F);
}

// ---------------------------------------------------------------------------
// Backward (real A).

#if !COMPLEX
// scan_bwd_local: each chunk's reverse recurrence of the state gradient
// from a zero incoming carry; Dloc is the carry it sends to the chunk
// before, Ssum its ΣΔ (−1 with a reset).
extern "C" __global__ void __launch_bounds__(NT)
scan_bwd_local(const float* __restrict__ Delta, const float* __restrict__ DeltaBias, const float* __restrict__ A,
               const float* __restrict__ AImag, const float* __restrict__ Cm, const float* __restrict__ CImag,
               const float* __restrict__ Z, const u8* __restrict__ Reset,
               const float* __restrict__ DY, float* __restrict__ Dloc, float* __restrict__ Ssum, int L, int D)
{
	__shared__ float s_dt[T][DT], s_gy[T][DT];
#if !C_PC
	__shared__ float s_C[T][NP];
#endif
	__shared__ u8 s_r[T];
	BLOCK_COORDS;
#pragma unroll 4
	for (int i = 0; i < IT; i++) {
		int e = tid + i * NT, row = e / DT, col = e % DT, t = t0 + row, dd = d0 + col;
		bool ok = t < L && dd < D;
		long long idx = ((long long)b * L + t) * D + dd;
		s_dt[row][col] = ok ? softplus_fast(Delta[idx] + (DeltaBias ? DeltaBias[dd] : 0.f)) : 0.f;
		s_gy[row][col] = ok ? DY[idx] * (Z ? Z[idx] * sigmoid_fast(Z[idx]) : 1.f) : 0.f;
	}
#if !C_PC
	stage_bc(s_C, Cm, b, t0, L);
#endif
	stage_reset(s_r, Reset, b, t0, L);
	float a2[NPT], dc[NPT];
#if C_PC
	float cpc[NPT];
#endif
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		int n = g * NPT + k;
		bool ok = dok && n < N_;
		a2[k] = ok ? A[d * N_ + n] * LOG2E_F : 0.f;
		dc[k] = 0.f;
#if C_PC
		cpc[k] = ok ? Cm[d * N_ + n] : 0.f;
#endif
	}
	__syncthreads();
	float ssum = 0.f;
	bool anyr = false;
#pragma unroll 8
	for (int j = T - 1; j >= 0; j--) {
		float dt = s_dt[j][dl], gy = s_gy[j][dl];
		bool r = s_r[j];
		ssum += dt;
		anyr |= r;
#pragma unroll
		for (int k = 0; k < NPT; k++) {
#if C_PC
			float cc = cpc[k];
#else
			float cc = s_C[j][g * NPT + k];
#endif
			float dh = fmaf(gy, cc, dc[k]);
			dc[k] = r ? 0.f : dh * ex2_ftz(dt * a2[k]);
		}
	}
	if (dok) {
		long long o = (((long long)b * nc + c) * D + d) * N_;
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			int n = g * NPT + k;
			if (n < N_) Dloc[o + n] = dc[k];
		}
		if (g == 0) Ssum[((long long)b * nc + c) * D + d] = anyr ? -1.f : ssum;
	}
}

// scan_bwd_carry: one thread per (b, d, n) walks the chunks backwards:
// Dcin[c] is the state gradient entering chunk c from its end, DH0 the one
// leaving the first chunk.
extern "C" __global__ void scan_bwd_carry(const float* __restrict__ Dloc, const float* __restrict__ Ssum, const float* __restrict__ A,
                                          const float* __restrict__ AImag, const float* __restrict__ DHT, float* __restrict__ Dcin, float* __restrict__ DH0,
                                          int B, int D, int nc)
{
	long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x;
	if (e >= (long long)B * D * N_) return;
	int n = e % N_;
	long long bd = e / N_;
	int d = bd % D, b = bd / D;
	float ar = A[d * N_ + n];
	float dc = DHT ? DHT[bd * N_ + n] : 0.f;
#pragma unroll 4
	for (int c = nc - 1; c >= 0; c--) {
		long long o = (((long long)b * nc + c) * D + d) * N_;
		float s = Ssum[((long long)b * nc + c) * D + d];
		float l = Dloc[o + n];
		Dcin[o + n] = dc;
		dc = s < 0.f ? l : fmaf(expf(ar * s), dc, l);
	}
	if (DH0) DH0[bd * N_ + n] = dc;
}

#define VP ((2 * NPT) <= 8 ? 8 : ((2 * NPT) <= 16 ? 16 : 32)) // values reduced across channels, padded
#define NW (NT / 32)

// Dynamic shared memory layout of scan_bwd, in floats.
#define SH_TILE (T * DT)
#define SH_DT 0
#define SH_U (SH_DT + SH_TILE)
#define SH_DY (SH_U + SH_TILE)
#define SH_GATE (SH_DY + SH_TILE)
#define SH_GZ (SH_GATE + SH_TILE)
#define SH_B (SH_GZ + SH_TILE)
#define SH_C (SH_B + T * NP)
#define SH_PART (SH_C + T * NP)
#define SH_R (SH_PART + NW * SUB * NG * VP)
#define SH_FLOATS (SH_R + T / 4 + 1)

// scan_bwd: the gradients of one chunk, from the state entering it
// (Saved) and the state gradient entering it from its end (Dcin). The
// sums over channels of dB, dC go to pBC per channel tile; the sums over
// time of dA, dD, dΔbias and per-channel dB, dC go to per-(b, chunk)
// partials, all added in a fixed order by later kernels.
#ifndef BWD_MINB
#define BWD_MINB 4 // blocks a multiprocessor should hold: caps registers at 65536/(NT·BWD_MINB)
#endif

extern "C" __global__ void __launch_bounds__(NT, BWD_MINB)
scan_bwd(const float* __restrict__ U, const float* __restrict__ Delta, const float* __restrict__ DeltaBias,
         const float* __restrict__ A, const float* __restrict__ AImag, const float* __restrict__ Bm, const float* __restrict__ BImag,
         const float* __restrict__ Cm, const float* __restrict__ CImag,
         const float* __restrict__ Dskip, const float* __restrict__ Z, const u8* __restrict__ Reset,
         const float* __restrict__ Saved, const float* __restrict__ Dcin, const float* __restrict__ DY,
         float* __restrict__ DU, float* __restrict__ DDelta, float* __restrict__ DZ,
         float* __restrict__ pBC,   // (nx, B, L, 2N): per-tile sums of dB, dC (selective)
         float* __restrict__ pA,    // (B, nc, D, N)
         float* __restrict__ pAi,   // unused (complex only)
         float* __restrict__ pSkip, // (B, nc, D)
         float* __restrict__ pBias, // (B, nc, D)
         float* __restrict__ pBpc,  // (B, nc, D, N): per-channel dB
         float* __restrict__ pBpci, // unused (complex only)
         float* __restrict__ pCpc,  // (B, nc, D, N): per-channel dC
         float* __restrict__ pCpci, // unused (complex only)
         int L, int D)
{
	extern __shared__ float sh[];
	float (*s_dt)[DT] = (float (*)[DT])(sh + SH_DT);
	float (*s_u)[DT] = (float (*)[DT])(sh + SH_U);
	float (*s_dy)[DT] = (float (*)[DT])(sh + SH_DY);
	float (*s_gate)[DT] = (float (*)[DT])(sh + SH_GATE);
	float (*s_gz)[DT] = (float (*)[DT])(sh + SH_GZ);
	float (*s_B)[NP] = (float (*)[NP])(sh + SH_B);
	float (*s_C)[NP] = (float (*)[NP])(sh + SH_C);
	float* s_part = sh + SH_PART;
	u8* s_r = (u8*)(sh + SH_R);
	BLOCK_COORDS;
	const int lane = tid & 31, warp = tid >> 5;
	const int B_ = gridDim.y;

#pragma unroll 4
	for (int i = 0; i < IT; i++) {
		int e = tid + i * NT, row = e / DT, col = e % DT, t = t0 + row, dd = d0 + col;
		bool ok = t < L && dd < D;
		long long idx = ((long long)b * L + t) * D + dd;
		float z = ok && Z ? Z[idx] : 0.f;
		s_dt[row][col] = ok ? softplus_fast(Delta[idx] + (DeltaBias ? DeltaBias[dd] : 0.f)) : 0.f;
		s_u[row][col] = ok ? U[idx] : 0.f;
		s_dy[row][col] = ok ? DY[idx] : 0.f;
		if (Z) {
			float sg = sigmoid_fast(z);
			s_gate[row][col] = z * sg;
			s_gz[row][col] = sg * (1.f + z * (1.f - sg));
		} else {
			s_gate[row][col] = 1.f;
			s_gz[row][col] = 0.f;
		}
	}
#if !B_PC
	stage_bc(s_B, Bm, b, t0, L);
#endif
#if !C_PC
	stage_bc(s_C, Cm, b, t0, L);
#endif
	stage_reset(s_r, Reset, b, t0, L);

	float a2[NPT], av[NPT], dA[NPT], dc[NPT];
	float hb[NS][NPT]; // piece start states: indexed at run time, so in local memory
#if B_PC
	float bpc[NPT], dBpc[NPT];
#endif
#if C_PC
	float cpc[NPT], dCpc[NPT];
#endif
	const long long so = (((long long)b * nc + c) * D + d) * N_;
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		int n = g * NPT + k;
		bool ok = dok && n < N_;
		av[k] = ok ? A[d * N_ + n] : 0.f;
		a2[k] = av[k] * LOG2E_F;
		dA[k] = 0.f;
		dc[k] = ok ? Dcin[so + n] : 0.f;
		hb[0][k] = ok ? Saved[so + n] : 0.f;
#if B_PC
		bpc[k] = ok ? Bm[d * N_ + n] : 0.f;
		dBpc[k] = 0.f;
#endif
#if C_PC
		cpc[k] = ok ? Cm[d * N_ + n] : 0.f;
		dCpc[k] = 0.f;
#endif
	}
	const float skip = dok && Dskip ? Dskip[d] : 0.f;
	float dskip = 0.f, dbias = 0.f;
	__syncthreads();

	// Pass 1: the states at the start of each piece.
	{
		float h[NPT];
#pragma unroll
		for (int k = 0; k < NPT; k++) h[k] = hb[0][k];
#pragma unroll 1
		for (int s = 0; s < NS - 1; s++) {
#pragma unroll
			for (int j = 0; j < SUB; j++) {
				int jj = s * SUB + j;
				float dt = s_dt[jj][dl], x = dt * s_u[jj][dl];
				bool r = s_r[jj];
#pragma unroll
				for (int k = 0; k < NPT; k++) {
#if B_PC
					float bb = bpc[k];
#else
					float bb = s_B[jj][g * NPT + k];
#endif
					h[k] = fmaf(ex2_ftz(dt * a2[k]), r ? 0.f : h[k], x * bb);
				}
			}
#pragma unroll
			for (int k = 0; k < NPT; k++) hb[s + 1][k] = h[k];
		}
	}

	// Pass 2: piece by piece, last first (not unrolled: the body is large).
#pragma unroll 1
	for (int s = NS - 1; s >= 0; s--) {
		float hs[SUB][NPT], ab[SUB][NPT], hs0[NPT];
#pragma unroll
		for (int k = 0; k < NPT; k++) hs0[k] = hb[s][k];
#pragma unroll
		for (int j = 0; j < SUB; j++) {
			int jj = s * SUB + j;
			float dt = s_dt[jj][dl], x = dt * s_u[jj][dl];
			bool r = s_r[jj];
#pragma unroll
			for (int k = 0; k < NPT; k++) {
#if B_PC
				float bb = bpc[k];
#else
				float bb = s_B[jj][g * NPT + k];
#endif
				float hp = j == 0 ? hs0[k] : hs[j - 1][k];
				ab[j][k] = ex2_ftz(dt * a2[k]);
				hs[j][k] = fmaf(ab[j][k], r ? 0.f : hp, x * bb);
			}
		}
#pragma unroll
		for (int j = SUB - 1; j >= 0; j--) {
			int jj = s * SUB + j, t = t0 + jj;
			float dt = s_dt[jj][dl], u = s_u[jj][dl], dy = s_dy[jj][dl];
			bool r = s_r[jj];
			float yp = 0.f;
			float cc[NPT], bb[NPT];
#pragma unroll
			for (int k = 0; k < NPT; k++) {
#if C_PC
				cc[k] = cpc[k];
#else
				cc[k] = s_C[jj][g * NPT + k];
#endif
#if B_PC
				bb[k] = bpc[k];
#else
				bb[k] = s_B[jj][g * NPT + k];
#endif
				yp = fmaf(cc[k], hs[j][k], yp);
			}
			float gy = dy * s_gate[jj][dl];
			float sdB = 0.f, sAx = 0.f;
			float v[VP];
#pragma unroll
			for (int q = 0; q < VP; q++) v[q] = 0.f;
#pragma unroll
			for (int k = 0; k < NPT; k++) {
				float dh = fmaf(gy, cc[k], dc[k]);
				float hp = j == 0 ? hs0[k] : hs[j - 1][k];
				if (r) hp = 0.f;
				float a = ab[j][k];
				float dbk = dh * dt * u, dck = gy * hs[j][k];
#if B_PC
				dBpc[k] += dbk;
#else
				v[k] = dbk;
#endif
#if C_PC
				dCpc[k] += dck;
#else
				v[NPT + k] = dck;
#endif
				sdB = fmaf(dh, bb[k], sdB);
				float xa = dh * a * hp;
				sAx = fmaf(xa, av[k], sAx);
				dA[k] = fmaf(xa, dt, dA[k]);
				dc[k] = r ? 0.f : dh * a;
			}
			yp += __shfl_xor_sync(0xffffffffu, yp, 1);
			sdB += __shfl_xor_sync(0xffffffffu, sdB, 1);
			sAx += __shfl_xor_sync(0xffffffffu, sAx, 1);
			yp += __shfl_xor_sync(0xffffffffu, yp, 2);
			sdB += __shfl_xor_sync(0xffffffffu, sdB, 2);
			sAx += __shfl_xor_sync(0xffffffffu, sAx, 2);
			float y = yp + skip * u;
			float du = fmaf(gy, skip, dt * sdB);
			float ddl = fmaf(u, sdB, sAx) * softplus_grad_of(dt);
			float dz = dy * y * s_gz[jj][dl];
			if (t < L) {
				dskip = fmaf(gy, u, dskip);
				dbias += ddl;
			}
			// Row jj of the tiles is not read again: lane 0 of the channel
			// parks the outputs there (the shuffles above ordered the
			// channel's reads), stored coalesced at the end.
			__syncwarp();
			if (g == 0) {
				s_u[jj][dl] = du;
				s_dy[jj][dl] = ddl;
				s_gz[jj][dl] = dz;
			}
#if !B_PC || !C_PC
			// Reduce-scatter of v over the 8 channels of the warp (lane
			// bits 2..4): each lane keeps VP/8 sums.
#pragma unroll
			for (int m = 16, cur = VP; m >= 4; m >>= 1, cur >>= 1) {
				bool hiLane = lane & m;
#pragma unroll
				for (int i = 0; i < cur / 2; i++) {
					float send = hiLane ? v[i] : v[i + cur / 2];
					float keep = hiLane ? v[i + cur / 2] : v[i];
					v[i] = keep + __shfl_xor_sync(0xffffffffu, send, m);
				}
			}
			{
				int base = ((lane & 16) ? VP / 2 : 0) + ((lane & 8) ? VP / 4 : 0) + ((lane & 4) ? VP / 8 : 0);
				float* p = s_part + ((warp * SUB + j) * NG + g) * VP + base;
#pragma unroll
				for (int i = 0; i < VP / 8; i++) p[i] = v[i];
			}
#endif
		}
#if !B_PC || !C_PC
		// The piece's sums over the block's channels: warps added in order.
		__syncthreads();
		if (pBC) {
			for (int e = tid; e < SUB * NG * VP; e += NT) {
				int j = e / (NG * VP), gq = e % (NG * VP), gg = gq / VP, q = gq % VP;
				int t = t0 + s * SUB + j;
				if (t >= L || q >= 2 * NPT) continue;
				bool isC = q >= NPT;
				int n = gg * NPT + (isC ? q - NPT : q);
				if (n >= N_) continue;
				float sum = 0.f;
				for (int w = 0; w < NW; w++) sum += s_part[w * SUB * NG * VP + e];
				pBC[(((long long)xt * B_ + b) * L + t) * (2 * N_) + (isC ? N_ : 0) + n] = sum;
			}
		}
		__syncthreads();
#endif
	}
	__syncthreads();
#pragma unroll 4
	for (int i = 0; i < IT; i++) {
		int e = tid + i * NT, row = e / DT, col = e % DT, t = t0 + row, dd = d0 + col;
		if (t < L && dd < D) {
			long long idx = ((long long)b * L + t) * D + dd;
			if (DU) DU[idx] = s_u[row][col];
			if (DDelta) DDelta[idx] = s_dy[row][col];
			if (DZ) DZ[idx] = s_gz[row][col];
		}
	}
	if (dok) {
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			int n = g * NPT + k;
			if (n >= N_) continue;
			if (pA) pA[so + n] = dA[k];
#if B_PC
			if (pBpc) pBpc[so + n] = dBpc[k];
#endif
#if C_PC
			if (pCpc) pCpc[so + n] = dCpc[k];
#endif
		}
		if (g == 0) {
			long long o = ((long long)b * nc + c) * D + d;
			if (pSkip) pSkip[o] = dskip;
			if (pBias) pBias[o] = dbias;
		}
	}
}

#endif // !COMPLEX

#if COMPLEX
// The complex backward pass: the real kernels' structure with complex
// states and gradients. With g = ∂L/∂Re + i·∂L/∂Im, one step back through
// h' = Ā·h + x·B and y = 2·Re(C·h') is (kernels/scan_complex.go):
// g_h' += 2·gy·conj(C), dC = 2·gy·conj(h'), dB = x·g_h',
// dx = Re(g_h'·conj(B)), dĀ = g_h'·conj(h), g_h = conj(Ā)·g_h', and
// through Ā = exp(Δ·A): g_ΔA = conj(Ā)·dĀ, dA = Δ·g_ΔA,
// dΔ += Re(g_ΔA·conj(A)). Across a chunk the carried gradient is
// multiplied by conj(exp(A·ΣΔ)).

extern "C" __global__ void __launch_bounds__(NT)
scan_bwd_local(const float* __restrict__ Delta, const float* __restrict__ DeltaBias, const float* __restrict__ A,
               const float* __restrict__ AImag, const float* __restrict__ Cm, const float* __restrict__ CImag,
               const float* __restrict__ Z, const u8* __restrict__ Reset,
               const float* __restrict__ DY, float* __restrict__ Dloc, float* __restrict__ Ssum, int L, int D)
{
	__shared__ float s_dt[T][DT], s_gy[T][DT];
#if !C_PC
	__shared__ float s_C[T][NP], s_Ci[T][NP];
#endif
	__shared__ u8 s_r[T];
	BLOCK_COORDS;
#pragma unroll 4
	for (int i = 0; i < IT; i++) {
		int e = tid + i * NT, row = e / DT, col = e % DT, t = t0 + row, dd = d0 + col;
		bool ok = t < L && dd < D;
		long long idx = ((long long)b * L + t) * D + dd;
		s_dt[row][col] = ok ? softplus_fast(Delta[idx] + (DeltaBias ? DeltaBias[dd] : 0.f)) : 0.f;
		s_gy[row][col] = ok ? DY[idx] * (Z ? Z[idx] * sigmoid_fast(Z[idx]) : 1.f) : 0.f;
	}
#if !C_PC
	stage_bc(s_C, Cm, b, t0, L);
	if (CImag) stage_bc(s_Ci, CImag, b, t0, L);
	else
		for (int e = tid; e < T * NP; e += NT) s_Ci[e / NP][e % NP] = 0.f;
#endif
	stage_reset(s_r, Reset, b, t0, L);
	float a2[NPT], ai[NPT], dr[NPT], di[NPT];
#if C_PC
	float cpc[NPT], cpci[NPT];
#endif
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		int n = g * NPT + k;
		bool ok = dok && n < N_;
		a2[k] = ok ? A[d * N_ + n] * LOG2E_F : 0.f;
		ai[k] = ok ? AImag[d * N_ + n] : 0.f;
		dr[k] = di[k] = 0.f;
#if C_PC
		cpc[k] = ok ? Cm[d * N_ + n] : 0.f;
		cpci[k] = ok && CImag ? CImag[d * N_ + n] : 0.f;
#endif
	}
	__syncthreads();
	float ssum = 0.f;
	bool anyr = false;
	for (int j = T - 1; j >= 0; j--) {
		float dt = s_dt[j][dl], gy2 = 2.f * s_gy[j][dl];
		bool r = s_r[j];
		ssum += dt;
		anyr |= r;
#pragma unroll
		for (int k = 0; k < NPT; k++) {
#if C_PC
			float cr = cpc[k], ci = cpci[k];
#else
			float cr = s_C[j][g * NPT + k], ci = s_Ci[j][g * NPT + k];
#endif
			float gr = fmaf(gy2, cr, dr[k]), gi = fmaf(-gy2, ci, di[k]);
			if (r) {
				dr[k] = di[k] = 0.f;
			} else {
				float e = ex2_ftz(dt * a2[k]), sn, cs;
				sincosf(dt * ai[k], &sn, &cs);
				float ar = e * cs, aim = e * sn;
				dr[k] = ar * gr + aim * gi;
				di[k] = ar * gi - aim * gr;
			}
		}
	}
	if (dok) {
		long long o = (((long long)b * nc + c) * D + d) * SN;
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			int n = g * NPT + k;
			if (n < N_) {
				Dloc[o + n] = dr[k];
				Dloc[o + N_ + n] = di[k];
			}
		}
		if (g == 0) Ssum[((long long)b * nc + c) * D + d] = anyr ? -1.f : ssum;
	}
}

extern "C" __global__ void scan_bwd_carry(const float* __restrict__ Dloc, const float* __restrict__ Ssum, const float* __restrict__ A,
                                          const float* __restrict__ AImag, const float* __restrict__ DHT,
                                          float* __restrict__ Dcin, float* __restrict__ DH0, int B, int D, int nc)
{
	long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x;
	if (e >= (long long)B * D * N_) return;
	int n = e % N_;
	long long bd = e / N_;
	int d = bd % D, b = bd / D;
	float ar = A[d * N_ + n], ai = AImag[d * N_ + n];
	float dr = DHT ? DHT[bd * SN + n] : 0.f, di = DHT ? DHT[bd * SN + N_ + n] : 0.f;
	for (int c = nc - 1; c >= 0; c--) {
		long long o = (((long long)b * nc + c) * D + d) * SN;
		float s = Ssum[((long long)b * nc + c) * D + d];
		float lr = Dloc[o + n], li = Dloc[o + N_ + n];
		Dcin[o + n] = dr;
		Dcin[o + N_ + n] = di;
		if (s < 0.f) {
			dr = lr;
			di = li;
		} else {
			float m = expf(ar * s), sn, cs;
			sincosf(ai * s, &sn, &cs);
			float pr = m * cs, pi = m * sn;
			float nr = pr * dr + pi * di + lr;
			di = pr * di - pi * dr + li;
			dr = nr;
		}
	}
	if (DH0) {
		DH0[bd * SN + n] = dr;
		DH0[bd * SN + N_ + n] = di;
	}
}

#define VPC ((4 * NPT) <= 8 ? 8 : ((4 * NPT) <= 16 ? 16 : ((4 * NPT) <= 32 ? 32 : 64)))
#define NWC (NT / 32)
#define CH_TILE (T * DT)
#define CH_B (5 * CH_TILE)
#define CH_BI (CH_B + T * NP)
#define CH_C (CH_BI + T * NP)
#define CH_CI (CH_C + T * NP)
#define CH_PART (CH_CI + T * NP)
#define CH_R (CH_PART + NWC * SUB * NG * VPC)
#define CH_FLOATS (CH_R + T / 4 + 1)
#ifndef BWD_MINB
#define BWD_MINB 2
#endif

extern "C" __global__ void __launch_bounds__(NT, BWD_MINB)
scan_bwd(const float* __restrict__ U, const float* __restrict__ Delta, const float* __restrict__ DeltaBias,
         const float* __restrict__ A, const float* __restrict__ AImag, const float* __restrict__ Bm, const float* __restrict__ BImag,
         const float* __restrict__ Cm, const float* __restrict__ CImag,
         const float* __restrict__ Dskip, const float* __restrict__ Z, const u8* __restrict__ Reset,
         const float* __restrict__ Saved, const float* __restrict__ Dcin, const float* __restrict__ DY,
         float* __restrict__ DU, float* __restrict__ DDelta, float* __restrict__ DZ,
         float* __restrict__ pBC,   // (nx, B, L, 4N): per-tile sums of dB, dB imag, dC, dC imag
         float* __restrict__ pA,    // (B, nc, D, N)
         float* __restrict__ pAi,   // (B, nc, D, N)
         float* __restrict__ pSkip, // (B, nc, D)
         float* __restrict__ pBias, // (B, nc, D)
         float* __restrict__ pBpc, float* __restrict__ pBpci, // (B, nc, D, N): per-channel dB
         float* __restrict__ pCpc, float* __restrict__ pCpci, // (B, nc, D, N): per-channel dC
         int L, int D)
{
	extern __shared__ float sh[];
	float (*s_dt)[DT] = (float (*)[DT])(sh);
	float (*s_u)[DT] = (float (*)[DT])(sh + CH_TILE);
	float (*s_dy)[DT] = (float (*)[DT])(sh + 2 * CH_TILE);
	float (*s_gate)[DT] = (float (*)[DT])(sh + 3 * CH_TILE);
	float (*s_gz)[DT] = (float (*)[DT])(sh + 4 * CH_TILE);
	float (*s_B)[NP] = (float (*)[NP])(sh + CH_B);
	float (*s_Bi)[NP] = (float (*)[NP])(sh + CH_BI);
	float (*s_C)[NP] = (float (*)[NP])(sh + CH_C);
	float (*s_Ci)[NP] = (float (*)[NP])(sh + CH_CI);
	float* s_part = sh + CH_PART;
	u8* s_r = (u8*)(sh + CH_R);
	(void)s_B; (void)s_Bi; (void)s_C; (void)s_Ci;
	BLOCK_COORDS;
	const int lane = tid & 31, warp = tid >> 5;
	const int B_ = gridDim.y;

	for (int i = 0; i < IT; i++) {
		int e = tid + i * NT, row = e / DT, col = e % DT, t = t0 + row, dd = d0 + col;
		bool ok = t < L && dd < D;
		long long idx = ((long long)b * L + t) * D + dd;
		float z = ok && Z ? Z[idx] : 0.f;
		s_dt[row][col] = ok ? softplus_fast(Delta[idx] + (DeltaBias ? DeltaBias[dd] : 0.f)) : 0.f;
		s_u[row][col] = ok ? U[idx] : 0.f;
		s_dy[row][col] = ok ? DY[idx] : 0.f;
		if (Z) {
			float sg = sigmoid_fast(z);
			s_gate[row][col] = z * sg;
			s_gz[row][col] = sg * (1.f + z * (1.f - sg));
		} else {
			s_gate[row][col] = 1.f;
			s_gz[row][col] = 0.f;
		}
	}
#if !B_PC
	stage_bc(s_B, Bm, b, t0, L);
	if (BImag) stage_bc(s_Bi, BImag, b, t0, L);
	else
		for (int e = tid; e < T * NP; e += NT) s_Bi[e / NP][e % NP] = 0.f;
#endif
#if !C_PC
	stage_bc(s_C, Cm, b, t0, L);
	if (CImag) stage_bc(s_Ci, CImag, b, t0, L);
	else
		for (int e = tid; e < T * NP; e += NT) s_Ci[e / NP][e % NP] = 0.f;
#endif
	stage_reset(s_r, Reset, b, t0, L);

	float a2[NPT], av[NPT], aiv[NPT], dAr[NPT], dAi[NPT], dcr[NPT], dci[NPT];
	float hbr[NS][NPT], hbi[NS][NPT]; // piece start states (local memory)
#if B_PC
	float bpc[NPT], bpci[NPT], dBr_[NPT], dBi_[NPT];
#endif
#if C_PC
	float cpc[NPT], cpci[NPT], dCr_[NPT], dCi_[NPT];
#endif
	const long long so = (((long long)b * nc + c) * D + d) * SN;
	const long long po = (((long long)b * nc + c) * D + d) * N_;
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		int n = g * NPT + k;
		bool ok = dok && n < N_;
		av[k] = ok ? A[d * N_ + n] : 0.f;
		aiv[k] = ok ? AImag[d * N_ + n] : 0.f;
		a2[k] = av[k] * LOG2E_F;
		dAr[k] = dAi[k] = 0.f;
		dcr[k] = ok ? Dcin[so + n] : 0.f;
		dci[k] = ok ? Dcin[so + N_ + n] : 0.f;
		hbr[0][k] = ok ? Saved[so + n] : 0.f;
		hbi[0][k] = ok ? Saved[so + N_ + n] : 0.f;
#if B_PC
		bpc[k] = ok ? Bm[d * N_ + n] : 0.f;
		bpci[k] = ok && BImag ? BImag[d * N_ + n] : 0.f;
		dBr_[k] = dBi_[k] = 0.f;
#endif
#if C_PC
		cpc[k] = ok ? Cm[d * N_ + n] : 0.f;
		cpci[k] = ok && CImag ? CImag[d * N_ + n] : 0.f;
		dCr_[k] = dCi_[k] = 0.f;
#endif
	}
	const float skip = dok && Dskip ? Dskip[d] : 0.f;
	float dskip = 0.f, dbias = 0.f;
	__syncthreads();

	// One step of the complex recurrence, for pass 1 and the recompute.
#define CSTEP(jj, hr, hi, outr, outi, abr_, abi_)                                  \
	{                                                                              \
		float dt_ = s_dt[jj][dl], x_ = dt_ * s_u[jj][dl];                          \
		bool r_ = s_r[jj];                                                         \
		_Pragma("unroll") for (int k = 0; k < NPT; k++) {                          \
			float br_ = B_PC_R(jj, k), bi_ = B_PC_I(jj, k);                          \
			float e_ = ex2_ftz(dt_ * a2[k]), sn_, cs_;                             \
			sincosf(dt_ * aiv[k], &sn_, &cs_);                                     \
			float ar_ = e_ * cs_, ai_ = e_ * sn_;                                  \
			float pr_ = r_ ? 0.f : hr[k], pi_ = r_ ? 0.f : hi[k];                  \
			abr_[k] = ar_;                                                         \
			abi_[k] = ai_;                                                         \
			outr[k] = ar_ * pr_ - ai_ * pi_ + x_ * br_;                            \
			outi[k] = ar_ * pi_ + ai_ * pr_ + x_ * bi_;                            \
		}                                                                          \
	}
#if B_PC
#define B_PC_R(jj, k) bpc[k]
#define B_PC_I(jj, k) bpci[k]
#else
#define B_PC_R(jj, k) s_B[jj][g * NPT + k]
#define B_PC_I(jj, k) s_Bi[jj][g * NPT + k]
#endif

	// Pass 1: the states at the start of each piece.
	{
		float hr[NPT], hi[NPT], tr[NPT], ti[NPT];
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			hr[k] = hbr[0][k];
			hi[k] = hbi[0][k];
		}
#pragma unroll 1
		for (int s = 0; s < NS - 1; s++) {
#pragma unroll
			for (int j = 0; j < SUB; j++) {
				CSTEP(s * SUB + j, hr, hi, hr, hi, tr, ti);
			}
#pragma unroll
			for (int k = 0; k < NPT; k++) {
				hbr[s + 1][k] = hr[k];
				hbi[s + 1][k] = hi[k];
			}
		}
	}

	// Pass 2: piece by piece, last first.
#pragma unroll 1
	for (int s = NS - 1; s >= 0; s--) {
		float hsr[SUB][NPT], hsi[SUB][NPT], abr[SUB][NPT], abi[SUB][NPT], h0r[NPT], h0i[NPT];
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			h0r[k] = hbr[s][k];
			h0i[k] = hbi[s][k];
		}
		CSTEP(s * SUB, h0r, h0i, hsr[0], hsi[0], abr[0], abi[0]);
#pragma unroll
		for (int j = 1; j < SUB; j++) {
			CSTEP(s * SUB + j, hsr[j - 1], hsi[j - 1], hsr[j], hsi[j], abr[j], abi[j]);
		}
#pragma unroll
		for (int j = SUB - 1; j >= 0; j--) {
			int jj = s * SUB + j, t = t0 + jj;
			float dt = s_dt[jj][dl], u = s_u[jj][dl], dy = s_dy[jj][dl], x = dt * u;
			bool r = s_r[jj];
			float cr[NPT], ci[NPT];
			float yp = 0.f;
#pragma unroll
			for (int k = 0; k < NPT; k++) {
#if C_PC
				cr[k] = cpc[k];
				ci[k] = cpci[k];
#else
				cr[k] = s_C[jj][g * NPT + k];
				ci[k] = s_Ci[jj][g * NPT + k];
#endif
				yp += 2.f * (cr[k] * hsr[j][k] - ci[k] * hsi[j][k]);
			}
			float gy = dy * s_gate[jj][dl], gy2 = 2.f * gy;
			float sdx = 0.f, sAx = 0.f;
			float v[VPC];
#pragma unroll
			for (int q = 0; q < VPC; q++) v[q] = 0.f;
#pragma unroll
			for (int k = 0; k < NPT; k++) {
				float gr = fmaf(gy2, cr[k], dcr[k]), gi = fmaf(-gy2, ci[k], dci[k]);
				float dCr = gy2 * hsr[j][k], dCi = -gy2 * hsi[j][k];
				float dBr = x * gr, dBi = x * gi;
#if B_PC
				dBr_[k] += dBr;
				dBi_[k] += dBi;
				sdx += gr * bpc[k] + gi * bpci[k];
#else
				v[k] = dBr;
				v[NPT + k] = dBi;
				sdx += gr * s_B[jj][g * NPT + k] + gi * s_Bi[jj][g * NPT + k];
#endif
#if C_PC
				dCr_[k] += dCr;
				dCi_[k] += dCi;
#else
				v[2 * NPT + k] = dCr;
				v[3 * NPT + k] = dCi;
#endif
				if (r) {
					dcr[k] = dci[k] = 0.f;
				} else {
					float pr = j == 0 ? h0r[k] : hsr[j - 1][k];
					float pi = j == 0 ? h0i[k] : hsi[j - 1][k];
					float ar = abr[j][k], ai = abi[j][k];
					float dAbr = gr * pr + gi * pi, dAbi = gi * pr - gr * pi;
					float gre = ar * dAbr + ai * dAbi, gim = ar * dAbi - ai * dAbr;
					dAr[k] = fmaf(gre, dt, dAr[k]);
					dAi[k] = fmaf(gim, dt, dAi[k]);
					sAx += gre * av[k] + gim * aiv[k];
					dcr[k] = ar * gr + ai * gi;
					dci[k] = ar * gi - ai * gr;
				}
			}
			yp += __shfl_xor_sync(0xffffffffu, yp, 1);
			sdx += __shfl_xor_sync(0xffffffffu, sdx, 1);
			sAx += __shfl_xor_sync(0xffffffffu, sAx, 1);
			yp += __shfl_xor_sync(0xffffffffu, yp, 2);
			sdx += __shfl_xor_sync(0xffffffffu, sdx, 2);
			sAx += __shfl_xor_sync(0xffffffffu, sAx, 2);
			float y = yp + skip * u;
			float du = fmaf(gy, skip, dt * sdx);
			float ddl = fmaf(u, sdx, sAx) * softplus_grad_of(dt);
			float dz = dy * y * s_gz[jj][dl];
			if (t < L) {
				dskip = fmaf(gy, u, dskip);
				dbias += ddl;
			}
			__syncwarp();
			if (g == 0) {
				s_u[jj][dl] = du;
				s_dy[jj][dl] = ddl;
				s_gz[jj][dl] = dz;
			}
#if !B_PC || !C_PC
#pragma unroll
			for (int m = 16, cur = VPC; m >= 4; m >>= 1, cur >>= 1) {
				bool hiLane = lane & m;
#pragma unroll
				for (int i = 0; i < cur / 2; i++) {
					float send = hiLane ? v[i] : v[i + cur / 2];
					float keep = hiLane ? v[i + cur / 2] : v[i];
					v[i] = keep + __shfl_xor_sync(0xffffffffu, send, m);
				}
			}
			{
				int base = ((lane & 16) ? VPC / 2 : 0) + ((lane & 8) ? VPC / 4 : 0) + ((lane & 4) ? VPC / 8 : 0);
				float* p = s_part + ((warp * SUB + j) * NG + g) * VPC + base;
#pragma unroll
				for (int i = 0; i < VPC / 8; i++) p[i] = v[i];
			}
#endif
		}
#if !B_PC || !C_PC
		__syncthreads();
		if (pBC) {
			for (int e = tid; e < SUB * NG * VPC; e += NT) {
				int j = e / (NG * VPC), gq = e % (NG * VPC), gg = gq / VPC, q = gq % VPC;
				int t = t0 + s * SUB + j;
				if (t >= L || q >= 4 * NPT) continue;
				int slot = q / NPT, n = gg * NPT + q % NPT;
				if (n >= N_) continue;
				if ((B_PC && slot < 2) || (C_PC && slot >= 2)) continue;
				float sum = 0.f;
				for (int w = 0; w < NWC; w++) sum += s_part[w * SUB * NG * VPC + e];
				pBC[(((long long)xt * B_ + b) * L + t) * (4 * N_) + slot * N_ + n] = sum;
			}
		}
		__syncthreads();
#endif
	}
	__syncthreads();
	for (int i = 0; i < IT; i++) {
		int e = tid + i * NT, row = e / DT, col = e % DT, t = t0 + row, dd = d0 + col;
		if (t < L && dd < D) {
			long long idx = ((long long)b * L + t) * D + dd;
			if (DU) DU[idx] = s_u[row][col];
			if (DDelta) DDelta[idx] = s_dy[row][col];
			if (DZ) DZ[idx] = s_gz[row][col];
		}
	}
	if (dok) {
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			int n = g * NPT + k;
			if (n >= N_) continue;
			if (pA) pA[po + n] = dAr[k];
			if (pAi) pAi[po + n] = dAi[k];
#if B_PC
			if (pBpc) pBpc[po + n] = dBr_[k];
			if (pBpci) pBpci[po + n] = dBi_[k];
#endif
#if C_PC
			if (pCpc) pCpc[po + n] = dCr_[k];
			if (pCpci) pCpci[po + n] = dCi_[k];
#endif
		}
		if (g == 0) {
			long long o = ((long long)b * nc + c) * D + d;
			if (pSkip) pSkip[o] = dskip;
			if (pBias) pBias[o] = dbias;
		}
	}
}
#endif // COMPLEX

// scan_bwd_bc sums the per-tile partials of dB and dC: DBm, DCm (B, L, N)
// (and DBImag, DCImag when complex) from pBC (nx, B, L, NBC·N) with NBC
// rows of N per (b, t): dB, dC, or dB, dB imaginary, dC, dC imaginary.
#define NBC (COMPLEX ? 4 : 2)
extern "C" __global__ void scan_bwd_bc(const float* __restrict__ pBC, int nx, long long BL,
                                       float* __restrict__ DBm, float* __restrict__ DBImag,
                                       float* __restrict__ DCm, float* __restrict__ DCImag)
{
	long long total = BL * NBC * N_;
	for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
		long long r = e / (NBC * N_);
		int q = e % (NBC * N_), slot = q / N_, n = q % N_;
		float s = 0.f;
		for (int x = 0; x < nx; x++) s += pBC[x * total + e];
#if COMPLEX
		float* dst = slot == 0 ? DBm : slot == 1 ? DBImag : slot == 2 ? DCm : DCImag;
#else
		float* dst = slot == 0 ? DBm : DCm;
		(void)DBImag;
		(void)DCImag;
#endif
		if (dst) dst[r * N_ + n] = s;
	}
}
