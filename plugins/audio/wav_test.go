package audio

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-audio/wav"
)

// testdata returns the path of a file in this package's testdata.
func testdata(name string) string { return filepath.Join("testdata", name) }

// sharedPath returns the path of a file or directory in the project's
// shared data directory (beside the repository), or "" when it is absent.
func sharedPath(rel string) string {
	p := filepath.Join("..", "..", "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// wavSpec describes a WAV file for buildWAV.
type wavSpec struct {
	format     int // formatPCM or formatFloat
	channels   int
	rate       int
	bits       int
	extensible bool // write WAVE_FORMAT_EXTENSIBLE with format as sub-format
	noPad      bool // leave out the pad byte after an odd-sized data chunk
	list       []byte
}

// buildWAV writes interleaved samples in [-1, 1] as a WAV file, by hand
// (not with the library under test).
func buildWAV(s wavSpec, samples []float64) []byte {
	le := binary.LittleEndian
	var data []byte
	for _, x := range samples {
		switch {
		case s.format == formatFloat:
			data = le.AppendUint32(data, math.Float32bits(float32(x)))
		case s.bits == 8:
			data = append(data, byte(int(max(-128, min(127, math.Round(x*128))))+128))
		case s.bits == 16:
			data = le.AppendUint16(data, uint16(int16(max(-32768, min(32767, math.Round(x*32768))))))
		case s.bits == 24:
			v := int32(max(-(1 << 23), min(1<<23-1, math.Round(x*(1<<23)))))
			data = append(data, byte(v), byte(v>>8), byte(v>>16))
		case s.bits == 32:
			v := int32(max(-(1 << 31), min(1<<31-1, math.Round(x*(1<<31)))))
			data = le.AppendUint32(data, uint32(v))
		}
	}
	var f []byte
	tag := s.format
	if s.extensible {
		tag = formatExtensible
	}
	f = le.AppendUint16(f, uint16(tag))
	f = le.AppendUint16(f, uint16(s.channels))
	f = le.AppendUint32(f, uint32(s.rate))
	f = le.AppendUint32(f, uint32(s.rate*s.channels*s.bits/8))
	f = le.AppendUint16(f, uint16(s.channels*s.bits/8))
	f = le.AppendUint16(f, uint16(s.bits))
	if s.extensible {
		f = le.AppendUint16(f, 22)                                                // cbSize
		f = le.AppendUint16(f, uint16(s.bits))                                    // valid bits
		f = le.AppendUint32(f, 0)                                                 // channel mask
		f = le.AppendUint16(f, uint16(s.format))                                  // sub-format GUID, first two bytes
		f = append(f, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71) // the rest of KSDATAFORMAT_SUBTYPE_*
	}
	var b []byte
	b = append(b, "RIFF"...)
	b = le.AppendUint32(b, 0) // patched below
	b = append(b, "WAVE"...)
	b = append(b, "fmt "...)
	b = le.AppendUint32(b, uint32(len(f)))
	b = append(b, f...)
	if s.list != nil {
		b = append(b, "LIST"...)
		b = le.AppendUint32(b, uint32(len(s.list)))
		b = append(b, s.list...)
	}
	b = append(b, "data"...)
	b = le.AppendUint32(b, uint32(len(data)))
	b = append(b, data...)
	if len(data)%2 == 1 && !s.noPad {
		b = append(b, 0)
	}
	le.PutUint32(b[4:], uint32(len(b)-8))
	return b
}

// libraryInts is what go-audio/wav itself returns for a file.
func libraryInts(t *testing.T, b []byte) []int {
	t.Helper()
	buf, err := wav.NewDecoder(bytes.NewReader(b)).FullPCMBuffer()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Data
}

func near(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > tol {
			return false
		}
	}
	return true
}

// TestFloatWAVDefect: go-audio/wav returns 32-bit float samples as their
// raw IEEE bits; readWAV turns them back into numbers.
func TestFloatWAVDefect(t *testing.T) {
	in := []float64{0.5, -0.25, 1, 0, -1, 0.123456}
	b := buildWAV(wavSpec{format: formatFloat, channels: 1, rate: 16000, bits: 32}, in)
	if got := libraryInts(t, b); got[0] != int(int32(math.Float32bits(0.5))) {
		t.Errorf("go-audio/wav now returns %d for the float 0.5 (was its raw bits %d): re-check the workaround in readWAV",
			got[0], math.Float32bits(0.5))
	}
	c, err := readWAV(b)
	if err != nil {
		t.Fatal(err)
	}
	if !near(c.samples, in, 1e-7) {
		t.Errorf("readWAV = %v, want %v", c.samples, in)
	}
}

// TestUnsigned8BitDefect: go-audio/wav returns 8-bit samples unsigned
// (silence at 128) while every other depth is signed; readWAV centres them.
func TestUnsigned8BitDefect(t *testing.T) {
	in := []float64{-1, -0.5, 0, 0.5, 127.0 / 128}
	b := buildWAV(wavSpec{format: formatPCM, channels: 1, rate: 8000, bits: 8, noPad: true}, in)
	if got := libraryInts(t, b); got[2] != 128 {
		t.Errorf("go-audio/wav now returns %d for 8-bit silence (was 128, unsigned): re-check the workaround in readWAV", got[2])
	}
	c, err := readWAV(b)
	if err != nil {
		t.Fatal(err)
	}
	if !near(c.samples, in, 0) {
		t.Errorf("readWAV = %v, want %v", c.samples, in)
	}
}

// TestPadByteDefect: a data chunk of odd size is followed by a pad byte
// that is not audio. go-audio/wav decodes it as one more sample (8-bit) or
// a garbage partial one (24-bit); readWAV keeps the declared samples only.
func TestPadByteDefect(t *testing.T) {
	in := []float64{0.25, -0.5, 0.75}
	for _, bits := range []int{8, 24} {
		b := buildWAV(wavSpec{format: formatPCM, channels: 1, rate: 8000, bits: bits}, in)
		if got := libraryInts(t, b); len(got) != len(in)+1 {
			t.Errorf("%d-bit: go-audio/wav now returns %d samples for %d plus a pad byte (was %d): re-check the workaround in readWAV",
				bits, len(got), len(in), len(in)+1)
		}
		c, err := readWAV(b)
		if err != nil {
			t.Fatal(err)
		}
		if !near(c.samples, in, 1.0/128) {
			t.Errorf("%d-bit: readWAV = %v, want %v", bits, c.samples, in)
		}
	}
	// Without the pad byte (a common writer bug) the samples are the same.
	c, err := readWAV(buildWAV(wavSpec{format: formatPCM, channels: 1, rate: 8000, bits: 8, noPad: true}, in))
	if err != nil || len(c.samples) != 3 {
		t.Errorf("no pad byte: %v, %v", c.samples, err)
	}
}

// TestReadWAVFormats decodes every supported format against the signal it
// was built from, within the format's quantization step.
func TestReadWAVFormats(t *testing.T) {
	sig := make([]float64, 2*101) // stereo, 101 frames: odd sizes
	for i := range sig {
		sig[i] = 0.9 * math.Sin(float64(i)*0.37+float64(i%2))
	}
	tests := []struct {
		name string
		spec wavSpec
		tol  float64
	}{
		{"pcm8", wavSpec{format: formatPCM, bits: 8}, 1.0 / 256},
		{"pcm16", wavSpec{format: formatPCM, bits: 16}, 1.0 / 65536},
		{"pcm24", wavSpec{format: formatPCM, bits: 24}, 1.0 / (1 << 24)},
		{"pcm32", wavSpec{format: formatPCM, bits: 32}, 1.0 / (1 << 31)},
		{"float32", wavSpec{format: formatFloat, bits: 32}, 1e-7},
		{"extensible pcm24", wavSpec{format: formatPCM, bits: 24, extensible: true}, 1.0 / (1 << 24)},
		{"extensible float32", wavSpec{format: formatFloat, bits: 32, extensible: true}, 1e-7},
		{"with a LIST chunk", wavSpec{format: formatPCM, bits: 16, list: []byte("INFOISFT\x05\x00\x00\x00test\x00\x00")}, 1.0 / 65536},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.channels, tt.spec.rate = 2, 22050
			c, err := readWAV(buildWAV(tt.spec, sig))
			if err != nil {
				t.Fatal(err)
			}
			if c.channels != 2 || c.rate != 22050 || c.frames() != 101 {
				t.Fatalf("got %d channels, %d Hz, %d frames", c.channels, c.rate, c.frames())
			}
			if !near(c.samples, sig, tt.tol) {
				t.Errorf("samples differ from the signal by more than %g", tt.tol)
			}
			m := c.mono()
			for i := range m {
				if want := (sig[2*i] + sig[2*i+1]) / 2; math.Abs(m[i]-want) > tt.tol {
					t.Fatalf("mono[%d] = %v, want %v", i, m[i], want)
				}
			}
		})
	}
}

