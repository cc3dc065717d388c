package session

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

func TestPromptLines(t *testing.T) {
	ps, err := PromptLines([]byte("ACGT\r\n\n  \nGG CA\nTTT"), "p.txt")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.Name+"="+string(p.Data))
	}
	if want := "p.txt line 1=ACGT|p.txt line 4=GG CA|p.txt line 5=TTT"; strings.Join(got, "|") != want {
		t.Errorf("got %q, want %q", strings.Join(got, "|"), want)
	}
	if _, err := PromptLines([]byte("\n \r\n"), "empty.txt"); err == nil || !strings.Contains(err.Error(), "empty.txt: no prompts") {
		t.Errorf("blank file: %v", err)
	}
}

func TestRepeat(t *testing.T) {
	a, b := &Prompt{Name: "a"}, &Prompt{Name: "b"}
	rows, err := Repeat([]*Prompt{a, b}, 3)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rows {
		names = append(names, r.Label())
	}
	if got := strings.Join(names, ""); got != "aaabbb" {
		t.Errorf("rows %q, want aaabbb", got)
	}
	if rows, err := Repeat([]*Prompt{nil}, 2); err != nil || len(rows) != 2 || rows[0].Label() != "no prompt" {
		t.Errorf("no prompt twice: %v, %v", rows, err)
	}
	for _, n := range []int{0, MaxSamples/2 + 1} {
		if _, err := Repeat([]*Prompt{a, b}, n); err == nil || !strings.Contains(err.Error(), "samples in all") {
			t.Errorf("2 prompts × %d: %v", n, err)
		}
	}
}

func TestSamplePath(t *testing.T) {
	for _, c := range []struct {
		out  string
		i, n int
		want string
	}{
		{"music.wav", 0, 1, "music.wav"},
		{"music.wav", 0, 3, "music-1.wav"},
		{"out/music.wav", 9, 12, "out/music-10.wav"},
		{"out/music.wav", 0, 12, "out/music-01.wav"},
		{"dir.v2/sample", 1, 2, "dir.v2/sample-2"},
		{"gen.fa", 255, 256, "gen-256.fa"},
	} {
		if got := SamplePath(c.out, c.i, c.n); got != c.want {
			t.Errorf("SamplePath(%q, %d, %d) = %q, want %q", c.out, c.i, c.n, got, c.want)
		}
	}
}

// TestCheckpointGenerateBatch: several prompts (and none) with two samples
// each, made at once, give per row what Generate gives for that prompt
// with the row's seed.
func TestCheckpointGenerateBatch(t *testing.T) {
	ck := openTiny(t)
	ctx := context.Background()
	rows, err := Repeat([]*Prompt{nil, {Data: []byte("ACGT"), Name: "prompt"}, {Data: []byte("GGGGCA"), Name: "p2"}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	s := backbone.Sampling{Temperature: 1, Seed: 11}
	gs, err := ck.GenerateBatch(ctx, rows, 7, s, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 6 {
		t.Fatalf("%d generations for 6 rows", len(gs))
	}
	for i, p := range rows {
		one := s
		one.Seed = s.Seed + uint64(i)
		want, err := ck.Generate(ctx, p, 7, one, false)
		if err != nil {
			t.Fatal(err)
		}
		g := gs[i]
		if !bytes.Equal(g.Data, want.Data) || g.Tokens != want.Tokens || g.PromptTokens != want.PromptTokens || g.Boundary != want.Boundary {
			t.Errorf("row %d (%s): batch %q (%d after %d), alone %q (%d after %d)", i, p.Label(), g.Data, g.Tokens, g.PromptTokens, want.Data, want.Tokens, want.PromptTokens)
		}
	}
	if gs[0].Seconds != gs[5].Seconds || !(gs[0].Rate > 0) {
		t.Errorf("batch time %v and %v, rate %v: want one time for the batch", gs[0].Seconds, gs[5].Seconds, gs[0].Rate)
	}
	if g := gs[0]; !(g.FirstToken > 0 && g.FirstToken < g.Seconds && g.NewRate > 0) {
		t.Errorf("first token after %vs of %vs, then %v tokens/s: want 0 < first < all, a rate after it", g.FirstToken, g.Seconds, g.NewRate)
	}
}

// FuzzPromptLines: any file of prompts gives an error or prompts that are
// the file's non-blank lines in order, each named by its line.
func FuzzPromptLines(f *testing.F) {
	f.Add([]byte("The cat\nA dog\n"))
	f.Add([]byte("\r\n\n  x\r\n"))
	f.Add([]byte{0xff, '\n', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := PromptLines(b, "p.txt")
		if err != nil {
			if len(bytes.TrimSpace(b)) != 0 {
				t.Errorf("%q: %v, but it is not blank", b, err)
			}
			return
		}
		for _, p := range ps {
			if len(bytes.TrimSpace(p.Data)) == 0 || bytes.ContainsRune(p.Data, '\n') || !strings.HasPrefix(p.Name, "p.txt line ") {
				t.Errorf("%q: prompt %q named %q", b, p.Data, p.Name)
			}
			if !bytes.Contains(b, p.Data) {
				t.Errorf("%q: prompt %q is not in the file", b, p.Data)
			}
		}
	})
}

// TestWriteGeneratedMakesItsDirectory: -o samples/gen.wav works when
// samples/ does not exist yet, sample and boundary both written.
func TestWriteGeneratedMakesItsDirectory(t *testing.T) {
	p := filepath.Join(t.TempDir(), "samples", "deeper", "gen.txt")
	if err := WriteGenerated(p, Generated{Data: []byte("hi\n"), Boundary: Boundary{Tokens: 3, Unit: "byte"}}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p, p + ".json"} {
		if _, err := os.Stat(f); err != nil {
			t.Error(err)
		}
	}
}
