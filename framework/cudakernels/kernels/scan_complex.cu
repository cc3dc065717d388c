// scan_complex.cu: the selective scan with complex A, B, C and states
// (S4D/S5-style; see scan_common.cuh for the kernels and their plan): the
// forward kernels and scan_bwd_bc from scan_common.cuh, the complex
// backward kernels here, with the real kernels' structure.
//
// With g = ∂L/∂Re + i·∂L/∂Im, one step back through h' = Ā·h + x·B and
// y = 2·Re(C·h') is (kernels/scan_complex.go): g_h' += 2·gy·conj(C),
// dC = 2·gy·conj(h'), dB = x·g_h', dx = Re(g_h'·conj(B)),
// dĀ = g_h'·conj(h), g_h = conj(Ā)·g_h', and through Ā = exp(Δ·A):
// g_ΔA = conj(Ā)·dĀ, dA = Δ·g_ΔA, dΔ += Re(g_ΔA·conj(A)). Across a chunk
// the carried gradient is multiplied by conj(exp(A·ΣΔ)).

#include "common.cuh"

constexpr bool CPLX = true;
constexpr int T = 32; // chunk length: shorter than the real scan's, for static shared memory

#include "scan_common.cuh"

extern "C" __global__ void __launch_bounds__(NT)
scan_bwd_local(const dl_in* __restrict__ Delta, const float* __restrict__ DeltaBias, const float* __restrict__ A,
               const float* __restrict__ AImag, const float* __restrict__ Cm, const float* __restrict__ CImag,
               const z_in* __restrict__ Z, const u8* __restrict__ Reset,
               const float* __restrict__ DY, float* __restrict__ Dloc, float* __restrict__ Ssum, int L, int D)
{
	__shared__ float s_dt[T][DT], s_gy[T][DT];
	__shared__ float s_C[TC][NP], s_Ci[TCI][NP];
	__shared__ u8 s_r[T];
	BLOCK_COORDS;
	bwd_local_stage(s_dt, s_gy, Delta, DeltaBias, Z, DY, b, t0, d0, L, D);
	if constexpr (!CPC) {
		stage_bc(s_C, Cm, b, t0, L);
		stage_bc_imag(s_Ci, CImag, b, t0, L);
	}
	stage_reset(s_r, Reset, b, t0, L);
	float a2[NPT], ai[NPT], dr[NPT], di[NPT], cpc[NPT], cpci[NPT];
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		int n = g * NPT + k;
		bool ok = dok && n < N_;
		a2[k] = ok ? A[d * N_ + n] * LOG2E_F : 0.f;
		ai[k] = ok ? AImag[d * N_ + n] : 0.f;
		dr[k] = di[k] = 0.f;
		if constexpr (CPC) {
			cpc[k] = ok ? Cm[d * N_ + n] : 0.f;
			cpci[k] = ok && CImag ? CImag[d * N_ + n] : 0.f;
		}
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
			float cr = CPC ? cpc[k] : s_C[j][g * NPT + k], ci = CPC ? cpci[k] : s_Ci[j][g * NPT + k];
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
	int n, d, b;
	long long bd;
	if (!carry_thread(B, D, n, bd, d, b)) return;
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

// bwd_cstep is one step of the recurrence at row jj for a lane's NPT
// states, in scan_bwd's pass 1 and recompute: Ā into (abr, abi), the
// state after the step into (outr, outi) (which may be (hr, hi)).
__device__ __forceinline__ void bwd_cstep(const bwd_tiles& sm, int jj, int dl, int g, const float* a2, const float* aiv,
                                          const float* bpc, const float* bpci, const float* hr, const float* hi,
                                          float* outr, float* outi, float* abr, float* abi) {
	float dt = sm.dt[jj][dl], x = dt * sm.u[jj][dl];
	bool r = sm.r[jj];
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		float br = BPC ? bpc[k] : sm.B[jj][g * NPT + k], bi = BPC ? bpci[k] : sm.Bi[jj][g * NPT + k];
		cstep(dt, x, a2[k], aiv[k], br, bi, r ? 0.f : hr[k], r ? 0.f : hi[k], abr[k], abi[k], outr[k], outi[k]);
	}
}

#ifndef BWD_MINB
#define BWD_MINB 2
#endif

