// scan_common.cuh: the fused selective scan with the semantics of
// kernels.Scan (framework/kernels/scan.go), the part real and complex
// scans share. scan_real.cu and scan_complex.cu each define
//
//	constexpr bool CPLX; // complex A, B, C and states
//	constexpr int T;     // chunk length (shorter when complex, for static shared memory)
//
// and include this file: the forward kernels, scan_bwd_bc and the pieces
// of the backward kernels both use are here; the backward kernels, whose
// recurrences differ, are in the two files.
//
// Compile-time parameters (NVRTC -D): SCAN_N (state size N), B_PC and C_PC
// (non-selective B, C: one vector per channel, shape (D, N)), BWD_MINB
// (blocks of scan_bwd a multiprocessor should hold), U16, DL16 and Z16
// (u, the raw Δ and the gate z, the (B, L, D) inputs, read as bfloat16
// bits, each widened to float32 as it is loaded: the inputs a bf16 model
// stores in half the bytes; everything after the load is the float32
// scan's, so the results are the float32 kernels' on the rounded values,
// bit for bit).
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
//	          scan_bwd_bc      the per-tile partial sums of dB, dC added
//
// In a block, each channel is served by NG lanes of one warp (lane =
// channel·NG + group), each lane holding NPT of the N states in registers;
// a warp covers 8 channels. A chunk's inputs are staged in shared memory
// with coalesced loads, Δ through softplus once per element. Nothing of
// size B·L·D·N touches global memory: the per-chunk arrays (Hloc, Saved,
// Dloc, Dcin, and the backward's per-chunk partial sums) are B·L·D·N/T.
//
// What B_PC and C_PC leave out is chosen with if constexpr; arrays only one
// form uses are declared in both (a register array nothing reads is
// dropped by the compiler; a shared one shrinks to one row).
#ifndef SCAN_N
#define SCAN_N 16
#endif
#ifndef B_PC
#define B_PC 0
#endif
#ifndef C_PC
#define C_PC 0
#endif

#ifndef U16
#define U16 0
#endif
#ifndef DL16
#define DL16 0
#endif
#ifndef Z16
#define Z16 0
#endif

// scan_in<H>::type is the element of a (B, L, D) input: float, or the
// bfloat16 bits (unsigned short) when H; in_f widens one to float32.
template <bool H> struct scan_in {
	typedef float type;
};
template <> struct scan_in<true> {
	typedef unsigned short type;
};
typedef scan_in<U16 != 0>::type u_in;
typedef scan_in<DL16 != 0>::type dl_in;
typedef scan_in<Z16 != 0>::type z_in;
__device__ __forceinline__ float in_f(float v) { return v; }
__device__ __forceinline__ float in_f(unsigned short v) { return bf16_float(v); }

constexpr int N_ = SCAN_N;
constexpr bool BPC = B_PC, CPC = C_PC;
constexpr int NG = 4;                      // lanes per channel
constexpr int NPT = (N_ + NG - 1) / NG;    // states per lane
constexpr int NP = NPT * NG;               // N padded
constexpr int DT = 32;                     // channels per block
constexpr int NT = DT * NG;                // threads per block
constexpr int SUB = 8;                     // backward piece length
constexpr int NS = T / SUB;                // pieces of a chunk
constexpr int IT = (T * DT) / NT;          // per-thread elements of a (T, DT) tile
constexpr int SN = CPLX ? 2 * N_ : N_;     // floats of a state: N real, then N imaginary parts
constexpr int NBC = CPLX ? 4 : 2;          // planes of B and C: real (and imaginary) parts
constexpr int TB = BPC ? 1 : T;            // rows of a staged B (per channel: none used)
constexpr int TC = CPC ? 1 : T;            // rows of a staged C
constexpr int TBI = CPLX && !BPC ? T : 1;  // rows of a staged imaginary B
constexpr int TCI = CPLX && !CPC ? T : 1;  // rows of a staged imaginary C

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

// tile_walk is a thread's share of a chunk's (T, DT) tile of a (B, L, D)
// array: the column col (channel d0 + col) and the rows row0 + i·TR,
// i < IT. at(X) points X at the thread's first element, off(i) is
// element i's offset from there (32 bits: at most IT·TR·D), in(i)
// whether it lies inside the array. The 64-bit base is worked out once
// an array, so a load or store of the tile costs one address instruction.
constexpr int TR = NT / DT; // rows of the tile one pass of the block covers
struct tile_walk {
	long long base;
	int stride, row0, col, rows;
	bool colok;
	__device__ __forceinline__ tile_walk(int b, int t0, int d0, int L, int D) {
		col = threadIdx.x % DT;
		row0 = threadIdx.x / DT;
		colok = d0 + col < D;
		rows = L - t0;
		stride = TR * D;
		base = ((long long)b * L + t0 + row0) * D + d0 + col;
	}
	__device__ __forceinline__ int row(int i) const { return row0 + i * TR; }
	template <class E>
	__device__ __forceinline__ E* at(E* X) const { return X ? X + base : nullptr; }
	__device__ __forceinline__ int off(int i) const { return i * stride; }
	__device__ __forceinline__ bool in(int i) const { return colok && row(i) < rows; }
};

