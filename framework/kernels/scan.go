package kernels

// ScanChunk is the number of time steps between the states that the forward
// scan saves for the backward pass; backward recomputes the states inside a
// chunk from the saved one. Memory for the saved states is B·D·⌈L/K⌉·N
// instead of the B·L·D·N that a plain backward would keep.
const ScanChunk = 64

// Scan holds the inputs, outputs and saved states of one selective scan
// (Mamba paper Algorithm 2, S6), fused with the softplus of Δ, the D skip
// and the SiLU gate. For every batch row b and channel d, over time t:
//
//	Δ[t]  = softplus(Delta[b,t,d] + DeltaBias[d])        (identity above 20)
//	Ā[t,n] = exp(Δ[t]·A[d,n])
//	h[t,n] = Ā[t,n]·h[t-1,n] + Δ[t]·B[b,t,n]·U[b,t,d]     (h[-1] = H0[b,d,:])
//	y[t]  = Σ_n C[b,t,n]·h[t,n] + Dskip[d]·U[b,t,d]
//	Y[b,t,d] = y[t]·silu(Z[b,t,d])                         (y[t] when Z is nil)
//
// When Reset[b*L+t] is true, position t starts a new document: h[t-1] is
// taken as zero, so no state crosses the boundary (packed sequences).
// HT receives h[L-1] for every (b, d): the state to carry into the next
// chunk of a long sequence.
//
// Shapes (row-major): U, Delta, Z, Y (B, L, D); A (D, N); Bm, Cm (B, L, N);
// DeltaBias, Dskip (D); H0, HT (B, D, N); Reset (B, L); Saved (B, ⌈L/K⌉, N, D)
// with K = ScanChunk (channel-minor, so the SIMD kernels store W channels at
// once; Saved is internal between Forward and Backward). Optional: DeltaBias, Dskip, Z, Reset, H0, HT (nil means
// zero bias, no skip, no gate, no resets, a zero initial state, and no final
// state out). Saved is filled by the forward pass and read by Backward; it
// may be nil when no backward pass follows.
//
// Complex A and per-channel (non-selective) B, C are extra fields (below);
// the recurrence per (b, d) keeps this shape.
//
// References: Gu and Dao 2023, Algorithm 2 and Section 3.3;
// selective_scan_ref in state-spaces/mamba (mamba_ssm/ops/selective_scan_interface.py).
type Scan struct {
	B, L, D, N int

	U, Delta, DeltaBias []float32
	A                   []float32
	Bm, Cm              []float32
	Dskip, Z            []float32
	Reset               []bool
	H0                  []float32

	// BPerChannel and CPerChannel make B and C non-selective: Bm (and
	// Cm) then have shape (D, N), one learned vector per channel constant
	// over time (S4D's B and C; the paper's ablation of selection), and
	// their gradients have that shape too. Every implementation runs
	// them (the SIMD kernels through specialised variants).
	BPerChannel, CPerChannel bool

	// AImag, when non-nil (D, N), makes A complex, A + i·AImag (S4D-Lin:
	// −½ + iπn), and the state complex: h, H0, HT and the saved states hold
	// N real parts then N imaginary parts per (b, d), so their sizes use 2N.
	// BImag and CImag (the shapes of Bm and Cm) are the imaginary parts of
	// B and C; nil means real. The output is y = 2·Re(Σ_n C_n h_n) + D·u,
	// as in state-spaces/mamba's complex scan. Complex scans have their own
	// implementations (scan_complex.go: fused Go, and AVX-512/AVX2 kernels
	// with a vector sincos in scan_complex_amd64.go).
	AImag, BImag, CImag []float32

	Y, HT []float32
	Saved []float32
}

// ScanGrads holds the gradients of a Scan. Backward overwrites every non-nil
// field: DU, DDelta, DZ (B, L, D); DA (D, N); DBm, DCm (B, L, N);
// DDeltaBias, DDskip (D); DH0 (B, D, N). DDelta is the gradient w.r.t. the
// Delta input (before bias and softplus), so DDeltaBias is its sum over b, t.
// DHT (B, D, N), optional, is the incoming gradient w.r.t. the final state.
type ScanGrads struct {
	DY, DHT []float32

	DU, DDelta, DDeltaBias []float32
	DA                     []float32
	DBm, DCm               []float32
	DDskip, DZ             []float32
	DH0                    []float32
	// Complex scans: the gradients w.r.t. AImag (D, N), BImag and CImag
	// (the shapes of Bm, Cm); DA is then w.r.t. the real part of A.
	DAImag, DBImag, DCImag []float32
}

