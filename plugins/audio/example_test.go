package audio_test

import (
	"context"
	"fmt"
	"os"

	"github.com/mambakit/mambakit/plugins/audio"
	"github.com/mambakit/mambakit/sdk"
)

func Example() {
	ctx := context.Background()
	m := audio.New()
	clip, err := os.ReadFile("testdata/three_en-029_f2_s140_p35.wav") // 1 s, 16 kHz, 16-bit
	if err != nil {
		panic(err)
	}
	// Resample to 8 kHz, µ-law: one token per sample, then [SEP] (256).
	opts := map[string]string{"sample_rate": "8000"}
	toks, err := m.Encode(ctx, sdk.EncodeRequest{Data: clip, Name: "three.wav", Options: opts})
	if err != nil {
		panic(err)
	}
	fmt.Println(len(toks), toks[len(toks)-1])
	wav, err := m.Decode(ctx, sdk.DecodeRequest{Tokens: toks, Options: opts})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s, %d bytes\n", wav[:4], len(wav)) // 44-byte header + 2 bytes per sample
	// Output:
	// 8001 256
	// RIFF, 16044 bytes
}