// stage_bc copies the chunk's rows of a (B, L, N) array into s[T][NP],
// zero-padded. A thread issues all the loads of a batch before its first
// store, so they are in flight together (a staging waits on its loads):
// one batch for N ≤ 32 real, 64 complex; above, batches of BC_BATCH in
// a loop that is not unrolled (unrolled, the compiler hoists every load:
// at N = 64 scan_fwd_seq took 255 registers). Addresses are offsets from
// the chunk's first row, in 32 bits (at most T·N).
constexpr int BC_IT = (T * NP + NT - 1) / NT;     // per-thread elements of a staged B or C
constexpr int BC_BATCH = BC_IT < 16 ? BC_IT : 16; // loads of a batch
__device__ __forceinline__ void stage_bc(float (*s)[NP], const float* __restrict__ X, int b, int t0, int L) {
	const float* Xc = X + ((long long)b * L + t0) * N_;
#pragma unroll 1
	for (int i0 = 0; i0 < BC_IT; i0 += BC_BATCH) {
		float v[BC_BATCH];
#pragma unroll
		for (int i = 0; i < BC_BATCH; i++) {
			const int e = threadIdx.x + (i0 + i) * NT, row = e / NP, n = e % NP;
			v[i] = (e < T * NP && t0 + row < L && n < N_) ? Xc[row * N_ + n] : 0.f;
		}
#pragma unroll
		for (int i = 0; i < BC_BATCH; i++) {
			const int e = threadIdx.x + (i0 + i) * NT;
			if (e < T * NP) s[e / NP][e % NP] = v[i];
		}
	}
}

// stage_bc_imag is stage_bc of an optional imaginary part: zeros when X
// is absent.
__device__ __forceinline__ void stage_bc_imag(float (*s)[NP], const float* __restrict__ X, int b, int t0, int L) {
	if (X) stage_bc(s, X, b, t0, L);
	else
		for (int e = threadIdx.x; e < T * NP; e += NT) s[e / NP][e % NP] = 0.f;
}

__device__ __forceinline__ void stage_reset(u8* s_r, const u8* __restrict__ Reset, int b, int t0, int L) {
	if (threadIdx.x < T) s_r[threadIdx.x] = (Reset && t0 + threadIdx.x < L) ? Reset[(long long)b * L + t0 + threadIdx.x] : 0;
}

// delta_at is Δ = softplus(Delta + DeltaBias) of element idx, channel dd.
__device__ __forceinline__ float delta_at(const dl_in* __restrict__ Delta, const float* __restrict__ DeltaBias, long long idx, int dd) {
	return softplus_fast(in_f(Delta[idx]) + (DeltaBias ? DeltaBias[dd] : 0.f));
}

// cstep is one step of the complex recurrence h' = Ā·h + x·B with
// Ā = exp(Δ·A), A = (a2/log2(e), aImag): it sets (abr, abi) to Ā and
// (hr, hi) to h' from h = (pr, pi).
__device__ __forceinline__ void cstep(float dt, float x, float a2, float aImag, float br, float bi, float pr, float pi,
                                      float& abr, float& abi, float& hr, float& hi) {
	float e = ex2_ftz(dt * a2), sn, cs;
	sincosf(dt * aImag, &sn, &cs);
	abr = e * cs;
	abi = e * sn;
	hr = abr * pr - abi * pi + x * br;
	hi = abr * pi + abi * pr + x * bi;
}

// ---------------------------------------------------------------------------
// Forward.

