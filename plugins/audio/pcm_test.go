package audio

import (
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestResampleStream: fed in chunks of any size, the streaming resampler
// gives the whole-input result bit for bit, for exact and interpolated
// tables and for inputs too short for a table.
func TestResampleStream(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, rates := range [][2]int{{44100, 16000}, {8000, 16000}, {44101, 16000}, {22050, 16000}} {
		r := newResampler(rates[0], rates[1])
		for _, n := range []int{1, 7, 100, 3000, 20000} {
			x := make([]float64, n)
			for i := range x {
				x[i] = rng.Float64()*2 - 1
			}
			want := r.resample(x)
			var got []float64
			s := r.stream(func(v float64) error { got = append(got, v); return nil })
			for rest := x; len(rest) > 0; {
				k := min(len(rest), 1+rng.IntN(700))
				if err := s.write(rest[:k]); err != nil {
					t.Fatal(err)
				}
				rest = rest[k:]
			}
			if err := s.close(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%d → %d Hz, %d samples: the stream gives %d outputs that differ from the %d of resample", rates[0], rates[1], n, len(got), len(want))
			}
		}
	}
}

// TestStreamBound: a file whose header does not give its length (MP3) is
// stopped as soon as it passes the bound, and one whose header does is
// refused before decoding.
func TestStreamBound(t *testing.T) {
	b, err := os.ReadFile(testdata(mp3Fixtures[1].file))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = tokenize(b, options{rate: defaultRate}, 1000)
	if err == nil || err.Error() != "too long: more than 1000 samples at 16000 Hz, the most tokenized at once; split the file into shorter clips" {
		t.Errorf("MP3: err = %v", err)
	}
	b, err = os.ReadFile(testdata(flacFixtures[1].file))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = tokenize(b, options{rate: defaultRate}, 100)
	if err == nil || err.Error() != "too long: 2205 samples at 44100 Hz are 800 at 16000 Hz, more than the 100 tokenized at once; split the file into shorter clips" {
		t.Errorf("FLAC: err = %v", err)
	}
}

func TestOpenAudioBad(t *testing.T) {
	flacFile, err := os.ReadFile(testdata(flacFixtures[0].file))
	if err != nil {
		t.Fatal(err)
	}
	mp3File, err := os.ReadFile(testdata(mp3Fixtures[0].file))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"Ogg", []byte("OggS\x00\x02"), "Ogg audio is not supported"},
		{"junk", []byte("hello, world"), `not a WAV, FLAC or MP3 file: it starts with "hello, w"`},
		{"ID3 tag past the end", []byte("ID3\x04\x00\x00\x00\x00\x01\x00TIT2"), "truncated or corrupt ID3v2 tag"},
		{"FLAC magic only", []byte("fLaC"), "not a 34-byte STREAMINFO"},
		{"FLAC header cut", flacFile[:30], "FLAC header: the file ends inside it"},
		{"FLAC cut in a frame", flacFile[:len(flacFile)-100], "FLAC frame 2: the file ends inside it"},
		{"MP3 frame header only", mp3File[:4], "MP3: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := tokenize(tt.data, options{rate: defaultRate}, maxSamples)
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err = %v, want one line containing %q", err, tt.want)
			}
		})
	}
}
