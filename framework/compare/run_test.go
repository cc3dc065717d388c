package compare

import (
	"path/filepath"
	"slices"
	"testing"
)

// TestJob checks that a run's process gets the budget, its variant, seed
// and threads in its configuration, and the command line of a new and of
// a resumed run.
func TestJob(t *testing.T) {
	s := Quick()
	s.Modalities[0].Data = []string{"a.fa", "b.fa"}
	s.Modalities[0].Options = map[string]string{"z": "1", "a": "2"}
	r := s.Runs("out")[1] // dna, LTI
	j, err := newJob(s, r, 3)
	if err != nil {
		t.Fatal(err)
	}
	c := j.Config
	if c.DModel != 64 || c.Steps != 150 || c.BaselineOrder != 3 || c.Seed != 1 || c.Threads != 3 ||
		!slices.Equal(c.NonSelective, []string{"delta", "B", "C"}) || c.Complex || c.EvalTokens != 32768 {
		t.Errorf("config %+v", c)
	}
	want := []string{"train", "--modality", "dna", "--out", r.Dir, "--config", filepath.Join(r.Dir, configFile),
		"--data", "a.fa", "--data", "b.fa", "--option", "a=2", "--option", "z=1"}
	if got := j.args(); !slices.Equal(got, want) {
		t.Errorf("args %q, want %q", got, want)
	}
	j.Resume = true
	if got := j.args(); !slices.Equal(got, []string{"train", "--resume", r.Dir}) {
		t.Errorf("resume args %q", got)
	}
	s.Budget["stepz"] = 3
	if _, err := newJob(s, r, 1); err == nil {
		t.Error("a misspelt budget key: no error")
	}
}
