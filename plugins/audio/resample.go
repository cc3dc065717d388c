package audio

import (
	"math"
	"sync"
)

// Anti-aliasing filter design. The resampler is a Kaiser-windowed sinc
// evaluated at the exact rational phases of the rate ratio (bandlimited
// interpolation, J. O. Smith, "Digital Audio Resampling"; the same design
// as libsamplerate's sinc converters and torchaudio's resample).
//
// With fmin the lower of the two rates, the passband ends at 0.9·fmin/2 and
// the stopband starts at fmin/2, the output's Nyquist frequency when
// downsampling; the cutoff sits between them. The Kaiser window is designed
// for filterAtten dB, so any tone that would alias is attenuated by at
// least that much (TestResampleAliasRejection measures it).
const (
	passbandEdge = 0.90 // of fmin/2
	filterAtten  = 90.0 // dB
	// maxTable bounds the precomputed coefficient table (phases × taps);
	// an odd ratio beyond it computes coefficients per output sample.
	maxTable = 1 << 22
)

// resampler converts between two fixed rates. It is immutable once built
// and safe for concurrent use.
type resampler struct {
	up, down int       // output/input rate ratio, reduced: out/in = up/down
	half     int       // filter taps on each side of the output instant, in input samples
	cutoff   float64   // cutoff frequency in cycles per input sample
	beta     float64   // Kaiser window shape
	table    []float64 // up × 2·half coefficients, or nil (computed on demand)
}

var resamplers sync.Map // [2]int{in, out} → *resampler

// resamplerFor returns the (cached) resampler from rate in to rate out.
func resamplerFor(in, out int) *resampler {
	key := [2]int{in, out}
	if r, ok := resamplers.Load(key); ok {
		return r.(*resampler)
	}
	r, _ := resamplers.LoadOrStore(key, newResampler(in, out))
	return r.(*resampler)
}

func newResampler(in, out int) *resampler {
	g := gcd(in, out)
	r := &resampler{up: out / g, down: in / g}
	fmin := float64(min(in, out))
	stop := fmin / 2
	pass := passbandEdge * stop
	r.cutoff = (pass + stop) / 2 / float64(in)
	width := (stop - pass) / float64(in) // transition width, cycles per input sample
	// Kaiser's formulas for the window shape and length.
	r.beta = 0.1102 * (filterAtten - 8.7)
	taps := (filterAtten - 7.95) / (2.285 * 2 * math.Pi * width)
	r.half = int(math.Ceil(taps/2)) + 1
	if r.up*2*r.half <= maxTable {
		r.table = make([]float64, r.up*2*r.half)
		for p := range r.up {
			r.coeffs(p, r.table[p*2*r.half:(p+1)*2*r.half])
		}
	}
	return r
}

// coeffs fills dst (2·half values) with the filter taps for phase p: the
// output instant lies p/up input samples after input sample i0, and dst[j]
// weighs input sample i0 − half + 1 + j. The taps are scaled to sum to 1,
// so every phase passes DC unchanged.
func (r *resampler) coeffs(p int, dst []float64) {
	i0Beta := besselI0(r.beta)
	frac := float64(p) / float64(r.up)
	var sum float64
	for j := range dst {
		t := float64(r.half-1-j) + frac // distance from the output instant, in input samples
		u := t / float64(r.half)
		var w float64
		if u > -1 && u < 1 {
			w = besselI0(r.beta*math.Sqrt(1-u*u)) / i0Beta
		}
		x := 2 * r.cutoff * t
		s := 1.0
		if x != 0 {
			s = math.Sin(math.Pi*x) / (math.Pi * x)
		}
		dst[j] = 2 * r.cutoff * s * w
		sum += dst[j]
	}
	for j := range dst {
		dst[j] /= sum
	}
}

// outLen is the number of output samples for n input samples.
func (r *resampler) outLen(n int) int {
	return int((int64(n)*int64(r.up) + int64(r.down) - 1) / int64(r.down))
}

// resample converts x; samples before the start and after the end count as
// silence.
func (r *resampler) resample(x []float64) []float64 {
	out := make([]float64, r.outLen(len(x)))
	var scratch []float64
	if r.table == nil {
		scratch = make([]float64, 2*r.half)
	}
	for n := range out {
		pos := int64(n) * int64(r.down)
		i0 := int(pos / int64(r.up))
		p := int(pos % int64(r.up))
		h := scratch
		if r.table != nil {
			h = r.table[p*2*r.half : (p+1)*2*r.half]
		} else {
			r.coeffs(p, h)
		}
		first := i0 - r.half + 1
		lo, hi := max(0, -first), min(len(h), len(x)-first)
		var acc float64
		for j := lo; j < hi; j++ {
			acc += h[j] * x[first+j]
		}
		out[n] = acc
	}
	return out
}

// besselI0 is the modified Bessel function of the first kind, order 0, by
// its power series (converges for the small arguments a window needs).
func besselI0(x float64) float64 {
	sum, term := 1.0, 1.0
	q := x * x / 4
	for k := 1; k < 200; k++ {
		term *= q / float64(k*k)
		sum += term
		if term < 1e-16*sum {
			break
		}
	}
	return sum
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}
