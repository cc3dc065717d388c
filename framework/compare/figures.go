package compare

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/mambakit/mambakit/framework/plots"
)

// writeFigures draws the report's figures into out, titled with the
// spec's name: spectrum.png (the gain of selection per row: a modality and
// one combination of the axes' values) and, per modality,
// bpu-MODALITY.png (validation per cell: variant and settings) and
// curves-MODALITY.png (validation during training per cell).
func writeFigures(s *Spec, sum Summary, rs []Result, out string) error {
	name := s.Name
	if name == "" {
		name = plots.DirName(out)
	}
	var gains []plots.Bar
	for _, row := range sum.Rows {
		g, ok := sum.Gain[row.Label]
		if !ok {
			continue
		}
		b := plots.Bar{Name: fmt.Sprintf("%s (%s)", row.Label, sum.Unit[row.Modality]), Mean: 100 * g}
		if pg := sum.PairedGain[row.Label]; len(pg) > 0 {
			b.Mean = 100 * stat.Mean(pg, nil)
			for _, x := range pg {
				b.Seeds = append(b.Seeds, 100*x)
			}
		}
		b.Label = fmt.Sprintf("%+.2f%%", b.Mean)
		gains = append(gains, b)
	}
	if err := plotSpectrum(filepath.Join(out, "spectrum.png"), name+": gain of selection (S6) over the best LTI variant", gains); err != nil {
		return err
	}
	for _, m := range s.Modalities {
		unit := sum.Unit[m.Label]
		var bars []plots.Bar
		var curves []curve
		seeds := 0
		for _, c := range sum.Cells {
			if c.Modality != m.Label {
				continue
			}
			seeds = max(seeds, c.N)
			label := strings.ReplaceAll(c.Label, " ", "\n") // variant and settings, a line each
			b := plots.Bar{Name: label, Mean: c.Mean, Label: fmt.Sprintf("%.4f", c.Mean)}
			cv := curve{Name: c.Label}
			for _, r := range rs {
				if !c.has(r) {
					continue
				}
				b.Seeds = append(b.Seeds, r.BitsPerUnit)
				cv.add(r.Curve)
			}
			if c.N > 1 {
				b.Label += fmt.Sprintf("\n± %.4f", c.Std)
			}
			bars, curves = append(bars, b), append(curves, cv)
		}
		over := ""
		if seeds > 1 {
			over = fmt.Sprintf(" (mean ± std over %d seeds)", seeds)
		}
		bl := baselineLabel(rs, m.Label, sum.Baseline[m.Label])
		f := fileLabel(m.Label)
		title := fmt.Sprintf("%s: %s, validation bits per %s%s", name, m.Label, unit, over)
		if err := plotBars(filepath.Join(out, "bpu-"+f+".png"), title, unit, bars, sum.Baseline[m.Label], bl); err != nil {
			return err
		}
		title = fmt.Sprintf("%s: %s, validation during training%s", name, m.Label, over)
		if err := plotCurves(filepath.Join(out, "curves-"+f+".png"), title, unit, curves, sum.Baseline[m.Label], bl); err != nil {
			return err
		}
	}
	return nil
}

// baselineLabel names a modality's Markov baseline (bl, the mean over
// its runs) for the label of its line: its order when every run's best
// order is the same, and whether it is a mean.
func baselineLabel(rs []Result, mod string, bl float64) string {
	var orders []int
	for _, r := range rs {
		if r.Modality.Label == mod && r.Baseline > 0 && !slices.Contains(orders, r.BaselineK) {
			orders = append(orders, r.BaselineK)
		}
	}
	seeds := map[uint64]bool{}
	for _, r := range rs {
		if r.Modality.Label == mod && r.Baseline > 0 {
			seeds[r.Seed] = true
		}
	}
	name := "Markov baseline"
	if len(orders) == 1 {
		name = fmt.Sprintf("Markov order %d", orders[0])
	}
	if len(seeds) > 1 {
		return fmt.Sprintf("%s\n%.4f (mean)", name, bl)
	}
	return fmt.Sprintf("%s\n%.4f", name, bl)
}

// curve is one variant's validation by step, each step's values over
// seeds.
type curve struct {
	Name  string
	Steps []int
	BPU   [][]float64
}

func (c *curve) add(ps []Point) {
	for _, p := range ps {
		i := slices.Index(c.Steps, p.Step)
		if i < 0 {
			c.Steps, c.BPU = append(c.Steps, p.Step), append(c.BPU, nil)
			i = len(c.Steps) - 1
		}
		c.BPU[i] = append(c.BPU[i], p.BPU)
	}
}

// figureW and figureH are a report figure's size.
const figureW, figureH = 7 * vg.Inch, 4.5 * vg.Inch

