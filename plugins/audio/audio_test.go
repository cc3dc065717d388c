package audio

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mambakit/mambakit/sdk"
	"github.com/mambakit/mambakit/sdk/sdktest"
)

var ctx = context.Background()

var clips = []string{testdata("three_en-029_f2_s140_p35.wav"), testdata("seven_en-029_f4_s140_p35.wav")}

func TestConformance(t *testing.T) {
	good, err := os.ReadFile(clips[0])
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string][]byte{
		"empty.wav":         nil,
		"truncated.wav":     good[:1000],
		"header-only.wav":   good[:30],
		"mp3-renamed.wav":   []byte("ID3\x04\x00\x00\x00\x00\x00\x0fTIT2\x00\x00\x00\x05\x00\x00\x03hi\xff\xfb\x90\x64"),
		"text-renamed.wav":  []byte("this is not audio\n"),
		"float64.wav":       buildWAV(wavSpec{format: formatFloat, channels: 1, rate: 16000, bits: 64}, nil),
		"no-audio-data.wav": buildWAV(wavSpec{format: formatPCM, channels: 1, rate: 16000, bits: 16}, nil),
	}
	for name, opts := range map[string]map[string]string{
		"mulaw":       nil,
		"linear 8kHz": {"quantization": "linear", "sample_rate": "8000"},
	} {
		t.Run(name, func(t *testing.T) {
			sdktest.Run(t, New(), sdktest.Samples{Files: clips, Bad: bad, Options: opts, Lossy: true})
		})
	}
}

func TestDescribe(t *testing.T) {
	info, err := New().Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "audio" || info.Unit != "sample" || info.VocabSize != 257 || info.Special["eos"] != 256 || info.Kind != sdk.KindContinuous {
		t.Errorf("Describe = %+v", info)
	}
}

