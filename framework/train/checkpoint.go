package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/safetensors"
	"github.com/mambakit/mambakit/internal/atomicfile"
	"github.com/mambakit/mambakit/internal/buildinfo"
)

// A run directory keeps its checkpoints under checkpoints/: one directory
// per saved step (step-00000100), each a Hugging Face Mamba directory
// (config.json, model.safetensors) plus mambakit.json (the plugin, its
// options, the vocabulary and special ids: ModelRecordFile), the plugin's
// artifacts (the text tokenizer.json), trainer.safetensors (AdamW moments,
// the carried TBPTT state) and trainer.json (step, data cursor, config).
// checkpoints/latest names the newest complete one. Without trainer.*, a
// checkpoint directory is a model directory that eval, generate, score and
// train --init-from read as they read a Hugging Face one.
//
// A checkpoint is written into a hidden temporary directory, every file
// synced, then renamed into place; only then is latest replaced (also by
// rename). A process killed at any moment leaves latest naming a complete
// checkpoint.
const (
	checkpointsDir = "checkpoints"
	latestFile     = "latest"
	trainerJSON    = "trainer.json"
	trainerST      = "trainer.safetensors"
)

// trainerState is trainer.json.
type trainerState struct {
	Step      int    `json:"step"`
	OptSteps  int    `json:"optimizer_steps"`
	Cursor    []byte `json:"data_cursor"` // Loader.MarshalBinary
	Config    Config `json:"config"`
	Modality  Plugin `json:"modality"`
	VocabSize int    `json:"vocab_size"`
	// PrepareOptions are the plugin options of the run's dataset.
	PrepareOptions map[string]string `json:"prepare_options,omitempty"`
	// Build is the mambakit build that wrote the checkpoint (absent in
	// checkpoints written before it was recorded).
	Build buildinfo.Info `json:"mambakit"`
}

// RunInfo is what a checkpoint or model directory records about the model
// and its run.
type RunInfo struct {
	Checkpoint string // the checkpoint (or model) directory
	Step       int
	Config     Config
	// Modality, VocabSize and PrepareOptions say how the model's tokens
	// are made. A Hugging Face directory without mambakit.json leaves them
	// zero: the caller names the plugin (session.ModelModality).
	Modality       Plugin
	VocabSize      int
	PrepareOptions map[string]string
	// Special are the modality's special ids as the run used them (nil
	// for checkpoints written before mambakit.json).
	Special map[string]int32
	// Model is true for a model directory without trainer.json (a Hugging
	// Face directory, or a checkpoint copied without its trainer state):
	// there is no step, data cursor or optimizer to resume.
	Model bool
}

func (i RunInfo) String() string {
	if i.Model {
		return fmt.Sprintf("model %s", i.Checkpoint)
	}
	return fmt.Sprintf("checkpoint %s (step %d)", i.Checkpoint, i.Step)
}

// ReadRunInfo reads the run information of a checkpoint directory, of the
// latest checkpoint when dir is a run directory, or of a model directory
// (config.json and model.safetensors, as Hugging Face's Mamba models ship;
// mambakit.json, when present, names the modality).
func ReadRunInfo(dir string) (RunInfo, error) {
	if _, err := os.Stat(filepath.Join(dir, trainerJSON)); err != nil {
		latest, lerr := LatestCheckpoint(dir)
		if lerr != nil {
			if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
				return readModelDir(dir)
			}
			return RunInfo{}, fmt.Errorf("%s is neither a checkpoint (no %s), a model directory (no config.json) nor a run directory: %w", dir, trainerJSON, lerr)
		}
		dir = latest
	}
	ts, err := readTrainerState(dir)
	if err != nil {
		return RunInfo{}, err
	}
	info := RunInfo{Checkpoint: dir, Step: ts.Step, Config: ts.Config, Modality: ts.Modality, VocabSize: ts.VocabSize, PrepareOptions: ts.PrepareOptions}
	rec, ok, err := readModelRecord(dir)
	if err != nil {
		return RunInfo{}, err
	}
	if ok {
		info.Special = rec.Special
	}
	return info, nil
}

// readModelDir reads the run information of a model directory: the
// default settings with the model's sizes, and its mambakit.json if it
// has one.
func readModelDir(dir string) (RunInfo, error) {
	mc, err := backbone.ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		return RunInfo{}, err
	}
	info := RunInfo{Checkpoint: dir, Config: Defaults(), Model: true}
	info.Config.Preset = ""
	info.Config.DModel, info.Config.Layers, info.Config.DState = mc.HiddenSize, mc.NumHiddenLayers, mc.StateSize
	rec, ok, err := readModelRecord(dir)
	if err != nil {
		return RunInfo{}, err
	}
	if ok {
		info.Modality, info.VocabSize, info.PrepareOptions, info.Special = rec.Modality, rec.VocabSize, rec.PrepareOptions, rec.Special
	}
	return info, nil
}

