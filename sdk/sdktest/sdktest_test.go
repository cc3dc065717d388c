package sdktest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mambakit/mambakit/sdk"
)

// lines is a small correct modality: bytes, one document per line, each
// ended by its line break (the "eos"; a prompt's last line is left open).
// Its fields switch on the defects the suite must catch.
type lines struct {
	nondeterministic bool // Prepare output depends on a counter
	panics           bool // Encode panics on a NUL byte
	lenientDecode    bool // Decode accepts ids out of range
	ignoresOpen      bool // Encode ends a prompt's last line too
	calls            *atomic.Int64
}

func (lines) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "lines", Version: "1", Kind: sdk.KindDiscrete, VocabSize: 256, Unit: "byte",
		Special:       map[string]int32{"eos": '\n'},
		UnitsPerToken: 1, FileTypes: []string{".txt"}}, nil
}

func (m lines) Prepare(ctx context.Context, req sdk.PrepareRequest) (sdk.Dataset, error) {
	return sdk.PrepareFiles(ctx, req, []string{".txt"}, func(_ string, data []byte) ([]sdk.Doc, error) {
		if len(data) == 0 {
			return nil, errors.New("empty file")
		}
		var docs []sdk.Doc
		for _, l := range strings.SplitAfter(string(data), "\n") {
			if l == "" {
				continue
			}
			ids, err := m.Encode(ctx, sdk.EncodeRequest{Data: []byte(l)})
			if err != nil {
				return nil, err
			}
			if m.nondeterministic {
				ids[0] = int32(m.calls.Add(1) % 200)
			}
			docs = append(docs, sdk.Doc{Tokens: ids, Units: int64(len(l))})
		}
		return docs, nil
	})
}

func (m lines) Encode(_ context.Context, req sdk.EncodeRequest) (sdk.Tokens, error) {
	data := req.Data
	if req.Open && !m.ignoresOpen {
		data = bytes.TrimRight(data, "\n")
	}
	ids := make(sdk.Tokens, len(data))
	for i, b := range data {
		if b == 0xFF {
			return nil, errors.New("byte 0xFF is not text")
		}
		if b == 0 && m.panics {
			var p *int
			_ = *p
		}
		ids[i] = int32(b)
	}
	return ids, nil
}

func (m lines) Decode(_ context.Context, req sdk.DecodeRequest) ([]byte, error) {
	out := make([]byte, len(req.Tokens))
	for i, id := range req.Tokens {
		if (id < 0 || id > 255) && !m.lenientDecode {
			return nil, errors.New("id out of range")
		}
		out[i] = byte(id)
	}
	return out, nil
}

var samples = Samples{Files: []string{"testdata/a.txt", "testdata/b.txt"}, Bad: map[string][]byte{"bad.txt": {'a', 0xFF}}}

func TestRunPasses(t *testing.T) {
	Run(t, lines{calls: new(atomic.Int64)}, samples)
}

// TestRunCatches runs the suite on defective modalities in a child process
// (a failing suite fails its test) and checks what it reports.
func TestRunCatches(t *testing.T) {
	if d := os.Getenv("SDKTEST_DEFECT"); d != "" {
		m := lines{calls: new(atomic.Int64)}
		s := samples
		switch d {
		case "nondeterministic":
			m.nondeterministic = true
		case "panics":
			m.panics = true
			s.Bad = map[string][]byte{"nul.txt": {0}}
		case "lenient":
			m.lenientDecode = true
		case "ignoresOpen":
			m.ignoresOpen = true
		}
		Run(t, m, s)
		return
	}
	for defect, want := range map[string]string{
		"nondeterministic": "differs between first Prepare and second Prepare",
		"panics":           "Encode(bad input nul.txt): panicked",
		"lenient":          "Decode([256]) (id at vocab): no error",
		"ignoresOpen":      "Encode(testdata/a.txt, Open) ends with the end-of-record token 10",
	} {
		t.Run(defect, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRunCatches$")
			cmd.Env = append(os.Environ(), "SDKTEST_DEFECT="+defect)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("suite passed a modality that is %s", defect)
			}
			if !strings.Contains(string(out), want) {
				t.Errorf("suite output lacks %q:\n%s", want, out)
			}
		})
	}
}
