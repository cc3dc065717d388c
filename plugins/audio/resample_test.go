package audio

import (
	"fmt"
	"math"
	"testing"
)

// tone returns n samples of a sine of frequency f (Hz) at rate, amplitude a.
func tone(f float64, rate, n int, a float64) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = a * math.Sin(2*math.Pi*f*float64(i)/float64(rate)+0.3)
	}
	return x
}

// rms is the root mean square of x without edge samples at either end,
// where the filter sees the signal's abrupt start and end.
func rms(x []float64, edge int) float64 {
	x = x[edge : len(x)-edge]
	var s float64
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s / float64(len(x)))
}

// TestResampleAliasRejection resamples tones that lie above the output's
// Nyquist frequency: whatever comes out is aliasing, and must be at least
// 60 dB below the input (the filter is designed for 90 dB).
func TestResampleAliasRejection(t *testing.T) {
	worst := math.Inf(1)
	for _, tt := range []struct {
		in, out int
		tones   []float64
	}{
		{48000, 16000, []float64{8000, 8100, 9000, 12000, 16000, 23000}},
		{44100, 16000, []float64{8050, 8500, 11025, 15000, 22000}},
		{22050, 16000, []float64{8020, 9000, 11000}},
		{32000, 16000, []float64{8010, 10000, 15999}},
		{16000, 8000, []float64{4010, 5000, 7900}},
	} {
		r := resamplerFor(tt.in, tt.out)
		for _, f := range tt.tones {
			x := tone(f, tt.in, tt.in/2, 0.9)
			y := r.resample(x)
			edge := r.half*tt.out/tt.in + 2
			rej := 20 * math.Log10(rms(x, 0)/rms(y, edge))
			worst = min(worst, rej)
			t.Logf("%5d → %5d Hz: %5.0f Hz tone rejected by %5.1f dB", tt.in, tt.out, f, rej)
			if rej < 60 {
				t.Errorf("%d → %d Hz: a %.0f Hz tone is rejected by only %.1f dB, want ≥ 60 dB", tt.in, tt.out, f, rej)
			}
		}
	}
	t.Logf("worst alias rejection: %.1f dB", worst)
}

// TestResamplePassband checks that tones below 0.9 × the new Nyquist
// frequency keep their level (within 0.01 dB) and their shape.
func TestResamplePassband(t *testing.T) {
	var worstGain, worstErr = 0.0, math.Inf(-1)
	for _, tt := range []struct {
		in, out int
		tones   []float64
	}{
		{48000, 16000, []float64{100, 1000, 4000, 7000}},
		{44100, 16000, []float64{440, 3000, 7100}},
		{8000, 16000, []float64{300, 1000, 3500}},
		{11025, 16000, []float64{500, 4900}},
	} {
		r := resamplerFor(tt.in, tt.out)
		for _, f := range tt.tones {
			x := tone(f, tt.in, tt.in/2, 0.5)
			y := r.resample(x)
			want := tone(f, tt.out, len(y), 0.5)
			edge := r.half*tt.out/tt.in + 2
			gain := 20 * math.Log10(rms(y, edge)/rms(want, edge))
			diff := make([]float64, len(y))
			for i := range y {
				diff[i] = y[i] - want[i]
			}
			errDB := 20 * math.Log10(rms(diff, edge)/rms(want, edge))
			worstGain, worstErr = max(worstGain, math.Abs(gain)), max(worstErr, errDB)
			if math.Abs(gain) > 0.01 || errDB > -60 {
				t.Errorf("%d → %d Hz, %.0f Hz tone: gain %.4f dB, error %.1f dB", tt.in, tt.out, f, gain, errDB)
			}
		}
	}
	t.Logf("passband: largest gain error %.5f dB, largest waveform error %.1f dB", worstGain, worstErr)
}

