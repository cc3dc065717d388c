//go:build faults && linux

package faults

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// corruption damages one file of a checkpoint directory.
type corruption struct {
	name   string
	file   string // in the checkpoint directory
	apply  func(t *testing.T, path string)
	want   []string // in the error line, besides the file's name
	resume bool     // only train --resume reads the file
	byDir  bool     // the error names the checkpoint directory, not the file
	anon   bool     // the error need not name the file (a plugin that is not installed)
	inRun  bool     // file is in the run directory (its data), not the checkpoint
}

// TestCorruptCheckpoints damages the reference's final checkpoint in every
// way below and runs eval, generate, score and train --resume on it: each
// must refuse in one line naming the file (and the tensor or the field),
// quickly and in bounded memory, leaving the checkpoint as it was.
func TestCorruptCheckpoints(t *testing.T) {
	ref := reference(t)
	final := fmt.Sprintf("step-%08d", refSteps)
	fa := testdata("dna", "ecoli_536_sample.fa")
	for _, c := range corruptions() {
		cmds := map[string]func(ck, run string) []string{
			"resume": func(_, run string) []string {
				return []string{"train", "--resume", run, "--steps", fmt.Sprint(refSteps + 4)}
			},
		}
		if !c.resume {
			cmds["eval"] = func(ck, _ string) []string { return []string{"eval", "--checkpoint", ck, "--data", fa} }
			cmds["generate"] = func(ck, _ string) []string { return []string{"generate", "--checkpoint", ck, "--tokens", "8"} }
			cmds["score"] = func(ck, _ string) []string { return []string{"score", "--checkpoint", ck, fa} }
		}
		for _, cmd := range []string{"eval", "generate", "score", "resume"} {
			args, ok := cmds[cmd]
			if !ok {
				continue
			}
			try(t, classCheckpoint, cmd+" "+c.name, func(t *testing.T) {
				d := dir(t)
				run := filepath.Join(d, "run")
				copyDir(t, ref, run)
				ck := filepath.Join(run, "checkpoints", final)
				if c.inRun {
					c.apply(t, filepath.Join(run, c.file))
				} else {
					c.apply(t, filepath.Join(ck, c.file))
				}
				before := snapshot(t, run)
				r := start(t, d, nil, 20*time.Second, args(ck, run)...).wait()
				want := append([]string{filepath.Base(c.file)}, c.want...)
				if c.byDir {
					want[0] = final
				} else if c.anon {
					want = c.want
				}
				refused(t, r, want...)
				if r.maxRSSMB > 600 {
					t.Errorf("peak RSS %d MB", r.maxRSSMB)
				}
				unchanged(t, run, before, ".lock") // a resume writes its PID there
				noLeftovers(t)
				t.Logf("%s", strings.TrimSpace(r.stderr))
			})
		}
	}
}

