//go:build faults && linux

package faults

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// The bundled test data the campaign trains and encodes.
func testdata(plugin, name string) string {
	return filepath.Join(root, "plugins", plugin, "testdata", name)
}

// refYAML is the configuration of every training run the campaign compares
// with the reference: a tiny model, a checkpoint every second step (so a
// kill lands in a checkpoint write often), an evaluation with a sample
// decoded by the plugin every 20 steps, one thread (bit-exact resumes need
// a fixed thread count). 120 steps take about 3 s on 2 cores.
const refYAML = `preset: tiny
seq_len: 32
batch: 2
steps: 120
save_every: 2
eval_every: 20
eval_tokens: 512
sample_tokens: 16
keep_last: 3
seed: 7
threads: 1
log_every: 10
`

const refSteps = 120

var (
	refOnce sync.Once
	refDir  string        // the uninterrupted reference run
	refTime time.Duration // how long it took
	refErr  error
	cfgPath string
)

// trainArgs are the arguments of a fresh run into out with refYAML.
func trainArgs(out string) []string {
	return []string{"train", "--modality", "dna", "--data", testdata("dna", "ecoli_536_sample.fa"), "--out", out, "--config", cfgPath}
}

// reference trains the uninterrupted run every interrupted one is compared
// with, once.
func reference(t *testing.T) string {
	t.Helper()
	refOnce.Do(func() {
		cfgPath = filepath.Join(tmp, "ref.yaml")
		if refErr = os.WriteFile(cfgPath, []byte(refYAML), 0o644); refErr != nil {
			return
		}
		refDir = filepath.Join(tmp, "reference")
		p := start(t, tmp, nil, 120*time.Second, trainArgs(refDir)...)
		r := p.wait()
		refTime = r.elapsed
		if r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("done: step %d", refSteps)) {
			refErr = fmt.Errorf("reference run: %v", r)
		}
	})
	if refErr != nil {
		t.Fatal(refErr)
	}
	return refDir
}

