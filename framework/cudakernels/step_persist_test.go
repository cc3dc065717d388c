package cudakernels

import (
	"strings"
	"testing"
)

// TestStepPersistChecks: what StepPersist refuses, before any kernel is
// loaded (d has none): products and scan steps the early one-row kernels
// do not take, float32 and bfloat16 weights in one step, a variant that
// is not the persistent form, missing buffers, operations added after
// the records were made; and the records' layout.
func TestStepPersistChecks(t *testing.T) {
	var d Device
	early := StepVariant{MaxRows: 1, Prefetch: true, Early: true}
	persist := early
	persist.Persist = true
	if persist.String() != "rows≤1+prefetch+early+persist" {
		t.Errorf("variant %q", persist)
	}
	for _, v := range []StepVariant{{MaxRows: 1, Prefetch: true, Persist: true}, {Prefetch: true, Early: true, Persist: true}} {
		if err := v.checkAny(1); err == nil {
			t.Errorf("%v accepted", v)
		}
	}
	gemv := func(K int, w16 bool) *StepGEMV {
		g := &StepGEMV{B: 1, N: 8, K: K, X: 1, Out: 1, V: persist}
		if w16 {
			g.W16 = 64
		} else {
			g.W = 64
		}
		return g
	}
	scan := &StepScan{B: 1, D: 40, N: 16, R: 4, U: 1, DtLow: 1, DtW: 1, ALog: 1, Bm: 1, Cm: 1, H: 1, Y: 1, IO: 1, V: persist}
	for _, c := range []struct {
		name string
		add  func(p *StepPersist) error
		want string
	}{
		{"K 6", func(p *StepPersist) error { return p.AddGEMV(gemv(6, false)) }, "not the early one-row kernel's"},
		{"K 1540", func(p *StepPersist) error { return p.AddGEMV(gemv(1540, false)) }, "not the early one-row kernel's"},
		{"mixed weights", func(p *StepPersist) error {
			if err := p.AddGEMV(gemv(8, false)); err != nil {
				return err
			}
			return p.AddGEMV(gemv(8, true))
		}, "the same weights"},
		{"R 65", func(p *StepPersist) error {
			s := *scan
			s.R = 65
			return p.AddScan(&s)
		}, "not the early one-row kernel's"},
		{"Y16", func(p *StepPersist) error {
			s := *scan
			s.Y16 = 1
			return p.AddScan(&s)
		}, "no Y16"},
		{"scan without H", func(p *StepPersist) error {
			s := *scan
			s.H = 0
			return p.AddScan(&s)
		}, "required"},
		{"not persistent", func(p *StepPersist) error {
			p.V = early
			if err := p.AddScan(scan); err != nil {
				return err
			}
			return p.Prepare(&d)
		}, "not the persistent form"},
		{"no barrier", func(p *StepPersist) error {
			p.Barrier = 0
			if err := p.AddScan(scan); err != nil {
				return err
			}
			return p.Prepare(&d)
		}, "Barrier required"},
		{"nothing", func(p *StepPersist) error { return p.Prepare(&d) }, "0 operations"},
	} {
		p := &StepPersist{V: persist, IO: 1, Argmax: 1, Barrier: 1}
		if err := c.add(p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want an error containing %q", c.name, err, c.want)
		}
	}
	p := &StepPersist{V: persist, IO: 1, Argmax: 1, Barrier: 1}
	if err := p.AddGEMV(gemv(1536, true)); err != nil {
		t.Fatal(err)
	}
	if err := p.AddScan(scan); err != nil {
		t.Fatal(err)
	}
	if p.Ops() != 2 || len(p.words) != 2*spWords || p.maxK != 1536 || p.din != 40 || p.bf16 != 2 {
		t.Errorf("records: %d ops, %d words, K %d, Din %d, weights %d", p.Ops(), len(p.words), p.maxK, p.din, p.bf16)
	}
	// Word 1 of a product is its weights, word 6 K; word 3 of a scan
	// step is D (the order step_persist reads them in).
	if w := p.words; w[0] != spGEMV || w[1] != 64 || w[6] != 1536 || w[spWords] != spScan || w[spWords+3] != 40 || w[spWords+7] != 4 {
		t.Errorf("record words %v", w[:2*spWords])
	}
}