extern "C" __global__ void __launch_bounds__(NT)
scan_fwd_local(const u_in* __restrict__ U, const dl_in* __restrict__ Delta, const float* __restrict__ DeltaBias,
               const float* __restrict__ A, const float* __restrict__ AImag,
               const float* __restrict__ Bm, const float* __restrict__ BImag, const u8* __restrict__ Reset,
               float* __restrict__ Hloc, float* __restrict__ Ssum, int L, int D)
{
	__shared__ float s_dt[T][DT], s_x[T][DT];
	__shared__ float s_B[TB][NP], s_Bi[TBI][NP];
	__shared__ u8 s_r[T];
	BLOCK_COORDS;
#pragma unroll
	for (int i = 0; i < IT; i++) {
		int e = tid + i * NT, row = e / DT, col = e % DT, t = t0 + row, dd = d0 + col;
		bool ok = t < L && dd < D;
		long long idx = ((long long)b * L + t) * D + dd;
		float dt = ok ? delta_at(Delta, DeltaBias, idx, dd) : 0.f;
		s_dt[row][col] = dt;
		s_x[row][col] = ok ? dt * in_f(U[idx]) : 0.f;
	}
	if constexpr (!BPC) {
		stage_bc(s_B, Bm, b, t0, L);
		if constexpr (CPLX) stage_bc_imag(s_Bi, BImag, b, t0, L);
	}
	stage_reset(s_r, Reset, b, t0, L);
	float a2[NPT], h[NPT], ai[NPT], hi[NPT], bpc[NPT], bpci[NPT];
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		int n = g * NPT + k;
		bool ok = dok && n < N_;
		a2[k] = ok ? A[d * N_ + n] * LOG2E_F : 0.f;
		h[k] = 0.f;
		if constexpr (CPLX) {
			ai[k] = ok ? AImag[d * N_ + n] : 0.f;
			hi[k] = 0.f;
		}
		if constexpr (BPC) {
			bpc[k] = ok ? Bm[d * N_ + n] : 0.f;
			if constexpr (CPLX) bpci[k] = ok && BImag ? BImag[d * N_ + n] : 0.f;
		}
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
				if constexpr (CPLX) hi[k] = 0.f;
			}
		}
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			float bb = BPC ? bpc[k] : s_B[j][g * NPT + k];
			if constexpr (CPLX) {
				float bbi = BPC ? bpci[k] : s_Bi[j][g * NPT + k];
				float ar, aim;
				cstep(dt, x, a2[k], ai[k], bb, bbi, h[k], hi[k], ar, aim, h[k], hi[k]);
			} else {
				h[k] = fmaf(ex2_ftz(dt * a2[k]), h[k], x * bb);
			}
		}
	}
	if (dok) {
		long long o = (((long long)b * nc + c) * D + d) * SN;
#pragma unroll
		for (int k = 0; k < NPT; k++) {
			int n = g * NPT + k;
			if (n < N_) {
				Hloc[o + n] = h[k];
				if constexpr (CPLX) Hloc[o + N_ + n] = hi[k];
			}
		}
		if (g == 0) Ssum[((long long)b * nc + c) * D + d] = anyr ? -1.f : ssum;
	}
}

// carry_thread gives a thread of a carry kernel (one per (b, d, n)) its
// n, bd = b·D + d, d and b; false past the end.
__device__ __forceinline__ bool carry_thread(int B, int D, int& n, long long& bd, int& d, int& b) {
	long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x;
	if (e >= (long long)B * D * N_) return false;
	n = e % N_;
	bd = e / N_;
	d = bd % D;
	b = bd / D;
	return true;
}

// scan_fwd_carry: one thread per (b, d, n) walks the chunks: Saved[c] is
// the state entering chunk c, HT the state after the last.
extern "C" __global__ void scan_fwd_carry(const float* __restrict__ Hloc, const float* __restrict__ Ssum,
                                          const float* __restrict__ A, const float* __restrict__ AImag,
                                          const float* __restrict__ H0, float* __restrict__ Saved, float* __restrict__ HT,
                                          int B, int D, int nc)
{
	int n, d, b;
	long long bd;
	if (!carry_thread(B, D, n, bd, d, b)) return;
	float ar = A[d * N_ + n];
	float hr = H0 ? H0[bd * SN + n] : 0.f;
	float ai = 0.f, hi = 0.f;
	if constexpr (CPLX) {
		ai = AImag[d * N_ + n];
		hi = H0 ? H0[bd * SN + N_ + n] : 0.f;
	}
#pragma unroll 4
	for (int c = 0; c < nc; c++) {
		long long o = (((long long)b * nc + c) * D + d) * SN;
		float s = Ssum[((long long)b * nc + c) * D + d];
		float lr = Hloc[o + n];
		Saved[o + n] = hr;
		if constexpr (CPLX) {
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
		} else {
			hr = s < 0.f ? lr : fmaf(expf(ar * s), hr, lr);
		}
	}
	if (HT) {
		HT[bd * SN + n] = hr;
		if constexpr (CPLX) HT[bd * SN + N_ + n] = hi;
	}
}

