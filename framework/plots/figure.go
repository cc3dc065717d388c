package plots

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/mambakit/mambakit/internal/atomicfile"
)

// Figure is one PNG: a title that names the run or the comparison, panels
// stacked top to bottom (their data areas aligned), and one legend in a
// row below the panels, so that no legend covers data.
type Figure struct {
	Title  string
	Panels []*Panel
	legend []entry
}

// entry is one item of the legend.
type entry struct {
	label  string
	thumbs []plot.Thumbnailer
}

// Panel is one plot of a figure with its reference lines.
type Panel struct {
	*plot.Plot
	grid *plotter.Grid
	refs []ref
}

// ref is a horizontal reference line (a Markov baseline), labelled in the
// right margin beside where it crosses the data area.
type ref struct {
	y     float64
	label string
}

// DPI is the resolution of every PNG.
const DPI = 96

const (
	pad       = vg.Length(6)  // between the parts of a figure
	legendGap = vg.Length(14) // between two entries of the legend
	thumbW    = vg.Length(22) // a legend entry's line sample
)

// Palette holds the colours of series, in order (Okabe and Ito's
// colour-blind-safe set, without its yellow).
var Palette = []color.Color{
	color.RGBA{R: 0x00, G: 0x72, B: 0xB2, A: 0xFF}, // blue
	color.RGBA{R: 0xD5, G: 0x5E, B: 0x00, A: 0xFF}, // vermillion
	color.RGBA{R: 0x00, G: 0x9E, B: 0x73, A: 0xFF}, // bluish green
	color.RGBA{R: 0xCC, G: 0x79, B: 0xA7, A: 0xFF}, // reddish purple
	color.RGBA{R: 0xE6, G: 0x9F, B: 0x00, A: 0xFF}, // orange
	color.RGBA{R: 0x56, G: 0xB4, B: 0xE9, A: 0xFF}, // sky blue
	color.RGBA{A: 0xFF},                            // black
}

// Color returns series i's colour.
func Color(i int) color.Color { return Palette[i%len(Palette)] }

// Dashes returns series i's line dashes: solid for the first
// len(Palette) series, then dashed, then dotted, so that series whose
// colours repeat still differ.
func Dashes(i int) []vg.Length {
	switch (i / len(Palette)) % 3 {
	case 1:
		return []vg.Length{vg.Points(6), vg.Points(3)}
	case 2:
		return []vg.Length{vg.Points(1.5), vg.Points(2.5)}
	}
	return nil
}

// Glyph returns series i's point shape: circles for the first
// len(Palette) series, then squares, then triangles.
func Glyph(i int) draw.GlyphDrawer {
	switch (i / len(Palette)) % 3 {
	case 1:
		return draw.BoxGlyph{}
	case 2:
		return draw.TriangleGlyph{}
	}
	return draw.CircleGlyph{}
}

// refColor draws reference lines and their labels.
var refColor = color.RGBA{R: 0x44, G: 0x44, B: 0x44, A: 0xFF}

// NewPanel adds a panel with a grid and Ticks on both axes. Its title
// (may be empty) is drawn above it in a smaller font than the figure's.
func (f *Figure) NewPanel(title, xLabel, yLabel string) *Panel {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(11)
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.X.Tick.Marker, p.Y.Tick.Marker = Ticks{}, Ticks{}
	g := grid{plotter.NewGrid()}
	p.Add(g)
	pn := &Panel{Plot: p, grid: g.Grid}
	f.Panels = append(f.Panels, pn)
	return pn
}

// AddLegend adds an entry to the legend below the panels.
func (f *Figure) AddLegend(label string, thumbs ...plot.Thumbnailer) {
	f.legend = append(f.legend, entry{label, thumbs})
}

// AddRef draws a dashed horizontal line across the panel at y, labelled
// in the right margin (label may hold a line break). The axis is widened
// to show it. The line's legend sample is returned.
func (p *Panel) AddRef(y float64, label string) plot.Thumbnailer {
	h := hline{Y: y}
	p.Add(h)
	p.refs = append(p.refs, ref{y, label})
	return h
}

// hline is a line across the whole data area at Y: dashed, or solid for
// the zero line of a bar chart.
type hline struct {
	Y     float64
	solid bool
}

