package dashboard

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Kind says what a discovered directory is.
const (
	KindTrain   = "train"   // a train run: metrics.jsonl or config.yaml
	KindCompare = "compare" // a compare output: report.md
)

// Status of a train run.
const (
	StatusRunning = "running" // another process holds the run's lock
	StatusDone    = "done"    // its last step is the configured one
	StatusStopped = "stopped" // interrupted (events.log says so)
	StatusFailed  = "failed"  // none of these: it ended before its steps
)

// Run is one row of the runs table.
type Run struct {
	ID         string            `json:"id"`   // ROOT_INDEX/relative/path (slash-separated)
	Kind       string            `json:"kind"` // KindTrain or KindCompare
	Root       int               `json:"root"`
	Rel        string            `json:"rel"`
	Modality   string            `json:"modality,omitempty"`
	Unit       string            `json:"unit,omitempty"`
	Variant    string            `json:"variant,omitempty"` // S6, LTI, complex, ...
	Status     string            `json:"status,omitempty"`
	Steps      int               `json:"steps"`              // last step in metrics.jsonl
	Target     int               `json:"target"`             // configured steps
	BestVal    *float64          `json:"best_val,omitempty"` // lowest validation bits per unit
	Baseline   *float64          `json:"baseline,omitempty"` // Markov baseline, bits per unit
	TokensPerS float64           `json:"tokens_per_s"`       // median of the last steps
	WallS      float64           `json:"wall_s"`             // estimated from tokens/s (or compare's record)
	Settings   map[string]string `json:"settings,omitempty"` // config.yaml's scalar settings
}

// runConfig is what the table needs from config.yaml.
type runConfig struct {
	Steps        int      `yaml:"steps"`
	SeqLen       int      `yaml:"seq_len"`
	Batch        int      `yaml:"batch"`
	Accum        int      `yaml:"accum"`
	NonSelective []string `yaml:"nonselective"`
	Complex      bool     `yaml:"complex"`
	Modality     struct {
		Name string `yaml:"name"`
		Unit string `yaml:"unit"`
	} `yaml:"modality"`
	Baseline struct {
		BitsPerUnit float64 `yaml:"bits_per_unit"`
	} `yaml:"baseline"`
}

// tokensPerStep is what one optimizer step consumes.
func (c *runConfig) tokensPerStep() float64 {
	a := max(c.Accum, 1)
	return float64(c.Batch * a * c.SeqLen)
}

func (c *runConfig) variant() string {
	v := "S6"
	if len(c.NonSelective) == 3 {
		v = "LTI"
	} else if len(c.NonSelective) > 0 {
		v = "S6 (fixed " + strings.Join(c.NonSelective, ",") + ")"
	}
	if c.Complex {
		v += " complex"
	}
	return v
}

// maxConfig bounds what is read of config.yaml and report.md.
const maxConfig = 1 << 20

func readSmall(root *os.Root, name string) ([]byte, error) {
	f, err := root.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxConfig))
}

// settings flattens config.yaml's top-level scalars (and a few nested
// ones) into key → text, for the "settings that differ" columns.
func settings(doc *yaml.Node) map[string]string {
	var m map[string]any
	if doc.Decode(&m) != nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		switch v := v.(type) {
		case map[string]any, nil:
			continue
		case []any:
			s := make([]string, len(v))
			for i, x := range v {
				s[i] = toString(x)
			}
			out[k] = strings.Join(s, ",")
		default:
			out[k] = toString(v)
		}
	}
	for _, k := range []string{"mambakit", "threads", "log_every"} {
		delete(out, k) // differ between machines, not between experiments
	}
	return out
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// skipDirs are never searched for runs: a run's own parts.
var skipDirs = map[string]bool{"data": true, "checkpoints": true, "samples": true, "bundled": true, "node_modules": true}

// maxRuns bounds discovery so memory stays bounded under huge folders.
const maxRuns = 20000

// discover walks root (recursively, not following symlinks) and returns
// the relative paths of run directories and compare outputs.
func discover(root string) ([]string, []string, error) {
	var trains, compares []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root {
				return err
			}
			return nil // unreadable below the root: skip it
		}
		if !d.IsDir() {
			return nil
		}
		if p != root && (skipDirs[d.Name()] || strings.HasPrefix(d.Name(), ".")) {
			return filepath.SkipDir
		}
		if len(trains)+len(compares) >= maxRuns {
			return filepath.SkipAll
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if exists(filepath.Join(p, "report.md")) {
			compares = append(compares, rel)
		}
		if exists(filepath.Join(p, "metrics.jsonl")) || exists(filepath.Join(p, "config.yaml")) {
			trains = append(trains, rel)
		}
		return nil
	})
	return trains, compares, err
}

