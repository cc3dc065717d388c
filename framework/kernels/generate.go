package kernels

// The assembly is generated with avo by the command in _asm (its own
// module, which the go tool ignores when building mambakit); go generate
// needs the avo module from the proxy.
//
//go:generate go run -C _asm . -kernel scan -out ../scan_amd64.s
//go:generate go run -C _asm . -kernel scancomplex -out ../scan_complex_amd64.s
//go:generate go run -C _asm . -kernel gemm -out ../matmul_amd64.s -stubs ../matmul_stubs_amd64.go -pkg kernels
//go:generate go run -C _asm . -kernel vec -out ../vec_amd64.s -stubs ../vec_stubs_amd64.go -pkg kernels
//go:generate go run -C _asm . -kernel conv -out ../conv_amd64.s -stubs ../conv_stubs_amd64.go -pkg kernels
//go:generate go run -C _asm . -kernel peak -out ../peak_amd64.s -stubs ../peak_stubs_amd64.go -pkg kernels
//go:generate go run -C _asm . -kernel gemmbf16 -out ../matmul_bf16_amd64.s -stubs ../matmul_bf16_stubs_amd64.go -pkg kernels
