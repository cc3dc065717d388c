package kernels

import (
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

var scanBitsOut = flag.String("scanbits", "", "TestScanBitsDump: write the hashes of every scan output to this file")

// TestScanBitsDump writes a SHA-256 of every output of the real scan
// (forward Y, HT, Saved; every gradient) of every implementation under
// test, over the kernel variants (per-channel B, C), resets, H0, DHT,
// N 5, 16, 17, D with and without a remainder past the vector width,
// large Δ (the clamped 2^x) and 1, 2 and 3 threads, to the file named by
// -scanbits. Run it at two versions of the kernels and diff the files: a
// change that keeps the bits gives the same file. Skipped without the
// flag.
//
//	go test ./framework/kernels -run TestScanBitsDump -scanbits /tmp/bits.txt
func TestScanBitsDump(t *testing.T) {
	out := *scanBitsOut
	if out == "" {
		t.Skip("no -scanbits file")
	}
	old := Threads()
	defer SetThreads(old)
	var sb strings.Builder
	hash := func(x []float32) string {
		if x == nil {
			return "nil"
		}
		h := sha256.New()
		var b [4]byte
		for _, v := range x {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
			h.Write(b[:])
		}
		return fmt.Sprintf("%x", h.Sum(nil)[:8])
	}
	for _, im := range scanImplsUnderTest(t) {
		if im.ref {
			continue
		}
		for _, th := range []int{1, 2, 3} {
			SetThreads(th)
			for i, c := range scanBitsCases() {
				s, dy, dht := scanBitsInput(c, i)
				s.forwardWith(im)
				g := newGrads(s, dy, dht, nil)
				s.backwardWith(im, g.g)
				fmt.Fprintf(&sb, "%s th=%d %v Y=%s HT=%s Saved=%s", im.name, th, c, hash(s.Y), hash(s.HT), hash(s.Saved))
				for _, f := range gradFields(g.g) {
					fmt.Fprintf(&sb, " %s=%s", f.name, hash(f.get(g.g)))
				}
				sb.WriteString("\n")
			}
		}
	}
	if err := os.WriteFile(out, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// scanBitsCases are TestScanBitsDump's cases: shapes with and without a
// remainder past the vector width and with an odd number of groups, N 1,
// 5, 16, 17, each with the four B, C variants and four mixes of the
// optional inputs.
func scanBitsCases() []scanCase {
	var cases []scanCase
	for _, sh := range []struct{ B, L, D, N int }{
		{1, 130, 48, 16}, {3, 200, 40, 5}, {8, 65, 64, 17}, {2, 64, 33, 16}, {4, 129, 256, 16}, {1, 7, 16, 1},
	} {
		for v := 0; v < 4; v++ {
			for o := 0; o < 4; o++ {
				cases = append(cases, scanCase{B: sh.B, L: sh.L, D: sh.D, N: sh.N,
					gate: o != 1, bias: o != 2, skip: o != 3, reset: o&1 == 1, h0: o >= 2, dht: o >= 2,
					bPer: v&1 == 1, cPer: v&2 == 2})
			}
		}
	}
	return cases
}

// scanBitsInput builds case i of scanBitsCases with its outputs allocated
// (every third with large Δ at some (b, t, d), past 87 with |A|, so that
// the clamped 2^x runs), and its DY and DHT (nil unless c.dht).
func scanBitsInput(c scanCase, i int) (s *Scan, dy, dht []float32) {
	s = c.build(uint64(i + 1))
	if i%3 == 2 {
		r := rand.New(rand.NewPCG(uint64(i), 5))
		for j := range s.Delta {
			if r.IntN(50) == 0 {
				s.Delta[j] += 40 + 100*r.Float32()
			}
		}
	}
	B, L, D, N := c.B, c.L, c.D, c.N
	s.Y = make([]float32, B*L*D)
	s.Saved = make([]float32, SavedLen(B, L, D, N))
	s.HT = make([]float32, B*D*N)
	r := rand.New(rand.NewPCG(uint64(i), 3))
	if c.dht {
		dht = randSlice(r, B*D*N, -1, 1)
	}
	return s, randSlice(r, B*L*D, -1, 1), dht
}
