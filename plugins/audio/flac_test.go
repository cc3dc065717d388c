package audio

import (
	"bytes"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mewkiz/flac"
	"github.com/mewkiz/flac/frame"

	"github.com/mambakit/mambakit/sdk"
)

// codecFixture is a compressed file in testdata and the WAV it was made
// from (rebuilt here from fixtureSignal, never stored).
type codecFixture struct {
	file                   string
	rate, frames, channels int
	bits                   int
}

var flacFixtures = []codecFixture{
	{"tone-22k-16bit-mono.flac", 22050, 5512, 1, 16},
	{"tone-44k-24bit-stereo.flac", 44100, 2205, 2, 24},
}

// wav returns the source WAV of the fixture.
func (f codecFixture) wav() []byte {
	return buildWAV(wavSpec{format: formatPCM, channels: f.channels, rate: f.rate, bits: f.bits},
		fixtureSignal(f.rate, f.frames, f.channels))
}

// encodeFile runs Encode on data, failing the test on error.
func encodeFile(t *testing.T, data []byte, name string) sdk.Tokens {
	t.Helper()
	toks, err := New().Encode(ctx, sdk.EncodeRequest{Data: data, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

// TestFLACMatchesWAV: FLAC is lossless, so a FLAC file and the WAV it was
// made from give the same samples and, resampled to 16 kHz and quantized,
// the same tokens, exactly.
func TestFLACMatchesWAV(t *testing.T) {
	for _, f := range flacFixtures {
		t.Run(f.file, func(t *testing.T) {
			b, err := os.ReadFile(testdata(f.file))
			if err != nil {
				t.Fatal(err)
			}
			c, err := readAudio(b)
			if err != nil {
				t.Fatal(err)
			}
			w, err := readWAV(f.wav())
			if err != nil {
				t.Fatal(err)
			}
			if c.rate != f.rate || c.channels != f.channels || !slices.Equal(c.samples, w.samples) {
				t.Fatalf("FLAC: %d Hz, %d channels, %d frames; WAV: %d Hz, %d channels, %d frames; samples equal: %v",
					c.rate, c.channels, c.frames(), w.rate, w.channels, w.frames(), slices.Equal(c.samples, w.samples))
			}
			got, want := encodeFile(t, b, f.file), encodeFile(t, f.wav(), "source.wav")
			if !slices.Equal(got, want) {
				t.Errorf("FLAC gives %d tokens, the WAV %d; they differ", len(got), len(want))
			}
		})
	}
}

// crc8 is FLAC's frame header checksum (polynomial x^8 + x^2 + x + 1).
func crc8(b []byte) byte {
	var c byte
	for _, v := range b {
		c ^= v
		for range 8 {
			if c&0x80 != 0 {
				c = c<<1 ^ 0x07
			} else {
				c <<= 1
			}
		}
	}
	return c
}

// crc16 is FLAC's frame checksum (polynomial x^16 + x^15 + x^2 + 1).
func crc16(b []byte) uint16 {
	var c uint16
	for _, v := range b {
		c ^= uint16(v) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x8005
			} else {
				c <<= 1
			}
		}
	}
	return c
}

// unknownDepthFLAC rewrites the first frame header of a FLAC stream so
// that it leaves the sample size to STREAMINFO (bit pattern 000), as
// libFLAC writes for depths other than 8, 12, 16, 20 and 24, and fixes the
// header's CRC-8. It returns the stream cut after that frame.
func unknownDepthFLAC(t *testing.T, b []byte) []byte {
	t.Helper()
	s, err := flac.New(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.ParseNext()
	if err != nil {
		t.Fatal(err)
	}
	// The first frame header is 6 bytes: sync (2), block size and rate
	// codes (1), channels, depth and a reserved bit (1), frame number (1),
	// CRC-8 (1); codes 1100 (4096) and 0110 (22050) need no extra bytes.
	// The last frame's block size takes 1 or 2 more.
	header := func(from int, num byte) int {
		for i := from; i+9 <= len(b); i++ {
			if b[i] != 0xff || b[i+1] != 0xf8 || b[i+4] != num {
				continue
			}
			for n := 5; n <= 7; n++ {
				if crc8(b[i:i+n]) == b[i+n] {
					return i
				}
			}
		}
		t.Fatalf("no header of frame %d after byte %d", num, from)
		return 0
	}
	off := header(0, 0)
	end := header(off+6, 1)
	if f.BlockSize != 4096 || f.SampleRate != 22050 {
		t.Fatalf("fixture changed: block %d, %d Hz", f.BlockSize, f.SampleRate)
	}
	out := bytes.Clone(b[:end])
	out[off+3] &^= 0x0e
	out[off+5] = crc8(out[off : off+5])
	c := crc16(out[off : end-2])
	out[end-2], out[end-1] = byte(c>>8), byte(c)
	return out
}

// TestFLACUnknownDepthDefect: a frame whose header leaves the depth to
// STREAMINFO decodes to silence in mewkiz/flac; openFLAC fills it in.
func TestFLACUnknownDepthDefect(t *testing.T) {
	b, err := os.ReadFile(testdata(flacFixtures[0].file))
	if err != nil {
		t.Fatal(err)
	}
	patched := unknownDepthFLAC(t, b)
	s, err := flac.New(bytes.NewReader(patched))
	if err != nil {
		t.Fatal(err)
	}
	want, err := readWAV(flacFixtures[0].wav())
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.ParseNext()
	src := make([]int32, 4096) // the source's first frame, as 16-bit integers
	for i := range src {
		src[i] = int32(want.samples[i] * 32768)
	}
	if err == nil && slices.Equal(f.Subframes[0].Samples, src) {
		t.Errorf("mewkiz/flac now decodes a frame of unknown depth (was garbage or an error): re-check the workaround in openFLAC")
	}
	c, err := readAudio(patched)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.samples) != 4096 || !slices.Equal(c.samples, want.samples[:4096]) {
		t.Errorf("decoded %d samples, want the source's first 4096", len(c.samples))
	}
}

// TestFLACFrameChecks: frames that disagree with STREAMINFO, or declare a
// block of 65536 (which mewkiz/flac wraps to 0), are errors.
func TestFLACFrameChecks(t *testing.T) {
	si := uint32(22050)
	tests := []struct {
		name string
		h    frame.Header
		want string
	}{
		{"block 65536", frame.Header{BlockSize: 0, SampleRate: si, BitsPerSample: 16}, "block size 65536"},
		{"stereo frame", frame.Header{BlockSize: 16, Channels: frame.ChannelsLR, SampleRate: si, BitsPerSample: 16}, "2 channels, the stream has 1"},
		{"other rate", frame.Header{BlockSize: 16, SampleRate: 8000, BitsPerSample: 16}, "8000 Hz, the stream has 22050 Hz"},
		{"other depth", frame.Header{BlockSize: 16, SampleRate: si, BitsPerSample: 24}, "24 bits per sample, the stream has 16"},
	}
	for _, tt := range tests {
		err := flacFrame(&frame.Frame{Header: tt.h}, si, 1, 16)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}