func corruptions() []corruption {
	rewrite := func(f func(b []byte) []byte) func(t *testing.T, path string) {
		return func(t *testing.T, path string) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, f(b), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// header edits the JSON header of a safetensors file.
	header := func(edit func(h map[string]any)) func(t *testing.T, path string) {
		return rewrite(func(b []byte) []byte {
			n := binary.LittleEndian.Uint64(b)
			var h map[string]any
			json.Unmarshal(b[8:8+n], &h)
			edit(h)
			nh, _ := json.Marshal(h)
			out := binary.LittleEndian.AppendUint64(nil, uint64(len(nh)))
			return append(append(out, nh...), b[8+n:]...)
		})
	}
	// poke writes a float32 into the first element of a tensor.
	poke := func(tensor string, v float32) func(t *testing.T, path string) {
		return rewrite(func(b []byte) []byte {
			n := binary.LittleEndian.Uint64(b)
			var h map[string]struct {
				Offsets [2]int `json:"data_offsets"`
			}
			json.Unmarshal(b[8:8+n], &h)
			at := 8 + int(n) + h[tensor].Offsets[0]
			binary.LittleEndian.PutUint32(b[at:], math.Float32bits(v))
			return b
		})
	}
	// jsonField sets one field of a JSON file (a dotted path). The field
	// must be there already: a renamed key would otherwise be added beside
	// the real one and the case would test nothing.
	jsonField := func(path string, v any) func(t *testing.T, p string) {
		return func(t *testing.T, p string) {
			rewrite(func(b []byte) []byte {
				var m map[string]any
				json.Unmarshal(b, &m)
				keys := strings.Split(path, ".")
				o := m
				for _, k := range keys[:len(keys)-1] {
					next, ok := o[k].(map[string]any)
					if !ok {
						t.Fatalf("%s has no object %q (path %s)", p, k, path)
					}
					o = next
				}
				if _, ok := o[keys[len(keys)-1]]; !ok {
					t.Fatalf("%s has no field %s", p, path)
				}
				o[keys[len(keys)-1]] = v
				out, _ := json.Marshal(m)
				return out
			})(t, p)
		}
	}
	const model, cfg, trainer, opt = "model.safetensors", "config.json", "trainer.json", "trainer.safetensors"
	return []corruption{
		{name: "model.safetensors truncated", file: model, apply: rewrite(func(b []byte) []byte { return b[:len(b)/2] })},
		{name: "model.safetensors empty", file: model, apply: rewrite(func([]byte) []byte { return nil })},
		{name: "model.safetensors header length 2^60", file: model, apply: rewrite(func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b, 1<<60)
			return b
		})},
		{name: "model.safetensors header not JSON", file: model, apply: rewrite(func(b []byte) []byte {
			copy(b[8:], "{{{{not json")
			return b
		})},
		{name: "model.safetensors offsets past the end", file: model, apply: header(func(h map[string]any) {
			h["backbone.norm_f.weight"].(map[string]any)["data_offsets"] = []int{1 << 40, 1<<40 + 256}
		})},
		{name: "model.safetensors dtype F16", file: model, apply: header(func(h map[string]any) {
			h["backbone.norm_f.weight"].(map[string]any)["dtype"] = "F16"
		})},
		{name: "model.safetensors shape against config", file: model, apply: header(func(h map[string]any) {
			h["backbone.norm_f.weight"].(map[string]any)["shape"] = []int{32, 2}
		})},
		{name: "model.safetensors tensor missing", file: model, apply: header(func(h map[string]any) {
			h["backbone.norm_f.weigth"] = h["backbone.norm_f.weight"]
			delete(h, "backbone.norm_f.weight")
		}), want: []string{"backbone.norm_f.weight"}},
		{name: "NaN weight", file: model, apply: poke("backbone.layers.0.mixer.A_log", float32(math.NaN())), want: []string{"backbone.layers.0.mixer.A_log", "NaN"}, byDir: true},
		{name: "+Inf weight", file: model, apply: poke("backbone.embeddings.weight", float32(math.Inf(1))), want: []string{"backbone.embeddings.weight", "+Inf"}, byDir: true},
		{name: "model.safetensors a FIFO", file: model, apply: func(t *testing.T, p string) {
			os.Remove(p)
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Fatal(err)
			}
		}, want: []string{"named pipe"}},
		{name: "model.safetensors a directory", file: model, apply: func(t *testing.T, p string) {
			os.Remove(p)
			os.Mkdir(p, 0o755)
		}},
		{name: "config.json not JSON", file: cfg, apply: rewrite(func([]byte) []byte { return []byte("{\"hidden_size\": 64,") })},
		{name: "config.json hidden_size 0", file: cfg, apply: jsonField("hidden_size", 0)},
		{name: "config.json 10^9 layers", file: cfg, apply: jsonField("num_hidden_layers", 1e9)},
		{name: "config.json vocab 10^12", file: cfg, apply: jsonField("vocab_size", 1e12)},
		{name: "config.json state_size -1", file: cfg, apply: jsonField("state_size", -1)},
		{name: "config.json hidden_size 2^40", file: cfg, apply: jsonField("hidden_size", 1<<40)},
		{name: "trainer.json not JSON", file: trainer, apply: rewrite(func(b []byte) []byte { return b[:len(b)/3] })},
		{name: "trainer.json step -5", file: trainer, apply: jsonField("step", -5), want: []string{"step -5"}},
		{name: "trainer.json step 10^13", file: trainer, apply: jsonField("step", 1e13)},
		{name: "trainer.json vocab_size 0", file: trainer, apply: jsonField("vocab_size", 0)},
		{name: "trainer.json batch 10^9", file: trainer, apply: jsonField("config.batch", 1e9), resume: true},
		{name: "trainer.json seq_len -1", file: trainer, apply: jsonField("config.seq_len", -1), resume: true},
		{name: "trainer.json optimizer_steps > step", file: trainer, apply: jsonField("optimizer_steps", 500), resume: true},
		{name: "trainer.json data_cursor garbage", file: trainer, apply: jsonField("data_cursor", "AAAA"), resume: true},
		{name: "trainer.json unknown plugin", file: trainer, apply: jsonField("modality.name", "evil"), want: []string{`no plugin "evil"`}, anon: true},
		{name: "data/train.tokens truncated", file: "data/train.tokens", inRun: true, resume: true, apply: rewrite(func(b []byte) []byte { return b[:len(b)*2/5] })},
		{name: "data/train.tokens id out of vocabulary", file: "data/train.tokens", inRun: true, resume: true, want: []string{"vocabulary"}, apply: rewrite(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[400:], 1<<31-1)
			return b
		})},
		{name: "data/valid.tokens truncated", file: "data/valid.tokens", inRun: true, resume: true, apply: rewrite(func(b []byte) []byte { return b[:len(b)-3] })},
		{name: "data/train.docs truncated", file: "data/train.docs", inRun: true, resume: true, apply: rewrite(func(b []byte) []byte { return b[:3] })},
		{name: "data/dataset.json not JSON", file: "data/dataset.json", inRun: true, resume: true, apply: rewrite(func(b []byte) []byte { return b[:10] })},
		{name: "trainer.safetensors truncated", file: opt, apply: rewrite(func(b []byte) []byte { return b[:len(b)-100] }), resume: true},
		{name: "trainer.safetensors moments missing", file: opt, apply: header(func(h map[string]any) {
			h["adamw.x"] = h["adamw.m"]
			delete(h, "adamw.m")
		}), want: []string{"adamw.m"}, resume: true},
	}
}
