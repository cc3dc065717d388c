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

const (
	attrCooperative                     = 2 // CU_LAUNCH_ATTRIBUTE_COOPERATIVE
	attrProgrammaticStreamSerialization = 6 // CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION
)

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
	if err := f.m.d.PDLAvailable(); err != nil {
		return err
	}
	return f.launchEx(attrProgrammaticStreamSerialization, "PDL", grid, block, shared, s, args)
}

// LaunchCooperative is Launch as a cooperative launch
// (CU_LAUNCH_ATTRIBUTE_COOPERATIVE): every block of the grid is resident
// at once, or the launch fails (too many blocks for the device:
// MaxCooperativeBlocks), so the blocks may wait for each other. Captured
// into a graph, the node stays cooperative.
func (f *Function) LaunchCooperative(grid, block Dim3, shared int, s *Stream, args ...any) error {
	d := f.m.d
	launchEx.once.Do(func() {
		launchEx.fn, launchEx.err = d.api.lib.sym("cuLaunchKernelEx")
	})
	if launchEx.err != nil {
		return launchEx.err
	}
	return f.launchEx(attrCooperative, "cooperative", grid, block, shared, s, args)
}

// launchEx is cuLaunchKernelEx with one attribute set to 1.
func (f *Function) launchEx(attrID uint32, what string, grid, block Dim3, shared int, s *Stream, args []any) error {
	d := f.m.d
	vals, ptrs, err := f.packArgs(args)
	if err != nil {
		return err
	}
	defer d.enter()()
	if err := f.raiseShared(shared); err != nil {
		return err
	}
	attr := new(launchAttr)
	attr.id = attrID
	attr.val[0] = 1
	gx, gy, gz := grid.norm()
	bx, by, bz := block.norm()
	cfg := &launchConfig{gx: uint32(gx), gy: uint32(gy), gz: uint32(gz), bx: uint32(bx), by: uint32(by), bz: uint32(bz),
		shared: uint32(shared), stream: s.handle(), attrs: uintptr(unsafe.Pointer(attr)), numAttrs: 1}
	err = d.api.check(ccall(launchEx.fn, uintptr(unsafe.Pointer(cfg)), f.h, uintptr(unsafe.Pointer(&ptrs[0])), 0),
		"cuLaunchKernelEx(%s, grid %v, block %v, shared %d, %s)", f.Name, grid, block, shared, what)
	runtime.KeepAlive(vals)
	runtime.KeepAlive(ptrs)
	runtime.KeepAlive(attr)
	runtime.KeepAlive(cfg)
	if err == nil && syncEach {
		err = d.api.check(ccall(d.api.cuCtxSynchronize), "after %s: cuCtxSynchronize", f.Name)
	}
	return err
}

var occupancy struct {
	once sync.Once
	fn   uintptr
	err  error
}

// MaxCooperativeBlocks is the most blocks of threads threads (with shared
// bytes of dynamic shared memory) that the device holds at once: its
// multiprocessors times cuOccupancyMaxActiveBlocksPerMultiprocessor, the
// largest grid LaunchCooperative takes.
func (f *Function) MaxCooperativeBlocks(threads, shared int) (int, error) {
	d := f.m.d
	occupancy.once.Do(func() {
		occupancy.fn, occupancy.err = d.api.lib.sym("cuOccupancyMaxActiveBlocksPerMultiprocessor")
	})
	if occupancy.err != nil {
		return 0, occupancy.err
	}
	defer d.enter()()
	var n int32
	if err := d.api.check(ccall(occupancy.fn, uintptr(unsafe.Pointer(&n)), f.h, uintptr(threads), uintptr(shared)),
		"cuOccupancyMaxActiveBlocksPerMultiprocessor(%s, %d threads, %d bytes shared)", f.Name, threads, shared); err != nil {
		return 0, err
	}
	return int(n) * d.SMs, nil
}