func TestResampleShape(t *testing.T) {
	for _, tt := range []struct{ in, out, n, want int }{
		{48000, 16000, 48000, 16000},
		{44100, 16000, 44100, 16000},
		{44100, 16000, 1, 1},
		{8000, 16000, 3, 6},
		{22050, 16000, 0, 0},
	} {
		r := resamplerFor(tt.in, tt.out)
		if got := len(r.resample(make([]float64, tt.n))); got != tt.want {
			t.Errorf("%d → %d Hz: %d samples give %d, want %d", tt.in, tt.out, tt.n, got, tt.want)
		}
	}
	// DC passes exactly in the middle, and no phase has a gain other than 1.
	r := resamplerFor(44100, 16000)
	dc := make([]float64, 4410)
	for i := range dc {
		dc[i] = 0.25
	}
	y := r.resample(dc)
	for i := r.half; i < len(y)-r.half; i++ {
		if math.Abs(y[i]-0.25) > 1e-12 {
			t.Fatalf("DC at output %d is %v, want 0.25", i, y[i])
		}
	}
}

// TestResampleInterpolated checks the interpolated table that odd ratios
// use against the exact one, and the alias rejection of an odd ratio.
func TestResampleInterpolated(t *testing.T) {
	exact := newResampler(44100, 16000)
	interp := &resampler{up: exact.up, down: exact.down, half: exact.half, cutoff: exact.cutoff, beta: exact.beta, phases: 1000}
	x := tone(3000, 44100, 4410, 0.5)
	ya, yb := exact.resample(x), interp.resample(x)
	if !near(ya, yb, 1e-6) {
		t.Error("interpolated coefficients differ from the exact ones by more than 1e-6")
	}
	odd := newResampler(44101, 16000)
	if odd.exact || odd.phases > maxPhases || odd.rows()*2*odd.half > maxTable+2*odd.half {
		t.Fatalf("44101 → 16000: exact=%v, %d phases", odd.exact, odd.phases)
	}
	for _, f := range []float64{8050, 12000} {
		x := tone(f, 44101, 22050, 0.9)
		rej := 20 * math.Log10(rms(x, 0)/rms(odd.resample(x), odd.half/2+2))
		t.Logf("44101 → 16000 Hz (interpolated table): %.0f Hz tone rejected by %.1f dB", f, rej)
		if rej < 60 {
			t.Errorf("44101 → 16000 Hz: %.0f Hz tone rejected by %.1f dB, want ≥ 60", f, rej)
		}
	}
}

// TestResampleDirect checks that a short input, filtered with coefficients
// computed per output sample, gives what the table gives, and that it does
// not build the table.
func TestResampleDirect(t *testing.T) {
	for _, rates := range [][2]int{{44100, 16000}, {44101, 16000}, {767999, 16000}} {
		r := newResampler(rates[0], rates[1])
		x := tone(1000, rates[0], 50, 0.5)
		short := r.resample(x)
		if r.table != nil {
			t.Errorf("%v: a %d-sample input built the %d-row table", rates, len(x), r.rows())
		}
		long := r.resample(append(x, make([]float64, 2*r.rows()*r.down/r.up+4*r.half)...))
		if r.table == nil {
			t.Fatalf("%v: a long input did not build the table", rates)
		}
		if !near(short, long[:len(short)], 1e-6) {
			t.Errorf("%v: per-sample coefficients differ from the table", rates)
		}
	}
}

func BenchmarkResample(b *testing.B) {
	for _, in := range []int{44100, 48000, 22050} {
		b.Run(fmt.Sprintf("%dto16000", in), func(b *testing.B) {
			r := resamplerFor(in, 16000)
			x := tone(440, in, in, 0.5)
			b.SetBytes(int64(8 * len(x)))
			for b.Loop() {
				r.resample(x)
			}
			b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Msamples/s")
		})
	}
	// An odd ratio, on the interpolated table.
	b.Run("44101to16000", func(b *testing.B) {
		r := resamplerFor(44101, 16000)
		x := tone(440, 44101, 44101, 0.5)
		for b.Loop() {
			r.resample(x)
		}
		b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Msamples/s")
	})
}
