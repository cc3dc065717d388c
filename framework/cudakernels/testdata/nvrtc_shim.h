// nvrtc_shim.h lets a host C++17 compiler (g++ -fsyntax-only) check the
// kernels' syntax and types without CUDA: the CUDA keywords become
// nothing, the built-in variables and intrinsics plain declarations.
// TestKernelsSyntax uses it; it says nothing about what runs on the GPU.
#include <cmath>
#include <cstdint>
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__
#define __constant__
#define __restrict__ __restrict
#define __launch_bounds__(...)
struct dim3 { unsigned x, y, z; };
extern dim3 threadIdx, blockIdx, blockDim, gridDim;
template <class T> T __shfl_xor_sync(unsigned, T, int, int = 32);
template <class T> T __shfl_sync(unsigned, T, int, int = 32);
template <class T> T __shfl_down_sync(unsigned, T, int, int = 32);
void __syncthreads();
void __syncwarp(unsigned = 0xffffffffu);
int min(int, int);
int max(int, int);
float __logf(float);
float __expf(float);
float __frcp_rn(float);
float __fadd_rn(float, float);
float __fmul_rn(float, float);
float __fdividef(float, float);
float rsqrtf(float);
double rsqrt(double);
float atomicAdd(float*, float);
double atomicAdd(double*, double);
unsigned long long atomicMax(unsigned long long*, unsigned long long);
unsigned atomicAdd(unsigned*, unsigned);
int atomicAdd(int*, int);
template <class T> T __ldg(const T*);
unsigned long long __cvta_generic_to_shared(const void*);
unsigned __float_as_uint(float);
float __uint_as_float(unsigned);
int __float_as_int(float);
unsigned long long clock64();
#define __align__(n) __attribute__((aligned(n)))
struct float2 { float x, y; };
struct float4 { float x, y, z, w; };
float2 make_float2(float, float);
float4 make_float4(float, float, float, float);
double __longlong_as_double(long long);
long long __double_as_longlong(double);
float __int_as_float(int);
unsigned long long atomicCAS(unsigned long long*, unsigned long long, unsigned long long);
int atomicCAS(int*, int, int);
unsigned long long atomicMin(unsigned long long*, unsigned long long);