// stateN is the number of floats of state per (b, d): N, or 2N when the
// scan is complex.
func (s *Scan) stateN() int {
	if s.AImag != nil {
		return 2 * s.N
	}
	return s.N
}

// bLen is the length of Bm or Cm: (D, N) per channel, else (B, L, N).
func (s *Scan) bLen(perChannel bool) int {
	if perChannel {
		return s.D * s.N
	}
	return s.B * s.L * s.N
}

// bRow returns B (or C) at batch row b, time t, channel d.
func (s *Scan) bRow(x []float32, perChannel bool, b, t, d int) []float32 {
	i := s.bIndex(perChannel, b, t, d)
	return x[i : i+s.N]
}

// SavedLen is the length of Scan.Saved for the given sizes.
func SavedLen(B, L, D, N int) int { return B * D * chunks(L) * N }

func chunks(L int) int { return (L + ScanChunk - 1) / ScanChunk }

func (s *Scan) check() {
	B, L, D, N := s.B, s.L, s.D, s.N
	if B < 0 || L < 0 || D < 0 || N < 0 {
		panic("kernels: negative scan size")
	}
	need := func(x []float32, n int, msg string, optional bool) {
		if optional && x == nil {
			return
		}
		if len(x) < n {
			panic("kernels: scan: len(" + msg + ") too short")
		}
	}
	bld := B * L * D
	need(s.U, bld, "U", false)
	need(s.Delta, bld, "Delta", false)
	need(s.DeltaBias, D, "DeltaBias", true)
	need(s.A, D*N, "A", false)
	need(s.Bm, s.bLen(s.BPerChannel), "Bm", false)
	need(s.Cm, s.bLen(s.CPerChannel), "Cm", false)
	need(s.Dskip, D, "Dskip", true)
	need(s.Z, bld, "Z", true)
	need(s.AImag, D*N, "AImag", true)
	need(s.BImag, s.bLen(s.BPerChannel), "BImag", true)
	need(s.CImag, s.bLen(s.CPerChannel), "CImag", true)
	if s.AImag == nil && (s.BImag != nil || s.CImag != nil) {
		panic("kernels: scan: BImag or CImag without AImag")
	}
	sn := s.stateN()
	need(s.H0, B*D*sn, "H0", true)
	need(s.Y, bld, "Y", false)
	need(s.HT, B*D*sn, "HT", true)
	need(s.Saved, SavedLen(B, L, D, sn), "Saved", true)
	if s.Reset != nil && len(s.Reset) < B*L {
		panic("kernels: scan: len(Reset) too short")
	}
}

func (g *ScanGrads) check(s *Scan) {
	B, L, D, N := s.B, s.L, s.D, s.N
	if s.Saved == nil {
		panic("kernels: scan backward needs the Saved states of the forward pass")
	}
	need := func(x []float32, n int, msg string) {
		if x != nil && len(x) < n {
			panic("kernels: scan backward: len(" + msg + ") too short")
		}
	}
	if g.DY == nil {
		panic("kernels: scan backward: DY is nil")
	}
	bld := B * L * D
	need(g.DY, bld, "DY")
	need(g.DHT, B*D*s.stateN(), "DHT")
	need(g.DU, bld, "DU")
	need(g.DDelta, bld, "DDelta")
	need(g.DDeltaBias, D, "DDeltaBias")
	need(g.DA, D*N, "DA")
	need(g.DBm, s.bLen(s.BPerChannel), "DBm")
	need(g.DCm, s.bLen(s.CPerChannel), "DCm")
	need(g.DDskip, D, "DDskip")
	need(g.DZ, bld, "DZ")
	need(g.DH0, B*D*s.stateN(), "DH0")
	need(g.DAImag, D*N, "DAImag")
	need(g.DBImag, s.bLen(s.BPerChannel), "DBImag")
	need(g.DCImag, s.bLen(s.CPerChannel), "DCImag")
	if g.DZ != nil && s.Z == nil {
		panic("kernels: scan backward: DZ given but the forward had no gate Z")
	}
}

