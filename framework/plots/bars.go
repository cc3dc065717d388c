package plots

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

var posInf, negInf = math.Inf(1), math.Inf(-1)

// Bar is one bar: the mean of a figure over seeds and, from two seeds
// up, the seeds' own values.
type Bar struct {
	Name  string
	Mean  float64
	Seeds []float64 // each seed's value; with two or more, an error bar (± sample std) and a dot per seed are drawn
	Label string    // written on the bar (the value, to the digits that matter)
}

// Bars draws bars from zero, one per item, named on the X axis, in
// colour c. With two or more seeds a bar carries an error bar of ± one
// sample standard deviation and a dot per seed. Each bar's Label is
// written inside its top when the bar is tall enough, else beyond its end.
func (p *Panel) Bars(bars []Bar, c color.Color) error {
	if len(bars) == 0 {
		return nil
	}
	vals := make(plotter.Values, len(bars))
	names := make([]string, len(bars))
	var errs plotter.XYs
	var lows, highs []float64
	var dots plotter.XYs
	lab := valueLabels{}
	for i, b := range bars {
		vals[i], names[i] = b.Mean, b.Name
		// end: the farthest from zero of the bar's end, whiskers and dots;
		// inner: the nearest to zero of them, where the bar's own label must
		// stop (0 where one crosses zero).
		end, inner := b.Mean, b.Mean
		if len(b.Seeds) >= 2 {
			s := sampleStd(b.Seeds)
			errs = append(errs, plotter.XY{X: float64(i), Y: b.Mean})
			lows, highs = append(lows, s), append(highs, s)
			end, inner = farthest(end, b.Mean-s, b.Mean+s), nearest(inner, b.Mean-s, b.Mean+s)
			for _, v := range b.Seeds {
				dots = append(dots, plotter.XY{X: float64(i), Y: v})
				end, inner = farthest(end, v), nearest(inner, v)
			}
		}
		lab = append(lab, valueLabel{X: float64(i), Inner: inner, End: end, Text: b.Label})
	}
	bc, err := plotter.NewBarChart(vals, vg.Points(barWidth(len(bars))))
	if err != nil {
		return fmt.Errorf("plots: %w", err)
	}
	bc.Color = c
	bc.LineStyle.Width = 0
	p.Add(bc)
	if len(errs) > 0 {
		ye := make(plotter.YErrors, len(errs))
		for i := range ye {
			ye[i].Low, ye[i].High = lows[i], highs[i]
		}
		eb, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{errs, ye})
		if err != nil {
			return fmt.Errorf("plots: %w", err)
		}
		eb.LineStyle.Width = vg.Points(1.2)
		eb.CapWidth = vg.Points(10)
		sc, err := plotter.NewScatter(dots)
		if err != nil {
			return fmt.Errorf("plots: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: color.Black, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
		p.Add(eb, sc)
	}
	p.Add(lab)
	if slices.ContainsFunc(bars, func(b Bar) bool { return b.Mean < 0 }) {
		p.Add(hline{Y: 0, solid: true})
	}
	p.grid.Vertical.Color = nil // bars need no lines between them
	p.NominalX(names...)
	// Each bar in the middle of a slot of its own, and room beyond the
	// longest bars.
	p.X.Min, p.X.Max = -0.5, float64(len(bars))-0.5
	room := 0.05 * (p.Y.Max - p.Y.Min)
	if p.Y.Max > 0 {
		p.Y.Max += room
	}
	if p.Y.Min < 0 {
		p.Y.Min -= room
	}
	p.X.Tick.Label.Font.Size = vg.Points(11)
	return nil
}

// barWidth is the width of n bars' each, in points: narrower as there are
// more.
func barWidth(n int) float64 { return max(18, min(48, 300/float64(n))) }

// nearest returns whichever of a, b... is nearest zero on a's side, or
// 0 if one is on the other side.
func nearest(a float64, bs ...float64) float64 {
	for _, b := range bs {
		switch {
		case (a >= 0) != (b >= 0):
			return 0
		case (a >= 0 && b < a) || (a < 0 && b > a):
			a = b
		}
	}
	return a
}

// farthest returns whichever of a, b... is farthest from zero on a's side.
func farthest(a float64, bs ...float64) float64 {
	for _, b := range bs {
		if (a >= 0 && b > a) || (a < 0 && b < a) {
			a = b
		}
	}
	return a
}

func sampleStd(xs []float64) float64 {
	var m float64
	for _, x := range xs {
		m += x
	}
	m /= float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss / float64(len(xs)-1))
}