// lanes_scatter reduce-scatters v over the lanes that differ only in lane
// bits HI down to LO (powers of two): at each bit a lane keeps the half of
// what it holds that the bit selects (the upper half when set) and adds
// its partner's, so each lane ends with its share of the sums in v's
// first entries. The same order of additions on every run.
template <int V, int HI, int LO>
__device__ __forceinline__ void lanes_scatter(float (&v)[V], int lane) {
#pragma unroll
	for (int m = HI, cur = V; m >= LO; m >>= 1, cur >>= 1) {
		bool hiLane = lane & m;
#pragma unroll
		for (int i = 0; i < cur / 2; i++) {
			float send = hiLane ? v[i] : v[i + cur / 2];
			float keep = hiLane ? v[i + cur / 2] : v[i];
			v[i] = keep + __shfl_xor_sync(0xffffffffu, send, m);
		}
	}
}

// lanes4_scatter reduce-scatters v over the four lanes of a channel
// (lane bits 0 and 1): lane g is left with the sums of v[g·V/4 …
// (g+1)·V/4) in v[0 … V/4).
template <int V>
__device__ __forceinline__ void lanes4_scatter(float (&v)[V], int g) {
	static_assert(V % 4 == 0, "V must be a multiple of 4");
	lanes_scatter<V, 2, 1>(v, g);
}

// fwd_out_steps runs the T steps of a staged chunk for one lane from its
// states (h, hi), which it updates: s_dt holds Δ, s_x Δ·u (on return the
// state part of y), s_B, s_C (and the imaginary parts) the selective B
// and C, s_r the resets; a2 is A·log2(e), ai the imaginary part of A,
// bpc… and cpc… the per-channel B and C. Steps go in groups of 8: the
// lanes' parts of y are summed across the channel's four lanes once a
// group (lanes4_scatter), lane g writing steps 2g and 2g+1, so no step
// waits on the one before's shuffles.
__device__ __forceinline__ void fwd_out_steps(const float (*s_dt)[DT], float (*s_x)[DT], const float (*s_B)[NP], const float (*s_C)[NP],
                                              const float (*s_Bi)[NP], const float (*s_Ci)[NP], const u8* s_r, int dl, int g,
                                              const float (&a2)[NPT], const float (&ai)[NPT], const float (&bpc)[NPT],
                                              const float (&bpci)[NPT], const float (&cpc)[NPT], const float (&cpci)[NPT],
                                              float (&h)[NPT], float (&hi)[NPT]) {
	static_assert(T % 8 == 0, "T must be a multiple of 8");
#pragma unroll 1
	for (int jb = 0; jb < T; jb += 8) {
		float yp[8];
#pragma unroll
		for (int q = 0; q < 8; q++) {
			const int j = jb + q;
			float dt = s_dt[j][dl], x = s_x[j][dl];
			if (s_r[j]) {
#pragma unroll
				for (int k = 0; k < NPT; k++) {
					h[k] = 0.f;
					if constexpr (CPLX) hi[k] = 0.f;
				}
			}
			yp[q] = 0.f;
#pragma unroll
			for (int k = 0; k < NPT; k++) {
				int n = g * NPT + k;
				float bb = BPC ? bpc[k] : s_B[j][n];
				float cc = CPC ? cpc[k] : s_C[j][n];
				if constexpr (CPLX) {
					float bbi = BPC ? bpci[k] : s_Bi[j][n];
					float cci = CPC ? cpci[k] : s_Ci[j][n];
					float ar, aim;
					cstep(dt, x, a2[k], ai[k], bb, bbi, h[k], hi[k], ar, aim, h[k], hi[k]);
					yp[q] += 2.f * (cc * h[k] - cci * hi[k]);
				} else {
					h[k] = fmaf(ex2_ftz(dt * a2[k]), h[k], x * bb);
					yp[q] = fmaf(cc, h[k], yp[q]);
				}
			}
		}
		lanes4_scatter(yp, g);
		// The group's rows of s_x have been read by the channel's four
		// lanes: they now take the state part of y.
		__syncwarp();
		s_x[jb + 2 * g][dl] = yp[0];
		s_x[jb + 2 * g + 1][dl] = yp[1];
	}
}

// Dynamic shared memory of scan_fwd_out, in floats: two (T, DT) tiles,
// then B, C (and their imaginary parts when complex) as (T, NP), then the
// reset bytes (scanFwdOutShared in scan.go). The skip and the gate are
// applied in the final coalesced pass, from U and Z read again (from L2):
// the small footprint keeps nine blocks on a multiprocessor.
constexpr int FO_FLOATS = 2 * T * DT + NBC * T * NP + T / 4 + 1;

