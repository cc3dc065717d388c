package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Error is a failed CUDA, NVRTC or cuBLAS call: the call's name, its
// return code and the library's name and description of that code.
type Error struct {
	Op   string // the call, with context: "cuMemAlloc(4194304 bytes)"
	Code int
	Name string // "CUDA_ERROR_OUT_OF_MEMORY"
	Msg  string // "out of memory"
}

func (e *Error) Error() string {
	s := fmt.Sprintf("cuda: %s: %s", e.Op, e.Name)
	if e.Name == "" {
		s = fmt.Sprintf("cuda: %s: error %d", e.Op, e.Code)
	}
	if e.Msg != "" && e.Msg != e.Name {
		s += " (" + e.Msg + ")"
	}
	return s
}

// ErrNoDriver is returned (wrapped) by Open when libcuda cannot be loaded.
var ErrNoDriver = errors.New("cuda: libcuda.so.1 not found (no NVIDIA driver on this machine)")

// ccall calls a C function with integer and pointer arguments and returns
// its 32-bit result. Pointers to Go memory must be converted in the call
// expression (uintptr(unsafe.Pointer(&x))): go:uintptrescapes moves what
// they point to onto the heap and keeps it alive for the call.
//
//go:uintptrescapes
func ccall(fn uintptr, args ...uintptr) uint32 {
	r, _, _ := purego.SyscallN(fn, args...)
	return uint32(r)
}

// nextByte returns the byte after p.
func nextByte(p *byte) *byte { return (*byte)(unsafe.Add(unsafe.Pointer(p), 1)) }

// driverAPI holds the entry points of libcuda.
type driverAPI struct {
	lib *library

	cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName uintptr
	cuDeviceGetAttribute, cuDeviceTotalMem                                     uintptr
	cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease, cuCtxSetCurrent       uintptr
	cuCtxSynchronize, cuMemGetInfo                                             uintptr
	cuMemAlloc, cuMemFree, cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoD            uintptr
	cuMemcpyHtoDAsync, cuMemcpyDtoHAsync, cuMemcpyDtoDAsync                    uintptr
	cuMemsetD32Async, cuMemsetD8Async                                          uintptr
	cuStreamCreate, cuStreamDestroy, cuStreamSynchronize                       uintptr
	cuStreamQuery, cuStreamWaitEvent                                           uintptr
	cuEventCreate, cuEventDestroy, cuEventRecord, cuEventSynchronize           uintptr
	cuEventElapsedTime                                                         uintptr
	cuModuleLoadData, cuModuleUnload, cuModuleGetFunction                      uintptr
	cuFuncSetAttribute, cuFuncGetAttribute, cuLaunchKernel                     uintptr
	cuGetErrorName, cuGetErrorString                                           uintptr
}

var driver struct {
	once sync.Once
	api  *driverAPI
	err  error
}

// driverCandidates returns where libcuda is looked for: the system loader
// first (libcuda.so.1), then $MAMBAKIT_CUDA_LIBS and the usual driver
// folders (container runtimes mount it under /usr/local/nvidia).
func driverCandidates(env func(string) string) []string {
	c := []string{"libcuda.so.1"}
	var dirs []string
	dirs = append(dirs, filepath.SplitList(env(EnvLibs))...)
	dirs = append(dirs, "/usr/local/nvidia/lib64", "/usr/local/nvidia/lib", "/usr/lib/x86_64-linux-gnu",
		"/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib/wsl/lib", "/usr/local/cuda/compat")
	for _, d := range dirs {
		if d == "" {
			continue
		}
		p := filepath.Join(d, "libcuda.so.1")
		if _, err := os.Stat(p); err == nil {
			c = append(c, p)
		}
	}
	return c
}

