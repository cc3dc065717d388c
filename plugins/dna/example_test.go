package dna_test

import (
	"context"
	"fmt"

	"github.com/mambakit/mambakit/plugins/dna"
	"github.com/mambakit/mambakit/sdk"
)

func Example() {
	ctx := context.Background()
	m := dna.New()
	// Soft-masked bases keep their identity; IUPAC R becomes N; [SEP] (1)
	// ends each record.
	toks, err := m.Encode(ctx, sdk.EncodeRequest{Data: []byte(">chrM\nACGTacgtNR\n>x\nGG\n"), Name: "in.fa"})
	if err != nil {
		panic(err)
	}
	fmt.Println(toks)
	fa, err := m.Decode(ctx, sdk.DecodeRequest{Tokens: toks})
	if err != nil {
		panic(err)
	}
	fmt.Print(string(fa))
	// Output:
	// [7 8 9 10 7 8 9 10 11 11 1 9 9 1]
	// >seq1
	// ACGTACGTNN
	// >seq2
	// GG
}
