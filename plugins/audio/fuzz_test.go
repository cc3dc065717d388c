package audio

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/sdk"
)

// FuzzEncode feeds WAV-like bytes to Encode (openWAV and go-audio/wav);
// checkEncode says what must hold.
//
//	go test -run '^$' -fuzz FuzzEncode -fuzztime 20s ./plugins/audio
func FuzzEncode(f *testing.F) {
	good, err := os.ReadFile(clips[0])
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good[:200])
	f.Add(good[:44])
	for _, spec := range []wavSpec{
		{format: formatPCM, channels: 1, rate: 8000, bits: 8},
		{format: formatPCM, channels: 2, rate: 22050, bits: 24},
		{format: formatPCM, channels: 3, rate: 16000, bits: 32},
		{format: formatFloat, channels: 1, rate: 48000, bits: 32, extensible: true},
		{format: formatPCM, channels: 1, rate: 16000, bits: 16, list: []byte("INFOISFT\x03\x00\x00\x00ab\x00\x00")},
	} {
		f.Add(buildWAV(spec, []float64{0, 0.5, -0.5, 1, -1}))
	}
	f.Add([]byte("ID3\x04"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVE"))
	f.Fuzz(func(t *testing.T, data []byte) { checkEncode(t, data, "fuzz.wav") })
}

// checkEncode is the fuzz targets' property: Encode must not panic; an
// error must be one line naming the input; a success must give amplitude
// classes and [SEP] that survive Decode and Encode unchanged.
func checkEncode(t *testing.T, data []byte, name string) {
	m := New()
	toks, err := m.Encode(ctx, sdk.EncodeRequest{Data: data, Name: name})
	if err != nil {
		if !strings.HasPrefix(err.Error(), "audio: "+name+": ") || strings.Contains(err.Error(), "\n") {
			t.Fatalf("error is not one line naming the input: %q", err)
		}
		return
	}
	if len(toks) < 2 || toks[len(toks)-1] != tokSEP || slices.Contains(toks[:len(toks)-1], tokSEP) {
		t.Fatalf("want samples then one [SEP], got %d tokens", len(toks))
	}
	if i := slices.IndexFunc(toks, func(id int32) bool { return id < 0 || id > tokSEP }); i >= 0 {
		t.Fatalf("token %d out of range: %d", i, toks[i])
	}
	wav, err := m.Decode(ctx, sdk.DecodeRequest{Tokens: toks})
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.Encode(ctx, sdk.EncodeRequest{Data: wav, Name: "decoded.wav"})
	if err != nil || !slices.Equal(again, toks) {
		t.Fatalf("Encode(Decode(t)) != t (err %v)", err)
	}
}

// seedFiles adds the first n bytes of each testdata file to the corpus of
// f: a few frames, so that an execution takes well under a millisecond
// (go-mp3 takes about 0.5 ms a frame, so a whole 0.3 s fixture takes 8 ms.
func seedFiles(f *testing.F, n int, files ...string) {
	for _, name := range files {
		b, err := os.ReadFile(testdata(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b[:min(len(b), n)])
	}
}

// FuzzFLAC feeds FLAC-like bytes to Encode (openFLAC and mewkiz/flac).
//
//	go test -run '^$' -fuzz '^FuzzFLAC$' -fuzztime 20000x ./plugins/audio
func FuzzFLAC(f *testing.F) {
	seedFiles(f, 2000, flacFixtures[0].file, flacFixtures[1].file)
	f.Add([]byte("fLaC\x80\x00\x00\x22"))
	f.Fuzz(func(t *testing.T, data []byte) { checkEncode(t, data, "fuzz.flac") })
}

// FuzzMP3 feeds MP3-like bytes to Encode (openMP3 and go-mp3).
//
//	go test -run '^$' -fuzz '^FuzzMP3$' -fuzztime 20000x ./plugins/audio
func FuzzMP3(f *testing.F) {
	seedFiles(f, 300, mp3Fixtures[0].file, mp3Fixtures[1].file)
	f.Add([]byte("ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x64"))
	f.Fuzz(func(t *testing.T, data []byte) { checkEncode(t, data, "fuzz.mp3") })
}
