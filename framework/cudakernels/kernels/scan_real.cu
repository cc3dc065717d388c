// scan_real.cu: the selective scan with real A, B, C and states (see
// scan_common.cuh for the kernels and their plan): the forward kernels
// and scan_bwd_bc from scan_common.cuh, the real backward kernels here.

#include "common.cuh"

constexpr bool CPLX = false;
constexpr int T = 64; // chunk length

#include "scan_common.cuh"

// scan_fwd_seq is the whole forward pass in one launch, for when the
// (channel tile, batch row) blocks alone fill the GPU: each block walks
// its chunks in order, carrying the state in registers from H0 (no
// scan_fwd_local or scan_fwd_carry), so Δ, u and B are read once and
// every step takes one exponential. While it runs a chunk, the next
// chunk's u, Δ (and B, C when they fit in registers) and this chunk's
// gate are already on their way. Saved[c] is the state entering chunk
// c, HT the state after the last; Y as scan_fwd_out.
constexpr int FS_BC = (T * NP + NT - 1) / NT; // per-thread elements of a staged B or C
constexpr bool FS_PRE_BC = FS_BC <= 8;        // prefetch B, C in registers (N ≤ 16)
// Its dynamic shared memory, in floats (scanFwdSeqShared in scan.go): the
// (T, DT) tiles of Δ, Δ·u and u, B and C as (TB, NP) and (TC, NP), the
// reset bytes.
constexpr int FS_FLOATS = 3 * T * DT + (TB + TC) * NP + T / 4 + 1;

// u and Δ stay in their input type until they are staged (a bfloat16
// input widened at the fetch would wait for its load there, not behind
// the chunk's steps).
struct fwd_next {
	u_in u[IT];
	dl_in dl[IT];
	float B[FS_BC], C[FS_BC];
};

// fwd_fetch loads chunk t0's u, raw Δ and (when they fit) B, C of the
// thread's elements of the staged tiles.
__device__ __forceinline__ void fwd_fetch(fwd_next& p, const u_in* __restrict__ U, const dl_in* __restrict__ Delta,
                                          const float* __restrict__ Bm, const float* __restrict__ Cm, int b, int t0, int dd, int L, int D) {
	const int tid = threadIdx.x;
	const tile_walk w(b, t0, dd - tid % DT, L, D);
	const u_in* Ut = w.at(U);
	const dl_in* Dl = w.at(Delta);
#pragma unroll
	for (int i = 0; i < IT; i++) {
		bool ok = w.in(i);
		p.u[i] = ok ? Ut[w.off(i)] : u_in(0);
		p.dl[i] = ok ? Dl[w.off(i)] : dl_in(0);
	}
	if constexpr (FS_PRE_BC) {
#pragma unroll
		for (int i = 0; i < FS_BC; i++) {
			int e = tid + i * NT, row = e / NP, n = e % NP, t = t0 + row;
			bool ok = e < T * NP && t < L && n < N_;
			long long o = ((long long)b * L + t) * N_ + n;
			p.B[i] = !BPC && ok ? Bm[o] : 0.f;
			p.C[i] = !CPC && ok ? Cm[o] : 0.f;
		}
	}
}

