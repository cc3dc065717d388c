package text

import (
	"testing"

	"github.com/mambakit/mambakit/sdk/sdktest"
)

// TestConformance runs the sdk's conformance suite with the default byte
// tokenizer and with the Hugging Face fixture's tokenizer.json.
func TestConformance(t *testing.T) {
	files := []string{testdata(t, "sample.txt"), testdata(t, "sample.jsonl")}
	bad := map[string][]byte{
		"fake.txt.gz":      []byte("plain text, not gzip"),
		"truncated.txt.gz": gz([]byte("some text that will be cut off"))[:20],
	}
	t.Run("bytes", func(t *testing.T) {
		sdktest.Run(t, New(), sdktest.Samples{Files: files, Bad: bad})
	})
	t.Run("hf", func(t *testing.T) {
		sdktest.Run(t, New(), sdktest.Samples{
			Files:     files,
			Bad:       bad,
			Options:   map[string]string{"tokenizer": testdata(t, "hf-tokenizer/tokenizer.json")},
			VocabSize: 2000,
		})
	})
}
