package plots

import (
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// testFigure is a two-panel figure with seven curves, a legend entry for
// each, and two reference lines close together (their labels would
// overlap where they cross the axis).
func testFigure(t *testing.T) *Figure {
	t.Helper()
	f := &Figure{Title: "runs/dna-3: training and validation, bits per base"}
	top := f.NewPanel("", "step", "bits per base")
	zoom := f.NewPanel("second half", "step", "bits per base")
	for i := range 7 {
		var xys plotter.XYs
		for s := 1; s <= 40; s++ {
			xys = append(xys, plotter.XY{X: float64(s), Y: 1.9 + float64(i)*0.002 + 2/float64(s)})
		}
		l, err := plotter.NewLine(xys)
		if err != nil {
			t.Fatal(err)
		}
		l.Color = Color(i)
		top.Add(l)
		l2, err := plotter.NewLine(xys[20:])
		if err != nil {
			t.Fatal(err)
		}
		l2.Color = Color(i)
		zoom.Add(l2)
		f.AddLegend(fmt.Sprintf("variant %d, a long name", i), l)
	}
	for _, p := range []*Panel{top, zoom} {
		p.AddRef(1.9418, "Markov order 5\n1.9418")
		p.AddRef(1.9463, "Markov order 4\n1.9463")
	}
	return f
}

// barFigure is a bar chart whose outer bars reach past the data canvas
// and whose baseline crosses the bars.
func barFigure(t *testing.T) *Figure {
	t.Helper()
	f := &Figure{Title: "spectrum: dna, validation bits per base (mean ± std over 3 seeds)"}
	p := f.NewPanel("", "", "bits per base")
	var bars []Bar
	for i := range 7 {
		m := 1.93 + 0.001*float64(i)
		bars = append(bars, Bar{Name: fmt.Sprintf("v%d", i), Mean: m, Seeds: []float64{m - 0.01, m, m + 0.01}, Label: fmt.Sprintf("%.4f\n± 0.0100", m)})
	}
	if err := p.Bars(bars, Color(0)); err != nil {
		t.Fatal(err)
	}
	p.AddRef(1.9418, "Markov order 5\n1.9418 (mean)")
	p.AddRef(1.9463, "Markov order 4\n1.9463 (mean)")
	return f
}

func overlap(a, b vg.Rectangle) bool {
	return a.Min.X < b.Max.X && b.Min.X < a.Max.X && a.Min.Y < b.Max.Y && b.Min.Y < a.Max.Y
}

func inside(a, b vg.Rectangle) bool {
	return a.Min.X >= b.Min.X && a.Max.X <= b.Max.X && a.Min.Y >= b.Min.Y && a.Max.Y <= b.Max.Y
}

// TestFigureLayout checks that the legend and the reference labels lie
// outside every data area, that no two labels overlap, and that all of
// it lies on the canvas.
func TestFigureLayout(t *testing.T) {
	figures := map[string]func(*testing.T) *Figure{"curves": testFigure, "bars": barFigure}
	for _, size := range [][2]vg.Length{{8 * vg.Inch, 6 * vg.Inch}, {5 * vg.Inch, 4 * vg.Inch}} {
		for name, fig := range figures {
			t.Run(fmt.Sprintf("%s/%vx%v", name, size[0], size[1]), func(t *testing.T) {
				f := fig(t)
				c := draw.New(vgimg.NewWith(vgimg.UseWH(size[0], size[1]), vgimg.UseDPI(DPI)))
				lay := f.draw(c)
				if len(lay.data) != len(f.Panels) {
					t.Fatalf("%d data areas, want %d", len(lay.data), len(f.Panels))
				}
				canvas := c.Rectangle
				parts := map[string]vg.Rectangle{"title": lay.title, "legend": lay.legend}
				for i, r := range lay.refLabels {
					parts[fmt.Sprintf("reference label %d", i)] = r
				}
				for name, r := range parts {
					if !inside(r, canvas) {
						t.Errorf("%s %v is not inside the canvas %v", name, r, canvas)
					}
					for i, d := range lay.data {
						if overlap(r, d) {
							t.Errorf("%s %v covers data area %d %v", name, r, i, d)
						}
					}
					for other, r2 := range parts {
						if other < name && overlap(r, r2) {
							t.Errorf("%s %v overlaps %s %v", name, r, other, r2)
						}
					}
				}
				if len(lay.refLabels) != 2*len(f.Panels) {
					t.Errorf("%d reference labels, want %d", len(lay.refLabels), 2*len(f.Panels))
				}
				if len(f.legend) > 0 && lay.legend.Size().Y <= 0 {
					t.Errorf("no legend drawn")
				}
			})
		}
	}
}

func TestFigureSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "f.png")
	if err := testFigure(t).Save(path, 6*vg.Inch, 4*vg.Inch); err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	img, err := png.Decode(r)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 6*DPI || b.Dy() != 4*DPI {
		t.Errorf("image %v, want %dx%d", b, 6*DPI, 4*DPI)
	}
}

// TestBarsFromZero checks that bar charts start at zero (not near the
// data, which makes a 0.4% gap look large) and that they reach the top
// of the highest error bar.
func TestBarsFromZero(t *testing.T) {
	f := &Figure{}
	p := f.NewPanel("", "", "bits per byte")
	err := p.Bars([]Bar{
		{Name: "S6", Mean: 2.1962, Seeds: []float64{2.1781, 2.1991, 2.2114}, Label: "2.1962"},
		{Name: "LTI", Mean: 2.2038, Seeds: []float64{2.1880, 2.2085, 2.2150}, Label: "2.2038"},
	}, Color(0))
	if err != nil {
		t.Fatal(err)
	}
	if p.Y.Min != 0 {
		t.Errorf("Y axis starts at %v, want 0", p.Y.Min)
	}
	if p.Y.Max < 2.2150 {
		t.Errorf("Y axis ends at %v, below the highest seed 2.2150", p.Y.Max)
	}
	// Negative bars (a loss of selection) reach below zero, and zero stays
	// on the axis.
	q := f.NewPanel("", "", "%")
	if err := q.Bars([]Bar{{Name: "text", Mean: 0.3}, {Name: "dna", Mean: -1.9, Seeds: []float64{-1.6, -2.0, -2.1}}}, Color(1)); err != nil {
		t.Fatal(err)
	}
	if q.Y.Min > -2.1 || q.Y.Max < 0.3 {
		t.Errorf("Y axis [%v, %v] does not hold [-2.1, 0.3]", q.Y.Min, q.Y.Max)
	}
}

// TestBarsWidth: a figure of bars is wide enough for their names side by
// side (eight two-line names ran into each other at an inch a bar), and
// never narrower than asked.
func TestBarsWidth(t *testing.T) {
	var bars []Bar
	for i := range 8 {
		bars = append(bars, Bar{Name: fmt.Sprintf("LTI-complex\nseq_len=%d", 1024<<i)})
	}
	sty := plot.New().X.Tick.Label
	sty.Font.Size = vg.Points(11)
	name := sty.Rectangle(bars[7].Name).Size().X
	if w := BarsWidth(bars, 7*vg.Inch); w < 8*name+1.5*vg.Inch {
		t.Errorf("width %v for 8 names %v wide each", w, name)
	}
	if w := BarsWidth(bars[:1], 7*vg.Inch); w != 7*vg.Inch {
		t.Errorf("one bar: width %v, want the least asked, %v", w, 7*vg.Inch)
	}
}
