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

// An input that is itself a link to a directory (a dataset linked into the
// working directory: data/music -> /big/disk/music) is walked like the
// directory, its files named under the link; a hidden target is no reason
// to skip it.
func TestInputFilesLinkedDirectory(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, ".store", "music")
	for _, name := range []string{"b.flac", "a.flac", "sub/c.flac", ".hidden.flac"} {
		p := filepath.Join(target, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "music")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{link, link + "/"} {
		got, err := InputFiles([]string{in}, []string{".flac"})
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		want := []string{filepath.Join(link, "a.flac"), filepath.Join(link, "b.flac"), filepath.Join(link, "sub", "c.flac")}
		if !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", in, got, want)
		}
	}
	dangling := filepath.Join(dir, "gone")
	os.Symlink(filepath.Join(dir, "nowhere"), dangling)
	if _, err := InputFiles([]string{dangling}, nil); err == nil || !strings.Contains(err.Error(), "gone: no such file") {
		t.Errorf("dangling link: error %v", err)
	}
}
