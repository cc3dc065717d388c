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
	sgemm, version                      uintptr
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
		if err := lib.syms([]string{"cublasCreate_v2", "cublasDestroy_v2", "cublasSetStream_v2", "cublasSetMathMode", "cublasSgemm_v2", "cublasGetVersion_v2"},
			[]*uintptr{&a.create, &a.destroy, &a.setStream, &a.setMath, &a.sgemm, &a.version}); err != nil {
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

// cuBLAS math modes and operations.
const (
	cublasDefaultMath = 0
	cublasTF32Math    = 3
	cublasOpN         = 0
	cublasOpT         = 1
)

// BLAS is a cuBLAS handle bound to a device.
type BLAS struct {
	d       *Device
	api     *cublasAPI
	h       uintptr
	tf32    bool
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

// SetTF32 chooses TF32 tensor-core math for Sgemm (about 10 bits of
// mantissa in the products, float32 sums) or plain float32 (the default).
func (b *BLAS) SetTF32(on bool) error {
	defer b.d.enter()()
	mode := cublasDefaultMath
	if on {
		mode = cublasTF32Math
	}
	if err := b.api.check(ccall(b.api.setMath, b.h, uintptr(mode)), "cublasSetMathMode(%d)", mode); err != nil {
		return err
	}
	b.tf32 = on
	return nil
}

// SetStream makes later calls run on s (nil: the default stream).
func (b *BLAS) SetStream(s *Stream) error {
	defer b.d.enter()()
	return b.api.check(ccall(b.api.setStream, b.h, s.handle()), "cublasSetStream")
}

// MatMul computes c = op(a)·op(b) + beta·c for row-major, densely packed
// device matrices, with the conventions of kernels.MatMul:
//
//	op(a) (m, k), op(b) (k, n), c (m, n)
//
// a is stored (m, k), or (k, m) when transA; b is stored (k, n), or (n, k)
// when transB. Row-major c = op(a)·op(b) is column-major cᵀ = op(b)ᵀ·op(a)ᵀ,
// so cuBLAS is called with the operands swapped. beta = 0 overwrites c.
func (b *BLAS) MatMul(transA, transB bool, m, n, k int, a, bm DevPtr, beta float32, c DevPtr) error {
	if m < 0 || n < 0 || k < 0 {
		return fmt.Errorf("cuda: matmul: negative size (%d, %d, %d)", m, n, k)
	}
	if m > 1<<31-1 || n > 1<<31-1 || k > 1<<31-1 {
		return fmt.Errorf("cuda: matmul: size over int32")
	}
	if m == 0 || n == 0 {
		return nil
	}
	ta, tb := cublasOpN, cublasOpN
	lda, ldb := k, n
	if transA {
		ta, lda = cublasOpT, m
	}
	if transB {
		tb, ldb = cublasOpT, k
	}
	alpha := new(float32)
	*alpha = 1
	pbeta := new(float32)
	*pbeta = beta
	defer b.d.enter()()
	return b.api.check(ccall(b.api.sgemm, b.h, uintptr(tb), uintptr(ta), uintptr(n), uintptr(m), uintptr(k),
		uintptr(unsafe.Pointer(alpha)), uintptr(bm), uintptr(max(ldb, 1)), uintptr(a), uintptr(max(lda, 1)),
		uintptr(unsafe.Pointer(pbeta)), uintptr(c), uintptr(max(n, 1))),
		"cublasSgemm(%v, %v, m %d, n %d, k %d)", transA, transB, m, n, k)
}
