package plots

import (
	"math"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
)

// Ticks is the plot.Ticker of every axis with numbers on it. It puts
// four to seven labelled ticks at multiples of a round step (1, 2, 2.5 or 5
// times a power of ten), a minor tick between each two, and labels each
// with as many digits as it takes for no two labels to be the same and
// for every label to read back as its value (see Labels). gonum's
// DefaultTicks rounds its labels instead: ticks at 4.05, 4.20 and 4.35
// come out as 4, 4.2 and 4.3.
type Ticks struct{}

var _ plot.Ticker = Ticks{}

// maxIntervals is the most intervals between labelled ticks an axis
// gets; it gets at least half as many.
const maxIntervals = 6

// Ticks returns the ticks for an axis from min to max.
func (Ticks) Ticks(min, max float64) []plot.Tick {
	if math.IsNaN(min) || math.IsNaN(max) || math.IsInf(min, 0) || math.IsInf(max, 0) {
		return nil
	}
	if !(max > min) {
		return []plot.Tick{{Value: min, Label: Labels([]float64{min}, 0)[0]}}
	}
	step := roundStep((max - min) / maxIntervals)
	if step == 0 || math.IsInf(step, 0) || math.Max(math.Abs(min), math.Abs(max))/step > 1e14 { // a span near float64's resolution at min
		ls := Labels([]float64{min, max}, 0)
		return []plot.Tick{{Value: min, Label: ls[0]}, {Value: max, Label: ls[1]}}
	}
	// Ticks are k·step for whole k, computed from k so that they do not
	// collect rounding errors; slack keeps a tick that lands on an end
	// of the range by a rounding error.
	slack := step * 1e-9
	first, last := math.Ceil((min-slack)/step), math.Floor((max+slack)/step)
	var vs []float64
	for k := first; k <= last; k++ {
		vs = append(vs, math.Min(math.Max(k*step, min), max))
	}
	ls := Labels(vs, step)
	ticks := make([]plot.Tick, 0, 2*len(vs)+2)
	for i, v := range vs {
		ticks = append(ticks, plot.Tick{Value: v, Label: ls[i]})
	}
	for k := first - 1; k <= last; k++ { // minor ticks halfway
		if v := (k + 0.5) * step; v >= min && v <= max {
			ticks = append(ticks, plot.Tick{Value: v})
		}
	}
	return ticks
}

// roundStep returns the smallest of 1, 2, 2.5 and 5 times a power of ten
// that is at least x (x > 0).
func roundStep(x float64) float64 {
	mag := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if s := m * mag; s >= x*(1-1e-12) {
			return s
		}
	}
	return 10 * mag
}

// Labels formats the tick values vs, step apart (0: unknown), with the
// fewest digits at which no two labels are the same and each label reads
// back (strconv.ParseFloat) within a millionth of the step of its value,
// or within a billionth of the largest value when the step is 0. Labels
// are written with an exponent (2.5e-7, 1e6) where that makes the longest
// label shorter and the plain labels would be longer than five characters:
// steps read 1000, 2000, 3000 rather than 1e3, 2e3, 3e3.
func Labels(vs []float64, step float64) []string {
	tol := step * 1e-6
	if step == 0 {
		for _, v := range vs {
			tol = math.Max(tol, math.Abs(v)*1e-9)
		}
	}
	fixed, fw := labels(vs, tol, false)
	exp, ew := labels(vs, tol, true)
	if ew < fw && fw > 5 {
		return exp
	}
	return fixed
}

// labels formats vs with the fewest digits (decimals, or decimals of the
// mantissa with exp) that are distinct and read back within tol, and
// returns the longest label's length.
func labels(vs []float64, tol float64, exp bool) ([]string, int) {
	out := make([]string, len(vs))
	for digits := 0; digits <= 17; digits++ {
		seen := map[string]bool{}
		ok, longest := true, 0
		for i, v := range vs {
			s := format(v, digits, exp)
			r, err := strconv.ParseFloat(s, 64)
			if err != nil || math.Abs(r-v) > tol || seen[s] {
				ok = false
				break
			}
			seen[s] = true
			out[i] = s
			longest = max(longest, len(s))
		}
		if ok {
			return out, longest
		}
	}
	longest := 0
	for i, v := range vs { // values that need more than 17 decimals
		out[i] = strconv.FormatFloat(v, 'g', -1, 64)
		longest = max(longest, len(out[i]))
	}
	return out, longest
}

// format writes v with digits decimals, or with digits decimals of a
// mantissa and a short exponent (2.5e-7, not 2.5e-07).
func format(v float64, digits int, exp bool) string {
	if !exp {
		s := strconv.FormatFloat(v, 'f', digits, 64)
		if strings.HasPrefix(s, "-") && strings.Trim(s, "-0.") == "" {
			return s[1:] // -0.00: a value that rounds to zero is written 0.00
		}
		return s
	}
	if v == 0 {
		return "0"
	}
	s := strconv.FormatFloat(v, 'e', digits, 64)
	m, e, _ := strings.Cut(s, "e")
	sign := ""
	if e[0] == '-' {
		sign = "-"
	}
	digs := strings.TrimLeft(e[1:], "0")
	if digs == "" {
		digs, sign = "0", ""
	}
	return m + "e" + sign + digs
}
