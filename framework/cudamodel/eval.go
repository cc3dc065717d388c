package cudamodel

import (
	"context"
	"errors"
	"fmt"

	"github.com/mambakit/mambakit/framework/backbone"
	"github.com/mambakit/mambakit/framework/cuda"
	"github.com/mambakit/mambakit/framework/cudakernels"
)

// State is the recurrent state of B rows on the device, in
// backbone.State's layout, carried from one ForwardCarry to the next. Two
// copies alternate (the kernels read one and write the other).
type State struct {
	B        int
	buf      *cuda.Buffer
	conv     [2]cuda.DevPtr // (nL, B, Din, K−1)
	ssm      [2]cuda.DevPtr // (nL, B, Din, cf·N)
	cur      int
	convLen  int
	ssmLen   int
	layerCvL int
	layerSsL int
}

// NewState returns a zero state of B rows.
func (g *Model) NewState(B int) (*State, error) {
	_, _, Din, N, _, K, nL := dims(&g.Config)
	s := &State{B: B, layerCvL: B * Din * (K - 1), layerSsL: B * Din * N * cf(&g.Config)}
	s.convLen, s.ssmLen = nL*s.layerCvL, nL*s.layerSsL
	pad := func(n int) int { return (n + 63) / 64 * 64 }
	buf, err := g.dev.AllocF32(2*pad(s.convLen) + 2*pad(s.ssmLen))
	if err != nil {
		return nil, err
	}
	s.buf = buf
	off := 0
	for i := 0; i < 2; i++ {
		s.conv[i] = buf.At(off)
		off += pad(s.convLen)
		s.ssm[i] = buf.At(off)
		off += pad(s.ssmLen)
	}
	if err := buf.Fill32(0); err != nil {
		buf.Free()
		return nil, err
	}
	return s, nil
}

// Free releases the state's device memory.
func (s *State) Free() error { return s.buf.Free() }

// ForwardCarry is Forward with the state carried in and out, as
// backbone.Model.Forward(b, st): positions before the batch read st (a
// reset flag cuts it), and st is left holding the state after the batch's
// last position. The logits stay on the device (Logits); Backward is not
// meant to follow (the scan's Saved states do not include st).
func (g *Model) ForwardCarry(b *backbone.Batch, st *State) (float64, error) {
	c := &g.Config
	V, D, Din, N, _, K, nL := dims(c)
	if err := checkBatch(b, V); err != nil {
		return 0, err
	}
	if st == nil {
		return 0, fmt.Errorf("cudamodel: forward: no state (use Forward without one)")
	}
	if st.B != b.B {
		return 0, fmt.Errorf("cudamodel: forward: state for %d rows, the batch has %d", st.B, b.B)
	}
	B, L, M := b.B, b.L, b.B*b.L
	if err := g.ensureActs(B, L); err != nil {
		return 0, err
	}
	a, d, bl, p, ly := g.acts, g.dev, g.blas, g.params, g.lay
	if err := d.CopyI32To(a.ids, b.Inputs); err != nil {
		return 0, err
	}
	a.hasTarget, a.hasReset, a.count, a.index = b.Targets != nil, b.Reset != nil, 0, nil
	if a.hasTarget {
		if err := d.CopyI32To(a.targets, b.Targets); err != nil {
			return 0, err
		}
	}
	if a.hasReset {
		if err := d.CopyBoolTo(a.reset, b.Reset); err != nil {
			return 0, err
		}
	}
	reset := cuda.DevPtr(0)
	if a.hasReset {
		reset = a.reset
	}
	eps := float32(c.LayerNormEpsilon)
	f4 := func(p cuda.DevPtr, i int) cuda.DevPtr { return p + cuda.DevPtr(4*i) }
	in, out := st.cur, 1-st.cur

	e := &errs{}
	e.do(d.EmbeddingForward(a.resid, at(p, ly.embed), a.ids, M, D))
	for l := 0; l < nL && e.err == nil; l++ {
		x, xn := f4(a.resid, l*M*D), f4(a.xn, l*M*D)
		e.do(d.RMSNormForward(xn, f4(a.rstd, l*M), x, ly.lay(p, ly.norm, l), M, D, eps))
		win := ly.lay(p, ly.inProj, l)
		xin, z := f4(a.xin, l*M*Din), f4(a.z, l*M*Din)
		e.do(bl.MatMul(false, true, M, Din, D, xn, win, 0, xin))
		e.do(bl.MatMul(false, true, M, Din, D, xn, f4(win, Din*D), 0, z))
		conv, u := f4(a.conv, l*M*Din), f4(a.u, l*M*Din)
		cv := &cudakernels.Conv1d{B: B, L: L, D: Din, K: K, X: xin, W: ly.lay(p, ly.convW, l), Reset: reset, Y: conv}
		if K > 1 {
			cv.State0, cv.StateT = f4(st.conv[in], l*st.layerCvL), f4(st.conv[out], l*st.layerCvL)
		}
		if c.UseConvBias {
			cv.Bias = ly.lay(p, ly.convB, l)
		}
		e.do(d.Conv1dForward(cv))
		e.do(d.SiLUForward(u, conv, M*Din))
		bm, cm, bmI, cmI := g.ssmParams(e, l, M, u, f4(a.dtLow, l*M*int(c.TimeStepRank)),
			f4(a.bm, l*cf(c)*M*N), f4(a.cm, l*cf(c)*M*N), f4(a.dtRaw, l*M*Din))
		A := f4(a.a, l*Din*N)
		e.do(d.NegExp(A, ly.lay(p, ly.aLog, l), Din*N))
		y := f4(a.y, l*M*Din)
		sc := &cudakernels.Scan{B: B, L: L, D: Din, N: N,
			U: u, Delta: f4(a.dtRaw, l*M*Din), DeltaBias: ly.lay(p, ly.dtB, l), A: A, Bm: bm, Cm: cm,
			BPerChannel: !selective(c, "B"), CPerChannel: !selective(c, "C"),
			BImag: bmI, CImag: cmI, Dskip: ly.lay(p, ly.dskip, l), Z: z, Reset: reset,
			H0: f4(st.ssm[in], l*st.layerSsL), HT: f4(st.ssm[out], l*st.layerSsL),
			Y: y, Saved: f4(a.saved, l*a.savedLen)}
		if c.ComplexA {
			sc.AImag = ly.lay(p, ly.aImag, l)
		}
		e.do(d.ScanForward(sc))
		next := f4(a.resid, (l+1)*M*D)
		e.do(d.CopyDtoD(next, x, 4*M*D))
		e.do(bl.MatMul(false, true, M, D, Din, y, ly.lay(p, ly.outProj, l), 1, next))
	}
	e.do(d.RMSNormForward(a.xnF, a.rstdF, f4(a.resid, nL*M*D), at(p, ly.normF), M, D, eps))
	e.do(bl.MatMul(false, true, M, V, D, a.xnF, at(p, ly.embed), 0, a.logits))
	if e.err != nil {
		return 0, e.err
	}
	st.cur = out
	if !a.hasTarget {
		return 0, nil
	}
	sum, count, err := d.CrossEntropy(0, a.logits, a.targets, M, V, 0)
	if err != nil {
		return 0, err
	}
	a.count = count
	if count == 0 {
		return 0, nil
	}
	return sum / float64(count), nil
}