// Plot implements plot.Plotter.
func (h hline) Plot(c draw.Canvas, p *plot.Plot) {
	y := c.Y(p.Y.Norm(h.Y))
	sty := draw.LineStyle{Color: refColor, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
	if h.solid {
		sty = draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}
	}
	r := dataArea(c, p)
	c.StrokeLine2(sty, r.Min.X, y, r.Max.X, y)
}

// grid is gonum's grid with its horizontal lines across the whole data
// area (dataArea), not only between the first and last bars' centres.
type grid struct{ *plotter.Grid }

// Plot implements plot.Plotter.
func (g grid) Plot(c draw.Canvas, p *plot.Plot) {
	v, h := *g.Grid, *g.Grid
	v.Horizontal.Color, h.Vertical.Color = nil, nil
	v.Plot(c, p)
	c.Rectangle = dataArea(c, p)
	h.Plot(c, p)
}

// dataArea is the part of the data canvas c where p's data is drawn:
// c, widened to the glyphs that reach past it (the outer halves of the
// first and last bars of a bar chart).
func dataArea(c draw.Canvas, p *plot.Plot) vg.Rectangle {
	r := c.Rectangle
	for _, b := range p.GlyphBoxes(p) {
		x := c.X(b.X)
		r.Min.X = min(r.Min.X, x+b.Rectangle.Min.X)
		r.Max.X = max(r.Max.X, x+b.Rectangle.Max.X)
	}
	return r
}

// DataRange implements plot.DataRanger: the line needs no X range.
func (h hline) DataRange() (xmin, xmax, ymin, ymax float64) {
	return posInf, negInf, h.Y, h.Y
}

// Thumbnail implements plot.Thumbnailer.
func (h hline) Thumbnail(c *draw.Canvas) {
	y := c.Center().Y
	sty := draw.LineStyle{Color: refColor, Width: vg.Points(1.2), Dashes: []vg.Length{vg.Points(5), vg.Points(3)}}
	c.StrokeLine2(sty, c.Min.X, y, c.Max.X, y)
}

// Save writes the figure as a w × h PNG at path, atomically.
func (f *Figure) Save(path string, w, h vg.Length) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("plot %s: %w", path, err)
	}
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI), vgimg.UseBackgroundColor(color.White))
	f.draw(draw.New(img))
	return atomicfile.Write(path, 0o644, func(out io.Writer) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(out)
		return err
	})
}

// layout is where draw put each part of a figure: the title, each
// panel's data area, the labels of its reference lines and the legend.
type layout struct {
	title     vg.Rectangle
	data      []vg.Rectangle
	refLabels []vg.Rectangle
	legend    vg.Rectangle
}

// draw draws the figure on c and says where each part went.
func (f *Figure) draw(c draw.Canvas) layout {
	var lay layout
	c = draw.Crop(c, pad, -pad, pad, -pad)
	if f.Title != "" {
		sty := titleStyle(f.Title, c.Size().X)
		r := sty.Rectangle(f.Title)
		top := c.Max.Y
		c.FillText(sty, vg.Point{X: c.Center().X, Y: top}, f.Title)
		lay.title = vg.Rectangle{Min: vg.Point{X: c.Center().X + r.Min.X, Y: top - r.Size().Y}, Max: vg.Point{X: c.Center().X + r.Max.X, Y: top}}
		c.Max.Y -= r.Size().Y + pad
	}
	if len(f.legend) > 0 {
		h := f.drawLegend(c)
		lay.legend = vg.Rectangle{Min: c.Min, Max: vg.Point{X: c.Max.X, Y: c.Min.Y + h}}
		c.Min.Y += h + pad
	}
	if len(f.Panels) == 0 {
		return lay
	}
	// The right margin holds the reference lines' labels.
	var margin vg.Length
	for _, p := range f.Panels {
		for _, r := range p.refs {
			margin = max(margin, refStyle().Rectangle(r.label).Size().X+pad)
		}
	}
	c.Max.X -= margin
	ps := make([][]*plot.Plot, len(f.Panels))
	for i, p := range f.Panels {
		ps[i] = []*plot.Plot{p.Plot}
	}
	cs := plot.Align(ps, draw.Tiles{Rows: len(f.Panels), Cols: 1, PadY: 2 * pad}, c)
	for i, p := range f.Panels {
		p.Draw(cs[i][0])
		dc := p.DataCanvas(cs[i][0])
		dc.Rectangle = dataArea(dc, p.Plot)
		lay.data = append(lay.data, dc.Rectangle)
		lay.refLabels = append(lay.refLabels, drawRefLabels(dc, p)...)
	}
	return lay
}

