package bench

import (
	"fmt"
	"io"

	"github.com/mambakit/mambakit/framework/cudamodel"
)

// opTable sums cudamodel's op times over the timed steps (bench train
// --device cuda --ops).
type opTable struct{ ts []cudamodel.OpTime }

// add takes the op times of g's passes since the last call.
func (t *opTable) add(g *cudamodel.Model) error {
	ts, err := g.OpTimes()
	t.ts = cudamodel.AddOpTimes(t.ts, ts...)
	return err
}

// print writes one line an op, the largest first: milliseconds a step,
// the share of the sum, launches a step; then the sum, and passSeconds
// (summed over steps, from the step's own events) when it is not 0.
func (t *opTable) print(w io.Writer, what string, steps int, passSeconds float64) {
	ts := append([]cudamodel.OpTime(nil), t.ts...)
	cudamodel.SortOpTimes(ts)
	var sum float64
	for _, x := range ts {
		sum += x.Ms
	}
	n := float64(steps)
	fmt.Fprintf(w, "where %s goes (CUDA events after each launch, means of %d steps; each op's time includes any wait for its launch):\n", what, steps)
	fmt.Fprintf(w, "  %-9s %-22s %9s %7s %9s\n", "pass", "op", "ms/step", "share", "launches")
	for _, x := range ts {
		fmt.Fprintf(w, "  %-9s %-22s %9.2f %6.1f%% %9.0f\n", x.Pass, x.Name, x.Ms/n, 100*x.Ms/sum, float64(x.Count)/n)
	}
	fmt.Fprintf(w, "  %-32s %9.2f ms/step", "sum", sum/n)
	if passSeconds > 0 {
		fmt.Fprintf(w, " (by the passes' own events: %.2f)", 1e3*passSeconds/n)
	}
	fmt.Fprintln(w)
}
