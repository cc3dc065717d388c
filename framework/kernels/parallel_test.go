package kernels

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// coverArgs records which part saw each item.
type coverArgs struct{ owner []int }

func (a *coverArgs) part(w, lo, hi int) {
	for i := lo; i < hi; i++ {
		a.owner[i] = w
	}
}

var coverTeam team[coverArgs, *coverArgs]

// TestTeamSplits checks that every item is run exactly once, by the part
// span gives it, for part counts above and below the worker count so far.
func TestTeamSplits(t *testing.T) {
	for _, p := range []int{1, 2, 5, 3, 8, 1} {
		for _, n := range []int{0, 1, 7, 100} {
			coverOnce(t, n, p)
		}
	}
}

// panicArgs panics in part 0 and counts the other parts.
type panicArgs struct {
	mu   *sync.Mutex
	seen *int
}

func (a *panicArgs) part(w, _, _ int) {
	if w == 0 {
		panic("part 0")
	}
	a.mu.Lock()
	*a.seen++
	a.mu.Unlock()
}

var panicTeam team[panicArgs, *panicArgs]

// TestTeamPanicLeavesTeamUsable checks that a panic in the caller's part
// waits for the workers and releases the team, so the next call runs.
func TestTeamPanicLeavesTeamUsable(t *testing.T) {
	var mu sync.Mutex
	seen := 0
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("no panic")
			}
		}()
		panicTeam.run(4, 4, panicArgs{&mu, &seen})
	}()
	if seen != 3 {
		t.Errorf("workers ran %d parts before the panic returned, want 3", seen)
	}
	if !panicTeam.mu.TryLock() {
		t.Fatal("team still locked after a panic")
	}
	panicTeam.mu.Unlock()
	if !workerPool.mu.TryLock() {
		t.Fatal("workers still held after a panic")
	}
	workerPool.mu.Unlock()
	owner := make([]int, 10)
	coverTeam.run(10, 3, coverArgs{owner})
}

// TestTeamConcurrent runs calls from several goroutines at once: one holds
// the team, the others run on goroutines of their own, and all cover their
// items.
func TestTeamConcurrent(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 50 + g
			owner := make([]int, n)
			for range 20 {
				for i := range owner {
					owner[i] = -1
				}
				coverTeam.run(n, 3, coverArgs{owner})
				if slices.Contains(owner, -1) {
					errs <- "an item was not run"
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}

// TestKernelAllocations checks that the kernels of the training step
// allocate nothing once warm, on one thread and two (the matrix product is
// tested on its own, TestMatMulAllocs).
func TestKernelAllocations(t *testing.T) {
	old := Threads()
	defer SetThreads(old)
	r := rand.New(rand.NewPCG(3, 4))
	const M, C, V = 512, 96, 77
	x, y, dy, dx := randSlice(r, M*C, -2, 2), make([]float32, M*C), randSlice(r, M*C, -1, 1), make([]float32, M*C)
	w, dw, rstd := randSlice(r, C, 0.5, 1.5), make([]float32, C), make([]float32, M)
	logits, dlogits := randSlice(r, M*V, -3, 3), make([]float32, M*V)
	targets, ids := make([]int32, M), make([]int32, M)
	for i := range targets {
		targets[i], ids[i] = int32(r.IntN(V)), int32(r.IntN(V))
	}
	table, dtable := randSlice(r, V*C, -1, 1), make([]float32, V*C)
	const B, L, D, K = 2, 64, 48, 4
	cv := Conv1d{B: B, L: L, D: D, K: K, X: randSlice(r, B*L*D, -1, 1), W: randSlice(r, D*K, -1, 1),
		Bias: randSlice(r, D, -1, 1), Y: make([]float32, B*L*D)}
	cg := Conv1dGrads{DY: randSlice(r, B*L*D, -1, 1), DX: make([]float32, B*L*D), DW: make([]float32, D*K), DBias: make([]float32, D)}
	scans := map[string]*Scan{}
	scanGrads := map[string]*ScanGrads{}
	for name, c := range map[string]scanCase{
		"scan":                 {B: 2, L: 100, D: 48, N: 16, gate: true, reset: true, h0: true, skip: true, bias: true},
		"scan, D mod 16 in Go": {B: 1, L: 70, D: 40, N: 16, gate: true, skip: true, bias: true},
		"scan, per-channel":    {B: 2, L: 80, D: 32, N: 16, gate: true, skip: true, bias: true, bPer: true, cPer: true},
	} {
		sc := c.build(5)
		sc.Y, sc.HT = make([]float32, c.B*c.L*c.D), make([]float32, c.B*c.D*c.N)
		sc.Saved = make([]float32, SavedLen(c.B, c.L, c.D, c.N))
		scans[name] = sc
		scanGrads[name] = newGrads(sc, randSlice(r, c.B*c.L*c.D, -1, 1), nil, nil).g
	}
	calls := map[string]func(){
		"silu":               func() { SiLUForward(y, x) },
		"silu backward":      func() { SiLUBackward(dx, dy, x) },
		"rmsnorm":            func() { RMSNormForward(y, rstd, x, w, M, C, 1e-5) },
		"rmsnorm backward":   func() { RMSNormBackward(dx, dw, dy, x, w, rstd, M, C) },
		"cross-entropy":      func() { CrossEntropy(dlogits, logits, targets, V, 1.0/M) },
		"embedding":          func() { EmbeddingForward(y, table, ids, V, C) },
		"embedding backward": func() { EmbeddingBackward(dtable, dy, ids, V, C) },
		"conv1d":             func() { cv.Forward() },
		"conv1d backward":    func() { cv.Backward(&cg) },
	}
	for name, sc := range scans {
		g := scanGrads[name]
		calls[name] = func() { sc.Forward() }
		calls[name+" backward"] = func() { sc.Backward(g) }
	}
	for _, th := range []int{1, 2} {
		SetThreads(th)
		for name, call := range calls {
			if n := testing.AllocsPerRun(20, call); n != 0 {
				t.Errorf("%s, %d threads: %v allocations per call", name, th, n)
			}
		}
	}
}
