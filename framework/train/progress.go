package train

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress shows training progress: a bar redrawn in place on a terminal,
// a plain line every logEvery steps otherwise (logs, CI).
type progress struct {
	w        io.Writer
	terminal bool
	logEvery int
	total    int
	start    time.Time
	first    int // step the clock started at
	unit     string
}

func (p *progress) step(step int, loss, bpu float64, valBPU, valAcc *float64, tokPerS float64) {
	eta := "?"
	if done := step - p.first; done > 0 {
		left := time.Duration(float64(time.Since(p.start)) / float64(done) * float64(p.total-step))
		eta = left.Round(time.Second).String()
	}
	val := ""
	if valBPU != nil {
		val = fmt.Sprintf(" | val %.4f bits/%s", *valBPU, p.unit)
	}
	if valAcc != nil {
		val += fmt.Sprintf(", accuracy %.1f%%", 100**valAcc)
	}
	if p.terminal {
		const width = 24
		n := width * step / max(p.total, 1)
		bar := strings.Repeat("=", n) + strings.Repeat(" ", width-n)
		fmt.Fprintf(p.w, "\r\x1b[Kstep %d/%d [%s] loss %.4f (%.3f bits/%s)%s | %.0f tok/s | ETA %s",
			step, p.total, bar, loss, bpu, p.unit, val, tokPerS, eta)
		if step == p.total {
			fmt.Fprintln(p.w)
		}
		return
	}
	if step%p.logEvery == 0 || step == p.total || valBPU != nil {
		fmt.Fprintf(p.w, "step %d/%d loss %.4f (%.3f bits/%s)%s | %.0f tok/s | ETA %s\n",
			step, p.total, loss, bpu, p.unit, val, tokPerS, eta)
	}
}

// line prints a message on its own line (clearing a bar in progress).
func (p *progress) line(format string, args ...any) {
	if p.terminal {
		fmt.Fprint(p.w, "\r\x1b[K")
	}
	fmt.Fprintf(p.w, format+"\n", args...)
}
