// scan.cu: the fused selective scan, forward and backward, with the
// semantics of kernels.Scan (framework/kernels/scan.go).
//
// Compile-time parameters (NVRTC -D): SCAN_N (state size N), B_PC and C_PC
// (non-selective B, C: one vector per channel, shape (D, N)), COMPLEX
// (complex A, B, C and states; forward only).
//
// Layout of the work: a block owns DT channels of one batch row and walks
// the whole sequence in chunks of T steps. Each channel is served by NG
// lanes of one warp (lane = channel·NG + group), each lane holding NPT of
// the N states in registers, so a warp covers 8 channels. A chunk's inputs
// (Δ after softplus, Δ·u, D·u, the gate, B and C) are staged in shared
// memory by the whole block, with coalesced loads; the next chunk's raw
// inputs are loaded into registers while the current one is computed. The
// state is carried between chunks in registers; the forward pass writes
// the state at every chunk start to Saved (B, ⌈L/T⌉, D, N) for the
// backward pass, which recomputes each chunk from it: once to get the
// states at the starts of its SUB-step pieces, then piece by piece, last
// first, keeping the SUB states and decays of the piece in registers while
// it runs the reverse recurrence. Nothing of size B·L·D·N touches global
// memory.
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
#define NG 4                    // lanes per channel
#define NPT ((N_ + NG - 1) / NG) // states per lane
#define NP (NPT * NG)           // N padded
#define DT 32                   // channels per block
#define NT (DT * NG)            // threads per block
#if COMPLEX
#define T 32 // chunk length (steps between saved states); shorter when complex, to fit static shared memory
#else
#define T 64
#endif
#define SUB 16                  // backward piece length
#define NS (T / SUB)
#define IT ((T * DT) / NT)          // per-thread elements of a (T, DT) tile
#define IB ((T * NP + NT - 1) / NT) // per-thread elements of a (T, NP) tile

#if COMPLEX
#define SN (2 * N_)
#else
#define SN N_
#endif

// ---------------------------------------------------------------------------
// Forward.

extern "C" __global__ void __launch_bounds__(NT)
scan_fwd(const float* __restrict__ U, const float* __restrict__ Delta, const float* __restrict__ DeltaBias,
         const float* __restrict__ A, const float* __restrict__ AImag,
         const float* __restrict__ Bm, const float* __restrict__ BImag,
         const float* __restrict__ Cm, const float* __restrict__ CImag,
         const float* __restrict__ Dskip, const float* __restrict__ Z, const u8* __restrict__ Reset,
         const float* __restrict__ H0, float* __restrict__ Y, float* __restrict__ HT, float* __restrict__ Saved,
         int L, int D)
{
	__shared__ float s_dt[T][DT], s_x[T][DT], s_skip[T][DT], s_gate[T][DT];
	__shared__ float s_B[T][NP], s_C[T][NP];
#if COMPLEX
	__shared__ float s_Bi[T][NP], s_Ci[T][NP];
#endif
	__shared__ u8 s_r[T];
	const int b = blockIdx.y, d0 = blockIdx.x * DT, tid = threadIdx.x;
	const int dl = tid / NG, g = tid % NG, d = d0 + dl;
	const bool dok = d < D;
	const int nc = (L + T - 1) / T;

	// Per-lane constants: A (scaled for exp2), per-channel B and C.
	float a2[NPT];
#if COMPLEX
	float ai[NPT];
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
	float h[NPT];
#if COMPLEX
	float hi[NPT];
#endif
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		int n = g * NPT + k;
		bool ok = dok && n < N_;
		a2[k] = ok ? A[d * N_ + n] * LOG2E_F : 0.f;
#if COMPLEX
		ai[k] = ok ? AImag[d * N_ + n] : 0.f;
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
		h[k] = ok && H0 ? H0[(b * D + d) * SN + n] : 0.f;
#if COMPLEX
		hi[k] = ok && H0 ? H0[(b * D + d) * SN + N_ + n] : 0.f;
#endif
	}
	const float bias = dok && DeltaBias ? DeltaBias[d] : 0.f;
	(void)bias;

	// Raw inputs of the next chunk, in registers.
	float ru[IT], rd[IT], rz[IT];
#if !B_PC || !C_PC
	float rb[IB], rc[IB];
#if COMPLEX
	float rbi[IB], rci[IB];