// Forward runs the scan: it fills Y, and HT and Saved when they are non-nil.
// Work is split over channels d (in groups of the SIMD width). The
// implementation is the fastest one this CPU supports (see scan_impl.go and
// MAMBAKIT_KERNEL in docs/kernels.md).
func (s *Scan) Forward() { s.forwardWith(scanDefault) }

// Backward computes the gradients of the scan from g.DY (and g.DHT) using
// the states saved by Forward. Work is split over channels d; the
// gradients w.r.t. Bm and Cm, which sum over channels, are reduced across
// workers in a fixed order.
func (s *Scan) Backward(g *ScanGrads) { s.backwardWith(scanDefault, g) }

func (s *Scan) forwardWith(im *scanImpl) {
	s.check()
	if s.AImag != nil {
		if im.ref {
			s.complexForwardRef()
		} else {
			s.complexForward()
		}
		return
	}
	if im.ref {
		s.ForwardRef()
		return
	}
	// With at least as many batch rows as threads, each worker takes whole
	// rows: its kernel then streams through full time rows of all D
	// channels. Otherwise workers split the channels at group boundaries.
	if s.B >= Threads() {
		scanTeam.run(s.B, parts(s.B, 1), scanArgs{s: *s, im: im, byRows: true})
		return
	}
	G := max(s.D/im.width, 1)
	p := parts(G, 1)
	scanTeam.run(G, p, scanArgs{s: *s, im: im, p: p})
}

// scanArgs is one scan call split over workers: forward (g nil) or
// backward, by batch rows or by groups of im.width channels (the last
// worker also takes the D mod width channels left over). The Scan and
// ScanGrads travel by value, so the caller's do not escape.
type scanArgs struct {
	s      Scan
	g      ScanGrads
	im     *scanImpl
	byRows bool
	p      int // parts, when split by channel groups
	bwd    bool
	sums   []float32 // backward: (nsums, B, L, 2N) per-worker dB, dC sums
	nsums  int       // backward: buffers in sums: p, or 1 when byRows (the workers' rows are apart)
	accs   []scanAcc // backward: per-worker float64 sums
	reduce bool      // the final reduction of part into DBm, DCm over rows
}

var scanTeam team[scanArgs, *scanArgs]

func (a *scanArgs) part(k, lo, hi int) {
	s := &a.s
	if a.reduce {
		a.reduceRows(lo, hi)
		return
	}
	b0, b1, d0, d1 := 0, s.B, min(lo*a.im.width, s.D), min(hi*a.im.width, s.D)
	if a.byRows {
		b0, b1, d0, d1 = lo, hi, 0, s.D
	} else if k == a.p-1 {
		d1 = s.D
	}
	if !a.bwd {
		a.im.fwd(s, b0, b1, d0, d1)
		return
	}
	var part []float32 // nil: dB, dC straight into the gradients
	if a.sums != nil {
		n := s.B * s.L * 2 * s.N
		j := k
		if a.byRows {
			j = 0 // one buffer: worker k writes only its own rows
		}
		part = a.sums[j*n : (j+1)*n]
	}
	a.im.bwd(s, &a.g, b0, b1, d0, d1, part, &a.accs[k])
}

// reduceRows adds the workers' dB, dC sums of rows [r0, r1) into DBm, DCm
// (selective B, C), in worker order.
func (a *scanArgs) reduceRows(r0, r1 int) {
	s, g, N := &a.s, &a.g, a.s.N
	rows := s.B * s.L
	dB, dC := g.DBm, g.DCm
	if s.BPerChannel {
		dB = nil
	}
	if s.CPerChannel {
		dC = nil
	}
	for r := r0; r < r1; r++ {
		// Rows of DBm and DCm are the worker sums' dB and dC halves.
		for i, dst := range [2][]float32{dB, dC} {
			if dst == nil {
				continue
			}
			dst = dst[r*N : (r+1)*N]
			clear(dst)
			for w := 0; w < a.nsums; w++ {
				q := a.sums[(w*rows+r)*2*N+i*N:][:N]
				for n, v := range q {
					dst[n] += v
				}
			}
		}
	}
}

