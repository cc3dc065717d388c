package cuda

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"
	"unsafe"
)

// baseOptions are the NVRTC options of every module. No fast-math: the
// kernels call exp2f and __shfl themselves where speed matters, and keep
// IEEE division and square roots for agreement with the CPU kernels.
var baseOptions = []string{"-std=c++17", "--ptxas-options=-v", "-default-device"}

// moduleOptions returns the compile options for the given -D defines
// ("SCAN_N=16"), sorted so the cache key does not depend on their order.
func moduleOptions(defines []string) []string {
	ds := append([]string(nil), defines...)
	sort.Strings(ds)
	opts := append([]string(nil), baseOptions...)
	for _, d := range ds {
		opts = append(opts, "-D"+d)
	}
	return opts
}

// Module is a loaded CUDA module.
type Module struct {
	d       *Device
	h       uintptr
	Sources string // the name of the Sources it was compiled from
	File    string
	Defines []string
	Log     string        // the compiler's log (resource usage), empty when cached
	Cached  bool          // the image came from the disk cache
	Compile time.Duration // time to compile (or read) the image
	funcs   map[string]*Function
}

// Module compiles (or finds in the disk cache) and loads file of srcs
// with the given defines ("SCAN_N=16", passed as -D); the device keeps it
// for later calls with the same set, file and defines.
func (d *Device) Module(srcs *Sources, file string, defines ...string) (*Module, error) {
	opts := moduleOptions(defines)
	mkey := srcs.name + "\x00" + file + "\x00" + strings.Join(opts, "\x00")
	d.mu.Lock()
	defer d.mu.Unlock()
	if m := d.modules[mkey]; m != nil {
		return m, nil
	}
	src, err := srcs.Source(file)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	arch := d.Arch()
	nv, err := loadNVRTC()
	compiler := "none"
	if err == nil {
		compiler = nv.version
	}
	dir := cacheDir(os.Getenv)
	key := cacheKey(src, opts, arch, compiler)
	image, cached := cacheLoad(dir, key)
	var log string
	if !cached {
		if err != nil {
			return nil, err
		}
		image, log, err = nv.build(src, file, arch, opts)
		if err != nil {
			return nil, err
		}
		cacheStore(dir, key, image) // best effort: a read-only cache only costs a compile
	}
	m, err := d.LoadModule(image)
	if err != nil {
		return nil, fmt.Errorf("%w (module %s/%s %v)", err, srcs.name, file, defines)
	}
	m.Sources, m.File, m.Defines, m.Log, m.Cached, m.Compile = srcs.name, file, defines, log, cached, time.Since(t0)
	d.modules[mkey] = m
	return m, nil
}

// CompilePTX compiles one file of srcs with the given -D defines, as
// Module does, to PTX for a virtual architecture (arch "compute_90"),
// without a device: only NVRTC is loaded. It checks that the kernels
// compile where no GPU is at hand (the tests of framework/cudakernels).
func CompilePTX(srcs *Sources, file, arch string, defines ...string) (ptx []byte, log string, err error) {
	if !strings.HasPrefix(arch, "compute_") {
		return nil, "", fmt.Errorf("cuda: compile PTX: arch %q: want a virtual architecture such as compute_90", arch)
	}
	return compileOffline(srcs, file, arch, defines)
}

// CompileCUBIN is CompilePTX for a real architecture (arch "sm_80"):
// NVRTC assembles the cubin a device of that architecture would load, so
// instructions the architecture lacks fail here, without a device.
func CompileCUBIN(srcs *Sources, file, arch string, defines ...string) (cubin []byte, log string, err error) {
	if !strings.HasPrefix(arch, "sm_") {
		return nil, "", fmt.Errorf("cuda: compile CUBIN: arch %q: want a real architecture such as sm_80", arch)
	}
	return compileOffline(srcs, file, arch, defines)
}

func compileOffline(srcs *Sources, file, arch string, defines []string) ([]byte, string, error) {
	src, err := srcs.Source(file)
	if err != nil {
		return nil, "", err
	}
	nv, err := loadNVRTC()
	if err != nil {
		return nil, "", err
	}
	return nv.build(src, file, arch, moduleOptions(defines))
}

// LoadModule loads a cubin or PTX image.
func (d *Device) LoadModule(image []byte) (*Module, error) {
	if len(image) == 0 {
		return nil, fmt.Errorf("cuda: empty module image")
	}
	defer d.enter()()
	m := &Module{d: d, funcs: map[string]*Function{}}
	if err := d.api.check(ccall(d.api.cuModuleLoadData, uintptr(unsafe.Pointer(&m.h)), uintptr(unsafe.Pointer(&image[0]))), "cuModuleLoadData(%d bytes)", len(image)); err != nil {
		return nil, err
	}
	runtime.KeepAlive(image)
	return m, nil
}

func (m *Module) unload() error {
	if m.h == 0 {
		return nil
	}
	err := m.d.api.check(ccall(m.d.api.cuModuleUnload, m.h), "cuModuleUnload")
	m.h = 0
	return err
}

// Function attributes (CUfunction_attribute).
const (
	funcMaxThreads       = 0
	funcSharedBytes      = 1
	funcLocalBytes       = 3
	funcNumRegs          = 4
	funcMaxDynamicShared = 8
)

// Function is a kernel of a module, with the compiler's resource use.
type Function struct {
	m            *Module
	h            uintptr
	Name         string
	Regs         int // registers per thread
	LocalBytes   int // local memory per thread (spills, arrays indexed at run time)
	StaticShared int // static shared memory per block
	MaxThreads   int
	dynShared    int
}

