package dashboard

import (
	"bufio"
	"bytes"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
)

// point is one metrics.jsonl line, as the dashboard needs it.
type point struct {
	step, loss, lr, grad, tps, val float64
	hasVal                         bool
}

// parse reads the fields of one metrics.jsonl line in one pass, without
// a JSON decoder (a million lines must parse in a fraction of a second):
// each "key": number pair it knows is kept, string values are skipped.
// A line without a whole-number step (cut by a crash, or not ours) is
// refused.
func (p *point) parse(line []byte) bool {
	line = bytes.TrimSpace(line)
	if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
		return false
	}
	*p = point{step: -1}
	for i := 1; i < len(line); {
		q := bytes.IndexByte(line[i:], '"')
		if q < 0 {
			break
		}
		i += q + 1
		e := bytes.IndexByte(line[i:], '"')
		if e < 0 {
			break
		}
		key := line[i : i+e]
		i += e + 1
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i >= len(line) || line[i] != ':' {
			continue
		}
		i++
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i < len(line) && line[i] == '"' { // a string value: skip it, escapes too
			for i++; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' {
					i++
				}
			}
			i++
			continue
		}
		j := i
		for j < len(line) && isNumberByte(line[j]) {
			j++
		}
		v, err := strconv.ParseFloat(string(line[i:j]), 64)
		i = j
		if err != nil {
			continue
		}
		switch string(key) {
		case "step":
			p.step = v
		case "loss":
			p.loss = v
		case "lr":
			p.lr = v
		case "grad_norm":
			p.grad = v
		case "tokens_per_s":
			p.tps = v
		case "val_bits_per_unit":
			p.val, p.hasVal = v, true
		}
	}
	return p.step >= 0 && p.step == math.Trunc(p.step)
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
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
	// The axes and the metrics, a row per line; val only where evaluated.
	step, tokens, wall, loss, lr, grad, tps []float32
	val                                     []float32
	valRows                                 []int32 // row indexes of the evaluation steps
}

func newSeries(perStep float64) *series { return &series{perStep: perStep} }

// col is the column of an axis or metric name (metricNames, axisNames).
func (s *series) col(name string) []float32 {
	switch name {
	case "step":
		return s.step
	case "tokens":
		return s.tokens
	case "wall":
		return s.wall
	case "loss":
		return s.loss
	case "lr":
		return s.lr
	case "grad_norm":
		return s.grad
	case "tokens_per_s":
		return s.tps
	case "val_bits_per_unit":
		return s.val
	}
	return nil
}

func (s *series) rows() int { return len(s.step) }

// bytes is the memory the series holds, for the cache's budget.
func (s *series) bytes() int { return 4*cap(s.step)*7 + 8*cap(s.val) }

// update reads what was appended since the last call; a shorter file
// (rewritten on resume) is read again.
func (s *series) update(root *os.Root, name string) error {
	f, from, end, err := openAppended(root, name, s.size)
	if err != nil {
		return err
	}
	if from < s.size {
		*s = *newSeries(s.perStep)
	}
	if f == nil {
		return nil
	}
	defer f.Close()
	s.grow(int((end - s.size) / 96)) // about a row per metrics line
	if end-s.size >= parallelBytes && runtime.GOMAXPROCS(0) > 1 {
		s.readParallel(f, end)
		return nil
	}
	s.read(bufio.NewReaderSize(f, 256<<10))
	return nil
}

// grow makes room for n more rows in every column.
func (s *series) grow(n int) {
	for _, c := range []*[]float32{&s.step, &s.tokens, &s.wall, &s.loss, &s.lr, &s.grad, &s.tps} {
		*c = slices.Grow(*c, n)
	}
}

func (s *series) read(br *bufio.Reader) {
	s.size += scanLines(br, s.add)
}

// scanLines parses the whole lines br holds, calling emit with each
// metrics line, and returns the bytes they took: a partial last line is
// left to wait for its newline.
func scanLines(br *bufio.Reader, emit func(*point)) int64 {
	var p point
	var n int64
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			n += int64(len(line)) // an absurd line: skip to its end
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				n += int64(len(line))
			}
			continue
		}
		if err != nil {
			return n
		}
		n += int64(len(line))
		if p.parse(line) {
			emit(&p)
		}
	}
}