// loadDriver opens libcuda and resolves its entry points, once.
func loadDriver() (*driverAPI, error) {
	driver.once.Do(func() {
		lib, err := openFirst("libcuda.so.1", driverCandidates(os.Getenv))
		if err != nil {
			driver.err = fmt.Errorf("%w: %v", ErrNoDriver, err)
			return
		}
		a := &driverAPI{lib: lib}
		// Each entry: the pointer, then the names to try (newest first).
		type entry struct {
			p     *uintptr
			names []string
		}
		entries := []entry{
			{&a.cuInit, []string{"cuInit"}},
			{&a.cuDriverGetVersion, []string{"cuDriverGetVersion"}},
			{&a.cuDeviceGetCount, []string{"cuDeviceGetCount"}},
			{&a.cuDeviceGet, []string{"cuDeviceGet"}},
			{&a.cuDeviceGetName, []string{"cuDeviceGetName"}},
			{&a.cuDeviceGetAttribute, []string{"cuDeviceGetAttribute"}},
			{&a.cuDeviceTotalMem, []string{"cuDeviceTotalMem_v2", "cuDeviceTotalMem"}},
			{&a.cuDevicePrimaryCtxRetain, []string{"cuDevicePrimaryCtxRetain"}},
			{&a.cuDevicePrimaryCtxRelease, []string{"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}},
			{&a.cuCtxSetCurrent, []string{"cuCtxSetCurrent"}},
			{&a.cuCtxSynchronize, []string{"cuCtxSynchronize"}},
			{&a.cuMemGetInfo, []string{"cuMemGetInfo_v2", "cuMemGetInfo"}},
			{&a.cuMemAlloc, []string{"cuMemAlloc_v2", "cuMemAlloc"}},
			{&a.cuMemFree, []string{"cuMemFree_v2", "cuMemFree"}},
			{&a.cuMemcpyHtoD, []string{"cuMemcpyHtoD_v2", "cuMemcpyHtoD"}},
			{&a.cuMemcpyDtoH, []string{"cuMemcpyDtoH_v2", "cuMemcpyDtoH"}},
			{&a.cuMemcpyDtoD, []string{"cuMemcpyDtoD_v2", "cuMemcpyDtoD"}},
			{&a.cuMemcpyHtoDAsync, []string{"cuMemcpyHtoDAsync_v2", "cuMemcpyHtoDAsync"}},
			{&a.cuMemcpyDtoHAsync, []string{"cuMemcpyDtoHAsync_v2", "cuMemcpyDtoHAsync"}},
			{&a.cuMemcpyDtoDAsync, []string{"cuMemcpyDtoDAsync_v2", "cuMemcpyDtoDAsync"}},
			{&a.cuMemsetD32Async, []string{"cuMemsetD32Async"}},
			{&a.cuMemsetD8Async, []string{"cuMemsetD8Async"}},
			{&a.cuStreamCreate, []string{"cuStreamCreate"}},
			{&a.cuStreamDestroy, []string{"cuStreamDestroy_v2", "cuStreamDestroy"}},
			{&a.cuStreamSynchronize, []string{"cuStreamSynchronize"}},
			{&a.cuStreamQuery, []string{"cuStreamQuery"}},
			{&a.cuStreamWaitEvent, []string{"cuStreamWaitEvent"}},
			{&a.cuEventCreate, []string{"cuEventCreate"}},
			{&a.cuEventDestroy, []string{"cuEventDestroy_v2", "cuEventDestroy"}},
			{&a.cuEventRecord, []string{"cuEventRecord"}},
			{&a.cuEventSynchronize, []string{"cuEventSynchronize"}},
			{&a.cuEventElapsedTime, []string{"cuEventElapsedTime_v2", "cuEventElapsedTime"}},
			{&a.cuModuleLoadData, []string{"cuModuleLoadData"}},
			{&a.cuModuleUnload, []string{"cuModuleUnload"}},
			{&a.cuModuleGetFunction, []string{"cuModuleGetFunction"}},
			{&a.cuFuncSetAttribute, []string{"cuFuncSetAttribute"}},
			{&a.cuFuncGetAttribute, []string{"cuFuncGetAttribute"}},
			{&a.cuLaunchKernel, []string{"cuLaunchKernel"}},
			{&a.cuGetErrorName, []string{"cuGetErrorName"}},
			{&a.cuGetErrorString, []string{"cuGetErrorString"}},
		}
		var errs []error
		for _, e := range entries {
			var last error
			for _, n := range e.names {
				p, err := lib.sym(n)
				if err == nil {
					*e.p = p
					last = nil
					break
				}
				last = err
			}
			if last != nil {
				errs = append(errs, last)
			}
		}
		if err := errors.Join(errs...); err != nil {
			driver.err = fmt.Errorf("cuda: %s lacks entry points: %w", lib.path, err)
			return
		}
		driver.api = a
	})
	return driver.api, driver.err
}

// check turns a CUresult into nil or an *Error naming op.
func (a *driverAPI) check(r uint32, op string, args ...any) error {
	if r == 0 {
		return nil
	}
	if len(args) > 0 {
		op = fmt.Sprintf(op, args...)
	}
	e := &Error{Op: op, Code: int(r)}
	var name, msg *byte
	if a.cuGetErrorName != 0 && ccall(a.cuGetErrorName, uintptr(r), uintptr(unsafe.Pointer(&name))) == 0 {
		e.Name = goString(name)
	}
	if a.cuGetErrorString != 0 && ccall(a.cuGetErrorString, uintptr(r), uintptr(unsafe.Pointer(&msg))) == 0 {
		e.Msg = goString(msg)
	}
	return e
}

// DriverVersion returns the CUDA version the driver supports, as
// 1000·major + 10·minor (13000 for 13.0).
func DriverVersion() (int, error) {
	a, err := loadDriver()
	if err != nil {
		return 0, err
	}
	var v int32
	if err := a.check(ccall(a.cuDriverGetVersion, uintptr(unsafe.Pointer(&v))), "cuDriverGetVersion"); err != nil {
		return 0, err
	}
	return int(v), nil
}
