package compare

import (
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mambakit/mambakit/framework/train"
)

// Axis is a training setting that varies over the grid: the budget gives
// it as a list, and every value makes its own runs.
type Axis struct {
	Key    string // a train.Config YAML key (lr, d_model, ...)
	Values []string
}

// Setting is one value of an axis, as a run's name and directory show it:
// key=value.
type Setting struct{ Key, Value string }

func (s Setting) String() string { return s.Key + "=" + s.Value }

// settingsLabel joins settings with spaces ("lr=0.001 d_model=64"); sep ","
// makes the directory name instead.
func settingsLabel(ss []Setting, sep string) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.String()
	}
	return strings.Join(parts, sep)
}

// configKey is one key of train.Config's YAML form.
type configKey struct {
	name  string
	index int // of the field in train.Config
	typ   reflect.Type
}

// configKeys are train.Config's YAML keys in the struct's order (the order
// of the axes in run names and in the report).
var configKeys = func() []configKey {
	t := reflect.TypeFor[train.Config]()
	var ks []configKey
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		ks = append(ks, configKey{name, i, f.Type})
	}
	return ks
}()

func lookupKey(name string) (configKey, bool) {
	for _, k := range configKeys {
		if k.name == name {
			return k, true
		}
	}
	return configKey{}, false
}

// setPerRun are the settings the comparison sets for each run itself, and
// where a spec says them instead.
var setPerRun = map[string]string{
	"seed":         "list the seeds under seeds:",
	"nonselective": "a variant sets it (variants:)",
	"threads":      "compare shares the cores out among the --jobs runs",
}

// budgetValue is a budget key decoded to its train.Config field: one value
// for every run, or several (an axis).
type budgetValue struct {
	key    configKey
	values []reflect.Value
	names  []string // each value as run names show it
	axis   bool
}

// nameRE is what a name that becomes a directory may hold.
var nameRE = regexp.MustCompile(`^[A-Za-z0-9._+-]+$`)

// parseBudget checks a spec's budget and decodes each key to the type of
// its train.Config field, in train.Config's order. A list is an axis.
// Errors name the key.
func parseBudget(b map[string]any) ([]budgetValue, error) {
	for k := range b {
		if why, ok := setPerRun[k]; ok {
			return nil, fmt.Errorf("budget: %s is set per run: %s", k, why)
		}
		if _, ok := lookupKey(k); !ok {
			return nil, fmt.Errorf("budget: unknown key %q (the keys are those of a training configuration: docs/training.md)", k)
		}
	}
	var out []budgetValue
	for _, k := range configKeys {
		raw, ok := b[k.name]
		if !ok {
			continue
		}
		if raw == nil {
			return nil, fmt.Errorf("budget: %s has no value", k.name)
		}
		bv := budgetValue{key: k}
		list, isList := raw.([]any) // train's one list setting, nonselective, is a variant's
		if !isList {
			list = []any{raw}
		} else if len(list) == 0 {
			return nil, fmt.Errorf("budget: %s is an empty list (an axis needs at least one value)", k.name)
		}
		bv.axis = isList
		seen := map[string]bool{}
		for _, x := range list {
			v, err := decodeAs(k.typ, x)
			if err != nil {
				return nil, fmt.Errorf("budget: %s: %s is not %s", k.name, showValue(x), typeName(k.typ))
			}
			name := formatValue(v)
			if bv.axis {
				if seen[name] {
					return nil, fmt.Errorf("budget: %s lists %s twice", k.name, name)
				}
				if !nameRE.MatchString(name) {
					return nil, fmt.Errorf("budget: %s: %q cannot be part of a run's directory name (letters, digits, . _ + -)", k.name, name)
				}
			}
			seen[name] = true
			bv.values = append(bv.values, v)
			bv.names = append(bv.names, name)
		}
		out = append(out, bv)
	}
	return out, nil
}

