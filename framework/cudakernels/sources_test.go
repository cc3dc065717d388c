package cudakernels

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/cuda"
)

// These tests read the embedded CUDA sources and need no GPU.

func TestSourceFiles(t *testing.T) {
	want := []string{"adamw.cu", "conv.cu", "elementwise.cu", "loss.cu", "model.cu", "norm.cu", "scan_complex.cu", "scan_real.cu", "step.cu", "util.cu"}
	if got := Sources.Files(); !slices.Equal(got, want) {
		t.Errorf("kernel files %v, want %v", got, want)
	}
	for _, f := range Sources.Files() {
		src, err := Sources.Source(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(src, "softplus_f") || !strings.Contains(src, "#line 1 \"common.cuh\"") {
			t.Errorf("%s: common.cuh not included", f)
		}
	}
}

// globalRe matches a kernel's definition and captures its name.
var globalRe = regexp.MustCompile(`extern "C" __global__ void\s+(?:__launch_bounds__\([^)]*\)\s*)?(\w+)\s*\(`)

// TestKernelNames checks that every kernel the Go code looks up by name
// is defined (extern "C" __global__) in the file it is loaded from. The
// lookups are read from the package's Go files: d.kernel(file, name),
// d.elementwise(name) (elementwise.cu), d.stepKernel(v, name) and the
// step_* names of step.go (step.cu), m.Function(name) on a scan module
// (both scan files: Scan.file picks one).
func TestKernelNames(t *testing.T) {
	defined := map[string][]string{}
	for _, f := range Sources.Files() {
		src, err := Sources.Source(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range globalRe.FindAllStringSubmatch(src, -1) {
			defined[f] = append(defined[f], m[1])
		}
	}
	lookups := map[string][]string{} // file → names
	add := func(file, name string) {
		if !slices.Contains(lookups[file], name) {
			lookups[file] = append(lookups[file], name)
		}
	}
	fset := token.NewFileSet()
	gofiles, _ := filepath.Glob("*.go")
	for _, path := range gofiles {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				lit := func(i int) (string, bool) {
					if i >= len(n.Args) {
						return "", false
					}
					b, ok := n.Args[i].(*ast.BasicLit)
					if !ok || b.Kind != token.STRING {
						return "", false
					}
					s, err := strconv.Unquote(b.Value)
					return s, err == nil
				}
				switch sel.Sel.Name {
				case "kernel", "Kernel":
					file, ok1 := lit(0)
					name, ok2 := lit(1)
					if !ok1 && len(n.Args) > 2 { // d.Kernel(Sources, file, name)
						file, ok1 = lit(1)
						name, ok2 = lit(2)
					}
					if ok1 && ok2 {
						add(file, name)
					}
				case "elementwise":
					if name, ok := lit(0); ok {
						add("elementwise.cu", name)
					}
				case "stepKernel":
					if name, ok := lit(1); ok {
						add("step.cu", name)
					}
				case "Function":
					if name, ok := lit(0); ok {
						add("scan_real.cu", name)
						if !slices.Contains(scanSeqKernels, name) { // the one-launch plan is real only
							add("scan_complex.cu", name)
						}
					}
				}
			case *ast.BasicLit:
				if s, err := strconv.Unquote(n.Value); n.Kind == token.STRING && err == nil && path == "step.go" && regexp.MustCompile(`^step_\w+$`).MatchString(s) {
					add("step.cu", s)
				}
			}
			return true
		})
	}
	if len(lookups["scan_real.cu"]) < 7 || len(lookups["step.cu"]) < 5 || len(lookups) < 9 {
		t.Fatalf("too few lookups found (the test's reading of the Go code is out of date): %v", lookups)
	}
	for _, v := range append(scanKernels, scanSeqKernels...) {
		if !slices.Contains(lookups["scan_real.cu"], v) {
			t.Errorf("scanKernels names %s, which the Go code does not look up", v)
		}
	}
	for file, names := range lookups {
		for _, name := range names {
			if !slices.Contains(defined[file], name) {
				t.Errorf("%s: the Go code looks up %s, which it does not define as __global__ (it defines %v)", file, name, defined[file])
			}
		}
	}
}

