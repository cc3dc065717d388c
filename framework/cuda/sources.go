package cuda

import (
	"bufio"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Sources is a set of CUDA C files that a package hands the runtime to
// compile (framework/cudakernels passes its embedded kernels): every .cu
// file at the root of the file system is a module, and a line
// #include "x.cuh" in it is replaced by x.cuh from the same root (each
// header once per module, #line directives keeping the compiler's file
// names and line numbers). Modules compiled from it are cached by the
// device under the set's name, and on disk by the hash of the expanded
// source (see Device.Module).
type Sources struct {
	name string
	fsys fs.FS
}

// NewSources names the CUDA files at the root of fsys (an embed.FS
// sub-tree, say); name tells the sets of a process apart ("cudakernels").
func NewSources(name string, fsys fs.FS) *Sources { return &Sources{name: name, fsys: fsys} }

// Name is the set's name.
func (s *Sources) Name() string { return s.name }

// Files lists the set's .cu files, sorted.
func (s *Sources) Files() []string { return s.list(".cu") }

// Headers lists the set's .cuh files, sorted.
func (s *Sources) Headers() []string { return s.list(".cuh") }

func (s *Sources) list(ext string) []string {
	ents, _ := fs.ReadDir(s.fsys, ".")
	var out []string
	for _, e := range ents {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ext) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// Source returns file with its #include lines expanded: the text NVRTC
// compiles.
func (s *Sources) Source(file string) (string, error) {
	if !strings.HasSuffix(file, ".cu") {
		return "", fmt.Errorf("cuda: %s: %q is not a .cu file", s.name, file)
	}
	var b strings.Builder
	if err := s.expand(&b, file, map[string]bool{}); err != nil {
		return "", err
	}
	return b.String(), nil
}

// expand writes file into b with its includes expanded; seen holds the
// headers already written.
func (s *Sources) expand(b *strings.Builder, file string, seen map[string]bool) error {
	src, err := fs.ReadFile(s.fsys, file)
	if err != nil {
		return fmt.Errorf("cuda: %s: no CUDA file %q", s.name, file)
	}
	fmt.Fprintf(b, "#line 1 %q\n", file)
	sc := bufio.NewScanner(strings.NewReader(string(src)))
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		inc, ok := includeName(sc.Text())
		if !ok {
			b.WriteString(sc.Text())
			b.WriteByte('\n')
			continue
		}
		if !seen[inc] {
			seen[inc] = true
			if err := s.expand(b, inc, seen); err != nil {
				return fmt.Errorf("%w (included from %s:%d)", err, file, line)
			}
		}
		fmt.Fprintf(b, "#line %d %q\n", line+1, file)
	}
	return sc.Err()
}

// includeName returns x.cuh of a line #include "x.cuh".
func includeName(line string) (string, bool) {
	t := strings.TrimSpace(line)
	if !strings.HasPrefix(t, "#") {
		return "", false
	}
	t = strings.TrimSpace(t[1:])
	if !strings.HasPrefix(t, "include") {
		return "", false
	}
	name, err := strconv.Unquote(strings.TrimSpace(t[len("include"):]))
	if err != nil || name == "" {
		return "", false
	}
	return name, true
}
