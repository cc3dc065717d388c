package bench

import "slices"

// median returns the median of x (the mean of the middle two for an even
// count; 0 for none), leaving x as it was.
func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	y := slices.Clone(x)
	slices.Sort(y)
	if len(y)%2 == 1 {
		return y[len(y)/2]
	}
	return (y[len(y)/2-1] + y[len(y)/2]) / 2
}

// upperMedian sorts x and returns its middle element: for an even count
// the upper of the two middle ones.
func upperMedian(x []float64) float64 {
	slices.Sort(x)
	return x[len(x)/2]
}
