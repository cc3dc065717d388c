package session

import (
	"context"
	"strconv"
	"testing"

	"github.com/mambakit/mambakit/sdk"
)

// TestUnitTexts decodes single tokens of each built-in as score's CSV
// shows them.
func TestUnitTexts(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		modality string
		ids      []int32
		want     map[int32]string // "int" for any 16-bit sample value
	}{
		{"text", []int32{'a', '\n', 0xff, '"', '\\', 'a'}, map[int32]string{'a': "a", '\n': `\n`, 0xff: `\xff`, '"': `"`, '\\': `\\`}},
		{"dna", []int32{7, 10, 11, 1, 2}, map[int32]string{7: "A", 10: "T", 11: "N", 1: "", 2: ""}},
		{"audio", []int32{0, 255, 256}, map[int32]string{0: "int", 255: "int", 256: ""}},
	} {
		t.Run(tc.modality, func(t *testing.T) {
			p := startBuiltin(t, tc.modality)
			defer p.Close()
			decode := func(ctx context.Context, ids []int32) ([]byte, error) {
				return p.Decode(ctx, sdk.DecodeRequest{Tokens: ids})
			}
			got, err := UnitTexts(ctx, decode, p.Info, tc.ids)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("%d texts for %d distinct ids: %q", len(got), len(tc.want), got)
			}
			for id, want := range tc.want {
				if want == "int" {
					if _, err := strconv.ParseInt(got[id], 10, 16); err != nil {
						t.Errorf("token %d: %q, want a 16-bit sample value", id, got[id])
					}
				} else if got[id] != want {
					t.Errorf("token %d: %q, want %q", id, got[id], want)
				}
			}
		})
	}
}

// FuzzWAVSamples feeds wavSamples arbitrary bytes: an error or samples,
// never a panic.
func FuzzWAVSamples(f *testing.F) {
	f.Add([]byte("RIFF\x2a\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\x02\x00\x00\x00\x34\x12"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEdata\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		wavSamples(b)
	})
}
