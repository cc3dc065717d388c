package nccl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"

	"github.com/mambakit/mambakit/internal/libsearch"
)

// EnvLibs names the environment variable with extra folders (separated by
// ':') searched first for libnccl.so.2; a file path there is tried as is.
const EnvLibs = "MAMBAKIT_NCCL_LIBS"

// ErrNoLibrary is wrapped by Load's error when libnccl cannot be opened.
var ErrNoLibrary = errors.New("nccl: libnccl.so.2 not found")

// Result codes (ncclResult_t).
const (
	success    = 0
	inProgress = 7
)

var resultNames = map[int]string{
	0: "ncclSuccess", 1: "ncclUnhandledCudaError", 2: "ncclSystemError", 3: "ncclInternalError",
	4: "ncclInvalidArgument", 5: "ncclInvalidUsage", 6: "ncclRemoteError", 7: "ncclInProgress",
}

// Error is a failed NCCL call.
type Error struct {
	Op   string
	Code int
	Msg  string // ncclGetErrorString, and ncclGetLastError when it says more
}

func (e *Error) Error() string {
	name := resultNames[e.Code]
	if name == "" {
		name = fmt.Sprintf("error %d", e.Code)
	}
	s := fmt.Sprintf("nccl: %s: %s", e.Op, name)
	if e.Msg != "" {
		s += " (" + e.Msg + ")"
	}
	return s
}

// api holds libnccl's entry points.
type api struct {
	path    string
	version int

	getVersion, getUniqueID, commInitRank, commInitRankScalable uintptr
	commDestroy, commAbort, commGetAsyncError, getErrorString   uintptr
	getLastError, allReduce, groupStart, groupEnd               uintptr

	errorString func(r int32) string
	lastError   func(comm uintptr) string

	// initByValue is ncclCommInitRank with the id passed by value, for
	// libraries older than 2.23 (no ncclCommInitRankScalable).
	initByValue func(comm *uintptr, nranks int32, id uniqueIDArg, rank int32) int32
}

// uniqueIDArg has ncclUniqueId's size (128 bytes) and is passed by value
// as C passes the struct.
type uniqueIDArg struct {
	W0, W1, W2, W3, W4, W5, W6, W7, W8, W9, W10, W11, W12, W13, W14, W15 uint64
}

var lib struct {
	once sync.Once
	api  *api
	err  error
}

// libSearchDirs returns the folders searched for libnccl, in order:
// $MAMBAKIT_NCCL_LIBS, $NCCL_HOME/lib, /usr/local/nccl/lib, the CUDA
// toolkit folders, then pip's nvidia/nccl/lib and nvidia/cu*/lib under the
// python environments in roots. Only existing folders, each once.
func libSearchDirs(env func(string) string, roots []string) []string {
	var dirs libsearch.Dirs
	dirs.AddList(env(EnvLibs))
	if h := env("NCCL_HOME"); h != "" {
		dirs.Add(filepath.Join(h, "lib"))
		dirs.Add(filepath.Join(h, "lib64"))
	}
	dirs.Add("/usr/local/nccl/lib")
	dirs.AddCUDAToolkit()
	dirs.AddGlobs(roots, []string{
		"lib/python3*/site-packages/nvidia/nccl/lib",
		"lib/python3*/dist-packages/nvidia/nccl/lib",
		"lib/python3*/site-packages/nvidia/cu*/lib",
		"lib/python3*/dist-packages/nvidia/cu*/lib",
		"lib64/python3*/site-packages/nvidia/nccl/lib",
	}, true) // cu13 before cu12
	return dirs.List()
}

// candidates returns the files to try: files named in $MAMBAKIT_NCCL_LIBS,
// then libnccl.so.2 (or libnccl.so) in each folder, then the bare soname
// for the system loader.
func candidates(env func(string) string, dirs []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, p := range filepath.SplitList(env(EnvLibs)) {
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			add(p)
		}
	}
	for _, d := range dirs {
		for _, s := range []string{"libnccl.so.2", "libnccl.so"} {
			p := filepath.Join(d, s)
			if _, err := os.Stat(p); err == nil {
				add(p)
			}
		}
	}
	add("libnccl.so.2")
	return out
}

// SearchDirs returns the folders this machine would search for libnccl.
func SearchDirs() []string { return libSearchDirs(os.Getenv, libsearch.PythonRoots(os.Getenv)) }