#endif
#endif
	u8 rr = 0;
	auto load = [&](int c) {
		int t0 = c * T;
#pragma unroll
		for (int i = 0; i < IT; i++) {
			int e = tid + i * NT, row = e / DT, col = e % DT;
			int t = t0 + row, dd = d0 + col;
			bool ok = t < L && dd < D;
			long long idx = ((long long)b * L + t) * D + dd;
			ru[i] = ok ? U[idx] : 0.f;
			rd[i] = ok ? Delta[idx] : 0.f;
			rz[i] = ok && Z ? Z[idx] : 0.f;
		}
#if !B_PC || !C_PC
#pragma unroll
		for (int i = 0; i < IB; i++) {
			int e = tid + i * NT, row = e / NP, n = e % NP;
			int t = t0 + row;
			bool ok = e < T * NP && t < L && n < N_;
			long long idx = ((long long)b * L + t) * N_ + n;
#if !B_PC
			rb[i] = ok ? Bm[idx] : 0.f;
#if COMPLEX
			rbi[i] = ok && BImag ? BImag[idx] : 0.f;
#endif
#endif
#if !C_PC
			rc[i] = ok ? Cm[idx] : 0.f;
#if COMPLEX
			rci[i] = ok && CImag ? CImag[idx] : 0.f;
#endif
#endif
		}
#endif
		if (tid < T) rr = (Reset && t0 + tid < L) ? Reset[(long long)b * L + t0 + tid] : 0;
	};
	auto stage = [&](int c) {
		int t0 = c * T;
#pragma unroll
		for (int i = 0; i < IT; i++) {
			int e = tid + i * NT, row = e / DT, col = e % DT;
			int t = t0 + row, dd = d0 + col;
			bool ok = t < L && dd < D;
			float bs = ok && DeltaBias ? DeltaBias[dd] : 0.f;
			float dt = ok ? softplus_f(rd[i] + bs) : 0.f;
			s_dt[row][col] = dt;
			s_x[row][col] = dt * ru[i];
			s_skip[row][col] = ok && Dskip ? Dskip[dd] * ru[i] : 0.f;
			s_gate[row][col] = Z ? silu_f(rz[i]) : 1.f;
		}
#if !B_PC || !C_PC
#pragma unroll
		for (int i = 0; i < IB; i++) {
			int e = tid + i * NT, row = e / NP, n = e % NP;
			if (e < T * NP) {
#if !B_PC
				s_B[row][n] = rb[i];
#if COMPLEX
				s_Bi[row][n] = rbi[i];
#endif
#endif
#if !C_PC
				s_C[row][n] = rc[i];
#if COMPLEX
				s_Ci[row][n] = rci[i];
#endif
#endif
			}
		}
#endif
		if (tid < T) s_r[tid] = rr;
	};

	if (nc > 0) load(0);
	for (int c = 0; c < nc; c++) {
		__syncthreads(); // the previous chunk's readers are done
		stage(c);
		__syncthreads();
		if (c + 1 < nc) load(c + 1);
		if (Saved && dok) {
#pragma unroll
			for (int k = 0; k < NPT; k++) {
				int n = g * NPT + k;
				if (n < N_) {
					long long o = (((long long)b * nc + c) * D + d) * SN;
					Saved[o + n] = h[k];
#if COMPLEX
					Saved[o + N_ + n] = hi[k];
#endif
				}
			}
		}
		const int t0 = c * T;
#pragma unroll 4
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
				float e = exp2f(dt * a2[k]), sn, cs;
				sincosf(dt * ai[k], &sn, &cs);
				float ar = e * cs, aim = e * sn;
				float nr = ar * h[k] - aim * hi[k] + x * bb;
				float ni = ar * hi[k] + aim * h[k] + x * bbi;
				h[k] = nr;
				hi[k] = ni;
				yp += 2.f * (cc * nr - cci * ni);
#else
				float a = exp2f(dt * a2[k]);
				h[k] = fmaf(a, h[k], x * bb);
				yp = fmaf(cc, h[k], yp);
#endif
			}
			yp += __shfl_xor_sync(0xffffffffu, yp, 1);
			yp += __shfl_xor_sync(0xffffffffu, yp, 2);
			int t = t0 + j;
			if (g == 0 && dok && t < L) Y[((long long)b * L + t) * D + d] = (yp + s_skip[j][dl]) * s_gate[j][dl];
		}
	}
	if (HT && dok) {
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			int n = g * NPT + k;
			if (n < N_) {
				HT[(b * D + d) * SN + n] = h[k];
#if COMPLEX
				HT[(b * D + d) * SN + N_ + n] = hi[k];
#endif
			}
		}
	}
}

