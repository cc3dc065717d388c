package dashboard

import (
	"bufio"
	"bytes"
	"io"
	"math"
	"os"
	"strconv"
)

// point is one metrics.jsonl line, as the dashboard needs it.
type point struct {
	step, loss, lr, grad, tps, val float64
	hasVal                         bool
}

// field finds "key": in line and parses the number after it.
func field(line []byte, key string) (float64, bool) {
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return 0, false
	}
	rest := line[i+len(key):]
	j := 0
	for j < len(rest) && (rest[j] == '-' || rest[j] == '+' || rest[j] == '.' || rest[j] == 'e' || rest[j] == 'E' || (rest[j] >= '0' && rest[j] <= '9')) {
		j++
	}
	v, err := strconv.ParseFloat(string(rest[:j]), 64)
	return v, err == nil
}

// parse reads the fields of one metrics.jsonl line without a JSON
// decoder (a million lines must parse in a fraction of a second); a line
// without a step (cut by a crash, or not ours) is refused.
func (p *point) parse(line []byte) bool {
	line = bytes.TrimSpace(line)
	if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
		return false
	}
	var ok bool
	if p.step, ok = field(line, `"step":`); !ok || p.step < 0 || p.step != math.Trunc(p.step) {
		return false
	}
	p.loss, _ = field(line, `"loss":`)
	p.lr, _ = field(line, `"lr":`)
	p.grad, _ = field(line, `"grad_norm":`)
	p.tps, _ = field(line, `"tokens_per_s":`)
	p.val, p.hasVal = field(line, `"val_bits_per_unit":`)
	return true
}

// Metrics and X axes a curve can be drawn with.
var (
	metricNames = []string{"loss", "val_bits_per_unit", "lr", "grad_norm", "tokens_per_s"}
	axisNames   = []string{"step", "tokens", "wall"}
)

// series is a run's metrics as columns (float32 to halve the memory of
// long runs), read incrementally as the file grows.
type series struct {
	size    int64
	perStep float64 // tokens per step, for the tokens and wall axes
	wallAcc float64
	cols    map[string][]float32 // axis and metric names → values; val rows only where evaluated
	valRows []int32              // row indexes of the evaluation steps
}

func newSeries(perStep float64) *series {
	s := &series{perStep: perStep, cols: map[string][]float32{}}
	return s
}

func (s *series) rows() int { return len(s.cols["step"]) }

// bytes is the memory the series holds, for the cache's budget.
func (s *series) bytes() int { return 4*s.rows()*8 + 8*len(s.valRows) }

// update reads what was appended since the last call; a shorter file
// (rewritten on resume) is read again.
func (s *series) update(root *os.Root, name string) error {
	f, err := root.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if fi.Size() < s.size {
		*s = *newSeries(s.perStep)
	}
	if fi.Size() == s.size {
		return nil
	}
	if _, err := f.Seek(s.size, io.SeekStart); err != nil {
		return err
	}
	s.read(bufio.NewReaderSize(f, 256<<10))
	return nil
}

func (s *series) read(br *bufio.Reader) {
	var p point
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			s.size += int64(len(line)) // an absurd line: skip to its end
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				s.size += int64(len(line))
			}
			continue
		}
		if err != nil {
			return // a partial last line waits for its newline
		}
		s.size += int64(len(line))
		if !p.parse(line) {
			continue
		}
		s.add(&p)
	}
}

func (s *series) add(p *point) {
	if p.tps > 0 && s.perStep > 0 {
		s.wallAcc += s.perStep / p.tps
	}
	c := s.cols
	c["step"] = append(c["step"], float32(p.step))
	c["tokens"] = append(c["tokens"], float32(p.step*s.perStep))
	c["wall"] = append(c["wall"], float32(s.wallAcc))
	c["loss"] = append(c["loss"], float32(p.loss))
	c["lr"] = append(c["lr"], float32(p.lr))
	c["grad_norm"] = append(c["grad_norm"], float32(p.grad))
	c["tokens_per_s"] = append(c["tokens_per_s"], float32(p.tps))
	if p.hasVal {
		s.valRows = append(s.valRows, int32(s.rows()-1))
		c["val_bits_per_unit"] = append(c["val_bits_per_unit"], float32(p.val))
	}
}

// Curve is one run's metric against an axis, at most about Points long.
type Curve struct {
	ID     string    `json:"id"`
	X      []float64 `json:"x"`
	Y      []float64 `json:"y"`
	Rows   int       `json:"rows"` // points before downsampling
	Metric string    `json:"metric"`
	Axis   string    `json:"axis"`
}

// curve extracts metric against axis, downsampled to about n points.
func (s *series) curve(metric, axis string, n int) (xs, ys []float64, rows int) {
	ax, y := s.cols[axis], s.cols[metric]
	if metric == "val_bits_per_unit" {
		x := make([]float32, len(s.valRows))
		for i, r := range s.valRows {
			x[i] = ax[r]
		}
		ax = x
	}
	xs, ys = Downsample(ax, y, n)
	return xs, ys, len(y)
}

// Downsample reduces (x, y) to at most about n points: the points are cut
// into n/2 buckets of consecutive rows and each keeps its minimum and its
// maximum, in order, so spikes survive (a mean would hide them). Shorter
// inputs come back whole.
func Downsample(x, y []float32, n int) ([]float64, []float64) {
	m := min(len(x), len(y))
	if n < 2 {
		n = 2
	}
	if m <= n {
		xs, ys := make([]float64, 0, m), make([]float64, 0, m)
		for i := range m {
			xs, ys = keep(xs, ys, x[i], y[i])
		}
		return xs, ys
	}
	buckets := n / 2
	xs, ys := make([]float64, 0, 2*buckets), make([]float64, 0, 2*buckets)
	for b := range buckets {
		lo, hi := b*m/buckets, (b+1)*m/buckets
		iMin, iMax := lo, lo
		for i := lo + 1; i < hi; i++ {
			if y[i] < y[iMin] || y[iMin] != y[iMin] {
				iMin = i
			}
			if y[i] > y[iMax] || y[iMax] != y[iMax] {
				iMax = i
			}
		}
		a, c := min(iMin, iMax), max(iMin, iMax)
		xs, ys = keep(xs, ys, x[a], y[a])
		if c != a {
			xs, ys = keep(xs, ys, x[c], y[c])
		}
	}
	return xs, ys
}

// keep appends a finite point (JSON has no NaN; a diverged step is left out).
func keep(xs, ys []float64, x, y float32) ([]float64, []float64) {
	if math.IsNaN(float64(y)) || math.IsInf(float64(y), 0) || math.IsNaN(float64(x)) {
		return xs, ys
	}
	return append(xs, float64(x)), append(ys, float64(y))
}
