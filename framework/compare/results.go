package compare

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/mambakit/mambakit/framework/train"
)

// Result is what one run measured.
type Result struct {
	Run
	Unit         string
	BitsPerUnit  float64 // validation, last evaluation
	Baseline     float64 // best Markov baseline of the data (0: unknown)
	BaselineK    int
	TokensPerSec float64  // mean over steps
	Accuracy     *float64 // on answer positions, for tasks (last evaluation)
	WallSeconds  float64  // 0: unknown (a run that compare did not train)
	Step, Steps  int      // the last step in metrics.jsonl, and the run's target
	Curve        []Point  // validation bits per unit by step
}

// Point is one evaluation.
type Point struct {
	Step int
	BPU  float64
}

// Collect reads the results of finished runs.
func Collect(rs []Run) ([]Result, error) {
	out := make([]Result, 0, len(rs))
	for _, r := range rs {
		res, err := readResult(r)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

// runRecord is a run directory's config.yaml: the resolved training
// configuration and what train recorded beside it.
type runRecord struct {
	train.Config `yaml:",inline"`
	Modality     train.Plugin      `yaml:"modality"`
	Options      map[string]string `yaml:"prepare_options"`
	Vocab        int               `yaml:"vocab_size"`
	Baseline     struct {
		Order int     `yaml:"markov_order"`
		BPU   float64 `yaml:"bits_per_unit"`
	} `yaml:"baseline"`
}

// parseRunConfig decodes a run's config.yaml. Keys it does not know are
// skipped: a newer train may record more.
func parseRunConfig(b []byte) (runRecord, error) {
	var rec runRecord
	if err := yaml.Unmarshal(b, &rec); err != nil {
		return rec, yamlError(err)
	}
	return rec, nil
}

// readRunConfig reads dir/config.yaml.
func readRunConfig(dir string) (runRecord, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.yaml"))
	if err != nil {
		return runRecord{}, err
	}
	rec, err := parseRunConfig(b)
	if err != nil {
		return rec, fmt.Errorf("%s: %w", filepath.Join(dir, "config.yaml"), err)
	}
	return rec, nil
}

// readResult reads a run's metrics.jsonl, config.yaml and wall time.
func readResult(r Run) (Result, error) {
	res := Result{Run: r}
	b, err := os.ReadFile(filepath.Join(r.Dir, "metrics.jsonl"))
	if errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("%s: no evaluation yet (no metrics.jsonl)", r.Dir)
	} else if err != nil {
		return res, fmt.Errorf("%s: %w", r.Dir, err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var tps float64
	var n int
	for sc.Scan() {
		var m train.Metric
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		tps += m.TokensPerS
		n++
		res.Step = m.Step
		if m.ValBPU != nil {
			res.Curve = append(res.Curve, Point{m.Step, *m.ValBPU})
			res.BitsPerUnit = *m.ValBPU
			res.Accuracy = m.ValAcc
		}
	}
	if n > 0 {
		res.TokensPerSec = tps / float64(n)
	}
	if len(res.Curve) == 0 {
		return res, fmt.Errorf("%s: no evaluation in metrics.jsonl yet", r.Dir)
	}
	if rec, err := readRunConfig(r.Dir); err == nil {
		res.Unit, res.Baseline, res.BaselineK, res.Steps = rec.Modality.Unit, rec.Baseline.BPU, rec.Baseline.Order, rec.Steps
	}
	if b, err := os.ReadFile(filepath.Join(r.Dir, wallFile)); err == nil {
		res.WallSeconds, _ = strconv.ParseFloat(strings.TrimSpace(string(b)), 64)
	}
	return res, nil
}