// Plugin identifies the modality plugin a run used.
type Plugin struct {
	Name     string `json:"name" yaml:"name"`
	Version  string `json:"version" yaml:"version"`
	Checksum string `json:"checksum,omitempty" yaml:"checksum,omitempty"`
	Unit     string `json:"unit" yaml:"unit"`
}

func checkpointName(step int) string { return fmt.Sprintf("step-%08d", step) }

// saveCheckpoint writes the checkpoint of step into runDir and prunes all
// but the newest keep checkpoints. artifacts are files (full paths) copied
// in beside the model.
func saveCheckpoint(runDir string, step int, m *backbone.Model, opt *backbone.AdamW, ld *Loader, carried *backbone.State, ts trainerState, special map[string]int32, artifacts []string, keep int) (string, error) {
	root := filepath.Join(runDir, checkpointsDir)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	name := checkpointName(step)
	final := filepath.Join(root, name)
	tmp := filepath.Join(root, "."+name+".partial")
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	fail := func(err error) (string, error) {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("checkpoint step %d: %w", step, err)
	}
	if err := m.Save(tmp); err != nil {
		return fail(err)
	}
	if ts.Modality.Name != "" {
		rec := modelRecord{Modality: ts.Modality, VocabSize: ts.VocabSize, PrepareOptions: ts.PrepareOptions, Special: special}
		if err := writeModelRecord(tmp, rec); err != nil {
			return fail(err)
		}
	}
	tensors := []safetensors.Tensor{
		safetensors.F32("adamw.m", []int{len(opt.M.Data)}, opt.M.Data),
		safetensors.F32("adamw.v", []int{len(opt.V.Data)}, opt.V.Data),
	}
	if carried != nil {
		tensors = append(tensors,
			safetensors.F32("tbptt.conv", []int{len(carried.Conv)}, carried.Conv),
			safetensors.F32("tbptt.ssm", []int{len(carried.SSM)}, carried.SSM))
	}
	if err := safetensors.Write(filepath.Join(tmp, trainerST), tensors, nil); err != nil {
		return fail(err)
	}
	cur, err := ld.MarshalBinary()
	if err != nil {
		return fail(err)
	}
	ts.Step, ts.OptSteps, ts.Cursor = step, opt.T, cur
	js, err := json.MarshalIndent(ts, "", "  ")
	if err != nil {
		return fail(err)
	}
	if err := atomicfile.WriteSync(filepath.Join(tmp, trainerJSON), append(js, '\n')); err != nil {
		return fail(err)
	}
	for _, a := range artifacts {
		if err := atomicfile.CopySync(a, filepath.Join(tmp, filepath.Base(a))); err != nil {
			return fail(err)
		}
	}
	if err := os.RemoveAll(final); err != nil { // a stale one from an earlier, abandoned attempt
		return fail(err)
	}
	if err := atomicfile.RenameDir(tmp, final); err != nil {
		return fail(err)
	}
	if err := atomicfile.WriteFile(filepath.Join(root, latestFile), []byte(name+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("checkpoint step %d: %w", step, err)
	}
	pruneCheckpoints(root, keep)
	return final, nil
}

// pruneCheckpoints removes all but the newest keep step directories (never
// the one latest names) and leftovers of interrupted writes.
func pruneCheckpoints(root string, keep int) {
	latest, _ := LatestCheckpoint(filepath.Dir(root))
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	var steps []string
	for _, e := range entries {
		switch {
		case strings.HasPrefix(e.Name(), "step-") && e.IsDir():
			steps = append(steps, e.Name())
		case strings.HasSuffix(e.Name(), ".partial"):
			os.RemoveAll(filepath.Join(root, e.Name()))
		}
	}
	sort.Strings(steps)
	for i := 0; i < len(steps)-keep; i++ {
		p := filepath.Join(root, steps[i])
		if p != latest {
			os.RemoveAll(p)
		}
	}
}

// LatestCheckpoint returns the directory of the newest complete checkpoint
// of a run.
func LatestCheckpoint(runDir string) (string, error) {
	root := filepath.Join(runDir, checkpointsDir)
	b, err := os.ReadFile(filepath.Join(root, latestFile))
	if err != nil {
		if os.IsNotExist(err) {
			return "", fmt.Errorf("%s has no checkpoint (no %s)", runDir, filepath.Join(checkpointsDir, latestFile))
		}
		return "", fmt.Errorf("read latest checkpoint: %w", err)
	}
	name := strings.TrimSpace(string(b))
	if !strings.HasPrefix(name, "step-") || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("%s: %q is not a checkpoint name", filepath.Join(root, latestFile), name)
	}
	return filepath.Join(root, name), nil
}

