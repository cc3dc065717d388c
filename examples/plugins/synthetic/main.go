// Command synthetic is a mambakit plugin with the Mamba paper's synthetic
// tasks (Section 4.1), written only against sdk:
//
//   - selective copying: a context of `length` tokens, noise except
//     `tokens` content tokens at random positions, then the answer marker
//     and those content tokens in order;
//   - induction heads: `length` random content tokens, among them once the
//     trigger followed by a key token, and at the end the trigger again,
//     after which the answer is the key.
//
// Inputs are task files, lines of key=value (testdata/*.task). The answer
// marker is Special["answer"]: the tokens after its last occurrence in an
// example are the answers, and mambakit reports the accuracy on them.
//
//	go build -o plugins/mambakit-plugin-synthetic ./examples/plugins/synthetic
//	export MAMBAKIT_PLUGIN_PATH=$PWD/plugins
//	mambakit train --modality synthetic --data examples/plugins/synthetic/testdata/copying.task --tbptt --seq-len 37
package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/mambakit/mambakit/sdk"
)

// Token ids: 0 noise, 1 the answer marker (the trigger in induction heads),
// 2..15 content. As text, one character each: '.', '|', 'a'..'n'.
const (
	noise, marker, firstContent, vocab = 0, 1, 2, 16
	symbols                            = ".|abcdefghijklmn"
)

type synthetic struct{}

func (synthetic) Describe(context.Context) (sdk.Info, error) {
	return sdk.Info{Name: "synthetic", Version: "0.1.0", Kind: sdk.KindDiscrete, VocabSize: vocab,
		Special: map[string]int32{"answer": marker}, Unit: "token", UnitsPerToken: 1,
		FileTypes: []string{".task"}}, nil
}

// task is a parsed task file.
type task struct {
	kind                     string
	examples, length, tokens int
	seed                     uint64
}

func parseTask(data []byte) (task, error) {
	t := task{examples: 1000, length: 256, tokens: 16}
	for n, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return t, fmt.Errorf("line %d: %q is not key=value", n+1, line)
		}
		if k == "task" {
			t.kind = v
			continue
		}
		x, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return t, fmt.Errorf("line %d: %s=%q is not a number", n+1, k, v)
		}
		switch k {
		case "examples":
			t.examples = int(x)
		case "length":
			t.length = int(x)
		case "tokens":
			t.tokens = int(x)
		case "seed":
			t.seed = x
		default:
			return t, fmt.Errorf("line %d: unknown key %q (task, examples, length, tokens, seed)", n+1, k)
		}
	}
	switch {
	case t.kind != "selective-copying" && t.kind != "induction-heads":
		return t, fmt.Errorf("task %q: want selective-copying or induction-heads", t.kind)
	case t.examples < 1 || t.examples > 1e6 || t.length < 4 || t.length > 1<<20:
		return t, fmt.Errorf("examples %d, length %d: want 1..1e6 examples of length 4..2^20", t.examples, t.length)
	case t.kind == "selective-copying" && (t.tokens < 1 || t.tokens > t.length):
		return t, fmt.Errorf("tokens %d: want 1..length", t.tokens)
	}
	return t, nil
}

// generate makes the task's examples, deterministically from seed.
func (t task) generate(seed uint64) []sdk.Tokens {
	r := rand.New(rand.NewPCG(seed, t.seed))
	out := make([]sdk.Tokens, t.examples)
	for i := range out {
		ex := make(sdk.Tokens, t.length, t.length+t.tokens+2)
		if t.kind == "selective-copying" {
			var answer sdk.Tokens
			for _, p := range r.Perm(t.length)[:t.tokens] {
				ex[p] = int32(firstContent + r.IntN(vocab-firstContent))
			}
			for _, v := range ex {
				if v != noise {
					answer = append(answer, v)
				}
			}
			out[i] = append(append(ex, marker), answer...)
			continue
		}
		for j := range ex {
			ex[j] = int32(firstContent + r.IntN(vocab-firstContent))
		}
		p := r.IntN(t.length - 2)
		ex[p] = marker
		out[i] = append(ex, marker, ex[p+1])
	}
	return out
}

func (s synthetic) Prepare(ctx context.Context, req sdk.PrepareRequest) (sdk.Dataset, error) {
	return sdk.PrepareFiles(ctx, req, []string{".task"}, func(name string, data []byte) ([]sdk.Doc, error) {
		t, err := parseTask(data)
		if err != nil {
			return nil, err
		}
		var docs []sdk.Doc
		for _, ex := range t.generate(req.Seed) {
			docs = append(docs, sdk.Doc{Tokens: ex, Units: int64(len(ex))})
		}
		return docs, nil
	})
}

// Encode generates the examples of a task file (seed 1), or reads the text
// form that Decode writes.
func (synthetic) Encode(_ context.Context, req sdk.EncodeRequest) (sdk.Tokens, error) {
	if bytes.HasPrefix(bytes.TrimSpace(req.Data), []byte("task=")) {
		t, err := parseTask(req.Data)
		if err != nil {
			return nil, err
		}
		var all sdk.Tokens
		for _, ex := range t.generate(1) {
			all = append(all, ex...)
		}
		return all, nil
	}
	var out sdk.Tokens
	for i, c := range bytes.TrimRight(req.Data, "\n") {
		j := strings.IndexByte(symbols, c)
		if j < 0 {
			return nil, fmt.Errorf("byte %d (%q) is not a task symbol %q", i, c, symbols)
		}
		out = append(out, int32(j))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty input: want a task file or task symbols")
	}
	return out, nil
}

func (synthetic) Decode(_ context.Context, req sdk.DecodeRequest) ([]byte, error) {
	out := make([]byte, 0, len(req.Tokens)+1)
	for i, id := range req.Tokens {
		if id < 0 || id >= vocab {
			return nil, fmt.Errorf("token %d at %d is outside the vocabulary of %d", id, i, vocab)
		}
		out = append(out, symbols[id])
	}
	return append(out, '\n'), nil
}

func main() { sdk.Serve(synthetic{}) }