func TestReadWAVTestdata(t *testing.T) {
	for _, name := range []string{"three_en-029_f2_s140_p35.wav", "seven_en-029_f4_s140_p35.wav"} {
		b, err := os.ReadFile(testdata(name))
		if err != nil {
			t.Fatal(err)
		}
		c, err := readWAV(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.rate != 16000 || c.channels != 1 || c.frames() != 16000 {
			t.Errorf("%s: %d Hz, %d channels, %d frames", name, c.rate, c.channels, c.frames())
		}
	}
}

// TestReadWAVBad checks that every malformed file gets one clear error.
func TestReadWAVBad(t *testing.T) {
	good := buildWAV(wavSpec{format: formatPCM, channels: 1, rate: 16000, bits: 16}, make([]float64, 100))
	patch := func(off int, v ...byte) []byte {
		b := bytes.Clone(good)
		copy(b[off:], v)
		return b
	}
	nan := buildWAV(wavSpec{format: formatFloat, channels: 1, rate: 16000, bits: 32}, []float64{0, math.NaN()})
	hugeList := buildWAV(wavSpec{format: formatPCM, channels: 1, rate: 16000, bits: 16,
		list: []byte("INFOISFT\xf0\xff\xff\xff")}, make([]float64, 10))
	// A data chunk one sample over the limit (8-bit, so the file is 128 MiB).
	tooLong := buildWAV(wavSpec{format: formatPCM, channels: 1, rate: 16000, bits: 8}, nil)
	binary.LittleEndian.PutUint32(tooLong[40:], maxSamples+1)
	tooLong = append(tooLong, make([]byte, maxSamples+1)...)
	dataFirst := append([]byte("RIFF\x00\x00\x00\x00WAVEdata\x02\x00\x00\x00\x00\x00"), good[12:36]...)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "empty file"},
		{"text", []byte("hello, world\n"), `starts with "hello, w"`},
		{"AVI", []byte("RIFF\x00\x00\x00\x00AVI LIST"), `RIFF file of type "AVI "`},
		{"header cut", good[:6], "truncated"},
		{"header cut in fmt", good[:30], "truncated: the fmt chunk declares 16 bytes"},
		{"no data chunk", good[:36], "no data chunk"},
		{"data cut", good[:100], "truncated: the data chunk declares 200 bytes of audio, the file holds 56"},
		{"data before fmt", dataFirst, "data chunk comes before the fmt chunk"},
		{"A-law", patch(20, formatALaw, 0), "A-law-encoded WAV is not supported"},
		{"compressed", patch(20, 0x55, 0), "format tag 0x0055"},
		{"12-bit", patch(34, 12, 0), "12-bit PCM is not supported"},
		{"zero channels", patch(22, 0, 0), "0 channels"},
		{"zero rate", patch(24, 0, 0, 0, 0), "0 samples per second"},
		{"bad block align", patch(32, 7, 0), "block align 7"},
		{"no whole frame", buildWAV(wavSpec{format: formatPCM, channels: 2, rate: 16000, bits: 16}, nil), "no audio"},
		{"NaN sample", nan, "sample 1 of channel 0 is NaN"},
		{"too long", tooLong, "too long: 134217729 samples"},
		{"LIST chunk past the end", append(bytes.Clone(good[:36]), "LIST\xff\xff\xff\x7f"...), `chunk "LIST" declares`},
		{"LIST entry with a huge size", hugeList[:len(hugeList)-4], "truncated"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readWAV(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error has more than one line: %q", err)
			}
		})
	}
	// A huge size inside a well-formed LIST chunk never reaches go-audio's
	// metadata parser (it would allocate that much).
	if _, err := readWAV(hugeList); err != nil {
		t.Errorf("WAV with a corrupt LIST entry: %v, want the audio", err)
	}
}

func TestEncodeWAV16(t *testing.T) {
	in := []float64{0, 0.5, -0.5, 1, -1, 1e-6}
	b := encodeWAV16(in, 12345)
	c, err := readWAV(b)
	if err != nil {
		t.Fatal(err)
	}
	if c.rate != 12345 || c.channels != 1 || !near(c.samples, in, 1.0/32768) {
		t.Errorf("read back %d Hz %d ch %v", c.rate, c.channels, c.samples)
	}
	if len(b) != 44+2*len(in) {
		t.Errorf("%d bytes, want %d", len(b), 44+2*len(in))
	}
}
