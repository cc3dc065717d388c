package cuda

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Programmatic dependent launch (PDL, sm_90 and later) through
// cuLaunchKernelEx: a kernel launched with the programmatic stream
// serialization attribute may start once every block of the kernel before
// it on the stream has run griddepcontrol.launch_dependents (or exited);
// it must run griddepcontrol.wait before it reads what that kernel wrote.
// Captured into a graph, the dependency stays programmatic.

// launchConfig is CUlaunchConfig.
type launchConfig struct {
	gx, gy, gz, bx, by, bz, shared uint32
	_                              uint32
	stream                         uintptr
	attrs                          uintptr
	numAttrs                       uint32
	_                              uint32
}

// launchAttr is CUlaunchAttribute: an id, padding, a 64-byte union.
type launchAttr struct {
	id  uint32
	_   uint32
	val [64]byte
}

const attrProgrammaticStreamSerialization = 6 // CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION

var launchEx struct {
	once sync.Once
	fn   uintptr
	err  error
}

// PDLAvailable reports whether the driver has cuLaunchKernelEx and the
// device is sm_90 or later.
func (d *Device) PDLAvailable() error {
	launchEx.once.Do(func() {
		launchEx.fn, launchEx.err = d.api.lib.sym("cuLaunchKernelEx")
	})
	if launchEx.err != nil {
		return launchEx.err
	}
	if d.Major < 9 {
		return fmt.Errorf("cuda: programmatic dependent launch needs sm_90, the device is sm_%d%d", d.Major, d.Minor)
	}
	return nil
}

// LaunchPDL is Launch with the programmatic stream serialization
// attribute (see above); the kernel must call griddepcontrol.wait before
// it reads the outputs of the kernel before it.
func (f *Function) LaunchPDL(grid, block Dim3, shared int, s *Stream, args ...any) error {
	d := f.m.d
	if err := d.PDLAvailable(); err != nil {
		return err
	}
	vals, ptrs, err := f.packArgs(args)
	if err != nil {
		return err
	}
	defer d.enter()()
	if err := f.raiseShared(shared); err != nil {
		return err
	}
	attr := new(launchAttr)
	attr.id = attrProgrammaticStreamSerialization
	attr.val[0] = 1
	gx, gy, gz := grid.norm()
	bx, by, bz := block.norm()
	cfg := &launchConfig{gx: uint32(gx), gy: uint32(gy), gz: uint32(gz), bx: uint32(bx), by: uint32(by), bz: uint32(bz),
		shared: uint32(shared), stream: s.handle(), attrs: uintptr(unsafe.Pointer(attr)), numAttrs: 1}
	err = d.api.check(ccall(launchEx.fn, uintptr(unsafe.Pointer(cfg)), f.h, uintptr(unsafe.Pointer(&ptrs[0])), 0),
		"cuLaunchKernelEx(%s, grid %v, block %v, shared %d, PDL)", f.Name, grid, block, shared)
	runtime.KeepAlive(vals)
	runtime.KeepAlive(ptrs)
	runtime.KeepAlive(attr)
	runtime.KeepAlive(cfg)
	if err == nil && syncEach {
		err = d.api.check(ccall(d.api.cuCtxSynchronize), "after %s: cuCtxSynchronize", f.Name)
	}
	return err
}
