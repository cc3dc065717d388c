//go:build (linux || darwin || freebsd) && (amd64 || arm64)

package kernels

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ebitengine/purego"
)

// OpenBLAS is loaded with dlopen through purego (no cgo: CGO_ENABLED=0
// builds keep working). Before the library loads, on a CPU with AVX-512,
// OPENBLAS_CORETYPE is set to SkylakeX unless the environment already sets
// it: OpenBLAS builds that predate the CPU (Debian 12's 0.3.21 on Zen 4
// and Zen 5) otherwise fall back to their AVX2 Haswell kernels, at half
// the speed. An inherited value is honoured; OpenBLASCoreCheck
// (openblas_core.go) warns when it names slower kernels than the CPU's.
// OPENBLAS_THREAD_TIMEOUT is set to 4 unless set (see below).
// Its thread count follows Threads() (openblas_set_num_threads
// before each call when it changed), so its threads and the Go workers are
// never both busy: MatMul blocks the calling goroutine while OpenBLAS runs.

// Row-major, no-transpose and transpose, from cblas.h.
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

var openblas struct {
	once    sync.Once
	err     error
	lib     string
	core    string
	config  string
	threads atomic.Int32 // last count passed to openblas_set_num_threads
	mu      sync.Mutex   // serialises set_num_threads with calls

	sgemmFn      uintptr                                                                                                                              // Fortran sgemm_, preferred: see matMulOpenBLAS
	sgemm        func(order, ta, tb, m, n, k int32, alpha float32, a *float32, lda int32, b *float32, ldb int32, beta float32, c *float32, ldc int32) // else cblas_sgemm
	setThreadsFn uintptr
	corename     func() string
	getConfig    func() string
}

// openblasLibs are tried in order after $MAMBAKIT_CBLAS.
var openblasLibs = []string{"libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0", "libopenblas.dylib", "libopenblas.0.dylib"}

func loadOpenBLAS() error {
	o := &openblas
	o.once.Do(func() {
		// openblas_core.go reads what was found and set here.
		env := &openblasEnv
		env.value, env.inherited = os.LookupEnv("OPENBLAS_CORETYPE")
		if width, core := cpuCoreWidth(); width == coreAVX512 && !env.inherited {
			os.Setenv("OPENBLAS_CORETYPE", core)
			env.value, env.setByUs = core, true
		}
		if _, ok := os.LookupEnv("OPENBLAS_THREAD_TIMEOUT"); !ok {
			// Idle OpenBLAS threads spin 2^28 cycles (about 0.1 s of a core)
			// after each call before they sleep, taking a core from the Go
			// workers of the kernels that follow; 2^4 makes them sleep at once.
			os.Setenv("OPENBLAS_THREAD_TIMEOUT", "4")
		}
		libs := openblasLibs
		if p := os.Getenv("MAMBAKIT_CBLAS"); p != "" {
			libs = []string{p}
		}
		var errs []string
		var h uintptr
		for _, name := range libs {
			var err error
			if h, err = purego.Dlopen(name, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
				o.lib = name
				break
			}
			errs = append(errs, err.Error())
		}
		if o.lib == "" {
			o.err = fmt.Errorf("no CBLAS library (%s)", strings.Join(errs, "; "))
			return
		}
		if fn, err := purego.Dlsym(h, "sgemm_"); err == nil {
			o.sgemmFn = fn
		} else if _, err := purego.Dlsym(h, "cblas_sgemm"); err == nil {
			purego.RegisterLibFunc(&o.sgemm, h, "cblas_sgemm")
		} else {
			o.err = fmt.Errorf("%s: neither sgemm_ nor cblas_sgemm", o.lib)
			return
		}
		if fn, err := purego.Dlsym(h, "openblas_set_num_threads"); err == nil {
			o.setThreadsFn = fn
		}
		if _, err := purego.Dlsym(h, "openblas_get_corename"); err == nil {
			purego.RegisterLibFunc(&o.corename, h, "openblas_get_corename")
			o.core = o.corename()
		}
		if _, err := purego.Dlsym(h, "openblas_get_config"); err == nil {
			purego.RegisterLibFunc(&o.getConfig, h, "openblas_get_config")
			o.config = strings.TrimSpace(o.getConfig())
		}
	})
	return o.err
}

