package audio

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/sdk"
)

// FuzzEncode feeds arbitrary bytes to Encode (and so to readWAV and
// go-audio/wav). Encode must not panic; an error must name the input; a
// success must give amplitude classes and [SEP] that survive Decode and
// Encode unchanged.
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
	m := New()
	f.Fuzz(func(t *testing.T, data []byte) {
		toks, err := m.Encode(ctx, sdk.EncodeRequest{Data: data, Name: "fuzz.wav"})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "audio: fuzz.wav: ") || strings.Contains(err.Error(), "\n") {
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
	})
}
