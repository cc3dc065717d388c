package cuda

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// nvrtcSonames are tried in order: CUDA 13, 12, 11.2 to 11.8 (Debian's
// libnvrtc11.2: enough for CompilePTX's check without a GPU, and on a
// device for every kernel but the step's L2 form, whose inline PTX needs
// CUDA 12's ptxas), then an unversioned link.
var nvrtcSonames = []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"}

type nvrtcAPI struct {
	lib                                          *library
	version                                      string
	create, compile, destroy, logSize, log       uintptr
	cubinSize, cubin, ptxSize, ptx, errStr, vers uintptr
	errString                                    func(int32) *byte
}

var nvrtcLib struct {
	once sync.Once
	api  *nvrtcAPI
	err  error
}

// loadNVRTC opens libnvrtc (see SearchDirs), once. Its builtins library,
// which NVRTC opens by soname at the first compile, is opened first from
// the same folder, so the folder need not be on the loader's path.
func loadNVRTC() (*nvrtcAPI, error) {
	nvrtcLib.once.Do(func() {
		lib, err := openFirst("libnvrtc", libCandidates(SearchDirs(), nvrtcSonames))
		if err != nil {
			nvrtcLib.err = fmt.Errorf("%w (set %s to the folder holding libnvrtc.so.*)", err, EnvLibs)
			return
		}
		if filepath.IsAbs(lib.path) {
			preloadSibling(filepath.Dir(lib.path), "libnvrtc-builtins.so*")
		}
		a := &nvrtcAPI{lib: lib}
		err = lib.syms([]string{"nvrtcCreateProgram", "nvrtcCompileProgram", "nvrtcDestroyProgram", "nvrtcGetProgramLogSize",
			"nvrtcGetProgramLog", "nvrtcGetCUBINSize", "nvrtcGetCUBIN", "nvrtcGetPTXSize", "nvrtcGetPTX", "nvrtcGetErrorString", "nvrtcVersion"},
			[]*uintptr{&a.create, &a.compile, &a.destroy, &a.logSize, &a.log, &a.cubinSize, &a.cubin, &a.ptxSize, &a.ptx, &a.errStr, &a.vers})
		if err != nil {
			nvrtcLib.err = err
			return
		}
		purego.RegisterLibFunc(&a.errString, lib.handle, "nvrtcGetErrorString")
		var maj, min int32
		if ccall(a.vers, uintptr(unsafe.Pointer(&maj)), uintptr(unsafe.Pointer(&min))) == 0 {
			a.version = fmt.Sprintf("%d.%d", maj, min)
		}
		nvrtcLib.api = a
	})
	return nvrtcLib.api, nvrtcLib.err
}

// NVRTCInfo returns the loaded NVRTC's file and version.
func NVRTCInfo() (path, version string, err error) {
	a, err := loadNVRTC()
	if err != nil {
		return "", "", err
	}
	return a.lib.path, a.version, nil
}

func (a *nvrtcAPI) check(r uint32, op string) error {
	if r == 0 {
		return nil
	}
	e := &Error{Op: op, Code: int(r), Name: fmt.Sprintf("NVRTC error %d", r)}
	if a.errString != nil {
		e.Name = goString(a.errString(int32(r)))
	}
	return e
}

// build compiles CUDA C source for arch and returns the cubin ("sm_90")
// or the PTX ("compute_90") and the compiler log (warnings, and the
// resource report when asked).
func (a *nvrtcAPI) build(src, name, arch string, opts []string) (image []byte, log string, err error) {
	var prog uintptr
	csrc, cname := cString(src), cString(name)
	if err := a.check(ccall(a.create, uintptr(unsafe.Pointer(&prog)), uintptr(unsafe.Pointer(&csrc[0])), uintptr(unsafe.Pointer(&cname[0])), 0, 0, 0), "nvrtcCreateProgram"); err != nil {
		return nil, "", err
	}
	defer ccall(a.destroy, uintptr(unsafe.Pointer(&prog)))
	all := append([]string{"--gpu-architecture=" + arch}, opts...)
	cs := make([][]byte, len(all))
	ptrs := make([]*byte, len(all))
	for i, o := range all {
		cs[i] = cString(o)
		ptrs[i] = &cs[i][0]
	}
	rc := ccall(a.compile, prog, uintptr(len(ptrs)), uintptr(unsafe.Pointer(&ptrs[0])))
	var n uintptr
	if ccall(a.logSize, prog, uintptr(unsafe.Pointer(&n))) == 0 && n > 1 {
		buf := make([]byte, n)
		if ccall(a.log, prog, uintptr(unsafe.Pointer(&buf[0]))) == 0 {
			log = strings.TrimRight(string(buf[:n-1]), "\n\x00")
		}
	}
	if err := a.check(rc, "nvrtcCompileProgram("+name+")"); err != nil {
		return nil, log, fmt.Errorf("%w\n%s", err, log)
	}
	// A real architecture (sm_90) gives a cubin; a virtual one
	// (compute_90), PTX.
	size, get, what := a.cubinSize, a.cubin, "CUBIN"
	if strings.HasPrefix(arch, "compute_") {
		size, get, what = a.ptxSize, a.ptx, "PTX"
	}
	if err := a.check(ccall(size, prog, uintptr(unsafe.Pointer(&n))), "nvrtcGet"+what+"Size"); err != nil {
		return nil, log, err
	}
	if n == 0 {
		return nil, log, fmt.Errorf("cuda: nvrtc: %s: empty %s for %s", name, what, arch)
	}
	image = make([]byte, n)
	if err := a.check(ccall(get, prog, uintptr(unsafe.Pointer(&image[0]))), "nvrtcGet"+what); err != nil {
		return nil, log, err
	}
	runtime.KeepAlive(cs)
	runtime.KeepAlive(ptrs)
	return image, log, nil
}
