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
