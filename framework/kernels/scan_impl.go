package kernels

// scanImpl is one implementation of the scan. The SIMD ones work on groups
// of width channels; forwardWith and backwardWith split the channels over
// workers at group boundaries and give the channels left over (D mod
// width) to the last worker, whose range function runs them in Go.
type scanImpl struct {
	name      string
	width     int                                                                           // channels per group (1 for scalar Go)
	available bool                                                                          // this CPU can run it
	ref       bool                                                                          // the materializing reference (ForwardRef/BackwardRef)
	bcDirect  bool                                                                          // bwd takes part nil: see backwardWith
	fwd       func(s *Scan, b0, b1, d0, d1 int)                                             // batch rows [b0, b1), channels [d0, d1)
	bwd       func(s *Scan, g *ScanGrads, b0, b1, d0, d1 int, part []float32, acc *scanAcc) // part (B, L, 2N): this worker's dB, dC sums
	exp       func(dst, src *float32, n int)                                                // the kernels' vector exp (n a multiple of width), or nil
	exp2      func(dst, src *float32, n int)                                                // the inner loops' 2^x, or nil
	silu      func(y, x *float32, n int)                                                    // SiLU with exp (n a multiple of width), or nil: activation.go
	siluGrad  func(dx, dy, x *float32, n int)                                               // dy·silu'(x) with exp (n a multiple of width), or nil
	ceRow     func(e, x *float32, n int) (mx float32, sum float64)                          // cross-entropy's softmax numerators (n a positive multiple of width), or nil: crossentropy.go
	ceScale   func(d, e *float32, f float32, n int)                                         // d = e·f (n a multiple of width), or nil
}

// scanAcc holds one worker's float64 sums over b and t: dA (D, N), dD and
// dΔbias (D), and dB, dC (D, N) when B, C are per channel. Backward adds
// the workers' sums in worker order.
type scanAcc struct{ dA, dB, dC, dSkip, dBias []float64 }

// scanGoImpl is the fused Go scan; the SIMD implementations run it for
// the channels past their last full group.
var scanGoImpl = &scanImpl{name: "go", width: 1, available: true, fwd: scanForwardRange, bwd: scanBackwardRange}

// scanDefault is what Scan.Forward and Scan.Backward run (registry.go:
// the fastest available, or as MAMBAKIT_KERNEL picks).
var scanDefault = scanImplNamed(kernelsInUse.scan)

// ScanImpls returns the names of the scan implementations this CPU can run,
// slowest first; "generic" is the materializing reference.
func ScanImpls() []string {
	var names []string
	for _, im := range scanImpls {
		if im.available {
			names = append(names, im.name)
		}
	}
	return names
}

// ScanImpl returns the name of the implementation Forward and Backward use.
func ScanImpl() string { return scanDefault.name }

// ForwardImpl and BackwardImpl run the named implementation (one of
// ScanImpls); they panic on an unknown or unavailable name. For benchmarks
// and tests.
func (s *Scan) ForwardImpl(name string) { s.forwardWith(scanImplNamed(name)) }

// BackwardImpl is Backward with the named implementation.
func (s *Scan) BackwardImpl(name string, g *ScanGrads) { s.backwardWith(scanImplNamed(name), g) }

func scanImplNamed(name string) *scanImpl {
	for _, im := range scanImpls {
		if im.name == name && im.available {
			return im
		}
	}
	panic("kernels: no scan implementation " + name + " on this machine")
}
