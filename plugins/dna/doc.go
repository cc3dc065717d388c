// Package dna is mambakit's built-in DNA modality: one token per base, read
// from FASTA or FASTQ files (plain or gzip) with github.com/biogo/biogo.
//
// # Vocabulary
//
// The token ids follow the character tokenizer of HyenaDNA and Caduceus
// (seven special tokens, then the characters A, C, G, T, N), so a model
// trained here uses the same ids as those checkpoints:
//
//	0 [CLS]   1 [SEP]   2 [BOS]   3 [MASK]   4 [PAD]   5 [RESERVED]   6 [UNK]
//	7 A       8 C       9 G       10 T       11 N
//
// [SEP] is the boundary token: it ends every record (and every document in
// a prepared dataset), so packed training can reset the recurrent state
// there. HyenaDNA uses [SEP] as its end-of-sequence token the same way.
//
// Lowercase (soft-masked) bases map to the same token as uppercase ones; U
// maps to T; the IUPAC ambiguity codes R Y S W K M B D H V map to N. Any
// other byte in a sequence (gaps, digits, binary) is an error that names the
// file, the record and the position.
//
// # Options
//
// Encode and Prepare read these options (docs/plugins-dna.md has the full
// table): "doc_len" (Prepare: bases per document, default 32768),
// "rc_aug" (none | random | both: reverse-complement augmentation, decided
// from the seed), "revcomp" (Encode: true encodes the reverse strand),
// "max_line_bytes" (longest input line accepted, default 256 MiB), and for
// Decode "name" (record name prefix) and "line_width" (FASTA line width).
package dna
