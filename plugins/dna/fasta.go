package dna

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/biogo/biogo/alphabet"
	"github.com/biogo/biogo/io/seqio"
	"github.com/biogo/biogo/io/seqio/fasta"
	"github.com/biogo/biogo/io/seqio/fastq"
	"github.com/biogo/biogo/seq/linear"
)

// Token ids (see the package doc).
const (
	tokCLS int32 = iota
	tokSEP
	tokBOS
	tokMASK
	tokPAD
	tokRESERVED
	tokUNK
	tokA
	tokC
	tokG
	tokT
	tokN

	vocabSize = 12
)

// bases are the characters of tokA..tokN, in id order.
const bases = "ACGTN"

// baseToken maps an input byte to its token id, or to 0 for a byte that is
// not a nucleotide code. It is filled by init from the IUPAC table.
var baseToken [256]byte

func init() {
	set := func(chars string, id int32) {
		for _, c := range []byte(chars) {
			baseToken[c] = byte(id)
			baseToken[c|0x20] = byte(id) // soft-masked (lowercase) bases
		}
	}
	set("A", tokA)
	set("C", tokC)
	set("G", tokG)
	set("T", tokT)
	set("U", tokT) // RNA
	set("N", tokN)
	set("RYSWKMBDHV", tokN) // IUPAC ambiguity codes
}

// complement maps a base token to the token of its complementary base.
func complement(id byte) byte {
	switch int32(id) {
	case tokA:
		return byte(tokT)
	case tokT:
		return byte(tokA)
	case tokC:
		return byte(tokG)
	case tokG:
		return byte(tokC)
	}
	return id
}

// reverseComplement reverses seq (base tokens) and complements each base,
// in place.
func reverseComplement(seq []byte) {
	for i, j := 0, len(seq)-1; i <= j; i, j = i+1, j-1 {
		seq[i], seq[j] = complement(seq[j]), complement(seq[i])
	}
}

// defaultMaxLine is the longest input line accepted (before the newline).
// An unwrapped human chromosome 1 (249 Mbp) fits; a 2 GB line of junk gets a
// clear error instead of exhausting memory.
const defaultMaxLine = 256 << 20

// errLineTooLong is returned (wrapped) when a line exceeds the limit.
var errLineTooLong = errors.New("line too long")

// lineLimitReader fails once a line grows past max bytes. It sits under the
// biogo readers, which buffer a whole line before they look at it.
//
// The error is sticky and comes without data: bufio.Reader.ReadLine drops
// an error that arrives together with bytes and expects to see it again on
// the next call.
type lineLimitReader struct {
	ctx  context.Context // checked on every read, so a long record can be cancelled
	r    io.Reader
	max  int
	cur  int // bytes since the last newline
	line int // 1-based number of the current line
	err  error

	// nonBlank counts the lines that hold more than white space, for the
	// FASTQ completeness check in readRecords; content says whether the
	// current line does.
	nonBlank int
	content  bool
}

func (l *lineLimitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if err := l.ctx.Err(); err != nil {
		l.err = err
		return 0, err
	}
	n, err := l.r.Read(p)
	b := p[:n]
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		// TrimLeft stops at the first base, so long lines cost nothing.
		if !l.content && len(bytes.TrimLeft(seg, " \t\r\v\f")) > 0 {
			l.content = true
		}
		if i < 0 {
			l.cur += len(b)
			break
		}
		if l.cur+i > l.max {
			l.cur += i
			break
		}
		if l.content {
			l.nonBlank++
		}
		l.cur, l.content = 0, false
		l.line++
		b = b[i+1:]
	}
	if l.cur > l.max {
		l.err = fmt.Errorf("%w: line %d is longer than %d bytes (option max_line_bytes)", errLineTooLong, l.line, l.max)
		return 0, l.err
	}
	if err == io.EOF && l.content { // a last line without a newline
		l.nonBlank++
		l.content = false
	}
	return n, err
}

// readOptions are the reader's settings.
type readOptions struct {
	maxLine int  // longest line accepted
	revcomp bool // emit the reverse strand of each record
}

// readRecords reads every record of a FASTA or FASTQ stream (plain or
// gzip; the format is sniffed from the content, not the name) and calls fn
// with its name and its bases as token ids. fn may keep seq only until it
// returns. Errors name file; they never quote more than a few bytes of the
// input.
func readRecords(ctx context.Context, r io.Reader, file string, opt readOptions, fn func(name string, seq []byte) error) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("dna: %s: %s", file, fmt.Sprintf(format, args...))
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fail("gzip: %v", err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	lim := &lineLimitReader{ctx: ctx, r: br, max: opt.maxLine, line: 1}
	in := bufio.NewReaderSize(lim, 64<<10)

	// Sniff the format from the first byte that is not white space.
	var first byte
	for {
		c, err := in.ReadByte()
		if err == io.EOF {
			return fail("empty file: no FASTA or FASTQ record")
		}
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			return fail("%v", shorten(err))
		}
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			continue
		}
		first = c
		in.UnreadByte()
		break
	}

	var (
		rd   seqio.Reader
		isFQ = first == '@'
	)
	template := linear.NewSeq("", nil, alphabet.DNAredundant)
	switch {
	case first == '>':
		rd = fasta.NewReader(in, template)
	case first == '@':
		rd = fastq.NewReader(in, template)
	case baseToken[first] != 0:
		// A bare sequence without a header: one record named after the file.
		rd = fasta.NewReader(io.MultiReader(strings.NewReader(">"+recordName(file)+"\n"), in), template)
	default:
		return fail("not FASTA or FASTQ: the first character is %s, want '>' or '@'", quoteByte(first))
	}

	records := 0
	var buf []byte
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s, err := rd.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, errLineTooLong) {
				return fmt.Errorf("dna: %s: %w", file, err)
			}
			return fail("record %d: %v", records+1, shorten(err))
		}
		records++
		ls, ok := s.(*linear.Seq)
		if !ok {
			return fail("record %d: unexpected sequence type %T", records, s)
		}
		// Translate the letters to token ids, into a buffer reused across
		// records.
		buf = slices.Grow(buf[:0], len(ls.Seq))[:len(ls.Seq)]
		seq := buf
		for i, c := range ls.Seq {
			id := baseToken[c]
			if id == 0 {
				return fail("record %d (%q): %s at base %d is not a nucleotide code (want A C G T N, IUPAC codes, or lowercase)",
					records, truncate(ls.ID, 60), quoteByte(byte(c)), i+1)
			}
			seq[i] = id
		}
		if opt.revcomp {
			reverseComplement(seq)
		}
		if err := fn(ls.ID, seq); err != nil {
			return err
		}
	}
	if records == 0 {
		return fail("no FASTA or FASTQ record found")
	}
	// biogo's FASTQ reader ends silently at an incomplete last record and
	// skips lines between records that are not FASTQ. A record has four
	// lines (two may be blank for an empty read), so more than 4 per
	// record means input was dropped.
	if isFQ && lim.nonBlank > 4*records {
		return fail("truncated or malformed FASTQ: %d records read, but %d non-blank lines (want 4 per record: @name, bases, +, qualities)",
			records, lim.nonBlank)
	}
	return nil
}

// recordName is the name given to a headerless sequence.
func recordName(file string) string {
	if file == "" {
		return "seq"
	}
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return '_'
		}
		return r
	}, file)
}

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

// shorten keeps error text from a library short: biogo quotes whole input
// lines, which can be megabytes long.
func shorten(err error) string { return truncate(err.Error(), 160) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
