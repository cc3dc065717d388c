package compare

import (
	"fmt"
	"path/filepath"
	"strings"

	"gonum.org/v1/gonum/stat"

	"github.com/mambakit/mambakit/internal/atomicfile"
)

// Cell aggregates one modality × variant over seeds.
type Cell struct {
	Modality, Variant string
	Unit              string
	Mean, Std         float64 // validation bits per unit over seeds
	N                 int
}

// Summary is the comparison's result.
type Summary struct {
	Cells    []Cell
	Baseline map[string]float64 // modality → best Markov baseline (mean over seeds)
	Unit     map[string]string
	// Gain is, per modality, how much lower S6's bits per unit are than
	// the best LTI variant's, as a fraction of the latter (positive:
	// selection helps). Missing when the spec has no S6 or no LTI variant.
	Gain map[string]float64
	// PairedGain is the same gain seed by seed (S6 against that best LTI
	// variant on the same seed, which also fixes the data split), for the
	// seeds both have: its spread says whether the mean gain is more than
	// the spread between seeds.
	PairedGain map[string][]float64
}

// Summarize aggregates results in the spec's order.
func Summarize(s *Spec, rs []Result) Summary {
	sum := Summary{Baseline: map[string]float64{}, Unit: map[string]string{}, Gain: map[string]float64{}, PairedGain: map[string][]float64{}}
	for _, m := range s.Modalities {
		var bl []float64
		best := map[bool]float64{} // selective S6 → its mean; LTI → best mean
		bestName := map[bool]string{}
		haveLTI, haveS6 := false, false
		for _, v := range s.Variants {
			var xs []float64
			c := Cell{Modality: m.Label, Variant: v.Name}
			for _, r := range rs {
				if r.Modality.Label == m.Label && r.Variant.Name == v.Name {
					xs = append(xs, r.BitsPerUnit)
					c.Unit = r.Unit
					if r.Baseline > 0 {
						bl = append(bl, r.Baseline)
					}
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
			sum.Unit[m.Label] = c.Unit
			if v.Selective() {
				best[true], bestName[true], haveS6 = c.Mean, v.Name, true
			}
			if v.LTI() && (!haveLTI || c.Mean < best[false]) {
				best[false], bestName[false], haveLTI = c.Mean, v.Name, true
			}
		}
		if len(bl) > 0 {
			sum.Baseline[m.Label] = stat.Mean(bl, nil)
		}
		if haveS6 && haveLTI {
			sum.Gain[m.Label] = (best[false] - best[true]) / best[false]
			bySeed := map[uint64]float64{} // the LTI variant's result per seed
			for _, r := range rs {
				if r.Modality.Label == m.Label && r.Variant.Name == bestName[false] {
					bySeed[r.Seed] = r.BitsPerUnit
				}
			}
			for _, r := range rs {
				if lti, ok := bySeed[r.Seed]; ok && r.Modality.Label == m.Label && r.Variant.Name == bestName[true] {
					sum.PairedGain[m.Label] = append(sum.PairedGain[m.Label], (lti-r.BitsPerUnit)/lti)
				}
			}
		}
	}
	return sum
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

// WriteReport writes report.md and its plots into out.
func WriteReport(s *Spec, rs []Result, out string) error {
	sum := Summarize(s, rs)
	var b strings.Builder
	fmt.Fprintf(&b, "# Comparison: selection across modalities\n\n")
	fmt.Fprintf(&b, "Runs: %d modalities × %d variants × %d seeds, one budget: `%v`.\n\n", len(s.Modalities), len(s.Variants), len(s.Seeds), s.Budget)
	fmt.Fprintf(&b, "## Validation bits per unit (mean ± std over seeds)\n\n| modality | unit | best Markov baseline |")
	for _, v := range s.Variants {
		fmt.Fprintf(&b, " %s |", v.Name)
	}
	fmt.Fprintf(&b, " selection gain over best LTI | paired by seed (S6 better) |\n| --- | --- | --- |%s --- | --- |\n", strings.Repeat(" --- |", len(s.Variants)))
	for _, m := range s.Modalities {
		fmt.Fprintf(&b, "| %s | %s | %s |", m.Label, sum.Unit[m.Label], fmtOpt(sum.Baseline[m.Label]))
		for _, v := range s.Variants {
			c, ok := cellOf(sum, m.Label, v.Name)
			switch {
			case !ok:
				b.WriteString(" - |")
			case c.N > 1:
				fmt.Fprintf(&b, " %.4f ± %.4f |", c.Mean, c.Std)
			default:
				fmt.Fprintf(&b, " %.4f |", c.Mean)
			}
		}
		if g, ok := sum.Gain[m.Label]; ok {
			fmt.Fprintf(&b, " %+.1f%% |", 100*g)
		} else {
			b.WriteString(" - |")
		}
		b.WriteString(" " + pairedText(sum.PairedGain[m.Label]) + " |\n")
	}
	fmt.Fprintf(&b, "\nThe gain is (best LTI − S6) / best LTI: positive where selection helps. ")
	fmt.Fprintf(&b, "Paired by seed: the same gain on each seed (same data split and initial draw), mean ± std, and on how many seeds S6 was better. ")
	fmt.Fprintf(&b, "The paper expects it positive on discrete data (text, DNA) and possibly negative on continuous signals (audio).\n\n")
	fmt.Fprintf(&b, "![spectrum](spectrum.png)\n\n")
	for _, m := range s.Modalities {
		fmt.Fprintf(&b, "![%s](bpu-%s.png) ![%s curves](curves-%s.png)\n\n", m.Label, m.Label, m.Label, m.Label)
	}
	fmt.Fprintf(&b, "## Runs\n\n| modality | variant | seed | validation | answer accuracy | tokens/s | wall time | directory |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rs {
		acc := "-"
		if r.Accuracy != nil {
			acc = fmt.Sprintf("%.1f%%", 100**r.Accuracy)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.4f | %s | %.0f | %.0fs | %s |\n", r.Modality.Label, r.Variant.Name, r.Seed, r.BitsPerUnit, acc, r.TokensPerSec, r.WallSeconds, r.Dir)
	}
	if err := atomicfile.WriteFile(filepath.Join(out, "report.md"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return writeFigures(s, sum, rs, out)
}

func fmtOpt(v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("%.4f", v)
}

func cellOf(sum Summary, m, v string) (Cell, bool) {
	for _, c := range sum.Cells {
		if c.Modality == m && c.Variant == v {
			return c, true
		}
	}
	return Cell{}, false
}
