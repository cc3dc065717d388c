// Command protein is a complete mambakit modality plugin: protein FASTA, one
// token per amino-acid residue, one document per record.
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

// Token ids: 0 separates records, 1..20 are the residues, 21 is X (unknown).
const alphabet = "ACDEFGHIKLMNPQRSTVWYX"

type protein struct{}

func (protein) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "protein", Version: "0.1.0", Kind: sdk.KindDiscrete, VocabSize: len(alphabet) + 1,
		Special: map[string]int32{"sep": 0}, Unit: "residue", UnitsPerToken: 1, DefaultSeqLen: 1024,
		FileTypes: []string{".fa", ".fasta", ".faa"}}, nil
}

// records parses FASTA into one token sequence per record.
func records(data []byte) ([]sdk.Tokens, error) {
	var recs []sdk.Tokens
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) > 0 && line[0] == '>' {
			recs = append(recs, nil)
			continue
		}
		for _, c := range bytes.ToUpper(line) {
			i := bytes.IndexByte([]byte(alphabet), c)
			if i < 0 || len(recs) == 0 {
				return nil, fmt.Errorf("line %d: %q is not an amino acid in a FASTA record", n+1, c)
			}
			recs[len(recs)-1] = append(recs[len(recs)-1], int32(i+1))
		}
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("no FASTA record")
	}
	return recs, nil
}

func (protein) Prepare(ctx context.Context, req sdk.PrepareRequest) (sdk.Dataset, error) {
	return sdk.PrepareFiles(ctx, req, []string{".fa", ".fasta", ".faa"}, func(_ string, data []byte) (docs []sdk.Doc, err error) {
		recs, err := records(data)
		for _, r := range recs {
			docs = append(docs, sdk.Doc{Tokens: r, Units: int64(len(r))})
		}
		return docs, err
	})
}

func (protein) Encode(_ context.Context, req sdk.EncodeRequest) (sdk.Tokens, error) {
	recs, err := records(req.Data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", req.Name, err)
	}
	var ids sdk.Tokens
	for i, r := range recs {
		if i > 0 {
			ids = append(ids, 0)
		}
		ids = append(ids, r...)
	}
	return ids, nil
}

func (protein) Decode(_ context.Context, req sdk.DecodeRequest) ([]byte, error) {
	out := []byte(">1\n")
	for _, id := range req.Tokens {
		if id < 0 || int(id) > len(alphabet) {
			return nil, fmt.Errorf("token id %d is not in [0, %d]", id, len(alphabet))
		}
		if id == 0 {
			out = fmt.Appendf(out, "\n>%d\n", bytes.Count(out, []byte(">"))+1)
			continue
		}
		out = append(out, alphabet[id-1])
	}
	return append(out, '\n'), nil
}

func main() { sdk.Serve(protein{}) }