// plotBars draws one modality's validation bits per unit per variant:
// bars from zero with error bars and dots over seeds, and the Markov
// baseline as a labelled line (baseline 0: unknown).
func plotBars(path, title, unit string, bars []plots.Bar, baseline float64, baselineLabel string) error {
	if len(bars) == 0 {
		return nil
	}
	f := &plots.Figure{Title: title}
	p := f.NewPanel("", "", "bits per "+unit)
	if err := p.Bars(bars, plots.Color(0)); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	if baseline > 0 {
		p.AddRef(baseline, baselineLabel)
	}
	return f.Save(path, barsWidth(len(bars)), figureH)
}

// barsWidth is the width of a figure of n bars: about an inch a bar, so
// that their names do not run into each other.
func barsWidth(n int) vg.Length {
	return max(figureW, 1.5*vg.Inch+vg.Length(n)*vg.Inch)
}

// plotSpectrum draws the gain of selection per modality, in percent, as
// bars from zero (with error bars and dots over seeds).
func plotSpectrum(path, title string, gains []plots.Bar) error {
	if len(gains) == 0 {
		return nil
	}
	f := &plots.Figure{Title: title}
	ylabel := "% fewer bits per unit"
	if slices.ContainsFunc(gains, func(b plots.Bar) bool { return len(b.Seeds) > 1 }) {
		ylabel += ", paired by seed"
	}
	p := f.NewPanel("", "", ylabel)
	if err := p.Bars(gains, plots.Color(1)); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return f.Save(path, barsWidth(len(gains)), figureH)
}

// plotCurves draws each variant's validation during training, the mean
// over seeds with ± std error bars from two seeds up, and the Markov
// baseline as a labelled line; the legend is below the plot. When the
// early evaluations flatten the later differences, a second panel
// repeats the second half, zoomed (plots.ZoomFrom).
func plotCurves(path, title, unit string, curves []curve, baseline float64, baselineLabel string) error {
	type series struct {
		name string
		xys  plotter.XYs
		errs plotter.YErrors // nil: one seed
	}
	var ss []series
	for _, c := range curves {
		if len(c.Steps) == 0 {
			continue
		}
		sr := series{name: c.Name, xys: make(plotter.XYs, len(c.Steps)), errs: make(plotter.YErrors, len(c.Steps))}
		spread := false
		for j, st := range c.Steps {
			sr.xys[j] = plotter.XY{X: float64(st), Y: stat.Mean(c.BPU[j], nil)}
			if len(c.BPU[j]) > 1 {
				sd := stat.StdDev(c.BPU[j], nil)
				sr.errs[j].Low, sr.errs[j].High = sd, sd
				spread = true
			}
		}
		if !spread {
			sr.errs = nil
		}
		ss = append(ss, sr)
	}
	if len(ss) == 0 {
		return nil
	}
	all := make([]plotter.XYs, len(ss))
	for i, sr := range ss {
		all[i] = sr.xys
	}
	f := &plots.Figure{Title: title}
	panels := []*plots.Panel{f.NewPanel("", "step", "bits per "+unit)}
	froms, refs := []float64{math.Inf(-1)}, []bool{baseline > 0}
	if z, ok := plots.ZoomFor(all...); ok {
		panels = append(panels, f.NewPanel(z.Title("step", "Markov baseline", baseline), "step", "bits per "+unit))
		froms, refs = append(froms, z.From), append(refs, baseline > 0 && z.Shows(baseline))
	}
	for k, p := range panels {
		for i, sr := range ss {
			xys := plots.After(sr.xys, froms[k])
			if len(xys) == 0 {
				continue
			}
			l, pts, err := plotter.NewLinePoints(xys)
			if err != nil {
				return fmt.Errorf("plot %s: %w", path, err)
			}
			l.Color, pts.Color = plots.Color(i), plots.Color(i)
			l.Width = vg.Points(1.5)
			pts.Shape = draw.CircleGlyph{}
			p.Add(l, pts)
			if sr.errs != nil {
				eb, err := plotter.NewYErrorBars(struct {
					plotter.XYs
					plotter.YErrors
				}{xys, sr.errs[len(sr.xys)-len(xys):]})
				if err != nil {
					return fmt.Errorf("plot %s: %w", path, err)
				}
				eb.Color = plots.Color(i)
				p.Add(eb)
			}
			if k == 0 {
				f.AddLegend(sr.name, l, pts)
			}
		}
		if refs[k] {
			t := p.AddRef(baseline, baselineLabel)
			if k == 0 {
				f.AddLegend("best Markov baseline", t)
			}
		}
	}
	h := figureH
	if len(panels) > 1 {
		h = 7.5 * vg.Inch
	}
	return f.Save(path, figureW, h)
}