extern "C" __global__ void __launch_bounds__(NT)
scan_fwd_out(const u_in* __restrict__ U, const dl_in* __restrict__ Delta, const float* __restrict__ DeltaBias,
             const float* __restrict__ A, const float* __restrict__ AImag,
             const float* __restrict__ Bm, const float* __restrict__ BImag,
             const float* __restrict__ Cm, const float* __restrict__ CImag,
             const float* __restrict__ Dskip, const z_in* __restrict__ Z, const u8* __restrict__ Reset,
             const float* __restrict__ Saved, float* __restrict__ Y, unsigned short* __restrict__ Y16, int L, int D)
{
	extern __shared__ float sh[];
	float (*s_dt)[DT] = (float (*)[DT])(sh);
	float (*s_x)[DT] = (float (*)[DT])(sh + T * DT);
	float (*s_B)[NP] = (float (*)[NP])(sh + 2 * T * DT);
	float (*s_C)[NP] = (float (*)[NP])(sh + 2 * T * DT + T * NP);
	float (*s_Bi)[NP] = (float (*)[NP])(sh + 2 * T * DT + 2 * T * NP);
	float (*s_Ci)[NP] = (float (*)[NP])(sh + 2 * T * DT + 3 * T * NP);
	u8* s_r = (u8*)(sh + 2 * T * DT + NBC * T * NP);
	BLOCK_COORDS;
#pragma unroll 4
	for (int i = 0; i < IT; i++) {
		int e = tid + i * NT, row = e / DT, col = e % DT, t = t0 + row, dd = d0 + col;
		bool ok = t < L && dd < D;
		long long idx = ((long long)b * L + t) * D + dd;
		float u = ok ? in_f(U[idx]) : 0.f;
		float dt = ok ? delta_at(Delta, DeltaBias, idx, dd) : 0.f;
		s_dt[row][col] = dt;
		s_x[row][col] = dt * u;
	}
	if constexpr (!BPC) stage_bc(s_B, Bm, b, t0, L);
	if constexpr (!CPC) stage_bc(s_C, Cm, b, t0, L);
	if constexpr (CPLX && !BPC) stage_bc_imag(s_Bi, BImag, b, t0, L);
	if constexpr (CPLX && !CPC) stage_bc_imag(s_Ci, CImag, b, t0, L);
	stage_reset(s_r, Reset, b, t0, L);
	float a2[NPT], h[NPT], ai[NPT], hi[NPT], bpc[NPT], bpci[NPT], cpc[NPT], cpci[NPT];
	const long long so = (((long long)b * nc + c) * D + d) * SN;
#pragma unroll
	for (int k = 0; k < NPT; k++) {
		int n = g * NPT + k;
		bool ok = dok && n < N_;
		a2[k] = ok ? A[d * N_ + n] * LOG2E_F : 0.f;
		h[k] = ok ? Saved[so + n] : 0.f;
		if constexpr (CPLX) {
			ai[k] = ok ? AImag[d * N_ + n] : 0.f;
			hi[k] = ok ? Saved[so + N_ + n] : 0.f;
		}
		if constexpr (BPC) {
			bpc[k] = ok ? Bm[d * N_ + n] : 0.f;
			if constexpr (CPLX) bpci[k] = ok && BImag ? BImag[d * N_ + n] : 0.f;
		}
		if constexpr (CPC) {
			cpc[k] = ok ? Cm[d * N_ + n] : 0.f;
			if constexpr (CPLX) cpci[k] = ok && CImag ? CImag[d * N_ + n] : 0.f;
		}
	}
	__syncthreads();
	fwd_out_steps(s_dt, s_x, s_B, s_C, s_Bi, s_Ci, s_r, dl, g, a2, ai, bpc, bpci, cpc, cpci, h, hi);
	__syncthreads();
#pragma unroll 4
	for (int i = 0; i < IT; i++) {
		int e = tid + i * NT, row = e / DT, col = e % DT, t = t0 + row, dd = d0 + col;
		if (t < L && dd < D) {
			long long idx = ((long long)b * L + t) * D + dd;
			float y = s_x[row][col];
			if (Dskip) y = fmaf(Dskip[dd], in_f(U[idx]), y);
			if (Z) {
				float z = in_f(Z[idx]);
				y *= z * sigmoid_fast(z);
			}
			Y[idx] = y;
			if (Y16) Y16[idx] = bf16_bits(y);
		}
	}
}

// ---------------------------------------------------------------------------
// Backward: the pieces the real and the complex kernels share.

// softplus_grad_of returns softplus'(x) = σ(x) from dt = softplus(x):
// σ(x) = 1 − e^−dt, by its series where dt is small (relative error
// under 1e-6 everywhere).
__device__ __forceinline__ float softplus_grad_of(float dt) {
	if (dt < 0.125f) return dt * (1.f - dt * (0.5f - dt * (0.16666667f - dt * (0.041666668f - dt * 0.008333334f))));
	return 1.f - ex2_ftz(-dt * LOG2E_F);
}

