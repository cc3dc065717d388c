package cudamodel

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/safetensors"
)

// Tolerances: the GPU model against the CPU backbone, both float32 (TF32
// off): relative L2 error of logits and of every parameter gradient, and
// the relative difference of the loss.
const (
	tolLogits = 1e-4
	tolGrad   = 1e-4
	tolLoss   = 1e-5
)

// compareWithCPU runs one Forward and Backward of m on the CPU and of its
// GPU copy, and checks logits, loss and every gradient.
func compareWithCPU(t *testing.T, name string, m *backbone.Model, b *backbone.Batch) {
	t.Helper()
	d := openOrSkip(t)
	g, err := New(d, m)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if err := g.SetPrecision(backbone.FP32); err != nil {
		t.Fatal(err)
	}
	cpuLoss, err := m.Forward(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	m.ZeroGrad()
	if _, err := m.Backward(); err != nil {
		t.Fatal(err)
	}
	gpuLoss, err := g.Forward(b, nil)
	if err != nil {
		t.Fatal(err)
	}
	logits, err := g.Logits()
	if err != nil {
		t.Fatal(err)
	}
	shape := fmt.Sprintf("%s B%d L%d", name, b.B, b.L)
	t.Logf("loss cpu %.8f gpu %.8f", cpuLoss, gpuLoss)
	report(t, "model loss", shape, math.Abs(gpuLoss-cpuLoss)/math.Abs(cpuLoss), tolLoss)
	report(t, "model logits", shape, relErr(logits, m.Logits()), tolLogits)
	if err := g.Backward(); err != nil {
		t.Fatal(err)
	}
	gg, err := g.Grads()
	if err != nil {
		t.Fatal(err)
	}
	want := m.Grads.Tensors(&m.Config)
	got := gg.Tensors(&m.Config)
	worst, worstName := 0.0, ""
	for i, tn := range want {
		e := relErr(got[i].Data, tn.Data)
		if !(e <= tolGrad) {
			report(t, "model grad "+tn.Name, shape, e, tolGrad)
		}
		if e > worst || math.IsNaN(e) {
			worst, worstName = e, tn.Name
		}
	}
	report(t, fmt.Sprintf("model grads (%d tensors, worst)", len(want)), shape, worst, tolGrad)
	t.Logf("worst gradient: %s", worstName)
}

// TestMatchesCPUOnHFFixtures: the Hugging Face parity fixtures of
// framework/backbone, GPU against CPU.
func TestMatchesCPUOnHFFixtures(t *testing.T) {
	openOrSkip(t)
	for _, name := range []string{"tiny", "small", "odd", "wide"} {
		t.Run(name, func(t *testing.T) {
			m, b := loadHFCase(t, name)
			compareWithCPU(t, "hf-"+name, m, b)
		})
	}
}

// loadHFCase loads the Hugging Face parity fixture name of
// framework/backbone (skipping when it is missing) and its batch, the
// targets the next input.
func loadHFCase(t *testing.T, name string) (*backbone.Model, *backbone.Batch) {
	t.Helper()
	m, exp, dir := openHFFixture(t, name)
	ids64, err := exp.Int64("input_ids")
	if err != nil {
		t.Fatal(err)
	}
	var hc struct {
		Batch  int `json:"batch"`
		SeqLen int `json:"seq_len"`
	}
	cj, err := os.ReadFile(filepath.Join(dir, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(cj, &hc); err != nil {
		t.Fatal(err)
	}
	B, L := hc.Batch, hc.SeqLen
	if len(ids64) != B*L {
		t.Fatalf("input_ids has %d ids, case.json says %d×%d", len(ids64), B, L)
	}
	b := &backbone.Batch{B: B, L: L, Inputs: make([]int32, B*L), Targets: make([]int32, B*L)}
	for i, v := range ids64 {
		b.Inputs[i] = int32(v)
	}
	for bi := 0; bi < B; bi++ {
		for ti := 0; ti < L; ti++ {
			b.Targets[bi*L+ti] = -1
			if ti+1 < L {
				b.Targets[bi*L+ti] = b.Inputs[bi*L+ti+1]
			}
		}
	}
	return m, b
}

// openHFFixture loads the model of the Hugging Face parity fixture name
// of framework/backbone (skipping when it is missing) and its expected
// values; dir is its folder.
func openHFFixture(t *testing.T, name string) (m *backbone.Model, exp *safetensors.File, dir string) {
	t.Helper()
	dir = filepath.Join("..", "backbone", "testdata", "hf-mamba", name)
	if _, err := os.Stat(filepath.Join(dir, "config.json")); err != nil {
		t.Skipf("fixture missing: %v", err)
	}
	m, err := backbone.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if exp, err = safetensors.Open(filepath.Join(dir, "expected.safetensors")); err != nil {
		t.Fatal(err)
	}
	return m, exp, dir
}

func randomBatch(r *rand.Rand, B, L, V int, resets bool) *backbone.Batch {
	b := &backbone.Batch{B: B, L: L, Inputs: make([]int32, B*L), Targets: make([]int32, B*L)}
	for i := range b.Inputs {
		b.Inputs[i] = int32(r.IntN(V))
		b.Targets[i] = int32(r.IntN(V))
		if r.IntN(20) == 0 {
			b.Targets[i] = -1
		}
	}
	if resets {
		b.Reset = make([]bool, B*L)
		for i := range b.Reset {
			b.Reset[i] = r.IntN(40) == 0
		}
	}
	return b
}

// TestVariantsMatchCPU: per-channel (non-selective) B and C, LTI, complex
// A, B, C, with document resets, on small random models.
func TestVariantsMatchCPU(t *testing.T) {
	openOrSkip(t)
	for i, v := range []struct {
		name    string
		ns      []string
		complex bool
		N       int
	}{
		{"S6", nil, false, 16},
		{"S6-N7", nil, false, 7},
		{"per-channel-BC", []string{"B", "C"}, false, 16},
		{"LTI", []string{"delta", "B", "C"}, false, 8},
		{"complex", nil, true, 8},
		{"complex-per-channel-B", []string{"B"}, true, 16},
		{"complex-LTI", []string{"delta", "B", "C"}, true, 4},
	} {
		t.Run(v.name, func(t *testing.T) {
			c := backbone.NewConfig(97, 48, 2)
			c.StateSize, c.NonSelective, c.ComplexA = v.N, v.ns, v.complex
			m, err := backbone.New(c, uint64(10+i))
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(uint64(i), 7))
			compareWithCPU(t, v.name, m, randomBatch(r, 3, 150, c.VocabSize, true))
		})
	}
}
