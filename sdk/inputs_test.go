package sdk

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestInputFiles(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.txt", "a.TXT", "sub/c.txt", "sub/skip.bin", ".hidden/d.txt", ".e.txt"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.Mkdir(filepath.Join(dir, "empty"), 0o755)
	if err := os.Symlink(filepath.Join(dir, "b.txt"), filepath.Join(dir, "sub", "link.txt")); err != nil {
		t.Fatal(err)
	}
	os.Symlink(dir, filepath.Join(dir, "sub", "loop")) // not followed
	got, err := InputFiles([]string{filepath.Join(dir, "sub/skip.bin"), dir}, []string{".txt"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"sub/skip.bin", "a.TXT", "b.txt", "sub/c.txt", "sub/link.txt"}
	for i := range want {
		want[i] = filepath.Join(dir, want[i])
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for name, tt := range map[string]struct {
		in   []string
		want string
	}{
		"nil":       {nil, "no input files"},
		"missing":   {[]string{filepath.Join(dir, "nope")}, "nope: no such file"},
		"empty dir": {[]string{filepath.Join(dir, "empty")}, "empty: directory has no readable file ending in .txt"},
	} {
		_, err := InputFiles(tt.in, []string{".txt"})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", name, err, tt.want)
		}
	}
}
