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

// zoomRatio is how much narrower than the whole run's range the second
// half's must be for curves.png to draw the second half again, zoomed: a
// first loss of 5.5 bits would otherwise flatten differences of 0.02
// between the model and the baseline into one line.
const zoomRatio = 3

// curvesFigure builds plotCurves' figure: one panel over the whole run
// and, when the second half spans less than 1/zoomRatio of the whole
// range, a second panel of the second half (nil: nothing to draw yet).
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
	half := tr[0].X + (tr[len(tr)-1].X-tr[0].X)/2
	all := yRange(baseline, tr, va)
	late := yRange(baseline, after(tr, half), after(va, half))
	panels := []struct {
		title string
		from  float64
	}{{"", math.Inf(-1)}}
	if late[1]-late[0] < (all[1]-all[0])/zoomRatio {
		panels = append(panels, struct {
			title string
			from  float64
		}{fmt.Sprintf("from step %.0f, zoomed", math.Ceil(half)), half})
	}
	for i, pn := range panels {
		p := f.NewPanel(pn.title, "step", ylabel)
		lt, err := plotter.NewLine(after(tr, pn.from))
		if err != nil {
			return nil, fmt.Errorf("plot: %w", err)
		}
		lt.Color, lt.Width = plots.Color(0), vg.Points(1)
		p.Add(lt)
		var thumbs []plot.Thumbnailer
		if v := after(va, pn.from); len(v) > 0 {
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
		if baseline > 0 {
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

// after returns the points at or after step from.
func after(xys plotter.XYs, from float64) plotter.XYs {
	for i, p := range xys {
		if p.X >= from {
			return xys[i:]
		}
	}
	return nil
}

// yRange returns the smallest and largest Y of the points and the
// baseline (when positive).
func yRange(baseline float64, sets ...plotter.XYs) [2]float64 {
	r := [2]float64{math.Inf(1), math.Inf(-1)}
	if baseline > 0 {
		r = [2]float64{baseline, baseline}
	}
	for _, s := range sets {
		for _, p := range s {
			r[0], r[1] = math.Min(r[0], p.Y), math.Max(r[1], p.Y)
		}
	}
	return r
}
