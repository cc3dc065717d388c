package session

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/host"
	"github.com/mambakit/mambakit/framework/train"
)

// openTiny saves a fresh one-layer model as a model directory (no record
// of its plugin) and opens it with the dna plugin.
func openTiny(t *testing.T) *Checkpoint {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "model")
	m, err := backbone.New(backbone.NewConfig(16, 16, 1), 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Save(dir); err != nil {
		t.Fatal(err)
	}
	start := func(context.Context, string) (*host.Plugin, error) { return startDNA(t), nil }
	ck, err := OpenCheckpoint(context.Background(), dir, "dna", train.Placement{Device: train.CPU}, start)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ck.Close)
	return ck
}

// TestCheckpointScoreGenerateEvaluate drives what score, generate and eval
// do, without the CLI: a CSV row per scored token, a continuation of a
// prompt (and of none), the totals over held-out files.
func TestCheckpointScoreGenerateEvaluate(t *testing.T) {
	ck := openTiny(t)
	ctx := context.Background()
	fa := []byte(">a\n" + strings.Repeat("ACGT", 10) + "\n")
	var csv bytes.Buffer
	sc, err := ck.Score(ctx, "x.fa", fa, 8, &csv)
	if err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(csv.String()), "\n")
	if rows[0] != "position,token,decoded,logprob_nats,bits" || len(rows)-1 != sc.Tokens || sc.Tokens < 40 || !(sc.Bits > 0) {
		t.Errorf("score: %d rows after the header, %+v\n%s", len(rows)-1, sc, csv.String())
	}
	for _, p := range []*Prompt{nil, {Data: []byte("ACGT"), Name: "prompt"}} {
		g, err := ck.Generate(ctx, p, 6, backbone.Sampling{Temperature: 0}, false)
		if err != nil {
			t.Fatal(err)
		}
		if g.Tokens != 6 || (p != nil && (g.PromptTokens == 0 || !bytes.Contains(g.Data, []byte("ACGT")))) {
			t.Errorf("prompt %v: %d tokens after a %d-token prompt, %q", p, g.Tokens, g.PromptTokens, g.Data)
		}
	}
	in := filepath.Join(t.TempDir(), "held.fa")
	os.WriteFile(in, []byte(">a\n"+strings.Repeat("ACGT", 30)+"\n>b\n"+strings.Repeat("GGCA", 30)+"\n"), 0o644)
	e, err := ck.EvaluateFiles(ctx, []string{in}, 2, 16)
	if err != nil {
		t.Fatal(err)
	}
	if e.Tokens < 200 || !(e.BitsPerUnit > 0) {
		t.Errorf("evaluate: %+v", e)
	}
}