extern "C" __global__ void __launch_bounds__(NT, BWD_MINB)
scan_bwd(const u_in* __restrict__ U, const dl_in* __restrict__ Delta, const float* __restrict__ DeltaBias,
         const float* __restrict__ A, const float* __restrict__ AImag, const float* __restrict__ Bm, const float* __restrict__ BImag,
         const float* __restrict__ Cm, const float* __restrict__ CImag,
         const float* __restrict__ Dskip, const z_in* __restrict__ Z, const u8* __restrict__ Reset,
         const float* __restrict__ Saved, const float* __restrict__ Dcin, const float* __restrict__ DY,
         float* __restrict__ DU, float* __restrict__ DDelta, float* __restrict__ DZ,
         unsigned short* __restrict__ DDelta16, unsigned short* __restrict__ DZ16,
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
	BLOCK_COORDS;
	const bwd_tiles sm = bwd_stage(sh, U, Delta, DeltaBias, Bm, BImag, Cm, CImag, Z, Reset, DY, b, t0, d0, L, D);

	float a2[NPT], av[NPT], aiv[NPT], dAr[NPT], dAi[NPT], dcr[NPT], dci[NPT];
	float hbr[NS][NPT], hbi[NS][NPT]; // piece start states (local memory)
	float bpc[NPT], bpci[NPT], dBr_[NPT], dBi_[NPT];
	float cpc[NPT], cpci[NPT], dCr_[NPT], dCi_[NPT];
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
		if constexpr (BPC) {
			bpc[k] = ok ? Bm[d * N_ + n] : 0.f;
			bpci[k] = ok && BImag ? BImag[d * N_ + n] : 0.f;
			dBr_[k] = dBi_[k] = 0.f;
		}
		if constexpr (CPC) {
			cpc[k] = ok ? Cm[d * N_ + n] : 0.f;
			cpci[k] = ok && CImag ? CImag[d * N_ + n] : 0.f;
			dCr_[k] = dCi_[k] = 0.f;
		}
	}
	const float skip = dok && Dskip ? Dskip[d] : 0.f;
	float dskip = 0.f, dbias = 0.f;
	__syncthreads();

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
			for (int j = 0; j < SUB; j++) bwd_cstep(sm, s * SUB + j, dl, g, a2, aiv, bpc, bpci, hr, hi, hr, hi, tr, ti);
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
		float hsr[SUB][NPT], hsi[SUB][NPT], abr[SUB][NPT], abi[SUB][NPT], h0r[NPT], h0i[NPT], yq[SUB], sq[SUB], aq[SUB];
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			h0r[k] = hbr[s][k];
			h0i[k] = hbi[s][k];
		}
		bwd_cstep(sm, s * SUB, dl, g, a2, aiv, bpc, bpci, h0r, h0i, hsr[0], hsi[0], abr[0], abi[0]);
#pragma unroll
		for (int j = 1; j < SUB; j++)
			bwd_cstep(sm, s * SUB + j, dl, g, a2, aiv, bpc, bpci, hsr[j - 1], hsi[j - 1], hsr[j], hsi[j], abr[j], abi[j]);
#pragma unroll
		for (int j = SUB - 1; j >= 0; j--) {
			int jj = s * SUB + j;
			float dt = sm.dt[jj][dl], u = sm.u[jj][dl], x = dt * u;
			bool r = sm.r[jj];
			float cr[NPT], ci[NPT];
			float yp = 0.f;
#pragma unroll
			for (int k = 0; k < NPT; k++) {
				cr[k] = CPC ? cpc[k] : sm.C[jj][g * NPT + k];
				ci[k] = CPC ? cpci[k] : sm.Ci[jj][g * NPT + k];
				yp += 2.f * (cr[k] * hsr[j][k] - ci[k] * hsi[j][k]);
			}
			float gy2 = 2.f * sm.gy[jj][dl];
			float sdx = 0.f, sAx = 0.f;
			float v[VP];
#pragma unroll
			for (int q = 0; q < VP; q++) v[q] = 0.f;
#pragma unroll
			for (int k = 0; k < NPT; k++) {
				float gr = fmaf(gy2, cr[k], dcr[k]), gi = fmaf(-gy2, ci[k], dci[k]);
				float dCr = gy2 * hsr[j][k], dCi = -gy2 * hsi[j][k];
				float dBr = x * gr, dBi = x * gi;
				if constexpr (BPC) {
					dBr_[k] += dBr;
					dBi_[k] += dBi;
					sdx += gr * bpc[k] + gi * bpci[k];
				} else {
					v[k] = dBr;
					v[NPT + k] = dBi;
					sdx += gr * sm.B[jj][g * NPT + k] + gi * sm.Bi[jj][g * NPT + k];
				}
				if constexpr (CPC) {
					dCr_[k] += dCr;
					dCi_[k] += dCi;
				} else {
					v[2 * NPT + k] = dCr;
					v[3 * NPT + k] = dCi;
				}
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
			yq[j] = yp;
			sq[j] = sdx;
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
			if (pA) pA[po + n] = dAr[k];
			if (pAi) pAi[po + n] = dAi[k];
			if constexpr (BPC) {
				if (pBpc) pBpc[po + n] = dBr_[k];
				if (pBpci) pBpci[po + n] = dBi_[k];
			}
			if constexpr (CPC) {
				if (pCpc) pCpc[po + n] = dCr_[k];
				if (pCpci) pCpci[po + n] = dCi_[k];
			}
		}
	}
}