// OpenBLASInfo describes the loaded CBLAS library: its file, OpenBLAS's
// core name (the kernels it runs: "SkylakeX" for AVX-512, "Haswell" for
// AVX2) and build configuration; err when it did not load.
func OpenBLASInfo() (lib, core, config string, err error) {
	if err := loadOpenBLAS(); err != nil {
		return "", "", "", err
	}
	return openblas.lib, openblas.core, openblas.config, nil
}

// sgemmArgs holds the arguments of a Fortran sgemm_ call, all passed by
// reference; pooled, so a call allocates nothing.
type sgemmArgs struct {
	ta, tb                 byte
	m, n, k, lda, ldb, ldc int32
	alpha, beta            float32
	args                   [15]uintptr
}

var sgemmArgPool = sync.Pool{New: func() any { return new(sgemmArgs) }}

func matMulOpenBLAS(transA, transB bool, m, n, k int, a, b []float32, beta float32, c []float32) {
	o := &openblas
	if err := loadOpenBLAS(); err != nil {
		panic("kernels: matmul: " + err.Error())
	}
	if m > 1<<31-1 || n > 1<<31-1 || k > 1<<31-1 {
		panic("kernels: matmul: dimension over int32 for CBLAS")
	}
	if t := int32(Threads()); o.setThreadsFn != 0 && o.threads.Load() != t {
		o.mu.Lock()
		if o.threads.Load() != t {
			purego.SyscallN(o.setThreadsFn, uintptr(t))
			o.threads.Store(t)
		}
		o.mu.Unlock()
	}
	if o.sgemmFn == 0 { // a CBLAS without the Fortran symbol
		ta, tb := int32(cblasNoTrans), int32(cblasNoTrans)
		lda, ldb := k, n
		if transA {
			ta, lda = cblasTrans, m
		}
		if transB {
			tb, ldb = cblasTrans, k
		}
		o.sgemm(cblasRowMajor, ta, tb, int32(m), int32(n), int32(k), 1, &a[0], int32(lda), &b[0], int32(ldb), beta, &c[0], int32(n))
		runtime.KeepAlive(a)
		runtime.KeepAlive(b)
		runtime.KeepAlive(c)
		return
	}
	// Row-major c = op(a)·op(b) is column-major cᵀ = op(b)ᵀ·op(a)ᵀ: the
	// memory of a row-major (r, s) matrix is its transpose column-major.
	// sgemm_ takes only pointers, so purego.SyscallN calls it with no float
	// registers and no allocation (RegisterFunc's reflect call allocates).
	p := sgemmArgPool.Get().(*sgemmArgs)
	*p = sgemmArgs{ta: 'N', tb: 'N', m: int32(m), n: int32(n), k: int32(k), lda: int32(k), ldb: int32(n), ldc: int32(n), alpha: 1, beta: beta}
	if transA {
		p.ta, p.lda = 'T', int32(m)
	}
	if transB {
		p.tb, p.ldb = 'T', int32(k)
	}
	// The pointers travel as uintptrs in the pooled array (a variadic list
	// would be allocated per call): a, b, c and p stay alive until the call
	// returns, and the goroutine's stack does not move while it is in C.
	p.args = [15]uintptr{
		uintptr(unsafe.Pointer(&p.tb)), uintptr(unsafe.Pointer(&p.ta)),
		uintptr(unsafe.Pointer(&p.n)), uintptr(unsafe.Pointer(&p.m)), uintptr(unsafe.Pointer(&p.k)),
		uintptr(unsafe.Pointer(&p.alpha)),
		uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&p.ldb)),
		uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&p.lda)),
		uintptr(unsafe.Pointer(&p.beta)),
		uintptr(unsafe.Pointer(&c[0])), uintptr(unsafe.Pointer(&p.ldc)),
		1, 1, // gfortran's hidden lengths of the two character arguments
	}
	purego.SyscallN(o.sgemmFn, p.args[:]...)
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
	sgemmArgPool.Put(p)
}
