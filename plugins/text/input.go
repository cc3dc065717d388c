package text

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/mambakit/mambakit/sdk"
)

// Reading documents from .txt, .txt.gz, .jsonl and .jsonl.gz files.
//
// A document is the unit that gets an <|endoftext|> after it and that the
// sdk assigns to the train or validation split. In text files it is, by the
// doc option:
//
//	line       one line, without its "\n" (the default: the Brown corpus
//	           has one paragraph per line); blank lines are skipped
//	paragraph  a run of non-blank lines, joined by their own line breaks
//	file       the whole file
//
// In .jsonl files it is the "text" field of each record, whatever doc says.
// Every error names the file, and the line where there is one.

// FileTypes are the suffixes Prepare reads in directories. Markdown is
// plain text: a directory of .md files reads as the files would one by one.
var FileTypes = []string{".txt", ".txt.gz", ".md", ".md.gz", ".jsonl", ".jsonl.gz"}

type docMode int

const (
	docLine docMode = iota
	docParagraph
	docFile
)

func parseDocMode(s string) (docMode, error) {
	switch s {
	case "", "line":
		return docLine, nil
	case "paragraph":
		return docParagraph, nil
	case "file":
		return docFile, nil
	}
	return 0, fmt.Errorf("doc=%q: want line, paragraph or file", s)
}

// DefaultMaxDocBytes is the default of the max_doc_bytes option: a document
// (a line, in the default mode) longer than this is an error, not an
// out-of-memory crash.
const DefaultMaxDocBytes = 64 << 20

// readFile appends the documents of one file to docs.
func readFile(name string, mode docMode, maxDoc int, docs [][]byte) ([][]byte, error) {
	f, err := sdk.OpenInput(name) // refuses named pipes and devices
	if err != nil {
		return docs, err
	}
	defer f.Close()
	var r io.Reader = f
	lower := strings.ToLower(name)
	if strings.HasSuffix(lower, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return docs, fmt.Errorf("%s: empty file", name)
			}
			return docs, fmt.Errorf("%s: not a gzip file: %w", name, err)
		}
		defer zr.Close()
		r = zr
		lower = strings.TrimSuffix(lower, ".gz")
	}
	n := len(docs)
	if strings.HasSuffix(lower, ".jsonl") {
		docs, err = readJSONL(name, r, maxDoc, docs)
	} else {
		docs, err = readText(name, r, mode, maxDoc, docs)
	}
	if err != nil {
		return docs, err
	}
	if len(docs) == n {
		return docs, fmt.Errorf("%s: empty file (no documents)", name)
	}
	return docs, nil
}

// lineReader reads lines of at most max bytes, counting them for errors.
type lineReader struct {
	name string
	r    *bufio.Reader
	max  int
	line int // number of the line last returned, from 1
}

func newLineReader(name string, r io.Reader, max int) *lineReader {
	return &lineReader{name: name, r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line with its "\n" (if any), or io.EOF. The slice
// is valid until the next call.
func (lr *lineReader) next(buf []byte) ([]byte, error) {
	lr.line++
	buf = buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if len(buf)+len(chunk) > lr.max {
			return nil, fmt.Errorf("%s:%d: line longer than max_doc_bytes=%d; split the file or raise max_doc_bytes", lr.name, lr.line, lr.max)
		}
		buf = append(buf, chunk...)
		switch {
		case err == nil:
			return buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(buf) == 0 {
				return nil, io.EOF
			}
			return buf, nil
		case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, gzip.ErrChecksum):
			return nil, fmt.Errorf("%s:%d: truncated or corrupt compressed file (%v)", lr.name, lr.line, err)
		default:
			return nil, fmt.Errorf("%s:%d: %w", lr.name, lr.line, err)
		}
	}
}

// readText reads a text file's documents.
func readText(name string, r io.Reader, mode docMode, maxDoc int, docs [][]byte) ([][]byte, error) {
	lr := newLineReader(name, r, maxDoc)
	var line, para []byte
	// flush ends a paragraph (or the file); its last line break separates
	// it from the next one and is not part of it.
	flush := func() {
		if d := bytes.TrimSuffix(para, []byte("\n")); len(bytes.TrimSpace(d)) > 0 {
			docs = append(docs, bytes.Clone(d))
		}
		para = para[:0]
	}
	for {
		var err error
		line, err = lr.next(line)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return docs, err
		}
		if i := bytes.IndexByte(line, 0); i >= 0 {
			return docs, fmt.Errorf("%s:%d: NUL byte: this looks like a binary file, not text", name, lr.line)
		}
		switch mode {
		case docLine:
			l := bytes.TrimSuffix(line, []byte("\n"))
			if len(bytes.TrimSpace(l)) > 0 {
				docs = append(docs, bytes.Clone(l))
			}
		case docParagraph:
			if len(bytes.TrimSpace(line)) == 0 {
				flush()
				continue
			}
			if len(para)+len(line) > maxDoc {
				return docs, fmt.Errorf("%s:%d: paragraph longer than max_doc_bytes=%d", name, lr.line, maxDoc)
			}
			para = append(para, line...)
		case docFile:
			if len(para)+len(line) > maxDoc {
				return docs, fmt.Errorf("%s: file longer than max_doc_bytes=%d; use doc=line or doc=paragraph", name, maxDoc)
			}
			para = append(para, line...)
		}
	}
	flush()
	return docs, nil
}

// readJSONL reads the "text" field of each record of a JSON Lines file.
// Blank lines are skipped; a record without a string "text" is an error.
func readJSONL(name string, r io.Reader, maxDoc int, docs [][]byte) ([][]byte, error) {
	lr := newLineReader(name, r, maxDoc)
	var line []byte
	for {
		var err error
		line, err = lr.next(line)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var rec struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(line, &rec); err != nil {
			return docs, fmt.Errorf("%s:%d: not a JSON object: %w", name, lr.line, err)
		}
		if rec.Text == nil {
			return docs, fmt.Errorf("%s:%d: record has no \"text\" string field", name, lr.line)
		}
		if *rec.Text != "" {
			docs = append(docs, []byte(*rec.Text))
		}
	}
}

// unwrapPathErr drops *fs.PathError's path, which the caller prints.
func unwrapPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
