package cuda

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestOpenWithoutGPU(t *testing.T) {
	d, err := Open()
	if err == nil {
		t.Logf("GPU present: %s", d)
		return
	}
	if errors.Is(err, ErrNoDriver) {
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("the no-driver error is more than one line: %q", err)
		}
		if err.Error() != "cuda: libcuda.so.1 not found (no NVIDIA driver on this machine)" {
			t.Errorf("unexpected message %q", err)
		}
		return
	}
	t.Logf("driver present, no usable GPU: %v", err)
}

func TestLibSearchDirs(t *testing.T) {
	root := t.TempDir()
	extra := filepath.Join(root, "extra")
	home := filepath.Join(root, "cudahome")
	venv := filepath.Join(root, "venv")
	for _, d := range []string{extra, filepath.Join(home, "lib64"),
		filepath.Join(venv, "lib/python3.12/site-packages/nvidia/cuda_nvrtc/lib"),
		filepath.Join(venv, "lib/python3.12/site-packages/nvidia/cu13/lib")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{EnvLibs: extra + string(os.PathListSeparator) + filepath.Join(root, "missing"), "CUDA_HOME": home}
	dirs := libSearchDirs(func(k string) string { return env[k] }, []string{venv})
	if len(dirs) < 4 || dirs[0] != extra || dirs[1] != filepath.Join(home, "lib64") {
		t.Fatalf("order: %v", dirs)
	}
	joined := strings.Join(dirs, "\n")
	for _, want := range []string{"nvidia/cuda_nvrtc/lib", "nvidia/cu13/lib"} {
		if !strings.Contains(joined, want) {
			t.Errorf("missing %s in %v", want, dirs)
		}
	}
	if strings.Contains(joined, "missing") {
		t.Errorf("a folder that does not exist was listed: %v", dirs)
	}
	seen := map[string]bool{}
	for _, d := range dirs {
		if seen[d] {
			t.Errorf("%s listed twice", d)
		}
		seen[d] = true
	}
}

func TestLibCandidates(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"libnvrtc.so.13", "libnvrtc.so.13.0.88", "libnvrtc-builtins.so.13.0", "libnvrtc.so.12.alt"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := libCandidates([]string{dir}, nvrtcSonames)
	if len(c) == 0 || c[0] != filepath.Join(dir, "libnvrtc.so.13") {
		t.Fatalf("first candidate: %v", c)
	}
	joined := strings.Join(c, " ")
	if !strings.Contains(joined, "libnvrtc.so.13.0.88") {
		t.Errorf("versioned file not offered: %v", c)
	}
	if strings.Contains(joined, "builtins") || strings.Contains(joined, ".alt") {
		t.Errorf("builtins or .alt offered: %v", c)
	}
	if c[len(c)-1] != "libnvrtc.so" {
		t.Errorf("the bare sonames should come last: %v", c)
	}
	if _, err := openFirst("libnothing", []string{filepath.Join(dir, "libnothing.so.1")}); err == nil || !strings.Contains(err.Error(), "libnothing not found") {
		t.Errorf("openFirst of a missing library: %v", err)
	}
}

func TestDriverCandidates(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "libcuda.so.1"), nil, 0o644)
	c := driverCandidates(func(k string) string {
		if k == EnvLibs {
			return dir
		}
		return ""
	})
	if c[0] != "libcuda.so.1" || c[1] != filepath.Join(dir, "libcuda.so.1") {
		t.Errorf("driver candidates: %v", c)
	}
}

func TestCache(t *testing.T) {
	opts := moduleOptions([]string{"SCAN_N=16", "B_PC=0"})
	if opts2 := moduleOptions([]string{"B_PC=0", "SCAN_N=16"}); strings.Join(opts, " ") != strings.Join(opts2, " ") {
		t.Errorf("options depend on the order of the defines: %v, %v", opts, opts2)
	}
	k := cacheKey("src", opts, "sm_90", "13.0")
	for _, other := range []string{
		cacheKey("src2", opts, "sm_90", "13.0"),
		cacheKey("src", opts[:len(opts)-1], "sm_90", "13.0"),
		cacheKey("src", opts, "sm_80", "13.0"),
		cacheKey("src", opts, "sm_90", "12.9"),
	} {
		if other == k {
			t.Error("the cache key ignores a change")
		}
	}
	if k != cacheKey("src", opts, "sm_90", "13.0") || len(k) != 64 {
		t.Errorf("unstable or malformed key %q", k)
	}
	dir := filepath.Join(t.TempDir(), "c")
	if _, ok := cacheLoad(dir, k); ok {
		t.Error("hit in an empty cache")
	}
	if err := cacheStore(dir, k, []byte("cubin")); err != nil {
		t.Fatal(err)
	}
	if b, ok := cacheLoad(dir, k); !ok || string(b) != "cubin" {
		t.Errorf("round trip: %q %v", b, ok)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	if cacheDir(func(string) string { return "off" }) != "" {
		t.Error("cache not off")
	}
	if cacheDir(func(string) string { return "/x/y" }) != "/x/y" {
		t.Error("cache folder not taken from the environment")
	}
	if d := cacheDir(func(string) string { return "" }); d != "" && !strings.HasSuffix(d, filepath.Join("mambakit", "cuda")) {
		t.Errorf("default cache folder %q", d)
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Op: "cuMemAlloc(8 bytes)", Code: 2, Name: "CUDA_ERROR_OUT_OF_MEMORY", Msg: "out of memory"}
	if got := e.Error(); got != "cuda: cuMemAlloc(8 bytes): CUDA_ERROR_OUT_OF_MEMORY (out of memory)" {
		t.Errorf("error text %q", got)
	}
	e = &Error{Op: "x", Code: 7}
	if got := e.Error(); got != "cuda: x: error 7" {
		t.Errorf("error text %q", got)
	}
	if got := goString(nil); got != "" {
		t.Errorf("goString(nil) = %q", got)
	}
	b := cString("abc")
	if goString(&b[0]) != "abc" || len(b) != 4 || b[3] != 0 {
		t.Errorf("C strings: %q", b)
	}
}

func TestDim3AndLaunchArgs(t *testing.T) {
	x, y, z := Dim3{X: 5}.norm()
	if x != 5 || y != 1 || z != 1 {
		t.Errorf("Dim3 norm: %d %d %d", x, y, z)
	}
	f := &Function{Name: "k", m: &Module{d: &Device{}}}
	if err := f.Launch(Dim3{X: 1}, Dim3{X: 1}, 0, nil, "string"); err == nil || !strings.Contains(err.Error(), "unsupported type") {
		t.Errorf("bad argument type: %v", err)
	}
	if err := f.Launch(Dim3{X: 1}, Dim3{X: 1}, 0, nil, 1<<40); err == nil || !strings.Contains(err.Error(), "overflows") {
		t.Errorf("int overflow: %v", err)
	}
	d := &Device{SMs: 2}
	if g := d.GridFor(1<<30, 256); g.X != 64 {
		t.Errorf("GridFor cap: %v", g)
	}
	if g := d.GridFor(0, 256); g.X != 1 {
		t.Errorf("GridFor(0): %v", g)
	}
}
