// Command protein is a complete mambakit plugin: protein FASTA, a token per residue.
//
//	go build -o bin/mambakit-plugin-protein ./examples/plugins/protein
//	MAMBAKIT_PLUGIN_PATH=bin mambakit prepare --modality protein --data proteins.fa -o data/protein
package main

import (
	"bytes"
	"context"
	"fmt"

	"github.com/mambakit/mambakit/sdk"
)

// Token ids: 0 separates records (Decode numbers them), 1..21 are residues (X: unknown).
const alphabet = "ACDEFGHIKLMNPQRSTVWYX"

var fileTypes = []string{".fa", ".fasta", ".faa"}

type protein struct{}

func (protein) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "protein", Version: "0.1.0", Kind: sdk.KindDiscrete, VocabSize: len(alphabet) + 1,
		Special: map[string]int32{"sep": 0}, Unit: "residue", UnitsPerToken: 1, FileTypes: fileTypes}, nil
}

// records parses FASTA into one document per record.
func records(data []byte) (recs []sdk.Doc, err error) {
	for n, line := range bytes.Split(data, []byte("\n")) {
		if line = bytes.TrimSpace(line); len(line) > 0 && line[0] == '>' {
			recs = append(recs, sdk.Doc{})
			continue
		}
		for _, c := range bytes.ToUpper(line) {
			i := bytes.IndexByte([]byte(alphabet), c)
			if i < 0 || len(recs) == 0 {
				return nil, fmt.Errorf("line %d: %q is not an amino acid in a FASTA record", n+1, c)
			}
			r := &recs[len(recs)-1]
			r.Tokens, r.Units = append(r.Tokens, int32(i+1)), r.Units+1
		}
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no FASTA record")
	}
	return recs, nil
}

func (protein) Prepare(ctx context.Context, req sdk.PrepareRequest) (sdk.Dataset, error) {
	return sdk.PrepareFiles(ctx, req, fileTypes, func(_ string, data []byte) ([]sdk.Doc, error) { return records(data) })
}

func (protein) Encode(_ context.Context, req sdk.EncodeRequest) (ids sdk.Tokens, err error) {
	recs, err := records(req.Data)
	for i, r := range recs {
		if i > 0 {
			ids = append(ids, 0)
		}
		ids = append(ids, r.Tokens...)
	}
	return ids, err
}

func (protein) Decode(_ context.Context, req sdk.DecodeRequest) ([]byte, error) {
	out := []byte(">1\n")
	for _, id := range req.Tokens {
		switch {
		case id < 0 || int(id) > len(alphabet):
			return nil, fmt.Errorf("token id %d is not in [0, %d]", id, len(alphabet))
		case id == 0:
			out = fmt.Appendf(out, "\n>%d\n", bytes.Count(out, []byte(">"))+1)
		default:
			out = append(out, alphabet[id-1])
		}
	}
	return append(out, '\n'), nil
}

func main() { sdk.Serve(protein{}) }