// ---------------------------------------------------------------------------
// Backward (real A).

#if !COMPLEX
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
#define SH_R (SH_PART + NW * T * NG * VP)
#define SH_FLOATS (SH_R + T / 4 + 1)

extern "C" __global__ void __launch_bounds__(NT, 2)
scan_bwd(const float* __restrict__ U, const float* __restrict__ Delta, const float* __restrict__ DeltaBias,
         const float* __restrict__ A, const float* __restrict__ Bm, const float* __restrict__ Cm,
         const float* __restrict__ Dskip, const float* __restrict__ Z, const u8* __restrict__ Reset,
         const float* __restrict__ Saved, const float* __restrict__ DY, const float* __restrict__ DHT,
         float* __restrict__ DU, float* __restrict__ DDelta, float* __restrict__ DZ, float* __restrict__ DH0,
         float* __restrict__ pBC,   // (gridDim.x, B, L, 2N): per-block sums of dB, dC (selective)
         float* __restrict__ pA,    // (B, D, N): per-row sums of dA
         float* __restrict__ pSkip, // (B, D)
         float* __restrict__ pBias, // (B, D)
         float* __restrict__ pBpc,  // (B, D, N): per-channel dB
         float* __restrict__ pCpc,  // (B, D, N): per-channel dC
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

	const int b = blockIdx.y, d0 = blockIdx.x * DT, tid = threadIdx.x;
	const int dl = tid / NG, g = tid % NG, d = d0 + dl;
	const int lane = tid & 31, warp = tid >> 5;
	const bool dok = d < D;
	const int nc = (L + T - 1) / T;
	const int B_ = gridDim.y;

	float a2[NPT], av[NPT], dA[NPT], dc[NPT];
#if B_PC
	float bpc[NPT], dBpc[NPT];
#endif
#if C_PC
	float cpc[NPT], dCpc[NPT];
#endif
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		int n = g * NPT + k;
		bool ok = dok && n < N_;
		av[k] = ok ? A[d * N_ + n] : 0.f;
		a2[k] = av[k] * LOG2E_F;
		dA[k] = 0.f;
		dc[k] = ok && DHT ? DHT[(b * D + d) * N_ + n] : 0.f;
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

	for (int c = nc - 1; c >= 0; c--) {
		const int t0 = c * T;
		__syncthreads();
#pragma unroll 4
		for (int i = 0; i < IT; i++) {
			int e = tid + i * NT, row = e / DT, col = e % DT;
			int t = t0 + row, dd = d0 + col;
			bool ok = t < L && dd < D;
			long long idx = ((long long)b * L + t) * D + dd;
			float bs = ok && DeltaBias ? DeltaBias[dd] : 0.f;
			float dt = ok ? softplus_f(Delta[idx] + bs) : 0.f;
			float z = ok && Z ? Z[idx] : 0.f;
			s_dt[row][col] = dt;
			s_u[row][col] = ok ? U[idx] : 0.f;
			s_dy[row][col] = ok ? DY[idx] : 0.f;
			s_gate[row][col] = Z ? silu_f(z) : 1.f;
			s_gz[row][col] = Z ? silu_grad_f(z) : 0.f;
		}
#if !B_PC || !C_PC
		for (int e = tid; e < T * NP; e += NT) {
			int row = e / NP, n = e % NP, t = t0 + row;
			bool ok = t < L && n < N_;
			long long idx = ((long long)b * L + t) * N_ + n;
#if !B_PC
			s_B[row][n] = ok ? Bm[idx] : 0.f;
#endif
#if !C_PC
			s_C[row][n] = ok ? Cm[idx] : 0.f;
#endif
		}
#endif
		if (tid < T) s_r[tid] = (Reset && t0 + tid < L) ? Reset[(long long)b * L + t0 + tid] : 0;
		__syncthreads();

		// Pass 1: the states at the start of each piece.
		float hb[NS][NPT];
		{
			float h[NPT];
#pragma unroll
			for (int k = 0; k < NPT; k++) {
				int n = g * NPT + k;
				h[k] = dok && n < N_ ? Saved[(((long long)b * nc + c) * D + d) * N_ + n] : 0.f;
			}
#pragma unroll
			for (int s = 0; s < NS; s++) {
#pragma unroll
				for (int k = 0; k < NPT; k++) hb[s][k] = h[k];
#pragma unroll 4
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
						float a = exp2f(dt * a2[k]);
						h[k] = fmaf(a, r ? 0.f : h[k], x * bb);
					}
				}
			}
		}

		// Pass 2: piece by piece, last first.
