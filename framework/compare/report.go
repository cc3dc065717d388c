package compare

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"gonum.org/v1/gonum/stat"

	"github.com/mambakit/mambakit/internal/atomicfile"
)

// Cell aggregates the runs of one modality, setting and variant over
// their seeds.
type Cell struct {
	Modality string // the modality's label
	Row      string // the row's label (Row.Label)
	Variant  string
	// Label names the cell in the figures: the variant, followed by the
	// settings when the grid has axes (only the settings when it has one
	// variant).
	Label     string
	Settings  []Setting
	Unit      string
	Mean, Std float64 // validation bits per unit over seeds; Std only from two seeds up (else 0)
	N         int     // seeds
}

// has reports whether r is one of the cell's runs.
func (c Cell) has(r Result) bool {
	return r.Modality.Label == c.Modality && r.Variant.Name == c.Variant && slices.Equal(r.Settings, c.Settings)
}

// Row is a line of the report's table: a modality and one combination of
// the axes' values.
type Row struct {
	Label    string // the modality's label, then the settings ("text lr=0.001")
	Modality string
	Settings []Setting
}

// Summary is the comparison's result.
type Summary struct {
	Rows     []Row
	Cells    []Cell             // by row, then variant in the spec's order
	Baseline map[string]float64 // modality label → best Markov baseline (mean over its runs)
	Unit     map[string]string  // modality label → unit
	// Gain is, per row, how much lower S6's bits per unit are than the
	// best LTI variant's, as a fraction of the latter (positive: selection
	// helps). Missing where the row has no S6 or no LTI variant.
	Gain map[string]float64
	// PairedGain is the same gain seed by seed (S6 against that best LTI
	// variant on the same seed, which also fixes the data split), for the
	// seeds both have: its spread says whether the mean gain is more than
	// the spread between seeds.
	PairedGain map[string][]float64
}

// Summarize aggregates results in the spec's order: a row per modality and
// combination of settings, a cell per row and variant.
func Summarize(s *Spec, rs []Result) Summary {
	sum := Summary{Baseline: map[string]float64{}, Unit: map[string]string{}, Gain: map[string]float64{}, PairedGain: map[string][]float64{}}
	for _, m := range s.Modalities {
		var bl []float64
		var rows [][]Setting
		for _, r := range rs {
			if r.Modality.Label != m.Label {
				continue
			}
			if r.Baseline > 0 {
				bl = append(bl, r.Baseline)
			}
			if !slices.ContainsFunc(rows, func(ss []Setting) bool { return slices.Equal(ss, r.Settings) }) {
				rows = append(rows, r.Settings)
			}
		}
		if len(bl) > 0 {
			sum.Baseline[m.Label] = stat.Mean(bl, nil)
		}
		for _, settings := range rows {
			row := Row{Label: m.Label, Modality: m.Label, Settings: settings}
			if len(settings) > 0 {
				row.Label += " " + settingsLabel(settings, " ")
			}
			sum.Rows = append(sum.Rows, row)
			sum.summarizeRow(s, row, rs)
		}
	}
	return sum
}

// summarizeRow adds the row's cells and its gain of selection.
func (sum *Summary) summarizeRow(s *Spec, row Row, rs []Result) {
	best := map[bool]float64{} // selective S6 → its mean; LTI → best mean
	bestName := map[bool]string{}
	haveLTI, haveS6 := false, false
	for _, v := range s.Variants {
		c := Cell{Modality: row.Modality, Row: row.Label, Variant: v.Name, Label: v.Name, Settings: row.Settings}
		if len(row.Settings) > 0 {
			c.Label = settingsLabel(row.Settings, " ")
			if len(s.Variants) > 1 {
				c.Label = v.Name + " " + c.Label
			}
		}
		var xs []float64
		for _, r := range rs {
			if c.has(r) {
				xs = append(xs, r.BitsPerUnit)
				c.Unit = r.Unit
			}
		}
		if len(xs) == 0 {
			continue
		}
		c.N = len(xs)
		c.Mean = stat.Mean(xs, nil)
		if len(xs) > 1 {
			c.Std = stat.StdDev(xs, nil)
		}
		sum.Cells = append(sum.Cells, c)
		sum.Unit[row.Modality] = c.Unit
		if v.Selective() {
			best[true], bestName[true], haveS6 = c.Mean, v.Name, true
		}
		if v.LTI() && (!haveLTI || c.Mean < best[false]) {
			best[false], bestName[false], haveLTI = c.Mean, v.Name, true
		}
	}
	if !haveS6 || !haveLTI {
		return
	}
	sum.Gain[row.Label] = (best[false] - best[true]) / best[false]
	inRow := func(r Result, variant string) bool {
		return r.Modality.Label == row.Modality && r.Variant.Name == variant && slices.Equal(r.Settings, row.Settings)
	}
	bySeed := map[uint64]float64{} // the LTI variant's result per seed
	for _, r := range rs {
		if inRow(r, bestName[false]) {
			bySeed[r.Seed] = r.BitsPerUnit
		}
	}
	for _, r := range rs {
		if lti, ok := bySeed[r.Seed]; ok && inRow(r, bestName[true]) {
			sum.PairedGain[row.Label] = append(sum.PairedGain[row.Label], (lti-r.BitsPerUnit)/lti)
		}
	}
}

