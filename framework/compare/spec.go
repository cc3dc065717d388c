// Package compare runs a matrix of training runs, modalities × variants ×
// seeds under one budget, and writes a report: validation bits per unit per
// modality and variant beside the modality's best Markov baseline, the gain
// of selection over the best LTI variant (the continuous–discrete spectrum
// of Gu and Dao 2023, Section 5), learning curves, wall time and tokens/s.
package compare

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"

	"go.yaml.in/yaml/v3"
)

// Spec is a comparison, read from YAML (docs/compare.md).
type Spec struct {
	// Budget is shared by every run: model size, steps, tokens per step,
	// schedule (the train package's config keys).
	Budget     map[string]any `yaml:"budget"`
	Seeds      []uint64       `yaml:"seeds"`
	Modalities []Modality     `yaml:"modalities"`
	Variants   []Variant      `yaml:"variants"`
}

// Modality is one plugin and its data.
type Modality struct {
	Name    string            `yaml:"name"`  // the plugin
	Label   string            `yaml:"label"` // its name in the report and run directories (default: Name)
	Data    []string          `yaml:"data"`  // empty: the bundled sample
	Options map[string]string `yaml:"options"`
}

// Variant is one SSM variant: its name in the report and the train keys
// that make it (nonselective: [delta, B, C] ...).
type Variant struct {
	Name         string   `yaml:"name"`
	NonSelective []string `yaml:"nonselective,flow"`
	Complex      bool     `yaml:"complex"` // complex A, B, C (S4D-Lin)
	AInit        string   `yaml:"a_init"`  // "" or "random"
}

// LTI reports whether the variant is time-invariant (nothing selective).
func (v Variant) LTI() bool {
	return slices.Contains(v.NonSelective, "delta") && slices.Contains(v.NonSelective, "B") && slices.Contains(v.NonSelective, "C")
}

// Selective reports whether the variant is Mamba's S6 (everything
// selective, real).
func (v Variant) Selective() bool { return len(v.NonSelective) == 0 && !v.Complex }

// ReadSpec reads and checks a spec file.
func ReadSpec(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := s.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &s, nil
}

func (s *Spec) check() error {
	if len(s.Modalities) == 0 || len(s.Variants) == 0 {
		return errors.New("a spec needs at least one modality and one variant")
	}
	if len(s.Seeds) == 0 {
		s.Seeds = []uint64{1}
	}
	seen := map[string]bool{}
	for _, v := range s.Variants {
		if v.Name == "" || seen[v.Name] {
			return fmt.Errorf("variant names must be present and distinct (%q)", v.Name)
		}
		seen[v.Name] = true
		for _, p := range v.NonSelective {
			if p != "delta" && p != "B" && p != "C" {
				return fmt.Errorf("variant %s: nonselective %q is not delta, B or C", v.Name, p)
			}
		}
	}
	labels := map[string]bool{}
	for i, m := range s.Modalities {
		if m.Name == "" {
			return errors.New("a modality without a name")
		}
		if m.Label == "" {
			s.Modalities[i].Label = m.Name
		}
		if labels[s.Modalities[i].Label] {
			return fmt.Errorf("two modalities labelled %q: give each a distinct label", s.Modalities[i].Label)
		}
		labels[s.Modalities[i].Label] = true
	}
	for k := range s.Budget {
		if k == "nonselective" || k == "seed" {
			return fmt.Errorf("budget key %q is set per run by the comparison", k)
		}
	}
	return nil
}

// Quick is the built-in spec of `mambakit compare --quick`: the bundled
// samples of the three built-in modalities, Mamba (S6) against the LTI
// variant, one seed, a budget that finishes in minutes on 2 cores.
func Quick() *Spec {
	return &Spec{
		Budget: map[string]any{"d_model": 64, "layers": 2, "d_state": 16, "steps": 150, "seq_len": 256, "batch": 8,
			"lr": 3e-3, "eval_every": 50, "save_every": 150, "eval_tokens": 32768, "sample_tokens": 0, "baseline_order": 3},
		Seeds:      []uint64{1},
		Modalities: []Modality{{Name: "dna", Label: "dna"}, {Name: "text", Label: "text"}, {Name: "audio", Label: "audio"}},
		Variants: []Variant{{Name: "S6"}, {Name: "LTI", NonSelective: []string{"delta", "B", "C"}},
			{Name: "LTI-complex", NonSelective: []string{"delta", "B", "C"}, Complex: true}},
	}
}

// Default is the built-in full spec: the paper's selection ablation
// (Table 7: Δ, B, C all selective, each alone, none) and the complex
// variants (S6 and LTI with complex A, B, C: S4D-Lin) on the three bundled
// samples, three seeds.
func Default() *Spec {
	s := Quick()
	s.Budget["steps"] = 600
	s.Budget["eval_every"] = 100
	s.Budget["save_every"] = 600
	s.Seeds = []uint64{1, 2, 3}
	s.Variants = []Variant{
		{Name: "S6"},
		{Name: "delta-only", NonSelective: []string{"B", "C"}},
		{Name: "B-only", NonSelective: []string{"delta", "C"}},
		{Name: "C-only", NonSelective: []string{"delta", "B"}},
		{Name: "LTI", NonSelective: []string{"delta", "B", "C"}},
		{Name: "S6-complex", Complex: true},
		{Name: "LTI-complex", NonSelective: []string{"delta", "B", "C"}, Complex: true},
	}
	return s
}
