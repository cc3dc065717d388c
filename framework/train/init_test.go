package train

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// firstLoss is the training loss of a run's first step: the loss of the
// model the run started from.
func firstLoss(t *testing.T, dir string) float64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var m Metric
	if err := json.Unmarshal([]byte(strings.SplitN(string(b), "\n", 2)[0]), &m); err != nil || m.Step != 1 {
		t.Fatalf("first metrics line: %+v, %v", m, err)
	}
	return m.Loss
}

// TestInitFrom: a run started from a trained run's directory begins where
// that model is (its first loss far below a new model's), takes the
// model's sizes over the preset, starts its optimizer afresh, records
// where it started, and writes the special ids to config.json and
// mambakit.json.
func TestInitFrom(t *testing.T) {
	c := testConfig(30)
	c.EvalEvery, c.SaveEvery = 30, 30
	trained := t.TempDir()
	if _, err := Start(context.Background(), testRun(t, trained, c)); err != nil {
		t.Fatal(err)
	}
	fresh := t.TempDir()
	c1 := testConfig(1)
	if _, err := Start(context.Background(), testRun(t, fresh, c1)); err != nil {
		t.Fatal(err)
	}

	tuned := t.TempDir()
	c2 := Defaults() // the small preset: its sizes give way to the model's
	c2.Steps, c2.SeqLen, c2.Batch, c2.EvalTokens, c2.SampleTokens, c2.Threads = 1, 24, 3, 200, 0, 2
	if _, err := c2.InitFromDir(trained); err != nil {
		t.Fatal(err)
	}
	if err := c2.Resolve(); err != nil {
		t.Fatal(err)
	}
	if c2.DModel != 16 || c2.Layers != 2 || c2.DState != 4 || c2.Preset != "" {
		t.Fatalf("adopted sizes: d_model %d, layers %d, d_state %d, preset %q; want the model's 16, 2, 4", c2.DModel, c2.Layers, c2.DState, c2.Preset)
	}
	r := testRun(t, tuned, c2)
	r.Special = map[string]int32{"eos": 7, "pad": 9}
	if _, err := Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	if lt, lf := firstLoss(t, tuned), firstLoss(t, fresh); lt > 0.7*lf {
		t.Errorf("first loss from the trained model %.3f, from a new one %.3f: the weights were not loaded", lt, lf)
	}
	ck, err := LatestCheckpoint(tuned)
	if err != nil {
		t.Fatal(err)
	}
	ts, err := readTrainerState(ck)
	if err != nil {
		t.Fatal(err)
	}
	if ts.OptSteps != 1 {
		t.Errorf("optimizer steps %d after one step: the optimizer state was not fresh", ts.OptSteps)
	}
	src, _ := LatestCheckpoint(trained)
	if abs, _ := filepath.Abs(src); ts.Config.InitFrom != abs {
		t.Errorf("trainer.json init_from %q, want %q", ts.Config.InitFrom, abs)
	}
	if y, _ := os.ReadFile(filepath.Join(tuned, "config.yaml")); !strings.Contains(string(y), "init_from: "+ts.Config.InitFrom) {
		t.Errorf("config.yaml does not record init_from:\n%s", y)
	}
	if ev, _ := os.ReadFile(filepath.Join(tuned, EventsLog)); !strings.Contains(string(ev), "started from the model in") {
		t.Errorf("events.log does not say where the run started:\n%s", ev)
	}
	mc, err := backbone.ReadConfig(filepath.Join(ck, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if mc.EOSTokenID != 7 || mc.BOSTokenID != 7 || mc.PadTokenID != 9 {
		t.Errorf("config.json bos %d eos %d pad %d, want 7 7 9", mc.BOSTokenID, mc.EOSTokenID, mc.PadTokenID)
	}
	rec, ok, err := readModelRecord(ck)
	if err != nil || !ok || rec.Modality.Name != "synthetic" || rec.VocabSize != 11 || rec.Special["pad"] != 9 {
		t.Errorf("mambakit.json: %+v, %v, %v", rec, ok, err)
	}
}

// TestInitFromRefusesConflicts: sizes that disagree with the model are
// refused naming each; the defaults and the model's own values pass.
func TestInitFromRefusesConflicts(t *testing.T) {
	mc := backbone.NewConfig(11, 16, 2)
	mc.StateSize = 4
	for _, tc := range []struct {
		edit func(c *Config)
		want string // "" : accepted
	}{
		{func(c *Config) {}, ""},
		{func(c *Config) { c.DModel, c.Layers = 16, 2 }, ""},
		{func(c *Config) { c.Preset = "base" }, "preset base"},
		{func(c *Config) { c.DModel = 64 }, "d_model 64 (the model's: 16)"},
		{func(c *Config) { c.Expand = 4 }, "expand 4 (the model's: 2)"},
		{func(c *Config) { c.Complex = true }, "complex"},
		{func(c *Config) { c.NonSelective = []string{"B"} }, "nonselective [B]"},
	} {
		c := Defaults()
		tc.edit(&c)
		err := c.AdoptModel("/m", &mc)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.want, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("want an error naming %q, got %v", tc.want, err)
		}
	}
}

// TestInitFromVocabulary: a dataset vocabulary larger than the model's
// embedding, or one far smaller (another tokenizer), is refused naming
// both sizes; padding rows are accepted.
func TestInitFromVocabulary(t *testing.T) {
	for _, tc := range []struct {
		n, rows int
		want    string
	}{
		{50277, 50280, ""},
		{11, 16, ""},
		{2000, 2008, ""},
		{257, 2008, "257 token ids, the model in m 2008 embedding rows"},
		{4096, 2008, "4096 token ids, the model in m only 2008"},
	} {
		err := CheckVocab("the data", tc.n, "m", tc.rows)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("CheckVocab(%d, %d) = %v, want %q", tc.n, tc.rows, err, tc.want)
		}
	}
	trained := t.TempDir()
	if _, err := Start(context.Background(), testRun(t, trained, testConfig(1))); err != nil {
		t.Fatal(err)
	}
	c := testConfig(1)
	if _, err := c.InitFromDir(trained); err != nil {
		t.Fatal(err)
	}
	r := testRun(t, t.TempDir(), c)
	r.VocabSize = 40
	if _, err := Start(context.Background(), r); err == nil || !strings.Contains(err.Error(), "40 token ids") || !strings.Contains(err.Error(), "only 16 embedding rows") {
		t.Fatalf("init from an 11-token model on 40-token data: %v", err)
	}
}

