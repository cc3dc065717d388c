package compare

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
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
				errs[i] = runOne(ctx, s, rs[i], threads, o.Exe, func(f string, a ...any) {
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

// job is one run's `mambakit train` process: the run, its whole
// configuration (the budget, the variant, the seed and the threads) and
// whether it continues an earlier checkpoint.
type job struct {
	Run
	Config train.Config
	Resume bool
}

// configFile is where a job's configuration is written for its process.
const configFile = "compare.yaml"

// newJob builds r's job: the spec's budget over the train defaults, then
// the run's variant and seed, on threads threads.
func newJob(s *Spec, r Run, threads int) (job, error) {
	b, err := yaml.Marshal(s.Budget)
	if err != nil {
		return job{}, err
	}
	c := train.Defaults()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) { // io.EOF: an empty budget
		return job{}, fmt.Errorf("budget: %w", err)
	}
	c.Seed, c.Threads = r.Seed, threads
	if len(r.Variant.NonSelective) > 0 {
		c.NonSelective = r.Variant.NonSelective
	}
	if r.Variant.Complex {
		c.Complex = true
	}
	if r.Variant.AInit != "" {
		c.AInit = r.Variant.AInit
	}
	return job{Run: r, Config: c}, nil
}

// args is the job's command line after the mambakit binary: a new run
// reads its configuration from the job directory's configFile; a resumed
// run continues with the configuration it recorded.
func (j job) args() []string {
	if j.Resume {
		return []string{"train", "--resume", j.Dir}
	}
	args := []string{"train", "--modality", j.Modality.Name, "--out", j.Dir, "--config", filepath.Join(j.Dir, configFile)}
	for _, d := range j.Modality.Data {
		args = append(args, "--data", d)
	}
	for _, k := range slices.Sorted(maps.Keys(j.Modality.Options)) {
		args = append(args, "--option", k+"="+j.Modality.Options[k])
	}
	return args
}

func runOne(ctx context.Context, s *Spec, r Run, threads int, exe string, logf func(string, ...any)) error {
	j, err := newJob(s, r, threads)
	if err != nil {
		return err
	}
	info, err := train.ReadRunInfo(r.Dir)
	if err == nil && info.Step >= j.Config.Steps {
		logf("done earlier (step %d), skipped", info.Step)
		return nil
	}
	j.Resume = err == nil && info.Step > 0
	if err := os.MkdirAll(r.Dir, 0o755); err != nil {
		return err
	}
	y, err := yaml.Marshal(j.Config)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(r.Dir, configFile), y, 0o644); err != nil {
		return err
	}
	if j.Resume {
		logf("resuming from step %d", info.Step)
	} else {
		logf("training")
	}
	cmd := exec.CommandContext(ctx, exe, j.args()...)
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
