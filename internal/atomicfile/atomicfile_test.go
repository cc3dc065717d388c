package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesOrLeavesUntouched(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.txt")
	if err := WriteFile(p, []byte("one"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, 0o644, func(w io.Writer) error {
		w.Write([]byte("half"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("want the writer's error, got %v", err)
	}
	b, _ := os.ReadFile(p)
	if string(b) != "two" {
		t.Fatalf("content %q after a failed write, want the previous %q", b, "two")
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), nil, 0o644); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

func TestCopySync(t *testing.T) {
	dir := t.TempDir()
	src, dst := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	if err := WriteSync(src, []byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := CopySync(src, dst); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dst); string(b) != "data" {
		t.Fatalf("copy holds %q", b)
	}
	if err := CopySync(filepath.Join(dir, "nope"), dst); err == nil {
		t.Error("copying a missing file succeeded")
	}
}

// TestRemoveStale: the temporary files of writers killed before their
// rename are removed, and nothing else.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	keep := []string{"latest", ".latest", ".tmp-1", "a.tmp-1", ".a.tmp-", ".a.tmp-x1", ".step-00000002.partial"}
	for _, n := range keep {
		os.WriteFile(filepath.Join(dir, n), nil, 0o644)
	}
	// What a writer killed between CreateTemp and Rename leaves.
	f, err := os.CreateTemp(dir, tempPattern(filepath.Join(dir, "latest")))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Mkdir(filepath.Join(dir, ".d.tmp-12"), 0o755) // not a file: kept
	if err := RemoveStale(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(f.Name()); !os.IsNotExist(err) {
		t.Errorf("%s is still there (%v)", f.Name(), err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != len(keep)+1 {
		t.Errorf("left %d entries, want the %d others: %v", len(ents), len(keep)+1, ents)
	}
	if err := RemoveStale(filepath.Join(dir, "missing")); err != nil {
		t.Errorf("a missing directory: %v", err)
	}
}

// TestRenameDir: a written directory takes dst's place whole; over a
// directory that holds something it fails and leaves both as they were.
func TestRenameDir(t *testing.T) {
	base := t.TempDir()
	tmp, dst := filepath.Join(base, ".new.partial"), filepath.Join(base, "new")
	if err := os.Mkdir(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteSync(filepath.Join(tmp, "f"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	full := filepath.Join(base, "full")
	os.Mkdir(full, 0o755)
	os.WriteFile(filepath.Join(full, "keep"), []byte("k"), 0o644)
	if err := RenameDir(tmp, full); err == nil {
		t.Error("RenameDir over a directory that holds a file succeeded")
	}
	if b, _ := os.ReadFile(filepath.Join(full, "keep")); string(b) != "k" {
		t.Error("the directory renamed onto changed")
	}
	if err := RenameDir(tmp, dst+string(filepath.Separator)); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dst, "f")); err != nil || string(b) != "x" {
		t.Errorf("after RenameDir: %q, %v", b, err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Errorf("tmp still there: %v", err)
	}
}
