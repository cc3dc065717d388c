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
	// maxTable bounds the precomputed coefficient table (phases × taps).
	// An odd ratio whose exact table would be larger (44100 → 16001 has
	// 16001 phases) uses a table of at most maxPhases evenly spaced phases
	// instead and interpolates linearly between neighbours.
	maxTable  = 1 << 22
	maxPhases = 4096
)

// resampler converts between two fixed rates. It is immutable once built
// and safe for concurrent use.
type resampler struct {
	up, down int     // output/input rate ratio, reduced: out/in = up/down
	half     int     // filter taps on each side of the output instant, in input samples
	cutoff   float64 // cutoff frequency in cycles per input sample
	beta     float64 // Kaiser window shape
	// The coefficient table, built on first use by a long enough input:
	// phases × 2·half coefficients. Exact (phases == up) when that fits in
	// maxTable; otherwise phases+1 rows on an even grid of phases, the
	// last row being phase 1 (the first shifted by one input sample).
	phases int
	exact  bool
	once   sync.Once
	table  []float64
}

// resamplers caches built resamplers by (in, out) rate. It keeps at most
// maxCached of them (up to 32 MB each), so files at many odd rates cannot
// grow it without bound; beyond that, resamplers are built per call.
var resamplers struct {
	sync.Mutex
	m map[[2]int]*resampler
}

const maxCached = 16

// resamplerFor returns the (cached) resampler from rate in to rate out.
func resamplerFor(in, out int) *resampler {
	key := [2]int{in, out}
	resamplers.Lock()
	r, ok := resamplers.m[key]
	resamplers.Unlock()
	if ok {
		return r
	}
	r = newResampler(in, out)
	resamplers.Lock()
	defer resamplers.Unlock()
	if resamplers.m == nil {
		resamplers.m = make(map[[2]int]*resampler)
	}
	if len(resamplers.m) < maxCached {
		resamplers.m[key] = r
	}
	return r
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
	r.exact = r.up*2*r.half <= maxTable
	if r.exact {
		r.phases = r.up
	} else {
		r.phases = max(64, min(maxPhases, maxTable/(2*r.half)))
	}
	return r
}

// rows is the number of rows in the table.
func (r *resampler) rows() int {
	if r.exact {
		return r.phases
	}
	return r.phases + 1
}

// buildTable fills the table once.
func (r *resampler) buildTable() {
	r.once.Do(func() {
		w := 2 * r.half
		t := make([]float64, r.rows()*w)
		for p := range r.rows() {
			r.coeffs(float64(p)/float64(r.phases), t[p*w:(p+1)*w])
		}
		r.table = t
	})
}

// coeffs fills dst (2·half values) with the filter taps for an output
// instant frac (in [0, 1]) input samples after input sample i0: dst[j]
// weighs input sample i0 − half + 1 + j. The taps are scaled to sum to 1,
// so every phase passes DC unchanged (and so does a linear blend of two
// phases).
func (r *resampler) coeffs(frac float64, dst []float64) {
	i0Beta := besselI0(r.beta)
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
func (r *resampler) outLen(n int) int { return int(r.outLen64(int64(n))) }

func (r *resampler) outLen64(n int64) int64 {
	return (n*int64(r.up) + int64(r.down) - 1) / int64(r.down)
}

// resample converts x; samples before the start and after the end count as
// silence. It is the whole-slice form of stream.
func (r *resampler) resample(x []float64) []float64 {
	out := make([]float64, 0, r.outLen(len(x)))
	s := r.stream(func(v float64) error { out = append(out, v); return nil })
	_ = s.write(x) // the sink never fails
	_ = s.close()
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