// Eval is the result of Evaluate: the tokens scored and their summed
// cross-entropy (nats), and in a task the answers and how many the argmax
// got right.
type Eval struct {
	Tokens           int64
	Nats             float64
	Answers, Correct int64
}

// Evaluate is framework/train's Evaluate on the GPU, over a split given as
// its tokens, document starts and (in a task) answer flags: the stream cut
// into B contiguous rows, each read in chunks of L tokens with the state
// carried across chunks (ForwardCarry), targets across a document start
// (and, in a task, outside the answers) not scored. The batches are
// train's, so the numbers are the CPU evaluation's to float32 rounding.
func (g *Model) Evaluate(ctx context.Context, tokens []int32, start, answer []bool, B, L, maxTokens int) (Eval, error) {
	T := int64(len(tokens)) - 1
	if maxTokens > 0 && int64(maxTokens) < T {
		T = int64(maxTokens)
	}
	P := T / int64(B)
	if P < 1 {
		B, P = 1, T
	}
	if P < 1 {
		return Eval{}, fmt.Errorf("evaluation split has %d tokens: too few to score", len(tokens))
	}
	st, err := g.NewState(B)
	if err != nil {
		return Eval{}, err
	}
	defer st.Free()
	var first []int64
	if answer != nil {
		first = make([]int64, B)
		for r := range first {
			s := int64(r) * P
			for s < int64(r+1)*P && !start[s] {
				s++
			}
			first[r] = s
		}
	}
	V := g.Config.VocabSize
	var ev Eval
	for off := int64(0); off < P; off += int64(L) {
		if err := ctx.Err(); err != nil {
			return Eval{}, err
		}
		n := int(min(int64(L), P-off))
		b := &backbone.Batch{B: B, L: n, Inputs: make([]int32, B*n), Targets: make([]int32, B*n), Reset: make([]bool, B*n)}
		for r := 0; r < B; r++ {
			s0 := int64(r)*P + off
			for t := 0; t < n; t++ {
				i := s0 + int64(t)
				b.Inputs[r*n+t] = tokens[i]
				b.Reset[r*n+t] = start[i] || (t == 0 && off == 0)
				b.Targets[r*n+t] = tokens[i+1]
				if start[i+1] || (answer != nil && !answer[i+1]) || (first != nil && i < first[r]) {
					b.Targets[r*n+t] = -1
				}
			}
		}
		loss, err := g.ForwardCarry(b, st)
		if err != nil {
			return Eval{}, err
		}
		var c int64
		for _, t := range b.Targets {
			if t >= 0 {
				c++
			}
		}
		ev.Nats += loss * float64(c)
		ev.Tokens += c
		if answer == nil || c == 0 {
			continue
		}
		logits, err := g.Logits()
		if err != nil {
			return Eval{}, err
		}
		for r := 0; r < B; r++ {
			for t := 0; t < n; t++ {
				tgt := b.Targets[r*n+t]
				if tgt < 0 || !answer[int64(r)*P+off+int64(t)+1] {
					continue
				}
				row := logits[(r*n+t)*V : (r*n+t+1)*V]
				best := 0
				for i, v := range row {
					if v > row[best] {
						best = i
					}
				}
				ev.Answers++
				if int32(best) == tgt {
					ev.Correct++
				}
			}
		}
	}
	if ev.Tokens == 0 {
		return Eval{}, errors.New("evaluation split has no scorable token (every document is one token long)")
	}
	return ev, nil
}