extern "C" __global__ void __launch_bounds__(NT)
scan_fwd_seq(const u_in* __restrict__ U, const dl_in* __restrict__ Delta, const float* __restrict__ DeltaBias,
             const float* __restrict__ A, const float* __restrict__ Bm, const float* __restrict__ Cm,
             const float* __restrict__ Dskip, const z_in* __restrict__ Z, const u8* __restrict__ Reset,
             const float* __restrict__ H0, float* __restrict__ Saved, float* __restrict__ HT, float* __restrict__ Y,
             unsigned short* __restrict__ Y16, int L, int D)
{
	extern __shared__ float sh[];
	float (*s_dt)[DT] = (float (*)[DT])(sh);
	float (*s_x)[DT] = (float (*)[DT])(sh + T * DT);
	float (*s_u)[DT] = (float (*)[DT])(sh + 2 * T * DT);
	float (*s_B)[NP] = (float (*)[NP])(sh + 3 * T * DT);
	float (*s_C)[NP] = (float (*)[NP])(sh + 3 * T * DT + TB * NP);
	u8* s_r = (u8*)(sh + FS_FLOATS - T / 4 - 1);
	const int xt = blockIdx.x, b = blockIdx.y, tid = threadIdx.x;
	const int d0 = xt * DT, dl = tid / NG, g = tid % NG, d = d0 + dl;
	const bool dok = d < D;
	const int nc = (L + T - 1) / T;
	// The thread's column of the staged tiles is the same in every pass.
	const int col = tid % DT, row0 = tid / DT, dd = d0 + col;
	const bool colok = dd < D;
	const float bias = colok && DeltaBias ? DeltaBias[dd] : 0.f;
	const float skip = colok && Dskip ? Dskip[dd] : 0.f;
	float a2[NPT], h[NPT], ai[NPT], hi[NPT], bpc[NPT], cpc[NPT];
	const long long bd = (long long)b * D + d;
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		int n = g * NPT + k;
		bool ok = dok && n < N_;
		a2[k] = ok ? A[d * N_ + n] * LOG2E_F : 0.f;
		h[k] = ok && H0 ? H0[bd * N_ + n] : 0.f;
		bpc[k] = BPC && ok ? Bm[d * N_ + n] : 0.f;
		cpc[k] = CPC && ok ? Cm[d * N_ + n] : 0.f;
	}
	fwd_next p;
	if (nc > 0) fwd_fetch(p, U, Delta, Bm, Cm, b, 0, dd, L, D);
#pragma unroll 1
	for (int c = 0; c < nc; c++) {
		const int t0 = c * T;
		if (Saved && dok) {
			long long o = (((long long)b * nc + c) * D + d) * N_;
#pragma unroll
			for (int k = 0; k < NPT; k++)
				if (g * NPT + k < N_) Saved[o + g * NPT + k] = h[k];
		}
		// The previous chunk's reads of the tiles by other threads ended at
		// the barrier before its output pass, which read only this
		// thread's own elements.
#pragma unroll
		for (int i = 0; i < IT; i++) {
			int row = row0 + i * TR;
			bool ok = t0 + row < L && colok;
			const float u = in_f(p.u[i]);
			float dt = ok ? softplus_fast(in_f(p.dl[i]) + bias) : 0.f;
			s_dt[row][col] = dt;
			s_x[row][col] = dt * u;
			s_u[row][col] = u;
		}
		if constexpr (FS_PRE_BC) {
#pragma unroll
			for (int i = 0; i < FS_BC; i++) {
				int e = tid + i * NT;
				if (e < T * NP) {
					if constexpr (!BPC) s_B[e / NP][e % NP] = p.B[i];
					if constexpr (!CPC) s_C[e / NP][e % NP] = p.C[i];
				}
			}
		} else {
			if constexpr (!BPC) stage_bc(s_B, Bm, b, t0, L);
			if constexpr (!CPC) stage_bc(s_C, Cm, b, t0, L);
		}
		stage_reset(s_r, Reset, b, t0, L);
		__syncthreads();
		const tile_walk w(b, t0, d0, L, D);
		z_in z[IT]; // widened where it is used, after the chunk's steps
		if (Z) {
			const z_in* Zt = w.at(Z);
#pragma unroll
			for (int i = 0; i < IT; i++) z[i] = w.in(i) ? Zt[w.off(i)] : z_in(0);
		}
		if (c + 1 < nc) fwd_fetch(p, U, Delta, Bm, Cm, b, t0 + T, dd, L, D);
		fwd_out_steps(s_dt, s_x, s_B, s_C, s_B, s_C, s_r, dl, g, a2, ai, bpc, bpc, cpc, cpc, h, hi);
		__syncthreads();
		float* Yt = w.at(Y);
		unsigned short* Yt16 = w.at(Y16);
#pragma unroll
		for (int i = 0; i < IT; i++) {
			const int row = w.row(i);
			if (w.in(i)) {
				float y = s_x[row][col];
				if (Dskip) y = fmaf(skip, s_u[row][col], y);
				if (Z) {
					const float zf = in_f(z[i]);
					y *= zf * sigmoid_fast(zf);
				}
				Yt[w.off(i)] = y;
				if (Y16) Yt16[w.off(i)] = bf16_bits(y);
			}
		}
	}
	if (HT && dok) {
#pragma unroll
		for (int k = 0; k < NPT; k++)
			if (g * NPT + k < N_) HT[bd * N_ + g * NPT + k] = h[k];
	}
}

