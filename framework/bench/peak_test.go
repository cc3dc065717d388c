package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/mambakit/mambakit/framework/kernels"
)

func TestBenchPeakPrintsEveryLoop(t *testing.T) {
	var out bytes.Buffer
	o := DefaultPeak()
	o.Rounds, o.MinTime = 1, time.Millisecond
	if err := Peak(o, &out); err != nil {
		t.Fatal(err)
	}
	for _, k := range kernels.PeakKernels() {
		want := k.Name + " "
		if k.Skip != "" {
			want = k.Name + ": skipped (" + k.Skip + ")"
		}
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(out.String(), "fp32 ceiling, 2 thread(s): ") { // a figure, or "not measured" under purego
		t.Errorf("output lacks the ceiling line:\n%s", out.String())
	}
}

func TestBenchPeakUnknownLoop(t *testing.T) {
	o := DefaultPeak()
	o.Kernels = []string{"fp64-zmm"}
	err := Peak(o, new(bytes.Buffer))
	if err == nil || !strings.Contains(err.Error(), `"fp64-zmm"`) {
		t.Fatalf("err = %v, want one naming the loop", err)
	}
}
