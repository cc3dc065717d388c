package train

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// synthData is a token stream of documents from a small Markov source, so
// a model can learn it: token t+1 = (t + 1 or 2) mod V.
func synthData(seed uint64, docs, docLen, V int) *Data {
	r := rand.New(rand.NewPCG(seed, 1))
	var toks []int32
	var starts []int64
	for d := 0; d < docs; d++ {
		starts = append(starts, int64(len(toks)))
		t := int32(r.IntN(V))
		for i := 0; i < docLen+r.IntN(docLen); i++ {
			toks = append(toks, t)
			t = (t + 1 + int32(r.IntN(2))) % int32(V)
		}
	}
	return NewData(toks, starts, 1)
}

func testConfig(steps int) Config {
	c := Defaults()
	c.Preset = ""
	c.DModel, c.Layers, c.DState = 16, 2, 4
	c.Steps, c.SeqLen, c.Batch = steps, 24, 3
	c.LR = 1e-2
	c.EvalEvery, c.SaveEvery, c.LogEvery = 3, 3, 1
	c.EvalTokens = 200
	c.SampleTokens = 0
	c.Threads = 2
	if err := c.Resolve(); err != nil {
		panic(err)
	}
	return c
}

func testRun(t *testing.T, dir string, c Config) *Run {
	return &Run{Dir: dir, Config: c, Train: synthData(1, 40, 30, 11), Valid: synthData(2, 8, 30, 11),
		VocabSize: 11, Modality: Plugin{Name: "synthetic", Version: "0", Unit: "token"}}
}

// metricsWithoutTiming reads metrics.jsonl, dropping the wall-clock figure.
func metricsWithoutTiming(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		delete(m, "tokens_per_s")
		delete(m, "sample")
		j, _ := json.Marshal(m)
		out = append(out, string(j))
	}
	return out
}

// sameMetrics fails t unless the runs in the directories a and b wrote
// steps metric lines, the same but for timing (metricsWithoutTiming);
// what says how b was run.
func sameMetrics(t *testing.T, a, b, what string, steps int) {
	t.Helper()
	x, y := metricsWithoutTiming(t, a), metricsWithoutTiming(t, b)
	if len(x) != steps || len(y) != steps {
		t.Fatalf("metrics lines: %d, and %d %s; want %d", len(x), len(y), what, steps)
	}
	for i := range x {
		if x[i] != y[i] {
			t.Fatalf("step %d differs:\n%s\n%s: %s", i+1, x[i], what, y[i])
		}
	}
}

