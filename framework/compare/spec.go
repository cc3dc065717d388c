package compare

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Spec is a comparison, read from YAML (docs/compare.md).
type Spec struct {
	// Budget holds the training settings of every run (train.Config's
	// YAML keys); a setting given as a list is an axis of the grid.
	Budget     map[string]any `yaml:"budget"`
	Seeds      []uint64       `yaml:"seeds"`
	Modalities []Modality     `yaml:"modalities"`
	Variants   []Variant      `yaml:"variants"` // empty: S6 alone

	// Name names the comparison in its report: the spec file's name, the
	// built-in spec's, or the runs' for a report of existing runs.
	Name string `yaml:"-"`
	// Axes are the settings that vary besides modality, variant and seed:
	// the budget's lists, or, for existing runs, the settings they differ
	// in. Filled by ReadSpec and ReadRuns.
	Axes []Axis `yaml:"-"`
	// fromRuns marks a spec that ReadRuns made: its budget is what the
	// runs share.
	fromRuns bool
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

// SpecArg reports whether a command's arguments name a spec (one
// argument: a file, or a name ending in .yaml or .yml) rather than run
// directories.
func SpecArg(args []string) bool {
	if len(args) != 1 {
		return false
	}
	if st, err := os.Stat(args[0]); err == nil {
		return !st.IsDir()
	}
	ext := filepath.Ext(args[0])
	return ext == ".yaml" || ext == ".yml"
}

// ReadSpec reads and checks a spec file.
func ReadSpec(path string) (*Spec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read spec: %w", err)
	}
	s, err := parseSpec(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	return s, nil
}

// parseSpec decodes and checks a spec; unknown keys are errors.
func parseSpec(b []byte) (*Spec, error) {
	var s Spec
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the spec is empty")
		}
		return nil, yamlError(err)
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// unknownField is yaml's error for an unknown key.
var unknownField = regexp.MustCompile(`field (\S+) not found in type compare\.(\w+)`)

// yamlError puts a YAML error on one line, naming an unknown key as such.
func yamlError(err error) error {
	msg := err.Error()
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msg = strings.Join(te.Errors, "; ")
	}
	msg = unknownField.ReplaceAllStringFunc(msg, func(m string) string {
		g := unknownField.FindStringSubmatch(m)
		where := map[string]string{"Spec": "the spec (budget, seeds, modalities, variants)",
			"Modality": "a modality (name, label, data, options)", "Variant": "a variant (name, nonselective, complex, a_init)"}[g[2]]
		return fmt.Sprintf("unknown key %q in %s", g[1], where)
	})
	return errors.New(strings.ReplaceAll(msg, "\n", " "))
}

// check fills the defaults (seed 1, the S6 variant, labels) and checks
// everything, down to each run's configuration.
func (s *Spec) check() error {
	if len(s.Modalities) == 0 {
		return errors.New("modalities: a spec needs at least one modality")
	}
	if len(s.Seeds) == 0 {
		s.Seeds = []uint64{1}
	}
	if len(s.Variants) == 0 {
		s.Variants = []Variant{{Name: "S6"}}
	}
	seeds := map[uint64]bool{}
	for _, seed := range s.Seeds {
		if seeds[seed] {
			return fmt.Errorf("seeds: %d is listed twice", seed)
		}
		seeds[seed] = true
	}
	seen := map[string]bool{}
	for _, v := range s.Variants {
		if v.Name == "" || seen[v.Name] {
			return fmt.Errorf("variants: names must be present and distinct (%q)", v.Name)
		}
		if !nameRE.MatchString(v.Name) {
			return fmt.Errorf("variants: %q names a directory: letters, digits, . _ + - only", v.Name)
		}
		seen[v.Name] = true
		for _, p := range v.NonSelective {
			if p != "delta" && p != "B" && p != "C" {
				return fmt.Errorf("variant %s: nonselective %q is not delta, B or C", v.Name, p)
			}
		}
		if v.AInit != "" && v.AInit != "random" {
			return fmt.Errorf("variant %s: a_init %q: want random, or nothing for the default", v.Name, v.AInit)
		}
	}
	labels := map[string]bool{}
	for i, m := range s.Modalities {
		if m.Name == "" {
			return errors.New("modalities: a modality without a name")
		}
		if m.Label == "" {
			s.Modalities[i].Label = m.Name
		}
		l := s.Modalities[i].Label
		if labels[l] {
			return fmt.Errorf("modalities: two labelled %q: give each a distinct label", l)
		}
		if !nameRE.MatchString(l) {
			return fmt.Errorf("modalities: label %q names a directory: letters, digits, . _ + - only", l)
		}
		labels[l] = true
	}
	axes, err := s.axesOf()
	if err != nil {
		return err
	}
	s.Axes = axes
	_, err = s.Runs("")
	return err
}

// Quick is the built-in spec of `mambakit compare --quick`: the bundled
// samples of the three built-in modalities, Mamba (S6) against the LTI
// variant, one seed, a budget that finishes in minutes on 2 cores.
func Quick() *Spec {
	return &Spec{
		Name: "quick",
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
	s.Name = "default"
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
