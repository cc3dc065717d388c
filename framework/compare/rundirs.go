package compare

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/mambakit/mambakit/sdk"
)

// ReadRuns reads existing run directories (those train writes: config.yaml,
// metrics.jsonl, checkpoints/) for a report. An argument with *, ? or [ that
// names no file is a pattern (filepath.Match), expanded here, so that a
// quoted pattern works. A directory that is not a run is refused.
//
// The runs are grouped by the settings they differ in: the modality (its
// plugin and data), the variant (nonselective, complex, a_init), the seed
// (the runs of a group that differ only in it are its seeds), and any other
// training setting, which becomes an axis. What they share is returned as
// the spec's budget.
func ReadRuns(args []string) (*Spec, []Result, error) {
	dirs, err := expandRunArgs(args)
	if err != nil {
		return nil, nil, err
	}
	recs := make([]runRecord, len(dirs))
	for i, d := range dirs {
		if recs[i], err = readRunDir(d); err != nil {
			return nil, nil, err
		}
	}
	s, rs := groupRuns(dirs, recs)
	res, err := Collect(rs)
	if err != nil {
		return nil, nil, err
	}
	return s, res, nil
}

// expandRunArgs expands patterns and drops repeats, keeping the order.
func expandRunArgs(args []string) ([]string, error) {
	if len(args) == 0 {
		return nil, errors.New("no run directories given")
	}
	var dirs []string
	seen := map[string]bool{}
	for _, a := range args {
		matches := []string{a}
		if _, err := os.Stat(a); err != nil && strings.ContainsAny(a, "*?[") {
			m, err := filepath.Glob(a)
			if err != nil {
				return nil, fmt.Errorf("pattern %q: %w", a, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("pattern %q matches nothing", a)
			}
			matches = m
		}
		for _, m := range matches {
			if c := filepath.Clean(m); !seen[c] {
				seen[c] = true
				dirs = append(dirs, c)
			}
		}
	}
	return dirs, nil
}

// readRunDir reads a run directory's config.yaml, refusing a directory
// that is not a run.
func readRunDir(dir string) (runRecord, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return runRecord{}, fmt.Errorf("%s: no such run directory", dir)
	} else if err != nil {
		return runRecord{}, fmt.Errorf("run directory: %w", err)
	}
	if !st.IsDir() {
		return runRecord{}, fmt.Errorf("%s is not a run directory (not a directory)", dir)
	}
	rec, err := readRunConfig(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return rec, notARun(dir)
	}
	return rec, err
}

// notARun says that dir is not a run, and where its runs are when it
// holds some (the directory of a comparison, say).
func notARun(dir string) error {
	var found []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == dir {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.Count(rel, string(filepath.Separator)) >= 4 {
			return fs.SkipDir
		}
		if _, err := os.Stat(filepath.Join(p, "config.yaml")); err == nil {
			found = append(found, rel)
			return fs.SkipDir
		}
		return nil
	})
	msg := fmt.Sprintf("%s is not a run directory (no config.yaml)", dir)
	if len(found) == 0 {
		return errors.New(msg)
	}
	depth := strings.Count(found[0], string(filepath.Separator))
	for _, f := range found {
		if strings.Count(f, string(filepath.Separator)) != depth {
			return fmt.Errorf("%s; it holds %d runs, such as %s", msg, len(found), filepath.Join(dir, found[0]))
		}
	}
	pattern := filepath.Join(append([]string{dir}, slices.Repeat([]string{"*"}, depth+1)...)...)
	return fmt.Errorf("%s; it holds %d runs: give them, as in compare '%s'", msg, len(found), pattern)
}

// groupingSkipped are the settings that do not tell runs apart: how often
// a run reports, evaluates, saves and samples, its threads, and its preset
// (d_model, layers and d_state say the size).
var groupingSkipped = map[string]bool{"threads": true, "preset": true, "eval_every": true, "save_every": true,
	"keep_last": true, "log_every": true, "sample_tokens": true}

// derivedFrom are settings that train derives from another when not given:
// such a setting is an axis only where it is not a function of its source.
var derivedFrom = map[string]string{"schedule_steps": "steps", "warmup": "schedule_steps", "min_lr": "lr"}

// variantKeys are the settings that make the SSM variant.
var variantKeys = map[string]bool{"nonselective": true, "complex": true, "a_init": true}