// scan_bwd_local: each chunk's reverse recurrence of the state gradient
// from a zero incoming carry; Dloc is the carry it sends to the chunk
// before, Ssum its ΣΔ (−1 with a reset).
extern "C" __global__ void __launch_bounds__(NT)
scan_bwd_local(const dl_in* __restrict__ Delta, const float* __restrict__ DeltaBias, const float* __restrict__ A,
               const float* __restrict__ AImag, const float* __restrict__ Cm, const float* __restrict__ CImag,
               const z_in* __restrict__ Z, const u8* __restrict__ Reset,
               const float* __restrict__ DY, float* __restrict__ Dloc, float* __restrict__ Ssum, int L, int D)
{
	__shared__ float s_dt[T][DT], s_gy[T][DT];
	__shared__ float s_C[TC][NP];
	__shared__ u8 s_r[T];
	BLOCK_COORDS;
	bwd_local_stage(s_dt, s_gy, Delta, DeltaBias, Z, DY, b, t0, d0, L, D);
	if constexpr (!CPC) stage_bc(s_C, Cm, b, t0, L);
	stage_reset(s_r, Reset, b, t0, L);
	float a2[NPT], dc[NPT], cpc[NPT];
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		int n = g * NPT + k;
		bool ok = dok && n < N_;
		a2[k] = ok ? A[d * N_ + n] * LOG2E_F : 0.f;
		dc[k] = 0.f;
		if constexpr (CPC) cpc[k] = ok ? Cm[d * N_ + n] : 0.f;
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
			float cc = CPC ? cpc[k] : s_C[j][g * NPT + k];
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
	int n, d, b;
	long long bd;
	if (!carry_thread(B, D, n, bd, d, b)) return;
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

// bwd_rstep is one step of the recurrence at row jj for a lane's NPT
// states, in scan_bwd's pass 1 and recompute: Ā into ab, the state after
// the step into out (which may be h). A reset at the step makes Ā zero
// (the exponent −∞), which is all it does to the step and to the
// gradients of the steps before it (dh·Ā, dh·Ā·h₋₁): no select a state.
__device__ __forceinline__ void bwd_rstep(const bwd_tiles& sm, int jj, int dl, int g, const float* a2, const float* bpc,
                                          const float* h, float* out, float* ab) {
	float dt = sm.dt[jj][dl], x = dt * sm.u[jj][dl];
	float rb = sm.r[jj] ? __int_as_float(0xff800000) : 0.f; // −∞
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		float bb = BPC ? bpc[k] : sm.B[jj][g * NPT + k];
		ab[k] = ex2_ftz(fmaf(dt, a2[k], rb));
		out[k] = fmaf(ab[k], h[k], x * bb);
	}
}

// scan_bwd: the gradients of one chunk, from the state entering it
// (Saved) and the state gradient entering it from its end (Dcin). The
// sums over channels of dB, dC go to pBC per channel tile; the sums over
// time of dA, dD, dΔbias and per-channel dB, dC go to per-(b, chunk)
// partials, all added in a fixed order by later kernels.
#ifndef BWD_MINB
#define BWD_MINB 4 // blocks a multiprocessor should hold: caps registers at 65536/(NT·BWD_MINB)
#endif

