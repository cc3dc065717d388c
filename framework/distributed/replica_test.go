package distributed

import (
	"context"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cudamodel"
	"github.com/mambakit/mambakit/framework/nccl"
)

// fakeModel stands for a GPU model: its loss is the mean of its shard's
// target ids; Backward calls the hook as cudamodel's does (blocks last to
// first, then −1), or returns at once when nothing is scored.
type fakeModel struct {
	layers  int
	denom   int
	hook    func(int) error
	count   int
	denoms  []int
	hooked  []bool // per Backward: whether a hook was set
	zeroed  int
	forward int
}

func (m *fakeModel) Forward(b *backbone.Batch, _ *cudamodel.State) (float64, error) {
	m.forward++
	sum, n := 0.0, 0
	for _, t := range b.Targets {
		if t >= 0 {
			sum += float64(t)
			n++
		}
	}
	m.count = n
	if n == 0 {
		return 0, nil
	}
	return sum / float64(n), nil
}

func (m *fakeModel) Backward() error {
	m.denoms = append(m.denoms, m.denom)
	m.hooked = append(m.hooked, m.hook != nil)
	if m.count == 0 && m.denom == 0 {
		return nil
	}
	if m.hook == nil {
		return nil
	}
	for l := m.layers - 1; l >= -1; l-- {
		if err := m.hook(l); err != nil {
			return err
		}
	}
	return nil
}

func (m *fakeModel) ZeroGrad() error               { m.zeroed++; return nil }
func (m *fakeModel) SetLossDenominator(n int)      { m.denom = n }
func (m *fakeModel) SetGradHook(f func(int) error) { m.hook = f }

// fakeWorld sums float64 values across its ranks (a barrier per call) and
// records each rank's all-reduce launches.
type fakeWorld struct {
	n        int
	mu       sync.Mutex
	cond     *sync.Cond
	round    int
	arrived  int
	acc, out []float64
	launched [][]uint64 // per rank: the first range's Ptr of each launch
}

func newFakeWorld(n int) *fakeWorld {
	w := &fakeWorld{n: n, launched: make([][]uint64, n)}
	w.cond = sync.NewCond(&w.mu)
	return w
}

type fakeComm struct {
	w    *fakeWorld
	rank int
}

func (c *fakeComm) AllReduceAfterDefault(r []nccl.Range) error {
	c.w.mu.Lock()
	defer c.w.mu.Unlock()
	c.w.launched[c.rank] = append(c.w.launched[c.rank], r[0].Ptr)
	return nil
}

func (c *fakeComm) SumFloat64(vals []float64, alive func() error, _ time.Duration) ([]float64, error) {
	w := c.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.arrived == 0 {
		w.acc = make([]float64, len(vals))
	}
	for i, v := range vals {
		w.acc[i] += v
	}
	w.arrived++
	round := w.round
	if w.arrived == w.n {
		w.out, w.arrived = w.acc, 0
		w.round++
		w.cond.Broadcast()
	} else {
		for w.round == round {
			w.cond.Wait()
		}
	}
	return append([]float64(nil), w.out...), nil
}

func (c *fakeComm) Abort() {}