// Function returns the named kernel (extern "C" name).
func (m *Module) Function(name string) (*Function, error) {
	m.d.mu.Lock()
	f := m.funcs[name]
	m.d.mu.Unlock()
	if f != nil {
		return f, nil
	}
	defer m.d.enter()()
	f = &Function{m: m, Name: name}
	cname := cString(name)
	if err := m.d.api.check(ccall(m.d.api.cuModuleGetFunction, uintptr(unsafe.Pointer(&f.h)), m.h, uintptr(unsafe.Pointer(&cname[0]))), "cuModuleGetFunction(%s)", name); err != nil {
		return nil, err
	}
	for _, a := range []struct {
		attr int
		dst  *int
	}{{funcNumRegs, &f.Regs}, {funcLocalBytes, &f.LocalBytes}, {funcSharedBytes, &f.StaticShared}, {funcMaxThreads, &f.MaxThreads}} {
		var v int32
		if err := m.d.api.check(ccall(m.d.api.cuFuncGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(a.attr), f.h), "cuFuncGetAttribute(%s, %d)", name, a.attr); err != nil {
			return nil, err
		}
		*a.dst = int(v)
	}
	m.d.mu.Lock()
	m.funcs[name] = f
	m.d.mu.Unlock()
	return f, nil
}

// Kernel returns the named kernel of file of srcs compiled with the given
// defines.
func (d *Device) Kernel(srcs *Sources, file, name string, defines ...string) (*Function, error) {
	m, err := d.Module(srcs, file, defines...)
	if err != nil {
		return nil, err
	}
	return m.Function(name)
}

// Dim3 is a grid or block shape; zero components count as 1.
type Dim3 struct{ X, Y, Z int }

func (v Dim3) norm() (uintptr, uintptr, uintptr) {
	one := func(x int) uintptr {
		if x < 1 {
			return 1
		}
		return uintptr(x)
	}
	return one(v.X), one(v.Y), one(v.Z)
}

// Launch runs f on s (nil: the default stream) with dynamic shared memory
// of shared bytes. Arguments may be DevPtr, *Buffer (its address; nil for
// 0), int and int32 (a C int), int64, uint32, uint64, float32 and float64;
// each must match the kernel's parameter. A launch that needs more than
// 48 KiB of dynamic shared memory raises the function's limit first.
func (f *Function) Launch(grid, block Dim3, shared int, s *Stream, args ...any) error {
	d := f.m.d
	vals, ptrs, err := f.packArgs(args)
	if err != nil {
		return err
	}
	defer d.enter()()
	if err := f.raiseShared(shared); err != nil {
		return err
	}
	gx, gy, gz := grid.norm()
	bx, by, bz := block.norm()
	err = d.api.check(ccall(d.api.cuLaunchKernel, f.h, gx, gy, gz, bx, by, bz, uintptr(shared), s.handle(), uintptr(unsafe.Pointer(&ptrs[0])), 0),
		"cuLaunchKernel(%s, grid %v, block %v, shared %d)", f.Name, grid, block, shared)
	runtime.KeepAlive(vals)
	if err == nil && syncEach {
		err = d.api.check(ccall(d.api.cuCtxSynchronize), "after %s: cuCtxSynchronize", f.Name)
	}
	return err
}

// packArgs turns launch arguments into the kernel parameter block: the
// values, and pointers to them (one more, nil, at the end).
func (f *Function) packArgs(args []any) ([]uint64, []unsafe.Pointer, error) {
	vals := make([]uint64, len(args))
	ptrs := make([]unsafe.Pointer, len(args)+1)
	for i, a := range args {
		switch v := a.(type) {
		case DevPtr:
			vals[i] = uint64(v)
		case *Buffer:
			vals[i] = uint64(v.Ptr())
		case int:
			if v < math.MinInt32 || v > math.MaxInt32 {
				return nil, nil, fmt.Errorf("cuda: launch %s: argument %d (%d) overflows a C int", f.Name, i, v)
			}
			vals[i] = uint64(uint32(int32(v)))
		case int32:
			vals[i] = uint64(uint32(v))
		case uint32:
			vals[i] = uint64(v)
		case int64:
			vals[i] = uint64(v)
		case uint64:
			vals[i] = v
		case float32:
			vals[i] = uint64(math.Float32bits(v))
		case float64:
			vals[i] = math.Float64bits(v)
		default:
			return nil, nil, fmt.Errorf("cuda: launch %s: argument %d has unsupported type %T", f.Name, i, a)
		}
		ptrs[i] = unsafe.Pointer(&vals[i])
	}
	return vals, ptrs, nil
}

// raiseShared raises the function's dynamic shared-memory limit when a
// launch needs more than 48 KiB and more than it allowed so far. The
// caller holds the device (d.enter).
func (f *Function) raiseShared(shared int) error {
	if shared > 48<<10 && shared > f.dynShared {
		if err := f.m.d.api.check(ccall(f.m.d.api.cuFuncSetAttribute, f.h, funcMaxDynamicShared, uintptr(shared)), "cuFuncSetAttribute(%s, max dynamic shared %d)", f.Name, shared); err != nil {
			return err
		}
		f.dynShared = shared
	}
	return nil
}

// syncEach makes every launch wait for its kernel and report its error
// ($MAMBAKIT_CUDA_SYNC=1), to find which launch faulted.
var syncEach = os.Getenv("MAMBAKIT_CUDA_SYNC") == "1"

// GridFor returns a 1-D grid of blocks of threads for n elements, capped
// at 32 blocks per SM (for kernels that loop over the rest).
func (d *Device) GridFor(n int64, threads int) Dim3 {
	b := (n + int64(threads) - 1) / int64(threads)
	if lim := int64(32 * max(d.SMs, 1)); b > lim {
		b = lim
	}
	return Dim3{X: int(max(b, 1))}
}
