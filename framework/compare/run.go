package compare

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/mambakit/mambakit/framework/train"
	"github.com/mambakit/mambakit/internal/atomicfile"
)

// Run is one cell of the matrix.
type Run struct {
	Modality Modality
	Variant  Variant
	Seed     uint64
	Dir      string
}

// Runs lists the matrix's runs, modality-major, with their directories
// under out: out/MODALITY/VARIANT/seed-N.
func (s *Spec) Runs(out string) []Run {
	var rs []Run
	for _, m := range s.Modalities {
		for _, v := range s.Variants {
			for _, seed := range s.Seeds {
				rs = append(rs, Run{m, v, seed, filepath.Join(out, m.Label, v.Name, "seed-"+strconv.FormatUint(seed, 10))})
			}
		}
	}
	return rs
}

// Options control Execute.
type Options struct {
	Exe  string    // the mambakit binary that trains each run
	Jobs int       // runs at once (processes)
	Log  io.Writer // progress lines
}

// wallFile records a finished run's wall time in its directory.
const wallFile = "compare-wall-seconds"

// Execute trains every run that is not finished yet, Jobs at a time, each
// in its own `mambakit train` process with the cores shared out evenly,
// then collects the results. A run already at its last step is skipped; a
// run with an earlier checkpoint is resumed.
func Execute(ctx context.Context, s *Spec, out string, o Options) ([]Result, error) {
	rs := s.Runs(out)
	jobs := max(1, o.Jobs)
	threads := max(1, runtime.NumCPU()/jobs)
	steps := intOf(s.Budget["steps"], train.Defaults().Steps)
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	var mu sync.Mutex
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(log, format+"\n", args...)
	}
	work := make(chan int)
	errs := make([]error, len(rs))
	var wg sync.WaitGroup
	for range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				errs[i] = runOne(ctx, s, rs[i], steps, threads, o.Exe, func(f string, a ...any) {
					logf("[%d/%d] %s %s seed %d: "+f, append([]any{i + 1, len(rs), rs[i].Modality.Label, rs[i].Variant.Name, rs[i].Seed}, a...)...)
				})
			}
		}()
	}
	for i := range rs {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("%s %s seed %d: %w", rs[i].Modality.Label, rs[i].Variant.Name, rs[i].Seed, err)
		}
	}
	return Collect(rs)
}

func runOne(ctx context.Context, s *Spec, r Run, steps, threads int, exe string, logf func(string, ...any)) error {
	info, err := train.ReadRunInfo(r.Dir)
	if err == nil && info.Step >= steps {
		logf("done earlier (step %d), skipped", info.Step)
		return nil
	}
	resume := err == nil && info.Step > 0
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return err
	}
	cfg := map[string]any{}
	for k, v := range s.Budget {
		cfg[k] = v
	}
	cfg["seed"] = r.Seed
	cfg["threads"] = threads
	if len(r.Variant.NonSelective) > 0 {
		cfg["nonselective"] = r.Variant.NonSelective
	}
	if r.Variant.Complex {
		cfg["complex"] = true
	}
	if r.Variant.AInit != "" {
		cfg["a_init"] = r.Variant.AInit
	}
	y, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(r.Dir, "compare.yaml")
	if err := atomicfile.WriteFile(cfgPath, y, 0o644); err != nil {
		return err
	}
	args := []string{"train", "--modality", r.Modality.Name, "--out", r.Dir, "--config", cfgPath}
	for _, d := range r.Modality.Data {
		args = append(args, "--data", d)
	}
	for k, v := range r.Modality.Options {
		args = append(args, "--option", k+"="+v)
	}
	if resume {
		args = []string{"train", "--resume", r.Dir}
		logf("resuming from step %d", info.Step)
	} else {
		logf("training")
	}
	cmd := exec.CommandContext(ctx, exe, args...)
	var outBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &outBuf
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		lines := strings.Split(strings.TrimSpace(outBuf.String()), "\n")
		return fmt.Errorf("%v: %s", err, lines[len(lines)-1])
	}
	wall := time.Since(t0).Seconds()
	if err := atomicfile.WriteFile(filepath.Join(r.Dir, wallFile), []byte(strconv.FormatFloat(wall, 'f', 1, 64)+"\n"), 0o644); err != nil {
		return err
	}
	logf("finished in %.0fs", wall)
	return nil
}

// Result is what one finished run measured.
type Result struct {
	Run
	Unit         string
	BitsPerUnit  float64 // validation, last evaluation
	Baseline     float64 // best Markov baseline of the data (0: unknown)
	BaselineK    int
	TokensPerSec float64  // mean over steps
	Accuracy     *float64 // on answer positions, for tasks (last evaluation)
	WallSeconds  float64
	Curve        []Point // validation bits per unit by step
}

// Point is one evaluation.
type Point struct {
	Step int
	BPU  float64
}

// Collect reads the results of finished runs.
func Collect(rs []Run) ([]Result, error) {
	var out []Result
	for _, r := range rs {
		res := Result{Run: r}
		f, err := os.Open(filepath.Join(r.Dir, "metrics.jsonl"))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Dir, err)
		}
		sc := bufio.NewScanner(f)
		var tps float64
		var n int
		for sc.Scan() {
			var m train.Metric
			if json.Unmarshal(sc.Bytes(), &m) != nil {
				continue
			}
			tps += m.TokensPerS
			n++
			if m.ValBPU != nil {
				res.Curve = append(res.Curve, Point{m.Step, *m.ValBPU})
				res.BitsPerUnit = *m.ValBPU
				res.Accuracy = m.ValAcc
			}
		}
		f.Close()
		if n > 0 {
			res.TokensPerSec = tps / float64(n)
		}
		if len(res.Curve) == 0 {
			return nil, fmt.Errorf("%s: no evaluation in metrics.jsonl", r.Dir)
		}
		var cy struct {
			Modality struct {
				Unit string `yaml:"unit"`
			} `yaml:"modality"`
			Baseline struct {
				Order int     `yaml:"markov_order"`
				BPU   float64 `yaml:"bits_per_unit"`
			} `yaml:"baseline"`
		}
		if b, err := os.ReadFile(filepath.Join(r.Dir, "config.yaml")); err == nil {
			yaml.Unmarshal(b, &cy)
		}
		res.Unit, res.Baseline, res.BaselineK = cy.Modality.Unit, cy.Baseline.BPU, cy.Baseline.Order
		if b, err := os.ReadFile(filepath.Join(r.Dir, wallFile)); err == nil {
			res.WallSeconds, _ = strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
		}
		out = append(out, res)
	}
	return out, nil
}

func intOf(v any, def int) int {
	switch x := v.(type) {
	case int:
		return x
	case float64:
		return int(x)
	}
	return def
}
