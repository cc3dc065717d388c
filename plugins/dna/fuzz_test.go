package dna

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/sdk"
)

// FuzzEncode feeds arbitrary bytes (FASTA, FASTQ, gzip, junk) to Encode.
// Encode must not panic; an error must name the input; a success must give
// ids in the vocabulary that survive Decode and Encode unchanged.
//
//	go test -run '^$' -fuzz FuzzEncode -fuzztime 20s ./plugins/dna
func FuzzEncode(f *testing.F) {
	for _, name := range []string{"ecoli_536_sample.fa", "ecoli_536_reads.fq"} {
		data, err := os.ReadFile(testdata(name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data[:min(len(data), 600)])
		f.Add(gz(f, data))
	}
	for _, s := range []string{
		"", ">", "@", ">a\n", ">a\nACGT\n>b\nnnRY\n", "@q\nAC\n+\nII\n", "@q\nAC\n+q\nII\n@r\n\n+\n\n",
		"ACGT", ">a\r\nAC GT\r\n", "\x1f\x8b", ">a\nAC\x00GT", "@q\nACGT\n+\nI\n", ";comment\nACGT",
	} {
		f.Add([]byte(s))
	}
	m := New()
	f.Fuzz(func(t *testing.T, data []byte) {
		req := sdk.EncodeRequest{Data: data, Name: "fuzz.fa", Options: map[string]string{"max_line_bytes": "65536"}}
		toks, err := m.Encode(ctx, req)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "dna: fuzz.fa: ") {
				t.Fatalf("error does not name the input: %v", err)
			}
			return
		}
		for i, id := range toks {
			if id < 0 || id >= vocabSize || (id < tokA && id != tokSEP) {
				t.Fatalf("token %d at %d is not a base or [SEP]", id, i)
			}
		}
		if len(toks) == 0 || toks[len(toks)-1] != tokSEP {
			t.Fatalf("tokens do not end with [SEP]: %v", toks)
		}
		fa, err := m.Decode(ctx, sdk.DecodeRequest{Tokens: toks})
		if err != nil {
			t.Fatal(err)
		}
		again, err := m.Encode(ctx, sdk.EncodeRequest{Data: fa, Name: "decoded.fa"})
		if err != nil {
			t.Fatalf("decoded FASTA does not encode: %v\n%q", err, fa)
		}
		if !slices.Equal(toks, again) {
			t.Fatalf("round trip changed the tokens:\n%v\n%v", toks, again)
		}
	})
}
