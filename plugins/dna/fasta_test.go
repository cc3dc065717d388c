package dna

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testdata returns the path of a file in this package's testdata.
func testdata(name string) string { return filepath.Join("testdata", name) }

// sharedData returns the path of a file in the project's shared data
// directory (beside the repository), or skips the test when it is absent.
func sharedData(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "shared", "data", rel)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data %s not present: %v", rel, err)
	}
	return p
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

type rec struct{ name, seq string }

// read runs readRecords and returns the records with bases as letters.
func read(data []byte, opt readOptions) ([]rec, error) {
	if opt.maxLine == 0 {
		opt.maxLine = defaultMaxLine
	}
	var out []rec
	err := readRecords(context.Background(), bytes.NewReader(data), "in.fa", opt, func(name string, seq []byte) error {
		b := make([]byte, len(seq))
		for i, id := range seq {
			b[i] = bases[int32(id)-tokA]
		}
		out = append(out, rec{name, string(b)})
		return nil
	})
	return out, err
}

func TestReadRecords(t *testing.T) {
	fa := []byte(">r1 first record\nACGT\nacgt\n\n>r2\nNRYSWKMBDHVn\n>empty\n>r4\r\nUuTt\r\n")
	faWant := []rec{{"r1", "ACGTACGT"}, {"r2", "NNNNNNNNNNNN"}, {"empty", ""}, {"r4", "TTTT"}}
	fq := []byte("@q1 desc\nACGTN\n+\nIIIII\n@q2\nggcc\n+q2\n####\n")
	fqWant := []rec{{"q1", "ACGTN"}, {"q2", "GGCC"}}
	tests := []struct {
		name string
		data []byte
		opt  readOptions
		want []rec
	}{
		{"fasta", fa, readOptions{}, faWant},
		{"fasta gzip", gz(t, fa), readOptions{}, faWant},
		{"fasta multi-member gzip (bgzip)", append(gz(t, fa[:26]), gz(t, fa[26:])...), readOptions{}, faWant},
		{"fastq", fq, readOptions{}, fqWant},
		{"fastq gzip", gz(t, fq), readOptions{}, fqWant},
		{"fastq empty read, blank lines", []byte("@e\n\n+\n\n@q\nAC\n+\nII\n\n\n"), readOptions{}, []rec{{"e", ""}, {"q", "AC"}}},
		{"leading blank lines", append([]byte("\n\n  \n"), fa...), readOptions{}, faWant},
		{"bare sequence", []byte("acgtNNA\nCC\n"), readOptions{}, []rec{{"in.fa", "ACGTNNACC"}}},
		{"no final newline", []byte(">x\nAC"), readOptions{}, []rec{{"x", "AC"}}},
		{"reverse complement", []byte(">x\nAACGTN\n>y\nG\n"), readOptions{revcomp: true}, []rec{{"x", "NACGTT"}, {"y", "C"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := read(tt.data, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d records %v, want %d %v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("record %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestReadTestdata(t *testing.T) {
	for _, tt := range []struct {
		file    string
		records int
		bases   int
	}{
		{"ecoli_536_sample.fa", 2, 3600},
		{"ecoli_536_reads.fq", 6, 600},
	} {
		data, err := os.ReadFile(testdata(tt.file))
		if err != nil {
			t.Fatal(err)
		}
		got, err := read(data, readOptions{})
		if err != nil {
			t.Fatalf("%s: %v", tt.file, err)
		}
		n := 0
		for _, r := range got {
			n += len(r.seq)
		}
		if len(got) != tt.records || n != tt.bases {
			t.Errorf("%s: %d records, %d bases; want %d, %d", tt.file, len(got), n, tt.records, tt.bases)
		}
	}
}

// TestBadInput checks that every malformed input gets one error that names
// the file and says what is wrong, and that nothing panics.
func TestBadInput(t *testing.T) {
	junk := make([]byte, 300)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	tests := []struct {
		name string
		data []byte
		opt  readOptions
		want string
	}{
		{"empty file", nil, readOptions{}, "empty file"},
		{"only white space", []byte("\n \n\t\n"), readOptions{}, "empty file"},
		{"binary junk", junk, readOptions{}, "not FASTA or FASTQ"},
		{"binary junk inside a record", append([]byte(">r1\nACGT\n>r2\nAC"), junk...), readOptions{}, `record 2 ("r2"): byte 0x00 at base 3 is not a nucleotide code`},
		{"gap character", []byte(">r1\nAC-GT\n"), readOptions{}, `'-' at base 3`},
		{"MP3 data", []byte("ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb\x90\x00"), readOptions{}, "not FASTA or FASTQ: the first character is 'I'"},
		{"truncated gzip", gz(t, bytes.Repeat([]byte(">r\nACGT\n"), 1000))[:40], readOptions{}, "unexpected EOF"},
		{"fastq length mismatch", []byte("@q\nACGT\n+\nII\n"), readOptions{}, "sequence/quality length mismatch"},
		{"fastq truncated last record", []byte("@q1\nACGT\n+\nIIII\n@q2\nAC"), readOptions{}, "truncated or malformed FASTQ: 1 records read, but 6 non-blank lines"},
		{"fastq junk between records", []byte("@q1\nACGT\n+\nIIII\njunk\n@q2\nAC\n+\nII\n"), readOptions{}, "truncated or malformed FASTQ"},
		{"fastq without records", []byte("@\n"), readOptions{}, "no FASTA or FASTQ record"},
		{"long line", []byte(">r\n" + strings.Repeat("A", 5000) + "\n"), readOptions{maxLine: 4096}, "line 2 is longer than 4096 bytes"},
		{"long header line", []byte(">" + strings.Repeat("x", 5000)), readOptions{maxLine: 4096}, "line 1 is longer than 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := read(tt.data, tt.opt)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "dna: in.fa: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error %q, want it to start with %q and contain %q", msg, "dna: in.fa: ", tt.want)
			}
			if len(msg) > 300 || strings.Contains(msg, "\n") {
				t.Errorf("error is not one short line (%d bytes): %q", len(msg), msg)
			}
		})
	}
}

// endless is a reader of one line that never ends: AAAA...
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'A'
	}
	e.n += int64(len(p))
	return len(p), nil
}

// TestHugeLine feeds a line that never ends (as a 2 GB single-line file
// would be): the reader must stop soon after the limit with a clear error,
// not buffer the whole line.
func TestHugeLine(t *testing.T) {
	src := &endless{}
	const limit = 8 << 20
	err := readRecords(context.Background(), io.MultiReader(strings.NewReader(">r\n"), src), "huge.fa",
		readOptions{maxLine: limit}, func(string, []byte) error { return nil })
	if err == nil || !errors.Is(err, errLineTooLong) || !strings.Contains(err.Error(), "huge.fa") {
		t.Fatalf("err = %v, want a line-too-long error naming huge.fa", err)
	}
	if src.n > 2*limit {
		t.Errorf("read %d bytes before failing, want about %d", src.n, limit)
	}
}

// TestReadCancelInsideRecord cancels while biogo is still reading one
// endless record: the read stops at the next buffer.
func TestReadCancelInsideRecord(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	src := &endless{}
	r := io.MultiReader(strings.NewReader(">r\n"), readFunc(func(p []byte) (int, error) {
		if src.n > 4<<20 {
			cancel()
		}
		return src.Read(p)
	}))
	err := readRecords(ctx, r, "x.fa", readOptions{maxLine: 1 << 30}, func(string, []byte) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if src.n > 8<<20 {
		t.Errorf("read %d bytes after cancelling at 4 MiB", src.n)
	}
}

type readFunc func([]byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

func TestReadCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := readRecords(ctx, strings.NewReader(">r\nACGT\n"), "x.fa", readOptions{maxLine: 100}, func(string, []byte) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}
