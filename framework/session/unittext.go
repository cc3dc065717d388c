package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/mambakit/mambakit/sdk"
)

// UnitTexts decodes each distinct id of ids on its own with decode (the
// plugin's Decode) and returns what it stands for, for a column beside the
// ids: text's bytes, quoted as Go quotes a string (printable characters as
// they are, others escaped) without the outer quotes or an escaped '"'; DNA's base (the
// FASTA's sequence letters); audio's 16-bit sample value (the WAV's one
// sample). A token that decodes to nothing (a separator, a dropped special
// token) gets "".
func UnitTexts(ctx context.Context, decode func(context.Context, []int32) ([]byte, error), info sdk.Info, ids []int32) (map[int32]string, error) {
	out := map[int32]string{}
	for _, id := range ids {
		if _, ok := out[id]; ok {
			continue
		}
		b, err := decode(ctx, []int32{id})
		if err != nil {
			return nil, fmt.Errorf("decode token %d: %w", id, err)
		}
		var s string
		switch info.Unit {
		case "base":
			s = fastaLetters(b)
		case "sample":
			if s, err = wavSamples(b); err != nil {
				return nil, fmt.Errorf("decode token %d: %w", id, err)
			}
		default:
			q := strconv.Quote(string(b))
			s = strings.ReplaceAll(q[1:len(q)-1], `\"`, `"`) // CSV quotes it
		}
		out[id] = s
	}
	return out, nil
}

// fastaLetters returns the sequence letters of FASTA: every line but the
// headers, without line breaks.
func fastaLetters(b []byte) string {
	var out []byte
	for line := range bytes.Lines(b) {
		if line = bytes.TrimRight(line, "\r\n"); len(line) > 0 && line[0] != '>' {
			out = append(out, line...)
		}
	}
	return string(out)
}

// wavSamples returns the 16-bit samples of a PCM WAV file's data chunk,
// space-separated.
func wavSamples(b []byte) (string, error) {
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return "", fmt.Errorf("not a WAV file (%d bytes)", len(b))
	}
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int(binary.LittleEndian.Uint32(b[p+4:]))
		p += 8
		if size < 0 || size > len(b)-p {
			return "", fmt.Errorf("WAV chunk %q of %d bytes runs past the end", id, size)
		}
		if id == "data" {
			var out []byte
			for i := p; i+2 <= p+size; i += 2 {
				if len(out) > 0 {
					out = append(out, ' ')
				}
				out = strconv.AppendInt(out, int64(int16(binary.LittleEndian.Uint16(b[i:]))), 10)
			}
			return string(out), nil
		}
		p += size + size&1
	}
	return "", fmt.Errorf("WAV file without a data chunk")
}