// TestSourcesBalanced checks each file, with its includes expanded, for
// balanced braces, parentheses and brackets (outside comments and
// strings) and #if … #endif pairs.
func TestSourcesBalanced(t *testing.T) {
	names := append(Sources.Files(), Sources.Headers()...)
	for _, f := range names {
		var src string
		if strings.HasSuffix(f, ".cu") {
			s, err := Sources.Source(f)
			if err != nil {
				t.Fatal(err)
			}
			src = s
		} else {
			b, err := os.ReadFile(filepath.Join("kernels", f))
			if err != nil {
				t.Fatal(err)
			}
			src = string(b)
		}
		code := stripComments(src)
		for _, p := range []string{"{}", "()", "[]"} {
			if o, c := strings.Count(code, p[:1]), strings.Count(code, p[1:]); o != c {
				t.Errorf("%s: %d %q against %d %q", f, o, p[:1], c, p[1:])
			}
		}
		depth := 0
		for i, line := range strings.Split(code, "\n") {
			d := strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(d, "#if"):
				depth++
			case strings.HasPrefix(d, "#endif"):
				depth--
			case strings.HasPrefix(d, "#el") && depth == 0:
				t.Errorf("%s:%d: %s outside #if", f, i+1, d)
			}
			if depth < 0 {
				t.Fatalf("%s:%d: #endif without #if", f, i+1)
			}
		}
		if depth != 0 {
			t.Errorf("%s: %d #if without #endif", f, depth)
		}
	}
}

// stripComments blanks // and /* */ comments and string and character
// literals of C source.
func stripComments(src string) string {
	var b strings.Builder
	for i := 0; i < len(src); i++ {
		switch {
		case strings.HasPrefix(src[i:], "//"):
			for i < len(src) && src[i] != '\n' {
				i++
			}
			b.WriteByte('\n')
		case strings.HasPrefix(src[i:], "/*"):
			j := strings.Index(src[i+2:], "*/")
			if j < 0 {
				return b.String()
			}
			b.WriteString(strings.Repeat("\n", strings.Count(src[i:i+2+j+2], "\n")))
			i += 2 + j + 1
		case src[i] == '"' || src[i] == '\'':
			q := src[i]
			for i++; i < len(src) && src[i] != q; i++ {
				if src[i] == '\\' {
					i++
				}
			}
		default:
			b.WriteByte(src[i])
		}
	}
	return b.String()
}

// kernelVariant is one kernel file compiled with some -D defines.
type kernelVariant struct {
	file string
	defs []string
}

// kernelVariants lists every kernel file as it is, then the scan's and
// the step's compiled forms.
func kernelVariants() []kernelVariant {
	var vs []kernelVariant
	for _, f := range Sources.Files() {
		vs = append(vs, kernelVariant{f, nil})
	}
	for _, s := range []Scan{{N: 5}, {N: 16, BPerChannel: true}, {N: 16, CPerChannel: true}, {N: 16, BPerChannel: true, CPerChannel: true}, {N: 64},
		{N: 5, AImag: 1}, {N: 16, AImag: 1, BPerChannel: true}, {N: 16, AImag: 1, CPerChannel: true}, {N: 64, AImag: 1, BPerChannel: true, CPerChannel: true}} {
		vs = append(vs, kernelVariant{s.file(), s.defines()})
	}
	for _, v := range []StepVariant{{MaxRows: 1}, {Prefetch: true}, {MaxRows: 1, Prefetch: true}, {MaxRows: 1, Prefetch: true, Early: true}, {MaxRows: 1, Prefetch: true, Early: true, L2: true}} {
		vs = append(vs, kernelVariant{"step.cu", v.defines()})
	}
	return vs
}

