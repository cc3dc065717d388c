package train

import (
	"fmt"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/mambakit/mambakit/framework/plots"
)

// plotCurves writes curves.png: the training loss and the validation bits
// per unit against the step, with the best Markov baseline (order k) as a
// labelled line when known, titled with the run directory's name.
func plotCurves(path, run string, ms []Metric, unit string, upt float64, baseline float64, k int) error {
	f, err := curvesFigure(run, ms, unit, upt, baseline, k)
	if err != nil || f == nil {
		return err
	}
	h := 4.5 * vg.Inch
	if len(f.Panels) > 1 {
		h = 7.5 * vg.Inch
	}
	return f.Save(path, 8*vg.Inch, h)
}

// curvesFigure builds plotCurves' figure: one panel over the whole run
// and, when plots.ZoomFor asks for it, a second panel of the second
// half, zoomed (nil: nothing to draw yet).
func curvesFigure(run string, ms []Metric, unit string, upt float64, baseline float64, k int) (*plots.Figure, error) {
	var tr, va plotter.XYs
	for _, m := range ms {
		if !math.IsNaN(m.Loss) && !math.IsInf(m.Loss, 0) {
			tr = append(tr, plotter.XY{X: float64(m.Step), Y: m.Loss / math.Ln2 / upt})
		}
		if m.ValBPU != nil {
			va = append(va, plotter.XY{X: float64(m.Step), Y: *m.ValBPU})
		}
	}
	if len(tr) == 0 {
		return nil, nil
	}
	f := &plots.Figure{Title: fmt.Sprintf("%s: training loss and validation, bits per %s", plots.DirName(run), unit)}
	ylabel := "bits per " + unit
	panels := []struct {
		title string
		from  float64
		ref   bool // draw the baseline
	}{{"", math.Inf(-1), baseline > 0}}
	if z, ok := plots.ZoomFor(tr, va); ok {
		panels = append(panels, struct {
			title string
			from  float64
			ref   bool
		}{z.Title("step", "Markov baseline", baseline), z.From, baseline > 0 && z.Shows(baseline)})
	}
	for i, pn := range panels {
		p := f.NewPanel(pn.title, "step", ylabel)
		lt, err := plotter.NewLine(plots.After(tr, pn.from))
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		lt.Color, lt.Width = plots.Color(0), vg.Points(1)
		p.Add(lt)
		var thumbs []plot.Thumbnailer
		if v := plots.After(va, pn.from); len(v) > 0 {
			lv, pv, err := plotter.NewLinePoints(v)
			if err != nil {
				return nil, fmt.Errorf("plot: %w", err)
			}
			lv.Color, lv.Width = plots.Color(1), vg.Points(1.5)
			pv.Color, pv.Shape = plots.Color(1), draw.CircleGlyph{}
			p.Add(lv, pv)
			thumbs = []plot.Thumbnailer{lv, pv}
		}
		var ref plot.Thumbnailer
		if pn.ref {
			ref = p.AddRef(baseline, fmt.Sprintf("Markov order %d\n%.4f", k, baseline))
		}
		if i == 0 {
			f.AddLegend("training batch", lt)
			if thumbs != nil {
				f.AddLegend("validation", thumbs...)
			}
			if baseline > 0 {
				f.AddLegend("best Markov baseline", ref)
			}
		}
	}
	return f, nil
}
