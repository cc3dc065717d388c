package kernels

import (
	"slices"
	"testing"
)

// kernelListed reports whether MAMBAKIT_KERNEL names name, or is unset:
// the tests run the implementations it lists.
func kernelListed(name string) bool {
	return len(kernelEnv) == 0 || slices.Contains(kernelEnv, name)
}

// cpuKernels returns the registry of a CPU that runs the assembly of the
// given instruction sets: scan, complex scan and vector kernels list go,
// avx2, avx512; the matrix multiply avx2, avx512.
func cpuKernels(avx2, avx512 bool) kernelSet {
	all := []kernelImpl{{"go", true}, {"avx2", avx2}, {"avx512", avx512}}
	return kernelSet{scan: all, complex: all, gemm: all[1:], vec: all}
}

// TestChooseKernels pins what each MAMBAKIT_KERNEL value runs, kind by
// kind, on CPUs with and without AVX-512 and without assembly (the
// choices the variable made before the registry read it once).
func TestChooseKernels(t *testing.T) {
	noAsm := kernelSet{scan: []kernelImpl{{"go", true}}, complex: []kernelImpl{{"go", true}}, vec: []kernelImpl{{"go", true}}}
	cpus := map[string]kernelSet{"avx512": cpuKernels(true, true), "avx2": cpuKernels(true, false), "none": noAsm}
	all := func(name string) kernelChoice { return kernelChoice{name, name, name, name} }
	tests := []struct {
		cpu, env string
		want     kernelChoice
	}{
		{"avx512", "", all("avx512")},
		{"avx512", "go", kernelChoice{scan: "go", complex: "go", gemm: "avx512", vec: "go"}},
		{"avx512", "avx2", all("avx2")},
		{"avx512", "avx512", all("avx512")},
		{"avx512", "avx2,go", kernelChoice{scan: "avx2", complex: "avx2", gemm: "avx2", vec: "go"}},
		{"avx512", "go,avx2", kernelChoice{scan: "go", complex: "go", gemm: "avx2", vec: "go"}},
		{"avx512", "avx512,go", kernelChoice{scan: "avx512", complex: "avx512", gemm: "avx512", vec: "go"}},
		{"avx512", "avx512,avx2", kernelChoice{scan: "avx512", complex: "avx512", gemm: "avx512", vec: "avx2"}},
		{"avx512", "avx2,avx512", kernelChoice{scan: "avx2", complex: "avx2", gemm: "avx512", vec: "avx2"}},
		{"avx512", " avx2 , go ", kernelChoice{scan: "avx2", complex: "avx2", gemm: "avx2", vec: "go"}},
		{"avx512", "avx2,", all("avx2")},
		{"avx512", "bogus", all("avx512")},
		{"avx512", "AVX2", all("avx512")},
		{"avx512", "generic", all("avx512")},
		{"avx2", "", all("avx2")},
		{"avx2", "avx512", all("avx2")},
		{"avx2", "go", kernelChoice{scan: "go", complex: "go", gemm: "avx2", vec: "go"}},
		{"avx2", "bogus,avx512,go", kernelChoice{scan: "go", complex: "go", gemm: "avx2", vec: "go"}},
		{"none", "", kernelChoice{scan: "go", complex: "go", vec: "go"}},
		{"none", "avx2", kernelChoice{scan: "go", complex: "go", vec: "go"}},
		{"none", "go", kernelChoice{scan: "go", complex: "go", vec: "go"}},
	}
	for _, tt := range tests {
		if got := chooseKernels(parseKernelEnv(tt.env), cpus[tt.cpu]); got != tt.want {
			t.Errorf("cpu %s, MAMBAKIT_KERNEL=%q: got %+v, want %+v", tt.cpu, tt.env, got, tt.want)
		}
	}
}

// TestKernelsInUse checks that what runs is the registry's choice for this
// CPU and MAMBAKIT_KERNEL, and that every kind lists its names, slowest
// first, as TestChooseKernels assumes.
func TestKernelsInUse(t *testing.T) {
	set := registeredKernels()
	want := chooseKernels(kernelEnv, set)
	t.Logf("MAMBAKIT_KERNEL=%q: %+v", kernelEnv, want)
	if got := (kernelChoice{ScanImpl(), complexDefault.name, kernelsInUse.gemm, vecInUse.name}); got != want {
		t.Errorf("in use %+v, registry chooses %+v", got, want)
	}
	gemm := "gonum"
	if want.gemm != "" {
		gemm = want.gemm
	}
	if GoGemmKernel() != gemm {
		t.Errorf("GoGemmKernel() = %q, want %q", GoGemmKernel(), gemm)
	}
	names := func(impls []kernelImpl) []string {
		var out []string
		for _, im := range impls {
			out = append(out, im.name)
		}
		return out
	}
	asm := []string{"avx2", "avx512"}
	if len(set.gemm) == 0 {
		asm = nil
	}
	for kind, impls := range map[string][]kernelImpl{"scan": set.scan, "complex": set.complex, "vec": set.vec} {
		if got, want := names(impls), append([]string{"go"}, asm...); !slices.Equal(got, want) {
			t.Errorf("%s implementations %v, want %v", kind, got, want)
		}
	}
	if got := names(set.gemm); !slices.Equal(got, asm) {
		t.Errorf("gemm implementations %v, want %v", got, asm)
	}
}