func TestResumeIsExact(t *testing.T) {
	for _, tbptt := range []bool{false, true} {
		t.Run(map[bool]string{false: "packed", true: "tbptt"}[tbptt], func(t *testing.T) {
			c := testConfig(12)
			c.TBPTT = tbptt
			whole := t.TempDir()
			if _, err := Start(context.Background(), testRun(t, whole, c)); err != nil {
				t.Fatal(err)
			}
			// The same run stopped at step 6 and resumed to 12.
			parts := t.TempDir()
			c6 := c
			c6.Steps = 6
			if _, err := Start(context.Background(), testRun(t, parts, c6)); err != nil {
				t.Fatal(err)
			}
			r := testRun(t, parts, Config{Steps: 12})
			res, err := Resume(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			if res.Step != 12 {
				t.Fatalf("resumed run ended at step %d", res.Step)
			}
			sameMetrics(t, whole, parts, "resumed", 12)
		})
	}
}

// TestInterruptWritesCheckpoint cancels the context during a run (as
// Ctrl-C does), then resumes, and checks the result equals an uninterrupted
// run.
func TestInterruptWritesCheckpoint(t *testing.T) {
	c := testConfig(9)
	c.SaveEvery = 100 // only the interrupt and the end save
	whole := t.TempDir()
	if _, err := Start(context.Background(), testRun(t, whole, c)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	r := testRun(t, dir, c)
	r.Config.SampleTokens = 4
	r.Sample = func(_ context.Context, _ []int32, _ int, _ string, step int) (string, error) {
		if step == 3 {
			cancel() // as if Ctrl-C arrived during step 3's evaluation
		}
		return "", nil
	}
	res, err := Start(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Interrupted || res.Step != 3 {
		t.Fatalf("want an interrupt at step 3, got %+v", res)
	}
	if latest, err := LatestCheckpoint(dir); err != nil || !strings.HasSuffix(latest, "step-00000003") {
		t.Fatalf("latest checkpoint %q, %v", latest, err)
	}
	if _, err := Resume(context.Background(), testRun(t, dir, Config{})); err != nil {
		t.Fatal(err)
	}
	a, b := metricsWithoutTiming(t, whole), metricsWithoutTiming(t, dir)
	if strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Fatalf("interrupted+resumed metrics differ from the uninterrupted run:\n%s\n---\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}

func TestNonFiniteStopsTheRun(t *testing.T) {
	c := testConfig(6)
	dir := t.TempDir()
	r := testRun(t, dir, c)
	// Tokens cannot be NaN: an absurd learning rate makes the parameters
	// overflow instead.
	r.Config.LR, r.Config.MinLR = 1e30, 1e30
	_, err := Start(context.Background(), r)
	if !errors.Is(err, ErrNonFinite) {
		t.Fatalf("want ErrNonFinite, got %v", err)
	}
	if !strings.Contains(err.Error(), "step ") || !strings.Contains(err.Error(), "last good checkpoint") {
		t.Errorf("error %q should name the step and the last good checkpoint", err)
	}
}

func TestTrainingLearns(t *testing.T) {
	c := testConfig(60)
	c.EvalEvery, c.SaveEvery = 20, 60
	res, err := Start(context.Background(), testRun(t, t.TempDir(), c))
	if err != nil {
		t.Fatal(err)
	}
	// The source emits one of two successors: 1 bit per token is optimal;
	// uniform over 11 tokens is 3.46 bits.
	if res.LastEval == nil || res.LastEval.BitsPerUnit > 1.6 {
		t.Fatalf("validation after 60 steps: %+v, want < 1.6 bits per token", res.LastEval)
	}
}

func TestStartRefusesExistingRun(t *testing.T) {
	c := testConfig(3)
	dir := t.TempDir()
	if _, err := Start(context.Background(), testRun(t, dir, c)); err != nil {
		t.Fatal(err)
	}
	if _, err := Start(context.Background(), testRun(t, dir, c)); !errors.Is(err, ErrRunExists) || !strings.Contains(err.Error(), "resume it") {
		t.Fatalf("want ErrRunExists and a hint to resume, got %v", err)
	}
}

// TestKillDuringCheckpointWrite kills (SIGKILL) a process that writes
// checkpoints in a loop, at several moments, and checks that the latest
// checkpoint always loads.
func TestKillDuringCheckpointWrite(t *testing.T) {
	if os.Getenv("MAMBAKIT_CHECKPOINT_WRITER") != "" {
		checkpointWriter(os.Getenv("MAMBAKIT_CHECKPOINT_WRITER"))
		return
	}
	dir := t.TempDir()
	loaded := 0
	for i, delay := range []time.Duration{50, 120, 200, 310, 450, 700, 1100, 1600} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestKillDuringCheckpointWrite$")
		cmd.Env = append(os.Environ(), "MAMBAKIT_CHECKPOINT_WRITER="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay * time.Millisecond)
		cmd.Process.Kill()
		cmd.Wait()
		latest, err := LatestCheckpoint(dir)
		if err != nil {
			continue // killed before the first checkpoint was complete: nothing to check
		}
		if _, _, _, err := loadCheckpoint(latest); err != nil {
			t.Fatalf("kill %d after %v: latest checkpoint %s is corrupt: %v", i, delay, latest, err)
		}
		loaded++
	}
	if loaded == 0 {
		t.Fatal("no kill left a checkpoint to check: the writer never completed one in 1.6 s")
	}
}

// checkpointWriter saves checkpoints of a mid-sized model forever (until
// killed).
func checkpointWriter(dir string) {
	c := testConfig(1)
	c.DModel, c.Layers = 128, 4
	r := &Run{Dir: dir, Config: c, Train: synthData(1, 40, 30, 11), Valid: synthData(2, 8, 30, 11), VocabSize: 11}
	m, opt, ld := newForTest(r)
	for step := 1; ; step++ {
		if _, err := saveCheckpoint(dir, step, m, opt, ld, nil, trainerState{Config: c, VocabSize: r.VocabSize}, nil, nil, 2); err != nil {
			panic(err)
		}
	}
}

func TestMarkovBaseline(t *testing.T) {
	tr, va := synthData(1, 40, 30, 11), synthData(2, 8, 30, 11)
	for order := 0; order <= 2; order++ {
		e, err := MarkovBaseline(context.Background(), tr, va, 11, order)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("order %d: %.3f bits per token over %d tokens", order, e.BitsPerUnit, e.Tokens)
		switch order {
		case 0: // near-uniform over 11 tokens: log2(11) = 3.46
			if e.BitsPerUnit < 3.3 || e.BitsPerUnit > 3.6 {
				t.Errorf("order 0: %.3f bits, want about 3.46", e.BitsPerUnit)
			}
		case 1, 2: // two equally likely successors: 1 bit, plus smoothing
			if e.BitsPerUnit < 0.99 || e.BitsPerUnit > 1.2 {
				t.Errorf("order %d: %.3f bits, want about 1", order, e.BitsPerUnit)
			}
		}
	}
	if _, err := MarkovBaseline(context.Background(), tr, va, 11, 99); err == nil {
		t.Error("order 99 accepted")
	}
}

func TestMarkAnswersAndAccuracy(t *testing.T) {
	// Two documents: "5 6 1 7 8" (answers 7, 8 after the last marker 1) and
	// "1 9 1 4" (answer 4).
	d := NewData([]int32{5, 6, 1, 7, 8, 1, 9, 1, 4}, []int64{0, 5}, 1)
	d.MarkAnswers(1)
	want := []bool{false, false, false, true, true, false, false, false, true}
	for i := range want {
		if d.Answer[i] != want[i] {
			t.Fatalf("answers %v, want %v", d.Answer, want)
		}
	}
	// A model that learns a deterministic successor task reaches full
	// accuracy on answers that follow from the marker.
	var toks []int32
	var starts []int64
	r := rand.New(rand.NewPCG(3, 3))
	for range 60 {
		starts = append(starts, int64(len(toks)))
		k := int32(2 + r.IntN(5))
		toks = append(toks, 9, 9, 1, k, k+1) // after the marker: k, then k+1
	}
	data := NewData(toks, starts, 1)
	data.MarkAnswers(1)
	c := testConfig(80)
	c.SeqLen, c.EvalEvery = 20, 40
	res, err := Start(context.Background(), &Run{Dir: t.TempDir(), Config: c, Train: data, Valid: data, VocabSize: 11})
	if err != nil {
		t.Fatal(err)
	}
	e := res.LastEval
	// Answer k is random (1/5 at best), k+1 follows from k: accuracy → 0.6.
	if e == nil || e.Answers == 0 || e.Accuracy < 0.5 || e.Accuracy > 0.7 {
		t.Fatalf("eval %+v: want about 60%% accuracy on the answers", e)
	}
}
