// model.cu: the small kernels of the backbone on the GPU (framework/cudamodel):
// the token embedding forward and backward, in-place adds, A = −exp(A_log),
// the gradient norm and its clipping, and copies of column blocks.

#include "common.cuh"

// embed_fwd: out[m, c] = table[ids[m], c] (kernels.EmbeddingForward).
extern "C" __global__ void embed_fwd(float* __restrict__ out, const float* __restrict__ table, const int* __restrict__ ids, long long M, int C) {
	long long n = M * C;
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
		long long m = i / C;
		int c = (int)(i - m * C);
		out[i] = table[(long long)ids[m] * C + c];
	}
}

// embed_bwd: dtable[ids[m], :] += dout[m, :] (kernels.EmbeddingBackward),
// without atomics: the rows are grouped by id on the host (uids: the nu
// distinct ids; pos[off[j]..off[j+1]) the rows of uids[j], ascending), and
// one block adds the rows of each id in row order, as the CPU kernel does.
extern "C" __global__ void embed_bwd(float* __restrict__ dtable, const float* __restrict__ dout, const int* __restrict__ uids,
                                     const int* __restrict__ off, const int* __restrict__ pos, int nu, int C)
{
	for (int j = blockIdx.x; j < nu; j += gridDim.x) {
		float* dst = dtable + (long long)uids[j] * C;
		int a = off[j], b = off[j + 1];
		for (int c = threadIdx.x; c < C; c += blockDim.x) {
			float s = dst[c];
			for (int k = a; k < b; k++) s += dout[(long long)pos[k] * C + c];
			dst[c] = s;
		}
	}
}

// add_mul: out[i] += x[i]·s[i] (s null: out[i] += x[i]).
extern "C" __global__ void add_mul(float* __restrict__ out, const float* __restrict__ x, const float* __restrict__ s, long long n) {
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
		out[i] += s ? x[i] * s[i] : x[i];
}

// neg_exp: out[i] = −exp(x[i]) (in double, rounded once, as the CPU model).
extern "C" __global__ void neg_exp(float* __restrict__ out, const float* __restrict__ x, long long n) {
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
		out[i] = -(float)exp((double)x[i]);
}

// sumsq_part: part[blockIdx.x] = Σ y[i]² over the block's grid-stride
// elements, in double (the host adds the partials in block order), where
// y[i] = (x[i]·s1)·s2 rounded to float32 after each product: the scales
// not yet applied to x (a factor of 1 changes nothing).
extern "C" __global__ void sumsq_part(const float* __restrict__ x, long long n, double* __restrict__ part, float s1, float s2) {
	__shared__ double sh[32];
	double s = 0;
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
		double v = __fmul_rn(__fmul_rn(x[i], s1), s2);
		s += v * v;
	}
	s = block_sum_d(s, sh);
	if (threadIdx.x == 0) part[blockIdx.x] = s;
}

// scale: x[i] *= f.
extern "C" __global__ void scale_f(float* __restrict__ x, float f, long long n) {
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) x[i] *= f;
}

// copy_cols: dst[m, doff + j] = src[m, soff + j] for m < M, j < w, rows of
// ldd and lds floats (x_proj's blocks Δ, B, C between one (M, S) product
// and their own dense buffers).
extern "C" __global__ void copy_cols(float* __restrict__ dst, int ldd, int doff, const float* __restrict__ src, int lds, int soff, int w, long long M) {
	long long n = M * w;
	for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
		long long m = i / w;
		int j = (int)(i - m * w);
		dst[m * ldd + doff + j] = src[m * lds + soff + j];
	}
}