// titleStyle is the figure title's font: 13 points, smaller for a title
// that would not fit in width w.
func titleStyle(title string, w vg.Length) text.Style {
	sty := plot.New().Title.TextStyle
	sty.Font.Size = vg.Points(13)
	sty.XAlign, sty.YAlign = draw.XCenter, draw.YTop
	for sty.Font.Size > vg.Points(7) && sty.Rectangle(title).Size().X > w {
		sty.Font.Size -= vg.Points(0.5)
	}
	return sty
}

func refStyle() text.Style {
	sty := plot.New().Legend.TextStyle
	sty.Font = font.From(sty.Font, vg.Points(10))
	sty.Color = refColor
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
	return sty
}

// drawRefLabels writes p's reference labels right of its data area dc,
// each centred on its line's height, moved apart where two would overlap
// and kept inside the panel.
func drawRefLabels(dc draw.Canvas, p *Panel) []vg.Rectangle {
	sty := refStyle()
	type placed struct {
		y    vg.Length
		h    vg.Length
		text string
	}
	var ls []placed
	for _, r := range p.refs {
		if r.y < p.Y.Min || r.y > p.Y.Max {
			continue
		}
		ls = append(ls, placed{dc.Y(p.Y.Norm(r.y)), sty.Rectangle(r.label).Size().Y, r.label})
	}
	slices.SortFunc(ls, func(a, b placed) int { return cmp.Compare(a.y, b.y) })
	for i := range ls { // push upwards what is below the data area or overlaps the label below
		low := dc.Min.Y + ls[i].h/2
		if i > 0 {
			low = ls[i-1].y + (ls[i-1].h+ls[i].h)/2
		}
		ls[i].y = max(ls[i].y, low)
	}
	for i := len(ls) - 1; i >= 0; i-- { // then keep the top one inside, pushing down
		top := dc.Max.Y - ls[i].h/2
		if i < len(ls)-1 {
			top = min(top, ls[i+1].y-(ls[i+1].h+ls[i].h)/2)
		}
		ls[i].y = min(ls[i].y, top)
	}
	var rs []vg.Rectangle
	x := dc.Max.X + pad
	for _, l := range ls {
		dc.FillText(sty, vg.Point{X: x, Y: l.y}, l.text)
		r := sty.Rectangle(l.text)
		rs = append(rs, vg.Rectangle{Min: vg.Point{X: x, Y: l.y - l.h/2}, Max: vg.Point{X: x + r.Size().X, Y: l.y + l.h/2}})
	}
	return rs
}

// drawLegend draws the legend in rows at the bottom of c, centred, each
// entry a line sample then its label, and returns its height.
func (f *Figure) drawLegend(c draw.Canvas) vg.Length {
	sty := plot.New().Legend.TextStyle
	sty.XAlign, sty.YAlign = draw.XLeft, draw.YCenter
	rowH := sty.FontExtents().Height * 1.4
	width := func(e entry) vg.Length { return thumbW + pad + sty.Rectangle(e.label).Size().X }
	// Break the entries into rows that fit the width.
	var rows [][]entry
	var rowW []vg.Length
	for _, e := range f.legend {
		w := width(e)
		if n := len(rows); n > 0 && rowW[n-1]+legendGap+w <= c.Size().X {
			rows[n-1] = append(rows[n-1], e)
			rowW[n-1] += legendGap + w
			continue
		}
		rows = append(rows, []entry{e})
		rowW = append(rowW, w)
	}
	h := rowH * vg.Length(len(rows))
	for i, row := range rows {
		y := c.Min.Y + h - rowH*(vg.Length(i)+0.5)
		x := c.Center().X - rowW[i]/2
		for _, e := range row {
			tc := draw.Canvas{Canvas: c.Canvas, Rectangle: vg.Rectangle{Min: vg.Point{X: x, Y: y - rowH/3}, Max: vg.Point{X: x + thumbW, Y: y + rowH/3}}}
			for _, t := range e.thumbs {
				t.Thumbnail(&tc)
			}
			c.FillText(sty, vg.Point{X: x + thumbW + pad, Y: y}, e.label)
			x += width(e) + legendGap
		}
	}
	return h
}

// DirName is how a figure's title names a run or comparison directory:
// its last element, of the absolute path (so that "." is named too).
func DirName(dir string) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return filepath.Base(dir)
}