extern "C" __global__ void __launch_bounds__(NT, BWD_MINB)
scan_bwd(const u_in* __restrict__ U, const dl_in* __restrict__ Delta, const float* __restrict__ DeltaBias,
         const float* __restrict__ A, const float* __restrict__ AImag, const float* __restrict__ Bm, const float* __restrict__ BImag,
         const float* __restrict__ Cm, const float* __restrict__ CImag,
         const float* __restrict__ Dskip, const z_in* __restrict__ Z, const u8* __restrict__ Reset,
         const float* __restrict__ Saved, const float* __restrict__ Dcin, const float* __restrict__ DY,
         float* __restrict__ DU, float* __restrict__ DDelta, float* __restrict__ DZ,
         unsigned short* __restrict__ DDelta16, unsigned short* __restrict__ DZ16,
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
	BLOCK_COORDS;
	const bwd_tiles sm = bwd_stage(sh, U, Delta, DeltaBias, Bm, BImag, Cm, CImag, Z, Reset, DY, b, t0, d0, L, D);

	float a2[NPT], av[NPT], dA[NPT], dc[NPT];
	float hb[NS][NPT]; // piece start states: indexed at run time, so in local memory
	float bpc[NPT], dBpc[NPT], cpc[NPT], dCpc[NPT];
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
		if constexpr (BPC) {
			bpc[k] = ok ? Bm[d * N_ + n] : 0.f;
			dBpc[k] = 0.f;
		}
		if constexpr (CPC) {
			cpc[k] = ok ? Cm[d * N_ + n] : 0.f;
			dCpc[k] = 0.f;
		}
	}
	const float skip = dok && Dskip ? Dskip[d] : 0.f;
	float dskip = 0.f, dbias = 0.f;
	__syncthreads();

	// Pass 1: the states at the start of each piece.
	{
		float h[NPT], ab0[NPT];
#pragma unroll
		for (int k = 0; k < NPT; k++) h[k] = hb[0][k];
#pragma unroll 1
		for (int s = 0; s < NS - 1; s++) {
#pragma unroll
			for (int j = 0; j < SUB; j++) bwd_rstep(sm, s * SUB + j, dl, g, a2, bpc, h, h, ab0);
#pragma unroll
			for (int k = 0; k < NPT; k++) hb[s + 1][k] = h[k];
		}
	}

	// Pass 2: piece by piece, last first (not unrolled: the body is large).
#pragma unroll 1
	for (int s = NS - 1; s >= 0; s--) {
		float hs[SUB][NPT], ab[SUB][NPT], hs0[NPT], yq[SUB], sq[SUB], aq[SUB];
#pragma unroll
		for (int k = 0; k < NPT; k++) hs0[k] = hb[s][k];
#pragma unroll
		for (int j = 0; j < SUB; j++) bwd_rstep(sm, s * SUB + j, dl, g, a2, bpc, j == 0 ? hs0 : hs[j - 1], hs[j], ab[j]);
#pragma unroll
		for (int j = SUB - 1; j >= 0; j--) {
			int jj = s * SUB + j;
			float dt = sm.dt[jj][dl], x = dt * sm.u[jj][dl], gy = sm.gy[jj][dl];
			float yp = 0.f;
			float cc[NPT], bb[NPT];
#pragma unroll
			for (int k = 0; k < NPT; k++) {
				cc[k] = CPC ? cpc[k] : sm.C[jj][g * NPT + k];
				bb[k] = BPC ? bpc[k] : sm.B[jj][g * NPT + k];
				yp = fmaf(cc[k], hs[j][k], yp);
			}
			float sdB = 0.f, sAx = 0.f;
			float v[VP];
#pragma unroll
			for (int q = 0; q < VP; q++) v[q] = 0.f;
#pragma unroll
			for (int k = 0; k < NPT; k++) {
				float dh = fmaf(gy, cc[k], dc[k]);
				float hp = j == 0 ? hs0[k] : hs[j - 1][k];
				float dbk = dh * x, dck = gy * hs[j][k];
				if constexpr (BPC) dBpc[k] += dbk;
				else v[k] = dbk;
				if constexpr (CPC) dCpc[k] += dck;
				else v[NPT + k] = dck;
				sdB = fmaf(dh, bb[k], sdB);
				dc[k] = dh * ab[j][k]; // zero at a reset: Ā is
				float xa = dc[k] * hp;
				sAx = fmaf(xa, av[k], sAx);
				dA[k] = fmaf(xa, dt, dA[k]);
			}
			yq[j] = yp;
			sq[j] = sdB;
			aq[j] = sAx;
			if constexpr (!BPC || !CPC) bwd_scatter(v, sm.part, j, g);
		}
		bwd_piece_out(sm, s, dl, g, t0, L, yq, sq, aq, skip, dskip, dbias);
		if constexpr (!BPC || !CPC) bwd_flush_bc(sm.part, pBC, xt, b, t0, s, L);
	}
	bwd_store(sm, DU, DDelta, DZ, DDelta16, DZ16, pSkip, pBias, dskip, dbias, ((long long)b * nc + c) * D + d, dok, g, b, t0, d0, L, D);
	if (dok) {
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			int n = g * NPT + k;
			if (n >= N_) continue;
			if (pA) pA[so + n] = dA[k];
			if constexpr (BPC)
				if (pBpc) pBpc[so + n] = dBpc[k];
			if constexpr (CPC)
				if (pCpc) pCpc[so + n] = dCpc[k];
		}
	}
}
