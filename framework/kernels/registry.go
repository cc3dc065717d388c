package kernels

import (
	"os"
	"slices"
	"strings"
)

// The implementations of every kind of kernel, slowest first, and the one
// of each kind that runs. The assembly ones come from the architecture
// files (scan_amd64.go, scan_complex_amd64.go, matmul_amd64.go,
// vec_amd64.go, matmul_bf16_amd64.go; their _other.go twins list none).
var (
	// scanImpls: the materializing reference, the fused Go scan, then the
	// assembly ones.
	scanImpls = append([]*scanImpl{
		{name: "generic", width: 1, available: true, ref: true},
		scanGoImpl,
	}, scanArchImpls...)
	complexImpls = append([]*complexImpl{complexGoImpl}, complexArchImpls...)
	// gemmImpls: the families of matrix-multiply micro-kernels; with none
	// the Go backend runs gonum.
	gemmImpls = gemmArchImpls
	vecImpls  = append([]*vecImpl{vecGoImpl}, vecArchImpls...)
	// bf16Impls: the bf16 matrix product (MatMulBF16): go rounds the
	// inputs and runs MatMul, then the assembly ones.
	bf16Impls = append([]kernelImpl{{"go", true}}, bf16ArchImpls...)
)

// kernelEnv is $MAMBAKIT_KERNEL, read once: a comma-separated list of
// implementation names ("avx2", "go,avx2"), each trimmed; empty when unset.
// It picks the implementations that run (kernelsInUse) and narrows the
// ones the tests run.
var kernelEnv = parseKernelEnv(os.Getenv("MAMBAKIT_KERNEL"))

func parseKernelEnv(s string) []string {
	var names []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			names = append(names, f)
		}
	}
	return names
}

// kernelsInUse names the implementation of each kind that runs.
var kernelsInUse = chooseKernels(kernelEnv, registeredKernels())

// bf16InUse names the bf16 product's implementation that runs: by the
// matrix multiply's rule (chooseKernels), its fastest available but not
// faster than the fastest name in MAMBAKIT_KERNEL it has.
var bf16InUse = capped(kernelEnv, bf16Impls, true)

// kernelImpl is an implementation as the choice sees it.
type kernelImpl struct {
	name      string
	available bool // this CPU runs it
}

// kernelSet lists every kind's implementations, slowest first.
type kernelSet struct{ scan, complex, gemm, vec []kernelImpl }

// kernelChoice names the implementation of each kind that runs; gemm is
// "" when there is no micro-kernel.
type kernelChoice struct{ scan, complex, gemm, vec string }

// registeredKernels is the registry as the choice sees it. The scan's
// reference is left out: it is never the default.
func registeredKernels() kernelSet {
	var s kernelSet
	for _, im := range scanImpls {
		if !im.ref {
			s.scan = append(s.scan, kernelImpl{im.name, im.available})
		}
	}
	for _, im := range complexImpls {
		s.complex = append(s.complex, kernelImpl{im.name, im.available})
	}
	s.gemm = gemmImpls
	for _, im := range vecImpls {
		s.vec = append(s.vec, kernelImpl{im.name, im.available})
	}
	return s
}

// chooseKernels applies env (parsed MAMBAKIT_KERNEL) to set. Each kind
// keeps the rule it had when it read the variable itself:
//
//	scan, complex  the first name in env that it has available, else its fastest
//	gemm           its fastest available, but not faster than the fastest name in env it has
//	vec            its fastest available, but not faster than the slowest name in env it has
//
// So "go" leaves the matrix multiply on its fastest kernel, and
// "avx512,go" runs the AVX-512 scan with the Go vector kernels.
func chooseKernels(env []string, set kernelSet) kernelChoice {
	return kernelChoice{
		scan:    firstListed(env, set.scan),
		complex: firstListed(env, set.complex),
		gemm:    capped(env, set.gemm, true),
		vec:     capped(env, set.vec, false),
	}
}

// firstListed returns the first name in env that impls has available,
// else the last available one ("" when none is).
func firstListed(env []string, impls []kernelImpl) string {
	for _, name := range env {
		if slices.Contains(impls, kernelImpl{name, true}) {
			return name
		}
	}
	return fastest(impls)
}

// capped returns the fastest available implementation of impls at or
// below a cap: the fastest (or, fastestCap false, the slowest) of impls
// that env names, none when env names none of them. "" when none is.
func capped(env []string, impls []kernelImpl, fastestCap bool) string {
	limit := -1
	for i, im := range impls {
		if slices.Contains(env, im.name) {
			limit = i
			if !fastestCap {
				break
			}
		}
	}
	if limit >= 0 {
		impls = impls[:limit+1]
	}
	return fastest(impls)
}

// fastest returns the name of the last available implementation of impls.
func fastest(impls []kernelImpl) string {
	for _, im := range slices.Backward(impls) {
		if im.available {
			return im.name
		}
	}
	return ""
}