// groupRuns turns run directories into a spec and its runs.
func groupRuns(dirs []string, recs []runRecord) (*Spec, []Run) {
	values := make([]map[string]string, len(recs)) // setting → value, per run
	for i, rec := range recs {
		values[i] = map[string]string{}
		cv := reflect.ValueOf(rec.Config)
		for _, k := range configKeys {
			values[i][k.name] = formatValue(cv.Field(k.index))
		}
	}
	differs := func(key string) bool {
		for i := range values {
			if values[i][key] != values[0][key] {
				return true
			}
		}
		return false
	}
	functionOf := func(key, src string) bool {
		m := map[string]string{}
		for i := range values {
			if v, ok := m[values[i][src]]; ok && v != values[i][key] {
				return false
			}
			m[values[i][src]] = values[i][key]
		}
		return true
	}
	s := &Spec{Name: fmt.Sprintf("%d runs", len(dirs)), Budget: map[string]any{}, fromRuns: true}
	var axisKeys []configKey
	for _, k := range configKeys {
		switch {
		case k.name == "seed" || variantKeys[k.name] || k.name == "threads":
		case !differs(k.name):
			s.Budget[k.name] = reflect.ValueOf(recs[0].Config).Field(k.index).Interface()
		case groupingSkipped[k.name]:
		case derivedFrom[k.name] != "" && functionOf(k.name, derivedFrom[k.name]):
		default:
			axisKeys = append(axisKeys, k)
		}
	}
	for _, k := range axisKeys {
		var typed []any
		a := Axis{Key: k.name}
		for i := range recs {
			if v := values[i][k.name]; !slices.Contains(a.Values, v) {
				a.Values = append(a.Values, v)
				typed = append(typed, reflect.ValueOf(recs[i].Config).Field(k.index).Interface())
			}
		}
		idx := make([]int, len(a.Values))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(x, y int) int { return compareValues(a.Values[x], a.Values[y]) })
		sortedV, sortedT := make([]string, len(idx)), make([]any, len(idx))
		for j, i := range idx {
			sortedV[j], sortedT[j] = a.Values[i], typed[i]
		}
		a.Values = sortedV
		s.Budget[k.name] = sortedT
		s.Axes = append(s.Axes, a)
	}

	// Modalities: a plugin with one dataset is labelled by its name; with
	// several, name-data1, name-data2 ... in the order met.
	ids := make([]string, len(recs))
	byName := map[string][]string{}
	for i, rec := range recs {
		ids[i] = dataIdentity(dirs[i], rec)
		if !slices.Contains(byName[rec.Modality.Name], ids[i]) {
			byName[rec.Modality.Name] = append(byName[rec.Modality.Name], ids[i])
		}
	}
	labelOf := func(i int) string {
		name := recs[i].Modality.Name
		if len(byName[name]) == 1 {
			return name
		}
		return fmt.Sprintf("%s-data%d", name, slices.Index(byName[name], ids[i])+1)
	}
	var rs []Run
	for i, rec := range recs {
		r := Run{Name: dirs[i], Dir: dirs[i], Seed: rec.Seed,
			Modality: Modality{Name: rec.Modality.Name, Label: labelOf(i), Options: rec.Options},
			Variant:  variantOf(rec.NonSelective, rec.Complex, rec.AInit)}
		for _, k := range axisKeys {
			r.Settings = append(r.Settings, Setting{k.name, values[i][k.name]})
		}
		if !slices.ContainsFunc(s.Modalities, func(m Modality) bool { return m.Label == r.Modality.Label }) {
			s.Modalities = append(s.Modalities, r.Modality)
		}
		if !slices.ContainsFunc(s.Variants, func(v Variant) bool { return v.Name == r.Variant.Name }) {
			s.Variants = append(s.Variants, r.Variant)
		}
		if !slices.Contains(s.Seeds, r.Seed) {
			s.Seeds = append(s.Seeds, r.Seed)
		}
		rs = append(rs, r)
	}
	slices.Sort(s.Seeds)
	slices.SortStableFunc(s.Variants, compareVariants)
	// The runs in the report's order: modality, settings, variant, seed.
	slices.SortStableFunc(rs, func(a, b Run) int {
		if c := cmp.Compare(slices.IndexFunc(s.Modalities, func(m Modality) bool { return m.Label == a.Modality.Label }),
			slices.IndexFunc(s.Modalities, func(m Modality) bool { return m.Label == b.Modality.Label })); c != 0 {
			return c
		}
		for j := range a.Settings {
			if c := compareValues(a.Settings[j].Value, b.Settings[j].Value); c != 0 {
				return c
			}
		}
		if c := compareVariants(a.Variant, b.Variant); c != 0 {
			return c
		}
		return cmp.Compare(a.Seed, b.Seed)
	})
	return s, rs
}

// compareVariants orders variants from the most selective (S6) to the
// least (LTI), real before complex.
func compareVariants(a, b Variant) int {
	return cmp.Or(cmp.Compare(len(a.NonSelective), len(b.NonSelective)), cmp.Compare(boolInt(a.Complex), boolInt(b.Complex)),
		cmp.Compare(a.AInit, b.AInit), cmp.Compare(a.Name, b.Name))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// compareValues orders setting values, numerically when both are numbers.
func compareValues(a, b string) int {
	x, errx := strconv.ParseFloat(a, 64)
	y, erry := strconv.ParseFloat(b, 64)
	if errx == nil && erry == nil {
		return cmp.Compare(x, y)
	}
	return cmp.Compare(a, b)
}

// dataIdentity tells a run's data apart from other data: its plugin,
// options and vocabulary, and the size of the prepared dataset (units and
// documents of both splits, which the seed's split does not change).
func dataIdentity(dir string, rec runRecord) string {
	id := fmt.Sprintf("%s|%d", rec.Modality.Name, rec.Vocab)
	for _, k := range slices.Sorted(maps.Keys(rec.Options)) {
		id += "|" + k + "=" + rec.Options[k]
	}
	if mf, err := sdk.ReadDataset(filepath.Join(dir, "data")); err == nil {
		id += fmt.Sprintf("|%d units|%d documents", mf.Train.Units+mf.Valid.Units, mf.Train.Documents+mf.Valid.Documents)
	}
	return id
}

// variantOf names the SSM variant of a configuration as the built-in specs
// do: S6, LTI, delta-only, B-only, C-only, or the selective parameters
// joined (delta+B); -complex and -randomA when they apply.
func variantOf(nonSelective []string, complex bool, aInit string) Variant {
	v := Variant{NonSelective: nonSelective, Complex: complex, AInit: aInit}
	var sel []string
	for _, p := range []string{"delta", "B", "C"} {
		if !slices.Contains(nonSelective, p) {
			sel = append(sel, p)
		}
	}
	switch len(sel) {
	case 3:
		v.Name = "S6"
	case 0:
		v.Name = "LTI"
	case 1:
		v.Name = sel[0] + "-only"
	default:
		v.Name = strings.Join(sel, "+")
	}
	if complex {
		v.Name += "-complex"
	}
	if aInit == "random" {
		v.Name += "-randomA"
	} else if aInit != "" {
		v.Name += "-" + aInit
	}
	return v
}
