package cudamodel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cudakernels"
)

// TestStepPersistSameBits: the persistent step (one cooperative launch,
// the early kernels' bodies as phases) gives the early kernels' bits: the
// logits, the argmax and both states after every step, float32 and bf16
// products, real and complex A, with the grid the device holds and with
// the fewest blocks the scan takes (so that every warp takes several
// rows of every product), plain launches and a graph, a reset in the
// middle.
func TestStepPersistSameBits(t *testing.T) {
	early := cudakernels.StepVariant{MaxRows: 1, Prefetch: true, Early: true}
	persist := early
	persist.Persist = true
	for _, k := range []struct {
		name    string
		complex bool
		prec    backbone.Precision
	}{{"fp32", false, backbone.FP32}, {"bf16", false, backbone.BF16}, {"complex", true, backbone.FP32}} {
		c := backbone.NewConfig(101, 64, 2)
		c.ComplexA = k.complex
		m, g := testModels(t, c, 31)
		if k.prec != backbone.FP32 {
			if err := g.SetPrecision(k.prec); err != nil {
				t.Fatal(err)
			}
		}
		_, _, Din, _, _, _, _ := dims(&c)
		for _, blocks := range []int{0, Din / 8, Din/8 + 5} {
			for _, graphs := range []bool{false, true} {
				name := fmt.Sprintf("%s blocks %d graphs %v", k.name, blocks, graphs)
				if blocks > 0 {
					t.Setenv("MAMBAKIT_CUDA_STEP_PERSIST_BLOCKS", strconv.Itoa(blocks))
				} else {
					t.Setenv("MAMBAKIT_CUDA_STEP_PERSIST_BLOCKS", "")
				}
				a, err := g.NewStepperWith(1, StepOptions{Graphs: graphs, Variant: early})
				if err != nil {
					t.Fatal(err)
				}
				b, err := g.NewStepperWith(1, StepOptions{Graphs: graphs, Variant: persist})
				if err != nil {
					a.Close()
					t.Fatal(err)
				}
				if on, why := b.Persistent(); !on {
					t.Fatalf("%s: not persistent: %v", name, why)
				}
				if blocks > 0 && b.persist.Grid() != blocks {
					t.Errorf("%s: grid %d blocks", name, b.persist.Grid())
				}
				samePersistBits(t, name, m, a, b)
				a.Close()
				b.Close()
			}
		}
	}
}

// samePersistBits steps a and b with the same random tokens (row reset at
// step 12) and fails at the first step whose logits, argmax or states
// differ in any bit.
func samePersistBits(t *testing.T, name string, m *backbone.Model, a, b *Stepper) {
	t.Helper()
	V := m.Config.VocabSize
	la, lb := make([]float32, V), make([]float32, V)
	ma, mb := make([]int32, 1), make([]int32, 1)
	r := rand.New(rand.NewPCG(7, 7))
	const steps = 24
	for i := 0; i < steps; i++ {
		if i == 12 {
			a.ResetRow(0)
			b.ResetRow(0)
		}
		ids := []int32{int32(r.IntN(V))}
		stepRead(t, a, ids, la, ma)
		stepRead(t, b, ids, lb, mb)
		if j := firstBitDiff(la, lb); j >= 0 {
			t.Fatalf("%s: step %d: logit %d is %g, the early kernels' %g", name, i, j, lb[j], la[j])
		}
		if ma[0] != mb[0] {
			t.Fatalf("%s: step %d: argmax %d, the early kernels' %d", name, i, mb[0], ma[0])
		}
	}
	sa, err := a.State()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := b.State()
	if err != nil {
		t.Fatal(err)
	}
	if j := firstBitDiff(sa.Conv, sb.Conv); j >= 0 {
		t.Errorf("%s: conv state %d differs", name, j)
	}
	if j := firstBitDiff(sa.SSM, sb.SSM); j >= 0 {
		t.Errorf("%s: ssm state %d differs", name, j)
	}
	t.Logf("%-36s grid %4d: %d steps, logits and states the same bits", name, b.persist.Grid(), steps)
}

// firstBitDiff is the first index where x and y differ in bits, or −1.
func firstBitDiff(x, y []float32) int {
	if len(x) != len(y) {
		return 0
	}
	for i := range x {
		if math.Float32bits(x[i]) != math.Float32bits(y[i]) {
			return i
		}
	}
	return -1
}
