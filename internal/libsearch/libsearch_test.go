package libsearch

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestDirsOrderAndExistence checks that only existing folders are kept,
// each once, in the order added, with globs sorted as asked.
func TestDirsOrderAndExistence(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a", "b", "env/lib/python3.12/site-packages/nvidia/cu12/lib", "env/lib/python3.12/site-packages/nvidia/cu13/lib"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var s Dirs
	s.AddList(filepath.Join(root, "b") + string(filepath.ListSeparator) + filepath.Join(root, "missing") + string(filepath.ListSeparator) + filepath.Join(root, "file"))
	s.Add(filepath.Join(root, "a"))
	s.Add(filepath.Join(root, "b"))
	s.AddGlobs([]string{filepath.Join(root, "env")}, []string{"lib/python3*/site-packages/nvidia/cu*/lib"}, true)
	want := []string{filepath.Join(root, "b"), filepath.Join(root, "a"),
		filepath.Join(root, "env/lib/python3.12/site-packages/nvidia/cu13/lib"),
		filepath.Join(root, "env/lib/python3.12/site-packages/nvidia/cu12/lib")}
	if got := s.List(); !slices.Equal(got, want) {
		t.Errorf("dirs %q, want %q", got, want)
	}
}

func TestPythonRootsFromEnvironment(t *testing.T) {
	env := map[string]string{"VIRTUAL_ENV": "/venv", "HOME": "/home/u"}
	roots := PythonRoots(func(k string) string { return env[k] })
	if len(roots) < 4 || roots[0] != "/venv" || roots[1] != "/home/u/.local" || roots[2] != "/usr/local" || roots[3] != "/usr" {
		t.Errorf("roots %q", roots)
	}
}
