package plots

import (
	"fmt"
	"math"

	"gonum.org/v1/plot/plotter"
)

// zoomRatio is how much narrower than the whole Y range the second
// half's must be for ZoomFor to ask for a zoomed panel: a first loss of
// 5.5 bits otherwise flattens differences of 0.02 between models into one
// line.
const zoomRatio = 3

// Zoom is a second panel that repeats the curves from X From on, where
// their Y range is Lo..Hi.
type Zoom struct{ From, Lo, Hi float64 }

// ZoomFor says whether curves (each sorted by X) need a zoomed second
// panel: when their points from the middle of their X range on span less
// than 1/zoomRatio of the Y range of all their points.
func ZoomFor(curves ...plotter.XYs) (Zoom, bool) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, c := range curves {
		if len(c) > 0 {
			lo, hi = math.Min(lo, c[0].X), math.Max(hi, c[len(c)-1].X)
		}
	}
	if !(hi > lo) {
		return Zoom{}, false
	}
	z := Zoom{From: lo + (hi-lo)/2}
	alo, ahi := yRange(curves, math.Inf(-1))
	z.Lo, z.Hi = yRange(curves, z.From)
	return z, z.Hi-z.Lo < (ahi-alo)/zoomRatio
}

// Shows reports whether a reference line at y belongs on the zoomed
// panel: within its range widened by the range's span on each side, so
// that the panel stays at least three times finer than one without the
// line. One that does not belongs in the panel's title.
func (z Zoom) Shows(y float64) bool {
	s := z.Hi - z.Lo
	return y >= z.Lo-s && y <= z.Hi+s
}

// yRange is the Y range of the points at or after X from.
func yRange(curves []plotter.XYs, from float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, c := range curves {
		for _, p := range After(c, from) {
			lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
		}
	}
	return lo, hi
}

// After returns the points of xys (sorted by X) at or after X from.
func After(xys plotter.XYs, from float64) plotter.XYs {
	for i, p := range xys {
		if p.X >= from {
			return xys[i:]
		}
	}
	return nil
}

// Title names the zoomed panel: the X it starts from (x names the axis:
// "step") and, for a reference line it leaves out (y > 0 named name; the
// caller then does not add it), where that line is.
func (z Zoom) Title(x, name string, y float64) string {
	t := fmt.Sprintf("from %s %s, zoomed", x, Labels([]float64{math.Ceil(z.From)}, 0)[0])
	switch {
	case y <= 0 || z.Shows(y):
	case y > z.Hi:
		t += fmt.Sprintf(" (%s %.4f is above)", name, y)
	default:
		t += fmt.Sprintf(" (%s %.4f is below)", name, y)
	}
	return t
}