// FreeRunDir returns base, or base-2, base-3, ...: the first directory
// that does not hold a run yet (no checkpoint, no metrics.jsonl).
func FreeRunDir(base string) string {
	dir := base
	for i := 2; ; i++ {
		if _, err := LatestCheckpoint(dir); err != nil {
			if _, err := os.Stat(filepath.Join(dir, "metrics.jsonl")); err != nil {
				return dir
			}
		}
		dir = fmt.Sprintf("%s-%d", base, i)
	}
}

// loadCheckpoint reads a checkpoint directory written by saveCheckpoint.
func loadCheckpoint(dir string) (*backbone.Model, trainerState, *safetensors.File, error) {
	var ts trainerState
	m, err := backbone.Load(dir)
	if err != nil {
		return nil, ts, nil, err
	}
	if ts, err = readTrainerState(dir); err != nil {
		return nil, ts, nil, err
	}
	if err := m.Params.CheckFinite(&m.Config); err != nil {
		return nil, ts, nil, fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	st, err := safetensors.Open(filepath.Join(dir, trainerST))
	if err != nil {
		return nil, ts, nil, fmt.Errorf("checkpoint: %w", err)
	}
	return m, ts, st, nil
}

func restoreOptimizer(opt *backbone.AdamW, st *safetensors.File, optSteps int) error {
	for _, t := range []struct {
		name string
		dst  []float32
	}{{"adamw.m", opt.M.Data}, {"adamw.v", opt.V.Data}} {
		v, err := st.Float32(t.name)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if len(v) != len(t.dst) {
			return fmt.Errorf("checkpoint: %s has %d values, the model has %d parameters", t.name, len(v), len(t.dst))
		}
		copy(t.dst, v)
	}
	opt.T = optSteps
	return nil
}

func restoreCarried(st *safetensors.File, carried *backbone.State) error {
	for _, t := range []struct {
		name string
		dst  []float32
	}{{"tbptt.conv", carried.Conv}, {"tbptt.ssm", carried.SSM}} {
		v, err := st.Float32(t.name)
		if err != nil {
			return fmt.Errorf("checkpoint: %w", err)
		}
		if len(v) != len(t.dst) {
			return fmt.Errorf("checkpoint: %s has %d values, want %d", t.name, len(v), len(t.dst))
		}
		copy(t.dst, v)
	}
	return nil
}

// maxSteps bounds the steps trainer.json may name: far beyond any run, far
// below what overflows the arithmetic on them.
const maxSteps = 1 << 40

// readTrainerState reads and checks dir's trainer.json: a hand-edited or
// damaged file is refused with the field and the value, before a run
// trains from it (a negative step would train at negative learning rates).
func readTrainerState(dir string) (trainerState, error) {
	var ts trainerState
	path := filepath.Join(dir, trainerJSON)
	b, err := os.ReadFile(path)
	if err != nil {
		return ts, fmt.Errorf("checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, &ts); err != nil {
		return ts, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	bad := func(format string, args ...any) (trainerState, error) {
		return ts, fmt.Errorf("checkpoint %s: %s", path, fmt.Sprintf(format, args...))
	}
	switch {
	case ts.Step < 0 || ts.Step > maxSteps:
		return bad("step %d: want 0..%d", ts.Step, maxSteps)
	case ts.OptSteps < 0 || ts.OptSteps > ts.Step:
		return bad("optimizer_steps %d: want 0..step (%d)", ts.OptSteps, ts.Step)
	case ts.VocabSize < 1:
		return bad("vocab_size %d: want ≥ 1", ts.VocabSize)
	case ts.Config.Steps > maxSteps || ts.Config.ScheduleSteps > maxSteps:
		return bad("steps %d, schedule_steps %d: want at most %d", ts.Config.Steps, ts.Config.ScheduleSteps, maxSteps)
	}
	if name := filepath.Base(dir); strings.HasPrefix(name, "step-") && name != checkpointName(ts.Step) {
		return bad("step %d, but the checkpoint is %s", ts.Step, name)
	}
	c := ts.Config // Resolve fills defaults: check a copy
	if err := c.Resolve(); err != nil {
		return bad("config: %v", err)
	}
	return ts, nil
}