// parallelBytes is the unread length from which update parses a metrics
// file on every core: a run of a million steps (85 MB) comes up in about
// half the time.
const parallelBytes = 8 << 20

// readParallel reads the file from s.size to end in as many parts as there
// are cores, each cut after a newline and parsed into a series of its own
// on its own goroutine, then appends the parts in order.
func (s *series) readParallel(f *os.File, end int64) {
	parts := min(runtime.GOMAXPROCS(0), 8)
	cuts := []int64{s.size}
	for k := 1; k < parts; k++ {
		at := s.size + int64(k)*(end-s.size)/int64(parts)
		c, ok := lineStart(f, at, end)
		if !ok || c <= cuts[len(cuts)-1] {
			continue
		}
		cuts = append(cuts, c)
	}
	cuts = append(cuts, end)
	ps := make([]*series, len(cuts)-1)
	var wg sync.WaitGroup
	for k := range ps {
		wg.Go(func() {
			p := newSeries(s.perStep)
			p.grow(int((cuts[k+1] - cuts[k]) / 80))
			p.read(bufio.NewReaderSize(io.NewSectionReader(f, cuts[k], cuts[k+1]-cuts[k]), 256<<10))
			ps[k] = p
		})
	}
	wg.Wait()
	for k, p := range ps {
		s.appendSeries(p)
		if p.size != cuts[k+1]-cuts[k] { // a part that ends in a partial line is the last read
			return
		}
	}
}

// appendSeries appends the rows of p, read from where s ends: its wall
// clock continues s's, its evaluation rows follow s's rows.
func (s *series) appendSeries(p *series) {
	base, rows := s.wallAcc, int32(s.rows())
	s.step = append(s.step, p.step...)
	s.tokens = append(s.tokens, p.tokens...)
	for _, w := range p.wall {
		s.wall = append(s.wall, float32(base+float64(w)))
	}
	s.loss = append(s.loss, p.loss...)
	s.lr = append(s.lr, p.lr...)
	s.grad = append(s.grad, p.grad...)
	s.tps = append(s.tps, p.tps...)
	for _, r := range p.valRows {
		s.valRows = append(s.valRows, rows+r)
	}
	s.val = append(s.val, p.val...)
	s.wallAcc += p.wallAcc
	s.size += p.size
}

// lineStart returns the offset just after the first newline at or after
// at (before end), reading at most 1 MiB; false when there is none.
func lineStart(f *os.File, at, end int64) (int64, bool) {
	buf := make([]byte, min(1<<20, end-at))
	n, err := f.ReadAt(buf, at)
	if err != nil && err != io.EOF {
		return 0, false
	}
	i := bytes.IndexByte(buf[:n], '\n')
	if i < 0 {
		return 0, false
	}
	return at + int64(i) + 1, true
}

func (s *series) add(p *point) {
	if p.tps > 0 && s.perStep > 0 {
		s.wallAcc += s.perStep / p.tps
	}
	s.step = append(s.step, float32(p.step))
	s.tokens = append(s.tokens, float32(p.step*s.perStep))
	s.wall = append(s.wall, float32(s.wallAcc))
	s.loss = append(s.loss, float32(p.loss))
	s.lr = append(s.lr, float32(p.lr))
	s.grad = append(s.grad, float32(p.grad))
	s.tps = append(s.tps, float32(p.tps))
	if p.hasVal {
		s.valRows = append(s.valRows, int32(s.rows()-1))
		s.val = append(s.val, float32(p.val))
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
	ax, y := s.col(axis), s.col(metric)
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

// openAppended opens name at what it gained past size, the bytes a reader
// has read of it: at size, or at 0 when the file is shorter (rewritten on
// resume: the reader starts again); end is the file's length. f is nil
// when nothing is new.
func openAppended(root *os.Root, name string, size int64) (f *os.File, from, end int64, err error) {
	f, err = root.Open(name)
	if err != nil {
		return nil, 0, 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, 0, err
	}
	from, end = size, fi.Size()
	if end < size {
		from = 0
	}
	if end == from {
		f.Close()
		return nil, from, end, nil
	}
	if _, err := f.Seek(from, io.SeekStart); err != nil {
		f.Close()
		return nil, 0, 0, err
	}
	return f, from, end, nil
}
