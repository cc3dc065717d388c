package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerateBatch: a file of prompts, two samples each, made at once:
// one file a sample (-o gen.txt: gen-1.txt ... gen-4.txt, each with its
// boundary), each continuing its own prompt; greedy samples of one prompt
// agree; without -o, stdout holds every sample under a header.
func TestGenerateBatch(t *testing.T) {
	dir := t.TempDir()
	prompts := filepath.Join(dir, "prompts.txt")
	os.WriteFile(prompts, []byte("The cat\n\nA dog\n"), 0o644)
	gen := filepath.Join(dir, "gen.txt")
	run(t, "generate", "--checkpoint", hfModel, "--prompts", prompts, "--batch", "2", "--tokens", "6", "--temperature", "0", "-o", gen)
	var got [4][]byte
	for i, want := range []string{"The cat", "The cat", "A dog", "A dog"} {
		p := filepath.Join(dir, "gen-"+string(rune('1'+i))+".txt")
		b, err := os.ReadFile(p)
		if err != nil || !bytes.HasPrefix(b, []byte(want)) || len(b) <= len(want)+1 {
			t.Fatalf("sample %d: %q, %v; want a continuation of %q", i+1, b, err, want)
		}
		if j, err := os.ReadFile(p + ".json"); err != nil || !bytes.Contains(j, []byte(`"prompt_tokens"`)) {
			t.Errorf("sample %d's boundary: %s, %v", i+1, j, err)
		}
		got[i] = b
	}
	if !bytes.Equal(got[0], got[1]) || !bytes.Equal(got[2], got[3]) {
		t.Errorf("greedy samples of one prompt differ: %q", got)
	}
	if _, err := os.Stat(gen); err == nil {
		t.Errorf("%s written beside the numbered samples", gen)
	}
	out := run(t, "generate", "--checkpoint", hfModel, "--prompt", "The cat", "--batch", "3", "--tokens", "4", "--seed", "5")
	for i, seed := range []string{"5", "6", "7"} {
		h := "==> sample " + string(rune('1'+i)) + " of 3 (prompt, seed " + seed + ") <==\nThe cat"
		if !strings.Contains(out, h) {
			t.Errorf("stdout lacks %q:\n%s", h, out)
		}
	}
}
