package cudamodel

import (
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
)

var (
	devOnce sync.Once
	dev     *cuda.Device
	devErr  error
)

// openOrSkip returns the shared test device, or skips the test with the
// one-line reason on a machine without a GPU.
func openOrSkip(t testing.TB) *cuda.Device {
	t.Helper()
	devOnce.Do(func() {
		dev, devErr = cuda.Open()
		if devErr == nil {
			fmt.Fprintf(os.Stderr, "cudamodel: %s\n", dev)
		}
	})
	if devErr != nil {
		if errors.Is(devErr, cuda.ErrNoDriver) {
			t.Skip(devErr.Error())
		}
		t.Fatalf("cuda: open: %v", devErr)
	}
	return dev
}

var reportMu sync.Mutex

// report logs one comparison, appends it to $MAMBAKIT_CUDA_REPORT (the
// table of scripts/gpu/check.sh) and fails the test when err is over tol
// (NaN never passes).
func report(t *testing.T, what, shape string, err, tol float64) {
	t.Helper()
	ok := err <= tol && !math.IsNaN(err)
	status := "pass"
	if !ok {
		status = "FAIL"
	}
	t.Logf("%-44s %-28s rel err %.3g (tol %.0e) %s", what, shape, err, tol, status)
	if p := os.Getenv("MAMBAKIT_CUDA_REPORT"); p != "" {
		reportMu.Lock()
		if f, e := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); e == nil {
			fmt.Fprintf(f, "%s\t%s\t%.3g\t%.0e\t%s\n", what, shape, err, tol, status)
			f.Close()
		}
		reportMu.Unlock()
	}
	if !ok {
		t.Errorf("%s %s: relative error %.3g over %.0e", what, shape, err, tol)
	}
}

// relErr is ‖got − want‖ / ‖want‖ in float64 (the absolute norm when want
// is zero); NaN when got holds a NaN or an infinity.
func relErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.NaN()
	}
	var num, den float64
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(g) || math.IsInf(g, 0) {
			return math.NaN()
		}
		num += (g - w) * (g - w)
		den += w * w
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// testModels is a random CPU model of config c and seed and its GPU copy
// (skipped without a GPU), closed when the test ends.
func testModels(t *testing.T, c backbone.Config, seed uint64) (*backbone.Model, *Model) {
	t.Helper()
	d := openOrSkip(t)
	m, err := backbone.New(c, seed)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(d, m)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	return m, g
}

// forwardBackward runs g's Forward over b (no carried state), zeroes the
// gradients and runs Backward: the loss.
func forwardBackward(t *testing.T, g *Model, b *backbone.Batch) float64 {
	t.Helper()
	loss, err := g.Forward(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.ZeroGrad(); err != nil {
		t.Fatal(err)
	}
	if err := g.Backward(); err != nil {
		t.Fatal(err)
	}
	return loss
}
