// Command _asm generates the assembly of package kernels with avo: one
// kernel family a run, chosen by -kernel, the avo flags after it. From
// framework/kernels, go generate runs every one (generate.go):
//
//	go run -C _asm . -kernel scan -out ../scan_amd64.s
//	go run -C _asm . -kernel scancomplex -out ../scan_complex_amd64.s
//	go run -C _asm . -kernel gemm -out ../matmul_amd64.s -stubs ../matmul_stubs_amd64.go -pkg kernels
//	go run -C _asm . -kernel vec -out ../vec_amd64.s -stubs ../vec_stubs_amd64.go -pkg kernels
//	go run -C _asm . -kernel conv -out ../conv_amd64.s -stubs ../conv_stubs_amd64.go -pkg kernels
//	go run -C _asm . -kernel peak -out ../peak_amd64.s -stubs ../peak_stubs_amd64.go -pkg kernels
//	go run -C _asm . -kernel gemmbf16 -out ../matmul_bf16_amd64.s -stubs ../matmul_bf16_stubs_amd64.go -pkg kernels
//
// avo writes the header of each file as "go run main.go …" (it names the
// file holding main). This directory has its own go.mod so that the go
// tool ignores it when building mambakit.
//
// The real and the complex scan (scan_asm.go, scancomplex_asm.go) share
// the instruction-set layer of isa.go and the vector exp, 2^x, softplus
// and sigmoid of mathfn.go (the scan's file also holds the SiLU kernels,
// which use that exp; conv_asm.go's SiLU uses it too); gemm_asm.go, vec_asm.go (with the RMSNorm row
// kernels of norm_asm.go) and peak_asm.go stand alone.
package main

import (
	"flag"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	. "github.com/mmcloughlin/avo/build"
)

var generators = map[string]func(){
	"scan":        genScan,
	"scancomplex": genScanComplex,
	"gemm":        genGemm,
	"vec":         genVec,
	"conv":        genConv,
	"peak":        genPeak,
	"gemmbf16":    genGemmBF16,
}

func main() {
	kernel := flag.String("kernel", "", "the kernels to generate: "+strings.Join(slices.Sorted(maps.Keys(generators)), ", "))
	flag.Parse()
	gen, ok := generators[*kernel]
	if !ok {
		fmt.Fprintf(os.Stderr, "_asm: -kernel %q: want one of %s\n", *kernel, strings.Join(slices.Sorted(maps.Keys(generators)), ", "))
		os.Exit(2)
	}
	ConstraintExpr("!purego")
	gen()
	Generate()
}
