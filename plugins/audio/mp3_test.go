package audio

import (
	"bytes"
	"encoding/binary"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"

	mp3 "github.com/hajimehoshi/go-mp3"

	"github.com/mambakit/mambakit/sdk"
)

var mp3Fixtures = []codecFixture{
	{"tone-44k-mono.mp3", 44100, 13230, 1, 16},
	{"tone-44k-stereo.mp3", 44100, 13230, 2, 16},
}

// mp3Lag finds the delay (in tokens) of got against want that maximizes
// their correlation, over 0..maxLag: MP3 encoders and decoders add a delay
// (LAME: 576 + 529 samples at the file's rate) that files without a LAME
// tag do not say.
func mp3Lag(got, want []float64, maxLag int) (lag int, corr float64) {
	corr = -2
	for l := 0; l <= maxLag && l < len(got); l++ {
		if c := correlation(got[l:], want); c > corr {
			lag, corr = l, c
		}
	}
	return lag, corr
}

// correlation is Pearson's r over the common length of a and b.
func correlation(a, b []float64) float64 {
	n := min(len(a), len(b))
	var ma, mb float64
	for i := range n {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(n)
	mb /= float64(n)
	var sab, saa, sbb float64
	for i := range n {
		sab += (a[i] - ma) * (b[i] - mb)
		saa += (a[i] - ma) * (a[i] - ma)
		sbb += (b[i] - mb) * (b[i] - mb)
	}
	return sab / math.Sqrt(saa*sbb)
}

// MP3 tolerances. The fixtures are LAME at 48–64 kbps: coding noise some
// 25–30 dB under the tones, and one µ-law step is a 4.4% change of a
// sample's magnitude (ln 256 / 127.5), so an error of 3–6% is one or a few
// steps. Measured: r 0.998–0.999, mean |diff| 2.4–2.6 steps.
const (
	mp3MinCorr    = 0.99
	mp3MaxMeanAbs = 4.0 // µ-law steps
	lameDelay     = 576 + 529
)

// TestMP3MatchesWAV: an MP3 made from a WAV gives the WAV path's tokens
// after the codec's delay, within the MP3 tolerances.
func TestMP3MatchesWAV(t *testing.T) {
	for _, f := range mp3Fixtures {
		t.Run(f.file, func(t *testing.T) {
			b, err := os.ReadFile(testdata(f.file))
			if err != nil {
				t.Fatal(err)
			}
			gt, wt := encodeFile(t, b, f.file), encodeFile(t, f.wav(), "source.wav")
			got, want := make([]float64, len(gt)-1), make([]float64, len(wt)-1)
			for i := range got {
				got[i] = float64(gt[i])
			}
			for i := range want {
				want[i] = float64(wt[i])
			}
			lag, r := mp3Lag(got, want, 2000)
			var mad float64
			n := min(len(got)-lag, len(want))
			for i := range n {
				mad += math.Abs(got[lag+i] - want[i])
			}
			mad /= float64(n)
			t.Logf("%d tokens (WAV %d), lag %d, r %.4f, mean |diff| %.2f µ-law steps", len(gt), len(wt), lag, r, mad)
			if wantLag := int(math.Round(lameDelay * 16000 / float64(f.rate))); abs(lag-wantLag) > 2 {
				t.Errorf("lag %d tokens, want LAME's delay, %d", lag, wantLag)
			}
			if r < mp3MinCorr || mad > mp3MaxMeanAbs {
				t.Errorf("r %.4f (want ≥ %v), mean |diff| %.2f steps (want ≤ %v)", r, mp3MinCorr, mad, mp3MaxMeanAbs)
			}
		})
	}
}

func abs(x int) int { return max(x, -x) }

// libraryPCM decodes b with go-mp3 alone: 16-bit stereo frames.
func libraryPCM(t *testing.T, b []byte) (left, right []float64) {
	t.Helper()
	d, err := mp3.NewDecoder(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(d)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+4 <= len(raw); i += 4 {
		left = append(left, float64(int16(binary.LittleEndian.Uint16(raw[i:]))))
		right = append(right, float64(int16(binary.LittleEndian.Uint16(raw[i+2:]))))
	}
	return left, right
}

// TestMP3StereoDefect: go-mp3 returns a mono file as two equal channels;
// openMP3 reads two channels, whose mean is the mono signal.
func TestMP3StereoDefect(t *testing.T) {
	b, err := os.ReadFile(testdata(mp3Fixtures[0].file))
	if err != nil {
		t.Fatal(err)
	}
	l, r := libraryPCM(t, b)
	if !slices.Equal(l, r) {
		t.Errorf("go-mp3 no longer copies a mono file to two equal channels: re-check openMP3")
	}
	c, err := readAudio(b)
	if err != nil {
		t.Fatal(err)
	}
	m := c.mono()
	for i := range m {
		if m[i] != l[i]/32768 {
			t.Fatalf("mono sample %d = %v, want %v", i, m[i], l[i]/32768)
		}
	}
}

// TestMP3MPEG2Defect: go-mp3 decodes this MPEG-2 file (22.05 kHz, 32 kbps
// mono, LAME) to noise without an error (libmad decodes it correctly), so
// MPEG-2/2.5 files are refused.
func TestMP3MPEG2Defect(t *testing.T) {
	b, err := os.ReadFile(testdata("tone-22k-mono-mpeg2.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	l, _ := libraryPCM(t, b)
	src := fixtureSignal(22050, 11025, 1)
	if _, r := mp3Lag(l, src, 2000); r > 0.9 {
		t.Errorf("go-mp3 now decodes the MPEG-2 fixture (r %.3f with its source): re-check defect 3 in openMP3", r)
	}
	_, err = New().Encode(ctx, sdk.EncodeRequest{Data: b, Name: "x.mp3"})
	if err == nil || !strings.Contains(err.Error(), "audio: x.mp3: MPEG-2/2.5 MP3 (22050 Hz) is not decoded") {
		t.Errorf("err = %v", err)
	}
}

// TestMP3PanicDefect: go-mp3 panics on this malformed MPEG-2 frame (an
// index out of range among its scale factors; found by FuzzMP3, kept in
// testdata/fuzz/FuzzMP3); openMP3 turns the panic into an error.
func TestMP3PanicDefect(t *testing.T) {
	b := []byte("\xff\xf3\x140000000\xd20000000000000")
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("go-mp3 no longer panics on this frame: re-check defect 5 in openMP3")
			}
		}()
		if d, err := mp3.NewDecoder(bytes.NewReader(b)); err == nil {
			io.ReadAll(d)
		}
	}()
	_, err := New().Encode(ctx, sdk.EncodeRequest{Data: b, Name: "x.mp3"})
	if err == nil || !strings.Contains(err.Error(), "audio: x.mp3: MP3: malformed frame (the decoder failed: runtime error: index out of range") {
		t.Errorf("err = %v", err)
	}
}

// TestMP3ID3Defect: go-mp3 allocates the size an ID3v2 header declares
// before reading it; openMP3 skips the tag itself, and refuses one larger
// than the file.
func TestMP3ID3Defect(t *testing.T) {
	b, err := os.ReadFile(testdata(mp3Fixtures[1].file))
	if err != nil {
		t.Fatal(err)
	}
	huge := append([]byte("ID3\x04\x00\x00\x7f\x7f\x7f\x7f"), b...) // declares 256 MiB
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _ = mp3.NewDecoder(bytes.NewReader(huge))
	runtime.ReadMemStats(&after)
	if after.TotalAlloc-before.TotalAlloc < 200<<20 {
		t.Errorf("go-mp3 no longer allocates an ID3 tag's declared size (%d bytes): re-check openMP3", after.TotalAlloc-before.TotalAlloc)
	}
	runtime.ReadMemStats(&before)
	_, err = New().Encode(ctx, sdk.EncodeRequest{Data: huge, Name: "x.mp3"})
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "corrupt ID3v2 tag") || after.TotalAlloc-before.TotalAlloc > 10<<20 {
		t.Errorf("err = %v after %d bytes allocated", err, after.TotalAlloc-before.TotalAlloc)
	}
	tagged := append([]byte("ID3\x04\x00\x00\x00\x00\x00\x0aTIT2\x00\x00\x00\x02\x00\x00"), b...)
	if got, want := encodeFile(t, tagged, "tagged.mp3"), encodeFile(t, b, "plain.mp3"); !slices.Equal(got, want) {
		t.Errorf("a file with an ID3 tag gives %d tokens, without it %d", len(got), len(want))
	}
}
