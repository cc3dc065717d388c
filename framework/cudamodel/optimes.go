package cudamodel

import (
	"fmt"
	"sort"

	"github.com/mambakit/mambakit/framework/cuda"
)

// Op timing: where a step's device time goes, by kind of operation. With
// TimeOps(true), Forward and Backward record a CUDA event on the default
// stream after each launch (each product, each kernel), and so does a
// Stepper's one-token step on its stream when it runs without a CUDA
// graph (pass "step"); the time of an
// operation is the time between its event and the one before it, so it
// includes any gap in which the device waited for the host to launch it.
// The events cost the host about a microsecond each: leave it off except
// to profile (`mambakit bench train --device cuda --ops`).

// OpTime is the device time of one kind of operation since the last
// OpTimes: Ms in all, over Count launches (summed over the layers).
type OpTime struct {
	Pass  string // "forward" or "backward"
	Name  string
	Ms    float64
	Count int
}

// opTimer keeps the events of the passes since the last collect.
type opTimer struct {
	dev    *cuda.Device
	events []*cuda.Event // a pool, reused
	marks  []opMark      // in launch order; a pass starts with Name ""
	pass   string        // the pass running ("": none, marks are ignored)
	stream *cuda.Stream  // the pass's stream (nil: the default stream)
}

type opMark struct {
	pass, name string
	ev         int
}

// TimeOps turns op timing on or off (off releases the events).
func (g *Model) TimeOps(on bool) error {
	if !on {
		err := g.ops.close()
		g.ops = nil
		return err
	}
	if g.ops == nil {
		g.ops = &opTimer{dev: g.dev.Device}
	}
	return nil
}

// OpTimes waits for the device and returns the time of each kind of
// operation of the passes since the last call, in the order they first
// ran, then clears them. Without TimeOps(true) it returns nothing.
func (g *Model) OpTimes() ([]OpTime, error) {
	t := g.ops
	if t == nil {
		return nil, nil
	}
	defer func() { t.marks = t.marks[:0] }()
	if len(t.marks) == 0 {
		return nil, nil
	}
	if err := t.events[t.marks[len(t.marks)-1].ev].Synchronize(); err != nil {
		return nil, err
	}
	var out []OpTime
	for i, m := range t.marks {
		if m.name == "" {
			continue
		}
		ms, err := cuda.ElapsedMs(t.events[t.marks[i-1].ev], t.events[m.ev])
		if err != nil {
			return nil, err
		}
		out = AddOpTimes(out, OpTime{Pass: m.pass, Name: m.name, Ms: float64(ms), Count: 1})
	}
	return out, nil
}

// AddOpTimes adds each of ts to the one of sum with its pass and name (a
// new one at the end, so sum keeps the order they first came in) and
// returns sum.
func AddOpTimes(sum []OpTime, ts ...OpTime) []OpTime {
next:
	for _, x := range ts {
		for i := range sum {
			if sum[i].Pass == x.Pass && sum[i].Name == x.Name {
				sum[i].Ms += x.Ms
				sum[i].Count += x.Count
				continue next
			}
		}
		sum = append(sum, x)
	}
	return sum
}

// SortOpTimes orders ts by time, the largest first (stable).
func SortOpTimes(ts []OpTime) {
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Ms > ts[j].Ms })
}

// startPass returns the errs of the launches of a pass named pass on
// stream st (nil: the default stream) and the function that ends it: with
// op timing on, the errs mark each operation and the pass has begun.
func (g *Model) startPass(pass string, st *cuda.Stream) (*errs, func()) {
	if g.ops == nil {
		return &errs{}, func() {}
	}
	e := &errs{t: g.ops}
	e.do(g.ops.begin(pass, st))
	return e, g.ops.end
}

// begin starts a pass whose launches go to stream st (nil: the default
// stream): its first event.
func (t *opTimer) begin(pass string, st *cuda.Stream) error {
	if t == nil {
		return nil
	}
	t.pass, t.stream = pass, st
	return t.record("")
}

// end ends the pass begun last.
func (t *opTimer) end() {
	if t != nil {
		t.pass = ""
	}
}

// mark records the end of the operation name (launched just before on
// the pass's stream) when a pass is running.
func (t *opTimer) mark(name string) error {
	if t == nil || t.pass == "" {
		return nil
	}
	return t.record(name)
}

func (t *opTimer) record(name string) error {
	n := len(t.marks)
	if n == len(t.events) {
		ev, err := t.dev.NewEvent()
		if err != nil {
			return fmt.Errorf("cudamodel: op timing: %w", err)
		}
		t.events = append(t.events, ev)
	}
	if err := t.events[n].Record(t.stream); err != nil {
		return fmt.Errorf("cudamodel: op timing: %w", err)
	}
	t.marks = append(t.marks, opMark{pass: t.pass, name: name, ev: n})
	return nil
}

func (t *opTimer) close() error {
	if t == nil {
		return nil
	}
	var first error
	for _, ev := range t.events {
		if err := ev.Destroy(); err != nil && first == nil {
			first = err
		}
	}
	t.events, t.marks = nil, nil
	return first
}

// op keeps err as do does, then (timing on, no error so far) marks the end
// of the operation name (after e.prefix).
func (e *errs) op(name string, err error) {
	e.do(err)
	if e.t != nil && e.err == nil {
		e.do(e.t.mark(e.prefix + name))
	}
}
