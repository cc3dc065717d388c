//go:build (linux || darwin || freebsd) && (amd64 || arm64)

package kernels

import (
	"testing"

	"github.com/ebitengine/purego"
)

// TestOpenBLASCBLASFallback runs the cblas_sgemm path (used when a library
// has no Fortran sgemm_) against the reference on a few shapes.
func TestOpenBLASCBLASFallback(t *testing.T) {
	if err := loadOpenBLAS(); err != nil {
		t.Skip("OpenBLAS not loadable: ", err)
	}
	o := &openblas
	h, err := purego.Dlopen(o.lib, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := purego.Dlsym(h, "cblas_sgemm"); err != nil {
		t.Skip("no cblas_sgemm in ", o.lib)
	}
	saved, savedFn := o.sgemm, o.sgemmFn
	defer func() { o.sgemm, o.sgemmFn = saved, savedFn }()
	purego.RegisterLibFunc(&o.sgemm, h, "cblas_sgemm")
	o.sgemmFn = 0
	impl := []matMulImpl{{name: "cblas_sgemm", fn: matMulOpenBLAS}}
	for _, s := range [][3]int{{17, 33, 15}, {64, 100, 300}, {1, 31, 3}} {
		for _, tr := range mmTrans {
			for _, beta := range []float32{0, 1} {
				checkMatMul(t, impl, mmCase{tr[0], tr[1], s[0], s[1], s[2], beta})
			}
		}
	}
}
