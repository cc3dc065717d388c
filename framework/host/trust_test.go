package host

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCurrentDirectoryNotSearched (S2): ./plugins/mambakit-plugin-NAME in
// the working directory is not found unless a directory names it.
func TestCurrentDirectoryNotSearched(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	os.Mkdir("plugins", 0o755)
	data, err := os.ReadFile(filepath.Join(pluginDir, ExecPrefix+"echo"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join("plugins", ExecPrefix+"echo"), data, 0o755)
	t.Setenv(PathEnv, "")
	h, err := New(Config{Dirs: DefaultDirs()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Find("echo"); err == nil {
		t.Fatal("a plugin in ./plugins was found without being asked for")
	}
	h, _ = New(Config{Dirs: []string{"plugins"}})
	if _, err := h.Find("echo"); err != nil {
		t.Fatalf("named directory: %v", err)
	}
}

// TestLockRefusesUnpinned (S3): once plugins.lock exists, an external
// plugin it does not pin is refused before it runs, with the command that
// pins it, and DescribeAll (plugins list) does not run it; a shadowing
// external plugin is reported on every Discover.
func TestLockRefusesUnpinned(t *testing.T) {
	dir := t.TempDir()
	lockFile := filepath.Join(dir, "plugins.lock")
	os.WriteFile(lockFile, []byte(`{"version": 1, "plugins": {}}`), 0o644)
	rec := newLogRecorder()
	h, err := New(Config{Dirs: []string{pluginDir}, LockFile: lockFile, Builtins: []string{"echo"}, Self: "/bin/true", BuiltinArg: "__plugin", Log: slog.New(rec)})
	if err != nil {
		t.Fatal(err)
	}
	// The external echo may not stand in for the built-in echo: ignored
	// and reported.
	ents, err := h.Discover()
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || !ents[0].Builtin || !rec.has("ignoring") {
		t.Fatalf("entries %+v; log has 'ignoring': %v", ents, rec.has("ignoring"))
	}
	// Without the built-in, the external echo is found but not run.
	h, _ = New(Config{Dirs: []string{pluginDir}, LockFile: lockFile})
	_, err = h.Start(context.Background(), "echo")
	if err == nil || !strings.Contains(err.Error(), "not pinned") || !strings.Contains(err.Error(), "mambakit plugins lock") {
		t.Fatalf("unpinned plugin with a lock file: %v", err)
	}
	ds, err := h.DescribeAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Untrusted == "" || ds[0].Err != nil || ds[0].Info.Name != "" {
		t.Fatalf("DescribeAll ran or misreported an unpinned plugin: %+v", ds)
	}
	// Pinned, it runs and stands in for a built-in of its name, reported.
	if _, err := h.Lock(context.Background(), lockFile); err != nil {
		t.Fatal(err)
	}
	rec = newLogRecorder()
	h, _ = New(Config{Dirs: []string{pluginDir}, LockFile: lockFile, Builtins: []string{"echo"}, Self: "/bin/true", BuiltinArg: "__plugin", Log: slog.New(rec)})
	p, err := h.Start(context.Background(), "echo")
	if err != nil {
		t.Fatalf("pinned: %v", err)
	}
	p.Close()
	if p.Entry.Builtin || !rec.has("stands in for the built-in") {
		t.Fatalf("pinned external echo: builtin %v, reported %v", p.Entry.Builtin, rec.has("stands in"))
	}
}
