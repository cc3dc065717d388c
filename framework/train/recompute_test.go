package train

import (
	"context"
	"testing"
)

// TestRecomputeRunIsExact: a CPU run with Recompute (packed and TBPTT)
// writes the same metrics (loss and evaluations) to the last bit as the
// run without it, and the two runs resumed with Recompute switched the
// other way stay the same.
func TestRecomputeRunIsExact(t *testing.T) {
	for _, tbptt := range []bool{false, true} {
		t.Run(map[bool]string{false: "packed", true: "tbptt"}[tbptt], func(t *testing.T) {
			c := testConfig(6)
			c.TBPTT = tbptt
			plain, rec := t.TempDir(), t.TempDir()
			if _, err := Start(context.Background(), testRun(t, plain, c)); err != nil {
				t.Fatal(err)
			}
			r := testRun(t, rec, c)
			r.Recompute = true
			if _, err := Start(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			sameMetrics(t, plain, rec, "with recompute", 6)
			// Each resumed to step 9 with recompute the other way.
			for _, d := range []struct {
				dir       string
				recompute bool
			}{{plain, true}, {rec, false}} {
				r := testRun(t, d.dir, Config{Steps: 9})
				r.Recompute = d.recompute
				if _, err := Resume(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
			sameMetrics(t, plain, rec, "resumed, recompute switched", 9)
		})
	}
}