// valueLabel is one bar's label: inside the bar at its base, in white,
// when the bar is tall enough below Inner (the nearest to zero of its
// end, its whiskers and its dots), else beyond End (the farthest from
// zero of the same). At the base, a reference line near the bars' ends
// does not cross it.
type valueLabel struct {
	X, Inner, End float64
	Text          string
}

type valueLabels []valueLabel

func labelStyle() draw.TextStyle {
	sty := plot.New().Legend.TextStyle
	sty.Font.Size = vg.Points(10)
	sty.XAlign = draw.XCenter
	return sty
}

// Plot implements plot.Plotter.
func (ls valueLabels) Plot(c draw.Canvas, p *plot.Plot) {
	for _, l := range ls {
		sty := labelStyle()
		x := c.X(p.X.Norm(l.X))
		zero, inner := c.Y(p.Y.Norm(0)), c.Y(p.Y.Norm(l.Inner))
		room := inner - zero
		if l.Inner < 0 {
			room = -room
		}
		switch {
		case room >= sty.Rectangle(l.Text).Size().Y+2*pad && l.Inner >= 0:
			sty.Color, sty.YAlign = color.White, draw.YBottom
			c.FillText(sty, vg.Point{X: x, Y: zero + pad}, l.Text)
		case room >= sty.Rectangle(l.Text).Size().Y+2*pad:
			sty.Color, sty.YAlign = color.White, draw.YTop
			c.FillText(sty, vg.Point{X: x, Y: zero - pad}, l.Text)
		case l.End >= 0:
			sty.YAlign = draw.YBottom
			c.FillText(sty, vg.Point{X: x, Y: c.Y(p.Y.Norm(l.End)) + pad/2}, l.Text)
		default:
			sty.YAlign = draw.YTop
			c.FillText(sty, vg.Point{X: x, Y: c.Y(p.Y.Norm(l.End)) - pad/2}, l.Text)
		}
	}
}

// GlyphBoxes implements plot.GlyphBoxer: a label beyond its bar's end
// needs room, which the axis padding then makes.
func (ls valueLabels) GlyphBoxes(p *plot.Plot) []plot.GlyphBox {
	var bs []plot.GlyphBox
	for _, l := range ls {
		r := labelStyle().Rectangle(l.Text)
		h, w := r.Size().Y+pad/2, r.Size().X
		b := plot.GlyphBox{X: p.X.Norm(l.X), Y: p.Y.Norm(l.End)}
		if l.End >= 0 {
			b.Rectangle = vg.Rectangle{Min: vg.Point{X: -w / 2}, Max: vg.Point{X: w / 2, Y: h}}
		} else {
			b.Rectangle = vg.Rectangle{Min: vg.Point{X: -w / 2, Y: -h}, Max: vg.Point{X: w / 2}}
		}
		bs = append(bs, b)
	}
	return bs
}

// BarsWidth is the width a figure of these bars needs for their names on
// the X axis (one or more lines each) not to run into each other, and at
// least least: a slot of the widest name and a gap for each bar, beside
// the Y axis and the room for a baseline's label.
func BarsWidth(bars []Bar, least vg.Length) vg.Length {
	sty := plot.New().X.Tick.Label
	sty.Font.Size = vg.Points(11)
	widest := vg.Length(0)
	for _, b := range bars {
		widest = max(widest, sty.Rectangle(b.Name).Size().X)
	}
	return max(least, 1.8*vg.Inch+vg.Length(len(bars))*(widest+vg.Points(14)))
}
