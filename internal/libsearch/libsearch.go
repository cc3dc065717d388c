// Package libsearch builds the ordered lists of folders in which the
// run-time loaded GPU libraries (CUDA, NVRTC, cuBLAS, NCCL) are looked
// for: environment folders, the CUDA toolkit, and the nvidia/*/lib folders
// of pip's packages in python environments.
package libsearch

import (
	"os"
	"path/filepath"
	"sort"
)

// Dirs is an ordered set of existing folders.
type Dirs struct {
	list []string
	seen map[string]bool
}

// Add appends d if it is an existing folder not in the set yet.
func (s *Dirs) Add(d string) {
	if d == "" || s.seen[d] {
		return
	}
	if st, err := os.Stat(d); err != nil || !st.IsDir() {
		return
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[d] = true
	s.list = append(s.list, d)
}

// AddList adds the folders of a list separated like $PATH.
func (s *Dirs) AddList(v string) {
	for _, d := range filepath.SplitList(v) {
		s.Add(d)
	}
}

// AddCUDAToolkit adds the CUDA toolkit's library folders:
// /usr/local/cuda's, then the versioned toolkits under /usr/local, newest
// first.
func (s *Dirs) AddCUDAToolkit() {
	s.Add("/usr/local/cuda/lib64")
	s.Add("/usr/local/cuda/targets/x86_64-linux/lib")
	s.Add("/usr/local/cuda/targets/sbsa-linux/lib")
	versioned, _ := filepath.Glob("/usr/local/cuda-*/lib64")
	sort.Sort(sort.Reverse(sort.StringSlice(versioned)))
	for _, d := range versioned {
		s.Add(d)
	}
}

// AddGlobs adds, for each root and pattern in order, the folders matching
// root/pattern, sorted by name (reversed when newestFirst: cu13 before
// cu12).
func (s *Dirs) AddGlobs(roots, patterns []string, newestFirst bool) {
	for _, root := range roots {
		for _, pat := range patterns {
			m, _ := filepath.Glob(filepath.Join(root, pat))
			if newestFirst {
				sort.Sort(sort.Reverse(sort.StringSlice(m)))
			} else {
				sort.Strings(m)
			}
			for _, d := range m {
				s.Add(d)
			}
		}
	}
}

// List returns the folders in the order they were added.
func (s *Dirs) List() []string { return s.list }

// PythonRoots are the prefixes under which pip installs packages:
// $VIRTUAL_ENV, the user's ~/.local, /usr/local, /usr, and any /opt/*/.venv
// or /opt/* environment.
func PythonRoots(env func(string) string) []string {
	var roots []string
	if v := env("VIRTUAL_ENV"); v != "" {
		roots = append(roots, v)
	}
	if h := env("HOME"); h != "" {
		roots = append(roots, filepath.Join(h, ".local"))
	}
	roots = append(roots, "/usr/local", "/usr")
	for _, pat := range []string{"/opt/*/.venv", "/opt/*", "/opt/conda", "/root/.local"} {
		m, _ := filepath.Glob(pat)
		roots = append(roots, m...)
	}
	return roots
}
