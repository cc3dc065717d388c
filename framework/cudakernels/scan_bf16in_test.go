package cudakernels

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/kernels"
)

// roundAllBF16 rounds x in place to the nearest bfloat16 (roundBF16),
// kept as float32: the values a bfloat16 input holds.
func roundAllBF16(x []float32) {
	for i, v := range x {
		x[i] = roundBF16(v)
	}
}

// scanRun runs g forward and backward (dy, dht the output gradients) and
// returns every output by name.
func scanRun(t *testing.T, d *Device, db *devBufs, g *Scan, s *kernels.Scan, dy, dht []float32) map[string][]float32 {
	t.Helper()
	B, L, D, N := s.B, s.L, s.D, s.N
	bld := B * L * D
	sn := N
	if s.AImag != nil {
		sn = 2 * N
	}
	outs := map[string]*cuda.Buffer{}
	lens := map[string]int{}
	put := func(name string, n int, p *cuda.DevPtr) {
		outs[name], lens[name] = db.out(n), n
		*p = outs[name].Ptr()
	}
	put("Y", bld, &g.Y)
	put("Y16", (bld+1)/2, &g.Y16)
	put("Saved", ScanSavedLen(B, L, D, N, s.AImag != nil), &g.Saved)
	if s.HT != nil {
		put("HT", B*D*sn, &g.HT)
	}
	if err := d.ScanForward(g); err != nil {
		t.Fatal(err)
	}
	gg := &ScanGrads{DY: db.in(dy), DHT: db.in(dht)}
	put("DU", bld, &gg.DU)
	put("DDelta", bld, &gg.DDelta)
	put("DDelta16", (bld+1)/2, &gg.DDelta16)
	put("DDeltaBias", D, &gg.DDeltaBias)
	put("DA", D*N, &gg.DA)
	put("DBm", len(s.Bm), &gg.DBm)
	put("DCm", len(s.Cm), &gg.DCm)
	put("DDskip", D, &gg.DDskip)
	put("DH0", B*D*sn, &gg.DH0)
	if s.Z != nil {
		put("DZ", bld, &gg.DZ)
	}
	if s.AImag != nil {
		put("DAImag", D*N, &gg.DAImag)
		put("DBImag", len(s.Bm), &gg.DBImag)
		put("DCImag", len(s.Cm), &gg.DCImag)
	}
	if err := d.ScanBackward(g, gg); err != nil {
		t.Fatal(err)
	}
	got := map[string][]float32{}
	for k, b := range outs {
		got[k] = db.get(b, lens[k])
	}
	return got
}

// TestScanBF16Inputs: the scan reading u, Δ and z as bfloat16 bits
// (Scan.U16, Delta16, Z16; all three, or one) gives, forward and
// backward, the bits of the float32 scan given the same values rounded,
// under both plans of the forward, real and complex.
func TestScanBF16Inputs(t *testing.T) {
	cases := []scanCase{
		{B: 2, L: 300, D: 70, N: 16, bias: true, skip: true, gate: true, reset: true, h0: true, ht: true},
		{B: 2, L: 129, D: 33, N: 7, bias: true, skip: true, gate: true, reset: true, h0: true, ht: true},
		{B: 2, L: 150, D: 50, N: 16, bias: true, skip: true, gate: true, ht: true, bpc: true, cpc: true},
		{B: 2, L: 100, D: 40, N: 8, bias: true, skip: true, gate: true, reset: true, h0: true, ht: true, complex: true, bimag: true},
	}
	forms := []struct {
		name       string
		u, dl, z16 bool
	}{{"u, Δ, z", true, true, true}, {"u", true, false, false}, {"Δ", false, true, false}}
	scanPlans(t, func(t *testing.T) {
		d := openOrSkip(t)
		for i, c := range cases {
			r := rand.New(rand.NewPCG(uint64(i), 23))
			s := cpuScan(r, c)
			roundAllBF16(s.U)
			roundAllBF16(s.Delta)
			roundAllBF16(s.Z)
			bld := c.B * c.L * c.D
			sn := c.N
			if c.complex {
				sn = 2 * c.N
			}
			dy := rnd(r, bld, -1, 1)
			var dht []float32
			if c.ht {
				dht = rnd(r, c.B*c.D*sn, -1, 1)
			}
			db := newDevBufs(t, d)
			g, _, _ := gpuScan(db, s)
			want := scanRun(t, d, db, g, s, dy, dht)
			for _, f := range forms {
				g, _, _ := gpuScan(db, s)
				if f.u {
					g.U, g.U16 = 0, db.bf16(s.U)
				}
				if f.dl {
					g.Delta, g.Delta16 = 0, db.bf16(s.Delta)
				}
				if f.z16 && s.Z != nil {
					g.Z, g.Z16 = 0, db.bf16(s.Z)
				}
				got := scanRun(t, d, db, g, s, dy, dht)
				for k, w := range want {
					if !slices.Equal(f32bits(got[k]), f32bits(w)) {
						t.Errorf("%v, %s in bfloat16: %s differs from the float32 scan on the rounded values", c, f.name, k)
					}
				}
			}
		}
	})
}
