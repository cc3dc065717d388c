package nccl

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// The few CUDA driver calls a communicator needs besides framework/cuda's:
// a non-blocking stream of its own, an event to order it after the default
// stream's work, stream queries, and copies of a few host values. libcuda
// is already loaded by framework/cuda; dlopen returns the same library.

type driver struct {
	cuInit, cuDeviceGet, cuDevicePrimaryCtxRetain, cuDevicePrimaryCtxRelease, cuCtxSetCurrent uintptr
	cuStreamCreate, cuStreamDestroy, cuStreamQuery, cuStreamSynchronize, cuStreamWaitEvent    uintptr
	cuEventCreate, cuEventRecord, cuEventDestroy                                              uintptr
	cuMemAlloc, cuMemFree, cuMemcpyHtoD, cuMemcpyDtoH                                         uintptr
	cuGetErrorName                                                                            func(r int32, name **byte) int32
}

const (
	cudaErrorNotReady    = 600
	streamNonBlocking    = 1
	eventDisableTiming   = 2
	maxDriverErrorString = 256
)

var drv struct {
	once sync.Once
	d    *driver
	err  error
}

func loadDriver() (*driver, error) {
	drv.once.Do(func() {
		var h uintptr
		var err error
		for _, c := range []string{"libcuda.so.1", "/usr/local/nvidia/lib64/libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1", "/usr/lib64/libcuda.so.1"} {
			if h, err = purego.Dlopen(c, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
				break
			}
		}
		if h == 0 {
			drv.err = fmt.Errorf("nccl: libcuda.so.1 not found: %v", err)
			return
		}
		d := &driver{}
		for _, e := range []struct {
			p     *uintptr
			names []string
		}{
			{&d.cuInit, []string{"cuInit"}}, {&d.cuDeviceGet, []string{"cuDeviceGet"}},
			{&d.cuDevicePrimaryCtxRetain, []string{"cuDevicePrimaryCtxRetain"}},
			{&d.cuDevicePrimaryCtxRelease, []string{"cuDevicePrimaryCtxRelease_v2", "cuDevicePrimaryCtxRelease"}},
			{&d.cuCtxSetCurrent, []string{"cuCtxSetCurrent"}},
			{&d.cuStreamCreate, []string{"cuStreamCreate"}}, {&d.cuStreamDestroy, []string{"cuStreamDestroy_v2", "cuStreamDestroy"}},
			{&d.cuStreamQuery, []string{"cuStreamQuery"}}, {&d.cuStreamSynchronize, []string{"cuStreamSynchronize"}},
			{&d.cuStreamWaitEvent, []string{"cuStreamWaitEvent"}},
			{&d.cuEventCreate, []string{"cuEventCreate"}}, {&d.cuEventRecord, []string{"cuEventRecord"}},
			{&d.cuEventDestroy, []string{"cuEventDestroy_v2", "cuEventDestroy"}},
			{&d.cuMemAlloc, []string{"cuMemAlloc_v2"}}, {&d.cuMemFree, []string{"cuMemFree_v2"}},
			{&d.cuMemcpyHtoD, []string{"cuMemcpyHtoD_v2"}}, {&d.cuMemcpyDtoH, []string{"cuMemcpyDtoH_v2"}},
		} {
			for _, n := range e.names {
				if p, err := purego.Dlsym(h, n); err == nil {
					*e.p = p
					break
				}
			}
			if *e.p == 0 {
				drv.err = fmt.Errorf("nccl: libcuda lacks %s", e.names[0])
				return
			}
		}
		if p, err := purego.Dlsym(h, "cuGetErrorName"); err == nil {
			purego.RegisterFunc(&d.cuGetErrorName, p)
		}
		drv.d = d
	})
	return drv.d, drv.err
}

// check turns a CUresult into nil or an error naming op.
func (d *driver) check(r int, op string) error {
	if r == 0 {
		return nil
	}
	name := ""
	if d.cuGetErrorName != nil {
		var p *byte
		if d.cuGetErrorName(int32(r), &p) == 0 && p != nil {
			b := unsafe.Slice(p, maxDriverErrorString)
			for i, c := range b {
				if c == 0 {
					name = string(b[:i])
					break
				}
			}
		}
	}
	if name == "" {
		name = fmt.Sprintf("error %d", r)
	}
	return fmt.Errorf("nccl: %s: %s", op, name)
}