// pairedText formats per-seed gains: mean ± std (k/n seeds positive).
func pairedText(gs []float64) string {
	if len(gs) == 0 {
		return "-"
	}
	wins := 0
	for _, g := range gs {
		if g > 0 {
			wins++
		}
	}
	if len(gs) == 1 {
		return fmt.Sprintf("%+.1f%% (%d/1)", 100*gs[0], wins)
	}
	return fmt.Sprintf("%+.1f%% ± %.1f (%d/%d)", 100*stat.Mean(gs, nil), 100*stat.StdDev(gs, nil), wins, len(gs))
}

// WriteReport writes report.md and its figures into out. Paths in the
// report are relative to it.
func WriteReport(s *Spec, rs []Result, out string) error {
	sum := Summarize(s, rs)
	var b strings.Builder
	fmt.Fprintf(&b, "# Comparison: %s\n\n", s.Name)
	fmt.Fprintf(&b, "%d runs over %s.\n\n", len(rs), gridText(s))
	budget, err := budgetYAML(s.Budget)
	if err != nil {
		return err
	}
	what := "the training settings of every run (a list is an axis of the grid; the rest are train's defaults, docs/training.md)"
	if s.fromRuns {
		what = "the training settings the runs share, and as lists those they differ in"
	}
	fmt.Fprintf(&b, "Budget: %s:\n\n```yaml\n%s```\n\n", what, budget)
	fmt.Fprintf(&b, "## Validation bits per unit\n\n%s\n\n", spreadText(sum.Cells))
	gains := len(sum.Gain) > 0
	b.WriteString("| modality |")
	for _, a := range s.Axes {
		fmt.Fprintf(&b, " %s |", a.Key)
	}
	b.WriteString(" unit | best Markov baseline |")
	for _, v := range s.Variants {
		fmt.Fprintf(&b, " %s |", v.Name)
	}
	if gains {
		b.WriteString(" selection gain over best LTI | paired by seed (S6 better) |")
	}
	cols := 3 + len(s.Axes) + len(s.Variants)
	if gains {
		cols += 2
	}
	fmt.Fprintf(&b, "\n|%s\n", strings.Repeat(" --- |", cols))
	uniformN := sameN(sum.Cells)
	for _, row := range sum.Rows {
		fmt.Fprintf(&b, "| %s |", row.Modality)
		for _, st := range row.Settings {
			fmt.Fprintf(&b, " %s |", st.Value)
		}
		fmt.Fprintf(&b, " %s | %s |", sum.Unit[row.Modality], fmtOpt(sum.Baseline[row.Modality]))
		for _, v := range s.Variants {
			c, ok := cellOf(sum, row.Label, v.Name)
			switch {
			case !ok:
				b.WriteString(" - |")
			case c.N > 1:
				fmt.Fprintf(&b, " %.4f ± %.4f%s |", c.Mean, c.Std, nText(c, uniformN))
			default:
				fmt.Fprintf(&b, " %.4f%s |", c.Mean, nText(c, uniformN))
			}
		}
		if gains {
			if g, ok := sum.Gain[row.Label]; ok {
				fmt.Fprintf(&b, " %+.1f%% |", 100*g)
			} else {
				b.WriteString(" - |")
			}
			b.WriteString(" " + pairedText(sum.PairedGain[row.Label]) + " |")
		}
		b.WriteString("\n")
	}
	if gains {
		fmt.Fprintf(&b, "\nThe gain is (best LTI − S6) / best LTI: positive where selection helps. ")
		fmt.Fprintf(&b, "Paired by seed: the same gain on each seed (same data split and initial draw), mean ± std from two seeds up, and on how many seeds S6 was better. ")
		fmt.Fprintf(&b, "The paper expects it positive on discrete data (text, DNA) and possibly negative on continuous signals (audio).\n\n")
		fmt.Fprintf(&b, "![spectrum](spectrum.png)\n\n")
	} else {
		b.WriteString("\n")
	}
	for _, m := range s.Modalities {
		f := fileLabel(m.Label)
		fmt.Fprintf(&b, "![%s](bpu-%s.png) ![%s curves](curves-%s.png)\n\n", m.Label, f, m.Label, f)
	}
	b.WriteString("## Runs\n\n| modality | variant |")
	for _, a := range s.Axes {
		fmt.Fprintf(&b, " %s |", a.Key)
	}
	fmt.Fprintf(&b, " seed | step | validation | answer accuracy | tokens/s | wall time | directory |\n|%s\n", strings.Repeat(" --- |", 9+len(s.Axes)))
	absOut, err := filepath.Abs(out)
	if err != nil {
		return err
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "| %s | %s |", r.Modality.Label, r.Variant.Name)
		for _, st := range r.Settings {
			fmt.Fprintf(&b, " %s |", st.Value)
		}
		acc, wall, step := "-", "-", strconv.Itoa(r.Step)
		if r.Accuracy != nil {
			acc = fmt.Sprintf("%.1f%%", 100**r.Accuracy)
		}
		if r.WallSeconds > 0 {
			wall = fmt.Sprintf("%.0fs", r.WallSeconds)
		}
		if r.Steps > 0 {
			step += "/" + strconv.Itoa(r.Steps)
		}
		dir := relPath(absOut, r.Dir)
		fmt.Fprintf(&b, " %d | %s | %.4f | %s | %.0f | %s | [%s](%s) |\n", r.Seed, step, r.BitsPerUnit, acc, r.TokensPerSec, wall, dir, dir)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(out, "report.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return writeFigures(s, sum, rs, out)
}

// gridText lists what the runs vary in: modalities, variants, the axes'
// values and seeds.
func gridText(s *Spec) string {
	var ms, vs, ss []string
	for _, m := range s.Modalities {
		ms = append(ms, m.Label)
	}
	for _, v := range s.Variants {
		vs = append(vs, v.Name)
	}
	for _, seed := range s.Seeds {
		ss = append(ss, strconv.FormatUint(seed, 10))
	}
	parts := []string{"modalities " + strings.Join(ms, ", "), "variants " + strings.Join(vs, ", ")}
	for _, a := range s.Axes {
		parts = append(parts, a.Key+" "+strings.Join(a.Values, ", "))
	}
	parts = append(parts, "seeds "+strings.Join(ss, ", "))
	return strings.Join(parts, "; ")
}

// budgetYAML writes the budget as YAML in train.Config's order, lists (the
// axes) in flow style.
func budgetYAML(budget map[string]any) (string, error) {
	doc := &yaml.Node{Kind: yaml.MappingNode}
	add := func(k string) error {
		var v yaml.Node
		if err := v.Encode(budget[k]); err != nil {
			return fmt.Errorf("budget %s: %w", k, err)
		}
		if v.Kind == yaml.SequenceNode {
			v.Style = yaml.FlowStyle
		}
		doc.Content = append(doc.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: k}, &v)
		return nil
	}
	done := map[string]bool{}
	for _, k := range configKeys {
		if _, ok := budget[k.name]; ok {
			if err := add(k.name); err != nil {
				return "", err
			}
			done[k.name] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(budget)) { // none, for a checked budget
		if !done[k] {
			if err := add(k); err != nil {
				return "", err
			}
		}
	}
	if len(doc.Content) == 0 {
		return "{}\n", nil
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return "", err
	}
	return buf.String(), enc.Close()
}

// sameN returns the cells' number of seeds when all have the same, else 0.
func sameN(cells []Cell) int {
	n := 0
	for i, c := range cells {
		if i > 0 && c.N != n {
			return 0
		}
		n = c.N
	}
	return n
}

// spreadText says what a cell holds.
func spreadText(cells []Cell) string {
	switch n := sameN(cells); n {
	case 1:
		return "One seed per cell (n = 1): each cell is that run's figure; no spread is measured."
	case 0:
		return "Each cell is the mean ± standard deviation over its n seeds when n ≥ 2, and the single run's figure when n = 1."
	default:
		return fmt.Sprintf("Each cell is the mean ± standard deviation over n = %d seeds.", n)
	}
}

// nText is a cell's number of seeds, when cells differ in it.
func nText(c Cell, uniform int) string {
	if uniform > 0 {
		return ""
	}
	return fmt.Sprintf(" (n = %d)", c.N)
}

// relPath is dir relative to the report's directory, with slashes.
func relPath(absOut, dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return filepath.ToSlash(dir)
	}
	rel, err := filepath.Rel(absOut, abs)
	if err != nil {
		return filepath.ToSlash(abs)
	}
	return filepath.ToSlash(rel)
}

// fileLabel makes a label safe in a file name and a Markdown link.
func fileLabel(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (r == '.' || r == '_' || r == '+' || r == '-' || r == '=' || r == ',' ||
			'0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') {
			return r
		}
		return '_'
	}, s)
}

func fmtOpt(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.4f", v)
}

// cellOf finds the cell of a row (its label) and a variant.
func cellOf(sum Summary, row, v string) (Cell, bool) {
	for _, c := range sum.Cells {
		if c.Row == row && c.Variant == v {
			return c, true
		}
	}
	return Cell{}, false
}