// TestReadRunInfoModelDir: a checkpoint copied without trainer.json is a
// model directory that still names its modality (mambakit.json); a bare
// Hugging Face directory names none; anything else is refused saying what
// was looked for.
func TestReadRunInfoModelDir(t *testing.T) {
	run := t.TempDir()
	r := testRun(t, run, testConfig(1))
	r.PrepareOptions = map[string]string{"k": "v"}
	if _, err := Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	ck, _ := LatestCheckpoint(run)
	copied := t.TempDir()
	for _, f := range []string{"config.json", "model.safetensors", ModelRecordFile} {
		b, err := os.ReadFile(filepath.Join(ck, f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(copied, f), b, 0o644)
	}
	info, err := ReadRunInfo(copied)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Model || info.Modality.Name != "synthetic" || info.VocabSize != 11 || info.PrepareOptions["k"] != "v" || info.Config.DModel != 16 {
		t.Errorf("copied checkpoint: %+v", info)
	}
	os.Remove(filepath.Join(copied, ModelRecordFile))
	if info, err = ReadRunInfo(copied); err != nil || info.Modality.Name != "" || !info.Model {
		t.Errorf("bare model directory: %+v, %v", info, err)
	}
	if _, err := ReadRunInfo(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no config.json") {
		t.Errorf("empty directory: %v", err)
	}
}

func FuzzModelRecord(f *testing.F) {
	f.Add([]byte(`{"format":1,"modality":{"name":"dna","version":"0.1.0","unit":"base"},"vocab_size":12,"special":{"eos":1,"pad":4}}`))
	f.Add([]byte(`{"format":1,"modality":{"name":"text"},"vocab_size":2000,"prepare_options":{"doc":"line"},"special":{"eos":0}}`))
	f.Add([]byte(`{"format":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, err := parseModelRecord(b)
		if err != nil {
			return
		}
		if rec.VocabSize < 1 || rec.Modality.Name == "" {
			t.Fatalf("accepted %+v", rec)
		}
		for name, id := range rec.Special {
			if id < 0 || int(id) >= rec.VocabSize {
				t.Fatalf("accepted special %s = %d of %d", name, id, rec.VocabSize)
			}
		}
	})
}
