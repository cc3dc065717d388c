package nccl

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLibSearch(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"lib/python3.12/site-packages/nvidia/nccl/lib", "lib/python3.12/site-packages/nvidia/cu13/lib", "extra"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"lib/python3.12/site-packages/nvidia/nccl/lib/libnccl.so.2", "extra/libnccl.so.2"} {
		os.WriteFile(filepath.Join(root, f), nil, 0o644)
	}
	env := func(k string) string {
		if k == EnvLibs {
			return filepath.Join(root, "extra")
		}
		return ""
	}
	dirs := libSearchDirs(env, []string{root})
	if len(dirs) < 3 || dirs[0] != filepath.Join(root, "extra") {
		t.Fatalf("dirs %v", dirs)
	}
	c := candidates(env, dirs)
	if c[0] != filepath.Join(root, "extra/libnccl.so.2") || c[1] != filepath.Join(root, "lib/python3.12/site-packages/nvidia/nccl/lib/libnccl.so.2") || c[len(c)-1] != "libnccl.so.2" {
		t.Fatalf("candidates %v", c)
	}
}

func TestForceNoNVLS(t *testing.T) {
	t.Setenv("NCCL_NVLS_ENABLE", "1")
	if err := forceNoNVLS(); err != nil {
		t.Fatal(err)
	}
	if v := os.Getenv("NCCL_NVLS_ENABLE"); v != "0" {
		t.Fatalf("NCCL_NVLS_ENABLE=%q", v)
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Op: "ncclAllReduce(10 floats)", Code: 6, Msg: "remote process exited or there was a network error"}
	if got := e.Error(); got != "nccl: ncclAllReduce(10 floats): ncclRemoteError (remote process exited or there was a network error)" {
		t.Fatal(got)
	}
	if VersionString(22703) != "2.27.3" {
		t.Fatal(VersionString(22703))
	}
}

// TestLoad opens libnccl where there is one (the GPU machine) and reports
// its version; elsewhere it checks the error's text.
func TestLoad(t *testing.T) {
	v, err := Load()
	if errors.Is(err, ErrNoLibrary) {
		if !strings.Contains(err.Error(), EnvLibs) {
			t.Fatalf("error does not say how to point at the library: %v", err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("libnccl %s from %s", VersionString(v), LibraryPath())
	if os.Getenv("NCCL_NVLS_ENABLE") != "0" {
		t.Fatal("NCCL_NVLS_ENABLE not 0 after Load")
	}
}