// tile_fetch loads a thread's elements of a chunk's tile, from p =
// w.at(X), into r as float32: zeros outside the array, and everywhere
// unless have (an optional input such as the gate z is absent).
template <class E>
__device__ __forceinline__ void tile_fetch(const tile_walk& w, const E* __restrict__ p, float (&r)[IT], bool have = true) {
#pragma unroll
	for (int i = 0; i < IT; i++) r[i] = w.in(i) && have ? in_f(p[w.off(i)]) : 0.f;
}

// bwd_local_stage stages a chunk's Δ and the gated output gradient
// gy = dy·silu(z) (dy without a gate) for scan_bwd_local.
__device__ __forceinline__ void bwd_local_stage(float (*s_dt)[DT], float (*s_gy)[DT], const dl_in* __restrict__ Delta,
                                                const float* __restrict__ DeltaBias, const z_in* __restrict__ Z,
                                                const float* __restrict__ DY, int b, int t0, int d0, int L, int D) {
	const tile_walk w(b, t0, d0, L, D);
	const float bias = w.colok && DeltaBias ? DeltaBias[d0 + w.col] : 0.f;
	const dl_in* Dl = w.at(Delta);
	const float* Dy = w.at(DY);
	const z_in* Zt = w.at(Z);
	// Every load of the thread's elements first, array by array (raw Δ,
	// dy, z: all in flight together), then the arithmetic and the stores.
	// The arithmetic keeps its branch on in(i): without it ptxas spilled
	// at N = 16 with per-channel C.
	float rdl[IT], rdy[IT], rz[IT];
	tile_fetch(w, Dl, rdl);
	tile_fetch(w, Dy, rdy);
	tile_fetch(w, Zt, rz, Z != nullptr);
#pragma unroll
	for (int i = 0; i < IT; i++) {
		const int row = w.row(i);
		float dt = 0.f, gy = 0.f;
		if (w.in(i)) {
			dt = softplus_fast(rdl[i] + bias);
			gy = rdy[i];
			if (Z) {
				float z = rz[i];
				gy *= z * sigmoid_fast(z);
			}
		}
		s_dt[row][w.col] = dt;
		s_gy[row][w.col] = gy;
	}
}

// The dynamic shared memory of scan_bwd, in floats (scanBwdShared in
// scan.go): five (T, DT) tiles (Δ, u, dy, the gated dy·silu(z), silu'(z)),
// the NBC planes (T, NP) of B and C (B, C; or B, B imaginary, C, C
// imaginary), the per-warp partial sums of dB and dC (VP values of each
// lane), the reset bytes.
constexpr int pad_pow2(int n) {
	int v = 8;
	while (v < n) v *= 2;
	return v;
}
constexpr int VP = pad_pow2(NBC * NPT); // values reduced across channels, padded
constexpr int NW = NT / 32;
constexpr int SH_TILE = T * DT;
constexpr int SH_BC = 5 * SH_TILE;
constexpr int SH_PART = SH_BC + NBC * T * NP;
constexpr int SH_R = SH_PART + NW * SUB * NG * VP;
constexpr int SH_FLOATS = SH_R + T / 4 + 1;

// bwd_tiles are scan_bwd's views of its shared memory.
struct bwd_tiles {
	float (*dt)[DT], (*u)[DT], (*dy)[DT], (*gy)[DT], (*gz)[DT];
	float (*B)[NP], (*Bi)[NP], (*C)[NP], (*Ci)[NP];
	float* part;
	u8* r;
};