#pragma unroll
		for (int s = NS - 1; s >= 0; s--) {
			float hs[SUB][NPT], ab[SUB][NPT];
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
					float hp = j == 0 ? hb[s][k] : hs[j - 1][k];
					ab[j][k] = exp2f(dt * a2[k]);
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
				yp += __shfl_xor_sync(0xffffffffu, yp, 1);
				yp += __shfl_xor_sync(0xffffffffu, yp, 2);
				float y = yp + skip * u;
				float gy = dy * s_gate[jj][dl];
				float sdB = 0.f, sAx = 0.f;
				float v[VP];
#pragma unroll
				for (int q = 0; q < VP; q++) v[q] = 0.f;
#pragma unroll
				for (int k = 0; k < NPT; k++) {
					float dh = fmaf(gy, cc[k], dc[k]);
					float hp = j == 0 ? hb[s][k] : hs[j - 1][k];
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
				sdB += __shfl_xor_sync(0xffffffffu, sdB, 1);
				sdB += __shfl_xor_sync(0xffffffffu, sdB, 2);
				sAx += __shfl_xor_sync(0xffffffffu, sAx, 1);
				sAx += __shfl_xor_sync(0xffffffffu, sAx, 2);
				float du = fmaf(gy, skip, dt * sdB);
				float sg = -expm1f(-dt);
				float ddl = fmaf(u, sdB, sAx) * sg;
				if (t < L) {
					dskip = fmaf(gy, u, dskip);
					dbias += ddl;
					if (g == 0 && dok) {
						long long idx = ((long long)b * L + t) * D + d;
						if (DU) DU[idx] = du;
						if (DDelta) DDelta[idx] = ddl;
						if (DZ) DZ[idx] = dy * y * s_gz[jj][dl];
					}
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
					float* p = s_part + ((warp * T + jj) * NG + g) * VP + base;
#pragma unroll
					for (int i = 0; i < VP / 8; i++) p[i] = v[i];
				}
#endif
			}
		}
#if !B_PC || !C_PC
		__syncthreads();
		if (pBC) {
			for (int e = tid; e < T * NG * VP; e += NT) {
				int jj = e / (NG * VP), gq = e % (NG * VP), gg = gq / VP, q = gq % VP;
				int t = t0 + jj;
				if (t >= L || q >= 2 * NPT) continue;
				bool isC = q >= NPT;
				int n = gg * NPT + (isC ? q - NPT : q);
				if (n >= N_) continue;
				float sum = 0.f;
				for (int w = 0; w < NW; w++) sum += s_part[w * T * NG * VP + e];
				pBC[(((long long)blockIdx.x * B_ + b) * L + t) * (2 * N_) + (isC ? N_ : 0) + n] = sum;
			}
		}
#endif
	}
	if (dok) {
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			int n = g * NPT + k;
			if (n >= N_) continue;
			long long o = ((long long)b * D + d) * N_ + n;
			if (DH0) DH0[o] = dc[k];
			if (pA) pA[o] = dA[k];
#if B_PC
			if (pBpc) pBpc[o] = dBpc[k];
#endif
#if C_PC
			if (pCpc) pCpc[o] = dCpc[k];
#endif
		}
		if (g == 0) {
			if (pSkip) pSkip[b * D + d] = dskip;
			if (pBias) pBias[b * D + d] = dbias;
		}
	}
}

// scan_bwd_bc sums the per-block partials of dB and dC: DBm, DCm (B, L, N)
// from pBC (nx, B, L, 2N), in block order.
extern "C" __global__ void scan_bwd_bc(const float* __restrict__ pBC, int nx, long long BL,
                                       float* __restrict__ DBm, float* __restrict__ DCm)
{
	long long total = BL * 2 * N_;
	for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
		long long r = e / (2 * N_);
		int q = e % (2 * N_);
		float s = 0.f;
		for (int x = 0; x < nx; x++) s += pBC[x * total + e];
		if (q < N_) {
			if (DBm) DBm[r * N_ + q] = s;
		} else if (DCm) {
			DCm[r * N_ + q - N_] = s;
		}
	}
}
#endif