// TestEncodeResamples encodes a 44.1 kHz stereo 24-bit file: the tokens
// stand for the mono mixdown at 16 kHz.
func TestEncodeResamples(t *testing.T) {
	const in = 44100
	left, right := tone(440, in, in/2, 0.5), tone(440, in, in/2, 0.3)
	inter := make([]float64, 0, 2*len(left))
	for i := range left {
		inter = append(inter, left[i], right[i])
	}
	b := buildWAV(wavSpec{format: formatPCM, channels: 2, rate: in, bits: 24}, inter)
	toks, err := New().Encode(ctx, sdk.EncodeRequest{Data: b, Name: "a.wav"})
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 8000+1 || toks[len(toks)-1] != tokSEP {
		t.Fatalf("%d tokens, want 8000 samples and [SEP]", len(toks))
	}
	open, err := New().Encode(ctx, sdk.EncodeRequest{Data: b, Name: "a.wav", Open: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(open, toks[:8000]) {
		t.Fatalf("Encode(Open): %d tokens ending in %d, want the 8000 samples without [SEP]", len(open), open[len(open)-1])
	}
	wav, err := New().Decode(ctx, sdk.DecodeRequest{Tokens: toks})
	if err != nil {
		t.Fatal(err)
	}
	c, err := readWAV(wav)
	if err != nil {
		t.Fatal(err)
	}
	want := tone(440, 16000, 8000, 0.4)
	diff := make([]float64, len(want))
	for i := range want {
		diff[i] = c.samples[i] - want[i]
	}
	if s := 20 * math.Log10(rms(want, 200)/rms(diff, 200)); s < 30 {
		t.Errorf("decoded 16 kHz mono differs from the mixdown: SNR %.1f dB, want ≥ 30", s)
	}
}

func TestDecode(t *testing.T) {
	wav, err := New().Decode(ctx, sdk.DecodeRequest{Tokens: sdk.Tokens{0, 128, 255, 256, 127}, Options: map[string]string{"sample_rate": "8000"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := readWAV(wav)
	if err != nil {
		t.Fatal(err)
	}
	if c.rate != 8000 || len(c.samples) != 4 || c.samples[0] != -1 || c.samples[2] < 0.9999 {
		t.Errorf("decoded %d Hz %v", c.rate, c.samples)
	}
	for _, bad := range []sdk.Tokens{{257}, {-1}} {
		if _, err := New().Decode(ctx, sdk.DecodeRequest{Tokens: bad}); err == nil || !strings.Contains(err.Error(), "outside the vocabulary") {
			t.Errorf("Decode(%v): %v", bad, err)
		}
	}
}

func TestOptions(t *testing.T) {
	for _, tt := range []struct {
		opts map[string]string
		want string
	}{
		{map[string]string{"rate": "8000"}, `unknown option "rate"`},
		{map[string]string{"sample_rate": "16k"}, "want an integer"},
		{map[string]string{"sample_rate": "10"}, "want an integer"},
		{map[string]string{"quantization": "mu-law"}, "want mulaw or linear"},
	} {
		if _, err := parseOptions(tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("parseOptions(%v) = %v, want %q", tt.opts, err, tt.want)
		}
	}
}

func TestEncodeBadInput(t *testing.T) {
	_, err := New().Encode(ctx, sdk.EncodeRequest{Data: []byte("ID3\x04abcdefgh"), Name: "song.wav"})
	if err == nil || err.Error() != "audio: song.wav: truncated or corrupt ID3v2 tag (an MP3 or FLAC file of 12 bytes?)" {
		t.Errorf("err = %v", err)
	}
}

// TestResampledLengthBounded: a clip is bounded by its length after
// resampling, checked before resampling: 10 KB at 1 Hz would become 160 M
// samples at 16 kHz (1.3 GB of float64 and a minute of filtering).
func TestResampledLengthBounded(t *testing.T) {
	slow := buildWAV(wavSpec{format: formatPCM, channels: 1, rate: 1, bits: 8}, make([]float64, 10000))
	want := "too long: 10000 samples at 1 Hz are 160000000 at 16000 Hz"
	if _, err := New().Encode(ctx, sdk.EncodeRequest{Data: slow, Name: "slow.wav"}); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Encode: %v, want %q", err, want)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "slow.wav")
	if err := os.WriteFile(in, slow, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New().Prepare(ctx, sdk.PrepareRequest{Inputs: []string{in}, OutDir: filepath.Join(dir, "ds"), ValidFraction: 0.1})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Prepare: %v, want %q", err, want)
	}
}

func TestPrepareBadInput(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(clips[0])
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("mixed/a.wav", good)
	write("mixed/b.wav", good[:5000])
	write("notes/readme.txt", []byte("no audio here"))
	for _, tt := range []struct {
		inputs []string
		want   string
	}{
		{[]string{filepath.Join(dir, "mixed")}, "audio: " + filepath.Join(dir, "mixed", "b.wav") + ": truncated: the data chunk declares 32000 bytes of audio, the file holds 4956"},
		{[]string{filepath.Join(dir, "notes")}, "notes: directory has no readable file ending in .wav"},
		{[]string{filepath.Join(dir, "missing.wav")}, "missing.wav: no such file or directory"},
	} {
		_, err := New().Prepare(ctx, sdk.PrepareRequest{Inputs: tt.inputs, OutDir: filepath.Join(dir, "ds"), ValidFraction: 0.1})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Prepare(%v) = %v, want %q", tt.inputs, err, tt.want)
		}
	}
}

// TestPrepareSpokenDigits prepares the 640 spoken digit clips and logs the
// time; in short mode, or without the shared data, the two testdata clips.
func TestPrepareSpokenDigits(t *testing.T) {
	in, err := filepath.Glob(filepath.Join("testdata", "*_en-*.wav")) // the clips beside the codec fixtures
	if err != nil {
		t.Fatal(err)
	}
	want := 2
	if p := sharedPath("audio/spoken-digits"); p != "" && !testing.Short() {
		in, want = []string{p}, 640
	}
	start := time.Now()
	ds, err := New().Prepare(ctx, sdk.PrepareRequest{Inputs: in, OutDir: filepath.Join(t.TempDir(), "ds"), Seed: 1, ValidFraction: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	docs := ds.Train.Documents + ds.Valid.Documents
	units := ds.Train.Units + ds.Valid.Units
	if docs != int64(want) || units != int64(want)*16000 || ds.Train.Tokens+ds.Valid.Tokens != units+docs {
		t.Errorf("dataset %+v, want %d clips of 16000 samples + [SEP]", ds, want)
	}
	t.Logf("prepared %d clips (%d samples) in %v: train %d clips, valid %d clips",
		docs, units, el.Round(time.Millisecond), ds.Train.Documents, ds.Valid.Documents)
}

// TestPrepareResampled prepares the clips at 8 kHz, linear: each clip
// becomes 8000 samples.
func TestPrepareResampled(t *testing.T) {
	ds, err := New().Prepare(ctx, sdk.PrepareRequest{
		Inputs: clips, OutDir: filepath.Join(t.TempDir(), "ds"), Seed: 3, ValidFraction: 0.5,
		Options: map[string]string{"sample_rate": "8000", "quantization": "linear"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if u := ds.Train.Units + ds.Valid.Units; u != 16000 {
		t.Errorf("units = %d, want 2 × 8000", u)
	}
	sd, err := sdk.OpenSplit(ds.Dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	defer sd.Close()
	if i := slices.IndexFunc(sd.Tokens, func(id int32) bool { return id < 0 || id > 256 }); i >= 0 {
		t.Errorf("token %d out of range", i)
	}
}
