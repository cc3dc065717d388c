package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/ebitengine/purego"

	"github.com/mambakit/mambakit/internal/libsearch"
)

// EnvLibs names the environment variable with extra folders (separated by
// the list separator, ':' on Linux) searched first for libnvrtc and
// libcublas, and for libcuda when the loader does not find it.
const EnvLibs = "MAMBAKIT_CUDA_LIBS"

// libSearchDirs returns the folders searched for a CUDA library, in order:
// $MAMBAKIT_CUDA_LIBS, $CUDA_HOME and $CUDA_PATH lib64, /usr/local/cuda,
// the versioned toolkits under /usr/local, then the nvidia/*/lib folders of
// pip's CUDA packages under every python site-packages or dist-packages
// folder found under roots. Only folders that exist are returned, each once.
func libSearchDirs(env func(string) string, roots []string) []string {
	var dirs libsearch.Dirs
	dirs.AddList(env(EnvLibs))
	for _, v := range []string{"CUDA_HOME", "CUDA_PATH"} {
		if h := env(v); h != "" {
			dirs.Add(filepath.Join(h, "lib64"))
			dirs.Add(filepath.Join(h, "lib"))
		}
	}
	dirs.AddCUDAToolkit()
	dirs.AddGlobs(roots, []string{
		"lib/python3*/site-packages/nvidia/*/lib",
		"lib/python3*/dist-packages/nvidia/*/lib",
		"lib/python3*/site-packages/nvidia/cu*/lib",
		"lib/python3*/dist-packages/nvidia/cu*/lib",
		"lib64/python3*/site-packages/nvidia/*/lib",
	}, false)
	return dirs.List()
}

// SearchDirs returns the folders this machine would search for NVRTC and
// cuBLAS, in order.
func SearchDirs() []string { return libSearchDirs(os.Getenv, libsearch.PythonRoots(os.Getenv)) }

// libCandidates returns the file paths to try for a library with the given
// sonames (most preferred first): for each folder, each soname that exists
// there, then any other versioned file of the same stem (libnvrtc.so.13.0.88),
// newest first; after all folders the bare sonames, for the system loader.
func libCandidates(dirs []string, sonames []string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, d := range dirs {
		for _, s := range sonames {
			p := filepath.Join(d, s)
			if _, err := os.Stat(p); err == nil {
				add(p)
			}
		}
		for _, s := range sonames {
			stem := s
			if i := strings.Index(s, ".so"); i >= 0 {
				stem = s[:i+3]
			}
			m, _ := filepath.Glob(filepath.Join(d, stem+".*"))
			sort.Sort(sort.Reverse(sort.StringSlice(m)))
			for _, p := range m {
				if strings.HasSuffix(p, ".alt") || strings.Contains(p, "builtins") {
					continue
				}
				add(p)
			}
		}
	}
	for _, s := range sonames {
		add(s)
	}
	return out
}

// library is an opened shared library.
type library struct {
	path   string
	handle uintptr
}

// openFirst opens the first candidate that loads.
func openFirst(what string, candidates []string) (*library, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("cuda: %s: only linux is supported", what)
	}
	var errs []string
	for _, c := range candidates {
		h, err := purego.Dlopen(c, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return &library{path: c, handle: h}, nil
		}
		errs = append(errs, err.Error())
	}
	if len(errs) > 3 {
		errs = append(errs[:3], fmt.Sprintf("and %d more", len(errs)-3))
	}
	return nil, fmt.Errorf("cuda: %s not found (tried %s)", what, strings.Join(errs, "; "))
}

// sym returns the address of name in l.
func (l *library) sym(name string) (uintptr, error) {
	p, err := purego.Dlsym(l.handle, name)
	if err != nil {
		return 0, fmt.Errorf("cuda: %s: symbol %s: %w", filepath.Base(l.path), name, err)
	}
	return p, nil
}

// syms resolves every name into the matching pointer.
func (l *library) syms(names []string, ptrs []*uintptr) error {
	var errs []error
	for i, n := range names {
		p, err := l.sym(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		*ptrs[i] = p
	}
	return errors.Join(errs...)
}

// preloadSibling opens the files matching pattern in dir (a dependency such
// as libnvrtc-builtins or libcublasLt) so the library that dlopens it by
// soname finds it already loaded. Failures are ignored.
func preloadSibling(dir, pattern string) {
	m, _ := filepath.Glob(filepath.Join(dir, pattern))
	sort.Sort(sort.Reverse(sort.StringSlice(m)))
	for _, p := range m {
		if _, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
			return
		}
	}
}

// cString returns s as a NUL-terminated byte slice.
func cString(s string) []byte {
	b := make([]byte, len(s)+1)
	copy(b, s)
	return b
}

// goString copies the NUL-terminated C string at p.
func goString(p *byte) string {
	if p == nil {
		return ""
	}
	var b []byte
	for q := p; *q != 0; q = nextByte(q) {
		b = append(b, *q)
		if len(b) > 1<<16 {
			break
		}
	}
	return string(b)
}