// bwd_stage carves sh into the tiles and stages a chunk: Δ, u, dy, the
// gated gy = dy·silu(z) (dy without a gate) and silu'(z) per element, B
// and C when selective, resets.
__device__ __forceinline__ bwd_tiles bwd_stage(float* sh, const u_in* __restrict__ U, const dl_in* __restrict__ Delta,
                                               const float* __restrict__ DeltaBias, const float* __restrict__ Bm,
                                               const float* __restrict__ BImag, const float* __restrict__ Cm,
                                               const float* __restrict__ CImag, const z_in* __restrict__ Z,
                                               const u8* __restrict__ Reset, const float* __restrict__ DY,
                                               int b, int t0, int d0, int L, int D) {
	bwd_tiles s;
	s.dt = (float (*)[DT])(sh);
	s.u = (float (*)[DT])(sh + SH_TILE);
	s.dy = (float (*)[DT])(sh + 2 * SH_TILE);
	s.gy = (float (*)[DT])(sh + 3 * SH_TILE);
	s.gz = (float (*)[DT])(sh + 4 * SH_TILE);
	s.B = (float (*)[NP])(sh + SH_BC);
	s.Bi = (float (*)[NP])(sh + SH_BC + T * NP);
	s.C = (float (*)[NP])(sh + SH_BC + (NBC / 2) * T * NP);
	s.Ci = (float (*)[NP])(sh + SH_BC + (NBC / 2 + 1) * T * NP);
	s.part = sh + SH_PART;
	s.r = (u8*)(sh + SH_R);
	const tile_walk w(b, t0, d0, L, D);
	const float bias = w.colok && DeltaBias ? DeltaBias[d0 + w.col] : 0.f;
	const u_in* Ut = w.at(U);
	const dl_in* Dl = w.at(Delta);
	const float* Dy = w.at(DY);
	const z_in* Zt = w.at(Z);
	// Every load of the thread's elements first, array by array (raw Δ,
	// u, dy, z: all in flight together), then the arithmetic and the
	// stores.
	float rdl[IT], ru[IT], rdy[IT], rz[IT];
	tile_fetch(w, Dl, rdl);
	tile_fetch(w, Ut, ru);
	tile_fetch(w, Dy, rdy);
	tile_fetch(w, Zt, rz, Z != nullptr);
	// No branch on in(i), so the softplus of all elements overlap:
	// outside the array the raw values are zeros, and Δ, worked out
	// anyway, is dropped.
#pragma unroll
	for (int i = 0; i < IT; i++) {
		const int row = w.row(i), col = w.col;
		const float sp = softplus_fast(rdl[i] + bias);
		const float dt = w.in(i) ? sp : 0.f;
		const float u = ru[i], dy = rdy[i], z = rz[i];
		s.dt[row][col] = dt;
		s.u[row][col] = u;
		s.dy[row][col] = dy;
		if (Z) {
			float sg = sigmoid_fast(z);
			s.gy[row][col] = dy * (z * sg);
			s.gz[row][col] = sg * (1.f + z * (1.f - sg));
		} else {
			s.gy[row][col] = dy;
			s.gz[row][col] = 0.f;
		}
	}
	if constexpr (!BPC) {
		stage_bc(s.B, Bm, b, t0, L);
		if constexpr (CPLX) stage_bc_imag(s.Bi, BImag, b, t0, L);
	}
	if constexpr (!CPC) {
		stage_bc(s.C, Cm, b, t0, L);
		if constexpr (CPLX) stage_bc_imag(s.Ci, CImag, b, t0, L);
	}
	stage_reset(s.r, Reset, b, t0, L);
	return s;
}

// bwd_piece_out finishes the SUB steps of piece s of a channel once its
// lanes hold their parts, step by step, of y's state term (yq), of
// sdx = Σ dh·B (Re(g_h'·conj(B)) when complex; sq) and of sAx = Σ dΔA·A
// (aq): reduce-scatters over the channel's four lanes, once a piece, leave
// lane g the sums of steps 2g and 2g+1 (in entries 0 and 1), which it finishes:
// du, dΔ (before the bias) and dz, parked in their rows of the u, dy and
// gz tiles (not read again), stored coalesced at the end, and the lane's
// sums over time of dD and dΔbias (added across the lanes by bwd_store).
__device__ __forceinline__ void bwd_piece_out(const bwd_tiles& s, int piece, int dl, int g, int t0, int L, float (&yq)[SUB],
                                              float (&sq)[SUB], float (&aq)[SUB], float skip, float& dskip, float& dbias) {
	static_assert(SUB == 2 * NG, "a lane finishes two steps of a piece");
	lanes4_scatter(yq, g);
	lanes4_scatter(sq, g);
	lanes4_scatter(aq, g);
	// The shuffles ordered the channel's reads of the piece's rows; the
	// rows are not read again.
	__syncwarp();
#pragma unroll
	for (int q = 0; q < 2; q++) {
		const int jj = piece * SUB + 2 * g + q;
		float yp = yq[q], sdx = sq[q], sAx = aq[q];
		float dt = s.dt[jj][dl], u = s.u[jj][dl], dy = s.dy[jj][dl], gy = s.gy[jj][dl];
		float y = yp + skip * u;
		float du = fmaf(gy, skip, dt * sdx);
		float ddl = fmaf(u, sdx, sAx) * softplus_grad_of(dt);
		float dz = dy * y * s.gz[jj][dl];
		if (t0 + jj < L) {
			dskip = fmaf(gy, u, dskip);
			dbias += ddl;
		}
		s.u[jj][dl] = du;
		s.dy[jj][dl] = ddl;
		s.gz[jj][dl] = dz;
	}
}

