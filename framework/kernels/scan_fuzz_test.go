package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// FuzzScan builds a scan from fuzzed sizes, options (the top two bits of
// opts: per-channel B, C) and seed, and checks every implementation's
// forward and backward against the reference. Large Delta offsets
// reach the identity branch of softplus (above 20).
func FuzzScan(f *testing.F) {
	f.Add(uint64(1), uint8(1), uint8(1), uint8(1), uint8(1), uint8(0), uint8(0))
	f.Add(uint64(2), uint8(2), uint8(17), uint8(3), uint8(16), uint8(0xff), uint8(0))
	f.Add(uint64(3), uint8(1), uint8(130), uint8(2), uint8(5), uint8(0x0f), uint8(25))
	f.Add(uint64(4), uint8(3), uint8(64), uint8(4), uint8(1), uint8(0x31), uint8(3))
	f.Add(uint64(5), uint8(2), uint8(70), uint8(33), uint8(16), uint8(0x3f), uint8(0))
	f.Add(uint64(6), uint8(1), uint8(129), uint8(17), uint8(17), uint8(0x1b), uint8(25))
	f.Add(uint64(7), uint8(3), uint8(9), uint8(24), uint8(3), uint8(0x26), uint8(31))
	f.Add(uint64(8), uint8(2), uint8(130), uint8(37), uint8(16), uint8(0x7f), uint8(0))
	f.Add(uint64(9), uint8(3), uint8(65), uint8(33), uint8(17), uint8(0xbb), uint8(2))
	f.Add(uint64(10), uint8(1), uint8(70), uint8(17), uint8(5), uint8(0xe6), uint8(25))
	f.Fuzz(func(t *testing.T, seed uint64, b, l, d, n, opts, shift uint8) {
		B, L, D, N := int(b%4), int(l), int(d%40), int(n%33)
		if B == 0 || D == 0 || N == 0 {
			t.Skip()
		}
		c := scanCase{B: B, L: L, D: D, N: N,
			gate: opts&1 != 0, reset: opts&2 != 0, h0: opts&4 != 0, skip: opts&8 != 0, bias: opts&16 != 0, dht: opts&32 != 0,
			bPer: opts&64 != 0, cPer: opts&128 != 0}
		s := c.build(seed)
		off := float32(shift % 32)
		for i := range s.Delta {
			s.Delta[i] += off
		}
		want := make([]float32, B*L*D)
		wantHT := make([]float32, B*D*N)
		s.Y, s.HT = want, wantHT
		s.ForwardRef()
		// Outputs are sums over n (and gradients sums over b, t) whose terms
		// can cancel; large Δ makes the terms large. Measure errors against
		// the magnitude of the terms: the largest state times the largest
		// input, not against the (possibly tiny) result.
		floor := 1e-3
		for _, v := range wantHT {
			floor = max(floor, math.Abs(float64(v)))
		}
		for _, x := range [][]float32{s.U, s.Cm, s.Bm} {
			for _, v := range x {
				floor = max(floor, math.Abs(float64(v))*float64(off+1))
			}
		}
		r := rand.New(rand.NewPCG(seed, 1))
		dy := randSlice(r, B*L*D, -1, 1)
		var dht []float32
		if c.dht {
			dht = randSlice(r, B*D*N, -1, 1)
		}
		wg := newGrads(s, dy, dht, nil)
		s.BackwardRef(wg.g)
		for _, im := range scanImplsUnderTest(t) {
			if im.ref {
				continue
			}
			s.Y, s.HT = make([]float32, B*L*D), make([]float32, B*D*N)
			s.Saved = make([]float32, SavedLen(B, L, D, N))
			s.forwardWith(im)
			checkCloseFloor(t, im.name+": Y", s.Y, want, tolScan, floor)
			checkCloseFloor(t, im.name+": HT", s.HT, wantHT, tolScan, floor)
			gg := newGrads(s, dy, dht, nil)
			s.backwardWith(im, gg.g)
			for _, fl := range gradFields(wg.g) {
				checkCloseFloor(t, im.name+": "+fl.name, fl.get(gg.g), fl.get(wg.g), tolScan, floor)
			}
		}
	})
}
