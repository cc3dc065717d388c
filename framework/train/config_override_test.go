package train

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOverride: only the settings named are taken from the other
// configuration.
func TestOverride(t *testing.T) {
	c, o := Defaults(), Defaults()
	o.Steps, o.LR, o.SeqLen, o.BLAS, o.Preset = 7, 0.5, 32, "go", "tiny"
	c.Override(o, map[string]bool{"steps": true, "seq_len": true, "blas": true})
	if c.Steps != 7 || c.SeqLen != 32 || c.BLAS != "go" {
		t.Errorf("steps %d, seq_len %d, blas %q: want 7, 32, go", c.Steps, c.SeqLen, c.BLAS)
	}
	if d := Defaults(); c.LR != d.LR || c.Preset != d.Preset {
		t.Errorf("lr %v, preset %q changed without being named", c.LR, c.Preset)
	}
}

func TestFreeRunDir(t *testing.T) {
	base := filepath.Join(t.TempDir(), "dna")
	if got := FreeRunDir(base); got != base {
		t.Errorf("empty: %s, want %s", got, base)
	}
	os.MkdirAll(base, 0o755)
	os.WriteFile(filepath.Join(base, "metrics.jsonl"), nil, 0o644)
	if got := FreeRunDir(base); got != base+"-2" {
		t.Errorf("base holds a run: %s, want %s-2", got, base)
	}
}

func TestResumes(t *testing.T) {
	for key, want := range map[string]bool{"steps": true, "eval_every": true, "threads": true, "blas": true,
		"lr": false, "seq_len": false, "preset": false, "seed": false, "init_from": false, "tbptt": false} {
		if Resumes(key) != want {
			t.Errorf("Resumes(%q) = %v, want %v", key, !want, want)
		}
	}
}