// TestKernelsCompile compiles every kernel file and form with NVRTC to
// PTX for sm_90 (compute_90), without a GPU: what NVRTC accepts, where g++
// (TestKernelsSyntax) is only a syntax check. It skips where NVRTC cannot
// be loaded, unless $MAMBAKIT_REQUIRE_NVRTC=1 (CI installs Debian's
// libnvrtc11.2, CUDA 11.8; PTX is not assembled, so the step's L2 form,
// whose instructions need CUDA 12's ptxas, compiles too).
func TestKernelsCompile(t *testing.T) {
	t.Logf("NVRTC %s", nvrtcOrSkip(t))
	for _, v := range kernelVariants() {
		t.Run(strings.Join(append([]string{v.file}, v.defs...), ","), func(t *testing.T) {
			t.Parallel()
			ptx, log, err := cuda.CompilePTX(Sources, v.file, "compute_90", v.defs...)
			if err != nil {
				t.Fatalf("%s %v: %v", v.file, v.defs, err)
			}
			if !strings.Contains(string(ptx), ".entry") {
				t.Errorf("%s %v: no kernel entry in the PTX (%d bytes)", v.file, v.defs, len(ptx))
			}
			if testing.Verbose() && log != "" {
				t.Logf("%s %v:\n%s", v.file, v.defs, log)
			}
		})
	}
}

// nvrtcOrSkip returns NVRTC's version, or skips the test where NVRTC
// cannot be loaded, unless $MAMBAKIT_REQUIRE_NVRTC=1 (CI), where that fails.
func nvrtcOrSkip(t *testing.T) string {
	t.Helper()
	_, ver, err := cuda.NVRTCInfo()
	if err != nil {
		if os.Getenv("MAMBAKIT_REQUIRE_NVRTC") == "1" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	return ver
}

// TestKernelsCompileSM80 compiles the step kernels' variants to an sm_80
// cubin (NVRTC assembles it): they use sm_90's instructions (PDL,
// thread block clusters, bulk prefetches to the L2) behind __CUDA_ARCH__,
// so their modules still load on an A100, where the Go side does not
// launch those forms. (No other kernel file has sm_90's instructions;
// compiling every file this way takes about 90 s on two cores.)
func TestKernelsCompileSM80(t *testing.T) {
	nvrtcOrSkip(t)
	for _, v := range kernelVariants() {
		if v.file != "step.cu" {
			continue
		}
		t.Run(strings.Join(append([]string{v.file}, v.defs...), ","), func(t *testing.T) {
			t.Parallel()
			img, _, err := cuda.CompileCUBIN(Sources, v.file, "sm_80", v.defs...)
			if err != nil {
				t.Fatalf("%s %v for sm_80: %v", v.file, v.defs, err)
			}
			if len(img) == 0 {
				t.Errorf("%s %v: an empty cubin", v.file, v.defs)
			}
		})
	}
}

// TestKernelsSyntax compiles every kernel file, and each variant the Go
// code compiles, with the host's C++17 compiler in syntax-only mode
// (testdata/nvrtc_shim.h stands in for CUDA): a check of syntax and types
// that runs without a GPU, where g++ is on the PATH. NVRTC on the GPU
// machine remains the judge (TestCompileAll).
func TestKernelsSyntax(t *testing.T) {
	gxx, err := exec.LookPath("g++")
	if err != nil {
		t.Skip("no g++ on the PATH")
	}
	shim, err := filepath.Abs(filepath.Join("testdata", "nvrtc_shim.h"))
	if err != nil {
		t.Fatal(err)
	}
	vs := kernelVariants()
	dir := t.TempDir()
	for i, v := range vs {
		src, err := Sources.Source(v.file)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, strconv.Itoa(i)+"_"+v.file)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"-std=c++17", "-fsyntax-only", "-x", "c++", "-include", shim, "-Wno-unknown-pragmas"}
		for _, d := range v.defs {
			args = append(args, "-D"+d)
		}
		t.Run(strings.Join(append([]string{v.file}, v.defs...), ","), func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(gxx, append(args, path)...).CombinedOutput()
			if err != nil {
				t.Errorf("%s %v: %v\n%s", v.file, v.defs, err, out)
			}
		})
	}
}
