package session

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
)

// MaxSamples bounds the samples of one generation (rows of one step): a
// row holds the model's whole recurrent state (for the 130M shape about
// 2.4 MB on the CPU) and a row of logits.
const MaxSamples = 4096

// Label names the prompt in messages: its file (and line), "prompt" for
// text given on the command line, "no prompt" for none (nil).
func (p *Prompt) Label() string {
	if p == nil {
		return "no prompt"
	}
	return p.Name
}

// PromptLines reads a file of prompts, one per line (a final line break,
// "\r\n" line ends and blank lines are allowed), each named "name line N".
func PromptLines(b []byte, name string) ([]*Prompt, error) {
	var ps []*Prompt
	for i, line := range bytes.Split(b, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		ps = append(ps, &Prompt{Data: bytes.Clone(line), Name: fmt.Sprintf("%s line %d", name, i+1)})
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("%s: no prompts (one a line, blank lines skipped)", name)
	}
	return ps, nil
}

// Repeat returns each prompt n times in turn (p1 n times, then p2, ...):
// the rows of a generation of n samples a prompt.
func Repeat(ps []*Prompt, n int) ([]*Prompt, error) {
	if n < 1 || len(ps) == 0 || len(ps)*n > MaxSamples {
		return nil, fmt.Errorf("%d prompts × %d samples each: want 1 to %d samples in all", len(ps), n, MaxSamples)
	}
	rows := make([]*Prompt, 0, len(ps)*n)
	for _, p := range ps {
		for range n {
			rows = append(rows, p)
		}
	}
	return rows, nil
}

// SamplePath is the file of sample i (from 0) of n written for -o out:
// out itself when n is 1, else out with "-(i+1)" before its extension
// (music.wav: music-1.wav, music-2.wav, ...), numbered to a fixed width
// so the files sort in order.
func SamplePath(out string, i, n int) string {
	if n == 1 {
		return out
	}
	ext := filepath.Ext(out)
	w := len(fmt.Sprint(n))
	return fmt.Sprintf("%s-%0*d%s", strings.TrimSuffix(out, ext), w, i+1, ext)
}
