package dashboard

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestParseLine checks the one-pass metrics.jsonl reader on the lines
// train writes and on the ones it must refuse or read around.
func TestParseLine(t *testing.T) {
	for name, c := range map[string]struct {
		line string
		ok   bool
		want point
	}{
		"train":        {`{"step":3,"loss":5.49,"lr":0.0011,"grad_norm":1.96,"tokens_per_s":49638.8,"val_loss":5.35,"val_bits_per_unit":7.756,"sample":"runs/text/samples/step-00000003.txt"}`, true, point{step: 3, loss: 5.49, lr: 0.0011, grad: 1.96, tps: 49638.8, val: 7.756, hasVal: true}},
		"no val":       {`{"step":1,"loss":5.5}`, true, point{step: 1, loss: 5.5}},
		"spaces":       {`{ "step" : 2 , "loss" : 1e-3 }`, true, point{step: 2, loss: 1e-3}},
		"key in value": {`{"note":"\"loss\":9 \\","step":4,"loss":2}`, true, point{step: 4, loss: 2}},
		"val_loss":     {`{"step":5,"val_loss":3}`, true, point{step: 5}},
		"no step":      {`{"loss":5.5}`, false, point{}},
		"half step":    {`{"step":1.5,"loss":5.5}`, false, point{}},
		"negative":     {`{"step":-1}`, false, point{}},
		"cut":          {`{"step":7,"loss":5.`, false, point{}},
		"empty":        {``, false, point{}},
		"not json":     {`step 3 loss 5`, false, point{}},
	} {
		var p point
		ok := p.parse([]byte(c.line))
		if ok != c.ok || ok && p != c.want {
			t.Errorf("%s: parse(%s) = %v %+v, want %v %+v", name, c.line, ok, p, c.ok, c.want)
		}
	}
}

// TestParallelReadMatchesSequential: a metrics file long enough to be
// parsed on every core (update) gives the rows that one pass gives (read):
// the same steps, metrics and evaluations, the wall clock continued across
// the parts, a partial last line left for later and read once it ends.
func TestParallelReadMatchesSequential(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	dir := t.TempDir()
	var b strings.Builder
	for s := 1; b.Len() < parallelBytes+(1<<20); s++ {
		fmt.Fprintf(&b, `{"step":%d,"loss":%.6f,"lr":0.001,"grad_norm":1.25,"tokens_per_s":%d`, s, 5.5/(1+float64(s)/1000), 50000+s%977)
		if s%97 == 0 {
			fmt.Fprintf(&b, `,"val_bits_per_unit":%.6f`, 7.9/(1+float64(s)/1000))
		}
		if s%1013 == 0 {
			b.WriteString(`,"sample":"runs/x/samples/step.txt"`)
		}
		b.WriteString("}\n")
	}
	whole := b.String()
	partial := `{"step":999999999,"loss":1.`
	if err := os.WriteFile(filepath.Join(dir, "metrics.jsonl"), []byte(whole+partial), 0o644); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	par := newSeries(4096)
	if err := par.update(root, "metrics.jsonl"); err != nil {
		t.Fatal(err)
	}
	seq := newSeries(4096)
	seq.read(bufio.NewReader(strings.NewReader(whole + partial)))
	if par.size != int64(len(whole)) || seq.size != par.size {
		t.Fatalf("read up to %d (one pass: %d), want %d: the partial last line waits", par.size, seq.size, len(whole))
	}
	same := func(what string) {
		t.Helper()
		if par.rows() != seq.rows() || !slices.Equal(par.valRows, seq.valRows) {
			t.Fatalf("%s: %d rows, %d evaluations; one pass: %d, %d", what, par.rows(), len(par.valRows), seq.rows(), len(seq.valRows))
		}
		for _, name := range append(append([]string{}, axisNames...), metricNames...) {
			a, w := par.col(name), seq.col(name)
			for i := range w {
				if d := math.Abs(float64(a[i] - w[i])); d > 1e-6*math.Abs(float64(w[i]))+1e-9 {
					t.Fatalf("%s: %s row %d = %v, one pass %v", what, name, i, a[i], w[i])
				}
			}
		}
	}
	same("parallel")
	f, err := os.OpenFile(filepath.Join(dir, "metrics.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("5}\n")
	f.Close()
	if err := par.update(root, "metrics.jsonl"); err != nil {
		t.Fatal(err)
	}
	seq = newSeries(4096)
	seq.read(bufio.NewReader(strings.NewReader(whole + partial + "5}\n")))
	same("after the last line ended")
}