// bwd_scatter reduce-scatters v over the 8 channels of the warp (lane
// bits 2..4), each lane keeping VP/8 sums, into step j's slot of the
// warp's partials.
__device__ __forceinline__ void bwd_scatter(float (&v)[VP], float* s_part, int j, int g) {
	const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
	lanes_scatter<VP, 16, 4>(v, lane);
	int base = ((lane & 16) ? VP / 2 : 0) + ((lane & 8) ? VP / 4 : 0) + ((lane & 4) ? VP / 8 : 0);
	float* p = s_part + ((warp * SUB + j) * NG + g) * VP + base;
#pragma unroll
	for (int i = 0; i < VP / 8; i++) p[i] = v[i];
}

// bwd_flush_bc writes piece s's sums over the block's channels of the
// selective dB, dC (NBC slots of NPT values per lane group: dB, dC or dB,
// dB imaginary, dC, dC imaginary), warps added in order, to the tile's
// rows of pBC (nx, B, L, NBC·N).
__device__ __forceinline__ void bwd_flush_bc(const float* s_part, float* __restrict__ pBC, int xt, int b, int t0, int s, int L) {
	__syncthreads();
	if (pBC) {
		const int B_ = gridDim.y;
		for (int e = threadIdx.x; e < SUB * NG * VP; e += NT) {
			int j = e / (NG * VP), gq = e % (NG * VP), gg = gq / VP, q = gq % VP;
			int t = t0 + s * SUB + j;
			if (t >= L || q >= NBC * NPT) continue;
			int slot = q / NPT, n = gg * NPT + q % NPT;
			if (n >= N_) continue;
			if ((BPC && slot < NBC / 2) || (CPC && slot >= NBC / 2)) continue;
			float sum = 0.f;
			for (int w = 0; w < NW; w++) sum += s_part[w * SUB * NG * VP + e];
			pBC[(((long long)xt * B_ + b) * L + t) * (NBC * N_) + slot * N_ + n] = sum;
		}
	}
	__syncthreads();
}

// tile_store writes a thread's elements of a staged (T, DT) tile to X
// (float32) and X16 (bfloat16 bits), either of them absent: the test of
// each once, not once an element.
__device__ __forceinline__ void tile_store(const tile_walk& w, const float (*tile)[DT], float* __restrict__ X,
                                           unsigned short* __restrict__ X16) {
	if (!X && !X16) return;
	X = w.at(X);
	X16 = w.at(X16);
#pragma unroll 4
	for (int i = 0; i < IT; i++) {
		if (!w.in(i)) continue;
		const float v = tile[w.row(i)][w.col];
		if (X) X[w.off(i)] = v;
		if (X16) X16[w.off(i)] = bf16_bits(v);
	}
}

// bwd_store writes the parked du, dΔ and dz of the chunk, coalesced
// (dΔ and dz also, or only, as bfloat16 bits: DDelta16, DZ16), and lane
// 0 of each channel the sums dD and dΔbias of its four lanes at
// o = (b·nc + c)·D + d.
__device__ __forceinline__ void bwd_store(const bwd_tiles& s, float* __restrict__ DU, float* __restrict__ DDelta, float* __restrict__ DZ,
                                          unsigned short* __restrict__ DDelta16, unsigned short* __restrict__ DZ16,
                                          float* __restrict__ pSkip, float* __restrict__ pBias, float dskip, float dbias, long long o,
                                          bool dok, int g, int b, int t0, int d0, int L, int D) {
	dskip += __shfl_xor_sync(0xffffffffu, dskip, 1);
	dbias += __shfl_xor_sync(0xffffffffu, dbias, 1);
	dskip += __shfl_xor_sync(0xffffffffu, dskip, 2);
	dbias += __shfl_xor_sync(0xffffffffu, dbias, 2);
	__syncthreads();
	if (dok && g == 0) {
		if (pSkip) pSkip[o] = dskip;
		if (pBias) pBias[o] = dbias;
	}
	const tile_walk w(b, t0, d0, L, D);
	tile_store(w, s.u, DU, (unsigned short*)nullptr);
	tile_store(w, s.dy, DDelta, DDelta16);
	tile_store(w, s.gz, DZ, DZ16);
}

// scan_bwd_bc sums the per-tile partials of dB and dC: DBm, DCm (B, L, N)
// (and DBImag, DCImag when complex) from pBC (nx, B, L, NBC·N) with NBC
// rows of N per (b, t): dB, dC, or dB, dB imaginary, dC, dC imaginary.
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
		float* dst = CPLX ? (slot == 0 ? DBm : slot == 1 ? DBImag : slot == 2 ? DCm : DCImag) : (slot == 0 ? DBm : DCm);
		if (dst) dst[r * N_ + n] = s;
	}
}