// TestDistStepperLogic runs the data-parallel step logic of several ranks
// with fake models and a fake communicator: each rank gets its rows and the
// global target count as denominator, the buckets are launched once each,
// in order, on the last micro-batch only (also when nothing is scored and
// Backward calls no hook), the loss is the global batch's, and an
// interrupt on one rank stops all after the same step.
func TestDistStepperLogic(t *testing.T) {
	const world, layers, B, L = 3, 4, 7, 5
	buckets := []bucket{{from: 2, ranges: []nccl.Range{{Ptr: 102, N: 1}}}, {from: 0, ranges: []nccl.Range{{Ptr: 100, N: 1}}},
		{from: -1, ranges: []nccl.Range{{Ptr: 99, N: 1}}}}
	batch := func(step, micro int, empty bool) *backbone.Batch {
		b := &backbone.Batch{B: B, L: L, Inputs: make([]int32, B*L), Targets: make([]int32, B*L), Reset: make([]bool, B*L)}
		for i := range b.Targets {
			b.Targets[i] = int32((i*7 + step*3 + micro) % 11)
			if empty || i%4 == 1 || i < L { // row 0 (rank 0's first) has no targets
				b.Targets[i] = -1
			}
		}
		return b
	}
	for _, accum := range []int{1, 2} {
		w := newFakeWorld(world)
		models := make([]*fakeModel, world)
		steppers := make([]*Replica, world)
		ctxs := make([]context.Context, world)
		cancels := make([]context.CancelFunc, world)
		for r := range steppers {
			models[r] = &fakeModel{layers: layers}
			ctxs[r], cancels[r] = context.WithCancel(context.Background())
			steppers[r] = &Replica{model: models[r], d: &Job{Rank: r, World: world}, ctx: ctxs[r],
				comm: &fakeComm{w, r}, accum: accum, buckets: buckets}
		}
		const steps = 4
		losses := make([][]float64, world)
		stops := make([][]bool, world)
		var wg sync.WaitGroup
		errs := make([]error, world)
		for r := range steppers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := steppers[r]
				for step := 1; step <= steps; step++ {
					if step == 3 && r == 1 {
						cancels[r]() // Ctrl-C reaches rank 1 alone, during step 3
					}
					s.ZeroGrad()
					loss := 0.0
					for a := 0; a < accum; a++ {
						l, err := s.ForwardBackward(batch(step, a, step == 2))
						if err != nil {
							errs[r] = err
							return
						}
						loss += l / float64(accum)
					}
					losses[r] = append(losses[r], loss)
					stops[r] = append(stops[r], s.StopAgreed())
				}
			}()
		}
		wg.Wait()
		for r, err := range errs {
			if err != nil {
				t.Fatalf("accum %d, rank %d: %v", accum, r, err)
			}
		}
		for step := 1; step <= steps; step++ {
			want := 0.0
			for a := 0; a < accum; a++ {
				b := batch(step, a, step == 2)
				var m fakeModel
				l, _ := m.Forward(b, nil)
				want += l / float64(accum)
			}
			for r := 0; r < world; r++ {
				if got := losses[r][step-1]; math.Abs(got-want) > 1e-12 {
					t.Fatalf("accum %d, step %d, rank %d: loss %v, want the global batch's %v", accum, step, r, got, want)
				}
				if stop := stops[r][step-1]; stop != (step >= 3) {
					t.Fatalf("accum %d, step %d, rank %d: stop %v", accum, step, r, stop)
				}
			}
		}
		for r := 0; r < world; r++ {
			want := fmt.Sprint(repeat([]uint64{102, 100, 99}, steps))
			if got := fmt.Sprint(w.launched[r]); got != want {
				t.Fatalf("accum %d, rank %d launched %s, want %s", accum, r, got, want)
			}
			m := models[r]
			if m.zeroed != steps || m.forward != steps*accum {
				t.Fatalf("accum %d, rank %d: %d zeroings, %d forwards", accum, r, m.zeroed, m.forward)
			}
			for i, h := range m.hooked {
				if h != ((i+1)%accum == 0) {
					t.Fatalf("accum %d, rank %d: micro-batch %d hooked %v", accum, r, i, h)
				}
				step, micro := i/accum+1, i%accum
				if want := batch(step, micro, step == 2).Scored(); m.denoms[i] != want {
					t.Fatalf("accum %d, rank %d: micro-batch %d denominator %d, want the global count %d", accum, r, i, m.denoms[i], want)
				}
			}
		}
	}
}

func repeat(x []uint64, n int) []uint64 {
	var out []uint64
	for range n {
		out = append(out, x...)
	}
	return out
}
