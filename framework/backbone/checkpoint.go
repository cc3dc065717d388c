package backbone

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/mambakit/mambakit/framework/kernels"
	"github.com/mambakit/mambakit/framework/safetensors"
	"github.com/mambakit/mambakit/internal/atomicfile"
)

// Load reads a Hugging Face Mamba directory (config.json and
// model.safetensors, as transformers' MambaForCausalLM writes them and as the
// state-spaces/mamba-*-hf checkpoints ship). Every tensor must be present
// with the shape config.json implies; float dtypes (F32, F16, BF16, F64)
// are converted to float32.
func Load(dir string) (*Model, error) {
	cfgPath := filepath.Join(dir, "config.json")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("backbone: read config: %w", err)
	}
	stPath := filepath.Join(dir, "model.safetensors")
	f, err := safetensors.Open(stPath)
	if err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	return loadCheckpoint(cfgPath, cfg, f)
}

// loadCheckpoint builds a model from a parsed config.json and weights file.
// Every tensor is checked against the config before any parameter memory is
// allocated, so a config that claims a huge model fails on the missing or
// mis-shaped tensors instead of allocating for them.
func loadCheckpoint(cfgPath string, cfg []byte, f *safetensors.File) (*Model, error) {
	c, err := parseConfig(cfgPath, cfg)
	if err != nil {
		return nil, err
	}
	if !c.TieWordEmbeddings {
		return nil, fmt.Errorf("backbone: %s: tie_word_embeddings = false (a separate lm_head) is not supported", cfgPath)
	}
	path := f.Path
	want := map[string]bool{}
	for _, fl := range fields {
		if numel(fl.shape(&c)) == 0 {
			continue // a variant's tensor this model does not have
		}
		for i := 0; i < c.NumHiddenLayers; i++ {
			name := tensorName(fl, i)
			want[name] = true
			info, ok := f.Info(name)
			if !ok {
				return nil, fmt.Errorf("backbone: %s: tensor %q is missing", path, name)
			}
			if shape := fl.shape(&c); !slices.Equal(info.Shape, shape) {
				return nil, fmt.Errorf("backbone: %s: tensor %q has shape %v, config.json implies %v", path, name, info.Shape, shape)
			}
			if !fl.perLayer {
				break
			}
		}
	}
	for _, name := range f.Names() {
		if !want[name] && name != "lm_head.weight" {
			return nil, fmt.Errorf("backbone: %s: unexpected tensor %q (not a Mamba parameter)", path, name)
		}
	}
	m := &Model{Config: c, Params: NewParams(&c)}
	for _, t := range m.Params.Tensors(&c) {
		v, err := f.Float32(t.Name)
		if err != nil {
			return nil, fmt.Errorf("backbone: %w", err)
		}
		copy(t.Data, v)
	}
	return m, nil
}

// Save writes the model as a Hugging Face Mamba directory (config.json and
// model.safetensors, float32) that transformers' MambaForCausalLM loads.
// Each file is replaced atomically.
func (m *Model) Save(dir string) error { return m.SaveAs(dir, Float32) }

// Storage types of saved weights (SaveAs): the names config.json's dtype
// takes.
const (
	Float32  = "float32"
	BFloat16 = "bfloat16"
)

// CheckDType refuses a storage type SaveAs does not write.
func CheckDType(dtype string) error {
	if dtype != Float32 && dtype != BFloat16 {
		return fmt.Errorf("dtype %q: want %s or %s", dtype, Float32, BFloat16)
	}
	return nil
}

// SaveAs is Save with the weights stored as dtype: Float32, or BFloat16
// (each weight rounded to the nearest bfloat16, ties to even, as the bf16
// products round their operands; safetensors dtype BF16, config.json's
// dtype "bfloat16", so that transformers' from_pretrained(dtype="auto")
// loads it in bfloat16). Load reads either back as float32.
func (m *Model) SaveAs(dir, dtype string) error {
	if err := CheckDType(dtype); err != nil {
		return fmt.Errorf("backbone: save: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("backbone: save: %w", err)
	}
	var ts []safetensors.Tensor
	for _, t := range m.Params.Tensors(&m.Config) {
		if dtype == BFloat16 {
			h := make([]uint16, len(t.Data))
			for i, x := range t.Data {
				h[i] = kernels.RoundBF16(x)
			}
			ts = append(ts, safetensors.BF16(t.Name, t.Shape, h))
		} else {
			ts = append(ts, safetensors.F32(t.Name, t.Shape, t.Data))
		}
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("backbone: save: %w", err)
	}
	// rescale_prenorm_residual only shapes the initialization, which is
	// done; transformers (5.17) applies it again to the out_proj weights it
	// loads, shrinking them by 1/sqrt(num_hidden_layers), so it is saved off.
	c := m.Config
	c.RescalePrenormResidual = false
	c.DType = dtype
	cfg, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("backbone: save: %w", err)
	}
	return atomicfile.WriteFile(filepath.Join(dir, "config.json"), append(cfg, '\n'), 0o644)
}
