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
			a, b := metricsWithoutTiming(t, plain), metricsWithoutTiming(t, rec)
			if len(a) != 6 || len(b) != 6 {
				t.Fatalf("metrics lines: %d, %d with recompute; want 6", len(a), len(b))
			}
			for i := range a {
				if a[i] != b[i] {
					t.Fatalf("step %d differs:\nwithout %s\nwith    %s", i+1, a[i], b[i])
				}
			}
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
			a, b = metricsWithoutTiming(t, plain), metricsWithoutTiming(t, rec)
			if len(a) != 9 || len(b) != 9 || a[8] != b[8] {
				t.Fatalf("resumed: %d and %d lines; the last:\nwithout %s\nwith    %s", len(a), len(b), a[len(a)-1], b[len(b)-1])
			}
		})
	}
}
