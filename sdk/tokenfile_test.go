package sdk

import (
	"bytes"
	"fmt"
	"testing"
)

func FuzzParseTokens(f *testing.F) {
	f.Add([]byte("1\n2 3\t4\r\n"), false)
	f.Add([]byte("-1\n"), false)
	f.Add([]byte{1, 0, 0, 0}, true)
	f.Fuzz(func(t *testing.T, data []byte, bin bool) {
		format := TokenText
		if bin {
			format = TokenBinary
		}
		ids, err := ParseTokens(data, format)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteTokens(&buf, ids, format); err != nil {
			t.Fatal(err)
		}
		again, err := ParseTokens(buf.Bytes(), format)
		if err != nil || fmt.Sprint(again) != fmt.Sprint(ids) {
			t.Fatalf("round trip: %v -> %q -> %v, %v", ids, buf.Bytes(), again, err)
		}
	})
}
