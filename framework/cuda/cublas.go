package cuda

import (
	"fmt"
	"path/filepath"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

var cublasSonames = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so"}

type cublasAPI struct {
	lib                                 *library
	create, destroy, setStream, setMath uintptr
	sgemm, gemmEx, version              uintptr
	statusString                        func(int32) *byte
}

var cublasLib struct {
	once sync.Once
	api  *cublasAPI
	err  error
}

func loadCublas() (*cublasAPI, error) {
	cublasLib.once.Do(func() {
		cands := libCandidates(SearchDirs(), cublasSonames)
		// libcublas needs libcublasLt of the same release: open the one
		// beside the first candidate found in a folder.
		for _, c := range cands {
			if filepath.IsAbs(c) {
				preloadSibling(filepath.Dir(c), "libcublasLt.so*")
				break
			}
		}
		lib, err := openFirst("libcublas", cands)
		if err != nil {
			cublasLib.err = fmt.Errorf("%w (set %s to the folder holding libcublas.so.*)", err, EnvLibs)
			return
		}
		a := &cublasAPI{lib: lib}
		if err := lib.syms([]string{"cublasCreate_v2", "cublasDestroy_v2", "cublasSetStream_v2", "cublasSetMathMode", "cublasSgemm_v2", "cublasGemmEx", "cublasGetVersion_v2"},
			[]*uintptr{&a.create, &a.destroy, &a.setStream, &a.setMath, &a.sgemm, &a.gemmEx, &a.version}); err != nil {
			cublasLib.err = err
			return
		}
		if _, err := lib.sym("cublasGetStatusString"); err == nil {
			purego.RegisterLibFunc(&a.statusString, lib.handle, "cublasGetStatusString")
		}
		cublasLib.api = a
	})
	return cublasLib.api, cublasLib.err
}

func (a *cublasAPI) check(r uint32, op string, args ...any) error {
	if r == 0 {
		return nil
	}
	e := &Error{Op: fmt.Sprintf(op, args...), Code: int(r), Name: fmt.Sprintf("CUBLAS_STATUS %d", r)}
	if a.statusString != nil {
		e.Name = goString(a.statusString(int32(r)))
	}
	return e
}

// cuBLAS math modes, operations, data and compute types (cublas_api.h,
// library_types.h).
const (
	cublasDefaultMath = 0
	cublasTF32Math    = 3
	cublasOpN         = 0
	cublasOpT         = 1

	cudaR32F  = 0  // CUDA_R_32F
	cudaR16BF = 14 // CUDA_R_16BF

	cublasCompute32F  = 68 // CUBLAS_COMPUTE_32F
	cublasGemmDefault = ^uintptr(0)
)

// Math is how MatMul computes a product of float32 matrices.
type Math int

// The math modes.
const (
	// MathFP32 is float32 FMA, no tensor cores (the default).
	MathFP32 Math = iota
	// MathTF32 uses TF32 tensor cores: inputs rounded to 10 bits of
	// mantissa, float32 sums.
	MathTF32
)

// bfloat16 products take bfloat16 data (MatMulBF16). cublasGemmEx on
// float32 data with CUBLAS_COMPUTE_32F_FAST_16BF was tried: it only
// allows bfloat16, and on an H100 (cuBLAS 13) it gave TF32's results
// to the last digit and TF32's speed.

func (m Math) String() string {
	if m == MathTF32 {
		return "tf32"
	}
	return "fp32"
}

// BLAS is a cuBLAS handle bound to a device.
type BLAS struct {
	d       *Device
	api     *cublasAPI
	h       uintptr
	math    Math
	Version int
	Path    string
}

// BLAS returns the device's cuBLAS handle, created at the first call.
func (d *Device) BLAS() (*BLAS, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.blas != nil {
		return d.blas, nil
	}
	a, err := loadCublas()
	if err != nil {
		return nil, err
	}
	defer d.enter()()
	b := &BLAS{d: d, api: a, Path: a.lib.path}
	if err := a.check(ccall(a.create, uintptr(unsafe.Pointer(&b.h))), "cublasCreate"); err != nil {
		return nil, err
	}
	var v int32
	if ccall(a.version, b.h, uintptr(unsafe.Pointer(&v))) == 0 {
		b.Version = int(v)
	}
	d.blas = b
	return b, nil
}

func (b *BLAS) destroy() error {
	if b.h == 0 {
		return nil
	}
	err := b.api.check(ccall(b.api.destroy, b.h), "cublasDestroy")
	b.h = 0
	return err
}

// SetMath chooses how MatMul computes its products (MathFP32 is the
// default). It applies to every later product on the handle.
func (b *BLAS) SetMath(m Math) error {
	if m < MathFP32 || m > MathTF32 {
		return fmt.Errorf("cuda: math mode %d", int(m))
	}
	defer b.d.enter()()
	mode := cublasDefaultMath
	if m == MathTF32 {
		mode = cublasTF32Math
	}
	if err := b.api.check(ccall(b.api.setMath, b.h, uintptr(mode)), "cublasSetMathMode(%d)", mode); err != nil {
		return err
	}
	b.math = m
	return nil
}

// Math is the handle's math mode (SetMath).
func (b *BLAS) Math() Math { return b.math }

// SetStream makes later calls run on s (nil: the default stream).
func (b *BLAS) SetStream(s *Stream) error {
	defer b.d.enter()()
	return b.api.check(ccall(b.api.setStream, b.h, s.handle()), "cublasSetStream")
}

// MatMul computes c = op(a)·op(b) + beta·c for row-major, densely packed
// float32 device matrices at the handle's Math, with the conventions of
// kernels.MatMul:
//
//	op(a) (m, k), op(b) (k, n), c (m, n)
//
// a is stored (m, k), or (k, m) when transA; b is stored (k, n), or (n, k)
// when transB. Row-major c = op(a)·op(b) is column-major cᵀ = op(b)ᵀ·op(a)ᵀ,
// so cuBLAS is called with the operands swapped. beta = 0 overwrites c.
func (b *BLAS) MatMul(transA, transB bool, m, n, k int, a, bm DevPtr, beta float32, c DevPtr) error {
	g, err := newGemm(transA, transB, m, n, k)
	if err != nil || g == nil {
		return err
	}
	alpha, pbeta := new(float32), new(float32)
	*alpha, *pbeta = 1, beta
	defer b.d.enter()()
	return b.api.check(ccall(b.api.sgemm, b.h, g.tb, g.ta, uintptr(n), uintptr(m), uintptr(k),
		uintptr(unsafe.Pointer(alpha)), uintptr(bm), g.ldb, uintptr(a), g.lda,
		uintptr(unsafe.Pointer(pbeta)), uintptr(c), uintptr(max(n, 1))),
		"cublasSgemm(%v, %v, m %d, n %d, k %d)", transA, transB, m, n, k)
}

// MatMulBF16 is MatMul for bfloat16 a and b (2 bytes an element, the
// same layouts) into float32 c, with float32 sums (cublasGemmEx,
// CUBLAS_COMPUTE_32F), whatever the handle's Math.
func (b *BLAS) MatMulBF16(transA, transB bool, m, n, k int, a, bm DevPtr, beta float32, c DevPtr) error {
	const ab, compute = cudaR16BF, cublasCompute32F
	g, err := newGemm(transA, transB, m, n, k)
	if err != nil || g == nil {
		return err
	}
	alpha, pbeta := new(float32), new(float32)
	*alpha, *pbeta = 1, beta
	defer b.d.enter()()
	return b.api.check(ccall(b.api.gemmEx, b.h, g.tb, g.ta, uintptr(n), uintptr(m), uintptr(k),
		uintptr(unsafe.Pointer(alpha)), uintptr(bm), ab, g.ldb, uintptr(a), ab, g.lda,
		uintptr(unsafe.Pointer(pbeta)), uintptr(c), cudaR32F, uintptr(max(n, 1)), compute, cublasGemmDefault),
		"cublasGemmEx(%v, %v, m %d, n %d, k %d, type %d, compute %d)", transA, transB, m, n, k, ab, compute)
}

// gemm is a row-major product's cuBLAS operations and leading dimensions.
type gemm struct{ ta, tb, lda, ldb uintptr }

// newGemm checks the sizes; nil (and no error) when c is empty.
func newGemm(transA, transB bool, m, n, k int) (*gemm, error) {
	if m < 0 || n < 0 || k < 0 {
		return nil, fmt.Errorf("cuda: matmul: negative size (%d, %d, %d)", m, n, k)
	}
	if m > 1<<31-1 || n > 1<<31-1 || k > 1<<31-1 {
		return nil, fmt.Errorf("cuda: matmul: size over int32")
	}
	if m == 0 || n == 0 {
		return nil, nil
	}
	g := &gemm{ta: cublasOpN, tb: cublasOpN, lda: uintptr(max(k, 1)), ldb: uintptr(max(n, 1))}
	if transA {
		g.ta, g.lda = cublasOpT, uintptr(max(m, 1))
	}
	if transB {
		g.tb, g.ldb = cublasOpT, uintptr(max(k, 1))
	}
	return g, nil
}
