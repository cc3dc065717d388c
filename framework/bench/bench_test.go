package bench

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/mambakit/mambakit/framework/train"
)

func TestBenchTrainPrintsSummaryLine(t *testing.T) {
	var out bytes.Buffer
	o := DefaultTrain(train.CPU)
	o.DModel, o.Layers, o.DState, o.Vocab, o.Batch, o.SeqLen, o.Steps, o.Threads = 16, 1, 4, 32, 2, 20, 2, 1
	if err := Train(o, &out); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !regexp.MustCompile(`^tokens_per_s=[0-9.]+ peak_rss_mb=[0-9.]+$`).MatchString(last) {
		t.Fatalf("last line %q is not tokens_per_s=<n> peak_rss_mb=<n>", last)
	}
}

// TestBenchTrainAccum: with micro-batches a step says so, counts their
// tokens, and a negative count is refused.
func TestBenchTrainAccum(t *testing.T) {
	o := DefaultTrain(train.CPU)
	o.DModel, o.Layers, o.DState, o.Vocab, o.Batch, o.SeqLen, o.Steps, o.Warmup, o.Threads = 16, 1, 4, 32, 2, 20, 1, 0, 1
	var one, three bytes.Buffer
	if err := Train(o, &one); err != nil {
		t.Fatal(err)
	}
	o.Accum = 3
	if err := Train(o, &three); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(three.String(), "3 micro-batches a step") || strings.Contains(one.String(), "micro-batches") {
		t.Errorf("the model line does not say the micro-batches:\n%s\n%s", one.String(), three.String())
	}
	// The first micro-batch of a step is the step of one: the same tokens
	// and the same start, so the mean over three differs from its loss.
	loss := regexp.MustCompile(`step 1/1  loss ([0-9.]+)`)
	l1, l3 := loss.FindStringSubmatch(one.String()), loss.FindStringSubmatch(three.String())
	if l1 == nil || l3 == nil || l1[1] == l3[1] {
		t.Errorf("losses %q and %q: want one of each, different", l1, l3)
	}
	o.Accum = -1
	if err := Train(o, &three); err == nil {
		t.Error("-1 micro-batches: no error")
	}
}

func TestBenchScanPrintsRatio(t *testing.T) {
	var out bytes.Buffer
	o := DefaultScan(train.CPU)
	o.B, o.SeqLens, o.D, o.N, o.Reps = 1, []int{70}, 3, 5, 1
	if err := Scan(o, &out); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"go ", "reference", "speedup"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}

func TestBenchGeneratePrintsTimes(t *testing.T) {
	var out bytes.Buffer
	o := DefaultGenerate(train.CPU)
	o.DModel, o.Layers, o.Vocab, o.Tokens, o.Threads = 16, 2, 40, 130, 1
	if err := Generate(o, &out); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"position    1:", "position  128:", "tokens_per_s="} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
}

// TestBenchGenerateBatches: each batch gets a row of the table (steps,
// time, tokens/s, bytes and FLOP rates) and its own tokens_per_s line;
// batch 1 comes from the per-position loop, not timed twice.
func TestBenchGenerateBatches(t *testing.T) {
	var out bytes.Buffer
	o := DefaultGenerate(train.CPU)
	o.DModel, o.Layers, o.Vocab, o.Tokens, o.Threads, o.Batches = 16, 2, 40, 20, 1, []int{1, 3, 16}
	if err := Generate(o, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, re := range []string{
		`(?m)^ batch  steps    ms/step    tokens/s    MB/step      GB/s   GFLOP/s$`,
		`(?m)^     1     20 +[0-9.]+ +[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$`,
		`(?m)^     3      8 `, // 20 tokens in all, at least 8 steps
		`(?m)^    16      8 `,
		`(?m)^tokens_per_s=[0-9.]+ batch=3$`,
	} {
		if !regexp.MustCompile(re).MatchString(s) {
			t.Errorf("output lacks %q:\n%s", re, s)
		}
	}
	if n := strings.Count(s, "batch=1\n"); n != 1 {
		t.Errorf("%d tokens_per_s lines for batch 1, want 1:\n%s", n, s)
	}
}

// TestPrintBatchesWeightBytes: a batch that says what its weights weigh
// (a GPU's bf16 step past its step kernels) gets its own bytes and floor,
// the others the shape's, and the products column appears only when a
// batch names its products.
func TestPrintBatchesWeightBytes(t *testing.T) {
	s := batchShape{weightBytes: 400e6, stateBytes: 1e6, params: 100e6, vocab: 1000}
	res := []batchResult{
		{B: 4, steps: 8, stepSec: 1e-3, products: "fp32 (step kernels)"},
		{B: 16, steps: 8, stepSec: 1e-3, weightBytes: 200e6, products: "bf16 (cuBLAS)"},
	}
	var out bytes.Buffer
	printBatches(&out, s, 1e12, res)
	got := out.String()
	// 4 rows: 400 MB + 4·(2·1 MB + 4 KB) = 408.016 MB; 16 rows: 200 MB +
	// 16·2.004 MB = 232.064 MB; floors at 1 TB/s.
	for _, re := range []string{
		`(?m)^ batch .* x floor  products$`,
		`(?m)^     4      8 +1\.000 +4000 +408\.0 .* 0\.408 +2\.5x  fp32 \(step kernels\)$`,
		`(?m)^    16      8 +1\.000 +16000 +232\.1 .* 0\.232 +4\.3x  bf16 \(cuBLAS\)$`,
	} {
		if !regexp.MustCompile(re).MatchString(got) {
			t.Errorf("output lacks %q:\n%s", re, got)
		}
	}
	out.Reset()
	printBatches(&out, s, 0, []batchResult{{B: 4, steps: 8, stepSec: 1e-3}})
	if strings.Contains(out.String(), "products") {
		t.Errorf("products column without products:\n%s", out.String())
	}
}
