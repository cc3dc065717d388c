package sdk

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"unsafe"
)

// Token ids travel and rest as little-endian uint32, one after another:
// in the protocol's Encode and Decode messages, in a dataset's .tokens
// files and in binary token files. appendTokens and tokensFromBytes are
// that codec, the one copy of it.

// appendTokens appends ids to b as little-endian uint32.
func appendTokens(b []byte, ids Tokens) []byte {
	if nativeLittleEndian {
		return append(b, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(ids))), 4*len(ids))...)
	}
	for _, id := range ids {
		b = binary.LittleEndian.AppendUint32(b, uint32(id))
	}
	return b
}

// tokensToBytes encodes ids as little-endian uint32 (nil for nil).
func tokensToBytes(ids Tokens) []byte {
	if ids == nil {
		return nil
	}
	return appendTokens(make([]byte, 0, 4*len(ids)), ids)
}

// tokensFromBytes decodes little-endian uint32 ids. The length must be a
// multiple of 4.
func tokensFromBytes(b []byte) (Tokens, error) {
	if len(b)%4 != 0 {
		return nil, fmt.Errorf("sdk: token bytes: length %d is not a multiple of 4", len(b))
	}
	if b == nil {
		return nil, nil
	}
	ids := make(Tokens, len(b)/4)
	if nativeLittleEndian {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(ids))), len(b)), b)
		return ids, nil
	}
	for i := range ids {
		ids[i] = int32(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return ids, nil
}

var nativeLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// TokenFormat is the format of a token file, which holds token ids outside
// a dataset (mambakit encode and decode; docs/cli.md, "Token files").
type TokenFormat string

// The token file formats.
const (
	// TokenText is one decimal id per line (any white space separates ids).
	TokenText TokenFormat = "text"
	// TokenBinary is a little-endian uint32 per id, no header: the
	// encoding of a dataset's .tokens files.
	TokenBinary TokenFormat = "bin"
)

// TokenFormatOf is the format of a token file by its name: binary for
// names ending in .bin or .tokens, else text.
func TokenFormatOf(name string) TokenFormat {
	if ext := filepath.Ext(name); ext == ".bin" || ext == ".tokens" {
		return TokenBinary
	}
	return TokenText
}

// WriteTokens writes ids to w as a token file of format f.
func WriteTokens(w io.Writer, ids Tokens, f TokenFormat) error {
	if f == TokenBinary {
		_, err := w.Write(appendTokens(nil, ids))
		return err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	var b []byte
	for _, id := range ids {
		b = strconv.AppendInt(b[:0], int64(id), 10)
		b = append(b, '\n')
		bw.Write(b)
	}
	return bw.Flush()
}

// ParseTokens reads a token file of format f. Errors name the line (text)
// or the size (binary), not the file; text ids must be in [0, 2^31).
func ParseTokens(data []byte, f TokenFormat) (Tokens, error) {
	if f == TokenBinary {
		if len(data)%4 != 0 {
			return nil, fmt.Errorf("binary token file: %d bytes is not a multiple of 4 (little-endian uint32 ids)", len(data))
		}
		ids, err := tokensFromBytes(data)
		if ids == nil {
			ids = Tokens{}
		}
		return ids, err
	}
	ids := make(Tokens, 0, len(data)/4)
	line := 1
	for len(data) > 0 {
		i := bytes.IndexAny(data, " \t\r\n")
		field := data
		if i >= 0 {
			field = data[:i]
		}
		if len(field) > 0 {
			v, err := strconv.ParseUint(string(field), 10, 32)
			if err != nil || v > 1<<31-1 {
				f := string(field)
				if len(f) > 20 {
					f = f[:20] + "..."
				}
				return nil, fmt.Errorf("line %d: %q is not a token id (want a decimal number in [0, 2^31))", line, f)
			}
			ids = append(ids, int32(v))
		}
		if i < 0 {
			break
		}
		if data[i] == '\n' {
			line++
		}
		data = data[i+1:]
	}
	return ids, nil
}
