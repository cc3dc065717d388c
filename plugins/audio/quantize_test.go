package audio

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestMuLaw(t *testing.T) {
	for _, tt := range []struct {
		x    float64
		want int32
	}{
		{-1, 0}, {1, 255}, {0, 128}, {-2, 0}, {2, 255}, {-1e-9, 127}, {1e-9, 128},
	} {
		if got := muLawEncode(tt.x); got != tt.want {
			t.Errorf("muLawEncode(%v) = %d, want %d", tt.x, got, tt.want)
		}
	}
	prev := -2.0
	for c := range int32(levels) {
		x := muLawDecode(c)
		if x <= prev || x < -1 || x > 1 {
			t.Fatalf("muLawDecode(%d) = %v: not increasing in [-1, 1]", c, x)
		}
		prev = x
		if got := muLawEncode(x); got != c {
			t.Errorf("muLawEncode(muLawDecode(%d)) = %d", c, got)
		}
		// The 16-bit WAV that Decode writes must encode back to the same class.
		if got := muLawEncode(float64(toInt16(x)) / 32768); got != c {
			t.Errorf("class %d does not survive 16-bit PCM: %d", c, got)
		}
	}
}

func TestLinear(t *testing.T) {
	for c := range int32(levels) {
		x := linearDecode(c)
		if got := linearEncode(x); got != c {
			t.Errorf("linearEncode(linearDecode(%d)) = %d", c, got)
		}
		if got := linearEncode(float64(toInt16(x)) / 32768); got != c {
			t.Errorf("class %d does not survive 16-bit PCM: %d", c, got)
		}
	}
	if linearEncode(-1) != 0 || linearEncode(1) != 255 {
		t.Error("linear end points")
	}
}

// snr is the signal-to-noise ratio in dB of x against its quantized and
// decoded version.
func snr(x []float64, enc func(float64) int32, dec func(int32) float64) float64 {
	var s, n float64
	for _, v := range x {
		e := v - dec(enc(v))
		s += v * v
		n += e * e
	}
	return 10 * math.Log10(s/n)
}

// TestQuantizationSNR measures the round-trip SNR of both quantizers on
// sines at several levels, where µ-law's point shows: its SNR stays nearly
// flat as the level drops, linear 8-bit loses 6 dB per halving.
func TestQuantizationSNR(t *testing.T) {
	for _, dbfs := range []float64{-1, -10, -20, -30, -40} {
		x := tone(440, 16000, 16000, math.Pow(10, dbfs/20))
		mu, lin := snr(x, muLawEncode, muLawDecode), snr(x, linearEncode, linearDecode)
		t.Logf("sine at %3.0f dBFS: µ-law SNR %5.1f dB, linear 8-bit SNR %5.1f dB", dbfs, mu, lin)
		if dbfs >= -30 && mu < 30 {
			t.Errorf("µ-law SNR %.1f dB on a sine at %.0f dBFS, want ≥ 30", mu, dbfs)
		}
	}
}

// TestMuLawSNRSpokenDigits measures the µ-law round-trip SNR (16-bit PCM →
// µ-law → 16-bit PCM, exactly what Encode then Decode do) on the spoken
// digit clips: over all samples, and the median clip.
func TestMuLawSNRSpokenDigits(t *testing.T) {
	dir := testdata("") // two clips; all 640 when the shared data is there
	if p := sharedPath("audio/spoken-digits"); p != "" && !testing.Short() {
		dir = p
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.wav"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no clips in %s: %v", dir, err)
	}
	var s, n, sLin, nLin float64
	var per []float64
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		c, err := readWAV(b)
		if err != nil {
			t.Fatal(err)
		}
		var cs, cn float64
		for _, v := range c.mono() {
			e := v - float64(toInt16(muLawDecode(muLawEncode(v))))/32768
			cs += v * v
			cn += e * e
			el := v - float64(toInt16(linearDecode(linearEncode(v))))/32768
			sLin += v * v
			nLin += el * el
		}
		s, n = s+cs, n+cn
		per = append(per, 10*math.Log10(cs/cn))
	}
	total := 10 * math.Log10(s/n)
	t.Logf("%d clips from %s: µ-law round-trip SNR %.1f dB over all samples (median clip %.1f dB); linear 8-bit %.1f dB",
		len(files), dir, total, median(per), 10*math.Log10(sLin/nLin))
	if total < 30 {
		t.Errorf("µ-law SNR %.1f dB, want ≥ 30 dB", total)
	}
}

func median(x []float64) float64 {
	y := append([]float64(nil), x...)
	for i := 1; i < len(y); i++ {
		for j := i; j > 0 && y[j] < y[j-1]; j-- {
			y[j], y[j-1] = y[j-1], y[j]
		}
	}
	return y[len(y)/2]
}
