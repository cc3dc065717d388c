package backbone

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/safetensors"
)

// Tolerances of the Hugging Face parity test (issue: backbone parity).
const (
	tolLogits = 1e-4 // max|ours−ref| / max|ref| for logits and hidden states
	tolLoss   = 1e-5 // relative
	tolGrad   = 1e-3 // relative L2 error ‖ours−ref‖ / ‖ref‖
)

// fixtureDirs lists the bundled cases and those named in MAMBA_HF_FIXTURES
// (colon-separated case directories with the same layout).
func fixtureDirs() map[string]string {
	dirs := map[string]string{}
	for _, c := range []string{"tiny", "small", "odd", "wide"} {
		dirs[c] = filepath.Join("testdata", "hf-mamba", c)
	}
	for _, d := range strings.Split(os.Getenv("MAMBA_HF_FIXTURES"), ":") {
		if d != "" {
			dirs["env:"+d] = d
		}
	}
	return dirs
}

type hfCase struct {
	Batch  int      `json:"batch"`
	SeqLen int      `json:"seq_len"`
	Seed   int      `json:"seed"`
	Loss   float64  `json:"loss"`
	Params []string `json:"params"`
}

// TestMatchesHF checks logits, hidden states, loss, every gradient and the
// greedy continuation against transformers' MambaForCausalLM (computed in
// float64 from the same float32 weights).
func TestMatchesHF(t *testing.T) {
	for name, dir := range fixtureDirs() {
		t.Run(name, func(t *testing.T) {
			m, batch, exp, hc := loadHFCase(t, dir)
			loss, err := m.Forward(batch, nil)
			if err != nil {
				t.Fatal(err)
			}
			refLoss, _ := exp.Float64("loss")
			relLoss := math.Abs(loss-refLoss[0]) / math.Abs(refLoss[0])
			t.Logf("%-50s ours=%.8f ref=%.8f rel=%.2e", "loss", loss, refLoss[0], relLoss)
			if relLoss > tolLoss {
				t.Errorf("loss %.8f, reference %.8f: relative error %.2e > %.0e", loss, refLoss[0], relLoss, tolLoss)
			}
			checkScale(t, exp, "logits", m.Logits())
			for i := 0; i <= m.Config.NumHiddenLayers; i++ {
				checkScale(t, exp, "hidden."+strconv.Itoa(i), m.Hidden(i))
			}
			if _, err := m.Backward(); err != nil {
				t.Fatal(err)
			}
			grads := map[string][]float32{}
			for _, tn := range m.Grads.Tensors(&m.Config) {
				grads["grad."+tn.Name] = tn.Data
			}
			if len(hc.Params) != len(grads) {
				t.Errorf("case.json lists %d gradients, the model has %d parameter tensors", len(hc.Params), len(grads))
			}
			for _, gn := range hc.Params {
				ours, ok := grads[gn]
				if !ok {
					t.Errorf("%s: no such parameter in the model", gn)
					continue
				}
				ref, err := exp.Float64(gn)
				if err != nil {
					t.Fatal(err)
				}
				var num, den float64
				for i, r := range ref {
					d := float64(ours[i]) - r
					num += d * d
					den += r * r
				}
				rel := math.Sqrt(num / math.Max(den, 1e-300))
				t.Logf("%-50s relL2=%.2e", gn, rel)
				if rel > tolGrad || len(ref) != len(ours) {
					t.Errorf("%s: relative L2 error %.2e > %.0e", gn, rel, tolGrad)
				}
			}
			checkGreedy(t, m, exp)

		})
	}
}

// loadHFCase loads the Hugging Face case in dir: the model, the batch its
// expected values were computed on (targets: the next input), the expected
// values and case.json.
func loadHFCase(t *testing.T, dir string) (*Model, *Batch, *safetensors.File, hfCase) {
	t.Helper()
	for _, f := range []string{"config.json", "model.safetensors", "expected.safetensors", "case.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("fixture file missing: %v\nHINT: copy the case directory from ../shared/testdata/hf-mamba (made with transformers' MambaForCausalLM; see testdata/hf-mamba/README.md)", err)
		}
	}
	m, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var hc hfCase
	b, err := os.ReadFile(filepath.Join(dir, "case.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &hc); err != nil {
		t.Fatalf("case.json: %v", err)
	}
	exp, err := safetensors.Open(filepath.Join(dir, "expected.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	ids64, err := exp.Int64("input_ids")
	if err != nil {
		t.Fatal(err)
	}
	B, L := hc.Batch, hc.SeqLen
	if len(ids64) != B*L {
		t.Fatalf("input_ids has %d ids, case.json says %d×%d", len(ids64), B, L)
	}
	batch := &Batch{B: B, L: L, Inputs: make([]int32, B*L), Targets: make([]int32, B*L)}
	for i, v := range ids64 {
		batch.Inputs[i] = int32(v)
	}
	for bi := 0; bi < B; bi++ {
		for ti := 0; ti < L; ti++ {
			batch.Targets[bi*L+ti] = -1
			if ti+1 < L {
				batch.Targets[bi*L+ti] = batch.Inputs[bi*L+ti+1]
			}
		}
	}
	return m, batch, exp, hc
}

func checkScale(t *testing.T, exp *safetensors.File, name string, ours []float32) {
	t.Helper()
	ref, err := exp.Float64(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(ref) != len(ours) {
		t.Fatalf("%s: %d values, reference has %d", name, len(ours), len(ref))
	}
	var maxDiff, maxRef float64
	for i, r := range ref {
		maxDiff = math.Max(maxDiff, math.Abs(float64(ours[i])-r))
		maxRef = math.Max(maxRef, math.Abs(r))
	}
	e := maxDiff / maxRef
	t.Logf("%-50s scale error=%.2e", name, e)
	if !(e <= tolLogits) {
		t.Errorf("%s: max|ours−ref|/max|ref| = %.2e > %.0e", name, e, tolLogits)
	}
}

// checkGreedy checks that greedy decoding with the recurrent Step continues
// the prompt exactly as transformers' generate does.
func checkGreedy(t *testing.T, m *Model, exp *safetensors.File) {
	t.Helper()
	prompt64, err := exp.Int64("generate.prompt")
	if err != nil {
		t.Fatal(err)
	}
	want, err := exp.Int64("generate.output")
	if err != nil {
		t.Fatal(err)
	}
	prompt := make([]int32, len(prompt64))
	for i, v := range prompt64 {
		prompt[i] = int32(v)
	}
	got, err := m.Generate(prompt, len(want)-len(prompt), Sampling{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if int64(got[i]) != want[i] {
			t.Errorf("greedy continuation differs at position %d: got %v, want %v", i, got, want)
			return
		}
	}
	t.Logf("%-50s %d tokens identical", "generate (greedy)", len(want))
}
