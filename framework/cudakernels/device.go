package cudakernels

import (
	"embed"
	"io/fs"

	"github.com/mambakit/mambakit/framework/cuda"
)

// kernelFS holds the CUDA C of the operations; common.cuh and
// scan_common.cuh are included by the .cu files that need them.
//
//go:embed kernels/*.cu kernels/*.cuh
var kernelFS embed.FS

// Sources are the package's CUDA files as the runtime compiles them: each
// kernels/*.cu a module, compiled at first use for the device and cached
// (see cuda.Device.Module).
var Sources = cuda.NewSources("cudakernels", mustSub(kernelFS, "kernels"))

func mustSub(f fs.FS, dir string) fs.FS {
	s, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return s
}

// Device is a GPU of the runtime with the Mamba operations as methods:
// everything of cuda.Device (memory, streams, cuBLAS, graphs) and the
// kernels of this package.
type Device struct {
	*cuda.Device
}

// New returns d with the operations.
func New(d *cuda.Device) *Device { return &Device{d} }

// module compiles (or finds) file of Sources with the given defines.
func (d *Device) module(file string, defines ...string) (*cuda.Module, error) {
	return d.Module(Sources, file, defines...)
}

// kernel returns the named kernel of file of Sources.
func (d *Device) kernel(file, name string, defines ...string) (*cuda.Function, error) {
	return d.Kernel(Sources, file, name, defines...)
}
