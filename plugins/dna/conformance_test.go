package dna

import (
	"testing"

	"github.com/mambakit/mambakit/sdk/sdktest"
)

func TestConformance(t *testing.T) {
	sdktest.Run(t, New(), sdktest.Samples{
		Files: []string{testdata("ecoli_536_sample.fa"), testdata("ecoli_536_reads.fq")},
		Bad: map[string][]byte{
			"empty.fa":        nil,
			"junk.fa":         {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0},
			"mp3-renamed.fa":  []byte("ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00"),
			"junk-inside.fa":  []byte(">r1\nACGT\x00\x01\x02ACGT\n"),
			"truncated.fa.gz": gz(t, []byte(">r1\nACGTACGTACGTACGTACGTACGTACGTACGTACGT\n"))[:25],
			"mismatch.fq":     []byte("@q\nACGT\n+\nII\n"),
		},
		Options: map[string]string{"doc_len": "1000"},
		Lossy:   true, // FASTA line wrapping, record names and case are not kept
	})
}
