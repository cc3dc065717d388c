package session

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/sdk"
)

// trained is a built-in modality with a tiny model trained on its test
// data for a few steps.
type trained struct {
	p     *host.Plugin
	s     *Session
	m     train.Model
	run   string
	codec map[string]string
}

// trainBuiltin prepares inputs with the named built-in and trains a tiny
// model on them for steps steps, with a sample at the end.
func trainBuiltin(t *testing.T, name string, inputs []string, opts map[string]string, steps int) trained {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	p := startBuiltin(t, name)
	t.Cleanup(p.Close)
	s, err := Open(ctx, p, inputs, opts, filepath.Join(dir, "data"), 1, 0.2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	c := train.Defaults()
	c.Preset = ""
	c.DModel, c.Layers, c.DState = 32, 2, 8
	c.Steps, c.SeqLen, c.Batch, c.LR = steps, 64, 8, 1e-2
	c.EvalEvery, c.SaveEvery, c.LogEvery, c.EvalTokens = steps, steps, steps, 256
	c.SampleTokens, c.BaselineOrder, c.Threads = 16, -1, 2
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	run := filepath.Join(dir, "run")
	if _, err := train.Start(ctx, s.Run(run, c, io.Discard)); err != nil {
		t.Fatal(err)
	}
	m, _, err := train.OpenModel(run, train.Placement{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return trained{p: p, s: s, m: m, run: run, codec: CodecOptions(opts, s.Dir, s.Manifest.Artifacts)}
}

// continueGreedy encodes prompt as generate does and continues it
// greedily for n tokens. It checks that the prompt is left open and that
// the model goes on in the same record for all n tokens: no end of record
// (at the first step, as a closed prompt would give, or later).
func (tr trained) continueGreedy(t *testing.T, prompt []byte, name string, n int) (sdk.Tokens, Generated) {
	t.Helper()
	ctx := context.Background()
	ends := StopTokens(tr.p.Info.Special)
	ids, err := EncodePrompt(ctx, tr.p.Encode, tr.p.Info.Special, sdk.EncodeRequest{Data: prompt, Name: name, Options: tr.codec})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) == 0 || slices.Contains(ends, ids[len(ids)-1]) {
		t.Fatalf("the encoded prompt (%d tokens) ends a record", len(ids))
	}
	s := backbone.Sampling{Vocab: tr.s.Manifest.VocabSize, Stop: ends, DocEnds: ends}
	gen, err := train.Generate(tr.m, ids, n, s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cont := gen[len(ids):]; len(cont) != n || slices.ContainsFunc(cont, func(id int32) bool { return slices.Contains(ends, id) }) {
		t.Fatalf("greedy continuation %v: want %d tokens in the prompt's record, no end of record (%v)", cont, n, ends)
	}
	g, err := DecodeGenerated(ctx, tr.s.Decode, tr.p.Info, gen, len(ids))
	if err != nil {
		t.Fatal(err)
	}
	if g.Boundary.PromptTokens != len(ids) || g.Boundary.Tokens != len(gen) {
		t.Errorf("boundary %+v, want %d prompt tokens of %d", g.Boundary, len(ids), len(gen))
	}
	return ids, g
}

// checkSample checks the sample the run wrote and its boundary sidecar.
func (tr trained) checkSample(t *testing.T) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(tr.run, "samples", "step-*"+SampleExt(tr.p.Info.Unit)))
	if len(files) != 1 {
		t.Fatalf("samples: %v, want one", files)
	}
	b, err := os.ReadFile(files[0] + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var bd Boundary
	if err := json.Unmarshal(b, &bd); err != nil {
		t.Fatal(err)
	}
	if bd.PromptTokens < 1 || bd.Tokens <= bd.PromptTokens || bd.PromptUnits < 1 || bd.Unit != tr.p.Info.Unit {
		t.Errorf("%s.json: %+v", files[0], bd)
	}
}

func TestDNAPromptContinues(t *testing.T) {
	const fa = "../../plugins/dna/testdata/ecoli_536_sample.fa"
	tr := trainBuiltin(t, "dna", []string{fa}, map[string]string{"doc_len": "200"}, 60)
	tr.checkSample(t)
	raw, err := os.ReadFile(fa)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	seq := strings.Join(lines[1:4], "") // the first 240 bases of E. coli 536
	prompt := ">p\n" + seq[:120] + "\n"
	_, g := tr.continueGreedy(t, []byte(prompt), "prompt", 60)
	if n := bytes.Count(g.Data, []byte(">")); n != 1 || !strings.HasPrefix(string(g.Data), ">seq1\n"+seq[:80]) {
		t.Errorf("decoded %d records, want the prompt's one continued:\n%s", n, g.Data)
	}
	if g.Boundary.PromptUnits != 120 {
		t.Errorf("the continuation starts at base %d, want 120", g.Boundary.PromptUnits)
	}

	// The true continuation of the prompt scores better than uniform over
	// the vocabulary (log2 12 = 3.58 bits per base) by a bit at least. (A
	// model this small, trained for a second on 4.8 kb, gets near 2 bits,
	// the four bases' entropy; beating 2 needs more data than a test has.)
	ctx := context.Background()
	ids, err := EncodePrompt(ctx, tr.p.Encode, tr.p.Info.Special, sdk.EncodeRequest{Data: []byte(">p\n" + seq[:180]), Name: "truth", Options: tr.codec})
	if err != nil {
		t.Fatal(err)
	}
	var nats float64
	err = train.Score(ctx, tr.m, ids, 64, func(pos int, lp float64) error {
		if pos >= 120 {
			nats -= lp
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	uniform := math.Log2(float64(tr.p.Info.VocabSize))
	if bits := nats / math.Ln2 / 60; !(bits < uniform-1) {
		t.Errorf("the true continuation of the E. coli prompt: %.3f bits per base, want < %.3f (uniform over the vocabulary, less a bit)", bits, uniform-1)
	} else {
		t.Logf("the true continuation of the E. coli prompt: %.3f bits per base (uniform over the vocabulary: %.3f)", bits, uniform)
	}

	// Without a prompt, generation starts from [SEP], which ends every
	// document in training, and the first token is a base.
	start := StartToken(tr.p.Info.Special)
	if start != 1 {
		t.Errorf("StartToken = %d, want [SEP] (1), not [BOS] (2), which no document holds", start)
	}
	out, err := train.Generate(tr.m, []int32{start}, 8, backbone.Sampling{Vocab: 12, DocEnds: []int32{start}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if first := out[1]; first < 7 || first > 10 {
		t.Errorf("generation without a prompt: %v; want a base (7..10) first", out)
	}
}

func TestTextPromptContinues(t *testing.T) {
	tr := trainBuiltin(t, "text", []string{"../../plugins/text/testdata/sample.txt"}, nil, 40)
	tr.checkSample(t)
	const prompt = "The jury said"
	_, g := tr.continueGreedy(t, []byte(prompt), "prompt", 12)
	if !strings.HasPrefix(string(g.Data), prompt) || g.Boundary.PromptUnits != int64(len(prompt)) || !bytes.HasSuffix(g.Data, []byte("\n")) {
		t.Errorf("decoded %q, boundary %+v: want the prompt, its continuation and a line break", g.Data, g.Boundary)
	}
}

func TestAudioPromptContinues(t *testing.T) {
	const dir = "../../plugins/audio/testdata" // the spoken digits: the WAVs beside the codec fixtures
	clips, err := filepath.Glob(filepath.Join(dir, "*_en-*.wav"))
	if err != nil || len(clips) == 0 {
		t.Fatalf("no spoken-digit clips in %s (%v)", dir, err)
	}
	tr := trainBuiltin(t, "audio", clips, nil, 20)
	tr.checkSample(t)
	wav, err := os.ReadFile(filepath.Join(dir, "three_en-029_f2_s140_p35.wav"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	ids, g := tr.continueGreedy(t, wav, "three.wav", n)
	if g.Boundary.PromptUnits != int64(len(ids)) || len(g.Data) != 44+2*(len(ids)+n) {
		t.Errorf("boundary %+v, WAV of %d bytes: want the %d prompt samples, then %d, in one clip", g.Boundary, len(g.Data), len(ids), n)
	}
}

// closer is the Encode of a plugin from before EncodeRequest.Open: it
// ignores the field and ends every record.
func closer(encode func(context.Context, sdk.EncodeRequest) (sdk.Tokens, error)) func(context.Context, sdk.EncodeRequest) (sdk.Tokens, error) {
	return func(ctx context.Context, req sdk.EncodeRequest) (sdk.Tokens, error) {
		req.Open = false
		return encode(ctx, req)
	}
}

// TestEncodePromptCopesWithOldPlugins checks that the host leaves a prompt
// open when the plugin does not.
func TestEncodePromptCopesWithOldPlugins(t *testing.T) {
	ctx := context.Background()
	p := startDNA(t)
	t.Cleanup(p.Close)
	req := sdk.EncodeRequest{Data: []byte(">a\nACGT\n>b\nGG\n"), Name: "x.fa"}
	closed, err := p.Encode(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if want := (sdk.Tokens{7, 8, 9, 10, 1, 9, 9, 1}); !slices.Equal(closed, want) {
		t.Fatalf("Encode = %v, want %v", closed, want)
	}
	for name, encode := range map[string]func(context.Context, sdk.EncodeRequest) (sdk.Tokens, error){"current": p.Encode, "old": closer(p.Encode)} {
		ids, err := EncodePrompt(ctx, encode, p.Info.Special, req)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ids, closed[:len(closed)-1]) {
			t.Errorf("%s plugin: EncodePrompt = %v, want %v", name, ids, closed[:len(closed)-1])
		}
	}
}
