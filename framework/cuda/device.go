package cuda

import (
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Device attributes (CUdevice_attribute).
const (
	attrMaxThreadsPerBlock  = 1
	attrClockRate           = 13
	attrMultiprocessorCount = 16
	attrMemoryClockRate     = 36
	attrGlobalMemoryBusBits = 37
	attrL2CacheSize         = 38
	attrCCMajor             = 75
	attrCCMinor             = 76
	attrMaxSharedOptin      = 97
)

// Device is one GPU, used through its primary context. Methods may be
// called from any goroutine; work is issued on the legacy default stream
// unless a Stream is given, so it runs in issue order.
type Device struct {
	api *driverAPI
	ord int
	dev int32
	ctx uintptr

	Name            string
	Major, Minor    int // compute capability
	SMs             int
	TotalMem        int64
	L2Bytes         int
	SharedOptin     int // bytes of shared memory a block may opt in to
	ClockKHz        int
	MemClockKHz     int
	MemBusBits      int
	DriverVersion   int
	maxThreadsBlock int

	mu      sync.Mutex
	modules map[string]*Module
	scratch map[string]*Buffer
	blas    *BLAS
	closed  bool
}

// Open opens GPU 0. On a machine without the NVIDIA driver it returns an
// error wrapping ErrNoDriver whose text is one line: "cuda: libcuda.so.1
// not found (no NVIDIA driver on this machine)". Tests skip with it.
func Open() (*Device, error) { return OpenDevice(0) }

// DeviceCount reports how many GPUs the driver sees (those that
// CUDA_VISIBLE_DEVICES leaves visible). Without the NVIDIA driver the
// error wraps ErrNoDriver.
func DeviceCount() (int, error) {
	_, n, err := initDriver()
	return n, err
}

// initDriver loads and initializes the driver and counts its GPUs.
func initDriver() (*driverAPI, int, error) {
	a, err := loadDriver()
	if err != nil {
		if isNoDriver(err) {
			return nil, 0, ErrNoDriver
		}
		return nil, 0, err
	}
	if err := a.check(ccall(a.cuInit, 0), "cuInit"); err != nil {
		return nil, 0, err
	}
	var count int32
	if err := a.check(ccall(a.cuDeviceGetCount, uintptr(unsafe.Pointer(&count))), "cuDeviceGetCount"); err != nil {
		return nil, 0, err
	}
	return a, int(count), nil
}

// OpenDevice opens GPU ordinal.
func OpenDevice(ordinal int) (*Device, error) {
	a, count, err := initDriver()
	if err != nil {
		return nil, err
	}
	if count == 0 {
		return nil, fmt.Errorf("cuda: the driver sees no GPU")
	}
	if ordinal < 0 || ordinal >= count {
		return nil, fmt.Errorf("cuda: device %d: the driver sees %d GPUs", ordinal, count)
	}
	d := &Device{api: a, ord: ordinal, modules: map[string]*Module{}, scratch: map[string]*Buffer{}}
	if err := a.check(ccall(a.cuDeviceGet, uintptr(unsafe.Pointer(&d.dev)), uintptr(ordinal)), "cuDeviceGet(%d)", ordinal); err != nil {
		return nil, err
	}
	name := make([]byte, 256)
	if err := a.check(ccall(a.cuDeviceGetName, uintptr(unsafe.Pointer(&name[0])), 256, uintptr(d.dev)), "cuDeviceGetName"); err != nil {
		return nil, err
	}
	d.Name = goString(&name[0])
	attrs := []struct {
		attr int
		dst  *int
	}{
		{attrCCMajor, &d.Major}, {attrCCMinor, &d.Minor}, {attrMultiprocessorCount, &d.SMs},
		{attrL2CacheSize, &d.L2Bytes}, {attrMaxSharedOptin, &d.SharedOptin}, {attrClockRate, &d.ClockKHz},
		{attrMemoryClockRate, &d.MemClockKHz}, {attrGlobalMemoryBusBits, &d.MemBusBits},
		{attrMaxThreadsPerBlock, &d.maxThreadsBlock},
	}
	for _, at := range attrs {
		var v int32
		if err := a.check(ccall(a.cuDeviceGetAttribute, uintptr(unsafe.Pointer(&v)), uintptr(at.attr), uintptr(d.dev)), "cuDeviceGetAttribute(%d)", at.attr); err != nil {
			return nil, err
		}
		*at.dst = int(v)
	}
	var total uint64
	if err := a.check(ccall(a.cuDeviceTotalMem, uintptr(unsafe.Pointer(&total)), uintptr(d.dev)), "cuDeviceTotalMem"); err != nil {
		return nil, err
	}
	d.TotalMem = int64(total)
	var dv int32
	if err := a.check(ccall(a.cuDriverGetVersion, uintptr(unsafe.Pointer(&dv))), "cuDriverGetVersion"); err == nil {
		d.DriverVersion = int(dv)
	}
	if err := a.check(ccall(a.cuDevicePrimaryCtxRetain, uintptr(unsafe.Pointer(&d.ctx)), uintptr(d.dev)), "cuDevicePrimaryCtxRetain"); err != nil {
		return nil, err
	}
	return d, nil
}

func isNoDriver(err error) bool {
	for e := err; e != nil; {
		if e == ErrNoDriver {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

// MakeCurrent locks the goroutine to its OS thread and makes the device's
// context current there, for a library that calls CUDA itself (NCCL);
// the returned function unlocks. Use as defer d.MakeCurrent()().
func (d *Device) MakeCurrent() func() { return d.enter() }

// Ordinal is the device's index among the driver's GPUs.
func (d *Device) Ordinal() int { return d.ord }

// enter is MakeCurrent. Use as defer d.enter()().
func (d *Device) enter() func() {
	runtime.LockOSThread()
	if r := ccall(d.api.cuCtxSetCurrent, d.ctx); r != 0 {
		panic(d.api.check(r, "cuCtxSetCurrent"))
	}
	return runtime.UnlockOSThread
}

// Arch is the device's architecture for NVRTC: "sm_90" for an H100/H200.
func (d *Device) Arch() string { return fmt.Sprintf("sm_%d%d", d.Major, d.Minor) }

// String describes the device in one line.
func (d *Device) String() string {
	return fmt.Sprintf("%s (%s, %d SMs, %.1f GiB, L2 %d MiB, driver CUDA %d.%d)", d.Name, d.Arch(), d.SMs,
		float64(d.TotalMem)/(1<<30), d.L2Bytes>>20, d.DriverVersion/1000, d.DriverVersion%1000/10)
}

// Synchronize waits for all work on the device and returns the first
// error an earlier asynchronous launch left (an illegal address, say).
func (d *Device) Synchronize() error { return d.sync() }

func (d *Device) sync() error {
	defer d.enter()()
	return d.api.check(ccall(d.api.cuCtxSynchronize), "cuCtxSynchronize")
}

// MemInfo returns the free and total device memory in bytes.
func (d *Device) MemInfo() (free, total int64, err error) {
	defer d.enter()()
	var f, t uint64
	err = d.api.check(ccall(d.api.cuMemGetInfo, uintptr(unsafe.Pointer(&f)), uintptr(unsafe.Pointer(&t))), "cuMemGetInfo")
	return int64(f), int64(t), err
}

// Close frees the device's cached modules, scratch buffers and cuBLAS
// handle and releases its primary context.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	defer d.enter()()
	var first error
	keep := func(err error) {
		if first == nil {
			first = err
		}
	}
	if d.blas != nil {
		keep(d.blas.destroy())
	}
	for _, b := range d.scratch {
		keep(b.Free())
	}
	for _, m := range d.modules {
		keep(m.unload())
	}
	keep(d.api.check(ccall(d.api.cuDevicePrimaryCtxRelease, uintptr(d.dev)), "cuDevicePrimaryCtxRelease"))
	return first
}

// Scratch returns a device buffer of at least bytes for the named use,
// kept by the device and reused (grown when too small) by later calls
// with the same name. Its contents are undefined.
func (d *Device) Scratch(name string, bytes int) (*Buffer, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if b := d.scratch[name]; b != nil && b.bytes >= bytes {
		return b, nil
	} else if b != nil {
		// Kernels issued earlier may still use the old buffer.
		if err := d.sync(); err != nil {
			return nil, err
		}
		if err := b.Free(); err != nil {
			return nil, err
		}
		delete(d.scratch, name)
	}
	b, err := d.Alloc(bytes)
	if err != nil {
		return nil, err
	}
	d.scratch[name] = b
	return b, nil
}