func exists(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.Mode().IsRegular()
}

// summarize fills r (a train run) from the files in dir (root-confined).
func summarize(root *os.Root, rel string, r *Run, tail *metricsTail) {
	sub := func(name string) string { return filepath.Join(filepath.FromSlash(rel), name) }
	cfg, set := tail.config(root, sub("config.yaml"))
	r.Settings = set
	r.Modality, r.Unit, r.Variant, r.Target = cfg.Modality.Name, cfg.Modality.Unit, cfg.variant(), cfg.Steps
	if cfg.Baseline.BitsPerUnit > 0 {
		b := cfg.Baseline.BitsPerUnit
		r.Baseline = &b
	}
	if err := tail.update(root, sub("metrics.jsonl"), cfg.tokensPerStep()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.Status = StatusFailed
	}
	r.Steps, r.BestVal, r.TokensPerS, r.WallS = tail.last, tail.bestVal(), tail.rate(), tail.wall
	if b, err := readSmall(root, sub("compare-wall-seconds")); err == nil {
		if w, err := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); err == nil {
			r.WallS = w
		}
	}
	switch {
	case locked(root, sub(".lock")):
		r.Status = StatusRunning
	case r.Target > 0 && r.Steps >= r.Target:
		r.Status = StatusDone
	case interrupted(root, sub("events.log")):
		r.Status = StatusStopped
	default:
		r.Status = StatusFailed
	}
}

// interrupted says whether events.log records an interruption after the
// last resume (the run was stopped, not crashed).
func interrupted(root *os.Root, name string) bool {
	b, err := readSmall(root, name)
	if err != nil {
		return false
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	return len(lines) > 0 && bytes.Contains(lines[len(lines)-1], []byte("interrupted"))
}

// metricsTail keeps a run's summary figures and the offset read so far,
// so a growing metrics.jsonl is read once, not at every request; and its
// config.yaml as last parsed (parsing a thousand is most of a runs
// table's time).
type metricsTail struct {
	cfgSize  int64
	cfgTime  time.Time
	cfg      runConfig
	settings map[string]string

	size    int64
	last    int
	best    float64
	hasBest bool
	rates   []float64 // tokens/s of the last steps (ring of 32)
	wall    float64   // estimated seconds: Σ tokens per step / tokens/s
}

// config is the run's config.yaml and its settings, parsed again only
// when its size or modification time changed.
func (t *metricsTail) config(root *os.Root, name string) (runConfig, map[string]string) {
	fi, err := root.Stat(name)
	if err != nil {
		t.cfgSize, t.cfgTime, t.cfg, t.settings = 0, time.Time{}, runConfig{}, nil
		return t.cfg, t.settings
	}
	if fi.Size() != t.cfgSize || !fi.ModTime().Equal(t.cfgTime) {
		t.cfg, t.settings = runConfig{}, nil
		var doc yaml.Node // parsed once, decoded twice
		if b, err := readSmall(root, name); err == nil && yaml.Unmarshal(b, &doc) == nil && len(doc.Content) > 0 {
			_ = doc.Decode(&t.cfg)
			t.settings = settings(&doc)
		}
		t.cfgSize, t.cfgTime = fi.Size(), fi.ModTime()
	}
	return t.cfg, t.settings
}

func (t *metricsTail) bestVal() *float64 {
	if !t.hasBest {
		return nil
	}
	b := t.best
	return &b
}

func (t *metricsTail) rate() float64 {
	if len(t.rates) == 0 {
		return 0
	}
	s := slices.Clone(t.rates)
	slices.Sort(s)
	return s[len(s)/2]
}

// update reads the lines appended since the last call; a shorter file
// (rewritten on resume) is read again from the start.
func (t *metricsTail) update(root *os.Root, name string, perStep float64) error {
	f, from, _, err := openAppended(root, name, t.size)
	if err != nil {
		return err
	}
	if from < t.size {
		*t = metricsTail{}
	}
	if f == nil {
		return nil
	}
	defer f.Close()
	t.size += scanLines(bufio.NewReaderSize(f, 64<<10), func(p *point) {
		t.last = int(p.step)
		if p.hasVal && (!t.hasBest || p.val < t.best) {
			t.best, t.hasBest = p.val, true
		}
		if p.tps > 0 {
			if len(t.rates) < 32 {
				t.rates = append(t.rates, p.tps)
			} else {
				t.rates[t.last%32] = p.tps
			}
			if perStep > 0 {
				t.wall += perStep / p.tps
			}
		}
	})
	return nil
}
