package sdk_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mambakit/mambakit/sdk"
)

// upper is a toy modality: ASCII letters, one token each.
type upper struct{}

func (upper) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "upper", Version: "0.1.0", Kind: sdk.KindDiscrete, VocabSize: 26,
		Unit: "letter", UnitsPerToken: 1, FileTypes: []string{".txt"}}, nil
}

func (upper) Prepare(ctx context.Context, req sdk.PrepareRequest) (sdk.Dataset, error) {
	return sdk.PrepareFiles(ctx, req, []string{".txt"}, func(_ string, data []byte) ([]sdk.Doc, error) {
		ids, err := upper{}.Encode(ctx, sdk.EncodeRequest{Data: data})
		return []sdk.Doc{{Tokens: ids, Units: int64(len(ids))}}, err
	})
}

func (upper) Encode(_ context.Context, req sdk.EncodeRequest) (sdk.Tokens, error) {
	var ids sdk.Tokens
	for _, c := range req.Data {
		if c >= 'A' && c <= 'Z' {
			ids = append(ids, int32(c-'A'))
		}
	}
	return ids, nil
}

func (upper) Decode(_ context.Context, req sdk.DecodeRequest) ([]byte, error) {
	out := make([]byte, len(req.Tokens))
	for i, id := range req.Tokens {
		if id < 0 || id >= 26 {
			return nil, fmt.Errorf("token id %d is not a letter", id)
		}
		out[i] = byte('A' + id)
	}
	return out, nil
}

// A plugin's main is one call.
func ExampleServe() {
	sdk.Serve(upper{})
}

// Calling a modality through the protocol, in process, and preparing a
// dataset with it.
func Example() {
	m, stop, err := sdk.Loopback(upper{})
	if err != nil {
		panic(err)
	}
	defer stop()
	ctx := context.Background()
	ids, _ := m.Encode(ctx, sdk.EncodeRequest{Data: []byte("MAMBA")})
	back, _ := m.Decode(ctx, sdk.DecodeRequest{Tokens: ids})
	fmt.Println(ids, string(back))

	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("SELECTIVE STATE SPACES"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.txt"), []byte("LINEAR TIME"), 0o644)
	ds, err := m.Prepare(ctx, sdk.PrepareRequest{Inputs: []string{dir}, OutDir: filepath.Join(dir, "ds"), Seed: 1, ValidFraction: 0.5})
	if err != nil {
		panic(err)
	}
	fmt.Println("train", ds.Train.Tokens, "tokens; valid", ds.Valid.Tokens, "tokens")
	train, _ := sdk.OpenSplit(ds.Dir, "train")
	defer train.Close()
	fmt.Println("documents start at", train.Docs)
	// Output:
	// [12 0 12 1 0] MAMBA
	// train 10 tokens; valid 20 tokens
	// documents start at [0]
}