// decodeAs decodes a YAML value into a new value of type t. A number with
// a fraction is not a whole number (yaml would truncate it).
func decodeAs(t reflect.Type, x any) (reflect.Value, error) {
	if f, ok := x.(float64); ok && t.Kind() == reflect.Int && f != math.Trunc(f) {
		return reflect.Value{}, fmt.Errorf("%v has a fraction", f)
	}
	b, err := yaml.Marshal(x)
	if err != nil {
		return reflect.Value{}, err
	}
	p := reflect.New(t)
	if err := yaml.Unmarshal(b, p.Interface()); err != nil {
		return reflect.Value{}, err
	}
	return p.Elem(), nil
}

func typeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Uint64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	}
	return t.String()
}

func showValue(x any) string {
	if s, ok := x.(string); ok {
		return strconv.Quote(s)
	}
	b, err := yaml.Marshal(x)
	if err != nil {
		return fmt.Sprint(x)
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\n", " "))
}

// formatValue writes a setting's value as run names show it: numbers in
// their shortest form (0.001, 1e-05, 64).
func formatValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.Float64:
		return strconv.FormatFloat(v.Float(), 'g', -1, 64)
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = formatValue(v.Index(i))
		}
		return strings.Join(parts, "+")
	}
	return fmt.Sprint(v.Interface())
}

// axesOf lists the budget's axes, in train.Config's order.
func (s *Spec) axesOf() ([]Axis, error) {
	bv, err := parseBudget(s.Budget)
	if err != nil {
		return nil, err
	}
	var axes []Axis
	for _, b := range bv {
		if b.axis {
			axes = append(axes, Axis{Key: b.key.name, Values: b.names})
		}
	}
	return axes, nil
}

// Runs expands the spec into its runs: modalities × variants × the budget's
// axes × seeds, modality-major, each with its whole configuration (the
// train defaults, the budget, the axes' values, the variant and the seed:
// built here and nowhere else) checked, and its directory under out:
// out/MODALITY/VARIANT/seed-N, with a level KEY=VALUE,KEY=VALUE before the
// seed when the budget has axes.
func (s *Spec) Runs(out string) ([]Run, error) {
	bv, err := parseBudget(s.Budget)
	if err != nil {
		return nil, err
	}
	var axes []budgetValue
	for _, b := range bv {
		if b.axis {
			axes = append(axes, b)
		}
	}
	combos := [][]int{{}}
	for _, a := range axes { // the first axis varies slowest
		var next [][]int
		for _, c := range combos {
			for i := range a.values {
				next = append(next, append(append([]int(nil), c...), i))
			}
		}
		combos = next
	}
	var rs []Run
	for _, m := range s.Modalities {
		for _, v := range s.Variants {
			for _, combo := range combos {
				for _, seed := range s.Seeds {
					c := train.Defaults()
					cv := reflect.ValueOf(&c).Elem()
					var settings []Setting
					for _, b := range bv {
						i := 0
						if b.axis {
							i = combo[len(settings)]
							settings = append(settings, Setting{b.key.name, b.names[i]})
						}
						cv.Field(b.key.index).Set(b.values[i])
					}
					c.Seed = seed
					if len(v.NonSelective) > 0 {
						c.NonSelective = v.NonSelective
					}
					if v.Complex {
						c.Complex = true
					}
					if v.AInit != "" {
						c.AInit = v.AInit
					}
					parts := []string{m.Label, v.Name}
					if len(settings) > 0 {
						parts = append(parts, settingsLabel(settings, ","))
					}
					parts = append(parts, "seed-"+strconv.FormatUint(seed, 10))
					r := Run{Name: strings.Join(parts, "/"), Modality: m, Variant: v, Settings: settings, Seed: seed,
						Dir: filepath.Join(append([]string{out}, parts...)...), Config: c}
					resolved := c
					if err := resolved.Resolve(); err != nil {
						return nil, fmt.Errorf("run %s: %w", r.Name, err)
					}
					rs = append(rs, r)
				}
			}
		}
	}
	return rs, nil
}