// forceNoNVLS sets NCCL_NVLS_ENABLE=0 (NVLink multicast off) in the process
// environment, which libnccl reads through getenv, and checks it stuck.
func forceNoNVLS() error {
	if err := os.Setenv("NCCL_NVLS_ENABLE", "0"); err != nil {
		return fmt.Errorf("nccl: set NCCL_NVLS_ENABLE=0: %w", err)
	}
	if v := os.Getenv("NCCL_NVLS_ENABLE"); v != "0" {
		return fmt.Errorf("nccl: NCCL_NVLS_ENABLE is %q after setting it to 0; refusing to start NCCL with NVLink multicast possibly on", v)
	}
	return nil
}

// Load opens libnccl once (NCCL_NVLS_ENABLE=0 set first) and returns its
// version as 10000·major + 100·minor + patch (22703 for 2.27.3).
func Load() (int, error) {
	a, err := load()
	if err != nil {
		return 0, err
	}
	return a.version, nil
}

// LibraryPath is the file Load opened ("" before a successful Load).
func LibraryPath() string {
	if lib.api == nil {
		return ""
	}
	return lib.api.path
}

func load() (*api, error) {
	lib.once.Do(func() {
		if runtime.GOOS != "linux" {
			lib.err = fmt.Errorf("%w: only linux is supported", ErrNoLibrary)
			return
		}
		if err := forceNoNVLS(); err != nil {
			lib.err = err
			return
		}
		var errs []string
		var h uintptr
		var path string
		for _, c := range candidates(os.Getenv, SearchDirs()) {
			var err error
			if h, err = purego.Dlopen(c, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
				path = c
				break
			}
			errs = append(errs, err.Error())
		}
		if h == 0 {
			if len(errs) > 3 {
				errs = append(errs[:3], fmt.Sprintf("and %d more", len(errs)-3))
			}
			lib.err = fmt.Errorf("%w (tried %s; set %s to its folder)", ErrNoLibrary, strings.Join(errs, "; "), EnvLibs)
			return
		}
		a := &api{path: path}
		var missing []string
		for _, e := range []struct {
			p        *uintptr
			name     string
			optional bool
		}{
			{&a.getVersion, "ncclGetVersion", false}, {&a.getUniqueID, "ncclGetUniqueId", false},
			{&a.commInitRank, "ncclCommInitRank", false}, {&a.commInitRankScalable, "ncclCommInitRankScalable", true},
			{&a.commDestroy, "ncclCommDestroy", false}, {&a.commAbort, "ncclCommAbort", false},
			{&a.commGetAsyncError, "ncclCommGetAsyncError", false}, {&a.getErrorString, "ncclGetErrorString", false},
			{&a.getLastError, "ncclGetLastError", true}, {&a.allReduce, "ncclAllReduce", false},
			{&a.groupStart, "ncclGroupStart", false}, {&a.groupEnd, "ncclGroupEnd", false},
		} {
			p, err := purego.Dlsym(h, e.name)
			if err != nil {
				if !e.optional {
					missing = append(missing, e.name)
				}
				continue
			}
			*e.p = p
		}
		if len(missing) > 0 {
			lib.err = fmt.Errorf("nccl: %s lacks %s", path, strings.Join(missing, ", "))
			return
		}
		purego.RegisterFunc(&a.errorString, a.getErrorString)
		if a.getLastError != 0 {
			purego.RegisterFunc(&a.lastError, a.getLastError)
		}
		if a.commInitRankScalable == 0 {
			purego.RegisterFunc(&a.initByValue, a.commInitRank)
		}
		var v int32
		if r := call(a.getVersion, uintptr(unsafe.Pointer(&v))); r != success {
			lib.err = a.check(r, "ncclGetVersion", 0)
			return
		}
		a.version = int(v)
		lib.api = a
	})
	return lib.api, lib.err
}

// VersionString formats a version code: 22703 → "2.27.3".
func VersionString(v int) string {
	return fmt.Sprintf("%d.%d.%d", v/10000, v/100%100, v%100)
}

// call calls a C function with integer and pointer arguments.
//
//go:uintptrescapes
func call(fn uintptr, args ...uintptr) int {
	r, _, _ := purego.SyscallN(fn, args...)
	return int(int32(r))
}

// check turns an ncclResult_t into nil or an *Error.
func (a *api) check(r int, op string, comm uintptr) error {
	if r == success {
		return nil
	}
	e := &Error{Op: op, Code: r}
	if a.errorString != nil {
		e.Msg = a.errorString(int32(r))
	}
	if a.lastError != nil {
		if s := a.lastError(comm); s != "" && s != e.Msg {
			if e.Msg != "" {
				e.Msg += ": "
			}
			e.Msg += s
		}
	}
	return e
}
