package kernels

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// withSpin runs f with the workers' spin set to d.
func withSpin(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	old := WorkerSpin()
	SetWorkerSpin(d)
	defer SetWorkerSpin(old)
	f()
}

// coverOnce runs one call of coverTeam over n items in p parts and fails
// unless each item ran once, in the part span gives it.
func coverOnce(t *testing.T, n, p int) {
	t.Helper()
	owner := make([]int, n)
	for i := range owner {
		owner[i] = -1
	}
	coverTeam.run(n, p, coverArgs{owner})
	for w := range p {
		lo, hi := span(n, p, w)
		for i := lo; i < hi; i++ {
			if owner[i] != w {
				t.Fatalf("n %d, p %d: item %d run by part %d, want %d", n, p, i, owner[i], w)
			}
		}
	}
}

// TestWorkersWakeAfterBlocking: calls separated by pauses longer than the
// spin (the workers and the caller block) and shorter (they spin), with
// spinning off, short and long: every call runs every part, and none
// waits forever (a lost wake-up would hang it: the watchdog fails it).
func TestWorkersWakeAfterBlocking(t *testing.T) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			panic("workers: a call did not return in 20 s (lost wake-up?)")
		}
	}()
	r := rand.New(rand.NewPCG(5, 6))
	for _, spin := range []time.Duration{0, 20 * time.Microsecond, time.Millisecond} {
		withSpin(t, spin, func() {
			for i := range 3000 {
				coverOnce(t, 1+r.IntN(40), 1+r.IntN(4))
				// Pauses around the spin, where a worker decides to block
				// as the next job is posted.
				if i%3 == 0 {
					time.Sleep(time.Duration(r.IntN(60)) * time.Microsecond)
				}
			}
			time.Sleep(3 * spin) // past the spin: blocked
			coverOnce(t, 17, 3)
		})
	}
}

// nestArgs runs, in each of its parts, a call of coverTeam: the workers
// are busy with the outer call, so the inner ones run their parts on the
// calling goroutine.
type nestArgs struct{ owners [][]int }

func (a *nestArgs) part(_, lo, hi int) {
	for i := lo; i < hi; i++ {
		coverTeam.run(len(a.owners[i]), 3, coverArgs{a.owners[i]})
	}
}

var nestTeam team[nestArgs, *nestArgs]

// TestTeamNested: a kernel call inside another's part runs all its parts,
// each on its own range, without waiting for the busy workers.
func TestTeamNested(t *testing.T) {
	owners := make([][]int, 6)
	for i := range owners {
		owners[i] = slices.Repeat([]int{-1}, 20+i)
	}
	nestTeam.run(len(owners), 2, nestArgs{owners})
	for i, o := range owners {
		for w := range 3 {
			lo, hi := span(len(o), 3, w)
			for j := lo; j < hi; j++ {
				if o[j] != w {
					t.Fatalf("inner call %d: item %d run by part %d, want %d", i, j, o[j], w)
				}
			}
		}
	}
}

// TestParseSpin: $MAMBAKIT_SPIN's forms, and the default on an error.
func TestParseSpin(t *testing.T) {
	for s, want := range map[string]time.Duration{"": defaultWorkerSpin, "0": 0, "200us": 200 * time.Microsecond, "2ms": 2 * time.Millisecond} {
		if d, err := parseSpin(s); err != nil || d != want {
			t.Errorf("parseSpin(%q) = %v, %v; want %v", s, d, err, want)
		}
	}
	for _, s := range []string{"fast", "-1ms", "10"} {
		if d, err := parseSpin(s); err == nil || d != defaultWorkerSpin {
			t.Errorf("parseSpin(%q) = %v, %v; want the default and an error", s, d, err)
		}
	}
}
