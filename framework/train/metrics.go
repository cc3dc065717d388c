package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/mambakit/mambakit/internal/atomicfile"
)

// Metric is one line of metrics.jsonl: every step has the training
// figures; evaluation steps add the validation ones.
type Metric struct {
	Step       int      `json:"step"`
	Loss       float64  `json:"loss"`      // mean training cross-entropy, nats per token
	LR         float64  `json:"lr"`        // learning rate used by this step
	GradNorm   float64  `json:"grad_norm"` // before clipping
	TokensPerS float64  `json:"tokens_per_s"`
	ValLoss    *float64 `json:"val_loss,omitempty"`          // nats per token
	ValBPU     *float64 `json:"val_bits_per_unit,omitempty"` // bits per byte/base/sample
	ValAcc     *float64 `json:"val_accuracy,omitempty"`      // on answer positions, for tasks
	Sample     string   `json:"sample,omitempty"`            // file written at this evaluation
}

// readMetrics reads metrics.jsonl, keeping the lines of steps ≤ upTo; it
// rewrites the file without the others (a resumed run repeats them).
func readMetrics(path string, upTo int) ([]Metric, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	var out []Metric
	var kept bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m Metric
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue // a line cut by a crash
		}
		if m.Step <= upTo {
			out = append(out, m)
			kept.Write(sc.Bytes())
			kept.WriteByte('\n')
		}
	}
	if err := atomicfile.WriteFile(path, kept.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return out, nil
}

// metricsLog appends lines to metrics.jsonl.
type metricsLog struct {
	f *os.File
}

func openMetrics(path string) (*metricsLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open metrics: %w", err)
	}
	return &metricsLog{f: f}, nil
}

func (l *metricsLog) write(m Metric) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if _, err := l.f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write metrics: %w", err)
	}
	return nil
}

func (l *metricsLog) close() error { return l.f.Close() }
