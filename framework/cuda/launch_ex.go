package cuda

import (
	"encoding/binary"
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
	attrClusterDimension                = 4 // CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION
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
	return f.LaunchWith(LaunchOpts{PDL: true}, grid, block, shared, s, args...)
}

// LaunchOpts are the attributes LaunchWith gives a launch.
type LaunchOpts struct {
	PDL     bool // programmatic stream serialization (see above)
	Cluster int  // blocks a thread block cluster (sm_90; grid.X a multiple of it), 0 or 1: none
}

func (o LaunchOpts) String() string {
	s := ""
	if o.PDL {
		s += " PDL"
	}
	if o.Cluster > 1 {
		s += fmt.Sprintf(" cluster %d", o.Cluster)
	}
	return s
}

// LaunchWith is Launch through cuLaunchKernelEx with o's attributes:
// PDL (sm_90), and thread block clusters of o.Cluster blocks along X
// (sm_90; the blocks of a cluster run at once and share their shared
// memory). Captured into a graph, both stay.
func (f *Function) LaunchWith(o LaunchOpts, grid, block Dim3, shared int, s *Stream, args ...any) error {
	d := f.m.d
	if err := d.PDLAvailable(); err != nil {
		return err
	}
	if o.Cluster > 1 && grid.X%o.Cluster != 0 {
		return fmt.Errorf("cuda: launch %s: grid %v is not a whole number of clusters of %d", f.Name, grid, o.Cluster)
	}
	vals, ptrs, err := f.packArgs(args)
	if err != nil {
		return err
	}
	defer d.enter()()
	if err := f.raiseShared(shared); err != nil {
		return err
	}
	attrs := make([]launchAttr, 0, 2)
	if o.PDL {
		a := launchAttr{id: attrProgrammaticStreamSerialization}
		a.val[0] = 1
		attrs = append(attrs, a)
	}
	if o.Cluster > 1 {
		a := launchAttr{id: attrClusterDimension}
		binary.LittleEndian.PutUint32(a.val[0:], uint32(o.Cluster))
		binary.LittleEndian.PutUint32(a.val[4:], 1)
		binary.LittleEndian.PutUint32(a.val[8:], 1)
		attrs = append(attrs, a)
	}
	gx, gy, gz := grid.norm()
	bx, by, bz := block.norm()
	cfg := &launchConfig{gx: uint32(gx), gy: uint32(gy), gz: uint32(gz), bx: uint32(bx), by: uint32(by), bz: uint32(bz),
		shared: uint32(shared), stream: s.handle(), numAttrs: uint32(len(attrs))}
	if len(attrs) > 0 {
		cfg.attrs = uintptr(unsafe.Pointer(&attrs[0]))
	}
	err = d.api.check(ccall(launchEx.fn, uintptr(unsafe.Pointer(cfg)), f.h, uintptr(unsafe.Pointer(&ptrs[0])), 0),
		"cuLaunchKernelEx(%s, grid %v, block %v, shared %d,%s)", f.Name, grid, block, shared, o)
	runtime.KeepAlive(vals)
	runtime.KeepAlive(ptrs)
	runtime.KeepAlive(attrs)
	runtime.KeepAlive(cfg)
	if err == nil && syncEach {
		err = d.api.check(ccall(d.api.cuCtxSynchronize), "after %s: cuCtxSynchronize", f.Name)
	}
	return err
}
