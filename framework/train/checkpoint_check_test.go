package train

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
)

// TestTrainerJSONChecked (R1): a trainer.json with a negative or absurd
// step, or settings out of range, is refused by resume and by the readers
// of run information, naming the field.
func TestTrainerJSONChecked(t *testing.T) {
	dir := t.TempDir()
	if _, err := Start(context.Background(), testRun(t, dir, testConfig(3))); err != nil {
		t.Fatal(err)
	}
	ck, err := LatestCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(ck, trainerJSON)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		edit func(m map[string]any)
		want string
	}{
		{func(m map[string]any) { m["step"] = -5 }, "step -5"},
		{func(m map[string]any) { m["step"] = 1e15 }, "step 1000000000000000"},
		{func(m map[string]any) { m["optimizer_steps"] = 7 }, "optimizer_steps 7"},
		{func(m map[string]any) { m["step"] = 2; m["optimizer_steps"] = 2 }, "but the checkpoint is step-00000003"},
		{func(m map[string]any) { m["config"].(map[string]any)["lr"] = -0.01 }, "lr = -0.01"},
		{func(m map[string]any) { m["config"].(map[string]any)["steps"] = -1 }, "steps = -1"},
		{func(m map[string]any) { m["vocab_size"] = 0 }, "vocab_size 0"},
	} {
		var m map[string]any
		if err := json.Unmarshal(orig, &m); err != nil {
			t.Fatal(err)
		}
		c.edit(m)
		b, _ := json.Marshal(m)
		os.WriteFile(path, b, 0o644)
		if _, err := ReadRunInfo(dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadRunInfo with %s: %v", c.want, err)
		}
		if _, err := Resume(context.Background(), testRun(t, dir, Config{Steps: 6})); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Resume with %s: %v", c.want, err)
		}
	}
	// An absurd batch is refused before anything is allocated (it was an
	// out-of-memory crash of the whole process), by resume as by a new run.
	var m map[string]any
	json.Unmarshal(orig, &m)
	m["config"].(map[string]any)["batch"] = 1e9
	b, _ := json.Marshal(m)
	os.WriteFile(path, b, 0o644)
	want := "a batch of 1000000000×"
	if _, err := Resume(context.Background(), testRun(t, dir, Config{Steps: 6})); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), trainerJSON) {
		t.Errorf("Resume with batch 10^9: %v", err)
	}
	huge := testConfig(3)
	huge.Batch = 1e9
	if _, err := Start(context.Background(), testRun(t, t.TempDir(), huge)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Start with batch 10^9: %v", err)
	}
	os.WriteFile(path, orig, 0o644)
	if _, err := Resume(context.Background(), testRun(t, dir, Config{Steps: 6})); err != nil {
		t.Fatalf("the restored trainer.json: %v", err)
	}
}

// TestNonFiniteWeightsRefused (R3): a checkpoint with a NaN or an infinity
// in its weights is refused on load, naming the tensor.
func TestNonFiniteWeightsRefused(t *testing.T) {
	dir := t.TempDir()
	if _, err := Start(context.Background(), testRun(t, dir, testConfig(3))); err != nil {
		t.Fatal(err)
	}
	ck, _ := LatestCheckpoint(dir)
	m, err := backbone.Load(ck)
	if err != nil {
		t.Fatal(err)
	}
	m.Params.NormF[1] = float32(math.NaN())
	if err := m.Save(ck); err != nil {
		t.Fatal(err)
	}
	if _, _, err := OpenModel(dir, Placement{}); err == nil || !strings.Contains(err.Error(), "backbone.norm_f.weight holds NaN at index 1") {
		t.Fatalf("OpenModel: %v", err)
	}
	if _, err := Resume(context.Background(), testRun(t, dir, Config{Steps: 6})); err == nil || !strings.Contains(err.Error(), "not finite") {
		t.Fatalf("Resume: %v", err)
	}
}
