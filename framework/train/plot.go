package train

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// plotCurves draws the training loss and the validation bits per unit
// (and the baseline, when known) against the step, as a PNG.
func plotCurves(path string, ms []Metric, unit string, upt float64, baseline float64) error {
	p := plot.New()
	p.Title.Text = "training and validation"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "bits per " + unit
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
		return nil
	}
	lt, err := plotter.NewLine(tr)
	if err != nil {
		return fmt.Errorf("plot: %w", err)
	}
	lt.Color = plotter.DefaultLineStyle.Color
	p.Add(lt)
	p.Legend.Add("train", lt)
	if len(va) > 0 {
		lv, pv, err := plotter.NewLinePoints(va)
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		lv.Color = plotRed
		pv.Color = plotRed
		p.Add(lv, pv)
		p.Legend.Add("validation", lv)
	}
	if baseline > 0 {
		bl, err := plotter.NewLine(plotter.XYs{{X: tr[0].X, Y: baseline}, {X: tr[len(tr)-1].X, Y: baseline}})
		if err != nil {
			return fmt.Errorf("plot: %w", err)
		}
		bl.Dashes = []vg.Length{vg.Points(4), vg.Points(4)}
		p.Add(bl)
		p.Legend.Add("best Markov baseline", bl)
	}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	if err := p.Save(7*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	return nil
}

var plotRed = color.RGBA{R: 200, G: 30, B: 30, A: 255}