// sameAsReference fails the case unless runDir finished at the reference's
// last step with a final checkpoint equal byte for byte to the
// reference's (weights, AdamW moments, trainer.json), and the same metrics
// for every step (all but tokens/s, and the sample's file when
// skipSamples), each step once.
func sameAsReference(t *testing.T, runDir string, skipSamples ...bool) {
	t.Helper()
	ref := reference(t)
	final := fmt.Sprintf("step-%08d", refSteps)
	latest, err := os.ReadFile(filepath.Join(runDir, "checkpoints", "latest"))
	if err != nil || strings.TrimSpace(string(latest)) != final {
		t.Fatalf("checkpoints/latest = %q (%v), want %s", latest, err, final)
	}
	for _, f := range []string{"model.safetensors", "trainer.safetensors", "trainer.json", "config.json"} {
		a, err1 := os.ReadFile(filepath.Join(ref, "checkpoints", final, f))
		b, err2 := os.ReadFile(filepath.Join(runDir, "checkpoints", final, f))
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", f, err1, err2)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from the uninterrupted run's (%d and %d bytes)", f, len(a), len(b))
		}
	}
	want, err := metrics(filepath.Join(ref, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := metrics(filepath.Join(runDir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("metrics.jsonl has %d lines, the uninterrupted run's %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if len(skipSamples) > 0 && skipSamples[0] {
			delete(got[i], "sample")
			delete(want[i], "sample")
		}
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("metrics line %d: %v, the uninterrupted run's %v", i+1, got[i], want[i])
			break
		}
	}
	// A checkpoint or a file a fault cut short is removed by the next one
	// written.
	filepath.WalkDir(runDir, func(p string, d os.DirEntry, err error) error {
		if err == nil && (strings.HasSuffix(d.Name(), ".partial") || strings.Contains(d.Name(), ".tmp-")) {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

// metrics reads metrics.jsonl without the field that measures speed, and
// with the sample's file name only.
func metrics(path string) ([]map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return nil, fmt.Errorf("%s: %q: %v", path, sc.Text(), err)
		}
		delete(m, "tokens_per_s")
		if s, ok := m["sample"].(string); ok { // a path in the run directory
			m["sample"] = filepath.Base(s)
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// finish brings an interrupted run to the reference's last step as a user
// would: resume when it has a checkpoint, else the same train command
// again (its data is cached). A run that has ended is left as it is.
func finish(t *testing.T, runDir string) {
	t.Helper()
	args := trainArgs(runDir)
	if b, err := os.ReadFile(filepath.Join(runDir, "checkpoints", "latest")); err == nil {
		if strings.TrimSpace(string(b)) == fmt.Sprintf("step-%08d", refSteps) {
			return // it has ended
		}
		args = []string{"train", "--resume", runDir}
	}
	r := start(t, tmp, nil, 120*time.Second, args...).wait()
	ok(t, r)
	if !strings.Contains(r.stdout, fmt.Sprintf("done: step %d", refSteps)) {
		t.Fatalf("did not finish: %v", r)
	}
}

// latestWhole fails the case unless checkpoints/latest, if present, names
// a checkpoint with all its files.
func latestWhole(t *testing.T, runDir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(runDir, "checkpoints", "latest"))
	if os.IsNotExist(err) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	ck := filepath.Join(runDir, "checkpoints", strings.TrimSpace(string(b)))
	for _, f := range []string{"model.safetensors", "trainer.safetensors", "trainer.json", "config.json"} {
		if st, err := os.Stat(filepath.Join(ck, f)); err != nil || st.Size() == 0 {
			t.Fatalf("latest names %s, whose %s is missing or empty (%v)", ck, f, err)
		}
	}
}

var (
	bigOnce sync.Once
	bigFA   string
)

// bigFASTA is a 24 Mbp FASTA of 24 records (random bases, fixed seed):
// preparing it takes long enough (about 1.5 s) to be interrupted.
func bigFASTA(t *testing.T) string {
	t.Helper()
	bigOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 2))
		var b bytes.Buffer
		line := make([]byte, 80)
		for rec := range 24 {
			fmt.Fprintf(&b, ">r%d\n", rec)
			for range 1 << 20 / 80 {
				for i := range line {
					line[i] = "ACGT"[r.IntN(4)]
				}
				b.Write(line)
				b.WriteByte('\n')
			}
		}
		p := filepath.Join(tmp, "big.fa")
		if os.WriteFile(p, b.Bytes(), 0o644) == nil {
			bigFA = p
		}
	})
	if bigFA == "" {
		t.Fatal("could not write big.fa")
	}
	return bigFA
}

var (
	preparedOnce sync.Once
	preparedDir  string
	preparedTime time.Duration
	preparedErr  error
)

// prepared is bigFASTA prepared once, never interrupted, and how long
// that took: what interrupted prepares are compared with, and the window
// their faults are drawn from.
func prepared(t *testing.T) (string, time.Duration) {
	t.Helper()
	fa := bigFASTA(t)
	preparedOnce.Do(func() {
		preparedDir = filepath.Join(tmp, "prepared-once")
		r := start(t, tmp, nil, 60*time.Second, "prepare", "--modality", "dna", "--data", fa, "-o", preparedDir).wait()
		preparedTime = r.elapsed
		if r.code != 0 {
			preparedErr = fmt.Errorf("prepare: %v", r)
		}
	})
	if preparedErr != nil {
		t.Fatal(preparedErr)
	}
	return preparedDir, preparedTime
}

// copyDir copies the regular files of a directory tree.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// snapshot maps every file under dir to its contents, to check that a
// refused command wrote nothing.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			b, _ := os.ReadFile(p)
			out[p] = string(b)
		} else if err == nil && !d.IsDir() {
			out[p] = d.Type().String()
		}
		return nil
	})
	return out
}

// unchanged fails the case if dir differs from its snapshot, but for
// the files named ignore.
func unchanged(t *testing.T, dir string, before map[string]string, ignore ...string) {
	t.Helper()
	after := snapshot(t, dir)
	for _, name := range ignore {
		for p := range before {
			if filepath.Base(p) == name {
				delete(before, p)
			}
		}
		for p := range after {
			if filepath.Base(p) == name {
				delete(after, p)
			}
		}
	}
	for p, b := range before {
		if a, ok := after[p]; !ok {
			t.Errorf("removed: %s", p)
		} else if a != b {
			t.Errorf("changed: %s", p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			t.Errorf("created: %s", p)
		}
	}
}