func (s *Scan) backwardWith(im *scanImpl, g *ScanGrads) {
	s.check()
	g.check(s)
	if s.AImag != nil {
		s.complexBackward(g)
		return
	}
	if im.ref {
		s.BackwardRef(g)
		return
	}
	B, L, D, N := s.B, s.L, s.D, s.N
	// Workers take whole batch rows when there are enough, else channel
	// groups (see forwardWith).
	w := im.width
	G := max(D/w, 1)
	byRows := B >= Threads()
	p := parts(G, 1)
	if byRows {
		p = parts(B, 1)
	}
	// Per-worker partial sums of dB and dC: (p, B, L, 2N), one buffer
	// when workers take whole batch rows (each writes its own rows; the
	// rows of the others would only add zeros); of dA, dD and dΔbias:
	// float64, (D, N) and (D) each.
	nsums := p
	if byRows {
		nsums = 1
	}
	// With whole rows per worker, selective B and C, both gradients
	// wanted and no channels past the last group, a SIMD worker is the
	// only one to write its rows of DBm and DCm: it stores its lane sums
	// there (plus zero: the bits of the sum below) and there is nothing to
	// reduce.
	direct := im.bcDirect && byRows && !s.BPerChannel && !s.CPerChannel && g.DBm != nil && g.DCm != nil &&
		D >= w && D%w == 0 && L > 0 && N > 0
	var part []float32
	if !direct {
		partBuf := getF32(nsums * B * L * 2 * N)
		defer putF32(partBuf)
		part = *partBuf
	}
	per := 3*D*N + 2*D // dA, dB, dC (the last two for per-channel B, C), dD, dΔbias
	accBuf := getF64(p * per)
	defer putF64(accBuf)
	accsBuf := getScanAccs(p)
	defer scanAccs.put(accsBuf)
	accs := *accsBuf
	for k := range accs {
		x := (*accBuf)[k*per : (k+1)*per]
		accs[k] = scanAcc{dA: x[:D*N], dB: x[D*N : 2*D*N], dC: x[2*D*N : 3*D*N], dSkip: x[3*D*N : 3*D*N+D], dBias: x[3*D*N+D:]}
	}
	n := G
	if byRows {
		n = B
	}
	scanTeam.run(n, p, scanArgs{s: *s, g: *g, im: im, byRows: byRows, p: p, bwd: true, sums: part, nsums: nsums, accs: accs})
	sum := func(dst []float32, get func(a *scanAcc) []float64) {
		if dst == nil {
			return
		}
		for i := range get(&accs[0]) {
			var v float64
			for k := range accs {
				v += get(&accs[k])[i]
			}
			dst[i] = float32(v)
		}
	}
	sum(g.DA, func(a *scanAcc) []float64 { return a.dA })
	sum(g.DDskip, func(a *scanAcc) []float64 { return a.dSkip })
	sum(g.DDeltaBias, func(a *scanAcc) []float64 { return a.dBias })
	if s.BPerChannel {
		sum(g.DBm, func(a *scanAcc) []float64 { return a.dB })
	}
	if s.CPerChannel {
		sum(g.DCm, func(a *scanAcc) []float64 { return a.dC })
	}
	if direct || (g.DBm == nil || s.BPerChannel) && (g.DCm == nil || s.CPerChannel) {
		return
	}
	rows := B * L
	scanTeam.run(rows, parts(rows, 64), scanArgs{s: *s, g: *g, p: p, sums: part, nsums: nsums, reduce: true})
}

// scanAccs recycles Backward's per-worker accumulator headers.
var scanAccs freeList[[]scanAcc]

func getScanAccs(p int) *[]scanAcc {
	if v := scanAccs.get(); v != nil && cap(*v) >= p {
		*v = (*v)[:p]
		return v
	}
	a := make([]scanAcc, p)
	return &a
}
