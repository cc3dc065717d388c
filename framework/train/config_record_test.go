package train

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestConfigYAMLIsAConfig: a run's config.yaml, with what it records
// beside the settings, reads back as the run's resolved configuration, so
// it can start a new run (--config).
func TestConfigYAMLIsAConfig(t *testing.T) {
	dir := t.TempDir()
	r := testRun(t, dir, testConfig(3))
	if _, err := Start(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	got, err := ReadConfig(filepath.Join(dir, "config.yaml"))
	if err != nil {
		t.Fatalf("the run's config.yaml as --config: %v", err)
	}
	got.NonSelective = nil // YAML's [] for none
	if want := testConfig(3); !reflect.DeepEqual(got, want) {
		t.Errorf("config.yaml reads back as\n%+v\nwant\n%+v", got, want)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if !strings.Contains(string(b), "\nmambakit:\n    version: ") {
		t.Errorf("config.yaml does not record the build:\n%s", b)
	}
}

// TestTrainerJSONSnakeCase: trainer.json names the settings as config.yaml
// does and records the build; one written with Go field names (before
// November 2026) still reads as the same configuration.
func TestTrainerJSONSnakeCase(t *testing.T) {
	dir := t.TempDir()
	if _, err := Start(context.Background(), testRun(t, dir, testConfig(3))); err != nil {
		t.Fatal(err)
	}
	ck, _ := LatestCheckpoint(dir)
	path := filepath.Join(ck, trainerJSON)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	json.Unmarshal(b, &m)
	var cfg map[string]any
	json.Unmarshal(m["config"], &cfg)
	for _, k := range []string{"weight_decay", "d_model", "seq_len", "eval_every"} {
		if _, ok := cfg[k]; !ok {
			t.Errorf("trainer.json config lacks %q: %s", k, m["config"])
		}
	}
	for _, k := range []string{"WeightDec", "DModel", "BLAS"} {
		if _, ok := cfg[k]; ok {
			t.Errorf("trainer.json config has Go field name %q", k)
		}
	}
	if _, ok := m["mambakit"]; !ok {
		t.Error("trainer.json does not record the build")
	}
	want, err := ReadRunInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The same checkpoint as written before: Go field names, and BLAS.
	c := want.Config
	old := map[string]any{}
	v := reflect.ValueOf(c)
	for i := range v.NumField() {
		old[v.Type().Field(i).Name] = v.Field(i).Interface()
	}
	old["BLAS"] = "go"
	m["config"], _ = json.Marshal(old)
	delete(m, "mambakit")
	b, _ = json.Marshal(m)
	if !strings.Contains(string(b), `"WeightDec":0.1`) {
		t.Fatalf("the old-format file is not old: %s", b)
	}
	os.WriteFile(path, b, 0o644)
	got, err := ReadRunInfo(dir)
	if err != nil {
		t.Fatalf("old trainer.json: %v", err)
	}
	if !reflect.DeepEqual(got.Config, want.Config) {
		t.Errorf("old trainer.json reads as\n%+v\nwant\n%+v", got.Config, want.Config)
	}
	if _, err := Resume(context.Background(), testRun(t, dir, Config{Steps: 4})); err != nil {
		t.Errorf("resume from an old trainer.json: %v", err)
	}
}

// TestResumeAppliesResumable: a resumed run takes the new cadence and
// keeps the rest of the run's configuration.
func TestResumeAppliesResumable(t *testing.T) {
	dir := t.TempDir()
	if _, err := Start(context.Background(), testRun(t, dir, testConfig(3))); err != nil {
		t.Fatal(err)
	}
	r := testRun(t, dir, Config{Steps: 6, EvalEvery: 6, SaveEvery: 2, LR: 0.5, SeqLen: 8})
	if _, err := Resume(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRunInfo(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := testConfig(3)
	want.Steps, want.EvalEvery, want.SaveEvery = 6, 6, 2
	if !reflect.DeepEqual(got.Config, want) {
		t.Errorf("resumed run's configuration\n%+v\nwant\n%+v", got.Config, want)
	}
	if got.Step != 6 {
		t.Errorf("latest checkpoint step %d, want 6", got.Step)
	}
	if _, err := os.Stat(filepath.Join(dir, checkpointsDir, checkpointName(4))); err != nil {
		t.Errorf("--save-every 2 on resume: no checkpoint at step 4: %v", err)
	}
}

func FuzzConfigJSON(f *testing.F) {
	f.Add([]byte(`{"d_model":16,"WeightDec":0.1,"BLAS":"go"}`))
	f.Add([]byte(`{"DModel":8,"d_model":16}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Config
		if json.Unmarshal(b, &c) != nil {
			return
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var back Config
		if err := json.Unmarshal(out, &back); err != nil || !reflect.DeepEqual(c, back) {
			t.Fatalf("%s → %+v → %s → %+v, %v", b, c, out, back, err)
		}
	})
}
